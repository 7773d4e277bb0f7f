/* SPDX-License-Identifier: Apache-2.0 */
/* The EventLog (event-log.h) against a real etcd that the test starts itself: events are
 * written in id order with who, app and details; the leader keeps the history bounded (in
 * all and per app) however many come; an etcd outage delays events and fails nothing; the
 * metrics text passes promtool (Debian's prometheus package; checked only where it exists).
 * FLEETD_TEST_DEBUG=1 shows the debug log. */

#include <stdio.h>
#include <systemd/sd-event.h>

#include "basic/json-util.h"
#include "basic/time-util.h"
#include "etcd-client.h"
#include "etcd-runner.h"
#include "event-log.h"
#include "event-record.h"
#include "log.h"
#include "metrics.h"
#include "tests.h"

#define SEC(n) ((usec_t) ((n) * USEC_PER_SEC))
#define P "/ev/"
#define MID "3f2a1b9c4d5e6f708192a3b4c5d6e7f8"
#define KEEP 50
#define KEEP_APP 20

static EtcdRunner *etcd;
static sd_event *event;
static EtcdClient *client;
static EventLog *elog;
static bool leading;

#define RUN_UNTIL(cond, timeout)                                                \
        ({                                                                      \
                usec_t _deadline = now_usec(CLOCK_MONOTONIC) + (timeout);       \
                while (!(cond) && now_usec(CLOCK_MONOTONIC) < _deadline)        \
                        (void) sd_event_run(event, 20 * USEC_PER_MSEC);         \
                (cond);                                                         \
        })

typedef struct Read {
        bool done;
        int error;
        json_t *records;              /* the values of events/, in key order */
} Read;

static void on_read(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        Read *r = userdata;

        r->done = true;
        r->error = error;
        r->records = json_array();
        for (size_t i = 0; error >= 0 && i < result->n_kvs; i++)
                json_array_append_new(r->records, json_loads(result->kvs[i].value, 0, NULL));
}

/* events/ as it is now; NULL if it could not be read. */
static json_t *read_events(void) {
        _cleanup_free_ char *end = etcd_prefix_end(P "events/");
        EtcdRangeArgs args = { .key = P "events/", .range_end = end };
        Read r = {};

        if (etcd_client_range(client, &args, on_read, &r, NULL) < 0 || !RUN_UNTIL(r.done, SEC(10)) || r.error < 0) {
                json_decref(r.records);
                return NULL;
        }
        return r.records;
}

static size_t count_app(const json_t *records, const char *app) {
        size_t i, n = 0;
        json_t *j;

        json_array_foreach(records, i, j)
                n += app ? streq_ptr(jx_str(j, "app"), app) : 1;
        return n;
}

static bool leader_check(void *userdata) {
        return leading;
}

TEST(start) {
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
        EventLogOptions o = { .prefix = P, .machine_id = MID, .hostname = "node-a", .keep_total = KEEP,
                              .keep_app = KEEP_APP };
        ASSERT_INT(event_log_new(event, client, &o, &elog), 0);
        event_log_set_default(elog);
        event_log_set_leader_check(elog, leader_check, NULL);
}

/* Written once etcd took them, in order, each as emitted. */
TEST(written) {
        json_auto_t *d = json_pack("{s:[s]}", "set", "GREETING");

        event_emit(&(Event) { .kind = "app.config", .app = "hello", .release = 3, .who = "alice", .has_uid = true,
                              .uid = 1000, .details = d, .message = "release v3 created (config set GREETING)" });
        event_emitf(&(Event) { .kind = "unit.placed", .by = EVENT_BY_ENGINE, .unit = "db.service", .machine = MID },
                    "placed on %.8s", MID);
        event_emit(&(Event) { .kind = "instance.failed", .by = EVENT_BY_AGENT, .unit = "hello_v3.web@1.service",
                              .app = "hello", .message = "failed: exit status 3" });
        event_emit(&(Event) { .kind = "Not A Kind", .message = "dropped" });
        ASSERT_INT(event_log_pending(elog), 3);
        ASSERT_TRUE(RUN_UNTIL(event_log_pending(elog) == 0, SEC(10)));

        json_auto_t *all = read_events();
        ASSERT_TRUE(all);
        ASSERT_INT(json_array_size(all), 3);
        json_t *a = json_array_get(all, 0), *b = json_array_get(all, 1), *c = json_array_get(all, 2);
        ASSERT_STR(jx_str(a, "kind"), "app.config");
        ASSERT_STR(jx_str(a, "who"), "alice");
        ASSERT_INT(jx_int64(a, "uid", -1), 1000);
        ASSERT_INT(jx_int64(a, "release", 0), 3);
        ASSERT_TRUE(json_equal(json_object_get(a, "details"), d));
        ASSERT_STR(jx_str(b, "who"), "engine@node-a");
        ASSERT_STR(jx_str(b, "message"), "placed on 3f2a1b9c");
        ASSERT_STR(jx_str(c, "who"), "agent@node-a");
        ASSERT_TRUE(strcmp(jx_str(a, "id"), jx_str(b, "id")) < 0 && strcmp(jx_str(b, "id"), jx_str(c, "id")) < 0);
        for (size_t i = 0; i < 3; i++) {
                EventRecord e = EVENT_RECORD_INIT;
                ASSERT_INT(event_record_from_json(json_array_get(all, i), &e), 0);
                event_record_done(&e);
        }
}

