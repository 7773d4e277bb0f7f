/* SPDX-License-Identifier: Apache-2.0 */
/* Waiting for an app to run what it should (see app-wait.h). */
#include <stdio.h>
#include <time.h>

#include "app-instances.h"
#include "app-wait.h"
#include "basic/json-util.h"
#include "basic/strv.h"
#include "progress.h"
#include "table.h"

bool arg_no_wait = false;
usec_t arg_app_timeout = APP_WAIT_TIMEOUT_DEFAULT;

const Option option_no_wait = {
        "no-wait", 0, OPTION_TRUE, &arg_no_wait, NULL, "Do not wait for the instances to run what was asked"
};
const Option option_app_timeout = {
        "timeout", 0, OPTION_DURATION, &arg_app_timeout, "DURATION",
        "Give up waiting after DURATION (default 5m; 0: never)"
};

OptionList app_wait_options = { APP_WAIT_OPTIONS, NULL };

char *app_path(Client *c, const char *app, const char *suffix) {
        _cleanup_free_ char *escaped = client_escape(c, app);
        char *path;

        if (!escaped || asprintf(&path, "/v1/apps/%s%s", escaped, suffix) < 0)
                return NULL;
        return path;
}

typedef struct AppWaiter {
        Client *client;
        const char *app;
        char *path;                /* /v1/apps/<app> */
        unsigned processes_of;     /* the release whose process names processes holds */
        char **processes;          /* NULL: not known, the scale's processes count */
        bool seen_rolling;
        Progress progress;
} AppWaiter;

static void app_waiter_done(AppWaiter *w) {
        free(w->path);
        strv_free(w->processes);
        progress_done(&w->progress);
}

/* The process names of the app's release (from its releases); best effort, since without
 * them the scale's processes count, which is right unless a release dropped a process. */
static int app_waiter_load_processes(AppWaiter *w, unsigned release) {
        _cleanup_free_ char *path = app_path(w->client, w->app, "/releases");
        json_auto_t *answer = NULL;
        json_t *rel, *p;
        size_t i, k;
        int r;

        if (!path)
                return -ENOMEM;
        w->processes = strv_free(w->processes);
        w->processes_of = release;
        r = client_call_full(w->client, "GET", path, NULL, CLIENT_QUIET, NULL, &answer);
        if (r == -ENOMEM || r == -ECONNREFUSED)
                return r;
        json_array_foreach(json_object_get(answer, "releases"), i, rel) {
                if (jx_int64(rel, "version", 0) != release)
                        continue;
                json_array_foreach(json_object_get(rel, "processes"), k, p)
                        if (jx_str(p, "name") && strv_extend(&w->processes, jx_str(p, "name")) < 0)
                                return -ENOMEM;
                break;
        }
        return 0;
}

/* "Rolling out hello v3: 1/4 instances healthy" and the like. */
static int progress_update(AppWaiter *w, const json_t *app, const AppProgress *p, usec_t elapsed) {
        const json_t *rollout = json_object_get(app, "rollout");
        bool rolling = streq_ptr(jx_str(rollout, "state"), "rolling");
        const char *s = p->wanted == 1 ? "" : "s";

        if (rolling && jx_int64(rollout, "rollbackOf", 0) > 0)
                return progress_show(&w->progress, elapsed, "Rolling back %s to v%u: %u/%u instance%s healthy",
                                     w->app, p->release, p->healthy, p->wanted, s);
        return progress_show(&w->progress, elapsed, "%s %s v%u: %u/%u instance%s healthy",
                             rolling ? "Rolling out" : "Waiting for", w->app, p->release, p->healthy, p->wanted, s);
}

