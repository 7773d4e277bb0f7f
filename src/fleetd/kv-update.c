/* SPDX-License-Identifier: Apache-2.0 */
/* Read, decide, write with a compare, and again on a lost compare (kv-update.h). */
#include <assert.h>

#include "kv-update.h"

typedef struct KvUpdate {
        EtcdClient *client;
        char *key;
        EtcdOp *also;                 /* the args' ops, with copies of their strings */
        size_t n_also;
        unsigned attempts_left;
        KvDecision decision;          /* of the write in flight */
        kv_decide_t decide;
        kv_update_done_t done;
        void *userdata;
} KvUpdate;

static KvUpdate *kv_update_free(KvUpdate *u) {
        if (!u)
                return NULL;
        for (size_t i = 0; i < u->n_also; i++) {
                free((char *) u->also[i].key);
                free((char *) u->also[i].range_end);
                free((char *) u->also[i].value);
        }
        free(u->also);
        free(u->key);
        free(u);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(KvUpdate *, kv_update_free);

static void kv_update_finish(KvUpdate *u, int error, KvDecision decision, int64_t revision) {
        u->done(error, decision, revision, u->userdata);
        kv_update_free(u);
}

static void kv_update_step(KvUpdate *u, const EtcdKv *kv, int64_t revision);

static void on_written(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        KvUpdate *u = userdata;
        const EtcdResult *read;

        if (error < 0)
                return kv_update_finish(u, error, KV_KEEP, 0);
        if (result->succeeded)
                return kv_update_finish(u, 0, u->decision, result->revision);
        if (--u->attempts_left == 0)
                return kv_update_finish(u, -EAGAIN, KV_KEEP, result->revision);
        /* the failure branch read the key as it is now */
        read = result->n_responses > 0 ? &result->responses[0] : NULL;
        kv_update_step(u, read && read->n_kvs > 0 ? &read->kvs[0] : NULL, result->revision);
}

static int kv_update_write(KvUpdate *u, const EtcdKv *kv, KvDecision decision, const char *value) {
        _cleanup_free_ EtcdOp *ops = calloc(u->n_also + 1, sizeof(EtcdOp));
        EtcdCompare cmp = { .key = u->key, .result = ETCD_EQUAL };
        EtcdOp reread = { .type = ETCD_OP_RANGE, .key = u->key };

        if (!ops)
                return -ENOMEM;
        if (kv) {
                cmp.target = ETCD_COMPARE_MOD;
                cmp.number = kv->mod_revision;
        } else
                cmp.target = ETCD_COMPARE_VERSION;     /* number 0: the key does not exist */
        ops[0] = (EtcdOp) { .type = decision == KV_PUT ? ETCD_OP_PUT : ETCD_OP_DELETE, .key = u->key,
                            .value = value };
        memcpy(ops + 1, u->also, u->n_also * sizeof(EtcdOp));
        u->decision = decision;
        EtcdTxn txn = { .compares = &cmp, .n_compares = 1, .success = ops, .n_success = u->n_also + 1,
                        .failure = &reread, .n_failure = 1 };
        return etcd_client_txn(u->client, &txn, on_written, u, NULL);
}

/* Decides on kv (NULL: no key) and writes, or ends. */
static void kv_update_step(KvUpdate *u, const EtcdKv *kv, int64_t revision) {
        _cleanup_free_ char *value = NULL;
        int r;

        r = u->decide(kv ? kv->value : NULL, &value, u->userdata);
        if (r < 0 || r == KV_KEEP)
                return kv_update_finish(u, MIN(r, 0), KV_KEEP, revision);
        if (r == KV_DELETE && !kv)
                return kv_update_finish(u, 0, KV_KEEP, revision);     /* nothing to delete */
        if (r == KV_PUT && !value)
                return kv_update_finish(u, -EINVAL, KV_KEEP, revision);
        r = kv_update_write(u, kv, (KvDecision) r, value);
        if (r < 0)
                kv_update_finish(u, r, KV_KEEP, revision);
}

static void on_read(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        KvUpdate *u = userdata;

        if (error < 0)
                return kv_update_finish(u, error, KV_KEEP, 0);
        kv_update_step(u, result->n_kvs > 0 ? &result->kvs[0] : NULL, result->revision);
}

static int kv_update_copy_also(KvUpdate *u, const EtcdOp *also, size_t n) {
        u->also = calloc(n + 1, sizeof(EtcdOp));
        if (!u->also)
                return -ENOMEM;
        for (; u->n_also < n; u->n_also++) {
                const EtcdOp *o = &also[u->n_also];
                EtcdOp *c = &u->also[u->n_also];

                assert(o->type == ETCD_OP_PUT || o->type == ETCD_OP_DELETE);
                *c = (EtcdOp) { .type = o->type, .lease = o->lease, .key = strdup(o->key),
                                .range_end = o->range_end ? strdup(o->range_end) : NULL,
                                .value = o->value ? strdup(o->value) : NULL };
                if (!c->key || (o->range_end && !c->range_end) || (o->value && !c->value)) {
                        u->n_also++;
                        return -ENOMEM;
                }
        }
        return 0;
}

int kv_update(EtcdClient *c, const KvUpdateArgs *args) {
        _cleanup_(kv_update_freep) KvUpdate *u = NULL;
        int r;

        assert(c && args && args->key && args->decide && args->done);
        u = calloc(1, sizeof(KvUpdate));
        if (!u)
                return -ENOMEM;
        *u = (KvUpdate) { .client = c, .attempts_left = args->attempts ?: KV_UPDATE_ATTEMPTS,
                          .decide = args->decide, .done = args->done, .userdata = args->userdata };
        u->key = strdup(args->key);
        if (!u->key)
                return -ENOMEM;
        r = kv_update_copy_also(u, args->also, args->n_also);
        if (r < 0)
                return r;
        EtcdRangeArgs range = { .key = u->key };
        r = etcd_client_range(c, &range, on_read, u, NULL);
        if (r < 0)
                return r;
        TAKE_PTR(u);
        return 0;
}
