/* SPDX-License-Identifier: Apache-2.0 */
/* fleetctl events [APP] [--since=WHEN] [--limit=N] [-f] [--json]: the cluster's timeline
 * (GET /v1/events), one line an event:
 *
 *     Dec 02 09:14:03  hello  release v3 created (config set GREETING) by alice
 *
 * and the last event of an app, for ps and apps. */
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "basic/json-util.h"
#include "fleetctl.h"
#include "verb-events.h"

static const char *arg_since;
static unsigned arg_limit;

static const Option option_since = {
        "since", 0, OPTION_STRING, &arg_since, "WHEN",
        "Only events since WHEN: a duration back (90s, 1h, 2d), a time\n(2024-12-02T09:14:03Z) or an event id"
};
static const Option option_limit = {
        "limit", 0, OPTION_UNSIGNED, &arg_limit, "N", "At most N events (1 to 10000, default 100)"
};

OptionList events_options = { &option_since, &option_limit, &option_follow, NULL };

char *event_line(const json_t *e, bool subject) {
        int64_t t = jx_int64(e, "time", 0);
        time_t sec = (time_t) (t / 1000000);
        const char *who = jx_str(e, "who"), *machine = jx_str(e, "machine");
        char when[32] = "", mach[12];
        struct tm tm;
        char *line;

        if (localtime_r(&sec, &tm))
                strftime(when, sizeof(when), "%b %d %H:%M:%S", &tm);
        snprintf(mach, sizeof(mach), "%.8s", strempty(machine));
        const char *what = jx_str(e, "app") ?: jx_str(e, "unit") ?: machine ? mach : "-";
        if (asprintf(&line, "%s  %s%s%s by %s", when, subject ? what : "", subject ? "  " : "",
                     strempty(jx_str(e, "message")), strna(who)) < 0)
                return NULL;
        return line;
}

static int print_event(const json_t *e) {
        _cleanup_free_ char *line = event_line(e, true);

        if (!line)
                return -ENOMEM;
        if (puts(line) == EOF || fflush(stdout) != 0)
                return -EPIPE;
        return 0;
}

static char *events_path(Client *c, int argc, char **argv, bool follow) {
        _cleanup_free_ char *app = argc > 0 ? client_escape(c, argv[0]) : NULL,
                            *since = arg_since ? client_escape(c, arg_since) : NULL;
        char limit[32] = "", *path;

        if ((argc > 0 && !app) || (arg_since && !since))
                return NULL;
        if (arg_limit > 0)
                snprintf(limit, sizeof(limit), "&limit=%u", arg_limit);
        if (asprintf(&path, "/v1/events?follow=%d%s%s%s%s%s", follow, app ? "&app=" : "", strempty(app),
                     since ? "&since=" : "", strempty(since), limit) < 0)
                return NULL;
        return path;
}

/* --follow: the answer is a line of JSON per event, formatted here as it comes. */
typedef struct LineBuffer {
        char *buf;
        size_t len;
        int error;
} LineBuffer;

static ssize_t lines_write(void *cookie, const char *data, size_t size) {
        LineBuffer *b = cookie;
        char *n = realloc(b->buf, b->len + size + 1), *nl;

        if (!n)
                return -1;
        b->buf = n;
        memcpy(b->buf + b->len, data, size);
        b->len += size;
        b->buf[b->len] = '\0';
        while ((nl = memchr(b->buf, '\n', b->len))) {
                *nl = '\0';
                json_auto_t *j = json_loads(b->buf, 0, NULL);
                int r = j ? print_event(j) : 0;
                if (r < 0) {
                        b->error = r;
                        return -1;
                }
                b->len -= (size_t) (nl + 1 - b->buf);
                memmove(b->buf, nl + 1, b->len + 1);
        }
        return (ssize_t) size;
}

static int events_follow(Client *c, const char *path) {
        LineBuffer b = {};
        cookie_io_functions_t io = { .write = lines_write };
        FILE *f = arg_json ? stdout : fopencookie(&b, "w", io);
        int r;

        if (!f)
                return -ENOMEM;
        signal(SIGPIPE, SIG_IGN);
        r = client_stream(c, path, 0, f);
        if (f != stdout)
                fclose(f);
        free(b.buf);
        if (b.error == -EPIPE || r == -EPIPE)
                return 0;     /* whoever reads our output has had enough */
        return b.error < 0 ? b.error : r;
}

int verb_events(Client *c, int argc, char **argv) {
        _cleanup_free_ char *path = NULL;
        json_auto_t *answer = NULL;
        json_t *events, *e;
        size_t i;
        int r;

        if (arg_limit > 10000)
                return usage_error("events", "--limit takes a number from 1 to 10000.");
        path = events_path(c, argc, argv, arg_follow);
        if (!path)
                return -ENOMEM;
        if (arg_follow)
                return events_follow(c, path);
        r = client_call(c, "GET", path, NULL, &answer);
        if (r < 0)
                return r;
        events = json_object_get(answer, "events");
        if (arg_json)
                return print_json(events);
        json_array_foreach(events, i, e) {
                r = print_event(e);
                if (r == -EPIPE)
                        return 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

json_t *events_last(Client *c, const char *app, size_t limit) {
        _cleanup_free_ char *path = NULL, *escaped = app ? client_escape(c, app) : NULL;
        json_auto_t *answer = NULL;

        if (app && !escaped)
                return NULL;
        if (asprintf(&path, "/v1/events?limit=%zu%s%s", limit, app ? "&app=" : "", strempty(escaped)) < 0)
                return NULL;
        /* a fleetd without events (older, or an imitation) has nothing to add */
        if (client_call_full(c, "GET", path, NULL, CLIENT_QUIET, NULL, &answer) < 0)
                return NULL;
        return json_incref(json_object_get(answer, "events"));
}
