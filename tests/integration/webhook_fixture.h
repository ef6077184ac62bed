/*
 * Test fixture: the webhook adapters of a configuration on a loopback
 * port, producing to an embedded broker (librdkafka's mock cluster, in
 * process, for fault injection), and a client that signs its bodies as
 * Shopify does.
 */
#ifndef HUB_TEST_WEBHOOK_FIXTURE_H
#define HUB_TEST_WEBHOOK_FIXTURE_H

#include "adapter.h"
#include "broker.h"
#include "http.h"

typedef struct webhook_env {
    hub_config_t *cfg;          /* kafka.brokers set to the broker's */
    hub_broker_t *broker;
    hub_catalog_t *cat;
    hub_producer_t *producer;
    hub_http_t *http;
    hub_adapters_t *adapters;
    hub_adapter_env_t env;      /* the plugins borrow it */
    char url[256];              /* http://127.0.0.1:PORT/ingest/SOURCE */
} webhook_env_t;

/* Parses yaml, starts a broker of `brokers` brokers (3 partitions a
 * topic), the producer and the webhook adapters; url is the ingest URL
 * of `source`. Exits the test program when anything fails. Also runs
 * curl_global_init. */
void webhook_env_start(webhook_env_t *w, const char *yaml, int brokers,
                       const char *source);
/* Stops it all, inside the test rather than at exit: the server's
 * threads must end (and OpenSSL free their state) before LeakSanitizer
 * looks. */
void webhook_env_stop(webhook_env_t *w);

/* Calls fn once for each record of the hub topic `name` ("erp.events",
 * "customer360.changelog"), from the beginning to the ends it finds, with
 * its key and its value rendered as canonical JSON (NULL for a tombstone,
 * "" when it does not render). Returns the number of partitions that did
 * not reach their end within 60 s (0 when all did), or -1 on setup
 * errors (printed). */
int webhook_env_read(webhook_env_t *w, const char *name,
                     void (*fn)(const char *key, size_t keylen,
                                const char *json, void *opaque),
                     void *opaque);

/* POSTs body to url with X-Shopify-Topic: topic, signed with secret.
 * Returns the HTTP status (0 when no answer came within 30 s) and sets
 * *retry_after to whether the answer had a Retry-After header. */
long shopify_post(const char *url, const char *secret, const char *topic,
                  const char *body, int *retry_after);

#endif
