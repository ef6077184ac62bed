/*
 * hub360 - the reporting projection: daily counters and sums across the
 * CRM, ERP and SCRM events, by day in UTC and by day in a business time
 * zone (reporting.time_zone), kept in the customer-360 store.
 *
 * It is folded by `hub360 project` in the same LMDB write transaction as
 * the customer views (c360.c calls it for every event seen for the first
 * time, graph_views.c for every customer whose view is recomputed, and
 * commits its sums with the batch), so it shares their guarantees: exact
 * once, whatever the order, crash-safe, rebuilt by `hub360 rebuild`.
 *
 * Every figure is a function of the set of events: an event counts on
 * the day of its occurred_at; figures that need more than one event
 * (an opportunity's outcome, a ticket's resolution time, an order's
 * cancellation) keep the entity's state (first/last-writer registers)
 * in a table of their own and move their contribution when it changes;
 * new and merged customers are derived from the identity graph's
 * components each time one changes. projections/README.md defines each
 * figure.
 */
#ifndef HUB_REPORT_H
#define HUB_REPORT_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "avroread.h"
#include "buf.h"
#include "entity.h"
#include "store.h"

/* The tables, in this order, from the store's table `first` on: */
#define HUB_REPORT_TABLES 4
/* "report_days":      zone ('u' UTC, 'b' business), be32 day + 2^31,
 *                     u8 figure, currency -> be64 value (never 0)
 * "report_entities":  SHA-256 (16 bytes) of an entity key -> its state
 * "report_customers": customer id -> what it adds to new/merged
 * "report_meta":      "time_zone" -> the zone of the business days */

typedef struct hub_report hub_report_t;

/*
 * Binds the report to its tables of an open store. time_zone (a writer:
 * reporting.time_zone) is recorded in the store; a store whose business
 * days were folded in another zone is logged with a hint to rebuild.
 * A reader (time_zone NULL) reads the recorded zone. err names the
 * zone at fault. Close with hub_report_close.
 */
int hub_report_open(hub_store_t *store, size_t first, const char *time_zone,
                    hub_report_t **out, char *err, size_t errlen);
void hub_report_close(hub_report_t *r);

/* ------------------------------------------------------------------ */
/* Writing, inside the projector's batch transaction                   */
/* ------------------------------------------------------------------ */

typedef struct hub_report_event {
    const char *type;          /* "erp.order.placed" (not NUL-terminated) */
    size_t typelen;
    const hub_arec_t *payload; /* the payload record */
    hub_stamp_t st;            /* occurred_at and event id */
    const char *ekey;          /* "system/entity_type/entity_id" */
    size_t ekeylen;
    const uint8_t *ekey_sha;   /* SHA-256 of ekey when known, else NULL */
    const struct hub_report_ahead *ahead; /* or NULL */
} hub_report_event_t;

/* What the report keeps of an event's entity, looked up ahead by
 * hub_report_look_ahead (on any thread, in a read transaction of the
 * store as the batch began: the report writes its tables only at
 * hub_report_flush, so that is what the batch sees until then). */
typedef struct hub_report_ahead {
    int found;         /* 0: not looked up; 1: none; 2: state, len */
    const void *state; /* in the arena given */
    size_t len;
} hub_report_ahead_t;

/* Looks up the state an event of that type folds (sha: the SHA-256 of
 * its entity key) in the read transaction rtxn, copying it into a.
 * out->found 0 when the type keeps none or the lookup failed. */
void hub_report_look_ahead(const hub_report_t *r, MDB_txn *rtxn,
                           const char *type, size_t typelen,
                           const uint8_t sha[32], hub_arena_t *a,
                           hub_report_ahead_t *out);

/* An event seen for the first time. 0 or a hub error that aborts the
 * batch. Events that count for nothing are 0 too. */
int hub_report_event(hub_report_t *r, MDB_txn *txn,
                     const hub_report_event_t *ev);

/* What a customer of these members adds to the figures of new and
 * merged customers, appended to out (nothing when n is 0: a customer
 * that is gone adds nothing). Reads only r's time zone: may run on any
 * thread. 0 or HUB_ENOMEM. */
int hub_report_customer_parts(const hub_report_t *r,
                              hub_ent_t *const *members, size_t n,
                              hub_buf_t *out);

/* What customer cid added until the batch began, looked up the same
 * way as hub_report_look_ahead (any thread, read transaction rtxn,
 * copied into a). */
void hub_report_customer_ahead(const hub_report_t *r, MDB_txn *rtxn,
                               const char *cid, hub_arena_t *a,
                               hub_report_ahead_t *out);

/* Customer cid (an id of HUB_CUSTOMER_ID_LEN) now adds parts (from
 * hub_report_customer_parts; len 0: it is gone: merged away, split off,
 * forgotten). Moves what it adds to new and merged customers. ahead:
 * from hub_report_customer_ahead, or NULL. */
int hub_report_customer(hub_report_t *r, MDB_txn *txn, const char *cid,
                        const void *parts, size_t len,
                        const hub_report_ahead_t *ahead);

/* Writes the batch's sums (at commit, before the transaction commits);
 * hub_report_abort drops them. */
int hub_report_flush(hub_report_t *r, MDB_txn *txn);
void hub_report_abort(hub_report_t *r);

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

enum { HUB_REPORT_UTC = 'u', HUB_REPORT_BUSINESS = 'b' };
enum { HUB_REPORT_JSON, HUB_REPORT_CSV };
#define HUB_REPORT_MAX_DAYS 3660

/*
 * Parses a range of dates "YYYY-MM-DD" (to inclusive) into day numbers.
 * HUB_EINVAL with err naming the parameter at fault (from_name/to_name:
 * "from", "--from"...): not a date, to before from, more than
 * HUB_REPORT_MAX_DAYS days.
 */
int hub_report_range(const char *from, const char *to, const char *from_name,
                     const char *to_name, int32_t *dfrom, int32_t *dto,
                     char *err, size_t errlen);

/*
 * Appends the daily report of days dfrom..dto (zone HUB_REPORT_UTC or
 * HUB_REPORT_BUSINESS) to out, in one read transaction: JSON
 * {"time_zone", "from", "to", "days": [...]} or CSV (a header, a row per
 * day); every day of the range is there, zeros included. The columns
 * are in projections/README.md. 0 or HUB_ENOMEM, HUB_EIO.
 */
int hub_report_daily(hub_report_t *r, int zone, int32_t dfrom, int32_t dto,
                     int format, hub_buf_t *out);

/* The business time zone the store's figures use ("UTC" when none was
 * recorded). Lives as long as r. */
const char *hub_report_time_zone(const hub_report_t *r);

#endif
