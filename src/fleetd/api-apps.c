/* SPDX-License-Identifier: Apache-2.0 */
/* /v1/apps: deploy, scale, config, releases, rollback, restart, destroy (docs/api.md). Every
 * change reads the app record, works out the new record (and maybe a new release), and writes
 * both in one txn that compares the app record's mod_revision: two writers never both win.
 * The engine leader's app controller then turns the record into instance units. */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "api-apps.h"
#include "app-record.h"
#include "basic/json-util.h"
#include "image-tools.h"
#include "log.h"
#include "manifest.h"
#include "release.h"
#include "unit-gen.h"
#include "unit-name.h"

typedef enum AppOpKind {
        OP_DEPLOY,
        OP_SCALE,
        OP_CONFIG,
        OP_ROLLBACK,
        OP_RESTART,
} AppOpKind;

typedef struct AppOp {
        Manager *m;
        ApiRequest *req;
        AppOpKind kind;
        char *app;
        Release manifest;             /* deploy */
        json_t *body;                 /* the others */
        AppRecord rec;
        bool exists;
        int64_t mod_revision;
        Release current;              /* the app's release, if it has one */
        Release other;                /* rollback: the release to go back to */
        unsigned other_version;
        Release made;                 /* a new release to write, if any (version > 0) */
        ImageResolve *resolve;        /* deploy: asking the registry for the image's digest */
        const char *cause;            /* deploy: the new release's cause; NULL: "deploy" */
        api_apps_done_t done;         /* api_apps_deploy_release(): told instead of a reply (req NULL) */
        void *done_userdata;
} AppOp;

static void app_op_free(AppOp *o) {
        if (!o)
                return;
        free(o->app);
        release_done(&o->manifest);
        json_decref(o->body);
        app_record_done(&o->rec);
        release_done(&o->current);
        release_done(&o->other);
        release_done(&o->made);
        image_resolve_free(o->resolve);
        free(o);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(AppOp *, app_op_free);

/* The one answer of an operation: to its request, or to api_apps_deploy_release()'s caller. */
static int app_op_answer(AppOp *o, unsigned status, json_t *j) {
        if (o->done) {
                o->done(status, NULL, NULL, j, o->done_userdata);
                o->done = NULL;
                return 0;
        }
        return api_request_reply_json(o->req, status, j);
}

_printf_(4, 5) static int app_op_error(AppOp *o, unsigned status, const char *code, const char *fmt, ...) {
        _cleanup_free_ char *message = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&message, fmt, ap);
        va_end(ap);
        if (r < 0)
                message = NULL;
        if (o->done) {
                o->done(status, code, message ?: "Out of memory.", NULL, o->done_userdata);
                o->done = NULL;
                return 0;
        }
        return api_request_reply_error(o->req, status, code, "%s", message ?: "Out of memory.");
}

static int app_op_etcd_error(AppOp *o, int error) {
        return app_op_error(o, 503, "etcd_unavailable", "etcd did not answer: %s", strerror(-error));
}

static char *release_key(Manager *m, const char *app, unsigned version) {
        char num[16];
        snprintf(num, sizeof(num), "v%u", version);
        return registry_key(m->config->etcd_key_prefix, "releases", app, num, NULL);
}

/* --- the write --- */

static void on_written(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        _cleanup_(app_op_freep) AppOp *o = userdata;

        if (error < 0)
                return (void) app_op_etcd_error(o, error);
        if (!result->succeeded)
                return (void) app_op_error(o, 409, "conflict",
                                                      "App %s was changed by someone else meanwhile; try again.", o->app);
        if (o->made.version > 0)
                log_info("App %s: release v%u (%s).", o->app, o->made.version, strna(o->made.cause));
        json_auto_t *j = app_record_to_json(&o->rec);
        if (j)
                json_object_set_new(j, "newRelease", json_boolean(o->made.version > 0));
        app_op_answer(o, o->exists ? 200 : 201, j);
}

