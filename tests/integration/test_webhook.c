/*
 * hub360 - the webhook adapter while Kafka refuses (embedded broker, in
 * process, faults injected through the mock cluster's API).
 *
 * The promise under test: a vendor that got a 2xx can forget its
 * request, because its events are on Kafka; a vendor that got anything
 * else will retry. So every request answered 200 must have its event on
 * the topic, whatever the brokers did meanwhile, and while they refuse,
 * the answer is 503 with Retry-After.
 */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter.h"
#include "broker.h"
#include "codec.h"
#include "errors.h"
#include "harness.h"
#include "http.h"
#include "timefmt.h"

#define API_PRODUCE 0 /* the Kafka protocol's ApiKey for Produce */

static hub_config_t *cfg;
static hub_broker_t *broker;
static hub_catalog_t *cat;
static hub_producer_t *producer;
static hub_http_t *http;
static hub_adapters_t *adapters;
static char url[256];

static void setup(void) {
    char err[1024], yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "kafka:\n  partitions: 3\n  topic_prefix: \"w%u.\"\n"
             "  delivery_timeout: 60s\n"
             "sources:\n"
             "  - name: shop\n    system: erp\n    preset: shopify\n"
             "    webhook: {secret: hush, ack_timeout: 2s}\n",
             (unsigned)getpid());
    hub_http_config_t hc = {.listen = "127.0.0.1:0",
                            .body_limit = 1 << 20,
                            .max_connections = 16};
    size_t any = 0;
    if (hub_config_parse("test.yaml", yaml, strlen(yaml), &cfg, err,
                         sizeof(err)) ||
        hub_broker_start(cfg, 3, 3, NULL, &broker, err, sizeof(err)) ||
        hub_config_set_str(&cfg->kafka.brokers, hub_broker_bootstrap(broker)) ||
        hub_catalog_open(NULL, &cat, err, sizeof(err)) ||
        hub_producer_new(cfg, hub_broker_bootstrap(broker), &producer, err,
                         sizeof(err)) ||
        hub_http_new(&hc, &http, err, sizeof(err))) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
    hub_adapter_env_t env = {.cfg = cfg,
                             .cat = cat,
                             .producer = producer,
                             .bootstrap = hub_broker_bootstrap(broker),
                             .http = http};
    /* the env is copied by nobody: keep it alive as long as the plugins */
    static hub_adapter_env_t kept;
    kept = env;
    if (hub_adapters_new(&kept, &adapters, &any, err, sizeof(err)) ||
        hub_http_start(http, err, sizeof(err))) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ingest/shop",
             hub_http_port(http));
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Stopped inside the test, not at exit: the server's threads must end
 * (and OpenSSL free their state) before LeakSanitizer looks. */
static void teardown(void) {
    hub_http_stop(http);
    hub_adapters_free(adapters);
    hub_producer_free(producer);
    hub_catalog_free(cat);
    hub_broker_stop(broker);
    hub_config_free(cfg);
    curl_global_cleanup();
}

static size_t discard(char *p, size_t size, size_t n, void *ctx) {
    (void)p, (void)ctx;
    return size * n;
}

static size_t grab_header(char *p, size_t size, size_t n, void *ctx) {
    if (size * n > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
        *(int *)ctx = 1;
    return size * n;
}

/* POSTs customer `id` as Shopify would (signed); returns the status and
 * whether a Retry-After came with it. */
static long post_customer(int id, int *retry_after) {
    char body[512], sig[128], hdr[200];
    snprintf(body, sizeof(body),
             "{\"id\": %d, \"email\": \"c%d@example.com\", \"first_name\": "
             "\"C\", \"last_name\": \"N%d\", \"updated_at\": "
             "\"2026-03-01T10:00:00Z\"}",
             id, id, id);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    HMAC(EVP_sha256(), "hush", 4, (const unsigned char *)body, strlen(body),
         mac, &maclen);
    EVP_EncodeBlock((unsigned char *)sig, mac, (int)maclen);
    snprintf(hdr, sizeof(hdr), "X-Shopify-Hmac-Sha256: %s", sig);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "X-Shopify-Topic: customers/create");
    h = curl_slist_append(h, hdr);
    CURL *c = curl_easy_init();
    long status = 0;
    *retry_after = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, grab_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, retry_after);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return status;
}

