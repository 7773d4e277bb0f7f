/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* events/<id>: the activity timeline and audit log (docs/design.md, "Events"). PURE: the
 * record and its JSON, the ids, the filters of GET /v1/events, and the plan that keeps the
 * history bounded.
 *
 * An id sorts by time: "<16 digits of realtime usec>-<8 hex of the machine id>-<8 hex counter>",
 * e.g. "1733130843000000-3f2a1b9c-0000002a". The counter is the emitting process's; the machine
 * part keeps ids of different hosts apart, so key order is time order (to a host's clock) and a
 * time maps to a range start, events/<16 digits>.
 *
 * The record: {id, time, kind, app?, unit?, machine?, release?, who, uid?, message, details?}
 * with time in realtime usec, kind a dotted lowercase word ("app.scale", "unit.move"), who the
 * user ("alice"), the client certificate's subject, or "engine@<host>" / "agent@<host>", uid
 * the peer's uid on the unix socket, details an object (never a config value). */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macros.h"
#include "basic/time-util.h"

#define EVENT_ID_SIZE 36              /* 16 + 1 + 8 + 1 + 8 + NUL, with room */
#define EVENT_KIND_MAX 48
#define EVENT_MESSAGE_MAX 1024        /* bytes; longer messages are cut (at a UTF-8 boundary) */
#define EVENT_WHO_MAX 256
#define EVENT_DETAILS_MAX 4096        /* bytes of compact JSON; larger details are dropped */

typedef struct EventRecord {
        char id[EVENT_ID_SIZE];
        usec_t time;
        char *kind;
        char *app;                    /* optional, also the others */
        char *unit;
        char *machine;
        unsigned release;             /* 0: none */
        char *who;
        int64_t uid;                  /* -1: none */
        char *message;
        json_t *details;              /* an object, or NULL */
} EventRecord;

#define EVENT_RECORD_INIT { .uid = -1 }

void event_record_done(EventRecord *e);

/* Writes the id of an event at time made by machine_id (its first 8 hex digits are used) with
 * counter into ret. Returns 0, or -EINVAL for a time past 16 digits or a machine id with fewer
 * than 8 hex digits. */
int event_id_format(usec_t time, const char *machine_id, uint32_t counter, char ret[static EVENT_ID_SIZE]);
/* Whether id has the form above; if so and ret_time is not NULL, its time. */
bool event_id_parse(const char *id, usec_t *ret_time);
/* "app.scale": two or more words of [a-z_] joined by dots, at most EVENT_KIND_MAX bytes. */
bool event_kind_is_valid(const char *kind);

/* The record as stored (optional fields only when set). NULL on -ENOMEM. */
json_t *event_record_to_json(const EventRecord *e);
/* Reads a stored record. -EBADMSG when a field is missing or of the wrong type, the id or kind
 * is malformed, or the id's time is not the record's. *ret is written on success only. */
int event_record_from_json(const json_t *j, EventRecord *ret);

/* --- GET /v1/events --- */

#define EVENT_LIMIT_DEFAULT 100
#define EVENT_LIMIT_MAX 10000

typedef struct EventFilter {
        const char *app;              /* borrowed from the query; NULL: any */
        const char *unit;
        const char *machine;          /* a machine id or a prefix of one */
        usec_t since;                 /* events at or after this time; 0: any */
        char after[EVENT_ID_SIZE];    /* since= gave an id: events after that one; "": none */
        size_t limit;
} EventFilter;

/* The filter of the query parameters (each NULL when absent), with now the realtime a relative
 * since counts back from. since is a duration back from now ("90s", "1h", "2d"), a UTC or
 * offset timestamp ("2024-12-02T09:14:03Z", "2024-12-02T10:14:03.5+01:00") or an event id (the
 * events after it); limit is 1 to EVENT_LIMIT_MAX (default EVENT_LIMIT_DEFAULT). Returns 0, or
 * -EINVAL with *ret_error (owned by the caller) saying which parameter and why. */
int event_filter_parse(const char *app, const char *unit, const char *machine, const char *since,
                       const char *limit, usec_t now, EventFilter *ret, char **ret_error);
/* The first key of the range to read: <prefix>events/ plus since's 16 digits or after's id.
 * NULL on -ENOMEM. */
char *event_filter_range_start(const EventFilter *f, const char *prefix);
bool event_filter_match(const EventFilter *f, const EventRecord *e);

/* A timestamp as event_filter_parse() reads it: 0 and *ret (realtime usec), or -EINVAL. */
int event_parse_timestamp(const char *s, usec_t *ret);

/* --- bounded history --- */

/* What the leader knows of each event: its id and app, in id order. */
typedef struct EventIndexEntry {
        const char *id;
        const char *app;              /* NULL: the event is of no app */
} EventIndexEntry;

typedef struct EventTrim {
        size_t cut;                   /* entries[0..cut) go: one delete of the range before entries[cut] */
        size_t *extra;                /* and these (indices >= cut, ascending): an app's excess */
        size_t n_extra;
} EventTrim;

/* Which events to delete so that at most keep_total remain in all and at most keep_app of each
 * app (the oldest go first); 0 means no bound. entries must be in id order. Returns 0 and *ret
 * (free with event_trim_done()), or -ENOMEM. */
int event_trim_plan(const EventIndexEntry *entries, size_t n, size_t keep_total, size_t keep_app, EventTrim *ret);
void event_trim_done(EventTrim *t);
