/* SPDX-License-Identifier: Apache-2.0 */
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "basic/strv.h"
#include "scheduler.h"

/* Inside, machines are "hosts", numbered in the order of their ids, so that scanning them in
 * index order breaks the last tie by id for free; units are "jobs", numbered as passed in.
 * Everything that would otherwise be a per-unit search over all units is indexed once:
 * names (sorted, for MachineOf/Replaces and glob prefixes), groups, MachineMetadata sets
 * (one host bitmap per distinct list), and Conflicts globs (each distinct glob matched once
 * against the names). Per-unit questions about hosts (is it excluded here, how many of my
 * group are there) are answered from scratch fields on the hosts that are valid only while
 * their stamp equals Sched.stamp, so "clearing" them is one increment. */

#define NONE SIZE_MAX

typedef struct IdxVec {
        size_t *v;
        size_t n;
        size_t allocated;
} IdxVec;

static int idx_vec_push(IdxVec *x, size_t i) {
        if (x->n == x->allocated) {
                size_t a = MAX(x->allocated * 2, (size_t) 4);
                size_t *t = reallocarray(x->v, a, sizeof(size_t));
                if (!t)
                        return -ENOMEM;
                x->v = t;
                x->allocated = a;
        }
        x->v[x->n++] = i;
        return 0;
}

static void idx_vec_done(IdxVec *x) {
        free(x->v);
        *x = (IdxVec) {};
}

/* The checks a host must pass, in the order they are made. When no host passes, the furthest
 * check any host got to names the reason. */
typedef enum Check {
        CHECK_MACHINE_ID,
        CHECK_MACHINE_OF,
        CHECK_METADATA,
        CHECK_DRAINING,
        CHECK_EXCLUSION,
        CHECK_CAPACITY,
        CHECK_OK,
} Check;

/* Why a host is excluded, seen from the unit being placed. */
typedef enum Relation {
        REL_CONFLICTS,
        REL_REPLACES,
        REL_REPLACED_BY,
} Relation;

typedef struct Host {
        const SchedMachine *machine;
        /* Copied from the machine: the scan over all hosts reads nothing else. */
        bool draining;
        bool drain_force;
        uint64_t cpu_capacity;
        uint64_t memory_capacity;
        size_t n_units;                 /* non-global units planned here */
        uint64_t cpu_used;              /* all units planned here, globals included */
        uint64_t memory_used;
        /* Scratch for the job being planned, valid while the stamp equals Sched.stamp. */
        uint64_t forbid_stamp;
        size_t forbid_by;
        Relation forbid_rel;
        uint64_t group_stamp;
        size_t group_count;
} Host;

typedef enum JobState {
        JOB_PENDING,
        JOB_PLACED,
        JOB_UNSCHEDULABLE,
} JobState;

enum {
        COLOR_WHITE,
        COLOR_GREY,
        COLOR_BLACK,
};

typedef struct Job {
        const SchedUnit *unit;
        JobState state;
        size_t host;                    /* placed, non-global */
        uint8_t *on;                    /* placed, global: on[h] */
        IdxVec on_hosts;                /* placed, global: the same as a list, ascending */
        char *reason;                   /* unschedulable */
        bool kept;                      /* placed by pass 1, on its current machine */
        bool stuck;                     /* placed on its draining current machine, which it cannot leave */
        bool rebalance;                 /* replacing it evens out its group */
        bool cycle;                     /* on a MachineOf cycle */
        size_t pin;                     /* MachineID= as a host, or NONE */
        size_t current;                 /* current_machine as a host, or NONE */
        size_t meta;                    /* index into Sched.metas, or NONE */
        size_t group;                   /* group number, or NONE */
        IdxVec of;                      /* MachineOf=, one per entry, the job or NONE if unknown */
        IdxVec replaces;                /* jobs this one replaces */
        IdxVec replacers;               /* jobs that replace this one */
        IdxVec globs;                   /* its Conflicts=, as glob numbers */
        IdxVec matched_by;              /* globs that match its name */
        uint8_t color;                  /* ordering */
        size_t stack_pos;
} Job;

typedef struct Glob {
        const char *pattern;
        IdxVec owners;                  /* jobs that list it */
        IdxVec matches;                 /* jobs whose name it matches */
} Glob;

/* One distinct MachineMetadata= list. */
typedef struct MetaSet {
        char **req;                     /* borrowed from the first unit with this list */
        const char *bad;                /* the first entry that is not k=v, or NULL */
        char *desc;                     /* "role=db and region=eu", for messages */
        uint8_t *ok;                    /* ok[h] */
} MetaSet;

typedef struct Sched {
        Host *hosts;
        size_t n_hosts;
        Job *jobs;
        size_t n_jobs;
        size_t *by_name;                /* jobs sorted by name */
        Glob *globs;
        size_t n_globs;
        MetaSet *metas;
        size_t n_metas;
        IdxVec *group_hosts;            /* per group: the host of each placed member */
        size_t n_groups;
        size_t *order;                  /* non-global jobs, dependencies first */
        size_t n_order;
        uint64_t stamp;
} Sched;

static void sched_done(Sched *s) {
        for (size_t j = 0; j < s->n_jobs; j++) {
                Job *job = s->jobs + j;

                free(job->on);
                idx_vec_done(&job->on_hosts);
                free(job->reason);
                idx_vec_done(&job->of);
                idx_vec_done(&job->replaces);
                idx_vec_done(&job->replacers);
                idx_vec_done(&job->globs);
                idx_vec_done(&job->matched_by);
        }
        for (size_t g = 0; g < s->n_globs; g++) {
                idx_vec_done(&s->globs[g].owners);
                idx_vec_done(&s->globs[g].matches);
        }
        for (size_t m = 0; m < s->n_metas; m++) {
                free(s->metas[m].desc);
                free(s->metas[m].ok);
        }
        for (size_t g = 0; g < s->n_groups; g++)
                idx_vec_done(&s->group_hosts[g]);
        free(s->hosts);
        free(s->jobs);
        free(s->by_name);
        free(s->globs);
        free(s->metas);
        free(s->group_hosts);
        free(s->order);
}

