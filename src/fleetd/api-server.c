/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP server behind the /v1 API. libmicrohttpd parses HTTP (and TLS) and owns the
 * connections; this file drives one MHD daemon per listener from sd-event, checks client
 * certificates on TLS listeners, routes requests to handlers, keeps each request's data alive
 * for as long as its handler owes a reply (see the ownership note in api-server.h), and feeds
 * streamed replies to MHD as they are written. */
#include <fcntl.h>
#include <inttypes.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "basic/error-util.h"
#include "basic/fileio.h"
#include "api-server.h"
#include "basic/strv.h"
#include "basic/host-port.h"
#include "basic/utf8.h"
#include "log.h"

#define API_BODY_MAX               ((size_t) 1024 * 1024)
#define API_CONNECTIONS_MAX        256u
#define API_CONNECTIONS_PER_IP_MAX 64u
#define API_CONNECTION_TIMEOUT_SEC 30u
#define API_STREAM_BUFFER_MAX      ((size_t) 1024 * 1024)
#define API_STREAM_BLOCK_SIZE      ((size_t) 32 * 1024)
#define API_PEM_MAX                ((size_t) 1024 * 1024)
/* TLS 1.2 and 1.3 only, GnuTLS's NORMAL choice of ciphers within them. */
#define API_TLS_PRIORITIES         "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* MHD_USE_NO_THREAD_SAFETY tells MHD that only one thread calls it; older versions do not
 * know the flag and are just as correct without it. */
#if MHD_VERSION >= 0x00097707
#define API_MHD_FLAGS (MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_NO_THREAD_SAFETY)
#else
#define API_MHD_FLAGS (MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG)
#endif

typedef struct ApiListener ApiListener;

/* One listening socket and the MHD daemon that serves it. */
struct ApiListener {
        ApiServer *server;
        ApiListener *next;
        sd_event_source *io_source;     /* MHD's epoll fd */
        sd_event_source *timer_source;  /* MHD's next timeout, or "run again now" */
        struct MHD_Daemon *daemon;
        char *socket_path;              /* set if we bound a unix socket ourselves: removed on free */
        ApiTransport transport;
        const ApiRoute *routes;         /* a table of its own (loopback); NULL: the server's */
        bool tls;                       /* HTTPS with required client certificates */
        char *tls_cert, *tls_key, *tls_trust;  /* PEM text, alive as long as the daemon */
        bool in_run;                    /* inside MHD_run() */
        bool run_again;                 /* a connection was resumed: MHD_run() must come soon */
};

#define API_SERVER_ROUTE_TABLES_MAX 4

struct ApiServer {
        sd_event *event;
        const ApiRoute *routes[API_SERVER_ROUTE_TABLES_MAX];  /* matched in order, table by table */
        size_t n_routes;
        void *userdata;
        ApiListener *listeners;
        ApiRequest *requests;           /* every request MHD still holds, of all listeners */
};

struct ApiRequest {
        /* Both NULL once MHD has finished with the connection (client gone, server freed). */
        ApiListener *listener;
        ApiTransport transport;         /* the listener's, kept when it is gone */
        struct MHD_Connection *connection;
        ApiRequest *prev, *next;        /* in server->requests while MHD holds it */
        sd_event *event;                /* a reference: events outlive the server */

        char *method;
        char *path;                     /* as sent, without the query */
        char **segments;                /* path split at '/', decoded; NULL if malformed */
        const char **args;              /* the segments matched by '*', borrowed from segments */
        size_t n_args;
        char **query;                   /* key, value, key, value, ... decoded */
        char **headers;                 /* name, value, ... as sent */
        const char *bad_request;        /* why the path or query cannot be read, if so */
        char *body;
        size_t body_size;
        int spool_fd;                   /* the body of a route with body_max; -EBADF: in memory */
        uint64_t spool_size, spool_max;

        /* The request is freed once neither MHD nor a handler holds it. */
        bool in_mhd;                    /* MHD holds it: cleared by the completed callback */
        bool owed_reply;                /* a handler has it and has not replied yet */
        bool dispatched;                /* routed (or answered by the server itself) */
        bool in_handler;                /* the handler is running: a reply needs no resume */
        bool suspended;
        bool replied;                   /* a reply was made or a stream begun */
        bool queued;                    /* a response went to MHD */

        /* Events for the handler (api_request_set_event_handler()). */
        api_request_event_t event_handler;
        void *event_userdata;
        sd_event_source *event_source;  /* defer: delivers the pending event */
        sd_event_source *hup_source;    /* the connection's socket, for EPOLLRDHUP */
        bool closed_pending;
        bool drained_pending;
        bool client_gone;               /* the peer hung up: no more writes */

        /* A streamed reply: bytes [stream_off, stream_len) of stream_buf wait for MHD. */
        bool streaming;
        bool stream_ended;
        int stream_error;
        bool want_drain;                /* a write got -ENOBUFS: tell the writer when there is room */
        char *stream_buf;
        size_t stream_off, stream_len;
};

static const char oom_body[] = "{\"error\":{\"code\":\"internal\",\"message\":\"Out of memory.\"}}\n";

static void api_listener_schedule_run(ApiListener *l);

/* ---- requests ---- */

static ApiRequest *api_request_free(ApiRequest *req) {
        if (!req)
                return NULL;
        sd_event_source_disable_unref(req->event_source);
        sd_event_source_disable_unref(req->hup_source);
        sd_event_unref(req->event);
        free(req->method);
        free(req->path);
        strv_free(req->segments);
        free(req->args);
        strv_free(req->query);
        strv_free(req->headers);
        free(req->body);
        if (req->spool_fd >= 0)
                close(req->spool_fd);
        free(req->stream_buf);
        free(req);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ApiRequest *, api_request_free);

