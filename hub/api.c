/*
 * hub360 - the read API (routes in api.h).
 *
 * Reads go through libhub360 (include/hub360.h), the C reader library,
 * so the API and the library answer the same bytes. Its reader is shared
 * by the server's threads: lookups by customer id run in parallel (each
 * decodes and renders in a view of its own), the rest take the reader's
 * lock for their read. Every answer is a copy, sent after the read
 * transaction is gone.
 *
 * Control requests (link, forget) become control events, validated by
 * the codec like any other event and answered 202 once Kafka has them:
 * the projector applies them in order with everything else.
 */
#include "api.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <jansson.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "embedded.h"
#include "errors.h"
#include "hub360.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "report.h"
#include "session.h"
#include "store.h"
#include "timefmt.h"
#include "uuid.h"

#define MAX_PAGE 1000
#define DEFAULT_PAGE 100

struct hub_api {
    hub_api_env_t env;
    char *store;
    pthread_rwlock_t tokens_lock; /* tokens change on SIGHUP */
    hub_strlist_t tokens, scopes; /* token i has scope i */
    pthread_mutex_t lock;   /* opening the reader; the codec; the lag */
    hub360_reader_t *reader; /* opened on first use; then read atomically */
    int64_t checked_at;     /* when the store's link was last read */
    char target[4096];      /* the generation the reader reads */
    hub360_reader_t **retired; /* readers of earlier generations */
    size_t nretired, nretired_cap;
    int64_t lag, lag_at;    /* under lock: the last lag and when */
    char lag_why[128];
    hub_codec_t *codec;
};

/* ------------------------------------------------------------------ */
/* Auth                                                                */
/* ------------------------------------------------------------------ */

