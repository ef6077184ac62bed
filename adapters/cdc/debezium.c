/*
 * hub360 - reading Debezium's change events (JsonConverter records).
 *
 * A record is recognised by its shape, not by its topic or connector:
 * an object of exactly `schema` and `payload` is an envelope with the
 * schema; any other object is the payload itself. A change event must
 * have a string `op` and an object `source`, which every Debezium
 * connector writes; the rest (before, after, ts_ms, transaction) is the
 * mapping's business.
 */
#include "debezium.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "errors.h"
#include "hash.h"

const json_t *hub_debezium_unwrap(const json_t *v) {
    if (json_is_object(v) && json_object_size(v) == 2 &&
        json_object_get(v, "schema") && json_object_get(v, "payload"))
        return json_object_get(v, "payload");
    return v;
}

int hub_debezium_payload(const json_t *value, const json_t **payload,
                         char *err, size_t errlen) {
    *payload = NULL;
    const json_t *p = hub_debezium_unwrap(value);
    if (!p || json_is_null(p))
        return 0; /* a tombstone */
    if (!json_is_object(p))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "not a Debezium change event: the value is not a "
                        "JSON object");
    if (!json_is_string(json_object_get(p, "op")))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "not a Debezium change event: no \"op\"");
    if (!json_is_object(json_object_get(p, "source")))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "not a Debezium change event: no \"source\" object");
    *payload = p;
    return 0;
}

int hub_debezium_parse(const void *value, size_t len, json_t **root,
                       const json_t **payload, char *err, size_t errlen) {
    *root = NULL;
    *payload = NULL;
    if (!value)
        return 0;
    char why[256];
    json_t *v = NULL;
    if (hub_codec_parse_text(value, len, &v, why, sizeof(why)))
        return hub_fail(err, errlen, HUB_EDECODE, "not JSON: %s", why);
    int rc = hub_debezium_payload(v, payload, err, errlen);
    if (rc) {
        json_decref(v);
        return rc;
    }
    *root = v;
    return 0;
}

/* source[key] when it is a non-empty string, else NULL. */
static const char *text(const json_t *source, const char *key) {
    const json_t *v = json_object_get(source, key);
    return json_is_string(v) && json_string_length(v) ? json_string_value(v)
                                                      : NULL;
}

int hub_debezium_resource(const json_t *payload, char *out, size_t outlen) {
    const json_t *s = json_object_get(payload, "source");
    if (outlen)
        out[0] = '\0';
    const char *connector = text(s, "connector");
    const char *table = text(s, "table");
    if (!table)
        table = text(s, "collection");
    const char *space = connector && strcmp(connector, "postgresql") == 0
                            ? text(s, "schema")
                            : text(s, "db");
    if (!space)
        space = text(s, "schema");
    if (!table || !space)
        return HUB_ENOENT;
    int n = snprintf(out, outlen, "%s.%s", space, table);
    if (n < 0 || (size_t)n >= outlen) {
        if (outlen)
            out[0] = '\0';
        return HUB_ETOOBIG;
    }
    return 0;
}

json_t *hub_debezium_key(const void *key, size_t len) {
    if (!key)
        return json_null();
    json_t *v = json_loadb(key, len, JSON_DECODE_ANY, NULL);
    if (!v && !(v = json_stringn(key, len)))
        return json_null(); /* neither JSON nor UTF-8 */
    const json_t *p = hub_debezium_unwrap(v);
    if (p != v) {
        json_incref((json_t *)p);
        json_decref(v);
        v = (json_t *)p;
    }
    return v;
}

/* ------------------------------------------------------------------ */
/* Logical types                                                       */
/* ------------------------------------------------------------------ */

#define DEC_MAX_BYTES 64 /* a NUMERIC of 150 digits */

/* Big-endian two's complement bytes, scaled: exact decimal text, or
 * NULL when they do not fit. */
