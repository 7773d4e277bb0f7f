/* SPDX-License-Identifier: Apache-2.0 */
/* The API server in one process, one thread each: the parent serves on its sd-event loop, a
 * forked child talks to it with libcurl over the unix socket and runs the HTTP cases. The
 * parent then checks what only it can see: requests whose client went away, and a request
 * still held when the server is freed. */
#include <curl/curl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "api-server.h"
#include "log.h"
#include "../tests.h"

int test_failures = 0;

static char dir[] = "/tmp/test-api-server.XXXXXX";
static char socket_path[PATH_MAX];
static sd_event *event;
static ApiRequest *held;         /* /v1/hold: answered only after the server is gone */
static unsigned slow_replies;    /* /v1/slow answers made after its client gave up */

/* ---- the server side ---- */

static int reply_fmt(ApiRequest *req, const char *fmt, ...) {
        json_auto_t *o = NULL;
        va_list ap;

        va_start(ap, fmt);
        o = json_vpack_ex(NULL, 0, fmt, ap);
        va_end(ap);
        if (!o)
                return -ENOMEM;
        return api_request_reply_json(req, 200, o);
}

static int get_ping(ApiRequest *req, void *userdata) {
        return reply_fmt(req, "{s:b, s:s}", "pong", true, "method", api_request_method(req));
}

static int get_unit(ApiRequest *req, void *userdata) {
        return reply_fmt(req, "{s:s?, s:s?, s:s}", "arg0", api_request_arg(req, 0), "arg1", api_request_arg(req, 1),
                         "path", api_request_path(req));
}

static int get_proc(ApiRequest *req, void *userdata) {
        return reply_fmt(req, "{s:s, s:s}", "app", api_request_arg(req, 0), "proc", api_request_arg(req, 1));
}

static int get_query(ApiRequest *req, void *userdata) {
        return reply_fmt(req, "{s:s?, s:s?, s:s?, s:s?}", "name", api_request_query(req, "name"), "flag",
                         api_request_query(req, "flag"), "x", api_request_query(req, "x"), "missing",
                         api_request_query(req, "missing"));
}

static int post_echo(ApiRequest *req, void *userdata) {
        size_t n;
        const char *body = api_request_body(req, &n);
        json_auto_t *parsed = body ? json_loadb(body, n, 0, NULL) : NULL;

        return reply_fmt(req, "{s:I, s:b, s:O?}", "len", (json_int_t) n, "null", body == NULL, "json", parsed);
}

/* A spooled body (body_max): its size, its first and last byte, read from the file. */
static int post_spool(ApiRequest *req, void *userdata) {
        uint64_t size = 0;
        int fd = api_request_body_fd(req, &size);
        char first = 0, last = 0;

        if (fd < 0)
                return fd;
        if (size > 0 && (pread(fd, &first, 1, 0) != 1 || pread(fd, &last, 1, (off_t) size - 1) != 1))
                return -EIO;
        return reply_fmt(req, "{s:I, s:b, s:i, s:i}", "len", (json_int_t) size, "in_memory",
                         api_request_body(req, NULL) != NULL, "first", first, "last", last);
}

static int on_later(sd_event_source *s, uint64_t usec, void *userdata) {
        ApiRequest *req = userdata;

        if (streq(api_request_path(req), "/v1/slow"))
                slow_replies++;
        reply_fmt(req, "{s:b}", "async", true);
        return 0;
}

/* Replies from a timer on the same loop, like a handler waiting for etcd. */
static int get_async(ApiRequest *req, void *userdata) {
        uint64_t delay = streq(api_request_path(req), "/v1/slow") ? 500 * USEC_PER_MSEC : 50 * USEC_PER_MSEC;

        return sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, delay, 0, on_later, req);
}

static int get_hold(ApiRequest *req, void *userdata) {
        held = req;
        return 0;
}

static int get_fail(ApiRequest *req, void *userdata) {
        return -EIO;
}

static int get_teapot(ApiRequest *req, void *userdata) {
        return api_request_reply_error(req, 418, "teapot", "short and %s", "stout");
}

static int get_empty(ApiRequest *req, void *userdata) {
        return api_request_reply_empty(req, streq(api_request_method(req), "POST") ? 201 : 204);
}

static int get_rest(ApiRequest *req, void *userdata) {
        return reply_fmt(req, "{s:s, s:s}", "rest", api_request_path(req), "method", api_request_method(req));
}

