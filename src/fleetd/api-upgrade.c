/* SPDX-License-Identifier: Apache-2.0 */
/* Machines, drains and reboots in the API (api-upgrade.h).
 *
 * From the top: the helpers every handler here and in api-fleetlock.c uses (bodies, the reads
 * of machines/ + drain/ and of one machine's drain status, the drain writes); the machine
 * lists; the drain handlers; the reboot. Each handler reads what it needs in one txn, decides
 * with drain-view.h (PURE) and writes with kv_update(), answering from the callbacks. */
#include <stdio.h>

#include "api-remote.h"
#include "api-upgrade.h"
#include "basic/json-util.h"
#include "basic/strv.h"
#include "fleetlock.h"
#include "kv-update.h"
#include "log.h"
#include "manager.h"

#define SUMMARY_UNITS 10
/* From the 202 to the reboot job: the answer leaves before systemd starts stopping things. */
#define REBOOT_DELAY (500 * USEC_PER_MSEC)

/* ---- bodies and replies ---- */

json_t *api_upgrade_body(ApiRequest *req, const char * const *fields) {
        size_t len;
        const char *body = api_request_body(req, &len), *k;
        json_auto_t *j = NULL;
        json_error_t e;
        json_t *v;

        j = body ? json_loadb(body, len, 0, &e) : json_object();
        if (!j && !body) {
                api_request_reply_error(req, 500, "internal", "Out of memory.");
                return NULL;
        }
        if (!json_is_object(j)) {
                api_request_reply_error(req, 400, "bad_request", "Body must be a JSON object%s%s.", j ? "" : ": ",
                                        j ? "" : e.text);
                return NULL;
        }
        json_object_foreach(j, k, v)
                if (!strv_contains((char **) fields, k)) {
                        api_request_reply_error(req, 400, "bad_request", "Unknown field '%s'.", k);
                        return NULL;
                }
        return TAKE_PTR(j);
}

void api_upgrade_reply(ApiRequest *req, unsigned status, json_t *body) {
        if (body)
                api_request_reply_json(req, status, body);
        else
                api_request_reply_error(req, 500, "internal", "Out of memory.");
}

/* A boolean field of body: absent is false; -EINVAL (replied 400) when it is not a boolean. */
static int body_bool(ApiRequest *req, const json_t *body, const char *field, bool *ret) {
        json_t *v = json_object_get(body, field);

        if (v && !json_is_boolean(v)) {
                api_request_reply_error(req, 400, "bad_request", "%s must be true or false.", field);
                return -EINVAL;
        }
        *ret = v && json_is_true(v);
        return 0;
}

/* ---- reading machines/ and drain/ ---- */

void upgrade_machines_done(UpgradeMachines *v) {
        for (size_t i = 0; i < v->n_machines; i++)
                machine_record_done(&v->machines[i]);
        for (size_t i = 0; i < v->n_drains; i++)
                drain_record_done(&v->drains[i]);
        free(v->machines);
        free(v->drains);
        *v = (UpgradeMachines) {};
}

const MachineRecord *upgrade_machines_by_fleetlock_id(const UpgradeMachines *v, const char *id) {
        for (size_t i = 0; i < v->n_machines; i++)
                if (fleetlock_id_equal(v->machines[i].fleetlock_id, id))
                        return &v->machines[i];
        return NULL;
}

/* The drain record at kv, whose key must end in its machine's id. */
static int drain_kv_parse(const EtcdKv *kv, DrainRecord *ret) {
        json_auto_t *j = json_loads(kv->value, 0, NULL);
        const char *slash = strrchr(kv->key, '/');
        int r;

        r = drain_record_from_json(j, ret);
        if (r < 0)
                return r;
        if (!slash || !streq(slash + 1, ret->machine)) {
                drain_record_done(ret);
                return -EBADMSG;
        }
        return 0;
}

static int upgrade_machines_parse(const EtcdResult *machines, const EtcdResult *drains, UpgradeMachines *ret) {
        _cleanup_(upgrade_machines_done) UpgradeMachines v = {};

        v.machines = calloc(machines->n_kvs + 1, sizeof(MachineRecord));
        v.drains = calloc(drains->n_kvs + 1, sizeof(DrainRecord));
        if (!v.machines || !v.drains)
                return -ENOMEM;
        for (size_t i = 0; i < machines->n_kvs; i++) {
                json_auto_t *j = json_loads(machines->kvs[i].value, 0, NULL);
                if (machine_record_from_json(j, &v.machines[v.n_machines]) >= 0)
                        v.n_machines++;
                else
                        log_warning("Ignoring malformed machine record at %s.", machines->kvs[i].key);
        }
        for (size_t i = 0; i < drains->n_kvs; i++)
                if (drain_kv_parse(&drains->kvs[i], &v.drains[v.n_drains]) >= 0)
                        v.n_drains++;
                else
                        log_warning("Ignoring malformed drain record at %s.", drains->kvs[i].key);
        *ret = v;
        v = (UpgradeMachines) {};
        return 0;
}

