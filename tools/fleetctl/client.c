/* SPDX-License-Identifier: Apache-2.0 */
/* fleetd's API from the command line: endpoint parsing, one blocking libcurl request, and the
 * translation of curl's and the server's errors into one message and a negative errno. */
#include <curl/curl.h>
#include <stdio.h>

#include "client.h"

#define CLIENT_CONNECT_TIMEOUT_SEC 10L
#define CLIENT_TIMEOUT_SEC         120L

struct Client {
        CURL *curl;
        char *endpoint;       /* as shown: unix:///path or the URL */
        char *socket_path;    /* unix endpoints only */
        char *base_url;       /* "http://localhost" for unix endpoints; no trailing '/' */
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
} Response;

static void response_done(Response *r) {
        free(r->data);
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

int client_new(const char *endpoint, Client **ret) {
        _cleanup_(client_freep) Client *c = NULL;
        int r;

        c = calloc(1, sizeof(Client));
        if (!c)
                return -ENOMEM;
        r = client_parse_endpoint(c, endpoint);
        if (r == -EINVAL)
                fprintf(stderr,
                        "fleetctl: unsupported endpoint '%s': use unix:///path/to.sock, a socket path, or "
                        "http(s)://host:port.\n",
                        endpoint);
        if (r < 0)
                return r;

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

static int client_transfer_failed(Client *c, CURLcode code, const char *errbuf, const Response *resp,
                                  ClientFlags flags) {
        long os_errno = 0;
        const char *reason;

        if (resp->write_failed)
                return -EPIPE;
        if (resp->too_large) {
                if (!(flags & CLIENT_QUIET))
                        fprintf(stderr, "fleetctl: fleetd's answer is larger than %zu MiB; refusing it.\n",
                                CLIENT_RESPONSE_MAX / 1024 / 1024);
                return -EFBIG;
        }
        /* For a refused or missing socket the OS's word says it best; curl's own message
         * would talk about "localhost port 80" for a unix socket. */
        curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
        if (code == CURLE_COULDNT_CONNECT && os_errno != 0)
                reason = strerror((int) os_errno);
        else
                reason = !isempty(errbuf) ? errbuf : curl_easy_strerror(code);

        if (curl_error_is_unreachable(code)) {
                if (!(flags & CLIENT_QUIET))
                        fprintf(stderr,
                                "fleetctl: cannot reach fleetd at %s: %s. Is fleetd running? Set --endpoint or "
                                "FLEETCTL_ENDPOINT.\n",
                                c->endpoint, reason);
                return -ECONNREFUSED;
        }
        if (!(flags & CLIENT_QUIET))
                fprintf(stderr, "fleetctl: request to fleetd at %s failed: %s.\n", c->endpoint, reason);
        return code == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
}

/* An error status: the server's {"error":{"message"}} if it sent one. */
static int client_status_failed(Client *c, long status, json_t *answer, ClientFlags flags) {
        const char *message = json_string_value(json_object_get(json_object_get(answer, "error"), "message"));
        int r = status == 404 ? -ENOENT : status == 409 ? -EEXIST : -EIO;

        if ((flags & CLIENT_QUIET) || (r == -ENOENT && (flags & CLIENT_QUIET_NOT_FOUND)))
                return r;
        if (message)
                fprintf(stderr, "fleetctl: %s\n", message);
        else
                fprintf(stderr, "fleetctl: fleetd at %s answered HTTP %ld.\n", c->endpoint, status);
        return r;
}

typedef struct Request {
        const char *method;
        const char *path;
        const char *body;             /* JSON text, or NULL */
        const char *accept;
        long timeout_sec;             /* 0: none */
        long idle_timeout_sec;        /* 0: none */
        curl_write_callback on_data;
} Request;

static int client_setup(Client *c, const Request *req, struct curl_slist **headers, char *errbuf, Response *resp) {
        _cleanup_free_ char *url = NULL, *accept = NULL;

        if (asprintf(&url, "%s%s", c->base_url, req->path) < 0)
                return (url = NULL), -ENOMEM;
        if (asprintf(&accept, "Accept: %s", req->accept) < 0)
                return (accept = NULL), -ENOMEM;
        curl_easy_reset(c->curl);
        if (c->socket_path)
                curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
        curl_easy_setopt(c->curl, CURLOPT_URL, url);   /* curl copies strings */
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, req->method);
        curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, CLIENT_CONNECT_TIMEOUT_SEC);
        curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, req->timeout_sec);
        if (req->idle_timeout_sec > 0) {
                curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
                curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, req->idle_timeout_sec);
        }
        curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "fleetctl/" FLEETD_VERSION);
        curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, req->on_data);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, resp);
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif

        *headers = curl_slist_append(*headers, accept);
        if (req->body) {
                *headers = curl_slist_append(*headers, "Content-Type: application/json");
                curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, req->body);
        }
        if (!*headers)
                return -ENOMEM;
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, *headers);
        return 0;
}

/* Runs req; on a completed transfer stores the HTTP status in *ret_status. */
static int client_perform(Client *c, const Request *req, ClientFlags flags, Response *resp, long *ret_status) {
        struct curl_slist *headers = NULL;
        char errbuf[CURL_ERROR_SIZE] = "";
        CURLcode code;
        int r;

        r = client_setup(c, req, &headers, errbuf, resp);
        if (r >= 0) {
                code = curl_easy_perform(c->curl);
                if (code != CURLE_OK)
                        r = client_transfer_failed(c, code, errbuf, resp, flags);
        }
        curl_slist_free_all(headers);
        if (r < 0)
                return r;
        *ret_status = 0;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, ret_status);
        return 0;
}

int client_call_full(Client *c, const char *method, const char *path, const json_t *body, ClientFlags flags,
                     long *ret_status, json_t **ret) {
        _cleanup_(response_done) Response resp = {};
        _cleanup_free_ char *body_text = NULL;
        json_auto_t *answer = NULL;
        json_error_t error;
        long status;
        int r;

        if (body) {
                body_text = json_dumps(body, JSON_COMPACT);
                if (!body_text)
                        return -ENOMEM;
        }
        Request req = { .method = method, .path = path, .body = body_text, .accept = "application/json",
                        .timeout_sec = CLIENT_TIMEOUT_SEC, .on_data = on_data };
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
                return client_status_failed(c, status, answer, flags);

        if (ret_status)
                *ret_status = status;
        if (ret)
                *ret = TAKE_PTR(answer);
        return 0;
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
        return client_status_failed(c, status, answer, 0);
}

char *client_escape(Client *c, const char *s) {
        char *e = curl_easy_escape(c->curl, s, 0), *d;

        if (!e)
                return NULL;
        d = strdup(e);
        curl_free(e);
        return d;
}