static void api_request_release(ApiRequest *req) {
        if (!req->in_mhd && !req->owed_reply)
                api_request_free(req);
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

/* Decodes %XX escapes (and '+' as a space in queries). A bad escape, an encoded NUL or a
 * result that is not UTF-8 is an error: handlers put these values into JSON. */
static int url_unescape(const char *s, size_t n, bool plus_is_space, char **ret) {
        _cleanup_free_ char *d = malloc(n + 1);
        size_t k = 0;

        if (!d)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (s[i] != '%') {
                        d[k++] = plus_is_space && s[i] == '+' ? ' ' : s[i];
                        continue;
                }
                if (i + 2 >= n)
                        return -EINVAL;
                int hi = unhex(s[i + 1]), lo = unhex(s[i + 2]);
                if (hi < 0 || lo < 0 || (hi | lo) == 0)
                        return -EINVAL;
                d[k++] = (char) (hi << 4 | lo);
                i += 2;
        }
        d[k] = '\0';
        if (!utf8_is_valid(d))
                return -EINVAL;
        *ret = TAKE_PTR(d);
        return 0;
}

/* "/v1/units/a%40b" -> ["v1", "units", "a@b"]; "/" -> [""]. */
static int path_split(const char *path, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        const char *p = path + 1;
        int r;

        for (;;) {
                size_t n = strcspn(p, "/");
                char *seg;

                r = url_unescape(p, n, false, &seg);
                if (r < 0)
                        return r;
                r = strv_push(&l, seg);
                if (r < 0) {
                        free(seg);
                        return r;
                }
                if (!p[n])
                        break;
                p += n + 1;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        ApiRequest *req = cls;
        char *k = NULL, *v = NULL;
        int r;

        r = url_unescape(key, strlen(key), true, &k);
        if (r >= 0)
                r = url_unescape(strempty(value), strlen(strempty(value)), true, &v);
        if (r >= 0)
                r = strv_push(&req->query, k);
        if (r >= 0) {
                k = NULL;
                r = strv_push(&req->query, v);
        }
        if (r >= 0)
                return MHD_YES;

        /* The request is answered 400 without reading the (maybe odd-sized) list. */
        free(k);
        free(v);
        req->bad_request = r == -ENOMEM ? "Out of memory." : "Malformed percent escape or invalid UTF-8 in the query.";
        return MHD_NO;
}

/* Headers are kept as sent (only for api_request_header()); a request with more of them than
 * MHD's connection memory allows never gets here. */
static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        ApiRequest *req = cls;

        if (strv_extend(&req->headers, key) < 0 || strv_extend(&req->headers, strempty(value)) < 0) {
                req->bad_request = "Out of memory.";
                return MHD_NO;
        }
        return MHD_YES;
}

static int api_request_new(ApiListener *l, struct MHD_Connection *c, const char *method, const char *url,
                           ApiRequest **ret) {
        _cleanup_(api_request_freep) ApiRequest *req = NULL;
        ApiServer *s = l->server;
        int r;

        req = calloc(1, sizeof(ApiRequest));
        if (!req)
                return -ENOMEM;
        req->spool_fd = -EBADF;
        req->event = sd_event_ref(s->event);
        req->method = strdup(method);
        req->path = strdup(url);
        if (!req->method || !req->path)
                return -ENOMEM;

        if (url[0] != '/')
                req->bad_request = "The request target must be a path.";
        else {
                r = path_split(url, &req->segments);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        req->bad_request = "Malformed percent escape or invalid UTF-8 in the path.";
        }
        /* The arguments as sent: MHD was told not to decode them (see unescape_nothing()). */
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, req);
        MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, req);

        req->listener = l;
        req->transport = l->transport;
        req->connection = c;
        req->in_mhd = true;
        req->next = s->requests;
        if (s->requests)
                s->requests->prev = req;
        s->requests = req;

        *ret = TAKE_PTR(req);
        return 0;
}

static void api_request_post(ApiRequest *req, ApiRequestEvent event);

/* Turns the request loose from MHD: the completed callback, or the server going away. */
static void api_request_detach(ApiRequest *req) {
        ApiServer *s = req->listener ? req->listener->server : NULL;

        if (req->prev)
                req->prev->next = req->next;
        else if (s && s->requests == req)
                s->requests = req->next;
        if (req->next)
                req->next->prev = req->prev;
        req->prev = req->next = NULL;
        req->listener = NULL;
        req->connection = NULL;
        req->in_mhd = false;
        req->suspended = false;
        req->hup_source = sd_event_source_disable_unref(req->hup_source);
        /* A stream that was ended properly is complete; anything else was cut short. */
        if (req->owed_reply)
                api_request_post(req, API_REQUEST_CLOSED);
}

ApiTransport api_request_transport(ApiRequest *req) {
        return req->transport;
}

const char *api_request_method(ApiRequest *req) {
        return req->method;
}

const char *api_request_path(ApiRequest *req) {
        return req->path;
}

const char *api_request_arg(ApiRequest *req, unsigned n) {
        return n < req->n_args ? req->args[n] : NULL;
}

const char *api_request_query(ApiRequest *req, const char *key) {
        for (char **q = req->query; q && q[0] && q[1]; q += 2)
                if (streq(q[0], key))
                        return q[1];
        return NULL;
}

const char *api_request_header(ApiRequest *req, const char *name) {
        for (char **h = req->headers; h && h[0] && h[1]; h += 2)
                if (strcasecmp(h[0], name) == 0)
                        return h[1];
        return NULL;
}

int api_request_body_fd(ApiRequest *req, uint64_t *ret_size) {
        if (req->spool_fd < 0)
                return -ENODATA;
        if (ret_size)
                *ret_size = req->spool_size;
        return req->spool_fd;
}

const char *api_request_body(ApiRequest *req, size_t *ret_len) {
        if (ret_len)
                *ret_len = req->body_size;
        return req->body_size > 0 ? req->body : NULL;
}

/* ---- events for the handler ---- */

/* Wakes a connection we suspended; MHD picks it up in its next run. */
static void api_request_resume(ApiRequest *req) {
        if (!req->suspended)
                return;
        req->suspended = false;
        MHD_resume_connection(req->connection);
        api_listener_schedule_run(req->listener);
}

static int on_request_event(sd_event_source *es, void *userdata) {
        ApiRequest *req = userdata;
        ApiRequestEvent event;

        if (!req->event_handler || !req->owed_reply)
                return 0;
        if (req->closed_pending) {
                event = API_REQUEST_CLOSED;
                req->closed_pending = req->drained_pending = false;
        } else if (req->drained_pending) {
                event = API_REQUEST_DRAINED;
                req->drained_pending = false;
        } else
                return 0;
        /* Last: the handler may release (and so free) the request. */
        req->event_handler(req, event, req->event_userdata);
        return 0;
}

