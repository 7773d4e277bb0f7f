/* SPDX-License-Identifier: Apache-2.0 */
/* fleetd's API from the command line: endpoint parsing, one blocking libcurl request, and the
 * translation of curl's and the server's errors into one message and a negative errno. */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "client.h"

#define CLIENT_CONNECT_TIMEOUT (10 * USEC_PER_SEC)

struct Client {
        CURL *curl;
        char *endpoint;       /* as shown: unix:///path or the URL */
        char *socket_path;    /* unix endpoints only */
        char *base_url;       /* "http://localhost" for unix endpoints; no trailing '/' */
        usec_t timeout;       /* 0: none */
        const char *ca_file, *cert_file, *key_file;
        bool debug;
};

typedef struct Response {
        char *data;
        size_t size;
        bool too_large;
        /* Streaming (client_stream()): a 2xx body goes to out, anything else into data. */
        CURL *curl;
        FILE *out;
        int streaming;        /* -1: not known yet, 0: an error answer, 1: copying to out */
        bool write_failed;
        /* client_post_lines(): a 2xx body goes to on_line, a line at a time, instead */
        client_line_t on_line;
        void *line_userdata;
        char *line;
        size_t line_size;
} Response;

static void response_done(Response *r) {
        free(r->data);
        free(r->line);
}

/* Hands each complete line (without '\n') of what came to r->on_line; keeps the rest. */
static int response_lines(Response *r, const char *data, size_t len, bool at_end) {
        char *p = realloc(r->line, r->line_size + len + 1);
        size_t start = 0;

        if (!p)
                return -ENOMEM;
        r->line = p;
        memcpy(r->line + r->line_size, data, len);
        r->line_size += len;
        for (size_t i = 0; i < r->line_size; i++)
                if (r->line[i] == '\n') {
                        r->line[i] = '\0';
                        if (r->on_line(r->line + start, i - start, r->line_userdata) < 0)
                                return -EPIPE;
                        start = i + 1;
                }
        if (at_end && start < r->line_size) {
                r->line[r->line_size] = '\0';
                if (r->on_line(r->line + start, r->line_size - start, r->line_userdata) < 0)
                        return -EPIPE;
                start = r->line_size;
        }
        memmove(r->line, r->line + start, r->line_size - start);
        r->line_size -= start;
        return 0;
}

Client *client_free(Client *c) {
        if (!c)
                return NULL;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        free(c->endpoint);
        free(c->socket_path);
        free(c->base_url);
        free(c);
        return NULL;
}

const char *client_endpoint(const Client *c) {
        return c->endpoint;
}

/* Fills socket_path/base_url/endpoint from what the user wrote. */
static int client_parse_endpoint(Client *c, const char *endpoint) {
        const char *path = startswith(endpoint, "unix://");

        if (!path && !strstr(endpoint, "://"))
                path = endpoint;
        if (path) {
                if (isempty(path))
                        return -EINVAL;
                c->socket_path = strdup(path);
                c->base_url = strdup("http://localhost");
                if (asprintf(&c->endpoint, "unix://%s", path) < 0)
                        c->endpoint = NULL;
        } else if (startswith(endpoint, "http://") || startswith(endpoint, "https://")) {
                c->base_url = strdup(endpoint);
                c->endpoint = strdup(endpoint);
                if (c->base_url) {
                        size_t n = strlen(c->base_url);
                        while (n > 0 && c->base_url[n - 1] == '/')
                                c->base_url[--n] = '\0';
                }
        } else
                return -EINVAL;

        if (!c->endpoint || !c->base_url || (path && !c->socket_path))
                return -ENOMEM;
        return 0;
}

