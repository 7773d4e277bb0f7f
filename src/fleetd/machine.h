/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* This host: its identity (/etc/machine-id), address, metadata and capacity, and its
 * presence in etcd: machines/<id> bound to a lease of agent_ttl that is kept alive while
 * fleetd runs. When the lease is lost (etcd was away longer than the TTL) presence grants a
 * new one and writes the key again; when etcd cannot be reached it retries with backoff.
 *
 * The lease id is remembered in <state_dir>/lease so that a restarted fleetd adopts its
 * lease while it is still alive: a crash or restart of fleetd does not make the machine
 * vanish from the cluster, so nothing is moved away from it. */

#include "fleetd-config.h"
#include "etcd-client.h"
#include "registry.h"

typedef struct Presence Presence;

/* Reads a machine id (32 lowercase hex digits, one line) from path. -EBADMSG if malformed. */
int machine_id_read(const char *path, char ret[static MACHINE_ID_LEN + 1]);

/* The local address used to reach the host of url (the first etcd endpoint): a UDP socket is
 * connected to it (no packet is sent) and its local address read. Falls back to the first
 * non-loopback IPv4 address of an interface that is up. */
int machine_detect_ip(const char *url, char **ret);

/* Fills in this host's record from the config and the system (hostname, CPU count, memory,
 * boot id, FleetLock id). */
int machine_record_local(const Config *config, const char *machine_id, MachineRecord *ret);

typedef enum PresenceState {
        PRESENCE_CONNECTING,          /* no lease yet, or etcd unreachable */
        PRESENCE_REGISTERED,          /* key written, lease kept alive */
} PresenceState;

/* Starts registering record (copied), on the loop event, under <prefix>machines/<id> with a lease of ttl_sec.
 * on_change, if set, is called whenever the state changes (for sd_notify STATUS=). */
typedef void (*presence_change_t)(Presence *p, PresenceState state, void *userdata);
int presence_new(sd_event *event, EtcdClient *etcd, const char *prefix, const MachineRecord *record, int64_t ttl_sec,
                 const char *state_dir, presence_change_t on_change, void *userdata, Presence **ret);
/* Stops keeping the lease alive. The key stays until the lease expires (or is adopted by the
 * next fleetd on this host). */
Presence *presence_free(Presence *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Presence *, presence_free);

PresenceState presence_state(Presence *p);
int64_t presence_lease(Presence *p);
