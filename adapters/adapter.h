/*
 * hub360 - adapter plugins.
 *
 * Each way data arrives (webhook, poll, cdc) is a plugin: a const struct
 * of callbacks listed once in hub_adapter_plugins (adapter.c). A plugin
 * picks the sources it serves (`serves`), sets itself up for them
 * (`init`: compile mappings, add HTTP routes, open stores), runs
 * (`start`: its threads), stops when asked (`stop`: returns once its
 * threads are joined and everything it produced is acknowledged or
 * reported) and frees (`destroy`, NULL-safe, also after a failed init).
 * Adding a kind of adapter touches its folder and one line of the list.
 */
#ifndef HUB_ADAPTER_H
#define HUB_ADAPTER_H

#include <stddef.h>

#include <jansson.h>

#include "bus.h"
#include "catalog.h"
#include "config.h"
#include "http.h"
#include "source_config.h"

/* What the running process lends every plugin (all borrowed, alive until
 * after destroy). */
typedef struct hub_adapter_env {
    const hub_config_t *cfg;
    hub_catalog_t *cat;
    hub_producer_t *producer;
    const char *bootstrap;   /* the resolved broker list */
    hub_http_t *http;        /* routes may be added in init (not started) */
} hub_adapter_env_t;

typedef struct hub_adapter_plugin {
    const char *name;        /* "webhook" */
    const char *desc;
    /* 1 when this source's configuration asks for this adapter. */
    int (*serves)(const hub_source_config_t *src);
    /* Sets up for the n sources it serves. */
    int (*init)(const hub_adapter_env_t *env,
                const hub_source_config_t *const *sources, size_t n,
                void **ctx, char *err, size_t errlen);
    int (*start)(void *ctx, char *err, size_t errlen);
    void (*stop)(void *ctx);
    void (*destroy)(void *ctx);
} hub_adapter_plugin_t;

/* The counter of events an adapter of `source` produced and Kafka
 * acknowledged (hub360_adapter_events_total{source,adapter}); with
 * `metric` "dead_letters", of records it sent to the dead-letter topic. */
struct hub_metric *hub_adapter_metric(const char *metric, const char *source,
                                      const char *adapter);

/*
 * Queues a vendor delivery that did not map, whole or in part, on the
 * dead-letter topic, so that nothing the vendor sent is lost: key the
 * source's name, value the bytes as they came (a webhook's body, a
 * polled record's JSON); headers `error`, `source`, `adapter` and
 * `meta`: the mapping's $meta as JSON (the request's headers without
 * credentials, its query, resource, received_at), enough to map it
 * again once the mapping is fixed (`hub360 map`). Counted in acks;
 * fails as hub_producer_send.
 */
int hub_adapter_dead_letter(const hub_adapter_env_t *env, const char *source,
                            const char *adapter, const void *value,
                            size_t len, const json_t *meta, const char *error,
                            hub_acks_t *acks, int64_t block_ms, char *err,
                            size_t errlen);

/* Every plugin, NULL-terminated. */
extern const hub_adapter_plugin_t *const hub_adapter_plugins[];

extern const hub_adapter_plugin_t hub_adapter_webhook;
extern const hub_adapter_plugin_t hub_adapter_poll;
extern const hub_adapter_plugin_t hub_adapter_cdc;

/* ------------------------------------------------------------------ */
/* Running the configured adapters                                     */
/* ------------------------------------------------------------------ */

typedef struct hub_adapters hub_adapters_t;

/*
 * Sets up every plugin that serves at least one source of env->cfg
 * (env->http set and not yet started: plugins add their routes). *any is
 * set to the number of (source, adapter) pairs. Errors name the source.
 */
int hub_adapters_new(const hub_adapter_env_t *env, hub_adapters_t **out,
                     size_t *any, char *err, size_t errlen);
int hub_adapters_start(hub_adapters_t *a, char *err, size_t errlen);
/* Stops (in reverse order) and frees. NULL is fine. */
void hub_adapters_free(hub_adapters_t *a);

#endif
