/* SPDX-License-Identifier: Apache-2.0 */
/* Hooks: the pure parts (names, the event JSON), the directory listing, then the runner with real
 * shell scripts as hooks on one sd-event loop: what a hook gets (stdin, argument, environment, no
 * inherited descriptor, no blocked signal, its own process group), a hook past its timeout,
 * a hook that ignores SIGTERM, a failing hook, a hook that writes too much, a hook that cannot
 * start, the cap on running hooks and the order of events per hook. Logs go to a file and are
 * checked there. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "hooks.h"
#include "../tests.h"

#define ID "0123456789abcdef0123456789abcdef"

static char dir[64];                  /* the test's own directory: hooks.d/ and outputs */
static char hooks_dir[96];

static const RouteRecord route = {
        .app = (char *) "hello", .unit = (char *) "hello_v2.web@4.service", .host = (char *) "192.0.2.7",
        .port = 20004, .release = 2, .process = (char *) "web", .machine = ID,
};

/* --- pure parts --- */

TEST(names) {
        ASSERT_TRUE(hook_name_is_valid("10-router"));
        ASSERT_TRUE(hook_name_is_valid("a"));
        ASSERT_TRUE(hook_name_is_valid("notify.sh"));
        ASSERT_TRUE(!hook_name_is_valid(""));
        ASSERT_TRUE(!hook_name_is_valid(NULL));
        ASSERT_TRUE(!hook_name_is_valid("."));
        ASSERT_TRUE(!hook_name_is_valid(".."));
        ASSERT_TRUE(!hook_name_is_valid(".hidden"));
        ASSERT_TRUE(!hook_name_is_valid("10-router~"));
        ASSERT_TRUE(!hook_name_is_valid("~"));
}

TEST(event_json) {
        _cleanup_free_ char *added = NULL, *removed = NULL;
        char *none = NULL;

        ASSERT_INT(hook_event_format(ROUTE_EVENT_ADDED, &route, &added), 0);
        ASSERT_STR(added, "{\"app\":\"hello\",\"event\":\"route-added\",\"host\":\"192.0.2.7\",\"machine\":\"" ID
                          "\",\"port\":20004,\"process\":\"web\",\"release\":2,\"unit\":\"hello_v2.web@4.service\"}\n");
        ASSERT_INT(hook_event_format(ROUTE_EVENT_REMOVED, &route, &removed), 0);
        ASSERT_TRUE(strstr(removed, "\"event\":\"route-removed\""));

        /* it parses back as the record plus "event" */
        json_auto_t *j = json_loads(added, 0, NULL);
        _cleanup_(route_record_done) RouteRecord back = {};
        ASSERT_TRUE(j);
        ASSERT_STR(jx_str(j, "event"), "route-added");
        ASSERT_INT(json_object_del(j, "event"), 0);
        ASSERT_INT(route_record_from_json(j, &back, NULL), 0);
        ASSERT_STR(back.unit, route.unit);

        ASSERT_INT(hook_event_format(ROUTE_EVENT_NONE, &route, &none), -EINVAL);
        RouteRecord incomplete = route;
        incomplete.host = NULL;
        ASSERT_INT(hook_event_format(ROUTE_EVENT_ADDED, &incomplete, &none), -EINVAL);
        /* more than fits into an empty pipe at once */
        _cleanup_free_ char *big = malloc(5000);
        ASSERT_TRUE(big);
        memset(big, 'h', 4999);
        big[4999] = 0;
        RouteRecord large = route;
        large.host = big;
        ASSERT_INT(hook_event_format(ROUTE_EVENT_ADDED, &large, &none), -E2BIG);
        ASSERT_TRUE(!none);
}

/* --- files --- */

static void path_of(char *buf, size_t size, const char *name) {
        snprintf(buf, size, "%s/%s", dir, name);
}

static int write_file(const char *path, const char *text, mode_t mode) {
        FILE *f = fopen(path, "we");
        if (!f)
                return -errno;
        fputs(text, f);
        if (fclose(f) != 0)
                return -errno;
        return chmod(path, mode) < 0 ? -errno : 0;
}

