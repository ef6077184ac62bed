/*
 * libhub360 - the C reader library (include/hub360.h), on top of the
 * customer-360 store's public read functions (projections/customer360/
 * c360.h). `hub360 serve` answers views through it too, so the library
 * and the API cannot disagree.
 *
 * Lookups by customer id copy the store's view bytes (one LMDB read
 * transaction, no lock: the environment is opened MDB_NOTLS and its
 * handles are read-only after open) into a view object of their own, so
 * threads look customers up in parallel. A view reads its main fields in
 * place when first asked for one (hub_arec, no avro-c values) and renders
 * its JSON, when asked, straight from the bytes (hub_avro_bin_to_json:
 * the same canonical form `hub360 get` prints). View objects are pooled,
 * buffers and all, so a steady stream of lookups allocates nothing.
 *
 * Aliases and identities are resolved by hub_c360_get_json, which renders
 * through the store handle's one Avro value and so runs under the
 * reader's lock (as do each and timelines); the resolved id's bytes are
 * then read like an id's. A customer merged away between the two reads
 * is looked up again. The lock is recursive, so that a callback of
 * hub360_each may look customers up.
 */
#include "hub360.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avrojson.h"
#include "avroread.h"
#include "c360.h"
#include "catalog.h"
#include "errors.h"
#include "json.h"
#include "stock.h"
#include "report.h"

#define POOL_MAX 64       /* idle views kept for reuse */
#define RESOLVE_TRIES 4   /* lookups of an alias that races with merges */
#define CID_LEN 20        /* "cus_" + 16 base32 characters */

_Static_assert(HUB360_EINVAL == HUB_EINVAL && HUB360_ENOMEM == HUB_ENOMEM &&
                   HUB360_EIO == HUB_EIO && HUB360_ENOENT == HUB_ENOENT &&
                   HUB360_ESCHEMA == HUB_ESCHEMA &&
                   HUB360_EDECODE == HUB_EDECODE,
               "hub360.h's codes are the hub's");

/* Field indexes into the Customer360 record and its parts, found once
 * at open. */
typedef struct fields {
    int id, aliases, profile, orders, segments, updated_at;
    int profile_name, sourced_value, orders_count, orders_revenue;
    int amount_currency, amount_amount;
} fields_t;

struct hub360_reader {
    hub_c360_t *c;
    hub_catalog_t *cat;
    const hub_snode_t *root;     /* hub360.Customer360, in cat */
    fields_t f;
    pthread_mutex_t lock;        /* c's rendering and resolving; recursive */
    pthread_mutex_t pool_lock;
    hub360_view_t *idle;         /* the pool, linked through next */
    size_t nidle;
};

typedef struct amount {
    size_t currency;             /* offset in strs */
    int64_t amount;
} amount_t;

/* A view: its bytes, and the main fields copied out NUL-terminated
 * (offsets into strs, which may move as it grows). */
struct hub360_view {
    hub360_reader_t *r;
    hub360_view_t *next;         /* in the pool */
    hub_buf_t bytes;             /* the Customer360 Avro binary */
    hub_buf_t json;              /* the answer, once rendered */
    hub_buf_t strs;              /* the strings below, back to back */
    size_t id, name, from;       /* offsets in strs; name, from: SIZE_MAX */
    int64_t updated_at;
    int32_t orders;
    size_t *aliases, naliases, capaliases;
    size_t *segments, nsegments, capsegments;
    amount_t *revenue;
    size_t nrevenue, caprevenue;
    int fields;                  /* 0: not read yet; 1: read; -1: bad */
    int rendered;
};

#define NONE ((size_t)-1)

/* hub errors the public header does not name come out as EIO. */
static int pub(int rc) {
    switch (rc) {
    case 0:
    case HUB_EINVAL:
    case HUB_ENOMEM:
    case HUB_EIO:
    case HUB_ENOENT:
    case HUB_ESCHEMA:
    case HUB_EDECODE:
        return rc;
    default:
        return HUB360_EIO;
    }
}

const char *hub360_version(void) {
#ifdef HUB360_VERSION
    return HUB360_VERSION;
#else
    return "0.1.0";
#endif
}

