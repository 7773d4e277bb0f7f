/* SPDX-License-Identifier: Apache-2.0 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "basic/strv.h"
#include "daemon-util.h"
#include "log.h"

extern char **environ;

bool daemon_help_or_version(int argc, char * const *argv, const char *name, void (*help)(void)) {
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
                        help();
                        return true;
                }
                if (streq(argv[i], "--version")) {
                        printf("%s %s\n", name, FLEETD_VERSION);
                        return true;
                }
        }
        return false;
}

static void log_config_file(const ConfTable *t, const char *path) {
        if (!path)
                log_info("No configuration file (%s does not exist); using defaults, environment and flags.",
                         t->default_path);
        /* conf_load() hands back t's own pointer when it read the fallback. */
        else if (path == t->fallback_path)
                log_info("Read the configuration from %s, as %s does not exist.", path, t->default_path);
        else
                log_info("Read the configuration from %s.", path);
}

int daemon_load_config(const ConfTable *t, void *obj, int argc, char * const *argv, const int *log_level) {
        _cleanup_strv_free_ char **notes = NULL;
        _cleanup_free_ char *error = NULL;
        const char *path = NULL;
        int r;

        r = conf_load(t, obj, argc, argv, environ, &path, &notes, &error);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0 && error) {
                log_error("Invalid configuration: %s", error);
                return r;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", strna(path));

        log_set_max_level(*log_level);
        log_config_file(t, path);
        STRV_FOREACH(n, notes)
                log_info("%s.", *n);
        return 0;
}

int daemon_event_new(sd_event_signal_handler_t on_sighup, void *userdata, sd_event **ret) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        sigset_t mask;
        int r;

        /* Signals arrive through the loop; children are reaped through its child sources,
         * which need SIGCHLD blocked in every thread. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD);
        if (on_sighup)
                sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(-errno, "Failed to block signals: %m");

        r = sd_event_default(&e);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");
        /* No handler: the signal ends the loop with exit code 0 (userdata NULL). */
        if ((r = sd_event_add_signal(e, NULL, SIGTERM, NULL, NULL)) < 0 ||
            (r = sd_event_add_signal(e, NULL, SIGINT, NULL, NULL)) < 0 ||
            (on_sighup && (r = sd_event_add_signal(e, NULL, SIGHUP, on_sighup, userdata)) < 0))
                return log_error_errno(r, "Failed to watch signals: %m");
        r = sd_event_set_watchdog(e, true);
        if (r < 0)
                return log_error_errno(r, "Failed to enable the watchdog: %m");

        *ret = TAKE_PTR(e);
        return 0;
}

void daemon_notify_ready(const char *status) {
        if (status)
                (void) sd_notifyf(false, "READY=1\nSTATUS=%s", status);
        else
                (void) sd_notify(false, "READY=1");
}

void daemon_notify_status(const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return;
        (void) sd_notifyf(false, "STATUS=%s", s);
}

int daemon_run(sd_event *e) {
        int r;

        r = sd_event_loop(e);
        (void) sd_notify(false, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return 0;
}
