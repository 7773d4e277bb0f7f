/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>

#include "hashmap.h"

typedef struct Entry {
        char *key;                    /* NULL: empty slot */
        void *value;
        uint64_t hash;
} Entry;

struct Hashmap {
        Entry *entries;
        size_t capacity;              /* a power of two, or 0 */
        size_t size;
        void (*free_value)(void *);
};

static uint64_t hash_string(const char *s) {
        uint64_t h = 1469598103934665603ULL;
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 1099511628211ULL;
        return h;
}

Hashmap *hashmap_new(void (*free_value)(void *)) {
        Hashmap *h = calloc(1, sizeof(*h));
        if (h)
                h->free_value = free_value;
        return h;
}

void hashmap_clear(Hashmap *h) {
        for (size_t i = 0; i < h->capacity; i++)
                if (h->entries[i].key) {
                        free(h->entries[i].key);
                        if (h->free_value)
                                h->free_value(h->entries[i].value);
                        h->entries[i].key = NULL;
                }
        h->size = 0;
}

Hashmap *hashmap_free(Hashmap *h) {
        if (!h)
                return NULL;
        hashmap_clear(h);
        free(h->entries);
        free(h);
        return NULL;
}

static Entry *find_slot(const Hashmap *h, const char *key, uint64_t hash) {
        size_t mask = h->capacity - 1;
        for (size_t i = hash & mask;; i = (i + 1) & mask) {
                Entry *e = &h->entries[i];
                if (!e->key || (e->hash == hash && streq(e->key, key)))
                        return e;
        }
}

static int grow(Hashmap *h) {
        size_t cap = h->capacity ? h->capacity * 2 : 16;
        Entry *old = h->entries, *n = calloc(cap, sizeof(Entry));
        size_t old_cap = h->capacity;

        if (!n)
                return -ENOMEM;
        h->entries = n;
        h->capacity = cap;
        for (size_t i = 0; i < old_cap; i++)
                if (old[i].key)
                        *find_slot(h, old[i].key, old[i].hash) = old[i];
        free(old);
        return 0;
}

int hashmap_put(Hashmap *h, const char *key, void *value) {
        if ((h->size + 1) * 4 > h->capacity * 3) {
                int r = grow(h);
                if (r < 0)
                        return r;
        }
        uint64_t hash = hash_string(key);
        Entry *e = find_slot(h, key, hash);
        if (e->key) {
                if (h->free_value && e->value != value)
                        h->free_value(e->value);
                e->value = value;
                return 0;
        }
        e->key = strdup(key);
        if (!e->key)
                return -ENOMEM;
        e->value = value;
        e->hash = hash;
        h->size++;
        return 0;
}

void *hashmap_get(const Hashmap *h, const char *key) {
        if (!h || h->size == 0)
                return NULL;
        Entry *e = find_slot(h, key, hash_string(key));
        return e->key ? e->value : NULL;
}

void *hashmap_remove(Hashmap *h, const char *key) {
        if (!h || h->size == 0)
                return NULL;
        Entry *e = find_slot(h, key, hash_string(key));
        if (!e->key)
                return NULL;

        void *value = e->value;
        free(e->key);
        e->key = NULL;
        h->size--;

        /* Backward shift: move later entries of the same probe run into the hole. */
        size_t mask = h->capacity - 1, hole = (size_t) (e - h->entries);
        for (size_t i = (hole + 1) & mask; h->entries[i].key; i = (i + 1) & mask) {
                size_t home = h->entries[i].hash & mask;
                bool movable = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
                if (movable) {
                        h->entries[hole] = h->entries[i];
                        h->entries[i].key = NULL;
                        hole = i;
                }
        }
        return value;
}

size_t hashmap_size(const Hashmap *h) {
        return h ? h->size : 0;
}

bool hashmap_iterate(const Hashmap *h, size_t *i, const char **ret_key, void **ret_value) {
        for (; h && *i < h->capacity; (*i)++)
                if (h->entries[*i].key) {
                        if (ret_key)
                                *ret_key = h->entries[*i].key;
                        if (ret_value)
                                *ret_value = h->entries[*i].value;
                        (*i)++;
                        return true;
                }
        return false;
}

static int cmp_key(const void *a, const void *b) {
        return strcmp(*(const char * const *) a, *(const char * const *) b);
}

const char **hashmap_sorted_keys(const Hashmap *h) {
        const char **keys = malloc(sizeof(char *) * (hashmap_size(h) + 1));
        size_t n = 0, i = 0;
        const char *k;

        if (!keys)
                return NULL;
        while (hashmap_iterate(h, &i, &k, NULL))
                keys[n++] = k;
        keys[n] = NULL;
        qsort(keys, n, sizeof(char *), cmp_key);
        return keys;
}
