/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "agent-events.h"
#include "agent-plan.h"
#include "agent.h"
#include "basic/hashmap.h"
#include "basic/json-util.h"
#include "basic/sha256.h"
#include "basic/strv.h"
#include "health.h"
#include "unit-reason.h"
#include "hooks.h"
#include "log.h"
#include "metrics.h"
#include "ports.h"
#include "registry.h"
#include "release.h"
#include "routes.h"
#include "unit-file.h"
#include "unit-name.h"

/* etcd refuses txns with more ops than --max-txn-ops (128 by default). */
#define TXN_MAX_OPS 64
/* Coalesces a burst of state changes into one txn. The timer accuracy must be given: 0 means
 * sd-event's default of 250 ms. */
#define PUBLISH_DELAY (20 * USEC_PER_MSEC)
/* After a write that failed (etcd away or overloaded): not at once again. */
#define PUBLISH_RETRY_DELAY (500 * USEC_PER_MSEC)
#define ROUTE_TIMEOUT_DEFAULT (5 * USEC_PER_SEC)
/* Of the timers around route removal: the drain delay is short, and the default accuracy
 * (250 ms) would be a good part of it. */
#define ROUTE_TIMER_ACCURACY (10 * USEC_PER_MSEC)
/* A unit file that could not be written (a full disk) is written again by a plan this much
 * later, doubling up to the maximum while it keeps failing. */
#define WRITE_RETRY_MIN (1 * USEC_PER_SEC)
#define WRITE_RETRY_MAX (16 * USEC_PER_SEC)

/* What this host has: a unit file fleetd wrote, and systemd's view of the unit. */
typedef struct LocalUnit {
        Agent *agent;
        char *name;
        char hash[SHA256_HEX_SIZE];
        char *load, *active, *sub;
        uint64_t since;
        bool dirty;                   /* state/ needs writing */

        /* from [X-Fleetd] of the file */
        bool wants_port;
        HealthSpec health_spec;       /* HEALTH_KIND_NONE: no check */

        uint16_t port;                /* host port assigned here; 0: none */
        HealthChecker *checker;       /* only while the unit is up and has a check */
        HealthState health;           /* published when the unit has a check */
        char *error;                  /* why its file could not be written (state/'s "error") */
        bool job;                     /* a start, stop or restart of ours is under way */
        char *reason;                 /* an instance that failed: why (unit-reason.h) */
        bool adopted;                 /* found when fleetd started; no job of ours since */

        /* routes/<app>/<name>, for app instances (release_parse_instance_name()) only */
        bool instance;
        RouteStatus route;            /* what etcd has, as far as our acknowledged writes tell */
        uint16_t route_port;          /* the port in the route last written */
        bool route_stale;             /* present, but written under a lease that is gone */
        bool draining;                /* the plan under way stops, restarts or removes it */

        AgentUnitExit exit;           /* how the service last ended, as systemd said (agent-events.h) */
        char *exit_result;            /* exit.result's own copy */
        const char *job_type;         /* of our job under way, for its metrics */
        usec_t job_started;
} LocalUnit;

/* The route of a unit that was removed before etcd acknowledged the route's removal (etcd did not
 * answer in time): deleted when etcd is back. */
typedef struct GoneRoute {
        RouteStatus status;
        uint16_t port;
} GoneRoute;

/* What the one write in flight carries, per unit, to be settled when etcd answers. */
typedef struct Sent {
        char *name;
        bool state;                   /* its state/ key was put */
        bool state_delete;            /* its state/ key was deleted (a name from Agent.gone) */
        RouteWrite route;
} Sent;

typedef struct Step {
        AgentActionType type;
        char *name;
} Step;

typedef enum Phase {
        PHASE_IDLE,
        PHASE_UNROUTE,                /* routes of units about to stop are removed ... */
        PHASE_DRAIN,                  /* ... and requests in flight get route_drain_delay */
        PHASE_STOP,
        PHASE_RELOAD,
        PHASE_START,
} Phase;

struct Agent {
        sd_event *event;
        EtcdClient *etcd;
        Presence *presence;
        char *machine_id;
        char *sched_prefix, *sched_end;
        char *state_prefix;
        char *routes_prefix;
        char *public_ip;
        char *ports_dir;
        uint16_t next_port;           /* where the next port search starts */
        usec_t resync_interval;

        SystemdBackend *backend;
        Hashmap *desired;             /* name -> ScheduleRecord* (this host's schedule) */
        Hashmap *local;               /* name -> LocalUnit* */
        Hashmap *gone;                /* names whose state/ key must be deleted */
        Hashmap *gone_routes;         /* name -> GoneRoute*: routes to delete of removed units */
        usec_t route_drain_delay, route_timeout;
        HookRunner *hooks;

        EtcdRequest *load_request;
        EtcdWatch *watch;
        bool schedule_loaded;
        bool local_known;             /* systemd said how the units found at start-up are */

        /* applying one plan at a time */
        Phase phase;
        Step *steps;
        size_t n_steps;
        unsigned pending;
        bool replan;
        bool unrouting;               /* PHASE_UNROUTE waits for etcd (one of pending) */
        bool drain;                   /* a unit of the plan had a route */
        usec_t reload_started;        /* of the daemon-reload under way */
        sd_event_source *unroute_timer, *drain_timer;

        bool write_failed;            /* a unit file of the plan under way could not be written */
        usec_t write_backoff;
        sd_event_source *write_retry;

        sd_event_source *plan_defer;
        sd_event_source *publish_timer;
        sd_event_source *resync_timer;
        EtcdRequest *publish_request;
        Sent *sent;                   /* what publish_request carries */
        size_t n_sent;
};

static void agent_schedule_plan(Agent *a);
static void agent_load_schedule(Agent *a);
static void agent_schedule_publish(Agent *a);
static void agent_schedule_publish_after(Agent *a, usec_t delay);
static int agent_arm_timer(Agent *a, sd_event_source **s, usec_t delay, sd_event_time_handler_t handler);

static void local_unit_free(void *p) {
        LocalUnit *u = p;
        if (!u)
                return;
        health_checker_free(u->checker);
        health_spec_done(&u->health_spec);
        free(u->exit_result);
        free(u->name);
        free(u->load);
        free(u->active);
        free(u->sub);
        free(u->reason);
        free(u->error);
        free(u);
}

static void schedule_record_free(void *p) {
        if (p) {
                schedule_record_done(p);
                free(p);
        }
}

static void sent_free(Sent *sent, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(sent[i].name);
        free(sent);
}

static void steps_free(Agent *a) {
        for (size_t i = 0; i < a->n_steps; i++)
                free(a->steps[i].name);
        free(a->steps);
        a->steps = NULL;
        a->n_steps = 0;
}

static uint64_t now_realtime(void) {
        return now_usec(CLOCK_REALTIME);
}

static LocalUnit *local_get_or_add(Agent *a, const char *name) {
        LocalUnit *u = hashmap_get(a->local, name);
        if (u)
                return u;
        u = calloc(1, sizeof(*u));
        if (!u || !(u->name = strdup(name)) || hashmap_put(a->local, name, u) < 0) {
                local_unit_free(u);
                return NULL;
        }
        u->agent = a;
        u->instance = release_parse_instance_name(name, NULL, NULL, NULL, NULL) >= 0;
        (void) hashmap_remove(a->gone, name);
        return u;
}

