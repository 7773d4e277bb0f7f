/* SPDX-License-Identifier: Apache-2.0 */
/* fleet-router end to end: the real daemon (its path is the first argument) against a real etcd
 * (etcd-runner.h), a real nginx started as a non-daemon child on 127.0.0.1 with the config the
 * router renders, and two HTTP backends (busybox httpd, else python3's http.server). The
 * reload command is a wrapper that counts its calls before running `nginx -s reload`, so the
 * test knows that nginx is reloaded exactly when the config's text changes.
 * One scenario, in order; each step waits for what a client would see.
 * Skipped (77) without etcd, nginx, or an HTTP server program. FLEET_ROUTER_TEST_KEEP=1 keeps the
 * directory with the logs (router.log, nginx.log, notify.log, reloads) and configs. */
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "basic/strv.h"
#include "router-harness.h"
#include "../tests.h"

#define PREFIX "/t/"
#define WAIT (15 * USEC_PER_SEC)
#define MACHINE "0123456789abcdef0123456789abcdef"

static const char *arg_router;
static const char *nginx;
static EtcdRunner *etcd;
static char dir[] = "/tmp/test-fleet-router-XXXXXX";
static int nginx_port, port_a, port_b, metrics_port;
static pid_t router_pid, nginx_pid;
static unsigned n_started;

static char *path(const char *name) {
        static char buf[4][512];
        static unsigned next;
        char *p = buf[next++ % ELEMENTSOF(buf)];

        snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
        return p;
}

static unsigned reloads(void) {
        return harness_count_lines(path("reloads"));
}

/* The backend that answered for host, "a" or "b", the status as a string ("404"), or "error". */
static const char *who(const char *host) {
        static char answer[32];
        _cleanup_free_ char *body = NULL;
        int status = harness_http_get(nginx_port, host, &body);

        if (status < 0)
                return "error";
        if (status == 200 && body && startswith(body, "backend-"))
                snprintf(answer, sizeof(answer), "%.1s", body + strlen("backend-"));
        else
                snprintf(answer, sizeof(answer), "%d", status);
        return answer;
}

/* want: a status ("404"), or the backends that may answer ("a", "ab"). */
static bool answer_matches(const char *answer, const char *want) {
        if (strlen(want) == 3)
                return streq(answer, want);
        return strlen(answer) == 1 && strchr(want, answer[0]);
}

/* Waits until n requests in a row to host all get one of the answers in want (e.g. "ab"
 * for either backend, "a", "404"); with both_needed, both a and b must be among them. */
static bool wait_for(const char *host, const char *want, bool both_needed) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + WAIT;
        const char *last = "";

        while (now_usec(CLOCK_MONOTONIC) < deadline) {
                bool ok = true, seen_a = false, seen_b = false;

                for (int i = 0; i < 6 && ok; i++) {
                        last = who(host);
                        ok = answer_matches(last, want);
                        seen_a |= streq(last, "a");
                        seen_b |= streq(last, "b");
                }
                if (ok && (!both_needed || (seen_a && seen_b)))
                        return true;
                (void) usleep(20 * 1000);
        }
        fprintf(stderr, "%s: still \"%s\", wanted \"%s\"%s\n", host, last, want, both_needed ? " (both)" : "");
        return false;
}

/* Waits for reloads() to reach n, then makes sure it stays there a moment. */
static bool reloads_settle_at(unsigned n) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + WAIT;

        while (reloads() < n && now_usec(CLOCK_MONOTONIC) < deadline)
                (void) usleep(10 * 1000);
        (void) usleep(400 * 1000);
        if (reloads() != n)
                fprintf(stderr, "nginx was reloaded %u time(s), expected %u\n", reloads(), n);
        return reloads() == n;
}

