/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Following a drain (after POST /v1/machines/<id>/drain) or a rebalance (after an uncordon)
 * until it is over, a look every DRAIN_WATCH_INTERVAL: GET /v1/machines/<id>/drain (the
 * drain's state: draining, drained, blocked; "rebalancing" while fleetd rebalances after an
 * uncordon, where fleetd says so), then, for a drain, GET /v1/units and GET
 * /v1/state?unit=NAME for each unit that is on its way elsewhere, and GET /v1/apps/<app> for
 * each app that had instances there (every app, for a rebalance). host-moves.h tells the moves
 * from these looks.
 *
 * Each move is a line on stdout as it is seen ("web.service  node-a -> node-b  active after
 * 0.8s"), then the summary ("node-a drained: 5 units moved, 1 global unit stays
 * (fleet-router.service)"). A drain that is blocked (only units that cannot move are left) ends
 * with a line per such unit on stderr ("fleetctl: node-a blocked: db.service cannot move:
 * ..."). A rebalance is over when every app runs its scale healthy, with no rollout going on,
 * and fleetd's status says "rebalancing": false; a fleetd whose status does not say (the field
 * is missing) has the apps settled for REBALANCE_QUIET instead, time for the engine leader to
 * start the next replacement if there is one.
 *
 * A watch can be stepped (drain_watch_step(), so that a rolling reboot follows several hosts
 * at once) or run to its end (drain_watch_run(), with a progress line on a terminal). */

#include <stdbool.h>

#include <jansson.h>

#include "basic/time-util.h"
#include "client.h"
#include "host-moves.h"
#include "hosts.h"

#define DRAIN_WATCH_INTERVAL (500 * USEC_PER_MSEC)
#define REBALANCE_QUIET      (5 * USEC_PER_SEC)

typedef struct DrainWatch {
        Client *client;
        const Host *host;          /* the caller's, as long as the watch */
        const json_t *names;       /* machine id -> name (HostLookup's), as long as the watch */
        MoveTracker tracker;
        char *status_path;         /* /v1/machines/<id>/drain */
        json_t *status;            /* its last answer */
        json_t *units;             /* the last look at GET /v1/units (a drain) */
        bool blocked;              /* the drain ended blocked */
        usec_t settled_since;      /* a rebalance: since when every app is settled; 0: not */
} DrainWatch;

/* Takes the first look, before the drain or uncordon is sent: where the units are, and the apps'
 * instances. claimed: shared by the watches of one run (see move_tracker_init()), or NULL.
 * Returns 0 or what client_call() returns; w is to be released with drain_watch_done() in any
 * case. */
int drain_watch_start(DrainWatch *w, Client *c, const Host *host, MoveMode mode, const json_t *names,
                      json_t *claimed);
void drain_watch_done(DrainWatch *w);

/* One look: prints the moves it sees. Returns 1 while it goes on; 0 when it is over (summary
 * printed); -EIO when the drain is blocked (w->blocked; each unit printed) or the machine was
 * uncordoned meanwhile (printed); or what client_call() returns (-ENOENT made -EIO). */
int drain_watch_step(DrainWatch *w);

/* Says that the wait gave up after timeout, and what is left. Returns -EIO. */
int drain_watch_give_up(DrainWatch *w, usec_t timeout);

/* The progress line's text: "Draining node-a: 3 units left". NULL on -ENOMEM. */
char *drain_watch_progress(const DrainWatch *w);

/* Steps w until it is over or timeout (0: never) passed, with a progress line on stderr when
 * that is a terminal. Returns as drain_watch_step() and drain_watch_give_up(). */
int drain_watch_run(DrainWatch *w, usec_t timeout);
