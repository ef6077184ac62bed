/*
 * hub360 - the product availability projection: applying ERP events to
 * stock levels, in the customer-360 batch's transaction.
 *
 * How the events combine, so that a level is a function of the set of
 * events (any order, duplicates dropped by the caller):
 *
 *  - On hand comes from the stock ledger, erp.stock.adjusted, only. An
 *    adjustment with on_hand is an absolute base, last writer wins on
 *    (occurred_at, event_id); an adjustment with only a delta is a
 *    movement, counted when it is later than the base (kept in S_MOVES
 *    until a later base makes it moot). on hand = base + those deltas.
 *    Shipments, receipts, completed production and returns do not move
 *    on hand: an ERP reports each of them in its stock ledger too (the
 *    example ledger entry of a shipment carries on_hand and delta), and
 *    counting both would count twice, by a margin of milliseconds.
 *  - Documents (a sales order, a purchase order, a production order) are
 *    kept whole in S_DOCS as parts, each last writer wins by its own key:
 *    the order placed; each shipment, return, delivery and receipt by its
 *    entity; a cancel; a release; a completion. What a document
 *    contributes (reserved, on order, returned, per SKU and warehouse) is
 *    a function of its parts; when a part changes, the difference of the
 *    contributions before and after is added to the levels. So the sums
 *    are sums over documents of functions of sets.
 *  - A sales order reserves its lines while it is placed and neither
 *    cancelled, delivered nor shipped in full (a shipment without lines),
 *    less what its shipments shipped of each SKU. A purchase order is on
 *    order, less what was received, until a receipt is complete (or has
 *    no lines: everything). A production order is on order from its
 *    release until it is completed.
 *  - Oversold: when a tracked level's available (on hand - reserved) is
 *    negative, the open orders that reserve it, newest first, are short
 *    of it until the shortfall is covered: the orders that on hand as
 *    known now cannot serve, had they been served in the order they were
 *    placed. Computed at commit from S_RES, a function of the state.
 *
 * Documents reference their order by `order_id` (sales), by
 * `purchase_order_id` (purchasing), in the same source system: the
 * document key is the system and that id, whatever the entity type.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "errors.h"
#include "hmap.h"
#include "stock_internal.h"

static const hub_table_def_t tables[S_COUNT] = {
    {"stock_levels", 0}, {"stock_moves", 0}, {"stock_docs", 0},
    {"stock_res", 0},    {"stock_skus", 0},  {"stock_low", 0},
};

MDB_val stock_mval(const void *p, size_t n) {
    MDB_val v = {n, (void *)p};
    return v;
}

/* ------------------------------------------------------------------ */
/* Stored bytes                                                        */
/* ------------------------------------------------------------------ */

int stock_rd_bytes(stock_rd *r, size_t n, const uint8_t **p) {
    if (r->bad || r->len - r->pos < n) {
        r->bad = 1;
        return -1;
    }
    *p = r->p + r->pos;
    r->pos += n;
    return 0;
}

int stock_rd_u8(stock_rd *r, uint8_t *v) {
    const uint8_t *p;
    if (stock_rd_bytes(r, 1, &p))
        return -1;
    *v = p[0];
    return 0;
}

int stock_rd_u16(stock_rd *r, uint16_t *v) {
    const uint8_t *p;
    if (stock_rd_bytes(r, 2, &p))
        return -1;
    *v = (uint16_t)(p[0] << 8 | p[1]);
    return 0;
}

int stock_rd_u32(stock_rd *r, uint32_t *v) {
    const uint8_t *p;
    if (stock_rd_bytes(r, 4, &p))
        return -1;
    *v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
    return 0;
}

int stock_rd_i64(stock_rd *r, int64_t *v) {
    const uint8_t *p;
    if (stock_rd_bytes(r, 8, &p))
        return -1;
    *v = (int64_t)hub_rd_be64(p);
    return 0;
}

int stock_rd_str(stock_rd *r, const char **s, size_t *len) {
    uint16_t n;
    const uint8_t *p;
    if (stock_rd_u16(r, &n) || stock_rd_bytes(r, n, &p))
        return -1;
    *s = (const char *)p;
    *len = n;
    return 0;
}

int stock_rd_stamp(stock_rd *r, hub_stamp_t *st) {
    const uint8_t *p;
    if (stock_rd_bytes(r, HUB_STAMP_LEN, &p))
        return -1;
    hub_stamp_get(p, st);
    return 0;
}

