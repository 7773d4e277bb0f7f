/* SPDX-License-Identifier: Apache-2.0 */
/* The metrics registry and its Prometheus text (metrics.h). */
#include <math.h>
#include <stdio.h>

#include "metrics.h"

#define COLLECTORS_MAX 16

struct MetricSeries {
        char *values[METRIC_LABELS_MAX];
        double value;                 /* counter, gauge; histogram: the sum */
        unsigned long long count;     /* histogram */
        unsigned long long *buckets;  /* histogram: per bucket, not cumulative */
};

typedef struct Collector {
        metrics_collect_t fn;
        void *userdata;
} Collector;

struct MetricsRegistry {
        char namespace[32];
        MetricFamily *families;
        Collector collectors[COLLECTORS_MAX];
        size_t n_collectors;
};

const double metric_buckets_latency[12] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,   0.25,   0.5,   1,    2.5,   10 };
const double metric_buckets_slow[12] = { 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300 };

static MetricsRegistry default_registry = { .namespace = "fleetd" };

MetricsRegistry *metrics_default(void) {
        return &default_registry;
}

void metrics_set_namespace(const char *ns) {
        snprintf(default_registry.namespace, sizeof(default_registry.namespace), "%s", ns);
}

int metrics_registry_new(const char *ns, MetricsRegistry **ret) {
        MetricsRegistry *r = calloc(1, sizeof(*r));

        if (!r)
                return -ENOMEM;
        snprintf(r->namespace, sizeof(r->namespace), "%s", ns);
        *ret = r;
        return 0;
}

static size_t family_n_labels(const MetricFamily *f) {
        size_t n = 0;
        while (n < METRIC_LABELS_MAX && f->labels[n])
                n++;
        return n;
}

static void series_done(MetricSeries *s) {
        for (size_t i = 0; i < METRIC_LABELS_MAX; i++)
                free(s->values[i]);
        free(s->buckets);
}

void metric_clear(MetricFamily *f) {
        for (size_t i = 0; i < f->n_series; i++)
                series_done(&f->series[i]);
        free(f->series);
        f->series = NULL;
        f->n_series = f->n_allocated = 0;
}

MetricsRegistry *metrics_registry_free(MetricsRegistry *r) {
        if (!r)
                return NULL;
        while (r->families) {
                MetricFamily *f = r->families;
                r->families = f->next;
                metric_clear(f);
                f->next = NULL;
                f->registry = NULL;
                f->dropped = 0;
        }
        if (r != &default_registry)
                free(r);
        return NULL;
}

static MetricSeries *series_find(MetricFamily *f, const char * const *values, bool create);

void metrics_register(MetricsRegistry *r, MetricFamily *f) {
        if (f->registry)
                return;
        r = r ?: &default_registry;
        f->registry = r;
        f->next = r->families;
        r->families = f;
        if (family_n_labels(f) == 0)
                (void) series_find(f, NULL, true);
}

/* The i-th of values, "" past its end (a caller that gave too few). */
static const char *label_value(const char * const *values, size_t i) {
        for (size_t k = 0; values && k <= i; k++)
                if (!values[k])
                        return "";
        return values ? values[i] : "";
}

static bool series_matches(const MetricSeries *s, size_t n, const char * const *values) {
        for (size_t i = 0; i < n; i++)
                if (!streq(s->values[i], label_value(values, i)))
                        return false;
        return true;
}

static MetricSeries *series_add(MetricFamily *f, size_t n, const char * const *values) {
        MetricSeries s = {};

        if (f->n_series >= METRIC_SERIES_MAX) {
                f->dropped++;
                return NULL;
        }
        if (f->n_series == f->n_allocated) {
                size_t k = f->n_allocated ? f->n_allocated * 2 : 4;
                MetricSeries *a = realloc(f->series, k * sizeof(MetricSeries));
                if (!a)
                        return NULL;
                f->series = a;
                f->n_allocated = k;
        }
        for (size_t i = 0; i < n; i++)
                if (!(s.values[i] = strdup(label_value(values, i))))
                        goto oom;
        if (f->type == METRIC_TYPE_HISTOGRAM && !(s.buckets = calloc(f->n_buckets + 1, sizeof(*s.buckets))))
                goto oom;
        f->series[f->n_series] = s;
        return &f->series[f->n_series++];
oom:
        series_done(&s);
        return NULL;
}

