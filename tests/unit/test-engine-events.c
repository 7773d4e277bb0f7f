/* SPDX-License-Identifier: Apache-2.0 */
/* engine_moves(): which units the engine's diff places and moves, and why. */
#include "engine-events.h"
#include "registry.h"
#include "../tests.h"

TEST(moves_and_reasons) {
        _cleanup_(hashmap_freep) Hashmap *machines = hashmap_new(NULL);
        MachineRecord m2 = { .id = "m2", .state = MACHINE_ACTIVE }, m3 = { .id = "m3", .state = MACHINE_DRAINING },
                      m4 = { .id = "m4", .state = MACHINE_ACTIVE };
        EngineEntry entries[] = {
                { "m1", "a.service", "h", UNIT_LAUNCHED },    /* m1 is gone */
                { "m2", "b.service", "h", UNIT_LAUNCHED },
                { "m3", "d.service", "h", UNIT_LAUNCHED },    /* m3 drains */
                { "m4", "e.service", "h", UNIT_LAUNCHED },
                { "m2", "g.service", "h", UNIT_LAUNCHED },    /* a global unit */
        };
        EngineChange changes[] = {
                { ENGINE_CHANGE_DELETE, "m1", "a.service" },
                { ENGINE_CHANGE_DELETE, "m3", "d.service" },
                { ENGINE_CHANGE_DELETE, "m4", "e.service" },
                { ENGINE_CHANGE_PUT, "m2", "b.service" },     /* new contents where it is */
                { ENGINE_CHANGE_PUT, "m2", "a.service" },
                { ENGINE_CHANGE_PUT, "m4", "d.service" },
                { ENGINE_CHANGE_PUT, "m2", "e.service" },
                { ENGINE_CHANGE_PUT, "m4", "c.service" },     /* a new unit */
                { ENGINE_CHANGE_PUT, "m4", "g.service" },     /* the global unit on another machine */
        };
        EngineDiff diff = { .changes = changes, .n_changes = ELEMENTSOF(changes) };
        _cleanup_(engine_moves_done) EngineMoves m = {};

        ASSERT_TRUE(machines);
        ASSERT_INT(hashmap_put(machines, "m2", &m2), 0);
        ASSERT_INT(hashmap_put(machines, "m3", &m3), 0);
        ASSERT_INT(hashmap_put(machines, "m4", &m4), 0);
        ASSERT_INT(engine_moves(entries, ELEMENTSOF(entries), &diff, machines, NULL, &m), 0);
        ASSERT_INT(m.n_moves, 5);
        ASSERT_STR(m.moves[0].unit, "a.service");
        ASSERT_STR(m.moves[0].from, "m1");
        ASSERT_STR(m.moves[0].to, "m2");
        ASSERT_STR(m.moves[0].reason, "host_lost");
        ASSERT_INT(m.moves[0].change, 4);
        ASSERT_STR(m.moves[1].unit, "d.service");
        ASSERT_STR(m.moves[1].reason, "drain");
        ASSERT_STR(m.moves[2].unit, "e.service");
        ASSERT_STR(m.moves[2].reason, "constraint_change");
        ASSERT_STR(m.moves[3].unit, "c.service");
        ASSERT_TRUE(!m.moves[3].from);
        ASSERT_STR(m.moves[3].reason, "new");
        ASSERT_STR(m.moves[4].unit, "g.service");
        ASSERT_STR(engine_move_reason(&m2, true), "drain");    /* drain/<id>, whatever its record says */
        ASSERT_TRUE(!m.moves[4].from);
        ASSERT_INT(m.moves[4].change, 8);

        /* told chunk by chunk, as the diff is written */
        engine_moves_emit(&m, 5);
        ASSERT_INT(m.told, 1);
        engine_moves_emit(&m, 9);
        ASSERT_INT(m.told, 5);
}

TEST_MAIN(T(moves_and_reasons))
