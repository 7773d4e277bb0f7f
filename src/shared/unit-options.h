/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "basic/macros.h"
#include "unit-file.h"

/* PURE: the scheduling options of a unit from its [X-Fleet] section and, for capacity, its
 * [Service] MemoryMax= and CPUQuota=. Fills u (strings owned by the caller through
 * unit_options_done). Unknown [X-Fleet] keys are ignored, as fleet did. */
typedef struct UnitOptions {
        char *machine_id;
        char **machine_of;
        char **machine_metadata;
        char **conflicts;
        char **replaces;
        bool global;
        uint64_t cpu_millis;
        uint64_t memory_bytes;
} UnitOptions;

int unit_options_parse(const UnitFile *uf, UnitOptions *ret);
void unit_options_done(UnitOptions *o);
