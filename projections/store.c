/*
 * hub360 - the LMDB store: environments, tables, generations.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "fsutil.h"

#define MAX_TABLES 32

/*
 * One environment per store directory per process. LMDB's locks belong
 * to a process: a second mdb_env_open of a directory the process already
 * has open finds no other holder of the lock file, takes itself for the
 * only user and resets the file under the first environment (its reader
 * table and the writer's mutex), and closing either drops the locks the
 * other relies on. `hub360 up` reads the store in its API while its
 * projector writes it, and a program may open the reader library twice;
 * so every hub_store_t of one directory shares one environment (found by
 * its data file), counted, closed by the last. envs_lock is held while an
 * environment opens and while tables open (mdb_dbi_open: one transaction
 * at a time per process).
 */
typedef struct shared_env {
    struct shared_env *next;
    MDB_env *env;
    int rdonly; /* opened with MDB_RDONLY: no writer can share it */
    int refs;
} shared_env;

static pthread_mutex_t envs_lock = PTHREAD_MUTEX_INITIALIZER;
static shared_env *envs;
static int readers_share_only; /* hub_store_readers_share */

void hub_store_readers_share(int on) {
    __atomic_store_n(&readers_share_only, on, __ATOMIC_RELEASE);
}

struct hub_store {
    MDB_env *env;
    shared_env *shared;
    MDB_dbi dbi[MAX_TABLES];
    size_t ntables;
    int lock_fd;
    int writemap;
    int pf_advice;          /* MADV_POPULATE_WRITE or _READ */
    char dir[PATH_MAX];
    /* hub_store_prefault's thread and what it was given */
    pthread_t pf_thread;
    int pf_running;         /* started, not joined */
    atomic_int pf_done;
    char *pf_base;          /* the map */
    char *pf_addr;
    size_t pf_len;
    size_t pf_end;          /* bytes of the map faulted in so far */
    size_t pf_used;         /* bytes in use at the last call */
};

static __thread int last_eio; /* the LMDB code behind the last HUB_EIO */

int hub_store_err(int rc) {
    switch (rc) {
    case 0: return 0;
    case MDB_MAP_FULL: return HUB_EFULL;
    case MDB_NOTFOUND: return HUB_ENOENT;
    case ENOMEM: return HUB_ENOMEM;
    default: last_eio = rc; return HUB_EIO;
    }
}

const char *hub_store_strerror(int rc) {
    static __thread char buf[192];
    int why = last_eio;
    last_eio = 0;
    if (rc != HUB_EIO || !why)
        return hub_strerror(rc);
    snprintf(buf, sizeof buf, "%s (LMDB: %s)", hub_strerror(rc),
             mdb_strerror(why));
    return buf;
}

int hub_store_target(const char *link, char *out, size_t outlen) {
    char target[PATH_MAX];
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0)
        return HUB_ENOENT;
    target[n] = '\0';
    if (target[0] == '/') {
        snprintf(out, outlen, "%s", target);
    } else {
        const char *slash = strrchr(link, '/');
        int dirlen = slash ? (int)(slash - link) : 0;
        if (slash)
            snprintf(out, outlen, "%.*s/%s", dirlen, link, target);
        else
            snprintf(out, outlen, "%s", target);
    }
    return 0;
}

/* Highest generation number of link's siblings "<base>.<n>". */
static long last_generation(const char *link) {
    char parent[PATH_MAX];
    const char *slash = strrchr(link, '/');
    const char *base = slash ? slash + 1 : link;
    if (slash)
        snprintf(parent, sizeof parent, "%.*s", (int)(slash - link), link);
    else
        snprintf(parent, sizeof parent, ".");
    DIR *d = opendir(parent);
    long best = 0;
    size_t blen = strlen(base);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, base, blen) || e->d_name[blen] != '.')
            continue;
        char *end;
        long n = strtol(e->d_name + blen + 1, &end, 10);
        if (!*end && n > best)
            best = n;
    }
    if (d)
        closedir(d);
    return best;
}

