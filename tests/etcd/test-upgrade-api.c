/* SPDX-License-Identifier: Apache-2.0 */
/* The API of rolling host upgrades against a real etcd that the test starts itself: reboot
 * slots (locks/<group>: N concurrent acquirers for the last slot, exactly one wins; recursive;
 * release; expiry), FleetLock exactly as Zincati speaks it (headers, bodies, kinds; the
 * loopback listener that takes only this machine's id), drains and their status, reboot's
 * refusals. The handlers are fleetd's own (manager_api_routes, api_fleetlock_routes) on a
 * real ApiServer: the parent serves on its sd-event loop, a forked child is the client (curl,
 * many connections at once where it matters) and looks at etcd behind the server's back.
 * A refused request must change nothing: the store's revision stays the same.
 * FLEETD_TEST_DEBUG=1 shows the debug log.
 *
 * The Manager here has no agent: POST /v1/machines/<self>/reboot can never reach systemd. */

#include <arpa/inet.h>
#include <assert.h>
#include <curl/curl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "api-fleetlock.h"
#include "basic/base64.h"
#include "basic/json-util.h"
#include "etcd-runner.h"
#include "log.h"
#include "manager.h"
#include "reboot-slots.h"
#include "tests.h"

int test_failures = 0;

#define P "/ua/"
#define M1 "11111111111111111111111111111111"    /* this machine, host1 */
#define M2 "22222222222222222222222222222222"    /* host2 */
#define M4 "44444444444444444444444444444444"    /* down: only a drain of it */
#define F1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"    /* their FleetLock ids */
#define F2 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2"
#define N_RACERS 16
#define HOUR_USEC (3600 * USEC_PER_SEC)

#define PLAIN "[Service]\\nExecStart=/bin/true\\n"
#define GLOBAL "[Service]\\nExecStart=/bin/true\\n[X-Fleet]\\nGlobal=true\\n"

static EtcdRunner *etcd;
static char dir[] = "/tmp/test-upgrade-api.XXXXXX";
static char socket_path[PATH_MAX];
static char loopback_url[64];

/* ---- etcd behind the server's back (blocking, through the gateway) ---- */

static int64_t kv_post(const char *path, const char *body, json_t **ret) {
        _cleanup_free_ char *answer = NULL;
        int status = etcd_runner_post(etcd, path, body, NULL, &answer);
        json_auto_t *j = NULL;

        if (status != 200)
                return status < 0 ? status : -EIO;
        j = json_loads(answer, 0, NULL);
        if (!j)
                return -EBADMSG;
        int64_t rev = jx_int64(json_object_get(j, "header"), "revision", -EBADMSG);
        if (ret)
                *ret = TAKE_PTR(j);
        return rev;
}

static int64_t kv_put(const char *key, const char *value) {
        _cleanup_free_ char *k = NULL, *v = NULL, *body = NULL;

        if (base64_encode(key, strlen(key), &k) < 0 || base64_encode(value, strlen(value), &v) < 0 ||
            asprintf(&body, "{\"key\":\"%s\",\"value\":\"%s\"}", k, v) < 0)
                return -ENOMEM;
        return kv_post("/v3/kv/put", body, NULL);
}

static int64_t kv_del(const char *key) {
        _cleanup_free_ char *k = NULL, *body = NULL;

        if (base64_encode(key, strlen(key), &k) < 0 || asprintf(&body, "{\"key\":\"%s\"}", k) < 0)
                return -ENOMEM;
        return kv_post("/v3/kv/deleterange", body, NULL);
}

/* The value at key as JSON (NULL if there is none). */
static json_t *kv_get(const char *key) {
        _cleanup_free_ char *k = NULL, *body = NULL;
        _cleanup_free_ void *value = NULL;
        json_auto_t *answer = NULL;
        const char *v;
        size_t n;

        if (base64_encode(key, strlen(key), &k) < 0 || asprintf(&body, "{\"key\":\"%s\"}", k) < 0 ||
            kv_post("/v3/kv/range", body, &answer) < 0)
                return NULL;
        v = jx_str(json_array_get(json_object_get(answer, "kvs"), 0), "value");
        if (!v || base64_decode(v, strlen(v), &value, &n) < 0)
                return NULL;
        return json_loadb(value, n, 0, NULL);
}

/* The store's revision: it moves with every write, so a refused request must leave it. */
static int64_t revision(void) {
        return kv_post("/v3/kv/range", "{\"key\":\"AA==\"}", NULL);
}

static char *lock_value(const char *group, unsigned max, const char *id, uint64_t since) {
        char *v = NULL;

        if (asprintf(&v, "{\"group\":\"%s\",\"max\":%u,\"holders\":[{\"id\":\"%s\",\"since\":%" PRIu64 "}]}", group,
                     max, id, since) < 0)
                return NULL;
        return v;
}

static int64_t put_schedule(const char *machine, const char *unit, const char *contents) {
        _cleanup_free_ char *key = NULL, *value = NULL;

        if (asprintf(&key, P "schedule/%s/%s", machine, unit) < 0 ||
            asprintf(&value, "{\"name\":\"%s\",\"hash\":\"h\",\"contents\":\"%s\",\"desiredState\":\"launched\"}", unit,
                     contents) < 0)
                return -ENOMEM;
        return kv_put(key, value);
}

/* ---- HTTP, as the client ---- */

typedef struct Reply {
        CURLcode result;
        long status;
        char *body;
        size_t size;
        json_t *json;
} Reply;

