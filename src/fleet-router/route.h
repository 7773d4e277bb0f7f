/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Route records: what an agent publishes at <prefix>routes/<app>/<unit> while an app instance
 * is active and healthy (bound to its machine's lease), e.g.
 *   {"app": "hello", "unit": "hello_v3.web@4.service", "host": "10.233.1.12", "port": 20001,
 *    "release": 3, "process": "web", "machine": "<machine-id>"}
 * PURE: parsing and checking only; no I/O, no logging.
 *
 * The record is shared/registry.h's RouteRecord, read with its codec (route_record_parse()), so
 * the router takes exactly what fleetd writes. Nothing in it can change the config's syntax: app
 * names are [a-z][a-z0-9-]* (release.h's rule), units instance names of that app, hosts IP
 * addresses (kept here in their canonical text form), ports 1-65535. */

#include <stdbool.h>
#include <stdint.h>

#include "basic/macros.h"
#include "registry.h"

/* Only instances of this process type are routed (Heroku's rule: "web" gets HTTP traffic). */
#define ROUTE_PROCESS_WEB "web"

typedef struct Route {
        RouteRecord record;           /* record.host: canonical, inet_ntop() of the parsed address */
        int family;                   /* AF_INET or AF_INET6 */
        uint8_t addr[16];             /* the address in network order (4 bytes used for IPv4) */
} Route;

void route_done(Route *r);
/* route_done() and free(); NULL is fine. Returns NULL. */
Route *route_free(Route *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Route *, route_free);

/* Parses the record stored under routes/<name>, where name is "<app>/<unit>" (the key
 * without "<prefix>routes/"), with value its JSON text: route_record_parse()'s rules.
 * Returns 0 and *ret (to be released with route_done()), -EINVAL with *ret_error (optional,
 * allocated, one line, for the log) saying what is wrong, or -ENOMEM. */
int route_parse(const char *name, const char *value, Route *ret, char **ret_error);

/* Whether the route is one the router serves (its process is "web"). */
bool route_is_routed(const Route *r);

/* Whether r obeys route_parse()'s rules, its host the canonical text of its address (for routes
 * built by other means; the renderer checks again before writing anything). */
bool route_is_valid(const Route *r);

/* Orders routes by app, then address (IPv4 before IPv6, numerically), then port, then unit:
 * the order of the rendered config. For qsort() over an array of const Route *. */
int route_compare_ptr(const void *a, const void *b);
