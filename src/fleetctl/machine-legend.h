/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* How fleet showed a machine next to a unit: "3f2a1b9c.../10.0.0.11", the ID shortened to 8
 * characters unless full, and the machine's IP when /v1/machines knows it. The machine list
 * is fetched once, on first use, and quietly: without it the legend is the ID alone. */

#include <stdbool.h>

#include <jansson.h>

#include "basic/macros.h"
#include "client.h"

typedef struct MachineLegends {
        Client *client;
        json_t *ips;        /* machine ID -> IP; NULL until fetched */
} MachineLegends;

void machine_legends_done(MachineLegends *m);

/* The legend of id in *ret (owned by the caller); NULL for a NULL or empty id. Returns 0 or
 * -ENOMEM. */
int machine_legend(MachineLegends *m, const char *id, bool full, char **ret);
