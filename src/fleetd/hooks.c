/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "hooks.h"
#include "log.h"

#define HOOK_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Read per wake-up of a hook's output, so that a hook that writes without end cannot starve the
 * loop; and at most this much more once it exited (a child it left behind may keep writing). */
#define OUTPUT_READ_MAX ((size_t) 64 * 1024)
#define TIMER_ACCURACY (10 * USEC_PER_MSEC)

/* --- pure parts --- */

bool hook_name_is_valid(const char *name) {
        size_t n = name ? strlen(name) : 0;

        return n > 0 && name[0] != '.' && name[n - 1] != '~';
}

int hook_event_format(RouteEvent event, const RouteRecord *route, char **ret) {
        const char *what = route_event_to_string(event);
        _cleanup_free_ char *text = NULL;
        char *line;

        if (!what || !route->app || !route->unit || !route->host || !route->process || route->port == 0)
                return -EINVAL;
        json_auto_t *j = route_record_to_json(route);
        if (!j || json_object_set_new(j, "event", json_string(what)) < 0)
                return -ENOMEM;
        text = jx_dumps(j);
        if (!text)
                return -ENOMEM;
        if (strlen(text) + 1 > PIPE_BUF)
                return -E2BIG;
        if (asprintf(&line, "%s\n", text) < 0)
                return -ENOMEM;
        *ret = line;
        return 0;
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

int hooks_list(const char *dir, char ***ret) {
        _cleanup_(closedirp) DIR *d = opendir(dir);    /* O_CLOEXEC, as glibc opens it */
        _cleanup_strv_free_ char **l = NULL;
        int r;

        if (!d && errno != ENOENT)
                return -errno;
        while (d) {
                struct dirent *de;
                struct stat st;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno > 0)
                                return -errno;
                        break;
                }
                if (!hook_name_is_valid(de->d_name))
                        continue;
                /* A link that leads nowhere, or a file gone meanwhile, is no hook. */
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
                        continue;
                r = strv_extend(&l, de->d_name);
                if (r < 0)
                        return r;
        }
        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
        }
        qsort(l, strv_length(l), sizeof(char *), cmp_names);
        *ret = TAKE_PTR(l);
        return 0;
}

/* --- the runner --- */

typedef struct HookRun HookRun;

struct HookRun {
        HookRunner *runner;
        HookRun *next;                /* in the queue, or among the running */
        char *path, *name, *unit, *input;
        RouteEvent event;

        pid_t pid;                    /* also its process group */
        int out_fd;
        sd_event_source *child, *output, *timer;
        bool timed_out;

        char line[HOOK_LOG_LINE_MAX + 1];
        size_t line_len;
        bool line_open;               /* bytes since the last newline */
        bool line_cut;                /* the current line is longer than HOOK_LOG_LINE_MAX */
        HookResult result;
};

struct HookRunner {
        sd_event *event;
        char *dir;
        usec_t timeout, kill_timeout;
        unsigned max_running, max_queued;
        hook_done_t done;
        void *userdata;

        HookRun *queue, *queue_tail;  /* in the order runs must start */
        unsigned n_queued;
        HookRun *running;
        unsigned n_running;
};

static void hook_runner_dispatch(HookRunner *r);

static HookRun *hook_run_free(HookRun *run) {
        if (!run)
                return NULL;
        sd_event_source_disable_unref(run->child);
        sd_event_source_disable_unref(run->output);
        sd_event_source_disable_unref(run->timer);
        if (run->out_fd >= 0)
                close(run->out_fd);
        free(run->path);
        free(run->name);
        free(run->unit);
        free(run->input);
        free(run);
        return NULL;
}

static int hook_run_new(HookRunner *r, const char *name, RouteEvent event, const char *unit, const char *input,
                        HookRun **ret) {
        HookRun *run = calloc(1, sizeof(*run));

        if (!run)
                return -ENOMEM;
        run->runner = r;
        run->out_fd = -EBADF;
        run->event = event;
        run->name = strdup(name);
        run->unit = strdup(unit);
        run->input = strdup(input);
        if (!run->name || !run->unit || !run->input || asprintf(&run->path, "%s/%s", r->dir, name) < 0) {
                run->path = NULL;
                hook_run_free(run);
                return -ENOMEM;
        }
        *ret = run;
        return 0;
}

