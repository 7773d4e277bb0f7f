/* SPDX-License-Identifier: Apache-2.0 */
/* The EventLog (event-log.h): emission (journal, queue), batched writes, and the leader's
 * trimming of events/. */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "basic/json-util.h"
#include "basic/utf8.h"
#include "event-log.h"
#include "event-record.h"
#include "log.h"
#include "metrics.h"

#define FLUSH_BATCH 120               /* puts per txn (etcd's --max-txn-ops is 128) */
#define FLUSH_DELAY (50 * USEC_PER_MSEC)  /* events of one burst go in one txn */
/* Bulk events (placements, machines) go one txn a second: in a burst of 10,000 placements etcd
 * stays the scheduler's, and their events follow at 120/s; the others go first, at once. */
#define BULK_PACE (USEC_PER_SEC)
#define RETRY_MIN (500 * USEC_PER_MSEC)
#define RETRY_MAX (10 * USEC_PER_SEC)
#define TICK (USEC_PER_SEC)
#define TRIM_DELAY (200 * USEC_PER_MSEC)
#define TRIM_BATCH 100

static MetricFamily m_events = METRIC_COUNTER("events_total", "Events emitted by this fleetd, by kind.", "kind");
static MetricFamily m_written = METRIC_COUNTER("events_written_total", "Events this fleetd wrote to etcd.");
static MetricFamily m_dropped = METRIC_COUNTER("events_dropped_total",
                                               "Events this fleetd could not write to etcd (queue full or etcd "
                                               "failing too long); they are in its journal only.");
static MetricFamily m_trimmed = METRIC_COUNTER("events_trimmed_total",
                                               "Old events the engine leader deleted to keep the history bounded.");
static MetricFamily m_queued = METRIC_GAUGE("events_queued", "Events waiting to be written to etcd.");

typedef struct Queued {
        char *key;
        char *value;
} Queued;

/* Events waiting, oldest first: q[head..len). */
typedef struct EventQueue {
        Queued *q;
        size_t head, len, allocated;
} EventQueue;

typedef struct IndexEntry {
        char id[EVENT_ID_SIZE];
        char *app;
} IndexEntry;

struct EventLog {
        sd_event *event;
        EtcdClient *etcd;
        char *events_prefix, *events_end;
        char *machine_id, *engine_who, *agent_who;
        size_t keep_total, keep_app;
        bool journal_only;
        uint32_t counter;

        EventQueue queues[2];         /* [0] the others, [1] bulk (Event.bulk) */
        EventQueue *writing;          /* the queue whose first in_flight are being written */
        size_t in_flight;
        usec_t bulk_next;             /* CLOCK_MONOTONIC: the next bulk txn not before */
        EtcdRequest *flush;
        sd_event_source *flush_timer;
        usec_t backoff;
        usec_t failing_since;         /* CLOCK_MONOTONIC of the first failure in a row; 0: none */
        bool dropping;                /* this episode of drops was logged */

        event_log_leader_t leader_check;
        void *leader_userdata;
        sd_event_source *tick;
        bool leader;
        EtcdRequest *load;
        EtcdWatch *watch;
        IndexEntry *index;            /* by id */
        size_t n_index, a_index;
        EtcdRequest *trim;
        sd_event_source *trim_timer;
};

static EventLog *default_log;

void event_log_set_default(EventLog *l) {
        default_log = l;
}

EventLog *event_log_default(void) {
        return default_log;
}

/* --- the queues --- */

static void queued_done(Queued *q) {
        free(q->key);
        free(q->value);
}

static size_t queue_size(const EventQueue *q) {
        return q->len - q->head;
}

static size_t event_log_queued(const EventLog *l) {
        return queue_size(&l->queues[0]) + queue_size(&l->queues[1]);
}

size_t event_log_pending(const EventLog *l) {
        return l ? event_log_queued(l) : 0;
}

static void queue_drop_front(EventQueue *q, size_t n) {
        for (size_t i = 0; i < n; i++)
                queued_done(&q->q[q->head + i]);
        q->head += n;
        if (q->head == q->len)
                q->head = q->len = 0;
}

