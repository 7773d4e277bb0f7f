/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The engine leader's app controller (docs/design.md, "Apps"): it keeps apps/<app>, the
 * releases they name, the app instance units and their states in memory, and after every
 * change of an app asks app_plan() (pure) for the next step: instance units to create
 * (contents from unit-gen) and to delete, rollout progress, and an automatic rollback when a
 * new release fails. Its writes go in txns fenced like the scheduler's (the leader key's value
 * and lease) plus a compare on the app record's mod_revision, so an API write in between makes
 * the step fail and be planned again. Only the leader runs one. */

#include "etcd-client.h"
#include "registry.h"

typedef struct AppController AppController;

typedef struct AppControllerOptions {
        const char *prefix;
        const char *leader_key;       /* the fence */
        const char *machine_id;
        int64_t lease;
        usec_t deadline;              /* for a new instance to become healthy; 0: 60 s */
} AppControllerOptions;

/* Starts: reads apps/, then watches it. The engine feeds it units and states. */
int app_controller_new(sd_event *e, EtcdClient *etcd, const AppControllerOptions *o, AppController **ret);
AppController *app_controller_free(AppController *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(AppController *, app_controller_free);

/* The engine tells it of every unit record (put: u set; delete: u NULL) it sees, so the
 * controller knows the instances without a watch of its own. */
void app_controller_unit_changed(AppController *c, const char *name, const UnitRecord *u);
/* ... and of the revision its units/ view has reached (the load's, then each batch's), which
 * the controller's own writes of instance units wait for before it plans again. */
void app_controller_units_seen(AppController *c, int64_t revision);
/* ... and of every state/<unit>/<machine> record (the engine's state/ watch serves both). */
void app_controller_state_changed(AppController *c, const EtcdKv *kv, bool deleted);

/* What the engine knows of an instance's place (app-plan.h, "Moves"): evict_why, a static
 * string or NULL, says it is to be replaced: "drain" (it is on a draining machine) or
 * "rebalance" (chosen to rebalance its process); force (its drain is forced), unschedulable (the
 * scheduler's reason; NULL: placed). A change plans its app again. When an evicted instance
 * goes, the controller emits instance.moved (details: reason, from). */
void app_controller_instance_placed(AppController *c, const char *unit, const char *evict_why, bool force,
                                    const char *unschedulable);
/* An instance that is healthy, of its app's release, not evicted or blocked, while its app
 * does not roll out: one the scheduler may mark for rebalance. */
bool app_controller_instance_settled(AppController *c, const char *unit);
/* Why an evicted instance cannot be replaced now (its app's last plan), or NULL. */
const char *app_controller_instance_blocked(AppController *c, const char *unit);

/* Told when the answers of app_controller_instance_settled() or _blocked() may have changed
 * for reasons the engine does not see itself (a plan, an app record). */
typedef void (*app_controller_changed_t)(AppController *c, void *userdata);
void app_controller_set_changed_handler(AppController *c, app_controller_changed_t cb, void *userdata);

/* The fence no longer holds (a txn said so): the engine steps down and frees the controller. */
typedef void (*app_controller_fenced_t)(AppController *c, void *userdata);
void app_controller_set_fenced_handler(AppController *c, app_controller_fenced_t cb, void *userdata);
