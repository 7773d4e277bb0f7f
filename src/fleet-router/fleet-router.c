/* SPDX-License-Identifier: Apache-2.0 */
/* fleet-router: renders nginx's config from the routes fleetd's agents publish in etcd, so that
 * http://<app>.<domain>/ reaches the app's healthy "web" instances, and reloads nginx when
 * (and only when) the config changes. One process, one sd-event loop. See docs/routing.md. */
#include <stdio.h>

#include "daemon-util.h"
#include "log.h"
#include "metrics.h"
#include "router-config.h"
#include "router.h"

static void help(void) {
        printf("Usage: fleet-router [--config=PATH] [--KEY=VALUE ...]\n\n"
               "Watches the routes of fleetd's apps in etcd and keeps nginx's config in step.\n\n"
               "  -h --help          Show this help\n"
               "     --version       Show the version\n"
               "     --config=PATH   Configuration file (default " ROUTER_CONFIG_DEFAULT_PATH ",\n"
               "                     or $FLEET_ROUTER_CONFIG)\n\n"
               "Every configuration key can also be given as a flag, e.g. --listen=8080, and as an\n"
               "environment variable, e.g. FLEET_ROUTER_LISTEN=8080. Keys:\n");
        for (const char * const *k = router_config_keys; *k; k++)
                printf("  %s\n", *k);
}

int main(int argc, char *argv[]) {
        _cleanup_(router_config_freep) RouterConfig *c = NULL;
        _cleanup_(router_freep) Router *router = NULL;
        int r;

        log_set_identifier("fleet-router");
        metrics_set_namespace("fleet_router");
        if (daemon_help_or_version(argc, argv, "fleet-router", help))
                return EXIT_SUCCESS;

        r = router_config_new(&c);
        if (r < 0) {
                log_oom();
                return EXIT_FAILURE;
        }
        r = daemon_load_config(&router_config_table, c, argc, argv, &c->log_level);
        if (r < 0)
                return EXIT_FAILURE;

        r = router_new(TAKE_PTR(c), &router);
        if (r < 0)
                return EXIT_FAILURE;
        r = router_run(router);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