static int queue_push(EventQueue *q, char *key, char *value) {
        if (q->head > 0 && q->len == q->allocated) {
                memmove(q->q, q->q + q->head, queue_size(q) * sizeof(Queued));
                q->len -= q->head;
                q->head = 0;
        }
        if (q->len == q->allocated) {
                size_t n = q->allocated ? q->allocated * 2 : 64;
                Queued *a = realloc(q->q, n * sizeof(Queued));
                if (!a)
                        return -ENOMEM;
                q->q = a;
                q->allocated = n;
        }
        q->q[q->len++] = (Queued) { key, value };
        return 0;
}

static void queue_done(EventQueue *q) {
        queue_drop_front(q, queue_size(q));
        free(q->q);
        *q = (EventQueue) {};
}

static void event_log_count_queued(const EventLog *l) {
        metric_set(&m_queued, (double) event_log_queued(l), NULL);
}

/* One line for a run of drops; the next success ends the run. */
static void event_log_dropped(EventLog *l, size_t n, const char *why) {
        metric_add(&m_dropped, (double) n, NULL);
        if (!l->dropping)
                log_warning("Events are not written to etcd (%s); they are in this journal only, until etcd "
                            "takes them again.", why);
        l->dropping = true;
}

/* --- writing --- */

static void event_log_flush_after(EventLog *l, usec_t delay);

/* When the next txn may go: at once for the others, at the pace for bulk events. */
static void event_log_flush_next(EventLog *l, usec_t delay) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        if (queue_size(&l->queues[0]) > 0)
                event_log_flush_after(l, delay);
        else if (queue_size(&l->queues[1]) > 0)
                event_log_flush_after(l, MAX(delay, l->bulk_next > now ? l->bulk_next - now : 0));
}

static void on_flushed(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        EventLog *l = userdata;
        size_t n = l->in_flight;

        l->flush = etcd_request_cancel(l->flush);
        l->in_flight = 0;
        if (error < 0) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                if (l->failing_since == 0)
                        l->failing_since = now;
                log_debug_errno(error, "Failed to write %zu event(s), retrying: %m", n);
                if (now - l->failing_since >= EVENT_GIVE_UP) {
                        event_log_dropped(l, event_log_queued(l), "etcd failed for a minute");
                        queue_drop_front(&l->queues[0], queue_size(&l->queues[0]));
                        queue_drop_front(&l->queues[1], queue_size(&l->queues[1]));
                        event_log_count_queued(l);
                }
                l->backoff = MIN(MAX(l->backoff * 2, RETRY_MIN), RETRY_MAX);
                return event_log_flush_next(l, l->backoff);
        }
        metric_add(&m_written, (double) n, NULL);
        queue_drop_front(l->writing, n);
        event_log_count_queued(l);
        l->failing_since = 0;
        l->backoff = 0;
        l->dropping = false;
        event_log_flush_next(l, FLUSH_DELAY);
}

/* The next txn: the others' events first; bulk ones no sooner than BULK_PACE after the last. */
static void event_log_flush(EventLog *l) {
        EtcdOp ops[FLUSH_BATCH];
        usec_t now = now_usec(CLOCK_MONOTONIC);
        EventQueue *q = &l->queues[0];
        int r;

        if (l->flush)
                return;
        if (queue_size(q) == 0) {
                q = &l->queues[1];
                if (queue_size(q) == 0)
                        return;
                if (now < l->bulk_next)
                        return event_log_flush_after(l, l->bulk_next - now);
                l->bulk_next = now + BULK_PACE;
        }
        size_t n = MIN(queue_size(q), (size_t) FLUSH_BATCH);
        for (size_t i = 0; i < n; i++)
                ops[i] = (EtcdOp) { .type = ETCD_OP_PUT, .key = q->q[q->head + i].key, .value = q->q[q->head + i].value };
        EtcdTxn txn = { .success = ops, .n_success = n };
        r = etcd_client_txn(l->etcd, &txn, on_flushed, l, &l->flush);
        if (r < 0) {
                log_debug_errno(r, "Failed to send %zu event(s), retrying: %m", n);
                return event_log_flush_after(l, RETRY_MAX);
        }
        l->writing = q;
        l->in_flight = n;
}

static int on_flush_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        event_log_flush(userdata);
        return 0;
}

