/* SPDX-License-Identifier: Apache-2.0 */
/* events/<id>: the record's JSON, ids that sort by time, the filters of GET /v1/events, the
 * trim plan that bounds the history. */
#include "basic/json-util.h"
#include "event-record.h"
#include "../tests.h"

#define MID "3f2a1b9c00000000000000000000abcd"

TEST(id_format_and_order) {
        char a[EVENT_ID_SIZE], b[EVENT_ID_SIZE], c[EVENT_ID_SIZE];
        usec_t t;

        ASSERT_INT(event_id_format(1733130843000000, MID, 42, a), 0);
        ASSERT_STR(a, "1733130843000000-3f2a1b9c-0000002a");
        ASSERT_TRUE(event_id_parse(a, &t));
        ASSERT_INT(t, 1733130843000000);
        /* an earlier time sorts first whatever the machine and counter */
        ASSERT_INT(event_id_format(999, "ffffffff", 0xffffffff, b), 0);
        ASSERT_STR(b, "0000000000000999-ffffffff-ffffffff");
        ASSERT_TRUE(strcmp(b, a) < 0);
        /* the same microsecond: the counter orders one host's events */
        ASSERT_INT(event_id_format(1733130843000000, MID, 43, c), 0);
        ASSERT_TRUE(strcmp(a, c) < 0);
        ASSERT_INT(event_id_format(10000000000000000ULL, MID, 1, c), -EINVAL);
        ASSERT_INT(event_id_format(1, "3f2a", 1, c), -EINVAL);
        ASSERT_INT(event_id_format(1, "3F2A1B9C", 1, c), -EINVAL);
        ASSERT_TRUE(!event_id_parse("1733130843000000-3f2a1b9c-0000002", NULL));
        ASSERT_TRUE(!event_id_parse("173313084300000x-3f2a1b9c-0000002a", NULL));
        ASSERT_TRUE(!event_id_parse("1733130843000000_3f2a1b9c-0000002a", NULL));
}

TEST(kinds) {
        ASSERT_TRUE(event_kind_is_valid("app.scale"));
        ASSERT_TRUE(event_kind_is_valid("rollout.rolled_back"));
        ASSERT_TRUE(event_kind_is_valid("a.b.c"));
        ASSERT_TRUE(!event_kind_is_valid("app"));
        ASSERT_TRUE(!event_kind_is_valid("app."));
        ASSERT_TRUE(!event_kind_is_valid(".app"));
        ASSERT_TRUE(!event_kind_is_valid("app..scale"));
        ASSERT_TRUE(!event_kind_is_valid("App.scale"));
        ASSERT_TRUE(!event_kind_is_valid("app.scale-up"));
        ASSERT_TRUE(!event_kind_is_valid(""));
}

TEST(roundtrip) {
        _cleanup_(event_record_done) EventRecord e = EVENT_RECORD_INIT, back = EVENT_RECORD_INIT;

        ASSERT_INT(event_id_format(1733130843123456, MID, 7, e.id), 0);
        e.time = 1733130843123456;
        e.kind = strdup("app.config");
        e.app = strdup("hello");
        e.release = 3;
        e.who = strdup("alice");
        e.uid = 1000;
        e.message = strdup("release v3 created (config set GREETING)");
        e.details = json_pack("{s:[s]}", "set", "GREETING");
        json_auto_t *j = event_record_to_json(&e);
        ASSERT_TRUE(j);
        _cleanup_free_ char *text = jx_dumps(j);
        ASSERT_STR(text, "{\"app\":\"hello\",\"details\":{\"set\":[\"GREETING\"]},\"id\":\"1733130843123456-3f2a1b9c-00000007\","
                         "\"kind\":\"app.config\",\"message\":\"release v3 created (config set GREETING)\",\"release\":3,"
                         "\"time\":1733130843123456,\"uid\":1000,\"who\":\"alice\"}");
        ASSERT_INT(event_record_from_json(j, &back), 0);
        ASSERT_STR(back.id, e.id);
        ASSERT_INT(back.time, e.time);
        ASSERT_STR(back.kind, "app.config");
        ASSERT_STR(back.app, "hello");
        ASSERT_TRUE(!back.unit && !back.machine);
        ASSERT_INT(back.release, 3);
        ASSERT_INT(back.uid, 1000);
        ASSERT_STR(back.who, "alice");
        ASSERT_TRUE(json_equal(back.details, e.details));
}

