/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#include "child.h"

extern char **environ;

/* Read per wake-up of the output, so that a child that writes without end cannot starve the
 * loop; and at most this much more once it exited. */
#define OUTPUT_READ_MAX ((size_t) 64 * 1024)
#define TIMER_ACCURACY (10 * USEC_PER_MSEC)

struct Child {
        pid_t pid;                    /* > 0 until its end is reported */
        sd_event_source *exit_source, *output_source, *timer_source;
        int output_fd;
        usec_t kill_timeout;
        bool timed_out;

        /* The kept output (max_bytes + 1 for the NUL) and its bounds. */
        char *buf;
        size_t len, max_bytes, max_line;
        unsigned max_lines;
        unsigned lines;
        uint64_t lines_dropped;
        bool truncated;
        /* The line being read: where it starts in buf, how much of it is kept. */
        size_t line_start, line_len;
        bool line_open;               /* bytes read since the last '\n' */
        bool line_kept, line_cut;

        child_done_t done;
        child_line_t on_line;
        child_timeout_t on_timeout;
        void *userdata;
};

static int close_fd(int fd) {
        if (fd >= 0)
                close(fd);
        return -EBADF;
}

/* --- the output, split into lines --- */

/* A line is kept if lines and bytes remain when it begins. */
static void output_line_begin(Child *c) {
        c->line_open = true;
        c->line_kept = (c->max_lines == 0 || c->lines < c->max_lines) && c->len < c->max_bytes;
        c->line_start = c->len;
        c->line_len = 0;
        c->line_cut = false;
}

static void output_line_add(Child *c, const char *p, size_t n) {
        size_t room, k;

        if (!c->line_open)
                output_line_begin(c);
        if (!c->line_kept)
                return;
        room = c->max_bytes - c->len;
        if (c->max_line > 0)
                room = MIN(room, c->max_line - c->line_len);
        k = MIN(n, room);
        memcpy(c->buf + c->len, p, k);
        c->len += k;
        c->line_len += k;
        c->line_cut = c->line_cut || n > k;
}

/* Ends the line being read: by a '\n' (newline), or by the end of the output. */
static void output_line_end(Child *c, bool newline) {
        if (!c->line_open)
                output_line_begin(c);         /* an empty line */
        c->line_open = false;
        if (!c->line_kept) {
                c->lines_dropped++;
                return;
        }
        c->lines++;
        c->truncated = c->truncated || c->line_cut;
        if (newline && c->len < c->max_bytes)
                c->buf[c->len++] = '\n';
        if (c->on_line)
                c->on_line(c, c->buf + c->line_start, c->line_len, c->line_cut, c->userdata);
}

static void output_take(Child *c, const char *p, size_t n) {
        while (n > 0) {
                const char *nl = memchr(p, '\n', n);
                size_t k = nl ? (size_t) (nl - p) : n;

                if (k > 0)
                        output_line_add(c, p, k);
                if (!nl)
                        return;
                output_line_end(c, true);
                p = nl + 1;
                n -= k + 1;
        }
}

/* Reads up to max bytes of what is there. Returns 1 at the end of the output (or on an error:
 * nothing more will be read), else 0. */
static int output_read(Child *c, size_t max) {
        char buf[4096];

        for (size_t total = 0; total < max;) {
                ssize_t k = read(c->output_fd, buf, sizeof(buf));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        return 0;
                if (k <= 0)
                        return 1;
                output_take(c, buf, (size_t) k);
                total += (size_t) k;
        }
        return 0;
}

static void output_close(Child *c) {
        c->output_source = sd_event_source_disable_unref(c->output_source);
        c->output_fd = close_fd(c->output_fd);
        if (c->line_open)
                output_line_end(c, false);
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Child *c = userdata;

        if (output_read(c, OUTPUT_READ_MAX) > 0)
                output_close(c);
        return 0;
}

/* --- its end, and the timeout --- */

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Child *c = userdata;

        /* What it wrote before it exited; a process it left behind gets EPIPE from now on. */
        if (c->output_fd >= 0) {
                (void) output_read(c, OUTPUT_READ_MAX);
                output_close(c);
        }
        /* Still a zombie (sd-event reaps it after this callback), so no other process can have
         * its pid meanwhile; but nothing is to be sent to it any more. */
        c->pid = 0;
        c->timer_source = sd_event_source_disable_unref(c->timer_source);

        /* The output is the callback's now: it may free c before it looks at the result. */
        _cleanup_free_ char *output = TAKE_PTR(c->buf);
        output[c->len] = 0;
        ChildResult result = {
                .exit_status = si->si_code == CLD_EXITED ? si->si_status : -1,
                .signal = si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED ? si->si_status : 0,
                .timed_out = c->timed_out,
                .output = output,
                .output_len = c->len,
                .lines = c->lines,
                .lines_dropped = c->lines_dropped,
                .truncated = c->truncated,
        };
        c->done(c, &result, c->userdata);
        return 0;
}

/* SIGTERM first (if there is time for it), then SIGKILL. */
static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Child *c = userdata;
        int sig = c->timed_out || c->kill_timeout == 0 ? SIGKILL : SIGTERM;

        c->timed_out = true;
        if (c->on_timeout)
                c->on_timeout(c, sig, c->userdata);
        (void) kill(-c->pid, sig);
        if (sig == SIGTERM) {
                (void) sd_event_source_set_time_relative(s, c->kill_timeout);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        return 0;
}

/* --- starting it --- */