/* --- host ports and health checks --- */

static void local_unit_set_health(LocalUnit *u, HealthState h) {
        if (u->health == h)
                return;
        u->health = h;
        if (u->health_spec.kind != HEALTH_KIND_NONE) {
                u->dirty = true;
                agent_schedule_publish(u->agent);
        }
}

/* Drops the check in flight and the result so far: a new process or a new file is checked
 * afresh. */
static void local_unit_reset_health(LocalUnit *u) {
        u->checker = health_checker_free(u->checker);
        local_unit_set_health(u, HEALTH_STARTING);
}

/* Reads what fleetd itself does for the unit ([X-Fleetd] Port= and Health*=) from its file.
 * A malformed setting is logged and ignored: the file is already systemd's. */
static void local_unit_configure(LocalUnit *u, const char *contents) {
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        _cleanup_free_ char *error = NULL;
        HealthSpec spec = {};
        uint16_t declared;
        int r;

        u->wants_port = false;
        health_spec_done(&u->health_spec);
        r = unit_file_parse(contents, strlen(contents), u->name, &uf, &error);
        if (r < 0) {
                log_unit_warning_errno(u->name, r, "Cannot read [" FLEETD_SECTION "] of %s: %s", u->name,
                                       strna(error));
                return;
        }
        r = ports_from_unit_file(uf, &declared);
        if (r < 0)
                log_unit_warning_errno(u->name, r, "Ignoring [" FLEETD_SECTION "] Port=%s of %s: not a port number.",
                                       unit_file_get(uf, FLEETD_SECTION, "Port"), u->name);
        u->wants_port = r > 0;

        r = health_spec_from_unit_file(uf, &spec, &error);
        if (r < 0)
                log_unit_warning_errno(u->name, r, "Ignoring the health check of %s: %s", u->name, strna(error));
        else if (r > 0 && !u->wants_port) {
                log_internal(LOG_WARNING, 0, u->name, "Ignoring the health check of %s: it has no [" FLEETD_SECTION
                             "] Port=.", u->name);
                health_spec_done(&spec);
        } else
                u->health_spec = spec;
}

/* Gives the unit a host port if its file asks for one and it has none yet, and writes its
 * .env file (again: a start must never find it missing). A port no longer asked for is freed. */
static int agent_assign_port(Agent *a, LocalUnit *u) {
        int r;

        if (!u->wants_port) {
                if (u->port == 0)
                        return 0;
                r = ports_remove_file(a->ports_dir, u->name);
                if (r < 0)
                        log_unit_warning_errno(u->name, r, "Failed to remove the port file of %s: %m", u->name);
                u->port = 0;
                u->dirty = true;
                return 0;
        }
        if (u->port == 0) {
                _cleanup_free_ uint16_t *used = calloc(hashmap_size(a->local) + 1, sizeof(uint16_t));
                size_t n = 0, i = 0;
                void *v;

                if (!used)
                        return log_oom();
                while (hashmap_iterate(a->local, &i, NULL, &v))
                        if (((LocalUnit *) v)->port > 0)
                                used[n++] = ((LocalUnit *) v)->port;
                r = ports_pick(used, n, PORTS_RANGE_FIRST, PORTS_RANGE_LAST, a->next_port, ports_tcp_bindable, NULL,
                               &u->port);
                if (r < 0)
                        return log_unit_warning_errno(u->name, r, "No free host port for %s in %u-%u: %m", u->name,
                                                      PORTS_RANGE_FIRST, PORTS_RANGE_LAST);
                /* The next search starts past this port: while fleetd runs, a port just freed is
                 * not handed out again at once (a router may still point at it). */
                a->next_port = u->port + 1;
                u->dirty = true;
                log_unit_info(u->name, "Host port %u assigned to %s.", u->port, u->name);
        }
        r = ports_write_file(a->ports_dir, u->name, u->port);
        if (r < 0)
                log_unit_warning_errno(u->name, r, "Failed to write the port file of %s: %m", u->name);
        return r;
}

static void on_health_changed(HealthChecker *c, HealthState state, void *userdata) {
        LocalUnit *u = userdata;
        int status, result = health_checker_last_result(c, &status);

        log_unit_info(u->name, "Health check of %s: %s.", u->name, health_state_to_string(state));
        agent_health_event(u->name, u->agent->machine_id, u->health, state, result, status);
        local_unit_set_health(u, state);
}

static bool active_state_is_up(const char *s) {
        return streq_ptr(s, "active") || streq_ptr(s, "reloading");
}

/* Checks run exactly while the unit has a check and a port, systemd says it is up, and no job
 * of ours is changing it. */
static void local_unit_sync_health(LocalUnit *u) {
        int r;

        if (u->health_spec.kind == HEALTH_KIND_NONE || u->port == 0 || u->job || !active_state_is_up(u->active)) {
                local_unit_reset_health(u);
                return;
        }
        if (u->checker)
                return;
        /* Checked at once, a new process too: while it comes up the checker retries soon and
         * often and counts no failure for a grace time (health.h), so it is known healthy as
         * soon as it is (a rollout waits for that). */
        r = health_checker_new(u->agent->event, &u->health_spec, u->port, 0,
                               on_health_changed, u, &u->checker);
        if (r < 0)
                log_unit_warning_errno(u->name, r, "Failed to start checking the health of %s: %m", u->name);
}

/* --- publication of state/ and routes/ --- */

/* An instance that failed (or waits to be restarted after a failure) says why in its state; one
 * that runs again says nothing. The journal is local and read once per failure. */
static void local_unit_note_reason(LocalUnit *u) {
        int r;

        if (!u->instance)
                return;
        if (streq_ptr(u->active, "active")) {
                free(u->reason);
                u->reason = NULL;
        }
        if (!streq_ptr(u->active, "failed") && !streq_ptr(u->sub, "auto-restart"))
                return;
        free(u->reason);
        u->reason = NULL;
        r = unit_reason_read(u->name, &u->reason);
        if (r < 0)
                log_internal(LOG_DEBUG, r, u->name, "Failed to read why %s failed from the journal: %m", u->name);
}

static void on_state_changed(SystemdBackend *b, const char *unit, const UnitStatus *st, void *userdata) {
        Agent *a = userdata;
        LocalUnit *u = hashmap_get(a->local, unit);

        if (!u)
                return;
        if (st->result) {
                /* the Service interface's news come first: kept for the failure that follows */
                (void) free_and_strdup(&u->exit_result, st->result);
                u->exit = (AgentUnitExit) { u->exit_result, st->exit_code, st->exit_status };
        }
        if (!st->active_state && !st->sub_state && !st->load_state)
                return;
        if (st->active_state)
                agent_unit_event(unit, a->machine_id, u->active, st->active_state, &u->exit);
        if (st->load_state)
                free_and_strdup(&u->load, st->load_state);
        if (st->active_state)
                free_and_strdup(&u->active, st->active_state);
        if (st->sub_state)
                free_and_strdup(&u->sub, st->sub_state);
        u->since = now_realtime();
        u->dirty = true;
        local_unit_note_reason(u);
        agent_schedule_publish(a);
        local_unit_sync_health(u);
}

