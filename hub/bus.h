/*
 * hub360 - the Kafka bus: an acknowledged producer and a consumer with
 * manual offsets, on librdkafka.
 *
 * Producer: idempotent (enable.idempotence=true, so acks=all and no
 * duplicates from retries). Nothing counts as sent before the brokers
 * acknowledged it: callers group messages in a hub_acks_t and wait for
 * it, which reports every failure. The queue is bounded
 * (kafka.queue_max_bytes); a full queue makes the producer wait up to its
 * deadline, then answer HUB_EAGAIN, so pressure reaches the caller instead
 * of memory growing.
 *
 * Consumer: auto commit and auto offset store are off; whoever consumes
 * owns the offsets (the projector stores them in LMDB).
 *
 * Every kafka.properties entry is passed to librdkafka as is, so TLS and
 * SASL need nothing from hub360.
 */
#ifndef HUB_BUS_H
#define HUB_BUS_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* ------------------------------------------------------------------ */
/* Acknowledgement groups                                              */
/* ------------------------------------------------------------------ */

typedef struct hub_acks hub_acks_t;

/* A counter of messages in flight; thread-safe. NULL on ENOMEM. */
hub_acks_t *hub_acks_new(void);
/* Releases an ack group; call it at most once, and send nothing with it
 * afterwards. Safe while messages are in flight (a wait that timed out):
 * the last of their delivery reports frees it then, and
 * hub_producer_free purges and reports what it cannot deliver. */
void hub_acks_free(hub_acks_t *a);
/* Ack groups not yet freed, in the whole process (tests). */
size_t hub_acks_live(void);
size_t hub_acks_pending(hub_acks_t *a);
size_t hub_acks_failed(hub_acks_t *a);
size_t hub_acks_delivered(hub_acks_t *a);
/*
 * Waits until every message produced with a has been acknowledged or
 * failed, or timeout_ms passed (-1: no limit). Returns 0 when all were
 * delivered; HUB_EKAFKA when some failed (the first error in err);
 * HUB_ETIMEDOUT when some are still in flight.
 */
int hub_acks_wait(hub_acks_t *a, int64_t timeout_ms, char *err,
                  size_t errlen);

/* ------------------------------------------------------------------ */
/* Producer                                                            */
/* ------------------------------------------------------------------ */

typedef struct hub_producer hub_producer_t;

/*
 * Creates a producer for bootstrap (a "host:port,..." list; resolve
 * "embedded" first). Errors name the failing property. A background
 * thread serves delivery reports until hub_producer_free. cfg must
 * outlive the producer (a replacement after a fatal error reads it).
 */
int hub_producer_new(const hub_config_t *cfg, const char *bootstrap,
                     hub_producer_t **out, char *err, size_t errlen);
/* Flushes (up to the delivery timeout) and frees. NULL is fine. */
void hub_producer_free(hub_producer_t *p);

/*
 * Topics the producer will send to and that exist: it holds their
 * handles and asks for their metadata now (one request, and again for a
 * replacement producer). librdkafka 2.0 otherwise learns the leaders of
 * a topic it first sees in a message only on its topic scan, once a
 * second, and that message waits for it: every `project --once` waited
 * 0.8 s for its changelog's first delivery. At most 8 topics; the
 * others are left to the scan.
 */
void hub_producer_know_topics(hub_producer_t *p, const char *const *topics,
                              size_t n);

typedef struct hub_header {
    const char *name;
    const void *value;
    size_t len;
} hub_header_t;

/*
 * Queues one message (key and value are copied; either may be NULL/0 for
 * a null key or a tombstone). Its outcome is counted in acks (may be
 * NULL: fire and forget, errors only logged). When the queue is full,
 * waits up to block_ms for room, then returns HUB_EAGAIN. Other errors:
 * HUB_EKAFKA (e.g. message too large).
 */
int hub_producer_send(hub_producer_t *p, const char *topic, int32_t partition,
                      const void *key, size_t klen, const void *value,
                      size_t vlen, const hub_header_t *headers,
                      size_t nheaders, hub_acks_t *acks, int64_t block_ms,
                      char *err, size_t errlen);

/*
 * Queues a consumed message that could not be processed on the
 * dead-letter topic dlq (DESIGN.md): its key and value as they came,
 * with the headers error, topic, partition and offset (decimal text).
 * Counted in acks and failing as hub_producer_send.
 */
int hub_producer_dead_letter(hub_producer_t *p, const char *dlq,
                             const rd_kafka_message_t *m, const char *error,
                             hub_acks_t *acks, int64_t block_ms, char *err,
                             size_t errlen);

/* Waits until nothing is in flight (or timeout). 0 or HUB_ETIMEDOUT. */
int hub_producer_flush(hub_producer_t *p, int64_t timeout_ms);

/*
 * The underlying handle, e.g. for metadata queries, until
 * hub_producer_unhold: a producer stopped by a fatal error is replaced
 * on the next send (hub360_kafka_producer_restarts_total), never while
 * held. Hold it briefly: sends wait while a replacement waits.
 */
