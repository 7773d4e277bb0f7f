/* SPDX-License-Identifier: Apache-2.0 */
/* fleetctl routes [APP]: where the healthy instances of apps are published (routes/<app>/<unit>,
 * written by the agents; fleet-router renders them into nginx). */
#include <stdio.h>

#include "fleetctl.h"
#include "registry.h"
#include "table.h"
#include "unit-args.h"

static void routes_free(RouteRecord *l, size_t n) {
        for (size_t i = 0; i < n; i++)
                route_record_done(&l[i]);
        free(l);
}

static int cmp_route(const void *a, const void *b) {
        const RouteRecord *x = a, *y = b;
        int r = strcmp(x->app, y->app);
        return r ?: strcmp(x->unit, y->unit);
}

/* The route records of the answer (registry.h's codec: the API sends them as agents wrote
 * them); anything else in the list is left out. */
static int routes_read(const json_t *routes, RouteRecord **ret, size_t *ret_n) {
        RouteRecord *l = calloc(json_array_size(routes) + 1, sizeof(RouteRecord));
        size_t n = 0;
        int r;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(routes); i++) {
                r = route_record_from_json(json_array_get(routes, i), &l[n], NULL);
                if (r == -ENOMEM) {
                        routes_free(l, n);
                        return r;
                }
                if (r >= 0)
                        n++;
        }
        qsort(l, n, sizeof(RouteRecord), cmp_route);
        *ret = l;
        *ret_n = n;
        return 0;
}

static int routes_table(const RouteRecord *l, size_t n) {
        _cleanup_(table_freep) Table *t = NULL;
        int r;

        r = table_new(&t, "APP", "UNIT", "ADDRESS", "RELEASE", "PROCESS");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char addr[128], rel[32];
                snprintf(addr, sizeof(addr), "%s:%u", l[i].host, (unsigned) l[i].port);
                snprintf(rel, sizeof(rel), "v%u", l[i].release);
                r = table_add_row(t, l[i].app, l[i].unit, addr, rel, l[i].process);
        }
        if (r < 0)
                return r;
        return table_print(t, stdout);
}

int verb_routes(Client *c, int argc, char **argv) {
        _cleanup_free_ char *path = NULL, *app = NULL;
        json_auto_t *answer = NULL;
        RouteRecord *l = NULL;
        json_t *routes;
        size_t n;
        int r;

        if (argc > 0) {
                app = client_escape(c, argv[0]);
                if (!app)
                        return -ENOMEM;
        }
        if (asprintf(&path, "/v1/routes%s%s", app ? "?app=" : "", strempty(app)) < 0)
                return -ENOMEM;
        r = api_get_list(c, path, "routes", &answer, &routes);
        if (r < 0)
                return r;
        if (arg_json)
                return print_json(routes);

        r = routes_read(routes, &l, &n);
        if (r < 0)
                return r;
        r = routes_table(l, n);
        routes_free(l, n);
        return r;
}