static void reply_done(Reply *r) {
        free(r->body);
        json_decref(r->json);
        *r = (Reply) {};
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata) {
        Reply *r = userdata;
        char *b = realloc(r->body, r->size + size * n + 1);

        if (!b)
                return 0;
        memcpy(b + r->size, data, size * n);
        r->body = b;
        r->size += size * n;
        r->body[r->size] = '\0';
        return size * n;
}

typedef struct Call {
        CURL *easy;
        struct curl_slist *headers;
        Reply reply;
} Call;

static void call_done(Call *c) {
        curl_easy_cleanup(c->easy);
        curl_slist_free_all(c->headers);
        reply_done(&c->reply);
}

/* path on the unix socket, or on the loopback listener when it starts with "lo:". */
static int call_setup(Call *c, const char *method, const char *path, const char *header, const char *body) {
        char url[512];

        *c = (Call) { .easy = curl_easy_init() };
        if (!c->easy)
                return -ENOMEM;
        if (startswith(path, "lo:"))
                snprintf(url, sizeof(url), "%s%s", loopback_url, path + 3);
        else {
                snprintf(url, sizeof(url), "http://localhost%s", path);
                curl_easy_setopt(c->easy, CURLOPT_UNIX_SOCKET_PATH, socket_path);
        }
        curl_easy_setopt(c->easy, CURLOPT_URL, url);
        curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, &c->reply);
        curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, 20000L);
        curl_easy_setopt(c->easy, CURLOPT_FORBID_REUSE, 1L);
        /* no Expect: 100-continue, no Content-Type: what Zincati's client sends */
        c->headers = curl_slist_append(NULL, "Expect:");
        c->headers = curl_slist_append(c->headers, "Content-Type:");
        if (header)
                c->headers = curl_slist_append(c->headers, header);
        curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
        if (body) {
                curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
        }
        curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, method);
        return 0;
}

static void call_finish(Call *c) {
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->reply.status);
        if (c->reply.body)
                c->reply.json = json_loadb(c->reply.body, c->reply.size, 0, NULL);
}

static void http(const char *method, const char *path, const char *header, const char *body, Reply *ret) {
        Call c;

        *ret = (Reply) {};
        if (call_setup(&c, method, path, header, body) < 0)
                return;
        c.reply.result = curl_easy_perform(c.easy);
        call_finish(&c);
        *ret = c.reply;
        c.reply = (Reply) {};
        call_done(&c);
}

/* n requests at once, each on a connection of its own, all in flight together. */
static void http_many(size_t n, const char *method, const char *path, char **bodies, Reply *ret) {
        Call calls[N_RACERS];
        CURLM *multi = curl_multi_init();
        int running = 0;

        assert(n <= N_RACERS);
        for (size_t i = 0; i < n; i++) {
                call_setup(&calls[i], method, path, NULL, bodies[i]);
                curl_multi_add_handle(multi, calls[i].easy);
        }
        do {
                curl_multi_perform(multi, &running);
                if (running)
                        curl_multi_poll(multi, NULL, 0, 1000, NULL);
        } while (running);
        for (size_t i = 0; i < n; i++) {
                call_finish(&calls[i]);
                curl_multi_remove_handle(multi, calls[i].easy);
                ret[i] = calls[i].reply;
                calls[i].reply = (Reply) {};
                call_done(&calls[i]);
        }
        curl_multi_cleanup(multi);
}

static const char *jstr(const Reply *r, const char *key) {
        return json_string_value(json_object_get(r->json, key));
}

