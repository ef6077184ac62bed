/*
 * hub360 - the HTTP server every role shares (webhooks, the API,
 * metrics), on libmicrohttpd.
 *
 * Handlers are registered per method and path prefix and see a whole
 * request: the body is collected up to a limit first (a bigger one gets
 * 413 without reaching any handler, its Content-Length checked before a
 * byte is read). Errors are JSON, {"error": {"code": ..., "message": ...}},
 * everywhere. Each connection has a thread of its own, so a handler may
 * block (a webhook waits for Kafka's acknowledgement) without stalling
 * any other connection; connections beyond max_connections are refused
 * at accept.
 */
#ifndef HUB_HTTP_H
#define HUB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct hub_http hub_http_t;
typedef struct hub_http_req hub_http_req_t;

/* What a handler answers: status, body (JSON unless content_type says
 * otherwise) and up to 4 extra headers. */
typedef struct hub_http_resp {
    int status;
    const char *content_type;  /* static string; NULL: application/json */
    hub_buf_t body;
    const char *headers[4][2]; /* name, value; static or resp-owned */
    char retry_after[16];      /* filled by hub_http_error_retry */
} hub_http_resp_t;

typedef void (*hub_http_handler)(void *opaque, const hub_http_req_t *req,
                                 hub_http_resp_t *resp);

typedef struct hub_http_config {
    const char *listen;    /* "HOST:PORT"; port 0 picks a free one */
    int64_t body_limit;    /* bytes */
    int max_connections;   /* served at once, one thread each */
} hub_http_config_t;

/* A server for cfg (copied), not yet listening: add routes, then start
 * it. HUB_ECONFIG names a listen address that does not parse. */
int hub_http_new(const hub_http_config_t *cfg, hub_http_t **out, char *err,
                 size_t errlen);
/* Starts listening. HUB_EIO with "cannot listen on ..." when the address
 * is taken or not of this machine. Routes are fixed from here on. */
int hub_http_start(hub_http_t *h, char *err, size_t errlen);
/* Stops accepting, waits for handlers in progress, frees. NULL is fine. */
void hub_http_stop(hub_http_t *h);
/* The port it listens on (useful with port 0). */
int hub_http_port(const hub_http_t *h);

/* Routes method ("GET", "POST"; NULL: any) requests whose path starts
 * with prefix to fn. The longest matching prefix wins. Only before
 * hub_http_start: 0, HUB_ESTATE after it, or HUB_ENOMEM. */
int hub_http_route(hub_http_t *h, const char *method, const char *prefix,
                   hub_http_handler fn, void *opaque);

/* Request accessors; every pointer lives as long as the request. */
const char *hub_http_method(const hub_http_req_t *r);
const char *hub_http_path(const hub_http_req_t *r);  /* decoded, no query */
const char *hub_http_uri(const hub_http_req_t *r);   /* raw, with query */
const char *hub_http_header(const hub_http_req_t *r, const char *name);
const char *hub_http_query(const hub_http_req_t *r, const char *name);
const char *hub_http_body(const hub_http_req_t *r, size_t *len);
/* Calls fn for every header (kind 0) or query argument (kind 1). */
void hub_http_each(const hub_http_req_t *r, int kind,
                   void (*fn)(void *ctx, const char *name, const char *value),
                   void *ctx);

/* A request as a client sends it, for hub_http_answer. */
typedef struct hub_http_msg {
    const char *method;             /* "GET" */
    const char *target;             /* path and query as sent: %-encoded */
    const char *const (*headers)[2]; /* nheaders name, value pairs */
    size_t nheaders;
    const char *body;
    size_t len;
} hub_http_msg_t;

/* Answers m as the server answers a request it received, without a
 * network (tests and the fuzz target tests/fuzz/fuzz_http.c): the target
 * split and decoded as libmicrohttpd does (the path and the arguments
 * %-decoded, '+' a space in arguments), the body limit, then the routes
 * and their handlers. resp must be zeroed; the caller frees resp->body.
 * m's strings are borrowed for the call. 0, or HUB_ENOMEM. */
int hub_http_answer(hub_http_t *h, const hub_http_msg_t *m,
                    hub_http_resp_t *resp);

/* Sets an error answer: status and {"error":{"code":code,"message":...}}. */
void hub_http_error(hub_http_resp_t *resp, int status, const char *code,
                    const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same with a Retry-After header (seconds), for 429 and 503. */
void hub_http_error_retry(hub_http_resp_t *resp, int status,
                          const char *code, int retry_after_s,
                          const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
