/*
 * hub360 - entity state: registers, accumulators, identities, and a
 * compact binary packing for LMDB.
 *
 * Packed form (version 2): u8 version, be64 comp, u8 has_cidh and the 10
 * bytes of cidh when set, u8 kind, varint roles, varint events, stamp
 * first, stamp last, then the set registers (u8 slot, u8
 * is_str, stamp, value: zig-zag varint or length + bytes), a 0xff end
 * mark, the non-zero accumulators (u8 slot, zig-zag varint) and 0xff,
 * then varint count of identities (u8 flags, i8 kind, stamp, length +
 * bytes). A stamp is 8 bytes big-endian occurred_at + 16 bytes id.
 */
#include "entity.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

#define PACK_VERSION 2

int hub_stamp_cmp(const hub_stamp_t *a, const hub_stamp_t *b) {
    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    return memcmp(a->id, b->id, 16);
}

hub_ent_t *hub_ent_new(const char *key, size_t keylen) {
    hub_ent_t *e = calloc(1, sizeof *e);
    if (!e || !(e->key = malloc(keylen + 1))) {
        free(e);
        return NULL;
    }
    memcpy(e->key, key, keylen);
    e->key[keylen] = '\0';
    e->keylen = (uint32_t)keylen;
    e->first.at = INT64_MAX;
    e->last.at = INT64_MIN;
    return e;
}

void hub_ent_free(hub_ent_t *e) {
    if (!e)
        return;
    for (int i = 0; i < HUB_NREGS; i++)
        if (e->regs[i].is_str)
            free(e->regs[i].s);
    for (uint32_t i = 0; i < e->nids; i++)
        free(e->ids[i].key);
    free(e->ids);
    free(e->key);
    free(e);
}

void hub_ent_parts(const hub_ent_t *e, const char **sys, size_t *syslen,
                   const char **type, size_t *typelen, const char **id,
                   size_t *idlen) {
    const char *k = e->key, *end = e->key + e->keylen;
    const char *s1 = memchr(k, '/', e->keylen);
    const char *s2 = s1 ? memchr(s1 + 1, '/', (size_t)(end - s1 - 1)) : NULL;
    if (!s1 || !s2) { /* not a three-part key: treat it all as the id */
        *sys = *type = "";
        *syslen = *typelen = 0;
        *id = k;
        *idlen = e->keylen;
        return;
    }
    *sys = k;
    *syslen = (size_t)(s1 - k);
    *type = s1 + 1;
    *typelen = (size_t)(s2 - s1 - 1);
    *id = s2 + 1;
    *idlen = (size_t)(end - s2 - 1);
}

/* May a write stamped st replace register r? (last writer wins) */
static int wins(const hub_reg_t *r, const hub_stamp_t *st) {
    return !r->set || hub_stamp_cmp(st, &r->st) > 0;
}

int hub_ent_set_int(hub_ent_t *e, int slot, const hub_stamp_t *st,
                    int64_t v) {
    hub_reg_t *r = &e->regs[slot];
    if (!wins(r, st))
        return 0;
    if (r->is_str)
        free(r->s);
    r->s = NULL;
    r->is_str = 0;
    r->set = 1;
    r->st = *st;
    r->i = v;
    return 1;
}

int hub_ent_set_str(hub_ent_t *e, int slot, const hub_stamp_t *st,
                    const char *s, size_t len) {
    hub_reg_t *r = &e->regs[slot];
    if (!wins(r, st))
        return 0;
    char *copy = malloc(len + 1);
    if (!copy)
        return HUB_ENOMEM;
    memcpy(copy, s, len);
    copy[len] = '\0';
    if (r->is_str)
        free(r->s);
    r->s = copy;
    r->i = (int64_t)len;
    r->is_str = 1;
    r->set = 1;
    r->st = *st;
    return 1;
}

int hub_ent_min_int(hub_ent_t *e, int slot, const hub_stamp_t *st,
                    int64_t v) {
    hub_reg_t *r = &e->regs[slot];
    if (r->set && (r->i < v || (r->i == v && hub_stamp_cmp(&r->st, st) <= 0)))
        return 0;
    r->set = 1;
    r->is_str = 0;
    r->st = *st;
    r->i = v;
    return 1;
}

const hub_eid_t *hub_ent_find_id(const hub_ent_t *e, const char *key) {
    for (uint32_t i = 0; i < e->nids; i++) {
        if (strcmp(e->ids[i].key, key) == 0)
            return &e->ids[i];
    }
    return NULL;
}

