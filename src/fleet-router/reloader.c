/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "basic/fileio.h"
#include "basic/error-util.h"
#include "basic/strv.h"
#include "child.h"
#include "log.h"
#include "reloader.h"

#define RELOAD_RETRY_MIN (1 * USEC_PER_SEC)
#define RELOAD_RETRY_MAX (30 * USEC_PER_SEC)
/* A rendered config is about 500 bytes per app; this is far beyond any real one. */
#define CONFIG_SIZE_MAX ((size_t) 64 << 20)
/* nginx's pid file and /proc/<pid>/comm */
#define SMALL_FILE_MAX ((size_t) 4096)
/* What is kept of the output of nginx -t and of the reload command, for the log. */
#define COMMAND_OUTPUT_MAX ((size_t) 4096)

typedef enum ReloaderState {
        RELOADER_IDLE,
        RELOADER_VALIDATING,          /* nginx -t on temp_path */
        RELOADER_RELOADING,           /* the reload command */
} ReloaderState;

struct Reloader {
        sd_event *event;
        char *output;
        char *nginx_binary;
        char **reload_command;        /* NULL: SIGHUP to the pid in pid_file */
        char *pid_file;
        usec_t timeout;

        ReloaderState state;
        Child *command;               /* nginx -t or the reload command */
        char *installed;              /* the output's text */
        char *refused;                /* the text nginx -t refused last: not tried again */
        char *candidate;              /* being validated */
        char *temp_path;              /* its file */
        char *pending;                /* submitted while busy: next */

        usec_t command_started;       /* for the debug log: how long nginx -t and reloads take */
        sd_event_source *idle_defer;
        sd_event_source *retry_timer; /* a failed reload, again */
        usec_t retry_delay;
        bool reload_wanted;           /* the installed config is not known to be loaded */

        ReloaderStats stats;
        reloader_idle_t on_idle;
        void *userdata;
};

static void reloader_next(Reloader *r);

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* nginx's lines as one log line: "nginx: [emerg] ... ; nginx: configuration file ... failed". */
static void flatten(char *s) {
        size_t n = strlen(s);

        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
                s[--n] = 0;
        for (char *p = s; *p; p++)
                if (*p == '\n')
                        *p = ';';
}

static void remove_leftovers(const char *output) {
        _cleanup_free_ char *pattern = write_file_temp_pattern(output);
        glob_t g = {};

        if (pattern && glob(pattern, GLOB_NOSORT, NULL, &g) == 0)
                for (size_t i = 0; i < g.gl_pathc; i++)
                        (void) unlink(g.gl_pathv[i]);
        globfree(&g);
}

static void reloader_schedule_idle(Reloader *r) {
        (void) sd_event_source_set_enabled(r->idle_defer, SD_EVENT_ONESHOT);
}

static int on_idle_defer(sd_event_source *s, void *userdata) {
        Reloader *r = userdata;

        if (r->state == RELOADER_IDLE && !r->pending && r->on_idle)
                r->on_idle(r, r->userdata);
        return 0;
}

static void reloader_drop_candidate(Reloader *r) {
        if (r->temp_path)
                (void) unlink(r->temp_path);
        r->temp_path = mfree(r->temp_path);
        r->candidate = mfree(r->candidate);
}

static double command_ms(const Reloader *r) {
        return (double) (now_usec(CLOCK_MONOTONIC) - r->command_started) / (double) USEC_PER_MSEC;
}

/* Runs argv as a child: its stdin /dev/null, the environment ours, SIGKILL at the timeout. */
static int reloader_run(Reloader *r, char * const *argv, child_done_t done) {
        ChildOptions o = {
                .argv = argv,
                .timeout = r->timeout,
                .max_bytes = COMMAND_OUTPUT_MAX,
                .done = done,
                .userdata = r,
        };

        return child_spawn(r->event, &o, &r->command);
}

/* --- the reload command --- */

static void reloader_schedule_retry(Reloader *r) {
        r->retry_delay = r->retry_delay ? MIN(r->retry_delay * 2, RELOAD_RETRY_MAX) : RELOAD_RETRY_MIN;
        (void) sd_event_source_set_time_relative(r->retry_timer, r->retry_delay);
        (void) sd_event_source_set_enabled(r->retry_timer, SD_EVENT_ONESHOT);
}

/* After a reload attempt: counts, logs, and schedules a retry on failure. The caller goes on
 * with reloader_next(). why and output (may be NULL) explain a failure. */
static void reloader_reload_done(Reloader *r, bool ok, const char *why, const char *output) {
        if (ok) {
                if (r->stats.reload_failures > 0 && r->retry_delay > 0)
                        log_info("Reloaded nginx (after failed attempts).");
                else
                        log_debug("Reloaded nginx (in %.1f ms).", command_ms(r));
                r->stats.reloads++;
                r->reload_wanted = false;
                r->retry_delay = 0;
                return;
        }
        /* The first failure in a row is worth a warning; the retries are not. */
        log_full_errno(r->retry_delay == 0 ? LOG_WARNING : LOG_DEBUG, 0, "Reloading nginx failed: %s; trying again later%s%s",
                       why, isempty(output) ? "." : ": ", strempty(output));
        r->stats.reload_failures++;
        reloader_schedule_retry(r);
}

