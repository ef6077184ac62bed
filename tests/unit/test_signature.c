/*
 * Unit tests: webhook signatures, scheme by scheme, on the vendors' own
 * payloads in tests/fixtures/vendors (their .meta.json files carry the
 * headers and secrets). Each scheme is a table of cases run against one
 * valid request: each case changes one thing and names the code and the
 * exact message it expects.
 *
 * Vectors of our own, each cross-checked on the command line:
 *   hubspot v3  secret "hub360-hubspot-test", the deal body, its timestamp:
 *     (printf '%s'
 * 'POSThttps://hooks.example.com/hubspot?tag=deal:new,(won)%20today'; cat
 * hubspot_webhook_deal_creation_captured.body.json; printf '%s' 1769081994066)
 * | openssl dgst -sha256 -hmac hub360-hubspot-test -binary | base64 zendesk
 * secret "hub360-zendesk-test": (printf '%s' 2024-04-17T17:18:10Z; cat
 * zendesk_webhook_ticket_created_example.body.json) | openssl dgst -sha256
 * -hmac hub360-zendesk-test -binary | base64 wechat      token "wx_token_42",
 * timestamp 1714032000, nonce Zx9: printf '%s' 1714032000 Zx9 wx_token_42 |
 * sha1sum weibo       app secret "weibo_app_secret_x", 1714032000, nonce 0731:
 *     printf '%s' 0731 1714032000 weibo_app_secret_x | sha1sum
 * HubSpot's v1 and v2 vectors are the ones in its docs.
 */
#include <jansson.h>
#include <strings.h>

#include "errors.h"
#include "harness.h"
#include "signature.h"

#define VENDORS "tests/fixtures/vendors/"
#define MAXKV   16

/* ---------------------------------------------------------------------- */
/* A request the tests can change one header or parameter at a time        */
/* ---------------------------------------------------------------------- */

typedef struct kv {
    const char *k, *v; /* v NULL: removed */
} kv_t;

typedef struct fake {
    kv_t headers[MAXKV];
    kv_t query[MAXKV];
    hub_sig_request_t r; /* r.ctx is set to the fake before each call */
    char *body;          /* owned: the fixture's bytes */
    json_t *meta;        /* owned: the fixture's .meta.json; headers point in */
} fake_t;

static const char *find(const kv_t *t, const char *name, int nocase) {
    for (int i = 0; i < MAXKV && t[i].k; i++)
        if ((nocase ? strcasecmp(t[i].k, name) : strcmp(t[i].k, name)) == 0)
            return t[i].v;
    return NULL;
}

/* Header names match in any case, as the contract asks of the server. */
static const char *fake_header(void *ctx, const char *name) {
    return find(((fake_t *)ctx)->headers, name, 1);
}

static const char *fake_query(void *ctx, const char *name) {
    return find(((fake_t *)ctx)->query, name, 0);
}

/* Sets (or, with value NULL, removes) name in t. */
static void put(kv_t *t, const char *name, const char *value, int nocase) {
    int i = 0;
    while (i < MAXKV - 1 && t[i].k &&
           (nocase ? strcasecmp(t[i].k, name) : strcmp(t[i].k, name)) != 0)
        i++;
    t[i].k = name;
    t[i].v = value;
}

/* A request with the fixture's body (body_file, or none) and the headers
 * of its meta file (or none). */
static fake_t fixture(const char *method, const char *uri,
                      const char *body_file, const char *meta_file,
                      int64_t now_ms) {
    fake_t f = {.r = {.method = method,
                      .uri = uri,
                      .header = fake_header,
                      .query = fake_query,
                      .body = "",
                      .now_ms = now_ms}};
    char path[256];
    if (body_file) {
        snprintf(path, sizeof path, VENDORS "%s", body_file);
        f.body = hub_test_read(path, &f.r.len);
        f.r.body = f.body;
        if (!f.body)
            FAIL_AT("cannot read %s", path);
    }
    if (meta_file) {
        snprintf(path, sizeof path, "%s/" VENDORS "%s", HUB360_SOURCE_DIR,
                 meta_file);
        f.meta = json_load_file(path, 0, NULL);
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(f.meta, "headers"), k, v)
            put(f.headers, k, json_string_value(v), 1);
        if (!f.meta)
            FAIL_AT("cannot read %s", path);
    }
    return f;
}

