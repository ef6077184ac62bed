/*
 * hub360 - the HTTP server, on libmicrohttpd.
 *
 * One request's life: MHD hands us the raw request line first (the URI
 * log callback), where we allocate the request and keep the raw URI
 * (signatures such as HubSpot's v3 cover it exactly as sent); then the
 * access handler is called once with the headers, again for each piece
 * of body, and a last time with nothing left to read, when we route the
 * whole request and queue the answer. A Content-Length over the limit is
 * answered 413 at once; a body that grows past the limit without one is
 * drained and then answered 413.
 */
#include "http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "metrics.h"

/* How long a stop waits for the requests in hand (longer than a
 * webhook's default acknowledgement timeout). */
#define STOP_GRACE_US (15 * 1000 * 1000)

/* Request counters by method (GET, POST) and status, filled on first use. */
typedef struct counters {
    _Atomic(hub_metric_t *) by[2][600];
} counters_t;

typedef struct route {
    char *method;      /* NULL: any */
    char *prefix;
    size_t plen;
    hub_http_handler fn;
    void *opaque;
    hub_metric_t *seconds; /* latency of its requests */
    counters_t *counted;   /* its requests by method and status */
} route_t;

struct hub_http {
    struct MHD_Daemon *d;
    _Atomic int inflight;  /* requests begun and not yet completed */
    counters_t *unrouted;  /* answers given before any route (413) */
    struct sockaddr_storage sa;
    char *listen;
    int max_connections;
    int64_t body_limit;
    route_t *routes;
    size_t nroutes, cap;
    int port;
};

/* A header (kind 0) or query argument (kind 1) of a request that came
 * without a connection (hub_http_answer). */
typedef struct pair {
    int kind;
    const char *name, *value; /* value NULL: "?flag" without "=" */
} pair_t;

struct hub_http_req {
    struct MHD_Connection *conn; /* NULL: made by hub_http_answer */
    int64_t started_us;
    const char *method;
    const char *path;
    char *uri;
    hub_buf_t body;
    int too_big;
    pair_t *pairs;               /* without a connection: its values */
    size_t npairs;
};

/* ------------------------------------------------------------------ */
/* Answers                                                             */
/* ------------------------------------------------------------------ */

static void escape_utf8(hub_buf_t *b, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            hub_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            hub_buf_printf(b, "\\u%04x", c);
        else
            hub_buf_putc(b, (char)c);
    }
}

/* s as the inside of a JSON string. Messages quote what the client sent
 * (a path, a header), which need not be UTF-8: a byte that is not is
 * written U+FFFD, so the answer is always JSON. */
static void json_escape(hub_buf_t *b, const char *s) {
    size_t len = strlen(s);
    for (;;) {
        long bad = hub_utf8_invalid_at(s, len);
        escape_utf8(b, s, bad < 0 ? len : (size_t)bad);
        if (bad < 0)
            return;
        hub_buf_puts(b, "\\ufffd");
        s += bad + 1;
        len -= (size_t)bad + 1;
    }
}

static void verror(hub_http_resp_t *resp, int status, const char *code,
                   const char *fmt, va_list ap) {
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    resp->status = status;
    resp->content_type = NULL;
    hub_buf_reset(&resp->body);
    hub_buf_puts(&resp->body, "{\"error\":{\"code\":\"");
    json_escape(&resp->body, code);
    hub_buf_puts(&resp->body, "\",\"message\":\"");
    json_escape(&resp->body, msg);
    hub_buf_puts(&resp->body, "\"}}");
}

void hub_http_error(hub_http_resp_t *resp, int status, const char *code,
                    const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    verror(resp, status, code, fmt, ap);
    va_end(ap);
}

void hub_http_error_retry(hub_http_resp_t *resp, int status,
                          const char *code, int retry_after_s,
                          const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    verror(resp, status, code, fmt, ap);
    va_end(ap);
    snprintf(resp->retry_after, sizeof(resp->retry_after), "%d",
             retry_after_s);
    for (int i = 0; i < 4; i++)
        if (!resp->headers[i][0]) {
            resp->headers[i][0] = "Retry-After";
            resp->headers[i][1] = resp->retry_after;
            break;
        }
}

