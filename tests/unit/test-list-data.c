/* SPDX-License-Identifier: Apache-2.0 */
/* The pure part of the list cache (ListData): changes of units/, schedule/ and state/ keys
 * applied one by one, and the pages rendered from them, compared as the exact text the API
 * sends (json_dumps, compact, insertion order). */
#include <stdio.h>

#include "list-cache.h"
#include "../tests.h"

#define M1 "11111111111111111111111111111111"
#define M2 "22222222222222222222222222222222"
#define M3 "33333333333333333333333333333333"
#define H "0000000000000000000000000000000000000000000000000000000000000000"

static char *text(json_t *j) {
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(j);
        return s;
}

static char *units_page(const ListData *d, const char *from, size_t limit) {
        return text(list_data_units_page(d, from, limit));
}

static char *states(const ListData *d, const char *machine, const char *unit) {
        return text(list_data_states(d, machine, unit));
}

static int put(ListData *d, ListPrefix p, const char *key, const char *value) {
        return list_data_apply(d, p, ETCD_EVENT_PUT, key, value);
}

static int del(ListData *d, ListPrefix p, const char *key) {
        return list_data_apply(d, p, ETCD_EVENT_DELETE, key, NULL);
}

static int put_unit(ListData *d, const char *name, const char *desired) {
        _cleanup_free_ char *v = NULL;

        if (asprintf(&v, "{\"name\":\"%s\",\"contents\":\"[Service]\\nExecStart=/bin/true\\n\",\"hash\":\"" H
                         "\",\"desiredState\":\"%s\"}", name, desired) < 0)
                return -ENOMEM;
        return put(d, LIST_UNITS, name, v);
}

static int put_state(ListData *d, const char *name, const char *machine, const char *active) {
        _cleanup_free_ char *k = NULL, *v = NULL;

        if (asprintf(&k, "%s/%s", name, machine) < 0 ||
            asprintf(&v, "{\"name\":\"%s\",\"machine\":\"%s\",\"hash\":\"h\",\"load\":\"loaded\",\"active\":\"%s\","
                         "\"sub\":\"x\",\"since\":\"42\"}", name, machine, active) < 0)
                return -ENOMEM;
        return put(d, LIST_STATE, k, v);
}

#define UNIT(name, ds, machines, cs) \
        "{\"name\":\"" name "\",\"hash\":\"" H "\",\"desiredState\":\"" ds "\",\"machines\":[" machines \
        "],\"currentState\":\"" cs "\"}"
#define STATE(name, machine, active) \
        "{\"name\":\"" name "\",\"machine\":\"" machine "\",\"hash\":\"h\",\"load\":\"loaded\",\"active\":\"" \
        active "\",\"sub\":\"x\",\"since\":42}"

TEST(empty) {
        _cleanup_(list_data_freep) ListData *d = NULL;
        _cleanup_free_ char *u = NULL, *s = NULL;

        ASSERT_INT(list_data_new(&d), 0);
        u = units_page(d, NULL, 1000);
        s = states(d, NULL, NULL);
        ASSERT_STR(u, "{\"units\":[]}");
        ASSERT_STR(s, "{\"states\":[]}");
        ASSERT_INT(list_data_count(d, LIST_UNITS), 0);
}

