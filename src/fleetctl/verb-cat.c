/* SPDX-License-Identifier: Apache-2.0 */
/* cat UNIT: the unit file as the cluster has it, byte for byte (no newline added). */
#include <stdio.h>

#include "fleetctl.h"
#include "unit-args.h"

int verb_cat(Client *c, int argc, char **argv) {
        _cleanup_free_ char *name = unit_name_mangle(argv[0]), *path = NULL;
        json_auto_t *unit = NULL;
        json_t *contents;
        int r;

        if (!name || !(path = unit_path(c, name, "")))
                return -ENOMEM;
        r = client_call(c, "GET", path, NULL, &unit);
        if (r < 0)
                return r;
        if (arg_json)
                return print_json(unit);
        contents = json_object_get(unit, "contents");
        if (!json_is_string(contents)) {
                fprintf(stderr, "fleetctl: fleetd at %s sent unit %s without its contents.\n", client_endpoint(c),
                        name);
                return -EBADMSG;
        }
        if (fwrite(json_string_value(contents), 1, json_string_length(contents), stdout) !=
                    json_string_length(contents) ||
            fflush(stdout) != 0)
                return -EIO;
        return 0;
}
