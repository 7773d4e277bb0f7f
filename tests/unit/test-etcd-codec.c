/* SPDX-License-Identifier: Apache-2.0 */
/* etcd-codec against answers recorded from a real etcd 3.4 gateway (tests/data/etcd, made by
 * record.sh there): each fixture decoded and its fields checked; malformed answers refused. */
#include <stdio.h>

#include "basic/fileio.h"
#include "etcd-codec.h"
#include "../tests.h"

/* The fixture directory (tests/data/etcd), given as the first argument by meson. */
static const char *arg_data_dir;

static char *fixture(const char *name, size_t *ret_len) {
        _cleanup_free_ char *path = NULL;
        char *text = NULL;

        if (asprintf(&path, "%s/%s", arg_data_dir, name) < 0 || read_file_limit(path, 1 << 20, &text, ret_len) < 0) {
                fprintf(stderr, "cannot read fixture %s\n", name);
                return NULL;
        }
        return text;
}

static int decode_fixture(EtcdCall call, const char *name, EtcdAnswer *ret) {
        size_t n = 0;
        _cleanup_free_ char *text = fixture(name, &n);

        return text ? etcd_decode_answer(call, text, n, ret) : -ENOENT;
}

/* The lease that record.sh granted first; range.json and watch-events.txt show it on /fleetd/b. */
static int64_t recorded_lease(void) {
        _cleanup_(etcd_answer_done) EtcdAnswer a = {};

        return decode_fixture(ETCD_CALL_LEASE_GRANT, "lease-grant.json", &a) < 0 ? -1 : a.result.lease_id;
}

static bool kv_is(const EtcdKv *kv, const char *key, const char *value, int64_t create, int64_t mod, int64_t version) {
        return streq(kv->key, key) && streq(kv->value, value) && kv->value_len == strlen(value) &&
                kv->create_revision == create && kv->mod_revision == mod && kv->version == version;
}

/* ---- request bodies ---- */

TEST(encode_range) {
        _cleanup_free_ char *one = NULL, *all = NULL, *from = NULL;

        ASSERT_INT(etcd_encode_range(&(EtcdRangeArgs) { .key = "/fleetd/a" }, &one), 0);
        ASSERT_STR(one, "{\"key\":\"L2ZsZWV0ZC9h\"}");
        ASSERT_INT(etcd_encode_range(&(EtcdRangeArgs) { .key = "/fleetd/", .range_end = "/fleetd0", .limit = 1,
                                                        .revision = 4, .keys_only = true, .count_only = true },
                                     &all),
                   0);
        ASSERT_STR(all, "{\"key\":\"L2ZsZWV0ZC8=\",\"range_end\":\"L2ZsZWV0ZDA=\",\"limit\":\"1\",\"revision\":\"4\","
                        "\"keys_only\":true,\"count_only\":true}");
        /* "" stands for "\0": every key from key on */
        ASSERT_INT(etcd_encode_range(&(EtcdRangeArgs) { .key = "a", .range_end = "" }, &from), 0);
        ASSERT_STR(from, "{\"key\":\"YQ==\",\"range_end\":\"AA==\"}");
        ASSERT_INT(etcd_encode_range(&(EtcdRangeArgs) {}, &from), -EINVAL);
        ASSERT_INT(etcd_encode_range(NULL, &from), -EINVAL);
}

TEST(encode_put_delete_lease_auth) {
        _cleanup_free_ char *put = NULL, *leased = NULL, *del = NULL, *grant = NULL, *id = NULL, *auth = NULL;
        char *none = NULL;

        ASSERT_INT(etcd_encode_put("/fleetd/a", "alpha", 0, &put), 0);
        ASSERT_STR(put, "{\"key\":\"L2ZsZWV0ZC9h\",\"value\":\"YWxwaGE=\"}");
        ASSERT_INT(etcd_encode_put("/fleetd/b", "", 4038499847791889928, &leased), 0);
        ASSERT_STR(leased, "{\"key\":\"L2ZsZWV0ZC9i\",\"value\":\"\",\"lease\":\"4038499847791889928\"}");
        ASSERT_INT(etcd_encode_delete("/fleetd/c", "/fleetd/d", &del), 0);
        ASSERT_STR(del, "{\"key\":\"L2ZsZWV0ZC9j\",\"range_end\":\"L2ZsZWV0ZC9k\"}");
        ASSERT_INT(etcd_encode_lease_grant(60, &grant), 0);
        ASSERT_STR(grant, "{\"TTL\":\"60\"}");
        ASSERT_INT(etcd_encode_lease_id(9223372036854775807, &id), 0);
        ASSERT_STR(id, "{\"ID\":\"9223372036854775807\"}");
        ASSERT_INT(etcd_encode_auth("root", NULL, &auth), 0);
        ASSERT_STR(auth, "{\"name\":\"root\",\"password\":\"\"}");

        ASSERT_INT(etcd_encode_put(NULL, "v", 0, &none), -EINVAL);
        ASSERT_INT(etcd_encode_put("k", NULL, 0, &none), -EINVAL);
        ASSERT_INT(etcd_encode_put("k", "v", -1, &none), -EINVAL);
        ASSERT_INT(etcd_encode_delete(NULL, NULL, &none), -EINVAL);
        ASSERT_INT(etcd_encode_lease_grant(0, &none), -EINVAL);
        ASSERT_INT(etcd_encode_lease_id(0, &none), -EINVAL);
        ASSERT_INT(etcd_encode_auth(NULL, "x", &none), -EINVAL);
        ASSERT_TRUE(!none);
}

