/* SPDX-License-Identifier: Apache-2.0 */
/* curl-glue on one sd-event loop against a tiny HTTP server on the same loop (loopback): one
 * glue per loop, transfers that end, fail, are removed, free each other from their callbacks,
 * and pause. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "basic/time-util.h"
#include "curl-glue.h"
#include "../tests.h"

static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";

typedef struct Server {
        int fd;
        uint16_t port;
        sd_event_source *source;
        unsigned served;
} Server;

typedef struct Connection {
        sd_event_source *source;
        char buf[4096];
        size_t n;
} Connection;

/* Reads the request up to its blank line, then answers and hangs up. */
static int on_connection(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Connection *c = userdata;
        ssize_t k = read(fd, c->buf + c->n, sizeof(c->buf) - 1 - c->n);

        if (k > 0) {
                c->n += (size_t) k;
                c->buf[c->n] = 0;
                if (!strstr(c->buf, "\r\n\r\n"))
                        return 0;
                (void) !write(fd, answer, strlen(answer));
        }
        sd_event_source_disable_unref(c->source);
        close(fd);
        free(c);
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Server *server = userdata;
        int conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        Connection *c = calloc(1, sizeof(Connection));

        if (conn < 0 || !c ||
            sd_event_add_io(sd_event_source_get_event(s), &c->source, conn, EPOLLIN, on_connection, c) < 0) {
                if (conn >= 0)
                        close(conn);
                free(c);
                return 0;
        }
        server->served++;
        return 0;
}

static int server_start(sd_event *e, Server *ret) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
            getsockname(fd, (struct sockaddr *) &a, &len) < 0)
                return -errno;
        *ret = (Server) { .fd = fd, .port = ntohs(a.sin_port) };
        return sd_event_add_io(e, &ret->source, fd, EPOLLIN, on_accept, ret);
}

static void server_stop(Server *s) {
        s->source = sd_event_source_disable_unref(s->source);
        if (s->fd >= 0)
                close(s->fd);
        s->fd = -1;
}

/* A port nothing listens on: bound, then closed again. */
static uint16_t dead_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        uint16_t port = 0;

        if (fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof(a)) >= 0 &&
            getsockname(fd, (struct sockaddr *) &a, &len) >= 0)
                port = ntohs(a.sin_port);
        if (fd >= 0)
                close(fd);
        return port;
}

/* One transfer under test and what its callbacks saw. */
typedef struct Probe {
        CurlGlue *glue;
        CURL *easy;
        char body[64];
        size_t n_body;
        bool pause_once;              /* the first write pauses */
        bool paused;
        unsigned done;
        CURLcode result;
        long status;
        struct Probe *victim;         /* freed by this probe's done callback */
        bool drop_glue;               /* the done callback drops the glue reference too */
} Probe;

static size_t on_write(char *p, size_t size, size_t n, void *userdata) {
        Probe *pr = userdata;

        if (pr->pause_once && !pr->paused) {
                pr->paused = true;
                return CURL_WRITEFUNC_PAUSE;
        }
        n *= size;
        if (n > sizeof(pr->body) - 1 - pr->n_body)
                return 0;
        memcpy(pr->body + pr->n_body, p, n);
        pr->n_body += n;
        return n;
}

static void on_done(CURL *easy, CURLcode result, void *userdata) {
        Probe *pr = userdata;

        pr->done++;
        pr->result = result;
        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &pr->status);
        if (pr->victim)
                pr->victim->easy = curl_glue_remove_and_free(pr->glue, pr->victim->easy);
        pr->easy = curl_glue_remove_and_free(pr->glue, easy);
        if (pr->drop_glue)
                pr->glue = curl_glue_unref(pr->glue);
}

static int probe_start(Probe *pr, CurlGlue *g, uint16_t port) {
        char url[64];
        int k;

        snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
        pr->glue = g;
        k = curl_glue_make(&pr->easy);
        if (k < 0)
                return k;
        if (curl_easy_setopt(pr->easy, CURLOPT_URL, url) != CURLE_OK ||
            curl_easy_setopt(pr->easy, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK ||
            curl_easy_setopt(pr->easy, CURLOPT_WRITEDATA, pr) != CURLE_OK ||
            curl_easy_setopt(pr->easy, CURLOPT_TIMEOUT_MS, 5000L) != CURLE_OK)
                return -EIO;
        return curl_glue_add(g, pr->easy, on_done, pr);
}

/* Runs the loop until *done reaches want, or 5 s passed. */
static void run_until(sd_event *e, const unsigned *done, unsigned want) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;

        while (*done < want && now_usec(CLOCK_MONOTONIC) < end)
                (void) sd_event_run(e, 100 * USEC_PER_MSEC);
}

/* Runs the loop for a while, whatever happens. */
static void run_for(sd_event *e, usec_t how_long) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + how_long;

        while (now_usec(CLOCK_MONOTONIC) < end)
                (void) sd_event_run(e, 10 * USEC_PER_MSEC);
}

TEST(one_glue_per_loop) {
        sd_event *e = NULL, *f = NULL;
        CurlGlue *a = NULL, *b = NULL, *c = NULL;

        ASSERT_INT(sd_event_new(&e), 0);
        ASSERT_INT(sd_event_new(&f), 0);
        ASSERT_INT(curl_glue_get(e, &a), 0);
        ASSERT_INT(curl_glue_get(e, &b), 0);
        ASSERT_INT(curl_glue_get(f, &c), 0);
        ASSERT_TRUE(a == b);
        ASSERT_TRUE(a != c);
        curl_glue_unref(a);
        curl_glue_unref(b);
        curl_glue_unref(c);
        /* gone with its last reference: the next one is new, and works */
        ASSERT_INT(curl_glue_get(e, &a), 0);
        curl_glue_unref(a);
        sd_event_unref(e);
        sd_event_unref(f);
}

