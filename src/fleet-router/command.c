/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "command.h"

extern char **environ;

static int safe_close_fd(int fd) {
        if (fd >= 0)
                close(fd);
        return -EBADF;
}

static bool code_is_killed(int code) {
        return code == CLD_KILLED || code == CLD_DUMPED;
}

struct Command {
        sd_event_source *child_source;
        sd_event_source *timer_source;
        pid_t pid;                    /* > 0 while the child is not reaped */
        int output_fd;                /* memfd with the child's stdout and stderr */
        bool timed_out;
        command_callback_t callback;
        void *userdata;
};

static void read_output(int fd, char *buf, size_t size) {
        ssize_t n = pread(fd, buf, size - 1, 0);

        buf[n > 0 ? n : 0] = 0;
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Command *c = userdata;
        char output[COMMAND_OUTPUT_MAX + 1];
        siginfo_t reaped = {};
        CommandResult result = {
                .exit_status = si->si_code == CLD_EXITED ? si->si_status : -1,
                .signal = code_is_killed(si->si_code) ? si->si_status : 0,
                .timed_out = c->timed_out,
                .output = output,
        };

        /* Reaped here rather than by sd-event after this returns: the callback may free c,
         * and with it this source. */
        (void) waitid(P_PID, c->pid, &reaped, WEXITED | WNOHANG);
        c->pid = 0;
        c->timer_source = sd_event_source_disable_unref(c->timer_source);
        read_output(c->output_fd, output, sizeof(output));
        c->output_fd = safe_close_fd(c->output_fd);

        c->callback(c, &result, c->userdata);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Command *c = userdata;

        /* Not reaped yet (that happens in on_child), so the pid is still our child's. */
        c->timed_out = true;
        if (c->pid > 0)
                (void) kill(c->pid, SIGKILL);
        return 0;
}

static int spawn(char * const *argv, int output_fd, pid_t *ret) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t empty, all;
        int r;

        sigemptyset(&empty);
        sigfillset(&all);
        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return -r;
        r = posix_spawnattr_init(&attr);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return -r;
        }
        if ((r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0)) == 0 &&
            (r = posix_spawn_file_actions_adddup2(&fa, output_fd, STDOUT_FILENO)) == 0 &&
            (r = posix_spawn_file_actions_adddup2(&fa, output_fd, STDERR_FILENO)) == 0 &&
            (r = posix_spawnattr_setsigmask(&attr, &empty)) == 0 &&
            (r = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
            (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) == 0)
                r = posix_spawn(ret, argv[0], &fa, &attr, argv, environ);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        return -r;
}

int command_start(sd_event *e, char * const *argv, usec_t timeout, command_callback_t cb, void *userdata,
                  Command **ret) {
        _cleanup_(command_freep) Command *c = NULL;
        int r;

        if (!e || !argv || !argv[0] || argv[0][0] != '/' || !cb || !ret)
                return -EINVAL;

        c = calloc(1, sizeof(Command));
        if (!c)
                return -ENOMEM;
        c->callback = cb;
        c->userdata = userdata;
        c->output_fd = -EBADF;
        c->output_fd = memfd_create("fleet-router-command", MFD_CLOEXEC);
        if (c->output_fd < 0)
                return -errno;

        r = spawn(argv, c->output_fd, &c->pid);
        if (r < 0) {
                c->pid = 0;
                return r;
        }
        r = sd_event_add_child(e, &c->child_source, c->pid, WEXITED, on_child, c);
        if (r < 0)
                return r;
        r = sd_event_add_time_relative(e, &c->timer_source, CLOCK_MONOTONIC, timeout, 10 * USEC_PER_MSEC,
                                       on_timeout, c);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

Command *command_free(Command *c) {
        if (!c)
                return NULL;
        c->child_source = sd_event_source_disable_unref(c->child_source);
        c->timer_source = sd_event_source_disable_unref(c->timer_source);
        if (c->pid > 0) {
                (void) kill(c->pid, SIGKILL);
                (void) waitpid(c->pid, NULL, 0);
        }
        (void) safe_close_fd(c->output_fd);
        free(c);
        return NULL;
}

pid_t command_pid(const Command *c) {
        return c ? c->pid : 0;
}

bool command_result_ok(const CommandResult *r) {
        return r && !r->timed_out && r->exit_status == 0;
}

const char *command_result_describe(const CommandResult *r, char *buf, size_t size) {
        if (r->timed_out)
                snprintf(buf, size, "timed out and was killed");
        else if (r->exit_status >= 0)
                snprintf(buf, size, "exited with status %d", r->exit_status);
        else
                snprintf(buf, size, "was killed by signal %d (%s)", r->signal, strsignal(r->signal));
        return buf;
}
