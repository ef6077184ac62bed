/*
 * hub360.h - reading hub360's customer-360 views from another process.
 *
 * libhub360 opens the LMDB store a `hub360 project` keeps (its data_dir's
 * `customer360`) read-only and answers what `hub360 serve` answers, byte
 * for byte, without HTTP:
 *
 *     hub360_reader_t *r;
 *     char err[256];
 *     if (hub360_open("data/customer360", &r, err, sizeof err) < 0) ...
 *     hub360_view_t *v;
 *     if (hub360_get(r, "email:ann.li@example.com", &v) == 0) {
 *         const char *json;
 *         size_t len;
 *         hub360_view_json(v, &json, &len); // GET /v1/customers/{ref}
 *         printf("%s has %d orders\n", hub360_view_id(v),
 *                hub360_view_orders(v));
 *         hub360_view_free(v);
 *     }
 *     hub360_close(r);
 *
 * Errors. Every function that can fail returns 0 or one of the negative
 * HUB360_E* codes below; hub360_strerror names them. hub360_open also
 * writes a message naming what failed into the caller's err buffer.
 *
 * Consistency. Each call reads one LMDB snapshot (a read transaction
 * that ends before the call returns), so a view is always whole: the
 * projector commits a batch at once and readers see all of it or none.
 * Views are copies: nothing a call returns points into the store.
 *
 * Processes. Any number of processes may read while one `hub360 project`
 * writes; readers never block the writer, nor it them. Do not use a
 * reader in a child after fork(); open one there. `hub360 rebuild`
 * replaces the store with a new generation: a reader keeps seeing the one
 * it opened until it is closed and opened again.
 *
 * Threads. A reader may be shared by any number of threads. Lookups by
 * customer id and the change feed run in parallel; lookups by alias or
 * identity, timelines and hub360_each take the reader's lock for their
 * read, so open one reader per store and share it. (Opening the same
 * store twice in a process is safe: LMDB allows one environment per
 * directory per process, and the second reader shares the first's.) The
 * callbacks of hub360_each and hub360_changes may call the reader's
 * functions. A view belongs to one thread at a time (hub360_view_json
 * fills it lazily).
 *
 * Ownership. hub360_open gives the caller a reader, hub360_get a view;
 * each is released by its free function, which accepts NULL. Strings a
 * view hands out live as long as the view. Every view must be freed
 * before its reader is closed.
 */
#ifndef HUB360_H
#define HUB360_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HUB360_VERSION_MAJOR 0
#define HUB360_VERSION_MINOR 1

/* Error codes: 0 is success, failures are negative. The values are the
 * hub's own (hub360 prints the same names). */
#define HUB360_OK 0
#define HUB360_EINVAL (-1)   /* a malformed argument (a bad cursor, NULL) */
#define HUB360_ENOMEM (-2)   /* out of memory */
#define HUB360_EIO (-3)      /* the store could not be read */
#define HUB360_ENOENT (-4)   /* no such customer, or no store at the path */
#define HUB360_ESCHEMA (-6)  /* the view schema is missing */
#define HUB360_EDECODE (-7)  /* stored bytes that do not decode */

typedef struct hub360_reader hub360_reader_t;
typedef struct hub360_view hub360_view_t;

/* The library's version, "MAJOR.MINOR.PATCH"; a static string. */
const char *hub360_version(void);

/* A static name for an error code ("no such thing", ...). Never NULL. */
const char *hub360_strerror(int err);

/*
 * Opens the store at path (a projector's DATA_DIR/customer360, or one
 * generation directory of it) read-only. On success *out is a reader the
 * caller closes with hub360_close. HUB360_ENOENT: no store there (yet);
 * HUB360_EIO: LMDB refused it. err (errlen bytes, may be NULL with 0)
 * gets a message saying which.
 */
int hub360_open(const char *path, hub360_reader_t **out, char *err,
                size_t errlen);

