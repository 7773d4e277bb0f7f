/* SPDX-License-Identifier: Apache-2.0 */
/* The etcd client against a real etcd that the test starts, stops and restarts itself.
 * Every wait runs the event loop against a deadline, so a bug fails a case instead of hanging.
 * FLEETD_TEST_DEBUG=1 shows the client's debug log. */

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "basic/base64.h"
#include "basic/strv.h"
#include "basic/time-util.h"
#include "etcd-client.h"
#include "etcd-runner.h"
#include "log.h"
#include "tests.h"

#define SEC(n) ((usec_t) ((n) * USEC_PER_SEC))
#define WAIT_TIMEOUT SEC(20)
#define MAX_SEEN 256

static EtcdRunner *etcd;
static sd_event *event;

/* Runs the loop until cond holds or timeout passes; evaluates to cond. */
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

static int client_with(char **endpoints, usec_t timeout, const char *user, const char *password,
                       EtcdClient **ret) {
        EtcdOptions o = {
                .endpoints = endpoints,
                .request_timeout = timeout,
                .username = user,
                .password = password,
        };
        return etcd_client_new(event, &o, ret);
}

static EtcdClient *client(void) {
        char *endpoints[] = { (char *) etcd_runner_url(etcd), NULL };
        EtcdClient *c = NULL;

        (void) client_with(endpoints, 0, NULL, NULL, &c);
        return c;
}

/* ---- one answer, deep-copied out of the callback ---- */

typedef struct Reply {
        unsigned calls;
        int error;
        EtcdResult result;
} Reply;

static void result_copy(EtcdResult *d, const EtcdResult *s) {
        *d = *s;
        d->kvs = calloc(s->n_kvs + 1, sizeof(EtcdKv));
        for (size_t i = 0; i < s->n_kvs; i++) {
                d->kvs[i] = s->kvs[i];
                d->kvs[i].key = strdup(s->kvs[i].key);
                d->kvs[i].value = malloc(s->kvs[i].value_len + 1);
                memcpy(d->kvs[i].value, s->kvs[i].value, s->kvs[i].value_len + 1);
        }
        d->responses = calloc(s->n_responses + 1, sizeof(EtcdResult));
        for (size_t i = 0; i < s->n_responses; i++)
                result_copy(&d->responses[i], &s->responses[i]);
}

static void result_free(EtcdResult *r) {
        for (size_t i = 0; i < r->n_kvs; i++) {
                free(r->kvs[i].key);
                free(r->kvs[i].value);
        }
        free(r->kvs);
        for (size_t i = 0; i < r->n_responses; i++)
                result_free(&r->responses[i]);
        free(r->responses);
        *r = (EtcdResult) {};
}

static void reply_done(Reply *r) {
        result_free(&r->result);
        *r = (Reply) {};
}

static void on_reply(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        Reply *r = userdata;

        r->calls++;
        r->error = error;
        result_free(&r->result);
        if (result)
                result_copy(&r->result, result);
}

/* Waits for the answer to a request just queued (k its return value). The request is owned
 * and cancelled on the way out, so a late answer never lands in a dead stack frame. */
static int wait_reply(int k, EtcdRequest *req, Reply *r) {
        if (k >= 0 && !RUN_UNTIL(r->calls > 0, WAIT_TIMEOUT))
                k = -ETIME;
        etcd_request_cancel(req);
        return k < 0 ? k : r->error;
}

static int do_put(EtcdClient *c, const char *key, const char *value, int64_t lease, Reply *r) {
        EtcdRequest *req = NULL;
        int k;

        reply_done(r);
        k = etcd_client_put(c, key, value, lease, on_reply, r, &req);
        return wait_reply(k, req, r);
}

static int do_range(EtcdClient *c, const EtcdRangeArgs *args, Reply *r) {
        EtcdRequest *req = NULL;
        int k;

        reply_done(r);
        k = etcd_client_range(c, args, on_reply, r, &req);
        return wait_reply(k, req, r);
}

static int do_get(EtcdClient *c, const char *key, Reply *r) {
        return do_range(c, &(EtcdRangeArgs) { .key = key }, r);
}

static int do_delete(EtcdClient *c, const char *key, const char *range_end, Reply *r) {
        EtcdRequest *req = NULL;
        int k;

        reply_done(r);
        k = etcd_client_delete(c, key, range_end, on_reply, r, &req);
        return wait_reply(k, req, r);
}

static int do_txn(EtcdClient *c, const EtcdTxn *txn, Reply *r) {
        EtcdRequest *req = NULL;
        int k;

        reply_done(r);
        k = etcd_client_txn(c, txn, on_reply, r, &req);
        return wait_reply(k, req, r);
}

static int do_grant(EtcdClient *c, int64_t ttl, Reply *r) {
        EtcdRequest *req = NULL;
        int k;

        reply_done(r);
        k = etcd_client_lease_grant(c, ttl, on_reply, r, &req);
        return wait_reply(k, req, r);
}

static int do_keepalive(EtcdClient *c, int64_t id, Reply *r) {
        EtcdRequest *req = NULL;
        int k;

        reply_done(r);
        k = etcd_client_lease_keepalive(c, id, on_reply, r, &req);
        return wait_reply(k, req, r);
}

static int do_revoke(EtcdClient *c, int64_t id, Reply *r) {
        EtcdRequest *req = NULL;
        int k;

        reply_done(r);
        k = etcd_client_lease_revoke(c, id, on_reply, r, &req);
        return wait_reply(k, req, r);
}

/* ---- watch events, copied out ---- */

typedef struct Seen {
        EtcdEventType type;
        char *key;
        char *value;
        int64_t revision;
} Seen;

typedef struct Watched {
        Seen ev[MAX_SEEN];
        size_t n;
        size_t batches;
        unsigned n_errors;
        int error;
} Watched;

static void watched_done(Watched *s) {
        for (size_t i = 0; i < s->n; i++) {
                free(s->ev[i].key);
                free(s->ev[i].value);
        }
        *s = (Watched) {};
}

static void on_watch(EtcdWatch *w, int error, const EtcdEvent *events, size_t n, void *userdata) {
        Watched *s = userdata;

        if (error < 0) {
                s->n_errors++;
                s->error = error;
                return;
        }
        s->batches++;
        for (size_t i = 0; i < n && s->n < MAX_SEEN; i++)
                s->ev[s->n++] = (Seen) {
                        .type = events[i].type,
                        .key = strdup(events[i].kv.key),
                        .value = strdup(events[i].kv.value),
                        .revision = events[i].kv.mod_revision,
                };
}

/* Every revision in order, none twice. */
static bool watched_in_order(const Watched *s) {
        for (size_t i = 1; i < s->n; i++)
                if (s->ev[i].revision <= s->ev[i - 1].revision)
                        return false;
        return true;
}

/* ---- fds inherited from whoever started the test: not ours to judge ---- */

static int inherited_fds[64];
static size_t n_inherited_fds;

static bool fd_inherited(int fd) {
        for (size_t i = 0; i < n_inherited_fds; i++)
                if (inherited_fds[i] == fd)
                        return true;
        return false;
}

