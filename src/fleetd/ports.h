/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Host ports for units that serve one. A unit whose [X-Fleetd] section has Port=<n> (the port
 * the process would use alone; informational) runs with a free TCP port of this host that the
 * agent picks and writes to <ports dir>/<unit>.env as "PORT=<n>\n" before it starts the unit;
 * the unit reads it with EnvironmentFile=/run/fleetd/ports/%n.env.
 *
 * A unit keeps its port for as long as its unit file is on this host (stops, restarts and
 * fleetd restarts included: the agent reads the files back when it starts); the port is freed
 * when the unit is removed. Whether a port is bindable is checked only when it is picked.
 *
 * ports_pick(), ports_parse_env() and ports_from_unit_file() are PURE. The file functions and
 * ports_tcp_bindable() do the I/O for the agent; none of them logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unit-file.h"

/* The section of fleetd's own unit settings (Port=, Health*=). */
#define FLEETD_SECTION "X-Fleetd"

/* The range host ports are picked from, both ends included. */
#define PORTS_RANGE_FIRST 20000
#define PORTS_RANGE_LAST  29999

/* Whether port can be used now (ports_tcp_bindable() on a real host; a table in tests). */
typedef bool (*ports_probe_t)(uint16_t port, void *userdata);

/* The first port p of first..last, searched from start on and wrapping around to first, that
 * is not among used[0..n_used) and for which bindable(p, userdata) is true; bindable is only
 * asked about ports not in used. start outside the range means first. Returns 0 and *ret,
 * -EINVAL if first is 0 or first > last, -EADDRNOTAVAIL if no port qualifies. */
int ports_pick(const uint16_t *used, size_t n_used, uint16_t first, uint16_t last, uint16_t start,
               ports_probe_t bindable, void *userdata, uint16_t *ret);

/* Whether uf asks for a host port: 1 and *ret_port = its Port= (1..65535), 0 if there is no
 * Port= (or an empty one) in [X-Fleetd], -EINVAL if Port= is not such a number. */
int ports_from_unit_file(const UnitFile *uf, uint16_t *ret_port);

/* The port in the text of a .env file this module wrote ("PORT=<n>", a final newline
 * optional). Returns 0, or -EBADMSG for anything else. */
int ports_parse_env(const char *text, uint16_t *ret);

/* bind() of a TCP socket to 0.0.0.0:port with SO_REUSEADDR (so that connections of an earlier
 * user in TIME_WAIT do not count), closed again at once. False if the port is taken by a
 * listener or the socket cannot be made. userdata is unused. */
bool ports_tcp_bindable(uint16_t port, void *userdata);

/* Writes "PORT=<port>\n" to <dir>/<unit>.env atomically (temporary file + rename), creating dir
 * if needed. Returns 0 or a negative errno. */
int ports_write_file(const char *dir, const char *unit, uint16_t port);
/* Reads <dir>/<unit>.env back: 0 and *ret, -ENOENT if there is none, -EBADMSG if it does not
 * hold what ports_write_file() writes, or another negative errno. */
int ports_read_file(const char *dir, const char *unit, uint16_t *ret);
/* Deletes <dir>/<unit>.env; 0 also when it did not exist. */
int ports_remove_file(const char *dir, const char *unit);
/* The units that have a .env file in dir (names without ".env"; temporary files skipped), as a
 * NULL-terminated list owned by the caller; empty when dir does not exist. */
int ports_list_files(const char *dir, char ***ret);
