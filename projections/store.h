/*
 * hub360 - the LMDB store the projections keep their views in.
 *
 * One environment per store directory (and per process: see
 * hub_store_readers_share), reached through the symlink
 * DATA_DIR/<name> that points at a generation directory
 * (DATA_DIR/<name>.<n>). `hub360 rebuild` fills generation n+1 beside the
 * live one and swaps the symlink atomically; readers open whatever the
 * link names. One writer at a time per store (an flock on DIR/writer.lock
 * makes a second projector fail fast instead of interleaving batches).
 *
 * Tables are LMDB named databases, opened once by name. All values that
 * hold integers use big-endian encodings so keys sort numerically.
 */
#ifndef HUB_STORE_H
#define HUB_STORE_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hub_store hub_store_t;

typedef struct hub_table_def {
    const char *name;
    unsigned flags; /* MDB_DUPSORT, ... */
} hub_table_def_t;

enum {
    HUB_STORE_RDONLY = 1,   /* readers: get, export, the API */
    HUB_STORE_NOSYNC = 2,   /* no fsync on commit */
    HUB_STORE_CREATE = 4,   /* create the directory and link if missing */
    HUB_STORE_WRITER = 8,   /* take the writer lock */
    HUB_STORE_WRITEMAP = 16, /* writes through a writable map */
};

/*
 * Opens the store at `path` (the symlink, e.g. ./data/customer360, or a
 * generation directory) with the given tables. Errors: HUB_ENOENT (no
 * store, with a hint), HUB_ESTATE (another writer holds it), HUB_EIO.
 */
int hub_store_open(const char *path, const hub_table_def_t *tables,
                   size_t ntables, int64_t map_size, int flags,
                   hub_store_t **out, char *err, size_t errlen);
void hub_store_close(hub_store_t *s);

/*
 * A process opens each store directory's LMDB environment once: a store
 * opened again (a reader beside the writer, two readers) shares it, and
 * the last hub_store_close closes it. A writer cannot share what a reader
 * opened read-only (HUB_ESTATE). After hub_store_readers_share(1), readers
 * only share: where no writer of this process has the store open they
 * fail with HUB_ENOENT instead of opening it read-only first (`hub360 up`,
 * whose API must not keep its projector from opening the store).
 */
void hub_store_readers_share(int on);

/* Opens more tables by name into dbi (created if `create`); 0 or an LMDB
 * error (MDB_NOTFOUND: a reader's table the store does not have). */
int hub_store_open_tables(hub_store_t *s, const hub_table_def_t *tables,
                          size_t ntables, int create, MDB_dbi *dbi);

MDB_env *hub_store_env(hub_store_t *s);
MDB_dbi hub_store_dbi(hub_store_t *s, size_t table);
/* The directory the environment lives in (resolved from the link). */
const char *hub_store_dir(const hub_store_t *s);

/*
 * With a writable map (HUB_STORE_WRITEMAP), faults in the pages past the
 * end of the data on a thread of its own (twice what the last call saw
 * the store grow, 4 to 256 MiB), so that the writer's next transaction
 * does not stop on each new page for the kernel to find and zero it.
 * Call after a commit; returns at once, and does nothing while the last
 * call's thread is still at work or without a writable map. With
 * HUB_STORE_NOSYNC the pages are faulted in for writing (blocks are
 * allocated, and the kernel may write their zeros out before the writer
 * uses them); otherwise only read in, so that each commit's sync does
 * not write them.
 */
void hub_store_prefault(hub_store_t *s);

/* Maps an LMDB error to a hub error code (MDB_MAP_FULL -> HUB_EFULL). */
int hub_store_err(int mdb_rc);

/* hub_strerror(rc), and for HUB_EIO LMDB's own words for the error
 * hub_store_err last turned into it on this thread ("I/O error (LMDB:
 * MDB_BAD_TXN: ...)"): "I/O error" alone names no cause. Reading the
 * LMDB error forgets it, so it is never told twice. The string lives
 * until the thread's next call. */
const char *hub_store_strerror(int rc);

/*
 * Generations. hub_store_next_generation creates an empty directory
 * beside the link (DATA_DIR/<name>.<n+1>) and returns its path;
 * hub_store_swap points the link at it atomically and removes the old
 * generation. Both return 0 or a hub error with a message.
 */
/* Removes a generation that was never swapped in (a rebuild that
 * failed or was interrupted): its files, then the directory. */
void hub_store_discard_generation(const char *generation);

int hub_store_next_generation(const char *link, char *out, size_t outlen,
                              char *err, size_t errlen);
int hub_store_swap(const char *link, const char *generation, char *err,
                   size_t errlen);
/* The generation directory a link points at now, into out. */
int hub_store_target(const char *link, char *out, size_t outlen);

/* Big-endian helpers for keys and values. */
static inline void hub_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}
static inline uint64_t hub_rd_be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}
static inline void hub_be32(uint8_t *p, uint32_t v) {
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

#endif