/* Occurrences of what in nginx's log. */
static unsigned count_in_log(const char *what) {
        _cleanup_free_ char *text = harness_read_file(path("nginx.log"));
        unsigned n = 0;

        for (const char *p = text; p && (p = strstr(p, what)); p += strlen(what))
                n++;
        return n;
}

static char *mfree_str(char *s) {
        free(s);
        return NULL;
}

/* Occurrences of what in the router's log. */
static unsigned count_in_router_log(const char *what) {
        _cleanup_free_ char *text = harness_read_file(path("router.log"));
        unsigned n = 0;

        for (const char *p = text; p && (p = strstr(p, what)); p += strlen(what))
                n++;
        return n;
}

/* Waits until the router's log says what more often than the before times it did. */
static bool wait_for_log(const char *what, unsigned before) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + WAIT;

        while (now_usec(CLOCK_MONOTONIC) < deadline) {
                if (count_in_router_log(what) > before)
                        return true;
                (void) usleep(20 * 1000);
        }
        fprintf(stderr, "router.log never said \"%s\" again\n", what);
        return false;
}

static int put_route(const char *app, unsigned i, int port) {
        _cleanup_free_ char *key = NULL, *value = NULL;

        if (harness_route(PREFIX, app, i, (unsigned) port, &key, &value) < 0)
                return -ENOMEM;
        return harness_put(etcd, key, value);
}

static int delete_route(const char *app, unsigned i) {
        _cleanup_free_ char *key = NULL;

        if (asprintf(&key, PREFIX "routes/%s/%s_v1.web@%u.service", app, app, i) < 0)
                return -ENOMEM;
        return harness_delete(etcd, key);
}

/* With wrapper, reloads go through reload.sh (counted in <dir>/reloads); else the router's
 * built-in SIGHUP to nginx's master. */
static int start_router(bool wrapper) {
        _cleanup_free_ char *servers = NULL, *output = NULL, *listen = NULL, *temp = NULL, *reload = NULL,
                            *binary = NULL, *notify = NULL;
        int r;

        if (asprintf(&servers, "--etcd_servers=%s", etcd_runner_url(etcd)) < 0 ||
            asprintf(&output, "--output=%s", path("run/nginx.conf")) < 0 ||
            asprintf(&listen, "--listen=127.0.0.1:%d", nginx_port) < 0 ||
            asprintf(&temp, "--temp_dir=%s", path("nginx-tmp")) < 0 ||
            asprintf(&reload, "--reload_command=%s %s -s reload -c %s", path("reload.sh"), nginx,
                     path("run/nginx.conf")) < 0 ||
            asprintf(&binary, "--nginx_binary=%s", nginx) < 0 ||
            asprintf(&notify, "NOTIFY_SOCKET=%s", path("notify")) < 0)
                return -ENOMEM;

        _cleanup_free_ char *metrics = NULL;
        if (asprintf(&metrics, "--metrics_listen=127.0.0.1:%d", metrics_port) < 0)
                return -ENOMEM;
        char *argv[] = { (char *) arg_router, servers, output, listen, temp, binary, metrics,
                         (char *) "--domain=test", (char *) "--etcd_key_prefix=" PREFIX,
                         (char *) "--batch_delay=20ms", (char *) "--log_level=debug", wrapper ? reload : NULL, NULL };
        /* The watchdog is asked for as systemd would (WatchdogSec=300ms). */
        char *env[] = { notify, (char *) "WATCHDOG_USEC=300000", (char *) "WATCHDOG_PID=$$", NULL };

        router_pid = harness_spawn(argv, env, path("router.log"));
        if (router_pid < 0)
                return router_pid;
        r = harness_notify_wait(path("notify.log"), "READY=1", ++n_started, WAIT);
        if (r < 0)
                fprintf(stderr, "fleet-router sent no READY=1\n");
        return r;
}

static int start_nginx(void) {
        char *argv[] = { (char *) nginx, (char *) "-g", (char *) "daemon off;", (char *) "-c",
                         path("run/nginx.conf"), NULL };

        nginx_pid = harness_spawn(argv, NULL, path("nginx.log"));
        return nginx_pid < 0 ? nginx_pid : 0;
}

