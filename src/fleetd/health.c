/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "basic/error-util.h"
#include "health.h"
#include "metrics.h"

static MetricFamily m_checks = METRIC_COUNTER("health_checks_total", "Health checks of units by kind and result.",
                                              "kind", "result");

#define REQUEST_FORMAT "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: fleetd-health\r\n\r\n"
/* How late a timer may fire, so that sd-event can wake once for several. */
#define STARTING_BACKOFF_MIN (100 * USEC_PER_MSEC)
#define INTERVAL_ACCURACY (10 * USEC_PER_MSEC)
#define TIMEOUT_ACCURACY  (1 * USEC_PER_MSEC)

/* --- the spec --- */

void health_spec_done(HealthSpec *s) {
        free(s->http_path);
        *s = (HealthSpec) {};
}

int health_spec_copy(const HealthSpec *src, HealthSpec *ret) {
        HealthSpec s = *src;

        if (src->http_path && !(s.http_path = strdup(src->http_path)))
                return -ENOMEM;
        *ret = s;
        return 0;
}

bool health_spec_equal(const HealthSpec *a, const HealthSpec *b) {
        return a->kind == b->kind && streq_ptr(a->http_path, b->http_path) && a->interval == b->interval &&
               a->timeout == b->timeout && a->threshold == b->threshold;
}

static int spec_error(char **ret_error, const char *key, const char *value, const char *why) {
        if (ret_error)
                free(*ret_error);
        return error_set(ret_error, -EINVAL, "[" FLEETD_SECTION "] %s=%.64s%s: %s", key, value,
                         strlen(value) > 64 ? "..." : "", why);
}

