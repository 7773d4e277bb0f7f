/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "basic/hashmap.h"
#include "daemon-util.h"
#include "etcd-client.h"
#include "log.h"
#include "metrics-http.h"
#include "metrics.h"
#include "registry.h"
#include "reloader.h"
#include "render.h"
#include "route.h"
#include "router.h"

/* How long start-up waits for etcd before it writes a config without the routes. */
#define STARTUP_WAIT (3 * USEC_PER_SEC)
#define LOAD_RETRY_MIN (1 * USEC_PER_SEC)
/* As the watch's reconnects: a router that waits for etcd should not wait long once it is back. */
#define LOAD_RETRY_MAX (5 * USEC_PER_SEC)

struct Router {
        RouterConfig *config;
        sd_event *event;
        EtcdClient *etcd;
        Reloader *reloader;
        char *routes_prefix;          /* "<prefix>routes/" */
        char *routes_end;
        char *pid_file;

        Hashmap *routes;              /* "<app>/<unit>" -> Route: every well-formed record */
        EtcdRequest *load;
        EtcdWatch *watch;
        bool loaded;                  /* the routes were read once */
        bool started;                 /* a config was submitted once (or the previous run's kept) */
        bool ready;                   /* READY=1 was sent */

        sd_event_source *batch_timer; /* changes seen, render when it fires */
        sd_event_source *load_retry;
        sd_event_source *startup_timer;
        usec_t load_retry_delay;
        RenderStats last_stats;
        MetricsHttp *metrics_http;    /* metrics_listen */
};

static MetricFamily m_routes = METRIC_GAUGE("routes", "Instances routed in the config installed last.");
static MetricFamily m_apps = METRIC_GAUGE("apps", "Apps routed in the config installed last.");
static MetricFamily m_reloads = METRIC_COUNTER("reloads_total", "nginx reloads that succeeded.");
static MetricFamily m_reload_failures = METRIC_COUNTER("reload_failures_total",
                                                       "nginx reloads that failed (each retry counts).");
static MetricFamily m_refusals = METRIC_COUNTER("config_refusals_total",
                                                "Rendered configs that nginx -t refused (or that could not be "
                                                "written): the old config stayed.");
static MetricFamily m_installs = METRIC_COUNTER("config_installs_total", "Configs put in place for nginx.");
static MetricFamily m_render = METRIC_HISTOGRAM("config_render_duration_seconds",
                                                "How long rendering the nginx config from the routes took.",
                                                metric_buckets_latency);
static MetricFamily m_build_info = METRIC_GAUGE("build_info", "Always 1: the version of this fleet-router.",
                                                "version");

/* The reloader's counts, when /metrics is read. */
static void router_collect(void *userdata) {
        Router *r = userdata;
        const ReloaderStats *st = reloader_stats(r->reloader);

        metric_set(&m_routes, (double) r->last_stats.n_servers, NULL);
        metric_set(&m_apps, (double) r->last_stats.n_apps, NULL);
        metric_set(&m_reloads, st->reloads, NULL);
        metric_set(&m_reload_failures, st->reload_failures, NULL);
        metric_set(&m_refusals, st->refusals, NULL);
        metric_set(&m_installs, st->installs, NULL);
}

static void router_load(Router *r);

static void router_update_status(Router *r) {
        const ReloaderStats *st = reloader_stats(r->reloader);

        sd_notifyf(false, "STATUS=%s%zu app(s), %zu instance(s) routed; %u reload(s), %u config(s) refused.",
                   r->loaded ? "" : "Waiting for etcd. ", r->last_stats.n_apps, r->last_stats.n_servers,
                   st->reloads, st->refusals);
}

static void on_reloader_idle(Reloader *rl, void *userdata) {
        Router *r = userdata;

        if (r->started && !r->ready) {
                r->ready = true;
                daemon_notify_ready(NULL);
                if (r->loaded)
                        log_info("fleet-router %s ready: nginx config in %s, %zu app(s) routed.", FLEETD_VERSION,
                                 r->config->output, r->last_stats.n_apps);
                else
                        log_info("fleet-router %s ready: nginx config in %s, routes not read yet.", FLEETD_VERSION,
                                 r->config->output);
        }
        router_update_status(r);
}

/* --- rendering --- */

