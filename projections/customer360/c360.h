/*
 * hub360 - the customer-360 projection: events in, views out, in LMDB.
 *
 * hub_c360_t owns the store and applies batches of events:
 *
 *     hub_c360_begin(c);
 *     for each message: hub_c360_apply(c, &msg, &result);
 *     hub_c360_commit(c, &stats);
 *
 * One write transaction per batch holds the events' effects and the next
 * offset of every partition the batch touched, so a crash anywhere either
 * keeps the whole batch or none of it. The projection's invariants
 * (projections/README.md): duplicates change nothing, the views are a
 * function of the set of events and not of their order, identities link
 * entities into customers (connected components, under the configured
 * guards), a forget erases a customer from every table.
 *
 * Not thread-safe: one writer. Readers use hub_c360_open_reader and the
 * read functions, each in one short read transaction.
 */
#ifndef HUB_C360_H
#define HUB_C360_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "codec.h"
#include "config.h"

typedef struct hub_c360 hub_c360_t;

/*
 * Opens (creating if needed) the store at `path` for writing. The codec
 * (borrowed) decodes events; cfg supplies the identity rules, profile
 * rules, segments and store settings.
 */
int hub_c360_open(const hub_config_t *cfg, const char *path,
                  hub_codec_t *codec, hub_c360_t **out, char *err,
                  size_t errlen);
/* Opens an existing store read-only (get, export, digest, the API). */
int hub_c360_open_reader(const char *path, hub_c360_t **out, char *err,
                         size_t errlen);
void hub_c360_close(hub_c360_t *c);

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

typedef struct hub_c360_msg {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const void *key;
    size_t keylen;
    const void *value;
    size_t len;
} hub_c360_msg_t;

typedef enum hub_c360_outcome {
    HUB_C360_APPLIED,   /* changed (or confirmed) the views */
    HUB_C360_DUPLICATE, /* its event_id was applied before */
    HUB_C360_IGNORED,   /* not about a customer (stock, ...) or forgotten */
    HUB_C360_DEAD,      /* undecodable or invalid: dead-letter it */
} hub_c360_outcome;

typedef struct hub_c360_result {
    hub_c360_outcome outcome;
    char error[512]; /* for HUB_C360_DEAD */
} hub_c360_result_t;

typedef struct hub_c360_stats {
    uint64_t applied, duplicates, ignored, dead;
    uint64_t views_written, views_deleted;
    uint64_t merges_refused, identities_rejected, forgotten;
    uint64_t stock_oversold; /* orders newly flagged oversold (stock.h) */
    uint64_t seq;       /* change sequence after the batch */
} hub_c360_stats_t;

/* Records which Kafka cluster the offsets belong to (see README). Logs
 * and returns 1 when the store knew another cluster before, 0 when not,
 * or a hub error (HUB_EFULL, HUB_EIO) when the store cannot be written. */
int hub_c360_set_cluster(hub_c360_t *c, const char *cluster_id);

/* The stored next offset of a partition of the current cluster (for a
 * reader: the cluster the projector recorded), or -1. */
int64_t hub_c360_offset(hub_c360_t *c, const char *topic, int32_t partition);

int hub_c360_begin(hub_c360_t *c);
/* The wall clock the next batches see (dedupe ages), in UTC ms; 0 goes
 * back to the real one. For tests and reproducible replays. */
void hub_c360_set_clock(hub_c360_t *c, int64_t now_ms);
/*
 * Optional, inside a batch: decodes the messages that hub_c360_apply will
 * be given next, in that order, on the other cores while this thread
 * applies them (see hub_par_start; hub_c360_apply waits for a message
 * not decoded yet, or decodes it itself). The bytes the messages point
 * at must stay valid until the batch commits or aborts (msgs itself only
 * during the call); a message applied out of that order is decoded by
 * hub_c360_apply itself. 0 or HUB_ENOMEM.
 */
int hub_c360_prepare(hub_c360_t *c, const hub_c360_msg_t *msgs, size_t n);
/* Applies one message (a framed Envelope) inside the batch. Returns 0
 * (outcome in res) or a hub error that must abort the batch. */
int hub_c360_apply(hub_c360_t *c, const hub_c360_msg_t *msg,
                   hub_c360_result_t *res);
/* Finishes the batch: identity graph, views, changes, offsets; commits.
 * HUB_EFULL when the LMDB map is full (nothing of the batch is kept). */
int hub_c360_commit(hub_c360_t *c, hub_c360_stats_t *stats, char *err,
                    size_t errlen);
