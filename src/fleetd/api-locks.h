/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The /v1/locks handlers (docs/api.md) over the reboot slots (reboot-slots.h); userdata is the
 * Manager.
 *
 *   GET    /v1/locks                          {"locks": [lock records]}: the groups with a key
 *   GET    /v1/locks/<group>                  the group (a group without a key: max 1, no holders)
 *   PUT    /v1/locks/<group>                  {"max": 1..1000}
 *   POST   /v1/locks/<group>/holders          {"id", "machine"?, "by"?}: takes a slot (recursive)
 *   DELETE /v1/locks/<group>/holders/<id>     frees it (200 also when it held none) */

#include "api-server.h"
#include "reboot-slots.h"

int api_locks_list(ApiRequest *req, void *userdata);
int api_locks_get(ApiRequest *req, void *userdata);
int api_locks_set_max(ApiRequest *req, void *userdata);
int api_locks_acquire(ApiRequest *req, void *userdata);
int api_locks_release(ApiRequest *req, void *userdata);

/* The events of a slot change made for req (event-log.h): lock.taken when op ACQUIRE took a
 * slot, lock.released when op RELEASE freed one (details.reason: how, "by hand" or
 * "steady-state"), and lock.released (reason "timeout") for each holder the change dropped as
 * expired. */
void api_locks_emit(ApiRequest *req, SlotOp op, const SlotOutcome *o, const char *how);