/* A hook script named name in hooks.d; "@" in body stands for the test's directory. */
static int hook(const char *name, const char *body) {
        char path[256];
        _cleanup_free_ char *text = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&text, &n);

        if (!f)
                return -ENOMEM;
        fputs("#!/bin/sh\n", f);
        for (const char *p = body; *p; p++)
                if (*p == '@')
                        fputs(dir, f);
                else
                        fputc(*p, f);
        fclose(f);
        snprintf(path, sizeof(path), "%s/%s", hooks_dir, name);
        return write_file(path, text, 0755);
}

static void remove_hooks(void) {
        _cleanup_strv_free_ char **names = NULL;
        char path[256];

        if (hooks_list(hooks_dir, &names) < 0)
                return;
        STRV_FOREACH(n, names) {
                snprintf(path, sizeof(path), "%s/%s", hooks_dir, *n);
                unlink(path);
        }
}

static char *read_file(const char *name) {
        char path[256], *text = NULL;
        size_t size = 0;
        FILE *f;

        path_of(path, sizeof(path), name);
        f = fopen(path, "re");
        if (!f)
                return NULL;
        if (getdelim(&text, &size, 0, f) < 0) {
                free(text);
                text = strdup("");
        }
        fclose(f);
        return text;
}

static size_t count(const char *hay, const char *needle) {
        size_t n = 0;
        for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

TEST(list) {
        char sub[256], path[256];
        _cleanup_strv_free_ char **names = NULL, **none = NULL;

        ASSERT_INT(hook("20-b", "exit 0\n"), 0);
        ASSERT_INT(hook("10-a", "exit 0\n"), 0);
        ASSERT_INT(hook("B-upper", "exit 0\n"), 0);
        ASSERT_INT(hook(".hidden", "exit 0\n"), 0);
        ASSERT_INT(hook("30-backup~", "exit 0\n"), 0);
        snprintf(path, sizeof(path), "%s/40-not-executable", hooks_dir);
        ASSERT_INT(write_file(path, "#!/bin/sh\n", 0644), 0);
        snprintf(sub, sizeof(sub), "%s/50-directory", hooks_dir);
        ASSERT_INT(mkdir(sub, 0755), 0);
        snprintf(path, sizeof(path), "%s/60-link", hooks_dir);
        ASSERT_INT(symlink("10-a", path), 0);
        snprintf(path, sizeof(path), "%s/70-dangling", hooks_dir);
        ASSERT_INT(symlink("nowhere", path), 0);

        ASSERT_INT(hooks_list(hooks_dir, &names), 0);
        ASSERT_INT(strv_length(names), 4);
        ASSERT_STR(names[0], "10-a");
        ASSERT_STR(names[1], "20-b");
        ASSERT_STR(names[2], "60-link");
        ASSERT_STR(names[3], "B-upper");

        /* a missing directory: no hooks, no error */
        ASSERT_INT(hooks_list("/nonexistent/hooks.d", &none), 0);
        ASSERT_INT(strv_length(none), 0);
        /* a file is not a directory */
        snprintf(path, sizeof(path), "%s/10-a", hooks_dir);
        ASSERT_INT(hooks_list(path, &none), -ENOTDIR);

        unlink(path);
        snprintf(path, sizeof(path), "%s/.hidden", hooks_dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/30-backup~", hooks_dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/40-not-executable", hooks_dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/70-dangling", hooks_dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/60-link", hooks_dir);
        unlink(path);
        rmdir(sub);
        remove_hooks();
}

/* --- the runner --- */

#define RESULTS_MAX 64

static HookResult results[RESULTS_MAX];
static char *result_names[RESULTS_MAX];
static size_t n_results;

static void on_done(HookRunner *r, const HookResult *res, void *userdata) {
        if (n_results < RESULTS_MAX) {
                results[n_results] = *res;
                result_names[n_results] = strdup(res->name);
                results[n_results].name = result_names[n_results];
                results[n_results].unit = NULL;
                n_results++;
        }
}

static void results_clear(void) {
        for (size_t i = 0; i < n_results; i++)
                free(result_names[i]);
        n_results = 0;
}

static const HookResult *result_of(const char *name) {
        for (size_t i = 0; i < n_results; i++)
                if (streq(results[i].name, name))
                        return &results[i];
        return NULL;
}

/* Everything the runner logs goes to <dir>/log while a test runs. */
static int saved_stderr = -1;

static void capture_log(void) {
        char path[256];
        int fd;

        path_of(path, sizeof(path), "log");
        fflush(stderr);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        dup2(fd, STDERR_FILENO);
        close(fd);
}

static void release_log(void) {
        if (saved_stderr < 0)
                return;
        fflush(stderr);
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
        saved_stderr = -1;
}

/* Runs the loop until no hook is queued or running (or seconds passed); then the log is complete
 * and stderr is the test's again (for the assertions). */
static bool run_until_idle(sd_event *e, HookRunner *r, unsigned seconds) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + seconds * USEC_PER_SEC;
        bool idle = true;

        while (idle && hook_runner_pending(r) > 0)
                idle = now_usec(CLOCK_MONOTONIC) <= end && sd_event_run(e, 50 * USEC_PER_MSEC) >= 0;
        release_log();
        return idle;
}

