/*
 * hub360 - the stock projection's documents: sales orders, purchase
 * orders and production orders, kept whole as parts (each last writer
 * wins by its own key), and what each contributes to the stock levels
 * (reserved, on order, returned). When a part changes, the difference of
 * the document's contribution before and after is added to the levels
 * (stock.c says why that keeps them a function of the set of events).
 */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "stock_internal.h"

enum { /* parts of a document */
       K_PLACED = 1,
       K_CANCELLED,
       K_SHIPPED,
       K_DELIVERED,
       K_RETURNED,
       K_RECEIVED,
       K_RELEASED,
       K_COMPLETED,
};
enum { P_ALL = 1, P_COMPLETE = 2 };  /* no lines: all of it; closes it */
enum { F_RES, F_PO, F_PROD, F_RET }; /* what a contribution adds to */

#define DOC_VERSION 2

typedef struct sline {
    const char *sku, *wh;
    size_t skulen, whlen;
    int64_t qty;
} sline;

typedef struct spart {
    uint8_t kind, flags;
    hub_stamp_t st;
    const char *key; /* the entity it came from (shipments, ...) or "" */
    size_t keylen;
    sline *lines;
    size_t nlines;
} spart;

typedef struct sdoc {
    spart parts[MAX_PARTS];
    size_t n;
} sdoc;

static const struct {
    const char *type;
    char doc; /* 'o' sales order, 'p' purchase, 'w' production */
    uint8_t kind;
    const char *ref; /* the payload field naming the document; NULL:
                        the event's own entity */
} doc_events[] = {
    {"erp.order.placed", 'o', K_PLACED, NULL},
    {"erp.order.cancelled", 'o', K_CANCELLED, NULL},
    {"erp.order.shipped", 'o', K_SHIPPED, "order_id"},
    {"erp.order.delivered", 'o', K_DELIVERED, "order_id"},
    {"erp.order.returned", 'o', K_RETURNED, "order_id"},
    {"erp.purchase_order.placed", 'p', K_PLACED, NULL},
    {"erp.purchase_order.received", 'p', K_RECEIVED, "purchase_order_id"},
    {"erp.production_order.released", 'w', K_RELEASED, NULL},
    {"erp.production_order.completed", 'w', K_COMPLETED, NULL},
};

static int cmp_line(const void *a, const void *b) {
    const sline *x = a, *y = b;
    size_t n = x->skulen < y->skulen ? x->skulen : y->skulen;
    int c = memcmp(x->sku, y->sku, n);
    if (c || x->skulen != y->skulen)
        return c ? c : x->skulen < y->skulen ? -1 : 1;
    n = x->whlen < y->whlen ? x->whlen : y->whlen;
    c = memcmp(x->wh, y->wh, n);
    return c ? c : (x->whlen > y->whlen) - (x->whlen < y->whlen);
}

int stock_same(const char *a, size_t al, const char *b, size_t bl) {
    return al == bl && memcmp(a, b, al) == 0;
}

/* Sorts lines by (sku, warehouse) and adds up repeats: one canonical
 * form whatever the document's line order. */
static size_t canonical_lines(sline *v, size_t n) {
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_line);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out &&
            stock_same(v[out - 1].sku, v[out - 1].skulen, v[i].sku,
                       v[i].skulen) &&
            stock_same(v[out - 1].wh, v[out - 1].whlen, v[i].wh, v[i].whlen))
            v[out - 1].qty += v[i].qty;
        else
            v[out++] = v[i];
    }
    return out;
}

/* The lines of the event as a part: OrderLine items of `lines` (each
 * line's warehouse, else the document's, else ""), or the one SKU of a
 * production order. */
