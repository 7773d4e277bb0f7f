/* SPDX-License-Identifier: Apache-2.0 */
/* FleetLock's requests and errors (fleetlock.h). PURE. */
#include <strings.h>

#include "basic/error-util.h"
#include "fleetlock.h"
#include "registry.h"

static const struct {
        const char *kind;
        unsigned status;
} fleetlock_kinds[_FLEETLOCK_KIND_MAX] = {
        [FLEETLOCK_MISSING_HEADER] = { "missing_header", 400 },
        [FLEETLOCK_INVALID_BODY] = { "invalid_body", 400 },
        [FLEETLOCK_INVALID_GROUP] = { "invalid_group", 400 },
        [FLEETLOCK_FORBIDDEN] = { "forbidden", 403 },
        [FLEETLOCK_UNKNOWN_MACHINE] = { "unknown_machine", 404 },
        [FLEETLOCK_SEMAPHORE_FULL] = { "failed_lock_semaphore_full", 409 },
        [FLEETLOCK_DRAIN_IN_PROGRESS] = { "drain_in_progress", 503 },
        [FLEETLOCK_DRAIN_BLOCKED] = { "drain_blocked", 503 },
        [FLEETLOCK_CONTENDED] = { "lock_contended", 503 },
        [FLEETLOCK_ETCD_UNAVAILABLE] = { "etcd_unavailable", 503 },
        [FLEETLOCK_INTERNAL] = { "internal", 500 },
};

const char *fleetlock_kind_to_string(FleetLockKind k) {
        return k >= 0 && k < _FLEETLOCK_KIND_MAX ? fleetlock_kinds[k].kind : NULL;
}

unsigned fleetlock_kind_status(FleetLockKind k) {
        return k >= 0 && k < _FLEETLOCK_KIND_MAX ? fleetlock_kinds[k].status : 500;
}

json_t *fleetlock_error_json(FleetLockKind k, const char *value) {
        const char *kind = fleetlock_kind_to_string(k);

        if (!kind || isempty(value))
                return NULL;
        return json_pack("{s:s, s:s}", "kind", kind, "value", value);
}

void fleetlock_request_done(FleetLockRequest *r) {
        free(r->id);
        free(r->group);
        *r = (FleetLockRequest) {};
}

static int fail(FleetLockKind kind, FleetLockKind *ret_kind, char **ret_value, const char *what) {
        *ret_kind = kind;
        return error_set(ret_value, -EINVAL, "%s", what);
}

/* client_params.<key>: a non-empty string, or NULL. */
static const char *param(const json_t *params, const char *key) {
        json_t *v = json_object_get(params, key);

        return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

int fleetlock_request_parse(const char *header, const char *body, size_t len, FleetLockRequest *ret,
                            FleetLockKind *ret_kind, char **ret_value) {
        json_auto_t *j = NULL;
        json_error_t e;
        const char *id, *group;
        json_t *params;

        if (!streq_ptr(header, "true"))
                return fail(FLEETLOCK_MISSING_HEADER, ret_kind, ret_value,
                            "the header 'fleet-lock-protocol: true' is required");
        j = body ? json_loadb(body, len, 0, &e) : NULL;
        if (!json_is_object(j)) {
                *ret_kind = FLEETLOCK_INVALID_BODY;
                return error_set(ret_value, -EINVAL,
                                 "the body must be a JSON object {\"client_params\": {\"id\": ..., \"group\": ...}}%s%s",
                                 body && !j ? ": " : "", body && !j ? e.text : "");
        }
        params = json_object_get(j, "client_params");
        if (!json_is_object(params))
                return fail(FLEETLOCK_INVALID_BODY, ret_kind, ret_value, "client_params must be a JSON object");
        id = param(params, "id");
        group = param(params, "group");
        if (!id || !lock_holder_id_is_valid(id))
                return fail(FLEETLOCK_INVALID_BODY, ret_kind, ret_value,
                            "client_params.id must be a non-empty string of at most 256 printable characters "
                            "without blanks");
        if (!group)
                return fail(FLEETLOCK_INVALID_BODY, ret_kind, ret_value,
                            "client_params.group must be a non-empty string");
        if (!lock_group_is_valid(group))
                return fail(FLEETLOCK_INVALID_GROUP, ret_kind, ret_value,
                            "client_params.group must match ^[a-zA-Z0-9.-]+$ (at most 64 characters)");

        ret->id = strdup(id);
        ret->group = strdup(group);
        if (!ret->id || !ret->group) {
                fleetlock_request_done(ret);
                return -ENOMEM;
        }
        return 0;
}

bool fleetlock_id_equal(const char *a, const char *b) {
        return a && b && strcasecmp(a, b) == 0;
}
