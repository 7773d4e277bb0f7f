/* SPDX-License-Identifier: Apache-2.0 */
/* fleet-router under load, on this machine (bench/router.sh runs it): a throwaway etcd, the
 * router (its path is the first argument), a real nginx with the router's config, two HTTP
 * backends, all on 127.0.0.1 (tests/etcd/router-harness.h).
 *   1. ROUTES route records over APPS apps (hosts 10.x.y.z that nothing connects to), plus app
 *      "lat" with one route to backend a; waits until nginx serves lat.bench.
 *   2. At rest for WINDOW seconds: the router's CPU and RSS.
 *   3. CHANGES times: the route of "lat" moves to the other backend (one put); the time from
 *      the put until nginx answers lat.bench from the new backend (a new connection per poll).
 *   4. RATE changes per second for WINDOW seconds, each moving one of the ROUTES routes to
 *      another port: the router's CPU (its own, and its children: nginx -t and the reload
 *      command, if set), nginx's (master and exited workers), reloads, RSS.
 * --latency-only: steps 1 and 3 only. Prints a markdown table. */
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "router-harness.h"

#define PREFIX "/bench/"

static const char *arg_router;
static const char *arg_nginx = "/usr/sbin/nginx";
static const char *arg_batch_delay = "50ms";
static bool arg_latency_only;
static unsigned arg_routes = 1000, arg_apps = 100, arg_changes = 50, arg_rate = 10, arg_window = 10;

static EtcdRunner *etcd;
static char dir[] = "/tmp/bench-router-XXXXXX";
static int nginx_port, port_a, port_b;
static pid_t router_pid, nginx_pid;

static char *path(const char *name) {
        static char buf[4][512];
        static unsigned next;
        char *p = buf[next++ % ELEMENTSOF(buf)];

        snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
        return p;
}