static void event_log_flush_after(EventLog *l, usec_t delay) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        uint64_t when;
        int enabled, r;

        if (l->flush)
                return;       /* on_flushed() goes on */
        if (sd_event_source_get_enabled(l->flush_timer, &enabled) >= 0 && enabled != SD_EVENT_OFF &&
            sd_event_source_get_time(l->flush_timer, &when) >= 0 && when <= now + delay)
                return;       /* due as soon already: this event goes along */
        r = sd_event_source_set_time(l->flush_timer, now + delay);
        if (r >= 0)
                r = sd_event_source_set_enabled(l->flush_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_debug_errno(r, "Failed to arm the event flush timer: %m");
}

/* --- emission --- */

static const char *event_who(const EventLog *l, const Event *e) {
        if (e->by == EVENT_BY_ENGINE)
                return l && l->engine_who ? l->engine_who : "engine";
        if (e->by == EVENT_BY_AGENT)
                return l && l->agent_who ? l->agent_who : "agent";
        return e->who ?: "unknown";
}

/* The message cut to EVENT_MESSAGE_MAX bytes at a character boundary, into buf. */
static const char *event_message(const Event *e, char *buf, size_t size) {
        size_t n = 0, len = strlen(strempty(e->message));
        const char *m = strempty(e->message);

        while (n < len) {
                size_t k = utf8_char_len(m + n, len - n, 0);
                if (k == 0 || n + k >= size)
                        break;
                n += k;
        }
        memcpy(buf, m, n);
        buf[n] = '\0';
        return buf;
}

/* The journal record of the event, at once. */
static void event_journal(const EventLog *l, const EventRecord *r) {
        char kind[16 + EVENT_KIND_MAX], id[16 + EVENT_ID_SIZE], user[8 + EVENT_WHO_MAX], app[8 + 64], unit[8 + 256],
                machine[16 + 64];
        const char *fields[8];
        size_t n = 0;

        snprintf(kind, sizeof(kind), "EVENT_KIND=%s", r->kind);
        snprintf(id, sizeof(id), "EVENT_ID=%s", r->id);
        snprintf(user, sizeof(user), "USER=%s", r->who);
        fields[n++] = kind;
        fields[n++] = id;
        fields[n++] = user;
        if (r->app && snprintf(app, sizeof(app), "APP=%s", r->app) > 0)
                fields[n++] = app;
        if (r->unit && snprintf(unit, sizeof(unit), "UNIT=%s", r->unit) > 0)
                fields[n++] = unit;
        /* the emitter's MACHINE_ID= is there already; the journal keeps both values */
        if (r->machine && (!l || !streq(r->machine, l->machine_id)) &&
            snprintf(machine, sizeof(machine), "MACHINE_ID=%s", r->machine) > 0)
                fields[n++] = machine;
        fields[n] = NULL;
        log_fields(LOG_INFO, fields, "Event %s: %s (by %s).", r->kind, r->message, r->who);
}

/* The record of e with this log's id, time and who. Borrows from e and msg. */
static EventRecord event_record_of(EventLog *l, const Event *e, const char *msg) {
        EventRecord r = EVENT_RECORD_INIT;
        usec_t now = now_usec(CLOCK_REALTIME);

        if (event_id_format(now, l ? l->machine_id : "00000000", l ? l->counter++ : 0, r.id) < 0)
                snprintf(r.id, sizeof(r.id), "%016d-00000000-00000000", 0);
        r.time = now;
        r.kind = (char *) e->kind;
        r.app = (char *) e->app;
        r.unit = (char *) e->unit;
        r.machine = (char *) e->machine;
        r.release = e->release;
        r.who = (char *) event_who(l, e);
        r.uid = e->has_uid ? (int64_t) e->uid : -1;
        r.message = (char *) msg;
        return r;
}

static void event_log_queue(EventLog *l, const EventRecord *r, bool bulk) {
        EventQueue *q = &l->queues[bulk];
        json_auto_t *j = event_record_to_json(r);
        _cleanup_free_ char *value = j ? jx_dumps(j) : NULL, *key = NULL;

        if (!value || asprintf(&key, "%s%s", l->events_prefix, r->id) < 0) {
                key = NULL;
                return event_log_dropped(l, 1, "out of memory");
        }
        if (queue_size(q) >= EVENT_QUEUE_MAX)
                return event_log_dropped(l, 1, "too many waiting");
        if (queue_push(q, key, value) < 0)
                return event_log_dropped(l, 1, "out of memory");
        key = value = NULL;
        event_log_count_queued(l);
        event_log_flush_next(l, FLUSH_DELAY);
}

