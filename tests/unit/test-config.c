/* SPDX-License-Identifier: Apache-2.0 */
#include <libgen.h>
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

#include "basic/strv.h"
#include "fleetd-config.h"
#include "../tests.h"

/* A file in /tmp that is removed when the variable goes out of scope. */
typedef struct TempFile {
        char path[64];
} TempFile;

static void temp_file_done(TempFile *t) {
        if (t->path[0])
                unlink(t->path);
}

#define _cleanup_temp_ _cleanup_(temp_file_done)

static int temp_file_write(TempFile *t, const char *content) {
        FILE *f;
        int fd;

        snprintf(t->path, sizeof(t->path), "/tmp/test-config-XXXXXX");
        fd = mkstemp(t->path);
        if (fd < 0) {
                t->path[0] = 0;
                return -errno;
        }
        f = fdopen(fd, "w");
        if (!f) {
                close(fd);
                return -errno;
        }
        fputs(content, f);
        return fclose(f) == 0 ? 0 : -errno;
}

/* "path:line" of a temp file, for the messages. */
static const char *at(const TempFile *t, unsigned line) {
        static char buf[80];

        snprintf(buf, sizeof(buf), "%s:%u", t->path, line);
        return buf;
}

TEST(defaults) {
        _cleanup_(config_freep) Config *c = NULL;

        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(strv_length(c->etcd_servers), 1);
        ASSERT_STR(c->etcd_servers[0], "http://127.0.0.1:2379");
        ASSERT_STR(c->etcd_key_prefix, "/fleetd/");
        ASSERT_TRUE(!c->etcd_cafile && !c->etcd_certfile && !c->etcd_keyfile);
        ASSERT_TRUE(!c->etcd_username && !c->etcd_password);
        ASSERT_INT(c->etcd_request_timeout, 0);
        ASSERT_INT(config_etcd_request_timeout(c), 5 * USEC_PER_SEC);
        ASSERT_TRUE(!c->public_ip);
        ASSERT_TRUE(!c->metadata);
        ASSERT_INT(c->n_metadata, 0);
        ASSERT_INT(c->agent_ttl, 10 * USEC_PER_SEC);
        ASSERT_INT(c->engine_reconcile_interval, 60 * USEC_PER_SEC);
        ASSERT_INT(c->route_drain_delay, 2 * USEC_PER_SEC);
        ASSERT_INT(c->reboot_slot_timeout, 30 * 60 * USEC_PER_SEC);
        ASSERT_STR(c->hooks_dir, "/etc/fleetd/hooks.d");
        ASSERT_STR(c->api_socket, "/run/fleetd/fleetd.sock");
        ASSERT_TRUE(!c->api_listen && !c->api_tls_cert && !c->api_tls_key && !c->api_client_ca);
        ASSERT_TRUE(!c->fleetlock_listen);
        ASSERT_INT(c->reboot_slot_timeout, 30 * 60 * USEC_PER_SEC);
        ASSERT_STR(c->machine_id_file, "/etc/machine-id");
        ASSERT_STR(c->state_dir, "/run/fleetd");
        ASSERT_INT(c->log_level, LOG_INFO);
        ASSERT_INT(config_verify(c, NULL), 0);
}

TEST(keys_table) {
        _cleanup_(config_freep) Config *c = NULL;
        size_t n = 0;

        ASSERT_INT(config_new(&c), 0);
        for (; config_keys[n]; n++) {
                _cleanup_free_ char *err = NULL;
                int r = config_set(c, config_keys[n], "x", "test", &err);

                /* "x" is bad for most keys, but a known key never says "unknown key". */
                ASSERT_TRUE(r == 0 || r == -EINVAL);
                ASSERT_TRUE(!err || !strstr(err, "unknown key"));
        }
        ASSERT_INT(n, 27);
}

TEST(build_keys) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        ASSERT_INT(config_new(&c), 0);
        ASSERT_TRUE(!c->build_registry);
        ASSERT_INT(c->build_timeout, 15 * 60 * USEC_PER_SEC);
        ASSERT_INT(config_set(c, "build_registry", "10.233.1.13:5000", "test", NULL), 0);
        ASSERT_STR(c->build_registry, "10.233.1.13:5000");
        ASSERT_INT(config_set(c, "build_registry", "no port", "test", &err), -EINVAL);
        ASSERT_INT(config_set(c, "build_timeout", "1s", "test", NULL), -EINVAL);
        ASSERT_INT(config_set(c, "build_timeout", "1h", "test", NULL), 0);
        ASSERT_INT(c->build_timeout, 3600 * USEC_PER_SEC);
}

