/* SPDX-License-Identifier: Apache-2.0 */
/* journal [-n N] [-f] UNIT: the unit's journal on its machine, through fleetd (GET
 * /v1/units/<name>/journal, never SSH), copied to stdout as it arrives. */
#include <signal.h>
#include <stdio.h>

#include "fleetctl.h"
#include "unit-args.h"

/* Without --follow, a journal that stops arriving for this long is given up on. */
#define JOURNAL_IDLE_TIMEOUT_SEC 60L

OptionList journal_options = { JOURNAL_OPTIONS, NULL };

char *journal_path(Client *c, const char *unit) {
        char *suffix, *path;

        if (asprintf(&suffix, "/journal?lines=%u%s", arg_lines, arg_follow ? "&follow=1" : "") < 0)
                return NULL;
        path = unit_path(c, unit, suffix);
        free(suffix);
        return path;
}

long journal_idle_timeout_sec(void) {
        return arg_follow ? 0 : JOURNAL_IDLE_TIMEOUT_SEC;
}

int verb_journal(Client *c, int argc, char **argv) {
        _cleanup_free_ char *name = unit_name_mangle(argv[0]), *path = NULL;
        int r;

        if (!name)
                return -ENOMEM;
        path = journal_path(c, name);
        if (!path)
                return -ENOMEM;
        /* A closed stdout is a write error to handle below, not a signal that kills. */
        signal(SIGPIPE, SIG_IGN);
        r = client_stream(c, path, journal_idle_timeout_sec(), stdout);
        /* Whoever read our output (head, a pager) has had enough: not an error. */
        return r == -EPIPE ? 0 : r;
}