static void note_inherited_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;

        while (d && (de = readdir(d)) && n_inherited_fds < ELEMENTSOF(inherited_fds))
                if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
                        inherited_fds[n_inherited_fds++] = atoi(de->d_name);
        if (d)
                closedir(d);
}

/* ---- sockets for failure cases ---- */

static int port_of(int fd) {
        struct sockaddr_in sa;
        socklen_t l = sizeof(sa);

        if (getsockname(fd, (struct sockaddr *) &sa, &l) < 0)
                return -errno;
        return ntohs(sa.sin_port);
}

/* A socket bound to a loopback port; listening (it accepts into its backlog but never answers)
 * or not (connections are refused). */
static int loopback_socket(bool listening) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || (listening && listen(fd, 16) < 0)) {
                close(fd);
                return -errno;
        }
        return fd;
}

/* ---- cases ---- */

TEST(start_etcd) {
        int k;

        if (getenv("FLEETD_TEST_DEBUG"))
                log_set_max_level(LOG_DEBUG);
        note_inherited_fds();
        k = etcd_runner_start(&etcd);
        if (k == -ENOENT) {
                printf("skip: %s is not installed\n", getenv("FLEETD_TEST_ETCD") ?: "/usr/bin/etcd");
                exit(77);
        }
        ASSERT_INT(k, 0);
        ASSERT_INT(sd_event_new(&event), 0);
}

TEST(options) {
        char *none[] = { NULL };
        char *ftp[] = { (char *) "ftp://127.0.0.1:1", NULL };
        char *bare[] = { (char *) "http://", NULL };
        char *ok[] = { (char *) "http://127.0.0.1:1/", (char *) "https://[::1]:2379", NULL };
        _cleanup_(etcd_client_freep) EtcdClient *c = NULL;

        ASSERT_INT(client_with(none, 0, NULL, NULL, &c), -EINVAL);
        ASSERT_INT(client_with(ftp, 0, NULL, NULL, &c), -EINVAL);
        ASSERT_INT(client_with(bare, 0, NULL, NULL, &c), -EINVAL);
        ASSERT_INT(client_with(ok, 0, NULL, NULL, &c), 0);
        ASSERT_STR(etcd_client_current_endpoint(c), "http://127.0.0.1:1");
        ASSERT_INT(etcd_client_put(c, NULL, "x", 0, NULL, NULL, NULL), -EINVAL);
}

TEST(prefix_end) {
        _cleanup_free_ char *a = etcd_prefix_end("/fleetd/");
        _cleanup_free_ char *b = etcd_prefix_end("");
        _cleanup_free_ char *d = etcd_prefix_end("a\xff\xff");

        ASSERT_STR(a, "/fleetd0");
        ASSERT_STR(b, "");
        ASSERT_STR(d, "b");
}

TEST(put_range) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(reply_done) Reply r = {};
        int64_t rev;

        ASSERT_TRUE(c);
        ASSERT_INT(do_put(c, "/t/single", "hello", 0, &r), 0);
        rev = r.result.revision;
        ASSERT_TRUE(rev > 0);
        ASSERT_INT(do_get(c, "/t/single", &r), 0);
        ASSERT_INT(r.result.n_kvs, 1);
        ASSERT_STR(r.result.kvs[0].key, "/t/single");
        ASSERT_STR(r.result.kvs[0].value, "hello");
        ASSERT_INT(r.result.kvs[0].value_len, 5);
        ASSERT_INT(r.result.kvs[0].mod_revision, rev);
        ASSERT_INT(r.result.kvs[0].version, 1);
        ASSERT_INT(r.result.count, 1);
        ASSERT_INT(do_get(c, "/t/missing", &r), 0);
        ASSERT_INT(r.result.n_kvs, 0);
        ASSERT_INT(r.result.count, 0);
        ASSERT_STR(etcd_client_current_endpoint(c), etcd_runner_url(etcd));
}

TEST(range_prefix_limit) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(reply_done) Reply r = {};
        _cleanup_free_ char *end = etcd_prefix_end("/t/p/");
        char key[32], value[32];

        ASSERT_TRUE(c);
        for (int i = 1; i <= 5; i++) {
                snprintf(key, sizeof(key), "/t/p/%d", i);
                snprintf(value, sizeof(value), "v%d", i);
                ASSERT_INT(do_put(c, key, value, 0, &r), 0);
        }
        ASSERT_INT(do_put(c, "/t/p0", "outside", 0, &r), 0);

        ASSERT_INT(do_range(c, &(EtcdRangeArgs) { .key = "/t/p/", .range_end = end, .limit = 2 }, &r), 0);
        ASSERT_INT(r.result.n_kvs, 2);
        ASSERT_TRUE(r.result.more);
        ASSERT_INT(r.result.count, 5);
        ASSERT_STR(r.result.kvs[0].key, "/t/p/1");
        ASSERT_STR(r.result.kvs[1].value, "v2");

        ASSERT_INT(do_range(c, &(EtcdRangeArgs) { .key = "/t/p/", .range_end = end }, &r), 0);
        ASSERT_INT(r.result.n_kvs, 5);
        ASSERT_TRUE(!r.result.more);

        ASSERT_INT(do_range(c, &(EtcdRangeArgs) { .key = "/t/p/", .range_end = end, .count_only = true }, &r), 0);
        ASSERT_INT(r.result.n_kvs, 0);
        ASSERT_INT(r.result.count, 5);

        ASSERT_INT(do_range(c, &(EtcdRangeArgs) { .key = "/t/p/", .range_end = end, .keys_only = true }, &r), 0);
        ASSERT_INT(r.result.n_kvs, 5);
        ASSERT_STR(r.result.kvs[4].key, "/t/p/5");
        ASSERT_STR(r.result.kvs[4].value, "");
        ASSERT_INT(r.result.kvs[4].value_len, 0);

        /* "" as range_end: every key from /t/p0 on */
        ASSERT_INT(do_range(c, &(EtcdRangeArgs) { .key = "/t/p0", .range_end = "" }, &r), 0);
        ASSERT_TRUE(r.result.n_kvs >= 1);
        ASSERT_STR(r.result.kvs[0].key, "/t/p0");
}

TEST(range_old_revision) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(reply_done) Reply r = {};
        int64_t first;

        ASSERT_TRUE(c);
        ASSERT_INT(do_put(c, "/t/old", "one", 0, &r), 0);
        first = r.result.revision;
        ASSERT_INT(do_put(c, "/t/old", "two", 0, &r), 0);
        ASSERT_INT(do_range(c, &(EtcdRangeArgs) { .key = "/t/old", .revision = first }, &r), 0);
        ASSERT_INT(r.result.n_kvs, 1);
        ASSERT_STR(r.result.kvs[0].value, "one");
        ASSERT_INT(do_get(c, "/t/old", &r), 0);
        ASSERT_STR(r.result.kvs[0].value, "two");
        ASSERT_INT(r.result.kvs[0].version, 2);
        ASSERT_INT(r.result.kvs[0].create_revision, first);
}

