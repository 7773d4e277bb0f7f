/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The scheduler core: machines + units -> where each unit should run. PURE: no I/O, no
 * logging, no clock, no randomness; the same input always gives the same plan. The engine
 * reads machines/ and the units to place from etcd, calls sched_plan_compute(), and writes
 * the difference between the plan and the current schedule back (how fast it moves units, e.g.
 * one at a time off a draining machine, is the engine's business, not this module's).
 *
 * [X-Fleet] options, as in fleet:
 *   MachineID=<id>        only that machine. Unknown -> unschedulable; draining -> stuck there
 *                         if it runs there already (see Draining), else unschedulable.
 *   MachineOf=<unit>      the machine of that unit, which must itself be placed by this plan
 *                         (repeatable: all of them must be on one machine). A MachineOf a global
 *                         unit means any machine that global unit runs on. Cycles
 *                         (a -> b -> a, or a -> a) make every unit on the cycle unschedulable.
 *   MachineMetadata=k=v   repeatable; different keys AND, repeated values of one key OR.
 *   Conflicts=<glob>      repeatable, fnmatch(3) against unit names. Symmetric: A conflicts
 *                         with B if either names the other. Never on one machine.
 *   Replaces=<unit>       exact name. The replacing unit takes the machine the replaced unit
 *                         currently has (if it is eligible there) and the replaced unit is
 *                         placed elsewhere, or is unschedulable if nowhere else is eligible.
 *                         Afterwards they are never on one machine: Replaces is a symmetric
 *                         exclusion, like Conflicts. Naming a unit not passed in does nothing.
 *   Global=true           every machine matching MachineMetadata, draining ones too (and MachineID
 *                         when set). MachineOf and current_machine of a global unit are
 *                         ignored (fleet rejects such units); its Conflicts and Replaces keep
 *                         other units off its machines.
 *
 * Decisions:
 * - Order. Global units first, in input order; then the others in input order, except that a
 *   MachineOf target comes before the units that follow it and a replacing unit before the
 *   unit it replaces. Earlier units win: of two kept units that now conflict, the later one
 *   moves. The plan depends on the order of the units but not on the order of the machines.
 * - Stability first. Pass 1 keeps every unit whose current_machine is still present, not
 *   draining (an app instance: draining or not) and eligible (constraints, no conflict with
 *   units kept before it, capacity), even if another machine is less loaded. Pass 2 places
 *   the rest, trying in turn: the unit's current machine, the current machines of the units it
 *   replaces, then the best machine. A unit replaced by a unit that is not kept (a new one) is
 *   not kept either, so that its machine is free for the replacing unit; it moves only if that
 *   unit takes it.
 * - Draining machines (docs/design.md, "Rolling host upgrades") get nothing new, except:
 *   - Global units run on them too, like a DaemonSet on a cordoned node: draining does not
 *     concern a global unit (a drained host that reboots gets its globals back).
 *   - An app instance (SchedUnit.app_instance) stays where it is, if it is otherwise still
 *     eligible there: the app controller replaces it health-gated, the scheduler never moves
 *     it off by itself.
 *   - A plain unit moves: pass 2 plans it elsewhere. When no other machine is eligible (its
 *     MachineID= or MachineOf= is that machine, or the others fail its constraints) it stays
 *     there as SCHED_STUCK, the reason saying "cannot move off draining machine <name>: <why>";
 *     when the drain is forced (SchedMachine.drain_force) it is unschedulable instead, with
 *     the same words, so it is stopped. A stuck unit counts on its machine like a placed one.
 *     One that may not stay there either (its constraints changed, a conflict) is
 *     unschedulable with the usual reason.
 *   How fast plain units move (a few at a time) is the engine's business.
 * - Rebalance. For each group made only of app instances that are all settled
 *   (SchedUnit.settled: healthy, not being replaced) and placed (none stuck, none on a
 *   draining machine), the plan marks one instance (SchedPlacement.rebalance) when replacing
 *   it would even the group out: the first one, in input order, on the machine with the most
 *   of the group (the smallest id on a tie), if the best machine for a new instance of the
 *   group (the rules below, every check included) has at least two fewer. The replacement,
 *   placed as a new unit, goes to that machine. One mark per group per plan; a unit whose
 *   MachineID= or MachineOf= names its machine is never marked.
 * - Best machine for a new placement, in this order: fewest units of the same group (spread a
 *   template's instances, or an app's processes, over distinct machines first), fewest units,
 *   least cpu requested, least memory requested, smallest machine id.
 * - Capacity. cpu_millis/memory_bytes of a machine are its capacity, 0 meaning unknown, i.e.
 *   unlimited. The requests of the units planned on a machine never add up to more than a
 *   known capacity; a kept unit that no longer fits (the capacity shrank, or a global unit
 *   took the room) is moved.
 * - Global units do not count toward a machine's load (its number of units), as in fleet:
 *   they are on every matching machine, so counting them would only push other units away
 *   from the machines that happen to match. Their cpu/memory requests do count against
 *   capacity, and they come first (like Nomad's system jobs): a global unit that does not fit
 *   on a machine skips it; a kept unit it squeezes out moves.
 * - Bad options of one unit (MachineMetadata without '=', MachineID naming no machine, ...)
 *   make that unit unschedulable with a reason; only malformed input as a whole (NULL names
 *   or ids, duplicate unit names or machine ids) fails the call.
 *
 * Cost: O(U log U + M log M) to index, then O(M) per unit to choose a machine (O(1) with
 * MachineID or MachineOf), plus, per unit, the number of units its Conflicts/Replaces relate
 * it to. Nothing is O(U^2) unless the input is (every unit conflicting with every other). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macros.h"
#include "metadata.h"

typedef struct SchedMachine {
        const char *id;
        const MetadataPair *metadata;
        size_t n_metadata;
        bool draining;
        bool drain_force;               /* draining with force: what cannot move is stopped */
        const char *name;               /* for messages (the hostname); NULL: the id */
        uint64_t cpu_millis;            /* capacity; 0: unknown, no limit */
        uint64_t memory_bytes;          /* capacity; 0: unknown, no limit */
} SchedMachine;

typedef struct SchedUnit {
        const char *name;
        const char *machine_id;         /* MachineID=, NULL if unset */
        char **machine_of;              /* MachineOf=, NULL-terminated, NULL if none */
        char **machine_metadata;        /* MachineMetadata=, "k=v" strings */
        char **conflicts;               /* Conflicts=, globs */
        char **replaces;                /* Replaces=, unit names */
        bool global;                    /* Global=true */
        uint64_t cpu_millis;            /* requested; 0: nothing declared */
        uint64_t memory_bytes;          /* requested; 0: nothing declared */
        const char *current_machine;    /* where it is scheduled now, NULL if nowhere */
        const char *group;              /* spread key, e.g. "web@.service" for "web@3.service"; NULL: none */
        bool app_instance;              /* an app's instance: stays on a draining machine, may be rebalanced */
        bool settled;                   /* an app instance that is healthy and not being replaced */
} SchedUnit;

typedef enum SchedStatus {
        SCHED_PLACED,                   /* non-global unit: machine_id */
        SCHED_GLOBAL,                   /* global unit: machine_ids, at least one */
        SCHED_UNSCHEDULABLE,            /* reason */
        SCHED_STUCK,                    /* non-global unit that stays on machine_id, a draining
                                         * machine it cannot leave; reason says why */
} SchedStatus;

typedef struct SchedPlacement {
        SchedStatus status;
        /* SCHED_PLACED, SCHED_STUCK: borrowed, it is the .id of one of the SchedMachines passed in. */
        const char *machine_id;
        /* SCHED_GLOBAL: the array is owned by the plan, the strings are borrowed like
         * machine_id; sorted by id. */
        const char **machine_ids;
        size_t n_machine_ids;
        /* SCHED_UNSCHEDULABLE, SCHED_STUCK: owned, for humans, e.g. "no machine has metadata role=db". */
        char *reason;
        /* SCHED_PLACED app instance: replacing it would even out its group (see Rebalance). */
        bool rebalance;
} SchedPlacement;

typedef struct SchedPlan {
        SchedPlacement *placements;     /* one per unit, in the order of the units passed in */
        size_t n_placements;
} SchedPlan;

/* Plans units over machines (see the rules above). Reads the inputs only; the plan borrows
 * the machines' id strings, so keep the machines alive while using it. Returns 0 and the plan
 * in *ret (free with sched_plan_free()), -EINVAL if a unit name or machine id is NULL or
 * appears twice (nothing is planned then), or -ENOMEM. */
int sched_plan_compute(const SchedMachine *machines, size_t n_machines,
                       const SchedUnit *units, size_t n_units,
                       SchedPlan **ret);

/* Frees the plan and everything it owns; NULL-safe; returns NULL. */
SchedPlan *sched_plan_free(SchedPlan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(SchedPlan *, sched_plan_free);

/* "placed", "global", "unschedulable", "stuck"; NULL for anything else. */
const char *sched_status_to_string(SchedStatus s);