static const char *error_code(const Reply *r) {
        return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

/* FleetLock's error contract: exactly {"kind": kind, "value": "..."} with the status. */
#define ASSERT_KIND(r, st, k)                                                                     \
        do {                                                                                      \
                ASSERT_INT((r)->result, CURLE_OK);                                                \
                if ((r)->status != (st))                                                          \
                        fprintf(stderr, "answer: %s\n", strna((r)->body));                        \
                ASSERT_INT((r)->status, st);                                                      \
                ASSERT_TRUE(json_is_object((r)->json) && json_object_size((r)->json) == 2);       \
                ASSERT_STR(jstr(r, "kind"), k);                                                   \
                ASSERT_TRUE(!isempty(jstr(r, "value")));                                          \
        } while (0)

#define ASSERT_STATUS(r, st)                                                                      \
        do {                                                                                      \
                ASSERT_INT((r)->result, CURLE_OK);                                                \
                if ((r)->status != (st))                                                          \
                        fprintf(stderr, "answer: %s\n", strna((r)->body));                        \
                ASSERT_INT((r)->status, st);                                                      \
        } while (0)

#define HDR "fleet-lock-protocol: true"

/* Zincati's body, pretty-printed as serde_json writes it. */
static char *zincati_body(const char *id, const char *group) {
        char *b = NULL;

        if (asprintf(&b, "{\n  \"client_params\": {\n    \"id\": \"%s\",\n    \"group\": \"%s\"\n  }\n}", id, group) < 0)
                return NULL;
        return b;
}

static void fleetlock(const char *path, const char *id, const char *group, Reply *ret) {
        _cleanup_free_ char *body = zincati_body(id, group);

        http("POST", path, HDR, body, ret);
}

static size_t holders(const char *group) {
        _cleanup_free_ char *key = NULL;
        json_auto_t *j = NULL;

        if (asprintf(&key, P "locks/%s", group) < 0)
                return SIZE_MAX;
        j = kv_get(key);
        return j ? json_array_size(json_object_get(j, "holders")) : 0;
}

/* ---- the cases (in the child) ---- */

TEST(locks_empty) {
        _cleanup_(reply_done) Reply r;

        http("GET", "/v1/locks", NULL, NULL, &r);
        ASSERT_STATUS(&r, 200);
        ASSERT_STR(r.body, "{\"locks\":[]}\n");
        reply_done(&r);
        /* a group without a key: max 1, no holders */
        http("GET", "/v1/locks/default", NULL, NULL, &r);
        ASSERT_STATUS(&r, 200);
        ASSERT_STR(r.body, "{\"group\":\"default\",\"max\":1,\"holders\":[]}\n");
}

TEST(locks_bad_input) {
        static const struct {
                const char *method, *path, *body;
        } bad[] = {
                { "PUT", "/v1/locks/bad_group", "{\"max\":1}" },
                { "PUT", "/v1/locks/g1", "{\"max\":0}" },
                { "PUT", "/v1/locks/g1", "{\"max\":1001}" },
                { "PUT", "/v1/locks/g1", "{\"max\":\"2\"}" },
                { "PUT", "/v1/locks/g1", "{\"max\":2,\"x\":1}" },
                { "PUT", "/v1/locks/g1", "{" },
                { "PUT", "/v1/locks/g1", "" },
                { "GET", "/v1/locks/a%20b", NULL },
                { "POST", "/v1/locks/g1/holders", "{\"id\":\"a b\"}" },
                { "POST", "/v1/locks/g1/holders", "{}" },
                { "POST", "/v1/locks/g1/holders", "{\"id\":\"x\",\"machine\":\"abc\"}" },
                { "POST", "/v1/locks/g.1_/holders", "{\"id\":\"x\"}" },
                { "DELETE", "/v1/locks/g1/holders/a%20b", NULL },
        };
        int64_t before = revision();

        ASSERT_TRUE(before > 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(reply_done) Reply r;
                http(bad[i].method, bad[i].path, NULL, bad[i].body, &r);
                if (r.status != 400)
                        fprintf(stderr, "%s %s %s: %ld %s\n", bad[i].method, bad[i].path, strna(bad[i].body), r.status,
                                strna(r.body));
                ASSERT_INT(r.status, 400);
                ASSERT_STR(error_code(&r), "bad_request");
        }
        ASSERT_INT(revision(), before);
}

TEST(locks_set_max) {
        _cleanup_(reply_done) Reply r;
        json_auto_t *j = NULL;

        http("PUT", "/v1/locks/g1", NULL, "{\"max\":2}", &r);
        ASSERT_STATUS(&r, 200);
        ASSERT_STR(r.body, "{\"group\":\"g1\",\"max\":2,\"holders\":[]}\n");
        j = kv_get(P "locks/g1");
        ASSERT_INT(jx_int64(j, "max", 0), 2);
        /* the same max again writes nothing */
        int64_t before = revision();
        reply_done(&r);
        http("PUT", "/v1/locks/g1", NULL, "{\"max\":2}", &r);
        ASSERT_STATUS(&r, 200);
        ASSERT_INT(revision(), before);
}

/* N requests race for slots of group, from N connections at once: exactly `free` win. */
static void race(const char *group, size_t free_slots) {
        char *bodies[N_RACERS];
        Reply replies[N_RACERS];
        _cleanup_free_ char *path = NULL;
        size_t won = 0, full = 0;

        ASSERT_TRUE(asprintf(&path, "/v1/locks/%s/holders", group) > 0);
        for (size_t i = 0; i < N_RACERS; i++)
                ASSERT_TRUE(asprintf(&bodies[i], "{\"id\":\"racer-%zu\",\"by\":\"test\"}", i) > 0);
        http_many(N_RACERS, "POST", path, bodies, replies);
        for (size_t i = 0; i < N_RACERS; i++) {
                if (replies[i].status == 200)
                        won++;
                else if (replies[i].status == 409 && streq_ptr(error_code(&replies[i]), "failed_lock_semaphore_full"))
                        full++;
                else
                        fprintf(stderr, "racer %zu: %ld %s\n", i, replies[i].status, strna(replies[i].body));
                reply_done(&replies[i]);
                free(bodies[i]);
        }
        ASSERT_INT(won, free_slots);
        ASSERT_INT(full, N_RACERS - free_slots);
}

TEST(last_slot_race) {
        _cleanup_(reply_done) Reply r;

        /* g1 has max 2: one taken, then N race for the last one */
        http("POST", "/v1/locks/g1/holders", NULL, "{\"id\":\"first\"}", &r);
        ASSERT_STATUS(&r, 200);
        ASSERT_TRUE(json_is_false(json_object_get(r.json, "recursive")));
        ASSERT_STR(jstr(&r, "holder"), "first");
        race("g1", 1);
        ASSERT_INT(holders("g1"), 2);

        /* g2 has no key yet: N race to create it (compare version == 0) for its one slot */
        race("g2", 1);
        ASSERT_INT(holders("g2"), 1);
}

TEST(recursive_and_release) {
        _cleanup_(reply_done) Reply r;
        int64_t before = revision();

        /* a holder asking again: 200, nothing written */
        http("POST", "/v1/locks/g1/holders", NULL, "{\"id\":\"first\"}", &r);
        ASSERT_STATUS(&r, 200);
        ASSERT_TRUE(json_is_true(json_object_get(r.json, "recursive")));
        ASSERT_INT(revision(), before);
        reply_done(&r);

        http("DELETE", "/v1/locks/g1/holders/first", NULL, NULL, &r);
        ASSERT_STATUS(&r, 200);
        ASSERT_TRUE(json_is_true(json_object_get(r.json, "released")));
        ASSERT_INT(holders("g1"), 1);
        reply_done(&r);
        /* 200 also when it holds none, and nothing is written */
        before = revision();
        http("DELETE", "/v1/locks/g1/holders/first", NULL, NULL, &r);
        ASSERT_STATUS(&r, 200);
        ASSERT_TRUE(json_is_false(json_object_get(r.json, "released")));
        ASSERT_INT(revision(), before);
        reply_done(&r);

        http("GET", "/v1/locks", NULL, NULL, &r);
        ASSERT_STATUS(&r, 200);
        ASSERT_INT(json_array_size(json_object_get(r.json, "locks")), 2);
}

TEST(expiry) {
        _cleanup_free_ char *old = lock_value("g3", 1, "gone-host", now_usec(CLOCK_REALTIME) - 2 * HOUR_USEC);
        _cleanup_free_ char *recent = lock_value("g4", 1, "rebooting", now_usec(CLOCK_REALTIME) - HOUR_USEC / 2);
        _cleanup_(reply_done) Reply r;
        json_auto_t *j = NULL;

        /* reboot_slot_timeout is 1h here: a holder of 2h ago goes in the acquire's txn */
        ASSERT_TRUE(kv_put(P "locks/g3", old) > 0);
        http("POST", "/v1/locks/g3/holders", NULL, "{\"id\":\"next\"}", &r);
        ASSERT_STATUS(&r, 200);
        ASSERT_STR(json_string_value(json_array_get(json_object_get(r.json, "expired"), 0)), "gone-host");
        j = kv_get(P "locks/g3");
        ASSERT_INT(json_array_size(json_object_get(j, "holders")), 1);
        ASSERT_STR(jx_str(json_array_get(json_object_get(j, "holders"), 0), "id"), "next");
        reply_done(&r);

        /* one of half an hour ago holds on */
        ASSERT_TRUE(kv_put(P "locks/g4", recent) > 0);
        int64_t before = revision();
        http("POST", "/v1/locks/g4/holders", NULL, "{\"id\":\"next\"}", &r);
        ASSERT_STATUS(&r, 409);
        ASSERT_STR(error_code(&r), "failed_lock_semaphore_full");
        ASSERT_INT(revision(), before);
}

TEST(malformed_lock_is_not_overwritten) {
        _cleanup_(reply_done) Reply r;

        ASSERT_TRUE(kv_put(P "locks/g5", "{\"group\":\"g5\",\"max\":0}") > 0);
        int64_t before = revision();
        http("POST", "/v1/locks/g5/holders", NULL, "{\"id\":\"x\"}", &r);
        ASSERT_STATUS(&r, 500);
        ASSERT_INT(revision(), before);
        ASSERT_TRUE(kv_del(P "locks/g5") > 0);
}

/* FleetLock: what is refused, on both listeners; nothing changes in etcd. */
TEST(fleetlock_refusals) {
        _cleanup_free_ char *own = zincati_body(F1, "fl"), *other = zincati_body(F2, "fl");
        _cleanup_free_ char *unknown = zincati_body("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "fl");
        _cleanup_free_ char *bad_group = zincati_body(F1, "a_b");
        static const char *const paths[] = { "/v1/pre-reboot", "lo:/v1/pre-reboot", "/v1/steady-state",
                                             "lo:/v1/steady-state" };
        int64_t before = revision();

        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                _cleanup_(reply_done) Reply a, b, c, d, e, f;

                http("POST", paths[i], NULL, own, &a);
                ASSERT_KIND(&a, 400, "missing_header");
                http("POST", paths[i], "fleet-lock-protocol: false", own, &b);
                ASSERT_KIND(&b, 400, "missing_header");
                http("POST", paths[i], HDR, "{\"client_params\": {\"id\": \"x\"", &c);
                ASSERT_KIND(&c, 400, "invalid_body");
                http("POST", paths[i], HDR, "{\"client_params\": {\"group\": \"default\"}}", &d);
                ASSERT_KIND(&d, 400, "invalid_body");
                http("POST", paths[i], HDR, bad_group, &e);
                ASSERT_KIND(&e, 400, "invalid_group");
                http("POST", paths[i], HDR, NULL, &f);
                ASSERT_KIND(&f, 400, "invalid_body");
        }
        {
                _cleanup_(reply_done) Reply a, b, c, d, e;

                /* an id no machine has */
                http("POST", "/v1/pre-reboot", HDR, unknown, &a);
                ASSERT_KIND(&a, 404, "unknown_machine");
                /* the loopback listener speaks for this machine only */
                http("POST", "lo:/v1/pre-reboot", HDR, other, &b);
                ASSERT_KIND(&b, 403, "forbidden");
                http("POST", "lo:/v1/steady-state", HDR, unknown, &c);
                ASSERT_KIND(&c, 403, "forbidden");
                /* and it has nothing but the two routes */
                http("GET", "lo:/v1/pre-reboot", HDR, NULL, &d);
                ASSERT_STATUS(&d, 405);
                http("GET", "lo:/v1/machines", NULL, NULL, &e);
                ASSERT_STATUS(&e, 404);
        }
        ASSERT_INT(revision(), before);
}

TEST(fleetlock_pre_reboot) {
        _cleanup_(reply_done) Reply a, b, c, d, e;
        json_auto_t *lock = NULL, *drain = NULL;

        ASSERT_TRUE(put_schedule(M1, "web.service", PLAIN) > 0);
        ASSERT_TRUE(put_schedule(M1, "router.service", GLOBAL) > 0);

        /* host1's Zincati: a slot, and the drain begins; not drained yet */
        fleetlock("lo:/v1/pre-reboot", F1, "fl", &a);
        ASSERT_KIND(&a, 503, "drain_in_progress");
        ASSERT_CONTAINS(jstr(&a, "value"), "web.service (moving)");
        lock = kv_get(P "locks/fl");
        ASSERT_INT(json_array_size(json_object_get(lock, "holders")), 1);
        ASSERT_STR(jx_str(json_array_get(json_object_get(lock, "holders"), 0), "id"), F1);
        ASSERT_STR(jx_str(json_array_get(json_object_get(lock, "holders"), 0), "machine"), M1);
        drain = kv_get(P "drain/" M1);
        ASSERT_STR(jx_str(drain, "source"), "fleetlock");
        ASSERT_TRUE(json_is_false(json_object_get(drain, "force")));

        /* host2 asks for the same group (max 1): full, and nothing is drained */
        int64_t before = revision();
        fleetlock("/v1/pre-reboot", F2, "fl", &b);
        ASSERT_KIND(&b, 409, "failed_lock_semaphore_full");
        ASSERT_CONTAINS(jstr(&b, "value"), F1);
        ASSERT_INT(revision(), before);
        ASSERT_TRUE(!kv_get(P "drain/" M2));

        /* the unit cannot move: blocked */
        ASSERT_TRUE(kv_put(P "placement/web.service", "{\"name\":\"web.service\",\"state\":\"stuck\",\"machine\":\"" M1
                                                      "\",\"reason\":\"cannot move off draining host1: pinned\",\"since\":1}") > 0);
        fleetlock("lo:/v1/pre-reboot", F1, "fl", &c);
        ASSERT_KIND(&c, 503, "drain_blocked");
        ASSERT_CONTAINS(jstr(&c, "value"), "cannot move off draining host1: pinned");

        /* gone: drained (the global unit stays), 200; asked again, 200 and nothing written */
        ASSERT_TRUE(kv_del(P "placement/web.service") > 0);
        ASSERT_TRUE(kv_del(P "schedule/" M1 "/web.service") > 0);
        fleetlock("lo:/v1/pre-reboot", F1, "fl", &d);
        ASSERT_STATUS(&d, 200);
        ASSERT_STR(jstr(&d, "state"), "drained");
        ASSERT_STR(jstr(&d, "machine"), M1);
        before = revision();
        fleetlock("/v1/pre-reboot", F1, "fl", &e);
        ASSERT_STATUS(&e, 200);
        ASSERT_INT(revision(), before);
}

TEST(machines_show_drains) {
        _cleanup_(reply_done) Reply r, one;
        json_t *m1 = NULL, *m2 = NULL;

        http("GET", "/v1/machines", NULL, NULL, &r);
        ASSERT_STATUS(&r, 200);
        ASSERT_INT(json_array_size(json_object_get(r.json, "machines")), 2);
        m1 = json_array_get(json_object_get(r.json, "machines"), 0);
        m2 = json_array_get(json_object_get(r.json, "machines"), 1);
        ASSERT_STR(jx_str(m1, "id"), M1);
        ASSERT_STR(jx_str(m1, "state"), "draining");
        ASSERT_STR(jx_str(json_object_get(m1, "drain"), "source"), "fleetlock");
        ASSERT_STR(jx_str(m1, "fleetlockId"), F1);
        ASSERT_STR(jx_str(m2, "state"), "active");
        ASSERT_TRUE(!json_object_get(m2, "drain"));

        http("GET", "/v1/machines/" M1, NULL, NULL, &one);
        ASSERT_STATUS(&one, 200);
        ASSERT_STR(jstr(&one, "state"), "draining");
        ASSERT_STR(jx_str(json_object_get(one.json, "drain"), "machine"), M1);
}

TEST(fleetlock_steady_state) {
        _cleanup_(reply_done) Reply a, b, c, d, e, f;
        json_auto_t *rebalance = NULL, *drain = NULL;

        fleetlock("lo:/v1/steady-state", F1, "fl", &a);
        ASSERT_STATUS(&a, 200);
        ASSERT_TRUE(json_is_true(json_object_get(a.json, "uncordoned")));
        ASSERT_INT(holders("fl"), 0);
        ASSERT_TRUE(!kv_get(P "drain/" M1));
        rebalance = kv_get(P "rebalance/" M1);
        ASSERT_STR(jx_str(rebalance, "machine"), M1);
        ASSERT_TRUE(kv_del(P "rebalance/" M1) > 0);

        /* again: nothing held, 200, nothing written */
        int64_t before = revision();
        fleetlock("lo:/v1/steady-state", F1, "fl", &b);
        ASSERT_STATUS(&b, 200);
        ASSERT_TRUE(json_is_false(json_object_get(b.json, "uncordoned")));
        ASSERT_INT(revision(), before);

        /* a drain that FleetLock did not start is not FleetLock's to end */
        http("POST", "/v1/machines/" M1 "/drain", NULL, "{\"force\":true,\"by\":\"alice\"}", &c);
        ASSERT_STATUS(&c, 200);
        fleetlock("/v1/pre-reboot", F1, "fl", &d);
        ASSERT_STATUS(&d, 200);
        drain = kv_get(P "drain/" M1);
        ASSERT_STR(jx_str(drain, "source"), "fleetctl");
        ASSERT_STR(jx_str(drain, "by"), "alice");
        fleetlock("/v1/steady-state", F1, "fl", &e);
        ASSERT_STATUS(&e, 200);
        ASSERT_TRUE(json_is_false(json_object_get(e.json, "uncordoned")));
        ASSERT_INT(holders("fl"), 0);
        json_decref(drain);
        drain = kv_get(P "drain/" M1);
        ASSERT_TRUE(drain);
        http("DELETE", "/v1/machines/" M1 "/drain?rebalance=0", NULL, NULL, &f);
        ASSERT_STATUS(&f, 200);
        ASSERT_TRUE(json_is_true(json_object_get(f.json, "uncordoned")));
        ASSERT_TRUE(json_is_false(json_object_get(f.json, "rebalance")));
        ASSERT_TRUE(!kv_get(P "drain/" M1));
        ASSERT_TRUE(!kv_get(P "rebalance/" M1));
}

TEST(fleetlock_second_host) {
        _cleanup_(reply_done) Reply a, b;

        /* the slot is free again: host2 (nothing runs there) is drained at once */
        fleetlock("/v1/pre-reboot", F2, "fl", &a);
        ASSERT_STATUS(&a, 200);
        ASSERT_STR(jstr(&a, "machine"), M2);
        fleetlock("/v1/steady-state", F2, "fl", &b);
        ASSERT_STATUS(&b, 200);
        ASSERT_TRUE(json_is_true(json_object_get(b.json, "uncordoned")));
        ASSERT_TRUE(!kv_get(P "drain/" M2));
        ASSERT_TRUE(kv_del(P "rebalance/" M2) > 0);
}

TEST(drain_api) {
        _cleanup_(reply_done) Reply a, b, c, d, e, f;
        json_t *left;

        http("POST", "/v1/machines/host2/drain", NULL, NULL, &a);
        ASSERT_STATUS(&a, 200);
        ASSERT_STR(jstr(&a, "machine"), M2);
        ASSERT_STR(jstr(&a, "source"), "fleetctl");
        ASSERT_STR(jstr(&a, "by"), "api");
        ASSERT_TRUE(json_is_false(json_object_get(a.json, "force")));
        int64_t since = jx_int64(a.json, "since", 0);

        /* again with force: force is added, since and by stay */
        http("POST", "/v1/machines/2222/drain", NULL, "{\"force\":true,\"by\":\"bob\"}", &b);
        ASSERT_STATUS(&b, 200);
        ASSERT_TRUE(json_is_true(json_object_get(b.json, "force")));
        ASSERT_INT(jx_int64(b.json, "since", 0), since);
        ASSERT_STR(jstr(&b, "by"), "api");

        http("GET", "/v1/drains", NULL, NULL, &c);
        ASSERT_STATUS(&c, 200);
        ASSERT_INT(json_array_size(json_object_get(c.json, "drains")), 1);

        ASSERT_TRUE(put_schedule(M2, "hello_v1.web@1.service", PLAIN) > 0);
        http("GET", "/v1/machines/10.0.0.12/drain", NULL, NULL, &d);
        ASSERT_STATUS(&d, 200);
        ASSERT_TRUE(json_is_true(json_object_get(d.json, "draining")));
        ASSERT_STR(jstr(&d, "state"), "draining");
        ASSERT_STR(jstr(&d, "hostname"), "host2");
        left = json_array_get(json_object_get(d.json, "remaining"), 0);
        ASSERT_STR(jx_str(left, "unit"), "hello_v1.web@1.service");
        ASSERT_STR(jx_str(left, "kind"), "app");
        ASSERT_STR(jx_str(left, "state"), "replacing");
        ASSERT_TRUE(kv_del(P "schedule/" M2 "/hello_v1.web@1.service") > 0);

        /* host1 is the last schedulable machine now: refused without force, nothing written */
        ASSERT_TRUE(put_schedule(M1, "pinned.service", PLAIN) > 0);
        int64_t before = revision();
        http("POST", "/v1/machines/host1/drain", NULL, "{}", &e);
        ASSERT_STATUS(&e, 409);
        ASSERT_STR(error_code(&e), "conflict");
        ASSERT_CONTAINS(json_string_value(json_object_get(json_object_get(e.json, "error"), "message")),
                        "last schedulable machine");
        ASSERT_CONTAINS(json_string_value(json_object_get(json_object_get(e.json, "error"), "message")),
                        "pinned.service");
        ASSERT_INT(revision(), before);
        http("POST", "/v1/machines/host1/drain", NULL, "{\"force\":true}", &f);
        ASSERT_STATUS(&f, 200);
        ASSERT_TRUE(json_is_true(json_object_get(f.json, "force")));
        ASSERT_TRUE(kv_del(P "schedule/" M1 "/pinned.service") > 0);
}

TEST(uncordon) {
        _cleanup_(reply_done) Reply a, b, c;
        json_auto_t *rebalance = NULL;

        http("DELETE", "/v1/machines/host2/drain", NULL, NULL, &a);
        ASSERT_STATUS(&a, 200);
        ASSERT_TRUE(json_is_true(json_object_get(a.json, "uncordoned")));
        ASSERT_TRUE(json_is_true(json_object_get(a.json, "rebalance")));
        rebalance = kv_get(P "rebalance/" M2);
        ASSERT_STR(jx_str(rebalance, "machine"), M2);
        ASSERT_TRUE(kv_del(P "rebalance/" M2) > 0);

        int64_t before = revision();
        http("DELETE", "/v1/machines/host2/drain", NULL, NULL, &b);
        ASSERT_STATUS(&b, 200);
        ASSERT_TRUE(json_is_false(json_object_get(b.json, "uncordoned")));
        ASSERT_INT(revision(), before);

        http("DELETE", "/v1/machines/host1/drain?rebalance=0", NULL, NULL, &c);
        ASSERT_STATUS(&c, 200);
        ASSERT_TRUE(json_is_true(json_object_get(c.json, "uncordoned")));
        ASSERT_TRUE(!kv_get(P "rebalance/" M1));
}

TEST(drain_bad_input) {
        static const struct {
                const char *method, *path, *body;
                long status;
        } bad[] = {
                { "POST", "/v1/machines/host9/drain", "{}", 404 },
                { "GET", "/v1/machines/host9/drain", NULL, 404 },
                { "DELETE", "/v1/machines/host9/drain", NULL, 404 },
                { "POST", "/v1/machines/host1/drain", "{\"force\":\"yes\"}", 400 },
                { "POST", "/v1/machines/host1/drain", "{\"source\":\"zincati\"}", 400 },
                { "POST", "/v1/machines/host1/drain", "{\"x\":1}", 400 },
                { "POST", "/v1/machines/host1/drain", "[]", 400 },
                { "POST", "/v1/machines/host1/drain", "{\"by\":\"\"}", 400 },
                { "DELETE", "/v1/machines/host1/drain?rebalance=maybe", NULL, 400 },
                { "GET", "/v1/machines/nothex", NULL, 400 },
                { "GET", "/v1/machines/" M4, NULL, 404 },
                { "POST", "/v1/machines/host9/reboot", "{}", 404 },
                { "POST", "/v1/machines/host1/reboot", "{\"force\":1}", 400 },
        };
        int64_t before = revision();

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(reply_done) Reply r;
                http(bad[i].method, bad[i].path, NULL, bad[i].body, &r);
                if (r.status != bad[i].status)
                        fprintf(stderr, "%s %s %s: %ld %s\n", bad[i].method, bad[i].path, strna(bad[i].body), r.status,
                                strna(r.body));
                ASSERT_INT(r.status, bad[i].status);
                ASSERT_TRUE(error_code(&r));
        }
        ASSERT_INT(revision(), before);
}

