/* SPDX-License-Identifier: Apache-2.0 */
/* fleet-router's pure parts: route records (route.h) and the nginx config they render to
 * (render.h). The configs are compared byte for byte with tests/golden/router/<case>.conf
 * (the directory is the first argument). FLEET_ROUTER_GOLDEN_UPDATE=1 rewrites those files
 * from what the renderer makes now: review the diff, it is what every edge host will run. */
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>

#include "render.h"
#include "route.h"
#include "../tests.h"

static const char *arg_golden_dir;

#define MACHINE "0123456789abcdef0123456789abcdef"
/* A record's JSON text from its fields' JSON texts. */
#define RECORD(app, unit, host, port, release, process, machine)                                            \
        "{\"app\": " app ", \"unit\": " unit ", \"host\": " host ", \"port\": " port ", \"release\": " release     \
        ", \"process\": " process ", \"machine\": " machine "}"

static const RenderOptions default_options = {
        .domain = "fleet.local",
        .listen = "80",
        .pid_file = "/run/fleet-router/nginx.pid",
        .source = "/fleetd/routes/",
};

/* A route from its key name and record; NULL (and a message) if the record is refused. */
static Route *mkroute(const char *name, const char *value) {
        _cleanup_free_ char *error = NULL;
        Route *r = calloc(1, sizeof(Route));

        if (!r)
                return NULL;
        if (route_parse(name, value, r, &error) < 0) {
                fprintf(stderr, "route %s refused: %s\n", name, strna(error));
                return route_free(r);
        }
        return r;
}

/* Instance i of app's process (release 3) at host:port, with the record agents write. */
static Route *mkinstance(const char *app, const char *process, unsigned i, const char *host, unsigned port) {
        _cleanup_free_ char *name = NULL, *value = NULL;

        if (asprintf(&name, "%s/%s_v3.%s@%u.service", app, app, process, i) < 0 ||
            asprintf(&value, "{\"app\": \"%s\", \"unit\": \"%s_v3.%s@%u.service\", \"host\": \"%s\", "
                             "\"port\": %u, \"release\": 3, \"process\": \"%s\", "
                             "\"machine\": \"0123456789abcdef0123456789abcdef\"}",
                     app, app, process, i, host, port, process) < 0)
                return NULL;
        return mkroute(name, value);
}

/* "web" instance i of app at host:port. */
static Route *mkweb(const char *app, unsigned i, const char *host, unsigned port) {
        return mkinstance(app, "web", i, host, port);
}

static void free_routes(Route **l, size_t n) {
        for (size_t i = 0; i < n; i++)
                route_free(l[i]);
}

static char *read_text(const char *path) {
        _cleanup_free_ char *text = NULL;
        FILE *f = fopen(path, "re");
        size_t size = 0;
        ssize_t n;

        if (!f)
                return NULL;
        n = getdelim(&text, &size, '\0', f);
        fclose(f);
        return n < 0 ? NULL : TAKE_PTR(text);
}

/* Compares text with the golden file <case>.conf, or rewrites it in update mode. */
static bool golden_matches(const char *name, const char *text) {
        _cleanup_free_ char *path = NULL, *expected = NULL;

        if (asprintf(&path, "%s/%s.conf", arg_golden_dir, name) < 0)
                return false;
        if (getenv("FLEET_ROUTER_GOLDEN_UPDATE")) {
                FILE *f = fopen(path, "we");
                if (!f)
                        return false;
                fputs(text, f);
                return fclose(f) == 0;
        }
        expected = read_text(path);
        if (!expected) {
                fprintf(stderr, "cannot read %s\n", path);
                return false;
        }
        if (!streq(expected, text)) {
                fprintf(stderr, "--- %s differs; the renderer wrote:\n%s--- end\n", path, text);
                return false;
        }
        return true;
}

static char *render_list(Route **l, size_t n, const RenderOptions *o, RenderStats *st) {
        char *text = NULL;

        if (render((const Route * const *) l, n, o, &text, st) < 0)
                return NULL;
        return text;
}

/* --- records --- */

