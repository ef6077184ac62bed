/*
 * hub360 - the Kafka bus on librdkafka.
 */
#include "bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "hash.h"
#include "log.h"
#include "metrics.h"
#include "timefmt.h"

/* ------------------------------------------------------------------ */
/* Ack groups                                                          */
/* ------------------------------------------------------------------ */

struct hub_acks {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t pending, delivered, failed;
    int released; /* hub_acks_free came first: the last report frees */
    char first_error[256];
};

static size_t acks_live; /* groups not yet destroyed, for tests */

static void cond_init_monotonic(pthread_cond_t *c) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(c, &attr);
    pthread_condattr_destroy(&attr);
}

/* Absolute CLOCK_MONOTONIC time ms from now. */
static struct timespec deadline_in(int64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

hub_acks_t *hub_acks_new(void) {
    hub_acks_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    pthread_mutex_init(&a->lock, NULL);
    cond_init_monotonic(&a->cond);
    __atomic_add_fetch(&acks_live, 1, __ATOMIC_RELAXED);
    return a;
}

static void acks_destroy(hub_acks_t *a) {
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->cond);
    free(a);
    __atomic_sub_fetch(&acks_live, 1, __ATOMIC_RELAXED);
}

/* A caller that stops waiting (a timeout, an error) hands a group with
 * messages still in flight over to them: their delivery reports still
 * come, and the last one frees it. */
void hub_acks_free(hub_acks_t *a) {
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->released = 1;
    int now = a->pending == 0;
    pthread_mutex_unlock(&a->lock);
    if (now)
        acks_destroy(a);
}

size_t hub_acks_live(void) {
    return __atomic_load_n(&acks_live, __ATOMIC_RELAXED);
}

#define ACKS_GETTER(field)                                                     \
    size_t hub_acks_##field(hub_acks_t *a) {                                   \
        pthread_mutex_lock(&a->lock);                                          \
        size_t v = a->field;                                                   \
        pthread_mutex_unlock(&a->lock);                                        \
        return v;                                                              \
    }
ACKS_GETTER(pending)
ACKS_GETTER(failed)
ACKS_GETTER(delivered)

int hub_acks_wait(hub_acks_t *a, int64_t timeout_ms, char *err,
                  size_t errlen) {
    struct timespec until = deadline_in(timeout_ms < 0 ? 0 : timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&a->lock);
    while (a->pending > 0) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&a->cond, &a->lock);
        } else if (pthread_cond_timedwait(&a->cond, &a->lock, &until) ==
                   ETIMEDOUT) {
            break;
        }
    }
    if (a->failed)
        rc = hub_fail(err, errlen, HUB_EKAFKA,
                      "%zu of %zu messages were not delivered: %s", a->failed,
                      a->failed + a->delivered + a->pending, a->first_error);
    else if (a->pending)
        rc = hub_fail(err, errlen, HUB_ETIMEDOUT,
                      "%zu messages still unacknowledged after %lld ms",
                      a->pending, (long long)timeout_ms);
    pthread_mutex_unlock(&a->lock);
    return rc;
}

static void acks_add(hub_acks_t *a, long delta) {
    pthread_mutex_lock(&a->lock);
    a->pending = (size_t)((long)a->pending + delta);
    pthread_mutex_unlock(&a->lock);
}

/* ------------------------------------------------------------------ */
/* Configuration shared by producers and consumers                     */
/* ------------------------------------------------------------------ */

static void on_log(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
    (void)rk;
    hub_log_level l = level <= 3   ? HUB_LOG_ERROR
                      : level == 4 ? HUB_LOG_WARN
                      : level <= 6 ? HUB_LOG_INFO
                                   : HUB_LOG_DEBUG;
    hub_log(l, "kafka", "%s: %s", fac, buf);
}

static void on_error(rd_kafka_t *rk, int code, const char *reason,
                     void *opaque) {
    (void)opaque;
    char fatal[512];
    if (code == RD_KAFKA_RESP_ERR__FATAL &&
        rd_kafka_fatal_error(rk, fatal, sizeof fatal))
        hub_log_error("kafka", "fatal: %s", fatal);
    else if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
             code == RD_KAFKA_RESP_ERR__TRANSPORT ||
             code == RD_KAFKA_RESP_ERR__RESOLVE)
        hub_log_warn("kafka", "%s (retrying)", reason);
    else
        hub_log_error("kafka", "%s: %s", rd_kafka_err2name(code), reason);
}

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *val,
                    const char *origin, char *err, size_t errlen) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, val, errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK)
        return hub_fail(err, errlen, HUB_ECONFIG, "%s%s: %s", origin, key,
                        errstr);
    return 0;
}