static const char *meta_str(const fake_t *f, const char *key) {
    return json_string_value(json_object_get(f->meta, key));
}

static void fake_free(fake_t *f) {
    free(f->body);
    json_decref(f->meta);
}

/* ---------------------------------------------------------------------- */
/* Cases                                                                   */
/* ---------------------------------------------------------------------- */

typedef struct sig_case {
    const char *what;
    int in_query;       /* change a query parameter, not a header */
    const char *name;   /* what to change, or NULL to change nothing */
    const char *value;  /* its new value; NULL removes it */
    const char *secret; /* another secret, or NULL for the config's */
    int64_t now_ms;     /* another clock, or 0 for the request's */
    size_t cut;         /* bytes cut off the end of the body */
    int code;
    const char *msg;   /* for a nonzero code: the exact err (NULL: "") */
    int handshake;     /* hub_sig_handshake instead of hub_sig_verify */
    const char *reply; /* a handshake's expected reply */
} sig_case_t;

static void run_cases(const hub_sig_config_t *base_cfg, const fake_t *base,
                      const sig_case_t *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const sig_case_t *k = &cases[i];
        hub_sig_config_t c = *base_cfg;
        fake_t f = *base;
        char err[256] = "";
        const char *reply = "(untouched)";
        if (k->name)
            put(k->in_query ? f.query : f.headers, k->name, k->value,
                !k->in_query);
        if (k->secret)
            c.secret = k->secret;
        if (k->now_ms)
            f.r.now_ms = k->now_ms;
        f.r.len -= k->cut;
        f.r.ctx = &f;
        int rc = k->handshake
                     ? hub_sig_handshake(&c, &f.r, &reply, err, sizeof err)
                     : hub_sig_verify(&c, &f.r, err, sizeof err);
        const char *msg = k->msg ? k->msg : ""; /* HUB_ENOENT says nothing */
        if (rc != k->code || (k->code && strcmp(err, msg) != 0))
            FAIL_AT("%s: got %d \"%s\", expected %d \"%s\"", k->what, rc, err,
                    k->code, msg);
        if (k->handshake &&
            (k->code ? reply != NULL : !reply || strcmp(reply, k->reply)))
            FAIL_AT("%s: reply \"%s\", expected \"%s\"", k->what,
                    reply ? reply : "(null)", k->code ? "(null)" : k->reply);
    }
}

#define RUN(cfg, fake, cases)                                                  \
    run_cases(cfg, fake, cases, sizeof cases / sizeof cases[0])

#define MISMATCH "signature mismatch"

/* What a case changes, and what it expects back. */
#define HEADER(n, v) .name = (n), .value = (v)
#define QUERY(n, v)  .in_query = 1, .name = (n), .value = (v)
#define REJECT(m)    .code = HUB_EAUTH, .msg = (m)

/* ---------------------------------------------------------------------- */
/* Names and configs                                                       */
/* ---------------------------------------------------------------------- */

TEST(scheme_names_round_trip) {
    const char *names[] = {"none",    "shopify", "meta",  "hubspot",
                           "zendesk", "wechat",  "weibo", "hmac"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        hub_sig_scheme s = HUB_SIG_NONE;
        CHECK_INT(hub_sig_scheme_parse(names[i], &s), 0);
        CHECK_INT(s, i);
        CHECK_STR(hub_sig_scheme_name(s), names[i]);
    }
    hub_sig_scheme s;
    CHECK_INT(hub_sig_scheme_parse("Shopify", &s), HUB_EINVAL);
    CHECK_INT(hub_sig_scheme_parse("sha1", &s), HUB_EINVAL);
    CHECK_INT(hub_sig_scheme_parse(NULL, &s), HUB_EINVAL);
    CHECK_STR(hub_sig_scheme_name((hub_sig_scheme)99), "unknown");
}

