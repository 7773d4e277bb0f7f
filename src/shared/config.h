/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the configurations of fleetd and fleet-router share: the etcd_* keys. They are
 * registered once, here, as a ConfGroup (conf-parser.h) that both programs put in their
 * tables, so that fleetd.conf and fleet-router.conf take the same values with the same
 * messages, and both build their etcd client from config_etcd_options(). PURE. */

#include "conf-parser.h"
#include "etcd-client.h"

/* The fields, once, for EtcdConfig and for CONFIG_ETCD_MEMBERS. */
#define ETCD_CONFIG_FIELDS                                                                      \
        char **etcd_servers;          /* default { "http://127.0.0.1:2379" } */                 \
        char *etcd_key_prefix;        /* default "/fleetd/"; always begins and ends with '/' */ \
        char *etcd_cafile;                                                                      \
        char *etcd_certfile;                                                                    \
        char *etcd_keyfile;                                                                     \
        char *etcd_username;                                                                    \
        char *etcd_password;                                                                    \
        usec_t etcd_request_timeout;  /* 0 (default): the program picks one */

typedef struct EtcdConfig {
        ETCD_CONFIG_FIELDS
} EtcdConfig;

/* The etcd keys as members of a program's config struct: by name (c->etcd_servers, as the
 * keys are called in the file) and, the same memory, as one EtcdConfig (c->etcd) for the
 * key group and config_etcd_options(). */
#define CONFIG_ETCD_MEMBERS                     \
        union {                                 \
                EtcdConfig etcd;                \
                struct {                        \
                        ETCD_CONFIG_FIELDS      \
                };                              \
        }

#define CONFIG_ETCD_N_KEYS 8
/* etcd_servers, etcd_key_prefix, etcd_cafile, etcd_certfile, etcd_keyfile, etcd_username,
 * etcd_password, etcd_request_timeout: in this order, first in both programs' key lists. */
extern const ConfKey config_etcd_keys[CONFIG_ETCD_N_KEYS];

/* The group for a config struct type that has CONFIG_ETCD_MEMBERS. */
#define CONFIG_ETCD_GROUP(type)                                                 \
        { .keys = config_etcd_keys, .n_keys = CONFIG_ETCD_N_KEYS, .offset = offsetof(type, etcd) }

/* The etcd client's options; request_timeout is the configured one or, when unset,
 * default_timeout. The strings stay owned by e. */
EtcdOptions config_etcd_options(const EtcdConfig *e, usec_t default_timeout);

/* The rules between the etcd keys: etcd_certfile and etcd_keyfile together, etcd_password
 * only with etcd_username, etcd_cafile and etcd_certfile only with an https:// server.
 * 0, or -EINVAL with a message (conf_error()). */
int config_etcd_verify(const EtcdConfig *e, char **ret_error);
