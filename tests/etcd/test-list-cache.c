/* SPDX-License-Identifier: Apache-2.0 */
/* The list cache (list-cache.h) against a real etcd that the test starts itself: it loads what
 * is there, answers exactly what the per-request handlers answered for the same data (their
 * logic is copied below as the reference, with placement/ records added), follows puts and
 * deletes on all four prefixes,
 * waits for this fleetd's own writes, reloads after a compaction, fails queued requests when
 * etcd cannot be read, and drops its watches and data when nobody lists.
 * FLEETD_TEST_DEBUG=1 shows the debug log. */

#include <inttypes.h>
#include <stdio.h>
#include <systemd/sd-event.h>

#include "basic/base64.h"
#include "basic/json-util.h"
#include "basic/time-util.h"
#include "etcd-client.h"
#include "etcd-runner.h"
#include "list-cache.h"
#include "log.h"
#include "registry.h"
#include "tests.h"

#define SEC(n) ((usec_t) ((n) * USEC_PER_SEC))
#define WAIT_TIMEOUT SEC(20)
#define P "/lc/"
#define M1 "11111111111111111111111111111111"
#define M2 "22222222222222222222222222222222"
#define M3 "33333333333333333333333333333333"
#define N_UNITS 300

static const char *const machines[] = { M1, M2, M3 };

static EtcdRunner *etcd;
static sd_event *event;
static EtcdClient *client;

#define RUN_UNTIL(cond, timeout)                                                \
        ({                                                                      \
                usec_t _deadline = now_usec(CLOCK_MONOTONIC) + (timeout);       \
                while (!(cond) && now_usec(CLOCK_MONOTONIC) < _deadline)        \
                        (void) sd_event_run(event, 20 * USEC_PER_MSEC);         \
                (cond);                                                         \
        })

static void run_for(usec_t t) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + t;

        while (now_usec(CLOCK_MONOTONIC) < deadline)
                (void) sd_event_run(event, 20 * USEC_PER_MSEC);
}

/* ---- writing, through the client (the loop runs) or behind its back (it does not) ---- */

typedef struct Done {
        bool done;
        int error;
        int64_t revision;
} Done;

static void on_done(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        Done *d = userdata;

        d->done = true;
        d->error = error;
        d->revision = result ? result->revision : 0;
}

static int64_t wait_done(int r, Done *d) {
        if (r < 0)
                return r;
        if (!RUN_UNTIL(d->done, WAIT_TIMEOUT))
                return -ETIME;
        return d->error < 0 ? d->error : d->revision;
}

/* Puts n keys in txns of 100; returns the last revision. */
static int64_t put_many(char **keys, char **values, size_t n) {
        int64_t rev = 0;

        for (size_t i = 0; i < n; i += 100) {
                EtcdOp ops[100];
                size_t k = MIN(n - i, (size_t) 100);
                Done d = {};

                for (size_t j = 0; j < k; j++)
                        ops[j] = (EtcdOp) { .type = ETCD_OP_PUT, .key = keys[i + j], .value = values[i + j] };
                EtcdTxn txn = { .success = ops, .n_success = k };
                rev = wait_done(etcd_client_txn(client, &txn, on_done, &d, NULL), &d);
                if (rev < 0)
                        return rev;
        }
        return rev;
}

static int64_t put1(const char *key, const char *value) {
        Done d = {};
        return wait_done(etcd_client_put(client, key, value, 0, on_done, &d, NULL), &d);
}

static int64_t del1(const char *key) {
        Done d = {};
        return wait_done(etcd_client_delete(client, key, NULL, on_done, &d, NULL), &d);
}

/* Through the gateway with the loop stopped, so no watch can have seen it when this returns.
 * path is /v3/kv/put or /v3/kv/deleterange; returns the answer's header revision. */
static int64_t post_kv(const char *path, const char *key, const char *value) {
        _cleanup_free_ char *k = NULL, *v = NULL, *body = NULL, *answer = NULL;
        int status;

        if (base64_encode(key, strlen(key), &k) < 0 ||
            (value && base64_encode(value, strlen(value), &v) < 0) ||
            asprintf(&body, "{\"key\":\"%s\"%s%s%s}", k, v ? ",\"value\":\"" : "", strempty(v), v ? "\"" : "") < 0)
                return -ENOMEM;
        status = etcd_runner_post(etcd, path, body, NULL, &answer);
        if (status != 200)
                return status < 0 ? status : -EIO;
        json_auto_t *j = json_loads(answer, 0, NULL);
        return jx_int64(json_object_get(j, "header"), "revision", -EBADMSG);
}

