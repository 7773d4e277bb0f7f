/* SPDX-License-Identifier: Apache-2.0 */
/* bench-scheduler [-v] [machines [units]]: plans a synthetic cluster (default 1,000 machines,
 * 10,000 units with a mix of every [X-Fleet] option) three times: from scratch, again with every
 * unit where the first plan put it (nothing should move), and after 5% more machines start
 * draining. Prints one row per scenario; times are the median of 5 runs. With -v (first
 * argument), also prints why each unschedulable unit is. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "basic/strv.h"
#include "scheduler.h"

#define RUNS 5

typedef struct Cluster {
        SchedMachine *machines;
        MetadataPair *pairs;            /* 2 per machine: role, region */
        size_t n_machines;
        SchedUnit *units;
        size_t n_units;
        char **strings;                 /* every string the above point to */
} Cluster;

static void cluster_done(Cluster *c) {
        for (size_t i = 0; i < c->n_units; i++) {
                strv_free(c->units[i].machine_of);
                strv_free(c->units[i].machine_metadata);
                strv_free(c->units[i].conflicts);
                strv_free(c->units[i].replaces);
        }
        free(c->machines);
        free(c->pairs);
        free(c->units);
        strv_free(c->strings);
}

static uint64_t splitmix(uint64_t x) {
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

/* strv_push() would be quadratic over 30,000 strings: keep our own capacity. */
static size_t n_strings, allocated_strings;

static const char *keep(Cluster *c, char *s) {
        if (!s)
                abort();
        if (n_strings + 1 >= allocated_strings) {
                allocated_strings = MAX(allocated_strings * 2, (size_t) 1024);
                c->strings = reallocarray(c->strings, allocated_strings, sizeof(char *));
                if (!c->strings)
                        abort();
        }
        c->strings[n_strings++] = s;
        c->strings[n_strings] = NULL;
        return s;
}

static const char *fmt(Cluster *c, const char *format, ...) _printf_(2, 3);
static const char *fmt(Cluster *c, const char *format, ...) {
        va_list ap;
        char *s;

        va_start(ap, format);
        if (vasprintf(&s, format, ap) < 0)
                s = NULL;
        va_end(ap);
        return keep(c, s);
}

static void add(char ***l, const char *s) {
        if (strv_extend(l, s) < 0)
                abort();
}

static void build_machines(Cluster *c, size_t n) {
        static char role[] = "role", region[] = "region";
        static char *roles[] = { "web", "web", "web", "db", "worker" }, *regions[] = { "eu", "us" };

        c->machines = calloc(n, sizeof(SchedMachine));
        c->pairs = calloc(2 * n, sizeof(MetadataPair));
        if (!c->machines || !c->pairs)
                abort();
        for (size_t i = 0; i < n; i++) {
                c->pairs[2 * i] = (MetadataPair) { role, roles[i % 5] };
                c->pairs[2 * i + 1] = (MetadataPair) { region, regions[i % 2] };
                c->machines[i] = (SchedMachine) {
                        .id = fmt(c, "%016" PRIx64 "%016" PRIx64, splitmix(i), splitmix(i + n)),
                        .metadata = c->pairs + 2 * i,
                        .n_metadata = 2,
                        .draining = i % 100 == 99,
                        .cpu_millis = i % 20 == 0 ? 0 : 4000 * (1 + i % 4),
                        .memory_bytes = i % 20 == 0 ? 0 : (uint64_t) 8 << (30 + i % 4),
                };
        }
        c->n_machines = n;
}

static SchedUnit *next_unit(Cluster *c, const char *name) {
        SchedUnit *u = c->units + c->n_units++;

        u->name = name;
        return u;
}

/* Templates (spread, some with Conflicts on their own instances), plain services (metadata AND
 * and OR), MachineOf sidecars and chains, MachineID pins, Replaces, a few globals, and misc
 * units conflicting with a neighbour by exact name to fill up to n. */
static void build_units(Cluster *c, size_t n) {
        size_t n_svc = n * 3 / 10, n_templates = 50, per_template = n * 4 / 10 / 50;

        c->units = calloc(n, sizeof(SchedUnit));
        if (!c->units)
                abort();
        for (size_t i = 0; i < 10 && c->n_units < n; i++) {
                SchedUnit *u = next_unit(c, fmt(c, "global-%zu.service", i));

                u->global = true;
                u->cpu_millis = 50;
                u->memory_bytes = 64 << 20;
                if (i < 2)
                        add(&u->machine_metadata, "role=web");
        }
        for (size_t t = 0; t < n_templates; t++)
                for (size_t k = 0; k < per_template && c->n_units < n; k++) {
                        SchedUnit *u = next_unit(c, fmt(c, "app%02zu@%zu.service", t, k));

                        u->group = fmt(c, "app%02zu@.service", t);
                        u->cpu_millis = 250;
                        u->memory_bytes = 256 << 20;
                        if (t % 2 == 0)
                                add(&u->machine_metadata, "role=web");
                        if (t % 5 == 0)
                                add(&u->conflicts, fmt(c, "app%02zu@*.service", t));
                }
        for (size_t i = 0; i < n_svc && c->n_units < n; i++) {
                SchedUnit *u = next_unit(c, fmt(c, "svc-%04zu.service", i));

                u->cpu_millis = 100 * (1 + i % 10);
                u->memory_bytes = (uint64_t) (128 << 20) * (1 + i % 8);
                if (i % 3 == 0)
                        add(&u->machine_metadata, "region=eu");
                if (i % 6 == 1) {
                        add(&u->machine_metadata, "role=db");
                        add(&u->machine_metadata, "role=worker");
                }
        }
        for (size_t i = 0; i < n * 15 / 100 && c->n_units < n; i++)
                add(&next_unit(c, fmt(c, "side-%04zu.service", i))->machine_of,
                    fmt(c, "svc-%04zu.service", i % n_svc));
        for (size_t i = 0; i < n * 3 / 100 && c->n_units < n; i++)
                next_unit(c, fmt(c, "pin-%04zu.service", i))->machine_id = c->machines[i * 7 % c->n_machines].id;
        for (size_t i = 0; i < n * 3 / 100 && c->n_units < n; i++)
                add(&next_unit(c, fmt(c, "new-%04zu.service", i))->replaces,
                    fmt(c, "svc-%04zu.service", i * 7 % n_svc));
        for (size_t i = 0; i < n / 100 && c->n_units < n; i++) {
                SchedUnit *u = next_unit(c, fmt(c, "chain-%02zu-%zu.service", i / 5, i % 5));

                if (i % 5 > 0)
                        add(&u->machine_of, fmt(c, "chain-%02zu-%zu.service", i / 5, i % 5 - 1));
        }
        for (size_t i = 0; c->n_units < n; i++)
                add(&next_unit(c, fmt(c, "misc-%04zu.service", i))->conflicts,
                    fmt(c, "misc-%04zu.service", i + 1));
}

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

/* Plans RUNS times; returns the last plan and the median time. */
static SchedPlan *plan_timed(const Cluster *c, double *ret_ms) {
        double ms[RUNS];
        SchedPlan *plan = NULL;

        for (size_t r = 0; r < RUNS; r++) {
                double t0 = now_ms();

                sched_plan_free(plan);
                plan = NULL;
                if (sched_plan_compute(c->machines, c->n_machines, c->units, c->n_units, &plan) < 0)
                        abort();
                ms[r] = now_ms() - t0;
        }
        qsort(ms, RUNS, sizeof(double), cmp_double);
        *ret_ms = ms[RUNS / 2];
        return plan;
}

static size_t machine_index(const Cluster *c, const char *id) {
        for (size_t i = 0; i < c->n_machines; i++)
                if (c->machines[i].id == id)
                        return i;
        abort();
}

static bool arg_verbose;

static void report(const char *scenario, const Cluster *c, const SchedPlan *plan, double ms) {
        _cleanup_free_ size_t *count = calloc(c->n_machines, sizeof(size_t));
        size_t unschedulable = 0, moved = 0, lo = SIZE_MAX, hi = 0;

        if (!count)
                abort();
        for (size_t i = 0; i < plan->n_placements; i++) {
                const SchedPlacement *p = plan->placements + i;

                if (p->status == SCHED_UNSCHEDULABLE) {
                        unschedulable++;
                        if (arg_verbose)
                                fprintf(stderr, "%s: %s: %s\n", scenario, c->units[i].name, p->reason);
                }
                if (p->status != SCHED_PLACED)
                        continue;
                count[machine_index(c, p->machine_id)]++;
                moved += c->units[i].current_machine && !streq(c->units[i].current_machine, p->machine_id);
        }
        for (size_t i = 0; i < c->n_machines; i++)
                if (!c->machines[i].draining) {
                        lo = MIN(lo, count[i]);
                        hi = MAX(hi, count[i]);
                }
        printf("| %-12s | %6zu | %8zu | %12.1f | %12.0f | %10zu | %10zu | %13zu | %5zu |\n", scenario, c->n_units,
               c->n_machines, ms, c->n_units / (ms / 1e3), hi, lo, unschedulable, moved);
}

int main(int argc, char *argv[]) {
        _cleanup_(cluster_done) Cluster c = {};
        if (argc > 1 && streq(argv[1], "-v")) {
                arg_verbose = true;
                argc--;
                argv++;
        }
        size_t n_machines = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
        size_t n_units = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
        SchedPlan *plan;
        double ms;

        if (n_machines == 0 || n_units < 100) {
                fprintf(stderr, "usage: bench-scheduler [-v] [machines>0 [units>=100]]\n");
                return EXIT_FAILURE;
        }
        build_machines(&c, n_machines);
        build_units(&c, n_units);

        printf("| scenario     |  units | machines | plan ms (p50)| placements/s | max/machine | min/machine "
               "| unschedulable | moved |\n");
        printf("|--------------|--------|----------|--------------|--------------|------------|------------"
               "|---------------|-------|\n");

        plan = plan_timed(&c, &ms);
        report("fresh", &c, plan, ms);

        for (size_t i = 0; i < c.n_units; i++)
                c.units[i].current_machine =
                        plan->placements[i].status == SCHED_PLACED ? plan->placements[i].machine_id : NULL;
        sched_plan_free(plan);
        plan = plan_timed(&c, &ms);
        report("steady", &c, plan, ms);
        sched_plan_free(plan);

        for (size_t i = 0; i < c.n_machines; i += 20)
                c.machines[i + 3 < c.n_machines ? i + 3 : i].draining = true;
        plan = plan_timed(&c, &ms);
        report("drain +5%", &c, plan, ms);
        sched_plan_free(plan);
        return EXIT_SUCCESS;
}