/* Gone, or a zombie (an orphan waits for whatever reaps orphans here). */
static bool process_gone(pid_t pid) {
        char path[64], state = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT;
        if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
                state = 0;
        fclose(f);
        return state == 'Z' || state == 'X';
}

/* The signals the record of a run says are ignored, 1-31 only: glibc's posix_spawn() leaves its
 * own internal real-time signals (32, 33) ignored in the child. */
static unsigned long long ignored_standard_signals(const char *record) {
        const char *p = strstr(record, "SigIgn:\t");
        return p ? strtoull(p + strlen("SigIgn:\t"), NULL, 16) & 0x7fffffffULL : ~0ULL;
}

static bool under_valgrind(void) {
        const char *p = getenv("LD_PRELOAD");
        return p && strstr(p, "vgpreload");
}

static bool no_child_left(void) {
        siginfo_t si = {};
        return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

typedef struct Fixture {
        sd_event *event;
        HookRunner *runner;
} Fixture;

static int fixture_new(Fixture *f, usec_t timeout, usec_t kill_timeout, unsigned max_running) {
        HookRunnerOptions o = {
                .dir = hooks_dir, .timeout = timeout, .kill_timeout = kill_timeout,
                .max_running = max_running, .done = on_done,
        };
        int r = sd_event_new(&f->event);
        if (r < 0)
                return r;
        results_clear();
        capture_log();
        return hook_runner_new(f->event, &o, &f->runner);
}

static void fixture_done(Fixture *f) {
        release_log();
        hook_runner_free(f->runner);
        sd_event_unref(f->event);
        remove_hooks();
        results_clear();
}

/* What a hook gets: the event on stdin and as $1 and $FLEETD_EVENT, PATH, "/" as working
 * directory, no descriptor but 0-2 (fd 42 is open here without O_CLOEXEC), no blocked or
 * ignored signal, a process group of its own. Two events arrive in order. */
TEST(hook_gets) {
        _cleanup_(fixture_done) Fixture f = {};
        _cleanup_free_ char *record = NULL, *log = NULL;
        char fdpath[256];
        int leak;

        path_of(fdpath, sizeof(fdpath), "fd42");
        leak = open(fdpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);     /* no O_CLOEXEC on purpose */
        ASSERT_TRUE(leak >= 0);
        ASSERT_INT(dup2(leak, 42), 42);
        close(leak);

        ASSERT_INT(hook("10-record",
                        "exec >>@/record\n"
                        "printf 'arg=%s env=%s path=%s pwd=%s\\n' \"$1\" \"$FLEETD_EVENT\" \"$PATH\" \"$(pwd)\"\n"
                        "cat\n"
                        "[ -e /proc/$$/fd/42 ] && echo fd42=inherited || echo fd42=closed\n"
                        /* builtins only: a child would see the shell's mask while it forks */
                        "while read -r k v; do case $k in SigBlk:|SigIgn:) printf '%s\\t%s\\n' \"$k\" \"$v\";; esac; "
                        "done </proc/$$/status\n"
                        "[ \"$(cut -d' ' -f5 /proc/$$/stat)\" = $$ ] && echo pgrp=own || echo pgrp=shared\n"),
                   0);
        ASSERT_INT(fixture_new(&f, 0, 0, 0), 0);

        ASSERT_INT(hook_runner_event(f.runner, ROUTE_EVENT_ADDED, &route), 1);
        ASSERT_INT(hook_runner_event(f.runner, ROUTE_EVENT_REMOVED, &route), 1);
        ASSERT_TRUE(run_until_idle(f.event, f.runner, 10));
        close(42);

        ASSERT_INT(n_results, 2);
        ASSERT_INT(results[0].event, ROUTE_EVENT_ADDED);
        ASSERT_INT(results[1].event, ROUTE_EVENT_REMOVED);
        ASSERT_INT(results[0].exit_status, 0);
        ASSERT_INT(results[0].error, 0);
        ASSERT_TRUE(!results[0].timed_out && results[0].signal == 0);

        record = read_file("record");
        ASSERT_TRUE(record);
        const char *added = strstr(record, "arg=route-added env=route-added "
                                           "path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin pwd=/\n"
                                           "{\"app\":\"hello\",\"event\":\"route-added\"");
        const char *removed = strstr(record, "arg=route-removed env=route-removed");
        ASSERT_TRUE(added);
        ASSERT_TRUE(removed && removed > added);
        ASSERT_TRUE(strstr(record, "\"unit\":\"hello_v2.web@4.service\"}\n"));
        ASSERT_INT(count(record, "fd42=closed"), 2);
        ASSERT_INT(count(record, "SigBlk:\t0000000000000000\n"), 2);
        ASSERT_INT(count(record, "SigIgn:\t"), 2);
        ASSERT_INT(ignored_standard_signals(record), 0);
        ASSERT_INT(ignored_standard_signals(strstr(record, "SigIgn:\t") + 1), 0);
        ASSERT_INT(count(record, "pgrp=own"), 2);
        ASSERT_TRUE(no_child_left());

        log = read_file("log");
        ASSERT_TRUE(log);
        ASSERT_INT(count(log, "Hook 10-record"), 0);     /* no output, no failure: nothing logged */
}

/* Past the timeout: SIGTERM to the whole group (the sleep it started goes too); a hook that
 * ignores SIGTERM gets SIGKILL. Neither holds anything up: the fast hook finishes at once. */
TEST(timeout) {
        _cleanup_(fixture_done) Fixture f = {};
        _cleanup_free_ char *log = NULL, *pid_text = NULL;
        usec_t start;

        ASSERT_INT(hook("10-sleep", "echo sleeping\nsleep 30 &\necho $! >@/sleep.pid\nwait\necho never\n"), 0);
        ASSERT_INT(hook("20-stubborn", "trap '' TERM\nsleep 30\n"), 0);
        ASSERT_INT(hook("30-fast", "exit 0\n"), 0);
        ASSERT_INT(fixture_new(&f, 300 * USEC_PER_MSEC, 300 * USEC_PER_MSEC, 0), 0);

        start = now_usec(CLOCK_MONOTONIC);
        ASSERT_INT(hook_runner_event(f.runner, ROUTE_EVENT_ADDED, &route), 3);
        ASSERT_TRUE(run_until_idle(f.event, f.runner, 10));
        ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) - start < 3 * USEC_PER_SEC);

        ASSERT_INT(n_results, 3);
        ASSERT_STR(results[0].name, "30-fast");  /* done first: nothing waited for the others */
        const HookResult *sleepy = result_of("10-sleep"), *stubborn = result_of("20-stubborn");
        ASSERT_TRUE(sleepy && stubborn);
        ASSERT_TRUE(sleepy->timed_out);
        ASSERT_INT(sleepy->signal, SIGTERM);
        ASSERT_TRUE(stubborn->timed_out);
        ASSERT_INT(stubborn->signal, SIGKILL);

        /* the sleep the hook started is gone with its group */
        pid_text = read_file("sleep.pid");
        ASSERT_TRUE(pid_text);
        pid_t pid = (pid_t) atoi(pid_text);
        ASSERT_TRUE(pid > 1);
        bool gone = false;
        for (int i = 0; i < 100 && !gone; i++) {
                gone = process_gone(pid);
                if (!gone)
                        usleep(10000);
        }
        ASSERT_TRUE(gone);
        ASSERT_TRUE(no_child_left());

        log = read_file("log");
        ASSERT_TRUE(log);
        ASSERT_TRUE(strstr(log, "hello_v2.web@4.service: Hook 10-sleep: sleeping\n"));
        ASSERT_TRUE(!strstr(log, "never"));
        ASSERT_TRUE(strstr(log, "Hook 10-sleep (route-added of hello_v2.web@4.service) still runs after 300ms, "
                                "sending SIGTERM."));
        ASSERT_TRUE(strstr(log, "Hook 10-sleep (route-added of hello_v2.web@4.service) timed out and was ended by "
                                "SIGTERM."));
        ASSERT_TRUE(strstr(log, "Hook 20-stubborn did not exit 300ms after SIGTERM, sending SIGKILL."));
        ASSERT_TRUE(strstr(log, "Hook 20-stubborn (route-added of hello_v2.web@4.service) timed out and was ended "
                                "by SIGKILL."));
}