int hub_ent_remove_id(hub_ent_t *e, const char *key) {
    for (uint32_t i = 0; i < e->nids; i++) {
        if (strcmp(e->ids[i].key, key) == 0) {
            free(e->ids[i].key);
            memmove(&e->ids[i], &e->ids[i + 1],
                    (e->nids - i - 1) * sizeof *e->ids);
            e->nids--;
            return 1;
        }
    }
    return 0;
}

int hub_ent_add_id(hub_ent_t *e, const char *key, size_t len, int kind,
                   uint8_t flags, const hub_stamp_t *st) {
    for (uint32_t i = 0; i < e->nids; i++) {
        hub_eid_t *x = &e->ids[i];
        if (strlen(x->key) == len && memcmp(x->key, key, len) == 0) {
            if (hub_stamp_cmp(st, &x->st) < 0) {
                x->st = *st;
                return 1;
            }
            return 0;
        }
    }
    if (e->nids == e->capids) {
        uint32_t cap = e->capids ? e->capids * 2 : 4;
        hub_eid_t *p = realloc(e->ids, cap * sizeof *p);
        if (!p)
            return HUB_ENOMEM;
        e->ids = p;
        e->capids = cap;
    }
    hub_eid_t *x = &e->ids[e->nids];
    if (!(x->key = malloc(len + 1)))
        return HUB_ENOMEM;
    memcpy(x->key, key, len);
    x->key[len] = '\0';
    x->flags = flags;
    x->kind = (int8_t)kind;
    x->st = *st;
    e->nids++;
    return 2;
}

/* ------------------------------------------------------------------ */
/* Packing                                                             */
/* ------------------------------------------------------------------ */

