/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* An app as GET /v1/apps/<app> shows it: its record (release, scale, restartBelow, rollout)
 * and its instances ({unit, release, process, index, machine, hostname, ip, port, load,
 * active, sub, health, since}; the state fields once an agent reported them). How each
 * instance is doing, and how far the app is from running what it should: what `ps` shows and
 * what the app verbs wait for. PURE: no I/O, no messages. */

#include <stdbool.h>

#include <jansson.h>

#include "basic/macros.h"

/* "healthy" (active, and passing its check if it has one), "starting", "unhealthy" (active,
 * failing its check), "failed", "stopping", "stopped", or NULL when no machine reports it. */
const char *instance_health(const json_t *i);

/* "web.3" (process.index) in *ret, owned by the caller. Returns 0 or -ENOMEM. */
int instance_label(const json_t *i, char **ret);

/* "10.0.0.11:20003" in *ret (owned by the caller), or NULL when the instance serves no port
 * or its machine's IP is not known. Returns 0 or -ENOMEM. */
int instance_address(const json_t *i, char **ret);

/* The instances of app (only those of process, unless NULL) sorted by process name, then
 * index, then release: a new array in *ret. Returns 0 or -ENOMEM. */
int app_instances_sorted(const json_t *app, const char *process, json_t **ret);

/* The scale of processes, "web=3 worker=1" with sep " ", in *ret (owned by the caller); NULL
 * for no processes. processes: names (NULL-terminated), or NULL for every process in the
 * app's scale. Returns 0 or -ENOMEM. */
int app_format_scale(const json_t *app, char * const *processes, const char *sep, char **ret);

typedef struct AppProgress {
        unsigned release;     /* the release the app should run */
        unsigned wanted;      /* the instances it should run: its scale, summed */
        unsigned healthy;     /* those of them that run healthy (instances of release, none
                               * that a restart replaces, at most the scale per process) */
        unsigned instances;   /* every instance there is, of any release */
} AppProgress;

/* Counts app's progress. processes are the process names of its release (NULL-terminated): the
 * scale may name processes an earlier release had, which no instance will run; NULL takes
 * every process of the scale. */
void app_progress(const json_t *app, char * const *processes, AppProgress *ret);

/* Whether the app runs exactly what it should, each instance healthy. */
bool app_progress_settled(const AppProgress *p);

typedef enum AppWaitResult {
        APP_WAIT_PENDING,
        APP_WAIT_DONE,
        APP_WAIT_FAILED,      /* the rollout failed: rollout.message says what happened */
} AppWaitResult;

/* Whether waiting for app after a change is over: a rollout must end (failed ends it, but
 * only one seen rolling since the change: an earlier failure does not count), then the
 * instances must settle (a scale changes no rollout state). *seen_rolling starts as whether the
 * change's answer said "rolling" and is kept across calls. */
AppWaitResult app_wait_check(const json_t *app, const AppProgress *p, bool *seen_rolling);
