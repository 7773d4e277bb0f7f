/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The nginx configuration for a set of routes. PURE: values in, text out; the same routes in
 * any order give the same text, byte for byte, so the caller can tell a change from a
 * no-op by comparing texts.
 *
 * The text is a complete nginx.conf (nginx runs with -c <it>):
 *   - for each app with at least one valid "web" route: an upstream fleet-app-<app> with one
 *     "server host:port" per distinct address (sorted), and a server for <app>.<domain>
 *     that proxies to it, tries the next instance on connection errors, timeouts, 502 and
 *     503, and answers 503 itself when no instance can be reached;
 *   - a default server answering 404 for any other host (apps without routes included).
 * Nothing from a route reaches the text unless route_is_valid() holds for it; invalid routes
 * and routes of other processes are skipped (the caller logs them when it parses them). */

#include <stddef.h>

#include "basic/time-util.h"
#include "route.h"

typedef struct RenderOptions {
        const char *domain;           /* "fleet.local": app hello is hello.fleet.local */
        const char *listen;           /* nginx's listen address: "80", "127.0.0.1:8080", "[::]:80" */
        const char *pid_file;         /* nginx's pid file */
        const char *temp_dir;         /* NULL: nginx's built-in temp paths; else <dir>/{client_body,proxy} */
        const char *access_log;       /* NULL: off; else a path */
        usec_t connect_timeout;       /* proxy_connect_timeout; 0: 1s */
        const char *source;           /* named in the header comment, e.g. "/fleetd/routes/" */
} RenderOptions;

/* The characters render_path_is_safe() allows: paths reach the config unquoted. */
#define RENDER_PATH_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-+@,="

/* Whether a path can be written into the config as is: absolute, made of RENDER_PATH_CHARS,
 * at most 1024 bytes. */
bool render_path_is_safe(const char *s);
/* Whether s is a DNS domain in lower case: labels of [a-z0-9-] (not starting or ending with
 * '-'), 1-63 bytes each, joined by '.', at most 200 bytes in all (so that <app>.<domain> stays
 * a valid host name). */
bool render_domain_is_valid(const char *s);
/* Whether s is a listen address render() accepts: a port (1-65535), IPv4:port, [IPv6]:port,
 * or *:port. */
bool render_listen_is_valid(const char *s);

/* Statistics of one render, for logs and status. */
typedef struct RenderStats {
        size_t n_apps;                /* apps with a server block */
        size_t n_servers;             /* upstream servers in all */
        size_t n_skipped;             /* routes not rendered: invalid or not "web" */
} RenderStats;

/* Renders routes[0..n) (in any order; NULL entries are skipped) with the options.
 * Returns 0 with *ret (allocated text) and *ret_stats (optional); -EINVAL if an option is
 * invalid (domain, listen, paths, per the checks above); -ENOMEM. */
int render(const Route * const *routes, size_t n, const RenderOptions *o, char **ret, RenderStats *ret_stats);
