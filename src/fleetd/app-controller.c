/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

#include "app-controller.h"
#include "app-events.h"
#include "app-plan.h"
#include "app-record.h"
#include "basic/hashmap.h"
#include "basic/json-util.h"
#include "basic/sha256.h"
#include "event-log.h"
#include "log.h"
#include "metrics.h"
#include "release.h"
#include "unit-gen.h"

#define DEADLINE_DEFAULT (60 * USEC_PER_SEC)
/* While a rollout runs, re-plan this often even without events (deadlines pass silently). */
#define ROLLOUT_TICK (USEC_PER_SEC)

typedef struct Instance {
        char *app;
        unsigned release;
        char *process;
        unsigned index;
        /* CLOCK_MONOTONIC when this controller first saw it: the deadline runs from here, on a
         * clock the wall clock's jumps do not move (a new leader gives a starting instance
         * the whole deadline again) */
        usec_t seen;
        bool evict, force;            /* from the engine: app_controller_instance_placed() */
        const char *evict_why;        /* "drain" or "rebalance" while evict */
        bool told_moved;              /* its instance.moved event was emitted */
        char *unschedulable;
        char *blocked;                /* from the last plan of its app */
} Instance;

typedef struct AppEntry {
        AppRecord rec;
        int64_t mod_revision;
} AppEntry;

struct AppController {
        sd_event *event;
        EtcdClient *etcd;
        char *prefix, *leader_key, *machine_id;
        int64_t lease;
        usec_t deadline;

        Hashmap *apps;                /* name -> AppEntry* */
        Hashmap *releases;            /* "app/N" -> Release* */
        Hashmap *instances;           /* unit -> Instance* */
        Hashmap *states;              /* unit -> StateRecord* (the last one written) */
        Hashmap *dirty;               /* app names to plan */
        Hashmap *fetching;            /* "app/N" releases being read */

        EtcdRequest *load;
        EtcdWatch *apps_watch;
        bool loaded;
        EtcdRequest *write;
        char *writing;                /* the app the write is for */
        bool writing_units;           /* it creates or deletes instance units */
        /* The instances come from the engine's units/ watch, the app records from our apps/
         * watch: two streams, either may be ahead. After a write of ours that changed units at
         * revision units_await, nothing is planned until the units/ view (units_revision) has
         * reached it, or a plan on the newer app record would miss those units and make its
         * instances again. */
        int64_t units_revision;
        int64_t units_await;
        sd_event_source *defer;
        sd_event_source *tick;
        bool lost;                    /* the picture lost something: start over (on_defer) */

        app_controller_fenced_t on_fenced;
        void *fenced_userdata;
        app_controller_changed_t on_changed;
        void *changed_userdata;
        AppEvents events;             /* rollout events told, app-events.h */
};

static void controller_schedule(AppController *c);
static void controller_tick(AppController *c);

static void instance_free(void *p) {
        Instance *i = p;
        if (i) {
                free(i->app);
                free(i->process);
                free(i->unschedulable);
                free(i->blocked);
                free(i);
        }
}

static void app_entry_free(void *p) {
        AppEntry *a = p;
        if (a) {
                app_record_done(&a->rec);
                free(a);
        }
}

static void state_free(void *p) {
        if (p) {
                state_record_done(p);
                free(p);
        }
}

static void release_free_void(void *p) {
        release_free(p);
}

/* The picture lost a record or a change it could not keep (out of memory): planning on it could
 * make instances twice or judge a healthy one failed. The engine starts over, from the loop
 * (the caller may be inside the engine's own callbacks), with a fresh load. */
static void controller_lost(AppController *c, int error, const char *what) {
        if (!c->lost)
                log_error_errno(error, "App controller could not keep %s, starting over: %m", what);
        c->lost = true;
        controller_schedule(c);
}

static void mark_dirty(AppController *c, const char *app) {
        if (hashmap_put(c->dirty, app, NULL) < 0)
                return controller_lost(c, -ENOMEM, app);
        controller_schedule(c);
}

static const char *key_after(const char *key, const char *prefix, const char *what) {
        size_t l = strlen(prefix);
        if (strncmp(key, prefix, l) != 0)
                return NULL;
        return startswith(key + l, what);
}

/* --- what the engine and the watches tell us --- */

