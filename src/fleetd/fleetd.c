/* SPDX-License-Identifier: Apache-2.0 */
/* fleetd: one per host. Reads its configuration (file, then FLEETD_* environment, then
 * flags) and runs the manager until SIGTERM. */
#include <stdio.h>

#include "config.h"
#include "log.h"
#include "manager.h"

#define DEFAULT_CONFIG "/etc/fleetd/fleetd.conf"

extern char **environ;

static void help(void) {
        printf("Usage: fleetd [--config=PATH] [--KEY=VALUE ...]\n\n"
               "Runs the fleetd agent of this host: registers it in etcd and serves the API.\n\n"
               "  -h --help          Show this help\n"
               "     --version       Show the version\n"
               "     --config=PATH   Configuration file (default " DEFAULT_CONFIG ", or $FLEETD_CONFIG)\n\n"
               "Every configuration key can be given as a flag, e.g. --agent_ttl=10s, and as an\n"
               "environment variable, e.g. FLEETD_AGENT_TTL=10s. Keys:\n");
        for (const char * const *k = config_keys; *k; k++)
                printf("  %s\n", *k);
}

/* Flags are --KEY=VALUE or --KEY VALUE for any config key; applied after file and environment. */
static int apply_flags(Config *c, int argc, char *argv[], char **ret_error) {
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *eq;
                if (startswith(a, "--config"))
                        continue;
                if (!startswith(a, "--") || !a[2]) {
                        if (asprintf(ret_error, "unexpected argument '%s'", a) < 0)
                                *ret_error = NULL;
                        return -EINVAL;
                }
                _cleanup_free_ char *key = NULL, *where = NULL;
                const char *value;
                eq = strchr(a, '=');
                if (eq) {
                        key = strndup(a + 2, eq - a - 2);
                        value = eq + 1;
                } else if (i + 1 < argc) {
                        key = strdup(a + 2);
                        value = argv[++i];
                } else {
                        if (asprintf(ret_error, "%s needs a value", a) < 0)
                                *ret_error = NULL;
                        return -EINVAL;
                }
                if (!key || asprintf(&where, "--%s", key) < 0)
                        return -ENOMEM;
                int r = config_set(c, key, value, where, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* --config=PATH or --config PATH, else $FLEETD_CONFIG, else the default. */
static const char *config_path(int argc, char *argv[], bool *ret_explicit) {
        *ret_explicit = true;
        for (int i = 1; i < argc; i++) {
                const char *v = startswith(argv[i], "--config=");
                if (v)
                        return v;
                if (streq(argv[i], "--config") && i + 1 < argc)
                        return argv[i + 1];
        }
        if (getenv("FLEETD_CONFIG"))
                return getenv("FLEETD_CONFIG");
        *ret_explicit = false;
        return DEFAULT_CONFIG;
}

static int load_config(int argc, char *argv[], Config **ret) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *error = NULL;
        bool explicit_path;
        const char *path = config_path(argc, argv, &explicit_path);
        int r;

        r = config_new(&c);
        if (r < 0)
                return log_oom();

        r = config_parse_file(c, path, &error);
        if (r == -ENOENT && !explicit_path)
                r = 0;
        else if (r == -ENOENT)
                return log_error_errno(r, "Failed to read %s: %m", path);
        if (r >= 0)
                r = config_apply_env(c, environ, &error);
        if (r >= 0)
                r = apply_flags(c, argc, argv, &error);
        if (r >= 0)
                r = config_verify(c, &error);
        if (r < 0) {
                if (error)
                        log_error("Invalid configuration: %s", error);
                else
                        log_error_errno(r, "Failed to load configuration: %m");
                return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        Config *c = NULL;
        int r;

        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
                        help();
                        return EXIT_SUCCESS;
                }
                if (streq(argv[i], "--version")) {
                        printf("fleetd %s\n", FLEETD_VERSION);
                        return EXIT_SUCCESS;
                }
        }

        r = load_config(argc, argv, &c);
        if (r < 0)
                return EXIT_FAILURE;
        log_set_max_level(c->log_level);

        r = manager_new(c, &m);
        if (r < 0)
                return EXIT_FAILURE;

        r = manager_run(m);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
