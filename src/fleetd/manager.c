/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "api-fleet.h"
#include "api-fleetlock.h"
#include "daemon-util.h"
#include "log.h"
#include "image-tools.h"
#include "manager.h"
#include "unit-gen.h"

static void on_presence_change(Presence *p, PresenceState state, void *userdata) {
        Manager *m = userdata;

        if (state == PRESENCE_REGISTERED) {
                sd_notifyf(false, "STATUS=Registered as %s in etcd at %s.", m->self.id,
                           etcd_client_current_endpoint(m->etcd));
                /* maybe a new lease: state keys and the leader key follow it */
                if (m->agent)
                        agent_lease_changed(m->agent);
                if (m->engine)
                        engine_lease_changed(m->engine);
        } else
                sd_notify(false, "STATUS=Waiting for etcd; units keep running.");
}

static int manager_setup_etcd(Manager *m) {
        EtcdOptions o = config_etcd_client_options(m->config);

        return etcd_client_new(m->event, &o, &m->etcd);
}

int manager_new(Config *config, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        char id[MACHINE_ID_LEN + 1];
        int r;

        m = calloc(1, sizeof(*m));
        if (!m) {
                config_free(config);
                return log_oom();
        }
        m->config = config;

        r = machine_id_read(config->machine_id_file, id);
        if (r < 0)
                return log_error_errno(r, "Failed to read machine id from %s: %m", config->machine_id_file);
        log_set_field("MACHINE_ID", id);

        r = machine_record_local(config, id, &m->self);
        if (r < 0)
                return log_error_errno(r, "Failed to work out this machine's address (set public_ip): %m");

        /* Also blocks SIGCHLD: hooks (hooks.h) are reaped through sd_event_add_child(). No
         * thread exists yet, so all inherit the mask. */
        r = daemon_event_new(NULL, NULL, &m->event);
        if (r < 0)
                return r;

        r = manager_setup_etcd(m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the etcd client: %m");

        ListCacheOptions lo = { .prefix = config->etcd_key_prefix,
                                .wait_timeout = config_etcd_request_timeout(config) };
        r = list_cache_new(m->event, m->etcd, &lo, &m->list_cache);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the list cache: %m");

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        api_server_free(m->api);
        /* before the etcd client: it owns requests and watches of that client */
        list_cache_free(m->list_cache);
        engine_free(m->engine);
        agent_free(m->agent);
        presence_free(m->presence);
        etcd_client_free(m->etcd);
        machine_record_done(&m->self);
        sd_event_unref(m->event);
        config_free(m->config);
        free(m);
        return NULL;
}

int manager_run(Manager *m) {
        const Config *c = m->config;
        int r;

        if (mkdir(c->state_dir, 0755) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "Failed to create %s: %m", c->state_dir);
        /* the units that pull name it (--authfile=): it must exist, credentials or not */
        r = image_auth_file_ensure();
        if (r < 0)
                log_warning_errno(r, "Failed to create the registry auth file " UNIT_GEN_AUTH_FILE
                                  ", instances that pull will fail: %m");

        r = api_server_new(m->event, c->api_socket, manager_api_routes, m, &m->api);
        if (r < 0)
                return log_error_errno(r, "Failed to start the API server on %s: %m", c->api_socket);
        /* fleet's API v1 under /fleet/v1 on the same sockets (fleetd.socket also listens on fleet's
         * /run/fleet.sock) */
        r = api_server_add_routes(m->api, api_fleet_routes);
        if (r < 0)
                return log_error_errno(r, "Failed to add fleet's API routes: %m");
        /* TCP API (HTTPS, client certificates required), see api_server_listen_tls(). */
        if (c->api_listen) {
                ApiTlsOptions tls = { .listen = c->api_listen, .cert_file = c->api_tls_cert,
                                      .key_file = c->api_tls_key, .client_ca_file = c->api_client_ca };
                _cleanup_free_ char *tls_error = NULL;
                r = api_server_listen_tls(m->api, &tls, &tls_error);
                if (r < 0)
                        return log_error_errno(r, "Failed to serve the API on %s with TLS%s%s: %m", c->api_listen,
                                               tls_error ? ": " : "", strempty(tls_error));
        }
        /* End of the TCP API. */
        /* FleetLock for this host's Zincati: plain HTTP on loopback, its two routes only. */
        if (c->fleetlock_listen) {
                r = api_server_listen_loopback(m->api, c->fleetlock_listen, api_fleetlock_routes);
                if (r < 0)
                        return log_error_errno(r, "Failed to serve FleetLock on %s: %m", c->fleetlock_listen);
                log_info("Serving FleetLock for this machine (id %s) on http://%s/.", strna(m->self.fleetlock_id),
                         c->fleetlock_listen);
        }

        r = presence_new(m->event, m->etcd, c->etcd_key_prefix, &m->self, (int64_t) (c->agent_ttl / USEC_PER_SEC),
                         c->state_dir, on_presence_change, m, &m->presence);
        if (r < 0)
                return log_error_errno(r, "Failed to start registering in etcd: %m");

        _cleanup_free_ char *units_dir = NULL;
        if (asprintf(&units_dir, "%s/units", c->state_dir) < 0)
                return log_oom();
        AgentOptions ao = {
                .prefix = c->etcd_key_prefix,
                .machine_id = m->self.id,
                .units_dir = units_dir,
                .link_dir = "/run/systemd/system",
                .resync_interval = c->engine_reconcile_interval,
                .public_ip = m->self.ip,
                .route_drain_delay = c->route_drain_delay,
                .route_timeout = config_etcd_request_timeout(c),
                .hooks_dir = c->hooks_dir,
        };
        r = agent_new(m->event, m->etcd, m->presence, &ao, &m->agent);
        if (r < 0)
                return log_error_errno(r, "Failed to start the agent (is systemd reachable over D-Bus?): %m");

        if (c->disable_engine)
                log_info("disable_engine is set: this fleetd never leads the engine (it schedules nothing).");
        else {
                r = engine_new(m->event, m->etcd, m->presence, c->etcd_key_prefix, m->self.id,
                               c->engine_reconcile_interval, c->reboot_slot_timeout, &m->engine);
                if (r < 0)
                        return log_error_errno(r, "Failed to start the engine: %m");
        }

        log_info("fleetd %s started on %s (%s), etcd at %s.", FLEETD_VERSION, m->self.hostname, m->self.ip,
                 c->etcd_servers[0]);
        daemon_notify_ready("Connecting to etcd.");

        r = daemon_run(m->event);
        if (r < 0)
                return r;
        log_info("Stopping; the lease stays until it expires or the next fleetd adopts it.");
        return 0;
}
