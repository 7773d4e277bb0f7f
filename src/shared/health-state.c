/* SPDX-License-Identifier: Apache-2.0 */
#include "health-state.h"

static const char * const health_state_table[_HEALTH_STATE_MAX] = {
        [HEALTH_STARTING] = "starting",
        [HEALTH_PASSING] = "passing",
        [HEALTH_FAILING] = "failing",
};

const char *health_state_to_string(HealthState s) {
        return s >= 0 && s < _HEALTH_STATE_MAX ? health_state_table[s] : NULL;
}
