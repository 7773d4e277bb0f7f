/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What GET /v1/units and GET /v1/state list, kept in memory by the fleetd that serves the API,
 * so that a listing costs no etcd read. Two layers:
 *
 * ListData (PURE): per unit its summary (name, hash, desiredState, app, release; never the
 * contents), per unit the machines it is scheduled on (from the schedule/<machine>/<unit> keys),
 * the state/<unit>/<machine> records, and per unit the engine leader's placement/<unit> record
 * (why it is not placed); changes are applied one key at a time and pages are rendered as the
 * API's JSON. The answers are those the handlers made when they read etcd on every request:
 * same fields in the same order, units in etcd's key order, the same paging; a unit with a
 * placement record has "placement" too.
 *
 * ListCache (I/O): loads a ListData on the first list request and keeps it current with one
 * watch per prefix. It reads units/ (records), schedule/ (keys only), state/ and placement/
 * (records) with four range calls, and starts each prefix's watch from its own range's revision
 * + 1, so each watch is exact for its prefix. (One txn of the ranges would give one revision,
 * but a txn cannot ask for keys only, and schedule/ values carry every unit's contents.) The
 * schedule watch does stream values, contents included: that is the price while the cache is
 * in use.
 * When no list request came for the idle timeout (5 minutes), the watches and the data are
 * dropped: a fleetd nobody lists through holds no watch and no memory for this. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "basic/macros.h"
#include "basic/time-util.h"
#include "etcd-client.h"
#include "registry.h"

typedef enum ListPrefix {
        LIST_UNITS,                   /* units/<name> */
        LIST_SCHEDULE,                /* schedule/<machine>/<name>: only the key is used */
        LIST_STATE,                   /* state/<name>/<machine> */
        LIST_PLACEMENT,               /* placement/<name> */
        _LIST_PREFIX_MAX,
} ListPrefix;

/* ---- ListData: PURE ---- */

typedef struct ListData ListData;

int list_data_new(ListData **ret);
ListData *list_data_free(ListData *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(ListData *, list_data_free);

/* Applies one key's change. key is relative to the prefix's directory ("web.service" for
 * units/web.service and placement/web.service, "<machine>/web.service" for schedule/...,
 * "web.service/<machine>" for state/...); value is the record (ignored for schedule/ and for
 * deletions). A units/ value that is not a unit record keeps its place in the paging (counted by
 * limit, named by next) but is not listed, and a state/ or placement/ value that is not such a
 * record is not kept, as the per-request reads did. Returns 0, or -ENOMEM (then the data may
 * lack this change: the caller must reload). */
int list_data_apply(ListData *d, ListPrefix p, EtcdEventType type, const char *key, const char *value);

/* How many keys of the prefix the data holds: units/ keys (listable or not), schedule/
 * entries, state/ and placement/ records. */
size_t list_data_count(const ListData *d, ListPrefix p);

/* GET /v1/units?limit=&from=: {"units":[{name, hash, desiredState, app?, release?, machines,
 * currentState, placement?}], "next"?}. The page is the first limit units/ keys from "from" on (NULL: from
 * the start); next names the key after it. A new reference, or NULL on OOM. */
json_t *list_data_units_page(const ListData *d, const char *from, size_t limit);

/* GET /v1/state?machine=&unit=: {"states":[state records]} in key order, those whose machine
 * starts with machine and whose name is unit (each filter only if not NULL). A new reference,
 * or NULL on OOM. */
json_t *list_data_states(const ListData *d, const char *machine, const char *unit);

/* What the API shows of a placement/ record: {"state", "reason", "machine"?}. NULL on OOM. */
json_t *list_placement_json(const PlacementRecord *p);

/* ---- ListCache: the watches and their lifetime ---- */

#define LIST_CACHE_IDLE_TIMEOUT_DEFAULT (5 * 60 * USEC_PER_SEC)
#define LIST_CACHE_WAIT_TIMEOUT_DEFAULT (5 * USEC_PER_SEC)

typedef struct ListCache ListCache;

typedef enum ListCacheState {
        LIST_CACHE_IDLE,              /* no data, no watch, no timer */
        LIST_CACHE_LOADING,           /* ranges in flight; requests wait */
        LIST_CACHE_READY,             /* loaded and watching */
} ListCacheState;

typedef struct ListCacheOptions {
        const char *prefix;           /* the etcd key prefix, ending with '/' */
        usec_t idle_timeout;          /* drop everything after this long without a list; 0: 5 min */
        usec_t wait_timeout;          /* how long a list waits for the units/ watch to reach this
                                       * fleetd's own last write; 0: 5 s */
} ListCacheOptions;

/* Creates an idle cache: it reads, watches and arms nothing until list_cache_get(). */
int list_cache_new(sd_event *e, EtcdClient *etcd, const ListCacheOptions *o, ListCache **ret);
/* Stops everything. Requests still queued get their callback with -ECANCELED first. */
ListCache *list_cache_free(ListCache *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(ListCache *, list_cache_free);

/* Called once per queued request: error 0 and the data (valid during the call only), or a
 * negative errno and NULL: the load's etcd error, -ETIMEDOUT when the units/ watch did not reach
 * this fleetd's own write within wait_timeout, -ECANCELED when the cache is freed. */
typedef void (*list_cache_callback_t)(ListCache *c, int error, const ListData *data, void *userdata);

/* For one list request: counts as use (the idle timer starts over) and starts the cache if it
 * is idle. With own_writes, the answer also waits until the units/ watch has passed every write
 * noted with list_cache_note_write() (read-your-writes through this fleetd). Returns 1 with
 * *ret_data set when it can answer at once (cb is not called); 0 when the request was queued (cb
 * is called once, later, from the event loop); a negative errno if it could do neither. */
int list_cache_get(ListCache *c, bool own_writes, list_cache_callback_t cb, void *userdata,
                   const ListData **ret_data);

/* The data if the cache is loaded, else NULL. Starts nothing and does not count as use: for
 * narrow queries that are cheap to answer from etcd when the cache is not there. */
const ListData *list_cache_peek(ListCache *c);

/* This fleetd wrote or deleted a units/ key and etcd answered with this header revision. */
void list_cache_note_write(ListCache *c, int64_t revision);

/* For tests and logs. */
ListCacheState list_cache_state(ListCache *c);
/* How many watches run now (4 while ready, fewer while loading, 0 when idle). */
unsigned list_cache_n_watches(ListCache *c);
/* How many loads started since creation (a reload after -ESTALE counts). */
unsigned list_cache_n_loads(ListCache *c);