static void show_logs(void) {
        _cleanup_free_ char *router_log = harness_read_file(path("router.log"));
        _cleanup_free_ char *conf = harness_read_file(path("run/nginx.conf"));

        fprintf(stderr, "--- router.log ---\n%s--- nginx.conf ---\n%s---\n", strempty(router_log), strempty(conf));
}

/* --- the scenario --- */

/* A route written before the router starts is in its first config; READY comes after the file
 * exists; nothing is reloaded (nginx was not running). */
TEST(start_with_route) {
        _cleanup_free_ char *conf = NULL;

        ASSERT_INT(put_route("hello", 1, port_a), 0);
        ASSERT_INT(start_router(true), 0);
        conf = harness_read_file(path("run/nginx.conf"));
        ASSERT_TRUE(conf);
        ASSERT_CONTAINS(conf, "server_name hello.test;");
        ASSERT_INT(start_nginx(), 0);
        ASSERT_TRUE(wait_for("hello.test", "a", false));
        ASSERT_INT(reloads(), 0);
}

TEST(watchdog) {
        ASSERT_INT(harness_notify_wait(path("notify.log"), "WATCHDOG=1", 3, 2 * USEC_PER_SEC), 0);
}

TEST(unknown_host_404) {
        ASSERT_TRUE(wait_for("nope.test", "404", false));
        ASSERT_TRUE(wait_for("hello.other", "404", false));
}

/* Both instances, in turn (round robin shared by nginx's workers). */
TEST(second_instance) {
        char seq[8] = {};

        ASSERT_INT(put_route("hello", 2, port_b), 0);
        ASSERT_TRUE(wait_for("hello.test", "ab", true));
        ASSERT_TRUE(reloads_settle_at(1));
        for (int i = 0; i < 6; i++)
                seq[i] = who("hello.test")[0];
        for (int i = 1; i < 6; i++)
                if (seq[i] == seq[i - 1]) {
                        fprintf(stderr, "not alternating: %s\n", seq);
                        ASSERT_TRUE(false);
                }
}

/* GET /metrics on metrics_listen: Prometheus' text, which promtool (Debian's prometheus
 * package) accepts; without promtool only the content is checked. */
TEST(metrics) {
        _cleanup_free_ char *cmd = NULL, *text = NULL;

        ASSERT_TRUE(asprintf(&cmd, "curl -sf -o %s http://127.0.0.1:%d/metrics", path("metrics.txt"), metrics_port) > 0);
        ASSERT_INT(system(cmd), 0);
        text = harness_read_file(path("metrics.txt"));
        ASSERT_TRUE(text);
        ASSERT_CONTAINS(text, "# TYPE fleet_router_reloads_total counter\n");
        ASSERT_CONTAINS(text, "\nfleet_router_routes 2\n");
        ASSERT_CONTAINS(text, "\nfleet_router_config_render_duration_seconds_count ");
        ASSERT_CONTAINS(text, "\nfleet_router_etcd_requests_total{operation=\"range\",result=\"ok\"} ");
        if (system("command -v promtool >/dev/null") != 0) {
                printf("promtool not found (Debian package prometheus): the text was not checked with it\n");
                return;
        }
        free(cmd);
        ASSERT_TRUE(asprintf(&cmd, "promtool check metrics < %s", path("metrics.txt")) > 0);
        ASSERT_INT(system(cmd), 0);
        free(cmd);
        /* anything else is not served there */
        ASSERT_TRUE(asprintf(&cmd, "curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/ | grep -qx 404",
                             metrics_port) > 0);
        ASSERT_INT(system(cmd), 0);
}

/* Writes that leave the rendered text as it is reload nothing: the same record again, a
 * worker's route, malformed records (which never reach the config). */
