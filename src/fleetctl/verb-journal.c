/* SPDX-License-Identifier: Apache-2.0 */
/* journal [-n N] [-f] UNIT: the unit's journal on its machine, through fleetd (GET
 * /v1/units/<name>/journal, never SSH), copied to stdout as it arrives. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>

#include "fleetctl.h"
#include "unit-args.h"

#define JOURNAL_LINES_DEFAULT 10
/* Without --follow, a journal that stops arriving for this long is given up on. */
#define JOURNAL_IDLE_TIMEOUT_SEC 60L

static unsigned arg_lines = JOURNAL_LINES_DEFAULT;
static bool arg_follow = false;

static const struct option journal_long[] = {
        { "lines", required_argument, NULL, 'n' },
        { "follow", no_argument, NULL, 'f' },
        {}
};

static int journal_parse(int c, const char *arg) {
        switch (c) {
        case 'n':
                return parse_lines_arg(arg, &arg_lines);
        case 'f':
                arg_follow = true;
                return 0;
        }
        return -EINVAL;
}

const VerbOptions journal_options = {
        .options = journal_long,
        .short_options = "n:f",
        .parse = journal_parse,
        .help = "  -n --lines=N        Show the last N lines (default 10)\n"
                "  -f --follow         Keep printing new lines as they come (Ctrl-C stops)\n",
};

int verb_journal(Client *c, int argc, char **argv) {
        _cleanup_free_ char *name = unit_name_mangle(argv[0]), *suffix = NULL, *path = NULL;
        int r;

        if (!name)
                return -ENOMEM;
        if (asprintf(&suffix, "/journal?lines=%u%s", arg_lines, arg_follow ? "&follow=1" : "") < 0)
                return (suffix = NULL), -ENOMEM;
        path = unit_path(c, name, suffix);
        if (!path)
                return -ENOMEM;
        /* A closed stdout is a write error to handle below, not a signal that kills. */
        signal(SIGPIPE, SIG_IGN);
        r = client_stream(c, path, arg_follow ? 0 : JOURNAL_IDLE_TIMEOUT_SEC, stdout);
        /* Whoever read our output (head, a pager) has had enough: not an error. */
        return r == -EPIPE ? 0 : r;
}
