/*
 * hub360 - process metrics in the Prometheus text format.
 *
 * One registry per process. A metric is found or made once by name and
 * labels (a fixed "key=\"value\",..." string) and the pointer kept: it
 * lives until the process ends, and updating it is one atomic add, so
 * hot paths pay nothing else. Gauges may also be computed when scraped
 * (a callback), for values that live elsewhere (a store's size).
 */
#ifndef HUB_METRICS_H
#define HUB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct hub_metric hub_metric_t;

/*
 * The counter, gauge or histogram `name` with `labels` (NULL or "": none;
 * else Prometheus label pairs such as `source="shop",status="200"`, at
 * most 255 bytes), made on first use with `help`. Never NULL: when memory
 * runs out a shared sink absorbs updates. Thread-safe.
 */
hub_metric_t *hub_metrics_counter(const char *name, const char *help,
                                  const char *labels);
hub_metric_t *hub_metrics_gauge(const char *name, const char *help,
                                const char *labels);
/* Histograms use the latency buckets 0.5 ms .. 10 s (seconds). */
hub_metric_t *hub_metrics_histogram(const char *name, const char *help,
                                    const char *labels);

void hub_metric_add(hub_metric_t *m, uint64_t n);   /* counters */
void hub_metric_set(hub_metric_t *m, double v);     /* gauges */
void hub_metric_observe(hub_metric_t *m, double v); /* histograms */

/* A gauge computed at scrape time: fn(opaque) gives its value. The
 * caller removes it (hub_metrics_unregister) before opaque goes away. */
void hub_metrics_gauge_fn(const char *name, const char *help,
                          const char *labels, double (*fn)(void *opaque),
                          void *opaque);
void hub_metrics_unregister(void *opaque);

/* Appends every metric in the Prometheus text format (0.0.4), families
 * sorted by name, so two scrapes of an idle process are identical. */
int hub_metrics_render(hub_buf_t *out);

#endif