int client_new(const ClientOptions *o, Client **ret) {
        _cleanup_(client_freep) Client *c = NULL;
        int r;

        c = calloc(1, sizeof(Client));
        if (!c)
                return -ENOMEM;
        r = client_parse_endpoint(c, o->endpoint);
        if (r == -EINVAL)
                fprintf(stderr,
                        "fleetctl: unsupported endpoint '%s': use unix:///path/to.sock, a socket path, or "
                        "http(s)://host:port.\n",
                        o->endpoint);
        if (r < 0)
                return r;
        c->timeout = o->timeout;
        c->ca_file = o->ca_file;
        c->cert_file = o->cert_file;
        c->key_file = o->key_file;
        c->debug = o->debug;

        c->curl = curl_easy_init();
        if (!c->curl)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

static size_t on_data(char *data, size_t size, size_t n, void *userdata) {
        Response *r = userdata;
        size_t len = size * n;
        char *p;

        if (len > CLIENT_RESPONSE_MAX - r->size) {
                r->too_large = true;
                return 0;   /* makes curl stop with CURLE_WRITE_ERROR */
        }
        p = realloc(r->data, r->size + len + 1);
        if (!p)
                return 0;
        memcpy(p + r->size, data, len);
        r->data = p;
        r->size += len;
        r->data[r->size] = '\0';
        return len;
}

/* The body of a success goes straight to r->out; an error's body is kept for its message. The
 * status is known by the time the first piece of the body arrives. */
static size_t on_stream_data(char *data, size_t size, size_t n, void *userdata) {
        Response *r = userdata;
        size_t len = size * n;

        if (r->streaming < 0) {
                long status = 0;
                curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
                r->streaming = status >= 200 && status < 300;
        }
        if (!r->streaming)
                return on_data(data, size, n, userdata);
        if (r->on_line) {
                if (response_lines(r, data, len, false) < 0) {
                        r->write_failed = true;
                        return 0;
                }
                return len;
        }
        if (fwrite(data, 1, len, r->out) != len || fflush(r->out) != 0) {
                r->write_failed = true;
                return 0;
        }
        return len;
}

/* Whether curl failed before anything reached fleetd. */
static bool curl_error_is_unreachable(CURLcode code) {
        return code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
               code == CURLE_COULDNT_RESOLVE_PROXY;
}

/* "fleetctl: " and, for one of several answers (ClientLines), "web.1: ". */
static void message_prefix(const char *label) {
        fprintf(stderr, "fleetctl: %s%s", strempty(label), label ? ": " : "");
}

/* bounded: whether the request had the request timeout. */
static int client_transfer_failed(Client *c, CURL *curl, CURLcode code, const char *errbuf, const Response *resp,
                                  ClientFlags flags, const char *label, bool bounded) {
        long os_errno = 0;
        const char *reason;
        int r;

        if (resp->write_failed)
                return -EPIPE;
        if (resp->too_large) {
                if (!(flags & CLIENT_QUIET)) {
                        message_prefix(label);
                        fprintf(stderr, "fleetd's answer is larger than %zu MiB; refusing it.\n",
                                CLIENT_RESPONSE_MAX / 1024 / 1024);
                }
                return -EFBIG;
        }
        /* For a refused or missing socket the OS's word says it best; curl's own message
         * would talk about "localhost port 80" for a unix socket. */
        curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
        if (code == CURLE_COULDNT_CONNECT && os_errno != 0)
                reason = strerror((int) os_errno);
        else
                reason = !isempty(errbuf) ? errbuf : curl_easy_strerror(code);

        r = curl_error_is_unreachable(code) ? -ECONNREFUSED : code == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
        if (flags & CLIENT_QUIET)
                return r;
        message_prefix(label);
        if (code == CURLE_OPERATION_TIMEDOUT && bounded) {
                char buf[32];
                fprintf(stderr, "fleetd at %s did not answer within %s (--request-timeout).\n", c->endpoint,
                        format_duration(buf, sizeof(buf), c->timeout));
        } else if (r == -ECONNREFUSED)
                fprintf(stderr,
                        "cannot reach fleetd at %s: %s. Is fleetd running? Set --endpoint or FLEETCTL_ENDPOINT.\n",
                        c->endpoint, reason);
        else
                fprintf(stderr, "request to fleetd at %s failed: %s.\n", c->endpoint, reason);
        return r;
}

/* An error status: the server's {"error":{"message"}} if it sent one. */
static int client_status_failed(Client *c, long status, json_t *answer, ClientFlags flags, const char *label) {
        const char *message = json_string_value(json_object_get(json_object_get(answer, "error"), "message"));
        int r = status == 404 ? -ENOENT : status == 409 ? -EEXIST : -EIO;

        if ((flags & CLIENT_QUIET) || (r == -ENOENT && (flags & CLIENT_QUIET_NOT_FOUND)) ||
            (r == -EEXIST && (flags & CLIENT_QUIET_CONFLICT)))
                return r;
        message_prefix(label);
        if (message)
                fprintf(stderr, "%s\n", message);
        else
                fprintf(stderr, "fleetd at %s answered HTTP %ld.\n", c->endpoint, status);
        return r;
}

typedef struct Request {
        const char *method;
        const char *path;
        const char *body;             /* NULL: none */
        size_t body_size;
        const char *content_type;     /* of body */
        const char *accept;
        bool bounded;                 /* the client's request timeout applies (not to streams) */
        long idle_timeout_sec;        /* 0: none */
        curl_write_callback on_data;
} Request;

/* The time limits of req, and the TLS files. */
static void client_setup_limits(Client *c, CURL *curl, const Request *req) {
        usec_t connect = CLIENT_CONNECT_TIMEOUT;

        if (req->bounded && c->timeout > 0) {
                /* at least 1 ms: 0 would mean no limit to curl */
                curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) MAX(c->timeout / USEC_PER_MSEC, (usec_t) 1));
                connect = MIN(connect, c->timeout);
        }
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long) MAX(connect / USEC_PER_MSEC, (usec_t) 1));
        if (c->ca_file)
                curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca_file);
        if (c->cert_file)
                curl_easy_setopt(curl, CURLOPT_SSLCERT, c->cert_file);
        if (c->key_file)
                curl_easy_setopt(curl, CURLOPT_SSLKEY, c->key_file);
}

