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
 * more are created, and plan->failed says why. */

#include <stdbool.h>
#include <stddef.h>

#include "basic/time-util.h"

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
        usec_t created;               /* realtime the unit was created */
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
        usec_t now;
        usec_t deadline;              /* how long a new instance may take to become healthy */
} AppTarget;

typedef struct AppCreate {
        const char *process;          /* points into the target */
        unsigned index;
} AppCreate;

typedef struct AppPlan {
        AppCreate *creates;
        size_t n_creates;
        const char **removes;         /* unit names, pointing into the instances */
        size_t n_removes;
        bool failed;
        char *reason;                 /* when failed: e.g. "hello_v3.web@7.service failed" */
        bool done;                    /* every process has scale healthy new instances and no old ones */
} AppPlan;

int app_plan(const AppTarget *t, const AppInstance *instances, size_t n_instances, AppPlan *ret);
void app_plan_done(AppPlan *p);