static int event_lines(hub_stock_t *s, const hub_arec_t *p, spart *part) {
    const char *dwh = "";
    size_t dwhlen = 0;
    if (!stock_str_field(p, "warehouse", &dwh, &dwhlen) ||
        !stock_key_ok(dwh, dwhlen))
        dwh = "", dwhlen = 0;
    const char *sku;
    size_t skulen;
    int64_t qty;
    if (part->kind == K_RELEASED || part->kind == K_COMPLETED) {
        if (!stock_str_field(p, "sku", &sku, &skulen) || !skulen ||
            !stock_key_ok(sku, skulen) ||
            !stock_long_field(p, "quantity", &qty) || qty <= 0 || qty > MAX_QTY)
            return 0;
        if (!(part->lines = hub_arena_alloc(&s->arena, sizeof *part->lines)))
            return HUB_ENOMEM;
        part->lines[0] = (sline){sku, dwh, skulen, dwhlen, qty};
        part->nlines = 1;
        return 0;
    }
    int li = hub_snode_field(p->node, "lines");
    hub_aiter_t it;
    size_t at, cap = 0;
    if (li < 0 || hub_arec_array(p, li, &it) != 1)
        return 0;
    int r;
    while ((r = hub_aiter_next(&it, &at)) == 1 && part->nlines < MAX_LINES) {
        hub_arec_t line;
        const char *wh;
        size_t whlen;
        if (hub_arec_open(&line, it.items, it.buf, it.len, at))
            break;
        if (!stock_str_field(&line, "sku", &sku, &skulen) || !skulen ||
            !stock_key_ok(sku, skulen) ||
            !stock_long_field(&line, "quantity", &qty) || qty <= 0 ||
            qty > MAX_QTY)
            continue;
        if (!stock_str_field(&line, "warehouse", &wh, &whlen) ||
            !stock_key_ok(wh, whlen))
            wh = dwh, whlen = dwhlen;
        if (part->nlines == cap) {
            size_t ncap = cap ? 2 * cap : 8;
            sline *nv = hub_arena_alloc(&s->arena, ncap * sizeof *nv);
            if (!nv)
                return HUB_ENOMEM;
            if (cap)
                memcpy(nv, part->lines, cap * sizeof *nv);
            part->lines = nv;
            cap = ncap;
        }
        part->lines[part->nlines++] = (sline){sku, wh, skulen, whlen, qty};
    }
    part->nlines = canonical_lines(part->lines, part->nlines);
    return 0;
}

/* A document's parts from its stored bytes (strings copied into the
 * batch's arena: the pages they are on are rewritten). */
static int load_doc(hub_stock_t *s, const uint8_t *k, size_t kl, sdoc *doc) {
    MDB_val mk = stock_mval(k, kl), d;
    doc->n = 0;
    int r = mdb_get(s->txn, s->dbi[S_DOCS], &mk, &d);
    if (r == MDB_NOTFOUND)
        return 0;
    if (r)
        return hub_store_err(r);
    uint8_t *copy = hub_arena_alloc(&s->arena, d.mv_size ? d.mv_size : 1);
    if (!copy)
        return HUB_ENOMEM;
    memcpy(copy, d.mv_data, d.mv_size);
    stock_rd rd = {copy, d.mv_size, 0, 0};
    uint8_t version, type;
    uint16_t n;
    stock_rd_u8(&rd, &version);
    stock_rd_u8(&rd, &type);
    stock_rd_u16(&rd, &n);
    if (rd.bad || version != DOC_VERSION || n > MAX_PARTS)
        return HUB_EDECODE;
    for (size_t i = 0; i < n; i++) {
        spart *p = &doc->parts[i];
        uint16_t nl;
        memset(p, 0, sizeof *p);
        stock_rd_u8(&rd, &p->kind);
        stock_rd_u8(&rd, &p->flags);
        stock_rd_stamp(&rd, &p->st);
        stock_rd_str(&rd, &p->key, &p->keylen);
        stock_rd_u16(&rd, &nl);
        if (rd.bad)
            return HUB_EDECODE;
        if (nl &&
            !(p->lines = hub_arena_alloc(&s->arena, nl * sizeof *p->lines)))
            return HUB_ENOMEM;
        for (size_t j = 0; j < nl; j++) {
            sline *l = &p->lines[j];
            stock_rd_str(&rd, &l->sku, &l->skulen);
            stock_rd_str(&rd, &l->wh, &l->whlen);
            stock_rd_i64(&rd, &l->qty);
        }
        p->nlines = nl;
        if (rd.bad)
            return HUB_EDECODE;
    }
    doc->n = n;
    return 0;
}