static json_t *state_json(Agent *a, const char *name, const LocalUnit *u) {
        StateRecord s = {
                .name = (char *) name, .hash = u->hash[0] ? (char *) u->hash : NULL, .load = u->load,
                .active = u->active, .sub = u->sub, .since_usec = u->since, .port = u->port,
                .health = u->health_spec.kind != HEALTH_KIND_NONE ? (char *) health_state_to_string(u->health) : NULL,
                .reason = u->reason,
                .error = u->error,
        };
        snprintf(s.machine, sizeof(s.machine), "%s", a->machine_id);
        return state_record_to_json(&s);
}

/* Key and value of the state record of a unit scheduled here; -ENOENT for a unit that is not
 * (its record is not written: it is about to be removed). */
static int state_kv(Agent *a, const char *name, const LocalUnit *u, char **ret_key, char **ret_value) {
        _cleanup_free_ char *key = NULL, *value = NULL;

        if (!hashmap_get(a->desired, name))
                return -ENOENT;
        json_auto_t *j = state_json(a, name, u);
        key = registry_key(a->state_prefix, name, a->machine_id, NULL);
        value = j ? jx_dumps(j) : NULL;
        if (!key || !value)
                return -ENOMEM;
        *ret_key = TAKE_PTR(key);
        *ret_value = TAKE_PTR(value);
        return 0;
}

static int agent_route_record(Agent *a, const char *name, uint16_t port, RouteRecord *ret) {
        return route_record_for_unit(name, a->public_ip, port, a->machine_id, ret);
}

/* routes/<app>/<name>, or NULL (not an instance name, or OOM). */
static char *agent_route_key(Agent *a, const char *name) {
        _cleanup_free_ char *app = NULL;

        if (release_parse_instance_name(name, &app, NULL, NULL, NULL) < 0)
                return NULL;
        return registry_key(a->routes_prefix, app, name, NULL);
}

static bool agent_route_in_flight(Agent *a, const char *name) {
        for (size_t i = 0; i < a->n_sent; i++)
                if (a->sent[i].route != ROUTE_WRITE_NONE && streq(a->sent[i].name, name))
                        return true;
        return false;
}

static RouteWrite local_unit_route_write(Agent *a, const char *name, const LocalUnit *u) {
        const ScheduleRecord *d = hashmap_get(a->desired, name);
        RouteView v = {
                .instance = u->instance && u->port > 0 && a->public_ip && d && d->desired == UNIT_LAUNCHED,
                .up = active_state_is_up(u->active) && !u->job,
                .checked = u->health_spec.kind != HEALTH_KIND_NONE,
                .health = u->health,
                .draining = u->draining,
        };

        /* Until the schedule is read, no unit is known to be wanted here: a restarted fleetd
         * would delete the routes of every instance it adopted. */
        if (!a->schedule_loaded)
                return ROUTE_WRITE_NONE;
        return route_next_write(&v, u->route, u->route_stale);
}

/* A route was added or removed: said in the log and to the hooks. */
static void agent_route_changed(Agent *a, const char *name, uint16_t port, RouteEvent event) {
        _cleanup_(route_record_done) RouteRecord rec = {};
        int r;

        if (agent_route_record(a, name, port, &rec) < 0)
                return;
        log_unit_info(name, "Route of %s to %s:%u %s.", name, rec.host, rec.port,
                      event == ROUTE_EVENT_ADDED ? "added" : "removed");
        if (!a->hooks)
                return;
        r = hook_runner_event(a->hooks, event, &rec);
        if (r < 0)
                log_unit_warning_errno(name, r, "Failed to run the hooks for %s of %s: %m", route_event_to_string(event),
                                       name);
}

/* etcd acknowledged a write of the route of name (deleted: keys the delete removed). */
static void agent_route_acked(Agent *a, const char *name, RouteWrite write, int64_t deleted) {
        LocalUnit *u = hashmap_get(a->local, name);
        GoneRoute *g = u ? NULL : hashmap_get(a->gone_routes, name);
        RouteEvent event;
        uint16_t port;

        if (!u && !g)
                return;
        if (u) {
                u->route = route_after_write(write, u->route, deleted, &event);
                u->route_stale = false;
                port = u->route_port;
        } else {
                g->status = route_after_write(write, g->status, deleted, &event);
                port = g->port;
                if (g->status == ROUTE_ABSENT)
                        free(hashmap_remove(a->gone_routes, name));
        }
        if (event != ROUTE_EVENT_NONE)
                agent_route_changed(a, name, port, event);
}

static void agent_check_unrouted(Agent *a);

static void on_published(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        Agent *a = userdata;
        Sent *sent = TAKE_PTR(a->sent);
        size_t n = a->n_sent;

        a->n_sent = 0;
        a->publish_request = etcd_request_cancel(a->publish_request);
        if (error < 0) {
                /* Everything it carried is written again on the next try. */
                log_debug_errno(error, "Failed to publish unit states and routes, retrying: %m");
                for (size_t i = 0; i < n; i++) {
                        LocalUnit *u = hashmap_get(a->local, sent[i].name);
                        if (u && sent[i].state)
                                u->dirty = true;
                        if (!u && sent[i].state_delete)
                                (void) hashmap_put(a->gone, sent[i].name, NULL);
                }
                sent_free(sent, n);
                agent_schedule_publish_after(a, PUBLISH_RETRY_DELAY);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                /* A route delete goes alone, compared: the first answer is the delete's. */
                int64_t deleted = result->succeeded && result->n_responses > 0 ? result->responses[0].deleted : 0;
                if (sent[i].route != ROUTE_WRITE_NONE)
                        agent_route_acked(a, sent[i].name, sent[i].route, deleted);
        }
        sent_free(sent, n);
        agent_schedule_publish(a);    /* whatever got dirty meanwhile */
        agent_check_unrouted(a);
}

static int agent_send(Agent *a, const EtcdTxn *txn, Sent *sent, size_t n_sent) {
        int r = etcd_client_txn(a->etcd, txn, on_published, a, &a->publish_request);
        if (r < 0)
                return r;
        a->sent = sent;
        a->n_sent = n_sent;
        return 1;
}

/* state/<name>/<machine-id> is this machine's alone; the delete still compares the lease so
 * that a key written under a newer lease (fleetd restarted meanwhile) is left to that one.
 * One txn per key (compares AND). */
