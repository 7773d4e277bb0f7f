/* SPDX-License-Identifier: Apache-2.0 */
#include "basic/json-util.h"
#include "registry.h"
#include "../tests.h"

#define ID "0123456789abcdef0123456789abcdef"

TEST(keys) {
        _cleanup_free_ char *a = registry_key("/fleetd/", "machines", ID, NULL);
        _cleanup_free_ char *b = registry_key("/fleetd/", "machines/", NULL);
        _cleanup_free_ char *c = registry_key("/x/", "schedule", ID, "web.service", NULL);

        ASSERT_STR(a, "/fleetd/machines/" ID);
        ASSERT_STR(b, "/fleetd/machines/");
        ASSERT_STR(c, "/x/schedule/" ID "/web.service");
}

TEST(machine_id_form) {
        ASSERT_TRUE(machine_id_is_valid(ID));
        ASSERT_TRUE(!machine_id_is_valid("0123456789ABCDEF0123456789abcdef"));
        ASSERT_TRUE(!machine_id_is_valid("0123456789abcdef0123456789abcde"));
        ASSERT_TRUE(!machine_id_is_valid("0123456789abcdef0123456789abcdeg"));
        ASSERT_TRUE(!machine_id_is_valid(NULL));
}

TEST(machine_record_roundtrip) {
        MetadataPair md[] = { { (char *) "role", (char *) "web" }, { (char *) "zone", (char *) "a" } };
        MachineRecord in = {
                .id = ID, .hostname = (char *) "host1", .ip = (char *) "10.0.0.11",
                .metadata = md, .n_metadata = 2, .cpu_millis = 2000, .memory_bytes = 1 << 30,
                .state = MACHINE_DRAINING, .version = (char *) "0.1.0",
        };
        _cleanup_(machine_record_done) MachineRecord out = {};
        json_auto_t *j = machine_record_to_json(&in);
        _cleanup_free_ char *text = jx_dumps(j);

        ASSERT_STR(text, "{\"capacity\":{\"cpu\":2.0,\"memory\":1073741824},\"hostname\":\"host1\",\"id\":\"" ID
                         "\",\"ip\":\"10.0.0.11\",\"metadata\":{\"role\":\"web\",\"zone\":\"a\"},"
                         "\"state\":\"draining\",\"version\":\"0.1.0\"}");
        ASSERT_INT(machine_record_from_json(j, &out), 0);
        ASSERT_STR(out.id, ID);
        ASSERT_STR(out.hostname, "host1");
        ASSERT_STR(out.ip, "10.0.0.11");
        ASSERT_INT(out.n_metadata, 2);
        ASSERT_STR(out.metadata[1].value, "a");
        ASSERT_INT(out.cpu_millis, 2000);
        ASSERT_INT(out.memory_bytes, 1 << 30);
        ASSERT_INT(out.state, MACHINE_DRAINING);
}

TEST(machine_record_rejects_bad) {
        static const char *bad[] = {
                "[]",
                "{}",
                "{\"id\":\"xyz\"}",
                "{\"id\":\"" ID "\",\"ip\":5}",
                "{\"id\":\"" ID "\",\"metadata\":{\"a\":1}}",
                "{\"id\":\"" ID "\",\"state\":\"sleeping\"}",
                "{\"id\":\"" ID "\",\"capacity\":{\"cpu\":\"two\"}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                MachineRecord out = {};
                json_auto_t *j = json_loads(bad[i], 0, NULL);
                ASSERT_TRUE(j);
                ASSERT_INT(machine_record_from_json(j, &out), -EBADMSG);
        }
}

TEST(machine_state_strings) {
        ASSERT_STR(machine_state_to_string(MACHINE_ACTIVE), "active");
        ASSERT_INT(machine_state_from_string("draining"), MACHINE_DRAINING);
        ASSERT_INT(machine_state_from_string("x"), _MACHINE_STATE_INVALID);
        ASSERT_TRUE(machine_state_to_string(_MACHINE_STATE_MAX) == NULL);
}