int hub_store_next_generation(const char *link, char *out, size_t outlen,
                              char *err, size_t errlen) {
    long n = last_generation(link) + 1;
    if (snprintf(out, outlen, "%s.%ld", link, n) >= (int)outlen)
        return hub_fail(err, errlen, HUB_EINVAL, "%s: path too long", link);
    if (hub_mkdir_p(out))
        return hub_fail(err, errlen, HUB_EIO, "%s: %s", out, strerror(errno));
    return 0;
}

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

void hub_store_discard_generation(const char *generation) {
    remove_dir(generation);
}

int hub_store_swap(const char *link, const char *generation, char *err,
                   size_t errlen) {
    char old[PATH_MAX] = "", tmp[PATH_MAX + 8];
    int had_old = hub_store_target(link, old, sizeof old) == 0;
    const char *slash = strrchr(generation, '/');
    const char *rel = slash ? slash + 1 : generation; /* link is a sibling */
    snprintf(tmp, sizeof tmp, "%s.swap", link);
    unlink(tmp);
    if (symlink(rel, tmp) || rename(tmp, link))
        return hub_fail(err, errlen, HUB_EIO, "swapping %s to %s: %s", link,
                        rel, strerror(errno));
    if (had_old && strcmp(old, generation) != 0)
        remove_dir(old);
    return 0;
}

/* Makes `link` exist: a fresh generation 1 when there is no store yet. */
static int ensure_link(const char *link, char *err, size_t errlen) {
    struct stat st;
    if (lstat(link, &st) == 0)
        return 0;
    const char *slash = strrchr(link, '/');
    if (slash) {
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%.*s", (int)(slash - link), link);
        if (hub_mkdir_p(parent))
            return hub_fail(err, errlen, HUB_EIO, "%s: %s", parent,
                            strerror(errno));
    }
    char gen[PATH_MAX];
    int rc = hub_store_next_generation(link, gen, sizeof gen, err, errlen);
    return rc ? rc : hub_store_swap(link, gen, err, errlen);
}

#ifdef MADV_POPULATE_WRITE
/* Where LMDB mapped the data file: mdb_env_info tells only for a fixed
 * map, so it is found in /proc/self/maps by the file's inode. */
static char *map_base(hub_store_t *s, size_t mapsize) {
    int fd;
    struct stat st;
    if (mdb_env_get_fd(s->env, &fd) || fstat(fd, &st))
        return NULL;
    FILE *f = fopen("/proc/self/maps", "re");
    char line[PATH_MAX + 128];
    char *base = NULL;
    while (f && !base && fgets(line, sizeof line, f)) {
        unsigned long start, end, off, ino;
        unsigned dmaj, dmin;
        if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &start, &end, &off,
                   &dmaj, &dmin, &ino) == 6 &&
            ino == (unsigned long)st.st_ino && off == 0 &&
            end - start >= mapsize)
            base = (char *)start;
    }
    if (f)
        fclose(f);
    return base;
}

static void *prefault_run(void *arg) {
    hub_store_t *s = arg;
    /* only a head start for the writer: an error changes nothing */
    (void)madvise(s->pf_addr, s->pf_len, s->pf_advice);
    atomic_store(&s->pf_done, 1);
    return NULL;
}
#endif

void hub_store_prefault(hub_store_t *s) {
#ifdef MADV_POPULATE_WRITE
    if (!s->writemap)
        return;
    if (s->pf_running) {
        if (!atomic_load(&s->pf_done))
            return; /* still at the last stretch */
        pthread_join(s->pf_thread, NULL);
        s->pf_running = 0;
    }
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(s->env, &info) || mdb_env_stat(s->env, &st))
        return;
    size_t used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
    /* twice what the last batch added: 4 MiB at least, 256 at most */
    size_t ahead = used > s->pf_used ? 2 * (used - s->pf_used) : 0;
    ahead = ahead < (4u << 20) ? 4u << 20 : ahead > (256u << 20) ? 256u << 20
                                                                  : ahead;
    s->pf_used = used;
    size_t from = used > s->pf_end ? used : s->pf_end;
    size_t end = used + ahead < info.me_mapsize ? used + ahead
                                                : info.me_mapsize;
    if (from >= end)
        return;
    if (!s->pf_base && !(s->pf_base = map_base(s, info.me_mapsize))) {
        s->writemap = 0; /* not found: no head start */
        return;
    }
    s->pf_addr = s->pf_base + from;
    s->pf_len = end - from;
    s->pf_end = end;
    atomic_store(&s->pf_done, 0);
    s->pf_running =
        pthread_create(&s->pf_thread, NULL, prefault_run, s) == 0;
