/* SPDX-License-Identifier: Apache-2.0 */
/* etcd v3 through its JSON gateway, on libcurl's multi interface driven by sd-event.
 *
 * From the bottom up: the glue between curl and sd-event (one io source per socket curl tells
 * us about, one timer); Xfer, one HTTP POST to one endpoint; EtcdRequest, a unary call that
 * fails over between endpoints and re-authenticates once; EtcdWatch, a streaming call that
 * reconnects and resumes; EtcdLease, a keepalive timer on top of requests.
 *
 * Re-entrancy: user callbacks run only after curl_multi_socket_action() has returned, never
 * from inside a curl callback, so they may start, cancel and free anything, the client
 * included. The client and the watches are reference counted for that reason; a request is
 * unlinked from the client before its callback runs. */

#include <curl/curl.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "basic/base64.h"
#include "basic/json-util.h"
#include "basic/strv.h"
#include "etcd-client.h"
#include "log.h"

#define DEFAULT_TIMEOUT (5 * USEC_PER_SEC)
#define RESPONSE_MAX ((size_t) 64 * 1024 * 1024)
#define WATCH_LINE_MAX ((size_t) 16 * 1024 * 1024)
#define WATCH_BACKOFF_MIN (100 * USEC_PER_MSEC)
#define WATCH_BACKOFF_MAX (5 * USEC_PER_SEC)
#define LEASE_RETRY_MIN (200 * USEC_PER_MSEC)
#define TIMER_ACCURACY USEC_PER_MSEC

/* An idle watch learns of a dead peer from TCP keepalive: first probe after 10 s of silence,
 * then every 5 s, given up after 3 unanswered probes (~25 s). */
#define KEEPALIVE_IDLE_SEC 10L
#define KEEPALIVE_INTERVAL_SEC 5L
#define KEEPALIVE_PROBES 3

/* gRPC status codes, as the gateway reports them. */
#define GRPC_UNKNOWN 2
#define GRPC_NOT_FOUND 5
#define GRPC_PERMISSION_DENIED 7
#define GRPC_OUT_OF_RANGE 11
#define GRPC_UNAVAILABLE 14
#define GRPC_UNAUTHENTICATED 16

#define LIST_LINK(head, item)                                   \
        do {                                                    \
                (item)->prev = NULL;                            \
                (item)->next = (head);                          \
                if (head)                                       \
                        (head)->prev = (item);                  \
                (head) = (item);                                \
        } while (0)

#define LIST_UNLINK(head, item)                                 \
        do {                                                    \
                if ((item)->next)                               \
                        (item)->next->prev = (item)->prev;      \
                if ((item)->prev)                               \
                        (item)->prev->next = (item)->next;      \
                else                                            \
                        (head) = (item)->next;                  \
                (item)->next = (item)->prev = NULL;             \
        } while (0)

#define EASY_SETOPT(easy, option, value)                                \
        do {                                                            \
                if (curl_easy_setopt(easy, option, value) != CURLE_OK)  \
                        return -EIO;                                    \
        } while (0)

typedef struct Buffer {
        char *data;
        size_t size;
        size_t allocated;
} Buffer;

typedef enum XferKind {
        XFER_REQUEST,
        XFER_WATCH,
} XferKind;

/* One HTTP POST to one endpoint. First member of EtcdRequest and EtcdWatch, so that
 * CURLOPT_PRIVATE can point here and the kind tells which one it is. */
typedef struct Xfer {
        XferKind kind;
        CURL *easy;
        struct curl_slist *headers;
        size_t endpoint;                /* index into client->endpoints */
        unsigned token_generation;      /* of the token sent */
} Xfer;

typedef struct EtcdSocket EtcdSocket;
struct EtcdSocket {
        EtcdClient *client;
        sd_event_source *source;
        EtcdSocket *next, *prev;
};

typedef enum RequestKind {
        REQ_RANGE,
        REQ_PUT,
        REQ_DELETE,
        REQ_TXN,
        REQ_LEASE_GRANT,
        REQ_LEASE_KEEPALIVE,
        REQ_LEASE_REVOKE,
        REQ_AUTH,
        _REQ_MAX,
} RequestKind;

typedef enum RequestState {
        REQUEST_WAITING_AUTH,
        REQUEST_RUNNING,
        REQUEST_DONE,
} RequestState;

struct EtcdRequest {
        Xfer xfer;
        EtcdClient *client;             /* NULL once done or when the client went away */
        EtcdRequest *next, *prev;
        RequestKind kind;
        RequestState state;
        char *body;
        Buffer response;
        int write_error;
        size_t n_tried;                 /* endpoints that failed so far */
        unsigned auth_generation;       /* the authentication it waits for */
        bool reauthed;
        bool floating;
        etcd_callback_t callback;
        void *userdata;
};

typedef enum WatchState {
        WATCH_IDLE,                     /* waiting for the retry timer */
        WATCH_WAITING_AUTH,
        WATCH_CONNECTING,               /* stream open, "created" not seen yet */
        WATCH_STREAMING,
        WATCH_DEAD,                     /* stopped for good (error, or client gone) */
} WatchState;

struct EtcdWatch {
        Xfer xfer;
        unsigned n_ref;
        EtcdClient *client;
        EtcdWatch *next, *prev;
        WatchState state;
        char *key;
        char *range_end;
        int64_t last_revision;          /* last delivered, or where the stream was created */
        bool revision_known;            /* false: started from "now" and not created yet */
        Buffer buf;                     /* received, not yet parsed */
        size_t tail;                    /* bytes after the last newline in buf */
        bool pending;                   /* buf holds complete lines */
        int write_error;
        bool reauthed;
        bool failed_attempt;            /* the last connection ended before "created" */
        unsigned auth_generation;
        usec_t backoff;
        sd_event_source *timer;         /* retry, or the deadline for "created" */
        etcd_watch_callback_t callback;
        void *userdata;
};

struct EtcdLease {
        EtcdClient *client;
        EtcdLease *next, *prev;
        int64_t id;
        int64_t ttl;
        usec_t backoff;
        sd_event_source *timer;
        EtcdRequest *request;           /* the keepalive in flight */
        etcd_lease_lost_t on_lost;
        void *userdata;
};

struct EtcdClient {
        unsigned n_ref;
        bool closed;
        bool curl_initialized;
        sd_event *event;
        CURLM *multi;
        sd_event_source *curl_timer;
        EtcdSocket *sockets;

        char **endpoints;
        size_t n_endpoints;
        size_t current;                 /* where the next request starts */
        char *cafile, *certfile, *keyfile;
        char *username, *password;
        usec_t timeout;

        char *token;                    /* "" when the server has auth disabled */
        unsigned token_generation;
        EtcdRequest *auth;              /* the authentication in flight */
        unsigned auth_generation;

        EtcdRequest *requests;
        EtcdWatch *watches;
        EtcdLease *leases;
};

static const char *const request_path[_REQ_MAX] = {
        [REQ_RANGE] = "/v3/kv/range",
        [REQ_PUT] = "/v3/kv/put",
        [REQ_DELETE] = "/v3/kv/deleterange",
        [REQ_TXN] = "/v3/kv/txn",
        [REQ_LEASE_GRANT] = "/v3/lease/grant",
        [REQ_LEASE_KEEPALIVE] = "/v3/lease/keepalive",
        [REQ_LEASE_REVOKE] = "/v3/lease/revoke",
        [REQ_AUTH] = "/v3/auth/authenticate",
};

static void client_dispatch(EtcdClient *c);
static int request_launch(EtcdRequest *r);
static void request_finish(EtcdRequest *r, int error, const EtcdResult *result);
static void watch_on_done(EtcdWatch *w, CURLcode cc);
static int watch_connect(EtcdWatch *w);
static void watch_retry(EtcdWatch *w, bool failed);
static void watch_fail(EtcdWatch *w, int error);

