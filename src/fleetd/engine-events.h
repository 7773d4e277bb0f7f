/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the engine leader tells the timeline and the metrics: placements and moves of units
 * (from the diff it writes), machines that join, leave or reboot, and its scheduling passes.
 *
 * PURE: engine_moves() works out, from schedule/ as it is and the changes to it, which unit
 * goes from where to where; engine_move_reason() why: the machine it leaves is gone
 * ("host_lost"), draining ("drain"), or still there and eligible no more ("constraint_change").
 * A unit with no entry before is "placed" (reason "new"). A unit that changes on its machine
 * (new contents, another desired state) neither moves nor is placed.
 *
 * The rest is I/O: events (event-log.h, by "engine@<host>") and fleetd_* metrics. */

#include "basic/hashmap.h"
#include "basic/time-util.h"
#include "engine-plan.h"
#include "etcd-codec.h"
#include "registry.h"

typedef struct EngineMove {
        char *unit;
        char *from;                   /* NULL: placed, not moved */
        char *to;
        const char *reason;           /* "new", "host_lost", "drain", "constraint_change" */
        size_t change;                /* the index of its PUT in the diff's changes (and ops) */
} EngineMove;

typedef struct EngineMoves {
        EngineMove *moves;            /* in the order of their changes */
        size_t n_moves;
        size_t told;                  /* moves[0..told) were emitted */
} EngineMoves;

void engine_moves_done(EngineMoves *m);

/* Why a unit leaves from: its machine record (NULL when the machine is gone), and whether
 * that machine drains (drain/<id>, or its record says so). */
const char *engine_move_reason(const MachineRecord *from, bool draining);

/* The moves and placements of diff against entries (the schedule before it), into *ret (owned;
 * replaces what was there). machines (id -> MachineRecord*) and drains (ids of draining
 * machines; may be NULL) give the reasons. A unit taken off
 * one machine and put on another moves; one put where it had no entry is placed; a global
 * unit's new machines are placements, its machines left are not moves. 0 or -ENOMEM. */
int engine_moves(const EngineEntry *entries, size_t n_entries, const EngineDiff *diff, const Hashmap *machines,
                 const Hashmap *drains, EngineMoves *ret);

/* Emits one event per move and placement (unit.move, unit.placed) whose change is below
 * written (the diff's ops are written in order, chunk by chunk), and counts them in
 * fleetd_placements_total{reason} and fleetd_unit_moves_total{reason}. */
void engine_moves_emit(EngineMoves *m, size_t written);

/* A change of machines/<id> (value NULL: deleted), before the leader applies it to known
 * (id -> MachineRecord*): a new machine (machine.joined), one gone (machine.left: its lease
 * expired), or one with a new boot id (machine.rebooted). */
void engine_machine_event(const Hashmap *known, const char *key, const char *value);

/* One scheduling pass took duration (fleetd_scheduling_passes_total and
 * fleetd_scheduling_pass_duration_seconds). */
void engine_pass_done(usec_t duration);

/* This fleetd became the engine leader (engine.leader), or is no longer (nothing is emitted:
 * the next leader says so); fleetd_engine_leader follows. */
void engine_leader_changed(bool leader, const char *machine_id);

/* Gauges the leader knows: fleetd_machines{state}, fleetd_units{desired_state}. Call from a
 * metrics collector; an engine that does not lead clears them. */
void engine_collect_machines(const Hashmap *machines, bool leader);
void engine_collect_units(size_t n_by_state[], size_t n_states, bool leader);
