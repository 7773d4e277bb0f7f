/* SPDX-License-Identifier: Apache-2.0 */
/* GET /metrics on a loopback address (metrics-http.h). */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "basic/error-util.h"
#include "basic/host-port.h"
#include "basic/time-util.h"
#include "metrics-http.h"
#include "metrics.h"

#define CONNECTIONS_MAX 16u
#define CONNECTION_TIMEOUT_SEC 10u

#if MHD_VERSION >= 0x00097707
#define MHD_FLAGS (MHD_USE_EPOLL | MHD_USE_NO_THREAD_SAFETY)
#else
#define MHD_FLAGS (MHD_USE_EPOLL)
#endif

struct MetricsHttp {
        sd_event *event;
        struct MHD_Daemon *daemon;
        sd_event_source *io, *timer;
        unsigned port;
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type, char *text) {
        struct MHD_Response *resp;
        enum MHD_Result r;

        if (!text)
                return MHD_NO;
        resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(text);
                return MHD_NO;
        }
        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
            (status == 405 && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)) {
                MHD_destroy_response(resp);
                return MHD_NO;
        }
        r = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        char *text = NULL;

        if (!*con_cls) {
                *con_cls = (void *) 1;        /* the headers are in; answer when the body is */
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                *upload_data_size = 0;        /* a body is read and ignored */
                return MHD_YES;
        }
        if (!streq(url, "/metrics"))
                return answer(c, 404, "text/plain", strdup("Only /metrics is served here.\n"));
        if (!streq(method, "GET") && !streq(method, "HEAD"))
                return answer(c, 405, "text/plain", strdup("Only GET and HEAD.\n"));
        metrics_collect(NULL);
        if (metrics_render(NULL, &text) < 0)
                return MHD_NO;
        return answer(c, 200, METRICS_CONTENT_TYPE, text);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        /* MHD's complaints about clients are not ours to log. */
}

static int arm(MetricsHttp *h) {
        MHD_UNSIGNED_LONG_LONG ms;
        uint64_t now;
        int r;

        if (MHD_get_timeout(h->daemon, &ms) != MHD_YES)
                return sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
        r = sd_event_now(h->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        r = sd_event_source_set_time(h->timer, now + MIN(ms, (MHD_UNSIGNED_LONG_LONG) 3600000) * USEC_PER_MSEC);
        return r < 0 ? r : sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT);
}

static int run(MetricsHttp *h) {
        (void) MHD_run(h->daemon);
        (void) arm(h);
        return 0;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        return run(userdata);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        return run(userdata);
}

static bool is_loopback(const struct sockaddr *sa) {
        if (sa->sa_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr) >> 24) == 127;
        if (sa->sa_family == AF_INET6)
                return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *) sa)->sin6_addr);
        return false;
}

/* Binds the first address listen resolves to, if every one is loopback. */
static int bind_loopback(const char *listen_address, int *ret_fd, unsigned *ret_port, char **ret_error) {
        _cleanup_free_ char *host = NULL;
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
        struct addrinfo *ai = NULL;
        char port_text[8];
        uint16_t port;
        int r;

        r = parse_host_port(listen_address, &host, &port);
        if (r < 0)
                return error_set(ret_error, r, "metrics_listen=%s: expected host:port", listen_address);
        snprintf(port_text, sizeof(port_text), "%u", port);
        if (getaddrinfo(host, port_text, &hints, &ai) != 0 || !ai)
                return error_set(ret_error, -EADDRNOTAVAIL, "metrics_listen=%s: cannot resolve %s", listen_address, host);
        for (struct addrinfo *a = ai; a; a = a->ai_next)
                if (!is_loopback(a->ai_addr)) {
                        freeaddrinfo(ai);
                        return error_set(ret_error, -EADDRNOTAVAIL,
                                         "metrics_listen=%s: not a loopback address (plain HTTP is served on "
                                         "127.0.0.0/8 and ::1 only)", listen_address);
                }
        _cleanup_close_ int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int one = 1;
        struct sockaddr_storage bound;
        socklen_t len = sizeof(bound);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0 ||
            getsockname(fd, (struct sockaddr *) &bound, &len) < 0) {
                r = -errno;
                freeaddrinfo(ai);
                return error_set(ret_error, r, "metrics_listen=%s: %s", listen_address, strerror(-r));
        }
        freeaddrinfo(ai);
        *ret_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &bound)->sin6_port
                                                     : ((struct sockaddr_in *) &bound)->sin_port);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int metrics_http_new(sd_event *e, const char *listen_address, MetricsHttp **ret, char **ret_error) {
        _cleanup_(metrics_http_freep) MetricsHttp *h = calloc(1, sizeof(*h));
        const union MHD_DaemonInfo *info;
        int fd = -EBADF, r;

        if (!h)
                return -ENOMEM;
        h->event = sd_event_ref(e);
        r = bind_loopback(listen_address, &fd, &h->port, ret_error);
        if (r < 0)
                return r;
        h->daemon = MHD_start_daemon(MHD_FLAGS, 0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket) fd,
                                     MHD_OPTION_CONNECTION_LIMIT, CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
                                     CONNECTION_TIMEOUT_SEC, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                                     MHD_OPTION_END);
        if (!h->daemon) {
                close(fd);
                return error_set(ret_error, -EIO, "metrics_listen=%s: libmicrohttpd did not start", listen_address);
        }
        info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return -EIO;
        r = sd_event_add_io(e, &h->io, info->epoll_fd, EPOLLIN, on_io, h);
        if (r < 0)
                return r;
        r = sd_event_add_time(e, &h->timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_timer, h);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(h->io, "metrics-http-io");
        (void) sd_event_source_set_description(h->timer, "metrics-http-timer");
        *ret = TAKE_PTR(h);
        return 0;
}

MetricsHttp *metrics_http_free(MetricsHttp *h) {
        if (!h)
                return NULL;
        sd_event_source_disable_unref(h->io);
        sd_event_source_disable_unref(h->timer);
        if (h->daemon)
                MHD_stop_daemon(h->daemon);
        sd_event_unref(h->event);
        free(h);
        return NULL;
}

unsigned metrics_http_port(const MetricsHttp *h) {
        return h->port;
}