/* Sets curl (c's own handle, or one of ClientLines) up for req; *headers must outlive the
 * transfer, and so must req->body: curl does not copy it. */
static int client_setup(Client *c, CURL *curl, const Request *req, struct curl_slist **headers, char *errbuf,
                        void *userdata) {
        _cleanup_free_ char *url = NULL, *accept = NULL, *type = NULL;

        if (asprintf(&url, "%s%s", c->base_url, req->path) < 0)
                return (url = NULL), -ENOMEM;
        if (asprintf(&accept, "Accept: %s", req->accept) < 0)
                return (accept = NULL), -ENOMEM;
        curl_easy_reset(curl);
        if (c->socket_path)
                curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
        curl_easy_setopt(curl, CURLOPT_URL, url);   /* curl copies strings */
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        client_setup_limits(c, curl, req);
        if (req->idle_timeout_sec > 0) {
                curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
                curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, req->idle_timeout_sec);
        }
        curl_easy_setopt(curl, CURLOPT_USERAGENT, "fleetctl/" FLEETD_VERSION);
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, req->on_data);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, userdata);
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif

        *headers = curl_slist_append(*headers, accept);
        if (req->body) {
                if (asprintf(&type, "Content-Type: %s", req->content_type) < 0)
                        return (type = NULL), -ENOMEM;
                *headers = curl_slist_append(*headers, type);
                curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_size);
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
        }
        if (!*headers)
                return -ENOMEM;
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, *headers);
        return 0;
}

/* --debug: "fleetctl: debug: GET http://localhost/v1/units: 200 (3 ms)". */
static void client_debug(Client *c, CURL *curl, const Request *req, CURLcode code) {
        curl_off_t usec = 0;
        long status = 0;

        if (!c->debug)
                return;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME_T, &usec);
        if (code != CURLE_OK)
                fprintf(stderr, "fleetctl: debug: %s %s%s: %s (%" PRIi64 " ms)\n", req->method, c->base_url, req->path,
                        curl_easy_strerror(code), (int64_t) usec / 1000);
        else
                fprintf(stderr, "fleetctl: debug: %s %s%s: %ld (%" PRIi64 " ms)\n", req->method, c->base_url, req->path,
                        status, (int64_t) usec / 1000);
}