static int put_varint(hub_buf_t *b, uint64_t v) {
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

static int put_zz(hub_buf_t *b, int64_t v) {
    return put_varint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static int put_stamp(hub_buf_t *b, const hub_stamp_t *st) {
    uint8_t tmp[24];
    uint64_t at = (uint64_t)st->at;
    for (int i = 7; i >= 0; i--, at >>= 8)
        tmp[i] = (uint8_t)at;
    memcpy(tmp + 8, st->id, 16);
    return hub_buf_append(b, tmp, 24);
}

int hub_ent_pack(const hub_ent_t *e, hub_buf_t *b) {
    hub_buf_reset(b);
    int rc = 0;
    uint8_t head[20];
    size_t hl = 0;
    head[hl++] = PACK_VERSION;
    for (int i = 7; i >= 0; i--)
        head[hl++] = (uint8_t)(e->comp >> (i * 8));
    head[hl++] = e->has_cidh;
    if (e->has_cidh) {
        memcpy(head + hl, e->cidh, 10);
        hl += 10;
    }
    head[hl++] = e->kind;
    rc |= hub_buf_append(b, head, hl);
    rc |= put_varint(b, e->roles);
    rc |= put_varint(b, e->events);
    rc |= put_stamp(b, &e->first);
    rc |= put_stamp(b, &e->last);
    for (int i = 0; i < HUB_NREGS; i++) {
        const hub_reg_t *r = &e->regs[i];
        if (!r->set)
            continue;
        uint8_t h[2] = {(uint8_t)i, r->is_str};
        rc |= hub_buf_append(b, h, 2);
        rc |= put_stamp(b, &r->st);
        if (r->is_str) {
            rc |= put_varint(b, (uint64_t)r->i);
            rc |= hub_buf_append(b, r->s, (size_t)r->i);
        } else {
            rc |= put_zz(b, r->i);
        }
    }
    rc |= hub_buf_putc(b, (char)0xff);
    for (int i = 0; i < HUB_NACCS; i++) {
        if (!e->acc[i])
            continue;
        rc |= hub_buf_putc(b, (char)i);
        rc |= put_zz(b, e->acc[i]);
    }
    rc |= hub_buf_putc(b, (char)0xff);
    rc |= put_varint(b, e->nids);
    for (uint32_t i = 0; i < e->nids; i++) {
        const hub_eid_t *x = &e->ids[i];
        uint8_t h[2] = {x->flags, (uint8_t)x->kind};
        size_t len = strlen(x->key);
        rc |= hub_buf_append(b, h, 2);
        rc |= put_stamp(b, &x->st);
        rc |= put_varint(b, len);
        rc |= hub_buf_append(b, x->key, len);
    }
    return rc ? HUB_ENOMEM : 0;
}

typedef struct rd {
    const uint8_t *p;
    size_t len, pos;
    int bad;
} rd;

static uint64_t get_varint(rd *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->pos >= r->len) {
            r->bad = 1;
            return 0;
        }
        uint8_t b = r->p[r->pos++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = 1;
    return 0;
}

static int64_t get_zz(rd *r) {
    uint64_t v = get_varint(r);
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static uint8_t get_u8(rd *r) {
    if (r->pos >= r->len) {
        r->bad = 1;
        return 0;
    }
    return r->p[r->pos++];
}

static void get_stamp(rd *r, hub_stamp_t *st) {
    if (r->len - r->pos < 24 || r->pos > r->len) {
        r->bad = 1;
        return;
    }
    uint64_t at = 0;
    for (int i = 0; i < 8; i++)
        at = at << 8 | r->p[r->pos + (size_t)i];
    st->at = (int64_t)at;
    memcpy(st->id, r->p + r->pos + 8, 16);
    r->pos += 24;
}

static const char *get_bytes(rd *r, size_t *len) {
    uint64_t n = get_varint(r);
    if (r->bad || n > r->len - r->pos) {
        r->bad = 1;
        return NULL;
    }
    const char *s = (const char *)r->p + r->pos;
    r->pos += (size_t)n;
    *len = (size_t)n;
    return s;
}

int hub_ent_unpack(const char *key, size_t keylen, const void *buf,
                   size_t len, hub_ent_t **out) {
    *out = NULL;
    rd r = {buf, len, 0, 0};
    if (get_u8(&r) != PACK_VERSION)
        return HUB_EDECODE;
    hub_ent_t *e = hub_ent_new(key, keylen);
    if (!e)
        return HUB_ENOMEM;
    for (int i = 0; i < 8; i++)
        e->comp = e->comp << 8 | get_u8(&r);
    if ((e->has_cidh = get_u8(&r)) != 0) {
        if (r.len - r.pos < 10 || r.pos > r.len)
            r.bad = 1;
        else
            memcpy(e->cidh, r.p + r.pos, 10);
        r.pos += 10;
    }
    e->kind = get_u8(&r);
    e->roles = (uint32_t)get_varint(&r);
    e->events = get_varint(&r);
    get_stamp(&r, &e->first);
    get_stamp(&r, &e->last);
    for (;;) {
        uint8_t slot = get_u8(&r);
        if (r.bad || slot == 0xff)
            break;
        if (slot >= HUB_NREGS) {
            r.bad = 1; /* written by a newer hub360: rebuild the store */
            break;
        }
        hub_reg_t *reg = &e->regs[slot];
        reg->set = 1;
        reg->is_str = get_u8(&r);
        get_stamp(&r, &reg->st);
        if (reg->is_str) {
            size_t n;
            const char *s = get_bytes(&r, &n);
            if (!s || !(reg->s = malloc(n + 1))) {
                reg->is_str = 0;
                r.bad = 1;
                break;
            }
            memcpy(reg->s, s, n);
            reg->s[n] = '\0';
            reg->i = (int64_t)n;
        } else {
            reg->i = get_zz(&r);
        }
    }
    for (;;) {
        uint8_t slot = get_u8(&r);
        if (r.bad || slot == 0xff)
            break;
        if (slot >= HUB_NACCS) {
            r.bad = 1;
            break;
        }
        e->acc[slot] = get_zz(&r);
    }
    uint64_t n = get_varint(&r);
    for (uint64_t i = 0; i < n && !r.bad; i++) {
        uint8_t flags = get_u8(&r);
        int8_t kind = (int8_t)get_u8(&r);
        hub_stamp_t st;
        size_t klen;
        get_stamp(&r, &st);
        const char *k = get_bytes(&r, &klen);
        if (!k || hub_ent_add_id(e, k, klen, kind, flags, &st) < 0)
            r.bad = 1;
    }
    if (r.bad) {
        hub_ent_free(e);
        return HUB_EDECODE;
    }
    *out = e;
    return 0;
}

uint64_t hub_ent_packed_comp(const void *buf, size_t len) {
    const uint8_t *p = buf;
    if (len < 9 || p[0] != PACK_VERSION)
        return 0;
    uint64_t comp = 0;
    for (int i = 1; i <= 8; i++)
        comp = comp << 8 | p[i];
    return comp;
}
