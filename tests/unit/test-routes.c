/* SPDX-License-Identifier: Apache-2.0 */
/* Routes: the record in etcd (routes/<app>/<unit>) and the agent's pure decisions about when to
 * write or delete it and which hook event a write makes. */
#include "basic/json-util.h"
#include "routes.h"
#include "../tests.h"

#define ID "0123456789abcdef0123456789abcdef"
#define UNIT "hello_v3.web@7.service"

TEST(record_roundtrip) {
        RouteRecord in = {
                .app = (char *) "hello", .unit = (char *) UNIT, .host = (char *) "10.0.0.11", .port = 20001,
                .release = 3, .process = (char *) "web", .machine = ID,
        };
        _cleanup_(route_record_done) RouteRecord out = {};
        json_auto_t *j = route_record_to_json(&in);
        _cleanup_free_ char *text = jx_dumps(j);

        ASSERT_STR(text, "{\"app\":\"hello\",\"host\":\"10.0.0.11\",\"machine\":\"" ID "\",\"port\":20001,"
                         "\"process\":\"web\",\"release\":3,\"unit\":\"" UNIT "\"}");
        ASSERT_INT(route_record_from_json(j, &out, NULL), 0);
        ASSERT_STR(out.app, "hello");
        ASSERT_STR(out.unit, UNIT);
        ASSERT_STR(out.host, "10.0.0.11");
        ASSERT_INT(out.port, 20001);
        ASSERT_INT(out.release, 3);
        ASSERT_STR(out.process, "web");
        ASSERT_STR(out.machine, ID);
}

TEST(record_rejects_bad) {
#define R(app, unit, host, port, release, process, machine)                                                   \
        "{\"app\":" app ",\"unit\":" unit ",\"host\":" host ",\"port\":" port ",\"release\":" release          \
        ",\"process\":" process ",\"machine\":" machine "}"
        static const char *bad[] = {
                "[]",
                "{}",
                R("\"hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", "0", "3", "\"web\"", "\"" ID "\""),
                R("\"hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", "65536", "3", "\"web\"", "\"" ID "\""),
                R("\"hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", "\"80\"", "3", "\"web\"", "\"" ID "\""),
                R("\"hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", "80", "0", "\"web\"", "\"" ID "\""),
                R("\"hello\"", "\"" UNIT "\"", "\"\"", "80", "3", "\"web\"", "\"" ID "\""),
                R("\"hello\"", "\"" UNIT "\"", "null", "80", "3", "\"web\"", "\"" ID "\""),
                R("\"hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", "80", "3", "\"web\"", "\"xyz\""),
                /* the unit must be an instance of that app, release and process */
                R("\"other\"", "\"" UNIT "\"", "\"10.0.0.1\"", "80", "3", "\"web\"", "\"" ID "\""),
                R("\"hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", "80", "4", "\"web\"", "\"" ID "\""),
                R("\"hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", "80", "3", "\"worker\"", "\"" ID "\""),
                R("\"hello\"", "\"web.service\"", "\"10.0.0.1\"", "80", "3", "\"web\"", "\"" ID "\""),
        };
#undef R
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                RouteRecord out = { .port = 9 };
                json_auto_t *j = json_loads(bad[i], 0, NULL);
                ASSERT_TRUE(j);
                if (route_record_from_json(j, &out, NULL) != -EBADMSG) {
                        fprintf(stderr, "accepted: %s\n", bad[i]);
                        ASSERT_TRUE(false);
                }
                ASSERT_INT(out.port, 9);      /* untouched */
        }
}

TEST(record_for_unit) {
        _cleanup_(route_record_done) RouteRecord rec = {};
        RouteRecord none = {};

        ASSERT_INT(route_record_for_unit(UNIT, "192.0.2.1", 20000, ID, &rec), 0);
        ASSERT_STR(rec.app, "hello");
        ASSERT_STR(rec.unit, UNIT);
        ASSERT_STR(rec.host, "192.0.2.1");
        ASSERT_INT(rec.port, 20000);
        ASSERT_INT(rec.release, 3);
        ASSERT_STR(rec.process, "web");
        ASSERT_STR(rec.machine, ID);

        ASSERT_INT(route_record_for_unit("web.service", "192.0.2.1", 20000, ID, &none), -EINVAL);
        ASSERT_INT(route_record_for_unit("hello_v3.web@0.service", "192.0.2.1", 20000, ID, &none), -EINVAL);
        ASSERT_INT(route_record_for_unit(UNIT, "192.0.2.1", 0, ID, &none), -EINVAL);
        ASSERT_INT(route_record_for_unit(UNIT, "", 20000, ID, &none), -EINVAL);
        ASSERT_INT(route_record_for_unit(UNIT, NULL, 20000, ID, &none), -EINVAL);
        ASSERT_INT(route_record_for_unit(UNIT, "192.0.2.1", 20000, "xyz", &none), -EINVAL);
        /* what readers would refuse is never written (route_record_check()) */
        ASSERT_INT(route_record_for_unit(UNIT, "host1.example", 20000, ID, &none), -EINVAL);
        ASSERT_INT(route_record_for_unit("hello_v0.web@1.service", "192.0.2.1", 20000, ID, &none), -EINVAL);
        ASSERT_TRUE(!none.app && !none.unit);
}