TEST(unit_records_roundtrip) {
        UnitRecord u = { .name = (char *) "web@1.service", .contents = (char *) "[Service]\nExecStart=/bin/true\n",
                         .hash = (char *) "ab", .desired = UNIT_LAUNCHED };
        _cleanup_(unit_record_done) UnitRecord u2 = {};
        json_auto_t *j = unit_record_to_json(&u);

        ASSERT_INT(unit_record_from_json(j, &u2), 0);
        ASSERT_STR(u2.name, "web@1.service");
        ASSERT_STR(u2.contents, u.contents);
        ASSERT_INT(u2.desired, UNIT_LAUNCHED);
        ASSERT_TRUE(u2.app == NULL);
        ASSERT_STR(jx_str(j, "desiredState"), "launched");

        ScheduleRecord s = { .name = (char *) "a.service", .hash = (char *) "h", .contents = (char *) "c",
                             .desired = UNIT_LOADED };
        _cleanup_(schedule_record_done) ScheduleRecord s2 = {};
        json_auto_t *js = schedule_record_to_json(&s);
        ASSERT_INT(schedule_record_from_json(js, &s2), 0);
        ASSERT_STR(s2.contents, "c");
        ASSERT_INT(s2.desired, UNIT_LOADED);

        StateRecord st = { .name = (char *) "a.service", .machine = ID, .hash = (char *) "h",
                           .load = (char *) "loaded", .active = (char *) "active", .sub = (char *) "running",
                           .since_usec = 1700000000000000ULL };
        _cleanup_(state_record_done) StateRecord st2 = {};
        json_auto_t *jst = state_record_to_json(&st);
        ASSERT_INT(state_record_from_json(jst, &st2), 0);
        ASSERT_STR(st2.machine, ID);
        ASSERT_STR(st2.sub, "running");
        ASSERT_TRUE(st2.since_usec == 1700000000000000ULL);
}

TEST(unit_records_reject_bad) {
        static const char *bad_units[] = {
                "{\"name\":\"a.service\",\"hash\":\"h\",\"desiredState\":\"launched\"}",
                "{\"name\":\"a.service\",\"contents\":\"x\",\"hash\":\"h\",\"desiredState\":\"up\"}",
                "{\"name\":1,\"contents\":\"x\",\"hash\":\"h\",\"desiredState\":\"loaded\"}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_units); i++) {
                UnitRecord u = {};
                json_auto_t *j = json_loads(bad_units[i], 0, NULL);
                ASSERT_INT(unit_record_from_json(j, &u), -EBADMSG);
        }
        StateRecord st = {};
        json_auto_t *j = json_loads("{\"name\":\"a.service\",\"machine\":\"nope\"}", 0, NULL);
        ASSERT_INT(state_record_from_json(j, &st), -EBADMSG);
}

TEST(state_record_reason) {
        StateRecord st = { .name = (char *) "a.service", .machine = ID, .active = (char *) "failed",
                           .reason = (char *) "Error: initializing source docker://r:5000/a: connection refused" };
        _cleanup_(state_record_done) StateRecord out = {}, none = {};
        json_auto_t *j = state_record_to_json(&st);

        ASSERT_INT(state_record_from_json(j, &out), 0);
        ASSERT_STR(out.reason, st.reason);
        st.reason = NULL;
        json_auto_t *j2 = state_record_to_json(&st);
        ASSERT_TRUE(!json_object_get(j2, "reason"));
        ASSERT_INT(state_record_from_json(j2, &none), 0);
        ASSERT_TRUE(!none.reason);
}

