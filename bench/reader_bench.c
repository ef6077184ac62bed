/*
 * bench/reader_bench.c - libhub360's lookups, timed one by one: random
 * customer ids from a file, each looked up with hub360_get (one LMDB read
 * transaction, the view's bytes copied), then with its main fields read
 * (id, name, aliases, segments, orders, revenue), then rendered to the
 * API's JSON with hub360_view_json, on one thread. Prints lookups per
 * second and the p50/p99 of each of the three, then the process's peak
 * resident set (getrusage: the store's mapped pages it touched included).
 *
 * First, as the reference, the same ids straight through LMDB: a read
 * transaction renewed, mdb_get of the id in the store's "views" table,
 * the bytes copied out, the transaction reset: the least any reader of
 * the store does per lookup. It runs before libhub360 opens the store
 * (LMDB forbids one process two environments on the same file at once).
 *
 *     reader_bench STORE IDS_FILE [LOOKUPS]
 *
 * bench/api runs it on the same store it serves over HTTP.
 */
#include <errno.h>
#include <hub360.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* xorshift64*: the ids' order, reproducible. */
static uint64_t rnd(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* The ids of the file, one a line; NULL on failure. */
static char **read_ids(const char *path, size_t *n) {
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char **ids = NULL, line[256];
    size_t cap = 0;
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 1024;
            char **grown = realloc(ids, cap * sizeof *ids);
            if (!grown)
                break;
            ids = grown;
        }
        if (!(ids[*n] = strdup(line)))
            break;
        (*n)++;
    }
    fclose(f);
    return ids;
}

enum { GET, FIELDS, JSON };

/* Times `lookups` random lookups, each doing `what` (GET, FIELDS, JSON).
 * Fills per-call nanoseconds into ns; returns the total, or 0 on a
 * failure. */
static uint64_t run(hub360_reader_t *r, char **ids, size_t nids,
                    size_t lookups, int what, uint64_t *ns) {
    uint64_t seed = 88172645463325252ull, total = 0;
    for (size_t i = 0; i < lookups; i++) {
        const char *id = ids[rnd(&seed) % nids];
        uint64_t t0 = now_ns();
        hub360_view_t *v;
        int rc = hub360_get(r, id, &v);
        const char *json;
        size_t len = 0;
        if (rc == 0 && what == JSON)
            rc = hub360_view_json(v, &json, &len);
        if (rc == 0 && what == FIELDS && !hub360_view_id(v))
            rc = HUB360_EDECODE;
        hub360_view_free(v);
        uint64_t t1 = now_ns();
        if (rc) {
            fprintf(stderr, "reader_bench: %s: %s\n", id, hub360_strerror(rc));
            return 0;
        }
        ns[i] = t1 - t0;
        total += t1 - t0;
    }
    return total;
}

/* The reference: `lookups` random ids (the same sequence as run's)
 * through LMDB alone, per-call nanoseconds into ns; returns the total,
 * or 0 on a failure (said on stderr). */
static uint64_t run_lmdb(const char *store, char **ids, size_t nids,
                         size_t lookups, uint64_t *ns) {
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    uint64_t seed = 88172645463325252ull, total = 0;
    char *copy = NULL;
    size_t cap = 0;
    int rc = mdb_env_create(&env);
    if (!rc)
        rc = mdb_env_set_maxdbs(env, 32);
    if (!rc)
        rc = mdb_env_set_maxreaders(env, 512); /* as the store's, if new */
    if (!rc)
        rc = mdb_env_open(env, store, MDB_RDONLY | MDB_NOTLS | MDB_NORDAHEAD, 0644);
    /* the table's handle is the environment's once its transaction
     * commits; then one read transaction, reset and renewed per lookup */
    if (!rc && !(rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))) {
        if ((rc = mdb_dbi_open(txn, "views", 0, &dbi)))
            mdb_txn_abort(txn);
        else
            rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (!rc && !(rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)))
        mdb_txn_reset(txn);
    if (rc)
        fprintf(stderr, "reader_bench: %s: LMDB: %s\n", store, mdb_strerror(rc));
    for (size_t i = 0; i < lookups && !rc; i++) {
        const char *id = ids[rnd(&seed) % nids];
        uint64_t t0 = now_ns();
        MDB_val k = {strlen(id), (void *)id}, d;
        rc = mdb_txn_renew(txn);
        if (!rc && !(rc = mdb_get(txn, dbi, &k, &d))) {
            if (d.mv_size > cap) {
                char *grown = realloc(copy, d.mv_size);
                if (!grown)
                    rc = ENOMEM;
                else
                    copy = grown, cap = d.mv_size;
            }
            if (!rc)
                memcpy(copy, d.mv_data, d.mv_size);
        }
        mdb_txn_reset(txn);
        uint64_t t1 = now_ns();
        if (rc)
            fprintf(stderr, "reader_bench: %s: LMDB: %s\n", id, mdb_strerror(rc));
        ns[i] = t1 - t0;
        total += t1 - t0;
    }
    if (txn)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    free(copy);
    return rc ? 0 : total;
}

static void report(const char *what, uint64_t *ns, size_t n, uint64_t total) {
    qsort(ns, n, sizeof *ns, cmp_u64);
    printf("%-12s %10.0f lookups/s  p50 %6.2f us  p99 %6.2f us\n", what,
           (double)n * 1e9 / (double)total, (double)ns[n / 2] / 1000.0,
           (double)ns[n * 99 / 100] / 1000.0);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: reader_bench STORE IDS_FILE [LOOKUPS]\n");
        return 2;
    }
    size_t lookups = argc > 3 ? strtoul(argv[3], NULL, 10) : 1000000;
    size_t nids = 0;
    char **ids = read_ids(argv[2], &nids);
    if (!ids || !nids || !lookups) {
        fprintf(stderr, "reader_bench: no ids in %s\n", argv[2]);
        return 2;
    }
    uint64_t *ns = malloc(lookups * sizeof *ns), ref;
    hub360_reader_t *r = NULL;
    char err[512];
    int status = 2;
    /* a first pass over every id warms the page cache, as a server's
     * would be */
    if (!ns || !run_lmdb(argv[1], ids, nids, nids < lookups ? nids : lookups, ns) ||
        !(ref = run_lmdb(argv[1], ids, nids, lookups, ns)))
        goto done;
    report("lmdb", ns, lookups, ref);
    if (hub360_open(argv[1], &r, err, sizeof err)) {
        fprintf(stderr, "reader_bench: %s\n", err);
        goto done;
    }
    /* warmed again: libhub360's own pools */
    if (run(r, ids, nids, nids < lookups ? nids : lookups, JSON, ns)) {
        static const char *const names[] = {"get", "get+fields", "get+json"};
        status = 0;
        for (int what = GET; what <= JSON && !status; what++) {
            uint64_t t = run(r, ids, nids, lookups, what, ns);
            if (t)
                report(names[what], ns, lookups, t);
            status = t ? 0 : 1;
        }
    }
    struct rusage ru;
    if (!status && getrusage(RUSAGE_SELF, &ru) == 0)
        printf("peak RSS %ld KiB\n", ru.ru_maxrss);
done:
    free(ns);
    hub360_close(r);
    for (size_t i = 0; i < nids; i++)
        free(ids[i]);
    free(ids);
    return status;
}