void app_controller_unit_changed(AppController *c, const char *name, const UnitRecord *u) {
        Instance *old;
        int r;

        assert(c);
        assert(name);

        old = hashmap_get(c->instances, name);
        usec_t seen = old ? old->seen : now_usec(CLOCK_MONOTONIC);
        if (old)
                mark_dirty(c, old->app);
        if (!u || !u->app) {
                instance_free(hashmap_remove(c->instances, name));
                return;
        }

        _cleanup_free_ char *app = NULL, *process = NULL;
        unsigned version, index;
        r = release_parse_instance_name(name, &app, &version, &process, &index);
        if (r == -ENOMEM)
                return controller_lost(c, r, name);
        if (r < 0 || !streq(app, u->app))
                return;       /* not an instance of the app it names: not the controller's */
        Instance *i = calloc(1, sizeof(*i));
        if (!i)
                return controller_lost(c, -ENOMEM, name);
        *i = (Instance) { .app = TAKE_PTR(app), .process = TAKE_PTR(process), .release = version, .index = index,
                          .seen = seen };
        if (old) {
                /* what the engine and the last plan said of it still holds */
                i->evict = old->evict;
                i->evict_why = old->evict_why;
                i->told_moved = old->told_moved;
                i->force = old->force;
                i->unschedulable = TAKE_PTR(old->unschedulable);
                i->blocked = TAKE_PTR(old->blocked);
        }
        if (hashmap_put(c->instances, name, i) < 0) {
                instance_free(i);
                return controller_lost(c, -ENOMEM, name);
        }
        mark_dirty(c, i->app);
}

static void app_put(AppController *c, const EtcdKv *kv) {
        _cleanup_free_ AppEntry *a = calloc(1, sizeof(*a));
        json_auto_t *j = json_loads(kv->value, 0, NULL);

        if (!a)
                return controller_lost(c, -ENOMEM, kv->key);
        if (app_record_from_json(j, &a->rec) < 0) {
                log_warning("Ignoring malformed app record %s.", kv->key);
                return;
        }
        a->mod_revision = kv->mod_revision;
        if (hashmap_put(c->apps, a->rec.name, a) < 0) {
                app_record_done(&a->rec);
                return controller_lost(c, -ENOMEM, kv->key);
        }
        mark_dirty(c, TAKE_PTR(a)->rec.name);
}

/* state/<unit>/<machine> */
void app_controller_state_changed(AppController *c, const EtcdKv *kv, bool deleted) {
        assert(c);
        assert(kv);

        const char *rest = key_after(kv->key, c->prefix, "state/"), *slash = rest ? strrchr(rest, '/') : NULL;
        if (!slash)
                return;
        _cleanup_free_ char *unit = strndup(rest, slash - rest);
        Instance *i = unit ? hashmap_get(c->instances, unit) : NULL;
        StateRecord *cur = unit ? hashmap_get(c->states, unit) : NULL;

        if (!unit)
                return controller_lost(c, -ENOMEM, kv->key);
        if (deleted) {
                if (cur && streq(cur->machine, slash + 1))
                        state_free(hashmap_remove(c->states, unit));
        } else {
                _cleanup_free_ StateRecord *s = calloc(1, sizeof(*s));
                json_auto_t *j = json_loads(kv->value, 0, NULL);
                if (!s)
                        return controller_lost(c, -ENOMEM, kv->key);
                if (state_record_from_json(j, s) < 0) {
                        log_warning("Ignoring malformed state record %s.", kv->key);
                        return;
                }
                if (hashmap_put(c->states, unit, s) < 0) {
                        state_record_done(s);
                        return controller_lost(c, -ENOMEM, kv->key);
                }
                TAKE_PTR(s);
        }
        if (i)
                mark_dirty(c, i->app);
}

static void on_apps_events(EtcdWatch *w, int error, const EtcdEvent *ev, size_t n, void *userdata) {
        AppController *c = userdata;

        if (error < 0) {
                log_warning_errno(error, "App watch ended: %m");
                if (c->on_fenced)
                        c->on_fenced(c, c->fenced_userdata);     /* the engine starts over */
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const char *name = key_after(ev[i].kv.key, c->prefix, "apps/");
                if (!name)
                        continue;
                if (ev[i].type == ETCD_EVENT_PUT)
                        app_put(c, &ev[i].kv);
                else
                        app_entry_free(hashmap_remove(c->apps, name));
        }
        /* a rollout that starts or ends changes which instances are settled */
        if (c->on_changed)
                c->on_changed(c, c->changed_userdata);
}

/* --- releases, read when first needed --- */