TEST(state_record_port_health) {
        StateRecord st = { .name = (char *) "a.service", .machine = ID, .active = (char *) "active",
                           .since_usec = 1, .port = 20001, .health = (char *) "passing" };
        _cleanup_(state_record_done) StateRecord out = {};
        json_auto_t *j = state_record_to_json(&st);
        _cleanup_free_ char *text = jx_dumps(j);

        ASSERT_STR(text, "{\"active\":\"active\",\"health\":\"passing\",\"machine\":\"" ID
                         "\",\"name\":\"a.service\",\"port\":20001,\"since\":1}");
        ASSERT_INT(state_record_from_json(j, &out), 0);
        ASSERT_INT(out.port, 20001);
        ASSERT_STR(out.health, "passing");

        /* Without them: no keys at all, and zero / NULL when read back. */
        StateRecord bare = { .name = (char *) "b.service", .machine = ID };
        _cleanup_(state_record_done) StateRecord out2 = {};
        json_auto_t *j2 = state_record_to_json(&bare);
        ASSERT_TRUE(json_object_get(j2, "port") == NULL);
        ASSERT_TRUE(json_object_get(j2, "health") == NULL);
        ASSERT_INT(state_record_from_json(j2, &out2), 0);
        ASSERT_INT(out2.port, 0);
        ASSERT_TRUE(out2.health == NULL);
        ASSERT_TRUE(out2.error == NULL);
        ASSERT_TRUE(json_object_get(j2, "error") == NULL);

        /* An agent that could not write the unit's file says why. */
        StateRecord failed = { .name = (char *) "c.service", .machine = ID,
                               .error = (char *) "Failed to write the unit file: No space left on device" };
        _cleanup_(state_record_done) StateRecord out3 = {};
        json_auto_t *j3 = state_record_to_json(&failed);
        ASSERT_INT(state_record_from_json(j3, &out3), 0);
        ASSERT_STR(out3.error, "Failed to write the unit file: No space left on device");

        static const char *bad[] = {
                "{\"name\":\"a.service\",\"machine\":\"" ID "\",\"port\":0}",
                "{\"name\":\"a.service\",\"machine\":\"" ID "\",\"port\":65536}",
                "{\"name\":\"a.service\",\"machine\":\"" ID "\",\"port\":\"80\"}",
                "{\"name\":\"a.service\",\"machine\":\"" ID "\",\"health\":1}",
                "{\"name\":\"a.service\",\"machine\":\"" ID "\",\"error\":false}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                StateRecord s = {};
                json_auto_t *b = json_loads(bad[i], 0, NULL);
                ASSERT_TRUE(b != NULL);
                ASSERT_INT(state_record_from_json(b, &s), -EBADMSG);
        }
}

/* --- route records: the one set of rules for fleetd, hooks and fleet-router --- */

#define UNIT "hello_v3.web@7.service"
/* A record's JSON text from its fields' JSON texts (agents write all seven). */
#define ROUTE(app, unit, host, port, release, process, machine)                                               \
        "{\"app\":" app ",\"unit\":" unit ",\"host\":" host ",\"port\":" port ",\"release\":" release          \
        ",\"process\":" process ",\"machine\":" machine "}"
#define GOOD_ROUTE ROUTE("\"hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", "80", "3", "\"web\"", "\"" ID "\"")

