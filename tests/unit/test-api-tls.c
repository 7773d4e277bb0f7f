/* SPDX-License-Identifier: Apache-2.0 */
/* The API server's TLS listener and streamed replies, in one process: the parent serves on its
 * sd-event loop (a unix socket and 127.0.0.1:<free port> with HTTPS), a forked child is the
 * client (libcurl). Certificates are made at test time with openssl in a temporary directory:
 * a cluster CA, a server certificate (IP 127.0.0.1), a client certificate, one from another
 * CA, and one that the CA signed for servers only. Without openssl the test is skipped (77).
 *
 * What must hold: a client with a CA-signed certificate gets its answer; no certificate, a
 * certificate of another CA, or one not meant for clients get 403; plain HTTP on the TLS port
 * gets nothing; streams arrive whole (also past the 1 MiB back-pressure limit); a client that
 * hangs up on an idle stream is noticed (API_REQUEST_CLOSED) on TLS and on the unix socket. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "api-server.h"
#include "log.h"
#include "../tests.h"

int test_failures = 0;

static char dir[] = "/tmp/test-api-tls.XXXXXX";
static char socket_path[PATH_MAX];
static char base_url[64];
static sd_event *event;

static unsigned closed_events;     /* API_REQUEST_CLOSED seen by /v1/follow */
static unsigned drained_events;    /* API_REQUEST_DRAINED seen by /v1/big */

#define BIG_SIZE ((size_t) 3 * 1024 * 1024 + 17)
#define BIG_PIECE ((size_t) 64 * 1024)

/* ---- certificates ---- */

static const char make_certs[] =
        "set -e\n"
        "cd \"$1\"\n"
        "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out \"$1\" 2>/dev/null; }\n"
        "ca() {\n"
        "  printf '[req]\\ndistinguished_name=dn\\nx509_extensions=ext\\nprompt=no\\n[dn]\\nCN=%s\\n"
        "[ext]\\nbasicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign,cRLSign\\n' \"$1\" >\"$1.cnf\"\n"
        "  key \"$1.key\"\n"
        "  openssl req -x509 -new -key \"$1.key\" -config \"$1.cnf\" -days 2 -out \"$1.pem\" 2>/dev/null\n"
        "}\n"
        "cert() {  # NAME CA EKU [SAN]\n"
        "  key \"$1.key\"\n"
        "  openssl req -new -key \"$1.key\" -subj \"/CN=$1\" -out \"$1.csr\" 2>/dev/null\n"
        "  printf 'basicConstraints=CA:FALSE\\nkeyUsage=critical,digitalSignature\\nextendedKeyUsage=%s\\n' \"$3\" "
        ">\"$1.ext\"\n"
        "  if [ -n \"$4\" ]; then echo \"subjectAltName=$4\" >>\"$1.ext\"; fi\n"
        "  openssl x509 -req -in \"$1.csr\" -CA \"$2.pem\" -CAkey \"$2.key\" -CAcreateserial -days 2 "
        "-extfile \"$1.ext\" -out \"$1.pem\" 2>/dev/null\n"
        "}\n"
        "ca ca\n"
        "ca other-ca\n"
        "cert server ca serverAuth,clientAuth IP:127.0.0.1\n"
        "cert client ca clientAuth\n"
        "cert stranger other-ca clientAuth\n"
        "cert server-only ca serverAuth\n";

static int make_certificates(void) {
        char cmd[PATH_MAX + 64];
        FILE *f;
        int r;

        snprintf(cmd, sizeof(cmd), "%s/make-certs.sh", dir);
        f = fopen(cmd, "we");
        if (!f)
                return -errno;
        fputs(make_certs, f);
        if (fclose(f) != 0)
                return -EIO;
        snprintf(cmd, sizeof(cmd), "sh %s/make-certs.sh %s", dir, dir);
        r = system(cmd);
        return r == 0 ? 0 : -EIO;
}

static const char *file(const char *name) {
        static char paths[8][PATH_MAX];
        static unsigned next;
        char *p = paths[next++ % ELEMENTSOF(paths)];

        snprintf(p, PATH_MAX, "%s/%s", dir, name);
        return p;
}

/* A port nobody uses on 127.0.0.1 right now (the kernel's pick for port 0). */
static int free_port(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return -errno;
        return ntohs(sa.sin_port);
}

/* ---- the server side ---- */

static int get_ping(ApiRequest *req, void *userdata) {
        json_auto_t *o = json_pack("{s:b, s:s?}", "pong", true, "x", api_request_header(req, "x-test"));

        return o ? api_request_reply_json(req, 200, o) : -ENOMEM;
}

