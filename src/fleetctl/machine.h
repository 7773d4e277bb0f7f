/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The machine verb (verb-machine.c: drain, uncordon; verb-reboot.c: reboot, one host or a
 * rolling reboot) and its options. The options are one list in the verb table; each subverb
 * takes some of them, and one it does not take is a usage error. */

#include <stdbool.h>

#include "basic/time-util.h"
#include "fleetctl.h"

#define MACHINE_TIMEOUT_DEFAULT (10 * 60 * USEC_PER_SEC)

extern usec_t arg_machine_timeout;       /* --timeout: each wait of a host (0: never give up) */
extern bool arg_machine_no_wait;         /* --no-wait */
extern bool arg_force;                   /* --force: stop what cannot move */
extern bool arg_no_rebalance;            /* --no-rebalance */
extern bool arg_rolling;                 /* --rolling */
extern const char *arg_group;            /* --group; NULL: LOCK_GROUP_DEFAULT */
extern const char *arg_max_unavailable;  /* --max-unavailable, as given; NULL: 1 */

/* Checks a reboot slot group's name (FleetLock's rule, lock_group_is_valid()). Returns 0 or
 * -EINVAL (printed, a usage error of verb). */
int check_group(const char *verb, const char *group);

/* Reads a number of hosts or slots, 1..LOCK_MAX_LIMIT, digits only. Returns 0 or -EINVAL (printed
 * as a usage error of verb, what naming it: "--max-unavailable"). */
int parse_slots(const char *verb, const char *what, const char *s, unsigned *ret);

/* machine reboot HOST | machine reboot --rolling [HOST...] (verb-reboot.c). */
int machine_reboot(Client *c, int argc, char **argv);