TEST(route_record_accepts) {
        static const struct {
                const char *json, *host, *process;
                unsigned port, release;
        } cases[] = {
                { GOOD_ROUTE, "10.0.0.1", "web", 80, 3 },
                /* the host is kept as written (fleet-router renders its canonical form) */
                { ROUTE("\"hello\"", "\"" UNIT "\"", "\"2001:DB8::1\"", "1", "3", "\"web\"", "\"" ID "\""),
                  "2001:DB8::1", "web", 1, 3 },
                { ROUTE("\"a\"", "\"a_v4294967295.admin-ui@1.service\"", "\"::1\"", "65535", "4294967295",
                        "\"admin-ui\"", "\"" ID "\""),
                  "::1", "admin-ui", 65535, 4294967295u },
                /* fields fleetd does not know are ignored */
                { "{\"app\":\"hello\",\"unit\":\"" UNIT "\",\"host\":\"192.0.2.1\",\"port\":20001,\"release\":3,"
                  "\"process\":\"web\",\"machine\":\"" ID "\",\"since\":17,\"zone\":\"a\"}",
                  "192.0.2.1", "web", 20001, 3 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(route_record_done) RouteRecord r = {};
                _cleanup_free_ char *error = NULL;
                json_auto_t *j = json_loads(cases[i].json, 0, NULL);

                ASSERT_TRUE(j);
                if (route_record_from_json(j, &r, &error) < 0) {
                        fprintf(stderr, "case %zu refused: %s\n", i, strna(error));
                        ASSERT_TRUE(false);
                }
                ASSERT_STR(r.host, cases[i].host);
                ASSERT_STR(r.process, cases[i].process);
                ASSERT_INT(r.port, cases[i].port);
                ASSERT_INT(r.release, cases[i].release);
                ASSERT_STR(r.machine, ID);
                ASSERT_TRUE(!error);
                ASSERT_INT(route_record_check(&r, NULL), 0);
        }
}

/* One case per rule; each says which field is wrong. */
TEST(route_record_refuses) {
#define HOST(h) ROUTE("\"hello\"", "\"" UNIT "\"", h, "80", "3", "\"web\"", "\"" ID "\"")
#define PORT(p) ROUTE("\"hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", p, "3", "\"web\"", "\"" ID "\"")
#define RELEASE(n) ROUTE("\"hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", "80", n, "\"web\"", "\"" ID "\"")
        static const struct {
                const char *json, *why;
        } cases[] = {
                { "[]", "JSON object" },
                { "\"x\"", "JSON object" },
                { "{}", "\"app\" is missing" },
                /* the short form that only names host and port */
                { "{\"host\":\"10.0.0.1\",\"port\":80}", "\"app\" is missing" },
                { ROUTE("1", "\"" UNIT "\"", "\"10.0.0.1\"", "80", "3", "\"web\"", "\"" ID "\""), "\"app\"" },
                { ROUTE("\"Hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", "80", "3", "\"web\"", "\"" ID "\""), "\"app\"" },
                { ROUTE("\"hello\"", "null", "\"10.0.0.1\"", "80", "3", "\"web\"", "\"" ID "\""), "\"unit\"" },
                { ROUTE("\"hello\"", "\"web.service\"", "\"10.0.0.1\"", "80", "3", "\"web\"", "\"" ID "\""),
                  "\"unit\"" },
                { ROUTE("\"hello\"", "\"hello_v3.web@0.service\"", "\"10.0.0.1\"", "80", "3", "\"web\"", "\"" ID "\""),
                  "\"unit\"" },
                { HOST("\"\""), "\"host\"" },
                { HOST("null"), "\"host\"" },
                { HOST("5"), "\"host\"" },
                { HOST("\"localhost\""), "\"host\"" },
                { HOST("\"10.0.0.1:80\""), "\"host\"" },
                { HOST("\"[::1]\""), "\"host\"" },
                { HOST("\"10.0.0.1; }\""), "\"host\"" },
                { HOST("\" 10.0.0.1\""), "\"host\"" },
                { HOST("\"10.0.0.256\""), "\"host\"" },
                { PORT("0"), "\"port\"" },
                { PORT("65536"), "\"port\"" },
                { PORT("-1"), "\"port\"" },
                { PORT("\"80\""), "\"port\"" },
                { PORT("80.0"), "\"port\"" },
                { RELEASE("0"), "\"release\"" },
                { RELEASE("-3"), "\"release\"" },
                { RELEASE("4294967296"), "\"release\"" },
                { RELEASE("\"3\""), "\"release\"" },
                { ROUTE("\"hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", "80", "3", "null", "\"" ID "\""), "\"process\"" },
                { ROUTE("\"hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", "80", "3", "\"We b\"", "\"" ID "\""),
                  "\"process\"" },
                { ROUTE("\"hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", "80", "3", "\"web\"", "\"xyz\""), "\"machine\"" },
                { ROUTE("\"hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", "80", "3", "\"web\"", "null"), "\"machine\"" },
                /* the unit must be an instance of that app, release and process */
                { ROUTE("\"other\"", "\"" UNIT "\"", "\"10.0.0.1\"", "80", "3", "\"web\"", "\"" ID "\""),
                  "belongs to app 'hello'" },
                { RELEASE("4"), "of release 3" },
                { ROUTE("\"hello\"", "\"" UNIT "\"", "\"10.0.0.1\"", "80", "3", "\"worker\"", "\"" ID "\""),
                  "of process 'web'" },
        };
#undef HOST
#undef PORT
#undef RELEASE

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                RouteRecord r = { .port = 9 };
                _cleanup_free_ char *error = NULL;
                json_auto_t *j = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);

                ASSERT_TRUE(j);
                if (route_record_from_json(j, &r, &error) != -EBADMSG) {
                        fprintf(stderr, "case %zu accepted: %s\n", i, cases[i].json);
                        ASSERT_TRUE(false);
                }
                ASSERT_CONTAINS(error, cases[i].why);
                ASSERT_INT(r.port, 9);        /* untouched */
                ASSERT_INT(route_record_from_json(j, &r, NULL), -EBADMSG);
        }
}

