/*
 * hub360 - what the stock projection's files share: its tables, the
 * stored form of a stock level, and a bounded reader of stored bytes.
 * Not a public header.
 *
 * stock.c       applying events and committing a batch
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
    int have_tables;        /* a reader of an older store has none */
    MDB_txn *txn;           /* the batch's, borrowed */
    hub_hmap_t *levels;     /* sku \0 warehouse -> wlevel* (the batch's) */
    hub_hmap_t *skus;       /* SKUs whose totals are recomputed */
    hub_arena_t arena;      /* one event's documents */
    hub_buf_t key, val, list;
};

#define STOCK_LEVEL_VERSION 1
#define STOCK_OVERSOLD_LIST 100 /* orders listed per SKU and warehouse */
#define STOCK_BIAS ((uint64_t)1 << 63)

enum {
    L_TRACKED = 1, /* some erp.stock.adjusted named it */
    L_BASE = 2,    /* an absolute on_hand is known */
    L_LAST = 4,    /* last movement set */
};
enum { /* what the last movement said */
    M_DELTA = 1, M_ON_HAND = 2, M_REASON = 4, M_REFERENCE = 8,
};

/* A stock level, as stored; strings and the oversold list point into
 * the bytes it was read from, or are owned by the writer's copy. */
typedef struct stock_level {
    uint8_t flags;
    hub_stamp_t base_st;
    int64_t base;      /* on hand as of base_st */
    int64_t moves;     /* delta-only adjustments later than base_st */
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

/* Decodes a stored level (pointers into p); HUB_EDECODE. */
int stock_level_decode(const void *p, size_t len, stock_level *out);

static inline int64_t stock_on_hand(const stock_level *l) {
    return l->base + l->moves;
}

#endif
