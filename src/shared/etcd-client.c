/* SPDX-License-Identifier: Apache-2.0 */
/* etcd v3 through its JSON gateway: the I/O. etcd-codec encodes the bodies and decodes the
 * answers; the loop's CurlGlue runs the transfers.
 *
 * From the bottom up: Xfer, one HTTP POST to one endpoint; EtcdRequest, a unary call that
 * fails over between endpoints and re-authenticates once; EtcdWatch, a streaming call that
 * reconnects and resumes; EtcdLease, a keepalive timer on top of requests.
 *
 * Re-entrancy: user callbacks run only from the loop (the glue's done callbacks, a defer source
 * for the lines a watch received, timers), never from inside curl, so they may start, cancel
 * and free anything, the client included. The client and the watches are reference counted for
 * that reason; a request is unlinked from the client before its callback runs. */

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "basic/strv.h"
#include "curl-glue.h"
#include "etcd-client.h"
#include "log.h"
#include "metrics.h"

static MetricFamily m_requests = METRIC_COUNTER("etcd_requests_total", "etcd requests by operation and result.",
                                                "operation", "result");
static MetricFamily m_duration = METRIC_HISTOGRAM("etcd_request_duration_seconds",
                                                  "etcd requests from their start to their answer (retries and "
                                                  "failover included), by operation.",
                                                  metric_buckets_latency, "operation");
static MetricFamily m_watch_reconnects = METRIC_COUNTER("etcd_watch_reconnects_total",
                                                        "etcd watch streams that ended and are connected again.");
static MetricFamily m_keepalive_failures = METRIC_COUNTER("etcd_lease_keepalive_failures_total",
                                                          "Lease keepalives that failed (etcd unreachable, or the "
                                                          "lease gone).");

#define DEFAULT_TIMEOUT (5 * USEC_PER_SEC)
#define RESPONSE_MAX ((size_t) 64 * 1024 * 1024)
#define WATCH_LINE_MAX ((size_t) 16 * 1024 * 1024)
#define WATCH_BACKOFF_MIN (100 * USEC_PER_MSEC)
#define WATCH_BACKOFF_MAX (5 * USEC_PER_SEC)
#define LEASE_RETRY_MIN (200 * USEC_PER_MSEC)
/* A request that every endpoint refused as unavailable (an election) is sent again after a
 * pause that doubles between these, as long as its time (the request timeout) lasts. */
#define REQUEST_RETRY_MIN (50 * USEC_PER_MSEC)
#define REQUEST_RETRY_MAX (400 * USEC_PER_MSEC)
/* sd-event's default accuracy (0) means 250 ms. */
#define TIMER_ACCURACY USEC_PER_MSEC

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

typedef struct Buffer {
        char *data;
        size_t size;
        size_t allocated;
} Buffer;

/* One HTTP POST to one endpoint. */
typedef struct Xfer {
        CURL *easy;
        struct curl_slist *headers;
        size_t endpoint;                /* index into client->endpoints */
        unsigned token_generation;      /* of the token sent */
} Xfer;

typedef enum RequestState {
        REQUEST_WAITING_AUTH,
        REQUEST_WAITING_RETRY,
        REQUEST_RUNNING,
        REQUEST_DONE,
} RequestState;

