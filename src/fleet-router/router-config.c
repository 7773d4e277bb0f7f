/* SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>
#include <stdio.h>

#include "basic/strv.h"
#include "render.h"
#include "router-config.h"

/* An unset etcd_request_timeout: as fleetd with its default agent_ttl. */
#define ETCD_REQUEST_TIMEOUT_DEFAULT (5 * USEC_PER_SEC)

_Static_assert(offsetof(RouterConfig, etcd_servers) ==
                       offsetof(RouterConfig, etcd) + offsetof(EtcdConfig, etcd_servers),
               "RouterConfig's etcd members do not overlay EtcdConfig");

static int parse_domain(const ConfKey *k, const char *s, ConfValue *ret) {
        return render_domain_is_valid(s) ? conf_parse_string(k, s, ret) : -EINVAL;
}

static int parse_listen(const ConfKey *k, const char *s, ConfValue *ret) {
        return render_listen_is_valid(s) ? conf_parse_string(k, s, ret) : -EINVAL;
}

/* Written into nginx's config unquoted: render_path_is_safe(). */
static int parse_safe_path(const ConfKey *k, const char *s, ConfValue *ret) {
        return render_path_is_safe(s) ? conf_parse_string(k, s, ret) : -EINVAL;
}

/* A command line without a shell: words, the first an absolute path. */
static int parse_argv(const ConfKey *k, const char *s, ConfValue *ret) {
        return s[0] == '/' ? conf_parse_words(k, s, ret) : -EINVAL;
}

#define KEY(field, ...) CONF_KEY(RouterConfig, field, __VA_ARGS__)

#define EXPECT_SAFE_PATH "an absolute path made of letters, digits and / . _ - + @ , ="

static const ConfKey router_keys[] = {
        KEY(log_level, CONF_INT, conf_parse_log_level, "info", CONF_EXPECT_LOG_LEVEL),
        KEY(domain, CONF_STRING, parse_domain, "fleet.local",
            "a domain in lower case such as fleet.example.com (app hello is then hello.fleet.example.com)"),
        KEY(listen, CONF_STRING, parse_listen, "80", "a port, or address:port, such as 80, 127.0.0.1:8080 or [::]:80"),
        KEY(output, CONF_STRING, parse_safe_path, "/run/fleet-router/nginx.conf", EXPECT_SAFE_PATH),
        KEY(nginx_binary, CONF_STRING, conf_parse_path, "/usr/sbin/nginx", "an absolute path"),
        /* Unset: SIGHUP to the nginx master in the pid file (reloader.h). */
        KEY(reload_command, CONF_STRV, parse_argv, NULL,
            "a command line of blank-separated words (no shell) starting with an absolute path"),
        KEY(temp_dir, CONF_STRING, parse_safe_path, NULL, EXPECT_SAFE_PATH),
        KEY(access_log, CONF_STRING, parse_safe_path, NULL, EXPECT_SAFE_PATH),
        KEY(connect_timeout, CONF_USEC, conf_parse_duration, "1s", "a duration from 1ms to 60s, such as 1s",
            .min = USEC_PER_MSEC, .max = 60 * USEC_PER_SEC),
        KEY(batch_delay, CONF_USEC, conf_parse_duration, "50ms", "a duration from 0 to 10s, such as 50ms",
            .max = 10 * USEC_PER_SEC),
        KEY(command_timeout, CONF_USEC, conf_parse_duration, "10s", "a duration from 100ms to 10m, such as 10s",
            .min = 100 * USEC_PER_MSEC, .max = 600 * USEC_PER_SEC),
        KEY(metrics_listen, CONF_STRING, conf_parse_host_port, NULL,
            "host:port on a loopback address, such as 127.0.0.1:9477"),
};

static const ConfGroup router_groups[] = {
        CONFIG_ETCD_GROUP(RouterConfig),
        { .keys = router_keys, .n_keys = ELEMENTSOF(router_keys) },
};

static int router_config_verify_any(const void *c, char **ret_error) {
        return router_config_finish(c, ret_error);
}

const ConfTable router_config_table = {
        .section = "fleet-router",
        .default_path = ROUTER_CONFIG_DEFAULT_PATH,
        .env_prefix = "FLEET_ROUTER_",
        .groups = router_groups,
        .n_groups = ELEMENTSOF(router_groups),
        .verify = router_config_verify_any,
};

/* fleetd's keys first, as in fleetd.conf, then ours, in table order. */
const char * const router_config_keys[] = {
        "etcd_servers",
        "etcd_key_prefix",
        "etcd_cafile",
        "etcd_certfile",
        "etcd_keyfile",
        "etcd_username",
        "etcd_password",
        "etcd_request_timeout",
        "log_level",
        "domain",
        "listen",
        "output",
        "nginx_binary",
        "reload_command",
        "temp_dir",
        "access_log",
        "connect_timeout",
        "batch_delay",
        "command_timeout",
        "metrics_listen",
        NULL,
};

_Static_assert(ELEMENTSOF(router_config_keys) == CONFIG_ETCD_N_KEYS + ELEMENTSOF(router_keys) + 1,
               "router_config_keys[] is not the etcd keys and router_keys[]");

int router_config_set(RouterConfig *c, const char *key, const char *value, const char *where, char **ret_error) {
        return conf_set(&router_config_table, c, key, value, where, NULL, ret_error);
}

int router_config_new(RouterConfig **ret) {
        void *c;
        int r;

        r = conf_new(&router_config_table, sizeof(RouterConfig), &c);
        if (r < 0)
                return r;
        *ret = c;
        return 0;
}

RouterConfig *router_config_free(RouterConfig *c) {
        return conf_free(&router_config_table, c);
}

int router_config_parse_file(RouterConfig *c, const char *path, char **ret_error) {
        return conf_parse_file(&router_config_table, c, path, NULL, ret_error);
}

int router_config_parse_args(RouterConfig *c, int argc, char * const *argv, char **ret_error) {
        return conf_apply_args(&router_config_table, c, argc, argv, NULL, ret_error);
}

const char *router_config_path(int argc, char * const *argv, bool *ret_explicit) {
        const char *path = conf_explicit_path(&router_config_table, argc, argv, NULL);

        *ret_explicit = path;
        return path ?: ROUTER_CONFIG_DEFAULT_PATH;
}

int router_config_finish(const RouterConfig *c, char **ret_error) {
        return config_etcd_verify(&c->etcd, ret_error);
}

EtcdOptions router_config_etcd_options(const RouterConfig *c) {
        return config_etcd_options(&c->etcd, ETCD_REQUEST_TIMEOUT_DEFAULT);
}

char *router_config_pid_file(const RouterConfig *c) {
        const char *slash = strrchr(c->output, '/');
        char *s = NULL;

        /* output is absolute, so there is a slash; "/nginx.conf" gives "/nginx.pid". */
        if (asprintf(&s, "%.*s/nginx.pid", (int) (slash - c->output), c->output) < 0)
                return NULL;
        return s;
}