#else
    (void)s;
#endif
}

void hub_store_close(hub_store_t *s) {
    if (!s)
        return;
    if (s->pf_running)
        pthread_join(s->pf_thread, NULL);
    if (s->shared) {
        pthread_mutex_lock(&envs_lock);
        shared_env *e = s->shared;
        if (--e->refs == 0) {
            for (shared_env **pp = &envs; *pp; pp = &(*pp)->next) {
                if (*pp == e) {
                    *pp = e->next;
                    break;
                }
            }
            mdb_env_close(e->env);
            free(e);
        }
        pthread_mutex_unlock(&envs_lock);
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    free(s);
}

/* e has dir's data file open: that very file, not one since deleted
 * (a generation `rebuild` removed, whose directory's inode a new
 * generation may reuse while a reader still holds the old). */
static int env_is(const shared_env *e, const char *dir) {
    char path[PATH_MAX + 16];
    struct stat now, held;
    int fd;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    return mdb_env_get_fd(e->env, &fd) == 0 && fstat(fd, &held) == 0 &&
           held.st_nlink > 0 && stat(path, &now) == 0 &&
           now.st_dev == held.st_dev && now.st_ino == held.st_ino;
}

/* The environment of s->dir: the one this process has open, shared, or
 * a new one. With envs_lock held. */
static int env_get(hub_store_t *s, const char *path, int flags,
                   int64_t map_size, char *err, size_t errlen) {
    int rdonly = (flags & HUB_STORE_RDONLY) != 0;
    shared_env *e = envs;
    while (e && !env_is(e, s->dir))
        e = e->next;
    if (e && e->rdonly && !rdonly)
        return hub_fail(err, errlen, HUB_ESTATE,
                        "the store at %s is open read-only in this process "
                        "(LMDB allows one environment per process): it "
                        "cannot be written here while that reader is open",
                        path);
    if (!e && rdonly &&
        __atomic_load_n(&readers_share_only, __ATOMIC_ACQUIRE))
        return hub_fail(err, errlen, HUB_ENOENT,
                        "the store at %s is not open yet: this process's "
                        "projector opens it",
                        path);
    if (e) {
        e->refs++;
    } else {
        unsigned envflags = MDB_NOTLS | MDB_NORDAHEAD;
        if (rdonly)
            envflags |= MDB_RDONLY;
        if (flags & HUB_STORE_NOSYNC)
            envflags |= MDB_NOSYNC;
        if ((flags & HUB_STORE_WRITEMAP) && !rdonly)
            envflags |= MDB_WRITEMAP;
        if (!(e = calloc(1, sizeof *e)))
            return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
        int rc;
        if ((rc = mdb_env_create(&e->env)) ||
            (rc = mdb_env_set_maxdbs(e->env, MAX_TABLES)) ||
            (rc = mdb_env_set_maxreaders(e->env, 512)) ||
            (!rdonly &&
             (rc = mdb_env_set_mapsize(e->env, (size_t)map_size))) ||
            (rc = mdb_env_open(e->env, s->dir, envflags, 0644))) {
            if (e->env)
                mdb_env_close(e->env);
            free(e);
            return hub_fail(err, errlen, hub_store_err(rc),
                            "opening the store at %s: %s", path,
                            mdb_strerror(rc));
        }
        e->rdonly = rdonly;
        e->refs = 1;
        e->next = envs;
        envs = e;
    }
    s->shared = e;
    s->env = e->env;
    unsigned ef = 0;
    mdb_env_get_flags(e->env, &ef);
    if (ef & MDB_WRITEMAP && !rdonly) {
        s->writemap = 1;
#ifdef MADV_POPULATE_WRITE
        /* a written page is found, zeroed and given disk space; without
         * fsync that is done ahead too, with it only the first two (each
         * commit's msync would write the zeroed pages out) */
        s->pf_advice = ef & MDB_NOSYNC ? MADV_POPULATE_WRITE
                                       : MADV_POPULATE_READ;
#endif
    }
    return 0;
}

/* Opens tables by name into dbi (created if `create`), in a transaction
 * of their own; an LMDB error, and the table it came from in *which. With
 * envs_lock held. */
static int tables_open(MDB_env *env, const hub_table_def_t *tables,
                       size_t ntables, int create, MDB_dbi *dbi,
                       const char **which) {
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(env, NULL, create ? 0 : MDB_RDONLY, &txn);
    for (size_t i = 0; !rc && i < ntables; i++) {
        if ((rc = mdb_dbi_open(txn, tables[i].name,
                               tables[i].flags | (create ? MDB_CREATE : 0),
                               &dbi[i])) &&
            which)
            *which = tables[i].name;
    }
    if (!rc)
        return mdb_txn_commit(txn);
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

int hub_store_open(const char *path, const hub_table_def_t *tables,
                   size_t ntables, int64_t map_size, int flags,
                   hub_store_t **out, char *err, size_t errlen) {
    *out = NULL;
    if (ntables > MAX_TABLES)
        return hub_fail(err, errlen, HUB_EINVAL, "too many tables");
    int rc;
    if ((flags & HUB_STORE_CREATE) && (rc = ensure_link(path, err, errlen)))
        return rc;
    hub_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return HUB_ENOMEM;
    s->lock_fd = -1;
    s->ntables = ntables;
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        hub_store_target(path, s->dir, sizeof s->dir);
    } else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(s->dir, sizeof s->dir, "%s", path);
    } else {
        hub_store_close(s);
        return hub_fail(err, errlen, HUB_ENOENT,
                        "no store at %s (has `hub360 project` run with this "
                        "data dir?)",
                        path);
    }
    if (flags & HUB_STORE_WRITER) {
        char lock[PATH_MAX + 16];
        snprintf(lock, sizeof lock, "%s/writer.lock", s->dir);
        s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
            char pid[32] = "?";
            ssize_t n = s->lock_fd >= 0 ? pread(s->lock_fd, pid, 31, 0) : -1;
            if (n > 0)
                pid[strcspn(pid, "\n")] = '\0';
            else
                snprintf(pid, sizeof pid, "?");
            hub_store_close(s);
            return hub_fail(err, errlen, HUB_ESTATE,
                            "another hub360 process (pid %s) is writing the "
                            "store at %s",
                            pid, path);
        }
        char pid[32];
        int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        if (ftruncate(s->lock_fd, 0) == 0 &&
            pwrite(s->lock_fd, pid, (size_t)len, 0) < 0) {
            /* the pid is only for the message above */
        }
    }
    pthread_mutex_lock(&envs_lock);
    rc = env_get(s, path, flags, map_size, err, errlen);
    const char *table = NULL;
    int mdb = rc ? 0
                 : tables_open(s->env, tables, ntables,
                               !(flags & HUB_STORE_RDONLY), s->dbi, &table);
    pthread_mutex_unlock(&envs_lock);
    if (mdb == MDB_MAP_FULL)
        rc = hub_fail(err, errlen, HUB_EFULL,
                      "the LMDB map of %s is full before anything was "
                      "written (a map of %lld bytes; projector.map_size for "
                      "the projector's store): raise it and restart",
                      path, (long long)map_size);
    else if (mdb && table)
        rc = hub_fail(err, errlen,
                      mdb == MDB_NOTFOUND ? HUB_ENOENT : hub_store_err(mdb),
                      "%s: table %s: %s", path, table, mdb_strerror(mdb));
    else if (mdb)
        rc = hub_fail(err, errlen, hub_store_err(mdb), "%s: %s", path,
                      mdb_strerror(mdb));
    if (rc) {
        hub_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int hub_store_open_tables(hub_store_t *s, const hub_table_def_t *tables,
                          size_t ntables, int create, MDB_dbi *dbi) {
    pthread_mutex_lock(&envs_lock);
    int rc = tables_open(s->env, tables, ntables, create, dbi, NULL);
    pthread_mutex_unlock(&envs_lock);
    return rc;
}

MDB_env *hub_store_env(hub_store_t *s) { return s->env; }
MDB_dbi hub_store_dbi(hub_store_t *s, size_t table) { return s->dbi[table]; }
const char *hub_store_dir(const hub_store_t *s) { return s->dir; }
