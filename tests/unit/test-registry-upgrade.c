/* SPDX-License-Identifier: Apache-2.0 */
/* The records of rolling host upgrades (registry.h): drain, placement, rebalance, locks, and
 * the semaphore steps on locks. */
#include "basic/json-util.h"
#include "basic/strv.h"
#include "registry.h"
#include "../tests.h"

#define ID "0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210"

static char *dump(json_t *j) {
        char *s = j ? jx_dumps(j) : NULL;
        json_decref(j);
        return s;
}

static json_t *load(const char *text) {
        return json_loads(text, 0, NULL);
}

TEST(machine_record_boot_and_fleetlock_ids) {
        MachineRecord in = { .id = ID, .boot_id = (char *) "b1", .fleetlock_id = (char *) "f1" };
        _cleanup_(machine_record_done) MachineRecord out = {};
        json_auto_t *j = machine_record_to_json(&in);

        ASSERT_STR(jx_str(j, "bootId"), "b1");
        ASSERT_STR(jx_str(j, "fleetlockId"), "f1");
        ASSERT_INT(machine_record_from_json(j, &out), 0);
        ASSERT_STR(out.boot_id, "b1");
        ASSERT_STR(out.fleetlock_id, "f1");
}

TEST(drain_record) {
        DrainRecord in = { .machine = ID, .since_usec = 42, .by = (char *) "alice", .force = true,
                           .source = (char *) "fleetlock" };
        _cleanup_(drain_record_done) DrainRecord out = {};
        _cleanup_free_ char *text = dump(drain_record_to_json(&in));

        ASSERT_STR(text, "{\"by\":\"alice\",\"force\":true,\"machine\":\"" ID "\",\"since\":42,\"source\":\"fleetlock\"}");
        json_auto_t *j = load(text);
        ASSERT_INT(drain_record_from_json(j, &out), 0);
        ASSERT_STR(out.machine, ID);
        ASSERT_INT(out.since_usec, 42);
        ASSERT_STR(out.by, "alice");
        ASSERT_TRUE(out.force);
        ASSERT_STR(out.source, "fleetlock");
}

TEST(drain_record_refuses) {
        static const char *bad[] = {
                "[]",
                "{\"source\":\"fleetctl\"}",                                   /* no machine */
                "{\"machine\":\"abc\",\"source\":\"fleetctl\"}",
                "{\"machine\":\"" ID "\"}",                                     /* no source */
                "{\"machine\":\"" ID "\",\"source\":\"zincati\"}",
                "{\"machine\":\"" ID "\",\"source\":\"fleetctl\",\"force\":1}",
                "{\"machine\":\"" ID "\",\"source\":\"fleetctl\",\"since\":-1}",
                "{\"machine\":\"" ID "\",\"source\":\"fleetctl\",\"since\":\"1\"}",
                "{\"machine\":\"" ID "\",\"source\":\"fleetctl\",\"by\":3}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_auto_t *j = load(bad[i]);
                DrainRecord d = {};
                if (drain_record_from_json(j, &d) != -EBADMSG) {
                        fprintf(stderr, "accepted: %s\n", bad[i]);
                        ASSERT_TRUE(false);
                }
        }
}

TEST(placement_record) {
        PlacementRecord in = { .name = (char *) "db.service", .state = PLACEMENT_STUCK, .machine = ID,
                               .reason = (char *) "cannot move off draining host1", .since_usec = 7 };
        _cleanup_(placement_record_done) PlacementRecord out = {};
        _cleanup_free_ char *text = dump(placement_record_to_json(&in));

        ASSERT_STR(text, "{\"machine\":\"" ID "\",\"name\":\"db.service\",\"reason\":\"cannot move off draining host1\","
                         "\"since\":7,\"state\":\"stuck\"}");
        json_auto_t *j = load(text);
        ASSERT_INT(placement_record_from_json(j, &out), 0);
        ASSERT_INT(out.state, PLACEMENT_STUCK);
        ASSERT_STR(out.machine, ID);

        /* unschedulable: no machine */
        PlacementRecord u = { .name = (char *) "a.service", .state = PLACEMENT_UNSCHEDULABLE, .reason = (char *) "r" };
        _cleanup_free_ char *t2 = dump(placement_record_to_json(&u));
        ASSERT_STR(t2, "{\"name\":\"a.service\",\"reason\":\"r\",\"since\":0,\"state\":\"unschedulable\"}");
        ASSERT_STR(placement_state_to_string(PLACEMENT_UNSCHEDULABLE), "unschedulable");
        ASSERT_INT(placement_state_from_string("stuck"), PLACEMENT_STUCK);
        ASSERT_INT(placement_state_from_string("placed"), _PLACEMENT_STATE_INVALID);
}