const char *hub360_strerror(int err) { return hub_strerror(pub(err)); }

/* ------------------------------------------------------------------ */
/* The pool of views                                                   */
/* ------------------------------------------------------------------ */

static void view_destroy(hub360_view_t *v) {
    if (!v)
        return;
    hub_buf_free(&v->bytes);
    hub_buf_free(&v->json);
    hub_buf_free(&v->strs);
    free(v->aliases);
    free(v->segments);
    free(v->revenue);
    free(v);
}

/* An idle view from the pool, or a new one; NULL when out of memory. */
static hub360_view_t *view_take(hub360_reader_t *r) {
    pthread_mutex_lock(&r->pool_lock);
    hub360_view_t *v = r->idle;
    if (v) {
        r->idle = v->next;
        r->nidle--;
    }
    pthread_mutex_unlock(&r->pool_lock);
    if (!v && (v = calloc(1, sizeof *v)))
        v->r = r;
    return v;
}

void hub360_view_free(hub360_view_t *v) {
    if (!v)
        return;
    hub360_reader_t *r = v->r;
    hub_buf_reset(&v->bytes);
    hub_buf_reset(&v->json);
    hub_buf_reset(&v->strs);
    v->naliases = v->nsegments = v->nrevenue = 0;
    v->fields = v->rendered = 0;
    pthread_mutex_lock(&r->pool_lock);
    int keep = r->nidle < POOL_MAX;
    if (keep) {
        v->next = r->idle;
        r->idle = v;
        r->nidle++;
    }
    pthread_mutex_unlock(&r->pool_lock);
    if (!keep)
        view_destroy(v);
}

/* ------------------------------------------------------------------ */
/* Open, close                                                         */
/* ------------------------------------------------------------------ */

/* The record a field holds: the field's type, or the record branch of
 * an optional one; NULL otherwise. */
static const hub_snode_t *record_of(const hub_snode_t *rec, int i) {
    if (i < 0)
        return NULL;
    const hub_snode_t *t = rec->fields[i].type;
    if (t->type == HUB_S_UNION && t->nbranches == 2)
        t = t->branches[t->branches[0]->type == HUB_S_NULL];
    if (t->type == HUB_S_ARRAY)
        t = t->items;
    return t->type == HUB_S_RECORD ? t : NULL;
}

/* Finds the fields the accessors read (the schema is compiled in, so
 * this fails only if the schema and this file disagree). */
static int find_fields(hub360_reader_t *r) {
    const hub_snode_t *root = r->root, *profile, *orders, *name, *amount;
    fields_t *f = &r->f;
    f->id = hub_snode_field(root, "id");
    f->aliases = hub_snode_field(root, "aliases");
    f->profile = hub_snode_field(root, "profile");
    f->orders = hub_snode_field(root, "orders");
    f->segments = hub_snode_field(root, "segments");
    f->updated_at = hub_snode_field(root, "updated_at");
    if (f->id < 0 || f->aliases < 0 || f->segments < 0 || f->updated_at < 0 ||
        !(profile = record_of(root, f->profile)) ||
        !(orders = record_of(root, f->orders)))
        return HUB_ESCHEMA;
    f->profile_name = hub_snode_field(profile, "name");
    f->orders_count = hub_snode_field(orders, "count");
    f->orders_revenue = hub_snode_field(orders, "revenue");
    if (!(name = record_of(profile, f->profile_name)) ||
        !(amount = record_of(orders, f->orders_revenue)) ||
        f->orders_count < 0)
        return HUB_ESCHEMA;
    f->sourced_value = hub_snode_field(name, "value");
    f->amount_currency = hub_snode_field(amount, "currency");
    f->amount_amount = hub_snode_field(amount, "amount");
    return f->sourced_value < 0 || f->amount_currency < 0 ||
                   f->amount_amount < 0
               ? HUB_ESCHEMA
               : 0;
}