TEST(from_json_strict) {
        static const char * const bad[] = {
                "[]",
                "{\"time\":1,\"kind\":\"a.b\",\"who\":\"x\",\"message\":\"m\"}",
                "{\"id\":\"0000000000000001-3f2a1b9c-00000001\",\"time\":2,\"kind\":\"a.b\",\"who\":\"x\",\"message\":\"m\"}",
                "{\"id\":\"0000000000000001-3f2a1b9c-00000001\",\"time\":1,\"kind\":\"ab\",\"who\":\"x\",\"message\":\"m\"}",
                "{\"id\":\"0000000000000001-3f2a1b9c-00000001\",\"time\":1,\"kind\":\"a.b\",\"message\":\"m\"}",
                "{\"id\":\"0000000000000001-3f2a1b9c-00000001\",\"time\":1,\"kind\":\"a.b\",\"who\":\"x\",\"message\":\"m\",\"app\":3}",
                "{\"id\":\"0000000000000001-3f2a1b9c-00000001\",\"time\":1,\"kind\":\"a.b\",\"who\":\"x\",\"message\":\"m\",\"release\":0}",
                "{\"id\":\"0000000000000001-3f2a1b9c-00000001\",\"time\":1,\"kind\":\"a.b\",\"who\":\"x\",\"message\":\"m\",\"details\":[]}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                EventRecord e = EVENT_RECORD_INIT;
                json_auto_t *j = json_loads(bad[i], 0, NULL);
                ASSERT_TRUE(j);
                if (event_record_from_json(j, &e) != -EBADMSG) {
                        fprintf(stderr, "accepted: %s\n", bad[i]);
                        test_failures++;
                        event_record_done(&e);
                }
        }
}

TEST(timestamps) {
        usec_t t;

        ASSERT_INT(event_parse_timestamp("2024-12-02T09:14:03Z", &t), 0);
        ASSERT_INT(t, 1733130843000000ULL);
        ASSERT_INT(event_parse_timestamp("2024-12-02T10:14:03.5+01:00", &t), 0);
        ASSERT_INT(t, 1733130843500000ULL);
        ASSERT_INT(event_parse_timestamp("2024-12-02T08:14:03.000001-01:00", &t), 0);
        ASSERT_INT(t, 1733130843000001ULL);
        ASSERT_INT(event_parse_timestamp("2024-12-02T09:14:03", &t), -EINVAL);
        ASSERT_INT(event_parse_timestamp("2024-12-02T09:14:03.Z", &t), -EINVAL);
        ASSERT_INT(event_parse_timestamp("2024-12-02T09:14:03+0100", &t), -EINVAL);
        ASSERT_INT(event_parse_timestamp("yesterday", &t), -EINVAL);
}

static EventRecord rec(const char *id, const char *app, const char *unit, const char *machine) {
        EventRecord e = EVENT_RECORD_INIT;
        snprintf(e.id, sizeof(e.id), "%s", id);
        (void) event_id_parse(id, &e.time);
        e.app = (char *) app;
        e.unit = (char *) unit;
        e.machine = (char *) machine;
        return e;
}

TEST(filters) {
        _cleanup_free_ char *err = NULL, *start = NULL;
        EventFilter f;
        usec_t now = 1733130843000000ULL;

        ASSERT_INT(event_filter_parse(NULL, NULL, NULL, NULL, NULL, now, &f, &err), 0);
        ASSERT_INT(f.limit, EVENT_LIMIT_DEFAULT);
        start = event_filter_range_start(&f, "/fleetd/");
        ASSERT_STR(start, "/fleetd/events/");
        free(start);

        ASSERT_INT(event_filter_parse("hello", NULL, "3f2a", "1h", "5", now, &f, &err), 0);
        ASSERT_INT(f.since, now - 3600 * USEC_PER_SEC);
        ASSERT_INT(f.limit, 5);
        start = event_filter_range_start(&f, "/fleetd/");
        ASSERT_STR(start, "/fleetd/events/1733127243000000");
        EventRecord a = rec("1733130000000000-3f2a1b9c-00000001", "hello", NULL, MID);
        EventRecord b = rec("1733130000000000-3f2a1b9c-00000002", "other", NULL, MID);
        EventRecord c = rec("1733120000000000-3f2a1b9c-00000003", "hello", NULL, MID);
        EventRecord d = rec("1733130000000000-3f2a1b9c-00000004", "hello", NULL, "aaaa");
        ASSERT_TRUE(event_filter_match(&f, &a));
        ASSERT_TRUE(!event_filter_match(&f, &b));
        ASSERT_TRUE(!event_filter_match(&f, &c));      /* before since */
        ASSERT_TRUE(!event_filter_match(&f, &d));      /* another machine */

        ASSERT_INT(event_filter_parse(NULL, "web@1.service", NULL, "1733130000000000-3f2a1b9c-00000001", NULL, now,
                                      &f, &err), 0);
        free(start);
        start = event_filter_range_start(&f, "/p/");
        ASSERT_STR(start, "/p/events/1733130000000000-3f2a1b9c-00000001");
        EventRecord u1 = rec("1733130000000000-3f2a1b9c-00000001", NULL, "web@1.service", NULL);
        EventRecord u2 = rec("1733130000000000-3f2a1b9c-00000002", NULL, "web@1.service", NULL);
        ASSERT_TRUE(!event_filter_match(&f, &u1));     /* after, not at */
        ASSERT_TRUE(event_filter_match(&f, &u2));

        ASSERT_INT(event_filter_parse(NULL, NULL, NULL, "2024-12-02T09:14:03Z", NULL, now, &f, &err), 0);
        ASSERT_INT(f.since, now);
}

