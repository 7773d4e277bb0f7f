/* SPDX-License-Identifier: Apache-2.0 */
#include "unit-state.h"

static const char * const desired_state_table[_UNIT_DESIRED_STATE_MAX] = {
        [UNIT_INACTIVE] = "inactive",
        [UNIT_LOADED] = "loaded",
        [UNIT_LAUNCHED] = "launched",
};

const char *unit_desired_state_to_string(UnitDesiredState s) {
        return s >= 0 && s < _UNIT_DESIRED_STATE_MAX ? desired_state_table[s] : NULL;
}

UnitDesiredState unit_desired_state_from_string(const char *s) {
        for (UnitDesiredState i = 0; i < _UNIT_DESIRED_STATE_MAX; i++)
                if (streq_ptr(s, desired_state_table[i]))
                        return i;
        return _UNIT_DESIRED_STATE_INVALID;
}
