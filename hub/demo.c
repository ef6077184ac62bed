/*
 * hub360 - `hub360 up --demo`: the simulated people, what their systems
 * deliver, and the status line.
 *
 * Person p (0 <= p < people) has fixed identities: an e-mail, a phone, a
 * HubSpot contact id, a Shopify customer id, an Odoo partner id, a WeChat
 * openid and unionid, a Weibo uid. Which systems know p is fixed too
 * (person 0 is in all of them: the one the start message shows). One
 * thread delivers, at --demo-rate: first it introduces each person in turn
 * (a HubSpot contact in the fake CRM API and its creation webhook; a
 * Shopify customers/create webhook; an Odoo partner; a WeChat subscribe
 * push and the follower's user record with its unionid; the member
 * centre's binding of the unionid to the phone, through the hub's own
 * POST /v1/identity/link), then, between introductions, activity of people
 * already introduced: Shopify orders, Odoo sale orders, HubSpot stage
 * changes, WeChat messages, mentions (orders and mentions in bounded
 * slots, SLOTS). Webhooks are signed as the vendors
 * sign them and POSTed to /ingest/{source}; polled records go into the
 * fake vendor APIs (demo_vendor.c), which the real pollers read.
 *
 * The status line counts what the adapters say Kafka acknowledged
 * (hub360_adapter_events_total), customers and merges from the read API,
 * and the projector's lag from /readyz.
 */
#include "demo.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "client.h"
#include "demo_internal.h"
#include "errors.h"
#include "log.h"
#include "metrics.h"
#include "timefmt.h"

struct hub_demo {
    hub_config_t *cfg;
    hub_demo_opts_t o;
    demo_vendor_t vendor;
    int vendor_up;
    char secret_hubspot[65], secret_shopify[65], token_wechat[33];
    char hub[300];  /* HOST:PORT of the hub */
    char auth[600]; /* "Authorization: Bearer ..." or "" */
    pthread_t push, status;
    int push_up, status_up;
    hub_poll_stop_t stop; /* the threads sleep on it */
    uint64_t state;       /* the pushing thread's PRNG */
    unsigned introduced;  /* people introduced so far */
    int64_t last_at[DEMO_FEED_N], last_id[DEMO_FEED_N];
    /* Slots used: Shopify and Odoo orders by person, mentions by author
     * (the people, then 999 authors who are no one's customers). */
    unsigned char *shop_used, *odoo_used, *mention_used;
    long seq; /* deliveries, for ids */
    long failures;
};

static const char *const first_names[] = {
    "Ann", "Bo",  "Chen", "Dana", "Eli", "Fang", "Gus",  "Hui",
    "Ivy", "Jun", "Kai",  "Lin",  "Mei", "Ning", "Omar", "Ping"};
static const char *const last_names[] = {
    "Li",   "Wang",  "Zhang", "Liu",  "Chen", "Smith", "Garcia", "Kim",
    "Zhao", "Rossi", "Sato",  "Yang", "Wu",   "Huang", "Xu",     "Sun"};

/* ------------------------------------------------------------------ */
/* The people                                                          */
/* ------------------------------------------------------------------ */

typedef struct person {
    unsigned p;
    const char *first, *last;
    char email[96], phone[24], openid[40], unionid[40], weibo[24];
    long long hs_id, shop_id, odoo_id;
    int crm, shop, odoo, wechat, bound, social;
} person;

static void person_of(unsigned p, person *o) {
    memset(o, 0, sizeof *o);
    o->p = p;
    o->first = first_names[(p * 7 + p / 16) % 16];
    o->last = last_names[(p * 5 + 3 * (p / 16)) % 16];
    char lf[16], ll[16];
    snprintf(lf, sizeof lf, "%s", o->first);
    snprintf(ll, sizeof ll, "%s", o->last);
    for (char *c = lf; *c; c++)
        *c = (char)(*c | 0x20);
    for (char *c = ll; *c; c++)
        *c = (char)(*c | 0x20);
    snprintf(o->email, sizeof o->email, "%s.%s%u@demo.example.com", lf, ll, p);
    snprintf(o->phone, sizeof o->phone, "+86139%08u", 20260000u + p * 37u);
    snprintf(o->openid, sizeof o->openid, "oDemo_%08x%04x", p * 2654435761u, p);
    snprintf(o->unionid, sizeof o->unionid, "oUnion_%08x%04x", p * 40503u + 17u,
             p);
    snprintf(o->weibo, sizeof o->weibo, "%lu", 5600000000UL + p * 13UL);
    o->hs_id = 51000 + p;
    o->shop_id = 7390000000000LL + p;
    o->odoo_id = 100 + p;
    /* Who knows whom: 0 is everywhere. */
    o->crm = p % 10 != 9;
    o->shop = p % 10 != 1;
    o->odoo = p % 3 == 0;
    o->wechat = p % 2 == 0;
    o->bound = o->wechat && p % 4 == 0;
    o->social = p % 5 == 0;
}

