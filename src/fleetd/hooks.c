/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "child.h"
#include "hooks.h"
#include "log.h"

#define HOOK_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

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
        Child *child;                 /* while it runs */
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

/* Frees run; a hook that still runs gets SIGTERM and is left to finish on its own. */
static HookRun *hook_run_free(HookRun *run) {
        if (!run)
                return NULL;
        child_abandon(run->child, SIGTERM);
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

/* --- what the runner logs --- */

static void on_hook_line(Child *c, const char *line, size_t len, bool cut, void *userdata) {
        HookRun *run = userdata;

        log_internal(LOG_INFO, 0, run->unit, "Hook %s: %.*s%s", run->name, (int) len, line, cut ? " [...]" : "");
}

static void on_hook_timeout(Child *c, int sig, void *userdata) {
        HookRun *run = userdata;
        HookRunner *r = run->runner;
        char buf[32];

        if (sig == SIGTERM)
                log_internal(LOG_WARNING, 0, run->unit, "Hook %s (%s of %s) still runs after %s, sending SIGTERM.",
                             run->name, route_event_to_string(run->event), run->unit,
                             format_duration(buf, sizeof(buf), r->timeout));
        else
                log_internal(LOG_WARNING, 0, run->unit, "Hook %s did not exit %s after SIGTERM, sending SIGKILL.",
                             run->name, format_duration(buf, sizeof(buf), r->kill_timeout));
}

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

/* --- the end of a run --- */

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

static void on_hook_done(Child *c, const ChildResult *cr, void *userdata) {
        HookRun *run = userdata;
        HookRunner *r = run->runner;

        run->child = child_free(run->child);
        run->result.exit_status = MAX(cr->exit_status, 0);
        run->result.signal = cr->signal;
        run->result.timed_out = cr->timed_out;
        run->result.lines_logged = cr->lines;
        run->result.lines_dropped = cr->lines_dropped;
        run->result.truncated = cr->truncated;
        hook_run_end(run);
        hook_runner_dispatch(r);     /* a run of this hook, or one that waited for a slot */
}

/* --- starting a run --- */

/* The hook's argv and environment are ours; the child runner does the rest. The event fits
 * into stdin at once (hook_event_format() keeps it within PIPE_BUF). */
static int hook_run_start(HookRun *run) {
        HookRunner *r = run->runner;
        const char *what = route_event_to_string(run->event);
        _cleanup_free_ char *event_env = NULL;

        if (asprintf(&event_env, "FLEETD_EVENT=%s", what) < 0)
                return -ENOMEM;
        char *argv[] = { run->path, (char *) what, NULL };
        char *envp[] = { (char *) HOOK_PATH, event_env, NULL };
        ChildOptions o = {
                .argv = argv,
                .envp = envp,
                .cwd = "/",
                .input = run->input,
                .input_len = strlen(run->input),
                .timeout = r->timeout,
                .kill_timeout = r->kill_timeout,
                .max_lines = HOOK_LOG_LINES,
                .max_line = HOOK_LOG_LINE_MAX,
                .max_bytes = HOOK_LOG_LINES * (HOOK_LOG_LINE_MAX + 1),
                .done = on_hook_done,
                .on_line = on_hook_line,
                .on_timeout = on_hook_timeout,
                .userdata = run,
        };
        return child_spawn(r->event, &o, &run->child);
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
                hook_run_free(run);   /* SIGTERM to its group, not waited for */
        }
        sd_event_unref(r->event);
        free(r->dir);
        free(r);
        return NULL;
}

unsigned hook_runner_pending(const HookRunner *r) {
        return r->n_queued + r->n_running;
}
