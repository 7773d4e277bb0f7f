/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A small metrics registry, rendered in Prometheus' text format (version 0.0.4): counters,
 * gauges and histograms with fixed label names, each a MetricFamily that the code it measures
 * defines statically:
 *
 *     static MetricFamily requests = METRIC_COUNTER("etcd_requests_total",
 *                                                   "etcd requests by operation and result.",
 *                                                   "operation", "result");
 *     metric_inc(&requests, METRIC_LABELS("range", "ok"));
 *
 * Names are given without the program's namespace: the registry prefixes it when rendering
 * ("fleetd_etcd_requests_total" in fleetd, "fleet_router_etcd_requests_total" in fleet-router).
 * A family joins the process's default registry on its first use (or metrics_register()).
 *
 * Cardinality is bounded: at most METRIC_SERIES_MAX label combinations per family; more are
 * dropped (and counted in the family). Label values must come from small fixed sets (an
 * operation, a route pattern, a status code): never a unit name or a path as sent.
 *
 * One thread: nothing here locks. Rendering (metrics_render()) is PURE over the registry;
 * metrics_collect() first runs the collectors, which refresh gauges computed on demand. */

#include <stdbool.h>
#include <stddef.h>

#include "basic/macros.h"

#define METRIC_LABELS_MAX 4
#define METRIC_SERIES_MAX 512

typedef enum MetricType {
        METRIC_TYPE_COUNTER,
        METRIC_TYPE_GAUGE,
        METRIC_TYPE_HISTOGRAM,
} MetricType;

typedef struct MetricSeries MetricSeries;
typedef struct MetricsRegistry MetricsRegistry;

typedef struct MetricFamily {
        const char *name;             /* without the namespace, e.g. "etcd_requests_total" */
        const char *help;
        MetricType type;
        const char *labels[METRIC_LABELS_MAX + 1];  /* label names, NULL-terminated */
        const double *buckets;        /* histograms: upper bounds, ascending, without +Inf */
        size_t n_buckets;

        /* the registry's */
        MetricsRegistry *registry;
        struct MetricFamily *next;
        MetricSeries *series;
        size_t n_series, n_allocated;
        size_t dropped;               /* observations of label sets past METRIC_SERIES_MAX */
} MetricFamily;

#define METRIC_COUNTER(name_, help_, ...) \
        { .name = name_, .help = help_, .type = METRIC_TYPE_COUNTER, .labels = { __VA_ARGS__ } }
#define METRIC_GAUGE(name_, help_, ...) \
        { .name = name_, .help = help_, .type = METRIC_TYPE_GAUGE, .labels = { __VA_ARGS__ } }
/* buckets_ must be a static array of doubles. */
#define METRIC_HISTOGRAM(name_, help_, buckets_, ...)                                          \
        { .name = name_, .help = help_, .type = METRIC_TYPE_HISTOGRAM, .labels = { __VA_ARGS__ }, \
          .buckets = buckets_, .n_buckets = ELEMENTSOF(buckets_) }

/* Label values in the order of the family's label names; NULL for a family without labels. */
#define METRIC_LABELS(...) ((const char * const[]) { __VA_ARGS__, NULL })

/* Buckets for latencies in seconds: 1 ms to 10 s. */
extern const double metric_buckets_latency[12];
/* Buckets for longer work in seconds: 10 ms to 5 min (systemd jobs). */
extern const double metric_buckets_slow[12];

/* The process's registry (namespace "fleetd" until metrics_set_namespace()). */
MetricsRegistry *metrics_default(void);
/* Sets the default registry's namespace: "fleetd", "fleet_router". */
void metrics_set_namespace(const char *ns);

/* A registry of its own (tests). Returns 0 or -ENOMEM. */
int metrics_registry_new(const char *ns, MetricsRegistry **ret);
/* Drops every series of the families registered in r and detaches them (they may be
 * registered again). Returns NULL. */
MetricsRegistry *metrics_registry_free(MetricsRegistry *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(MetricsRegistry *, metrics_registry_free);

/* Adds f to r (NULL: the default registry) unless it is in one already. A family without
 * labels gets its one series at 0 at once, so that it is rendered before its first change. */
void metrics_register(MetricsRegistry *r, MetricFamily *f);

/* A counter grows by v (>= 0), a gauge by v (any sign). values: METRIC_LABELS(...) or NULL. */
void metric_add(MetricFamily *f, double v, const char * const *values);
#define metric_inc(f, values) metric_add(f, 1, values)
/* Sets a gauge. */
void metric_set(MetricFamily *f, double v, const char * const *values);
/* Counts v into a histogram's buckets, sum and count. */
void metric_observe(MetricFamily *f, double v, const char * const *values);
/* Drops every series of f (a gauge a collector fills again from scratch). */
void metric_clear(MetricFamily *f);
/* The value of a counter or gauge series, or of a histogram's count; 0 if it has none. */
double metric_value(const MetricFamily *f, const char * const *values);

/* Collectors refresh gauges just before a render (machines by state, instances per app). */
typedef void (*metrics_collect_t)(void *userdata);
/* Returns 0, -ENOMEM or -E2BIG past 16 collectors. */
int metrics_add_collector(MetricsRegistry *r, metrics_collect_t fn, void *userdata);
void metrics_remove_collector(MetricsRegistry *r, metrics_collect_t fn, void *userdata);
/* Runs every collector of r (NULL: the default). */
void metrics_collect(MetricsRegistry *r);

/* The text format of every family of r (NULL: the default), sorted by name, each series
 * sorted by its label values, with HELP and TYPE lines. *ret is owned by the caller. PURE.
 * Returns 0 or -ENOMEM. */
int metrics_render(const MetricsRegistry *r, char **ret);

/* The content type of metrics_render()'s text. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
