/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

#include "app-controller.h"
#include "basic/hashmap.h"
#include "basic/json-util.h"
#include "basic/strv.h"
#include "engine-events.h"
#include "engine-plan.h"
#include "engine.h"
#include "lock-sweep.h"
#include "metrics.h"
#include "log.h"
#include "registry.h"
#include "unit-name.h"

#define TXN_MAX_OPS 100               /* etcd's --max-txn-ops is 128; 2 go to the fence */
#define RECONCILE_DELAY (10 * USEC_PER_MSEC)
#define DRAIN_MOVES_AT_ONCE 4         /* plain units moving off draining machines at once */
#define DRAIN_MOVE_TIMEOUT (30 * USEC_PER_SEC)
#define REBALANCE_TIMEOUT (10 * 60 * USEC_PER_SEC)

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

/* A plain unit moving off a draining machine: in flight until its state on the new machine
 * says active or failed, or DRAIN_MOVE_TIMEOUT passed. */
typedef struct Move {
        char *machine;                /* where it goes */
        usec_t started;               /* CLOCK_MONOTONIC */
} Move;

/* A rebalance/<id> record, and when this leader first saw it (realtime, for a record
 * without "since"). */
typedef struct Rebalance {
        RebalanceRecord record;
        uint64_t seen_usec;
} Rebalance;

/* The prefixes the leader reads in its load txn, in this order (one revision), and watches
 * from there (all but schedule/ and placement/, which only the leader writes). */
typedef enum EngineSourceType {
        SOURCE_UNITS,
        SOURCE_MACHINES,
        SOURCE_SCHEDULE,
        SOURCE_DRAINS,
        SOURCE_REBALANCES,
        SOURCE_PLACEMENTS,
        SOURCE_STATES,
        _SOURCE_MAX,
} EngineSourceType;

typedef struct Engine Engine;

/* One watch, with what its callback needs to know. */
typedef struct EngineWatch {
        Engine *engine;
        EngineSourceType source;
        EtcdWatch *watch;
} EngineWatch;

struct Engine {
        sd_event *event;
        EtcdClient *etcd;
        Presence *presence;
        char *prefix;
        char *machine_id;
        char *leader_key;
        usec_t reconcile_interval;
        usec_t reboot_slot_timeout;

        int64_t lease;                /* the lease engine/leader is bound to while we lead */
        bool leader;
        EtcdRequest *campaign;
        EtcdWatch *leader_watch;
        sd_event_source *campaign_retry;

        Hashmap *units;               /* name -> EngineUnit* */
        Hashmap *machines;            /* id -> MachineRecord* */
        Hashmap *scheduled;           /* "machine/name" -> Scheduled* */
        Hashmap *drains;              /* machine id -> DrainRecord*: drain/<id> */
        Hashmap *rebalances;          /* machine id -> Rebalance*: rebalance/<id> */
        Hashmap *placements;          /* unit -> PlacementRecord*: placement/ (the leader writes it) */
        Hashmap *moves;               /* unit -> Move*: moves off draining machines in flight */
        Hashmap *rebalancing;         /* unit -> its app (a string): instances replaced to rebalance */
        EtcdRequest *load;
        EngineWatch watches[_SOURCE_MAX];
        bool loaded;