static const char *job_name(const Sched *s, size_t j) {
        return s->jobs[j].unit->name;
}

static const char *host_id(const Sched *s, size_t h) {
        return s->hosts[h].machine->id;
}

static const char *host_name(const Sched *s, size_t h) {
        return s->hosts[h].machine->name ?: host_id(s, h);
}

/* ---- lookups ---------------------------------------------------------------------------- */

static size_t host_find(const Sched *s, const char *id) {
        size_t lo = 0, hi = s->n_hosts;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(host_id(s, mid), id);

                if (c == 0)
                        return mid;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NONE;
}

/* The first position in by_name whose name is >= key. */
static size_t name_lower_bound(const Sched *s, const char *key) {
        size_t lo = 0, hi = s->n_jobs;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (strcmp(job_name(s, s->by_name[mid]), key) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static size_t job_find(const Sched *s, const char *name) {
        size_t i = name_lower_bound(s, name);

        if (i < s->n_jobs && streq(job_name(s, s->by_name[i]), name))
                return s->by_name[i];
        return NONE;
}

/* ---- indexing ------------------------------------------------------------------------------ */

static int cmp_host_id(const void *a, const void *b) {
        return strcmp(((const Host *) a)->machine->id, ((const Host *) b)->machine->id);
}

static int sched_index_hosts(Sched *s, const SchedMachine *machines, size_t n_machines) {
        s->n_hosts = n_machines;
        s->hosts = calloc(MAX(n_machines, (size_t) 1), sizeof(Host));
        if (!s->hosts)
                return -ENOMEM;
        for (size_t i = 0; i < n_machines; i++) {
                if (!machines[i].id)
                        return -EINVAL;
                s->hosts[i] = (Host) {
                        .machine = machines + i,
                        .draining = machines[i].draining,
                        .drain_force = machines[i].drain_force,
                        .cpu_capacity = machines[i].cpu_millis,
                        .memory_capacity = machines[i].memory_bytes,
                };
        }
        qsort(s->hosts, n_machines, sizeof(Host), cmp_host_id);
        for (size_t h = 1; h < n_machines; h++)
                if (streq(host_id(s, h - 1), host_id(s, h)))
                        return -EINVAL;
        return 0;
}

static int cmp_job_name(const void *a, const void *b, void *userdata) {
        const Sched *s = userdata;

        return strcmp(job_name(s, *(const size_t *) a), job_name(s, *(const size_t *) b));
}

static int sched_index_jobs(Sched *s, const SchedUnit *units, size_t n_units) {
        s->n_jobs = n_units;
        s->jobs = calloc(MAX(n_units, (size_t) 1), sizeof(Job));
        s->by_name = calloc(MAX(n_units, (size_t) 1), sizeof(size_t));
        if (!s->jobs || !s->by_name)
                return -ENOMEM;
        for (size_t j = 0; j < n_units; j++) {
                if (!units[j].name)
                        return -EINVAL;
                s->jobs[j] = (Job) {
                        .unit = units + j,
                        .host = NONE,
                        .pin = NONE,
                        .current = NONE,
                        .meta = NONE,
                        .group = NONE,
                };
                s->by_name[j] = j;
        }
        qsort_r(s->by_name, n_units, sizeof(size_t), cmp_job_name, s);
        for (size_t i = 1; i < n_units; i++)
                if (streq(job_name(s, s->by_name[i - 1]), job_name(s, s->by_name[i])))
                        return -EINVAL;
        return 0;
}

/* MachineID=, current_machine, MachineOf=, Replaces= as numbers. */
static int sched_resolve_names(Sched *s) {
        int r;

        for (size_t j = 0; j < s->n_jobs; j++) {
                Job *job = s->jobs + j;
                const SchedUnit *u = job->unit;

                if (u->machine_id)
                        job->pin = host_find(s, u->machine_id);
                if (u->current_machine)
                        job->current = host_find(s, u->current_machine);
                STRV_FOREACH(t, u->machine_of) {
                        r = idx_vec_push(&job->of, job_find(s, *t));
                        if (r < 0)
                                return r;
                }
                STRV_FOREACH(t, u->replaces) {
                        size_t v = job_find(s, *t);

                        if (v == NONE || v == j)
                                continue;
                        r = idx_vec_push(&job->replaces, v);
                        if (r < 0)
                                return r;
                        r = idx_vec_push(&s->jobs[v].replacers, j);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int cmp_job_group(const void *a, const void *b, void *userdata) {
        const Sched *s = userdata;

        return strcmp(s->jobs[*(const size_t *) a].unit->group, s->jobs[*(const size_t *) b].unit->group);
}

/* Global units are not spread, so they get no group. */
static int sched_index_groups(Sched *s) {
        _cleanup_free_ size_t *v = calloc(MAX(s->n_jobs, (size_t) 1), sizeof(size_t));
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        for (size_t j = 0; j < s->n_jobs; j++)
                if (s->jobs[j].unit->group && !s->jobs[j].unit->global)
                        v[n++] = j;
        qsort_r(v, n, sizeof(size_t), cmp_job_group, s);
        for (size_t i = 0; i < n; i++) {
                if (i == 0 || cmp_job_group(v + i - 1, v + i, s) != 0)
                        s->n_groups++;
                s->jobs[v[i]].group = s->n_groups - 1;
        }
        s->group_hosts = calloc(MAX(s->n_groups, (size_t) 1), sizeof(IdxVec));
        return s->group_hosts ? 0 : -ENOMEM;
}

static int strv_cmp(char * const *a, char * const *b) {
        for (;; a++, b++) {
                if (!*a || !*b)
                        return (*a != NULL) - (*b != NULL);
                int c = strcmp(*a, *b);
                if (c != 0)
                        return c;
        }
}

static int cmp_job_meta(const void *a, const void *b, void *userdata) {
        const Sched *s = userdata;

        return strv_cmp(s->jobs[*(const size_t *) a].unit->machine_metadata,
                        s->jobs[*(const size_t *) b].unit->machine_metadata);
}

static size_t key_len(const char *req) {
        return strchr(req, '=') - req;
}

static bool same_key(const char *a, const char *b) {
        size_t l = key_len(a);

        return l == key_len(b) && strncmp(a, b, l) == 0;
}

/* Is this the first requirement in req naming its key? Keys are judged there, once. */
static bool key_first(char * const *req, char * const *r) {
        for (char * const *q = req; q < r; q++)
                if (same_key(*q, *r))
                        return false;
        return true;
}

static bool machine_has(const SchedMachine *m, const char *req) {
        size_t l = key_len(req);

        for (size_t i = 0; i < m->n_metadata; i++)
                if (strlen(m->metadata[i].key) == l && strncmp(m->metadata[i].key, req, l) == 0 &&
                    streq(m->metadata[i].value, req + l + 1))
                        return true;
        return false;
}

/* Keys AND, the values listed for one key OR. */
static bool metadata_matches(char * const *req, const SchedMachine *m) {
        STRV_FOREACH(r, req) {
                bool any = false;

                if (!key_first(req, r))
                        continue;
                for (char * const *q = r; *q && !any; q++)
                        any = same_key(*q, *r) && machine_has(m, *q);
                if (!any)
                        return false;
        }
        return true;
}

/* "role=db", "role=db or role=web", "(role=db or role=web) and region=eu". */
static int metadata_describe(char * const *req, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, n_keys = 0;
        FILE *f;

        STRV_FOREACH(r, req)
                n_keys += key_first(req, r);
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        STRV_FOREACH(r, req) {
                size_t n_values = 0;

                if (!key_first(req, r))
                        continue;
                for (char * const *q = r; *q; q++)
                        n_values += same_key(*q, *r);
                fputs(r == req ? "" : " and ", f);
                fputs(n_keys > 1 && n_values > 1 ? "(" : "", f);
                for (char * const *q = r; *q; q++)
                        if (same_key(*q, *r))
                                fprintf(f, "%s%s", q == r ? "" : " or ", *q);
                fputs(n_keys > 1 && n_values > 1 ? ")" : "", f);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int meta_set_init(Sched *s, MetaSet *m, char **req) {
        int r;

        m->req = req;
        STRV_FOREACH(q, req) {
                const char *eq = strchr(*q, '=');

                if (!eq || eq == *q) {
                        m->bad = *q;
                        return 0;
                }
        }
        r = metadata_describe(req, &m->desc);
        if (r < 0)
                return r;
        m->ok = calloc(MAX(s->n_hosts, (size_t) 1), 1);
        if (!m->ok)
                return -ENOMEM;
        for (size_t h = 0; h < s->n_hosts; h++)
                m->ok[h] = metadata_matches(req, s->hosts[h].machine);
        return 0;
}

/* Units with the same MachineMetadata= list (e.g. every instance of a template) share one
 * host bitmap, computed once. */
static int sched_index_metadata(Sched *s) {
        _cleanup_free_ size_t *v = calloc(MAX(s->n_jobs, (size_t) 1), sizeof(size_t));
        size_t n = 0;
        int r;

        if (!v)
                return -ENOMEM;
        for (size_t j = 0; j < s->n_jobs; j++)
                if (s->jobs[j].unit->machine_metadata && s->jobs[j].unit->machine_metadata[0])
                        v[n++] = j;
        qsort_r(v, n, sizeof(size_t), cmp_job_meta, s);
        s->metas = calloc(MAX(n, (size_t) 1), sizeof(MetaSet));
        if (!s->metas)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (i == 0 || cmp_job_meta(v + i - 1, v + i, s) != 0) {
                        r = meta_set_init(s, s->metas + s->n_metas++, s->jobs[v[i]].unit->machine_metadata);
                        if (r < 0)
                                return r;
                }
                s->jobs[v[i]].meta = s->n_metas - 1;
        }
        return 0;
}

typedef struct GlobRef {
        const char *pattern;
        size_t owner;
} GlobRef;

static int cmp_glob_ref(const void *a, const void *b) {
        const GlobRef *x = a, *y = b;
        int c = strcmp(x->pattern, y->pattern);

        if (c != 0)
                return c;
        return x->owner < y->owner ? -1 : x->owner > y->owner;
}

/* Only names starting with the glob's literal prefix can match: look at that range of the
 * sorted names only. A glob without wildcards is a plain lookup. */
static int glob_match(Sched *s, size_t g) {
        Glob *glob = s->globs + g;
        size_t plen = strcspn(glob->pattern, "*?[\\");
        int r;

        if (glob->pattern[plen] == 0) {
                size_t j = job_find(s, glob->pattern);

                return j == NONE ? 0 : idx_vec_push(&glob->matches, j);
        }

        _cleanup_free_ char *prefix = strndup(glob->pattern, plen);
        if (!prefix)
                return -ENOMEM;
        for (size_t i = name_lower_bound(s, prefix); i < s->n_jobs; i++) {
                const char *name = job_name(s, s->by_name[i]);

                if (!startswith(name, prefix))
                        break;
                if (fnmatch(glob->pattern, name, 0) != 0)
                        continue;
                r = idx_vec_push(&glob->matches, s->by_name[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int sched_index_globs(Sched *s) {
        _cleanup_free_ GlobRef *refs = NULL;
        size_t n = 0, k = 0;
        int r;

        for (size_t j = 0; j < s->n_jobs; j++)
                n += strv_length(s->jobs[j].unit->conflicts);
        refs = calloc(MAX(n, (size_t) 1), sizeof(GlobRef));
        s->globs = calloc(MAX(n, (size_t) 1), sizeof(Glob));
        if (!refs || !s->globs)
                return -ENOMEM;
        for (size_t j = 0; j < s->n_jobs; j++)
                STRV_FOREACH(p, s->jobs[j].unit->conflicts)
                        refs[k++] = (GlobRef) { .pattern = *p, .owner = j };
        qsort(refs, n, sizeof(GlobRef), cmp_glob_ref);

        for (size_t i = 0; i < n; i++) {
                if (i == 0 || !streq(refs[i - 1].pattern, refs[i].pattern))
                        s->globs[s->n_globs++].pattern = refs[i].pattern;
                r = idx_vec_push(&s->globs[s->n_globs - 1].owners, refs[i].owner);
                if (r < 0)
                        return r;
                r = idx_vec_push(&s->jobs[refs[i].owner].globs, s->n_globs - 1);
                if (r < 0)
                        return r;
        }

        for (size_t g = 0; g < s->n_globs; g++) {
                r = glob_match(s, g);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < s->globs[g].matches.n; i++) {
                        r = idx_vec_push(&s->jobs[s->globs[g].matches.v[i]].matched_by, g);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- order ---------------------------------------------------------------------------------- */

typedef struct Frame {
        size_t job;
        size_t edge;
} Frame;

/* The jobs job j must come after: its MachineOf targets (hard: it cannot be placed before
 * them) and, with soft, the jobs that replace it (so that they can take its machine first).
 * Global jobs are planned before all others and are never edges. Returns the job for edge e,
 * NONE to skip that edge. */
static size_t job_dep(const Sched *s, size_t j, size_t e, bool soft) {
        const Job *job = s->jobs + j;
        size_t d;

        if (e < job->of.n)
                d = job->of.v[e];
        else if (soft)
                d = job->replacers.v[e - job->of.n];
        else
                return NONE;
        if (d == NONE || s->jobs[d].unit->global || (soft && s->jobs[d].cycle))
                return NONE;
        return d;
}

static size_t job_n_deps(const Sched *s, size_t j, bool soft) {
        return s->jobs[j].of.n + (soft ? s->jobs[j].replacers.n : 0);
}

/* "MachineOf cycle: a.service -> b.service -> a.service", starting at position at of cyc. */
static int cycle_describe(const Sched *s, const Frame *cyc, size_t n, size_t at, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, shown = n > 5 ? 4 : n;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fputs("MachineOf cycle", f);
        if (shown < n)
                fprintf(f, " of %zu units", n);
        fputs(":", f);
        for (size_t i = 0; i < shown; i++)
                fprintf(f, " %s ->", job_name(s, cyc[(at + i) % n].job));
        fprintf(f, "%s %s", shown < n ? " ... ->" : "", job_name(s, cyc[at].job));
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* stack[from..n) is a cycle: stack[i] follows stack[i + 1], the last follows stack[from]. */
static int mark_cycle(Sched *s, const Frame *stack, size_t from, size_t n) {
        for (size_t i = from; i < n; i++) {
                Job *job = s->jobs + stack[i].job;
                int r;

                if (job->cycle)
                        continue;
                r = cycle_describe(s, stack + from, n - from, i - from, &job->reason);
                if (r < 0)
                        return r;
                job->cycle = true;
                job->state = JOB_UNSCHEDULABLE;
        }
        return 0;
}

/* Depth first over the dependencies, from each job in input order. Without soft, it only finds
 * MachineOf cycles: a back edge closes one, and every cycle has at least one node where it is
 * closed, so once those are marked no MachineOf cycle is left among the other jobs. With soft,
 * it writes the post-order into Sched.order, jobs on cycles left out; a back edge there is a
 * cycle through a Replaces edge, which is simply not followed. */
static int sched_dfs(Sched *s, bool soft) {
        _cleanup_free_ Frame *stack = calloc(MAX(s->n_jobs, (size_t) 1), sizeof(Frame));
        size_t n = 0;
        int r;

        if (!stack)
                return -ENOMEM;
        for (size_t j = 0; j < s->n_jobs; j++)
                s->jobs[j].color = COLOR_WHITE;

        for (size_t root = 0; root < s->n_jobs; root++) {
                if (s->jobs[root].unit->global || s->jobs[root].color != COLOR_WHITE ||
                    (soft && s->jobs[root].cycle))
                        continue;
                stack[n++] = (Frame) { .job = root };
                s->jobs[root].color = COLOR_GREY;
                s->jobs[root].stack_pos = 0;

                while (n > 0) {
                        Frame *f = stack + n - 1;
                        size_t d;

                        if (f->edge == job_n_deps(s, f->job, soft)) {
                                s->jobs[f->job].color = COLOR_BLACK;
                                if (soft)
                                        s->order[s->n_order++] = f->job;
                                n--;
                                continue;
                        }
                        d = job_dep(s, f->job, f->edge++, soft);
                        if (d == NONE)
                                continue;
                        if (s->jobs[d].color == COLOR_WHITE) {
                                s->jobs[d].color = COLOR_GREY;
                                s->jobs[d].stack_pos = n;
                                stack[n++] = (Frame) { .job = d };
                        } else if (s->jobs[d].color == COLOR_GREY && !soft) {
                                r = mark_cycle(s, stack, s->jobs[d].stack_pos, n);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        return 0;
}

static int sched_order(Sched *s) {
        int r;

        s->order = calloc(MAX(s->n_jobs, (size_t) 1), sizeof(size_t));
        if (!s->order)
                return -ENOMEM;
        r = sched_dfs(s, false);
        if (r < 0)
                return r;
        return sched_dfs(s, true);
}

/* ---- checks -------------------------------------------------------------------------------- */

static int job_fail(Job *job, const char *format, ...) _printf_(2, 3);
static int job_fail(Job *job, const char *format, ...) {
        va_list ap;
        char *m;
        int r;

        va_start(ap, format);
        r = vasprintf(&m, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        free(job->reason);
        job->reason = m;
        job->state = JOB_UNSCHEDULABLE;
        return 0;
}

static void host_forbid(Sched *s, size_t h, size_t by, Relation rel) {
        Host *host = s->hosts + h;

        if (host->forbid_stamp == s->stamp)
                return;
        host->forbid_stamp = s->stamp;
        host->forbid_by = by;
        host->forbid_rel = rel;
}

static void job_forbid_partner(Sched *s, size_t j, size_t v, Relation rel) {
        const Job *partner = s->jobs + v;

        if (v == j || partner->state != JOB_PLACED)
                return;
        if (partner->on)
                for (size_t i = 0; i < partner->on_hosts.n; i++)
                        host_forbid(s, partner->on_hosts.v[i], v, rel);
        else
                host_forbid(s, partner->host, v, rel);
}

/* Marks the hosts of every placed unit that job j must not share a host with, in both
 * directions of Conflicts= and Replaces=. */
static void job_mark_exclusions(Sched *s, size_t j) {
        const Job *job = s->jobs + j;

        for (size_t i = 0; i < job->globs.n; i++) {
                const Glob *g = s->globs + job->globs.v[i];

                for (size_t k = 0; k < g->matches.n; k++)
                        job_forbid_partner(s, j, g->matches.v[k], REL_CONFLICTS);
        }
        for (size_t i = 0; i < job->matched_by.n; i++) {
                const Glob *g = s->globs + job->matched_by.v[i];

                for (size_t k = 0; k < g->owners.n; k++)
                        job_forbid_partner(s, j, g->owners.v[k], REL_CONFLICTS);
        }
        for (size_t i = 0; i < job->replaces.n; i++)
                job_forbid_partner(s, j, job->replaces.v[i], REL_REPLACES);
        for (size_t i = 0; i < job->replacers.n; i++)
                job_forbid_partner(s, j, job->replacers.v[i], REL_REPLACED_BY);
}

/* What job j may be placed on, once its MachineID= and MachineOf= are resolved. */
typedef struct Prep {
        size_t only;                    /* the single candidate host, or NONE: any */
        const char *only_of;            /* the MachineOf= target that chose only, if one did */
        const char *global_of;          /* the first MachineOf= target that is a global unit */
        bool drain_ok;                  /* draining hosts pass (global units; units staying put) */
} Prep;

#define FAIL(...) return explain ? job_fail(job, __VA_ARGS__) : 0

/* Every MachineOf= target must be placed; the non-global ones all on one host, which becomes
 * the only candidate. Returns 1, or 0/-ENOMEM as job_prepare(). */
static int job_resolve_machine_of(Sched *s, size_t j, bool explain, Prep *p) {
        Job *job = s->jobs + j;
        char **names = job->unit->machine_of;

        for (size_t i = 0; i < job->of.n; i++) {
                const Job *t = job->of.v[i] == NONE ? NULL : s->jobs + job->of.v[i];

                if (!t || t->state != JOB_PLACED)
                        FAIL("MachineOf=%s, which is not placed", names[i]);
                if (t->unit->global)
                        p->global_of = p->global_of ?: names[i];
                else if (!p->only_of) {
                        p->only = t->host;
                        p->only_of = names[i];
                } else if (p->only != t->host)
                        FAIL("MachineOf=%s and MachineOf=%s are on different machines", p->only_of, names[i]);
        }
        return 1;
}

/* Resolves what does not depend on the host and marks the excluded hosts. Returns 1 if hosts
 * are worth checking; 0 if not, with the job made unschedulable when explain is set; or
 * -ENOMEM. Global units ignore MachineOf=. */
static int job_prepare(Sched *s, size_t j, bool explain, Prep *ret) {
        Job *job = s->jobs + j;
        const SchedUnit *u = job->unit;
        Prep p = { .only = NONE };
        int r;

        if (job->meta != NONE && s->metas[job->meta].bad)
                FAIL("MachineMetadata=%s is not key=value", s->metas[job->meta].bad);
        if (u->machine_id && job->pin == NONE)
                FAIL("MachineID=%s is not a known machine", u->machine_id);
        if (!u->global) {
                r = job_resolve_machine_of(s, j, explain, &p);
                if (r <= 0)
                        return r;
        }
        if (job->pin != NONE && p.only_of && p.only != job->pin)
                FAIL("MachineOf=%s is on machine %s, not on MachineID=%s", p.only_of, host_id(s, p.only),
                     u->machine_id);
        if (job->pin != NONE)
                p.only = job->pin;
        if (s->n_hosts == 0)
                FAIL("there are no machines");

        s->stamp++;
        job_mark_exclusions(s, j);
        *ret = p;
        return 1;
}

#undef FAIL

static bool fits(uint64_t used, uint64_t want, uint64_t capacity) {
        return capacity == 0 || (want <= capacity && used <= capacity - want);
}

static bool host_fits(const Host *host, const SchedUnit *u) {
        return fits(host->cpu_used, u->cpu_millis, host->cpu_capacity) &&
               fits(host->memory_used, u->memory_bytes, host->memory_capacity);
}

static Check job_check(const Sched *s, size_t j, const Prep *p, size_t h) {
        const Job *job = s->jobs + j;
        const Host *host = s->hosts + h;

        if (p->only != NONE && h != p->only)
                return CHECK_MACHINE_ID;
        if (p->global_of)
                for (size_t i = 0; i < job->of.n; i++) {
                        const Job *t = s->jobs + job->of.v[i];

                        if (t->unit->global && !t->on[h])
                                return CHECK_MACHINE_OF;
                }
        if (job->meta != NONE && !s->metas[job->meta].ok[h])
                return CHECK_METADATA;
        if (host->draining && !p->drain_ok)
                return CHECK_DRAINING;
        if (host->forbid_stamp == s->stamp)
                return CHECK_EXCLUSION;
        if (!host_fits(host, job->unit))
                return CHECK_CAPACITY;
        return CHECK_OK;
}

/* ---- choosing a host ------------------------------------------------------------------------ */

/* What a scan over the candidate hosts found. */
typedef struct Scan {
        size_t best;
        Check furthest;
        size_t blocker;                 /* first excluding unit seen, and how */
        Relation blocker_rel;
        bool more_blockers;
        uint64_t most_free_cpu;         /* over the hosts that failed only on capacity */
        uint64_t most_free_memory;
} Scan;

static size_t host_group_count(const Sched *s, const Host *host) {
        return host->group_stamp == s->stamp ? host->group_count : 0;
}

/* Counts the placed members of group g on each host (host_group_count()), for this stamp. */
static void group_count_hosts(Sched *s, size_t g) {
        const IdxVec *placed = s->group_hosts + g;

        for (size_t i = 0; i < placed->n; i++) {
                Host *host = s->hosts + placed->v[i];

                if (host->group_stamp != s->stamp) {
                        host->group_stamp = s->stamp;
                        host->group_count = 0;
                }
                host->group_count++;
        }
}

static void job_count_group(Sched *s, size_t j) {
        group_count_hosts(s, s->jobs[j].group);
}

/* Is host a better choice than host b (NONE: no choice yet) for job j? Fewest of its group,
 * fewest units, least cpu, least memory; the lower index (id) on a tie. */
static bool host_better(const Sched *s, size_t j, size_t a, size_t b) {
        const Host *x = s->hosts + a, *y;

        if (b == NONE)
                return true;
        y = s->hosts + b;
        if (s->jobs[j].group != NONE) {
                size_t gx = host_group_count(s, x), gy = host_group_count(s, y);

                if (gx != gy)
                        return gx < gy;
        }
        if (x->n_units != y->n_units)
                return x->n_units < y->n_units;
        if (x->cpu_used != y->cpu_used)
                return x->cpu_used < y->cpu_used;
        if (x->memory_used != y->memory_used)
                return x->memory_used < y->memory_used;
        return a < b;
}

static uint64_t free_of(uint64_t used, uint64_t capacity) {
        if (capacity == 0)
                return UINT64_MAX;
        return used < capacity ? capacity - used : 0;
}

static Check scan_host(const Sched *s, size_t j, const Prep *p, size_t h, Scan *scan) {
        const Host *host = s->hosts + h;
        Check c = job_check(s, j, p, h);

        if (c > scan->furthest)
                scan->furthest = c;
        if (c == CHECK_EXCLUSION) {
                if (scan->blocker == NONE) {
                        scan->blocker = host->forbid_by;
                        scan->blocker_rel = host->forbid_rel;
                } else if (scan->blocker != host->forbid_by)
                        scan->more_blockers = true;
        } else if (c == CHECK_CAPACITY) {
                scan->most_free_cpu = MAX(scan->most_free_cpu, free_of(host->cpu_used, host->cpu_capacity));
                scan->most_free_memory =
                        MAX(scan->most_free_memory, free_of(host->memory_used, host->memory_capacity));
        }
        return c;
}

static void scan_hosts(const Sched *s, size_t j, const Prep *p, Scan *ret) {
        Scan scan = { .best = NONE, .furthest = CHECK_MACHINE_ID, .blocker = NONE };
        size_t from = p->only == NONE ? 0 : p->only, to = p->only == NONE ? s->n_hosts : p->only + 1;

        for (size_t h = from; h < to; h++)
                if (scan_host(s, j, p, h, &scan) == CHECK_OK && host_better(s, j, h, scan.best))
                        scan.best = h;
        *ret = scan;
}

static void format_bytes(uint64_t b, char buf[static 32]) {
        static const char units[] = "KMGTPE";
        uint64_t step = 1;
        size_t i = 0;

        if (b < 1024) {
                snprintf(buf, 32, "%" PRIu64 "B", b);
                return;
        }
        while (i + 1 < sizeof(units) - 1 && b / step >= 1024 * 1024) {
                step *= 1024;
                i++;
        }
        step *= 1024;
        if (b % step == 0)
                snprintf(buf, 32, "%" PRIu64 "%c", b / step, units[i]);
        else
                snprintf(buf, 32, "%.1f%c", (double) b / (double) step, units[i]);
}

static int job_fail_capacity(Job *job, const Scan *scan) {
        const SchedUnit *u = job->unit;
        char want[32], most[32];

        if (u->cpu_millis > scan->most_free_cpu)
                return job_fail(job, "not enough cpu: needs %" PRIu64 "m, most free is %" PRIu64 "m",
                                u->cpu_millis, scan->most_free_cpu);
        format_bytes(u->memory_bytes, want);
        if (u->memory_bytes > scan->most_free_memory) {
                format_bytes(scan->most_free_memory, most);
                return job_fail(job, "not enough memory: needs %s, most free is %s", want, most);
        }
        return job_fail(job, "not enough cpu and memory on any one machine: needs %" PRIu64 "m and %s",
                        u->cpu_millis, want);
}

static int job_fail_exclusion(Sched *s, Job *job, const Prep *p, const Scan *scan) {
        const char *other = job_name(s, scan->blocker), *more = scan->more_blockers ? " (and others)" : "";
        _cleanup_free_ char *where = NULL;
        int r;

        if (p->only != NONE)
                r = asprintf(&where, "on machine %s", host_id(s, p->only));
        else
                r = asprintf(&where, "on every eligible machine");
        if (r < 0)
                return -ENOMEM;
        switch (scan->blocker_rel) {
        case REL_REPLACES:
                return job_fail(job, "replaces %s%s, which is %s", other, more, where);
        case REL_REPLACED_BY:
                return job_fail(job, "replaced by %s%s, which is %s", other, more, where);
        default:
                return job_fail(job, "conflicts with %s%s %s", other, more, where);
        }
}

/* No host passed: say why, from the furthest check any host got to. */
static int job_fail_scan(Sched *s, size_t j, const Prep *p, const Scan *scan) {
        Job *job = s->jobs + j;
        const char *meta = job->meta != NONE ? s->metas[job->meta].desc : NULL;

        switch (scan->furthest) {
        case CHECK_MACHINE_OF:
                return job_fail(job, "no eligible machine runs MachineOf=%s", p->global_of);
        case CHECK_METADATA:
                if (p->only != NONE)
                        return job_fail(job, "machine %s does not have metadata %s", host_id(s, p->only), meta);
                return job_fail(job, "no machine has metadata %s", meta);
        case CHECK_DRAINING:
                if (p->only != NONE)
                        return job_fail(job, "machine %s is draining", host_id(s, p->only));
                if (meta)
                        return job_fail(job, "every machine with metadata %s is draining", meta);
                return job_fail(job, "every machine is draining");
        case CHECK_EXCLUSION:
                return job_fail_exclusion(s, job, p, scan);
        case CHECK_CAPACITY:
                return job_fail_capacity(job, scan);
        default:
                return job_fail(job, "no eligible machine");
        }
}

/* ---- placing -------------------------------------------------------------------------------- */

static int job_place(Sched *s, size_t j, size_t h) {
        Job *job = s->jobs + j;
        Host *host = s->hosts + h;

        job->state = JOB_PLACED;
        job->host = h;
        host->n_units++;
        host->cpu_used += job->unit->cpu_millis;
        host->memory_used += job->unit->memory_bytes;
        if (job->group != NONE)
                return idx_vec_push(s->group_hosts + job->group, h);
        return 0;
}

/* A global unit goes on every host that passes the checks, in id order; each reserves its
 * cpu/memory there, so a host too full for it is skipped. */
static int sched_place_global(Sched *s, size_t j) {
        Job *job = s->jobs + j;
        Prep p;
        Scan scan = { .best = NONE, .furthest = CHECK_MACHINE_ID, .blocker = NONE };
        int r;

        r = job_prepare(s, j, true, &p);
        if (r <= 0)
                return r;
        p.drain_ok = true;      /* like a DaemonSet on a cordoned node */
        job->on = calloc(s->n_hosts, 1);
        if (!job->on)
                return -ENOMEM;
        for (size_t h = 0; h < s->n_hosts; h++) {
                if (scan_host(s, j, &p, h, &scan) != CHECK_OK)
                        continue;
                r = idx_vec_push(&job->on_hosts, h);
                if (r < 0)
                        return r;
                job->on[h] = true;
                s->hosts[h].cpu_used += job->unit->cpu_millis;
                s->hosts[h].memory_used += job->unit->memory_bytes;
        }
        if (job->on_hosts.n == 0) {
                free(job->on);
                job->on = NULL;
                return job_fail_scan(s, j, &p, &scan);
        }
        job->state = JOB_PLACED;
        return 0;
}

/* Replaced by a unit that pass 1 did not keep: leave the machine to it. */
static bool job_displaced(const Sched *s, size_t j) {
        const Job *job = s->jobs + j;

        for (size_t i = 0; i < job->replacers.n; i++) {
                const Job *a = s->jobs + job->replacers.v[i];

                if (!a->unit->global && !a->kept)
                        return true;
        }
        return false;
}

/* Pass 1: keep the job on its current machine if it still may be there (an app instance also
 * on a draining one: the app controller replaces it). */
static int sched_keep(Sched *s, size_t j) {
        Job *job = s->jobs + j;
        Prep p;
        int r;

        if (job->state != JOB_PENDING || job->current == NONE || job_displaced(s, j))
                return 0;
        r = job_prepare(s, j, false, &p);
        if (r <= 0)
                return r;
        p.drain_ok = job->unit->app_instance;
        if (job_check(s, j, &p, job->current) != CHECK_OK)
                return 0;
        job->kept = true;
        return job_place(s, j, job->current);
}

/* No other machine takes a job whose current machine drains: it stays there (stuck), or is
 * stopped when the drain is forced, "cannot move off draining machine <name>: <why>". The
 * scan's reason is in job->reason already; it stands unchanged when the job may not stay there
 * anyway (constraints, conflicts, capacity). */
static int sched_stay_stuck(Sched *s, size_t j, Prep *p) {
        Job *job = s->jobs + j;
        _cleanup_free_ char *why = NULL;
        int r;

        if (job->current == NONE || !s->hosts[job->current].draining)
                return 0;
        p->drain_ok = true;
        if (job_check(s, j, p, job->current) != CHECK_OK) {
                Scan scan;

                if (p->only != job->current)
                        return 0;
                /* its only machine: what keeps it from staying there is the reason */
                scan_hosts(s, j, p, &scan);
                return job_fail_scan(s, j, p, &scan);
        }
        if (job->pin == job->current)
                why = strdup("its MachineID= is that machine");
        else if (p->only == job->current && p->only_of) {
                if (asprintf(&why, "its MachineOf=%s is there", p->only_of) < 0)
                        why = NULL;
        } else
                why = TAKE_PTR(job->reason);
        if (!why)
                return -ENOMEM;
        if (s->hosts[job->current].drain_force)
                return job_fail(job, "cannot move off draining machine %s: %s; stopped, the drain is forced",
                                host_name(s, job->current), why);
        r = job_fail(job, "cannot move off draining machine %s: %s", host_name(s, job->current), why);
        if (r < 0)
                return r;
        job->stuck = true;
        return job_place(s, j, job->current);
}

/* Pass 2: the current machine, the machines of the units it replaces, then the best one. */
static int sched_place(Sched *s, size_t j) {
        Job *job = s->jobs + j;
        Prep p;
        Scan scan;
        int r;

        if (job->state != JOB_PENDING)
                return 0;
        r = job_prepare(s, j, true, &p);
        if (r <= 0)
                return r;
        if (job->current != NONE && job_check(s, j, &p, job->current) == CHECK_OK)
                return job_place(s, j, job->current);
        for (size_t i = 0; i < job->replaces.n; i++) {
                size_t h = s->jobs[job->replaces.v[i]].current;

                if (h != NONE && job_check(s, j, &p, h) == CHECK_OK)
                        return job_place(s, j, h);
        }
        if (job->group != NONE)
                job_count_group(s, j);
        scan_hosts(s, j, &p, &scan);
        if (scan.best != NONE)
                return job_place(s, j, scan.best);
        r = job_fail_scan(s, j, &p, &scan);
        if (r < 0)
                return r;
        return sched_stay_stuck(s, j, &p);
}

/* ---- rebalance ------------------------------------------------------------------------------ */

/* Groups that may be rebalanced: only settled app instances, placed, none stuck or on a
 * draining machine. ok[g] says so. */
static void rebalance_groups(const Sched *s, uint8_t *ok) {
        for (size_t g = 0; g < s->n_groups; g++)
                ok[g] = true;
        for (size_t j = 0; j < s->n_jobs; j++) {
                const Job *job = s->jobs + j;

                if (job->group == NONE)
                        continue;
                if (!job->unit->app_instance || !job->unit->settled || job->state != JOB_PLACED || job->stuck ||
                    s->hosts[job->host].draining)
                        ok[job->group] = false;
        }
}

/* The host with the most members of group g (the lowest index on a tie), and how many. */
static size_t group_most_loaded(Sched *s, size_t g, size_t *ret_count) {
        const IdxVec *placed = s->group_hosts + g;
        size_t most = NONE, count = 0;

        s->stamp++;
        group_count_hosts(s, g);
        for (size_t i = 0; i < placed->n; i++) {
                size_t h = placed->v[i], c = host_group_count(s, s->hosts + h);

                if (c > count || (c == count && h < most)) {
                        most = h;
                        count = c;
                }
        }
        *ret_count = count;
        return most;
}

/* Would a new member of job j's group go to a host with at least two fewer than most? */
static int job_try_rebalance(Sched *s, size_t j, size_t most) {
        Job *job = s->jobs + j;
        Prep p;
        Scan scan;
        int r;

        r = job_prepare(s, j, false, &p);
        if (r <= 0 || p.only != NONE)
                return r;
        job_count_group(s, j);
        scan_hosts(s, j, &p, &scan);
        job->rebalance = scan.best != NONE && host_group_count(s, s->hosts + scan.best) + 2 <= most;
        return 0;
}

/* Marks at most one member per group (see "Rebalance" in scheduler.h). */
static int sched_rebalance(Sched *s) {
        _cleanup_free_ uint8_t *ok = calloc(MAX(s->n_groups, (size_t) 1), 1);
        _cleanup_free_ size_t *most = calloc(MAX(s->n_groups, (size_t) 1), sizeof(size_t));
        _cleanup_free_ size_t *count = calloc(MAX(s->n_groups, (size_t) 1), sizeof(size_t));
        int r;

        if (!ok || !most || !count)
                return -ENOMEM;
        rebalance_groups(s, ok);
        for (size_t g = 0; g < s->n_groups; g++)
                if (ok[g])
                        most[g] = group_most_loaded(s, g, &count[g]);
        for (size_t j = 0; j < s->n_jobs; j++) {
                size_t g = s->jobs[j].group;

                if (g == NONE || !ok[g] || s->jobs[j].host != most[g])
                        continue;
                ok[g] = false;  /* its first member there is the one */
                r = job_try_rebalance(s, j, count[g]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- the plan ------------------------------------------------------------------------------- */

static int sched_run(Sched *s) {
        int r;

        for (size_t j = 0; j < s->n_jobs; j++)
                if (s->jobs[j].unit->global) {
                        r = sched_place_global(s, j);
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; i < s->n_order; i++) {
                r = sched_keep(s, s->order[i]);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < s->n_order; i++) {
                r = sched_place(s, s->order[i]);
                if (r < 0)
                        return r;
        }
        return sched_rebalance(s);
}

static int sched_export(Sched *s, SchedPlan **ret) {
        _cleanup_(sched_plan_freep) SchedPlan *plan = calloc(1, sizeof(SchedPlan));

        if (!plan)
                return -ENOMEM;
        plan->placements = calloc(MAX(s->n_jobs, (size_t) 1), sizeof(SchedPlacement));
        if (!plan->placements)
                return -ENOMEM;
        plan->n_placements = s->n_jobs;

        for (size_t j = 0; j < s->n_jobs; j++) {
                Job *job = s->jobs + j;
                SchedPlacement *pl = plan->placements + j;

                if (job->state != JOB_PLACED) {
                        pl->status = SCHED_UNSCHEDULABLE;
                        pl->reason = TAKE_PTR(job->reason);
                        if (!pl->reason && !(pl->reason = strdup("not planned")))
                                return -ENOMEM;
                } else if (job->on) {
                        pl->status = SCHED_GLOBAL;
                        pl->machine_ids = calloc(job->on_hosts.n, sizeof(char *));
                        if (!pl->machine_ids)
                                return -ENOMEM;
                        for (size_t i = 0; i < job->on_hosts.n; i++)
                                pl->machine_ids[i] = host_id(s, job->on_hosts.v[i]);
                        pl->n_machine_ids = job->on_hosts.n;
                } else {
                        pl->status = job->stuck ? SCHED_STUCK : SCHED_PLACED;
                        pl->machine_id = host_id(s, job->host);
                        if (job->stuck)
                                pl->reason = TAKE_PTR(job->reason);
                        pl->rebalance = job->rebalance;
                }
        }
        *ret = TAKE_PTR(plan);
        return 0;
}

int sched_plan_compute(const SchedMachine *machines, size_t n_machines,
                       const SchedUnit *units, size_t n_units,
                       SchedPlan **ret) {
        _cleanup_(sched_done) Sched s = {};
        int r;

        if ((n_machines > 0 && !machines) || (n_units > 0 && !units) || !ret)
                return -EINVAL;

        r = sched_index_hosts(&s, machines, n_machines);
        if (r < 0)
                return r;
        r = sched_index_jobs(&s, units, n_units);
        if (r < 0)
                return r;
        r = sched_resolve_names(&s);
        if (r < 0)
                return r;
        r = sched_index_groups(&s);
        if (r < 0)
                return r;
        r = sched_index_metadata(&s);
        if (r < 0)
                return r;
        r = sched_index_globs(&s);
        if (r < 0)
                return r;
        r = sched_order(&s);
        if (r < 0)
                return r;
        r = sched_run(&s);
        if (r < 0)
                return r;
        return sched_export(&s, ret);
}

SchedPlan *sched_plan_free(SchedPlan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_placements; i++) {
                free(p->placements[i].machine_ids);
                free(p->placements[i].reason);
        }
        free(p->placements);
        free(p);
        return NULL;
}

const char *sched_status_to_string(SchedStatus s) {
        switch (s) {
        case SCHED_PLACED:
                return "placed";
        case SCHED_GLOBAL:
                return "global";
        case SCHED_UNSCHEDULABLE:
                return "unschedulable";
        case SCHED_STUCK:
                return "stuck";
        default:
                return NULL;
        }
}