/* What a loader was asked for. */
typedef struct Load {
        Manager *m;
        char id[MACHINE_ID_LEN + 1];
        upgrade_machines_t machines_cb;
        upgrade_status_t status_cb;
        void *userdata;
} Load;

/* "<prefix><part>/<id>/" (id NULL: "<prefix><part>/") and the end of that prefix. */
static int prefix_range(Manager *m, const char *part, const char *id, char **ret_key, char **ret_end) {
        *ret_key = id ? registry_key(m->config->etcd_key_prefix, part, id, "", NULL)
                      : registry_key(m->config->etcd_key_prefix, part, "", NULL);
        *ret_end = *ret_key ? etcd_prefix_end(*ret_key) : NULL;
        return *ret_end ? 0 : -ENOMEM;
}

/* Runs the reads ops in one txn, for cb with l (taken: freed if this fails). */
static int load_start(Manager *m, Load *l, const EtcdOp *ops, size_t n_ops, etcd_callback_t cb) {
        EtcdTxn txn = { .success = ops, .n_success = n_ops };
        int r = etcd_client_txn(m->etcd, &txn, cb, l, NULL);

        if (r < 0)
                free(l);
        return r;
}

static void on_machines_loaded(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        _cleanup_free_ Load *l = userdata;
        _cleanup_(upgrade_machines_done) UpgradeMachines v = {};

        if (error >= 0 && result->n_responses < 2)
                error = -EBADMSG;
        if (error >= 0)
                error = upgrade_machines_parse(&result->responses[0], &result->responses[1], &v);
        l->machines_cb(l->m, error, error < 0 ? NULL : &v, l->userdata);
}

int upgrade_load_machines(Manager *m, upgrade_machines_t cb, void *userdata) {
        _cleanup_free_ char *mk = NULL, *me = NULL, *dk = NULL, *de = NULL;
        _cleanup_free_ Load *l = calloc(1, sizeof(Load));

        if (!l || prefix_range(m, "machines", NULL, &mk, &me) < 0 || prefix_range(m, "drain", NULL, &dk, &de) < 0)
                return -ENOMEM;
        *l = (Load) { .m = m, .machines_cb = cb, .userdata = userdata };
        EtcdOp ops[] = {
                { .type = ETCD_OP_RANGE, .key = mk, .range_end = me },
                { .type = ETCD_OP_RANGE, .key = dk, .range_end = de },
        };
        return load_start(m, TAKE_PTR(l), ops, ELEMENTSOF(ops), on_machines_loaded);
}

/* ---- reading one machine's drain status ---- */

typedef struct StatusRecords {
        ScheduleRecord *schedule;
        size_t n_schedule;
        PlacementRecord *placements;
        size_t n_placements;
} StatusRecords;

static void status_records_done(StatusRecords *s) {
        for (size_t i = 0; i < s->n_schedule; i++)
                schedule_record_done(&s->schedule[i]);
        for (size_t i = 0; i < s->n_placements; i++)
                placement_record_done(&s->placements[i]);
        free(s->schedule);
        free(s->placements);
        *s = (StatusRecords) {};
}

static int status_records_parse(const EtcdResult *schedule, const EtcdResult *placements, StatusRecords *ret) {
        ret->schedule = calloc(schedule->n_kvs + 1, sizeof(ScheduleRecord));
        ret->placements = calloc(placements->n_kvs + 1, sizeof(PlacementRecord));
        if (!ret->schedule || !ret->placements)
                return -ENOMEM;
        for (size_t i = 0; i < schedule->n_kvs; i++) {
                json_auto_t *j = json_loads(schedule->kvs[i].value, 0, NULL);
                if (schedule_record_from_json(j, &ret->schedule[ret->n_schedule]) >= 0)
                        ret->n_schedule++;
                else
                        log_warning("Ignoring malformed schedule record at %s.", schedule->kvs[i].key);
        }
        for (size_t i = 0; i < placements->n_kvs; i++) {
                json_auto_t *j = json_loads(placements->kvs[i].value, 0, NULL);
                if (placement_record_from_json(j, &ret->placements[ret->n_placements]) >= 0)
                        ret->n_placements++;
                else
                        log_debug("Ignoring malformed placement record at %s.", placements->kvs[i].key);
        }
        return 0;
}