static int router_render(Router *r, char **ret) {
        _cleanup_free_ const Route **list = NULL;
        const RouterConfig *c = r->config;
        RenderOptions o = {
                .domain = c->domain,
                .listen = c->listen,
                .pid_file = r->pid_file,
                .temp_dir = c->temp_dir,
                .access_log = c->access_log,
                .connect_timeout = c->connect_timeout,
                .source = r->routes_prefix,
        };
        size_t n = 0, i = 0;
        const char *key;
        void *value;

        list = calloc(hashmap_size(r->routes) + 1, sizeof(Route *));
        if (!list)
                return -ENOMEM;
        while (hashmap_iterate(r->routes, &i, &key, &value))
                list[n++] = value;
        return render(list, n, &o, ret, &r->last_stats);
}

static void router_submit(Router *r) {
        _cleanup_free_ char *text = NULL;
        int k;

        (void) sd_event_source_set_enabled(r->batch_timer, SD_EVENT_OFF);
        usec_t started = now_usec(CLOCK_MONOTONIC);
        k = router_render(r, &text);
        metric_observe(&m_render, (double) (now_usec(CLOCK_MONOTONIC) - started) / USEC_PER_SEC, NULL);
        if (k < 0) {
                /* The options were checked with the config, so this is memory. */
                log_error_errno(k, "Failed to render the nginx config: %m");
                return;
        }
        log_debug("Rendered %zu app(s), %zu instance(s) from %zu record(s).", r->last_stats.n_apps,
                  r->last_stats.n_servers, hashmap_size(r->routes));
        r->started = true;
        k = reloader_submit(r->reloader, TAKE_PTR(text));
        if (k < 0)
                log_oom();
}

static int on_batch(sd_event_source *s, uint64_t usec, void *userdata) {
        router_submit(userdata);
        return 0;
}

/* Renders after batch_delay, counted from the first change of a burst: a steady stream of
 * changes still gets a reload every batch_delay. */
static void router_changed(Router *r) {
        int enabled = SD_EVENT_OFF;

        (void) sd_event_source_get_enabled(r->batch_timer, &enabled);
        if (enabled != SD_EVENT_OFF)
                return;
        (void) sd_event_source_set_time_relative(r->batch_timer, r->config->batch_delay);
        (void) sd_event_source_set_enabled(r->batch_timer, SD_EVENT_ONESHOT);
}

static int on_startup_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Router *r = userdata;

        if (r->started)
                return 0;
        if (reloader_installed(r->reloader)) {
                /* Routes of a few seconds ago serve better than none. */
                log_warning("etcd did not answer within %llu s; keeping the config of the previous run until it does.",
                            (unsigned long long) (STARTUP_WAIT / USEC_PER_SEC));
                r->started = true;
                on_reloader_idle(r->reloader, r);
                return 0;
        }
        log_warning("etcd did not answer within %llu s; writing a config without routes until it does.",
                    (unsigned long long) (STARTUP_WAIT / USEC_PER_SEC));
        router_submit(r);
        return 0;
}

/* --- the records --- */

static void router_put(Router *r, const char *key, const char *value) {
        const char *name = startswith(key, r->routes_prefix);
        _cleanup_(route_freep) Route *route = NULL;
        _cleanup_free_ char *error = NULL;
        int k;

        if (!name)
                return;
        route = calloc(1, sizeof(Route));
        if (!route) {
                log_oom();
                return;
        }
        k = route_parse(name, value, route, &error);
        if (k < 0) {
                if (k == -ENOMEM)
                        log_oom();
                else
                        log_warning("Ignoring route record %s: %s.", key, strna(error));
                /* Whatever the key held before is not what its writer means now. */
                route_free(hashmap_remove(r->routes, name));
                return;
        }
        if (!route_is_routed(route))
                log_debug("Not routing %s: only process \"" ROUTE_PROCESS_WEB "\" is routed.", key);
        if (hashmap_put(r->routes, name, route) < 0) {
                log_oom();
                return;
        }
        TAKE_PTR(route);
}

static void router_delete(Router *r, const char *key) {
        const char *name = startswith(key, r->routes_prefix);

        if (name)
                route_free(hashmap_remove(r->routes, name));
}

