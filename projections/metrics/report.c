/*
 * hub360 - the reporting projection's fold: an event, or a customer that
 * changed, becomes deltas of daily figures.
 *
 * Three kinds of figure:
 *  - per event: an event counts on the day of its occurred_at (messages,
 *    mentions, feedback, follows, invoices, payments, returns). The
 *    dedupe table lets an event through once, so a sum over events is a
 *    function of the set.
 *  - per entity: leads, opportunities, orders and tickets keep a small
 *    state (minimums, maximums and last-writer-wins registers on
 *    (occurred_at, event_id)) in report_entities. Each event recomputes
 *    the entity's contribution (which figures, on which day) from the old
 *    and the new state and moves the difference: an opportunity upserted
 *    ten times counts once, on the day it first reached its final status.
 *  - per customer: new and merged customers, from the members of each
 *    customer whose view the batch recomputes (report_customers keeps
 *    what each customer id added, to take it back when it changes or
 *    goes).
 * The sums of a batch gather in memory and are written at commit, in key
 * order; a figure that comes back to 0 is deleted, so the table too is a
 * function of the set of events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "hash.h"
#include "log.h"
#include "report_internal.h"
#include "sort.h"
#include "view.h"

#define ENT_KEY 16 /* report_entities keys: SHA-256 of the entity key, cut */

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

static int record_zone(hub_report_t *r, const char *zone, char *err,
                       size_t errlen) {
    MDB_txn *txn;
    int rc = mdb_txn_begin(hub_store_env(r->store), NULL, 0, &txn);
    if (rc)
        return hub_fail(err, errlen, hub_store_err(rc), "%s",
                        mdb_strerror(rc));
    MDB_val k = hub_report_mval("time_zone", 9), d;
    if (mdb_get(txn, r->dbi[T_RMETA], &k, &d) == 0) {
        if (d.mv_size == strlen(zone) && memcmp(d.mv_data, zone, d.mv_size) == 0) {
            mdb_txn_abort(txn);
            return 0;
        }
        MDB_stat st;
        if (mdb_stat(txn, r->dbi[T_DAYS], &st) == 0 && st.ms_entries)
            hub_log_warn("project",
                         "the store's business days were counted in %.*s; "
                         "reporting.time_zone is now %s: days from now on "
                         "count in %s, the earlier ones stay as they were "
                         "until `hub360 rebuild`",
                         (int)d.mv_size, (const char *)d.mv_data, zone, zone);
    }
    d = hub_report_mval(zone, strlen(zone));
    rc = mdb_put(txn, r->dbi[T_RMETA], &k, &d, 0);
    rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
    return rc ? hub_fail(err, errlen, hub_store_err(rc), "%s", mdb_strerror(rc))
              : 0;
}

static void stored_zone(hub_report_t *r) {
    MDB_txn *txn;
    snprintf(r->tz_name, sizeof r->tz_name, "UTC");
    if (mdb_txn_begin(hub_store_env(r->store), NULL, MDB_RDONLY, &txn))
        return;
    MDB_val k = hub_report_mval("time_zone", 9), d;
    if (mdb_get(txn, r->dbi[T_RMETA], &k, &d) == 0 &&
        d.mv_size < sizeof r->tz_name)
        snprintf(r->tz_name, sizeof r->tz_name, "%.*s", (int)d.mv_size,
                 (const char *)d.mv_data);
    mdb_txn_abort(txn);
}

