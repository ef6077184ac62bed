/*
 * hub360 - the configuration of one hub360 process.
 *
 * Loaded once from YAML (or built-in defaults) through the declarative
 * tables in config.c; each component reads its own section. Every key has
 * a default, so no file at all runs everything locally on the embedded
 * broker.
 */
#ifndef HUB_CONFIG_H
#define HUB_CONFIG_H

#include <stdint.h>

#include "c360_config.h"
#include "cfgmap.h"
#include "report_config.h"
#include "source_config.h"

typedef struct hub_kafka_config {
    char *brokers;            /* "embedded" or "host:port,..." */
    long partitions;          /* for topics hub360 creates */
    long replication_factor;  /* for topics hub360 creates; -1 broker default */
    char *topic_prefix;       /* "hub360." */
    hub_strmap_t properties;  /* passed to librdkafka as is */
    int64_t delivery_timeout_ms; /* how long a produce may wait for acks */
    int64_t queue_max_bytes;  /* producer queue bound (backpressure) */
} hub_kafka_config_t;

typedef struct hub_registry_config {
    char *url;                /* empty: the local catalogue */
    char *username;           /* basic auth, optional */
    char *password;
    int64_t timeout_ms;
} hub_registry_config_t;

typedef struct hub_api_token {
    char *token;
    char *scope;              /* read | admin */
} hub_api_token_t;

typedef struct hub_api_config {
    char *listen;             /* HOST:PORT */
    hub_cfg_list_t tokens;    /* of hub_api_token_t */
    int64_t body_limit;       /* largest request body */
    long max_connections;     /* served at once (a thread each) */
    long ready_max_lag;       /* /readyz: events the projector may be behind */
} hub_api_config_t;

typedef struct hub_log_config {
    char *level;
    char *format;             /* text | json */
} hub_log_config_t;

typedef struct hub_config {
    char *path;               /* the file it came from; NULL: defaults */
    hub_kafka_config_t kafka;
    hub_registry_config_t schema_registry;
    char *data_dir;
    hub_api_config_t api;
    hub_log_config_t log;
    hub_identity_config_t identity;
    hub_profile_config_t profile;
    hub_strmap_t segments;           /* name -> rule */
    hub_projector_config_t projector;
    hub_reporting_config_t reporting;
    hub_cfg_list_t sources;          /* of hub_source_config_t */
} hub_config_t;

/* The root table (for the reference in docs/CONFIGURATION.md). */
extern const hub_cfg_entry_t hub_config_map[];

/*
 * Loads path, or, when path is NULL, ./hub360.yaml if it exists, else the
 * built-in defaults. On error returns HUB_ECONFIG (or HUB_ENOENT for a
 * named file that does not exist) with "FILE:LINE: key: reason" in err.
 * The caller frees *out with hub_config_free.
 */
int hub_config_load(const char *path, hub_config_t **out, char *err,
                    size_t errlen);
/* Same, from YAML text; name appears in messages. */
int hub_config_parse(const char *name, const char *text, size_t len,
                     hub_config_t **out, char *err, size_t errlen);
void hub_config_free(hub_config_t *cfg);

/* Replaces a string setting (for --brokers, --data, --listen). */
int hub_config_set_str(char **field, const char *value);

/* 1 when kafka.brokers names the embedded broker. */
int hub_config_embedded(const hub_config_t *cfg);

/* Writes "<prefix><name>" (e.g. "hub360.crm.events") into out. */
void hub_config_topic(const hub_config_t *cfg, const char *name, char *out,
                      size_t outlen);

#endif
