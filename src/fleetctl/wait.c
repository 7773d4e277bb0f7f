/* SPDX-License-Identifier: Apache-2.0 */
/* Waiting for units to reach a state (see wait.h). */
#include <stdio.h>
#include <time.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "machine-legend.h"
#include "progress.h"
#include "unit-args.h"
#include "wait.h"

bool arg_no_block = false;
unsigned arg_block_attempts = 0;
usec_t arg_timeout = WAIT_TIMEOUT_DEFAULT;

const Option option_no_block = {
        "no-block", 0, OPTION_TRUE, &arg_no_block, NULL, "Do not wait for the machines to get there"
};
const Option option_block_attempts = {
        "block-attempts", 0, OPTION_UNSIGNED, &arg_block_attempts, "N",
        "Give up after N checks, 5 a second (0: no limit, the default)"
};
const Option option_timeout = {
        "timeout", 0, OPTION_DURATION, &arg_timeout, "DURATION", "Give up after DURATION (default 60s; 0: never)"
};

OptionList wait_options = { WAIT_OPTIONS, NULL };

static const struct {
        const char *trigger;   /* "Triggered unit X start" */
        const char *done;      /* "Unit X launched on M", as fleet named the state reached */
        const char *goal;      /* "Unit X not launched after 60s" */
} goal_words[_WAIT_GOAL_MAX] = {
        [WAIT_LAUNCHED] = { "start", "launched", "launched" },
        [WAIT_LOADED] = { "load", "loaded", "loaded" },
        [WAIT_STOPPED] = { "stop", "loaded", "stopped" },
        [WAIT_UNLOADED] = { "unload", "inactive", "unloaded" },
};

static bool active_is_running(const char *active) {
        return streq_ptr(active, "active") || streq_ptr(active, "activating") ||
               streq_ptr(active, "deactivating") || streq_ptr(active, "reloading");
}

/* A unit file systemd could not load: waiting longer will not help. */
static bool load_is_broken(const char *load) {
        return streq_ptr(load, "error") || streq_ptr(load, "bad-setting") || streq_ptr(load, "masked");
}

static bool state_is_fresh(const json_t *state, usec_t since) {
        usec_t changed = (usec_t) jx_int64(state, "since", 0);

        return changed == 0 || changed + WAIT_CLOCK_SKEW >= since;
}

WaitResult wait_check(WaitGoal goal, const json_t *state, usec_t since, bool *seen_running) {
        const char *active = jx_str(state, "active"), *load = jx_str(state, "load");

        switch (goal) {
        case WAIT_LAUNCHED:
                if (streq_ptr(active, "active"))
                        return WAIT_DONE;
                if ((streq_ptr(active, "failed") || load_is_broken(load)) && state_is_fresh(state, since))
                        return WAIT_FAILED;
                if (active_is_running(active))
                        *seen_running = true;
                else if (*seen_running && streq_ptr(active, "inactive"))
                        return WAIT_DONE;   /* it ran and exited cleanly */
                return WAIT_PENDING;
        case WAIT_LOADED:
                if (load_is_broken(load) && state_is_fresh(state, since))
                        return WAIT_FAILED;
                return streq_ptr(load, "loaded") && !active_is_running(active) ? WAIT_DONE : WAIT_PENDING;
        case WAIT_STOPPED:
                return !state || !active_is_running(active) ? WAIT_DONE : WAIT_PENDING;
        case WAIT_UNLOADED:
                return state ? WAIT_PENDING : WAIT_DONE;
        default:
                return WAIT_FAILED;
        }
}

typedef struct WaitUnit {
        const char *name;
        char *path;          /* /v1/state?unit=NAME */
        const char *hash;    /* the contents it must report; NULL: any */
        json_t *state;       /* as last seen, NULL if none */
        unsigned unreported; /* rounds in a row without a state */
        bool seen_running;
        WaitResult result;
} WaitUnit;

typedef struct Waiter {
        Client *client;
        WaitGoal goal;
        usec_t since;
        WaitUnit *units;
        size_t n_units;
        MachineLegends legends;
        Progress progress;
        int failure;
} Waiter;

static void waiter_done(Waiter *w) {
        for (size_t i = 0; i < w->n_units; i++) {
                free(w->units[i].path);
                json_decref(w->units[i].state);
        }
        free(w->units);
        machine_legends_done(&w->legends);
        progress_done(&w->progress);
}