TEST(configs_that_cannot_check_are_refused) {
    fake_t f = fixture("POST", "/", NULL, NULL, 0);
    f.r.ctx = &f;
    char err[128];
    hub_sig_config_t c = {.scheme = HUB_SIG_SHOPIFY};
    CHECK_INT(hub_sig_verify(&c, &f.r, err, sizeof err), HUB_EINVAL);
    CHECK_STR(err, "shopify: no secret configured");
    c.secret = "";
    CHECK_INT(hub_sig_verify(&c, &f.r, err, sizeof err), HUB_EINVAL);
    c = (hub_sig_config_t){.scheme = HUB_SIG_HMAC, .secret = "s"};
    CHECK_INT(hub_sig_verify(&c, &f.r, err, sizeof err), HUB_EINVAL);
    CHECK_STR(err, "hmac: no header configured");
    c = (hub_sig_config_t){
        .scheme = HUB_SIG_ZENDESK, .secret = "s", .max_age_ms = -1};
    CHECK_INT(hub_sig_verify(&c, &f.r, err, sizeof err), HUB_EINVAL);
    CHECK_STR(err, "zendesk: max_age_ms is negative");
    /* none checks nothing, needs nothing, and has no handshake */
    const char *reply;
    c = (hub_sig_config_t){.scheme = HUB_SIG_NONE};
    CHECK_INT(hub_sig_verify(&c, &f.r, err, sizeof err), 0);
    f.r.method = "GET";
    CHECK_INT(hub_sig_handshake(&c, &f.r, &reply, err, sizeof err), HUB_ENOENT);
    fake_free(&f);
}

/* ---------------------------------------------------------------------- */
/* Shopify, Meta and the generic HMAC                                      */
/* ---------------------------------------------------------------------- */

TEST(shopify_base64_hmac_of_the_raw_body) {
    fake_t f = fixture("POST", "/", "shopify_customer_rest_fixture.json",
                       "shopify_webhook_hmac_testvector.meta.json", 0);
    REQUIRE(f.body && f.meta);
    hub_sig_config_t c = {.scheme = HUB_SIG_SHOPIFY,
                          .secret = meta_str(&f, "secret")};
    const char *h = "X-Shopify-Hmac-Sha256";
    const char *bad =
        "X-Shopify-Hmac-Sha256 header is not base64 of a 32-byte digest";
    const sig_case_t cases[] = {
        {.what = "valid"},
        {.what = "header name in lower case",
         HEADER("x-shopify-hmac-sha256",
                "WgSGFrfUsr4jqSWMcQKZKNSnvYMYFb/yweG9dlnCFG8=")},
        {.what = "wrong secret", .secret = "hush!", REJECT(MISMATCH)},
        {.what = "body without its last newline", .cut = 1, REJECT(MISMATCH)},
        {.what = "another digest",
         HEADER(h, "XgSGFrfUsr4jqSWMcQKZKNSnvYMYFb/yweG9dlnCFG8="),
         REJECT(MISMATCH)},
        {.what = "missing",
         HEADER(h, NULL),
         REJECT("missing X-Shopify-Hmac-Sha256 header")},
        {.what = "no padding",
         HEADER(h, "WgSGFrfUsr4jqSWMcQKZKNSnvYMYFb/yweG9dlnCFG8"),
         REJECT(bad)},
        {.what = "stray bits in the last character",
         HEADER(h, "WgSGFrfUsr4jqSWMcQKZKNSnvYMYFb/yweG9dlnCFG9="),
         REJECT(bad)},
        {.what = "url-safe alphabet",
         HEADER(h, "WgSGFrfUsr4jqSWMcQKZKNSnvYMYFb_yweG9dlnCFG8="),
         REJECT(bad)},
        {.what = "hex instead of base64",
         HEADER(h, "5a048616b7d4b2be23a925cc71029928d4a7bd831815bff2c1e1bd7659c"
                   "2146f"),
         REJECT(bad)},
    };
    RUN(&c, &f, cases);
    fake_free(&f);
}

