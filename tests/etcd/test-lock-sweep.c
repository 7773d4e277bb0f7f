/* SPDX-License-Identifier: Apache-2.0 */
/* The engine leader's sweep of reboot slots (lock-sweep.h) against a real etcd that the test
 * starts itself: it frees the holders older than the timeout in every group and keeps the
 * others, leaves groups it cannot read alone, and writes nothing once the leader key is not
 * its own (fencing). FLEETD_TEST_DEBUG=1 shows the debug log. */

#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-event.h>

#include "basic/json-util.h"
#include "basic/time-util.h"
#include "etcd-client.h"
#include "etcd-runner.h"
#include "lock-sweep.h"
#include "log.h"
#include "registry.h"
#include "tests.h"

#define SEC(n) ((usec_t) ((n) * USEC_PER_SEC))
#define P "/ls/"
#define ME "11111111111111111111111111111111"
#define HOUR SEC(3600)

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

typedef struct Got {
        bool done;
        int error;
        char *value;                  /* range: the first value, or NULL */
} Got;

static void on_got(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        Got *g = userdata;

        g->done = true;
        g->error = error;
        if (error >= 0 && result->n_kvs > 0)
                g->value = strdup(result->kvs[0].value);
}

static int put(const char *key, const char *value) {
        Got g = {};
        int r = etcd_client_put(client, key, value, 0, on_got, &g, NULL);

        if (r < 0)
                return r;
        if (!RUN_UNTIL(g.done, SEC(10)))
                return -ETIME;
        return g.error;
}

/* The value of key, or NULL if there is none. */
static char *get(const char *key) {
        EtcdRangeArgs args = { .key = key };
        Got g = {};

        if (etcd_client_range(client, &args, on_got, &g, NULL) < 0 || !RUN_UNTIL(g.done, SEC(10)))
                return NULL;
        return g.value;
}

/* A group with holders "id@age-in-seconds", e.g. group("g", 2, "old@7200", "new@1", NULL). */
static char *group(const char *name, unsigned max, ...) {
        uint64_t now = now_usec(CLOCK_REALTIME);
        LockRecord l = { .group = strdup(name), .max = max, .holders = calloc(8, sizeof(LockHolder)) };
        const char *h;
        va_list ap;
        char *text = NULL;

        va_start(ap, max);
        while ((h = va_arg(ap, const char *))) {
                const char *at = strchr(h, '@');
                l.holders[l.n_holders++] = (LockHolder) { .id = strndup(h, at - h),
                                                          .since_usec = now - SEC(atoi(at + 1)) };
        }
        va_end(ap);
        json_auto_t *j = lock_record_to_json(&l);
        text = j ? jx_dumps(j) : NULL;
        lock_record_done(&l);
        return text;
}

/* The ids of locks/<name>'s holders, "a b", or "(none)" without a key, "(bad)" if unreadable. */
static char *holders(const char *name) {
        _cleanup_free_ char *key = registry_key(P, "locks", name, NULL), *value = key ? get(key) : NULL;
        _cleanup_(lock_record_done) LockRecord l = {};
        json_auto_t *j = value ? json_loads(value, 0, NULL) : NULL;
        char buf[256] = "";

        if (!value)
                return strdup("(none)");
        if (lock_record_from_json(j, &l) < 0)
                return strdup("(bad)");
        for (size_t i = 0; i < l.n_holders; i++)
                snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? " " : "", l.holders[i].id);
        return strdup(buf);
}

static bool holders_are(const char *name, const char *want) {
        _cleanup_free_ char *h = holders(name);
        return h && streq(h, want);
}

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

TEST(frees_expired_holders_only) {
        _cleanup_free_ char *a = group("default", 2, "old@7200", "new@60", NULL);
        _cleanup_free_ char *b = group("db", 1, "gone@3601", NULL);
        _cleanup_free_ char *c = group("web", 3, "x@10", "y@20", NULL);
        _cleanup_(lock_sweep_freep) LockSweep *s = NULL;
        LockSweepOptions o = { .prefix = P, .leader_key = P "engine/leader", .machine_id = ME, .timeout = HOUR,
                               .interval = 100 * USEC_PER_MSEC };

        ASSERT_TRUE(a && b && c);
        ASSERT_INT(put(P "engine/leader", ME), 0);
        ASSERT_INT(put(P "locks/default", a), 0);
        ASSERT_INT(put(P "locks/db", b), 0);
        ASSERT_INT(put(P "locks/web", c), 0);
        ASSERT_INT(put(P "locks/broken", "not json"), 0);
        ASSERT_INT(lock_sweep_new(event, client, &o, &s), 0);

        ASSERT_TRUE(RUN_UNTIL(holders_are("default", "new") && holders_are("db", ""), SEC(10)));
        ASSERT_TRUE(holders_are("web", "x y"));
        _cleanup_free_ char *broken = get(P "locks/broken");
        ASSERT_STR(broken, "not json");
}

TEST(fenced) {
        _cleanup_free_ char *a = group("default", 1, "old@7200", NULL);
        _cleanup_(lock_sweep_freep) LockSweep *s = NULL;
        LockSweepOptions o = { .prefix = P, .leader_key = P "engine/leader", .machine_id = ME, .timeout = HOUR,
                               .interval = 100 * USEC_PER_MSEC };
        usec_t until = now_usec(CLOCK_MONOTONIC) + SEC(1);

        ASSERT_INT(put(P "engine/leader", "22222222222222222222222222222222"), 0);
        ASSERT_INT(put(P "locks/default", a), 0);
        ASSERT_INT(lock_sweep_new(event, client, &o, &s), 0);
        while (now_usec(CLOCK_MONOTONIC) < until)
                (void) sd_event_run(event, 20 * USEC_PER_MSEC);
        ASSERT_TRUE(holders_are("default", "old"));
}

TEST(stop_etcd) {
        client = etcd_client_free(client);
        event = sd_event_unref(event);
        etcd = etcd_runner_free(etcd);
}

TEST_MAIN(T(start_etcd),
          T(frees_expired_holders_only),
          T(fenced),
          T(stop_etcd));