/* A failing hook: its exit status and its last words are logged; a file that cannot be executed
 * is logged as such; neither stops the next hook. */
TEST(failing_hooks) {
        _cleanup_(fixture_done) Fixture f = {};
        _cleanup_free_ char *log = NULL;
        char path[256];

        /* valgrind cannot carry on after an execve() that fails in a posix_spawn() child */
        bool exec_fails = !under_valgrind();

        ASSERT_INT(hook("10-exit3", "echo 'cannot reach the router' >&2\nexit 3\n"), 0);
        snprintf(path, sizeof(path), "%s/20-bad-interpreter", hooks_dir);
        if (exec_fails)
                ASSERT_INT(write_file(path, "#!/nonexistent/sh\nexit 0\n", 0755), 0);
        ASSERT_INT(hook("30-ok", "printf 'no newline at the end'\n"), 0);
        ASSERT_INT(fixture_new(&f, 0, 0, 0), 0);

        ASSERT_INT(hook_runner_event(f.runner, ROUTE_EVENT_REMOVED, &route), 2 + exec_fails);
        ASSERT_TRUE(run_until_idle(f.event, f.runner, 10));
        ASSERT_INT(n_results, 2 + exec_fails);
        const HookResult *exit3 = result_of("10-exit3"), *bad = result_of("20-bad-interpreter"),
                         *ok = result_of("30-ok");
        ASSERT_TRUE(exit3 && ok && (bad || !exec_fails));
        ASSERT_INT(exit3->exit_status, 3);
        ASSERT_INT(exit3->error, 0);
        if (exec_fails)
                ASSERT_INT(bad->error, -ENOENT);
        ASSERT_INT(ok->exit_status, 0);
        ASSERT_INT(ok->lines_logged, 1);
        ASSERT_TRUE(no_child_left());

        log = read_file("log");
        ASSERT_TRUE(log);
        ASSERT_TRUE(strstr(log, "Hook 10-exit3: cannot reach the router\n"));
        ASSERT_TRUE(strstr(log, "Hook 10-exit3 (route-removed of hello_v2.web@4.service) failed with exit status 3."));
        ASSERT_TRUE(!exec_fails || strstr(log, "Failed to run hook "));
        ASSERT_TRUE(!exec_fails ||
                    strstr(log, "/20-bad-interpreter for route-removed of hello_v2.web@4.service: No such file"));
        ASSERT_TRUE(strstr(log, "Hook 30-ok: no newline at the end\n"));
        ASSERT_TRUE(!strstr(log, "Hook 30-ok ("));
}