static void app_op_write(AppOp *o) {
        _cleanup_free_ char *akey = registry_key(o->m->config->etcd_key_prefix, "apps", o->app, NULL);
        _cleanup_free_ char *rkey = o->made.version > 0 ? release_key(o->m, o->app, o->made.version) : NULL;
        json_auto_t *aj = NULL, *rj = NULL;
        _cleanup_free_ char *av = NULL, *rv = NULL;

        o->rec.updated_usec = now_usec(CLOCK_REALTIME);
        if (!o->exists)
                o->rec.created_usec = o->rec.updated_usec;
        aj = app_record_to_json(&o->rec);
        av = aj ? jx_dumps(aj) : NULL;
        if (o->made.version > 0) {
                rj = release_to_json(&o->made);
                rv = rj ? jx_dumps(rj) : NULL;
        }
        if (!akey || !av || (o->made.version > 0 && (!rkey || !rv))) {
                app_op_error(o, 500, "internal", "Out of memory.");
                return app_op_free(o);
        }
        EtcdCompare cmp = { .key = akey, .target = ETCD_COMPARE_MOD, .result = ETCD_EQUAL, .number = o->mod_revision };
        EtcdOp ops[] = {
                { .type = ETCD_OP_PUT, .key = akey, .value = av },
                { .type = ETCD_OP_PUT, .key = rkey, .value = rv },
        };
        EtcdTxn txn = { .compares = &cmp, .n_compares = 1, .success = ops, .n_success = rkey ? 2 : 1 };
        int r = etcd_client_txn(o->m->etcd, &txn, on_written, o, NULL);
        if (r < 0) {
                (void) app_op_etcd_error(o, r);
                app_op_free(o);
        }
}

/* Makes o->made the next release from base (taken over) and starts a rollout to it. */
static int app_op_new_release(AppOp *o, Release *base, const char *cause) {
        _cleanup_free_ char *err = NULL;

        release_done(&o->made);
        o->made = *base;
        *base = (Release) {};
        o->made.version = o->rec.latest + 1;
        o->made.created_usec = now_usec(CLOCK_REALTIME);
        free(o->made.cause);
        o->made.cause = strdup(cause);
        if (!o->made.cause)
                return -ENOMEM;
        if (release_verify(&o->made) < 0)
                return app_op_error(o, 400, "bad_release",
                                               "The release would break fleetd's limits (docs/manifest.md): too many "
                                               "config entries, a value too long, or a bad key."), -EINVAL;
        if (unit_gen_check_release(&o->made, &err) < 0)
                return app_op_error(o, 400, "bad_release", "%s", strna(err)), -EINVAL;

        o->rec.rollout_from = o->rec.release;
        o->rec.rollback_of = 0;
        o->rec.release = o->rec.latest = o->made.version;
        o->rec.rollout = ROLLOUT_ROLLING;
        free(o->rec.message);
        return asprintf(&o->rec.message, "rolling out v%u: %s", o->made.version, cause) < 0 ? -ENOMEM : 0;
}

/* --- the operations, once the app (and its release) are read --- */

static int apply_deploy(AppOp *o) {
        if (!streq(o->manifest.app, o->app))
                return app_op_error(o, 400, "bad_request",
                                               "The manifest is for app '%s', not '%s'.", o->manifest.app, o->app),
                       -EINVAL;
        if (!o->exists) {
                o->rec.name = strdup(o->app);
                o->rec.next_index = 1;
                if (!o->rec.name)
                        return -ENOMEM;
        }
        /* the manifest's scale is what the operator declares, as on every deploy; processes the
         * manifest no longer has lose their entry (their restart marks stay for the others) */
        AppRecord kept = { .scale = NULL, .n_scale = 0 };
        for (size_t i = 0; i < o->manifest.n_processes; i++) {
                const ProcessType *p = &o->manifest.processes[i];
                const AppScale *old = app_record_scale(&o->rec, p->name);
                if (app_record_set_scale(&kept, p->name, p->scale) < 0) {
                        app_record_done(&kept);
                        return -ENOMEM;
                }
                kept.scale[kept.n_scale - 1].restart_below = old ? old->restart_below : 0;
        }
        for (size_t i = 0; i < o->rec.n_scale; i++)
                free(o->rec.scale[i].process);
        free(o->rec.scale);
        o->rec.scale = TAKE_PTR(kept.scale);
        o->rec.n_scale = kept.n_scale;
        if (o->current.app && release_same_build(&o->current, &o->manifest))
                return 0;     /* unchanged: no new release, maybe a new scale */
        return app_op_new_release(o, &o->manifest, o->cause ?: "deploy");
}

