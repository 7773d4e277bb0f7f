/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl's multi interface on sd-event, one glue per loop (see curl-glue.h): an io source per
 * socket curl tells us about, one timer, and a defer source for transfers that end outside a
 * socket action. */

#include <assert.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "basic/time-util.h"
#include "curl-glue.h"
#include "log.h"

/* sd-event's default accuracy (0) means 250 ms: curl's timeouts must fire when curl asks. */
#define TIMER_ACCURACY USEC_PER_MSEC

#define KEEPALIVE_IDLE_SEC 10L
#define KEEPALIVE_INTERVAL_SEC 5L
#define KEEPALIVE_PROBES 3

typedef struct GlueSocket GlueSocket;
struct GlueSocket {
        CurlGlue *glue;
        sd_event_source *source;
        GlueSocket *next, *prev;
};

/* What the glue keeps for a transfer it runs, at the easy handle's CURLOPT_PRIVATE. */
typedef struct GlueTransfer {
        curl_glue_done_t done;
        void *userdata;
} GlueTransfer;

struct CurlGlue {
        unsigned n_ref;
        sd_event *event;
        CURLM *multi;
        bool curl_initialized;
        sd_event_source *timer;
        sd_event_source *defer;         /* reads finished transfers after an unpause */
        GlueSocket *sockets;
        CurlGlue *next;                 /* in glues */
};

/* The glues of this process, one per loop. */
static CurlGlue *glues;

static void easy_cleanupp(CURL **e) {
        if (*e)
                curl_easy_cleanup(*e);
}

/* ---- sockets and the timer ---- */

static void glue_socket_free(GlueSocket *s) {
        CurlGlue *g;

        if (!s)
                return;
        g = s->glue;
        if (s->next)
                s->next->prev = s->prev;
        if (s->prev)
                s->prev->next = s->next;
        else
                g->sockets = s->next;
        sd_event_source_disable_unref(s->source);
        free(s);
}

static GlueTransfer *transfer_of(CURL *easy) {
        char *p = NULL;

        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p) != CURLE_OK)
                return NULL;
        return (GlueTransfer *) p;
}

static void transfer_remove(CurlGlue *g, CURL *easy, GlueTransfer *t) {
        (void) curl_multi_remove_handle(g->multi, easy);
        (void) curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        free(t);
}

/* Hands every finished transfer to its callback. Callers hold a reference on g: a callback
 * may drop the last one of its owner. */
static void glue_dispatch(CurlGlue *g) {
        CURLMsg *m;
        int left;

        while ((m = curl_multi_info_read(g->multi, &left))) {
                CURL *easy = m->easy_handle;
                CURLcode cc = m->data.result;
                GlueTransfer *t;
                curl_glue_done_t done;
                void *userdata;

                if (m->msg != CURLMSG_DONE || !(t = transfer_of(easy)))
                        continue;
                done = t->done;
                userdata = t->userdata;
                transfer_remove(g, easy, t);
                done(easy, cc, userdata);
        }
}

static void glue_action(CurlGlue *g, curl_socket_t fd, int mask) {
        int running;

        curl_glue_ref(g);
        if (curl_multi_socket_action(g->multi, fd, mask, &running) != CURLM_OK)
                log_debug("curl: curl_multi_socket_action() failed.");
        glue_dispatch(g);
        curl_glue_unref(g);
}

static int on_socket_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        GlueSocket *s = userdata;
        int mask = 0;

        if (revents & (EPOLLIN | EPOLLHUP))
                mask |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                mask |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                mask |= CURL_CSELECT_ERR;
        glue_action(s->glue, fd, mask); /* s may be gone now */
        return 0;
}