struct EtcdRequest {
        Xfer xfer;
        EtcdClient *client;             /* NULL once done or when the client went away */
        EtcdRequest *next, *prev;
        EtcdCall kind;
        RequestState state;
        char *body;
        Buffer response;
        int write_error;
        size_t n_tried;                 /* endpoints that failed so far (this round) */
        bool idempotent;                /* a read (or a txn of reads): it may be sent twice */
        bool unavailable;               /* an endpoint said "unavailable" this round */
        usec_t deadline;                /* CLOCK_MONOTONIC: no new round after this */
        usec_t backoff;                 /* before the next round */
        sd_event_source *retry;         /* the pause before the next round */
        unsigned auth_generation;       /* the authentication it waits for */
        bool reauthed;
        bool floating;
        usec_t started;                 /* CLOCK_MONOTONIC, for the metrics */
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
        sd_event *event;
        CurlGlue *glue;
        sd_event_source *process;       /* defer: hands the lines watches received to watch_process() */

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

static int request_launch(EtcdRequest *r);
static void request_finish(EtcdRequest *r, int error, const EtcdResult *result);
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

static void erase_and_free(char *s) {
        if (s)
                explicit_bzero(s, strlen(s));
        free(s);
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


static EtcdClient *client_ref(EtcdClient *c) {
        c->n_ref++;
        return c;
}

static void client_destroy(EtcdClient *c);

static void client_unref(EtcdClient *c) {
        if (c && --c->n_ref == 0)
                client_destroy(c);
}

/* ---- one HTTP POST ---- */

static void xfer_stop(EtcdClient *c, Xfer *x) {
        x->easy = curl_glue_remove_and_free(c->glue, x->easy);
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

        CURL_SETOPT_OR_RETURN(e, CURLOPT_URL, url);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_HTTPHEADER, x->headers);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_COPYPOSTFIELDS, body);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_WRITEFUNCTION, write_cb);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_WRITEDATA, write_data);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_CONNECTTIMEOUT_MS, ms);
        /* A watch is idle for as long as nothing changes: no total timeout, no low-speed
         * limit, only TCP keepalive (curl_glue_make()) to notice a peer that went away. */
        if (!stream)
                CURL_SETOPT_OR_RETURN(e, CURLOPT_TIMEOUT_MS, ms);
        if (c->cafile)
                CURL_SETOPT_OR_RETURN(e, CURLOPT_CAINFO, c->cafile);
        if (c->certfile)
                CURL_SETOPT_OR_RETURN(e, CURLOPT_SSLCERT, c->certfile);
        if (c->keyfile)
                CURL_SETOPT_OR_RETURN(e, CURLOPT_SSLKEY, c->keyfile);
        return 0;
}

/* How a transfer is made: stream (no total timeout), with the token, where its answer goes,
 * and who hears of its end. */
typedef struct XferCallbacks {
        bool stream;
        bool with_token;
        curl_write_callback write;
        curl_glue_done_t done;
} XferCallbacks;

/* Starts POST path on endpoint x->endpoint; cb->write and cb->done get userdata. */
static int xfer_start(EtcdClient *c, Xfer *x, const char *path, const char *body, const XferCallbacks *cb,
                      void *userdata) {
        _cleanup_free_ char *url = NULL;
        int k;

        xfer_stop(c, x);
        if (asprintf(&url, "%s%s", c->endpoints[x->endpoint], path) < 0)
                return -ENOMEM;
        k = curl_glue_make(&x->easy);
        if (k >= 0)
                k = xfer_headers(c, x, cb->with_token);
        if (k >= 0)
                k = xfer_options(c, x, url, body, cb->stream, cb->write, userdata);
        if (k >= 0)
                k = curl_glue_add(c->glue, x->easy, cb->done, userdata);
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
        sd_event_source_disable_unref(r->retry);
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
        r->retry = sd_event_source_disable_unref(r->retry);
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
/* The operation and the result as the metrics name them: small fixed sets. */
static void request_count(EtcdRequest *r, int error) {
        static const char * const ops[_ETCD_CALL_MAX] = {
                [ETCD_CALL_RANGE] = "range", [ETCD_CALL_PUT] = "put", [ETCD_CALL_DELETE] = "delete",
                [ETCD_CALL_TXN] = "txn", [ETCD_CALL_LEASE_GRANT] = "lease_grant",
                [ETCD_CALL_LEASE_KEEPALIVE] = "lease_keepalive", [ETCD_CALL_LEASE_REVOKE] = "lease_revoke",
                [ETCD_CALL_AUTH] = "auth",
        };
        const char *op = r->kind < _ETCD_CALL_MAX && ops[r->kind] ? ops[r->kind] : "other";
        const char *result = error >= 0 ? "ok" : error == -ETIMEDOUT ? "timeout" :
                             error == -ECONNREFUSED ? "unreachable" : error == -EACCES ? "denied" :
                             error == -ENOENT ? "not_found" : error == -ESTALE ? "compacted" :
                             error == -EBADMSG ? "bad_answer" : "error";

        metric_inc(&m_requests, METRIC_LABELS(op, result));
        metric_observe(&m_duration, (double) (now_usec(CLOCK_MONOTONIC) - r->started) / USEC_PER_SEC,
                       METRIC_LABELS(op));
}

static void request_finish(EtcdRequest *r, int error, const EtcdResult *result) {
        EtcdClient *c = r->client;
        bool floating = r->floating;  /* an owned r may be gone after the callback */

        request_count(r, error);
        if (error < 0)
                log_debug_errno(error, "etcd: %s failed: %m", etcd_call_path(r->kind));
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
                log_debug("etcd: answer to %s exceeds %zu bytes.", etcd_call_path(r->kind), RESPONSE_MAX);
                return 0;
        }
        return size * n;
}