static int apply_scale(AppOp *o) {
        const char *k;
        json_t *v;

        if (!o->current.app)
                return app_op_error(o, 409, "conflict", "App %s has no release yet: deploy first.",
                                               o->app), -EINVAL;
        if (!json_is_object(o->body) || json_object_size(o->body) == 0)
                return app_op_error(o, 400, "bad_request",
                                               "Body must be an object of process: count, e.g. {\"web\": 3}."), -EINVAL;
        json_object_foreach(o->body, k, v) {
                if (!release_find_process(&o->current, k))
                        return app_op_error(o, 400, "bad_request",
                                                       "App %s has no process '%s' in v%u.", o->app, k,
                                                       o->current.version), -EINVAL;
                if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > RELEASE_SCALE_MAX)
                        return app_op_error(o, 400, "bad_request",
                                                       "Scale of %s must be a whole number from 0 to %u.", k,
                                                       RELEASE_SCALE_MAX), -EINVAL;
        }
        json_object_foreach(o->body, k, v)
                if (app_record_set_scale(&o->rec, k, (unsigned) json_integer_value(v)) < 0)
                        return -ENOMEM;
        return 0;
}

static int config_set_one(Release *r, const char *key, const char *value) {
        for (size_t i = 0; i < r->n_config; i++)
                if (streq(r->config[i].key, key))
                        return free_and_strdup(&r->config[i].value, value);
        MetadataPair *n = realloc(r->config, sizeof(MetadataPair) * (r->n_config + 1));
        if (!n)
                return -ENOMEM;
        r->config = n;
        n[r->n_config] = (MetadataPair) { strdup(key), strdup(value) };
        r->n_config++;
        return n[r->n_config - 1].key && n[r->n_config - 1].value ? 0 : -ENOMEM;
}

static bool config_unset_one(Release *r, const char *key) {
        for (size_t i = 0; i < r->n_config; i++)
                if (streq(r->config[i].key, key)) {
                        free(r->config[i].key);
                        free(r->config[i].value);
                        memmove(&r->config[i], &r->config[i + 1], sizeof(MetadataPair) * (r->n_config - i - 1));
                        r->n_config--;
                        return true;
                }
        return false;
}

static int apply_config(AppOp *o) {
        _cleanup_(release_done) Release next = {};
        json_t *set = json_object_get(o->body, "set"), *unset = json_object_get(o->body, "unset"), *v;
        char cause[1024] = "config";
        size_t n = strlen(cause), idx;
        const char *k;

        if (!o->current.app)
                return app_op_error(o, 409, "conflict", "App %s has no release yet: deploy first.",
                                               o->app), -EINVAL;
        if (!json_is_object(o->body) || (set && !json_is_object(set)) || (unset && !json_is_array(unset)) ||
            (!set && !unset))
                return app_op_error(o, 400, "bad_request",
                                               "Body must be {\"set\": {KEY: value}, \"unset\": [KEY]}."), -EINVAL;
        if (release_copy(&o->current, &next) < 0)
                return -ENOMEM;
        json_object_foreach(set, k, v) {
                if (!release_config_key_is_valid(k) || !json_is_string(v))
                        return app_op_error(o, 400, "bad_request",
                                                       "Config key '%s' must match [A-Za-z_][A-Za-z0-9_]* (not PORT) "
                                                       "and its value be a string.", k), -EINVAL;
                if (config_set_one(&next, k, json_string_value(v)) < 0)
                        return -ENOMEM;
                n += snprintf(cause + n, sizeof(cause) - MIN(n, sizeof(cause)), " set %s", k);
        }
        json_array_foreach(unset, idx, v) {
                if (!json_is_string(v))
                        return app_op_error(o, 400, "bad_request", "unset must list key names."),
                               -EINVAL;
                if (config_unset_one(&next, json_string_value(v)))
                        n += snprintf(cause + n, sizeof(cause) - MIN(n, sizeof(cause)), " unset %s",
                                      json_string_value(v));
        }
        if (release_same_build(&o->current, &next))
                return 0;     /* nothing changed */
        return app_op_new_release(o, &next, cause);
}

static int apply_rollback(AppOp *o) {
        _cleanup_(release_done) Release copy = {};
        char cause[64];

        if (!o->other.app)
                return app_op_error(o, 404, "not_found", "App %s has no release v%u.", o->app,
                                               o->other_version), -EINVAL;
        if (release_copy(&o->other, &copy) < 0)
                return -ENOMEM;
        snprintf(cause, sizeof(cause), "rollback to v%u", o->other_version);
        return app_op_new_release(o, &copy, cause);
}