typedef struct Fetch {
        AppController *c;
        char *key;                    /* "app/N" */
        EtcdRequest *request;
} Fetch;

static void fetch_free(void *p) {
        Fetch *f = p;
        if (f) {
                etcd_request_cancel(f->request);
                free(f->key);
                free(f);
        }
}

static void on_release(EtcdClient *e, int error, const EtcdResult *result, void *userdata) {
        Fetch *f = userdata;
        AppController *c = f->c;
        Release *r = calloc(1, sizeof(*r));
        json_auto_t *j = !error && result->n_kvs > 0 ? json_loads(result->kvs[0].value, 0, NULL) : NULL;
        _cleanup_free_ char *app = strndup(f->key, strcspn(f->key, "/"));

        if (!r || !j || release_from_json(j, r) < 0 || hashmap_put(c->releases, f->key, r) < 0) {
                log_warning("Failed to read release %s%s.", f->key, error < 0 ? " (etcd)" : "");
                release_free(r);
        }
        fetch_free(hashmap_remove(c->fetching, f->key));     /* f is gone now */
        if (app)
                mark_dirty(c, app);
}

static const Release *release_get(AppController *c, const char *app, unsigned version) {
        char key[128], num[16];
        snprintf(key, sizeof(key), "%s/%u", app, version);
        Release *rel = hashmap_get(c->releases, key);
        int r;

        if (rel || hashmap_get(c->fetching, key))
                return rel;

        snprintf(num, sizeof(num), "v%u", version);
        _cleanup_free_ char *k = registry_key(c->prefix, "releases", app, num, NULL);
        Fetch *f = calloc(1, sizeof(*f));
        EtcdRangeArgs args = { .key = k };
        if (!k || !f || !(f->key = strdup(key)) || hashmap_put(c->fetching, key, f) < 0) {
                fetch_free(f);
                controller_lost(c, -ENOMEM, key);
                return NULL;
        }
        f->c = c;
        r = etcd_client_range(c->etcd, &args, on_release, f, &f->request);
        if (r < 0) {
                /* asked again when the app is planned next */
                log_warning_errno(r, "Failed to read release %s: %m", key);
                fetch_free(hashmap_remove(c->fetching, key));
        }
        return NULL;
}

/* --- planning one app --- */

typedef struct Ops {
        EtcdOp ops[128];
        char *strings[256];
        size_t n_ops, n_strings;
        size_t n_unit_ops;            /* instance units created or deleted */
} Ops;

static void ops_done(Ops *o) {
        for (size_t i = 0; i < o->n_strings; i++)
                free(o->strings[i]);
        *o = (Ops) {};
}

static char *ops_keep(Ops *o, char *s) {
        if (s && o->n_strings < ELEMENTSOF(o->strings))
                return o->strings[o->n_strings++] = s;
        free(s);
        return NULL;
}

/* Ops for instances stop RESERVED_OPS short of the end: the room left is for the app record
 * and a rollback release (ops_add_reserved()), so a step that is cut short still records
 * how far it got. */
#define RESERVED_OPS 4

static int ops_add_within(Ops *o, size_t limit, EtcdOpType type, char *key, char *value) {
        if (o->n_ops >= limit) {
                free(key);
                free(value);
                return -E2BIG;
        }
        key = ops_keep(o, key);
        if (!key || (value && !ops_keep(o, value)))
                return -ENOMEM;
        o->ops[o->n_ops++] = (EtcdOp) { .type = type, .key = key, .value = value };
        return 0;
}

/* An instance unit's op. */
static int ops_add(Ops *o, EtcdOpType type, char *key, char *value) {
        int r = ops_add_within(o, ELEMENTSOF(o->ops) - RESERVED_OPS, type, key, value);
        if (r >= 0)
                o->n_unit_ops++;
        return r;
}

static int ops_add_reserved(Ops *o, EtcdOpType type, char *key, char *value) {
        return ops_add_within(o, ELEMENTSOF(o->ops), type, key, value);
}

