/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A blocking HTTP client for fleetd's API (libcurl easy): one request at a time, JSON in and
 * out. It prints its failures itself, once, prefixed "fleetctl: ", since it is the only layer
 * that knows the details (curl's reason, the server's error message). */

#include <jansson.h>
#include <stdio.h>

#include "basic/macros.h"
#include "basic/time-util.h"

typedef struct Client Client;

#define CLIENT_DEFAULT_ENDPOINT "unix:///run/fleetd/fleetd.sock"
/* Larger answers are refused rather than buffered. */
#define CLIENT_RESPONSE_MAX ((size_t) 16 * 1024 * 1024)

/* A request gives up after this long unless told otherwise (--request-timeout). */
#define CLIENT_TIMEOUT_DEFAULT (120 * USEC_PER_SEC)

typedef struct ClientOptions {
        /* "unix:///path/to.sock", a plain socket path ("/run/x.sock", "./x.sock"), or
         * "http://host:port" / "https://host:port" (an optional path prefix is kept) */
        const char *endpoint;
        usec_t timeout;               /* of each request but the streams; 0: none */
        const char *ca_file;          /* https: the CA that signed fleetd's certificate; NULL: the system's */
        const char *cert_file;        /* https: this client's certificate and key, for fleetd's */
        const char *key_file;         /* api_client_ca; NULL: none */
        bool debug;                   /* each request and its answer's status on stderr */
} ClientOptions;

/* Returns 0, -EINVAL for an endpoint of another form (after printing why), or -ENOMEM. The
 * strings of o must outlive the client. */
int client_new(const ClientOptions *o, Client **ret);
Client *client_free(Client *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Client *, client_free);

/* The endpoint the way messages show it: unix:///path or the URL. */
const char *client_endpoint(const Client *c);

/* Sends method to path ("/v1/machines"), with body as JSON if not NULL. On a 2xx answer
 * stores its JSON in *ret (NULL if the body was empty) and returns 0. Otherwise prints why and
 * returns -ECONNREFUSED (fleetd cannot be reached), -ENOENT (404), -EEXIST (409), -EBADMSG (an
 * answer that is not JSON), -EFBIG (an answer over CLIENT_RESPONSE_MAX), -EIO (any other error
 * status or transfer failure) or -ENOMEM. */
int client_call(Client *c, const char *method, const char *path, const json_t *body, json_t **ret);

typedef enum ClientFlags {
        CLIENT_QUIET_NOT_FOUND = 1 << 0,   /* a 404 returns -ENOENT without a message */
        CLIENT_QUIET           = 1 << 1,   /* no message at all: best-effort lookups */
        CLIENT_QUIET_CONFLICT  = 1 << 2,   /* a 409 returns -EEXIST without a message (a full slot) */
} ClientFlags;

/* client_call() with flags, and the HTTP status of a 2xx answer in *ret_status (optional; 201
 * tells a created unit from an updated one). ret may be NULL when the answer does not matter. */
int client_call_full(Client *c, const char *method, const char *path, const json_t *body, ClientFlags flags,
                     long *ret_status, json_t **ret);

/* client_call_full() with a body that is not JSON: size bytes of text (they need not end in a
 * NUL) sent as they are, as content_type ("application/yaml"). text may be NULL: no body. */
int client_call_text(Client *c, const char *method, const char *path, const char *text, size_t size,
                     const char *content_type, ClientFlags flags, long *ret_status, json_t **ret);

/* GETs path and copies a 2xx answer's body to out as it arrives, flushing after each piece:
 * no size limit, and no overall timeout (journal --follow holds the answer open). The
 * transfer is given up only if nothing arrives for idle_timeout_sec (0: never). An error
 * answer is reported as by client_call() and nothing of it reaches out. Returns 0, the
 * errors of client_call(), or -EPIPE if writing to out failed (a closed pipe: not reported). */
int client_stream(Client *c, const char *path, long idle_timeout_sec, FILE *out);

/* Called for each line of a streamed answer (client_post_lines()), without its '\n'; a negative
 * return stops the transfer (-EPIPE). */
typedef int (*client_line_t)(const char *line, size_t len, void *userdata);

/* POSTs size bytes of body (as content_type) to path and hands a 2xx answer to on_line a line
 * at a time as it arrives, with no overall timeout (a build answers until it is done). An error
 * answer is reported as by client_call(). Returns 0, the errors of client_call(), or -EPIPE if
 * on_line stopped it. */
int client_post_lines(Client *c, const char *path, const char *content_type, const void *body, size_t size,
                      client_line_t on_line, void *userdata);

/* s percent-escaped for use as one path segment or query value ("web@1.service" ->
 * "web%401.service"). Returns a string owned by the caller, or NULL on -ENOMEM. */
char *client_escape(Client *c, const char *s);

/* Several text answers at once (curl multi, alongside the client's own handle): each line of
 * each answer goes to out whole, as "LABEL| line", the labels padded to the longest one, so that
 * lines of different answers never mix within a line (`logs`, as heroku logs shows dynos). */
typedef struct ClientLines ClientLines;

/* Returns 0 or -ENOMEM. c and out must outlive it. */
int client_lines_new(Client *c, FILE *out, ClientLines **ret);
ClientLines *client_lines_free(ClientLines *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(ClientLines *, client_lines_free);

/* Pads labels to width at least, so that labels of answers added later line up too. */
void client_lines_set_label_width(ClientLines *l, size_t width);

/* Starts GET path (journal?follow=1 stays open); its lines get label. idle_timeout_sec as for
 * client_stream(). Returns 0 or -ENOMEM. */
int client_lines_add(ClientLines *l, const char *path, const char *label, long idle_timeout_sec);

/* Moves every answer on until all have ended, or for timeout at most (USEC_INFINITY: no
 * limit). An answer that ends in an error is reported, "fleetctl: LABEL: why", and counted in
 * client_lines_failure(); the others go on. Returns how many answers are still open (0: all
 * ended), -EPIPE if writing to out failed (not reported), or -ENOMEM. */
int client_lines_run(ClientLines *l, usec_t timeout);

/* The answers that failed so far: 0 for none, -ENOENT if each was a 404, else -EIO. */
int client_lines_failure(const ClientLines *l);
