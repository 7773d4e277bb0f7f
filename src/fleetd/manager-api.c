/* SPDX-License-Identifier: Apache-2.0 */
/* The /v1 API surface of the daemon: each handler reads or writes etcd and answers from the
 * callback, so no request blocks the loop. */
#include <assert.h>
#include <stdio.h>

#include "api-apps.h"
#include "api-fleetlock.h"
#include "api-locks.h"
#include "api-builds.h"
#include "build-context.h"
#include "api-remote.h"
#include "api-upgrade.h"
#include "basic/json-util.h"
#include "basic/sha256.h"
#include "log.h"
#include "manager.h"
#include "basic/strv.h"
#include "unit-file.h"
#include "unit-name.h"
#include "unit-options.h"

/* This fleetd itself: identity and whether it is registered. Answers without etcd. */
static int get_status(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        json_auto_t *self = machine_record_to_json(&m->self);
        bool registered = m->presence && presence_state(m->presence) == PRESENCE_REGISTERED;
        json_auto_t *body = self ? json_pack("{s:O, s:b, s:s?}", "machine", self, "registered", registered,
                                             "etcd", etcd_client_current_endpoint(m->etcd))
                                 : NULL;
        if (!body)
                return -ENOMEM;
        return api_request_reply_json(req, 200, body);
}


/* --- units --- */

/* The checks of a submitted unit, shared with fleet's API (api-fleet.c). */

int manager_check_unit_name(const char *name, char **ret_message) {
        return unit_name_check(name, UNIT_NAME_ANY | UNIT_NAME_PLACEABLE, ret_message);
}

