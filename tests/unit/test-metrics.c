/* SPDX-License-Identifier: Apache-2.0 */
/* The metrics registry's text, byte for byte (Prometheus' text format 0.0.4). */
#include "metrics.h"
#include "../tests.h"

static const double buckets[] = { 0.1, 1 };

static MetricFamily requests = METRIC_COUNTER("requests_total", "Requests by route and code.", "route", "code");
static MetricFamily up = METRIC_GAUGE("up", "Whether it is up.");
static MetricFamily latency = METRIC_HISTOGRAM("latency_seconds", "How long it took.", buckets, "op");
static MetricFamily odd = METRIC_GAUGE("odd", "Help with \\ and\nnewline.", "v");

TEST(render_exact) {
        _cleanup_(metrics_registry_freep) MetricsRegistry *r = NULL;
        _cleanup_free_ char *text = NULL;

        ASSERT_INT(metrics_registry_new("t", &r), 0);
        metrics_register(r, &requests);
        metrics_register(r, &up);
        metrics_register(r, &latency);
        metrics_register(r, &odd);
        metric_inc(&requests, METRIC_LABELS("/v1/units", "200"));
        metric_add(&requests, 2, METRIC_LABELS("/v1/apps", "404"));
        metric_inc(&requests, METRIC_LABELS("/v1/units", "200"));
        metric_set(&up, 1, NULL);
        metric_observe(&latency, 0.05, METRIC_LABELS("range"));
        metric_observe(&latency, 0.5, METRIC_LABELS("range"));
        metric_observe(&latency, 7, METRIC_LABELS("range"));
        metric_set(&odd, 0.25, METRIC_LABELS("a\"b\\c\nd"));
        ASSERT_INT(metrics_render(r, &text), 0);
        ASSERT_STR(text,
                   "# HELP t_latency_seconds How long it took.\n"
                   "# TYPE t_latency_seconds histogram\n"
                   "t_latency_seconds_bucket{op=\"range\",le=\"0.1\"} 1\n"
                   "t_latency_seconds_bucket{op=\"range\",le=\"1\"} 2\n"
                   "t_latency_seconds_bucket{op=\"range\",le=\"+Inf\"} 3\n"
                   "t_latency_seconds_sum{op=\"range\"} 7.55\n"
                   "t_latency_seconds_count{op=\"range\"} 3\n"
                   "# HELP t_odd Help with \\\\ and\\nnewline.\n"
                   "# TYPE t_odd gauge\n"
                   "t_odd{v=\"a\\\"b\\\\c\\nd\"} 0.25\n"
                   "# HELP t_requests_total Requests by route and code.\n"
                   "# TYPE t_requests_total counter\n"
                   "t_requests_total{route=\"/v1/apps\",code=\"404\"} 2\n"
                   "t_requests_total{route=\"/v1/units\",code=\"200\"} 2\n"
                   "# HELP t_up Whether it is up.\n"
                   "# TYPE t_up gauge\n"
                   "t_up 1\n");
        ASSERT_INT(metric_value(&requests, METRIC_LABELS("/v1/units", "200")), 2);
        ASSERT_INT(metric_value(&latency, METRIC_LABELS("range")), 3);
}

static MetricFamily zero = METRIC_COUNTER("zero_total", "Nothing yet.");
static MetricFamily empty = METRIC_GAUGE("empty", "No series yet.", "x");

TEST(render_unused) {
        _cleanup_(metrics_registry_freep) MetricsRegistry *r = NULL;
        _cleanup_free_ char *text = NULL;

        ASSERT_INT(metrics_registry_new("t", &r), 0);
        metrics_register(r, &zero);
        metrics_register(r, &empty);
        ASSERT_INT(metrics_render(r, &text), 0);
        ASSERT_STR(text, "# HELP t_empty No series yet.\n# TYPE t_empty gauge\n"
                         "# HELP t_zero_total Nothing yet.\n# TYPE t_zero_total counter\nt_zero_total 0\n");
}

static MetricFamily many = METRIC_GAUGE("many", "Bounded.", "n");

static void collect(void *userdata) {
        int *calls = userdata;
        (*calls)++;
        metric_clear(&many);
        metric_set(&many, *calls, METRIC_LABELS("only"));
}

TEST(bounded_and_collected) {
        _cleanup_(metrics_registry_freep) MetricsRegistry *r = NULL;
        _cleanup_free_ char *text = NULL;
        char name[16];
        int calls = 0;

        ASSERT_INT(metrics_registry_new("t", &r), 0);
        metrics_register(r, &many);
        for (int i = 0; i < METRIC_SERIES_MAX + 10; i++) {
                snprintf(name, sizeof(name), "%d", i);
                metric_set(&many, i, METRIC_LABELS(name));
        }
        ASSERT_INT(many.n_series, METRIC_SERIES_MAX);
        ASSERT_INT(many.dropped, 10);
        ASSERT_INT(metrics_add_collector(r, collect, &calls), 0);
        metrics_collect(r);
        metrics_remove_collector(r, collect, &calls);
        metrics_collect(r);
        ASSERT_INT(calls, 1);
        ASSERT_INT(metrics_render(r, &text), 0);
        ASSERT_STR(text, "# HELP t_many Bounded.\n# TYPE t_many gauge\nt_many{n=\"only\"} 1\n");
}

TEST_MAIN(T(render_exact), T(render_unused), T(bounded_and_collected))