TEST(encode_txn) {
        static const EtcdCompare compares[] = {
                { .key = "/fleetd/a", .target = ETCD_COMPARE_MOD, .result = ETCD_EQUAL, .number = 4 },
                { .key = "/fleetd/l", .target = ETCD_COMPARE_VALUE, .result = ETCD_NOT_EQUAL, .value = "x" },
        };
        static const EtcdOp success[] = {
                { .type = ETCD_OP_PUT, .key = "/fleetd/c", .value = "gamma", .lease = 7 },
                { .type = ETCD_OP_DELETE, .key = "/fleetd/d" },
        };
        static const EtcdOp failure[] = {
                { .type = ETCD_OP_RANGE, .key = "/fleetd/a" },
        };
        static const EtcdCompare no_value = { .key = "k", .target = ETCD_COMPARE_VALUE };
        static const EtcdOp put_without_value = { .type = ETCD_OP_PUT, .key = "k" };
        static const EtcdOp unknown_op = { .type = 7, .key = "k" };
        _cleanup_free_ char *body = NULL;
        char *none = NULL;

        ASSERT_INT(etcd_encode_txn(&(EtcdTxn) { compares, 2, success, 2, failure, 1 }, &body), 0);
        ASSERT_STR(body, "{\"compare\":[{\"key\":\"L2ZsZWV0ZC9h\",\"mod_revision\":\"4\","
                         "\"target\":\"MOD\",\"result\":\"EQUAL\"},"
                         "{\"key\":\"L2ZsZWV0ZC9s\",\"value\":\"eA==\",\"target\":\"VALUE\","
                         "\"result\":\"NOT_EQUAL\"}],"
                         "\"success\":[{\"request_put\":{\"key\":\"L2ZsZWV0ZC9j\",\"value\":\"Z2FtbWE=\","
                         "\"lease\":\"7\"}},"
                         "{\"request_delete_range\":{\"key\":\"L2ZsZWV0ZC9k\"}}],"
                         "\"failure\":[{\"request_range\":{\"key\":\"L2ZsZWV0ZC9h\"}}]}");

        ASSERT_INT(etcd_encode_txn(NULL, &none), -EINVAL);
        ASSERT_INT(etcd_encode_txn(&(EtcdTxn) { .n_compares = 1 }, &none), -EINVAL);
        ASSERT_INT(etcd_encode_txn(&(EtcdTxn) { .compares = &no_value, .n_compares = 1 }, &none), -EINVAL);
        ASSERT_INT(etcd_encode_txn(&(EtcdTxn) { .success = &put_without_value, .n_success = 1 }, &none), -EINVAL);
        ASSERT_INT(etcd_encode_txn(&(EtcdTxn) { .failure = &unknown_op, .n_failure = 1 }, &none), -EINVAL);
        ASSERT_TRUE(!none);
}

TEST(encode_watch) {
        _cleanup_free_ char *now = NULL, *from = NULL;
        char *none = NULL;

        ASSERT_INT(etcd_encode_watch("/fleetd/", "/fleetd0", 0, &now), 0);
        ASSERT_STR(now, "{\"create_request\":{\"key\":\"L2ZsZWV0ZC8=\",\"range_end\":\"L2ZsZWV0ZDA=\"}}");
        ASSERT_INT(etcd_encode_watch("/fleetd/a", NULL, 2, &from), 0);
        ASSERT_STR(from, "{\"create_request\":{\"key\":\"L2ZsZWV0ZC9h\",\"start_revision\":\"2\"}}");
        ASSERT_INT(etcd_encode_watch("k", NULL, -1, &none), -EINVAL);
        ASSERT_INT(etcd_encode_watch(NULL, NULL, 0, &none), -EINVAL);
}

TEST(call_paths) {
        ASSERT_STR(etcd_call_path(ETCD_CALL_RANGE), "/v3/kv/range");
        ASSERT_STR(etcd_call_path(ETCD_CALL_DELETE), "/v3/kv/deleterange");
        ASSERT_STR(etcd_call_path(ETCD_CALL_LEASE_KEEPALIVE), "/v3/lease/keepalive");
        ASSERT_STR(etcd_call_path(ETCD_CALL_AUTH), "/v3/auth/authenticate");
        ASSERT_TRUE(etcd_call_path(_ETCD_CALL_MAX) == NULL);
}

