/*
 * hub360 - error codes shared by every module.
 *
 * Functions return 0 on success or a negative hub_err code. Setup calls
 * (constructors, config, parsers) also fill a caller's `char *err, size_t
 * errlen` with a message naming the file, line, field or byte at fault;
 * hub_strerror() only names the class of error.
 */
#ifndef HUB_ERRORS_H
#define HUB_ERRORS_H

#include <stddef.h>

typedef enum hub_err {
    HUB_OK = 0,
    HUB_EINVAL = -1,    /* invalid argument or input (fatal for that input) */
    HUB_ENOMEM = -2,    /* allocation failed */
    HUB_EIO = -3,       /* file or socket I/O failed */
    HUB_ENOENT = -4,    /* no such thing (file, schema, customer, key) */
    HUB_ECONFIG = -5,   /* configuration rejected */
    HUB_ESCHEMA = -6,   /* schema missing, unparsable or incompatible */
    HUB_EDECODE = -7,   /* bytes or text that do not decode */
    HUB_EKAFKA = -8,    /* Kafka refused, permanently */
    HUB_ETIMEDOUT = -9, /* deadline passed; retriable */
    HUB_EAGAIN = -10,   /* queue full or broker busy; retriable */
    HUB_EHTTP = -11,    /* an HTTP peer (registry, source) failed */
    HUB_ESTATE = -12,   /* call not valid in the object's current state */
    HUB_EFULL = -13,    /* a bounded store is full (e.g. the LMDB map) */
    HUB_EAUTH = -14,    /* missing or wrong signature, token or credentials */
    HUB_ETOOBIG = -15,  /* input over its size limit */
} hub_err;

/* Returns a static, human-readable name for an error code. Never NULL. */
const char *hub_strerror(int err);

/* Returns 1 when retrying the same call later may succeed. */
int hub_err_retriable(int err);

/*
 * Writes a formatted message into err (of errlen bytes, may be 0) and
 * returns code, so callers can write `return hub_fail(err, errlen, ...)`.
 */
int hub_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
