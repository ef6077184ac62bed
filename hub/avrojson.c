/*
 * hub360 - Avro values <-> canonical JSON, a validating walk over Avro
 * binary, and schema resolution on avro-c.
 */
#include "avrojson.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "timefmt.h"
#include "uuid.h"

/* ------------------------------------------------------------------ */
/* JSON -> Avro value                                                  */
/* ------------------------------------------------------------------ */

typedef struct fj_ctx {
    const hub_avro_json_opts_t *o;
    int avro_defaults;
    char *err;
    size_t errlen;
} fj_ctx;

static void expected_name(const hub_snode_t *n, char *out, size_t outlen) {
    switch (n->type) {
    case HUB_S_NULL: snprintf(out, outlen, "null"); return;
    case HUB_S_BOOLEAN: snprintf(out, outlen, "true or false"); return;
    case HUB_S_INT:
    case HUB_S_LONG:
        snprintf(out, outlen, "%s",
                 n->logical == HUB_L_TIMESTAMP_MILLIS ? "RFC 3339 time string"
                                                      : "integer");
        return;
    case HUB_S_FLOAT:
    case HUB_S_DOUBLE: snprintf(out, outlen, "number"); return;
    case HUB_S_BYTES:
    case HUB_S_FIXED: snprintf(out, outlen, "string"); return;
    case HUB_S_STRING:
        snprintf(out, outlen, "%s",
                 n->logical == HUB_L_UUID ? "UUID string" : "string");
        return;
    case HUB_S_RECORD:
    case HUB_S_MAP: snprintf(out, outlen, "object"); return;
    case HUB_S_ARRAY: snprintf(out, outlen, "array"); return;
    case HUB_S_ENUM: {
        size_t o = (size_t)snprintf(out, outlen, "one of ");
        for (size_t i = 0; i < n->nsymbols && o < outlen; i++) {
            o += (size_t)snprintf(out + o, outlen - o, "%s", i ? ", " : "");
            for (const char *s = n->symbols[i]; *s && o + 1 < outlen; s++)
                out[o++] = (char)tolower((unsigned char)*s);
            if (o < outlen)
                out[o] = '\0';
        }
        return;
    }
    case HUB_S_UNION: {
        size_t o = 0;
        out[0] = '\0';
        for (size_t i = 0; i < n->nbranches && o < outlen; i++) {
            char b[128];
            expected_name(n->branches[i], b, sizeof b);
            o += (size_t)snprintf(out + o, outlen - o, "%s%s",
                                  i == 0                    ? ""
                                  : i + 1 == n->nbranches ? " or "
                                                            : ", ",
                                  b);
        }
        return;
    }
    }
}

static int expect(fj_ctx *c, const char *path, const hub_snode_t *n,
                  const json_t *j, const char *why) {
    char want[256], got[96];
    expected_name(n, want, sizeof want);
    hub_json_describe(j, got, sizeof got);
    if (why)
        return hub_fail(c->err, c->errlen, HUB_EINVAL,
                        "%s: expected %s, got %s (%s)", path, want, got, why);
    return hub_fail(c->err, c->errlen, HUB_EINVAL, "%s: expected %s, got %s",
                    path, want, got);
}

static int avro_fail(fj_ctx *c, const char *path) {
    return hub_fail(c->err, c->errlen, HUB_EINVAL, "%s: avro-c: %s", path,
                    avro_strerror());
}

static int from_json(fj_ctx *c, const hub_snode_t *n, const json_t *j,
                     avro_value_t *v, const char *path);

/* Does JSON j look like a value of n (for choosing a union branch)? */
static int kind_matches(const hub_snode_t *n, const json_t *j) {
    switch (n->type) {
    case HUB_S_NULL: return json_is_null(j);
    case HUB_S_BOOLEAN: return json_is_boolean(j);
    case HUB_S_INT:
    case HUB_S_LONG:
        return n->logical == HUB_L_TIMESTAMP_MILLIS ? json_is_string(j)
                                                    : json_is_integer(j);
    case HUB_S_FLOAT:
    case HUB_S_DOUBLE: return json_is_number(j);
    case HUB_S_BYTES:
    case HUB_S_STRING:
    case HUB_S_ENUM:
    case HUB_S_FIXED: return json_is_string(j);
    case HUB_S_RECORD:
    case HUB_S_MAP: return json_is_object(j);
    case HUB_S_ARRAY: return json_is_array(j);
    case HUB_S_UNION: return 0;
    }
    return 0;
}