TEST(delete) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(reply_done) Reply r = {};
        _cleanup_free_ char *end = etcd_prefix_end("/t/del/");

        ASSERT_TRUE(c);
        ASSERT_INT(do_put(c, "/t/del/a", "1", 0, &r), 0);
        ASSERT_INT(do_put(c, "/t/del/b", "2", 0, &r), 0);
        ASSERT_INT(do_put(c, "/t/del/c", "3", 0, &r), 0);
        ASSERT_INT(do_delete(c, "/t/del/a", NULL, &r), 0);
        ASSERT_INT(r.result.deleted, 1);
        ASSERT_INT(do_delete(c, "/t/del/", end, &r), 0);
        ASSERT_INT(r.result.deleted, 2);
        ASSERT_INT(do_delete(c, "/t/del/a", NULL, &r), 0);
        ASSERT_INT(r.result.deleted, 0);
        ASSERT_INT(do_range(c, &(EtcdRangeArgs) { .key = "/t/del/", .range_end = end, .count_only = true }, &r), 0);
        ASSERT_INT(r.result.count, 0);
}

TEST(txn_compare_holds) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(reply_done) Reply r = {};
        int64_t mod;

        ASSERT_TRUE(c);
        ASSERT_INT(do_put(c, "/t/txn/a", "before", 0, &r), 0);
        mod = r.result.revision;

        EtcdCompare cmp[] = {
                { .key = "/t/txn/a", .target = ETCD_COMPARE_MOD, .result = ETCD_EQUAL, .number = mod },
                { .key = "/t/txn/a", .target = ETCD_COMPARE_VALUE, .result = ETCD_EQUAL, .value = "before" },
                { .key = "/t/txn/none", .target = ETCD_COMPARE_VERSION, .result = ETCD_EQUAL, .number = 0 },
        };
        EtcdOp success[] = {
                { .type = ETCD_OP_PUT, .key = "/t/txn/a", .value = "after" },
                { .type = ETCD_OP_RANGE, .key = "/t/txn/a" },
        };
        EtcdOp failure[] = { { .type = ETCD_OP_DELETE, .key = "/t/txn/a" } };
        EtcdTxn txn = { cmp, ELEMENTSOF(cmp), success, ELEMENTSOF(success), failure, ELEMENTSOF(failure) };

        ASSERT_INT(do_txn(c, &txn, &r), 0);
        ASSERT_TRUE(r.result.succeeded);
        ASSERT_INT(r.result.revision, mod + 1);
        ASSERT_INT(r.result.n_responses, 2);
        ASSERT_INT(r.result.responses[1].n_kvs, 1);
        ASSERT_STR(r.result.responses[1].kvs[0].value, "after");
        ASSERT_INT(r.result.responses[1].kvs[0].mod_revision, mod + 1);
}

TEST(txn_compare_fails) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(reply_done) Reply r = {};
        int64_t stale;

        ASSERT_TRUE(c);
        ASSERT_INT(do_put(c, "/t/txn/b", "one", 0, &r), 0);
        stale = r.result.revision;
        ASSERT_INT(do_put(c, "/t/txn/b", "two", 0, &r), 0);

        EtcdCompare cmp[] = {
                { .key = "/t/txn/b", .target = ETCD_COMPARE_MOD, .result = ETCD_EQUAL, .number = stale },
        };
        EtcdOp success[] = { { .type = ETCD_OP_PUT, .key = "/t/txn/b", .value = "mine" } };
        EtcdOp failure[] = {
                { .type = ETCD_OP_RANGE, .key = "/t/txn/b" },
                { .type = ETCD_OP_PUT, .key = "/t/txn/lost", .value = "yes" },
                { .type = ETCD_OP_DELETE, .key = "/t/txn/nothing" },
        };
        EtcdTxn txn = { cmp, ELEMENTSOF(cmp), success, ELEMENTSOF(success), failure, ELEMENTSOF(failure) };

        ASSERT_INT(do_txn(c, &txn, &r), 0);
        ASSERT_TRUE(!r.result.succeeded);
        ASSERT_INT(r.result.n_responses, 3);
        ASSERT_STR(r.result.responses[0].kvs[0].value, "two");
        ASSERT_INT(r.result.responses[2].deleted, 0);
        ASSERT_INT(do_get(c, "/t/txn/b", &r), 0);
        ASSERT_STR(r.result.kvs[0].value, "two");
        ASSERT_INT(do_get(c, "/t/txn/lost", &r), 0);
        ASSERT_STR(r.result.kvs[0].value, "yes");
}

TEST(lease_grant_keepalive_revoke) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(reply_done) Reply r = {};
        int64_t id;

        ASSERT_TRUE(c);
        ASSERT_INT(do_grant(c, 30, &r), 0);
        id = r.result.lease_id;
        ASSERT_TRUE(id > 0);
        ASSERT_INT(r.result.ttl, 30);
        ASSERT_INT(do_put(c, "/t/lease/a", "leased", id, &r), 0);
        ASSERT_INT(do_get(c, "/t/lease/a", &r), 0);
        ASSERT_INT(r.result.kvs[0].lease, id);
        ASSERT_INT(do_keepalive(c, id, &r), 0);
        ASSERT_INT(r.result.lease_id, id);
        ASSERT_INT(r.result.ttl, 30);
        ASSERT_INT(do_revoke(c, id, &r), 0);
        ASSERT_INT(do_get(c, "/t/lease/a", &r), 0);
        ASSERT_INT(r.result.n_kvs, 0);
        ASSERT_INT(do_revoke(c, id, &r), -ENOENT);
        ASSERT_INT(do_keepalive(c, id, &r), -ENOENT);
        ASSERT_INT(do_put(c, "/t/lease/b", "x", id, &r), -ENOENT);
}

static void on_lost(EtcdLease *l, void *userdata) {
        (*(unsigned *) userdata)++;
}

TEST(lease_keeper_keeps) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(etcd_lease_freep) EtcdLease *l = NULL;
        _cleanup_(reply_done) Reply r = {};
        unsigned lost = 0;
        int64_t id;

        ASSERT_TRUE(c);
        ASSERT_INT(do_grant(c, 2, &r), 0);
        id = r.result.lease_id;
        ASSERT_INT(do_put(c, "/t/kept", "alive", id, &r), 0);
        ASSERT_INT(etcd_lease_keep(c, id, 2, on_lost, &lost, &l), 0);
        ASSERT_INT(etcd_lease_id(l), id);
        run_for(SEC(5));  /* 2.5 TTLs */
        ASSERT_INT(lost, 0);
        ASSERT_INT(do_get(c, "/t/kept", &r), 0);
        ASSERT_INT(r.result.n_kvs, 1);
        l = etcd_lease_free(l);  /* does not revoke */
        ASSERT_INT(do_keepalive(c, id, &r), 0);
        ASSERT_INT(do_revoke(c, id, &r), 0);
}

