/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The app controller's PURE core: an app's target (release, scale per process, restart
 * generation) and its instances as they are -> which instances to create and which to remove
 * next, and whether the rollout failed. The engine leader calls it on every change of the app,
 * its units or their states, so each call only needs to say the next step.
 *
 * Per process, with n = scale, new = instances of the target release made after the last
 * restart, old = every other instance of the process:
 *   - create new ones while |new| < n and |new| + |old| < n + max_surge;
 *   - remove old ones while the healthy new ones plus the old ones that remain stay at least
 *     n - max_unavailable (and all old ones once n new ones are healthy);
 *   - remove surplus new ones (scale down), the least healthy and newest first;
 *   - instances of processes the target release no longer has are removed at once.
 * A new instance that failed, or is not healthy within the deadline, fails the rollout: no
 * more are created, and plan->failed says why.
 *
 * Moves (docs/design.md, "Rolling host upgrades"): an instance the engine wants replaced
 * (AppInstance.evict: it is on a draining machine, or was chosen to rebalance its process) is
 * old, whatever its release, so it is replaced exactly like an instance of an older release:
 * the replacement is created (the scheduler puts it elsewhere), becomes healthy, then the old
 * one is removed, within max_surge and max_unavailable. While a new instance of the process
 * failed, is not healthy within the deadline, or cannot be placed (AppInstance.unschedulable),
 * the evicted instances that remain are blocked (plan->blocked says why); with force
 * (a forced drain) they are removed instead. Nothing here rolls a release back: that is
 * app_rollout_step()'s, and only while a rollout of a release runs (see there). A replacement
 * that fails stays, so the agent keeps restarting it and the move goes on once it is healthy
 * (or placed); when the engine stops evicting (uncordon, the rebalance ends) the old instance
 * is new again and the failed replacement is the surplus that goes. */

#include <stdbool.h>
#include <stddef.h>

#include "app-record.h"
#include "basic/time-util.h"
#include "registry.h"
#include "release.h"

typedef enum InstanceHealth {
        INSTANCE_STARTING,            /* no state yet, activating, or health not passing yet */
        INSTANCE_HEALTHY,             /* active, and its health check passes (if it has one) */
        INSTANCE_FAILED,              /* systemd says failed, or its health check fails */
} InstanceHealth;

typedef struct AppInstance {
        const char *unit;
        unsigned release;
        const char *process;
        unsigned index;
        InstanceHealth health;
        usec_t created;               /* when it was made or first seen: CLOCK_MONOTONIC, as now */
        bool evict;                   /* to be replaced: on a draining machine, or to rebalance */
        bool force;                   /* evict even when it cannot be replaced (a forced drain) */
        const char *unschedulable;    /* the scheduler's reason when it cannot be placed; NULL: placed */
        const char *reason;           /* why it failed, as its agent read it (state "reason"); NULL */
} AppInstance;

typedef struct AppProcessTarget {
        const char *process;
        unsigned scale;
        unsigned restart_below;       /* instances with a lower index are outdated (a restart) */
} AppProcessTarget;

typedef struct AppTarget {
        unsigned release;
        const AppProcessTarget *processes;
        size_t n_processes;
        unsigned max_surge;
        unsigned max_unavailable;
        unsigned next_index;          /* the first instance number not used yet */
        usec_t now;                   /* CLOCK_MONOTONIC */
        usec_t deadline;              /* how long a new instance may take to become healthy */
} AppTarget;

typedef struct AppCreate {
        const char *process;          /* points into the target */
        unsigned index;
} AppCreate;

/* An evicted instance that cannot be replaced now. */
typedef struct AppBlocked {
        const char *unit;             /* points into the instances */
        char *reason;                 /* "replacement hello_v3.web@7.service failed" */
} AppBlocked;

typedef struct AppPlan {
        AppCreate *creates;
        size_t n_creates;
        const char **removes;         /* unit names, pointing into the instances */
        size_t n_removes;
        bool failed;
        char *reason;                 /* when failed: e.g. "hello_v3.web@7.service failed" */
        bool done;                    /* every process has scale healthy new instances and no old ones */
        AppBlocked *blocked;
        size_t n_blocked;
} AppPlan;

/* The next step for an app's instances (the rules above): 0 and *ret (free with app_plan_done()),
 * or -ENOMEM. */
int app_plan(const AppTarget *t, const AppInstance *instances, size_t n_instances, AppPlan *ret);
void app_plan_done(AppPlan *p);

/* How healthy an instance is, from its last state record (NULL: none yet) and its process type
 * in the release it runs (NULL: unknown). Its health check counts only when the process has one
 * and a port: failed or restarting, or a failing check, is FAILED; active with a passing check
 * (or no check) is HEALTHY; anything else is STARTING. */
InstanceHealth app_instance_health(const StateRecord *s, const ProcessType *p);

/* The rollout's state machine, one step per plan. While an app rolls out (ROLLOUT_ROLLING):
 *   - a plan that failed rolls back to the release before the rollout (rollout_from) when
 *     there is one and this rollout is not itself an automatic rollback: ROLL_BACK;
 *   - else a failed plan ends the rollout as failed: FAIL;
 *   - a plan that is done ends it: DONE (an automatic rollback that is done ends as failed,
 *     since the release that was asked for is not running);
 *   - anything else: KEEP.
 * An app that does not roll out only ever KEEPs: a replacement made for a drain or a rebalance
 * that fails (plan->failed) while no release rolls out never rolls anything back; it only
 * blocks the move (plan->blocked). During a rollout the rollout's rules stand for every new
 * instance, replacements included. */
typedef enum AppRolloutStep {
        APP_ROLLOUT_KEEP,
        APP_ROLLOUT_ROLL_BACK,
        APP_ROLLOUT_FAIL,
        APP_ROLLOUT_DONE,
} AppRolloutStep;

AppRolloutStep app_rollout_step(const AppRecord *rec, const AppPlan *plan);

/* The app record after one step: *ret is a copy of rec with next_index past the instances the
 * plan creates (from t->next_index), moved on by step:
 *   KEEP       nothing more;
 *   ROLL_BACK  the target becomes release latest + 1 (to be made as a copy of rollout_from),
 *              rollback_of and rollout_from name the release that failed, it keeps rolling, the
 *              message says so; *ret_cause is the cause the new release records;
 *   FAIL       failed, the message says why and that there is nothing to roll back to;
 *   DONE       done with "vN is running", or failed (its message kept) after a rollback.
 * *ret_cause is NULL for every step but ROLL_BACK. Outputs are written on success only: 0 or
 * -ENOMEM. */
int app_rollout_advance(const AppRecord *rec, const AppTarget *t, const AppPlan *plan, AppRolloutStep step,
                        AppRecord *ret, char **ret_cause);
