/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* etcd v3's JSON gateway (/v3/...): the request bodies we send and the answers we read (PURE:
 * values in, values out; etcd-client does the I/O).
 *
 * The gateway's habits, as recorded from etcd 3.4 (tests/data/etcd/):
 *   - keys and values are base64; every int64 is a JSON string ("revision":"5"); int32s
 *     (error codes) are JSON numbers;
 *   - zero, false and empty fields are omitted: a missing field is 0, false or "" (a PUT
 *     event has no "type", an empty value no "value", a failed txn no "succeeded");
 *   - a unary error is {"error":"...","message":"...","code":N} with a gRPC code; inside a
 *     stream it is {"error":{"grpc_code":N,"message":"..."}};
 *   - streaming calls (/v3/watch, /v3/lease/keepalive) send one JSON object a line, each
 *     wrapped in {"result":{...}}.
 *
 * Decoders are strict about what they read: wrong JSON types, an int64 that is not a decimal
 * string, bad base64, or an answer that is not a JSON object give -EBADMSG (never a partly
 * filled result). Fields they do not know are ignored. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct EtcdKv {
        char *key;
        char *value;                  /* NUL-terminated; value_len excludes the NUL */
        size_t value_len;
        int64_t create_revision;
        int64_t mod_revision;
        int64_t version;
        int64_t lease;
} EtcdKv;

typedef struct EtcdResult {
        int64_t revision;             /* header.revision of the answer */
        EtcdKv *kvs;                  /* range: the keys read; put with prev_kv: the old one */
        size_t n_kvs;
        int64_t count;                /* range: total matching keys (before limit) */
        bool more;                    /* range: more keys past the limit */
        int64_t deleted;              /* deleterange */
        bool succeeded;               /* txn: the compares held and the success ops ran */
        struct EtcdResult *responses; /* txn: one result per op that ran, in order */
        size_t n_responses;
        int64_t lease_id;             /* lease grant / keepalive */
        int64_t ttl;                  /* lease grant / keepalive: seconds left */
} EtcdResult;

typedef struct EtcdRangeArgs {
        const char *key;
        const char *range_end;        /* NULL: the single key; use etcd_prefix_end() for a prefix;
                                       * "" stands for "\0": every key from key on */
        int64_t limit;                /* 0: no limit */
        int64_t revision;             /* 0: latest */
        bool keys_only;
        bool count_only;
} EtcdRangeArgs;

typedef enum EtcdCompareTarget {
        ETCD_COMPARE_VERSION,
        ETCD_COMPARE_CREATE,          /* create_revision */
        ETCD_COMPARE_MOD,             /* mod_revision */
        ETCD_COMPARE_VALUE,
        ETCD_COMPARE_LEASE,
} EtcdCompareTarget;

typedef enum EtcdCompareResult {
        ETCD_EQUAL,
        ETCD_GREATER,
        ETCD_LESS,
        ETCD_NOT_EQUAL,
} EtcdCompareResult;

typedef struct EtcdCompare {
        const char *key;
        EtcdCompareTarget target;
        EtcdCompareResult result;
        int64_t number;               /* for VERSION, CREATE, MOD, LEASE */
        const char *value;            /* for VALUE */
} EtcdCompare;

typedef enum EtcdOpType {
        ETCD_OP_RANGE,
        ETCD_OP_PUT,
        ETCD_OP_DELETE,
} EtcdOpType;

typedef struct EtcdOp {
        EtcdOpType type;
        const char *key;
        const char *range_end;        /* RANGE and DELETE */
        const char *value;            /* PUT */
        int64_t lease;                /* PUT */
} EtcdOp;

typedef struct EtcdTxn {
        const EtcdCompare *compares;
        size_t n_compares;
        const EtcdOp *success;
        size_t n_success;
        const EtcdOp *failure;
        size_t n_failure;
} EtcdTxn;

typedef enum EtcdEventType {
        ETCD_EVENT_PUT,
        ETCD_EVENT_DELETE,
} EtcdEventType;

typedef struct EtcdEvent {
        EtcdEventType type;
        EtcdKv kv;                    /* for DELETE: key and mod_revision only */
} EtcdEvent;

/* The unary calls, each POSTed to its own path. */
typedef enum EtcdCall {
        ETCD_CALL_RANGE,
        ETCD_CALL_PUT,
        ETCD_CALL_DELETE,
        ETCD_CALL_TXN,
        ETCD_CALL_LEASE_GRANT,
        ETCD_CALL_LEASE_KEEPALIVE,
        ETCD_CALL_LEASE_REVOKE,
        ETCD_CALL_AUTH,
        _ETCD_CALL_MAX,
} EtcdCall;

/* "/v3/kv/range" and so on; NULL for a value out of range. */
const char *etcd_call_path(EtcdCall call);
#define ETCD_WATCH_PATH "/v3/watch"