static int op_create_instance(AppController *c, Ops *o, const Release *rel, const char *process, unsigned index) {
        const ProcessType *p = release_find_process(rel, process);
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        _cleanup_free_ char *text = NULL, *err = NULL, *name = release_instance_name(rel, process, index);
        char hash[SHA256_HEX_SIZE], version[16];
        int r;

        if (!p || !name)
                return -ENOMEM;
        r = unit_gen_instance(rel, p, index, &uf, &err);
        if (r < 0)
                return log_error_errno(r, "Cannot make %s: %s", name, strna(err));
        r = unit_file_print(uf, &text);
        if (r < 0)
                return r;
        sha256_hex(text, strlen(text), hash);
        snprintf(version, sizeof(version), "v%u", rel->version);
        UnitRecord u = { .name = name, .contents = text, .hash = hash, .desired = UNIT_LAUNCHED,
                         .app = rel->app, .release = version, .created_usec = now_usec(CLOCK_REALTIME) };
        json_auto_t *j = unit_record_to_json(&u);
        return ops_add(o, ETCD_OP_PUT, registry_key(c->prefix, "units", name, NULL), j ? jx_dumps(j) : NULL);
}

/* The new release rec says to roll back to (rec->release), a copy of from; cause from
 * app_rollout_advance(). */
static int op_rollback_release(AppController *c, Ops *o, const AppRecord *rec, const Release *from,
                               const char *cause) {
        _cleanup_(release_done) Release copy = {};
        char num[16];
        int r = release_copy(from, &copy);
        if (r < 0)
                return r;
        copy.version = rec->release;
        copy.created_usec = now_usec(CLOCK_REALTIME);
        r = free_and_strdup(&copy.cause, cause);
        if (r < 0)
                return r;
        snprintf(num, sizeof(num), "v%u", copy.version);
        json_auto_t *j = release_to_json(&copy);
        return ops_add_reserved(o, ETCD_OP_PUT, registry_key(c->prefix, "releases", rec->name, num, NULL),
                                j ? jx_dumps(j) : NULL);
}

/* Each process type of rel with its scale: the app record's, else the release's default. */
static AppProcessTarget *controller_targets(const AppEntry *a, const Release *rel) {
        AppProcessTarget *procs = calloc(rel->n_processes + 1, sizeof(*procs));

        for (size_t k = 0; procs && k < rel->n_processes; k++) {
                const AppScale *s = app_record_scale(&a->rec, rel->processes[k].name);
                procs[k] = (AppProcessTarget) { rel->processes[k].name, s ? s->scale : rel->processes[k].scale,
                                                s ? s->restart_below : 0 };
        }
        return procs;
}

/* The app's instances as they are, pointing into the controller's maps. */
static AppInstance *controller_instances(AppController *c, const AppEntry *a, const Release *rel, size_t *ret_n) {
        AppInstance *inst = calloc(hashmap_size(c->instances) + 1, sizeof(*inst));
        size_t n = 0, i = 0;
        const char *unit;
        void *v;

        while (inst && hashmap_iterate(c->instances, &i, &unit, &v)) {
                Instance *in = v;
                if (!streq(in->app, a->rec.name))
                        continue;
                /* the health check of an older release's process is not known here: the target's stands in */
                const ProcessType *p = release_find_process(rel, in->process);
                const StateRecord *st = hashmap_get(c->states, unit);
                inst[n++] = (AppInstance) { unit, in->release, in->process, in->index, app_instance_health(st, p),
                                            in->seen, in->evict, in->force, in->unschedulable,
                                            st ? st->reason : NULL };
        }
        *ret_n = n;
        return inst;
}

/* The plan's instance ops, then the app record when anything changed (or any op is written). */
/* An evicted instance that goes: its replacement is healthy (or the drain is forced). Told once,
 * as the move of an app instance off its machine. */
static void controller_tell_moved(AppController *c, const char *unit) {
        Instance *in = hashmap_get(c->instances, unit);
        const StateRecord *st = hashmap_get(c->states, unit);

        if (!in || !in->evict || in->told_moved)
                return;
        in->told_moved = true;
        json_auto_t *d = json_pack("{s:s, s:s*, s:b}", "reason", strna(in->evict_why), "from", st ? st->machine : NULL,
                                   "forced", in->force && in->blocked);
        event_emitf(&(Event) { .kind = "instance.moved", .by = EVENT_BY_ENGINE, .app = in->app, .unit = unit,
                               .machine = st ? st->machine : NULL, .release = in->release, .details = d },
                    "%s %s off machine %.8s: %s", unit, in->force && in->blocked ? "stopped" : "replaced",
                    st ? st->machine : "?",
                    streq_ptr(in->evict_why, "rebalance") ? "rebalance" : "its machine drains");
}