TEST(full_file) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_temp_ TempFile t = {};
        _cleanup_free_ char *err = NULL;

        ASSERT_INT(temp_file_write(&t,
                "# fleetd test config\n"
                "; another comment\n"
                "\n"
                "[fleetd]\n"
                "etcd_servers = https://10.0.0.1:2379, https://10.0.0.2:2379\n"
                "etcd_key_prefix = cluster/a\n"
                "etcd_cafile = /etc/fleetd/ca.pem\n"
                "etcd_certfile = /etc/fleetd/etcd.pem\n"
                "etcd_keyfile = /etc/fleetd/etcd.key\n"
                "etcd_username = fleetd\n"
                "etcd_password = s3cret#1\n"
                "etcd_request_timeout = 1500ms\n"
                "public_ip = 2001:db8::7\n"
                "metadata = \"region=us-east, disk=ssd\"\n"
                "  agent_ttl = 30s ; indented, with a comment\n"
                "engine_reconcile_interval = 2m\n"
                "api_socket = /run/f.sock\n"
                "api_listen = [::]:8443\n"
                "api_tls_cert = /etc/fleetd/api.pem\n"
                "api_tls_key = /etc/fleetd/api.key\n"
                "api_client_ca = /etc/fleetd/clients.pem\n"
                "machine_id_file = /var/lib/machine-id\n"
                "state_dir = /var/lib/fleetd\n"
                "log_level = debug\n"), 0);

        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(config_parse_file(c, t.path, &err), 0);
        ASSERT_TRUE(!err);
        ASSERT_INT(strv_length(c->etcd_servers), 2);
        ASSERT_STR(c->etcd_servers[0], "https://10.0.0.1:2379");
        ASSERT_STR(c->etcd_servers[1], "https://10.0.0.2:2379");
        ASSERT_STR(c->etcd_key_prefix, "/cluster/a/");
        ASSERT_STR(c->etcd_cafile, "/etc/fleetd/ca.pem");
        ASSERT_STR(c->etcd_certfile, "/etc/fleetd/etcd.pem");
        ASSERT_STR(c->etcd_keyfile, "/etc/fleetd/etcd.key");
        ASSERT_STR(c->etcd_username, "fleetd");
        ASSERT_STR(c->etcd_password, "s3cret#1");
        ASSERT_INT(c->etcd_request_timeout, 1500 * USEC_PER_MSEC);
        ASSERT_STR(c->public_ip, "2001:db8::7");
        ASSERT_INT(c->n_metadata, 2);
        ASSERT_STR(c->metadata[0].key, "region");
        ASSERT_STR(c->metadata[0].value, "us-east");
        ASSERT_STR(c->metadata[1].key, "disk");
        ASSERT_STR(c->metadata[1].value, "ssd");
        ASSERT_INT(c->agent_ttl, 30 * USEC_PER_SEC);
        ASSERT_INT(c->engine_reconcile_interval, 120 * USEC_PER_SEC);
        ASSERT_STR(c->api_socket, "/run/f.sock");
        ASSERT_STR(c->api_listen, "[::]:8443");
        ASSERT_STR(c->api_tls_cert, "/etc/fleetd/api.pem");
        ASSERT_STR(c->api_tls_key, "/etc/fleetd/api.key");
        ASSERT_STR(c->api_client_ca, "/etc/fleetd/clients.pem");
        ASSERT_STR(c->machine_id_file, "/var/lib/machine-id");
        ASSERT_STR(c->state_dir, "/var/lib/fleetd");
        ASSERT_INT(c->log_level, LOG_DEBUG);
        ASSERT_INT(config_verify(c, &err), 0);
}

TEST(top_level_keys_and_fleet_style) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_temp_ TempFile t = {};
        _cleanup_free_ char *err = NULL;

        /* As fleet wrote it: no section, quotes, a bracketed server list. */
        ASSERT_INT(temp_file_write(&t,
                "etcd_servers=[\"http://127.0.0.1:2379\", \"http://127.0.0.1:4001\"]\n"
                "public_ip=\"\"\n"
                "metadata=\"region=us-west,az=us-west-1\"\n"
                "agent_ttl=\"30s\"\n"
                "engine_reconcile_interval=2\n"
                "[fleetd]\n"
                "log_level = warning\n"), 0);

        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(config_parse_file(c, t.path, &err), 0);
        ASSERT_INT(strv_length(c->etcd_servers), 2);
        ASSERT_STR(c->etcd_servers[1], "http://127.0.0.1:4001");
        ASSERT_TRUE(!c->public_ip);
        ASSERT_INT(c->n_metadata, 2);
        ASSERT_STR(c->metadata[1].value, "us-west-1");
        ASSERT_INT(c->agent_ttl, 30 * USEC_PER_SEC);
        ASSERT_INT(c->engine_reconcile_interval, 2 * USEC_PER_SEC);
        ASSERT_INT(c->log_level, LOG_WARNING);
}

static const struct {
        const char *key;
        const char *value;
} bad_values[] = {
        { "etcd_servers", "127.0.0.1:2379" },
        { "etcd_servers", "http://a:2379,ftp://b" },
        { "etcd_servers", "http://" },
        { "etcd_servers", ", ," },
        { "etcd_servers", "" },
        { "etcd_key_prefix", "a b" },
        { "etcd_key_prefix", "" },
        { "etcd_cafile", "ca.pem" },
        { "etcd_certfile", "certs/etcd.pem" },
        { "etcd_keyfile", "etcd.key" },
        { "etcd_request_timeout", "abc" },
        { "etcd_request_timeout", "0" },
        { "etcd_request_timeout", "1.5.0" },
        { "etcd_request_timeout", "0.0001" },
        { "public_ip", "10.0.0.256" },
        { "public_ip", "example.com" },
        { "metadata", "region" },
        { "agent_ttl", "abc" },
        { "agent_ttl", "1s" },
        { "agent_ttl", "-5s" },
        { "agent_ttl", "" },
        { "engine_reconcile_interval", "500ms" },
        { "engine_reconcile_interval", "0.5" },
        { "disable_engine", "maybe" },
        { "disable_engine", "" },
        { "api_socket", "fleetd.sock" },
        /* 110 bytes; sun_path holds 107 and the NUL. */
        { "api_socket", "/run/fleetd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock" },
        { "api_listen", "8443" },
        { "api_listen", "0.0.0.0:0" },
        { "api_listen", "0.0.0.0:65536" },
        { "api_listen", "::1:8443" },
        { "api_listen", "[::1]8443" },
        { "api_listen", "[nope]:8443" },
        { "api_listen", ":8443" },
        { "api_listen", "host:+80" },
        { "api_tls_cert", "api.pem" },
        { "api_tls_key", "api.key" },
        { "api_client_ca", "ca.pem" },
        { "machine_id_file", "machine-id" },
        { "state_dir", "run/fleetd" },
        { "state_dir", "" },
        { "log_level", "verbose" },
        { "log_level", "INFO" },
        { "verbosity", "-1" },
        { "verbosity", "debug" },
        { "verbosity", "" },
};

TEST(bad_values_in_file) {
        for (size_t i = 0; i < ELEMENTSOF(bad_values); i++) {
                _cleanup_(config_freep) Config *c = NULL, *d = NULL;
                _cleanup_temp_ TempFile t = {};
                _cleanup_free_ char *content = NULL, *err = NULL;

                ASSERT_TRUE(asprintf(&content, "# line 1\nagent_ttl = 7s\n%s = %s\nlog_level = debug\n",
                                     bad_values[i].key, bad_values[i].value) > 0);
                ASSERT_INT(temp_file_write(&t, content), 0);
                ASSERT_INT(config_new(&c), 0);
                ASSERT_INT(config_new(&d), 0);

                ASSERT_INT(config_parse_file(c, t.path, &err), -EINVAL);
                ASSERT_CONTAINS(err, at(&t, 3));
                ASSERT_CONTAINS(err, bad_values[i].key);
                ASSERT_CONTAINS(err, "expected");

                /* Nothing of a bad file is applied, not even the good line before. */
                ASSERT_INT(c->agent_ttl, d->agent_ttl);
                ASSERT_INT(c->log_level, LOG_INFO);
        }
}

