/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A map from strings to pointers: open addressing with linear probing, FNV-1a hashes,
 * tombstone-free deletion (backward shift). The map copies keys; values are the caller's,
 * and hashmap_free() calls free_value on each one if given. */

#include <stdbool.h>
#include <stddef.h>

#include "macros.h"

typedef struct Hashmap Hashmap;

Hashmap *hashmap_new(void (*free_value)(void *));
Hashmap *hashmap_free(Hashmap *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(Hashmap *, hashmap_free);

/* Sets key to value, replacing (and freeing, with free_value) an old value. 0 or -ENOMEM. */
int hashmap_put(Hashmap *h, const char *key, void *value);
void *hashmap_get(const Hashmap *h, const char *key);
/* Removes key and returns its value without freeing it (NULL if absent). */
void *hashmap_remove(Hashmap *h, const char *key);
size_t hashmap_size(const Hashmap *h);
/* Removes everything, freeing values with free_value. */
void hashmap_clear(Hashmap *h);

/* Iteration in no particular order; the map must not change meanwhile:
 *     size_t i = 0; const char *k; void *v;
 *     while (hashmap_iterate(h, &i, &k, &v)) ... */
bool hashmap_iterate(const Hashmap *h, size_t *i, const char **ret_key, void **ret_value);
/* The keys, sorted, as a NULL-terminated array pointing into the map (free() the array only). */
const char **hashmap_sorted_keys(const Hashmap *h);
