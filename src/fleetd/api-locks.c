/* SPDX-License-Identifier: Apache-2.0 */
/* The /v1/locks handlers (api-locks.h). */
#include "api-locks.h"
#include "api-upgrade.h"
#include "basic/json-util.h"
#include "basic/strv.h"
#include "log.h"
#include "manager.h"
#include "reboot-slots.h"

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
