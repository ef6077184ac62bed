/*
 * hub360 - reading the product availability projection: a SKU's product
 * view as JSON and the low-stock list, each in one read transaction of
 * its own (any thread), copied out before it ends.
 *
 * The view (projections/README.md, "Product availability") is rendered
 * from the SKU's stored levels in key order, so the same levels always
 * give the same bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "stock_internal.h"
#include "timefmt.h"
#include "uuid.h"

static void put_int(hub_buf_t *b, const char *key, int64_t v, int *first) {
    hub_json_put_key(b, key, first);
    hub_json_put_int(b, v);
}

static void put_opt_str(hub_buf_t *b, const char *key, const char *s,
                        size_t len, int *first) {
    hub_json_put_key(b, key, first);
    if (s)
        hub_json_put_str(b, s, len);
    else
        hub_buf_puts(b, "null");
}

/* {"at", "event_id", "reason", "reference", "delta", "on_hand"}, with
 * "warehouse" first when wh is given. */
static void put_movement(hub_buf_t *b, const stock_level *l, const char *wh,
                         size_t whlen) {
    if (!(l->flags & L_LAST)) {
        hub_buf_puts(b, "null");
        return;
    }
    int first = 1;
    char at[HUB_TIME_MAXLEN], id[HUB_UUID_STRLEN + 1];
    hub_uuid_t u;
    memcpy(u.b, l->last_st.id, 16);
    hub_uuid_format(&u, id);
    hub_time_format(l->last_st.at, at);
    hub_buf_putc(b, '{');
    if (wh)
        put_opt_str(b, "warehouse", whlen ? wh : NULL, whlen, &first);
    put_opt_str(b, "at", at, strlen(at), &first);
    put_opt_str(b, "event_id", id, strlen(id), &first);
    put_opt_str(b, "reason", l->reason, l->reason_len, &first);
    put_opt_str(b, "reference", l->reference, l->reference_len, &first);
    hub_json_put_key(b, "delta", &first);
    if (l->last_flags & M_DELTA)
        hub_json_put_int(b, l->last_delta);
    else
        hub_buf_puts(b, "null");
    hub_json_put_key(b, "on_hand", &first);
    if (l->last_flags & M_ON_HAND)
        hub_json_put_int(b, l->last_on_hand);
    else
        hub_buf_puts(b, "null");
    hub_buf_putc(b, '}');
}

/* The oversold orders of a level as JSON objects (without brackets),
 * each {"order", ["warehouse",] "quantity"}; *any set when one is put. */
static void put_orders(hub_buf_t *b, const stock_level *l, const char *wh,
                       size_t whlen, int *any) {
    stock_rd r = {l->list, l->list_len, 0, 0};
    for (uint16_t i = 0; i < l->nlisted; i++) {
        const char *o;
        size_t ol;
        int64_t q;
        if (stock_rd_str(&r, &o, &ol) || stock_rd_i64(&r, &q))
            return;
        int first = 1;
        if (*any)
            hub_buf_putc(b, ',');
        *any = 1;
        hub_buf_putc(b, '{');
        put_opt_str(b, "order", o, ol, &first);
        if (wh)
            put_opt_str(b, "warehouse", whlen ? wh : NULL, whlen, &first);
        put_int(b, "quantity", q, &first);
        hub_buf_putc(b, '}');
    }
}

/* The quantities every level and the totals have, in this order. */
typedef struct sums {
    int tracked;
    int64_t on_hand, reserved, po, prod, returned, short_qty;
    uint32_t norders;
} sums;

static void put_sums(hub_buf_t *b, const sums *t, int *first) {
    hub_json_put_key(b, "tracked", first);
    hub_buf_puts(b, t->tracked ? "true" : "false");
    put_int(b, "on_hand", t->on_hand, first);
    put_int(b, "reserved", t->reserved, first);
    put_int(b, "available", t->on_hand - t->reserved, first);
    put_int(b, "on_order_purchase", t->po, first);
    put_int(b, "on_order_production", t->prod, first);
    put_int(b, "returned", t->returned, first);
}

static void level_sums(const stock_level *l, sums *t) {
    *t = (sums){(l->flags & L_TRACKED) != 0,
                stock_on_hand(l),
                l->reserved,
                l->po,
                l->prod,
                l->returned,
                l->short_qty,
                l->norders};
}

/* Renders the view of sku from txn into out: HUB_ENOENT when it has no
 * level. */