static char *unit_value(const char *name, const char *desired, const char *app) {
        char *v = NULL;

        if (asprintf(&v, "{\"name\":\"%s\",\"contents\":\"[Unit]\\nDescription=%s\\n[Service]\\nExecStart=/bin/true\\n\","
                         "\"hash\":\"%064x\",\"desiredState\":\"%s\"%s%s%s}",
                     name, name, (unsigned) strlen(name), desired, app ? ",\"app\":\"" : "", strempty(app),
                     app ? "\",\"release\":\"v1\"" : "") < 0)
                return NULL;
        return v;
}

static char *state_value(const char *name, const char *machine, const char *active) {
        char *v = NULL;

        if (asprintf(&v, "{\"name\":\"%s\",\"machine\":\"%s\",\"hash\":\"h\",\"load\":\"loaded\",\"active\":\"%s\","
                         "\"sub\":\"running\",\"since\":\"1700000000000000\"}", name, machine, active) < 0)
                return NULL;
        return v;
}

static char *placement_value(const char *name, const char *state, const char *machine, const char *reason) {
        char *v = NULL;

        if (asprintf(&v, "{\"name\":\"%s\",\"state\":\"%s\"%s%s%s,\"reason\":\"%s\",\"since\":1700000000000000}",
                     name, state, machine ? ",\"machine\":\"" : "", strempty(machine), machine ? "\"" : "", reason) < 0)
                return NULL;
        return v;
}

/* ---- the reference: GET /v1/units and /v1/state as the handlers answered before the cache ----
 * (src/fleetd/manager-api.c before list-cache.c: a range of units/ with limit + 1, then every
 * schedule/ key; a range of state/ or state/<unit>/; the same JSON built the same way), and
 * the units' placement/ records after their other fields */

typedef struct OldList {
        json_t *units;
        int64_t limit;
        char *next;
        char *text;
        int error;
        bool done;
} OldList;