static void on_request_done(CURL *easy, CURLcode cc, void *userdata);

static const XferCallbacks request_callbacks = {
        .write = request_write,
        .done = on_request_done,
};

static int client_authenticate(EtcdClient *c);

static int request_launch(EtcdRequest *r) {
        EtcdClient *c = r->client;
        XferCallbacks cb = request_callbacks;
        int k;

        buffer_clear(&r->response);
        r->write_error = 0;
        if (r->kind != ETCD_CALL_AUTH && client_needs_token(c)) {
                xfer_stop(c, &r->xfer);
                k = client_authenticate(c);
                if (k < 0)
                        return k;
                r->state = REQUEST_WAITING_AUTH;
                r->auth_generation = c->auth_generation;
                return 0;
        }
        cb.with_token = r->kind != ETCD_CALL_AUTH;
        k = xfer_start(c, &r->xfer, etcd_call_path(r->kind), r->body, &cb, r);
        if (k < 0)
                return k;
        r->state = REQUEST_RUNNING;
        return 0;
}

/* Reads, lease keepalives and grants (a stray lease just expires) may be sent twice; so may a
 * txn of reads only (etcd_client_txn() says). */
static bool request_idempotent(EtcdCall kind) {
        return kind == ETCD_CALL_RANGE || kind == ETCD_CALL_LEASE_KEEPALIVE || kind == ETCD_CALL_LEASE_GRANT ||
                kind == ETCD_CALL_AUTH;
}

static bool request_may_resend(EtcdRequest *r) {
        long sent = 0;

        if (r->idempotent)
                return true;
        /* A write that reached a server may have been applied: report the failure instead of
         * applying it twice (the caller re-reads). */
        (void) curl_easy_getinfo(r->xfer.easy, CURLINFO_REQUEST_SIZE, &sent);
        return sent == 0;
}

static int on_request_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        EtcdRequest *r = userdata;
        EtcdClient *c = client_ref(r->client);
        int k;

        r->n_tried = 0;
        r->unavailable = false;
        r->xfer.endpoint = c->current;
        k = request_launch(r);
        if (k < 0)
                request_finish(r, k, NULL);
        client_unref(c);
        return 0;
}

/* Every endpoint failed, one of them saying "unavailable" (no leader, the leader changed: an
 * election), and nothing was sent that may have been applied: another round after a pause, if
 * the request's time allows. Connections refused everywhere (etcd down) are not retried. */
static bool request_retry_later(EtcdRequest *r) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        if (!r->unavailable || !request_may_resend(r) || now + r->backoff >= r->deadline)
                return false;
        if (timer_arm(r->client, &r->retry, r->backoff, on_request_retry, r, "etcd-request-retry") < 0)
                return false;
        log_debug("etcd: %s: no endpoint available, trying again in %" PRIu64 " ms.", etcd_call_path(r->kind),
                  r->backoff / USEC_PER_MSEC);
        r->backoff = MIN(r->backoff * 2, REQUEST_RETRY_MAX);
        xfer_stop(r->client, &r->xfer);
        r->state = REQUEST_WAITING_RETRY;
        return true;
}

/* The attempt on one endpoint failed in transport: move on to the next endpoint, unless every
 * endpoint was tried or a write may already have been applied. */
static void request_attempt_failed(EtcdRequest *r, int error) {
        EtcdClient *c = r->client;
        size_t failed = r->xfer.endpoint;
        int k;

        log_debug_errno(error, "etcd: %s on %s failed: %m", etcd_call_path(r->kind), c->endpoints[failed]);
        if (c->current == failed)  /* let the next request start elsewhere */
                c->current = (failed + 1) % c->n_endpoints;
        if (++r->n_tried >= c->n_endpoints || !request_may_resend(r)) {
                if (!request_retry_later(r))
                        request_finish(r, error, NULL);
                return;
        }
        r->xfer.endpoint = (failed + 1) % c->n_endpoints;
        k = request_launch(r);
        if (k < 0)
                request_finish(r, k, NULL);
}