/* ---- recorded answers ---- */

TEST(range) {
        _cleanup_(etcd_answer_done) EtcdAnswer a = {};
        int64_t lease = recorded_lease();

        ASSERT_TRUE(lease > 0);
        ASSERT_INT(decode_fixture(ETCD_CALL_RANGE, "range.json", &a), 0);
        ASSERT_INT(a.error.code, 0);
        ASSERT_INT(a.result.revision, 4);
        ASSERT_INT(a.result.count, 2);
        ASSERT_TRUE(!a.result.more);
        ASSERT_INT(a.result.n_kvs, 2);
        ASSERT_TRUE(kv_is(&a.result.kvs[0], "/fleetd/a", "alpha2", 2, 4, 2));
        ASSERT_INT(a.result.kvs[0].lease, 0);
        /* an empty value has no "value" */
        ASSERT_TRUE(kv_is(&a.result.kvs[1], "/fleetd/b", "", 3, 3, 1));
        ASSERT_INT(a.result.kvs[1].lease, lease);
}

TEST(range_missing_limit_count_keys_only) {
        _cleanup_(etcd_answer_done) EtcdAnswer missing = {}, limit = {}, count = {}, keys = {};

        ASSERT_INT(decode_fixture(ETCD_CALL_RANGE, "range-missing.json", &missing), 0);
        ASSERT_INT(missing.result.revision, 1);
        ASSERT_INT(missing.result.n_kvs, 0);
        ASSERT_INT(missing.result.count, 0);

        ASSERT_INT(decode_fixture(ETCD_CALL_RANGE, "range-limit.json", &limit), 0);
        ASSERT_TRUE(limit.result.more);
        ASSERT_INT(limit.result.count, 2);
        ASSERT_INT(limit.result.n_kvs, 1);
        ASSERT_TRUE(kv_is(&limit.result.kvs[0], "/fleetd/a", "alpha2", 2, 4, 2));

        ASSERT_INT(decode_fixture(ETCD_CALL_RANGE, "range-count.json", &count), 0);
        ASSERT_INT(count.result.count, 2);
        ASSERT_INT(count.result.n_kvs, 0);

        ASSERT_INT(decode_fixture(ETCD_CALL_RANGE, "range-keys-only.json", &keys), 0);
        ASSERT_INT(keys.result.n_kvs, 2);
        ASSERT_TRUE(kv_is(&keys.result.kvs[0], "/fleetd/a", "", 2, 4, 2));
        ASSERT_TRUE(kv_is(&keys.result.kvs[1], "/fleetd/b", "", 3, 3, 1));
}

TEST(put_and_delete) {
        _cleanup_(etcd_answer_done) EtcdAnswer put = {}, prev = {}, del = {};

        ASSERT_INT(decode_fixture(ETCD_CALL_PUT, "put.json", &put), 0);
        ASSERT_INT(put.result.revision, 2);
        ASSERT_INT(put.result.n_kvs, 0);

        ASSERT_INT(decode_fixture(ETCD_CALL_PUT, "put-prev-kv.json", &prev), 0);
        ASSERT_INT(prev.result.revision, 4);
        ASSERT_INT(prev.result.n_kvs, 1);
        ASSERT_TRUE(kv_is(&prev.result.kvs[0], "/fleetd/a", "alpha", 2, 2, 1));

        ASSERT_INT(decode_fixture(ETCD_CALL_DELETE, "deleterange.json", &del), 0);
        ASSERT_INT(del.result.revision, 6);
        ASSERT_INT(del.result.deleted, 1);
        ASSERT_INT(del.result.n_kvs, 0);
}

TEST(txn_succeeded) {
        _cleanup_(etcd_answer_done) EtcdAnswer a = {};
        const EtcdResult *r = &a.result;

        ASSERT_INT(decode_fixture(ETCD_CALL_TXN, "txn-succeeded.json", &a), 0);
        ASSERT_TRUE(r->succeeded);
        ASSERT_INT(r->revision, 5);
        ASSERT_INT(r->n_responses, 4);
        for (size_t i = 0; i < r->n_responses; i++)
                ASSERT_INT(r->responses[i].revision, 5);
        ASSERT_INT(r->responses[0].n_kvs, 0);
        ASSERT_INT(r->responses[2].count, 1);
        ASSERT_INT(r->responses[2].n_kvs, 1);
        ASSERT_TRUE(kv_is(&r->responses[2].kvs[0], "/fleetd/a", "alpha2", 2, 4, 2));
        /* the delete of nothing: "deleted" omitted */
        ASSERT_INT(r->responses[3].deleted, 0);
}

