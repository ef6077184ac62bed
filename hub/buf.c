/*
 * hub360 - growable byte buffer.
 */
#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

int hub_buf_reserve(hub_buf_t *b, size_t extra) {
    if (extra > SIZE_MAX / 2 - b->len)
        return HUB_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return HUB_ENOMEM;
    b->data = p;
    b->data[b->len] = '\0'; /* the invariant holds from the first byte */
    b->cap = cap;
    return 0;
}

int hub_buf_append_slow(hub_buf_t *b, const void *data, size_t len) {
    if (hub_buf_reserve(b, len))
        return HUB_ENOMEM;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int hub_buf_puts(hub_buf_t *b, const char *s) {
    return hub_buf_append(b, s, strlen(s));
}

int hub_buf_putc(hub_buf_t *b, char c) {
    if (b->len + 1 < b->cap) { /* the common case, without a call */
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return 0;
    }
    return hub_buf_append(b, &c, 1);
}

int hub_buf_vprintf(hub_buf_t *b, const char *fmt, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, copy);
    va_end(copy);
    if (n < 0)
        return HUB_EINVAL;
    if ((size_t)n < sizeof small)
        return hub_buf_append(b, small, (size_t)n);
    if (hub_buf_reserve(b, (size_t)n))
        return HUB_ENOMEM;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int hub_buf_printf(hub_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = hub_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void hub_buf_reset(hub_buf_t *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void hub_buf_free(hub_buf_t *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *hub_buf_steal(hub_buf_t *b, size_t *len) {
    if (!b->data && hub_buf_reserve(b, 0))
        return NULL;
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

int hub_buf_read_file(hub_buf_t *b, const char *path, size_t limit,
                      char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return hub_fail(err, errlen, errno == ENOENT ? HUB_ENOENT : HUB_EIO,
                        "%s: %s", path, strerror(errno));
    char chunk[65536];
    size_t n;
    int rc = 0;
    errno = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b->len + n > limit) {
            rc = hub_fail(err, errlen, HUB_EINVAL,
                          "%s: larger than the limit of %zu bytes", path,
                          limit);
            break;
        }
        if (hub_buf_append(b, chunk, n)) {
            rc = hub_fail(err, errlen, HUB_ENOMEM, "%s: out of memory", path);
            break;
        }
    }
    if (!rc && ferror(f)) /* a directory: EISDIR */
        rc = hub_fail(err, errlen, HUB_EIO, "%s: %s", path,
                      errno ? strerror(errno) : "read error");
    fclose(f);
    return rc;
}

int hub_buf_put_varint(hub_buf_t *b, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    return hub_buf_append(b, tmp, n);
}

int hub_varint_read(const uint8_t *p, size_t len, size_t *pos, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
        uint8_t byte = p[(*pos)++];
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

int hub_array_reserve(void *arr, size_t *cap, size_t n, size_t elem) {
    if (n <= *cap)
        return 0;
    void *p = realloc(*(void **)arr, n * elem);
    if (!p)
        return HUB_ENOMEM;
    *(void **)arr = p;
    *cap = n;
    return 0;
}

int hub_array_grow(void *arr, size_t *cap, size_t n, size_t elem,
                   size_t first) {
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : first;
    void *p = realloc(*(void **)arr, ncap * elem);
    if (!p)
        return HUB_ENOMEM;
    *(void **)arr = p;
    *cap = ncap;
    return 0;
}