static void on_route_events(EtcdWatch *w, int error, const EtcdEvent *events, size_t n, void *userdata) {
        Router *r = userdata;

        if (error < 0) {
                /* The current config stays while the routes are read again. */
                if (error == -ESTALE)
                        log_warning("etcd compacted the history the routes watch was to resume from; "
                                    "reading the routes again.");
                else
                        log_warning_errno(error, "The routes watch ended, reading the routes again: %m");
                r->watch = etcd_watch_free(r->watch);
                router_load(r);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                if (events[i].type == ETCD_EVENT_PUT)
                        router_put(r, events[i].kv.key, events[i].kv.value);
                else
                        router_delete(r, events[i].kv.key);
        }
        router_changed(r);
}

static void router_schedule_load(Router *r) {
        r->load_retry_delay = r->load_retry_delay ? MIN(r->load_retry_delay * 2, LOAD_RETRY_MAX) : LOAD_RETRY_MIN;
        (void) sd_event_source_set_time_relative(r->load_retry, r->load_retry_delay);
        (void) sd_event_source_set_enabled(r->load_retry, SD_EVENT_ONESHOT);
}

static void on_loaded(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        Router *r = userdata;
        int k;

        r->load = etcd_request_cancel(r->load);
        if (error < 0) {
                log_full_errno(r->load_retry_delay == 0 ? LOG_WARNING : LOG_DEBUG, error,
                               "Failed to read the routes from etcd, trying again: %m");
                router_schedule_load(r);
                router_update_status(r);
                return;
        }
        r->load_retry_delay = 0;

        hashmap_clear(r->routes);
        for (size_t i = 0; i < result->n_kvs; i++)
                router_put(r, result->kvs[i].key, result->kvs[i].value);

        r->watch = etcd_watch_free(r->watch);
        k = etcd_client_watch(r->etcd, r->routes_prefix, r->routes_end, result->revision + 1, on_route_events, r,
                              &r->watch);
        if (k < 0) {
                log_error_errno(k, "Failed to watch %s: %m", r->routes_prefix);
                router_schedule_load(r);
        }
        log_info("Read %zu route record(s) under %s at revision %lld.", hashmap_size(r->routes), r->routes_prefix,
                 (long long) result->revision);
        r->loaded = true;
        /* At start, nginx may be waiting for the file: no batch delay then. */
        if (!r->started)
                router_submit(r);
        else
                router_changed(r);
}

static void router_load(Router *r) {
        EtcdRangeArgs args = { .key = r->routes_prefix, .range_end = r->routes_end };
        int k;

        r->load = etcd_request_cancel(r->load);
        k = etcd_client_range(r->etcd, &args, on_loaded, r, &r->load);
        if (k < 0) {
                log_error_errno(k, "Failed to read %s: %m", r->routes_prefix);
                router_schedule_load(r);
        }
}

static int on_load_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Router *r = userdata;

        if (!r->load && !r->watch)
                router_load(r);
        return 0;
}

/* --- life cycle --- */

static void route_free_value(void *p) {
        route_free(p);
}

static int router_setup_etcd(Router *r) {
        EtcdOptions o = router_config_etcd_options(r->config);

        r->routes_prefix = registry_key(r->config->etcd_key_prefix, "routes", "", NULL);
        if (!r->routes_prefix)
                return -ENOMEM;
        r->routes_end = etcd_prefix_end(r->routes_prefix);
        if (!r->routes_end)
                return -ENOMEM;
        return etcd_client_new(r->event, &o, &r->etcd);
}

static int router_setup_timers(Router *r) {
        int k;

        /* 1 ms accuracy: sd-event's default (250 ms) would dwarf the batch delay. */
        k = sd_event_add_time_relative(r->event, &r->batch_timer, CLOCK_MONOTONIC, r->config->batch_delay,
                                       USEC_PER_MSEC, on_batch, r);
        if (k >= 0)
                k = sd_event_source_set_enabled(r->batch_timer, SD_EVENT_OFF);
        if (k >= 0)
                k = sd_event_add_time_relative(r->event, &r->load_retry, CLOCK_MONOTONIC, LOAD_RETRY_MIN,
                                               10 * USEC_PER_MSEC, on_load_retry, r);
        if (k >= 0)
                k = sd_event_source_set_enabled(r->load_retry, SD_EVENT_OFF);
        if (k >= 0)
                k = sd_event_add_time_relative(r->event, &r->startup_timer, CLOCK_MONOTONIC, STARTUP_WAIT,
                                               10 * USEC_PER_MSEC, on_startup_timeout, r);
        return k;
}

