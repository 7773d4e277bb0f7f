/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <stdio.h>

#include "basic/strv.h"
#include "metadata.h"
#include "scheduler.h"
#include "../tests.h"

/* Each case is a small cluster: machines (id, metadata "k=v,k2=v2", draining, capacity
 * "cpu=<millis> mem=<size>", drain forced), then units (name, options as in [X-Fleet] plus cpu=,
 * mem=, group= and app=settled|busy (an app instance, settled or not), space separated, current
 * machine) with what the plan must say about each:
 *   "m1"           placed on m1 (and not marked for rebalance)
 *   "m1^"          placed on m1 and marked for rebalance
 *   "m1,m3"        a global unit, on exactly these machines (sorted by id)
 *   "!text"        unschedulable, and the reason contains text
 *   "~m1:text"     stuck on m1 (draining), and the reason contains text
 * Every case is planned twice, once with the machines reversed: the plan must not depend on
 * the order of the machines. */

#define MAX_MACHINES 6
#define MAX_UNITS 10

typedef struct TestMachine {
        const char *id;
        const char *metadata;
        bool draining;
        const char *capacity;
        bool force;
} TestMachine;

typedef struct TestUnit {
        const char *name;
        const char *options;
        const char *current;
        const char *expect;
} TestUnit;

typedef struct SchedCase {
        const char *name;
        TestMachine machines[MAX_MACHINES];
        TestUnit units[MAX_UNITS];
} SchedCase;

