/* SPDX-License-Identifier: Apache-2.0 */
/* destroy UNIT|GLOB...: removes units from the cluster; their machines stop them and delete
 * their files. Globs match templates too: "destroy 'web@*'" leaves nothing of web behind.
 * Apps have their own verb (apps destroy APP); "destroy hello" still means hello.service, as
 * in fleet, but when there is no such unit and hello is an app, the user is told so. */
#include <stdio.h>

#include "app-wait.h"
#include "basic/json-util.h"
#include "basic/strv.h"
#include "fleetctl.h"
#include "unit-args.h"

/* name (hello.service) came from an argument without a type (hello) and names no unit: if
 * an app has that name, says how to destroy it. */
static int hint_app(Client *c, char **args, const char *name) {
        _cleanup_free_ char *app = NULL, *path = NULL;
        const char *suffix = strrchr(name, '.');

        if (!suffix || !streq(suffix, ".service"))
                return 0;
        app = strndup(name, (size_t) (suffix - name));
        if (!app)
                return -ENOMEM;
        if (!strv_contains(args, app) || strpbrk(app, "@.\\"))
                return 0;
        path = app_path(c, app, "");
        if (!path)
                return -ENOMEM;
        if (client_call_full(c, "GET", path, NULL, CLIENT_QUIET, NULL, NULL) < 0)
                return 0;
        fprintf(stderr, "fleetctl: %s is an app; destroy it with 'fleetctl apps destroy %s'.\n", app, app);
        return 0;
}

int verb_destroy(Client *c, int argc, char **argv) {
        json_auto_t *units = NULL;
        int r, failure = 0;
        json_t *u;
        size_t i;

        r = units_resolve(c, argv, RESOLVE_TEMPLATES, &units, &failure);
        if (r < 0)
                return r;
        json_array_foreach(units, i, u) {
                const char *name = jx_str(u, "name");
                _cleanup_free_ char *path = unit_path(c, name, "");

                if (!path)
                        return -ENOMEM;
                r = client_call(c, "DELETE", path, NULL, NULL);
                if (error_is_fatal(r))
                        return r;
                failure_merge(&failure, r);
                if (r == -ENOENT && hint_app(c, argv, name) < 0)
                        return -ENOMEM;
                if (r >= 0) {
                        printf("Destroyed %s\n", name);
                        fflush(stdout);
                }
        }
        return failure;
}