/* Runs req; on a completed transfer stores the HTTP status in *ret_status. */
static int client_perform(Client *c, const Request *req, ClientFlags flags, Response *resp, long *ret_status) {
        struct curl_slist *headers = NULL;
        char errbuf[CURL_ERROR_SIZE] = "";
        CURLcode code;
        int r;

        r = client_setup(c, c->curl, req, &headers, errbuf, resp);
        if (r >= 0) {
                code = curl_easy_perform(c->curl);
                client_debug(c, c->curl, req, code);
                if (code != CURLE_OK)
                        r = client_transfer_failed(c, c->curl, code, errbuf, resp, flags, NULL, req->bounded);
        }
        curl_slist_free_all(headers);
        if (r < 0)
                return r;
        *ret_status = 0;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, ret_status);
        return 0;
}

int client_call_text(Client *c, const char *method, const char *path, const char *text, size_t size,
                     const char *content_type, ClientFlags flags, long *ret_status, json_t **ret) {
        _cleanup_(response_done) Response resp = {};
        json_auto_t *answer = NULL;
        json_error_t error;
        long status;
        int r;

        Request req = { .method = method, .path = path, .body = text, .body_size = size,
                        .content_type = content_type, .accept = "application/json",
                        .bounded = true, .on_data = on_data };
        r = client_perform(c, &req, flags, &resp, &status);
        if (r < 0)
                return r;

        if (resp.size > 0) {
                answer = json_loadb(resp.data, resp.size, 0, &error);
                if (!answer && status >= 200 && status < 300) {
                        if (!(flags & CLIENT_QUIET))
                                fprintf(stderr,
                                        "fleetctl: fleetd at %s sent invalid JSON: %s (line %d, column %d).\n",
                                        c->endpoint, error.text, error.line, error.column);
                        return -EBADMSG;
                }
        }
        if (status < 200 || status >= 300)
                return client_status_failed(c, status, answer, flags, NULL);

        if (ret_status)
                *ret_status = status;
        if (ret)
                *ret = TAKE_PTR(answer);
        return 0;
}

int client_call_full(Client *c, const char *method, const char *path, const json_t *body, ClientFlags flags,
                     long *ret_status, json_t **ret) {
        _cleanup_free_ char *text = NULL;

        if (body) {
                text = json_dumps(body, JSON_COMPACT);
                if (!text)
                        return -ENOMEM;
        }
        return client_call_text(c, method, path, text, text ? strlen(text) : 0, "application/json", flags,
                                ret_status, ret);
}

int client_call(Client *c, const char *method, const char *path, const json_t *body, json_t **ret) {
        return client_call_full(c, method, path, body, 0, NULL, ret);
}

int client_stream(Client *c, const char *path, long idle_timeout_sec, FILE *out) {
        _cleanup_(response_done) Response resp = { .curl = c->curl, .out = out, .streaming = -1 };
        json_auto_t *answer = NULL;
        long status;
        int r;

        Request req = { .method = "GET", .path = path, .accept = "text/plain, application/json",
                        .idle_timeout_sec = idle_timeout_sec, .on_data = on_stream_data };
        r = client_perform(c, &req, 0, &resp, &status);
        if (r < 0)
                return r;
        if (status >= 200 && status < 300)
                return 0;
        if (resp.size > 0)
                answer = json_loadb(resp.data, resp.size, 0, NULL);
        return client_status_failed(c, status, answer, 0, NULL);
}

int client_post_lines(Client *c, const char *path, const char *content_type, const void *body, size_t size,
                      client_line_t on_line, void *userdata) {
        _cleanup_(response_done) Response resp = { .curl = c->curl, .streaming = -1, .on_line = on_line,
                                                   .line_userdata = userdata };
        json_auto_t *answer = NULL;
        long status;
        int r;

        Request req = { .method = "POST", .path = path, .body = body, .body_size = size,
                        .content_type = content_type, .accept = "application/x-ndjson, application/json",
                        .on_data = on_stream_data };
        r = client_perform(c, &req, 0, &resp, &status);
        if (r < 0)
                return r;
        if (status >= 200 && status < 300)
                return response_lines(&resp, "", 0, true);
        if (resp.size > 0)
                answer = json_loadb(resp.data, resp.size, 0, NULL);
        return client_status_failed(c, status, answer, 0, NULL);
}

char *client_escape(Client *c, const char *s) {
        char *e = curl_easy_escape(c->curl, s, 0), *d;

        if (!e)
                return NULL;
        d = strdup(e);
        curl_free(e);
        return d;
}

/* --- several text answers at once, line by line (ClientLines) --- */

