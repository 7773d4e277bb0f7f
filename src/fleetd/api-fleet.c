/* SPDX-License-Identifier: Apache-2.0 */
/* fleet's API v1 on fleetd's socket (see api-fleet.h). */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "api-events.h"
#include "api-fleet.h"
#include "basic/json-util.h"
#include "basic/sha256.h"
#include "fleet-schema.h"
#include "log.h"
#include "manager.h"
#include "unit-name.h"

/* ---- replies ---- */

static int fleet_reply_error(ApiRequest *req, unsigned status, const char *fmt, ...) _printf_(3, 4);
static int fleet_reply_error(ApiRequest *req, unsigned status, const char *fmt, ...) {
        _cleanup_free_ char *message = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&message, fmt, ap);
        va_end(ap);
        json_auto_t *j = fleet_error_json(status, r < 0 ? "Out of memory." : message);
        return api_request_reply_json(req, j ? status : 500, j);
}

/* fleet answered 500 with no message when its registry failed; fleetd says why, with 503. */
static int fleet_reply_etcd_error(ApiRequest *req, int error) {
        if (error == -ENOMEM)
                return fleet_reply_error(req, 500, "Out of memory.");
        return fleet_reply_error(req, 503, "etcd did not answer: %s", strerror(-error));
}

/* Replies 200 with j (taken), or 500 if j is NULL (out of memory). */
static int fleet_reply_json(ApiRequest *req, json_t *j) {
        json_auto_t *body = j;

        if (!body)
                return fleet_reply_error(req, 500, "Out of memory.");
        return api_request_reply_json(req, 200, body);
}

/* The page that ?nextPageToken= asks for (1 without one). Replies 400 and returns false if the
 * token is not one of ours. */
static bool fleet_page_from_query(ApiRequest *req, uint16_t *ret_page) {
        const char *token = api_request_query(req, "nextPageToken");
        _cleanup_free_ char *why = NULL;
        int r;

        *ret_page = 1;
        if (!token)
                return true;
        r = fleet_page_token_decode(token, ret_page, &why);
        if (r == -ENOMEM)
                return fleet_reply_error(req, 500, "Out of memory."), false;
        if (r < 0)
                return fleet_reply_error(req, 400, "%s", why), false;
        return true;
}

/* ---- reading a snapshot of etcd ---- */

typedef enum FleetPrefix {
        FLEET_UNITS,                  /* units/ (or units/<name>) */
        FLEET_SCHEDULE,               /* schedule/, keys only */
        FLEET_STATE,                  /* state/ (or state/<name>/) */
        FLEET_MACHINES,               /* machines/ */
        _FLEET_PREFIX_MAX,
} FleetPrefix;

static const char *const prefix_dir[_FLEET_PREFIX_MAX] = {
        [FLEET_UNITS] = "units/",
        [FLEET_SCHEDULE] = "schedule/",
        [FLEET_STATE] = "state/",
        [FLEET_MACHINES] = "machines/",
};

typedef struct FleetRead FleetRead;
/* Called once every range has answered: replies to r->req from r->snapshot. */
typedef void (*fleet_read_done_t)(FleetRead *r);

typedef struct FleetRange {
        FleetRead *read;
        FleetPrefix prefix;
} FleetRange;

struct FleetRead {
        Manager *m;
        ApiRequest *req;
        FleetSnapshot *snapshot;
        FleetRange ranges[_FLEET_PREFIX_MAX];
        unsigned pending;             /* ranges in flight */
        int error;                    /* the first failure */
        fleet_read_done_t done;
        uint16_t page;
        char *name;                   /* a unit's name: read only its units/ and state/ keys */
};