/* The entity ids of every customer event on the erp topic. */
static void read_topic(char *seen, int max) {
    char err[1024], topic[300];
    rd_kafka_t *rk = NULL;
    size_t nparts = 0, eofs = 0;
    hub_config_topic(cfg, "erp.events", topic, sizeof(topic));
    const char *topics[] = {topic};
    REQUIRE(hub_consumer_new(cfg, hub_broker_bootstrap(broker), NULL, 1, &rk,
                             err, sizeof(err)) == 0);
    REQUIRE(hub_consumer_assign_all(rk, topics, 1, RD_KAFKA_OFFSET_BEGINNING,
                                    &nparts, err, sizeof(err)) == 0);
    hub_codec_t *codec = NULL;
    REQUIRE(hub_codec_new(cat, cfg->kafka.topic_prefix, &codec, err,
                          sizeof(err)) == 0);
    for (int spins = 0; eofs < nparts && spins < 600; spins++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (!m->err) {
            hub_buf_t out = HUB_BUF_INIT;
            if (hub_codec_render(codec, m->payload, m->len, &out, err,
                                 sizeof(err)) == 0) {
                const char *e = strstr(out.data, "\"entity_id\":\"");
                int id = e ? (int)strtol(e + 13, NULL, 10) : -1;
                if (id >= 0 && id < max)
                    seen[id] = 1;
            }
            hub_buf_free(&out);
        }
        rd_kafka_message_destroy(m);
    }
    CHECK_INT(eofs, nparts);
    hub_codec_free(codec);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

TEST(every_2xx_is_on_kafka_and_refusals_are_503) {
    setup();
    enum { N = 60 };
    long status[N] = {0};
    int retry[N] = {0};
    rd_kafka_mock_cluster_t *mock = hub_broker_mock(broker);

    /* Kafka well: every request lands. */
    for (int i = 0; i < 10; i++)
        CHECK_INT(status[i] = post_customer(i, &retry[i]), 200);

    /* Retriable refusals: the idempotent producer retries within the
     * acknowledgement window, so the vendor still gets 200. */
    rd_kafka_mock_push_request_errors(mock, API_PRODUCE, 3,
                                      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    for (int i = 10; i < 20; i++)
        CHECK_INT(status[i] = post_customer(i, &retry[i]), 200);

    /* Every broker down: nothing is acknowledged, so every answer is 503
     * with Retry-After, within the 2 s acknowledgement timeout. */
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_down(mock, b);
    for (int i = 20; i < 23; i++) {
        status[i] = post_customer(i, &retry[i]);
        CHECK_INT(status[i], 503);
        CHECK(retry[i]);
    }
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_up(mock, b);

    /* A refusal that is final: 503 as well (the vendor retries later). */
    rd_kafka_mock_push_request_errors(
        mock, API_PRODUCE, 1, RD_KAFKA_RESP_ERR_INVALID_RECORD);
    status[30] = post_customer(30, &retry[30]);
    CHECK_INT(status[30], 503);
    CHECK(retry[30]);

    /* Back to normal, the vendor retries what got 503, as it would: the
     * producer may take a moment to recover from the refusals, so a
     * request is retried until 200 or a deadline. */
    for (int i = 20; i < N; i++) {
        int64_t deadline = hub_time_mono_ms() + 30000;
        if (i > 30 || status[i] != 200)
            while ((status[i] = post_customer(i, &retry[i])) != 200 &&
                   hub_time_mono_ms() < deadline)
                CHECK_INT(status[i], 503); /* never anything else */
        CHECK_INT(status[i], 200);
    }

    /* Every request that got 200 has its event on the topic. */
    CHECK_INT(hub_producer_flush(producer, 60000), 0);
    char seen[N] = {0};
    read_topic(seen, N);
    for (int i = 0; i < N; i++)
        if (status[i] == 200 && !seen[i])
            FAIL_AT("request %d was answered 200 but its event is not on "
                    "Kafka",
                    i);
    teardown();
}
