/*
 * hub360 - the list of adapter plugins, and running those the
 * configuration asks for.
 */
#include "adapter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "metrics.h"

const hub_adapter_plugin_t *const hub_adapter_plugins[] = {
    &hub_adapter_webhook,
    &hub_adapter_poll,
    &hub_adapter_cdc,
    NULL,
};

struct hub_metric *hub_adapter_metric(const char *metric, const char *source,
                                      const char *adapter) {
    char labels[300];
    snprintf(labels, sizeof(labels), "source=\"%s\",adapter=\"%s\"",
             source, adapter);
    if (strcmp(metric, "dead_letters") == 0)
        return hub_metrics_counter("hub360_adapter_dead_letters_total",
                                   "Records an adapter sent to the "
                                   "dead-letter topic, by source.",
                                   labels);
    return hub_metrics_counter("hub360_adapter_events_total",
                               "Events an adapter produced and Kafka "
                               "acknowledged, by source.",
                               labels);
}

/* Headers that carry credentials stay out of a dead letter's meta. */
static int is_credential(const char *name) {
    static const char *const secret[] = {"authorization", "cookie",
                                         "proxy-authorization", NULL};
    for (size_t i = 0; secret[i]; i++)
        if (strcmp(name, secret[i]) == 0)
            return 1;
    return 0;
}

int hub_adapter_dead_letter(const hub_adapter_env_t *env, const char *source,
                            const char *adapter, const void *value,
                            size_t len, const json_t *meta, const char *error,
                            hub_acks_t *acks, int64_t block_ms, char *err,
                            size_t errlen) {
    json_t *kept = meta ? json_deep_copy(meta) : json_object();
    json_t *headers = json_object_get(kept, "headers");
    const char *name;
    json_t *v, *tmp;
    json_object_foreach_safe(headers, tmp, name, v) {
        if (is_credential(name))
            json_object_del(headers, name);
    }
    char *meta_text = kept ? json_dumps(kept, JSON_COMPACT | JSON_SORT_KEYS)
                           : NULL;
    json_decref(kept);
    if (!meta_text)
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    char topic[256];
    hub_config_topic(env->cfg, "deadletter", topic, sizeof(topic));
    hub_header_t h[] = {
        {"error", error, strlen(error)},
        {"source", source, strlen(source)},
        {"adapter", adapter, strlen(adapter)},
        {"meta", meta_text, strlen(meta_text)},
    };
    int rc = hub_producer_send(env->producer, topic, -1, source,
                               strlen(source), value, len, h, 4, acks,
                               block_ms, err, errlen);
    free(meta_text);
    return rc;
}

typedef struct running {
    const hub_adapter_plugin_t *plugin;
    void *ctx;
    int started;
} running_t;

struct hub_adapters {
    running_t run[8];
    size_t n;
};

int hub_adapters_new(const hub_adapter_env_t *env, hub_adapters_t **out,
                     size_t *any, char *err, size_t errlen) {
    hub_adapters_t *a = calloc(1, sizeof(*a));
    const hub_cfg_list_t *l = &env->cfg->sources;
    const hub_source_config_t **mine = calloc(l->n ? l->n : 1, sizeof(*mine));
    if (!a || !mine) {
        free(a);
        free(mine);
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    }
    *any = 0;
    int rc = 0;
    for (size_t p = 0; rc == 0 && hub_adapter_plugins[p]; p++) {
        const hub_adapter_plugin_t *plugin = hub_adapter_plugins[p];
        size_t n = 0;
        for (size_t i = 0; i < l->n; i++) {
            const hub_source_config_t *s =
                (const hub_source_config_t *)l->items + i;
            if (plugin->serves(s))
                mine[n++] = s;
        }
        if (n == 0)
            continue;
        running_t *r = &a->run[a->n++];
        r->plugin = plugin;
        rc = plugin->init(env, mine, n, &r->ctx, err, errlen);
        *any += n;
    }
    free(mine);
    if (rc) {
        hub_adapters_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

int hub_adapters_start(hub_adapters_t *a, char *err, size_t errlen) {
    for (size_t i = 0; i < a->n; i++) {
        running_t *r = &a->run[i];
        int rc = r->plugin->start ? r->plugin->start(r->ctx, err, errlen) : 0;
        if (rc)
            return rc;
        r->started = 1;
    }
    return 0;
}

void hub_adapters_free(hub_adapters_t *a) {
    if (!a)
        return;
    for (size_t i = a->n; i-- > 0;) {
        running_t *r = &a->run[i];
        if (r->started && r->plugin->stop)
            r->plugin->stop(r->ctx);
        r->plugin->destroy(r->ctx);
    }
    free(a);
}
