/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Route records: what an agent publishes at <prefix>routes/<app>/<unit> while an app instance
 * is active and healthy (bound to its machine's lease), e.g.
 *   {"app": "hello", "unit": "hello_v3.web@4.service", "host": "10.233.1.12", "port": 20001,
 *    "release": 3, "process": "web", "machine": "<machine-id>"}
 * PURE: parsing and checking only; no I/O, no logging.
 *
 * A record becomes part of the nginx config only through route_parse(), which accepts nothing
 * that could change the config's syntax: app names are [a-z][a-z0-9-]* (release.h's rule),
 * hosts are IP addresses (kept in their canonical text form), ports 1-65535, units valid
 * systemd unit names. */

#include <stdbool.h>
#include <stdint.h>

#include "basic/macros.h"

/* Only instances of this process type are routed (Heroku's rule: "web" gets HTTP traffic). */
#define ROUTE_PROCESS_WEB "web"

/* A record's value is a few hundred bytes; anything past this is not what an agent writes. */
#define ROUTE_VALUE_MAX 4096

typedef struct Route {
        char *app;
        char *unit;
        char *process;
        char *host;                   /* canonical: inet_ntop() of the parsed address */
        int family;                   /* AF_INET or AF_INET6 */
        uint8_t addr[16];             /* the address in network order (4 bytes used for IPv4) */
        uint16_t port;
        int64_t release;              /* -1: not given */
        char *machine;                /* NULL: not given */
} Route;

void route_done(Route *r);
/* route_done() and free(); NULL is fine. Returns NULL. */
Route *route_free(Route *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Route *, route_free);

/* Parses the record stored under routes/<name>, where name is "<app>/<unit>" (the key
 * without "<prefix>routes/"), with value its JSON text. The record's "app" and "unit", when
 * given, must match the key's; "process" may be left out when the unit is an app instance
 * name (<app>_v<N>.<process>@<i>.service), which names it. Unknown fields are ignored, so
 * agents may add some.
 * Returns 0 and *ret (to be released with route_done()), -EINVAL with *ret_error (optional,
 * allocated, one line, for the log) saying what is wrong, or -ENOMEM. */
int route_parse(const char *name, const char *value, Route *ret, char **ret_error);

/* Whether the route is one the router serves (its process is "web"). */
bool route_is_routed(const Route *r);

/* Whether every field of r obeys route_parse()'s rules (for routes built by other means; the
 * renderer checks again before writing anything). */
bool route_is_valid(const Route *r);

/* Orders routes by app, then address (IPv4 before IPv6, numerically), then port, then unit:
 * the order of the rendered config. For qsort() over an array of const Route *. */
int route_compare_ptr(const void *a, const void *b);