TEST(parse_full_record) {
        _cleanup_(route_freep) Route *r = mkweb("hello", 4, "10.233.1.12", 20001);

        ASSERT_TRUE(r);
        ASSERT_STR(r->record.app, "hello");
        ASSERT_STR(r->record.unit, "hello_v3.web@4.service");
        ASSERT_STR(r->record.process, "web");
        ASSERT_STR(r->record.host, "10.233.1.12");
        ASSERT_INT(r->family, AF_INET);
        ASSERT_INT(r->record.port, 20001);
        ASSERT_INT(r->record.release, 3);
        ASSERT_STR(r->record.machine, "0123456789abcdef0123456789abcdef");
        ASSERT_TRUE(route_is_valid(r));
        ASSERT_TRUE(route_is_routed(r));
}

/* The record is registry.h's: every field as agents write them. A field fleetd does not know is
 * ignored; a record of another process is valid but not routed. */
TEST(parse_other_process_and_fields) {
        _cleanup_(route_freep) Route *r = mkroute("hello/hello_v12.worker@3.service",
                                                  "{\"app\": \"hello\", \"unit\": \"hello_v12.worker@3.service\", "
                                                  "\"host\": \"10.0.0.1\", \"port\": 5000, \"release\": 12, "
                                                  "\"process\": \"worker\", \"machine\": \"" MACHINE "\", "
                                                  "\"since\": 17}");

        ASSERT_TRUE(r);
        ASSERT_STR(r->record.process, "worker");
        ASSERT_INT(r->record.release, 12);
        ASSERT_TRUE(route_is_valid(r));
        ASSERT_TRUE(!route_is_routed(r));
}

TEST(parse_ipv6_canonical) {
        _cleanup_(route_freep) Route *r = mkroute("hello/hello_v1.web@1.service",
                                                  RECORD("\"hello\"", "\"hello_v1.web@1.service\"",
                                                         "\"2001:DB8:0::0001\"", "8080", "1", "\"web\"",
                                                         "\"" MACHINE "\""));

        ASSERT_TRUE(r);
        ASSERT_INT(r->family, AF_INET6);
        ASSERT_STR(r->record.host, "2001:db8::1");
}