TEST(message_format) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(config_set(c, "agent_ttl", "abc", "fleetd.conf:3", &err), -EINVAL);
        ASSERT_STR(err, "fleetd.conf:3: invalid value for agent_ttl: 'abc' "
                        "(expected a duration of at least 2s, such as 10s)");
}

TEST(password_is_not_quoted) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(config_set(c, "etcd_password", "top\nsecret", "FLEETD_ETCD_PASSWORD", &err), -EINVAL);
        ASSERT_CONTAINS(err, "FLEETD_ETCD_PASSWORD: invalid value for etcd_password");
        ASSERT_TRUE(!strstr(err, "secret"));
        ASSERT_TRUE(!c->etcd_password);
}

TEST(unknown_key) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_temp_ TempFile t = {};
        _cleanup_free_ char *err = NULL, *want = NULL;

        ASSERT_INT(temp_file_write(&t, "[fleetd]\nagent_tll = 5s\n"), 0);
        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(config_parse_file(c, t.path, &err), -EINVAL);
        ASSERT_TRUE(asprintf(&want, "%s: unknown key 'agent_tll'", at(&t, 2)) > 0);
        ASSERT_STR(err, want);
}

TEST(unknown_section) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_temp_ TempFile t = {}, u = {}, v = {};
        _cleanup_free_ char *err = NULL, *err2 = NULL, *err3 = NULL;

        ASSERT_INT(config_new(&c), 0);

        ASSERT_INT(temp_file_write(&t, "agent_ttl = 5s\n[etcd]\nservers = http://a:2379\n"), 0);
        ASSERT_INT(config_parse_file(c, t.path, &err), -EINVAL);
        ASSERT_CONTAINS(err, at(&t, 2));
        ASSERT_CONTAINS(err, "unknown section [etcd]");

        /* Even with no keys in it, which inih does not report. */
        ASSERT_INT(temp_file_write(&u, "agent_ttl = 5s\n\n[Fleetd]\n"), 0);
        ASSERT_INT(config_parse_file(c, u.path, &err2), -EINVAL);
        ASSERT_CONTAINS(err2, at(&u, 3));

        /* Blanks inside the brackets are fine. */
        ASSERT_INT(temp_file_write(&v, "[ fleetd ]\nagent_ttl = 5s\n"), 0);
        ASSERT_INT(config_parse_file(c, v.path, &err3), 0);
        ASSERT_INT(c->agent_ttl, 5 * USEC_PER_SEC);
}

TEST(syntax_errors) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_temp_ TempFile t = {}, u = {}, v = {};
        _cleanup_free_ char *err = NULL, *err2 = NULL, *err3 = NULL;

        ASSERT_INT(config_new(&c), 0);

        ASSERT_INT(temp_file_write(&t, "agent_ttl = 5s\njust some words\n"), 0);
        ASSERT_INT(config_parse_file(c, t.path, &err), -EINVAL);
        ASSERT_CONTAINS(err, at(&t, 2));
        ASSERT_CONTAINS(err, "syntax error");
        ASSERT_INT(c->agent_ttl, 10 * USEC_PER_SEC);

        /* inih goes on after a syntax error; the first error is the one reported. */
        ASSERT_INT(temp_file_write(&u, "[fleetd\nagent_ttl = nope\n"), 0);
        ASSERT_INT(config_parse_file(c, u.path, &err2), -EINVAL);
        ASSERT_CONTAINS(err2, at(&u, 1));
        ASSERT_CONTAINS(err2, "syntax error");

        ASSERT_INT(temp_file_write(&v, "agent_ttl = nope\ngarbage\n"), 0);
        ASSERT_INT(config_parse_file(c, v.path, &err3), -EINVAL);
        ASSERT_CONTAINS(err3, at(&v, 1));
        ASSERT_CONTAINS(err3, "agent_ttl");
}

TEST(indented_line_is_not_a_continuation) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_temp_ TempFile t = {};
        _cleanup_free_ char *err = NULL;

        /* inih would append this line to etcd_servers; here it is an error of its own. */
        ASSERT_INT(temp_file_write(&t, "etcd_servers = http://a:2379,\n    http://b:2379\n"), 0);
        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(config_parse_file(c, t.path, &err), -EINVAL);
        ASSERT_CONTAINS(err, at(&t, 2));
}

TEST(long_lines) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_temp_ TempFile t = {}, u = {};
        _cleanup_free_ char *err = NULL, *ok = NULL, *bad = NULL;
        char name[200];

        /* "username = " and a name, 199 characters in all: fits. */
        memset(name, 'u', sizeof(name));
        name[199 - strlen("etcd_username = ")] = 0;
        ASSERT_TRUE(asprintf(&ok, "# x\netcd_username = %s\nlog_level = err\n", name) > 0);
        ASSERT_INT(temp_file_write(&t, ok), 0);
        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(config_parse_file(c, t.path, &err), 0);
        ASSERT_STR(c->etcd_username, name);
        ASSERT_INT(c->log_level, LOG_ERR);

        /* One more is an error, not a truncated value. */
        ASSERT_TRUE(asprintf(&bad, "# x\netcd_username = %sv\nlog_level = debug\n", name) > 0);
        ASSERT_INT(temp_file_write(&u, bad), 0);
        ASSERT_INT(config_parse_file(c, u.path, &err), -EINVAL);
        ASSERT_CONTAINS(err, at(&u, 2));
        ASSERT_CONTAINS(err, "line too long");
        ASSERT_INT(c->log_level, LOG_ERR);
}

TEST(missing_file) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(config_parse_file(c, "/tmp/test-config-does-not-exist/fleetd.conf", &err), -ENOENT);
        ASSERT_TRUE(!err);
        ASSERT_INT(config_parse_file(c, "/tmp", &err), -EISDIR);
        ASSERT_TRUE(!err);
        /* A wrong path that never ends. */
        ASSERT_INT(config_parse_file(c, "/dev/zero", &err), -EINVAL);
        ASSERT_CONTAINS(err, "/dev/zero:10001: file too long");
}