static void request_on_etcd_error(EtcdRequest *r, const EtcdError *e) {
        EtcdClient *c = r->client;
        int k;

        log_debug("etcd: %s on %s: %s (code %d)", etcd_call_path(r->kind),
                  c->endpoints[r->xfer.endpoint], strna(e->message), e->code);
        if (r->kind == ETCD_CALL_AUTH && etcd_error_auth_disabled(e->code, e->message)) {
                /* credentials configured, auth off on the server: go on without a token */
                k = free_and_strdup(&c->token, "");
                request_finish(r, k, &(EtcdResult) {});
                return;
        }
        if (r->kind != ETCD_CALL_AUTH && c->username && !r->reauthed && etcd_error_wants_token(e->code, e->message)) {
                r->reauthed = true;
                client_forget_token(c, r->xfer.token_generation);
                k = request_launch(r);
                if (k < 0)
                        request_finish(r, k, NULL);
                return;
        }
        if (e->code == ETCD_GRPC_UNAVAILABLE) {  /* no leader, shutting down: another member may do */
                r->unavailable = true;
                request_attempt_failed(r, -EIO);
                return;
        }
        request_finish(r, etcd_error_to_errno(e->code, e->message), NULL);
}

/* An authentication's answer: the token the next requests send. */
static void client_take_token(EtcdClient *c, EtcdAnswer *a) {
        erase_and_free(c->token);
        c->token = TAKE_PTR(a->token);
        c->token_generation++;
}

static void request_on_done(EtcdRequest *r, CURLcode cc) {
        _cleanup_(etcd_answer_done) EtcdAnswer a = {};
        long status = 0;
        int k;

        if (cc != CURLE_OK) {
                if (r->write_error < 0)
                        request_finish(r, r->write_error, NULL);
                else
                        request_attempt_failed(r, errno_from_curl(cc));
                return;
        }
        (void) curl_easy_getinfo(r->xfer.easy, CURLINFO_RESPONSE_CODE, &status);
        k = etcd_decode_answer(r->kind, r->response.data, r->response.size, &a);
        if (k == -EBADMSG && status >= 500) {  /* not the gateway speaking: a proxy, a crash */
                request_attempt_failed(r, -EIO);
                return;
        }
        if (k >= 0 && a.error.code != 0) {
                request_on_etcd_error(r, &a.error);
                return;
        }
        if (k >= 0 && status / 100 != 2)
                k = -EIO;
        if (k >= 0 && r->kind == ETCD_CALL_AUTH)
                client_take_token(r->client, &a);
        if (k >= 0)
                r->client->current = r->xfer.endpoint;
        request_finish(r, k, &a.result);
}

/* The glue's callback. A transfer runs only while its request is linked to the client; the
 * client stays alive until the request's callback returned, whatever that callback frees. */
static void on_request_done(CURL *easy, CURLcode cc, void *userdata) {
        EtcdRequest *r = userdata;
        EtcdClient *c = client_ref(r->client);

        request_on_done(r, cc);
        client_unref(c);
}

/* Queues a request whose body was encoded (k < 0: encoding failed, and that is the answer);
 * ret NULL makes it floating. body is taken. idempotent: it may be sent twice. */