static rd_kafka_conf_t *base_conf(const hub_config_t *cfg,
                                  const char *bootstrap,
                                  const char *const *defaults, char *err,
                                  size_t errlen) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    if (conf_set(conf, "bootstrap.servers", bootstrap, "kafka.", err,
                 errlen) ||
        conf_set(conf, "client.id", "hub360", "", err, errlen))
        goto fail;
    for (size_t i = 0; defaults && defaults[i]; i += 2) {
        if (conf_set(conf, defaults[i], defaults[i + 1], "", err, errlen))
            goto fail;
    }
    /* The user's properties come last, so they win. */
    for (size_t i = 0; i < cfg->kafka.properties.n; i++) {
        if (conf_set(conf, cfg->kafka.properties.keys[i],
                     cfg->kafka.properties.vals[i], "kafka.properties.", err,
                     errlen))
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Producer                                                            */
/* ------------------------------------------------------------------ */

#define KNOWN_MAX 8 /* topics a producer knows (hub_producer_know_topics) */

struct hub_producer {
    rd_kafka_t *rk;
    pthread_rwlock_t swap; /* read: rk in use; write: rk replaced */
    unsigned gen;          /* rk's generation: replacements so far */
    const hub_config_t *cfg;
    char *bootstrap;
    pthread_t poller;
    int running;
    int64_t delivery_timeout_ms;
    pthread_mutex_t lock;
    pthread_cond_t space; /* signalled on every delivery report */
    /* hub_producer_know_topics: the names, and rk's handles of them */
    char known[KNOWN_MAX][256];
    size_t nknown;
    rd_kafka_topic_t *held[KNOWN_MAX];
};

/* Holds rk's handles of the known topics and asks for the metadata of
 * every topic rk knows (theirs) in one request, for up to 2 s: a hint,
 * an error or a timeout leaves them to the topic scan. Topics that do
 * not exist are not created by it (librdkafka asks the broker to create
 * none unless every topic asked for is in its cache). */
static void hold_known(hub_producer_t *p, rd_kafka_t *rk,
                       rd_kafka_topic_t **held) {
    const char *names[KNOWN_MAX];
    for (size_t i = 0; i < p->nknown; i++)
        names[i] = p->known[i];
    hub_bus_hold_topics(rk, names, p->nknown, held);
    const struct rd_kafka_metadata *md = NULL;
    if (p->nknown && rd_kafka_metadata(rk, 0, NULL, &md, 2000) == 0)
        rd_kafka_metadata_destroy(md);
}

void hub_bus_hold_topics(rd_kafka_t *rk, const char *const *topics,
                         size_t n, rd_kafka_topic_t **out) {
    for (size_t i = 0; i < n; i++)
        out[i] = rd_kafka_topic_new(rk, topics[i], NULL);
}

void hub_bus_release_topics(rd_kafka_topic_t **held, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (held[i])
            rd_kafka_topic_destroy(held[i]);
        held[i] = NULL;
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque) {
    (void)rk;
    hub_producer_t *p = opaque;
    hub_acks_t *a = m->_private;
    if (a) {
        pthread_mutex_lock(&a->lock);
        int last = --a->pending == 0 && a->released;
        if (m->err) {
            if (a->failed++ == 0)
                snprintf(a->first_error, sizeof a->first_error,
                         "%s [%d]: %s", rd_kafka_topic_name(m->rkt),
                         (int)m->partition, rd_kafka_err2str(m->err));
        } else {
            a->delivered++;
        }
        pthread_cond_broadcast(&a->cond);
        pthread_mutex_unlock(&a->lock);
        if (last)
            acks_destroy(a);
    } else if (m->err) {
        hub_log_error("bus", "message to %s not delivered: %s",
                      rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    }
    pthread_mutex_lock(&p->lock);
    pthread_cond_broadcast(&p->space);
    pthread_mutex_unlock(&p->lock);
}

static void *poll_loop(void *arg) {
    hub_producer_t *p = arg;
    while (__atomic_load_n(&p->running, __ATOMIC_ACQUIRE)) {
        pthread_rwlock_rdlock(&p->swap);
        rd_kafka_poll(p->rk, 100);
        pthread_rwlock_unlock(&p->swap);
    }
    return NULL;
}

/* A librdkafka producer with hub360's settings, reporting to p. */
static rd_kafka_t *producer_handle_new(hub_producer_t *p, char *err,
                                       size_t errlen) {
    const hub_config_t *cfg = p->cfg;
    char timeout[32], kbytes[32];
    snprintf(timeout, sizeof timeout, "%lld",
             (long long)cfg->kafka.delivery_timeout_ms);
    long long kb = cfg->kafka.queue_max_bytes / 1024;
    snprintf(kbytes, sizeof kbytes, "%lld", kb < 1 ? 1 : kb);
    const char *defaults[] = {
        "enable.idempotence", "true",
        "acks", "all",
        "compression.type", "lz4",
        "linger.ms", "5",
        "message.timeout.ms", timeout,
        "queue.buffering.max.kbytes", kbytes,
        "queue.buffering.max.messages", "1000000",
        NULL,
    };
    rd_kafka_conf_t *conf =
        base_conf(cfg, p->bootstrap, defaults, err, errlen);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, p);
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
                                  sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf); /* not taken over on failure */
        hub_fail(err, errlen, HUB_ECONFIG, "kafka producer: %s", errstr);
    }
    return rk;
}

