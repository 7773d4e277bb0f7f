/* SPDX-License-Identifier: Apache-2.0 */
/* destroy UNIT|GLOB...: removes units from the cluster; their machines stop them and delete
 * their files. Globs match templates too: "destroy 'web@*'" leaves nothing of web behind. */
#include <stdio.h>

#include "basic/json-util.h"
#include "fleetctl.h"
#include "unit-args.h"

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
                if (r >= 0) {
                        printf("Destroyed %s\n", name);
                        fflush(stdout);
                }
        }
        return failure;
}