/* Name order whatever the order of the changes; a record's contents never show. */
TEST(units_order_and_fields) {
        _cleanup_(list_data_freep) ListData *d = NULL;
        _cleanup_free_ char *u = NULL;

        ASSERT_INT(list_data_new(&d), 0);
        ASSERT_INT(put_unit(d, "web@2.service", "launched"), 0);
        ASSERT_INT(put_unit(d, "a.service", "inactive"), 0);
        ASSERT_INT(put_unit(d, "web@10.service", "loaded"), 0);
        ASSERT_INT(put(d, LIST_UNITS, "app_v3.web@1.service",
                       "{\"name\":\"app_v3.web@1.service\",\"contents\":\"x\",\"hash\":\"" H "\",\"desiredState\":"
                       "\"launched\",\"app\":\"app\",\"release\":\"v3\",\"created\":17}"), 0);
        u = units_page(d, NULL, 1000);
        ASSERT_STR(u, "{\"units\":["
                      UNIT("a.service", "inactive", "", "inactive") ","
                      "{\"name\":\"app_v3.web@1.service\",\"hash\":\"" H "\",\"desiredState\":\"launched\","
                      "\"app\":\"app\",\"release\":\"v3\",\"machines\":[],\"currentState\":\"inactive\"},"
                      UNIT("web@10.service", "loaded", "", "inactive") ","
                      UNIT("web@2.service", "launched", "", "inactive") "]}");
        ASSERT_INT(list_data_count(d, LIST_UNITS), 4);
}

TEST(units_replace_delete) {
        _cleanup_(list_data_freep) ListData *d = NULL;
        _cleanup_free_ char *u = NULL;

        ASSERT_INT(list_data_new(&d), 0);
        ASSERT_INT(put_unit(d, "a.service", "inactive"), 0);
        ASSERT_INT(put_unit(d, "b.service", "inactive"), 0);
        ASSERT_INT(put_unit(d, "a.service", "launched"), 0);
        ASSERT_INT(del(d, LIST_UNITS, "b.service"), 0);
        ASSERT_INT(del(d, LIST_UNITS, "never.service"), 0);
        u = units_page(d, NULL, 1000);
        ASSERT_STR(u, "{\"units\":[" UNIT("a.service", "launched", "", "inactive") "]}");
        ASSERT_INT(list_data_count(d, LIST_UNITS), 1);
}

/* Pages: limit keys from "from" on; next names the key after them. */
TEST(paging) {
        _cleanup_(list_data_freep) ListData *d = NULL;
        _cleanup_free_ char *p1 = NULL, *p2 = NULL, *p3 = NULL, *between = NULL, *past = NULL, *exact = NULL;

        ASSERT_INT(list_data_new(&d), 0);
        ASSERT_INT(put_unit(d, "e.service", "inactive"), 0);
        ASSERT_INT(put_unit(d, "c.service", "inactive"), 0);
        ASSERT_INT(put_unit(d, "a.service", "inactive"), 0);
        ASSERT_INT(put_unit(d, "b.service", "inactive"), 0);
        ASSERT_INT(put_unit(d, "d.service", "inactive"), 0);
        p1 = units_page(d, NULL, 2);
        p2 = units_page(d, "c.service", 2);
        p3 = units_page(d, "e.service", 2);
        ASSERT_STR(p1, "{\"units\":[" UNIT("a.service", "inactive", "", "inactive") ","
                       UNIT("b.service", "inactive", "", "inactive") "],\"next\":\"c.service\"}");
        ASSERT_STR(p2, "{\"units\":[" UNIT("c.service", "inactive", "", "inactive") ","
                       UNIT("d.service", "inactive", "", "inactive") "],\"next\":\"e.service\"}");
        ASSERT_STR(p3, "{\"units\":[" UNIT("e.service", "inactive", "", "inactive") "]}");
        /* from needs not be a unit: the page starts at the first name after it */
        between = units_page(d, "bb", 1);
        ASSERT_STR(between, "{\"units\":[" UNIT("c.service", "inactive", "", "inactive") "],\"next\":\"d.service\"}");
        past = units_page(d, "z", 10);
        ASSERT_STR(past, "{\"units\":[]}");
        /* exactly the rest: no next */
        exact = units_page(d, "d.service", 2);
        ASSERT_STR(exact, "{\"units\":[" UNIT("d.service", "inactive", "", "inactive") ","
                          UNIT("e.service", "inactive", "", "inactive") "]}");
}

/* A value that is not a unit record is not listed, but it is a key: limit counts it and next
 * may name it, as when every page was a range of units/ with limit + 1. */