TEST(duplicate_key_last_wins) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_temp_ TempFile t = {};

        ASSERT_INT(temp_file_write(&t,
                "agent_ttl = 5s\n"
                "metadata = a=1\n"
                "[fleetd]\n"
                "agent_ttl = 7s\n"
                "metadata = b=2\n"), 0);
        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(config_parse_file(c, t.path, NULL), 0);
        ASSERT_INT(c->agent_ttl, 7 * USEC_PER_SEC);
        ASSERT_INT(c->n_metadata, 1);
        ASSERT_STR(c->metadata[0].key, "b");
}

TEST(empty_value_unsets) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(config_set(c, "public_ip", "192.0.2.1", "test", NULL), 0);
        ASSERT_INT(config_set(c, "metadata", "a=b", "test", NULL), 0);
        ASSERT_INT(config_set(c, "public_ip", "", "test", NULL), 0);
        ASSERT_INT(config_set(c, "metadata", "  ", "test", NULL), 0);
        ASSERT_TRUE(!c->public_ip);
        ASSERT_TRUE(!c->metadata);
        ASSERT_INT(c->n_metadata, 0);

        ASSERT_INT(config_set(c, "etcd_servers", "", "--etcd_servers", &err), -EINVAL);
        ASSERT_CONTAINS(err, "--etcd_servers: invalid value for etcd_servers: ''");
        ASSERT_INT(strv_length(c->etcd_servers), 1);
}

TEST(env_overrides_file) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_temp_ TempFile t = {};
        _cleanup_free_ char *err = NULL;
        char *env[] = {
                (char *) "PATH=/usr/bin",
                (char *) "FLEETD_CONFIG=/somewhere/else.conf",
                (char *) "FLEETD_AGENT_TTL=7s",
                (char *) "FLEETD_ETCD_SERVERS=http://e1:2379,http://e2:2379",
                (char *) "FLEETD_LOG_LEVEL= notice ",
                (char *) "NOT_FLEETD_X=1",
                NULL,
        };

        ASSERT_INT(temp_file_write(&t, "agent_ttl = 5s\nmetadata = region=eu\nlog_level = debug\n"), 0);
        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(config_parse_file(c, t.path, &err), 0);
        ASSERT_INT(config_apply_env(c, env, &err), 0);
        ASSERT_TRUE(!err);
        ASSERT_INT(c->agent_ttl, 7 * USEC_PER_SEC);
        ASSERT_INT(strv_length(c->etcd_servers), 2);
        ASSERT_STR(c->etcd_servers[1], "http://e2:2379");
        ASSERT_INT(c->log_level, LOG_NOTICE);
        /* Keys the environment does not name keep the file's value. */
        ASSERT_INT(c->n_metadata, 1);
        ASSERT_STR(c->metadata[0].value, "eu");

        /* And flags override both, through the same setter. */
        ASSERT_INT(config_set(c, "agent_ttl", "9s", "--agent_ttl", &err), 0);
        ASSERT_INT(c->agent_ttl, 9 * USEC_PER_SEC);
}

TEST(env_errors) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL, *err2 = NULL, *err3 = NULL;
        char *unknown[] = { (char *) "FLEETD_AGENT_TTL=3s", (char *) "FLEETD_AGENTTTL=3s", NULL };
        char *lower[] = { (char *) "FLEETD_agent_ttl=3s", NULL };
        char *bad[] = { (char *) "FLEETD_LOG_LEVEL=debug", (char *) "FLEETD_AGENT_TTL=soon", NULL };

        ASSERT_INT(config_new(&c), 0);

        ASSERT_INT(config_apply_env(c, unknown, &err), -EINVAL);
        ASSERT_CONTAINS(err, "FLEETD_AGENTTTL");
        ASSERT_INT(c->agent_ttl, 10 * USEC_PER_SEC);

        ASSERT_INT(config_apply_env(c, lower, &err2), -EINVAL);
        ASSERT_CONTAINS(err2, "unknown environment variable FLEETD_agent_ttl");

        ASSERT_INT(config_apply_env(c, bad, &err3), -EINVAL);
        ASSERT_CONTAINS(err3, "FLEETD_AGENT_TTL: invalid value for agent_ttl: 'soon'");
        /* All or nothing: the good variable before it is not applied either. */
        ASSERT_INT(c->log_level, LOG_INFO);

        ASSERT_INT(config_apply_env(c, NULL, NULL), 0);
}

TEST(metadata_good) {
        MetadataPair *m = NULL;
        size_t n = 0;

        ASSERT_INT(parse_metadata("a=b", &m, &n), 0);
        ASSERT_INT(n, 1);
        ASSERT_STR(m[0].key, "a");
        ASSERT_STR(m[0].value, "b");
        metadata_free(m, n);

        ASSERT_INT(parse_metadata(" region = us-east , disk.type=ssd_1,,rack-2=r 7, ", &m, &n), 0);
        ASSERT_INT(n, 3);
        ASSERT_STR(m[0].key, "region");
        ASSERT_STR(m[0].value, "us-east");
        ASSERT_STR(m[1].key, "disk.type");
        ASSERT_STR(m[1].value, "ssd_1");
        ASSERT_STR(m[2].key, "rack-2");
        ASSERT_STR(m[2].value, "r 7");
        metadata_free(m, n);

        m = (MetadataPair *) 1;
        ASSERT_INT(parse_metadata("", &m, &n), 0);
        ASSERT_TRUE(!m);
        ASSERT_INT(n, 0);
        ASSERT_INT(parse_metadata(" , ", &m, &n), 0);
        ASSERT_TRUE(!m);
        ASSERT_INT(n, 0);
        metadata_free(NULL, 0);
}

TEST(metadata_bad) {
        static const char * const bad[] = {
                "a", "=b", "a=", "a= ", "a=b=c", "a b=c", "k$=v", "a=b,c", "a=b,a=c", "a=\x01",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                MetadataPair *m = NULL;
                size_t n = 0;

                if (parse_metadata(bad[i], &m, &n) != -EINVAL) {
                        fprintf(stderr, "metadata '%s' was accepted\n", bad[i]);
                        metadata_free(m, n);
                        ASSERT_TRUE(false);
                }
        }
}