static void old_on_placement(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        OldList *l = userdata;

        l->done = true;
        if ((l->error = error) < 0)
                return;
        for (size_t i = 0; i < result->n_kvs; i++) {
                _cleanup_(placement_record_done) PlacementRecord p = {};
                const char *name = startswith(result->kvs[i].key, P "placement/");
                json_t *u = name ? json_object_get(l->units, name) : NULL;
                json_auto_t *raw = json_loads(result->kvs[i].value, 0, NULL);
                if (!u || placement_record_from_json(raw, &p) < 0)
                        continue;
                json_object_set_new(u, "placement", json_pack("{s:s, s:s, s:s*}", "state",
                                                              placement_state_to_string(p.state), "reason", p.reason,
                                                              "machine", p.machine[0] ? p.machine : NULL));
        }
        json_auto_t *list = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(l->units, k, v)
                json_array_append(list, v);
        json_auto_t *body = json_pack("{s:O, s:s*}", "units", list, "next", l->next);
        l->text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static void old_on_schedule(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        OldList *l = userdata;

        if ((l->error = error) < 0) {
                l->done = true;
                return;
        }
        for (size_t i = 0; i < result->n_kvs; i++) {
                const char *rest = startswith(result->kvs[i].key, P "schedule/"), *slash = rest ? strchr(rest, '/') : NULL;
                json_t *u = slash ? json_object_get(l->units, slash + 1) : NULL;
                if (!u)
                        continue;
                json_array_append_new(json_object_get(u, "machines"), json_stringn(rest, slash - rest));
        }
        const char *k;
        json_t *v;
        json_object_foreach(l->units, k, v) {
                size_t n = json_array_size(json_object_get(v, "machines"));
                const char *ds = jx_str(v, "desiredState");
                json_object_set_new(v, "currentState", json_string(n > 0 ? ds : "inactive"));
        }
        EtcdRangeArgs args = { .key = P "placement/", .range_end = P "placement0" };
        int r = etcd_client_range(client, &args, old_on_placement, l, NULL);
        if (r < 0) {
                l->error = r;
                l->done = true;
        }
}

static void old_on_units(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        OldList *l = userdata;

        if ((l->error = error) < 0) {
                l->done = true;
                return;
        }
        size_t n = MIN(result->n_kvs, (size_t) l->limit);
        if (result->n_kvs > n) {
                const char *name = strrchr(result->kvs[n].key, '/');
                l->next = name ? strdup(name + 1) : NULL;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_(unit_record_done) UnitRecord u = {};
                json_auto_t *raw = json_loads(result->kvs[i].value, 0, NULL);
                if (unit_record_from_json(raw, &u) < 0)
                        continue;
                json_t *j = json_pack("{s:s, s:s, s:s, s:s*, s:s*, s:s*}", "name", u.name, "hash", u.hash,
                                      "desiredState", unit_desired_state_to_string(u.desired), "contents", NULL,
                                      "app", u.app, "release", u.release);
                if (j)
                        json_object_set_new(j, "machines", json_array());
                json_object_set_new(l->units, u.name, j);
        }
        EtcdRangeArgs args = { .key = P "schedule/", .range_end = P "schedule0", .keys_only = true };
        int r = etcd_client_range(client, &args, old_on_schedule, l, NULL);
        if (r < 0) {
                l->error = r;
                l->done = true;
        }
}

static char *old_units_page(const char *from, int64_t limit) {
        _cleanup_free_ char *start = NULL;
        OldList l = { .units = json_object(), .limit = limit };

        if (asprintf(&start, P "units/%s", strempty(from)) < 0)
                return NULL;
        EtcdRangeArgs args = { .key = start, .range_end = P "units0", .limit = limit + 1 };
        if (etcd_client_range(client, &args, old_on_units, &l, NULL) < 0 || !RUN_UNTIL(l.done, WAIT_TIMEOUT))
                l.error = -EIO;
        json_decref(l.units);
        free(l.next);
        if (l.error < 0) {
                free(l.text);
                return NULL;
        }
        return l.text;
}

typedef struct OldStates {
        const char *machine, *unit;
        char *text;
        bool done;
} OldStates;

static void old_on_state(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        OldStates *o = userdata;

        o->done = true;
        if (error < 0)
                return;
        json_auto_t *list = json_array();
        for (size_t i = 0; list && i < result->n_kvs; i++) {
                _cleanup_(state_record_done) StateRecord s = {};
                json_auto_t *raw = json_loads(result->kvs[i].value, 0, NULL);
                if (state_record_from_json(raw, &s) < 0)
                        continue;
                if ((o->machine && !startswith(s.machine, o->machine)) || (o->unit && !streq(o->unit, s.name)))
                        continue;
                json_array_append_new(list, state_record_to_json(&s));
        }
        json_auto_t *body = json_pack("{s:O}", "states", list);
        o->text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static char *old_states(const char *machine, const char *unit) {
        OldStates o = { .machine = machine, .unit = unit };
        _cleanup_free_ char *key = unit ? registry_key(P, "state", unit, "", NULL) : registry_key(P, "state", "", NULL);
        _cleanup_free_ char *end = key ? etcd_prefix_end(key) : NULL;

        if (!end)
                return NULL;
        EtcdRangeArgs args = { .key = key, .range_end = end };
        if (etcd_client_range(client, &args, old_on_state, &o, NULL) < 0 || !RUN_UNTIL(o.done, WAIT_TIMEOUT))
                return NULL;
        return o.text;
}

/* ---- the cache against the reference ---- */

static char *dump(json_t *j) {
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(j);
        return s;
}

static bool same_text(const char *what, const char *cached, const char *old, bool verbose) {
        if (cached && old && streq(cached, old))
                return true;
        if (verbose)
                fprintf(stderr, "%s differs:\n  cache: %.600s\n  old:   %.600s\n", what, strna(cached), strna(old));
        return false;
}

/* Every page of every listing the reference can make, cache against reference. */
static bool same_as_old(ListCache *lc, bool verbose) {
        static const int64_t limits[] = { 1000, 7, 10000 };
        static const char *const filters[][2] = {
                { NULL, NULL }, { "2", NULL }, { M3, NULL }, { NULL, "u001.service" }, { "1", "g.service" },
                { NULL, "nothing.service" },
        };
        const ListData *d = list_cache_peek(lc);

        if (!d)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(limits); i++) {
                _cleanup_free_ char *from = NULL;
                do {
                        _cleanup_free_ char *cached = dump(list_data_units_page(d, from, limits[i]));
                        _cleanup_free_ char *old = old_units_page(from, limits[i]);
                        if (!same_text("units page", cached, old, verbose))
                                return false;
                        json_auto_t *j = json_loads(old, 0, NULL);
                        free(from);
                        from = jx_str(j, "next") ? strdup(jx_str(j, "next")) : NULL;
                        d = list_cache_peek(lc);  /* the loop ran: changes may have come */
                        if (!d)
                                return false;
                } while (from);
        }
        for (size_t i = 0; i < ELEMENTSOF(filters); i++) {
                _cleanup_free_ char *cached = dump(list_data_states(d, filters[i][0], filters[i][1]));
                _cleanup_free_ char *old = old_states(filters[i][0], filters[i][1]);
                if (!same_text("states", cached, old, verbose))
                        return false;
                d = list_cache_peek(lc);
                if (!d)
                        return false;
        }
        return true;
}

/* ---- requests ---- */

typedef struct Got {
        unsigned calls;
        int error;
        char *units;                  /* the whole list (one page), rendered in the callback */
} Got;

static void got_done(Got *g) {
        free(g->units);
        *g = (Got) {};
}

static void on_got(ListCache *c, int error, const ListData *data, void *userdata) {
        Got *g = userdata;

        g->calls++;
        g->error = error;
        free(g->units);
        g->units = data ? dump(list_data_units_page(data, NULL, 10000)) : NULL;
}

/* One list request: answered at once (1) or queued (0) and answered within the timeout. g is
 * reset first. */
static int request(ListCache *lc, bool own_writes, Got *g) {
        const ListData *d = NULL;
        int r;

        got_done(g);
        r = list_cache_get(lc, own_writes, on_got, g, &d);

        if (r > 0)
                on_got(lc, 0, d, g);
        else if (r == 0 && !RUN_UNTIL(g->calls > 0, WAIT_TIMEOUT))
                return -ETIME;
        return r;
}

static ListCache *cache_with(EtcdClient *c, usec_t idle, usec_t wait) {
        ListCacheOptions o = { .prefix = P, .idle_timeout = idle, .wait_timeout = wait };
        ListCache *lc = NULL;

        (void) list_cache_new(event, c, &o, &lc);
        return lc;
}

static bool has_unit(const Got *g, const char *name) {
        _cleanup_free_ char *needle = NULL;

        return asprintf(&needle, "{\"name\":\"%s\"", name) > 0 && g->units && strstr(g->units, needle);
}

/* ---- cases ---- */

TEST(start_etcd) {
        char *endpoints[2] = { NULL, NULL };
        int k;

        if (getenv("FLEETD_TEST_DEBUG"))
                log_set_max_level(LOG_DEBUG);
        k = etcd_runner_start(&etcd);
        if (k == -ENOENT) {
                printf("skip: %s is not installed\n", getenv("FLEETD_TEST_ETCD") ?: "/usr/bin/etcd");
                exit(77);
        }
        ASSERT_INT(k, 0);
        ASSERT_INT(sd_event_new(&event), 0);
        endpoints[0] = (char *) etcd_runner_url(etcd);
        ASSERT_INT(etcd_client_new(event, &(EtcdOptions) { .endpoints = endpoints }, &client), 0);
}

/* units u000..u299 (launched, loaded, inactive in turn; every tenth an app instance), one key
 * that is not a unit record, a global unit on three machines, a schedule entry without a
 * unit; state for every placed unit, one record that is not one. */
TEST(fill) {
        char *keys[2 * N_UNITS + 16], *values[2 * N_UNITS + 16];
        static const char *const desired[] = { "launched", "loaded", "inactive" };
        size_t n = 0;

        for (int i = 0; i < N_UNITS; i++) {
                char name[32];
                snprintf(name, sizeof(name), "u%03d.service", i);
                ASSERT_TRUE(asprintf(&keys[n], P "units/%s", name) > 0);
                values[n++] = unit_value(name, desired[i % 3], i % 10 == 0 ? "app" : NULL);
                if (i % 3 != 2) {
                        ASSERT_TRUE(asprintf(&keys[n], P "schedule/%s/%s", machines[i % 3], name) > 0);
                        values[n++] = strdup("{\"name\":\"x\",\"hash\":\"h\",\"contents\":\"[Service]\\nExecStart=/bin/true\\n\","
                                             "\"desiredState\":\"launched\"}");
                }
        }
        keys[n] = strdup(P "units/bad.service");
        values[n++] = strdup("not a record");
        keys[n] = strdup(P "units/g.service");
        values[n++] = unit_value("g.service", "launched", NULL);
        for (int m = 0; m < 3; m++) {
                ASSERT_TRUE(asprintf(&keys[n], P "schedule/%s/g.service", machines[m]) > 0);
                values[n++] = strdup("{}");
        }
        keys[n] = strdup(P "schedule/" M2 "/ghost.service");
        values[n++] = strdup("{}");
        /* why the engine could not place some: one held on a draining machine, one record of no
         * unit, one that is not a record */
        keys[n] = strdup(P "placement/u005.service");
        values[n++] = placement_value("u005.service", "unschedulable", NULL, "no machine has metadata role=db");
        keys[n] = strdup(P "placement/u008.service");
        values[n++] = placement_value("u008.service", "stuck", M2, "MachineID= pins it to a draining machine");
        keys[n] = strdup(P "placement/ghost.service");
        values[n++] = placement_value("ghost.service", "unschedulable", NULL, "every machine is draining");
        keys[n] = strdup(P "placement/u011.service");
        values[n++] = strdup("{\"name\":\"u011.service\",\"state\":\"lost\"}");
        ASSERT_INT(put_many(keys, values, n) > 0, 1);
        for (size_t i = 0; i < n; i++) {
                free(keys[i]);
                free(values[i]);
        }

        n = 0;
        for (int i = 0; i < N_UNITS; i += 1) {
                char name[32];
                if (i % 3 == 2)
                        continue;
                snprintf(name, sizeof(name), "u%03d.service", i);
                ASSERT_TRUE(asprintf(&keys[n], P "state/%s/%s", name, machines[i % 3]) > 0);
                values[n++] = state_value(name, machines[i % 3], i % 7 == 0 ? "failed" : "active");
        }
        for (int m = 0; m < 3; m++) {
                ASSERT_TRUE(asprintf(&keys[n], P "state/g.service/%s", machines[m]) > 0);
                values[n++] = state_value("g.service", machines[m], "active");
        }
        keys[n] = strdup(P "state/bad.service/" M1);
        values[n++] = strdup("{\"name\":\"bad.service\"}");
        ASSERT_INT(put_many(keys, values, n) > 0, 1);
        for (size_t i = 0; i < n; i++) {
                free(keys[i]);
                free(values[i]);
        }
}

/* Nothing before the first list; requests during the load wait for it; then one load, three
 * watches, and the same answers as the reference. */
TEST(load_and_compare) {
        _cleanup_(list_cache_freep) ListCache *lc = cache_with(client, SEC(60), SEC(2));
        _cleanup_(got_done) Got a = {}, b = {};
        const ListData *d = NULL;

        ASSERT_TRUE(lc);
        run_for(SEC(0.2));
        ASSERT_INT(list_cache_state(lc), LIST_CACHE_IDLE);
        ASSERT_INT(list_cache_n_watches(lc), 0);
        ASSERT_INT(list_cache_n_loads(lc), 0);
        ASSERT_TRUE(!list_cache_peek(lc));

        ASSERT_INT(list_cache_get(lc, true, on_got, &a, &d), 0);
        ASSERT_INT(list_cache_state(lc), LIST_CACHE_LOADING);
        ASSERT_INT(list_cache_get(lc, false, on_got, &b, &d), 0);
        ASSERT_TRUE(RUN_UNTIL(a.calls > 0 && b.calls > 0, WAIT_TIMEOUT));
        ASSERT_INT(a.calls, 1);
        ASSERT_INT(a.error, 0);
        ASSERT_INT(b.error, 0);
        ASSERT_STR(a.units, b.units);
        ASSERT_INT(list_cache_state(lc), LIST_CACHE_READY);
        ASSERT_INT(list_cache_n_watches(lc), _LIST_PREFIX_MAX);
        ASSERT_INT(list_cache_n_loads(lc), 1);

        d = list_cache_peek(lc);
        ASSERT_TRUE(d);
        ASSERT_INT(list_data_count(d, LIST_UNITS), N_UNITS + 2);
        ASSERT_INT(list_data_count(d, LIST_SCHEDULE), 200 + 3 + 1);
        ASSERT_INT(list_data_count(d, LIST_STATE), 200 + 3);
        ASSERT_INT(list_data_count(d, LIST_PLACEMENT), 3);
        ASSERT_TRUE(same_as_old(lc, true));
        ASSERT_TRUE(strstr(a.units, "\"currentState\":\"inactive\",\"placement\":{\"state\":\"stuck\",\"reason\":"
                                    "\"MachineID= pins it to a draining machine\",\"machine\":\"" M2 "\"}}"));
        ASSERT_TRUE(strstr(a.units, "\"placement\":{\"state\":\"unschedulable\",\"reason\":\"no machine has metadata "
                                    "role=db\"}}"));

        /* loaded: the next list is answered at once, without another load */
        ASSERT_INT(list_cache_get(lc, true, on_got, &a, &d), 1);
        ASSERT_INT(list_cache_n_loads(lc), 1);
}

/* Puts and deletes on every prefix: the cache follows and still answers as the reference. */
TEST(follows_changes) {
        _cleanup_(list_cache_freep) ListCache *lc = cache_with(client, SEC(60), SEC(2));
        _cleanup_(got_done) Got g = {};
        _cleanup_free_ char *v1 = unit_value("new.service", "launched", "app"), *v2 = unit_value("u000.service", "inactive", NULL),
                            *s1 = state_value("new.service", M2, "activating"), *s2 = state_value("u001.service", M2, "failed"),
                            *p1 = placement_value("u010.service", "unschedulable", NULL, "not enough memory"),
                            *p2 = placement_value("u005.service", "unschedulable", NULL, "no eligible machine");

        ASSERT_TRUE(lc);
        ASSERT_INT(request(lc, false, &g), 0);
        ASSERT_INT(g.error, 0);

        ASSERT_TRUE(put1(P "units/new.service", v1) > 0);
        ASSERT_TRUE(put1(P "units/u000.service", v2) > 0);
        ASSERT_TRUE(del1(P "units/u004.service") > 0);
        ASSERT_TRUE(put1(P "units/bad2.service", "{\"broken\":") > 0);
        ASSERT_TRUE(put1(P "units/u007.service", "{}") > 0);  /* a record turned bad */
        ASSERT_TRUE(put1(P "schedule/" M2 "/new.service", "{}") > 0);
        ASSERT_TRUE(del1(P "schedule/" M1 "/u000.service") > 0);
        ASSERT_TRUE(del1(P "schedule/" M2 "/g.service") > 0);
        ASSERT_TRUE(put1(P "schedule/" M3 "/u001.service", "{}") > 0);
        ASSERT_TRUE(put1(P "state/new.service/" M2, s1) > 0);
        ASSERT_TRUE(put1(P "state/u001.service/" M2, s2) > 0);
        ASSERT_TRUE(del1(P "state/u003.service/" M1) > 0);
        ASSERT_TRUE(put1(P "state/u006.service/" M1, "not a record") > 0);
        ASSERT_TRUE(put1(P "placement/u010.service", p1) > 0);
        ASSERT_TRUE(put1(P "placement/u005.service", p2) > 0);  /* another reason */
        ASSERT_TRUE(del1(P "placement/ghost.service") > 0);
        ASSERT_TRUE(put1(P "placement/u008.service", "{}") > 0);  /* a record turned bad */

        ASSERT_TRUE(RUN_UNTIL(same_as_old(lc, false), WAIT_TIMEOUT));
        ASSERT_TRUE(same_as_old(lc, true));
        ASSERT_INT(list_cache_n_loads(lc), 1);
        ASSERT_INT(list_cache_n_watches(lc), _LIST_PREFIX_MAX);
}

/* A write through this fleetd (noted with its revision) is in the next list, even when the
 * watch has not delivered it yet: the list waits for the watch. */
TEST(read_your_writes) {
        _cleanup_(list_cache_freep) ListCache *lc = cache_with(client, SEC(60), SEC(5));
        _cleanup_(got_done) Got g = {}, put = {}, deleted = {};
        _cleanup_free_ char *v = unit_value("ryw.service", "launched", NULL);
        int64_t rev;

        ASSERT_TRUE(lc);
        ASSERT_INT(request(lc, true, &g), 0);
        ASSERT_TRUE(!has_unit(&g, "ryw.service"));

        rev = post_kv("/v3/kv/put", P "units/ryw.service", v);
        ASSERT_TRUE(rev > 0);
        list_cache_note_write(lc, rev);
        ASSERT_INT(request(lc, true, &put), 0);  /* queued: the loop has not run since the write */
        ASSERT_INT(put.calls, 1);
        ASSERT_INT(put.error, 0);
        ASSERT_TRUE(has_unit(&put, "ryw.service"));

        rev = post_kv("/v3/kv/deleterange", P "units/ryw.service", NULL);
        ASSERT_TRUE(rev > 0);
        list_cache_note_write(lc, rev);
        ASSERT_INT(request(lc, true, &deleted), 0);
        ASSERT_INT(deleted.error, 0);
        ASSERT_TRUE(!has_unit(&deleted, "ryw.service"));
        ASSERT_TRUE(same_as_old(lc, true));
}

/* A revision the watch never reaches: the request fails after wait_timeout, and the cache stops
 * insisting on it. State lists do not wait for units/ writes at all. */
TEST(wait_timeout) {
        _cleanup_(list_cache_freep) ListCache *lc = cache_with(client, SEC(60), SEC(0.5));
        _cleanup_(got_done) Got g = {}, late = {}, state = {}, after = {};
        const ListData *d = NULL;

        ASSERT_TRUE(lc);
        ASSERT_INT(request(lc, true, &g), 0);
        list_cache_note_write(lc, INT64_MAX / 2);
        ASSERT_INT(list_cache_get(lc, false, on_got, &state, &d), 1);
        /* the cache dates a request by the loop's time (that of its last wakeup), as handlers do */
        uint64_t t0;
        ASSERT_TRUE(sd_event_now(event, CLOCK_MONOTONIC, &t0) >= 0);
        ASSERT_INT(request(lc, true, &late), 0);
        ASSERT_INT(late.error, -ETIMEDOUT);
        ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) - t0 >= SEC(0.5));
        ASSERT_INT(list_cache_get(lc, true, on_got, &after, &d), 1);
        ASSERT_INT(list_cache_state(lc), LIST_CACHE_READY);
}