/*
 * A fatal error stops an idempotent producer for good: every message
 * after it fails at once (librdkafka raises one when the broker reports
 * what the producer cannot recover from, e.g. a sequence gap after a
 * broker lost acknowledged data). The producer of generation gen, if it
 * is still the current one, is replaced by a new one with a new producer
 * id; the old one's messages are purged, so their senders learn they
 * failed (a webhook answers 503 and is sent again, the changelog is
 * produced again from the change table), and nothing waits on it.
 */
static hub_metric_t *renewed; /* process-wide, like the registry */

static void renewed_init(void) {
    renewed = hub_metrics_counter(
        "hub360_kafka_producer_restarts_total",
        "Kafka producers replaced after a fatal error.", NULL);
}

static void producer_renew(hub_producer_t *p, unsigned gen) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, renewed_init);
    rd_kafka_t *old = NULL;
    rd_kafka_topic_t *old_held[KNOWN_MAX] = {0};
    pthread_rwlock_wrlock(&p->swap);
    if (p->gen == gen) {
        char why[512] = "", err[512];
        rd_kafka_fatal_error(p->rk, why, sizeof why);
        rd_kafka_t *fresh = producer_handle_new(p, err, sizeof err);
        if (fresh) {
            hub_log_error("bus", "the Kafka producer stopped on a fatal "
                                 "error (%s); started a new one", why);
            old = p->rk;
            memcpy(old_held, p->held, sizeof old_held);
            hold_known(p, fresh, p->held);
            p->rk = fresh;
            p->gen++;
            hub_metric_add(renewed, 1);
        } else {
            hub_log_error("bus", "the Kafka producer stopped on a fatal "
                                 "error (%s), and a new one failed: %s",
                          why, err);
        }
    }
    pthread_rwlock_unlock(&p->swap);
    if (old) {
        hub_bus_release_topics(old_held, KNOWN_MAX);
        rd_kafka_purge(old, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(old, 5000); /* serves the purged reports */
        rd_kafka_destroy(old);
    }
}

