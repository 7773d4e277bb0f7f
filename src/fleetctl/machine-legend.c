/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "basic/json-util.h"
#include "machine-legend.h"

void machine_legends_done(MachineLegends *m) {
        json_decref(m->ips);
        m->ips = NULL;
}

static int machine_legends_fetch(MachineLegends *m) {
        json_auto_t *answer = NULL;
        json_t *machine;
        size_t i;

        m->ips = json_object();
        if (!m->ips)
                return -ENOMEM;
        /* Best effort: a table without IPs beats no table. */
        if (client_call_full(m->client, "GET", "/v1/machines", NULL, CLIENT_QUIET, NULL, &answer) < 0)
                return 0;
        json_array_foreach(json_object_get(answer, "machines"), i, machine) {
                const char *id = jx_str(machine, "id"), *ip = jx_str(machine, "ip");

                if (id && !isempty(ip) && json_object_set_new(m->ips, id, json_string(ip)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int machine_legend(MachineLegends *m, const char *id, bool full, char **ret) {
        const char *ip;
        int r;

        *ret = NULL;
        if (isempty(id))
                return 0;
        if (!m->ips) {
                r = machine_legends_fetch(m);
                if (r < 0)
                        return r;
        }
        ip = json_string_value(json_object_get(m->ips, id));
        if (asprintf(ret, "%.*s%s%s%s", full ? (int) strlen(id) : 8, id, !full && strlen(id) > 8 ? "..." : "",
                     ip ? "/" : "", strempty(ip)) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}
