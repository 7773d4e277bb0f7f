/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The engine. Every fleetd runs one; one of them leads. Election: a txn creates engine/leader
 * (value: the machine id) bound to the machine's presence lease, only if it does not exist.
 * The others watch that key and campaign again when it is deleted, which happens at once when
 * the leader's lease ends (its host died, or fleetd lost etcd for longer than agent_ttl).
 *
 * The leader reads units/, machines/ and schedule/ in one txn (one revision), then watches
 * units/ and machines/ and re-plans on each change (coalesced), with the pure scheduler. It
 * writes only the differences to schedule/, in txns that compare engine/leader's value and
 * lease (fencing: a deposed leader's writes fail). A unit's moves (delete on the old machine,
 * put on the new one) go in one txn. A periodic pass (engine_reconcile_interval) re-plans
 * from memory as a safety net; at rest it costs no etcd request. */

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
