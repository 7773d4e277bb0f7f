/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Why an app instance failed, for its state record ("reason") and so for `fleetctl ps` and the
 * rollout's message: the last error line its own processes wrote to the journal. podman and
 * docker print "Error: ..." when a pull or a start fails (the registry's own words:
 * "Error: initializing source docker://...: connection refused"); an app that exits may print
 * anything, and then its last line stands. */

#include <stddef.h>

#define UNIT_REASON_MAX   512u    /* bytes, cut at a UTF-8 boundary */
#define UNIT_REASON_LINES 30u     /* journal entries looked at, from the newest back */

/* PURE. Of n lines (oldest first), the last that starts with "Error" (after blanks and a
 * "time=... level=error msg=" prefix, it is still the line), else the last line that is not
 * blank; a new string cut to UNIT_REASON_MAX, *ret NULL when every line is blank. Returns 0 or
 * -ENOMEM. */
int unit_reason_pick(char * const *lines, size_t n, char **ret);

/* Reads the last UNIT_REASON_LINES entries of unit's own processes (_SYSTEMD_UNIT=) from the
 * local journal and picks the reason. *ret NULL: nothing to say. Returns 0 or a negative errno
 * of sd-journal. */
int unit_reason_read(const char *unit, char **ret);