static const ApiRoute routes[] = {
        { "GET", "/v1/ping", get_ping },
        { "PUT", "/v1/ping", get_ping },
        { "GET", "/v1/units/*/echo", get_unit },
        { "GET", "/v1/apps/*/procs/*", get_proc },
        { "GET", "/v1/query", get_query },
        { "POST", "/v1/echo", post_echo },
        { "POST", "/v1/spool", post_spool, .body_max = 3 * 1024 * 1024 },
        { "GET", "/v1/async", get_async },
        { "GET", "/v1/slow", get_async },
        { "GET", "/v1/hold", get_hold },
        { "GET", "/v1/fail", get_fail },
        { "GET", "/v1/teapot", get_teapot },
        {}
};

/* A second table (api_server_add_routes()): matched after the first one. */
static const ApiRoute more_routes[] = {
        { "GET", "/v1/ping", get_teapot },   /* never reached: the first table has it */
        { "GET", "/v2/empty", get_empty },
        { "POST", "/v2/empty", get_empty },
        { "*", "/v2/any", get_ping },
        { "*", "/v2/**", get_rest },
        {}
};

/* ---- the client side (the child) ---- */

typedef struct Reply {
        CURLcode result;
        long status;
        char *body;
        size_t size;
        char *content_type;
        char *allow;
        json_t *json;
} Reply;

static void reply_done(Reply *r) {
        free(r->body);
        free(r->content_type);
        free(r->allow);
        json_decref(r->json);
        *r = (Reply) {};
}

static CURL *curl;   /* one handle for all: later requests reuse the connection (keep-alive) */

static size_t on_body(char *data, size_t size, size_t n, void *userdata) {
        Reply *r = userdata;
        char *b = realloc(r->body, r->size + size * n + 1);

        if (!b)
                return 0;
        memcpy(b + r->size, data, size * n);
        r->body = b;
        r->size += size * n;
        r->body[r->size] = '\0';
        return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata) {
        Reply *r = userdata;
        size_t len = size * n;

        if (len > 6 && strncasecmp(data, "Allow:", 6) == 0) {
                free(r->allow);
                r->allow = strndup(data + 7, len - 7);
                if (r->allow)
                        r->allow[strcspn(r->allow, "\r\n")] = '\0';
        }
        return len;
}

static void setup_request(CURL *c, const char *method, const char *path, const char *body, size_t len,
                          Reply *ret) {
        char url[512];

        snprintf(url, sizeof(url), "http://localhost%s", path);
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket_path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, ret);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, ret);
        if (body) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
        }
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
}

static void finish_request(CURL *c, Reply *ret) {
        const char *ct = NULL;

        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->status);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        ret->content_type = ct ? strdup(ct) : NULL;
        if (ret->body)
                ret->json = json_loadb(ret->body, ret->size, 0, NULL);
}

static void http_full(const char *method, const char *path, const char *body, size_t len, long timeout_ms,
                      Reply *ret) {
        *ret = (Reply) {};
        curl_easy_reset(curl);
        setup_request(curl, method, path, body, len, ret);
        if (timeout_ms > 0)
                curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
        ret->result = curl_easy_perform(curl);
        finish_request(curl, ret);
}

static void http(const char *method, const char *path, Reply *ret) {
        http_full(method, path, NULL, 0, 0, ret);
}

/* The error contract: exactly {"error":{"code":code,"message":"..."}} and JSON. */
#define ASSERT_ERROR(r, st, code)                                                                         \
        do {                                                                                              \
                json_t *_e = json_object_get((r)->json, "error");                                        \
                ASSERT_INT((r)->result, CURLE_OK);                                                        \
                ASSERT_INT((r)->status, st);                                                              \
                ASSERT_STR((r)->content_type, "application/json");                                       \
                ASSERT_TRUE(json_is_object((r)->json) && json_object_size((r)->json) == 1);               \
                ASSERT_TRUE(json_is_object(_e) && json_object_size(_e) == 2);                             \
                ASSERT_STR(json_string_value(json_object_get(_e, "code")), code);                        \
                ASSERT_TRUE(!isempty(json_string_value(json_object_get(_e, "message"))));                \
        } while (0)

static const char *jstr(const Reply *r, const char *key) {
        return json_string_value(json_object_get(r->json, key));
}