TEST(key_prefix) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "fleetd", "/fleetd/" },
                { "/fleetd", "/fleetd/" },
                { "fleetd/", "/fleetd/" },
                { "/a/b/", "/a/b/" },
                { "/", "/" },
                { " x ", "/x/" },
        };
        _cleanup_(config_freep) Config *c = NULL;

        ASSERT_INT(config_new(&c), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ASSERT_INT(config_set(c, "etcd_key_prefix", cases[i].in, "test", NULL), 0);
                ASSERT_STR(c->etcd_key_prefix, cases[i].out);
        }
        ASSERT_INT(config_set(c, "etcd_key_prefix", "", "test", NULL), -EINVAL);
        ASSERT_INT(config_set(c, "etcd_key_prefix", "a b", "test", NULL), -EINVAL);
        ASSERT_INT(config_set(c, "etcd_key_prefix", "a\tb", "test", NULL), -EINVAL);
        ASSERT_STR(c->etcd_key_prefix, "/x/");
}

TEST(failed_set_keeps_old_value) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(config_set(c, "agent_ttl", "5s", "test", NULL), 0);
        ASSERT_INT(config_set(c, "agent_ttl", "1s", "test", &err), -EINVAL);
        ASSERT_INT(c->agent_ttl, 5 * USEC_PER_SEC);

        ASSERT_INT(config_set(c, "etcd_servers", "http://a:2379,http://b:2379", "test", NULL), 0);
        ASSERT_INT(config_set(c, "etcd_servers", "http://c:2379,ftp://d", "test", NULL), -EINVAL);
        ASSERT_INT(strv_length(c->etcd_servers), 2);
        ASSERT_STR(c->etcd_servers[0], "http://a:2379");

        ASSERT_INT(config_set(c, "metadata", "a=1,b=2", "test", NULL), 0);
        ASSERT_INT(config_set(c, "metadata", "c=3,d", "test", NULL), -EINVAL);
        ASSERT_INT(c->n_metadata, 2);
        ASSERT_STR(c->metadata[1].value, "2");

        ASSERT_INT(config_set(c, "public_ip", "10.0.0.1", "test", NULL), 0);
        ASSERT_INT(config_set(c, "public_ip", "10.0.0", "test", NULL), -EINVAL);
        ASSERT_STR(c->public_ip, "10.0.0.1");

        ASSERT_INT(config_set(c, "nope", "1", "--nope", NULL), -EINVAL);
}

TEST(values) {
        _cleanup_(config_freep) Config *c = NULL;

        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(config_set(c, "public_ip", "192.0.2.10", "test", NULL), 0);
        ASSERT_INT(config_set(c, "public_ip", "::1", "test", NULL), 0);
        ASSERT_INT(config_set(c, "api_listen", "127.0.0.1:1", "test", NULL), 0);
        ASSERT_INT(config_set(c, "api_listen", "fleet-1.example.com:65535", "test", NULL), 0);
        ASSERT_INT(config_set(c, "api_listen", "[fe80::1]:8443", "test", NULL), 0);
        ASSERT_INT(config_set(c, "etcd_request_timeout", "1ms", "test", NULL), 0);
        ASSERT_INT(config_set(c, "agent_ttl", "2s", "test", NULL), 0);
        ASSERT_INT(config_set(c, "engine_reconcile_interval", "1", "test", NULL), 0);
        /* The longest socket path that fits: 107 bytes. */
        ASSERT_INT(config_set(c, "api_socket", "/run/fleetd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock", "test", NULL), 0);
        ASSERT_INT(strlen(c->api_socket), 107);
        ASSERT_INT(c->engine_reconcile_interval, USEC_PER_SEC);

        static const struct {
                const char *name;
                int level;
        } levels[] = {
                { "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE },
                { "warning", LOG_WARNING }, { "err", LOG_ERR },
        };
        for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                ASSERT_INT(config_set(c, "log_level", levels[i].name, "test", NULL), 0);
                ASSERT_INT(c->log_level, levels[i].level);
        }
}

TEST(routes_and_hooks) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;

        ASSERT_INT(config_new(&c), 0);
        /* 0 turns the drain delay off; at most 5m */
        ASSERT_INT(config_set(c, "route_drain_delay", "0", "test", NULL), 0);
        ASSERT_INT(c->route_drain_delay, 0);
        ASSERT_INT(config_set(c, "route_drain_delay", "500ms", "test", NULL), 0);
        ASSERT_INT(c->route_drain_delay, 500 * USEC_PER_MSEC);
        ASSERT_INT(config_set(c, "route_drain_delay", "5m", "test", NULL), 0);
        ASSERT_INT(config_set(c, "route_drain_delay", "5m1s", "fleetd.conf:4", &err), -EINVAL);
        ASSERT_STR(err, "fleetd.conf:4: invalid value for route_drain_delay: '5m1s' (expected a duration from 0 "
                        "to 5m, such as 2s)");
        ASSERT_INT(c->route_drain_delay, 5 * 60 * USEC_PER_SEC);
        ASSERT_INT(config_set(c, "route_drain_delay", "", "test", NULL), -EINVAL);
        ASSERT_INT(config_set(c, "route_drain_delay", "-1s", "test", NULL), -EINVAL);

        ASSERT_INT(config_set(c, "hooks_dir", "/srv/hooks", "test", NULL), 0);
        ASSERT_STR(c->hooks_dir, "/srv/hooks");
        ASSERT_INT(config_set(c, "hooks_dir", "hooks.d", "test", NULL), -EINVAL);
        ASSERT_INT(config_set(c, "hooks_dir", "", "test", NULL), -EINVAL);
        ASSERT_STR(c->hooks_dir, "/srv/hooks");

        const char *env[] = { "FLEETD_ROUTE_DRAIN_DELAY=1s", "FLEETD_HOOKS_DIR=/run/hooks", NULL };
        ASSERT_INT(config_apply_env(c, (char * const *) env, NULL), 0);
        ASSERT_INT(c->route_drain_delay, USEC_PER_SEC);
        ASSERT_STR(c->hooks_dir, "/run/hooks");
}

