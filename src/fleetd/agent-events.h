/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What an agent tells the timeline and the metrics about the units of its machine.
 *
 * Events (by "agent@<host>", machine = this machine): a unit that systemd reports failed after
 * it was in another state is instance.failed for an app instance, unit.failed otherwise, with
 * the service's result and exit status or signal; an instance whose health check goes from
 * passing (or starting) to failing is instance.unhealthy, with the check's result; one that is
 * active again after failing, or passes again after failing its check, is instance.recovered
 * (unit.recovered). A state first seen (adopted at start) is no change. A unit file that cannot be
 * written is unit.write_failed, with the error.
 *
 * Metrics: fleetd_systemd_job_duration_seconds{type} and fleetd_systemd_job_failures_total{type}
 * for the jobs the agent asks of systemd (start, stop, restart, reload), and
 * fleetd_local_units{active_state} (filled when /metrics is read). */

#include "basic/time-util.h"
#include "health-state.h"

typedef struct AgentUnitExit {
        const char *result;           /* systemd's Result= of the service, NULL if not known */
        int code;                     /* CLD_EXITED, CLD_KILLED, CLD_DUMPED; 0: not known */
        int status;
} AgentUnitExit;

/* unit went from was (NULL: first seen) to now (systemd's ActiveState). */
void agent_unit_event(const char *unit, const char *machine, const char *was, const char *now,
                      const AgentUnitExit *exit);
/* unit's health went from was to now; result and http_status of the last check
 * (health_checker_last_result()). */
void agent_health_event(const char *unit, const char *machine, HealthState was, HealthState now, int result,
                        int http_status);

/* unit's file could not be written (a full disk): unit.write_failed with the error, told once
 * per error (the agent calls it when the text changes). */
void agent_write_failed_event(const char *unit, const char *machine, const char *error);

/* A job of type ("start", "stop", "restart", "reload") ended after duration; error < 0: it failed. */
void agent_job_done(const char *type, usec_t duration, int error);

/* fleetd_local_units: begin clears, unit counts one unit's ActiveState (NULL: unknown). */
void agent_collect_begin(void);
void agent_collect_unit(const char *active_state);
