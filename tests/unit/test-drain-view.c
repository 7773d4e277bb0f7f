/* SPDX-License-Identifier: Apache-2.0 */
/* drain-view.h: what is left on a draining machine, drained/blocked, the JSON of
 * GET /v1/machines/<id>/drain, which machine a HOST names, the last schedulable machine. */
#include "basic/json-util.h"
#include "drain-view.h"
#include "../tests.h"

#define M1 "11111111111111111111111111111111"
#define M2 "22222222222222222222222222222222"
#define M3 "23333333333333333333333333333333"

#define PLAIN "[Service]\nExecStart=/bin/true\n"
#define GLOBAL "[Service]\nExecStart=/bin/true\n\n[X-Fleet]\nGlobal=true\n"

static char *dump(json_t *j) {
        char *s = j ? jx_dumps(j) : NULL;
        json_decref(j);
        return s;
}

static ScheduleRecord sched(const char *name, const char *contents) {
        return (ScheduleRecord) { .name = (char *) name, .hash = (char *) "h", .contents = (char *) contents,
                                  .desired = UNIT_LAUNCHED };
}

TEST(global) {
        ASSERT_INT(drain_unit_is_global("a.service", GLOBAL), 1);
        ASSERT_INT(drain_unit_is_global("a.service", PLAIN), 0);
        ASSERT_INT(drain_unit_is_global("a.service", "[X-Fleet]\nGlobal=yes\n"), 1);
        ASSERT_INT(drain_unit_is_global("a.service", "[X-Fleet]\nGlobal=false\n"), 0);
        /* a unit that does not parse is no global one: it holds the drain up */
        ASSERT_INT(drain_unit_is_global("a.service", "[X-Fleet\nGlobal=true\n"), 0);
}

TEST(drained_when_only_globals_are_left) {
        ScheduleRecord s[] = { sched("router.service", GLOBAL), sched("log.service", GLOBAL) };
        _cleanup_(drain_status_done) DrainStatus st = {};

        ASSERT_INT(drain_status_compute(M1, s, ELEMENTSOF(s), NULL, 0, &st), 0);
        ASSERT_INT(st.phase, DRAIN_PHASE_DRAINED);
        ASSERT_INT(st.n_left, 0);
        _cleanup_free_ char *sum = drain_status_summary(&st, 10);
        ASSERT_STR(sum, "nothing left");

        _cleanup_(drain_status_done) DrainStatus empty = {};
        ASSERT_INT(drain_status_compute(M1, NULL, 0, NULL, 0, &empty), 0);
        ASSERT_INT(empty.phase, DRAIN_PHASE_DRAINED);
}

TEST(draining_and_kinds) {
        ScheduleRecord s[] = {
                sched("web.service", PLAIN),
                sched("router.service", GLOBAL),
                sched("hello_v3.web@7.service", PLAIN),
        };
        _cleanup_(drain_status_done) DrainStatus st = {};

        ASSERT_INT(drain_status_compute(M1, s, ELEMENTSOF(s), NULL, 0, &st), 0);
        ASSERT_INT(st.phase, DRAIN_PHASE_DRAINING);
        ASSERT_INT(st.n_left, 2);
        ASSERT_INT(st.n_stuck, 0);
        ASSERT_STR(st.left[0].unit, "web.service");
        ASSERT_TRUE(!st.left[0].app);
        ASSERT_STR(st.left[1].unit, "hello_v3.web@7.service");
        ASSERT_TRUE(st.left[1].app);
        _cleanup_free_ char *sum = drain_status_summary(&st, 10);
        ASSERT_STR(sum, "2 units left: web.service (moving), hello_v3.web@7.service (replacing)");
        _cleanup_free_ char *one = drain_status_summary(&st, 1);
        ASSERT_STR(one, "2 units left: web.service (moving), and 1 more");
}

TEST(stuck_and_blocked) {
        ScheduleRecord s[] = { sched("db.service", PLAIN), sched("web.service", PLAIN) };
        PlacementRecord p[] = {
                /* another machine's stuck record and an unschedulable one do not count */
                { .name = (char *) "web.service", .state = PLACEMENT_STUCK, .machine = M2, .reason = (char *) "x" },
                { .name = (char *) "web.service", .state = PLACEMENT_UNSCHEDULABLE, .reason = (char *) "y" },
                { .name = (char *) "db.service", .state = PLACEMENT_STUCK, .machine = M1,
                  .reason = (char *) "cannot move off draining host1: MachineID=" M1 },
        };
        _cleanup_(drain_status_done) DrainStatus st = {};

        ASSERT_INT(drain_status_compute(M1, s, ELEMENTSOF(s), p, ELEMENTSOF(p), &st), 0);
        ASSERT_INT(st.phase, DRAIN_PHASE_DRAINING);
        ASSERT_INT(st.n_stuck, 1);
        ASSERT_TRUE(st.left[0].stuck);
        ASSERT_STR(st.left[0].reason, "cannot move off draining host1: MachineID=" M1);
        ASSERT_TRUE(!st.left[1].stuck);

        /* only the stuck one left: blocked */
        _cleanup_(drain_status_done) DrainStatus b = {};
        ASSERT_INT(drain_status_compute(M1, s, 1, p, ELEMENTSOF(p), &b), 0);
        ASSERT_INT(b.phase, DRAIN_PHASE_BLOCKED);
        _cleanup_free_ char *sum = drain_status_summary(&b, 10);
        ASSERT_STR(sum, "1 unit left: db.service (stuck: cannot move off draining host1: MachineID=" M1 ")");
}