void event_log_emit(EventLog *l, const Event *e) {
        char msg[EVENT_MESSAGE_MAX];
        json_t *details = NULL;

        assert(e);
        l = l ?: default_log;
        if (!event_kind_is_valid(e->kind)) {
                log_error("Not an event kind: '%s'; event dropped.", strna(e->kind));
                return;
        }
        EventRecord r = event_record_of(l, e, event_message(e, msg, sizeof(msg)));
        if (json_is_object(e->details)) {
                _cleanup_free_ char *text = jx_dumps(e->details);
                if (text && strlen(text) <= EVENT_DETAILS_MAX)
                        details = e->details;
        }
        r.details = details;
        metric_inc(&m_events, METRIC_LABELS(e->kind));
        event_journal(l, &r);
        if (l && l->etcd && !l->journal_only)
                event_log_queue(l, &r, e->bulk);
}

void event_log_emitv(EventLog *l, const Event *e, const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL;
        Event copy = *e;

        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        copy.message = msg ?: fmt;
        event_log_emit(l, &copy);
}

void event_log_emitf(EventLog *l, const Event *e, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        event_log_emitv(l, e, fmt, ap);
        va_end(ap);
}

/* --- the leader's index of events/ and trimming --- */

static size_t index_find(const EventLog *l, const char *id, bool *ret_found) {
        size_t lo = 0, hi = l->n_index;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(l->index[mid].id, id);
                if (c == 0) {
                        *ret_found = true;
                        return mid;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_found = false;
        return lo;
}

static int index_put(EventLog *l, const char *id, const char *app) {
        bool found;
        size_t at = index_find(l, id, &found);
        char *a = NULL;

        if (found)
                return 0;
        if (app && !(a = strdup(app)))
                return -ENOMEM;
        if (l->n_index == l->a_index) {
                size_t n = l->a_index ? l->a_index * 2 : 1024;
                IndexEntry *e = realloc(l->index, n * sizeof(IndexEntry));
                if (!e) {
                        free(a);
                        return -ENOMEM;
                }
                l->index = e;
                l->a_index = n;
        }
        memmove(l->index + at + 1, l->index + at, (l->n_index - at) * sizeof(IndexEntry));
        snprintf(l->index[at].id, sizeof(l->index[at].id), "%s", id);
        l->index[at].app = a;
        l->n_index++;
        return 0;
}

static void index_remove_at(EventLog *l, size_t at, size_t n) {
        for (size_t i = at; i < at + n; i++)
                free(l->index[i].app);
        memmove(l->index + at, l->index + at + n, (l->n_index - at - n) * sizeof(IndexEntry));
        l->n_index -= n;
}

static void index_remove(EventLog *l, const char *id) {
        bool found;
        size_t at = index_find(l, id, &found);
        if (found)
                index_remove_at(l, at, 1);
}

static void index_clear(EventLog *l) {
        index_remove_at(l, 0, l->n_index);
}

/* A key of events/ into the index (values that are no event records are left alone). */
static int index_kv(EventLog *l, const EtcdKv *kv) {
        const char *id = startswith(kv->key, l->events_prefix);
        json_auto_t *j = NULL;

        if (!id || !event_id_parse(id, NULL))
                return 0;
        j = json_loads(kv->value, 0, NULL);
        return index_put(l, id, jx_str(j, "app"));
}

static void event_log_trim_soon(EventLog *l) {
        int enabled, r;

        if (sd_event_source_get_enabled(l->trim_timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return;
        r = sd_event_source_set_time_relative(l->trim_timer, TRIM_DELAY);
        if (r >= 0)
                r = sd_event_source_set_enabled(l->trim_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_debug_errno(r, "Failed to arm the event trim timer: %m");
}

static void event_log_unlead(EventLog *l) {
        l->leader = false;
        l->load = etcd_request_cancel(l->load);
        l->watch = etcd_watch_free(l->watch);
        l->trim = etcd_request_cancel(l->trim);
        (void) sd_event_source_set_enabled(l->trim_timer, SD_EVENT_OFF);
        index_clear(l);
}

static void event_log_lead(EventLog *l);

static void on_events_changed(EtcdWatch *w, int error, const EtcdEvent *ev, size_t n, void *userdata) {
        EventLog *l = userdata;

        if (error < 0) {
                log_debug_errno(error, "Events watch ended, loading the index again: %m");
                event_log_unlead(l);
                return;       /* the next tick leads again */
        }
        for (size_t i = 0; i < n; i++) {
                const char *id = startswith(ev[i].kv.key, l->events_prefix);
                if (ev[i].type == ETCD_EVENT_DELETE) {
                        if (id)
                                index_remove(l, id);
                } else if (index_kv(l, &ev[i].kv) < 0) {
                        log_oom();
                        return event_log_unlead(l);
                }
        }
        event_log_trim_soon(l);
}

static void on_index_loaded(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        EventLog *l = userdata;
        int r;

        l->load = etcd_request_cancel(l->load);
        if (error < 0) {
                log_debug_errno(error, "Failed to read events/ for trimming, trying again: %m");
                l->leader = false;
                return;
        }
        index_clear(l);
        for (size_t i = 0; i < result->n_kvs; i++)
                if (index_kv(l, &result->kvs[i]) < 0) {
                        log_oom();
                        return event_log_unlead(l);
                }
        r = etcd_client_watch(l->etcd, l->events_prefix, l->events_end, result->revision + 1, on_events_changed, l,
                              &l->watch);
        if (r < 0) {
                log_warning_errno(r, "Failed to watch events/: %m");
                return event_log_unlead(l);
        }
        log_debug("Event history: %zu event(s), keeping at most %zu, %zu per app.", l->n_index, l->keep_total,
                  l->keep_app);
        event_log_trim_soon(l);
}

static void event_log_lead(EventLog *l) {
        EtcdRangeArgs args = { .key = l->events_prefix, .range_end = l->events_end };
        int r;

        l->leader = true;
        r = etcd_client_range(l->etcd, &args, on_index_loaded, l, &l->load);
        if (r < 0) {
                log_debug_errno(r, "Failed to read events/: %m");
                l->leader = false;
        }
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        EventLog *l = userdata;
        bool lead = l->leader_check && l->leader_check(l->leader_userdata);

        if (lead && !l->leader)
                event_log_lead(l);
        else if (!lead && l->leader)
                event_log_unlead(l);
        int r = sd_event_source_set_time_relative(s, TICK);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ON);
        if (r < 0)
                log_warning_errno(r, "Failed to re-arm the event log's timer: %m");
        return 0;
}

/* What the plan deleted goes from the index at once: the watch's DELETEs find nothing then. */
static void index_apply_trim(EventLog *l, const EventTrim *t, size_t n_extra) {
        for (size_t k = n_extra; k > 0; k--)
                index_remove_at(l, t->extra[k - 1], 1);
        index_remove_at(l, 0, t->cut);
}

static void on_trimmed(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        EventLog *l = userdata;

        l->trim = etcd_request_cancel(l->trim);
        if (error < 0)
                log_debug_errno(error, "Failed to trim events/, trying again: %m");
        event_log_trim_soon(l);
}

static int event_log_trim(EventLog *l) {
        _cleanup_(event_trim_done) EventTrim t = {};
        _cleanup_free_ EventIndexEntry *entries = calloc(l->n_index + 1, sizeof(EventIndexEntry));
        _cleanup_free_ char *cut_key = NULL;
        _cleanup_free_ char **keys = NULL;
        EtcdOp ops[TRIM_BATCH];
        size_t n_ops = 0, n_extra;
        int r;

        if (!entries)
                return -ENOMEM;
        for (size_t i = 0; i < l->n_index; i++)
                entries[i] = (EventIndexEntry) { l->index[i].id, l->index[i].app };
        r = event_trim_plan(entries, l->n_index, l->keep_total, l->keep_app, &t);
        if (r < 0)
                return r;
        if (t.cut == 0 && t.n_extra == 0)
                return 0;
        if (t.cut > 0) {
                if (asprintf(&cut_key, "%s%s", l->events_prefix, l->index[t.cut].id) < 0)
                        return -ENOMEM;
                ops[n_ops++] = (EtcdOp) { .type = ETCD_OP_DELETE, .key = l->events_prefix, .range_end = cut_key };
        }
        n_extra = MIN(t.n_extra, (size_t) TRIM_BATCH - n_ops);
        keys = calloc(n_extra + 1, sizeof(char *));
        if (!keys)
                return -ENOMEM;
        for (size_t k = 0; k < n_extra; k++) {
                if (asprintf(&keys[k], "%s%s", l->events_prefix, l->index[t.extra[k]].id) < 0) {
                        keys[k] = NULL;
                        r = -ENOMEM;
                        break;
                }
                ops[n_ops++] = (EtcdOp) { .type = ETCD_OP_DELETE, .key = keys[k] };
        }
        EtcdTxn txn = { .success = ops, .n_success = n_ops };
        if (r >= 0)
                r = etcd_client_txn(l->etcd, &txn, on_trimmed, l, &l->trim);
        for (size_t k = 0; k < n_extra; k++)
                free(keys[k]);
        if (r < 0)
                return r;
        metric_add(&m_trimmed, (double) (t.cut + n_extra), NULL);
        index_apply_trim(l, &t, n_extra);
        return 0;
}

static int on_trim_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        EventLog *l = userdata;
        int r;

        if (!l->watch || l->trim)
                return 0;     /* not (yet) leading, or on_trimmed() comes back */
        r = event_log_trim(l);
        if (r < 0)
                log_warning_errno(r, "Failed to trim events/: %m");
        return 0;
}

void event_log_set_leader_check(EventLog *l, event_log_leader_t check, void *userdata) {
        l->leader_check = check;
        l->leader_userdata = userdata;
}

/* --- life --- */

static int event_log_timers(EventLog *l) {
        int r;

        r = sd_event_add_time_relative(l->event, &l->flush_timer, CLOCK_MONOTONIC, FLUSH_DELAY, 10 * USEC_PER_MSEC,
                                       on_flush_timer, l);
        if (r >= 0)
                r = sd_event_source_set_enabled(l->flush_timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time_relative(l->event, &l->trim_timer, CLOCK_MONOTONIC, TRIM_DELAY,
                                               50 * USEC_PER_MSEC, on_trim_timer, l);
        if (r >= 0)
                r = sd_event_source_set_enabled(l->trim_timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time_relative(l->event, &l->tick, CLOCK_MONOTONIC, TICK, 100 * USEC_PER_MSEC, on_tick,
                                               l);
        return r;
}

int event_log_new(sd_event *e, EtcdClient *etcd, const EventLogOptions *o, EventLog **ret) {
        _cleanup_(event_log_freep) EventLog *l = NULL;
        int r;

        assert(e);
        assert(o);
        assert(o->prefix && o->machine_id && o->hostname);

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->event = sd_event_ref(e);
        l->etcd = etcd;
        l->keep_total = o->keep_total ?: EVENT_KEEP_DEFAULT;
        l->keep_app = o->keep_app ?: EVENT_KEEP_APP_DEFAULT;
        l->journal_only = o->journal_only;
        l->machine_id = strdup(o->machine_id);
        if (!l->machine_id || asprintf(&l->events_prefix, "%sevents/", o->prefix) < 0 ||
            !(l->events_end = etcd_prefix_end(l->events_prefix)) ||
            asprintf(&l->engine_who, "engine@%s", o->hostname) < 0 || asprintf(&l->agent_who, "agent@%s", o->hostname) < 0)
                return -ENOMEM;
        r = event_log_timers(l);
        if (r < 0)
                return r;
        metrics_register(NULL, &m_written);
        metrics_register(NULL, &m_dropped);
        metrics_register(NULL, &m_trimmed);
        metrics_register(NULL, &m_queued);
        metrics_register(NULL, &m_events);
        *ret = TAKE_PTR(l);
        return 0;
}

EventLog *event_log_free(EventLog *l) {
        if (!l)
                return NULL;
        if (default_log == l)
                default_log = NULL;
        if (event_log_queued(l) > 0)
                log_info("%zu event(s) not written to etcd at exit (they are in the journal).", event_log_queued(l));
        event_log_unlead(l);
        etcd_request_cancel(l->flush);
        queue_done(&l->queues[0]);
        queue_done(&l->queues[1]);
        free(l->index);
        sd_event_source_disable_unref(l->flush_timer);
        sd_event_source_disable_unref(l->trim_timer);
        sd_event_source_disable_unref(l->tick);
        sd_event_unref(l->event);
        free(l->events_prefix);
        free(l->events_end);
        free(l->machine_id);
        free(l->engine_who);
        free(l->agent_who);
        free(l);
        return NULL;
}
