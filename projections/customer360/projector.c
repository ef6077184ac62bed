/*
 * hub360 - the projector loop.
 */
#include "projector.h"

#include <inttypes.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "c360.h"
#include "catalog.h"
#include "cli.h"
#include "codec.h"
#include "errors.h"
#include "log.h"
#include "metrics.h"
#include "sort.h"
#include "store.h"
#include "timefmt.h"

#define NTOPICS 4 /* crm, erp, scrm, control */

void hub_projector_store_path(const hub_config_t *cfg, char *out,
                              size_t outlen) {
    snprintf(out, outlen, "%s/customer360", cfg->data_dir);
}

typedef struct part {
    int64_t target;   /* once: end offset seen at start; -1: none */
    int64_t next;     /* next offset to apply (as committed) */
    int64_t seen;     /* next offset after the messages collected */
    uint8_t known;    /* assigned */
    uint8_t touched;  /* in the batch being applied */
} part;

/* The partitions of one topic, indexed by partition number. */
typedef struct topic_parts {
    part *v;
    int32_t n;
    rd_kafka_topic_t *rkt; /* the handle its messages carry, once seen */
} topic_parts;

/* Changelog records produced and not yet acknowledged. A committed
 * batch's changes are copied here and produced by a thread of the
 * outbox's own while the next batch is applied (await_outbox joins it). */
typedef struct outbox {
    struct projector *p;
    hub_acks_t *acks;
    hub_buf_t value;
    uint64_t last;  /* the last change sequence number produced */
    size_t sent;
    int rc;
    char err[512];
    pthread_t thread;
    int running;               /* thread started, not joined */
    hub_c360_change_t *chg;    /* the batch's changes; views in `views` */
    size_t nchg, capchg;
    hub_buf_t views;
} outbox;

typedef struct projector {
    const hub_config_t *cfg;
    const hub_projector_opts_t *o;
    hub_catalog_t *cat;
    hub_codec_t *codec;
    hub_producer_t *producer;
    hub_c360_t *c360;
    rd_kafka_t *rk;
    char topics[NTOPICS][256];
    char dlq[256], changelog[256];
    topic_parts tp[NTOPICS];
    size_t behind;    /* once: partitions whose collected end is short of
                         their target */
    char store_target[PATH_MAX];
    int32_t c360_id;
    hub_projector_stats_t stats;
    int64_t started;
    outbox out;               /* changelog records in flight */
    uint64_t acked, stored;   /* changes acknowledged; the mark stored */
    int64_t changelog_retry;  /* daemon: when to produce again the changes
                                 Kafka did not take (0: none pending) */
    int was_full;             /* the last batch was full (catching up) */
    int64_t consumer_started; /* when the consumer was (re)started */
} projector;

static int topic_index(const projector *p, const char *topic) {
    for (int t = 0; t < NTOPICS; t++)
        if (strcmp(p->topics[t], topic) == 0)
            return t;
    return -1;
}

/* The partition of a message: by its topic handle, without strcmp once
 * the handle is known. */
static part *msg_part(projector *p, const rd_kafka_message_t *m, int *topic) {
    for (int t = 0; t < NTOPICS; t++) {
        if (p->tp[t].rkt == m->rkt) {
            *topic = t;
            return m->partition >= 0 && m->partition < p->tp[t].n &&
                           p->tp[t].v[m->partition].known
                       ? &p->tp[t].v[m->partition]
                       : NULL;
        }
    }
    int t = topic_index(p, rd_kafka_topic_name(m->rkt));
    if (t < 0)
        return NULL;
    p->tp[t].rkt = m->rkt;
    return msg_part(p, m, topic);
}

static int add_part(projector *p, const char *topic, int32_t partition,
                    int64_t target, int64_t next) {
    int t = topic_index(p, topic);
    if (t < 0 || partition < 0)
        return 0;
    topic_parts *tp = &p->tp[t];
    if (partition >= tp->n) {
        part *v = realloc(tp->v, (size_t)(partition + 1) * sizeof *v);
        if (!v)
            return HUB_ENOMEM;
        memset(v + tp->n, 0, (size_t)(partition + 1 - tp->n) * sizeof *v);
        tp->v = v;
        tp->n = partition + 1;
    }
    part *x = &tp->v[partition];
    if (x->known && x->seen < x->target)
        p->behind--;
    x->known = 1;
    x->target = target;
    x->next = x->seen = next;
    if (x->seen < x->target)
        p->behind++;
    return 0;
}

/* A message (or an end of partition at offset `end`) was collected. */
static void collected(projector *p, part *x, int64_t end) {
    if (end <= x->seen)
        return;
    if (x->seen < x->target && end >= x->target)
        p->behind--;
    x->seen = end;
}

