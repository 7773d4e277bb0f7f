/* SPDX-License-Identifier: Apache-2.0 */
/* fleet-router's configuration (router-config.h): defaults, the file, flags, messages. */
#include <stdio.h>
#include <syslog.h>

#include "basic/strv.h"
#include "router-config.h"
#include "../tests.h"

/* Writes text to a new temp file; returns its path (to unlink and free). */
static char *write_conf(const char *text) {
        char *path = strdup("/tmp/test-router-config-XXXXXX");
        int fd;

        if (!path)
                return NULL;
        fd = mkstemp(path);
        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text)) {
                free(path);
                return NULL;
        }
        close(fd);
        return path;
}

/* Parses text as a config file; returns the error message, or NULL on success. */
static int parse_text(RouterConfig *c, const char *text, char **ret_error) {
        _cleanup_free_ char *path = write_conf(text);
        int r;

        if (!path)
                return -EIO;
        r = router_config_parse_file(c, path, ret_error);
        unlink(path);
        return r;
}

TEST(defaults) {
        _cleanup_(router_config_freep) RouterConfig *c = NULL;
        _cleanup_free_ char *pid = NULL;

        ASSERT_INT(router_config_new(&c), 0);
        ASSERT_STR(c->domain, "fleet.local");
        ASSERT_STR(c->listen, "80");
        ASSERT_STR(c->output, "/run/fleet-router/nginx.conf");
        ASSERT_STR(c->nginx_binary, "/usr/sbin/nginx");
        ASSERT_TRUE(!c->temp_dir);
        ASSERT_TRUE(!c->access_log);
        ASSERT_TRUE(!c->reload_command);
        ASSERT_INT(c->connect_timeout, USEC_PER_SEC);
        ASSERT_INT(c->batch_delay, 50 * USEC_PER_MSEC);
        ASSERT_INT(c->command_timeout, 10 * USEC_PER_SEC);
        ASSERT_STR(c->etcd_servers[0], "http://127.0.0.1:2379");
        ASSERT_STR(c->etcd_key_prefix, "/fleetd/");

        /* no command: the built-in SIGHUP to nginx's master */
        ASSERT_INT(router_config_finish(c, NULL), 0);
        ASSERT_TRUE(!c->reload_command);

        pid = router_config_pid_file(c);
        ASSERT_STR(pid, "/run/fleet-router/nginx.pid");
}

TEST(file_all_keys) {
        _cleanup_(router_config_freep) RouterConfig *c = NULL;
        _cleanup_free_ char *error = NULL, *pid = NULL;

        ASSERT_INT(router_config_new(&c), 0);
        ASSERT_INT(parse_text(c,
                              "# comment\n"
                              "; another\n"
                              "etcd_servers = http://10.0.0.1:2379, http://10.0.0.2:2379\n"
                              "[fleet-router]\n"
                              "etcd_key_prefix = custom\n"
                              "  domain = apps.example.com\n"
                              "listen = \"127.0.0.1:8080\"\n"
                              "output = /srv/router/nginx.conf\n"
                              "nginx_binary = /opt/nginx/sbin/nginx\n"
                              "temp_dir = /srv/router/tmp\n"
                              "access_log = /var/log/router.log\n"
                              "connect_timeout = 250ms\n"
                              "batch_delay = 0\n"
                              "command_timeout = 1m\n"
                              "log_level = debug\n"
                              "\n",
                              &error),
                   0);
        ASSERT_TRUE(!error);
        ASSERT_INT(strv_length(c->etcd_servers), 2);
        ASSERT_STR(c->etcd_servers[1], "http://10.0.0.2:2379");
        ASSERT_STR(c->etcd_key_prefix, "/custom/");
        ASSERT_INT(c->log_level, LOG_DEBUG);
        ASSERT_STR(c->domain, "apps.example.com");
        ASSERT_STR(c->listen, "127.0.0.1:8080");
        ASSERT_STR(c->output, "/srv/router/nginx.conf");
        ASSERT_STR(c->nginx_binary, "/opt/nginx/sbin/nginx");
        ASSERT_STR(c->temp_dir, "/srv/router/tmp");
        ASSERT_STR(c->access_log, "/var/log/router.log");
        ASSERT_INT(c->connect_timeout, 250 * USEC_PER_MSEC);
        ASSERT_INT(c->batch_delay, 0);
        ASSERT_INT(c->command_timeout, 60 * USEC_PER_SEC);
        ASSERT_INT(router_config_finish(c, NULL), 0);
        pid = router_config_pid_file(c);
        ASSERT_STR(pid, "/srv/router/nginx.pid");
}