static int render(hub_stock_t *s, MDB_txn *txn, const char *sku, size_t skulen,
                  hub_buf_t *out) {
    if (skulen > 400)
        return HUB_ENOENT;
    MDB_cursor *cur;
    int r = mdb_cursor_open(txn, s->dbi[S_LEVELS], &cur);
    if (r)
        return hub_store_err(r);
    uint8_t k[512];
    memcpy(k, sku, skulen);
    k[skulen] = 0;
    MDB_val mk = {skulen + 1, k}, d;
    hub_buf_t wh = HUB_BUF_INIT, orders = HUB_BUF_INIT;
    sums tot = {0};
    stock_level last = {0};
    const char *last_wh = NULL;
    size_t last_whlen = 0, n = 0;
    int any_order = 0, rc = 0;
    for (r = mdb_cursor_get(cur, &mk, &d, MDB_SET_RANGE);
         r == 0 && mk.mv_size > skulen &&
         memcmp(mk.mv_data, k, skulen + 1) == 0;
         r = mdb_cursor_get(cur, &mk, &d, MDB_NEXT)) {
        stock_level l;
        if ((rc = stock_level_decode(d.mv_data, d.mv_size, &l)))
            break;
        const char *w = (const char *)mk.mv_data + skulen + 1;
        size_t wl = mk.mv_size - skulen - 1;
        sums t;
        level_sums(&l, &t);
        tot.tracked |= t.tracked;
        tot.on_hand += t.on_hand;
        tot.reserved += t.reserved;
        tot.po += t.po;
        tot.prod += t.prod;
        tot.returned += t.returned;
        tot.short_qty += t.short_qty;
        tot.norders += t.norders;
        if ((l.flags & L_LAST) &&
            (!(last.flags & L_LAST) ||
             hub_stamp_cmp(&l.last_st, &last.last_st) > 0)) {
            last = l;
            last_wh = w;
            last_whlen = wl;
        }
        put_orders(&orders, &l, w, wl, &any_order);
        int first = 1;
        hub_buf_puts(&wh, n++ ? ",{" : "{");
        put_opt_str(&wh, "warehouse", wl ? w : NULL, wl, &first);
        put_sums(&wh, &t, &first);
        hub_json_put_key(&wh, "last_movement", &first);
        put_movement(&wh, &l, NULL, 0);
        hub_json_put_key(&wh, "oversold", &first);
        int f2 = 1, any = 0;
        hub_buf_putc(&wh, '{');
        put_int(&wh, "quantity", l.short_qty, &f2);
        put_int(&wh, "orders_total", l.norders, &f2);
        hub_json_put_key(&wh, "orders", &f2);
        hub_buf_putc(&wh, '[');
        put_orders(&wh, &l, NULL, 0, &any);
        hub_buf_puts(&wh, "]}}");
    }
    mdb_cursor_close(cur);
    if (!rc && r && r != MDB_NOTFOUND)
        rc = hub_store_err(r);
    if (!rc && !n)
        rc = HUB_ENOENT;
    if (!rc) {
        int first = 1;
        hub_buf_putc(out, '{');
        put_opt_str(out, "sku", sku, skulen, &first);
        put_sums(out, &tot, &first);
        hub_json_put_key(out, "last_movement", &first);
        put_movement(out, &last, last_wh ? last_wh : "", last_whlen);
        hub_json_put_key(out, "oversold", &first);
        int f2 = 1;
        hub_buf_putc(out, '{');
        put_int(out, "quantity", tot.short_qty, &f2);
        put_int(out, "orders_total", tot.norders, &f2);
        hub_json_put_key(out, "orders", &f2);
        hub_buf_putc(out, '[');
        hub_buf_append(out, orders.data, orders.len);
        hub_buf_puts(out, "]}");
        hub_json_put_key(out, "warehouses", &first);
        hub_buf_putc(out, '[');
        hub_buf_append(out, wh.data, wh.len);
        hub_buf_puts(out, "]}");
        if ((wh.len && !wh.data) || (orders.len && !orders.data) || !out->data)
            rc = HUB_ENOMEM;
    }
    hub_buf_free(&wh);
    hub_buf_free(&orders);
    return rc;
}

int hub_stock_product_json(hub_stock_t *s, const char *sku, hub_buf_t *out) {
    if (!s || !sku)
        return HUB_EINVAL;
    if (!s->have_tables)
        return HUB_ENOENT;
    MDB_txn *txn;
    int r = mdb_txn_begin(hub_store_env(s->store), NULL, MDB_RDONLY, &txn);
    if (r)
        return hub_store_err(r);
    int rc = render(s, txn, sku, strlen(sku), out);
    mdb_txn_abort(txn);
    return rc;
}