rd_kafka_t *hub_producer_hold(hub_producer_t *p);
void hub_producer_unhold(hub_producer_t *p);
/* Fails every message queued or in flight now (their reports come). */
void hub_producer_purge(hub_producer_t *p);

/* ------------------------------------------------------------------ */
/* Consumer                                                            */
/* ------------------------------------------------------------------ */

/*
 * Creates a consumer with auto commit and offset store off. group may be
 * NULL for a group-less consumer that assigns partitions itself (tail).
 * The caller owns the handle: rd_kafka_consumer_close + rd_kafka_destroy.
 */
int hub_consumer_new(const hub_config_t *cfg, const char *bootstrap,
                     const char *group, int partition_eof, rd_kafka_t **out,
                     char *err, size_t errlen);

/* Same, with a rebalance callback (opaque is passed to it), for
 * consumers that place their partitions at offsets of their own. With
 * `static_member`, the consumer is a static member (KIP-345) named by
 * hub_consumer_instance_id: a process that restarts after a crash takes
 * its partitions back at once instead of waiting for its old session to
 * time out. Each projector replica has a group of its own, so one
 * instance id per group and topic prefix is right. */
typedef void (*hub_rebalance_fn)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t *parts,
                                 void *opaque);
/* The group.instance.id of a static member of `group`: the group id and
 * the topic prefix. Kafka hands a static member that comes back (within
 * the session timeout; a static member that closes does not leave) the
 * partitions its instance id last held, without a rebalance, whatever
 * topics it subscribes to now: a group id alone, shared by hub360s of
 * other prefixes on one Kafka (the default `projector.group_id`), would
 * give one the other's topics. */
void hub_consumer_instance_id(const hub_config_t *cfg, const char *group,
                              char *out, size_t outlen);
int hub_consumer_new_rebalance(const hub_config_t *cfg, const char *bootstrap,
                               const char *group, int partition_eof,
                               hub_rebalance_fn rebalance, void *opaque,
                               int static_member, rd_kafka_t **out, char *err,
                               size_t errlen);

/*
 * Destroys a consumer made by hub_consumer_new_rebalance without
 * rd_kafka_consumer_close, which serves the rebalance callbacks still
 * queued: an assignment queued after the last poll reached the callback
 * while the group was closing, and when the group had already stopped
 * waiting for it, the callback's rd_kafka_assign was never answered
 * (librdkafka 2.0). For consumers whose offsets are their own: nothing
 * more is committed, and a static member does not leave its group (it
 * would not on close either).
 */
void hub_consumer_drop(rd_kafka_t *rk);

/* Subscribes rk (a consumer in its group) to the given topics. */
int hub_consumer_subscribe(rd_kafka_t *rk, const char *const *topics,
                           size_t ntopics, char *err, size_t errlen);

/*
 * Handles of the topics (out[0..n), NULL where one could not be made),
 * for a client to hold while it learns their leaders: a metadata answer
 * sets the leaders of the topics the client knows, and librdkafka 2.0
 * otherwise looks a leader up only on its topic scan, once a second. A
 * consumer holds them from before its metadata request until it has
 * assigned their partitions (one start of `project --once` in eight
 * fetched nothing for a second); a producer for its life
 * (hub_producer_know_topics).
 */
void hub_bus_hold_topics(rd_kafka_t *rk, const char *const *topics,
                         size_t n, rd_kafka_topic_t **out);
/* Destroys the handles held (NULL ones skipped), leaving NULLs. */
void hub_bus_release_topics(rd_kafka_topic_t **held, size_t n);

/*
 * Assigns every partition of the given topics at `offset`
 * (RD_KAFKA_OFFSET_BEGINNING or _END), so a group-less consumer reads
 * them all. *npartitions is the number assigned. Unknown topics are an
 * error (HUB_ENOENT). Waits for the topics' metadata up to timeout_ms
 * (10 s when it is negative): HUB_EKAFKA past it.
 */
int hub_consumer_assign_all(rd_kafka_t *rk, const char *const *topics,
                            size_t ntopics, int64_t offset, int timeout_ms,
                            size_t *npartitions, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* Topics                                                              */
/* ------------------------------------------------------------------ */

/* The hub's topics (prefixed) in out[0..HUB_BUS_NTOPICS). */
#define HUB_BUS_NTOPICS 6
void hub_bus_topic_names(const hub_config_t *cfg,
                         char out[HUB_BUS_NTOPICS][256]);

/* A plain client handle for admin requests (topic creation). */
rd_kafka_t *hub_bus_admin_new(const hub_config_t *cfg, const char *bootstrap,
                              char *err, size_t errlen);

/*
 * Creates the hub's topics that do not exist yet (event topics with
 * unlimited retention, the changelog compacted), with kafka.partitions
 * and kafka.replication_factor. Existing topics are left alone.
 */
int hub_bus_ensure_topics(rd_kafka_t *rk, const hub_config_t *cfg,
                          int64_t timeout_ms, char *err, size_t errlen);

/* The cluster id the brokers report (malloc'd), or NULL on timeout. */
char *hub_bus_cluster_id(rd_kafka_t *rk, int64_t timeout_ms);

#endif
