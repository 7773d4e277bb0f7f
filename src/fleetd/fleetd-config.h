/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* fleetd's configuration: its keys, registered with the shared loader (conf-parser.h, which
 * says how the file, FLEETD_<KEY> variables and --<key>=value flags are read), and the rules
 * between them. /etc/fleetd/fleetd.conf; when it does not exist, fleet's /etc/fleet/fleet.conf.
 * Key names follow fleet's where fleet had them, and fleet's own keys are read too: verbosity
 * sets log_level, disable_engine is a key of fleetd, and the keys that mean nothing here
 * (token_limit, disable_watches, enable_grpc, ...) are accepted with a note. PURE.
 *
 * Error messages: on -EINVAL, *ret_error (when ret_error is not NULL) receives an allocated
 * message that the caller frees; on success and on other errors it is left untouched.
 * Every layer is all-or-nothing: a call that fails leaves the Config unchanged.
 * An empty value unsets a key that has no default (public_ip, metadata, api_listen, the TLS
 * and credential keys, fleetlock_listen); for a key with a default it is an invalid value. */

#include <stdbool.h>
#include <stdint.h>

#include "basic/host-port.h"
#include "basic/macros.h"
#include "basic/time-util.h"
#include "conf-parser.h"
#include "config.h"
#include "metadata.h"

#define CONFIG_DEFAULT_PATH "/etc/fleetd/fleetd.conf"
/* fleet's: read when CONFIG_DEFAULT_PATH does not exist. */
#define CONFIG_FLEET_PATH "/etc/fleet/fleet.conf"

typedef struct Config {
        CONFIG_ETCD_MEMBERS;          /* etcd_servers ... etcd_request_timeout (config.h); an unset
                                       * etcd_request_timeout: see config_etcd_request_timeout() */
        char *public_ip;              /* NULL: detected */
        MetadataPair *metadata;       /* "k=v,k2=v2" */
        size_t n_metadata;
        usec_t agent_ttl;             /* default 10s; at least 2s */
        usec_t engine_reconcile_interval; /* default 60s: the safety-net pass */
        bool disable_engine;          /* default false; true: this fleetd never leads the engine */
        usec_t route_drain_delay;     /* default 2s: from a route's removal to its unit's stop; 0-5m */
        usec_t reboot_slot_timeout;   /* default 30m: a reboot slot held longer is freed; 1m-7d */
        char *hooks_dir;              /* default "/etc/fleetd/hooks.d": executables run on route changes */
        char *api_socket;             /* default "/run/fleetd/fleetd.sock" */
        char *api_listen;             /* TCP "host:port", TLS only; NULL: off */
        char *api_tls_cert;
        char *api_tls_key;
        char *api_client_ca;
        char *fleetlock_listen;       /* loopback "host:port" for Zincati's plain HTTP; NULL: off */
        char *build_registry;         /* "host:port" builds push to (fleetctl deploy --build); NULL: no builds */
        usec_t build_timeout;         /* default 15m: a build (podman build and push) at most */
        char *machine_id_file;        /* default "/etc/machine-id" */
        char *state_dir;              /* default "/run/fleetd" */
        int log_level;                /* LOG_INFO; key "log_level": debug|info|notice|warning|err,
                                       * or fleet's "verbosity": 0 info, 1 or more debug */
} Config;

/* The table of every key (fleetd's own, then fleet's), for conf_load() and the conf_*() calls. */
extern const ConfTable config_table;

/* A config with every default set. */
int config_new(Config **ret);
Config *config_free(Config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

/* Reads an INI file (keys at top level or under [fleetd]): conf_parse_file(). A missing file
 * is -ENOENT with no message; other open and read errors are -errno, also without a message.
 * Unknown keys, bad values, other sections, syntax errors and overlong lines: -EINVAL and
 * *ret_error = "path:line: unknown key 'x'" (or what was wrong). A key given twice: the last
 * one wins. Notes on ignored fleet keys are dropped (conf_parse_file() returns them). */
int config_parse_file(Config *c, const char *path, char **ret_error);
/* Applies FLEETD_<KEY> variables from envp (NULL-terminated "K=V" strings). Unknown FLEETD_*
 * variables are errors, except FLEETD_CONFIG (the path of the file). */
int config_apply_env(Config *c, char * const *envp, char **ret_error);
/* Sets one key from a string (used by the file, environment and flag layers). where names the
 * source for the message ("--etcd_servers", "FLEETD_AGENT_TTL", "fleetd.conf:3"). */
int config_set(Config *c, const char *key, const char *value, const char *where, char **ret_error);
/* The etcd request timeout in force: the configured one, or when unset the shorter of 5s and
 * half of agent_ttl, so that one hung request never outlasts the machine's lease. */
usec_t config_etcd_request_timeout(const Config *c);
/* The etcd client's options, with config_etcd_request_timeout(). */
EtcdOptions config_etcd_client_options(const Config *c);

/* Checks the whole config (e.g. TLS listen needs cert and key; fleetlock_listen must be a
 * loopback address; config_etcd_verify()). */
int config_verify(const Config *c, char **ret_error);

/* fleetd's own keys, NULL-terminated, in table order (for --help; examples/fleetd.conf shows
 * each of them). */
extern const char * const config_keys[];
/* fleet's keys that are not fleetd's own, NULL-terminated (for --help). */
extern const char * const config_fleet_keys[];
