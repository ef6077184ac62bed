/*
 * libFuzzer target: HTTP requests through the server's routing and every
 * handler behind it, as hub360 serve and hub360 adapters answer them: the
 * read API over a small store (views, lookups, pages, timelines, the
 * change feed, schema ids, bearer tokens), its control POSTs, and webhook
 * sources of several signature schemes (JSON and XML bodies, handshakes)
 * as far as Kafka (the embedded broker, in process).
 *
 * An input is a request as a client writes it, without the version:
 * "METHOD TARGET\n", then "Name: value\n" header lines, an empty line,
 * the body. hub_http_answer decodes the target as libmicrohttpd does
 * (unit.http checks that it does). Every answer must be a status from
 * 200 to 599 with a JSON body (a handshake's text/plain aside).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "api.h"
#include "broker.h"
#include "bus.h"
#include "c360_harness.h"
#include "catalog.h"
#include "http.h"
#include "log.h"

#define MAX_HEADERS 16

static const char yaml[] =
    "kafka:\n"
    "  brokers: embedded\n"
    "  partitions: 1\n"
    "  properties: {linger.ms: \"0\"}\n"
    "api:\n"
    "  tokens:\n"
    "    - {token: read-token, scope: read}\n"
    "    - {token: admin-token, scope: admin}\n"
    "sources:\n"
    "  - {name: shop, system: erp, preset: shopify,\n"
    "     webhook: {signature: none, ack_timeout: 2s}}\n"
    "  - {name: shop-signed, system: erp, preset: shopify,\n"
    "     webhook: {secret: hush, ack_timeout: 2s}}\n"
    "  - {name: crm, system: crm, preset: hubspot,\n"
    "     webhook: {secret: hush, public_url: \"https://hooks.example.com\",\n"
    "               ack_timeout: 2s}}\n"
    "  - {name: social, system: scrm, preset: meta,\n"
    "     webhook: {secret: hush, verify_token: tok, ack_timeout: 2s}}\n"
    "  - {name: wechat, system: scrm, preset: wechat,\n"
    "     webhook: {secret: hush, ack_timeout: 2s}}\n"
    "  - {name: wechat-open, system: scrm, preset: wechat,\n"
    "     webhook: {signature: none, ack_timeout: 2s}}\n"
    "  - {name: desk, system: crm, preset: zendesk,\n"
    "     webhook: {secret: hush, ack_timeout: 2s}}\n"
    "  - {name: hook, system: crm, preset: hubspot,\n"
    "     webhook: {signature: hmac, secret: hush, header: X-Sig,\n"
    "               encoding: base64, prefix: \"sha256=\", ack_timeout: 2s}}\n";

static hub_http_t *http;
static char store[4200];

/* The store goes with the process (the API's reader may still map it:
 * the files stay readable until unmapped). */
static void remove_store(void) {
    char cmd[8600];
    if (store[0] &&
        snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'.[0-9]*", store, store) <
            (int)sizeof cmd &&
        system(cmd) != 0)
        fprintf(stderr, "fuzz_http: could not remove %s\n", store);
}

