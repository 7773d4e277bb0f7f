/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* apps/<app>: what the app should run (see docs/design.md, "Apps"). Written by the API
 * (deploy, config, rollback, scale, restart) and by the engine leader's app controller
 * (instance numbers, rollout progress, automatic rollback). PURE: data and JSON. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/macros.h"

typedef enum RolloutState {
        ROLLOUT_NONE,                 /* no release yet */
        ROLLOUT_ROLLING,
        ROLLOUT_DONE,
        ROLLOUT_FAILED,               /* rolled back by itself; message says why */
        _ROLLOUT_STATE_MAX,
        _ROLLOUT_STATE_INVALID = -EINVAL,
} RolloutState;

const char *rollout_state_to_string(RolloutState s);
RolloutState rollout_state_from_string(const char *s);

typedef struct AppScale {
        char *process;
        unsigned scale;
        unsigned restart_below;       /* instances numbered below are replaced (restart) */
} AppScale;

typedef struct AppRecord {
        char *name;
        unsigned release;             /* the release instances should run */
        unsigned latest;              /* the highest release number made so far */
        AppScale *scale;
        size_t n_scale;
        unsigned next_index;          /* the next instance number (from 1, never reused) */
        RolloutState rollout;
        unsigned rollout_from;        /* release before the rollout */
        unsigned rollback_of;         /* nonzero: this rollout is an automatic rollback after
                                       * that release failed */
        char *message;                /* last rollout message, for people */
        uint64_t created_usec;
        uint64_t updated_usec;
} AppRecord;

void app_record_done(AppRecord *a);
json_t *app_record_to_json(const AppRecord *a);
int app_record_from_json(const json_t *j, AppRecord *ret);
int app_record_copy(const AppRecord *a, AppRecord *ret);

/* The scale entry of process, or NULL. */
AppScale *app_record_scale(const AppRecord *a, const char *process);
/* Sets the scale of process (adding the entry if needed). */
int app_record_set_scale(AppRecord *a, const char *process, unsigned scale);
