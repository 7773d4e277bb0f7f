/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

#include "app-controller.h"
#include "basic/hashmap.h"
#include "basic/json-util.h"
#include "basic/strv.h"
#include "engine-plan.h"
#include "engine.h"
#include "log.h"
#include "registry.h"
#include "unit-name.h"

#define TXN_MAX_OPS 100               /* etcd's --max-txn-ops is 128; 2 go to the fence */
#define RECONCILE_DELAY (10 * USEC_PER_MSEC)

/* A unit as the leader sees it: the record, its parsed options, where it is scheduled. */
typedef struct EngineUnit {
        UnitRecord record;
        UnitOptions options;
        char *group;                  /* template name of an instance, for spreading */
} EngineUnit;

/* What schedule/<machine>/<name> holds, as far as the leader knows (it is the only writer). */
typedef struct Scheduled {
        char *machine;
        char *name;
        char *hash;
        UnitDesiredState desired;
} Scheduled;

struct Engine {
        sd_event *event;
        EtcdClient *etcd;
        Presence *presence;
        char *prefix;
        char *machine_id;
        char *leader_key;
        usec_t reconcile_interval;

        int64_t lease;                /* the lease engine/leader is bound to while we lead */
        bool leader;
        EtcdRequest *campaign;
        EtcdWatch *leader_watch;
        sd_event_source *campaign_retry;

        Hashmap *units;               /* name -> EngineUnit* */
        Hashmap *machines;            /* id -> MachineRecord* */
        Hashmap *scheduled;           /* "machine/name" -> Scheduled* */
        EtcdRequest *load;
        EtcdWatch *units_watch;
        EtcdWatch *machines_watch;
        bool loaded;

        AppController *apps;          /* the app controller, while we lead */
        EtcdRequest *write;           /* one txn in flight */
        EtcdOp *ops;                  /* the plan's ops (and their strings), sent in chunks */
        size_t n_ops;
        size_t sent;                  /* ops before this one are written */
        size_t in_flight;             /* ops in the txn under way */
        bool again;                   /* something changed: plan again once the write is done */
        sd_event_source *reconcile_defer;
        sd_event_source *reconcile_timer;
};

static void engine_campaign(Engine *e);
static void engine_reconcile_soon(Engine *e);

/* --- the leader's picture --- */

static void engine_unit_free(void *p) {
        EngineUnit *u = p;
        if (!u)
                return;
        unit_record_done(&u->record);
        unit_options_done(&u->options);
        free(u->group);
        free(u);
}

static void engine_unit_freep(EngineUnit **u) {
        engine_unit_free(*u);
}

static void scheduled_free(void *p) {
        Scheduled *s = p;
        if (!s)
                return;
        free(s->machine);
        free(s->name);
        free(s->hash);
        free(s);
}

static void machine_record_free(void *p) {
        if (p) {
                machine_record_done(p);
                free(p);
        }
}

static const char *key_tail(const char *key) {
        const char *s = strrchr(key, '/');
        return s ? s + 1 : key;
}

static int unit_update(Engine *e, const char *value) {
        _cleanup_(engine_unit_freep) EngineUnit *u = calloc(1, sizeof(*u));
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        json_auto_t *j = json_loads(value, 0, NULL);
        int r;

        if (!u)
                return -ENOMEM;
        if (unit_record_from_json(j, &u->record) < 0 ||
            unit_file_parse(u->record.contents, strlen(u->record.contents), u->record.name, &uf, NULL) < 0 ||
            unit_options_parse(uf, u->record.name, NULL, &u->options) < 0)
                return -EBADMSG;
        if (unit_name_is_instance(u->record.name) && (r = unit_name_template_of(u->record.name, &u->group)) < 0)
                return r;
        r = hashmap_put(e->units, u->record.name, u);
        if (r < 0)
                return r;
        TAKE_PTR(u);
        return 0;
}

/* A record the leader cannot use is ignored (logged); -ENOMEM means the picture lost one that it
 * needs (see engine_picture_lost()). */