static int store_doc(hub_stock_t *s, const uint8_t *k, size_t kl, char type,
                     const sdoc *doc) {
    hub_buf_t *b = &s->val;
    hub_buf_reset(b);
    uint8_t head[2] = {DOC_VERSION, (uint8_t)type};
    hub_buf_append(b, head, 2);
    stock_put_u16(b, doc->n);
    for (size_t i = 0; i < doc->n; i++) {
        const spart *p = &doc->parts[i];
        hub_buf_append(b, &p->kind, 1);
        hub_buf_append(b, &p->flags, 1);
        stock_put_stamp(b, &p->st);
        stock_put_str(b, p->key, p->keylen);
        stock_put_u16(b, p->nlines);
        for (size_t j = 0; j < p->nlines; j++) {
            stock_put_str(b, p->lines[j].sku, p->lines[j].skulen);
            stock_put_str(b, p->lines[j].wh, p->lines[j].whlen);
            stock_put_i64(b, p->lines[j].qty);
        }
    }
    if (!b->data)
        return HUB_ENOMEM;
    MDB_val mk = stock_mval(k, kl), mv = stock_mval(b->data, b->len);
    return hub_store_err(mdb_put(s->txn, s->dbi[S_DOCS], &mk, &mv, 0));
}

/* What a document adds to the levels. */
typedef struct contrib {
    const char *sku, *wh;
    size_t skulen, whlen;
    int field; /* F_* */
    int64_t qty;
} contrib;

typedef struct contribs {
    contrib *v;
    size_t n, cap;
    const spart *placed; /* its reservations' stamp: the order placed */
} contribs;

static int add_contrib(hub_stock_t *s, contribs *c, const char *sku,
                       size_t skulen, const char *wh, size_t whlen, int field,
                       int64_t qty) {
    if (qty <= 0)
        return 0;
    if (c->n == c->cap) {
        size_t ncap = c->cap ? 2 * c->cap : 16;
        contrib *nv = hub_arena_alloc(&s->arena, ncap * sizeof *nv);
        if (!nv)
            return HUB_ENOMEM;
        if (c->cap)
            memcpy(nv, c->v, c->cap * sizeof *nv);
        c->v = nv;
        c->cap = ncap;
    }
    c->v[c->n++] = (contrib){sku, wh, skulen, whlen, field, qty};
    return 0;
}

static const spart *find_part(const sdoc *doc, uint8_t kind) {
    for (size_t i = 0; i < doc->n; i++)
        if (doc->parts[i].kind == kind)
            return &doc->parts[i];
    return NULL;
}

/* The quantity of sku that parts of `kind` name (lines, not P_ALL). */
static int64_t sum_kind(const sdoc *doc, uint8_t kind, const char *sku,
                        size_t skulen) {
    int64_t n = 0;
    for (size_t i = 0; i < doc->n; i++)
        if (doc->parts[i].kind == kind)
            for (size_t j = 0; j < doc->parts[i].nlines; j++)
                if (stock_same(doc->parts[i].lines[j].sku,
                               doc->parts[i].lines[j].skulen, sku, skulen))
                    n += doc->parts[i].lines[j].qty;
    return n;
}

/* The lines of `open` that remain after what parts of `done` took of
 * each SKU, line by line in (sku, warehouse) order, into field. */
static int remaining(hub_stock_t *s, contribs *c, const sdoc *doc,
                     const spart *open, uint8_t done, int field) {
    int64_t left = 0;
    for (size_t j = 0; j < open->nlines; j++) {
        const sline *l = &open->lines[j];
        if (j == 0 || !stock_same(l->sku, l->skulen, open->lines[j - 1].sku,
                                  open->lines[j - 1].skulen))
            left = sum_kind(doc, done, l->sku, l->skulen);
        int64_t take = left < l->qty ? left : l->qty;
        left -= take;
        int rc = add_contrib(s, c, l->sku, l->skulen, l->wh, l->whlen, field,
                             l->qty - take);
        if (rc)
            return rc;
    }
    return 0;
}

static int has_flag(const sdoc *doc, uint8_t kind, uint8_t flags) {
    for (size_t i = 0; i < doc->n; i++)
        if (doc->parts[i].kind == kind && (doc->parts[i].flags & flags))
            return 1;
    return 0;
}

/* Returned goods: each return's lines (a line without a warehouse takes
 * the order's line of that SKU's), or the whole order. */
