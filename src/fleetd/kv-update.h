/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* One etcd key changed by read, decide, write: the write is a txn that holds only while the
 * key is as it was read (the same mod_revision; version 0 when it was absent), so of two
 * writers that read the same value exactly one wins. The loser's txn reads the key in its
 * failure branch, so it decides again on the new value without another round trip, up to a
 * number of attempts. Used for drain/<id> and locks/<group> (docs/design.md). */

#include "etcd-client.h"

#define KV_UPDATE_ATTEMPTS 5u

typedef enum KvDecision {
        KV_KEEP,                      /* write nothing */
        KV_PUT,
        KV_DELETE,
} KvDecision;

/* Decides what to write from the key's value (NULL: no key), valid during the call: returns
 * KV_PUT with *ret_value (allocated; taken), KV_DELETE, KV_KEEP, or a negative errno (nothing
 * is written; the error goes to done). Called once per attempt, each time on the value just
 * read: whatever it keeps in userdata must be replaced, not added to. */
typedef int (*kv_decide_t)(const char *value, char **ret_value, void *userdata);

/* The end: error 0 with the decision carried out (revision: the write's, or the read's for
 * KV_KEEP); -EAGAIN when every attempt lost its compare; etcd's errors (etcd-client.h);
 * decide()'s error. */
typedef void (*kv_update_done_t)(int error, KvDecision decision, int64_t revision, void *userdata);

typedef struct KvUpdateArgs {
        const char *key;
        const EtcdOp *also;           /* written in the same txn as the key, only when it is
                                       * written (PUT or DELETE ops; copied) */
        size_t n_also;
        unsigned attempts;            /* 0: KV_UPDATE_ATTEMPTS */
        kv_decide_t decide;
        kv_update_done_t done;
        void *userdata;
} KvUpdateArgs;

/* Starts the update. Returns 0 (done will be called once, from the loop) or a negative errno
 * (done is never called). */
int kv_update(EtcdClient *c, const KvUpdateArgs *args);
