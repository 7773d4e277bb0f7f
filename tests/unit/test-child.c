/* SPDX-License-Identifier: Apache-2.0 */
/* Child processes on the event loop (src/shared/child.h), with real /bin/sh children: exit
 * status, signals, the timeout (SIGKILL at once, or SIGTERM and then SIGKILL for a child that
 * ignores SIGTERM, to its whole process group), the output's bounds (lines, bytes per line,
 * bytes), stdin, environment and working directory, what a child does not inherit (descriptors
 * beyond 0-2, blocked or ignored signals, the process group), start errors, and freeing a
 * child that still runs. The first cases are fleet-router's (nginx -t and the reload command:
 * stdin /dev/null, 4096 bytes of output, SIGKILL at the timeout). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "child.h"
#include "basic/strv.h"
#include "../tests.h"

/* fleet-router's bound for the output of nginx -t and of the reload command. */
#define OUTPUT_MAX 4096

typedef struct Outcome {
        bool done;
        int exit_status;
        int signal;
        bool timed_out;
        char output[OUTPUT_MAX * 4 + 1];
        unsigned lines;
        uint64_t lines_dropped;
        bool truncated;
        char line_log[1024];          /* what on_line saw: "<line>|" or "<line>[cut]|" each */
        char timeouts[64];            /* what on_timeout saw: "TERM KILL " */
} Outcome;

static void on_done(Child *c, const ChildResult *r, void *userdata) {
        Outcome *o = userdata;

        o->done = true;
        o->exit_status = r->exit_status;
        o->signal = r->signal;
        o->timed_out = r->timed_out;
        snprintf(o->output, sizeof(o->output), "%s", r->output);
        o->lines = r->lines;
        o->lines_dropped = r->lines_dropped;
        o->truncated = r->truncated;
}

static void on_line(Child *c, const char *line, size_t len, bool cut, void *userdata) {
        Outcome *o = userdata;
        size_t n = strlen(o->line_log);

        snprintf(o->line_log + n, sizeof(o->line_log) - n, "%.*s%s|", (int) len, line, cut ? "[cut]" : "");
}

static void on_timeout(Child *c, int sig, void *userdata) {
        Outcome *o = userdata;
        size_t n = strlen(o->timeouts);

        snprintf(o->timeouts + n, sizeof(o->timeouts) - n, "%s ", sigabbrev_np(sig));
}

/* Runs a child with options o (done and userdata filled in) to its end on a loop of its own. */
static int run_with(ChildOptions o, Outcome *ret) {
        _cleanup_(child_freep) Child *c = NULL;
        sd_event *e = NULL;
        int r;

        *ret = (Outcome) {};
        o.done = on_done;
        o.userdata = ret;
        r = sd_event_new(&e);
        if (r < 0)
                return r;
        r = child_spawn(e, &o, &c);
        while (r >= 0 && !ret->done)
                r = sd_event_run(e, UINT64_MAX);
        c = child_free(c);
        sd_event_unref(e);
        return r < 0 ? r : 0;
}

/* As fleet-router runs nginx -t and its reload command. */
static int run(char * const *argv, usec_t timeout, Outcome *ret) {
        return run_with((ChildOptions) { .argv = argv, .timeout = timeout, .max_bytes = OUTPUT_MAX }, ret);
}

#define SH(script) ((char *[]) { (char *) "/bin/sh", (char *) "-c", (char *) (script), NULL })