static int controller_ops(AppController *c, const AppEntry *a, const Release *rel, const AppPlan *plan,
                          AppRecord *rec, Ops *o) {
        int r = 0;

        for (size_t k = 0; r >= 0 && k < plan->n_creates; k++)
                r = op_create_instance(c, o, rel, plan->creates[k].process, plan->creates[k].index);
        for (size_t k = 0; r >= 0 && k < plan->n_removes; k++) {
                r = ops_add(o, ETCD_OP_DELETE, registry_key(c->prefix, "units", plan->removes[k], NULL), NULL);
                if (r >= 0)
                        controller_tell_moved(c, plan->removes[k]);
        }
        if (r < 0 && r != -E2BIG)
                return r;     /* -E2BIG: the rest comes in the next step */

        json_auto_t *old_j = app_record_to_json(&a->rec);
        json_auto_t *new_j = app_record_to_json(rec);
        if (!old_j || !new_j)
                return -ENOMEM;
        if (o->n_ops == 0 && json_equal(old_j, new_j))
                return 0;
        rec->updated_usec = now_usec(CLOCK_REALTIME);
        json_decref(new_j);
        new_j = app_record_to_json(rec);
        return ops_add_reserved(o, ETCD_OP_PUT, registry_key(c->prefix, "apps", rec->name, NULL),
                                new_j ? jx_dumps(new_j) : NULL);
}

/* Keeps what the plan says of the app's evicted instances that cannot be replaced now; tells
 * the engine when that changed. */
static int controller_note_blocked(AppController *c, const char *app, const AppPlan *plan) {
        bool changed = false;
        size_t i = 0;
        const char *unit;
        void *v;

        while (hashmap_iterate(c->instances, &i, &unit, &v)) {
                Instance *in = v;
                const char *why = NULL;

                if (!streq(in->app, app))
                        continue;
                for (size_t k = 0; k < plan->n_blocked && !why; k++)
                        if (streq(plan->blocked[k].unit, unit))
                                why = plan->blocked[k].reason;
                if (streq_ptr(why, in->blocked))
                        continue;
                char *copy = why ? strdup(why) : NULL;
                if (why && !copy)
                        return -ENOMEM;
                if (why)
                        log_unit_info(unit, "App %s: %s cannot be replaced yet: %s.", app, unit, why);
                free(in->blocked);
                in->blocked = copy;
                changed = true;
        }
        if (changed && c->on_changed)
                c->on_changed(c, c->changed_userdata);
        return 0;
}

/* Works out the next step for one app into ops (and the app record to write). Returns 0 with
 * no ops when there is nothing to do or it must wait (a release being read). */
static int controller_plan_app(AppController *c, AppEntry *a, Ops *o) {
        const Release *rel = a->rec.release > 0 ? release_get(c, a->rec.name, a->rec.release) : NULL, *prev = NULL;
        _cleanup_(app_record_done) AppRecord rec = {};
        _cleanup_(app_plan_done) AppPlan plan = {};
        _cleanup_free_ char *cause = NULL;
        size_t n;
        int r;

        if (!rel)
                return 0;
        _cleanup_free_ AppProcessTarget *procs = controller_targets(a, rel);
        _cleanup_free_ AppInstance *inst = controller_instances(c, a, rel, &n);
        if (!procs || !inst)
                return -ENOMEM;
        AppTarget t = { .release = rel->version, .processes = procs, .n_processes = rel->n_processes,
                        .max_surge = rel->max_surge, .max_unavailable = rel->max_unavailable,
                        .next_index = MAX(a->rec.next_index, 1u), .now = now_usec(CLOCK_MONOTONIC),
                        .deadline = c->deadline };
        r = app_plan(&t, inst, n, &plan);
        if (r < 0)
                return r;
        r = controller_note_blocked(c, a->rec.name, &plan);
        if (r < 0)
                return r;

        AppRolloutStep step = app_rollout_step(&a->rec, &plan);
        if (step == APP_ROLLOUT_ROLL_BACK && !(prev = release_get(c, a->rec.name, a->rec.rollout_from)))
                return 0;     /* the release to go back to is being read */
        r = app_rollout_advance(&a->rec, &t, &plan, step, &rec, &cause);
        if (r < 0)
                return r;
        app_events_step(&c->events, &a->rec, step, &rec, cause);
        if (step == APP_ROLLOUT_ROLL_BACK) {
                log_warning("App %s: %s.", rec.name, strna(rec.message));
                r = op_rollback_release(c, o, &rec, prev, cause);
                if (r < 0)
                        return r;
        } else if (step == APP_ROLLOUT_DONE)
                log_info("App %s: rollout of v%u %s.", rec.name, rec.release,
                         rec.rollback_of ? "finished (an automatic rollback)" : "done");
        return controller_ops(c, a, rel, &plan, &rec, o);
}