static const SchedCase sched_cases[] = {
        /* Placement by load */
        { "least loaded, ties by machine id",
          { { "m1" }, { "m2" }, { "m3" } },
          { { "a.service", "", NULL, "m1" },
            { "b.service", "", NULL, "m2" },
            { "c.service", "", NULL, "m3" },
            { "d.service", "", NULL, "m1" } } },
        { "current units count as load",
          { { "m1" }, { "m2" } },
          { { "x.service", "", "m1", "m1" },
            { "y.service", "", "m1", "m1" },
            { "z.service", "", NULL, "m2" } } },
        { "stability: a less loaded newcomer machine takes nothing from the others",
          { { "m1" }, { "m2" }, { "m3" } },
          { { "a.service", "", "m1", "m1" },
            { "b.service", "", "m1", "m1" },
            { "c.service", "", "m1", "m1" },
            { "d.service", "", NULL, "m2" } } },
        { "stability: current machine gone",
          { { "m1" }, { "m2" } },
          { { "a.service", "", "gone", "m1" },
            { "b.service", "", "m2", "m2" } } },

        /* MachineID */
        { "MachineID",
          { { "m1" }, { "m2" }, { "m3" } },
          { { "a.service", "MachineID=m3", NULL, "m3" },
            { "b.service", "", NULL, "m1" },
            { "c.service", "MachineID=m3", "m1", "m3" } } },
        { "MachineID of a missing, draining or non-matching machine",
          { { "m1", "role=web" }, { "m2", NULL, true } },
          { { "a.service", "MachineID=m9", NULL, "!MachineID=m9 is not a known machine" },
            { "b.service", "MachineID=m2", "m2",
              "~m2:cannot move off draining machine m2: its MachineID= is that machine" },
            { "d.service", "MachineID=m2", NULL, "!machine m2 is draining" },
            { "c.service", "MachineID=m1 MachineMetadata=role=db", NULL,
              "!machine m1 does not have metadata role=db" } } },

        /* MachineOf */
        { "MachineOf chain, listed before its targets",
          { { "m1" }, { "m2" }, { "m3" } },
          { { "c.service", "MachineOf=b.service", NULL, "m1" },
            { "b.service", "MachineOf=a.service", NULL, "m1" },
            { "x.service", "", NULL, "m2" },
            { "a.service", "", NULL, "m1" } } },
        { "MachineOf follows a kept target",
          { { "m1" }, { "m2" } },
          { { "a.service", "", "m2", "m2" },
            { "b.service", "MachineOf=a.service", NULL, "m2" },
            { "c.service", "MachineOf=a.service", "m1", "m2" } } },
        { "MachineOf dependents follow a target off a draining machine",
          { { "m1" }, { "m2", NULL, true }, { "m3" } },
          { { "x.service", "", "m1", "m1" },
            { "a.service", "", "m2", "m3" },
            { "b.service", "MachineOf=a.service", "m2", "m3" } } },
        { "MachineOf a unit that is not placed",
          { { "m1" } },
          { { "a.service", "MachineOf=nope.service", NULL, "!MachineOf=nope.service, which is not placed" },
            { "b.service", "MachineMetadata=role=gpu", NULL, "!no machine has metadata role=gpu" },
            { "c.service", "MachineOf=b.service", NULL, "!MachineOf=b.service, which is not placed" } } },
        { "MachineOf cycles",
          { { "m1" }, { "m2" } },
          { { "a.service", "MachineOf=b.service", NULL, "!MachineOf cycle: a.service -> b.service -> a.service" },
            { "b.service", "MachineOf=a.service", NULL, "!MachineOf cycle: b.service -> a.service -> b.service" },
            { "c.service", "MachineOf=a.service", NULL, "!MachineOf=a.service, which is not placed" },
            { "d.service", "MachineOf=d.service", NULL, "!MachineOf cycle: d.service -> d.service" },
            { "e.service", "MachineOf=f.service", NULL, "!MachineOf cycle: e.service -> f.service -> g.service" },
            { "f.service", "MachineOf=g.service", NULL, "!MachineOf cycle: f.service -> g.service -> e.service" },
            { "g.service", "MachineOf=e.service", NULL, "!MachineOf cycle: g.service -> e.service -> f.service" },
            { "h.service", "", NULL, "m1" } } },
        { "MachineOf two targets, and with MachineID",
          { { "m1" }, { "m2" } },
          { { "a.service", "MachineID=m1", NULL, "m1" },
            { "b.service", "MachineID=m2", NULL, "m2" },
            { "c.service", "MachineOf=a.service MachineOf=b.service", NULL,
              "!MachineOf=a.service and MachineOf=b.service are on different machines" },
            { "d.service", "MachineOf=a.service MachineID=m2", NULL,
              "!MachineOf=a.service is on machine m1, not on MachineID=m2" },
            { "e.service", "MachineOf=a.service MachineID=m1", NULL, "m1" },
            { "f.service", "MachineOf=a.service MachineOf=e.service", NULL, "m1" } } },
        { "MachineOf: a long cycle is abbreviated",
          { { "m1" } },
          { { "u1.service", "MachineOf=u2.service", NULL, "!MachineOf cycle of 6 units: u1.service -> u2.service" },
            { "u2.service", "MachineOf=u3.service", NULL, "!MachineOf cycle of 6 units: u2.service -> u3.service" },
            { "u3.service", "MachineOf=u4.service", NULL, "!u6.service -> ... -> u3.service" },
            { "u4.service", "MachineOf=u5.service", NULL, "!MachineOf cycle of 6 units" },
            { "u5.service", "MachineOf=u6.service", NULL, "!MachineOf cycle of 6 units" },
            { "u6.service", "MachineOf=u1.service", NULL, "!MachineOf cycle of 6 units" } } },

        /* MachineMetadata */
        { "MachineMetadata: keys AND",
          { { "m1", "role=web" }, { "m2", "role=web,region=eu" }, { "m3", "region=eu" } },
          { { "a.service", "MachineMetadata=role=web MachineMetadata=region=eu", NULL, "m2" },
            { "b.service", "MachineMetadata=region=eu", NULL, "m3" } } },
        { "MachineMetadata: values of one key OR",
          { { "m1", "role=web" }, { "m2", "role=db" }, { "m3", "role=cache" } },
          { { "a.service", "MachineMetadata=role=db MachineMetadata=role=cache", NULL, "m2" },
            { "b.service", "MachineMetadata=role=db MachineMetadata=role=cache", NULL, "m3" },
            { "c.service", "MachineMetadata=role=db MachineMetadata=role=cache MachineMetadata=region=eu", NULL,
              "!no machine has metadata (role=db or role=cache) and region=eu" } } },
        { "MachineMetadata: AND of ORs",
          { { "m1", "role=web,region=eu" }, { "m2", "role=db,region=us" }, { "m3", "role=db,region=eu" } },
          { { "a.service", "MachineMetadata=role=web MachineMetadata=region=us MachineMetadata=role=db", NULL,
              "m2" } } },
        { "MachineMetadata: nothing matches, or not key=value",
          { { "m1", "role=web" } },
          { { "a.service", "MachineMetadata=role=gpu", NULL, "!no machine has metadata role=gpu" },
            { "b.service", "MachineMetadata=oops", NULL, "!MachineMetadata=oops is not key=value" },
            { "c.service", "MachineMetadata=role=", NULL, "!no machine has metadata role=" } } },

        /* Conflicts */
        { "Conflicts: kept units that now conflict, the later one moves",
          { { "m1" }, { "m2" } },
          { { "a.service", "", "m1", "m1" },
            { "b.service", "Conflicts=a.service", "m1", "m2" } } },
        { "Conflicts: the other unit names this one",
          { { "m1" }, { "m2" } },
          { { "a.service", "Conflicts=b.service", NULL, "m1" },
            { "x.service", "MachineID=m2", NULL, "m2" },
            { "b.service", "", NULL, "m2" } } },
        { "Conflicts: globs, both directions",
          { { "m1" }, { "m2" } },
          { { "x.service", "Conflicts=db-?.service", NULL, "m1" },
            { "db-1.service", "", NULL, "m2" },
            { "db-2.service", "", NULL, "m2" },
            { "db-10.service", "", NULL, "m1" } } },
        { "Conflicts: a template's instances, one per machine",
          { { "m1" }, { "m2" } },
          { { "web@1.service", "Conflicts=web@*.service", NULL, "m1" },
            { "web@2.service", "Conflicts=web@*.service", NULL, "m2" },
            { "web@3.service", "Conflicts=web@*.service", NULL,
              "!conflicts with web@1.service (and others) on every eligible machine" },
            { "api.service", "", NULL, "m1" } } },
        { "Conflicts and metadata: only eligible machines count",
          { { "m1", "role=db" }, { "m2" } },
          { { "a.service", "", "m1", "m1" },
            { "b.service", "Conflicts=a.service MachineMetadata=role=db", NULL,
              "!conflicts with a.service on every eligible machine" },
            { "c.service", "Conflicts=a.service MachineID=m1", NULL, "!conflicts with a.service on machine m1" } } },

        /* Replaces */
        { "Replaces: takes the machine, the replaced unit moves",
          { { "m1" }, { "m2" } },
          { { "old.service", "", "m1", "m2" },
            { "new.service", "Replaces=old.service", NULL, "m1" } } },
        { "Replaces: nowhere else to go",
          { { "m1" } },
          { { "old.service", "", "m1", "!replaced by new.service" },
            { "new.service", "Replaces=old.service", NULL, "m1" } } },
        { "Replaces: MachineOf dependents go with the replaced unit",
          { { "m1" }, { "m2" } },
          { { "old.service", "", "m1", "m2" },
            { "side.service", "MachineOf=old.service", "m1", "m2" },
            { "new.service", "Replaces=old.service", NULL, "m1" } } },
        { "Replaces: both already apart stay where they are",
          { { "m1" }, { "m2" }, { "m3" } },
          { { "new.service", "Replaces=old.service", "m1", "m1" },
            { "old.service", "", "m2", "m2" } } },
        { "Replaces: both new, placed apart",
          { { "m1" }, { "m2" } },
          { { "x.service", "MachineID=m2", NULL, "m2" },
            { "new.service", "Replaces=old.service", NULL, "m1" },
            { "old.service", "", NULL, "m2" } } },
        { "Replaces: each other, never on one machine (no endless loop)",
          { { "m1" }, { "m2" } },
          { { "a.service", "Replaces=b.service", "m1", "m2" },
            { "b.service", "Replaces=a.service", "m1", "m1" } } },
        { "Replaces: the replacing unit cannot go there, the replaced one stays",
          { { "m1" }, { "m2", "role=db" } },
          { { "old.service", "", "m1", "m1" },
            { "new.service", "Replaces=old.service MachineMetadata=role=db", NULL, "m2" } } },

        /* Global */
        { "Global with metadata; globals do not count as load",
          { { "m1", "role=web" }, { "m2", "role=db" }, { "m3", "role=web" }, { "m4", "role=web", true } },
          { { "g.service", "Global=true MachineMetadata=role=web", NULL, "m1,m3,m4" },
            { "h.service", "Global=true", NULL, "m1,m2,m3,m4" },
            { "i.service", "Global=true MachineID=m2", NULL, "m2" },
            { "x.service", "", NULL, "m1" },
            { "y.service", "", NULL, "m2" } } },
        { "Global: nothing matches",
          { { "m1", "role=web" }, { "m2", "role=db", true } },
          { { "g.service", "Global=true MachineMetadata=role=gpu", NULL, "!no machine has metadata role=gpu" },
            { "h.service", "Global=true MachineMetadata=role=db", NULL, "m2" } } },
        { "Global: conflicts keep other units off its machines",
          { { "m1", "role=log" }, { "m2" } },
          { { "x.service", "Conflicts=g.service", NULL, "m2" },
            { "g.service", "Global=true MachineMetadata=role=log", NULL, "m1" },
            { "y.service", "Conflicts=g*.service MachineID=m1", NULL, "!conflicts with g.service on machine m1" },
            { "z.service", "", "m1", "m1" } } },
        { "Global: MachineOf a global unit",
          { { "m1", "role=web" }, { "m2" }, { "m3", "role=web" } },
          { { "g.service", "Global=true MachineMetadata=role=web", NULL, "m1,m3" },
            { "a.service", "MachineID=m1", NULL, "m1" },
            { "b.service", "MachineOf=g.service", NULL, "m3" },
            { "c.service", "MachineOf=g.service MachineID=m2", NULL,
              "!no eligible machine runs MachineOf=g.service" } } },
        { "Global: reserves capacity first",
          { { "m1", NULL, false, "mem=1G" }, { "m2", NULL, false, "mem=1G" } },
          { { "a.service", "mem=512M", "m1", "!not enough memory: needs 512M, most free is 256M" },
            { "g.service", "Global=true mem=768M", NULL, "m1,m2" } } },

        /* Draining */
        { "Draining: gets nothing new, plain units move, global units stay",
          { { "m1", NULL, true }, { "m2" }, { "m3" } },
          { { "a.service", "", "m1", "m2" },
            { "b.service", "", NULL, "m3" },
            { "c.service", "", NULL, "m2" },
            { "g.service", "Global=true", NULL, "m1,m2,m3" } } },
        { "Draining: every machine",
          { { "m1", "role=web", true }, { "m2", NULL, true } },
          { { "a.service", "", "m1", "~m1:cannot move off draining machine m1: every machine is draining" },
            { "b.service", "MachineMetadata=role=web", NULL, "!every machine with metadata role=web is draining" } } },
        { "Draining: app instances stay, new ones go elsewhere",
          { { "m1", NULL, true }, { "m2" }, { "m3" } },
          { { "web@1.service", "group=web@.service app=settled", "m1", "m1" },
            { "web@2.service", "group=web@.service app=settled", "m2", "m2" },
            { "web@3.service", "group=web@.service app=busy", NULL, "m3" },
            { "p.service", "", "m1", "m2" } } },
        { "Draining: what cannot move stays, saying why",
          { { "m1", "role=db", true, "mem=4G" }, { "m2", NULL, false, "mem=1G" } },
          { { "a.service", "MachineMetadata=role=db", "m1",
              "~m1:cannot move off draining machine m1: every machine with metadata role=db is draining" },
            { "b.service", "MachineOf=a.service", "m1",
              "~m1:cannot move off draining machine m1: its MachineOf=a.service is there" },
            { "c.service", "mem=2G", "m1", "~m1:cannot move off draining machine m1: not enough memory: needs 2G" },
            { "d.service", "MachineMetadata=role=db", NULL, "!every machine with metadata role=db is draining" },
            { "e.service", "MachineOf=a.service", NULL, "!machine m1 is draining" },
            { "f.service", "", "m1", "m2" } } },
        { "Draining: a unit that may not stay there anyway is unschedulable as before",
          { { "m1", "role=db", true }, { "m2" } },
          { { "a.service", "MachineMetadata=role=web", "m1", "!no machine has metadata role=web" },
            { "b.service", "Conflicts=g.service MachineID=m1", "m1", "!conflicts with g.service on machine m1" },
            { "g.service", "Global=true", NULL, "m1,m2" } } },
        { "Draining with force: what cannot move is stopped, the rest as without",
          { { "m1", "role=db", true, NULL, true }, { "m2", "role=web" } },
          { { "a.service", "MachineID=m1", "m1",
              "!cannot move off draining machine m1: its MachineID= is that machine; stopped, the drain is forced" },
            { "b.service", "MachineMetadata=role=db", "m1",
              "!every machine with metadata role=db is draining; stopped" },
            { "web@1.service", "group=web@.service app=settled", "m1", "m1" },
            { "c.service", "", "m1", "m2" },
            { "g.service", "Global=true", NULL, "m1,m2" } } },

        /* Capacity */
        { "Capacity: memory",
          { { "m1", NULL, false, "mem=1G" }, { "m2", NULL, false, "mem=768M" } },
          { { "a.service", "mem=512M", NULL, "m1" },
            { "b.service", "mem=512M", NULL, "m2" },
            { "c.service", "mem=512M", NULL, "m1" },
            { "d.service", "mem=512M", NULL, "!not enough memory: needs 512M, most free is 256M" },
            { "e.service", "", NULL, "m2" } } },
        { "Capacity: cpu",
          { { "m1", NULL, false, "cpu=2000" }, { "m2", NULL, false, "cpu=1000" } },
          { { "a.service", "cpu=1500", NULL, "m1" },
            { "b.service", "cpu=1500", NULL, "!not enough cpu: needs 1500m, most free is 1000m" },
            { "c.service", "cpu=1000", NULL, "m2" } } },
        { "Capacity: unknown is unlimited",
          { { "m1", NULL, false, "cpu=1000 mem=1G" }, { "m2" } },
          { { "a.service", "cpu=64000 mem=64G", NULL, "m2" },
            { "b.service", "cpu=64000 mem=64G", NULL, "m2" } } },
        { "Capacity: enough of each, not on one machine",
          { { "m1", NULL, false, "cpu=1000 mem=4G" }, { "m2", NULL, false, "cpu=4000 mem=1G" } },
          { { "a.service", "cpu=2000 mem=2G", NULL, "!not enough cpu and memory on any one machine" } } },
        { "Capacity: shrank, the later kept unit moves",
          { { "m1", NULL, false, "mem=1G" }, { "m2", NULL, false, "mem=1G" } },
          { { "a.service", "mem=768M", "m1", "m1" },
            { "b.service", "mem=512M", "m1", "m2" } } },
        { "Capacity: requested resources break ties",
          { { "m1" }, { "m2" } },
          { { "a.service", "cpu=500", NULL, "m1" },
            { "b.service", "mem=1G", NULL, "m2" },
            { "c.service", "", NULL, "m2" } } },
        /* c finds m1 and m2 equal in units (one each) and cpu (none): only the memory a
         * requested on m1 sends it to m2 */
        { "Capacity: memory alone breaks a tie",
          { { "m1" }, { "m2" } },
          { { "a.service", "mem=1G", NULL, "m1" },
            { "b.service", "", NULL, "m2" },
            { "c.service", "", NULL, "m2" } } },

        /* Spreading */
        { "Spread: a template over 3 machines, then the 4th to the least loaded",
          { { "m1" }, { "m2" }, { "m3" } },
          { { "p.service", "", "m1", "m1" },
            { "q.service", "", "m1", "m1" },
            { "r.service", "", "m2", "m2" },
            { "web@1.service", "group=web@.service", NULL, "m3" },
            { "web@2.service", "group=web@.service", NULL, "m2" },
            { "web@3.service", "group=web@.service", NULL, "m1" },
            { "web@4.service", "group=web@.service", NULL, "m3" } } },
        { "Spread: stability beats spreading",
          { { "m1" }, { "m2" } },
          { { "web@1.service", "group=web@.service", "m1", "m1" },
            { "web@2.service", "group=web@.service", "m1", "m1" },
            { "web@3.service", "group=web@.service", NULL, "m2" },
            { "api@1.service", "group=api@.service", NULL, "m2" } } },

        /* Rebalance */
        { "Rebalance: 0/2/1 gives one back to the empty machine",
          { { "m1" }, { "m2" }, { "m3" } },
          { { "web@1.service", "group=web@.service app=settled", "m2", "m2^" },
            { "web@2.service", "group=web@.service app=settled", "m2", "m2" },
            { "web@3.service", "group=web@.service app=settled", "m3", "m3" },
            { "api@1.service", "group=api@.service app=settled", "m1", "m1" } } },
        { "Rebalance: the first one on the most loaded machine, one per group",
          { { "m1" }, { "m2" }, { "m3" } },
          { { "web@1.service", "group=web@.service app=settled", "m1", "m1" },
            { "web@2.service", "group=web@.service app=settled", "m3", "m3^" },
            { "web@3.service", "group=web@.service app=settled", "m3", "m3" },
            { "web@4.service", "group=web@.service app=settled", "m3", "m3" },
            { "web@5.service", "group=web@.service app=settled", "m2", "m2" },
            { "web@6.service", "group=web@.service app=settled", "m1", "m1" } } },
        { "Rebalance: 1/2 is as even as it gets",
          { { "m1" }, { "m2" } },
          { { "web@1.service", "group=web@.service app=settled", "m2", "m2" },
            { "web@2.service", "group=web@.service app=settled", "m2", "m2" },
            { "web@3.service", "group=web@.service app=settled", "m1", "m1" } } },
        { "Rebalance: not while a member is busy, nor with one on a draining machine",
          { { "m1" }, { "m2" }, { "m3" }, { "m4", NULL, true } },
          { { "web@1.service", "group=web@.service app=settled", "m2", "m2" },
            { "web@2.service", "group=web@.service app=settled", "m2", "m2" },
            { "web@3.service", "group=web@.service app=busy", "m3", "m3" },
            { "db@1.service", "group=db@.service app=settled", "m2", "m2" },
            { "db@2.service", "group=db@.service app=settled", "m2", "m2" },
            { "db@3.service", "group=db@.service app=settled", "m4", "m4" } } },
        { "Rebalance: only units of apps",
          { { "m1" }, { "m2" } },
          { { "web@1.service", "group=web@.service", "m2", "m2" },
            { "web@2.service", "group=web@.service", "m2", "m2" },
            { "web@3.service", "group=web@.service", "m2", "m2" } } },
        { "Rebalance: only machines a new instance may go to count",
          { { "m1", "role=x" }, { "m2", "role=web" }, { "m3", "role=web", false, "mem=1G" } },
          { { "a@1.service", "group=a@.service app=settled MachineMetadata=role=web", "m2", "m2" },
            { "a@2.service", "group=a@.service app=settled MachineMetadata=role=web", "m2", "m2" },
            { "a@3.service", "group=a@.service app=settled MachineMetadata=role=web", "m3", "m3" },
            { "b@1.service", "group=b@.service app=settled mem=2G", "m2", "m2" },
            { "b@2.service", "group=b@.service app=settled mem=2G", "m2", "m2" },
            { "b@3.service", "group=b@.service app=settled mem=2G", "m1", "m1" },
            { "c@1.service", "group=c@.service app=settled MachineID=m2", "m2", "m2" },
            { "c@2.service", "group=c@.service app=settled MachineID=m2", "m2", "m2" } } },
};

