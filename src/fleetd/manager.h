/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The daemon's state: its config, this machine, the etcd client, presence and the API
 * server, all on one sd-event loop. fleetd.c only parses the command line and runs it. */

#include <systemd/sd-event.h>

#include "agent.h"
#include "api-server.h"
#include "fleetd-config.h"
#include "engine.h"
#include "etcd-client.h"
#include "event-log.h"
#include "list-cache.h"
#include "machine.h"
#include "registry.h"

typedef struct Manager {
        sd_event *event;
        Config *config;
        MachineRecord self;
        EtcdClient *etcd;
        Presence *presence;
        Agent *agent;
        Engine *engine;
        ApiServer *api;
        ListCache *list_cache;        /* what GET /v1/units and /v1/state answer from; idle until used */
        EventLog *events;             /* events/: the default log of event_emit() */
} Manager;

/* Takes ownership of config. Reads the machine id, works out this machine's record and sets
 * up the loop (SIGTERM/SIGINT end it, the watchdog is served when WatchdogSec= is set). */
int manager_new(Config *config, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Opens the API socket, starts registering in etcd, the agent (this host's share of the
 * schedule) and the engine (leader election, scheduling), tells systemd READY=1 and runs the loop
 * until a signal ends it. Returns 0 on a clean exit. */
int manager_run(Manager *m);

/* The API's routes (manager-api.c). */
extern const ApiRoute manager_api_routes[];

/* The checks every submitted unit passes, through fleetd's API (PUT /v1/units/<name>) and
 * fleet's (PUT /fleet/v1/units/<name>, api-fleet.c), so both refuse the same units. Each
 * returns 0, or a negative errno with *ret_message (owned by the caller; NULL on -ENOMEM)
 * saying what is wrong. */
/* systemd's unit name rules, and a type fleet places (unit-name.h). */
int manager_check_unit_name(const char *name, char **ret_message);
/* len bytes of text are a unit file fleetd accepts ("name:line:column: what", *ret_code
 * "bad_unit_file") whose [X-Fleet] options pass fleet's checks for the unit called name (every
 * error with its line, "; " between them, *ret_code "bad_unit_options"; unit-options.h). On
 * success *ret_warnings (when not NULL) gets the options' warnings, a strv (maybe NULL). */
int manager_check_unit_contents(const char *name, const char *text, size_t len, const char **ret_code,
                                char **ret_message, char ***ret_warnings);
/* desired (negative: not given) is possible for name: a template cannot be loaded or launched. */
int manager_check_unit_desired(const char *name, UnitDesiredState desired, char **ret_message);
