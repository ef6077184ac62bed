/*
 * Test fixture: webhook adapters on an embedded broker, and Shopify-signed
 * requests (see webhook_fixture.h).
 */
#include "webhook_fixture.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "timefmt.h"

void webhook_env_start(webhook_env_t *w, const char *yaml, int brokers,
                       const char *source) {
    char err[1024];
    hub_http_config_t hc = {.listen = "127.0.0.1:0",
                            .body_limit = 1 << 20,
                            .max_connections = 16};
    size_t any = 0;
    *w = (webhook_env_t){0};
    if (hub_config_parse("test.yaml", yaml, strlen(yaml), &w->cfg, err,
                         sizeof(err)) ||
        hub_broker_start(w->cfg, brokers, 3, NULL, &w->broker, err,
                         sizeof(err)) ||
        hub_config_set_str(&w->cfg->kafka.brokers,
                           hub_broker_bootstrap(w->broker)) ||
        hub_catalog_open(NULL, &w->cat, err, sizeof(err)) ||
        hub_producer_new(w->cfg, hub_broker_bootstrap(w->broker),
                         &w->producer, err, sizeof(err)) ||
        hub_http_new(&hc, &w->http, err, sizeof(err))) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
    w->env = (hub_adapter_env_t){.cfg = w->cfg,
                                 .cat = w->cat,
                                 .producer = w->producer,
                                 .bootstrap = hub_broker_bootstrap(w->broker),
                                 .http = w->http};
    if (hub_adapters_new(&w->env, &w->adapters, &any, err, sizeof(err)) ||
        hub_http_start(w->http, err, sizeof(err))) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
    snprintf(w->url, sizeof(w->url), "http://127.0.0.1:%d/ingest/%s",
             hub_http_port(w->http), source);
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void webhook_env_stop(webhook_env_t *w) {
    hub_http_stop(w->http);
    hub_adapters_free(w->adapters);
    hub_producer_free(w->producer);
    hub_catalog_free(w->cat);
    hub_broker_stop(w->broker);
    hub_config_free(w->cfg);
    curl_global_cleanup();
    *w = (webhook_env_t){0};
}

int webhook_env_read(webhook_env_t *w, const char *name,
                     void (*fn)(const char *key, size_t keylen,
                                const char *json, void *opaque),
                     void *opaque) {
    char err[1024], topic[300];
    rd_kafka_t *rk = NULL;
    hub_codec_t *codec = NULL;
    size_t nparts = 0, eofs = 0;
    hub_config_topic(w->cfg, name, topic, sizeof(topic));
    const char *topics[] = {topic};
    if (hub_consumer_new(w->cfg, hub_broker_bootstrap(w->broker), NULL, 1,
                         &rk, err, sizeof(err)) ||
        hub_consumer_assign_all(rk, topics, 1, RD_KAFKA_OFFSET_BEGINNING, -1,
                                &nparts, err, sizeof(err)) ||
        hub_codec_new(w->cat, w->cfg->kafka.topic_prefix, &codec, err,
                      sizeof(err))) {
        fprintf(stderr, "reading %s: %s\n", topic, err);
        if (rk)
            rd_kafka_destroy(rk);
        return -1;
    }
    hub_buf_t out = HUB_BUF_INIT;
    /* 60 s in all, however many records: counting polls instead cut a
     * changelog of 600 records short */
    int64_t deadline = hub_time_mono_ms() + 60000;
    while (eofs < nparts && hub_time_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (!m->err) {
            hub_buf_reset(&out);
            const char *json = NULL;
            if (m->payload)
                json = hub_codec_render(codec, m->payload, m->len, &out, err,
                                        sizeof(err)) == 0 && out.data
                           ? out.data
                           : "";
            fn(m->key, m->key_len, json, opaque);
        }
        rd_kafka_message_destroy(m);
    }
    hub_buf_free(&out);
    hub_codec_free(codec);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return (int)(nparts - eofs);
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

long shopify_post(const char *url, const char *secret, const char *topic,
                  const char *body, int *retry_after) {
    char sig[128], hdr[200], th[200];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret),
         (const unsigned char *)body, strlen(body), mac, &maclen);
    EVP_EncodeBlock((unsigned char *)sig, mac, (int)maclen);
    snprintf(hdr, sizeof(hdr), "X-Shopify-Hmac-Sha256: %s", sig);
    snprintf(th, sizeof(th), "X-Shopify-Topic: %s", topic);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, th);
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
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return status;
}
