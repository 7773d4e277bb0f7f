/* SPDX-License-Identifier: Apache-2.0 */
/* The reboot-slot semaphore locks/<group> in etcd (reboot-slots.h). */
#include "basic/json-util.h"
#include "basic/strv.h"
#include "kv-update.h"
#include "log.h"
#include "reboot-slots.h"

typedef struct SlotContext {
        SlotOp op;
        char *group, *id, *machine, *by;
        unsigned max;
        usec_t timeout;
        /* what the last decide() made of the record it read */
        LockRecord record;
        LockHolder released;
        bool has_released;
        char **expired;
        int result;
        slot_done_t done;
        void *userdata;
} SlotContext;

static void slot_context_reset(SlotContext *x) {
        lock_record_done(&x->record);
        free(x->released.id);
        free(x->released.by);
        x->released = (LockHolder) {};
        x->has_released = false;
        x->expired = strv_free(x->expired);
        x->result = 0;
}

static SlotContext *slot_context_free(SlotContext *x) {
        if (!x)
                return NULL;
        slot_context_reset(x);
        free(x->group);
        free(x->id);
        free(x->machine);
        free(x->by);
        free(x);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(SlotContext *, slot_context_free);

/* The record at the key (NULL: none) into x->record. */
static int slot_read(SlotContext *x, const char *value) {
        json_auto_t *j = NULL;

        if (!value)
                return lock_record_new_default(x->group, &x->record);
        j = json_loads(value, 0, NULL);
        if (lock_record_from_json(j, &x->record) < 0 || !streq(x->record.group, x->group))
                return -EBADMSG;
        return 0;
}

static int slot_remember_release(SlotContext *x) {
        const LockHolder *h = lock_record_find(&x->record, x->id);

        if (!h)
                return 0;
        x->released = (LockHolder) { .id = strdup(h->id), .by = h->by ? strdup(h->by) : NULL,
                                     .since_usec = h->since_usec };
        memcpy(x->released.machine, h->machine, sizeof(h->machine));
        x->has_released = true;
        return x->released.id && (!h->by || x->released.by) ? 0 : -ENOMEM;
}

/* Applies the change to x->record: 1 if it changed, 0 if not. */
static int slot_apply(SlotContext *x) {
        int r, n;

        switch (x->op) {
        case SLOT_ACQUIRE:
                n = lock_record_expire(&x->record, now_usec(CLOCK_REALTIME), x->timeout, &x->expired);
                if (n < 0)
                        return n;
                r = lock_record_acquire(&x->record, x->id, x->machine, x->by, now_usec(CLOCK_REALTIME));
                if (r < 0 && r != -EBUSY)
                        return r;
                x->result = r;
                return r == 0 || n > 0;
        case SLOT_RELEASE:
                r = slot_remember_release(x);
                if (r < 0)
                        return r;
                x->result = lock_record_release(&x->record, x->id);
                return x->result;
        case SLOT_SET_MAX:
                r = x->record.max != x->max;
                x->record.max = x->max;
                return r;
        }
        return -EINVAL;
}

static int slot_decide(const char *value, char **ret_value, void *userdata) {
        SlotContext *x = userdata;
        json_auto_t *j = NULL;
        int r;

        slot_context_reset(x);
        r = slot_read(x, value);
        if (r < 0)
                return r;
        r = slot_apply(x);
        if (r <= 0)
                return r;
        j = lock_record_to_json(&x->record);
        *ret_value = j ? jx_dumps(j) : NULL;
        return *ret_value ? KV_PUT : -ENOMEM;
}

static void slot_log_expired(const SlotContext *x) {
        char buf[32];

        STRV_FOREACH(id, x->expired)
                log_notice("Reboot slot of %s in group %s freed: held longer than reboot_slot_timeout (%s).", *id,
                           x->group, format_duration(buf, sizeof(buf), x->timeout));
}

static void on_slot_done(int error, KvDecision decision, int64_t revision, void *userdata) {
        _cleanup_(slot_context_freep) SlotContext *x = userdata;
        SlotOutcome o = {
                .id = x->id,
                .result = x->result,
                .record = &x->record,
                .released = x->has_released && x->result > 0 ? &x->released : NULL,
                .expired = x->expired,
                .written = decision != KV_KEEP,
        };

        if (error >= 0 && o.written)
                slot_log_expired(x);
        x->done(error, error < 0 ? NULL : &o, x->userdata);
}

static int slot_context_new(const SlotChange *change, slot_done_t done, void *userdata, SlotContext **ret) {
        _cleanup_(slot_context_freep) SlotContext *x = calloc(1, sizeof(SlotContext));

        if (!x)
                return -ENOMEM;
        x->op = change->op;
        x->max = change->max;
        x->timeout = change->timeout;
        x->done = done;
        x->userdata = userdata;
        x->group = strdup(change->group);
        x->id = change->id ? strdup(change->id) : NULL;
        x->machine = change->machine ? strdup(change->machine) : NULL;
        x->by = change->by ? strdup(change->by) : NULL;
        if (!x->group || (change->id && !x->id) || (change->machine && !x->machine) || (change->by && !x->by))
                return -ENOMEM;
        *ret = TAKE_PTR(x);
        return 0;
}

int reboot_slot_change(EtcdClient *c, const char *prefix, const SlotChange *change, slot_done_t done,
                       void *userdata) {
        _cleanup_(slot_context_freep) SlotContext *x = NULL;
        _cleanup_free_ char *key = NULL;
        int r;

        if (!lock_group_is_valid(change->group) ||
            ((change->op == SLOT_ACQUIRE || change->op == SLOT_RELEASE) && !change->id))
                return -EINVAL;
        r = slot_context_new(change, done, userdata, &x);
        if (r < 0)
                return r;
        key = registry_key(prefix, "locks", change->group, NULL);
        if (!key)
                return -ENOMEM;
        KvUpdateArgs args = { .key = key, .decide = slot_decide, .done = on_slot_done, .userdata = x };
        r = kv_update(c, &args);
        if (r < 0)
                return r;
        TAKE_PTR(x);
        return 0;
}
