/* SPDX-License-Identifier: Apache-2.0 */
/* HOST arguments against the cluster, and the drain requests (see host-lookup.h). */
#include <stdio.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "host-lookup.h"
#include "unit-args.h"

void host_lookup_done(HostLookup *l) {
        json_decref(l->machines);
        json_decref(l->drains);
        json_decref(l->names);
        *l = (HostLookup) {};
}

int host_lookup_init(HostLookup *l, Client *c) {
        json_auto_t *answer = NULL;
        json_t *list, *m;
        size_t i;
        int r;

        *l = (HostLookup) { .client = c };
        r = api_get_list(c, "/v1/machines", "machines", &answer, &list);
        if (r < 0)
                return r;
        l->machines = json_incref(list);
        l->names = json_object();
        if (!l->names)
                return -ENOMEM;
        json_array_foreach(list, i, m) {
                _cleanup_free_ char *name = host_display_name(jx_str(m, "id"), jx_str(m, "hostname"));

                if (!name)
                        return -ENOMEM;
                if (jx_str(m, "id") && json_object_set_new(l->names, jx_str(m, "id"), json_string(name)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* The drain records, once; a fleetd without GET /v1/drains has none to offer. */
static int host_lookup_drains(HostLookup *l) {
        json_auto_t *answer = NULL;
        json_t *list;
        int r;

        if (l->drains)
                return 0;
        r = client_call_full(l->client, "GET", "/v1/drains", NULL, CLIENT_QUIET_NOT_FOUND, NULL, &answer);
        if (r < 0 && r != -ENOENT)
                return r;
        list = json_object_get(answer, "drains");
        l->drains = json_is_array(list) ? json_incref(list) : json_array();
        return l->drains ? 0 : -ENOMEM;
}

int host_lookup_resolve(HostLookup *l, const char *arg, Host *ret) {
        _cleanup_strv_free_ char **candidates = NULL;
        int r;

        if (host_needs_drains(l->machines, arg)) {
                r = host_lookup_drains(l);
                if (r < 0)
                        return r;
        }
        r = host_find(l->machines, l->drains, arg, ret, &candidates);
        if (r == -ENOTUNIQ) {
                fprintf(stderr, "fleetctl: '%s' is ambiguous: it matches %zu machines:\n", arg,
                        strv_length(candidates));
                STRV_FOREACH(s, candidates)
                        fprintf(stderr, "  %s\n", *s);
                fprintf(stderr, "fleetctl: give more of the id, or the hostname or IP.\n");
                return -EINVAL;
        }
        if (r == -ENOENT)
                fprintf(stderr,
                        "fleetctl: no machine '%s': it is not the id, an id prefix, the hostname or the IP of a "
                        "machine of the cluster (see 'fleetctl list-machines').\n",
                        arg);
        return r;
}

char *machine_path(Client *c, const char *id, const char *suffix) {
        _cleanup_free_ char *escaped = client_escape(c, id);
        char *path;

        if (!escaped || asprintf(&path, "/v1/machines/%s%s", escaped, suffix) < 0)
                return NULL;
        return path;
}

int host_get_record(Client *c, const Host *h, ClientFlags flags, json_t **ret) {
        _cleanup_free_ char *path = machine_path(c, h->id, "");

        if (!path)
                return -ENOMEM;
        return client_call_full(c, "GET", path, NULL, flags | CLIENT_QUIET_NOT_FOUND, NULL, ret);
}

int host_drain_request(Client *c, const Host *h, bool force, const char *source) {
        _cleanup_free_ char *path = machine_path(c, h->id, "/drain");
        json_auto_t *body = json_pack("{s:b, s:s}", "force", force, "source", source);
        int r;

        if (!path || !body)
                return -ENOMEM;
        r = client_call(c, "POST", path, body, NULL);
        if (r == -EEXIST)
                fprintf(stderr, "fleetctl: nothing changed; --force drains %s anyway, stopping those units.\n",
                        h->name);
        return r;
}

int host_uncordon_request(Client *c, const Host *h, bool rebalance) {
        _cleanup_free_ char *path = machine_path(c, h->id, rebalance ? "/drain" : "/drain?rebalance=0");
        json_auto_t *answer = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        r = client_call(c, "DELETE", path, NULL, &answer);
        if (r < 0)
                return r;
        return jx_bool(answer, "uncordoned", true);
}