TEST(reboot_refusals) {
        _cleanup_(reply_done) Reply a, b, c, d, e;
        int64_t before = revision();

        /* this machine, not drained */
        http("POST", "/v1/machines/host1/reboot", NULL, "{}", &a);
        ASSERT_STATUS(&a, 409);
        ASSERT_CONTAINS(json_string_value(json_object_get(json_object_get(a.json, "error"), "message")),
                        "not drained");
        /* with force it would reboot; this Manager has no agent to ask systemd */
        http("POST", "/v1/machines/host1/reboot", NULL, "{\"force\":true}", &b);
        ASSERT_STATUS(&b, 503);
        /* another machine's fleetd: no TCP API and no certificate here */
        http("POST", "/v1/machines/host2/reboot", NULL, NULL, &c);
        ASSERT_STATUS(&c, 502);
        ASSERT_STR(error_code(&c), "bad_gateway");
        ASSERT_INT(revision(), before);

        /* a machine that is down: known by its drain, but nobody can be asked */
        ASSERT_TRUE(kv_put(P "drain/" M4, "{\"machine\":\"" M4 "\",\"source\":\"fleetctl\",\"since\":1}") > 0);
        http("POST", "/v1/machines/4444/reboot", NULL, NULL, &d);
        ASSERT_STATUS(&d, 409);
        http("GET", "/v1/drains", NULL, NULL, &e);
        ASSERT_INT(json_array_size(json_object_get(e.json, "drains")), 1);
        ASSERT_TRUE(kv_del(P "drain/" M4) > 0);
}

