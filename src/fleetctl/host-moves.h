/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What moved while a machine drained (or while the cluster rebalanced after an uncordon), told
 * from successive looks at the cluster: GET /v1/units (where each unit is scheduled), GET
 * /v1/state?unit=NAME (whether a moved unit runs) and GET /v1/apps/<app> (each instance's
 * machine and health). PURE: no I/O, no messages; times are the caller's monotonic clock.
 *
 * - A plain unit (one without an app) scheduled on the draining machine at the start has moved
 *   once it is scheduled on another machine and active (or failed) there; its move took from
 *   the last look that still saw it on the draining machine.
 * - An app instance is replaced, not moved: a replacement is an instance of the same app and
 *   process that was not there at the start, runs on another machine and became healthy. It is
 *   told once an instance of the start that it replaces went away: one that was on the draining
 *   machine (a drain), or any (a rebalance). Replacements are paired in the order they became
 *   healthy with those instances in index order. A replacement took from the last look before
 *   the one that first saw it. Trackers of one run (a rolling reboot of several hosts at once)
 *   share the replacements told, so that none is told twice.
 * - Units still scheduled on the draining machine when it is drained are the global ones (they
 *   stay, as a DaemonSet on a cordoned node); plain units of the start that are scheduled
 *   nowhere then were stopped (a drain with force). */

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "basic/macros.h"
#include "basic/time-util.h"

typedef enum MoveMode {
        MOVES_DRAIN,
        MOVES_REBALANCE,
} MoveMode;

typedef struct TrackedUnit {
        char *name;
        char *to;                 /* the other machine it is scheduled on now; NULL: none (yet) */
        usec_t left_usec;         /* the last look that saw it on the draining machine */
        bool gone;                /* scheduled nowhere (stopped), or no longer a unit */
        bool done;                /* its move was told */
} TrackedUnit;

typedef struct TrackedInstance {
        char *unit, *app, *process, *machine;
        int64_t index;
        bool old;                 /* there at the start */
        bool present;             /* in the last look at its app */
        bool healthy;
        bool paired;              /* told as one side of a replacement */
        usec_t appeared_usec;     /* new ones: the look before the one that first saw them */
        usec_t healthy_usec;      /* the look that first saw it healthy */
} TrackedInstance;

typedef struct MoveTracker {
        MoveMode mode;
        char *host;               /* the draining machine's id */
        TrackedUnit *units;
        size_t n_units;
        TrackedInstance *instances;
        size_t n_instances;
        char **apps;              /* the apps whose instances are followed */
        json_t *claimed;          /* the replacements told: {unit: true}, maybe shared */
        usec_t previous_look, look;
        unsigned moved;           /* moves and replacements told */
} MoveTracker;

typedef enum MoveKind {
        MOVE_UNIT,
        MOVE_INSTANCE,
} MoveKind;

/* One move, its strings owned by the tracker and valid until its next look. */
typedef struct Move {
        MoveKind kind;
        const char *unit, *from;          /* the unit (the old instance) and the machine it left */
        const char *new_unit, *to;        /* the replacement (NULL for a unit) and its machine */
        const char *result;               /* "active", "failed" (units) or "healthy" (instances) */
        usec_t after;
} Move;

/* Starts following the moves off host (MOVES_DRAIN) or of any instance (MOVES_REBALANCE, host
 * being the machine that was uncordoned). units: GET /v1/units' array; apps: an array of app
 * objects with their instances (GET /v1/apps/<app>), those that have instances on host for a
 * drain, every app for a rebalance. claimed: the object of replacements told that trackers of
 * one run share (a reference is taken), or NULL for one of its own. Returns 0 or -ENOMEM; t is
 * to be released with move_tracker_done() in any case. */
int move_tracker_init(MoveTracker *t, MoveMode mode, const char *host, const json_t *units, const json_t *apps,
                      json_t *claimed, usec_t now);
void move_tracker_done(MoveTracker *t);

/* The apps that had instances on host (from units' "app" of the units scheduled there): the
 * apps a drain follows. A new strv in *ret (never NULL on success); -ENOMEM. */
int move_tracker_drain_apps(const json_t *units, const char *host, char ***ret);

/* A new look begins at now: call once per round, before the calls below. */
void move_tracker_begin_look(MoveTracker *t, usec_t now);

/* Where the followed units are scheduled now (GET /v1/units' array). */
void move_tracker_see_units(MoveTracker *t, const json_t *units);

/* Whether the followed unit at index i is scheduled on another machine and not told yet: then
 * its state is to be looked at (move_tracker_see_state()). */
bool move_tracker_unit_moving(const MoveTracker *t, size_t i);

/* The states of followed unit i (GET /v1/state?unit=NAME's array). Returns 1 with *ret filled
 * when its move is complete (active or failed on its new machine), else 0. */
int move_tracker_see_state(MoveTracker *t, size_t i, const json_t *states, Move *ret);

/* A look at app (GET /v1/apps/<app>: the object with its instances). The replacements it
 * completes go into *ret_moves (a new array the caller frees; NULL for none), their number in
 * *ret_n. Returns 0 or -ENOMEM. */
int move_tracker_see_app(MoveTracker *t, const json_t *app, Move **ret_moves, size_t *ret_n);

/* "web.service  node-a -> node-b  active after 0.8s", or "hello_v3.web@2.service on node-a ->
 * hello_v3.web@5.service on node-b, healthy after 3.1s". names maps machine ids to what to show
 * (a JSON object of strings); an id it lacks shows as its first 8 characters. NULL on -ENOMEM. */
char *move_format(const Move *m, const json_t *names);

/* The end of a drain: "node-a drained: 5 units moved, 1 unit stopped (db.service), 1 global unit
 * stays (fleet-router.service)", or "node-a drained: nothing to move". units: the last look at
 * GET /v1/units. A rebalance: "node-a rebalanced: 2 instances moved" or "node-a rebalanced:
 * nothing to move". NULL on -ENOMEM. */
char *move_summary(const MoveTracker *t, const char *host_name, const json_t *units);
