/*
 * hub360 - the poller's HTTP client (see client.h): building a request
 * from a mapping's description, credentials (bearer, basic, a vendor
 * header, OAuth2 client credentials with a cached token), the rate
 * limit, and retries with full-jitter backoff.
 */
#include "client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "errors.h"
#include "log.h"
#include "metrics.h"
#include "timefmt.h"

#define BODY_EXCERPT 200           /* bytes of an error body in messages */
#define RETRY_AFTER_MAX 3600000    /* the longest Retry-After obeyed, ms */
#define TOKEN_MARGIN_MS 60000      /* a token is renewed this long early */

/* ------------------------------------------------------------------ */
/* Stopping                                                            */
/* ------------------------------------------------------------------ */

void hub_poll_stop_init(hub_poll_stop_t *s) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, &a);
    pthread_condattr_destroy(&a);
    s->stopped = 0;
}

void hub_poll_stop_destroy(hub_poll_stop_t *s) {
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
}

void hub_poll_stop_request(hub_poll_stop_t *s) {
    pthread_mutex_lock(&s->lock);
    __atomic_store_n(&s->stopped, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

int hub_poll_stop_requested(hub_poll_stop_t *s) {
    return __atomic_load_n(&s->stopped, __ATOMIC_ACQUIRE);
}

int hub_poll_stop_wait(hub_poll_stop_t *s, int64_t ms) {
    if (ms <= 0)
        return hub_poll_stop_requested(s);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&s->lock);
    while (!s->stopped &&
           pthread_cond_timedwait(&s->cond, &s->lock, &until) == 0) {
    }
    int stopped = s->stopped;
    pthread_mutex_unlock(&s->lock);
    return stopped;
}

/* ------------------------------------------------------------------ */
/* Delays                                                              */
/* ------------------------------------------------------------------ */

int64_t hub_poll_retry_after_ms(const char *value, int64_t now_ms) {
    while (*value == ' ' || *value == '\t')
        value++;
    size_t len = strlen(value);
    while (len && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    if (len == 0)
        return -1;
    char text[128];
    if (len >= sizeof(text))
        return -1;
    memcpy(text, value, len);
    text[len] = '\0';
    if (strspn(text, "0123456789") == len) {
        if (len > 9) /* over 30 years: clamp */
            return (int64_t)999999999 * 1000;
        return strtoll(text, NULL, 10) * 1000;
    }
    time_t when = curl_getdate(text, NULL);
    if (when == (time_t)-1)
        return -1;
    int64_t ms = (int64_t)when * 1000 - now_ms;
    return ms > 0 ? ms : 0;
}

int64_t hub_poll_backoff_ms(int64_t base_ms, int64_t max_ms, int attempt,
                            uint64_t *rng) {
    int64_t cap = base_ms > 0 ? base_ms : 0;
    for (int i = 0; i < attempt && cap < max_ms; i++)
        cap *= 2;
    if (cap > max_ms)
        cap = max_ms;
    if (cap <= 0)
        return 0;
    uint64_t x = *rng ? *rng : 0x9e3779b97f4a7c15ULL;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *rng = x;
    return (int64_t)(x % ((uint64_t)cap + 1));
}

/* ------------------------------------------------------------------ */
/* The client                                                          */
/* ------------------------------------------------------------------ */

struct hub_poll_client {
    const hub_poll_config_t *cfg;
    const char *source;
    hub_poll_stop_t *stop;
    CURL *curl;
    char *base;              /* poll.url without a trailing '/' */
    int oauth;
    char *token;             /* OAuth2 access token, or NULL */
    int64_t token_until;     /* monotonic ms it is renewed at */
    int64_t last_start;      /* monotonic ms of the last request, or 0 */
    uint64_t rng;
    uint64_t requests, retries;
    hub_metric_t *retried;   /* hub360_poll_retries_total of the source */
    char last[512];          /* "METHOD URL" of the last request */
};

/* One request, built from a mapping's description. */
typedef struct spec {
    const char *method;
    hub_buf_t url;
    struct curl_slist *headers;
    char *body;              /* owned, or NULL */
    size_t blen;
    int auth;                /* send the source's credentials */
} spec_t;

/* What came back. */
typedef struct answer {
    long status;
    hub_buf_t body;
    char retry_after[64];
    int too_big;
} answer_t;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int hub_poll_client_new(const hub_poll_config_t *cfg, const char *source,
                        hub_poll_stop_t *stop, hub_poll_client_t **out,
                        char *err, size_t errlen) {
    const hub_poll_auth_config_t *a = &cfg->auth;
    if (a->token_url[0] && (!a->client_id[0] || !a->client_secret[0]))
        return hub_fail(err, errlen, HUB_ECONFIG,
                        "poll.auth.token_url needs client_id and "
                        "client_secret");
    if (a->password[0] && !a->username[0])
        return hub_fail(err, errlen, HUB_ECONFIG,
                        "poll.auth.password needs a username");
    if (a->header[0] && (!strchr(a->header, ':') || a->header[0] == ':' ||
                         strpbrk(a->header, "\r\n")))
        return hub_fail(err, errlen, HUB_ECONFIG,
                        "poll.auth.header: expected \"Name: value\"");
    if (strncmp(cfg->url, "http://", 7) != 0 &&
        strncmp(cfg->url, "https://", 8) != 0)
        return hub_fail(err, errlen, HUB_ECONFIG,
                        "poll.url '%s': expected an http:// or https:// URL",
                        cfg->url);
    pthread_once(&curl_once, curl_init);
    hub_poll_client_t *c = calloc(1, sizeof(*c));
    if (!c || !(c->curl = curl_easy_init()) || !(c->base = strdup(cfg->url))) {
        hub_poll_client_free(c);
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    }
    size_t n = strlen(c->base);
    while (n && c->base[n - 1] == '/')
        c->base[--n] = '\0';
    c->cfg = cfg;
    c->source = source;
    c->stop = stop;
    c->oauth = a->token_url[0] != '\0';
    c->rng = (uint64_t)hub_time_now_ms() ^ ((uint64_t)(uintptr_t)c << 16);
    char labels[300];
    snprintf(labels, sizeof(labels), "source=\"%s\"", source);
    c->retried = hub_metrics_counter("hub360_poll_retries_total",
                                     "Requests of a polled source retried "
                                     "(5xx, 429, timeouts, connections "
                                     "lost mid-answer).",
                                     labels);
    *out = c;
    return 0;
}

void hub_poll_client_free(hub_poll_client_t *c) {
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->base);
    free(c->token);
    free(c);
}

const char *hub_poll_client_last(const hub_poll_client_t *c) {
    return c->last;
}

void hub_poll_client_counts(const hub_poll_client_t *c, uint64_t *requests,
                            uint64_t *retries) {
    *requests = c->requests;
    *retries = c->retries;
}

static void spec_free(spec_t *s) {
    hub_buf_free(&s->url);
    curl_slist_free_all(s->headers);
    free(s->body);
}

/* The URL up to its query, for messages (queries may carry keys). */
static int url_shown(const hub_buf_t *url) {
    const char *q = strchr(url->data ? url->data : "", '?');
    return q ? (int)(q - url->data) : (int)url->len;
}

static int add_header(spec_t *s, const char *name, const char *value) {
    hub_buf_t line = HUB_BUF_INIT;
    int rc = hub_buf_printf(&line, "%s: %s", name, value);
    struct curl_slist *l = rc ? NULL : curl_slist_append(s->headers,
                                                         line.data);
    hub_buf_free(&line);
    if (!l)
        return HUB_ENOMEM;
    s->headers = l;
    return 0;
}

/* A scalar as query or header text (into text, or a new string in *own
 * for objects and arrays); NULL for null. */
static const char *scalar_text(const json_t *v, char *text, size_t len,
                               char **own) {
    *own = NULL;
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(text, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return text;
    }
    if (json_is_real(v)) {
        snprintf(text, len, "%.17g", json_real_value(v));
        return text;
    }
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    if (json_is_null(v))
        return NULL;
    return *own = json_dumps(v, JSON_COMPACT);
}

static int build_query(hub_poll_client_t *c, spec_t *s, const json_t *q,
                       char *err, size_t errlen) {
    if (!q || json_is_null(q))
        return 0;
    if (!json_is_object(q))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "poll_request: query is not an object");
    char sep = strchr(s->url.data, '?') ? '&' : '?';
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)q, key, v) {
        char text[64], *own;
        const char *val = scalar_text(v, text, sizeof(text), &own);
        if (!val)
            continue;
        char *ek = curl_easy_escape(c->curl, key, 0);
        char *ev = curl_easy_escape(c->curl, val, 0);
        int rc = ek && ev ? hub_buf_printf(&s->url, "%c%s=%s", sep, ek, ev)
                          : HUB_ENOMEM;
        curl_free(ek);
        curl_free(ev);
        free(own);
        if (rc)
            return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
        sep = '&';
    }
    return 0;
}