static uint64_t rnd(hub_demo_t *d) {
    uint64_t z = (d->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The time of a new version of record id in feed, such that (time, id)
 * grows strictly along each feed: a poller's cursor, once past a record,
 * never has a new one fall behind it. Milliseconds; whole seconds for
 * Odoo, whose write_date has no fraction: there a record with a smaller
 * id than the last one of the same second must wait for the next second,
 * and -1 says so (the caller does something else). */
static int64_t feed_time(hub_demo_t *d, int feed, int64_t id) {
    int64_t now = hub_time_now_ms(), last = d->last_at[feed];
    if (feed == DEMO_FEED_ODOO_PARTNERS || feed == DEMO_FEED_ODOO_ORDERS) {
        now -= now % 1000;
        if (now < last)
            now = last;
        if (now == last && id <= d->last_id[feed])
            return -1;
    } else if (now <= last) {
        now = last + 1;
    }
    d->last_at[feed] = now;
    d->last_id[feed] = id;
    return now;
}

static void odoo_time(int64_t ms, char out[32]) {
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

/* Each person has at most SLOTS Shopify orders and SLOTS Odoo orders, and
 * each author at most SLOTS mentions: new ones while slots are left, then
 * new versions of earlier ones (an order updated, a mention re-scored).
 * Every order and mention is an entity of its customer, so this keeps
 * customers under identity.max_entities however long the demo runs. */
#define SLOTS 12

static unsigned slot_of(hub_demo_t *d, unsigned char *used, int *fresh) {
    *fresh = *used < SLOTS;
    return *fresh ? (*used)++ : (unsigned)(rnd(d) % SLOTS);
}

/* A number fixed by x (an order's quantity, price, ...). */
static uint64_t fixed(uint64_t x) {
    uint64_t z = x * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    return z ^ (z >> 27);
}

/* ------------------------------------------------------------------ */
/* Delivering                                                          */
/* ------------------------------------------------------------------ */

static void b64(const unsigned char *in, size_t n, char *out) {
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static void hex(const unsigned char *in, size_t n, char *out) {
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* An answer the demo reads (a page of customers) is kept, up to a bound;
 * the others are dropped. Returning less than given aborts the transfer. */
#define ANSWER_MAX (64u << 20)

static size_t collect(char *p, size_t s, size_t n, void *u) {
    hub_buf_t *b = u;
    if (b && (b->len + s * n > ANSWER_MAX || hub_buf_append(b, p, s * n)))
        return 0;
    return s * n;
}

/* POSTs (or GETs, body NULL) to the hub; returns the HTTP status, 0 when
 * the request failed. The answer goes to out when not NULL. */
static long hub_call(hub_demo_t *d, CURL *c, const char *path,
                     struct curl_slist *hdrs, const char *body, size_t len,
                     hub_buf_t *out) {
    char url[600];
    snprintf(url, sizeof url, "http://%s%s", d->hub, path);
    /* The read API and the member centre's links need a token when
     * api.tokens has any: the configuration's first admin token. */
    struct curl_slist *auth = NULL;
    if (*d->auth && strncmp(path, "/v1/", 4) == 0) {
        for (struct curl_slist *h = hdrs; h; h = h->next)
            auth = curl_slist_append(auth, h->data);
        auth = curl_slist_append(auth, d->auth);
        hdrs = auth;
    }
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(auth);
    return status;
}

static void delivered(hub_demo_t *d, const char *what, long status) {
    if (status >= 200 && status < 300)
        return;
    /* A demo that fails says so, but not 30 times a second. */
    if (d->failures++ % 50 == 0)
        hub_log_warn("demo",
                     "%s: the hub answered %ld (%ld failed "
                     "deliveries so far)",
                     what, status, d->failures);
}

static void post_json(hub_demo_t *d, CURL *c, const char *path, json_t *body,
                      struct curl_slist *hdrs, const char *what) {
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!s)
        return;
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    delivered(d, what, hub_call(d, c, path, hdrs, s, strlen(s), NULL));
    curl_slist_free_all(hdrs);
    free(s);
}

/* Shopify: X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(secret, body)). */
static void shopify(hub_demo_t *d, CURL *c, const char *topic, json_t *body) {
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!s)
        return;
    unsigned char mac[32];
    unsigned maclen = 0;
    HMAC(EVP_sha256(), d->secret_shopify, (int)strlen(d->secret_shopify),
         (unsigned char *)s, strlen(s), mac, &maclen);
    char sig[64], h1[128], h2[128], h3[128];
    b64(mac, maclen, sig);
    snprintf(h1, sizeof h1, "X-Shopify-Hmac-Sha256: %s", sig);
    snprintf(h2, sizeof h2, "X-Shopify-Topic: %s", topic);
    snprintf(h3, sizeof h3, "X-Shopify-Webhook-Id: demo-%ld", ++d->seq);
    struct curl_slist *h = curl_slist_append(NULL, h1);
    h = curl_slist_append(h, h2);
    h = curl_slist_append(h, h3);
    h = curl_slist_append(h, "X-Shopify-Shop-Domain: demo.myshopify.com");
    h = curl_slist_append(h, "Content-Type: application/json");
    delivered(d, "shopify webhook",
              hub_call(d, c, "/ingest/shopify", h, s, strlen(s), NULL));
    curl_slist_free_all(h);
    free(s);
}

/* HubSpot v3: base64(HMAC-SHA256(secret, method + https://host/uri + body
 * + timestamp)), the timestamp in X-HubSpot-Request-Timestamp. */
static void hubspot_webhook(hub_demo_t *d, CURL *c, json_t *batch) {
    char *s = json_dumps(batch, JSON_COMPACT);
    json_decref(batch);
    if (!s)
        return;
    char ts[32];
    snprintf(ts, sizeof ts, "%lld", (long long)hub_time_now_ms());
    hub_buf_t msg = HUB_BUF_INIT;
    hub_buf_printf(&msg, "POSThttps://%s/ingest/hubspot%s%s", d->hub, s, ts);
    unsigned char mac[32];
    unsigned maclen = 0;
    HMAC(EVP_sha256(), d->secret_hubspot, (int)strlen(d->secret_hubspot),
         (unsigned char *)msg.data, msg.len, mac, &maclen);
    hub_buf_free(&msg);
    char sig[64], h1[128], h2[96];
    b64(mac, maclen, sig);
    snprintf(h1, sizeof h1, "X-HubSpot-Signature-v3: %s", sig);
    snprintf(h2, sizeof h2, "X-HubSpot-Request-Timestamp: %s", ts);
    struct curl_slist *h = curl_slist_append(NULL, h1);
    h = curl_slist_append(h, h2);
    h = curl_slist_append(h, "Content-Type: application/json");
    delivered(d, "hubspot webhook",
              hub_call(d, c, "/ingest/hubspot", h, s, strlen(s), NULL));
    curl_slist_free_all(h);
    free(s);
}

/* WeChat signs the URL: signature = hex(SHA-1(sort(token, timestamp,
 * nonce) joined)) in the query string. */
static void wechat(hub_demo_t *d, CURL *c, const char *body,
                   const char *ctype) {
    char ts[24], nonce[24], *parts[3], joined[128];
    snprintf(ts, sizeof ts, "%lld", (long long)(hub_time_now_ms() / 1000));
    snprintf(nonce, sizeof nonce, "%llu",
             (unsigned long long)(rnd(d) % 1000000000));
    parts[0] = d->token_wechat, parts[1] = ts, parts[2] = nonce;
    for (int i = 0; i < 3; i++) /* sort three strings */
        for (int j = i + 1; j < 3; j++)
            if (strcmp(parts[j], parts[i]) < 0) {
                char *t = parts[i];
                parts[i] = parts[j], parts[j] = t;
            }
    snprintf(joined, sizeof joined, "%s%s%s", parts[0], parts[1], parts[2]);
    unsigned char md[20];
    unsigned mdlen = 0;
    EVP_Digest(joined, strlen(joined), md, &mdlen, EVP_sha1(), NULL);
    char sig[41], path[200], h1[64];
    hex(md, 20, sig);
    snprintf(path, sizeof path,
             "/ingest/wechat?signature=%s&timestamp=%s&nonce=%s", sig, ts,
             nonce);
    snprintf(h1, sizeof h1, "Content-Type: %s", ctype);
    struct curl_slist *h = curl_slist_append(NULL, h1);
    delivered(d, "wechat push",
              hub_call(d, c, path, h, body, strlen(body), NULL));
    curl_slist_free_all(h);
}

/* ------------------------------------------------------------------ */
/* What each system says                                               */
/* ------------------------------------------------------------------ */

static const char *const stages[] = {
    "subscriber", "lead", "marketingqualifiedlead", "opportunity", "customer"};

static void hs_contact(hub_demo_t *d, const person *o, const char *stage) {
    int64_t at = feed_time(d, DEMO_FEED_HS_CONTACTS, o->hs_id);
    char t[HUB_TIME_MAXLEN], id[24];
    hub_time_format(at, t);
    snprintf(id, sizeof id, "%lld", o->hs_id);
    json_t *rec = json_pack(
        "{s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}, s:s, s:s, "
        "s:b}",
        "id", id, "properties", "email", o->email, "firstname", o->first,
        "lastname", o->last, "phone", o->p % 3 ? o->phone : "",
        "lifecyclestage", stage, "company", "Demo Tea Co.",
        "hs_country_region_code", "CN", "hs_object_id", id, "lastmodifieddate",
        t, "createdAt", t, "updatedAt", t, "archived", 0);
    if (rec)
        demo_vendor_put(&d->vendor, DEMO_FEED_HS_CONTACTS, at, o->hs_id, rec);
}

static json_t *hs_event(hub_demo_t *d, const person *o, const char *kind,
                        const char *prop, const char *value) {
    json_t *e = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:s, s:i}", "eventId",
        (json_int_t)(1000000 + ++d->seq), "subscriptionId", (json_int_t)4242,
        "portalId", (json_int_t)62515, "appId", (json_int_t)1160452,
        "occurredAt", (json_int_t)hub_time_now_ms(), "subscriptionType", kind,
        "objectId", (json_int_t)o->hs_id, "changeSource", "CRM",
        "attemptNumber", 0);
    if (e && prop) {
        json_object_set_new(e, "propertyName", json_string(prop));
        json_object_set_new(e, "propertyValue", json_string(value));
    }
    return e;
}

static json_t *shop_customer(const person *o, const char *t) {
    char gid[64];
    snprintf(gid, sizeof gid, "gid://shopify/Customer/%lld", o->shop_id);
    return json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}",
        "id", (json_int_t)o->shop_id, "admin_graphql_api_id", gid, "email",
        o->email, "phone", o->phone, "first_name", o->first, "last_name",
        o->last, "created_at", t, "updated_at", t, "currency", "CNY",
        "default_address", "country_code", "CN", "province_code", "ZJ", "phone",
        o->phone);
}