TEST(no_change_no_reload) {
        _cleanup_free_ char *key = NULL, *value = NULL, *conf = NULL, *log = NULL;
        static const char * const keys[] = {
                PREFIX "routes/hello/hello_v1.worker@1.service",
                PREFIX "routes/hello/hello_v1.web@3.service",
                PREFIX "routes/Evil/x.service",
                PREFIX "routes/hello/hello_v1.web@4.service",
        };
        static const char * const values[] = {
                "{\"app\": \"hello\", \"unit\": \"hello_v1.worker@1.service\", \"host\": \"127.0.0.1\", "
                "\"port\": 9, \"release\": 1, \"process\": \"worker\", \"machine\": \"" MACHINE "\"}",
                "{\"app\": \"hello\", \"unit\": \"hello_v1.web@3.service\", "
                "\"host\": \"127.0.0.1; } server { listen 9999; }\", "
                "\"port\": 9, \"release\": 1, \"process\": \"web\", \"machine\": \"" MACHINE "\"}",
                "{\"host\": \"127.0.0.1\", \"port\": 9, \"process\": \"web\"}",
                "not json",
        };

        ASSERT_INT(harness_route(PREFIX, "hello", 2, (unsigned) port_b, &key, &value), 0);
        ASSERT_INT(harness_put(etcd, key, value), 0);
        ASSERT_INT(harness_put_many(etcd, keys, values, ELEMENTSOF(keys)), 0);
        ASSERT_TRUE(reloads_settle_at(1));
        ASSERT_TRUE(wait_for("hello.test", "ab", true));

        conf = harness_read_file(path("run/nginx.conf"));
        ASSERT_TRUE(conf && !strstr(conf, "9999") && !strstr(conf, "Evil") && !strstr(conf, "hello_v1.worker"));
        log = harness_read_file(path("router.log"));
        ASSERT_CONTAINS(log, "Ignoring route record " PREFIX "routes/hello/hello_v1.web@3.service");
        ASSERT_CONTAINS(log, "Ignoring route record " PREFIX "routes/Evil/x.service");
}

TEST(remove_one_instance) {
        ASSERT_INT(delete_route("hello", 1), 0);
        ASSERT_TRUE(wait_for("hello.test", "b", false));
        ASSERT_TRUE(reloads_settle_at(2));
}

/* The last route goes: the app is gone (404), like any unknown host. */
TEST(remove_last_instance) {
        ASSERT_INT(delete_route("hello", 2), 0);
        ASSERT_TRUE(wait_for("hello.test", "404", false));
        ASSERT_TRUE(reloads_settle_at(3));
}

/* Routes to nothing: nginx cannot reach any instance, the client gets 503. */
TEST(no_instance_reachable_503) {
        int closed = harness_free_port();

        ASSERT_TRUE(closed > 0);
        ASSERT_INT(put_route("dead", 1, closed), 0);
        ASSERT_TRUE(wait_for("dead.test", "503", false));
        ASSERT_TRUE(reloads_settle_at(4));
}

/* etcd goes away: nginx keeps serving. It comes back with history compacted past what the
 * router saw (the router is stopped meanwhile, so that it cannot resume first): the watch
 * cannot resume, the router reads the routes again and serves the new state. */
TEST(etcd_outage_and_compaction) {
        _cleanup_free_ char *log = NULL;

        ASSERT_INT(etcd_runner_stop(etcd), 0);
        (void) usleep(500 * 1000);
        ASSERT_TRUE(wait_for("dead.test", "503", false));

        ASSERT_INT(kill(router_pid, SIGSTOP), 0);
        ASSERT_INT(etcd_runner_restart(etcd), 0);
        ASSERT_INT(put_route("hello", 5, port_a), 0);
        ASSERT_INT(delete_route("dead", 1), 0);
        ASSERT_INT(harness_compact(etcd), 0);
        ASSERT_INT(kill(router_pid, SIGCONT), 0);

        ASSERT_TRUE(wait_for("hello.test", "a", false));
        ASSERT_TRUE(wait_for("dead.test", "404", false));
        ASSERT_TRUE(reloads_settle_at(5));
        log = harness_read_file(path("router.log"));
        ASSERT_CONTAINS(log, "etcd compacted the history the routes watch was to resume from");
}