static int glue_socket_add(CurlGlue *g, curl_socket_t fd, uint32_t events) {
        _cleanup_free_ GlueSocket *s = calloc(1, sizeof(GlueSocket));
        int k;

        if (!s)
                return -ENOMEM;
        s->glue = g;
        k = sd_event_add_io(g->event, &s->source, fd, events, on_socket_io, s);
        if (k < 0)
                return k;
        if (curl_multi_assign(g->multi, fd, s) != CURLM_OK) {
                sd_event_source_unref(s->source);
                return -EIO;
        }
        (void) sd_event_source_set_description(s->source, "curl-socket");
        s->next = g->sockets;
        if (g->sockets)
                g->sockets->prev = s;
        g->sockets = TAKE_PTR(s);
        return 0;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        CurlGlue *g = userp;
        GlueSocket *s = socketp;
        uint32_t events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);

        if (what == CURL_POLL_REMOVE) {
                glue_socket_free(s);
                return 0;
        }
        if (s)
                return sd_event_source_set_io_events(s->source, events) < 0 ? -1 : 0;
        return glue_socket_add(g, fd, events) < 0 ? -1 : 0;
}

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        glue_action(userdata, CURL_SOCKET_TIMEOUT, 0);
        return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
        CurlGlue *g = userp;

        if (timeout_ms < 0)
                return sd_event_source_set_enabled(g->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
        if (sd_event_source_set_time(g->timer, now_usec(CLOCK_MONOTONIC) + (usec_t) timeout_ms * USEC_PER_MSEC) < 0 ||
            sd_event_source_set_enabled(g->timer, SD_EVENT_ONESHOT) < 0)
                return -1;
        return 0;
}

static int on_defer(sd_event_source *source, void *userdata) {
        CurlGlue *g = userdata;

        curl_glue_ref(g);
        glue_dispatch(g);
        curl_glue_unref(g);
        return 0;
}

/* ---- the glue ---- */

/* curl 7.x makes the multi handle's wakeup socketpair without SOCK_CLOEXEC. Those are the
 * lowest free fds when curl_multi_init() runs: mark what opened in a window above the lowest. */
static CURLM *multi_new_cloexec(int any_fd) {
        int base = fcntl(any_fd, F_DUPFD_CLOEXEC, 3);
        uint64_t was_open = 0;
        CURLM *m;

        if (base >= 0)
                close(base);
        for (int i = 0; base >= 0 && i < 64; i++)
                if (fcntl(base + i, F_GETFD) >= 0)
                        was_open |= UINT64_C(1) << i;
        m = curl_multi_init();
        for (int i = 0; base >= 0 && i < 64; i++) {
                int flags = fcntl(base + i, F_GETFD);
                if (!(was_open & (UINT64_C(1) << i)) && flags >= 0 && !(flags & FD_CLOEXEC))
                        (void) fcntl(base + i, F_SETFD, flags | FD_CLOEXEC);
        }
        return m;
}

static int glue_setup(CurlGlue *g) {
        int k;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -EIO;
        g->curl_initialized = true;
        g->multi = multi_new_cloexec(sd_event_get_fd(g->event));
        if (!g->multi)
                return -ENOMEM;
        if (curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g) != CURLM_OK)
                return -EIO;
        k = sd_event_add_time(g->event, &g->timer, CLOCK_MONOTONIC, 0, TIMER_ACCURACY, on_timer, g);
        if (k < 0)
                return k;
        (void) sd_event_source_set_description(g->timer, "curl-timer");
        k = sd_event_source_set_enabled(g->timer, SD_EVENT_OFF);
        if (k < 0)
                return k;
        k = sd_event_add_defer(g->event, &g->defer, on_defer, g);
        if (k < 0)
                return k;
        (void) sd_event_source_set_description(g->defer, "curl-done");
        return sd_event_source_set_enabled(g->defer, SD_EVENT_OFF);
}

static void glue_destroy(CurlGlue *g) {
        for (CurlGlue **i = &glues; *i; i = &(*i)->next)
                if (*i == g) {
                        *i = g->next;
                        break;
                }
        if (g->multi)
                curl_multi_cleanup(g->multi);
        while (g->sockets)
                glue_socket_free(g->sockets);
        sd_event_source_disable_unref(g->timer);
        sd_event_source_disable_unref(g->defer);
        sd_event_unref(g->event);
        if (g->curl_initialized)
                curl_global_cleanup();
        free(g);
}

