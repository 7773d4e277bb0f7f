/* SPDX-License-Identifier: Apache-2.0 */
/* Unit arguments: names, local files and globs (see unit-args.h). */
#include <fnmatch.h>
#include <stdio.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "unit-args.h"
#include "unit-file.h"
#include "unit-name.h"
#include "unit-options.h"

char *unit_name_mangle(const char *arg) {
        const char *base = strrchr(arg, '/'), *dot;
        char *name;

        base = base ? base + 1 : arg;
        dot = strrchr(base, '.');
        if (dot && unit_type_from_string(dot + 1) >= 0)
                return strdup(base);
        if (asprintf(&name, "%s.service", base) < 0)
                return NULL;
        return name;
}

bool string_is_glob(const char *s) {
        return strpbrk(s, "*?[") != NULL;
}

void local_unit_done(LocalUnit *u) {
        free(u->name);
        free(u->path);
        free(u->contents);
        *u = (LocalUnit) {};
}

/* dir/web@1.service -> dir/web@.service, for an instance name. */
static int template_path_of(const char *arg, const char *name, char **ret) {
        _cleanup_free_ char *template = NULL;
        const char *slash = strrchr(arg, '/');
        int r;

        r = unit_name_template_of(name, &template);
        if (r < 0)
                return r;
        if (asprintf(ret, "%.*s%s", slash ? (int) (slash - arg + 1) : 0, arg, template) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* Reads arg, or the template next to it for an instance without a file of its own. */
static int local_unit_read(const char *arg, const char *name, LocalUnit *u) {
        _cleanup_free_ char *template = NULL;
        int r;

        r = unit_file_read_text(arg, &u->contents, &u->size);
        if (r == -ENOENT && unit_name_is_instance(name)) {
                r = template_path_of(arg, name, &template);
                if (r < 0)
                        return r;
                r = unit_file_read_text(template, &u->contents, &u->size);
                if (r == -ENOENT) {
                        fprintf(stderr, "fleetctl: %s: no such file, nor a template %s next to it.\n", arg,
                                template);
                        return -EBADMSG;
                }
                arg = template;
        }
        if (r == -ENOMEM)
                return r;
        if (r == -EFBIG)
                fprintf(stderr, "fleetctl: %s: larger than %zu KiB, the most a unit file may hold.\n", arg,
                        UNIT_FILE_SIZE_MAX / 1024);
        else if (r < 0)
                fprintf(stderr, "fleetctl: %s: %s.\n", arg, strerror(-r));
        if (r < 0)
                return -EBADMSG;
        u->path = strdup(arg);
        return u->path ? 0 : -ENOMEM;
}

void unit_options_print(const UnitOptions *o) {
        STRV_FOREACH(w, o->warnings)
                fprintf(stderr, "fleetctl: warning: %s\n", *w);
        STRV_FOREACH(e, o->errors)
                fprintf(stderr, "fleetctl: %s\n", *e);
}

/* The [X-Fleet] checks fleetd makes, here before anything is sent. */
static int local_unit_check_options(const LocalUnit *u, const UnitFile *uf) {
        _cleanup_(unit_options_done) UnitOptions o = {};
        int r;

        r = unit_options_parse(uf, u->name, u->path, &o);
        if (r < 0)
                return r;
        unit_options_print(&o);
        return o.errors[0] ? -EBADMSG : 0;
}

int local_unit_load(const char *arg, LocalUnit *ret) {
        _cleanup_(local_unit_done) LocalUnit u = {};
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        _cleanup_free_ char *why = NULL;
        int r;

        u.name = unit_name_mangle(arg);
        if (!u.name)
                return -ENOMEM;
        /* The file first: "No such file" says more about a typo than a name check would. */
        r = local_unit_read(arg, u.name, &u);
        if (r < 0)
                return r;
        r = unit_name_check(u.name, UNIT_NAME_ANY | UNIT_NAME_PLACEABLE, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                fprintf(stderr, "fleetctl: %s: %s.\n", arg, why ?: "invalid unit name");
                return -EBADMSG;
        }
        r = unit_file_parse(u.contents, u.size, u.path, &uf, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                fprintf(stderr, "fleetctl: %s\n", why ?: "invalid unit file");
                return -EBADMSG;
        }
        r = local_unit_check_options(&u, uf);
        if (r < 0)
                return r;
        *ret = u;
        u = (LocalUnit) {};
        return 0;
}

char *unit_path(Client *c, const char *name, const char *suffix) {
        _cleanup_free_ char *escaped = client_escape(c, name);
        char *path;

        if (!escaped || asprintf(&path, "/v1/units/%s%s", escaped, suffix) < 0)
                return NULL;   /* asprintf() leaves path undefined on failure: not returned */
        return path;
}

int unit_put_full(Client *c, const char *name, const char *contents, const char *desired, bool replace,
                  ClientFlags flags, long *ret_status, json_t **ret) {
        _cleanup_free_ char *path = unit_path(c, name, "");
        json_auto_t *body = json_object();

        if (!path || !body)
                return -ENOMEM;
        if (contents && json_object_set_new(body, "contents", json_string(contents)) < 0)
                return -ENOMEM;
        if (desired && json_object_set_new(body, "desiredState", json_string(desired)) < 0)
                return -ENOMEM;
        if (replace && json_object_set_new(body, "replace", json_true()) < 0)
                return -ENOMEM;
        return client_call_full(c, "PUT", path, body, flags, ret_status, ret);
}

int unit_put(Client *c, const char *name, const char *contents, const char *desired, ClientFlags flags,
             long *ret_status) {
        return unit_put_full(c, name, contents, desired, false, flags, ret_status, NULL);
}

/* path, or path with from=<next> for the page after. */
static int page_path(Client *c, const char *path, const char *from, char **ret) {
        _cleanup_free_ char *escaped = NULL;

        if (!from)
                return (*ret = strdup(path)) ? 0 : -ENOMEM;
        escaped = client_escape(c, from);
        if (!escaped || asprintf(ret, "%s%sfrom=%s", path, strchr(path, '?') ? "&" : "?", escaped) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

int api_get_list(Client *c, const char *path, const char *key, json_t **ret_answer, json_t **ret_list) {
        json_auto_t *answer = NULL;
        json_t *list;
        int r;

        r = client_call(c, "GET", path, NULL, &answer);
        if (r < 0)
                return r;
        list = json_object_get(answer, key);
        if (!json_is_array(list)) {
                fprintf(stderr, "fleetctl: fleetd at %s sent no \"%s\" list.\n", client_endpoint(c), key);
                return -EBADMSG;
        }
        *ret_list = list;
        *ret_answer = TAKE_PTR(answer);
        return 0;
}

int api_list_all(Client *c, const char *path, const char *key, json_t **ret) {
        json_auto_t *all = json_array();
        _cleanup_free_ char *from = NULL;
        int r;

        if (!all)
                return -ENOMEM;
        for (;;) {
                _cleanup_free_ char *p = NULL;
                json_auto_t *page = NULL;
                json_t *items;
                const char *next;

                r = page_path(c, path, from, &p);
                if (r < 0)
                        return r;
                r = api_get_list(c, p, key, &page, &items);
                if (r < 0)
                        return r;
                if (json_array_extend(all, items) < 0)
                        return -ENOMEM;
                next = jx_str(page, "next");
                if (!next)
                        break;
                /* Pages come in name order: a "next" that does not move on would loop forever. */
                if (from && strcmp(next, from) <= 0) {
                        fprintf(stderr, "fleetctl: fleetd at %s sent a \"next\" page marker that goes backwards.\n",
                                client_endpoint(c));
                        return -EBADMSG;
                }
                r = free_and_strdup(&from, next);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(all);
        return 0;
}

void failure_merge(int *acc, int r) {
        if (r >= 0)
                return;
        if (*acc == 0 && r == -ENOENT)
                *acc = -ENOENT;
        else if (*acc != -ENOENT || r != -ENOENT)
                *acc = -EIO;
}

/* Appends u unless a unit of its name is there already. */
static int resolved_add(json_t *list, json_t *seen, json_t *u) {
        const char *name = jx_str(u, "name");

        if (!name || json_object_get(seen, name))
                return 0;
        if (json_object_set_new(seen, name, json_true()) < 0 || json_array_append(list, u) < 0)
                return -ENOMEM;
        return 0;
}

int units_match(Client *c, const char *glob, ResolveFlags flags, json_t **all, json_t *list, json_t *seen,
                int *failure) {
        unsigned matches = 0;
        json_t *u;
        size_t i;
        int r;

        if (!*all) {
                r = api_list_all(c, "/v1/units", "units", all);
                if (r < 0)
                        return r;
        }
        json_array_foreach(*all, i, u) {
                const char *name = jx_str(u, "name");

                if (!name || fnmatch(glob, name, 0) != 0)
                        continue;
                if (!(flags & RESOLVE_TEMPLATES) && unit_name_is_template(name))
                        continue;
                r = resolved_add(list, seen, u);
                if (r < 0)
                        return r;
                matches++;
        }
        if (matches == 0) {
                fprintf(stderr, "fleetctl: No unit matches '%s'.\n", glob);
                failure_merge(failure, -ENOENT);
        }
        return 0;
}

static int resolve_name(Client *c, const char *arg, ResolveFlags flags, json_t *list, json_t *seen, int *failure) {
        _cleanup_free_ char *name = unit_name_mangle(arg), *path = NULL;
        json_auto_t *u = NULL;
        int r;

        if (!name)
                return -ENOMEM;
        if (!(flags & RESOLVE_FETCH)) {
                u = json_pack("{s:s}", "name", name);
                return u ? resolved_add(list, seen, u) : -ENOMEM;
        }
        path = unit_path(c, name, "");
        if (!path)
                return -ENOMEM;
        r = client_call(c, "GET", path, NULL, &u);
        if (error_is_fatal(r))
                return r;
        if (r < 0) {
                failure_merge(failure, r);
                return 0;
        }
        return resolved_add(list, seen, u);
}

int units_resolve(Client *c, char **args, ResolveFlags flags, json_t **ret, int *failure) {
        json_auto_t *list = json_array(), *seen = json_object(), *all = NULL;
        int r;

        if (!list || !seen)
                return -ENOMEM;
        for (char **a = args; *a; a++) {
                if (string_is_glob(*a))
                        r = units_match(c, *a, flags, &all, list, seen, failure);
                else
                        r = resolve_name(c, *a, flags, list, seen, failure);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(list);
        return 0;
}
