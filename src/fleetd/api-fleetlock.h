/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A FleetLock server for Zincati (fleetlock.h has the protocol's words; docs/api.md the
 * answers), userdata the Manager:
 *
 *   POST /v1/pre-reboot     takes a reboot slot of client_params.group (locks/<group>,
 *                           reboot-slots.h; recursive) for the machine whose fleetlockId is
 *                           client_params.id (409 failed_lock_semaphore_full when every slot
 *                           is held: nothing is drained then), starts draining that machine
 *                           (drain/<id>, source "fleetlock"), and answers 503
 *                           drain_in_progress (or drain_blocked) until it is drained, then 200.
 *   POST /v1/steady-state   frees the slot (200 also when none was held) and, if the machine's
 *                           drain came from FleetLock, uncordons it and writes rebalance/<id>.
 *
 * On the unix socket and the TLS API they take any machine's id. On fleetlock_listen (plain
 * HTTP on loopback, for Zincati, which has no client certificate) only this machine's own
 * fleetlockId is taken; another gets 403 forbidden and nothing is read or written. */

#include "api-server.h"

/* The loopback listener's own table: the two routes above and nothing else. */
extern const ApiRoute api_fleetlock_routes[];

int api_fleetlock_pre_reboot(ApiRequest *req, void *userdata);
int api_fleetlock_steady_state(ApiRequest *req, void *userdata);
