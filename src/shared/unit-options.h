/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "basic/macros.h"
#include "unit-file.h"

/* PURE: the scheduling options of a unit from its [X-Fleet] section, read as fleet v1.0 read
 * them, and, for capacity, its [Service] MemoryMax= and CPUQuota=; plus the checks fleet made
 * when a unit was submitted. The engine, the API and fleetctl (submit, start, verify) all read
 * a unit through unit_options_parse(). docs/fleet-compat.md is the long form; in short:
 *
 *   - keys: MachineID, MachineOf, MachineMetadata, Conflicts, Replaces, Global, and the
 *     deprecated X-ConditionMachineID, X-ConditionMachineBootID (read as a machine ID, as
 *     fleet did), X-ConditionMachineOf, X-ConditionMachineMetadata, X-Conflicts (warned about).
 *     Keys are case-sensitive; an unknown key is warned about (with the known key it looks
 *     like, for a typo) and ignored. Every line counts: unlike systemd's lists, an empty value
 *     does not reset earlier ones (it is ignored, with a warning);
 *   - a value that starts and ends with '"' is split into its quoted parts, for every key:
 *     MachineMetadata="a=b" "c=d" is two pairs. Outside quotes blanks separate parts, inside
 *     they are kept; the quotes themselves are dropped, and so are empty parts;
 *   - then, in each part, the specifiers %n (the unit's name), %N (without the type), %p (the
 *     part before '@') and %i (the instance) are expanded for the unit being read (name), so
 *     that the instances of one template get their own options. fleet expanded only these;
 *     any other '%' is left as it is, with a warning. Without a name nothing is expanded, and
 *     in a template %i stays (a template is never placed; its instances are read one by one);
 *   - MachineID: the first value wins, MachineID= before X-ConditionMachineID= before
 *     X-ConditionMachineBootID=;
 *   - MachineOf, Conflicts, Replaces: lists of unit names (Conflicts: fnmatch globs), several
 *     on one line split at blanks;
 *   - MachineMetadata: "key=value" pairs (exactly one '=', neither side empty); anything else
 *     is ignored with a warning, as fleet ignored it. An unquoted value made of several
 *     blank-separated pairs is read as those pairs, with a warning (fleet ignored the value);
 *   - Global: the last value wins; true for true, yes, 1, on or t in any case, as in fleet.
 *
 * Errors: what fleet refused at submit time (MachineID with MachineOf, Conflicts, Global or
 * Replaces; Global with MachineOf or Replaces; Conflicts with Replaces; a MachineOf that the
 * unit's own Conflicts or Replaces matches) and lines of UNIT_OPTIONS_LINE_MAX bytes or more
 * (go-systemd's limit, which fleet enforced). Warnings: anything read differently from what
 * it seems to say, text before the first section header (fleet skipped it silently), a
 * [x-fleet] section spelled in another case. fleetd refuses a unit with errors at submit; the
 * engine places units already stored with their values as read here, errors or not. */

/* fleet (go-systemd) refused a unit file with a line this long or longer, line end not
 * counted. */
#define UNIT_OPTIONS_LINE_MAX ((size_t) 2048)

typedef enum UnitOption {
        UNIT_OPTION_MACHINE_ID,
        UNIT_OPTION_MACHINE_OF,
        UNIT_OPTION_MACHINE_METADATA,
        UNIT_OPTION_CONFLICTS,
        UNIT_OPTION_REPLACES,
        UNIT_OPTION_GLOBAL,
        _UNIT_OPTION_MAX,
} UnitOption;

typedef struct UnitOptions {
        char *machine_id;               /* NULL if unset */
        char **machine_of;              /* unit names; the lists are never NULL after parsing */
        char **machine_metadata;        /* "key=value" pairs, each with one '=' and both sides set */
        char **conflicts;               /* globs */
        char **replaces;                /* unit names */
        bool global;
        uint64_t cpu_millis;            /* [Service] CPUQuota=: 50% -> 500; 0: none */
        uint64_t memory_bytes;          /* [Service] MemoryMax=; 0: none */
        /* The line of the first assignment that gave each option a value, deprecated spellings
         * included; 0 if none did. For MachineID the line of the value that won; for Global the
         * last line. */
        unsigned line[_UNIT_OPTION_MAX];
        /* "FILE:LINE: what" (FILE:LINE: for the file as a whole: "FILE: what"), in line order. */
        char **warnings;
        char **errors;
} UnitOptions;

/* Reads the options of the unit called name (for the specifiers; NULL: none are expanded) from
 * uf, with filename (NULL: name, or "<input>") in the messages. Fills *ret (freed with
 * unit_options_done()) and returns 0, also when there are warnings or errors: those are in
 * ret->warnings and ret->errors; or -ENOMEM, leaving *ret untouched. */
int unit_options_parse(const UnitFile *uf, const char *name, const char *filename, UnitOptions *ret);
void unit_options_done(UnitOptions *o);

/* "Global", "MachineID", ...: the key of an option. NULL if out of range. */
const char *unit_option_to_string(UnitOption o);
