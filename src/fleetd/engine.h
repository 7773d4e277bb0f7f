/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The engine. Every fleetd runs one; one of them leads. Election: a txn creates engine/leader
 * (value: the machine id) bound to the machine's presence lease, only if it does not exist.
 * The others watch that key and campaign again when it is deleted, which happens at once when
 * the leader's lease ends (its host died, or fleetd lost etcd for longer than agent_ttl).
 *
 * The leader reads units/, machines/, schedule/, drain/, rebalance/, placement/ and state/ in
 * one txn (one revision), then watches all but schedule/ and placement/ (it is their only
 * writer) and re-plans on each change (coalesced), with the pure scheduler. It writes only the
 * differences to schedule/ and placement/ (and deletes rebalance/ records that are done), in
 * txns that compare engine/leader's value and lease (fencing: a deposed leader's writes fail).
 * A unit's moves (delete on the old machine, put on the new one) go in one txn. A periodic
 * pass (engine_reconcile_interval) re-plans from memory as a safety net; at rest it costs no
 * etcd request.
 *
 * Rolling host upgrades (docs/design.md): a machine is draining while drain/<id> exists. Plain
 * units move off it at most DRAIN_MOVES_AT_ONCE (4) at a time, a move being in flight until
 * the unit's state on its new machine says active or failed, or 30 s passed; what cannot move
 * stays and gets placement/<name> {stuck} (stopped instead when the drain is forced). Its app
 * instances are the app controller's to replace, health-gated: the engine tells it which
 * instances to replace (on a draining machine, or picked to rebalance while a rebalance/
 * record exists) and which cannot be placed, and learns from it why one cannot be replaced
 * yet. Every unit the scheduler cannot place gets placement/<name> {unschedulable, reason},
 * logged once per change. The engine owns the state/ watch and feeds the app controller with
 * it. Beside them runs the reboot slot sweep (lock-sweep.h). */

#include "etcd-client.h"
#include "machine.h"
#include "scheduler.h"
#include "unit-options.h"

typedef struct Engine Engine;

/* reboot_slot_timeout: a reboot slot held longer is freed by the leader's sweep (lock-sweep.h). */
int engine_new(sd_event *e, EtcdClient *etcd, Presence *presence, const char *prefix, const char *machine_id,
               usec_t reconcile_interval, usec_t reboot_slot_timeout, Engine **ret);
Engine *engine_free(Engine *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(Engine *, engine_free);

/* Presence registered again (maybe with a new lease): campaign again. */
void engine_lease_changed(Engine *e);
bool engine_is_leader(Engine *e);