static int union_from_json(fj_ctx *c, const hub_snode_t *n, const json_t *j,
                           avro_value_t *v, const char *path) {
    size_t pick = n->nbranches;
    int event_union = 0;
    for (size_t i = 0; i < n->nbranches; i++)
        event_union |= n->branches[i]->event_type != NULL;
    if (c->avro_defaults) {
        pick = 0; /* a union's default is for its first branch */
    } else if (json_is_null(j)) {
        for (size_t i = 0; i < n->nbranches && pick == n->nbranches; i++) {
            if (n->branches[i]->type == HUB_S_NULL)
                pick = i;
        }
    } else if (event_union) {
        const char *t = c->o ? c->o->event_type : NULL;
        for (size_t i = 0; t && i < n->nbranches && pick == n->nbranches; i++) {
            const char *et = n->branches[i]->event_type;
            if (et && strcmp(et, t) == 0)
                pick = i;
        }
        if (pick == n->nbranches)
            return hub_fail(c->err, c->errlen, HUB_EINVAL,
                            "%s: no payload schema for type \"%s\"", path,
                            t ? t : "(none)");
    } else {
        for (size_t i = 0; i < n->nbranches && pick == n->nbranches; i++) {
            if (kind_matches(n->branches[i], j))
                pick = i;
        }
    }
    if (pick == n->nbranches)
        return expect(c, path, n, j, NULL);
    avro_value_t branch;
    if (avro_value_set_branch(v, (int)pick, &branch))
        return avro_fail(c, path);
    return from_json(c, n->branches[pick], j, &branch, path);
}