TEST(malformed_unit_keeps_its_place) {
        _cleanup_(list_data_freep) ListData *d = NULL;
        _cleanup_free_ char *p1 = NULL, *p2 = NULL, *fixed = NULL;

        ASSERT_INT(list_data_new(&d), 0);
        ASSERT_INT(put_unit(d, "a.service", "inactive"), 0);
        ASSERT_INT(put(d, LIST_UNITS, "b.service", "not json"), 0);
        ASSERT_INT(put(d, LIST_UNITS, "c.service", "{\"name\":\"c.service\"}"), 0);
        ASSERT_INT(put_unit(d, "d.service", "inactive"), 0);
        ASSERT_INT(list_data_count(d, LIST_UNITS), 4);
        p1 = units_page(d, NULL, 2);
        ASSERT_STR(p1, "{\"units\":[" UNIT("a.service", "inactive", "", "inactive") "],\"next\":\"c.service\"}");
        p2 = units_page(d, "b.service", 2);
        ASSERT_STR(p2, "{\"units\":[],\"next\":\"d.service\"}");
        /* a later good record takes the key over */
        ASSERT_INT(put_unit(d, "b.service", "loaded"), 0);
        fixed = units_page(d, "b.service", 1);
        ASSERT_STR(fixed, "{\"units\":[" UNIT("b.service", "loaded", "", "inactive") "],\"next\":\"c.service\"}");
}

/* schedule/<machine>/<name>: machines in key order; currentState follows placement. */
TEST(schedule) {
        _cleanup_(list_data_freep) ListData *d = NULL;
        _cleanup_free_ char *u = NULL, *after = NULL;

        ASSERT_INT(list_data_new(&d), 0);
        ASSERT_INT(put_unit(d, "g.service", "launched"), 0);
        ASSERT_INT(put_unit(d, "one.service", "loaded"), 0);
        ASSERT_INT(put_unit(d, "none.service", "launched"), 0);
        ASSERT_INT(put(d, LIST_SCHEDULE, M3 "/g.service", "{\"contents\":\"ignored\"}"), 0);
        ASSERT_INT(put(d, LIST_SCHEDULE, M1 "/g.service", NULL), 0);
        ASSERT_INT(put(d, LIST_SCHEDULE, M2 "/g.service", NULL), 0);
        ASSERT_INT(put(d, LIST_SCHEDULE, M2 "/g.service", NULL), 0);  /* again: still one */
        ASSERT_INT(put(d, LIST_SCHEDULE, M2 "/one.service", NULL), 0);
        /* scheduled, but no units/ record (yet, or any more): not listed */
        ASSERT_INT(put(d, LIST_SCHEDULE, M1 "/ghost.service", NULL), 0);
        /* not <machine>/<name>: never listed */
        ASSERT_INT(put(d, LIST_SCHEDULE, "stray", NULL), 0);
        ASSERT_INT(list_data_count(d, LIST_SCHEDULE), 5);
        u = units_page(d, NULL, 1000);
        ASSERT_STR(u, "{\"units\":["
                      UNIT("g.service", "launched", "\"" M1 "\",\"" M2 "\",\"" M3 "\"", "launched") ","
                      UNIT("none.service", "launched", "", "inactive") ","
                      UNIT("one.service", "loaded", "\"" M2 "\"", "loaded") "]}");

        ASSERT_INT(del(d, LIST_SCHEDULE, M2 "/g.service"), 0);
        ASSERT_INT(del(d, LIST_SCHEDULE, M2 "/one.service"), 0);
        ASSERT_INT(del(d, LIST_SCHEDULE, M3 "/never.service"), 0);
        ASSERT_INT(del(d, LIST_SCHEDULE, "stray"), 0);
        ASSERT_INT(list_data_count(d, LIST_SCHEDULE), 3);
        after = units_page(d, NULL, 1000);
        ASSERT_STR(after, "{\"units\":["
                          UNIT("g.service", "launched", "\"" M1 "\",\"" M3 "\"", "launched") ","
                          UNIT("none.service", "launched", "", "inactive") ","
                          UNIT("one.service", "loaded", "", "inactive") "]}");
}