int hub360_open(const char *path, hub360_reader_t **out, char *err,
                size_t errlen) {
    if (!path || !out)
        return hub_fail(err, errlen, HUB_EINVAL, "hub360_open: NULL %s",
                        path ? "out" : "path");
    *out = NULL;
    hub360_reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    /* recursive: each's callback may look customers up */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&r->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    pthread_mutex_init(&r->pool_lock, NULL);
    int rc = hub_c360_open_reader(path, &r->c, err, errlen);
    if (!rc)
        rc = hub_catalog_open(NULL, &r->cat, err, errlen);
    const hub_schema_t *schema = NULL;
    if (!rc && !(schema = hub_catalog_latest(r->cat, HUB_SCHEMA_CUSTOMER360,
                                             NULL)))
        rc = hub_fail(err, errlen, HUB_ESCHEMA, "no %s schema",
                      HUB_SCHEMA_CUSTOMER360);
    if (!rc)
        r->root = hub_schema_root(schema);
    if (!rc && (rc = find_fields(r)))
        hub_fail(err, errlen, rc, "the %s schema lacks a field this "
                                  "library reads", HUB_SCHEMA_CUSTOMER360);
    if (rc) {
        hub360_close(r);
        return pub(rc);
    }
    *out = r;
    return 0;
}

void hub360_close(hub360_reader_t *r) {
    if (!r)
        return;
    while (r->idle) {
        hub360_view_t *v = r->idle;
        r->idle = v->next;
        view_destroy(v);
    }
    hub_c360_close(r->c);
    hub_catalog_free(r->cat);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->pool_lock);
    free(r);
}

/* ------------------------------------------------------------------ */
/* Lookups                                                             */
/* ------------------------------------------------------------------ */

static int is_customer_id(const char *ref) {
    return strncmp(ref, "cus_", 4) == 0 && strlen(ref) == CID_LEN;
}

/* The view bytes of ref into v->bytes; v->from set when ref was not the
 * customer's own id. */
static int fetch(hub360_reader_t *r, const char *ref, hub360_view_t *v) {
    v->from = NONE;
    int rc = is_customer_id(ref) ? hub_c360_view_bytes(r->c, ref, &v->bytes)
                                 : HUB_ENOENT;
    if (rc != HUB_ENOENT)
        return rc;
    /* an alias, an identity or nothing: resolve it (the JSON it renders
     * into v->json is dropped; the view is read from its bytes like an
     * id's, so that every path decodes the same way) */
    char cid[64];
    for (int i = 0; i < RESOLVE_TRIES && rc == HUB_ENOENT; i++) {
        hub_buf_reset(&v->json);
        pthread_mutex_lock(&r->lock);
        rc = hub_c360_get_json(r->c, ref, &v->json, cid, sizeof cid);
        pthread_mutex_unlock(&r->lock);
        if (rc)
            break; /* no such customer, or a failure */
        hub_buf_reset(&v->bytes);
        rc = hub_c360_view_bytes(r->c, cid, &v->bytes);
        /* HUB_ENOENT here: merged away since; resolve again */
    }
    hub_buf_reset(&v->json);
    if (rc == 0 && strcmp(cid, ref) != 0) {
        v->from = v->strs.len;
        if (hub_buf_append(&v->strs, ref, strlen(ref) + 1))
            return HUB_ENOMEM;
    }
    return rc;
}

/* s[0..len) copied into strs with a NUL; its offset into *off. */
static int keep_str(hub360_view_t *v, const char *s, size_t len,
                    size_t *off) {
    *off = v->strs.len;
    if (hub_buf_reserve(&v->strs, len + 1))
        return HUB_ENOMEM;
    hub_buf_append(&v->strs, s, len);
    return hub_buf_append(&v->strs, "", 1);
}

/* The strings of an array field into offs (grown as needed). */
static int keep_strs(hub360_view_t *v, const hub_arec_t *rec, int field,
                     size_t **offs, size_t *n, size_t *cap) {
    hub_aiter_t it;
    size_t at, len;
    const char *s;
    if (hub_arec_array(rec, field, &it) < 0)
        return HUB_EDECODE;
    int more;
    while ((more = hub_aiter_next(&it, &at)) == 1) {
        if (hub_aiter_str(&it, at, &s, &len) < 0)
            return HUB_EDECODE;
        if (hub_array_grow(offs, cap, *n, sizeof **offs, 4) ||
            keep_str(v, s, len, &(*offs)[*n]))
            return HUB_ENOMEM;
        (*n)++;
    }
    return more < 0 ? HUB_EDECODE : 0;
}

