/*
 * hub360 - what the stock projection's files share: its tables, the
 * stored form of a stock level, and a bounded reader of stored bytes.
 * Not a public header.
 *
 * stock.c       the stock ledger, the levels, committing a batch
 * stock_doc.c   documents (orders) and what they contribute
 * stock_read.c  the product views and the low-stock list
 */
#ifndef HUB_STOCK_INTERNAL_H
#define HUB_STOCK_INTERNAL_H

#include "arena.h"
#include "hmap.h"
#include "stock.h"

/* The tables (LMDB named databases in the customer-360 store). */
enum {
    S_LEVELS, /* sku \0 warehouse -> the level (below) */
    S_MOVES,  /* sku \0 warehouse \0 be64 at + event id (16) -> be64 delta:
                 delta-only adjustments later than the level's base */
    S_DOCS,   /* document key -> its parts (stock.c) */
    S_RES,    /* sku \0 warehouse \0 be64 placed at + event id -> be64
                 quantity + order reference: open orders' reservations */
    S_SKUS,   /* sku -> be64 biased total available (tracked SKUs) */
    S_LOW,    /* be64 biased total available + sku -> "" */
    S_COUNT,
};

struct hub_stock {
    hub_store_t *store;
    MDB_dbi dbi[S_COUNT];
    int have_tables;    /* a reader of an older store has none */
    MDB_txn *txn;       /* the batch's, borrowed */
    hub_hmap_t *levels; /* sku \0 warehouse -> wlevel* (the batch's) */
    hub_hmap_t *skus;   /* SKUs whose totals are recomputed */
    hub_arena_t arena;  /* one event's documents */
    hub_buf_t key, val, list;
};

#define MAX_KEY 480 /* LMDB keys are at most 511 bytes */
#define MAX_QTY                                                                \
    1000000000000LL              /* a quantity past this is not believed:      \
                                    sums of them stay far from overflow */
#define MAX_PARTS           256  /* parts of one document kept */
#define MAX_LINES           1000 /* lines of one part kept */
#define STOCK_LEVEL_VERSION 2
#define STOCK_OVERSOLD_LIST 100 /* orders listed per SKU and warehouse */
#define STOCK_BIAS          ((uint64_t)1 << 63)

enum {
    L_TRACKED = 1, /* some erp.stock.adjusted named it */
    L_BASE = 2,    /* an absolute on_hand is known */
    L_LAST = 4,    /* last movement set */
};
enum { /* what the last movement said */
       M_DELTA = 1,
       M_ON_HAND = 2,
       M_REASON = 4,
       M_REFERENCE = 8,
};

/* A stock level, as stored; strings and the oversold list point into
 * the bytes it was read from, or are owned by the writer's copy. */
typedef struct stock_level {
    uint8_t flags;
    hub_stamp_t base_st;
    int64_t base;  /* on hand as of base_st */
    int64_t moves; /* delta-only adjustments later than base_st */
    int64_t reserved, po, prod, returned;
    hub_stamp_t last_st;
    uint8_t last_flags;
    int64_t last_delta, last_on_hand;
    const char *reason, *reference; /* NULL: none */
    size_t reason_len, reference_len;
    int64_t short_qty;   /* oversold quantity */
    uint32_t norders;    /* oversold orders, all of them */
    const uint8_t *list; /* nlisted x (u16 len, reference, be64 quantity) */
    size_t list_len;
    uint16_t nlisted;
} stock_level;

/* Bounded reading of stored bytes: every getter fails (returns -1) past
 * the end and leaves *r failed. */
typedef struct stock_rd {
    const uint8_t *p;
    size_t len, pos;
    int bad;
} stock_rd;

int stock_rd_u8(stock_rd *r, uint8_t *v);
int stock_rd_u16(stock_rd *r, uint16_t *v);
int stock_rd_u32(stock_rd *r, uint32_t *v);
int stock_rd_i64(stock_rd *r, int64_t *v);
int stock_rd_bytes(stock_rd *r, size_t n, const uint8_t **p);
int stock_rd_str(stock_rd *r, const char **s, size_t *len);

/* A level being changed by the batch: the stored form, with its strings
 * and oversold list copied (the batch rewrites the pages they were on). */
typedef struct wlevel {
    stock_level l;
    uint8_t *old; /* the stored bytes: what l points into */
    size_t oldlen;
    char *reason, *reference; /* set by this batch */
    int stored;
} wlevel;

/* Decodes a stored level (pointers into p); HUB_EDECODE. */
int stock_level_decode(const void *p, size_t len, stock_level *out);

/* Writing stored bytes (big-endian; strings as u16 length + bytes). */
void stock_put_u16(hub_buf_t *b, size_t v);
void stock_put_u32(hub_buf_t *b, uint32_t v);
void stock_put_i64(hub_buf_t *b, int64_t v);
void stock_put_str(hub_buf_t *b, const char *s, size_t len);
void stock_put_stamp(hub_buf_t *b, const hub_stamp_t *st);
int stock_rd_stamp(stock_rd *r, hub_stamp_t *st);

MDB_val stock_mval(const void *p, size_t n);
int stock_same(const char *a, size_t al, const char *b, size_t bl);
/* A payload's string (long) field by name: 1 set; 0 null, absent or of
 * another type. */
int stock_str_field(const hub_arec_t *p, const char *name, const char **v,
                    size_t *len);
int stock_long_field(const hub_arec_t *p, const char *name, int64_t *v);
/* Whether a SKU or warehouse can be part of a key (no NUL, bounded). */
int stock_key_ok(const char *s, size_t len);
/* key = sku \0 warehouse; its length. */
size_t stock_level_key(uint8_t *k, const char *sku, size_t skulen,
                       const char *wh, size_t whlen);
/* The batch's copy of a level, loaded or new (its SKU's totals are then
 * recomputed at commit); NULL with *rc set on an error. */
wlevel *stock_level_get(hub_stock_t *s, const char *sku, size_t skulen,
                        const char *wh, size_t whlen, int *rc);

/* stock_doc.c: applies a document event (erp.order.*, purchase and
 * production orders): 1 changed, 0 not one or no change, or an error. */
int stock_apply_doc(hub_stock_t *s, const char *type, const hub_arec_t *p,
                    const hub_stamp_t *st, const char *ekey, size_t ekeylen);

static inline int64_t stock_on_hand(const stock_level *l) {
    return l->base + l->moves;
}

#endif