static void on_written(EtcdClient *e, int error, const EtcdResult *result, void *userdata) {
        AppController *c = userdata;
        _cleanup_free_ char *app = TAKE_PTR(c->writing);

        c->write = etcd_request_cancel(c->write);
        if (error < 0) {
                /* try again with the next tick, not at once */
                log_warning_errno(error, "Failed to write app %s's next step: %m", strna(app));
                if (app && hashmap_put(c->dirty, app, NULL) < 0)
                        return controller_lost(c, -ENOMEM, app);
                controller_tick(c);
                return;
        }
        if (!result->succeeded) {
                /* we are fenced, or the app record changed meanwhile: its watch event plans again */
                const EtcdKv *leader = result->n_responses > 0 && result->responses[0].n_kvs > 0
                                               ? &result->responses[0].kvs[0] : NULL;
                if ((!leader || !streq(leader->value, c->machine_id) || leader->lease != c->lease) && c->on_fenced)
                        c->on_fenced(c, c->fenced_userdata);
                return;
        }
        if (c->writing_units)
                c->units_await = MAX(c->units_await, result->revision);
        if (app)
                mark_dirty(c, app);
}

static int controller_write(AppController *c, AppEntry *a, Ops *o) {
        _cleanup_free_ char *akey = registry_key(c->prefix, "apps", a->rec.name, NULL);
        if (!akey)
                return -ENOMEM;
        EtcdCompare cmp[] = {
                { .key = c->leader_key, .target = ETCD_COMPARE_VALUE, .result = ETCD_EQUAL, .value = c->machine_id },
                { .key = c->leader_key, .target = ETCD_COMPARE_LEASE, .result = ETCD_EQUAL, .number = c->lease },
                { .key = akey, .target = ETCD_COMPARE_MOD, .result = ETCD_EQUAL, .number = a->mod_revision },
        };
        EtcdOp failure = { .type = ETCD_OP_RANGE, .key = c->leader_key };
        EtcdTxn txn = { .compares = cmp, .n_compares = ELEMENTSOF(cmp), .success = o->ops, .n_success = o->n_ops,
                        .failure = &failure, .n_failure = 1 };
        c->writing = strdup(a->rec.name);
        if (!c->writing)
                return -ENOMEM;
        c->writing_units = o->n_unit_ops > 0;
        return etcd_client_txn(c->etcd, &txn, on_written, c, &c->write);
}

static bool controller_evicting(AppController *c) {
        size_t i = 0;
        void *v;

        while (hashmap_iterate(c->instances, &i, NULL, &v))
                if (((Instance *) v)->evict)
                        return true;
        return false;
}

static int on_defer(sd_event_source *s, void *userdata) {
        AppController *c = userdata;
        bool rolling = false;
        size_t i = 0;
        void *v;

        if (c->lost) {
                if (c->on_fenced)
                        c->on_fenced(c, c->fenced_userdata);     /* frees c */
                return 0;
        }
        while (hashmap_iterate(c->apps, &i, NULL, &v))
                rolling = rolling || ((AppEntry *) v)->rec.rollout == ROLLOUT_ROLLING;
        if (rolling || controller_evicting(c))
                controller_tick(c);

        while (c->loaded && !c->write && c->units_revision >= c->units_await && hashmap_size(c->dirty) > 0) {
                const char *name;
                i = 0;
                (void) hashmap_iterate(c->dirty, &i, &name, NULL);
                _cleanup_free_ char *app = strdup(name);
                if (!app)
                        return log_oom();     /* the app stays dirty: the next pass plans it */
                (void) hashmap_remove(c->dirty, app);

                AppEntry *a = hashmap_get(c->apps, app);
                Ops o = {};
                int r = a ? controller_plan_app(c, a, &o) : 0;
                if (r >= 0 && o.n_ops > 0)
                        r = controller_write(c, a, &o);
                if (r < 0)
                        /* planned again on its next change, or the next tick while it rolls out */
                        log_warning_errno(r, "Failed to plan app %s: %m", app);
                ops_done(&o);
        }
        return 0;
}

static void controller_schedule(AppController *c) {
        int r = c->defer ? sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT) : 0;
        if (r < 0)
                log_error_errno(r, "Failed to schedule the app controller's next pass: %m");
}