/* Machine strings that are not machine ids: the order is that of the whole keys, where the
 * machine ends in '/' (0x2f): "ab-/" < "ab/" < "abc/". */
TEST(schedule_key_order) {
        _cleanup_(list_data_freep) ListData *d = NULL;
        _cleanup_free_ char *u = NULL;

        ASSERT_INT(list_data_new(&d), 0);
        ASSERT_INT(put_unit(d, "x.service", "launched"), 0);
        ASSERT_INT(put(d, LIST_SCHEDULE, "abc/x.service", NULL), 0);
        ASSERT_INT(put(d, LIST_SCHEDULE, "ab/x.service", NULL), 0);
        ASSERT_INT(put(d, LIST_SCHEDULE, "ab-/x.service", NULL), 0);
        /* not UTF-8: kept, but the list leaves it out (and it does not make the unit placed) */
        ASSERT_INT(put(d, LIST_SCHEDULE, "\xff\xfe/x.service", NULL), 0);
        u = units_page(d, NULL, 1000);
        ASSERT_STR(u, "{\"units\":[" UNIT("x.service", "launched", "\"ab-\",\"ab\",\"abc\"", "launched") "]}");
        ASSERT_INT(del(d, LIST_SCHEDULE, "ab/x.service"), 0);
        ASSERT_INT(del(d, LIST_SCHEDULE, "abc/x.service"), 0);
        ASSERT_INT(del(d, LIST_SCHEDULE, "ab-/x.service"), 0);
        free(u);
        u = units_page(d, NULL, 1000);
        ASSERT_STR(u, "{\"units\":[" UNIT("x.service", "launched", "", "inactive") "]}");
}

TEST(states) {
        _cleanup_(list_data_freep) ListData *d = NULL;
        _cleanup_free_ char *all = NULL, *by_machine = NULL, *by_prefix = NULL, *by_unit = NULL, *both = NULL,
                            *none = NULL, *after = NULL;

        ASSERT_INT(list_data_new(&d), 0);
        ASSERT_INT(put_state(d, "b.service", M2, "active"), 0);
        ASSERT_INT(put_state(d, "a.service", M1, "active"), 0);
        ASSERT_INT(put_state(d, "b.service", M1, "failed"), 0);
        ASSERT_INT(put_state(d, "b.service", M1, "active"), 0);  /* replaces */
        ASSERT_INT(list_data_count(d, LIST_STATE), 3);
        all = states(d, NULL, NULL);
        ASSERT_STR(all, "{\"states\":[" STATE("a.service", M1, "active") "," STATE("b.service", M1, "active") ","
                        STATE("b.service", M2, "active") "]}");
        by_machine = states(d, M2, NULL);
        ASSERT_STR(by_machine, "{\"states\":[" STATE("b.service", M2, "active") "]}");
        by_prefix = states(d, "1111", NULL);
        ASSERT_STR(by_prefix, "{\"states\":[" STATE("a.service", M1, "active") "," STATE("b.service", M1, "active") "]}");
        by_unit = states(d, NULL, "b.service");
        ASSERT_STR(by_unit, "{\"states\":[" STATE("b.service", M1, "active") "," STATE("b.service", M2, "active") "]}");
        both = states(d, "2", "b.service");
        ASSERT_STR(both, "{\"states\":[" STATE("b.service", M2, "active") "]}");
        none = states(d, NULL, "b");
        ASSERT_STR(none, "{\"states\":[]}");

        ASSERT_INT(del(d, LIST_STATE, "b.service/" M1), 0);
        /* a value that is not a state record replaces nothing listable */
        ASSERT_INT(put(d, LIST_STATE, "a.service/" M1, "{\"name\":\"a.service\",\"machine\":\"not-an-id\"}"), 0);
        ASSERT_INT(put(d, LIST_STATE, "c.service/" M1, "garbage"), 0);
        ASSERT_INT(list_data_count(d, LIST_STATE), 1);
        after = states(d, NULL, NULL);
        ASSERT_STR(after, "{\"states\":[" STATE("b.service", M2, "active") "]}");
}

