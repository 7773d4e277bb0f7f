/* SPDX-License-Identifier: Apache-2.0 */
#include "app-record.h"
#include "basic/json-util.h"
#include "../tests.h"

TEST(roundtrip) {
        _cleanup_(app_record_done) AppRecord a = { .release = 3, .latest = 4, .next_index = 9,
                                                   .rollout = ROLLOUT_FAILED, .rollout_from = 2, .rollback_of = 4,
                                                   .created_usec = 5, .updated_usec = 6 };
        _cleanup_(app_record_done) AppRecord b = {};

        a.name = strdup("hello");
        a.message = strdup("v4 failed: hello_v4.web@8.service failed; rolled back");
        ASSERT_INT(app_record_set_scale(&a, "web", 3), 0);
        ASSERT_INT(app_record_set_scale(&a, "worker", 1), 0);
        app_record_scale(&a, "web")->restart_below = 7;
        ASSERT_INT(app_record_set_scale(&a, "web", 5), 0);

        json_auto_t *j = app_record_to_json(&a);
        ASSERT_TRUE(j);
        ASSERT_INT(app_record_from_json(j, &b), 0);
        ASSERT_STR(b.name, "hello");
        ASSERT_INT(b.release, 3);
        ASSERT_INT(b.latest, 4);
        ASSERT_INT(b.next_index, 9);
        ASSERT_INT(b.rollout, ROLLOUT_FAILED);
        ASSERT_INT(b.rollout_from, 2);
        ASSERT_INT(b.rollback_of, 4);
        ASSERT_STR(b.message, a.message);
        ASSERT_INT(b.n_scale, 2);
        ASSERT_INT(app_record_scale(&b, "web")->scale, 5);
        ASSERT_INT(app_record_scale(&b, "web")->restart_below, 7);
        ASSERT_INT(app_record_scale(&b, "worker")->restart_below, 0);
        ASSERT_TRUE(app_record_scale(&b, "db") == NULL);
}

TEST(rejects_bad) {
        static const char *bad[] = {
                "[]",
                "{\"release\":1}",
                "{\"name\":\"a\",\"release\":-1}",
                "{\"name\":\"a\",\"scale\":{\"web\":\"3\"}}",
                "{\"name\":\"a\",\"scale\":[]}",
                "{\"name\":\"a\",\"rollout\":{\"state\":\"sideways\"}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                AppRecord a = {};
                json_auto_t *j = json_loads(bad[i], 0, NULL);
                ASSERT_TRUE(j);
                ASSERT_INT(app_record_from_json(j, &a), -EBADMSG);
        }
}

TEST_MAIN(T(roundtrip), T(rejects_bad))
