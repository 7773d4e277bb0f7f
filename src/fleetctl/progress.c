/* SPDX-License-Identifier: Apache-2.0 */
/* A wait's progress on stderr (see progress.h). */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "progress.h"

void progress_init(Progress *p, ProgressMode mode) {
        *p = (Progress) { .tty = isatty(STDERR_FILENO), .mode = mode };
}

void progress_done(Progress *p) {
        progress_clear(p);
        free(p->last);
        p->last = NULL;
}

void progress_clear(Progress *p) {
        if (!p->shown)
                return;
        fputs("\r\033[K", stderr);
        p->shown = false;
}

int progress_show(Progress *p, usec_t elapsed, const char *fmt, ...) {
        va_list ap;
        char *text;
        int r;

        if (!p->tty && p->mode == PROGRESS_QUIET)
                return 0;
        va_start(ap, fmt);
        r = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (p->tty) {
                fprintf(stderr, "\r\033[K%s... %llus", text, (unsigned long long) (elapsed / USEC_PER_SEC));
                p->shown = true;
        } else if (!streq_ptr(p->last, text))
                fprintf(stderr, "%s\n", text);
        free(p->last);
        p->last = text;
        return 0;
}

usec_t progress_nap(usec_t interval, usec_t timeout, usec_t elapsed) {
        if (timeout == 0)
                return interval;
        return MIN(interval, timeout - MIN(elapsed, timeout));
}

void sleep_usec(usec_t usec) {
        struct timespec ts = { .tv_sec = usec / USEC_PER_SEC, .tv_nsec = (usec % USEC_PER_SEC) * 1000 };

        if (usec > 0)
                (void) nanosleep(&ts, NULL);
}