/* Places each partition at the offset the store holds for it. */
static void place(projector *p, rd_kafka_topic_partition_list_t *parts) {
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t off = hub_c360_offset(p->c360, tp->topic, tp->partition);
        tp->offset = off >= 0 ? off : RD_KAFKA_OFFSET_BEGINNING;
        add_part(p, tp->topic, tp->partition, -1, off >= 0 ? off : 0);
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    projector *p = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        /* Only this projector's topics: the group coordinator may hand
         * over partitions of others (a static member's last assignment
         * comes back without a rebalance, whatever it subscribes to now),
         * and their events are no part of these views. */
        rd_kafka_topic_partition_list_t *own =
            rd_kafka_topic_partition_list_new(parts->cnt > 0 ? parts->cnt
                                                             : 1);
        int foreign = 0;
        for (int i = 0; i < parts->cnt; i++) {
            const rd_kafka_topic_partition_t *tp = &parts->elems[i];
            if (topic_index(p, tp->topic) >= 0) {
                rd_kafka_topic_partition_list_add(own, tp->topic,
                                                  tp->partition);
            } else {
                foreign++;
                hub_log_warn(p->o->label,
                             "assigned %s [%d], not a topic of this "
                             "projector (topic_prefix \"%s\"): left "
                             "alone. Another hub360 shares the group "
                             "id %s: give each its own projector.group_id",
                             tp->topic, (int)tp->partition,
                             p->cfg->kafka.topic_prefix,
                             p->cfg->projector.group_id);
            }
        }
        place(p, own);
        if (foreign)
            hub_log_info(p->o->label, "assigned %d partitions (and %d "
                                      "of other topics, left alone); "
                                      "resuming at the offsets in the store",
                         own->cnt, foreign);
        else
            hub_log_info(p->o->label, "assigned %d partitions; resuming at "
                                      "the offsets in the store",
                         own->cnt);
        rd_kafka_assign(rk, own);
        rd_kafka_topic_partition_list_destroy(own);
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

/* Errors of a partition's leader that pass: it moved, is being elected,
 * or its broker is briefly unreachable. */
static int leader_retriable(rd_kafka_resp_err_t e) {
    switch (e) {
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
        return 1;
    default:
        return 0;
    }
}

/*
 * The earliest (RD_KAFKA_OFFSET_BEGINNING) or the end (RD_KAFKA_OFFSET_END)
 * offset of every partition of list, into its offsets: one ListOffsets
 * request per broker (a watermark query per partition cost a round trip
 * each, a second at start for 256 partitions). librdkafka does not retry
 * it, nor learn a new leader from NOT_LEADER_FOR_PARTITION, so a leader
 * that just moved or a broker away for a moment would fail `--once` and
 * `rebuild` at start: such errors are retried, with backoff and fresh
 * metadata, for up to a minute.
 */
static int list_offsets(projector *p, rd_kafka_topic_partition_list_t *list,
                        int64_t which, char *err, size_t errlen) {
    int64_t deadline = hub_time_mono_ms() + 60000, delay = 100;
    for (;;) {
        for (int i = 0; i < list->cnt; i++) {
            list->elems[i].offset = which;
            list->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        }
        rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(p->rk, list, 10000);
        const rd_kafka_topic_partition_t *bad = NULL;
        for (int i = 0; i < list->cnt && !e; i++) {
            if (list->elems[i].err) {
                bad = &list->elems[i];
                e = bad->err;
            }
        }
        if (!e)
            return 0;
        char what[320];
        if (bad)
            snprintf(what, sizeof what, " of %s [%d]", bad->topic,
                     (int)bad->partition);
        else
            snprintf(what, sizeof what, "s of %d partitions", list->cnt);
        const char *end = which == RD_KAFKA_OFFSET_END ? "end" : "first";
        if (!leader_retriable(e) || hub_stop_requested ||
            hub_time_mono_ms() + delay > deadline)
            return hub_fail(err, errlen, HUB_EKAFKA, "%s offset%s: %s", end,
                            what, rd_kafka_err2str(e));
        hub_log_warn(p->o->label, "%s offset%s: %s; retrying in %lld ms",
                     end, what, rd_kafka_err2str(e), (long long)delay);
        struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        const struct rd_kafka_metadata *md = NULL; /* refreshes the cache */
        if (rd_kafka_metadata(p->rk, 1, NULL, &md, 10000) == 0)
            rd_kafka_metadata_destroy(md);
        delay = delay * 2 > 2000 ? 2000 : delay * 2;
    }
}

/* once: every partition, at the store's offsets, with its end offset. */
static int assign_all(projector *p, char *err, size_t errlen) {
    const char *topics[NTOPICS];
    rd_kafka_topic_t *held[NTOPICS];
    for (int t = 0; t < NTOPICS; t++)
        topics[t] = p->topics[t];
    hub_bus_hold_topics(p->rk, topics, NTOPICS, held);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(p->rk, 1, NULL, &md, 10000);
    if (e) {
        hub_bus_release_topics(held, NTOPICS);
        return hub_fail(err, errlen, HUB_EKAFKA, "kafka metadata: %s",
                        rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_t *low = rd_kafka_topic_partition_list_new(64);
    int rc = 0;
    for (int t = 0; t < NTOPICS && !rc; t++) {
        int found = 0;
        for (int i = 0; i < md->topic_cnt; i++) {
            const struct rd_kafka_metadata_topic *mt = &md->topics[i];
            if (strcmp(mt->topic, p->topics[t]) || mt->err)
                continue;
            found = 1;
            for (int k = 0; k < mt->partition_cnt; k++)
                rd_kafka_topic_partition_list_add(low, mt->topic,
                                                  mt->partitions[k].id);
        }
        if (!found)
            rc = hub_fail(err, errlen, HUB_ENOENT,
                          "topic %s does not exist (has anything been "
                          "published?)",
                          p->topics[t]);
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *high =
        rd_kafka_topic_partition_list_copy(low);
    if (!rc)
        rc = list_offsets(p, high, RD_KAFKA_OFFSET_END, err, errlen);
    if (!rc)
        rc = list_offsets(p, low, RD_KAFKA_OFFSET_BEGINNING, err, errlen);
    /* low becomes the assignment: each partition at the store's offset */
    for (int i = 0; i < low->cnt && !rc; i++) {
        rd_kafka_topic_partition_t *x = &low->elems[i];
        int64_t off = hub_c360_offset(p->c360, x->topic, x->partition);
        rc = add_part(p, x->topic, x->partition, high->elems[i].offset,
                      off >= 0 ? off : x->offset);
        x->offset = off >= 0 ? off : RD_KAFKA_OFFSET_BEGINNING;
    }
    if (!rc && (e = rd_kafka_assign(p->rk, low)))
        rc = hub_fail(err, errlen, HUB_EKAFKA, "assign: %s",
                      rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(low);
    rd_kafka_topic_partition_list_destroy(high);
    hub_bus_release_topics(held, NTOPICS);
    return rc;
}

/* The consumer: in its group, subscribed to the event topics (the
 * daemon), or with every partition assigned up to its end (--once). */
/* Records the cluster the offsets belong to; 0 or a failed store. */
static int keep_cluster(projector *p, const char *cluster, char *err,
                        size_t errlen) {
    int rc = hub_c360_set_cluster(p->c360, cluster);
    return rc < 0 ? hub_fail(err, errlen, rc, "recording the Kafka cluster "
                             "id in the store: %s", hub_store_strerror(rc))
                  : 0;
}

static int consumer_open(projector *p, char *err, size_t errlen) {
    const hub_projector_opts_t *o = p->o;
    p->consumer_started = hub_time_mono_ms();
    int rc = hub_consumer_new_rebalance(
        p->cfg, o->bootstrap, p->cfg->projector.group_id, o->once,
        o->group ? on_rebalance : NULL, p, o->group, &p->rk, err, errlen);
    if (!rc) {
        char *cluster = hub_bus_cluster_id(p->rk, 10000);
        if (!cluster)
            rc = hub_fail(err, errlen, HUB_EKAFKA,
                          "no answer from Kafka at %s", o->bootstrap);
        else
            rc = keep_cluster(p, cluster, err, errlen);
        free(cluster);
    }
    if (rc || o->once)
        return rc ? rc : assign_all(p, err, errlen);
    const char *topics[NTOPICS];
    for (int t = 0; t < NTOPICS; t++)
        topics[t] = p->topics[t];
    return hub_consumer_subscribe(p->rk, topics, NTOPICS, err, errlen);
}

static void consumer_close(projector *p) {
    if (!p->rk)
        return;
    hub_consumer_drop(p->rk); /* the offsets are the store's */
    p->rk = NULL;
    for (int t = 0; t < NTOPICS; t++) { /* the handles were the old one's */
        p->tp[t].rkt = NULL;
        for (int32_t i = 0; i < p->tp[t].n; i++)
            p->tp[t].v[i].known = 0;
    }
}

/*
 * A fatal error stops a consumer for good: it returns no more messages,
 * and polling it on would stall the projector silently. For a consumer,
 * librdkafka raises one when its static membership was fenced
 * (FENCED_INSTANCE_ID: another member joined with the same
 * group.instance.id). A lone member can fence itself: when Kafka
 * restarts, a JoinGroup it gave up on may still reach the coordinator
 * after the one it sent again. --once fails, saying so; the daemon
 * closes the consumer and starts a new one, which takes the membership
 * back and resumes at the offsets in the store (no more often than every
 * 5 s). The messages collected before the error were applied first: they
 * are whole, and their offsets are the store's.
 */
static int consumer_restart(projector *p, const char *why, int fenced,
                            char *err, size_t errlen) {
    static hub_metric_t *restarts;
    if (!restarts)
        restarts = hub_metrics_counter(
            "hub360_projector_consumer_restarts_total",
            "Kafka consumers the projector started again after a fatal "
            "error (its group membership fenced).",
            NULL);
    if (p->o->once)
        return hub_fail(err, errlen, HUB_EKAFKA, "Kafka consumer: %s", why);
    hub_log_error(p->o->label, "the Kafka consumer stopped on a fatal "
                               "error (%s); starting a new one", why);
    if (fenced) { /* the one cause a user can fix */
        char instance[256];
        hub_consumer_instance_id(p->cfg, p->cfg->projector.group_id,
                                 instance, sizeof instance);
        hub_log_warn(p->o->label,
                     "if this repeats, another projector joins as %s: "
                     "give each replica its own projector.group_id",
                     instance);
    }
    for (;;) {
        consumer_close(p);
        int64_t wait = p->consumer_started + 5000 - hub_time_mono_ms();
        while (wait > 0 && !hub_stop_requested) {
            struct timespec ts = {0, (wait < 100 ? wait : 100) * 1000000L};
            nanosleep(&ts, NULL);
            wait -= 100;
        }
        if (hub_stop_requested)
            return 0; /* no consumer: the loop ends */
        hub_metric_add(restarts, 1);
        int rc = consumer_open(p, err, errlen);
        if (rc != HUB_EKAFKA)
            return rc;
        hub_log_warn(p->o->label, "%s; trying again in 5 s", err);
    }
}

static int caught_up(const projector *p) { return p->behind == 0; }

static int64_t lag(const projector *p) {
    int64_t l = 0;
    for (int t = 0; t < NTOPICS; t++) {
        for (int32_t i = 0; i < p->tp[t].n; i++) {
            const part *x = &p->tp[t].v[i];
            if (x->known && x->target > x->next)
                l += x->target - x->next;
        }
    }
    return l;
}

/* ------------------------------------------------------------------ */
/* Dead letters and the changelog                                      */
/* ------------------------------------------------------------------ */

/* The projector's counters on /metrics (process-wide, like the
 * registry: a process runs one projector). */
static void count_batch(size_t events, size_t ndead,
                        const hub_c360_stats_t *st) {
    static hub_metric_t *consumed, *applied, *dup, *ignored, *dead, *merged,
        *refused, *forgotten, *batches, *oversold;
    if (!consumed) {
        consumed = hub_metrics_counter("hub360_projector_events_total",
                                       "Events the projector consumed and "
                                       "committed, by outcome.",
                                       "outcome=\"consumed\"");
        applied = hub_metrics_counter("hub360_projector_events_total", "",
                                      "outcome=\"applied\"");
        dup = hub_metrics_counter("hub360_projector_events_total", "",
                                  "outcome=\"duplicate\"");
        ignored = hub_metrics_counter("hub360_projector_events_total", "",
                                      "outcome=\"ignored\"");
        dead = hub_metrics_counter("hub360_projector_events_total", "",
                                   "outcome=\"dead_lettered\"");
        merged = hub_metrics_counter("hub360_projector_merges_total",
                                     "Customers of earlier batches absorbed "
                                     "into another by a merge (their id "
                                     "became an alias); records that join "
                                     "within one batch are not counted.",
                                     NULL);
        refused = hub_metrics_counter("hub360_projector_merges_refused_total",
                                      "Links refused because the customer "
                                      "would exceed identity.max_entities.",
                                      NULL);
        forgotten = hub_metrics_counter("hub360_projector_forgotten_total",
                                        "Customers erased by customer.forget.",
                                        NULL);
        batches = hub_metrics_counter("hub360_projector_batches_total",
                                      "Batches committed to the store.", NULL);
        oversold = hub_metrics_counter(
            "hub360_stock_oversold_orders_total",
            "Open orders newly flagged as overselling a SKU in a warehouse "
            "(one per order, SKU and warehouse; projections/README.md).",
            NULL);
    }
    hub_metric_add(consumed, events);
    hub_metric_add(applied, st->applied);
    hub_metric_add(dup, st->duplicates);
    hub_metric_add(ignored, st->ignored);
    hub_metric_add(dead, ndead);
    hub_metric_add(merged, st->views_deleted > st->forgotten
                               ? st->views_deleted - st->forgotten
                               : 0);
    hub_metric_add(refused, st->merges_refused);
    hub_metric_add(forgotten, st->forgotten);
    hub_metric_add(batches, 1);
    hub_metric_add(oversold, st->stock_oversold);
}

static int dead_letter(projector *p, const rd_kafka_message_t *m,
                       const char *error, hub_acks_t *acks, char *err,
                       size_t errlen) {
    hub_log_warn(p->o->label, "%s [%d] @%" PRId64 " to the dead-letter topic: %s",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset,
                 error);
    return hub_producer_dead_letter(p->producer, p->dlq, m, error, acks,
                                    p->cfg->kafka.delivery_timeout_ms, err,
                                    errlen);
}

static int publish_one(uint64_t seq, const char *id, const void *view,
                       size_t len, void *opaque) {
    outbox *ob = opaque;
    projector *p = ob->p;
    const void *v = NULL; /* gone: a tombstone */
    if (view) {
        hub_buf_reset(&ob->value);
        uint8_t head[5] = {0};
        hub_be32(head + 1, (uint32_t)p->c360_id);
        hub_buf_append(&ob->value, head, 5);
        if (hub_buf_append(&ob->value, view, len))
            return ob->rc = HUB_ENOMEM;
        v = ob->value.data;
        len = ob->value.len;
    }
    ob->rc = hub_producer_send(p->producer, p->changelog, RD_KAFKA_PARTITION_UA,
                               id, strlen(id), v, len, NULL, 0, ob->acks,
                               p->cfg->kafka.delivery_timeout_ms, ob->err,
                               sizeof ob->err);
    ob->last = seq;
    ob->sent++;
    return ob->rc;
}

/* The outbox's thread: produces the changes it was given. */
static void *outbox_run(void *arg) {
    outbox *ob = arg;
    for (size_t i = 0; i < ob->nchg && !ob->rc; i++)
        publish_one(ob->chg[i].seq, ob->chg[i].id, ob->chg[i].view,
                    ob->chg[i].len, ob);
    return NULL;
}

/* Copies the changes of the batch just committed (valid only until the
 * next batch begins) into the outbox and produces them on its thread,
 * or here when no thread can be started. */
static int outbox_start(outbox *ob, const hub_c360_change_t *chg, size_t n) {
    hub_buf_reset(&ob->views);
    if (hub_array_reserve(&ob->chg, &ob->capchg, n, sizeof *ob->chg))
        return HUB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        ob->chg[i] = chg[i];
        if (chg[i].view &&
            hub_buf_append(&ob->views, chg[i].view, chg[i].len))
            return HUB_ENOMEM;
    }
    /* the views back to back, in order: pointers once the buffer is full */
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (ob->chg[i].view) {
            ob->chg[i].view = ob->views.data + at;
            at += ob->chg[i].len;
        }
    }
    ob->nchg = n;
    if (!(ob->acks = hub_acks_new()))
        return HUB_ENOMEM;
    if (pthread_create(&ob->thread, NULL, outbox_run, ob) == 0)
        ob->running = 1;
    else
        outbox_run(ob);
    return 0;
}

/* Waits for the records in flight; on success they count as published
 * (the mark is stored with the next batch, or by settle()). */
static int await_outbox(projector *p, char *err, size_t errlen) {
    outbox *ob = &p->out;
    if (ob->running) {
        pthread_join(ob->thread, NULL);
        ob->running = 0;
    }
    if (!ob->acks)
        return 0;
    int rc = ob->rc ? hub_fail(err, errlen, ob->rc, "changelog: %s",
                               ob->err[0] ? ob->err : hub_strerror(ob->rc))
                    : hub_acks_wait(ob->acks,
                                    p->cfg->kafka.delivery_timeout_ms + 5000,
                                    err, errlen);
    if (rc) {
        hub_acks_free(ob->acks); /* what is in flight frees it */
        ob->acks = NULL;
        return rc;
    }
    if (ob->last > p->acked)
        p->acked = ob->last;
    p->stats.changelog_published += ob->sent;
    hub_acks_free(ob->acks);
    ob->acks = NULL;
    ob->sent = 0;
    return 0;
}

/* Stores the published mark when it moved and no batch will. */
static int settle(projector *p) {
    if (p->acked <= p->stored)
        return 0;
    int rc = hub_c360_set_published_seq(p->c360, p->acked);
    if (!rc)
        p->stored = p->acked;
    return rc;
}

/*
 * Produces the changes after the published mark. The usual case is the
 * batch just committed: its changes come from memory and are left in
 * flight while the next batch is applied (acknowledged before the one
 * after is produced); a backlog (after a restart) is read from the
 * change table and waited for. A crash between producing and storing
 * the mark produces those changes again: the topic is compacted and the
 * records are the same.
 */
static int publish_changelog(projector *p, char *err, size_t errlen) {
    int rc = await_outbox(p, err, errlen);
    if (rc)
        return rc;
    outbox *ob = &p->out;
    ob->rc = 0;
    ob->err[0] = '\0';
    const hub_c360_change_t *chg;
    size_t n = hub_c360_last_changes(p->c360, &chg);
    if (n && chg[0].seq == p->acked + 1)
        return outbox_start(ob, chg, n); /* in flight */
    for (uint64_t from = p->acked;;) {
        if (!(ob->acks = hub_acks_new()))
            return HUB_ENOMEM;
        ob->last = from;
        rc = hub_c360_changes(p->c360, from, 10000, publish_one, ob);
        size_t sent = ob->sent;
        if (!rc)
            rc = await_outbox(p, err, errlen);
        if (!rc)
            rc = settle(p);
        if (rc || sent == 0) {
            if (ob->acks) {
                hub_acks_free(ob->acks);
                ob->acks = NULL;
            }
            return rc;
        }
        from = p->acked;
    }
}

/*
 * The daemon outlives a Kafka outage: changes Kafka did not acknowledge
 * stay after the published mark, and are produced again from the change
 * table after the next batch, or a second later when none comes, so a
 * record that times out does not stop `hub360 project` (or `up`) while
 * the adapters go on (tests/faults/test_kafka_killed.sh). --once still
 * fails: a batch job should say it did not finish. The store's own errors
 * always stop.
 */
static int changelog_or_retry(projector *p, char *err, size_t errlen) {
    int rc = publish_changelog(p, err, errlen);
    if (!rc || p->o->once ||
        (rc != HUB_EKAFKA && rc != HUB_ETIMEDOUT && rc != HUB_EAGAIN)) {
        p->changelog_retry = 0;
        return rc;
    }
    hub_log_warn(p->o->label, "%s; produced again in a second", err);
    p->changelog_retry = hub_time_mono_ms() + 1000;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Batches                                                             */
/* ------------------------------------------------------------------ */

static int cmp_msg_key(const void *a, const void *b) {
    const rd_kafka_message_t *x = *(rd_kafka_message_t *const *)a,
                             *y = *(rd_kafka_message_t *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int r = n ? memcmp(x->key, y->key, n) : 0;
    if (r)
        return r;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* The store's map is full, wherever in the batch it showed (a put while
 * applying, the commit): one message that names the setting. The batch
 * was aborted, so the stored offsets have not moved. */
static int store_full(const projector *p, char *err, size_t errlen) {
    return hub_fail(err, errlen, HUB_EFULL,
                    "the LMDB map of %s is full (projector.map_size is %" PRId64
                    " bytes): nothing of this batch was kept and the stored "
                    "offsets are unmoved; raise projector.map_size and "
                    "restart",
                    p->o->store, p->cfg->projector.map_size);
}

static int apply_batch(projector *p, rd_kafka_message_t **msgs, size_t n,
                       char *err, size_t errlen) {
    int rc = hub_c360_begin(p->c360);
    if (rc)
        return hub_fail(err, errlen, rc, "starting a batch: %s",
                        hub_store_strerror(rc));
    hub_acks_t *acks = NULL;
    /* The views do not depend on the order events are applied in, so a
     * batch goes in key order (the entity key): the store's pages are then
     * visited in order too. A partition's offset is its highest. */
    hub_sort(msgs, n, sizeof *msgs, cmp_msg_key);
    /* decoded on the other cores while applied, in that order */
    hub_c360_msg_t *batch = malloc((n ? n : 1) * sizeof *batch);
    if (!batch)
        rc = HUB_ENOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        rd_kafka_message_t *m = msgs[i];
        batch[i] = (hub_c360_msg_t){rd_kafka_topic_name(m->rkt), m->partition,
                                    m->offset, m->key, m->key_len,
                                    m->payload, m->len};
    }
    if (!rc)
        rc = hub_c360_prepare(p->c360, batch, n);
    size_t ndead = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        rd_kafka_message_t *m = msgs[i];
        hub_c360_result_t res;
        rc = hub_c360_apply(p->c360, &batch[i], &res);
        if (rc) {
            hub_fail(err, errlen, rc, "applying %s [%d] @%" PRId64 ": %s",
                     batch[i].topic, (int)m->partition, m->offset,
                     hub_store_strerror(rc));
            break;
        }
        if (res.outcome == HUB_C360_DEAD) {
            if (!acks && !(acks = hub_acks_new())) {
                rc = HUB_ENOMEM;
                break;
            }
            rc = dead_letter(p, m, res.error, acks, err, errlen);
            p->stats.dead++;
            ndead++;
        }
    }
    free(batch);
    /* dead letters must be safe before the batch moves past them */
    if (!rc && acks)
        rc = hub_acks_wait(acks, p->cfg->kafka.delivery_timeout_ms + 5000,
                           err, errlen);
    hub_c360_stats_t st;
    uint64_t mark = p->acked;
    if (!rc && mark > p->stored) /* the changelog's mark rides along */
        rc = hub_c360_set_published_seq(p->c360, mark);
    if (rc) {
        hub_c360_abort(p->c360);
    } else {
        rc = hub_c360_commit(p->c360, &st, err, errlen);
        if (!rc)
            p->stored = mark;
    }
    hub_acks_free(acks);
    if (rc == HUB_EFULL)
        return store_full(p, err, errlen);
    if (rc)
        return rc;
    p->stats.batches++;
    p->stats.events += n;
    p->stats.applied += st.applied;
    p->stats.duplicates += st.duplicates;
    p->stats.ignored += st.ignored;
    p->stats.views_written += st.views_written;
    p->stats.views_deleted += st.views_deleted;
    p->stats.merges_refused += st.merges_refused;
    count_batch(n, ndead, &st);
    /* for lag monitoring only: the store holds the real offsets */
    rd_kafka_topic_partition_list_t *commit =
        p->o->group ? rd_kafka_topic_partition_list_new(64) : NULL;
    for (int t = 0; t < NTOPICS; t++) {
        for (int32_t i = 0; i < p->tp[t].n; i++) {
            part *x = &p->tp[t].v[i];
            if (commit && x->touched)
                rd_kafka_topic_partition_list_add(commit, p->topics[t], i)
                    ->offset = x->seen;
            x->touched = 0;
            x->next = x->seen;
        }
    }
    if (commit) {
        if (commit->cnt)
            rd_kafka_commit(p->rk, commit, 1);
        rd_kafka_topic_partition_list_destroy(commit);
    }
    return 0;
}

/* Catching up, the batches are full, and the memory of one (its arena
 * chunks, the heap's free space) is kept for the next. The first batch
 * window that ends short of full after a full one (caught up) gives it
 * back to the system, so that a daemon that caught up with a backlog
 * does not keep the backlog's memory. Not after every batch: the next
 * full one would fault the pages in and zero them again. */
static void give_back(projector *p, int full) {
    if (p->was_full && !full) {
        hub_c360_trim(p->c360);
#ifdef __GLIBC__
        malloc_trim(0);
#endif
    }
    p->was_full = full;
}

/* The daemon follows `hub360 rebuild`: a new generation behind the link. */
static int follow_swap(projector *p, char *err, size_t errlen) {
    char now[PATH_MAX];
    if (hub_store_target(p->o->store, now, sizeof now) ||
        strcmp(now, p->store_target) == 0)
        return 0;
    hub_log_info(p->o->label, "the store was rebuilt (%s); switching to it",
                 now);
    int rc = await_outbox(p, err, errlen);
    if (!rc)
        rc = settle(p);
    if (rc)
        return rc;
    hub_c360_close(p->c360);
    p->c360 = NULL;
    rc = hub_c360_open(p->cfg, p->o->store, p->codec, &p->c360, err, errlen);
    if (rc)
        return rc;
    p->acked = p->stored = hub_c360_published_seq(p->c360);
    snprintf(p->store_target, sizeof p->store_target, "%s", now);
    char *cluster = hub_bus_cluster_id(p->rk, 10000);
    if (cluster)
        rc = keep_cluster(p, cluster, err, errlen);
    free(cluster);
    if (rc)
        return rc;
    rd_kafka_topic_partition_list_t *asg = NULL;
    if (rd_kafka_assignment(p->rk, &asg) == 0 && asg) {
        place(p, asg);
        rd_kafka_assign(p->rk, asg);
        rd_kafka_topic_partition_list_destroy(asg);
    }
    return 0;
}

static void progress(projector *p, int final) {
    double secs = (double)(hub_time_mono_ms() - p->started) / 1000.0;
    double rate = secs > 0 ? (double)p->stats.events / secs : 0;
    int64_t l = p->o->once ? lag(p) : -1;
    char eta[32] = "";
    if (l > 0 && rate > 0)
        snprintf(eta, sizeof eta, ", ETA %.0fs", (double)l / rate);
    fprintf(stderr, "\r[%s] %" PRIu64 " events, %.0f events/s", p->o->label,
            p->stats.events, rate);
    if (l >= 0)
        fprintf(stderr, ", lag %" PRId64 "%s", l, eta);
    fprintf(stderr, "   %s", final ? "\n" : "");
}

int hub_projector_run(const hub_config_t *cfg, const hub_projector_opts_t *o,
                      hub_projector_stats_t *stats, char *err,
                      size_t errlen) {
    projector pr = {.cfg = cfg, .o = o};
    projector *p = &pr;
    p->out.p = p;
    p->started = hub_time_mono_ms();
    int rc = hub_catalog_open(&cfg->schema_registry, &p->cat, err, errlen);
    if (!rc)
        rc = hub_codec_new(p->cat, cfg->kafka.topic_prefix, &p->codec, err,
                           errlen);
    if (!rc)
        rc = hub_producer_new(cfg, o->bootstrap, &p->producer, err, errlen);
    if (!rc)
        rc = hub_c360_open(cfg, o->store, p->codec, &p->c360, err, errlen);
    if (!rc) {
        p->acked = p->stored = hub_c360_published_seq(p->c360);
        hub_store_target(o->store, p->store_target, sizeof p->store_target);
        char subject[300];
        snprintf(subject, sizeof subject, "%scustomer360.changelog-value",
                 cfg->kafka.topic_prefix);
        rc = hub_catalog_writer_id(p->cat, HUB_SCHEMA_CUSTOMER360, subject,
                                   &p->c360_id, err, errlen);
    }
    static const char *const names[NTOPICS] = {
        "crm.events", "erp.events", "scrm.events", "control.events"};
    for (int t = 0; t < NTOPICS; t++)
        hub_config_topic(cfg, names[t], p->topics[t], sizeof p->topics[t]);
    hub_config_topic(cfg, "deadletter", p->dlq, sizeof p->dlq);
    hub_config_topic(cfg, "customer360.changelog", p->changelog,
                     sizeof p->changelog);
    if (!rc) {
        const char *out[] = {p->changelog, p->dlq};
        hub_producer_know_topics(p->producer, out, 2);
    }
    if (!rc)
        rc = consumer_open(p, err, errlen);
    /* changes a crash left unpublished */
    if (!rc && o->changelog)
        rc = changelog_or_retry(p, err, errlen);

    size_t cap = (size_t)cfg->projector.batch_events;
    rd_kafka_message_t **msgs = calloc(cap, sizeof *msgs);
    rd_kafka_queue_t *q = p->rk ? rd_kafka_queue_get_consumer(p->rk) : NULL;
    if (!rc && (!msgs || !q))
        rc = HUB_ENOMEM;
    int64_t last_progress = hub_time_mono_ms();
    while (!rc && !hub_stop_requested && !(o->once && caught_up(p))) {
        size_t n = 0;
        int64_t deadline = hub_time_mono_ms() + cfg->projector.batch_ms;
        char fatal[512] = "";
        int fenced = 0;
        while (n < cap && !hub_stop_requested && !fatal[0]) {
            int64_t left = deadline - hub_time_mono_ms();
            if (left <= 0)
                break;
            ssize_t got = rd_kafka_consume_batch_queue(
                q, (int)(left < 100 ? left : 100), msgs + n, cap - n);
            for (ssize_t i = 0; i < got; i++) {
                rd_kafka_message_t *m = msgs[n + (size_t)i];
                int t;
                part *x = msg_part(p, m, &t);
                if (!m->err) {
                    if (x) {
                        collected(p, x, m->offset + 1);
                        x->touched = 1;
                    }
                    continue;
                }
                /* not a message: an event of the consumer; at an end,
                 * every message before it is already collected */
                if (x && m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    collected(p, x, m->offset);
                else if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
                    fenced = rd_kafka_fatal_error(p->rk, fatal,
                                                  sizeof fatal) ==
                             RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID;
                    if (!fatal[0])
                        snprintf(fatal, sizeof fatal, "%s",
                                 rd_kafka_message_errstr(m));
                } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    hub_log_warn(o->label, "%s", rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                memmove(msgs + n + i, msgs + n + i + 1,
                        (size_t)(got - i - 1) * sizeof *msgs);
                got--;
                i--;
            }
            if (got > 0)
                n += (size_t)got;
            if (o->once && caught_up(p))
                break; /* the ends are in */
        }
        if (n) {
            rc = apply_batch(p, msgs, n, err, errlen);
            for (size_t i = 0; i < n; i++)
                rd_kafka_message_destroy(msgs[i]);
            if (!rc && o->changelog)
                rc = changelog_or_retry(p, err, errlen);
        } else if (!rc && p->changelog_retry &&
                   hub_time_mono_ms() >= p->changelog_retry) {
            rc = changelog_or_retry(p, err, errlen);
        }
        if (!rc && fatal[0]) { /* the queue was the old consumer's */
            rd_kafka_queue_destroy(q);
            q = NULL;
            rc = consumer_restart(p, fatal, fenced, err, errlen);
            if (!rc && p->rk && !(q = rd_kafka_queue_get_consumer(p->rk)))
                rc = HUB_ENOMEM;
        }
        if (!rc)
            give_back(p, n == cap);
        if (!rc && o->group && !o->once)
            rc = follow_swap(p, err, errlen);
        int64_t now = hub_time_mono_ms();
        if (o->progress && now - last_progress >= 1000) {
            progress(p, 0);
            last_progress = now;
        }
    }
    if (o->changelog) { /* what is in flight, acknowledged and marked */
        char e2[512];
        int rc2 = await_outbox(p, rc ? e2 : err, rc ? sizeof e2 : errlen);
        if (!rc2 && p->c360)
            rc2 = settle(p);
        if (!rc)
            rc = rc2;
    }
    if (o->progress)
        progress(p, 1);
    p->stats.seconds = (double)(hub_time_mono_ms() - p->started) / 1000.0;
    if (stats)
        *stats = p->stats;
    if (q)
        rd_kafka_queue_destroy(q);
    free(msgs);
    consumer_close(p);
    hub_c360_close(p->c360);
    hub_buf_free(&p->out.value);
    hub_buf_free(&p->out.views);
    free(p->out.chg);
    hub_producer_free(p->producer);
    hub_codec_free(p->codec);
    hub_catalog_free(p->cat);
    for (int t = 0; t < NTOPICS; t++)
        free(p->tp[t].v);
    return rc;
}
