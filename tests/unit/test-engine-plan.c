/* SPDX-License-Identifier: Apache-2.0 */
/* The engine leader's diff between the scheduler's plan and schedule/, and each unit's current
 * machine read from schedule/. */
#include <stdio.h>

#include "engine-plan.h"
#include "../tests.h"

#define L UNIT_LAUNCHED
#define LD UNIT_LOADED

/* Renders the changes as "+m1/a -m2/b +m3/c*" for compact expectations (*: a move's PUT). */
static const char *render(const EngineDiff *d) {
        static char buf[2048];
        size_t n = 0;

        buf[0] = 0;
        for (size_t i = 0; i < d->n_changes; i++)
                n += snprintf(buf + n, sizeof(buf) - n, "%s%c%s/%s%s", n ? " " : "",
                              d->changes[i].type == ENGINE_CHANGE_PUT ? '+' : '-', d->changes[i].machine,
                              d->changes[i].name, d->changes[i].move ? "*" : "");
        return buf;
}

static const char *m13[] = { "m1", "m3" };

static const SchedPlacement on_m1 = { .status = SCHED_PLACED, .machine_id = "m1" };
static const SchedPlacement on_m2 = { .status = SCHED_PLACED, .machine_id = "m2" };
static const SchedPlacement nowhere = { .status = SCHED_UNSCHEDULABLE, .reason = (char *) "no machine" };
static const SchedPlacement global13 = { .status = SCHED_GLOBAL, .machine_ids = m13, .n_machine_ids = 2 };

typedef struct DiffCase {
        const char *name;
        EngineEntry entries[6];
        EngineTarget targets[6];
        const char *expect;
} DiffCase;

static const DiffCase diff_cases[] = {
        { "nothing at all", {}, {}, "" },
        { "a new unit is written where it is placed",
          {},
          { { "a.service", "h1", L, &on_m1 } },
          "+m1/a.service" },
        { "in place and unchanged: nothing",
          { { "m1", "a.service", "h1", L } },
          { { "a.service", "h1", L, &on_m1 } },
          "" },
        { "its contents changed: written again in place",
          { { "m1", "a.service", "h1", L } },
          { { "a.service", "h2", L, &on_m1 } },
          "+m1/a.service" },
        { "its desired state changed: written again in place",
          { { "m1", "a.service", "h1", L } },
          { { "a.service", "h1", LD, &on_m1 } },
          "+m1/a.service" },
        { "moved: the old entry goes, the new one comes",
          { { "m1", "a.service", "h1", L } },
          { { "a.service", "h1", L, &on_m2 } },
          "-m1/a.service +m2/a.service" },
        { "not planned any more (inactive, destroyed): every entry goes",
          { { "m1", "a.service", "h1", L }, { "m3", "g.service", "h", L }, { "m1", "g.service", "h", L } },
          {},
          "-m1/a.service -m3/g.service -m1/g.service" },
        { "unschedulable: its entry goes, nothing is written",
          { { "m1", "a.service", "h1", L } },
          { { "a.service", "h1", L, &nowhere } },
          "-m1/a.service" },
        { "global: one entry per machine, only the missing ones written",
          { { "m1", "g.service", "h", L } },
          { { "g.service", "h", L, &global13 } },
          "+m3/g.service" },
        { "global: a machine that no longer matches loses its entry",
          { { "m1", "g.service", "h", L }, { "m2", "g.service", "h", L }, { "m3", "g.service", "h", L } },
          { { "g.service", "h", L, &global13 } },
          "-m2/g.service" },
        { "global changed: every kept entry written again",
          { { "m1", "g.service", "h", L }, { "m3", "g.service", "h", L } },
          { { "g.service", "h2", L, &global13 } },
          "+m1/g.service +m3/g.service" },
        { "a unit on two machines (a leader before crashed mid-move): the extra one goes",
          { { "m1", "a.service", "h1", L }, { "m2", "a.service", "h1", L } },
          { { "a.service", "h1", L, &on_m2 } },
          "-m1/a.service" },
        { "entries first in their order, then additions in the targets' order",
          { { "m2", "b.service", "h", L }, { "m1", "a.service", "h", L } },
          { { "c.service", "h", L, &on_m2 }, { "a.service", "h", L, &on_m2 }, { "b.service", "h", L, &on_m2 } },
          "-m1/a.service +m2/c.service +m2/a.service" },
};

static size_t count_entries(const EngineEntry *e, size_t max) {
        size_t n = 0;
        while (n < max && e[n].name)
                n++;
        return n;
}

static size_t count_targets(const EngineTarget *t, size_t max) {
        size_t n = 0;
        while (n < max && t[n].name)
                n++;
        return n;
}

