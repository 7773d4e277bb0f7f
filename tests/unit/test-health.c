/* SPDX-License-Identifier: Apache-2.0 */
/* Health checks: the pure parts (Health*= keys, the state machine, status lines), then probes
 * and a checker on one sd-event loop against a tiny server in this process that accepts on the
 * same loop: it answers with a set response, or never answers. */
#include <netinet/in.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "health.h"
#include "../tests.h"

/* --- Health*= keys --- */

static int spec_of(const char *text, HealthSpec *ret, char **ret_error) {
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        int r = unit_file_parse(text, strlen(text), NULL, &uf, NULL);
        return r < 0 ? -999 : health_spec_from_unit_file(uf, ret, ret_error);
}

TEST(spec_defaults) {
        _cleanup_(health_spec_done) HealthSpec s = {};

        ASSERT_INT(spec_of("[X-Fleetd]\nPort=8080\nHealthHTTP=/healthz?full=1\n", &s, NULL), 1);
        ASSERT_INT(s.kind, HEALTH_KIND_HTTP);
        ASSERT_STR(s.http_path, "/healthz?full=1");
        ASSERT_TRUE(s.interval == 2 * USEC_PER_SEC);
        ASSERT_TRUE(s.timeout == 1 * USEC_PER_SEC);
        ASSERT_INT(s.threshold, 3);
}

TEST(spec_all_keys) {
        _cleanup_(health_spec_done) HealthSpec s = {}, copy = {};

        ASSERT_INT(spec_of("[X-Fleetd]\nHealthTCP=yes\nHealthInterval=5s\nHealthTimeout=250ms\n"
                           "HealthThreshold=100\n", &s, NULL), 1);
        ASSERT_INT(s.kind, HEALTH_KIND_TCP);
        ASSERT_TRUE(s.http_path == NULL);
        ASSERT_TRUE(s.interval == 5 * USEC_PER_SEC);
        ASSERT_TRUE(s.timeout == 250 * USEC_PER_MSEC);
        ASSERT_INT(s.threshold, 100);
        ASSERT_INT(health_spec_copy(&s, &copy), 0);
        ASSERT_TRUE(health_spec_equal(&s, &copy));
        copy.threshold = 2;
        ASSERT_TRUE(!health_spec_equal(&s, &copy));

        /* under 100ms counts as 100ms */
        health_spec_done(&s);
        ASSERT_INT(spec_of("[X-Fleetd]\nHealthTCP=true\nHealthInterval=10ms\nHealthTimeout=1us\n", &s, NULL), 1);
        ASSERT_TRUE(s.interval == 100 * USEC_PER_MSEC);
        ASSERT_TRUE(s.timeout == 100 * USEC_PER_MSEC);
}

TEST(spec_none) {
        HealthSpec s = { .threshold = 7 };

        ASSERT_INT(spec_of("[Service]\nExecStart=/bin/true\n", &s, NULL), 0);
        ASSERT_INT(s.kind, HEALTH_KIND_NONE);
        /* the other keys alone describe no check */
        ASSERT_INT(spec_of("[X-Fleetd]\nHealthInterval=1s\nHealthTCP=no\n", &s, NULL), 0);
        ASSERT_INT(s.kind, HEALTH_KIND_NONE);
        ASSERT_INT(spec_of("[X-Fleetd]\nHealthHTTP=/\nHealthHTTP=\n", &s, NULL), 0);
        /* both kinds, one of them off, is fine */
        ASSERT_INT(spec_of("[X-Fleetd]\nHealthHTTP=/x\nHealthTCP=false\n", &s, NULL), 1);
        ASSERT_INT(s.kind, HEALTH_KIND_HTTP);
        health_spec_done(&s);
}