/* A line longer than this is written in pieces rather than held back. */
#define LINES_PARTIAL_MAX ((size_t) 64 * 1024)

typedef struct LineStream {
        ClientLines *owner;           /* set once curl's multi handle has it */
        CURL *curl;
        struct curl_slist *headers;
        char *path;
        char *label;
        char errbuf[CURL_ERROR_SIZE];
        Response resp;                /* an error answer's body, as client_stream() keeps it */
        char *partial;                /* the start of a line whose end has not arrived yet */
        size_t n_partial;
        int error;                    /* -EPIPE, -ENOMEM: met while handling the answer */
} LineStream;

struct ClientLines {
        Client *client;
        CURLM *multi;
        FILE *out;
        LineStream **streams;
        size_t n_streams;
        int label_width;
        int failure;
};

static LineStream *line_stream_free(LineStream *s) {
        if (!s)
                return NULL;
        if (s->curl) {
                if (s->owner)
                        curl_multi_remove_handle(s->owner->multi, s->curl);
                curl_easy_cleanup(s->curl);
        }
        curl_slist_free_all(s->headers);
        free(s->path);
        free(s->label);
        free(s->partial);
        response_done(&s->resp);
        free(s);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(LineStream *, line_stream_free);

ClientLines *client_lines_free(ClientLines *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_streams; i++)
                line_stream_free(l->streams[i]);
        free(l->streams);
        if (l->multi)
                curl_multi_cleanup(l->multi);
        free(l);
        return NULL;
}

int client_lines_new(Client *c, FILE *out, ClientLines **ret) {
        _cleanup_(client_lines_freep) ClientLines *l = calloc(1, sizeof(ClientLines));

        if (!l)
                return -ENOMEM;
        l->client = c;
        l->out = out;
        l->multi = curl_multi_init();
        if (!l->multi)
                return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

/* Writes the complete lines held in s->partial, each after its label, and keeps the rest: all
 * of it at the end of the answer or when it grew too long. */
static int line_stream_flush(LineStream *s, bool at_end) {
        ClientLines *l = s->owner;
        size_t start = 0;
        char *nl;

        while ((nl = memchr(s->partial + start, '\n', s->n_partial - start))) {
                fprintf(l->out, "%-*s| %.*s\n", l->label_width, s->label, (int) (nl - s->partial - start),
                        s->partial + start);
                start = (size_t) (nl - s->partial) + 1;
        }
        if (start < s->n_partial && (at_end || s->n_partial - start > LINES_PARTIAL_MAX)) {
                fprintf(l->out, "%-*s| %.*s\n", l->label_width, s->label, (int) (s->n_partial - start),
                        s->partial + start);
                start = s->n_partial;
        }
        if (start > 0) {
                memmove(s->partial, s->partial + start, s->n_partial - start);
                s->n_partial -= start;
        }
        return fflush(l->out) == 0 && !ferror(l->out) ? 0 : -EPIPE;
}

static size_t on_line_data(char *data, size_t size, size_t n, void *userdata) {
        LineStream *s = userdata;
        size_t len = size * n;
        char *p;

        if (s->resp.streaming < 0) {
                long status = 0;
                curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
                s->resp.streaming = status >= 200 && status < 300;
        }
        if (!s->resp.streaming)
                return on_data(data, size, n, &s->resp);

        p = realloc(s->partial, s->n_partial + len);
        if (!p) {
                s->error = -ENOMEM;
                return 0;     /* makes curl stop this answer */
        }
        memcpy(p + s->n_partial, data, len);
        s->partial = p;
        s->n_partial += len;
        s->error = line_stream_flush(s, false);
        return s->error < 0 ? 0 : len;
}

void client_lines_set_label_width(ClientLines *l, size_t width) {
        l->label_width = MAX(l->label_width, (int) MIN(width, (size_t) INT32_MAX));
}

int client_lines_add(ClientLines *l, const char *path, const char *label, long idle_timeout_sec) {
        _cleanup_(line_stream_freep) LineStream *s = calloc(1, sizeof(LineStream));
        LineStream **a;
        int r;

        if (!s)
                return -ENOMEM;
        s->path = strdup(path);
        s->label = strdup(label);
        s->curl = curl_easy_init();
        if (!s->path || !s->label || !s->curl)
                return -ENOMEM;
        s->resp = (Response) { .curl = s->curl, .streaming = -1 };
        Request req = { .method = "GET", .path = s->path, .accept = "text/plain, application/json",
                        .idle_timeout_sec = idle_timeout_sec, .on_data = on_line_data };
        r = client_setup(l->client, s->curl, &req, &s->headers, s->errbuf, s);
        if (r < 0)
                return r;
        curl_easy_setopt(s->curl, CURLOPT_PRIVATE, s);

        a = realloc(l->streams, (l->n_streams + 1) * sizeof(LineStream *));
        if (!a)
                return -ENOMEM;
        l->streams = a;
        if (curl_multi_add_handle(l->multi, s->curl) != CURLM_OK)
                return -ENOMEM;
        s->owner = l;
        client_lines_set_label_width(l, strlen(label));
        l->streams[l->n_streams++] = TAKE_PTR(s);
        return 0;
}

/* As failure_merge() in unit-args.h: -ENOENT while every failure was a 404, else -EIO. */
static void client_lines_failed(ClientLines *l, int r) {
        if (r >= 0)
                return;
        l->failure = (l->failure == 0 || l->failure == -ENOENT) && r == -ENOENT ? -ENOENT : -EIO;
}

/* An answer ended: the rest of its text, or its error, reported with its label. Returns 0 or
 * what makes going on pointless (-EPIPE, -ENOMEM). */
static int line_stream_done(ClientLines *l, LineStream *s, CURLcode code) {
        json_auto_t *answer = NULL;
        long status = 0;
        int r;

        if (s->error < 0)
                return s->error;
        if (code != CURLE_OK) {
                r = client_transfer_failed(l->client, s->curl, code, s->errbuf, &s->resp, 0, s->label, false);
                if (r == -ENOMEM)
                        return r;
                client_lines_failed(l, r);
                return 0;
        }
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300)
                return line_stream_flush(s, true);
        if (s->resp.size > 0)
                answer = json_loadb(s->resp.data, s->resp.size, 0, NULL);
        client_lines_failed(l, client_status_failed(l->client, status, answer, 0, s->label));
        return 0;
}

