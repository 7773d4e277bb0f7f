/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The agent: applies this host's share of the schedule. It watches only
 * schedule/<machine-id>/ (a change for another host never wakes this one), plans with
 * agent-plan (pure), applies the plan through the systemd backend, and publishes
 * state/<unit> for the units it runs, bound to the machine lease, as systemd reports changes.
 *
 * On start it adopts what is already there: unit files it wrote before (under units_dir)
 * whose hash matches the schedule are left alone, so a fleetd restart restarts no unit.
 *
 * Units with [X-Fleetd] Port= get a free host port (ports.h) written to <ports_dir>/<unit>.env
 * before they start, kept until the unit is removed, and published as "port" in their state;
 * units with a health check (health.h) are checked while systemd says they are active, and the
 * result is published as "health". Units without a check cost no timer and no wake-up.
 *
 * Routes: an app instance (release_parse_instance_name()) with a host port has
 * routes/<app>/<unit> = RouteRecord (registry.h), bound to the machine lease, exactly while
 * systemd says it is active and its health check passes (without a check: while active), as far
 * as etcd can be reached. Routes go through the same coalescing writes as state records (a unit's
 * route and state in one txn). Before a plan stops, restarts or removes a unit that has a route,
 * the route is deleted and the plan waits until etcd acknowledged it (at most route_timeout),
 * then route_drain_delay, then stops the unit. Each route this agent adds or removes is logged
 * and given to the hooks in hooks_dir (hooks.h). */

#include "etcd-client.h"
#include "machine.h"
#include "systemd-backend.h"

typedef struct Agent Agent;

typedef struct AgentOptions {
        const char *prefix;           /* etcd key prefix, ends with '/' */
        const char *machine_id;
        const char *units_dir;        /* /run/fleetd/units */
        const char *link_dir;         /* /run/systemd/system */
        const char *ports_dir;        /* NULL: "ports" next to units_dir (/run/fleetd/ports) */
        usec_t resync_interval;       /* safety-net re-plan; 0: none */
        const char *public_ip;        /* this machine's address in routes; NULL: no routes */
        usec_t route_drain_delay;     /* from a route's removal to the stop of its unit; 0: none */
        usec_t route_timeout;         /* longest wait for etcd to acknowledge removals; 0: 5s */
        const char *hooks_dir;        /* read at each route change; NULL: no hooks */
} AgentOptions;

int agent_new(sd_event *e, EtcdClient *etcd, Presence *presence, const AgentOptions *options, Agent **ret);
Agent *agent_free(Agent *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(Agent *, agent_free);

/* Tells the agent the machine lease changed (registered again after a loss): every state key
 * and route is written again with the new lease. */
void agent_lease_changed(Agent *a);

/* The systemd backend, for the API's status call. */
SystemdBackend *agent_backend(Agent *a);