static int publish_state_delete(Agent *a, int64_t lease) {
        _cleanup_free_ char *key = NULL;
        _cleanup_free_ Sent *sent = calloc(1, sizeof(Sent));
        size_t i = 0;
        const char *name;
        int r;

        if (!hashmap_iterate(a->gone, &i, &name, NULL))
                return 0;
        if (!sent || !(sent->name = strdup(name)) || !(key = registry_key(a->state_prefix, name, a->machine_id, NULL))) {
                if (sent)
                        free(sent->name);
                return -ENOMEM;
        }
        sent->state_delete = true;
        (void) hashmap_remove(a->gone, sent->name);
        EtcdCompare cmp = { .key = key, .target = ETCD_COMPARE_LEASE, .result = ETCD_EQUAL, .number = lease };
        EtcdOp op = { .type = ETCD_OP_DELETE, .key = key };
        EtcdTxn txn = { .compares = &cmp, .n_compares = 1, .success = &op, .n_success = 1 };
        r = agent_send(a, &txn, sent, 1);
        if (r < 0) {
                (void) hashmap_put(a->gone, sent->name, NULL);
                free(sent->name);
                return r;
        }
        sent = NULL;          /* a->sent now */
        return r;
}

/* The next route to delete: of a removed unit first, else of a unit that should have none. */
static const char *next_route_delete(Agent *a, LocalUnit **ret_unit) {
        size_t i = 0;
        const char *name;
        void *v;

        *ret_unit = NULL;
        if (hashmap_iterate(a->gone_routes, &i, &name, NULL))
                return name;
        i = 0;
        while (hashmap_iterate(a->local, &i, &name, &v))
                if (local_unit_route_write(a, name, v) == ROUTE_WRITE_DELETE) {
                        *ret_unit = v;
                        return name;
                }
        return NULL;
}

/* A route is deleted only if it is bound to our lease: a unit moved away while this host was cut
 * off may have its route, of the same name, published by its new host. One route per txn
 * (compares AND); the unit's state goes along in either branch. */
static int publish_route_delete(Agent *a, int64_t lease) {
        _cleanup_free_ char *key = NULL, *skey = NULL, *svalue = NULL;
        _cleanup_free_ Sent *sent = calloc(1, sizeof(Sent));
        LocalUnit *u;
        const char *name = next_route_delete(a, &u);
        int r;

        if (!name)
                return 0;
        if (!sent || !(sent->name = strdup(name)))
                return -ENOMEM;
        sent->route = ROUTE_WRITE_DELETE;
        key = agent_route_key(a, sent->name);      /* an instance: only they have routes */
        if (!key) {
                free(sent->name);
                return -ENOMEM;
        }
        if (u && u->dirty && state_kv(a, sent->name, u, &skey, &svalue) >= 0)
                sent->state = true;
        EtcdCompare cmp = { .key = key, .target = ETCD_COMPARE_LEASE, .result = ETCD_EQUAL, .number = lease };
        EtcdOp ops[] = {
                { .type = ETCD_OP_DELETE, .key = key },
                { .type = ETCD_OP_PUT, .key = skey, .value = svalue, .lease = lease },
        };
        EtcdTxn txn = { .compares = &cmp, .n_compares = 1, .success = ops, .n_success = 1 + sent->state,
                        .failure = ops + 1, .n_failure = sent->state };
        r = agent_send(a, &txn, sent, 1);
        if (r < 0) {
                free(sent->name);
                return r;
        }
        if (sent->state)
                u->dirty = false;
        sent = NULL;          /* a->sent now */
        return r;
}

typedef struct Batch {
        EtcdOp ops[TXN_MAX_OPS];
        char *strings[2 * TXN_MAX_OPS];
        size_t n_ops, n_strings;
        Sent *sent;
        size_t n_sent;
} Batch;

static void batch_done(Batch *b) {
        for (size_t i = 0; i < b->n_strings; i++)
                free(b->strings[i]);
        sent_free(b->sent, b->n_sent);
}

static void batch_put(Batch *b, char *key, char *value, int64_t lease) {
        b->strings[b->n_strings++] = key;
        b->strings[b->n_strings++] = value;
        b->ops[b->n_ops++] = (EtcdOp) { .type = ETCD_OP_PUT, .key = key, .value = value, .lease = lease };
}

static int batch_route_kv(Agent *a, const char *name, uint16_t port, char **ret_key, char **ret_value) {
        _cleanup_(route_record_done) RouteRecord rec = {};
        _cleanup_free_ char *key = NULL, *value = NULL;
        int r;

        r = agent_route_record(a, name, port, &rec);
        if (r < 0)
                return r;
        json_auto_t *j = route_record_to_json(&rec);
        key = registry_key(a->routes_prefix, rec.app, name, NULL);
        value = j ? jx_dumps(j) : NULL;
        if (!key || !value)
                return -ENOMEM;
        *ret_key = TAKE_PTR(key);
        *ret_value = TAKE_PTR(value);
        return 0;
}

/* Adds the state and route puts of one unit. Returns 1 if it added any, 0, or -ENOMEM. */
static int batch_add_unit(Batch *b, Agent *a, const char *name, LocalUnit *u, int64_t lease) {
        bool state = u->dirty && hashmap_get(a->desired, name);
        bool route = local_unit_route_write(a, name, u) == ROUTE_WRITE_PUT;
        char *key, *value;
        int r;

        if (!state && !route)
                return 0;
        Sent *s = &b->sent[b->n_sent];
        *s = (Sent) { .name = strdup(name) };
        if (!s->name)
                return -ENOMEM;
        b->n_sent++;
        if (state) {
                r = state_kv(a, name, u, &key, &value);
                if (r < 0)
                        return r;
                batch_put(b, key, value, lease);
                s->state = true;
        }
        if (route) {
                r = batch_route_kv(a, name, u->port, &key, &value);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0) {
                        batch_put(b, key, value, lease);
                        s->route = ROUTE_WRITE_PUT;
                }
        }
        return 1;
}

/* The puts of state and routes, one txn of up to TXN_MAX_OPS ops: a unit's state and route go
 * in the same txn. */
static int publish_puts(Agent *a, int64_t lease) {
        _cleanup_(batch_done) Batch b = { .sent = calloc(TXN_MAX_OPS, sizeof(Sent)) };
        size_t i = 0;
        const char *name;
        void *v;
        int r;

        if (!b.sent)
                return -ENOMEM;
        while (b.n_ops + 2 <= TXN_MAX_OPS && hashmap_iterate(a->local, &i, &name, &v)) {
                r = batch_add_unit(&b, a, name, v, lease);
                if (r < 0)
                        return r;
        }
        if (b.n_ops == 0)
                return 0;
        EtcdTxn txn = { .success = b.ops, .n_success = b.n_ops };
        r = agent_send(a, &txn, b.sent, b.n_sent);
        if (r < 0)
                return r;
        for (size_t k = 0; k < b.n_sent; k++) {
                LocalUnit *u = hashmap_get(a->local, b.sent[k].name);
                if (b.sent[k].state)
                        u->dirty = false;
                if (b.sent[k].route == ROUTE_WRITE_PUT)
                        u->route_port = u->port;
        }
        b.sent = NULL;
        b.n_sent = 0;
        return r;
}

static int on_publish_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        int64_t lease = presence_lease(a->presence);
        int r;

        if (a->publish_request || lease <= 0 || presence_state(a->presence) != PRESENCE_REGISTERED)
                return 0;     /* a write is in flight, or no lease: agent_lease_changed() comes back */

        /* Route removals first (units wait for them to stop), then the other deletions, one at
         * a time; then the puts in batches. */
        r = publish_route_delete(a, lease);
        if (r == 0)
                r = publish_state_delete(a, lease);
        if (r == 0)
                r = publish_puts(a, lease);
        if (r < 0) {
                log_warning_errno(r, "Failed to publish unit states and routes: %m");
                agent_schedule_publish_after(a, PUBLISH_RETRY_DELAY);
        }
        return 0;
}