/* Events go out from the loop, never from inside MHD or a call of the handler's. */
static void api_request_post(ApiRequest *req, ApiRequestEvent event) {
        if (!req->event_source)
                return;
        if (event == API_REQUEST_CLOSED)
                req->closed_pending = true;
        else
                req->drained_pending = true;
        if (sd_event_source_set_enabled(req->event_source, SD_EVENT_ONESHOT) < 0)
                log_debug("Failed to post an event for %s %s.", req->method, req->path);
}

/* The peer hung up while we were waiting: MHD does not look at suspended connections, so we
 * wake it up; finding no answer (or a stream that is told to stop), MHD closes it, and the
 * completed callback posts API_REQUEST_CLOSED. */
static int on_request_hup(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        ApiRequest *req = userdata;

        (void) sd_event_source_set_enabled(es, SD_EVENT_OFF);
        req->client_gone = true;
        log_debug("%s %s: the client hung up.", req->method, req->path);
        if (req->in_mhd)
                api_request_resume(req);
        return 0;
}

static int api_request_watch_hup(ApiRequest *req) {
        const union MHD_ConnectionInfo *ci;
        int r;

        if (req->hup_source || !req->in_mhd)
                return 0;
        ci = MHD_get_connection_info(req->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci)
                return -EIO;
        r = sd_event_add_io(req->event, &req->hup_source, ci->connect_fd, EPOLLRDHUP, on_request_hup, req);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(req->hup_source, "api-request-hup");
        return 0;
}

int api_request_set_event_handler(ApiRequest *req, api_request_event_t handler, void *userdata) {
        int r;

        req->event_handler = handler;
        req->event_userdata = userdata;
        if (!handler || req->event_source)
                return 0;

        r = sd_event_add_defer(req->event, &req->event_source, on_request_event, req);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(req->event_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(req->event_source, "api-request-event");
        if (!req->in_mhd && req->owed_reply)
                api_request_post(req, API_REQUEST_CLOSED);
        return api_request_watch_hup(req);
}

/* ---- replies ---- */

/* Hands resp to MHD (and drops our reference) and wakes the connection up if it was waiting
 * for us. Resumes even if queueing failed: finding no answer, MHD calls api_server_access()
 * again, which closes the connection. */
static int api_request_queue(ApiRequest *req, unsigned status, struct MHD_Response *resp) {
        int r = 0;

        if (MHD_queue_response(req->connection, status, resp) != MHD_YES)
                r = -EIO;
        else
                req->queued = true;
        MHD_destroy_response(resp);
        api_request_resume(req);
        return r;
}

/* Queues text (owned; NULL means we ran out of memory) as a JSON answer. */
static int api_request_queue_text(ApiRequest *req, unsigned status, char *text, const char *allow) {
        struct MHD_Response *resp;

        if (text)
                resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        else {
                status = 500;
                resp = MHD_create_response_from_buffer(strlen(oom_body), (void *) oom_body,
                                                       MHD_RESPMEM_PERSISTENT);
        }
        if (!resp) {
                free(text);
                api_request_resume(req);
                return -ENOMEM;
        }
        if (((!text || *text) && MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") != MHD_YES) ||
            (allow && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)) {
                MHD_destroy_response(resp);
                api_request_resume(req);
                return -ENOMEM;
        }
        return api_request_queue(req, status, resp);
}

/* Ends the handler's ownership: no more events, and the request goes once MHD is done. */
static void api_request_settle(ApiRequest *req) {
        req->event_handler = NULL;
        req->event_source = sd_event_source_disable_unref(req->event_source);
        req->hup_source = sd_event_source_disable_unref(req->hup_source);
        if (req->owed_reply) {
                req->owed_reply = false;
                api_request_release(req);
        }
}

/* The one way out for every JSON answer: server-made or the handler's. Takes text. */
static int api_request_finish(ApiRequest *req, unsigned status, char *text, const char *allow) {
        int r = 0;

        if (req->replied) {
                free(text);
                return -EALREADY;
        }
        req->replied = true;

        if (req->in_mhd) {
                log_debug("%s %s -> %u", req->method, req->path, text ? status : 500);
                r = api_request_queue_text(req, status, text, allow);
                if (r < 0)
                        log_debug_errno(r, "Failed to answer %s %s: %m", req->method, req->path);
        } else {
                log_debug("%s %s -> %u, dropped: the client is gone.", req->method, req->path, status);
                free(text);
        }

        api_request_settle(req);
        return r;
}

static char *json_text(const json_t *v) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        size_t n;
        char *t;

        if (!s)
                return NULL;
        n = strlen(s);
        t = realloc(s, n + 2);
        if (!t) {
                free(s);
                return NULL;
        }
        t[n] = '\n';
        t[n + 1] = '\0';
        return t;
}

static char *error_text(const char *code, const char *message) {
        json_auto_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);

        /* jansson takes only UTF-8; a message quoting foreign bytes must not become a 500. */
        if (!o)
                o = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message",
                              "(The error message was not valid UTF-8.)");
        return o ? json_text(o) : NULL;
}

int api_request_reply_json(ApiRequest *req, unsigned status, json_t *body) {
        return api_request_finish(req, status, body ? json_text(body) : NULL, NULL);
}

int api_request_reply_error(ApiRequest *req, unsigned status, const char *code, const char *fmt, ...) {
        _cleanup_free_ char *message = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&message, fmt, ap);
        va_end(ap);
        if (r < 0)
                message = NULL;
        return api_request_finish(req, status, message ? error_text(code, message) : NULL, NULL);
}

int api_request_reply_empty(ApiRequest *req, unsigned status) {
        return api_request_finish(req, status, strdup(""), NULL);
}

int api_request_reply_etcd_error(ApiRequest *req, int error) {
        return api_request_reply_error(req, 503, "etcd_unavailable", "etcd did not answer: %s", strerror(-error));
}

static void reply_error_allow(ApiRequest *req, unsigned status, const char *code, const char *message,
                              const char *allow) {
        api_request_finish(req, status, error_text(code, message), allow);
}

/* ---- streamed replies ---- */

/* MHD asks for the next piece of a stream. With nothing to give, the connection sleeps
 * (suspended) until a write or the end wakes it: returning 0 alone would make MHD ask again
 * at once, forever. */
