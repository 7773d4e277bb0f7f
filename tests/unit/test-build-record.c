/* SPDX-License-Identifier: Apache-2.0 */
#include "basic/json-util.h"
#include "build-record.h"
#include "../tests.h"

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

TEST(ids) {
        char id[BUILD_ID_LEN + 1];

        build_id_format(1700000000123456ULL, 0x1234abcd, id);
        ASSERT_STR(id, "20231114-221320-abcd");
        ASSERT_TRUE(build_id_is_valid(id));
        ASSERT_TRUE(!build_id_is_valid("20231114-221320-ABCD"));
        ASSERT_TRUE(!build_id_is_valid("20231114-221320-abc"));
        ASSERT_TRUE(!build_id_is_valid("20231114T221320-abcd"));
        ASSERT_TRUE(!build_id_is_valid("../../x"));
        ASSERT_TRUE(!build_id_is_valid(NULL));
}

TEST(round_trip) {
        BuildRecord b = {
                .app = (char *) "hello", .id = (char *) "20231114-221320-abcd", .state = BUILD_SUCCEEDED,
                .machine = (char *) "0123456789abcdef0123456789abcdef", .revision = (char *) "0123456789ab",
                .image = (char *) "10.0.0.13:5000/hello:0123456789ab", .digest = (char *) DIGEST, .release = 4,
                .started_usec = 1700000000000000ULL, .finished_usec = 1700000005000000ULL,
        };
        _cleanup_(build_record_done) BuildRecord back = {};
        json_auto_t *j = build_record_to_json(&b);

        ASSERT_TRUE(j);
        ASSERT_STR(jx_str(j, "state"), "succeeded");
        ASSERT_TRUE(!json_object_get(j, "error"));
        ASSERT_INT(build_record_from_json(j, &back), 0);
        ASSERT_STR(back.app, "hello");
        ASSERT_STR(back.digest, DIGEST);
        ASSERT_INT(back.release, 4);
        ASSERT_INT(back.finished_usec, 1700000005000000ULL);
        ASSERT_STR(back.revision, "0123456789ab");
}

TEST(running_is_minimal) {
        BuildRecord b = { .app = (char *) "hello", .id = (char *) "20231114-221320-abcd", .started_usec = 1 };
        _cleanup_(build_record_done) BuildRecord back = {};
        json_auto_t *j = build_record_to_json(&b);

        ASSERT_INT(json_object_size(j), 4);
        ASSERT_INT(build_record_from_json(j, &back), 0);
        ASSERT_INT(back.state, BUILD_RUNNING);
        ASSERT_TRUE(!back.image && !back.digest && back.release == 0 && back.finished_usec == 0);
}

TEST(refused) {
        static const char * const bad[] = {
                "[]",
                "{\"app\": \"hello\", \"id\": \"20231114-221320-abcd\", \"state\": \"running\"}",
                "{\"app\": \"hello\", \"id\": \"20231114-221320-abcd\", \"state\": \"done\", \"started_usec\": 1}",
                "{\"app\": \"Hello\", \"id\": \"20231114-221320-abcd\", \"state\": \"running\", \"started_usec\": 1}",
                "{\"app\": \"hello\", \"id\": \"x\", \"state\": \"running\", \"started_usec\": 1}",
                "{\"app\": \"hello\", \"id\": \"20231114-221320-abcd\", \"state\": \"running\", \"started_usec\": -1}",
                "{\"app\": \"hello\", \"id\": \"20231114-221320-abcd\", \"state\": \"running\", \"started_usec\": 1,"
                " \"colour\": 1}",
                "{\"app\": \"hello\", \"id\": \"20231114-221320-abcd\", \"state\": \"running\", \"started_usec\": 1,"
                " \"digest\": \"sha256:12\"}",
                "{\"app\": \"hello\", \"id\": \"20231114-221320-abcd\", \"state\": \"running\", \"started_usec\": 1,"
                " \"release\": \"3\"}",
                "{\"app\": \"hello\", \"id\": \"20231114-221320-abcd\", \"state\": \"running\", \"started_usec\": 1,"
                " \"error\": 3}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(build_record_done) BuildRecord b = {};
                json_auto_t *j = json_loads(bad[i], 0, NULL);
                if (build_record_from_json(j, &b) != -EBADMSG) {
                        fprintf(stderr, "  accepted %s\n", bad[i]);
                        ASSERT_TRUE(false);
                }
        }
        ASSERT_STR(build_state_to_string(BUILD_FAILED), "failed");
        ASSERT_INT(build_state_from_string("succeeded"), BUILD_SUCCEEDED);
        ASSERT_INT(build_state_from_string(NULL), _BUILD_STATE_INVALID);
}

TEST_MAIN(T(ids), T(round_trip), T(running_is_minimal), T(refused));