/* Every record here must be refused, with a message. */
TEST(parse_refuses_bad_records) {
#define GOOD RECORD("\"hello\"", "\"hello_v1.web@1.service\"", "\"10.0.0.1\"", "1", "1", "\"web\"", "\"" MACHINE "\"")
#define HOST(h) RECORD("\"hello\"", "\"hello_v1.web@1.service\"", h, "1", "1", "\"web\"", "\"" MACHINE "\"")
#define PORT(p) RECORD("\"hello\"", "\"hello_v1.web@1.service\"", "\"10.0.0.1\"", p, "1", "\"web\"", "\"" MACHINE "\"")
#define APP_UNIT(a, u) RECORD(a, u, "\"10.0.0.1\"", "1", "1", "\"web\"", "\"" MACHINE "\"")
#define RELEASE(n)                                                                                   \
        RECORD("\"hello\"", "\"hello_v1.web@1.service\"", "\"10.0.0.1\"", "1", n, "\"web\"", "\"" MACHINE "\"")
#define PROCESS(p) RECORD("\"hello\"", "\"hello_v1.web@1.service\"", "\"10.0.0.1\"", "1", "1", p, "\"" MACHINE "\"")
#define MACHINE_ID(m) RECORD("\"hello\"", "\"hello_v1.web@1.service\"", "\"10.0.0.1\"", "1", "1", "\"web\"", m)
        static const struct {
                const char *name, *value, *why;
        } cases[] = {
                { "hello", GOOD, "routes/<app>/<unit>" },
                { "Hello/Hello_v1.web@1.service", GOOD, "app name" },
                { "hello_x/hello_x_v1.web@1.service", GOOD, "app name" },
                { "-a/a_v1.web@1.service", GOOD, "app name" },
                { "a;b/x.service", GOOD, "app name" },
                { "hello/a b.service", GOOD, "unit name" },
                { "hello/x;}.service", GOOD, "unit name" },
                { "hello/hello_v1.web@1.service/x", GOOD, "unit name" },
                { "hello/hello_v1.web@1.service", HOST("\"10.0.0.1; }\""), "\"host\"" },
                { "hello/hello_v1.web@1.service", HOST("\"localhost\""), "\"host\"" },
                { "hello/hello_v1.web@1.service", HOST("\" 10.0.0.1\""), "\"host\"" },
                { "hello/hello_v1.web@1.service", HOST("\"\""), "\"host\"" },
                { "hello/hello_v1.web@1.service", HOST("10"), "\"host\"" },
                { "hello/hello_v1.web@1.service", HOST("null"), "\"host\"" },
                { "hello/hello_v1.web@1.service", PORT("0"), "\"port\"" },
                { "hello/hello_v1.web@1.service", PORT("65536"), "\"port\"" },
                { "hello/hello_v1.web@1.service", PORT("\"80\""), "\"port\"" },
                { "hello/hello_v1.web@1.service", PORT("80.5"), "\"port\"" },
                { "hello/hello_v1.web@1.service", PORT("null"), "\"port\"" },
                { "hello/hello_v1.web@1.service", APP_UNIT("\"other\"", "\"other_v1.web@1.service\""), "\"app\"" },
                { "hello/hello_v1.web@1.service", APP_UNIT("\"hello\"", "\"hello_v1.web@2.service\""), "\"unit\"" },
                { "hello/hello_v1.web@1.service", APP_UNIT("\"hello\"", "\"x.service\""), "\"unit\"" },
                { "hello/other_v1.web@1.service", APP_UNIT("\"hello\"", "\"other_v1.web@1.service\""),
                  "belongs to app" },
                { "hello/plain.service", APP_UNIT("\"hello\"", "\"plain.service\""), "app instance name" },
                { "hello/hello_v1.web@1.service", PROCESS("\"We b\""), "\"process\"" },
                { "hello/hello_v1.web@1.service", PROCESS("\"worker\""), "\"process\"" },
                { "hello/hello_v1.web@1.service", RELEASE("-1"), "\"release\"" },
                { "hello/hello_v1.web@1.service", RELEASE("2"), "\"release\"" },
                { "hello/hello_v1.web@1.service", MACHINE_ID("\"x;\""), "\"machine\"" },
                /* the short form of earlier versions: the key named app and unit */
                { "hello/hello_v1.web@1.service", "{\"host\": \"10.0.0.1\", \"port\": 1}", "\"app\"" },
                { "hello/hello_v1.web@1.service", "[1, 2]", "JSON object" },
                { "hello/hello_v1.web@1.service", "{\"host\": \"10.0.0.1\", \"port\": 1", "JSON object" },
                { "hello/hello_v1.web@1.service", "{\"host\": \"10.0.0.1\", \"port\": 1, \"port\": 2}", "JSON object" },
                { "hello/hello_v1.web@1.service", "", "JSON object" },
        };
#undef GOOD
#undef HOST
#undef PORT
#undef APP_UNIT
#undef RELEASE
#undef PROCESS
#undef MACHINE_ID

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(route_done) Route r = {};
                _cleanup_free_ char *error = NULL;

                if (route_parse(cases[i].name, cases[i].value, &r, &error) != -EINVAL) {
                        fprintf(stderr, "case %zu (%s = %s) was accepted\n", i, cases[i].name, cases[i].value);
                        ASSERT_TRUE(false);
                }
                ASSERT_CONTAINS(error, cases[i].why);
        }
}

TEST(parse_refuses_huge_value) {
        _cleanup_free_ char *value = malloc(ROUTE_RECORD_VALUE_MAX + 100);
        _cleanup_(route_done) Route r = {};
        const char *good = RECORD("\"hello\"", "\"hello_v1.web@1.service\"", "\"10.0.0.1\"", "1", "1", "\"web\"",
                                  "\"" MACHINE "\"");

        ASSERT_TRUE(value);
        memset(value, ' ', ROUTE_RECORD_VALUE_MAX + 99);
        memcpy(value, good, strlen(good));
        value[ROUTE_RECORD_VALUE_MAX + 99] = 0;
        ASSERT_INT(route_parse("hello/hello_v1.web@1.service", value, &r, NULL), -EINVAL);
}

