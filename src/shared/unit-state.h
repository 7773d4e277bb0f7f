/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A unit's desired state, as in fleet: inactive -> loaded -> launched. PURE. */

#include "basic/macros.h"

typedef enum UnitDesiredState {
        UNIT_INACTIVE,
        UNIT_LOADED,
        UNIT_LAUNCHED,
        _UNIT_DESIRED_STATE_MAX,
        _UNIT_DESIRED_STATE_INVALID = -EINVAL,
} UnitDesiredState;

const char *unit_desired_state_to_string(UnitDesiredState s);
UnitDesiredState unit_desired_state_from_string(const char *s);