static uint64_t parse_size(const char *s) {
        char *end;
        uint64_t v = strtoull(s, &end, 10);

        switch (*end) {
        case 'K':
                return v << 10;
        case 'M':
                return v << 20;
        case 'G':
                return v << 30;
        default:
                return v;
        }
}

/* The units and machines of a case, owning what SchedUnit/SchedMachine point to. */
typedef struct Input {
        SchedMachine machines[MAX_MACHINES];
        MetadataPair *metadata[MAX_MACHINES];
        size_t n_machines;
        SchedUnit units[MAX_UNITS];
        char **options[MAX_UNITS];
        size_t n_units;
} Input;

static void input_done(Input *in) {
        for (size_t i = 0; i < in->n_machines; i++)
                metadata_free(in->metadata[i], in->machines[i].n_metadata);
        for (size_t i = 0; i < in->n_units; i++) {
                strv_free(in->units[i].machine_of);
                strv_free(in->units[i].machine_metadata);
                strv_free(in->units[i].conflicts);
                strv_free(in->units[i].replaces);
                strv_free(in->options[i]);
        }
        *in = (Input) {};
}

/* One "Key=value" of a test unit; the unit borrows from opt. */
static int unit_set(SchedUnit *u, char *opt) {
        char *v = strchr(opt, '=');

        if (!v)
                return -EINVAL;
        *v++ = 0;
        if (streq(opt, "MachineID"))
                u->machine_id = v;
        else if (streq(opt, "MachineOf"))
                return strv_extend(&u->machine_of, v);
        else if (streq(opt, "MachineMetadata"))
                return strv_extend(&u->machine_metadata, v);
        else if (streq(opt, "Conflicts"))
                return strv_extend(&u->conflicts, v);
        else if (streq(opt, "Replaces"))
                return strv_extend(&u->replaces, v);
        else if (streq(opt, "Global"))
                u->global = streq(v, "true");
        else if (streq(opt, "cpu"))
                u->cpu_millis = parse_size(v);
        else if (streq(opt, "mem"))
                u->memory_bytes = parse_size(v);
        else if (streq(opt, "group"))
                u->group = v;
        else if (streq(opt, "app")) {
                u->app_instance = true;
                u->settled = streq(v, "settled");
        }
        else
                return -EINVAL;
        return 0;
}