void hub_c360_abort(hub_c360_t *c);
/* Between batches: frees the memory kept for the next batch (the batch
 * arenas' chunks), for a projector that has caught up. */
void hub_c360_trim(hub_c360_t *c);

/* A change the last committed batch made: the customer's view bytes (the
 * Customer360 Avro binary), or view NULL when the customer is gone. */
typedef struct hub_c360_change {
    uint64_t seq;
    char id[21]; /* the customer id, NUL-terminated */
    const void *view;
    size_t len;
} hub_c360_change_t;

/* The changes of the last committed batch, in sequence order, so that
 * the changelog need not read them back; valid until the next begin.
 * Changes of earlier batches not yet published are read with
 * hub_c360_changes. */
size_t hub_c360_last_changes(const hub_c360_t *c,
                             const hub_c360_change_t **out);

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

/*
 * Looks up a customer by id, alias or identity ("email:ann@x.com",
 * "phone:+86...", any kind:value; normalized like the projector does)
 * and appends its view as JSON to out. *resolved_from is set to the id
 * or identity asked for when it was not the customer's own id.
 * HUB_ENOENT when there is none.
 */
int hub_c360_get_json(hub_c360_t *c, const char *ref, hub_buf_t *out,
                      char *id_out, size_t idlen);

/*
 * The timeline of a customer (id, alias or KIND:VALUE), newest first: a
 * JSON array of at most limit items into out, each {"at", "event_id",
 * "type", "source", "entity_type", "entity_id", and what the event said}.
 * before (NULL: from the newest) is the `next` cursor of the previous
 * page; next gets the cursor of the page after this one, or "" when there
 * are no more. HUB_ENOENT: no such customer; HUB_EINVAL: a bad
 * cursor. The entries are kept per member entity (an entity's customer
 * changes with merges; its history does not) and merged on read.
 */
#define HUB_C360_CURSOR_LEN 80 /* "<ms>-<sequence>-<32 hex>": 20+1+20+1+32+1 */
int hub_c360_timeline_json(hub_c360_t *c, const char *ref,
                           const char *before, size_t limit, hub_buf_t *out,
                           char next[HUB_C360_CURSOR_LEN], char *id_out,
                           size_t idlen);

/* Calls fn for every customer in id order with its view JSON; stops when
 * fn returns nonzero (and returns that). */
int hub_c360_each(hub_c360_t *c,
                  int (*fn)(const char *id, const char *json, size_t len,
                            void *opaque),
                  void *opaque);

/* SHA-256 over every view in id order, as 64 hex digits, and the count. */
int hub_c360_digest(hub_c360_t *c, char hex[65], uint64_t *customers);

/* Changes after seq (up to limit): fn(seq, id, view, len) per change,
 * with the customer's view bytes (Avro) as they are now, or NULL when it
 * is gone (merged away or forgotten). One read snapshot for them all. */
int hub_c360_changes(hub_c360_t *c, uint64_t after, size_t limit,
                     int (*fn)(uint64_t seq, const char *id,
                               const void *view, size_t len, void *opaque),
                     void *opaque);
/* 1 when no batch was ever committed to the store (no offsets kept): a
 * projector that has not run, or failed before its first batch. */
int hub_c360_never_applied(hub_c360_t *c);

/* The store's size and use, for metrics. */
typedef struct hub_c360_store_info {
    uint64_t map_bytes;   /* the map's size (projector.map_size) */
    uint64_t used_bytes;  /* pages in use, up to the last one written */
    uint32_t readers;     /* reader slots in use, all processes */
    uint32_t max_readers;
} hub_c360_store_info_t;
int hub_c360_store_info(hub_c360_t *c, hub_c360_store_info_t *out);

/* The stock projection kept in the same store (projections/stock/
 * stock.h), for its read functions; lives as long as c. */
struct hub_stock *hub_c360_stock(hub_c360_t *c);

/* The view bytes (Avro) of a customer id, copied into out; HUB_ENOENT. */
int hub_c360_view_bytes(hub_c360_t *c, const char *id, hub_buf_t *out);
/* Where the changelog outbox stands, and marking it published (inside
 * the open batch when there is one, so that it costs no commit). */
uint64_t hub_c360_published_seq(hub_c360_t *c);
int hub_c360_set_published_seq(hub_c360_t *c, uint64_t seq);

/* The daily report kept in the same store (projections/metrics/report.h),
 * to read with hub_report_daily. Lives as long as c. */
struct hub_report *hub_c360_report(hub_c360_t *c);

#endif