static bool no_child_left(void) {
        siginfo_t si = {};
        return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

/* --- fleet-router's cases --- */

TEST(exit_zero) {
        Outcome o;

        ASSERT_INT(run(SH("exit 0"), 5 * USEC_PER_SEC, &o), 0);
        ASSERT_TRUE(o.done);
        ASSERT_INT(o.exit_status, 0);
        ASSERT_INT(o.signal, 0);
        ASSERT_TRUE(!o.timed_out);
        ASSERT_STR(o.output, "");
        ASSERT_INT(o.lines, 0);
}

TEST(exit_status_and_output) {
        char buf[64];
        Outcome o;

        /* stdout and stderr both, in order; stdin is /dev/null */
        ASSERT_INT(run(SH("echo out; echo err >&2; cat; exit 3"), 5 * USEC_PER_SEC, &o), 0);
        ASSERT_INT(o.exit_status, 3);
        ASSERT_STR(o.output, "out\nerr\n");
        ASSERT_INT(o.lines, 2);
        ASSERT_TRUE(!child_result_ok(&(ChildResult) { .exit_status = 3 }));
        ASSERT_TRUE(child_result_ok(&(ChildResult) { .exit_status = 0 }));
        ASSERT_STR(child_result_describe(&(ChildResult) { .exit_status = 3 }, buf, sizeof(buf)),
                   "exited with status 3");
        ASSERT_STR(child_result_describe(&(ChildResult) { .exit_status = -1, .signal = SIGKILL }, buf, sizeof(buf)),
                   "was killed by signal 9 (Killed)");
}

TEST(output_is_bounded) {
        Outcome o;

        ASSERT_INT(run(SH("yes 0123456789 | head -c 100000"), 5 * USEC_PER_SEC, &o), 0);
        ASSERT_INT(o.exit_status, 0);
        ASSERT_INT(strlen(o.output), OUTPUT_MAX);
        /* 372 lines of 11 bytes, then 4 bytes of the next one; the rest is counted */
        ASSERT_INT(o.lines, OUTPUT_MAX / 11 + 1);
        ASSERT_INT(o.lines_dropped, 100000 / 11 + 1 - o.lines);
        ASSERT_TRUE(o.truncated);
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
        ASSERT_STR(child_result_describe(&(ChildResult) { .timed_out = true }, buf, sizeof(buf)),
                   "timed out and was killed");
}

TEST(start_errors) {
        _cleanup_(child_freep) Child *c = NULL;
        sd_event *e = NULL;
        Outcome o = {};
        char *missing[] = { (char *) "/nonexistent/program", NULL };
        char *relative[] = { (char *) "sh", NULL };
        ChildOptions opts = { .argv = relative, .timeout = USEC_PER_SEC, .max_bytes = 64, .done = on_done, .userdata = &o };
        int r;

        ASSERT_INT(sd_event_new(&e), 0);
        ASSERT_INT(child_spawn(e, &opts, &c), -EINVAL);
        ASSERT_TRUE(!c);
        opts.argv = missing;
        opts.max_bytes = 0;
        ASSERT_INT(child_spawn(e, &opts, &c), -EINVAL);
        opts.max_bytes = 64;
        opts.done = NULL;
        ASSERT_INT(child_spawn(e, &opts, &c), -EINVAL);
        opts.done = on_done;
        r = child_spawn(e, &opts, &c);
        /* glibc reports a failed exec from posix_spawn(); under valgrind the child exits 127. */
        if (r == 0)
                while (!o.done)
                        ASSERT_TRUE(sd_event_run(e, UINT64_MAX) >= 0);
        ASSERT_TRUE(r == -ENOENT || (r == 0 && o.exit_status == 127));
        c = child_free(c);
        ASSERT_TRUE(no_child_left());
        sd_event_unref(e);
}

/* Freeing a running child kills and reaps it, without a callback. */
TEST(free_while_running) {
        sd_event *e = NULL;
        Child *c = NULL;
        Outcome o = {};
        ChildOptions opts = { .argv = SH("exec sleep 30"), .timeout = 60 * USEC_PER_SEC, .max_bytes = 64,
                              .done = on_done, .userdata = &o };
        pid_t pid;

        ASSERT_INT(sd_event_new(&e), 0);
        ASSERT_INT(child_spawn(e, &opts, &c), 0);
        pid = child_pid(c);
        ASSERT_TRUE(pid > 0);
        c = child_free(c);
        ASSERT_TRUE(!o.done);
        /* reaped: no such child any more */
        ASSERT_INT(waitpid(pid, NULL, WNOHANG), -1);
        ASSERT_INT(errno, ECHILD);
        sd_event_unref(e);
}

/* The callback may free its child (the reloader does), and still read the result. */
static void free_in_callback(Child *c, const ChildResult *r, void *userdata) {
        Child **p = userdata;

        *p = child_free(*p);
        ASSERT_STR(r->output, "bye\n");
}

TEST(free_in_callback) {
        sd_event *e = NULL;
        Child *c = NULL;
        ChildOptions opts = { .argv = SH("echo bye"), .timeout = 5 * USEC_PER_SEC, .max_bytes = 64,
                              .done = free_in_callback, .userdata = &c };

        ASSERT_INT(sd_event_new(&e), 0);
        ASSERT_INT(child_spawn(e, &opts, &c), 0);
        while (c)
                ASSERT_TRUE(sd_event_run(e, UINT64_MAX) >= 0);
        /* nothing left behind */
        ASSERT_INT(waitpid(-1, NULL, WNOHANG), -1);
        sd_event_unref(e);
}

/* --- what the hooks need too --- */

/* SIGTERM at the timeout, to the whole group: the sleep the script started goes too. */
TEST(timeout_terminates_group) {
        Outcome o;

        ASSERT_INT(run_with((ChildOptions) { .argv = SH("sleep 30 & echo $!; wait"), .timeout = 200 * USEC_PER_MSEC,
                                             .kill_timeout = 5 * USEC_PER_SEC, .max_bytes = 64, .on_timeout = on_timeout },
                            &o),
                   0);
        ASSERT_TRUE(o.timed_out);
        ASSERT_INT(o.signal, SIGTERM);
        ASSERT_STR(o.timeouts, "TERM ");
        pid_t sleeper = (pid_t) atoi(o.output);
        ASSERT_TRUE(sleeper > 1);
        /* it was not our child: an orphan, reaped by whoever reaps orphans here */
        bool gone = false;
        for (int i = 0; i < 200 && !gone; i++) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/%d", (int) sleeper);
                gone = access(path, F_OK) < 0 || kill(sleeper, 0) < 0;
                if (!gone) {
                        /* a zombie still has /proc/<pid>; its state says */
                        char stat_path[64], state = 0;
                        snprintf(stat_path, sizeof(stat_path), "/proc/%d/stat", (int) sleeper);
                        FILE *f = fopen(stat_path, "re");
                        if (f) {
                                if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
                                        state = 0;
                                fclose(f);
                        }
                        gone = state == 'Z' || state == 'X';
                }
                if (!gone)
                        usleep(10000);
        }
        ASSERT_TRUE(gone);
}

