/*
 * hub360 - in-place Avro reading.
 */
#include "avroread.h"

#include <string.h>

#include "errors.h"

/* Reads a zig-zag varint at *pos; 0 or -1 past the end. */
static int rd_long(const uint8_t *p, size_t len, size_t *pos, int64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*pos >= len)
            return -1;
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return 0;
        }
    }
    return -1;
}

/* Moves *pos past one value of type n. */
static int skip(const hub_snode_t *n, const uint8_t *p, size_t len,
                size_t *pos) {
    int64_t l;
    switch (n->type) {
    case HUB_S_NULL: return 0;
    case HUB_S_BOOLEAN: return (*pos += 1) <= len ? 0 : -1;
    case HUB_S_INT:
    case HUB_S_LONG:
    case HUB_S_ENUM: return rd_long(p, len, pos, &l);
    case HUB_S_FLOAT: return (*pos += 4) <= len ? 0 : -1;
    case HUB_S_DOUBLE: return (*pos += 8) <= len ? 0 : -1;
    case HUB_S_FIXED: return (*pos += n->fixed_size) <= len ? 0 : -1;
    case HUB_S_BYTES:
    case HUB_S_STRING:
        if (rd_long(p, len, pos, &l) || l < 0 || (uint64_t)l > len - *pos)
            return -1;
        *pos += (size_t)l;
        return 0;
    case HUB_S_UNION:
        if (rd_long(p, len, pos, &l) || l < 0 || (uint64_t)l >= n->nbranches)
            return -1;
        return skip(n->branches[l], p, len, pos);
    case HUB_S_RECORD:
        for (size_t i = 0; i < n->nfields; i++) {
            if (skip(n->fields[i].type, p, len, pos))
                return -1;
        }
        return 0;
    case HUB_S_ARRAY:
    case HUB_S_MAP:
        for (;;) {
            if (rd_long(p, len, pos, &l))
                return -1;
            if (l == 0)
                return 0;
            if (l < 0) {
                int64_t bytes;
                if (rd_long(p, len, pos, &bytes) || bytes < 0 ||
                    (uint64_t)bytes > len - *pos)
                    return -1;
                *pos += (size_t)bytes; /* the block says its size */
                continue;
            }
            for (int64_t k = 0; k < l; k++) {
                if (n->type == HUB_S_MAP) {
                    int64_t kl;
                    if (rd_long(p, len, pos, &kl) || kl < 0 ||
                        (uint64_t)kl > len - *pos)
                        return -1;
                    *pos += (size_t)kl;
                }
                if (skip(n->items, p, len, pos))
                    return -1;
            }
        }
    }
    return -1;
}

int hub_arec_open(hub_arec_t *r, const hub_snode_t *node, const void *buf,
                  size_t len, size_t at) {
    if (node->type != HUB_S_RECORD || node->nfields > HUB_AREC_MAXFIELDS)
        return HUB_EINVAL;
    r->node = node;
    r->buf = buf;
    r->len = len;
    size_t pos = at;
    for (size_t i = 0; i < node->nfields; i++) {
        r->off[i] = (uint32_t)pos;
        if (skip(node->fields[i].type, buf, len, &pos))
            return HUB_EDECODE;
    }
    r->end = (uint32_t)pos;
    return 0;
}

