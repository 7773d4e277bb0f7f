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
 * has no entry for it: PUT. */

#include <stddef.h>

#include "scheduler.h"
#include "unit-state.h"

/* One schedule/<machine>/<name> entry as the leader knows it (it is the only writer). */
typedef struct EngineEntry {
        const char *machine;
        const char *name;
        const char *hash;
        UnitDesiredState desired;
} EngineEntry;

/* One planned unit: what its entries must say, and where the plan puts it. */
typedef struct EngineTarget {
        const char *name;
        const char *hash;
        UnitDesiredState desired;
        const SchedPlacement *placement;
} EngineTarget;

typedef enum EngineChangeType {
        ENGINE_CHANGE_PUT,            /* write schedule/<machine>/<name> from the unit */
        ENGINE_CHANGE_DELETE,         /* delete schedule/<machine>/<name> */
} EngineChangeType;

typedef struct EngineChange {
        EngineChangeType type;
        const char *machine;          /* borrowed from the inputs */
        const char *name;             /* borrowed from the inputs */
} EngineChange;

typedef struct EngineDiff {
        EngineChange *changes;        /* entries first, in their order; then additions, in the
                                       * order of the targets and of their machines */
        size_t n_changes;
} EngineDiff;

/* For each of names, the machine its entries put it on when there is exactly one such entry,
 * else NULL (none, or a global unit on many). ret_machines has n_names slots and borrows from
 * entries; it is written on success only. 0 or -ENOMEM. */
int engine_current_machines(const EngineEntry *entries, size_t n_entries, const char * const *names,
                            size_t n_names, const char **ret_machines);

/* The changes (the rules above) into *ret, which borrows the strings of the inputs; free with
 * engine_diff_done(). 0, -EINVAL if two targets have one name, or -ENOMEM. */
int engine_diff(const EngineEntry *entries, size_t n_entries, const EngineTarget *targets, size_t n_targets,
                EngineDiff *ret);
void engine_diff_done(EngineDiff *d);