TEST(meta_sha256_prefixed_hex_and_the_challenge) {
    fake_t f = fixture("POST", "/", "meta_page_feed_comment_add_captured.json",
                       "meta_x_hub_signature_256_testvector.meta.json", 0);
    REQUIRE(f.body && f.meta);
    hub_sig_config_t c = {.scheme = HUB_SIG_META,
                          .secret = meta_str(&f, "app_secret"),
                          .verify_token = "hub360-verify"};
    const char *h = "X-Hub-Signature-256";
    const char *bad = "X-Hub-Signature-256 header is not 64 hex digits";
    const sig_case_t cases[] = {
        {.what = "valid"},
        {.what = "upper-case hex",
         HEADER(h, "sha256="
                   "D8E4C7A33E7D7BD43974DB4EC87CFAE7905462FE36B169DB7EDB399D881"
                   "55130")},
        {.what = "wrong secret", .secret = "other", REJECT(MISMATCH)},
        {.what = "missing",
         HEADER(h, NULL),
         REJECT("missing X-Hub-Signature-256 header")},
        {.what = "legacy sha1 prefix",
         HEADER(h, "sha1="
                   "d8e4c7a33e7d7bd43974db4ec87cfae7905462fe36b169db7edb399d881"
                   "55130"),
         REJECT("X-Hub-Signature-256 header does not start with \"sha256=\"")},
        {.what = "63 digits",
         HEADER(
             h,
             "sha256="
             "d8e4c7a33e7d7bd43974db4ec87cfae7905462fe36b169db7edb399d8815513"),
         REJECT(bad)},
        {.what = "not hex",
         HEADER(h, "sha256="
                   "g8e4c7a33e7d7bd43974db4ec87cfae7905462fe36b169db7edb399d881"
                   "55130"),
         REJECT(bad)},
    };
    RUN(&c, &f, cases);

    fake_t get = fixture("GET", "/", NULL, NULL, 0);
    put(get.query, "hub.mode", "subscribe", 0);
    put(get.query, "hub.verify_token", "hub360-verify", 0);
    put(get.query, "hub.challenge", "1158201444", 0);
    const sig_case_t handshakes[] = {
        {.what = "right token", .handshake = 1, .reply = "1158201444"},
        {.what = "wrong token",
         QUERY("hub.verify_token", "hub360-verif"),
         .handshake = 1,
         REJECT("hub.verify_token mismatch")},
        {.what = "no token",
         QUERY("hub.verify_token", NULL),
         .handshake = 1,
         REJECT("missing hub.verify_token query parameter")},
        {.what = "no challenge",
         QUERY("hub.challenge", NULL),
         .handshake = 1,
         REJECT("missing hub.challenge query parameter")},
        {.what = "another mode",
         QUERY("hub.mode", "unsubscribe"),
         .handshake = 1,
         REJECT("hub.mode is \"unsubscribe\", not \"subscribe\"")},
        {.what = "not a handshake",
         QUERY("hub.mode", NULL),
         .handshake = 1,
         .code = HUB_ENOENT},
    };
    RUN(&c, &get, handshakes);
    get.r.method = "POST";
    const sig_case_t post[] = {
        {.what = "a POST is no handshake", .handshake = 1, .code = HUB_ENOENT}};
    RUN(&c, &get, post);
    get.r.method = "GET";
    c.verify_token = NULL;
    const sig_case_t unset[] = {{.what = "no verify_token configured",
                                 .handshake = 1,
                                 .code = HUB_EINVAL,
                                 .msg = "meta: no verify_token configured"}};
    RUN(&c, &get, unset);
    fake_free(&f);
}

