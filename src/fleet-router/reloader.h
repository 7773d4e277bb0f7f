/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Puts a rendered nginx config in place, one at a time, on an sd-event loop:
 *   1. a text equal to the one installed last is dropped (nginx is not reloaded);
 *   2. otherwise it is written to a temp file next to the output (write_file_temp()) and
 *      checked with `<nginx> -t -q -c <temp file>`;
 *   3. if nginx accepts it, the temp file is renamed over the output (atomic) and nginx is
 *      reloaded: by the reload command, or by default with SIGHUP to the master process in
 *      nginx's pid file (what `nginx -s reload` does, checked to be an nginx process); if
 *      nginx refuses it, the old config stays and nginx's message is logged.
 * At most one command runs at a time. A text submitted meanwhile waits, and a later one
 * replaces it: after the current cycle only the newest text is installed.
 * A reload that fails (nginx not running yet, or restarting) is retried with backoff until one
 * succeeds or a newer config's reload supersedes it.
 * This is an edge of the daemon: it logs what it does, once, where it happens. */

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "basic/macros.h"
#include "basic/time-util.h"

typedef struct Reloader Reloader;

typedef struct ReloaderOptions {
        const char *output;           /* the config nginx runs with */
        const char *nginx_binary;     /* for -t */
        char * const *reload_command; /* argv; NULL: SIGHUP to the nginx master in pid_file */
        const char *pid_file;         /* nginx's (needed without reload_command) */
        usec_t timeout;               /* for each command */
} ReloaderOptions;

typedef struct ReloaderStats {
        unsigned installs;            /* configs renamed into place */
        unsigned reloads;             /* reloads that succeeded */
        unsigned reload_failures;     /* reloads that failed (each retry counts) */
        unsigned refusals;            /* configs nginx -t refused (or that could not be written) */
        unsigned unchanged;           /* texts equal to the installed one */
} ReloaderStats;

/* Called whenever the reloader runs out of work: the last submitted text is dealt with
 * (installed, unchanged or refused). Not called from reloader_submit() itself. */
typedef void (*reloader_idle_t)(Reloader *r, void *userdata);

/* Creates a reloader. The options are copied. If the output exists, its contents count as
 * installed (a restarted router does not reload nginx for nothing); leftover temp files of
 * an earlier run are removed. */
int reloader_new(sd_event *e, const ReloaderOptions *o, reloader_idle_t on_idle, void *userdata, Reloader **ret);
/* Frees r, killing a command that still runs (its temp file is removed). NULL is fine. */
Reloader *reloader_free(Reloader *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Reloader *, reloader_free);

/* Makes text (taken over, freed in every case) the config, as described above. Returns 0 or
 * -ENOMEM; failures of the commands are logged and counted, not returned. */
int reloader_submit(Reloader *r, char *text);

/* Whether a command runs or a text waits. */
bool reloader_is_busy(const Reloader *r);
/* The text installed last (or found at start), NULL if none. */
const char *reloader_installed(const Reloader *r);
const ReloaderStats *reloader_stats(const Reloader *r);