static int router_setup_event(Router *r) {
        int k;

        k = daemon_event_new(NULL, NULL, &r->event);
        if (k < 0)
                return k;
        k = router_setup_timers(r);
        if (k < 0)
                return log_error_errno(k, "Failed to set up timers: %m");
        return 0;
}

int router_new(RouterConfig *config, Router **ret) {
        _cleanup_(router_freep) Router *r = NULL;
        int k;

        r = calloc(1, sizeof(Router));
        if (!r) {
                router_config_free(config);
                return log_oom();
        }
        r->config = config;
        r->routes = hashmap_new(route_free_value);
        r->pid_file = router_config_pid_file(config);
        if (!r->routes || !r->pid_file)
                return log_oom();

        k = router_setup_event(r);
        if (k < 0)
                return k;
        k = router_setup_etcd(r);
        if (k < 0)
                return log_error_errno(k, "Failed to set up the etcd client: %m");

        ReloaderOptions ro = {
                .output = config->output,
                .nginx_binary = config->nginx_binary,
                .reload_command = config->reload_command,
                .pid_file = r->pid_file,
                .timeout = config->command_timeout,
        };
        k = reloader_new(r->event, &ro, on_reloader_idle, r, &r->reloader);
        if (k < 0)
                return log_error_errno(k, "Failed to set up the reloader: %m");
        metrics_register(NULL, &m_render);
        metric_set(&m_build_info, 1, METRIC_LABELS(FLEETD_VERSION));
        k = metrics_add_collector(NULL, router_collect, r);
        if (k < 0)
                return log_error_errno(k, "Failed to set up the metrics: %m");
        if (config->metrics_listen) {
                _cleanup_free_ char *error = NULL;
                k = metrics_http_new(r->event, config->metrics_listen, &r->metrics_http, &error);
                if (k < 0)
                        return log_error_errno(k, "Failed to serve metrics: %s", error ?: strerror(-k));
        }

        *ret = TAKE_PTR(r);
        return 0;
}

Router *router_free(Router *r) {
        if (!r)
                return NULL;
        metrics_http_free(r->metrics_http);
        metrics_remove_collector(NULL, router_collect, r);
        reloader_free(r->reloader);
        etcd_watch_free(r->watch);
        etcd_request_cancel(r->load);
        etcd_client_free(r->etcd);
        sd_event_source_disable_unref(r->batch_timer);
        sd_event_source_disable_unref(r->load_retry);
        sd_event_source_disable_unref(r->startup_timer);
        hashmap_free(r->routes);
        sd_event_unref(r->event);
        free(r->routes_prefix);
        free(r->routes_end);
        free(r->pid_file);
        router_config_free(r->config);
        free(r);
        return NULL;
}

static int make_dir(const char *dir) {
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "Failed to create %s: %m", dir);
        return 0;
}

/* The output's directory (RuntimeDirectory= makes it under systemd; by hand it may not exist),
 * and temp_dir (nginx makes the directories in it, but not it). */
static int router_make_dirs(Router *r) {
        _cleanup_free_ char *dir = strdup(r->config->output);
        char *slash;
        int k;

        if (!dir)
                return log_oom();
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = 0;
                k = make_dir(dir);
                if (k < 0)
                        return k;
        }
        return r->config->temp_dir ? make_dir(r->config->temp_dir) : 0;
}

int router_run(Router *r) {
        int k;

        if (access(r->config->nginx_binary, X_OK) < 0)
                return log_error_errno(-errno, "Cannot run %s (set nginx_binary): %m", r->config->nginx_binary);
        k = router_make_dirs(r);
        if (k < 0)
                return k;

        log_info("Watching %s in etcd at %s; serving <app>.%s on %s.", r->routes_prefix,
                 r->config->etcd_servers[0], r->config->domain, r->config->listen);
        daemon_notify_status("Reading the routes from etcd.");
        router_load(r);

        k = daemon_run(r->event);
        if (k < 0)
                return k;
        log_info("Stopping; nginx keeps serving the last config.");
        return 0;
}