static int build_headers(spec_t *s, const json_t *h, int *has_type,
                         char *err, size_t errlen) {
    if (!h || json_is_null(h))
        return 0;
    if (!json_is_object(h))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "poll_request: headers is not an object");
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)h, name, v) {
        char text[64], *own;
        const char *val = scalar_text(v, text, sizeof(text), &own);
        if (!val)
            continue;
        int bad = !*name || strpbrk(name, ":\r\n ") || strpbrk(val, "\r\n");
        int rc = bad ? HUB_EINVAL : add_header(s, name, val);
        free(own);
        if (rc)
            return hub_fail(err, errlen, rc,
                            rc == HUB_EINVAL ? "poll_request: header '%s' "
                                               "is not a valid header"
                                             : "out of memory (%s)",
                            name);
        if (strcasecmp(name, "content-type") == 0)
            *has_type = 1;
    }
    return 0;
}

/* Fills s from the mapping's request object. */
static int build_spec(hub_poll_client_t *c, const json_t *req, spec_t *s,
                      char *err, size_t errlen) {
    if (!json_is_object(req))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "poll_request did not give an object");
    const json_t *m = json_object_get(req, "method");
    s->method = json_is_string(m) ? json_string_value(m) : "GET";
    if (!*s->method || strspn(s->method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") !=
                           strlen(s->method))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "poll_request: method '%s' is not an HTTP method",
                        s->method);
    const json_t *url = json_object_get(req, "url"),
                 *path = json_object_get(req, "path");
    int rc;
    if (json_is_string(url)) {
        const char *u = json_string_value(url);
        if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
            return hub_fail(err, errlen, HUB_EINVAL,
                            "poll_request: url '%.100s' is not an http(s) "
                            "URL",
                            u);
        rc = hub_buf_puts(&s->url, u);
    } else if (json_is_string(path)) {
        const char *p = json_string_value(path);
        rc = hub_buf_printf(&s->url, "%s%s%s", c->base,
                            *p && *p != '/' ? "/" : "", p);
    } else {
        return hub_fail(err, errlen, HUB_EINVAL,
                        "poll_request gave neither a path nor a url");
    }
    if (rc)
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    if (strpbrk(s->url.data, " \r\n"))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "poll_request: the URL has spaces or line breaks; "
                        "put parameters in query");
    if ((rc = build_query(c, s, json_object_get(req, "query"), err, errlen)))
        return rc;
    int has_type = 0;
    if ((rc = build_headers(s, json_object_get(req, "headers"), &has_type,
                            err, errlen)))
        return rc;
    const json_t *body = json_object_get(req, "body");
    if (body && !json_is_null(body)) {
        if (json_is_string(body)) {
            s->body = strdup(json_string_value(body));
        } else {
            s->body = json_dumps(body, JSON_COMPACT);
            if (s->body && !has_type &&
                add_header(s, "Content-Type", "application/json"))
                return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
        }
        if (!s->body)
            return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
        s->blen = strlen(s->body);
    }
    if (add_header(s, "Accept", "application/json"))
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    s->auth = 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* One transfer                                                        */
/* ------------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
    answer_t *a = ud;
    size_t len = size * n;
    if (a->body.len + len > HUB_POLL_BODY_MAX) {
        a->too_big = 1;
        return 0; /* curl fails the transfer */
    }
    return hub_buf_append(&a->body, data, len) == 0 ? len : 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud) {
    answer_t *a = ud;
    size_t len = size * n;
    if (len > 4 && strncmp(data, "HTTP", 4) == 0)
        a->retry_after[0] = '\0'; /* a new response */
    /* A body announced over the limit is refused before a byte of it is
     * read (on a slow link, reading 32 MiB only to drop it could take
     * longer than the request's timeout). */
    if (len > 15 && strncasecmp(data, "Content-Length:", 15) == 0 &&
        strtoull(data + 15, NULL, 10) > HUB_POLL_BODY_MAX) {
        a->too_big = 1;
        return 0; /* curl fails the transfer */
    }
    if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        size_t v = len - 12;
        while (v && (data[12 + v - 1] == '\r' || data[12 + v - 1] == '\n'))
            v--;
        snprintf(a->retry_after, sizeof(a->retry_after), "%.*s", (int)v,
                 data + 12);
    }
    return len;
}

