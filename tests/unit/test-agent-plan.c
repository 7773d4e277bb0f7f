/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "agent-plan.h"
#include "../tests.h"

/* Renders a plan as "stop:a remove:b write:c reload start:c" for compact expectations. */
static char *render(const AgentPlan *p) {
        static char buf[1024];
        size_t n = 0;
        buf[0] = 0;
        for (size_t i = 0; i < p->n_actions; i++)
                n += snprintf(buf + n, sizeof(buf) - n, "%s%s%s%s", i ? " " : "",
                              agent_action_type_to_string(p->actions[i].type),
                              p->actions[i].name ? ":" : "", p->actions[i].name ?: "");
        return buf;
}

static void check(const AgentDesired *d, size_t nd, const AgentActual *a, size_t na, const char *expected) {
        AgentPlan p = {};
        ASSERT_INT(agent_plan(d, nd, a, na, &p), 0);
        ASSERT_STR(render(&p), expected);
        agent_plan_done(&p);
}

TEST(nothing_to_do) {
        int before = test_failures;
        check(NULL, 0, NULL, 0, "");
        AgentDesired d[] = { { "a.service", "h1", UNIT_LAUNCHED } };
        AgentActual a[] = { { "a.service", "h1", "active" } };
        check(d, 1, a, 1, "");
        ASSERT_INT(test_failures, before);
}

TEST(new_unit_launched) {
        AgentDesired d[] = { { "a.service", "h1", UNIT_LAUNCHED }, { "b.service", "h2", UNIT_LOADED } };
        check(d, 2, NULL, 0, "write:a.service write:b.service reload start:a.service");
}

TEST(adopts_running_unit_with_same_hash) {
        /* fleetd restarted: the file and the unit are there, nothing must restart */
        AgentDesired d[] = { { "a.service", "h1", UNIT_LAUNCHED }, { "b.service", "h2", UNIT_LAUNCHED } };
        AgentActual a[] = { { "b.service", "h2", "activating" }, { "a.service", "h1", "active" } };
        check(d, 2, a, 2, "");
}

TEST(unscheduled_unit_stopped_and_removed) {
        AgentActual a[] = { { "a.service", "h1", "active" }, { "b.service", "h2", "inactive" } };
        check(NULL, 0, a, 2, "stop:a.service remove:a.service remove:b.service reload");
}

TEST(inactive_desired_is_absent) {
        AgentDesired d[] = { { "a.service", "h1", UNIT_INACTIVE } };
        AgentActual a[] = { { "a.service", "h1", "active" } };
        check(d, 1, a, 1, "stop:a.service remove:a.service reload");
}

TEST(loaded_stops_but_keeps_file) {
        AgentDesired d[] = { { "a.service", "h1", UNIT_LOADED } };
        AgentActual a[] = { { "a.service", "h1", "active" } };
        check(d, 1, a, 1, "stop:a.service");
}

TEST(failed_unit_started_again) {
        AgentDesired d[] = { { "a.service", "h1", UNIT_LAUNCHED } };
        AgentActual a[] = { { "a.service", "h1", "failed" } };
        check(d, 1, a, 1, "start:a.service");
}

TEST(changed_contents_rewritten_and_restarted) {
        AgentDesired d[] = { { "a.service", "h2", UNIT_LAUNCHED }, { "b.service", "h3", UNIT_LAUNCHED } };
        AgentActual a[] = { { "a.service", "h1", "active" }, { "b.service", "h1", "inactive" } };
        check(d, 2, a, 2, "write:a.service write:b.service reload restart:a.service start:b.service");
}

TEST(mixed_batch_has_one_reload_in_order) {
        AgentDesired d[] = {
                { "new.service", "n", UNIT_LAUNCHED },
                { "keep.service", "k", UNIT_LAUNCHED },
                { "park.service", "p", UNIT_LOADED },
        };
        AgentActual a[] = {
                { "old.service", "o", "active" },
                { "keep.service", "k", "active" },
                { "park.service", "p", "active" },
        };
        check(d, 3, a, 3, "stop:old.service stop:park.service remove:old.service write:new.service reload "
                          "start:new.service");
}

TEST(plan_names_point_into_inputs) {
        AgentDesired d[] = { { "x.service", "h", UNIT_LAUNCHED } };
        AgentPlan p = {};
        ASSERT_INT(agent_plan(d, 1, NULL, 0, &p), 0);
        ASSERT_INT(p.n_actions, 3);
        ASSERT_TRUE(p.actions[0].name == d[0].name);
        agent_plan_done(&p);
}

TEST(desired_state_strings) {
        ASSERT_STR(unit_desired_state_to_string(UNIT_LAUNCHED), "launched");
        ASSERT_INT(unit_desired_state_from_string("loaded"), UNIT_LOADED);
        ASSERT_INT(unit_desired_state_from_string("running"), _UNIT_DESIRED_STATE_INVALID);
}

TEST_MAIN(T(nothing_to_do), T(new_unit_launched), T(adopts_running_unit_with_same_hash),
          T(unscheduled_unit_stopped_and_removed), T(inactive_desired_is_absent), T(loaded_stops_but_keeps_file),
          T(failed_unit_started_again), T(changed_contents_rewritten_and_restarted),
          T(mixed_batch_has_one_reload_in_order), T(plan_names_point_into_inputs), T(desired_state_strings))
