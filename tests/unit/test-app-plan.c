/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "app-plan.h"
#include "../tests.h"

#define S USEC_PER_SEC

/* Renders a plan as "+web@4 +web@5 -a_v1.web@1.service ! reason" for compact expectations. */
static const char *render(const AppPlan *p) {
        static char buf[2048];
        size_t n = 0;
        buf[0] = 0;
        for (size_t i = 0; i < p->n_creates; i++)
                n += snprintf(buf + n, sizeof(buf) - n, "%s+%s@%u", n ? " " : "", p->creates[i].process,
                              p->creates[i].index);
        for (size_t i = 0; i < p->n_removes; i++)
                n += snprintf(buf + n, sizeof(buf) - n, "%s-%s", n ? " " : "", p->removes[i]);
        if (p->failed)
                n += snprintf(buf + n, sizeof(buf) - n, "%s! %s", n ? " " : "", p->reason);
        if (p->done)
                snprintf(buf + n, sizeof(buf) - n, "%sdone", n ? " " : "");
        return buf;
}

#define H INSTANCE_HEALTHY
#define ST INSTANCE_STARTING
#define F INSTANCE_FAILED

static void check(const AppTarget *t, const AppInstance *inst, size_t n, const char *expected) {
        AppPlan p = {};
        ASSERT_INT(app_plan(t, inst, n, &p), 0);
        ASSERT_STR(render(&p), expected);
        app_plan_done(&p);
}

static const AppProcessTarget web3[] = { { "web", 3 } };

TEST(first_deploy_creates_scale) {
        AppTarget t = { .release = 1, .processes = web3, .n_processes = 1, .max_surge = 1, .next_index = 1,
                        .now = 100 * S, .deadline = 60 * S };
        check(&t, NULL, 0, "+web@1 +web@2 +web@3");
}

TEST(steady_state_is_done) {
        AppTarget t = { .release = 1, .processes = web3, .n_processes = 1, .max_surge = 1, .next_index = 4,
                        .now = 100 * S, .deadline = 60 * S };
        AppInstance in[] = { { "a1", 1, "web", 1, H, 0 }, { "a2", 1, "web", 2, H, 0 }, { "a3", 1, "web", 3, H, 0 } };
        check(&t, in, 3, "done");
}

TEST(rolling_deploy_one_at_a_time) {
        AppTarget t = { .release = 2, .processes = web3, .n_processes = 1, .max_surge = 1, .max_unavailable = 0,
                        .next_index = 4, .now = 100 * S, .deadline = 60 * S };
        int before = test_failures;
        /* step 1: one surge instance, nothing removed yet */
        AppInstance s1[] = { { "o1", 1, "web", 1, H, 0 }, { "o2", 1, "web", 2, H, 0 }, { "o3", 1, "web", 3, H, 0 } };
        check(&t, s1, 3, "+web@4");
        /* step 2: the new one is starting: wait */
        AppInstance s2[] = { { "o1", 1, "web", 1, H, 0 }, { "o2", 1, "web", 2, H, 0 }, { "o3", 1, "web", 3, H, 0 },
                             { "n4", 2, "web", 4, ST, 90 * S } };
        t.next_index = 5;
        check(&t, s2, 4, "");
        /* step 3: healthy: one old one goes (oldest first) and its room goes to the next new one */
        s2[3].health = H;
        check(&t, s2, 4, "+web@5 -o1");
        AppInstance s3[] = { { "o2", 1, "web", 2, H, 0 }, { "o3", 1, "web", 3, H, 0 }, { "n4", 2, "web", 4, H, 90 * S } };
        check(&t, s3, 3, "+web@5");
        ASSERT_INT(test_failures, before);
}

TEST(max_unavailable_allows_removing_before_replacement) {
        AppTarget t = { .release = 2, .processes = web3, .n_processes = 1, .max_surge = 0, .max_unavailable = 1,
                        .next_index = 4, .now = 100 * S, .deadline = 60 * S };
        AppInstance in[] = { { "o1", 1, "web", 1, H, 0 }, { "o2", 1, "web", 2, H, 0 }, { "o3", 1, "web", 3, H, 0 } };
        check(&t, in, 3, "+web@4 -o1");
}

TEST(surge_and_unavailable_both_zero_still_progress) {
        AppTarget t = { .release = 2, .processes = web3, .n_processes = 1, .next_index = 4, .now = 100 * S,
                        .deadline = 60 * S };
        AppInstance in[] = { { "o1", 1, "web", 1, H, 0 }, { "o2", 1, "web", 2, H, 0 }, { "o3", 1, "web", 3, H, 0 } };
        check(&t, in, 3, "+web@4");
}