/* A cursor of the low-stock list: "<available>:<sku>". */
static int parse_cursor(const char *c, uint8_t *k, size_t *kl) {
    const char *colon = strchr(c, ':');
    if (!colon || colon == c || strlen(colon + 1) > 400)
        return HUB_EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(c, &end, 10);
    if (end != colon || errno)
        return HUB_EINVAL;
    hub_be64(k, (uint64_t)v ^ STOCK_BIAS);
    size_t sl = strlen(colon + 1);
    memcpy(k + 8, colon + 1, sl);
    *kl = 8 + sl;
    return 0;
}

int hub_stock_low_json(hub_stock_t *s, int64_t below, const char *cursor,
                       size_t limit, hub_buf_t *out) {
    if (!s || !out)
        return HUB_EINVAL;
    uint8_t k[512];
    size_t kl = 0;
    int rc = cursor && *cursor ? parse_cursor(cursor, k, &kl) : 0;
    if (rc)
        return rc;
    hub_buf_puts(out, "{\"products\":[");
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    size_t n = 0;
    char last[600] = "";
    int more = 0;
    int r = !s->have_tables ? MDB_NOTFOUND
                            : mdb_txn_begin(hub_store_env(s->store), NULL,
                                            MDB_RDONLY, &txn);
    if (!r)
        r = mdb_cursor_open(txn, s->dbi[S_LOW], &cur);
    MDB_val mk = {kl, k}, d;
    if (!r)
        r = mdb_cursor_get(cur, &mk, &d, kl ? MDB_SET_RANGE : MDB_FIRST);
    if (!r && kl && mk.mv_size == kl && memcmp(mk.mv_data, k, kl) == 0)
        r = mdb_cursor_get(cur, &mk, &d, MDB_NEXT); /* the cursor's own */
    for (; !r && !rc && mk.mv_size > 8;
         r = mdb_cursor_get(cur, &mk, &d, MDB_NEXT)) {
        int64_t avail = (int64_t)(hub_rd_be64(mk.mv_data) ^ STOCK_BIAS);
        if (avail >= below)
            break;
        if (n == limit) { /* one beyond the page: there is a next one */
            more = 1;
            break;
        }
        if (n++)
            hub_buf_putc(out, ',');
        const char *sku = (const char *)mk.mv_data + 8;
        size_t skulen = mk.mv_size - 8;
        char sk[512];
        snprintf(sk, sizeof sk, "%.*s", (int)skulen, sku);
        rc = render(s, txn, sk, skulen, out);
        snprintf(last, sizeof last, "%lld:%s", (long long)avail, sk);
    }
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    if (!rc && r && r != MDB_NOTFOUND)
        rc = hub_store_err(r);
    if (rc)
        return rc;
    hub_buf_puts(out, "],\"next_cursor\":");
    if (more)
        hub_json_put_cstr(out, last);
    else
        hub_buf_puts(out, "null");
    hub_buf_putc(out, '}');
    return out->data ? 0 : HUB_ENOMEM;
}

int hub_stock_each(hub_stock_t *s,
                   int (*fn)(const char *sku, const char *json, size_t len,
                             void *opaque),
                   void *opaque) {
    if (!s || !fn)
        return HUB_EINVAL;
    if (!s->have_tables)
        return 0;
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    int r = mdb_txn_begin(hub_store_env(s->store), NULL, MDB_RDONLY, &txn);
    if (r)
        return hub_store_err(r);
    if ((r = mdb_cursor_open(txn, s->dbi[S_LEVELS], &cur))) {
        mdb_txn_abort(txn);
        return hub_store_err(r);
    }
    hub_buf_t view = HUB_BUF_INIT;
    char sku[512];
    MDB_val mk, d;
    int rc = 0;
    r = mdb_cursor_get(cur, &mk, &d, MDB_FIRST);
    while (!rc && r == 0) {
        const char *nul = memchr(mk.mv_data, 0, mk.mv_size);
        size_t skulen = nul ? (size_t)(nul - (const char *)mk.mv_data) : 0;
        if (!nul || skulen >= sizeof sku - 1) {
            rc = HUB_EDECODE;
            break;
        }
        memcpy(sku, mk.mv_data, skulen);
        sku[skulen] = 0;
        hub_buf_reset(&view);
        if (!(rc = render(s, txn, sku, skulen, &view)))
            rc = fn(sku, view.data, view.len, opaque);
        /* the next SKU: past every key of the prefix sku \0 */
        sku[skulen] = 1;
        mk.mv_data = sku;
        mk.mv_size = skulen + 1;
        r = mdb_cursor_get(cur, &mk, &d, MDB_SET_RANGE);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    hub_buf_free(&view);
    if (!rc && r && r != MDB_NOTFOUND)
        rc = hub_store_err(r);
    return rc;
}
