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
#include <pthread.h>
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
#include "webhook_fixture.h"
#include "timefmt.h"

#define API_PRODUCE 0 /* the Kafka protocol's ApiKey for Produce */

static webhook_env_t w;
enum { N = 60 }; /* requests posted */

static void setup(void) {
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "kafka:\n  partitions: 3\n  topic_prefix: \"w%u.\"\n"
             "  delivery_timeout: 60s\n"
             "sources:\n"
             "  - name: shop\n    system: erp\n    preset: shopify\n"
             "    webhook: {secret: hush, ack_timeout: 2s}\n",
             (unsigned)getpid());
    webhook_env_start(&w, yaml, 3, "shop");
}

/* POSTs customer `id` as Shopify would (signed); returns the status and
 * whether a Retry-After came with it. */
static long post_customer(int id, int *retry_after) {
    char body[512];
    snprintf(body, sizeof(body),
             "{\"id\": %d, \"email\": \"c%d@example.com\", \"first_name\": "
             "\"C\", \"last_name\": \"N%d\", \"updated_at\": "
             "\"2026-03-01T10:00:00Z\"}",
             id, id, id);
    return shopify_post(w.url, "hush", "customers/create", body, retry_after);
}

/* Marks the entity id of a customer event in seen[] (opaque). */
static void mark_seen(const char *key, size_t keylen, const char *json,
                      void *seen) {
    (void)key, (void)keylen;
    const char *e = json ? strstr(json, "\"entity_id\":\"") : NULL;
    int id = e ? (int)strtol(e + 13, NULL, 10) : -1;
    if (id >= 0 && id < N)
        ((char *)seen)[id] = 1;
}

TEST(every_2xx_is_on_kafka_and_refusals_are_503) {
    setup();
    long status[N] = {0};
    int retry[N] = {0};
    rd_kafka_mock_cluster_t *mock = hub_broker_mock(w.broker);

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
    /* The producer still holds the refused requests' events and retries
     * them now: they must be delivered before the next error is pushed,
     * or one of their Produce requests takes it instead of request 30's
     * (seen under ASan). */
    CHECK_INT(hub_producer_flush(w.producer, 60000), 0);

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
    CHECK_INT(hub_producer_flush(w.producer, 60000), 0);
    char seen[N] = {0};
    CHECK_INT(webhook_env_read(&w, "erp.events", mark_seen, seen), 0);
    for (int i = 0; i < N; i++)
        if (status[i] == 200 && !seen[i])
            FAIL_AT("request %d was answered 200 but its event is not on "
                    "Kafka",
                    i);
    webhook_env_stop(&w);
}

/* Requests of one source on several threads at once: a source maps on
 * every core (webhook.c gives it another mapping while all of its own
 * are busy), and no request may get another's events. */
enum { THREADS = 4, EACH = 40 };

typedef struct poster {
    int t;
    int failed; /* requests not answered 200 */
} poster;

static void *post_many(void *arg) {
    poster *p = arg;
    for (int k = 0; k < EACH; k++) {
        int retry;
        p->failed += post_customer(p->t + k * THREADS, &retry) != 200;
    }
    return NULL;
}

/* seen[id]: 1 when the event of entity id carries that customer's e-mail,
 * 2 when it carries another's. */
static void mark_whole(const char *key, size_t keylen, const char *json,
                       void *seen) {
    (void)key, (void)keylen;
    const char *e = json ? strstr(json, "\"entity_id\":\"") : NULL;
    int id = e ? (int)strtol(e + 13, NULL, 10) : -1;
    if (id < 0 || id >= THREADS * EACH)
        return;
    char email[64];
    snprintf(email, sizeof(email), "\"c%d@example.com\"", id);
    ((char *)seen)[id] = strstr(json, email) ? 1 : 2;
}

TEST(requests_of_one_source_map_at_once_and_each_lands_whole) {
    setup();
    pthread_t th[THREADS];
    poster ps[THREADS];
    for (int t = 0; t < THREADS; t++) {
        ps[t] = (poster){t, 0};
        CHECK_INT(pthread_create(&th[t], NULL, post_many, &ps[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK_INT(ps[t].failed, 0);
    }
    CHECK_INT(hub_producer_flush(w.producer, 60000), 0);
    char seen[THREADS * EACH] = {0};
    CHECK_INT(webhook_env_read(&w, "erp.events", mark_whole, seen), 0);
    for (int i = 0; i < THREADS * EACH; i++)
        if (seen[i] != 1)
            FAIL_AT("customer %d: %s", i,
                    seen[i] ? "its event carries another's e-mail"
                            : "its event is not on Kafka");
    webhook_env_stop(&w);
}