/* ---- small helpers ---- */

static void buffer_clear(Buffer *b) {
        free(b->data);
        *b = (Buffer) {};
}

/* Appends n bytes and keeps a NUL after them; refuses to grow past max bytes. */
static int buffer_append(Buffer *b, const void *p, size_t n, size_t max) {
        if (n > max || b->size > max - n)
                return -EFBIG;
        if (b->size + n + 1 > b->allocated) {
                size_t a = MIN(MAX(b->allocated * 2, (size_t) 4096), max + 1);
                char *d;

                a = MAX(a, b->size + n + 1);
                d = realloc(b->data, a);
                if (!d)
                        return -ENOMEM;
                b->data = d;
                b->allocated = a;
        }
        memcpy(b->data + b->size, p, n);
        b->size += n;
        b->data[b->size] = 0;
        return 0;
}

/* Arms the one-shot timer *t to fire after delay, creating it on first use. */
static int timer_arm(EtcdClient *c, sd_event_source **t, usec_t delay,
                     sd_event_time_handler_t handler, void *userdata, const char *description) {
        usec_t when = now_usec(CLOCK_MONOTONIC) + delay;
        int k;

        if (!*t) {
                k = sd_event_add_time(c->event, t, CLOCK_MONOTONIC, when, TIMER_ACCURACY, handler, userdata);
                if (k < 0)
                        return k;
                (void) sd_event_source_set_description(*t, description);
                return 0;
        }
        k = sd_event_source_set_time(*t, when);
        if (k < 0)
                return k;
        return sd_event_source_set_enabled(*t, SD_EVENT_ONESHOT);
}

static int errno_from_curl(CURLcode cc) {
        switch (cc) {
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
                return -EACCES;
        default:
                /* refused, reset, closed early, unresolvable: the endpoint cannot be reached */
                return -ECONNREFUSED;
        }
}

static bool message_has(const char *message, const char *what) {
        return message && strstr(message, what);
}

static int errno_from_grpc(int code, const char *message) {
        switch (code) {
        case GRPC_NOT_FOUND:
                return -ENOENT;
        case GRPC_PERMISSION_DENIED:
        case GRPC_UNAUTHENTICATED:
                return -EACCES;
        case GRPC_OUT_OF_RANGE:
                return message_has(message, "compacted") ? -ESTALE : -EIO;
        default:
                if (message_has(message, "authentication failed") || message_has(message, "user name"))
                        return -EACCES;
                return -EIO;
        }
}

/* Whether a fresh token may cure the error: it expired, the auth store changed, or none was sent. */
static bool grpc_wants_token(int code, const char *message) {
        return code == GRPC_UNAUTHENTICATED ||
                message_has(message, "invalid auth token") ||
                message_has(message, "revision of auth store is old") ||
                message_has(message, "user name is empty");
}

/* The gateway answers errors as {"error":"...","code":N,"message":"..."}, and inside a stream as
 * {"error":{"grpc_code":N,"message":"..."}}. Returns the gRPC code, or 0 when o is no error. */
