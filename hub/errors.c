/*
 * hub360 - error codes and the helpers that turn them into messages.
 */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>

const char *hub_strerror(int err) {
    switch (err) {
    case HUB_OK: return "success";
    case HUB_EINVAL: return "invalid input";
    case HUB_ENOMEM: return "out of memory";
    case HUB_EIO: return "I/O error";
    case HUB_ENOENT: return "not found";
    case HUB_ECONFIG: return "configuration error";
    case HUB_ESCHEMA: return "schema error";
    case HUB_EDECODE: return "decode error";
    case HUB_EKAFKA: return "Kafka error";
    case HUB_ETIMEDOUT: return "timed out";
    case HUB_EAGAIN: return "busy, try again";
    case HUB_EHTTP: return "HTTP peer error";
    case HUB_ESTATE: return "invalid state";
    case HUB_EFULL: return "store full";
    case HUB_EAUTH: return "not authorized";
    case HUB_ETOOBIG: return "too big";
    default: return "unknown error";
    }
}

int hub_err_retriable(int err) {
    return err == HUB_ETIMEDOUT || err == HUB_EAGAIN || err == HUB_EHTTP;
}

int hub_fail(char *err, size_t errlen, int code, const char *fmt, ...) {
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}