int hub_producer_new(const hub_config_t *cfg, const char *bootstrap,
                     hub_producer_t **out, char *err, size_t errlen) {
    *out = NULL;
    hub_producer_t *p = calloc(1, sizeof *p);
    if (!p)
        return HUB_ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    cond_init_monotonic(&p->space);
    /* a replacement waiting must not starve behind the poller's reads */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
#ifdef __GLIBC__
    pthread_rwlockattr_setkind_np(&ra,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(&p->swap, &ra);
    pthread_rwlockattr_destroy(&ra);
    p->cfg = cfg;
    p->delivery_timeout_ms = cfg->kafka.delivery_timeout_ms;
    if (!(p->bootstrap = strdup(bootstrap))) {
        hub_producer_free(p);
        return HUB_ENOMEM;
    }
    if (!(p->rk = producer_handle_new(p, err, errlen))) {
        hub_producer_free(p);
        return HUB_ECONFIG;
    }
    p->running = 1;
    if (pthread_create(&p->poller, NULL, poll_loop, p)) {
        p->running = 0;
        hub_producer_free(p);
        return HUB_ENOMEM;
    }
    *out = p;
    return 0;
}

void hub_producer_free(hub_producer_t *p) {
    if (!p)
        return;
    if (p->running) {
        __atomic_store_n(&p->running, 0, __ATOMIC_RELEASE);
        pthread_join(p->poller, NULL);
    }
    if (p->rk) {
        hub_bus_release_topics(p->held, KNOWN_MAX);
        if (rd_kafka_flush(p->rk, (int)p->delivery_timeout_ms) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            hub_log_warn("bus", "%d messages still unsent at shutdown",
                         rd_kafka_outq_len(p->rk));
            /* their reports (purged) free the ack groups left to them */
            rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE |
                                      RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_flush(p->rk, 5000);
        }
        rd_kafka_destroy(p->rk);
    }
    pthread_rwlock_destroy(&p->swap);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->space);
    free(p->bootstrap);
    free(p);
}

void hub_producer_know_topics(hub_producer_t *p, const char *const *topics,
                              size_t n) {
    pthread_rwlock_wrlock(&p->swap);
    hub_bus_release_topics(p->held, KNOWN_MAX);
    p->nknown = 0;
    for (size_t i = 0; i < n && p->nknown < KNOWN_MAX; i++) {
        size_t len = strlen(topics[i]);
        if (len < sizeof p->known[0])
            memcpy(p->known[p->nknown++], topics[i], len + 1);
    }
    hold_known(p, p->rk, p->held);
    pthread_rwlock_unlock(&p->swap);
}

rd_kafka_t *hub_producer_hold(hub_producer_t *p) {
    pthread_rwlock_rdlock(&p->swap);
    return p->rk;
}

void hub_producer_unhold(hub_producer_t *p) {
    pthread_rwlock_unlock(&p->swap);
}