TEST(reboot_slots_and_fleetlock) {
        _cleanup_(config_freep) Config *c = NULL;

        ASSERT_INT(config_new(&c), 0);
        /* reboot_slot_timeout: 1m to 7d */
        ASSERT_INT(config_set(c, "reboot_slot_timeout", "1m", "test", NULL), 0);
        ASSERT_INT(c->reboot_slot_timeout, 60 * USEC_PER_SEC);
        ASSERT_INT(config_set(c, "reboot_slot_timeout", "7d", "test", NULL), 0);
        {
                _cleanup_free_ char *err = NULL;
                ASSERT_INT(config_set(c, "reboot_slot_timeout", "59s", "fleetd.conf:7", &err), -EINVAL);
                ASSERT_STR(err, "fleetd.conf:7: invalid value for reboot_slot_timeout: '59s' (expected a duration "
                                "from 1m to 7d, such as 30m)");
        }
        ASSERT_INT(config_set(c, "reboot_slot_timeout", "8d", "test", NULL), -EINVAL);
        ASSERT_INT(config_set(c, "reboot_slot_timeout", "", "test", NULL), -EINVAL);
        ASSERT_INT(c->reboot_slot_timeout, 7 * 24 * 3600 * USEC_PER_SEC);

        /* fleetlock_listen: off by default, a loopback address only */
        ASSERT_INT(config_set(c, "fleetlock_listen", "127.0.0.1:7071", "test", NULL), 0);
        ASSERT_STR(c->fleetlock_listen, "127.0.0.1:7071");
        ASSERT_INT(config_verify(c, NULL), 0);
        ASSERT_INT(config_set(c, "fleetlock_listen", "[::1]:7071", "test", NULL), 0);
        ASSERT_INT(config_verify(c, NULL), 0);
        ASSERT_INT(config_set(c, "fleetlock_listen", "7071", "test", NULL), -EINVAL);
        static const char * const not_loopback[] = { "0.0.0.0:7071", "10.0.0.1:7071", "[::]:7071", "localhost:7071" };
        for (size_t i = 0; i < ELEMENTSOF(not_loopback); i++) {
                _cleanup_free_ char *err = NULL;
                ASSERT_INT(config_set(c, "fleetlock_listen", not_loopback[i], "test", NULL), 0);
                ASSERT_INT(config_verify(c, &err), -EINVAL);
                ASSERT_CONTAINS(err, "fleetlock_listen");
                ASSERT_CONTAINS(err, "must be a loopback address");
        }
        ASSERT_INT(config_set(c, "fleetlock_listen", "", "test", NULL), 0);
        ASSERT_TRUE(!c->fleetlock_listen);
        ASSERT_INT(config_verify(c, NULL), 0);

        const char *env[] = { "FLEETD_FLEETLOCK_LISTEN=127.0.0.1:7071", "FLEETD_REBOOT_SLOT_TIMEOUT=2m", NULL };
        ASSERT_INT(config_apply_env(c, (char * const *) env, NULL), 0);
        ASSERT_STR(c->fleetlock_listen, "127.0.0.1:7071");
        ASSERT_INT(c->reboot_slot_timeout, 2 * 60 * USEC_PER_SEC);
}

TEST(host_port) {
        _cleanup_free_ char *h1 = NULL, *h2 = NULL, *h3 = NULL;
        uint16_t port = 0;
        char *h = NULL;

        ASSERT_INT(parse_host_port("0.0.0.0:8443", &h1, &port), 0);
        ASSERT_STR(h1, "0.0.0.0");
        ASSERT_INT(port, 8443);
        ASSERT_INT(parse_host_port("[::]:1", &h2, &port), 0);
        ASSERT_STR(h2, "::");
        ASSERT_INT(port, 1);
        ASSERT_INT(parse_host_port("localhost:65535", &h3, &port), 0);
        ASSERT_STR(h3, "localhost");
        ASSERT_INT(port, 65535);

        ASSERT_INT(parse_host_port("", &h, &port), -EINVAL);
        ASSERT_INT(parse_host_port("localhost", &h, &port), -EINVAL);
        ASSERT_INT(parse_host_port("localhost:", &h, &port), -EINVAL);
        ASSERT_INT(parse_host_port("localhost:080808", &h, &port), -EINVAL);
        ASSERT_INT(parse_host_port("local_host:80", &h, &port), -EINVAL);
        ASSERT_INT(parse_host_port("[::1]", &h, &port), -EINVAL);
        ASSERT_INT(parse_host_port("[::1:80", &h, &port), -EINVAL);
        ASSERT_INT(parse_host_port("[10.0.0.1]:80", &h, &port), -EINVAL);
        ASSERT_TRUE(!h);
}

TEST(verify) {
        _cleanup_(config_freep) Config *c = NULL;

        ASSERT_INT(config_new(&c), 0);

        {
                _cleanup_free_ char *err = NULL;
                ASSERT_INT(config_set(c, "api_listen", "0.0.0.0:8443", "test", NULL), 0);
                ASSERT_INT(config_verify(c, &err), -EINVAL);
                ASSERT_CONTAINS(err, "api_listen is set, but api_tls_cert is not");
        }
        {
                _cleanup_free_ char *err = NULL;
                ASSERT_INT(config_set(c, "api_tls_cert", "/etc/fleetd/api.pem", "test", NULL), 0);
                ASSERT_INT(config_set(c, "api_tls_key", "/etc/fleetd/api.key", "test", NULL), 0);
                ASSERT_INT(config_verify(c, &err), -EINVAL);
                ASSERT_CONTAINS(err, "api_client_ca");
        }
        ASSERT_INT(config_set(c, "api_client_ca", "/etc/fleetd/ca.pem", "test", NULL), 0);
        ASSERT_INT(config_verify(c, NULL), 0);
        {
                _cleanup_free_ char *err = NULL;
                ASSERT_INT(config_set(c, "api_listen", "", "test", NULL), 0);
                ASSERT_INT(config_set(c, "api_tls_key", "", "test", NULL), 0);
                ASSERT_INT(config_verify(c, &err), -EINVAL);
                ASSERT_CONTAINS(err, "api_tls_cert and api_tls_key");
                ASSERT_INT(config_set(c, "api_tls_cert", "", "test", NULL), 0);
                ASSERT_INT(config_verify(c, NULL), 0);
        }
        {
                _cleanup_free_ char *err = NULL;
                ASSERT_INT(config_set(c, "etcd_servers", "https://e:2379", "test", NULL), 0);
                ASSERT_INT(config_set(c, "etcd_certfile", "/etc/fleetd/etcd.pem", "test", NULL), 0);
                ASSERT_INT(config_verify(c, &err), -EINVAL);
                ASSERT_CONTAINS(err, "etcd_certfile and etcd_keyfile");
                ASSERT_INT(config_set(c, "etcd_keyfile", "/etc/fleetd/etcd.key", "test", NULL), 0);
                ASSERT_INT(config_verify(c, NULL), 0);
        }
        {
                _cleanup_free_ char *err = NULL;
                ASSERT_INT(config_set(c, "etcd_servers", "http://e:2379", "test", NULL), 0);
                ASSERT_INT(config_verify(c, &err), -EINVAL);
                ASSERT_CONTAINS(err, "https://");
                ASSERT_INT(config_set(c, "etcd_servers", "https://e:2379", "test", NULL), 0);
        }
        {
                _cleanup_free_ char *err = NULL;
                ASSERT_INT(config_set(c, "etcd_password", "pw", "test", NULL), 0);
                ASSERT_INT(config_verify(c, &err), -EINVAL);
                ASSERT_CONTAINS(err, "etcd_username");
                ASSERT_INT(config_set(c, "etcd_username", "fleetd", "test", NULL), 0);
                ASSERT_INT(config_verify(c, NULL), 0);
        }
        {
                _cleanup_free_ char *err = NULL;
                /* unset: the timeout in force follows a short agent_ttl */
                ASSERT_INT(config_set(c, "agent_ttl", "5s", "test", NULL), 0);
                ASSERT_INT(config_verify(c, NULL), 0);
                ASSERT_INT(config_etcd_request_timeout(c), 2500 * USEC_PER_MSEC);
                /* set: it must fit */
                ASSERT_INT(config_set(c, "etcd_request_timeout", "5s", "test", NULL), 0);
                ASSERT_INT(config_verify(c, &err), -EINVAL);
                ASSERT_STR(err, "etcd_request_timeout (5s) must be shorter than agent_ttl (5s)");
                ASSERT_INT(config_set(c, "etcd_request_timeout", "1s", "test", NULL), 0);
                ASSERT_INT(config_etcd_request_timeout(c), USEC_PER_SEC);
        }
}

