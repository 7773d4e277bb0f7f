/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "app-plan.h"
#include "../tests.h"

#define S USEC_PER_SEC

/* Renders a plan as "+web@4 +web@5 -a_v1.web@1.service ! reason #a1: why" for compact expectations
 * (#: a blocked instance). */
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
                n += snprintf(buf + n, sizeof(buf) - n, "%sdone", n ? " " : "");
        for (size_t i = 0; i < p->n_blocked; i++)
                n += snprintf(buf + n, sizeof(buf) - n, "%s#%s: %s", n ? " " : "", p->blocked[i].unit,
                              p->blocked[i].reason);
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

TEST(failed_instance_reason_in_the_message) {
        AppTarget t = { .release = 2, .processes = web3, .n_processes = 1, .max_surge = 1, .next_index = 5,
                        .now = 100 * S, .deadline = 60 * S };
        AppInstance in[] = { { "o1", 1, "web", 1, H, 0 }, { "o2", 1, "web", 2, H, 0 }, { "o3", 1, "web", 3, H, 0 },
                             { "n4", 2, "web", 4, F, 90 * S,
                               .reason = "Error: initializing source docker://r:5000/a: connection refused" } };
        check(&t, in, 4, "! n4 failed: Error: initializing source docker://r:5000/a: connection refused");
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

/* --- moves: instances the engine wants replaced (drain, rebalance) --- */

TEST(evicted_instance_is_replaced_health_gated) {
        AppTarget t = { .release = 1, .processes = web3, .n_processes = 1, .max_surge = 1, .next_index = 4,
                        .now = 100 * S, .deadline = 60 * S };
        int before = test_failures;
        AppInstance s1[] = { { "a1", 1, "web", 1, H, 0, .evict = true }, { "a2", 1, "web", 2, H, 0 },
                             { "a3", 1, "web", 3, H, 0 } };
        check(&t, s1, 3, "+web@4");
        /* the replacement starts: the evicted one stays, so 3 stay healthy */
        AppInstance s2[] = { { "a1", 1, "web", 1, H, 0, .evict = true }, { "a2", 1, "web", 2, H, 0 },
                             { "a3", 1, "web", 3, H, 0 }, { "n4", 1, "web", 4, ST, 90 * S } };
        t.next_index = 5;
        check(&t, s2, 4, "");
        s2[3].health = H;
        check(&t, s2, 4, "-a1 done");
        /* two evicted: one at a time with max_surge 1 */
        AppInstance s3[] = { { "a1", 1, "web", 1, H, 0, .evict = true }, { "a2", 1, "web", 2, H, 0, .evict = true },
                             { "a3", 1, "web", 3, H, 0 } };
        check(&t, s3, 3, "+web@5");
        ASSERT_INT(test_failures, before);
}

TEST(evicted_instance_within_max_unavailable) {
        AppTarget t = { .release = 1, .processes = web3, .n_processes = 1, .max_surge = 0, .max_unavailable = 1,
                        .next_index = 4, .now = 100 * S, .deadline = 60 * S };
        AppInstance in[] = { { "a1", 1, "web", 1, H, 0, .evict = true }, { "a2", 1, "web", 2, H, 0, .evict = true },
                             { "a3", 1, "web", 3, H, 0 } };
        /* one may go before its replacement is healthy, not two */
        check(&t, in, 3, "+web@4 -a1");
}

TEST(failed_replacement_blocks_the_move) {
        AppTarget t = { .release = 1, .processes = web3, .n_processes = 1, .max_surge = 1, .next_index = 5,
                        .now = 100 * S, .deadline = 60 * S };
        AppInstance in[] = { { "a1", 1, "web", 1, H, 0, .evict = true }, { "a2", 1, "web", 2, H, 0 },
                             { "a3", 1, "web", 3, H, 0 }, { "n4", 1, "web", 4, F, 90 * S } };
        check(&t, in, 4, "! n4 failed #a1: replacement n4 failed");

        /* no release rolls out: that failure rolls nothing back */
        AppRecord rec = { .name = (char *) "hello", .release = 1, .latest = 2, .rollout = ROLLOUT_DONE,
                          .rollout_from = 1 };
        AppPlan plan = {};
        ASSERT_INT(app_plan(&t, in, 4, &plan), 0);
        ASSERT_INT(app_rollout_step(&rec, &plan), APP_ROLLOUT_KEEP);
        /* while one does, its rules stand for the replacement too */
        rec.rollout = ROLLOUT_ROLLING;
        ASSERT_INT(app_rollout_step(&rec, &plan), APP_ROLLOUT_ROLL_BACK);
        app_plan_done(&plan);
}

TEST(unplaceable_or_late_replacement_blocks_the_move) {
        AppTarget t = { .release = 1, .processes = web3, .n_processes = 1, .max_surge = 1, .next_index = 5,
                        .now = 100 * S, .deadline = 60 * S };
        AppInstance in[] = { { "a1", 1, "web", 1, H, 0, .evict = true }, { "a2", 1, "web", 2, H, 0 },
                             { "a3", 1, "web", 3, H, 0 },
                             { "n4", 1, "web", 4, ST, 90 * S, .unschedulable = "no machine has metadata role=web" } };
        check(&t, in, 4, "#a1: replacement n4 cannot be placed: no machine has metadata role=web");
        in[3].unschedulable = NULL;
        t.now = 200 * S;
        check(&t, in, 4, "! n4 did not become healthy in time #a1: replacement n4 did not become healthy in time");
}

TEST(forced_drain_removes_what_cannot_be_replaced) {
        AppTarget t = { .release = 1, .processes = web3, .n_processes = 1, .max_surge = 1, .next_index = 5,
                        .now = 100 * S, .deadline = 60 * S };
        AppInstance in[] = { { "a1", 1, "web", 1, H, 0, .evict = true, .force = true }, { "a2", 1, "web", 2, H, 0 },
                             { "a3", 1, "web", 3, H, 0 },
                             { "n4", 1, "web", 4, ST, 90 * S, .unschedulable = "every machine is draining" } };
        check(&t, in, 4, "-a1");
        /* while the replacement is fine, force changes nothing: health-gated as ever */
        in[3].unschedulable = NULL;
        check(&t, in, 4, "");
}

TEST(no_longer_evicted_keeps_the_old_and_drops_the_replacement) {
        /* uncordon while the replacement failed: the old instance is new again, the failed one is surplus */
        AppTarget t = { .release = 1, .processes = web3, .n_processes = 1, .max_surge = 1, .next_index = 5,
                        .now = 100 * S, .deadline = 60 * S };
        AppInstance in[] = { { "a1", 1, "web", 1, H, 0 }, { "a2", 1, "web", 2, H, 0 }, { "a3", 1, "web", 3, H, 0 },
                             { "n4", 1, "web", 4, F, 90 * S } };
        check(&t, in, 4, "-n4 done");
}

TEST(evicted_during_a_rollout_is_old_like_the_rest) {
        AppTarget t = { .release = 2, .processes = web3, .n_processes = 1, .max_surge = 1, .next_index = 6,
                        .now = 100 * S, .deadline = 60 * S };
        /* n4 (new release) sits on a draining machine: it is replaced too */
        AppInstance in[] = { { "o2", 1, "web", 2, H, 0 }, { "o3", 1, "web", 3, H, 0 },
                             { "n4", 2, "web", 4, H, 90 * S, .evict = true }, { "n5", 2, "web", 5, H, 90 * S } };
        check(&t, in, 4, "+web@6 -o2");
}

/* --- an instance's health, from its state record --- */

TEST(instance_health) {
        static const struct {
                const char *active, *sub, *health;
                bool has_check;
                InstanceHealth expect;
        } cases[] = {
                { "active", "running", NULL, false, H },
                { "active", "running", "failing", false, H },     /* no check: its result means nothing */
                { "active", "running", "starting", true, ST },
                { "active", "running", "passing", true, H },
                { "active", "running", "failing", true, F },
                { "activating", "start", "failing", true, F },
                { "activating", "start", NULL, false, ST },
                { "failed", "failed", NULL, false, F },
                { "failed", "failed", "passing", true, F },
                { "activating", "auto-restart", NULL, false, F },
                { "inactive", "dead", NULL, false, ST },
                { "deactivating", "stop", "passing", true, ST },
        };
        ProcessType with_check = { .name = (char *) "web", .port = 5000, .health = { .enabled = true } };
        ProcessType no_port = { .name = (char *) "web", .health = { .enabled = true } };

        ASSERT_INT(app_instance_health(NULL, &with_check), ST);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                StateRecord s = { .active = (char *) cases[i].active, .sub = (char *) cases[i].sub,
                                  .health = (char *) cases[i].health };
                InstanceHealth got = app_instance_health(&s, cases[i].has_check ? &with_check : NULL);
                if (got != cases[i].expect)
                        fprintf(stderr, "case %zu: %s/%s/%s\n", i, cases[i].active, cases[i].sub,
                                strna(cases[i].health));
                ASSERT_INT(got, cases[i].expect);
        }
        /* a check without a port is never run */
        StateRecord failing = { .active = (char *) "active", .sub = (char *) "running", .health = (char *) "failing" };
        ASSERT_INT(app_instance_health(&failing, &no_port), H);
}