static int run_child(void) {
        static const TestCase cases[] = {
                T(locks_empty),        T(locks_bad_input),      T(locks_set_max),
                T(last_slot_race),     T(recursive_and_release), T(expiry),
                T(malformed_lock_is_not_overwritten),           T(fleetlock_refusals),
                T(fleetlock_pre_reboot), T(machines_show_drains), T(fleetlock_steady_state),
                T(fleetlock_second_host), T(drain_api),         T(uncordon),
                T(drain_bad_input),    T(reboot_refusals),
        };

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
                return EXIT_FAILURE;
        int r = run_tests(cases, ELEMENTSOF(cases));
        curl_global_cleanup();
        return r;
}

/* ---- the server (the parent) ---- */

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        int code = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
        return sd_event_exit(sd_event_source_get_event(s), code);
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        fprintf(stderr, "timed out waiting for the client\n");
        return sd_event_exit(sd_event_source_get_event(s), 124);
}

/* A port on 127.0.0.1 that nothing listens on right now. */
static int free_port(uint16_t *ret) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return -errno;
        *ret = ntohs(sa.sin_port);
        return 0;
}

static Manager manager;

static char machine_value[2][512];

static int seed(void) {
        snprintf(machine_value[0], sizeof(machine_value[0]),
                 "{\"id\":\"" M1 "\",\"hostname\":\"host1\",\"ip\":\"10.0.0.11\",\"metadata\":{},\"capacity\":"
                 "{\"cpu\":1,\"memory\":1},\"state\":\"active\",\"version\":\"t\",\"fleetlockId\":\"" F1 "\"}");
        snprintf(machine_value[1], sizeof(machine_value[1]),
                 "{\"id\":\"" M2 "\",\"hostname\":\"host2\",\"ip\":\"10.0.0.12\",\"metadata\":{},\"capacity\":"
                 "{\"cpu\":1,\"memory\":1},\"state\":\"active\",\"version\":\"t\",\"fleetlockId\":\"" F2 "\"}");
        if (kv_put(P "machines/" M1, machine_value[0]) < 0 || kv_put(P "machines/" M2, machine_value[1]) < 0)
                return -EIO;
        return 0;
}