/* examples/fleetd.conf, found from this source file's path as the compiler saw it (relative to
 * the build directory, two levels above this binary) or as an absolute path. */
static char *example_path(void) {
        char exe[4096] = "", *p = NULL;
        ssize_t n;

        if (__FILE__[0] == '/') {
                if (asprintf(&p, "%s/../../examples/fleetd.conf", dirname((char[]) { __FILE__ })) < 0)
                        return NULL;
                return p;
        }
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n < 0)
                return NULL;
        exe[n] = 0;
        if (asprintf(&p, "%s/%s/../../examples/fleetd.conf",
                     dirname(dirname(exe)), dirname((char[]) { __FILE__ })) < 0)
                return NULL;
        return p;
}

TEST(example_file) {
        _cleanup_(config_freep) Config *c = NULL, *d = NULL;
        _cleanup_free_ char *path = example_path(), *err = NULL, *line = NULL;
        _cleanup_temp_ TempFile t = {};
        _cleanup_(fclosep) FILE *in = NULL;
        char *uncommented = NULL;
        size_t size = 0, len = 0, n_keys = 0;
        FILE *out;

        ASSERT_TRUE(path);
        in = fopen(path, "re");
        if (!in)
                fprintf(stderr, "cannot open %s\n", path);
        ASSERT_TRUE(in);

        /* As shipped, everything is commented out. */
        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(config_parse_file(c, path, &err), 0);

        /* "#key = default" lines, uncommented: every key once, in config_keys[] order, and
         * the values are the defaults. */
        out = open_memstream(&uncommented, &len);
        ASSERT_TRUE(out);
        while (getline(&line, &size, in) > 0) {
                if (line[0] != '#' || line[1] < 'a' || line[1] > 'z')
                        continue;
                if (!config_keys[n_keys] || !startswith(line + 1, config_keys[n_keys]) ||
                    line[1 + strlen(config_keys[n_keys])] != ' ') {
                        fprintf(stderr, "example key %zu is not %s: %s", n_keys, strna(config_keys[n_keys]), line);
                        fclose(out);
                        free(uncommented);
                        ASSERT_TRUE(false);
                }
                fputs(line + 1, out);
                n_keys++;
        }
        fclose(out);
        ASSERT_INT(n_keys, 27);
        ASSERT_INT(temp_file_write(&t, uncommented), 0);
        free(uncommented);

        ASSERT_INT(config_new(&d), 0);
        ASSERT_INT(config_parse_file(d, t.path, &err), 0);
        ASSERT_INT(strv_length(d->etcd_servers), 1);
        ASSERT_STR(d->etcd_servers[0], c->etcd_servers[0]);
        ASSERT_STR(d->etcd_key_prefix, c->etcd_key_prefix);
        ASSERT_INT(d->etcd_request_timeout, c->etcd_request_timeout);
        ASSERT_INT(d->agent_ttl, c->agent_ttl);
        ASSERT_INT(d->engine_reconcile_interval, c->engine_reconcile_interval);
        ASSERT_INT(d->route_drain_delay, c->route_drain_delay);
        ASSERT_INT(d->reboot_slot_timeout, c->reboot_slot_timeout);
        ASSERT_TRUE(!d->fleetlock_listen);
        ASSERT_STR(d->hooks_dir, c->hooks_dir);
        ASSERT_STR(d->api_socket, c->api_socket);
        ASSERT_STR(d->machine_id_file, c->machine_id_file);
        ASSERT_STR(d->state_dir, c->state_dir);
        ASSERT_INT(d->log_level, c->log_level);
        ASSERT_INT(d->disable_engine, c->disable_engine);
        ASSERT_TRUE(!d->public_ip && !d->metadata && !d->api_listen && !d->etcd_password);
}