/* etcd restarts, and while the watches are away the history they need is compacted: -ESTALE,
 * and the cache loads again by itself. */
TEST(compaction_reloads) {
        _cleanup_(list_cache_freep) ListCache *lc = cache_with(client, SEC(60), SEC(2));
        _cleanup_(got_done) Got g = {};
        _cleanup_free_ char *v = unit_value("after-compaction.service", "loaded", NULL), *body = NULL;
        int64_t rev;

        ASSERT_TRUE(lc);
        ASSERT_INT(request(lc, false, &g), 0);
        ASSERT_INT(list_cache_n_loads(lc), 1);

        ASSERT_INT(etcd_runner_stop(etcd), 0);
        run_for(SEC(1));
        ASSERT_INT(etcd_runner_restart(etcd), 0);
        /* the loop does not run here: the watches cannot be back yet */
        ASSERT_TRUE(post_kv("/v3/kv/put", P "units/after-compaction.service", v) > 0);
        ASSERT_TRUE(post_kv("/v3/kv/put", P "schedule/" M1 "/after-compaction.service", "{}") > 0);
        rev = post_kv("/v3/kv/deleterange", P "state/u001.service/" M2, NULL);
        ASSERT_TRUE(rev > 0);
        ASSERT_TRUE(asprintf(&body, "{\"revision\":\"%" PRIi64 "\",\"physical\":true}", rev) > 0);
        ASSERT_INT(etcd_runner_post(etcd, "/v3/kv/compaction", body, NULL, NULL), 200);

        ASSERT_TRUE(RUN_UNTIL(list_cache_n_loads(lc) >= 2 && list_cache_state(lc) == LIST_CACHE_READY, SEC(30)));
        ASSERT_INT(list_cache_n_loads(lc), 2);
        ASSERT_INT(list_cache_n_watches(lc), _LIST_PREFIX_MAX);
        ASSERT_TRUE(same_as_old(lc, true));
        ASSERT_TRUE(strstr(g.units, "after-compaction") == NULL);
        ASSERT_INT(request(lc, true, &g), 1);
        ASSERT_TRUE(has_unit(&g, "after-compaction.service"));
}

