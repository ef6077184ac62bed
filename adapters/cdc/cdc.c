/*
 * hub360 - the CDC adapter: Debezium change events from Kafka topics,
 * through the source's mapping, onto hub360's event topics.
 *
 * Every source with cdc.topics gets a consumer of its own (group
 * cdc.group, "hub360.cdc.<source>" by default; auto commit off) and a
 * thread that works in batches: consume up to cdc.batch_records records
 * or for cdc.batch_time; map each one (debezium.h reads both shapes
 * JsonConverter writes), the batch's records on every core (a mapping
 * and a codec per thread: neither is thread-safe); produce the events,
 * in the records' order, and the dead letters; once Kafka acknowledged
 * all of them, and only then, commit the batch's offsets (the last
 * offset + 1 of each partition). Two batches overlap: while Kafka
 * acknowledges one, the next is consumed and mapped; it is produced
 * only after the one before was acknowledged and committed, so events
 * keep the records' order even when a batch must be produced again. A
 * crash anywhere before a commit consumes that batch again, which is
 * harmless: the events' ids derive from the change's own position in
 * the database's log (the mapping's `id`), so the re-produced events
 * are the same events.
 *
 * What a record becomes:
 * - a tombstone (null value) is skipped and counted;
 * - a value that is not JSON, not a change event, or that the mapping or
 *   the schemas reject goes to the dead-letter topic with the headers
 *   error, topic, partition and offset, and the batch goes on;
 * - anything else reaches the mapping (ops c, u, d, r alike) with
 *   $meta.via "cdc", $meta.resource the table (hub_debezium_resource)
 *   and $meta.headers {key, topic, partition, offset}.
 *
 * When Kafka does not acknowledge a batch, the whole batch is produced
 * again after a pause (1 s, doubling up to 30 s) until it is, or until
 * stop(): then it is left uncommitted for the next run to consume again.
 *
 * Simplification: a rebalance in the middle of a batch is not waited
 * for; the batch's commit may then be refused for partitions that moved
 * (logged), and their new owner consumes those records again. Same ids,
 * so nothing is counted twice downstream.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "debezium.h"
#include "errors.h"
#include "log.h"
#include "metrics.h"
#include "par.h"
#include "source.h"
#include "timefmt.h"

#define LOG "cdc"
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000

/* A record of the batch bound for the dead-letter topic. */
typedef struct dead {
    size_t msg;           /* its index in the batch */
    char error[512];
} dead_t;

/* What a record of the batch became. */
typedef struct rec {
    int rc;               /* 0: mapped (events in mapped); REC_TOMBSTONE;
                             REC_DEAD (why says why); else an error */
    int by_mapping;       /* REC_DEAD: the mapping or the schemas refused */
    char why[1024];
    hub_mapped_t mapped;
} rec_t;

#define REC_TOMBSTONE 1
#define REC_DEAD 2
#define ALONE 16 /* a batch this small is mapped on the feed's thread */

typedef struct feed_stats {
    uint64_t records, events, tombstones, dead, batches;
} feed_stats_t;

struct cdc;

/* A batch: its records, what each became, and its sends in flight. */
typedef struct batch {
    rd_kafka_message_t **msgs;
    size_t n;             /* records in the batch */
    rec_t *recs;          /* what each became */
    size_t nevents;       /* their events */
    size_t tombstones;    /* records skipped */
    char received_at[HUB_TIME_MAXLEN]; /* $meta.received_at of the batch */
    dead_t *dead;
    size_t ndead, dead_cap;
    hub_acks_t *acks;     /* what was produced of it, until settled */
    int send_rc;          /* the error that stopped its producing, or 0 */
    char send_err[512];
} batch_t;

/* One source: its consumer, mapping and two batches: the one being
 * consumed and mapped, and the one Kafka is acknowledging. */