static ssize_t api_request_stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
        ApiRequest *req = cls;
        size_t n = req->stream_len - req->stream_off;

        if (req->client_gone || req->stream_error < 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        if (n > 0) {
                n = MIN(n, max);
                memcpy(buf, req->stream_buf + req->stream_off, n);
                req->stream_off += n;
                if (req->stream_off == req->stream_len)
                        req->stream_off = req->stream_len = 0;
                if (req->want_drain && req->stream_len - req->stream_off <= API_STREAM_BUFFER_MAX / 2) {
                        req->want_drain = false;
                        api_request_post(req, API_REQUEST_DRAINED);
                }
                return (ssize_t) n;
        }
        if (req->stream_ended)
                return MHD_CONTENT_READER_END_OF_STREAM;

        req->suspended = true;
        MHD_suspend_connection(req->connection);
        return 0;
}

int api_request_stream_begin(ApiRequest *req, unsigned status, const char *content_type) {
        struct MHD_Response *resp;
        int r;

        if (req->replied)
                return -EALREADY;
        req->replied = true;
        req->streaming = true;
        if (!req->in_mhd) {
                log_debug("%s %s -> %u (stream), dropped: the client is gone.", req->method, req->path, status);
                return 0;
        }

        log_debug("%s %s -> %u (stream)", req->method, req->path, status);
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, API_STREAM_BLOCK_SIZE, api_request_stream_read,
                                                 req, NULL);
        if (!resp)
                return -ENOMEM;
        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES ||
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") != MHD_YES) {
                MHD_destroy_response(resp);
                return -ENOMEM;
        }
        r = api_request_queue(req, status, resp);
        if (r < 0) {
                log_debug_errno(r, "Failed to start the answer to %s %s: %m", req->method, req->path);
                req->client_gone = true;
        }
        return 0;
}

/* Makes room for size more bytes, moving what is unsent to the front first. */
static int api_request_stream_reserve(ApiRequest *req, size_t size) {
        size_t pending = req->stream_len - req->stream_off;
        char *b;

        if (req->stream_off > 0) {
                memmove(req->stream_buf, req->stream_buf + req->stream_off, pending);
                req->stream_off = 0;
                req->stream_len = pending;
        }
        b = realloc(req->stream_buf, pending + size);
        if (!b)
                return -ENOMEM;
        req->stream_buf = b;
        return 0;
}

int api_request_stream_write(ApiRequest *req, const void *data, size_t size) {
        size_t pending = req->stream_len - req->stream_off;
        int r;

        if (!req->streaming || req->stream_ended)
                return -EINVAL;
        if (!req->in_mhd || req->client_gone)
                return -ECONNRESET;
        if (pending > 0 && size > API_STREAM_BUFFER_MAX - MIN(pending, API_STREAM_BUFFER_MAX)) {
                req->want_drain = true;
                return -ENOBUFS;
        }
        if (size == 0)
                return 0;

        r = api_request_stream_reserve(req, size);
        if (r < 0)
                return r;
        memcpy(req->stream_buf + req->stream_len, data, size);
        req->stream_len += size;
        api_request_resume(req);
        return 0;
}

int api_request_stream_end(ApiRequest *req, int error) {
        if (!req->streaming || req->stream_ended)
                return -EINVAL;
        req->stream_ended = true;
        req->stream_error = MIN(error, 0);
        if (req->in_mhd) {
                log_debug("%s %s: end of stream%s.", req->method, req->path, error < 0 ? " (cut off)" : "");
                api_request_resume(req);
        }
        api_request_settle(req);
        return 0;
}

/* ---- routing ---- */

/* Matches a pattern segment by segment; '*' takes one non-empty segment, a final '**' all the
 * segments left (none too). On a match ret_args (sized for every segment) holds the starred
 * segments. */
static bool route_match(const char *pattern, char * const *segments, const char **ret_args, size_t *ret_n) {
        const char *p = pattern;
        size_t n = 0;

        STRV_FOREACH(seg, segments) {
                if (streq(p, "/**"))
                        break;
                if (*p != '/')
                        return false;
                p++;
                size_t len = strcspn(p, "/");
                if (len == 1 && *p == '*') {
                        if (isempty(*seg))
                                return false;
                        ret_args[n++] = *seg;
                } else if (strlen(*seg) != len || strncmp(*seg, p, len) != 0)
                        return false;
                p += len;
        }
        if (*p && !streq(p, "/**"))
                return false;
        *ret_n = n;
        return true;
}

/* The route after route (NULL: the first), through every table in order; NULL after the last. */
static const ApiRoute *route_next(const ApiRoute * const *tables, size_t n, size_t *table, const ApiRoute *route) {
        route = route ? route + 1 : tables[*table];
        while (!route->method && *table + 1 < n)
                route = tables[++*table];
        return route->method ? route : NULL;
}

/* Finds the route for req and stores its args. *ret_route is NULL if none matches: then
 * *ret_allow lists the methods the path does have (NULL: an unknown path). */
static int api_server_route(ApiServer *s, ApiRequest *req, const ApiRoute **ret_route, char **ret_allow) {
        _cleanup_free_ const char **args = calloc(strv_length(req->segments) + 1, sizeof(char *));
        _cleanup_free_ char *allow = NULL;
        size_t n;

        if (!args)
                return -ENOMEM;
        /* a listener with a table of its own serves that one alone */
        const ApiRoute * const *tables = req->listener && req->listener->routes ? &req->listener->routes : s->routes;
        size_t n_tables = req->listener && req->listener->routes ? 1 : s->n_routes, t = 0;
        for (const ApiRoute *route = route_next(tables, n_tables, &t, NULL); route;
             route = route_next(tables, n_tables, &t, route)) {
                if (!route_match(route->pattern, req->segments, args, &n))
                        continue;
                if (streq(route->method, req->method) || streq(route->method, "*")) {
                        req->args = TAKE_PTR(args);
                        req->n_args = n;
                        *ret_route = route;
                        *ret_allow = NULL;
                        return 0;
                }
                if (!allow || !strstr(allow, route->method)) {
                        char *a = NULL;
                        if (asprintf(&a, "%s%s%s", strempty(allow), allow ? ", " : "", route->method) < 0)
                                return -ENOMEM;
                        free(allow);
                        allow = a;
                }
        }
        *ret_route = NULL;
        *ret_allow = TAKE_PTR(allow);
        return 0;
}

