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

        static const char *bad[] = {
                "{\"name\":\"a.service\",\"machine\":\"" ID "\",\"port\":0}",
                "{\"name\":\"a.service\",\"machine\":\"" ID "\",\"port\":65536}",
                "{\"name\":\"a.service\",\"machine\":\"" ID "\",\"port\":\"80\"}",
                "{\"name\":\"a.service\",\"machine\":\"" ID "\",\"health\":1}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                StateRecord s = {};
                json_auto_t *b = json_loads(bad[i], 0, NULL);
                ASSERT_TRUE(b != NULL);
                ASSERT_INT(state_record_from_json(b, &s), -EBADMSG);
        }
}

TEST_MAIN(T(unit_records_roundtrip), T(state_record_port_health), T(unit_records_reject_bad), T(keys), T(machine_id_form), T(machine_record_roundtrip), T(machine_record_rejects_bad),
          T(machine_state_strings))