void stock_put_u16(hub_buf_t *b, size_t v) {
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    hub_buf_append(b, x, 2);
}

void stock_put_u32(hub_buf_t *b, uint32_t v) {
    uint8_t x[4];
    hub_be32(x, v);
    hub_buf_append(b, x, 4);
}

void stock_put_i64(hub_buf_t *b, int64_t v) {
    uint8_t x[8];
    hub_be64(x, (uint64_t)v);
    hub_buf_append(b, x, 8);
}

void stock_put_str(hub_buf_t *b, const char *s, size_t len) {
    stock_put_u16(b, len);
    hub_buf_append(b, s, len);
}

void stock_put_stamp(hub_buf_t *b, const hub_stamp_t *st) {
    uint8_t x[HUB_STAMP_LEN];
    hub_stamp_put(x, st);
    hub_buf_append(b, x, sizeof x);
}

/*
 * A level: u8 version, u8 flags, base stamp, be64 base, moves, reserved,
 * po, prod, returned; last stamp, u8 last flags, be64 delta, be64
 * on_hand, str reason, str reference; be64 short, be32 orders, u16
 * listed, then listed x (str order, be64 quantity).
 */
int stock_level_decode(const void *p, size_t len, stock_level *l) {
    stock_rd r = {p, len, 0, 0};
    uint8_t version;
    memset(l, 0, sizeof *l);
    stock_rd_u8(&r, &version);
    stock_rd_u8(&r, &l->flags);
    stock_rd_stamp(&r, &l->base_st);
    stock_rd_i64(&r, &l->base);
    stock_rd_i64(&r, &l->moves);
    stock_rd_i64(&r, &l->reserved);
    stock_rd_i64(&r, &l->po);
    stock_rd_i64(&r, &l->prod);
    stock_rd_i64(&r, &l->returned);
    stock_rd_stamp(&r, &l->last_st);
    stock_rd_u8(&r, &l->last_flags);
    stock_rd_i64(&r, &l->last_delta);
    stock_rd_i64(&r, &l->last_on_hand);
    stock_rd_str(&r, &l->reason, &l->reason_len);
    stock_rd_str(&r, &l->reference, &l->reference_len);
    stock_rd_i64(&r, &l->short_qty);
    stock_rd_u32(&r, &l->norders);
    stock_rd_u16(&r, &l->nlisted);
    if (r.bad || version != STOCK_LEVEL_VERSION)
        return HUB_EDECODE;
    l->list = r.p + r.pos;
    l->list_len = r.len - r.pos;
    if (!(l->last_flags & M_REASON))
        l->reason = NULL;
    if (!(l->last_flags & M_REFERENCE))
        l->reference = NULL;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

int hub_stock_open(hub_store_t *store, int writer, hub_stock_t **out, char *err,
                   size_t errlen) {
    *out = NULL;
    hub_stock_t *s = calloc(1, sizeof *s);
    if (!s)
        return HUB_ENOMEM;
    s->store = store;
    if (writer &&
        (!(s->levels = hub_hmap_new()) || !(s->skus = hub_hmap_new()))) {
        hub_stock_close(s);
        return HUB_ENOMEM;
    }
    int rc = hub_store_open_tables(store, tables, S_COUNT, writer, s->dbi);
    if (rc == MDB_NOTFOUND && !writer) {
        *out = s; /* a store older than this projection */
        return 0;
    }
    if (rc) {
        hub_stock_close(s);
        return hub_fail(err, errlen, hub_store_err(rc),
                        "%s: the stock tables: %s", hub_store_dir(store),
                        mdb_strerror(rc));
    }
    s->have_tables = 1;
    *out = s;
    return 0;
}

static void free_wlevel(void *p) {
    wlevel *w = p;
    if (!w)
        return;
    free(w->old);
    free(w->reason);
    free(w->reference);
    free(w);
}

void hub_stock_close(hub_stock_t *s) {
    if (!s)
        return;
    hub_hmap_free(s->levels, free_wlevel);
    hub_hmap_free(s->skus, NULL);
    hub_arena_free(&s->arena);
    hub_buf_free(&s->key);
    hub_buf_free(&s->val);
    hub_buf_free(&s->list);
    free(s);
}

/* ------------------------------------------------------------------ */
/* Levels                                                              */
/* ------------------------------------------------------------------ */

void hub_stock_begin(hub_stock_t *s, MDB_txn *txn) {
    s->txn = txn;
}

void hub_stock_abort(hub_stock_t *s) {
    if (!s)
        return;
    s->txn = NULL;
    hub_hmap_clear(s->levels, free_wlevel);
    hub_hmap_clear(s->skus, NULL);
}

/* key = sku \0 warehouse */
size_t stock_level_key(uint8_t *k, const char *sku, size_t skulen,
                       const char *wh, size_t whlen) {
    memcpy(k, sku, skulen);
    k[skulen] = 0;
    memcpy(k + skulen + 1, wh, whlen);
    return skulen + 1 + whlen;
}

/* The batch's copy of a level, loaded or new; NULL: out of memory or a
 * store error (*rc). */
wlevel *stock_level_get(hub_stock_t *s, const char *sku, size_t skulen,
                        const char *wh, size_t whlen, int *rc) {
    uint8_t k[MAX_KEY + 8];
    size_t kl = stock_level_key(k, sku, skulen, wh, whlen);
    int created;
    void **slot = hub_hmap_put(s->levels, k, kl, &created);
    *rc = HUB_ENOMEM;
    if (!slot)
        return NULL;
    if (!created)
        return *slot;
    wlevel *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    *slot = w;
    MDB_val mk = stock_mval(k, kl), d;
    int r = mdb_get(s->txn, s->dbi[S_LEVELS], &mk, &d);
    if (r == 0) {
        if (!(w->old = malloc(d.mv_size ? d.mv_size : 1)))
            return NULL;
        memcpy(w->old, d.mv_data, d.mv_size);
        w->oldlen = d.mv_size;
        w->stored = 1;
        if ((*rc = stock_level_decode(w->old, w->oldlen, &w->l)))
            return NULL;
    } else if (r != MDB_NOTFOUND) {
        *rc = hub_store_err(r);
        return NULL;
    }
    if (!hub_hmap_put(s->skus, sku, skulen, NULL))
        return NULL;
    *rc = 0;
    return w;
}

/* ------------------------------------------------------------------ */
/* Payload fields                                                      */
/* ------------------------------------------------------------------ */

/* A string field by name: 1 set, 0 null, absent or not a string. */
int stock_str_field(const hub_arec_t *p, const char *name, const char **v,
                    size_t *len) {
    int i = hub_snode_field(p->node, name);
    return i >= 0 && hub_arec_str(p, i, v, len) == 1;
}

int stock_long_field(const hub_arec_t *p, const char *name, int64_t *v) {
    int i = hub_snode_field(p->node, name);
    return i >= 0 && hub_arec_long(p, i, v) == 1;
}

/* SKUs and warehouses are parts of keys: no NUL, bounded. */
int stock_key_ok(const char *s, size_t len) {
    return len < 200 && !memchr(s, 0, len);
}

/* ------------------------------------------------------------------ */
/* erp.stock.adjusted                                                  */
/* ------------------------------------------------------------------ */

/* The sum of the delta-only movements of the level at k later than st;
 * those earlier are deleted: a later base never counts them again. */
static int rebase(hub_stock_t *s, const uint8_t *k, size_t kl,
                  const hub_stamp_t *st, int64_t *sum) {
    MDB_cursor *cur;
    int r = mdb_cursor_open(s->txn, s->dbi[S_MOVES], &cur);
    if (r)
        return hub_store_err(r);
    uint8_t pre[MAX_KEY + 8];
    memcpy(pre, k, kl);
    pre[kl] = 0;
    MDB_val mk = stock_mval(pre, kl + 1), d;
    *sum = 0;
    r = mdb_cursor_get(cur, &mk, &d, MDB_SET_RANGE);
    while (r == 0 && mk.mv_size == kl + 1 + HUB_STAMP_LEN &&
           memcmp(mk.mv_data, pre, kl + 1) == 0) {
        hub_stamp_t at;
        hub_stamp_get((const uint8_t *)mk.mv_data + kl + 1, &at);
        if (hub_stamp_cmp(&at, st) < 0) {
            if ((r = mdb_cursor_del(cur, 0)))
                break;
            /* seek again: after deleting the table's last record the
             * cursor is on nothing (GET_CURRENT answers EINVAL) */
            mk = stock_mval(pre, kl + 1);
            r = mdb_cursor_get(cur, &mk, &d, MDB_SET_RANGE);
            continue;
        }
        if (d.mv_size == 8)
            *sum += (int64_t)hub_rd_be64(d.mv_data);
        r = mdb_cursor_get(cur, &mk, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return r == MDB_NOTFOUND || r == 0 ? 0 : hub_store_err(r);
}

static char *copy_str(const char *v, size_t len, int set) {
    if (!set)
        return NULL;
    char *c = malloc(len + 1);
    if (c) {
        memcpy(c, v, len);
        c[len] = 0;
    }
    return c;
}

static int apply_adjusted(hub_stock_t *s, const hub_arec_t *p,
                          const hub_stamp_t *st) {
    const char *sku, *wh, *reason = NULL, *ref = NULL;
    size_t skulen, whlen, reasonlen = 0, reflen = 0;
    int64_t on_hand = 0, delta = 0;
    if (!stock_str_field(p, "sku", &sku, &skulen) || !skulen ||
        !stock_str_field(p, "warehouse", &wh, &whlen) ||
        !stock_key_ok(sku, skulen) || !stock_key_ok(wh, whlen))
        return 0;
    int has_on_hand = stock_long_field(p, "on_hand", &on_hand);
    int has_delta = stock_long_field(p, "delta", &delta);
    if ((has_on_hand && (on_hand > MAX_QTY || on_hand < -MAX_QTY)) ||
        (has_delta && (delta > MAX_QTY || delta < -MAX_QTY)))
        return 0;
    int has_reason = stock_str_field(p, "reason", &reason, &reasonlen);
    int has_ref = stock_str_field(p, "reference", &ref, &reflen);
    int rc;
    wlevel *w = stock_level_get(s, sku, skulen, wh, whlen, &rc);
    if (!w)
        return rc;
    stock_level *l = &w->l;
    l->flags |= L_TRACKED;
    if (!(l->flags & L_LAST) || hub_stamp_cmp(st, &l->last_st) > 0) {
        free(w->reason);
        free(w->reference);
        w->reason = copy_str(reason, reasonlen, has_reason);
        w->reference = copy_str(ref, reflen, has_ref);
        if ((has_reason && !w->reason) || (has_ref && !w->reference))
            return HUB_ENOMEM;
        l->flags |= L_LAST;
        l->last_st = *st;
        l->last_flags = (uint8_t)((has_delta ? M_DELTA : 0) |
                                  (has_on_hand ? M_ON_HAND : 0) |
                                  (has_reason ? M_REASON : 0) |
                                  (has_ref ? M_REFERENCE : 0));
        l->last_delta = has_delta ? delta : 0;
        l->last_on_hand = has_on_hand ? on_hand : 0;
        l->reason = w->reason;
        l->reason_len = reasonlen;
        l->reference = w->reference;
        l->reference_len = reflen;
    }
    uint8_t k[MAX_KEY + 1 + HUB_STAMP_LEN];
    size_t kl = stock_level_key(k, sku, skulen, wh, whlen);
    int later = !(l->flags & L_BASE) || hub_stamp_cmp(st, &l->base_st) > 0;
    if (has_on_hand && later) {
        l->flags |= L_BASE;
        l->base_st = *st;
        l->base = on_hand;
        return rebase(s, k, kl, st, &l->moves) ?: 1;
    }
    if (has_on_hand || !has_delta || !later)
        return 1; /* an older base, or a movement before the base */
    k[kl] = 0;
    hub_stamp_put(k + kl + 1, st);
    uint8_t v[8];
    hub_be64(v, (uint64_t)delta);
    MDB_val mk = stock_mval(k, kl + 1 + HUB_STAMP_LEN), mv = stock_mval(v, 8);
    if ((rc = mdb_put(s->txn, s->dbi[S_MOVES], &mk, &mv, 0)))
        return hub_store_err(rc);
    l->moves += delta;
    return 1;
}

int hub_stock_apply(hub_stock_t *s, const hub_arec_t *payload,
                    const hub_stamp_t *st, const char *ekey, size_t ekeylen) {
    const char *type = payload->node->event_type;
    if (!s || !s->txn || !type || strncmp(type, "erp.", 4) != 0)
        return 0;
    if (strcmp(type, "erp.stock.adjusted") == 0)
        return apply_adjusted(s, payload, st);
    int rc = stock_apply_doc(s, type, payload, st, ekey, ekeylen);
    hub_arena_reset(&s->arena);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Commit                                                              */
/* ------------------------------------------------------------------ */

/* Whether the old oversold list (stored form) names the order. */
static int listed(const stock_level *old, const char *ref, size_t reflen) {
    stock_rd r = {old->list, old->list_len, 0, 0};
    for (uint16_t i = 0; i < old->nlisted; i++) {
        const char *o;
        size_t ol;
        int64_t q;
        if (stock_rd_str(&r, &o, &ol) || stock_rd_i64(&r, &q))
            return 0;
        if (stock_same(o, ol, ref, reflen))
            return 1;
    }
    return 0;
}

/*
 * The orders that oversell the level at k: its shortfall (-available,
 * when a stock level was reported and available is negative) taken from
 * the open reservations, newest first, into s->list (u16 len, order,
 * be64 quantity each, at most STOCK_OVERSOLD_LIST); counts those the old
 * list did not name into *fresh.
 */
static int oversold(hub_stock_t *s, const uint8_t *k, size_t kl, stock_level *l,
                    const stock_level *old, uint64_t *fresh) {
    hub_buf_reset(&s->list);
    int64_t avail = stock_on_hand(l) - l->reserved;
    l->short_qty = (l->flags & L_TRACKED) && avail < 0 ? -avail : 0;
    l->norders = 0;
    l->nlisted = 0;
    if (!l->short_qty)
        return 0;
    MDB_cursor *cur;
    int r = mdb_cursor_open(s->txn, s->dbi[S_RES], &cur);
    if (r)
        return hub_store_err(r);
    uint8_t end[MAX_KEY + 8];
    memcpy(end, k, kl);
    end[kl] = 1; /* just past every key of the prefix k \0 */
    MDB_val mk = stock_mval(end, kl + 1), d;
    r = mdb_cursor_get(cur, &mk, &d, MDB_SET_RANGE);
    r = r == 0              ? mdb_cursor_get(cur, &mk, &d, MDB_PREV)
        : r == MDB_NOTFOUND ? mdb_cursor_get(cur, &mk, &d, MDB_LAST)
                            : r;
    int64_t left = l->short_qty;
    while (r == 0 && left > 0 && mk.mv_size == kl + 25 &&
           memcmp(mk.mv_data, k, kl) == 0 &&
           ((const uint8_t *)mk.mv_data)[kl] == 0 && d.mv_size >= 8) {
        int64_t q = (int64_t)hub_rd_be64(d.mv_data);
        int64_t take = q < left ? q : left;
        const char *ref = (const char *)d.mv_data + 8;
        size_t reflen = d.mv_size - 8;
        left -= take;
        l->norders++;
        if (l->nlisted < STOCK_OVERSOLD_LIST) {
            stock_put_str(&s->list, ref, reflen);
            stock_put_i64(&s->list, take);
            l->nlisted++;
            if (!old || !listed(old, ref, reflen))
                ++*fresh;
        }
        r = mdb_cursor_get(cur, &mk, &d, MDB_PREV);
    }
    mdb_cursor_close(cur);
    if (r && r != MDB_NOTFOUND)
        return hub_store_err(r);
    return s->list.len && !s->list.data ? HUB_ENOMEM : 0;
}

static int put_level(hub_stock_t *s, const uint8_t *k, size_t kl,
                     const stock_level *l) {
    hub_buf_t *b = &s->val;
    hub_buf_reset(b);
    uint8_t head[2] = {STOCK_LEVEL_VERSION, l->flags};
    hub_buf_append(b, head, 2);
    stock_put_stamp(b, &l->base_st);
    stock_put_i64(b, l->base);
    stock_put_i64(b, l->moves);
    stock_put_i64(b, l->reserved);
    stock_put_i64(b, l->po);
    stock_put_i64(b, l->prod);
    stock_put_i64(b, l->returned);
    stock_put_stamp(b, &l->last_st);
    hub_buf_append(b, &l->last_flags, 1);
    stock_put_i64(b, l->last_delta);
    stock_put_i64(b, l->last_on_hand);
    stock_put_str(b, l->reason ? l->reason : "", l->reason_len);
    stock_put_str(b, l->reference ? l->reference : "", l->reference_len);
    stock_put_i64(b, l->short_qty);
    stock_put_u32(b, l->norders);
    stock_put_u16(b, l->nlisted);
    hub_buf_append(b, s->list.data, s->list.len);
    if (!b->data)
        return HUB_ENOMEM;
    MDB_val mk = stock_mval(k, kl), mv = stock_mval(b->data, b->len);
    return hub_store_err(mdb_put(s->txn, s->dbi[S_LEVELS], &mk, &mv, 0));
}

static int commit_level(hub_stock_t *s, const uint8_t *k, size_t kl, wlevel *w,
                        uint64_t *fresh) {
    stock_level old, *l = &w->l;
    if (w->stored && stock_level_decode(w->old, w->oldlen, &old))
        return HUB_EDECODE;
    int rc = oversold(s, k, kl, l, w->stored ? &old : NULL, fresh);
    if (rc)
        return rc;
    if ((l->flags & L_TRACKED) || l->reserved || l->po || l->prod ||
        l->returned)
        return put_level(s, k, kl, l);
    /* nothing left of it and no stock reported: no such level */
    MDB_val mk = stock_mval(k, kl);
    rc = w->stored ? mdb_del(s->txn, s->dbi[S_LEVELS], &mk, NULL) : 0;
    return rc && rc != MDB_NOTFOUND ? hub_store_err(rc) : 0;
}

/* The SKU's total available, in S_SKUS and the S_LOW index, when one of
 * its levels is tracked; else out of both. */
static int commit_sku(hub_stock_t *s, const char *sku, size_t skulen) {
    MDB_cursor *cur;
    int r = mdb_cursor_open(s->txn, s->dbi[S_LEVELS], &cur);
    if (r)
        return hub_store_err(r);
    uint8_t k[MAX_KEY + 16];
    memcpy(k, sku, skulen);
    k[skulen] = 0;
    MDB_val mk = stock_mval(k, skulen + 1), d;
    int64_t avail = 0;
    int tracked = 0;
    for (r = mdb_cursor_get(cur, &mk, &d, MDB_SET_RANGE);
         r == 0 && mk.mv_size > skulen &&
         memcmp(mk.mv_data, k, skulen + 1) == 0;
         r = mdb_cursor_get(cur, &mk, &d, MDB_NEXT)) {
        stock_level l;
        if (stock_level_decode(d.mv_data, d.mv_size, &l))
            continue;
        tracked |= l.flags & L_TRACKED;
        avail += stock_on_hand(&l) - l.reserved;
    }
    mdb_cursor_close(cur);
    if (r && r != MDB_NOTFOUND)
        return hub_store_err(r);
    MDB_val sk = stock_mval(sku, skulen);
    r = mdb_get(s->txn, s->dbi[S_SKUS], &sk, &d);
    if (r == 0 && d.mv_size == 8) {
        memcpy(k, d.mv_data, 8);
        memcpy(k + 8, sku, skulen);
        mk = stock_mval(k, 8 + skulen);
        if ((r = mdb_del(s->txn, s->dbi[S_LOW], &mk, NULL)) &&
            r != MDB_NOTFOUND)
            return hub_store_err(r);
        if (!tracked && (r = mdb_del(s->txn, s->dbi[S_SKUS], &sk, NULL)))
            return hub_store_err(r);
    } else if (r != MDB_NOTFOUND && r != 0) {
        return hub_store_err(r);
    }
    if (!tracked)
        return 0;
    hub_be64(k, (uint64_t)avail ^ STOCK_BIAS);
    memcpy(k + 8, sku, skulen);
    MDB_val bv = stock_mval(k, 8), lk = stock_mval(k, 8 + skulen),
            empty = stock_mval("", 0);
    if ((r = mdb_put(s->txn, s->dbi[S_SKUS], &sk, &bv, 0)) ||
        (r = mdb_put(s->txn, s->dbi[S_LOW], &lk, &empty, 0)))
        return hub_store_err(r);
    return 0;
}

int hub_stock_commit(hub_stock_t *s, uint64_t *fresh) {
    *fresh = 0;
    if (!s || !s->txn)
        return 0;
    /* levels first: the totals read them back */
    size_t pos = 0, kl;
    const char *k;
    void *v;
    int rc = 0;
    while (!rc && hub_hmap_next(s->levels, &pos, &k, &kl, &v))
        rc = commit_level(s, (const uint8_t *)k, kl, v, fresh);
    pos = 0;
    while (!rc && hub_hmap_next(s->skus, &pos, &k, &kl, &v))
        rc = commit_sku(s, k, kl);
    return rc;
}