        AppController *apps;          /* the app controller, while we lead */
        LockSweep *locks;             /* the reboot slot sweep, while we lead */
        EtcdRequest *write;           /* one txn in flight */
        EtcdOp *ops;                  /* the plan's ops (and their strings), sent in chunks */
        size_t n_ops;
        size_t sent;                  /* ops before this one are written */
        size_t in_flight;             /* ops in the txn under way */
        bool again;                   /* something changed: plan again once the write is done */
        EngineMoves placed;           /* the placements and moves of that diff, told as written */
        sd_event_source *reconcile_defer;
        sd_event_source *reconcile_timer;
        sd_event_source *move_timer;  /* the next move's DRAIN_MOVE_TIMEOUT */
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

static void drain_record_free(void *p) {
        if (p) {
                drain_record_done(p);
                free(p);
        }
}

static void rebalance_free(void *p) {
        Rebalance *b = p;
        if (b) {
                rebalance_record_done(&b->record);
                free(b);
        }
}

static void placement_record_free(void *p) {
        if (p) {
                placement_record_done(p);
                free(p);
        }
}

static void move_free(void *p) {
        Move *m = p;
        if (m) {
                free(m->machine);
                free(m);
        }
}

static const char *key_tail(const char *key) {
        const char *s = strrchr(key, '/');
        return s ? s + 1 : key;
}

static bool engine_machine_draining(Engine *e, const char *id) {
        const MachineRecord *m = hashmap_get(e->machines, id);
        return hashmap_get(e->drains, id) || (m && m->state == MACHINE_DRAINING);
}

static const char *engine_machine_name(Engine *e, const char *id) {
        const MachineRecord *m = hashmap_get(e->machines, id);
        return m && m->hostname ? m->hostname : id;
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
static int unit_put(Engine *e, const EtcdKv *kv) {
        int r = unit_update(e, kv->value);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                log_warning_errno(r, "Ignoring unit record %s: %m", kv->key);
        else if (e->apps) {
                EngineUnit *u = hashmap_get(e->units, key_tail(kv->key));
                app_controller_unit_changed(e->apps, key_tail(kv->key), u ? &u->record : NULL);
        }
        return 0;
}

static void unit_remove(Engine *e, const char *key) {
        const char *name = key_tail(key);

        engine_unit_free(hashmap_remove(e->units, name));
        free(hashmap_remove(e->rebalancing, name));
        move_free(hashmap_remove(e->moves, name));
        if (e->apps)
                app_controller_unit_changed(e->apps, name, NULL);
}

static int machine_put(Engine *e, const EtcdKv *kv) {
        _cleanup_free_ MachineRecord *m = calloc(1, sizeof(*m));
        json_auto_t *j = json_loads(kv->value, 0, NULL);

        if (e->loaded)
                engine_machine_event(e->machines, kv->key, kv->value);
        if (!m)
                return -ENOMEM;
        if (machine_record_from_json(j, m) < 0) {
                log_warning("Ignoring machine record %s.", kv->key);
                return 0;
        }
        if (hashmap_put(e->machines, m->id, m) < 0) {
                machine_record_done(m);
                return -ENOMEM;
        }
        TAKE_PTR(m);
        return 0;
}

static void machine_remove(Engine *e, const char *key) {
        if (e->loaded)
                log_info("Machine %s is gone; its units are placed again.", key_tail(key));
        if (e->loaded)
                engine_machine_event(e->machines, key, NULL);
        machine_record_free(hashmap_remove(e->machines, key_tail(key)));
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

static int scheduled_put(Engine *e, const EtcdKv *kv) {
        return scheduled_update(e, kv->key, kv->value);
}

static int drain_put(Engine *e, const EtcdKv *kv) {
        _cleanup_free_ DrainRecord *d = calloc(1, sizeof(*d));
        json_auto_t *j = json_loads(kv->value, 0, NULL);
        const DrainRecord *old;

        if (!d)
                return -ENOMEM;
        if (drain_record_from_json(j, d) < 0 || !streq(d->machine, key_tail(kv->key))) {
                log_warning("Ignoring malformed drain record %s.", kv->key);
                return 0;
        }
        old = hashmap_get(e->drains, d->machine);
        if (!old || old->force != d->force)
                log_notice("Machine %s is draining%s (asked by %s through %s).", engine_machine_name(e, d->machine),
                           d->force ? " with force: what cannot move is stopped" : "", strna(d->by), d->source);
        if (hashmap_put(e->drains, d->machine, d) < 0) {
                drain_record_done(d);
                return -ENOMEM;
        }
        TAKE_PTR(d);
        return 0;
}

static void drain_remove(Engine *e, const char *key) {
        if (hashmap_get(e->drains, key_tail(key)))
                log_notice("Machine %s is no longer draining.", engine_machine_name(e, key_tail(key)));
        drain_record_free(hashmap_remove(e->drains, key_tail(key)));
}

static int rebalance_put(Engine *e, const EtcdKv *kv) {
        _cleanup_free_ Rebalance *b = calloc(1, sizeof(*b));
        json_auto_t *j = json_loads(kv->value, 0, NULL);
        const Rebalance *old;

        if (!b)
                return -ENOMEM;
        if (rebalance_record_from_json(j, &b->record) < 0 || !streq(b->record.machine, key_tail(kv->key))) {
                log_warning("Ignoring malformed rebalance record %s.", kv->key);
                return 0;
        }
        old = hashmap_get(e->rebalances, b->record.machine);
        b->seen_usec = old ? old->seen_usec : now_usec(CLOCK_REALTIME);
        if (!old)
                log_notice("Rebalancing apps after machine %s came back (asked by %s).",
                           engine_machine_name(e, b->record.machine), strna(b->record.by));
        if (hashmap_put(e->rebalances, b->record.machine, b) < 0) {
                rebalance_record_done(&b->record);
                return -ENOMEM;
        }
        TAKE_PTR(b);
        return 0;
}

static void rebalance_remove(Engine *e, const char *key) {
        rebalance_free(hashmap_remove(e->rebalances, key_tail(key)));
        if (hashmap_size(e->rebalances) == 0 && hashmap_size(e->rebalancing) > 0) {
                /* the rebalance ended: the instances it was replacing stay */
                hashmap_clear(e->rebalancing);
                engine_reconcile_soon(e);
        }
}

static int placement_update(Engine *e, const char *key, const char *value) {
        _cleanup_free_ PlacementRecord *p = calloc(1, sizeof(*p));
        json_auto_t *j = json_loads(value, 0, NULL);

        if (!p)
                return -ENOMEM;
        if (placement_record_from_json(j, p) < 0 || !streq(p->name, key_tail(key))) {
                /* the next plan writes it as it should be */
                log_warning("Ignoring malformed placement record %s.", key);
                return 0;
        }
        if (hashmap_put(e->placements, p->name, p) < 0) {
                placement_record_done(p);
                return -ENOMEM;
        }
        TAKE_PTR(p);
        return 0;
}

static int placement_put(Engine *e, const EtcdKv *kv) {
        return placement_update(e, kv->key, kv->value);
}

/* A move in flight ends when the unit's state on its new machine says active or failed. */
static void move_check(Engine *e, const char *unit, const char *machine, const char *value) {
        const Move *m = hashmap_get(e->moves, unit);
        _cleanup_(state_record_done) StateRecord s = {};
        json_auto_t *j = NULL;

        if (!m || !streq(m->machine, machine))
                return;
        j = json_loads(value, 0, NULL);
        if (state_record_from_json(j, &s) < 0 || !(streq_ptr(s.active, "active") || streq_ptr(s.active, "failed")))
                return;
        log_unit_info(unit, "Moved %s off its draining machine: %s on %s.", unit, s.active,
                      engine_machine_name(e, m->machine));
        move_free(hashmap_remove(e->moves, unit));
        engine_reconcile_soon(e);
}

/* state/<unit>/<machine>: the app controller's, and the end of a move in flight. */
static void state_changed(Engine *e, const EtcdKv *kv, bool deleted) {
        _cleanup_free_ char *sk = registry_key(e->prefix, "state", "", NULL);
        const char *rest = sk ? startswith(kv->key, sk) : NULL, *slash = rest ? strrchr(rest, '/') : NULL;
        _cleanup_free_ char *unit = slash ? strndup(rest, slash - rest) : NULL;

        if (e->apps)
                app_controller_state_changed(e->apps, kv, deleted);
        if (unit && !deleted)
                move_check(e, unit, slash + 1, kv->value);
        /* health decides what may be rebalanced */
        if (hashmap_size(e->rebalances) > 0)
                engine_reconcile_soon(e);
}

static int state_put(Engine *e, const EtcdKv *kv) {
        state_changed(e, kv, false);
        return 0;
}

static void state_remove(Engine *e, const char *key) {
        EtcdKv kv = { .key = (char *) key, .value = (char *) "" };
        state_changed(e, &kv, true);
}

/* How the leader reads each prefix: put keeps a record (a negative errno: the picture lost
 * one), remove drops one (NULL: not watched), replan: a change plans again. */
typedef struct EngineSource {
        const char *what;
        int (*put)(Engine *e, const EtcdKv *kv);
        void (*remove)(Engine *e, const char *key);
        bool replan;
} EngineSource;

static const EngineSource sources[_SOURCE_MAX] = {
        [SOURCE_UNITS] = { "units", unit_put, unit_remove, true },
        [SOURCE_MACHINES] = { "machines", machine_put, machine_remove, true },
        [SOURCE_SCHEDULE] = { "schedule", scheduled_put, NULL, false },
        [SOURCE_DRAINS] = { "drain", drain_put, drain_remove, true },
        [SOURCE_REBALANCES] = { "rebalance", rebalance_put, rebalance_remove, true },
        [SOURCE_PLACEMENTS] = { "placement", placement_put, NULL, false },
        [SOURCE_STATES] = { "state", state_put, state_remove, false },
};

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

static void engine_drop_diff(Engine *e) {
        Diff d = { .ops = e->ops, .n_ops = e->n_ops };
        engine_moves_done(&e->placed);
        diff_done(&d);
        e->ops = NULL;
        e->n_ops = e->sent = e->in_flight = 0;
}

static void engine_step_down(Engine *e, const char *why) {
        if (e->leader)
                log_notice("No longer the engine leader: %s.", why);
        e->write = etcd_request_cancel(e->write);
        e->apps = app_controller_free(e->apps);
        e->locks = lock_sweep_free(e->locks);
        engine_drop_diff(e);
        engine_leader_changed(false, e->machine_id);
        e->leader = false;
        e->loaded = false;
        e->lease = 0;
        e->load = etcd_request_cancel(e->load);
        for (size_t k = 0; k < _SOURCE_MAX; k++)
                e->watches[k].watch = etcd_watch_free(e->watches[k].watch);
        (void) sd_event_source_set_enabled(e->move_timer, SD_EVENT_OFF);
        hashmap_clear(e->units);
        hashmap_clear(e->machines);
        hashmap_clear(e->scheduled);
        hashmap_clear(e->drains);
        hashmap_clear(e->rebalances);
        hashmap_clear(e->placements);
        hashmap_clear(e->moves);
        hashmap_clear(e->rebalancing);
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
                *ret_key = NULL;
                return -ENOMEM;
        }
        return 0;
}

static void on_apps_fenced(AppController *c, void *userdata) {
        Engine *e = userdata;
        engine_step_down(e, "the app controller lost the leader key or its watch");
        engine_campaign(e);
}

/* Which instances are settled or blocked matters only to drains (placement/ records) and
 * rebalances. */
static void on_apps_changed(AppController *c, void *userdata) {
        Engine *e = userdata;

        if (hashmap_size(e->drains) > 0 || hashmap_size(e->rebalances) > 0)
                engine_reconcile_soon(e);
}

/* The app controller and the reboot slot sweep run beside the scheduler while we lead. The
 * controller comes first, so that it learns of every unit and state the load reads. */
static int engine_start_helpers(Engine *e) {
        AppControllerOptions o = { .prefix = e->prefix, .leader_key = e->leader_key, .machine_id = e->machine_id,
                                   .lease = e->lease };
        LockSweepOptions l = { .prefix = e->prefix, .leader_key = e->leader_key, .machine_id = e->machine_id,
                               .lease = e->lease, .timeout = e->reboot_slot_timeout };
        int r = app_controller_new(e->event, e->etcd, &o, &e->apps);
        if (r < 0)
                return r;
        app_controller_set_fenced_handler(e->apps, on_apps_fenced, e);
        app_controller_set_changed_handler(e->apps, on_apps_changed, e);
        return lock_sweep_new(e->event, e->etcd, &l, &e->locks);
}

static void on_events(EtcdWatch *w, int error, const EtcdEvent *ev, size_t n, void *userdata) {
        EngineWatch *ew = userdata;
        Engine *e = ew->engine;
        const EngineSource *src = &sources[ew->source];

        if (error < 0) {
                log_warning_errno(error, "The engine leader's watch of %s/ ended: %m", src->what);
                engine_step_down(e, "a watch failed");
                return engine_campaign(e);
        }
        for (size_t i = 0; i < n; i++) {
                if (ev[i].type == ETCD_EVENT_DELETE) {
                        src->remove(e, ev[i].kv.key);
                        continue;
                }
                int r = src->put(e, &ev[i].kv);
                if (r < 0)
                        return engine_picture_lost(e, r, ev[i].kv.key);
        }
        if (ew->source == SOURCE_UNITS && e->apps)
                app_controller_units_seen(e->apps, etcd_watch_revision(w));
        if (src->replan)
                engine_reconcile_soon(e);
}

/* Every prefix from the load's txn; a negative errno: the picture was lost and the engine
 * starts over. */
static int engine_load_records(Engine *e, const EtcdResult *result) {
        for (size_t k = 0; k < _SOURCE_MAX; k++)
                for (size_t i = 0; i < result->responses[k].n_kvs; i++) {
                        const EtcdKv *kv = &result->responses[k].kvs[i];
                        int r = sources[k].put(e, kv);
                        if (r < 0) {
                                engine_picture_lost(e, r, kv->key);
                                return r;
                        }
                }
        return 0;
}

/* Watches every prefix that others write, from the load's revision on. */
static int engine_watch(Engine *e, int64_t revision) {
        for (size_t k = 0; k < _SOURCE_MAX; k++) {
                _cleanup_free_ char *key = NULL, *end = NULL;
                int r;

                if (!sources[k].remove)
                        continue;
                r = prefix_range(e, sources[k].what, &key, &end);
                if (r < 0)
                        return r;
                e->watches[k] = (EngineWatch) { .engine = e, .source = k };
                r = etcd_client_watch(e->etcd, key, end, revision + 1, on_events, &e->watches[k],
                                      &e->watches[k].watch);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void on_loaded(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        Engine *e = userdata;
        int r;

        e->load = etcd_request_cancel(e->load);
        if (error < 0 || result->n_responses != _SOURCE_MAX) {
                log_warning_errno(error, "Failed to load the cluster state as leader: %m");
                engine_step_down(e, "could not load the cluster state");
                engine_campaign(e);
                return;
        }
        r = engine_start_helpers(e);
        if (r < 0) {
                log_error_errno(r, "Failed to start the app controller or the reboot slot sweep: %m");
                engine_step_down(e, "no app controller");
                return engine_campaign_later(e);
        }
        r = engine_load_records(e, result);
        if (r < 0)
                return;       /* started over */
        app_controller_units_seen(e->apps, result->revision);
        r = engine_watch(e, result->revision);
        if (r < 0) {
                log_error_errno(r, "Failed to watch the cluster state: %m");
                engine_step_down(e, "could not watch");
                return engine_campaign_later(e);
        }
        e->loaded = true;
        log_info("Engine leader: %zu unit(s), %zu machine(s) (%zu draining), %zu schedule entr%s.",
                 hashmap_size(e->units), hashmap_size(e->machines), hashmap_size(e->drains),
                 hashmap_size(e->scheduled), hashmap_size(e->scheduled) == 1 ? "y" : "ies");
        engine_reconcile_soon(e);
}

static void engine_load(Engine *e) {
        char *keys[_SOURCE_MAX] = {}, *ends[_SOURCE_MAX] = {};
        EtcdOp ops[_SOURCE_MAX];
        int r = 0;

        for (size_t k = 0; r >= 0 && k < _SOURCE_MAX; k++) {
                r = prefix_range(e, sources[k].what, &keys[k], &ends[k]);
                ops[k] = (EtcdOp) { .type = ETCD_OP_RANGE, .key = keys[k], .range_end = ends[k] };
        }
        if (r >= 0) {
                EtcdTxn txn = { .success = ops, .n_success = _SOURCE_MAX };
                r = etcd_client_txn(e->etcd, &txn, on_loaded, e, &e->load);
        }
        for (size_t k = 0; k < _SOURCE_MAX; k++) {
                free(keys[k]);
                free(ends[k]);
        }
        if (r < 0) {
                /* leading without a picture would leave the cluster unscheduled */
                log_error_errno(r, "Failed to load the cluster state: %m");
                engine_step_down(e, "could not load the cluster state");
                engine_campaign_later(e);
        }
}

/* --- moves off draining machines in flight --- */

static int on_move_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        engine_reconcile_soon(userdata);      /* its pass drops the moves that timed out */
        return 0;
}

/* Drops the moves that are over by time, or that were never written (their new entry is not in
 * schedule/: the write failed or was dropped; planned again, they are moves again), and arms
 * the timer for the next one to time out. Returns how many are in flight. */
static size_t engine_moves_in_flight(Engine *e) {
        usec_t now = now_usec(CLOCK_MONOTONIC), next = USEC_INFINITY;
        _cleanup_free_ const char **names = hashmap_sorted_keys(e->moves);
        int r;

        for (size_t i = 0; names && names[i]; i++) {
                Move *m = hashmap_get(e->moves, names[i]);
                _cleanup_free_ char *key = NULL;

                if (asprintf(&key, "%s/%s", m->machine, names[i]) < 0)
                        key = NULL;
                if (now - m->started >= DRAIN_MOVE_TIMEOUT || !key || !hashmap_get(e->scheduled, key)) {
                        move_free(hashmap_remove(e->moves, names[i]));
                        continue;
                }
                next = MIN(next, m->started + DRAIN_MOVE_TIMEOUT);
        }
        r = next == USEC_INFINITY ? sd_event_source_set_enabled(e->move_timer, SD_EVENT_OFF)
                                  : sd_event_source_set_time(e->move_timer, next);
        if (r >= 0 && next != USEC_INFINITY)
                r = sd_event_source_set_enabled(e->move_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Failed to arm the timer of moves off draining machines: %m");
        return hashmap_size(e->moves);
}

static int engine_move_started(Engine *e, const char *name, const char *machine) {
        Move *m = calloc(1, sizeof(*m));

        if (!m || !(m->machine = strdup(machine)) || hashmap_put(e->moves, name, m) < 0) {
                move_free(m);
                return -ENOMEM;
        }
        m->started = now_usec(CLOCK_MONOTONIC);
        log_unit_info(name, "Moving %s off its draining machine to %s.", name, engine_machine_name(e, machine));
        return 0;
}

/* --- reconcile: plan, diff against schedule/ and placement/, write the difference --- */

static int diff_add(Diff *d, EtcdOpType type, char *key, char *value) {
        if (!key) {
                free(value);
                return -ENOMEM;
        }
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

/* One pass's inputs to the scheduler and the diffs, borrowing from the picture. */
typedef struct Planning {
        SchedMachine *machines;
        size_t n_machines;
        EngineEntry *entries;         /* schedule/ as the leader knows it, in key order */
        size_t n_entries;
        const char **uids;            /* every unit, sorted */
        const char **names;           /* the units to plan (not inactive, not templates) */
        const char **current;         /* their current machines */
        SchedUnit *units;
        EngineTarget *targets;
        char **blocked;               /* owned: the targets' blocked reasons */
        size_t n_units;
        SchedPlan *plan;
} Planning;

static void planning_done(Planning *p) {
        for (size_t u = 0; p->blocked && u < p->n_units; u++)
                free(p->blocked[u]);
        free(p->machines);
        free(p->entries);
        free(p->uids);
        free(p->names);
        free(p->current);
        free(p->units);
        free(p->targets);
        free(p->blocked);
        sched_plan_free(p->plan);
        *p = (Planning) {};
}

static int planning_machines(Engine *e, Planning *p) {
        _cleanup_free_ const char **ids = hashmap_sorted_keys(e->machines);
        size_t n = hashmap_size(e->machines);

        p->machines = ids ? calloc(n + 1, sizeof(SchedMachine)) : NULL;
        if (!p->machines)
                return -ENOMEM;
        for (size_t m = 0; m < n; m++) {
                const MachineRecord *rec = hashmap_get(e->machines, ids[m]);
                const DrainRecord *drain = hashmap_get(e->drains, rec->id);
                p->machines[m] = (SchedMachine) { .id = rec->id, .metadata = rec->metadata,
                                                  .n_metadata = rec->n_metadata,
                                                  .draining = engine_machine_draining(e, rec->id),
                                                  .drain_force = drain && drain->force, .name = rec->hostname,
                                                  .cpu_millis = rec->cpu_millis, .memory_bytes = rec->memory_bytes };
        }
        p->n_machines = n;
        return 0;
}

static int planning_entries(Engine *e, Planning *p) {
        _cleanup_free_ const char **keys = hashmap_sorted_keys(e->scheduled);
        size_t n = hashmap_size(e->scheduled);

        p->entries = keys ? calloc(n + 1, sizeof(EngineEntry)) : NULL;
        if (!p->entries)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const Scheduled *s = hashmap_get(e->scheduled, keys[i]);
                p->entries[i] = (EngineEntry) { s->machine, s->name, s->hash, s->desired,
                                                engine_machine_draining(e, s->machine) };
        }
        p->n_entries = n;
        return 0;
}

static SchedUnit engine_sched_unit(Engine *e, const EngineUnit *eu, const char *name, const char *current) {
        bool app = eu->record.app;
        return (SchedUnit) {
                .name = name, .machine_id = eu->options.machine_id, .machine_of = eu->options.machine_of,
                .machine_metadata = eu->options.machine_metadata, .conflicts = eu->options.conflicts,
                .replaces = eu->options.replaces, .global = eu->options.global,
                .cpu_millis = eu->options.cpu_millis, .memory_bytes = eu->options.memory_bytes,
                .current_machine = current, .group = eu->group, .app_instance = app,
                .settled = app && e->apps && app_controller_instance_settled(e->apps, name) &&
                           !hashmap_get(e->rebalancing, name),
        };
}

/* The units to plan, where they are, and the scheduler's plan for them. */
static int planning_compute(Engine *e, Planning *p) {
        size_t nu = hashmap_size(e->units), k = 0;
        int r;

        p->uids = hashmap_sorted_keys(e->units);
        p->names = calloc(nu + 1, sizeof(char *));
        p->current = calloc(nu + 1, sizeof(char *));
        p->units = calloc(nu + 1, sizeof(SchedUnit));
        p->targets = calloc(nu + 1, sizeof(EngineTarget));
        p->blocked = calloc(nu + 1, sizeof(char *));
        if (!p->uids || !p->names || !p->current || !p->units || !p->targets || !p->blocked)
                return -ENOMEM;
        for (size_t u = 0; p->uids[u]; u++) {
                const EngineUnit *eu = hashmap_get(e->units, p->uids[u]);
                if (eu->record.desired != UNIT_INACTIVE && !unit_name_is_template(p->uids[u]))
                        p->names[k++] = p->uids[u];
        }
        p->n_units = k;
        /* a unit's current machine must not get lost: the scheduler would move it */
        r = engine_current_machines(p->entries, p->n_entries, p->names, k, p->current);
        if (r < 0)
                return r;
        for (size_t u = 0; u < k; u++)
                p->units[u] = engine_sched_unit(e, hashmap_get(e->units, p->names[u]), p->names[u], p->current[u]);
        return sched_plan_compute(p->machines, p->n_machines, p->units, k, &p->plan);
}

/* While a rebalance/ record exists: one instance per app at a time, of those the plan marks. */
static int engine_pick_rebalance(Engine *e, const Planning *p) {
        if (hashmap_size(e->rebalances) == 0)
                return 0;
        for (size_t u = 0; u < p->n_units; u++) {
                const SchedPlacement *pl = &p->plan->placements[u];
                const EngineUnit *eu = hashmap_get(e->units, p->names[u]);
                bool busy = false;
                size_t i = 0;
                void *v;

                if (!pl->rebalance)
                        continue;
                while (!busy && hashmap_iterate(e->rebalancing, &i, NULL, &v))
                        busy = streq(v, eu->record.app);
                if (busy)
                        continue;
                char *app = strdup(eu->record.app);
                if (!app || hashmap_put(e->rebalancing, p->names[u], app) < 0) {
                        free(app);
                        return -ENOMEM;
                }
                log_unit_info(p->names[u], "Rebalancing app %s: replacing %s, on %s, which has more of its kind than "
                              "another machine may take.", eu->record.app, p->names[u],
                              engine_machine_name(e, pl->machine_id));
        }
        return 0;
}

/* Tells the app controller which instances to replace (on a draining machine, or picked to
 * rebalance) and which cannot be placed; and keeps, for the placement records, why an
 * instance on a draining machine cannot leave it yet. */
static int engine_tell_apps(Engine *e, Planning *p) {
        for (size_t u = 0; e->apps && u < p->n_units; u++) {
                const char *name = p->names[u], *cur = p->current[u], *blocked;
                const SchedPlacement *pl = &p->plan->placements[u];
                const DrainRecord *drain = cur ? hashmap_get(e->drains, cur) : NULL;
                bool draining = cur && engine_machine_draining(e, cur);

                if (!p->units[u].app_instance)
                        continue;
                app_controller_instance_placed(e->apps, name,
                                               draining ? "drain" : hashmap_get(e->rebalancing, name) ? "rebalance" : NULL,
                                               drain && drain->force,
                                               pl->status == SCHED_UNSCHEDULABLE ? pl->reason : NULL);
                blocked = app_controller_instance_blocked(e->apps, name);
                if (draining && blocked && pl->status == SCHED_PLACED &&
                    asprintf(&p->blocked[u], "cannot move off draining machine %s: %s", engine_machine_name(e, cur),
                             blocked) < 0) {
                        p->blocked[u] = NULL;
                        return -ENOMEM;
                }
        }
        return 0;
}

/* The etcd ops of the schedule diff's changes; the moves it makes are in flight from now. */
static int engine_schedule_ops(Engine *e, const EngineDiff *diff, Diff *d) {
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
                if (r >= 0 && c->move)
                        r = engine_move_started(e, c->name, c->machine);
        }
        if (r >= 0 && diff->n_held > 0)
                log_info("Moving units off draining machines, %u at a time: %zu wait.", DRAIN_MOVES_AT_ONCE,
                         diff->n_held);
        return r;
}

static int engine_schedule_diff(Engine *e, Planning *p, Diff *d) {
        _cleanup_(engine_diff_done) EngineDiff diff = {};
        size_t flying = engine_moves_in_flight(e);
        int r;

        for (size_t u = 0; u < p->n_units; u++) {
                const EngineUnit *eu = hashmap_get(e->units, p->names[u]);
                p->targets[u] = (EngineTarget) { p->names[u], eu->record.hash, eu->record.desired,
                                                 &p->plan->placements[u], p->blocked[u] };
        }
        r = engine_diff(p->entries, p->n_entries, p->targets, p->n_units,
                        flying < DRAIN_MOVES_AT_ONCE ? DRAIN_MOVES_AT_ONCE - flying : 0, &diff);
        if (r < 0)
                return r;
        /* the schedule's ops come first in d, one per change: a move's change is its op */
        if (engine_moves(p->entries, p->n_entries, &diff, e->machines, e->drains, &e->placed) < 0)
                log_oom();    /* the timeline misses them; the schedule does not */
        return engine_schedule_ops(e, &diff, d);
}

static int diff_placement_put(Engine *e, Diff *d, const EnginePlacementChange *c) {
        const PlacementRecord *old = hashmap_get(e->placements, c->record.name);
        PlacementRecord rec = { .name = (char *) c->record.name, .state = c->record.state,
                                .reason = (char *) c->record.reason,
                                .since_usec = c->keep_since && old ? old->since_usec : now_usec(CLOCK_REALTIME) };
        if (c->record.machine)
                snprintf(rec.machine, sizeof(rec.machine), "%s", c->record.machine);
        json_auto_t *j = placement_record_to_json(&rec);
        char *value = j ? jx_dumps(j) : NULL;
        if (!value)
                return -ENOMEM;
        /* once per change, not per pass: only a record that differs is written */
        log_unit_info(c->record.name, "Unit %s is %s: %s.", c->record.name, placement_state_to_string(rec.state),
                      rec.reason);
        return diff_add(d, ETCD_OP_PUT, registry_key(e->prefix, "placement", c->record.name, NULL), value);
}

/* placement/ from what it is to what the plan says (engine-plan.h). */
static int engine_placement_ops(Engine *e, const Planning *p, Diff *d) {
        _cleanup_(engine_placement_diff_done) EnginePlacementDiff diff = {};
        _cleanup_free_ const char **names = hashmap_sorted_keys(e->placements);
        _cleanup_free_ EnginePlacement *have = names ? calloc(hashmap_size(e->placements) + 1, sizeof(*have)) : NULL;
        int r = 0;

        if (!have)
                return -ENOMEM;
        for (size_t i = 0; names[i]; i++) {
                const PlacementRecord *rec = hashmap_get(e->placements, names[i]);
                have[i] = (EnginePlacement) { rec->name, rec->state, rec->machine[0] ? rec->machine : NULL,
                                              rec->reason };
        }
        r = engine_placement_diff(have, hashmap_size(e->placements), p->targets, p->n_units, &diff);
        for (size_t i = 0; r >= 0 && i < diff.n_changes; i++) {
                const EnginePlacementChange *c = &diff.changes[i];
                if (c->type == ENGINE_CHANGE_PUT) {
                        r = diff_placement_put(e, d, c);
                        continue;
                }
                if (hashmap_get(e->units, c->record.name))
                        log_unit_info(c->record.name, "Unit %s is placed now.", c->record.name);
                r = diff_add(d, ETCD_OP_DELETE, registry_key(e->prefix, "placement", c->record.name, NULL), NULL);
        }
        return r;
}

/* Nothing is left to rebalance once every rebalanced machine is back (and not draining), every
 * app instance is settled, and none is marked or being replaced. */
static bool engine_rebalance_done(Engine *e, const Planning *p) {
        size_t i = 0;
        const char *id;

        if (hashmap_size(e->rebalancing) > 0)
                return false;
        while (hashmap_iterate(e->rebalances, &i, &id, NULL))
                if (!hashmap_get(e->machines, id))
                        return false;
        for (size_t u = 0; u < p->n_units; u++)
                if (p->plan->placements[u].rebalance || (p->units[u].app_instance && !p->units[u].settled))
                        return false;
        return true;
}

/* The rebalance/ records to delete: every one when nothing is left to rebalance, else those
 * older than REBALANCE_TIMEOUT or whose machine drains again. */
static int engine_rebalance_ops(Engine *e, const Planning *p, Diff *d) {
        _cleanup_free_ const char **ids = hashmap_sorted_keys(e->rebalances);
        uint64_t now = now_usec(CLOCK_REALTIME);
        bool done;
        int r = 0;

        if (!ids)
                return -ENOMEM;
        done = ids[0] && engine_rebalance_done(e, p);
        for (size_t i = 0; r >= 0 && ids[i]; i++) {
                const Rebalance *b = hashmap_get(e->rebalances, ids[i]);
                uint64_t since = b->record.since_usec ?: b->seen_usec;
                const char *why = done ? "nothing is left to rebalance"
                                  : engine_machine_draining(e, ids[i]) ? "the machine drains again"
                                  : now > since && now - since > REBALANCE_TIMEOUT ? "it took longer than 10 minutes"
                                  : NULL;
                if (!why)
                        continue;
                log_notice("Rebalance after machine %s is over: %s.", engine_machine_name(e, ids[i]), why);
                r = diff_add(d, ETCD_OP_DELETE, registry_key(e->prefix, "rebalance", ids[i], NULL), NULL);
        }
        return r;
}

/* The ops that take schedule/, placement/ and rebalance/ to what the scheduler's plan says. */
static int engine_plan(Engine *e, Diff *d) {
        _cleanup_(planning_done) Planning p = {};
        int r;

        if (hashmap_size(e->rebalances) == 0)
                hashmap_clear(e->rebalancing);
        r = planning_machines(e, &p);
        if (r >= 0)
                r = planning_entries(e, &p);
        if (r >= 0)
                r = planning_compute(e, &p);
        if (r >= 0)
                r = engine_pick_rebalance(e, &p);
        if (r >= 0)
                r = engine_tell_apps(e, &p);
        if (r >= 0)
                r = engine_schedule_diff(e, &p, d);
        if (r >= 0)
                r = engine_placement_ops(e, &p, d);
        if (r >= 0)
                r = engine_rebalance_ops(e, &p, d);
        return r;
}

static void engine_write_next(Engine *e);

/* Applies a written op to our picture of schedule/ and placement/ (rebalance/ deletes come
 * back through its watch). 0 or -ENOMEM. */
static int engine_apply(Engine *e, const EtcdOp *op) {
        _cleanup_free_ char *sched = registry_key(e->prefix, "schedule", "", NULL);
        _cleanup_free_ char *place = registry_key(e->prefix, "placement", "", NULL);
        const char *rest;

        if (!sched || !place)
                return -ENOMEM;
        if ((rest = startswith(op->key, sched))) {
                if (op->type != ETCD_OP_DELETE)
                        return scheduled_update(e, op->key, op->value);
                scheduled_free(hashmap_remove(e->scheduled, rest));
        } else if ((rest = startswith(op->key, place))) {
                if (op->type != ETCD_OP_DELETE)
                        return placement_update(e, op->key, op->value);
                placement_record_free(hashmap_remove(e->placements, rest));
        }
        return 0;
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
                        int r = engine_apply(e, &e->ops[i]);
                        if (r < 0)
                                return engine_picture_lost(e, r, e->ops[i].key);
                }
                e->sent += e->in_flight;
                engine_moves_emit(&e->placed, e->sent);
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
        usec_t started = now_usec(CLOCK_MONOTONIC);
        r = engine_plan(e, &d);
        engine_pass_done(now_usec(CLOCK_MONOTONIC) - started);
        if (r < 0) {
                diff_done(&d);
                return log_error_errno(r, "Failed to plan: %m");
        }
        if (d.n_ops > 0) {
                log_info("Scheduling: %zu change(s) to schedule/, placement/ or rebalance/.", d.n_ops);
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
                engine_leader_changed(true, e->machine_id);
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

/* The gauges only the leader knows (engine-events.h), when /metrics is read. */
static void engine_collect(void *userdata) {
        Engine *e = userdata;
        size_t n[_UNIT_DESIRED_STATE_MAX] = {}, i = 0;
        void *v;

        while (e->leader && hashmap_iterate(e->units, &i, NULL, &v))
                n[((EngineUnit *) v)->record.desired]++;
        engine_collect_machines(e->machines, e->leader);
        engine_collect_units(n, ELEMENTSOF(n), e->leader);
}

bool engine_is_leader(Engine *e) {
        assert(e);
        return e->leader;
}

int engine_new(sd_event *ev, EtcdClient *etcd, Presence *presence, const char *prefix, const char *machine_id,
               usec_t reconcile_interval, usec_t reboot_slot_timeout, Engine **ret) {
        _cleanup_(engine_freep) Engine *e = NULL;
        int r;

        assert(ev);
        assert(etcd);
        assert(presence);
        assert(prefix);
        assert(machine_id);
        assert(reboot_slot_timeout > 0);
        assert(ret);

        e = calloc(1, sizeof(Engine));
        if (!e)
                return -ENOMEM;
        e->event = sd_event_ref(ev);
        e->etcd = etcd;
        e->presence = presence;
        e->reconcile_interval = reconcile_interval;
        e->reboot_slot_timeout = reboot_slot_timeout;
        e->prefix = strdup(prefix);
        e->machine_id = strdup(machine_id);
        e->leader_key = registry_key(prefix, "engine", "leader", NULL);
        e->units = hashmap_new(engine_unit_free);
        e->machines = hashmap_new(machine_record_free);
        e->scheduled = hashmap_new(scheduled_free);
        e->drains = hashmap_new(drain_record_free);
        e->rebalances = hashmap_new(rebalance_free);
        e->placements = hashmap_new(placement_record_free);
        e->moves = hashmap_new(move_free);
        e->rebalancing = hashmap_new(free);
        if (!e->prefix || !e->machine_id || !e->leader_key || !e->units || !e->machines || !e->scheduled ||
            !e->drains || !e->rebalances || !e->placements || !e->moves || !e->rebalancing)
                return -ENOMEM;
        r = sd_event_add_time_relative(ev, &e->campaign_retry, CLOCK_MONOTONIC, USEC_PER_SEC, 0, on_campaign_retry, e);
        if (r >= 0)
                r = sd_event_source_set_enabled(e->campaign_retry, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time_relative(ev, &e->move_timer, CLOCK_MONOTONIC, DRAIN_MOVE_TIMEOUT,
                                               100 * USEC_PER_MSEC, on_move_timer, e);
        if (r >= 0)
                r = sd_event_source_set_enabled(e->move_timer, SD_EVENT_OFF);
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
        r = metrics_add_collector(NULL, engine_collect, e);
        if (r < 0)
                return r;
        engine_campaign(e);
        *ret = TAKE_PTR(e);
        return 0;
}

Engine *engine_free(Engine *e) {
        if (!e)
                return NULL;
        metrics_remove_collector(NULL, engine_collect, e);
        etcd_request_cancel(e->campaign);
        etcd_watch_free(e->leader_watch);
        engine_step_down(e, "shutting down");
        sd_event_source_disable_unref(e->campaign_retry);
        sd_event_source_disable_unref(e->reconcile_defer);
        sd_event_source_disable_unref(e->reconcile_timer);
        sd_event_source_disable_unref(e->move_timer);
        hashmap_free(e->units);
        hashmap_free(e->machines);
        hashmap_free(e->scheduled);
        hashmap_free(e->drains);
        hashmap_free(e->rebalances);
        hashmap_free(e->placements);
        hashmap_free(e->moves);
        hashmap_free(e->rebalancing);
        sd_event_unref(e->event);
        free(e->prefix);
        free(e->machine_id);
        free(e->leader_key);
        free(e);
        return NULL;
}
