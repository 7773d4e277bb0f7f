/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Reboot slots: the counting semaphore locks/<group> (LockRecord, registry.h) in etcd, changed
 * only through kv_update() (a txn that compares the key's mod_revision, version 0 to create
 * it), so of N hosts racing for the last slot exactly one wins. Used by the /v1/locks and
 * FleetLock handlers; the engine leader's sweep of expired holders is lock-sweep.h. */

#include "basic/time-util.h"
#include "etcd-client.h"
#include "registry.h"

typedef enum SlotOp {
        SLOT_ACQUIRE,
        SLOT_RELEASE,
        SLOT_SET_MAX,
} SlotOp;

typedef struct SlotChange {
        SlotOp op;
        const char *group;
        const char *id;               /* ACQUIRE, RELEASE: the holder */
        const char *machine;          /* ACQUIRE: the machine id it maps to; NULL if none */
        const char *by;               /* ACQUIRE: who asked, for people; may be NULL */
        unsigned max;                 /* SET_MAX: 1..LOCK_MAX_LIMIT */
        usec_t timeout;               /* ACQUIRE (first): drop holders older than this; 0: none */
} SlotChange;

typedef struct SlotOutcome {
        const char *id;               /* the change's holder (NULL for SET_MAX) */
        int result;                   /* ACQUIRE: 0 took a slot, 1 held one already (nothing
                                       * changed for it), -EBUSY every slot is held by others;
                                       * RELEASE: 1 freed, 0 held none; SET_MAX: 0 */
        const LockRecord *record;     /* the group as it is now */
        const LockHolder *released;   /* RELEASE: the holder that went; NULL if none */
        char **expired;               /* ACQUIRE: the holders dropped as expired (each one
                                       * logged once written) */
        bool written;                 /* the key was written */
} SlotOutcome;

/* error 0 and the outcome (valid during the call); -EAGAIN when the group kept changing
 * (every attempt lost its compare); -EBADMSG when locks/<group> holds something that is not
 * a lock record (nothing is written over it); etcd's errors. */
typedef void (*slot_done_t)(int error, const SlotOutcome *o, void *userdata);

/* Reads locks/<group> under prefix, applies the change (lock_record_expire(), _acquire(),
 * _release() or a new max) and writes it back if
 * it changed. The strings of change are copied.
 * Returns 0 (done comes later, once) or a negative errno (done never comes). */
int reboot_slot_change(EtcdClient *c, const char *prefix, const SlotChange *change, slot_done_t done,
                       void *userdata);
