/* SPDX-License-Identifier: Apache-2.0 */
/* status UNIT|GLOB...: what systemd on the owning machine says about each unit, fetched
 * through fleetd (GET /v1/units/<name>/status, never SSH), shown the way `systemctl status`
 * shows it. */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "basic/json-util.h"
#include "basic/time-util.h"
#include "fleetctl.h"
#include "machine-legend.h"
#include "unit-args.h"

#define USEC_PER_MINUTE (60 * USEC_PER_SEC)
#define USEC_PER_HOUR   (60 * USEC_PER_MINUTE)
#define USEC_PER_DAY    (24 * USEC_PER_HOUR)
#define USEC_PER_WEEK   (7 * USEC_PER_DAY)
#define USEC_PER_MONTH  (2629800 * USEC_PER_SEC)    /* 30.44 days, as systemd counts */
#define USEC_PER_YEAR   (31557600 * USEC_PER_SEC)   /* 365.25 days */

/* "Tue 2024-01-02 03:04:05 UTC", in local time. */
static const char *format_timestamp(char *buf, size_t size, usec_t t) {
        time_t sec = (time_t) (t / USEC_PER_SEC);
        struct tm tm;

        if (!localtime_r(&sec, &tm) || strftime(buf, size, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                snprintf(buf, size, "@%" PRIu64, t / USEC_PER_SEC);
        return buf;
}

typedef struct TimeSpan {
        usec_t usec;
        const char *one, *many;   /* what follows the number */
} TimeSpan;

static const TimeSpan span_year = { USEC_PER_YEAR, " year", " years" };
static const TimeSpan span_month = { USEC_PER_MONTH, " month", " months" };
static const TimeSpan span_week = { USEC_PER_WEEK, " week", " weeks" };
static const TimeSpan span_day = { USEC_PER_DAY, " day", " days" };
static const TimeSpan span_hour = { USEC_PER_HOUR, "h", "h" };
static const TimeSpan span_minute = { USEC_PER_MINUTE, "min", "min" };
static const TimeSpan span_second = { USEC_PER_SEC, "s", "s" };

/* "2min 5s ago", "3h 12min ago", "4 days ago": systemd's way of saying how long ago, in one
 * or two parts depending on how long. */
static const char *format_relative(char *buf, size_t size, usec_t t, usec_t now) {
        static const struct {
                usec_t from;
                const TimeSpan *big, *small;
        } steps[] = {
                { USEC_PER_YEAR, &span_year, &span_month },
                { USEC_PER_MONTH, &span_month, &span_day },
                { USEC_PER_WEEK, &span_week, &span_day },
                { 2 * USEC_PER_DAY, &span_day, NULL },
                { 25 * USEC_PER_HOUR, &span_day, &span_hour },
                { 6 * USEC_PER_HOUR, &span_hour, NULL },
                { USEC_PER_HOUR, &span_hour, &span_minute },
                { 5 * USEC_PER_MINUTE, &span_minute, NULL },
                { USEC_PER_MINUTE, &span_minute, &span_second },
                { USEC_PER_SEC, &span_second, NULL },
        };
        usec_t d = t <= now ? now - t : t - now;
        unsigned long long a, b;

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                if (d < steps[i].from)
                        continue;
                a = d / steps[i].big->usec;
                if (!steps[i].small) {
                        snprintf(buf, size, "%llu%s %s", a, a == 1 ? steps[i].big->one : steps[i].big->many,
                                 t <= now ? "ago" : "left");
                        return buf;
                }
                b = d % steps[i].big->usec / steps[i].small->usec;
                snprintf(buf, size, "%llu%s %llu%s %s", a, a == 1 ? steps[i].big->one : steps[i].big->many, b,
                         b == 1 ? steps[i].small->one : steps[i].small->many, t <= now ? "ago" : "left");
                return buf;
        }
        snprintf(buf, size, "now");
        return buf;
}

/* "12.3M": base 1024, one decimal, as systemd shows memory. */
static const char *format_bytes(char *buf, size_t size, uint64_t bytes) {
        static const char suffixes[] = "KMGTPE";
        uint64_t factor = 1024;
        size_t i = 0;

        if (bytes < 1024) {
                snprintf(buf, size, "%" PRIu64 "B", bytes);
                return buf;
        }
        while (i + 1 < sizeof(suffixes) - 1 && bytes / factor >= 1024) {
                factor *= 1024;
                i++;
        }
        snprintf(buf, size, "%" PRIu64 ".%" PRIu64 "%c", bytes / factor, bytes % factor * 10 / factor, suffixes[i]);
        return buf;
}

/* The timestamp systemctl puts after "since" for each active state. */
static const char *since_property(const char *active) {
        if (streq_ptr(active, "active") || streq_ptr(active, "reloading"))
                return "ActiveEnterTimestamp";
        if (streq_ptr(active, "activating"))
                return "InactiveExitTimestamp";
        if (streq_ptr(active, "deactivating"))
                return "ActiveExitTimestamp";
        return "InactiveEnterTimestamp";
}

static void print_bullet_line(const char *name, const json_t *st) {
        const char *active = jx_str(st, "ActiveState"), *description = jx_str(st, "Description");
        const char *on = "", *off = "";

        if (isatty(STDOUT_FILENO)) {
                if (streq_ptr(active, "active") || streq_ptr(active, "reloading"))
                        on = "\033[0;1;32m", off = "\033[0m";
                else if (streq_ptr(active, "failed"))
                        on = "\033[0;1;31m", off = "\033[0m";
        }
        printf("%s\u25cf%s %s%s%s\n", on, off, jx_str(st, "Id") ?: name, description ? " - " : "",
               strempty(description));
}

static void print_active_line(const json_t *st) {
        const char *active = jx_str(st, "ActiveState"), *result = jx_str(st, "Result");
        usec_t since = (usec_t) jx_int64(st, since_property(active), 0);
        char when[64], ago[64];

        printf("%9s: %s", "Active", strna(active));
        if (streq_ptr(active, "failed") && result && !streq(result, "success"))
                printf(" (Result: %s)", result);
        else if (jx_str(st, "SubState"))
                printf(" (%s)", jx_str(st, "SubState"));
        if (since > 0)
                printf(" since %s; %s", format_timestamp(when, sizeof(when), since),
                       format_relative(ago, sizeof(ago), since, now_usec(CLOCK_REALTIME)));
        putchar('\n');
}

static void print_main_pid(const json_t *st) {
        int64_t pid = jx_int64(st, "MainPID", 0), exec_pid = jx_int64(st, "ExecMainPID", 0);
        int64_t code = jx_int64(st, "ExecMainCode", 1), status = jx_int64(st, "ExecMainStatus", 0);

        if (pid > 0)
                printf("%9s: %" PRId64 "\n", "Main PID", pid);
        else if (exec_pid > 0 && code == 2)
                printf("%9s: %" PRId64 " (code=killed, signal=%" PRId64 ")\n", "Main PID", exec_pid, status);
        else if (exec_pid > 0 && code == 3)
                printf("%9s: %" PRId64 " (code=dumped, signal=%" PRId64 ")\n", "Main PID", exec_pid, status);
        else if (exec_pid > 0)
                printf("%9s: %" PRId64 " (code=exited, status=%" PRId64 ")\n", "Main PID", exec_pid, status);
}

/* The last journal lines fleetd may send along, after a blank line as systemctl does. */
static void print_journal(const json_t *journal) {
        json_t *line;
        size_t i;

        if (json_is_string(journal) && json_string_length(journal) > 0) {
                const char *s = json_string_value(journal);
                printf("\n%s%s", s, s[strlen(s) - 1] == '\n' ? "" : "\n");
                return;
        }
        if (json_array_size(journal) > 0)
                putchar('\n');
        json_array_foreach(journal, i, line)
                printf("%s\n", strempty(json_string_value(line)));
}

static int status_print(MachineLegends *legends, const char *name, const json_t *st) {
        _cleanup_free_ char *machine = NULL;
        const char *load = jx_str(st, "LoadState"), *fragment = jx_str(st, "FragmentPath");
        int64_t memory = jx_int64(st, "MemoryCurrent", -1), restarts = jx_int64(st, "NRestarts", 0);
        char buf[64];
        int r;

        r = machine_legend(legends, jx_str(st, "machine"), false, &machine);
        if (r < 0)
                return r;
        print_bullet_line(name, st);
        printf("%9s: %s", "Loaded", strna(load));
        if (!isempty(fragment))
                printf(" (%s)", fragment);
        putchar('\n');
        print_active_line(st);
        print_main_pid(st);
        if (memory >= 0 && memory < INT64_MAX)
                printf("%9s: %s\n", "Memory", format_bytes(buf, sizeof(buf), (uint64_t) memory));
        if (restarts > 0)
                printf("%9s: %" PRId64 "\n", "Restarts", restarts);
        if (machine)
                printf("%9s: %s\n", "Machine", machine);
        print_journal(json_object_get(st, "journal"));
        return fflush(stdout) == 0 ? 0 : -EIO;
}

int verb_status(Client *c, int argc, char **argv) {
        _cleanup_(machine_legends_done) MachineLegends legends = { .client = c };
        json_auto_t *units = NULL, *all = json_array();
        bool first = true;
        int r, failure = 0;
        json_t *u;
        size_t i;

        if (!all)
                return -ENOMEM;
        r = units_resolve(c, argv, 0, &units, &failure);
        if (r < 0)
                return r;
        json_array_foreach(units, i, u) {
                const char *name = jx_str(u, "name");
                _cleanup_free_ char *path = unit_path(c, name, "/status");
                json_auto_t *st = NULL;

                if (!path)
                        return -ENOMEM;
                r = client_call(c, "GET", path, NULL, &st);
                if (error_is_fatal(r))
                        return r;
                failure_merge(&failure, r);
                if (r < 0)
                        continue;
                if (arg_json) {
                        if (json_array_append(all, st) < 0)
                                return -ENOMEM;
                        continue;
                }
                if (!first)
                        putchar('\n');
                first = false;
                r = status_print(&legends, name, st);
                if (r < 0)
                        return r;
        }
        if (arg_json && json_array_size(all) > 0) {
                r = print_json(all);
                if (r < 0)
                        return r;
        }
        return failure;
}