static int is_loopback(const char *listen) {
    const char *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : strlen(listen);
    char host[256];
    snprintf(host, sizeof(host), "%.*s", (int)n, listen);
    if (host[0] == '[') {
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    if (strcmp(host, "localhost") == 0)
        return 1;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

int hub_api_check_listen(const hub_config_t *cfg, const char *listen,
                         char *err, size_t errlen) {
    if (cfg->api.tokens.n == 0 && !is_loopback(listen))
        return hub_fail(err, errlen, HUB_ECONFIG,
                        "api.listen is %s but no api.tokens are configured: "
                        "without tokens the API answers this machine only; "
                        "listen on 127.0.0.1 or add tokens",
                        listen);
    return 0;
}

/* 1 when the request may go on with `scope` ("read" or "admin"); else
 * sets the 401/403 answer. No tokens configured: everything (loopback
 * only, see hub_api_check_listen). Under tokens_lock. */
static int check_token(hub_api_t *a, const hub_http_req_t *req,
                       const char *scope, hub_http_resp_t *resp) {
    if (a->tokens.n == 0)
        return 1;
    const char *h = hub_http_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        hub_http_error(resp, 401, "unauthorized",
                       "send Authorization: Bearer <token>");
        resp->headers[0][0] = "WWW-Authenticate";
        resp->headers[0][1] = "Bearer";
        return 0;
    }
    const char *given = h + 7;
    size_t glen = strlen(given);
    const char *match = NULL;
    for (size_t i = 0; i < a->tokens.n; i++) {
        size_t tlen = strlen(a->tokens.v[i]);
        /* every token compared, each in constant time */
        if (tlen == glen && tlen &&
            CRYPTO_memcmp(a->tokens.v[i], given, tlen) == 0)
            match = a->scopes.v[i];
    }
    if (!match) {
        hub_http_error(resp, 401, "unauthorized", "unknown token");
        return 0;
    }
    if (strcmp(scope, "admin") == 0 && strcmp(match, "admin") != 0) {
        hub_http_error(resp, 403, "forbidden",
                       "this token's scope is %s; this needs admin", match);
        return 0;
    }
    return 1;
}

static int authorized(hub_api_t *a, const hub_http_req_t *req,
                      const char *scope, hub_http_resp_t *resp) {
    pthread_rwlock_rdlock(&a->tokens_lock);
    int ok = check_token(a, req, scope, resp);
    pthread_rwlock_unlock(&a->tokens_lock);
    return ok;
}

int hub_api_set_tokens(hub_api_t *a, const hub_config_t *cfg) {
    hub_strlist_t tokens = {0}, scopes = {0};
    const hub_cfg_list_t *l = &cfg->api.tokens;
    for (size_t i = 0; i < l->n; i++) {
        const hub_api_token_t *t = (const hub_api_token_t *)l->items + i;
        if (hub_strlist_push(&tokens, t->token, strlen(t->token)) ||
            hub_strlist_push(&scopes, t->scope, strlen(t->scope))) {
            hub_strlist_free(&tokens);
            hub_strlist_free(&scopes);
            return HUB_ENOMEM;
        }
    }
    pthread_rwlock_wrlock(&a->tokens_lock);
    hub_strlist_t old_t = a->tokens, old_s = a->scopes;
    a->tokens = tokens;
    a->scopes = scopes;
    pthread_rwlock_unlock(&a->tokens_lock);
    hub_strlist_free(&old_t);
    hub_strlist_free(&old_s);
    return 0;
}

/* ------------------------------------------------------------------ */
/* The reader                                                          */
/* ------------------------------------------------------------------ */

/* The reader, opened on first use; NULL after setting the 503 answer.
 * `hub360 rebuild` swaps the store's link to a new generation: at most
 * once a second a request looks where the link points, and a new
 * generation gets a reader of its own. The old reader may still be in
 * use by requests in flight, so it is kept (closed with the API;
 * rebuilds are rare) rather than closed under them. */
#define RECHECK_MS 1000

static hub360_reader_t *reader(hub_api_t *a, hub_http_resp_t *resp) {
    hub360_reader_t *r = __atomic_load_n(&a->reader, __ATOMIC_ACQUIRE);
    int64_t now = hub_time_mono_ms();
    if (r && now - __atomic_load_n(&a->checked_at, __ATOMIC_RELAXED) <
                 RECHECK_MS)
        return r;
    char err[512] = "", target[4096] = "";
    pthread_mutex_lock(&a->lock);
    __atomic_store_n(&a->checked_at, now, __ATOMIC_RELAXED);
    hub_store_target(a->store, target, sizeof(target));
    r = a->reader;
    if (!r || strcmp(target, a->target) != 0) {
        hub360_reader_t *fresh = NULL;
        if (hub360_open(a->store, &fresh, err, sizeof(err)) == 0) {
            if (r && hub_array_grow(&a->retired, &a->nretired_cap,
                                    a->nretired, sizeof(*a->retired), 4) == 0)
                a->retired[a->nretired++] = r;
            else if (r)
                hub360_close(fresh), fresh = r; /* no room: keep the old */
            if (fresh != r) {
                if (r)
                    hub_log_info("api", "the store is now %s (rebuilt): "
                                        "reading it",
                                 target);
                snprintf(a->target, sizeof(a->target), "%s", target);
            }
            r = fresh;
            __atomic_store_n(&a->reader, r, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&a->lock);
    if (!r)
        hub_http_error_retry(resp, 503, "store_unavailable", 5,
                             "the customer-360 store is not readable yet "
                             "(%s); is the projector running?",
                             err);
    return r;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static void json_answer(hub_http_resp_t *resp, int status, json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    resp->status = s ? status : 500;
    hub_buf_reset(&resp->body);
    hub_buf_puts(&resp->body, s ? s : "{\"error\":{\"code\":\"internal\","
                                      "\"message\":\"out of memory\"}}");
    free(s);
    json_decref(j);
}

/* A positive integer query parameter up to max, dflt when absent; -1
 * after setting a 400 answer. */
static long query_long(const hub_http_req_t *req, const char *name,
                       long dflt, long max, hub_http_resp_t *resp) {
    const char *s = hub_http_query(req, name);
    if (!s)
        return dflt;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > max) { /* a page of none: a client bug */
        hub_http_error(resp, 400, "bad_parameter",
                       "%s: expected an integer from 1 to %ld, got \"%s\"",
                       name, max, s);
        return -1;
    }
    return v;
}

/* ------------------------------------------------------------------ */
/* GET /v1/customers...                                                */
/* ------------------------------------------------------------------ */

/* The view of ref (id, alias or kind:value) as the answer. */
static void answer_view(hub_api_t *a, const char *ref, hub_http_resp_t *resp) {
    hub360_reader_t *r = reader(a, resp);
    if (!r)
        return;
    hub360_view_t *v = NULL;
    const char *json;
    size_t len;
    int rc = hub360_get(r, ref, &v);
    if (rc == 0)
        rc = hub360_view_json(v, &json, &len);
    if (rc == HUB_ENOENT) {
        hub_http_error(resp, 404, "not_found", "no customer %s", ref);
    } else if (rc) {
        hub_http_error(resp, 500, "internal", "reading %s: %s", ref,
                       hub_strerror(rc));
    } else {
        resp->status = 200;
        hub_buf_reset(&resp->body);
        if (hub_buf_append(&resp->body, json, len))
            hub_http_error(resp, 500, "internal", "out of memory");
    }
    hub360_view_free(v);
}

typedef struct page {
    const char *segment;   /* NULL: every customer */
    const char *after;     /* cursor: the last id of the previous page */
    long limit;
    json_t *items;
    char last[64];
    int more;
} page_t;

static int page_one(const char *id, const char *json, size_t len,
                    void *opaque) {
    page_t *p = opaque;
    if (p->after && strcmp(id, p->after) <= 0)
        return 0;
    json_t *view = json_loadb(json, len, 0, NULL);
    if (!view)
        return 0;
    if (p->segment) {
        int in = 0;
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(view, "segments"), i, s)
            in |= json_is_string(s) && strcmp(json_string_value(s),
                                              p->segment) == 0;
        if (!in) {
            json_decref(view);
            return 0;
        }
    }
    if ((long)json_array_size(p->items) == p->limit) {
        p->more = 1; /* one beyond the page: there is a next one */
        json_decref(view);
        return 1;
    }
    json_array_append_new(p->items, view);
    snprintf(p->last, sizeof(p->last), "%s", id);
    return 0;
}

static void list_customers(hub_api_t *a, const hub_http_req_t *req,
                           hub_http_resp_t *resp) {
    page_t p = {.segment = hub_http_query(req, "segment"),
                .after = hub_http_query(req, "cursor")};
    if ((p.limit = query_long(req, "limit", DEFAULT_PAGE, MAX_PAGE, resp)) <
        0)
        return;
    if (!(p.items = json_array()))
        return hub_http_error(resp, 500, "internal", "out of memory");
    hub360_reader_t *r = reader(a, resp);
    if (!r) {
        json_decref(p.items);
        return;
    }
    int rc = hub360_each(r, page_one, &p);
    if (rc < 0) {
        json_decref(p.items);
        return hub_http_error(resp, 500, "internal", "listing: %s",
                              hub_strerror(rc));
    }
    json_t *out = json_pack("{so}", "customers", p.items);
    json_object_set_new(out, "next_cursor",
                        p.more ? json_string(p.last) : json_null());
    json_answer(resp, 200, out);
}

/* GET /v1/customers?email=|phone=|kind=&value=|segment=... */
static void get_customers(void *opaque, const hub_http_req_t *req,
                          hub_http_resp_t *resp) {
    hub_api_t *a = opaque;
    if (!authorized(a, req, "read", resp))
        return;
    const char *email = hub_http_query(req, "email");
    const char *phone = hub_http_query(req, "phone");
    const char *kind = hub_http_query(req, "kind");
    const char *value = hub_http_query(req, "value");
    if (!!email + !!phone + !!kind > 1 || !kind != !value)
        return hub_http_error(resp, 400, "bad_parameter",
                              "look up by one of email=, phone= or "
                              "kind= with value=");
    if (!email && !phone && !kind)
        return list_customers(a, req, resp);
    char ref[1024];
    snprintf(ref, sizeof(ref), "%s:%s",
             email ? "email" : phone ? "phone" : kind,
             email ? email : phone ? phone : value);
    answer_view(a, ref, resp);
}

static void timeline(hub_api_t *a, const char *id, const hub_http_req_t *req,
                     hub_http_resp_t *resp) {
    long limit = query_long(req, "limit", 50, MAX_PAGE, resp);
    if (limit < 0)
        return;
    const char *before = hub_http_query(req, "before");
    hub360_reader_t *r = reader(a, resp);
    if (!r)
        return;
    char *doc = NULL;
    size_t len = 0;
    int rc = hub360_timeline(r, id, before, (size_t)limit, &doc, &len);
    if (rc == HUB_ENOENT)
        hub_http_error(resp, 404, "not_found", "no customer %s", id);
    else if (rc == HUB_EINVAL)
        hub_http_error(resp, 400, "bad_parameter",
                       "before: not a cursor this API gave");
    else if (rc)
        hub_http_error(resp, 500, "internal", "timeline: %s",
                       hub_strerror(rc));
    if (rc == 0) {
        resp->status = 200;
        hub_buf_reset(&resp->body);
        if (hub_buf_append(&resp->body, doc, len))
            hub_http_error(resp, 500, "internal", "out of memory");
    }
    free(doc);
}

/* ------------------------------------------------------------------ */
/* GET /v1/products...                                                 */
/* ------------------------------------------------------------------ */

/* Answers a document the library rendered (taken), or its error. */
static void answer_doc(hub_http_resp_t *resp, int rc, char *doc, size_t len,
                       const char *what) {
    if (rc == 0) {
        resp->status = 200;
        hub_buf_reset(&resp->body);
        if (hub_buf_append(&resp->body, doc, len))
            hub_http_error(resp, 500, "internal", "out of memory");
    } else {
        hub_http_error(resp, 500, "internal", "%s: %s", what,
                       hub_strerror(rc));
    }
    free(doc);
}

/* GET /v1/products/{sku} */
static void product_route(void *opaque, const hub_http_req_t *req,
                          hub_http_resp_t *resp) {
    hub_api_t *a = opaque;
    if (!authorized(a, req, "read", resp))
        return;
    const char *sku = hub_http_path(req) + strlen("/v1/products/");
    hub360_reader_t *r = reader(a, resp);
    if (!r)
        return;
    char *doc = NULL;
    size_t len = 0;
    int rc = hub360_product(r, sku, &doc, &len);
    if (rc == HUB_ENOENT)
        return hub_http_error(resp, 404, "not_found", "no product %s", sku);
    answer_doc(resp, rc, doc, len, "reading the product");
}

/* GET /v1/products?available_below=N[&limit=&cursor=] */
static void get_products(void *opaque, const hub_http_req_t *req,
                         hub_http_resp_t *resp) {
    hub_api_t *a = opaque;
    if (!authorized(a, req, "read", resp))
        return;
    const char *below = hub_http_query(req, "available_below");
    char *end = NULL;
    long long n = below ? strtoll(below, &end, 10) : 0;
    if (!below || !*below || *end)
        return hub_http_error(resp, 400, "bad_parameter",
                              "available_below: expected an integer, got "
                              "%s%s%s",
                              below ? "\"" : "", below ? below : "nothing",
                              below ? "\"" : "");
    long limit = query_long(req, "limit", DEFAULT_PAGE, MAX_PAGE, resp);
    if (limit < 0)
        return;
    hub360_reader_t *r = reader(a, resp);
    if (!r)
        return;
    char *doc = NULL;
    size_t len = 0;
    int rc = hub360_products_low(r, (int64_t)n, hub_http_query(req, "cursor"),
                                 (size_t)limit, &doc, &len);
    if (rc == HUB_EINVAL)
        return hub_http_error(resp, 400, "bad_parameter",
                              "cursor: not a cursor this API gave");
    answer_doc(resp, rc, doc, len, "listing products");
}

/* ------------------------------------------------------------------ */
/* Control events                                                      */
/* ------------------------------------------------------------------ */

/* Makes a control event of `type` about entity_type/entity_id with
 * payload (taken), encodes and produces it; answers 202 with its id once
 * Kafka has it, 400 naming what the codec rejects. */
static void produce_control(hub_api_t *a, const char *type,
                            const char *entity_type, const char *entity_id,
                            json_t *payload, hub_http_resp_t *resp) {
    if (!json_object_get(payload, "requested_by"))
        json_object_set_new(payload, "requested_by", json_string("api"));
    json_t *ev = json_pack("{sss{ssssssss}so}", "type", type, "source",
                           "system", "hub360", "kind", "hub", "entity_type",
                           entity_type, "entity_id", entity_id, "payload",
                           payload);
    if (!ev)
        return hub_http_error(resp, 500, "internal", "out of memory");
    char err[1024], id[HUB_UUID_STRLEN + 1], now[HUB_TIME_MAXLEN];
    hub_uuid_t u;
    hub_uuid_v7(&u);
    hub_uuid_format(&u, id);
    hub_time_format(hub_time_now_ms(), now);
    json_object_set_new(ev, "event_id", json_string(id));
    json_object_set_new(ev, "occurred_at", json_string(now));
    json_object_set_new(ev, "ingested_at", json_string(now));
    json_object_set_new(ev, "identities", json_array());
    hub_encoded_t enc = {0};
    pthread_mutex_lock(&a->lock);
    int rc = hub_codec_encode(a->codec, ev, &enc, err, sizeof(err));
    pthread_mutex_unlock(&a->lock);
    json_decref(ev);
    if (rc) {
        hub_encoded_free(&enc);
        return hub_http_error(resp, 400, "invalid_request", "%s", err);
    }
    if (!a->env.producer) {
        hub_encoded_free(&enc);
        return hub_http_error_retry(resp, 503, "kafka_unavailable", 5,
                                    "this process has no Kafka producer");
    }
    char topic[256];
    hub_session_event_topic(a->env.cfg, enc.topic, topic, sizeof(topic));
    hub_acks_t *acks = hub_acks_new();
    rc = acks ? hub_producer_send(a->env.producer, topic, -1, enc.key.data,
                                  enc.key.len, enc.value.data, enc.value.len,
                                  NULL, 0, acks, 2000, err, sizeof(err))
              : HUB_ENOMEM;
    int wrc = acks ? hub_acks_wait(acks, rc ? -1 : 10000, rc ? NULL : err,
                                   rc ? 0 : sizeof(err))
                   : 0;
    if (rc == 0)
        rc = wrc;
    hub_acks_free(acks); /* what is in flight frees it when reported */
    hub_encoded_free(&enc);
    if (rc)
        return hub_http_error_retry(resp, 503, "kafka_unavailable", 5,
                                    "Kafka did not take the request: %s",
                                    rc == HUB_ENOMEM ? "out of memory" : err);
    json_answer(resp, 202, json_pack("{ss}", "event_id", id));
}

/* The request body as a JSON object; NULL after setting a 400. */
static json_t *body_object(const hub_http_req_t *req, hub_http_resp_t *resp) {
    size_t len;
    const char *body = hub_http_body(req, &len);
    json_error_t e;
    json_t *j = len ? json_loadb(body, len, 0, &e) : json_object();
    if (!json_is_object(j)) {
        json_decref(j);
        hub_http_error(resp, 400, "malformed_body",
                       "expected a JSON object%s%s", j ? "" : ": ",
                       j ? "" : e.text);
        return NULL;
    }
    return j;
}

static void post_link(void *opaque, const hub_http_req_t *req,
                      hub_http_resp_t *resp) {
    hub_api_t *a = opaque;
    if (!authorized(a, req, "admin", resp))
        return;
    json_t *body = body_object(req, resp);
    if (!body)
        return;
    /* keyed as schemas/README.md says: an identity, else a customer id */
    json_t *first = json_array_get(json_object_get(body, "identities"), 0);
    json_t *cid = json_array_get(json_object_get(body, "customer_ids"), 0);
    char entity[512] = "request"; /* neither: the codec says what is wrong */
    if (json_is_object(first))
        snprintf(entity, sizeof(entity), "%s:%s",
                 json_string_value(json_object_get(first, "kind")) ?: "?",
                 json_string_value(json_object_get(first, "value")) ?: "?");
    else if (json_is_string(cid))
        snprintf(entity, sizeof(entity), "%s", json_string_value(cid));
    if (!json_object_get(body, "customer_ids"))
        json_object_set_new(body, "customer_ids", json_array());
    if (!json_object_get(body, "identities"))
        json_object_set_new(body, "identities", json_array());
    produce_control(a, "identity.link", "identity", entity, body, resp);
}

static void post_forget(hub_api_t *a, const char *id,
                        const hub_http_req_t *req, hub_http_resp_t *resp) {
    if (!authorized(a, req, "admin", resp))
        return;
    json_t *body = body_object(req, resp);
    if (!body)
        return;
    json_object_set_new(body, "customer_id", json_string(id));
    produce_control(a, "customer.forget", "customer", id, body, resp);
}

/* /v1/customers/{id}[/timeline|/forget] */
static void customer_routes(void *opaque, const hub_http_req_t *req,
                            hub_http_resp_t *resp) {
    hub_api_t *a = opaque;
    const char *rest = hub_http_path(req) + strlen("/v1/customers/");
    const char *slash = strchr(rest, '/');
    char id[256];
    snprintf(id, sizeof(id), "%.*s",
             (int)(slash ? (size_t)(slash - rest) : strlen(rest)), rest);
    int get = strcmp(hub_http_method(req), "GET") == 0;
    if (!slash && get) {
        if (authorized(a, req, "read", resp))
            answer_view(a, id, resp);
    } else if (slash && strcmp(slash, "/timeline") == 0 && get) {
        if (authorized(a, req, "read", resp))
            timeline(a, id, req, resp);
    } else if (slash && strcmp(slash, "/forget") == 0 &&
               strcmp(hub_http_method(req), "POST") == 0) {
        post_forget(a, id, req, resp);
    } else {
        hub_http_error(resp, 404, "not_found", "no route for %s %s",
                       hub_http_method(req), hub_http_path(req));
    }
}

/* ------------------------------------------------------------------ */
/* Changes, schemas, health                                            */
/* ------------------------------------------------------------------ */

static int change_one(const hub360_change_t *ch, void *opaque) {
    json_array_append_new(opaque, json_pack("{sIsssb}", "seq",
                                            (json_int_t)ch->seq, "id", ch->id,
                                            "deleted", ch->deleted));
    return 0;
}

static void get_changes(void *opaque, const hub_http_req_t *req,
                        hub_http_resp_t *resp) {
    hub_api_t *a = opaque;
    if (!authorized(a, req, "read", resp))
        return;
    const char *since = hub_http_query(req, "since");
    char *end = NULL;
    unsigned long long after = since ? strtoull(since, &end, 10) : 0;
    if (since && (!*since || *end))
        return hub_http_error(resp, 400, "bad_parameter",
                              "since: expected a sequence number, got "
                              "\"%s\"",
                              since);
    long limit = query_long(req, "limit", DEFAULT_PAGE, MAX_PAGE, resp);
    if (limit < 0)
        return;
    json_t *items = json_array();
    hub360_reader_t *r = reader(a, resp);
    if (!r) {
        json_decref(items);
        return;
    }
    int rc = hub360_changes(r, after, (size_t)limit, change_one, items);
    if (rc) {
        json_decref(items);
        return hub_http_error(resp, 500, "internal", "changes: %s",
                              hub_strerror(rc));
    }
    json_t *last = json_array_get(items, json_array_size(items) - 1);
    json_int_t next = last ? json_integer_value(json_object_get(last, "seq"))
                           : (json_int_t)after;
    json_answer(resp, 200, json_pack("{sosI}", "changes", items, "next_since",
                                     next));
}

/* GET /v1/metrics/daily?from=&to=[&tz=utc|business][&format=json|csv]
 * (or Accept: text/csv) */
static void get_metrics_daily(void *opaque, const hub_http_req_t *req,
                              hub_http_resp_t *resp) {
    hub_api_t *a = opaque;
    if (!authorized(a, req, "read", resp))
        return;
    const char *tz = hub_http_query(req, "tz");
    const char *format = hub_http_query(req, "format");
    const char *accept = hub_http_header(req, "Accept");
    char err[256];
    int32_t from, to;
    if (hub_report_range(hub_http_query(req, "from"),
                         hub_http_query(req, "to"), "from", "to", &from, &to,
                         err, sizeof err))
        return hub_http_error(resp, 400, "bad_parameter", "%s", err);
    if (tz && strcmp(tz, "utc") != 0 && strcmp(tz, "business") != 0)
        return hub_http_error(resp, 400, "bad_parameter",
                              "tz: expected utc or business, got \"%.40s\"",
                              tz);
    if (format && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0)
        return hub_http_error(resp, 400, "bad_parameter",
                              "format: expected json or csv, got \"%.40s\"",
                              format);
    int csv = format ? strcmp(format, "csv") == 0
                     : accept && strstr(accept, "text/csv") != NULL;
    hub360_reader_t *r = reader(a, resp);
    if (!r)
        return;
    char *doc = NULL;
    size_t len = 0;
    int rc = hub360_report_daily(r, hub_http_query(req, "from"),
                                 hub_http_query(req, "to"),
                                 tz && strcmp(tz, "business") == 0, csv, &doc,
                                 &len);
    if (rc) {
        free(doc);
        return hub_http_error(resp, 500, "internal", "the daily report: %s",
                              hub_strerror(rc));
    }
    resp->status = 200;
    resp->content_type = csv ? "text/csv; charset=utf-8" : NULL;
    hub_buf_reset(&resp->body);
    if (hub_buf_append(&resp->body, doc, len))
        hub_http_error(resp, 500, "internal", "out of memory");
    free(doc);
}

static void get_schema(void *opaque, const hub_http_req_t *req,
                       hub_http_resp_t *resp) {
    hub_api_t *a = opaque;
    const char *s = hub_http_path(req) + strlen("/schemas/ids/");
    char *end = NULL;
    long id = strtol(s, &end, 10);
    const hub_schema_t *schema = NULL;
    char err[256];
    if (!*s || *end || id <= 0 || id > INT32_MAX ||
        hub_catalog_get(a->env.cat, (int32_t)id, &schema, err, sizeof(err)))
        /* the registry's own answer for an unknown id */
        return hub_http_error(resp, 404, "40403", "Schema %s not found", s);
    json_answer(resp, 200, json_pack("{ss}", "schema",
                                     hub_schema_text(schema)));
}

static void get_openapi(void *opaque, const hub_http_req_t *req,
                        hub_http_resp_t *resp) {
    (void)opaque, (void)req;
    resp->status = 200;
    hub_buf_append(&resp->body, hub_embedded_api[0].data,
                   hub_embedded_api[0].len);
}


/* The projector's lag: for every partition of the event topics, the
 * high watermark less the offset its store reached. Asked of Kafka at
 * most every few seconds (each partition is a round trip); the answer is
 * also the hub360_projector_lag gauge. */
#define LAG_EVERY_MS 5000

static void refresh_lag(hub_api_t *a, hub360_reader_t *r) {
    int64_t now = hub_time_mono_ms();
    if (a->lag_at && now - a->lag_at < LAG_EVERY_MS)
        return;
    a->lag_at = now;
    a->lag = -1;
    snprintf(a->lag_why, sizeof(a->lag_why), "Kafka is not reachable");
    if (!a->env.producer)
        return;
    /* held: a replacement of the producer (after a fatal error) waits */
    rd_kafka_t *rk = hub_producer_hold(a->env.producer);
    const rd_kafka_metadata_t *md = NULL;
    if (rd_kafka_metadata(rk, 1, NULL, &md, 2000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
        hub_producer_unhold(a->env.producer);
        return;
    }
    int64_t lag = 0;
    int ok = 1;
    for (int k = 0; ok && k < HUB_TOPIC_COUNT; k++) {
        char topic[256];
        hub_session_event_topic(a->env.cfg, (hub_topic_kind)k, topic,
                                sizeof(topic));
        for (int t = 0; ok && t < md->topic_cnt; t++) {
            if (strcmp(md->topics[t].topic, topic) != 0)
                continue;
            for (int p = 0; ok && p < md->topics[t].partition_cnt; p++) {
                int32_t part = md->topics[t].partitions[p].id;
                int64_t lo = 0, hi = 0;
                if (rd_kafka_query_watermark_offsets(rk, topic, part, &lo,
                                                     &hi, 2000)) {
                    ok = 0;
                    break;
                }
                int64_t at = hub360_offset(r, topic, part);
                int64_t behind = hi - (at < lo ? lo : at);
                lag += behind;
                char labels[400];
                snprintf(labels, sizeof(labels),
                         "topic=\"%s\",partition=\"%d\"", topic,
                         (int)part);
                hub_metric_set(
                    hub_metrics_gauge("hub360_projector_partition_lag",
                                      "Events of a partition the "
                                      "projector's store has not reached "
                                      "(as of the last /readyz).",
                                      labels),
                    (double)behind);
            }
        }
    }
    rd_kafka_metadata_destroy(md);
    hub_producer_unhold(a->env.producer);
    if (ok) {
        a->lag = lag;
        hub_metric_set(hub_metrics_gauge("hub360_projector_lag",
                                         "Events on the event topics the "
                                         "projector's store has not "
                                         "reached (as of the last /readyz).",
                                         NULL),
                       (double)lag);
    }
}

static void get_ready(void *opaque, const hub_http_req_t *req,
                      hub_http_resp_t *resp) {
    (void)req;
    hub_api_t *a = opaque;
    hub_http_resp_t probe = {0};
    hub360_reader_t *r = reader(a, &probe);
    int store_ok = r != NULL;
    int64_t lag = -1;
    char why[256] = "";
    if (store_ok) {
        pthread_mutex_lock(&a->lock);
        refresh_lag(a, r);
        lag = a->lag;
        snprintf(why, sizeof(why), "%s", a->lag_why);
        pthread_mutex_unlock(&a->lock);
    }
    hub_buf_free(&probe.body);
    json_t *checks = json_object();
    json_object_set_new(checks, "store",
                        json_string(store_ok ? "ok"
                                             : "the customer-360 store "
                                               "cannot be opened yet"));
    int kafka_ok = store_ok && lag >= 0;
    int lag_ok = kafka_ok && lag <= a->env.cfg->api.ready_max_lag;
    char text[300];
    if (store_ok)
        json_object_set_new(checks, "kafka",
                            json_string(kafka_ok ? "ok" : why));
    if (kafka_ok) {
        snprintf(text, sizeof(text), "%" PRId64 " events behind (at most %ld)",
                 lag, a->env.cfg->api.ready_max_lag);
        json_object_set_new(checks, "projector",
                            json_string(lag_ok ? "ok" : text));
    }
    json_answer(resp, lag_ok ? 200 : 503,
                json_pack("{sbso}", "ready", lag_ok, "checks", checks));
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

/* The store's size and use, read when /metrics is scraped. */
static double store_gauge(hub_api_t *a, int which) {
    hub_http_resp_t probe = {0};
    hub360_reader_t *r = reader(a, &probe);
    hub_buf_free(&probe.body);
    hub360_store_info_t in;
    if (!r || hub360_store_info(r, &in))
        return 0;
    return which == 0   ? (double)in.map_bytes
           : which == 1 ? (double)in.used_bytes
                        : (double)in.readers;
}
static double store_map(void *a) { return store_gauge(a, 0); }
static double store_used(void *a) { return store_gauge(a, 1); }
static double store_readers(void *a) { return store_gauge(a, 2); }

int hub_api_new(const hub_api_env_t *env, hub_http_t *http, hub_api_t **out,
                char *err, size_t errlen) {
    hub_api_t *a = calloc(1, sizeof(*a));
    if (!a || !(a->store = strdup(env->store))) {
        free(a);
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    }
    a->env = *env;
    a->env.store = a->store;
    pthread_mutex_init(&a->lock, NULL);
    pthread_rwlock_init(&a->tokens_lock, NULL);
    int rc = hub_codec_new(env->cat, env->cfg->kafka.topic_prefix, &a->codec,
                           err, errlen);
    if (rc == 0 && hub_api_set_tokens(a, env->cfg))
        rc = hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    if (rc == 0 &&
        (hub_http_route(http, "GET", "/v1/customers", get_customers, a) ||
         hub_http_route(http, NULL, "/v1/customers/", customer_routes, a) ||
         hub_http_route(http, "GET", "/v1/products", get_products, a) ||
         hub_http_route(http, "GET", "/v1/products/", product_route, a) ||
         hub_http_route(http, "GET", "/v1/changes", get_changes, a) ||
         hub_http_route(http, "GET", "/v1/metrics/daily", get_metrics_daily,
                        a) ||
         hub_http_route(http, "POST", "/v1/identity/link", post_link, a) ||
         hub_http_route(http, "GET", "/schemas/ids/", get_schema, a) ||
         hub_http_route(http, "GET", "/openapi.json", get_openapi, a) ||
         hub_http_route(http, "GET", "/readyz", get_ready, a)))
        rc = hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    if (rc) {
        hub_api_free(a);
        return rc;
    }
    hub_metrics_gauge_fn("hub360_store_map_bytes",
                         "The customer-360 store's map: it cannot grow past "
                         "this (projector.map_size).",
                         NULL, store_map, a);
    hub_metrics_gauge_fn("hub360_store_used_bytes",
                         "The customer-360 store's pages in use.", NULL,
                         store_used, a);
    hub_metrics_gauge_fn("hub360_store_readers",
                         "LMDB reader slots in use on the store, by every "
                         "process.",
                         NULL, store_readers, a);
    *out = a;
    return 0;
}

void hub_api_free(hub_api_t *a) {
    if (!a)
        return;
    hub_metrics_unregister(a);
    hub360_close(a->reader);
    for (size_t i = 0; i < a->nretired; i++)
        hub360_close(a->retired[i]);
    free(a->retired);
    hub_codec_free(a->codec);
    pthread_mutex_destroy(&a->lock);
    pthread_rwlock_destroy(&a->tokens_lock);
    hub_strlist_free(&a->tokens);
    hub_strlist_free(&a->scopes);
    free(a->store);
    free(a);
}