static int client_submit_full(EtcdClient *c, EtcdCall kind, bool idempotent, int k, char *body,
                              etcd_callback_t cb, void *userdata, EtcdRequest **ret) {
        _cleanup_free_ char *b = body;
        _cleanup_(request_freep) EtcdRequest *r = NULL;

        if (!c)
                return -EINVAL;
        if (k < 0)
                return k;
        r = calloc(1, sizeof(EtcdRequest));
        if (!r)
                return -ENOMEM;
        *r = (EtcdRequest) {
                .xfer.endpoint = c->current,
                .kind = kind,
                .idempotent = idempotent,
                .deadline = now_usec(CLOCK_MONOTONIC) + c->timeout,
                .backoff = REQUEST_RETRY_MIN,
                .floating = !ret,
                .started = now_usec(CLOCK_MONOTONIC),
                .callback = cb,
                .userdata = userdata,
                .body = TAKE_PTR(b),
        };
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

static int client_submit(EtcdClient *c, EtcdCall kind, int k, char *body,
                         etcd_callback_t cb, void *userdata, EtcdRequest **ret) {
        return client_submit_full(c, kind, request_idempotent(kind), k, body, cb, userdata, ret);
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

static EtcdWatch *watch_ref(EtcdWatch *w);
static void watch_unref(EtcdWatch *w);

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
        char *body = NULL;
        int k;

        if (c->auth)
                return 0;
        k = etcd_encode_auth(c->username, c->password, &body);
        if (k < 0)
                return k;
        c->auth_generation++;
        return client_submit(c, ETCD_CALL_AUTH, k, body, client_on_auth, NULL, &c->auth);
}

/* ---- the calls ---- */

int etcd_client_range(EtcdClient *c, const EtcdRangeArgs *args,
                      etcd_callback_t cb, void *userdata, EtcdRequest **ret_request) {
        char *body = NULL;
        int k = etcd_encode_range(args, &body);

        return client_submit(c, ETCD_CALL_RANGE, k, body, cb, userdata, ret_request);
}

int etcd_client_put(EtcdClient *c, const char *key, const char *value, int64_t lease,
                    etcd_callback_t cb, void *userdata, EtcdRequest **ret_request) {
        char *body = NULL;
        int k = etcd_encode_put(key, value, lease, &body);

        return client_submit(c, ETCD_CALL_PUT, k, body, cb, userdata, ret_request);
}

int etcd_client_delete(EtcdClient *c, const char *key, const char *range_end,
                       etcd_callback_t cb, void *userdata, EtcdRequest **ret_request) {
        char *body = NULL;
        int k = etcd_encode_delete(key, range_end, &body);

        return client_submit(c, ETCD_CALL_DELETE, k, body, cb, userdata, ret_request);
}

/* A txn that only reads changes nothing wherever it runs, and as often. */
static bool txn_reads_only(const EtcdTxn *txn) {
        for (size_t i = 0; i < txn->n_success; i++)
                if (txn->success[i].type != ETCD_OP_RANGE)
                        return false;
        for (size_t i = 0; i < txn->n_failure; i++)
                if (txn->failure[i].type != ETCD_OP_RANGE)
                        return false;
        return true;
}

int etcd_client_txn(EtcdClient *c, const EtcdTxn *txn,
                    etcd_callback_t cb, void *userdata, EtcdRequest **ret_request) {
        char *body = NULL;
        int k = etcd_encode_txn(txn, &body);

        return client_submit_full(c, ETCD_CALL_TXN, txn && txn_reads_only(txn), k, body, cb, userdata, ret_request);
}

int etcd_client_lease_grant(EtcdClient *c, int64_t ttl_sec,
                            etcd_callback_t cb, void *userdata, EtcdRequest **ret_request) {
        char *body = NULL;
        int k = etcd_encode_lease_grant(ttl_sec, &body);

        return client_submit(c, ETCD_CALL_LEASE_GRANT, k, body, cb, userdata, ret_request);
}

int etcd_client_lease_keepalive(EtcdClient *c, int64_t lease_id,
                                etcd_callback_t cb, void *userdata, EtcdRequest **ret_request) {
        char *body = NULL;
        int k = etcd_encode_lease_id(lease_id, &body);

        return client_submit(c, ETCD_CALL_LEASE_KEEPALIVE, k, body, cb, userdata, ret_request);
}

int etcd_client_lease_revoke(EtcdClient *c, int64_t lease_id,
                             etcd_callback_t cb, void *userdata, EtcdRequest **ret_request) {
        char *body = NULL;
        int k = etcd_encode_lease_id(lease_id, &body);

        return client_submit(c, ETCD_CALL_LEASE_REVOKE, k, body, cb, userdata, ret_request);
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
        metric_inc(&m_watch_reconnects, NULL);
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

/* curl's write callback: buffers, and leaves the lines to watch_process() from the loop. */
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
        if (nl && !w->pending) {
                w->pending = true;
                (void) sd_event_source_set_enabled(w->client->process, SD_EVENT_ONESHOT);
        }
        if (w->tail > WATCH_LINE_MAX) {
                log_debug("etcd: watch on %s: a line exceeds %zu bytes.", w->key, WATCH_LINE_MAX);
                w->write_error = -EBADMSG;
                return 0;
        }
        return len;
}

static void on_watch_done(CURL *easy, CURLcode cc, void *userdata);

static const XferCallbacks watch_callbacks = {
        .stream = true,
        .with_token = true,
        .write = watch_write,
        .done = on_watch_done,
};

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
        k = etcd_encode_watch(w->key, w->range_end, w->revision_known ? w->last_revision + 1 : 0, &body);
        if (k < 0)
                return k;
        k = xfer_start(c, &w->xfer, ETCD_WATCH_PATH, body, &watch_callbacks, w);
        if (k < 0)
                return k;
        w->state = WATCH_CONNECTING;
        return watch_arm(w, c->timeout);  /* "created" must come within the request timeout */
}