TEST(generic_hmac_in_hex_or_base64_with_an_optional_prefix) {
    /* Meta's and Shopify's vectors, read through the generic scheme */
    fake_t f = fixture("POST", "/", "meta_page_feed_comment_add_captured.json",
                       "meta_x_hub_signature_256_testvector.meta.json", 0);
    REQUIRE(f.body && f.meta);
    hub_sig_config_t c = {.scheme = HUB_SIG_HMAC,
                          .secret = meta_str(&f, "app_secret"),
                          .header = "X-Hub-Signature-256",
                          .encoding = HUB_SIG_HEX,
                          .prefix = "sha256="};
    const sig_case_t hex[] = {
        {.what = "hex with prefix"},
        {.what = "prefix missing",
         HEADER("X-Hub-Signature-256", "d8e4c7a33e7d7bd43974db4ec87cfae7905462f"
                                       "e36b169db7edb399d88155130"),
         REJECT("X-Hub-Signature-256 header does not start with \"sha256=\"")},
    };
    RUN(&c, &f, hex);
    fake_free(&f);

    f = fixture("POST", "/", "shopify_customer_rest_fixture.json", NULL, 0);
    REQUIRE(f.body);
    put(f.headers, "X-Frappe-Webhook-Signature",
        "WgSGFrfUsr4jqSWMcQKZKNSnvYMYFb/yweG9dlnCFG8=", 1);
    c = (hub_sig_config_t){.scheme = HUB_SIG_HMAC,
                           .secret = "hush",
                           .header = "X-Frappe-Webhook-Signature",
                           .encoding = HUB_SIG_BASE64};
    const sig_case_t b64[] = {
        {.what = "base64 without prefix"},
        {.what = "missing",
         HEADER("X-Frappe-Webhook-Signature", NULL),
         REJECT("missing X-Frappe-Webhook-Signature header")},
        {.what = "wrong secret", .secret = "hush ", REJECT(MISMATCH)},
    };
    RUN(&c, &f, b64);
    fake_free(&f);
}

/* ---------------------------------------------------------------------- */
/* HubSpot                                                                 */
/* ---------------------------------------------------------------------- */

TEST(hubspot_v1_and_v2_from_the_docs) {
    fake_t f = fixture(
        "POST", "https://www.example.com/webhook_uri",
        "hubspot_webhook_contact_creation_v1sig_testvector.body.json",
        "hubspot_webhook_contact_creation_v1sig_testvector.meta.json", 0);
    REQUIRE(f.body && f.meta);
    hub_sig_config_t c = {.scheme = HUB_SIG_HUBSPOT,
                          .secret = meta_str(&f, "client_secret")};
    const char *h = "X-HubSpot-Signature";
    const sig_case_t v1[] = {
        {.what = "valid v1"},
        {.what = "no version header means v1",
         HEADER("X-HubSpot-Signature-Version", NULL)},
        {.what = "wrong secret",
         .secret = "xxxxxxxx-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
         REJECT(MISMATCH)},
        {.what = "missing",
         HEADER(h, NULL),
         REJECT("missing X-HubSpot-Signature header")},
        {.what = "base64 instead of hex",
         HEADER(h, "Iy2yYV89Zm/iGo7Jcax7VALTO5qSV4TfPKZU0F9IF94="),
         REJECT("X-HubSpot-Signature header is not 64 hex digits")},
        {.what = "unknown version",
         HEADER("X-HubSpot-Signature-Version", "v9"),
         REJECT("X-HubSpot-Signature-Version \"v9\" is not v1 or v2")},
    };
    RUN(&c, &f, v1);
    /* webhook.min_version: a request with only an older signature is
     * refused, however valid (it may be a replay, or one signed v3 too
     * sent again without its v3 header) */
    hub_sig_config_t c3 = c;
    c3.min_version = 3;
    const sig_case_t v1_refused[] = {
        {.what = "valid v1, min_version v3",
         REJECT("no X-HubSpot-Signature-v3 header, and min_version v3 "
                "refuses the request's v1 signature")},
    };
    RUN(&c3, &f, v1_refused);

    /* The docs' v2 GET example: SHA-256 of secret + method + URI */
    fake_t g =
        fixture("GET", "https://www.example.com/webhook_uri", NULL, NULL, 0);
    put(g.headers, "X-HubSpot-Signature-Version", "v2", 1);
    put(g.headers, h,
        "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e", 1);
    const sig_case_t v2[] = {
        {.what = "valid v2"},
        {.what = "read as v1",
         HEADER("X-HubSpot-Signature-Version", "v1"),
         REJECT(MISMATCH)},
    };
    RUN(&c, &g, v2);
    c3.min_version = 2;
    const sig_case_t v2_min[] = {{.what = "valid v2, min_version v2"}};
    RUN(&c3, &g, v2_min);
    c3.min_version = 3;
    const sig_case_t v2_refused[] = {
        {.what = "valid v2, min_version v3",
         REJECT("no X-HubSpot-Signature-v3 header, and min_version v3 "
                "refuses the request's v2 signature")},
    };
    RUN(&c3, &g, v2_refused);
    g.r.uri = "https://www.example.com/webhook_uri?x=1";
    const sig_case_t v2uri[] = {{.what = "another URI", REJECT(MISMATCH)}};
    RUN(&c, &g, v2uri);
    fake_free(&g);
    fake_free(&f); /* last: c.secret points into its meta */
}