TEST(failed_new_instance_fails_rollout_keeps_old) {
        AppTarget t = { .release = 2, .processes = web3, .n_processes = 1, .max_surge = 1, .next_index = 5,
                        .now = 100 * S, .deadline = 60 * S };
        AppInstance in[] = { { "o1", 1, "web", 1, H, 0 }, { "o2", 1, "web", 2, H, 0 }, { "o3", 1, "web", 3, H, 0 },
                             { "n4", 2, "web", 4, F, 90 * S } };
        check(&t, in, 4, "! n4 failed");
}

TEST(slow_new_instance_fails_after_deadline) {
        AppTarget t = { .release = 2, .processes = web3, .n_processes = 1, .max_surge = 1, .next_index = 5,
                        .now = 200 * S, .deadline = 60 * S };
        AppInstance in[] = { { "o1", 1, "web", 1, H, 0 }, { "n4", 2, "web", 4, ST, 100 * S } };
        check(&t, in, 2, "! n4 did not become healthy in time");
}

TEST(rollback_target_removes_failed_new_ones) {
        /* after a failed v2 the controller targets v3 (a copy of v1): v2's failed instance is old
         * and unhealthy, the v1 instances are old too, and v3 instances are created */
        AppTarget t = { .release = 3, .processes = web3, .n_processes = 1, .max_surge = 1, .next_index = 5,
                        .now = 200 * S, .deadline = 60 * S };
        AppInstance in[] = { { "o1", 1, "web", 1, H, 0 }, { "o2", 1, "web", 2, H, 0 }, { "o3", 1, "web", 3, H, 0 },
                             { "n4", 2, "web", 4, F, 100 * S } };
        check(&t, in, 4, "+web@5 -n4");
}

TEST(scale_down_removes_newest_unhealthy_first) {
        static const AppProcessTarget web1[] = { { "web", 1 } };
        AppTarget t = { .release = 1, .processes = web1, .n_processes = 1, .max_surge = 1, .next_index = 4,
                        .now = 100 * S, .deadline = 60 * S };
        AppInstance in[] = { { "a1", 1, "web", 1, H, 0 }, { "a2", 1, "web", 2, H, 0 }, { "a3", 1, "web", 3, ST, 90 * S } };
        check(&t, in, 3, "-a3 -a2 done");
}

TEST(scale_to_zero_and_dropped_process) {
        static const AppProcessTarget procs[] = { { "web", 0 } };
        AppTarget t = { .release = 1, .processes = procs, .n_processes = 1, .max_surge = 1, .next_index = 4,
                        .now = 100 * S, .deadline = 60 * S };
        AppInstance in[] = { { "w1", 1, "web", 1, H, 0 }, { "k2", 1, "worker", 2, H, 0 } };
        check(&t, in, 2, "-w1 -k2");
}

TEST(restart_replaces_every_instance) {
        static const AppProcessTarget restarted[] = { { "web", 3, 4 } };
        AppTarget t = { .release = 1, .processes = restarted, .n_processes = 1, .max_surge = 1, .next_index = 4,
                        .now = 100 * S, .deadline = 60 * S };
        AppInstance in[] = { { "a1", 1, "web", 1, H, 0 }, { "a2", 1, "web", 2, H, 0 }, { "a3", 1, "web", 3, H, 0 } };
        check(&t, in, 3, "+web@4");
}

TEST(two_processes_independent) {
        static const AppProcessTarget procs[] = { { "web", 2 }, { "worker", 1 } };
        AppTarget t = { .release = 1, .processes = procs, .n_processes = 2, .max_surge = 1, .next_index = 3,
                        .now = 100 * S, .deadline = 60 * S };
        AppInstance in[] = { { "w1", 1, "web", 1, H, 0 }, { "w2", 1, "web", 2, H, 0 } };
        check(&t, in, 2, "+worker@3");
}

TEST(unhealthy_old_replaced_even_without_surge_room) {
        AppTarget t = { .release = 2, .processes = web3, .n_processes = 1, .max_surge = 1, .next_index = 5,
                        .now = 100 * S, .deadline = 60 * S };
        AppInstance in[] = { { "o1", 1, "web", 1, F, 0 }, { "o2", 1, "web", 2, H, 0 }, { "o3", 1, "web", 3, H, 0 },
                             { "n4", 2, "web", 4, H, 90 * S } };
        check(&t, in, 4, "+web@5 -o1");
}

TEST_MAIN(T(first_deploy_creates_scale), T(steady_state_is_done), T(rolling_deploy_one_at_a_time),
          T(max_unavailable_allows_removing_before_replacement), T(surge_and_unavailable_both_zero_still_progress),
          T(failed_new_instance_fails_rollout_keeps_old), T(slow_new_instance_fails_after_deadline),
          T(rollback_target_removes_failed_new_ones), T(scale_down_removes_newest_unhealthy_first),
          T(scale_to_zero_and_dropped_process), T(restart_replaces_every_instance), T(two_processes_independent),
          T(unhealthy_old_replaced_even_without_surge_room))