TEST(event_names) {
        ASSERT_STR(route_event_to_string(ROUTE_EVENT_ADDED), "route-added");
        ASSERT_STR(route_event_to_string(ROUTE_EVENT_REMOVED), "route-removed");
        ASSERT_TRUE(!route_event_to_string(ROUTE_EVENT_NONE));
        ASSERT_TRUE(!route_event_to_string(_ROUTE_EVENT_MAX));
        ASSERT_TRUE(!route_event_to_string((RouteEvent) -1));
}

/* An instance that is up: with a check (passing), and without one. */
static const RouteView checked_up = { .instance = true, .up = true, .checked = true, .health = HEALTH_PASSING };
static const RouteView unchecked_up = { .instance = true, .up = true };

TEST(wanted) {
        RouteView v = checked_up;

        ASSERT_TRUE(route_wanted(&v));
        ASSERT_TRUE(route_wanted(&unchecked_up));
        v.health = HEALTH_STARTING;
        ASSERT_TRUE(!route_wanted(&v));
        v.health = HEALTH_FAILING;
        ASSERT_TRUE(!route_wanted(&v));

        /* a check's result means nothing without one */
        v = unchecked_up;
        v.health = HEALTH_FAILING;
        ASSERT_TRUE(route_wanted(&v));

        v = checked_up;
        v.up = false;
        ASSERT_TRUE(!route_wanted(&v));
        v = checked_up;
        v.draining = true;
        ASSERT_TRUE(!route_wanted(&v));
        v = checked_up;
        v.instance = false;
        ASSERT_TRUE(!route_wanted(&v));
}

TEST(awaiting_check) {
        RouteView v = checked_up;

        v.health = HEALTH_STARTING;
        ASSERT_TRUE(route_awaiting_check(&v));
        /* without a check there is nothing to wait for, whatever the (unused) result says */
        v.checked = false;
        ASSERT_TRUE(!route_awaiting_check(&v));
        ASSERT_TRUE(!route_awaiting_check(&unchecked_up));

        v = checked_up;
        ASSERT_TRUE(!route_awaiting_check(&v));
        v.health = HEALTH_FAILING;
        ASSERT_TRUE(!route_awaiting_check(&v));
        v.health = HEALTH_STARTING;
        v.up = false;
        ASSERT_TRUE(!route_awaiting_check(&v));
        v.up = true;
        v.draining = true;
        ASSERT_TRUE(!route_awaiting_check(&v));
        v.draining = false;
        v.instance = false;
        ASSERT_TRUE(!route_awaiting_check(&v));
}

TEST(next_write) {
        RouteView v = checked_up;

        /* wanted: put unless known to be there under the current lease */
        ASSERT_INT(route_next_write(&v, ROUTE_ABSENT, false), ROUTE_WRITE_PUT);
        ASSERT_INT(route_next_write(&v, ROUTE_UNKNOWN, false), ROUTE_WRITE_PUT);
        ASSERT_INT(route_next_write(&v, ROUTE_PRESENT, false), ROUTE_WRITE_NONE);
        ASSERT_INT(route_next_write(&v, ROUTE_PRESENT, true), ROUTE_WRITE_PUT);

        /* not wanted: delete unless known to be absent */
        v.health = HEALTH_FAILING;
        ASSERT_INT(route_next_write(&v, ROUTE_PRESENT, false), ROUTE_WRITE_DELETE);
        ASSERT_INT(route_next_write(&v, ROUTE_PRESENT, true), ROUTE_WRITE_DELETE);
        ASSERT_INT(route_next_write(&v, ROUTE_UNKNOWN, false), ROUTE_WRITE_DELETE);
        ASSERT_INT(route_next_write(&v, ROUTE_ABSENT, false), ROUTE_WRITE_NONE);
        ASSERT_INT(route_next_write(&v, ROUTE_ABSENT, true), ROUTE_WRITE_NONE);

        /* fleetd restarted: a route a fleetd before published stays until the check says */
        v.health = HEALTH_STARTING;
        ASSERT_INT(route_next_write(&v, ROUTE_UNKNOWN, false), ROUTE_WRITE_NONE);
        ASSERT_INT(route_next_write(&v, ROUTE_PRESENT, false), ROUTE_WRITE_DELETE);
        v.draining = true;
        ASSERT_INT(route_next_write(&v, ROUTE_UNKNOWN, false), ROUTE_WRITE_DELETE);
        v = checked_up;
        v.health = HEALTH_STARTING;
        v.up = false;
        ASSERT_INT(route_next_write(&v, ROUTE_UNKNOWN, false), ROUTE_WRITE_DELETE);

        /* draining: the route goes before the unit stops */
        v = unchecked_up;
        v.draining = true;
        ASSERT_INT(route_next_write(&v, ROUTE_PRESENT, false), ROUTE_WRITE_DELETE);
        ASSERT_INT(route_next_write(&v, ROUTE_ABSENT, false), ROUTE_WRITE_NONE);

        /* not an instance (or no port, or not scheduled here): never a put */
        v = unchecked_up;
        v.instance = false;
        ASSERT_INT(route_next_write(&v, ROUTE_ABSENT, false), ROUTE_WRITE_NONE);
        ASSERT_INT(route_next_write(&v, ROUTE_PRESENT, false), ROUTE_WRITE_DELETE);
}