/* "activating (start) on 3f2a1b9c.../10.0.0.11" for messages. */
static int describe_state(Waiter *w, const json_t *state, char **ret) {
        _cleanup_free_ char *legend = NULL;
        const char *load = jx_str(state, "load");
        int r;

        if (!state)
                return (*ret = strdup("no machine reports it yet")) ? 0 : -ENOMEM;
        r = machine_legend(&w->legends, jx_str(state, "machine"), false, &legend);
        if (r < 0)
                return r;
        if (asprintf(ret, "it is %s (%s)%s%s%s%s", strna(jx_str(state, "active")), strna(jx_str(state, "sub")),
                     load_is_broken(load) ? ", its unit file " : "", load_is_broken(load) ? load : "",
                     legend ? " on " : "", strempty(legend)) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

static int report_done(Waiter *w, const WaitUnit *u) {
        _cleanup_free_ char *legend = NULL;
        int r;

        if (w->goal != WAIT_UNLOADED) {
                r = machine_legend(&w->legends, jx_str(u->state, "machine"), false, &legend);
                if (r < 0)
                        return r;
        }
        progress_clear(&w->progress);
        printf("Unit %s %s%s%s\n", u->name, goal_words[w->goal].done, legend ? " on " : "", strempty(legend));
        fflush(stdout);
        return 0;
}

static int report_failed(Waiter *w, const WaitUnit *u) {
        _cleanup_free_ char *what = NULL;
        int r;

        r = describe_state(w, u->state, &what);
        if (r < 0)
                return r;
        progress_clear(&w->progress);
        fprintf(stderr, "fleetctl: Unit %s failed: %s. See 'fleetctl status %s' and 'fleetctl journal %s'.\n",
                u->name, what, u->name, u->name);
        failure_merge(&w->failure, -EIO);
        return 0;
}

static int report_timeout(Waiter *w, const WaitUnit *u, unsigned attempts) {
        _cleanup_free_ char *what = NULL;
        char buf[64];
        int r;

        r = describe_state(w, u->state, &what);
        if (r < 0)
                return r;
        progress_clear(&w->progress);
        if (arg_block_attempts > 0 && attempts >= arg_block_attempts)
                snprintf(buf, sizeof(buf), "%u attempt%s", attempts, attempts == 1 ? "" : "s");
        else
                format_duration(buf, sizeof(buf), arg_timeout);
        fprintf(stderr, "fleetctl: Unit %s not %s after %s: %s.\n", u->name, goal_words[w->goal].goal, buf, what);
        failure_merge(&w->failure, -EIO);
        return 0;
}

const char *wait_unplaced_reason(const json_t *unit) {
        const json_t *p = json_object_get(unit, "placement");

        if (!streq_ptr(jx_str(p, "state"), "unschedulable"))
                return NULL;
        return jx_str(p, "reason") ?: "the engine found no machine for it";
}

static int report_not_placed(Waiter *w, const WaitUnit *u, const char *reason) {
        progress_clear(&w->progress);
        fprintf(stderr, "fleetctl: %s: not placed: %s\n", u->name, reason);
        failure_merge(&w->failure, -EIO);
        return 0;
}

/* Whether the engine leader could not place u: then reported, and u fails. Best effort: an
 * answer that does not come says nothing. */
static int waiter_check_placement(Waiter *w, WaitUnit *u) {
        _cleanup_free_ char *path = unit_path(w->client, u->name, "");
        json_auto_t *unit = NULL;
        const char *reason;
        int r;

        if (!path)
                return -ENOMEM;
        r = client_call_full(w->client, "GET", path, NULL, CLIENT_QUIET, NULL, &unit);
        if (error_is_fatal(r))
                return r;
        reason = r < 0 ? NULL : wait_unplaced_reason(unit);
        if (!reason)
                return 0;
        u->result = WAIT_FAILED;
        return report_not_placed(w, u, reason);
}

static bool waiter_looks_at_placement(const Waiter *w) {
        return w->goal == WAIT_LAUNCHED || w->goal == WAIT_LOADED;
}

/* Fetches u's state; the record for its name, if any machine reports one (of u->hash, if set). */
static int waiter_poll(Waiter *w, WaitUnit *u) {
        json_auto_t *answer = NULL;
        json_t *s, *found = NULL;
        size_t i;
        int r;

        r = client_call(w->client, "GET", u->path, NULL, &answer);
        if (r < 0)
                return r;
        json_array_foreach(json_object_get(answer, "states"), i, s)
                if (streq_ptr(jx_str(s, "name"), u->name) && (!u->hash || streq_ptr(jx_str(s, "hash"), u->hash))) {
                        found = s;
                        break;
                }
        json_decref(u->state);
        u->state = json_incref(found);
        u->unreported = found ? 0 : u->unreported + 1;
        return 0;
}

/* One round over the pending units. Returns how many are still pending, or a fatal error. */
static int waiter_round(Waiter *w) {
        int pending = 0, r;

        for (size_t i = 0; i < w->n_units; i++) {
                WaitUnit *u = &w->units[i];

                if (u->result != WAIT_PENDING)
                        continue;
                r = waiter_poll(w, u);
                if (error_is_fatal(r))
                        return r;
                if (r < 0) {
                        u->result = WAIT_FAILED;   /* printed by the client */
                        failure_merge(&w->failure, r);
                        continue;
                }
                u->result = wait_check(w->goal, u->state, w->since, &u->seen_running);
                if (u->result == WAIT_DONE)
                        r = report_done(w, u);
                else if (u->result == WAIT_FAILED)
                        r = report_failed(w, u);
                else if (waiter_looks_at_placement(w) && u->unreported > 0 &&
                         u->unreported % WAIT_PLACEMENT_AFTER == 0)
                        r = waiter_check_placement(w, u);
                if (r < 0)
                        return r;
                if (u->result == WAIT_PENDING)
                        pending++;
        }
        return pending;
}

static int waiter_run(Waiter *w) {
        usec_t start = now_usec(CLOCK_MONOTONIC), elapsed;
        int pending, r;

        for (unsigned attempt = 1;; attempt++) {
                /* Off while polling: the client may have something to say on stderr. */
                progress_clear(&w->progress);
                pending = waiter_round(w);
                if (pending <= 0)
                        return pending;
                elapsed = now_usec(CLOCK_MONOTONIC) - start;
                if ((arg_block_attempts > 0 && attempt >= arg_block_attempts) ||
                    (arg_timeout > 0 && elapsed >= arg_timeout)) {
                        for (size_t i = 0; i < w->n_units; i++) {
                                WaitUnit *u = &w->units[i];

                                if (u->result == WAIT_PENDING && !u->state && waiter_looks_at_placement(w)) {
                                        r = waiter_check_placement(w, u);
                                        if (r < 0)
                                                return r;
                                }
                                if (u->result == WAIT_PENDING) {
                                        r = report_timeout(w, u, attempt);
                                        if (r < 0)
                                                return r;
                                }
                        }
                        return 0;
                }
                r = progress_show(&w->progress, elapsed, "Waiting for %d of %zu unit%s to be %s", pending,
                                  w->n_units, w->n_units == 1 ? "" : "s", goal_words[w->goal].goal);
                if (r < 0)
                        return r;
                sleep_usec(progress_nap(WAIT_INTERVAL, arg_timeout, elapsed));
        }
}

int wait_for_units(Client *c, char **names, WaitGoal goal, usec_t since, const json_t *hashes) {
        _cleanup_(waiter_done) Waiter w = { .client = c, .goal = goal, .since = since,
                                            .legends = { .client = c } };
        int r;

        if (arg_no_block) {
                STRV_FOREACH(n, names)
                        printf("Triggered unit %s %s\n", *n, goal_words[goal].trigger);
                return fflush(stdout) == 0 ? 0 : -EIO;
        }

        w.units = calloc(strv_length(names) + 1, sizeof(WaitUnit));
        if (!w.units)
                return -ENOMEM;
        w.n_units = strv_length(names);
        for (size_t i = 0; i < w.n_units; i++) {
                _cleanup_free_ char *escaped = client_escape(c, names[i]);

                w.units[i].name = names[i];
                w.units[i].hash = jx_str(hashes, names[i]);
                if (!escaped || asprintf(&w.units[i].path, "/v1/state?unit=%s", escaped) < 0) {
                        w.units[i].path = NULL;
                        return -ENOMEM;
                }
        }
        progress_init(&w.progress, PROGRESS_QUIET);
        r = waiter_run(&w);
        return r < 0 ? r : w.failure;
}
