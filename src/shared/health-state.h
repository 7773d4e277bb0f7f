/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The result of an instance's health check so far, as published in its state record. PURE. */

#include "basic/macros.h"

typedef enum HealthState {
        HEALTH_STARTING,
        HEALTH_PASSING,
        HEALTH_FAILING,
        _HEALTH_STATE_MAX,
        _HEALTH_STATE_INVALID = -EINVAL,
} HealthState;

/* "starting", "passing", "failing"; NULL for anything else. */
const char *health_state_to_string(HealthState s);
