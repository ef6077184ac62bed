/*
 * bench/floor_bench.c - the floor under any durable projection: what this
 * machine does when a consumer reads every event and writes K records of
 * it to LMDB, and nothing else.
 *
 * It reads each topic's partitions from the beginning to the end offsets
 * seen at start with librdkafka (one consumer, a prefetch as deep as
 * librdkafka allows), and per event makes K keys of 16 random-looking bytes (a hash
 * of topic, partition, offset and k: event ids, entity keys and customer
 * ids are as random in the projector's tables), each with VALUE bytes of
 * the message. Every BATCH events the batch's records are sorted by key
 * and put through one cursor in one write transaction, with the next
 * offset of every partition, then committed: the projector's batch
 * without decoding, identity resolution, views, timeline or changelog.
 *
 *     floor_bench -b BOOTSTRAP -d DIR [-k K] [-v VALUE] [-n BATCH] [-s]
 *                 TOPIC...
 *
 *   -k K      records per event (default 1; 0: consume only, no store)
 *   -v VALUE  bytes of each record's value (default 64)
 *   -n BATCH  events per write transaction (default 20000, the projector's)
 *   -s        fsync each commit (default: MDB_NOSYNC and MDB_WRITEMAP, as
 *             bench/projector's store)
 *
 * Prints "floor K=.. events N seconds S events/s R" on stdout. DIR must
 * be an empty or missing directory; it is left behind for the caller.
 * bench/projector runs it beside kcat and the projector.
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAXPART 1024 /* partitions of one topic */

typedef struct rec {
    uint8_t key[16];
    const uint8_t *val; /* into the batch's message */
} rec;

typedef struct part {
    int topic;
    int32_t id;
    int64_t end, next;
} part;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t mix(uint64_t x) { /* splitmix64's finalizer */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ x >> 31;
}

static int cmp_rec(const void *a, const void *b) {
    return memcmp(((const rec *)a)->key, ((const rec *)b)->key, 16);
}

static void die(const char *what, const char *why) {
    fprintf(stderr, "floor_bench: %s: %s\n", what, why);
    exit(1);
}

static void usage(FILE *f) {
    fputs("usage: floor_bench -b BOOTSTRAP -d DIR [-k K] [-v VALUE] "
          "[-n BATCH] [-s] TOPIC...\n",
          f);
}

/* The batch's records sorted and put, the offsets with them, committed. */
static void write_batch(MDB_env *env, MDB_dbi data, MDB_dbi offs, rec *r,
                        size_t n, size_t vlen, const part *parts,
                        size_t nparts) {
    static uint8_t zero[4096];
    qsort(r, n, sizeof *r, cmp_rec);
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (!rc)
        rc = mdb_cursor_open(txn, data, &cur);
    for (size_t i = 0; i < n && !rc; i++) {
        MDB_val k = {16, r[i].key};
        MDB_val v = {vlen, r[i].val ? (void *)r[i].val : zero};
        rc = mdb_cursor_put(cur, &k, &v, 0);
    }
    if (!rc)
        mdb_cursor_close(cur);
    for (size_t i = 0; i < nparts && !rc; i++) {
        uint8_t kb[8], vb[8];
        uint32_t t = (uint32_t)parts[i].topic, p = (uint32_t)parts[i].id;
        memcpy(kb, &t, 4);
        memcpy(kb + 4, &p, 4);
        memcpy(vb, &parts[i].next, 8);
        MDB_val k = {8, kb}, v = {8, vb};
        rc = mdb_put(txn, offs, &k, &v, 0);
    }
    if (rc || (rc = mdb_txn_commit(txn)))
        die("lmdb", mdb_strerror(rc));
}