/* Key order, not (name, machine) order: "x.service.service/" < "x.service/" since '.' < '/'.
 * The unit filter takes the keys under "<unit>/" and records of that name. */
TEST(states_key_order) {
        _cleanup_(list_data_freep) ListData *d = NULL;
        _cleanup_free_ char *all = NULL, *one = NULL, *other = NULL;

        ASSERT_INT(list_data_new(&d), 0);
        ASSERT_INT(put_state(d, "x.service", M1, "active"), 0);
        ASSERT_INT(put_state(d, "x.service.service", M1, "active"), 0);
        all = states(d, NULL, NULL);
        ASSERT_STR(all, "{\"states\":[" STATE("x.service.service", M1, "active") "," STATE("x.service", M1, "active") "]}");
        one = states(d, NULL, "x.service");
        ASSERT_STR(one, "{\"states\":[" STATE("x.service", M1, "active") "]}");
        /* a record under another unit's key is not that unit's */
        ASSERT_INT(put(d, LIST_STATE, "y.service/" M2,
                       "{\"name\":\"x.service\",\"machine\":\"" M2 "\",\"hash\":\"h\",\"load\":\"loaded\","
                       "\"active\":\"active\",\"sub\":\"x\",\"since\":42}"), 0);
        other = states(d, NULL, "y.service");
        ASSERT_STR(other, "{\"states\":[]}");
}

/* State fields that only some units have (port, health) come out as the registry writes them. */
TEST(states_optional_fields) {
        _cleanup_(list_data_freep) ListData *d = NULL;
        _cleanup_free_ char *s = NULL;

        ASSERT_INT(list_data_new(&d), 0);
        ASSERT_INT(put(d, LIST_STATE, "w.service/" M1,
                       "{\"name\":\"w.service\",\"machine\":\"" M1 "\",\"since\":7,\"port\":8080,\"health\":\"passing\"}"),
                   0);
        s = states(d, NULL, NULL);
        ASSERT_STR(s, "{\"states\":[{\"name\":\"w.service\",\"machine\":\"" M1
                      "\",\"since\":7,\"port\":8080,\"health\":\"passing\"}]}");
}

/* Many changes in random order against a plain model: the page and the counts agree. */
TEST(many) {
        _cleanup_(list_data_freep) ListData *d = NULL;
        bool present[500] = {};
        char name[64], key[128];
        unsigned seed = 7;

        ASSERT_INT(list_data_new(&d), 0);
        for (int i = 0; i < 5000; i++) {
                seed = seed * 1103515245 + 12345;
                int k = (seed >> 8) % 500;
                snprintf(name, sizeof(name), "u%03d.service", k);
                if ((seed >> 20) % 3 == 0) {
                        ASSERT_INT(del(d, LIST_UNITS, name), 0);
                        snprintf(key, sizeof(key), M1 "/%s", name);
                        ASSERT_INT(del(d, LIST_SCHEDULE, key), 0);
                        present[k] = false;
                } else {
                        ASSERT_INT(put_unit(d, name, "launched"), 0);
                        snprintf(key, sizeof(key), M1 "/%s", name);
                        ASSERT_INT(put(d, LIST_SCHEDULE, key, NULL), 0);
                        present[k] = true;
                }
        }
        size_t n = 0;
        for (int k = 0; k < 500; k++)
                n += present[k];
        ASSERT_INT(list_data_count(d, LIST_UNITS), n);
        ASSERT_INT(list_data_count(d, LIST_SCHEDULE), n);

        json_auto_t *page = list_data_units_page(d, NULL, 10000);
        json_t *units = json_object_get(page, "units");
        ASSERT_INT(json_array_size(units), n);
        size_t j = 0;
        for (int k = 0; k < 500; k++) {
                if (!present[k])
                        continue;
                snprintf(name, sizeof(name), "u%03d.service", k);
                json_t *u = json_array_get(units, j++);
                ASSERT_STR(json_string_value(json_object_get(u, "name")), name);
                ASSERT_STR(json_string_value(json_object_get(u, "currentState")), "launched");
        }
}