static void agent_schedule_publish_after(Agent *a, usec_t delay) {
        int enabled, r;

        if (a->publish_request)
                return;       /* on_published re-arms */
        if (a->publish_timer) {
                if (sd_event_source_get_enabled(a->publish_timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                        return;
                r = sd_event_source_set_time_relative(a->publish_timer, delay);
        } else
                r = sd_event_add_time_relative(a->event, &a->publish_timer, CLOCK_MONOTONIC, delay, USEC_PER_MSEC,
                                               on_publish_timer, a);
        if (r >= 0)
                r = sd_event_source_set_enabled(a->publish_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Failed to arm the publish timer, publishing on the next resync: %m");
}

static void agent_schedule_publish(Agent *a) {
        agent_schedule_publish_after(a, PUBLISH_DELAY);
}

void agent_lease_changed(Agent *a) {
        size_t i = 0;
        void *v;

        assert(a);

        while (hashmap_iterate(a->local, &i, NULL, &v)) {
                LocalUnit *u = v;
                u->dirty = true;
                /* the old lease took it along, or will */
                u->route_stale = u->route == ROUTE_PRESENT;
        }
        agent_schedule_publish(a);
}

/* A unit about to be removed whose route may still be in etcd (its removal was not acknowledged
 * in time): the route is deleted later. */
static void agent_keep_route(Agent *a, const char *name, const LocalUnit *u) {
        GoneRoute *g;

        if (u->route == ROUTE_ABSENT && !agent_route_in_flight(a, name))
                return;
        g = malloc(sizeof(*g));
        if (!g || hashmap_put(a->gone_routes, name, g) < 0) {
                free(g);
                log_oom();
                return;
        }
        *g = (GoneRoute) { .status = u->route, .port = u->route_port };
        agent_schedule_publish(a);
}

/* --- applying a plan --- */

static void agent_advance(Agent *a);

static void on_step_done(SystemdBackend *b, const char *unit, int error, const char *message, void *userdata) {
        Agent *a = userdata;
        LocalUnit *j = unit ? hashmap_get(a->local, unit) : NULL;

        if (!unit || (j && j->job_type))
                agent_job_done(unit ? j->job_type : "reload",
                               now_usec(CLOCK_MONOTONIC) - (unit ? j->job_started : a->reload_started), error);

        if (error < 0)
                log_unit_warning_errno(unit ?: "daemon-reload", error, "%s: %s", unit ? "Job failed" : "Reload failed",
                                       message ?: "(no message)");
        LocalUnit *u = unit ? hashmap_get(a->local, unit) : NULL;
        if (u) {
                u->job = false;
                local_unit_sync_health(u);
                agent_schedule_publish(a);    /* its route may be due again */
        }
        if (a->pending > 0 && --a->pending == 0)
                agent_advance(a);
}

/* The unit keeps what systemd had (no file, or its older file: write_file_atomic() never leaves
 * a part of one), and is neither started nor restarted; its state record says why, and a plan
 * writes it again after the backoff. */
static void agent_write_failed(Agent *a, const char *name, int error) {
        LocalUnit *u = local_get_or_add(a, name);
        char *text = NULL;

        log_unit_warning_errno(name, error, "Failed to write the unit file of %s, trying again later: %m", name);
        a->write_failed = true;
        if (!u || asprintf(&text, "Failed to write the unit file: %s", strerror(-error)) < 0)
                return (void) log_oom();
        if (!streq_ptr(u->error, text)) {
                u->dirty = true;
                agent_schedule_publish(a);
                agent_write_failed_event(name, a->machine_id, text);
        }
        free(u->error);
        u->error = text;
}

static int on_write_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        agent_schedule_plan(userdata);
        return 0;
}

/* After a plan: again soon if a file could not be written. */
static void agent_plan_files_done(Agent *a) {
        int r;

        if (!a->write_failed) {
                a->write_backoff = WRITE_RETRY_MIN;
                return;
        }
        a->write_failed = false;
        r = agent_arm_timer(a, &a->write_retry, a->write_backoff, on_write_retry);
        if (r < 0)
                log_warning_errno(r, "Failed to arm a timer, writing unit files again on the next resync: %m");
        a->write_backoff = MIN(a->write_backoff * 2, WRITE_RETRY_MAX);
}

static void step_files(Agent *a, const Step *s) {
        int r;

        if (s->type == AGENT_REMOVE) {
                r = systemd_backend_remove_unit(a->backend, s->name);
                if (r < 0)
                        log_unit_warning_errno(s->name, r, "Failed to remove unit file: %m");
                r = ports_remove_file(a->ports_dir, s->name);
                if (r < 0)
                        log_unit_warning_errno(s->name, r, "Failed to remove the port file of %s: %m", s->name);
                LocalUnit *u = hashmap_get(a->local, s->name);
                if (u)
                        agent_keep_route(a, s->name, u);
                local_unit_free(hashmap_remove(a->local, s->name));
                if (hashmap_put(a->gone, s->name, NULL) < 0)
                        log_unit_warning_errno(s->name, -ENOMEM,
                                               "Failed to note %s's state for deletion, it stays until this "
                                               "machine's lease ends: %m", s->name);
                log_unit_info(s->name, "Removed %s: no longer scheduled here.", s->name);
                return;
        }

        ScheduleRecord *d = hashmap_get(a->desired, s->name);
        if (!d)
                return;       /* unscheduled meanwhile: the next plan removes it */
        r = systemd_backend_write_unit(a->backend, s->name, d->contents);
        if (r < 0)
                return agent_write_failed(a, s->name, r);
        LocalUnit *u = local_get_or_add(a, s->name);
        if (u) {
                if (u->error) {
                        log_unit_info(s->name, "Wrote the unit file of %s.", s->name);
                        free(u->error);
                        u->error = NULL;
                }
                snprintf(u->hash, sizeof(u->hash), "%s", d->hash);
                u->dirty = true;
                /* The restart or stop that follows a new file resumes the checks. */
                local_unit_configure(u, d->contents);
                local_unit_reset_health(u);
                (void) agent_assign_port(a, u);
        } else
                log_unit_warning_errno(s->name, -ENOMEM, "Failed to track %s, writing it again on the next plan: %m",
                                       s->name);
}

static void step_job(Agent *a, const Step *s) {
        LocalUnit *u = s->name ? hashmap_get(a->local, s->name) : NULL;
        int r;

        /* A unit whose file could not be written keeps running what it had, or stays down. */
        if (u && u->error && (s->type == AGENT_START || s->type == AGENT_RESTART))
                return;
        /* Before a start: the port file is there (a failure to write it is logged; the unit then
         * fails on its EnvironmentFile=, which says more than not starting it). */
        if (u && (s->type == AGENT_START || s->type == AGENT_RESTART))
                (void) agent_assign_port(a, u);

        switch (s->type) {
        case AGENT_STOP:
                r = systemd_backend_stop(a->backend, s->name, on_step_done, a);
                break;
        case AGENT_START:
                r = systemd_backend_start(a->backend, s->name, on_step_done, a);
                break;
        case AGENT_RESTART:
                r = systemd_backend_restart(a->backend, s->name, on_step_done, a);
                break;
        case AGENT_RELOAD:
                r = systemd_backend_reload(a->backend, on_step_done, a);
                break;
        default:
                return;
        }
        if (r < 0)
                log_unit_warning_errno(s->name ?: "daemon-reload", r, "Failed to ask systemd: %m");
        else
                a->pending++;
        if (r >= 0 && s->type == AGENT_RELOAD)
                a->reload_started = now_usec(CLOCK_MONOTONIC);
        if (r >= 0 && u) {
                u->job_type = s->type == AGENT_STOP ? "stop" : s->type == AGENT_START ? "start" : "restart";
                u->job_started = now_usec(CLOCK_MONOTONIC);
                u->job = true;
                u->adopted = false;
                local_unit_sync_health(u);
                agent_schedule_publish(a);
        }
}

/* --- routes removed before units stop --- */

static bool step_unroutes(const Step *s) {
        return s->type == AGENT_STOP || s->type == AGENT_RESTART || s->type == AGENT_REMOVE;
}

/* True while a unit the plan stops, restarts or removes may still have a route. */
static bool agent_routes_pending(Agent *a) {
        for (size_t i = 0; i < a->n_steps; i++) {
                LocalUnit *u = step_unroutes(&a->steps[i]) ? hashmap_get(a->local, a->steps[i].name) : NULL;
                if (u && (u->route != ROUTE_ABSENT || agent_route_in_flight(a, a->steps[i].name)))
                        return true;
        }
        return false;
}

static void agent_unroute_done(Agent *a) {
        a->unrouting = false;
        /* disabling fails only in a forked child or once the loop has exited */
        (void) sd_event_source_set_enabled(a->unroute_timer, SD_EVENT_OFF);
        if (a->pending > 0 && --a->pending == 0)
                agent_advance(a);
}

/* Called whenever etcd answered a write. */
static void agent_check_unrouted(Agent *a) {
        if (a->unrouting && !agent_routes_pending(a))
                agent_unroute_done(a);
}

static int on_unroute_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        char buf[32];

        log_warning("etcd did not acknowledge the removal of routes within %s; stopping the units anyway "
                    "(their routes are removed when etcd answers, or go with this machine's lease).",
                    format_duration(buf, sizeof(buf), a->route_timeout));
        agent_unroute_done(a);
        return 0;
}

static int on_drain_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;

        if (a->pending > 0 && --a->pending == 0)
                agent_advance(a);
        return 0;
}

