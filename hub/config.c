/*
 * hub360 - the hub's configuration tables and loader.
 *
 * The tables below are the single declaration of every core setting:
 * `hub360 check --reference` prints them as the configuration reference.
 * Components that arrive later (identity, segments, sources) add their
 * own tables here by name.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "errors.h"
#include "yamldoc.h"

#define MAX_CONFIG_BYTES (4 << 20)

static int check_listen(const void *value, char *msg, size_t msglen) {
    const char *s = *(char *const *)value;
    const char *colon = strrchr(s, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == s || colon[1] == '\0' || *end) {
        snprintf(msg, msglen, "expected HOST:PORT, got \"%s\"", s);
        return -1;
    }
    if (port < 0 || port > 65535) {
        snprintf(msg, msglen, "port %ld of \"%s\" is out of range 0..65535",
                 port, s);
        return -1;
    }
    return 0;
}

static int check_not_empty(const void *value, char *msg, size_t msglen) {
    if (**(char *const *)value == '\0') {
        snprintf(msg, msglen, "must not be empty");
        return -1;
    }
    return 0;
}

#define K hub_kafka_config_t
static const hub_cfg_entry_t kafka_map[] = {
    HUB_CFG(HUB_CFG_STR, "brokers", "embedded", K, brokers,
            "Bootstrap servers (\"host:port,host:port\"), or \"embedded\" "
            "for the in-process broker (librdkafka's mock cluster: tests and "
            "demos only).",
            .check = check_not_empty),
    HUB_CFG(HUB_CFG_INT, "partitions", "12", K, partitions,
            "Partition count of the topics hub360 creates.", .min = 1,
            .max = 10000),
    HUB_CFG(HUB_CFG_INT, "replication_factor", "-1", K, replication_factor,
            "Replication factor of the topics hub360 creates; -1 uses the "
            "number of brokers, at most 3.",
            .min = -1, .max = 32),
    HUB_CFG(HUB_CFG_STR, "topic_prefix", "hub360.", K, topic_prefix,
            "Prefix of every topic name (hub360.crm.events, ...)."),
    HUB_CFG(HUB_CFG_STRMAP, "properties", NULL, K, properties,
            "librdkafka properties passed through as is (security.protocol, "
            "sasl.*, ssl.*, ...); they override hub360's own defaults."),
    HUB_CFG(HUB_CFG_DURATION, "delivery_timeout", "30s", K,
            delivery_timeout_ms,
            "How long a produced event may wait for the brokers' "
            "acknowledgement before it counts as failed."),
    HUB_CFG(HUB_CFG_SIZE, "queue_max_bytes", "64MiB", K, queue_max_bytes,
            "Bound on events waiting to be sent; producers wait "
            "(backpressure) beyond it."),
    {0},
};
#undef K

#define R hub_registry_config_t
static const hub_cfg_entry_t registry_map[] = {
    HUB_CFG(HUB_CFG_STR, "url", "", R, url,
            "Confluent-compatible Schema Registry; empty uses the local "
            "catalogue of schema ids.",
            .check = hub_cfg_check_url),
    HUB_CFG(HUB_CFG_STR, "username", "", R, username,
            "Basic-auth user for the registry."),
    HUB_CFG(HUB_CFG_STR, "password", "", R, password,
            "Basic-auth password for the registry."),
    HUB_CFG(HUB_CFG_DURATION, "timeout", "10s", R, timeout_ms,
            "Timeout of one registry request."),
    {0},
};
#undef R

/* A token that is empty would match nothing and lock every client out
 * without a word: refused at load (an unset ${VAR} is refused before). */
static int check_token_value(const void *value, char *msg, size_t msglen) {
    const char *s = *(char *const *)value;
    if (s && !*s) {
        snprintf(msg, msglen, "must not be empty");
        return -1;
    }
    return 0;
}

static const hub_cfg_entry_t token_map[] = {
    HUB_CFG(HUB_CFG_STR, "token", NULL, hub_api_token_t, token,
            "Bearer token value (use ${VAR} to read it from the "
            "environment).",
            .required = 1, .check = check_token_value),
    HUB_CFG(HUB_CFG_STR, "scope", "read", hub_api_token_t, scope,
            "What the token may do.", .choices = "read|admin"),
    {0},
};

static const hub_cfg_entry_t api_map[] = {
    HUB_CFG(HUB_CFG_STR, "listen", "127.0.0.1:8360", hub_api_config_t,
            listen, "Address of the HTTP server (API, webhooks, metrics).",
            .check = check_listen),
    HUB_CFG(HUB_CFG_LIST, "tokens", "[]", hub_api_config_t, tokens,
            "Bearer tokens with their scopes; with none, serve and up "
            "refuse an api.listen that is not a loopback address (webhooks "
            "are checked by their signatures, and /metrics and /healthz "
            "are open, in every process).",
            .sub = token_map, .item_size = sizeof(hub_api_token_t)),
    HUB_CFG(HUB_CFG_SIZE, "body_limit", "1MiB", hub_api_config_t,
            body_limit, "Largest request body (webhooks included); bigger "
            "ones are answered 413."),
    HUB_CFG(HUB_CFG_INT, "max_connections", "512", hub_api_config_t,
            max_connections, "Connections served at once, each by a thread "
            "of its own (a webhook holds its thread while Kafka "
            "acknowledges); more are refused until one closes.",
            .min = 1, .max = 65536),
    HUB_CFG(HUB_CFG_INT, "ready_max_lag", "100000", hub_api_config_t,
            ready_max_lag, "GET /readyz fails while the projector's store "
            "is more events than this behind the event topics.",
            .min = 0, .max = 2000000000),
    {0},
};