static enum MHD_Result send_resp(struct MHD_Connection *c,
                                 hub_http_resp_t *resp) {
    struct MHD_Response *r = MHD_create_response_from_buffer(
        resp->body.len, resp->body.data ? resp->body.data : (char *)"",
        MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type
                                               : "application/json");
    for (int i = 0; i < 4 && resp->headers[i][0]; i++)
        MHD_add_response_header(r, resp->headers[i][0], resp->headers[i][1]);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

const char *hub_http_method(const hub_http_req_t *r) { return r->method; }
const char *hub_http_path(const hub_http_req_t *r) { return r->path; }
const char *hub_http_uri(const hub_http_req_t *r) {
    return r->uri ? r->uri : r->path;
}

/* The first value of name among r's own pairs of kind, compared as
 * libmicrohttpd does: case-insensitively, for headers and arguments. */
static const char *pair_value(const hub_http_req_t *r, int kind,
                              const char *name) {
    for (size_t i = 0; i < r->npairs; i++)
        if (r->pairs[i].kind == kind && strcasecmp(r->pairs[i].name, name) == 0)
            return r->pairs[i].value;
    return NULL;
}

const char *hub_http_header(const hub_http_req_t *r, const char *name) {
    if (!r->conn)
        return pair_value(r, 0, name);
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *hub_http_query(const hub_http_req_t *r, const char *name) {
    if (!r->conn)
        return pair_value(r, 1, name);
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *hub_http_body(const hub_http_req_t *r, size_t *len) {
    *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

typedef struct each_ctx {
    void (*fn)(void *ctx, const char *name, const char *value);
    void *ctx;
} each_ctx_t;

static enum MHD_Result each_value(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value) {
    (void)kind;
    each_ctx_t *e = cls;
    e->fn(e->ctx, key, value ? value : "");
    return MHD_YES;
}

void hub_http_each(const hub_http_req_t *r, int kind,
                   void (*fn)(void *ctx, const char *name, const char *value),
                   void *ctx) {
    if (!r->conn) {
        for (size_t i = 0; i < r->npairs; i++)
            if (r->pairs[i].kind == (kind ? 1 : 0))
                fn(ctx, r->pairs[i].name,
                   r->pairs[i].value ? r->pairs[i].value : "");
        return;
    }
    each_ctx_t e = {fn, ctx};
    MHD_get_connection_values(r->conn,
                              kind ? MHD_GET_ARGUMENT_KIND : MHD_HEADER_KIND,
                              each_value, &e);
}

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Counts the answer by route, method and status; times it by route. */
/* Counts the answer by route, method and status; times it by route.
 * The counter of a (route, GET or POST, status) is looked up in the
 * registry once and kept, so a request pays an atomic add, not the
 * registry's lock. */
static void count(hub_http_t *h, const route_t *rt, const char *method,
                  int status, int64_t started_us) {
    counters_t *c = rt ? rt->counted : h->unrouted;
    int m = strcmp(method, "GET") == 0 ? 0 : strcmp(method, "POST") == 0 ? 1 : -1;
    int cached = c && m >= 0 && status >= 100 && status < 600;
    hub_metric_t *counter =
        cached ? atomic_load_explicit(&c->by[m][status], memory_order_relaxed)
               : NULL;
    if (!counter) {
        char labels[300];
        snprintf(labels, sizeof(labels),
                 "route=\"%s\",method=\"%s\",status=\"%d\"",
                 rt ? rt->prefix : "none", method, status);
        counter = hub_metrics_counter("hub360_http_requests_total",
                                      "HTTP requests answered, by route "
                                      "prefix, method and status.",
                                      labels);
        if (cached) /* any thread that races here stores the same one */
            atomic_store_explicit(&c->by[m][status], counter,
                                  memory_order_relaxed);
    }
    hub_metric_add(counter, 1);
    if (rt)
        hub_metric_observe(rt->seconds,
                           (double)(now_us() - started_us) / 1e6);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    hub_http_t *h = cls;
    atomic_fetch_add(&h->inflight, 1);
    hub_http_req_t *r = calloc(1, sizeof(*r));
    if (r) {
        r->conn = c;
        r->started_us = now_us();
        r->uri = strdup(uri ? uri : "");
    }
    return r;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe) {
    (void)c, (void)toe;
    hub_http_t *h = cls;
    atomic_fetch_sub(&h->inflight, 1);
    hub_http_req_t *r = *con_cls;
    if (r) {
        hub_buf_free(&r->body);
        free(r->uri);
        free(r);
        *con_cls = NULL;
    }
}

/* The route of the longest prefix of path for method; method NULL: for
 * any method (was a route there at all?). */
static const route_t *find_route(const hub_http_t *h, const char *method,
                                 const char *path) {
    const route_t *best = NULL;
    for (size_t i = 0; i < h->nroutes; i++) {
        const route_t *rt = &h->routes[i];
        if (strncmp(path, rt->prefix, rt->plen) != 0)
            continue;
        if (method && rt->method && strcmp(rt->method, method) != 0)
            continue;
        if (!best || rt->plen > best->plen)
            best = rt;
    }
    return best;
}

/* Routes r (its method and decoded path) to the handler of the longest
 * matching prefix, or answers 405 or 404; the route, or NULL. */
static const route_t *dispatch(hub_http_t *h, const hub_http_req_t *r,
                               hub_http_resp_t *resp) {
    const route_t *rt = find_route(h, r->method, r->path);
    if (rt)
        rt->fn(rt->opaque, r, resp);
    else if (find_route(h, NULL, r->path) || strncmp(r->path, "/", 1) != 0)
        hub_http_error(resp, 405, "method_not_allowed",
                       "%s is not allowed on %s", r->method, r->path);
    else
        hub_http_error(resp, 404, "not_found", "no route for %s %s",
                       r->method, r->path);
    return rt;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)version;
    hub_http_t *h = cls;
    hub_http_req_t *r = *con_cls;
    if (!r)
        return MHD_NO; /* out of memory in on_uri */
    if (!r->method) { /* headers only, so far */
        r->method = method;
        r->path = url;
        const char *cl = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoll(cl, NULL, 10) > h->body_limit) {
            hub_http_resp_t resp = {0};
            hub_http_error(&resp, 413, "body_too_large",
                           "the body is %s bytes; the limit is %lld", cl,
                           (long long)h->body_limit);
            enum MHD_Result rc = send_resp(c, &resp);
            count(h, NULL, method, resp.status, r->started_us);
            hub_buf_free(&resp.body);
            return rc;
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->too_big &&
            r->body.len + *upload_data_size > (size_t)h->body_limit) {
            r->too_big = 1;
            hub_buf_free(&r->body);
        }
        if (!r->too_big &&
            hub_buf_append(&r->body, upload_data, *upload_data_size))
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    hub_http_resp_t resp = {.status = 200};
    const route_t *rt = NULL;
    if (r->too_big)
        hub_http_error(&resp, 413, "body_too_large",
                       "the body is over the limit of %lld bytes",
                       (long long)h->body_limit);
    else
        rt = dispatch(h, r, &resp);
    enum MHD_Result rc = send_resp(c, &resp);
    count(h, rt, method, resp.status, r->started_us);
    hub_buf_free(&resp.body);
    return rc;
}

/* ------------------------------------------------------------------ */
/* A request without a connection                                      */
/* ------------------------------------------------------------------ */

static int add_pair(hub_http_req_t *r, size_t *cap, int kind,
                    const char *name, const char *value) {
    if (hub_array_grow(&r->pairs, cap, r->npairs, sizeof(*r->pairs), 8))
        return HUB_ENOMEM;
    r->pairs[r->npairs++] = (pair_t){kind, name, value};
    return 0;
}

/* '+' is a space in a query argument. */
static void unescape_arg(char *s) {
    for (char *c = s; *c; c++)
        if (*c == '+')
            *c = ' ';
    MHD_http_unescape(s);
}

/* The arguments of q ("a=1&b&c=") as libmicrohttpd 0.9 splits them,
 * decoded in place: "&" between arguments, the first "=" between name
 * and value, no value without one; a trailing "&" ends the list. */
static int parse_args(char *q, hub_http_req_t *r, size_t *cap) {
    while (q && *q) {
        char *amp = strchr(q, '&');
        if (amp)
            *amp = '\0';
        char *eq = strchr(q, '=');
        if (eq)
            *eq++ = '\0';
        unescape_arg(q);
        if (eq)
            unescape_arg(eq);
        if (add_pair(r, cap, 1, q, eq))
            return HUB_ENOMEM;
        q = amp ? amp + 1 : NULL;
    }
    return 0;
}

int hub_http_answer(hub_http_t *h, const hub_http_msg_t *m,
                    hub_http_resp_t *resp) {
    hub_http_req_t r = {.started_us = now_us(), .method = m->method};
    size_t cap = 0;
    int rc = HUB_ENOMEM;
    char *path = strdup(m->target);
    if (!path || !(r.uri = strdup(m->target)))
        goto out;
    char *q = strchr(path, '?');
    if (q)
        *q++ = '\0';
    MHD_http_unescape(path);
    r.path = path;
    if (parse_args(q, &r, &cap))
        goto out;
    for (size_t i = 0; i < m->nheaders; i++)
        if (add_pair(&r, &cap, 0, m->headers[i][0], m->headers[i][1]))
            goto out;
    resp->status = 200;
    if (m->len > (size_t)h->body_limit)
        hub_http_error(resp, 413, "body_too_large",
                       "the body is %zu bytes; the limit is %lld", m->len,
                       (long long)h->body_limit);
    else if (hub_buf_append(&r.body, m->body, m->len))
        goto out;
    else
        dispatch(h, &r, resp);
    rc = 0;
out:
    free(r.pairs);
    hub_buf_free(&r.body);
    free(r.uri);
    free(path);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The server                                                          */
/* ------------------------------------------------------------------ */

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    hub_log_debug("http", "%s", msg);
}

/* "host:port" or "[v6]:port" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *sa,
                        char *err, size_t errlen) {
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return hub_fail(err, errlen, HUB_ECONFIG,
                        "cannot listen on '%s': expected HOST:PORT", listen);
    const char *h = listen;
    size_t hlen = (size_t)(colon - listen);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']')
        h++, hlen -= 2;
    snprintf(host, sizeof(host), "%.*s", (int)hlen, h);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL;
    int rc = getaddrinfo(hlen ? host : NULL, colon + 1, &hints, &res);
    if (rc)
        return hub_fail(err, errlen, HUB_ECONFIG, "cannot listen on '%s': %s",
                        listen, gai_strerror(rc));
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

int hub_http_new(const hub_http_config_t *cfg, hub_http_t **out, char *err,
                 size_t errlen) {
    hub_http_t *h = calloc(1, sizeof(*h));
    if (!h || !(h->listen = strdup(cfg->listen)) ||
        !(h->unrouted = calloc(1, sizeof(*h->unrouted)))) {
        if (h)
            free(h->listen);
        free(h);
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    }
    int rc = parse_listen(cfg->listen, &h->sa, err, errlen);
    if (rc) {
        hub_http_stop(h);
        return rc;
    }
    h->body_limit = cfg->body_limit;
    h->max_connections = cfg->max_connections > 0 ? cfg->max_connections : 1;
    *out = h;
    return 0;
}

static double inflight_value(void *opaque) {
    hub_http_t *h = opaque;
    return (double)atomic_load(&h->inflight);
}

int hub_http_start(hub_http_t *h, char *err, size_t errlen) {
    if (h->d)
        return hub_fail(err, errlen, HUB_ESTATE, "already started");
    /* A thread per connection: a webhook waits for Kafka's
     * acknowledgement, and in a pool that wait would hold up every other
     * connection of its worker (measured: 4 or 8 connections were served
     * no faster than one). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (h->sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &h->sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)h->max_connections,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_NOTIFY_COMPLETED,
        on_done, h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, MHD_OPTION_END);
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: MHD's default, SO_REUSEADDR,
     * lets a restart bind over its own TIME_WAIT connections; 1 would
     * add SO_REUSEPORT, and a second process on the same port would then
     * start without an error and take half of the requests. */
    if (!h->d)
        return hub_fail(err, errlen, HUB_EIO,
                        "cannot listen on %s (in use, or not an address of "
                        "this machine)",
                        h->listen);
    hub_metrics_gauge_fn("hub360_http_requests_in_flight",
                         "Requests begun and not yet answered.", NULL,
                         inflight_value, h);
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    return 0;
}

void hub_http_stop(hub_http_t *h) {
    if (!h)
        return;
    if (h->d) {
        /* Graceful: no new connections, the requests in hand answered
         * (a webhook may wait out its acknowledgement timeout), then the
         * idle keep-alive connections closed. */
        MHD_socket fd = MHD_quiesce_daemon(h->d);
        int64_t deadline = now_us() + STOP_GRACE_US;
        while (atomic_load(&h->inflight) > 0 && now_us() < deadline) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        MHD_stop_daemon(h->d);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
        hub_metrics_unregister(h);
    }
    for (size_t i = 0; i < h->nroutes; i++) {
        free(h->routes[i].method);
        free(h->routes[i].prefix);
        free(h->routes[i].counted);
    }
    free(h->routes);
    free(h->unrouted);
    free(h->listen);
    free(h);
}

int hub_http_port(const hub_http_t *h) { return h->port; }

int hub_http_route(hub_http_t *h, const char *method, const char *prefix,
                   hub_http_handler fn, void *opaque) {
    if (h->d)
        return HUB_ESTATE;
    if (hub_array_grow(&h->routes, &h->cap, h->nroutes, sizeof(*h->routes),
                       8))
        return HUB_ENOMEM;
    route_t *rt = &h->routes[h->nroutes];
    char labels[300];
    snprintf(labels, sizeof(labels), "route=\"%s\"", prefix);
    *rt = (route_t){.method = method ? strdup(method) : NULL,
                    .prefix = strdup(prefix),
                    .plen = strlen(prefix),
                    .fn = fn,
                    .opaque = opaque,
                    .seconds = hub_metrics_histogram(
                        "hub360_http_request_seconds",
                        "Time from a request's first byte to its answer, "
                        "by route prefix.",
                        labels),
                    .counted = calloc(1, sizeof(counters_t))};
    if (!rt->prefix || (method && !rt->method) || !rt->counted) {
        free(rt->method);
        free(rt->prefix);
        free(rt->counted);
        return HUB_ENOMEM;
    }
    h->nroutes++;
    return 0;
}
