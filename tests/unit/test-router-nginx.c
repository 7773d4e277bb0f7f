/* SPDX-License-Identifier: Apache-2.0 */
/* The real nginx on what fleet-router renders, through the reloader (reloader.h): every render
 * passes `nginx -t`; a config nginx refuses is not installed; unchanged texts reload nothing;
 * texts submitted while busy collapse to the newest; a failed reload is retried.
 * Skipped (77) without nginx ($FLEET_ROUTER_TEST_NGINX, by default /usr/sbin/nginx). */
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "basic/strv.h"
#include "reloader.h"
#include "render.h"
#include "route.h"
#include "../tests.h"

static const char *nginx;
static char dir[] = "/tmp/test-router-nginx-XXXXXX";

typedef struct Loop {
        sd_event *event;
        Reloader *reloader;
        unsigned idle;
} Loop;

static void on_idle(Reloader *r, void *userdata) {
        Loop *l = userdata;

        l->idle++;
}

static char *path_in_dir(const char *name) {
        char *p = NULL;

        return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

/* A reloader on output <dir>/<name>.conf with the built-in reload (SIGHUP to the pid in
 * <dir>/nginx.pid). */
static int loop_new_builtin(Loop *l, const char *name) {
        _cleanup_free_ char *output = NULL, *pid_file = path_in_dir("nginx.pid");

        if (!pid_file || asprintf(&output, "%s/%s.conf", dir, name) < 0)
                return -ENOMEM;
        ReloaderOptions o = {
                .output = output,
                .nginx_binary = nginx,
                .pid_file = pid_file,
                .timeout = 30 * USEC_PER_SEC,
        };
        *l = (Loop) {};
        if (sd_event_new(&l->event) < 0)
                return -ENOMEM;
        return reloader_new(l->event, &o, on_idle, l, &l->reloader);
}

/* A reloader on output <dir>/<name>.conf whose reload command appends a line to
 * <dir>/<name>.reloads, after failing `fail` times. */
static int loop_new(Loop *l, const char *name, unsigned fail) {
        _cleanup_free_ char *output = NULL, *script = NULL, *counter = NULL;
        _cleanup_strv_free_ char **argv = NULL;
        char output_name[64];

        snprintf(output_name, sizeof(output_name), "%s.conf", name);
        output = path_in_dir(output_name);
        if (!output || asprintf(&counter, "%s/%s.reloads", dir, name) < 0 ||
            asprintf(&script, "n=$(cat %s.tries 2>/dev/null || echo 0); echo $((n + 1)) > %s.tries; "
                              "[ $n -ge %u ] || exit 1; echo reload >> %s",
                     counter, counter, fail, counter) < 0)
                return -ENOMEM;
        if (strv_extend(&argv, "/bin/sh") < 0 || strv_extend(&argv, "-c") < 0 || strv_extend(&argv, script) < 0)
                return -ENOMEM;

        ReloaderOptions o = {
                .output = output,
                .nginx_binary = nginx,
                .reload_command = argv,
                .timeout = 30 * USEC_PER_SEC,
        };
        *l = (Loop) {};
        if (sd_event_new(&l->event) < 0)
                return -ENOMEM;
        return reloader_new(l->event, &o, on_idle, l, &l->reloader);
}

static void loop_done(Loop *l) {
        l->reloader = reloader_free(l->reloader);
        l->event = sd_event_unref(l->event);
}

/* Runs the loop until the reloader has nothing left to do. */
static int loop_settle(Loop *l) {
        unsigned before = l->idle;

        while (l->idle == before || reloader_is_busy(l->reloader)) {
                int r = sd_event_run(l->event, 60 * USEC_PER_SEC);
                if (r <= 0)
                        return r < 0 ? r : -ETIMEDOUT;
        }
        return 0;
}

static unsigned count_lines(const char *name) {
        _cleanup_free_ char *path = NULL;
        unsigned n = 0;
        FILE *f;
        int ch;

        if (asprintf(&path, "%s/%s.reloads", dir, name) < 0)
                return 0;
        f = fopen(path, "re");
        if (!f)
                return 0;
        while ((ch = fgetc(f)) != EOF)
                n += ch == '\n';
        fclose(f);
        return n;
}

static char *read_output(const char *name) {
        _cleanup_free_ char *path = NULL;
        char *text = NULL;
        size_t size = 0;
        FILE *f;

        if (asprintf(&path, "%s/%s.conf", dir, name) < 0)
                return NULL;
        f = fopen(path, "re");
        if (!f)
                return NULL;
        if (getdelim(&text, &size, '\0', f) < 0) {
                free(text);
                text = NULL;
        }
        fclose(f);
        return text;
}

static void f_read(const char *p, char **ret) {
        size_t size = 0;
        FILE *f = fopen(p, "re");

        *ret = NULL;
        if (!f)
                return;
        if (getdelim(ret, &size, '\0', f) < 0) {
                free(*ret);
                *ret = NULL;
        }
        fclose(f);
}

static Route *mkweb(const char *app, unsigned i, const char *host, unsigned port) {
        _cleanup_free_ char *name = NULL, *value = NULL;
        Route *r = calloc(1, sizeof(Route));

        if (!r || asprintf(&name, "%s/%s_v1.web@%u.service", app, app, i) < 0 ||
            asprintf(&value, "{\"app\": \"%s\", \"unit\": \"%s_v1.web@%u.service\", \"host\": \"%s\", "
                             "\"port\": %u, \"release\": 1, \"process\": \"web\", "
                             "\"machine\": \"0123456789abcdef0123456789abcdef\"}",
                     app, app, i, host, port) < 0 ||
            route_parse(name, value, r, NULL) < 0)
                return route_free(r);
        return r;
}

/* Renders n apps with per_app instances each, with test paths. */
static char *render_apps(size_t n, size_t per_app, const char *domain, const char *listen) {
        _cleanup_free_ char *pid = path_in_dir("nginx.pid"), *tmp = path_in_dir("tmp");
        _cleanup_free_ Route **l = calloc(n * per_app + 1, sizeof(Route *));
        RenderOptions o = { .domain = domain, .listen = listen, .pid_file = pid, .temp_dir = tmp,
                            .source = "/fleetd/routes/" };
        char *text = NULL;
        size_t k = 0;

        if (!l || !pid || !tmp)
                return NULL;
        for (size_t a = 0; a < n; a++)
                for (size_t i = 0; i < per_app; i++) {
                        char app[64], host[64];

                        /* 40 characters, the longest app name */
                        snprintf(app, sizeof(app), "app-%036zu", a);
                        snprintf(host, sizeof(host), i % 2 ? "10.%zu.%zu.1" : "fd00::%zx:%zx", a / 200, i);
                        l[k] = mkweb(n == 1 ? "hello" : app, (unsigned) i + 1, host, 20000 + (unsigned) i);
                        if (!l[k])
                                goto out;
                        k++;
                }
        (void) render((const Route * const *) l, k, &o, &text, NULL);
out:
        for (size_t i = 0; i < k; i++)
                route_free(l[i]);
        return text;
}

/* Every render nginx must accept: each one is installed, and reloads are counted. */
TEST(renders_pass_nginx_t) {
        static const struct {
                size_t apps, per_app;
                const char *domain, *listen;
        } cases[] = {
                { 0, 0, "fleet.local", "80" },
                { 1, 2, "fleet.local", "127.0.0.1:8080" },
                { 1, 3, "a.very.long.domain.name.of.the.kind.some.companies.really.use.example.com", "[::1]:8080" },
                { 100, 10, "fleet.local", "*:8080" },
        };
        Loop l;

        ASSERT_INT(loop_new(&l, "renders", 0), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *text = render_apps(cases[i].apps, cases[i].per_app, cases[i].domain, cases[i].listen);

                ASSERT_TRUE(text);
                ASSERT_INT(reloader_submit(l.reloader, text), 0);
                ASSERT_INT(loop_settle(&l), 0);
                if (reloader_stats(l.reloader)->refusals != 0) {
                        fprintf(stderr, "case %zu refused by nginx\n", i);
                        ASSERT_TRUE(false);
                }
                ASSERT_INT(reloader_stats(l.reloader)->installs, i + 1);
        }
        /* The first install created the output: nginx could not be running with it yet. */
        ASSERT_INT(reloader_stats(l.reloader)->reloads, ELEMENTSOF(cases) - 1);
        ASSERT_INT(count_lines("renders"), ELEMENTSOF(cases) - 1);
        loop_done(&l);
}

TEST(unchanged_is_no_reload) {
        _cleanup_free_ char *a = render_apps(1, 2, "fleet.local", "8080"), *b = render_apps(1, 3, "fleet.local", "8080");
        Loop l;

        ASSERT_TRUE(a && b);
        ASSERT_INT(loop_new(&l, "unchanged", 0), 0);
        ASSERT_INT(reloader_submit(l.reloader, strdup(a)), 0);
        ASSERT_INT(loop_settle(&l), 0);
        ASSERT_INT(reloader_submit(l.reloader, strdup(a)), 0);
        ASSERT_INT(loop_settle(&l), 0);
        ASSERT_INT(reloader_stats(l.reloader)->installs, 1);
        ASSERT_INT(reloader_stats(l.reloader)->unchanged, 1);
        ASSERT_INT(reloader_submit(l.reloader, strdup(b)), 0);
        ASSERT_INT(loop_settle(&l), 0);
        ASSERT_INT(reloader_submit(l.reloader, strdup(b)), 0);
        ASSERT_INT(loop_settle(&l), 0);
        ASSERT_INT(reloader_stats(l.reloader)->installs, 2);
        ASSERT_INT(count_lines("unchanged"), 1);
        loop_done(&l);

        /* A new reloader takes the existing file as installed: no reload for the same text. */
        ASSERT_INT(loop_new(&l, "unchanged", 0), 0);
        ASSERT_STR(reloader_installed(l.reloader), b);
        ASSERT_INT(reloader_submit(l.reloader, strdup(b)), 0);
        ASSERT_INT(loop_settle(&l), 0);
        ASSERT_INT(reloader_stats(l.reloader)->installs, 0);
        ASSERT_INT(count_lines("unchanged"), 1);
        loop_done(&l);
}

TEST(refused_config_keeps_old) {
        _cleanup_free_ char *good = render_apps(1, 2, "fleet.local", "8080"), *now = NULL;
        Loop l;

        ASSERT_TRUE(good);
        ASSERT_INT(loop_new(&l, "refused", 0), 0);
        ASSERT_INT(reloader_submit(l.reloader, strdup(good)), 0);
        ASSERT_INT(loop_settle(&l), 0);
        ASSERT_INT(reloader_submit(l.reloader, strdup("events {}\nhttp { server { listen 80; bogus_directive; } }\n")), 0);
        ASSERT_INT(loop_settle(&l), 0);
        ASSERT_INT(reloader_stats(l.reloader)->refusals, 1);
        ASSERT_INT(reloader_stats(l.reloader)->installs, 1);
        now = read_output("refused");
        ASSERT_STR(now, good);
        ASSERT_INT(count_lines("refused"), 0);
        loop_done(&l);
}

/* Texts submitted while nginx -t runs: only the newest is installed after. */
TEST(busy_collapses_to_newest) {
        _cleanup_free_ char *last = render_apps(1, 3, "fleet.local", "8080"), *now = NULL;
        Loop l;

        ASSERT_TRUE(last);
        ASSERT_INT(loop_new(&l, "busy", 0), 0);
        ASSERT_INT(reloader_submit(l.reloader, render_apps(0, 0, "fleet.local", "8080")), 0);
        ASSERT_TRUE(reloader_is_busy(l.reloader));
        ASSERT_INT(reloader_submit(l.reloader, render_apps(1, 1, "fleet.local", "8080")), 0);
        ASSERT_INT(reloader_submit(l.reloader, render_apps(1, 2, "fleet.local", "8080")), 0);
        ASSERT_INT(reloader_submit(l.reloader, strdup(last)), 0);
        ASSERT_INT(loop_settle(&l), 0);
        ASSERT_INT(reloader_stats(l.reloader)->installs, 2);
        ASSERT_INT(reloader_stats(l.reloader)->reloads, 1);
        now = read_output("busy");
        ASSERT_STR(now, last);
        loop_done(&l);
}

/* nginx not running yet: the reload fails, and is tried again until it works. */
TEST(failed_reload_is_retried) {
        _cleanup_free_ char *a = render_apps(1, 2, "fleet.local", "8080");
        Loop l;

        ASSERT_TRUE(a);
        ASSERT_INT(loop_new(&l, "retry", 1), 0);
        ASSERT_INT(reloader_submit(l.reloader, render_apps(0, 0, "fleet.local", "8080")), 0);
        ASSERT_INT(loop_settle(&l), 0);
        ASSERT_INT(reloader_submit(l.reloader, strdup(a)), 0);
        ASSERT_INT(loop_settle(&l), 0);
        ASSERT_INT(reloader_stats(l.reloader)->reload_failures, 1);
        ASSERT_INT(reloader_stats(l.reloader)->reloads, 0);
        /* the retry comes after a second */
        ASSERT_INT(loop_settle(&l), 0);
        ASSERT_INT(reloader_stats(l.reloader)->reloads, 1);
        ASSERT_INT(count_lines("retry"), 1);
        loop_done(&l);
}

/* A port on 127.0.0.1 that nobody listens on right now. */
static int free_port(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 0;

        if (fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
            getsockname(fd, (struct sockaddr *) &sa, &len) == 0)
                port = ntohs(sa.sin_port);
        if (fd >= 0)
                close(fd);
        return port;
}

static pid_t spawn(char * const *argv, const char *log) {
        pid_t pid = fork();

        if (pid == 0) {
                sigset_t none;
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

static int write_pid(pid_t pid) {
        _cleanup_free_ char *p = path_in_dir("nginx.pid");
        FILE *f = p ? fopen(p, "we") : NULL;

        if (!f)
                return -EIO;
        fprintf(f, "%d\n", (int) pid);
        return fclose(f) == 0 ? 0 : -EIO;
}

/* The built-in reload signals nginx's master, and only an nginx process. */
TEST(builtin_reload) {
        _cleanup_free_ char *conf = path_in_dir("builtin.conf"), *log = path_in_dir("builtin-nginx.log");
        _cleanup_free_ char *listen = NULL, *text = NULL;
        char *sleeper[] = { (char *) "/bin/sleep", (char *) "30", NULL };
        char *server[] = { (char *) nginx, (char *) "-g", (char *) "daemon off;", (char *) "-c", conf, NULL };
        pid_t sleep_pid, nginx_pid;
        Loop l;

        ASSERT_TRUE(conf && log);
        ASSERT_TRUE(asprintf(&listen, "127.0.0.1:%d", free_port()) > 0);
        ASSERT_INT(loop_new_builtin(&l, "builtin"), 0);

        /* no pid file yet: not running (the first config needs no reload anyway) */
        ASSERT_INT(reloader_submit(l.reloader, render_apps(1, 1, "fleet.local", listen)), 0);
        ASSERT_INT(loop_settle(&l), 0);
        ASSERT_INT(reloader_stats(l.reloader)->installs, 1);

        /* a pid file naming a process that is not nginx: it is left alone */
        sleep_pid = spawn(sleeper, "/dev/null");
        ASSERT_TRUE(sleep_pid > 0);
        ASSERT_INT(write_pid(sleep_pid), 0);
        ASSERT_INT(reloader_submit(l.reloader, render_apps(1, 2, "fleet.local", listen)), 0);
        ASSERT_INT(loop_settle(&l), 0);
        ASSERT_INT(reloader_stats(l.reloader)->reload_failures, 1);
        ASSERT_INT(reloader_stats(l.reloader)->reloads, 0);
        ASSERT_INT(waitpid(sleep_pid, NULL, WNOHANG), 0);
        (void) kill(sleep_pid, SIGKILL);
        (void) waitpid(sleep_pid, NULL, 0);

        /* the real nginx, which writes its own pid file: reloaded */
        ASSERT_INT(unlink(conf) < 0 ? -errno : 0, 0);
        loop_done(&l);
        ASSERT_INT(loop_new_builtin(&l, "builtin"), 0);
        ASSERT_INT(reloader_submit(l.reloader, render_apps(1, 2, "fleet.local", listen)), 0);
        ASSERT_INT(loop_settle(&l), 0);
        nginx_pid = spawn(server, log);
        ASSERT_TRUE(nginx_pid > 0);
        for (int i = 0; i < 500; i++) {
                _cleanup_free_ char *p = path_in_dir("nginx.pid");
                FILE *f = fopen(p, "re");
                int pid = 0;

                if (f) {
                        if (fscanf(f, "%d", &pid) != 1)
                                pid = 0;
                        fclose(f);
                }
                if (pid == nginx_pid)
                        break;
                (void) usleep(10 * 1000);
        }
        ASSERT_INT(reloader_submit(l.reloader, render_apps(1, 3, "fleet.local", listen)), 0);
        ASSERT_INT(loop_settle(&l), 0);
        ASSERT_INT(reloader_stats(l.reloader)->reloads, 1);
        ASSERT_INT(reloader_stats(l.reloader)->reload_failures, 0);
        for (int i = 0; i < 500 && !(text && strstr(text, "reconfiguring")); i++) {
                free(text);
                text = NULL;
                (void) usleep(10 * 1000);
                f_read(log, &text);
        }
        ASSERT_CONTAINS(text, "signal 1 (SIGHUP) received");
        ASSERT_INT(waitpid(nginx_pid, NULL, WNOHANG), 0);
        (void) kill(nginx_pid, SIGQUIT);
        (void) waitpid(nginx_pid, NULL, 0);
        loop_done(&l);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

int test_failures = 0;

int main(void) {
        static const TestCase cases[] = {
                T(renders_pass_nginx_t), T(unchanged_is_no_reload), T(refused_config_keeps_old),
                T(busy_collapses_to_newest), T(failed_reload_is_retried), T(builtin_reload),
        };
        sigset_t mask;
        int r;

        nginx = getenv("FLEET_ROUTER_TEST_NGINX") ?: "/usr/sbin/nginx";
        if (access(nginx, X_OK) < 0) {
                printf("skipped: %s is not installed (nginx-light has it)\n", nginx);
                return 77;
        }
        if (!mkdtemp(dir))
                return EXIT_FAILURE;
        /* fleet-router makes temp_dir at start; nginx makes the directories in it. */
        {
                _cleanup_free_ char *tmp = path_in_dir("tmp");
                if (!tmp || mkdir(tmp, 0755) < 0)
                        return EXIT_FAILURE;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        r = run_tests(cases, ELEMENTSOF(cases));
        (void) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return r;
}
