/*
 * bench/floor_bench.c - a reference for the projector: what this machine
 * does when a consumer reads every event and writes a few records of it
 * to LMDB, and nothing else.
 *
 * It reads the topics' partitions from the beginning to the end offsets
 * seen at start with librdkafka (one consumer for all of them, a prefetch
 * as deep as librdkafka allows), and per event makes
 *   - K inserts: keys of 16 random-looking bytes, new for every event
 *     (a hash of partition, offset and k), as the dedupe table's event
 *     ids and the timeline's entries are;
 *   - U updates: keys drawn from P keys (a hash of the same, modulo P),
 *     as an entity's state and a customer's view are rewritten;
 * each with VALUE bytes of the message (zeros when it is shorter). Every
 * BATCH events the batch's records are sorted by key (a key written twice
 * in a batch is written once) and put through one cursor in one write
 * transaction, with the next offset of every partition, then committed:
 * the projector's batch without decoding, identity resolution, views,
 * timeline or changelog.
 *
 *     floor_bench -b BOOTSTRAP -d DIR [-k K] [-u U] [-p P] [-r R]
 *                 [-f] [-v VALUE] [-n BATCH] [-s] [-t SECONDS] TOPIC...
 *
 *   -k K        inserts per event (default 1)
 *   -u U        updates per event (default 0); K + U <= 16, and 0 + 0
 *               consumes only, with no store
 *   -p P        keys the updates are drawn from (default 40000)
 *   -r R        reads per event before the writes (default 0): the
 *               event's updates' keys first, then its inserts', as a
 *               projection reads an entity and a customer before it
 *               rewrites them and looks an event id up before it keeps
 *               it; R <= K + U. A batch's reads are sorted, a key read
 *               once, and made in its write transaction before the puts
 *   -f          each read made by the write's own cursor right before
 *               its put (one sorted walk, the page already in the CPU's
 *               cache): a projection that could fold each record as it
 *               walks, the least the reads can cost
 *   -v VALUE    bytes of each record's value (default 64), or a list of
 *               K + U sizes, one per record, inserts first ("8,100,168,
 *               308": a dedupe stamp, a timeline entry, an entity's
 *               state, a customer's view)
 *   -n BATCH    events per write transaction (default 20000, the
 *               projector's)
 *   -s          the store as hub360 ships it: fsync at each commit, no
 *               writable map (default: MDB_NOSYNC | MDB_WRITEMAP, as
 *               bench/projector's store)
 *   -t SECONDS  give up when no message came for that long (default 30)
 *
 * Prints "floor inserts K updates U reads R events N seconds S events/s X" on
 * stdout. DIR must not hold a store already; it is left behind for the
 * caller. bench/projector runs it beside kcat and the projector.
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
    uint16_t len;       /* the value's bytes */
    uint8_t read;       /* -f: read by the cursor right before its put */
} rec;

