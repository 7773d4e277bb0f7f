/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* fleet-router's state and logic: the routes/ records read from etcd (one range, then a watch
 * from the range's revision + 1), kept in memory; after each burst of changes (batch_delay,
 * timed to the millisecond) the nginx config is rendered (render.h) and handed to the reloader
 * (reloader.h), which installs and reloads only what changed.
 *
 * Start-up: the first config is written once the routes are read, or after a few seconds
 * without etcd (then with no routes, or the file of the previous run is kept), and READY=1 is
 * sent to systemd only after that, so that nginx started After= this unit finds its config. */

#include "basic/macros.h"
#include "router-config.h"

typedef struct Router Router;

/* Sets up the event loop (daemon_event_new(): SIGTERM and SIGINT end it, SIGCHLD is blocked
 * for the reloader's children, the watchdog is served when systemd asks for one), the etcd
 * client and the reloader. Takes over config, also on failure. Call it before any thread
 * exists. Logs its errors. */
int router_new(RouterConfig *config, Router **ret);
Router *router_free(Router *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Router *, router_free);

/* Runs until SIGTERM or SIGINT. Returns 0, or a negative errno (logged) if it could not run. */
int router_run(Router *r);