/* --- output, logged line by line --- */

static void hook_run_end_line(HookRun *run) {
        if (run->result.lines_logged < HOOK_LOG_LINES) {
                run->line[run->line_len] = 0;
                log_internal(LOG_INFO, 0, run->unit, "Hook %s: %s%s", run->name, run->line,
                             run->line_cut ? " [...]" : "");
                run->result.lines_logged++;
                run->result.truncated = run->result.truncated || run->line_cut;
        } else
                run->result.lines_dropped++;
        run->line_len = 0;
        run->line_open = run->line_cut = false;
}

static void hook_run_take_output(HookRun *run, const char *buf, size_t n) {
        while (n > 0) {
                const char *nl = memchr(buf, '\n', n);
                size_t k = nl ? (size_t) (nl - buf) : n;

                /* Past the lines that are logged, only newlines are counted. */
                if (run->result.lines_logged < HOOK_LOG_LINES) {
                        size_t room = HOOK_LOG_LINE_MAX - run->line_len;
                        memcpy(run->line + run->line_len, buf, MIN(k, room));
                        run->line_len += MIN(k, room);
                        run->line_cut = run->line_cut || k > room;
                }
                run->line_open = run->line_open || k > 0;
                if (!nl)
                        return;
                hook_run_end_line(run);
                buf = nl + 1;
                n -= k + 1;
        }
}

/* Reads up to max bytes of what is there; 1 at the end of the output (or on an error: nothing
 * more will be read), else 0. */
static int hook_run_read(HookRun *run, size_t max) {
        char buf[4096];

        for (size_t total = 0; total < max;) {
                ssize_t k = read(run->out_fd, buf, sizeof(buf));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        return 0;
                if (k <= 0)
                        return 1;
                hook_run_take_output(run, buf, (size_t) k);
                total += (size_t) k;
        }
        return 0;
}

static void hook_run_close_output(HookRun *run) {
        run->output = sd_event_source_disable_unref(run->output);
        if (run->out_fd >= 0)
                close(run->out_fd);
        run->out_fd = -EBADF;
        if (run->line_open)
                hook_run_end_line(run);
}

static int on_hook_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HookRun *run = userdata;

        if (hook_run_read(run, OUTPUT_READ_MAX) > 0)
                hook_run_close_output(run);
        return 0;
}

/* --- the end of a run --- */

static void hook_run_log_result(const HookRun *run) {
        const HookResult *res = &run->result;
        const char *what = route_event_to_string(run->event);

        if (res->error < 0)
                log_internal(LOG_WARNING, res->error, run->unit, "Failed to run hook %s for %s of %s: %m", run->path,
                             what, run->unit);
        else if (res->timed_out)
                log_internal(LOG_WARNING, 0, run->unit, "Hook %s (%s of %s) timed out and was ended by SIG%s.",
                             run->name, what, run->unit, strna(sigabbrev_np(res->signal)));
        else if (res->signal > 0)
                log_internal(LOG_WARNING, 0, run->unit, "Hook %s (%s of %s) was killed by SIG%s.", run->name, what,
                             run->unit, strna(sigabbrev_np(res->signal)));
        else if (res->exit_status != 0)
                log_internal(LOG_WARNING, 0, run->unit, "Hook %s (%s of %s) failed with exit status %d.", run->name,
                             what, run->unit, res->exit_status);
        if (res->lines_dropped > 0)
                log_internal(LOG_INFO, 0, run->unit, "Hook %s: %" PRIu64 " more line(s) of output not logged.",
                             run->name, res->lines_dropped);
}

/* Takes run off the running list, reports it and frees it. */
static void hook_run_end(HookRun *run) {
        HookRunner *r = run->runner;

        for (HookRun **p = &r->running; *p; p = &(*p)->next)
                if (*p == run) {
                        *p = run->next;
                        r->n_running--;
                        break;
                }
        run->result.name = run->name;
        run->result.unit = run->unit;
        run->result.event = run->event;
        hook_run_log_result(run);
        if (r->done)
                r->done(r, &run->result, r->userdata);
        hook_run_free(run);
}