static int unit_update_logged(Engine *e, const char *key, const char *value) {
        int r = unit_update(e, value);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                log_warning_errno(r, "Ignoring unit record %s: %m", key);
        else if (e->apps) {
                EngineUnit *u = hashmap_get(e->units, key_tail(key));
                app_controller_unit_changed(e->apps, key_tail(key), u ? &u->record : NULL);
        }
        return 0;
}

static int machine_update(Engine *e, const char *key, const char *value) {
        _cleanup_free_ MachineRecord *m = calloc(1, sizeof(*m));
        json_auto_t *j = json_loads(value, 0, NULL);

        if (!m)
                return -ENOMEM;
        if (machine_record_from_json(j, m) < 0) {
                log_warning("Ignoring machine record %s.", key);
                return 0;
        }
        if (hashmap_put(e->machines, m->id, m) < 0) {
                machine_record_done(m);
                return -ENOMEM;
        }
        TAKE_PTR(m);
        return 0;
}

static int scheduled_update(Engine *e, const char *key, const char *value) {
        _cleanup_free_ char *sched = registry_key(e->prefix, "schedule", "", NULL);
        const char *rest = sched ? startswith(key, sched) : NULL;
        const char *slash = rest ? strchr(rest, '/') : NULL;
        _cleanup_(schedule_record_done) ScheduleRecord rec = {};
        json_auto_t *j = json_loads(value, 0, NULL);
        Scheduled *s;

        if (!sched)
                return -ENOMEM;
        if (!slash || schedule_record_from_json(j, &rec) < 0) {
                log_warning("Ignoring malformed schedule entry %s.", key);
                return 0;
        }
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->machine = strndup(rest, slash - rest);
        s->name = strdup(slash + 1);
        s->hash = TAKE_PTR(rec.hash);
        s->desired = rec.desired;
        if (!s->machine || !s->name || !s->hash || hashmap_put(e->scheduled, rest, s) < 0) {
                scheduled_free(s);
                return -ENOMEM;
        }
        return 0;
}

typedef struct Diff {
        EtcdOp *ops;
        size_t n_ops, allocated;
} Diff;

static void diff_done(Diff *d) {
        for (size_t i = 0; i < d->n_ops; i++) {
                free((char *) d->ops[i].key);
                free((char *) d->ops[i].value);
        }
        free(d->ops);
        *d = (Diff) {};
}

static void on_units_events(EtcdWatch *w, int error, const EtcdEvent *ev, size_t n, void *userdata);
static void on_machines_events(EtcdWatch *w, int error, const EtcdEvent *ev, size_t n, void *userdata);

static void engine_step_down(Engine *e, const char *why) {
        Diff d = { .ops = e->ops, .n_ops = e->n_ops };

        if (e->leader)
                log_notice("No longer the engine leader: %s.", why);
        e->write = etcd_request_cancel(e->write);
        e->apps = app_controller_free(e->apps);
        diff_done(&d);
        e->ops = NULL;
        e->n_ops = e->sent = e->in_flight = 0;
        e->leader = false;
        e->loaded = false;
        e->lease = 0;
        e->load = etcd_request_cancel(e->load);
        e->units_watch = etcd_watch_free(e->units_watch);
        e->machines_watch = etcd_watch_free(e->machines_watch);
        hashmap_clear(e->units);
        hashmap_clear(e->machines);
        hashmap_clear(e->scheduled);
}

