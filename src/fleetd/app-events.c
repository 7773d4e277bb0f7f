/* SPDX-License-Identifier: Apache-2.0 */
/* The app controller's events and gauges (app-events.h). */
#include <stdio.h>

#include "app-events.h"
#include "basic/json-util.h"
#include "event-log.h"
#include "metrics.h"

static MetricFamily m_desired = METRIC_GAUGE("app_instances_desired",
                                             "Instances an app process should run (its scale), by the engine leader.",
                                             "app", "process");
static MetricFamily m_healthy = METRIC_GAUGE("app_instances_healthy",
                                             "Instances of an app process that are healthy (active, passing their "
                                             "check), of any release, by the engine leader.",
                                             "app", "process");
static MetricFamily m_rollouts = METRIC_GAUGE("rollouts_in_progress", "Apps rolling out now, by the engine leader.");

int app_events_init(AppEvents *e) {
        *e = (AppEvents) { .told = hashmap_new(free), .started = now_usec(CLOCK_REALTIME) };
        metrics_register(NULL, &m_desired);
        metrics_register(NULL, &m_healthy);
        metrics_register(NULL, &m_rollouts);
        return e->told ? 0 : -ENOMEM;
}

void app_events_done(AppEvents *e) {
        hashmap_free(e->told);
        *e = (AppEvents) {};
        app_metrics_begin();
}

/* What a rolling record aims at: its release, its message and its restart marks. */
static char *rollout_target(const AppRecord *r) {
        unsigned long long marks = 0;
        char *t;

        for (size_t i = 0; i < r->n_scale; i++)
                marks = marks * 31 + r->scale[i].restart_below;
        return asprintf(&t, "v%u|%s|%llu", r->release, strempty(r->message), marks) < 0 ? NULL : t;
}

/* Tells kind about app once per target: false if it was told already (or memory ran out). */
static bool app_events_once(AppEvents *e, const char *app, const char *kind, const char *target) {
        _cleanup_free_ char *key = NULL;
        const char *last = hashmap_get(e->told, app);

        if (asprintf(&key, "%s|%s", kind, target) < 0)
                return false;
        if (last && streq(last, key))
                return false;
        if (hashmap_put(e->told, app, key) < 0)
                return false;
        key = NULL;
        return true;
}

static void app_events_started(AppEvents *e, const AppRecord *r) {
        _cleanup_free_ char *target = rollout_target(r);
        const char *last = hashmap_get(e->told, r->name);

        if (!target)
                return;
        /* a rollout that some other leader announced, before we led */
        if (!last && r->updated_usec < e->started) {
                (void) app_events_once(e, r->name, "rollout.started", target);
                return;
        }
        /* told already in some way (started, rolled back to it, finished) */
        if (last && strchr(last, '|') && streq(strchr(last, '|') + 1, target))
                return;
        if (app_events_once(e, r->name, "rollout.started", target))
                event_emitf(&(Event) { .kind = "rollout.started", .by = EVENT_BY_ENGINE, .app = r->name,
                                       .release = r->release },
                            "rollout started: %s", strempty(r->message));
}

static void app_events_rolled_back(AppEvents *e, const AppRecord *before, const AppRecord *after, const char *cause) {
        _cleanup_free_ char *target = rollout_target(after);
        json_auto_t *d = json_pack("{s:b, s:i, s:i, s:s*}", "automatic", true, "failed", (int) before->release, "to",
                                   (int) before->rollout_from, "cause", cause);

        if (target && app_events_once(e, after->name, "rollout.rolled_back", target))
                event_emitf(&(Event) { .kind = "rollout.rolled_back", .by = EVENT_BY_ENGINE, .app = after->name,
                                       .release = after->release, .details = d },
                            "release v%u created (%s)", after->release, strna(cause));
}

static void app_events_ended(AppEvents *e, const AppRecord *before, AppRolloutStep step, const AppRecord *after) {
        _cleanup_free_ char *target = rollout_target(before);
        bool stuck = step == APP_ROLLOUT_FAIL;
        const char *kind = stuck ? "rollout.stuck" : "rollout.finished";
        json_auto_t *d = json_pack("{s:s}", "result", after->rollout == ROLLOUT_DONE ? "done" : "failed");

        if (target && app_events_once(e, after->name, kind, target))
                event_emitf(&(Event) { .kind = kind, .by = EVENT_BY_ENGINE, .app = after->name,
                                       .release = after->release, .details = d },
                            "%s", strempty(after->message));
}

void app_events_step(AppEvents *e, const AppRecord *before, AppRolloutStep step, const AppRecord *after,
                     const char *cause) {
        if (!e->told || before->rollout != ROLLOUT_ROLLING)
                return;
        app_events_started(e, before);
        if (step == APP_ROLLOUT_ROLL_BACK)
                app_events_rolled_back(e, before, after, cause);
        else if (step == APP_ROLLOUT_FAIL || step == APP_ROLLOUT_DONE)
                app_events_ended(e, before, step, after);
}

void app_metrics_begin(void) {
        metric_clear(&m_desired);
        metric_clear(&m_healthy);
        metric_set(&m_rollouts, 0, NULL);
}

void app_metrics_process(const char *app, const char *process, unsigned desired, unsigned healthy) {
        metric_set(&m_desired, desired, METRIC_LABELS(app, process));
        metric_set(&m_healthy, healthy, METRIC_LABELS(app, process));
}

void app_metrics_rollouts(unsigned n) {
        metric_set(&m_rollouts, n, NULL);
}
