/* SPDX-License-Identifier: Apache-2.0 */
/* Reboot slots in etcd and the /v1/locks handlers (api-locks.h). */
#include <stdio.h>

#include "api-locks.h"
#include "api-upgrade.h"
#include "basic/json-util.h"
#include "basic/strv.h"
#include "kv-update.h"
#include "log.h"
#include "manager.h"

/* ---- the semaphore ---- */

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

        if (!lock_group_is_valid(change->group) || (change->op != SLOT_SET_MAX && !change->id))
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

/* ---- the handlers ---- */

/* Replies for an error of reboot_slot_change(). */
static void reply_slot_error(ApiRequest *req, int error) {
        const char *group = api_request_arg(req, 0);

        if (error == -EAGAIN)
                api_request_reply_error(req, 503, "conflict",
                                        "Reboot slots of group %s kept changing under this request; try again.", group);
        else if (error == -EBADMSG)
                api_request_reply_error(req, 500, "internal",
                                        "locks/%s in etcd is not a lock record; nothing was written over it.", group);
        else if (error == -ENOMEM)
                api_request_reply_error(req, 500, "internal", "Out of memory.");
        else
                api_request_reply_etcd_error(req, error);
}

/* The group argument; replies 400 and returns NULL if it is not a group name. */
static const char *group_arg(ApiRequest *req) {
        const char *group = api_request_arg(req, 0);

        if (lock_group_is_valid(group))
                return group;
        api_request_reply_error(req, 400, "bad_request",
                                "Invalid group '%s': expected 1 to %d of a-z A-Z 0-9 . - (FleetLock's rule).", group,
                                LOCK_GROUP_MAX_LEN);
        return NULL;
}

static void on_locks(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        ApiRequest *req = userdata;
        json_auto_t *list = json_array(), *body = NULL;

        if (error < 0)
                return (void) api_request_reply_etcd_error(req, error);
        for (size_t i = 0; list && i < result->n_kvs; i++) {
                _cleanup_(lock_record_done) LockRecord l = {};
                json_auto_t *j = json_loads(result->kvs[i].value, 0, NULL);

                if (lock_record_from_json(j, &l) < 0) {
                        log_warning("Ignoring malformed lock record at %s.", result->kvs[i].key);
                        continue;
                }
                if (json_array_append_new(list, lock_record_to_json(&l)) < 0)
                        json_decref(TAKE_PTR(list));
        }
        body = list ? json_pack("{s:O}", "locks", list) : NULL;
        api_upgrade_reply(req, 200, body);
}

int api_locks_list(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        _cleanup_free_ char *key = registry_key(m->config->etcd_key_prefix, "locks/", NULL);
        _cleanup_free_ char *end = key ? etcd_prefix_end(key) : NULL;

        if (!end)
                return -ENOMEM;
        EtcdRangeArgs args = { .key = key, .range_end = end };
        return etcd_client_range(m->etcd, &args, on_locks, req, NULL);
}

static void on_lock(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        ApiRequest *req = userdata;
        _cleanup_(lock_record_done) LockRecord l = {};
        json_auto_t *j = NULL;
        int r;

        if (error < 0)
                return (void) api_request_reply_etcd_error(req, error);
        if (result->n_kvs == 0)
                r = lock_record_new_default(api_request_arg(req, 0), &l);
        else {
                j = json_loads(result->kvs[0].value, 0, NULL);
                r = lock_record_from_json(j, &l);
        }
        if (r < 0)
                return reply_slot_error(req, r == -ENOMEM ? r : -EBADMSG);
        json_auto_t *body = lock_record_to_json(&l);
        api_upgrade_reply(req, 200, body);
}

int api_locks_get(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        const char *group = group_arg(req);
        _cleanup_free_ char *key = NULL;

        if (!group)
                return 0;
        key = registry_key(m->config->etcd_key_prefix, "locks", group, NULL);
        if (!key)
                return -ENOMEM;
        EtcdRangeArgs args = { .key = key };
        return etcd_client_range(m->etcd, &args, on_lock, req, NULL);
}

static void on_max_set(int error, const SlotOutcome *o, void *userdata) {
        ApiRequest *req = userdata;

        if (error < 0)
                return reply_slot_error(req, error);
        if (o->written)
                log_info("Reboot slots of group %s: max set to %u.", o->record->group, o->record->max);
        json_auto_t *body = lock_record_to_json(o->record);
        api_upgrade_reply(req, 200, body);
}