static json_t *decimal_text(const uint8_t *b, size_t n, long scale) {
    if (n == 0 || n > DEC_MAX_BYTES || scale < 0 || scale > 200)
        return NULL;
    uint8_t mag[DEC_MAX_BYTES];
    int neg = b[0] & 0x80;
    memcpy(mag, b, n);
    if (neg) { /* the magnitude: invert and add one */
        int carry = 1;
        for (size_t i = n; i-- > 0;) {
            int v = (uint8_t)~mag[i] + carry;
            mag[i] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    char digits[DEC_MAX_BYTES * 3 + 1]; /* least significant first */
    size_t nd = 0, start = 0;
    while (start < n) { /* divide the magnitude by 10, keep the rest */
        int rem = 0;
        for (size_t i = start; i < n; i++) {
            int cur = rem * 256 + mag[i];
            mag[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
        }
        digits[nd++] = (char)('0' + rem);
        while (start < n && mag[start] == 0)
            start++;
    }
    if (nd == 0)
        digits[nd++] = '0';
    while (nd <= (size_t)scale) /* at least one digit before the point */
        digits[nd++] = '0';
    char out[DEC_MAX_BYTES * 3 + 8];
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    for (size_t i = nd; i-- > 0;) {
        out[o++] = digits[i];
        if (scale && i == (size_t)scale)
            out[o++] = '.';
    }
    out[o] = '\0';
    return json_string(out);
}

static json_t *decimal(const json_t *v, const json_t *params) {
    const char *b64 = json_string_value(v);
    const char *sc = json_string_value(json_object_get(params, "scale"));
    uint8_t bytes[DEC_MAX_BYTES];
    size_t n;
    if (!b64 || !sc ||
        hub_base64_decode(b64, strlen(b64), bytes, sizeof bytes, &n))
        return NULL;
    return decimal_text(bytes, n, strtol(sc, NULL, 10));
}

/* VariableScaleDecimal: {"scale": n, "value": base64}. */
static json_t *variable_decimal(const json_t *v) {
    const char *b64 = json_string_value(json_object_get(v, "value"));
    const json_t *scale = json_object_get(v, "scale");
    uint8_t bytes[DEC_MAX_BYTES];
    size_t n;
    if (!b64 || !json_is_integer(scale) ||
        hub_base64_decode(b64, strlen(b64), bytes, sizeof bytes, &n))
        return NULL;
    return decimal_text(bytes, n, (long)json_integer_value(scale));
}

/* n `units` per second since the epoch, as RFC 3339 UTC with the
 * unit's digits (none for seconds); NULL past the years 1 to 9999. */
static json_t *utc_text(int64_t n, int64_t units, int digits) {
    int64_t secs = n / units, frac = n % units;
    if (frac < 0) {
        frac += units;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    char out[64];
    if (!gmtime_r(&t, &tm) || tm.tm_year < -1899 || tm.tm_year > 8099 ||
        !strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &tm))
        return NULL;
    size_t o = strlen(out);
    if (digits)
        snprintf(out + o, sizeof out - o, ".%0*lldZ", digits,
                 (long long)frac);
    else
        snprintf(out + o, sizeof out - o, "Z");
    return json_string(out);
}

static json_t *instant(const json_t *v, int64_t units, int digits) {
    return json_is_integer(v) ? utc_text(json_integer_value(v), units, digits)
                              : NULL;
}

/* Days since the epoch, the years 1 to 9999: "YYYY-MM-DD". */
static json_t *date(const json_t *v) {
    if (!json_is_integer(v))
        return NULL;
    json_int_t days = json_integer_value(v);
    if (days < -719162 || days > 2932896)
        return NULL;
    json_t *at = utc_text(days * 86400, 1, 0);
    json_t *d = at ? json_stringn(json_string_value(at), 10) : NULL;
    json_decref(at);
    return d;
}

/* The value of a column of the logical type `name`, decoded; NULL when
 * the type is not one of these or the value does not decode. */
static json_t *logical(const char *name, const json_t *v,
                       const json_t *params) {
    if (!strcmp(name, "org.apache.kafka.connect.data.Decimal"))
        return decimal(v, params);
    if (!strcmp(name, "io.debezium.data.VariableScaleDecimal"))
        return variable_decimal(v);
    if (!strcmp(name, "io.debezium.time.Date") ||
        !strcmp(name, "org.apache.kafka.connect.data.Date"))
        return date(v);
    if (!strcmp(name, "io.debezium.time.Timestamp") ||
        !strcmp(name, "org.apache.kafka.connect.data.Timestamp"))
        return instant(v, 1000, 3);
    if (!strcmp(name, "io.debezium.time.MicroTimestamp"))
        return instant(v, 1000000, 6);
    if (!strcmp(name, "io.debezium.time.NanoTimestamp"))
        return instant(v, 1000000000, 9);
    return NULL;
}

/* The column schemas of payload[side] in the record's schema, or NULL. */
static const json_t *row_fields(const json_t *root, const char *side) {
    const json_t *fields =
        json_object_get(json_object_get(root, "schema"), "fields");
    size_t i;
    const json_t *f;
    json_array_foreach(fields, i, f) {
        if (json_is_string(json_object_get(f, "field")) &&
            !strcmp(json_string_value(json_object_get(f, "field")), side))
            return json_object_get(f, "fields");
    }
    return NULL;
}

static void rewrite_row(json_t *row, const json_t *fields) {
    const char *col;
    json_t *v, *tmp;
    json_object_foreach_safe(row, tmp, col, v) {
        if (json_is_string(v) &&
            !strcmp(json_string_value(v), "__debezium_unavailable_value"))
            json_object_del(row, col);
    }
    size_t i;
    const json_t *f;
    json_array_foreach(fields, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *field = json_string_value(json_object_get(f, "field"));
        json_t *cur = field ? json_object_get(row, field) : NULL;
        if (!name || !cur || json_is_null(cur))
            continue;
        json_t *got = logical(name, cur, json_object_get(f, "parameters"));
        if (got)
            json_object_set_new(row, field, got);
    }
}

void hub_debezium_logical(json_t *root, json_t *payload) {
    static const char *const sides[] = {"before", "after"};
    const json_t *shaped = hub_debezium_unwrap(root) == payload ? root : NULL;
    for (size_t i = 0; i < 2; i++) {
        json_t *row = json_object_get(payload, sides[i]);
        if (json_is_object(row))
            rewrite_row(row, shaped ? row_fields(shaped, sides[i]) : NULL);
    }
}