/* Plans again within ROLLOUT_TICK, also without events. */
static void controller_tick(AppController *c) {
        int r = sd_event_source_set_enabled(c->tick, SD_EVENT_ON);
        if (r < 0)
                log_error_errno(r, "Failed to start the rollout tick: %m");
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        AppController *c = userdata;
        size_t i = 0;
        void *v;
        int r;

        bool again = hashmap_size(c->dirty) > 0;

        while (hashmap_iterate(c->apps, &i, NULL, &v))
                if (((AppEntry *) v)->rec.rollout == ROLLOUT_ROLLING) {
                        mark_dirty(c, ((AppEntry *) v)->rec.name);
                        again = true;
                }
        /* instances being moved: their replacements' deadlines pass silently too */
        i = 0;
        while (hashmap_iterate(c->instances, &i, NULL, &v))
                if (((Instance *) v)->evict) {
                        mark_dirty(c, ((Instance *) v)->app);
                        again = true;
                }
        controller_schedule(c);
        /* at rest (nothing rolling, nothing to retry) the tick stops: no wake-ups */
        r = sd_event_source_set_time_relative(s, ROLLOUT_TICK);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, again ? SD_EVENT_ON : SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to re-arm the rollout tick: %m");
        return 0;
}

/* --- metrics --- */

/* Desired and healthy instances per app process, and the rollouts under way, when /metrics is
 * read. Apps whose release is not read yet are left out. */
static void controller_collect(void *userdata) {
        AppController *c = userdata;
        unsigned rolling = 0;
        size_t i = 0, n;
        void *v;

        app_metrics_begin();
        while (hashmap_iterate(c->apps, &i, NULL, &v)) {
                AppEntry *a = v;
                char key[128];
                snprintf(key, sizeof(key), "%s/%u", a->rec.name, a->rec.release);
                const Release *rel = hashmap_get(c->releases, key);
                rolling += a->rec.rollout == ROLLOUT_ROLLING;
                if (!rel)
                        continue;
                _cleanup_free_ AppProcessTarget *procs = controller_targets(a, rel);
                _cleanup_free_ AppInstance *inst = controller_instances(c, a, rel, &n);
                for (size_t k = 0; procs && inst && k < rel->n_processes; k++) {
                        unsigned healthy = 0;
                        for (size_t j = 0; j < n; j++)
                                healthy += streq(inst[j].process, procs[k].process) && inst[j].health == INSTANCE_HEALTHY;
                        app_metrics_process(a->rec.name, procs[k].process, procs[k].scale, healthy);
                }
        }
        app_metrics_rollouts(rolling);
}

/* --- start --- */

static void on_loaded(EtcdClient *e, int error, const EtcdResult *result, void *userdata) {
        AppController *c = userdata;
        _cleanup_free_ char *ak = NULL, *ae = NULL;
        int r;

        c->load = etcd_request_cancel(c->load);
        if (error < 0) {
                log_warning_errno(error, "Failed to load apps: %m");
                if (c->on_fenced)
                        c->on_fenced(c, c->fenced_userdata);
                return;
        }
        for (size_t i = 0; i < result->n_kvs; i++)
                app_put(c, &result->kvs[i]);

        ak = registry_key(c->prefix, "apps", "", NULL);
        ae = ak ? etcd_prefix_end(ak) : NULL;
        if (!ae)
                return (void) log_oom();
        r = etcd_client_watch(c->etcd, ak, ae, result->revision + 1, on_apps_events, c, &c->apps_watch);
        if (r < 0)
                log_error_errno(r, "Failed to watch apps: %m");
        c->loaded = true;
        controller_schedule(c);
}