/* SIGTERM: a clean, quick exit; nginx keeps serving. A new router (with the built-in reload
 * this time) finds the same text in the file and does not reload nginx; the next change
 * reloads it with SIGHUP. */
TEST(sigterm_and_restart) {
        unsigned before = reloads();
        int status;

        status = harness_stop(router_pid, SIGTERM, 5 * USEC_PER_SEC);
        ASSERT_TRUE(status >= 0);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_INT(WEXITSTATUS(status), 0);
        ASSERT_TRUE(wait_for("hello.test", "a", false));

        ASSERT_INT(start_router(false), 0);
        (void) usleep(400 * 1000);
        ASSERT_INT(count_in_log("signal 1 (SIGHUP)"), before);
        ASSERT_TRUE(wait_for("hello.test", "a", false));

        ASSERT_INT(put_route("hello", 6, port_b), 0);
        ASSERT_TRUE(wait_for("hello.test", "ab", true));
        ASSERT_INT(count_in_log("signal 1 (SIGHUP)"), before + 1);
        ASSERT_INT(reloads(), before);
}

/* etcd is down when the router starts: READY after a few seconds, with the previous run's
 * config kept as it is; once etcd is back, the routes are read (no change: no reload). */
TEST(start_without_etcd) {
        _cleanup_free_ char *before = NULL, *after = NULL;
        unsigned hups = count_in_log("signal 1 (SIGHUP)"), reads = count_in_router_log("Read 3 route record(s)");
        usec_t start;

        ASSERT_TRUE(harness_stop(router_pid, SIGTERM, 5 * USEC_PER_SEC) >= 0);
        before = harness_read_file(path("run/nginx.conf"));
        ASSERT_INT(etcd_runner_stop(etcd), 0);
        start = now_usec(CLOCK_MONOTONIC);
        ASSERT_INT(start_router(false), 0);
        ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) - start >= 2 * USEC_PER_SEC);
        after = harness_read_file(path("run/nginx.conf"));
        ASSERT_TRUE(before && after);
        ASSERT_STR(after, before);
        ASSERT_TRUE(wait_for("hello.test", "ab", true));

        ASSERT_INT(etcd_runner_restart(etcd), 0);
        /* hello 5 and 6, and the worker's */
        ASSERT_TRUE(wait_for_log("Read 3 route record(s)", reads));
        (void) usleep(300 * 1000);
        ASSERT_INT(count_in_log("signal 1 (SIGHUP)"), hups);
}

/* No config and no etcd at start (a reboot while etcd is away): a config without routes, so
 * that nginx can start; then the routes once etcd is back. */
TEST(first_start_without_etcd) {
        _cleanup_free_ char *conf = NULL;
        unsigned reads = count_in_router_log("Read 3 route record(s)");

        ASSERT_TRUE(harness_stop(router_pid, SIGTERM, 5 * USEC_PER_SEC) >= 0);
        ASSERT_INT(etcd_runner_stop(etcd), 0);
        ASSERT_INT(unlink(path("run/nginx.conf")), 0);
        ASSERT_INT(start_router(false), 0);
        conf = harness_read_file(path("run/nginx.conf"));
        ASSERT_TRUE(conf);
        ASSERT_CONTAINS(conf, "0 app(s), 0 instance(s)");

        ASSERT_INT(etcd_runner_restart(etcd), 0);
        ASSERT_TRUE(wait_for_log("Read 3 route record(s)", reads));
        free(conf);
        for (int i = 0; i < 100; i++) {
                conf = harness_read_file(path("run/nginx.conf"));
                if (conf && strstr(conf, "server_name hello.test;"))
                        break;
                conf = mfree_str(conf);
                (void) usleep(20 * 1000);
        }
        ASSERT_TRUE(conf);
        ASSERT_TRUE(wait_for("hello.test", "ab", true));
}