static int apply_restart(AppOp *o) {
        const char *only = jx_str(o->body, "process");

        if (!o->current.app)
                return app_op_error(o, 409, "conflict", "App %s has no release yet.", o->app), -EINVAL;
        if (only && !release_find_process(&o->current, only))
                return app_op_error(o, 400, "bad_request", "App %s has no process '%s'.", o->app,
                                               only), -EINVAL;
        for (size_t i = 0; i < o->current.n_processes; i++) {
                const ProcessType *p = &o->current.processes[i];
                if (only && !streq(only, p->name))
                        continue;
                if (!app_record_scale(&o->rec, p->name) && app_record_set_scale(&o->rec, p->name, p->scale) < 0)
                        return -ENOMEM;
                app_record_scale(&o->rec, p->name)->restart_below = MAX(o->rec.next_index, 1u);
        }
        o->rec.rollout = ROLLOUT_ROLLING;
        o->rec.rollout_from = o->rec.release;
        o->rec.rollback_of = 0;
        free(o->rec.message);
        return asprintf(&o->rec.message, "restarting %s", only ?: "every process") < 0 ? -ENOMEM : 0;
}

static void app_op_apply(AppOp *o) {
        static int (* const apply[])(AppOp *) = {
                [OP_DEPLOY] = apply_deploy,
                [OP_SCALE] = apply_scale,
                [OP_CONFIG] = apply_config,
                [OP_ROLLBACK] = apply_rollback,
                [OP_RESTART] = apply_restart,
        };
        int r = apply[o->kind](o);

        if (r == -EINVAL)
                return app_op_free(o);        /* replied already */
        if (r < 0) {
                app_op_error(o, 500, "internal", "%s", strerror(-r));
                return app_op_free(o);
        }
        app_op_write(o);
}

/* --- the reads --- */

static int read_release(AppOp *o, unsigned version, etcd_callback_t cb) {
        _cleanup_free_ char *key = release_key(o->m, o->app, version);
        EtcdRangeArgs args = { .key = key };
        return key ? etcd_client_range(o->m->etcd, &args, cb, o, NULL) : -ENOMEM;
}

static int release_from_result(const EtcdResult *result, Release *ret) {
        json_auto_t *j = result->n_kvs > 0 ? json_loads(result->kvs[0].value, 0, NULL) : NULL;
        return j ? release_from_json(j, ret) : -ENOENT;
}

static void on_other_read(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        AppOp *o = userdata;

        if (error < 0) {
                (void) app_op_etcd_error(o, error);
                return app_op_free(o);
        }
        (void) release_from_result(result, &o->other);
        app_op_apply(o);
}

static void on_current_read(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        AppOp *o = userdata;
        int r;

        if (error < 0) {
                (void) app_op_etcd_error(o, error);
                return app_op_free(o);
        }
        if (release_from_result(result, &o->current) < 0)
                log_warning("App %s names release v%u, which cannot be read.", o->app, o->rec.release);

        if (o->kind == OP_ROLLBACK) {
                json_t *v = json_object_get(o->body, "version");
                if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > o->rec.latest)) {
                        app_op_error(o, 400, "bad_request", "version must be a release from 1 to %u.",
                                                o->rec.latest);
                        return app_op_free(o);
                }
                o->other_version = v ? (unsigned) json_integer_value(v) : o->rec.release - 1;
                if (o->other_version < 1) {
                        app_op_error(o, 409, "conflict", "App %s has no release before v%u.", o->app,
                                                o->rec.release);
                        return app_op_free(o);
                }
                r = read_release(o, o->other_version, on_other_read);
                if (r < 0) {
                        (void) app_op_etcd_error(o, r);
                        app_op_free(o);
                }
                return;
        }
        app_op_apply(o);
}

static void on_app_read(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        AppOp *o = userdata;
        int r;

        if (error < 0) {
                (void) app_op_etcd_error(o, error);
                return app_op_free(o);
        }
        if (result->n_kvs > 0) {
                json_auto_t *j = json_loads(result->kvs[0].value, 0, NULL);
                if (app_record_from_json(j, &o->rec) < 0) {
                        app_op_error(o, 500, "internal", "The record of app %s is malformed.", o->app);
                        return app_op_free(o);
                }
                o->exists = true;
                o->mod_revision = result->kvs[0].mod_revision;
        } else if (o->kind != OP_DEPLOY) {
                app_op_error(o, 404, "not_found", "No app %s.", o->app);
                return app_op_free(o);
        }
        if (o->exists && o->rec.release > 0) {
                r = read_release(o, o->rec.release, on_current_read);
                if (r < 0) {
                        (void) app_op_etcd_error(o, r);
                        app_op_free(o);
                }
                return;
        }
        app_op_apply(o);
}

