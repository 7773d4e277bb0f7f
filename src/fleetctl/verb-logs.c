/* SPDX-License-Identifier: Apache-2.0 */
/* logs APP [-n N] [-f] [-p PROCESS]: the journals of an app's instances, each line after its
 * instance ("web.2| ..."), as heroku logs shows dynos. GET /v1/apps/<app> lists the instances,
 * then GET /v1/units/<unit>/journal gives each one's journal, through fleetd as `journal`
 * does. Without --follow one instance after the other; with it all at once (ClientLines), and
 * instances that start meanwhile (a rollout, a scale) join at the next look at the app. */
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "app-instances.h"
#include "app-wait.h"
#include "basic/json-util.h"
#include "fleetctl.h"
#include "progress.h"
#include "unit-args.h"

/* With --follow, how often the app is looked at again for new instances. */
#define LOGS_RELIST_INTERVAL (5 * USEC_PER_SEC)

static const char *arg_process = NULL;

static const Option option_process = {
        "process", 'p', OPTION_STRING, &arg_process, "NAME", "Only the instances of process NAME (web, worker, ...)"
};

OptionList logs_options = { JOURNAL_OPTIONS, &option_process, NULL };

typedef struct Logs {
        Client *client;
        const char *app;
        char *path;              /* /v1/apps/<app> */
        ClientLines *lines;
        json_t *followed;        /* units whose journal was asked for: a set */
} Logs;

static void logs_done(Logs *l) {
        free(l->path);
        client_lines_free(l->lines);
        json_decref(l->followed);
}

/* The app's instances that run somewhere (of --process only), in order. */
static int logs_instances(Logs *l, json_t **ret) {
        json_auto_t *app = NULL, *sorted = NULL, *placed = json_array();
        json_t *i;
        size_t k;
        int r;

        if (!placed)
                return -ENOMEM;
        r = client_call(l->client, "GET", l->path, NULL, &app);
        if (r < 0)
                return r;
        r = app_instances_sorted(app, arg_process, &sorted);
        if (r < 0)
                return r;
        /* One that no machine reports has no journal to show yet. */
        json_array_foreach(sorted, k, i) {
                _cleanup_free_ char *label = NULL;

                if (!jx_str(i, "unit") || isempty(jx_str(i, "machine")))
                        continue;
                if (instance_label(i, &label) < 0 || json_array_append(placed, i) < 0)
                        return -ENOMEM;
                /* "web.1   | " lines up with "worker.1| " from the first line on. */
                client_lines_set_label_width(l->lines, strlen(label));
        }
        *ret = TAKE_PTR(placed);
        return 0;
}

/* Asks for the journal of instance i, unless that was done already. */
static int logs_add(Logs *l, const json_t *i) {
        _cleanup_free_ char *label = NULL, *path = NULL;
        const char *unit = jx_str(i, "unit");

        if (json_object_get(l->followed, unit))
                return 0;
        if (instance_label(i, &label) < 0)
                return -ENOMEM;
        path = journal_path(l->client, unit);
        if (!path || json_object_set_new(l->followed, unit, json_true()) < 0)
                return -ENOMEM;
        return client_lines_add(l->lines, path, label, journal_idle_timeout_sec());
}

/* Each instance's lines, one instance after the other. */
static int logs_print(Logs *l, const json_t *instances) {
        json_t *i;
        size_t k;
        int r;

        json_array_foreach(instances, k, i) {
                r = logs_add(l, i);
                if (r >= 0)
                        r = client_lines_run(l->lines, USEC_INFINITY);
                if (r < 0)
                        return r;
        }
        return client_lines_failure(l->lines);
}

/* Every instance's new lines as they come, until interrupted, or the app or fleetd is gone. */
static int logs_follow(Logs *l, json_t *instances) {
        json_auto_t *list = json_incref(instances);
        json_t *i;
        size_t k;
        int r;

        for (;;) {
                usec_t start = now_usec(CLOCK_MONOTONIC), spent;

                json_array_foreach(list, k, i) {
                        r = logs_add(l, i);
                        if (r < 0)
                                return r;
                }
                r = client_lines_run(l->lines, LOGS_RELIST_INTERVAL);
                if (r < 0)
                        return r;
                /* With no answer open, run returns at once: the app is looked at again only
                 * once the interval is over all the same. */
                spent = now_usec(CLOCK_MONOTONIC) - start;
                sleep_usec(LOGS_RELIST_INTERVAL - MIN(spent, LOGS_RELIST_INTERVAL));
                json_decref(list);
                list = NULL;
                r = logs_instances(l, &list);
                /* The app is gone, or fleetd: over. Anything else (etcd unavailable for a
                 * moment) is reported, and the next look may go better. */
                if (r == -ENOENT || error_is_fatal(r))
                        return r;
        }
}

int verb_logs(Client *c, int argc, char **argv) {
        _cleanup_(logs_done) Logs l = { .client = c, .app = argv[0] };
        json_auto_t *instances = NULL;
        int r;

        l.path = app_path(c, l.app, "");
        l.followed = json_object();
        if (!l.path || !l.followed)
                return -ENOMEM;
        r = client_lines_new(c, stdout, &l.lines);
        if (r >= 0)
                r = logs_instances(&l, &instances);
        if (r < 0)
                return r;
        if (json_array_size(instances) == 0 && !arg_follow) {
                fprintf(stderr, "fleetctl: %s runs no instances%s%s.\n", l.app, arg_process ? " of " : "",
                        strempty(arg_process));
                return 0;
        }
        /* A closed stdout is a write error to handle below, not a signal that kills. */
        signal(SIGPIPE, SIG_IGN);
        r = arg_follow ? logs_follow(&l, instances) : logs_print(&l, instances);
        /* Whoever read our output (head, a pager) has had enough: not an error. */
        return r == -EPIPE ? 0 : r;
}
