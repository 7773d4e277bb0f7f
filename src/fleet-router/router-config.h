/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* fleet-router's configuration: its keys, registered with the shared loader (conf-parser.h:
 * the same syntax, layers and messages as fleetd's). /etc/fleetd/fleet-router.conf (INI; keys
 * at top level or under [fleet-router]), then FLEET_ROUTER_<KEY> environment variables
 * (FLEET_ROUTER_CONFIG names the file), then --<key>=value flags, each overriding the one
 * before, each all-or-nothing. The etcd keys (etcd_servers, etcd_key_prefix, the TLS and
 * credential keys, etcd_request_timeout) are fleetd's own (config.h), and log_level means what
 * it means in fleetd.conf, so both files take the same values. PURE: no logging, no I/O except
 * reading the named file. On -EINVAL, *ret_error (when not NULL) receives an allocated one-line
 * message saying where and what ("path:3: ..."). */

#include "basic/macros.h"
#include "basic/time-util.h"
#include "conf-parser.h"
#include "config.h"

#define ROUTER_CONFIG_DEFAULT_PATH "/etc/fleetd/fleet-router.conf"

typedef struct RouterConfig {
        CONFIG_ETCD_MEMBERS;          /* etcd_servers ... etcd_request_timeout (config.h); an
                                       * unset etcd_request_timeout means 5s */
        int log_level;                /* LOG_INFO */
        char *domain;                 /* default "fleet.local" */
        char *listen;                 /* default "80" */
        char *output;                 /* default "/run/fleet-router/nginx.conf" */
        char *nginx_binary;           /* default "/usr/sbin/nginx" */
        char **reload_command;        /* argv; NULL (default): SIGHUP to nginx's master process */
        char *temp_dir;               /* NULL (default): nginx's built-in temp paths */
        char *access_log;             /* NULL (default): off */
        usec_t connect_timeout;       /* default 1s */
        usec_t batch_delay;           /* default 50ms: changes within it make one reload */
        usec_t command_timeout;       /* default 10s: nginx -t and the reload command */
        char *metrics_listen;         /* loopback "host:port" serving GET /metrics; NULL (default): off */
} RouterConfig;

/* Every key, for conf_load() and the conf_*() calls. Its verify is router_config_finish(). */
extern const ConfTable router_config_table;

/* A config with every default set. */
int router_config_new(RouterConfig **ret);
RouterConfig *router_config_free(RouterConfig *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(RouterConfig *, router_config_free);

/* Sets one key; where names the source for the message ("--listen", "fleet-router.conf:3").
 * An empty value unsets temp_dir, access_log and reload_command, and is invalid for the other
 * keys. */
int router_config_set(RouterConfig *c, const char *key, const char *value, const char *where, char **ret_error);

/* Reads an INI file (conf_parse_file()). A missing file is -ENOENT without a message (the
 * caller decides whether that matters); other read errors are -errno without one. Unknown keys,
 * bad values, other sections and syntax errors are -EINVAL with "path:line: ...". */
int router_config_parse_file(RouterConfig *c, const char *path, char **ret_error);

/* Applies --key=value and --key value flags from argv[1..argc) (conf_apply_args()); --config
 * (either form) is skipped. Anything else is -EINVAL with a message. */
int router_config_parse_args(RouterConfig *c, int argc, char * const *argv, char **ret_error);

/* The config file named by --config=PATH or --config PATH, else the default;
 * *ret_explicit tells which. */
const char *router_config_path(int argc, char * const *argv, bool *ret_explicit);

/* After all layers: checks the whole config (fleetd's rules for the etcd keys). */
int router_config_finish(const RouterConfig *c, char **ret_error);

/* The etcd client's options (an unset etcd_request_timeout is 5s). */
EtcdOptions router_config_etcd_options(const RouterConfig *c);

/* nginx's pid file: nginx.pid next to output. NULL on OOM. */
char *router_config_pid_file(const RouterConfig *c);

/* The keys, NULL-terminated, in table order (for --help). */
extern const char * const router_config_keys[];