TEST(spec_bad) {
        static const struct {
                const char *lines, *message;
        } bad[] = {
                { "HealthHTTP=healthz", "[X-Fleetd] HealthHTTP=healthz: not a path" },
                { "HealthHTTP=/a b", "HealthHTTP=/a b:" },
                { "HealthHTTP=/a\tb", "HealthHTTP" },
                { "HealthTCP=maybe", "HealthTCP=maybe: not a boolean" },
                { "HealthHTTP=/\nHealthTCP=1", "give one of them" },
                { "HealthTCP=1\nHealthInterval=soon", "HealthInterval=soon: not a time" },
                { "HealthTCP=1\nHealthInterval=0", "HealthInterval=0" },
                { "HealthTCP=1\nHealthTimeout=2h", "HealthTimeout=2h" },
                { "HealthTCP=1\nHealthThreshold=0", "HealthThreshold=0: not a count between 1 and 100" },
                { "HealthTCP=1\nHealthThreshold=101", "HealthThreshold=101" },
                { "HealthTCP=1\nHealthThreshold=-1", "HealthThreshold=-1" },
                { "HealthTCP=1\nHealthThreshold=3x", "HealthThreshold=3x" },
                { "HealthTCP=1\nHealthThreshold=99999999999999999999999", "HealthThreshold=9999" },
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *text = NULL, *error = NULL;
                HealthSpec s = { .threshold = 42 };

                ASSERT_TRUE(asprintf(&text, "[X-Fleetd]\nPort=80\n%s\n", bad[i].lines) > 0);
                ASSERT_INT(spec_of(text, &s, &error), -EINVAL);
                ASSERT_CONTAINS(error, bad[i].message);
                ASSERT_INT(s.threshold, 42); /* untouched */
        }

        /* a long path is cut short in the message */
        _cleanup_free_ char *text = NULL, *error = NULL;
        HealthSpec s = {};
        char path[HEALTH_PATH_MAX + 2];
        memset(path, 'a', sizeof(path) - 1);
        path[0] = '/';
        path[sizeof(path) - 1] = 0;
        ASSERT_TRUE(asprintf(&text, "[X-Fleetd]\nHealthHTTP=%s\n", path) > 0);
        ASSERT_INT(spec_of(text, &s, &error), -EINVAL);
        ASSERT_TRUE(strlen(error) < 200);
        path[HEALTH_PATH_MAX] = 0;
        free(text);
        ASSERT_TRUE(asprintf(&text, "[X-Fleetd]\nHealthHTTP=%s\n", path) > 0);
        ASSERT_INT(spec_of(text, &s, NULL), 1);
        health_spec_done(&s);
}

/* --- the state machine --- */

/* Feeds results ('p' pass, 'f' fail) and gives the states after each as a string of
 * s/p/f. */
static void tally_run(const char *results, unsigned threshold, char *states) {
        HealthTally t = {};
        for (const char *r = results; *r; r++) {
                t = health_tally_next(t, *r == 'p', threshold);
                *states++ = health_state_to_string(t.state)[0];
        }
        *states = 0;
}

TEST(tally) {
        static const struct {
                const char *results;
                unsigned threshold;
                const char *states;
        } cases[] = {
                /* the first HEALTH_GRACE_CHECKS (3) failures while starting do not count */
                { "fffp", 3, "sssp" },
                { "ffffff", 3, "sssssf" },
                { "fffffp", 3, "sssssp" },
                { "ffff", 1, "sssf" },
                /* once passing, threshold consecutive failures */
                { "pffpfff", 3, "ppppppf" },
                { "pf", 1, "pf" },
                { "pf", 0, "pf" },                /* 0 counts as 1 */
                /* failing until the next pass */
                { "pfffffp", 3, "pppfffp" },
                /* a pass in the grace ends starting; grace does not come back */
                { "fpfff", 3, "spppf" },
                { "pfpfpff", 2, "ppppppf" },
        };
        char states[32];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                tally_run(cases[i].results, cases[i].threshold, states);
                ASSERT_STR(states, cases[i].states);
        }

        HealthTally t = { .state = HEALTH_PASSING, .checks = UINT32_MAX, .failures = 0 };
        t = health_tally_next(t, false, 3);
        ASSERT_TRUE(t.checks == UINT32_MAX);
        ASSERT_INT(t.failures, 1);
        ASSERT_TRUE(health_state_to_string(_HEALTH_STATE_MAX) == NULL);
        ASSERT_TRUE(health_state_to_string(-1) == NULL);
}

/* --- status lines --- */

static int status_of(const char *s, bool complete, int *status) {
        return health_parse_status_line(s, strlen(s), complete, status);
}