typedef struct part {
    int topic;
    int32_t id;
    int64_t end, next; /* next: the offset after the last one seen */
    int done;          /* reached end (or the partition's end of log) */
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

/* A bad option's value: exit 2 naming it, as a usage error. */
static void bad_option(const char *opt, const char *why) {
    fprintf(stderr, "floor_bench: %s: %s\n", opt, why);
    exit(2);
}

/* The usage line; with the options when asked for (-h, --help). */
static void usage(FILE *f, int full) {
    fputs("usage: floor_bench -b BOOTSTRAP -d DIR [-k K] [-u U] [-p P] "
          "[-r R] [-f] [-v VALUE] [-n BATCH] [-s] [-t SECONDS] TOPIC...\n",
          f);
    if (full)
        fputs("Consumes TOPIC... from the beginning to the end offsets seen at start\n"
              "and keeps a few records of each event in a new LMDB store at DIR.\n"
              "  -k K        inserts per event, new 16-byte keys (default 1)\n"
              "  -u U        updates per event, keys drawn from P (default 0);\n"
              "              -k 0 -u 0 consumes only\n"
              "  -p P        keys the updates are drawn from (default 40000)\n"
              "  -r R        reads per event before the writes (default 0)\n"
              "  -f          each read made by its write's cursor, in one walk\n"
              "  -v VALUE    bytes of each value (default 64), or K + U sizes: 8,100\n"
              "  -n BATCH    events per write transaction (default 20000)\n"
              "  -s          fsync at each commit, no writable map (as shipped)\n"
              "  -t SECONDS  give up when no message came for that long (default 30)\n"
              "Prints: floor inserts K updates U reads R events N seconds S events/s X\n",
              f);
}

/* The batch's reads made (sorted, each key once, the value copied out),
 * then its records sorted and put, the offsets with them, committed. */
static void write_batch(MDB_env *env, MDB_dbi data, MDB_dbi offs, rec *r,
                        size_t n, rec *rd, size_t nrd,
                        const part *parts, size_t nparts) {
    static uint8_t zero[4096], copy[4096];
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (!rc)
        rc = mdb_cursor_open(txn, data, &cur);
    if (nrd)
        qsort(rd, nrd, sizeof *rd, cmp_rec);
    for (size_t i = 0; i < nrd && !rc; i++) {
        if (i + 1 < nrd && !memcmp(rd[i].key, rd[i + 1].key, 16))
            continue;
        MDB_val k = {16, rd[i].key}, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
        if (rc == MDB_NOTFOUND)
            rc = 0;
        else if (!rc)
            memcpy(copy, v.mv_data, v.mv_size < sizeof copy ? v.mv_size
                                                             : sizeof copy);
    }
    qsort(r, n, sizeof *r, cmp_rec);
    for (size_t i = 0; i < n && !rc; i++) {
        if (i + 1 < n && !memcmp(r[i].key, r[i + 1].key, 16)) {
            r[i + 1].read |= r[i].read; /* read once, by the put kept */
            continue; /* written once a batch, as the projector does */
        }
        MDB_val k = {16, r[i].key}, got;
        if (r[i].read) {
            rc = mdb_cursor_get(cur, &k, &got, MDB_SET_KEY);
            if (rc == MDB_NOTFOUND)
                rc = 0;
            else if (!rc)
                memcpy(copy, got.mv_data,
                       got.mv_size < sizeof copy ? got.mv_size : sizeof copy);
        }
        MDB_val v = {r[i].len, r[i].val ? (void *)r[i].val : zero};
        if (!rc)
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

/* A whole number in [lo, hi], or exit 2 naming the option. */
static long number(int opt, const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "floor_bench: -%c wants a number from %ld to %ld, "
                        "not '%s'\n", opt, lo, hi, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    const char *bootstrap = NULL, *dir = NULL;
    long k = 1, u = 0, reads = 0, keys = 40000, batch = 20000, idle = 30;
    long vlen[16] = {64}, nvlen = 1;
    int sync = 0, fused = 0, opt;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help")) {
            usage(stdout, 1);
            return 0;
        }
    while ((opt = getopt(argc, argv, "b:d:k:u:p:r:fv:n:st:h")) != -1) {
        switch (opt) {
        case 'b': bootstrap = optarg; break;
        case 'd': dir = optarg; break;
        case 'k': k = number(opt, optarg, 0, 16); break;
        case 'u': u = number(opt, optarg, 0, 16); break;
        case 'p': keys = number(opt, optarg, 1, 1L << 40); break;
        case 'r': reads = number(opt, optarg, 0, 16); break;
        case 'f': fused = 1; break;
        case 'v': {
            nvlen = 0;
            for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ","))
                if (nvlen < 16)
                    vlen[nvlen++] = number(opt, tok, 0, 4096);
                else
                    bad_option("-v", "more than 16 sizes");
            if (!nvlen)
                bad_option("-v", "no size given");
            break;
        }
        case 'n': batch = number(opt, optarg, 1, 10000000); break;
        case 's': sync = 1; break;
        case 't': idle = number(opt, optarg, 1, 86400); break;
        case 'h': usage(stdout, 1); return 0;
        default: usage(stderr, 0); return 2;
        }
    }
    if (nvlen > 1 && nvlen != k + u)
        bad_option("-v", "give one size, or one for each of the K + U records");
    if (reads > k + u)
        bad_option("-r", "more reads than the K + U records an event has");
    if (!bootstrap || !dir || optind >= argc || k + u > 16) {
        usage(stderr, 0);
        return 2;
    }
    long per = k + u; /* records per event */
    int ntopics = argc - optind;
    char **topics = argv + optind;

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *props[][2] = {
        {"bootstrap.servers", bootstrap},
        {"group.id", "hub360-floor-bench"},
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "error"}, /* never skip what retention took */
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
    rd_kafka_poll_set_consumer(rk); /* errors come with the messages */

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
            parts[nparts++] = (part){t, id, hi, lo, 0};
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
    if (per > 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/data.mdb", dir);
        if (!access(path, F_OK))
            die(dir, "holds a store already: give an empty directory");
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
    rec *recs = malloc((size_t)batch * (size_t)(per ? per : 1) * sizeof *recs);
    rec *rds = malloc((size_t)batch * (size_t)(reads ? reads : 1) * sizeof *rds);
    if (!msgs || !recs || !rds)
        die("memory", strerror(ENOMEM));
    double last = now_s();
    while (left) {
        /* One batch: up to BATCH events, fewer at the end. */
        size_t n = 0;
        while (n < (size_t)batch && left) {
            int64_t remain = 0; /* ask for no more than is left */
            for (size_t j = 0; j < nparts; j++)
                if (!parts[j].done)
                    remain += parts[j].end - parts[j].next;
            size_t want = (size_t)batch - n;
            if (remain > 0 && (int64_t)want > remain)
                want = (size_t)remain;
            ssize_t got =
                rd_kafka_consume_batch_queue(q, 100, msgs + n, want);
            if (got < 0)
                die("consume", rd_kafka_err2str(rd_kafka_last_error()));
            if (got > 0)
                last = now_s();
            else if (now_s() - last > (double)idle)
                die("consume", "no message came for too long (-t)");
            size_t kept = n;
            for (ssize_t i = 0; i < got; i++) {
                rd_kafka_message_t *m = msgs[n + (size_t)i];
                const char *tn = rd_kafka_topic_name(m->rkt);
                int t = 0;
                while (t < ntopics && strcmp(topics[t], tn))
                    t++;
                part *pt = NULL;
                if (t < ntopics && m->partition >= 0 &&
                    m->partition < MAXPART &&
                    slot[t * MAXPART + m->partition] >= 0)
                    pt = &parts[slot[t * MAXPART + m->partition]];
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                    if (pt && !pt->done) { /* the end of its log */
                        pt->done = 1;
                        left--;
                    }
                    rd_kafka_message_destroy(m);
                    continue;
                }
                if (m->err)
                    die("consume", rd_kafka_message_errstr(m));
                if (!pt)
                    die(tn, "a message from a partition not assigned");
                if (m->offset >= pt->end || m->offset < pt->next) {
                    rd_kafka_message_destroy(m); /* past the end, or again */
                    continue;
                }
                pt->next = m->offset + 1;
                if (pt->next >= pt->end && !pt->done) {
                    pt->done = 1;
                    left--;
                }
                size_t j = (size_t)(pt - parts);
                for (long x = 0; x < per; x++) {
                    rec *r = &recs[kept * (size_t)per + (size_t)x];
                    uint64_t h = mix((uint64_t)j << 48 ^ (uint64_t)m->offset ^
                                     (uint64_t)x << 40);
                    if (x >= k) /* an update: one of P keys */
                        h = mix((h % (uint64_t)keys) ^ 0x5bd1e9955bd1e995ull);
                    uint64_t h2 = mix(h ^ 1);
                    memcpy(r->key, &h, 8);
                    memcpy(r->key + 8, &h2, 8);
                    r->len = (uint16_t)vlen[nvlen > 1 ? x : 0];
                    r->val = m->len >= r->len ? m->payload : NULL;
                    r->read = 0;
                }
                for (long x = 0; x < reads; x++) { /* updates first */
                    rec *r = &recs[kept * (size_t)per +
                                   (size_t)(x < u ? k + x : x - u)];
                    if (fused)
                        r->read = 1;
                    else
                        rds[kept * (size_t)reads + (size_t)x] = *r;
                }
                msgs[kept++] = m;
            }
            n = kept;
        }
        events += (int64_t)n;
        if (per > 0 && n)
            write_batch(env, data, offs, recs, n * (size_t)per, rds,
                        fused ? 0 : n * (size_t)reads, parts, nparts);
        for (size_t i = 0; i < n; i++)
            rd_kafka_message_destroy(msgs[i]);
    }
    double secs = now_s() - start;
    printf("floor inserts %ld updates %ld reads %ld events %lld seconds %.3f "
           "events/s %.0f\n",
           k, u, reads, (long long)events, secs,
           secs > 0 ? (double)events / secs : 0);
    free(msgs);
    free(rds);
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