TEST(sync_reply) {
        _cleanup_(reply_done) Reply r;

        http("GET", "/v1/ping", &r);
        ASSERT_INT(r.result, CURLE_OK);
        ASSERT_INT(r.status, 200);
        ASSERT_STR(r.content_type, "application/json");
        ASSERT_STR(r.body, "{\"pong\":true,\"method\":\"GET\"}\n");
}

TEST(args) {
        _cleanup_(reply_done) Reply r;

        http("GET", "/v1/units/web%40v1.service/echo", &r);
        ASSERT_INT(r.status, 200);
        ASSERT_STR(jstr(&r, "arg0"), "web@v1.service");
        ASSERT_TRUE(json_is_null(json_object_get(r.json, "arg1")));
        ASSERT_STR(jstr(&r, "path"), "/v1/units/web%40v1.service/echo");
        reply_done(&r);

        /* An escaped slash stays inside its segment. */
        http("GET", "/v1/units/a%2Fb/echo", &r);
        ASSERT_INT(r.status, 200);
        ASSERT_STR(jstr(&r, "arg0"), "a/b");
        reply_done(&r);

        http("GET", "/v1/apps/hello/procs/web", &r);
        ASSERT_INT(r.status, 200);
        ASSERT_STR(jstr(&r, "app"), "hello");
        ASSERT_STR(jstr(&r, "proc"), "web");
}

TEST(query) {
        _cleanup_(reply_done) Reply r;

        http("GET", "/v1/query?name=a%20b&flag&x=1+2", &r);
        ASSERT_INT(r.status, 200);
        ASSERT_STR(jstr(&r, "name"), "a b");
        ASSERT_STR(jstr(&r, "flag"), "");
        ASSERT_STR(jstr(&r, "x"), "1 2");
        ASSERT_TRUE(json_is_null(json_object_get(r.json, "missing")));
}

TEST(body_echo) {
        _cleanup_(reply_done) Reply r;
        const char *body = "{\"image\":\"localhost/hello:1.0\",\"scale\":2}";

        http_full("POST", "/v1/echo", body, strlen(body), 0, &r);
        ASSERT_INT(r.status, 200);
        ASSERT_INT(json_integer_value(json_object_get(r.json, "len")), strlen(body));
        ASSERT_INT(json_integer_value(json_object_get(json_object_get(r.json, "json"), "scale")), 2);
        reply_done(&r);

        http_full("POST", "/v1/echo", "", 0, 0, &r);
        ASSERT_INT(r.status, 200);
        ASSERT_INT(json_integer_value(json_object_get(r.json, "len")), 0);
        ASSERT_TRUE(json_is_true(json_object_get(r.json, "null")));
}

TEST(body_limit) {
        _cleanup_(reply_done) Reply r;
        _cleanup_free_ char *big = malloc(1024 * 1024 + 1);

        ASSERT_TRUE(big);
        memset(big, ' ', 1024 * 1024 + 1);

        /* Exactly 1 MiB is fine ... */
        http_full("POST", "/v1/echo", big, 1024 * 1024, 0, &r);
        ASSERT_INT(r.status, 200);
        ASSERT_INT(json_integer_value(json_object_get(r.json, "len")), 1024 * 1024);
        reply_done(&r);

        /* ... one byte more is not. */
        http_full("POST", "/v1/echo", big, 1024 * 1024 + 1, 0, &r);
        ASSERT_ERROR(&r, 413, "payload_too_large");
        reply_done(&r);

        /* The server still answers afterwards. */
        http("GET", "/v1/ping", &r);
        ASSERT_INT(r.status, 200);
}

/* A route with body_max takes more than 1 MiB, into a file, up to its own limit. */
TEST(body_spooled) {
        _cleanup_(reply_done) Reply r = {};
        size_t n = 3 * 1024 * 1024;
        _cleanup_free_ char *big = malloc(n + 1);

        ASSERT_TRUE(big);
        memset(big, 'x', n + 1);
        big[0] = 'a';
        big[n - 1] = 'z';
        http_full("POST", "/v1/spool", big, n, 0, &r);
        ASSERT_INT(r.status, 200);
        ASSERT_INT(json_integer_value(json_object_get(r.json, "len")), n);
        ASSERT_TRUE(json_is_false(json_object_get(r.json, "in_memory")));
        ASSERT_INT(json_integer_value(json_object_get(r.json, "first")), 'a');
        ASSERT_INT(json_integer_value(json_object_get(r.json, "last")), 'z');
        reply_done(&r);

        http_full("POST", "/v1/spool", big, n + 1, 0, &r);
        ASSERT_ERROR(&r, 413, "payload_too_large");
        ASSERT_CONTAINS(r.body, "larger than 3 MiB");
        reply_done(&r);

        /* the other routes keep theirs */
        http_full("POST", "/v1/echo", big, 1024 * 1024 + 1, 0, &r);
        ASSERT_ERROR(&r, 413, "payload_too_large");
}