/* Lots of output: HOOK_LOG_LINES lines are logged, each cut at HOOK_LOG_LINE_MAX bytes; the rest
 * is read (the hook never blocks on a full pipe) and counted. */
TEST(output_bounded) {
        _cleanup_(fixture_done) Fixture f = {};
        _cleanup_free_ char *log = NULL;

        ASSERT_INT(hook("10-chatty", "head -c 100000 /dev/zero | tr '\\0' x\necho\nyes 'line of output' | head -n 200000\n"),
                   0);
        ASSERT_INT(fixture_new(&f, 0, 0, 0), 0);

        ASSERT_INT(hook_runner_event(f.runner, ROUTE_EVENT_ADDED, &route), 1);
        ASSERT_TRUE(run_until_idle(f.event, f.runner, 20));
        ASSERT_INT(n_results, 1);
        ASSERT_INT(results[0].exit_status, 0);
        ASSERT_TRUE(!results[0].timed_out);
        ASSERT_INT(results[0].lines_logged, HOOK_LOG_LINES);
        ASSERT_INT(results[0].lines_dropped, 200001 - HOOK_LOG_LINES);
        ASSERT_TRUE(results[0].truncated);

        log = read_file("log");
        ASSERT_TRUE(log);
        ASSERT_INT(count(log, "Hook 10-chatty: "), HOOK_LOG_LINES + 1);      /* and "... more line(s)" */
        ASSERT_INT(count(log, "Hook 10-chatty: line of output\n"), HOOK_LOG_LINES - 1);
        char cut[HOOK_LOG_LINE_MAX + 64];
        snprintf(cut, sizeof(cut), "Hook 10-chatty: %0*d [...]\n", (int) HOOK_LOG_LINE_MAX, 0);
        for (char *p = strstr(cut, ": ") + 2; *p == '0'; p++)
                *p = 'x';
        ASSERT_TRUE(strstr(log, cut));
        char more[128];
        snprintf(more, sizeof(more), "Hook 10-chatty: %u more line(s) of output not logged.", 200001 - HOOK_LOG_LINES);
        ASSERT_TRUE(strstr(log, more));
        ASSERT_TRUE(strlen(log) < 16 * 1024);
}