/* --- the rollout's state machine --- */

static const char *step_name(AppRolloutStep s) {
        static const char *names[] = { "keep", "roll-back", "fail", "done" };
        return s < ELEMENTSOF(names) ? names[s] : "?";
}

TEST(rollout_step) {
        static const struct {
                RolloutState rollout;
                unsigned rollout_from, rollback_of;
                bool failed, done;
                const char *expect;
        } cases[] = {
                /* not rolling: nothing moves, whatever the plan says */
                { ROLLOUT_NONE, 0, 0, false, false, "keep" },
                { ROLLOUT_DONE, 1, 0, true, false, "keep" },
                { ROLLOUT_FAILED, 1, 0, false, true, "keep" },
                /* rolling */
                { ROLLOUT_ROLLING, 1, 0, false, false, "keep" },
                { ROLLOUT_ROLLING, 1, 0, false, true, "done" },
                { ROLLOUT_ROLLING, 1, 2, false, true, "done" },
                { ROLLOUT_ROLLING, 1, 0, true, false, "roll-back" },
                { ROLLOUT_ROLLING, 0, 0, true, false, "fail" },  /* the first release: nothing before it */
                { ROLLOUT_ROLLING, 2, 2, true, false, "fail" },  /* a rollback that fails does not roll back again */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                AppRecord rec = { .name = (char *) "hello", .release = 2, .latest = 2, .rollout = cases[i].rollout,
                                  .rollout_from = cases[i].rollout_from, .rollback_of = cases[i].rollback_of };
                AppPlan plan = { .failed = cases[i].failed, .done = cases[i].done };
                const char *got = step_name(app_rollout_step(&rec, &plan));
                if (!streq(got, cases[i].expect))
                        fprintf(stderr, "case %zu\n", i);
                ASSERT_STR(got, cases[i].expect);
        }
}