static FleetRead *fleet_read_free(FleetRead *r) {
        if (!r)
                return NULL;
        fleet_snapshot_free(r->snapshot);
        free(r->name);
        free(r);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(FleetRead *, fleet_read_free);

static int fleet_read_new(Manager *m, ApiRequest *req, fleet_read_done_t done, FleetRead **ret) {
        _cleanup_(fleet_read_freep) FleetRead *r = calloc(1, sizeof(FleetRead));

        if (!r || fleet_snapshot_new(&r->snapshot) < 0)
                return -ENOMEM;
        r->m = m;
        r->req = req;
        r->done = done;
        r->page = 1;
        *ret = TAKE_PTR(r);
        return 0;
}

static void fleet_read_finish(FleetRead *r) {
        if (r->error < 0)
                fleet_reply_etcd_error(r->req, r->error);
        else
                r->done(r);
        fleet_read_free(r);
}

static int snapshot_add(FleetSnapshot *s, FleetPrefix p, const char *dir, const EtcdKv *kv) {
        switch (p) {
        case FLEET_UNITS:
                return fleet_snapshot_add_unit(s, kv->value);
        case FLEET_SCHEDULE:
                return startswith(kv->key, dir) ? fleet_snapshot_add_schedule(s, startswith(kv->key, dir)) : 0;
        case FLEET_STATE:
                return fleet_snapshot_add_state(s, kv->value);
        default:
                return fleet_snapshot_add_machine(s, kv->value);
        }
}

static void on_fleet_range(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        FleetRange *range = userdata;
        FleetRead *r = range->read;
        _cleanup_free_ char *dir = registry_key(r->m->config->etcd_key_prefix, prefix_dir[range->prefix], NULL);

        if (error >= 0 && !dir)
                error = -ENOMEM;
        for (size_t i = 0; error >= 0 && i < result->n_kvs; i++)
                error = snapshot_add(r->snapshot, range->prefix, dir, &result->kvs[i]);
        if (error < 0 && r->error >= 0)
                r->error = error;
        if (--r->pending == 0)
                fleet_read_finish(r);
}

/* Starts the range of prefix p: the whole prefix, or only r->name's keys of units/ and state/. */
static int fleet_read_range(FleetRead *r, FleetPrefix p) {
        const char *pfx = r->m->config->etcd_key_prefix;
        bool single = r->name && p == FLEET_UNITS;
        _cleanup_free_ char *key = NULL, *end = NULL;

        if (single)
                key = registry_key(pfx, "units", r->name, NULL);
        else if (r->name && p == FLEET_STATE)
                key = registry_key(pfx, "state", r->name, "", NULL);   /* state/<name>/ */
        else
                key = registry_key(pfx, prefix_dir[p], NULL);
        if (!key || (!single && !(end = etcd_prefix_end(key))))
                return -ENOMEM;

        r->ranges[p] = (FleetRange) { .read = r, .prefix = p };
        EtcdRangeArgs args = { .key = key, .range_end = end, .keys_only = p == FLEET_SCHEDULE };
        return etcd_client_range(r->m->etcd, &args, on_fleet_range, &r->ranges[p], NULL);
}

/* Starts the ranges of the prefixes in mask (1 << FleetPrefix) and takes r: it answers the
 * request once they are all in. */
static int fleet_read_start(FleetRead *r, unsigned mask) {
        for (FleetPrefix p = 0; p < _FLEET_PREFIX_MAX; p++) {
                if (!(mask & (1u << p)))
                        continue;
                int k = fleet_read_range(r, p);
                if (k < 0) {
                        r->error = k;
                        break;
                }
                r->pending++;
        }
        /* ranges answer from the event loop, never from inside etcd_client_range() */
        if (r->pending == 0)
                fleet_read_finish(r);
        return 0;
}

#define READ_UNITS (1u << FLEET_UNITS | 1u << FLEET_SCHEDULE | 1u << FLEET_STATE)
#define READ_STATES (1u << FLEET_UNITS | 1u << FLEET_STATE)

/* A handler's read: a snapshot of mask's prefixes (of name's keys only, if name is set), then
 * done. Replies 400 itself for a bad nextPageToken when paged. */
static int fleet_read(ApiRequest *req, Manager *m, unsigned mask, const char *name, bool paged,
                      fleet_read_done_t done) {
        _cleanup_(fleet_read_freep) FleetRead *r = NULL;

        if (fleet_read_new(m, req, done, &r) < 0 || (name && !(r->name = strdup(name))))
                return -ENOMEM;
        if (paged && !fleet_page_from_query(req, &r->page))
                return 0;
        return fleet_read_start(TAKE_PTR(r), mask);
}

/* ---- units, state, machines: reads ---- */

static void units_page_done(FleetRead *r) {
        json_t *j = NULL;

        (void) fleet_snapshot_units_page(r->snapshot, r->page, &j);
        fleet_reply_json(r->req, j);
}

static int get_units(ApiRequest *req, void *userdata) {
        return fleet_read(req, userdata, READ_UNITS, NULL, true, units_page_done);
}

static void unit_done(FleetRead *r) {
        json_t *j = NULL;

        if (fleet_snapshot_unit(r->snapshot, r->name, &j) == -ENOENT)
                fleet_reply_error(r->req, 404, "unit does not exist");
        else
                fleet_reply_json(r->req, j);
}

static int get_unit(ApiRequest *req, void *userdata) {
        const char *name = api_request_arg(req, 0);

        if (!unit_name_is_valid(name, UNIT_NAME_ANY))
                return fleet_reply_error(req, 404, "unit does not exist");
        return fleet_read(req, userdata, READ_UNITS, name, false, unit_done);
}

static void states_page_done(FleetRead *r) {
        json_t *j = NULL;

        (void) fleet_snapshot_states_page(r->snapshot, api_request_query(r->req, "machineID"),
                                          api_request_query(r->req, "unitName"), r->page, &j);
        fleet_reply_json(r->req, j);
}

static int get_states(ApiRequest *req, void *userdata) {
        const char *unit = api_request_query(req, "unitName");

        /* ?unitName= of a name no unit can have: nothing to read, an empty page */
        if (unit && !unit_name_is_valid(unit, UNIT_NAME_ANY))
                return fleet_reply_json(req, json_object());
        return fleet_read(req, userdata, READ_STATES, unit, true, states_page_done);
}

static void state_done(FleetRead *r) {
        json_t *j = NULL;

        if (fleet_snapshot_state(r->snapshot, r->name, &j) == -ENOENT)
                fleet_reply_error(r->req, 404, "unit state does not exist");
        else
                fleet_reply_json(r->req, j);
}

static int get_state(ApiRequest *req, void *userdata) {
        const char *name = api_request_arg(req, 0);

        if (!unit_name_is_valid(name, UNIT_NAME_ANY))
                return fleet_reply_error(req, 404, "unit state does not exist");
        return fleet_read(req, userdata, READ_STATES, name, false, state_done);
}

static void machines_page_done(FleetRead *r) {
        json_t *j = NULL;

        (void) fleet_snapshot_machines_page(r->snapshot, r->page, &j);
        fleet_reply_json(r->req, j);
}

static int get_machines(ApiRequest *req, void *userdata) {
        return fleet_read(req, userdata, 1u << FLEET_MACHINES, NULL, true, machines_page_done);
}

static int get_discovery(ApiRequest *req, void *userdata) {
        return fleet_reply_json(req, json_loads(fleet_discovery_json, 0, NULL));
}

/* ---- PUT /fleet/v1/units/<name> ---- */

/* One PUT in flight: what was asked, checked; then the unit as it is in etcd. */
typedef struct FleetPut {
        Manager *m;
        ApiRequest *req;
        char *name;
        char *key;
        char *contents;               /* the unit file made of the options; NULL: no options given */
        char *fleet_text;             /* fleet's text of those options, to compare with the unit's */
        UnitDesiredState desired;     /* _UNIT_DESIRED_STATE_INVALID: not given */
        int64_t mod_revision;         /* of units/<name>, 0 if absent */
        bool created;
        UnitDesiredState was;         /* an existing unit's desired state, for the event */
} FleetPut;

static FleetPut *fleet_put_free(FleetPut *p) {
        if (!p)
                return NULL;
        free(p->name);
        free(p->key);
        free(p->contents);
        free(p->fleet_text);
        free(p);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(FleetPut *, fleet_put_free);

/* fleet's Content-Type rule for PUT: application/json, parameters allowed. */
static bool content_type_is_json(ApiRequest *req) {
        const char *ct = api_request_header(req, "Content-Type");
        size_t n;

        if (!ct)
                return false;
        ct += strspn(ct, " \t");
        n = strcspn(ct, ";");
        while (n > 0 && strchr(" \t", ct[n - 1]))
                n--;
        return n == strlen("application/json") && strncasecmp(ct, "application/json", n) == 0;
}

/* Checks "name" and "desiredState" of the body against the URL's name; replies 400 and returns
 * false when they are not acceptable. */
static bool fleet_put_parse_fields(FleetPut *p, const json_t *body) {
        const json_t *name = json_object_get(body, "name"), *ds = json_object_get(body, "desiredState");
        _cleanup_free_ char *why = NULL;

        if (name && !json_is_null(name) && !json_is_string(name))
                return fleet_reply_error(p->req, 400, "name: must be a string"), false;
        if (!isempty(json_string_value(name)) && !streq(json_string_value(name), p->name))
                return fleet_reply_error(p->req, 400, "name in URL \"%s\" differs from unit name in request body \"%s\"",
                                         p->name, json_string_value(name)),
                       false;
        if (manager_check_unit_name(p->name, &why) < 0)
                return fleet_reply_error(p->req, 400, "name: %s", why ?: "invalid unit name"), false;
        if (ds && !json_is_null(ds) && !json_is_string(ds))
                return fleet_reply_error(p->req, 400, "desiredState: must be a string"), false;
        if (!isempty(json_string_value(ds))) {
                p->desired = unit_desired_state_from_string(json_string_value(ds));
                if (p->desired < 0)
                        return fleet_reply_error(p->req, 400,
                                                 "desiredState: \"%s\" is not one of inactive, loaded, launched",
                                                 json_string_value(ds)),
                               false;
        }
        return true;
}

/* Makes the unit file of "options", if there are any, and checks it as fleetd's own PUT would;
 * replies and returns false when it is not acceptable. */
static bool fleet_put_parse_options(FleetPut *p, const json_t *options) {
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        _cleanup_free_ char *why = NULL;
        int r;

        if (!options || json_is_null(options) || (json_is_array(options) && json_array_size(options) == 0))
                return true;
        r = fleet_options_to_unit_file(options, &uf, &why);
        if (r == -EINVAL)
                return fleet_reply_error(p->req, 400, "%s", why), false;
        if (r < 0 || unit_file_print(uf, &p->contents) < 0 || fleet_unit_file_serialize(uf, &p->fleet_text) < 0)
                return fleet_reply_error(p->req, 500, "Out of memory."), false;
        const char *code;
        r = manager_check_unit_contents(p->name, p->contents, strlen(p->contents), &code, &why, NULL);
        if (r == -ENOMEM)
                return fleet_reply_error(p->req, 500, "Out of memory."), false;
        if (r < 0)
                return fleet_reply_error(p->req, 400, "options: %s", why ?: "not a valid unit file"), false;
        return true;
}

static bool fleet_put_parse_body(FleetPut *p) {
        size_t len;
        const char *text = api_request_body(p->req, &len);
        json_error_t jerr;
        json_auto_t *body = text ? json_loadb(text, len, 0, &jerr) : NULL;

        if (!content_type_is_json(p->req))
                return fleet_reply_error(p->req, 415, "Content-Type: only application/json is accepted"), false;
        if (!json_is_object(body))
                return fleet_reply_error(p->req, 400, "body: must be a JSON object (a fleet Unit)%s%s",
                                         text && !body ? ": " : "", text && !body ? jerr.text : ""),
                       false;
        return fleet_put_parse_fields(p, body) && fleet_put_parse_options(p, json_object_get(body, "options"));
}

static void on_fleet_unit_written(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        _cleanup_(fleet_put_freep) FleetPut *p = userdata;

        if (error < 0) {
                fleet_reply_etcd_error(p->req, error);
                return;
        }
        if (!result->succeeded) {
                fleet_reply_error(p->req, 409, "unit %s was changed by someone else meanwhile; try again", p->name);
                return;
        }
        /* the next list through fleetd's own API waits until its units/ watch has seen this */
        list_cache_note_write(p->m->list_cache, result->revision);
        log_unit_info(p->name, "Unit %s %s through fleet's API, desired state %s.", p->name,
                      p->created ? "submitted" : "updated", unit_desired_state_to_string(p->desired));
        api_unit_event(p->req, p->name, NULL, p->created, p->was, p->desired);
        api_request_reply_empty(p->req, p->created ? 201 : 204);
}

/* Writes u to units/<name> if it is still at p->mod_revision; takes p. */
static void fleet_put_write(FleetPut *p, const UnitRecord *u) {
        json_auto_t *j = unit_record_to_json(u);
        _cleanup_free_ char *value = j ? jx_dumps(j) : NULL;

        if (!value) {
                fleet_reply_error(p->req, 500, "Out of memory.");
                return (void) fleet_put_free(p);
        }
        p->desired = u->desired;
        EtcdCompare cmp = { .key = p->key, .target = ETCD_COMPARE_MOD, .result = ETCD_EQUAL, .number = p->mod_revision };
        EtcdOp op = { .type = ETCD_OP_PUT, .key = p->key, .value = value };
        EtcdTxn txn = { .compares = &cmp, .n_compares = 1, .success = &op, .n_success = 1 };
        int r = etcd_client_txn(p->m->etcd, &txn, on_fleet_unit_written, p, NULL);
        if (r < 0) {
                fleet_reply_etcd_error(p->req, r);
                fleet_put_free(p);
        }
}

/* A new unit: fleet needs its options. Takes p. */
static void fleet_put_create(FleetPut *p) {
        _cleanup_free_ char *why = NULL;
        char hash[SHA256_HEX_SIZE];

        if (!p->contents) {
                fleet_reply_error(p->req, 409, "unit does not exist and options field empty");
                return (void) fleet_put_free(p);
        }
        if (manager_check_unit_desired(p->name, p->desired, &why) < 0) {
                fleet_reply_error(p->req, 400, "desiredState: %s", why ?: "Out of memory.");
                return (void) fleet_put_free(p);
        }
        sha256_hex(p->contents, strlen(p->contents), hash);
        UnitRecord u = { .name = p->name, .contents = p->contents, .hash = hash,
                         .desired = p->desired >= 0 ? p->desired : UNIT_INACTIVE };
        p->created = true;
        fleet_put_write(p, &u);
}

/* Whether the options given (if any) are the options the unit has, as fleet compares them. */
static bool fleet_put_same_options(const FleetPut *p, const UnitRecord *u) {
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        _cleanup_free_ char *text = NULL;

        if (!p->fleet_text)
                return true;
        return unit_file_parse(u->contents, strlen(u->contents), u->name, &uf, NULL) >= 0 &&
               fleet_unit_file_serialize(uf, &text) >= 0 && streq(text, p->fleet_text);
}

/* An existing unit: only its desired state changes. Takes p. */
static void fleet_put_update(FleetPut *p, UnitRecord *u) {
        _cleanup_free_ char *why = NULL;

        if (!fleet_put_same_options(p, u)) {
                fleet_reply_error(p->req, 409, "options: unit %s exists with other options; destroy it first", p->name);
                return (void) fleet_put_free(p);
        }
        if (p->desired < 0) {
                fleet_reply_error(p->req, 409, "desiredState: must provide DesiredState to update existing unit");
                return (void) fleet_put_free(p);
        }
        if (manager_check_unit_desired(p->name, p->desired, &why) < 0) {
                fleet_reply_error(p->req, 400, "desiredState: %s", why ?: "Out of memory.");
                return (void) fleet_put_free(p);
        }
        if (u->desired == p->desired) {
                api_request_reply_empty(p->req, 204);
                return (void) fleet_put_free(p);
        }
        p->was = u->desired;
        u->desired = p->desired;
        fleet_put_write(p, u);
}

static void on_fleet_unit_read(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        FleetPut *p = userdata;
        _cleanup_(unit_record_done) UnitRecord u = {};
        bool exists = false;

        if (error < 0) {
                fleet_reply_etcd_error(p->req, error);
                return (void) fleet_put_free(p);
        }
        if (result->n_kvs > 0) {
                json_auto_t *j = json_loads(result->kvs[0].value, 0, NULL);
                /* a record fleetd cannot read is replaced, as fleetd's own PUT does */
                exists = unit_record_from_json(j, &u) >= 0;
                p->mod_revision = result->kvs[0].mod_revision;
        }
        if (exists)
                fleet_put_update(p, &u);
        else
                fleet_put_create(p);
}

static int put_unit(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        _cleanup_(fleet_put_freep) FleetPut *p = calloc(1, sizeof(FleetPut));

        if (!p)
                return -ENOMEM;
        *p = (FleetPut) { .m = m, .req = req, .desired = _UNIT_DESIRED_STATE_INVALID };
        p->name = strdup(api_request_arg(req, 0));
        p->key = p->name ? registry_key(m->config->etcd_key_prefix, "units", p->name, NULL) : NULL;
        if (!p->key)
                return -ENOMEM;
        if (!fleet_put_parse_body(p))
                return 0;

        EtcdRangeArgs args = { .key = p->key };
        int r = etcd_client_range(m->etcd, &args, on_fleet_unit_read, p, NULL);
        if (r < 0)
                return r;
        TAKE_PTR(p);
        return 0;
}

/* ---- DELETE /fleet/v1/units/<name> ---- */

typedef struct FleetDelete {
        Manager *m;
        ApiRequest *req;
} FleetDelete;

static void on_fleet_unit_deleted(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        _cleanup_free_ FleetDelete *d = userdata;
        const char *name = api_request_arg(d->req, 0);

        if (error < 0)
                fleet_reply_etcd_error(d->req, error);
        else if (result->deleted == 0)
                fleet_reply_error(d->req, 404, "unit does not exist");
        else {
                list_cache_note_write(d->m->list_cache, result->revision);
                log_unit_info(name, "Unit %s destroyed through fleet's API.", name);
                api_event_emit(d->req, &(Event) { .kind = "unit.destroy", .unit = name,
                                                  .message = "destroyed through fleet's API" });
                api_request_reply_empty(d->req, 204);
        }
}

static int delete_unit(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        const char *name = api_request_arg(req, 0);

        if (!unit_name_is_valid(name, UNIT_NAME_ANY))
                return fleet_reply_error(req, 404, "unit does not exist");
        _cleanup_free_ char *key = registry_key(m->config->etcd_key_prefix, "units", name, NULL);
        _cleanup_free_ FleetDelete *d = calloc(1, sizeof(FleetDelete));
        if (!key || !d)
                return -ENOMEM;
        *d = (FleetDelete) { .m = m, .req = req };
        int r = etcd_client_delete(m->etcd, key, NULL, on_fleet_unit_deleted, d, NULL);
        if (r < 0)
                return r;
        TAKE_PTR(d);
        return 0;
}

/* ---- what fleet did not serve ---- */

static int only_get(ApiRequest *req, void *userdata) {
        return fleet_reply_error(req, 405, "only GET supported against this resource");
}

static int only_get_put_delete(ApiRequest *req, void *userdata) {
        return fleet_reply_error(req, 405, "only GET, PUT and DELETE supported against this resource");
}

static int only_get_discovery(ApiRequest *req, void *userdata) {
        /* fleet answered 400 here, not 405 */
        return fleet_reply_error(req, 400, "only HTTP GET supported against this resource");
}

static int patch_machines(ApiRequest *req, void *userdata) {
        return fleet_reply_error(req, 501, "PATCH /fleet/v1/machines: fleetd takes machine metadata from each "
                                           "host's fleetd.conf (metadata=), not from the API");
}

static int method_not_allowed(ApiRequest *req, void *userdata) {
        return fleet_reply_error(req, 405, "%s is not a resource: use its discovery, units, state or machines",
                                 api_request_path(req));
}

static int not_found(ApiRequest *req, void *userdata) {
        return fleet_reply_error(req, 404, "%s: no such path in fleet's API v1", api_request_path(req));
}

const ApiRoute api_fleet_routes[] = {
        { "GET", "/fleet/v1/discovery", get_discovery },
        { "*", "/fleet/v1/discovery", only_get_discovery },
        { "GET", "/fleet/v1/units", get_units },
        { "*", "/fleet/v1/units", only_get },
        { "GET", "/fleet/v1/units/*", get_unit },
        { "PUT", "/fleet/v1/units/*", put_unit },
        { "DELETE", "/fleet/v1/units/*", delete_unit },
        { "*", "/fleet/v1/units/*", only_get_put_delete },
        { "GET", "/fleet/v1/state", get_states },
        { "*", "/fleet/v1/state", only_get },
        { "GET", "/fleet/v1/state/*", get_state },
        { "*", "/fleet/v1/state/*", only_get },
        { "GET", "/fleet/v1/machines", get_machines },
        { "PATCH", "/fleet/v1/machines", patch_machines },
        { "*", "/fleet/v1/machines", only_get },
        { "*", "/fleet/v1", method_not_allowed },
        { "*", "/fleet/**", not_found },
        {}
};