/* Reads the main fields out of the view's bytes, in place. */
static int read_fields(hub360_view_t *v) {
    const fields_t *f = &v->r->f;
    hub_arec_t root, profile, orders, name, item;
    const char *s;
    size_t len, at;
    int64_t n = 0;
    if (hub_arec_open(&root, v->r->root, v->bytes.data, v->bytes.len, 0) ||
        hub_arec_str(&root, f->id, &s, &len) != 1 ||
        keep_str(v, s, len, &v->id) ||
        hub_arec_long(&root, f->updated_at, &v->updated_at) != 1 ||
        hub_arec_rec(&root, f->profile, &profile) != 1 ||
        hub_arec_rec(&root, f->orders, &orders) != 1 ||
        hub_arec_long(&orders, f->orders_count, &n) != 1)
        return HUB_EDECODE;
    v->orders = (int32_t)n;
    v->name = NONE;
    int has = hub_arec_rec(&profile, f->profile_name, &name);
    if (has < 0 ||
        (has && (hub_arec_str(&name, f->sourced_value, &s, &len) != 1 ||
                 keep_str(v, s, len, &v->name))))
        return HUB_EDECODE;
    int rc = keep_strs(v, &root, f->aliases, &v->aliases, &v->naliases,
                       &v->capaliases);
    if (!rc)
        rc = keep_strs(v, &root, f->segments, &v->segments, &v->nsegments,
                       &v->capsegments);
    hub_aiter_t it;
    if (!rc && hub_arec_array(&orders, f->orders_revenue, &it) < 0)
        rc = HUB_EDECODE;
    int more = 0;
    while (!rc && (more = hub_aiter_next(&it, &at)) == 1) {
        if (hub_array_grow(&v->revenue, &v->caprevenue, v->nrevenue,
                           sizeof *v->revenue, 4))
            return HUB_ENOMEM;
        amount_t *a = &v->revenue[v->nrevenue];
        if (hub_arec_open(&item, it.items, it.buf, it.len, at) ||
            hub_arec_str(&item, f->amount_currency, &s, &len) != 1 ||
            hub_arec_long(&item, f->amount_amount, &a->amount) != 1)
            return HUB_EDECODE;
        rc = keep_str(v, s, len, &a->currency);
        v->nrevenue++;
    }
    return rc ? rc : more < 0 ? HUB_EDECODE : 0;
}

int hub360_get(hub360_reader_t *r, const char *ref, hub360_view_t **out) {
    if (!out)
        return HUB360_EINVAL;
    *out = NULL;
    if (!r || !ref)
        return HUB360_EINVAL;
    hub360_view_t *v = view_take(r);
    if (!v)
        return HUB360_ENOMEM;
    int rc = fetch(r, ref, v);
    if (rc) {
        hub360_view_free(v);
        return pub(rc);
    }
    *out = v;
    return 0;
}