/* A child that ignores SIGTERM gets SIGKILL kill_timeout later. */
TEST(timeout_then_kill) {
        usec_t start = now_usec(CLOCK_MONOTONIC);
        Outcome o;

        ASSERT_INT(run_with((ChildOptions) { .argv = SH("trap '' TERM; echo stubborn; sleep 30"),
                                             .timeout = 200 * USEC_PER_MSEC, .kill_timeout = 200 * USEC_PER_MSEC,
                                             .max_bytes = 64, .on_timeout = on_timeout },
                            &o),
                   0);
        ASSERT_TRUE(o.timed_out);
        ASSERT_INT(o.signal, SIGKILL);
        ASSERT_STR(o.timeouts, "TERM KILL ");
        ASSERT_STR(o.output, "stubborn\n");
        usec_t took = now_usec(CLOCK_MONOTONIC) - start;
        ASSERT_TRUE(took >= 400 * USEC_PER_MSEC && took < 5 * USEC_PER_SEC);
        ASSERT_TRUE(no_child_left());
}

/* Lines: the first max_lines, each cut at max_line bytes; empty lines count; a last line
 * without a newline too. */
TEST(output_lines) {
        Outcome o;

        ASSERT_INT(run_with((ChildOptions) { .argv = SH("printf 'abcdefgh\\n\\nxy\\n1\\n2\\n3'"), .timeout = 5 * USEC_PER_SEC,
                                             .max_lines = 4, .max_line = 4, .max_bytes = 1000, .on_line = on_line },
                            &o),
                   0);
        ASSERT_STR(o.output, "abcd\n\nxy\n1\n");
        ASSERT_STR(o.line_log, "abcd[cut]||xy|1|");
        ASSERT_INT(o.lines, 4);
        ASSERT_INT(o.lines_dropped, 2);
        ASSERT_TRUE(o.truncated);

        /* the last line has no newline; nothing is cut */
        ASSERT_INT(run_with((ChildOptions) { .argv = SH("printf 'one\\ntwo'"), .timeout = 5 * USEC_PER_SEC,
                                             .max_lines = 4, .max_line = 4, .max_bytes = 1000, .on_line = on_line },
                            &o),
                   0);
        ASSERT_STR(o.output, "one\ntwo");
        ASSERT_STR(o.line_log, "one|two|");
        ASSERT_INT(o.lines, 2);
        ASSERT_INT(o.lines_dropped, 0);
        ASSERT_TRUE(!o.truncated);

        /* much more than is kept: all of it is read (the child is not blocked), and counted */
        ASSERT_INT(run_with((ChildOptions) { .argv = SH("head -c 300000 /dev/zero | tr '\\0' x; echo; "
                                                        "yes 'line of output' | head -n 100000"),
                                             .timeout = 20 * USEC_PER_SEC, .max_lines = 20, .max_line = 400,
                                             .max_bytes = 20 * 401 },
                            &o),
                   0);
        ASSERT_INT(o.exit_status, 0);
        ASSERT_INT(o.lines, 20);
        ASSERT_INT(o.lines_dropped, 100001 - 20);
        ASSERT_TRUE(o.truncated);
        ASSERT_INT(strlen(o.output), 400 + 1 + 19 * strlen("line of output\n"));
}