/* At most max_running at once; a hook never runs twice at once and gets the events in order;
 * for each event, hooks start in name order. */
TEST(cap_and_order) {
        _cleanup_(fixture_done) Fixture f = {};
        _cleanup_free_ char *trace = NULL;
        static const char body[] =
                "name=$(basename \"$0\")\n"
                "mkdir @/lock.$name 2>/dev/null || echo \"overlap $name\" >>@/trace\n"
                "echo \"start $name $(sed -n 's/.*\"unit\":\"\\([^\"]*\\)\".*/\\1/p')\" >>@/trace\n"
                "sleep 0.1\n"
                "echo \"end $name\" >>@/trace\n"
                "rmdir @/lock.$name\n";
        RouteRecord other = route;

        ASSERT_INT(hook("a", body), 0);
        ASSERT_INT(hook("b", body), 0);
        ASSERT_INT(hook("c", body), 0);
        ASSERT_INT(fixture_new(&f, 0, 0, 2), 0);

        for (unsigned i = 1; i <= 4; i++) {
                char unit[64];
                snprintf(unit, sizeof(unit), "hello_v2.web@%u.service", i);
                other.unit = unit;
                ASSERT_INT(hook_runner_event(f.runner, i % 2 ? ROUTE_EVENT_ADDED : ROUTE_EVENT_REMOVED, &other), 3);
        }
        ASSERT_INT(hook_runner_pending(f.runner), 12);
        ASSERT_TRUE(run_until_idle(f.event, f.runner, 20));
        ASSERT_INT(n_results, 12);
        ASSERT_TRUE(no_child_left());

        trace = read_file("trace");
        ASSERT_TRUE(trace);
        ASSERT_TRUE(!strstr(trace, "overlap"));
        /* concurrency from the trace; per hook, the units in order */
        unsigned running = 0, most = 0, next[3] = { 1, 1, 1 };
        char *save = NULL;
        for (char *line = strtok_r(trace, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char name = 0;
                unsigned unit = 0;
                if (sscanf(line, "start %c hello_v2.web@%u.service", &name, &unit) == 2) {
                        running++;
                        most = MAX(most, running);
                        ASSERT_TRUE(name >= 'a' && name <= 'c');
                        ASSERT_INT(unit, next[name - 'a']);
                        next[name - 'a']++;
                } else if (startswith(line, "end "))
                        running--;
        }
        ASSERT_INT(most, 2);
        ASSERT_INT(next[0], 5);
        ASSERT_INT(next[1], 5);
        ASSERT_INT(next[2], 5);
}

/* One at a time, the order is exact: per event the hooks in name order, the events in order. */
TEST(serial_order) {
        _cleanup_(fixture_done) Fixture f = {};
        static const char *expected[] = { "a", "b", "c", "a", "b", "c" };

        ASSERT_INT(hook("c", "exit 0\n"), 0);
        ASSERT_INT(hook("a", "exit 0\n"), 0);
        ASSERT_INT(hook("b", "exit 0\n"), 0);
        ASSERT_INT(fixture_new(&f, 0, 0, 1), 0);
        ASSERT_INT(hook_runner_event(f.runner, ROUTE_EVENT_ADDED, &route), 3);
        ASSERT_INT(hook_runner_event(f.runner, ROUTE_EVENT_REMOVED, &route), 3);
        ASSERT_TRUE(run_until_idle(f.event, f.runner, 10));
        ASSERT_INT(n_results, 6);
        for (size_t i = 0; i < 6; i++) {
                ASSERT_STR(results[i].name, expected[i]);
                ASSERT_INT(results[i].event, i < 3 ? ROUTE_EVENT_ADDED : ROUTE_EVENT_REMOVED);
        }
}

/* Hooks are read at every event: a hook added later runs from the next event on; with no
 * directory there is nothing to run. */
TEST(directory_read_per_event) {
        _cleanup_(fixture_done) Fixture f = {};
        HookRunner *missing = NULL;
        HookRunnerOptions o = { .dir = "/nonexistent/hooks.d" };

        ASSERT_INT(fixture_new(&f, 0, 0, 0), 0);
        ASSERT_INT(hook_runner_event(f.runner, ROUTE_EVENT_ADDED, &route), 0);
        ASSERT_INT(hook("10-late", "exit 0\n"), 0);
        ASSERT_INT(hook_runner_event(f.runner, ROUTE_EVENT_ADDED, &route), 1);
        ASSERT_TRUE(run_until_idle(f.event, f.runner, 10));
        ASSERT_INT(n_results, 1);

        ASSERT_INT(hook_runner_new(f.event, &o, &missing), 0);
        ASSERT_INT(hook_runner_event(missing, ROUTE_EVENT_ADDED, &route), 0);
        ASSERT_INT(hook_runner_event(missing, ROUTE_EVENT_NONE, &route), -EINVAL);
        hook_runner_free(missing);
        o.dir = "";
        ASSERT_INT(hook_runner_new(f.event, &o, &missing), -EINVAL);
}

/* Freeing the runner with a hook running: the hook gets SIGTERM and nothing waits for it. */
TEST(free_while_running) {
        Fixture f = {};
        _cleanup_free_ char *pid_text = NULL;

        ASSERT_INT(hook("10-sleep", "echo $$ >@/hook.pid\nexec sleep 30\n"), 0);
        ASSERT_INT(fixture_new(&f, 0, 0, 0), 0);
        ASSERT_INT(hook_runner_event(f.runner, ROUTE_EVENT_ADDED, &route), 1);
        for (int i = 0; i < 200 && !(pid_text = read_file("hook.pid")); i++)
                sd_event_run(f.event, 10 * USEC_PER_MSEC);
        ASSERT_TRUE(pid_text);
        fixture_done(&f);

        pid_t pid = (pid_t) atoi(pid_text);
        siginfo_t si = {};
        ASSERT_INT(waitid(P_PID, (id_t) pid, &si, WEXITED), 0);     /* reaped here, by the test */
        ASSERT_INT(si.si_code, CLD_KILLED);
        ASSERT_INT(si.si_status, SIGTERM);
}

static void setup(void) {
        sigset_t mask;

        /* as fleetd's manager does: sd_event_add_child() needs SIGCHLD blocked */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        unsetenv("JOURNAL_STREAM");   /* the runner's log goes to stderr, captured per test */

        snprintf(dir, sizeof(dir), "/tmp/test-hooks-XXXXXX");
        if (!mkdtemp(dir))
                abort();
        snprintf(hooks_dir, sizeof(hooks_dir), "%s/hooks.d", dir);
        if (mkdir(hooks_dir, 0755) < 0)
                abort();
}

static void teardown(void) {
        if (getenv("KEEP")) return;
        static const char *files[] = { "record", "log", "fd42", "sleep.pid", "trace", "hook.pid" };
        char path[256];

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                path_of(path, sizeof(path), files[i]);
                unlink(path);
        }
        rmdir(hooks_dir);
        rmdir(dir);
}

TEST(begin) {
        setup();
}

TEST(end) {
        teardown();
}

TEST_MAIN(T(begin),
          T(names),
          T(event_json),
          T(list),
          T(hook_gets),
          T(timeout),
          T(failing_hooks),
          T(output_bounded),
          T(cap_and_order),
          T(serial_order),
          T(directory_read_per_event),
          T(free_while_running),
          T(end));