int hub360_view_json(hub360_view_t *v, const char **json, size_t *len) {
    if (!v || !json)
        return HUB360_EINVAL;
    if (!v->rendered) {
        size_t pos = 0;
        int rc = 0;
        hub_buf_reset(&v->json);
        if (v->from != NONE) {
            /* rendered after the answer's first member, then joined */
            int first = 1;
            rc = hub_buf_putc(&v->json, '{');
            if (!rc)
                rc = hub_json_put_key(&v->json, "resolved_from", &first);
            if (!rc)
                rc = hub_json_put_cstr(&v->json, v->strs.data + v->from);
        }
        size_t start = v->json.len;
        if (!rc)
            rc = hub_avro_bin_to_json(v->r->root,
                                      (const uint8_t *)v->bytes.data,
                                      v->bytes.len, &pos, &v->json);
        if (!rc && v->from != NONE)
            v->json.data[start] = ','; /* its '{' */
        if (rc) {
            hub_buf_reset(&v->json);
            return pub(rc);
        }
        v->rendered = 1;
    }
    *json = v->json.data;
    if (len)
        *len = v->json.len;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Accessors                                                           */
/* ------------------------------------------------------------------ */

/* The view with its main fields read (on the first accessor call: the
 * API and JSON readers never pay for them), or NULL when they cannot be
 * read. Writes to the view behind its const: a view belongs to one
 * thread at a time. */
static const hub360_view_t *with_fields(const hub360_view_t *cv) {
    if (!cv)
        return NULL;
    if (!cv->fields) {
        hub360_view_t *v = (hub360_view_t *)cv;
        size_t from_end = v->strs.len; /* strs holds the ref before */
        v->fields = read_fields(v) ? -1 : 1;
        if (v->fields < 0)
            v->strs.len = from_end;
    }
    return cv->fields > 0 ? cv : NULL;
}

const char *hub360_view_id(const hub360_view_t *v) {
    return (v = with_fields(v)) ? v->strs.data + v->id : NULL;
}

const char *hub360_view_resolved_from(const hub360_view_t *v) {
    return v && v->from != NONE ? v->strs.data + v->from : NULL;
}

const char *hub360_view_name(const hub360_view_t *v) {
    return (v = with_fields(v)) && v->name != NONE ? v->strs.data + v->name : NULL;
}

int64_t hub360_view_updated_at(const hub360_view_t *v) {
    return (v = with_fields(v)) ? v->updated_at : 0;
}

size_t hub360_view_alias_count(const hub360_view_t *v) {
    return (v = with_fields(v)) ? v->naliases : 0;
}

const char *hub360_view_alias(const hub360_view_t *v, size_t i) {
    return (v = with_fields(v)) && i < v->naliases ? v->strs.data + v->aliases[i] : NULL;
}

size_t hub360_view_segment_count(const hub360_view_t *v) {
    return (v = with_fields(v)) ? v->nsegments : 0;
}

const char *hub360_view_segment(const hub360_view_t *v, size_t i) {
    return (v = with_fields(v)) && i < v->nsegments ? v->strs.data + v->segments[i] : NULL;
}

int32_t hub360_view_orders(const hub360_view_t *v) {
    return (v = with_fields(v)) ? v->orders : 0;
}

size_t hub360_view_revenue_count(const hub360_view_t *v) {
    return (v = with_fields(v)) ? v->nrevenue : 0;
}

int hub360_view_revenue(const hub360_view_t *v, size_t i,
                        const char **currency, int64_t *amount) {
    if (!(v = with_fields(v)))
        return HUB360_EDECODE;
    if (i >= v->nrevenue)
        return HUB360_ENOENT;
    if (currency)
        *currency = v->strs.data + v->revenue[i].currency;
    if (amount)
        *amount = v->revenue[i].amount;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Many customers                                                      */
/* ------------------------------------------------------------------ */

int hub360_each(hub360_reader_t *r,
                int (*fn)(const char *id, const char *json, size_t len,
                          void *opaque),
                void *opaque) {
    if (!r || !fn)
        return HUB360_EINVAL;
    pthread_mutex_lock(&r->lock);
    int rc = hub_c360_each(r->c, fn, opaque);
    pthread_mutex_unlock(&r->lock);
    return rc > 0 ? rc : pub(rc);
}

typedef struct change_ctx {
    int (*fn)(const hub360_change_t *change, void *opaque);
    void *opaque;
    int stopped; /* fn's nonzero answer */
} change_ctx;

static int change_one(uint64_t seq, const char *id, const void *view,
                      size_t len, void *opaque) {
    (void)len;
    change_ctx *cx = opaque;
    hub360_change_t ch = {.seq = seq, .id = id, .deleted = view == NULL};
    cx->stopped = cx->fn(&ch, cx->opaque);
    return cx->stopped ? 1 : 0;
}

int hub360_changes(hub360_reader_t *r, uint64_t since, size_t limit,
                   int (*fn)(const hub360_change_t *change, void *opaque),
                   void *opaque) {
    if (!r || !fn)
        return HUB360_EINVAL;
    change_ctx cx = {fn, opaque, 0};
    /* no lock: the feed is LMDB reads only, nothing of c changes */
    int rc = hub_c360_changes(r->c, since, limit, change_one, &cx);
    return cx.stopped ? cx.stopped : pub(rc);
}

int hub360_store_info(hub360_reader_t *r, hub360_store_info_t *out) {
    if (!r || !out)
        return HUB360_EINVAL;
    hub_c360_store_info_t in;
    int rc = hub_c360_store_info(r->c, &in); /* LMDB calls only: no lock */
    if (rc)
        return pub(rc);
    *out = (hub360_store_info_t){in.map_bytes, in.used_bytes, in.readers,
                                 in.max_readers};
    return 0;
}

int64_t hub360_offset(hub360_reader_t *r, const char *topic,
                      int32_t partition) {
    if (!r || !topic)
        return -1;
    return hub_c360_offset(r->c, topic, partition); /* LMDB reads only */
}

/* Gives doc's bytes to the caller (*out, *len) when rc is 0; frees them
 * otherwise. Returns rc as the public header names it. */
static int hand_over(int rc, hub_buf_t *doc, char **out, size_t *len) {
    if (!rc && !doc->data)
        rc = HUB_ENOMEM;
    if (rc) {
        hub_buf_free(doc);
        return pub(rc);
    }
    size_t n;
    *out = hub_buf_steal(doc, &n);
    if (len)
        *len = n;
    return 0;
}

int hub360_timeline(hub360_reader_t *r, const char *ref, const char *before,
                    size_t limit, char **json, size_t *len) {
    if (!json)
        return HUB360_EINVAL;
    *json = NULL;
    if (!r || !ref)
        return HUB360_EINVAL;
    hub_buf_t items = HUB_BUF_INIT, doc = HUB_BUF_INIT;
    char next[HUB_C360_CURSOR_LEN] = "", cid[64] = "";
    pthread_mutex_lock(&r->lock);
    int rc = hub_c360_timeline_json(r->c, ref, before, limit, &items, next,
                                    cid, sizeof cid);
    pthread_mutex_unlock(&r->lock);
    if (!rc)
        rc = hub_json_timeline_doc(&doc, cid, items.data ? items.data : "[]",
                                   items.data ? items.len : 2, next);
    hub_buf_free(&items);
    return hand_over(rc, &doc, json, len);
}

int hub360_report_daily(hub360_reader_t *r, const char *from, const char *to,
                        int business, int csv, char **out, size_t *len) {
    if (!out)
        return HUB360_EINVAL;
    *out = NULL;
    int32_t dfrom, dto;
    if (!r || hub_report_range(from, to, "from", "to", &dfrom, &dto, NULL, 0))
        return HUB360_EINVAL;
    hub_buf_t doc = HUB_BUF_INIT;
    /* LMDB reads only, in a transaction of its own: no lock */
    int rc = hub_report_daily(hub_c360_report(r->c),
                              business ? HUB_REPORT_BUSINESS : HUB_REPORT_UTC,
                              dfrom, dto,
                              csv ? HUB_REPORT_CSV : HUB_REPORT_JSON, &doc);
    return hand_over(rc, &doc, out, len);
}

/* ------------------------------------------------------------------ */
/* Products (the stock projection)                                     */
/* ------------------------------------------------------------------ */

int hub360_product(hub360_reader_t *r, const char *sku, char **json,
                   size_t *len) {
    if (!json)
        return HUB360_EINVAL;
    *json = NULL;
    if (!r || !sku)
        return HUB360_EINVAL;
    hub_buf_t b = HUB_BUF_INIT;
    /* LMDB reads in a transaction of its own: no lock */
    int rc = hub_stock_product_json(hub_c360_stock(r->c), sku, &b);
    return hand_over(rc, &b, json, len);
}

int hub360_products_low(hub360_reader_t *r, int64_t below,
                        const char *cursor, size_t limit, char **json,
                        size_t *len) {
    if (!json)
        return HUB360_EINVAL;
    *json = NULL;
    if (!r)
        return HUB360_EINVAL;
    hub_buf_t b = HUB_BUF_INIT;
    int rc = hub_stock_low_json(hub_c360_stock(r->c), below, cursor, limit,
                                &b);
    return hand_over(rc, &b, json, len);
}