static MetricSeries *series_find(MetricFamily *f, const char * const *values, bool create) {
        size_t n = family_n_labels(f);

        if (!f->registry && create)
                metrics_register(NULL, f);
        for (size_t i = 0; i < f->n_series; i++)
                if (series_matches(&f->series[i], n, values))
                        return &f->series[i];
        return create ? series_add(f, n, values) : NULL;
}

void metric_add(MetricFamily *f, double v, const char * const *values) {
        MetricSeries *s = series_find(f, values, true);
        if (s)
                s->value += v;
}

void metric_set(MetricFamily *f, double v, const char * const *values) {
        MetricSeries *s = series_find(f, values, true);
        if (s)
                s->value = v;
}

void metric_observe(MetricFamily *f, double v, const char * const *values) {
        MetricSeries *s = series_find(f, values, true);
        size_t b = 0;

        if (!s || !s->buckets)
                return;
        while (b < f->n_buckets && v > f->buckets[b])
                b++;
        s->buckets[b]++;
        s->count++;
        s->value += v;
}

double metric_value(const MetricFamily *f, const char * const *values) {
        size_t n = family_n_labels(f);

        for (size_t i = 0; i < f->n_series; i++)
                if (series_matches(&f->series[i], n, values))
                        return f->type == METRIC_TYPE_HISTOGRAM ? (double) f->series[i].count : f->series[i].value;
        return 0;
}

int metrics_add_collector(MetricsRegistry *r, metrics_collect_t fn, void *userdata) {
        r = r ?: &default_registry;
        if (r->n_collectors >= COLLECTORS_MAX)
                return -E2BIG;
        r->collectors[r->n_collectors++] = (Collector) { fn, userdata };
        return 0;
}

void metrics_remove_collector(MetricsRegistry *r, metrics_collect_t fn, void *userdata) {
        r = r ?: &default_registry;
        for (size_t i = 0; i < r->n_collectors; i++)
                if (r->collectors[i].fn == fn && r->collectors[i].userdata == userdata) {
                        memmove(&r->collectors[i], &r->collectors[i + 1],
                                (r->n_collectors - i - 1) * sizeof(Collector));
                        r->n_collectors--;
                        return;
                }
}

void metrics_collect(MetricsRegistry *r) {
        r = r ?: &default_registry;
        for (size_t i = 0; i < r->n_collectors; i++)
                r->collectors[i].fn(r->collectors[i].userdata);
}

/* --- the text format --- */

static void put_number(FILE *f, double v) {
        if (isnan(v))
                fputs("NaN", f);
        else if (isinf(v))
                fputs(v > 0 ? "+Inf" : "-Inf", f);
        else if (v == floor(v) && fabs(v) < 1e15)
                fprintf(f, "%.0f", v);
        else
                fprintf(f, "%.12g", v);
}

/* Label values escape backslash, double quote and line feed; HELP text backslash and line feed. */
static void put_escaped(FILE *f, const char *s, bool quotes) {
        for (; *s; s++)
                if (*s == '\\')
                        fputs("\\\\", f);
                else if (*s == '\n')
                        fputs("\\n", f);
                else if (*s == '"' && quotes)
                        fputs("\\\"", f);
                else
                        fputc(*s, f);
}