TEST(status_line) {
        int status = 0;

        ASSERT_INT(status_of("HTTP/1.1 200 OK\r\n", false, &status), 0);
        ASSERT_INT(status, 200);
        ASSERT_INT(status_of("HTTP/1.0 404\r\n", false, &status), 0);
        ASSERT_INT(status, 404);
        ASSERT_INT(status_of("HTTP/1.0 302 Found", false, &status), 0);
        ASSERT_INT(status, 302);
        ASSERT_INT(status_of("HTTP/1.0 500", true, &status), 0);
        ASSERT_INT(status, 500);
        /* not yet */
        ASSERT_INT(status_of("", false, &status), -EAGAIN);
        ASSERT_INT(status_of("HTTP/1.", false, &status), -EAGAIN);
        ASSERT_INT(status_of("HTTP/1.1 20", false, &status), -EAGAIN);
        ASSERT_INT(status_of("HTTP/1.1 200", false, &status), -EAGAIN);
        /* never */
        ASSERT_INT(status_of("", true, &status), -EBADMSG);
        ASSERT_INT(status_of("HTTP/1.1 20", true, &status), -EBADMSG);
        ASSERT_INT(status_of("SSH-2.0-OpenSSH", false, &status), -EBADMSG);
        ASSERT_INT(status_of("HTTP/1.1 2000 OK", false, &status), -EBADMSG);
        ASSERT_INT(status_of("HTTP/1.1 099 OK", false, &status), -EBADMSG);
        ASSERT_INT(status_of("HTTP/1.1 20x OK", false, &status), -EBADMSG);
        ASSERT_INT(status_of("HTTP/11 200 OK", false, &status), -EBADMSG);
        ASSERT_INT(status_of("http/1.1 200 OK", false, &status), -EBADMSG);
}

/* --- the server, and probes against it --- */

typedef struct Conn {
        int fd;
        sd_event_source *source;
        char buf[1024];
        size_t n;
        struct Conn *next;
} Conn;

static sd_event *event;
static struct {
        int fd;
        uint16_t port;
        sd_event_source *source;
        const char *response;         /* NULL: read the request, never answer */
        char request[1024];           /* the last one read */
        unsigned accepted;
        Conn *conns;
} server = { .fd = -EBADF };