static int agent_arm_timer(Agent *a, sd_event_source **s, usec_t delay, sd_event_time_handler_t handler) {
        int r;

        if (!*s) {
                r = sd_event_add_time_relative(a->event, s, CLOCK_MONOTONIC, delay, ROUTE_TIMER_ACCURACY, handler, a);
                if (r < 0)
                        return r;
        } else {
                r = sd_event_source_set_time_relative(*s, delay);
                if (r < 0)
                        return r;
        }
        return sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
}

/* PHASE_UNROUTE: the units the plan stops, restarts or removes lose their routes, and the plan
 * waits (one pending) until etcd acknowledged every removal, or route_timeout passed. */
static void agent_unroute(Agent *a) {
        size_t n = 0;
        int r;

        for (size_t i = 0; i < a->n_steps; i++) {
                LocalUnit *u = step_unroutes(&a->steps[i]) ? hashmap_get(a->local, a->steps[i].name) : NULL;
                if (!u || u->draining)
                        continue;     /* a unit stopped and removed has two steps */
                u->draining = true;
                if (u->route != ROUTE_ABSENT || agent_route_in_flight(a, a->steps[i].name))
                        n++;
        }
        a->drain = n > 0;
        if (n == 0)
                return;
        log_info("Removing the routes of %zu unit(s) before they stop.", n);
        agent_schedule_publish(a);
        r = agent_arm_timer(a, &a->unroute_timer, a->route_timeout, on_unroute_timeout);
        if (r < 0) {
                log_warning_errno(r, "Failed to arm a timer, not waiting for the removal of routes: %m");
                return;
        }
        a->unrouting = true;
        a->pending++;
}

/* PHASE_DRAIN: requests that routers sent before the routes went away get time to finish. */
static void agent_drain(Agent *a) {
        char buf[32];
        int r;

        if (!a->drain || a->route_drain_delay == 0)
                return;
        r = agent_arm_timer(a, &a->drain_timer, a->route_drain_delay, on_drain_timer);
        if (r < 0) {
                log_warning_errno(r, "Failed to arm a timer, stopping without the drain delay: %m");
                return;
        }
        log_debug("Routes removed; stopping in %s.", format_duration(buf, sizeof(buf), a->route_drain_delay));
        a->pending++;
}

/* The plan is done: units it did not stop may be routed again. */
static void agent_undrain(Agent *a) {
        bool any = false;
        size_t i = 0;
        void *v;

        while (hashmap_iterate(a->local, &i, NULL, &v)) {
                LocalUnit *u = v;
                any = any || u->draining;
                u->draining = false;
        }
        a->drain = false;
        if (any)
                agent_schedule_publish(a);
}

/* Runs the steps of the next phase; a phase with jobs waits for all of them (on_step_done). */
static void agent_advance(Agent *a) {
        while (a->pending == 0) {
                switch (a->phase) {
                case PHASE_IDLE:
                        a->phase = PHASE_UNROUTE;
                        agent_unroute(a);
                        break;
                case PHASE_UNROUTE:
                        a->phase = PHASE_DRAIN;
                        agent_drain(a);
                        break;
                case PHASE_DRAIN:
                        a->phase = PHASE_STOP;
                        for (size_t i = 0; i < a->n_steps; i++)
                                if (a->steps[i].type == AGENT_STOP)
                                        step_job(a, &a->steps[i]);
                        break;
                case PHASE_STOP:
                        a->phase = PHASE_RELOAD;
                        for (size_t i = 0; i < a->n_steps; i++)
                                if (a->steps[i].type == AGENT_REMOVE || a->steps[i].type == AGENT_WRITE)
                                        step_files(a, &a->steps[i]);
                        for (size_t i = 0; i < a->n_steps; i++)
                                if (a->steps[i].type == AGENT_RELOAD)
                                        step_job(a, &a->steps[i]);
                        break;
                case PHASE_RELOAD:
                        a->phase = PHASE_START;
                        for (size_t i = 0; i < a->n_steps; i++)
                                if (a->steps[i].type == AGENT_START || a->steps[i].type == AGENT_RESTART)
                                        step_job(a, &a->steps[i]);
                        break;
                case PHASE_START:
                        a->phase = PHASE_IDLE;
                        steps_free(a);
                        agent_plan_files_done(a);
                        agent_undrain(a);
                        if (a->replan) {
                                a->replan = false;
                                agent_schedule_plan(a);
                        }
                        return;
                }
        }
}

