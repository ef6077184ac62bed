/*
 * hub360 - the webhook adapter: POST /ingest/{source}.
 *
 * A request is answered 2xx only once Kafka acknowledged every event it
 * became; anything else gets an answer that makes the vendor retry (503,
 * with Retry-After) or tells the sender what to fix (400, 401, 404, 413,
 * 415). Retries are safe: the events' ids derive from the vendor's own
 * ids, so a request delivered twice is counted once downstream.
 *
 * Order of checks: the source exists (404), the body fits (413, by the
 * server), the content type is JSON or XML (415), the signature verifies
 * on the raw bytes (401), the body parses (400), Kafka acknowledges (503
 * otherwise). The events the mapping makes and the schemas accept are
 * produced; when the mapping fails on the body, or the schemas refuse
 * an event of it, the body as it came goes to the dead-letter topic too,
 * and the answer (200) names the first error: a retry could not fix it,
 * and the good events of a vendor's batch must not wait for a bad one.
 *
 * A codec and a mapping are not thread-safe, so each is used under a
 * lock. A source starts with one pair; when a request finds every pair
 * of its source busy, the source gets another (its mapping compiled
 * again), up to one per core: the server's threads then map requests of
 * one source on every core at once, and a source that gets one webhook
 * a minute never compiles a second.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapter.h"
#include "errors.h"
#include "log.h"
#include "metrics.h"
#include "par.h"
#include "source.h"
#include "timefmt.h"
#include "xmljson.h"

#define PREFIX "/ingest/"

/* A source's mapping and codec, and the lock they are used under. */
typedef struct mapper {
    hub_source_t *src;
    pthread_mutex_t lock;
} mapper_t;

typedef struct hook {
    const hub_source_config_t *cfg;
    mapper_t map[HUB_PAR_MAX]; /* the first nmap are ready */
    _Atomic size_t nmap;
    _Atomic size_t maxmap;     /* one per core */
    atomic_uint next;          /* where a request starts looking */
    pthread_mutex_t grow;      /* one new mapper at a time */
    hub_sig_config_t sig;
    hub_metric_t *events;   /* acknowledged events of this source */
    hub_metric_t *dead_letters; /* bodies sent to the dead-letter topic */
    _Atomic(hub_metric_t *) answered[600]; /* requests by status */
} hook_t;

typedef struct webhook {
    const hub_adapter_env_t *env;
    hook_t *hooks;
    size_t n;
    /* Ack groups of requests answered 503 while some of their events
     * were still in flight: freed once nothing is pending. */
    pthread_mutex_t orphans_lock;
    hub_acks_t **orphans;
    size_t norphans, orphans_cap;
} webhook_t;

/* Keeps a (or frees it when nothing is pending) and frees the orphans
 * whose messages all came back. */
static void release_acks(webhook_t *w, hub_acks_t *a) {
    pthread_mutex_lock(&w->orphans_lock);
    size_t k = 0;
    for (size_t i = 0; i < w->norphans; i++) {
        if (hub_acks_pending(w->orphans[i]) == 0)
            hub_acks_free(w->orphans[i]);
        else
            w->orphans[k++] = w->orphans[i];
    }
    w->norphans = k;
    if (a && hub_acks_pending(a) != 0 &&
        hub_array_grow(&w->orphans, &w->orphans_cap, w->norphans,
                       sizeof(*w->orphans), 8) == 0) {
        w->orphans[w->norphans++] = a;
        a = NULL;
    }
    pthread_mutex_unlock(&w->orphans_lock);
    hub_acks_free(a); /* untracked (out of memory): its reports free it */
}

static int serves(const hub_source_config_t *s) {
    return s->webhook.secret[0] != '\0' ||
           strcmp(s->webhook.signature, "none") == 0;
}

static void destroy(void *ctx) {
    webhook_t *w = ctx;
    if (!w)
        return;
    /* Requests answered 503 may still have events in flight: give them
     * a moment, then purge what is left (those vendors retry anyway), so
     * every delivery report has come back before the groups are freed. */
    int purged = 0;
    for (size_t i = 0; i < w->norphans; i++) {
        if (hub_acks_wait(w->orphans[i], purged ? 10000 : 2000, NULL, 0) ==
                HUB_ETIMEDOUT &&
            !purged) {
            hub_producer_purge(w->env->producer);
            purged = 1;
            hub_acks_wait(w->orphans[i], 10000, NULL, 0);
        }
        if (hub_acks_pending(w->orphans[i]) == 0)
            hub_acks_free(w->orphans[i]);
        else
            hub_log_warn("webhook", "events of a refused request still in "
                                    "flight at shutdown");
    }
    free(w->orphans);
    pthread_mutex_destroy(&w->orphans_lock);
    for (size_t i = 0; i < w->n; i++) {
        hook_t *h = &w->hooks[i];
        for (size_t k = 0; k < HUB_PAR_MAX; k++) {
            hub_source_free(h->map[k].src);
            pthread_mutex_destroy(&h->map[k].lock);
        }
        pthread_mutex_destroy(&h->grow);
    }
    free(w->hooks);
    free(w);
}

