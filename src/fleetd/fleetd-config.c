/* SPDX-License-Identifier: Apache-2.0 */
#include <syslog.h>

#include "fleetd-config.h"

/* The layout of CONFIG_ETCD_MEMBERS: the named fields are EtcdConfig's. */
_Static_assert(offsetof(Config, etcd_servers) == offsetof(Config, etcd) + offsetof(EtcdConfig, etcd_servers),
               "Config's etcd members do not overlay EtcdConfig");
_Static_assert(offsetof(Config, etcd_request_timeout) ==
                       offsetof(Config, etcd) + offsetof(EtcdConfig, etcd_request_timeout),
               "Config's etcd members do not overlay EtcdConfig");

#define EXPECT_PATH "an absolute path"

/* fleet's verbosity (0, 1, 2; more is more verbose): 0 is info, anything above debug. */
static int parse_verbosity(const ConfKey *k, const char *s, ConfValue *ret) {
        int r;

        r = conf_parse_int(k, s, ret);
        if (r < 0)
                return r;
        ret->integer = ret->integer > 0 ? LOG_DEBUG : LOG_INFO;
        return 0;
}

#define KEY(field, ...) CONF_KEY(Config, field, __VA_ARGS__)

static const ConfKey fleetd_keys[] = {
        KEY(public_ip, CONF_STRING, conf_parse_ip, NULL, "an IPv4 or IPv6 address, such as 192.0.2.10"),
        KEY(metadata, CONF_METADATA, conf_parse_metadata, NULL,
            "comma-separated key=value pairs such as region=us-east,disk=ssd, "
            "keys made of A-Z a-z 0-9 _ . -, values not empty, each key once",
            .offset_n = offsetof(Config, n_metadata)),
        KEY(agent_ttl, CONF_USEC, conf_parse_duration, "10s", "a duration of at least 2s, such as 10s",
            .min = 2 * USEC_PER_SEC),
        KEY(engine_reconcile_interval, CONF_USEC, conf_parse_duration, "60s",
            "a duration of at least 1s, such as 60s", .min = USEC_PER_SEC),
        KEY(disable_engine, CONF_BOOL, conf_parse_bool, "false", "true or false"),
        KEY(route_drain_delay, CONF_USEC, conf_parse_duration, "2s", "a duration from 0 to 5m, such as 2s",
            .max = 5 * 60 * USEC_PER_SEC),
        KEY(reboot_slot_timeout, CONF_USEC, conf_parse_duration, "30m", "a duration from 1m to 7d, such as 30m",
            .min = 60 * USEC_PER_SEC, .max = 7 * 24 * 3600 * USEC_PER_SEC),
        KEY(hooks_dir, CONF_STRING, conf_parse_path, "/etc/fleetd/hooks.d", EXPECT_PATH),
        KEY(api_socket, CONF_STRING, conf_parse_socket_path, "/run/fleetd/fleetd.sock",
            "an absolute path of at most 107 bytes"),
        KEY(api_listen, CONF_STRING, conf_parse_host_port, NULL,
            "host:port with a port from 1 to 65535, such as 0.0.0.0:8443 or [::]:8443"),
        KEY(api_tls_cert, CONF_STRING, conf_parse_path, NULL, EXPECT_PATH),
        KEY(api_tls_key, CONF_STRING, conf_parse_path, NULL, EXPECT_PATH),
        KEY(api_client_ca, CONF_STRING, conf_parse_path, NULL, EXPECT_PATH),
        KEY(fleetlock_listen, CONF_STRING, conf_parse_host_port, NULL,
            "a loopback host:port with a port from 1 to 65535, such as 127.0.0.1:7071 or [::1]:7071"),
        KEY(build_registry, CONF_STRING, conf_parse_host_port, NULL,
            "host:port of the registry builds push to, such as registry.example.com:5000"),
        KEY(build_timeout, CONF_USEC, conf_parse_duration, "15m", "a duration from 10s to 24h, such as 15m",
            .min = 10 * USEC_PER_SEC, .max = 24 * 3600 * USEC_PER_SEC),
        KEY(machine_id_file, CONF_STRING, conf_parse_path, "/etc/machine-id", EXPECT_PATH),
        KEY(state_dir, CONF_STRING, conf_parse_path, "/run/fleetd", EXPECT_PATH),
        KEY(log_level, CONF_INT, conf_parse_log_level, "info", CONF_EXPECT_LOG_LEVEL),
};

