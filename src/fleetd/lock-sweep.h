/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The engine leader's sweep of reboot slots (docs/design.md, "Rolling host upgrades"). A slot
 * of locks/<group> is not bound to a lease, so a host that takes one and never comes back
 * would hold it forever: every interval (a quarter of the timeout, between 5 s and 60 s) the
 * leader reads locks/ and frees the slots held longer than reboot_slot_timeout
 * (lock_record_expire()), all groups in one txn that compares each changed group's
 * mod_revision and the leader key (fencing), and logs each release once etcd took it. A sweep
 * that loses a race (the API changed a group meanwhile) leaves the work to the next one. Only
 * the leader runs one. */

#include "etcd-client.h"

typedef struct LockSweep LockSweep;

typedef struct LockSweepOptions {
        const char *prefix;
        const char *leader_key;       /* the fence: its value and lease */
        const char *machine_id;
        int64_t lease;
        usec_t timeout;               /* reboot_slot_timeout */
        usec_t interval;              /* 0: a quarter of the timeout, 5 s to 60 s (tests use less) */
} LockSweepOptions;

/* Starts sweeping (the first sweep comes after one interval). 0 or a negative errno. */
int lock_sweep_new(sd_event *e, EtcdClient *etcd, const LockSweepOptions *o, LockSweep **ret);
LockSweep *lock_sweep_free(LockSweep *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(LockSweep *, lock_sweep_free);