static void on_reloaded(Child *c, const ChildResult *result, void *userdata) {
        Reloader *r = userdata;
        _cleanup_free_ char *why = NULL, *output = NULL;
        char how[96];

        r->command = child_free(r->command);
        r->state = RELOADER_IDLE;
        if (!child_result_ok(result)) {
                output = strdup(result->output);
                if (output)
                        flatten(output);
                if (asprintf(&why, "%s %s", r->reload_command[0], child_result_describe(result, how, sizeof(how))) < 0)
                        why = NULL;
        }
        reloader_reload_done(r, child_result_ok(result), strna(why), output);
        reloader_next(r);
}

/* The built-in reload: SIGHUP to the nginx master named by the pid file, as `nginx -s reload`
 * does, without starting a process that parses the whole config again. The pid must be an
 * nginx process: a stale pid file must not make us signal another process. */
static int signal_nginx(const char *pid_file, char **ret_why) {
        _cleanup_free_ char *text = NULL, *comm = NULL, *comm_path = NULL;
        char *end = NULL;
        long pid;
        int k;

        k = read_file_limit(pid_file, SMALL_FILE_MAX, &text, NULL);
        if (k < 0)
                return error_set(ret_why, k, "cannot read %s (%s): is nginx running?", pid_file, strerror(-k));
        errno = 0;
        pid = strtol(text, &end, 10);
        if (errno != 0 || end == text || (*end && *end != '\n') || pid <= 1 || pid > INT32_MAX)
                return error_set(ret_why, -EBADMSG, "%s holds no pid", pid_file);
        if (asprintf(&comm_path, "/proc/%ld/comm", pid) < 0)
                return -ENOMEM;
        k = read_file_limit(comm_path, SMALL_FILE_MAX, &comm, NULL);
        if (k < 0 || !startswith(comm, "nginx"))
                return error_set(ret_why, -ESRCH, "process %ld of %s is not nginx (any more)", pid, pid_file);
        if (kill((pid_t) pid, SIGHUP) < 0) {
                k = -errno;
                return error_set(ret_why, k, "cannot signal nginx (pid %ld): %s", pid, strerror(-k));
        }
        return 0;
}

/* Starts a reload: the reload command, or the built-in signal (done at once). */
static void reloader_start_reload(Reloader *r) {
        _cleanup_free_ char *why = NULL;
        int k;

        r->command_started = now_usec(CLOCK_MONOTONIC);
        (void) sd_event_source_set_enabled(r->retry_timer, SD_EVENT_OFF);
        if (!r->reload_command) {
                k = signal_nginx(r->pid_file, &why);
                reloader_reload_done(r, k >= 0, strna(why), NULL);
                return;
        }
        k = reloader_run(r, r->reload_command, on_reloaded);
        if (k < 0) {
                if (asprintf(&why, "cannot run %s: %s", r->reload_command[0], strerror(-k)) < 0)
                        why = NULL;
                reloader_reload_done(r, false, strna(why), NULL);
                return;
        }
        r->state = RELOADER_RELOADING;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Reloader *r = userdata;

        if (!r->reload_wanted)
                return 0;
        if (r->state != RELOADER_IDLE) {
                /* A cycle runs; it reloads itself if it installs something. Look again later. */
                reloader_schedule_retry(r);
                return 0;
        }
        reloader_start_reload(r);
        if (r->state == RELOADER_IDLE)
                reloader_next(r);
        return 0;
}

/* --- validation and installation --- */

/* The candidate passed nginx -t: rename it into place. Returns whether nginx may be running
 * with the old file (so it needs a reload), or a negative errno. */
static int reloader_install(Reloader *r) {
        bool existed = access(r->output, F_OK) >= 0;
        int k = write_file_commit(r->temp_path, r->output);

        if (k < 0)
                return k;
        r->temp_path = mfree(r->temp_path);
        free(r->installed);
        r->installed = TAKE_PTR(r->candidate);
        r->refused = mfree(r->refused);
        r->stats.installs++;
        /* nginx cannot have started from a file that did not exist: it reads this one. */
        return existed;
}

static void on_validated(Child *c, const ChildResult *result, void *userdata) {
        Reloader *r = userdata;
        char how[96];
        int k;

        r->command = child_free(r->command);
        r->state = RELOADER_IDLE;
        log_debug("%s -t took %.1f ms.", r->nginx_binary, command_ms(r));

        if (!child_result_ok(result)) {
                _cleanup_free_ char *output = strdup(result->output);

                if (output)
                        flatten(output);
                log_error("nginx refused the new config (%s -t %s), keeping the old one: %s", r->nginx_binary,
                          child_result_describe(result, how, sizeof(how)), strempty(output));
                r->stats.refusals++;
                /* A config nginx rejected is not tried again; one it had no time to check is. */
                if (result->exit_status > 0) {
                        free(r->refused);
                        r->refused = TAKE_PTR(r->candidate);
                }
                reloader_drop_candidate(r);
                reloader_next(r);
                return;
        }

        k = reloader_install(r);
        if (k < 0) {
                log_error_errno(k, "Failed to rename %s to %s: %m", r->temp_path, r->output);
                r->stats.refusals++;
                reloader_drop_candidate(r);
        } else if (k > 0) {
                log_info("Installed a new nginx config in %s; reloading nginx.", r->output);
                r->reload_wanted = true;
                r->retry_delay = 0;
                reloader_start_reload(r);
                if (r->state == RELOADER_RELOADING)
                        return;
        } else
                log_info("Wrote the first nginx config to %s.", r->output);
        reloader_next(r);
}

