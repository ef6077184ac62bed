/*
 * hub360 - webhook signatures: each vendor's convention, checked on the raw
 * body and compared in constant time.
 *
 * Every scheme comes down to the same three steps: find the signature the
 * vendor sent (a header or a query parameter) and decode it strictly into
 * bytes; compute the digest the vendor computed over pieces of the request
 * (secret, method, URI, body, timestamp, in the vendor's order); compare the
 * two with CRYPTO_memcmp. Decoding to bytes first means a malformed value
 * is told apart from a wrong one, and hex case does not matter.
 *
 * Simplifications, admitted: wechat and weibo carry a timestamp in the
 * query but their docs set no age limit, so none is enforced here (a replay
 * of a captured push verifies); WeChat's "safe mode" (msg_signature over the
 * encrypted body) is not handled.
 */
#include "signature.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errors.h"
#include "hash.h"
#include "timefmt.h"

#define SHA256_LEN         32
#define SHA1_LEN           20
#define DEFAULT_MAX_AGE_MS 300000 /* HubSpot's advice: 5 minutes */

static const char *const scheme_names[] = {
    [HUB_SIG_NONE] = "none",       [HUB_SIG_SHOPIFY] = "shopify",
    [HUB_SIG_META] = "meta",       [HUB_SIG_HUBSPOT] = "hubspot",
    [HUB_SIG_ZENDESK] = "zendesk", [HUB_SIG_WECHAT] = "wechat",
    [HUB_SIG_WEIBO] = "weibo",     [HUB_SIG_HMAC] = "hmac",
};
#define NSCHEMES (sizeof scheme_names / sizeof scheme_names[0])

const char *hub_sig_scheme_name(hub_sig_scheme s) {
    if ((unsigned)s >= NSCHEMES)
        return "unknown";
    return scheme_names[s];
}

int hub_sig_scheme_parse(const char *name, hub_sig_scheme *out) {
    for (size_t i = 0; name && i < NSCHEMES; i++) {
        if (strcmp(name, scheme_names[i]) == 0) {
            *out = (hub_sig_scheme)i;
            return 0;
        }
    }
    return HUB_EINVAL;
}

/* ---------------------------------------------------------------------- */
/* Digests over pieces of the request                                      */
/* ---------------------------------------------------------------------- */

typedef struct piece {
    const void *p;
    size_t n;
} piece_t;

#define PIECE_STR(s) ((piece_t){(s), strlen(s)})

/* HMAC-SHA256 of the pieces in order, keyed with key. 0 or HUB_ENOMEM
 * (OpenSSL could not set up, which in practice means memory). */
static int hmac_sha256(const char *key, const piece_t *parts, size_t n,
                       uint8_t out[SHA256_LEN], char *err, size_t errlen) {
    int rc = HUB_ENOMEM;
    size_t outlen = 0;
    char md_name[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, md_name, 0),
        OSSL_PARAM_construct_end()};
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    if (!ctx ||
        !EVP_MAC_init(ctx, (const unsigned char *)key, strlen(key), params))
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (!EVP_MAC_update(ctx, parts[i].p, parts[i].n))
            goto fail;
    if (!EVP_MAC_final(ctx, out, &outlen, SHA256_LEN) || outlen != SHA256_LEN)
        goto fail;
    rc = 0;
fail:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    if (rc < 0)
        return hub_fail(err, errlen, rc, "HMAC-SHA256: out of memory");
    return 0;
}

/* A plain digest (SHA-256, SHA-1) of the pieces in order. 0 or HUB_ENOMEM. */
static int digest(const EVP_MD *md, const piece_t *parts, size_t n,
                  uint8_t *out, char *err, size_t errlen) {
    int rc = HUB_ENOMEM;
    unsigned outlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, md, NULL))
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (!EVP_DigestUpdate(ctx, parts[i].p, parts[i].n))
            goto fail;
    if (!EVP_DigestFinal_ex(ctx, out, &outlen))
        goto fail;
    rc = 0;
fail:
    EVP_MD_CTX_free(ctx);
    if (rc < 0)
        return hub_fail(err, errlen, rc, "%s: out of memory",
                        EVP_MD_get0_name(md));
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Strict decoding of what the vendor sent                                 */
/* ---------------------------------------------------------------------- */