TEST(placement_record_refuses) {
        static const char *bad[] = {
                "{\"state\":\"stuck\",\"reason\":\"r\",\"machine\":\"" ID "\"}",          /* no name */
                "{\"name\":\"a\",\"state\":\"stuck\",\"reason\":\"r\"}",                     /* stuck without machine */
                "{\"name\":\"a\",\"state\":\"gone\",\"reason\":\"r\"}",
                "{\"name\":\"a\",\"state\":\"unschedulable\"}",                              /* no reason */
                "{\"name\":\"a\",\"state\":\"unschedulable\",\"reason\":\"\"}",
                "{\"name\":\"a\",\"state\":\"unschedulable\",\"reason\":\"r\",\"machine\":\"x\"}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_auto_t *j = load(bad[i]);
                PlacementRecord p = {};
                if (placement_record_from_json(j, &p) != -EBADMSG) {
                        fprintf(stderr, "accepted: %s\n", bad[i]);
                        ASSERT_TRUE(false);
                }
        }
}

TEST(rebalance_record) {
        RebalanceRecord in = { .machine = ID, .since_usec = 5, .by = (char *) "bob" };
        _cleanup_(rebalance_record_done) RebalanceRecord out = {};
        _cleanup_free_ char *text = dump(rebalance_record_to_json(&in));

        ASSERT_STR(text, "{\"by\":\"bob\",\"machine\":\"" ID "\",\"since\":5}");
        json_auto_t *j = load(text);
        ASSERT_INT(rebalance_record_from_json(j, &out), 0);
        ASSERT_STR(out.by, "bob");
        json_auto_t *bad = load("{\"since\":5}");
        ASSERT_INT(rebalance_record_from_json(bad, &out), -EBADMSG);
}

TEST(lock_group_and_holder_rules) {
        ASSERT_TRUE(lock_group_is_valid("default"));
        ASSERT_TRUE(lock_group_is_valid("workers.eu-1"));
        ASSERT_TRUE(!lock_group_is_valid(""));
        ASSERT_TRUE(!lock_group_is_valid(NULL));
        ASSERT_TRUE(!lock_group_is_valid("a_b"));
        ASSERT_TRUE(!lock_group_is_valid("a b"));
        ASSERT_TRUE(!lock_group_is_valid("a/b"));
        char longer[LOCK_GROUP_MAX_LEN + 2];
        memset(longer, 'a', sizeof(longer) - 1);
        longer[sizeof(longer) - 1] = 0;
        ASSERT_TRUE(!lock_group_is_valid(longer));
        longer[LOCK_GROUP_MAX_LEN] = 0;
        ASSERT_TRUE(lock_group_is_valid(longer));

        ASSERT_TRUE(lock_holder_id_is_valid(ID));
        ASSERT_TRUE(!lock_holder_id_is_valid(""));
        ASSERT_TRUE(!lock_holder_id_is_valid("a b"));
        ASSERT_TRUE(!lock_holder_id_is_valid("a\n"));
}

TEST(lock_record_roundtrip) {
        _cleanup_(lock_record_done) LockRecord l = {}, out = {};

        ASSERT_INT(lock_record_new_default("default", &l), 0);
        ASSERT_INT(l.max, 1);
        ASSERT_INT(lock_record_new_default("bad group", &out), -EINVAL);
        ASSERT_INT(lock_record_acquire(&l, "h1", ID, "alice", 100), 0);
        _cleanup_free_ char *text = dump(lock_record_to_json(&l));
        ASSERT_STR(text, "{\"group\":\"default\",\"holders\":[{\"by\":\"alice\",\"id\":\"h1\",\"machine\":\"" ID
                         "\",\"since\":100}],\"max\":1}");
        json_auto_t *j = load(text);
        ASSERT_INT(lock_record_from_json(j, &out), 0);
        ASSERT_INT(out.n_holders, 1);
        ASSERT_STR(out.holders[0].id, "h1");
        ASSERT_STR(out.holders[0].machine, ID);
        ASSERT_INT(out.holders[0].since_usec, 100);
}