/* drain/<id> as read: a key that holds no drain record still means draining (readers go by
 * the key), as a drain without force from fleetctl. */
static int status_drain_parse(const char *id, const EtcdResult *drain, DrainRecord *ret, bool *ret_draining) {
        *ret_draining = drain->n_kvs > 0;
        if (drain->n_kvs == 0 || drain_kv_parse(&drain->kvs[0], ret) >= 0)
                return 0;
        log_warning("Malformed drain record at %s; the machine counts as draining.", drain->kvs[0].key);
        *ret = (DrainRecord) { .source = strdup("fleetctl") };
        strcpy(ret->machine, id);
        return ret->source ? 0 : -ENOMEM;
}

static void on_status_loaded(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        _cleanup_free_ Load *l = userdata;
        _cleanup_(status_records_done) StatusRecords recs = {};
        _cleanup_(drain_status_done) DrainStatus s = {};
        _cleanup_(drain_record_done) DrainRecord d = {};
        bool draining = false;

        if (error >= 0 && result->n_responses < 3)
                error = -EBADMSG;
        if (error >= 0)
                error = status_drain_parse(l->id, &result->responses[0], &d, &draining);
        if (error >= 0)
                error = status_records_parse(&result->responses[1], &result->responses[2], &recs);
        if (error >= 0)
                error = drain_status_compute(l->id, recs.schedule, recs.n_schedule, recs.placements,
                                             recs.n_placements, &s);
        l->status_cb(l->m, error, error < 0 ? NULL : &s, error >= 0 && draining ? &d : NULL, l->userdata);
}

int upgrade_load_status(Manager *m, const char *id, upgrade_status_t cb, void *userdata) {
        _cleanup_free_ char *dk = NULL, *sk = NULL, *se = NULL, *pk = NULL, *pe = NULL;
        _cleanup_free_ Load *l = NULL;

        if (!machine_id_is_valid(id))
                return -EINVAL;
        l = calloc(1, sizeof(Load));
        dk = registry_key(m->config->etcd_key_prefix, "drain", id, NULL);
        if (!l || !dk || prefix_range(m, "schedule", id, &sk, &se) < 0 ||
            prefix_range(m, "placement", NULL, &pk, &pe) < 0)
                return -ENOMEM;
        *l = (Load) { .m = m, .status_cb = cb, .userdata = userdata };
        strcpy(l->id, id);
        EtcdOp ops[] = {
                { .type = ETCD_OP_RANGE, .key = dk },
                { .type = ETCD_OP_RANGE, .key = sk, .range_end = se },
                { .type = ETCD_OP_RANGE, .key = pk, .range_end = pe },
        };
        return load_start(m, TAKE_PTR(l), ops, ELEMENTSOF(ops), on_status_loaded);
}

/* ---- writing drain/<id> ---- */

typedef struct DrainWrite {
        Manager *m;
        DrainRecord want;             /* start: the drain to make */
        char *only_source;            /* remove: only a drain of this source */
        DrainRecord now;              /* what the last decide() saw or made */
        bool has_now;
        upgrade_drain_t cb;
        void *userdata;
} DrainWrite;

