/* SPDX-License-Identifier: Apache-2.0 */
/* fleet-router: renders nginx's config from the routes fleetd's agents publish in etcd, so that
 * http://<app>.<domain>/ reaches the app's healthy "web" instances, and reloads nginx when
 * (and only when) the config changes. One process, one sd-event loop. See docs/routing.md. */
#include <signal.h>
#include <stdio.h>

#include "log.h"
#include "router-config.h"
#include "router.h"

static void help(void) {
        printf("Usage: fleet-router [--config=PATH] [--KEY=VALUE ...]\n\n"
               "Watches the routes of fleetd's apps in etcd and keeps nginx's config in step.\n\n"
               "  -h --help          Show this help\n"
               "     --version       Show the version\n"
               "     --config=PATH   Configuration file (default " ROUTER_CONFIG_DEFAULT_PATH ")\n\n"
               "Every configuration key can also be given as a flag, e.g. --listen=8080. Keys:\n");
        for (const char * const *k = router_config_keys; *k; k++)
                printf("  %s\n", *k);
}

static int load_config(int argc, char *argv[], RouterConfig **ret) {
        _cleanup_(router_config_freep) RouterConfig *c = NULL;
        _cleanup_free_ char *error = NULL;
        bool explicit_path;
        const char *path = router_config_path(argc, argv, &explicit_path);
        int r;

        r = router_config_new(&c);
        if (r < 0)
                return log_oom();

        r = router_config_parse_file(c, path, &error);
        if (r == -ENOENT && !explicit_path)
                r = 0;
        else if (r < 0 && !error)
                return log_error_errno(r, "Failed to read %s: %m", path);
        if (r >= 0)
                r = router_config_parse_args(c, argc, argv, &error);
        if (r >= 0)
                r = router_config_finish(c, &error);
        if (r < 0) {
                if (error)
                        log_error("Invalid configuration: %s", error);
                else
                        log_error_errno(r, "Failed to load the configuration: %m");
                return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(router_freep) Router *router = NULL;
        RouterConfig *c = NULL;
        sigset_t mask;
        int r;

        log_set_identifier("fleet-router");
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
                        help();
                        return EXIT_SUCCESS;
                }
                if (streq(argv[i], "--version")) {
                        printf("fleet-router %s\n", FLEETD_VERSION);
                        return EXIT_SUCCESS;
                }
        }

        r = load_config(argc, argv, &c);
        if (r < 0)
                return EXIT_FAILURE;
        log_set_max_level(c->fleet->log_level);

        /* Before any thread or child: signals arrive through sd-event, children through its
         * child sources. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return EXIT_FAILURE;

        r = router_new(c, &router);
        if (r < 0)
                return EXIT_FAILURE;
        r = router_run(router);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