static int child_exec(const ChildOptions *o, int in_fd, int out_fd, pid_t *ret) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        int r;

        sigemptyset(&none);
        sigfillset(&all);
        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return -r;
        r = posix_spawnattr_init(&attr);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return -r;
        }
        /* dup2() clears O_CLOEXEC on 0-2; every other descriptor is closed, inheritable or not. */
        if ((r = in_fd >= 0 ? posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO)
                            : posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0)) == 0 &&
            (r = posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO)) == 0 &&
            (r = posix_spawn_file_actions_adddup2(&fa, out_fd, STDERR_FILENO)) == 0 &&
            (r = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
            (r = o->cwd ? posix_spawn_file_actions_addchdir_np(&fa, o->cwd) : 0) == 0 &&
            (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                                         POSIX_SPAWN_SETPGROUP)) == 0 &&
            (r = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
            (r = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
            (r = posix_spawnattr_setpgroup(&attr, 0)) == 0)
                r = posix_spawn(ret, o->argv[0], &fa, &attr, o->argv, o->envp ?: environ);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        return -r;
}

/* A pipe that holds input (it fits into the empty pipe: CHILD_INPUT_MAX) and then EOF; returns
 * its reading end in *ret. */
static int input_pipe(const char *input, size_t n, int *ret) {
        _cleanup_close_ int in_read = -EBADF, in_write = -EBADF;
        int fds[2];
        ssize_t w;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        in_read = fds[0];
        in_write = fds[1];
        w = n > 0 ? write(in_write, input, n) : 0;
        if (w < 0)
                return -errno;
        if ((size_t) w != n)
                return -EIO;
        *ret = TAKE_FD(in_read);
        return 0;
}

/* The output pipe: its reading end (non-blocking) for us, its writing end for the child. */
static int output_pipe(int *ret_read, int *ret_write) {
        int fds[2];

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
                int r = -errno;
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        *ret_read = fds[0];
        *ret_write = fds[1];
        return 0;
}

static int child_new(const ChildOptions *o, Child **ret) {
        Child *c = calloc(1, sizeof(Child));

        if (!c)
                return -ENOMEM;
        c->output_fd = -EBADF;
        c->buf = malloc(o->max_bytes + 1);
        if (!c->buf) {
                free(c);
                return -ENOMEM;
        }
        c->max_bytes = o->max_bytes;
        c->max_line = o->max_line;
        c->max_lines = o->max_lines;
        c->kill_timeout = o->kill_timeout;
        c->done = o->done;
        c->on_line = o->on_line;
        c->on_timeout = o->on_timeout;
        c->userdata = o->userdata;
        *ret = c;
        return 0;
}

/* The event sources first, so that nothing can fail once the child runs but the child source. */
static int child_add_sources(Child *c, sd_event *e, usec_t timeout) {
        int r = sd_event_add_io(e, &c->output_source, c->output_fd, EPOLLIN, on_output, c);

        if (r < 0 || timeout == 0 || timeout == USEC_INFINITY)
                return r;
        return sd_event_add_time_relative(e, &c->timer_source, CLOCK_MONOTONIC, timeout, TIMER_ACCURACY, on_timer,
                                          c);
}

int child_spawn(sd_event *e, const ChildOptions *o, Child **ret) {
        _cleanup_(child_freep) Child *c = NULL;
        _cleanup_close_ int in_fd = -EBADF, out_fd = -EBADF;
        pid_t pid;
        int r;

        assert(e && o && ret);
        if (!o->argv || !o->argv[0] || o->argv[0][0] != '/' || !o->done || o->max_bytes == 0)
                return -EINVAL;
        if (o->input && o->input_len > CHILD_INPUT_MAX)
                return -E2BIG;
        r = child_new(o, &c);
        if (r < 0)
                return r;
        if (o->input && (r = input_pipe(o->input, o->input_len, &in_fd)) < 0)
                return r;
        if ((r = output_pipe(&c->output_fd, &out_fd)) < 0 || (r = child_add_sources(c, e, o->timeout)) < 0)
                return r;

        r = child_exec(o, in_fd, out_fd, &pid);
        if (r < 0)
                return r;
        r = sd_event_add_child(e, &c->exit_source, pid, WEXITED, on_child_exit, c);
        if (r < 0) {
                /* It cannot be watched: do not leave it running unwatched (and do not wait for it
                 * here either: it stays a zombie). */
                (void) kill(-pid, SIGKILL);
                return r;
        }
        /* After its output: what it wrote before it exited is read first. */
        (void) sd_event_source_set_priority(c->exit_source, SD_EVENT_PRIORITY_NORMAL + 1);
        c->pid = pid;
        *ret = TAKE_PTR(c);
        return 0;
}

/* --- the end of a Child --- */

static Child *child_release(Child *c, int sig, bool reap) {
        if (!c)
                return NULL;
        c->exit_source = sd_event_source_disable_unref(c->exit_source);
        c->output_source = sd_event_source_disable_unref(c->output_source);
        c->timer_source = sd_event_source_disable_unref(c->timer_source);
        if (c->pid > 0 && sig > 0)
                (void) kill(-c->pid, sig);
        if (c->pid > 0 && reap)
                while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        (void) close_fd(c->output_fd);
        free(c->buf);
        free(c);
        return NULL;
}

Child *child_free(Child *c) {
        return child_release(c, SIGKILL, true);
}

Child *child_abandon(Child *c, int sig) {
        return child_release(c, sig, false);
}

pid_t child_pid(const Child *c) {
        return c ? c->pid : 0;
}

bool child_result_ok(const ChildResult *r) {
        return r && !r->timed_out && r->exit_status == 0;
}

const char *child_result_describe(const ChildResult *r, char *buf, size_t size) {
        if (r->timed_out)
                snprintf(buf, size, "timed out and was killed");
        else if (r->exit_status >= 0)
                snprintf(buf, size, "exited with status %d", r->exit_status);
        else
                snprintf(buf, size, "was killed by signal %d (%s)", r->signal, strsignal(r->signal));
        return buf;
}
