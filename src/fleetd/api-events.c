/* SPDX-License-Identifier: Apache-2.0 */
/* GET /v1/events with its follow stream, GET /metrics, and events of API callers
 * (api-events.h). The history is read from etcd per request (it is bounded: events_keep); a
 * follow watches events/ from the revision of that read, so nothing falls in between. */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "api-events.h"
#include "basic/json-util.h"
#include "event-record.h"
#include "log.h"
#include "manager.h"
#include "metrics.h"

#define HEARTBEAT (15 * USEC_PER_SEC)

typedef struct EventsRequest EventsRequest;

struct EventsRequest {
        Manager *m;
        ApiRequest *req;
        EventFilter filter;           /* strings borrowed from req */
        bool follow, sse;
        char *end;                    /* the end of events/ */
        EtcdWatch *watch;
        sd_event_source *heartbeat;
        bool linked;                  /* in follows */
        EventsRequest *next, *prev;
};

static EventsRequest *follows;
static size_t n_follows;

static EventsRequest *events_request_free(EventsRequest *r) {
        if (!r)
                return NULL;
        if (r->linked) {
                if (r->prev)
                        r->prev->next = r->next;
                else if (follows == r)
                        follows = r->next;
                if (r->next)
                        r->next->prev = r->prev;
                n_follows--;
        }
        etcd_watch_free(r->watch);
        sd_event_source_disable_unref(r->heartbeat);
        free(r->end);
        free(r);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(EventsRequest *, events_request_free);

/* Ends the answer (error < 0: cut off) and frees r. */
static void events_stop(EventsRequest *r, int error) {
        (void) api_request_set_event_handler(r->req, NULL, NULL);
        (void) api_request_stream_end(r->req, error);
        events_request_free(r);
}

/* One event as the stream carries it. -ENOBUFS (the client reads too slowly) ends the follow. */
static int events_write(EventsRequest *r, const json_t *j, const char *id) {
        _cleanup_free_ char *text = jx_dumps(j), *line = NULL;
        int n;

        if (!text)
                return -ENOMEM;
        n = r->sse ? asprintf(&line, "id: %s\ndata: %s\n\n", id, text) : asprintf(&line, "%s\n", text);
        if (n < 0)
                return -ENOMEM;
        return api_request_stream_write(r->req, line, (size_t) n);
}

static void on_events(EtcdWatch *w, int error, const EtcdEvent *ev, size_t n, void *userdata) {
        EventsRequest *r = userdata;

        if (error < 0) {
                log_debug_errno(error, "Events follow ended: %m");
                return events_stop(r, error);
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_(event_record_done) EventRecord e = EVENT_RECORD_INIT;
                json_auto_t *j = NULL;

                if (ev[i].type != ETCD_EVENT_PUT)
                        continue;
                j = json_loads(ev[i].kv.value, 0, NULL);
                if (event_record_from_json(j, &e) < 0 || !event_filter_match(&r->filter, &e))
                        continue;
                int k = events_write(r, j, e.id);
                if (k < 0) {
                        log_debug_errno(k, "Events follow of a slow or gone client ended: %m");
                        return events_stop(r, k);
                }
        }
}

static void on_request_event(ApiRequest *req, ApiRequestEvent event, void *userdata) {
        if (event == API_REQUEST_CLOSED)
                events_stop(userdata, -ECONNRESET);
}

static int on_heartbeat(sd_event_source *s, uint64_t usec, void *userdata) {
        EventsRequest *r = userdata;
        int k = api_request_stream_write(r->req, ":\n\n", 3);

        if (k < 0 && k != -ENOBUFS) {
                events_stop(r, k);
                return 0;
        }
        (void) sd_event_source_set_time_relative(s, HEARTBEAT);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

/* The matching records of a range, oldest first: the newest limit (no since), or the first
 * limit from since on; *ret_more when a since page was cut short. */
static json_t *events_select(const EventFilter *f, const EtcdResult *result, bool *ret_more) {
        bool from_start = f->since > 0 || f->after[0];
        json_auto_t *list = json_array();
        size_t matched = 0;

        *ret_more = false;
        for (size_t i = 0; list && i < result->n_kvs; i++) {
                _cleanup_(event_record_done) EventRecord e = EVENT_RECORD_INIT;
                json_t *j = json_loads(result->kvs[i].value, 0, NULL);

                if (event_record_from_json(j, &e) < 0 || !event_filter_match(f, &e)) {
                        json_decref(j);
                        continue;
                }
                if (from_start && matched == f->limit) {
                        json_decref(j);
                        *ret_more = true;
                        break;
                }
                matched++;
                json_array_append_new(list, j);
                if (!from_start && json_array_size(list) > f->limit)
                        json_array_remove(list, 0);
        }
        return list ? json_incref(list) : NULL;
}

static int events_stream(EventsRequest *r, const json_t *list, int64_t revision) {
        _cleanup_free_ char *start = NULL;
        size_t i;
        json_t *j;
        int k;

        k = api_request_stream_begin(r->req, 200, r->sse ? "text/event-stream" : "application/x-ndjson");
        if (k < 0)
                return k;
        json_array_foreach(list, i, j) {
                k = events_write(r, j, jx_str(j, "id"));
                if (k < 0)
                        return k;
        }
        start = registry_key(r->m->config->etcd_key_prefix, "events", "", NULL);
        if (!start)
                return -ENOMEM;
        k = etcd_client_watch(r->m->etcd, start, r->end, revision + 1, on_events, r, &r->watch);
        if (k < 0)
                return k;
        k = api_request_set_event_handler(r->req, on_request_event, r);
        if (k < 0)
                return k;
        if (!r->sse)
                return 0;
        /* comments keep proxies from closing a quiet stream and show a gone client */
        k = sd_event_add_time_relative(r->m->event, &r->heartbeat, CLOCK_MONOTONIC, HEARTBEAT, USEC_PER_SEC,
                                       on_heartbeat, r);
        return k < 0 ? k : sd_event_source_set_enabled(r->heartbeat, SD_EVENT_ON);
}

static void on_events_read(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        _cleanup_(events_request_freep) EventsRequest *r = userdata;
        bool more;
        int k;

        if (error < 0)
                return (void) api_request_reply_etcd_error(r->req, error);
        json_auto_t *list = events_select(&r->filter, result, &more);
        if (!list)
                return (void) api_request_reply_error(r->req, 500, "internal", "Out of memory.");
        if (!r->follow) {
                json_t *last = json_array_get(list, json_array_size(list) - 1);
                json_auto_t *body = json_pack("{s:O, s:s*}", "events", list, "next", more ? jx_str(last, "id") : NULL);
                return (void) api_request_reply_json(r->req, 200, body);
        }
        k = events_stream(r, list, result->revision);
        if (k < 0) {
                log_debug_errno(k, "Failed to follow events: %m");
                (void) api_request_set_event_handler(r->req, NULL, NULL);
                if (api_request_stream_end(r->req, k) < 0)
                        (void) api_request_reply_error(r->req, 500, "internal", "%s", strerror(-k));
                return;
        }
        TAKE_PTR(r);
}

static bool accepts_event_stream(ApiRequest *req) {
        const char *accept = api_request_header(req, "Accept");
        return accept && strcasestr(accept, "text/event-stream");
}

/* Checks the query; replies 400 and returns false when it is not acceptable. */
static bool events_parse(EventsRequest *r) {
        static const char * const known[] = { "app", "unit", "machine", "since", "limit", "follow", NULL };
        ApiRequest *req = r->req;
        const char *bad = api_request_unknown_query(req, known), *follow = api_request_query(req, "follow");
        const char *since = api_request_query(req, "since");
        _cleanup_free_ char *err = NULL;

        if (bad)
                return api_request_reply_error(req, 400, "bad_request",
                                               "Unknown parameter '%s' (expected app, unit, machine, since, limit, "
                                               "follow).", bad), false;
        if (follow && !streq(follow, "1") && !streq(follow, "0") && !streq(follow, "true") && !streq(follow, "false"))
                return api_request_reply_error(req, 400, "bad_request", "follow=%s: expected 1 or 0.", follow), false;
        r->follow = follow && (streq(follow, "1") || streq(follow, "true"));
        r->sse = accepts_event_stream(req);
        /* a browser's EventSource resumes after the last event it saw */
        if (!since && r->sse && api_request_header(req, "Last-Event-ID"))
                since = api_request_header(req, "Last-Event-ID");
        if (event_filter_parse(api_request_query(req, "app"), api_request_query(req, "unit"),
                               api_request_query(req, "machine"), since, api_request_query(req, "limit"),
                               now_usec(CLOCK_REALTIME), &r->filter, &err) < 0)
                return api_request_reply_error(req, 400, "bad_request", "%s.", strna(err)), false;
        return true;
}

int api_events_get(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        _cleanup_(events_request_freep) EventsRequest *r = calloc(1, sizeof(*r));
        _cleanup_free_ char *start = NULL, *prefix = NULL;

        if (!r)
                return -ENOMEM;
        *r = (EventsRequest) { .m = m, .req = req };
        if (!events_parse(r))
                return 0;
        if (r->follow && n_follows >= API_EVENTS_FOLLOW_MAX)
                return api_request_reply_error(req, 503, "busy", "This fleetd serves %d follows already.",
                                               API_EVENTS_FOLLOW_MAX);
        if (r->follow) {
                r->linked = true;
                r->next = follows;
                if (follows)
                        follows->prev = r;
                follows = r;
                n_follows++;
        }
        prefix = registry_key(m->config->etcd_key_prefix, "events", "", NULL);
        start = event_filter_range_start(&r->filter, m->config->etcd_key_prefix);
        r->end = prefix ? etcd_prefix_end(prefix) : NULL;
        if (!start || !r->end)
                return -ENOMEM;
        EtcdRangeArgs args = { .key = start, .range_end = r->end };
        int k = etcd_client_range(m->etcd, &args, on_events_read, r, NULL);
        if (k < 0)
                return k;
        TAKE_PTR(r);
        return 0;
}

int api_metrics_get(ApiRequest *req, void *userdata) {
        _cleanup_free_ char *text = NULL;
        int r;

        metrics_collect(NULL);
        r = metrics_render(NULL, &text);
        if (r < 0)
                return r;
        r = api_request_stream_begin(req, 200, METRICS_CONTENT_TYPE);
        if (r < 0)
                return r;
        r = api_request_stream_write(req, text, strlen(text));
        return api_request_stream_end(req, MIN(r, 0));
}

/* e as done by the caller of req. */
static Event event_by_caller(ApiRequest *req, const Event *e) {
        Event copy = *e;
        int64_t uid = api_request_uid(req);

        copy.by = EVENT_BY_USER;
        copy.who = api_request_who(req);
        copy.has_uid = uid >= 0;
        copy.uid = uid >= 0 ? (uid_t) uid : 0;
        return copy;
}

const ApiRoute api_metrics_routes[] = {
        { "GET", "/metrics", api_metrics_get },
        {}
};

void api_event_emit(ApiRequest *req, const Event *e) {
        Event copy = event_by_caller(req, e);
        event_emit(&copy);
}

void api_event_emitf(ApiRequest *req, const Event *e, const char *fmt, ...) {
        Event copy = event_by_caller(req, e);
        va_list ap;

        va_start(ap, fmt);
        event_log_emitv(NULL, &copy, fmt, ap);
        va_end(ap);
}

void api_unit_event(ApiRequest *req, const char *unit, const char *app, bool created, UnitDesiredState was,
                    UnitDesiredState to) {
        const char *kind = created ? "unit.submit" : to == UNIT_LAUNCHED ? "unit.start" :
                           to == UNIT_LOADED && was == UNIT_LAUNCHED ? "unit.stop" :
                           to == UNIT_LOADED ? "unit.load" : "unit.unload";
        json_auto_t *d = json_pack("{s:s, s:s*}", "desiredState", unit_desired_state_to_string(to), "from",
                                   created ? NULL : unit_desired_state_to_string(was));

        if (!created && was == to)
                return;
        api_event_emitf(req, &(Event) { .kind = kind, .unit = unit, .app = app, .details = d }, "%s (desired state %s)",
                        created ? "submitted" : "desired state changed", unit_desired_state_to_string(to));
}