static int on_progress(void *ud, curl_off_t dlt, curl_off_t dln,
                       curl_off_t ult, curl_off_t uln) {
    (void)dlt, (void)dln, (void)ult, (void)uln;
    return hub_poll_stop_requested(ud); /* non-zero aborts */
}

/* The credentials of one attempt: a copy of the request's headers plus
 * the auth header, in *out (the caller frees it). */
static int auth_headers(hub_poll_client_t *c, const spec_t *s,
                        struct curl_slist **out) {
    struct curl_slist *l = NULL;
    for (const struct curl_slist *h = s->headers; h; h = h->next) {
        struct curl_slist *n = curl_slist_append(l, h->data);
        if (!n)
            goto fail;
        l = n;
    }
    const hub_poll_auth_config_t *a = &c->cfg->auth;
    hub_buf_t line = HUB_BUF_INIT;
    int rc = 0;
    if (s->auth && c->oauth && c->token)
        rc = hub_buf_printf(&line, "Authorization: Bearer %s", c->token);
    else if (s->auth && a->bearer[0])
        rc = hub_buf_printf(&line, "Authorization: Bearer %s", a->bearer);
    if (rc == 0 && line.len) {
        struct curl_slist *n = curl_slist_append(l, line.data);
        rc = n ? 0 : HUB_ENOMEM;
        l = n ? n : l;
    }
    hub_buf_free(&line);
    if (rc == 0 && s->auth && a->header[0]) {
        struct curl_slist *n = curl_slist_append(l, a->header);
        rc = n ? 0 : HUB_ENOMEM;
        l = n ? n : l;
    }
    if (rc)
        goto fail;
    *out = l;
    return 0;
fail:
    curl_slist_free_all(l);
    return HUB_ENOMEM;
}