/* Closes a reader (NULL is fine). Its views must be freed before. */
void hub360_close(hub360_reader_t *r);

/* ------------------------------------------------------------------ */
/* One customer                                                        */
/* ------------------------------------------------------------------ */

/*
 * Looks up a customer by ref: its id ("cus_..."), an alias (the id of a
 * customer merged into it), or an identity "kind:value" (email:,
 * phone:, crm_contact:, social_handle:, ... normalized the way the
 * projector does: "email: Ann@X.com" finds ann@x.com). On success *out
 * is a new view the caller frees with hub360_view_free: a copy of the
 * customer's stored record, from one snapshot. Returns
 * HUB360_ENOENT when no customer answers to ref, HUB360_EINVAL for a NULL
 * argument, or another error with *out NULL.
 */
int hub360_get(hub360_reader_t *r, const char *ref, hub360_view_t **out);

/* Frees a view (NULL is fine). */
void hub360_view_free(hub360_view_t *v);

/*
 * The view as JSON: exactly the body `GET /v1/customers/{ref}` answers
 * (and `GET /v1/customers?email=...` for an identity): the customer-360
 * record in canonical JSON, with "resolved_from": ref as its first member
 * when ref was not the customer's own id. *json is NUL-terminated and
 * lives as long as the view; rendered on the first call. 0, or
 * HUB360_ENOMEM / HUB360_EDECODE.
 */
int hub360_view_json(hub360_view_t *v, const char **json, size_t *len);

/* The main fields, read in place from the view's bytes (on the first
 * call of any of them; the JSON is not rendered for them). Strings live
 * as long as the view. Should the stored bytes not decode, they answer
 * NULL or 0 (and hub360_view_revenue HUB360_EDECODE). */
const char *hub360_view_id(const hub360_view_t *v);
/* The ref that led here when it was not the id (alias or identity), as
 * given; else NULL. */
const char *hub360_view_resolved_from(const hub360_view_t *v);
/* profile.name's value, or NULL when no member names the customer. */
const char *hub360_view_name(const hub360_view_t *v);
/* updated_at: the latest occurred_at of the customer's events, in
 * milliseconds since 1970 (UTC). */
int64_t hub360_view_updated_at(const hub360_view_t *v);
/* aliases[i] and segments[i] (sorted); NULL past the end. */
size_t hub360_view_alias_count(const hub360_view_t *v);
const char *hub360_view_alias(const hub360_view_t *v, size_t i);
size_t hub360_view_segment_count(const hub360_view_t *v);
const char *hub360_view_segment(const hub360_view_t *v, size_t i);
/* orders.count: orders placed and not cancelled. */
int32_t hub360_view_orders(const hub360_view_t *v);
/* orders.revenue: per currency (ISO 4217, sorted), in minor units. The
 * i-th entry into *currency and *amount, 0; HUB360_ENOENT past the end. */
size_t hub360_view_revenue_count(const hub360_view_t *v);
int hub360_view_revenue(const hub360_view_t *v, size_t i,
                        const char **currency, int64_t *amount);

/* ------------------------------------------------------------------ */
/* Many customers                                                      */
/* ------------------------------------------------------------------ */

/*
 * Calls fn for every customer, in id order, with its view JSON (as
 * `hub360 export` prints it; not NUL-terminated, valid during the call).
 * Stops when fn returns nonzero and returns that value; else 0 or an
 * error. One snapshot for the whole walk: keep fn short, as the reader's
 * lock and an LMDB read transaction are held until it ends. Return a
 * positive value from fn to stop.
 */
int hub360_each(hub360_reader_t *r,
                int (*fn)(const char *id, const char *json, size_t len,
                          void *opaque),
                void *opaque);

/* A change of the change feed (GET /v1/changes). */
typedef struct hub360_change {
    uint64_t seq;   /* its sequence number: pass the last as since */
    const char *id; /* the customer id, valid during the callback */
    int deleted;    /* 1: the customer is gone (merged away, forgotten) */
} hub360_change_t;