static void setup(void) {
    char err[1024];
    hub_log_setup(HUB_LOG_ERROR, 0);
    hub_config_t *cfg = config_from(yaml);
    if (!cfg)
        abort();
    /* a store of a few hundred customers, their links and forgets */
    snprintf(store, sizeof store, "%s", fresh_store("fuzz-http"));
    atexit(remove_store);
    events_t ev = {0};
    if (events_generate(300, 7, 5, 5, &ev) ||
        apply_events(cfg, store, &ev, NULL, 100, NULL, NULL))
        abort();
    events_free(&ev);
    static hub_catalog_t *cat;
    static hub_broker_t *broker;
    static hub_producer_t *producer;
    static hub_api_t *api;
    static void *hooks;
    static hub_api_env_t api_env;
    static hub_adapter_env_t env;
    static const hub_source_config_t *sources[16];
    size_t n = 0;
    for (size_t i = 0; i < cfg->sources.n && n < 16; i++)
        sources[n++] = (const hub_source_config_t *)cfg->sources.items + i;
    hub_http_config_t hc = {.listen = "127.0.0.1:0", .body_limit = 1 << 20,
                            .max_connections = 4};
    if (hub_catalog_open(NULL, &cat, err, sizeof err) ||
        hub_broker_start(cfg, 1, 1, NULL, &broker, err, sizeof err) ||
        hub_producer_new(cfg, hub_broker_bootstrap(broker), &producer, err,
                         sizeof err) ||
        hub_http_new(&hc, &http, err, sizeof err))
        goto fail;
    api_env = (hub_api_env_t){cfg, cat, producer, store};
    env = (hub_adapter_env_t){cfg, cat, producer,
                              hub_broker_bootstrap(broker), http};
    if (hub_api_new(&api_env, http, &api, err, sizeof err) ||
        hub_adapter_webhook.init(&env, sources, n, &hooks, err, sizeof err))
        goto fail;
    return;
fail:
    fprintf(stderr, "fuzz_http: %s\n", err);
    abort();
}

/* The next line of [*p, end) without its "\n" (and "\r"). */
static size_t next_line(const char **p, const char *end, const char **line) {
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *stop = nl ? nl : end;
    *line = *p;
    *p = nl ? nl + 1 : end;
    size_t n = (size_t)(stop - *line);
    return n && (*line)[n - 1] == '\r' ? n - 1 : n;
}

/* Before the first input: the setup is not any input's time. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data, *end = p + size, *line;
    /* the strings are NUL-terminated copies, as libmicrohttpd's are */
    size_t room = size + 2 * MAX_HEADERS + 2;
    char *copy = malloc(room);
    if (!copy)
        return 0;
    size_t n = next_line(&p, end, &line);
    memcpy(copy, line, n);
    copy[n] = '\0';
    char *target = strchr(copy, ' ');
    if (!target || !*copy || strlen(copy) != n) {
        free(copy);
        return 0;
    }
    *target++ = '\0';
    const char *headers[MAX_HEADERS][2];
    size_t nh = 0;
    char *w = copy + n + 1;
    while (p < end && nh < MAX_HEADERS) {
        n = next_line(&p, end, &line);
        if (n == 0)
            break;
        const char *colon = memchr(line, ':', n);
        if (!colon || memchr(line, '\0', n))
            continue;
        size_t klen = (size_t)(colon - line), vstart = klen + 1;
        while (vstart < n && line[vstart] == ' ')
            vstart++;
        headers[nh][0] = memcpy(w, line, klen);
        w[klen] = '\0';
        w += klen + 1;
        headers[nh][1] = memcpy(w, line + vstart, n - vstart);
        w[n - vstart] = '\0';
        w += n - vstart + 1;
        nh++;
        if ((size_t)(w - copy) > room)
            abort(); /* each copy is its line less the colon, plus NULs */
    }
    hub_http_msg_t m = {.method = copy, .target = target,
                        .headers = (const char *const(*)[2])headers,
                        .nheaders = nh, .body = p, .len = (size_t)(end - p)};
    hub_http_resp_t resp = {0};
    if (hub_http_answer(http, &m, &resp) == 0) {
        if (resp.status < 200 || resp.status > 599)
            abort();
        if (!resp.content_type) { /* JSON, say the headers */
            json_error_t je;
            json_t *j = json_loadb(resp.body.data ? resp.body.data : "",
                                   resp.body.len, 0, &je);
            if (!j) {
                fprintf(stderr, "%d: not JSON: %.*s\n", resp.status,
                        (int)resp.body.len, resp.body.data);
                abort();
            }
            json_decref(j);
        }
    }
    hub_buf_free(&resp.body);
    free(copy);
    return 0;
}