TEST(diff_table) {
        for (size_t i = 0; i < ELEMENTSOF(diff_cases); i++) {
                const DiffCase *c = diff_cases + i;
                EngineDiff d = {};
                int r = engine_diff(c->entries, count_entries(c->entries, ELEMENTSOF(c->entries)), c->targets,
                                    count_targets(c->targets, ELEMENTSOF(c->targets)), SIZE_MAX, &d);
                if (r < 0 || !streq(render(&d), c->expect))
                        fprintf(stderr, "case \"%s\"\n", c->name);
                ASSERT_INT(r, 0);
                ASSERT_STR(render(&d), c->expect);
                engine_diff_done(&d);
        }
}

TEST(diff_rejects_duplicate_targets) {
        EngineTarget t[] = { { "a.service", "h", L, &on_m1 }, { "a.service", "h", L, &on_m2 } };
        EngineDiff d = { .n_changes = 99 };

        ASSERT_INT(engine_diff(NULL, 0, t, 2, SIZE_MAX, &d), -EINVAL);
        ASSERT_INT(d.n_changes, 99);  /* untouched */
}

/* Planning on the diff's result gives no more changes: written, it is a fixed point. */
TEST(diff_applied_is_stable) {
        EngineEntry before[] = { { "m1", "a.service", "h1", L }, { "m2", "g.service", "h", L } };
        EngineTarget t[] = { { "a.service", "h2", L, &on_m2 }, { "g.service", "h", L, &global13 } };
        EngineDiff d = {};
        EngineEntry after[8];
        size_t n = 0;

        ASSERT_INT(engine_diff(before, 2, t, 2, SIZE_MAX, &d), 0);
        ASSERT_STR(render(&d), "-m1/a.service -m2/g.service +m2/a.service +m1/g.service +m3/g.service");
        for (size_t i = 0; i < d.n_changes; i++)
                if (d.changes[i].type == ENGINE_CHANGE_PUT) {
                        const EngineTarget *x = streq(d.changes[i].name, "a.service") ? &t[0] : &t[1];
                        after[n++] = (EngineEntry) { d.changes[i].machine, x->name, x->hash, x->desired };
                }
        engine_diff_done(&d);
        ASSERT_INT(engine_diff(after, n, t, 2, SIZE_MAX, &d), 0);
        ASSERT_STR(render(&d), "");
        engine_diff_done(&d);
}

/* Moves off draining machines, a bounded number at a time. */
#define D true
static const SchedPlacement on_m3 = { .status = SCHED_PLACED, .machine_id = "m3" };
static const SchedPlacement stuck_m1 = { .status = SCHED_STUCK, .machine_id = "m1", .reason = (char *) "pinned" };
static const SchedPlacement nowhere_forced = { .status = SCHED_UNSCHEDULABLE, .reason = (char *) "forced" };

typedef struct MoveCase {
        const char *name;
        EngineEntry entries[6];
        EngineTarget targets[6];
        size_t max_moves;
        const char *expect;
        size_t n_held;
} MoveCase;

static const MoveCase move_cases[] = {
        { "moves within the bound are made, in the targets' order; the others wait",
          { { "m1", "a.service", "h", L, D }, { "m1", "b.service", "h", L, D }, { "m1", "c.service", "h", L, D } },
          { { "c.service", "h", L, &on_m2 }, { "a.service", "h", L, &on_m3 }, { "b.service", "h", L, &on_m2 } },
          2, "-m1/a.service -m1/c.service +m2/c.service* +m3/a.service*", 1 },
        { "no room: nothing moves, a changed unit is written again where it waits",
          { { "m1", "a.service", "h", L, D }, { "m1", "b.service", "h", L, D } },
          { { "a.service", "h", L, &on_m2 }, { "b.service", "h2", L, &on_m2 } },
          0, "+m1/b.service", 2 },
        { "not moves: stuck units, units kept there (app instances), forced stops, new and global units",
          { { "m1", "s.service", "h", L, D }, { "m1", "k.service", "h", L, D }, { "m1", "f.service", "h", L, D },
            { "m1", "g.service", "h", L, D } },
          { { "s.service", "h", L, &stuck_m1 }, { "k.service", "h", L, &on_m1 },
            { "f.service", "h", L, &nowhere_forced },
            { "n.service", "h", L, &on_m2 }, { "g.service", "h", L, &global13 } },
          0, "-m1/f.service +m2/n.service +m3/g.service", 0 },
        { "already on its new machine (a move half written): the old entry goes without waiting",
          { { "m1", "a.service", "h", L, D }, { "m2", "a.service", "h", L } },
          { { "a.service", "h", L, &on_m2 } },
          0, "-m1/a.service", 0 },
        { "off a machine that does not drain (it is gone): not bounded",
          { { "m9", "a.service", "h", L } },
          { { "a.service", "h", L, &on_m2 } },
          0, "-m9/a.service +m2/a.service", 0 },
};