static void shop_order(hub_demo_t *d, CURL *c, const person *o) {
    char t[HUB_TIME_MAXLEN], gid[64], name[24], total[24], price[24], sku[24];
    hub_time_format(hub_time_now_ms(), t);
    int fresh;
    long long n =
        (long long)o->p * SLOTS + slot_of(d, &d->shop_used[o->p], &fresh);
    long long id = 5800000000000LL + n;
    snprintf(gid, sizeof gid, "gid://shopify/Order/%lld", id);
    snprintf(name, sizeof name, "#%lld", 1001 + n);
    uint64_t f = fixed((uint64_t)id);
    int qty = 1 + (int)(f % 3), unit = 38 + (int)(f / 3 % 12) * 20;
    snprintf(price, sizeof price, "%d.00", unit);
    snprintf(total, sizeof total, "%d.00", unit * qty);
    snprintf(sku, sizeof sku, "TEA-%02d", (int)(f / 36 % 12));
    json_t *cust = shop_customer(o, t);
    json_t *order = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
        "s:[{s:I, s:s, s:s, s:i, s:s}], s:o}",
        "id", (json_int_t)id, "admin_graphql_api_id", gid, "name", name,
        "email", o->email, "currency", "CNY", "total_price", total, "total_tax",
        "0.00", "total_discounts", "0.00", "source_name", "web", "created_at",
        t, "updated_at", t, "line_items", "id", (json_int_t)(id + 1), "sku",
        sku, "name", "Longjing tea", "quantity", qty, "price", price,
        "customer", cust ? cust : json_object());
    if (order)
        shopify(d, c, fresh ? "orders/create" : "orders/updated", order);
}