CurlGlue *curl_glue_ref(CurlGlue *g) {
        if (g)
                g->n_ref++;
        return g;
}

CurlGlue *curl_glue_unref(CurlGlue *g) {
        if (g && --g->n_ref == 0)
                glue_destroy(g);
        return NULL;
}

int curl_glue_get(sd_event *e, CurlGlue **ret) {
        _cleanup_(curl_glue_unrefp) CurlGlue *g = NULL;
        int k;

        assert(e);
        assert(ret);
        for (CurlGlue *i = glues; i; i = i->next)
                if (i->event == e) {
                        *ret = curl_glue_ref(i);
                        return 0;
                }
        g = calloc(1, sizeof(CurlGlue));
        if (!g)
                return -ENOMEM;
        g->n_ref = 1;
        g->event = sd_event_ref(e);
        k = glue_setup(g);
        if (k < 0)
                return k;
        g->next = glues;
        glues = g;
        *ret = TAKE_PTR(g);
        return 0;
}

/* ---- transfers ---- */

/* curl does not ask for SOCK_CLOEXEC itself. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
        return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static int on_socket_options(void *clientp, curl_socket_t fd, curlsocktype purpose) {
        int probes = KEEPALIVE_PROBES;

        (void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
        return CURL_SOCKOPT_OK;
}

static int easy_setup(CURL *e) {
        CURL_SETOPT_OR_RETURN(e, CURLOPT_NOSIGNAL, 1L);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_PROXY, ""); /* no proxy from the environment */
        CURL_SETOPT_OR_RETURN(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_SOCKOPTFUNCTION, on_socket_options);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_TCP_KEEPALIVE, 1L);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_TCP_KEEPIDLE, KEEPALIVE_IDLE_SEC);
        CURL_SETOPT_OR_RETURN(e, CURLOPT_TCP_KEEPINTVL, KEEPALIVE_INTERVAL_SEC);
        return 0;
}

int curl_glue_make(CURL **ret) {
        _cleanup_(easy_cleanupp) CURL *e = NULL;
        int k;

        assert(ret);
        e = curl_easy_init();
        if (!e)
                return -ENOMEM;
        k = easy_setup(e);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(e);
        return 0;
}

int curl_glue_add(CurlGlue *g, CURL *easy, curl_glue_done_t done, void *userdata) {
        GlueTransfer *t;

        assert(g);
        assert(easy);
        assert(done);
        assert(!transfer_of(easy));
        t = malloc(sizeof(GlueTransfer));
        if (!t)
                return -ENOMEM;
        *t = (GlueTransfer) { .done = done, .userdata = userdata };
        if (curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *) t) != CURLE_OK) {
                free(t);
                return -EIO;
        }
        if (curl_multi_add_handle(g->multi, easy) != CURLM_OK) {
                (void) curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
                free(t);
                return -EIO;
        }
        return 0;
}

CURL *curl_glue_remove_and_free(CurlGlue *g, CURL *easy) {
        GlueTransfer *t;

        if (!easy)
                return NULL;
        t = transfer_of(easy);
        if (t) {
                assert(g);
                transfer_remove(g, easy, t);
        }
        curl_easy_cleanup(easy);
        return NULL;
}

int curl_glue_unpause(CurlGlue *g, CURL *easy) {
        int k;

        assert(g);
        assert(easy);
        /* The transfer may end in there, with nobody reading curl's messages: the defer
         * source does, from the loop. */
        k = sd_event_source_set_enabled(g->defer, SD_EVENT_ONESHOT);
        if (curl_easy_pause(easy, CURLPAUSE_CONT) != CURLE_OK)
                return -EIO;
        return k;
}