static void watch_on_created(EtcdWatch *w, int64_t revision) {
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

/* Hands a batch over, minus what was delivered before a reconnect. */
static void watch_deliver(EtcdWatch *w, EtcdWatchAnswer *a) {
        size_t n = 0;

        for (size_t i = 0; i < a->n_events; i++) {
                if (w->revision_known && a->events[i].kv.mod_revision <= w->last_revision)
                        etcd_kv_done(&a->events[i].kv);
                else
                        a->events[n++] = a->events[i];
        }
        a->n_events = n;
        if (n == 0)
                return;
        w->last_revision = a->events[n - 1].kv.mod_revision;
        w->revision_known = true;
        w->callback(w, 0, a->events, n, w->userdata);
}

static int watch_on_cancel(EtcdWatch *w, const char *reason) {
        log_debug("etcd: watch on %s canceled: %s", w->key, strna(reason));
        if (etcd_error_wants_token(0, reason))
                return WATCH_REAUTH;
        return etcd_cancel_reason_to_errno(reason);
}

static int watch_on_error(EtcdWatch *w, const EtcdError *e) {
        log_debug("etcd: watch on %s: %s (code %d)", w->key, strna(e->message), e->code);
        if (etcd_error_wants_token(e->code, e->message))
                return WATCH_REAUTH;
        if (e->code == ETCD_GRPC_PERMISSION_DENIED)
                return -EACCES;
        return WATCH_RECONNECT;
}

/* One line of the stream: {"result":{...}} or an error. */
static int watch_handle_line(EtcdWatch *w, const char *line, size_t len) {
        _cleanup_(etcd_watch_answer_done) EtcdWatchAnswer a = {};
        int k;

        k = etcd_decode_watch_line(line, len, &a);
        if (k < 0)
                return k;
        if (a.error.code != 0)
                return watch_on_error(w, &a.error);
        if (a.compact_revision > 0)
                return -ESTALE;
        if (a.canceled)
                return watch_on_cancel(w, a.cancel_reason);
        if (a.created)
                watch_on_created(w, a.revision);
        watch_deliver(w, &a);
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
                size_t n = etcd_watch_line_length(line, w->buf.size - done);
                int k;

                if (n == 0)
                        break;
                done += n;
                k = watch_handle_line(w, line, n);
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

/* The client's defer source: the lines watches received. */
static int on_client_process(sd_event_source *s, void *userdata) {
        EtcdClient *c = client_ref(userdata);
        EtcdWatch *w;

        while (!c->closed && (w = client_find_pending_watch(c))) {
                watch_ref(w);
                watch_process(w);
                watch_unref(w);
        }
        client_unref(c);
        return 0;
}

static void watch_on_done(EtcdWatch *w, CURLcode cc) {
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
}

/* The glue's callback; the stream runs only while w is linked to its client. */
static void on_watch_done(CURL *easy, CURLcode cc, void *userdata) {
        EtcdWatch *w = watch_ref(userdata);
        EtcdClient *c = client_ref(w->client);

        watch_on_done(w, cc);
        watch_unref(w);
        client_unref(c);
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
        if (error < 0)
                metric_inc(&m_keepalive_failures, NULL);
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

static int client_setup(EtcdClient *c) {
        int k = curl_glue_get(c->event, &c->glue);

        if (k < 0)
                return k;
        k = sd_event_add_defer(c->event, &c->process, on_client_process, c);
        if (k < 0)
                return k;
        (void) sd_event_source_set_description(c->process, "etcd-watch-lines");
        return sd_event_source_set_enabled(c->process, SD_EVENT_OFF);
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
        metrics_register(NULL, &m_watch_reconnects);
        metrics_register(NULL, &m_keepalive_failures);
        metrics_register(NULL, &m_requests);
        metrics_register(NULL, &m_duration);
        k = client_copy_options(c, options);
        if (k < 0)
                return k;
        k = client_setup(c);
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

static void client_destroy(EtcdClient *c) {
        client_close(c);
        curl_glue_unref(c->glue);
        sd_event_source_disable_unref(c->process);
        sd_event_unref(c->event);
        strv_free(c->endpoints);
        free(c->cafile);
        free(c->certfile);
        free(c->keyfile);
        free(c->username);
        erase_and_free(c->password);
        erase_and_free(c->token);
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
