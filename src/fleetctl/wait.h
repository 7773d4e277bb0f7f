/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Waiting, after load, start, stop or unload changed units' desired states, until the machines
 * report what was asked: GET /v1/state?unit=NAME for every unit still pending, a round every
 * WAIT_INTERVAL, until all are there, one failed, or --timeout / --block-attempts ran out.
 * Prints a line per unit as fleet did ("Unit web@1.service launched on 3f2a1b9c.../10.0.0.11")
 * and, on a terminal, a progress line on stderr meanwhile. */

#include <stdbool.h>

#include "basic/time-util.h"
#include "fleetctl.h"

#define WAIT_INTERVAL          (200 * USEC_PER_MSEC)
#define WAIT_TIMEOUT_DEFAULT   (60 * USEC_PER_SEC)
/* A "failed" state older than the request (by more than this, for clocks that differ between
 * hosts) is from an earlier run, not an answer to it. */
#define WAIT_CLOCK_SKEW        (2 * USEC_PER_SEC)

typedef enum WaitGoal {
        WAIT_LAUNCHED,   /* active; "failed" (after the request) fails */
        WAIT_LOADED,     /* loaded into systemd, not running */
        WAIT_STOPPED,    /* not running, or not loaded at all */
        WAIT_UNLOADED,   /* no machine reports it */
        _WAIT_GOAL_MAX,
} WaitGoal;

/* --no-block, --block-attempts=N (0: no limit), --timeout=DURATION (0: none). */
extern bool arg_no_block;
extern unsigned arg_block_attempts;
extern usec_t arg_timeout;
extern OptionList wait_options;

typedef enum WaitResult {
        WAIT_PENDING,
        WAIT_DONE,
        WAIT_FAILED,
} WaitResult;

/* Whether state (an element of /v1/state's "states", NULL when no machine reports the unit)
 * meets goal. since is the realtime (usec) the request was sent at. *seen_running remembers,
 * across calls for one unit, whether it was seen starting: a unit that ran and exited
 * (Type=oneshot) is then launched too. Pure. */
WaitResult wait_check(WaitGoal goal, const json_t *state, usec_t since, bool *seen_running);

/* Waits for each unit in names (a NULL-terminated list) to reach goal; since as above. With
 * --no-block only prints "Triggered unit NAME start". Returns 0 if all got there, -EIO if
 * any failed or timed out (each printed), or a fatal error (-ECONNREFUSED, -ENOMEM). */
int wait_for_units(Client *c, char **names, WaitGoal goal, usec_t since);