static DrainWrite *drain_write_free(DrainWrite *w) {
        if (!w)
                return NULL;
        drain_record_done(&w->want);
        drain_record_done(&w->now);
        free(w->only_source);
        free(w);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(DrainWrite *, drain_write_free);

static int drain_record_copy(const DrainRecord *s, DrainRecord *ret) {
        *ret = (DrainRecord) { .since_usec = s->since_usec, .force = s->force, .by = s->by ? strdup(s->by) : NULL,
                               .source = s->source ? strdup(s->source) : NULL };
        memcpy(ret->machine, s->machine, sizeof(ret->machine));
        if ((s->by && !ret->by) || (s->source && !ret->source)) {
                drain_record_done(ret);
                return -ENOMEM;
        }
        return 0;
}

static int drain_record_text(const DrainRecord *d, char **ret) {
        json_auto_t *j = drain_record_to_json(d);

        *ret = j ? jx_dumps(j) : NULL;
        return *ret ? KV_PUT : -ENOMEM;
}

/* value's drain record into w->now; false if there is none or it does not parse. */
static bool drain_write_read(DrainWrite *w, const char *value) {
        json_auto_t *j = value ? json_loads(value, 0, NULL) : NULL;

        drain_record_done(&w->now);
        w->has_now = j && drain_record_from_json(j, &w->now) >= 0;
        return w->has_now;
}

static int drain_start_decide(const char *value, char **ret_value, void *userdata) {
        DrainWrite *w = userdata;
        int r;

        if (drain_write_read(w, value)) {
                if (!w->want.force || w->now.force)
                        return KV_KEEP;
                w->now.force = true;
                return drain_record_text(&w->now, ret_value);
        }
        r = drain_record_copy(&w->want, &w->now);
        if (r < 0)
                return r;
        w->has_now = true;
        return drain_record_text(&w->now, ret_value);
}

static int drain_remove_decide(const char *value, char **ret_value, void *userdata) {
        DrainWrite *w = userdata;
        bool parsed = drain_write_read(w, value);

        if (!value)
                return KV_KEEP;
        if (w->only_source && (!parsed || !streq(w->now.source, w->only_source)))
                return KV_KEEP;
        return KV_DELETE;
}

static void on_drain_written(int error, KvDecision decision, int64_t revision, void *userdata) {
        _cleanup_(drain_write_freep) DrainWrite *w = userdata;

        w->cb(w->m, error, error >= 0 && decision != KV_KEEP, error >= 0 && w->has_now ? &w->now : NULL,
              w->userdata);
}

static int drain_write_new(Manager *m, upgrade_drain_t cb, void *userdata, DrainWrite **ret) {
        DrainWrite *w = calloc(1, sizeof(DrainWrite));

        if (!w)
                return -ENOMEM;
        *w = (DrainWrite) { .m = m, .cb = cb, .userdata = userdata };
        *ret = w;
        return 0;
}

int upgrade_drain_write(Manager *m, const DrainRecord *want, upgrade_drain_t cb, void *userdata) {
        _cleanup_(drain_write_freep) DrainWrite *w = NULL;
        _cleanup_free_ char *key = NULL;
        int r;

        if (!machine_id_is_valid(want->machine) || !drain_source_is_valid(want->source))
                return -EINVAL;
        r = drain_write_new(m, cb, userdata, &w);
        if (r < 0 || (r = drain_record_copy(want, &w->want)) < 0)
                return r;
        key = registry_key(m->config->etcd_key_prefix, "drain", want->machine, NULL);
        if (!key)
                return -ENOMEM;
        KvUpdateArgs args = { .key = key, .decide = drain_start_decide, .done = on_drain_written, .userdata = w };
        r = kv_update(m->etcd, &args);
        if (r < 0)
                return r;
        TAKE_PTR(w);
        return 0;
}

int upgrade_drain_remove(Manager *m, const char *id, const char *only_source, bool rebalance, const char *by,
                         upgrade_drain_t cb, void *userdata) {
        _cleanup_(drain_write_freep) DrainWrite *w = NULL;
        _cleanup_free_ char *key = NULL, *rkey = NULL, *rvalue = NULL;
        json_auto_t *rj = NULL;
        int r;

        if (!machine_id_is_valid(id))
                return -EINVAL;
        r = drain_write_new(m, cb, userdata, &w);
        if (r < 0)
                return r;
        RebalanceRecord b = { .since_usec = now_usec(CLOCK_REALTIME), .by = (char *) by };
        strcpy(b.machine, id);
        key = registry_key(m->config->etcd_key_prefix, "drain", id, NULL);
        rkey = registry_key(m->config->etcd_key_prefix, "rebalance", id, NULL);
        rj = rebalance_record_to_json(&b);
        rvalue = rj ? jx_dumps(rj) : NULL;
        if (!key || !rkey || !rvalue || (only_source && !(w->only_source = strdup(only_source))))
                return -ENOMEM;
        EtcdOp also = { .type = ETCD_OP_PUT, .key = rkey, .value = rvalue };
        KvUpdateArgs args = { .key = key, .also = rebalance ? &also : NULL, .n_also = rebalance,
                              .decide = drain_remove_decide, .done = on_drain_written, .userdata = w };
        r = kv_update(m->etcd, &args);
        if (r < 0)
                return r;
        TAKE_PTR(w);
        return 0;
}

/* ---- machine lists ---- */

/* A machine's object: its record, and while it drains state "draining" and the drain. */
static json_t *machine_json(const MachineRecord *rec, const DrainRecord *d) {
        json_auto_t *j = machine_record_to_json(rec);

        if (!j)
                return NULL;
        if (d && (json_object_set_new(j, "state", json_string("draining")) < 0 ||
                  json_object_set_new(j, "drain", drain_record_to_json(d)) < 0))
                return NULL;
        return TAKE_PTR(j);
}

static json_t *machines_json(const UpgradeMachines *v) {
        json_auto_t *list = json_array();

        for (size_t i = 0; list && i < v->n_machines; i++) {
                const MachineRecord *rec = &v->machines[i];
                if (json_array_append_new(list, machine_json(rec, drain_find(v->drains, v->n_drains, rec->id))) < 0)
                        return NULL;
        }
        return TAKE_PTR(list);
}

static void on_machines_listed(Manager *m, int error, const UpgradeMachines *v, void *userdata) {
        ApiRequest *req = userdata;
        json_auto_t *list = NULL, *body = NULL;

        if (error < 0)
                return (void) api_request_reply_etcd_error(req, error);
        list = machines_json(v);
        body = list ? json_pack("{s:O}", "machines", list) : NULL;
        api_upgrade_reply(req, 200, body);
}

int api_upgrade_machines_list(ApiRequest *req, void *userdata) {
        return upgrade_load_machines(userdata, on_machines_listed, req);
}

static void on_machine_read(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        ApiRequest *req = userdata;
        _cleanup_(upgrade_machines_done) UpgradeMachines v = {};
        json_auto_t *body = NULL;

        if (error >= 0 && result->n_responses < 2)
                error = -EBADMSG;
        if (error >= 0)
                error = upgrade_machines_parse(&result->responses[0], &result->responses[1], &v);
        if (error < 0)
                return (void) api_request_reply_etcd_error(req, error);
        if (v.n_machines == 0)
                return (void) api_request_reply_error(req, 404, "not_found", "No machine %s.", api_request_arg(req, 0));
        body = machine_json(&v.machines[0], v.n_drains > 0 ? &v.drains[0] : NULL);
        api_upgrade_reply(req, 200, body);
}

int api_upgrade_machines_get(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        const char *id = api_request_arg(req, 0);
        _cleanup_free_ char *mk = NULL, *dk = NULL;

        if (!machine_id_is_valid(id))
                return api_request_reply_error(req, 400, "bad_request",
                                               "Invalid machine id '%s': expected 32 lowercase hex digits.", id);
        mk = registry_key(m->config->etcd_key_prefix, "machines", id, NULL);
        dk = registry_key(m->config->etcd_key_prefix, "drain", id, NULL);
        if (!mk || !dk)
                return -ENOMEM;
        EtcdOp ops[] = { { .type = ETCD_OP_RANGE, .key = mk }, { .type = ETCD_OP_RANGE, .key = dk } };
        EtcdTxn txn = { .success = ops, .n_success = ELEMENTSOF(ops) };
        return etcd_client_txn(m->etcd, &txn, on_machine_read, req, NULL);
}

static void on_drains_listed(Manager *m, int error, const UpgradeMachines *v, void *userdata) {
        ApiRequest *req = userdata;
        json_auto_t *list = json_array(), *body = NULL;

        if (error < 0)
                return (void) api_request_reply_etcd_error(req, error);
        for (size_t i = 0; list && i < v->n_drains; i++)
                if (json_array_append_new(list, drain_record_to_json(&v->drains[i])) < 0)
                        json_decref(TAKE_PTR(list));
        body = list ? json_pack("{s:O}", "drains", list) : NULL;
        api_upgrade_reply(req, 200, body);
}

int api_upgrade_drains_list(ApiRequest *req, void *userdata) {
        return upgrade_load_machines(userdata, on_drains_listed, req);
}

/* ---- one machine's drain, named by a HOST ---- */

typedef struct HostRequest HostRequest;
/* What a request does once its HOST is found (v: machines/ and drain/ as read). Owns h. */
typedef void (*host_step_t)(HostRequest *h, const UpgradeMachines *v);

struct HostRequest {
        Manager *m;
        ApiRequest *req;
        host_step_t step;
        bool registered;              /* the machine must be registered (it is to be asked) */
        char id[MACHINE_ID_LEN + 1];  /* once resolved */
        char *hostname;               /* NULL if the machine is not registered */
        char *api;                    /* its TCP API, if it has one */
        bool force;
        bool rebalance;
        char *by;
        char *source;
};

static HostRequest *host_request_free(HostRequest *h) {
        if (!h)
                return NULL;
        free(h->hostname);
        free(h->api);
        free(h->by);
        free(h->source);
        free(h);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(HostRequest *, host_request_free);

static HostRequest *host_request_new(Manager *m, ApiRequest *req) {
        HostRequest *h = calloc(1, sizeof(HostRequest));

        if (h)
                *h = (HostRequest) { .m = m, .req = req, .rebalance = true };
        return h;
}

/* "hostname" or the id, for messages. */
static const char *host_name(const HostRequest *h) {
        return h->hostname ?: h->id;
}

/* Replies for a failed etcd write or read and frees h. */
static void host_request_fail(HostRequest *h, int error) {
        if (error == -EAGAIN)
                api_request_reply_error(h->req, 503, "conflict", "drain/%s kept changing under this request; try again.",
                                        h->id);
        else if (error == -ENOMEM)
                api_request_reply_error(h->req, 500, "internal", "Out of memory.");
        else
                api_request_reply_etcd_error(h->req, error);
        host_request_free(h);
}

/* Finds the machine the request's HOST names; replies and returns false if none (or more
 * than one) does, or if it must be registered and is not (409: it cannot be asked). */
static bool host_request_resolve(HostRequest *h, const UpgradeMachines *v) {
        const char *host = api_request_arg(h->req, 0);
        int r = machine_resolve(v->machines, v->n_machines, v->drains, v->n_drains, host, h->id);

        if (r == -ENOTUNIQ)
                return api_request_reply_error(h->req, 400, "bad_request",
                                               "'%s' names more than one machine; use its machine id.", host), false;
        if (r < 0)
                return api_request_reply_error(h->req, 404, "not_found",
                                               "No machine %s (expected a machine id, an id prefix, a hostname or "
                                               "an IP of a registered machine).", host), false;
        for (size_t i = 0; i < v->n_machines; i++)
                if (streq(v->machines[i].id, h->id)) {
                        h->hostname = strdup(strempty(v->machines[i].hostname));
                        h->api = v->machines[i].api ? strdup(v->machines[i].api) : NULL;
                        if (!h->hostname || (v->machines[i].api && !h->api))
                                return api_request_reply_error(h->req, 500, "internal", "Out of memory."), false;
                }
        if (h->registered && !h->hostname)
                return api_request_reply_error(h->req, 409, "conflict",
                                               "Machine %s is not registered (down?): its fleetd cannot be asked.",
                                               h->id), false;
        return true;
}

static void on_host_machines(Manager *m, int error, const UpgradeMachines *v, void *userdata) {
        HostRequest *h = userdata;

        if (error < 0)
                return host_request_fail(h, error);
        if (!host_request_resolve(h, v))
                return (void) host_request_free(h);
        h->step(h, v);
}

/* Reads machines/ and drain/, finds the HOST, then step. Takes h (freed on failure; the
 * handler then returns the error). */
static int host_request_start(HostRequest *h, host_step_t step, bool registered) {
        int r;

        h->step = step;
        h->registered = registered;
        r = upgrade_load_machines(h->m, on_host_machines, h);
        if (r < 0)
                host_request_free(h);
        return r;
}

/* Reads h's machine's drain status for cb, which gets h as userdata. */
static void host_request_load_status(HostRequest *h, upgrade_status_t cb) {
        int r = upgrade_load_status(h->m, h->id, cb, h);

        if (r < 0)
                host_request_fail(h, r);
}

/* The names left in s, ", " between them, at most SUMMARY_UNITS. NULL on OOM. */
static char *left_names(const DrainStatus *s) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        for (size_t i = 0; i < s->n_left && i < SUMMARY_UNITS; i++)
                fprintf(f, "%s%s", i > 0 ? ", " : "", s->left[i].unit);
        if (s->n_left > SUMMARY_UNITS)
                fprintf(f, " and %zu more", s->n_left - SUMMARY_UNITS);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(text);
}

/* POST /v1/machines/<host>/drain */

static void on_drain_started(Manager *m, int error, bool changed, const DrainRecord *d, void *userdata) {
        _cleanup_(host_request_freep) HostRequest *h = userdata;
        json_auto_t *body = NULL;

        if (error < 0)
                return host_request_fail(TAKE_PTR(h), error);
        if (changed)
                log_info("Machine %s (%s) is draining, asked by %s%s.", h->id, host_name(h), strna(d->by),
                         d->force ? ", with force" : "");
        body = drain_record_to_json(d);
        api_upgrade_reply(h->req, 200, body);
}

static void drain_start_write(HostRequest *h) {
        DrainRecord want = { .since_usec = now_usec(CLOCK_REALTIME), .by = h->by, .force = h->force,
                             .source = h->source };
        int r;

        strcpy(want.machine, h->id);
        r = upgrade_drain_write(h->m, &want, on_drain_started, h);
        if (r < 0)
                host_request_fail(h, r);
}

static void on_last_machine_status(Manager *m, int error, const DrainStatus *s, const DrainRecord *d,
                                   void *userdata) {
        _cleanup_(host_request_freep) HostRequest *h = userdata;
        _cleanup_free_ char *names = NULL;

        if (error < 0)
                return host_request_fail(TAKE_PTR(h), error);
        names = left_names(s);
        if (!names)
                return host_request_fail(TAKE_PTR(h), -ENOMEM);
        api_request_reply_error(h->req, 409, "conflict",
                                "Machine %s (%s) is the last schedulable machine: no other machine would take its "
                                "units. %s%s%s Drain it with force to do it anyway.",
                                h->id, host_name(h), s->n_left > 0 ? "With force these would stop: " : "",
                                s->n_left > 0 ? names : "Nothing runs there now that would stop (global units stay),",
                                s->n_left > 0 ? " (global units stay)." : " but no machine would take new units.");
}

static void drain_start_step(HostRequest *h, const UpgradeMachines *v) {
        if (h->force || !drain_is_last_schedulable(v->machines, v->n_machines, v->drains, v->n_drains, h->id))
                drain_start_write(h);
        else
                host_request_load_status(h, on_last_machine_status);
}

/* {force?, source?, by?} into h; replies 400 and returns false when they are not right. */
static bool drain_start_parse(HostRequest *h, const json_t *body) {
        json_t *source = json_object_get(body, "source"), *by = json_object_get(body, "by");

        if (body_bool(h->req, body, "force", &h->force) < 0)
                return false;
        if (source && !drain_source_is_valid(json_string_value(source)))
                return api_request_reply_error(h->req, 400, "bad_request",
                                               "source must be fleetctl, fleetlock or reboot."), false;
        if (by && (!json_is_string(by) || json_string_length(by) == 0))
                return api_request_reply_error(h->req, 400, "bad_request", "by must be a non-empty string."), false;
        h->source = strdup(source ? json_string_value(source) : "fleetctl");
        h->by = strdup(by ? json_string_value(by) : "api");
        if (!h->source || !h->by)
                return api_request_reply_error(h->req, 500, "internal", "Out of memory."), false;
        return true;
}

int api_upgrade_drain_start(ApiRequest *req, void *userdata) {
        static const char * const fields[] = { "force", "source", "by", NULL };
        _cleanup_(host_request_freep) HostRequest *h = NULL;
        json_auto_t *body = api_upgrade_body(req, fields);

        if (!body)
                return 0;
        h = host_request_new(userdata, req);
        if (!h)
                return -ENOMEM;
        if (!drain_start_parse(h, body))
                return 0;
        return host_request_start(TAKE_PTR(h), drain_start_step, false);
}

/* GET /v1/machines/<host>/drain */

static void on_drain_status(Manager *m, int error, const DrainStatus *s, const DrainRecord *d, void *userdata) {
        _cleanup_(host_request_freep) HostRequest *h = userdata;
        json_auto_t *body = NULL;

        if (error < 0)
                return host_request_fail(TAKE_PTR(h), error);
        body = drain_status_to_json(s, h->id, d);
        if (body && h->hostname && json_object_set_new(body, "hostname", json_string(h->hostname)) < 0)
                json_decref(TAKE_PTR(body));
        api_upgrade_reply(h->req, 200, body);
}

static void drain_status_step(HostRequest *h, const UpgradeMachines *v) {
        host_request_load_status(h, on_drain_status);
}

int api_upgrade_drain_status(ApiRequest *req, void *userdata) {
        HostRequest *h = host_request_new(userdata, req);

        return h ? host_request_start(h, drain_status_step, false) : -ENOMEM;
}

/* DELETE /v1/machines/<host>/drain[?rebalance=0] */

static void on_drain_stopped(Manager *m, int error, bool changed, const DrainRecord *d, void *userdata) {
        _cleanup_(host_request_freep) HostRequest *h = userdata;
        json_auto_t *body = NULL;

        if (error < 0)
                return host_request_fail(TAKE_PTR(h), error);
        if (changed)
                log_info("Machine %s (%s) uncordoned%s.", h->id, host_name(h), h->rebalance ? "; rebalancing" : "");
        body = json_pack("{s:s, s:b, s:b}", "machine", h->id, "uncordoned", changed, "rebalance",
                         changed && h->rebalance);
        api_upgrade_reply(h->req, 200, body);
}

static void drain_stop_step(HostRequest *h, const UpgradeMachines *v) {
        int r = upgrade_drain_remove(h->m, h->id, NULL, h->rebalance, "api", on_drain_stopped, h);

        if (r < 0)
                host_request_fail(h, r);
}

/* ?rebalance=0|false|1|true (absent: 1); -EINVAL (replied 400) for anything else. */
static int query_rebalance(ApiRequest *req, bool *ret) {
        const char *q = api_request_query(req, "rebalance");

        if (!q || streq(q, "1") || streq(q, "true") || streq(q, ""))
                *ret = true;
        else if (streq(q, "0") || streq(q, "false"))
                *ret = false;
        else
                return api_request_reply_error(req, 400, "bad_request", "rebalance must be 1 or 0."), -EINVAL;
        return 0;
}

int api_upgrade_drain_stop(ApiRequest *req, void *userdata) {
        _cleanup_(host_request_freep) HostRequest *h = host_request_new(userdata, req);

        if (!h)
                return -ENOMEM;
        if (query_rebalance(req, &h->rebalance) < 0)
                return 0;
        return host_request_start(TAKE_PTR(h), drain_stop_step, false);
}

/* ---- POST /v1/machines/<host>/reboot ---- */

static void on_reboot_queued(SystemdBackend *b, const char *unit, int error, const char *message, void *userdata) {
        if (error < 0)
                log_error_errno(error, "systemd did not start %s: %s", unit, strna(message));
        else
                log_notice("systemd started %s: this machine reboots.", unit);
}

static int on_reboot_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        SystemdBackend *b = m->agent ? agent_backend(m->agent) : NULL;
        int r;

        r = b ? systemd_backend_reboot(b, on_reboot_queued, NULL) : -ENOTCONN;
        if (r < 0)
                log_error_errno(r, "Failed to ask systemd for a reboot: %m");
        return 0;
}