TEST(order_is_numeric) {
        Route *l[4] = {
                mkweb("a", 1, "10.0.0.10", 80),
                mkweb("a", 2, "10.0.0.9", 80),
                mkweb("a", 3, "::1", 80),
                mkweb("a", 4, "10.0.0.9", 79),
        };

        for (size_t i = 0; i < ELEMENTSOF(l); i++)
                ASSERT_TRUE(l[i]);
        qsort(l, ELEMENTSOF(l), sizeof(Route *), route_compare_ptr);
        ASSERT_STR(l[0]->record.unit, "a_v3.web@4.service");
        ASSERT_STR(l[1]->record.unit, "a_v3.web@2.service");
        ASSERT_STR(l[2]->record.unit, "a_v3.web@1.service");
        ASSERT_STR(l[3]->record.unit, "a_v3.web@3.service");
        free_routes(l, ELEMENTSOF(l));
}

/* --- options --- */

TEST(option_checks) {
        ASSERT_TRUE(render_domain_is_valid("fleet.local"));
        ASSERT_TRUE(render_domain_is_valid("a"));
        ASSERT_TRUE(render_domain_is_valid("apps.example-1.com"));
        ASSERT_TRUE(!render_domain_is_valid(""));
        ASSERT_TRUE(!render_domain_is_valid("Fleet.local"));
        ASSERT_TRUE(!render_domain_is_valid(".fleet"));
        ASSERT_TRUE(!render_domain_is_valid("fleet."));
        ASSERT_TRUE(!render_domain_is_valid("a..b"));
        ASSERT_TRUE(!render_domain_is_valid("-a.b"));
        ASSERT_TRUE(!render_domain_is_valid("a-.b"));
        ASSERT_TRUE(!render_domain_is_valid("a;b"));
        ASSERT_TRUE(!render_domain_is_valid("a b"));
        ASSERT_TRUE(!render_domain_is_valid("*.a"));

        ASSERT_TRUE(render_listen_is_valid("80"));
        ASSERT_TRUE(render_listen_is_valid("65535"));
        ASSERT_TRUE(render_listen_is_valid("127.0.0.1:8080"));
        ASSERT_TRUE(render_listen_is_valid("[::]:80"));
        ASSERT_TRUE(render_listen_is_valid("*:80"));
        ASSERT_TRUE(!render_listen_is_valid("0"));
        ASSERT_TRUE(!render_listen_is_valid("65536"));
        ASSERT_TRUE(!render_listen_is_valid("080"));
        ASSERT_TRUE(!render_listen_is_valid("localhost:80"));
        ASSERT_TRUE(!render_listen_is_valid("80 ssl"));
        ASSERT_TRUE(!render_listen_is_valid("80;"));
        ASSERT_TRUE(!render_listen_is_valid("[::1]80"));
        ASSERT_TRUE(!render_listen_is_valid(""));

        ASSERT_TRUE(render_path_is_safe("/run/fleet-router/nginx.pid"));
        ASSERT_TRUE(!render_path_is_safe("run/nginx.pid"));
        ASSERT_TRUE(!render_path_is_safe("/run/a b"));
        ASSERT_TRUE(!render_path_is_safe("/run/a;b"));
        ASSERT_TRUE(!render_path_is_safe("/run/a\"b"));
        ASSERT_TRUE(!render_path_is_safe("/run/$x"));
        ASSERT_TRUE(!render_path_is_safe("/run/{x}"));
}

TEST(render_refuses_bad_options) {
        static const RenderOptions bad[] = {
                { .domain = "Fleet", .listen = "80", .pid_file = "/p" },
                { .domain = "fleet", .listen = "80;", .pid_file = "/p" },
                { .domain = "fleet", .listen = "80", .pid_file = "p" },
                { .domain = "fleet", .listen = "80", .pid_file = NULL },
                { .domain = "fleet", .listen = "80", .pid_file = "/p", .temp_dir = "/a b" },
                { .domain = "fleet", .listen = "80", .pid_file = "/p", .access_log = "/x;" },
                { .domain = "fleet", .listen = "80", .pid_file = "/p", .source = "/fleetd/\nerror_log" },
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *text = NULL;

                ASSERT_INT(render(NULL, 0, &bad[i], &text, NULL), -EINVAL);
                ASSERT_TRUE(!text);
        }
        ASSERT_INT(render(NULL, 0, NULL, NULL, NULL), -EINVAL);
}