#define DEAL_TS 1769081994066LL /* the captured X-HubSpot-Request-Timestamp */

TEST(hubspot_v3_signs_method_decoded_uri_body_and_timestamp) {
    /* As received, with escapes HubSpot decodes before signing (%3a in
     * lower case, too) and one it keeps (%20). */
    fake_t f = fixture(
        "POST",
        "https://hooks.example.com/hubspot?tag=deal%3anew%2C%28won%29%20today",
        "hubspot_webhook_deal_creation_captured.body.json",
        "hubspot_webhook_deal_creation_captured.meta.json", DEAL_TS + 1000);
    REQUIRE(f.body && f.meta);
    put(f.headers, "x-hubspot-signature-v3",
        "AvVXyFfhEp+yHSbtxhtqBTsBiE6/4+OZ/FjKU/ghLBM=", 1);
    hub_sig_config_t c = {.scheme = HUB_SIG_HUBSPOT,
                          .secret = "hub360-hubspot-test"};
    const char *ts = "X-HubSpot-Request-Timestamp";
    const sig_case_t cases[] = {
        {.what = "valid"},
        {.what = "4 min 59 s old", .now_ms = DEAL_TS + 299999},
        {.what = "a minute fast", .now_ms = DEAL_TS - 60000},
        {.what = "older than 5 min",
         .now_ms = DEAL_TS + 300001,
         REJECT("timestamp 1769081994066 is older than 300 s")},
        {.what = "from the future",
         .now_ms = DEAL_TS - 300001,
         REJECT("timestamp 1769081994066 is more than 300 s in the future")},
        {.what = "missing timestamp",
         HEADER(ts, NULL),
         REJECT("missing X-HubSpot-Request-Timestamp header")},
        {.what = "timestamp in seconds with a fraction",
         HEADER(ts, "1769081994.066"),
         REJECT("X-HubSpot-Request-Timestamp header is not a time in "
                "milliseconds")},
        {.what = "another timestamp",
         HEADER(ts, "1769081994067"),
         REJECT(MISMATCH)},
        {.what = "wrong secret",
         .secret = "hub360-hubspot-tesT",
         REJECT(MISMATCH)},
        {.what = "malformed",
         HEADER("X-HubSpot-Signature-v3", "AvVXyFfhEp+yHSbtxhtqBTsB"),
         REJECT("X-HubSpot-Signature-v3 header is not base64 of a 32-byte "
                "digest")},
    };
    RUN(&c, &f, cases);
    hub_sig_config_t c3 = c;
    c3.min_version = 3;
    const sig_case_t v3_min[] = {{.what = "valid, min_version v3"}};
    RUN(&c3, &f, v3_min);

    /* the same URI already decoded signs the same; %20 decoded does not */
    f.r.uri = "https://hooks.example.com/hubspot?tag=deal:new,(won)%20today";
    const sig_case_t decoded[] = {{.what = "decoded URI"}};
    RUN(&c, &f, decoded);
    f.r.uri = "https://hooks.example.com/hubspot?tag=deal:new,(won) today";
    const sig_case_t space[] = {{.what = "%20 decoded", REJECT(MISMATCH)}};
    RUN(&c, &f, space);
    f.r.method = "PUT";
    f.r.uri = "https://hooks.example.com/hubspot?tag=deal:new,(won)%20today";
    const sig_case_t put_[] = {{.what = "another method", REJECT(MISMATCH)}};
    RUN(&c, &f, put_);

    /* a configured age in seconds, and one that is not whole seconds */
    f.r.method = "POST";
    c.max_age_ms = 60000;
    const sig_case_t minute[] = {
        {.what = "older than 60 s",
         .now_ms = DEAL_TS + 60001,
         REJECT("timestamp 1769081994066 is older than 60 s")}};
    RUN(&c, &f, minute);
    c.max_age_ms = 1500;
    const sig_case_t ms[] = {
        {.what = "older than 1500 ms",
         .now_ms = DEAL_TS + 1501,
         REJECT("timestamp 1769081994066 is older than 1500 ms")}};
    RUN(&c, &f, ms);
    fake_free(&f);
}