void hub_producer_purge(hub_producer_t *p) {
    rd_kafka_purge(hub_producer_hold(p),
                   RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    hub_producer_unhold(p);
}

int hub_producer_send(hub_producer_t *p, const char *topic, int32_t partition,
                      const void *key, size_t klen, const void *value,
                      size_t vlen, const hub_header_t *headers,
                      size_t nheaders, hub_acks_t *acks, int64_t block_ms,
                      char *err, size_t errlen) {
    int64_t deadline = hub_time_mono_ms() + (block_ms < 0 ? 0 : block_ms);
    int renewed = 0;
    for (;;) {
        rd_kafka_headers_t *hdrs = NULL;
        if (nheaders) {
            hdrs = rd_kafka_headers_new(nheaders);
            for (size_t i = 0; i < nheaders; i++)
                rd_kafka_header_add(hdrs, headers[i].name, -1,
                                    headers[i].value, (ssize_t)headers[i].len);
        }
        if (acks)
            acks_add(acks, 1);
        rd_kafka_t *rk = hub_producer_hold(p);
        unsigned gen = p->gen;
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY((void *)key, klen),
            RD_KAFKA_V_VALUE((void *)value, vlen),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(acks),
            RD_KAFKA_V_END);
        hub_producer_unhold(p);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (acks)
            acks_add(acks, -1);
        if (hdrs)
            rd_kafka_headers_destroy(hdrs); /* still ours on failure */
        if (e == RD_KAFKA_RESP_ERR__FATAL && !renewed) {
            producer_renew(p, gen);
            renewed = 1;
            continue;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return hub_fail(err, errlen, HUB_EKAFKA, "producing to %s: %s",
                            topic, rd_kafka_err2str(e));
        int64_t left = deadline - hub_time_mono_ms();
        if (left <= 0)
            return hub_fail(err, errlen, HUB_EAGAIN,
                            "producer queue full (kafka.queue_max_bytes) "
                            "for %lld ms",
                            (long long)block_ms);
        struct timespec until = deadline_in(left < 100 ? left : 100);
        pthread_mutex_lock(&p->lock);
        pthread_cond_timedwait(&p->space, &p->lock, &until);
        pthread_mutex_unlock(&p->lock);
    }
}

int hub_producer_dead_letter(hub_producer_t *p, const char *dlq,
                             const rd_kafka_message_t *m, const char *error,
                             hub_acks_t *acks, int64_t block_ms, char *err,
                             size_t errlen) {
    char part[16], off[24];
    snprintf(part, sizeof part, "%d", (int)m->partition);
    snprintf(off, sizeof off, "%lld", (long long)m->offset);
    const char *topic = rd_kafka_topic_name(m->rkt);
    hub_header_t h[] = {
        {"error", error, strlen(error)},
        {"topic", topic, strlen(topic)},
        {"partition", part, strlen(part)},
        {"offset", off, strlen(off)},
    };
    return hub_producer_send(p, dlq, RD_KAFKA_PARTITION_UA, m->key,
                             m->key_len, m->payload, m->len, h, 4, acks,
                             block_ms, err, errlen);
}

int hub_producer_flush(hub_producer_t *p, int64_t timeout_ms) {
    rd_kafka_resp_err_t e = rd_kafka_flush(hub_producer_hold(p),
                                           (int)timeout_ms);
    hub_producer_unhold(p);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : HUB_ETIMEDOUT;
}

/* ------------------------------------------------------------------ */
/* Consumer                                                            */
/* ------------------------------------------------------------------ */

int hub_consumer_new(const hub_config_t *cfg, const char *bootstrap,
                     const char *group, int partition_eof, rd_kafka_t **out,
                     char *err, size_t errlen) {
    return hub_consumer_new_rebalance(cfg, bootstrap, group, partition_eof,
                                      NULL, NULL, 0, out, err, errlen);
}

void hub_consumer_instance_id(const hub_config_t *cfg, const char *group,
                              char *out, size_t outlen) {
    /* the group and the topic prefix (without its trailing dot): the
     * prefix picks the topics, so one instance id is one subscription.
     * Kafka allows 249 characters of [a-zA-Z0-9._-]; a longer pair is
     * shortened to the group and a hash of the prefix. */
    const char *prefix = cfg && cfg->kafka.topic_prefix
                             ? cfg->kafka.topic_prefix
                             : "";
    size_t plen = strlen(prefix);
    if (plen && prefix[plen - 1] == '.')
        plen--;
    size_t len = strlen(group) + 1 + plen;
    if (!plen)
        snprintf(out, outlen, "%s", group);
    else if (len <= 249 && len < outlen)
        snprintf(out, outlen, "%s.%.*s", group, (int)plen, prefix);
    else
        snprintf(out, outlen, "%.200s.%016llx", group,
                 (unsigned long long)hub_hash64(prefix, plen));
}

int hub_consumer_new_rebalance(const hub_config_t *cfg, const char *bootstrap,
                               const char *group, int partition_eof,
                               hub_rebalance_fn rebalance, void *opaque,
                               int static_member, rd_kafka_t **out, char *err,
                               size_t errlen) {
    *out = NULL;
    char prefetch[32];
    long batch = cfg->projector.batch_events;
    snprintf(prefetch, sizeof prefetch, "%ld",
             batch > 20000 ? 2 * batch : 40000); /* batch_events <= 1,000,000 */
    const char *defaults[] = {
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        "auto.offset.reset", "earliest",
        "enable.partition.eof", partition_eof ? "true" : "false",
        /* a crashed member is noticed in 10 s, not librdkafka's 45 s */
        "session.timeout.ms", "10000",
        "heartbeat.interval.ms", "3000",
        /* Every consumer prefetches two of the projector's batches of
         * events (at least 40,000), up to 64 MiB: not a whole topic, so
         * memory stays the same however many events wait. Not less:
         * librdkafka before 2.2 stops fetching for up to a second once
         * its queue is over either limit (librdkafka#2879), so a queue
         * that holds less than a second of consumption leaves the
         * consumer waiting at every batch. With 8 MiB, events of 800
         * bytes took the projector 27-37% longer. The CDC feeds and
         * `tail` consume slower and take the same. */
        "queued.min.messages", prefetch,
        "queued.max.messages.kbytes", "65536",
        "fetch.max.bytes", "16777216",
        /* connect at once: with sparse connections a consumer's first
         * metadata request waited for librdkafka's 1 s timer to pick a
         * broker, a second at every start of `project --once`, `tail` */
        "enable.sparse.connections", "false",
        NULL, NULL, NULL, NULL, NULL,
    };
    /* librdkafka needs a group id even to assign(); a group-less
     * consumer gets a private one it never joins or commits to. */
    char private_group[64];
    if (!group) {
        snprintf(private_group, sizeof private_group, "hub360-private-%ld",
                 (long)getpid());
        group = private_group;
    }
    size_t nd = 0; /* the group after the fixed defaults, in the NULLs */
    while (defaults[nd])
        nd += 2;
    defaults[nd++] = "group.id";
    defaults[nd++] = group;
    char instance[256];
    if (static_member) {
        hub_consumer_instance_id(cfg, group, instance, sizeof instance);
        defaults[nd++] = "group.instance.id";
        defaults[nd++] = instance;
    }
    rd_kafka_conf_t *conf = base_conf(cfg, bootstrap, defaults, err, errlen);
    if (!conf)
        return HUB_ECONFIG;
    if (rebalance) {
        rd_kafka_conf_set_rebalance_cb(conf, rebalance);
        rd_kafka_conf_set_opaque(conf, opaque);
    }
    char errstr[512];
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return hub_fail(err, errlen, HUB_ECONFIG, "kafka consumer: %s",
                        errstr);
    }
    rd_kafka_poll_set_consumer(rk);
    *out = rk;
    return 0;
}