TEST(lease_expires) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(etcd_lease_freep) EtcdLease *l = NULL;
        _cleanup_(reply_done) Reply r = {};
        unsigned lost = 0;
        int64_t id;

        ASSERT_TRUE(c);
        ASSERT_INT(do_grant(c, 2, &r), 0);
        id = r.result.lease_id;
        ASSERT_INT(do_put(c, "/t/expiring", "soon gone", id, &r), 0);
        ASSERT_INT(do_get(c, "/t/expiring", &r), 0);
        ASSERT_INT(r.result.n_kvs, 1);

        /* nothing keeps it alive: the key goes with the lease */
        ASSERT_TRUE(RUN_UNTIL(do_get(c, "/t/expiring", &r) == 0 && r.result.n_kvs == 0, SEC(10)));
        ASSERT_INT(do_keepalive(c, id, &r), -ENOENT);

        ASSERT_INT(etcd_lease_keep(c, id, 2, on_lost, &lost, &l), 0);
        ASSERT_TRUE(RUN_UNTIL(lost > 0, SEC(5)));
        run_for(SEC(1.5));
        ASSERT_INT(lost, 1);
}

TEST(watch_put_delete) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(etcd_watch_freep) EtcdWatch *w = NULL;
        _cleanup_(watched_done) Watched s = {};
        _cleanup_(reply_done) Reply r = {};
        _cleanup_free_ char *end = etcd_prefix_end("/t/w/");

        ASSERT_TRUE(c);
        ASSERT_INT(do_put(c, "/t/w/before", "not seen", 0, &r), 0);
        ASSERT_INT(etcd_client_watch(c, "/t/w/", end, 0, on_watch, &s, &w), 0);
        ASSERT_TRUE(RUN_UNTIL(etcd_watch_revision(w) > 0, WAIT_TIMEOUT));  /* created */
        ASSERT_INT(etcd_watch_revision(w), r.result.revision);

        ASSERT_INT(do_put(c, "/t/w/a", "1", 0, &r), 0);
        ASSERT_INT(do_put(c, "/t/w/b", "2", 0, &r), 0);
        ASSERT_INT(do_put(c, "/t/w/a", "3", 0, &r), 0);
        ASSERT_INT(do_delete(c, "/t/w/a", NULL, &r), 0);
        ASSERT_INT(do_put(c, "/t/other", "not watched", 0, &r), 0);
        ASSERT_TRUE(RUN_UNTIL(s.n >= 4, WAIT_TIMEOUT));
        run_for(SEC(0.3));
        ASSERT_INT(s.n, 4);
        ASSERT_INT(s.n_errors, 0);
        ASSERT_TRUE(watched_in_order(&s));
        ASSERT_INT(s.ev[0].type, ETCD_EVENT_PUT);
        ASSERT_STR(s.ev[0].key, "/t/w/a");
        ASSERT_STR(s.ev[0].value, "1");
        ASSERT_STR(s.ev[1].key, "/t/w/b");
        ASSERT_STR(s.ev[2].value, "3");
        ASSERT_INT(s.ev[3].type, ETCD_EVENT_DELETE);
        ASSERT_STR(s.ev[3].key, "/t/w/a");
        ASSERT_STR(s.ev[3].value, "");
        ASSERT_INT(etcd_watch_revision(w), s.ev[3].revision);
}

TEST(watch_history) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(etcd_watch_freep) EtcdWatch *w = NULL;
        _cleanup_(watched_done) Watched s = {};
        _cleanup_(reply_done) Reply r = {};
        int64_t first;

        ASSERT_TRUE(c);
        ASSERT_INT(do_put(c, "/t/h", "1", 0, &r), 0);
        first = r.result.revision;
        ASSERT_INT(do_put(c, "/t/h", "2", 0, &r), 0);
        ASSERT_INT(do_put(c, "/t/h", "3", 0, &r), 0);
        ASSERT_INT(etcd_client_watch(c, "/t/h", NULL, first, on_watch, &s, &w), 0);
        ASSERT_INT(etcd_watch_revision(w), first - 1);
        ASSERT_TRUE(RUN_UNTIL(s.n >= 3, WAIT_TIMEOUT));
        ASSERT_STR(s.ev[0].value, "1");
        ASSERT_STR(s.ev[2].value, "3");
        ASSERT_INT(s.ev[0].revision, first);
        ASSERT_INT(etcd_watch_revision(w), first + 2);
}

static bool has_key(const Watched *s, const char *key, const char *value) {
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->ev[i].key, key) && streq(s->ev[i].value, value))
                        return true;
        return false;
}

static int post_put(const char *key, const char *value) {
        _cleanup_free_ char *k = NULL, *v = NULL, *body = NULL;

        if (base64_encode(key, strlen(key), &k) < 0 || base64_encode(value, strlen(value), &v) < 0 ||
            asprintf(&body, "{\"key\":\"%s\",\"value\":\"%s\"}", k, v) < 0)
                return -ENOMEM;
        return etcd_runner_post(etcd, "/v3/kv/put", body, NULL, NULL);
}

TEST(watch_survives_restart) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(etcd_watch_freep) EtcdWatch *w = NULL, *quiet = NULL;
        _cleanup_(watched_done) Watched s = {}, q = {};
        _cleanup_(reply_done) Reply r = {};
        _cleanup_free_ char *end = etcd_prefix_end("/t/r/");
        char key[32];

        ASSERT_TRUE(c);
        ASSERT_INT(etcd_client_watch(c, "/t/r/", end, 0, on_watch, &s, &w), 0);
        /* no event before the restart: it must resume from the revision it was created at */
        ASSERT_INT(etcd_client_watch(c, "/t/quiet", NULL, 0, on_watch, &q, &quiet), 0);
        ASSERT_TRUE(RUN_UNTIL(etcd_watch_revision(w) > 0 && etcd_watch_revision(quiet) > 0, WAIT_TIMEOUT));

        for (int i = 1; i <= 5; i++) {
                snprintf(key, sizeof(key), "/t/r/%02d", i);
                ASSERT_INT(do_put(c, key, key, 0, &r), 0);
        }
        ASSERT_TRUE(RUN_UNTIL(s.n >= 5, WAIT_TIMEOUT));

        ASSERT_INT(etcd_runner_stop(etcd), 0);
        run_for(SEC(1.5));  /* the watches fail to reconnect a few times */
        ASSERT_INT(etcd_runner_restart(etcd), 0);
        /* written before the loop runs again, so before the watches can be back */
        for (int i = 6; i <= 10; i++) {
                snprintf(key, sizeof(key), "/t/r/%02d", i);
                ASSERT_INT(post_put(key, key), 200);
        }
        ASSERT_INT(post_put("/t/quiet", "after restart"), 200);
        for (int i = 11; i <= 15; i++) {
                snprintf(key, sizeof(key), "/t/r/%02d", i);
                ASSERT_INT(do_put(c, key, key, 0, &r), 0);
        }
        ASSERT_TRUE(RUN_UNTIL(s.n >= 15 && q.n >= 1, SEC(30)));
        run_for(SEC(0.5));
        ASSERT_INT(s.n, 15);
        ASSERT_INT(s.n_errors, 0);
        ASSERT_TRUE(watched_in_order(&s));
        for (int i = 1; i <= 15; i++) {
                snprintf(key, sizeof(key), "/t/r/%02d", i);
                ASSERT_STR(s.ev[i - 1].key, key);
        }
        /* nothing else wrote meanwhile but /t/quiet */
        ASSERT_INT(s.ev[14].revision - s.ev[0].revision, 15);
        ASSERT_INT(q.n, 1);
        ASSERT_TRUE(has_key(&q, "/t/quiet", "after restart"));
}