int app_controller_new(sd_event *e, EtcdClient *etcd, const AppControllerOptions *o, AppController **ret) {
        _cleanup_(app_controller_freep) AppController *c = NULL;
        _cleanup_free_ char *ak = NULL, *ae = NULL;
        int r;

        assert(e);
        assert(etcd);
        assert(o);
        assert(ret);

        c = calloc(1, sizeof(AppController));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(e);
        c->etcd = etcd;
        c->lease = o->lease;
        c->deadline = o->deadline ?: DEADLINE_DEFAULT;
        c->prefix = strdup(o->prefix);
        c->leader_key = strdup(o->leader_key);
        c->machine_id = strdup(o->machine_id);
        c->apps = hashmap_new(app_entry_free);
        c->releases = hashmap_new(release_free_void);
        c->instances = hashmap_new(instance_free);
        c->states = hashmap_new(state_free);
        c->dirty = hashmap_new(NULL);
        c->fetching = hashmap_new(fetch_free);
        if (!c->prefix || !c->leader_key || !c->machine_id || !c->apps || !c->releases || !c->instances ||
            !c->states || !c->dirty || !c->fetching || app_events_init(&c->events) < 0 ||
            metrics_add_collector(NULL, controller_collect, c) < 0)
                return -ENOMEM;

        r = sd_event_add_defer(e, &c->defer, on_defer, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->defer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &c->tick, CLOCK_MONOTONIC, ROLLOUT_TICK, 10 * USEC_PER_MSEC,
                                               on_tick, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->tick, SD_EVENT_OFF);
        if (r < 0)
                return r;

        ak = registry_key(c->prefix, "apps", "", NULL);
        ae = ak ? etcd_prefix_end(ak) : NULL;
        if (!ae)
                return -ENOMEM;
        EtcdRangeArgs args = { .key = ak, .range_end = ae };
        r = etcd_client_range(etcd, &args, on_loaded, c, &c->load);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

void app_controller_units_seen(AppController *c, int64_t revision) {
        assert(c);
        c->units_revision = MAX(c->units_revision, revision);
        if (c->units_revision >= c->units_await && hashmap_size(c->dirty) > 0)
                controller_schedule(c);
}

void app_controller_set_fenced_handler(AppController *c, app_controller_fenced_t cb, void *userdata) {
        assert(c);
        c->on_fenced = cb;
        c->fenced_userdata = userdata;
}

void app_controller_set_changed_handler(AppController *c, app_controller_changed_t cb, void *userdata) {
        assert(c);
        c->on_changed = cb;
        c->changed_userdata = userdata;
}

void app_controller_instance_placed(AppController *c, const char *unit, const char *evict_why, bool force,
                                    const char *unschedulable) {
        bool evict = evict_why;
        Instance *in;
        char *copy = NULL;

        assert(c);
        assert(unit);

        in = hashmap_get(c->instances, unit);
        if (in)
                in->evict_why = evict_why;
        if (!in || (in->evict == evict && in->force == force && streq_ptr(in->unschedulable, unschedulable)))
                return;
        if (unschedulable && !(copy = strdup(unschedulable)))
                return controller_lost(c, -ENOMEM, unit);
        in->evict = evict;
        in->force = force;
        free(in->unschedulable);
        in->unschedulable = copy;
        mark_dirty(c, in->app);
}

bool app_controller_instance_settled(AppController *c, const char *unit) {
        const Instance *in;
        const AppEntry *a;
        const AppScale *sc;
        const Release *rel;
        char key[128];

        assert(c);
        assert(unit);

        in = hashmap_get(c->instances, unit);
        a = in ? hashmap_get(c->apps, in->app) : NULL;
        if (!a || a->rec.rollout == ROLLOUT_ROLLING || in->release != a->rec.release || in->evict || in->blocked)
                return false;
        sc = app_record_scale(&a->rec, in->process);
        if (sc && in->index < sc->restart_below)
                return false;
        snprintf(key, sizeof(key), "%s/%u", in->app, in->release);
        rel = hashmap_get(c->releases, key);
        return rel && app_instance_health(hashmap_get(c->states, unit), release_find_process(rel, in->process)) ==
                              INSTANCE_HEALTHY;
}

const char *app_controller_instance_blocked(AppController *c, const char *unit) {
        const Instance *in;

        assert(c);
        assert(unit);

        in = hashmap_get(c->instances, unit);
        return in ? in->blocked : NULL;
}

AppController *app_controller_free(AppController *c) {
        if (!c)
                return NULL;
        metrics_remove_collector(NULL, controller_collect, c);
        app_events_done(&c->events);
        etcd_request_cancel(c->load);
        etcd_request_cancel(c->write);
        etcd_watch_free(c->apps_watch);
        sd_event_source_disable_unref(c->defer);
        sd_event_source_disable_unref(c->tick);
        hashmap_free(c->apps);
        hashmap_free(c->releases);
        hashmap_free(c->instances);
        hashmap_free(c->states);
        hashmap_free(c->dirty);
        hashmap_free(c->fetching);
        sd_event_unref(c->event);
        free(c->prefix);
        free(c->leader_key);
        free(c->machine_id);
        free(c->writing);
        free(c);
        return NULL;
}
