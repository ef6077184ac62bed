/*
 * hub360 - the product availability projection: per SKU and warehouse,
 * on hand, reserved by open sales orders, available, on order from
 * purchasing and from production, returned, the last stock movement, and
 * the open orders that oversell it.
 *
 * It is folded by `hub360 project` in the customer-360 projection's
 * write transaction (c360.c calls it: open with the store, begin, apply
 * one event, commit), in tables of its own in the same store
 * (projections/README.md, "Product availability"), so it shares the
 * batch's atomic offsets, the dedupe of event ids, crash recovery,
 * `hub360 rebuild` and the store generations. How the events combine, so
 * that the views are a function of the set of events, is in
 * projections/README.md and at the top of stock.c.
 *
 * Not thread-safe for writing (one writer). The read functions each run
 * one read transaction of their own and may be called from any number
 * of threads at once.
 */
#ifndef HUB_STOCK_H
#define HUB_STOCK_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "avroread.h"
#include "buf.h"
#include "entity.h"
#include "store.h"

typedef struct hub_stock hub_stock_t;

/*
 * Opens the projection's tables in an open store (borrowed; it must
 * outlive the handle). writer: creates the tables when missing; a reader
 * of a store written before this projection existed finds none and
 * answers HUB_ENOENT to every lookup. 0, HUB_ENOMEM or HUB_EIO with a
 * message naming the table.
 */
int hub_stock_open(hub_store_t *store, int writer, hub_stock_t **out, char *err,
                   size_t errlen);
/* Closes the handle (NULL is fine); the store stays open. */
void hub_stock_close(hub_stock_t *s);

/* ------------------------------------------------------------------ */
/* Writing, inside the customer-360 batch                              */
/* ------------------------------------------------------------------ */

/* Starts a batch in txn (the batch's write transaction, borrowed). */
void hub_stock_begin(hub_stock_t *s, MDB_txn *txn);

/*
 * Applies the first arrival of one event (the caller has deduplicated
 * it) of type `type` with its payload record, stamp (occurred_at,
 * event_id) and entity key (`system/entity_type/id`).
 * Events that are not about stock (every type but erp.stock.adjusted,
 * erp.order.*, erp.purchase_order.* and erp.production_order.*) change
 * nothing. Returns 1 when the event changed the projection's tables, 0
 * when not, or a hub error (HUB_ENOMEM, HUB_EIO, HUB_EFULL) that must
 * abort the batch.
 */
int hub_stock_apply(hub_stock_t *s, const hub_arec_t *payload,
                    const hub_stamp_t *st, const char *ekey, size_t ekeylen);

/*
 * Writes the batch's changed stock levels, their oversold orders and
 * the per-SKU totals, in the batch's transaction (before it commits).
 * *oversold gets the number of (order, SKU, warehouse) that the batch
 * newly flagged as oversold. 0 or a hub error.
 */
int hub_stock_commit(hub_stock_t *s, uint64_t *oversold);
/* Forgets the batch's state (after a commit, or when it is aborted). */
void hub_stock_abort(hub_stock_t *s);

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

/*
 * Appends the product view of sku as JSON to out (the body of
 * `GET /v1/products/{sku}` and what `hub360 get sku:CODE` prints; the
 * fields are in projections/README.md). HUB_ENOENT when no event named
 * the SKU (or every quantity of it is back to zero and no stock level
 * was ever reported for it).
 */
int hub_stock_product_json(hub_stock_t *s, const char *sku, hub_buf_t *out);

/*
 * The low-stock list: the SKUs with a reported stock level whose total
 * available quantity is below `below`, lowest first (ties by SKU), at
 * most limit of them, as {"products": [views], "next_cursor": string or
 * null} into out. cursor (NULL: from the start) is the next_cursor of
 * the previous page. HUB_EINVAL for a cursor this did not give.
 */
int hub_stock_low_json(hub_stock_t *s, int64_t below, const char *cursor,
                       size_t limit, hub_buf_t *out);

/*
 * Calls fn for every SKU, in SKU order, with its product view (not
 * NUL-terminated, valid during the call), all from one read snapshot.
 * Stops when fn returns nonzero and returns that; else 0 or an error.
 */
int hub_stock_each(hub_stock_t *s,
                   int (*fn)(const char *sku, const char *json, size_t len,
                             void *opaque),
                   void *opaque);

#endif