int main(int argc, char **argv) {
    const char *bootstrap = NULL, *dir = NULL;
    long k = 1, vlen = 64, batch = 20000;
    int sync = 0, opt;
    while ((opt = getopt(argc, argv, "b:d:k:v:n:sh")) != -1) {
        switch (opt) {
        case 'b': bootstrap = optarg; break;
        case 'd': dir = optarg; break;
        case 'k': k = atol(optarg); break;
        case 'v': vlen = atol(optarg); break;
        case 'n': batch = atol(optarg); break;
        case 's': sync = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!bootstrap || !dir || optind >= argc || k < 0 || k > 16 ||
        vlen < 0 || vlen > 4096 || batch < 1) {
        usage(stderr);
        return 2;
    }
    int ntopics = argc - optind;
    char **topics = argv + optind;

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *props[][2] = {
        {"bootstrap.servers", bootstrap},
        {"group.id", "hub360-floor-bench"},
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "false"},
        /* a queue nothing drains in librdkafka's second of backoff
         * once it is full (before 2.2): the floor is not the fetcher's */
        {"queued.min.messages", "10000000"},
        {"queued.max.messages.kbytes", "2097151"},
        {"fetch.max.bytes", "16777216"},
        {"fetch.wait.max.ms", "5"},
    };
    for (size_t i = 0; i < sizeof props / sizeof *props; i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], errstr,
                              sizeof errstr) != RD_KAFKA_CONF_OK)
            die(props[i][0], errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr,
                                  sizeof errstr);
    if (!rk)
        die("consumer", errstr);

    /* Every partition of every topic, and its end offset now. */
    part *parts = NULL;
    size_t nparts = 0;
    int *slot = malloc((size_t)ntopics * MAXPART * sizeof *slot);
    if (!slot)
        die("memory", strerror(ENOMEM));
    for (int i = 0; i < ntopics * MAXPART; i++)
        slot[i] = -1;
    rd_kafka_topic_partition_list_t *assign =
        rd_kafka_topic_partition_list_new(64);
    for (int t = 0; t < ntopics; t++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topics[t], NULL);
        const struct rd_kafka_metadata *md;
        rd_kafka_resp_err_t err =
            rd_kafka_metadata(rk, 0, rkt, &md, 10000);
        if (err)
            die(topics[t], rd_kafka_err2str(err));
        if (md->topic_cnt != 1 || md->topics[0].err)
            die(topics[t], "no such topic");
        for (int p = 0; p < md->topics[0].partition_cnt; p++) {
            int32_t id = md->topics[0].partitions[p].id;
            int64_t lo, hi;
            err = rd_kafka_query_watermark_offsets(rk, topics[t], id, &lo,
                                                   &hi, 10000);
            if (err)
                die(topics[t], rd_kafka_err2str(err));
            if (hi <= lo)
                continue;
            parts = realloc(parts, (nparts + 1) * sizeof *parts);
            if (!parts)
                die("memory", strerror(ENOMEM));
            if (id < 0 || id >= MAXPART)
                die(topics[t], "more partitions than floor_bench takes");
            slot[t * MAXPART + id] = (int)nparts;
            parts[nparts++] = (part){t, id, hi, lo};
            rd_kafka_topic_partition_list_add(assign, topics[t], id)
                ->offset = lo;
        }
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
    }
    size_t left = nparts;
    int64_t events = 0;

    MDB_env *env = NULL;
    MDB_dbi data = 0, offs = 0;
    if (k > 0) {
        if (mkdir(dir, 0755) && errno != EEXIST)
            die(dir, strerror(errno));
        int rc = mdb_env_create(&env);
        if (!rc)
            rc = mdb_env_set_mapsize(env, (size_t)64 << 30);
        if (!rc)
            rc = mdb_env_set_maxdbs(env, 2);
        if (!rc)
            rc = mdb_env_open(env, dir,
                              sync ? 0 : MDB_NOSYNC | MDB_WRITEMAP, 0644);
        MDB_txn *txn;
        if (!rc)
            rc = mdb_txn_begin(env, NULL, 0, &txn);
        if (!rc)
            rc = mdb_dbi_open(txn, "data", MDB_CREATE, &data);
        if (!rc)
            rc = mdb_dbi_open(txn, "offsets", MDB_CREATE, &offs);
        if (!rc)
            rc = mdb_txn_commit(txn);
        if (rc)
            die(dir, mdb_strerror(rc));
    }

    double start = now_s();
    rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, assign);
    if (aerr)
        die("assign", rd_kafka_err2str(aerr));
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_message_t **msgs = malloc((size_t)batch * sizeof *msgs);
    rec *recs = malloc((size_t)(batch * (k ? k : 1)) * sizeof *recs);
    if (!msgs || !recs)
        die("memory", strerror(ENOMEM));
    while (left) {
        /* One batch: up to BATCH events, fewer at the end. */
        size_t n = 0;
        while (n < (size_t)batch && left) {
            ssize_t got = rd_kafka_consume_batch_queue(
                q, 100, msgs + n, (size_t)batch - n);
            if (got < 0)
                die("consume", rd_kafka_err2str(rd_kafka_last_error()));
            for (ssize_t i = 0; i < got; i++) {
                rd_kafka_message_t *m = msgs[n + i];
                if (m->err)
                    die("consume", rd_kafka_message_errstr(m));
                const char *tn = rd_kafka_topic_name(m->rkt);
                int t = 0;
                while (t < ntopics && strcmp(topics[t], tn))
                    t++;
                if (t == ntopics || m->partition < 0 ||
                    m->partition >= MAXPART ||
                    slot[t * MAXPART + m->partition] < 0)
                    die(tn, "a message from a partition not assigned");
                size_t j = (size_t)slot[t * MAXPART + m->partition];
                if (parts[j].next < parts[j].end && m->offset + 1 >= parts[j].end)
                    left--;
                parts[j].next = m->offset + 1;
                for (long x = 0; x < k; x++) {
                    rec *r = &recs[(n + (size_t)i) * (size_t)k + (size_t)x];
                    uint64_t h = mix((uint64_t)j << 48 ^ (uint64_t)m->offset ^
                                     (uint64_t)x << 40);
                    uint64_t h2 = mix(h);
                    memcpy(r->key, &h, 8);
                    memcpy(r->key + 8, &h2, 8);
                    r->val = m->len >= (size_t)vlen ? m->payload : NULL;
                }
            }
            n += (size_t)got;
        }
        events += (int64_t)n;
        if (k > 0)
            write_batch(env, data, offs, recs, n * (size_t)k, (size_t)vlen,
                        parts, nparts);
        for (size_t i = 0; i < n; i++)
            rd_kafka_message_destroy(msgs[i]);
    }
    double secs = now_s() - start;
    printf("floor K=%ld events %lld seconds %.3f events/s %.0f\n", k,
           (long long)events, secs, secs > 0 ? (double)events / secs : 0);
    free(msgs);
    free(recs);
    free(parts);
    free(slot);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_partition_list_destroy(assign);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (env)
        mdb_env_close(env);
    return 0;
}
