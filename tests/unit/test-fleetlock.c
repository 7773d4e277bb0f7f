/* SPDX-License-Identifier: Apache-2.0 */
/* fleetlock.h: FleetLock requests as Zincati sends them, the refusals, the error bodies. */
#include "basic/json-util.h"
#include "fleetlock.h"
#include "../tests.h"

/* Zincati's body: serde_json's pretty print of {"client_params": {"id", "group"}}. */
#define ZINCATI_BODY "{\n  \"client_params\": {\n    \"id\": \"c988d2509fdf4cdcbed39037c56406fb\",\n    \"group\": \"default\"\n  }\n}"

static int parse(const char *header, const char *body, FleetLockKind *kind, char **value) {
        _cleanup_(fleetlock_request_done) FleetLockRequest r = {};

        return fleetlock_request_parse(header, body, body ? strlen(body) : 0, &r, kind, value);
}

TEST(zincati_request) {
        _cleanup_(fleetlock_request_done) FleetLockRequest r = {};
        FleetLockKind kind;
        char *value = NULL;

        ASSERT_INT(fleetlock_request_parse("true", ZINCATI_BODY, strlen(ZINCATI_BODY), &r, &kind, &value), 0);
        ASSERT_STR(r.id, "c988d2509fdf4cdcbed39037c56406fb");
        ASSERT_STR(r.group, "default");
        ASSERT_TRUE(!value);
}

TEST(extra_fields_are_ignored) {
        _cleanup_(fleetlock_request_done) FleetLockRequest r = {};
        const char *body = "{\"client_params\":{\"id\":\"a\",\"group\":\"workers.eu-1\",\"x\":1},\"y\":[]}";
        FleetLockKind kind;

        ASSERT_INT(fleetlock_request_parse("true", body, strlen(body), &r, &kind, NULL), 0);
        ASSERT_STR(r.group, "workers.eu-1");
}

static void expect(const char *header, const char *body, FleetLockKind want, const char *part) {
        _cleanup_free_ char *value = NULL;
        FleetLockKind kind = _FLEETLOCK_KIND_INVALID;

        ASSERT_INT(parse(header, body, &kind, &value), -EINVAL);
        if (kind != want)
                fprintf(stderr, "for %s / %s\n", strna(header), strna(body));
        ASSERT_INT(kind, want);
        ASSERT_CONTAINS(value, part);
}

TEST(refusals) {
        expect(NULL, ZINCATI_BODY, FLEETLOCK_MISSING_HEADER, "fleet-lock-protocol: true");
        expect("false", ZINCATI_BODY, FLEETLOCK_MISSING_HEADER, "required");
        expect("TRUE ", ZINCATI_BODY, FLEETLOCK_MISSING_HEADER, "required");
        expect("true", NULL, FLEETLOCK_INVALID_BODY, "JSON object");
        expect("true", "{", FLEETLOCK_INVALID_BODY, "JSON object {\"client_params\"");
        expect("true", "[]", FLEETLOCK_INVALID_BODY, "JSON object");
        expect("true", "{}", FLEETLOCK_INVALID_BODY, "client_params must be");
        expect("true", "{\"client_params\":\"x\"}", FLEETLOCK_INVALID_BODY, "client_params must be");
        expect("true", "{\"client_params\":{\"group\":\"default\"}}", FLEETLOCK_INVALID_BODY, "client_params.id");
        expect("true", "{\"client_params\":{\"id\":\"\",\"group\":\"default\"}}", FLEETLOCK_INVALID_BODY,
               "client_params.id");
        expect("true", "{\"client_params\":{\"id\":7,\"group\":\"default\"}}", FLEETLOCK_INVALID_BODY,
               "client_params.id");
        expect("true", "{\"client_params\":{\"id\":\"a b\",\"group\":\"default\"}}", FLEETLOCK_INVALID_BODY,
               "without blanks");
        expect("true", "{\"client_params\":{\"id\":\"a\"}}", FLEETLOCK_INVALID_BODY, "client_params.group");
        expect("true", "{\"client_params\":{\"id\":\"a\",\"group\":\"\"}}", FLEETLOCK_INVALID_BODY,
               "client_params.group");
        expect("true", "{\"client_params\":{\"id\":\"a\",\"group\":\"a_b\"}}", FLEETLOCK_INVALID_GROUP,
               "^[a-zA-Z0-9.-]+$");
        expect("true", "{\"client_params\":{\"id\":\"a\",\"group\":\"a/b\"}}", FLEETLOCK_INVALID_GROUP, "match");
}

TEST(kinds) {
        static const struct {
                FleetLockKind kind;
                const char *name;
                unsigned status;
        } table[] = {
                { FLEETLOCK_MISSING_HEADER, "missing_header", 400 },
                { FLEETLOCK_INVALID_BODY, "invalid_body", 400 },
                { FLEETLOCK_INVALID_GROUP, "invalid_group", 400 },
                { FLEETLOCK_FORBIDDEN, "forbidden", 403 },
                { FLEETLOCK_UNKNOWN_MACHINE, "unknown_machine", 404 },
                { FLEETLOCK_SEMAPHORE_FULL, "failed_lock_semaphore_full", 409 },
                { FLEETLOCK_DRAIN_IN_PROGRESS, "drain_in_progress", 503 },
                { FLEETLOCK_DRAIN_BLOCKED, "drain_blocked", 503 },
                { FLEETLOCK_CONTENDED, "lock_contended", 503 },
                { FLEETLOCK_ETCD_UNAVAILABLE, "etcd_unavailable", 503 },
                { FLEETLOCK_INTERNAL, "internal", 500 },
        };

        ASSERT_INT(ELEMENTSOF(table), _FLEETLOCK_KIND_MAX);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                ASSERT_STR(fleetlock_kind_to_string(table[i].kind), table[i].name);
                ASSERT_INT(fleetlock_kind_status(table[i].kind), table[i].status);
        }
        ASSERT_TRUE(!fleetlock_kind_to_string(_FLEETLOCK_KIND_MAX));
        ASSERT_INT(fleetlock_kind_status(_FLEETLOCK_KIND_INVALID), 500);
}

TEST(error_body) {
        json_auto_t *j = fleetlock_error_json(FLEETLOCK_SEMAPHORE_FULL, "all slots are held");
        _cleanup_free_ char *text = j ? jx_dumps(j) : NULL;

        ASSERT_STR(text, "{\"kind\":\"failed_lock_semaphore_full\",\"value\":\"all slots are held\"}");
        ASSERT_TRUE(!fleetlock_error_json(FLEETLOCK_SEMAPHORE_FULL, ""));
        ASSERT_TRUE(!fleetlock_error_json(_FLEETLOCK_KIND_MAX, "x"));
}

TEST(id_equal) {
        ASSERT_TRUE(fleetlock_id_equal("c988d2509fdf4cdcbed39037c56406fb", "C988D2509FDF4CDCBED39037C56406FB"));
        ASSERT_TRUE(!fleetlock_id_equal("c988d2509fdf4cdcbed39037c56406fb", "c988d2509fdf4cdcbed39037c56406fc"));
        ASSERT_TRUE(!fleetlock_id_equal(NULL, "a"));
        ASSERT_TRUE(!fleetlock_id_equal("a", NULL));
}

TEST_MAIN(T(zincati_request), T(extra_fields_are_ignored), T(refusals), T(kinds), T(error_body), T(id_equal))