/* Nobody lists for the idle timeout: no watch, no data, no timer left; a list while it runs
 * keeps it; the next list after expiry loads again. */
TEST(idle_expiry) {
        _cleanup_(list_cache_freep) ListCache *lc = cache_with(client, SEC(1), SEC(2));
        _cleanup_(got_done) Got g = {};

        ASSERT_TRUE(lc);
        ASSERT_INT(request(lc, false, &g), 0);
        ASSERT_INT(g.error, 0);
        ASSERT_INT(list_cache_n_watches(lc), _LIST_PREFIX_MAX);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        run_for(SEC(0.6));
        ASSERT_INT(request(lc, false, &g), 1);  /* used again at ~0.6 s: it must outlive 1 s */
        while (now_usec(CLOCK_MONOTONIC) < t0 + SEC(1.3))
                (void) sd_event_run(event, 20 * USEC_PER_MSEC);
        ASSERT_INT(list_cache_state(lc), LIST_CACHE_READY);
        ASSERT_INT(list_cache_n_watches(lc), _LIST_PREFIX_MAX);

        ASSERT_TRUE(RUN_UNTIL(list_cache_state(lc) == LIST_CACHE_IDLE, SEC(3)));
        ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) - t0 >= SEC(1.5));
        ASSERT_INT(list_cache_n_watches(lc), 0);
        ASSERT_TRUE(!list_cache_peek(lc));
        /* idle: nothing of it is armed on the loop any more */
        run_for(SEC(1));
        ASSERT_INT(list_cache_state(lc), LIST_CACHE_IDLE);
        ASSERT_INT(list_cache_n_loads(lc), 1);

        ASSERT_INT(request(lc, false, &g), 0);
        ASSERT_INT(g.error, 0);
        ASSERT_INT(list_cache_n_loads(lc), 2);
        ASSERT_INT(list_cache_n_watches(lc), _LIST_PREFIX_MAX);
}