int manager_check_unit_desired(const char *name, UnitDesiredState desired, char **ret_message) {
        if (!unit_name_is_template(name) || desired <= UNIT_INACTIVE)
                return 0;
        if (asprintf(ret_message, "%s is a template: start an instance of it (e.g. %.*s1%s) instead.", name,
                     (int) (strchr(name, '@') - name + 1), name, strrchr(name, '.')) < 0) {
                *ret_message = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

#define UNITS_PAGE_DEFAULT 1000
#define UNITS_PAGE_MAX 10000

/* One PUT /v1/units/<name> in flight: read what is there, check, write with a compare on
 * its mod_revision so that two writers never both win. */
typedef struct UnitPut {
        Manager *m;
        ApiRequest *req;
        char *name;
        char *key;
        char *contents;               /* NULL: keep the existing contents (or the template's) */
        UnitDesiredState desired;     /* _UNIT_DESIRED_STATE_INVALID: not given */
        int64_t mod_revision;         /* of units/<name>, 0 if absent */
        UnitRecord record;
        bool exists;
        bool replace;                 /* other contents replace the existing unit's */
        bool replaced;                /* they did */
        json_t *warnings;             /* about the [X-Fleet] options, for the reply */
} UnitPut;

static void unit_put_free(UnitPut *p) {
        if (!p)
                return;
        free(p->name);
        free(p->key);
        free(p->contents);
        unit_record_done(&p->record);
        json_decref(p->warnings);
        free(p);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(UnitPut *, unit_put_free);

static json_t *unit_summary_json(const UnitRecord *u, bool with_contents) {
        return json_pack("{s:s, s:s, s:s, s:s*, s:s*, s:s*}",
                         "name", u->name,
                         "hash", u->hash,
                         "desiredState", unit_desired_state_to_string(u->desired),
                         "contents", with_contents ? u->contents : NULL,
                         "app", u->app,
                         "release", u->release);
}

static void on_unit_written(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        _cleanup_(unit_put_freep) UnitPut *p = userdata;

        if (error < 0) {
                api_request_reply_etcd_error(p->req, error);
                return;
        }
        if (!result->succeeded) {
                api_request_reply_error(p->req, 409, "conflict", "Unit %s was changed by someone else meanwhile; try again.",
                                        p->name);
                return;
        }
        /* the next list through this fleetd waits until the units/ watch has seen this */
        list_cache_note_write(p->m->list_cache, result->revision);
        log_unit_info(p->name, "Unit %s %s, desired state %s.", p->name,
                      p->replaced ? "replaced" : p->exists ? "updated" : "submitted",
                      unit_desired_state_to_string(p->record.desired));
        json_auto_t *j = unit_summary_json(&p->record, false);
        if (j && json_array_size(p->warnings) > 0)
                (void) json_object_set(j, "warnings", p->warnings);
        if (j && p->replaced)
                (void) json_object_set_new(j, "replaced", json_true());
        api_request_reply_json(p->req, p->exists ? 200 : 201, j);
}

static void unit_put_write(UnitPut *p) {
        json_auto_t *j = unit_record_to_json(&p->record);
        _cleanup_free_ char *value = j ? jx_dumps(j) : NULL;
        if (!value) {
                api_request_reply_error(p->req, 500, "internal", "Out of memory.");
                return unit_put_free(p);
        }
        EtcdCompare cmp = { .key = p->key, .target = ETCD_COMPARE_MOD, .result = ETCD_EQUAL,
                            .number = p->mod_revision };
        EtcdOp op = { .type = ETCD_OP_PUT, .key = p->key, .value = value };
        EtcdTxn txn = { .compares = &cmp, .n_compares = 1, .success = &op, .n_success = 1 };
        int r = etcd_client_txn(p->m->etcd, &txn, on_unit_written, p, NULL);
        if (r < 0) {
                api_request_reply_etcd_error(p->req, r);
                unit_put_free(p);
        }
}

/* Other contents for an existing unit, with "replace": as fleet's destroy and submit, in one
 * write. What fleet's fleetctl refused is refused: a replacement desired less than the unit is
 * (submit --replace of a launched unit), and an app's instance (its release says what runs).
 * Replies and returns false when refused. */
static bool unit_put_may_replace(UnitPut *p, const UnitRecord *existing) {
        UnitDesiredState want = p->desired >= 0 ? p->desired : UNIT_INACTIVE;

        if (!p->replace)
                return api_request_reply_error(p->req, 409, "conflict",
                                               "Unit %s already exists with different contents; destroy it first.",
                                               p->name), false;
        if (existing->app)
                return api_request_reply_error(p->req, 409, "conflict",
                                               "Unit %s is an instance of app %s; deploy the app instead.", p->name,
                                               existing->app), false;
        if (want < existing->desired)
                return api_request_reply_error(p->req, 409, "conflict",
                                               "Unit %s is %s: only a unit desired %s may replace it (%s --replace).",
                                               p->name, unit_desired_state_to_string(existing->desired),
                                               unit_desired_state_to_string(existing->desired),
                                               existing->desired == UNIT_LAUNCHED ? "start" : "load"), false;
        p->replaced = true;
        return true;
}

/* Fills p->record from what exists and what was asked; replies and returns false if the
 * request cannot be honoured. */
static bool unit_put_merge(UnitPut *p, const UnitRecord *existing, const char *template_contents) {
        UnitRecord *r = &p->record;
        char hash[SHA256_HEX_SIZE];

        if (existing && p->contents) {
                sha256_hex(p->contents, strlen(p->contents), hash);
                if (!streq(hash, existing->hash) && !unit_put_may_replace(p, existing))
                        return false;
        }
        const char *contents = p->contents ?: existing ? existing->contents : template_contents;
        if (!contents) {
                api_request_reply_error(p->req, 404, "not_found", "No unit %s%s, and no contents given.", p->name,
                                        unit_name_is_instance(p->name) ? " (nor its template)" : "");
                return false;
        }
        r->name = strdup(p->name);
        r->contents = strdup(contents);
        sha256_hex(contents, strlen(contents), hash);
        r->hash = strdup(hash);
        r->desired = p->desired >= 0 ? p->desired : existing ? existing->desired : UNIT_INACTIVE;
        /* a replacement is a new unit of that name: nothing of the old one's but the name */
        if (p->replaced)
                existing = NULL;
        bool oom = existing && ((existing->app && !(r->app = strdup(existing->app))) ||
                                (existing->release && !(r->release = strdup(existing->release))));
        if (oom || !r->name || !r->contents || !r->hash) {
                api_request_reply_error(p->req, 500, "internal", "Out of memory.");
                return false;
        }
        return true;
}

/* The errors of o as one message, "; " between them; NULL if there are none or on -ENOMEM. */
static char *options_errors_message(const UnitOptions *o) {
        size_t n = 1;
        char *m;

        STRV_FOREACH(e, o->errors)
                n += strlen(*e) + 2;
        if (!o->errors[0] || !(m = calloc(1, n)))
                return NULL;
        STRV_FOREACH(e, o->errors) {
                if (e != o->errors)
                        strcat(m, "; ");
                strcat(m, *e);
        }
        return m;
}

int manager_check_unit_contents(const char *name, const char *text, size_t len, const char **ret_code,
                                char **ret_message, char ***ret_warnings) {
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        _cleanup_(unit_options_done) UnitOptions o = {};
        int r;

        assert(name && text && ret_code && ret_message);
        *ret_code = "bad_unit_file";
        *ret_message = NULL;
        r = unit_file_parse(text, len, name, &uf, ret_message);
        if (r < 0)
                return r;
        /* for the unit as name, so that an instance made from its template is checked with its
         * own specifiers */
        if (unit_options_parse(uf, name, name, &o) < 0)
                return -ENOMEM;
        if (o.errors[0]) {
                *ret_code = "bad_unit_options";
                *ret_message = options_errors_message(&o);
                return *ret_message ? -EINVAL : -ENOMEM;
        }
        if (ret_warnings)
                *ret_warnings = TAKE_PTR(o.warnings);
        return 0;
}

/* Checks contents for p->name (manager_check_unit_contents()), keeping the warnings for the
 * reply; replies 400 with the reason and returns false when the unit is refused. what prefixes
 * the message ("Template of x: ", or ""). */
static bool unit_put_check_contents(UnitPut *p, const char *contents, size_t len, const char *what) {
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_free_ char *err = NULL;
        const char *code;
        int r;

        r = manager_check_unit_contents(p->name, contents, len, &code, &err, &warnings);
        if (r == -ENOMEM)
                return api_request_reply_error(p->req, 500, "internal", "Out of memory."), false;
        if (r < 0)
                return api_request_reply_error(p->req, 400, code, "%s%s", what, err ?: "invalid unit file"), false;
        if (!p->warnings && !(p->warnings = json_array()))
                return api_request_reply_error(p->req, 500, "internal", "Out of memory."), false;
        STRV_FOREACH(w, warnings)
                if (json_array_append_new(p->warnings, json_string(*w)) < 0)
                        return api_request_reply_error(p->req, 500, "internal", "Out of memory."), false;
        return true;
}

/* An instance made from its template's contents: its options as the instance reads them. */
static bool unit_put_check_template(UnitPut *p, const char *contents) {
        _cleanup_free_ char *what = NULL;

        if (asprintf(&what, "Template of %s: ", p->name) < 0)
                return api_request_reply_error(p->req, 500, "internal", "Out of memory."), false;
        return unit_put_check_contents(p, contents, strlen(contents), what);
}

static void on_template_read(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        UnitPut *p = userdata;
        _cleanup_(unit_record_done) UnitRecord tmpl = {};

        if (error < 0) {
                api_request_reply_etcd_error(p->req, error);
                return unit_put_free(p);
        }
        if (result->n_kvs > 0) {
                json_auto_t *j = json_loads(result->kvs[0].value, 0, NULL);
                if (unit_record_from_json(j, &tmpl) < 0)
                        log_warning("Ignoring malformed unit record at %s.", result->kvs[0].key);
        }
        if (tmpl.contents && !unit_put_check_template(p, tmpl.contents))
                return unit_put_free(p);
        if (!unit_put_merge(p, NULL, tmpl.contents))
                return unit_put_free(p);
        unit_put_write(p);
}

static void on_unit_read(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        UnitPut *p = userdata;
        _cleanup_(unit_record_done) UnitRecord existing = {};

        if (error < 0) {
                api_request_reply_etcd_error(p->req, error);
                return unit_put_free(p);
        }
        if (result->n_kvs > 0) {
                json_auto_t *j = json_loads(result->kvs[0].value, 0, NULL);
                p->exists = unit_record_from_json(j, &existing) >= 0;
                p->mod_revision = result->kvs[0].mod_revision;
        }

        if (!p->exists && !p->contents && unit_name_is_instance(p->name)) {
                /* foo@1.service with no contents: instantiate foo@.service, as fleet does. */
                _cleanup_free_ char *tname = NULL, *tkey = NULL;
                if (unit_name_template_of(p->name, &tname) < 0 ||
                    !(tkey = registry_key(p->m->config->etcd_key_prefix, "units", tname, NULL))) {
                        api_request_reply_error(p->req, 500, "internal", "Out of memory.");
                        return unit_put_free(p);
                }
                EtcdRangeArgs args = { .key = tkey };
                int r = etcd_client_range(p->m->etcd, &args, on_template_read, p, NULL);
                if (r < 0) {
                        api_request_reply_etcd_error(p->req, r);
                        unit_put_free(p);
                }
                return;
        }
        if (!unit_put_merge(p, p->exists ? &existing : NULL, NULL))
                return unit_put_free(p);
        unit_put_write(p);
}

/* Checks the body {"contents": "...", "desiredState": "..."}; replies 400 and returns false
 * when it is not acceptable. */
static bool unit_put_parse_body(UnitPut *p) {
        size_t len;
        const char *body = api_request_body(p->req, &len);
        json_error_t jerr;
        json_auto_t *j = body ? json_loadb(body, len, 0, &jerr) : NULL;
        const char *k;
        json_t *v;

        if (!json_is_object(j))
                return api_request_reply_error(p->req, 400, "bad_request", "Body must be a JSON object%s%s.",
                                               body ? ": " : "", body ? jerr.text : ""), false;
        json_object_foreach(j, k, v)
                if (!streq(k, "contents") && !streq(k, "desiredState") && !streq(k, "replace"))
                        return api_request_reply_error(p->req, 400, "bad_request",
                                                       "Unknown field '%s' (expected contents, desiredState, replace).",
                                                       k),
                               false;
        json_t *replace = json_object_get(j, "replace");
        if (replace && !json_is_boolean(replace))
                return api_request_reply_error(p->req, 400, "bad_request", "replace must be true or false."), false;
        p->replace = json_is_true(replace);

        json_t *ds = json_object_get(j, "desiredState"), *c = json_object_get(j, "contents");
        if (ds) {
                p->desired = unit_desired_state_from_string(json_string_value(ds));
                if (p->desired < 0)
                        return api_request_reply_error(p->req, 400, "bad_request",
                                                       "Invalid desiredState: expected inactive, loaded or launched."),
                               false;
        }
        if (c) {
                _cleanup_free_ char *err = NULL;
                if (!json_is_string(c))
                        return api_request_reply_error(p->req, 400, "bad_request", "contents must be a string."), false;
                if (!unit_put_check_contents(p, json_string_value(c), json_string_length(c), ""))
                        return false;
                p->contents = strdup(json_string_value(c));
        }
        _cleanup_free_ char *why = NULL;
        if (manager_check_unit_desired(p->name, p->desired, &why) < 0)
                return api_request_reply_error(p->req, 400, "bad_request", "%s", why ?: "Out of memory."), false;
        return true;
}

static int put_unit(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        const char *name = api_request_arg(req, 0);
        _cleanup_free_ char *why = NULL;
        _cleanup_(unit_put_freep) UnitPut *p = NULL;

        if (manager_check_unit_name(name, &why) < 0)
                return api_request_reply_error(req, 400, "bad_unit_name", "%s", why ?: "invalid unit name");

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->m = m;
        p->req = req;
        p->desired = _UNIT_DESIRED_STATE_INVALID;
        p->name = strdup(name);
        p->key = registry_key(m->config->etcd_key_prefix, "units", name, NULL);
        if (!p->name || !p->key)
                return -ENOMEM;
        if (!unit_put_parse_body(p))
                return 0;

        EtcdRangeArgs args = { .key = p->key };
        int r = etcd_client_range(m->etcd, &args, on_unit_read, p, NULL);
        if (r < 0)
                return r;
        TAKE_PTR(p);
        return 0;
}

/* The API's "placement" of a placement/<name> range: NULL if there is none (or it is not a
 * record, logged). */
static json_t *placement_json(const EtcdResult *range) {
        _cleanup_(placement_record_done) PlacementRecord p = {};

        if (!range || range->n_kvs == 0)
                return NULL;
        json_auto_t *raw = json_loads(range->kvs[0].value, 0, NULL);
        if (placement_record_from_json(raw, &p) < 0) {
                log_warning("Ignoring malformed placement record at %s.", range->kvs[0].key);
                return NULL;
        }
        return list_placement_json(&p);
}

/* The txn of get_unit(): units/<name>, then placement/<name>. */
static void on_unit_get(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        ApiRequest *req = userdata;
        _cleanup_(unit_record_done) UnitRecord u = {};

        if (error < 0) {
                api_request_reply_etcd_error(req, error);
                return;
        }
        const EtcdResult *unit = result->n_responses > 0 ? &result->responses[0] : NULL;
        json_auto_t *raw = unit && unit->n_kvs > 0 ? json_loads(unit->kvs[0].value, 0, NULL) : NULL;
        if (!raw || unit_record_from_json(raw, &u) < 0) {
                api_request_reply_error(req, 404, "not_found", "No unit %s.", api_request_arg(req, 0));
                return;
        }
        json_auto_t *j = unit_summary_json(&u, true);
        json_t *placement = placement_json(result->n_responses > 1 ? &result->responses[1] : NULL);
        if (j && placement)
                (void) json_object_set(j, "placement", placement);
        json_decref(placement);
        api_request_reply_json(req, 200, j);
}

/* The unit and why the engine could not place it, if it could not: one txn, one revision. */
static int get_unit(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        const char *name = api_request_arg(req, 0);

        if (!unit_name_is_valid(name, UNIT_NAME_ANY))
                return api_request_reply_error(req, 404, "not_found", "No unit %s.", name);
        _cleanup_free_ char *key = registry_key(m->config->etcd_key_prefix, "units", name, NULL);
        _cleanup_free_ char *pkey = registry_key(m->config->etcd_key_prefix, "placement", name, NULL);
        if (!key || !pkey)
                return -ENOMEM;
        EtcdOp ops[] = {
                { .type = ETCD_OP_RANGE, .key = key },
                { .type = ETCD_OP_RANGE, .key = pkey },
        };
        EtcdTxn txn = { .success = ops, .n_success = ELEMENTSOF(ops) };
        return etcd_client_txn(m->etcd, &txn, on_unit_get, req, NULL);
}

/* One DELETE /v1/units/<name> in flight. */
typedef struct UnitDelete {
        Manager *m;
        ApiRequest *req;
} UnitDelete;

static void on_unit_deleted(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        _cleanup_free_ UnitDelete *d = userdata;
        ApiRequest *req = d->req;

        if (error < 0)
                api_request_reply_etcd_error(req, error);
        else if (result->deleted == 0)
                api_request_reply_error(req, 404, "not_found", "No unit %s.", api_request_arg(req, 0));
        else {
                /* the next list through this fleetd waits until the units/ watch has seen this */
                list_cache_note_write(d->m->list_cache, result->revision);
                log_unit_info(api_request_arg(req, 0), "Unit %s destroyed.", api_request_arg(req, 0));
                json_auto_t *j = json_pack("{s:s}", "destroyed", api_request_arg(req, 0));
                api_request_reply_json(req, 200, j);
        }
}

static int delete_unit(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        const char *name = api_request_arg(req, 0);

        if (!unit_name_is_valid(name, UNIT_NAME_ANY))
                return api_request_reply_error(req, 404, "not_found", "No unit %s.", name);
        _cleanup_free_ char *key = registry_key(m->config->etcd_key_prefix, "units", name, NULL);
        _cleanup_free_ UnitDelete *d = calloc(1, sizeof(*d));
        if (!key || !d)
                return -ENOMEM;
        *d = (UnitDelete) { .m = m, .req = req };
        int r = etcd_client_delete(m->etcd, key, NULL, on_unit_deleted, d, NULL);
        if (r < 0)
                return r;
        TAKE_PTR(d);
        return 0;
}

/* GET /v1/units[?limit=N&from=NAME]: a page of the list cache (list-cache.h), which the first
 * list loads and watches keep current; no etcd read per request. */

static void reply_list_error(ApiRequest *req, int error) {
        if (error == -ENOMEM)
                api_request_reply_error(req, 500, "internal", "Out of memory.");
        else
                api_request_reply_etcd_error(req, error);
}

static void reply_list(ApiRequest *req, json_t *body) {
        if (!body)
                api_request_reply_error(req, 500, "internal", "Out of memory.");
        else
                api_request_reply_json(req, 200, body);
}

/* limit= of GET /v1/units: 1 to UNITS_PAGE_MAX, UNITS_PAGE_DEFAULT if absent; -EINVAL if not. */
static int limit_parse(const char *s, int64_t *ret) {
        char *end;

        if (!s) {
                *ret = UNITS_PAGE_DEFAULT;
                return 0;
        }
        errno = 0;
        long long n = strtoll(s, &end, 10);
        if (errno || end == s || *end || n < 1 || n > UNITS_PAGE_MAX)
                return -EINVAL;
        *ret = n;
        return 0;
}

static void reply_units_page(ApiRequest *req, const ListData *d) {
        int64_t limit = UNITS_PAGE_DEFAULT;

        (void) limit_parse(api_request_query(req, "limit"), &limit);  /* checked in get_units() */
        json_auto_t *body = list_data_units_page(d, api_request_query(req, "from"), (size_t) limit);
        reply_list(req, body);
}

static void on_units_cached(ListCache *c, int error, const ListData *d, void *userdata) {
        if (error < 0)
                reply_list_error(userdata, error);
        else
                reply_units_page(userdata, d);
}

static int get_units(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        const ListData *d;
        int64_t limit;

        if (limit_parse(api_request_query(req, "limit"), &limit) < 0)
                return api_request_reply_error(req, 400, "bad_request", "limit must be a number from 1 to %d.",
                                               UNITS_PAGE_MAX);
        /* own writes: a unit just PUT or DELETEd through this fleetd shows in its next list */
        int r = list_cache_get(m->list_cache, true, on_units_cached, req, &d);
        if (r < 0)
                return r;
        if (r > 0)
                reply_units_page(req, d);
        return 0;
}

/* GET /v1/state[?machine=ID][&unit=NAME]: what the agents report, one record per unit and
 * machine (a global unit has one per machine). From the list cache; one unit's states straight
 * from etcd while the cache is idle (on_state()). */
static void on_state(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        ApiRequest *req = userdata;
        const char *machine = api_request_query(req, "machine"), *unit = api_request_query(req, "unit");

        if (error < 0) {
                api_request_reply_etcd_error(req, error);
                return;
        }
        json_auto_t *list = json_array();
        for (size_t i = 0; list && i < result->n_kvs; i++) {
                _cleanup_(state_record_done) StateRecord s = {};
                json_auto_t *raw = json_loads(result->kvs[i].value, 0, NULL);
                if (state_record_from_json(raw, &s) < 0)
                        continue;
                if ((machine && !startswith(s.machine, machine)) || (unit && !streq(unit, s.name)))
                        continue;
                json_array_append_new(list, state_record_to_json(&s));
        }
        json_auto_t *body = json_pack("{s:O}", "states", list);
        api_request_reply_json(req, 200, body);
}

static void reply_states(ApiRequest *req, const ListData *d) {
        json_auto_t *body = list_data_states(d, api_request_query(req, "machine"), api_request_query(req, "unit"));
        reply_list(req, body);
}

static void on_states_cached(ListCache *c, int error, const ListData *d, void *userdata) {
        if (error < 0)
                reply_list_error(userdata, error);
        else
                reply_states(userdata, d);
}

static int get_state(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        const char *unit = api_request_query(req, "unit");
        const ListData *d;
        int r;

        if (!unit) {
                r = list_cache_get(m->list_cache, false, on_states_cached, req, &d);
                if (r < 0)
                        return r;
                if (r > 0)
                        reply_states(req, d);
                return 0;
        }
        /* One unit's states (fleetctl polls them while it waits for a unit): from the cache while it
         * is loaded, else a prefix range, which is cheap and leaves an idle cache idle. */
        d = list_cache_peek(m->list_cache);
        if (d) {
                reply_states(req, d);
                return 0;
        }
        /* state/<name>/<machine-id>: one unit's states are a prefix */
        _cleanup_free_ char *key = registry_key(m->config->etcd_key_prefix, "state", unit, "", NULL);
        _cleanup_free_ char *end = key ? etcd_prefix_end(key) : NULL;
        if (!end)
                return -ENOMEM;
        EtcdRangeArgs args = { .key = key, .range_end = end };
        return etcd_client_range(m->etcd, &args, on_state, req, NULL);
}

const ApiRoute manager_api_routes[] = {
        { "GET", "/v1/machines", api_upgrade_machines_list },
        { "GET", "/v1/machines/*", api_upgrade_machines_get },
        { "GET", "/v1/machines/*/drain", api_upgrade_drain_status },
        { "POST", "/v1/machines/*/drain", api_upgrade_drain_start },
        { "DELETE", "/v1/machines/*/drain", api_upgrade_drain_stop },
        { "POST", "/v1/machines/*/reboot", api_upgrade_reboot },
        { "GET", "/v1/drains", api_upgrade_drains_list },
        { "GET", "/v1/locks", api_locks_list },
        { "GET", "/v1/locks/*", api_locks_get },
        { "PUT", "/v1/locks/*", api_locks_set_max },
        { "POST", "/v1/locks/*/holders", api_locks_acquire },
        { "DELETE", "/v1/locks/*/holders/*", api_locks_release },
        { "POST", "/v1/pre-reboot", api_fleetlock_pre_reboot },
        { "POST", "/v1/steady-state", api_fleetlock_steady_state },
        { "GET", "/v1/status", get_status },
        { "GET", "/v1/units", get_units },
        { "GET", "/v1/units/*", get_unit },
        { "PUT", "/v1/units/*", put_unit },
        { "DELETE", "/v1/units/*", delete_unit },
        { "GET", "/v1/units/*/status", api_remote_get_status },
        { "GET", "/v1/units/*/journal", api_remote_get_journal },
        { "GET", "/v1/state", get_state },
        { "GET", "/v1/apps", api_apps_list },
        { "GET", "/v1/apps/*", api_apps_get },
        { "DELETE", "/v1/apps/*", api_apps_destroy },
        { "POST", "/v1/apps/*/deploy", api_apps_deploy },
        { "PUT", "/v1/apps/*/scale", api_apps_scale },
        { "POST", "/v1/apps/*/config", api_apps_config },
        { "GET", "/v1/apps/*/releases", api_apps_releases },
        { "POST", "/v1/apps/*/rollback", api_apps_rollback },
        { "POST", "/v1/apps/*/restart", api_apps_restart },
        { "POST", "/v1/apps/*/builds", api_builds_start, .body_max = BUILD_CONTEXT_SIZE_MAX },
        { "GET", "/v1/apps/*/builds", api_builds_list },
        { "GET", "/v1/routes", api_routes_list },
        {}
};