typedef struct feed {
    struct cdc *cdc;
    const hub_source_config_t *cfg;
    hub_source_t *src[HUB_PAR_MAX]; /* thread t's; [0] the feed's own */
    rd_kafka_t *rk;
    int closed;           /* rd_kafka_consumer_close was called */
    pthread_t thread;
    int started;
    hub_metric_t *events, *dead_letters; /* acknowledged, of this source */
    char group[256];
    batch_t b[2];
    feed_stats_t stats;
    char last_error[256]; /* the consumer's, logged when it changes */
} feed_t;

typedef struct cdc {
    const hub_adapter_env_t *env;
    char dlq[256];
    feed_t *feeds;
    size_t n;
    atomic_int stop;
} cdc_t;

static int stopping(cdc_t *c) { return atomic_load(&c->stop); }

/* Waits ms, or less when stop() is called (a retry's pause). */
static void pause_ms(cdc_t *c, int64_t ms) {
    for (int64_t end = hub_time_mono_ms() + ms;
         !stopping(c) && hub_time_mono_ms() < end;) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* ------------------------------------------------------------------ */
/* Set up and tear down                                                */
/* ------------------------------------------------------------------ */

static int serves(const hub_source_config_t *s) { return s->cdc.topics.n > 0; }

/* Lets the batch's records go (what was produced of it was waited for:
 * settle). */
static void batch_release(batch_t *b) {
    for (size_t i = 0; i < b->n; i++)
        rd_kafka_message_destroy(b->msgs[i]);
    b->n = 0;
    b->ndead = 0;
}

static void feed_free(feed_t *f) {
    if (f->rk) {
        if (!f->closed)
            rd_kafka_consumer_close(f->rk);
        rd_kafka_destroy(f->rk);
    }
    for (size_t k = 0; k < 2; k++) {
        batch_t *b = &f->b[k];
        batch_release(b);
        free(b->msgs);
        free(b->dead);
        for (size_t i = 0; b->recs && i < (size_t)f->cfg->cdc.batch_records;
             i++)
            hub_mapped_free(&b->recs[i].mapped);
        free(b->recs);
    }
    for (size_t t = 0; t < HUB_PAR_MAX; t++)
        hub_source_free(f->src[t]);
}

static void destroy(void *ctx) {
    cdc_t *c = ctx;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        feed_free(&c->feeds[i]);
    free(c->feeds);
    free(c);
}

/* The consumer of f, subscribed to its topics (a name that starts with
 * "^" is a regular expression, as librdkafka reads it). */
static int feed_consumer(cdc_t *c, feed_t *f, char *err, size_t errlen) {
    const hub_cdc_config_t *cc = &f->cfg->cdc;
    if (cc->group[0])
        snprintf(f->group, sizeof(f->group), "%s", cc->group);
    else
        snprintf(f->group, sizeof(f->group), "hub360.cdc.%s", f->cfg->name);
    int rc = hub_consumer_new(c->env->cfg, c->env->bootstrap, f->group, 0,
                              &f->rk, err, errlen);
    if (rc)
        return rc;
    return hub_consumer_subscribe(f->rk, (const char *const *)cc->topics.v,
                                  cc->topics.n, err, errlen);
}

static int init(const hub_adapter_env_t *env,
                const hub_source_config_t *const *sources, size_t n,
                void **ctx, char *err, size_t errlen) {
    cdc_t *c = calloc(1, sizeof(*c));
    if (!c || !(c->feeds = calloc(n, sizeof(*c->feeds)))) {
        free(c);
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    }
    c->env = env;
    hub_config_topic(env->cfg, "deadletter", c->dlq, sizeof(c->dlq));
    *ctx = c;
    for (size_t i = 0; i < n; i++) {
        feed_t *f = &c->feeds[c->n++];
        f->cdc = c;
        f->cfg = sources[i];
        f->events = hub_adapter_metric("events", f->cfg->name, "cdc");
        f->dead_letters = hub_adapter_metric("dead_letters", f->cfg->name,
                                             "cdc");
        char why[512];
        int rc = hub_source_open(f->cfg, env->cat,
                                 env->cfg->kafka.topic_prefix, &f->src[0],
                                 why, sizeof(why));
        size_t cap = (size_t)f->cfg->cdc.batch_records;
        for (size_t k = 0; rc == 0 && k < 2; k++)
            if (!(f->b[k].msgs = calloc(cap, sizeof(*f->b[k].msgs))) ||
                !(f->b[k].recs = calloc(cap, sizeof(*f->b[k].recs))))
                rc = hub_fail(why, sizeof(why), HUB_ENOMEM, "out of memory");
        if (rc == 0)
            rc = feed_consumer(c, f, why, sizeof(why));
        if (rc)
            return hub_fail(err, errlen, rc, "source %s: %s", f->cfg->name,
                            why);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* One record                                                          */
/* ------------------------------------------------------------------ */

static int add_dead(batch_t *b, size_t msg, const char *fmt, const char *why) {
    if (b->ndead == b->dead_cap &&
        hub_array_grow(&b->dead, &b->dead_cap, b->ndead, sizeof(*b->dead), 8))
        return HUB_ENOMEM;
    dead_t *d = &b->dead[b->ndead++];
    d->msg = msg;
    if (snprintf(d->error, sizeof(d->error), fmt, why) >=
        (int)sizeof(d->error)) /* the header says it was cut */
        memcpy(d->error + sizeof(d->error) - 4, "...", 4);
    return 0;
}

/* $meta for a change event of message m. NULL when out of memory. */
static json_t *record_meta(const rd_kafka_message_t *m, const json_t *payload,
                           const char *received_at) {
    char table[512];
    json_t *resource =
        hub_debezium_resource(payload, table, sizeof(table)) == 0
            ? json_string(table)
            : json_null();
    json_t *headers = json_pack(
        "{sosssIsI}", "key", hub_debezium_key(m->key, m->key_len), "topic",
        rd_kafka_topic_name(m->rkt), "partition", (json_int_t)m->partition,
        "offset", (json_int_t)m->offset);
    return json_pack("{sssosososs}", "via", "cdc", "resource", resource,
                     "headers", headers, "query", json_object(),
                     "received_at", received_at);
}

/* A batch being mapped on every core. */
typedef struct mapping {
    feed_t *f;
    batch_t *b;
} mapping_t;

/* Maps the batch's record i on thread t into b->recs[i]: its events, or
 * a tombstone, or why it goes to the dead-letter topic. */
static void map_one(void *arg, size_t i, size_t t) {
    const mapping_t *mp = arg;
    feed_t *f = mp->f;
    rec_t *r = &mp->b->recs[i];
    const rd_kafka_message_t *m = mp->b->msgs[i];
    hub_mapped_reset(&r->mapped);
    if (!f->src[t] && /* thread t's first record: its own mapping */
        (r->rc = hub_source_open(f->cfg, f->cdc->env->cat,
                                 f->cdc->env->cfg->kafka.topic_prefix,
                                 &f->src[t], r->why, sizeof(r->why))))
        return;
    json_t *root = NULL;
    const json_t *payload = NULL;
    int rc = hub_debezium_parse(m->payload, m->len, &root, &payload, r->why,
                                sizeof(r->why));
    r->by_mapping = 0;
    if (rc) {
        r->rc = rc == HUB_ENOMEM ? rc : REC_DEAD;
        return;
    }
    if (!payload) {
        json_decref(root);
        r->rc = REC_TOMBSTONE;
        return;
    }
    hub_debezium_logical(root, (json_t *)payload);
    json_t *meta = record_meta(m, payload, mp->b->received_at);
    rc = meta ? hub_source_map(f->src[t], payload, meta, &r->mapped, NULL,
                               r->why, sizeof(r->why))
              : HUB_ENOMEM;
    json_decref(meta);
    json_decref(root);
    r->rc = rc == 0 || rc == HUB_ENOMEM ? rc : REC_DEAD;
    r->by_mapping = 1;
}

/* Takes the batch's mapped records in order: counts them and marks the
 * dead letters. 0, or the first record's error (HUB_ENOMEM, most
 * likely, or a thread's mapping that did not compile), said in err. */
static int take_mapped(batch_t *b, char *err, size_t errlen) {
    b->nevents = b->tombstones = 0;
    for (size_t i = 0; i < b->n; i++) {
        const rec_t *r = &b->recs[i];
        if (r->rc == REC_TOMBSTONE) {
            b->tombstones++;
        } else if (r->rc == REC_DEAD) {
            if (add_dead(b, i, r->by_mapping ? "mapping: %s" : "%s", r->why))
                return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
        } else if (r->rc) {
            return hub_fail(err, errlen, r->rc, "%s",
                            r->rc == HUB_ENOMEM ? "out of memory" : r->why);
        } else {
            b->nevents += r->mapped.n;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* One batch                                                           */
/* ------------------------------------------------------------------ */

/* Collects into b up to batch_records messages for at most batch_time
 * (less when stop() is called). Consumer errors are logged when they
 * change. */
static void collect(feed_t *f, batch_t *b, rd_kafka_queue_t *q) {
    size_t cap = (size_t)f->cfg->cdc.batch_records;
    int64_t deadline = hub_time_mono_ms() + f->cfg->cdc.batch_ms;
    while (b->n < cap && !stopping(f->cdc)) {
        int64_t left = deadline - hub_time_mono_ms();
        if (left <= 0)
            break;
        ssize_t got = rd_kafka_consume_batch_queue(
            q, (int)(left < 100 ? left : 100), b->msgs + b->n, cap - b->n);
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = b->msgs[b->n + (size_t)i];
            if (!m->err)
                continue;
            const char *what = rd_kafka_message_errstr(m);
            if (strncmp(what, f->last_error, sizeof(f->last_error) - 1)) {
                hub_log_warn(LOG, "source %s: %s", f->cfg->name, what);
                snprintf(f->last_error, sizeof(f->last_error), "%s", what);
            }
            rd_kafka_message_destroy(m);
            memmove(b->msgs + b->n + i, b->msgs + b->n + i + 1,
                    (size_t)(got - i - 1) * sizeof(*b->msgs));
            got--;
            i--;
        }
        if (got > 0)
            b->n += (size_t)got;
    }
}

/* Maps the batch on every core and logs its dead letters. 0, or the
 * error that leaves it uncommitted (in err). */
static int map_batch(feed_t *f, batch_t *b, char *err, size_t errlen) {
    hub_time_format(hub_time_now_ms(), b->received_at);
    mapping_t mp = {f, b};
    hub_par_for(b->n, 8, b->n < ALONE ? 1 : 0, map_one, &mp);
    int rc = take_mapped(b, err, errlen);
    for (size_t i = 0; rc == 0 && i < b->ndead; i++) {
        const rd_kafka_message_t *m = b->msgs[b->dead[i].msg];
        hub_log_warn(LOG, "source %s: %s [%d] @%" PRId64 " to the "
                          "dead-letter topic: %s",
                     f->cfg->name, rd_kafka_topic_name(m->rkt),
                     (int)m->partition, m->offset, b->dead[i].error);
    }
    return rc;
}

/* Produces the batch's events and dead letters, in order, without
 * waiting for Kafka: await() does. Stops at the first error, kept in
 * the batch for await() to return. HUB_ENOMEM when not even that. */
static int produce(feed_t *f, batch_t *b) {
    const hub_adapter_env_t *env = f->cdc->env;
    int64_t timeout = env->cfg->kafka.delivery_timeout_ms;
    if (!(b->acks = hub_acks_new()))
        return HUB_ENOMEM;
    int rc = 0;
    char *err = b->send_err;
    size_t errlen = sizeof(b->send_err);
    for (size_t i = 0; rc == 0 && i < b->n; i++)
        if (b->recs[i].rc == 0)
            rc = hub_mapped_send(&b->recs[i].mapped, env->cfg, env->producer,
                                 b->acks, timeout, err, errlen);
    for (size_t i = 0; rc == 0 && i < b->ndead; i++) {
        const rd_kafka_message_t *m = b->msgs[b->dead[i].msg];
        rc = hub_producer_dead_letter(env->producer, f->cdc->dlq, m,
                                      b->dead[i].error, b->acks, timeout, err,
                                      errlen);
    }
    b->send_rc = rc;
    return 0;
}

/* Waits for Kafka to acknowledge what produce() sent of the batch. 0, or
 * the first error in err. */
static int await(feed_t *f, batch_t *b, char *err, size_t errlen) {
    int64_t timeout = f->cdc->env->cfg->kafka.delivery_timeout_ms;
    int rc = b->send_rc;
    if (rc)
        snprintf(err, errlen, "%s", b->send_err);
    /* what was queued is waited for even after a failure (what is still
     * in flight then frees the group when reported) */
    int wrc = hub_acks_wait(b->acks, timeout + 5000, rc ? NULL : err,
                            rc ? 0 : errlen);
    hub_acks_free(b->acks);
    b->acks = NULL;
    if (rc == 0 && wrc == 0) {
        hub_metric_add(f->events, b->nevents);
        hub_metric_add(f->dead_letters, b->ndead);
    }
    return rc ? rc : wrc;
}

/* Commits the offset after the last record of each partition of the
 * batch. A refusal (a rebalance took the partition) is logged: the
 * records are consumed again, with the same event ids. */
static void commit(feed_t *f, const batch_t *b) {
    rd_kafka_topic_partition_list_t *offsets =
        rd_kafka_topic_partition_list_new(16);
    if (!offsets) {
        hub_log_warn(LOG, "source %s: out of memory committing offsets",
                     f->cfg->name);
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        const rd_kafka_message_t *m = b->msgs[i];
        const char *topic = rd_kafka_topic_name(m->rkt);
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(offsets, topic, m->partition);
        if (!tp)
            tp = rd_kafka_topic_partition_list_add(offsets, topic,
                                                   m->partition);
        if (tp->offset < m->offset + 1)
            tp->offset = m->offset + 1;
    }
    rd_kafka_resp_err_t e = rd_kafka_commit(f->rk, offsets, 0);
    if (e)
        hub_log_warn(LOG, "source %s: committing offsets: %s (the batch "
                          "will be consumed again)",
                     f->cfg->name, rd_kafka_err2str(e));
    for (int i = 0; !e && i < offsets->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &offsets->elems[i];
        if (tp->err)
            hub_log_warn(LOG, "source %s: committing %s [%d]: %s",
                         f->cfg->name, tp->topic, (int)tp->partition,
                         rd_kafka_err2str(tp->err));
    }
    rd_kafka_topic_partition_list_destroy(offsets);
}

/* Settles a produced batch: waits until Kafka acknowledged it, producing
 * it again after a pause (doubling) for as long as it does not and stop()
 * is not called; then commits it, and lets it go. 0, or the error that
 * left it uncommitted (the feed must not go on: a later commit would
 * skip it). */
static int settle(feed_t *f, batch_t *b) {
    char err[1024];
    int rc = await(f, b, err, sizeof(err));
    for (int64_t backoff = BACKOFF_FIRST_MS; rc && rc != HUB_ENOMEM &&
                                             !stopping(f->cdc);) {
        hub_log_warn(LOG, "source %s: the batch of %zu records was not "
                          "acknowledged (%s); producing it again in %" PRId64
                          " ms",
                     f->cfg->name, b->n, err, backoff);
        pause_ms(f->cdc, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        if ((rc = produce(f, b)) == 0)
            rc = await(f, b, err, sizeof(err));
    }
    if (rc == 0) {
        commit(f, b);
        f->stats.batches++;
        f->stats.records += b->n;
        f->stats.events += b->nevents;
        f->stats.tombstones += b->tombstones;
        f->stats.dead += b->ndead;
    } else {
        hub_log_error(LOG, "source %s: left a batch of %zu records "
                           "uncommitted: %s",
                      f->cfg->name, b->n,
                      rc == HUB_ENOMEM ? "out of memory" : err);
    }
    batch_release(b);
    return rc;
}

/* Consumes and maps a batch while Kafka acknowledges the one before;
 * settles that one, then produces the new one. Stops at the first batch
 * left uncommitted, or on stop(): then the batch Kafka is acknowledging
 * is settled, and the one being consumed is left uncommitted for the
 * next run (so that stopping waits for one batch, not two). */
static void *feed_main(void *arg) {
    feed_t *f = arg;
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(f->rk);
    int rc = q ? 0 : HUB_ENOMEM;
    batch_t *sent = NULL; /* produced, not settled */
    for (size_t k = 0; rc == 0 && !stopping(f->cdc); k ^= 1) {
        batch_t *b = &f->b[k];
        collect(f, b, q);
        char err[1024];
        int mrc = b->n && !stopping(f->cdc) ? map_batch(f, b, err, sizeof(err))
                                            : 0;
        if (sent)
            rc = settle(f, sent);
        sent = NULL;
        if (b->n && stopping(f->cdc)) {
            batch_release(b);
            break;
        }
        if (!b->n)
            continue;
        if (rc == 0 && mrc)
            hub_log_error(LOG, "source %s: left a batch of %zu records "
                               "uncommitted: %s",
                          f->cfg->name, b->n,
                          mrc == HUB_ENOMEM ? "out of memory" : err);
        rc = rc ? rc : mrc;
        if (rc == 0 && (rc = produce(f, b)) == 0)
            sent = b;
        else
            batch_release(b);
    }
    if (sent && settle(f, sent) && rc == 0)
        rc = HUB_EKAFKA;
    if (rc && !stopping(f->cdc))
        hub_log_error(LOG, "source %s: consuming stopped: %s", f->cfg->name,
                      hub_strerror(rc));
    if (q)
        rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(f->rk);
    f->closed = 1;
    hub_log_info(LOG, "source %s: stopped after %" PRIu64 " records: %" PRIu64
                      " events, %" PRIu64 " tombstones skipped, %" PRIu64
                      " dead letters, %" PRIu64 " batches committed",
                 f->cfg->name, f->stats.records, f->stats.events,
                 f->stats.tombstones, f->stats.dead, f->stats.batches);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Running                                                             */
/* ------------------------------------------------------------------ */

static void stop(void *ctx) {
    cdc_t *c = ctx;
    atomic_store(&c->stop, 1);
    for (size_t i = 0; i < c->n; i++)
        if (c->feeds[i].started) {
            pthread_join(c->feeds[i].thread, NULL);
            c->feeds[i].started = 0;
        }
}

static int start(void *ctx, char *err, size_t errlen) {
    cdc_t *c = ctx;
    for (size_t i = 0; i < c->n; i++) {
        feed_t *f = &c->feeds[i];
        if (pthread_create(&f->thread, NULL, feed_main, f)) {
            stop(c);
            return hub_fail(err, errlen, HUB_ENOMEM,
                            "source %s: cannot start a thread", f->cfg->name);
        }
        f->started = 1;
        hub_log_info(LOG, "source %s: consuming %zu topic(s) as group %s",
                     f->cfg->name, f->cfg->cdc.topics.n, f->group);
    }
    return 0;
}

const hub_adapter_plugin_t hub_adapter_cdc = {
    .name = "cdc",
    .desc = "Debezium change events from Kafka topics (cdc.topics)",
    .serves = serves,
    .init = init,
    .start = start,
    .stop = stop,
    .destroy = destroy,
};