static int returns(hub_stock_t *s, contribs *c, const sdoc *doc,
                   const spart *placed) {
    int rc = 0;
    for (size_t i = 0; i < doc->n && !rc; i++) {
        const spart *p = &doc->parts[i];
        if (p->kind != K_RETURNED)
            continue;
        const spart *from = p->flags & P_ALL ? placed : p;
        for (size_t j = 0; from && j < from->nlines && !rc; j++) {
            const sline *l = &from->lines[j];
            const char *wh = l->wh;
            size_t whlen = l->whlen;
            for (size_t k = 0; !whlen && placed && k < placed->nlines; k++)
                if (stock_same(placed->lines[k].sku, placed->lines[k].skulen,
                               l->sku, l->skulen))
                    wh = placed->lines[k].wh, whlen = placed->lines[k].whlen;
            rc = add_contrib(s, c, l->sku, l->skulen, wh, whlen, F_RET, l->qty);
        }
    }
    return rc;
}

static int contributions(hub_stock_t *s, char type, const sdoc *doc,
                         contribs *c) {
    memset(c, 0, sizeof *c);
    const spart *placed = find_part(doc, K_PLACED);
    if (type == 'o') {
        c->placed = placed;
        int closed = find_part(doc, K_CANCELLED) ||
                     find_part(doc, K_DELIVERED) ||
                     has_flag(doc, K_SHIPPED, P_ALL);
        int rc = placed && !closed
                     ? remaining(s, c, doc, placed, K_SHIPPED, F_RES)
                     : 0;
        return rc ? rc : returns(s, c, doc, placed);
    }
    if (type == 'p')
        return placed && !has_flag(doc, K_RECEIVED, P_ALL | P_COMPLETE)
                   ? remaining(s, c, doc, placed, K_RECEIVED, F_PO)
                   : 0;
    const spart *rel = find_part(doc, K_RELEASED);
    if (!rel || find_part(doc, K_COMPLETED) || !rel->nlines)
        return 0;
    return add_contrib(s, c, rel->lines[0].sku, rel->lines[0].skulen,
                       rel->lines[0].wh, rel->lines[0].whlen, F_PROD,
                       rel->lines[0].qty);
}

/* S_RES key: sku \0 warehouse \0 be64 at + event id of the order placed */
static size_t res_key(uint8_t *k, const contrib *x, const hub_stamp_t *st) {
    size_t kl = stock_level_key(k, x->sku, x->skulen, x->wh, x->whlen);
    k[kl] = 0;
    hub_be64(k + kl + 1, (uint64_t)st->at);
    memcpy(k + kl + 9, st->id, 16);
    return kl + 25;
}

/* Adds (sign 1) or takes away (-1) a document's contributions: to the
 * levels, and the reservations to S_RES (value be64 quantity + the
 * order's reference `system/id`). */
static int add_all(hub_stock_t *s, const contribs *c, int sign, const char *ref,
                   size_t reflen) {
    for (size_t i = 0; i < c->n; i++) {
        const contrib *x = &c->v[i];
        int rc;
        wlevel *w = stock_level_get(s, x->sku, x->skulen, x->wh, x->whlen, &rc);
        if (!w)
            return rc;
        int64_t *f = x->field == F_RES    ? &w->l.reserved
                     : x->field == F_PO   ? &w->l.po
                     : x->field == F_PROD ? &w->l.prod
                                          : &w->l.returned;
        *f += sign * x->qty;
        if (x->field != F_RES || !c->placed)
            continue;
        uint8_t k[MAX_KEY + 32];
        MDB_val mk = stock_mval(k, res_key(k, x, &c->placed->st)), mv;
        if (sign < 0) {
            rc = mdb_del(s->txn, s->dbi[S_RES], &mk, NULL);
            if (rc && rc != MDB_NOTFOUND)
                return hub_store_err(rc);
            continue;
        }
        hub_buf_reset(&s->key);
        stock_put_i64(&s->key, x->qty);
        hub_buf_append(&s->key, ref, reflen);
        if (!s->key.data)
            return HUB_ENOMEM;
        mv = stock_mval(s->key.data, s->key.len);
        if ((rc = mdb_put(s->txn, s->dbi[S_RES], &mk, &mv, 0)))
            return hub_store_err(rc);
    }
    return 0;
}