static _noreturn_ void die(const char *fmt, ...) _printf_(1, 2);
static _noreturn_ void die(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        fprintf(stderr, "bench-router: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, " (logs in %s)\n", dir);
        va_end(ap);
        exit(EXIT_FAILURE);
}

typedef struct ProcStat {
        double self;                  /* utime + stime, seconds */
        double children;              /* cutime + cstime of reaped children, seconds */
        long rss_kb;
} ProcStat;

static ProcStat proc_stat(pid_t pid) {
        char p[64], buf[2048];
        unsigned long ut = 0, st = 0;
        long cut = 0, cst = 0;
        ProcStat s = {};
        FILE *f;

        snprintf(p, sizeof(p), "/proc/%d/stat", (int) pid);
        f = fopen(p, "re");
        if (f && fgets(buf, sizeof(buf), f)) {
                const char *rest = strrchr(buf, ')');
                /* after ") S": ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime */
                if (rest && sscanf(rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld", &ut, &st,
                                   &cut, &cst) == 4) {
                        s.self = (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
                        s.children = (double) (cut + cst) / (double) sysconf(_SC_CLK_TCK);
                }
        }
        if (f)
                fclose(f);
        snprintf(p, sizeof(p), "/proc/%d/status", (int) pid);
        f = fopen(p, "re");
        while (f && fgets(buf, sizeof(buf), f))
                if (sscanf(buf, "VmRSS: %ld", &s.rss_kb) == 1)
                        break;
        if (f)
                fclose(f);
        return s;
}

static unsigned count_in_file(const char *file, const char *what) {
        _cleanup_free_ char *text = harness_read_file(file);
        unsigned n = 0;

        for (const char *p = text; p && (p = strstr(p, what)); p += strlen(what))
                n++;
        return n;
}

static double now_ms(void) {
        return (double) now_usec(CLOCK_MONOTONIC) / 1000.0;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

/* Nearest rank. */
static double percentile(double *v, size_t n, double p) {
        size_t r = (size_t) (p / 100.0 * (double) n + 0.999999);

        qsort(v, n, sizeof(double), cmp_double);
        return v[MIN(MAX(r, (size_t) 1), n) - 1];
}

/* The record of background route i (app i % apps) at port. */
static void background_route(unsigned i, unsigned port, char **ret_key, char **ret_value) {
        unsigned app = i % arg_apps, n = i / arg_apps;

        if (asprintf(ret_key, PREFIX "routes/app-%03u/app-%03u_v1.web@%u.service", app, app, n + 1) < 0 ||
            asprintf(ret_value,
                     "{\"app\": \"app-%03u\", \"unit\": \"app-%03u_v1.web@%u.service\", \"host\": \"10.%u.%u.%u\", "
                     "\"port\": %u, \"release\": 1, \"process\": \"web\", "
                     "\"machine\": \"0123456789abcdef0123456789abcdef\"}",
                     app, app, n + 1, 1 + app / 250, app % 250, 1 + n % 250, port) < 0)
                die("out of memory");
}

static void populate(void) {
        for (unsigned i = 0; i < arg_routes; i += 100) {
                char *keys[100], *values[100];
                unsigned n = MIN(100u, arg_routes - i);

                for (unsigned k = 0; k < n; k++)
                        background_route(i + k, 20000, &keys[k], &values[k]);
                if (harness_put_many(etcd, (const char * const *) keys, (const char * const *) values, n) < 0)
                        die("writing the routes failed");
                for (unsigned k = 0; k < n; k++) {
                        free(keys[k]);
                        free(values[k]);
                }
        }
}

static void put_lat(int port) {
        _cleanup_free_ char *key = NULL, *value = NULL;

        if (harness_route(PREFIX, "lat", 1, (unsigned) port, &key, &value) < 0 || harness_put(etcd, key, value) < 0)
                die("put failed");
}

/* Polls lat.bench until backend want ('a' or 'b') answers; returns the ms it took, or -1. */
static double wait_backend(char want, double start_ms) {
        while (now_ms() - start_ms < 10000) {
                _cleanup_free_ char *body = NULL;

                if (harness_http_get(nginx_port, "lat.bench", &body) == 200 && body &&
                    startswith(body, "backend-") && body[8] == want)
                        return now_ms() - start_ms;
        }
        return -1;
}

static void start_all(void) {
        _cleanup_free_ char *servers = NULL, *output = NULL, *listen = NULL, *temp = NULL, *binary = NULL,
                            *batch = NULL, *notify = NULL;
        char dir_a[600], dir_b[600];

        if (mkdir(path("run"), 0755) < 0 || mkdir(path("a"), 0755) < 0 || mkdir(path("b"), 0755) < 0 ||
            harness_write_file(path("a/index.html"), "backend-a\n", false) < 0 ||
            harness_write_file(path("b/index.html"), "backend-b\n", false) < 0)
                die("setting up %s failed", dir);
        snprintf(dir_a, sizeof(dir_a), "%s", path("a"));
        snprintf(dir_b, sizeof(dir_b), "%s", path("b"));
        nginx_port = harness_free_port();
        port_a = harness_free_port();
        port_b = harness_free_port();
        if (harness_backend_start(port_a, dir_a, path("a.log")) < 0 ||
            harness_backend_start(port_b, dir_b, path("b.log")) < 0)
                die("starting the backends failed");
        if (harness_notify_start(path("notify"), path("notify.log")) < 0)
                die("notify socket");

        if (asprintf(&servers, "--etcd_servers=%s", etcd_runner_url(etcd)) < 0 ||
            asprintf(&output, "--output=%s", path("run/nginx.conf")) < 0 ||
            asprintf(&listen, "--listen=127.0.0.1:%d", nginx_port) < 0 ||
            asprintf(&temp, "--temp_dir=%s", path("nginx-tmp")) < 0 ||
            asprintf(&binary, "--nginx_binary=%s", arg_nginx) < 0 ||
            asprintf(&batch, "--batch_delay=%s", arg_batch_delay) < 0 ||
            asprintf(&notify, "NOTIFY_SOCKET=%s", path("notify")) < 0)
                die("out of memory");
        char *argv[] = { (char *) arg_router, servers, output, listen, temp, binary, batch,
                         (char *) "--domain=bench", (char *) "--etcd_key_prefix=" PREFIX, NULL };
        char *env[] = { notify, NULL };
        router_pid = harness_spawn(argv, env, path("router.log"));
        if (router_pid < 0 || harness_notify_wait(path("notify.log"), "READY=1", 1, 30 * USEC_PER_SEC) < 0)
                die("fleet-router did not start");

        char *nginx_argv[] = { (char *) arg_nginx, (char *) "-g", (char *) "daemon off;", (char *) "-c",
                               path("run/nginx.conf"), NULL };
        nginx_pid = harness_spawn(nginx_argv, NULL, path("nginx.log"));
        if (nginx_pid < 0)
                die("nginx did not start");
}

static void row(const char *what, const char *fmt, ...) _printf_(2, 3);
static void row(const char *what, const char *fmt, ...) {
        va_list ap;

        printf("| %s | ", what);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf(" |\n");
}

static void bench(void) {
        _cleanup_free_ double *lat = calloc(arg_changes, sizeof(double));
        ProcStat r0, r1, n0, n1;
        unsigned reloads0, reloads1, failed = 0;
        struct stat st;
        double t0, t1;

        if (!lat)
                die("out of memory");

        /* 1. the routes */
        populate();
        put_lat(port_a);
        if (wait_backend('a', now_ms()) < 0)
                die("nginx never served lat.bench");
        (void) sleep(2);
        if (stat(path("run/nginx.conf"), &st) < 0)
                die("no config");

        printf("| | |\n|---|---|\n");
        row("routes, apps", "%u + 1 over %u + 1 (config %.0f KB)", arg_routes, arg_apps, (double) st.st_size / 1024.0);

        /* 2. at rest */
        if (arg_latency_only)
                goto latency;
        r0 = proc_stat(router_pid);
        t0 = now_ms();
        (void) sleep(arg_window);
        r1 = proc_stat(router_pid);
        t1 = now_ms();
        row("router CPU at rest", "%.2f %% of a core (%.3f s in %.0f s)", 100.0 * (r1.self - r0.self) / ((t1 - t0) / 1000.0),
            r1.self - r0.self, (t1 - t0) / 1000.0);
        row("router RSS at rest", "%.1f MB", (double) r1.rss_kb / 1024.0);

        /* 3. change -> served */
latency:
        for (unsigned i = 0; i < arg_changes; i++) {
                char want = i % 2 ? 'a' : 'b';
                double start = now_ms();

                put_lat(want == 'a' ? port_a : port_b);
                lat[i] = wait_backend(want, start);
                if (lat[i] < 0)
                        failed++;
                (void) usleep(200 * 1000);
        }
        if (failed)
                die("%u change(s) never reached nginx", failed);
        {
                double p50 = percentile(lat, arg_changes, 50), p99 = percentile(lat, arg_changes, 99);
                row("etcd put -> nginx serves the new upstream, p50", "%.1f ms (batch_delay %s)", p50, arg_batch_delay);
                row("... p99 (nearest rank)", "%.1f ms", p99);
                row("... min / max", "%.1f / %.1f ms over %u changes", lat[0], lat[arg_changes - 1], arg_changes);
        }

        /* 4. churn */
        if (arg_latency_only)
                return;
        reloads0 = count_in_file(path("router.log"), "Installed a new nginx config");
        r0 = proc_stat(router_pid);
        n0 = proc_stat(nginx_pid);
        t0 = now_ms();
        for (unsigned i = 0; i < arg_rate * arg_window; i++) {
                _cleanup_free_ char *key = NULL, *value = NULL;
                double due = t0 + (double) i * 1000.0 / arg_rate;

                while (now_ms() < due)
                        (void) usleep(1000);
                background_route((i * 7919u) % arg_routes, 20001 + i, &key, &value);
                if (harness_put(etcd, key, value) < 0)
                        die("put failed");
        }
        (void) usleep(1000 * 1000);
        t1 = now_ms();
        r1 = proc_stat(router_pid);
        n1 = proc_stat(nginx_pid);
        reloads1 = count_in_file(path("router.log"), "Installed a new nginx config");
        {
                double secs = (t1 - t0) / 1000.0;

                row("changes during churn", "%u at %u/s", arg_rate * arg_window, arg_rate);
                row("nginx reloads during churn", "%u", reloads1 - reloads0);
                row("router CPU under churn (itself)", "%.1f %% of a core", 100.0 * (r1.self - r0.self) / secs);
                row("router's children under churn (nginx -t; the reload is a signal)", "%.1f %% of a core",
                    100.0 * (r1.children - r0.children) / secs);
                row("nginx under churn (master + workers that exited)", "%.1f %% of a core",
                    100.0 * ((n1.self + n1.children) - (n0.self + n0.children)) / secs);
                row("router RSS after churn", "%.1f MB", (double) r1.rss_kb / 1024.0);
        }
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(p);
        return 0;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "nginx", required_argument, NULL, 'n' },
                { "routes", required_argument, NULL, 'r' },
                { "apps", required_argument, NULL, 'a' },
                { "changes", required_argument, NULL, 'c' },
                { "rate", required_argument, NULL, 'R' },
                { "window", required_argument, NULL, 'w' },
                { "batch-delay", required_argument, NULL, 'b' },
                { "latency-only", no_argument, NULL, 'L' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'n': arg_nginx = optarg; break;
                case 'r': arg_routes = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'a': arg_apps = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'c': arg_changes = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'R': arg_rate = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'w': arg_window = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'b': arg_batch_delay = optarg; break;
                case 'L': arg_latency_only = true; break;
                default: return EXIT_FAILURE;
                }
        if (optind + 1 != argc || arg_apps == 0 || arg_routes < arg_apps || arg_changes == 0 || arg_rate == 0 ||
            arg_window == 0) {
                fprintf(stderr, "usage: bench-router [--routes=1000] [--apps=100] [--changes=50] [--rate=10] "
                                "[--window=10] [--batch-delay=50ms] [--latency-only] [--nginx=/usr/sbin/nginx] FLEET_ROUTER\n");
                return EXIT_FAILURE;
        }
        arg_router = argv[optind];
        if (!mkdtemp(dir) || etcd_runner_start(&etcd) < 0)
                die("cannot start etcd");
        harness_http_set_fresh(true);

        start_all();
        bench();

        (void) harness_stop(nginx_pid, SIGQUIT, 5 * USEC_PER_SEC);
        (void) harness_stop(router_pid, SIGTERM, 5 * USEC_PER_SEC);
        if (!getenv("BENCH_KEEP"))
                (void) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return EXIT_SUCCESS;
}
