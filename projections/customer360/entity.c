/*
 * hub360 - entity state: registers, accumulators, identities, and a
 * compact binary packing for LMDB.
 *
 * Packed form (version 5; stored inside its customer's record, graph.c):
 *   u8 version, u8 has_cidh [10 bytes cidh],
 *   u8 kind, varint roles, varint events,
 *   varint n, then n distinct stamps (zig-zag varint occurred_at, zig-zag
 *     varint sequence, 16 bytes event id): every stamp below is a varint
 *     index into this table,
 *     since most registers of an entity are set by the same few events;
 *   stamp first, stamp last,
 *   the set registers: u8 slot, u8 is_str, stamp, value (zig-zag varint,
 *     or length + bytes), ended by 0xff;
 *   the non-zero accumulators: u8 slot, zig-zag varint, ended by 0xff;
 *   varint count of identities: u8 flags, i8 kind, stamp, length + bytes.
 */
#include "entity.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "store.h"

#define PACK_VERSION 5

int hub_stamp_cmp(const hub_stamp_t *a, const hub_stamp_t *b) {
    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return memcmp(a->id, b->id, 16);
}

#define SIGN_BIT ((uint64_t)1 << 63)

void hub_stamp_put(uint8_t out[HUB_STAMP_LEN], const hub_stamp_t *st) {
    hub_be64(out, (uint64_t)st->at ^ SIGN_BIT);
    hub_be64(out + 8, (uint64_t)st->seq ^ SIGN_BIT);
    memcpy(out + 16, st->id, 16);
}

void hub_stamp_get(const uint8_t in[HUB_STAMP_LEN], hub_stamp_t *st) {
    st->at = (int64_t)(hub_rd_be64(in) ^ SIGN_BIT);
    st->seq = (int64_t)(hub_rd_be64(in + 8) ^ SIGN_BIT);
    memcpy(st->id, in + 16, 16);
}

static void *ent_alloc(hub_ent_t *e, size_t n) {
    return e->arena ? hub_arena_alloc(e->arena, n) : malloc(n);
}

static void ent_release(hub_ent_t *e, void *p) {
    if (!e->arena)
        free(p);
}