void hub_consumer_drop(rd_kafka_t *rk) {
    /* librdkafka unassigns by itself, serves no callback, and drops the
     * events still queued (the group's terminate in rdkafka_cgrp.c) */
    if (rk)
        rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

int hub_consumer_subscribe(rd_kafka_t *rk, const char *const *topics,
                           size_t ntopics, char *err, size_t errlen) {
    rd_kafka_topic_partition_list_t *sub =
        rd_kafka_topic_partition_list_new(ntopics ? (int)ntopics : 1);
    for (size_t i = 0; i < ntopics; i++)
        rd_kafka_topic_partition_list_add(sub, topics[i],
                                          RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e)
        return hub_fail(err, errlen, HUB_EKAFKA, "subscribe: %s",
                        rd_kafka_err2str(e));
    return 0;
}

int hub_consumer_assign_all(rd_kafka_t *rk, const char *const *topics,
                            size_t ntopics, int64_t offset, int timeout_ms,
                            size_t *npartitions, char *err, size_t errlen) {
    /* The topics are looked up before any handle names them: a broker
     * that creates topics on request (the embedded one does) would
     * otherwise make a mistyped name exist, and `tail` wait on it. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(
        rk, 1, NULL, &md, timeout_ms < 0 ? 10000 : timeout_ms);
    if (e)
        return hub_fail(err, errlen, HUB_EKAFKA, "kafka metadata: %s",
                        rd_kafka_err2str(e));
    rd_kafka_topic_t *held[16];
    size_t nheld = ntopics < 16 ? ntopics : 16;
    hub_bus_hold_topics(rk, topics, nheld, held);
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(16);
    int rc = 0;
    for (size_t t = 0; t < ntopics && !rc; t++) {
        int found = 0;
        for (int i = 0; i < md->topic_cnt; i++) {
            const struct rd_kafka_metadata_topic *mt = &md->topics[i];
            if (strcmp(mt->topic, topics[t]) != 0 || mt->err)
                continue;
            found = 1;
            for (int k = 0; k < mt->partition_cnt; k++)
                rd_kafka_topic_partition_list_add(list, mt->topic,
                                                  mt->partitions[k].id)
                    ->offset = offset;
        }
        if (!found)
            rc = hub_fail(err, errlen, HUB_ENOENT,
                          "topic %s does not exist", topics[t]);
    }
    rd_kafka_metadata_destroy(md);
    if (!rc && (e = rd_kafka_assign(rk, list)))
        rc = hub_fail(err, errlen, HUB_EKAFKA, "assign: %s",
                      rd_kafka_err2str(e));
    if (!rc && npartitions)
        *npartitions = (size_t)list->cnt;
    rd_kafka_topic_partition_list_destroy(list);
    hub_bus_release_topics(held, nheld);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Topics                                                              */
/* ------------------------------------------------------------------ */

static const char *const topic_suffixes[HUB_BUS_NTOPICS] = {
    "crm.events",   "erp.events",           "scrm.events",
    "control.events", "customer360.changelog", "deadletter",
};

void hub_bus_topic_names(const hub_config_t *cfg,
                         char out[HUB_BUS_NTOPICS][256]) {
    for (int i = 0; i < HUB_BUS_NTOPICS; i++)
        hub_config_topic(cfg, topic_suffixes[i], out[i], 256);
}

/* Without a controller: asking for a topic's metadata creates it, with
 * the broker's own partition count (`hub360 broker --partitions`). */
static int auto_create(rd_kafka_t *rk, const char *const *names, size_t n,
                       int64_t timeout_ms, char *err, size_t errlen) {
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *name = names[i];
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, name, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e =
            rkt ? rd_kafka_metadata(rk, 0, rkt, &md, (int)timeout_ms)
                : RD_KAFKA_RESP_ERR__INVALID_ARG;
        if (!e && (md->topic_cnt != 1 || md->topics[0].err))
            e = md->topic_cnt == 1 ? md->topics[0].err
                                   : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
        if (e)
            rc = hub_fail(err, errlen, HUB_EKAFKA, "creating topic %s: %s",
                          name, rd_kafka_err2str(e));
        else
            hub_log_info("bus", "created topic %s (%d partitions: the "
                                "broker's own count, it has no controller "
                                "to create topics with)",
                         name, md->topics[0].partition_cnt);
        if (md)
            rd_kafka_metadata_destroy(md);
        if (rkt)
            rd_kafka_topic_destroy(rkt);
    }
    return rc;
}

/*
 * A topic the controller just created is not served at once: each
 * partition's log appears on its leader a moment later. librdkafka 2.0's
 * idempotent producer can lose messages it sends into that moment while
 * reporting them delivered (`hub360 publish` into new topics on Kafka 4.4
 * lost 3 of 6,000 events in 1 run of 12, and said it published 6,000).
 * So nothing is produced until every partition of the topics this call
 * created answers a ListOffsets request (the leader has its log) or the
 * time is up (a topic another process created first is left alone).
 */
static int await_served(rd_kafka_t *rk, const char *const *names, size_t n,
                        long partitions, int64_t timeout_ms, char *err,
                        size_t errlen) {
    int64_t deadline = hub_time_mono_ms() + timeout_ms;
    for (size_t i = 0; i < n; i++) {
        for (int32_t k = 0; k < (int32_t)partitions; k++) {
            int64_t lo, hi;
            rd_kafka_resp_err_t e;
            while ((e = rd_kafka_query_watermark_offsets(rk, names[i], k, &lo,
                                                         &hi, 1000))) {
                if (hub_time_mono_ms() >= deadline)
                    return hub_fail(err, errlen, HUB_ETIMEDOUT,
                                    "topic %s [%d] created but not served "
                                    "after %lld ms: %s",
                                    names[i], (int)k, (long long)timeout_ms,
                                    rd_kafka_err2str(e));
                /* the client's own metadata may still lack the partition:
                 * ask for the topic's again */
                rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, names[i], NULL);
                const struct rd_kafka_metadata *md = NULL;
                if (rkt && !rd_kafka_metadata(rk, 0, rkt, &md, 1000))
                    rd_kafka_metadata_destroy(md);
                if (rkt)
                    rd_kafka_topic_destroy(rkt);
                struct timespec ts = {0, 50 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
    }
    return 0;
}

rd_kafka_t *hub_bus_admin_new(const hub_config_t *cfg, const char *bootstrap,
                              char *err, size_t errlen) {
    rd_kafka_conf_t *conf = base_conf(cfg, bootstrap, NULL, err, errlen);
    if (!conf)
        return NULL;
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        hub_fail(err, errlen, HUB_EKAFKA, "kafka: %s", errstr);
    }
    return rk;
}

int hub_bus_ensure_topics(rd_kafka_t *rk, const hub_config_t *cfg,
                          int64_t timeout_ms, char *err, size_t errlen) {
    char names[HUB_BUS_NTOPICS][256];
    hub_bus_topic_names(cfg, names);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e =
        rd_kafka_metadata(rk, 1, NULL, &md, (int)timeout_ms);
    if (e)
        return hub_fail(err, errlen, HUB_EKAFKA,
                        "kafka at %s: metadata: %s", cfg->kafka.brokers,
                        rd_kafka_err2str(e));
    int brokers = md->broker_cnt;
    /* Topics are created by the controller. librdkafka's mock cluster (the
     * embedded broker) names a controller that is none of its brokers, and
     * an admin request would wait for it forever. */
    int32_t cid = rd_kafka_controllerid(rk, (int)timeout_ms);
    int controller = 0;
    for (int i = 0; i < md->broker_cnt; i++)
        controller |= md->brokers[i].id == cid;
    rd_kafka_NewTopic_t *create[HUB_BUS_NTOPICS];
    const char *create_names[HUB_BUS_NTOPICS];
    size_t ncreate = 0;
    int rc = 0;
    long rf = cfg->kafka.replication_factor;
    if (rf < 1) /* as the docs say: the broker count, at most 3 */
        rf = brokers < 3 ? (brokers < 1 ? 1 : brokers) : 3;
    for (int t = 0; t < HUB_BUS_NTOPICS && !rc; t++) {
        int exists = 0;
        for (int i = 0; i < md->topic_cnt; i++)
            exists |= strcmp(md->topics[i].topic, names[t]) == 0 &&
                      md->topics[i].err == 0;
        if (exists)
            continue;
        char errstr[256];
        rd_kafka_NewTopic_t *nt =
            rd_kafka_NewTopic_new(names[t], (int)cfg->kafka.partitions,
                                  (int)rf, errstr, sizeof errstr);
        if (!nt) {
            rc = hub_fail(err, errlen, HUB_EKAFKA, "topic %s: %s", names[t],
                          errstr);
            break;
        }
        if (t < 4) /* event topics are the record of truth: keep forever */
            rd_kafka_NewTopic_set_config(nt, "retention.ms", "-1");
        else if (t == 4)
            rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
        create_names[ncreate] = names[t];
        create[ncreate++] = nt;
    }
    rd_kafka_metadata_destroy(md);
    if (rc || ncreate == 0)
        goto done;

    if (!controller) {
        rc = auto_create(rk, create_names, ncreate, timeout_ms, err, errlen);
        goto done;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    char errstr[256];
    rd_kafka_AdminOptions_set_operation_timeout(opts, (int)timeout_ms, errstr,
                                                sizeof errstr);
    rd_kafka_CreateTopics(rk, create, ncreate, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (int)timeout_ms + 1000);
    if (!ev) {
        rc = hub_fail(err, errlen, HUB_ETIMEDOUT,
                      "creating topics: no answer in %lld ms",
                      (long long)timeout_ms);
    } else if (rd_kafka_event_error(ev)) {
        rc = hub_fail(err, errlen, HUB_EKAFKA, "creating topics: %s",
                      rd_kafka_event_error_string(ev));
    } else {
        size_t n, ncreated = 0;
        const rd_kafka_topic_result_t **res = rd_kafka_CreateTopics_result_topics(
            rd_kafka_event_CreateTopics_result(ev), &n);
        const char *created[HUB_BUS_NTOPICS];
        for (size_t i = 0; i < n && !rc; i++) {
            rd_kafka_resp_err_t te = rd_kafka_topic_result_error(res[i]);
            if (te == RD_KAFKA_RESP_ERR_NO_ERROR) {
                hub_log_info("bus", "created topic %s (%ld partitions, "
                                    "replication %ld)",
                             rd_kafka_topic_result_name(res[i]),
                             cfg->kafka.partitions, rf);
                if (ncreated < HUB_BUS_NTOPICS)
                    created[ncreated++] = rd_kafka_topic_result_name(res[i]);
            } else if (te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                rc = hub_fail(err, errlen, HUB_EKAFKA,
                              "creating topic %s: %s",
                              rd_kafka_topic_result_name(res[i]),
                              rd_kafka_topic_result_error_string(res[i]));
            }
        }
        /* (the names live as long as the event) */
        if (!rc)
            rc = await_served(rk, created, ncreated, cfg->kafka.partitions,
                              timeout_ms, err, errlen);
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
done:
    for (size_t i = 0; i < ncreate; i++)
        rd_kafka_NewTopic_destroy(create[i]);
    return rc;
}

char *hub_bus_cluster_id(rd_kafka_t *rk, int64_t timeout_ms) {
    char *id = rd_kafka_clusterid(rk, (int)timeout_ms);
    if (!id)
        return NULL;
    char *dup = strdup(id);
    rd_kafka_mem_free(rk, id);
    return dup;
}