TEST(txn_failed) {
        _cleanup_(etcd_answer_done) EtcdAnswer a = {};
        const EtcdResult *r = &a.result;

        ASSERT_INT(decode_fixture(ETCD_CALL_TXN, "txn-failed.json", &a), 0);
        ASSERT_INT(a.error.code, 0);
        /* a compare that does not hold is no error: "succeeded" omitted, the failure ops ran */
        ASSERT_TRUE(!r->succeeded);
        ASSERT_INT(r->revision, 5);
        ASSERT_INT(r->n_responses, 1);
        ASSERT_INT(r->responses[0].n_kvs, 1);
        ASSERT_TRUE(kv_is(&r->responses[0].kvs[0], "/fleetd/a", "alpha2", 2, 4, 2));
}

TEST(lease) {
        _cleanup_(etcd_answer_done) EtcdAnswer grant = {}, alive = {}, expired = {}, revoke = {}, unknown = {};

        ASSERT_INT(decode_fixture(ETCD_CALL_LEASE_GRANT, "lease-grant.json", &grant), 0);
        ASSERT_TRUE(grant.result.lease_id > 0);
        ASSERT_INT(grant.result.ttl, 60);
        ASSERT_INT(grant.result.revision, 2);

        /* the keepalive stream's answer comes wrapped in {"result":...} */
        ASSERT_INT(decode_fixture(ETCD_CALL_LEASE_KEEPALIVE, "lease-keepalive.json", &alive), 0);
        ASSERT_INT(alive.error.code, 0);
        ASSERT_INT(alive.result.lease_id, grant.result.lease_id);
        ASSERT_INT(alive.result.ttl, 60);

        /* an expired lease: no TTL, which means not found */
        ASSERT_INT(decode_fixture(ETCD_CALL_LEASE_KEEPALIVE, "lease-keepalive-expired.json", &expired), 0);
        ASSERT_INT(expired.error.code, ETCD_GRPC_NOT_FOUND);
        ASSERT_INT(etcd_error_to_errno(expired.error.code, expired.error.message), -ENOENT);

        ASSERT_INT(decode_fixture(ETCD_CALL_LEASE_REVOKE, "lease-revoke.json", &revoke), 0);
        ASSERT_INT(revoke.error.code, 0);
        ASSERT_INT(revoke.result.revision, 7);

        ASSERT_INT(decode_fixture(ETCD_CALL_LEASE_REVOKE, "lease-revoke-unknown.json", &unknown), 0);
        ASSERT_INT(unknown.error.code, ETCD_GRPC_NOT_FOUND);
        ASSERT_STR(unknown.error.message, "etcdserver: requested lease not found");
        ASSERT_INT(etcd_error_to_errno(unknown.error.code, unknown.error.message), -ENOENT);
}