static size_t chunked_left;

static size_t read_spaces(char *buf, size_t size, size_t n, void *userdata) {
        size_t k = MIN(size * n, chunked_left);

        memset(buf, ' ', k);
        chunked_left -= k;
        return k;
}

/* Without a Content-Length the server learns of the size only while reading: it hangs up. */
TEST(body_limit_chunked) {
        _cleanup_(reply_done) Reply r = {};
        struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
        CURL *c = curl_easy_init();

        ASSERT_TRUE(h && c);
        chunked_left = 2 * 1024 * 1024;
        setup_request(c, "POST", "/v1/echo", NULL, 0, &r);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_spaces);
        r.result = curl_easy_perform(c);
        finish_request(c, &r);
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
        /* curl may have seen "100 Continue" before the server hung up; never a final answer. */
        ASSERT_TRUE(r.result != CURLE_OK);
        ASSERT_TRUE(r.status == 0 || r.status == 100);
}

TEST(async_reply) {
        _cleanup_(reply_done) Reply r;

        http("GET", "/v1/async", &r);
        ASSERT_INT(r.result, CURLE_OK);
        ASSERT_INT(r.status, 200);
        ASSERT_STR(r.body, "{\"async\":true}\n");
        reply_done(&r);

        /* Same connection again, after it was suspended and resumed. */
        http("GET", "/v1/ping", &r);
        ASSERT_INT(r.status, 200);
}

/* Many suspended connections at once, answered from timers. */
TEST(async_concurrent) {
        enum { N = 24 };
        Reply r[N] = {};
        CURL *c[N] = {};
        CURLM *m = curl_multi_init();
        int running = 1, ok = 0;

        ASSERT_TRUE(m);
        for (int i = 0; i < N; i++) {
                c[i] = curl_easy_init();
                setup_request(c[i], "GET", "/v1/async", NULL, 0, &r[i]);
                curl_multi_add_handle(m, c[i]);
        }
        while (running > 0) {
                if (curl_multi_perform(m, &running) != CURLM_OK)
                        break;
                if (running > 0)
                        curl_multi_poll(m, NULL, 0, 1000, NULL);
        }
        for (int i = 0; i < N; i++) {
                finish_request(c[i], &r[i]);
                if (r[i].status == 200 && streq_ptr(r[i].body, "{\"async\":true}\n"))
                        ok++;
                curl_multi_remove_handle(m, c[i]);
                curl_easy_cleanup(c[i]);
                reply_done(&r[i]);
        }
        curl_multi_cleanup(m);
        ASSERT_INT(ok, N);
}

TEST(not_found) {
        _cleanup_(reply_done) Reply r;

        http("GET", "/v1/nope", &r);
        ASSERT_ERROR(&r, 404, "not_found");
        reply_done(&r);

        /* Segments match exactly: no trailing slash, '*' never matches an empty segment. */
        http("GET", "/v1/ping/", &r);
        ASSERT_ERROR(&r, 404, "not_found");
        reply_done(&r);
        http("GET", "/v1/units//echo", &r);
        ASSERT_ERROR(&r, 404, "not_found");
        reply_done(&r);
        http("GET", "/", &r);
        ASSERT_ERROR(&r, 404, "not_found");
}

TEST(method_not_allowed) {
        _cleanup_(reply_done) Reply r;

        http("DELETE", "/v1/ping", &r);
        ASSERT_ERROR(&r, 405, "method_not_allowed");
        ASSERT_STR(r.allow, "GET, PUT");
        reply_done(&r);

        http("POST", "/v1/units/x/echo", &r);
        ASSERT_ERROR(&r, 405, "method_not_allowed");
        ASSERT_STR(r.allow, "GET");
}

TEST(bad_request) {
        _cleanup_(reply_done) Reply r;

        http("GET", "/v1/units/%zz/echo", &r);
        ASSERT_ERROR(&r, 400, "bad_request");
        reply_done(&r);
        http("GET", "/v1/units/a%00b/echo", &r);
        ASSERT_ERROR(&r, 400, "bad_request");
        reply_done(&r);
        http("GET", "/v1/units/%ff/echo", &r);
        ASSERT_ERROR(&r, 400, "bad_request");
        reply_done(&r);
        http("GET", "/v1/query?name=%", &r);
        ASSERT_ERROR(&r, 400, "bad_request");
}