static int agent_make_steps(Agent *a) {
        size_t nd = hashmap_size(a->desired), nl = hashmap_size(a->local), i = 0, k = 0;
        _cleanup_free_ AgentDesired *d = calloc(nd + 1, sizeof(*d));
        _cleanup_free_ AgentActual *l = calloc(nl + 1, sizeof(*l));
        _cleanup_(agent_plan_done) AgentPlan plan = {};
        const char *name;
        void *v;
        int r;

        if (!d || !l)
                return -ENOMEM;
        while (hashmap_iterate(a->desired, &i, &name, &v)) {
                ScheduleRecord *s = v;
                d[k++] = (AgentDesired) { name, s->hash, s->desired };
        }
        i = k = 0;
        while (hashmap_iterate(a->local, &i, &name, &v)) {
                LocalUnit *u = v;
                /* found at start-up, and systemd could not say how it is: taken as running, so
                 * that it is stopped before its file goes */
                l[k++] = (AgentActual) { name, u->hash, u->active ?: (u->adopted ? "active" : NULL) };
        }
        r = agent_plan(d, nd, l, nl, &plan);
        if (r < 0)
                return r;

        a->steps = calloc(plan.n_actions + 1, sizeof(Step));
        if (!a->steps)
                return -ENOMEM;
        for (i = 0; i < plan.n_actions; i++) {
                a->steps[i].type = plan.actions[i].type;
                if (plan.actions[i].name && !(a->steps[i].name = strdup(plan.actions[i].name))) {
                        a->n_steps = i;
                        return -ENOMEM;
                }
        }
        a->n_steps = plan.n_actions;
        return 0;
}

static int on_plan(sd_event_source *s, void *userdata) {
        Agent *a = userdata;
        int r;

        if (a->phase != PHASE_IDLE) {
                a->replan = true;
                return 0;
        }
        r = agent_make_steps(a);
        if (r < 0) {
                steps_free(a);
                return log_error_errno(r, "Failed to plan: %m");
        }
        if (a->n_steps > 0)
                log_info("Applying %zu step(s) for %zu scheduled unit(s).", a->n_steps, hashmap_size(a->desired));
        agent_advance(a);
        return 0;
}