/* While etcd is down the keeper retries sooner; once it is back the lease is still kept. */
TEST(lease_keeper_survives_restart) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(etcd_lease_freep) EtcdLease *l = NULL;
        _cleanup_(reply_done) Reply r = {};
        unsigned lost = 0;
        int64_t id;

        ASSERT_TRUE(c);
        ASSERT_INT(do_grant(c, 3, &r), 0);
        id = r.result.lease_id;
        ASSERT_INT(do_put(c, "/t/kept-across", "alive", id, &r), 0);
        ASSERT_INT(etcd_lease_keep(c, id, 3, on_lost, &lost, &l), 0);
        run_for(SEC(1.2));
        ASSERT_INT(etcd_runner_stop(etcd), 0);
        run_for(SEC(1.5));
        ASSERT_INT(etcd_runner_restart(etcd), 0);
        run_for(SEC(5));
        ASSERT_INT(lost, 0);
        ASSERT_INT(do_get(c, "/t/kept-across", &r), 0);
        ASSERT_INT(r.result.n_kvs, 1);
        ASSERT_INT(do_revoke(c, id, &r), 0);
}

TEST(failover_dead_endpoint) {
        _cleanup_(etcd_client_freep) EtcdClient *c = NULL;
        _cleanup_(etcd_watch_freep) EtcdWatch *w = NULL;
        _cleanup_(watched_done) Watched s = {};
        _cleanup_(reply_done) Reply r = {};
        _cleanup_close_ int dead = loopback_socket(false);
        _cleanup_free_ char *url = NULL;

        ASSERT_TRUE(dead >= 0);
        ASSERT_TRUE(asprintf(&url, "http://127.0.0.1:%d", port_of(dead)) > 0);
        char *endpoints[] = { url, (char *) etcd_runner_url(etcd), NULL };
        ASSERT_INT(client_with(endpoints, SEC(2), NULL, NULL, &c), 0);
        ASSERT_STR(etcd_client_current_endpoint(c), url);
        ASSERT_INT(do_put(c, "/t/failover", "ok", 0, &r), 0);
        ASSERT_STR(etcd_client_current_endpoint(c), etcd_runner_url(etcd));
        ASSERT_INT(do_get(c, "/t/failover", &r), 0);
        ASSERT_STR(r.result.kvs[0].value, "ok");

        /* a watch fails over too */
        c = etcd_client_free(c);
        ASSERT_INT(client_with(endpoints, SEC(2), NULL, NULL, &c), 0);
        ASSERT_INT(etcd_client_watch(c, "/t/failover", NULL, 0, on_watch, &s, &w), 0);
        ASSERT_TRUE(RUN_UNTIL(etcd_watch_revision(w) > 0, WAIT_TIMEOUT));
        ASSERT_INT(do_put(c, "/t/failover", "watched", 0, &r), 0);
        ASSERT_TRUE(RUN_UNTIL(s.n >= 1, WAIT_TIMEOUT));
        ASSERT_STR(s.ev[0].value, "watched");

        /* all endpoints dead */
        char *only_dead[] = { url, NULL };
        c = etcd_client_free(c);
        ASSERT_INT(client_with(only_dead, SEC(2), NULL, NULL, &c), 0);
        ASSERT_INT(do_get(c, "/t/failover", &r), -ECONNREFUSED);
}

TEST(timeout_silent_endpoint) {
        _cleanup_(etcd_client_freep) EtcdClient *c = NULL;
        _cleanup_(etcd_watch_freep) EtcdWatch *w = NULL;
        _cleanup_(watched_done) Watched s = {};
        _cleanup_(reply_done) Reply r = {};
        _cleanup_close_ int silent = loopback_socket(true);
        _cleanup_free_ char *url = NULL;
        usec_t start, took;

        ASSERT_TRUE(silent >= 0);
        ASSERT_TRUE(asprintf(&url, "http://127.0.0.1:%d", port_of(silent)) > 0);
        char *endpoints[] = { url, NULL };
        ASSERT_INT(client_with(endpoints, SEC(1), NULL, NULL, &c), 0);
        start = now_usec(CLOCK_MONOTONIC);
        ASSERT_INT(do_get(c, "/t/x", &r), -ETIMEDOUT);
        took = now_usec(CLOCK_MONOTONIC) - start;
        ASSERT_TRUE(took >= SEC(0.9));
        ASSERT_TRUE(took < SEC(3));

        /* silent first, etcd second: a read fails over after the timeout; a write that may
         * have reached the silent one is reported, and the next one starts at etcd */
        char *both[] = { url, (char *) etcd_runner_url(etcd), NULL };
        c = etcd_client_free(c);
        ASSERT_INT(client_with(both, SEC(1), NULL, NULL, &c), 0);
        start = now_usec(CLOCK_MONOTONIC);
        ASSERT_INT(do_get(c, "/t/failover", &r), 0);
        ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) - start >= SEC(0.9));
        c = etcd_client_free(c);
        ASSERT_INT(client_with(both, SEC(1), NULL, NULL, &c), 0);
        ASSERT_INT(do_put(c, "/t/timeout", "once", 0, &r), -ETIMEDOUT);
        ASSERT_INT(do_put(c, "/t/timeout", "twice", 0, &r), 0);

        /* a watch that gets no "created" from the silent one moves on to etcd */
        c = etcd_client_free(c);
        ASSERT_INT(client_with(both, SEC(1), NULL, NULL, &c), 0);
        ASSERT_INT(etcd_client_watch(c, "/t/timeout", NULL, 0, on_watch, &s, &w), 0);
        ASSERT_TRUE(RUN_UNTIL(etcd_watch_revision(w) > 0, WAIT_TIMEOUT));
        ASSERT_INT(do_put(c, "/t/timeout", "thrice", 0, &r), 0);
        ASSERT_TRUE(RUN_UNTIL(s.n >= 1, WAIT_TIMEOUT));
        ASSERT_STR(s.ev[0].value, "thrice");
}

/* ---- a member in an election: "unavailable" (gRPC code 14) to every request, then answers ---- */

#define UNAVAILABLE_BODY \
        "{\"error\":\"etcdserver: leader changed\",\"message\":\"etcdserver: leader changed\",\"code\":14}"
/* tests/data/etcd/range.json, shortened: one key /fleetd/a = "alpha2" */
#define RANGE_BODY                                                                                       \
        "{\"header\":{\"revision\":\"4\"},\"kvs\":[{\"key\":\"L2ZsZWV0ZC9h\",\"create_revision\":\"2\"," \
        "\"mod_revision\":\"4\",\"version\":\"2\",\"value\":\"YWxwaGEy\"}],\"count\":\"1\"}"

typedef struct Fake {
        pid_t pid;
        int port;
        unsigned *requests;           /* shared with the child: how many it answered */
} Fake;

/* Reads one HTTP request (headers and Content-Length bytes of body) from fd; 0 or -1. */
static int fake_read_request(int fd) {
        char buf[16384];
        size_t n = 0;

        for (;;) {
                ssize_t k = read(fd, buf + n, sizeof(buf) - 1 - n);
                if (k <= 0)
                        return -1;
                n += (size_t) k;
                buf[n] = 0;
                char *end = strstr(buf, "\r\n\r\n");
                if (end) {
                        const char *cl = strcasestr(buf, "content-length:");
                        long len = cl ? strtol(cl + strlen("content-length:"), NULL, 10) : 0;
                        if ((size_t) (end + 4 - buf) + (size_t) len <= n)
                                return 0;
                }
                if (n >= sizeof(buf) - 1)
                        return -1;
        }
}