TEST(transfers_share_the_glue) {
        sd_event *e = NULL;
        Server s = { .fd = -1 };
        Probe p[3] = {};
        unsigned done = 0;

        ASSERT_INT(sd_event_new(&e), 0);
        ASSERT_INT(server_start(e, &s), 0);
        for (size_t i = 0; i < ELEMENTSOF(p); i++) {
                CurlGlue *g = NULL;
                ASSERT_INT(curl_glue_get(e, &g), 0);
                ASSERT_INT(probe_start(&p[i], g, s.port), 0);
                p[i].drop_glue = true;
        }
        for (usec_t end = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC; now_usec(CLOCK_MONOTONIC) < end;) {
                done = p[0].done + p[1].done + p[2].done;
                if (done == ELEMENTSOF(p))
                        break;
                (void) sd_event_run(e, 100 * USEC_PER_MSEC);
        }
        ASSERT_INT(done, ELEMENTSOF(p));
        ASSERT_INT(s.served, ELEMENTSOF(p));
        for (size_t i = 0; i < ELEMENTSOF(p); i++) {
                ASSERT_INT(p[i].result, CURLE_OK);
                ASSERT_INT(p[i].status, 200);
                ASSERT_STR(p[i].body, "hello");
                ASSERT_TRUE(!p[i].glue && !p[i].easy);
        }
        server_stop(&s);
        sd_event_unref(e);
}

TEST(refused) {
        sd_event *e = NULL;
        CurlGlue *g = NULL;
        Probe p = {};

        ASSERT_INT(sd_event_new(&e), 0);
        ASSERT_INT(curl_glue_get(e, &g), 0);
        ASSERT_INT(probe_start(&p, g, dead_port()), 0);
        run_until(e, &p.done, 1);
        ASSERT_INT(p.done, 1);
        ASSERT_INT(p.result, CURLE_COULDNT_CONNECT);
        curl_glue_unref(g);
        sd_event_unref(e);
}

/* A callback frees another running transfer and drops the last reference to the glue: the
 * other's callback never comes, and nothing is touched afterwards. */
TEST(callback_frees_the_rest) {
        sd_event *e = NULL;
        CurlGlue *g = NULL;
        Server s = { .fd = -1 };
        Probe first = {}, second = {};

        ASSERT_INT(sd_event_new(&e), 0);
        ASSERT_INT(server_start(e, &s), 0);
        ASSERT_INT(curl_glue_get(e, &g), 0);
        ASSERT_INT(probe_start(&first, g, s.port), 0);
        ASSERT_INT(probe_start(&second, g, s.port), 0);
        first.victim = &second;
        second.victim = &first;
        first.drop_glue = second.drop_glue = true;  /* g's one reference: whoever ends first drops it */

        run_until(e, &first.done, 1);
        ASSERT_INT(first.done + second.done, 1);
        run_for(e, 200 * USEC_PER_MSEC);
        ASSERT_INT(first.done + second.done, 1);
        ASSERT_TRUE(!first.easy && !second.easy);
        server_stop(&s);
        sd_event_unref(e);
}

TEST(removed_before_it_ran) {
        sd_event *e = NULL;
        CurlGlue *g = NULL;
        Server s = { .fd = -1 };
        Probe p = {};

        ASSERT_INT(sd_event_new(&e), 0);
        ASSERT_INT(server_start(e, &s), 0);
        ASSERT_INT(curl_glue_get(e, &g), 0);
        ASSERT_INT(probe_start(&p, g, s.port), 0);
        p.easy = curl_glue_remove_and_free(g, p.easy);
        run_for(e, 200 * USEC_PER_MSEC);
        ASSERT_INT(p.done, 0);
        ASSERT_TRUE(curl_glue_remove_and_free(g, NULL) == NULL);
        curl_glue_unref(g);
        server_stop(&s);
        sd_event_unref(e);
}

static int on_unpause(sd_event_source *s, uint64_t usec, void *userdata) {
        Probe *pr = userdata;

        (void) curl_glue_unpause(pr->glue, pr->easy);
        return 0;
}

TEST(pause_and_unpause) {
        sd_event *e = NULL;
        sd_event_source *timer = NULL;
        CurlGlue *g = NULL;
        Server s = { .fd = -1 };
        Probe p = { .pause_once = true, .drop_glue = true };

        ASSERT_INT(sd_event_new(&e), 0);
        ASSERT_INT(server_start(e, &s), 0);
        ASSERT_INT(curl_glue_get(e, &g), 0);
        ASSERT_INT(probe_start(&p, g, s.port), 0);
        for (usec_t end = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC; !p.paused && now_usec(CLOCK_MONOTONIC) < end;)
                (void) sd_event_run(e, 100 * USEC_PER_MSEC);
        ASSERT_TRUE(p.paused);
        run_for(e, 100 * USEC_PER_MSEC);
        ASSERT_INT(p.done, 0);  /* held while paused */
        ASSERT_INT(sd_event_add_time_relative(e, &timer, CLOCK_MONOTONIC, 10 * USEC_PER_MSEC, USEC_PER_MSEC,
                                              on_unpause, &p),
                   0);
        run_until(e, &p.done, 1);
        ASSERT_INT(p.done, 1);
        ASSERT_INT(p.result, CURLE_OK);
        ASSERT_STR(p.body, "hello");
        sd_event_source_unref(timer);
        server_stop(&s);
        sd_event_unref(e);
}

TEST_MAIN(T(one_glue_per_loop), T(transfers_share_the_glue), T(refused), T(callback_frees_the_rest),
          T(removed_before_it_ran), T(pause_and_unpause))