TEST(errors) {
        static const struct {
                const char *name;
                int code;
                int error;
                bool wants_token;
        } cases[] = {
                { "range-compacted.json", ETCD_GRPC_OUT_OF_RANGE, -ESTALE, false },
                { "lease-revoke-unknown.json", ETCD_GRPC_NOT_FOUND, -ENOENT, false },
                { "auth-failed.json", 3, -EACCES, false },
                { "auth-no-token.json", 3, -EACCES, true },
                { "auth-bad-token.json", ETCD_GRPC_UNAUTHENTICATED, -EACCES, true },
                { "auth-disabled.json", ETCD_GRPC_FAILED_PRECONDITION, -EIO, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                /* an error reads the same whatever the call */
                for (EtcdCall call = 0; call < _ETCD_CALL_MAX; call++) {
                        _cleanup_(etcd_answer_done) EtcdAnswer a = { .result.revision = 42 };

                        ASSERT_INT(decode_fixture(call, cases[i].name, &a), 0);
                        ASSERT_INT(a.error.code, cases[i].code);
                        ASSERT_TRUE(a.error.message && a.error.message[0]);
                        ASSERT_INT(a.result.revision, 0);
                        ASSERT_INT(etcd_error_to_errno(a.error.code, a.error.message), cases[i].error);
                        ASSERT_INT(etcd_error_wants_token(a.error.code, a.error.message), cases[i].wants_token);
                        ASSERT_INT(etcd_error_auth_disabled(a.error.code, a.error.message),
                                   streq(cases[i].name, "auth-disabled.json"));
                }
        }
}

TEST(auth_token) {
        _cleanup_(etcd_answer_done) EtcdAnswer a = {};

        ASSERT_INT(decode_fixture(ETCD_CALL_AUTH, "auth-token.json", &a), 0);
        ASSERT_INT(a.error.code, 0);
        ASSERT_TRUE(a.token && strlen(a.token) > 8);
        ASSERT_INT(a.result.revision, 7);
}

/* ---- watch streams ---- */

/* Splits the stream into its lines; what follows the last newline stays in *ret_rest. */
static size_t split_lines(const char *text, size_t n, const char *lines[], size_t lens[], size_t max,
                          size_t *ret_rest) {
        size_t count = 0, off = 0, len;

        while (count < max && (len = etcd_watch_line_length(text + off, n - off)) > 0) {
                lines[count] = text + off;
                lens[count++] = len;
                off += len;
        }
        *ret_rest = off;
        return count;
}

TEST(watch_events) {
        size_t n = 0, rest = 0, lens[16];
        _cleanup_free_ char *text = fixture("watch-events.txt", &n);
        const char *lines[16];
        int64_t lease = recorded_lease();
        EtcdWatchAnswer w[7] = {};

        ASSERT_TRUE(text);
        ASSERT_INT(split_lines(text, n, lines, lens, ELEMENTSOF(lines), &rest), 7);
        ASSERT_INT(rest, n);
        for (size_t i = 0; i < 7; i++)
                ASSERT_INT(etcd_decode_watch_line(lines[i], lens[i], &w[i]), 0);

        ASSERT_TRUE(w[0].created);
        ASSERT_INT(w[0].revision, 1);
        ASSERT_INT(w[0].n_events, 0);
        for (size_t i = 1; i < 7; i++) {
                ASSERT_TRUE(!w[i].created && !w[i].canceled && w[i].error.code == 0);
                ASSERT_INT(w[i].revision, (int64_t) i + 1);
        }
        /* a PUT event has no "type" */
        ASSERT_INT(w[1].n_events, 1);
        ASSERT_INT(w[1].events[0].type, ETCD_EVENT_PUT);
        ASSERT_TRUE(kv_is(&w[1].events[0].kv, "/fleetd/a", "alpha", 2, 2, 1));
        ASSERT_TRUE(kv_is(&w[2].events[0].kv, "/fleetd/b", "", 3, 3, 1));
        ASSERT_INT(w[2].events[0].kv.lease, lease);
        ASSERT_TRUE(kv_is(&w[3].events[0].kv, "/fleetd/a", "alpha2", 2, 4, 2));
        /* one txn, one line, two events */
        ASSERT_INT(w[4].n_events, 2);
        ASSERT_TRUE(kv_is(&w[4].events[0].kv, "/fleetd/c", "gamma", 5, 5, 1));
        ASSERT_TRUE(kv_is(&w[4].events[1].kv, "/fleetd/d", "delta", 5, 5, 1));
        /* a DELETE: key and mod_revision only */
        ASSERT_INT(w[5].n_events, 1);
        ASSERT_INT(w[5].events[0].type, ETCD_EVENT_DELETE);
        ASSERT_TRUE(kv_is(&w[5].events[0].kv, "/fleetd/c", "", 0, 6, 0));
        /* the revoked lease took /fleetd/b with it */
        ASSERT_INT(w[6].events[0].type, ETCD_EVENT_DELETE);
        ASSERT_TRUE(kv_is(&w[6].events[0].kv, "/fleetd/b", "", 0, 7, 0));

        for (size_t i = 0; i < 7; i++)
                etcd_watch_answer_done(&w[i]);
}

TEST(watch_compacted) {
        size_t n = 0, rest = 0, lens[4];
        _cleanup_free_ char *text = fixture("watch-compacted.txt", &n);
        _cleanup_(etcd_watch_answer_done) EtcdWatchAnswer created = {}, canceled = {};
        const char *lines[4];

        ASSERT_TRUE(text);
        ASSERT_INT(split_lines(text, n, lines, lens, ELEMENTSOF(lines), &rest), 2);
        ASSERT_INT(etcd_decode_watch_line(lines[0], lens[0], &created), 0);
        ASSERT_TRUE(created.created && !created.canceled);
        ASSERT_INT(etcd_decode_watch_line(lines[1], lens[1], &canceled), 0);
        ASSERT_TRUE(canceled.canceled);
        ASSERT_INT(canceled.compact_revision, 6);
        ASSERT_INT(canceled.revision, 0);  /* this header has no revision */
        ASSERT_INT(canceled.n_events, 0);
}

TEST(watch_canceled) {
        size_t n = 0;
        _cleanup_free_ char *text = fixture("watch-canceled.txt", &n);
        _cleanup_(etcd_watch_answer_done) EtcdWatchAnswer a = {};

        ASSERT_TRUE(text);
        ASSERT_INT(etcd_watch_line_length(text, n), n);
        ASSERT_INT(etcd_decode_watch_line(text, n, &a), 0);
        ASSERT_TRUE(a.created && a.canceled);
        ASSERT_INT(a.compact_revision, 0);
        ASSERT_CONTAINS(a.cancel_reason, "invalid auth token");
        /* a fresh token may cure it; had it been refused, no token would */
        ASSERT_TRUE(etcd_error_wants_token(0, a.cancel_reason));
        ASSERT_INT(etcd_cancel_reason_to_errno(a.cancel_reason), -EIO);
        ASSERT_INT(etcd_cancel_reason_to_errno("rpc error: code = PermissionDenied desc = "
                                               "etcdserver: permission denied"),
                   -EACCES);
}

TEST(watch_errors) {
        size_t n = 0, m = 0, rest = 0, lens[4];
        _cleanup_free_ char *broken = fixture("watch-error.txt", &n), *bad = fixture("watch-bad-request.txt", &m);
        _cleanup_(etcd_watch_answer_done) EtcdWatchAnswer created = {}, error = {}, refused = {};
        const char *lines[4];

        ASSERT_TRUE(broken && bad);
        /* the stream broke (etcd shut down): the error is the last line, without a newline */
        ASSERT_INT(split_lines(broken, n, lines, lens, ELEMENTSOF(lines), &rest), 1);
        ASSERT_TRUE(rest < n);
        ASSERT_INT(etcd_decode_watch_line(lines[0], lens[0], &created), 0);
        ASSERT_TRUE(created.created);
        ASSERT_INT(etcd_decode_watch_line(broken + rest, n - rest, &error), 0);
        ASSERT_INT(error.error.code, ETCD_GRPC_UNAVAILABLE);
        ASSERT_STR(error.error.message, "transport is closing");

        /* a body the gateway could not read: a unary error in the stream's place */
        ASSERT_INT(etcd_watch_line_length(bad, m), 0);
        ASSERT_INT(etcd_decode_watch_line(bad, m, &refused), 0);
        ASSERT_INT(refused.error.code, ETCD_GRPC_UNKNOWN);
        ASSERT_STR(refused.error.message, "unexpected EOF");
        ASSERT_INT(refused.n_events, 0);
}

TEST(watch_nothing) {
        static const char *const nothing[] = { "", "\n", " \r\n", "{}", "{\"result\":{}}\n" };

        for (size_t i = 0; i < ELEMENTSOF(nothing); i++) {
                _cleanup_(etcd_watch_answer_done) EtcdWatchAnswer a = { .revision = 42 };

                ASSERT_INT(etcd_decode_watch_line(nothing[i], strlen(nothing[i]), &a), 0);
                ASSERT_TRUE(a.revision == 0 && !a.created && !a.canceled && a.n_events == 0 && a.error.code == 0);
        }
        ASSERT_INT(etcd_watch_line_length("{}", 2), 0);
        ASSERT_INT(etcd_watch_line_length("{}\n{", 4), 3);
        ASSERT_INT(etcd_watch_line_length(NULL, 0), 0);
}

/* ---- malformed answers ---- */

static const char *const fixtures_json[] = {
        "auth-bad-token.json", "auth-disabled.json", "auth-failed.json", "auth-no-token.json", "auth-token.json",
        "deleterange.json", "lease-grant.json", "lease-keepalive-expired.json", "lease-keepalive.json",
        "lease-revoke-unknown.json", "lease-revoke.json", "put-prev-kv.json", "put.json", "range-compacted.json",
        "range-count.json", "range-keys-only.json", "range-limit.json", "range-missing.json", "range.json",
        "txn-failed.json", "txn-succeeded.json",
};

static const char *const fixtures_watch[] = {
        "watch-bad-request.txt", "watch-canceled.txt", "watch-compacted.txt", "watch-error.txt", "watch-events.txt",
};

/* Every fixture cut short anywhere, for every call: refused, and nothing written. */
TEST(truncated) {
        for (size_t i = 0; i < ELEMENTSOF(fixtures_json); i++) {
                size_t n = 0;
                _cleanup_free_ char *text = fixture(fixtures_json[i], &n);

                ASSERT_TRUE(text);
                while (n > 0 && text[n - 1] == '\n')  /* a streaming call's answer ends its line */
                        n--;
                for (size_t len = 0; len < n; len++)
                        for (EtcdCall call = 0; call < _ETCD_CALL_MAX; call++) {
                                EtcdAnswer a = { .result.revision = 42 };
                                ASSERT_INT(etcd_decode_answer(call, text, len, &a), -EBADMSG);
                                ASSERT_INT(a.result.revision, 42);
                        }
        }
        for (size_t i = 0; i < ELEMENTSOF(fixtures_watch); i++) {
                size_t n = 0;
                _cleanup_free_ char *text = fixture(fixtures_watch[i], &n);

                ASSERT_TRUE(text);
                for (size_t off = 0, len, whole; off < n; off += len) {
                        len = etcd_watch_line_length(text + off, n - off) ?: n - off;
                        whole = len;
                        while (whole > 0 && (text[off + whole - 1] == '\n' || text[off + whole - 1] == '\r'))
                                whole--;
                        /* the line without its newline is whole; any shorter part of it is not */
                        for (size_t cut = 1; cut < whole; cut++) {
                                EtcdWatchAnswer a = { .revision = 42 };
                                ASSERT_INT(etcd_decode_watch_line(text + off, cut, &a), -EBADMSG);
                                ASSERT_INT(a.revision, 42);
                        }
                }
        }
}

TEST(malformed_answers) {
        static const struct {
                EtcdCall call;
                const char *text;
        } bad[] = {
                /* not a JSON object, or more than one */
                { ETCD_CALL_RANGE, "" },
                { ETCD_CALL_RANGE, "[]" },
                { ETCD_CALL_RANGE, "null" },
                { ETCD_CALL_RANGE, "\"x\"" },
                { ETCD_CALL_RANGE, "{}x" },
                { ETCD_CALL_RANGE, "{} {}" },
                { ETCD_CALL_LEASE_KEEPALIVE, "{\"result\":5}" },
                /* int64 not as a decimal string */
                { ETCD_CALL_RANGE, "{\"header\":{\"revision\":5}}" },
                { ETCD_CALL_RANGE, "{\"header\":{\"revision\":\"5x\"}}" },
                { ETCD_CALL_RANGE, "{\"header\":{\"revision\":\" 5\"}}" },
                { ETCD_CALL_RANGE, "{\"header\":{\"revision\":\"+5\"}}" },
                { ETCD_CALL_RANGE, "{\"header\":{\"revision\":\"\"}}" },
                { ETCD_CALL_RANGE, "{\"header\":{\"revision\":\"99999999999999999999\"}}" },
                { ETCD_CALL_RANGE, "{\"count\":2}" },
                { ETCD_CALL_DELETE, "{\"deleted\":1}" },
                { ETCD_CALL_LEASE_GRANT, "{\"ID\":1,\"TTL\":\"5\"}" },
                { ETCD_CALL_LEASE_GRANT, "{\"ID\":\"1\",\"TTL\":5}" },
                { ETCD_CALL_RANGE, "{\"kvs\":[{\"key\":\"YQ==\",\"mod_revision\":4}]}" },
                /* wrong types */
                { ETCD_CALL_RANGE, "{\"header\":[]}" },
                { ETCD_CALL_RANGE, "{\"kvs\":{}}" },
                { ETCD_CALL_RANGE, "{\"kvs\":[1]}" },
                { ETCD_CALL_RANGE, "{\"kvs\":[{\"key\":5}]}" },
                { ETCD_CALL_RANGE, "{\"kvs\":[{\"key\":\"YQ==\",\"value\":true}]}" },
                { ETCD_CALL_RANGE, "{\"more\":\"true\"}" },
                { ETCD_CALL_PUT, "{\"prev_kv\":[]}" },
                { ETCD_CALL_DELETE, "{\"prev_kvs\":{}}" },
                { ETCD_CALL_TXN, "{\"succeeded\":1}" },
                { ETCD_CALL_TXN, "{\"responses\":{}}" },
                { ETCD_CALL_TXN, "{\"responses\":[5]}" },
                { ETCD_CALL_TXN, "{\"responses\":[{\"response_put\":[]}]}" },
                { ETCD_CALL_TXN, "{\"responses\":[{\"response_range\":{\"count\":1}}]}" },
                { ETCD_CALL_LEASE_GRANT, "{\"ID\":\"1\",\"TTL\":\"5\",\"error\":5}" },
                { ETCD_CALL_AUTH, "{\"token\":5}" },
                /* a kv without key, bad base64 */
                { ETCD_CALL_RANGE, "{\"kvs\":[{\"value\":\"YQ==\"}]}" },
                { ETCD_CALL_RANGE, "{\"kvs\":[{\"key\":\"!!!!\"}]}" },
                { ETCD_CALL_RANGE, "{\"kvs\":[{\"key\":\"Y\"}]}" },
                { ETCD_CALL_RANGE, "{\"kvs\":[{\"key\":\"YQ==\",\"value\":\"Y=Q=\"}]}" },
                { ETCD_CALL_PUT, "{\"prev_kv\":{\"key\":\"*\"}}" },
                { ETCD_CALL_TXN, "{\"responses\":[{}]}" },
                /* an answer without what makes it one */
                { ETCD_CALL_LEASE_GRANT, "{\"header\":{}}" },
                { ETCD_CALL_LEASE_GRANT, "{\"ID\":\"1\",\"TTL\":\"0\"}" },
                { ETCD_CALL_AUTH, "{\"header\":{}}" },
                { ETCD_CALL_AUTH, "{\"token\":\"\"}" },
                /* errors of the wrong shape */
                { ETCD_CALL_RANGE, "{\"code\":\"5\",\"message\":\"x\"}" },
                { ETCD_CALL_RANGE, "{\"code\":5,\"message\":5}" },
                { ETCD_CALL_RANGE, "{\"code\":5.5}" },
                { ETCD_CALL_RANGE, "{\"code\":99999999999}" },
                { ETCD_CALL_RANGE, "{\"error\":{\"grpc_code\":\"14\"}}" },
                { ETCD_CALL_RANGE, "{\"error\":{\"grpc_code\":14,\"message\":[]}}" },
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                EtcdAnswer a = { .result.revision = 42 };
                int k = etcd_decode_answer(bad[i].call, bad[i].text, strlen(bad[i].text), &a);

                if (k != -EBADMSG)
                        fprintf(stderr, "accepted: %s\n", bad[i].text);
                ASSERT_INT(k, -EBADMSG);
                ASSERT_INT(a.result.revision, 42);
        }
        ASSERT_INT(etcd_decode_answer(_ETCD_CALL_MAX, "{}", 2, &(EtcdAnswer) {}), -EINVAL);
}

TEST(malformed_watch_lines) {
        static const char *const bad[] = {
                "[1]",
                "5",
                "{\"result\":[]}",
                "{\"result\":{\"created\":\"true\"}}",
                "{\"result\":{\"canceled\":1}}",
                "{\"result\":{\"cancel_reason\":1}}",
                "{\"result\":{\"compact_revision\":6}}",
                "{\"result\":{\"header\":{\"revision\":7}}}",
                "{\"result\":{\"events\":{}}}",
                "{\"result\":{\"events\":[1]}}",
                "{\"result\":{\"events\":[{}]}}",
                "{\"result\":{\"events\":[{\"kv\":{}}]}}",
                "{\"result\":{\"events\":[{\"kv\":{\"key\":\"@@@@\"}}]}}",
                "{\"result\":{\"events\":[{\"type\":\"PATCH\",\"kv\":{\"key\":\"YQ==\"}}]}}",
                "{\"result\":{\"events\":[{\"type\":1,\"kv\":{\"key\":\"YQ==\"}}]}}",
                "{\"result\":{\"events\":[{\"kv\":{\"key\":\"YQ==\",\"mod_revision\":2}}]}}",
                /* the second event spoils the whole line */
                "{\"result\":{\"events\":[{\"kv\":{\"key\":\"YQ==\"}},{\"kv\":{\"key\":\"YQ==\",\"lease\":1}}]}}",
                "{\"error\":{\"grpc_code\":1.5}}",
                "{\"error\":{\"grpc_code\":14,\"message\":{}}}",
                "{\"result\":{}} {}",
                "{\"result\":{}}\n{}",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                EtcdWatchAnswer a = { .revision = 42 };
                int k = etcd_decode_watch_line(bad[i], strlen(bad[i]), &a);

                if (k != -EBADMSG)
                        fprintf(stderr, "accepted: %s\n", bad[i]);
                ASSERT_INT(k, -EBADMSG);
                ASSERT_INT(a.revision, 42);
        }
}

/* ---- the rest ---- */

TEST(error_meaning) {
        ASSERT_INT(etcd_error_to_errno(ETCD_GRPC_PERMISSION_DENIED, "etcdserver: permission denied"), -EACCES);
        ASSERT_INT(etcd_error_to_errno(ETCD_GRPC_OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future "
                                                               "revision"),
                   -EIO);
        ASSERT_INT(etcd_error_to_errno(ETCD_GRPC_UNAVAILABLE, NULL), -EIO);
        ASSERT_TRUE(etcd_error_wants_token(ETCD_GRPC_UNKNOWN, "etcdserver: revision of auth store is old"));
        ASSERT_TRUE(!etcd_error_wants_token(ETCD_GRPC_UNAVAILABLE, NULL));
        ASSERT_TRUE(!etcd_error_auth_disabled(ETCD_GRPC_FAILED_PRECONDITION, NULL));
        ASSERT_INT(etcd_cancel_reason_to_errno(NULL), -EIO);
}

TEST(prefix_end) {
        _cleanup_free_ char *a = etcd_prefix_end("/fleetd/"), *b = etcd_prefix_end(""),
                            *c = etcd_prefix_end("a\xff\xff");

        ASSERT_STR(a, "/fleetd0");
        ASSERT_STR(b, "");
        ASSERT_STR(c, "b");
}

int test_failures = 0;

int main(int argc, char *argv[]) {
        static const TestCase cases[] = {
                T(encode_range),
                T(encode_put_delete_lease_auth),
                T(encode_txn),
                T(encode_watch),
                T(call_paths),
                T(range),
                T(range_missing_limit_count_keys_only),
                T(put_and_delete),
                T(txn_succeeded),
                T(txn_failed),
                T(lease),
                T(errors),
                T(auth_token),
                T(watch_events),
                T(watch_compacted),
                T(watch_canceled),
                T(watch_errors),
                T(watch_nothing),
                T(truncated),
                T(malformed_answers),
                T(malformed_watch_lines),
                T(error_meaning),
                T(prefix_end),
        };

        arg_data_dir = argc > 1 ? argv[1] : getenv("FLEETD_TEST_DATA");
        if (!arg_data_dir) {
                fprintf(stderr, "usage: %s TESTS_DATA_DIR/etcd (or set FLEETD_TEST_DATA)\n", argv[0]);
                return EXIT_FAILURE;
        }
        return run_tests(cases, ELEMENTSOF(cases));
}
