/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What a wait (wait.c's units, app-wait.c's app) shows on stderr while it waits, and its pace.
 * On a terminal: one line that rewrites itself, "Waiting for 2 of 3 units to be launched... 4s",
 * taken away (progress_clear()) before anything else is printed and when the wait ends. Not
 * on a terminal: each new text as a line of its own if the wait asks for that (PROGRESS_LINES),
 * else nothing. */

#include <stdbool.h>

#include "basic/macros.h"
#include "basic/time-util.h"

typedef enum ProgressMode {
        PROGRESS_QUIET,   /* not on a terminal: nothing */
        PROGRESS_LINES,   /* not on a terminal: a line per change of the text */
} ProgressMode;

typedef struct Progress {
        bool tty;          /* stderr is a terminal */
        ProgressMode mode;
        bool shown;        /* the line is on the terminal now */
        char *last;        /* the text last shown */
} Progress;

/* Looks whether stderr is a terminal. */
void progress_init(Progress *p, ProgressMode mode);
/* Takes the line away and frees what p holds. */
void progress_done(Progress *p);

/* Takes the line away, if it is shown; stderr is as it was before. */
void progress_clear(Progress *p);

/* Shows the text fmt makes, on a terminal with elapsed (in seconds) after it. Returns 0 or
 * -ENOMEM. */
int progress_show(Progress *p, usec_t elapsed, const char *fmt, ...) _printf_(3, 4);

/* How long to sleep before the next look: interval, but not past timeout (0: none) when
 * elapsed has passed since the start. Pure. */
usec_t progress_nap(usec_t interval, usec_t timeout, usec_t elapsed);

/* Sleeps for usec (nothing for 0). */
void sleep_usec(usec_t usec);