/* Exactly 2 * want hex digits (either case) into want bytes; 0 or -1. */
static int hex_decode(const char *s, uint8_t *out, size_t want) {
    if (strlen(s) != 2 * want)
        return -1;
    for (size_t i = 0; i < want; i++) {
        int hi = hub_hex_digit(s[2 * i]), lo = hub_hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* Base64 of exactly want bytes; 0 or -1. */
static int b64_decode(const char *s, uint8_t *out, size_t want) {
    size_t n;
    return hub_base64_decode(s, strlen(s), out, want, &n) == 0 && n == want
               ? 0
               : -1;
}

/* ---------------------------------------------------------------------- */
/* The checks every scheme shares                                          */
/* ---------------------------------------------------------------------- */

static const char *header(const hub_sig_request_t *r, const char *name) {
    return r->header ? r->header(r->ctx, name) : NULL;
}

static const char *query(const hub_sig_request_t *r, const char *name) {
    return r->query ? r->query(r->ctx, name) : NULL;
}

/*
 * Compares sig, as the vendor sent it in `where` (a header or query
 * parameter name, for messages), with the digest computed here: the prefix
 * (or NULL) first, then want_len bytes in enc. 0 or HUB_EAUTH.
 */
static int compare(const char *where, const char *sig, const char *prefix,
                   hub_sig_encoding enc, const uint8_t *want, size_t want_len,
                   char *err, size_t errlen) {
    uint8_t got[SHA256_LEN];
    size_t plen = prefix ? strlen(prefix) : 0;
    if (plen && strncmp(sig, prefix, plen) != 0)
        return hub_fail(err, errlen, HUB_EAUTH, "%s does not start with \"%s\"",
                        where, prefix);
    sig += plen;
    if (enc == HUB_SIG_HEX && hex_decode(sig, got, want_len) != 0)
        return hub_fail(err, errlen, HUB_EAUTH, "%s is not %zu hex digits",
                        where, 2 * want_len);
    if (enc == HUB_SIG_BASE64 && b64_decode(sig, got, want_len) != 0)
        return hub_fail(err, errlen, HUB_EAUTH,
                        "%s is not base64 of a %zu-byte digest", where,
                        want_len);
    if (CRYPTO_memcmp(got, want, want_len) != 0)
        return hub_fail(err, errlen, HUB_EAUTH, "signature mismatch");
    return 0;
}

/* The value of header `name`, or HUB_EAUTH "missing NAME header". */
static int need_header(const hub_sig_request_t *r, const char *name,
                       const char **out, char *err, size_t errlen) {
    *out = header(r, name);
    if (!*out)
        return hub_fail(err, errlen, HUB_EAUTH, "missing %s header", name);
    return 0;
}

/*
 * Refuses a timestamp (ts, its text as sent) further from now than the
 * configured age, either way: one from the future would stay replayable
 * for longer. 0 or HUB_EAUTH.
 */
static int check_age(const hub_sig_config_t *c, const hub_sig_request_t *r,
                     const char *text, int64_t ts, char *err, size_t errlen) {
    int64_t max = c->max_age_ms ? c->max_age_ms : DEFAULT_MAX_AGE_MS;
    const char *unit = max % 1000 ? "ms" : "s";
    long long shown = max % 1000 ? max : max / 1000;
    if (ts < r->now_ms - max)
        return hub_fail(err, errlen, HUB_EAUTH,
                        "timestamp %s is older than %lld %s", text, shown,
                        unit);
    if (ts > r->now_ms + max)
        return hub_fail(err, errlen, HUB_EAUTH,
                        "timestamp %s is more than %lld %s in the future", text,
                        shown, unit);
    return 0;
}

/* HMAC-SHA256 of the body against header `name`: shopify, meta, hmac. */
static int verify_body_hmac(const hub_sig_config_t *c,
                            const hub_sig_request_t *r, const char *name,
                            const char *prefix, hub_sig_encoding enc, char *err,
                            size_t errlen) {
    const char *sig;
    char where[128];
    uint8_t want[SHA256_LEN];
    piece_t body = {r->body, r->len};
    int rc = need_header(r, name, &sig, err, errlen);
    if (rc == 0)
        rc = hmac_sha256(c->secret, &body, 1, want, err, errlen);
    if (rc < 0)
        return rc;
    snprintf(where, sizeof where, "%s header", name);
    return compare(where, sig, prefix, enc, want, sizeof want, err, errlen);
}

/* ---------------------------------------------------------------------- */
/* HubSpot                                                                 */
/* ---------------------------------------------------------------------- */

/*
 * HubSpot's v3 docs: before signing, decode these (and only these)
 * percent-escapes in the URI, in either case of hex. Writes the decoded
 * URI into out (at least strlen(uri) + 1 bytes).
 */
static void hubspot_decode_uri(const char *uri, char *out) {
    static const char decoded[] = ":/?@!$'()*,;";
    size_t o = 0;
    for (size_t i = 0; uri[i]; i++) {
        if (uri[i] == '%' && hub_hex_digit(uri[i + 1]) >= 0 &&
            hub_hex_digit(uri[i + 2]) >= 0) {
            char ch = (char)(hub_hex_digit(uri[i + 1]) << 4 | hub_hex_digit(uri[i + 2]));
            if (ch && strchr(decoded, ch)) {
                out[o++] = ch;
                i += 2;
                continue;
            }
        }
        out[o++] = uri[i];
    }
    out[o] = '\0';
}

/* Milliseconds since the epoch, digits only; 0 or -1. */
static int parse_millis(const char *s, int64_t *out) {
    int64_t v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 18)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int verify_hubspot_v3(const hub_sig_config_t *c,
                             const hub_sig_request_t *r, const char *sig,
                             char *err, size_t errlen) {
    const char *ts_text;
    int64_t ts;
    uint8_t want[SHA256_LEN];
    int rc =
        need_header(r, "X-HubSpot-Request-Timestamp", &ts_text, err, errlen);
    if (rc < 0)
        return rc;
    if (parse_millis(ts_text, &ts) != 0)
        return hub_fail(err, errlen, HUB_EAUTH,
                        "X-HubSpot-Request-Timestamp header is not a time in "
                        "milliseconds");
    if (!r->method || !r->uri)
        return hub_fail(err, errlen, HUB_EINVAL,
                        "hubspot v3 signs the method and URI; the request "
                        "has none");
    rc = check_age(c, r, ts_text, ts, err, errlen);
    if (rc < 0)
        return rc;
    char *uri = malloc(strlen(r->uri) + 1);
    if (!uri)
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    hubspot_decode_uri(r->uri, uri);
    piece_t parts[] = {PIECE_STR(r->method),
                       PIECE_STR(uri),
                       {r->body, r->len},
                       PIECE_STR(ts_text)};
    rc = hmac_sha256(c->secret, parts, 4, want, err, errlen);
    free(uri);
    if (rc < 0)
        return rc;
    return compare("X-HubSpot-Signature-v3 header", sig, NULL, HUB_SIG_BASE64,
                   want, sizeof want, err, errlen);
}

/* v1: hex(SHA-256(secret + body)); v2 adds method and URI before the body
 * (HubSpot's workflow webhooks and CRM cards send v2). */
static int verify_hubspot_v1v2(const hub_sig_config_t *c,
                               const hub_sig_request_t *r, char *err,
                               size_t errlen) {
    const char *sig, *version = header(r, "X-HubSpot-Signature-Version");
    uint8_t want[SHA256_LEN];
    int v2 = version && strcmp(version, "v2") == 0;
    int rc = need_header(r, "X-HubSpot-Signature", &sig, err, errlen);
    if (rc < 0)
        return rc;
    if (version && !v2 && strcmp(version, "v1") != 0)
        return hub_fail(err, errlen, HUB_EAUTH,
                        "X-HubSpot-Signature-Version \"%s\" is not v1 or v2",
                        version);
    if (c->min_version > (v2 ? 2 : 1))
        return hub_fail(err, errlen, HUB_EAUTH,
                        "no X-HubSpot-Signature-v3 header, and min_version "
                        "v%d refuses the request's v%d signature",
                        c->min_version, v2 ? 2 : 1);
    if (v2 && (!r->method || !r->uri))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "hubspot v2 signs the method and URI; the request "
                        "has none");
    piece_t parts[] = {PIECE_STR(c->secret),
                       v2 ? PIECE_STR(r->method) : (piece_t){"", 0},
                       v2 ? PIECE_STR(r->uri) : (piece_t){"", 0},
                       {r->body, r->len}};
    rc = digest(EVP_sha256(), parts, 4, want, err, errlen);
    if (rc < 0)
        return rc;
    return compare("X-HubSpot-Signature header", sig, NULL, HUB_SIG_HEX, want,
                   sizeof want, err, errlen);
}

static int verify_hubspot(const hub_sig_config_t *c, const hub_sig_request_t *r,
                          char *err, size_t errlen) {
    const char *v3 = header(r, "X-HubSpot-Signature-v3");
    if (v3)
        return verify_hubspot_v3(c, r, v3, err, errlen);
    return verify_hubspot_v1v2(c, r, err, errlen);
}

/* ---------------------------------------------------------------------- */
/* Zendesk                                                                 */
/* ---------------------------------------------------------------------- */

static int verify_zendesk(const hub_sig_config_t *c, const hub_sig_request_t *r,
                          char *err, size_t errlen) {
    const char *sig, *ts_text, *why;
    int64_t ts;
    uint8_t want[SHA256_LEN];
    int rc = need_header(r, "X-Zendesk-Webhook-Signature", &sig, err, errlen);
    if (rc == 0)
        rc = need_header(r, "X-Zendesk-Webhook-Signature-Timestamp", &ts_text,
                         err, errlen);
    if (rc < 0)
        return rc;
    if (hub_time_parse(ts_text, strlen(ts_text), &ts, &why) != 0)
        return hub_fail(err, errlen, HUB_EAUTH,
                        "X-Zendesk-Webhook-Signature-Timestamp header: %s",
                        why);
    rc = check_age(c, r, ts_text, ts, err, errlen);
    if (rc < 0)
        return rc;
    piece_t parts[] = {PIECE_STR(ts_text), {r->body, r->len}};
    rc = hmac_sha256(c->secret, parts, 2, want, err, errlen);
    if (rc < 0)
        return rc;
    return compare("X-Zendesk-Webhook-Signature header", sig, NULL,
                   HUB_SIG_BASE64, want, sizeof want, err, errlen);
}

/* ---------------------------------------------------------------------- */
/* WeChat and Weibo                                                        */
/* ---------------------------------------------------------------------- */

static int by_bytes(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The query's signature = hex(SHA-1(sort(secret, timestamp, nonce)
 * joined)), the same for both vendors. */