static void api_server_call(ApiServer *s, ApiRequest *req, const ApiRoute *route) {
        int r;

        req->owed_reply = true;
        req->in_handler = true;
        r = route->handler(req, s->userdata);
        req->in_handler = false;

        if (r < 0 && req->owed_reply) {
                log_warning_errno(r, "Handler for %s %s failed: %m", req->method, req->path);
                if (req->streaming)
                        api_request_stream_end(req, r);
                else
                        /* Mirror the handler's error for the client: a local, trusted audience. */
                        api_request_reply_error(req, 500, "internal", "%s", strerror(-r));
        } else if (r < 0)
                log_debug_errno(r, "Handler for %s %s failed after replying: %m", req->method, req->path);

        if (req->owed_reply && !req->queued && req->in_mhd) {
                /* Answered later: MHD leaves the connection alone until we resume it. */
                req->suspended = true;
                MHD_suspend_connection(req->connection);
        }
}

/* The whole request is in: route it and run its handler. */
static void api_server_dispatch(ApiServer *s, ApiRequest *req) {
        _cleanup_free_ char *allow = NULL;
        const ApiRoute *route;
        int r;

        req->dispatched = true;
        if (req->bad_request) {
                reply_error_allow(req, 400, "bad_request", req->bad_request, NULL);
                return;
        }

        r = api_server_route(s, req, &route, &allow);
        if (r < 0)
                api_request_finish(req, 500, NULL, NULL);
        else if (route)
                api_server_call(s, req, route);
        else if (allow)
                reply_error_allow(req, 405, "method_not_allowed", "Method not allowed on this path.", allow);
        else
                reply_error_allow(req, 404, "not_found", "No such API path.", NULL);
}

/* ---- client certificates ---- */

/* Whether the TLS peer showed a certificate that our trusted CAs signed, that is valid now
 * and, if it names key purposes, is for TLS clients. 0 if so; otherwise a negative errno and
 * *ret_why, a static text for the 403. MHD asked for the certificate in the handshake
 * (MHD_OPTION_HTTPS_MEM_TRUST) but cannot insist on it: this is where it is insisted on. */
static int api_connection_verify_client(struct MHD_Connection *c, const char **ret_why) {
        gnutls_typed_vdata_st purpose = {
                .type = GNUTLS_DT_KEY_PURPOSE_OID,
                .data = (unsigned char *) GNUTLS_KP_TLS_WWW_CLIENT,
        };
        const union MHD_ConnectionInfo *ci;
        gnutls_session_t session;
        unsigned status = 0;
        int r;

        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (!ci || !ci->tls_session) {
                *ret_why = "The TLS session cannot be inspected.";
                return -EPROTO;
        }
        session = ci->tls_session;
        if (gnutls_certificate_type_get(session) != GNUTLS_CRT_X509) {
                *ret_why = "A client certificate (X.509) is required.";
                return -EPERM;
        }
        r = gnutls_certificate_verify_peers(session, &purpose, 1, &status);
        if (r == GNUTLS_E_NO_CERTIFICATE_FOUND) {
                *ret_why = "A client certificate is required.";
                return -EPERM;
        }
        if (r < 0) {
                log_debug("Client certificate check failed: %s", gnutls_strerror(r));
                *ret_why = "The client certificate could not be checked.";
                return -EPERM;
        }
        if (status != 0) {
                gnutls_datum_t text = {};
                if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) >= 0) {
                        log_debug("Refusing a client certificate: %s", (const char *) text.data);
                        gnutls_free(text.data);
                }
                *ret_why = status & GNUTLS_CERT_EXPIRED ? "The client certificate has expired." :
                           status & GNUTLS_CERT_NOT_ACTIVATED ? "The client certificate is not valid yet." :
                           status & GNUTLS_CERT_PURPOSE_MISMATCH ? "The client certificate is not for TLS clients." :
                           "The client certificate is not signed by a CA this server trusts (api_client_ca).";
                return -EPERM;
        }
        return 0;
}

/* Content-Length over the limit is answered before the body is read; a body that turns out
 * larger while streaming (chunked) closes the connection, since no answer can be queued then. */
static bool declared_too_large(struct MHD_Connection *c, uint64_t max) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        char *end;
        unsigned long long n;

        if (!cl)
                return false;
        errno = 0;
        n = strtoull(cl, &end, 10);
        return errno != 0 || end == cl || n > max;
}

