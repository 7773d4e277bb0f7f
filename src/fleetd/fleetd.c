/* SPDX-License-Identifier: Apache-2.0 */
/* fleetd: one per host. Reads its configuration (file, then FLEETD_* environment, then
 * flags) and runs the manager until SIGTERM. */
#include <stdio.h>

#include "daemon-util.h"
#include "fleetd-config.h"
#include "log.h"
#include "manager.h"

static void help(void) {
        printf("Usage: fleetd [--config=PATH] [--KEY=VALUE ...]\n\n"
               "Runs the fleetd agent of this host: registers it in etcd and serves the API.\n\n"
               "  -h --help          Show this help\n"
               "     --version       Show the version\n"
               "     --config=PATH   Configuration file (default " CONFIG_DEFAULT_PATH ", or fleet's\n"
               "                     " CONFIG_FLEET_PATH " when that does not exist; or $FLEETD_CONFIG)\n\n"
               "Every configuration key can be given as a flag, e.g. --agent_ttl=10s, and as an\n"
               "environment variable, e.g. FLEETD_AGENT_TTL=10s. Keys:\n");
        for (const char * const *k = config_keys; *k; k++)
                printf("  %s\n", *k);
        printf("\nfleet's keys are read too (verbosity sets log_level; the others are ignored):\n ");
        for (const char * const *k = config_fleet_keys; *k; k++)
                printf(" %s", *k);
        printf("\n");
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        int r;

        if (daemon_help_or_version(argc, argv, "fleetd", help))
                return EXIT_SUCCESS;

        r = config_new(&c);
        if (r < 0) {
                log_oom();
                return EXIT_FAILURE;
        }
        r = daemon_load_config(&config_table, c, argc, argv, &c->log_level);
        if (r < 0)
                return EXIT_FAILURE;

        r = manager_new(TAKE_PTR(c), &m);
        if (r < 0)
                return EXIT_FAILURE;

        r = manager_run(m);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