static void reboot_local(HostRequest *h, const DrainStatus *s, const DrainRecord *d) {
        bool drained = d && s->phase == DRAIN_PHASE_DRAINED;
        _cleanup_free_ char *summary = NULL;
        json_auto_t *body = NULL;
        int r;

        if (!drained && !h->force) {
                summary = d ? drain_status_summary(s, SUMMARY_UNITS) : NULL;
                api_request_reply_error(h->req, 409, "conflict",
                                        "Machine %s (%s) is not drained (%s): drain it first, or reboot it with force.",
                                        h->id, host_name(h), d ? strempty(summary) : "it is not draining");
                return;
        }
        if (!h->m->agent || !agent_backend(h->m->agent)) {
                api_request_reply_error(h->req, 503, "unavailable",
                                        "The agent of this machine is not running: systemd cannot be asked to reboot.");
                return;
        }
        r = sd_event_add_time_relative(h->m->event, NULL, CLOCK_MONOTONIC, REBOOT_DELAY, 0, on_reboot_timer, h->m);
        if (r < 0) {
                api_request_reply_error(h->req, 500, "internal", "Failed to arm the reboot: %s", strerror(-r));
                return;
        }
        log_notice("Rebooting this machine, asked through the API%s.", drained ? "" : " with force (not drained)");
        body = json_pack("{s:s, s:s, s:b, s:b}", "machine", h->id, "hostname", host_name(h), "rebooting", true,
                         "drained", drained);
        api_upgrade_reply(h->req, 202, body);
}

