/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A child process run on an sd-event loop: posix_spawn(), then an sd-event child source and a
 * timeout (SIGKILL when it passes). stdin is /dev/null; stdout and stderr go to a memfd whose
 * beginning is handed to the callback. Nothing blocks, except freeing a Command whose child
 * still runs (it is killed and reaped there and then).
 *
 * SIGCHLD must be blocked in the calling thread (sd-event's rule for child sources). The child
 * starts with an empty signal mask and default signal dispositions. */

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "basic/macros.h"
#include "basic/time-util.h"

/* What the callback gets from the child's output (the rest is dropped). */
#define COMMAND_OUTPUT_MAX 4096

typedef struct Command Command;

typedef struct CommandResult {
        int exit_status;              /* the exit status if it exited, else -1 */
        int signal;                   /* the signal that killed it, else 0 */
        bool timed_out;               /* it ran past the timeout and was killed */
        const char *output;           /* stdout and stderr, NUL-terminated, at most COMMAND_OUTPUT_MAX bytes */
} CommandResult;

/* Called once when the child is gone. The result is valid during the call only. The Command
 * stays the caller's to free (from the callback too). */
typedef void (*command_callback_t)(Command *c, const CommandResult *result, void *userdata);

/* Starts argv (argv[0] an absolute path; the environment is inherited). Returns 0 and *ret,
 * or a negative errno if the child could not be started (e.g. -ENOENT: no such program). */
int command_start(sd_event *e, char * const *argv, usec_t timeout, command_callback_t cb, void *userdata,
                  Command **ret);
/* Frees c; a child that still runs is killed (SIGKILL) and reaped, and the callback is not
 * called. NULL is fine. Returns NULL. */
Command *command_free(Command *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Command *, command_free);

pid_t command_pid(const Command *c);

/* Whether the command exited with status 0 in time. */
bool command_result_ok(const CommandResult *r);
/* "exited with status 1", "killed by signal 9", "timed out" into buf; returns buf. */
const char *command_result_describe(const CommandResult *r, char *buf, size_t size);