/* What fleetd writes is what it reads back, and a record built in C is checked by the same rules. */
TEST(route_record_roundtrip_and_check) {
        RouteRecord in = {
                .app = (char *) "hello", .unit = (char *) UNIT, .host = (char *) "10.0.0.11", .port = 20001,
                .release = 3, .process = (char *) "web", .machine = ID,
        };
        _cleanup_(route_record_done) RouteRecord out = {};
        json_auto_t *j = route_record_to_json(&in);
        _cleanup_free_ char *error = NULL;
        RouteRecord bad;

        ASSERT_INT(route_record_from_json(j, &out, NULL), 0);
        ASSERT_STR(out.unit, UNIT);
        ASSERT_INT(route_record_check(&in, NULL), 0);

        bad = in;
        bad.host = NULL;
        ASSERT_INT(route_record_check(&bad, &error), -EBADMSG);
        ASSERT_CONTAINS(error, "\"host\"");
        bad = in;
        bad.port = 0;
        ASSERT_INT(route_record_check(&bad, NULL), -EBADMSG);
        bad = in;
        bad.release = 7;
        ASSERT_INT(route_record_check(&bad, NULL), -EBADMSG);
        bad = in;
        bad.machine[0] = 0;
        ASSERT_INT(route_record_check(&bad, NULL), -EBADMSG);
        bad = in;
        bad.app = NULL;
        ASSERT_INT(route_record_check(&bad, NULL), -EBADMSG);
}

/* routes/<app>/<unit> = value: the key and the text, then the record. */
TEST(route_record_parse_key_and_text) {
        static const struct {
                const char *name, *value, *why;
        } bad[] = {
                { "hello", GOOD_ROUTE, "routes/<app>/<unit>" },
                { NULL, GOOD_ROUTE, "routes/<app>/<unit>" },
                { "Hello/" UNIT, GOOD_ROUTE, "app name in the key" },
                { "/" UNIT, GOOD_ROUTE, "app name in the key" },
                { "hello/", GOOD_ROUTE, "unit name in the key" },
                { "hello/" UNIT "/x", GOOD_ROUTE, "unit name in the key" },
                { "hello/a b.service", GOOD_ROUTE, "unit name in the key" },
                { "other/" UNIT, GOOD_ROUTE, "its \"app\" does not match the key's 'other'" },
                { "hello/hello_v3.web@8.service", GOOD_ROUTE, "its \"unit\" does not match" },
                { "hello/" UNIT, NULL, "missing or longer" },
                { "hello/" UNIT, "", "not a JSON object" },
                { "hello/" UNIT, "not json", "not a JSON object" },
                { "hello/" UNIT, "[1]", "not a JSON object" },
                { "hello/" UNIT, "{\"app\":\"hello\",\"app\":\"hello\"}", "not a JSON object" },
                { "hello/" UNIT, "{\"host\":\"10.0.0.1\",\"port\":80}", "\"app\" is missing" },
        };
        _cleanup_(route_record_done) RouteRecord ok = {};
        _cleanup_free_ char *huge = malloc(ROUTE_RECORD_VALUE_MAX + 2);

        ASSERT_INT(route_record_parse("hello/" UNIT, GOOD_ROUTE, &ok, NULL), 0);
        ASSERT_STR(ok.app, "hello");
        ASSERT_STR(ok.unit, UNIT);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                RouteRecord r = {};
                _cleanup_free_ char *error = NULL;

                if (route_record_parse(bad[i].name, bad[i].value, &r, &error) != -EBADMSG) {
                        fprintf(stderr, "case %zu accepted\n", i);
                        ASSERT_TRUE(false);
                }
                ASSERT_CONTAINS(error, bad[i].why);
        }

        /* the record, then spaces up to one byte past the limit */
        ASSERT_TRUE(huge);
        memset(huge, ' ', ROUTE_RECORD_VALUE_MAX + 1);
        memcpy(huge, GOOD_ROUTE, strlen(GOOD_ROUTE));
        huge[ROUTE_RECORD_VALUE_MAX + 1] = 0;
        RouteRecord r = {};
        ASSERT_INT(route_record_parse("hello/" UNIT, huge, &r, NULL), -EBADMSG);
        huge[ROUTE_RECORD_VALUE_MAX] = 0;
        ASSERT_INT(route_record_parse("hello/" UNIT, huge, &r, NULL), 0);
        route_record_done(&r);
}

TEST_MAIN(T(unit_records_roundtrip), T(state_record_port_health), T(state_record_reason), T(unit_records_reject_bad), T(keys), T(machine_id_form), T(machine_record_roundtrip), T(machine_record_rejects_bad),
          T(machine_state_strings), T(route_record_accepts), T(route_record_refuses),
          T(route_record_roundtrip_and_check), T(route_record_parse_key_and_text))
