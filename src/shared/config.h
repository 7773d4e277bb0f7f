/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* fleetd's configuration: /etc/fleetd/fleetd.conf (INI, read with inih), then FLEETD_<KEY>
 * environment variables, then --<key>=value flags, each layer overriding the one before.
 * Key names follow fleet's where fleet had them. PURE: no logging, no I/O except reading
 * the named file; errors come back as a message that says where ("file:line: ...").
 *
 * Error messages: on -EINVAL, *ret_error (when ret_error is not NULL) receives an allocated
 * message that the caller frees; on success and on other errors it is left untouched.
 * Every layer is all-or-nothing: a call that fails leaves the Config unchanged.
 * An empty value unsets a key that has no default (public_ip, metadata, api_listen, the TLS
 * and credential keys); for a key with a default it is an invalid value. */

#include <stdbool.h>
#include <stdint.h>

#include "basic/macros.h"
#include "basic/host-port.h"
#include "basic/time-util.h"
#include "metadata.h"

typedef struct Config {
        char **etcd_servers;          /* default { "http://127.0.0.1:2379" } */
        char *etcd_key_prefix;        /* default "/fleetd/"; always begins and ends with '/' */
        char *etcd_cafile;
        char *etcd_certfile;
        char *etcd_keyfile;
        char *etcd_username;
        char *etcd_password;
        usec_t etcd_request_timeout;  /* 0 (default): see config_etcd_request_timeout() */
        char *public_ip;              /* NULL: detected */
        MetadataPair *metadata;       /* "k=v,k2=v2" */
        size_t n_metadata;
        usec_t agent_ttl;             /* default 10s; at least 2s */
        usec_t engine_reconcile_interval; /* default 60s: the safety-net pass */
        usec_t route_drain_delay;     /* default 2s: from a route's removal to its unit's stop; 0-5m */
        char *hooks_dir;              /* default "/etc/fleetd/hooks.d": executables run on route changes */
        char *api_socket;             /* default "/run/fleetd/fleetd.sock" */
        char *api_listen;             /* TCP "host:port", TLS only; NULL: off */
        char *api_tls_cert;
        char *api_tls_key;
        char *api_client_ca;
        char *machine_id_file;        /* default "/etc/machine-id" */
        char *state_dir;              /* default "/run/fleetd" */
        int log_level;                /* LOG_INFO; key "log_level": debug|info|notice|warning|err */
} Config;

/* A config with every default set. */
int config_new(Config **ret);
Config *config_free(Config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

/* Reads an INI file (keys at top level or under [fleetd]). A missing file is -ENOENT with no
 * message, so the caller decides whether that matters; other open and read errors are -errno,
 * also without a message. Unknown keys, bad values, other sections, syntax errors and lines
 * longer than inih's buffer: -EINVAL and *ret_error = "path:line: unknown key 'x'" (or what
 * was wrong). A key given twice: the last one wins. */
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

/* Checks the whole config (e.g. TLS listen needs cert and key). */
int config_verify(const Config *c, char **ret_error);

/* The list of known keys, NULL-terminated (for --help and for flag parsing). */
extern const char * const config_keys[];
