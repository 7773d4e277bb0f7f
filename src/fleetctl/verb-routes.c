/* SPDX-License-Identifier: Apache-2.0 */
/* fleetctl routes [APP]: where the healthy instances of apps are published (routes/<app>/<unit>,
 * written by the agents; fleet-router renders them into nginx). */
#include <stdio.h>

#include "basic/json-util.h"
#include "fleetctl.h"
#include "table.h"
#include "unit-args.h"

static int cmp_route(const void *a, const void *b) {
        json_t *x = *(json_t * const *) a, *y = *(json_t * const *) b;
        int r = strcmp(strempty(jx_str(x, "app")), strempty(jx_str(y, "app")));
        return r ?: strcmp(strempty(jx_str(x, "unit")), strempty(jx_str(y, "unit")));
}

int verb_routes(Client *c, int argc, char **argv) {
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_free_ char *path = NULL, *app = NULL;
        _cleanup_free_ json_t **items = NULL;
        json_auto_t *answer = NULL;
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

        n = json_array_size(routes);
        items = calloc(n + 1, sizeof(json_t *));
        if (!items)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                items[i] = json_array_get(routes, i);
        qsort(items, n, sizeof(json_t *), cmp_route);

        r = table_new(&t, "APP", "UNIT", "ADDRESS", "RELEASE", "PROCESS");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char addr[128], rel[32];
                snprintf(addr, sizeof(addr), "%s:%lld", strna(jx_str(items[i], "host")),
                         (long long) jx_int64(items[i], "port", 0));
                snprintf(rel, sizeof(rel), "v%lld", (long long) jx_int64(items[i], "release", 0));
                r = table_add_row(t, strna(jx_str(items[i], "app")), strna(jx_str(items[i], "unit")), addr, rel,
                              strna(jx_str(items[i], "process")));
        }
        if (r < 0)
                return r;
        return table_print(t, stdout);
}