static int on_stream_later(sd_event_source *s, uint64_t usec, void *userdata) {
        ApiRequest *req = userdata;

        api_request_stream_write(req, "two\n", 4);
        api_request_stream_end(req, 0);
        return 0;
}

/* A stream with a pause in the middle: the connection sleeps in between. */
static int get_stream(ApiRequest *req, void *userdata) {
        int r;

        r = api_request_stream_begin(req, 200, "text/plain");
        if (r >= 0)
                r = api_request_stream_write(req, "one\n", 4);
        if (r < 0)
                return r;
        return sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, 100 * USEC_PER_MSEC, 0, on_stream_later,
                                          req);
}

typedef struct Big {
        ApiRequest *req;
        size_t sent;
        char piece[BIG_PIECE];
} Big;

/* Writes until the buffer is full, then waits for DRAINED. Byte i of the body is 'a' + i % 26. */
static void big_pump(Big *b) {
        while (b->sent < BIG_SIZE) {
                size_t n = MIN(BIG_PIECE, BIG_SIZE - b->sent);
                for (size_t i = 0; i < n; i++)
                        b->piece[i] = (char) ('a' + (b->sent + i) % 26);
                int r = api_request_stream_write(b->req, b->piece, n);
                if (r == -ENOBUFS)
                        return;
                if (r < 0) {
                        api_request_stream_end(b->req, r);
                        free(b);
                        return;
                }
                b->sent += n;
        }
        api_request_stream_end(b->req, 0);
        free(b);
}

static void on_big_event(ApiRequest *req, ApiRequestEvent ev, void *userdata) {
        Big *b = userdata;

        if (ev == API_REQUEST_DRAINED) {
                drained_events++;
                big_pump(b);
                return;
        }
        api_request_stream_end(req, -ECONNRESET);
        free(b);
}

static int get_big(ApiRequest *req, void *userdata) {
        Big *b = calloc(1, sizeof(Big));
        int r;

        if (!b)
                return -ENOMEM;
        b->req = req;
        r = api_request_set_event_handler(req, on_big_event, b);
        if (r >= 0)
                r = api_request_stream_begin(req, 200, "application/octet-stream");
        if (r < 0) {
                api_request_set_event_handler(req, NULL, NULL);
                free(b);
                return r;
        }
        big_pump(b);
        return 0;
}

static void on_follow_event(ApiRequest *req, ApiRequestEvent ev, void *userdata) {
        if (ev == API_REQUEST_CLOSED) {
                closed_events++;
                api_request_stream_end(req, -ECONNRESET);
        }
}

/* Never ends by itself: only the client hanging up ends it. */
static int get_follow(ApiRequest *req, void *userdata) {
        int r;

        r = api_request_stream_begin(req, 200, "text/plain");
        if (r >= 0)
                r = api_request_stream_write(req, "first\n", 6);
        if (r >= 0)
                r = api_request_set_event_handler(req, on_follow_event, NULL);
        if (r < 0)
                api_request_stream_end(req, r);
        return 0;
}

static const ApiRoute routes[] = {
        { "GET", "/v1/ping", get_ping },
        { "GET", "/v1/stream", get_stream },
        { "GET", "/v1/big", get_big },
        { "GET", "/v1/follow", get_follow },
        {}
};

/* ---- the client side (the child) ---- */

typedef struct Reply {
        CURLcode result;
        long status;
        char *body;
        size_t size;
        json_t *json;
} Reply;

static void reply_done(Reply *r) {
        free(r->body);
        json_decref(r->json);
        *r = (Reply) {};
}

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

/* GET url; cert names the client certificate ("client" -> client.pem, client.key) or NULL;
 * unix: over the unix socket instead. */
static void get(const char *url, const char *cert, bool unix_socket, long timeout_ms, Reply *ret) {
        CURL *c = curl_easy_init();
        struct curl_slist *h = curl_slist_append(NULL, "X-Test: hello");
        char name[64];

        *ret = (Reply) {};
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, ret);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 10000L);
        curl_easy_setopt(c, CURLOPT_CAINFO, file("ca.pem"));
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
        if (unix_socket)
                curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket_path);
        if (cert) {
                snprintf(name, sizeof(name), "%s.pem", cert);
                curl_easy_setopt(c, CURLOPT_SSLCERT, file(name));
                snprintf(name, sizeof(name), "%s.key", cert);
                curl_easy_setopt(c, CURLOPT_SSLKEY, file(name));
        }
        ret->result = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->status);
        if (ret->body)
                ret->json = json_loadb(ret->body, ret->size, 0, NULL);
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
}