/* systemd's booleans: 1/yes/y/true/t/on and 0/no/n/false/f/off, any case. */
static int parse_bool(const char *s) {
        static const char * const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char * const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

static bool path_is_valid(const char *p) {
        if (p[0] != '/' || strlen(p) > HEALTH_PATH_MAX)
                return false;
        for (; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

static int parse_time(const UnitFile *uf, const char *key, usec_t fallback, usec_t *ret, char **ret_error) {
        const char *v = unit_file_get(uf, FLEETD_SECTION, key);
        usec_t u;

        if (isempty(v)) {
                *ret = fallback;
                return 0;
        }
        if (parse_duration(v, &u) < 0 || u == 0 || u > HEALTH_USEC_MAX)
                return spec_error(ret_error, key, v, "not a time between 1us and 1h");
        *ret = MAX(u, HEALTH_USEC_MIN);
        return 0;
}

static int parse_threshold(const UnitFile *uf, unsigned *ret, char **ret_error) {
        const char *v = unit_file_get(uf, FLEETD_SECTION, "HealthThreshold");
        unsigned n = 0;

        if (isempty(v)) {
                *ret = HEALTH_THRESHOLD_DEFAULT_COUNT;
                return 0;
        }
        for (const char *p = v; *p && n <= HEALTH_THRESHOLD_MAX_COUNT; p++) {
                if (!isdigit((unsigned char) *p))
                        return spec_error(ret_error, "HealthThreshold", v, "not a count between 1 and 100");
                n = n * 10 + (unsigned) (*p - '0');
        }
        if (n == 0 || n > HEALTH_THRESHOLD_MAX_COUNT)
                return spec_error(ret_error, "HealthThreshold", v, "not a count between 1 and 100");
        *ret = n;
        return 0;
}

static int parse_kind(const UnitFile *uf, HealthKind *ret, char **ret_error) {
        const char *http = unit_file_get(uf, FLEETD_SECTION, "HealthHTTP");
        const char *tcp = unit_file_get(uf, FLEETD_SECTION, "HealthTCP");
        int t = 0;

        if (!isempty(tcp) && (t = parse_bool(tcp)) < 0)
                return spec_error(ret_error, "HealthTCP", tcp, "not a boolean");
        if (!isempty(http) && !path_is_valid(http))
                return spec_error(ret_error, "HealthHTTP", http,
                                  "not a path that starts with '/' and has no blanks or control characters");
        if (!isempty(http) && t > 0)
                return spec_error(ret_error, "HealthTCP", tcp, "HealthHTTP= is set too; give one of them");
        *ret = !isempty(http) ? HEALTH_KIND_HTTP : t > 0 ? HEALTH_KIND_TCP : HEALTH_KIND_NONE;
        return 0;
}

int health_spec_from_unit_file(const UnitFile *uf, HealthSpec *ret, char **ret_error) {
        HealthSpec s = {};
        int r;

        if ((r = parse_kind(uf, &s.kind, ret_error)) < 0)
                return r;
        if (s.kind == HEALTH_KIND_NONE) {
                *ret = s;
                return 0;
        }
        if ((r = parse_time(uf, "HealthInterval", HEALTH_INTERVAL_DEFAULT_USEC, &s.interval, ret_error)) < 0 ||
            (r = parse_time(uf, "HealthTimeout", HEALTH_TIMEOUT_DEFAULT_USEC, &s.timeout, ret_error)) < 0 ||
            (r = parse_threshold(uf, &s.threshold, ret_error)) < 0)
                return r;
        if (s.kind == HEALTH_KIND_HTTP && !(s.http_path = strdup(unit_file_get(uf, FLEETD_SECTION, "HealthHTTP"))))
                return -ENOMEM;
        *ret = s;
        return 1;
}

/* --- the state machine --- */

HealthTally health_tally_next(HealthTally t, bool passed, unsigned threshold) {
        if (threshold == 0)
                threshold = 1;
        if (t.checks < UINT_MAX)
                t.checks++;
        if (passed) {
                t.state = HEALTH_PASSING;
                t.failures = 0;
                return t;
        }
        if (t.state == HEALTH_STARTING && t.checks <= HEALTH_GRACE_CHECKS)
                return t;     /* still coming up: does not count */
        if (t.failures < UINT_MAX)
                t.failures++;
        if (t.failures >= threshold)
                t.state = HEALTH_FAILING;
        return t;
}

int health_parse_status_line(const char *buf, size_t n, bool complete, int *ret_status) {
        /* "HTTP/" D "." D " " DDD, then the end, a blank or the line end. */
        static const char pattern[] = "HTTP/9.9 999";
        size_t len = sizeof(pattern) - 1;

        for (size_t i = 0; i < n && i < len; i++) {
                bool ok = pattern[i] == '9' ? isdigit((unsigned char) buf[i]) : buf[i] == pattern[i];
                if (!ok || (i == 9 && buf[i] == '0'))
                        return -EBADMSG;
        }
        if (n < len)
                return complete ? -EBADMSG : -EAGAIN;
        if (n > len && !strchr(" \r\n", buf[len]))
                return -EBADMSG;
        if (n == len && !complete)
                return -EAGAIN;       /* "HTTP/1.1 2000" is no status line */
        *ret_status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
        return 0;
}

/* --- one check --- */

struct HealthProbe {
        int fd;
        sd_event_source *io, *timer, *defer;
        HealthKind kind;
        char *request;
        size_t request_len, sent;
        char buf[HEALTH_STATUS_LINE_MAX];
        size_t n;
        int error;                    /* connect() failed at once: reported from the defer source */
        bool connected;
        health_probe_done_t done;
        void *userdata;
};

static void probe_release(HealthProbe *p) {
        p->io = sd_event_source_disable_unref(p->io);
        p->timer = sd_event_source_disable_unref(p->timer);
        p->defer = sd_event_source_disable_unref(p->defer);
        if (p->fd >= 0)
                close(p->fd);
        p->fd = -EBADF;
}

HealthProbe *health_probe_free(HealthProbe *p) {
        if (!p)
                return NULL;
        probe_release(p);
        free(p->request);
        free(p);
        return NULL;
}

/* The last thing a probe does: done may free it. */
static int probe_finish(HealthProbe *p, int result, int status) {
        probe_release(p);
        p->done(p, result, status, p->userdata);
        return 0;
}

static int probe_connected(HealthProbe *p, uint32_t revents) {
        int error = 0;
        socklen_t len = sizeof(error);

        if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
                error = errno;
        if (error != 0)
                return probe_finish(p, -error, 0);
        if (!(revents & EPOLLOUT))
                /* A hang-up without an error would be reported again and again: a failure. */
                return revents & (EPOLLHUP | EPOLLERR) ? probe_finish(p, -ECONNRESET, 0) : 0;
        p->connected = true;
        if (p->kind == HEALTH_KIND_TCP)
                return probe_finish(p, 0, 0);
        return 1;
}

static int probe_send(HealthProbe *p) {
        ssize_t k = send(p->fd, p->request + p->sent, p->request_len - p->sent, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (k < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : probe_finish(p, -errno, 0);
        p->sent += (size_t) k;
        if (p->sent == p->request_len)
                return sd_event_source_set_io_events(p->io, EPOLLIN) < 0 ? probe_finish(p, -EIO, 0) : 0;
        return 0;
}

static int probe_receive(HealthProbe *p) {
        ssize_t k = recv(p->fd, p->buf + p->n, sizeof(p->buf) - p->n, MSG_DONTWAIT);
        int status = 0, r;

        if (k < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : probe_finish(p, -errno, 0);
        p->n += (size_t) k;
        r = health_parse_status_line(p->buf, p->n, k == 0 || p->n == sizeof(p->buf), &status);
        if (r == -EAGAIN)
                return 0;
        if (r < 0)
                return probe_finish(p, r, 0);
        return probe_finish(p, status >= 200 && status < 400 ? 0 : -EPROTO, status);
}

static int on_probe_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HealthProbe *p = userdata;

        if (!p->connected) {
                int r = probe_connected(p, revents);
                if (r <= 0)
                        return 0;
        }
        if (p->sent < p->request_len)
                return probe_send(p);
        return probe_receive(p);
}

static int on_probe_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        return probe_finish(userdata, -ETIMEDOUT, 0);
}

static int on_probe_defer(sd_event_source *s, void *userdata) {
        HealthProbe *p = userdata;
        return probe_finish(p, p->error, 0);
}

static int probe_connect(sd_event *e, HealthProbe *p, uint16_t port) {
        struct sockaddr_in sa = {
                .sin_family = AF_INET,
                .sin_port = htons(port),
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
        };

        p->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (p->fd < 0)
                return -errno;
        if (connect(p->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
                /* Loopback may refuse at once; report it from the loop like any other result. */
                p->error = -errno;
                int r = sd_event_add_defer(e, &p->defer, on_probe_defer, p);
                return r < 0 ? r : sd_event_source_set_enabled(p->defer, SD_EVENT_ONESHOT);
        }
        return sd_event_add_io(e, &p->io, p->fd, EPOLLOUT, on_probe_io, p);
}

int health_probe_start(sd_event *e, const HealthSpec *spec, uint16_t port, health_probe_done_t done,
                       void *userdata, HealthProbe **ret) {
        _cleanup_(health_probe_freep) HealthProbe *p = NULL;
        int r;

        if (spec->kind == HEALTH_KIND_NONE || (spec->kind == HEALTH_KIND_HTTP && !spec->http_path) || port == 0)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->fd = -EBADF;
        p->kind = spec->kind;
        p->done = done;
        p->userdata = userdata;
        if (spec->kind == HEALTH_KIND_HTTP) {
                r = asprintf(&p->request, REQUEST_FORMAT, spec->http_path);
                if (r < 0)
                        return -ENOMEM;
                p->request_len = (size_t) r;
        }
        r = sd_event_add_time_relative(e, &p->timer, CLOCK_MONOTONIC, spec->timeout, TIMEOUT_ACCURACY,
                                       on_probe_timeout, p);
        if (r < 0)
                return r;
        r = probe_connect(e, p, port);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

/* --- checks on an interval --- */

struct HealthChecker {
        sd_event *event;
        HealthSpec spec;
        uint16_t port;
        HealthTally tally;
        HealthProbe *probe;
        sd_event_source *timer;
        usec_t started;               /* CLOCK_MONOTONIC start of the current or last check */
        usec_t created;               /* CLOCK_MONOTONIC: the grace runs from here */
        usec_t backoff;               /* next delay while starting, doubling up to the interval */
        health_changed_t on_change;
        void *userdata;
        int last_result;              /* of the last check: 0 passed, else a negative errno */
        int last_status;              /* its HTTP status, 0 if none */
};

static void checker_record(HealthChecker *c, bool passed) {
        HealthState before = c->tally.state;
        usec_t next = c->spec.interval;

        /* A process coming up is checked soon and then less and less often (100 ms doubling up
         * to the interval), so that it is known healthy right after it is; its failures do not
         * count for HEALTH_GRACE_CHECKS intervals from the start. */
        bool in_grace = c->started < c->created + HEALTH_GRACE_CHECKS * c->spec.interval;
        if (!passed && c->tally.state == HEALTH_STARTING && in_grace) {
                next = MIN(c->backoff, c->spec.interval);
                c->backoff = MIN(c->backoff * 2, c->spec.interval);
        } else {
                if (c->tally.state == HEALTH_STARTING && c->tally.checks < HEALTH_GRACE_CHECKS)
                        c->tally.checks = HEALTH_GRACE_CHECKS;    /* the grace is used up by time */
                c->tally = health_tally_next(c->tally, passed, c->spec.threshold);
        }
        /* From the start of this check; a check that took longer than the wait is followed by
         * the next one at once. */
        sd_event_source_set_time(c->timer, c->started + next);
        sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
        if (c->tally.state != before && c->on_change)
                c->on_change(c, c->tally.state, c->userdata);
}

static void on_checker_probe_done(HealthProbe *p, int result, int status, void *userdata) {
        HealthChecker *c = userdata;

        c->probe = health_probe_free(c->probe);
        c->last_result = MIN(result, 0);
        c->last_status = status;
        metric_inc(&m_checks, METRIC_LABELS(c->spec.kind == HEALTH_KIND_HTTP ? "http" : "tcp",
                                            result >= 0 ? "passed" : result == -ETIMEDOUT ? "timeout" : "failed"));
        checker_record(c, result >= 0);
}

static int on_checker_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HealthChecker *c = userdata;

        if (sd_event_now(c->event, CLOCK_MONOTONIC, &c->started) < 0)
                c->started = now_usec(CLOCK_MONOTONIC);
        int r = health_probe_start(c->event, &c->spec, c->port, on_checker_probe_done, c, &c->probe);
        if (r < 0) {
                c->last_result = r;
                c->last_status = 0;
                checker_record(c, false);     /* no socket now (EMFILE?): a failed check */
        }
        return 0;
}

int health_checker_new(sd_event *e, const HealthSpec *spec, uint16_t port, usec_t first_delay,
                       health_changed_t on_change, void *userdata, HealthChecker **ret) {
        _cleanup_(health_checker_freep) HealthChecker *c = NULL;
        int r;

        if (spec->kind == HEALTH_KIND_NONE || port == 0)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(e);
        c->port = port;
        c->on_change = on_change;
        c->userdata = userdata;
        r = health_spec_copy(spec, &c->spec);
        if (r < 0)
                return r;
        c->created = now_usec(CLOCK_MONOTONIC);
        c->backoff = STARTING_BACKOFF_MIN;
        r = sd_event_add_time_relative(e, &c->timer, CLOCK_MONOTONIC, first_delay, INTERVAL_ACCURACY,
                                       on_checker_timer, c);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

HealthChecker *health_checker_free(HealthChecker *c) {
        if (!c)
                return NULL;
        health_probe_free(c->probe);
        sd_event_source_disable_unref(c->timer);
        health_spec_done(&c->spec);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

HealthState health_checker_state(const HealthChecker *c) {
        return c->tally.state;
}

int health_checker_last_result(const HealthChecker *c, int *ret_status) {
        if (ret_status)
                *ret_status = c->last_status;
        return c->last_result;
}