/*
 * Calls fn for the changes after since (0: from the first one kept), at
 * most limit of them, in sequence order; stops when fn returns nonzero
 * and returns that value. deleted tells whether the customer is gone now,
 * not at the change. 0, or an error.
 */
int hub360_changes(hub360_reader_t *r, uint64_t since, size_t limit,
                   int (*fn)(const hub360_change_t *change, void *opaque),
                   void *opaque);

/*
 * How far the projector got: the next offset of a Kafka partition its
 * store has applied (the cluster the store records), or -1 when it has
 * applied none of it. A reporting tool compares it with the partition's
 * end to know how fresh the views are; the API's /readyz does.
 */
int64_t hub360_offset(hub360_reader_t *r, const char *topic,
                      int32_t partition);

/* The store's size and use: what /metrics reports as hub360_store_*. */
typedef struct hub360_store_info {
    uint64_t map_bytes;   /* the map's size: the store cannot grow past it */
    uint64_t used_bytes;  /* up to the last page written */
    uint32_t readers;     /* LMDB reader slots in use, every process's */
    uint32_t max_readers;
} hub360_store_info_t;
int hub360_store_info(hub360_reader_t *r, hub360_store_info_t *out);

/*
 * The timeline body `GET /v1/customers/{ref}/timeline?limit=&before=`
 * answers: {"customer_id", "items" (newest first, at most limit), "next"
 * (the cursor to pass as before for the following page, or null)}.
 * before NULL or "": from the newest. On success *json is a
 * NUL-terminated string the caller frees with free(), *len its length.
 * HUB360_ENOENT: no such customer; HUB360_EINVAL: before is not a cursor
 * this gave.
 */
int hub360_timeline(hub360_reader_t *r, const char *ref, const char *before,
                    size_t limit, char **json, size_t *len);

/* ------------------------------------------------------------------ */
/* Products: stock availability (projections/README.md)                */
/* ------------------------------------------------------------------ */

/*
 * The product view of a SKU, the body `GET /v1/products/{sku}` answers:
 * {"sku", totals ("tracked", "on_hand", "reserved", "available",
 * "on_order_purchase", "on_order_production", "returned"),
 * "last_movement", "oversold", "warehouses": [the same per warehouse]}.
 * On success *json is a NUL-terminated string the caller frees with
 * free(), *len (may be NULL) its length. HUB360_ENOENT: no event named
 * the SKU. No lock: lookups run in parallel.
 */
int hub360_product(hub360_reader_t *r, const char *sku, char **json,
                   size_t *len);

/*
 * The low-stock list, the body `GET /v1/products?available_below=N`
 * answers: {"products": [product views], "next_cursor"}: the SKUs with a
 * reported stock level whose total available is below `below`, lowest
 * first, at most limit; cursor (NULL: the first page) is the previous
 * page's next_cursor, which is null on the last page. The caller frees
 * *json with free(). HUB360_EINVAL: a cursor this did not give.
 */
int hub360_products_low(hub360_reader_t *r, int64_t below,
                        const char *cursor, size_t limit, char **json,
                        size_t *len);
/*
 * The daily report `GET /v1/metrics/daily` answers: figures across the
 * CRM, ERP and SCRM events for each day from `from` to `to` (inclusive,
 * "YYYY-MM-DD", at most 3660 days), by UTC day or (business non-zero) by
 * day in the projector's reporting.time_zone; as JSON {"time_zone",
 * "from", "to", "days": [{"date", ...}]} or (csv non-zero) CSV with a
 * header row. The columns are listed in projections/README.md. On
 * success *out is a NUL-terminated string the caller frees with free(),
 * *len its length. HUB360_EINVAL: a date that is not one, or a bad
 * range.
 */
int hub360_report_daily(hub360_reader_t *r, const char *from, const char *to,
                        int business, int csv, char **out, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