static int verify_sorted_sha1(const hub_sig_config_t *c,
                              const hub_sig_request_t *r, char *err,
                              size_t errlen) {
    static const char *const names[] = {"signature", "timestamp", "nonce"};
    const char *v[3];
    uint8_t want[SHA1_LEN];
    for (int i = 0; i < 3; i++) {
        v[i] = query(r, names[i]);
        if (!v[i])
            return hub_fail(err, errlen, HUB_EAUTH,
                            "missing %s query parameter", names[i]);
    }
    const char *sorted[3] = {c->secret, v[1], v[2]};
    qsort(sorted, 3, sizeof sorted[0], by_bytes);
    piece_t parts[] = {PIECE_STR(sorted[0]), PIECE_STR(sorted[1]),
                       PIECE_STR(sorted[2])};
    int rc = digest(EVP_sha1(), parts, 3, want, err, errlen);
    if (rc < 0)
        return rc;
    return compare("signature query parameter", v[0], NULL, HUB_SIG_HEX, want,
                   sizeof want, err, errlen);
}

/* ---------------------------------------------------------------------- */
/* The public calls                                                        */
/* ---------------------------------------------------------------------- */

/* Whether c can check anything at all; 0 or HUB_EINVAL. */
static int check_config(const hub_sig_config_t *c, char *err, size_t errlen) {
    if ((unsigned)c->scheme >= NSCHEMES)
        return hub_fail(err, errlen, HUB_EINVAL, "unknown signature scheme %d",
                        (int)c->scheme);
    if (c->scheme == HUB_SIG_NONE)
        return 0;
    if (!c->secret || !*c->secret)
        return hub_fail(err, errlen, HUB_EINVAL, "%s: no secret configured",
                        scheme_names[c->scheme]);
    if (c->scheme == HUB_SIG_HMAC && (!c->header || !*c->header))
        return hub_fail(err, errlen, HUB_EINVAL, "hmac: no header configured");
    if (c->max_age_ms < 0)
        return hub_fail(err, errlen, HUB_EINVAL, "%s: max_age_ms is negative",
                        scheme_names[c->scheme]);
    return 0;
}