static const char *url(const char *path) {
        static char buf[4][256];
        static unsigned next;
        char *p = buf[next++ % ELEMENTSOF(buf)];

        snprintf(p, 256, "%s%s", base_url, path);
        return p;
}

static const char *error_code(const Reply *r) {
        return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

static const char *error_message(const Reply *r) {
        return json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
}

TEST(signed_client) {
        _cleanup_(reply_done) Reply r;

        get(url("/v1/ping"), "client", false, 0, &r);
        ASSERT_INT(r.result, CURLE_OK);
        ASSERT_INT(r.status, 200);
        ASSERT_STR(r.body, "{\"pong\":true,\"x\":\"hello\"}\n");

        /* A certificate for both ends (what the cluster gives every host) works as a client too. */
        reply_done(&r);
        get(url("/v1/ping"), "server", false, 0, &r);
        ASSERT_INT(r.result, CURLE_OK);
        ASSERT_INT(r.status, 200);
}

TEST(no_client_certificate) {
        _cleanup_(reply_done) Reply r;

        get(url("/v1/ping"), NULL, false, 0, &r);
        ASSERT_INT(r.result, CURLE_OK);
        ASSERT_INT(r.status, 403);
        ASSERT_STR(error_code(&r), "forbidden");
        ASSERT_CONTAINS(error_message(&r), "certificate is required");
}

TEST(other_ca) {
        _cleanup_(reply_done) Reply r;

        get(url("/v1/ping"), "stranger", false, 0, &r);
        ASSERT_INT(r.result, CURLE_OK);
        ASSERT_INT(r.status, 403);
        ASSERT_STR(error_code(&r), "forbidden");
        ASSERT_CONTAINS(error_message(&r), "not signed by a CA");
}

TEST(server_only_certificate) {
        _cleanup_(reply_done) Reply r;

        get(url("/v1/ping"), "server-only", false, 0, &r);
        ASSERT_INT(r.result, CURLE_OK);
        ASSERT_INT(r.status, 403);
        ASSERT_STR(error_code(&r), "forbidden");
        ASSERT_CONTAINS(error_message(&r), "not for TLS clients");
}

TEST(plain_http) {
        _cleanup_(reply_done) Reply r;
        char plain[128];

        snprintf(plain, sizeof(plain), "http://%s/v1/ping", base_url + strlen("https://"));
        get(plain, NULL, false, 5000, &r);
        ASSERT_TRUE(r.result != CURLE_OK);
        ASSERT_TRUE(r.status != 200);
}

TEST(stream) {
        _cleanup_(reply_done) Reply r;

        get(url("/v1/stream"), "client", false, 0, &r);
        ASSERT_INT(r.result, CURLE_OK);
        ASSERT_INT(r.status, 200);
        ASSERT_STR(r.body, "one\ntwo\n");
        reply_done(&r);

        get("http://localhost/v1/stream", NULL, true, 0, &r);
        ASSERT_INT(r.result, CURLE_OK);
        ASSERT_STR(r.body, "one\ntwo\n");
}

TEST(big_stream) {
        _cleanup_(reply_done) Reply r;

        get(url("/v1/big"), "client", false, 30000, &r);
        ASSERT_INT(r.result, CURLE_OK);
        ASSERT_INT(r.status, 200);
        ASSERT_INT(r.size, BIG_SIZE);
        for (size_t i = 0; i < r.size; i++)
                if (r.body[i] != (char) ('a' + i % 26))
                        ASSERT_INT(i, -1);
}

/* The client gives up on a stream that has nothing more to say: the server must notice. */
TEST(hang_up) {
        _cleanup_(reply_done) Reply r;

        get(url("/v1/follow"), "client", false, 500, &r);
        ASSERT_INT(r.result, CURLE_OPERATION_TIMEDOUT);
        ASSERT_STR(r.body, "first\n");
        reply_done(&r);

        get("http://localhost/v1/follow", NULL, true, 500, &r);
        ASSERT_INT(r.result, CURLE_OPERATION_TIMEDOUT);
        ASSERT_STR(r.body, "first\n");
}

static int run_child(void) {
        static const TestCase cases[] = {
                T(signed_client), T(no_client_certificate), T(other_ca), T(server_only_certificate),
                T(plain_http),    T(stream),                T(big_stream), T(hang_up),
        };
        int r;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return EXIT_FAILURE;
        r = run_tests(cases, ELEMENTSOF(cases));
        curl_global_cleanup();
        return r;
}

/* ---- the parent ---- */

static ApiTlsOptions tls_options(const char *listen, const char *cert, const char *key, const char *ca) {
        return (ApiTlsOptions) { .listen = listen, .cert_file = file(cert), .key_file = file(key),
                                 .client_ca_file = file(ca) };
}

/* Bad files are refused with a message that names them. */
TEST(bad_tls_files) {
        _cleanup_(api_server_freep) ApiServer *s = NULL;
        _cleanup_free_ char *error = NULL;
        char sock[PATH_MAX + 16];
        ApiTlsOptions o;

        snprintf(sock, sizeof(sock), "%s/other.sock", dir);
        ASSERT_INT(api_server_new(event, sock, routes, NULL, &s), 0);

        o = tls_options("127.0.0.1:1", "server.pem", "client.key", "ca.pem");
        ASSERT_INT(api_server_listen_tls(s, &o, &error), -EBADMSG);
        ASSERT_CONTAINS(error, "client.key");
        free(error);
        error = NULL;

        o = tls_options("127.0.0.1:1", "server.pem", "server.key", "server.ext");
        ASSERT_INT(api_server_listen_tls(s, &o, &error), -EBADMSG);
        ASSERT_CONTAINS(error, "server.ext");

        o = tls_options("127.0.0.1:1", "server.pem", "missing.key", "ca.pem");
        ASSERT_INT(api_server_listen_tls(s, &o, NULL), -ENOENT);

        o = tls_options("127.0.0.1", "server.pem", "server.key", "ca.pem");
        ASSERT_INT(api_server_listen_tls(s, &o, NULL), -EINVAL);
}

TEST(events_seen) {
        ASSERT_INT(closed_events, 2);
        ASSERT_TRUE(drained_events > 0);
}

static int child_code;

static int on_settled(sd_event_source *s, uint64_t usec, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), child_code);
}

