/* SPDX-License-Identifier: Apache-2.0 */
/* stop and unload UNIT|GLOB...: units the cluster knows go back to loaded (stopped, still on
 * their machine) or inactive (off every machine); then wait.c waits for the machines. Each unit
 * is looked up first, so that a name the cluster does not know is an error rather than a new
 * instance of a template, and so that stop leaves an inactive unit inactive. */
#include <stdio.h>
#include <time.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "fleetctl.h"
#include "unit-args.h"
#include "wait.h"

/* Sets the desired state of each unit that needs it; *names gets those to wait for. */
static int set_desired(Client *c, json_t *units, const char *desired, WaitGoal goal, char ***names,
                       int *failure) {
        json_t *u;
        size_t i;
        int r;

        json_array_foreach(units, i, u) {
                const char *name = jx_str(u, "name"), *current = jx_str(u, "desiredState");

                if (goal == WAIT_STOPPED && streq_ptr(current, "inactive")) {
                        fprintf(stderr, "fleetctl: Unit %s is not loaded on any machine; nothing to stop.\n", name);
                        continue;
                }
                if (!streq_ptr(current, desired)) {
                        r = unit_put(c, name, NULL, desired, 0, NULL);
                        if (error_is_fatal(r))
                                return r;
                        if (r < 0) {
                                failure_merge(failure, r);
                                continue;
                        }
                }
                r = strv_extend(names, name);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int run_stop(Client *c, char **argv, const char *desired, WaitGoal goal) {
        _cleanup_strv_free_ char **names = NULL;
        json_auto_t *units = NULL;
        usec_t since = now_usec(CLOCK_REALTIME);
        int r, failure = 0;

        r = units_resolve(c, argv, RESOLVE_FETCH, &units, &failure);
        if (r < 0)
                return r;
        r = set_desired(c, units, desired, goal, &names, &failure);
        if (r < 0)
                return r;
        if (names) {
                r = wait_for_units(c, names, goal, since, NULL);
                if (error_is_fatal(r))
                        return r;
                failure_merge(&failure, r);
        }
        return failure;
}

int verb_stop(Client *c, int argc, char **argv) {
        return run_stop(c, argv, "loaded", WAIT_STOPPED);
}

int verb_unload(Client *c, int argc, char **argv) {
        return run_stop(c, argv, "inactive", WAIT_UNLOADED);
}