int hub_sig_verify(const hub_sig_config_t *c, const hub_sig_request_t *r,
                   char *err, size_t errlen) {
    int rc = check_config(c, err, errlen);
    if (rc < 0)
        return rc;
    switch (c->scheme) {
    case HUB_SIG_NONE: return 0;
    case HUB_SIG_SHOPIFY:
        return verify_body_hmac(c, r, "X-Shopify-Hmac-Sha256", NULL,
                                HUB_SIG_BASE64, err, errlen);
    case HUB_SIG_META:
        return verify_body_hmac(c, r, "X-Hub-Signature-256",
                                "sha256=", HUB_SIG_HEX, err, errlen);
    case HUB_SIG_HUBSPOT: return verify_hubspot(c, r, err, errlen);
    case HUB_SIG_ZENDESK: return verify_zendesk(c, r, err, errlen);
    case HUB_SIG_WECHAT:
    case HUB_SIG_WEIBO: return verify_sorted_sha1(c, r, err, errlen);
    case HUB_SIG_HMAC:
        return verify_body_hmac(c, r, c->header, c->prefix, c->encoding, err,
                                errlen);
    }
    return hub_fail(err, errlen, HUB_EINVAL, "unknown signature scheme");
}

/* Meta's GET: hub.mode=subscribe&hub.verify_token=...&hub.challenge=... */
static int handshake_meta(const hub_sig_config_t *c, const hub_sig_request_t *r,
                          const char **reply, char *err, size_t errlen) {
    const char *mode = query(r, "hub.mode");
    const char *token = query(r, "hub.verify_token");
    const char *challenge = query(r, "hub.challenge");
    if (!mode)
        return HUB_ENOENT;
    if (!c->verify_token || !*c->verify_token)
        return hub_fail(err, errlen, HUB_EINVAL,
                        "meta: no verify_token configured");
    if (strcmp(mode, "subscribe") != 0)
        return hub_fail(err, errlen, HUB_EAUTH,
                        "hub.mode is \"%s\", not \"subscribe\"", mode);
    if (!token)
        return hub_fail(err, errlen, HUB_EAUTH,
                        "missing hub.verify_token query parameter");
    if (!challenge)
        return hub_fail(err, errlen, HUB_EAUTH,
                        "missing hub.challenge query parameter");
    size_t n = strlen(c->verify_token);
    if (strlen(token) != n || CRYPTO_memcmp(token, c->verify_token, n) != 0)
        return hub_fail(err, errlen, HUB_EAUTH, "hub.verify_token mismatch");
    *reply = challenge;
    return 0;
}

int hub_sig_handshake(const hub_sig_config_t *c, const hub_sig_request_t *r,
                      const char **reply, char *err, size_t errlen) {
    *reply = NULL;
    if (!r->method || strcmp(r->method, "GET") != 0)
        return HUB_ENOENT;
    if (c->scheme == HUB_SIG_META)
        return handshake_meta(c, r, reply, err, errlen);
    if (c->scheme != HUB_SIG_WECHAT && c->scheme != HUB_SIG_WEIBO)
        return HUB_ENOENT;
    const char *echostr = query(r, "echostr");
    if (!echostr)
        return HUB_ENOENT;
    int rc = hub_sig_verify(c, r, err, errlen);
    if (rc < 0)
        return rc;
    *reply = echostr;
    return 0;
}