static int record_from_json(fj_ctx *c, const hub_snode_t *n, const json_t *j,
                            avro_value_t *v, const char *path) {
    if (!json_is_object(j))
        return expect(c, path, n, j, NULL);
    char fpath[512];
    const char *key;
    json_t *jv;
    json_object_foreach((json_t *)j, key, jv) {
        size_t i = 0;
        while (i < n->nfields && strcmp(n->fields[i].name, key) != 0)
            i++;
        if (i == n->nfields) {
            snprintf(fpath, sizeof fpath, "%s%s%s", path, *path ? "." : "",
                     key);
            return hub_fail(c->err, c->errlen, HUB_EINVAL,
                            "%s: unknown field", fpath);
        }
    }
    for (size_t i = 0; i < n->nfields; i++) {
        const hub_sfield_t *f = &n->fields[i];
        snprintf(fpath, sizeof fpath, "%s%s%s", path, *path ? "." : "",
                 f->name);
        avro_value_t fv;
        if (avro_value_get_by_index(v, i, &fv, NULL))
            return avro_fail(c, fpath);
        const json_t *x = json_object_get(j, f->name);
        int rc;
        if (x) {
            rc = from_json(c, f->type, x, &fv, fpath);
        } else if (f->def) {
            int saved = c->avro_defaults;
            c->avro_defaults = 1;
            rc = from_json(c, f->type, f->def, &fv, fpath);
            c->avro_defaults = saved;
        } else {
            return hub_fail(c->err, c->errlen, HUB_EINVAL,
                            "%s: missing required field", fpath);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int enum_from_json(fj_ctx *c, const hub_snode_t *n, const json_t *j,
                          avro_value_t *v, const char *path) {
    if (!json_is_string(j))
        return expect(c, path, n, j, NULL);
    const char *s = json_string_value(j);
    for (size_t i = 0; i < n->nsymbols; i++) {
        int match = c->avro_defaults ? strcmp(n->symbols[i], s) == 0
                                     : strcasecmp(n->symbols[i], s) == 0;
        if (match)
            return avro_value_set_enum(v, (int)i) ? avro_fail(c, path) : 0;
    }
    return expect(c, path, n, j, NULL);
}

static int from_json(fj_ctx *c, const hub_snode_t *n, const json_t *j,
                     avro_value_t *v, const char *path) {
    int rc = 0;
    switch (n->type) {
    case HUB_S_NULL:
        if (!json_is_null(j))
            return expect(c, path, n, j, NULL);
        rc = avro_value_set_null(v);
        break;
    case HUB_S_BOOLEAN:
        if (!json_is_boolean(j))
            return expect(c, path, n, j, NULL);
        rc = avro_value_set_boolean(v, json_is_true(j));
        break;
    case HUB_S_INT:
        if (!json_is_integer(j))
            return expect(c, path, n, j, NULL);
        if (json_integer_value(j) < INT32_MIN ||
            json_integer_value(j) > INT32_MAX)
            return expect(c, path, n, j, "out of the 32-bit range");
        rc = avro_value_set_int(v, (int32_t)json_integer_value(j));
        break;
    case HUB_S_LONG:
        if (n->logical == HUB_L_TIMESTAMP_MILLIS && !c->avro_defaults) {
            int64_t ms;
            const char *why = NULL;
            if (!json_is_string(j))
                return expect(c, path, n, j, NULL);
            if (hub_time_parse(json_string_value(j), json_string_length(j),
                               &ms, &why))
                return expect(c, path, n, j, why);
            rc = avro_value_set_long(v, ms);
            break;
        }
        if (!json_is_integer(j))
            return expect(c, path, n, j, NULL);
        rc = avro_value_set_long(v, json_integer_value(j));
        break;
    case HUB_S_FLOAT:
        if (!json_is_number(j))
            return expect(c, path, n, j, NULL);
        rc = avro_value_set_float(v, (float)json_number_value(j));
        break;
    case HUB_S_DOUBLE:
        if (!json_is_number(j))
            return expect(c, path, n, j, NULL);
        rc = avro_value_set_double(v, json_number_value(j));
        break;
    case HUB_S_STRING:
        if (!json_is_string(j))
            return expect(c, path, n, j, NULL);
        if (n->logical == HUB_L_UUID && !c->avro_defaults) {
            hub_uuid_t u;
            if (hub_uuid_parse(json_string_value(j), json_string_length(j),
                               &u))
                return expect(c, path, n, j, NULL);
        }
        rc = avro_value_set_string_len(v, json_string_value(j),
                                       json_string_length(j) + 1);
        break;
    case HUB_S_BYTES:
        if (!json_is_string(j))
            return expect(c, path, n, j, NULL);
        rc = avro_value_set_bytes(v, (void *)json_string_value(j),
                                  json_string_length(j));
        break;
    case HUB_S_FIXED:
        if (!json_is_string(j) || json_string_length(j) != n->fixed_size)
            return expect(c, path, n, j, "of the fixed size");
        rc = avro_value_set_fixed(v, (void *)json_string_value(j),
                                  n->fixed_size);
        break;
    case HUB_S_ENUM: return enum_from_json(c, n, j, v, path);
    case HUB_S_RECORD: return record_from_json(c, n, j, v, path);
    case HUB_S_UNION: return union_from_json(c, n, j, v, path);
    case HUB_S_ARRAY: {
        if (!json_is_array(j))
            return expect(c, path, n, j, NULL);
        for (size_t i = 0; i < json_array_size(j); i++) {
            char ipath[512];
            avro_value_t item;
            snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
            if (avro_value_append(v, &item, NULL))
                return avro_fail(c, ipath);
            if ((rc = from_json(c, n->items, json_array_get(j, i), &item,
                                ipath)))
                return rc;
        }
        return 0;
    }
    case HUB_S_MAP: {
        if (!json_is_object(j))
            return expect(c, path, n, j, NULL);
        const char *key;
        json_t *x;
        json_object_foreach((json_t *)j, key, x) {
            char kpath[512];
            avro_value_t item;
            snprintf(kpath, sizeof kpath, "%s.%s", path, key);
            if (avro_value_add(v, key, &item, NULL, NULL))
                return avro_fail(c, kpath);
            if ((rc = from_json(c, n->items, x, &item, kpath)))
                return rc;
        }
        return 0;
    }
    }
    return rc ? avro_fail(c, path) : 0;
}

int hub_avro_from_json(const hub_snode_t *node, const json_t *j,
                       avro_value_t *v, const char *path,
                       const hub_avro_json_opts_t *opts, char *err,
                       size_t errlen) {
    fj_ctx c = {opts, opts ? opts->avro_defaults : 0, err, errlen};
    return from_json(&c, node, j, v, path ? path : "");
}

/* ------------------------------------------------------------------ */
/* Avro value -> canonical JSON                                        */
/* ------------------------------------------------------------------ */

static int put_latin1(hub_buf_t *out, const unsigned char *p, size_t len) {
    hub_buf_t tmp = HUB_BUF_INIT;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x80) {
            hub_buf_putc(&tmp, (char)p[i]);
        } else {
            hub_buf_putc(&tmp, (char)(0xc0 | p[i] >> 6));
            hub_buf_putc(&tmp, (char)(0x80 | (p[i] & 0x3f)));
        }
    }
    int rc = hub_json_put_str(out, tmp.data ? tmp.data : "", tmp.len);
    hub_buf_free(&tmp);
    return rc;
}

/* Is this field's value absent (null, or a union on its null branch)? */
static int is_null_value(const hub_snode_t *n, const avro_value_t *v) {
    if (n->type == HUB_S_NULL)
        return 1;
    if (n->type != HUB_S_UNION)
        return 0;
    int d;
    if (avro_value_get_discriminant(v, &d) || d < 0 ||
        (size_t)d >= n->nbranches)
        return 0;
    return n->branches[d]->type == HUB_S_NULL;
}

int hub_avro_to_json(const hub_snode_t *n, const avro_value_t *v,
                     hub_buf_t *out) {
    switch (n->type) {
    case HUB_S_NULL: return hub_buf_puts(out, "null");
    case HUB_S_BOOLEAN: {
        int b = 0;
        avro_value_get_boolean(v, &b);
        return hub_buf_puts(out, b ? "true" : "false");
    }
    case HUB_S_INT: {
        int32_t i = 0;
        avro_value_get_int(v, &i);
        return hub_json_put_int(out, i);
    }
    case HUB_S_LONG: {
        int64_t l = 0;
        avro_value_get_long(v, &l);
        if (n->logical == HUB_L_TIMESTAMP_MILLIS) {
            char ts[HUB_TIME_MAXLEN];
            size_t len = hub_time_format(l, ts);
            return hub_json_put_str(out, ts, len);
        }
        return hub_json_put_int(out, l);
    }
    case HUB_S_FLOAT: {
        float f = 0;
        avro_value_get_float(v, &f);
        return hub_json_put_double(out, f);
    }
    case HUB_S_DOUBLE: {
        double d = 0;
        avro_value_get_double(v, &d);
        return hub_json_put_double(out, d);
    }
    case HUB_S_STRING: {
        const char *s = NULL;
        size_t size = 0;
        avro_value_get_string(v, &s, &size);
        return hub_json_put_str(out, s ? s : "", size ? size - 1 : 0);
    }
    case HUB_S_BYTES: {
        const void *p = NULL;
        size_t size = 0;
        avro_value_get_bytes(v, &p, &size);
        return put_latin1(out, p, size);
    }
    case HUB_S_FIXED: {
        const void *p = NULL;
        size_t size = 0;
        avro_value_get_fixed(v, &p, &size);
        return put_latin1(out, p, size);
    }
    case HUB_S_ENUM: {
        int e = 0;
        avro_value_get_enum(v, &e);
        if (e < 0 || (size_t)e >= n->nsymbols)
            return HUB_EDECODE;
        char sym[256];
        size_t i = 0;
        for (const char *s = n->symbols[e]; *s && i + 1 < sizeof sym; s++)
            sym[i++] = (char)tolower((unsigned char)*s);
        return hub_json_put_str(out, sym, i);
    }
    case HUB_S_UNION: {
        int d = 0;
        avro_value_t b;
        if (avro_value_get_discriminant(v, &d) || d < 0 ||
            (size_t)d >= n->nbranches || avro_value_get_current_branch(v, &b))
            return HUB_EDECODE;
        return hub_avro_to_json(n->branches[d], &b, out);
    }
    case HUB_S_RECORD: {
        int first = 1, rc = hub_buf_putc(out, '{');
        for (size_t i = 0; !rc && i < n->nfields; i++) {
            avro_value_t fv;
            if (avro_value_get_by_index(v, i, &fv, NULL))
                return HUB_EDECODE;
            if (is_null_value(n->fields[i].type, &fv))
                continue;
            rc = hub_json_put_key(out, n->fields[i].name, &first);
            if (!rc)
                rc = hub_avro_to_json(n->fields[i].type, &fv, out);
        }
        return rc ? rc : hub_buf_putc(out, '}');
    }
    case HUB_S_ARRAY:
    case HUB_S_MAP: {
        int is_map = n->type == HUB_S_MAP;
        size_t size = 0;
        avro_value_get_size(v, &size);
        int rc = hub_buf_putc(out, is_map ? '{' : '[');
        for (size_t i = 0; !rc && i < size; i++) {
            avro_value_t item;
            const char *key = NULL;
            if (avro_value_get_by_index(v, i, &item, &key))
                return HUB_EDECODE;
            if (i)
                rc = hub_buf_putc(out, ',');
            if (!rc && is_map) {
                rc = hub_json_put_cstr(out, key ? key : "");
                if (!rc)
                    rc = hub_buf_putc(out, ':');
            }
            if (!rc)
                rc = hub_avro_to_json(n->items, &item, out);
        }
        return rc ? rc : hub_buf_putc(out, is_map ? '}' : ']');
    }
    }
    return HUB_EINVAL;
}

/* ------------------------------------------------------------------ */
/* Validating walk over Avro binary                                    */
/* ------------------------------------------------------------------ */

#define MAX_EMPTY_ITEMS (1u << 20) /* zero-width items, e.g. array<null> */

typedef struct vctx {
    const uint8_t *p;
    size_t len, pos;
    size_t empty_items;
    char *err;
    size_t errlen;
} vctx;

static int truncated(vctx *c, size_t need) {
    return hub_fail(c->err, c->errlen, HUB_EDECODE,
                    "truncated Avro: %zu more bytes needed at byte %zu of %zu",
                    need, c->pos, c->len);
}

static int read_long(vctx *c, int64_t *out) {
    uint64_t v = 0;
    size_t start = c->pos;
    for (int shift = 0;; shift += 7) {
        if (c->pos >= c->len) {
            c->pos = start;
            return truncated(c, 1);
        }
        if (shift > 63)
            return hub_fail(c->err, c->errlen, HUB_EDECODE,
                            "malformed Avro: varint longer than 10 bytes at "
                            "byte %zu",
                            start);
        uint8_t b = c->p[c->pos++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
    return 0;
}

static int need(vctx *c, size_t n) {
    return c->len - c->pos < n ? truncated(c, n - (c->len - c->pos)) : 0;
}

static int read_len(vctx *c, const char *what, size_t *out) {
    size_t at = c->pos;
    int64_t l = 0;
    int rc = read_long(c, &l);
    if (rc)
        return rc;
    if (l < 0)
        return hub_fail(c->err, c->errlen, HUB_EDECODE,
                        "malformed Avro: negative %s length at byte %zu",
                        what, at);
    if ((uint64_t)l > c->len - c->pos)
        return truncated(c, (size_t)((uint64_t)l - (c->len - c->pos)));
    *out = (size_t)l;
    return 0;
}

static int walk(vctx *c, const hub_snode_t *n);

static int walk_blocks(vctx *c, const hub_snode_t *n) {
    for (;;) {
        size_t at = c->pos;
        int64_t count;
        int rc = read_long(c, &count);
        if (rc)
            return rc;
        if (count == 0)
            return 0;
        if (count < 0) {
            int64_t bytes;
            if (count == INT64_MIN || (rc = read_long(c, &bytes)))
                return rc ? rc
                          : hub_fail(c->err, c->errlen, HUB_EDECODE,
                                     "malformed Avro: block count at byte "
                                     "%zu",
                                     at);
            count = -count;
        }
        for (int64_t i = 0; i < count; i++) {
            size_t before = c->pos;
            if (n->type == HUB_S_MAP) {
                size_t klen;
                if ((rc = read_len(c, "map key", &klen)))
                    return rc;
                c->pos += klen;
            }
            if ((rc = walk(c, n->items)))
                return rc;
            if (c->pos == before && ++c->empty_items > MAX_EMPTY_ITEMS)
                return hub_fail(c->err, c->errlen, HUB_EDECODE,
                                "malformed Avro: more than %u empty items "
                                "(block at byte %zu)",
                                MAX_EMPTY_ITEMS, at);
        }
    }
}

static int walk(vctx *c, const hub_snode_t *n) {
    int rc = 0;
    size_t at = c->pos;
    int64_t l;
    switch (n->type) {
    case HUB_S_NULL: return 0;
    case HUB_S_BOOLEAN:
        if ((rc = need(c, 1)))
            return rc;
        if (c->p[c->pos] > 1)
            return hub_fail(c->err, c->errlen, HUB_EDECODE,
                            "malformed Avro: boolean byte %u at byte %zu",
                            c->p[c->pos], at);
        c->pos++;
        return 0;
    case HUB_S_INT:
        if ((rc = read_long(c, &l)))
            return rc;
        if (l < INT32_MIN || l > INT32_MAX)
            return hub_fail(c->err, c->errlen, HUB_EDECODE,
                            "malformed Avro: int out of range at byte %zu",
                            at);
        return 0;
    case HUB_S_LONG: return read_long(c, &l);
    case HUB_S_FLOAT:
        if ((rc = need(c, 4)))
            return rc;
        c->pos += 4;
        return 0;
    case HUB_S_DOUBLE:
        if ((rc = need(c, 8)))
            return rc;
        c->pos += 8;
        return 0;
    case HUB_S_FIXED:
        if ((rc = need(c, n->fixed_size)))
            return rc;
        c->pos += n->fixed_size;
        return 0;
    case HUB_S_BYTES:
    case HUB_S_STRING: {
        size_t len;
        if ((rc = read_len(c, n->type == HUB_S_STRING ? "string" : "bytes",
                           &len)))
            return rc;
        if (n->type == HUB_S_STRING) {
            long bad = hub_utf8_invalid_at((const char *)c->p + c->pos, len);
            if (bad >= 0)
                return hub_fail(c->err, c->errlen, HUB_EDECODE,
                                "invalid UTF-8 in an Avro string at byte %zu",
                                c->pos + (size_t)bad);
        }
        c->pos += len;
        return 0;
    }
    case HUB_S_ENUM:
        if ((rc = read_long(c, &l)))
            return rc;
        if (l < 0 || (uint64_t)l >= n->nsymbols)
            return hub_fail(c->err, c->errlen, HUB_EDECODE,
                            "malformed Avro: enum index %lld out of range "
                            "for %s at byte %zu",
                            (long long)l, n->fullname, at);
        return 0;
    case HUB_S_UNION:
        if ((rc = read_long(c, &l)))
            return rc;
        if (l < 0 || (uint64_t)l >= n->nbranches)
            return hub_fail(c->err, c->errlen, HUB_EDECODE,
                            "malformed Avro: union index %lld out of range "
                            "(%zu branches) at byte %zu",
                            (long long)l, n->nbranches, at);
        return walk(c, n->branches[l]);
    case HUB_S_RECORD:
        for (size_t i = 0; i < n->nfields; i++) {
            if ((rc = walk(c, n->fields[i].type)))
                return rc;
        }
        return 0;
    case HUB_S_ARRAY:
    case HUB_S_MAP: return walk_blocks(c, n);
    }
    return HUB_EINVAL;
}

int hub_avro_validate(const hub_snode_t *node, const void *buf, size_t len,
                      char *err, size_t errlen) {
    vctx c = {buf, len, 0, 0, err, errlen};
    int rc = walk(&c, node);
    if (rc)
        return rc;
    if (c.pos != len)
        return hub_fail(err, errlen, HUB_EDECODE,
                        "malformed Avro: %zu trailing bytes after the value "
                        "(at byte %zu)",
                        len - c.pos, c.pos);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Resolution                                                          */
/* ------------------------------------------------------------------ */

struct hub_avro_resolver {
    const hub_schema_t *writer, *reader;
    hub_schema_t *pruned;         /* NULL when writer and reader are equal */
    avro_value_iface_t *rw_iface; /* resolved writer: writer -> pruned */
    avro_value_t resolved, pruned_val;
    int have_values;
    avro_reader_t mem;
};

void hub_avro_resolver_free(hub_avro_resolver_t *r) {
    if (!r)
        return;
    if (r->have_values) {
        avro_value_decref(&r->resolved);
        avro_value_decref(&r->pruned_val);
    }
    if (r->rw_iface)
        avro_value_iface_decref(r->rw_iface);
    hub_schema_free(r->pruned);
    if (r->mem)
        avro_reader_free(r->mem);
    free(r);
}

int hub_avro_resolver_new(const hub_schema_t *writer,
                          const hub_schema_t *reader,
                          hub_avro_resolver_t **out, char *err,
                          size_t errlen) {
    *out = NULL;
    hub_avro_resolver_t *r = calloc(1, sizeof *r);
    if (!r)
        return HUB_ENOMEM;
    r->writer = writer;
    r->reader = reader;
    int rc = 0;
    if (!(r->mem = avro_reader_memory("", 0))) {
        rc = HUB_ENOMEM;
        goto fail;
    }
    if (strcmp(hub_schema_text(writer), hub_schema_text(reader)) != 0) {
        hub_compat_t rep = {HUB_BUF_INIT, 0, NULL, NULL};
        if (hub_schema_check_readable(hub_schema_root(writer),
                                      hub_schema_root(reader), &rep)) {
            char *nl = strchr(rep.lines.data, '\n');
            if (nl)
                *nl = '\0';
            rc = hub_fail(err, errlen, HUB_ESCHEMA,
                          "the reader schema cannot read this writer's "
                          "data: %s",
                          rep.lines.data);
            hub_buf_free(&rep.lines);
            goto fail;
        }
        char *text = NULL;
        if ((rc = hub_schema_prune(reader, writer, &text)))
            goto fail;
        rc = hub_schema_parse(text, strlen(text), NULL, NULL, &r->pruned,
                              err, errlen);
        free(text);
        if (rc)
            goto fail;
        r->rw_iface = avro_resolved_writer_new(hub_schema_avro(writer),
                                               hub_schema_avro(r->pruned));
        if (!r->rw_iface) {
            rc = hub_fail(err, errlen, HUB_ESCHEMA, "avro-c resolver: %s",
                          avro_strerror());
            goto fail;
        }
        if (avro_resolved_writer_new_value(r->rw_iface, &r->resolved) ||
            avro_generic_value_new(hub_schema_iface(r->pruned),
                                   &r->pruned_val)) {
            rc = HUB_ENOMEM;
            goto fail;
        }
        r->have_values = 1;
        avro_resolved_writer_set_dest(&r->resolved, &r->pruned_val);
    }
    *out = r;
    return 0;
fail:
    hub_avro_resolver_free(r);
    return rc;
}

/* Copies a value of the pruned reader schema into a full reader value,
 * filling the fields the writer did not have with their defaults. */
static int copy_value(const hub_snode_t *n, avro_value_t *src,
                      avro_value_t *dst, char *err, size_t errlen) {
    int rc = 0;
    switch (n->type) {
    case HUB_S_NULL: return avro_value_set_null(dst);
    case HUB_S_BOOLEAN: {
        int b;
        return avro_value_get_boolean(src, &b) ?: avro_value_set_boolean(dst, b);
    }
    case HUB_S_INT: {
        int32_t i;
        return avro_value_get_int(src, &i) ?: avro_value_set_int(dst, i);
    }
    case HUB_S_LONG: {
        int64_t l;
        return avro_value_get_long(src, &l) ?: avro_value_set_long(dst, l);
    }
    case HUB_S_FLOAT: {
        float f;
        return avro_value_get_float(src, &f) ?: avro_value_set_float(dst, f);
    }
    case HUB_S_DOUBLE: {
        double d;
        return avro_value_get_double(src, &d) ?: avro_value_set_double(dst, d);
    }
    case HUB_S_STRING: {
        const char *s;
        size_t size;
        return avro_value_get_string(src, &s, &size)
                   ?: avro_value_set_string_len(dst, s, size);
    }
    case HUB_S_BYTES: {
        const void *p;
        size_t size;
        return avro_value_get_bytes(src, &p, &size)
                   ?: avro_value_set_bytes(dst, (void *)p, size);
    }
    case HUB_S_FIXED: {
        const void *p;
        size_t size;
        return avro_value_get_fixed(src, &p, &size)
                   ?: avro_value_set_fixed(dst, (void *)p, size);
    }
    case HUB_S_ENUM: {
        int e;
        return avro_value_get_enum(src, &e) ?: avro_value_set_enum(dst, e);
    }
    case HUB_S_UNION: {
        int d;
        avro_value_t sb, db;
        if ((rc = avro_value_get_discriminant(src, &d)) ||
            (rc = avro_value_get_current_branch(src, &sb)) ||
            (rc = avro_value_set_branch(dst, d, &db)))
            return rc;
        return copy_value(n->branches[d], &sb, &db, err, errlen);
    }
    case HUB_S_RECORD:
        for (size_t i = 0; i < n->nfields; i++) {
            const hub_sfield_t *f = &n->fields[i];
            avro_value_t sf, df;
            if ((rc = avro_value_get_by_index(dst, i, &df, NULL)))
                return rc;
            if (avro_value_get_by_name(src, f->name, &sf, NULL) == 0) {
                rc = copy_value(f->type, &sf, &df, err, errlen);
            } else {
                hub_avro_json_opts_t o = {.avro_defaults = 1};
                rc = hub_avro_from_json(f->type, f->def, &df, f->name, &o, err,
                                        errlen);
            }
            if (rc)
                return rc;
        }
        return 0;
    case HUB_S_ARRAY:
    case HUB_S_MAP: {
        size_t size;
        if ((rc = avro_value_get_size(src, &size)))
            return rc;
        for (size_t i = 0; i < size; i++) {
            avro_value_t si, di;
            const char *key = NULL;
            if ((rc = avro_value_get_by_index(src, i, &si, &key)))
                return rc;
            rc = n->type == HUB_S_ARRAY
                     ? avro_value_append(dst, &di, NULL)
                     : avro_value_add(dst, key, &di, NULL, NULL);
            if (rc || (rc = copy_value(n->items, &si, &di, err, errlen)))
                return rc;
        }
        return 0;
    }
    }
    return HUB_EINVAL;
}

int hub_avro_resolver_read(hub_avro_resolver_t *r, const void *buf,
                           size_t len, avro_value_t *dest, char *err,
                           size_t errlen) {
    int rc = hub_avro_validate(hub_schema_root(r->writer), buf, len, err,
                               errlen);
    if (rc)
        return rc;
    avro_reader_memory_set_source(r->mem, buf, (int64_t)len);
    avro_value_reset(dest);
    if (!r->pruned) {
        if (avro_value_read(r->mem, dest))
            return hub_fail(err, errlen, HUB_EDECODE, "avro-c: %s",
                            avro_strerror());
        return 0;
    }
    avro_value_reset(&r->pruned_val);
    if (avro_value_read(r->mem, &r->resolved))
        return hub_fail(err, errlen, HUB_EDECODE, "avro-c: %s",
                        avro_strerror());
    if (copy_value(hub_schema_root(r->reader), &r->pruned_val, dest, err,
                   errlen))
        return hub_fail(err, errlen, HUB_EDECODE,
                        "filling reader defaults: %s", avro_strerror());
    return 0;
}

/* ------------------------------------------------------------------ */
/* Avro binary straight to canonical JSON                              */
/* ------------------------------------------------------------------ */

/* A zig-zag varint (int or long) at buf[*pos]. */
static int bin_long(const uint8_t *buf, size_t len, size_t *pos,
                    int64_t *v) {
    uint64_t u;
    if (hub_varint_read(buf, len, pos, &u))
        return HUB_EDECODE;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

/* A length-prefixed string or bytes: where it starts and how long. */
static int bin_bytes(const uint8_t *buf, size_t len, size_t *pos,
                     const uint8_t **p, size_t *n) {
    int64_t l;
    if (bin_long(buf, len, pos, &l) || l < 0 || (uint64_t)l > len - *pos)
        return HUB_EDECODE;
    *p = buf + *pos;
    *n = (size_t)l;
    *pos += (size_t)l;
    return 0;
}

/* Arrays and maps: blocks of items, a negative count followed by the
 * block's size in bytes, a zero count at the end. */
static int bin_blocks(const hub_snode_t *n, const uint8_t *buf, size_t len,
                      size_t *pos, hub_buf_t *out) {
    int is_map = n->type == HUB_S_MAP, rc = hub_buf_putc(out, is_map ? '{' : '[');
    size_t k = 0;
    for (;;) {
        int64_t count;
        if (rc || (rc = bin_long(buf, len, pos, &count)))
            return rc;
        if (count == 0)
            break;
        if (count < 0) {
            int64_t size;
            if (count == INT64_MIN || (rc = bin_long(buf, len, pos, &size)))
                return HUB_EDECODE;
            count = -count;
        }
        /* every item but a null takes a byte at least */
        uint64_t most = n->items->type == HUB_S_NULL ? 1u << 20 : len - *pos;
        if ((uint64_t)count > most)
            return HUB_EDECODE;
        for (int64_t i = 0; !rc && i < count; i++, k++) {
            if (k)
                rc = hub_buf_putc(out, ',');
            if (!rc && is_map) {
                const uint8_t *key;
                size_t klen;
                if ((rc = bin_bytes(buf, len, pos, &key, &klen)))
                    return rc;
                rc = hub_json_put_str(out, (const char *)key, klen);
                if (!rc)
                    rc = hub_buf_putc(out, ':');
            }
            if (!rc)
                rc = hub_avro_bin_to_json(n->items, buf, len, pos, out);
        }
    }
    return hub_buf_putc(out, is_map ? '}' : ']');
}

int hub_avro_bin_to_json(const hub_snode_t *n, const uint8_t *buf,
                         size_t len, size_t *pos, hub_buf_t *out) {
    int64_t l;
    const uint8_t *p;
    size_t plen;
    switch (n->type) {
    case HUB_S_NULL: return hub_buf_puts(out, "null");
    case HUB_S_BOOLEAN:
        if (*pos >= len)
            return HUB_EDECODE;
        return hub_buf_puts(out, buf[(*pos)++] ? "true" : "false");
    case HUB_S_INT:
    case HUB_S_LONG:
        if (bin_long(buf, len, pos, &l))
            return HUB_EDECODE;
        if (n->logical == HUB_L_TIMESTAMP_MILLIS && n->type == HUB_S_LONG) {
            char ts[HUB_TIME_MAXLEN];
            size_t tlen = hub_time_format(l, ts);
            return hub_json_put_str(out, ts, tlen);
        }
        return hub_json_put_int(out, n->type == HUB_S_INT ? (int32_t)l : l);
    case HUB_S_FLOAT: {
        float f;
        if (len - *pos < 4)
            return HUB_EDECODE;
        memcpy(&f, buf + *pos, 4); /* little-endian, as the hosts we run on */
        *pos += 4;
        return hub_json_put_double(out, f);
    }
    case HUB_S_DOUBLE: {
        double d;
        if (len - *pos < 8)
            return HUB_EDECODE;
        memcpy(&d, buf + *pos, 8);
        *pos += 8;
        return hub_json_put_double(out, d);
    }
    case HUB_S_STRING:
        if (bin_bytes(buf, len, pos, &p, &plen))
            return HUB_EDECODE;
        return hub_json_put_str(out, (const char *)p, plen);
    case HUB_S_BYTES:
        if (bin_bytes(buf, len, pos, &p, &plen))
            return HUB_EDECODE;
        return put_latin1(out, p, plen);
    case HUB_S_FIXED:
        if (len - *pos < n->fixed_size)
            return HUB_EDECODE;
        *pos += n->fixed_size;
        return put_latin1(out, buf + *pos - n->fixed_size, n->fixed_size);
    case HUB_S_ENUM: {
        if (bin_long(buf, len, pos, &l) || l < 0 || (uint64_t)l >= n->nsymbols)
            return HUB_EDECODE;
        char sym[256];
        size_t i = 0;
        for (const char *s = n->symbols[l]; *s && i + 1 < sizeof sym; s++)
            sym[i++] = (char)tolower((unsigned char)*s);
        return hub_json_put_str(out, sym, i);
    }
    case HUB_S_UNION:
        if (bin_long(buf, len, pos, &l) || l < 0 || (uint64_t)l >= n->nbranches)
            return HUB_EDECODE;
        return hub_avro_bin_to_json(n->branches[l], buf, len, pos, out);
    case HUB_S_RECORD: {
        int first = 1, rc = hub_buf_putc(out, '{');
        for (size_t i = 0; !rc && i < n->nfields; i++) {
            const hub_snode_t *t = n->fields[i].type;
            if (t->type == HUB_S_NULL)
                continue; /* absent, as is_null_value has it */
            if (t->type == HUB_S_UNION) {
                if (bin_long(buf, len, pos, &l) || l < 0 ||
                    (uint64_t)l >= t->nbranches)
                    return HUB_EDECODE;
                t = t->branches[l];
                if (t->type == HUB_S_NULL)
                    continue;
            }
            rc = hub_json_put_key(out, n->fields[i].name, &first);
            if (!rc)
                rc = hub_avro_bin_to_json(t, buf, len, pos, out);
        }
        return rc ? rc : hub_buf_putc(out, '}');
    }
    case HUB_S_ARRAY:
    case HUB_S_MAP:
        return bin_blocks(n, buf, len, pos, out);
    }
    return HUB_EINVAL;
}