/* The child's last hang-up may still be on its way through the loop: a moment for it. */
static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        child_code = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
        return sd_event_add_time_relative(sd_event_source_get_event(s), NULL, CLOCK_MONOTONIC,
                                          300 * USEC_PER_MSEC, 0, on_settled, NULL);
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        fprintf(stderr, "timed out waiting for the client\n");
        return sd_event_exit(sd_event_source_get_event(s), 124);
}

/* Serves until the child is done. */
static int run_parent(pid_t pid) {
        int r;

        r = sd_event_add_child(event, NULL, pid, WEXITED, on_child_exit, NULL);
        if (r >= 0)
                r = sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, 120 * USEC_PER_SEC, 0, on_watchdog,
                                               NULL);
        if (r < 0) {
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

static void remove_dir(void) {
        char cmd[PATH_MAX + 16];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "Failed to remove %s\n", dir);
}

int main(void) {
        static const TestCase before[] = { T(bad_tls_files) };
        static const TestCase after[] = { T(events_seen) };
        _cleanup_free_ char *error = NULL;
        char listen[32];
        ApiServer *s = NULL;
        ApiTlsOptions o;
        sigset_t mask;
        pid_t pid;
        int r, port, child;

        if (getenv("TEST_DEBUG"))
                log_set_max_level(LOG_DEBUG);
        if (system("command -v openssl >/dev/null 2>&1") != 0) {
                printf("SKIP: openssl is not installed; it makes the test certificates\n");
                return 77;
        }
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        if (make_certificates() < 0) {
                fprintf(stderr, "openssl failed to make the test certificates in %s\n", dir);
                return EXIT_FAILURE;
        }
        snprintf(socket_path, sizeof(socket_path), "%s/api.sock", dir);
        port = free_port();
        if (port < 0) {
                fprintf(stderr, "No free port: %s\n", strerror(-port));
                return EXIT_FAILURE;
        }
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
        snprintf(base_url, sizeof(base_url), "https://127.0.0.1:%d", port);

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        o = tls_options(listen, "server.pem", "server.key", "ca.pem");
        r = sd_event_default(&event);
        if (r >= 0)
                r = api_server_new(event, socket_path, routes, NULL, &s);
        if (r >= 0)
                r = api_server_listen_tls(s, &o, &error);
        if (r == -EOPNOTSUPP) {
                printf("SKIP: libmicrohttpd was built without TLS\n");
                remove_dir();
                return 77;
        }
        if (r < 0) {
                fprintf(stderr, "Failed to start the server on %s: %s %s\n", listen, strerror(-r), strempty(error));
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
        event = sd_event_unref(event);
        remove_dir();
        return child == 0 && test_failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
