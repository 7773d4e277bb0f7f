/* SPDX-License-Identifier: Apache-2.0 */
/* An agent's events and metrics (agent-events.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "agent-events.h"
#include "basic/json-util.h"
#include "event-log.h"
#include "metrics.h"
#include "release.h"

static MetricFamily m_job_duration = METRIC_HISTOGRAM("systemd_job_duration_seconds",
                                                      "How long the systemd jobs the agent asked for took, by type.",
                                                      metric_buckets_slow, "type");
static MetricFamily m_job_failures = METRIC_COUNTER("systemd_job_failures_total",
                                                    "systemd jobs the agent asked for that failed, by type.", "type");
static MetricFamily m_local = METRIC_GAUGE("local_units", "Units this machine runs, by systemd's active state.",
                                           "active_state");

/* The event's kind: instance.<what> for an app instance, unit.<what> for another unit. */
static void agent_emit(const char *unit, const char *machine, const char *what, json_t *details, const char *message) {
        _cleanup_free_ char *app = NULL;
        unsigned release = 0;
        char kind[48];
        bool instance = release_parse_instance_name(unit, &app, &release, NULL, NULL) >= 0;

        snprintf(kind, sizeof(kind), "%s.%s", instance ? "instance" : "unit", what);
        event_emit(&(Event) { .kind = kind, .by = EVENT_BY_AGENT, .app = app, .unit = unit, .machine = machine,
                              .release = instance ? release : 0, .message = message, .details = details });
}

static char *exit_text(const AgentUnitExit *e) {
        char *t = NULL;
        int r;

        if (e && (e->code == CLD_KILLED || e->code == CLD_DUMPED))
                r = asprintf(&t, "failed: killed by signal %d (SIG%s)%s", e->status, strna(sigabbrev_np(e->status)),
                             e->code == CLD_DUMPED ? ", core dumped" : "");
        else if (e && e->code == CLD_EXITED)
                r = asprintf(&t, "failed: exit status %d%s%s", e->status, e->result ? ", result " : "",
                             strempty(e->result));
        else
                r = asprintf(&t, "failed%s%s", e && e->result ? ": result " : "", e ? strempty(e->result) : "");
        return r < 0 ? NULL : t;
}

void agent_unit_event(const char *unit, const char *machine, const char *was, const char *now,
                      const AgentUnitExit *exit) {
        if (!was || !now || streq(was, now))
                return;
        if (streq(now, "failed")) {
                _cleanup_free_ char *text = exit_text(exit);
                json_auto_t *d = json_pack("{s:s*, s:i, s:i}", "result", exit ? exit->result : NULL, "exitCode",
                                           exit ? exit->code : 0, "exitStatus", exit ? exit->status : 0);
                agent_emit(unit, machine, "failed", d, text ?: "failed");
        } else if (streq(was, "failed") && streq(now, "active"))
                agent_emit(unit, machine, "recovered", NULL, "active again after failing");
}

void agent_health_event(const char *unit, const char *machine, HealthState was, HealthState now, int result,
                        int http_status) {
        char text[128];

        if (now == HEALTH_FAILING && was != HEALTH_FAILING) {
                if (http_status > 0)
                        snprintf(text, sizeof(text), "health check failing: HTTP status %d", http_status);
                else
                        snprintf(text, sizeof(text), "health check failing: %s", strerror(-MIN(result, -1)));
                json_auto_t *d = json_pack("{s:i, s:s}", "httpStatus", http_status, "error",
                                           result < 0 ? strerror(-result) : "");
                agent_emit(unit, machine, "unhealthy", d, text);
        } else if (now == HEALTH_PASSING && was == HEALTH_FAILING)
                agent_emit(unit, machine, "recovered", NULL, "health check passing again");
}

void agent_job_done(const char *type, usec_t duration, int error) {
        metric_observe(&m_job_duration, (double) duration / USEC_PER_SEC, METRIC_LABELS(type));
        if (error < 0)
                metric_inc(&m_job_failures, METRIC_LABELS(type));
        else
                metrics_register(NULL, &m_job_failures);
}

void agent_collect_begin(void) {
        metric_clear(&m_local);
        metrics_register(NULL, &m_local);
}

void agent_collect_unit(const char *active_state) {
        metric_add(&m_local, 1, METRIC_LABELS(active_state ?: "unknown"));
}

void agent_write_failed_event(const char *unit, const char *machine, const char *error) {
        json_auto_t *d = json_pack("{s:s}", "error", error);

        event_emitf(&(Event) { .kind = "unit.write_failed", .by = EVENT_BY_AGENT, .unit = unit, .machine = machine,
                               .details = d },
                    "%s not written on %.8s: %s", unit, machine, error);
}
