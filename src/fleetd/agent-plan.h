/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The agent's PURE plan: what this host is asked to run (its schedule/<machine-id>/ entries)
 * against what it has (unit files fleetd wrote under /run/fleetd/units and systemd's view of
 * them) gives an ordered list of actions. No I/O, no logging.
 *
 * Only units whose file fleetd wrote are ever touched: a unit the host has for other reasons
 * is not fleetd's business, even if a schedule names it.
 *
 * Order of the actions, so one batch needs one daemon reload:
 *   1. STOP     units running that should not be (unscheduled, or desired "loaded")
 *   2. REMOVE   unit files of units no longer scheduled (unlink + delete)
 *   3. WRITE    unit files that are missing or whose hash differs (write + link)
 *   4. RELOAD   once, if anything was written or removed
 *   5. START    units desired "launched" that are not active or activating;
 *      RESTART  units desired "launched" that run an older version of their file */

#include <stdbool.h>
#include <stddef.h>

#include "basic/macros.h"
#include "unit-state.h"

typedef struct AgentDesired {
        const char *name;
        const char *hash;             /* of the contents the schedule asks for */
        UnitDesiredState state;       /* LOADED or LAUNCHED; INACTIVE is treated as absent */
} AgentDesired;

typedef struct AgentActual {
        const char *name;
        const char *hash;             /* of the file fleetd wrote */
        const char *active_state;     /* systemd's ActiveState: active, inactive, failed, activating, ... */
} AgentActual;

typedef enum AgentActionType {
        AGENT_STOP,
        AGENT_REMOVE,
        AGENT_WRITE,
        AGENT_RELOAD,
        AGENT_START,
        AGENT_RESTART,
        _AGENT_ACTION_MAX,
} AgentActionType;

const char *agent_action_type_to_string(AgentActionType t);

typedef struct AgentAction {
        AgentActionType type;
        const char *name;             /* points into the inputs; NULL for RELOAD */
} AgentAction;

typedef struct AgentPlan {
        AgentAction *actions;
        size_t n_actions;
} AgentPlan;

/* Computes the actions that take actual to desired. Names are unique within each input.
 * The plan points into the inputs (they must outlive it). Returns 0 or -ENOMEM. */
int agent_plan(const AgentDesired *desired, size_t n_desired, const AgentActual *actual, size_t n_actual,
               AgentPlan *ret);
void agent_plan_done(AgentPlan *p);