/* The child: the first n_unavailable requests get HTTP 503 and etcd's "unavailable", the
 * others HTTP 200 and body. One request per connection. */
static _noreturn_ void fake_serve(int fd, unsigned n_unavailable, const char *body, unsigned *requests) {
        for (;;) {
                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue;
                if (fake_read_request(c) == 0) {
                        unsigned i = __atomic_add_fetch(requests, 1, __ATOMIC_SEQ_CST);
                        bool down = i <= n_unavailable;
                        const char *b = down ? UNAVAILABLE_BODY : body;
                        dprintf(c, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                                "Connection: close\r\n\r\n%s", down ? "503 Service Unavailable" : "200 OK",
                                strlen(b), b);
                }
                close(c);
        }
}

static int fake_start(unsigned n_unavailable, const char *body, Fake *ret) {
        int fd = loopback_socket(true);
        unsigned *requests;

        if (fd < 0)
                return fd;
        requests = mmap(NULL, sizeof(unsigned), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (requests == MAP_FAILED) {
                close(fd);
                return -errno;
        }
        *requests = 0;
        *ret = (Fake) { .port = port_of(fd), .requests = requests };
        ret->pid = fork();
        if (ret->pid == 0)
                fake_serve(fd, n_unavailable, body, requests);
        close(fd);
        return ret->pid < 0 ? -errno : 0;
}

static void fake_stop(Fake *f) {
        if (f->pid > 0) {
                kill(f->pid, SIGKILL);
                (void) waitpid(f->pid, NULL, 0);
        }
        if (f->requests)
                munmap(f->requests, sizeof(unsigned));
        *f = (Fake) {};
}

static char *fake_url(const Fake *f) {
        char *url = NULL;
        return asprintf(&url, "http://127.0.0.1:%d", f->port) < 0 ? NULL : url;
}

/* During an election every member may say "unavailable" for a moment: a read is tried again
 * within its time, and fails when that is over, neither at once nor never. */
TEST(unavailable_read_retried) {
        _cleanup_(etcd_client_freep) EtcdClient *c = NULL;
        _cleanup_(reply_done) Reply r = {};
        _cleanup_free_ char *url = NULL;
        Fake f = {};
        usec_t start, took;

        ASSERT_INT(fake_start(3, RANGE_BODY, &f), 0);
        ASSERT_TRUE((url = fake_url(&f)));
        char *endpoints[] = { url, NULL };
        ASSERT_INT(client_with(endpoints, SEC(2), NULL, NULL, &c), 0);
        ASSERT_INT(do_get(c, "/fleetd/a", &r), 0);
        ASSERT_INT(r.result.n_kvs, 1);
        ASSERT_STR(r.result.kvs[0].value, "alpha2");
        ASSERT_INT(*f.requests, 4);
        fake_stop(&f);

        /* unavailable for good: -EIO once the request timeout is over */
        ASSERT_INT(fake_start(UINT_MAX, RANGE_BODY, &f), 0);
        free(url);
        ASSERT_TRUE((url = fake_url(&f)));
        endpoints[0] = url;
        c = etcd_client_free(c);
        ASSERT_INT(client_with(endpoints, SEC(1), NULL, NULL, &c), 0);
        start = now_usec(CLOCK_MONOTONIC);
        ASSERT_INT(do_get(c, "/fleetd/a", &r), -EIO);
        took = now_usec(CLOCK_MONOTONIC) - start;
        ASSERT_TRUE(took >= SEC(0.5));
        ASSERT_TRUE(took < SEC(2));
        ASSERT_TRUE(*f.requests > 3);
        fake_stop(&f);
}

/* A txn of reads only fails over like a range; one that writes is never sent twice. */
TEST(unavailable_txn) {
        _cleanup_(etcd_client_freep) EtcdClient *c = NULL;
        _cleanup_(reply_done) Reply r = {};
        _cleanup_free_ char *url = NULL;
        Fake f = {};

        ASSERT_INT(fake_start(UINT_MAX, RANGE_BODY, &f), 0);
        ASSERT_TRUE((url = fake_url(&f)));
        char *endpoints[] = { url, (char *) etcd_runner_url(etcd), NULL };
        ASSERT_TRUE((c = client()));
        ASSERT_INT(do_put(c, "/t/unavailable/a", "real", 0, &r), 0);

        c = etcd_client_free(c);
        ASSERT_INT(client_with(endpoints, SEC(2), NULL, NULL, &c), 0);
        EtcdOp reads[] = { { .type = ETCD_OP_RANGE, .key = "/t/unavailable/a" },
                           { .type = ETCD_OP_RANGE, .key = "/t/unavailable/none" } };
        EtcdTxn rtxn = { .success = reads, .n_success = ELEMENTSOF(reads) };
        ASSERT_INT(do_txn(c, &rtxn, &r), 0);
        ASSERT_INT(r.result.n_responses, 2);
        ASSERT_STR(r.result.responses[0].kvs[0].value, "real");

        c = etcd_client_free(c);
        ASSERT_INT(client_with(endpoints, SEC(2), NULL, NULL, &c), 0);
        unsigned before = *f.requests;
        EtcdOp writes[] = { { .type = ETCD_OP_RANGE, .key = "/t/unavailable/a" },
                            { .type = ETCD_OP_PUT, .key = "/t/unavailable/b", .value = "once" } };
        EtcdTxn wtxn = { .success = writes, .n_success = ELEMENTSOF(writes) };
        ASSERT_INT(do_txn(c, &wtxn, &r), -EIO);
        ASSERT_INT(*f.requests, before + 1);
        ASSERT_INT(do_get(c, "/t/unavailable/b", &r), 0);
        ASSERT_INT(r.result.n_kvs, 0);
        fake_stop(&f);
}

TEST(compaction) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(etcd_watch_freep) EtcdWatch *w = NULL;
        _cleanup_(watched_done) Watched s = {};
        _cleanup_(reply_done) Reply r = {};
        _cleanup_free_ char *body = NULL;
        int64_t old, latest;

        ASSERT_TRUE(c);
        ASSERT_INT(do_put(c, "/t/compact", "1", 0, &r), 0);
        old = r.result.revision;
        ASSERT_INT(do_put(c, "/t/compact", "2", 0, &r), 0);
        ASSERT_INT(do_put(c, "/t/compact", "3", 0, &r), 0);
        latest = r.result.revision;
        ASSERT_TRUE(asprintf(&body, "{\"revision\":\"%" PRIi64 "\",\"physical\":true}", latest) > 0);
        ASSERT_INT(etcd_runner_post(etcd, "/v3/kv/compaction", body, NULL, NULL), 200);

        ASSERT_INT(do_range(c, &(EtcdRangeArgs) { .key = "/t/compact", .revision = old }, &r), -ESTALE);
        ASSERT_INT(etcd_client_watch(c, "/t/compact", NULL, old, on_watch, &s, &w), 0);
        ASSERT_TRUE(RUN_UNTIL(s.n_errors > 0, WAIT_TIMEOUT));
        run_for(SEC(0.5));
        ASSERT_INT(s.error, -ESTALE);
        ASSERT_INT(s.n_errors, 1);
        ASSERT_INT(s.n, 0);

        /* from the compaction revision on, history is there */
        w = etcd_watch_free(w);
        watched_done(&s);
        ASSERT_INT(etcd_client_watch(c, "/t/compact", NULL, latest, on_watch, &s, &w), 0);
        ASSERT_TRUE(RUN_UNTIL(s.n >= 1, WAIT_TIMEOUT));
        ASSERT_STR(s.ev[0].value, "3");
        ASSERT_INT(s.n_errors, 0);
}