int hub_snode_field(const hub_snode_t *record, const char *name) {
    for (size_t i = 0; i < record->nfields; i++) {
        if (strcmp(record->fields[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

/*
 * Positions at field i's value: for an optional field (union with null),
 * reads the branch; returns the node of the value, or NULL when null.
 */
static const hub_snode_t *value_at(const hub_arec_t *r, int i, size_t *pos,
                                   int *bad) {
    *bad = 0;
    if (i < 0 || (size_t)i >= r->node->nfields) {
        *bad = 1;
        return NULL;
    }
    const hub_snode_t *n = r->node->fields[i].type;
    *pos = r->off[i];
    if (n->type != HUB_S_UNION)
        return n;
    int64_t b;
    if (rd_long(r->buf, r->len, pos, &b) || b < 0 ||
        (uint64_t)b >= n->nbranches) {
        *bad = 1;
        return NULL;
    }
    n = n->branches[b];
    return n->type == HUB_S_NULL ? NULL : n;
}

int hub_arec_str(const hub_arec_t *r, int i, const char **s, size_t *len) {
    size_t pos;
    int bad;
    const hub_snode_t *n = value_at(r, i, &pos, &bad);
    if (bad || (n && n->type != HUB_S_STRING && n->type != HUB_S_BYTES))
        return -1;
    if (!n)
        return 0;
    int64_t l;
    if (rd_long(r->buf, r->len, &pos, &l) || l < 0 ||
        (uint64_t)l > r->len - pos)
        return -1;
    *s = (const char *)r->buf + pos;
    *len = (size_t)l;
    return 1;
}

int hub_arec_long(const hub_arec_t *r, int i, int64_t *v) {
    size_t pos;
    int bad;
    const hub_snode_t *n = value_at(r, i, &pos, &bad);
    if (bad || (n && n->type != HUB_S_LONG && n->type != HUB_S_INT))
        return -1;
    if (!n)
        return 0;
    return rd_long(r->buf, r->len, &pos, v) ? -1 : 1;
}

int hub_arec_enum(const hub_arec_t *r, int i, int *v) {
    size_t pos;
    int bad;
    int64_t l;
    const hub_snode_t *n = value_at(r, i, &pos, &bad);
    if (bad || (n && n->type != HUB_S_ENUM))
        return -1;
    if (!n)
        return 0;
    if (rd_long(r->buf, r->len, &pos, &l))
        return -1;
    *v = (int)l;
    return 1;
}

int hub_arec_double(const hub_arec_t *r, int i, double *v) {
    size_t pos;
    int bad;
    const hub_snode_t *n = value_at(r, i, &pos, &bad);
    if (bad || (n && n->type != HUB_S_DOUBLE && n->type != HUB_S_FLOAT))
        return -1;
    if (!n)
        return 0;
    if (n->type == HUB_S_FLOAT) {
        if (pos + 4 > r->len)
            return -1;
        uint32_t u = (uint32_t)r->buf[pos] | (uint32_t)r->buf[pos + 1] << 8 |
                     (uint32_t)r->buf[pos + 2] << 16 |
                     (uint32_t)r->buf[pos + 3] << 24;
        float f;
        memcpy(&f, &u, 4);
        *v = f;
        return 1;
    }
    if (pos + 8 > r->len)
        return -1;
    uint64_t u = 0;
    for (int k = 7; k >= 0; k--)
        u = u << 8 | r->buf[pos + (size_t)k];
    memcpy(v, &u, 8);
    return 1;
}

int hub_arec_bool(const hub_arec_t *r, int i, int *v) {
    size_t pos;
    int bad;
    const hub_snode_t *n = value_at(r, i, &pos, &bad);
    if (bad || (n && n->type != HUB_S_BOOLEAN))
        return -1;
    if (!n)
        return 0;
    if (pos >= r->len)
        return -1;
    *v = r->buf[pos] != 0;
    return 1;
}

int hub_arec_rec(const hub_arec_t *r, int i, hub_arec_t *sub) {
    size_t pos;
    int bad;
    const hub_snode_t *n = value_at(r, i, &pos, &bad);
    if (bad || (n && n->type != HUB_S_RECORD))
        return -1;
    if (!n)
        return 0;
    return hub_arec_open(sub, n, r->buf, r->len, pos) ? -1 : 1;
}

int hub_arec_branch(const hub_arec_t *r, int i, int *branch,
                    hub_arec_t *sub) {
    if (i < 0 || (size_t)i >= r->node->nfields)
        return -1;
    const hub_snode_t *u = r->node->fields[i].type;
    size_t pos = r->off[i];
    int64_t b;
    if (u->type != HUB_S_UNION || rd_long(r->buf, r->len, &pos, &b) || b < 0 ||
        (uint64_t)b >= u->nbranches || u->branches[b]->type != HUB_S_RECORD)
        return -1;
    *branch = (int)b;
    return hub_arec_open(sub, u->branches[b], r->buf, r->len, pos) ? -1 : 1;
}

int hub_arec_array(const hub_arec_t *r, int i, hub_aiter_t *it) {
    size_t pos;
    int bad;
    const hub_snode_t *n = value_at(r, i, &pos, &bad);
    if (bad || (n && n->type != HUB_S_ARRAY))
        return -1;
    it->items = n ? n->items : NULL;
    it->buf = r->buf;
    it->len = r->len;
    it->pos = pos;
    it->left = n ? 0 : -1; /* -1: null array, iterates nothing */
    return n ? 1 : 0;
}

int hub_aiter_next(hub_aiter_t *it, size_t *at) {
    if (it->left < 0)
        return 0;
    while (it->left == 0) {
        int64_t count;
        if (rd_long(it->buf, it->len, &it->pos, &count))
            return -1;
        if (count == 0) {
            it->left = -1;
            return 0;
        }
        if (count < 0) {
            int64_t bytes;
            if (rd_long(it->buf, it->len, &it->pos, &bytes))
                return -1;
            count = -count;
        }
        it->left = count;
    }
    *at = it->pos;
    if (skip(it->items, it->buf, it->len, &it->pos))
        return -1;
    it->left--;
    return 1;
}

int hub_aiter_str(const hub_aiter_t *it, size_t at, const char **s,
                  size_t *len) {
    int64_t l;
    if (it->items->type != HUB_S_STRING || rd_long(it->buf, it->len, &at, &l) ||
        l < 0 || (uint64_t)l > it->len - at)
        return -1;
    *s = (const char *)it->buf + at;
    *len = (size_t)l;
    return 1;
}
