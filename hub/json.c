/*
 * hub360 - canonical JSON output and jansson helpers.
 */
#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

int hub_json_put_str(hub_buf_t *b, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    if (hub_buf_reserve(b, len + 2))
        return HUB_ENOMEM;
    b->data[b->len++] = '"';
    size_t run = 0; /* bytes copied verbatim, in bulk */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        if (hub_buf_append(b, s + i - run, run))
            return HUB_ENOMEM;
        run = 0;
        char esc[7] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        if (hub_buf_append(b, esc, n))
            return HUB_ENOMEM;
    }
    if (hub_buf_append(b, s + len - run, run))
        return HUB_ENOMEM;
    return hub_buf_putc(b, '"');
}

int hub_json_put_cstr(hub_buf_t *b, const char *s) {
    return hub_json_put_str(b, s, strlen(s));
}

int hub_json_put_int(hub_buf_t *b, int64_t v) {
    /* by hand, backwards: every count and amount of every view goes
     * through here, and snprintf costs more than the rest of it */
    char tmp[24], *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return hub_buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

int hub_json_put_double(hub_buf_t *b, double v) {
    if (!isfinite(v))
        return HUB_EINVAL;
    char tmp[40];
    int n = 0, prec;
    /* The shortest precision that reads back as the same double. */
    for (prec = 1; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* %g goes to exponent form once the exponent reaches the precision;
     * Python's repr only outside 1e-4 <= |v| < 1e16. Follow Python. */
    const char *e = strchr(tmp, 'e');
    if (e) {
        long x = strtol(e + 1, NULL, 10);
        if (x >= -4 && x < 16) {
            long dec = prec - 1 - x;
            n = snprintf(tmp, sizeof tmp, "%.*f", (int)(dec > 0 ? dec : 0), v);
        }
    }
    if (!strpbrk(tmp, ".e")) {
        tmp[n++] = '.';
        tmp[n++] = '0';
        tmp[n] = '\0';
    }
    return hub_buf_append(b, tmp, (size_t)n);
}

int hub_json_put_key(hub_buf_t *b, const char *key, int *first) {
    if (!*first && hub_buf_putc(b, ','))
        return HUB_ENOMEM;
    *first = 0;
    if (hub_json_put_cstr(b, key))
        return HUB_ENOMEM;
    return hub_buf_putc(b, ':');
}

int hub_json_put_value(hub_buf_t *b, const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        int first = 1;
        const char *k;
        json_t *x;
        if (hub_buf_putc(b, '{'))
            return HUB_ENOMEM;
        json_object_foreach((json_t *)v, k, x) {
            if (hub_json_put_key(b, k, &first) || hub_json_put_value(b, x))
                return HUB_ENOMEM;
        }
        return hub_buf_putc(b, '}');
    }
    case JSON_ARRAY: {
        if (hub_buf_putc(b, '['))
            return HUB_ENOMEM;
        for (size_t i = 0; i < json_array_size(v); i++) {
            if ((i && hub_buf_putc(b, ',')) ||
                hub_json_put_value(b, json_array_get(v, i)))
                return HUB_ENOMEM;
        }
        return hub_buf_putc(b, ']');
    }
    case JSON_STRING:
        return hub_json_put_str(b, json_string_value(v),
                                json_string_length(v));
    case JSON_INTEGER:
        return hub_json_put_int(b, json_integer_value(v));
    case JSON_REAL:
        return hub_json_put_double(b, json_real_value(v));
    case JSON_TRUE: return hub_buf_puts(b, "true");
    case JSON_FALSE: return hub_buf_puts(b, "false");
    case JSON_NULL: return hub_buf_puts(b, "null");
    }
    return HUB_EINVAL;
}

void hub_json_describe(const json_t *v, char *out, size_t outlen) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: snprintf(out, outlen, "object"); break;
    case JSON_ARRAY: snprintf(out, outlen, "array"); break;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (len > 40)
            snprintf(out, outlen, "string \"%.37s...\"", s);
        else
            snprintf(out, outlen, "string \"%s\"", s);
        break;
    }
    case JSON_INTEGER:
        snprintf(out, outlen, "integer %" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        break;
    case JSON_REAL: {
        hub_buf_t b = HUB_BUF_INIT;
        if (hub_json_put_double(&b, json_real_value(v)) == 0)
            snprintf(out, outlen, "number %s", b.data);
        else
            snprintf(out, outlen, "number");
        hub_buf_free(&b);
        break;
    }
    case JSON_TRUE: snprintf(out, outlen, "true"); break;
    case JSON_FALSE: snprintf(out, outlen, "false"); break;
    case JSON_NULL: snprintf(out, outlen, "null"); break;
    }
}

long hub_utf8_invalid_at(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return (long)i;
        }
        if (i + n >= len) /* the sequence runs past the end */
            return (long)i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return (long)i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        /* overlong forms, surrogates and values past U+10FFFF */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return (long)i;
        i += n + 1;
    }
    return -1;
}

int hub_json_view_answer(hub_buf_t *out, const char *view, size_t len,
                         const char *from) {
    if (!from || len < 2 || view[0] != '{')
        return hub_buf_append(out, view, len);
    /* room for the worst case, so that no append below can fail */
    if (hub_buf_reserve(out, len + 6 * strlen(from) + 24))
        return HUB_ENOMEM;
    int first = 1;
    hub_buf_putc(out, '{');
    hub_json_put_key(out, "resolved_from", &first);
    hub_json_put_cstr(out, from);
    if (len > 2) /* not {} */
        hub_buf_putc(out, ',');
    return hub_buf_append(out, view + 1, len - 1);
}

int hub_json_timeline_doc(hub_buf_t *out, const char *id, const char *items,
                          size_t len, const char *next) {
    if (hub_buf_reserve(out, len + 6 * (strlen(id) + (next ? strlen(next) : 0))
                                 + 48))
        return HUB_ENOMEM;
    int first = 1;
    hub_buf_putc(out, '{');
    hub_json_put_key(out, "customer_id", &first);
    hub_json_put_cstr(out, id);
    hub_json_put_key(out, "items", &first);
    hub_buf_append(out, items, len);
    hub_json_put_key(out, "next", &first);
    if (next && next[0])
        hub_json_put_cstr(out, next);
    else
        hub_buf_puts(out, "null");
    return hub_buf_putc(out, '}');
}