TEST(odd_values) {
        static const char *const values[] = {
                "quote \" backslash \\ slash / newline \n tab \t",
                "UTF-8: grüße, €, 😀, 日本語",
                "binary-ish: \x01\x02\x7f\x80\xfe\xff end",
                "{\"json\": [1, 2, {\"x\": null}]}",
                "",
        };
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(etcd_watch_freep) EtcdWatch *w = NULL;
        _cleanup_(watched_done) Watched s = {};
        _cleanup_(reply_done) Reply r = {};
        const char *key = "/t/odd/\xc3\xa9 \"k\"\n\x01";

        ASSERT_TRUE(c);
        ASSERT_INT(etcd_client_watch(c, key, NULL, 0, on_watch, &s, &w), 0);
        ASSERT_TRUE(RUN_UNTIL(etcd_watch_revision(w) > 0, WAIT_TIMEOUT));
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                ASSERT_INT(do_put(c, key, values[i], 0, &r), 0);
                ASSERT_INT(do_get(c, key, &r), 0);
                ASSERT_STR(r.result.kvs[0].key, key);
                ASSERT_STR(r.result.kvs[0].value, values[i]);
                ASSERT_INT(r.result.kvs[0].value_len, strlen(values[i]));
        }
        ASSERT_TRUE(RUN_UNTIL(s.n >= ELEMENTSOF(values), WAIT_TIMEOUT));
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                ASSERT_STR(s.ev[i].value, values[i]);
}

TEST(big_value) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(etcd_watch_freep) EtcdWatch *w = NULL;
        _cleanup_(watched_done) Watched s = {};
        _cleanup_(reply_done) Reply r = {};
        _cleanup_free_ char *big = malloc(512 * 1024 + 1);

        ASSERT_TRUE(c && big);
        for (size_t i = 0; i < 512 * 1024; i++)
                big[i] = 'a' + i % 26;
        big[512 * 1024] = 0;
        ASSERT_INT(etcd_client_watch(c, "/t/big", NULL, 0, on_watch, &s, &w), 0);
        ASSERT_TRUE(RUN_UNTIL(etcd_watch_revision(w) > 0, WAIT_TIMEOUT));
        ASSERT_INT(do_put(c, "/t/big", big, 0, &r), 0);
        ASSERT_INT(do_put(c, "/t/big", "small", 0, &r), 0);
        ASSERT_INT(do_range(c, &(EtcdRangeArgs) { .key = "/t/big", .revision = r.result.revision - 1 }, &r), 0);
        ASSERT_INT(r.result.kvs[0].value_len, 512 * 1024);
        ASSERT_STR(r.result.kvs[0].value, big);
        ASSERT_TRUE(RUN_UNTIL(s.n >= 2, WAIT_TIMEOUT));
        ASSERT_STR(s.ev[0].value, big);
        ASSERT_STR(s.ev[1].value, "small");
}

/* A watch line over 16 MiB (17 changes of 1 MiB, sent from history as one batch) stops the
 * watch with -EBADMSG instead of growing without bound; a range of them (under 64 MiB) works. */
TEST(watch_line_limit) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(etcd_watch_freep) EtcdWatch *w = NULL;
        _cleanup_(watched_done) Watched s = {};
        _cleanup_(reply_done) Reply r = {};
        _cleanup_free_ char *mib = malloc(1024 * 1024 + 1), *end = etcd_prefix_end("/t/huge/");
        char key[32];
        int64_t first = 0;

        ASSERT_TRUE(c && mib);
        memset(mib, 'm', 1024 * 1024);
        mib[1024 * 1024] = 0;
        for (int i = 0; i < 17; i++) {
                snprintf(key, sizeof(key), "/t/huge/%02d", i);
                ASSERT_INT(do_put(c, key, mib, 0, &r), 0);
                if (i == 0)
                        first = r.result.revision;
        }
        ASSERT_INT(do_range(c, &(EtcdRangeArgs) { .key = "/t/huge/", .range_end = end }, &r), 0);
        ASSERT_INT(r.result.n_kvs, 17);
        ASSERT_INT(etcd_client_watch(c, "/t/huge/", end, first, on_watch, &s, &w), 0);
        ASSERT_TRUE(RUN_UNTIL(s.n_errors > 0, WAIT_TIMEOUT));
        ASSERT_INT(s.error, -EBADMSG);
        ASSERT_INT(s.n, 0);
        ASSERT_INT(do_delete(c, "/t/huge/", end, &r), 0);
}

TEST(cancel_is_silent) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(reply_done) Reply r = {}, late = {};
        EtcdRequest *req = NULL, *owned = NULL;
        EtcdWatch *w = NULL;
        EtcdLease *l = NULL;
        Watched s = {};
        unsigned lost = 0;

        ASSERT_TRUE(c);
        ASSERT_INT(etcd_client_put(c, "/t/cancel", "x", 0, on_reply, &late, &req), 0);
        req = etcd_request_cancel(req);
        run_for(SEC(0.5));
        ASSERT_INT(late.calls, 0);
        ASSERT_INT(do_get(c, "/t/cancel", &r), 0);
        ASSERT_INT(r.result.n_kvs, 0);

        /* freeing the client: nothing calls back, owned handles stay valid until freed */
        ASSERT_INT(etcd_client_range(c, &(EtcdRangeArgs) { .key = "/t" }, on_reply, &late, NULL), 0);
        ASSERT_INT(etcd_client_range(c, &(EtcdRangeArgs) { .key = "/t" }, on_reply, &late, &owned), 0);
        ASSERT_INT(etcd_client_watch(c, "/t/", NULL, 1, on_watch, &s, &w), 0);
        ASSERT_INT(etcd_lease_keep(c, 12345, 1, on_lost, &lost, &l), 0);
        c = etcd_client_free(c);
        run_for(SEC(1));
        ASSERT_INT(late.calls, 0);
        ASSERT_INT(s.batches + s.n_errors, 0);
        ASSERT_INT(lost, 0);
        etcd_request_cancel(owned);
        etcd_watch_free(w);
        etcd_lease_free(l);
}

static EtcdClient *doomed;

static void on_reply_free_client(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        (*(unsigned *) userdata)++;
        doomed = etcd_client_free(doomed);
}

static void on_watch_free_self(EtcdWatch *w, int error, const EtcdEvent *events, size_t n, void *userdata) {
        (*(unsigned *) userdata)++;
        etcd_watch_free(w);
}

