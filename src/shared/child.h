/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A child process on an sd-event loop: the one mechanism behind fleetd's route hooks and
 * fleet-router's nginx -t and reload command. The callers keep their policy (what to run, with
 * which environment, how long, what to log); this runs it:
 *
 *   - argv[0] (an absolute path) is started with posix_spawn(): never through a shell, no PATH
 *     search; a failed exec is reported by child_spawn() itself (glibc's posix_spawn() does);
 *   - in a process group of its own (the timeout's signals go to the whole group, so what a
 *     script started goes too), with an empty signal mask and default signal dispositions,
 *     no descriptor but 0-2 (everything else is closed in the child, O_CLOEXEC or not), the
 *     given environment (or this process's) and working directory (or this process's);
 *   - stdin: the given bytes, then EOF (a pipe filled before the child starts: at most
 *     CHILD_INPUT_MAX bytes, which always fit), or /dev/null;
 *   - stdout and stderr: one pipe, read as the child writes (it never blocks on a full pipe),
 *     split into lines. The first max_lines lines are kept, each cut at max_line bytes, and at
 *     most max_bytes bytes in all; the rest is read and counted only. Once the child exited,
 *     what is left in the pipe is read (at most 64 KiB more: a process it left behind may
 *     keep writing) and the pipe is closed;
 *   - past the timeout: SIGTERM to the group, and SIGKILL kill_timeout later (or SIGKILL at
 *     once when kill_timeout is 0);
 *   - its end is reported once, through done, from the loop (sd_event_add_child(): SIGCHLD
 *     must be blocked in every thread). sd-event reaps it right after done returns.
 *
 * Nothing here waits, except child_free() for a child that still runs. */

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "basic/macros.h"
#include "basic/time-util.h"

/* What fits into an empty pipe at once (so it is written before the child starts). */
#define CHILD_INPUT_MAX ((size_t) PIPE_BUF)

typedef struct Child Child;

typedef struct ChildResult {
        int exit_status;              /* the exit status if it exited, else -1 */
        int signal;                   /* the signal that ended it, else 0 */
        bool timed_out;               /* it ran past its timeout and was signalled */
        const char *output;           /* the kept output: lines joined by '\n', NUL-terminated */
        size_t output_len;
        unsigned lines;               /* lines kept (a last line without '\n' counts) */
        uint64_t lines_dropped;       /* lines not kept at all (past max_lines or max_bytes) */
        bool truncated;               /* a kept line was cut (max_line or max_bytes) */
} ChildResult;

/* Its end. result (and what it points to) is valid during the call only. c stays the caller's
 * to free, from here too. */
typedef void (*child_done_t)(Child *c, const ChildResult *result, void *userdata);
/* Each kept line, as soon as it is complete (its '\n' read, or the output's end): len bytes
 * (no '\n'; NUL bytes possible), cut if it was longer than what was kept. Must not free c. */
typedef void (*child_line_t)(Child *c, const char *line, size_t len, bool cut, void *userdata);
/* Told just before the timeout's signal sig (SIGTERM or SIGKILL) is sent. Must not free c. */
typedef void (*child_timeout_t)(Child *c, int sig, void *userdata);

typedef struct ChildOptions {
        char * const *argv;           /* required; argv[0] an absolute path */
        char * const *envp;           /* NULL: this process's environment */
        const char *cwd;              /* NULL: this process's working directory */
        const char *input;            /* stdin: input_len bytes of this; NULL: /dev/null */
        size_t input_len;             /* at most CHILD_INPUT_MAX */
        usec_t timeout;               /* 0 or USEC_INFINITY: none */
        usec_t kill_timeout;          /* from SIGTERM to SIGKILL; 0: SIGKILL at the timeout */
        unsigned max_lines;           /* 0: no limit but max_bytes */
        size_t max_line;              /* 0: no limit but max_bytes */
        size_t max_bytes;             /* required (> 0) */
        child_done_t done;            /* required */
        child_line_t on_line;         /* optional */
        child_timeout_t on_timeout;   /* optional */
        void *userdata;
} ChildOptions;

/* Starts a child as described above. Returns 0 and *ret (owned by the caller), or a negative
 * errno: -EINVAL for bad options (a relative argv[0]), -E2BIG for too much input, or the
 * errno of a start that failed (-ENOENT: no such program or interpreter; -EACCES: not
 * executable); then no child runs and done is never called. */
int child_spawn(sd_event *e, const ChildOptions *options, Child **ret);

/* Frees c; a child that still runs gets SIGKILL (its group) and is reaped here (the only
 * wait), and done is not called. NULL is fine. Returns NULL. */
Child *child_free(Child *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Child *, child_free);

/* Frees c without waiting: a child that still runs gets sig (its group; 0: none) and is left
 * to finish on its own. Nothing reaps it then but whoever waits for this process's children
 * (it stays a zombie until this process exits). NULL is fine. Returns NULL. */
Child *child_abandon(Child *c, int sig);

/* The child's pid (also its process group) while its end is not reported, else 0. */
pid_t child_pid(const Child *c);

/* Whether it exited with status 0 in time. */
bool child_result_ok(const ChildResult *r);
/* "exited with status 1", "was killed by signal 9 (Killed)", "timed out and was killed"
 * into buf; returns buf. */
const char *child_result_describe(const ChildResult *r, char *buf, size_t size);