/* The Manager the handlers see: config, etcd client, this machine; no agent, no presence. */
static int manager_setup(sd_event *e) {
        _cleanup_free_ char *servers = NULL;
        int r;

        r = config_new(&manager.config);
        if (r < 0)
                return r;
        if (asprintf(&servers, "%s", etcd_runner_url(etcd)) < 0)
                return -ENOMEM;
        if ((r = config_set(manager.config, "etcd_servers", servers, "test", NULL)) < 0 ||
            (r = config_set(manager.config, "etcd_key_prefix", P, "test", NULL)) < 0 ||
            (r = config_set(manager.config, "reboot_slot_timeout", "1h", "test", NULL)) < 0)
                return r;
        EtcdOptions o = config_etcd_client_options(manager.config);
        r = etcd_client_new(e, &o, &manager.etcd);
        if (r < 0)
                return r;
        manager.event = e;
        strcpy(manager.self.id, M1);
        manager.self.hostname = strdup("host1");
        manager.self.ip = strdup("10.0.0.11");
        manager.self.version = strdup("t");
        manager.self.fleetlock_id = strdup(F1);
        return manager.self.hostname && manager.self.ip && manager.self.version && manager.self.fleetlock_id ? 0
                                                                                                        : -ENOMEM;
}

static int server_setup(sd_event *e, ApiServer **ret) {
        _cleanup_(api_server_freep) ApiServer *s = NULL;
        char listen[32];
        uint16_t port = 0;
        int r;

        r = api_server_new(e, socket_path, manager_api_routes, &manager, &s);
        if (r < 0)
                return r;
        r = free_port(&port);
        if (r < 0)
                return r;
        /* anything but loopback is refused, and nothing is bound */
        snprintf(listen, sizeof(listen), "0.0.0.0:%u", port);
        if (api_server_listen_loopback(s, listen, api_fleetlock_routes) != -EADDRNOTAVAIL)
                return -EBADE;
        snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
        r = api_server_listen_loopback(s, listen, api_fleetlock_routes);
        if (r < 0)
                return r;
        snprintf(loopback_url, sizeof(loopback_url), "http://127.0.0.1:%u", port);
        *ret = TAKE_PTR(s);
        return 0;
}

