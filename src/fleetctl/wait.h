/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Waiting, after load, start, stop or unload changed units' desired states, until the machines
 * report what was asked: GET /v1/state?unit=NAME for every unit still pending, a round every
 * WAIT_INTERVAL, until all are there, one failed, or --timeout / --block-attempts ran out.
 * Prints a line per unit as fleet did ("Unit web@1.service launched on 3f2a1b9c.../10.0.0.11")
 * and, on a terminal, a progress line on stderr meanwhile.
 *
 * A unit to load or launch that no machine reports for WAIT_PLACEMENT_AFTER rounds is looked up
 * (GET /v1/units/NAME) every WAIT_PLACEMENT_AFTER rounds, and when it gave up waiting: if the
 * engine leader could not place it, the wait for it ends with the scheduler's reason,
 * "fleetctl: db.service: not placed: no machine has metadata role=db", a failure. (By then the
 * leader has read the request: a reason is not one from before it.) */

#include <stdbool.h>

#include "basic/time-util.h"
#include "fleetctl.h"

#define WAIT_INTERVAL          (200 * USEC_PER_MSEC)
#define WAIT_TIMEOUT_DEFAULT   (60 * USEC_PER_SEC)
/* A "failed" state older than the request (by more than this, for clocks that differ between
 * hosts) is from an earlier run, not an answer to it. */
#define WAIT_CLOCK_SKEW        (2 * USEC_PER_SEC)
/* 1 s of rounds. */
#define WAIT_PLACEMENT_AFTER   5u

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
extern const Option option_no_block, option_block_attempts, option_timeout;
#define WAIT_OPTIONS &option_no_block, &option_block_attempts, &option_timeout
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

/* The reason the engine leader gave for not placing the unit whose GET /v1/units/NAME answer
 * is unit ("placement": {"state": "unschedulable", "reason"}), or NULL if it is placed or
 * nothing says. Pure. */
const char *wait_unplaced_reason(const json_t *unit);

/* Waits for each unit in names (a NULL-terminated list) to reach goal; since as above. hashes
 * (NULL, or an object name -> hash) names the contents a unit must report (a unit just
 * replaced: the old contents' state is not an answer). With --no-block only prints "Triggered
 * unit NAME start". Returns 0 if all got there, -EIO if any failed, was not placed or timed out
 * (each printed), or a fatal error (-ECONNREFUSED, -ENOMEM). */
int wait_for_units(Client *c, char **names, WaitGoal goal, usec_t since, const json_t *hashes);