static void client_lines_drop(ClientLines *l, LineStream *s) {
        for (size_t i = 0; i < l->n_streams; i++)
                if (l->streams[i] == s) {
                        memmove(&l->streams[i], &l->streams[i + 1], (l->n_streams - i - 1) * sizeof(LineStream *));
                        l->n_streams--;
                        break;
                }
        line_stream_free(s);
}

/* Handles the answers that ended since the last call. */
static int client_lines_reap(ClientLines *l) {
        CURLMsg *msg;
        int left, r;

        while ((msg = curl_multi_info_read(l->multi, &left))) {
                CURLcode code = msg->data.result;   /* msg is gone once its handle is removed */
                char *s = NULL;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &s);
                r = line_stream_done(l, (LineStream *) s, code);
                client_lines_drop(l, (LineStream *) s);
                if (r < 0)
                        return r;
        }
        return 0;
}

int client_lines_run(ClientLines *l, usec_t timeout) {
        usec_t start = now_usec(CLOCK_MONOTONIC), elapsed, nap;
        int running, r;

        for (;;) {
                if (curl_multi_perform(l->multi, &running) != CURLM_OK)
                        return -ENOMEM;   /* the multi interface fails only for lack of memory here */
                r = client_lines_reap(l);
                if (r < 0)
                        return r;
                if (l->n_streams == 0)
                        return 0;
                elapsed = now_usec(CLOCK_MONOTONIC) - start;
                if (timeout != USEC_INFINITY && elapsed >= timeout)
                        return (int) MIN(l->n_streams, (size_t) INT32_MAX);
                nap = timeout == USEC_INFINITY ? USEC_PER_SEC : MIN(USEC_PER_SEC, timeout - elapsed);
                if (curl_multi_poll(l->multi, NULL, 0, (int) (nap / USEC_PER_MSEC), NULL) != CURLM_OK)
                        return -ENOMEM;
        }
}

int client_lines_failure(const ClientLines *l) {
        return l->failure;
}