/* Starts a cycle for text (taken over). */
static void reloader_start(Reloader *r, char *text) {
        _cleanup_free_ char *t = text;
        char *argv[6];
        int k;

        if (streq_ptr(t, r->installed)) {
                r->stats.unchanged++;
                return;
        }
        if (streq_ptr(t, r->refused)) {
                log_debug("Not trying a config nginx refused before.");
                return;
        }

        k = write_file_temp(r->output, t, strlen(t), 0644, &r->temp_path);
        if (k < 0) {
                log_error_errno(k, "Failed to write a temp file next to %s: %m", r->output);
                r->stats.refusals++;
                return;
        }
        r->candidate = TAKE_PTR(t);

        r->command_started = now_usec(CLOCK_MONOTONIC);
        argv[0] = r->nginx_binary;
        argv[1] = (char *) "-t";
        argv[2] = (char *) "-q";
        argv[3] = (char *) "-c";
        argv[4] = r->temp_path;
        argv[5] = NULL;
        k = reloader_run(r, argv, on_validated);
        if (k < 0) {
                log_error_errno(k, "Failed to run %s -t: %m", r->nginx_binary);
                r->stats.refusals++;
                reloader_drop_candidate(r);
                return;
        }
        r->state = RELOADER_VALIDATING;
}

/* After a cycle: the waiting text, if any, else tell the owner. */
static void reloader_next(Reloader *r) {
        while (r->state == RELOADER_IDLE && r->pending)
                reloader_start(r, TAKE_PTR(r->pending));
        if (r->state == RELOADER_IDLE)
                reloader_schedule_idle(r);
}

int reloader_submit(Reloader *r, char *text) {
        if (!text)
                return -ENOMEM;
        free(r->pending);
        r->pending = text;
        reloader_next(r);
        return 0;
}

/* --- life cycle --- */

int reloader_new(sd_event *e, const ReloaderOptions *o, reloader_idle_t on_idle, void *userdata, Reloader **ret) {
        _cleanup_(reloader_freep) Reloader *r = NULL;
        int k;

        r = calloc(1, sizeof(Reloader));
        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(e);
        r->timeout = o->timeout;
        r->on_idle = on_idle;
        r->userdata = userdata;
        r->output = strdup(o->output);
        r->nginx_binary = strdup(o->nginx_binary);
        if (o->reload_command) {
                r->reload_command = strv_copy(o->reload_command);
                if (!r->reload_command)
                        return -ENOMEM;
        } else if (!o->pid_file)
                return -EINVAL;
        r->pid_file = o->pid_file ? strdup(o->pid_file) : NULL;
        if (!r->output || !r->nginx_binary || (o->pid_file && !r->pid_file))
                return -ENOMEM;

        k = sd_event_add_defer(e, &r->idle_defer, on_idle_defer, r);
        if (k < 0)
                return k;
        (void) sd_event_source_set_enabled(r->idle_defer, SD_EVENT_OFF);
        k = sd_event_add_time_relative(e, &r->retry_timer, CLOCK_MONOTONIC, RELOAD_RETRY_MIN, 10 * USEC_PER_MSEC,
                                       on_retry, r);
        if (k < 0)
                return k;
        (void) sd_event_source_set_enabled(r->retry_timer, SD_EVENT_OFF);

        remove_leftovers(r->output);
        k = read_file_limit(r->output, CONFIG_SIZE_MAX, &r->installed, NULL);
        if (k < 0 && k != -ENOENT)
                log_warning_errno(k, "Failed to read %s; it will be replaced: %m", r->output);

        *ret = TAKE_PTR(r);
        return 0;
}

Reloader *reloader_free(Reloader *r) {
        if (!r)
                return NULL;
        child_free(r->command);
        reloader_drop_candidate(r);
        sd_event_source_disable_unref(r->idle_defer);
        sd_event_source_disable_unref(r->retry_timer);
        sd_event_unref(r->event);
        free(r->output);
        free(r->nginx_binary);
        strv_free(r->reload_command);
        free(r->pid_file);
        free(r->installed);
        free(r->refused);
        free(r->pending);
        free(r);
        return NULL;
}

bool reloader_is_busy(const Reloader *r) {
        return r->state != RELOADER_IDLE || r->pending;
}

const char *reloader_installed(const Reloader *r) {
        return r->installed;
}

const ReloaderStats *reloader_stats(const Reloader *r) {
        return &r->stats;
}