/* 0 when the record must wait for the next second (feed_time). */
static int odoo_partner(hub_demo_t *d, const person *o) {
    int64_t at = feed_time(d, DEMO_FEED_ODOO_PARTNERS, o->odoo_id);
    if (at < 0)
        return 0;
    char wd[32], name[64];
    odoo_time(at, wd);
    snprintf(name, sizeof name, "%s %s", o->first, o->last);
    json_t *r =
        json_pack("{s:I, s:s, s:s, s:s, s:b, s:b, s:s, s:s, s:s}", "id",
                  (json_int_t)o->odoo_id, "name", name, "email", o->email,
                  "phone", o->phone, "is_company", 0, "parent_id", 0, "lang",
                  "zh_CN", "country_code", "CN", "write_date", wd);
    if (r)
        demo_vendor_put(&d->vendor, DEMO_FEED_ODOO_PARTNERS, at, o->odoo_id, r);
    return 1;
}

static int odoo_order(hub_demo_t *d, const person *o) {
    unsigned char used = d->odoo_used[o->p];
    int fresh;
    long long id = 3000 + (long long)o->p * SLOTS + slot_of(d, &used, &fresh);
    int64_t at = feed_time(d, DEMO_FEED_ODOO_ORDERS, id);
    if (at < 0)
        return 0;
    d->odoo_used[o->p] = used;
    char wd[32], name[64], so[24];
    odoo_time(at, wd);
    snprintf(name, sizeof name, "%s %s", o->first, o->last);
    snprintf(so, sizeof so, "S%05lld", id);
    double total = 200.0 + (double)(fixed((uint64_t)id) % 40) * 50.0;
    json_t *r = json_pack(
        "{s:I, s:s, s:s, s:[I,s], s:[i,s], s:f, s:f, s:[i,s], s:[], s:s}", "id",
        (json_int_t)id, "name", so, "state", "sale", "partner_id",
        (json_int_t)o->odoo_id, name, "currency_id", 7, "CNY", "amount_total",
        total, "amount_tax", 0.0, "warehouse_id", 1, "Hangzhou WH",
        "order_line", "write_date", wd);
    if (r)
        demo_vendor_put(&d->vendor, DEMO_FEED_ODOO_ORDERS, at, id, r);
    return 1;
}

static void wechat_push(hub_demo_t *d, CURL *c, const person *o, int text) {
    static const char *const says[] = {
        "请问龙井还有货吗？", "Thanks, the tea arrived quickly!",
        "包装破了，能换吗？", "What is the best way to brew this?"};
    char xml[1024];
    long long now = (long long)(hub_time_now_ms() / 1000);
    if (text)
        snprintf(xml, sizeof xml,
                 "<xml><ToUserName><![CDATA[gh_demo_tea]]></ToUserName>"
                 "<FromUserName><![CDATA[%s]]></FromUserName>"
                 "<CreateTime>%lld</CreateTime>"
                 "<MsgType><![CDATA[text]]></MsgType>"
                 "<Content><![CDATA[%s]]></Content>"
                 "<MsgId>%lld</MsgId></xml>",
                 o->openid, now, says[rnd(d) % 4],
                 24000000000000000LL + ++d->seq);
    else
        snprintf(xml, sizeof xml,
                 "<xml><ToUserName><![CDATA[gh_demo_tea]]></ToUserName>"
                 "<FromUserName><![CDATA[%s]]></FromUserName>"
                 "<CreateTime>%lld</CreateTime>"
                 "<MsgType><![CDATA[event]]></MsgType>"
                 "<Event><![CDATA[subscribe]]></Event>"
                 "<EventKey><![CDATA[qrscene_store%u]]></EventKey></xml>",
                 o->openid, now, o->p % 7);
    wechat(d, c, xml, "text/xml");
}

