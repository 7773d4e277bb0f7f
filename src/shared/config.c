/* SPDX-License-Identifier: Apache-2.0 */
#include "basic/strv.h"
#include "config.h"

#define EXPECT_PATH "an absolute path"

#define KEY(field, ...) CONF_KEY(EtcdConfig, field, __VA_ARGS__)

const ConfKey config_etcd_keys[CONFIG_ETCD_N_KEYS] = {
        KEY(etcd_servers, CONF_STRV, conf_parse_etcd_servers, "http://127.0.0.1:2379",
            "comma-separated http:// or https:// URLs, such as http://127.0.0.1:2379"),
        KEY(etcd_key_prefix, CONF_STRING, conf_parse_key_prefix, "/fleetd/",
            "an etcd key prefix without blanks, such as /fleetd/"),
        KEY(etcd_cafile, CONF_STRING, conf_parse_path, NULL, EXPECT_PATH),
        KEY(etcd_certfile, CONF_STRING, conf_parse_path, NULL, EXPECT_PATH),
        KEY(etcd_keyfile, CONF_STRING, conf_parse_path, NULL, EXPECT_PATH),
        KEY(etcd_username, CONF_STRING, conf_parse_string, NULL, "a user name"),
        KEY(etcd_password, CONF_STRING, conf_parse_string, NULL, "a password", .secret = true),
        KEY(etcd_request_timeout, CONF_USEC, conf_parse_duration, NULL,
            "a duration of at least 1ms, such as 5s", .min = USEC_PER_MSEC),
};

EtcdOptions config_etcd_options(const EtcdConfig *e, usec_t default_timeout) {
        return (EtcdOptions) {
                .endpoints = e->etcd_servers,
                .cafile = e->etcd_cafile,
                .certfile = e->etcd_certfile,
                .keyfile = e->etcd_keyfile,
                .username = e->etcd_username,
                .password = e->etcd_password,
                .request_timeout = e->etcd_request_timeout > 0 ? e->etcd_request_timeout : default_timeout,
        };
}

static bool servers_use_https(char * const *servers) {
        STRV_FOREACH(s, servers)
                if (startswith(*s, "https://"))
                        return true;
        return false;
}

int config_etcd_verify(const EtcdConfig *e, char **ret_error) {
        if (!e->etcd_certfile != !e->etcd_keyfile)
                return conf_error(ret_error, NULL, "etcd_certfile and etcd_keyfile must be set together");
        if (e->etcd_password && !e->etcd_username)
                return conf_error(ret_error, NULL, "etcd_password is set, but etcd_username is not");
        if ((e->etcd_cafile || e->etcd_certfile) && !servers_use_https(e->etcd_servers))
                return conf_error(ret_error, NULL,
                                  "%s is set, but no etcd_servers URL starts with https://, so it would not be used",
                                  e->etcd_cafile ? "etcd_cafile" : "etcd_certfile");
        return 0;
}