/* --- rendering --- */

TEST(render_empty) {
        RenderStats st = { .n_apps = 99 };
        _cleanup_free_ char *text = render_list(NULL, 0, &default_options, &st);

        ASSERT_TRUE(text);
        ASSERT_INT(st.n_apps, 0);
        ASSERT_INT(st.n_servers, 0);
        ASSERT_INT(st.n_skipped, 0);
        ASSERT_TRUE(golden_matches("empty", text));
        /* Only the default server: every host is 404. */
        ASSERT_TRUE(!strstr(text, "upstream fleet-app"));
        ASSERT_CONTAINS(text, "listen 80 default_server;");
}

/* Two apps and a worker; the same routes in every order give the same text. */
TEST(render_two_apps_stable) {
        Route *l[] = {
                mkweb("hello", 4, "10.233.1.12", 20001),
                mkweb("hello", 5, "10.233.1.13", 20001),
                mkweb("hello", 6, "10.233.1.2", 20007),
                mkweb("api-2", 1, "10.233.1.12", 20002),
                mkinstance("hello", "worker", 1, "10.233.1.12", 20009),
        };
        _cleanup_free_ char *first = NULL;
        RenderStats st = {};

        for (size_t i = 0; i < ELEMENTSOF(l); i++)
                ASSERT_TRUE(l[i]);
        first = render_list(l, ELEMENTSOF(l), &default_options, &st);
        ASSERT_TRUE(first);
        ASSERT_INT(st.n_apps, 2);
        ASSERT_INT(st.n_servers, 4);
        ASSERT_INT(st.n_skipped, 1);
        ASSERT_TRUE(golden_matches("two-apps", first));

        /* Every rotation and the reverse of the array. */
        for (size_t shift = 1; shift <= ELEMENTSOF(l); shift++) {
                Route *m[ELEMENTSOF(l)];
                _cleanup_free_ char *text = NULL;

                for (size_t i = 0; i < ELEMENTSOF(l); i++)
                        m[i] = shift == ELEMENTSOF(l) ? l[ELEMENTSOF(l) - 1 - i] : l[(i + shift) % ELEMENTSOF(l)];
                text = render_list(m, ELEMENTSOF(m), &default_options, NULL);
                ASSERT_TRUE(text);
                ASSERT_STR(text, first);
        }
        free_routes(l, ELEMENTSOF(l));
}

TEST(render_options_and_ipv6) {
        RenderOptions o = {
                .domain = "apps.example.com",
                .listen = "[::]:8080",
                .pid_file = "/tmp/router/nginx.pid",
                .temp_dir = "/tmp/router/tmp",
                .access_log = "/var/log/fleet-router/access.log",
                .connect_timeout = 250 * USEC_PER_MSEC,
                .source = "/custom/routes/",
        };
        Route *l[] = {
                mkweb("v6", 1, "2001:db8::12", 31000),
                mkweb("v6", 2, "10.0.0.1", 31000),
        };
        _cleanup_free_ char *text = NULL;

        ASSERT_TRUE(l[0] && l[1]);
        text = render_list(l, ELEMENTSOF(l), &o, NULL);
        ASSERT_TRUE(text);
        ASSERT_TRUE(golden_matches("options-ipv6", text));
        ASSERT_CONTAINS(text, "server [2001:db8::12]:31000;");
        ASSERT_CONTAINS(text, "proxy_connect_timeout 250ms;");
        ASSERT_CONTAINS(text, "server_name v6.apps.example.com;");
        free_routes(l, ELEMENTSOF(l));
}