/* "hello v3 is running: web=3 worker=1" and a line per instance. */
static int print_running(AppWaiter *w, const json_t *app, const AppProgress *p) {
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_free_ char *scale = NULL;
        json_auto_t *sorted = NULL;
        json_t *i;
        size_t k;
        int r;

        r = app_format_scale(app, w->processes, " ", &scale);
        if (r < 0)
                return r;
        if (p->wanted == 0)
                printf("%s v%u runs no instances: %s\n", w->app, p->release, strna(scale));
        else
                printf("%s v%u is running: %s\n", w->app, p->release, strna(scale));
        r = app_instances_sorted(app, NULL, &sorted);
        if (r >= 0)
                r = table_new(&t, "INSTANCE", "HOST", "ADDRESS", "HEALTH");
        if (r < 0)
                return r;
        table_set_header(t, false);
        json_array_foreach(sorted, k, i) {
                _cleanup_free_ char *label = NULL, *address = NULL;

                if (instance_label(i, &label) < 0 || instance_address(i, &address) < 0)
                        return -ENOMEM;
                r = table_add_row(t, label, jx_str(i, "hostname"), address, instance_health(i));
                if (r < 0)
                        return r;
        }
        if (table_get_rows(t) == 0)
                return fflush(stdout) == 0 ? 0 : -EIO;
        return table_print(t, stdout);
}

static int report_failed(AppWaiter *w, const json_t *app) {
        const char *message = jx_str(json_object_get(app, "rollout"), "message");

        progress_clear(&w->progress);
        if (!isempty(message))
                fprintf(stderr, "fleetctl: %s: %s\n", w->app, message);
        else
                fprintf(stderr, "fleetctl: the rollout of %s failed.\n", w->app);
        fprintf(stderr, "fleetctl: See 'fleetctl releases %s' and 'fleetctl logs %s'.\n", w->app, w->app);
        return -EIO;
}

static int report_timeout(AppWaiter *w, const AppProgress *p) {
        char buf[64];

        progress_clear(&w->progress);
        fprintf(stderr,
                "fleetctl: gave up waiting after %s: %s v%u has %u of %u instances healthy. The cluster goes on; "
                "see 'fleetctl ps %s'.\n",
                format_duration(buf, sizeof(buf), arg_app_timeout), w->app, p->release, p->healthy, p->wanted,
                w->app);
        return -EIO;
}

/* One look at the app. Returns 1 to look again, 0 when it runs what it should, or an error. */
static int app_waiter_poll(AppWaiter *w, usec_t elapsed) {
        json_auto_t *app = NULL;
        AppProgress p;
        int r;

        r = client_call(w->client, "GET", w->path, NULL, &app);
        if (r < 0)
                return r;
        p.release = (unsigned) MAX(jx_int64(app, "release", 0), 0);
        if (p.release != w->processes_of) {
                r = app_waiter_load_processes(w, p.release);
                if (r < 0)
                        return r;
        }
        app_progress(app, w->processes, &p);
        switch (app_wait_check(app, &p, &w->seen_rolling)) {
        case APP_WAIT_DONE:
                progress_clear(&w->progress);
                r = print_running(w, app, &p);
                return r < 0 ? r : 0;
        case APP_WAIT_FAILED:
                return report_failed(w, app);
        default:
                break;
        }
        if (arg_app_timeout > 0 && elapsed >= arg_app_timeout)
                return report_timeout(w, &p);
        r = progress_update(w, app, &p, elapsed);
        return r < 0 ? r : 1;
}

int app_wait(Client *c, const char *app, const json_t *answer) {
        _cleanup_(app_waiter_done) AppWaiter w = {
                .client = c,
                .app = app,
                .seen_rolling = streq_ptr(jx_str(json_object_get(answer, "rollout"), "state"), "rolling"),
        };
        usec_t start = now_usec(CLOCK_MONOTONIC), elapsed;
        int r;

        if (arg_no_wait)
                return 0;
        w.path = app_path(c, app, "");
        if (!w.path)
                return -ENOMEM;
        /* Not on a terminal, a line per change: what a log of the rollout wants. */
        progress_init(&w.progress, PROGRESS_LINES);
        for (;;) {
                elapsed = now_usec(CLOCK_MONOTONIC) - start;
                /* Off while asking: the client may have something to say on stderr. */
                progress_clear(&w.progress);
                r = app_waiter_poll(&w, elapsed);
                if (r <= 0)
                        return r;
                sleep_usec(progress_nap(APP_WAIT_INTERVAL, arg_app_timeout, elapsed));
        }
}
