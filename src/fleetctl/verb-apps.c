/* SPDX-License-Identifier: Apache-2.0 */
/* App verbs over /v1/apps (docs/api.md, "Apps"): apps (list, destroy), ps, releases, scale,
 * config, rollback, restart. Those that change what runs follow the change until the app runs
 * it (app-wait.h); deploy and logs have files of their own. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <time.h>

#include "app-instances.h"
#include "app-wait.h"
#include "basic/json-util.h"
#include "fleetctl.h"
#include "table.h"
#include "time-format.h"
#include "unit-args.h"

/* GETs suffix of app and the array under key in it ("instances", "releases"). */
static int app_get_list(Client *c, const char *app, const char *suffix, const char *key, json_t **ret_answer,
                        json_t **ret_list) {
        _cleanup_free_ char *path = app_path(c, app, suffix);

        if (!path)
                return -ENOMEM;
        return api_get_list(c, path, key, ret_answer, ret_list);
}

/* "v3", or NULL (shown as "-") for no release. */
static int format_version(int64_t v, char **ret) {
        *ret = NULL;
        if (v > 0 && asprintf(ret, "v%lld", (long long) v) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* The first line after a change: what fleetd made of it ("hello: rolling out v4: config set
 * A"), or that it changed nothing. A restart makes no release but always rolls. */
static int print_change(const char *app, const json_t *answer, bool rolls) {
        if (rolls || jx_bool(answer, "newRelease", false))
                printf("%s: %s\n", app, strna(jx_str(json_object_get(answer, "rollout"), "message")));
        else
                printf("No change: %s stays at v%lld\n", app, (long long) jx_int64(answer, "release", 0));
        return fflush(stdout) == 0 ? 0 : -EIO;
}

/* Sends a change (method to suffix of app, with body), prints what came of it and waits. */
static int app_change(Client *c, const char *app, const char *method, const char *suffix, const json_t *body,
                      bool rolls) {
        _cleanup_free_ char *path = app_path(c, app, suffix);
        json_auto_t *answer = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        r = client_call(c, method, path, body, &answer);
        if (r < 0)
                return r;
        r = print_change(app, answer, rolls);
        if (r < 0)
                return r;
        return app_wait(c, app, answer);
}

/* --- apps --- */

static int apps_add(Table *t, const json_t *a, void *userdata) {
        _cleanup_free_ char *version = NULL, *scale = NULL;

        if (format_version(jx_int64(a, "release", 0), &version) < 0 || app_format_scale(a, NULL, ",", &scale) < 0)
                return -ENOMEM;
        return table_add_row(t, jx_str(a, "name"), version, scale, jx_str(json_object_get(a, "rollout"), "state"));
}

static int apps_list(Client *c) {
        _cleanup_(table_freep) Table *t = NULL;
        json_auto_t *answer = NULL;
        json_t *apps;
        int r;

        r = api_get_list(c, "/v1/apps", "apps", &answer, &apps);
        if (r >= 0)
                r = table_new(&t, "APP", "RELEASE", "PROCESSES", "ROLLOUT");
        if (r < 0)
                return r;
        return print_list(apps, t, apps, apps_add, NULL);
}

static int apps_destroy(Client *c, const char *app) {
        _cleanup_free_ char *path = app_path(c, app, "");
        json_auto_t *answer = NULL;
        int64_t releases, units;
        int r;

        if (!path)
                return -ENOMEM;
        r = client_call(c, "DELETE", path, NULL, &answer);
        if (r < 0)
                return r;
        if (arg_json)
                return print_json(answer);
        releases = jx_int64(answer, "releases", 0);
        units = jx_int64(answer, "units", 0);
        printf("Destroyed %s: %lld release%s, %lld unit%s\n", app, (long long) releases, releases == 1 ? "" : "s",
               (long long) units, units == 1 ? "" : "s");
        return fflush(stdout) == 0 ? 0 : -EIO;
}

int verb_apps(Client *c, int argc, char **argv) {
        if (argc == 0 || (argc == 1 && streq(argv[0], "list")))
                return apps_list(c);
        if (streq(argv[0], "destroy")) {
                if (argc != 2)
                        return usage_error("apps", "apps destroy needs the name of one app.");
                return apps_destroy(c, argv[1]);
        }
        return usage_error("apps", "unknown 'apps %s': use 'apps' to list them or 'apps destroy APP'.", argv[0]);
}

/* --- ps --- */

static int ps_add(Table *t, const json_t *i, void *userdata) {
        _cleanup_free_ char *label = NULL, *version = NULL, *address = NULL, *state = NULL, *host = NULL;
        const char *active = jx_str(i, "active"), *machine = jx_str(i, "machine");

        if (instance_label(i, &label) < 0 || format_version(jx_int64(i, "release", 0), &version) < 0 ||
            instance_address(i, &address) < 0)
                return -ENOMEM;
        if (active && asprintf(&state, "%s/%s", active, strna(jx_str(i, "sub"))) < 0)
                return (state = NULL), -ENOMEM;
        /* Without a hostname, the machine as list-units shows it. */
        if (!jx_str(i, "hostname") && !isempty(machine) &&
            asprintf(&host, "%.8s%s", machine, strlen(machine) > 8 ? "..." : "") < 0)
                return (host = NULL), -ENOMEM;
        return table_add_row(t, label, jx_str(i, "unit"), version, jx_str(i, "hostname") ?: host, address, state,
                             instance_health(i));
}

/* Below the table, why each instance that failed failed (its agent read it from the journal). */
static int print_reasons(const json_t *instances) {
        size_t i;
        json_t *in;

        json_array_foreach(instances, i, in) {
                _cleanup_free_ char *label = NULL;
                const char *reason = jx_str(in, "reason");
                if (!reason)
                        continue;
                if (instance_label(in, &label) < 0)
                        return -ENOMEM;
                printf("%s: %s\n", strna(label), reason);
        }
        return fflush(stdout) == 0 ? 0 : -EIO;
}

int verb_ps(Client *c, int argc, char **argv) {
        _cleanup_(table_freep) Table *t = NULL;
        json_auto_t *app = NULL, *sorted = NULL;
        json_t *instances;
        int r;

        r = app_get_list(c, argv[0], "", "instances", &app, &instances);
        if (r >= 0)
                r = app_instances_sorted(app, NULL, &sorted);
        if (r >= 0)
                r = table_new(&t, "INSTANCE", "UNIT", "RELEASE", "HOST", "ADDRESS", "STATE", "HEALTH");
        if (r < 0)
                return r;
        r = print_list(instances, t, sorted, ps_add, NULL);
        if (r < 0 || arg_json)
                return r;
        return print_reasons(sorted);
}

/* --- releases --- */

/* userdata: the realtime now, for "3 min ago". */
static int releases_add(Table *t, const json_t *rel, void *userdata) {
        _cleanup_free_ char *version = NULL;
        /* docs/api.md says "created"; releases are stored with "created_usec". */
        int64_t created = jx_int64(rel, "created", 0) ?: jx_int64(rel, "created_usec", 0);
        char ago[64] = "";

        if (format_version(jx_int64(rel, "version", 0), &version) < 0)
                return -ENOMEM;
        if (created > 0)
                format_relative(ago, sizeof(ago), (usec_t) created, *(const usec_t *) userdata);
        const char *digest = jx_str(rel, "digest");
        _cleanup_free_ char *image = NULL;
        /* a pinned image with the start of its digest: "reg/hello:b1@sha256:0123456789ab" */
        if (digest && asprintf(&image, "%s@%.19s", strna(jx_str(rel, "image")), digest) < 0)
                return (image = NULL), -ENOMEM;
        return table_add_row(t, version, created > 0 ? ago : NULL, jx_str(rel, "cause"), image ?: jx_str(rel, "image"));
}

int verb_releases(Client *c, int argc, char **argv) {
        _cleanup_(table_freep) Table *t = NULL;
        json_auto_t *answer = NULL;
        usec_t now = now_usec(CLOCK_REALTIME);
        json_t *releases;
        int r;

        r = app_get_list(c, argv[0], "/releases", "releases", &answer, &releases);
        if (r >= 0)
                r = table_new(&t, "VERSION", "CREATED", "CAUSE", "IMAGE");
        if (r < 0)
                return r;
        return print_list(releases, t, releases, releases_add, &now);
}

/* --- scale, config, rollback --- */

/* Digits only ("3", not "+3" or " 3"), up to INT_MAX. Returns 0 or -EINVAL. */
static int parse_count(const char *s, unsigned *ret) {
        unsigned long n;
        char *end;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        n = strtoul(s, &end, 10);
        if (errno != 0 || *end || n > INT_MAX)
                return -EINVAL;
        *ret = (unsigned) n;
        return 0;
}

/* "KEY=VALUE", split at the first '=': KEY in *ret_key (the caller's), VALUE in *ret_value
 * (within arg). Returns 0, -EINVAL for no '=' or an empty KEY, or -ENOMEM. */
static int split_assignment(const char *arg, char **ret_key, const char **ret_value) {
        const char *eq = strchr(arg, '=');

        if (!eq || eq == arg)
                return -EINVAL;
        *ret_key = strndup(arg, (size_t) (eq - arg));
        if (!*ret_key)
                return -ENOMEM;
        *ret_value = eq + 1;
        return 0;
}

/* PROCESS=COUNT arguments as {"web": 3}; a usage error for anything else. */
static int scale_body(int argc, char **argv, json_t **ret) {
        json_auto_t *body = json_object();

        if (!body)
                return -ENOMEM;
        for (int i = 0; i < argc; i++) {
                _cleanup_free_ char *process = NULL;
                const char *count;
                unsigned n;
                int r;

                r = split_assignment(argv[i], &process, &count);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || parse_count(count, &n) < 0)
                        return usage_error("scale", "'%s': expected PROCESS=COUNT, such as web=3.", argv[i]);
                if (json_object_get(body, process))
                        return usage_error("scale", "process %s is given twice.", process);
                if (json_object_set_new(body, process, json_integer((json_int_t) n)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(body);
        return 0;
}

int verb_scale(Client *c, int argc, char **argv) {
        _cleanup_free_ char *path = app_path(c, argv[0], "/scale");
        json_auto_t *body = NULL, *answer = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        r = scale_body(argc - 1, argv + 1, &body);
        if (r < 0)
                return r;
        r = client_call(c, "PUT", path, body, &answer);
        if (r < 0)
                return r;
        printf("Scaling %s:", argv[0]);
        for (int i = 1; i < argc; i++)
                printf(" %s", argv[i]);
        putchar('\n');
        if (fflush(stdout) != 0)
                return -EIO;
        return app_wait(c, argv[0], answer);
}

/* --- config --- */

/* The config of app's current release, as its release holds it ({"KEY": "value"}, in the
 * manifest's order). */
static int config_get(Client *c, const char *app, json_t **ret) {
        _cleanup_free_ char *path = app_path(c, app, "");
        json_auto_t *answer = NULL, *releases = NULL;
        json_t *list, *rel;
        int64_t current;
        size_t i;
        int r;

        if (!path)
                return -ENOMEM;
        r = client_call(c, "GET", path, NULL, &answer);
        if (r < 0)
                return r;
        current = jx_int64(answer, "release", 0);
        r = app_get_list(c, app, "/releases", "releases", &releases, &list);
        if (r < 0)
                return r;
        json_array_foreach(list, i, rel)
                if (current > 0 && jx_int64(rel, "version", 0) == current) {
                        json_t *config = json_object_get(rel, "config");
                        *ret = json_incref(json_is_object(config) ? config : NULL) ?: json_object();
                        return *ret ? 0 : -ENOMEM;
                }
        fprintf(stderr, "fleetctl: %s has no release v%lld.\n", app, (long long) current);
        return -ENOENT;
}

static int config_show(Client *c, const char *app) {
        json_auto_t *config = NULL;
        const char *key;
        json_t *v;
        int r;

        r = config_get(c, app, &config);
        if (r < 0)
                return r;
        if (arg_json)
                return print_json(config);
        /* As env(1) prints it: KEY=VALUE as they are, so that the output can be read back. */
        json_object_foreach(config, key, v)
                printf("%s=%s\n", key, strempty(json_string_value(v)));
        return fflush(stdout) == 0 ? 0 : -EIO;
}

/* KEY=VALUE arguments (split at the first '=': values may hold more) as {"set": {...}}. */
static int config_set_body(int argc, char **argv, json_t **ret) {
        json_auto_t *set = json_object();

        if (!set)
                return -ENOMEM;
        for (int i = 0; i < argc; i++) {
                _cleanup_free_ char *key = NULL;
                const char *value;
                int r;

                r = split_assignment(argv[i], &key, &value);
                if (r == -EINVAL)
                        return usage_error("config", "'%s': expected KEY=VALUE, such as GREETING=hello.", argv[i]);
                if (r < 0)
                        return r;
                /* jansson takes UTF-8 only, as JSON does. */
                if (json_object_set_new(set, key, json_string(value)) < 0)
                        return usage_error("config", "KEY=VALUE arguments must be UTF-8 text.");
        }
        *ret = json_pack("{s:O}", "set", set);
        return *ret ? 0 : -ENOMEM;
}

/* KEY arguments as {"unset": [...]}. */
static int config_unset_body(int argc, char **argv, json_t **ret) {
        json_auto_t *unset = json_array();

        if (!unset)
                return -ENOMEM;
        for (int i = 0; i < argc; i++) {
                if (strchr(argv[i], '=') || isempty(argv[i]))
                        return usage_error("config", "config unset takes KEY names, not '%s'.", argv[i]);
                if (json_array_append_new(unset, json_string(argv[i])) < 0)
                        return -ENOMEM;
        }
        *ret = json_pack("{s:O}", "unset", unset);
        return *ret ? 0 : -ENOMEM;
}

int verb_config(Client *c, int argc, char **argv) {
        int (*make_body)(int, char **, json_t **) = NULL;
        json_auto_t *body = NULL;
        int r;

        if (streq(argv[0], "set"))
                make_body = config_set_body;
        else if (streq(argv[0], "unset"))
                make_body = config_unset_body;
        else if (streq(argv[0], "show")) {
                if (argc != 2)
                        return usage_error("config", "config show needs the name of one app.");
                return config_show(c, argv[1]);
        } else {
                if (argc != 1)
                        return usage_error("config", "to change config: config set %s KEY=VALUE..., or config unset "
                                                     "%s KEY....", argv[0], argv[0]);
                return config_show(c, argv[0]);
        }
        if (argc < 3)
                return usage_error("config", "config %s needs an app and at least one %s.", argv[0],
                                   make_body == config_set_body ? "KEY=VALUE" : "KEY");
        r = make_body(argc - 2, argv + 2, &body);
        if (r < 0)
                return r;
        return app_change(c, argv[1], "POST", "/config", body, false);
}

/* --- rollback, restart --- */

/* "v3" or "3" -> 3; 0 for anything else. */
static unsigned parse_version(const char *s) {
        unsigned n;

        return parse_count(s[0] == 'v' ? s + 1 : s, &n) < 0 ? 0 : n;
}

int verb_rollback(Client *c, int argc, char **argv) {
        json_auto_t *body = NULL;
        unsigned version = 0;

        if (argc > 1) {
                version = parse_version(argv[1]);
                if (version == 0)
                        return usage_error("rollback", "'%s': expected a release, such as v3 or 3.", argv[1]);
        }
        body = version > 0 ? json_pack("{s:i}", "version", (int) version) : json_object();
        if (!body)
                return -ENOMEM;
        return app_change(c, argv[0], "POST", "/rollback", body, true);
}

int verb_restart(Client *c, int argc, char **argv) {
        json_auto_t *body = argc > 1 ? json_pack("{s:s}", "process", argv[1]) : json_object();

        if (!body)
                return -ENOMEM;
        return app_change(c, argv[0], "POST", "/restart", body, true);
}