static void on_reboot_status(Manager *m, int error, const DrainStatus *s, const DrainRecord *d, void *userdata) {
        _cleanup_(host_request_freep) HostRequest *h = userdata;

        if (error < 0)
                return host_request_fail(TAKE_PTR(h), error);
        reboot_local(h, s, d);
}

/* Another machine: its own fleetd reboots it (api-remote.h forwards the request). */
static void reboot_remote(HostRequest *h) {
        _cleanup_(host_request_freep) HostRequest *hh = h;
        _cleanup_free_ char *path = NULL, *body = NULL;
        json_auto_t *j = json_pack("{s:b}", "force", h->force);

        body = j ? jx_dumps(j) : NULL;
        if (!body || asprintf(&path, "/v1/machines/%s/reboot", h->id) < 0)
                return (void) api_request_reply_error(h->req, 500, "internal", "Out of memory.");
        api_remote_forward(h->m, h->req, h->id, h->api, path, body);
}

static void reboot_step(HostRequest *h, const UpgradeMachines *v) {
        if (streq(h->id, h->m->self.id))
                host_request_load_status(h, on_reboot_status);
        else
                reboot_remote(h);
}

int api_upgrade_reboot(ApiRequest *req, void *userdata) {
        static const char * const fields[] = { "force", NULL };
        _cleanup_(host_request_freep) HostRequest *h = NULL;
        json_auto_t *body = api_upgrade_body(req, fields);

        if (!body)
                return 0;
        h = host_request_new(userdata, req);
        if (!h)
                return -ENOMEM;
        if (body_bool(req, body, "force", &h->force) < 0)
                return 0;
        return host_request_start(TAKE_PTR(h), reboot_step, true);
}