/* Reads the app's record (then its releases) and applies the operation; the op is passed on. */
static int app_op_read(AppOp *o) {
        _cleanup_free_ char *key = registry_key(o->m->config->etcd_key_prefix, "apps", o->app, NULL);
        EtcdRangeArgs args = { .key = key };

        return key ? etcd_client_range(o->m->etcd, &args, on_app_read, o, NULL) : -ENOMEM;
}

static void on_digest(ImageResolve *ir, const char *digest, const char *error, void *userdata) {
        AppOp *o = userdata;
        int r;

        o->resolve = image_resolve_free(o->resolve);
        if (!digest) {
                log_warning("App %s: cannot resolve the digest of %s: %s", o->app, o->manifest.image, error);
                app_op_error(o, 502, "registry_error", "Cannot get the digest of %s from its registry: %s",
                             o->manifest.image, error);
                return app_op_free(o);
        }
        log_info("App %s: %s is %s.", o->app, o->manifest.image, digest);
        o->manifest.digest = strdup(digest);
        r = o->manifest.digest ? app_op_read(o) : -ENOMEM;
        if (r < 0) {
                app_op_etcd_error(o, r);
                app_op_free(o);
        }
}

/* A deploy pins the manifest's image to its digest first: given in the reference, or asked of
 * the registry (release_wants_digest()); then the reads. */
static int app_op_begin(AppOp *o) {
        int r;

        if (o->kind != OP_DEPLOY)
                return app_op_read(o);
        r = release_digest_from_image(&o->manifest);
        if (r < 0)
                return r;
        if (!release_wants_digest(&o->manifest))
                return app_op_read(o);
        r = image_resolve_digest(o->m->event, o->manifest.image, on_digest, o, &o->resolve);
        if (r == -ENOENT)
                return app_op_error(o, 500, "internal", "Cannot get the digest of %s: %s is not installed.",
                                    o->manifest.image, IMAGE_TOOL_SKOPEO), -EINVAL;
        return r;
}

static int app_op_start(ApiRequest *req, Manager *m, AppOpKind kind) {
        _cleanup_(app_op_freep) AppOp *o = calloc(1, sizeof(AppOp));
        const char *app = api_request_arg(req, 0);
        size_t len;
        const char *body = api_request_body(req, &len);
        int r;

        if (!o)
                return -ENOMEM;
        if (!release_app_name_is_valid(app))
                return api_request_reply_error(req, 400, "bad_request",
                                               "Invalid app name '%s': expected [a-z][a-z0-9-]*, at most %d characters.",
                                               app, RELEASE_APP_NAME_MAX);
        o->m = m;
        o->req = req;
        o->kind = kind;
        o->app = strdup(app);
        if (!o->app)
                return -ENOMEM;

        if (kind == OP_DEPLOY) {
                _cleanup_free_ char *err = NULL;
                const char *file = api_request_query(req, "file") ?: "manifest";
                if (manifest_parse(body ?: "", body ? len : 0, file, &o->manifest, &err) < 0)
                        return api_request_reply_error(req, 400, "bad_manifest", "%s", strna(err));
        } else if (body && len > 0) {
                json_error_t jerr;
                o->body = json_loadb(body, len, 0, &jerr);
                if (!json_is_object(o->body))
                        return api_request_reply_error(req, 400, "bad_request", "Body must be a JSON object: %s.",
                                                       o->body ? "not an object" : jerr.text);
        } else if (kind == OP_SCALE || kind == OP_CONFIG)
                return api_request_reply_error(req, 400, "bad_request", "A JSON body is needed.");

        r = app_op_begin(o);
        if (r == -EINVAL)
                return 0;     /* replied */
        if (r < 0)
                return r;
        TAKE_PTR(o);
        return 0;
}