/* A spooled body goes to its file as it comes (a local file: the write does not wait long). */
static int api_request_spool(ApiRequest *req, const char *data, size_t size) {
        if (size > req->spool_max - req->spool_size)
                return -EFBIG;
        while (size > 0) {
                ssize_t n = write(req->spool_fd, data, size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                data += n;
                size -= (size_t) n;
                req->spool_size += (uint64_t) n;
        }
        return 0;
}

/* Before the body: a route that spools gets its file (and its own size limit). */
static int api_request_prepare_body(ApiServer *s, ApiRequest *req) {
        _cleanup_free_ char *allow = NULL;
        const ApiRoute *route = NULL;
        int r;

        if (req->bad_request)
                return 0;
        r = api_server_route(s, req, &route, &allow);
        /* Routed again once the body is in: drop this lookup's args. */
        free(req->args);
        req->args = NULL;
        req->n_args = 0;
        if (r < 0 || !route || route->body_max == 0)
                return r < 0 ? r : 0;
        req->spool_fd = open(API_SPOOL_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (req->spool_fd < 0)
                return -errno;
        req->spool_max = route->body_max;
        return 0;
}

static int api_request_append(ApiRequest *req, const char *data, size_t size) {
        char *b;

        if (req->spool_fd >= 0)
                return api_request_spool(req, data, size);

        if (size > API_BODY_MAX - req->body_size)
                return -EFBIG;
        b = realloc(req->body, req->body_size + size + 1);
        if (!b)
                return -ENOMEM;
        memcpy(b + req->body_size, data, size);
        req->body = b;
        req->body_size += size;
        req->body[req->body_size] = '\0';
        return 0;
}

static void api_request_too_large(ApiRequest *req) {
        _cleanup_free_ char *msg = NULL;

        if (req->spool_fd < 0) {
                reply_error_allow(req, 413, "payload_too_large", "The request body is larger than 1 MiB.", NULL);
                return;
        }
        if (asprintf(&msg, "The request body is larger than %" PRIu64 " MiB.", req->spool_max >> 20) < 0)
                msg = NULL;
        reply_error_allow(req, 413, "payload_too_large", msg ?: "The request body is too large.", NULL);
}

/* MHD calls this once when the headers are in, once per piece of body, and once at the end. */
static enum MHD_Result api_server_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                         const char *version, const char *upload_data, size_t *upload_data_size,
                                         void **con_cls) {
        ApiListener *l = cls;
        ApiRequest *req = *con_cls;
        const char *why;
        int r;

        if (!req) {
                r = api_request_new(l, c, method, url, &req);
                if (r < 0) {
                        log_oom();
                        return MHD_NO;
                }
                *con_cls = req;
                if (l->tls && api_connection_verify_client(c, &why) < 0) {
                        log_debug("Refusing %s %s over TLS: %s", method, req->path, why);
                        req->dispatched = true;
                        reply_error_allow(req, 403, "forbidden", why, NULL);
                } else if ((r = api_request_prepare_body(l->server, req)) < 0) {
                        log_warning_errno(r, "Cannot take the body of %s %s: %m", method, req->path);
                        req->dispatched = true;
                        api_request_finish(req, 500, NULL, NULL);
                } else if (declared_too_large(c, req->spool_fd >= 0 ? req->spool_max : API_BODY_MAX)) {
                        req->dispatched = true;
                        api_request_too_large(req);
                }
                return MHD_YES;
        }

        /* Called again after we answered or resumed without an answer: nothing left to do. */
        if (req->dispatched)
                return MHD_NO;

        if (*upload_data_size > 0) {
                r = api_request_append(req, upload_data, *upload_data_size);
                if (r < 0) {
                        log_debug_errno(r, "Closing connection for %s %s: body too large: %m", method, req->path);
                        return MHD_NO;
                }
                *upload_data_size = 0;
                return MHD_YES;
        }

        if (req->spool_fd >= 0 && lseek(req->spool_fd, 0, SEEK_SET) < 0) {
                req->dispatched = true;
                api_request_finish(req, 500, NULL, NULL);
                return MHD_YES;
        }
        api_server_dispatch(l->server, req);
        return MHD_YES;
}

static void api_server_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                                 enum MHD_RequestTerminationCode toe) {
        ApiRequest *req = *con_cls;

        if (!req)
                return;
        *con_cls = NULL;
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
                log_debug("%s %s ended early (libmicrohttpd reason %d).", req->method, req->path, (int) toe);
        api_request_detach(req);
        api_request_release(req);
}

/* Leave the URL and query as sent: we split the path before decoding it, so that an escaped
 * "%2F" stays inside its segment, and decode queries ourselves. */
static size_t unescape_nothing(void *cls, struct MHD_Connection *c, char *s) {
        return strlen(s);
}

static void api_server_mhd_log(void *cls, const char *fmt, va_list ap) {
        _cleanup_free_ char *m = NULL;
        size_t n;

        if (vasprintf(&m, fmt, ap) < 0)
                return;
        n = strlen(m);
        while (n > 0 && m[n - 1] == '\n')
                m[--n] = '\0';
        log_debug("libmicrohttpd: %s", m);
}

/* ---- the event loop ---- */

/* Points the timer at MHD's next deadline, or at once if a resumed connection waits. */
static int api_listener_arm(ApiListener *l) {
        MHD_UNSIGNED_LONG_LONG ms;
        uint64_t now, when;
        int r;

        if (!l->run_again && MHD_get_timeout(l->daemon, &ms) != MHD_YES)
                return sd_event_source_set_enabled(l->timer_source, SD_EVENT_OFF);

        r = sd_event_now(l->server->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        if (l->run_again)
                when = now;
        else
                when = ms >= (UINT64_MAX - now) / USEC_PER_MSEC ? UINT64_MAX - 1 : now + ms * USEC_PER_MSEC;
        r = sd_event_source_set_time(l->timer_source, when);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(l->timer_source, SD_EVENT_ONESHOT);
}

static int api_listener_run(ApiListener *l) {
        int r;

        l->run_again = false;
        l->in_run = true;
        if (MHD_run(l->daemon) != MHD_YES)
                log_debug("MHD_run() failed.");
        l->in_run = false;

        r = api_listener_arm(l);
        if (r < 0) {
                log_error_errno(r, "Failed to arm the API server's timer, stopping: %m");
                return sd_event_exit(l->server->event, r);
        }
        return 0;
}

/* A connection was resumed from outside MHD_run() (or inside it, too late for this round):
 * MHD only picks that up in its next MHD_run(). */
static void api_listener_schedule_run(ApiListener *l) {
        int r;

        l->run_again = true;
        if (l->in_run)
                return;     /* api_listener_run() arms the timer right after */
        r = api_listener_arm(l);
        if (r < 0) {
                log_error_errno(r, "Failed to arm the API server's timer, stopping: %m");
                sd_event_exit(l->server->event, r);
        }
}

static int on_mhd_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        return api_listener_run(userdata);
}

static int on_mhd_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        return api_listener_run(userdata);
}

/* ---- the listening socket ---- */

static int mkdir_parents(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *slash = '/';
        }
        return 0;
}

/* A socket file nobody listens on is what a crashed fleetd leaves behind: remove it. One with
 * a listener is another fleetd; anything else is not ours to delete. */