/* Two units on one address (a stale record and its successor) make one server line. */
TEST(render_dedupes_addresses) {
        Route *l[] = {
                mkweb("hello", 1, "10.0.0.1", 5000),
                mkweb("hello", 2, "10.0.0.1", 5000),
                mkweb("other", 1, "10.0.0.1", 5000),
        };
        _cleanup_free_ char *text = NULL;
        RenderStats st = {};

        text = render_list(l, ELEMENTSOF(l), &default_options, &st);
        ASSERT_TRUE(text);
        ASSERT_INT(st.n_servers, 2);
        ASSERT_CONTAINS(text, "server 10.0.0.1:5000;  # hello_v3.web@1.service\n    }");
        ASSERT_TRUE(!strstr(text, "hello_v3.web@2.service"));
        ASSERT_CONTAINS(text, "server 10.0.0.1:5000;  # other_v3.web@1.service");
        free_routes(l, ELEMENTSOF(l));
}

/* Routes built by other means than route_parse() are checked again: nothing unchecked
 * reaches the text. */
TEST(render_skips_invalid_routes) {
        Route good = {}, bad_host = {}, bad_app = {}, bad_unit = {}, no_port = {};
        const Route *l[] = { &bad_host, &good, &bad_app, &bad_unit, &no_port, NULL };
        _cleanup_free_ char *text = NULL;
        RenderStats st = {};

        good = (Route) { .record = { .app = (char *) "ok", .unit = (char *) "ok_v1.web@1.service",
                                     .process = (char *) "web", .host = (char *) "10.0.0.1", .port = 80,
                                     .release = 1, .machine = MACHINE },
                         .family = AF_INET };
        ASSERT_INT(inet_pton(AF_INET, "10.0.0.1", good.addr), 1);
        bad_host = good;
        bad_host.record.host = (char *) "10.0.0.1; } server { listen 81";
        bad_app = good;
        bad_app.record.app = (char *) "ok{";
        bad_unit = good;
        bad_unit.record.unit = (char *) "ok\n}";
        no_port = good;
        no_port.record.port = 0;

        ASSERT_INT(render(l, ELEMENTSOF(l), &default_options, &text, &st), 0);
        ASSERT_INT(st.n_servers, 1);
        ASSERT_INT(st.n_skipped, 4);
        ASSERT_TRUE(!strstr(text, "listen 81"));
        ASSERT_TRUE(!strstr(text, "ok{"));
        ASSERT_TRUE(!strstr(text, "ok\n}"));
        ASSERT_CONTAINS(text, "server 10.0.0.1:80;  # ok_v1.web@1.service");
}

/* Apps in name order, servers in address order, whatever the input order. */
TEST(render_sorted) {
        Route *l[] = {
                mkweb("zeta", 1, "10.0.0.2", 1),
                mkweb("alpha", 1, "10.0.0.10", 1),
                mkweb("alpha", 2, "10.0.0.9", 1),
                mkweb("mid", 1, "10.0.0.1", 1),
        };
        _cleanup_free_ char *text = render_list(l, ELEMENTSOF(l), &default_options, NULL);
        const char *a, *m, *z, *s9, *s10;

        ASSERT_TRUE(text);
        a = strstr(text, "upstream fleet-app-alpha");
        m = strstr(text, "upstream fleet-app-mid");
        z = strstr(text, "upstream fleet-app-zeta");
        s9 = strstr(text, "server 10.0.0.9:1;");
        s10 = strstr(text, "server 10.0.0.10:1;");
        ASSERT_TRUE(a && m && z && s9 && s10);
        ASSERT_TRUE(a < m && m < z);
        ASSERT_TRUE(a < s9 && s9 < s10 && s10 < m);
        free_routes(l, ELEMENTSOF(l));
}

int test_failures = 0;

int main(int argc, char *argv[]) {
        static const TestCase cases[] = {
                T(parse_full_record),
                T(parse_other_process_and_fields),
                T(parse_ipv6_canonical),
                T(parse_refuses_bad_records),
                T(parse_refuses_huge_value),
                T(order_is_numeric),
                T(option_checks),
                T(render_refuses_bad_options),
                T(render_empty),
                T(render_two_apps_stable),
                T(render_options_and_ipv6),
                T(render_dedupes_addresses),
                T(render_skips_invalid_routes),
                T(render_sorted),
        };

        if (argc < 2) {
                fprintf(stderr, "usage: %s GOLDEN_DIR (tests/golden/router)\n", argv[0]);
                return EXIT_FAILURE;
        }
        arg_golden_dir = argv[1];
        return run_tests(cases, ELEMENTSOF(cases));
}