static void agent_schedule_plan(Agent *a) {
        int r = 0;

        /* Both the schedule and systemd's view of the units found at start-up are needed: a
         * plan that took a running unit for stopped would remove its file without stopping it. */
        if (!a->schedule_loaded || !a->local_known)
                return;
        if (!a->plan_defer)
                r = sd_event_add_defer(a->event, &a->plan_defer, on_plan, a);
        if (r >= 0)
                r = sd_event_source_set_enabled(a->plan_defer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Failed to schedule a plan, planning on the next resync: %m");
}

/* --- the schedule --- */

static int desired_put(Agent *a, const char *key, const char *value) {
        const char *name = startswith(key, a->sched_prefix);
        _cleanup_(schedule_record_done) ScheduleRecord rec = {};
        json_auto_t *j = json_loads(value, 0, NULL);

        if (!name || !unit_name_is_valid(name, UNIT_NAME_PLAIN | UNIT_NAME_INSTANCE) ||
            schedule_record_from_json(j, &rec) < 0 || !streq(rec.name, name)) {
                log_warning("Ignoring malformed schedule entry %s.", key);
                return 0;
        }
        ScheduleRecord *copy = malloc(sizeof(*copy));
        if (!copy)
                return -ENOMEM;
        *copy = rec;
        rec = (ScheduleRecord) {};
        return hashmap_put(a->desired, name, copy);
}

/* A schedule entry could not be kept (out of memory): a plan without it would stop and remove a
 * unit still scheduled here, and delete its route. Nothing is planned or routed on the schedule
 * until it was read again whole. */
static void agent_schedule_lost(Agent *a, int error, const char *key) {
        log_error_errno(error, "Failed to keep schedule entry %s, reading the schedule again: %m", key);
        a->schedule_loaded = false;
        a->watch = etcd_watch_free(a->watch);
        agent_load_schedule(a);
}

static void on_schedule_events(EtcdWatch *w, int error, const EtcdEvent *events, size_t n, void *userdata) {
        Agent *a = userdata;

        if (error < 0) {
                log_warning_errno(error, "Schedule watch ended, reading the schedule again: %m");
                a->watch = etcd_watch_free(a->watch);
                agent_load_schedule(a);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                if (events[i].type == ETCD_EVENT_PUT) {
                        int r = desired_put(a, events[i].kv.key, events[i].kv.value);
                        if (r < 0)
                                return agent_schedule_lost(a, r, events[i].kv.key);
                } else {
                        const char *name = startswith(events[i].kv.key, a->sched_prefix);
                        if (name)
                                schedule_record_free(hashmap_remove(a->desired, name));
                }
        }
        agent_schedule_plan(a);
}

static void on_schedule_loaded(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        Agent *a = userdata;
        int r;

        a->load_request = etcd_request_cancel(a->load_request);
        if (error < 0) {
                /* The client already retried every endpoint; try again on the next resync. */
                log_warning_errno(error, "Failed to read this host's schedule: %m");
                return;
        }
        hashmap_clear(a->desired);
        for (size_t i = 0; i < result->n_kvs; i++) {
                r = desired_put(a, result->kvs[i].key, result->kvs[i].value);
                if (r < 0)
                        return agent_schedule_lost(a, r, result->kvs[i].key);
        }

        a->watch = etcd_watch_free(a->watch);
        r = etcd_client_watch(a->etcd, a->sched_prefix, a->sched_end, result->revision + 1, on_schedule_events, a,
                              &a->watch);
        if (r < 0)
                log_error_errno(r, "Failed to watch the schedule: %m");

        if (!a->schedule_loaded)
                log_info("Schedule loaded: %zu unit(s) for this host, %zu found running from before.",
                         hashmap_size(a->desired), hashmap_size(a->local));
        a->schedule_loaded = true;
        agent_schedule_plan(a);
}

static void agent_load_schedule(Agent *a) {
        EtcdRangeArgs args = { .key = a->sched_prefix, .range_end = a->sched_end };

        a->load_request = etcd_request_cancel(a->load_request);
        int r = etcd_client_range(a->etcd, &args, on_schedule_loaded, a, &a->load_request);
        if (r < 0)
                log_error_errno(r, "Failed to read the schedule: %m");
}

static int on_resync(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;

        if (!a->watch && !a->load_request)
                agent_load_schedule(a);
        agent_schedule_plan(a);
        int r = sd_event_source_set_time_relative(s, a->resync_interval);
        if (r < 0)
                return log_error_errno(r, "Failed to re-arm the resync timer: %m");
        return 0;
}

/* --- start-up: adopt what fleetd wrote before --- */

/* Units keep the ports they had; a port file of a unit that is gone, or that asks for no port
 * any more, is deleted. */
static void agent_adopt_ports(Agent *a) {
        _cleanup_strv_free_ char **names = NULL;
        int r;

        r = ports_list_files(a->ports_dir, &names);
        if (r < 0) {
                log_warning_errno(r, "Failed to list %s, assigning ports afresh: %m", a->ports_dir);
                return;
        }
        STRV_FOREACH(n, names) {
                LocalUnit *u = hashmap_get(a->local, *n);
                uint16_t port = 0;

                r = u && u->wants_port ? ports_read_file(a->ports_dir, *n, &port) : -ESRCH;
                if (r >= 0) {
                        u->port = port;
                        continue;
                }
                if (r != -ESRCH)
                        log_unit_warning_errno(*n, r, "Ignoring the port file of %s: %m", *n);
                r = ports_remove_file(a->ports_dir, *n);
                if (r < 0)
                        log_unit_warning_errno(*n, r, "Failed to remove the port file of %s: %m", *n);
        }
}

/* A fleetd before this one may have published routes of the instances it ran: their status is
 * unknown until their health says (route_next_write()). */
static void agent_adopt_routes(Agent *a) {
        size_t i = 0;
        void *v;

        while (hashmap_iterate(a->local, &i, NULL, &v)) {
                LocalUnit *u = v;
                if (u->instance && u->port > 0) {
                        u->route = ROUTE_UNKNOWN;
                        u->route_port = u->port;
                }
        }
}

static void on_local_queried(SystemdBackend *b, const char *unit, int error, const char *message, void *userdata) {
        Agent *a = userdata;

        if (error < 0)
                log_warning_errno(error, "Failed to ask systemd about the units found at start-up, taking them as running: %s",
                                  message ?: "(no message)");
        a->local_known = true;
        agent_schedule_plan(a);
}

static int agent_adopt_local(Agent *a) {
        _cleanup_strv_free_ char **names = NULL;
        int r;

        r = systemd_backend_list_units(a->backend, &names);
        if (r < 0)
                return r;
        STRV_FOREACH(n, names) {
                _cleanup_free_ char *contents = NULL;
                if (!unit_name_is_valid(*n, UNIT_NAME_PLAIN | UNIT_NAME_INSTANCE) ||
                    systemd_backend_read_unit(a->backend, *n, &contents) < 0)
                        continue;
                LocalUnit *u = local_get_or_add(a, *n);
                if (!u)
                        return -ENOMEM;
                sha256_hex(contents, strlen(contents), u->hash);
                u->adopted = true;
                local_unit_configure(u, contents);
        }
        agent_adopt_ports(a);
        agent_adopt_routes(a);
        if (strv_length(names) == 0) {
                a->local_known = true;
                return 0;
        }
        return systemd_backend_query(a->backend, names, on_local_queried, a);
}

/* "ports" next to units_dir: /run/fleetd/units -> /run/fleetd/ports (created on first use). */
static char *ports_dir_of(const char *units_dir) {
        const char *slash = strrchr(units_dir, '/');
        char *dir;

        if (!slash)
                return strdup("ports");
        return asprintf(&dir, "%.*s/ports", (int) (slash - units_dir), units_dir) < 0 ? NULL : dir;
}

/* fleetd_local_units, when /metrics is read. */
static void agent_collect(void *userdata) {
        Agent *a = userdata;
        size_t i = 0;
        void *v;

        agent_collect_begin();
        while (hashmap_iterate(a->local, &i, NULL, &v))
                agent_collect_unit(((LocalUnit *) v)->active);
}

int agent_new(sd_event *e, EtcdClient *etcd, Presence *presence, const AgentOptions *o, Agent **ret) {
        _cleanup_(agent_freep) Agent *a = NULL;
        int r;

        assert(e);
        assert(etcd);
        assert(presence);
        assert(o);
        assert(ret);

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->event = sd_event_ref(e);
        a->etcd = etcd;
        a->presence = presence;
        a->resync_interval = o->resync_interval;
        a->machine_id = strdup(o->machine_id);
        a->sched_prefix = registry_key(o->prefix, "schedule", o->machine_id, "", NULL);
        a->sched_end = a->sched_prefix ? etcd_prefix_end(a->sched_prefix) : NULL;
        a->state_prefix = registry_key(o->prefix, "state", "", NULL);
        a->routes_prefix = registry_key(o->prefix, "routes", "", NULL);
        a->public_ip = o->public_ip ? strdup(o->public_ip) : NULL;
        a->ports_dir = o->ports_dir ? strdup(o->ports_dir) : ports_dir_of(o->units_dir);
        a->next_port = PORTS_RANGE_FIRST;
        a->write_backoff = WRITE_RETRY_MIN;
        a->route_drain_delay = o->route_drain_delay;
        a->route_timeout = o->route_timeout ?: ROUTE_TIMEOUT_DEFAULT;
        a->desired = hashmap_new(schedule_record_free);
        a->local = hashmap_new(local_unit_free);
        a->gone = hashmap_new(NULL);
        a->gone_routes = hashmap_new(free);
        if (!a->machine_id || !a->sched_end || !a->state_prefix || !a->routes_prefix || (o->public_ip && !a->public_ip) ||
            !a->ports_dir || !a->desired || !a->local || !a->gone || !a->gone_routes)
                return -ENOMEM;
        if (o->hooks_dir) {
                HookRunnerOptions ho = { .dir = o->hooks_dir };
                r = hook_runner_new(e, &ho, &a->hooks);
                if (r < 0)
                        return r;
        }

        r = metrics_add_collector(NULL, agent_collect, a);
        if (r < 0)
                return r;
        r = systemd_backend_new(e, o->units_dir, o->link_dir, on_state_changed, a, &a->backend);
        if (r < 0)
                return r;
        r = agent_adopt_local(a);
        if (r < 0)
                return r;
        agent_load_schedule(a);

        if (a->resync_interval > 0) {
                r = sd_event_add_time_relative(e, &a->resync_timer, CLOCK_MONOTONIC, a->resync_interval,
                                               USEC_PER_SEC, on_resync, a);
                if (r < 0)
                        return r;
                r = sd_event_source_set_enabled(a->resync_timer, SD_EVENT_ON);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

Agent *agent_free(Agent *a) {
        if (!a)
                return NULL;
        metrics_remove_collector(NULL, agent_collect, a);
        etcd_request_cancel(a->load_request);
        etcd_request_cancel(a->publish_request);
        etcd_watch_free(a->watch);
        sd_event_source_disable_unref(a->plan_defer);
        sd_event_source_disable_unref(a->publish_timer);
        sd_event_source_disable_unref(a->resync_timer);
        sd_event_source_disable_unref(a->unroute_timer);
        sd_event_source_disable_unref(a->drain_timer);
        sd_event_source_disable_unref(a->write_retry);
        hook_runner_free(a->hooks);
        systemd_backend_free(a->backend);
        steps_free(a);
        sent_free(a->sent, a->n_sent);
        hashmap_free(a->desired);
        hashmap_free(a->local);
        hashmap_free(a->gone);
        hashmap_free(a->gone_routes);
        sd_event_unref(a->event);
        free(a->machine_id);
        free(a->sched_prefix);
        free(a->sched_end);
        free(a->state_prefix);
        free(a->routes_prefix);
        free(a->public_ip);
        free(a->ports_dir);
        free(a);
        return NULL;
}

SystemdBackend *agent_backend(Agent *a) {
        assert(a);
        return a->backend;
}