static const hub_cfg_entry_t log_map[] = {
    HUB_CFG(HUB_CFG_STR, "level", "info", hub_log_config_t, level,
            "Least severe level logged.", .choices = "debug|info|warn|error"),
    HUB_CFG(HUB_CFG_STR, "format", "text", hub_log_config_t, format,
            "Text lines or JSON lines on standard error.",
            .choices = "text|json"),
    {0},
};

const hub_cfg_entry_t hub_config_map[] = {
    HUB_CFG(HUB_CFG_SECTION, "kafka", NULL, hub_config_t, kafka, NULL,
            .sub = kafka_map),
    HUB_CFG(HUB_CFG_SECTION, "schema_registry", NULL, hub_config_t,
            schema_registry, NULL, .sub = registry_map),
    HUB_CFG(HUB_CFG_STR, "data_dir", "./data", hub_config_t, data_dir,
            "Directory of the LMDB stores (views, offsets, cursors).",
            .check = check_not_empty),
    HUB_CFG(HUB_CFG_SECTION, "api", NULL, hub_config_t, api, NULL,
            .sub = api_map),
    HUB_CFG(HUB_CFG_SECTION, "log", NULL, hub_config_t, log, NULL,
            .sub = log_map),
    HUB_CFG(HUB_CFG_SECTION, "identity", NULL, hub_config_t, identity, NULL,
            .sub = hub_identity_config_map),
    HUB_CFG(HUB_CFG_SECTION, "profile", NULL, hub_config_t, profile, NULL,
            .sub = hub_profile_config_map),
    HUB_CFG(HUB_CFG_STRMAP, "segments", NULL, hub_config_t, segments,
            "Segment rules by name, e.g. vip: \"orders.revenue.CNY >= "
            "1000000\" (see projections/README.md).",
            .check = hub_segments_check),
    HUB_CFG(HUB_CFG_SECTION, "projector", NULL, hub_config_t, projector,
            NULL, .sub = hub_projector_config_map),
    HUB_CFG(HUB_CFG_SECTION, "reporting", NULL, hub_config_t, reporting,
            NULL, .sub = hub_reporting_config_map),
    HUB_CFG(HUB_CFG_LIST, "sources", "[]", hub_config_t, sources,
            "The systems that feed the hub (adapters/README.md).",
            .sub = hub_source_config_map,
            .item_size = sizeof(hub_source_config_t),
            .item_check = hub_source_check_item),
    {0},
};

int hub_config_parse(const char *name, const char *text, size_t len,
                     hub_config_t **out, char *err, size_t errlen) {
    *out = NULL;
    hub_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return HUB_ENOMEM;
    hub_ynode_t *root = NULL;
    int rc = hub_yaml_parse(name, text, len, &root, err, errlen);
    if (rc == 0)
        rc = hub_cfg_apply(hub_config_map, cfg, root, name, "", err, errlen);
    hub_ynode_free(root);
    if (rc == 0 && !(cfg->path = strdup(name)))
        rc = HUB_ENOMEM;
    if (rc) {
        hub_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int hub_config_load(const char *path, hub_config_t **out, char *err,
                    size_t errlen) {
    const char *file = path;
    if (!file && access("hub360.yaml", F_OK) == 0)
        file = "hub360.yaml";
    if (!file) {
        int rc = hub_config_parse("(defaults)", "", 0, out, err, errlen);
        if (rc == 0) {
            free((*out)->path);
            (*out)->path = NULL;
        }
        return rc;
    }
    hub_buf_t text = HUB_BUF_INIT;
    int rc = hub_buf_read_file(&text, file, MAX_CONFIG_BYTES, err, errlen);
    if (rc == 0)
        rc = hub_config_parse(file, text.data ? text.data : "", text.len, out,
                              err, errlen);
    hub_buf_free(&text);
    return rc;
}

void hub_config_free(hub_config_t *cfg) {
    if (!cfg)
        return;
    hub_cfg_free(hub_config_map, cfg);
    free(cfg->path);
    free(cfg);
}

int hub_config_set_str(char **field, const char *value) {
    char *dup = strdup(value);
    if (!dup)
        return HUB_ENOMEM;
    free(*field);
    *field = dup;
    return 0;
}

int hub_config_embedded(const hub_config_t *cfg) {
    return strcmp(cfg->kafka.brokers, "embedded") == 0;
}

void hub_config_topic(const hub_config_t *cfg, const char *name, char *out,
                      size_t outlen) {
    snprintf(out, outlen, "%s%s", cfg->kafka.topic_prefix, name);
}