/* stdin: the bytes given, then EOF; at most CHILD_INPUT_MAX of them. */
TEST(input) {
        _cleanup_free_ char *big = malloc(CHILD_INPUT_MAX + 1);
        sd_event *e = NULL;
        Child *c = NULL;
        Outcome o;

        ASSERT_INT(run_with((ChildOptions) { .argv = SH("cat; echo; echo end"), .input = "{\"event\":1}\nsecond",
                                             .input_len = strlen("{\"event\":1}\nsecond"), .timeout = 5 * USEC_PER_SEC,
                                             .max_bytes = 1000 },
                            &o),
                   0);
        ASSERT_STR(o.output, "{\"event\":1}\nsecond\nend\n");

        /* all of CHILD_INPUT_MAX arrives */
        ASSERT_TRUE(big);
        memset(big, 'i', CHILD_INPUT_MAX + 1);
        ASSERT_INT(run_with((ChildOptions) { .argv = SH("wc -c"), .input = big, .input_len = CHILD_INPUT_MAX,
                                             .timeout = 5 * USEC_PER_SEC, .max_bytes = 1000 },
                            &o),
                   0);
        ASSERT_INT(atoi(o.output), CHILD_INPUT_MAX);
        ASSERT_INT(run_with((ChildOptions) { .argv = SH("exit 0"), .input = "", .input_len = 0,
                                             .timeout = 5 * USEC_PER_SEC, .max_bytes = 1000 },
                            &o),
                   0);
        ASSERT_INT(o.exit_status, 0);

        ASSERT_INT(sd_event_new(&e), 0);
        ChildOptions opts = { .argv = SH("cat"), .input = big, .input_len = CHILD_INPUT_MAX + 1,
                              .timeout = USEC_PER_SEC, .max_bytes = 64, .done = on_done, .userdata = &o };
        ASSERT_INT(child_spawn(e, &opts, &c), -E2BIG);
        ASSERT_TRUE(!c);
        sd_event_unref(e);
}

/* The environment given (or this process's), the working directory given (or this one). */
TEST(environment_and_directory) {
        char *envp[] = { (char *) "PATH=/usr/bin:/bin", (char *) "ONLY=this", NULL };
        char cwd[4096];
        Outcome o;

        ASSERT_INT(run_with((ChildOptions) { .argv = SH("env | sort; pwd"), .envp = envp, .cwd = "/",
                                             .timeout = 5 * USEC_PER_SEC, .max_bytes = 1000 },
                            &o),
                   0);
        /* sh adds PWD itself */
        ASSERT_STR(o.output, "ONLY=this\nPATH=/usr/bin:/bin\nPWD=/\n/\n");

        ASSERT_INT(setenv("TEST_CHILD_INHERITED", "yes", 1), 0);
        ASSERT_TRUE(getcwd(cwd, sizeof(cwd)));
        ASSERT_INT(run_with((ChildOptions) { .argv = SH("echo $TEST_CHILD_INHERITED; pwd -P"),
                                             .timeout = 5 * USEC_PER_SEC, .max_bytes = 8192 },
                            &o),
                   0);
        unsetenv("TEST_CHILD_INHERITED");
        char expected[4200];
        snprintf(expected, sizeof(expected), "yes\n%s\n", cwd);
        ASSERT_STR(o.output, expected);
}

/* No descriptor but 0-2 (fd 42 is open here without O_CLOEXEC), no ignored signal (SIGUSR1 is
 * ignored here), a process group of its own. */