static void handle(void *opaque, const hub_http_req_t *req,
                   hub_http_resp_t *resp);

static int init(const hub_adapter_env_t *env,
                const hub_source_config_t *const *sources, size_t n,
                void **ctx, char *err, size_t errlen) {
    webhook_t *w = calloc(1, sizeof(*w));
    if (!w || !(w->hooks = calloc(n, sizeof(*w->hooks)))) {
        free(w);
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    }
    w->env = env;
    pthread_mutex_init(&w->orphans_lock, NULL);
    *ctx = w;
    for (size_t i = 0; i < n; i++) {
        hook_t *h = &w->hooks[i];
        for (size_t k = 0; k < HUB_PAR_MAX; k++)
            pthread_mutex_init(&h->map[k].lock, NULL);
        pthread_mutex_init(&h->grow, NULL);
        w->n++;
        h->cfg = sources[i];
        atomic_store(&h->maxmap, hub_par_threads());
        char why[512];
        int rc = hub_source_open(h->cfg, env->cat,
                                 env->cfg->kafka.topic_prefix, &h->map[0].src,
                                 why, sizeof(why));
        if (rc == 0)
            atomic_store(&h->nmap, 1);
        if (rc == 0 && hub_source_signature(h->map[0].src, &h->sig) != 0)
            rc = hub_fail(why, sizeof(why), HUB_ECONFIG,
                          "webhook.signature '%s' is not a scheme",
                          h->cfg->webhook.signature);
        if (rc)
            return hub_fail(err, errlen, rc, "source %s: %s", h->cfg->name,
                            why);
        h->events = hub_adapter_metric("events", h->cfg->name, "webhook");
        h->dead_letters =
            hub_adapter_metric("dead_letters", h->cfg->name, "webhook");
        if (h->sig.scheme == HUB_SIG_NONE)
            hub_log_warn("webhook", "source %s takes webhooks without a "
                                    "signature check (signature: none)",
                         h->cfg->name);
    }
    if (hub_http_route(env->http, NULL, PREFIX, handle, w))
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    return 0;
}

/* ------------------------------------------------------------------ */
/* One request                                                         */
/* ------------------------------------------------------------------ */

/* A mapper of h, locked: a free one, else a new one while h has fewer
 * than one per core, else one of the busy ones, waited for. */
static mapper_t *take_mapper(webhook_t *w, hook_t *h) {
    size_t n = atomic_load(&h->nmap);
    unsigned start = atomic_fetch_add(&h->next, 1);
    for (size_t i = 0; i < n; i++) {
        mapper_t *m = &h->map[(start + i) % n];
        if (pthread_mutex_trylock(&m->lock) == 0)
            return m;
    }
    if (n < atomic_load(&h->maxmap) && pthread_mutex_trylock(&h->grow) == 0) {
        size_t k = atomic_load(&h->nmap);
        if (k < atomic_load(&h->maxmap)) {
            mapper_t *m = &h->map[k];
            char why[512];
            if (hub_source_open(h->cfg, w->env->cat,
                                w->env->cfg->kafka.topic_prefix, &m->src,
                                why, sizeof(why)) == 0) {
                pthread_mutex_lock(&m->lock);
                atomic_store(&h->nmap, k + 1);
                pthread_mutex_unlock(&h->grow);
                return m;
            }
            /* it compiled once already: out of memory, most likely */
            hub_log_warn("webhook", "source %s: no mapping more (%s); "
                                    "requests wait for the %zu there are",
                         h->cfg->name, why, k);
            atomic_store(&h->maxmap, k);
        }
        pthread_mutex_unlock(&h->grow);
    }
    mapper_t *m = &h->map[start % n];
    pthread_mutex_lock(&m->lock);
    return m;
}

static const char *sig_header(void *ctx, const char *name) {
    return hub_http_header(ctx, name);
}

static const char *sig_query(void *ctx, const char *name) {
    return hub_http_query(ctx, name);
}

static void put_lower(void *ctx, const char *name, const char *value) {
    char key[256];
    size_t i = 0;
    for (; name[i] && i < sizeof(key) - 1; i++)
        key[i] = (char)tolower((unsigned char)name[i]);
    key[i] = '\0';
    json_object_set_new(ctx, key, json_string(value));
}

static void put_as_is(void *ctx, const char *name, const char *value) {
    json_object_set_new(ctx, name, json_string(value));
}