static int apply_doc(hub_stock_t *s, size_t ev, const hub_arec_t *p,
                     const hub_stamp_t *st, const char *ekey, size_t ekeylen) {
    /* the document: its system and id (the entity's, or a reference) */
    const char *slash = memchr(ekey, '/', ekeylen);
    const char *slash2 =
        slash ? memchr(slash + 1, '/', ekeylen - (size_t)(slash + 1 - ekey))
              : NULL;
    if (!slash2)
        return 0;
    size_t syslen = (size_t)(slash - ekey);
    const char *id = slash2 + 1;
    size_t idlen = ekeylen - (size_t)(id - ekey);
    if (doc_events[ev].ref &&
        !stock_str_field(p, doc_events[ev].ref, &id, &idlen))
        return 0;
    if (!idlen || syslen + idlen + 2 > MAX_KEY || memchr(id, 0, idlen))
        return 0;
    uint8_t k[MAX_KEY + 8];
    char type = doc_events[ev].doc;
    k[0] = (uint8_t)type;
    memcpy(k + 1, ekey, syslen);
    k[1 + syslen] = 0;
    memcpy(k + 2 + syslen, id, idlen);
    size_t kl = 2 + syslen + idlen;

    spart part = {
        .kind = doc_events[ev].kind, .st = *st, .key = "", .keylen = 0};
    if (part.kind == K_SHIPPED || part.kind == K_DELIVERED ||
        part.kind == K_RETURNED || part.kind == K_RECEIVED) {
        part.key = ekey; /* one part per shipment, return, receipt */
        part.keylen = ekeylen;
    }
    int rc;
    if (part.kind != K_CANCELLED && part.kind != K_DELIVERED &&
        (rc = event_lines(s, p, &part)))
        return rc;
    if (!part.nlines && (part.kind == K_SHIPPED || part.kind == K_RETURNED ||
                         part.kind == K_RECEIVED))
        part.flags |= P_ALL;
    int complete = 0;
    int ci = hub_snode_field(p->node, "complete");
    if (part.kind == K_RECEIVED && ci >= 0 &&
        hub_arec_bool(p, ci, &complete) == 1 && complete)
        part.flags |= P_COMPLETE;

    sdoc *doc = hub_arena_alloc(&s->arena, sizeof *doc);
    if (!doc)
        return HUB_ENOMEM;
    if ((rc = load_doc(s, k, kl, doc)))
        return rc;
    size_t at = doc->n;
    for (size_t i = 0; i < doc->n; i++)
        if (doc->parts[i].kind == part.kind &&
            stock_same(doc->parts[i].key, doc->parts[i].keylen, part.key,
                       part.keylen))
            at = i;
    if (at < doc->n && hub_stamp_cmp(st, &doc->parts[at].st) <= 0)
        return 0; /* an older version of that part */
    if (at == MAX_PARTS)
        return 0; /* a document of more parts than that: the rest ignored */
    contribs before, after;
    if ((rc = contributions(s, type, doc, &before)))
        return rc;
    /* before points into doc's parts: keep the placed part's stamp */
    spart was_placed;
    if (before.placed) {
        was_placed = *before.placed;
        before.placed = &was_placed;
    }
    doc->parts[at] = part;
    if (at == doc->n)
        doc->n++;
    if ((rc = contributions(s, type, doc, &after)))
        return rc;
    /* the reference shown for an order: system/id */
    char ref[MAX_KEY + 8];
    memcpy(ref, ekey, syslen);
    ref[syslen] = '/';
    memcpy(ref + syslen + 1, id, idlen);
    if ((rc = add_all(s, &before, -1, ref, syslen + 1 + idlen)) ||
        (rc = add_all(s, &after, 1, ref, syslen + 1 + idlen)) ||
        (rc = store_doc(s, k, kl, type, doc)))
        return rc;
    return 1;
}

int stock_apply_doc(hub_stock_t *s, const char *type, const hub_arec_t *p,
                    const hub_stamp_t *st, const char *ekey, size_t ekeylen) {
    for (size_t i = 0; i < sizeof doc_events / sizeof *doc_events; i++)
        if (strcmp(type, doc_events[i].type) == 0)
            return apply_doc(s, i, p, st, ekey, ekeylen);
    return 0;
}
