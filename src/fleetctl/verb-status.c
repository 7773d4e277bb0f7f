/* SPDX-License-Identifier: Apache-2.0 */
/* status UNIT|GLOB...: what systemd on the owning machine says about each unit, fetched
 * through fleetd (GET /v1/units/<name>/status, never SSH), shown the way `systemctl status`
 * shows it. A unit that runs nowhere has no owning machine: then the unit itself says why, if
 * the engine could not place it ("db.service: not placed: no machine has metadata role=db"). */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "basic/json-util.h"
#include "basic/time-util.h"
#include "fleetctl.h"
#include "machine-legend.h"
#include "time-format.h"
#include "unit-args.h"
#include "wait.h"

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

/* A unit no machine reports (the status answer was a 404): not placed, with the engine's
 * reason; or as fleetd said. Returns the unit's failure. */
static int status_not_running(Client *c, const char *name) {
        _cleanup_free_ char *path = unit_path(c, name, "");
        json_auto_t *unit = NULL;
        const char *reason;
        int r;

        if (!path)
                return -ENOMEM;
        r = client_call_full(c, "GET", path, NULL, CLIENT_QUIET_NOT_FOUND, NULL, &unit);
        if (r == -ENOENT)
                fprintf(stderr, "fleetctl: No unit %s.\n", name);
        if (r < 0)
                return r;
        reason = wait_unplaced_reason(unit);
        if (reason) {
                fprintf(stderr, "fleetctl: %s: not placed: %s\n", name, reason);
                return -EIO;
        }
        fprintf(stderr, "fleetctl: Unit %s is not running on any machine.\n", name);
        return -ENOENT;
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
                r = client_call_full(c, "GET", path, NULL, CLIENT_QUIET_NOT_FOUND, NULL, &st);
                if (r == -ENOENT)
                        r = status_not_running(c, name);
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