TEST(filters_bad) {
        static const char * const since[] = { "soon", "-1h", "2024-12-02", "1733130843000000-3f2a1b9c" };
        static const char * const limit[] = { "-1", "0", "10001", "5x", "" };
        EventFilter f;

        for (size_t i = 0; i < ELEMENTSOF(since); i++) {
                _cleanup_free_ char *err = NULL;
                ASSERT_INT(event_filter_parse(NULL, NULL, NULL, since[i], NULL, 1, &f, &err), -EINVAL);
                ASSERT_CONTAINS(err, "since=");
        }
        for (size_t i = 0; i < ELEMENTSOF(limit); i++) {
                _cleanup_free_ char *err = NULL;
                ASSERT_INT(event_filter_parse(NULL, NULL, NULL, NULL, limit[i], 1, &f, &err), -EINVAL);
                ASSERT_CONTAINS(err, "limit=");
        }
        _cleanup_free_ char *err = NULL;
        ASSERT_INT(event_filter_parse("", NULL, NULL, NULL, NULL, 1, &f, &err), -EINVAL);
        ASSERT_CONTAINS(err, "app=");
}

TEST(trim_plan) {
        /* oldest first: a1 b1 a2 x a3 b2 a4 */
        EventIndexEntry e[] = {
                { "1", "a" }, { "2", "b" }, { "3", "a" }, { "4", NULL }, { "5", "a" }, { "6", "b" }, { "7", "a" },
        };
        EventTrim t;

        ASSERT_INT(event_trim_plan(e, ELEMENTSOF(e), 0, 0, &t), 0);
        ASSERT_INT(t.cut, 0);
        ASSERT_INT(t.n_extra, 0);
        event_trim_done(&t);

        /* at most 5 in all: the two oldest go as a range */
        ASSERT_INT(event_trim_plan(e, ELEMENTSOF(e), 5, 0, &t), 0);
        ASSERT_INT(t.cut, 2);
        ASSERT_INT(t.n_extra, 0);
        event_trim_done(&t);

        /* at most 2 per app: a1 and a2 go (b has 2, the event of no app counts for none) */
        ASSERT_INT(event_trim_plan(e, ELEMENTSOF(e), 0, 2, &t), 0);
        ASSERT_INT(t.cut, 0);
        ASSERT_INT(t.n_extra, 2);
        ASSERT_INT(t.extra[0], 0);
        ASSERT_INT(t.extra[1], 2);
        event_trim_done(&t);

        /* both: 5 in all cuts a1 b1; of the rest, a has a2 a3 a4 -> a2 goes */
        ASSERT_INT(event_trim_plan(e, ELEMENTSOF(e), 5, 2, &t), 0);
        ASSERT_INT(t.cut, 2);
        ASSERT_INT(t.n_extra, 1);
        ASSERT_INT(t.extra[0], 2);
        event_trim_done(&t);

        ASSERT_INT(event_trim_plan(e, 0, 5, 2, &t), 0);
        ASSERT_INT(t.cut, 0);
        ASSERT_INT(t.n_extra, 0);
        event_trim_done(&t);
}

TEST_MAIN(T(id_format_and_order), T(kinds), T(roundtrip), T(from_json_strict), T(timestamps), T(filters),
          T(filters_bad), T(trim_plan))