/* fleet's own fleet.conf (fleet.conf.sample's forms, and every key of fleet's fleetd). */
TEST(fleet_conf) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_strv_free_ char **notes = NULL;
        _cleanup_temp_ TempFile t = {};
        _cleanup_free_ char *err = NULL;

        ASSERT_INT(temp_file_write(&t,
                "# This config file is INI-formatted\n"
                "verbosity=1\n"
                "etcd_servers=[\"https://127.0.0.1:2379\",\"https://127.0.0.1:4001\"]\n"
                "etcd_request_timeout=1.5\n"
                "etcd_cafile=/path/to/CAfile\n"
                "etcd_keyfile=/path/to/keyfile\n"
                "etcd_certfile=/path/to/certfile\n"
                "etcd_username=guest\n"
                "etcd_password='p4ssw0rd'\n"
                "etcd_key_prefix=/_coreos.com/fleet/\n"
                "public_ip=\"\"\n"
                "metadata=\"region=us-west,az=us-west-1\"\n"
                "agent_ttl=\"30s\"\n"
                "engine_reconcile_interval=2.5\n"
                "token_limit=100\n"
                "disable_engine=true\n"
                "disable_watches=false\n"
                "enable_grpc=true\n"
                "verify_units=false\n"
                "authorized_keys_file=\n"
                "unit_prefix=\"\"\n"), 0);

        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(conf_parse_file(&config_table, c, t.path, &notes, &err), 0);
        ASSERT_TRUE(!err);
        ASSERT_INT(c->log_level, LOG_DEBUG);
        ASSERT_INT(strv_length(c->etcd_servers), 2);
        ASSERT_STR(c->etcd_servers[0], "https://127.0.0.1:2379");
        ASSERT_STR(c->etcd_servers[1], "https://127.0.0.1:4001");
        ASSERT_INT(c->etcd_request_timeout, 1500 * USEC_PER_MSEC);
        ASSERT_STR(c->etcd_cafile, "/path/to/CAfile");
        ASSERT_STR(c->etcd_keyfile, "/path/to/keyfile");
        ASSERT_STR(c->etcd_certfile, "/path/to/certfile");
        ASSERT_STR(c->etcd_username, "guest");
        ASSERT_STR(c->etcd_password, "p4ssw0rd");
        ASSERT_STR(c->etcd_key_prefix, "/_coreos.com/fleet/");
        ASSERT_TRUE(!c->public_ip);
        ASSERT_INT(c->n_metadata, 2);
        ASSERT_STR(c->metadata[1].key, "az");
        ASSERT_INT(c->agent_ttl, 30 * USEC_PER_SEC);
        ASSERT_INT(c->engine_reconcile_interval, 2500 * USEC_PER_MSEC);
        ASSERT_TRUE(c->disable_engine);
        ASSERT_INT(config_verify(c, NULL), 0);

        /* The keys that mean nothing here, each noted with its line. */
        ASSERT_INT(strv_length(notes), 6);
        ASSERT_CONTAINS(notes[0], at(&t, 15));
        ASSERT_CONTAINS(notes[0], ": fleet key token_limit has no meaning in fleetd, ignored");
        ASSERT_CONTAINS(notes[1], "disable_watches");
        ASSERT_CONTAINS(notes[2], "enable_grpc");
        ASSERT_CONTAINS(notes[5], at(&t, 21));
        ASSERT_CONTAINS(notes[5], "unit_prefix");

        /* fleet's file is the fallback of fleetd's. */
        ASSERT_STR(config_table.default_path, "/etc/fleetd/fleetd.conf");
        ASSERT_STR(config_table.fallback_path, "/etc/fleet/fleet.conf");
}

TEST(fleet_conf_unknown_key) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_temp_ TempFile t = {};
        _cleanup_free_ char *err = NULL, *want = NULL;

        /* A fleet key is not a licence for any key. */
        ASSERT_INT(temp_file_write(&t, "verbosity=2\ntoken_limit=5\nenable_grcp=true\n"), 0);
        ASSERT_INT(config_new(&c), 0);
        ASSERT_INT(config_parse_file(c, t.path, &err), -EINVAL);
        ASSERT_TRUE(asprintf(&want, "%s: unknown key 'enable_grcp'", at(&t, 3)) > 0);
        ASSERT_STR(err, want);
        ASSERT_INT(c->log_level, LOG_INFO);
}

TEST(fleet_keys_everywhere) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_strv_free_ char **notes = NULL;
        char *env[] = { (char *) "FLEETD_TOKEN_LIMIT=10", (char *) "FLEETD_VERBOSITY=0", NULL };
        char *argv[] = { (char *) "fleetd", (char *) "--enable_grpc=true", (char *) "--disable_engine", (char *) "yes",
                         NULL };

        ASSERT_INT(config_new(&c), 0);
        ASSERT_TRUE(!c->disable_engine);
        ASSERT_INT(config_set(c, "log_level", "err", "test", NULL), 0);
        ASSERT_INT(conf_apply_env(&config_table, c, env, &notes, NULL), 0);
        ASSERT_INT(c->log_level, LOG_INFO);
        ASSERT_INT(conf_apply_args(&config_table, c, 4, argv, &notes, NULL), 0);
        ASSERT_TRUE(c->disable_engine);
        ASSERT_INT(strv_length(notes), 2);
        ASSERT_STR(notes[0], "FLEETD_TOKEN_LIMIT: fleet key token_limit has no meaning in fleetd, ignored");
        ASSERT_STR(notes[1], "--enable_grpc: fleet key enable_grpc has no meaning in fleetd, ignored");

        /* verbosity and log_level set one level: the last one wins. */
        ASSERT_INT(config_set(c, "verbosity", "2", "test", NULL), 0);
        ASSERT_INT(c->log_level, LOG_DEBUG);
        ASSERT_INT(config_set(c, "log_level", "notice", "test", NULL), 0);
        ASSERT_INT(c->log_level, LOG_NOTICE);
        ASSERT_INT(config_set(c, "verbosity", "0", "test", NULL), 0);
        ASSERT_INT(c->log_level, LOG_INFO);

        for (const char * const *k = config_fleet_keys; *k; k++)
                ASSERT_INT(config_set(c, *k, "1", "test", NULL), 0);
}

TEST_MAIN(T(defaults),
          T(keys_table),
          T(build_keys),
          T(full_file),
          T(top_level_keys_and_fleet_style),
          T(bad_values_in_file),
          T(message_format),
          T(password_is_not_quoted),
          T(unknown_key),
          T(unknown_section),
          T(syntax_errors),
          T(indented_line_is_not_a_continuation),
          T(long_lines),
          T(missing_file),
          T(duplicate_key_last_wins),
          T(empty_value_unsets),
          T(env_overrides_file),
          T(env_errors),
          T(metadata_good),
          T(metadata_bad),
          T(key_prefix),
          T(failed_set_keeps_old_value),
          T(values),
          T(routes_and_hooks),
          T(reboot_slots_and_fleetlock),
          T(host_port),
          T(verify),
          T(example_file),
          T(fleet_conf),
          T(fleet_conf_unknown_key),
          T(fleet_keys_everywhere))
