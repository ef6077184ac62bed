/*
 * hub360 - the metrics registry.
 *
 * A list of metrics under a mutex for lookups, creation and rendering;
 * values are atomics updated without it. Few metrics exist (tens to a
 * few hundred: label sets are sources, routes, statuses), so a linear
 * lookup at registration is fine; the hot path never looks anything up.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { COUNTER, GAUGE, HISTOGRAM, GAUGE_FN } kind_t;

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5,
                                 5,      10};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct hub_metric {
    kind_t kind;
    char *name, *help, *labels;
    _Atomic uint64_t count;              /* counter; histogram count */
    _Atomic uint64_t bits;               /* gauge value; histogram sum */
    _Atomic uint64_t le[NBUCKETS];       /* histogram buckets */
    double (*fn)(void *);
    void *opaque;
    hub_metric_t *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static hub_metric_t *all;
static hub_metric_t sink; /* absorbs updates when allocation fails */

static uint64_t to_bits(double v) {
    uint64_t b;
    memcpy(&b, &v, sizeof(b));
    return b;
}

static double from_bits(uint64_t b) {
    double v;
    memcpy(&v, &b, sizeof(v));
    return v;
}

static hub_metric_t *find_or_make(kind_t kind, const char *name,
                                  const char *help, const char *labels) {
    if (!labels)
        labels = "";
    pthread_mutex_lock(&lock);
    hub_metric_t *m = all;
    for (; m; m = m->next)
        if (m->kind == kind && strcmp(m->name, name) == 0 &&
            strcmp(m->labels, labels) == 0)
            break;
    if (!m && (m = calloc(1, sizeof(*m)))) {
        m->kind = kind;
        m->name = strdup(name);
        m->help = strdup(help);
        m->labels = strdup(labels);
        if (!m->name || !m->help || !m->labels) {
            free(m->name), free(m->help), free(m->labels), free(m);
            m = NULL;
        } else {
            m->next = all;
            all = m;
        }
    }
    pthread_mutex_unlock(&lock);
    return m ? m : &sink;
}

hub_metric_t *hub_metrics_counter(const char *name, const char *help,
                                  const char *labels) {
    return find_or_make(COUNTER, name, help, labels);
}

hub_metric_t *hub_metrics_gauge(const char *name, const char *help,
                                const char *labels) {
    return find_or_make(GAUGE, name, help, labels);
}

hub_metric_t *hub_metrics_histogram(const char *name, const char *help,
                                    const char *labels) {
    return find_or_make(HISTOGRAM, name, help, labels);
}

void hub_metric_add(hub_metric_t *m, uint64_t n) {
    atomic_fetch_add_explicit(&m->count, n, memory_order_relaxed);
}

void hub_metric_set(hub_metric_t *m, double v) {
    atomic_store_explicit(&m->bits, to_bits(v), memory_order_relaxed);
}

void hub_metric_observe(hub_metric_t *m, double v) {
    for (size_t i = 0; i < NBUCKETS; i++)
        if (v <= buckets[i]) {
            atomic_fetch_add_explicit(&m->le[i], 1, memory_order_relaxed);
            break;
        }
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&m->bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        &m->bits, &old, to_bits(from_bits(old) + v), memory_order_relaxed,
        memory_order_relaxed))
        ;
}

void hub_metrics_gauge_fn(const char *name, const char *help,
                          const char *labels, double (*fn)(void *opaque),
                          void *opaque) {
    hub_metric_t *m = find_or_make(GAUGE_FN, name, help, labels);
    pthread_mutex_lock(&lock);
    m->fn = fn;
    m->opaque = opaque;
    pthread_mutex_unlock(&lock);
}

void hub_metrics_unregister(void *opaque) {
    pthread_mutex_lock(&lock);
    for (hub_metric_t *m = all; m; m = m->next)
        if (m->kind == GAUGE_FN && m->opaque == opaque)
            m->fn = NULL, m->opaque = NULL;
    pthread_mutex_unlock(&lock);
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */
/* ------------------------------------------------------------------ */

static int by_name(const void *a, const void *b) {
    const hub_metric_t *x = *(hub_metric_t *const *)a;
    const hub_metric_t *y = *(hub_metric_t *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->labels, y->labels);
}

static void series(hub_buf_t *out, const char *name, const char *suffix,
                   const char *labels, const char *extra, double v) {
    int any = labels[0] || extra;
    hub_buf_printf(out, "%s%s%s%s%s%s%s %.15g\n", name, suffix,
                   any ? "{" : "", labels, labels[0] && extra ? "," : "",
                   extra ? extra : "", any ? "}" : "", v);
}

int hub_metrics_render(hub_buf_t *out) {
    pthread_mutex_lock(&lock);
    size_t n = 0;
    for (hub_metric_t *m = all; m; m = m->next)
        n++;
    hub_metric_t **v = malloc((n ? n : 1) * sizeof(*v));
    if (!v) {
        pthread_mutex_unlock(&lock);
        return -1;
    }
    n = 0;
    for (hub_metric_t *m = all; m; m = m->next)
        if (m->kind != GAUGE_FN || m->fn)
            v[n++] = m;
    qsort(v, n, sizeof(*v), by_name);
    static const char *const types[] = {"counter", "gauge", "histogram",
                                        "gauge"};
    for (size_t i = 0; i < n; i++) {
        hub_metric_t *m = v[i];
        if (i == 0 || strcmp(v[i - 1]->name, m->name) != 0)
            hub_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name,
                           m->help, m->name, types[m->kind]);
        switch (m->kind) {
        case COUNTER:
            series(out, m->name, "", m->labels, NULL,
                   (double)atomic_load(&m->count));
            break;
        case GAUGE:
            series(out, m->name, "", m->labels, NULL,
                   from_bits(atomic_load(&m->bits)));
            break;
        case GAUGE_FN:
            series(out, m->name, "", m->labels, NULL, m->fn(m->opaque));
            break;
        case HISTOGRAM: {
            uint64_t cum = 0;
            char le[32];
            for (size_t b = 0; b < NBUCKETS; b++) {
                cum += atomic_load(&m->le[b]);
                snprintf(le, sizeof(le), "le=\"%g\"", buckets[b]);
                series(out, m->name, "_bucket", m->labels, le, (double)cum);
            }
            uint64_t count = atomic_load(&m->count);
            series(out, m->name, "_bucket", m->labels, "le=\"+Inf\"",
                   (double)count);
            series(out, m->name, "_sum", m->labels, NULL,
                   from_bits(atomic_load(&m->bits)));
            series(out, m->name, "_count", m->labels, NULL, (double)count);
            break;
        }
        }
    }
    pthread_mutex_unlock(&lock);
    free(v);
    return 0;
}