int hub_report_open(hub_store_t *store, size_t first, const char *time_zone,
                    hub_report_t **out, char *err, size_t errlen) {
    *out = NULL;
    hub_report_t *r = calloc(1, sizeof *r);
    if (!r)
        return HUB_ENOMEM;
    r->store = store;
    for (size_t i = 0; i < HUB_REPORT_TABLES; i++)
        r->dbi[i] = hub_store_dbi(store, first + i);
    int rc = 0;
    if (time_zone) {
        snprintf(r->tz_name, sizeof r->tz_name, "%s", time_zone);
        if (!(r->delta = hub_hmap_new()) || !(r->ents = hub_hmap_new()) ||
            !(r->custs = hub_hmap_new()))
            rc = HUB_ENOMEM;
        if (!rc)
            rc = hub_tz_load(time_zone, &r->tz, err, errlen);
        if (!rc)
            rc = record_zone(r, time_zone, err, errlen);
    } else {
        stored_zone(r);
    }
    if (rc) {
        hub_report_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

void hub_report_close(hub_report_t *r) {
    if (!r)
        return;
    hub_tz_free(r->tz);
    hub_hmap_free(r->delta, NULL);
    hub_hmap_free(r->ents, free);
    hub_hmap_free(r->custs, free);
    free(r);
}

const char *hub_report_time_zone(const hub_report_t *r) { return r->tz_name; }

/* ------------------------------------------------------------------ */
/* Deltas                                                              */
/* ------------------------------------------------------------------ */

size_t hub_report_day_key(uint8_t *out, int zone, int32_t day, int figure,
                          const char *cur, size_t curlen) {
    if (curlen > 16)
        curlen = 16; /* currencies are ISO codes; a longer one is cut */
    out[0] = (uint8_t)zone;
    uint32_t d = (uint32_t)day ^ 0x80000000u;
    out[1] = (uint8_t)(d >> 24);
    out[2] = (uint8_t)(d >> 16);
    out[3] = (uint8_t)(d >> 8);
    out[4] = (uint8_t)d;
    out[5] = (uint8_t)figure;
    if (curlen)
        memcpy(out + 6, cur, curlen);
    return 6 + curlen;
}

/* The batch's sums live in the map's value slots. */
_Static_assert(sizeof(intptr_t) == sizeof(int64_t), "64-bit sums in a slot");

static int add_day(hub_report_t *r, int zone, int32_t day, int figure,
                   const char *cur, int64_t v) {
    uint8_t k[32];
    size_t kl = hub_report_day_key(k, zone, day, figure, cur,
                                   cur ? strlen(cur) : 0);
    void **slot = hub_hmap_put(r->delta, k, kl, NULL);
    if (!slot)
        return HUB_ENOMEM;
    *slot = (void *)(intptr_t)((intptr_t)*slot + (intptr_t)v);
    return 0;
}

/* v to figure (currency cur, NULL: none) on the day of `at`, in UTC and
 * in the business zone. */
static int add(hub_report_t *r, int figure, const char *cur, int64_t at,
               int64_t v) {
    int rc = add_day(r, HUB_REPORT_UTC, hub_tz_day(NULL, at), figure, cur, v);
    return rc ? rc
              : add_day(r, HUB_REPORT_BUSINESS, hub_tz_day(r->tz, at), figure,
                        cur, v);
}

/* A cached record: its length, then its bytes. */
typedef struct blob {
    size_t len;
    uint8_t data[];
} blob;

/* A batch's write to one key: its slot in the batch's map, a day's sum
 * (as a number) or a cached record (a blob). */
typedef struct pending {
    const char *key;
    size_t len;
    const void *val;
} pending;

static int cmp_pending(const void *a, const void *b) {
    const pending *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The entries of a batch's map in key order; *n of them, those whose
 * slot is not NULL. */
static pending *pending_sorted(const hub_hmap_t *m, size_t *n) {
    pending *p = malloc((hub_hmap_count(m) ? hub_hmap_count(m) : 1) *
                        sizeof *p);
    if (!p)
        return NULL;
    size_t i = 0, pos = 0, klen;
    const char *k;
    void *v;
    while (hub_hmap_next(m, &pos, &k, &klen, &v))
        if (v)
            p[i++] = (pending){k, klen, v};
    hub_sort(p, i, sizeof *p, cmp_pending);
    *n = i;
    return p;
}

/* The record under key (klen bytes) in the batch's cache, else what was
 * looked up ahead (ahead NULL or not found: nothing), else in the table:
 * 1 found (*data, *len), 0 none, or a hub error. */
static int cached_get(hub_report_t *r, MDB_txn *txn, hub_hmap_t *cache,
                      int table, const void *key, size_t klen,
                      const hub_report_ahead_t *ahead, const void **data,
                      size_t *len) {
    void **slot = hub_hmap_get(cache, key, klen);
    if (slot) {
        const blob *b = *slot;
        *data = b->data;
        *len = b->len;
        return b->len > 0;
    }
    if (ahead && ahead->found) {
        *data = ahead->state;
        *len = ahead->len;
        return ahead->found == 2;
    }
    MDB_val k = hub_report_mval(key, klen), d;
    int g = mdb_get(txn, r->dbi[table], &k, &d);
    if (g == MDB_NOTFOUND)
        return 0;
    if (g)
        return hub_store_err(g);
    *data = d.mv_data;
    *len = d.mv_size;
    return 1;
}

/* Puts (len 0: deletes) the record in the batch's cache. */
static int cached_put(hub_hmap_t *cache, const void *key, size_t klen,
                      const void *data, size_t len) {
    void **slot = hub_hmap_put(cache, key, klen, NULL);
    blob *b = slot ? realloc(*slot, sizeof *b + len) : NULL;
    if (!b)
        return HUB_ENOMEM;
    *slot = b;
    b->len = len;
    if (len)
        memcpy(b->data, data, len);
    return 0;
}

/* Writes a cache to its table in key order, with one cursor: the next
 * key is most often on the leaf the cursor is on. */
static int write_cache(hub_report_t *r, MDB_txn *txn, hub_hmap_t *cache,
                       int table) {
    size_t n;
    pending *p = pending_sorted(cache, &n);
    MDB_cursor *cur = NULL;
    int g = p ? mdb_cursor_open(txn, r->dbi[table], &cur) : ENOMEM;
    for (size_t i = 0; i < n && !g; i++) {
        const blob *b = p[i].val;
        MDB_val k = hub_report_mval(p[i].key, p[i].len), at = k,
                d = hub_report_mval(b->data, b->len), was;
        if (b->len)
            g = mdb_cursor_put(cur, &k, &d, 0);
        else if ((g = mdb_cursor_get(cur, &at, &was, MDB_SET)) == 0)
            g = mdb_cursor_del(cur, 0);
        if (g == MDB_NOTFOUND)
            g = 0;
    }
    if (cur)
        mdb_cursor_close(cur);
    free(p);
    hub_hmap_clear(cache, free);
    return hub_store_err(g);
}

int hub_report_flush(hub_report_t *r, MDB_txn *txn) {
    int rc = write_cache(r, txn, r->ents, T_ENTS);
    if (!rc)
        rc = write_cache(r, txn, r->custs, T_CUST);
    if (rc || !hub_hmap_count(r->delta))
        return rc;
    size_t n;
    pending *p = pending_sorted(r->delta, &n);
    MDB_cursor *cur = NULL;
    int g = p ? mdb_cursor_open(txn, r->dbi[T_DAYS], &cur) : ENOMEM;
    for (size_t i = 0; i < n && !g; i++) {
        MDB_val mk = hub_report_mval(p[i].key, p[i].len), at = mk, d;
        int64_t now = (int64_t)(intptr_t)p[i].val;
        int found = (g = mdb_cursor_get(cur, &at, &d, MDB_SET_KEY)) == 0;
        if (g && g != MDB_NOTFOUND)
            break;
        if (found && d.mv_size == 8)
            now += (int64_t)hub_rd_be64(d.mv_data);
        if (now == 0) {
            g = found ? mdb_cursor_del(cur, 0) : 0;
        } else {
            uint8_t b[8];
            hub_be64(b, (uint64_t)now);
            d = hub_report_mval(b, 8);
            g = mdb_cursor_put(cur, &mk, &d, 0);
        }
    }
    if (cur)
        mdb_cursor_close(cur);
    free(p);
    hub_hmap_clear(r->delta, NULL);
    return hub_store_err(g);
}

void hub_report_abort(hub_report_t *r) {
    if (!r || !r->delta)
        return;
    hub_hmap_clear(r->delta, NULL);
    hub_hmap_clear(r->ents, free);
    hub_hmap_clear(r->custs, free);
}

/* ------------------------------------------------------------------ */
/* Entities with a state                                               */
/* ------------------------------------------------------------------ */

enum { K_NONE, K_LEAD, K_OPPORTUNITY, K_ORDER, K_TICKET };
enum { OPP_OPEN, OPP_WON, OPP_LOST }; /* hub360.crm.OpportunityStatus */

/* Has-bits of estate. */
enum {
    H_A = 1,      /* lead created, order placed, ticket opened */
    H_B = 2,      /* lead converted, order cancelled, ticket resolved */
    H_AMOUNT = 4, /* order total, opportunity amount */
    H_STATUS = 8, /* opportunity status */
    H_WON = 16,
    H_LOST = 32,
    H_REFUND = 64, /* the cancellation's refund */
};

/*
 * What the report remembers of an entity (fixed layout, zeroed padding:
 * it is compared bytewise). a and b are minimums (b: the ticket's
 * resolution is a maximum); amount and status are last-writer-wins
 * registers; won/lost the first time the opportunity had that status;
 * refund comes with the earliest cancellation (b).
 */
typedef struct estate {
    uint8_t kind, has, status, pad[5];
    hub_stamp_t a, b, amount_st, status_st;
    int64_t won_at, lost_at;
    int64_t amount, refund;
    char cur[16], refund_cur[16];
} estate;

static void set_min(estate *s, int bit, hub_stamp_t *slot,
                    const hub_stamp_t *st) {
    if (!(s->has & bit) || hub_stamp_cmp(st, slot) < 0) {
        *slot = *st;
        s->has |= (uint8_t)bit;
    }
}

/* A currency code into a register; none is ISO 4217's XXX ("no
 * currency"), so that an amount without one still has a column entry. */
static void copy_cur(char out[16], const char *s, size_t len) {
    memset(out, 0, 16);
    if (!len)
        s = "XXX", len = 3;
    memcpy(out, s, len < 15 ? len : 15);
}

/* What an entity in state s adds to the figures: sign +1 or -1. */
static int contribute(hub_report_t *r, const estate *s, int sign) {
    int rc = 0;
    switch (s->kind) {
    case K_LEAD:
        if (s->has & H_A)
            rc = add(r, F_LEADS_CREATED, NULL, s->a.at, sign);
        if (!rc && (s->has & H_B))
            rc = add(r, F_LEADS_CONVERTED, NULL, s->b.at, sign);
        break;
    case K_OPPORTUNITY: {
        if (!(s->has & H_STATUS) || s->status == OPP_OPEN)
            break;
        int won = s->status == OPP_WON;
        if (!(s->has & (won ? H_WON : H_LOST)))
            break;
        int64_t at = won ? s->won_at : s->lost_at;
        rc = add(r, won ? F_OPP_WON : F_OPP_LOST, NULL, at, sign);
        if (!rc && (s->has & H_AMOUNT))
            rc = add(r, won ? F_OPP_WON_AMOUNT : F_OPP_LOST_AMOUNT, s->cur, at,
                     sign * s->amount);
        break;
    }
    case K_ORDER:
        if (s->has & H_A) {
            rc = add(r, F_ORDERS, NULL, s->a.at, sign);
            if (!rc && (s->has & H_AMOUNT))
                rc = add(r, F_REVENUE, s->cur, s->a.at, sign * s->amount);
        }
        if (!rc && (s->has & H_B)) {
            rc = add(r, F_ORDERS_CANCELLED, NULL, s->b.at, sign);
            if (!rc && (s->has & H_REFUND))
                rc = add(r, F_REFUNDED, s->refund_cur, s->b.at,
                         sign * s->refund);
        }
        break;
    case K_TICKET:
        if (s->has & H_A)
            rc = add(r, F_TICKETS_OPENED, NULL, s->a.at, sign);
        if (!rc && (s->has & H_B)) {
            rc = add(r, F_TICKETS_RESOLVED, NULL, s->b.at, sign);
            if (!rc && (s->has & H_A) && s->b.at >= s->a.at &&
                !(rc = add(r, F_RESOLUTION_N, NULL, s->b.at, sign)))
                rc = add(r, F_RESOLUTION_SUM, NULL, s->b.at,
                         sign * (s->b.at - s->a.at));
        }
        break;
    }
    return rc;
}

/* A payload field by name: the getters' answer (1 set, 0 null, -1 none). */
static int p_long(const hub_arec_t *p, const char *name, int64_t *v) {
    int i = hub_snode_field(p->node, name);
    return i < 0 ? -1 : hub_arec_long(p, i, v);
}

static int p_str(const hub_arec_t *p, const char *name, const char **s,
                 size_t *len) {
    int i = hub_snode_field(p->node, name);
    return i < 0 ? -1 : hub_arec_str(p, i, s, len);
}

static int p_double(const hub_arec_t *p, const char *name, double *v) {
    int i = hub_snode_field(p->node, name);
    return i < 0 ? -1 : hub_arec_double(p, i, v);
}

/* The event's amount field and its currency into the register. */
static void amount_reg(estate *s, const hub_arec_t *p, const char *field,
                       const hub_stamp_t *st) {
    int64_t v;
    const char *cur = "";
    size_t cl = 0;
    if (p_long(p, field, &v) != 1)
        return;
    if (p_str(p, "currency", &cur, &cl) != 1)
        cl = 0;
    if ((s->has & H_AMOUNT) && hub_stamp_cmp(st, &s->amount_st) <= 0)
        return;
    s->has |= H_AMOUNT;
    s->amount_st = *st;
    s->amount = v;
    copy_cur(s->cur, cur, cl);
}

/* The new state of an entity of kind after the event. */
static void fold(estate *s, int kind, const char *type,
                 const hub_report_event_t *ev) {
    const hub_arec_t *p = ev->payload;
    const hub_stamp_t *st = &ev->st;
    s->kind = (uint8_t)kind;
    int64_t v;
    if (strcmp(type, "crm.lead.created") == 0) {
        set_min(s, H_A, &s->a, st);
    } else if (strcmp(type, "crm.lead.converted") == 0) {
        set_min(s, H_B, &s->b, st);
    } else if (kind == K_OPPORTUNITY) {
        int i = hub_snode_field(p->node, "status"), status;
        amount_reg(s, p, "amount", st);
        if (i < 0 || hub_arec_enum(p, i, &status) != 1)
            return;
        if (!(s->has & H_STATUS) || hub_stamp_cmp(st, &s->status_st) > 0) {
            s->has |= H_STATUS;
            s->status_st = *st;
            s->status = (uint8_t)status;
        }
        int64_t *first = status == OPP_WON    ? &s->won_at
                         : status == OPP_LOST ? &s->lost_at
                                              : NULL;
        int bit = status == OPP_WON ? H_WON : H_LOST;
        if (first && (!(s->has & bit) || st->at < *first)) {
            *first = st->at;
            s->has |= (uint8_t)bit;
        }
    } else if (strcmp(type, "erp.order.placed") == 0) {
        set_min(s, H_A, &s->a, st);
        amount_reg(s, p, "total", st);
    } else if (strcmp(type, "erp.order.cancelled") == 0) {
        if ((s->has & H_B) && hub_stamp_cmp(st, &s->b) >= 0)
            return;
        s->has |= H_B;
        s->b = *st;
        s->has &= (uint8_t)~H_REFUND;
        const char *cur;
        size_t cl;
        if (p_long(p, "refund_amount", &v) == 1) {
            s->has |= H_REFUND;
            s->refund = v;
            if (p_str(p, "currency", &cur, &cl) != 1)
                cl = 0;
            copy_cur(s->refund_cur, cur, cl);
        }
    } else if (strcmp(type, "crm.ticket.opened") == 0) {
        set_min(s, H_A, &s->a, st);
    } else if (strcmp(type, "crm.ticket.resolved") == 0) {
        if (!(s->has & H_B) || hub_stamp_cmp(st, &s->b) > 0) {
            s->has |= H_B;
            s->b = *st;
        }
        /* the opening time it reports stands in for a missing opened */
        if (p_long(p, "opened_at", &v) == 1) {
            hub_stamp_t o = {v, {0}, 0};
            set_min(s, H_A, &s->a, &o);
        }
    }
}

/* The event type as a string, in out; 0 when too long for any the report
 * counts. */
static int type_of(const char *type, size_t len, char out[64]) {
    if (len >= 64)
        return 0;
    memcpy(out, type, len);
    out[len] = '\0';
    return 1;
}

/* The kind of entity state an event type folds into, or K_NONE. */
static int stateful_kind(const char *type) {
    if (strncmp(type, "crm.lead.", 9) == 0)
        return strcmp(type + 9, "created") == 0 ||
                       strcmp(type + 9, "converted") == 0
                   ? K_LEAD
                   : K_NONE;
    if (strcmp(type, "crm.opportunity.upserted") == 0)
        return K_OPPORTUNITY;
    if (strcmp(type, "erp.order.placed") == 0 ||
        strcmp(type, "erp.order.cancelled") == 0)
        return K_ORDER;
    if (strcmp(type, "crm.ticket.opened") == 0 ||
        strcmp(type, "crm.ticket.resolved") == 0)
        return K_TICKET;
    return K_NONE;
}

static int stateful(hub_report_t *r, MDB_txn *txn, int kind, const char *type,
                    const hub_report_event_t *ev) {
    uint8_t h[32];
    if (ev->ekey_sha)
        memcpy(h, ev->ekey_sha, ENT_KEY);
    else
        hub_sha256(ev->ekey, ev->ekeylen, NULL, 0, h);
    estate old, now;
    memset(&old, 0, sizeof old);
    const void *was = NULL;
    size_t wlen = 0;
    int g = cached_get(r, txn, r->ents, T_ENTS, h, ENT_KEY, ev->ahead, &was,
                       &wlen);
    if (g < 0)
        return g;
    if (g && wlen == sizeof old)
        memcpy(&old, was, sizeof old);
    if (old.kind && old.kind != kind)
        return 0; /* one key, two kinds of entity: the first one holds */
    now = old;
    fold(&now, kind, type, ev);
    if (memcmp(&old, &now, sizeof now) == 0)
        return 0;
    int rc = contribute(r, &old, -1);
    if (!rc)
        rc = contribute(r, &now, 1);
    return rc ? rc : cached_put(r->ents, h, ENT_KEY, &now, sizeof now);
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

static int per_event(hub_report_t *r, const char *type,
                     const hub_report_event_t *ev) {
    const hub_arec_t *p = ev->payload;
    int64_t at = ev->st.at, v;
    const char *cur;
    size_t cl;
    char c[17];
    int rc = 0;
    if (strcmp(type, "erp.order.returned") == 0 ||
        strcmp(type, "erp.invoice.issued") == 0 ||
        strcmp(type, "erp.payment.received") == 0) {
        int ret = type[4] == 'o', inv = type[4] == 'i';
        rc = add(r, ret ? F_RETURNS : inv ? F_INVOICES : F_PAYMENTS, NULL, at,
                 1);
        const char *field = ret ? "refund_amount" : inv ? "total" : "amount";
        if (!rc && p_long(p, field, &v) == 1) {
            if (p_str(p, "currency", &cur, &cl) != 1 || !cl)
                cur = "XXX", cl = 3;
            snprintf(c, sizeof c, "%.*s", (int)(cl < 15 ? cl : 15), cur);
            rc = add(r, ret ? F_REFUNDED : inv ? F_INVOICED : F_PAID, c, at,
                     v);
        }
    } else if (strcmp(type, "crm.feedback.received") == 0) {
        if (p_long(p, "nps", &v) == 1 &&
            !(rc = add(r, F_NPS_N, NULL, at, 1)))
            rc = add(r, F_NPS_SUM, NULL, at, v);
        if (!rc && p_long(p, "csat", &v) == 1 &&
            !(rc = add(r, F_CSAT_N, NULL, at, 1)))
            rc = add(r, F_CSAT_SUM, NULL, at, v);
    } else if (strcmp(type, "scrm.mention.posted") == 0) {
        double s;
        rc = add(r, F_MENTIONS, NULL, at, 1);
        if (!rc && p_double(p, "sentiment", &s) == 1 && s >= -1 && s <= 1 &&
            !(rc = add(r, F_SENTIMENT_N, NULL, at, 1)))
            rc = add(r, F_SENTIMENT_SUM, NULL, at,
                     (int64_t)(s * SENTIMENT_SCALE + (s < 0 ? -0.5 : 0.5)));
    } else if (strcmp(type, "scrm.message.received") == 0) {
        rc = add(r, F_MESSAGES_IN, NULL, at, 1);
    } else if (strcmp(type, "scrm.message.sent") == 0) {
        rc = add(r, F_MESSAGES_OUT, NULL, at, 1);
    } else if (strcmp(type, "scrm.follow.started") == 0) {
        rc = add(r, F_FOLLOWS, NULL, at, 1);
    } else if (strcmp(type, "scrm.follow.stopped") == 0) {
        rc = add(r, F_UNFOLLOWS, NULL, at, 1);
    }
    return rc;
}

/* The record of key in table as rtxn sees it, into out (found 0: the
 * lookup failed), copied into a. */
static void look_ahead(const hub_report_t *r, MDB_txn *rtxn, int table,
                       const void *key, size_t klen, hub_arena_t *a,
                       hub_report_ahead_t *out) {
    MDB_val k = hub_report_mval(key, klen), d;
    int g = mdb_get(rtxn, r->dbi[table], &k, &d);
    if (g == MDB_NOTFOUND) {
        out->found = 1;
    } else if (g == 0 && (out->state = hub_arena_alloc(a, d.mv_size + 1))) {
        memcpy((void *)out->state, d.mv_data, d.mv_size);
        out->len = d.mv_size;
        out->found = 2;
    }
}

void hub_report_look_ahead(const hub_report_t *r, MDB_txn *rtxn,
                           const char *type, size_t typelen,
                           const uint8_t sha[32], hub_arena_t *a,
                           hub_report_ahead_t *out) {
    char t[64];
    out->found = 0;
    if (r && type_of(type, typelen, t) && stateful_kind(t))
        look_ahead(r, rtxn, T_ENTS, sha, ENT_KEY, a, out);
}

int hub_report_event(hub_report_t *r, MDB_txn *txn,
                     const hub_report_event_t *ev) {
    char type[64];
    if (!r || !type_of(ev->type, ev->typelen, type))
        return 0;
    int kind = stateful_kind(type);
    return kind ? stateful(r, txn, kind, type, ev) : per_event(r, type, ev);
}

/* ------------------------------------------------------------------ */
/* Customers                                                           */
/* ------------------------------------------------------------------ */

/* The record of a person among a customer's members (leads, contacts,
 * ERP customers, social profiles): the view's profile comes from them. */
#define PERSON (ROLE_LEAD | ROLE_CONTACT | ROLE_CUSTOMER | ROLE_SOCIAL_PROFILE)

/* One thing a customer adds: figure on (UTC day, business day). */
typedef struct cpart {
    int32_t day_u, day_b;
    uint8_t figure;
} cpart;

static int cmp_cpart(const void *a, const void *b) {
    const cpart *x = a, *y = b;
    if (x->figure != y->figure)
        return x->figure < y->figure ? -1 : 1;
    if (x->day_u != y->day_u)
        return x->day_u < y->day_u ? -1 : 1;
    return (x->day_b > y->day_b) - (x->day_b < y->day_b);
}

/* Applies a packed list of cparts (9 bytes each) with sign. */
static int apply_parts(hub_report_t *r, const uint8_t *p, size_t len,
                       int sign) {
    int rc = 0;
    for (size_t i = 0; i + 9 <= len && !rc; i += 9) {
        cpart c;
        memcpy(&c.day_u, p + i, 4);
        memcpy(&c.day_b, p + i + 4, 4);
        c.figure = p[i + 8];
        rc = add_day(r, HUB_REPORT_UTC, c.day_u, c.figure, NULL, sign);
        if (!rc)
            rc = add_day(r, HUB_REPORT_BUSINESS, c.day_b, c.figure, NULL,
                         sign);
    }
    return rc;
}

static cpart part_of(const hub_report_t *r, int figure, int64_t at) {
    cpart c = {hub_tz_day(NULL, at), hub_tz_day(r->tz, at), (uint8_t)figure};
    return c;
}

int hub_report_customer_parts(const hub_report_t *r,
                              hub_ent_t *const *members, size_t n,
                              hub_buf_t *out) {
    if (!r)
        return 0;
    /* the customer is new on the day of its earliest event; each person
     * record past the earliest one was merged into it on the day of that
     * record's first event */
    const hub_ent_t *first = NULL, *first_person = NULL;
    size_t persons = 0;
    for (size_t i = 0; i < n; i++) {
        const hub_ent_t *e = members[i];
        if (e->roles & ROLE_LINK)
            continue;
        if (!first || hub_stamp_cmp(&e->first, &first->first) < 0)
            first = e;
        if (e->roles & PERSON) {
            persons++;
            if (!first_person ||
                hub_stamp_cmp(&e->first, &first_person->first) < 0)
                first_person = e;
        }
    }
    if (!first)
        return 0;
    cpart few[16]; /* most customers: no malloc per view */
    cpart *parts = persons < 16 ? few : malloc((persons + 1) * sizeof *parts);
    if (!parts)
        return HUB_ENOMEM;
    size_t np = 0;
    parts[np++] = part_of(r, F_CUSTOMERS_NEW, first->first.at);
    for (size_t i = 0; i < n; i++) {
        const hub_ent_t *e = members[i];
        if (!(e->roles & ROLE_LINK) && (e->roles & PERSON) &&
            e != first_person)
            parts[np++] = part_of(r, F_CUSTOMERS_MERGED, e->first.at);
    }
    hub_sort(parts, np, sizeof *parts, cmp_cpart);
    int rc = 0;
    for (size_t i = 0; i < np && !rc; i++) {
        uint8_t one[9];
        memcpy(one, &parts[i].day_u, 4);
        memcpy(one + 4, &parts[i].day_b, 4);
        one[8] = parts[i].figure;
        rc = hub_buf_append(out, one, 9) ? HUB_ENOMEM : 0;
    }
    if (parts != few)
        free(parts);
    return rc;
}

void hub_report_customer_ahead(const hub_report_t *r, MDB_txn *rtxn,
                               const char *cid, hub_arena_t *a,
                               hub_report_ahead_t *out) {
    out->found = 0;
    if (r)
        look_ahead(r, rtxn, T_CUST, cid, HUB_CUSTOMER_ID_LEN, a, out);
}

int hub_report_customer(hub_report_t *r, MDB_txn *txn, const char *cid,
                        const void *parts, size_t len,
                        const hub_report_ahead_t *ahead) {
    if (!r)
        return 0;
    const void *was = NULL;
    size_t wlen = 0;
    int g = cached_get(r, txn, r->custs, T_CUST, cid, HUB_CUSTOMER_ID_LEN,
                       ahead, &was, &wlen);
    if (g < 0)
        return g;
    if (!g)
        wlen = 0;
    if (wlen == len && (!wlen || memcmp(was, parts, wlen) == 0))
        return 0;
    int rc = apply_parts(r, was, wlen, -1);
    if (!rc)
        rc = apply_parts(r, parts, len, 1);
    return rc ? rc : cached_put(r->custs, cid, HUB_CUSTOMER_ID_LEN, parts, len);
}
