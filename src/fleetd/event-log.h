/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The activity timeline and audit log (events/<id>, event-record.h). Every fleetd has one
 * EventLog; the API handlers, the engine, the app controller and the agent emit into it:
 *
 *     event_emit(&(Event) { .kind = "unit.move", .by = EVENT_BY_ENGINE, .unit = name,
 *                           .machine = to, .message = "moved from ... to ...: host lost" });
 *
 * Emitting never blocks and never fails the action it describes. At once, the event goes to
 * this fleetd's journal with the fields EVENT_KIND=, EVENT_ID=, APP=, UNIT=, MACHINE_ID= (the
 * event's, beside the emitter's own), USER= (so `journalctl EVENT_KIND=app.scale` lists every
 * scale, whoever made it), and is counted in fleetd_events_total{kind}. Then it waits in a
 * bounded queue (EVENT_QUEUE_MAX) for a batched txn of puts, one txn in flight, 50 ms after the
 * first of a burst; bulk events (Event.bulk: placements, moves, machines) after the others, one
 * txn of at most 120 a second, so that a burst of 10,000 placements leaves etcd to the
 * scheduler and its events follow; a failed write is retried with backoff. A full queue, or etcd failing for longer than EVENT_GIVE_UP, drops
 * events, with one log line per episode (fleetd_events_dropped_total).
 *
 * While this fleetd leads the engine (the leader check, asked every second), it keeps the
 * history bounded: it loads the ids and apps of events/ once, follows them with a watch, and
 * deletes the oldest events past keep_total in all and past keep_app of any one app
 * (event_trim_plan()): one range delete for the oldest, single deletes in txns of at most 100
 * for the excess of an app. */

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

#include "etcd-client.h"

#define EVENT_QUEUE_MAX 20000          /* per queue: the others, and bulk */
#define EVENT_GIVE_UP (60 * USEC_PER_SEC)
#define EVENT_KEEP_DEFAULT 10000
#define EVENT_KEEP_APP_DEFAULT 1000

typedef struct EventLog EventLog;

typedef enum EventBy {
        EVENT_BY_USER,                /* who (and maybe uid): the API's caller */
        EVENT_BY_ENGINE,              /* "engine@<host>" */
        EVENT_BY_AGENT,               /* "agent@<host>" */
} EventBy;

/* What an emitter says; every pointer is borrowed for the call. */
typedef struct Event {
        const char *kind;             /* "app.scale": event_kind_is_valid() */
        const char *app;
        const char *unit;
        const char *machine;
        unsigned release;             /* 0: none */
        EventBy by;
        const char *who;              /* EVENT_BY_USER */
        bool has_uid;
        uid_t uid;
        const char *message;          /* cut to EVENT_MESSAGE_MAX */
        json_t *details;              /* an object or NULL; dropped past EVENT_DETAILS_MAX */
        bool bulk;                    /* one of many at once (placements, moves, machines): written
                                       * after the others, at most 120 a second */
} Event;

typedef struct EventLogOptions {
        const char *prefix;           /* etcd key prefix, ends with '/' */
        const char *machine_id;
        const char *hostname;         /* for "engine@<host>" and "agent@<host>" */
        size_t keep_total;            /* 0: EVENT_KEEP_DEFAULT */
        size_t keep_app;              /* 0: EVENT_KEEP_APP_DEFAULT */
        bool journal_only;            /* nothing goes to etcd (events disabled) */
} EventLogOptions;

/* etcd may be NULL: journal only. The options are copied. */
int event_log_new(sd_event *e, EtcdClient *etcd, const EventLogOptions *o, EventLog **ret);
EventLog *event_log_free(EventLog *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(EventLog *, event_log_free);

/* The log event_emit() uses (NULL: none; emitting then only logs). */
void event_log_set_default(EventLog *l);
EventLog *event_log_default(void);

/* Whether this fleetd leads (and so trims), asked once a second. */
typedef bool (*event_log_leader_t)(void *userdata);
void event_log_set_leader_check(EventLog *l, event_log_leader_t check, void *userdata);

/* Emits e into l (NULL: the default log), as described above. Returns nothing: an event that
 * cannot be recorded is logged and counted, never an error of the caller. */
void event_log_emit(EventLog *l, const Event *e);
/* The same with the message made from fmt (e->message is ignored). */
void event_log_emitf(EventLog *l, const Event *e, const char *fmt, ...) _printf_(3, 4);
void event_log_emitv(EventLog *l, const Event *e, const char *fmt, va_list ap) _printf_(3, 0);
#define event_emit(...) event_log_emit(NULL, __VA_ARGS__)
#define event_emitf(e, ...) event_log_emitf(NULL, e, __VA_ARGS__)

/* Events queued and not yet acknowledged by etcd (the benchmark waits for 0). */
size_t event_log_pending(const EventLog *l);
