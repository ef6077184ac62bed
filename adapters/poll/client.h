/*
 * hub360 - the poller's HTTP client: one vendor request as a mapping's
 * poll_request describes it, sent with libcurl, authenticated, rate
 * limited and retried.
 *
 * Retries: 5xx, 408, timeouts and connection errors back off
 * exponentially with full jitter (a delay drawn from [0, min(max_backoff,
 * backoff * 2^attempt)]); 429 waits what Retry-After says (seconds or an
 * HTTP date), else backs off the same way. Any other 4xx is permanent for
 * this request and its message carries the body's first 200 bytes. A 401
 * with OAuth2 client credentials fetches a new token once and retries.
 * Bodies are bounded (HUB_POLL_BODY_MAX). A stop request interrupts
 * every wait at once and a transfer within about a second (libcurl
 * calls the progress check that often on an idle connection).
 *
 * A client is used by one thread at a time (its poller's).
 */
#ifndef HUB_POLL_CLIENT_H
#define HUB_POLL_CLIENT_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "source_config.h"

#define HUB_POLL_BODY_MAX ((size_t)32 << 20) /* 32 MiB */

/* ------------------------------------------------------------------ */
/* Stopping                                                            */
/* ------------------------------------------------------------------ */

/* A stop flag that waits can sleep on. */
typedef struct hub_poll_stop {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on the monotonic clock */
    int stopped;
} hub_poll_stop_t;

void hub_poll_stop_init(hub_poll_stop_t *s);
void hub_poll_stop_destroy(hub_poll_stop_t *s);
/* Sets the flag and wakes every waiter. */
void hub_poll_stop_request(hub_poll_stop_t *s);
int hub_poll_stop_requested(hub_poll_stop_t *s);
/* Sleeps ms (<= 0: not at all) or until stop is requested: 1 when it
 * was, else 0. */
int hub_poll_stop_wait(hub_poll_stop_t *s, int64_t ms);

/* ------------------------------------------------------------------ */
/* Delays                                                              */
/* ------------------------------------------------------------------ */

/*
 * The delay a Retry-After value asks for, in milliseconds from now_ms
 * (wall clock): delta seconds ("120") or an HTTP date ("Wed, 21 Oct 2015
 * 07:28:00 GMT"; a date past is 0). -1 when it is neither.
 */
int64_t hub_poll_retry_after_ms(const char *value, int64_t now_ms);

/* A full-jitter backoff delay for retry `attempt` (0 for the first):
 * uniform in [0, min(max_ms, base_ms * 2^attempt)]. *rng is the state of
 * a xorshift generator (any non-zero seed). */
int64_t hub_poll_backoff_ms(int64_t base_ms, int64_t max_ms, int attempt,
                            uint64_t *rng);

/* ------------------------------------------------------------------ */
/* The client                                                          */
/* ------------------------------------------------------------------ */

typedef struct hub_poll_client hub_poll_client_t;

/*
 * A client for one source's poll settings (borrowed, alive as long as the
 * client), stopped by stop (borrowed). HUB_ECONFIG when the auth section
 * is half filled (a token_url without client_id, a password without a
 * username, a header without ':').
 */
int hub_poll_client_new(const hub_poll_config_t *cfg, const char *source,
                        hub_poll_stop_t *stop, hub_poll_client_t **out,
                        char *err, size_t errlen);
void hub_poll_client_free(hub_poll_client_t *c); /* NULL is fine */

/*
 * Sends the request poll_request built ({"method", "path" or "url",
 * "query", "headers", "body"}) and puts a 2xx answer's body in body
 * (reset first). Errors, each with a message naming the method and the
 * URL without its query: HUB_EINVAL (the request object is wrong),
 * HUB_EHTTP (a status that is not retried, or retries used up),
 * HUB_EAUTH (401 even with a fresh token), HUB_ETIMEDOUT, HUB_EIO
 * (connection failed every time), HUB_ETOOBIG (body over the limit),
 * HUB_ESTATE (stop requested).
 */
int hub_poll_client_fetch(hub_poll_client_t *c, const json_t *req,
                          hub_buf_t *body, char *err, size_t errlen);

/* "METHOD URL" (without the query) of the last request fetched, for
 * messages about its answer; "" before the first. Valid until the next
 * fetch. */
const char *hub_poll_client_last(const hub_poll_client_t *c);

/* Requests sent and retries made since the client was created (retries
 * are also counted in hub360_poll_retries_total{source}). */
void hub_poll_client_counts(const hub_poll_client_t *c, uint64_t *requests,
                            uint64_t *retries);

#endif