TEST(free_from_callback) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(reply_done) Reply r = {};
        EtcdWatch *w = NULL, *other = NULL;
        unsigned calls = 0, watch_calls = 0;
        Watched s = {};

        ASSERT_TRUE(c);
        /* a watch that frees itself in its first callback */
        ASSERT_INT(do_put(c, "/t/self", "1", 0, &r), 0);
        ASSERT_INT(etcd_client_watch(c, "/t/self", NULL, r.result.revision, on_watch_free_self, &watch_calls, &w), 0);
        ASSERT_INT(do_put(c, "/t/self", "2", 0, &r), 0);
        ASSERT_TRUE(RUN_UNTIL(watch_calls > 0, WAIT_TIMEOUT));
        run_for(SEC(0.3));
        ASSERT_INT(watch_calls, 1);

        /* a client freed by the first of several callbacks */
        doomed = client();
        ASSERT_TRUE(doomed);
        for (int i = 0; i < 4; i++)
                ASSERT_INT(etcd_client_range(doomed, &(EtcdRangeArgs) { .key = "/t/self" },
                                             on_reply_free_client, &calls, NULL), 0);
        ASSERT_INT(etcd_client_watch(doomed, "/t/self", NULL, 1, on_watch, &s, &other), 0);
        ASSERT_TRUE(RUN_UNTIL(calls > 0, WAIT_TIMEOUT));
        run_for(SEC(0.5));
        ASSERT_INT(calls, 1);
        ASSERT_TRUE(!doomed);
        etcd_watch_free(other);
        watched_done(&s);
}

/* Every fd the client opened carries FD_CLOEXEC while requests and a watch are open. */
TEST(cloexec) {
        _cleanup_(etcd_client_freep) EtcdClient *c = client();
        _cleanup_(etcd_watch_freep) EtcdWatch *w = NULL;
        _cleanup_(watched_done) Watched s = {};
        _cleanup_(reply_done) Reply r = {};
        DIR *d;
        struct dirent *de;
        unsigned checked = 0;

        ASSERT_TRUE(c);
        ASSERT_INT(etcd_client_watch(c, "/t/cloexec", NULL, 0, on_watch, &s, &w), 0);
        ASSERT_TRUE(RUN_UNTIL(etcd_watch_revision(w) > 0, WAIT_TIMEOUT));
        ASSERT_INT(etcd_client_range(c, &(EtcdRangeArgs) { .key = "/t" }, on_reply, &r, NULL), 0);
        run_for(SEC(0.01));

        d = opendir("/proc/self/fd");
        ASSERT_TRUE(d);
        while ((de = readdir(d))) {
                int fd = atoi(de->d_name), flags;

                if (de->d_name[0] == '.' || fd == dirfd(d) || fd_inherited(fd) ||
                    fd >= 1000 /* valgrind's own */)
                        continue;
                flags = fcntl(fd, F_GETFD);
                if (flags >= 0 && !(flags & FD_CLOEXEC)) {
                        char path[64], target[256] = "";

                        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                        (void) !readlink(path, target, sizeof(target) - 1);
                        fprintf(stderr, "fd %d (%s) lacks FD_CLOEXEC\n", fd, target);
                        test_failures++;
                }
                checked++;
        }
        closedir(d);
        ASSERT_TRUE(checked >= 2);
}

/* Last: it leaves auth enabled until it disables it again. */
TEST(auth) {
        _cleanup_(etcd_client_freep) EtcdClient *c = NULL, *bad = NULL, *anonymous = NULL;
        _cleanup_(etcd_watch_freep) EtcdWatch *w = NULL;
        _cleanup_(watched_done) Watched s = {};
        _cleanup_(reply_done) Reply r = {};
        _cleanup_free_ char *answer = NULL, *token = NULL;
        char *endpoints[] = { (char *) etcd_runner_url(etcd), NULL };
        const char *credentials = "{\"name\":\"root\",\"password\":\"secret\"}";
        const char *t;

        ASSERT_INT(etcd_runner_post(etcd, "/v3/auth/user/add", credentials, NULL, NULL), 200);
        ASSERT_INT(etcd_runner_post(etcd, "/v3/auth/user/grant", "{\"user\":\"root\",\"role\":\"root\"}",
                                    NULL, NULL), 200);
        ASSERT_INT(etcd_runner_post(etcd, "/v3/auth/enable", "{}", NULL, NULL), 200);

        ASSERT_INT(client_with(endpoints, 0, "root", "secret", &c), 0);
        ASSERT_INT(client_with(endpoints, 0, "root", "wrong", &bad), 0);
        ASSERT_INT(client_with(endpoints, 0, NULL, NULL, &anonymous), 0);

        ASSERT_INT(do_put(c, "/t/auth", "1", 0, &r), 0);
        ASSERT_INT(do_get(c, "/t/auth", &r), 0);
        ASSERT_STR(r.result.kvs[0].value, "1");
        ASSERT_INT(do_get(bad, "/t/auth", &r), -EACCES);
        ASSERT_INT(do_get(anonymous, "/t/auth", &r), -EACCES);

        ASSERT_INT(etcd_client_watch(c, "/t/auth", NULL, 0, on_watch, &s, &w), 0);
        ASSERT_TRUE(RUN_UNTIL(etcd_watch_revision(w) > 0, WAIT_TIMEOUT));

        /* the token expires when unused for 3 s (--auth-token-ttl): the client gets a new one */
        run_for(SEC(4));
        ASSERT_INT(do_put(c, "/t/auth", "2", 0, &r), 0);
        ASSERT_TRUE(RUN_UNTIL(s.n >= 1, WAIT_TIMEOUT));
        ASSERT_STR(s.ev[0].value, "2");
        ASSERT_INT(s.n_errors, 0);

        ASSERT_INT(etcd_runner_post(etcd, "/v3/auth/authenticate", credentials, NULL, &answer), 200);
        t = strstr(answer, "\"token\":\"");
        ASSERT_TRUE(t);
        token = strndup(t + 9, strcspn(t + 9, "\""));
        ASSERT_INT(etcd_runner_post(etcd, "/v3/auth/disable", "{}", token, NULL), 200);
}

TEST(stop_etcd) {
        event = sd_event_unref(event);
        etcd = etcd_runner_free(etcd);
}

TEST_MAIN(T(start_etcd),
          T(options),
          T(prefix_end),
          T(put_range),
          T(range_prefix_limit),
          T(range_old_revision),
          T(delete),
          T(txn_compare_holds),
          T(txn_compare_fails),
          T(lease_grant_keepalive_revoke),
          T(lease_keeper_keeps),
          T(lease_expires),
          T(watch_put_delete),
          T(watch_history),
          T(watch_survives_restart),
          T(lease_keeper_survives_restart),
          T(failover_dead_endpoint),
          T(timeout_silent_endpoint),
          T(unavailable_read_retried),
          T(unavailable_txn),
          T(compaction),
          T(odd_values),
          T(big_value),
          T(watch_line_limit),
          T(cancel_is_silent),
          T(free_from_callback),
          T(cloexec),
          T(auth),
          T(stop_etcd));