static int remove_stale_socket(const struct sockaddr_un *sa) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (lstat(sa->sun_path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) sa, sizeof(*sa)) >= 0 || errno == EAGAIN)
                return -EADDRINUSE;
        if (errno != ECONNREFUSED)
                return -errno;
        if (unlink(sa->sun_path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int bind_unix_socket(const char *path, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (isempty(path) || path[0] != '/')
                return -EINVAL;
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        r = mkdir_parents(path, 0755);
        if (r < 0)
                return r;
        r = remove_stale_socket(&sa);
        if (r < 0)
                return r;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (const struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        if (chmod(path, 0660) < 0 || listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                (void) unlink(path);
                return r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* A socket systemd passed, made ready for MHD. */
static int passed_socket_prepare(int fd) {
        int r;

        r = sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOTSOCK;
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

/* Binds socket_path; ret_path is set to it (we created the socket file). */
static int api_server_bind_unix(const char *socket_path, int *ret_fd, char **ret_path) {
        int r, fd;

        _cleanup_free_ char *path = strdup(strempty(socket_path));
        if (!path)
                return -ENOMEM;
        r = bind_unix_socket(socket_path, &fd);
        if (r < 0)
                return r;
        *ret_fd = fd;
        *ret_path = TAKE_PTR(path);
        return 0;
}

/* Binds host:port (every address host resolves to is tried in order; the first that binds
 * wins). */
static int bind_tcp_socket(const char *listen_address, int *ret_fd) {
        _cleanup_free_ char *host = NULL;
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
        struct addrinfo *ai = NULL;
        char port_text[8];
        uint16_t port;
        int r;

        r = parse_host_port(listen_address, &host, &port);
        if (r < 0)
                return r;
        snprintf(port_text, sizeof(port_text), "%u", port);
        r = getaddrinfo(host, port_text, &hints, &ai);
        if (r != 0)
                return r == EAI_SYSTEM ? -errno : r == EAI_MEMORY ? -ENOMEM : -EADDRNOTAVAIL;

        r = -EADDRNOTAVAIL;
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                _cleanup_close_ int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                int one = 1;

                if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
                    bind(fd, a->ai_addr, a->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
                        r = -errno;
                        continue;
                }
                *ret_fd = TAKE_FD(fd);
                r = 0;
                break;
        }
        freeaddrinfo(ai);
        return r;
}

/* ---- TLS material ---- */

/* Reads a PEM file (at most API_PEM_MAX bytes) as a string. */
static int read_pem_file(const char *path, char **ret) {
        return read_file_limit(path, API_PEM_MAX, ret, NULL);
}

/* Private keys do not linger in freed memory. */
static char *erase_and_free(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
        return NULL;
}

/* MHD only says "failed" when its GnuTLS calls fail; the same calls made here first say why. */
static int tls_check(const ApiListener *l, const ApiTlsOptions *o, char **ret_error) {
        gnutls_certificate_credentials_t cred;
        gnutls_datum_t cert = { (unsigned char *) l->tls_cert, (unsigned) strlen(l->tls_cert) };
        gnutls_datum_t key = { (unsigned char *) l->tls_key, (unsigned) strlen(l->tls_key) };
        gnutls_datum_t trust = { (unsigned char *) l->tls_trust, (unsigned) strlen(l->tls_trust) };
        int r, n;

        if (gnutls_certificate_allocate_credentials(&cred) < 0)
                return -ENOMEM;
        r = gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
        n = r >= 0 ? gnutls_certificate_set_x509_trust_mem(cred, &trust, GNUTLS_X509_FMT_PEM) : 0;
        gnutls_certificate_free_credentials(cred);

        if (r == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
                return error_set(ret_error, -EBADMSG, "%s: the key does not belong to the certificate %s",
                                 o->key_file, o->cert_file);
        if (r < 0)
                return error_set(ret_error, -EBADMSG, "%s, %s: cannot load the certificate and key (PEM expected): %s",
                                 o->cert_file, o->key_file, gnutls_strerror(r));
        if (n <= 0)
                return error_set(ret_error, -EBADMSG, "%s: no CA certificate in it (PEM expected)%s%s",
                                 o->client_ca_file, n < 0 ? ": " : "", n < 0 ? gnutls_strerror(n) : "");
        return 0;
}

static int api_listener_load_tls(ApiListener *l, const ApiTlsOptions *o, char **ret_error) {
        int r;

        r = read_pem_file(o->cert_file, &l->tls_cert);
        if (r < 0)
                return r;
        r = read_pem_file(o->key_file, &l->tls_key);
        if (r < 0)
                return r;
        r = read_pem_file(o->client_ca_file, &l->tls_trust);
        if (r < 0)
                return r;
        l->tls = true;
        return tls_check(l, o, ret_error);
}

/* ---- listeners ---- */

static ApiListener *api_listener_free(ApiListener *l) {
        if (!l)
                return NULL;
        l->io_source = sd_event_source_disable_unref(l->io_source);
        l->timer_source = sd_event_source_disable_unref(l->timer_source);
        if (l->daemon) {
                ApiServer *s = l->server;

                /* MHD refuses to stop with suspended connections; resumed, they are closed
                 * with the rest, and the completed callback detaches their requests. */
                for (ApiRequest *req = s ? s->requests : NULL; req; req = req->next)
                        if (req->listener == l && req->suspended) {
                                req->suspended = false;
                                MHD_resume_connection(req->connection);
                        }
                MHD_stop_daemon(l->daemon);
        }
        if (l->socket_path)
                (void) unlink(l->socket_path);
        free(l->socket_path);
        free(l->tls_cert);
        erase_and_free(l->tls_key);
        free(l->tls_trust);
        free(l);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ApiListener *, api_listener_free);

/* Starts MHD on fd, which it owns from here on (even when this fails). Returns MHD's epoll fd. */
static int api_listener_start_daemon(ApiListener *l, int fd) {
        struct MHD_OptionItem tls_options[] = {
                { MHD_OPTION_HTTPS_MEM_CERT, 0, l->tls_cert },
                { MHD_OPTION_HTTPS_MEM_KEY, 0, l->tls_key },
                { MHD_OPTION_HTTPS_MEM_TRUST, 0, l->tls_trust },
                { MHD_OPTION_HTTPS_PRIORITIES, 0, (void *) API_TLS_PRIORITIES },
                { MHD_OPTION_PER_IP_CONNECTION_LIMIT, API_CONNECTIONS_PER_IP_MAX, NULL },
                { MHD_OPTION_END, 0, NULL },
        };
        struct MHD_OptionItem no_options[] = { { MHD_OPTION_END, 0, NULL } };
        const union MHD_DaemonInfo *info;

        l->daemon = MHD_start_daemon(API_MHD_FLAGS | (l->tls ? MHD_USE_TLS : 0), 0, NULL, NULL, api_server_access, l,
                                     MHD_OPTION_EXTERNAL_LOGGER, api_server_mhd_log, NULL,
                                     MHD_OPTION_LISTEN_SOCKET, (MHD_socket) fd,
                                     MHD_OPTION_CONNECTION_LIMIT, API_CONNECTIONS_MAX,
                                     MHD_OPTION_CONNECTION_TIMEOUT, API_CONNECTION_TIMEOUT_SEC,
                                     MHD_OPTION_NOTIFY_COMPLETED, api_server_completed, l,
                                     MHD_OPTION_UNESCAPE_CALLBACK, unescape_nothing, NULL,
                                     MHD_OPTION_ARRAY, l->tls ? tls_options : no_options,
                                     MHD_OPTION_END);
        if (!l->daemon) {
                /* Depending on where it failed MHD closed fd or not; nothing else opened fds
                 * meanwhile, so an fd still open here is still ours. */
                if (fcntl(fd, F_GETFD) >= 0)
                        close(fd);
                log_debug("libmicrohttpd failed to start (see its messages above).");
                return -EIO;
        }

        info = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return -EIO;
        return info->epoll_fd;
}

/* Starts serving fd (taking it) on l and links l into s. */
static int api_server_add_listener(ApiServer *s, ApiListener *l, int fd) {
        int r, epoll_fd;

        l->server = s;
        epoll_fd = api_listener_start_daemon(l, fd);
        if (epoll_fd < 0)
                return epoll_fd;

        r = sd_event_add_io(s->event, &l->io_source, epoll_fd, EPOLLIN, on_mhd_io, l);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(l->io_source, l->tls ? "api-tls-io" : l->routes ? "api-loopback-io" :
                                                                     "api-server-io");

        /* Fires at once: the first MHD_run() then arms it from MHD's timeout. */
        r = sd_event_add_time(s->event, &l->timer_source, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_mhd_timer, l);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(l->timer_source, l->tls ? "api-tls-timer" :
                                                                        l->routes ? "api-loopback-timer" : "api-server-timer");

        l->next = s->listeners;
        s->listeners = l;
        return 0;
}

/* ---- the server ---- */

/* One listener on fd (taken, also on failure), or on socket_path when fd is -EBADF. */
static int api_server_listen_unix(ApiServer *s, int fd, const char *socket_path) {
        _cleanup_(api_listener_freep) ApiListener *l = calloc(1, sizeof(ApiListener));
        int r;

        if (!l) {
                if (fd >= 0)
                        close(fd);
                return -ENOMEM;
        }
        if (fd < 0) {
                r = api_server_bind_unix(socket_path, &fd, &l->socket_path);
                if (r < 0)
                        return r;
        }
        /* From here MHD owns fd. */
        r = api_server_add_listener(s, l, fd);
        if (r < 0)
                return r;
        TAKE_PTR(l);
        return 0;
}

/* Every socket systemd passed (fleetd.socket: fleetd's own and fleet's), else socket_path. */
static int api_server_listen_all(ApiServer *s, const char *socket_path) {
        int n, r;

        n = sd_listen_fds(true);
        if (n < 0)
                return n;
        if (n == 0)
                return api_server_listen_unix(s, -EBADF, socket_path);
        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
                r = passed_socket_prepare(fd);
                if (r < 0)
                        return r;
                r = api_server_listen_unix(s, fd, NULL);
                if (r < 0)
                        return r;
        }
        log_debug("Serving the API on the %d socket(s) passed by systemd.", n);
        return 0;
}

int api_server_new(sd_event *e, const char *socket_path, const ApiRoute *routes, void *userdata,
                   ApiServer **ret) {
        _cleanup_(api_server_freep) ApiServer *s = NULL;
        int r;

        s = calloc(1, sizeof(ApiServer));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(e);
        s->routes[s->n_routes++] = routes;
        s->userdata = userdata;

        r = api_server_listen_all(s, socket_path);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

int api_server_add_routes(ApiServer *s, const ApiRoute *routes) {
        if (s->n_routes >= API_SERVER_ROUTE_TABLES_MAX)
                return -E2BIG;
        s->routes[s->n_routes++] = routes;
        return 0;
}

/* Binds listen and serves it with l (taken: freed if this fails). */
static int api_server_listen_tcp(ApiServer *s, ApiListener *l, const char *listen) {
        _cleanup_(api_listener_freep) ApiListener *owned = l;
        int r, fd = -EBADF;

        r = bind_tcp_socket(listen, &fd);
        if (r < 0)
                return r;
        r = api_server_add_listener(s, l, fd);
        if (r < 0)
                return r;
        TAKE_PTR(owned);
        return 0;
}

int api_server_listen_tls(ApiServer *s, const ApiTlsOptions *o, char **ret_error) {
        _cleanup_(api_listener_freep) ApiListener *l = NULL;
        int r;

        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
                return -EOPNOTSUPP;
        if (!o->listen || !o->cert_file || !o->key_file || !o->client_ca_file)
                return -EINVAL;

        l = calloc(1, sizeof(ApiListener));
        if (!l)
                return -ENOMEM;
        l->transport = API_TRANSPORT_TLS;
        r = api_listener_load_tls(l, o, ret_error);
        if (r < 0)
                return r;
        return api_server_listen_tcp(s, TAKE_PTR(l), o->listen);
}

int api_server_listen_loopback(ApiServer *s, const char *listen, const ApiRoute *routes) {
        _cleanup_(api_listener_freep) ApiListener *l = NULL;

        if (!listen || !routes)
                return -EINVAL;
        if (!host_port_is_loopback(listen))
                return -EADDRNOTAVAIL;
        l = calloc(1, sizeof(ApiListener));
        if (!l)
                return -ENOMEM;
        l->transport = API_TRANSPORT_LOOPBACK;
        l->routes = routes;
        return api_server_listen_tcp(s, TAKE_PTR(l), listen);
}

ApiServer *api_server_free(ApiServer *s) {
        if (!s)
                return NULL;

        while (s->listeners) {
                ApiListener *l = s->listeners;
                s->listeners = l->next;
                api_listener_free(l);
        }
        /* Whatever MHD did not report (nothing, normally) must not point at us. */
        while (s->requests) {
                ApiRequest *req = s->requests;
                api_request_detach(req);
                api_request_release(req);
        }

        sd_event_unref(s->event);
        free(s);
        return NULL;
}