TEST(after_write) {
        RouteEvent e = _ROUTE_EVENT_MAX;

        ASSERT_INT(route_after_write(ROUTE_WRITE_PUT, ROUTE_ABSENT, 0, &e), ROUTE_PRESENT);
        ASSERT_INT(e, ROUTE_EVENT_ADDED);
        /* after a fleetd restart, the first put is reported: a hook may see an added route twice */
        ASSERT_INT(route_after_write(ROUTE_WRITE_PUT, ROUTE_UNKNOWN, 0, &e), ROUTE_PRESENT);
        ASSERT_INT(e, ROUTE_EVENT_ADDED);
        /* written again under a new lease: no change */
        ASSERT_INT(route_after_write(ROUTE_WRITE_PUT, ROUTE_PRESENT, 0, &e), ROUTE_PRESENT);
        ASSERT_INT(e, ROUTE_EVENT_NONE);

        ASSERT_INT(route_after_write(ROUTE_WRITE_DELETE, ROUTE_PRESENT, 1, &e), ROUTE_ABSENT);
        ASSERT_INT(e, ROUTE_EVENT_REMOVED);
        /* gone with an old lease already: still this agent's route that is no more */
        ASSERT_INT(route_after_write(ROUTE_WRITE_DELETE, ROUTE_PRESENT, 0, &e), ROUTE_ABSENT);
        ASSERT_INT(e, ROUTE_EVENT_REMOVED);
        /* unknown: reported only if there was one */
        ASSERT_INT(route_after_write(ROUTE_WRITE_DELETE, ROUTE_UNKNOWN, 1, &e), ROUTE_ABSENT);
        ASSERT_INT(e, ROUTE_EVENT_REMOVED);
        ASSERT_INT(route_after_write(ROUTE_WRITE_DELETE, ROUTE_UNKNOWN, 0, &e), ROUTE_ABSENT);
        ASSERT_INT(e, ROUTE_EVENT_NONE);
        ASSERT_INT(route_after_write(ROUTE_WRITE_DELETE, ROUTE_ABSENT, 0, &e), ROUTE_ABSENT);
        ASSERT_INT(e, ROUTE_EVENT_NONE);

        ASSERT_INT(route_after_write(ROUTE_WRITE_NONE, ROUTE_UNKNOWN, 0, &e), ROUTE_UNKNOWN);
        ASSERT_INT(e, ROUTE_EVENT_NONE);
}

/* A unit's life, as the agent walks it: every write the decisions ask for, acknowledged, gives
 * exactly one added and one removed event per time the instance was healthy. */
TEST(life_of_an_instance) {
        RouteStatus st = ROUTE_ABSENT;
        RouteView v = { .instance = true, .checked = true, .health = HEALTH_STARTING };
        unsigned added = 0, removed = 0;
        static const struct {
                bool up, draining;
                HealthState health;
        } steps[] = {
                { true, false, HEALTH_STARTING },
                { true, false, HEALTH_PASSING },       /* added */
                { true, false, HEALTH_PASSING },
                { true, false, HEALTH_FAILING },       /* removed */
                { true, false, HEALTH_PASSING },       /* added */
                { true, true, HEALTH_PASSING },        /* removed: about to stop */
                { false, true, HEALTH_STARTING },
                { false, false, HEALTH_STARTING },
        };

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                RouteEvent e;
                v.up = steps[i].up;
                v.draining = steps[i].draining;
                v.health = steps[i].health;
                RouteWrite w = route_next_write(&v, st, false);
                st = route_after_write(w, st, w == ROUTE_WRITE_DELETE, &e);
                added += e == ROUTE_EVENT_ADDED;
                removed += e == ROUTE_EVENT_REMOVED;
                ASSERT_INT(st == ROUTE_PRESENT, route_wanted(&v));
                ASSERT_INT(route_next_write(&v, st, false), ROUTE_WRITE_NONE);
        }
        ASSERT_INT(added, 2);
        ASSERT_INT(removed, 2);
}

TEST_MAIN(T(record_roundtrip),
          T(record_rejects_bad),
          T(record_for_unit),
          T(event_names),
          T(wanted),
          T(awaiting_check),
          T(next_write),
          T(after_write),
          T(life_of_an_instance));