TEST(diff_moves_bounded) {
        for (size_t i = 0; i < ELEMENTSOF(move_cases); i++) {
                const MoveCase *c = move_cases + i;
                EngineDiff d = {};
                int r = engine_diff(c->entries, count_entries(c->entries, ELEMENTSOF(c->entries)), c->targets,
                                    count_targets(c->targets, ELEMENTSOF(c->targets)), c->max_moves, &d);
                if (r < 0 || !streq(render(&d), c->expect) || d.n_held != c->n_held)
                        fprintf(stderr, "case \"%s\"\n", c->name);
                ASSERT_INT(r, 0);
                ASSERT_STR(render(&d), c->expect);
                ASSERT_INT(d.n_held, c->n_held);
                engine_diff_done(&d);
        }
}

/* placement/ records: renders the changes as "+a.service=stuck@m1:why(kept) -b.service". */
static const char *render_placements(const EnginePlacementDiff *d) {
        static char buf[2048];
        size_t n = 0;

        buf[0] = 0;
        for (size_t i = 0; i < d->n_changes; i++) {
                const EnginePlacementChange *c = d->changes + i;
                if (c->type == ENGINE_CHANGE_DELETE) {
                        n += snprintf(buf + n, sizeof(buf) - n, "%s-%s", n ? " " : "", c->record.name);
                        continue;
                }
                n += snprintf(buf + n, sizeof(buf) - n, "%s+%s=%s%s%s:%s%s", n ? " " : "", c->record.name,
                              placement_state_to_string(c->record.state), c->record.machine ? "@" : "",
                              strempty(c->record.machine), c->record.reason, c->keep_since ? "(kept)" : "");
        }
        return buf;
}

TEST(placement_diff) {
        EnginePlacement have[] = {
                { "same.service", PLACEMENT_UNSCHEDULABLE, NULL, "no machine" },
                { "reworded.service", PLACEMENT_UNSCHEDULABLE, NULL, "old words" },
                { "nowstuck.service", PLACEMENT_UNSCHEDULABLE, NULL, "no machine" },
                { "placed.service", PLACEMENT_STUCK, "m1", "pinned" },
                { "gone.service", PLACEMENT_UNSCHEDULABLE, NULL, "no machine" },
        };
        EngineTarget t[] = {
                { "same.service", "h", L, &nowhere },
                { "reworded.service", "h", L, &nowhere },
                { "nowstuck.service", "h", L, &stuck_m1 },
                { "placed.service", "h", L, &on_m2 },
                { "app.service", "h", L, &on_m1, "cannot move off draining m1: replacement x failed" },
                { "fine.service", "h", L, &on_m1 },
        };
        EnginePlacementDiff d = {};

        ASSERT_INT(engine_placement_diff(have, ELEMENTSOF(have), t, ELEMENTSOF(t), &d), 0);
        ASSERT_STR(render_placements(&d), "+reworded.service=unschedulable:no machine(kept) "
                                          "+nowstuck.service=stuck@m1:pinned "
                                          "+app.service=stuck@m1:cannot move off draining m1: replacement x failed "
                                          "-placed.service -gone.service");
        engine_placement_diff_done(&d);

        ASSERT_INT(engine_placement_diff(NULL, 0, NULL, 0, &d), 0);
        ASSERT_INT(d.n_changes, 0);
        engine_placement_diff_done(&d);
}

TEST(current_machines) {
        EngineEntry e[] = {
                { "m1", "a.service", "h", L },
                { "m2", "g.service", "h", L },
                { "m3", "g.service", "h", L },
                { "m2", "b.service", "h", LD },
                { "m1", "g.service", "h", L },
        };
        const char *names[] = { "a.service", "b.service", "g.service", "new.service" };
        const char *got[4] = { "x", "x", "x", "x" };

        ASSERT_INT(engine_current_machines(e, ELEMENTSOF(e), names, 4, got), 0);
        ASSERT_STR(got[0], "m1");
        ASSERT_STR(got[1], "m2");
        ASSERT_TRUE(!got[2]);         /* on many machines: a global unit has no one current machine */
        ASSERT_TRUE(!got[3]);         /* not scheduled anywhere yet */

        /* every one of many units keeps its machine (a lost entry would make the scheduler move it) */
        enum { N = 2000 };
        static EngineEntry many[N];
        static char unit[N][32];
        static const char *many_names[N], *many_got[N];
        for (size_t i = 0; i < N; i++) {
                snprintf(unit[i], sizeof(unit[i]), "u%zu.service", i);
                many[i] = (EngineEntry) { i % 2 ? "m1" : "m2", unit[i], "h", L };
                many_names[N - 1 - i] = unit[i];
        }
        ASSERT_INT(engine_current_machines(many, N, many_names, N, many_got), 0);
        for (size_t i = 0; i < N; i++)
                ASSERT_STR(many_got[N - 1 - i], i % 2 ? "m1" : "m2");
}

TEST_MAIN(T(diff_table), T(diff_rejects_duplicate_targets), T(diff_applied_is_stable), T(diff_moves_bounded),
          T(placement_diff), T(current_machines))