/* The follower's cgi-bin/user/info record, as the OA's sync job (or
 * middleware) pushes it: openid and unionid, so scrm.profile.linked. */
static void wechat_user(hub_demo_t *d, CURL *c, const person *o) {
    char nick[48];
    snprintf(nick, sizeof nick, "%s%s", o->last, o->first);
    json_t *u = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s}",
                          "subscribe", 1, "openid", o->openid, "unionid",
                          o->unionid, "nickname", nick, "subscribe_time",
                          (json_int_t)(hub_time_now_ms() / 1000),
                          "subscribe_scene", "ADD_SCENE_QR_CODE", "language",
                          "zh_CN", "country", "中国", "province", "浙江");
    char *s = u ? json_dumps(u, JSON_COMPACT) : NULL;
    json_decref(u);
    if (s)
        wechat(d, c, s, "application/json");
    free(s);
}

/* The member centre: a follower authorised their phone in the mini
 * program (which shares the unionid), and the member centre tells the
 * hub. */
static void member_binding(hub_demo_t *d, CURL *c, const person *o) {
    json_t *b = json_pack(
        "{s:[{s:s, s:s}, {s:s, s:s}], s:s, s:s}", "identities", "kind",
        "wechat_unionid", "value", o->unionid, "kind", "phone", "value",
        o->phone, "reason",
        o->social ? "member centre: phone authorised in the mini program, "
                    "Weibo account bound"
                  : "member centre: phone authorised in the mini program",
        "requested_by", "demo-member-centre");
    if (b && o->social) { /* so their mentions join them too */
        char handle[40];
        snprintf(handle, sizeof handle, "weibo:%s", o->weibo);
        json_array_append_new(
            json_object_get(b, "identities"),
            json_pack("{s:s, s:s}", "kind", "social_handle", "value", handle));
    }
    if (b)
        post_json(d, c, "/v1/identity/link", b, NULL, "member binding");
}

static void mention(hub_demo_t *d, const person *o) {
    static const char *const posts[] = {
        "刚收到@示例茶庄 的明前龙井，香气很正，推荐！",
        "Shipping took forever and the box was crushed.",
        "@DemoTea 的客服回复很快，点赞", "Meh. The new blend is just okay."};
    static const double sentiment[] = {0.8, -0.7, 0.6, 0.0};
    /* People who are not in the member base post too. */
    unsigned author = o->social ? o->p : d->o.people + (unsigned)(rnd(d) % 999);
    char t[HUB_TIME_MAXLEN], sid[24], url[96], handle[24];
    if (o->social)
        snprintf(handle, sizeof handle, "%s", o->weibo);
    else
        snprintf(handle, sizeof handle, "%llu",
                 7700000000ULL + (author - d->o.people));
    int fresh;
    long long id = 880000000 + (long long)author * SLOTS +
                   slot_of(d, &d->mention_used[author], &fresh);
    int64_t at = feed_time(d, DEMO_FEED_MENTIONS, id);
    int k = (int)(rnd(d) % 4);
    hub_time_format(at, t);
    snprintf(sid, sizeof sid, "%lld", id);
    snprintf(url, sizeof url, "https://weibo.com/%s/%lld", handle, id);
    json_t *m = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:f, s:s, s:s}", "id", sid,
        "platform", "weibo", "author_handle", handle, "author_name", o->first,
        "author_followers", (json_int_t)(rnd(d) % 5000), "text", posts[k],
        "url", url, "language", k % 2 ? "en" : "zh", "sentiment", sentiment[k],
        "created_at", t, "updated_at", t);
    if (m)
        demo_vendor_put(&d->vendor, DEMO_FEED_MENTIONS, at, id, m);
}

/* ------------------------------------------------------------------ */
/* The pushing thread                                                  */
/* ------------------------------------------------------------------ */

/* Introduces person o, step `step` (0..5); returns 1 when it delivered
 * something. */
static int introduce(hub_demo_t *d, CURL *c, const person *o, int step) {
    char t[HUB_TIME_MAXLEN];
    switch (step) {
    case 0:
        if (!o->crm)
            return 0;
        hs_contact(d, o, stages[o->p % 2]);
        json_t *batch = json_array();
        json_array_append_new(batch,
                              hs_event(d, o, "contact.creation", NULL, NULL));
        json_array_append_new(
            batch, hs_event(d, o, "contact.propertyChange", "email", o->email));
        hubspot_webhook(d, c, batch);
        return 1;
    case 1:
        if (!o->shop)
            return 0;
        hub_time_format(hub_time_now_ms(), t);
        json_t *cust = shop_customer(o, t);
        if (cust)
            shopify(d, c, "customers/create", cust);
        return 1;
    case 2: return o->odoo && odoo_partner(d, o);
    case 3:
        if (!o->wechat)
            return 0;
        wechat_push(d, c, o, 0);
        return 1;
    case 4:
        if (!o->wechat)
            return 0;
        wechat_user(d, c, o);
        return 1;
    default:
        if (!o->bound)
            return 0;
        member_binding(d, c, o);
        return 1;
    }
}