int main(void) {
        _cleanup_(api_server_freep) ApiServer *server = NULL;
        sd_event *e = NULL;
        sigset_t mask;
        pid_t pid;
        int r;

        if (getenv("FLEETD_TEST_DEBUG"))
                log_set_max_level(LOG_DEBUG);
        r = etcd_runner_start(&etcd);
        if (r == -ENOENT) {
                printf("skip: %s is not installed\n", getenv("FLEETD_TEST_ETCD") ?: "/usr/bin/etcd");
                return 77;
        }
        if (r < 0 || !mkdtemp(dir)) {
                fprintf(stderr, "Failed to start etcd or make %s: %s\n", dir, strerror(r < 0 ? -r : errno));
                return EXIT_FAILURE;
        }
        snprintf(socket_path, sizeof(socket_path), "%s/fleetd.sock", dir);

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        r = sd_event_new(&e);
        if (r >= 0)
                r = manager_setup(e);
        if (r >= 0)
                r = server_setup(e, &server);
        if (r >= 0)
                r = seed();
        if (r < 0) {
                fprintf(stderr, "Failed to set up: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return EXIT_FAILURE;
        if (pid == 0) {
                sigprocmask(SIG_UNBLOCK, &mask, NULL);
                r = run_child();
                fflush(NULL);
                _exit(r);       /* not exit(): the etcd runner's atexit belongs to the parent */
        }
        r = sd_event_add_child(e, NULL, pid, WEXITED, on_child_exit, NULL);
        if (r >= 0)
                r = sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, 240 * USEC_PER_SEC, 0, on_watchdog, NULL);
        if (r >= 0)
                r = sd_event_loop(e);
        if (r == 124 || r < 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
        }
        printf("client exited with %d\n", r);

        server = api_server_free(server);
        manager.etcd = etcd_client_free(manager.etcd);
        manager.config = config_free(manager.config);
        machine_record_done(&manager.self);
        sd_event_unref(e);
        (void) unlink(socket_path);
        (void) rmdir(dir);
        return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