/* One attempt. 0 when an answer came (a->status set, whatever it is);
 * HUB_ETIMEDOUT and HUB_EIO for what a retry may cure; HUB_ESTATE when
 * stopped; HUB_ETOOBIG; HUB_EHTTP for other transfer errors. */
static int perform(hub_poll_client_t *c, const spec_t *s, answer_t *a,
                   char *err, size_t errlen) {
    const hub_poll_config_t *cfg = c->cfg;
    if (cfg->min_interval_ms > 0 && c->last_start) {
        int64_t wait = c->last_start + cfg->min_interval_ms -
                       hub_time_mono_ms();
        if (hub_poll_stop_wait(c->stop, wait))
            return hub_fail(err, errlen, HUB_ESTATE, "stopped");
    }
    if (hub_poll_stop_requested(c->stop))
        return hub_fail(err, errlen, HUB_ESTATE, "stopped");
    struct curl_slist *headers = NULL;
    if (auth_headers(c, s, &headers))
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    hub_buf_reset(&a->body);
    a->status = 0;
    a->too_big = 0;
    a->retry_after[0] = '\0';
    CURL *h = c->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, s->url.data);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(cfg->timeout_ms < 10000 ? cfg->timeout_ms
                                                    : 10000));
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "hub360-poll");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c->stop);
    if (s->auth && c->cfg->auth.username[0]) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->cfg->auth.username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->cfg->auth.password);
    }
    if (strcmp(s->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(s->method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, s->method);
        if (s->body || strcmp(s->method, "POST") == 0) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)s->blen);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, s->body ? s->body : "");
        }
    }
    c->last_start = hub_time_mono_ms();
    c->requests++;
    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    int shown = url_shown(&s->url);
    switch (cc) {
    case CURLE_OK:
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
        return 0;
    case CURLE_ABORTED_BY_CALLBACK:
        return hub_fail(err, errlen, HUB_ESTATE, "stopped");
    case CURLE_WRITE_ERROR:
        if (a->too_big)
            return hub_fail(err, errlen, HUB_ETOOBIG,
                            "%s %.*s: the response is over the %zu MiB "
                            "limit of a page",
                            s->method, shown, s->url.data,
                            HUB_POLL_BODY_MAX >> 20);
        return hub_fail(err, errlen, HUB_ENOMEM, "%s %.*s: out of memory",
                        s->method, shown, s->url.data);
    case CURLE_OPERATION_TIMEDOUT:
        return hub_fail(err, errlen, HUB_ETIMEDOUT, "%s %.*s: %s", s->method,
                        shown, s->url.data, curl_easy_strerror(cc));
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return hub_fail(err, errlen, HUB_EIO, "%s %.*s: %s", s->method, shown,
                        s->url.data, curl_easy_strerror(cc));
    default:
        return hub_fail(err, errlen, HUB_EHTTP, "%s %.*s: %s", s->method,
                        shown, s->url.data, curl_easy_strerror(cc));
    }
}