int api_apps_deploy_release(Manager *m, Release *manifest, const char *cause, api_apps_done_t done,
                            void *userdata) {
        _cleanup_(app_op_freep) AppOp *o = calloc(1, sizeof(AppOp));
        int r;

        assert(manifest && manifest->app && done);
        if (!o)
                return -ENOMEM;
        o->m = m;
        o->kind = OP_DEPLOY;
        o->cause = cause;
        o->app = strdup(manifest->app);
        if (!o->app)
                return -ENOMEM;
        o->manifest = *manifest;
        *manifest = (Release) {};
        o->done = done;
        o->done_userdata = userdata;
        r = app_op_begin(o);
        if (r == -EINVAL)
                return 0;     /* told */
        if (r < 0)
                return r;
        TAKE_PTR(o);
        return 0;
}

int api_apps_deploy(ApiRequest *req, void *userdata) {
        return app_op_start(req, userdata, OP_DEPLOY);
}

int api_apps_scale(ApiRequest *req, void *userdata) {
        return app_op_start(req, userdata, OP_SCALE);
}

int api_apps_config(ApiRequest *req, void *userdata) {
        return app_op_start(req, userdata, OP_CONFIG);
}

int api_apps_rollback(ApiRequest *req, void *userdata) {
        return app_op_start(req, userdata, OP_ROLLBACK);
}

int api_apps_restart(ApiRequest *req, void *userdata) {
        return app_op_start(req, userdata, OP_RESTART);
}

/* --- reads: list, one app with its instances, releases --- */

static void on_apps_list(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        ApiRequest *req = userdata;
        json_auto_t *list = json_array();

        if (error < 0)
                return (void) api_request_reply_etcd_error(req, error);
        for (size_t i = 0; list && i < result->n_kvs; i++) {
                _cleanup_(app_record_done) AppRecord a = {};
                json_auto_t *j = json_loads(result->kvs[i].value, 0, NULL);
                if (app_record_from_json(j, &a) >= 0)
                        json_array_append_new(list, app_record_to_json(&a));
        }
        json_auto_t *body = json_pack("{s:O}", "apps", list);
        api_request_reply_json(req, 200, body);
}

static int prefix_args(Manager *m, const char *what, const char *rest, char **ret_key, char **ret_end) {
        *ret_key = registry_key(m->config->etcd_key_prefix, what, rest, NULL);
        *ret_end = *ret_key ? etcd_prefix_end(*ret_key) : NULL;
        return *ret_end ? 0 : -ENOMEM;
}

int api_apps_list(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        _cleanup_free_ char *key = NULL, *end = NULL;

        if (prefix_args(m, "apps", "", &key, &end) < 0)
                return -ENOMEM;
        EtcdRangeArgs args = { .key = key, .range_end = end };
        return etcd_client_range(m->etcd, &args, on_apps_list, req, NULL);
}

/* One instance for `ps`: the unit, its release/process/index, where and how it runs. */
static json_t *instance_json(const char *unit, const EtcdResult *states, const EtcdResult *machines) {
        _cleanup_free_ char *app = NULL, *process = NULL;
        unsigned version, index;
        json_t *j;

        if (release_parse_instance_name(unit, &app, &version, &process, &index) < 0)
                return NULL;
        j = json_pack("{s:s, s:i, s:s, s:i}", "unit", unit, "release", (int) version, "process", process,
                      "index", (int) index);
        for (size_t i = 0; j && i < states->n_kvs; i++) {
                _cleanup_(state_record_done) StateRecord s = {};
                json_auto_t *sj = json_loads(states->kvs[i].value, 0, NULL);
                if (state_record_from_json(sj, &s) < 0 || !streq(s.name, unit))
                        continue;
                json_object_update(j, sj);
                for (size_t k = 0; k < machines->n_kvs; k++) {
                        _cleanup_(machine_record_done) MachineRecord mr = {};
                        json_auto_t *mj = json_loads(machines->kvs[k].value, 0, NULL);
                        if (machine_record_from_json(mj, &mr) >= 0 && streq(mr.id, s.machine)) {
                                json_object_set_new(j, "ip", json_string(mr.ip));
                                json_object_set_new(j, "hostname", json_string(mr.hostname));
                        }
                }
        }
        json_object_del(j, "name");
        return j;
}