/* Advances rec by the step its plan gives, rendered as
 * "rel=N latest=N next=N <rollout> from=N of=N msg=... cause=..." */
static const char *advance(const AppRecord *rec, unsigned next_index, const AppPlan *plan) {
        static char buf[1024];
        _cleanup_(app_record_done) AppRecord out = {};
        _cleanup_free_ char *cause = NULL;
        AppTarget t = { .release = rec->release, .next_index = next_index };

        if (app_rollout_advance(rec, &t, plan, app_rollout_step(rec, plan), &out, &cause) < 0)
                return "error";
        snprintf(buf, sizeof(buf), "rel=%u latest=%u next=%u %s from=%u of=%u msg=%s cause=%s", out.release,
                 out.latest, out.next_index, rollout_state_to_string(out.rollout), out.rollout_from,
                 out.rollback_of, strna(out.message), strna(cause));
        return buf;
}

TEST(rollout_advance) {
        AppRecord rec = { .name = (char *) "hello", .release = 3, .latest = 3, .next_index = 7,
                          .rollout = ROLLOUT_ROLLING, .rollout_from = 2, .message = (char *) "rolling out v3" };
        AppCreate two[2] = { { "web", 7 }, { "web", 8 } };
        AppPlan some = { .creates = two, .n_creates = 2 };
        AppPlan done = { .done = true };
        AppPlan failed = { .failed = true, .reason = (char *) "hello_v3.web@7.service failed" };

        /* a step on the way: only the instance numbers move on */
        ASSERT_STR(advance(&rec, 7, &some),
                   "rel=3 latest=3 next=9 rolling from=2 of=0 msg=rolling out v3 cause=n/a");
        ASSERT_STR(advance(&rec, 9, &done), "rel=3 latest=3 next=9 done from=2 of=0 msg=v3 is running cause=n/a");
        /* failed: a new release v4, a copy of v2, is the target now */
        ASSERT_STR(advance(&rec, 8, &failed),
                   "rel=4 latest=4 next=8 rolling from=3 of=3 "
                   "msg=v3 failed: hello_v3.web@7.service failed; rolling back to v4 (a copy of v2) "
                   "cause=automatic rollback to v2: v3 failed: hello_v3.web@7.service failed");

        /* that rollback done: the rollout failed, and the message says why */
        AppRecord back = rec;
        back.release = back.latest = 4;
        back.rollout_from = back.rollback_of = 3;
        back.message = (char *) "v3 failed: x; rolling back to v4 (a copy of v2)";
        ASSERT_STR(advance(&back, 10, &done),
                   "rel=4 latest=4 next=10 failed from=3 of=3 msg=v3 failed: x; rolling back to v4 (a copy of v2) "
                   "cause=n/a");
        /* the rollback failing too: no second rollback */
        ASSERT_STR(advance(&back, 10, &failed),
                   "rel=4 latest=4 next=10 failed from=3 of=3 "
                   "msg=v4 failed: hello_v3.web@7.service failed; nothing to roll back to cause=n/a");

        /* the first release failing: nothing to roll back to */
        AppRecord first = { .name = (char *) "hello", .release = 1, .latest = 1, .next_index = 1,
                            .rollout = ROLLOUT_ROLLING };
        ASSERT_STR(advance(&first, 2, &failed),
                   "rel=1 latest=1 next=2 failed from=0 of=0 "
                   "msg=v1 failed: hello_v3.web@7.service failed; nothing to roll back to cause=n/a");
        /* at rest: nothing but the numbers */
        AppRecord rest = { .name = (char *) "hello", .release = 1, .latest = 1, .next_index = 4,
                           .rollout = ROLLOUT_DONE, .message = (char *) "v1 is running" };
        ASSERT_STR(advance(&rest, 4, &failed), "rel=1 latest=1 next=4 done from=0 of=0 msg=v1 is running cause=n/a");
}

TEST_MAIN(T(first_deploy_creates_scale), T(steady_state_is_done), T(rolling_deploy_one_at_a_time),
          T(max_unavailable_allows_removing_before_replacement), T(surge_and_unavailable_both_zero_still_progress),
          T(failed_new_instance_fails_rollout_keeps_old), T(failed_instance_reason_in_the_message),
          T(slow_new_instance_fails_after_deadline),
          T(rollback_target_removes_failed_new_ones), T(scale_down_removes_newest_unhealthy_first),
          T(scale_to_zero_and_dropped_process), T(restart_replaces_every_instance), T(two_processes_independent),
          T(unhealthy_old_replaced_even_without_surge_room), T(instance_health), T(rollout_step),
          T(rollout_advance), T(evicted_instance_is_replaced_health_gated), T(evicted_instance_within_max_unavailable),
          T(failed_replacement_blocks_the_move), T(unplaceable_or_late_replacement_blocks_the_move),
          T(forced_drain_removes_what_cannot_be_replaced),
          T(no_longer_evicted_keeps_the_old_and_drops_the_replacement),
          T(evicted_during_a_rollout_is_old_like_the_rest))