TEST(nothing_inherited) {
        Outcome o;
        int fd = open("/dev/null", O_RDONLY);     /* no O_CLOEXEC on purpose */

        ASSERT_TRUE(fd >= 0);
        ASSERT_INT(dup2(fd, 42), 42);
        close(fd);
        signal(SIGUSR1, SIG_IGN);
        ASSERT_INT(run_with((ChildOptions) { .argv = SH("ls /proc/$$/fd; "
                                                        "while read -r k v; do case $k in SigIgn:) echo $v;; esac; "
                                                        "done </proc/$$/status; "
                                                        "[ \"$(cut -d' ' -f5 /proc/$$/stat)\" = $$ ] && echo own"),
                                             .timeout = 5 * USEC_PER_SEC, .max_bytes = 1000 },
                            &o),
                   0);
        signal(SIGUSR1, SIG_DFL);
        close(42);
        _cleanup_strv_free_ char **lines = NULL;
        ASSERT_INT(strv_split(o.output, "\n", &lines), 0);
        /* the shell's descriptors (ls lists them from outside), then its ignored signals */
        ASSERT_INT(strv_length(lines), 5);
        ASSERT_STR(lines[0], "0");
        ASSERT_STR(lines[1], "1");
        ASSERT_STR(lines[2], "2");
        /* 1-31 only: glibc's posix_spawn() leaves its own real-time signals (32, 33) ignored */
        ASSERT_INT(strtoull(lines[3], NULL, 16) & 0x7fffffffULL, 0);
        ASSERT_STR(lines[4], "own");
}

/* Abandoned: the child gets the signal and is left to whoever waits. */
TEST(abandon) {
        sd_event *e = NULL;
        Child *c = NULL;
        Outcome o = {};
        ChildOptions opts = { .argv = SH("exec sleep 30"), .timeout = 60 * USEC_PER_SEC, .max_bytes = 64,
                              .done = on_done, .userdata = &o };
        siginfo_t si = {};
        pid_t pid;

        ASSERT_INT(sd_event_new(&e), 0);
        ASSERT_INT(child_spawn(e, &opts, &c), 0);
        pid = child_pid(c);
        c = child_abandon(c, SIGTERM);
        ASSERT_INT(waitid(P_PID, (id_t) pid, &si, WEXITED), 0);
        ASSERT_INT(si.si_code, CLD_KILLED);
        ASSERT_INT(si.si_status, SIGTERM);
        ASSERT_TRUE(!o.done);
        sd_event_unref(e);
}

/* Several at once on one loop, each reported once. */
TEST(several) {
        Outcome o[4] = {};
        Child *c[4] = {};
        sd_event *e = NULL;
        char script[4][64];
        unsigned done = 0;

        ASSERT_INT(sd_event_new(&e), 0);
        for (unsigned i = 0; i < 4; i++) {
                snprintf(script[i], sizeof(script[i]), "sleep 0.%u; echo %u; exit %u", 4 - i, i, i);
                ChildOptions opts = { .argv = SH(script[i]), .timeout = 5 * USEC_PER_SEC, .max_bytes = 64,
                                      .done = on_done, .userdata = &o[i] };
                ASSERT_INT(child_spawn(e, &opts, &c[i]), 0);
        }
        while (done < 4) {
                ASSERT_TRUE(sd_event_run(e, UINT64_MAX) >= 0);
                done = 0;
                for (unsigned i = 0; i < 4; i++)
                        done += o[i].done;
        }
        for (unsigned i = 0; i < 4; i++) {
                char expected[8];
                snprintf(expected, sizeof(expected), "%u\n", i);
                ASSERT_INT(o[i].exit_status, i);
                ASSERT_STR(o[i].output, expected);
                c[i] = child_free(c[i]);
        }
        sd_event_unref(e);
        ASSERT_TRUE(no_child_left());
}

int test_failures = 0;

int main(void) {
        static const TestCase cases[] = {
                T(exit_zero), T(exit_status_and_output), T(output_is_bounded), T(killed_by_signal),
                T(child_signal_mask_is_empty), T(timeout_kills), T(start_errors), T(free_while_running),
                T(free_in_callback), T(timeout_terminates_group), T(timeout_then_kill), T(output_lines), T(input),
                T(environment_and_directory), T(nothing_inherited), T(abandon), T(several),
        };
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        return run_tests(cases, ELEMENTSOF(cases));
}