/* A key of fleet's fleetd that means nothing here: accepted, with a note. */
#define FLEET_ONLY(name_)                                                                       \
        { .name = #name_, .type = CONF_IGNORED, .note = "fleet key " #name_ " has no meaning in fleetd, ignored" }

/* fleet's keys that are not fleetd's own (fleet v1.0's fleetd flags, and the development
 * options of earlier versions). The others (etcd_*, public_ip, metadata, agent_ttl,
 * engine_reconcile_interval, disable_engine) are fleetd keys of the same meaning. */
static const ConfKey fleet_keys[] = {
        /* Its default is log_level's: it only keeps an empty value from unsetting log_level. */
        { .name = "verbosity", .type = CONF_INT, .parse = parse_verbosity, .offset = offsetof(Config, log_level),
          .default_value = "0", .expected = "0 (info) or more (debug)" },
        FLEET_ONLY(token_limit),          /* the API's page size: fleetd's lists are not paged by it */
        FLEET_ONLY(disable_watches),      /* fleetd always watches etcd */
        FLEET_ONLY(enable_grpc),          /* fleetd's engine and agents talk through etcd only */
        FLEET_ONLY(verify_units),         /* ignored by fleet itself */
        FLEET_ONLY(authorized_keys_file), /* ignored by fleet itself */
        FLEET_ONLY(unit_prefix),          /* fleet's development options */
        FLEET_ONLY(boot_id),
};

#define N_FLEETD_KEYS ELEMENTSOF(fleetd_keys)

static const ConfGroup config_groups[] = {
        CONFIG_ETCD_GROUP(Config),
        { .keys = fleetd_keys, .n_keys = N_FLEETD_KEYS },
        { .keys = fleet_keys, .n_keys = ELEMENTSOF(fleet_keys) },
};

static int config_verify_any(const void *c, char **ret_error) {
        return config_verify(c, ret_error);
}

const ConfTable config_table = {
        .section = "fleetd",
        .default_path = CONFIG_DEFAULT_PATH,
        .fallback_path = CONFIG_FLEET_PATH,
        .env_prefix = "FLEETD_",
        .groups = config_groups,
        .n_groups = ELEMENTSOF(config_groups),
        .verify = config_verify_any,
};

/* Same order as the table and examples/fleetd.conf. */
const char * const config_keys[] = {
        "etcd_servers",
        "etcd_key_prefix",
        "etcd_cafile",
        "etcd_certfile",
        "etcd_keyfile",
        "etcd_username",
        "etcd_password",
        "etcd_request_timeout",
        "public_ip",
        "metadata",
        "agent_ttl",
        "engine_reconcile_interval",
        "disable_engine",
        "route_drain_delay",
        "reboot_slot_timeout",
        "hooks_dir",
        "api_socket",
        "api_listen",
        "api_tls_cert",
        "api_tls_key",
        "api_client_ca",
        "fleetlock_listen",
        "build_registry",
        "build_timeout",
        "machine_id_file",
        "state_dir",
        "log_level",
        NULL,
};

_Static_assert(ELEMENTSOF(config_keys) == CONFIG_ETCD_N_KEYS + N_FLEETD_KEYS + 1,
               "config_keys[] and the key table differ");

const char * const config_fleet_keys[] = {
        "verbosity",
        "token_limit",
        "disable_watches",
        "enable_grpc",
        "verify_units",
        "authorized_keys_file",
        "unit_prefix",
        "boot_id",
        NULL,
};

_Static_assert(ELEMENTSOF(config_fleet_keys) == ELEMENTSOF(fleet_keys) + 1,
               "config_fleet_keys[] and fleet_keys[] differ");

int config_set(Config *c, const char *key, const char *value, const char *where, char **ret_error) {
        return conf_set(&config_table, c, key, value, where, NULL, ret_error);
}

int config_new(Config **ret) {
        void *c;
        int r;

        r = conf_new(&config_table, sizeof(Config), &c);
        if (r < 0)
                return r;
        *ret = c;
        return 0;
}

Config *config_free(Config *c) {
        return conf_free(&config_table, c);
}

int config_parse_file(Config *c, const char *path, char **ret_error) {
        return conf_parse_file(&config_table, c, path, NULL, ret_error);
}

int config_apply_env(Config *c, char * const *envp, char **ret_error) {
        return conf_apply_env(&config_table, c, envp, NULL, ret_error);
}

int config_verify(const Config *c, char **ret_error) {
        char a[32], b[32];
        int r;

        if (c->api_listen) {
                const char *missing = !c->api_tls_cert ? "api_tls_cert" :
                                      !c->api_tls_key ? "api_tls_key" :
                                      !c->api_client_ca ? "api_client_ca" : NULL;

                if (missing)
                        return conf_error(ret_error, NULL,
                                          "api_listen is set, but %s is not: the TCP API serves TLS with "
                                          "client certificates only, so it needs api_tls_cert, api_tls_key "
                                          "and api_client_ca",
                                          missing);
        }
        if (c->fleetlock_listen && !host_port_is_loopback(c->fleetlock_listen))
                return conf_error(ret_error, NULL,
                                  "fleetlock_listen (%s) must be a loopback address such as 127.0.0.1:7071 or "
                                  "[::1]:7071: it serves plain HTTP without authentication, for this host's Zincati",
                                  c->fleetlock_listen);
        if (!c->api_tls_cert != !c->api_tls_key)
                return conf_error(ret_error, NULL, "api_tls_cert and api_tls_key must be set together");
        r = config_etcd_verify(&c->etcd, ret_error);
        if (r < 0)
                return r;
        /* One hung request must not outlast the machine's lease. Unset (0) means
         * config_etcd_request_timeout() picks one that fits. */
        if (c->etcd_request_timeout > 0 && c->etcd_request_timeout >= c->agent_ttl)
                return conf_error(ret_error, NULL, "etcd_request_timeout (%s) must be shorter than agent_ttl (%s)",
                                  format_duration(a, sizeof(a), c->etcd_request_timeout),
                                  format_duration(b, sizeof(b), c->agent_ttl));
        return 0;
}

usec_t config_etcd_request_timeout(const Config *c) {
        if (c->etcd_request_timeout > 0)
                return c->etcd_request_timeout;
        return MIN(5 * USEC_PER_SEC, c->agent_ttl / 2);
}

EtcdOptions config_etcd_client_options(const Config *c) {
        return config_etcd_options(&c->etcd, config_etcd_request_timeout(c));
}
