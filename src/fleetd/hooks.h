/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Hook executables: every executable file in a directory (/etc/fleetd/hooks.d by default) is run
 * for each route change the agent of this host makes, with the change as one line of JSON on
 * stdin:
 *   {"event":"route-added"|"route-removed","app":..,"unit":..,"host":..,"port":..,
 *    "release":..,"process":..,"machine":..}
 * and the event's name as its only argument. A hook is run directly (posix_spawn, never through
 * a shell), in its own process group, with an empty signal mask, default signal dispositions, no
 * inherited file descriptor but stdin (a pipe holding the event) and stdout and stderr (one
 * pipe, logged line by line with the hook's name, at most HOOK_LOG_LINES lines of at most
 * HOOK_LOG_LINE_MAX bytes per run), and the environment PATH=... FLEETD_EVENT=<event>.
 *
 * The directory is read again for every event: adding or removing a hook takes effect with the
 * next event, without restarting fleetd. A missing directory means no hooks. Hooks run in the
 * sorted order of their names for each event; each hook gets the events in order, one at a time
 * (a hook never runs twice at once). At most max_running hooks run at once; the rest wait in a
 * queue of at most max_queued runs (past that, runs are dropped and logged). A hook that runs
 * longer than its timeout gets SIGTERM (its whole process group), and SIGKILL kill_timeout later.
 * Nothing here ever waits: children are reaped with sd_event_add_child(), which needs SIGCHLD
 * blocked in every thread of the process.
 *
 * PURE: hook_name_is_valid(), hook_event_format(). hooks_list() reads a directory; the runner
 * keeps the policy (queue, cap, one run per hook, argv, environment, limits) and logs; starting,
 * feeding, reading, timing out and reaping a hook is src/shared/child.h's. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "basic/macros.h"
#include "basic/time-util.h"
#include "routes.h"

#define HOOKS_DIR_DEFAULT       "/etc/fleetd/hooks.d"
#define HOOK_TIMEOUT_DEFAULT    ((usec_t) 10 * USEC_PER_SEC)
#define HOOK_KILL_TIMEOUT_DEFAULT ((usec_t) 2 * USEC_PER_SEC)
#define HOOK_MAX_RUNNING_DEFAULT 8u
#define HOOK_MAX_QUEUED_DEFAULT 1024u
/* Output logged per run: lines, and bytes per line (the rest of a longer line is cut off). */
#define HOOK_LOG_LINES          20u
#define HOOK_LOG_LINE_MAX       400u

/* True for a name in the hooks directory that may be a hook: not empty, not starting with '.'
 * and not ending in '~' (editor backups, dpkg's and our own temporary files are left alone). */
bool hook_name_is_valid(const char *name);

/* The JSON line a hook reads for event about route: 0 and *ret (owned by the caller,
 * newline-terminated, at most PIPE_BUF bytes so that it fits into an empty pipe at once),
 * -EINVAL for ROUTE_EVENT_NONE or an incomplete record, -E2BIG if it would be longer, -ENOMEM. */
int hook_event_format(RouteEvent event, const RouteRecord *route, char **ret);

/* The hooks in dir: the names (sorted with strcmp) of the regular files (symbolic links
 * followed) with an execute bit set and a valid name. Returns 0 and *ret (a NULL-terminated list
 * owned by the caller; empty when dir does not exist), or a negative errno. */
int hooks_list(const char *dir, char ***ret);

/* --- the runner --- */

typedef struct HookRunner HookRunner;

/* How one run ended, for hook_done_t. */
typedef struct HookResult {
        const char *name;             /* the hook's file name */
        const char *unit;             /* the unit of the event */
        RouteEvent event;
        int error;                    /* < 0: it could not be started (the errno of posix_spawn) */
        int exit_status;              /* when it exited by itself */
        int signal;                   /* when a signal ended it, else 0 */
        bool timed_out;               /* it ran past its timeout and was sent SIGTERM */
        unsigned lines_logged;
        uint64_t lines_dropped;       /* lines of output past HOOK_LOG_LINES */
        bool truncated;               /* some logged line was longer than HOOK_LOG_LINE_MAX */
} HookResult;

typedef void (*hook_done_t)(HookRunner *r, const HookResult *result, void *userdata);

typedef struct HookRunnerOptions {
        const char *dir;              /* required */
        usec_t timeout;               /* 0: HOOK_TIMEOUT_DEFAULT */
        usec_t kill_timeout;          /* 0: HOOK_KILL_TIMEOUT_DEFAULT */
        unsigned max_running;         /* 0: HOOK_MAX_RUNNING_DEFAULT */
        unsigned max_queued;          /* 0: HOOK_MAX_QUEUED_DEFAULT */
        hook_done_t done;             /* optional: told how each run ended (after it was logged) */
        void *userdata;
} HookRunnerOptions;

int hook_runner_new(sd_event *e, const HookRunnerOptions *options, HookRunner **ret);
/* Frees the runner: queued runs are dropped, running hooks get SIGTERM (their process groups)
 * and are left to finish on their own. NULL is fine; returns NULL. */
HookRunner *hook_runner_free(HookRunner *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(HookRunner *, hook_runner_free);

/* Reads the directory and queues a run of every hook in it for event about route, starting as
 * many as may run. Returns the number of runs queued (0: no hooks), or a negative errno (the
 * directory could not be read, or the event cannot be formatted); logs nothing itself, except
 * runs dropped because the queue is full. */
int hook_runner_event(HookRunner *r, RouteEvent event, const RouteRecord *route);

/* Runs queued or running. */
unsigned hook_runner_pending(const HookRunner *r);