TEST(file_errors_say_where) {
        static const struct {
                const char *text, *message;
        } cases[] = {
                { "domain = a\nbogus = 1\n", ":2: unknown key 'bogus'" },
                { "[fleetd]\ndomain = a\n", ":1: unknown section [fleetd]" },
                { "domain = a\nthis is not ini\n", ":2: syntax error" },
                { "\n\ndomain = Big.Domain\n", ":3: invalid value for domain: 'Big.Domain'" },
                { "listen = 0\n", ":1: invalid value for listen" },
                { "listen = localhost:80\n", ":1: invalid value for listen" },
                { "output = nginx.conf\n", ":1: invalid value for output" },
                { "output = /run/a b/nginx.conf\n", ":1: invalid value for output" },
                { "temp_dir = /tmp/x;y\n", ":1: invalid value for temp_dir" },
                { "connect_timeout = 0\n", ":1: invalid value for connect_timeout" },
                { "batch_delay = 11s\n", ":1: invalid value for batch_delay" },
                { "command_timeout = 10ms\n", ":1: invalid value for command_timeout" },
                { "reload_command = nginx -s reload\n", ":1: invalid value for reload_command" },
                /* fleetd's message for an empty key that has a default (the loader is shared) */
                { "domain =\n", ":1: invalid value for domain: ''" },
                { "etcd_servers = ftp://x\n", ":1: invalid value for etcd_servers" },
                { "log_level = loud\n", ":1: invalid value for log_level" },
                /* fleetd.conf's other keys mean nothing here */
                { "agent_ttl = 5s\n", ":1: unknown key 'agent_ttl'" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(router_config_freep) RouterConfig *c = NULL;
                _cleanup_free_ char *error = NULL;

                ASSERT_INT(router_config_new(&c), 0);
                if (parse_text(c, cases[i].text, &error) != -EINVAL) {
                        fprintf(stderr, "case %zu was accepted: %s", i, cases[i].text);
                        ASSERT_TRUE(false);
                }
                ASSERT_CONTAINS(error, "/tmp/test-router-config-");
                ASSERT_CONTAINS(error, cases[i].message);
        }
}

TEST(file_missing) {
        _cleanup_(router_config_freep) RouterConfig *c = NULL;
        _cleanup_free_ char *error = NULL;

        ASSERT_INT(router_config_new(&c), 0);
        ASSERT_INT(router_config_parse_file(c, "/nonexistent/fleet-router.conf", &error), -ENOENT);
        ASSERT_TRUE(!error);
}

TEST(empty_values) {
        _cleanup_(router_config_freep) RouterConfig *c = NULL;

        ASSERT_INT(router_config_new(&c), 0);
        ASSERT_INT(router_config_set(c, "temp_dir", "/tmp/x", "test", NULL), 0);
        ASSERT_INT(router_config_set(c, "temp_dir", "", "test", NULL), 0);
        ASSERT_TRUE(!c->temp_dir);
        ASSERT_INT(router_config_set(c, "reload_command", "/bin/systemctl reload fleet-nginx.service", "test", NULL), 0);
        ASSERT_INT(strv_length(c->reload_command), 3);
        ASSERT_STR(c->reload_command[2], "fleet-nginx.service");
        ASSERT_INT(router_config_set(c, "reload_command", "  ", "test", NULL), 0);
        ASSERT_TRUE(!c->reload_command);
        ASSERT_INT(router_config_set(c, "listen", "", "test", NULL), -EINVAL);
        ASSERT_INT(router_config_set(c, "listen", "80\n", "test", NULL), 0);
        ASSERT_INT(router_config_set(c, "listen", "8\n0", "test", NULL), -EINVAL);
}

TEST(flags) {
        _cleanup_(router_config_freep) RouterConfig *c = NULL;
        _cleanup_free_ char *error = NULL;
        bool explicit_path;
        char *argv[] = {
                (char *) "fleet-router", (char *) "--config", (char *) "/etc/x.conf", (char *) "--listen=8080",
                (char *) "--domain", (char *) "test", (char *) "--reload_command=/bin/true a  b",
                (char *) "--etcd_servers=http://127.0.0.1:1", NULL,
        };
        int argc = (int) ELEMENTSOF(argv) - 1;

        ASSERT_STR(router_config_path(argc, argv, &explicit_path), "/etc/x.conf");
        ASSERT_TRUE(explicit_path);

        ASSERT_INT(router_config_new(&c), 0);
        ASSERT_INT(router_config_parse_args(c, argc, argv, &error), 0);
        ASSERT_STR(c->listen, "8080");
        ASSERT_STR(c->domain, "test");
        ASSERT_INT(strv_length(c->reload_command), 3);
        ASSERT_STR(c->etcd_servers[0], "http://127.0.0.1:1");
}

TEST(flag_errors) {
        static const struct {
                const char *arg, *message;
        } cases[] = {
                { "listen=80", "unexpected argument 'listen=80'" },
                { "--", "unexpected argument '--'" },
                { "--listen", "--listen needs a value" },
                { "--nope=1", "--nope: unknown key 'nope'" },
                { "--domain=a_b", "--domain: invalid value for domain" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(router_config_freep) RouterConfig *c = NULL;
                _cleanup_free_ char *error = NULL;
                char *argv[] = { (char *) "fleet-router", (char *) cases[i].arg, NULL };

                ASSERT_INT(router_config_new(&c), 0);
                ASSERT_INT(router_config_parse_args(c, 2, argv, &error), -EINVAL);
                ASSERT_CONTAINS(error, cases[i].message);
        }
}

TEST(default_path) {
        char *argv[] = { (char *) "fleet-router", (char *) "--listen=1", NULL };
        bool explicit_path = true;

        ASSERT_STR(router_config_path(2, argv, &explicit_path), ROUTER_CONFIG_DEFAULT_PATH);
        ASSERT_TRUE(!explicit_path);
}

/* fleetd's whole-config rules hold for the etcd keys. */
TEST(finish_checks_etcd) {
        _cleanup_(router_config_freep) RouterConfig *c = NULL;
        _cleanup_free_ char *error = NULL;

        ASSERT_INT(router_config_new(&c), 0);
        ASSERT_INT(router_config_set(c, "etcd_certfile", "/etc/cert.pem", "test", NULL), 0);
        ASSERT_INT(router_config_finish(c, &error), -EINVAL);
        ASSERT_CONTAINS(error, "etcd_keyfile");
}

TEST(keys_listed) {
        for (const char * const *k = router_config_keys; *k; k++) {
                _cleanup_(router_config_freep) RouterConfig *c = NULL;
                _cleanup_free_ char *error = NULL;

                /* Every listed key is known: setting it may fail on the value, never on the name. */
                ASSERT_INT(router_config_new(&c), 0);
                (void) router_config_set(c, *k, "?", "test", &error);
                if (error && strstr(error, "unknown key")) {
                        fprintf(stderr, "%s\n", error);
                        ASSERT_TRUE(false);
                }
        }
}

/* The loader is fleetd's: each layer is all-or-nothing, lines hold 199 characters. */
TEST(same_rules_as_fleetd) {
        _cleanup_(router_config_freep) RouterConfig *c = NULL;
        _cleanup_free_ char *error = NULL, *error2 = NULL, *ok = NULL, *bad = NULL;
        char value[200];

        ASSERT_INT(router_config_new(&c), 0);
        ASSERT_INT(parse_text(c, "listen = 8080\ndomain = Bad\n", &error), -EINVAL);
        ASSERT_STR(c->listen, "80");

        /* "access_log = /aaa...": 199 characters. */
        memset(value, 'a', sizeof(value));
        value[0] = '/';
        value[199 - strlen("access_log = ")] = 0;
        ASSERT_TRUE(asprintf(&ok, "access_log = %s\nlisten = 81\n", value) > 0);
        ASSERT_INT(parse_text(c, ok, NULL), 0);
        ASSERT_STR(c->access_log, value);
        ASSERT_TRUE(asprintf(&bad, "access_log = %sa\nlisten = 82\n", value) > 0);
        ASSERT_INT(parse_text(c, bad, &error2), -EINVAL);
        ASSERT_CONTAINS(error2, ":1: line too long (at most 199 characters)");
        ASSERT_STR(c->listen, "81");
}

/* FLEET_ROUTER_<KEY>, between the file and the flags; FLEET_ROUTER_CONFIG names the file. */
TEST(environment) {
        _cleanup_(router_config_freep) RouterConfig *c = NULL;
        _cleanup_free_ char *error = NULL, *path = write_conf("listen = 81\ndomain = file.example\n"), *var = NULL;
        char *env[] = { NULL, (char *) "FLEET_ROUTER_LISTEN=82", (char *) "FLEETD_LISTEN=83", NULL };
        char *argv[] = { (char *) "fleet-router", (char *) "--domain=flag.example", NULL };
        char *bad[] = { (char *) "FLEET_ROUTER_AGENT_TTL=5s", NULL };
        const char *read = NULL;

        ASSERT_TRUE(path);
        ASSERT_TRUE(asprintf(&var, "FLEET_ROUTER_CONFIG=%s", path) > 0);
        env[0] = var;
        ASSERT_INT(router_config_new(&c), 0);
        ASSERT_INT(conf_load(&router_config_table, c, 2, argv, env, &read, NULL, &error), 0);
        unlink(path);
        ASSERT_STR(read, path);
        ASSERT_STR(c->listen, "82");
        ASSERT_STR(c->domain, "flag.example");

        ASSERT_INT(conf_apply_env(&router_config_table, c, bad, NULL, &error), -EINVAL);
        ASSERT_CONTAINS(error, "unknown environment variable FLEET_ROUTER_AGENT_TTL");
}

static const char *arg_source_root;

/* examples/fleet-router.conf: it parses, and it shows every key (as "#key ="). */
TEST(example_file) {
        _cleanup_(router_config_freep) RouterConfig *c = NULL;
        _cleanup_free_ char *error = NULL, *path = NULL, *text = NULL;
        size_t size = 0;
        FILE *f;

        ASSERT_TRUE(asprintf(&path, "%s/examples/fleet-router.conf", arg_source_root) >= 0);
        ASSERT_INT(router_config_new(&c), 0);
        ASSERT_INT(router_config_parse_file(c, path, &error), 0);
        ASSERT_STR(c->listen, "80");

        f = fopen(path, "re");
        ASSERT_TRUE(f);
        ASSERT_TRUE(getdelim(&text, &size, '\0', f) > 0);
        fclose(f);
        for (const char * const *k = router_config_keys; *k; k++) {
                _cleanup_free_ char *line = NULL;

                ASSERT_TRUE(asprintf(&line, "\n#%s =", *k) >= 0);
                if (!strstr(text, line)) {
                        fprintf(stderr, "%s does not show key %s\n", path, *k);
                        ASSERT_TRUE(false);
                }
        }
}

int test_failures = 0;

int main(int argc, char *argv[]) {
        static const TestCase cases[] = {
                T(defaults), T(file_all_keys), T(file_errors_say_where), T(file_missing), T(empty_values), T(flags),
                T(flag_errors), T(default_path), T(finish_checks_etcd), T(keys_listed), T(example_file),
                T(same_rules_as_fleetd), T(environment),
        };

        if (argc < 2) {
                fprintf(stderr, "usage: %s SOURCE_ROOT\n", argv[0]);
                return EXIT_FAILURE;
        }
        arg_source_root = argv[1];
        return run_tests(cases, ELEMENTSOF(cases));
}
