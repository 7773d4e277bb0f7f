/* SPDX-License-Identifier: Apache-2.0 */
/* etcd v3's JSON gateway: request bodies and answers (PURE). The gateway's habits are listed
 * in etcd-codec.h; tests/data/etcd/ holds answers recorded from a real etcd. */

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>

#include "basic/base64.h"
#include "basic/macros.h"
#include "etcd-codec.h"

static const char *const call_path[_ETCD_CALL_MAX] = {
        [ETCD_CALL_RANGE] = "/v3/kv/range",
        [ETCD_CALL_PUT] = "/v3/kv/put",
        [ETCD_CALL_DELETE] = "/v3/kv/deleterange",
        [ETCD_CALL_TXN] = "/v3/kv/txn",
        [ETCD_CALL_LEASE_GRANT] = "/v3/lease/grant",
        [ETCD_CALL_LEASE_KEEPALIVE] = "/v3/lease/keepalive",
        [ETCD_CALL_LEASE_REVOKE] = "/v3/lease/revoke",
        [ETCD_CALL_AUTH] = "/v3/auth/authenticate",
};

const char *etcd_call_path(EtcdCall call) {
        return (unsigned) call < _ETCD_CALL_MAX ? call_path[call] : NULL;
}

/* ---- request bodies: keys and values base64, every int64 a decimal string ---- */

static json_t *jv_int64(int64_t v) {
        char buf[24];

        snprintf(buf, sizeof(buf), "%" PRIi64, v);
        return json_string(buf);
}

static json_t *jv_base64(const void *p, size_t n) {
        _cleanup_free_ char *s = NULL;

        if (base64_encode(p, n, &s) < 0)
                return NULL;
        return json_string(s);
}

/* Sets o[name] to v, taking v; v == NULL (a failed allocation) fails. */
static int jv_set(json_t *o, const char *name, json_t *v) {
        return json_object_set_new(o, name, v) < 0 ? -ENOMEM : 0;
}

static int jv_set_key(json_t *o, const char *name, const char *s) {
        return jv_set(o, name, jv_base64(s, strlen(s)));
}

/* An empty range_end stands for "\0", every key from key on (see etcd_prefix_end()): encoding
 * one byte of "" encodes its terminating NUL. */
static int jv_set_range_end(json_t *o, const char *range_end) {
        if (!range_end)
                return 0;
        return jv_set(o, "range_end", jv_base64(range_end, MAX(strlen(range_end), (size_t) 1)));
}

/* The gateway omits zero values; so do we. */
static int jv_set_int64_nonzero(json_t *o, const char *name, int64_t v) {
        return v > 0 ? jv_set(o, name, jv_int64(v)) : 0;
}

static int jv_set_true(json_t *o, const char *name, bool b) {
        return b ? jv_set(o, name, json_true()) : 0;
}

