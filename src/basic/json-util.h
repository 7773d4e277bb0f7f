/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Small readers over jansson values. They never allocate and never fail loudly:
 * a missing key or a value of the wrong type gives the fallback. */

/* The string at key, or NULL. */
const char *jx_str(const json_t *o, const char *key);
/* An int64 that may come as a JSON number or as a decimal string (etcd's gateway
 * sends every int64 as a string and omits zero values). */
int64_t jx_int64(const json_t *o, const char *key, int64_t fallback);
bool jx_bool(const json_t *o, const char *key, bool fallback);

/* Compact, key-sorted text of v (stable, so it can be hashed and compared). NULL on OOM. */
char *jx_dumps(const json_t *v);