/* The media type without parameters, compared case-insensitively. */
static int media_is(const char *ct, const char *type) {
    size_t n = strlen(type);
    return strncasecmp(ct, type, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static int is_json_type(const char *ct) {
    const char *semi = strchr(ct, ';');
    size_t len = semi ? (size_t)(semi - ct) : strlen(ct);
    return media_is(ct, "application/json") || media_is(ct, "text/json") ||
           (len > 5 && strncasecmp(ct + len - 5, "+json", 5) == 0);
}

static int is_xml_type(const char *ct) {
    return media_is(ct, "text/xml") || media_is(ct, "application/xml");
}

/* WeChat waits 5 s for an answer, then retries: an answer after that
 * is wasted, so its sources wait for Kafka 4 s at most. */
static int64_t ack_timeout(const hook_t *h) {
    int64_t t = h->cfg->webhook.ack_timeout_ms;
    return h->sig.scheme == HUB_SIG_WECHAT && t > 4000 ? 4000 : t;
}

/* The 200 of a request whose events are on Kafka. WeChat wants "success"
 * (anything else, JSON included, shows its user "this account cannot
 * serve you now"); the others get what happened, dead letters named. */
static void answer(const hook_t *h, hub_http_resp_t *resp, size_t accepted,
                   size_t refused, const char *why) {
    resp->status = 200;
    if (h->sig.scheme == HUB_SIG_WECHAT) {
        resp->content_type = "text/plain";
        hub_buf_puts(&resp->body, "success");
        return;
    }
    hub_buf_printf(&resp->body, "{\"accepted\":%zu", accepted);
    if (refused) {
        json_t *j = json_string(why); /* NULL if not UTF-8: then "" */
        char *msg = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
        json_decref(j);
        hub_buf_printf(&resp->body, ",\"dead_lettered\":%zu,\"error\":{"
                       "\"code\":\"mapping_failed\",\"message\":%s}",
                       refused, msg ? msg : "\"\"");
        free(msg);
    }
    hub_buf_putc(&resp->body, '}');
}

static void handle_request(webhook_t *w, hook_t *h, const hub_http_req_t *req,
                           hub_http_resp_t *resp, const char *url) {
    char err[1024];
    hub_sig_request_t sr = {
        .method = hub_http_method(req),
        .uri = url,
        .header = sig_header,
        .query = sig_query,
        .ctx = (void *)req,
        .now_ms = hub_time_now_ms(),
    };
    sr.body = hub_http_body(req, &sr.len);

    if (strcmp(sr.method, "GET") == 0) {
        const char *reply = NULL;
        int rc = hub_sig_handshake(&h->sig, &sr, &reply, err, sizeof(err));
        if (rc == 0) {
            resp->status = 200;
            resp->content_type = "text/plain";
            hub_buf_puts(&resp->body, reply);
        } else if (rc == HUB_EAUTH) {
            hub_http_error(resp, 401, "bad_signature", "%s", err);
        } else {
            hub_http_error(resp, 405, "method_not_allowed",
                           "GET %s is only for the vendor's subscription "
                           "handshake; events are POSTed",
                           hub_http_path(req));
        }
        return;
    }
    if (strcmp(sr.method, "POST") != 0) {
        hub_http_error(resp, 405, "method_not_allowed",
                       "%s is not allowed on %s; events are POSTed",
                       sr.method, hub_http_path(req));
        return;
    }
    const char *ct = hub_http_header(req, "Content-Type");
    int xml = ct && is_xml_type(ct);
    if (!ct || (!xml && !is_json_type(ct))) {
        hub_http_error(resp, 415, "unsupported_media_type",
                       "content type %s%s%s: send application/json (or "
                       "text/xml for XML pushes)",
                       ct ? "'" : "", ct ? ct : "missing", ct ? "'" : "");
        return;
    }
    if (hub_sig_verify(&h->sig, &sr, err, sizeof(err))) {
        hub_http_error(resp, 401, "bad_signature", "%s", err);
        return;
    }

    json_t *record = NULL;
    int rc = xml ? hub_xml_to_json(sr.body, sr.len, &record, err, sizeof(err))
                 : hub_codec_parse_text(sr.body, sr.len, &record, err,
                                        sizeof(err));
    if (rc) {
        hub_http_error(resp, 400, "malformed_body", "%s body: %s",
                       xml ? "XML" : "JSON", err);
        return;
    }
    char when[HUB_TIME_MAXLEN];
    hub_time_format(sr.now_ms, when);
    json_t *headers = json_object(), *query = json_object();
    hub_http_each(req, 0, put_lower, headers);
    hub_http_each(req, 1, put_as_is, query);
    json_t *meta = json_pack("{sssosososs}", "via", "webhook", "headers",
                             headers, "query", query, "resource", json_null(),
                             "received_at", when);

    hub_mapped_t mapped = {0};
    mapper_t *m = take_mapper(w, h);
    size_t refused = 0;
    char why[1024];
    rc = meta ? hub_source_map_each(m->src, record, meta, &mapped, &refused,
                                    why, sizeof(why), err, sizeof(err))
              : hub_fail(err, sizeof(err), HUB_ENOMEM, "out of memory");
    pthread_mutex_unlock(&m->lock);
    json_decref(record);
    if (rc && rc != HUB_ENOMEM) {
        /* the mapping stopped on this body: all of it is a dead letter */
        refused = 1;
        snprintf(why, sizeof(why), "%s", err);
        rc = 0;
    }
    if (rc) {
        json_decref(meta);
        hub_http_error(resp, 500, "internal", "%s", err);
        hub_mapped_free(&mapped);
        return;
    }

    hub_acks_t *acks = hub_acks_new();
    int64_t timeout = ack_timeout(h);
    rc = acks ? hub_mapped_send(&mapped, w->env->cfg, w->env->producer, acks,
                                timeout / 4, err, sizeof(err))
              : hub_fail(err, sizeof(err), HUB_ENOMEM, "out of memory");
    /* What did not map goes to the dead-letter topic, the body as it came:
     * a vendor's retry could not fix it, and the good events of its batch
     * must not wait for it (HubSpot does not retry a 400; Shopify drops a
     * subscription that keeps failing). */
    if (rc == 0 && refused)
        rc = hub_adapter_dead_letter(w->env, h->cfg->name, "webhook",
                                     sr.body, sr.len, meta, why, acks,
                                     timeout / 4, err, sizeof(err));
    json_decref(meta);
    /* Wait for what was queued even after a failure: the answer says
     * whether all of it is safe. */
    int wrc = acks ? hub_acks_wait(acks, timeout, rc ? NULL : err,
                                   rc ? 0 : sizeof(err))
                   : 0;
    if (rc == 0)
        rc = wrc;
    if (rc == 0) {
        answer(h, resp, mapped.n, refused, why);
        hub_metric_add(h->events, mapped.n);
        if (refused) {
            hub_metric_add(h->dead_letters, 1);
            hub_log_warn("webhook", "source %s: %zu event%s produced; the "
                         "body went to the dead-letter topic: %s",
                         h->cfg->name, mapped.n, mapped.n == 1 ? "" : "s",
                         why);
        }
    } else {
        hub_log_warn("webhook", "source %s: answered 503: %s", h->cfg->name,
                     err);
        hub_http_error_retry(resp, 503, "kafka_unavailable", 5,
                             "the events were not acknowledged by Kafka: "
                             "%s; retry later",
                             err);
    }
    if (acks)
        release_acks(w, acks);
    hub_mapped_free(&mapped);
}

/* One request for source h: its URL as the vendor called it (behind a
 * proxy that terminates TLS only the configured public URL knows the
 * scheme and host), then the checks and the events. */
static void handle_source(webhook_t *w, hook_t *h, const hub_http_req_t *req,
                          hub_http_resp_t *resp) {
    hub_buf_t url = HUB_BUF_INIT;
    const char *host = hub_http_header(req, "Host");
    if (h->cfg->webhook.public_url[0])
        hub_buf_printf(&url, "%s%s", h->cfg->webhook.public_url,
                       hub_http_uri(req));
    else
        hub_buf_printf(&url, "https://%s%s", host ? host : "",
                       hub_http_uri(req));
    handle_request(w, h, req, resp, url.data ? url.data : "");
    hub_buf_free(&url);
    /* the counter of each status is looked up once, then kept */
    int st = resp->status >= 100 && resp->status < 600 ? resp->status : 0;
    hub_metric_t *counter = atomic_load(&h->answered[st]);
    if (!counter) {
        char labels[300];
        snprintf(labels, sizeof(labels), "source=\"%s\",status=\"%d\"",
                 h->cfg->name, resp->status);
        counter = hub_metrics_counter("hub360_webhook_requests_total",
                                      "Webhook requests by source and the "
                                      "status they were answered.",
                                      labels);
        if (st)
            atomic_store(&h->answered[st], counter);
    }
    hub_metric_add(counter, 1);
}

static void handle(void *opaque, const hub_http_req_t *req,
                   hub_http_resp_t *resp) {
    webhook_t *w = opaque;
    const char *name = hub_http_path(req) + strlen(PREFIX);
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->hooks[i].cfg->name, name) == 0) {
            handle_source(w, &w->hooks[i], req, resp);
            return;
        }
    hub_http_error(resp, 404, "unknown_source",
                   "no source named '%s' takes webhooks here", name);
}

const hub_adapter_plugin_t hub_adapter_webhook = {
    .name = "webhook",
    .desc = "POST /ingest/{source}: vendor webhooks, signature-checked",
    .serves = serves,
    .init = init,
    .start = NULL,
    .stop = NULL,
    .destroy = destroy,
};