TEST(lock_record_refuses) {
        static const char *bad[] = {
                "{\"group\":\"g\"}",                                              /* no max */
                "{\"group\":\"g\",\"max\":0}",
                "{\"group\":\"g\",\"max\":1001}",
                "{\"group\":\"g\",\"max\":\"1\"}",
                "{\"group\":\"a b\",\"max\":1}",
                "{\"max\":1}",
                "{\"group\":\"g\",\"max\":2,\"holders\":{}}",
                "{\"group\":\"g\",\"max\":2,\"holders\":[{\"id\":\"a\"},{\"id\":\"a\"}]}",   /* twice */
                "{\"group\":\"g\",\"max\":2,\"holders\":[{\"id\":\"a b\"}]}",
                "{\"group\":\"g\",\"max\":2,\"holders\":[{}]}",
                "{\"group\":\"g\",\"max\":2,\"holders\":[{\"id\":\"a\",\"machine\":\"m\"}]}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_auto_t *j = load(bad[i]);
                LockRecord l = {};
                if (lock_record_from_json(j, &l) != -EBADMSG) {
                        fprintf(stderr, "accepted: %s\n", bad[i]);
                        lock_record_done(&l);
                        ASSERT_TRUE(false);
                }
        }
        /* more holders than max is what a lowered max leaves: valid */
        json_auto_t *j = load("{\"group\":\"g\",\"max\":1,\"holders\":[{\"id\":\"a\"},{\"id\":\"b\"}]}");
        _cleanup_(lock_record_done) LockRecord l = {};
        ASSERT_INT(lock_record_from_json(j, &l), 0);
        ASSERT_INT(l.n_holders, 2);
        ASSERT_INT(lock_record_acquire(&l, "c", NULL, NULL, 1), -EBUSY);
        ASSERT_INT(lock_record_acquire(&l, "a", NULL, NULL, 1), 1);
}

TEST(lock_semaphore_steps) {
        _cleanup_(lock_record_done) LockRecord l = {};
        _cleanup_strv_free_ char **expired = NULL;

        ASSERT_INT(lock_record_new_default("g", &l), 0);
        l.max = 2;
        ASSERT_INT(lock_record_acquire(&l, "a", NULL, "x", 10), 0);
        ASSERT_INT(lock_record_acquire(&l, "a", NULL, "x", 20), 1);      /* recursive: nothing changes */
        ASSERT_INT(l.n_holders, 1);
        ASSERT_INT(l.holders[0].since_usec, 10);
        ASSERT_INT(lock_record_acquire(&l, "b", ID2, NULL, 30), 0);
        ASSERT_INT(lock_record_acquire(&l, "c", NULL, NULL, 40), -EBUSY);  /* full */
        ASSERT_INT(l.n_holders, 2);
        ASSERT_INT(lock_record_acquire(&l, "bad id", NULL, NULL, 40), -EINVAL);
        ASSERT_TRUE(lock_record_find(&l, "b") != NULL);
        ASSERT_TRUE(lock_record_find(&l, "c") == NULL);

        /* no timeout: nothing expires */
        ASSERT_INT(lock_record_expire(&l, 1000000, 0, &expired), 0);
        ASSERT_TRUE(expired == NULL);
        /* a's slot is 25 old at 35 with a timeout of 25: it goes; b's (5 old) stays */
        ASSERT_INT(lock_record_expire(&l, 35, 25, &expired), 1);
        ASSERT_STR(expired[0], "a");
        ASSERT_INT(l.n_holders, 1);
        ASSERT_STR(l.holders[0].id, "b");
        /* a clock that went back expires nothing */
        ASSERT_INT(lock_record_expire(&l, 5, 1, NULL), 0);

        ASSERT_INT(lock_record_acquire(&l, "c", NULL, NULL, 40), 0);
        ASSERT_INT(lock_record_release(&l, "b"), 1);
        ASSERT_INT(lock_record_release(&l, "b"), 0);                     /* not held: nothing */
        ASSERT_INT(l.n_holders, 1);
        ASSERT_STR(l.holders[0].id, "c");
        ASSERT_INT(lock_record_release(&l, "c"), 1);
        ASSERT_INT(l.n_holders, 0);
}

TEST_MAIN(T(machine_record_boot_and_fleetlock_ids), T(drain_record), T(drain_record_refuses), T(placement_record),
          T(placement_record_refuses), T(rebalance_record), T(lock_group_and_holder_rules), T(lock_record_roundtrip),
          T(lock_record_refuses), T(lock_semaphore_steps))