static int gateway_error(const json_t *o, const char **ret_message) {
        const json_t *e = json_object_get(o, "error");
        int code;

        if (json_is_object(e)) {
                code = (int) jx_int64(e, "grpc_code", GRPC_UNKNOWN);
                *ret_message = jx_str(e, "message");
        } else if (json_is_integer(json_object_get(o, "code"))) {
                code = (int) jx_int64(o, "code", GRPC_UNKNOWN);
                *ret_message = jx_str(o, "message") ?: jx_str(o, "error");
        } else
                return 0;
        return code != 0 ? code : GRPC_UNKNOWN;
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

static int body_set_key(json_t *o, const char *name, const char *s) {
        return jv_set(o, name, jv_base64(s, strlen(s)));
}

/* An empty range_end stands for "\0", every key from key on (see etcd_prefix_end()): encoding
 * one byte of "" encodes its terminating NUL. */
static int body_set_range_end(json_t *o, const char *range_end) {
        if (!range_end)
                return 0;
        return jv_set(o, "range_end", jv_base64(range_end, MAX(strlen(range_end), (size_t) 1)));
}

static json_t *body_range(const EtcdRangeArgs *a) {
        json_auto_t *o = json_object();

        if (!o || body_set_key(o, "key", a->key) < 0 || body_set_range_end(o, a->range_end) < 0)
                return NULL;
        if (a->limit > 0 && jv_set(o, "limit", jv_int64(a->limit)) < 0)
                return NULL;
        if (a->revision > 0 && jv_set(o, "revision", jv_int64(a->revision)) < 0)
                return NULL;
        if (a->keys_only && jv_set(o, "keys_only", json_true()) < 0)
                return NULL;
        if (a->count_only && jv_set(o, "count_only", json_true()) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_t *body_put(const char *key, const char *value, int64_t lease) {
        json_auto_t *o = json_object();

        if (!o || body_set_key(o, "key", key) < 0 || body_set_key(o, "value", value) < 0)
                return NULL;
        if (lease != 0 && jv_set(o, "lease", jv_int64(lease)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_t *body_delete(const char *key, const char *range_end) {
        json_auto_t *o = json_object();

        if (!o || body_set_key(o, "key", key) < 0 || body_set_range_end(o, range_end) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_t *body_lease(int64_t id) {
        json_auto_t *o = json_object();

        if (!o || jv_set(o, "ID", jv_int64(id)) < 0)
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

        if (!o || body_set_key(o, "key", cmp->key) < 0)
                return NULL;
        v = cmp->target == ETCD_COMPARE_VALUE ? jv_base64(cmp->value, strlen(cmp->value))
                                              : jv_int64(cmp->number);
        if (jv_set(o, compare_field[cmp->target], v) < 0 ||
            jv_set(o, "target", json_string(compare_target[cmp->target])) < 0 ||
            jv_set(o, "result", json_string(compare_result[cmp->result])) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_t *body_op(const EtcdOp *op) {
        json_auto_t *o = json_object();

        if (!o)
                return NULL;
        switch (op->type) {
        case ETCD_OP_RANGE:
                if (jv_set(o, "request_range",
                           body_range(&(EtcdRangeArgs) { .key = op->key, .range_end = op->range_end })) < 0)
                        return NULL;
                break;
        case ETCD_OP_PUT:
                if (jv_set(o, "request_put", body_put(op->key, op->value, op->lease)) < 0)
                        return NULL;
                break;
        case ETCD_OP_DELETE:
                if (jv_set(o, "request_delete_range", body_delete(op->key, op->range_end)) < 0)
                        return NULL;
                break;
        }
        return TAKE_PTR(o);
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

/* ---- answers ---- */

static void kv_clear(EtcdKv *kv) {
        free(kv->key);
        free(kv->value);
        *kv = (EtcdKv) {};
}

static void result_clear(EtcdResult *r) {
        for (size_t i = 0; i < r->n_kvs; i++)
                kv_clear(&r->kvs[i]);
        free(r->kvs);
        for (size_t i = 0; i < r->n_responses; i++)
                result_clear(&r->responses[i]);
        free(r->responses);
        *r = (EtcdResult) {};
}

static int decode_base64(const char *s, char **ret, size_t *ret_len) {
        void *p;
        int k;

        s = strempty(s);  /* etcd omits empty values */
        k = base64_decode(s, strlen(s), &p, ret_len);
        if (k < 0)
                return k == -ENOMEM ? k : -EBADMSG;
        *ret = p;
        return 0;
}

static int parse_kv(const json_t *o, EtcdKv *ret) {
        _cleanup_free_ char *key = NULL, *value = NULL;
        size_t value_len = 0;
        int k;

        if (!json_is_object(o) || !jx_str(o, "key"))
                return -EBADMSG;
        k = decode_base64(jx_str(o, "key"), &key, NULL);
        if (k >= 0)
                k = decode_base64(jx_str(o, "value"), &value, &value_len);
        if (k < 0)
                return k;
        *ret = (EtcdKv) {
                .key = TAKE_PTR(key),
                .value = TAKE_PTR(value),
                .value_len = value_len,
                .create_revision = jx_int64(o, "create_revision", 0),
                .mod_revision = jx_int64(o, "mod_revision", 0),
                .version = jx_int64(o, "version", 0),
                .lease = jx_int64(o, "lease", 0),
        };
        return 0;
}

/* Fills r->kvs from a JSON array of kvs, or from a single kv object. */
static int parse_kvs(const json_t *v, EtcdResult *r) {
        size_t n = json_is_array(v) ? json_array_size(v) : v ? 1 : 0;

        if (n == 0)
                return 0;
        r->kvs = calloc(n, sizeof(EtcdKv));
        if (!r->kvs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int k = parse_kv(json_is_array(v) ? json_array_get(v, i) : v, &r->kvs[i]);
                if (k < 0)
                        return k;
                r->n_kvs++;
        }
        return 0;
}

static int parse_answer(RequestKind kind, const json_t *o, EtcdResult *ret);

static int parse_txn_responses(const json_t *a, EtcdResult *r) {
        size_t n = json_array_size(a);

        if (n == 0)
                return 0;
        r->responses = calloc(n, sizeof(EtcdResult));
        if (!r->responses)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const json_t *item = json_array_get(a, i), *v;
                RequestKind kind;
                int k;

                if ((v = json_object_get(item, "response_range")))
                        kind = REQ_RANGE;
                else if ((v = json_object_get(item, "response_put")))
                        kind = REQ_PUT;
                else if ((v = json_object_get(item, "response_delete_range")))
                        kind = REQ_DELETE;
                else
                        return -EBADMSG;
                k = parse_answer(kind, v, &r->responses[i]);
                if (k < 0)
                        return k;
                r->n_responses++;
        }
        return 0;
}

/* Zero values are omitted by the gateway: a missing field means 0 or false. */
static int parse_answer(RequestKind kind, const json_t *o, EtcdResult *ret) {
        _cleanup_(result_clear) EtcdResult r = {
                .revision = jx_int64(json_object_get(o, "header"), "revision", 0),
        };
        int k = 0;

        switch (kind) {
        case REQ_RANGE:
                r.count = jx_int64(o, "count", 0);
                r.more = jx_bool(o, "more", false);
                k = parse_kvs(json_object_get(o, "kvs"), &r);
                break;
        case REQ_PUT:
                k = parse_kvs(json_object_get(o, "prev_kv"), &r);
                break;
        case REQ_DELETE:
                r.deleted = jx_int64(o, "deleted", 0);
                k = parse_kvs(json_object_get(o, "prev_kvs"), &r);
                break;
        case REQ_TXN:
                r.succeeded = jx_bool(o, "succeeded", false);
                k = parse_txn_responses(json_object_get(o, "responses"), &r);
                break;
        case REQ_LEASE_GRANT:
        case REQ_LEASE_KEEPALIVE:
                r.lease_id = jx_int64(o, "ID", 0);
                r.ttl = jx_int64(o, "TTL", 0);
                if (!isempty(jx_str(o, "error")))
                        k = -EIO;
                else if (r.ttl <= 0) /* keepalive of a lease that is gone: no TTL */
                        k = kind == REQ_LEASE_KEEPALIVE ? -ENOENT : -EBADMSG;
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

/* ---- curl on sd-event ---- */

static EtcdClient *client_ref(EtcdClient *c) {
        c->n_ref++;
        return c;
}

static void client_destroy(EtcdClient *c);

static void client_unref(EtcdClient *c) {
        if (c && --c->n_ref == 0)
                client_destroy(c);
}

static void socket_free(EtcdSocket *s) {
        if (!s)
                return;
        LIST_UNLINK(s->client->sockets, s);
        sd_event_source_disable_unref(s->source);
        free(s);
}

static void client_socket_action(EtcdClient *c, curl_socket_t fd, int mask) {
        int running;

        client_ref(c);
        if (curl_multi_socket_action(c->multi, fd, mask, &running) != CURLM_OK)
                log_debug("etcd: curl_multi_socket_action() failed.");
        client_dispatch(c);
        client_unref(c);
}

static int on_socket_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        EtcdSocket *s = userdata;
        int mask = 0;

        if (revents & (EPOLLIN | EPOLLHUP))
                mask |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                mask |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                mask |= CURL_CSELECT_ERR;
        client_socket_action(s->client, fd, mask);  /* s may be gone now */
        return 0;
}

static int socket_add(EtcdClient *c, curl_socket_t fd, uint32_t events) {
        _cleanup_free_ EtcdSocket *s = calloc(1, sizeof(EtcdSocket));
        int k;

        if (!s)
                return -ENOMEM;
        s->client = c;
        k = sd_event_add_io(c->event, &s->source, fd, events, on_socket_io, s);
        if (k < 0)
                return k;
        if (curl_multi_assign(c->multi, fd, s) != CURLM_OK) {
                sd_event_source_unref(s->source);
                return -EIO;
        }
        (void) sd_event_source_set_description(s->source, "etcd-socket");
        LIST_LINK(c->sockets, s);
        TAKE_PTR(s);
        return 0;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        EtcdClient *c = userp;
        EtcdSocket *s = socketp;
        uint32_t events = 0;

        if (what == CURL_POLL_REMOVE) {
                socket_free(s);
                return 0;
        }
        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;
        if (s)
                return sd_event_source_set_io_events(s->source, events) < 0 ? -1 : 0;
        return socket_add(c, fd, events) < 0 ? -1 : 0;
}

static int on_curl_timer_fired(sd_event_source *source, uint64_t usec, void *userdata) {
        client_socket_action(userdata, CURL_SOCKET_TIMEOUT, 0);
        return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
        EtcdClient *c = userp;

        if (timeout_ms < 0)
                return sd_event_source_set_enabled(c->curl_timer, SD_EVENT_OFF) < 0 ? -1 : 0;
        if (timer_arm(c, &c->curl_timer, (usec_t) timeout_ms * USEC_PER_MSEC,
                      on_curl_timer_fired, c, "etcd-curl-timer") < 0)
                return -1;
        return 0;
}

/* curl does not ask for SOCK_CLOEXEC itself. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
        return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static int on_socket_options(void *clientp, curl_socket_t fd, curlsocktype purpose) {
        int probes = KEEPALIVE_PROBES;

        (void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
        return CURL_SOCKOPT_OK;
}

static EtcdWatch *client_find_pending_watch(EtcdClient *c);
static void watch_process(EtcdWatch *w);
static EtcdWatch *watch_ref(EtcdWatch *w);
static void watch_unref(EtcdWatch *w);
static void request_on_done(EtcdRequest *r, CURLcode cc);

/* Runs what a socket action produced: buffered watch lines first, then finished transfers.
 * Called with a reference on c, so callbacks may free it. */
static void client_dispatch(EtcdClient *c) {
        EtcdWatch *w;
        CURLMsg *m;
        int left;

        while (!c->closed && (w = client_find_pending_watch(c))) {
                watch_ref(w);
                watch_process(w);
                watch_unref(w);
        }
        while (!c->closed && (m = curl_multi_info_read(c->multi, &left))) {
                CURLcode cc = m->data.result;
                char *p = NULL;
                Xfer *x;

                if (m->msg != CURLMSG_DONE ||
                    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p) != CURLE_OK || !p)
                        continue;
                x = (Xfer *) p;
                if (x->kind == XFER_REQUEST)
                        request_on_done((EtcdRequest *) x, cc);
                else
                        watch_on_done((EtcdWatch *) x, cc);
        }
}

/* ---- one HTTP POST ---- */

static void xfer_stop(EtcdClient *c, Xfer *x) {
        if (x->easy) {
                (void) curl_multi_remove_handle(c->multi, x->easy);
                curl_easy_cleanup(x->easy);
                x->easy = NULL;
        }
        curl_slist_free_all(x->headers);
        x->headers = NULL;
}

static int xfer_headers(EtcdClient *c, Xfer *x, bool with_token) {
        _cleanup_free_ char *authorization = NULL;
        const char *h[] = { "Content-Type: application/json", "Expect:", NULL };

        if (with_token && !isempty(c->token)) {
                if (asprintf(&authorization, "Authorization: %s", c->token) < 0)
                        return -ENOMEM;
                h[2] = authorization;
        }
        for (size_t i = 0; i < ELEMENTSOF(h) && h[i]; i++) {
                struct curl_slist *l = curl_slist_append(x->headers, h[i]);
                if (!l)
                        return -ENOMEM;
                x->headers = l;
        }
        x->token_generation = c->token_generation;
        return 0;
}

static int xfer_options(EtcdClient *c, Xfer *x, const char *url, const char *body, bool stream,
                        curl_write_callback write_cb, void *write_data) {
        long ms = (long) MAX(c->timeout / USEC_PER_MSEC, (usec_t) 1);
        CURL *e = x->easy;

        EASY_SETOPT(e, CURLOPT_URL, url);
        EASY_SETOPT(e, CURLOPT_PRIVATE, (void *) x);
        EASY_SETOPT(e, CURLOPT_HTTPHEADER, x->headers);
        EASY_SETOPT(e, CURLOPT_COPYPOSTFIELDS, body);
        EASY_SETOPT(e, CURLOPT_WRITEFUNCTION, write_cb);
        EASY_SETOPT(e, CURLOPT_WRITEDATA, write_data);
        EASY_SETOPT(e, CURLOPT_NOSIGNAL, 1L);
        EASY_SETOPT(e, CURLOPT_PROXY, "");  /* no proxy from the environment */
        EASY_SETOPT(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
        EASY_SETOPT(e, CURLOPT_SOCKOPTFUNCTION, on_socket_options);
        EASY_SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, ms);
        /* A watch is idle for as long as nothing changes: no total timeout, no low-speed
         * limit, only TCP keepalive to notice a peer that went away. */
        if (!stream)
                EASY_SETOPT(e, CURLOPT_TIMEOUT_MS, ms);
        EASY_SETOPT(e, CURLOPT_TCP_KEEPALIVE, 1L);
        EASY_SETOPT(e, CURLOPT_TCP_KEEPIDLE, KEEPALIVE_IDLE_SEC);
        EASY_SETOPT(e, CURLOPT_TCP_KEEPINTVL, KEEPALIVE_INTERVAL_SEC);
        if (c->cafile)
                EASY_SETOPT(e, CURLOPT_CAINFO, c->cafile);
        if (c->certfile)
                EASY_SETOPT(e, CURLOPT_SSLCERT, c->certfile);
        if (c->keyfile)
                EASY_SETOPT(e, CURLOPT_SSLKEY, c->keyfile);
        return 0;
}

/* Starts POST path on endpoint x->endpoint. */
static int xfer_start(EtcdClient *c, Xfer *x, const char *path, const char *body, bool stream,
                      bool with_token, curl_write_callback write_cb, void *write_data) {
        _cleanup_free_ char *url = NULL;
        int k;

        xfer_stop(c, x);
        if (asprintf(&url, "%s%s", c->endpoints[x->endpoint], path) < 0)
                return -ENOMEM;
        x->easy = curl_easy_init();
        if (!x->easy)
                return -ENOMEM;
        k = xfer_headers(c, x, with_token);
        if (k >= 0)
                k = xfer_options(c, x, url, body, stream, write_cb, write_data);
        if (k >= 0 && curl_multi_add_handle(c->multi, x->easy) != CURLM_OK)
                k = -EIO;
        if (k < 0)
                xfer_stop(c, x);
        return k;
}

/* ---- requests ---- */

static bool client_needs_token(EtcdClient *c) {
        return c->username && !c->token;
}

static void client_forget_token(EtcdClient *c, unsigned generation) {
        /* only if nobody fetched a newer one meanwhile */
        if (generation == c->token_generation) {
                free(c->token);
                c->token = NULL;
        }
}

static EtcdRequest *request_free(EtcdRequest *r) {
        if (!r)
                return NULL;
        if (r->client) {
                xfer_stop(r->client, &r->xfer);
                LIST_UNLINK(r->client->requests, r);
        }
        free(r->body);
        buffer_clear(&r->response);
        free(r);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(EtcdRequest *, request_free);

EtcdRequest *etcd_request_cancel(EtcdRequest *r) {
        return request_free(r);
}

static void request_detach(EtcdRequest *r) {
        EtcdClient *c = r->client;

        if (!c)
                return;
        xfer_stop(c, &r->xfer);
        LIST_UNLINK(c->requests, r);
        r->client = NULL;
        r->state = REQUEST_DONE;
        /* an owned handle may live on for long: keep only what is needed to free it */
        buffer_clear(&r->response);
        free(r->body);
        r->body = NULL;
}

/* Calls back once. The request is unlinked first, so the callback may cancel it or free the
 * client; an owned request is not touched afterwards. */
static void request_finish(EtcdRequest *r, int error, const EtcdResult *result) {
        EtcdClient *c = r->client;
        bool floating = r->floating;  /* an owned r may be gone after the callback */

        if (error < 0)
                log_debug_errno(error, "etcd: %s failed: %m", request_path[r->kind]);
        request_detach(r);
        if (r->callback)
                r->callback(c, error, error < 0 ? NULL : result, r->userdata);
        if (floating)
                request_free(r);
}

static size_t request_write(char *p, size_t size, size_t n, void *userdata) {
        EtcdRequest *r = userdata;
        int k;

        k = buffer_append(&r->response, p, size * n, RESPONSE_MAX);
        if (k < 0) {
                r->write_error = k == -EFBIG ? -EBADMSG : k;
                log_debug("etcd: answer to %s exceeds %zu bytes.", request_path[r->kind], RESPONSE_MAX);
                return 0;
        }
        return size * n;
}

static int client_authenticate(EtcdClient *c);

static int request_launch(EtcdRequest *r) {
        EtcdClient *c = r->client;
        int k;

        buffer_clear(&r->response);
        r->write_error = 0;
        if (r->kind != REQ_AUTH && client_needs_token(c)) {
                xfer_stop(c, &r->xfer);
                k = client_authenticate(c);
                if (k < 0)
                        return k;
                r->state = REQUEST_WAITING_AUTH;
                r->auth_generation = c->auth_generation;
                return 0;
        }
        k = xfer_start(c, &r->xfer, request_path[r->kind], r->body, false, r->kind != REQ_AUTH,
                       request_write, r);
        if (k < 0)
                return k;
        r->state = REQUEST_RUNNING;
        return 0;
}

/* Reads, lease keepalives and grants (a stray lease just expires) may be sent twice. */
static bool request_idempotent(RequestKind kind) {
        return kind == REQ_RANGE || kind == REQ_LEASE_KEEPALIVE || kind == REQ_LEASE_GRANT || kind == REQ_AUTH;
}

static bool request_may_resend(EtcdRequest *r) {
        long sent = 0;

        if (request_idempotent(r->kind))
                return true;
        /* A write that reached a server may have been applied: report the failure instead of
         * applying it twice (the caller re-reads). */
        (void) curl_easy_getinfo(r->xfer.easy, CURLINFO_REQUEST_SIZE, &sent);
        return sent == 0;
}

/* The attempt on one endpoint failed in transport: move on to the next endpoint, unless every
 * endpoint was tried or a write may already have been applied. */
static void request_attempt_failed(EtcdRequest *r, int error) {
        EtcdClient *c = r->client;
        size_t failed = r->xfer.endpoint;
        int k;

        log_debug_errno(error, "etcd: %s on %s failed: %m", request_path[r->kind], c->endpoints[failed]);
        if (c->current == failed)  /* let the next request start elsewhere */
                c->current = (failed + 1) % c->n_endpoints;
        if (++r->n_tried >= c->n_endpoints || !request_may_resend(r)) {
                request_finish(r, error, NULL);
                return;
        }
        r->xfer.endpoint = (failed + 1) % c->n_endpoints;
        k = request_launch(r);
        if (k < 0)
                request_finish(r, k, NULL);
}

static void request_on_etcd_error(EtcdRequest *r, int code, const char *message) {
        EtcdClient *c = r->client;
        int k;

        log_debug("etcd: %s on %s: %s (code %d)", request_path[r->kind],
                  c->endpoints[r->xfer.endpoint], strna(message), code);
        if (r->kind == REQ_AUTH && message_has(message, "authentication is not enabled")) {
                /* credentials configured, auth off on the server: go on without a token */
                k = free_and_strdup(&c->token, "");
                request_finish(r, k, &(EtcdResult) {});
                return;
        }
        if (r->kind != REQ_AUTH && c->username && !r->reauthed && grpc_wants_token(code, message)) {
                r->reauthed = true;
                client_forget_token(c, r->xfer.token_generation);
                k = request_launch(r);
                if (k < 0)
                        request_finish(r, k, NULL);
                return;
        }
        if (code == GRPC_UNAVAILABLE) {  /* no leader, shutting down: another member may do */
                request_attempt_failed(r, -EIO);
                return;
        }
        request_finish(r, errno_from_grpc(code, message), NULL);
}

static int request_parse(EtcdRequest *r, const json_t *o, EtcdResult *ret) {
        EtcdClient *c = r->client;
        const char *token;

        if (r->kind != REQ_AUTH)
                return parse_answer(r->kind, o, ret);
        token = jx_str(o, "token");
        if (isempty(token))
                return -EBADMSG;
        if (free_and_strdup(&c->token, token) < 0)
                return -ENOMEM;
        c->token_generation++;
        return 0;
}

static void request_on_done(EtcdRequest *r, CURLcode cc) {
        _cleanup_(result_clear) EtcdResult result = {};
        json_auto_t *j = NULL;
        const char *message = NULL;
        const json_t *o;
        long status = 0;
        int code, k;

        if (cc != CURLE_OK) {
                if (r->write_error < 0)
                        request_finish(r, r->write_error, NULL);
                else
                        request_attempt_failed(r, errno_from_curl(cc));
                return;
        }
        (void) curl_easy_getinfo(r->xfer.easy, CURLINFO_RESPONSE_CODE, &status);
        j = json_loadb(r->response.data ?: "", r->response.size, 0, NULL);
        if (!j) {
                if (status >= 500)
                        request_attempt_failed(r, -EIO);
                else
                        request_finish(r, -EBADMSG, NULL);
                return;
        }
        o = json_object_get(j, "result") ?: j;  /* streaming calls (keepalive) wrap their answer */
        code = gateway_error(o, &message);
        if (code != 0) {
                request_on_etcd_error(r, code, message);
                return;
        }
        k = status / 100 == 2 ? request_parse(r, o, &result) : -EIO;
        if (k >= 0)
                r->client->current = r->xfer.endpoint;
        request_finish(r, k, &result);
}

/* Queues a request; ret NULL makes it floating. body is not taken. */
static int client_submit(EtcdClient *c, RequestKind kind, const json_t *body,
                         etcd_callback_t cb, void *userdata, EtcdRequest **ret) {
        _cleanup_(request_freep) EtcdRequest *r = NULL;
        int k;

        if (!body)
                return -ENOMEM;
        r = calloc(1, sizeof(EtcdRequest));
        if (!r)
                return -ENOMEM;
        *r = (EtcdRequest) {
                .xfer.kind = XFER_REQUEST,
                .xfer.endpoint = c->current,
                .kind = kind,
                .floating = !ret,
                .callback = cb,
                .userdata = userdata,
        };
        r->body = json_dumps(body, JSON_COMPACT);
        if (!r->body)
                return -ENOMEM;
        r->client = c;
        LIST_LINK(c->requests, r);
        k = request_launch(r);
        if (k < 0)
                return k;
        if (ret)
                *ret = r;
        TAKE_PTR(r);
        return 0;
}

/* ---- authentication ---- */

static EtcdRequest *client_find_waiting_request(EtcdClient *c, unsigned generation) {
        for (EtcdRequest *r = c->requests; r; r = r->next)
                if (r->state == REQUEST_WAITING_AUTH && r->auth_generation == generation)
                        return r;
        return NULL;
}

static EtcdWatch *client_find_waiting_watch(EtcdClient *c, unsigned generation) {
        for (EtcdWatch *w = c->watches; w; w = w->next)
                if (w->state == WATCH_WAITING_AUTH && w->auth_generation == generation)
                        return w;
        return NULL;
}

/* Starts what waited for authentication number generation, or fails it. Whatever callbacks
 * start meanwhile waits for a newer authentication and is left alone. */
static void client_resume(EtcdClient *c, unsigned generation, int error) {
        EtcdRequest *r;
        EtcdWatch *w;

        while (!c->closed && (r = client_find_waiting_request(c, generation))) {
                int k = error < 0 ? error : request_launch(r);
                if (k < 0)
                        request_finish(r, k, NULL);
        }
        while (!c->closed && (w = client_find_waiting_watch(c, generation))) {
                watch_ref(w);
                if (error == -EACCES)
                        watch_fail(w, error);
                else if (error < 0 || watch_connect(w) < 0)
                        watch_retry(w, true);
                watch_unref(w);
        }
}

static void client_on_auth(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        c->auth = etcd_request_cancel(c->auth);
        if (error < 0)
                log_debug_errno(error, "etcd: authentication as %s failed: %m", c->username);
        client_resume(c, c->auth_generation, error);
}

/* Fetches a token unless that is under way already. */
static int client_authenticate(EtcdClient *c) {
        json_auto_t *body = NULL;

        if (c->auth)
                return 0;
        body = json_object();
        if (!body || jv_set(body, "name", json_string(c->username)) < 0 ||
            jv_set(body, "password", json_string(strempty(c->password))) < 0)
                return -ENOMEM;
        c->auth_generation++;
        return client_submit(c, REQ_AUTH, body, client_on_auth, NULL, &c->auth);
}

/* ---- the calls ---- */

int etcd_client_range(EtcdClient *c, const EtcdRangeArgs *args,
                      etcd_callback_t cb, void *userdata, EtcdRequest **ret_request) {
        json_auto_t *body = NULL;

        if (!c || !args || !args->key)
                return -EINVAL;
        body = body_range(args);
        return client_submit(c, REQ_RANGE, body, cb, userdata, ret_request);
}

int etcd_client_put(EtcdClient *c, const char *key, const char *value, int64_t lease,
                    etcd_callback_t cb, void *userdata, EtcdRequest **ret_request) {
        json_auto_t *body = NULL;

        if (!c || !key || !value || lease < 0)
                return -EINVAL;
        body = body_put(key, value, lease);
        return client_submit(c, REQ_PUT, body, cb, userdata, ret_request);
}

int etcd_client_delete(EtcdClient *c, const char *key, const char *range_end,
                       etcd_callback_t cb, void *userdata, EtcdRequest **ret_request) {
        json_auto_t *body = NULL;

        if (!c || !key)
                return -EINVAL;
        body = body_delete(key, range_end);
        return client_submit(c, REQ_DELETE, body, cb, userdata, ret_request);
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

int etcd_client_txn(EtcdClient *c, const EtcdTxn *txn,
                    etcd_callback_t cb, void *userdata, EtcdRequest **ret_request) {
        json_auto_t *body = NULL;

        if (!c || !txn_valid(txn))
                return -EINVAL;
        body = body_txn(txn);
        return client_submit(c, REQ_TXN, body, cb, userdata, ret_request);
}

int etcd_client_lease_grant(EtcdClient *c, int64_t ttl_sec,
                            etcd_callback_t cb, void *userdata, EtcdRequest **ret_request) {
        json_auto_t *body = NULL;

        if (!c || ttl_sec <= 0)
                return -EINVAL;
        body = json_object();
        if (body && jv_set(body, "TTL", jv_int64(ttl_sec)) < 0)
                return -ENOMEM;
        return client_submit(c, REQ_LEASE_GRANT, body, cb, userdata, ret_request);
}

int etcd_client_lease_keepalive(EtcdClient *c, int64_t lease_id,
                                etcd_callback_t cb, void *userdata, EtcdRequest **ret_request) {
        json_auto_t *body = NULL;

        if (!c || lease_id <= 0)
                return -EINVAL;
        body = body_lease(lease_id);
        return client_submit(c, REQ_LEASE_KEEPALIVE, body, cb, userdata, ret_request);
}

int etcd_client_lease_revoke(EtcdClient *c, int64_t lease_id,
                             etcd_callback_t cb, void *userdata, EtcdRequest **ret_request) {
        json_auto_t *body = NULL;

        if (!c || lease_id <= 0)
                return -EINVAL;
        body = body_lease(lease_id);
        return client_submit(c, REQ_LEASE_REVOKE, body, cb, userdata, ret_request);
}

/* ---- watches ---- */

/* What watch_handle_line() asks for besides going on (0) or failing (< 0). */
#define WATCH_RECONNECT 1
#define WATCH_REAUTH 2

static EtcdWatch *watch_ref(EtcdWatch *w) {
        w->n_ref++;
        return w;
}

static void watch_detach(EtcdWatch *w) {
        EtcdClient *c = w->client;

        if (!c)
                return;
        xfer_stop(c, &w->xfer);
        w->timer = sd_event_source_disable_unref(w->timer);
        LIST_UNLINK(c->watches, w);
        w->client = NULL;
        w->state = WATCH_DEAD;
}

static void watch_unref(EtcdWatch *w) {
        if (!w || --w->n_ref > 0)
                return;
        watch_detach(w);
        free(w->key);
        free(w->range_end);
        buffer_clear(&w->buf);
        free(w);
}

EtcdWatch *etcd_watch_free(EtcdWatch *w) {
        if (!w)
                return NULL;
        watch_detach(w);
        watch_unref(w);
        return NULL;
}

int64_t etcd_watch_revision(EtcdWatch *w) {
        return w ? w->last_revision : 0;
}

static bool watch_is_reading(EtcdWatch *w) {
        return w->client && (w->state == WATCH_CONNECTING || w->state == WATCH_STREAMING);
}

static EtcdWatch *client_find_pending_watch(EtcdClient *c) {
        for (EtcdWatch *w = c->watches; w; w = w->next)
                if (w->pending && watch_is_reading(w))
                        return w;
        return NULL;
}

/* Stops for good and says why. Callers hold a reference: the callback may free w. */
static void watch_fail(EtcdWatch *w, int error) {
        log_debug_errno(error, "etcd: watch on %s stopped: %m", w->key);
        watch_detach(w);
        w->callback(w, error, NULL, 0, w->userdata);
}

static void watch_reset_stream(EtcdWatch *w) {
        xfer_stop(w->client, &w->xfer);
        buffer_clear(&w->buf);
        w->tail = 0;
        w->pending = false;
        w->write_error = 0;
}

static int watch_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        EtcdWatch *w = watch_ref(userdata);

        if (w->state == WATCH_CONNECTING) {
                log_debug("etcd: watch on %s: no answer from %s.", w->key,
                          w->client->endpoints[w->xfer.endpoint]);
                watch_retry(w, true);
        } else if (w->state == WATCH_IDLE && watch_connect(w) < 0)
                watch_retry(w, true);
        watch_unref(w);
        return 0;
}

static int watch_arm(EtcdWatch *w, usec_t delay) {
        return timer_arm(w->client, &w->timer, delay, watch_on_timer, w, "etcd-watch");
}

/* Reconnects after the backoff; after a failed attempt on the next endpoint, otherwise on the
 * one that answered last. */
static void watch_retry(EtcdWatch *w, bool failed) {
        EtcdClient *c = w->client;
        usec_t delay = w->backoff;
        int k;

        watch_reset_stream(w);
        w->state = WATCH_IDLE;
        w->backoff = MIN(w->backoff * 2, WATCH_BACKOFF_MAX);
        if (failed) {
                if (c->current == w->xfer.endpoint)
                        c->current = (c->current + 1) % c->n_endpoints;
                w->xfer.endpoint = (w->xfer.endpoint + 1) % c->n_endpoints;
        } else
                w->xfer.endpoint = c->current;
        k = watch_arm(w, delay);
        if (k < 0)
                watch_fail(w, k);
}

static char *watch_body(EtcdWatch *w) {
        json_auto_t *o = json_object(), *create = json_object();
        int64_t start = w->revision_known ? w->last_revision + 1 : 0;

        if (!o || !create || body_set_key(create, "key", w->key) < 0 ||
            body_set_range_end(create, w->range_end) < 0)
                return NULL;
        if (start > 0 && jv_set(create, "start_revision", jv_int64(start)) < 0)
                return NULL;
        if (jv_set(o, "create_request", TAKE_PTR(create)) < 0)
                return NULL;
        return json_dumps(o, JSON_COMPACT);
}

static size_t watch_write(char *p, size_t size, size_t n, void *userdata) {
        EtcdWatch *w = userdata;
        size_t len = size * n;
        const char *nl;
        int k;

        k = buffer_append(&w->buf, p, len, RESPONSE_MAX);
        if (k < 0) {
                w->write_error = k == -EFBIG ? -EBADMSG : k;
                return 0;
        }
        nl = memrchr(p, '\n', len);
        w->tail = nl ? (size_t) (p + len - nl - 1) : w->tail + len;
        w->pending = w->pending || nl;
        if (w->tail > WATCH_LINE_MAX) {
                log_debug("etcd: watch on %s: a line exceeds %zu bytes.", w->key, WATCH_LINE_MAX);
                w->write_error = -EBADMSG;
                return 0;
        }
        return len;
}

static int watch_connect(EtcdWatch *w) {
        EtcdClient *c = w->client;
        _cleanup_free_ char *body = NULL;
        int k;

        watch_reset_stream(w);
        if (client_needs_token(c)) {
                k = client_authenticate(c);
                if (k < 0)
                        return k;
                w->state = WATCH_WAITING_AUTH;
                w->auth_generation = c->auth_generation;
                return 0;
        }
        body = watch_body(w);
        if (!body)
                return -ENOMEM;
        k = xfer_start(c, &w->xfer, "/v3/watch", body, true, true, watch_write, w);
        if (k < 0)
                return k;
        w->state = WATCH_CONNECTING;
        return watch_arm(w, c->timeout);  /* "created" must come within the request timeout */
}

static void watch_on_created(EtcdWatch *w, const json_t *result) {
        int64_t revision = jx_int64(json_object_get(result, "header"), "revision", 0);

        w->state = WATCH_STREAMING;
        w->backoff = WATCH_BACKOFF_MIN;
        w->reauthed = false;
        w->client->current = w->xfer.endpoint;
        (void) sd_event_source_set_enabled(w->timer, SD_EVENT_OFF);
        /* Started from "now": the server watches from header.revision + 1. Remember that, so
         * that a reconnect resumes there rather than from a later "now". */
        if (!w->revision_known && revision > 0) {
                w->last_revision = revision;
                w->revision_known = true;
        }
}

static void events_free(EtcdEvent *ev, size_t n) {
        for (size_t i = 0; i < n; i++)
                kv_clear(&ev[i].kv);
        free(ev);
}

/* Parses one batch and hands it over, minus what was delivered before a reconnect. */
static int watch_deliver(EtcdWatch *w, const json_t *events) {
        size_t n = json_array_size(events), k = 0;
        EtcdEvent *ev = calloc(n, sizeof(EtcdEvent));
        int r = 0;

        if (!ev)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const json_t *e = json_array_get(events, i);

                r = parse_kv(json_object_get(e, "kv"), &ev[k].kv);
                if (r < 0)
                        break;
                if (w->revision_known && ev[k].kv.mod_revision <= w->last_revision) {
                        kv_clear(&ev[k].kv);
                        continue;
                }
                ev[k++].type = streq_ptr(jx_str(e, "type"), "DELETE") ? ETCD_EVENT_DELETE : ETCD_EVENT_PUT;
        }
        if (r >= 0 && k > 0) {
                w->last_revision = ev[k - 1].kv.mod_revision;
                w->revision_known = true;
                w->callback(w, 0, ev, k, w->userdata);
        }
        events_free(ev, k);
        return r;
}

static int watch_on_cancel(EtcdWatch *w, const char *reason) {
        log_debug("etcd: watch on %s canceled: %s", w->key, strna(reason));
        if (grpc_wants_token(0, reason))
                return WATCH_REAUTH;
        if (message_has(reason, "ermission denied") || message_has(reason, "PermissionDenied"))
                return -EACCES;
        return -EIO;
}

static int watch_on_error(EtcdWatch *w, const json_t *j) {
        const char *message = NULL;
        int code = gateway_error(j, &message);

        if (code == 0)
                return 0;  /* neither a result nor an error: not ours to judge */
        log_debug("etcd: watch on %s: %s (code %d)", w->key, strna(message), code);
        if (grpc_wants_token(code, message))
                return WATCH_REAUTH;
        if (code == GRPC_PERMISSION_DENIED)
                return -EACCES;
        return WATCH_RECONNECT;
}

/* One line of the stream: {"result":{...}} or an error. */
static int watch_handle_line(EtcdWatch *w, const char *line, size_t len) {
        json_auto_t *j = NULL;
        const json_t *result, *events;

        while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
                len--;
        if (len == 0)
                return 0;
        j = json_loadb(line, len, 0, NULL);
        if (!j)
                return -EBADMSG;
        result = json_object_get(j, "result");
        if (!result)
                return watch_on_error(w, j);
        if (jx_int64(result, "compact_revision", 0) > 0)
                return -ESTALE;
        if (jx_bool(result, "canceled", false))
                return watch_on_cancel(w, jx_str(result, "cancel_reason"));
        if (jx_bool(result, "created", false))
                watch_on_created(w, result);
        events = json_object_get(result, "events");
        if (json_array_size(events) > 0)
                return watch_deliver(w, events);
        return 0;
}

static void watch_stream_end(EtcdWatch *w, int how) {
        EtcdClient *c = w->client;

        if (how == WATCH_RECONNECT) {
                watch_retry(w, w->state == WATCH_CONNECTING);
                return;
        }
        if (how != WATCH_REAUTH) {
                watch_fail(w, how);
                return;
        }
        if (!c->username || w->reauthed) {
                watch_fail(w, -EACCES);
                return;
        }
        w->reauthed = true;
        client_forget_token(c, w->xfer.token_generation);
        if (watch_connect(w) < 0)
                watch_retry(w, false);
}

/* Handles the complete lines in the buffer. Callers hold a reference. */
static void watch_process(EtcdWatch *w) {
        size_t done = 0;

        while (watch_is_reading(w) && done < w->buf.size) {
                const char *line = w->buf.data + done;
                const char *nl = memchr(line, '\n', w->buf.size - done);
                int k;

                if (!nl)
                        break;
                done = nl - w->buf.data + 1;
                k = watch_handle_line(w, line, nl - line);
                if (k != 0) {
                        watch_stream_end(w, k);
                        return;
                }
        }
        if (!watch_is_reading(w))
                return;  /* freed or stopped by its callback */
        if (done > 0) {
                memmove(w->buf.data, w->buf.data + done, w->buf.size - done);
                w->buf.size -= done;
        }
        if (w->buf.size == 0 && w->buf.allocated > 64 * 1024)
                buffer_clear(&w->buf);  /* an idle watch need not keep a big event's buffer */
        w->pending = false;
}

static void watch_on_done(EtcdWatch *w, CURLcode cc) {
        watch_ref(w);
        if (w->tail > 0 && w->write_error == 0 && buffer_append(&w->buf, "\n", 1, RESPONSE_MAX + 1) >= 0)
                w->pending = true;  /* an answer that ends without a newline (an error) */
        watch_process(w);
        if (watch_is_reading(w)) {
                if (w->write_error < 0)
                        watch_fail(w, w->write_error);
                else {
                        log_debug("etcd: watch stream on %s ended: %s", w->client->endpoints[w->xfer.endpoint],
                                  cc == CURLE_OK ? "closed by the server" : curl_easy_strerror(cc));
                        watch_retry(w, w->state == WATCH_CONNECTING);
                }
        }
        watch_unref(w);
}

int etcd_client_watch(EtcdClient *c, const char *key, const char *range_end, int64_t start_revision,
                      etcd_watch_callback_t cb, void *userdata, EtcdWatch **ret) {
        _cleanup_(etcd_watch_freep) EtcdWatch *w = NULL;
        int k;

        if (!c || !key || !cb || !ret || start_revision < 0)
                return -EINVAL;
        w = calloc(1, sizeof(EtcdWatch));
        if (!w)
                return -ENOMEM;
        *w = (EtcdWatch) {
                .xfer.kind = XFER_WATCH,
                .xfer.endpoint = c->current,
                .n_ref = 1,
                .state = WATCH_IDLE,
                .last_revision = start_revision > 0 ? start_revision - 1 : 0,
                .revision_known = start_revision > 0,
                .backoff = WATCH_BACKOFF_MIN,
                .callback = cb,
                .userdata = userdata,
        };
        w->key = strdup(key);
        if (!w->key || (range_end && !(w->range_end = strdup(range_end))))
                return -ENOMEM;
        w->client = c;
        LIST_LINK(c->watches, w);
        k = watch_connect(w);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(w);
        return 0;
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

/* ---- lease keeper ---- */

static void lease_detach(EtcdLease *l) {
        if (!l->client)
                return;
        l->request = etcd_request_cancel(l->request);
        l->timer = sd_event_source_disable_unref(l->timer);
        LIST_UNLINK(l->client->leases, l);
        l->client = NULL;
}

EtcdLease *etcd_lease_free(EtcdLease *l) {
        if (!l)
                return NULL;
        lease_detach(l);
        free(l);
        return NULL;
}

int64_t etcd_lease_id(EtcdLease *l) {
        return l ? l->id : 0;
}

static usec_t lease_interval(EtcdLease *l) {
        return MAX((usec_t) l->ttl * USEC_PER_SEC / 3, 100 * USEC_PER_MSEC);
}

static int lease_on_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void lease_arm(EtcdLease *l, usec_t delay) {
        int k = timer_arm(l->client, &l->timer, delay, lease_on_timer, l, "etcd-lease");
        if (k < 0)
                log_debug_errno(k, "etcd: cannot arm the keepalive timer of lease %" PRIi64 ": %m", l->id);
}

/* Sooner than the regular interval, backing off up to half of it. */
static void lease_retry(EtcdLease *l) {
        usec_t delay = l->backoff;

        l->backoff = MIN(l->backoff * 2, MAX(lease_interval(l) / 2, LEASE_RETRY_MIN));
        lease_arm(l, delay);
}

static void lease_on_keepalive(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        EtcdLease *l = userdata;

        l->request = etcd_request_cancel(l->request);
        if (error == -ENOENT) {
                log_debug("etcd: lease %" PRIi64 " is gone.", l->id);
                lease_detach(l);
                if (l->on_lost)
                        l->on_lost(l, l->userdata);  /* may free l */
                return;
        }
        if (error < 0) {
                lease_retry(l);
                return;
        }
        l->ttl = result->ttl;
        l->backoff = LEASE_RETRY_MIN;
        lease_arm(l, lease_interval(l));
}

static int lease_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        EtcdLease *l = userdata;
        int k;

        if (l->request)
                return 0;
        k = etcd_client_lease_keepalive(l->client, l->id, lease_on_keepalive, l, &l->request);
        if (k < 0)
                lease_retry(l);
        return 0;
}

int etcd_lease_keep(EtcdClient *c, int64_t lease_id, int64_t ttl_sec,
                    etcd_lease_lost_t on_lost, void *userdata, EtcdLease **ret) {
        _cleanup_(etcd_lease_freep) EtcdLease *l = NULL;
        int k;

        if (!c || lease_id <= 0 || ttl_sec <= 0 || !ret)
                return -EINVAL;
        l = calloc(1, sizeof(EtcdLease));
        if (!l)
                return -ENOMEM;
        *l = (EtcdLease) {
                .id = lease_id,
                .ttl = ttl_sec,
                .backoff = LEASE_RETRY_MIN,
                .on_lost = on_lost,
                .userdata = userdata,
        };
        l->client = c;
        LIST_LINK(c->leases, l);
        k = timer_arm(c, &l->timer, lease_interval(l), lease_on_timer, l, "etcd-lease");
        if (k < 0)
                return k;
        *ret = TAKE_PTR(l);
        return 0;
}

/* ---- the client ---- */

static int client_copy_options(EtcdClient *c, const EtcdOptions *o) {
        c->endpoints = strv_copy(o->endpoints);
        if (!c->endpoints)
                return -ENOMEM;
        STRV_FOREACH(e, c->endpoints) {
                const char *host = startswith(*e, "http://") ?: startswith(*e, "https://");
                size_t n = strlen(*e);

                if (isempty(host) || *host == '/')
                        return -EINVAL;
                while (n > 0 && (*e)[n - 1] == '/')  /* paths are appended */
                        (*e)[--n] = 0;
        }
        c->n_endpoints = strv_length(c->endpoints);
        if (free_and_strdup(&c->cafile, o->cafile) < 0 ||
            free_and_strdup(&c->certfile, o->certfile) < 0 ||
            free_and_strdup(&c->keyfile, o->keyfile) < 0 ||
            free_and_strdup(&c->username, isempty(o->username) ? NULL : o->username) < 0 ||
            free_and_strdup(&c->password, o->password) < 0)
                return -ENOMEM;
        c->timeout = o->request_timeout > 0 ? o->request_timeout : DEFAULT_TIMEOUT;
        return 0;
}

/* curl 7.x makes the multi handle's wakeup socketpair without SOCK_CLOEXEC. Those are the
 * lowest free fds when curl_multi_init() runs: mark what opened in a window above the lowest. */
static CURLM *multi_new_cloexec(int any_fd) {
        int base = fcntl(any_fd, F_DUPFD_CLOEXEC, 3);
        uint64_t was_open = 0;
        CURLM *m;

        if (base >= 0)
                close(base);
        for (int i = 0; base >= 0 && i < 64; i++)
                if (fcntl(base + i, F_GETFD) >= 0)
                        was_open |= UINT64_C(1) << i;
        m = curl_multi_init();
        for (int i = 0; base >= 0 && i < 64; i++) {
                int flags = fcntl(base + i, F_GETFD);
                if (!(was_open & (UINT64_C(1) << i)) && flags >= 0 && !(flags & FD_CLOEXEC))
                        (void) fcntl(base + i, F_SETFD, flags | FD_CLOEXEC);
        }
        return m;
}

static int client_setup_curl(EtcdClient *c) {
        int k;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -EIO;
        c->curl_initialized = true;
        c->multi = multi_new_cloexec(sd_event_get_fd(c->event));
        if (!c->multi)
                return -ENOMEM;
        if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK)
                return -EIO;
        k = timer_arm(c, &c->curl_timer, 0, on_curl_timer_fired, c, "etcd-curl-timer");
        if (k < 0)
                return k;
        return sd_event_source_set_enabled(c->curl_timer, SD_EVENT_OFF);
}

int etcd_client_new(sd_event *e, const EtcdOptions *options, EtcdClient **ret) {
        _cleanup_(etcd_client_freep) EtcdClient *c = NULL;
        int k;

        if (!e || !options || !ret || strv_length(options->endpoints) == 0)
                return -EINVAL;
        c = calloc(1, sizeof(EtcdClient));
        if (!c)
                return -ENOMEM;
        c->n_ref = 1;
        c->event = sd_event_ref(e);
        k = client_copy_options(c, options);
        if (k < 0)
                return k;
        k = client_setup_curl(c);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(c);
        return 0;
}

/* Cancels everything silently. Handles the caller owns (requests, watches, leases) stay valid,
 * detached, until the caller frees them. */
static void client_close(EtcdClient *c) {
        if (c->closed)
                return;
        c->closed = true;
        while (c->leases)
                lease_detach(c->leases);
        while (c->watches)
                watch_detach(c->watches);
        c->auth = etcd_request_cancel(c->auth);
        while (c->requests) {
                EtcdRequest *r = c->requests;
                if (r->floating)
                        request_free(r);
                else
                        request_detach(r);
        }
}

static void erase_and_free(char *s) {
        if (s)
                explicit_bzero(s, strlen(s));
        free(s);
}

static void client_destroy(EtcdClient *c) {
        client_close(c);
        if (c->multi)
                curl_multi_cleanup(c->multi);
        while (c->sockets)
                socket_free(c->sockets);
        sd_event_source_disable_unref(c->curl_timer);
        sd_event_unref(c->event);
        strv_free(c->endpoints);
        free(c->cafile);
        free(c->certfile);
        free(c->keyfile);
        free(c->username);
        erase_and_free(c->password);
        erase_and_free(c->token);
        if (c->curl_initialized)
                curl_global_cleanup();
        free(c);
}

EtcdClient *etcd_client_free(EtcdClient *c) {
        if (!c)
                return NULL;
        client_close(c);
        client_unref(c);
        return NULL;
}

const char *etcd_client_current_endpoint(EtcdClient *c) {
        return c ? c->endpoints[c->current] : NULL;
}