TEST(status_json) {
        ScheduleRecord s[] = { sched("db.service", PLAIN), sched("hello_v1.web@1.service", PLAIN) };
        PlacementRecord p[] = { { .name = (char *) "db.service", .state = PLACEMENT_STUCK, .machine = M1,
                                  .reason = (char *) "pinned" } };
        DrainRecord d = { .machine = M1, .since_usec = 5, .by = (char *) "bob", .source = (char *) "fleetlock" };
        _cleanup_(drain_status_done) DrainStatus st = {};

        ASSERT_INT(drain_status_compute(M1, s, ELEMENTSOF(s), p, ELEMENTSOF(p), &st), 0);
        _cleanup_free_ char *text = dump(drain_status_to_json(&st, M1, &d));
        ASSERT_STR(text, "{\"blocked\":[{\"reason\":\"pinned\",\"unit\":\"db.service\"}],\"by\":\"bob\",\"draining\":true,"
                         "\"force\":false,\"machine\":\"" M1 "\",\"remaining\":[{\"kind\":\"unit\",\"reason\":\"pinned\","
                         "\"state\":\"stuck\",\"unit\":\"db.service\"},{\"kind\":\"app\",\"state\":\"replacing\","
                         "\"unit\":\"hello_v1.web@1.service\"}],\"since\":5,\"source\":\"fleetlock\",\"state\":\"draining\"}");

        /* not draining: "active", and what a drain would have to move */
        _cleanup_free_ char *idle = dump(drain_status_to_json(&st, M1, NULL));
        ASSERT_STR(idle, "{\"blocked\":[{\"reason\":\"pinned\",\"unit\":\"db.service\"}],\"draining\":false,"
                         "\"machine\":\"" M1 "\",\"remaining\":[{\"kind\":\"unit\",\"reason\":\"pinned\","
                         "\"state\":\"stuck\",\"unit\":\"db.service\"},{\"kind\":\"app\",\"state\":\"replacing\","
                         "\"unit\":\"hello_v1.web@1.service\"}],\"state\":\"active\"}");
}

static const MachineRecord machines[] = {
        { .id = M1, .hostname = (char *) "host1", .ip = (char *) "10.0.0.11" },
        { .id = M2, .hostname = (char *) "host2", .ip = (char *) "10.0.0.12" },
        { .id = M3, .hostname = (char *) "host2", .ip = (char *) "10.0.0.13" },
};

TEST(resolve) {
        static const DrainRecord drains[] = {
                { .machine = "44444444444444444444444444444444", .source = (char *) "fleetctl" },
                { .machine = M1, .source = (char *) "fleetctl" },
        };
        char id[MACHINE_ID_LEN + 1];

        ASSERT_INT(machine_resolve(machines, 3, drains, 2, M2, id), 0);
        ASSERT_STR(id, M2);
        ASSERT_INT(machine_resolve(machines, 3, drains, 2, "host1", id), 0);
        ASSERT_STR(id, M1);
        ASSERT_INT(machine_resolve(machines, 3, drains, 2, "10.0.0.13", id), 0);
        ASSERT_STR(id, M3);
        ASSERT_INT(machine_resolve(machines, 3, drains, 2, "111", id), 0);
        ASSERT_STR(id, M1);
        /* a machine that is down is known by its drain */
        ASSERT_INT(machine_resolve(machines, 3, drains, 2, "4444", id), 0);
        ASSERT_STR(id, "44444444444444444444444444444444");
        ASSERT_INT(machine_resolve(machines, 3, drains, 2, "44444444444444444444444444444444", id), 0);
        /* two machines say host2; "2" begins two ids */
        ASSERT_INT(machine_resolve(machines, 3, drains, 2, "host2", id), -ENOTUNIQ);
        ASSERT_INT(machine_resolve(machines, 3, drains, 2, "2", id), -ENOTUNIQ);
        ASSERT_INT(machine_resolve(machines, 3, drains, 2, "22", id), 0);
        ASSERT_STR(id, M2);
        ASSERT_INT(machine_resolve(machines, 3, drains, 2, "host9", id), -ENOENT);
        ASSERT_INT(machine_resolve(machines, 3, drains, 2, "", id), -ENOENT);
        ASSERT_INT(machine_resolve(NULL, 0, NULL, 0, "host1", id), -ENOENT);
}

TEST(last_schedulable) {
        DrainRecord d[] = { { .machine = M2, .source = (char *) "fleetctl" }, { .machine = M3, .source = (char *) "fleetctl" } };

        ASSERT_TRUE(!drain_is_last_schedulable(machines, 3, NULL, 0, M1));
        ASSERT_TRUE(!drain_is_last_schedulable(machines, 3, d, 1, M1));
        ASSERT_TRUE(drain_is_last_schedulable(machines, 3, d, 2, M1));
        /* draining it again changes nothing */
        ASSERT_TRUE(!drain_is_last_schedulable(machines, 3, d, 2, M2));
        /* a single machine is the last */
        ASSERT_TRUE(drain_is_last_schedulable(machines, 1, NULL, 0, M1));
        ASSERT_TRUE(drain_find(d, 2, M3) == &d[1]);
        ASSERT_TRUE(!drain_find(d, 2, M1));
}

TEST(phase_names) {
        ASSERT_STR(drain_phase_to_string(DRAIN_PHASE_DRAINING), "draining");
        ASSERT_STR(drain_phase_to_string(DRAIN_PHASE_DRAINED), "drained");
        ASSERT_STR(drain_phase_to_string(DRAIN_PHASE_BLOCKED), "blocked");
        ASSERT_TRUE(!drain_phase_to_string(_DRAIN_PHASE_MAX));
}

TEST_MAIN(T(global), T(drained_when_only_globals_are_left), T(draining_and_kinds), T(stuck_and_blocked),
          T(status_json), T(resolve), T(last_schedulable), T(phase_names))