/* Dumps o (NULL: a failed allocation) as the body. */
static int body_dump(json_t *o, char **ret) {
        char *s;

        if (!o)
                return -ENOMEM;
        s = json_dumps(o, JSON_COMPACT);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static json_t *body_range(const EtcdRangeArgs *a) {
        json_auto_t *o = json_object();

        if (!o || jv_set_key(o, "key", a->key) < 0 || jv_set_range_end(o, a->range_end) < 0 ||
            jv_set_int64_nonzero(o, "limit", a->limit) < 0 || jv_set_int64_nonzero(o, "revision", a->revision) < 0 ||
            jv_set_true(o, "keys_only", a->keys_only) < 0 || jv_set_true(o, "count_only", a->count_only) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_t *body_put(const char *key, const char *value, int64_t lease) {
        json_auto_t *o = json_object();

        if (!o || jv_set_key(o, "key", key) < 0 || jv_set_key(o, "value", value) < 0 ||
            jv_set_int64_nonzero(o, "lease", lease) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_t *body_delete(const char *key, const char *range_end) {
        json_auto_t *o = json_object();

        if (!o || jv_set_key(o, "key", key) < 0 || jv_set_range_end(o, range_end) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static const char *const compare_target[] = {
        [ETCD_COMPARE_VERSION] = "VERSION",
        [ETCD_COMPARE_CREATE] = "CREATE",
        [ETCD_COMPARE_MOD] = "MOD",
        [ETCD_COMPARE_VALUE] = "VALUE",
        [ETCD_COMPARE_LEASE] = "LEASE",
};

static const char *const compare_field[] = {
        [ETCD_COMPARE_VERSION] = "version",
        [ETCD_COMPARE_CREATE] = "create_revision",
        [ETCD_COMPARE_MOD] = "mod_revision",
        [ETCD_COMPARE_VALUE] = "value",
        [ETCD_COMPARE_LEASE] = "lease",
};

static const char *const compare_result[] = {
        [ETCD_EQUAL] = "EQUAL",
        [ETCD_GREATER] = "GREATER",
        [ETCD_LESS] = "LESS",
        [ETCD_NOT_EQUAL] = "NOT_EQUAL",
};

static json_t *body_compare(const EtcdCompare *cmp) {
        json_auto_t *o = json_object();
        json_t *v;

        if (!o || jv_set_key(o, "key", cmp->key) < 0)
                return NULL;
        v = cmp->target == ETCD_COMPARE_VALUE ? jv_base64(cmp->value, strlen(cmp->value)) : jv_int64(cmp->number);
        if (jv_set(o, compare_field[cmp->target], v) < 0 ||
            jv_set(o, "target", json_string(compare_target[cmp->target])) < 0 ||
            jv_set(o, "result", json_string(compare_result[cmp->result])) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_t *body_op(const EtcdOp *op) {
        json_auto_t *o = json_object();
        int k = -ENOMEM;

        if (!o)
                return NULL;
        switch (op->type) {
        case ETCD_OP_RANGE:
                k = jv_set(o, "request_range",
                           body_range(&(EtcdRangeArgs) { .key = op->key, .range_end = op->range_end }));
                break;
        case ETCD_OP_PUT:
                k = jv_set(o, "request_put", body_put(op->key, op->value, op->lease));
                break;
        case ETCD_OP_DELETE:
                k = jv_set(o, "request_delete_range", body_delete(op->key, op->range_end));
                break;
        }
        return k < 0 ? NULL : TAKE_PTR(o);
}

static json_t *body_ops(const EtcdOp *ops, size_t n) {
        json_auto_t *a = json_array();

        if (!a)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (json_array_append_new(a, body_op(&ops[i])) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

static json_t *body_txn(const EtcdTxn *t) {
        json_auto_t *o = json_object(), *compares = json_array();

        if (!o || !compares)
                return NULL;
        for (size_t i = 0; i < t->n_compares; i++)
                if (json_array_append_new(compares, body_compare(&t->compares[i])) < 0)
                        return NULL;
        if (jv_set(o, "compare", TAKE_PTR(compares)) < 0 ||
            jv_set(o, "success", body_ops(t->success, t->n_success)) < 0 ||
            jv_set(o, "failure", body_ops(t->failure, t->n_failure)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static bool ops_valid(const EtcdOp *ops, size_t n) {
        if (n > 0 && !ops)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!ops[i].key || (unsigned) ops[i].type > ETCD_OP_DELETE ||
                    (ops[i].type == ETCD_OP_PUT && !ops[i].value))
                        return false;
        return true;
}

static bool txn_valid(const EtcdTxn *t) {
        if (!t || (t->n_compares > 0 && !t->compares))
                return false;
        for (size_t i = 0; i < t->n_compares; i++) {
                const EtcdCompare *cmp = &t->compares[i];
                if (!cmp->key || (unsigned) cmp->target > ETCD_COMPARE_LEASE ||
                    (unsigned) cmp->result > ETCD_NOT_EQUAL ||
                    (cmp->target == ETCD_COMPARE_VALUE && !cmp->value))
                        return false;
        }
        return ops_valid(t->success, t->n_success) && ops_valid(t->failure, t->n_failure);
}

int etcd_encode_range(const EtcdRangeArgs *args, char **ret) {
        json_auto_t *o = NULL;

        assert(ret);
        if (!args || !args->key)
                return -EINVAL;
        o = body_range(args);
        return body_dump(o, ret);
}

int etcd_encode_put(const char *key, const char *value, int64_t lease, char **ret) {
        json_auto_t *o = NULL;

        assert(ret);
        if (!key || !value || lease < 0)
                return -EINVAL;
        o = body_put(key, value, lease);
        return body_dump(o, ret);
}

int etcd_encode_delete(const char *key, const char *range_end, char **ret) {
        json_auto_t *o = NULL;

        assert(ret);
        if (!key)
                return -EINVAL;
        o = body_delete(key, range_end);
        return body_dump(o, ret);
}

int etcd_encode_txn(const EtcdTxn *txn, char **ret) {
        json_auto_t *o = NULL;

        assert(ret);
        if (!txn_valid(txn))
                return -EINVAL;
        o = body_txn(txn);
        return body_dump(o, ret);
}

/* {"<name>":"<v>"} */
static int encode_one_int64(const char *name, int64_t v, char **ret) {
        json_auto_t *o = json_object();

        if (!o || jv_set(o, name, jv_int64(v)) < 0)
                return -ENOMEM;
        return body_dump(o, ret);
}

int etcd_encode_lease_grant(int64_t ttl_sec, char **ret) {
        assert(ret);
        if (ttl_sec <= 0)
                return -EINVAL;
        return encode_one_int64("TTL", ttl_sec, ret);
}

int etcd_encode_lease_id(int64_t lease_id, char **ret) {
        assert(ret);
        if (lease_id <= 0)
                return -EINVAL;
        return encode_one_int64("ID", lease_id, ret);
}

int etcd_encode_auth(const char *name, const char *password, char **ret) {
        json_auto_t *o = NULL;

        assert(ret);
        if (!name)
                return -EINVAL;
        o = json_object();
        if (!o || jv_set(o, "name", json_string(name)) < 0 ||
            jv_set(o, "password", json_string(strempty(password))) < 0)
                return -ENOMEM;
        return body_dump(o, ret);
}

int etcd_encode_watch(const char *key, const char *range_end, int64_t start_revision, char **ret) {
        json_auto_t *o = NULL, *create = NULL;

        assert(ret);
        if (!key || start_revision < 0)
                return -EINVAL;
        o = json_object();
        create = json_object();
        if (!o || !create || jv_set_key(create, "key", key) < 0 || jv_set_range_end(create, range_end) < 0 ||
            jv_set_int64_nonzero(create, "start_revision", start_revision) < 0 ||
            jv_set(o, "create_request", TAKE_PTR(create)) < 0)
                return -ENOMEM;
        return body_dump(o, ret);
}

/* ---- strict readers: a missing field is its zero value, a field of the wrong type -EBADMSG ---- */

static int get_object(const json_t *o, const char *name, const json_t **ret) {
        const json_t *v = json_object_get(o, name);

        if (v && !json_is_object(v))
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int get_array(const json_t *o, const char *name, const json_t **ret) {
        const json_t *v = json_object_get(o, name);

        if (v && !json_is_array(v))
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* Missing: NULL. */
static int get_string(const json_t *o, const char *name, const char **ret) {
        const json_t *v = json_object_get(o, name);

        if (v && !json_is_string(v))
                return -EBADMSG;
        *ret = json_string_value(v);
        return 0;
}

static int get_bool(const json_t *o, const char *name, bool *ret) {
        const json_t *v = json_object_get(o, name);

        if (v && !json_is_boolean(v))
                return -EBADMSG;
        *ret = json_is_true(v);
        return 0;
}

/* An int32 (the error codes): a JSON number. */
static int get_int(const json_t *o, const char *name, int *ret) {
        const json_t *v = json_object_get(o, name);
        json_int_t n = json_integer_value(v);

        if (v && (!json_is_integer(v) || n < INT_MIN || n > INT_MAX))
                return -EBADMSG;
        *ret = (int) n;
        return 0;
}

/* An int64: a decimal string, optionally negative, nothing around it. */
static int parse_int64(const char *s, int64_t *ret) {
        long long n;
        char *end;

        if (*s != '-' && (*s < '0' || *s > '9'))
                return -EBADMSG;
        errno = 0;
        n = strtoll(s, &end, 10);
        if (errno != 0 || end == s || *end != 0)
                return -EBADMSG;
        *ret = n;
        return 0;
}

static int get_int64(const json_t *o, const char *name, int64_t *ret) {
        const char *s;
        int k = get_string(o, name, &s);

        if (k < 0)
                return k;
        if (!s) {
                *ret = 0;
                return 0;
        }
        return parse_int64(s, ret);
}

/* Bytes sent as base64; missing: "" (etcd omits empty values). */
static int get_base64(const json_t *o, const char *name, char **ret, size_t *ret_len) {
        const char *s;
        void *p;
        int k = get_string(o, name, &s);

        if (k < 0)
                return k;
        s = strempty(s);
        k = base64_decode(s, strlen(s), &p, ret_len);
        if (k < 0)
                return k == -ENOMEM ? k : -EBADMSG;
        *ret = p;
        return 0;
}

static int get_revision(const json_t *o, int64_t *ret) {
        const json_t *header;
        int k = get_object(o, "header", &header);

        return k < 0 ? k : get_int64(header, "revision", ret);
}

static int dup_string(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

/* ---- answers ---- */

void etcd_kv_done(EtcdKv *kv) {
        if (!kv)
                return;
        free(kv->key);
        free(kv->value);
        *kv = (EtcdKv) {};
}

void etcd_result_done(EtcdResult *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_kvs; i++)
                etcd_kv_done(&r->kvs[i]);
        free(r->kvs);
        for (size_t i = 0; i < r->n_responses; i++)
                etcd_result_done(&r->responses[i]);
        free(r->responses);
        *r = (EtcdResult) {};
}

void etcd_answer_done(EtcdAnswer *a) {
        if (!a)
                return;
        free(a->error.message);
        etcd_result_done(&a->result);
        free(a->token);
        *a = (EtcdAnswer) {};
}

static int decode_kv(const json_t *o, EtcdKv *ret) {
        _cleanup_(etcd_kv_done) EtcdKv kv = {};
        const char *key;
        int k;

        if (!json_is_object(o))
                return -EBADMSG;
        k = get_string(o, "key", &key);
        if (k < 0 || !key)
                return -EBADMSG;
        if ((k = get_base64(o, "key", &kv.key, NULL)) < 0 ||
            (k = get_base64(o, "value", &kv.value, &kv.value_len)) < 0 ||
            (k = get_int64(o, "create_revision", &kv.create_revision)) < 0 ||
            (k = get_int64(o, "mod_revision", &kv.mod_revision)) < 0 ||
            (k = get_int64(o, "version", &kv.version)) < 0 || (k = get_int64(o, "lease", &kv.lease)) < 0)
                return k;
        *ret = kv;
        kv = (EtcdKv) {};
        return 0;
}

/* Appends the kvs of array a (NULL: none) to r->kvs. */
static int decode_kvs(const json_t *a, EtcdResult *r) {
        size_t n = json_array_size(a);

        if (n == 0)
                return 0;
        r->kvs = calloc(n, sizeof(EtcdKv));
        if (!r->kvs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int k = decode_kv(json_array_get(a, i), &r->kvs[i]);
                if (k < 0)
                        return k;
                r->n_kvs++;
        }
        return 0;
}

static int decode_range(const json_t *o, EtcdResult *r) {
        const json_t *kvs;
        int k;

        if ((k = get_int64(o, "count", &r->count)) < 0 || (k = get_bool(o, "more", &r->more)) < 0 ||
            (k = get_array(o, "kvs", &kvs)) < 0)
                return k;
        return decode_kvs(kvs, r);
}

static int decode_put(const json_t *o, EtcdResult *r) {
        const json_t *prev;
        int k = get_object(o, "prev_kv", &prev);

        if (k < 0 || !prev)
                return k;
        r->kvs = calloc(1, sizeof(EtcdKv));
        if (!r->kvs)
                return -ENOMEM;
        k = decode_kv(prev, &r->kvs[0]);
        if (k < 0)
                return k;
        r->n_kvs = 1;
        return 0;
}

static int decode_delete(const json_t *o, EtcdResult *r) {
        const json_t *prev;
        int k;

        if ((k = get_int64(o, "deleted", &r->deleted)) < 0 || (k = get_array(o, "prev_kvs", &prev)) < 0)
                return k;
        return decode_kvs(prev, r);
}

static int decode_result(EtcdCall call, const json_t *o, EtcdResult *ret);

/* One item of a txn's responses: {"response_range"|"response_put"|"response_delete_range":{...}}. */
static int decode_txn_response(const json_t *item, EtcdResult *ret) {
        static const struct {
                const char *name;
                EtcdCall call;
        } kinds[] = {
                { "response_range", ETCD_CALL_RANGE },
                { "response_put", ETCD_CALL_PUT },
                { "response_delete_range", ETCD_CALL_DELETE },
        };

        if (!json_is_object(item))
                return -EBADMSG;
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                const json_t *v = json_object_get(item, kinds[i].name);
                if (v)
                        return json_is_object(v) ? decode_result(kinds[i].call, v, ret) : -EBADMSG;
        }
        return -EBADMSG;
}

static int decode_txn(const json_t *o, EtcdResult *r) {
        const json_t *a;
        size_t n;
        int k;

        if ((k = get_bool(o, "succeeded", &r->succeeded)) < 0 || (k = get_array(o, "responses", &a)) < 0)
                return k;
        n = json_array_size(a);
        if (n == 0)
                return 0;
        r->responses = calloc(n, sizeof(EtcdResult));
        if (!r->responses)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                k = decode_txn_response(json_array_get(a, i), &r->responses[i]);
                if (k < 0)
                        return k;
                r->n_responses++;
        }
        return 0;
}

static int decode_lease(const json_t *o, EtcdResult *r) {
        int k = get_int64(o, "ID", &r->lease_id);

        return k < 0 ? k : get_int64(o, "TTL", &r->ttl);
}

/* The result of call in object o. Zero values are omitted: a missing field means 0 or false. */
static int decode_result(EtcdCall call, const json_t *o, EtcdResult *ret) {
        _cleanup_(etcd_result_done) EtcdResult r = {};
        int k = get_revision(o, &r.revision);

        if (k < 0)
                return k;
        switch (call) {
        case ETCD_CALL_RANGE:
                k = decode_range(o, &r);
                break;
        case ETCD_CALL_PUT:
                k = decode_put(o, &r);
                break;
        case ETCD_CALL_DELETE:
                k = decode_delete(o, &r);
                break;
        case ETCD_CALL_TXN:
                k = decode_txn(o, &r);
                break;
        case ETCD_CALL_LEASE_GRANT:
        case ETCD_CALL_LEASE_KEEPALIVE:
                k = decode_lease(o, &r);
                break;
        default:
                break;
        }
        if (k < 0)
                return k;
        *ret = r;
        r = (EtcdResult) {};
        return 0;
}

static int error_set(EtcdError *e, int code, const char *message) {
        e->code = code != 0 ? code : ETCD_GRPC_UNKNOWN;
        return dup_string(message, &e->message);
}

/* {"error":{"grpc_code":N,"message":"..."}} in a stream, {"error":"...","code":N,"message":"..."}
 * otherwise; ret->code stays 0 when o is no error. */
static int decode_error(const json_t *o, EtcdError *ret) {
        const json_t *e = json_object_get(o, "error");
        const char *message = NULL, *text = NULL;
        int code = 0, k;

        if (json_is_object(e)) {
                if ((k = get_int(e, "grpc_code", &code)) < 0 || (k = get_string(e, "message", &message)) < 0)
                        return k;
        } else if (json_object_get(o, "code")) {
                if ((k = get_int(o, "code", &code)) < 0 || (k = get_string(o, "message", &message)) < 0 ||
                    (k = get_string(o, "error", &text)) < 0)
                        return k;
                message = message ?: text;
        } else
                return 0;
        return error_set(ret, code, message);
}

/* A lease answer carries its own "error" string; a keepalive without TTL means the lease is gone. */
static int decode_lease_status(EtcdCall call, const json_t *o, EtcdAnswer *a) {
        const char *error;
        int k = get_string(o, "error", &error);

        if (k < 0)
                return k;
        if (!isempty(error)) {
                etcd_result_done(&a->result);
                return error_set(&a->error, ETCD_GRPC_UNKNOWN, error);
        }
        if (a->result.ttl > 0)
                return 0;
        if (call != ETCD_CALL_LEASE_KEEPALIVE)
                return -EBADMSG;
        etcd_result_done(&a->result);
        return error_set(&a->error, ETCD_GRPC_NOT_FOUND, "lease not found (keepalive without TTL)");
}

static int decode_token(const json_t *o, EtcdAnswer *a) {
        const char *token;
        int k = get_string(o, "token", &token);

        if (k < 0 || isempty(token))
                return -EBADMSG;
        return dup_string(token, &a->token);
}

int etcd_decode_answer(EtcdCall call, const char *data, size_t size, EtcdAnswer *ret) {
        _cleanup_(etcd_answer_done) EtcdAnswer a = {};
        json_auto_t *j = NULL;
        const json_t *o;
        int k;

        assert(data || size == 0);
        assert(ret);
        if ((unsigned) call >= _ETCD_CALL_MAX)
                return -EINVAL;
        j = json_loadb(data ?: "", size, 0, NULL);
        if (!json_is_object(j))
                return -EBADMSG;
        o = json_object_get(j, "result") ?: j; /* a streaming call's answer (keepalive) */
        if (!json_is_object(o))
                return -EBADMSG;
        k = decode_error(o, &a.error);
        if (k >= 0 && a.error.code == 0) {
                k = decode_result(call, o, &a.result);
                if (k >= 0 && (call == ETCD_CALL_LEASE_GRANT || call == ETCD_CALL_LEASE_KEEPALIVE))
                        k = decode_lease_status(call, o, &a);
                else if (k >= 0 && call == ETCD_CALL_AUTH)
                        k = decode_token(o, &a);
        }
        if (k < 0)
                return k;
        *ret = a;
        a = (EtcdAnswer) {};
        return 0;
}

/* ---- the watch stream ---- */

void etcd_watch_answer_done(EtcdWatchAnswer *a) {
        if (!a)
                return;
        free(a->error.message);
        free(a->cancel_reason);
        for (size_t i = 0; i < a->n_events; i++)
                etcd_kv_done(&a->events[i].kv);
        free(a->events);
        *a = (EtcdWatchAnswer) {};
}

size_t etcd_watch_line_length(const char *data, size_t size) {
        const char *nl = size > 0 ? memchr(data, '\n', size) : NULL;

        return nl ? (size_t) (nl - data) + 1 : 0;
}

/* {"type":"DELETE","kv":{...}}; a PUT has no type. */
static int decode_event(const json_t *o, EtcdEvent *ret) {
        const char *type;
        int k;

        if (!json_is_object(o))
                return -EBADMSG;
        k = get_string(o, "type", &type);
        if (k < 0)
                return k;
        if (!type || streq(type, "PUT"))
                ret->type = ETCD_EVENT_PUT;
        else if (streq(type, "DELETE"))
                ret->type = ETCD_EVENT_DELETE;
        else
                return -EBADMSG;
        return decode_kv(json_object_get(o, "kv"), &ret->kv);
}

static int decode_events(const json_t *a, EtcdWatchAnswer *w) {
        size_t n = json_array_size(a);

        if (n == 0)
                return 0;
        w->events = calloc(n, sizeof(EtcdEvent));
        if (!w->events)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int k = decode_event(json_array_get(a, i), &w->events[i]);
                if (k < 0)
                        return k;
                w->n_events++;
        }
        return 0;
}

static int decode_watch_result(const json_t *o, EtcdWatchAnswer *w) {
        const char *reason;
        const json_t *events;
        int k;

        if ((k = get_revision(o, &w->revision)) < 0 || (k = get_bool(o, "created", &w->created)) < 0 ||
            (k = get_bool(o, "canceled", &w->canceled)) < 0 || (k = get_string(o, "cancel_reason", &reason)) < 0 ||
            (k = get_int64(o, "compact_revision", &w->compact_revision)) < 0 ||
            (k = get_array(o, "events", &events)) < 0 || (k = dup_string(reason, &w->cancel_reason)) < 0)
                return k;
        return decode_events(events, w);
}

int etcd_decode_watch_line(const char *line, size_t len, EtcdWatchAnswer *ret) {
        _cleanup_(etcd_watch_answer_done) EtcdWatchAnswer a = {};
        json_auto_t *j = NULL;
        const json_t *result;
        int k;

        assert(line || len == 0);
        assert(ret);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
                len--;
        if (len > 0) {
                j = json_loadb(line, len, 0, NULL);
                if (!json_is_object(j))
                        return -EBADMSG;
                result = json_object_get(j, "result");
                if (!result)
                        k = decode_error(j, &a.error);
                else
                        k = json_is_object(result) ? decode_watch_result(result, &a) : -EBADMSG;
                if (k < 0)
                        return k;
        }
        *ret = a;
        a = (EtcdWatchAnswer) {};
        return 0;
}

/* ---- what an error means ---- */

static bool message_has(const char *message, const char *what) {
        return message && strstr(message, what);
}

int etcd_error_to_errno(int code, const char *message) {
        switch (code) {
        case ETCD_GRPC_NOT_FOUND:
                return -ENOENT;
        case ETCD_GRPC_PERMISSION_DENIED:
        case ETCD_GRPC_UNAUTHENTICATED:
                return -EACCES;
        case ETCD_GRPC_OUT_OF_RANGE:
                return message_has(message, "compacted") ? -ESTALE : -EIO;
        default:
                if (message_has(message, "authentication failed") || message_has(message, "user name"))
                        return -EACCES;
                return -EIO;
        }
}

bool etcd_error_wants_token(int code, const char *message) {
        return code == ETCD_GRPC_UNAUTHENTICATED || message_has(message, "invalid auth token") ||
                message_has(message, "revision of auth store is old") || message_has(message, "user name is empty");
}

bool etcd_error_auth_disabled(int code, const char *message) {
        return message_has(message, "authentication is not enabled");
}

int etcd_cancel_reason_to_errno(const char *reason) {
        if (message_has(reason, "ermission denied") || message_has(reason, "PermissionDenied"))
                return -EACCES;
        return -EIO;
}

char *etcd_prefix_end(const char *prefix) {
        char *s = strdup(prefix);
        size_t n = strlen(prefix);

        if (!s)
                return NULL;
        /* drop trailing 0xff bytes, increment the last one left; none left: "\0" */
        while (n > 0 && (unsigned char) s[n - 1] == 0xff)
                n--;
        if (n > 0)
                s[n - 1]++;
        s[n] = 0;
        return s;
}