static int on_hook_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        HookRun *run = userdata;

        if (si->si_code == CLD_EXITED)
                run->result.exit_status = si->si_status;
        else
                run->result.signal = si->si_status;
        /* What it wrote before it exited; a child it left behind gets EPIPE from now on.
         * sd-event reaps it after this callback. */
        if (run->out_fd >= 0) {
                hook_run_read(run, OUTPUT_READ_MAX);
                hook_run_close_output(run);
        }
        HookRunner *r = run->runner;
        hook_run_end(run);
        hook_runner_dispatch(r);     /* a run of this hook, or one that waited for a slot */
        return 0;
}

static int on_hook_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HookRun *run = userdata;
        HookRunner *r = run->runner;
        char buf[32];

        if (!run->timed_out) {
                run->timed_out = run->result.timed_out = true;
                log_internal(LOG_WARNING, 0, run->unit, "Hook %s (%s of %s) still runs after %s, sending SIGTERM.",
                             run->name, route_event_to_string(run->event), run->unit,
                             format_duration(buf, sizeof(buf), r->timeout));
                (void) kill(-run->pid, SIGTERM);
                sd_event_source_set_time_relative(s, r->kill_timeout);
                sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                return 0;
        }
        log_internal(LOG_WARNING, 0, run->unit, "Hook %s did not exit %s after SIGTERM, sending SIGKILL.", run->name,
                     format_duration(buf, sizeof(buf), r->kill_timeout));
        (void) kill(-run->pid, SIGKILL);
        return 0;
}

/* --- starting a run --- */

static int hook_run_spawn(HookRun *run, int in_fd, int out_fd) {
        char *argv[] = { run->path, (char *) route_event_to_string(run->event), NULL };
        _cleanup_free_ char *event_env = NULL;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        int r;

        if (asprintf(&event_env, "FLEETD_EVENT=%s", argv[1]) < 0)
                return -ENOMEM;
        char *envp[] = { (char *) HOOK_PATH, event_env, NULL };

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
        /* dup2() clears O_CLOEXEC on 0-2 only; every other descriptor is closed in the child. */
        if ((r = posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO)) == 0 &&
            (r = posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO)) == 0 &&
            (r = posix_spawn_file_actions_adddup2(&fa, out_fd, STDERR_FILENO)) == 0 &&
            (r = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
            (r = posix_spawn_file_actions_addchdir_np(&fa, "/")) == 0 &&
            (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                                         POSIX_SPAWN_SETPGROUP)) == 0 &&
            (r = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
            (r = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
            (r = posix_spawnattr_setpgroup(&attr, 0)) == 0)
                r = posix_spawn(&run->pid, run->path, &fa, &attr, argv, envp);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        return -r;
}

/* The event goes into the pipe before the hook starts: it fits (hook_event_format() keeps it
 * within PIPE_BUF), and the hook reads it up to EOF. */
static int hook_run_start(HookRun *run) {
        HookRunner *r = run->runner;
        _cleanup_close_ int in_read = -EBADF, in_write = -EBADF, out_write = -EBADF;
        int in[2], out[2], k;

        if (pipe2(in, O_CLOEXEC) < 0)
                return -errno;
        in_read = in[0];
        in_write = in[1];
        if (pipe2(out, O_CLOEXEC) < 0)
                return -errno;
        run->out_fd = out[0];
        out_write = out[1];
        if (fcntl(run->out_fd, F_SETFL, O_NONBLOCK) < 0)
                return -errno;

        size_t n = strlen(run->input);
        ssize_t w = write(in_write, run->input, n);
        if (w < 0)
                return -errno;
        if ((size_t) w != n)
                return -EIO;
        close(TAKE_FD(in_write));

        k = hook_run_spawn(run, in_read, out_write);
        if (k < 0)
                return k;

        /* From here on the child runs: it is watched whatever else fails. */
        k = sd_event_add_child(r->event, &run->child, run->pid, WEXITED, on_hook_exit, run);
        if (k < 0) {
                /* Cannot be watched through the loop: do not leave it running unwatched (and never
                 * wait for it here; it stays a zombie). */
                (void) kill(-run->pid, SIGKILL);
                return k;
        }
        (void) sd_event_source_set_priority(run->child, SD_EVENT_PRIORITY_NORMAL + 1);
        if (sd_event_add_io(r->event, &run->output, run->out_fd, EPOLLIN, on_hook_output, run) < 0) {
                /* Unlogged output is the lesser harm: the hook still runs and is reaped. */
                close(TAKE_FD(run->out_fd));
        }
        if (sd_event_add_time_relative(r->event, &run->timer, CLOCK_MONOTONIC, r->timeout, TIMER_ACCURACY,
                                       on_hook_timer, run) < 0)
                log_internal(LOG_WARNING, 0, run->unit, "Hook %s runs without a timeout: no timer.", run->name);
        return 0;
}

