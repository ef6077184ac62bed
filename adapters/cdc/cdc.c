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
 * in the records' order, and the dead letters; wait
 * until Kafka acknowledged all of them; only then commit the batch's
 * offsets (the last offset + 1 of each partition). A crash anywhere
 * before the commit consumes the batch again, which is harmless: the
 * events' ids derive from the change's own position in the database's
 * log (the mapping's `id`), so the re-produced events are the same
 * events.
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

/* One source: its consumer, mapping and the batch in hand. */
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
    rd_kafka_message_t **msgs;
    size_t n;             /* records in the batch */
    rec_t *recs;          /* what each became */
    size_t nevents;       /* their events */
    char received_at[HUB_TIME_MAXLEN]; /* $meta.received_at of the batch */
    dead_t *dead;
    size_t ndead, dead_cap;
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

static void feed_free(feed_t *f) {
    if (f->rk) {
        if (!f->closed)
            rd_kafka_consumer_close(f->rk);
        rd_kafka_destroy(f->rk);
    }
    for (size_t i = 0; i < f->n; i++)
        rd_kafka_message_destroy(f->msgs[i]);
    free(f->msgs);
    free(f->dead);
    for (size_t i = 0; f->recs && i < (size_t)f->cfg->cdc.batch_records; i++)
        hub_mapped_free(&f->recs[i].mapped);
    free(f->recs);
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
        if (rc == 0 && (!(f->msgs = calloc((size_t)f->cfg->cdc.batch_records,
                                           sizeof(*f->msgs))) ||
                        !(f->recs = calloc((size_t)f->cfg->cdc.batch_records,
                                           sizeof(*f->recs)))))
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

static int add_dead(feed_t *f, size_t msg, const char *fmt, const char *why) {
    if (f->ndead == f->dead_cap &&
        hub_array_grow(&f->dead, &f->dead_cap, f->ndead, sizeof(*f->dead), 8))
        return HUB_ENOMEM;
    dead_t *d = &f->dead[f->ndead++];
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

/* Maps the batch's record i on thread t into f->recs[i]: its events, or
 * a tombstone, or why it goes to the dead-letter topic. */
static void map_one(void *arg, size_t i, size_t t) {
    feed_t *f = arg;
    rec_t *r = &f->recs[i];
    const rd_kafka_message_t *m = f->msgs[i];
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
    json_t *meta = record_meta(m, payload, f->received_at);
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
static int take_mapped(feed_t *f, char *err, size_t errlen) {
    f->nevents = 0;
    for (size_t i = 0; i < f->n; i++) {
        const rec_t *r = &f->recs[i];
        f->stats.records++;
        if (r->rc == REC_TOMBSTONE) {
            f->stats.tombstones++;
        } else if (r->rc == REC_DEAD) {
            if (add_dead(f, i, r->by_mapping ? "mapping: %s" : "%s", r->why))
                return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
        } else if (r->rc) {
            return hub_fail(err, errlen, r->rc, "%s",
                            r->rc == HUB_ENOMEM ? "out of memory" : r->why);
        } else {
            f->nevents += r->mapped.n;
        }
    }
    f->stats.events += f->nevents;
    return 0;
}

/* ------------------------------------------------------------------ */
/* One batch                                                           */
/* ------------------------------------------------------------------ */

/* Collects up to batch_records messages for at most batch_time (less
 * when stop() is called). Consumer errors are logged when they change. */
static void collect(feed_t *f, rd_kafka_queue_t *q) {
    size_t cap = (size_t)f->cfg->cdc.batch_records;
    int64_t deadline = hub_time_mono_ms() + f->cfg->cdc.batch_ms;
    while (f->n < cap && !stopping(f->cdc)) {
        int64_t left = deadline - hub_time_mono_ms();
        if (left <= 0)
            break;
        ssize_t got = rd_kafka_consume_batch_queue(
            q, (int)(left < 100 ? left : 100), f->msgs + f->n, cap - f->n);
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = f->msgs[f->n + (size_t)i];
            if (!m->err)
                continue;
            const char *what = rd_kafka_message_errstr(m);
            if (strncmp(what, f->last_error, sizeof(f->last_error) - 1)) {
                hub_log_warn(LOG, "source %s: %s", f->cfg->name, what);
                snprintf(f->last_error, sizeof(f->last_error), "%s", what);
            }
            rd_kafka_message_destroy(m);
            memmove(f->msgs + f->n + i, f->msgs + f->n + i + 1,
                    (size_t)(got - i - 1) * sizeof(*f->msgs));
            got--;
            i--;
        }
        if (got > 0)
            f->n += (size_t)got;
    }
}

/* Produces the batch's events and dead letters and waits for Kafka to
 * acknowledge them all. 0, or the first error in err. */
static int produce(feed_t *f, char *err, size_t errlen) {
    const hub_adapter_env_t *env = f->cdc->env;
    int64_t timeout = env->cfg->kafka.delivery_timeout_ms;
    hub_acks_t *acks = hub_acks_new();
    if (!acks)
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < f->n; i++)
        if (f->recs[i].rc == 0)
            rc = hub_mapped_send(&f->recs[i].mapped, env->cfg, env->producer,
                                 acks, timeout, err, errlen);
    for (size_t i = 0; rc == 0 && i < f->ndead; i++) {
        const rd_kafka_message_t *m = f->msgs[f->dead[i].msg];
        rc = hub_producer_dead_letter(env->producer, f->cdc->dlq, m,
                                      f->dead[i].error, acks, timeout, err,
                                      errlen);
    }
    /* what was queued is waited for even after a failure (what is still
     * in flight then frees the group when reported) */
    int wrc = hub_acks_wait(acks, timeout + 5000, rc ? NULL : err,
                            rc ? 0 : errlen);
    hub_acks_free(acks);
    if (rc == 0 && wrc == 0) {
        hub_metric_add(f->events, f->nevents);
        hub_metric_add(f->dead_letters, f->ndead);
    }
    return rc ? rc : wrc;
}

/* Commits the offset after the last record of each partition of the
 * batch. A refusal (a rebalance took the partition) is logged: the
 * records are consumed again, with the same event ids. */
static void commit(feed_t *f) {
    rd_kafka_topic_partition_list_t *offsets =
        rd_kafka_topic_partition_list_new(16);
    if (!offsets) {
        hub_log_warn(LOG, "source %s: out of memory committing offsets",
                     f->cfg->name);
        return;
    }
    for (size_t i = 0; i < f->n; i++) {
        const rd_kafka_message_t *m = f->msgs[i];
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

/* Maps, produces (until acknowledged or stopped) and commits the batch
 * in hand, then lets it go. 0, or the error that left it uncommitted
 * (the feed must not go on: a later commit would skip it). */
static int finish_batch(feed_t *f) {
    hub_time_format(hub_time_now_ms(), f->received_at);
    hub_par_for(f->n, 8, f->n < ALONE ? 1 : 0, map_one, f);
    char err[1024];
    int rc = take_mapped(f, err, sizeof(err));
    for (size_t i = 0; rc == 0 && i < f->ndead; i++) {
        const rd_kafka_message_t *m = f->msgs[f->dead[i].msg];
        hub_log_warn(LOG, "source %s: %s [%d] @%" PRId64 " to the "
                          "dead-letter topic: %s",
                     f->cfg->name, rd_kafka_topic_name(m->rkt),
                     (int)m->partition, m->offset, f->dead[i].error);
    }
    for (int64_t backoff = BACKOFF_FIRST_MS; rc == 0;) {
        rc = produce(f, err, sizeof(err));
        if (rc == 0 || stopping(f->cdc))
            break;
        hub_log_warn(LOG, "source %s: the batch of %zu records was not "
                          "acknowledged (%s); producing it again in %" PRId64
                          " ms",
                     f->cfg->name, f->n, err, backoff);
        pause_ms(f->cdc, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        rc = 0;
    }
    if (rc == 0) {
        commit(f);
        f->stats.batches++;
        f->stats.dead += f->ndead;
    } else {
        hub_log_error(LOG, "source %s: left a batch of %zu records "
                           "uncommitted: %s",
                      f->cfg->name, f->n,
                      rc == HUB_ENOMEM ? "out of memory" : err);
    }
    for (size_t i = 0; i < f->n; i++)
        rd_kafka_message_destroy(f->msgs[i]);
    f->n = 0;
    f->ndead = 0;
    return rc;
}

static void *feed_main(void *arg) {
    feed_t *f = arg;
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(f->rk);
    int rc = q ? 0 : HUB_ENOMEM;
    while (rc == 0 && !stopping(f->cdc)) {
        collect(f, q);
        if (f->n)
            rc = finish_batch(f);
    }
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