/* Leads again a second later, if the leader key is still ours: with a fresh load. */
static void engine_campaign_later(Engine *e) {
        int r = sd_event_source_set_time_relative(e->campaign_retry, USEC_PER_SEC);
        if (r >= 0)
                r = sd_event_source_set_enabled(e->campaign_retry, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Failed to arm the campaign timer, campaigning on the next reconcile: %m");
}

/* The leader's picture lost a record it could not keep (out of memory). Planning on it would
 * move units whose schedule entry it lost, or stop units whose record it lost: it steps down
 * and leads again with a fresh load. */
static void engine_picture_lost(Engine *e, int error, const char *key) {
        log_error_errno(error, "Failed to keep %s in the engine leader's picture, loading everything again: %m", key);
        engine_step_down(e, "its picture of the cluster is incomplete");
        engine_campaign_later(e);
}

static int prefix_range(Engine *e, const char *what, char **ret_key, char **ret_end) {
        *ret_key = registry_key(e->prefix, what, "", NULL);
        *ret_end = *ret_key ? etcd_prefix_end(*ret_key) : NULL;
        if (!*ret_end) {
                free(*ret_key);
                return -ENOMEM;
        }
        return 0;
}

static void on_apps_fenced(AppController *c, void *userdata) {
        Engine *e = userdata;
        engine_step_down(e, "the app controller lost the leader key or its watch");
        engine_campaign(e);
}

/* The app controller runs beside the scheduler while we lead; it learns of every unit the
 * leader loaded, then of each change. */
static int engine_start_apps(Engine *e) {
        AppControllerOptions o = { .prefix = e->prefix, .leader_key = e->leader_key, .machine_id = e->machine_id,
                                   .lease = e->lease };
        size_t i = 0;
        const char *name;
        void *v;
        int r = app_controller_new(e->event, e->etcd, &o, &e->apps);
        if (r < 0)
                return r;
        app_controller_set_fenced_handler(e->apps, on_apps_fenced, e);
        while (hashmap_iterate(e->units, &i, &name, &v))
                app_controller_unit_changed(e->apps, name, &((EngineUnit *) v)->record);
        return 0;
}

/* units/, machines/ and schedule/ from the load's txn. A negative errno: the picture was lost and
 * the engine starts over. */
static int engine_load_records(Engine *e, const EtcdResult *result) {
        static int (* const update[])(Engine *, const char *, const char *) = {
                unit_update_logged, machine_update, scheduled_update,
        };

        for (size_t k = 0; k < ELEMENTSOF(update); k++)
                for (size_t i = 0; i < result->responses[k].n_kvs; i++) {
                        const EtcdKv *kv = &result->responses[k].kvs[i];
                        int r = update[k](e, kv->key, kv->value);
                        if (r < 0) {
                                engine_picture_lost(e, r, kv->key);
                                return r;
                        }
                }
        return 0;
}

static void on_loaded(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        Engine *e = userdata;
        _cleanup_free_ char *uk = NULL, *ue = NULL, *mk = NULL, *me = NULL;
        int r;

        e->load = etcd_request_cancel(e->load);
        if (error < 0 || result->n_responses != 3) {
                log_warning_errno(error, "Failed to load the cluster state as leader: %m");
                engine_step_down(e, "could not load the cluster state");
                engine_campaign(e);
                return;
        }
        r = engine_load_records(e, result);
        if (r < 0)
                return;       /* started over */

        if ((r = prefix_range(e, "units", &uk, &ue)) < 0 || (r = prefix_range(e, "machines", &mk, &me)) < 0 ||
            (r = etcd_client_watch(e->etcd, uk, ue, result->revision + 1, on_units_events, e, &e->units_watch)) < 0 ||
            (r = etcd_client_watch(e->etcd, mk, me, result->revision + 1, on_machines_events, e,
                                   &e->machines_watch)) < 0) {
                log_error_errno(r, "Failed to watch the cluster state: %m");
                engine_step_down(e, "could not watch");
                return engine_campaign_later(e);
        }
        r = engine_start_apps(e);
        if (r < 0) {
                log_error_errno(r, "Failed to start the app controller: %m");
                engine_step_down(e, "no app controller");
                return engine_campaign_later(e);
        }
        app_controller_units_seen(e->apps, result->revision);
        e->loaded = true;
        log_info("Engine leader: %zu unit(s), %zu machine(s), %zu schedule entr%s.", hashmap_size(e->units),
                 hashmap_size(e->machines), hashmap_size(e->scheduled), hashmap_size(e->scheduled) == 1 ? "y" : "ies");
        engine_reconcile_soon(e);
}

static void engine_load(Engine *e) {
        _cleanup_free_ char *uk = NULL, *ue = NULL, *mk = NULL, *me = NULL, *sk = NULL, *se = NULL;

        if (prefix_range(e, "units", &uk, &ue) < 0 || prefix_range(e, "machines", &mk, &me) < 0 ||
            prefix_range(e, "schedule", &sk, &se) < 0) {
                log_oom();
                engine_step_down(e, "could not load the cluster state");
                return engine_campaign_later(e);
        }
        EtcdOp ops[] = {
                { .type = ETCD_OP_RANGE, .key = uk, .range_end = ue },
                { .type = ETCD_OP_RANGE, .key = mk, .range_end = me },
                { .type = ETCD_OP_RANGE, .key = sk, .range_end = se },
        };
        EtcdTxn txn = { .success = ops, .n_success = ELEMENTSOF(ops) };
        int r = etcd_client_txn(e->etcd, &txn, on_loaded, e, &e->load);
        if (r < 0) {
                /* leading without a picture would leave the cluster unscheduled */
                log_error_errno(r, "Failed to load the cluster state: %m");
                engine_step_down(e, "could not load the cluster state");
                engine_campaign_later(e);
        }
}

static void on_units_events(EtcdWatch *w, int error, const EtcdEvent *ev, size_t n, void *userdata) {
        Engine *e = userdata;

        if (error < 0) {
                engine_step_down(e, "the units watch failed");
                return engine_campaign(e);
        }
        for (size_t i = 0; i < n; i++)
                if (ev[i].type == ETCD_EVENT_PUT) {
                        int r = unit_update_logged(e, ev[i].kv.key, ev[i].kv.value);
                        if (r < 0)
                                return engine_picture_lost(e, r, ev[i].kv.key);
                } else {
                        engine_unit_free(hashmap_remove(e->units, key_tail(ev[i].kv.key)));
                        if (e->apps)
                                app_controller_unit_changed(e->apps, key_tail(ev[i].kv.key), NULL);
                }
        if (e->apps)
                app_controller_units_seen(e->apps, etcd_watch_revision(w));
        engine_reconcile_soon(e);
}

static void on_machines_events(EtcdWatch *w, int error, const EtcdEvent *ev, size_t n, void *userdata) {
        Engine *e = userdata;

        if (error < 0) {
                engine_step_down(e, "the machines watch failed");
                return engine_campaign(e);
        }
        for (size_t i = 0; i < n; i++)
                if (ev[i].type == ETCD_EVENT_PUT) {
                        int r = machine_update(e, ev[i].kv.key, ev[i].kv.value);
                        if (r < 0)
                                return engine_picture_lost(e, r, ev[i].kv.key);
                } else {
                        log_info("Machine %s is gone; its units are placed again.", key_tail(ev[i].kv.key));
                        machine_record_free(hashmap_remove(e->machines, key_tail(ev[i].kv.key)));
                }
        engine_reconcile_soon(e);
}

/* --- reconcile: plan, diff against schedule/, write the difference --- */

static int diff_add(Diff *d, EtcdOpType type, char *key, char *value) {
        if (!key)
                return -ENOMEM;
        if (d->n_ops == d->allocated) {
                size_t n = d->allocated ? d->allocated * 2 : 64;
                EtcdOp *o = realloc(d->ops, n * sizeof(EtcdOp));
                if (!o) {
                        free(key);
                        free(value);
                        return -ENOMEM;
                }
                d->ops = o;
                d->allocated = n;
        }
        d->ops[d->n_ops++] = (EtcdOp) { .type = type, .key = key, .value = value };
        return 0;
}

static int diff_put(Engine *e, Diff *d, const char *machine, const EngineUnit *u) {
        ScheduleRecord s = { .name = u->record.name, .hash = u->record.hash, .contents = u->record.contents,
                             .desired = u->record.desired };
        json_auto_t *j = schedule_record_to_json(&s);
        char *value = j ? jx_dumps(j) : NULL;
        if (!value)
                return -ENOMEM;
        return diff_add(d, ETCD_OP_PUT, registry_key(e->prefix, "schedule", machine, u->record.name, NULL), value);
}

/* schedule/ as the leader knows it, borrowing from e->scheduled, in key order. */
static EngineEntry *engine_entries(Engine *e, size_t *ret_n) {
        size_t n = hashmap_size(e->scheduled);
        _cleanup_free_ const char **keys = hashmap_sorted_keys(e->scheduled);
        EngineEntry *entries = keys ? calloc(n + 1, sizeof(EngineEntry)) : NULL;

        for (size_t i = 0; entries && i < n; i++) {
                const Scheduled *s = hashmap_get(e->scheduled, keys[i]);
                entries[i] = (EngineEntry) { s->machine, s->name, s->hash, s->desired };
        }
        *ret_n = n;
        return entries;
}

/* The etcd ops of the diff's changes. */
static int engine_diff_ops(Engine *e, const EngineDiff *diff, Diff *d) {
        int r = 0;

        for (size_t i = 0; r >= 0 && i < diff->n_changes; i++) {
                const EngineChange *c = diff->changes + i;
                if (c->type == ENGINE_CHANGE_DELETE) {
                        r = diff_add(d, ETCD_OP_DELETE, registry_key(e->prefix, "schedule", c->machine, c->name, NULL),
                                     NULL);
                        continue;
                }
                const EngineUnit *u = hashmap_get(e->units, c->name);
                assert(u);    /* a PUT is only for a unit planned, and every planned unit is in e->units */
                r = diff_put(e, d, c->machine, u);
        }
        return r;
}

static void engine_write_next(Engine *e);

/* Applies a written op to our picture of schedule/. 0 or -ENOMEM. */
static int scheduled_apply(Engine *e, const EtcdOp *op) {
        _cleanup_free_ char *sched = registry_key(e->prefix, "schedule", "", NULL);
        const char *rest = sched ? startswith(op->key, sched) : NULL;

        if (!sched)
                return -ENOMEM;
        assert(rest);         /* the engine writes nothing else */
        if (op->type != ETCD_OP_DELETE)
                return scheduled_update(e, op->key, op->value);
        scheduled_free(hashmap_remove(e->scheduled, rest));
        return 0;
}

static void engine_drop_diff(Engine *e) {
        Diff d = { .ops = e->ops, .n_ops = e->n_ops };
        diff_done(&d);
        e->ops = NULL;
        e->n_ops = e->sent = e->in_flight = 0;
}

static void on_written(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        Engine *e = userdata;

        e->write = etcd_request_cancel(e->write);
        if (error < 0) {
                log_warning_errno(error, "Failed to write the schedule, planning again: %m");
                engine_drop_diff(e);
                e->again = true;
        } else if (!result->succeeded) {
                engine_step_down(e, "the leader key is no longer ours");
                return engine_campaign(e);
        } else {
                for (size_t i = e->sent; i < e->sent + e->in_flight; i++) {
                        int r = scheduled_apply(e, &e->ops[i]);
                        if (r < 0)
                                return engine_picture_lost(e, r, e->ops[i].key);
                }
                e->sent += e->in_flight;
                e->in_flight = 0;
        }
        if (e->again) {
                /* units or machines changed meanwhile: the rest of this diff may be stale */
                engine_drop_diff(e);
                e->again = false;
                engine_reconcile_soon(e);
        } else if (e->sent < e->n_ops)
                engine_write_next(e);
        else
                engine_drop_diff(e);
}

/* Sends the next chunk of the plan's diff as one fenced txn (at most TXN_MAX_OPS ops: etcd's
 * --max-txn-ops). The whole diff is computed once; its chunks go one after another until it
 * is written or something changes. */
static void engine_write_next(Engine *e) {
        size_t n = MIN(e->n_ops - e->sent, (size_t) TXN_MAX_OPS);
        EtcdCompare fence[] = {
                { .key = e->leader_key, .target = ETCD_COMPARE_VALUE, .result = ETCD_EQUAL, .value = e->machine_id },
                { .key = e->leader_key, .target = ETCD_COMPARE_LEASE, .result = ETCD_EQUAL, .number = e->lease },
        };
        EtcdTxn txn = { .compares = fence, .n_compares = ELEMENTSOF(fence), .success = e->ops + e->sent,
                        .n_success = n };

        int r = etcd_client_txn(e->etcd, &txn, on_written, e, &e->write);
        if (r < 0) {
                log_error_errno(r, "Failed to write the schedule: %m");
                return engine_drop_diff(e);
        }
        e->in_flight = n;
}

static SchedMachine *engine_sched_machines(Engine *e, size_t *ret_n) {
        size_t n = hashmap_size(e->machines);
        _cleanup_free_ const char **ids = hashmap_sorted_keys(e->machines);
        SchedMachine *machines = ids ? calloc(n + 1, sizeof(SchedMachine)) : NULL;

        for (size_t m = 0; machines && m < n; m++) {
                const MachineRecord *rec = hashmap_get(e->machines, ids[m]);
                machines[m] = (SchedMachine) { rec->id, rec->metadata, rec->n_metadata, rec->state == MACHINE_DRAINING,
                                               rec->cpu_millis, rec->memory_bytes };
        }
        *ret_n = n;
        return machines;
}

/* The units to plan (not inactive, not templates), by name: their names into names, in order. */
static size_t engine_planned_names(Engine *e, const char **uids, const char **names) {
        size_t k = 0;

        for (size_t u = 0; uids[u]; u++) {
                const EngineUnit *eu = hashmap_get(e->units, uids[u]);
                if (eu->record.desired != UNIT_INACTIVE && !unit_name_is_template(uids[u]))
                        names[k++] = uids[u];
        }
        return k;
}

static SchedUnit engine_sched_unit(const EngineUnit *eu, const char *name, const char *current) {
        return (SchedUnit) {
                .name = name, .machine_id = eu->options.machine_id, .machine_of = eu->options.machine_of,
                .machine_metadata = eu->options.machine_metadata, .conflicts = eu->options.conflicts,
                .replaces = eu->options.replaces, .global = eu->options.global,
                .cpu_millis = eu->options.cpu_millis, .memory_bytes = eu->options.memory_bytes,
                .current_machine = current, .group = eu->group,
        };
}

/* The diff between the scheduler's plan and schedule/, as etcd ops into d. */
static int engine_plan(Engine *e, Diff *d) {
        size_t nm, ne, nu = hashmap_size(e->units), k;
        _cleanup_free_ SchedMachine *machines = engine_sched_machines(e, &nm);
        _cleanup_free_ EngineEntry *entries = engine_entries(e, &ne);
        _cleanup_free_ const char **uids = hashmap_sorted_keys(e->units);
        _cleanup_free_ const char **names = calloc(nu + 1, sizeof(char *));
        _cleanup_free_ const char **current = calloc(nu + 1, sizeof(char *));
        _cleanup_free_ SchedUnit *units = calloc(nu + 1, sizeof(SchedUnit));
        _cleanup_free_ EngineTarget *targets = calloc(nu + 1, sizeof(EngineTarget));
        _cleanup_(sched_plan_freep) SchedPlan *plan = NULL;
        _cleanup_(engine_diff_done) EngineDiff diff = {};
        int r;

        if (!machines || !entries || !uids || !names || !current || !units || !targets)
                return -ENOMEM;
        k = engine_planned_names(e, uids, names);
        /* a unit's current machine must not get lost: the scheduler would move it */
        r = engine_current_machines(entries, ne, names, k, current);
        if (r < 0)
                return r;
        for (size_t u = 0; u < k; u++)
                units[u] = engine_sched_unit(hashmap_get(e->units, names[u]), names[u], current[u]);
        r = sched_plan_compute(machines, nm, units, k, &plan);
        if (r < 0)
                return r;
        for (size_t u = 0; u < k; u++) {
                const EngineUnit *eu = hashmap_get(e->units, names[u]);
                targets[u] = (EngineTarget) { names[u], eu->record.hash, eu->record.desired, &plan->placements[u] };
                if (plan->placements[u].status == SCHED_UNSCHEDULABLE)
                        log_debug("Cannot place %s: %s", names[u], plan->placements[u].reason);
        }
        r = engine_diff(entries, ne, targets, k, &diff);
        if (r < 0)
                return r;
        return engine_diff_ops(e, &diff, d);
}

static int on_reconcile(sd_event_source *s, void *userdata) {
        Engine *e = userdata;
        Diff d = {};
        int r;

        if (!e->leader || !e->loaded)
                return 0;
        if (e->write) {
                e->again = true;
                return 0;
        }
        r = engine_plan(e, &d);
        if (r < 0) {
                diff_done(&d);
                return log_error_errno(r, "Failed to plan: %m");
        }
        if (d.n_ops > 0) {
                log_info("Scheduling: %zu change(s) to schedule/.", d.n_ops);
                e->ops = d.ops;
                e->n_ops = d.n_ops;
                e->sent = e->in_flight = 0;
                d = (Diff) {};
                engine_write_next(e);
        }
        diff_done(&d);
        return 0;
}

static int on_reconcile_time(sd_event_source *s, uint64_t usec, void *userdata) {
        return on_reconcile(s, userdata);
}

static void engine_reconcile_soon(Engine *e) {
        int enabled, r = 0;

        if (!e->reconcile_defer)
                r = sd_event_add_time_relative(e->event, &e->reconcile_defer, CLOCK_MONOTONIC, RECONCILE_DELAY, 1,
                                               on_reconcile_time, e);
        else if (sd_event_source_get_enabled(e->reconcile_defer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return;       /* already due: changes coalesce into that pass */
        else
                r = sd_event_source_set_time_relative(e->reconcile_defer, RECONCILE_DELAY);
        if (r >= 0)
                r = sd_event_source_set_enabled(e->reconcile_defer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Failed to arm the reconcile pass, leaving it to the periodic one: %m");
}

static int on_reconcile_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Engine *e = userdata;
        if (!e->leader && !e->leader_watch)
                engine_campaign(e);
        engine_reconcile_soon(e);
        int r = sd_event_source_set_time_relative(s, e->reconcile_interval);
        if (r < 0)
                return log_error_errno(r, "Failed to re-arm the periodic reconcile: %m");
        return 0;
}

/* --- election --- */

static int on_campaign_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        engine_campaign(userdata);
        return 0;
}

static void on_leader_key(EtcdWatch *w, int error, const EtcdEvent *ev, size_t n, void *userdata) {
        Engine *e = userdata;
        bool deleted = error < 0;

        for (size_t i = 0; i < n; i++)
                deleted = deleted || ev[i].type == ETCD_EVENT_DELETE;
        if (!deleted)
                return;
        e->leader_watch = etcd_watch_free(e->leader_watch);
        if (e->leader)
                engine_step_down(e, "the leader key was deleted");
        engine_campaign(e);
}

static void on_campaign(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        Engine *e = userdata;
        int64_t lease = presence_lease(e->presence);
        int r;

        e->campaign = etcd_request_cancel(e->campaign);
        if (error < 0) {
                log_debug_errno(error, "Campaign failed, trying again: %m");
                return engine_campaign_later(e);
        }

        const EtcdKv *holder = result->n_responses > 0 && result->responses[0].n_kvs > 0 ? &result->responses[0].kvs[0]
                                                                                            : NULL;
        bool ours = result->succeeded || (holder && streq(holder->value, e->machine_id) && holder->lease == lease);

        e->leader_watch = etcd_watch_free(e->leader_watch);
        r = etcd_client_watch(e->etcd, e->leader_key, NULL, result->revision + 1, on_leader_key, e, &e->leader_watch);
        if (r < 0)
                log_error_errno(r, "Failed to watch %s: %m", e->leader_key);

        if (ours && !e->leader) {
                e->leader = true;
                e->lease = lease;
                log_notice("This machine is now the engine leader.");
                engine_load(e);
        } else if (!ours)
                log_info("Engine leader is %s.", holder ? holder->value : "(unknown)");
}

static void engine_campaign(Engine *e) {
        int64_t lease = presence_lease(e->presence);

        if (lease <= 0 || presence_state(e->presence) != PRESENCE_REGISTERED || e->campaign)
                return;
        EtcdCompare cmp = { .key = e->leader_key, .target = ETCD_COMPARE_CREATE, .result = ETCD_EQUAL, .number = 0 };
        EtcdOp put = { .type = ETCD_OP_PUT, .key = e->leader_key, .value = e->machine_id, .lease = lease };
        EtcdOp get = { .type = ETCD_OP_RANGE, .key = e->leader_key };
        EtcdTxn txn = { .compares = &cmp, .n_compares = 1, .success = &put, .n_success = 1, .failure = &get,
                        .n_failure = 1 };
        int r = etcd_client_txn(e->etcd, &txn, on_campaign, e, &e->campaign);
        if (r < 0)
                log_error_errno(r, "Failed to campaign for leadership: %m");
}

void engine_lease_changed(Engine *e) {
        assert(e);

        if (e->leader && e->lease != presence_lease(e->presence))
                engine_step_down(e, "the machine lease changed");
        engine_campaign(e);
}

bool engine_is_leader(Engine *e) {
        assert(e);
        return e->leader;
}

int engine_new(sd_event *ev, EtcdClient *etcd, Presence *presence, const char *prefix, const char *machine_id,
               usec_t reconcile_interval, Engine **ret) {
        _cleanup_(engine_freep) Engine *e = NULL;
        int r;

        assert(ev);
        assert(etcd);
        assert(presence);
        assert(prefix);
        assert(machine_id);
        assert(ret);

        e = calloc(1, sizeof(Engine));
        if (!e)
                return -ENOMEM;
        e->event = sd_event_ref(ev);
        e->etcd = etcd;
        e->presence = presence;
        e->reconcile_interval = reconcile_interval;
        e->prefix = strdup(prefix);
        e->machine_id = strdup(machine_id);
        e->leader_key = registry_key(prefix, "engine", "leader", NULL);
        e->units = hashmap_new(engine_unit_free);
        e->machines = hashmap_new(machine_record_free);
        e->scheduled = hashmap_new(scheduled_free);
        if (!e->prefix || !e->machine_id || !e->leader_key || !e->units || !e->machines || !e->scheduled)
                return -ENOMEM;
        r = sd_event_add_time_relative(ev, &e->campaign_retry, CLOCK_MONOTONIC, USEC_PER_SEC, 0, on_campaign_retry, e);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(e->campaign_retry, SD_EVENT_OFF);
        if (r < 0)
                return r;
        if (reconcile_interval > 0) {
                r = sd_event_add_time_relative(ev, &e->reconcile_timer, CLOCK_MONOTONIC, reconcile_interval,
                                               USEC_PER_SEC, on_reconcile_timer, e);
                if (r < 0)
                        return r;
                r = sd_event_source_set_enabled(e->reconcile_timer, SD_EVENT_ON);
                if (r < 0)
                        return r;
        }
        engine_campaign(e);
        *ret = TAKE_PTR(e);
        return 0;
}

Engine *engine_free(Engine *e) {
        if (!e)
                return NULL;
        etcd_request_cancel(e->campaign);
        etcd_watch_free(e->leader_watch);
        engine_step_down(e, "shutting down");
        sd_event_source_disable_unref(e->campaign_retry);
        sd_event_source_disable_unref(e->reconcile_defer);
        sd_event_source_disable_unref(e->reconcile_timer);
        hashmap_free(e->units);
        hashmap_free(e->machines);
        hashmap_free(e->scheduled);
        sd_event_unref(e->event);
        free(e->prefix);
        free(e->machine_id);
        free(e->leader_key);
        free(e);
        return NULL;
}