int api_locks_set_max(ApiRequest *req, void *userdata) {
        static const char * const fields[] = { "max", NULL };
        Manager *m = userdata;
        const char *group = group_arg(req);
        json_auto_t *body = NULL;
        json_t *max;

        if (!group || !(body = api_upgrade_body(req, fields)))
                return 0;
        max = json_object_get(body, "max");
        if (!json_is_integer(max) || json_integer_value(max) < 1 || json_integer_value(max) > LOCK_MAX_LIMIT)
                return api_request_reply_error(req, 400, "bad_request", "max must be a number from 1 to %u.",
                                               LOCK_MAX_LIMIT);
        SlotChange change = { .op = SLOT_SET_MAX, .group = group, .max = (unsigned) json_integer_value(max) };
        return reboot_slot_change(m->etcd, m->config->etcd_key_prefix, &change, on_max_set, req);
}

/* The group after a change, plus what it did to the holder. */
static json_t *slot_outcome_json(const SlotOutcome *o) {
        json_auto_t *j = lock_record_to_json(o->record), *expired = json_array();

        if (!j || !expired)
                return NULL;
        STRV_FOREACH(e, o->expired)
                if (json_array_append_new(expired, json_string(*e)) < 0)
                        return NULL;
        if (json_object_set_new(j, "holder", json_string(o->id)) < 0 || json_object_set(j, "expired", expired) < 0)
                return NULL;
        return TAKE_PTR(j);
}

static void on_acquired(int error, const SlotOutcome *o, void *userdata) {
        ApiRequest *req = userdata;
        json_auto_t *body = NULL;

        if (error < 0)
                return reply_slot_error(req, error);
        if (o->result == -EBUSY)
                return (void) api_request_reply_error(req, 409, "failed_lock_semaphore_full",
                                                      "All %u reboot slot(s) of group %s are held.", o->record->max,
                                                      o->record->group);
        if (o->result == 0)
                log_info("Reboot slot of group %s taken by %s.", o->record->group, o->id);
        body = slot_outcome_json(o);
        if (body && json_object_set_new(body, "recursive", json_boolean(o->result > 0)) < 0)
                json_decref(TAKE_PTR(body));
        api_upgrade_reply(req, 200, body);
}

int api_locks_acquire(ApiRequest *req, void *userdata) {
        static const char * const fields[] = { "id", "machine", "by", NULL };
        Manager *m = userdata;
        const char *group = group_arg(req), *id, *machine, *by;
        json_auto_t *body = NULL;

        if (!group || !(body = api_upgrade_body(req, fields)))
                return 0;
        id = jx_str(body, "id");
        machine = jx_str(body, "machine");
        by = jx_str(body, "by");
        if (!lock_holder_id_is_valid(id))
                return api_request_reply_error(req, 400, "bad_request",
                                               "id must be 1 to 256 printable characters without blanks.");
        if (machine && !machine_id_is_valid(machine))
                return api_request_reply_error(req, 400, "bad_request",
                                               "machine must be a machine id (32 lowercase hex digits).");
        if (!machine && machine_id_is_valid(id))
                machine = id;
        SlotChange change = { .op = SLOT_ACQUIRE, .group = group, .id = id, .machine = machine,
                              .by = by ?: "api", .timeout = m->config->reboot_slot_timeout };
        return reboot_slot_change(m->etcd, m->config->etcd_key_prefix, &change, on_acquired, req);
}

static void on_released(int error, const SlotOutcome *o, void *userdata) {
        ApiRequest *req = userdata;
        json_auto_t *body = NULL;

        if (error < 0)
                return reply_slot_error(req, error);
        if (o->result > 0)
                log_info("Reboot slot of group %s freed by hand: %s no longer holds it.", o->record->group, o->id);
        body = slot_outcome_json(o);
        if (body && json_object_set_new(body, "released", json_boolean(o->result > 0)) < 0)
                json_decref(TAKE_PTR(body));
        api_upgrade_reply(req, 200, body);
}

int api_locks_release(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        const char *group = group_arg(req), *id = api_request_arg(req, 1);

        if (!group)
                return 0;
        if (!lock_holder_id_is_valid(id))
                return api_request_reply_error(req, 400, "bad_request",
                                               "Invalid holder '%s': expected 1 to 256 printable characters without blanks.",
                                               id);
        SlotChange change = { .op = SLOT_RELEASE, .group = group, .id = id };
        return reboot_slot_change(m->etcd, m->config->etcd_key_prefix, &change, on_released, req);
}