/* gRPC status codes, as the gateway reports them. */
enum {
        ETCD_GRPC_UNKNOWN = 2,
        ETCD_GRPC_NOT_FOUND = 5,
        ETCD_GRPC_PERMISSION_DENIED = 7,
        ETCD_GRPC_FAILED_PRECONDITION = 9,
        ETCD_GRPC_OUT_OF_RANGE = 11,
        ETCD_GRPC_UNAVAILABLE = 14,
        ETCD_GRPC_UNAUTHENTICATED = 16,
};

/* An error etcd answered with. code 0: none. */
typedef struct EtcdError {
        int code;                     /* gRPC code; never 0 for an error (0 becomes UNKNOWN) */
        char *message;                /* may be NULL */
} EtcdError;

/* ---- request bodies ----
 * Each returns 0 and the body, compact JSON text, in *ret (the caller frees it); -EINVAL for
 * arguments etcd cannot take (a NULL key, a PUT without a value, an unknown compare target,
 * a negative lease, ...); -ENOMEM. */

int etcd_encode_range(const EtcdRangeArgs *args, char **ret);
/* lease 0: no lease. */
int etcd_encode_put(const char *key, const char *value, int64_t lease, char **ret);
int etcd_encode_delete(const char *key, const char *range_end, char **ret);
int etcd_encode_txn(const EtcdTxn *txn, char **ret);
int etcd_encode_lease_grant(int64_t ttl_sec, char **ret);
/* The body of a keepalive or a revoke. */
int etcd_encode_lease_id(int64_t lease_id, char **ret);
int etcd_encode_auth(const char *name, const char *password, char **ret);
/* A watch's create_request; start_revision 0: from now. */
int etcd_encode_watch(const char *key, const char *range_end, int64_t start_revision, char **ret);

/* ---- answers ---- */

typedef struct EtcdAnswer {
        EtcdError error;              /* error.code != 0: etcd refused, result is empty */
        EtcdResult result;
        char *token;                  /* ETCD_CALL_AUTH: the token to send as Authorization */
} EtcdAnswer;

/* Decodes the body of an answer to call (a unary answer, or the one {"result":...} line of a
 * keepalive). Returns 0 with *ret filled: either etcd's error in ret->error or the result; a
 * keepalive of a lease that is gone (no TTL) is the error NOT_FOUND. Returns -EBADMSG for
 * anything malformed (also a grant without TTL, an authentication without token), -ENOMEM.
 * *ret is written only on success; free it with etcd_answer_done(). */
int etcd_decode_answer(EtcdCall call, const char *data, size_t size, EtcdAnswer *ret);
/* Free what the answer, a result or a kv holds and zero it (NULL-safe; usable with _cleanup_). */
void etcd_answer_done(EtcdAnswer *a);
void etcd_result_done(EtcdResult *r);
void etcd_kv_done(EtcdKv *kv);

/* One line of a watch stream. All zero: a line with nothing for us (blank, or neither a
 * result nor an error). */
typedef struct EtcdWatchAnswer {
        EtcdError error;              /* {"error":...}: the stream broke (or never began) */
        int64_t revision;             /* header.revision */
        bool created;
        bool canceled;
        char *cancel_reason;
        int64_t compact_revision;     /* > 0: the start revision was compacted away */
        EtcdEvent *events;            /* in revision order */
        size_t n_events;
} EtcdWatchAnswer;

/* The stream is one JSON object a line. Returns the length of the first complete line in
 * data[0, size), its newline included, or 0 when no newline has come yet. */
size_t etcd_watch_line_length(const char *data, size_t size);
/* Decodes one line (its newline and trailing blanks may be included). Returns 0 with *ret
 * filled, -EBADMSG, -ENOMEM; *ret is written only on success. Free it with
 * etcd_watch_answer_done(). */
int etcd_decode_watch_line(const char *line, size_t len, EtcdWatchAnswer *ret);
/* Frees what the line's answer holds and zeroes it (NULL-safe). */
void etcd_watch_answer_done(EtcdWatchAnswer *a);

/* ---- what an error means ---- */

/* The errno for etcd's error (see etcd-client.h): NOT_FOUND -ENOENT, PERMISSION_DENIED and
 * UNAUTHENTICATED (and failed authentications) -EACCES, OUT_OF_RANGE "compacted" -ESTALE,
 * anything else -EIO. */
int etcd_error_to_errno(int code, const char *message);
/* Whether a fresh token may cure the error: it expired, the auth store changed, or none was
 * sent. Also for a watch's cancel_reason (code 0). */
bool etcd_error_wants_token(int code, const char *message);
/* An authentication answered "authentication is not enabled": go on without a token. */
bool etcd_error_auth_disabled(int code, const char *message);
/* The errno for a watch that etcd canceled with reason (and a fresh token would not cure):
 * -EACCES when permission was denied, -EIO otherwise. */
int etcd_cancel_reason_to_errno(const char *reason);

/* The range_end that selects every key starting with prefix (the prefix with its last
 * byte incremented; "\0" for the empty prefix). Returns a new string or NULL on OOM. */
char *etcd_prefix_end(const char *prefix);