/* placement/<name>: the engine's reason, after the unit's other fields, while a record is
 * there; a value that is not one is not kept, and neither shows a unit that does not exist. */
TEST(placement_reasons) {
        _cleanup_(list_data_freep) ListData *d = NULL;
        _cleanup_free_ char *u = NULL, *after = NULL;

        ASSERT_INT(list_data_new(&d), 0);
        ASSERT_INT(put_unit(d, "db.service", "launched"), 0);
        ASSERT_INT(put_unit(d, "pinned.service", "launched"), 0);
        ASSERT_INT(put_unit(d, "ok.service", "launched"), 0);
        ASSERT_INT(put(d, LIST_SCHEDULE, M2 "/pinned.service", NULL), 0);
        ASSERT_INT(put(d, LIST_PLACEMENT, "db.service",
                       "{\"name\":\"db.service\",\"state\":\"unschedulable\",\"reason\":\"no machine has metadata "
                       "role=db\",\"since\":5}"), 0);
        ASSERT_INT(put(d, LIST_PLACEMENT, "pinned.service",
                       "{\"name\":\"pinned.service\",\"state\":\"stuck\",\"machine\":\"" M2 "\",\"reason\":"
                       "\"machine " M2 " is draining\",\"since\":5}"), 0);
        ASSERT_INT(put(d, LIST_PLACEMENT, "ghost.service",
                       "{\"name\":\"ghost.service\",\"state\":\"unschedulable\",\"reason\":\"x\",\"since\":5}"), 0);
        ASSERT_INT(put(d, LIST_PLACEMENT, "ok.service", "{\"name\":\"ok.service\",\"state\":\"stuck\"}"), 0);
        ASSERT_INT(list_data_count(d, LIST_PLACEMENT), 3);
        u = units_page(d, NULL, 1000);
        ASSERT_STR(u, "{\"units\":["
                      "{\"name\":\"db.service\",\"hash\":\"" H "\",\"desiredState\":\"launched\",\"machines\":[],"
                      "\"currentState\":\"inactive\",\"placement\":{\"state\":\"unschedulable\",\"reason\":"
                      "\"no machine has metadata role=db\"}},"
                      UNIT("ok.service", "launched", "", "inactive") ","
                      "{\"name\":\"pinned.service\",\"hash\":\"" H "\",\"desiredState\":\"launched\",\"machines\":"
                      "[\"" M2 "\"],\"currentState\":\"launched\",\"placement\":{\"state\":\"stuck\",\"reason\":"
                      "\"machine " M2 " is draining\",\"machine\":\"" M2 "\"}}]}");

        /* placed at last; a record that turned bad */
        ASSERT_INT(del(d, LIST_PLACEMENT, "db.service"), 0);
        ASSERT_INT(put(d, LIST_PLACEMENT, "pinned.service", "not json"), 0);
        ASSERT_INT(del(d, LIST_PLACEMENT, "never.service"), 0);
        ASSERT_INT(list_data_count(d, LIST_PLACEMENT), 1);
        after = units_page(d, NULL, 1000);
        ASSERT_STR(after, "{\"units\":["
                          UNIT("db.service", "launched", "", "inactive") ","
                          UNIT("ok.service", "launched", "", "inactive") ","
                          UNIT("pinned.service", "launched", "\"" M2 "\"", "launched") "]}");
}

TEST_MAIN(T(empty),
          T(units_order_and_fields),
          T(units_replace_delete),
          T(paging),
          T(malformed_unit_keeps_its_place),
          T(schedule),
          T(schedule_key_order),
          T(states),
          T(states_key_order),
          T(states_optional_fields),
          T(placement_reasons),
          T(many));
