/*
 * hub360 - a growable byte buffer.
 *
 * Used for everything that is built up piece by piece: encoded events,
 * rendered JSON, HTTP bodies. The buffer keeps a terminating NUL after
 * `len` bytes at all times, so text can be used as a C string. Appends
 * return 0 or HUB_ENOMEM; once an append fails the buffer stays valid
 * and holds what it held before.
 */
#ifndef HUB_BUF_H
#define HUB_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct hub_buf {
    char *data;  /* NULL until the first append; owned by the buffer */
    size_t len;  /* bytes in use, not counting the terminating NUL */
    size_t cap;  /* bytes allocated */
} hub_buf_t;

#define HUB_BUF_INIT {NULL, 0, 0}

/* Makes room for `extra` more bytes plus the NUL. */
int hub_buf_reserve(hub_buf_t *b, size_t extra);
int hub_buf_append_slow(hub_buf_t *b, const void *data, size_t len);
/* Appends len bytes; inline for the common case of enough room. */
static inline int hub_buf_append(hub_buf_t *b, const void *data,
                                 size_t len) {
    if (b->len + len < b->cap && len) {
        memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = '\0';
        return 0;
    }
    return hub_buf_append_slow(b, data, len);
}
int hub_buf_puts(hub_buf_t *b, const char *s);
int hub_buf_putc(hub_buf_t *b, char c);
int hub_buf_printf(hub_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int hub_buf_vprintf(hub_buf_t *b, const char *fmt, va_list ap);
/* Forgets the contents and keeps the memory. */
void hub_buf_reset(hub_buf_t *b);
/* Frees the memory; the buffer may be used again afterwards. */
void hub_buf_free(hub_buf_t *b);
/* Hands the data (NUL-terminated, malloc'd, caller frees) to the caller. */
char *hub_buf_steal(hub_buf_t *b, size_t *len);

/* Appends v as a base-128 varint (7 bits a byte, low first), and a signed
 * value zig-zag encoded that way (Avro's long encoding). */
int hub_buf_put_varint(hub_buf_t *b, uint64_t v);
static inline int hub_buf_put_zigzag(hub_buf_t *b, int64_t v) {
    return hub_buf_put_varint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}
/* Reads a varint at p[*pos] (len bytes in all), moving *pos past it;
 * -1 when it runs past the end or is longer than 64 bits. */
int hub_varint_read(const uint8_t *p, size_t len, size_t *pos, uint64_t *out);

/* Makes room in a growable array for one more element: *arr holds n
 * elements of elem bytes and has room for *cap; doubles it (from first)
 * when full. 0, or HUB_ENOMEM leaving the array as it was. */
int hub_array_grow(void *arr, size_t *cap, size_t n, size_t elem,
                   size_t first);
/* Makes room for n elements in *arr (capacity *cap), keeping the first
 * ones: exactly n when it grows. 0 or HUB_ENOMEM (the array unchanged). */
int hub_array_reserve(void *arr, size_t *cap, size_t n, size_t elem);

/* Reads a whole file (at most `limit` bytes) into b. */
int hub_buf_read_file(hub_buf_t *b, const char *path, size_t limit,
                      char *err, size_t errlen);

#endif
