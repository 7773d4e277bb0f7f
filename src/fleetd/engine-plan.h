/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The engine leader's PURE decisions around the scheduler: where each unit runs now, read from
 * its schedule/<machine>/<name> entries, and the changes that take schedule/ from what it is to
 * what the scheduler's plan says. The engine reads the entries and units from etcd, calls these,
 * and writes the changes as fenced txns. No I/O, no logging.
 *
 * Rules of the diff, per entry of schedule/:
 *   - its unit is not planned (inactive, a template, gone), or the plan no longer puts it on the
 *     entry's machine (moved, unschedulable, a global unit's machine that no longer matches):
 *     DELETE;
 *   - else, its hash or desired state differs from the unit's: PUT (the unit changed);
 *   - else nothing.
 * Per planned unit, per machine the plan puts it on (one, or a global unit's machines) that
 * has no entry for it: PUT. A unit stuck on a draining machine (SCHED_STUCK) is where the
 * plan puts it, like a placed one.
 *
 * Moves off draining machines are bounded (the engine keeps a few in flight): a unit placed
 * on a machine where it has no entry yet, with an entry on a draining machine, is a move. The
 * first max_moves of them, in the order of the targets, are made (the old entry's DELETE, the
 * new one's PUT, flagged move); the others wait: their entry on the draining machine stays (a
 * PUT if the unit changed), nothing is written for them elsewhere, and n_held counts them.
 *
 * placement/<name> (engine_placement_diff()): what the engine leader says about a unit it
 * could not (fully) place. A target unschedulable: {unschedulable, its reason}; stuck: {stuck,
 * machine, its reason}; placed but blocked (an app instance that cannot leave its draining
 * machine yet, EngineTarget.blocked): {stuck, machine, blocked}; else none. A record that
 * differs from the one there is PUT (keep_since when only the reason or machine changed, so
 * "since" tells how long the unit has been in that state), one that is no longer wanted (the
 * unit placed, gone, inactive) is DELETEd. */

#include <stddef.h>

#include "registry.h"
#include "scheduler.h"
#include "unit-state.h"

/* One schedule/<machine>/<name> entry as the leader knows it (it is the only writer). */
typedef struct EngineEntry {
        const char *machine;
        const char *name;
        const char *hash;
        UnitDesiredState desired;
        bool draining;                /* its machine is draining */
} EngineEntry;

/* One planned unit: what its entries must say, and where the plan puts it. */
typedef struct EngineTarget {
        const char *name;
        const char *hash;
        UnitDesiredState desired;
        const SchedPlacement *placement;
        const char *blocked;          /* placed on a draining machine it cannot leave yet: why; NULL: not */
} EngineTarget;

typedef enum EngineChangeType {
        ENGINE_CHANGE_PUT,            /* write schedule/<machine>/<name> from the unit */
        ENGINE_CHANGE_DELETE,         /* delete schedule/<machine>/<name> */
} EngineChangeType;

typedef struct EngineChange {
        EngineChangeType type;
        const char *machine;          /* borrowed from the inputs */
        const char *name;             /* borrowed from the inputs */
        bool move;                    /* PUT: the new entry of a move off a draining machine */
} EngineChange;

typedef struct EngineDiff {
        EngineChange *changes;        /* entries first, in their order; then additions, in the
                                       * order of the targets and of their machines */
        size_t n_changes;
        size_t n_held;                /* moves off draining machines that wait */
} EngineDiff;

/* For each of names, the machine its entries put it on when there is exactly one such entry,
 * else NULL (none, or a global unit on many). ret_machines has n_names slots and borrows from
 * entries; it is written on success only. 0 or -ENOMEM. */
int engine_current_machines(const EngineEntry *entries, size_t n_entries, const char * const *names,
                            size_t n_names, const char **ret_machines);

/* The changes (the rules above) into *ret, which borrows the strings of the inputs; free with
 * engine_diff_done(). max_moves: how many moves off draining machines may start (SIZE_MAX: no
 * bound). 0, -EINVAL if two targets have one name, or -ENOMEM. */
int engine_diff(const EngineEntry *entries, size_t n_entries, const EngineTarget *targets, size_t n_targets,
                size_t max_moves, EngineDiff *ret);
void engine_diff_done(EngineDiff *d);

/* One placement/<name> record, as it is or as it should be. */
typedef struct EnginePlacement {
        const char *name;
        PlacementState state;
        const char *machine;          /* PLACEMENT_STUCK: the draining machine; else NULL */
        const char *reason;
} EnginePlacement;

typedef struct EnginePlacementChange {
        EngineChangeType type;
        EnginePlacement record;       /* PUT: what to write; DELETE: only the name; borrowed */
        bool keep_since;              /* PUT: the state is the one the record has: keep its since */
} EnginePlacementChange;

typedef struct EnginePlacementDiff {
        EnginePlacementChange *changes; /* the targets' PUTs in their order, then the DELETEs */
        size_t n_changes;
} EnginePlacementDiff;

/* The changes that take placement/ from current (the records there, any order, one per name)
 * to what the targets call for (the rules above), into *ret, borrowing from the inputs; free
 * with engine_placement_diff_done(). 0 or -ENOMEM. */
int engine_placement_diff(const EnginePlacement *current, size_t n_current, const EngineTarget *targets,
                          size_t n_targets, EnginePlacementDiff *ret);
void engine_placement_diff_done(EnginePlacementDiff *d);
