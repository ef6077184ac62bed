/*
 * hub360 - the configuration of a source (one item of `sources`): its
 * system kind, preset or mapping, and the settings of each way its data
 * may arrive. Kept apart from source.h so hub/config.h can hold sources
 * without the codec.
 */
#ifndef HUB_SOURCE_CONFIG_H
#define HUB_SOURCE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "cfgmap.h"

typedef struct hub_webhook_config {
    char *secret;          /* signing secret, app secret or token */
    char *signature;       /* scheme name; "" takes the preset's */
    char *verify_token;    /* meta: hub.verify_token */
    char *header;          /* hmac: signature header */
    char *encoding;        /* hmac: hex | base64 */
    char *prefix;          /* hmac: text before the digest */
    int64_t max_age_ms;    /* timestamped schemes: oldest accepted */
    int64_t ack_timeout_ms; /* answer 503 when Kafka takes longer */
    char *public_url;      /* scheme://host as the vendor calls us */
    char *min_version;     /* hubspot: oldest signature version, "" any */
} hub_webhook_config_t;

typedef struct hub_poll_auth_config {
    char *bearer;          /* Authorization: Bearer ... */
    char *username;        /* basic auth */
    char *password;
    char *header;          /* a header of the vendor's own, "Name: value" */
    char *token_url;       /* OAuth2 client credentials */
    char *client_id;
    char *client_secret;
    char *scope;
} hub_poll_auth_config_t;

typedef struct hub_poll_config {
    char *url;             /* base URL; empty: the source is not polled */
    int64_t interval_ms;   /* between syncs */
    hub_poll_auth_config_t auth;
    hub_strmap_t params;   /* $params of poll_request */
    hub_strlist_t resources; /* subset of poll_resources; empty: all */
    char *since;           /* first sync starts here (RFC 3339); "": all */
    int64_t min_interval_ms; /* rate limit: at most one request per this */
    int64_t timeout_ms;    /* one request */
    long retries;          /* per request, on 5xx, 429 and timeouts */
    int64_t backoff_ms;    /* first retry delay (doubles, with jitter) */
    int64_t max_backoff_ms;
    int64_t lookback_ms;   /* ask again this long before the cursor */
} hub_poll_config_t;

typedef struct hub_cdc_config {
    hub_strlist_t topics;  /* Debezium topics; empty: no CDC */
    char *group;           /* consumer group; "": hub360.cdc.<source> */
    long batch_records;    /* most records of one batch */
    int64_t batch_ms;      /* longest a batch waits to fill */
} hub_cdc_config_t;

typedef struct hub_source_config {
    char *name;            /* [A-Za-z0-9_.-]+, the path in /ingest/{name} */
    char *system;          /* crm | erp | scrm */
    char *preset;          /* a built-in preset, or "" */
    char *mapping;         /* a mapping file, or "" */
    hub_webhook_config_t webhook;
    hub_poll_config_t poll;
    hub_cdc_config_t cdc;
} hub_source_config_t;

/* The `sources` list's item table; the check of item i given the items
 * before it (a name not used before, a preset or a mapping, a known
 * preset), and the same of a whole list (hub_cfg_list_t). */
extern const hub_cfg_entry_t hub_source_config_map[];
int hub_source_check_item(const void *items, size_t i, char *msg,
                          size_t msglen);
int hub_sources_check(const void *list, char *msg, size_t msglen);

#endif