TEST(handler_errors) {
        _cleanup_(reply_done) Reply r;

        http("GET", "/v1/fail", &r);
        ASSERT_ERROR(&r, 500, "internal");
        reply_done(&r);

        http("GET", "/v1/teapot", &r);
        ASSERT_ERROR(&r, 418, "teapot");
        ASSERT_STR(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
                   "short and stout");
}

TEST(more_routes) {
        _cleanup_(reply_done) Reply r;

        http("GET", "/v1/ping", &r);
        ASSERT_INT(r.status, 200);
        ASSERT_TRUE(json_is_true(json_object_get(r.json, "pong")));
        reply_done(&r);

        /* no body and no Content-Type */
        http("GET", "/v2/empty", &r);
        ASSERT_INT(r.status, 204);
        ASSERT_INT(r.size, 0);
        ASSERT_TRUE(!r.content_type);
        reply_done(&r);
        http_full("POST", "/v2/empty", "x", 1, 0, &r);
        ASSERT_INT(r.status, 201);
        ASSERT_INT(r.size, 0);
        ASSERT_TRUE(!r.content_type);
        reply_done(&r);

        /* "*" takes any method, "**" whatever is left of the path */
        http("DELETE", "/v2/any", &r);
        ASSERT_INT(r.status, 200);
        ASSERT_STR(jstr(&r, "method"), "DELETE");
        reply_done(&r);
        http("PATCH", "/v2/a/b/c", &r);
        ASSERT_INT(r.status, 200);
        ASSERT_STR(jstr(&r, "rest"), "/v2/a/b/c");
        reply_done(&r);
        http("GET", "/v2/", &r);
        ASSERT_STR(jstr(&r, "rest"), "/v2/");
        reply_done(&r);
        http("GET", "/v2", &r);
        ASSERT_STR(jstr(&r, "rest"), "/v2");
        reply_done(&r);
        http("GET", "/v3", &r);
        ASSERT_ERROR(&r, 404, "not_found");
}

/* The client gives up while its request waits: the late reply is dropped, the server goes on. */
TEST(client_gone) {
        _cleanup_(reply_done) Reply r;

        http_full("GET", "/v1/slow", NULL, 0, 100, &r);
        ASSERT_INT(r.result, CURLE_OPERATION_TIMEDOUT);
        reply_done(&r);

        http("GET", "/v1/ping", &r);
        ASSERT_INT(r.status, 200);
        usleep(700 * 1000);   /* let the slow reply happen while we are still here */
        reply_done(&r);

        http("GET", "/v1/ping", &r);
        ASSERT_INT(r.status, 200);
}

/* Last: the parent frees the server while this request is held, then answers it. */
TEST(held_at_exit) {
        _cleanup_(reply_done) Reply r;

        http_full("GET", "/v1/hold", NULL, 0, 200, &r);
        ASSERT_INT(r.result, CURLE_OPERATION_TIMEDOUT);
}

static int run_child(void) {
        static const TestCase cases[] = {
                T(sync_reply),      T(args),           T(query),       T(body_echo),          T(body_limit),
                T(body_limit_chunked), T(body_spooled), T(async_reply), T(async_concurrent), T(not_found), T(method_not_allowed),
                T(bad_request),     T(handler_errors), T(more_routes), T(client_gone), T(held_at_exit),
        };
        int r;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return EXIT_FAILURE;
        curl = curl_easy_init();
        if (!curl)
                return EXIT_FAILURE;
        r = run_tests(cases, ELEMENTSOF(cases));
        curl_easy_cleanup(curl);
        curl_global_cleanup();
        return r;
}

/* ---- the parent ---- */

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        int code = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
        return sd_event_exit(sd_event_source_get_event(s), code);
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        fprintf(stderr, "timed out waiting for the client\n");
        return sd_event_exit(sd_event_source_get_event(s), 124);
}

/* Leaves a socket file nobody listens on, as a crashed fleetd would. */
static int make_stale_socket(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return 0;
}