static bool hook_runner_is_running(const HookRunner *r, const char *name) {
        for (const HookRun *run = r->running; run; run = run->next)
                if (streq(run->name, name))
                        return true;
        return false;
}

/* Starts queued runs in order while fewer than max_running run; a run whose hook is running now
 * waits, and so do later runs of that hook (they are behind it in the queue). */
static void hook_runner_dispatch(HookRunner *r) {
        HookRun **p = &r->queue, *prev = NULL;

        while (*p && r->n_running < r->max_running) {
                HookRun *run = *p;
                int k;

                if (hook_runner_is_running(r, run->name)) {
                        prev = run;
                        p = &run->next;
                        continue;
                }
                *p = run->next;
                if (r->queue_tail == run)
                        r->queue_tail = prev;
                r->n_queued--;
                run->next = r->running;
                r->running = run;
                r->n_running++;
                k = hook_run_start(run);
                if (k < 0) {
                        run->result.error = k;
                        hook_run_end(run);    /* *p is the next run already */
                }
        }
}

int hook_runner_event(HookRunner *r, RouteEvent event, const RouteRecord *route) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *input = NULL;
        int k, queued = 0;

        k = hook_event_format(event, route, &input);
        if (k < 0)
                return k;
        k = hooks_list(r->dir, &names);
        if (k < 0)
                return k;
        STRV_FOREACH(n, names) {
                HookRun *run;

                if (r->n_queued >= r->max_queued) {
                        log_internal(LOG_WARNING, 0, route->unit, "Too many hook runs waiting (%u): hook %s misses %s of %s.",
                                     r->n_queued, *n, route_event_to_string(event), route->unit);
                        continue;
                }
                k = hook_run_new(r, *n, event, route->unit, input, &run);
                if (k < 0) {
                        hook_runner_dispatch(r);      /* what was queued still runs */
                        return k;
                }
                if (r->queue_tail)
                        r->queue_tail->next = run;
                else
                        r->queue = run;
                r->queue_tail = run;
                r->n_queued++;
                queued++;
        }
        hook_runner_dispatch(r);
        return queued;
}

int hook_runner_new(sd_event *e, const HookRunnerOptions *o, HookRunner **ret) {
        HookRunner *r;

        if (isempty(o->dir))
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->dir = strdup(o->dir);
        if (!r->dir) {
                free(r);
                return -ENOMEM;
        }
        r->event = sd_event_ref(e);
        r->timeout = o->timeout ?: HOOK_TIMEOUT_DEFAULT;
        r->kill_timeout = o->kill_timeout ?: HOOK_KILL_TIMEOUT_DEFAULT;
        r->max_running = o->max_running ?: HOOK_MAX_RUNNING_DEFAULT;
        r->max_queued = o->max_queued ?: HOOK_MAX_QUEUED_DEFAULT;
        r->done = o->done;
        r->userdata = o->userdata;
        *ret = r;
        return 0;
}

HookRunner *hook_runner_free(HookRunner *r) {
        if (!r)
                return NULL;
        while (r->queue) {
                HookRun *run = r->queue;
                r->queue = run->next;
                hook_run_free(run);
        }
        while (r->running) {
                HookRun *run = r->running;
                r->running = run->next;
                (void) kill(-run->pid, SIGTERM);
                hook_run_free(run);
        }
        sd_event_unref(r->event);
        free(r->dir);
        free(r);
        return NULL;
}

unsigned hook_runner_pending(const HookRunner *r) {
        return r->n_queued + r->n_running;
}