static char *ent_strndup(hub_ent_t *e, const char *s, size_t n) {
    char *p = ent_alloc(e, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

const hub_reg_t hub_reg_unset;

/* Register slot of e to write, added unset the first time; NULL (and
 * e->oom) when there is no memory for it. */
static hub_reg_t *reg_slot(hub_ent_t *e, int slot) {
    if (e->regat[slot])
        return &e->reg[e->regat[slot] - 1];
    if (e->nreg == e->capreg) {
        size_t cap = e->capreg ? 2u * e->capreg : 4;
        if (cap > HUB_NREGS)
            cap = HUB_NREGS;
        hub_reg_t *v;
        if (e->arena) { /* the old array stays in the arena until reset */
            if ((v = hub_arena_alloc(e->arena, cap * sizeof *v)) && e->nreg)
                memcpy(v, e->reg, e->nreg * sizeof *v);
        } else {
            v = realloc(e->reg, cap * sizeof *v);
        }
        if (!v) {
            e->oom = 1;
            return NULL;
        }
        e->reg = v;
        e->capreg = (uint8_t)cap;
    }
    hub_reg_t *r = &e->reg[e->nreg++];
    memset(r, 0, sizeof *r);
    e->regat[slot] = e->nreg;
    return r;
}

hub_ent_t *hub_ent_new(hub_arena_t *arena, const char *key, size_t keylen) {
    hub_ent_t *e = arena ? hub_arena_calloc(arena, sizeof *e)
                         : calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->arena = arena;
    if (!(e->key = ent_strndup(e, key, keylen))) {
        if (!arena)
            free(e);
        return NULL;
    }
    e->keylen = (uint32_t)keylen;
    e->first.at = INT64_MAX;
    e->last.at = INT64_MIN;
    return e;
}

void hub_ent_free(hub_ent_t *e) {
    if (!e || e->arena)
        return; /* arena memory goes with the arena */
    for (uint32_t i = 0; i < e->nreg; i++)
        if (e->reg[i].is_str)
            free(e->reg[i].s);
    free(e->reg);
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
    if (!wins(hub_ent_reg(e, slot), st))
        return 0;
    hub_reg_t *r = reg_slot(e, slot);
    if (!r)
        return 0; /* e->oom: the batch fails at its commit */
    if (r->is_str)
        ent_release(e, r->s);
    r->s = NULL;
    r->is_str = 0;
    r->set = 1;
    r->st = *st;
    r->i = v;
    return 1;
}

int hub_ent_set_str(hub_ent_t *e, int slot, const hub_stamp_t *st,
                    const char *s, size_t len) {
    if (!wins(hub_ent_reg(e, slot), st))
        return 0;
    hub_reg_t *r = reg_slot(e, slot);
    if (!r)
        return HUB_ENOMEM;
    if (r->set && r->is_str && (size_t)r->i == len &&
        memcmp(r->s, s, len) == 0) {
        r->st = *st; /* the same value, newer */
        return 1;
    }
    char *copy = ent_strndup(e, s, len);
    if (!copy)
        return HUB_ENOMEM;
    if (r->is_str)
        ent_release(e, r->s);
    r->s = copy;
    r->i = (int64_t)len;
    r->is_str = 1;
    r->set = 1;
    r->st = *st;
    return 1;
}

int hub_ent_min_int(hub_ent_t *e, int slot, const hub_stamp_t *st,
                    int64_t v) {
    const hub_reg_t *had = hub_ent_reg(e, slot);
    if (had->set &&
        (had->i < v || (had->i == v && hub_stamp_cmp(&had->st, st) <= 0)))
        return 0;
    hub_reg_t *r = reg_slot(e, slot);
    if (!r)
        return 0; /* e->oom: the batch fails at its commit */
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
            ent_release(e, e->ids[i].key);
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
        hub_eid_t *p;
        if (e->arena) {
            if ((p = hub_arena_alloc(e->arena, cap * sizeof *p)) && e->nids)
                memcpy(p, e->ids, e->nids * sizeof *p);
        } else {
            p = realloc(e->ids, cap * sizeof *p);
        }
        if (!p)
            return HUB_ENOMEM;
        e->ids = p;
        e->capids = cap;
    }
    hub_eid_t *x = &e->ids[e->nids];
    if (!(x->key = ent_strndup(e, key, len)))
        return HUB_ENOMEM;
    x->flags = flags;
    x->kind = (int8_t)kind;
    x->st = *st;
    e->nids++;
    return 2;
}

/* ------------------------------------------------------------------ */
/* Packing                                                             */
/* ------------------------------------------------------------------ */

/* The distinct stamps of an entity, in order of first use: in `small`
 * until there are more than fit. */
typedef struct stamps {
    const hub_stamp_t **v;
    size_t n, cap;
    const hub_stamp_t *small[64];
} stamps;

static int stamp_index(stamps *t, const hub_stamp_t *st, size_t *out) {
    for (size_t i = 0; i < t->n; i++) {
        if (hub_stamp_cmp(t->v[i], st) == 0) {
            *out = i;
            return 0;
        }
    }
    if (t->n == t->cap) {
        size_t cap = t->cap * 2;
        const hub_stamp_t **v = t->v == t->small ? malloc(cap * sizeof *v)
                                                 : realloc(t->v, cap * sizeof *v);
        if (!v)
            return HUB_ENOMEM;
        if (t->v == t->small)
            memcpy(v, t->small, sizeof t->small);
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n] = st;
    *out = t->n++;
    return 0;
}

static void stamps_free(stamps *t) {
    if (t->v != t->small)
        free(t->v);
}

int hub_ent_pack(const hub_ent_t *e, hub_buf_t *b) {
    hub_buf_reset(b);
    if (e->oom)
        return HUB_ENOMEM; /* a register it was given is not in it */
    stamps t;
    t.v = t.small;
    t.n = 0;
    t.cap = 64;
    /* the table first: every stamp in the order it is used below */
    size_t ix[2 + HUB_NREGS], *idix = NULL, k = 0;
    int rc = stamp_index(&t, &e->first, &ix[k++]);
    rc |= stamp_index(&t, &e->last, &ix[k++]);
    for (int i = 0; i < HUB_NREGS; i++) {
        const hub_reg_t *r = hub_ent_reg(e, i);
        if (r->set)
            rc |= stamp_index(&t, &r->st, &ix[k++]);
    }
    if (e->nids && !(idix = malloc(e->nids * sizeof *idix)))
        rc = HUB_ENOMEM;
    for (uint32_t i = 0; !rc && i < e->nids; i++)
        rc = stamp_index(&t, &e->ids[i].st, &idix[i]);
    if (rc) {
        free(idix);
        stamps_free(&t);
        return HUB_ENOMEM;
    }
    uint8_t head[21];
    size_t hl = 0;
    head[hl++] = PACK_VERSION;
    head[hl++] = e->has_cidh;
    if (e->has_cidh) {
        memcpy(head + hl, e->cidh, 10);
        hl += 10;
    }
    head[hl++] = e->kind;
    rc |= hub_buf_append(b, head, hl);
    rc |= hub_buf_put_varint(b, e->roles);
    rc |= hub_buf_put_varint(b, e->events);
    rc |= hub_buf_put_varint(b, t.n);
    for (size_t i = 0; i < t.n; i++) {
        const hub_stamp_t *st = t.v[i];
        rc |= hub_buf_put_zigzag(b, st->at);
        rc |= hub_buf_put_zigzag(b, st->seq);
        rc |= hub_buf_append(b, st->id, 16);
    }
    k = 0;
    rc |= hub_buf_put_varint(b, ix[k++]);
    rc |= hub_buf_put_varint(b, ix[k++]);
    for (int i = 0; i < HUB_NREGS; i++) {
        const hub_reg_t *r = hub_ent_reg(e, i);
        if (!r->set)
            continue;
        uint8_t h[2] = {(uint8_t)i, r->is_str};
        rc |= hub_buf_append(b, h, 2);
        rc |= hub_buf_put_varint(b, ix[k++]);
        if (r->is_str) {
            rc |= hub_buf_put_varint(b, (uint64_t)r->i);
            rc |= hub_buf_append(b, r->s, (size_t)r->i);
        } else {
            rc |= hub_buf_put_zigzag(b, r->i);
        }
    }
    rc |= hub_buf_putc(b, (char)0xff);
    for (int i = 0; i < HUB_NACCS; i++) {
        if (!e->acc[i])
            continue;
        rc |= hub_buf_putc(b, (char)i);
        rc |= hub_buf_put_zigzag(b, e->acc[i]);
    }
    rc |= hub_buf_putc(b, (char)0xff);
    rc |= hub_buf_put_varint(b, e->nids);
    for (uint32_t i = 0; i < e->nids; i++) {
        const hub_eid_t *x = &e->ids[i];
        uint8_t h[2] = {x->flags, (uint8_t)x->kind};
        size_t len = strlen(x->key);
        rc |= hub_buf_append(b, h, 2);
        rc |= hub_buf_put_varint(b, idix[i]);
        rc |= hub_buf_put_varint(b, len);
        rc |= hub_buf_append(b, x->key, len);
    }
    free(idix);
    stamps_free(&t);
    return rc ? HUB_ENOMEM : 0;
}

typedef struct rd {
    const uint8_t *p;
    size_t len, pos;
    int bad;
} rd;

static uint64_t get_varint(rd *r) {
    uint64_t v = 0;
    if (r->bad || hub_varint_read(r->p, r->len, &r->pos, &v))
        r->bad = 1;
    return v;
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

/* A stamp by its index into the table read first. */
static void get_stamp(rd *r, const hub_stamp_t *table, size_t n,
                      hub_stamp_t *st) {
    uint64_t i = get_varint(r);
    if (r->bad || i >= n) {
        r->bad = 1;
        return;
    }
    *st = table[i];
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

int hub_ent_unpack(hub_arena_t *arena, const char *key, size_t keylen,
                   const void *buf, size_t len, hub_ent_t **out) {
    *out = NULL;
    rd r = {buf, len, 0, 0};
    if (get_u8(&r) != PACK_VERSION)
        return HUB_EDECODE; /* another version: rebuild the store */
    hub_ent_t *e = hub_ent_new(arena, key, keylen);
    if (!e)
        return HUB_ENOMEM;
    if ((e->has_cidh = get_u8(&r)) != 0) {
        if (r.pos > r.len || r.len - r.pos < 10)
            r.bad = 1;
        else
            memcpy(e->cidh, r.p + r.pos, 10);
        r.pos += 10;
    }
    e->kind = get_u8(&r);
    e->roles = (uint32_t)get_varint(&r);
    e->events = get_varint(&r);
    uint64_t nst = get_varint(&r);
    hub_stamp_t small[16], *table = small;
    if (!r.bad && nst > 16) {
        if (nst > len || !(table = malloc(nst * sizeof *table)))
            r.bad = 1, table = small, nst = 0;
    }
    for (uint64_t i = 0; i < nst && !r.bad; i++) {
        table[i].at = get_zz(&r);
        table[i].seq = get_zz(&r);
        if (r.pos > r.len || r.len - r.pos < 16) {
            r.bad = 1;
            break;
        }
        memcpy(table[i].id, r.p + r.pos, 16);
        r.pos += 16;
    }
    get_stamp(&r, table, nst, &e->first);
    get_stamp(&r, table, nst, &e->last);
    for (;;) {
        uint8_t slot = get_u8(&r);
        if (r.bad || slot == 0xff)
            break;
        if (slot >= HUB_NREGS) {
            r.bad = 1; /* written by a newer hub360: rebuild the store */
            break;
        }
        hub_reg_t *reg = reg_slot(e, slot);
        if (!reg) {
            r.bad = 1;
            break;
        }
        reg->set = 1;
        reg->is_str = get_u8(&r);
        get_stamp(&r, table, nst, &reg->st);
        if (reg->is_str) {
            size_t n;
            const char *s = get_bytes(&r, &n);
            if (!s || !(reg->s = ent_strndup(e, s, n))) {
                reg->is_str = 0;
                r.bad = 1;
                break;
            }
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
    if (!r.bad && n > len)
        r.bad = 1;
    if (!r.bad && n) {
        e->ids = ent_alloc(e, n * sizeof *e->ids);
        if (!e->ids)
            r.bad = 1;
        else
            e->capids = (uint32_t)n;
    }
    for (uint64_t i = 0; i < n && !r.bad; i++) {
        hub_eid_t *x = &e->ids[i];
        x->flags = get_u8(&r);
        x->kind = (int8_t)get_u8(&r);
        get_stamp(&r, table, nst, &x->st);
        size_t klen;
        const char *k = get_bytes(&r, &klen);
        if (!k || !(x->key = ent_strndup(e, k, klen)))
            r.bad = 1;
        else
            e->nids++;
    }
    if (table != small)
        free(table);
    if (r.bad) {
        hub_ent_free(e);
        return HUB_EDECODE;
    }
    *out = e;
    return 0;
}