TEST(hubspot_captured_delivery_with_a_secret_we_do_not_know) {
    fake_t f = fixture("POST",
                       "https://example.execute-api.amazonaws.com"
                       "/hubspot-changes-2-netsuite",
                       "hubspot_webhook_deal_creation_captured.body.json",
                       "hubspot_webhook_deal_creation_captured.meta.json",
                       DEAL_TS + 2000);
    REQUIRE(f.body && f.meta);
    CHECK_INT(f.r.len, 267); /* its content-length header */
    hub_sig_config_t c = {.scheme = HUB_SIG_HUBSPOT, .secret = "guess"};
    const sig_case_t cases[] = {
        {.what = "v3 is checked (lower-case headers)", REJECT(MISMATCH)},
        {.what = "v3 is checked before the clock",
         .now_ms = DEAL_TS + 400000,
         REJECT("timestamp 1769081994066 is older than 300 s")},
        {.what = "without v3, v1",
         HEADER("X-HubSpot-Signature-v3", NULL),
         REJECT(MISMATCH)},
    };
    RUN(&c, &f, cases);
    fake_free(&f);
}

/* ---------------------------------------------------------------------- */
/* Zendesk                                                                 */
/* ---------------------------------------------------------------------- */

#define ZD_TS 1713374290000LL /* 2024-04-17T17:18:10Z */

TEST(zendesk_hmac_of_timestamp_and_body) {
    fake_t f = fixture(
        "POST", "/", "zendesk_webhook_ticket_created_example.body.json",
        "zendesk_webhook_ticket_created_example.meta.json", ZD_TS + 5000);
    REQUIRE(f.body && f.meta);
    const char *h = "X-Zendesk-Webhook-Signature";
    const char *ts = "X-Zendesk-Webhook-Signature-Timestamp";
    /* the example's own signature, from a secret nobody published */
    hub_sig_config_t c = {.scheme = HUB_SIG_ZENDESK,
                          .secret = "hub360-zendesk-test"};
    const sig_case_t theirs[] = {
        {.what = "the example's signature", REJECT(MISMATCH)}};
    RUN(&c, &f, theirs);
    put(f.headers, h, "2ai2Q8aQmKBpiSP9FY62NNAW6bgedlfY/C6nnkKNvNs=", 1);
    const sig_case_t cases[] = {
        {.what = "valid"},
        {.what = "wrong secret", .secret = "hub360-zendesk", REJECT(MISMATCH)},
        {.what = "missing signature",
         HEADER(h, NULL),
         REJECT("missing X-Zendesk-Webhook-Signature header")},
        {.what = "missing timestamp",
         HEADER(ts, NULL),
         REJECT("missing X-Zendesk-Webhook-Signature-Timestamp header")},
        {.what = "timestamp not RFC 3339",
         HEADER(ts, "1713374290"),
         REJECT("X-Zendesk-Webhook-Signature-Timestamp header: expected an RFC "
                "3339 time like 2026-03-14T09:26:53Z")},
        {.what = "another timestamp, same instant",
         HEADER(ts, "2024-04-17T17:18:10.000Z"),
         REJECT(MISMATCH)},
        {.what = "stale",
         .now_ms = ZD_TS + 300001,
         REJECT("timestamp 2024-04-17T17:18:10Z is older than 300 s")},
        {.what = "malformed",
         HEADER(h, "2ai2Q8aQmKBpiSP9FY62NNAW6bgedlfY/C6nnkKNvNs"),
         REJECT("X-Zendesk-Webhook-Signature header is not base64 of a 32-byte "
                "digest")},
    };
    RUN(&c, &f, cases);
    fake_free(&f);
}