static void on_app_get(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        ApiRequest *req = userdata;
        _cleanup_(app_record_done) AppRecord a = {};

        if (error < 0)
                return (void) api_request_reply_etcd_error(req, error);
        const EtcdResult *apps = &result->responses[0], *units = &result->responses[1],
                         *states = &result->responses[2], *machines = &result->responses[3];
        json_auto_t *aj = apps->n_kvs > 0 ? json_loads(apps->kvs[0].value, 0, NULL) : NULL;
        if (!aj || app_record_from_json(aj, &a) < 0)
                return (void) api_request_reply_error(req, 404, "not_found", "No app %s.", api_request_arg(req, 0));

        json_auto_t *body = app_record_to_json(&a), *list = json_array();
        for (size_t i = 0; body && list && i < units->n_kvs; i++) {
                const char *unit = strrchr(units->kvs[i].key, '/');
                json_t *ij = unit ? instance_json(unit + 1, states, machines) : NULL;
                if (ij)
                        json_array_append_new(list, ij);
        }
        if (body)
                json_object_set(body, "instances", list);
        api_request_reply_json(req, 200, body);
}

int api_apps_get(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        const char *app = api_request_arg(req, 0);
        _cleanup_free_ char *ak = NULL, *uk = NULL, *ue = NULL, *sk = NULL, *se = NULL, *mk = NULL, *me = NULL;
        _cleanup_free_ char *inst = NULL;

        if (!release_app_name_is_valid(app))
                return api_request_reply_error(req, 404, "not_found", "No app %s.", app);
        /* instances are units/<app>_v...; app names have no '_', so no other app shares the prefix */
        if (asprintf(&inst, "%s_v", app) < 0 || !(ak = registry_key(m->config->etcd_key_prefix, "apps", app, NULL)) ||
            prefix_args(m, "units", inst, &uk, &ue) < 0 || prefix_args(m, "state", inst, &sk, &se) < 0 ||
            prefix_args(m, "machines", "", &mk, &me) < 0)
                return -ENOMEM;
        EtcdOp ops[] = {
                { .type = ETCD_OP_RANGE, .key = ak },
                { .type = ETCD_OP_RANGE, .key = uk, .range_end = ue },
                { .type = ETCD_OP_RANGE, .key = sk, .range_end = se },
                { .type = ETCD_OP_RANGE, .key = mk, .range_end = me },
        };
        EtcdTxn txn = { .success = ops, .n_success = ELEMENTSOF(ops) };
        return etcd_client_txn(m->etcd, &txn, on_app_get, req, NULL);
}

/* A stored release (as read by release_from_json()) and its version, for sorting. */
typedef struct ReleaseItem {
        unsigned version;
        json_t *json;
} ReleaseItem;

static int cmp_release_desc(const void *a, const void *b) {
        unsigned x = ((const ReleaseItem *) a)->version, y = ((const ReleaseItem *) b)->version;
        return x < y ? 1 : x > y ? -1 : 0;
}

/* The releases/<app>/ value as a ReleaseItem, or false (logged) if it is not a release. */
static bool release_item_read(const EtcdKv *kv, ReleaseItem *ret) {
        _cleanup_(release_done) Release rel = {};
        json_auto_t *j = json_loads(kv->value, 0, NULL);

        if (release_from_json(j, &rel) < 0) {
                log_warning("Ignoring malformed release record at %s.", kv->key);
                return false;
        }
        *ret = (ReleaseItem) { rel.version, TAKE_PTR(j) };
        return true;
}

static void on_releases(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        ApiRequest *req = userdata;
        _cleanup_free_ ReleaseItem *items = NULL;
        size_t n = 0;

        if (error < 0)
                return (void) api_request_reply_etcd_error(req, error);
        if (result->n_kvs == 0)
                return (void) api_request_reply_error(req, 404, "not_found", "App %s has no releases.",
                                                      api_request_arg(req, 0));
        items = calloc(result->n_kvs, sizeof(ReleaseItem));
        for (size_t i = 0; items && i < result->n_kvs; i++)
                if (release_item_read(&result->kvs[i], &items[n]))
                        n++;
        qsort(items, n, sizeof(ReleaseItem), cmp_release_desc);      /* v10 sorts before v9 as text */
        json_auto_t *list = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(list, items[i].json);
        json_auto_t *body = json_pack("{s:O}", "releases", list);
        api_request_reply_json(req, 200, body);
}