/* "HTTP 404: <the body's first 200 bytes, on one line>". */
static void describe_status(const spec_t *s, const answer_t *a, char *out,
                            size_t len) {
    char excerpt[BODY_EXCERPT + 1];
    size_t n = a->body.len < BODY_EXCERPT ? a->body.len : BODY_EXCERPT;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)a->body.data[i];
        excerpt[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    excerpt[n] = '\0';
    snprintf(out, len, "%s %.*s: HTTP %ld%s%s", s->method, url_shown(&s->url),
             s->url.data, a->status, n ? ": " : "", excerpt);
}

static int ensure_token(hub_poll_client_t *c, char *err, size_t errlen);

/* Sends s until it is answered 2xx, retrying what may pass. */
static int exchange(hub_poll_client_t *c, const spec_t *s, answer_t *a,
                    char *err, size_t errlen) {
    const hub_poll_config_t *cfg = c->cfg;
    char why[512];
    for (int attempt = 0;; attempt++) {
        int rc = s->auth && c->oauth ? ensure_token(c, err, errlen) : 0;
        if (rc)
            return rc;
        rc = perform(c, s, a, why, sizeof(why));
        int64_t delay = -1;
        if (rc == 0) {
            if (a->status >= 200 && a->status < 300)
                return 0;
            describe_status(s, a, why, sizeof(why));
            /* RFC 9110: Retry-After on a 429, and on a 503 (a vendor in
             * maintenance says when it is back) */
            if ((a->status == 429 || a->status == 503) && a->retry_after[0])
                delay = hub_poll_retry_after_ms(a->retry_after,
                                                hub_time_now_ms());
            if (a->status != 429 && a->status != 408 && a->status < 500)
                return hub_fail(err, errlen,
                                a->status == 401 ? HUB_EAUTH : HUB_EHTTP,
                                "%s", why);
            rc = HUB_EHTTP;
        } else if (rc != HUB_ETIMEDOUT && rc != HUB_EIO) {
            return hub_fail(err, errlen, rc, "%s", why);
        }
        if (attempt >= cfg->retries)
            return hub_fail(err, errlen, rc, "%s (%d retr%s used up)", why,
                            attempt, attempt == 1 ? "y" : "ies");
        if (delay < 0)
            delay = hub_poll_backoff_ms(cfg->backoff_ms, cfg->max_backoff_ms,
                                        attempt, &c->rng);
        if (delay > RETRY_AFTER_MAX)
            delay = RETRY_AFTER_MAX;
        c->retries++;
        hub_metric_add(c->retried, 1);
        hub_log_warn("poll", "source %s: %s; retry %d of %ld in %lld ms",
                     c->source, why, attempt + 1, cfg->retries,
                     (long long)delay);
        if (hub_poll_stop_wait(c->stop, delay))
            return hub_fail(err, errlen, HUB_ESTATE, "stopped");
    }
}

/* ------------------------------------------------------------------ */
/* OAuth2 client credentials                                           */
/* ------------------------------------------------------------------ */

