/* SPDX-License-Identifier: Apache-2.0 */
/* Child processes on the event loop (src/fleet-router/command.h): exit status, output,
 * signals, timeouts, and freeing a command that still runs. Real /bin/sh children. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "command.h"
#include "../tests.h"

typedef struct Outcome {
        bool done;
        int exit_status;
        int signal;
        bool timed_out;
        char output[COMMAND_OUTPUT_MAX + 1];
} Outcome;

static void on_done(Command *c, const CommandResult *r, void *userdata) {
        Outcome *o = userdata;

        o->done = true;
        o->exit_status = r->exit_status;
        o->signal = r->signal;
        o->timed_out = r->timed_out;
        snprintf(o->output, sizeof(o->output), "%s", r->output);
}

/* Runs argv to its end on a loop of its own. */
static int run(char * const *argv, usec_t timeout, Outcome *ret) {
        _cleanup_(command_freep) Command *c = NULL;
        sd_event *e = NULL;
        int r;

        *ret = (Outcome) {};
        r = sd_event_new(&e);
        if (r < 0)
                return r;
        r = command_start(e, argv, timeout, on_done, ret, &c);
        while (r >= 0 && !ret->done)
                r = sd_event_run(e, UINT64_MAX);
        c = command_free(c);
        sd_event_unref(e);
        return r < 0 ? r : 0;
}

#define SH(script) ((char *[]) { (char *) "/bin/sh", (char *) "-c", (char *) (script), NULL })

TEST(exit_zero) {
        Outcome o;

        ASSERT_INT(run(SH("exit 0"), 5 * USEC_PER_SEC, &o), 0);
        ASSERT_TRUE(o.done);
        ASSERT_INT(o.exit_status, 0);
        ASSERT_INT(o.signal, 0);
        ASSERT_TRUE(!o.timed_out);
        ASSERT_STR(o.output, "");
}

TEST(exit_status_and_output) {
        char buf[64];
        Outcome o;

        /* stdout and stderr both, in order; stdin is /dev/null */
        ASSERT_INT(run(SH("echo out; echo err >&2; cat; exit 3"), 5 * USEC_PER_SEC, &o), 0);
        ASSERT_INT(o.exit_status, 3);
        ASSERT_STR(o.output, "out\nerr\n");
        ASSERT_TRUE(!command_result_ok(&(CommandResult) { .exit_status = 3 }));
        ASSERT_STR(command_result_describe(&(CommandResult) { .exit_status = 3 }, buf, sizeof(buf)),
                   "exited with status 3");
}

TEST(output_is_bounded) {
        Outcome o;

        ASSERT_INT(run(SH("yes 0123456789 | head -c 100000"), 5 * USEC_PER_SEC, &o), 0);
        ASSERT_INT(o.exit_status, 0);
        ASSERT_INT(strlen(o.output), COMMAND_OUTPUT_MAX);
}

TEST(killed_by_signal) {
        Outcome o;

        ASSERT_INT(run(SH("kill -TERM $$"), 5 * USEC_PER_SEC, &o), 0);
        ASSERT_INT(o.exit_status, -1);
        ASSERT_INT(o.signal, SIGTERM);
        ASSERT_TRUE(!o.timed_out);
}

/* The parent blocks SIGTERM (as fleet-router does); the child must not inherit that. */
TEST(child_signal_mask_is_empty) {
        Outcome o;

        ASSERT_INT(run(SH("grep '^SigBlk:' /proc/self/status"), 5 * USEC_PER_SEC, &o), 0);
        ASSERT_STR(o.output, "SigBlk:\t0000000000000000\n");
}

TEST(timeout_kills) {
        usec_t start = now_usec(CLOCK_MONOTONIC);
        char buf[64];
        Outcome o;

        ASSERT_INT(run(SH("echo started; exec sleep 30"), 200 * USEC_PER_MSEC, &o), 0);
        ASSERT_TRUE(o.timed_out);
        ASSERT_INT(o.signal, SIGKILL);
        ASSERT_STR(o.output, "started\n");
        ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) - start < 5 * USEC_PER_SEC);
        ASSERT_STR(command_result_describe(&(CommandResult) { .timed_out = true }, buf, sizeof(buf)),
                   "timed out and was killed");
}

TEST(start_errors) {
        _cleanup_(command_freep) Command *c = NULL;
        sd_event *e = NULL;
        Outcome o = {};
        char *missing[] = { (char *) "/nonexistent/program", NULL };
        char *relative[] = { (char *) "sh", NULL };
        int r;

        ASSERT_INT(sd_event_new(&e), 0);
        ASSERT_INT(command_start(e, relative, USEC_PER_SEC, on_done, &o, &c), -EINVAL);
        ASSERT_TRUE(!c);
        r = command_start(e, missing, 5 * USEC_PER_SEC, on_done, &o, &c);
        /* glibc reports a failed exec from posix_spawn(); under valgrind the child exits 127. */
        if (r == 0)
                while (!o.done)
                        ASSERT_TRUE(sd_event_run(e, UINT64_MAX) >= 0);
        ASSERT_TRUE(r == -ENOENT || (r == 0 && o.exit_status == 127));
        c = command_free(c);
        sd_event_unref(e);
}

/* Freeing a running command kills and reaps its child, without a callback. */
TEST(free_while_running) {
        sd_event *e = NULL;
        Command *c = NULL;
        Outcome o = {};
        pid_t pid;

        ASSERT_INT(sd_event_new(&e), 0);
        ASSERT_INT(command_start(e, SH("exec sleep 30"), 60 * USEC_PER_SEC, on_done, &o, &c), 0);
        pid = command_pid(c);
        ASSERT_TRUE(pid > 0);
        c = command_free(c);
        ASSERT_TRUE(!o.done);
        /* reaped: no such child any more */
        ASSERT_INT(waitpid(pid, NULL, WNOHANG), -1);
        ASSERT_INT(errno, ECHILD);
        sd_event_unref(e);
}

/* The callback may free its command (the reloader does). */
static void free_in_callback(Command *c, const CommandResult *r, void *userdata) {
        Command **p = userdata;

        *p = command_free(*p);
}

TEST(free_in_callback) {
        sd_event *e = NULL;
        Command *c = NULL;

        ASSERT_INT(sd_event_new(&e), 0);
        ASSERT_INT(command_start(e, SH("exit 0"), 5 * USEC_PER_SEC, free_in_callback, &c, &c), 0);
        while (c)
                ASSERT_TRUE(sd_event_run(e, UINT64_MAX) >= 0);
        /* nothing left behind */
        ASSERT_INT(waitpid(-1, NULL, WNOHANG), -1);
        sd_event_unref(e);
}

int test_failures = 0;

int main(void) {
        static const TestCase cases[] = {
                T(exit_zero), T(exit_status_and_output), T(output_is_bounded), T(killed_by_signal),
                T(child_signal_mask_is_empty), T(timeout_kills), T(start_errors), T(free_while_running),
                T(free_in_callback),
        };
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        return run_tests(cases, ELEMENTSOF(cases));
}