static int input_add_unit(Input *in, const TestUnit *t) {
        SchedUnit *u = in->units + in->n_units;
        char ***opts = in->options + in->n_units;
        int r;

        in->n_units++;
        *u = (SchedUnit) { .name = t->name, .current_machine = t->current };
        r = strv_split(t->options, " ", opts);
        if (r < 0)
                return r;
        STRV_FOREACH(o, *opts) {
                r = unit_set(u, *o);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int input_add_machine(Input *in, const TestMachine *t) {
        size_t i = in->n_machines++;
        _cleanup_strv_free_ char **caps = NULL;
        int r;

        in->machines[i] = (SchedMachine) { .id = t->id, .draining = t->draining, .drain_force = t->force };
        r = parse_metadata(t->metadata, &in->metadata[i], &in->machines[i].n_metadata);
        if (r < 0)
                return r;
        in->machines[i].metadata = in->metadata[i];
        r = strv_split(strempty(t->capacity), " ", &caps);
        if (r < 0)
                return r;
        STRV_FOREACH(c, caps) {
                if (startswith(*c, "cpu="))
                        in->machines[i].cpu_millis = parse_size(*c + 4);
                else if (startswith(*c, "mem="))
                        in->machines[i].memory_bytes = parse_size(*c + 4);
                else
                        return -EINVAL;
        }
        return 0;
}

static int input_build(const SchedCase *c, bool reverse, Input *in) {
        size_t n = 0;
        int r;

        while (n < MAX_MACHINES && c->machines[n].id)
                n++;
        for (size_t i = 0; i < n; i++) {
                r = input_add_machine(in, c->machines + (reverse ? n - 1 - i : i));
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < MAX_UNITS && c->units[i].name; i++) {
                r = input_add_unit(in, c->units + i);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* What the placement says, in the form of TestUnit.expect. */
static char *placement_format(const SchedPlacement *p) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        if (p->status == SCHED_UNSCHEDULABLE)
                fprintf(f, "!%s", p->reason);
        else if (p->status == SCHED_STUCK)
                fprintf(f, "~%s:%s", p->machine_id, p->reason);
        else if (p->status == SCHED_GLOBAL)
                for (size_t i = 0; i < p->n_machine_ids; i++)
                        fprintf(f, "%s%s", i ? "," : "", p->machine_ids[i]);
        else
                fprintf(f, "%s%s", p->machine_id, p->rebalance ? "^" : "");
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(buf);
}

static bool placement_matches(const SchedPlacement *p, const char *got, const char *expect) {
        if (expect[0] == '!')
                return p->status == SCHED_UNSCHEDULABLE && strstr(p->reason, expect + 1);
        if (expect[0] == '~') {
                const char *colon = strchr(expect, ':');
                size_t l = colon ? (size_t) (colon - expect - 1) : strlen(expect + 1);

                return p->status == SCHED_STUCK && strlen(p->machine_id) == l &&
                       strncmp(p->machine_id, expect + 1, l) == 0 && (!colon || strstr(p->reason, colon + 1));
        }
        if (strchr(expect, ',') || p->status == SCHED_GLOBAL)
                return p->status == SCHED_GLOBAL && streq(got, expect);
        return p->status == SCHED_PLACED && streq(got, expect);
}

static void run_case(const SchedCase *c, bool reverse) {
        _cleanup_(input_done) Input in = {};
        _cleanup_(sched_plan_freep) SchedPlan *plan = NULL;

        if (input_build(c, reverse, &in) < 0) {
                fprintf(stderr, "case \"%s\": bad test input\n", c->name);
                test_failures++;
                return;
        }
        if (sched_plan_compute(in.machines, in.n_machines, in.units, in.n_units, &plan) < 0 ||
            plan->n_placements != in.n_units) {
                fprintf(stderr, "case \"%s\": no plan\n", c->name);
                test_failures++;
                return;
        }
        for (size_t i = 0; i < in.n_units; i++) {
                const char *expect = c->units[i].expect;
                _cleanup_free_ char *got = placement_format(plan->placements + i);

                if (got && placement_matches(plan->placements + i, got, expect))
                        continue;
                fprintf(stderr, "case \"%s\"%s: %s: got \"%s\", expected \"%s\"\n", c->name,
                        reverse ? " (machines reversed)" : "", c->units[i].name, strna(got), expect);
                test_failures++;
        }
}

TEST(table) {
        for (size_t i = 0; i < ELEMENTSOF(sched_cases); i++) {
                int before = test_failures;

                run_case(sched_cases + i, false);
                run_case(sched_cases + i, true);
                printf("    %s %s\n", test_failures == before ? "ok  " : "FAIL", sched_cases[i].name);
        }
}

/* A bigger, mixed input from a fixed pseudo-random sequence. */
typedef struct Synthetic {
        SchedMachine *machines;
        MetadataPair *pairs;
        size_t n_machines;
        SchedUnit *units;
        char **names;                   /* owned strings the units point to */
        size_t n_units;
} Synthetic;

static void synthetic_done(Synthetic *s) {
        for (size_t i = 0; i < s->n_units; i++) {
                strv_free(s->units[i].machine_of);
                strv_free(s->units[i].machine_metadata);
                strv_free(s->units[i].conflicts);
                strv_free(s->units[i].replaces);
        }
        free(s->machines);
        free(s->pairs);
        free(s->units);
        strv_free(s->names);
        *s = (Synthetic) {};
}

static uint32_t lcg(uint32_t *state) {
        *state = *state * 1103515245u + 12345u;
        return *state >> 8;
}

static const char *synthetic_str(Synthetic *s, const char *format, size_t i) {
        char buf[64];

        snprintf(buf, sizeof(buf), format, i);
        if (strv_extend(&s->names, buf) < 0)
                return NULL;
        return s->names[strv_length(s->names) - 1];
}

static int synthetic_build(Synthetic *s, size_t n_machines, size_t n_units) {
        static const char *roles[] = { "role=web", "role=db", "role=worker" };
        static char role_key[] = "role";
        static char *role_values[] = { "web", "db", "worker" };
        uint32_t rnd = 42;
        int r = 0;

        s->machines = calloc(n_machines, sizeof(SchedMachine));
        s->pairs = calloc(n_machines, sizeof(MetadataPair));
        s->units = calloc(n_units, sizeof(SchedUnit));
        if (!s->machines || !s->pairs || !s->units)
                return -ENOMEM;
        for (size_t i = 0; i < n_machines; i++, s->n_machines++) {
                s->pairs[i] = (MetadataPair) { role_key, role_values[i % 3] };
                s->machines[i] = (SchedMachine) {
                        .id = synthetic_str(s, "machine-%02zu", i),
                        .metadata = s->pairs + i,
                        .n_metadata = 1,
                        .draining = i % 11 == 5,
                        .memory_bytes = i % 4 == 0 ? 0 : (uint64_t) 8 << 30,
                };
        }
        for (size_t i = 0; i < n_units; i++, s->n_units++) {
                SchedUnit *u = s->units + i;
                uint32_t k = lcg(&rnd) % 10;

                u->name = synthetic_str(s, "u%03zu.service", i);
                u->memory_bytes = (uint64_t) (lcg(&rnd) % 4) << 28;
                u->group = k < 4 ? synthetic_str(s, "g%zu", i % 5) : NULL;
                u->current_machine = lcg(&rnd) % 3 == 0 ? s->machines[lcg(&rnd) % n_machines].id : NULL;
                if (k == 4)
                        r = strv_extend(&u->machine_metadata, roles[lcg(&rnd) % 3]);
                else if (k == 5 && i > 0)
                        r = strv_extend(&u->machine_of, s->units[lcg(&rnd) % i].name);
                else if (k == 6)
                        r = strv_extend(&u->conflicts, "u1*.service");
                else if (k == 7 && i > 0)
                        r = strv_extend(&u->replaces, s->units[lcg(&rnd) % i].name);
                else if (k == 8)
                        u->global = lcg(&rnd) % 8 == 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool plans_equal(const SchedPlan *a, const SchedPlan *b) {
        if (a->n_placements != b->n_placements)
                return false;
        for (size_t i = 0; i < a->n_placements; i++) {
                _cleanup_free_ char *x = placement_format(a->placements + i);
                _cleanup_free_ char *y = placement_format(b->placements + i);

                if (!x || !y || !streq(x, y))
                        return false;
        }
        return true;
}

TEST(determinism) {
        _cleanup_(synthetic_done) Synthetic s = {};
        _cleanup_(sched_plan_freep) SchedPlan *a = NULL, *b = NULL, *c = NULL;
        size_t placed = 0;

        ASSERT_INT(synthetic_build(&s, 22, 400), 0);
        ASSERT_INT(sched_plan_compute(s.machines, s.n_machines, s.units, s.n_units, &a), 0);
        ASSERT_INT(sched_plan_compute(s.machines, s.n_machines, s.units, s.n_units, &b), 0);
        ASSERT_TRUE(plans_equal(a, b));

        /* the same machines in another order */
        for (size_t i = 0; i < s.n_machines / 2; i++) {
                SchedMachine t = s.machines[i];

                s.machines[i] = s.machines[s.n_machines - 1 - i];
                s.machines[s.n_machines - 1 - i] = t;
        }
        ASSERT_INT(sched_plan_compute(s.machines, s.n_machines, s.units, s.n_units, &c), 0);
        ASSERT_TRUE(plans_equal(a, c));

        for (size_t i = 0; i < a->n_placements; i++)
                placed += a->placements[i].status != SCHED_UNSCHEDULABLE;
        ASSERT_TRUE(placed > s.n_units / 2);
}

/* Planning the plan again, with every unit where the plan put it, moves nothing. */
TEST(plan_is_a_fixed_point) {
        _cleanup_(synthetic_done) Synthetic s = {};
        _cleanup_(sched_plan_freep) SchedPlan *a = NULL, *b = NULL;

        ASSERT_INT(synthetic_build(&s, 22, 400), 0);
        ASSERT_INT(sched_plan_compute(s.machines, s.n_machines, s.units, s.n_units, &a), 0);
        for (size_t i = 0; i < s.n_units; i++)
                s.units[i].current_machine = a->placements[i].status == SCHED_PLACED ? a->placements[i].machine_id
                                                                                     : NULL;
        ASSERT_INT(sched_plan_compute(s.machines, s.n_machines, s.units, s.n_units, &b), 0);
        for (size_t i = 0; i < s.n_units; i++)
                if (a->placements[i].status == SCHED_PLACED)
                        ASSERT_STR(b->placements[i].machine_id, a->placements[i].machine_id);
}

TEST(plan_borrows_machine_ids) {
        SchedMachine m[] = { { .id = "m1" }, { .id = "m2" } };
        SchedUnit u[] = { { .name = "a.service" }, { .name = "b.service", .global = true } };
        _cleanup_(sched_plan_freep) SchedPlan *plan = NULL;

        ASSERT_INT(sched_plan_compute(m, 2, u, 2, &plan), 0);
        ASSERT_INT(plan->placements[0].status, SCHED_PLACED);
        ASSERT_TRUE(plan->placements[0].machine_id == m[0].id);
        ASSERT_INT(plan->placements[1].status, SCHED_GLOBAL);
        ASSERT_INT(plan->placements[1].n_machine_ids, 2);
        ASSERT_TRUE(plan->placements[1].machine_ids[1] == m[1].id);
        ASSERT_STR(sched_status_to_string(plan->placements[1].status), "global");
}

/* A stuck unit's reason names its machine by name when it has one. */
TEST(stuck_names_the_host) {
        SchedMachine m[] = { { .id = "m1", .name = "host1", .draining = true }, { .id = "m2" } };
        SchedUnit u[] = { { .name = "a.service", .machine_id = "m1", .current_machine = "m1" } };
        _cleanup_(sched_plan_freep) SchedPlan *plan = NULL;

        ASSERT_INT(sched_plan_compute(m, 2, u, 1, &plan), 0);
        ASSERT_INT(plan->placements[0].status, SCHED_STUCK);
        ASSERT_TRUE(plan->placements[0].machine_id == m[0].id);
        ASSERT_STR(plan->placements[0].reason,
                   "cannot move off draining machine host1: its MachineID= is that machine");
        ASSERT_STR(sched_status_to_string(SCHED_STUCK), "stuck");
}

TEST(empty_inputs) {
        SchedUnit u[] = { { .name = "a.service" } };
        _cleanup_(sched_plan_freep) SchedPlan *none = NULL, *nowhere = NULL;

        ASSERT_INT(sched_plan_compute(NULL, 0, NULL, 0, &none), 0);
        ASSERT_INT(none->n_placements, 0);
        ASSERT_INT(sched_plan_compute(NULL, 0, u, 1, &nowhere), 0);
        ASSERT_INT(nowhere->placements[0].status, SCHED_UNSCHEDULABLE);
        ASSERT_CONTAINS(nowhere->placements[0].reason, "there are no machines");
}

TEST(bad_inputs) {
        SchedMachine m[] = { { .id = "m1" }, { .id = "m1" } };
        SchedUnit u[] = { { .name = "a.service" }, { .name = "a.service" } };
        SchedUnit nameless[] = { { .name = NULL } };
        SchedPlan *plan = NULL;

        ASSERT_INT(sched_plan_compute(m, 2, u, 1, &plan), -EINVAL);
        ASSERT_INT(sched_plan_compute(m, 1, u, 2, &plan), -EINVAL);
        ASSERT_INT(sched_plan_compute(m, 1, nameless, 1, &plan), -EINVAL);
        ASSERT_TRUE(plan == NULL);
        ASSERT_TRUE(sched_plan_free(NULL) == NULL);
}

TEST_MAIN(T(table), T(determinism), T(plan_is_a_fixed_point), T(plan_borrows_machine_ids), T(stuck_names_the_host),
          T(empty_inputs),
          T(bad_inputs))
