/* SPDX-License-Identifier: Apache-2.0 */
/* fleet's API v1 model (src/shared/fleet-schema.h): options <-> unit files, fleet's text and
 * hash, page tokens and page bounds, currentState, and the entities and pages rendered from a
 * snapshot of records; SHA-1 (src/basic/sha1.h) with FIPS 180's examples. */
#include <stdio.h>

#include "basic/sha1.h"
#include "fleet-schema.h"
#include "../tests.h"


#define MACHINE_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define MACHINE_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Compact JSON text with keys in the order they were set, as the API sends them. */
static char *dump(const json_t *j) {
        return j ? json_dumps(j, JSON_COMPACT) : NULL;
}

#define ASSERT_JSON(j, text)                                                                     \
        do {                                                                                     \
                _cleanup_free_ char *_d = dump(j);                                               \
                ASSERT_STR(_d, text);                                                            \
        } while (0)

static UnitFile *parse(const char *text) {
        UnitFile *uf = NULL;

        return unit_file_parse(text, strlen(text), "t.service", &uf, NULL) < 0 ? NULL : uf;
}

/* ---- SHA-1 ---- */

TEST(sha1_fips) {
        static const char m448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        char h[SHA1_HEX_SIZE];

        sha1_hex("abc", 3, h);
        ASSERT_STR(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
        sha1_hex("", 0, h);
        ASSERT_STR(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        sha1_hex(NULL, 0, h);
        ASSERT_STR(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        sha1_hex(m448, strlen(m448), h);
        ASSERT_STR(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

TEST(sha1_lengths) {
        /* around the padding: 55 bytes leave room for the length in the last block, 56 do not */
        static const struct {
                size_t len;
                const char *hex;
        } cases[] = {
                { 55, "cef734ba81a024479e09eb5a75b6ddae62e6abf1" },
                { 56, "901305367c259952f4e7af8323f480d59f81335b" },
                { 64, "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163" },
                { 119, "4300320394f7ee239bcdce7d3b8bcee173a0cd5c" },
        };
        char buf[128], h[SHA1_HEX_SIZE];

        memset(buf, 'x', sizeof(buf));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                sha1_hex(buf, cases[i].len, h);
                ASSERT_STR(h, cases[i].hex);
        }
}

TEST(sha1_million_a) {
        _cleanup_free_ char *m = malloc(1000000);
        char h[SHA1_HEX_SIZE];

        ASSERT_TRUE(m);
        memset(m, 'a', 1000000);
        sha1_hex(m, 1000000, h);
        ASSERT_STR(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

/* ---- options ---- */

static const char interleaved[] =
        "# a comment\n"
        "[Unit]\n"
        "Description=hello\n"
        "\n"
        "[Service]\n"
        "ExecStart=/bin/sleep \\\n"
        "   1d\n"
        "Environment=\n"
        "; another comment\n"
        "[Unit]\n"
        "After = a.service\n"
        "[X-Fleet]\n"
        "Global=true\n";

TEST(options_from_unit_file) {
        _cleanup_(unit_file_freep) UnitFile *uf = parse(interleaved);
        json_auto_t *o = NULL;

        ASSERT_TRUE(uf);
        o = fleet_options_from_unit_file(uf);
        /* file order, continuation joined as systemd does, comments gone, an empty value left out */
        ASSERT_JSON(o, "[{\"name\":\"Description\",\"section\":\"Unit\",\"value\":\"hello\"},"
                       "{\"name\":\"ExecStart\",\"section\":\"Service\",\"value\":\"/bin/sleep     1d\"},"
                       "{\"name\":\"Environment\",\"section\":\"Service\"},"
                       "{\"name\":\"After\",\"section\":\"Unit\",\"value\":\"a.service\"},"
                       "{\"name\":\"Global\",\"section\":\"X-Fleet\",\"value\":\"true\"}]");
}

TEST(serialize_and_hash) {
        _cleanup_(unit_file_freep) UnitFile *uf = parse(interleaved), *empty = NULL;
        _cleanup_free_ char *text = NULL, *none = NULL;
        char h[SHA1_HEX_SIZE];

        ASSERT_TRUE(uf);
        /* go-systemd's Serialize: grouped by section in first-appearance order */
        ASSERT_INT(fleet_unit_file_serialize(uf, &text), 0);
        ASSERT_STR(text, "[Unit]\nDescription=hello\nAfter=a.service\n\n"
                         "[Service]\nExecStart=/bin/sleep     1d\nEnvironment=\n\n"
                         "[X-Fleet]\nGlobal=true\n");
        ASSERT_INT(fleet_unit_file_hash(uf, h), 0);
        ASSERT_STR(h, "4e2cd6cfdedd6f8eaf046dcbbaaa37ef60120be2");

        /* a section without options is no part of fleet's text */
        empty = parse("[Unit]\n# nothing\n");
        ASSERT_TRUE(empty);
        ASSERT_INT(fleet_unit_file_serialize(empty, &none), 0);
        ASSERT_STR(none, "");
}

TEST(options_to_unit_file) {
        json_auto_t *o = json_loads("[{\"section\":\"Unit\",\"name\":\"Description\",\"value\":\"x y\"},"
                                    "{\"section\":\"Service\",\"name\":\"ExecStart\",\"value\":\"/bin/true\"},"
                                    "{\"section\":\"Unit\",\"name\":\"After\",\"value\":\"b.service\"},"
                                    "{\"section\":\"Service\",\"name\":\"Environment\"}]",
                                    0, NULL);
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        _cleanup_free_ char *text = NULL, *fleet = NULL, *err = NULL;
        json_auto_t *back = NULL;

        ASSERT_INT(fleet_options_to_unit_file(o, &uf, &err), 0);
        ASSERT_INT(unit_file_print(uf, &text), 0);
        ASSERT_STR(text, "[Unit]\nDescription=x y\nAfter=b.service\n\n[Service]\nExecStart=/bin/true\nEnvironment=\n");
        /* the file is fleet's own text of these options */
        ASSERT_INT(fleet_unit_file_serialize(uf, &fleet), 0);
        ASSERT_STR(fleet, text);
        /* and gives the same options back, grouped as fleet groups them */
        back = fleet_options_from_unit_file(uf);
        ASSERT_STR(json_string_value(json_object_get(json_array_get(back, 1), "name")), "After");
        ASSERT_INT(json_array_size(back), 4);
}

/* Each refusal names the field that is in the way. */
TEST(options_refused) {
        static const struct {
                const char *json;
                const char *error;
        } cases[] = {
                { "{}", "options: must be an array" },
                { "[\"x\"]", "options[0]: must be an object" },
                { "[{\"section\":\"Unit\",\"name\":\"A\",\"value\":\"1\"},{\"section\":3}]",
                  "options[1].section: must be a string" },
                { "[{\"section\":\"Unit\",\"name\":\"A\",\"value\":true}]", "options[0].value: must be a string" },
                { "[{\"section\":\"\",\"name\":\"A\",\"value\":\"1\"}]", "options[0].section: '' is not a valid" },
                { "[{\"section\":\"a]b\",\"name\":\"A\",\"value\":\"1\"}]", "options[0].section: 'a]b'" },
                { "[{\"section\":\"Unit\",\"value\":\"1\"}]", "options[0].name: '' is not a valid option name" },
                { "[{\"section\":\"Unit\",\"name\":\"A B\",\"value\":\"1\"}]", "options[0].name: 'A B'" },
                { "[{\"section\":\"Unit\",\"name\":\"A\",\"value\":\"1\\n2\"}]", "options[0].value: must be one line" },
                { "[{\"section\":\"Unit\",\"name\":\"A\",\"value\":\" 1\"}]",
                  "options[0].value: must not start or end with blanks" },
                { "[{\"section\":\"Unit\",\"name\":\"A\",\"value\":\"1\\\\\"}]",
                  "options[0].value: must not end in a backslash" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_auto_t *o = json_loads(cases[i].json, 0, NULL);
                _cleanup_(unit_file_freep) UnitFile *uf = NULL;
                _cleanup_free_ char *err = NULL;

                ASSERT_TRUE(o);
                ASSERT_INT(fleet_options_to_unit_file(o, &uf, &err), -EINVAL);
                ASSERT_CONTAINS(err, cases[i].error);
                ASSERT_TRUE(!uf);
        }
}

TEST(options_escaped_backslash) {
        /* an even number of backslashes ends the value, as in systemd */
        json_auto_t *o = json_loads("[{\"section\":\"Service\",\"name\":\"ExecStart\",\"value\":\"/bin/echo a\\\\\\\\\"}]",
                                    0, NULL);
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        _cleanup_free_ char *err = NULL;

        ASSERT_INT(fleet_options_to_unit_file(o, &uf, &err), 0);
        ASSERT_STR(unit_file_get(uf, "Service", "ExecStart"), "/bin/echo a\\\\");
}

/* ---- paging ---- */

TEST(page_tokens) {
        static const struct {
                uint16_t page;
                const char *token;
        } cases[] = {
                { 1, "ZAABAA==" }, { 2, "ZAACAA==" }, { 0x1234, "ZAA0Eg==" }, { 0xfbff, "ZAD_-w==" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *t = NULL, *err = NULL;
                uint16_t page = 0;

                ASSERT_INT(fleet_page_token_encode(cases[i].page, &t), 0);
                ASSERT_STR(t, cases[i].token);
                ASSERT_INT(fleet_page_token_decode(t, &page, &err), 0);
                ASSERT_INT(page, cases[i].page);
        }
}

TEST(page_tokens_refused) {
        static const struct {
                const char *token;
                const char *error;
        } cases[] = {
                { "", "nextPageToken: too short" },
                { "ZAACAA", "nextPageToken: not URL-safe base64" },        /* Go insists on the padding */
                { "ZAD/+w==", "nextPageToken: not URL-safe base64" },      /* standard alphabet */
                { "ZA*CAA==", "nextPageToken: not URL-safe base64" },
                { "ZAA=", "nextPageToken: too short" },
                { "MgACAA==", "nextPageToken: token limit must be 100" },  /* limit 50 */
                { "ZAAAAA==", "nextPageToken: token page must be greater than zero" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *err = NULL;
                uint16_t page = 7;

                ASSERT_INT(fleet_page_token_decode(cases[i].token, &page, &err), -EINVAL);
                ASSERT_CONTAINS(err, cases[i].error);
                ASSERT_INT(page, 7);
        }

        /* bytes after the four are ignored, as Go's binary.Read leaves them */
        _cleanup_free_ char *err = NULL;
        uint16_t page;
        ASSERT_INT(fleet_page_token_decode("ZAACAAcA", &page, &err), 0);
        ASSERT_INT(page, 2);
}

TEST(page_bounds) {
        static const struct {
                size_t total;
                uint16_t page;
                size_t start, end;
                bool next;
        } cases[] = {
                { 0, 1, 0, 0, false },
                { 99, 1, 0, 99, false },
                { 100, 1, 0, 100, true },   /* a full page has a token, even with nothing after it */
                { 100, 2, 100, 100, false },
                { 150, 1, 0, 100, true },
                { 150, 2, 100, 150, false },
                { 200, 2, 100, 200, true },
                { 200, 3, 200, 200, false },
                { 150, 9, 150, 150, false }, /* past the end */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t start = 7, end = 7;
                bool next = !cases[i].next;

                fleet_page_bounds(cases[i].total, cases[i].page, &start, &end, &next);
                ASSERT_INT(start, cases[i].start);
                ASSERT_INT(end, cases[i].end);
                ASSERT_INT(next, cases[i].next);
        }
}

/* ---- entities ---- */

TEST(current_state) {
        StateRecord s = { .active = (char *) "active" };

        ASSERT_STR(fleet_current_state(NULL, NULL, UNIT_LAUNCHED), "inactive");
        ASSERT_STR(fleet_current_state(MACHINE_A, NULL, UNIT_LAUNCHED), "inactive");
        ASSERT_STR(fleet_current_state(MACHINE_A, &s, UNIT_LAUNCHED), "launched");
        /* still stopping after a stop: launched until systemd says otherwise */
        ASSERT_STR(fleet_current_state(MACHINE_A, &s, UNIT_LOADED), "launched");
        s.active = (char *) "activating";
        ASSERT_STR(fleet_current_state(MACHINE_A, &s, UNIT_LAUNCHED), "launched");
        s.active = (char *) "inactive";
        ASSERT_STR(fleet_current_state(MACHINE_A, &s, UNIT_LAUNCHED), "loaded");
        ASSERT_STR(fleet_current_state(MACHINE_A, &s, UNIT_LOADED), "loaded");
        s.active = (char *) "failed";
        ASSERT_STR(fleet_current_state(MACHINE_A, &s, UNIT_LAUNCHED), "launched");
        ASSERT_STR(fleet_current_state(MACHINE_A, &s, UNIT_LOADED), "loaded");
        s.active = NULL;
        ASSERT_STR(fleet_current_state(MACHINE_A, &s, UNIT_LOADED), "loaded");
}

TEST(entities) {
        StateRecord s = { .name = (char *) "a.service", .machine = MACHINE_A, .hash = (char *) "h",
                          .load = (char *) "loaded", .active = (char *) "active", .sub = (char *) "running" };
        StateRecord bare = { .name = (char *) "a.service", .machine = MACHINE_A };
        MetadataPair md[] = { { (char *) "role", (char *) "web" } };
        MachineRecord m = { .id = MACHINE_A, .ip = (char *) "10.0.0.1", .metadata = md, .n_metadata = 1 };
        MachineRecord plain = { .id = MACHINE_B };
        json_auto_t *j1 = fleet_state_json(&s, NULL), *j2 = fleet_state_json(&s, "f1"), *j3 = fleet_state_json(&bare, NULL);
        json_auto_t *m1 = fleet_machine_json(&m), *m2 = fleet_machine_json(&plain);
        json_auto_t *e = fleet_error_json(404, "unit does not exist");

        ASSERT_JSON(j1, "{\"hash\":\"h\",\"machineID\":\"" MACHINE_A "\",\"name\":\"a.service\","
                        "\"systemdActiveState\":\"active\",\"systemdLoadState\":\"loaded\",\"systemdSubState\":\"running\"}");
        ASSERT_STR(json_string_value(json_object_get(j2, "hash")), "f1");
        ASSERT_JSON(j3, "{\"machineID\":\"" MACHINE_A "\",\"name\":\"a.service\"}");
        /* no load state reported: loaded if systemd has it in an active state */
        s.load = NULL;
        json_auto_t *j4 = fleet_state_json(&s, NULL);
        ASSERT_STR(json_string_value(json_object_get(j4, "systemdLoadState")), "loaded");
        s.active = (char *) "inactive";
        json_auto_t *j5 = fleet_state_json(&s, NULL);
        ASSERT_TRUE(!json_object_get(j5, "systemdLoadState"));
        ASSERT_JSON(m1, "{\"id\":\"" MACHINE_A "\",\"metadata\":{\"role\":\"web\"},\"primaryIP\":\"10.0.0.1\"}");
        ASSERT_JSON(m2, "{\"id\":\"" MACHINE_B "\"}");
        ASSERT_JSON(e, "{\"error\":{\"code\":404,\"message\":\"unit does not exist\"}}");
}

TEST(discovery) {
        json_auto_t *d = json_loads(fleet_discovery_json, 0, NULL);
        json_t *res = json_object_get(d, "resources");

        ASSERT_TRUE(d);
        ASSERT_STR(json_string_value(json_object_get(d, "id")), "fleet:v1");
        ASSERT_STR(json_string_value(json_object_get(d, "servicePath")), "fleet/v1/");
        ASSERT_STR(json_string_value(json_object_get(json_object_get(json_object_get(json_object_get(res, "Units"),
                                                                                     "methods"), "Set"), "httpMethod")),
                   "PUT");
        ASSERT_STR(json_string_value(json_object_get(json_object_get(json_object_get(json_object_get(res, "UnitState"),
                                                                                     "methods"), "Get"), "path")),
                   "state/{unitName}");
        ASSERT_TRUE(json_object_get(json_object_get(json_object_get(d, "schemas"), "Unit"), "properties"));
        ASSERT_TRUE(json_object_get(json_object_get(json_object_get(res, "Machines"), "methods"), "List"));
}

/* ---- snapshots ---- */

static char *unit_value(const char *name, const char *contents, const char *desired) {
        char hash[SHA256_HEX_SIZE];
        json_auto_t *j = NULL;

        sha256_hex(contents, strlen(contents), hash);
        j = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "contents", contents, "hash", hash, "desiredState", desired);
        return dump(j);
}

static char *state_value(const char *name, const char *machine, const char *contents, const char *active) {
        char hash[SHA256_HEX_SIZE];
        json_auto_t *j = NULL;

        sha256_hex(contents, strlen(contents), hash);
        j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", name, "machine", machine, "hash", hash, "load",
                      "loaded", "active", active, "sub", streq(active, "active") ? "running" : "dead");
        return dump(j);
}

static const char web[] = "[Service]\nExecStart=/bin/sleep 1d\n";
static const char global[] = "[Service]\nExecStart=/bin/true\n\n[X-Fleet]\nGlobal=true\n";

static FleetSnapshot *sample(void) {
        FleetSnapshot *s = NULL;
        _cleanup_free_ char *u1 = unit_value("a.service", web, "launched"), *u2 = unit_value("b.service", web, "loaded"),
                            *u3 = unit_value("g.service", global, "launched"), *u4 = unit_value("idle.service", web, "inactive"),
                            *s1 = state_value("a.service", MACHINE_A, web, "active"),
                            *s2 = state_value("b.service", MACHINE_B, "[Service]\nExecStart=/bin/old\n", "inactive"),
                            *s3 = state_value("g.service", MACHINE_A, global, "active"),
                            *s4 = state_value("g.service", MACHINE_B, global, "active");

        if (fleet_snapshot_new(&s) < 0)
                return NULL;
        if (fleet_snapshot_add_unit(s, u1) < 0 || fleet_snapshot_add_unit(s, u2) < 0 ||
            fleet_snapshot_add_unit(s, "not json") < 0 || fleet_snapshot_add_unit(s, u3) < 0 ||
            fleet_snapshot_add_unit(s, u4) < 0 ||
            fleet_snapshot_add_schedule(s, MACHINE_A "/a.service") < 0 ||
            fleet_snapshot_add_schedule(s, MACHINE_B "/b.service") < 0 ||
            fleet_snapshot_add_schedule(s, MACHINE_A "/g.service") < 0 ||
            fleet_snapshot_add_schedule(s, MACHINE_B "/g.service") < 0 ||
            fleet_snapshot_add_schedule(s, "short/x.service") < 0 ||
            fleet_snapshot_add_state(s, s1) < 0 || fleet_snapshot_add_state(s, s2) < 0 ||
            fleet_snapshot_add_state(s, s3) < 0 || fleet_snapshot_add_state(s, s4) < 0)
                return fleet_snapshot_free(s);
        return s;
}

TEST(snapshot_units) {
        _cleanup_(fleet_snapshot_freep) FleetSnapshot *s = sample();
        json_auto_t *page = NULL, *one = NULL, *g = NULL, *idle = NULL;

        ASSERT_TRUE(s);
        ASSERT_INT(fleet_snapshot_units_page(s, 1, &page), 0);
        ASSERT_INT(json_array_size(json_object_get(page, "units")), 4);
        ASSERT_TRUE(!json_object_get(page, "nextPageToken"));

        ASSERT_INT(fleet_snapshot_unit(s, "a.service", &one), 0);
        ASSERT_JSON(one, "{\"currentState\":\"launched\",\"desiredState\":\"launched\",\"machineID\":\"" MACHINE_A "\","
                         "\"name\":\"a.service\",\"options\":[{\"name\":\"ExecStart\",\"section\":\"Service\","
                         "\"value\":\"/bin/sleep 1d\"}]}");
        /* global: no machine, no currentState (fleet's clients look at desiredState) */
        ASSERT_INT(fleet_snapshot_unit(s, "g.service", &g), 0);
        ASSERT_TRUE(!json_object_get(g, "machineID") && !json_object_get(g, "currentState"));
        /* not scheduled: inactive, no machine */
        ASSERT_INT(fleet_snapshot_unit(s, "idle.service", &idle), 0);
        ASSERT_STR(json_string_value(json_object_get(idle, "currentState")), "inactive");
        ASSERT_TRUE(!json_object_get(idle, "machineID"));
        ASSERT_INT(fleet_snapshot_unit(s, "nope.service", &one), -ENOENT);
}

TEST(snapshot_states) {
        _cleanup_(fleet_snapshot_freep) FleetSnapshot *s = sample();
        _cleanup_(unit_file_freep) UnitFile *uf = parse(web);
        json_auto_t *all = NULL, *by_machine = NULL, *by_unit = NULL, *none = NULL, *one = NULL;
        char fleet_hash[SHA1_HEX_SIZE], old[SHA256_HEX_SIZE];

        ASSERT_TRUE(s && uf);
        ASSERT_INT(fleet_unit_file_hash(uf, fleet_hash), 0);
        sha256_hex("[Service]\nExecStart=/bin/old\n", strlen("[Service]\nExecStart=/bin/old\n"), old);

        ASSERT_INT(fleet_snapshot_states_page(s, NULL, NULL, 1, &all), 0);
        ASSERT_INT(json_array_size(json_object_get(all, "states")), 4);
        /* the state of the current contents has fleet's hash; an older one keeps fleetd's */
        ASSERT_STR(json_string_value(json_object_get(json_array_get(json_object_get(all, "states"), 0), "hash")),
                   fleet_hash);
        ASSERT_STR(json_string_value(json_object_get(json_array_get(json_object_get(all, "states"), 1), "hash")), old);

        ASSERT_INT(fleet_snapshot_states_page(s, MACHINE_B, NULL, 1, &by_machine), 0);
        ASSERT_INT(json_array_size(json_object_get(by_machine, "states")), 2);
        ASSERT_INT(fleet_snapshot_states_page(s, MACHINE_B, "g.service", 1, &by_unit), 0);
        ASSERT_INT(json_array_size(json_object_get(by_unit, "states")), 1);
        /* an empty page is {} (fleet leaves empty lists out) */
        ASSERT_INT(fleet_snapshot_states_page(s, "bbbb", NULL, 1, &none), 0);
        ASSERT_JSON(none, "{}");

        ASSERT_INT(fleet_snapshot_state(s, "g.service", &one), 0);
        ASSERT_STR(json_string_value(json_object_get(one, "machineID")), MACHINE_A);
        ASSERT_INT(fleet_snapshot_state(s, "idle.service", &one), -ENOENT);
}

/* 250 units: pages of 100, 100 and 50; 200 units: a third, empty page, as fleet gives. */
TEST(snapshot_paging) {
        _cleanup_(fleet_snapshot_freep) FleetSnapshot *s = NULL;
        json_auto_t *p1 = NULL, *p3 = NULL, *p4 = NULL;
        _cleanup_free_ char *err = NULL;
        uint16_t next;

        ASSERT_INT(fleet_snapshot_new(&s), 0);
        for (unsigned i = 0; i < 250; i++) {
                char name[32];
                snprintf(name, sizeof(name), "u%03u.service", i);
                _cleanup_free_ char *v = unit_value(name, web, "inactive");
                ASSERT_INT(fleet_snapshot_add_unit(s, v), 0);
        }
        ASSERT_INT(fleet_snapshot_units_page(s, 1, &p1), 0);
        ASSERT_INT(json_array_size(json_object_get(p1, "units")), 100);
        ASSERT_STR(json_string_value(json_object_get(json_array_get(json_object_get(p1, "units"), 0), "name")),
                   "u000.service");
        ASSERT_INT(fleet_page_token_decode(json_string_value(json_object_get(p1, "nextPageToken")), &next, &err), 0);
        ASSERT_INT(next, 2);
        ASSERT_INT(fleet_snapshot_units_page(s, 3, &p3), 0);
        ASSERT_INT(json_array_size(json_object_get(p3, "units")), 50);
        ASSERT_STR(json_string_value(json_object_get(json_array_get(json_object_get(p3, "units"), 0), "name")),
                   "u200.service");
        ASSERT_TRUE(!json_object_get(p3, "nextPageToken"));
        ASSERT_INT(fleet_snapshot_units_page(s, 4, &p4), 0);
        ASSERT_JSON(p4, "{}");
}

TEST(snapshot_machines) {
        _cleanup_(fleet_snapshot_freep) FleetSnapshot *s = NULL;
        json_auto_t *page = NULL;
        const char *rec = "{\"id\":\"" MACHINE_A "\",\"hostname\":\"h1\",\"ip\":\"10.0.0.1\",\"metadata\":{\"role\":\"web\"},"
                          "\"capacity\":{\"cpu\":1,\"memory\":1024},\"state\":\"active\",\"version\":\"1\"}";

        ASSERT_INT(fleet_snapshot_new(&s), 0);
        ASSERT_INT(fleet_snapshot_add_machine(s, rec), 0);
        ASSERT_INT(fleet_snapshot_add_machine(s, "{\"id\":\"bad\"}"), 0);
        ASSERT_INT(fleet_snapshot_machines_page(s, 1, &page), 0);
        ASSERT_JSON(page, "{\"machines\":[{\"id\":\"" MACHINE_A "\",\"metadata\":{\"role\":\"web\"},"
                          "\"primaryIP\":\"10.0.0.1\"}]}");
}

TEST_MAIN(T(sha1_fips), T(sha1_lengths), T(sha1_million_a), T(options_from_unit_file), T(serialize_and_hash),
          T(options_to_unit_file), T(options_refused), T(options_escaped_backslash), T(page_tokens),
          T(page_tokens_refused), T(page_bounds), T(current_state), T(entities), T(discovery), T(snapshot_units),
          T(snapshot_states), T(snapshot_paging), T(snapshot_machines))
