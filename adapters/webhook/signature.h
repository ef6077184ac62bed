/*
 * hub360 - webhook signatures: is this request really from the vendor?
 *
 * Each scheme is the vendor's documented convention, checked on the raw
 * body bytes as received (never on a re-serialized form) and compared in
 * constant time. The caller gives the request through a small read-only
 * view (header and query lookups, method, URI, body, clock), so this
 * module knows nothing about the HTTP server.
 *
 * Schemes:
 *   shopify    X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(secret, body))
 *   meta       X-Hub-Signature-256 = "sha256=" hex(HMAC-SHA256(secret, body));
 *              GET handshake: hub.mode=subscribe, hub.verify_token, hub.challenge
 *   hubspot    X-HubSpot-Signature-v3 when present (base64 HMAC-SHA256 of
 *              method + URI + body + X-HubSpot-Request-Timestamp, timestamp
 *              no older than max_age; the URI with the escapes HubSpot's
 *              docs list decoded: %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A
 *              %2C %3B), else v1 X-HubSpot-Signature =
 *              hex(SHA-256(secret + body)), or v2 (secret + method + URI +
 *              body) when X-HubSpot-Signature-Version says v2
 *   zendesk    X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(secret,
 *              X-Zendesk-Webhook-Signature-Timestamp + body)), timestamp
 *              no older than max_age
 *   wechat     query signature = hex(SHA-1(sort(token, timestamp, nonce)
 *              joined)); GET handshake answers echostr. No age limit: the
 *              docs set none, so a captured push can be replayed
 *   weibo      same construction with the app secret; echostr handshake
 *   hmac       generic: header `header`, HMAC-SHA256 of the body in hex or
 *              base64, optional prefix such as "sha256="
 *   none       no check (for sources behind a trusted proxy; says so in
 *              the log at start)
 *
 * Hex is accepted in either case; base64 must be standard and padded.
 * Timestamps are refused when further than max_age from now_ms either way
 * (one from the future would stay replayable for longer). Nothing here
 * keeps state: every call is safe from any thread.
 */
#ifndef HUB_SIGNATURE_H
#define HUB_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

typedef enum hub_sig_scheme {
    HUB_SIG_NONE,
    HUB_SIG_SHOPIFY,
    HUB_SIG_META,
    HUB_SIG_HUBSPOT,
    HUB_SIG_ZENDESK,
    HUB_SIG_WECHAT,
    HUB_SIG_WEIBO,
    HUB_SIG_HMAC,
} hub_sig_scheme;

/* "none", "shopify", ... "hmac" <-> the enum. Name returns a static
 * string ("unknown" for a value out of range). Parse returns 0 or
 * HUB_EINVAL for an unknown name (names are lower case). */
const char *hub_sig_scheme_name(hub_sig_scheme s);
int hub_sig_scheme_parse(const char *name, hub_sig_scheme *out);

typedef enum hub_sig_encoding {
    HUB_SIG_HEX,
    HUB_SIG_BASE64,
} hub_sig_encoding;

typedef struct hub_sig_config {
    hub_sig_scheme scheme;
    const char *secret;        /* signing secret, app secret or token */
    const char *verify_token;  /* meta: the hub.verify_token to accept */
    const char *header;        /* hmac: the header carrying the signature */
    hub_sig_encoding encoding; /* hmac: hex or base64 */
    const char *prefix;        /* hmac: text before the digest, or NULL */
    int64_t max_age_ms;        /* hubspot v3, zendesk: oldest timestamp;
                                  0 for 300000 (HubSpot's 5 minutes) */
    int min_version;           /* hubspot: 1, 2 or 3, the oldest signature
                                  version taken (0 counts as 1) */
} hub_sig_config_t;

/* A read-only view of one request. Lookups return NULL when absent;
 * header names are matched case-insensitively. Borrowed for the call. */
typedef struct hub_sig_request {
    const char *method;  /* "POST", "GET" */
    const char *uri;     /* the full URL the vendor called, as received:
                            "https://host/path?q" (hubspot v2, v3) */
    const char *(*header)(void *ctx, const char *name);
    const char *(*query)(void *ctx, const char *name);
    void *ctx;
    const void *body;
    size_t len;
    int64_t now_ms;      /* wall clock, for timestamp age checks */
} hub_sig_request_t;

/*
 * Checks the request's signature. Returns 0 when it verifies, HUB_EAUTH
 * when it is missing, malformed, wrong or too old (err says which:
 * "missing X-Shopify-Hmac-Sha256 header", "signature mismatch",
 * "timestamp 1700000000000 is older than 300 s"), HUB_EINVAL when the
 * config cannot check anything (no secret; hmac without a header; a
 * negative max_age_ms) or hubspot v2/v3 meets a request without method
 * or URI, HUB_ENOMEM when OpenSSL cannot allocate.
 */
int hub_sig_verify(const hub_sig_config_t *c, const hub_sig_request_t *r,
                   char *err, size_t errlen);

/*
 * Subscription handshakes (GET): meta's hub.challenge, wechat's and
 * weibo's echostr. Returns 0 with *reply set to the text to answer with
 * 200 (it points into the request's query value), HUB_ENOENT when the
 * request is not a handshake of this scheme (not a GET; no hub.mode, no
 * echostr; another scheme) with err untouched, HUB_EAUTH when it is one but
 * does not verify, HUB_EINVAL when meta has no verify_token configured.
 * *reply is NULL unless 0 is returned.
 */
int hub_sig_handshake(const hub_sig_config_t *c, const hub_sig_request_t *r,
                      const char **reply, char *err, size_t errlen);

#endif