static void conn_close(Conn *c) {
        for (Conn **p = &server.conns; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        sd_event_source_disable_unref(c->source);
        close(c->fd);
        free(c);
}

static int on_conn(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        ssize_t k = read(fd, c->buf + c->n, sizeof(c->buf) - 1 - c->n);

        if (k <= 0) {
                if (k < 0 && errno == EAGAIN)
                        return 0;
                conn_close(c);
                return 0;
        }
        c->n += (size_t) k;
        c->buf[c->n] = 0;
        if (!strstr(c->buf, "\r\n\r\n"))
                return 0;
        snprintf(server.request, sizeof(server.request), "%s", c->buf);
        if (!server.response)
                return sd_event_source_set_enabled(s, SD_EVENT_OFF); /* holds the connection open */
        (void) !write(fd, server.response, strlen(server.response));
        conn_close(c);
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0;
        Conn *c = calloc(1, sizeof(*c));
        if (!c) {
                close(cfd);
                return 0;
        }
        c->fd = cfd;
        c->next = server.conns;
        server.conns = c;
        server.accepted++;
        return sd_event_add_io(event, &c->source, cfd, EPOLLIN, on_conn, c);
}

/* A socket bound to 127.0.0.1:0; listening, or not (then connecting to it is refused). */
static int loopback_socket(bool listening, uint16_t *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || (listening && listen(fd, 16) < 0) ||
            getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                abort();
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

static void server_start(void) {
        server.fd = loopback_socket(true, &server.port);
        if (sd_event_add_io(event, &server.source, server.fd, EPOLLIN, on_accept, NULL) < 0)
                abort();
}

static void server_stop(void) {
        while (server.conns)
                conn_close(server.conns);
        server.source = sd_event_source_disable_unref(server.source);
        close(server.fd);
        server.fd = -EBADF;
}

typedef struct Result {
        bool done;
        int result, status;
        unsigned calls;
} Result;

static void on_probe_done(HealthProbe *p, int result, int status, void *userdata) {
        Result *r = userdata;
        r->done = true;
        r->calls++;
        r->result = result;
        r->status = status;
}

static bool run_until(const bool *flag, usec_t max) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + max;
        while (!*flag && now_usec(CLOCK_MONOTONIC) < deadline)
                if (sd_event_run(event, 10 * USEC_PER_MSEC) < 0)
                        return false;
        return *flag;
}

/* One probe of spec against port; the loop runs until it reports. */
static Result probe(const HealthSpec *spec, uint16_t port) {
        _cleanup_(health_probe_freep) HealthProbe *p = NULL;
        Result r = { .result = 1 };

        if (health_probe_start(event, spec, port, on_probe_done, &r, &p) < 0 || r.done)
                abort(); /* never reports from start */
        run_until(&r.done, 5 * USEC_PER_SEC);
        return r;
}

static const HealthSpec http_root = {
        .kind = HEALTH_KIND_HTTP, .http_path = (char *) "/ready", .interval = 50 * USEC_PER_MSEC,
        .timeout = 300 * USEC_PER_MSEC, .threshold = 2,
};
static const HealthSpec tcp = {
        .kind = HEALTH_KIND_TCP, .interval = 50 * USEC_PER_MSEC, .timeout = 300 * USEC_PER_MSEC, .threshold = 2,
};

TEST(probe_http_pass) {
        server.response = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
        Result r = probe(&http_root, server.port);
        ASSERT_INT(r.calls, 1);
        ASSERT_INT(r.result, 0);
        ASSERT_INT(r.status, 200);
        ASSERT_STR(server.request, "GET /ready HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: fleetd-health\r\n\r\n");

        server.response = "HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n";
        r = probe(&http_root, server.port);
        ASSERT_INT(r.result, 0);
        ASSERT_INT(r.status, 302);
}

TEST(probe_http_fail) {
        server.response = "HTTP/1.1 500 Internal Server Error\r\n\r\n";
        Result r = probe(&http_root, server.port);
        ASSERT_INT(r.result, -EPROTO);
        ASSERT_INT(r.status, 500);

        server.response = "HTTP/1.1 404 Not Found\r\n\r\n";
        r = probe(&http_root, server.port);
        ASSERT_INT(r.result, -EPROTO);
        ASSERT_INT(r.status, 404);

        /* not HTTP; and closed without a word */
        server.response = "220 smtp.example ESMTP\r\n";
        r = probe(&http_root, server.port);
        ASSERT_INT(r.result, -EBADMSG);
        server.response = "";
        r = probe(&http_root, server.port);
        ASSERT_INT(r.result, -EBADMSG);
}

TEST(probe_reads_no_more_than_a_status_line) {
        /* an endless "status line": given up after HEALTH_STATUS_LINE_MAX bytes */
        static char big[8192];
        memset(big, 'x', sizeof(big) - 1);
        memcpy(big, "HTTP/1.1 200 ", 13);
        server.response = big;
        Result r = probe(&http_root, server.port);
        ASSERT_INT(r.result, 0);
        ASSERT_INT(r.status, 200);

        memcpy(big, "HTTP/1.1 xxx ", 13);
        r = probe(&http_root, server.port);
        ASSERT_INT(r.result, -EBADMSG);
}

TEST(probe_refused) {
        uint16_t port;
        int fd = loopback_socket(false, &port);

        Result r = probe(&http_root, port);
        ASSERT_INT(r.calls, 1);
        ASSERT_INT(r.result, -ECONNREFUSED);
        r = probe(&tcp, port);
        ASSERT_INT(r.result, -ECONNREFUSED);
        close(fd);
}

TEST(probe_timeout) {
        server.response = NULL; /* accepts, reads, never answers */
        unsigned before = server.accepted;
        usec_t start = now_usec(CLOCK_MONOTONIC);
        Result r = probe(&http_root, server.port);
        usec_t took = now_usec(CLOCK_MONOTONIC) - start;

        ASSERT_INT(r.calls, 1);
        ASSERT_INT(r.result, -ETIMEDOUT);
        ASSERT_INT(server.accepted, before + 1);
        ASSERT_TRUE(took >= http_root.timeout);
        ASSERT_TRUE(took < http_root.timeout + 500 * USEC_PER_MSEC);
        while (server.conns)
                conn_close(server.conns);
}

TEST(probe_tcp_pass) {
        server.response = NULL;
        Result r = probe(&tcp, server.port);
        ASSERT_INT(r.result, 0);
        ASSERT_INT(r.status, 0);
}

TEST(probe_cancelled) {
        Result r = {};
        HealthProbe *p = NULL;

        server.response = NULL;
        ASSERT_INT(health_probe_start(event, &http_root, server.port, on_probe_done, &r, &p), 0);
        for (int i = 0; i < 5; i++)
                sd_event_run(event, 10 * USEC_PER_MSEC);
        p = health_probe_free(p);
        /* past its timeout: no report from a freed probe */
        for (int i = 0; i < 40; i++)
                sd_event_run(event, 10 * USEC_PER_MSEC);
        ASSERT_INT(r.calls, 0);
        ASSERT_INT(health_probe_start(event, &(HealthSpec) {}, server.port, on_probe_done, &r, &p), -EINVAL);
        ASSERT_INT(health_probe_start(event, &tcp, 0, on_probe_done, &r, &p), -EINVAL);
        while (server.conns)
                conn_close(server.conns);
}

/* --- the checker --- */

typedef struct Changes {
        char states[64];
        size_t n;
        bool want_seen;
        HealthState want;
} Changes;

static void on_changed(HealthChecker *c, HealthState state, void *userdata) {
        Changes *ch = userdata;
        if (ch->n < sizeof(ch->states) - 1)
                ch->states[ch->n++] = health_state_to_string(state)[0];
        if (state == ch->want)
                ch->want_seen = true;
}

static bool wait_for(Changes *ch, HealthState want) {
        ch->want = want;
        ch->want_seen = false;
        return run_until(&ch->want_seen, 5 * USEC_PER_SEC);
}

TEST(checker) {
        _cleanup_(health_checker_freep) HealthChecker *c = NULL;
        Changes ch = {};

        server.response = "HTTP/1.0 204 No Content\r\n\r\n";
        ASSERT_INT(health_checker_new(event, &http_root, server.port, 0, on_changed, &ch, &c), 0);
        ASSERT_INT(health_checker_state(c), HEALTH_STARTING);
        ASSERT_TRUE(wait_for(&ch, HEALTH_PASSING));

        server.response = "HTTP/1.0 503 Service Unavailable\r\n\r\n";
        ASSERT_TRUE(wait_for(&ch, HEALTH_FAILING));
        ASSERT_INT(health_checker_state(c), HEALTH_FAILING);

        server.response = "HTTP/1.0 200 OK\r\n\r\n";
        ASSERT_TRUE(wait_for(&ch, HEALTH_PASSING));
        ch.states[ch.n] = 0;
        ASSERT_STR(ch.states, "pfp");

        /* a silent server: timeouts fail it too */
        server.response = NULL;
        ASSERT_TRUE(wait_for(&ch, HEALTH_FAILING));
        c = health_checker_free(c);
        while (server.conns)
                conn_close(server.conns);
}

TEST(checker_never_up) {
        _cleanup_(health_checker_freep) HealthChecker *c = NULL;
        Changes ch = {};
        uint16_t port;
        int fd = loopback_socket(false, &port);

        /* refused from the start: starting through the grace checks, then failing after threshold more */
        usec_t start = now_usec(CLOCK_MONOTONIC);
        ASSERT_INT(health_checker_new(event, &tcp, port, 0, on_changed, &ch, &c), 0);
        ASSERT_TRUE(wait_for(&ch, HEALTH_FAILING));
        usec_t took = now_usec(CLOCK_MONOTONIC) - start;
        ch.states[ch.n] = 0;
        ASSERT_STR(ch.states, "f");
        /* checks 1..5 fail: 4 intervals after the first, at once */
        ASSERT_TRUE(took >= (HEALTH_GRACE_CHECKS + tcp.threshold - 1) * tcp.interval);
        close(fd);
}

TEST(checker_first_delay) {
        _cleanup_(health_checker_freep) HealthChecker *c = NULL;
        Changes ch = {};

        server.response = "HTTP/1.0 200 OK\r\n\r\n";
        unsigned before = server.accepted;
        ASSERT_INT(health_checker_new(event, &http_root, server.port, 200 * USEC_PER_MSEC, on_changed, &ch, &c), 0);
        for (int i = 0; i < 10; i++)
                sd_event_run(event, 10 * USEC_PER_MSEC);
        ASSERT_INT(server.accepted, before); /* not yet */
        ASSERT_TRUE(wait_for(&ch, HEALTH_PASSING));
        ASSERT_INT(health_checker_new(event, &(HealthSpec) {}, server.port, 0, on_changed, &ch,
                                      &(HealthChecker *) { NULL }), -EINVAL);
}

static void with_server(void (*t)(void)) {
        server_start();
        t();
        server_stop();
}

#define S(name) { #name, with_server_##name }
#define WITH_SERVER(name)                         \
        static void with_server_##name(void) {    \
                with_server(test_##name);         \
        }
WITH_SERVER(probe_http_pass)
WITH_SERVER(probe_http_fail)
WITH_SERVER(probe_reads_no_more_than_a_status_line)
WITH_SERVER(probe_timeout)
WITH_SERVER(probe_tcp_pass)
WITH_SERVER(probe_cancelled)
WITH_SERVER(checker)
WITH_SERVER(checker_first_delay)

int test_failures = 0;

int main(void) {
        static const TestCase cases[] = {
                T(spec_defaults), T(spec_all_keys), T(spec_none), T(spec_bad), T(tally), T(status_line),
                S(probe_http_pass), S(probe_http_fail), S(probe_reads_no_more_than_a_status_line),
                T(probe_refused), S(probe_timeout), S(probe_tcp_pass), S(probe_cancelled), S(checker),
                T(checker_never_up), S(checker_first_delay),
        };
        int r;

        if (sd_event_default(&event) < 0)
                return EXIT_FAILURE;
        r = run_tests(cases, ELEMENTSOF(cases));
        sd_event_unref(event);
        return r;
}