/* etcd cannot be reached: every queued request gets the error, and nothing stays behind. */
TEST(load_failure) {
        char *endpoints[] = { (char *) "http://127.0.0.1:1", NULL };
        _cleanup_(etcd_client_freep) EtcdClient *dead = NULL;
        _cleanup_(list_cache_freep) ListCache *lc = NULL;
        _cleanup_(got_done) Got a = {}, b = {};
        const ListData *d = NULL;

        ASSERT_INT(etcd_client_new(event, &(EtcdOptions) { .endpoints = endpoints, .request_timeout = SEC(1) }, &dead), 0);
        lc = cache_with(dead, SEC(60), SEC(2));
        ASSERT_TRUE(lc);
        ASSERT_INT(list_cache_get(lc, false, on_got, &a, &d), 0);
        ASSERT_INT(list_cache_get(lc, true, on_got, &b, &d), 0);
        ASSERT_TRUE(RUN_UNTIL(a.calls > 0 && b.calls > 0, WAIT_TIMEOUT));
        ASSERT_INT(a.calls, 1);
        ASSERT_INT(b.calls, 1);
        ASSERT_TRUE(a.error < 0);
        ASSERT_INT(b.error, a.error);
        ASSERT_INT(list_cache_state(lc), LIST_CACHE_IDLE);
        ASSERT_INT(list_cache_n_watches(lc), 0);
        ASSERT_TRUE(!list_cache_peek(lc));
}

/* Freed with requests queued: each gets -ECANCELED, once. */
TEST(free_with_queue) {
        ListCache *lc = cache_with(client, SEC(60), SEC(2));
        _cleanup_(got_done) Got a = {};
        const ListData *d = NULL;

        ASSERT_TRUE(lc);
        ASSERT_INT(list_cache_get(lc, false, on_got, &a, &d), 0);
        list_cache_free(lc);
        ASSERT_INT(a.calls, 1);
        ASSERT_INT(a.error, -ECANCELED);
        run_for(SEC(0.3));
        ASSERT_INT(a.calls, 1);
}

TEST(stop_etcd) {
        client = etcd_client_free(client);
        event = sd_event_unref(event);
        etcd = etcd_runner_free(etcd);
}

TEST_MAIN(T(start_etcd),
          T(fill),
          T(load_and_compare),
          T(follows_changes),
          T(read_your_writes),
          T(wait_timeout),
          T(compaction_reloads),
          T(idle_expiry),
          T(load_failure),
          T(free_with_queue),
          T(stop_etcd));