/* {a="x",b="y"} plus le= for a bucket (le NULL: none); nothing without any label. */
static void put_labels(FILE *f, const MetricFamily *fam, const MetricSeries *s, const char *le) {
        size_t n = family_n_labels(fam);

        if (n == 0 && !le)
                return;
        fputc('{', f);
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "%s%s=\"", i > 0 ? "," : "", fam->labels[i]);
                put_escaped(f, s->values[i], true);
                fputc('"', f);
        }
        if (le)
                fprintf(f, "%sle=\"%s\"", n > 0 ? "," : "", le);
        fputc('}', f);
}

static void put_histogram(FILE *f, const char *ns, const MetricFamily *fam, const MetricSeries *s) {
        unsigned long long cumulative = 0;
        char le[32];

        for (size_t b = 0; b <= fam->n_buckets; b++) {
                cumulative += s->buckets[b];
                if (b < fam->n_buckets)
                        snprintf(le, sizeof(le), "%.12g", fam->buckets[b]);
                else
                        snprintf(le, sizeof(le), "+Inf");
                fprintf(f, "%s_%s_bucket", ns, fam->name);
                put_labels(f, fam, s, le);
                fprintf(f, " %llu\n", cumulative);
        }
        fprintf(f, "%s_%s_sum", ns, fam->name);
        put_labels(f, fam, s, NULL);
        fputc(' ', f);
        put_number(f, s->value);
        fprintf(f, "\n%s_%s_count", ns, fam->name);
        put_labels(f, fam, s, NULL);
        fprintf(f, " %llu\n", s->count);
}

static int cmp_series(const void *a, const void *b) {
        const MetricSeries *x = *(const MetricSeries * const *) a, *y = *(const MetricSeries * const *) b;

        for (size_t i = 0; i < METRIC_LABELS_MAX && x->values[i] && y->values[i]; i++) {
                int c = strcmp(x->values[i], y->values[i]);
                if (c != 0)
                        return c;
        }
        return 0;
}

static int put_family(FILE *f, const char *ns, const MetricFamily *fam) {
        static const char * const types[] = { "counter", "gauge", "histogram" };
        _cleanup_free_ const MetricSeries **order = calloc(fam->n_series + 1, sizeof(*order));

        if (!order)
                return -ENOMEM;
        for (size_t i = 0; i < fam->n_series; i++)
                order[i] = &fam->series[i];
        qsort(order, fam->n_series, sizeof(*order), cmp_series);

        fprintf(f, "# HELP %s_%s ", ns, fam->name);
        put_escaped(f, fam->help, false);
        fprintf(f, "\n# TYPE %s_%s %s\n", ns, fam->name, types[fam->type]);
        for (size_t i = 0; i < fam->n_series; i++) {
                if (fam->type == METRIC_TYPE_HISTOGRAM) {
                        put_histogram(f, ns, fam, order[i]);
                        continue;
                }
                fprintf(f, "%s_%s", ns, fam->name);
                put_labels(f, fam, order[i], NULL);
                fputc(' ', f);
                put_number(f, order[i]->value);
                fputc('\n', f);
        }
        return 0;
}

static int cmp_family(const void *a, const void *b) {
        return strcmp((*(const MetricFamily * const *) a)->name, (*(const MetricFamily * const *) b)->name);
}

int metrics_render(const MetricsRegistry *r, char **ret) {
        _cleanup_free_ const MetricFamily **order = NULL;
        char *text = NULL;
        size_t n = 0, size = 0;
        int k = 0;

        r = r ?: &default_registry;
        for (const MetricFamily *f = r->families; f; f = f->next)
                n++;
        order = calloc(n + 1, sizeof(*order));
        if (!order)
                return -ENOMEM;
        n = 0;
        for (const MetricFamily *f = r->families; f; f = f->next)
                order[n++] = f;
        qsort(order, n, sizeof(*order), cmp_family);

        FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; k >= 0 && i < n; i++)
                k = put_family(f, r->namespace, order[i]);
        if (fclose(f) != 0 || k < 0 || !text) {
                free(text);
                return -ENOMEM;
        }
        *ret = text;
        return 0;
}
