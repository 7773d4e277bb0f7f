/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the API makes of a drain (docs/design.md, "Rolling host upgrades"): which units are left
 * on a machine, whether it is drained, which machine a HOST names, and whether a machine is the
 * last one that takes new units. PURE: records in, values out.
 *
 * A unit scheduled on the machine (schedule/<id>/<name>) is left there unless it is global
 * ([X-Fleet] Global=true, read by unit_options_parse()): global units stay on draining
 * machines, so they never hold a drain up. A unit whose name is an app instance
 * (release_parse_instance_name()) is of kind "app", any other of kind "unit". It is stuck when
 * placement/<name> says "stuck" for this machine (the engine leader found nowhere to move it),
 * with the leader's reason; else it is on its way off: "replacing" (app: the app controller
 * replaces it, health-gated) or "moving" (unit: the engine moves it).
 *
 * The machine is drained when nothing is left, blocked when all that is left is stuck, else
 * draining. */

#include <jansson.h>
#include <stdbool.h>

#include "registry.h"

typedef enum DrainPhase {
        DRAIN_PHASE_DRAINING,
        DRAIN_PHASE_DRAINED,
        DRAIN_PHASE_BLOCKED,
        _DRAIN_PHASE_MAX,
        _DRAIN_PHASE_INVALID = -EINVAL,
} DrainPhase;

/* "draining", "drained", "blocked"; NULL out of range. */
const char *drain_phase_to_string(DrainPhase p);

/* A unit left on the machine. */
typedef struct DrainLeft {
        char *unit;
        bool app;                     /* an app instance */
        bool stuck;
        char *reason;                 /* the placement record's, when stuck */
} DrainLeft;

typedef struct DrainStatus {
        DrainPhase phase;
        DrainLeft *left;              /* in the order of the schedule records given */
        size_t n_left;
        size_t n_stuck;
} DrainStatus;

void drain_status_done(DrainStatus *s);

/* Whether a unit with these contents is global. Contents that do not parse are not. Returns
 * 1, 0 or -ENOMEM. */
int drain_unit_is_global(const char *name, const char *contents);

/* The status of machine from its schedule records (schedule/<machine>/) and every placement
 * record. Fills *ret (freed with drain_status_done()); 0 or -ENOMEM. */
int drain_status_compute(const char *machine, const ScheduleRecord *schedule, size_t n_schedule,
                         const PlacementRecord *placements, size_t n_placements, DrainStatus *ret);

/* GET /v1/machines/<id>/drain's answer: {machine, draining, since?, by?, force?, source?,
 * state, remaining: [{unit, kind: "app"|"unit", state: "replacing"|"moving"|"stuck",
 * reason?}], blocked: [{unit, reason}]}. d is the drain record, NULL if the machine is not
 * draining: then state is "active" and remaining lists what a drain would have to move.
 * NULL on OOM. */
json_t *drain_status_to_json(const DrainStatus *s, const char *machine, const DrainRecord *d);

/* One line for messages: "2 units left: a.service (moving), b.service (stuck: why)", at most
 * max_units named ("and N more" after them); "nothing left" when empty. NULL on OOM. */
char *drain_status_summary(const DrainStatus *s, size_t max_units);

/* Finds the machine that host names, in this order: a machine id (of machines or of drains,
 * whose machines may be down), the hostname or the IP of one of machines, a prefix of one id.
 * Returns 0 with the id in ret_id; -ENOENT if none matches; -ENOTUNIQ if the first rule that
 * matches matches more than one machine. */
int machine_resolve(const MachineRecord *machines, size_t n_machines, const DrainRecord *drains, size_t n_drains,
                    const char *host, char ret_id[static MACHINE_ID_LEN + 1]);

/* Whether id is the last schedulable machine: every other registered machine has a drain
 * record. A machine that is draining already is never the last (draining it again changes
 * nothing). */
bool drain_is_last_schedulable(const MachineRecord *machines, size_t n_machines, const DrainRecord *drains,
                               size_t n_drains, const char *id);

/* The drain record of id among drains, or NULL. */
const DrainRecord *drain_find(const DrainRecord *drains, size_t n_drains, const char *id);