static int setup(void) {
        char dir_a[600], dir_b[600], script[1200];
        int r;

        if (mkdir(path("run"), 0755) < 0 || mkdir(path("a"), 0755) < 0 || mkdir(path("b"), 0755) < 0)
                return -errno;
        snprintf(dir_a, sizeof(dir_a), "%s", path("a"));
        snprintf(dir_b, sizeof(dir_b), "%s", path("b"));
        if (harness_write_file(path("a/index.html"), "backend-a\n", false) < 0 ||
            harness_write_file(path("b/index.html"), "backend-b\n", false) < 0)
                return -EIO;
        snprintf(script, sizeof(script), "#!/bin/sh\necho \"$*\" >> %s\nexec \"$@\"\n", path("reloads"));
        if (harness_write_file(path("reload.sh"), script, true) < 0)
                return -EIO;

        nginx_port = harness_free_port();
        metrics_port = harness_free_port();
        port_a = harness_free_port();
        port_b = harness_free_port();
        if (nginx_port < 0 || port_a < 0 || port_b < 0 || port_a == port_b)
                return -EADDRINUSE;
        r = harness_backend_start(port_a, dir_a, path("backend-a.log"));
        if (r < 0)
                return r;
        r = harness_backend_start(port_b, dir_b, path("backend-b.log"));
        if (r < 0)
                return r;
        r = harness_notify_start(path("notify"), path("notify.log"));
        return r < 0 ? r : 0;
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(p);
        return 0;
}

int test_failures = 0;

int main(int argc, char *argv[]) {
        static const TestCase cases[] = {
                T(start_with_route), T(watchdog), T(unknown_host_404), T(second_instance), T(metrics), T(no_change_no_reload),
                T(remove_one_instance), T(remove_last_instance), T(no_instance_reachable_503),
                T(etcd_outage_and_compaction), T(sigterm_and_restart), T(start_without_etcd),
                T(first_start_without_etcd),
        };
        int r;

        if (argc < 2) {
                fprintf(stderr, "usage: %s FLEET_ROUTER\n", argv[0]);
                return EXIT_FAILURE;
        }
        arg_router = argv[1];
        nginx = getenv("FLEET_ROUTER_TEST_NGINX") ?: "/usr/sbin/nginx";
        if (access(nginx, X_OK) < 0) {
                printf("skipped: %s is not installed\n", nginx);
                return 77;
        }
        r = etcd_runner_start(&etcd);
        if (r == -ENOENT) {
                printf("skipped: etcd is not installed\n");
                return 77;
        }
        if (r < 0 || !mkdtemp(dir)) {
                fprintf(stderr, "cannot start etcd or make a directory: %s\n", strerror(r < 0 ? -r : errno));
                return EXIT_FAILURE;
        }
        r = setup();
        if (r == -ENOENT) {
                printf("skipped: neither busybox nor python3 is installed\n");
                return 77;
        }
        if (r < 0) {
                fprintf(stderr, "setup failed: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }

        r = run_tests(cases, ELEMENTSOF(cases));
        if (r != EXIT_SUCCESS)
                show_logs();
        if (nginx_pid > 0)
                (void) harness_stop(nginx_pid, SIGQUIT, 5 * USEC_PER_SEC);
        if (router_pid > 0)
                (void) harness_stop(router_pid, SIGTERM, 5 * USEC_PER_SEC);
        if (getenv("FLEET_ROUTER_TEST_KEEP"))
                fprintf(stderr, "logs and configs kept in %s\n", dir);
        else
                (void) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return r;
}