/* 2,000 events (500 of them bulk, written at 120/s after the others): the leader trims to KEEP
 * in all and KEEP_APP of an app, oldest first. */
TEST(bounded) {
        leading = true;
        for (int i = 0; i < 2000; i++)
                event_emitf(&(Event) { .kind = "app.scale", .app = i % 8 < 5 ? "a" : i % 8 < 7 ? "b" : NULL,
                                       .who = "test", .bulk = i < 500 }, "event %d", i);
        ASSERT_TRUE(RUN_UNTIL(event_log_pending(elog) == 0, SEC(30)));

        json_t *all = NULL;
        bool settled = RUN_UNTIL(({
                json_decref(all);
                all = read_events();
                all && json_array_size(all) <= KEEP && count_app(all, "a") <= KEEP_APP && count_app(all, "b") <= KEEP_APP;
        }), SEC(20));
        json_auto_t *keep = all;
        ASSERT_TRUE(settled);
        /* the newest survive: event 1999 (of no app) is the last one */
        ASSERT_STR(jx_str(json_array_get(keep, json_array_size(keep) - 1), "message"), "event 1999");
        ASSERT_INT(count_app(keep, "a"), KEEP_APP);
}

/* etcd away: emitting goes on (the journal has them), the queue waits and is written after. */
TEST(outage) {
        ASSERT_INT(etcd_runner_stop(etcd), 0);
        for (int i = 0; i < 5; i++)
                event_emitf(&(Event) { .kind = "unit.destroy", .unit = "x.service", .who = "test" }, "outage %d", i);
        RUN_UNTIL(false, SEC(1));
        ASSERT_INT(event_log_pending(elog), 5);
        ASSERT_INT(etcd_runner_restart(etcd), 0);
        ASSERT_TRUE(RUN_UNTIL(event_log_pending(elog) == 0, SEC(30)));
        json_auto_t *all = read_events();
        ASSERT_TRUE(all);
        ASSERT_STR(jx_str(json_array_get(all, json_array_size(all) - 1), "message"), "outage 4");
}

/* The metrics so far (events, etcd) in Prometheus' text, checked by promtool. */
TEST(metrics_promtool) {
        _cleanup_free_ char *text = NULL;
        char path[] = "/tmp/test-event-log-metrics-XXXXXX";
        int fd;

        ASSERT_INT(metrics_render(NULL, &text), 0);
        ASSERT_CONTAINS(text, "\nfleetd_events_written_total 2008\n");
        ASSERT_CONTAINS(text, "\nfleetd_events_total{kind=\"app.scale\"} 2000\n");
        ASSERT_CONTAINS(text, "# TYPE fleetd_etcd_request_duration_seconds histogram\n");
        ASSERT_CONTAINS(text, "\nfleetd_etcd_requests_total{operation=\"txn\",result=\"ok\"} ");
        if (system("command -v promtool >/dev/null") != 0) {
                printf("promtool not found (Debian package prometheus): the text was not checked with it\n");
                return;
        }
        fd = mkstemp(path);
        ASSERT_TRUE(fd >= 0);
        ASSERT_INT(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        _cleanup_free_ char *cmd = NULL;
        ASSERT_TRUE(asprintf(&cmd, "promtool check metrics < %s", path) > 0);
        int r = system(cmd);
        (void) unlink(path);
        ASSERT_INT(r, 0);
}

TEST(stop) {
        elog = event_log_free(elog);
        client = etcd_client_free(client);
        event = sd_event_unref(event);
        etcd = etcd_runner_free(etcd);
}

TEST_MAIN(T(start), T(written), T(bounded), T(outage), T(metrics_promtool), T(stop))
