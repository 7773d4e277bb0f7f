/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <stdio.h>

#include "basic/hashmap.h"
#include "engine-plan.h"

/* Marks a unit seen on more than one machine. */
static const char many[] = "";

int engine_current_machines(const EngineEntry *entries, size_t n_entries, const char * const *names,
                            size_t n_names, const char **ret_machines) {
        _cleanup_(hashmap_freep) Hashmap *seen = hashmap_new(NULL);

        assert(entries || n_entries == 0);
        assert(names || n_names == 0);
        assert(ret_machines || n_names == 0);

        if (!seen)
                return -ENOMEM;
        for (size_t i = 0; i < n_entries; i++) {
                const char *m = hashmap_get(seen, entries[i].name) ? many : entries[i].machine;
                if (hashmap_put(seen, entries[i].name, (void *) m) < 0)
                        return -ENOMEM;
        }
        for (size_t k = 0; k < n_names; k++) {
                const char *m = hashmap_get(seen, names[k]);
                ret_machines[k] = m == many ? NULL : m;
        }
        return 0;
}

/* The machines placement puts its unit on, as an array and a count. */
static size_t placement_machines(const SchedPlacement *p, const char * const **ret) {
        if (p->status == SCHED_GLOBAL) {
                *ret = p->machine_ids;
                return p->n_machine_ids;
        }
        *ret = &p->machine_id;
        return p->status == SCHED_PLACED;
}

static bool placement_has(const SchedPlacement *p, const char *machine) {
        const char * const *ids;
        size_t n = placement_machines(p, &ids);

        for (size_t i = 0; i < n; i++)
                if (streq(ids[i], machine))
                        return true;
        return false;
}

static char *entry_key(const char *machine, const char *name) {
        char *k;
        return asprintf(&k, "%s/%s", machine, name) < 0 ? NULL : k;
}

static void diff_add(EngineDiff *d, EngineChangeType type, const char *machine, const char *name) {
        d->changes[d->n_changes++] = (EngineChange) { type, machine, name };
}

/* The entries that go or change; fills present with the "machine/name" of those that stay. */
static int diff_entries(const EngineEntry *entries, size_t n_entries, const Hashmap *by_name, Hashmap *present,
                        EngineDiff *d) {
        for (size_t i = 0; i < n_entries; i++) {
                const EngineEntry *en = entries + i;
                const EngineTarget *t = hashmap_get(by_name, en->name);
                _cleanup_free_ char *key = NULL;

                if (!t || !placement_has(t->placement, en->machine)) {
                        diff_add(d, ENGINE_CHANGE_DELETE, en->machine, en->name);
                        continue;
                }
                if (!streq(en->hash, t->hash) || en->desired != t->desired)
                        diff_add(d, ENGINE_CHANGE_PUT, en->machine, en->name);
                key = entry_key(en->machine, en->name);
                if (!key || hashmap_put(present, key, (void *) en) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* The entries each target lacks. */
static int diff_additions(const EngineTarget *targets, size_t n_targets, const Hashmap *present, EngineDiff *d) {
        for (size_t k = 0; k < n_targets; k++) {
                const char * const *ids;
                size_t n = placement_machines(targets[k].placement, &ids);

                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *key = entry_key(ids[i], targets[k].name);
                        if (!key)
                                return -ENOMEM;
                        if (!hashmap_get(present, key))
                                diff_add(d, ENGINE_CHANGE_PUT, ids[i], targets[k].name);
                }
        }
        return 0;
}

int engine_diff(const EngineEntry *entries, size_t n_entries, const EngineTarget *targets, size_t n_targets,
                EngineDiff *ret) {
        _cleanup_(hashmap_freep) Hashmap *by_name = hashmap_new(NULL), *present = hashmap_new(NULL);
        _cleanup_(engine_diff_done) EngineDiff d = {};
        size_t most = n_entries;
        int r;

        assert(entries || n_entries == 0);
        assert(targets || n_targets == 0);
        assert(ret);

        if (!by_name || !present)
                return -ENOMEM;
        for (size_t k = 0; k < n_targets; k++) {
                const char * const *ids;
                assert(targets[k].placement);
                if (hashmap_get(by_name, targets[k].name))
                        return -EINVAL;
                if (hashmap_put(by_name, targets[k].name, (void *) &targets[k]) < 0)
                        return -ENOMEM;
                most += placement_machines(targets[k].placement, &ids);
        }
        d.changes = calloc(most + 1, sizeof(EngineChange));
        if (!d.changes)
                return -ENOMEM;
        r = diff_entries(entries, n_entries, by_name, present, &d);
        if (r < 0)
                return r;
        r = diff_additions(targets, n_targets, present, &d);
        if (r < 0)
                return r;
        *ret = d;
        d = (EngineDiff) {};
        return 0;
}

void engine_diff_done(EngineDiff *d) {
        free(d->changes);
        *d = (EngineDiff) {};
}