static int form_add(hub_poll_client_t *c, hub_buf_t *b, const char *key,
                    const char *value) {
    char *e = curl_easy_escape(c->curl, value, 0);
    int rc = e ? hub_buf_printf(b, "%s%s=%s", b->len ? "&" : "", key, e)
               : HUB_ENOMEM;
    curl_free(e);
    return rc;
}

/* Gets a token unless the cached one is still good. */
static int ensure_token(hub_poll_client_t *c, char *err, size_t errlen) {
    if (c->token && hub_time_mono_ms() < c->token_until)
        return 0;
    free(c->token);
    c->token = NULL;
    const hub_poll_auth_config_t *a = &c->cfg->auth;
    spec_t s = {.method = "POST"};
    answer_t ans = {0};
    hub_buf_t form = HUB_BUF_INIT;
    json_t *doc = NULL;
    int rc = hub_buf_puts(&s.url, a->token_url);
    if (rc == 0)
        rc = form_add(c, &form, "grant_type", "client_credentials");
    if (rc == 0)
        rc = form_add(c, &form, "client_id", a->client_id);
    if (rc == 0)
        rc = form_add(c, &form, "client_secret", a->client_secret);
    if (rc == 0 && a->scope[0])
        rc = form_add(c, &form, "scope", a->scope);
    if (rc == 0)
        rc = add_header(&s, "Content-Type",
                        "application/x-www-form-urlencoded");
    if (rc == 0)
        rc = add_header(&s, "Accept", "application/json");
    if (rc) {
        rc = hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
        goto done;
    }
    s.body = hub_buf_steal(&form, &s.blen);
    char why[512];
    if ((rc = exchange(c, &s, &ans, why, sizeof(why)))) {
        rc = hub_fail(err, errlen, rc == HUB_EHTTP ? HUB_EAUTH : rc,
                      "OAuth2 token: %s", why);
        goto done;
    }
    doc = json_loadb(ans.body.data ? ans.body.data : "", ans.body.len, 0,
                     NULL);
    const json_t *tok = json_object_get(doc, "access_token");
    const json_t *exp = json_object_get(doc, "expires_in");
    if (!json_is_string(tok) || !json_string_length(tok) ||
        strpbrk(json_string_value(tok), "\r\n")) {
        rc = hub_fail(err, errlen, HUB_EAUTH,
                      "OAuth2 token: %.*s answered without an access_token",
                      url_shown(&s.url), s.url.data);
        goto done;
    }
    int64_t life = json_is_integer(exp) ? json_integer_value(exp) * 1000
                   : json_is_string(exp)
                       ? strtoll(json_string_value(exp), NULL, 10) * 1000
                       : 3600000;
    int64_t margin = life > 2 * TOKEN_MARGIN_MS ? TOKEN_MARGIN_MS : life / 2;
    if (!(c->token = strdup(json_string_value(tok)))) {
        rc = hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
        goto done;
    }
    c->token_until = hub_time_mono_ms() + life - margin;
    hub_log_info("poll", "source %s: got an OAuth2 token for %lld s",
                 c->source, (long long)(life / 1000));
done:
    json_decref(doc);
    hub_buf_free(&form);
    hub_buf_free(&ans.body);
    spec_free(&s);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Fetching                                                            */
/* ------------------------------------------------------------------ */

int hub_poll_client_fetch(hub_poll_client_t *c, const json_t *req,
                          hub_buf_t *body, char *err, size_t errlen) {
    spec_t s = {0};
    answer_t a = {0};
    int rc = build_spec(c, req, &s, err, errlen);
    if (rc == 0) {
        snprintf(c->last, sizeof(c->last), "%s %.*s", s.method,
                 url_shown(&s.url), s.url.data);
        rc = exchange(c, &s, &a, err, errlen);
    }
    if (rc == HUB_EAUTH && c->oauth && a.status == 401) {
        /* The token may have been revoked early: one fresh one. */
        hub_log_info("poll", "source %s: %s; renewing the OAuth2 token",
                     c->source, err);
        free(c->token);
        c->token = NULL;
        rc = exchange(c, &s, &a, err, errlen);
    }
    if (rc == 0) {
        hub_buf_free(body);
        *body = a.body;
        a.body = (hub_buf_t)HUB_BUF_INIT;
    }
    hub_buf_free(&a.body);
    spec_free(&s);
    return rc;
}
