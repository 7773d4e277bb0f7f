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

int api_locks_list(ApiRequest *req, void *userdata);
int api_locks_get(ApiRequest *req, void *userdata);
int api_locks_set_max(ApiRequest *req, void *userdata);
int api_locks_acquire(ApiRequest *req, void *userdata);
int api_locks_release(ApiRequest *req, void *userdata);
