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
        return p->status == SCHED_PLACED || p->status == SCHED_STUCK;
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

static void diff_add(EngineDiff *d, EngineChangeType type, const char *machine, const char *name, bool move) {
        d->changes[d->n_changes++] = (EngineChange) { type, machine, name, move };
}

/* Marker values of the moves map. */
static const char move_made[] = "made", move_held[] = "held";

/* Which targets move off a draining machine (see the rules): name -> move_made or move_held,
 * the first max_moves made, in the targets' order. */
static int diff_moves(const EngineEntry *entries, size_t n_entries, const EngineTarget *targets, size_t n_targets,
                      const Hashmap *by_name, size_t max_moves, Hashmap *moves, EngineDiff *d) {
        _cleanup_(hashmap_freep) Hashmap *off = hashmap_new(NULL), *arrived = hashmap_new(NULL);
        size_t made = 0;

        if (!off || !arrived)
                return -ENOMEM;
        for (size_t i = 0; i < n_entries; i++) {
                const EngineTarget *t = hashmap_get(by_name, entries[i].name);

                if (!t || t->placement->status != SCHED_PLACED)
                        continue;
                bool here = streq(t->placement->machine_id, entries[i].machine);
                if ((here || entries[i].draining) &&
                    hashmap_put(here ? arrived : off, entries[i].name, (void *) move_made) < 0)
                        return -ENOMEM;
        }
        for (size_t k = 0; k < n_targets; k++) {
                const char *name = targets[k].name;

                if (!hashmap_get(off, name) || hashmap_get(arrived, name))
                        continue;
                if (hashmap_put(moves, name, (void *) (made < max_moves ? move_made : move_held)) < 0)
                        return -ENOMEM;
                if (made < max_moves)
                        made++;
                else
                        d->n_held++;
        }
        return 0;
}

/* The entries that go or change; fills present with the "machine/name" of those that stay. A
 * held move's entry on its draining machine stays. */
static int diff_entries(const EngineEntry *entries, size_t n_entries, const Hashmap *by_name, const Hashmap *moves,
                        Hashmap *present, EngineDiff *d) {
        for (size_t i = 0; i < n_entries; i++) {
                const EngineEntry *en = entries + i;
                const EngineTarget *t = hashmap_get(by_name, en->name);
                bool held = en->draining && hashmap_get(moves, en->name) == move_held;
                _cleanup_free_ char *key = NULL;

                if (!t || (!held && !placement_has(t->placement, en->machine))) {
                        diff_add(d, ENGINE_CHANGE_DELETE, en->machine, en->name, false);
                        continue;
                }
                if (!streq(en->hash, t->hash) || en->desired != t->desired)
                        diff_add(d, ENGINE_CHANGE_PUT, en->machine, en->name, false);
                key = entry_key(en->machine, en->name);
                if (!key || hashmap_put(present, key, (void *) en) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* The entries each target lacks; none for a held move. */
static int diff_additions(const EngineTarget *targets, size_t n_targets, const Hashmap *moves, const Hashmap *present,
                          EngineDiff *d) {
        for (size_t k = 0; k < n_targets; k++) {
                const char * const *ids;
                size_t n = placement_machines(targets[k].placement, &ids);
                const char *move = hashmap_get(moves, targets[k].name);

                if (move == move_held)
                        continue;
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *key = entry_key(ids[i], targets[k].name);
                        if (!key)
                                return -ENOMEM;
                        if (!hashmap_get(present, key))
                                diff_add(d, ENGINE_CHANGE_PUT, ids[i], targets[k].name, move == move_made);
                }
        }
        return 0;
}

int engine_diff(const EngineEntry *entries, size_t n_entries, const EngineTarget *targets, size_t n_targets,
                size_t max_moves, EngineDiff *ret) {
        _cleanup_(hashmap_freep) Hashmap *by_name = hashmap_new(NULL), *present = hashmap_new(NULL),
                                         *moves = hashmap_new(NULL);
        _cleanup_(engine_diff_done) EngineDiff d = {};
        size_t most = n_entries;
        int r;

        assert(entries || n_entries == 0);
        assert(targets || n_targets == 0);
        assert(ret);

        if (!by_name || !present || !moves)
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
        r = diff_moves(entries, n_entries, targets, n_targets, by_name, max_moves, moves, &d);
        if (r < 0)
                return r;
        r = diff_entries(entries, n_entries, by_name, moves, present, &d);
        if (r < 0)
                return r;
        r = diff_additions(targets, n_targets, moves, present, &d);
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

/* What placement/<name> should say for target t (the rules in engine-plan.h); false: nothing. */
static bool placement_wanted(const EngineTarget *t, EnginePlacement *ret) {
        const SchedPlacement *p = t->placement;

        if (p->status == SCHED_UNSCHEDULABLE)
                *ret = (EnginePlacement) { t->name, PLACEMENT_UNSCHEDULABLE, NULL, p->reason };
        else if (p->status == SCHED_STUCK)
                *ret = (EnginePlacement) { t->name, PLACEMENT_STUCK, p->machine_id, p->reason };
        else if (p->status == SCHED_PLACED && t->blocked)
                *ret = (EnginePlacement) { t->name, PLACEMENT_STUCK, p->machine_id, t->blocked };
        else
                return false;
        return true;
}

static bool placement_same(const EnginePlacement *a, const EnginePlacement *b) {
        return a->state == b->state && streq_ptr(a->machine, b->machine) && streq_ptr(a->reason, b->reason);
}

int engine_placement_diff(const EnginePlacement *current, size_t n_current, const EngineTarget *targets,
                          size_t n_targets, EnginePlacementDiff *ret) {
        _cleanup_(hashmap_freep) Hashmap *have = hashmap_new(NULL), *wanted = hashmap_new(NULL);
        _cleanup_(engine_placement_diff_done) EnginePlacementDiff d = {};

        assert(current || n_current == 0);
        assert(targets || n_targets == 0);
        assert(ret);

        d.changes = calloc(n_current + n_targets + 1, sizeof(EnginePlacementChange));
        if (!have || !wanted || !d.changes)
                return -ENOMEM;
        for (size_t i = 0; i < n_current; i++)
                if (hashmap_put(have, current[i].name, (void *) &current[i]) < 0)
                        return -ENOMEM;
        for (size_t k = 0; k < n_targets; k++) {
                EnginePlacement w;
                const EnginePlacement *h = hashmap_get(have, targets[k].name);

                if (!placement_wanted(&targets[k], &w))
                        continue;
                if (hashmap_put(wanted, w.name, (void *) &targets[k]) < 0)
                        return -ENOMEM;
                if (!h || !placement_same(h, &w))
                        d.changes[d.n_changes++] = (EnginePlacementChange) { ENGINE_CHANGE_PUT, w,
                                                                             h && h->state == w.state };
        }
        for (size_t i = 0; i < n_current; i++)
                if (!hashmap_get(wanted, current[i].name))
                        d.changes[d.n_changes++] = (EnginePlacementChange) {
                                ENGINE_CHANGE_DELETE, { .name = current[i].name } };
        *ret = d;
        d = (EnginePlacementDiff) {};
        return 0;
}

void engine_placement_diff_done(EnginePlacementDiff *d) {
        free(d->changes);
        *d = (EnginePlacementDiff) {};
}