/* Something a person already introduced does. */
static void activity(hub_demo_t *d, CURL *c) {
    person o;
    person_of((unsigned)(rnd(d) % d->introduced), &o);
    switch (rnd(d) % 6) {
    case 0:
        if (o.shop) {
            shop_order(d, c, &o);
            break;
        }
        /* fall through */
    case 1:
        if (o.odoo && odoo_order(d, &o))
            break;
        /* fall through */
    case 2:
        if (o.crm) {
            const char *stage = stages[2 + rnd(d) % 3];
            hs_contact(d, &o, stage);
            json_t *batch = json_array();
            json_array_append_new(batch,
                                  hs_event(d, &o, "contact.propertyChange",
                                           "lifecyclestage", stage));
            hubspot_webhook(d, c, batch);
            break;
        }
        /* fall through */
    case 3:
    case 4:
        if (o.wechat) {
            wechat_push(d, c, &o, 1);
            break;
        }
        /* fall through */
    default: mention(d, &o);
    }
}

/* Sleeps ms unless stopped first; returns 1 when stopped. */
static int pause_ms(hub_demo_t *d, int64_t ms) {
    return hub_poll_stop_wait(&d->stop, ms);
}

static void *push_main(void *arg) {
    hub_demo_t *d = arg;
    CURL *c = curl_easy_init();
    if (!c) {
        hub_log_error("demo", "cannot start libcurl: no deliveries");
        return NULL;
    }
    double step_ms = 1000.0 / d->o.rate;
    int64_t start = hub_time_mono_ms();
    unsigned who = 0;
    int step = 0;
    long tick = 0;
    while (!hub_poll_stop_requested(&d->stop)) {
        /* Introductions first (every other tick once a few people are
         * there), then activity of the people introduced. */
        if (who < d->o.people && (d->introduced < 8 || tick % 2 == 0)) {
            person o;
            person_of(who, &o);
            int done = 0;
            while (!done && step <= 5)
                done = introduce(d, c, &o, step++);
            if (step > 5) {
                step = 0;
                d->introduced = ++who;
            }
            if (!done)
                continue;
        } else if (d->introduced) {
            activity(d, c);
        }
        tick++;
        int64_t now = hub_time_mono_ms();
        int64_t next = start + (int64_t)((double)tick * step_ms);
        if (next < now - 1000) { /* a slow hub: no catching up in a burst */
            start = now - (int64_t)((double)tick * step_ms);
            next = now;
        }
        if (next > now && pause_ms(d, next - now))
            break;
    }
    curl_easy_cleanup(c);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The status line                                                     */
/* ------------------------------------------------------------------ */

/* The sum of the hub360_adapter_events_total series of the demo's
 * sources of one kind, from the metrics registry's text. */
static double events_of(const hub_buf_t *m, const char *const *sources) {
    double sum = 0;
    const char *s = m->data, *end = m->data + m->len;
    const char *key = "hub360_adapter_events_total{source=\"";
    size_t klen = strlen(key);
    while (s && s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if ((size_t)(end - s) > klen && memcmp(s, key, klen) == 0) {
            const char *name = s + klen;
            for (const char *const *n = sources; *n; n++) {
                size_t l = strlen(*n);
                if (strncmp(name, *n, l) == 0 && name[l] == '"') {
                    const char *sp =
                        memchr(s, ' ', (size_t)((nl ? nl : end) - s));
                    if (sp)
                        sum += strtod(sp + 1, NULL);
                }
            }
        }
        s = nl ? nl + 1 : NULL;
    }
    return sum;
}

static double gauge_of(const hub_buf_t *m, const char *name) {
    size_t l = strlen(name);
    const char *s = m->data, *end = m->data + m->len;
    while (s && s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if ((size_t)(end - s) > l && memcmp(s, name, l) == 0 && s[l] == ' ')
            return strtod(s + l + 1, NULL);
        s = nl ? nl + 1 : NULL;
    }
    return -1;
}

/* Customers and aliases (each alias is one merge), paging through the
 * read API; -1 while the store is not there. */
static void count_customers(hub_demo_t *d, CURL *c, long *customers,
                            long *merges) {
    char path[300], cursor[200] = "";
    long n = 0, m = 0;
    hub_buf_t out = HUB_BUF_INIT;
    for (int page = 0; page < 100; page++) {
        snprintf(path, sizeof path, "/v1/customers?limit=1000%s%s",
                 *cursor ? "&cursor=" : "", cursor);
        hub_buf_reset(&out);
        if (hub_call(d, c, path, NULL, NULL, 0, &out) != 200) {
            n = m = -1;
            break;
        }
        json_t *j = json_loadb(out.data, out.len, 0, NULL);
        json_t *list = json_object_get(j, "customers"), *v;
        size_t i;
        json_array_foreach(list, i, v) {
            n++;
            m += (long)json_array_size(json_object_get(v, "aliases"));
        }
        const char *next = json_string_value(json_object_get(j, "next_cursor"));
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        json_decref(j);
        if (!*cursor)
            break;
    }
    hub_buf_free(&out);
    *customers = n, *merges = m;
}

static const char *const crm_sources[] = {"hubspot", NULL};
static const char *const erp_sources[] = {"shopify", "odoo", NULL};
static const char *const scrm_sources[] = {"wechat", "mention", NULL};

static void *status_main(void *arg) {
    hub_demo_t *d = arg;
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    int tty = isatty(2);
    /* Rates over the last WINDOW seconds: the pollers deliver every 2 s,
     * so a one-second difference would swing between bursts and nothing. */
    enum { WINDOW = 5 };
    double seen[WINDOW + 1][3] = {{0}};
    int64_t seen_at[WINDOW + 1];
    for (int i = 0; i <= WINDOW; i++)
        seen_at[i] = hub_time_mono_ms();
    long customers = -1, merges = -1;
    hub_buf_t m = HUB_BUF_INIT;
    const char *const *kinds[3] = {crm_sources, erp_sources, scrm_sources};
    for (long tick = 1; !pause_ms(d, 1000); tick++) {
        if (tick % 2 == 1) {
            count_customers(d, c, &customers, &merges);
            hub_call(d, c, "/readyz", NULL, NULL, 0, NULL); /* the lag */
        }
        hub_buf_reset(&m);
        if (hub_metrics_render(&m))
            continue;
        int slot = (int)(tick % (WINDOW + 1));
        int oldest = tick > WINDOW ? (int)((tick + 1) % (WINDOW + 1)) : 0;
        seen_at[slot] = hub_time_mono_ms();
        double secs = (double)(seen_at[slot] - seen_at[oldest]) / 1000.0,
               rate[3];
        for (int k = 0; k < 3; k++) {
            seen[slot][k] = events_of(&m, kinds[k]);
            rate[k] = secs > 0 ? (seen[slot][k] - seen[oldest][k]) / secs : 0;
        }
        double lag = gauge_of(&m, "hub360_projector_lag");
        char cs[32] = "?", ms[32] = "?", ls[32] = "?";
        if (customers >= 0)
            snprintf(cs, sizeof cs, "%ld", customers);
        if (merges >= 0)
            snprintf(ms, sizeof ms, "%ld", merges);
        if (lag >= 0)
            snprintf(ls, sizeof ls, "%.0f", lag);
        fprintf(stderr,
                "%sdemo: events/s crm %.1f erp %.1f scrm %.1f | customers %s "
                "merges %s | lag %s%s",
                tty ? "\r\033[K" : "", rate[0], rate[1], rate[2], cs, ms, ls,
                tty ? "" : "\n");
        fflush(stderr);
    }
    if (tty)
        fputc('\n', stderr);
    hub_buf_free(&m);
    curl_easy_cleanup(c);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Setting up                                                          */
/* ------------------------------------------------------------------ */

static int random_hex(char *out, size_t bytes) {
    unsigned char r[32];
    if (bytes > sizeof r || RAND_bytes(r, (int)bytes) != 1)
        return -1;
    hex(r, bytes, out);
    return 0;
}

/* Appends the demo's sources to cfg->sources, parsed from YAML by the
 * same tables as a configuration file (so every default applies). */
static int add_sources(hub_demo_t *d, char *err, size_t errlen) {
    char yaml[2048], e[1024];
    int port = d->vendor.port;
    snprintf(yaml, sizeof yaml,
             "sources:\n"
             "  - {name: hubspot, system: crm, preset: hubspot,\n"
             "     webhook: {secret: \"%s\"},\n"
             "     poll: {url: \"http://127.0.0.1:%d\", interval: 2s,\n"
             "            resources: [contacts]}}\n"
             "  - {name: shopify, system: erp, preset: shopify,\n"
             "     webhook: {secret: \"%s\"}}\n"
             "  - {name: odoo, system: erp, preset: odoo,\n"
             "     poll: {url: \"http://127.0.0.1:%d\", interval: 2s,\n"
             "            params: {database: demo},\n"
             "            resources: [res.partner, sale.order]}}\n"
             "  - {name: wechat, system: scrm, preset: wechat,\n"
             "     webhook: {secret: \"%s\"}}\n"
             "  - {name: mention, system: scrm, preset: mention,\n"
             "     poll: {url: \"http://127.0.0.1:%d\", interval: 2s}}\n",
             d->secret_hubspot, port, d->secret_shopify, port, d->token_wechat,
             port);
    hub_config_t *tmp = NULL;
    int rc = hub_config_parse("(demo sources)", yaml, strlen(yaml), &tmp, e,
                              sizeof e);
    if (rc)
        return hub_fail(err, errlen, rc, "demo: %s", e);
    hub_cfg_list_t *mine = &d->cfg->sources, *add = &tmp->sources;
    size_t sz = sizeof(hub_source_config_t);
    void *items = realloc(mine->items, (mine->n + add->n) * sz);
    if (!items) {
        hub_config_free(tmp);
        return hub_fail(err, errlen, HUB_ENOMEM, "demo: out of memory");
    }
    memcpy((char *)items + mine->n * sz, add->items, add->n * sz);
    mine->items = items;
    mine->n += add->n;
    free(add->items); /* the sources' strings now belong to cfg */
    add->items = NULL;
    add->n = 0;
    hub_config_free(tmp);
    if (hub_sources_check(mine, e, sizeof e))
        return hub_fail(err, errlen, HUB_ECONFIG,
                        "--demo adds sources hubspot, shopify, odoo, wechat "
                        "and mention: %s",
                        e);
    return 0;
}

int hub_demo_new(hub_config_t *cfg, const hub_demo_opts_t *o, hub_demo_t **out,
                 char *err, size_t errlen) {
    *out = NULL;
    hub_demo_t *d = calloc(1, sizeof *d);
    if (!d)
        return hub_fail(err, errlen, HUB_ENOMEM, "demo: out of memory");
    d->cfg = cfg;
    d->o = *o;
    if (d->o.rate <= 0)
        d->o.rate = 30;
    if (!d->o.people)
        d->o.people = 300;
    d->state = 0x5eed360;
    /* Ids of WeChat messages and HubSpot deliveries run on from a base
     * that grows faster (100 a second) than deliveries use them, so a
     * restarted demo's messages are new ones, not the last run's again. */
    d->seq = (long)(hub_time_now_ms() / 10 - 176400000000LL);
    if (d->seq < 0)
        d->seq = 0;
    hub_poll_stop_init(&d->stop);
    int rc;
    if (random_hex(d->secret_hubspot, 32) ||
        random_hex(d->secret_shopify, 32) || random_hex(d->token_wechat, 16)) {
        rc = hub_fail(err, errlen, HUB_EIO, "demo: no random bytes");
        goto fail;
    }
    for (size_t i = 0; i < cfg->api.tokens.n; i++) {
        const hub_api_token_t *t =
            (const hub_api_token_t *)cfg->api.tokens.items + i;
        if (strcmp(t->scope, "admin") == 0) {
            snprintf(d->auth, sizeof d->auth, "Authorization: Bearer %s",
                     t->token);
            break;
        }
    }
    if (cfg->api.tokens.n && !*d->auth)
        hub_log_warn("demo", "api.tokens has no admin token: the demo's "
                             "member centre cannot link identities, and "
                             "the status line cannot count customers");
    d->shop_used = calloc(d->o.people, 1);
    d->odoo_used = calloc(d->o.people, 1);
    d->mention_used = calloc(d->o.people + 999, 1);
    if (!d->shop_used || !d->odoo_used || !d->mention_used) {
        rc = hub_fail(err, errlen, HUB_ENOMEM, "demo: out of memory");
        goto fail;
    }
    if ((rc = demo_vendor_start(&d->vendor, err, errlen)))
        goto fail;
    d->vendor_up = 1;
    if ((rc = add_sources(d, err, errlen)))
        goto fail;
    *out = d;
    return 0;
fail:
    hub_demo_free(d);
    return rc;
}

int hub_demo_start(hub_demo_t *d, const char *hub_addr, char *err,
                   size_t errlen) {
    snprintf(d->hub, sizeof d->hub, "%s", hub_addr);
    if (pthread_create(&d->push, NULL, push_main, d))
        return hub_fail(err, errlen, HUB_EIO, "demo: cannot start a thread");
    d->push_up = 1;
    if (pthread_create(&d->status, NULL, status_main, d))
        return hub_fail(err, errlen, HUB_EIO, "demo: cannot start a thread");
    d->status_up = 1;
    return 0;
}

void hub_demo_intro(const hub_demo_t *d, FILE *out) {
    person o;
    person_of(0, &o);
    fprintf(out,
            "demo: simulated HubSpot (CRM: signed webhooks, CRM v3 search), "
            "Shopify (ERP: signed webhooks),\n"
            "  Odoo (ERP: JSON-2 search_read), WeChat (SCRM: signed XML "
            "pushes) and a mention feed\n"
            "  (SCRM: polled, with sentiment) at http://127.0.0.1:%d, about "
            "%.0f deliveries a second\n"
            "  to %u people, feeding the sources hubspot, shopify, odoo, "
            "wechat and mention.\n"
            "A customer merged across CRM, ERP and SCRM (a few seconds "
            "after the start):\n"
            "  curl -s 'http://%s/v1/customers?email=%s'\n"
            "  curl -s 'http://%s/v1/customers?kind=wechat_openid&value=%s'\n"
            "  curl -s 'http://%s/v1/customers?phone=%%2B%s'\n"
            "what happened to them, newest first, and every change:\n"
            "  curl -s 'http://%s/v1/customers/email:%s/timeline?limit=5'\n"
            "  curl -s 'http://%s/v1/changes?since=0&limit=10'\n"
            "A status line on stderr, once a second: events per second of "
            "each kind of system\n"
            "(acknowledged by Kafka), customers, merges (aliases) and the "
            "projector's lag.\n",
            d->vendor.port, d->o.rate, d->o.people, d->hub, o.email, d->hub,
            o.openid, d->hub, o.phone + 1, d->hub, o.email, d->hub);
}

void hub_demo_free(hub_demo_t *d) {
    if (!d)
        return;
    hub_poll_stop_request(&d->stop);
    if (d->push_up)
        pthread_join(d->push, NULL);
    if (d->status_up)
        pthread_join(d->status, NULL);
    if (d->vendor_up)
        demo_vendor_stop(&d->vendor);
    hub_poll_stop_destroy(&d->stop);
    free(d->shop_used);
    free(d->odoo_used);
    free(d->mention_used);
    free(d);
}
