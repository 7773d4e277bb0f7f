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
 * result is published as "health". Units without a check cost no timer and no wake-up. */

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
} AgentOptions;

int agent_new(sd_event *e, EtcdClient *etcd, Presence *presence, const AgentOptions *options, Agent **ret);
Agent *agent_free(Agent *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(Agent *, agent_free);

/* Tells the agent the machine lease changed (registered again after a loss): every state key
 * is written again with the new lease. */
void agent_lease_changed(Agent *a);

/* The systemd backend, for the API's status call. */
SystemdBackend *agent_backend(Agent *a);