/* ---------------------------------------------------------------------- */
/* WeChat and Weibo                                                        */
/* ---------------------------------------------------------------------- */

/* A query-signed request: signature over (secret, 1714032000, nonce). */
static fake_t query_signed(const char *method, const char *nonce,
                           const char *signature) {
    fake_t f = fixture(method, "/", NULL, NULL, 0);
    put(f.query, "signature", signature, 0);
    put(f.query, "timestamp", "1714032000", 0);
    put(f.query, "nonce", nonce, 0);
    return f;
}

TEST(wechat_sha1_of_sorted_token_timestamp_nonce_and_echostr) {
    const char *sig = "78b91e0400c0757d9084f5be82338ef33588f0eb";
    fake_t f = query_signed("POST", "Zx9", sig);
    hub_sig_config_t c = {.scheme = HUB_SIG_WECHAT, .secret = "wx_token_42"};
    const sig_case_t cases[] = {
        {.what = "valid"},
        {.what = "wrong token", .secret = "wx_token_43", REJECT(MISMATCH)},
        {.what = "another nonce", QUERY("nonce", "Zx8"), REJECT(MISMATCH)},
        {.what = "missing signature",
         QUERY("signature", NULL),
         REJECT("missing signature query parameter")},
        {.what = "missing timestamp",
         QUERY("timestamp", NULL),
         REJECT("missing timestamp query parameter")},
        {.what = "missing nonce",
         QUERY("nonce", NULL),
         REJECT("missing nonce query parameter")},
        {.what = "sha256-sized",
         QUERY("signature", "78b91e0400c0757d9084f5be82338ef33588f0eb78b91e0400"
                            "c0757d9084f5be"),
         REJECT("signature query parameter is not 40 hex digits")},
    };
    RUN(&c, &f, cases);

    f = query_signed("GET", "Zx9", sig);
    put(f.query, "echostr", "5837397749712306440", 0);
    const sig_case_t handshakes[] = {
        {.what = "echostr valid",
         .handshake = 1,
         .reply = "5837397749712306440"},
        {.what = "echostr with a wrong signature",
         QUERY("signature", "78b91e0400c0757d9084f5be82338ef33588f0ec"),
         .handshake = 1,
         REJECT(MISMATCH)},
        {.what = "echostr unsigned",
         QUERY("signature", NULL),
         .handshake = 1,
         REJECT("missing signature query parameter")},
        {.what = "no echostr",
         QUERY("echostr", NULL),
         .handshake = 1,
         .code = HUB_ENOENT},
    };
    RUN(&c, &f, handshakes);
}

TEST(weibo_sha1_of_sorted_app_secret_timestamp_nonce_and_echostr) {
    fake_t f =
        query_signed("GET", "0731", "4414add8a4ddb108602725722f58cedb70cd2016");
    put(f.query, "echostr", "weibo-echo", 0);
    hub_sig_config_t c = {.scheme = HUB_SIG_WEIBO,
                          .secret = "weibo_app_secret_x"};
    const sig_case_t cases[] = {
        {.what = "valid"},
        {.what = "wrong app secret",
         .secret = "weibo_app_secret_y",
         REJECT(MISMATCH)},
        {.what = "echostr valid", .handshake = 1, .reply = "weibo-echo"},
        {.what = "echostr, another nonce",
         QUERY("nonce", "0732"),
         .handshake = 1,
         REJECT(MISMATCH)},
    };
    RUN(&c, &f, cases);
}