TEST(socket_setup) {
        _cleanup_(api_server_freep) ApiServer *other = NULL;
        char path[PATH_MAX + 32];
        struct stat st;

        /* The server made the directories and the socket, with the modes it promises. */
        ASSERT_INT(stat(socket_path, &st), 0);
        ASSERT_TRUE(S_ISSOCK(st.st_mode));
        ASSERT_INT(st.st_mode & 07777, 0660);
        snprintf(path, sizeof(path), "%s/run/fleetd", dir);
        ASSERT_INT(stat(path, &st), 0);
        ASSERT_INT(st.st_mode & 07777, 0755);

        /* Where a second fleetd would go: our live socket is not stale. */
        ASSERT_INT(api_server_new(event, socket_path, routes, NULL, &other), -EADDRINUSE);

        /* A file that is not a socket is not ours to remove. */
        snprintf(path, sizeof(path), "%s/not-a-socket", dir);
        FILE *f = fopen(path, "we");
        ASSERT_TRUE(f);
        fclose(f);
        ASSERT_INT(api_server_new(event, path, routes, NULL, &other), -EEXIST);
        ASSERT_INT(unlink(path), 0);

        /* A socket nobody listens on is replaced, and removed again when the server goes. */
        snprintf(path, sizeof(path), "%s/stale.sock", dir);
        ASSERT_INT(make_stale_socket(path), 0);
        ASSERT_INT(api_server_new(event, path, routes, NULL, &other), 0);
        ASSERT_INT(stat(path, &st), 0);
        ASSERT_INT(st.st_mode & 07777, 0660);
        other = api_server_free(other);
        ASSERT_TRUE(stat(path, &st) < 0 && errno == ENOENT);
}

TEST(after_client) {
        /* The slow request's reply came after its client had gone, and was dropped. */
        ASSERT_INT(slow_replies, 1);
        ASSERT_TRUE(held);
}

/* The server is gone; the request it handed out is not, until it is answered. */
TEST(held_after_free) {
        struct stat st;

        ASSERT_TRUE(stat(socket_path, &st) < 0 && errno == ENOENT);
        ASSERT_TRUE(held);
        ASSERT_STR(api_request_path(held), "/v1/hold");
        ASSERT_STR(api_request_method(held), "GET");
        ASSERT_INT(api_request_reply_json(held, 200, json_true()), 0);
        held = NULL;
}

static int run_parent(pid_t pid) {
        int r;

        r = sd_event_add_child(event, NULL, pid, WEXITED, on_child_exit, NULL);
        if (r >= 0)
                r = sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, 120 * USEC_PER_SEC, 0, on_watchdog,
                                               NULL);
        if (r < 0) {
                fprintf(stderr, "Failed to watch the client: %s\n", strerror(-r));
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                return EXIT_FAILURE;
        }
        r = sd_event_loop(event);
        if (r == 124) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
        }
        return r;
}

int main(void) {
        static const TestCase before[] = { T(socket_setup) };
        static const TestCase after[] = { T(after_client) };
        static const TestCase at_end[] = { T(held_after_free) };
        ApiServer *s = NULL;
        char path[PATH_MAX + 32];
        sigset_t mask;
        pid_t pid;
        int r, child;

        if (getenv("TEST_DEBUG"))
                log_set_max_level(LOG_DEBUG);
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        snprintf(socket_path, sizeof(socket_path), "%s/run/fleetd/api.sock", dir);

        /* sd-event learns of the child's exit through SIGCHLD, which must be blocked. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&event);
        if (r >= 0)
                r = api_server_new(event, socket_path, routes, NULL, &s);
        if (r >= 0)
                r = api_server_add_routes(s, more_routes);
        if (r < 0) {
                fprintf(stderr, "Failed to start the server on %s: %s\n", socket_path, strerror(-r));
                return EXIT_FAILURE;
        }
        run_tests(before, ELEMENTSOF(before));

        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                perror("fork");
                return EXIT_FAILURE;
        }
        if (pid == 0) {
                sigprocmask(SIG_UNBLOCK, &mask, NULL);
                r = run_child();
                fflush(NULL);
                _exit(r);
        }
        child = run_parent(pid);
        printf("client exited with %d\n", child);
        run_tests(after, ELEMENTSOF(after));

        s = api_server_free(s);
        run_tests(at_end, ELEMENTSOF(at_end));

        snprintf(path, sizeof(path), "%s/run/fleetd", dir);
        rmdir(path);
        snprintf(path, sizeof(path), "%s/run", dir);
        rmdir(path);
        rmdir(dir);
        event = sd_event_unref(event);
        return child == 0 && test_failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
