/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* HTTP/1.1 + JSON API under /v1, served by libmicrohttpd driven from the sd-event loop
 * (MHD_USE_EPOLL without internal threads: MHD's epoll fd is an sd-event io source, its
 * timeout an sd-event timer). One ApiServer has its route tables and one or more listeners,
 * each its own MHD daemon: the unix sockets (every one systemd passes through socket
 * activation, sd_listen_fds, or one it creates itself, mode 0660), and optionally a TCP
 * address that speaks HTTPS only and answers only clients whose certificate the configured
 * CA signed (api_server_listen_tls()). Plain HTTP is offered on TCP only by a loopback
 * listener with a route table of its own (api_server_listen_loopback(), FleetLock for Zincati).
 *
 * Limits, per listener: request bodies up to 1 MiB (larger ones get 413), 256 connections
 * (64 per client address on TCP), 30 s of inactivity per connection. Every server-made answer
 * is JSON (Content-Type: application/json); errors are {"error":{"code":"...","message":"..."}}:
 * 404 for an unknown path, 405 (with Allow) for a known path and another method, 400 for a
 * malformed path or query, 403 on TCP for a client without a valid certificate, 500 when a
 * handler fails.
 *
 * Ownership of an ApiRequest: the server creates it when a request arrives and hands it to
 * exactly one handler. From then on the handler (or whoever it passes the request to) owes
 * exactly ONE reply: a call of api_request_reply_json() or api_request_reply_error(), or a
 * stream (api_request_stream_begin(), writes, then api_request_stream_end()), now or later;
 * that call (for a stream: its end) releases the request, and the pointer must not be used
 * after it, whatever it returned. Until then the request stays valid, with all of its data
 * (method, path, args, query, headers, body are the request's own copies), even if the client
 * disconnected or the ApiServer was freed in the meantime: the reply is then dropped silently.
 * A handler that returns a negative errno must not have kept the request anywhere (the server
 * answers 500 and the request is no longer the handler's). A request that is never answered
 * is leaked, and its connection stays open until the server is freed. */

#include <jansson.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "basic/macros.h"

typedef struct ApiServer ApiServer;
typedef struct ApiRequest ApiRequest;

/* The kind of listener a request came in on. */
typedef enum ApiTransport {
        API_TRANSPORT_UNIX,           /* a unix socket: whoever may open it */
        API_TRANSPORT_TLS,            /* TCP with TLS and a verified client certificate */
        API_TRANSPORT_LOOPBACK,       /* plain HTTP on a loopback address (anyone on this host) */
} ApiTransport;

/* A route handler. Returns 0 when it replied or will reply later; a negative errno makes the
 * server answer 500 itself (unless the handler replied already). */
typedef int (*api_handler_t)(ApiRequest *req, void *userdata);

typedef struct ApiRoute {
        const char *method;           /* "GET", "PUT", ...; "*" takes any method */
        const char *pattern;          /* "/v1/machines"; a segment that is just '*' matches any one
                                       * non-empty segment, e.g. in "/v1/units/" "*" "/status"; a
                                       * last segment "**" matches whatever follows, even nothing */
        api_handler_t handler;
        size_t body_max;              /* 0: the body in memory, at most 1 MiB (api_request_body());
                                       * else up to body_max bytes, written as it arrives to an
                                       * unlinked file under API_SPOOL_DIR (api_request_body_fd()) */
} ApiRoute;

/* Where spooled request bodies live (unlinked files: nothing is left behind). */
#define API_SPOOL_DIR "/var/tmp"

/* Creates the server on e. routes is a static table ending with {NULL}, matched in order;
 * userdata is passed to every handler. Serves every listening socket systemd passed (all of
 * them, from SD_LISTEN_FDS_START on, with the same routes), else binds socket_path: creates its directory
 * (0755), replaces a stale socket left behind by a dead process (but returns -EADDRINUSE if a
 * live one answers there, -EEXIST if something else is in the way) and sets it to 0660.
 * Does not log its failures: the caller does. */
int api_server_new(sd_event *e, const char *socket_path, const ApiRoute *routes, void *userdata,
                   ApiServer **ret);
/* Closes every connection and every listening socket (and removes the socket file if the
 * server created it). Requests still owed a reply stay valid, see above. Must not be called
 * from a handler. Returns NULL. */
ApiServer *api_server_free(ApiServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ApiServer *, api_server_free);

/* Adds another static route table, matched after the earlier ones (a request goes to the first
 * route that matches its path and method, whichever table it is in). Handlers get the same
 * userdata. Returns 0, or -E2BIG past 4 tables. */
int api_server_add_routes(ApiServer *s, const ApiRoute *routes);

typedef struct ApiTlsOptions {
        const char *listen;           /* "host:port" as parse_host_port() reads it */
        const char *cert_file;        /* PEM: the server's certificate (chain) */
        const char *key_file;         /* PEM: its private key */
        const char *client_ca_file;   /* PEM: the CA(s) whose signature a client certificate needs */
} ApiTlsOptions;

/* Adds a listener on o->listen (TCP) to s that serves the same routes over HTTPS (TLS 1.2 or
 * newer) and requires a client certificate that a CA in o->client_ca_file signed and that
 * is valid now (and, if it names key purposes, is for TLS client authentication); any other
 * client gets 403 before its request reaches a handler. The files are read once, here.
 * Errors: -EOPNOTSUPP if libmicrohttpd was built without TLS; -EINVAL for a bad address;
 * -EBADMSG when a file is not what it must be (unreadable PEM, a key that does not match the
 * certificate, no CA certificate), then *ret_error (if not NULL) gets a message naming the
 * file, which the caller frees; -errno from reading the files, resolving and binding. Does
 * not log its failures. */
int api_server_listen_tls(ApiServer *s, const ApiTlsOptions *o, char **ret_error);

/* Adds a plain HTTP listener on o->listen, which must be a loopback address (127.0.0.0/8 or
 * ::1, as a literal; anything else is -EADDRNOTAVAIL and nothing is bound), serving only the
 * static table routes (not the server's), for clients that speak neither unix sockets nor TLS
 * (Zincati's FleetLock client). Handlers get the server's userdata and see
 * API_TRANSPORT_LOOPBACK. Errors as api_server_listen_tls()'s for the address. */
int api_server_listen_loopback(ApiServer *s, const char *listen, const ApiRoute *routes);

/* The listener the request came in on. */
ApiTransport api_request_transport(ApiRequest *req);

/* Everything below returns strings owned by the request, valid until it is replied to. */
const char *api_request_method(ApiRequest *req);
/* The path as sent, percent escapes intact, without the query. */
const char *api_request_path(ApiRequest *req);
/* The n-th '*' segment of the matched pattern (0-based), URL-decoded, or NULL. */
const char *api_request_arg(ApiRequest *req, unsigned n);
/* A query parameter (?key=value, URL-decoded, '+' is a space; "" for ?key), or NULL. */
const char *api_request_query(ApiRequest *req, const char *key);
/* A request header by name (case-insensitive), as sent; NULL if absent. */
const char *api_request_header(ApiRequest *req, const char *name);
/* The request body (bounded in size by the server, NUL-terminated) and its length; NULL (and
 * 0) if none. ret_len may be NULL. */
const char *api_request_body(ApiRequest *req, size_t *ret_len);

/* The spooled body of a request to a route with body_max: an fd open for reading and writing
 * (owned by the request: dup() it to keep it past the reply) and its size. -ENODATA if the
 * route keeps bodies in memory. */
int api_request_body_fd(ApiRequest *req, uint64_t *ret_size);

/* Replies with a JSON value and the status code, and releases the request. body is only read
 * (serialized at once): the caller keeps its reference. Returns 0, also when the client is
 * gone and the reply is dropped; a negative errno if the answer could not be queued (the
 * request is released all the same; the connection is closed). */
int api_request_reply_json(ApiRequest *req, unsigned status, json_t *body);
/* Replies with the status and no body (and no Content-Type), e.g. 201 or 204, and releases the
 * request. Same return values as api_request_reply_json(). */
int api_request_reply_empty(ApiRequest *req, unsigned status);
/* Replies {"error":{"code":code,"message":message}} with the status. code is a short
 * machine-readable word ("not_found", "bad_request", "etcd_unavailable"). Same ownership and
 * return values as api_request_reply_json(). */
int api_request_reply_error(ApiRequest *req, unsigned status, const char *code, const char *fmt, ...)
        _printf_(4, 5);
/* Replies 503 "etcd_unavailable" ("etcd did not answer: <strerror(-error)>") for an etcd request
 * that failed with the negative errno error. As api_request_reply_error(). */
int api_request_reply_etcd_error(ApiRequest *req, int error);

/* ---- streamed replies and client events ----
 *
 * A streamed reply sends its status and headers at once and its body as it is written (HTTP/1.1
 * chunked encoding), for answers that are long or never end (journal --follow, a proxied
 * answer). At most 1 MiB waits unsent per request: a write that would go past that queues
 * nothing and returns -ENOBUFS, and the writer waits for API_REQUEST_DRAINED.
 *
 * Events come from the event loop, never from inside a call into the request, so a handler
 * may do anything in them, including ending the stream or replying. They stop once the reply
 * was made (for a stream: once it was ended). */
typedef enum ApiRequestEvent {
        API_REQUEST_CLOSED,           /* the client went away (or the server was freed) before the
                                       * reply was complete; the reply is still owed (and dropped) */
        API_REQUEST_DRAINED,          /* a write returned -ENOBUFS earlier; there is room now */
} ApiRequestEvent;

typedef void (*api_request_event_t)(ApiRequest *req, ApiRequestEvent event, void *userdata);

/* Asks for the events above (replacing an earlier handler; NULL stops them). While the
 * request waits, the server watches its connection so that a client hanging up is noticed
 * even when nothing is being sent. Returns 0 or -ENOMEM. */
int api_request_set_event_handler(ApiRequest *req, api_request_event_t handler, void *userdata);
/* Starts a streamed reply with status and content_type. It takes the place of the one reply:
 * afterwards api_request_reply_*() return -EALREADY, and the request stays owed until
 * api_request_stream_end(). Returns 0 (also when the client is gone), -EALREADY if a reply was
 * made, or -ENOMEM. */
int api_request_stream_begin(ApiRequest *req, unsigned status, const char *content_type);
/* Queues size bytes of the body. Returns 0; -ENOBUFS if they do not fit now (nothing was
 * queued; an empty buffer takes a write of any size); -ECONNRESET if the client is gone;
 * -EINVAL if no stream was begun or it was ended; -ENOMEM. */
int api_request_stream_write(ApiRequest *req, const void *data, size_t size);
/* Ends the stream and releases the request. error 0: the rest of the body is sent and the
 * answer ends properly; a negative error: the connection is cut (what is unsent is dropped),
 * so the client sees an incomplete answer. Returns 0, or -EINVAL if no stream was begun. */
int api_request_stream_end(ApiRequest *req, int error);
