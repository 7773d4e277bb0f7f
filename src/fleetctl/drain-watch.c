/* SPDX-License-Identifier: Apache-2.0 */
/* Following a drain or a rebalance (see drain-watch.h). */
#include <stdio.h>
#include <time.h>

#include "app-instances.h"
#include "app-wait.h"
#include "basic/json-util.h"
#include "basic/strv.h"
#include "drain-watch.h"
#include "host-lookup.h"
#include "progress.h"
#include "unit-args.h"

void drain_watch_done(DrainWatch *w) {
        move_tracker_done(&w->tracker);
        free(w->status_path);
        json_decref(w->status);
        json_decref(w->units);
        *w = (DrainWatch) {};
}

/* GET /v1/apps/<app>: 0 and the app, -ENOENT (said nothing) when it went away. */
static int get_app(Client *c, const char *app, json_t **ret) {
        _cleanup_free_ char *path = app_path(c, app, "");

        if (!path)
                return -ENOMEM;
        return client_call_full(c, "GET", path, NULL, CLIENT_QUIET_NOT_FOUND, NULL, ret);
}

/* The app objects, instances included, of names (a strv) in *ret. */
static int get_apps(Client *c, char * const *names, json_t **ret) {
        json_auto_t *apps = json_array();
        int r;

        if (!apps)
                return -ENOMEM;
        STRV_FOREACH(a, names) {
                json_auto_t *app = NULL;

                r = get_app(c, *a, &app);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                if (json_array_append(apps, app) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(apps);
        return 0;
}

/* Every app's name (GET /v1/apps). */
static int get_app_names(Client *c, char ***ret) {
        _cleanup_strv_free_ char **names = calloc(1, sizeof(char *));
        json_auto_t *answer = NULL;
        json_t *list, *a;
        size_t i;
        int r;

        if (!names)
                return -ENOMEM;
        r = api_get_list(c, "/v1/apps", "apps", &answer, &list);
        if (r < 0)
                return r;
        json_array_foreach(list, i, a)
                if (jx_str(a, "name") && strv_extend(&names, jx_str(a, "name")) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(names);
        return 0;
}

int drain_watch_start(DrainWatch *w, Client *c, const Host *host, MoveMode mode, const json_t *names,
                      json_t *claimed) {
        _cleanup_strv_free_ char **app_names = NULL;
        json_auto_t *units = NULL, *apps = NULL;
        int r;

        *w = (DrainWatch) { .client = c, .host = host, .names = names };
        w->status_path = machine_path(c, host->id, "/drain");
        if (!w->status_path)
                return -ENOMEM;
        if (mode == MOVES_DRAIN) {
                r = api_list_all(c, "/v1/units", "units", &units);
                if (r >= 0)
                        r = move_tracker_drain_apps(units, host->id, &app_names);
        } else
                r = get_app_names(c, &app_names);
        if (r >= 0)
                r = get_apps(c, app_names, &apps);
        if (r < 0)
                return r;
        return move_tracker_init(&w->tracker, mode, host->id, units, apps, claimed, now_usec(CLOCK_MONOTONIC));
}

static int print_move(DrainWatch *w, const Move *m) {
        _cleanup_free_ char *line = move_format(m, w->names);

        if (!line)
                return -ENOMEM;
        printf("%s\n", line);
        return fflush(stdout) == 0 ? 0 : -EIO;
}

/* Where the units are now, and the states of those on their way elsewhere. */
static int drain_watch_see_units(DrainWatch *w) {
        json_auto_t *units = NULL;
        Move m;
        int r;

        r = api_list_all(w->client, "/v1/units", "units", &units);
        if (r < 0)
                return r;
        move_tracker_see_units(&w->tracker, units);
        json_decref(w->units);
        w->units = TAKE_PTR(units);
        for (size_t i = 0; i < w->tracker.n_units; i++) {
                _cleanup_free_ char *escaped = NULL, *path = NULL;
                json_auto_t *answer = NULL;

                if (!move_tracker_unit_moving(&w->tracker, i))
                        continue;
                escaped = client_escape(w->client, w->tracker.units[i].name);
                if (!escaped || asprintf(&path, "/v1/state?unit=%s", escaped) < 0)
                        return (path = NULL), -ENOMEM;
                r = client_call(w->client, "GET", path, NULL, &answer);
                if (r < 0)
                        return r;
                if (move_tracker_see_state(&w->tracker, i, json_object_get(answer, "states"), &m) > 0) {
                        r = print_move(w, &m);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Runs its scale healthy, with no rollout going on. */
static bool app_is_settled(const json_t *app) {
        AppProgress p;

        if (streq_ptr(jx_str(json_object_get(app, "rollout"), "state"), "rolling"))
                return false;
        app_progress(app, NULL, &p);
        return app_progress_settled(&p);
}

/* A look at each app followed; *ret_settled: whether all of them are settled. */
static int drain_watch_see_apps(DrainWatch *w, bool *ret_settled) {
        bool settled = true;
        int r;

        STRV_FOREACH(a, w->tracker.apps) {
                _cleanup_free_ Move *moves = NULL;
                json_auto_t *app = NULL;
                size_t n;

                r = get_app(w->client, *a, &app);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                r = move_tracker_see_app(&w->tracker, app, &moves, &n);
                for (size_t k = 0; r >= 0 && k < n; k++)
                        r = print_move(w, &moves[k]);
                if (r < 0)
                        return r;
                settled = settled && app_is_settled(app);
        }
        *ret_settled = settled;
        return 0;
}

static int print_summary(DrainWatch *w) {
        _cleanup_free_ char *line = move_summary(&w->tracker, w->host->name, w->units);

        if (!line)
                return -ENOMEM;
        printf("%s\n", line);
        return fflush(stdout) == 0 ? 0 : -EIO;
}

/* "fleetctl: node-a blocked: db.service cannot move: MachineID=..." per unit that cannot move. */
static int report_blocked(DrainWatch *w) {
        const json_t *blocked = json_object_get(w->status, "blocked"), *b;
        size_t i;

        w->blocked = true;
        if (json_array_size(blocked) == 0)
                fprintf(stderr, "fleetctl: %s blocked: what is left there cannot move.\n", w->host->name);
        json_array_foreach(blocked, i, b) {
                const char *reason = jx_str(b, "reason"), *unit = strna(jx_str(b, "unit"));

                /* fleetd's reason may say "cannot move off draining node-a: ..." itself. */
                if (reason && startswith(reason, "cannot move"))
                        fprintf(stderr, "fleetctl: %s blocked: %s %s\n", w->host->name, unit, reason);
                else
                        fprintf(stderr, "fleetctl: %s blocked: %s cannot move: %s\n", w->host->name, unit,
                                strna(reason));
        }
        return -EIO;
}

/* A rebalance is over once every app is settled and fleetd says it is over; a fleetd that does
 * not say so has the apps settled for REBALANCE_QUIET. */
static int rebalance_verdict(DrainWatch *w, bool settled) {
        const json_t *rebalancing = json_object_get(w->status, "rebalancing");
        usec_t now = now_usec(CLOCK_MONOTONIC);

        if (!settled) {
                w->settled_since = 0;
                return 1;
        }
        if (w->settled_since == 0)
                w->settled_since = now;
        if (json_is_boolean(rebalancing))
                return json_is_true(rebalancing) ? 1 : print_summary(w);
        return now - w->settled_since >= REBALANCE_QUIET ? print_summary(w) : 1;
}

/* What the status and the look say: over, blocked, or going on. */
static int drain_watch_verdict(DrainWatch *w, bool settled) {
        const char *state = jx_str(w->status, "state");

        if (w->tracker.mode == MOVES_REBALANCE)
                return rebalance_verdict(w, settled);
        if (!jx_bool(w->status, "draining", true)) {
                fprintf(stderr, "fleetctl: %s is no longer draining: it was uncordoned meanwhile.\n", w->host->name);
                return -EIO;
        }
        if (streq_ptr(state, "drained"))
                return print_summary(w);
        if (streq_ptr(state, "blocked"))
                return report_blocked(w);
        return 1;
}

int drain_watch_step(DrainWatch *w) {
        bool settled = true;
        int r;

        json_decref(w->status);
        w->status = NULL;
        r = client_call(w->client, "GET", w->status_path, NULL, &w->status);
        move_tracker_begin_look(&w->tracker, now_usec(CLOCK_MONOTONIC));
        if (r >= 0 && w->tracker.mode == MOVES_DRAIN)
                r = drain_watch_see_units(w);
        if (r >= 0)
                r = drain_watch_see_apps(w, &settled);
        if (r < 0)
                return r == -ENOENT ? -EIO : r;   /* the machine, or the API path, went away */
        return drain_watch_verdict(w, settled);
}

/* "a.service (app, starting), b.service (unit, moving)" of the status' remaining units. */
static int format_remaining(const json_t *status, char **ret) {
        const json_t *remaining = json_object_get(status, "remaining"), *u;
        size_t i, len = 0;
        FILE *f = open_memstream(ret, &len);

        if (!f)
                return -ENOMEM;
        json_array_foreach(remaining, i, u)
                fprintf(f, "%s%s (%s, %s)", i > 0 ? ", " : "", strna(jx_str(u, "unit")), strna(jx_str(u, "kind")),
                        strna(jx_str(u, "state")));
        return fclose(f) == 0 ? 0 : -ENOMEM;
}

int drain_watch_give_up(DrainWatch *w, usec_t timeout) {
        _cleanup_free_ char *left = NULL;
        size_t n = json_array_size(json_object_get(w->status, "remaining"));
        char buf[64];

        format_duration(buf, sizeof(buf), timeout);
        if (w->tracker.mode == MOVES_REBALANCE) {
                fprintf(stderr, "fleetctl: gave up waiting after %s: the rebalance after uncordoning %s goes on.\n",
                        buf, w->host->name);
                return -EIO;
        }
        if (format_remaining(w->status, &left) < 0)
                return -ENOMEM;
        fprintf(stderr, "fleetctl: gave up waiting after %s: %s is still draining, %zu unit%s left%s%s. ", buf,
                w->host->name, n, n == 1 ? "" : "s", n > 0 ? ": " : "", strempty(left));
        fprintf(stderr, "The drain goes on.\n");
        return -EIO;
}

char *drain_watch_progress(const DrainWatch *w) {
        size_t n = json_array_size(json_object_get(w->status, "remaining"));
        char *s;

        if (w->tracker.mode == MOVES_REBALANCE)
                return asprintf(&s, "Rebalancing after uncordoning %s", w->host->name) < 0 ? NULL : s;
        return asprintf(&s, "Draining %s: %zu unit%s left", w->host->name, n, n == 1 ? "" : "s") < 0 ? NULL : s;
}

int drain_watch_run(DrainWatch *w, usec_t timeout) {
        _cleanup_(progress_done) Progress progress = {};
        usec_t start = now_usec(CLOCK_MONOTONIC), elapsed;
        int r;

        progress_init(&progress, PROGRESS_QUIET);
        for (;;) {
                _cleanup_free_ char *text = NULL;

                /* Off while looking: the moves go to stdout, and the client may say something. */
                progress_clear(&progress);
                r = drain_watch_step(w);
                if (r <= 0)
                        return r;
                elapsed = now_usec(CLOCK_MONOTONIC) - start;
                if (timeout > 0 && elapsed >= timeout)
                        return drain_watch_give_up(w, timeout);
                text = drain_watch_progress(w);
                if (!text)
                        return -ENOMEM;
                r = progress_show(&progress, elapsed, "%s", text);
                if (r < 0)
                        return r;
                sleep_usec(progress_nap(DRAIN_WATCH_INTERVAL, timeout, elapsed));
        }
}
