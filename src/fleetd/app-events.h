/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the app controller tells the timeline and the metrics.
 *
 * Rollouts: rollout.started when the controller first plans an app that rolls out to a target
 * it has not seen rolling (a release, its message and its restart marks); rollout.finished
 * when a rollout is done (details.result "done", or "failed" after an automatic rollback);
 * rollout.rolled_back when new instances failed and the controller rolls back by itself (the
 * automatic rollback: details.automatic true, the release that failed, the copy it makes);
 * rollout.stuck when a rollout failed with nothing to roll back to. Each is told once per app
 * and target, also when the controller plans the same step again (a write that failed). A
 * rollout that was under way before this controller started (another leader announced it) is
 * not announced again.
 *
 * Gauges, filled when /metrics is read: fleetd_app_instances_desired{app, process},
 * fleetd_app_instances_healthy{app, process} (instances of any release that are healthy) and
 * fleetd_rollouts_in_progress, by the engine leader only. */

#include "app-plan.h"
#include "basic/hashmap.h"

typedef struct AppEvents {
        Hashmap *told;                /* app -> the last thing told of it ("kind|target") */
        usec_t started;               /* realtime the controller started */
} AppEvents;

int app_events_init(AppEvents *e);
void app_events_done(AppEvents *e);

/* One planned step of an app: before is the record as read, after the one to write, cause the
 * automatic rollback's cause (ROLL_BACK only). */
void app_events_step(AppEvents *e, const AppRecord *before, AppRolloutStep step, const AppRecord *after,
                     const char *cause);

/* The gauges: begin clears them, process sets one app process's, rollouts the count. */
void app_metrics_begin(void);
void app_metrics_process(const char *app, const char *process, unsigned desired, unsigned healthy);
void app_metrics_rollouts(unsigned n);