int api_apps_releases(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        const char *app = api_request_arg(req, 0);
        _cleanup_free_ char *key = NULL, *end = NULL, *sub = NULL;

        if (!release_app_name_is_valid(app))
                return api_request_reply_error(req, 404, "not_found", "No app %s.", app);
        if (asprintf(&sub, "%s/", app) < 0 || prefix_args(m, "releases", sub, &key, &end) < 0)
                return -ENOMEM;
        EtcdRangeArgs args = { .key = key, .range_end = end };
        return etcd_client_range(m->etcd, &args, on_releases, req, NULL);
}

/* DELETE /v1/apps/<app>: the app record, its releases and its instance units in one txn; the
 * agents then stop and remove the instances. */
static void on_app_deleted(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        ApiRequest *req = userdata;

        if (error < 0)
                return (void) api_request_reply_etcd_error(req, error);
        if (result->n_responses < 3 || result->responses[0].deleted == 0)
                return (void) api_request_reply_error(req, 404, "not_found", "No app %s.", api_request_arg(req, 0));
        log_info("App %s destroyed: %" PRIi64 " release(s), %" PRIi64 " instance unit(s).", api_request_arg(req, 0),
                 result->responses[1].deleted, result->responses[2].deleted);
        json_auto_t *j = json_pack("{s:s, s:I, s:I}", "destroyed", api_request_arg(req, 0),
                                   "releases", (json_int_t) result->responses[1].deleted,
                                   "units", (json_int_t) result->responses[2].deleted);
        api_request_reply_json(req, 200, j);
}

int api_apps_destroy(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        const char *app = api_request_arg(req, 0);
        _cleanup_free_ char *ak = NULL, *rk = NULL, *re = NULL, *uk = NULL, *ue = NULL, *sub = NULL, *inst = NULL;
        _cleanup_free_ char *bk = NULL, *be = NULL;

        if (!release_app_name_is_valid(app))
                return api_request_reply_error(req, 404, "not_found", "No app %s.", app);
        if (asprintf(&sub, "%s/", app) < 0 || asprintf(&inst, "%s_v", app) < 0 ||
            !(ak = registry_key(m->config->etcd_key_prefix, "apps", app, NULL)) ||
            prefix_args(m, "releases", sub, &rk, &re) < 0 || prefix_args(m, "units", inst, &uk, &ue) < 0 ||
            prefix_args(m, "builds", sub, &bk, &be) < 0)
                return -ENOMEM;
        /* the builds' records go with the app (the pushed images stay in the registry) */
        EtcdOp ops[] = {
                { .type = ETCD_OP_DELETE, .key = ak },
                { .type = ETCD_OP_DELETE, .key = rk, .range_end = re },
                { .type = ETCD_OP_DELETE, .key = uk, .range_end = ue },
                { .type = ETCD_OP_DELETE, .key = bk, .range_end = be },
        };
        EtcdTxn txn = { .success = ops, .n_success = ELEMENTSOF(ops) };
        return etcd_client_txn(m->etcd, &txn, on_app_deleted, req, NULL);
}

/* GET /v1/routes[?app=APP]: the published routes (routes/<app>/<unit>), as the agents wrote them. */
static void on_routes(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        ApiRequest *req = userdata;
        json_auto_t *list = json_array();

        if (error < 0)
                return (void) api_request_reply_etcd_error(req, error);
        for (size_t i = 0; list && i < result->n_kvs; i++) {
                _cleanup_(route_record_done) RouteRecord rec = {};
                json_t *j = json_loads(result->kvs[i].value, 0, NULL);

                /* the records fleet-router and hooks would take, as the agents wrote them */
                if (route_record_from_json(j, &rec, NULL) >= 0)
                        json_array_append_new(list, j);
                else
                        json_decref(j);
        }
        json_auto_t *body = json_pack("{s:O}", "routes", list);
        api_request_reply_json(req, 200, body);
}

int api_routes_list(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        const char *app = api_request_query(req, "app");
        _cleanup_free_ char *key = NULL, *end = NULL, *sub = NULL;

        if (app && !release_app_name_is_valid(app))
                return api_request_reply_error(req, 400, "bad_request", "Invalid app name '%s'.", app);
        if ((app && asprintf(&sub, "%s/", app) < 0) || prefix_args(m, "routes", sub ?: "", &key, &end) < 0)
                return -ENOMEM;
        EtcdRangeArgs args = { .key = key, .range_end = end };
        return etcd_client_range(m->etcd, &args, on_routes, req, NULL);
}
