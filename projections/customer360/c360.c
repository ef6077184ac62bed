/*
 * hub360 - the customer-360 projection: store, batches, and applying one
 * event (domain events fold into their entity; control events link,
 * unlink and forget). The identity graph and the views are brought up to
 * date once per batch, in graph.c.
 */
#include "c360_internal.h"

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "hash.h"
#include "sort.h"
#include "json.h"
#include "log.h"
#include "par.h"
#include "timefmt.h"
#include "uuid.h"

const hub_table_def_t hub_c360_tables[T_COUNT] = {
    {"meta", 0},      {"offsets", 0},  {"dedupe", 0},
    {"entities", 0},  {"members", 0}, {"ident", MDB_DUPSORT},
    {"views", 0},     {"ids", 0},
    {"timeline", 0},  {"changes", 0},  {"ctl", 0},
    {"forgotten", 0}, {"pending", MDB_DUPSORT},
    {"report_days", 0}, {"report_entities", 0}, {"report_customers", 0},
    {"report_meta", 0},
};

#define val hub_mval

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

static int field(const hub_snode_t *rec, const char *name, char *err,
                 size_t errlen) {
    int i = hub_snode_field(rec, name);
    if (i < 0)
        hub_fail(err, errlen, HUB_ESCHEMA, "%s has no field %s",
                 rec->fullname, name);
    return i;
}

static int bind_envelope(hub_c360_t *c, char *err, size_t errlen) {
    const hub_snode_t *e = c->env;
    if ((c->f_event_id = field(e, "event_id", err, errlen)) < 0 ||
        (c->f_type = field(e, "type", err, errlen)) < 0 ||
        (c->f_occurred = field(e, "occurred_at", err, errlen)) < 0 ||
        (c->f_source = field(e, "source", err, errlen)) < 0 ||
        (c->f_identities = field(e, "identities", err, errlen)) < 0 ||
        (c->f_payload = field(e, "payload", err, errlen)) < 0 ||
        (c->f_sequence = field(e, "sequence", err, errlen)) < 0)
        return HUB_ESCHEMA;
    const hub_snode_t *src = e->fields[c->f_source].type;
    const hub_snode_t *ident = e->fields[c->f_identities].type->items;
    if ((c->s_system = field(src, "system", err, errlen)) < 0 ||
        (c->s_kind = field(src, "kind", err, errlen)) < 0 ||
        (c->s_etype = field(src, "entity_type", err, errlen)) < 0 ||
        (c->s_eid = field(src, "entity_id", err, errlen)) < 0 ||
        (c->i_kind = field(ident, "kind", err, errlen)) < 0 ||
        (c->i_value = field(ident, "value", err, errlen)) < 0)
        return HUB_ESCHEMA;
    const hub_snode_t *u = e->fields[c->f_payload].type;
    c->b_link = c->b_unlink = c->b_forget = -1;
    for (size_t b = 0; b < u->nbranches; b++) {
        const char *t = u->branches[b]->event_type;
        const hub_snode_t *r = u->branches[b];
        if (!t)
            continue;
        if (strcmp(t, "identity.link") == 0) {
            c->b_link = (int)b;
            c->ctl_identities = hub_snode_field(r, "identities");
            c->ctl_customer_ids = hub_snode_field(r, "customer_ids");
        } else if (strcmp(t, "identity.unlink") == 0) {
            c->b_unlink = (int)b;
        } else if (strcmp(t, "customer.forget") == 0) {
            c->b_forget = (int)b;
            c->ctl_customer_id = hub_snode_field(r, "customer_id");
            c->ctl_identity = hub_snode_field(r, "identity");
        }
    }
    if (c->b_link < 0 || c->b_unlink < 0 || c->b_forget < 0 ||
        c->ctl_identities < 0 || c->ctl_customer_ids < 0 ||
        c->ctl_customer_id < 0 || c->ctl_identity < 0)
        return hub_fail(err, errlen, HUB_ESCHEMA,
                        "the envelope lacks the control events");
    return 0;
}

static int new_maps(hub_c360_t *c) {
    c->ents = hub_hmap_new();
    c->comps = hub_hmap_new();
    c->regraph = hub_hmap_new();
    c->cust_dirty = hub_hmap_new();
    c->offsets = hub_hmap_new();
    c->seen = hub_hmap_new();
    return c->ents && c->comps && c->regraph && c->cust_dirty &&
                   c->offsets && c->seen
               ? 0
               : HUB_ENOMEM;
}

/*
 * The layout of the tables (meta "format", be64). A store written in
 * another layout is refused with a hint rather than misread; a new,
 * empty store is given this one. 1 (no mark): component headers in a
 * table of their own; 2: no report tables; 3: stamps without the
 * envelope's sequence; 4: timeline keys without it.
 */
#define STORE_FORMAT 5

static int check_format(hub_c360_t *c, const char *path, int writer,
                        char *err, size_t errlen) {
    MDB_txn *txn;
    int rc = mdb_txn_begin(hub_store_env(c->store), NULL,
                           writer ? 0 : MDB_RDONLY, &txn);
    if (rc)
        return hub_fail(err, errlen, hub_store_err(rc), "%s: %s", path,
                        mdb_strerror(rc));
    MDB_val k = hub_mval("format", 6), d;
    uint64_t format = 1;
    MDB_stat st;
    if (mdb_get(txn, DBI(c, T_META), &k, &d) == 0 && d.mv_size == 8)
        format = hub_rd_be64(d.mv_data);
    else if (mdb_stat(txn, DBI(c, T_META), &st) == 0 && st.ms_entries == 0)
        format = 0; /* empty: new */
    rc = 0;
    if (format == 0 && writer) {
        uint8_t b[8];
        hub_be64(b, STORE_FORMAT);
        d = hub_mval(b, 8);
        rc = mdb_put(txn, DBI(c, T_META), &k, &d, 0);
        rc = rc ? rc : mdb_txn_commit(txn);
        txn = NULL;
        if (rc)
            rc = hub_fail(err, errlen, hub_store_err(rc), "%s: %s", path,
                          mdb_strerror(rc));
    } else if (format != STORE_FORMAT && format != 0) {
        rc = hub_fail(err, errlen, HUB_ESTATE,
                      "the store at %s has the table layout %llu of an "
                      "older or newer hub360 (this one reads %d): "
                      "`hub360 rebuild` makes it anew from the topics",
                      path, (unsigned long long)format, STORE_FORMAT);
    }
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

/* A text the projector keeps in meta (its default phone region, the
 * Kafka cluster its offsets belong to), for readers: 1 when found. */
static int stored_meta(hub_c360_t *c, const char *key, char *out,
                       size_t outlen) {
    MDB_txn *txn;
    if (mdb_txn_begin(hub_store_env(c->store), NULL, MDB_RDONLY, &txn))
        return 0;
    MDB_val k = hub_mval(key, strlen(key)), d;
    int found = mdb_get(txn, DBI(c, T_META), &k, &d) == 0 &&
                d.mv_size < outlen;
    if (found)
        snprintf(out, outlen, "%.*s", (int)d.mv_size, (const char *)d.mv_data);
    mdb_txn_abort(txn);
    return found;
}

static int record_region(hub_c360_t *c, const char *region, const char *path,
                         char *err, size_t errlen) {
    char was[16] = "";
    if (stored_meta(c, "default_region", was, sizeof was) &&
        strcmp(was, region) == 0)
        return 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(hub_store_env(c->store), NULL, 0, &txn);
    if (!rc) {
        MDB_val k = hub_mval("default_region", 14),
                d = hub_mval(region, strlen(region));
        rc = mdb_put(txn, DBI(c, T_META), &k, &d, 0);
        rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
    }
    return rc ? hub_fail(err, errlen, hub_store_err(rc), "%s: %s", path,
                         mdb_strerror(rc))
              : 0;
}

int hub_c360_open(const hub_config_t *cfg, const char *path,
                  hub_codec_t *codec, hub_c360_t **out, char *err,
                  size_t errlen) {
    *out = NULL;
    hub_c360_t *c = calloc(1, sizeof *c);
    if (!c)
        return HUB_ENOMEM;
    c->cfg = cfg;
    c->codec = codec;
    c->env = hub_schema_root(hub_codec_reader(codec));
    int flags = HUB_STORE_CREATE | HUB_STORE_WRITER |
                (cfg->projector.sync ? 0 : HUB_STORE_NOSYNC) |
                (cfg->projector.writemap ? HUB_STORE_WRITEMAP : 0);
    int rc = hub_store_open(path, hub_c360_tables, T_COUNT,
                            cfg->projector.map_size, flags, &c->store, err,
                            errlen);
    if (!rc)
        rc = check_format(c, path, 1, err, errlen);
    if (!rc)
        rc = hub_stock_open(c->store, 1, &c->stock, err, errlen);
    if (!rc)
        rc = bind_envelope(c, err, errlen);
    if (!rc)
        rc = hub_folder_new(hub_codec_reader(codec), &c->folder, err, errlen);
    if (!rc && !(rc = hub_ident_rules_init(&c->rules, &cfg->identity, err,
                                          errlen)))
        c->have_rules = 1;
    if (!rc)
        rc = record_region(c, cfg->identity.default_region, path, err, errlen);
    if (!rc)
        rc = hub_view_rules_new(&cfg->profile, &cfg->segments, &c->vrules, err,
                                errlen);
    if (!rc)
        rc = hub_report_open(c->store, T_REPORT, cfg->reporting.time_zone,
                             &c->report, err, errlen);
    if (!rc)
        rc = new_maps(c);
    if (rc) {
        hub_c360_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int hub_c360_open_reader(const char *path, hub_c360_t **out, char *err,
                         size_t errlen) {
    *out = NULL;
    hub_c360_t *c = calloc(1, sizeof *c);
    if (!c)
        return HUB_ENOMEM;
    int rc = hub_store_open(path, hub_c360_tables, T_COUNT, 0,
                            HUB_STORE_RDONLY, &c->store, err, errlen);
    if (!rc)
        rc = check_format(c, path, 0, err, errlen);
    if (!rc)
        rc = hub_stock_open(c->store, 0, &c->stock, err, errlen);
    if (!rc)
        rc = hub_c360_ensure_schema(c, err, errlen);
    if (!rc) {
        /* identity lookups normalize as the projector that wrote the
         * store does: its default phone region is in the store; offsets
         * are those of the cluster it recorded */
        stored_meta(c, "cluster_id", c->cluster, sizeof c->cluster);
        hub_config_t *defaults = NULL;
        char region[16] = "";
        rc = hub_config_parse("(defaults)", "", 0, &defaults, err, errlen);
        if (!rc && stored_meta(c, "default_region", region, sizeof region) &&
            hub_config_set_str(&defaults->identity.default_region, region))
            rc = HUB_ENOMEM;
        if (!rc && !(rc = hub_ident_rules_init(&c->rules, &defaults->identity,
                                              err, errlen)))
            c->have_rules = 1;
        hub_config_free(defaults);
    }
    if (!rc)
        rc = hub_report_open(c->store, T_REPORT, NULL, &c->report, err,
                             errlen);
    if (rc) {
        hub_c360_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Cached entities live in the batch arena; those made with malloc (the
 * control paths may) are freed here. */
static void free_cent(void *p) {
    cent *ce = p;
    if (ce)
        hub_ent_free(ce->e);
}

void hub_c360_close(hub_c360_t *c) {
    if (!c)
        return;
    hub_c360_prepare_end(c);
    if (c->txn)
        mdb_txn_abort(c->txn);
    hub_hmap_free(c->ents, free_cent);
    free(c->fresh);
    free(c->defer);
    hub_arena_free(&c->arena);
    free(c->pre);
    for (size_t t = 0; t < HUB_PAR_MAX; t++) {
        hub_arena_free(&c->pre_arena[t]);
        hub_arena_free(&c->vbuilt[t]);
    }
    if (c->comps)
        hub_graph_clear(c);
    hub_hmap_free(c->comps, NULL);
    hub_hmap_free(c->regraph, NULL);
    hub_hmap_free(c->cust_dirty, NULL);
    hub_hmap_free(c->offsets, free);
    hub_hmap_free(c->seen, NULL);
    hub_buf_free(&c->tmp);
    hub_buf_free(&c->timeline);
    hub_buf_free(&c->view);
    hub_buf_free(&c->key);
    free(c->chg);
    hub_buf_free(&c->chg_views);
    hub_folder_free(c->folder);
    if (c->have_rules)
        hub_ident_rules_free(&c->rules);
    hub_view_rules_free(c->vrules);
    hub_report_close(c->report);
    if (c->have_value)
        avro_value_decref(&c->c360_value);
    hub_catalog_free(c->cat);
    hub_stock_close(c->stock);
    hub_store_close(c->store);
    free(c);
}

struct hub_stock *hub_c360_stock(hub_c360_t *c) { return c->stock; }

/* ------------------------------------------------------------------ */
/* Meta and offsets                                                    */
/* ------------------------------------------------------------------ */

static int meta_get_u64(hub_c360_t *c, MDB_txn *txn, const char *name,
                        uint64_t *v) {
    MDB_val k = val(name, strlen(name)), d;
    if (mdb_get(txn, DBI(c, T_META), &k, &d) || d.mv_size != 8)
        return HUB_ENOENT;
    *v = hub_rd_be64(d.mv_data);
    return 0;
}

static int meta_put_u64(hub_c360_t *c, MDB_txn *txn, const char *name,
                        uint64_t v) {
    uint8_t b[8];
    hub_be64(b, v);
    MDB_val k = val(name, strlen(name)), d = val(b, 8);
    return hub_store_err(mdb_put(txn, DBI(c, T_META), &k, &d, 0));
}

int hub_c360_set_cluster(hub_c360_t *c, const char *cluster_id) {
    snprintf(c->cluster, sizeof c->cluster, "%s", cluster_id);
    MDB_txn *txn;
    int rc = mdb_txn_begin(hub_store_env(c->store), NULL, 0, &txn);
    if (rc)
        return hub_store_err(rc);
    MDB_val k = val("cluster_id", 10), d;
    int changed = 0;
    if (mdb_get(txn, DBI(c, T_META), &k, &d) == 0 &&
        (d.mv_size != strlen(cluster_id) ||
         memcmp(d.mv_data, cluster_id, d.mv_size) != 0)) {
        hub_log_warn("project",
                     "the store last read Kafka cluster %.*s; now connected "
                     "to %s: reading that cluster's partitions from the "
                     "beginning, keeping the views",
                     (int)d.mv_size, (const char *)d.mv_data, cluster_id);
        changed = 1;
    }
    d = val(cluster_id, strlen(cluster_id));
    rc = mdb_put(txn, DBI(c, T_META), &k, &d, 0);
    if (rc)
        mdb_txn_abort(txn);
    else
        rc = mdb_txn_commit(txn);
    return rc ? hub_store_err(rc) : changed;
}

static size_t offset_key(hub_c360_t *c, const char *topic, int32_t part,
                         uint8_t *out, size_t outlen) {
    size_t cl = strlen(c->cluster), tl = strlen(topic);
    if (cl + tl + 6 > outlen)
        return 0;
    memcpy(out, c->cluster, cl);
    out[cl] = 0;
    memcpy(out + cl + 1, topic, tl);
    out[cl + 1 + tl] = 0;
    hub_be32(out + cl + tl + 2, (uint32_t)part);
    return cl + tl + 6;
}

int64_t hub_c360_offset(hub_c360_t *c, const char *topic, int32_t partition) {
    MDB_txn *txn = c->txn;
    int own = !txn;
    if (own && mdb_txn_begin(hub_store_env(c->store), NULL, MDB_RDONLY, &txn))
        return -1;
    uint8_t kb[512];
    size_t kl = offset_key(c, topic, partition, kb, sizeof kb);
    MDB_val k = val(kb, kl), d;
    int64_t off = -1;
    if (kl && mdb_get(txn, DBI(c, T_OFFSETS), &k, &d) == 0 && d.mv_size == 8)
        off = (int64_t)hub_rd_be64(d.mv_data);
    if (own)
        mdb_txn_abort(txn);
    return off;
}

/* ------------------------------------------------------------------ */
/* The batch cache                                                     */
/* ------------------------------------------------------------------ */

typedef struct deferred {
    uint64_t pre;        /* the key's first 8 bytes, big-endian, 0-padded */
    const void *key, *val;
    uint32_t klen, vlen;
    uint32_t table, seq; /* seq: later writes of one key win */
} deferred;

/* Up to 8 bytes of a key as a big-endian number, 0-padded: numbers
 * compare as the bytes do. */
static inline uint64_t key_word(const uint8_t *p, size_t len) {
    uint64_t w = 0;
    if (len >= 8) {
        memcpy(&w, p, 8);
        return be64toh(w);
    }
    for (size_t i = 0; i < 8; i++)
        w = w << 8 | (i < len ? p[i] : 0);
    return w;
}

int hub_c360_defer_ref(hub_c360_t *c, int table, const void *key,
                       size_t klen, const void *val, size_t vlen) {
    if (hub_array_grow(&c->defer, &c->capdefer, c->ndefer, sizeof *c->defer,
                       4096))
        return HUB_ENOMEM;
    void *k = hub_arena_alloc(&c->arena, klen ? klen : 1);
    if (!k)
        return HUB_ENOMEM;
    memcpy(k, key, klen);
    c->defer[c->ndefer] =
        (deferred){key_word(key, klen), k, val, (uint32_t)klen,
                   (uint32_t)vlen, (uint32_t)table, (uint32_t)c->ndefer};
    c->ndefer++;
    return 0;
}

int hub_c360_defer(hub_c360_t *c, int table, const void *key, size_t klen,
                   const void *val, size_t vlen) {
    void *v = hub_arena_alloc(&c->arena, vlen ? vlen : 1);
    if (!v)
        return HUB_ENOMEM;
    if (vlen)
        memcpy(v, val, vlen);
    return hub_c360_defer_ref(c, table, key, klen, v, vlen);
}

/* LMDB's default order: bytes, then the shorter first; eight bytes at a
 * time (most keys differ in their first eight). */
static int cmp_deferred(const void *a, const void *b) {
    const deferred *x = a, *y = b;
    if (x->pre != y->pre)
        return x->pre < y->pre ? -1 : 1;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    const uint8_t *p = x->key, *q = y->key;
    for (size_t i = 8; i < n; i += 8) {
        uint64_t u = key_word(p + i, n - i), v = key_word(q + i, n - i);
        if (u != v)
            return u < v ? -1 : 1;
    }
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The deferred writes bucketed by table, to be sorted table by table. */
typedef struct dsort {
    deferred *v;
    size_t start[T_COUNT + 1]; /* table t is v[start[t]..start[t+1]) */
    size_t order[T_COUNT];     /* the tables, the biggest first */
} dsort;

static void sort_table(void *arg, size_t i, size_t t) {
    (void)t;
    dsort *d = arg;
    size_t tb = d->order[i];
    hub_sort(d->v + d->start[tb], d->start[tb + 1] - d->start[tb],
             sizeof *d->v, cmp_deferred);
}

/* Takes the deferred writes to the tables of mask (bit t: table t) out
 * of c->defer, the others staying in the order they came: into d,
 * bucketed by table (in the order they came), then sorted table by
 * table, the biggest first, on every core when par, else here. */
static int take_deferred(hub_c360_t *c, unsigned mask, int par, dsort *d) {
    size_t count[T_COUNT] = {0}, at[T_COUNT], kept = 0;
    for (size_t i = 0; i < c->ndefer; i++)
        count[c->defer[i].table]++;
    for (size_t t = 0; t < T_COUNT; t++) {
        if (!(mask >> t & 1))
            count[t] = 0;
        d->start[t + 1] = d->start[t] + count[t];
        at[t] = d->start[t];
        d->order[t] = t;
    }
    if (!(d->v = malloc((d->start[T_COUNT] ? d->start[T_COUNT] : 1) *
                        sizeof *d->v)))
        return HUB_ENOMEM;
    for (size_t i = 0; i < c->ndefer; i++) {
        const deferred *x = &c->defer[i];
        if (mask >> x->table & 1)
            d->v[at[x->table]++] = *x;
        else
            c->defer[kept++] = *x;
    }
    c->ndefer = kept;
    for (size_t i = 1; i < T_COUNT; i++) /* insertion sort: 14 tables */
        for (size_t k = i; k > 0 && count[d->order[k]] > count[d->order[k - 1]];
             k--) {
            size_t x = d->order[k];
            d->order[k] = d->order[k - 1];
            d->order[k - 1] = x;
        }
    if (par)
        hub_par_for(T_COUNT, 1, 0, sort_table, d);
    else
        for (size_t i = 0; i < T_COUNT; i++)
            sort_table(d, i, 0);
    return 0;
}

_Static_assert(T_COUNT <= 32, "a table mask is an unsigned");

int hub_c360_flush_tables(hub_c360_t *c, unsigned mask, int par) {
    c->flushed = 1;
    dsort d = {0};
    int rc = take_deferred(c, mask, par, &d);
    if (rc) {
        c->ndefer = 0;
        return rc;
    }
    MDB_cursor *cur = NULL;
    uint32_t table = UINT32_MAX;
    for (size_t i = 0; i < d.start[T_COUNT] && !rc; i++) {
        const deferred *x = &d.v[i];
        if (x->table != table) {
            if (cur)
                mdb_cursor_close(cur);
            cur = NULL;
            table = x->table;
            if ((rc = mdb_cursor_open(c->txn, DBI(c, (int)table), &cur)))
                break;
        }
        MDB_val k = val(x->key, x->klen), v = val(x->val, x->vlen);
        rc = mdb_cursor_put(cur, &k, &v, 0);
    }
    if (cur)
        mdb_cursor_close(cur);
    free(d.v);
    return hub_store_err(rc);
}

int hub_c360_flush_deferred(hub_c360_t *c) {
    return hub_c360_flush_tables(c, ~0u, 1);
}

void hub_c360_mark(hub_hmap_t *set, const char *key, size_t len) {
    hub_hmap_put(set, key, len, NULL);
}

int hub_c360_load(hub_c360_t *c, const char *key, size_t len, cent **out) {
    return hub_c360_load_known(c, key, len, 0, 0, out);
}

/* What prepare found in T_ENTITIES is what this transaction holds until
 * deferred writes go in (a forget also deletes there right after). */
int hub_c360_load_known(hub_c360_t *c, const char *key, size_t len,
                        unsigned pre, uint64_t compid, cent **out) {
    int created;
    void **slot = hub_hmap_put(c->ents, key, len, &created);
    if (!slot)
        return HUB_ENOMEM;
    if (!created) {
        *out = *slot;
        return 0;
    }
    cent *ce = hub_arena_calloc(&c->arena, sizeof *ce);
    if (!ce)
        return HUB_ENOMEM;
    *slot = ce; /* the slot moves when the map grows: not used below */
    *out = ce;
    if (!(pre & PRE_ENT) || c->flushed) {
        MDB_val k = val(key, len), d;
        int rc = mdb_get(c->txn, DBI(c, T_ENTITIES), &k, &d);
        if (rc == MDB_NOTFOUND)
            return 0;
        if (rc)
            return hub_store_err(rc);
        if (d.mv_size != 8)
            return HUB_EDECODE;
        compid = hub_rd_be64(d.mv_data);
    } else if (!(pre & PRE_ENT_HAS)) {
        return 0;
    }
    /* its state is in its component's record: loading that fills ce */
    struct comp *cp;
    int rc = hub_graph_comp(c, compid, &cp);
    if (rc == 0 && !ce->e)
        rc = HUB_EDECODE; /* the index and the record disagree */
    return rc;
}

int hub_c360_get_or_new(hub_c360_t *c, const char *key, size_t len,
                        cent **out, int *created) {
    return hub_c360_get_or_new_known(c, key, len, 0, 0, NULL, out, created);
}

int hub_c360_get_or_new_known(hub_c360_t *c, const char *key, size_t len,
                              unsigned pre, uint64_t compid,
                              const uint8_t *sha, cent **out, int *created) {
    int rc = hub_c360_load_known(c, key, len, pre, compid, out);
    *created = 0;
    if (rc)
        return rc;
    if ((*out)->e) {
        hub_ent_set_cidh((*out)->e, sha);
        return 0;
    }
    if (!((*out)->e = hub_ent_new(&c->arena, key, len)))
        return HUB_ENOMEM;
    hub_ent_set_cidh((*out)->e, sha);
    *created = 1;
    (*out)->dirty = (*out)->moved = 1;
    if (hub_array_grow(&c->fresh, &c->capfresh, c->nfresh, sizeof *c->fresh,
                       256))
        return HUB_ENOMEM;
    c->fresh[c->nfresh++] = *out;
    char cid[HUB_CUSTOMER_ID_LEN + 1];
    hub_ent_cid((*out)->e, cid);
    return hub_c360_defer(c, T_IDS, cid, HUB_CUSTOMER_ID_LEN, key, len);
}

int hub_c360_index(hub_c360_t *c, const char *ident, const char *ekey,
                   size_t ekeylen, int add) {
    MDB_val k = val(ident, strlen(ident)), d = val(ekey, ekeylen);
    if (k.mv_size > HUB_MAX_KEY)
        return 0; /* too long to index: it links nothing */
    int rc = add ? mdb_put(c->txn, DBI(c, T_IDENT), &k, &d, MDB_NODUPDATA)
                 : mdb_del(c->txn, DBI(c, T_IDENT), &k, &d);
    return rc == MDB_KEYEXIST || rc == MDB_NOTFOUND ? 0 : hub_store_err(rc);
}

int hub_c360_carriers(hub_c360_t *c, const char *ident, hub_hmap_t *out) {
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->txn, DBI(c, T_IDENT), &cur);
    if (rc)
        return hub_store_err(rc);
    MDB_val k = val(ident, strlen(ident)), d;
    for (int r = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY); r == 0;
         r = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP))
        hub_c360_mark(out, d.mv_data, d.mv_size);
    mdb_cursor_close(cur);
    return 0;
}

int hub_c360_forgotten(hub_c360_t *c, char tag, const char *key, size_t len,
                       int64_t at, int set) {
    uint8_t md[32];
    char t[2] = {tag, ':'};
    hub_sha256(t, 2, key, len, md);
    MDB_val k = val(md, 32), d;
    if (!set)
        return mdb_get(c->txn, DBI(c, T_FORGOTTEN), &k, &d) == 0;
    uint8_t b[8];
    hub_be64(b, (uint64_t)at);
    d = val(b, 8);
    c->any_forgotten = 1;
    return hub_store_err(mdb_put(c->txn, DBI(c, T_FORGOTTEN), &k, &d, 0));
}

/* ------------------------------------------------------------------ */
/* Batches                                                             */
/* ------------------------------------------------------------------ */

int hub_c360_begin(hub_c360_t *c) {
    if (c->txn)
        return HUB_ESTATE;
    int rc = mdb_txn_begin(hub_store_env(c->store), NULL, 0, &c->txn);
    if (rc)
        return hub_store_err(rc);
    memset(&c->stats, 0, sizeof c->stats);
    c->now_ms = c->clock_ms ? c->clock_ms : hub_time_now_ms();
    c->seq = c->next_comp = 0;
    c->dedupe_added = 0;
    c->nchg = 0;
    hub_buf_reset(&c->chg_views);
    meta_get_u64(c, c->txn, "seq", &c->seq);
    meta_get_u64(c, c->txn, "next_comp", &c->next_comp);
    MDB_stat st;
    c->any_forgotten =
        mdb_stat(c->txn, DBI(c, T_FORGOTTEN), &st) == 0 && st.ms_entries > 0;
    c->any_pending =
        mdb_stat(c->txn, DBI(c, T_PENDING), &st) == 0 && st.ms_entries > 0;
    c->any_excluded =
        mdb_stat(c->txn, DBI(c, T_CTL), &st) == 0 && st.ms_entries > 0;
    hub_stock_begin(c->stock, c->txn);
    return 0;
}

void hub_c360_set_clock(hub_c360_t *c, int64_t now_ms) { c->clock_ms = now_ms; }

void hub_c360_abort(hub_c360_t *c) {
    hub_c360_prepare_end(c); /* its threads use the batch's arenas */
    if (c->txn)
        mdb_txn_abort(c->txn);
    c->txn = NULL;
    hub_stock_abort(c->stock);
    hub_hmap_clear(c->ents, free_cent);
    hub_graph_clear(c);
    hub_hmap_clear(c->regraph, NULL);
    hub_hmap_clear(c->cust_dirty, NULL);
    hub_hmap_clear(c->offsets, free);
    hub_hmap_clear(c->seen, NULL);
    hub_report_abort(c->report);
    c->flushed = 0;
    c->nfresh = 0;
    c->ndefer = 0;
    hub_arena_reset(&c->arena);
    c->npre = c->nextpre = 0;
    for (size_t t = 0; t < HUB_PAR_MAX; t++) {
        hub_arena_reset(&c->pre_arena[t]);
        hub_arena_reset(&c->vbuilt[t]);
    }
}

void hub_c360_trim(hub_c360_t *c) {
    if (c->txn)
        return;
    hub_c360_prepare_end(c);
    hub_arena_free(&c->arena);
    for (size_t t = 0; t < HUB_PAR_MAX; t++) {
        hub_arena_free(&c->pre_arena[t]);
        hub_arena_free(&c->vbuilt[t]);
    }
}

int hub_c360_dead(hub_c360_result_t *res, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof res->error, fmt, ap);
    va_end(ap);
    res->outcome = HUB_C360_DEAD;
    return 0;
}

static int record_offset(hub_c360_t *c, const hub_c360_msg_t *m) {
    if (!m->topic)
        return 0;
    size_t tl = strlen(m->topic);
    char k[300];
    if (tl + 5 > sizeof k)
        return 0;
    memcpy(k, m->topic, tl);
    k[tl] = 0;
    hub_be32((uint8_t *)k + tl + 1, (uint32_t)m->partition);
    void **slot = hub_hmap_put(c->offsets, k, tl + 5, NULL);
    if (!slot)
        return HUB_ENOMEM;
    if (!*slot) {
        if (!(*slot = malloc(sizeof(int64_t))))
            return HUB_ENOMEM;
        *(int64_t *)*slot = INT64_MIN;
    }
    /* a batch may be applied in any order: the highest offset counts */
    if (m->offset + 1 > *(int64_t *)*slot)
        *(int64_t *)*slot = m->offset + 1;
    return 0;
}

/*
 * Writes the timeline entry of an event: key entity key, NUL, the event's
 * stamp (hub_stamp_put: occurred_at, sequence, event id; so an entity's
 * entries sort by time, and a tie of time by the source's own order);
 * value u8 version, varint type length, type, and the fold's summary as
 * JSON members without braces. Everything else a timeline item shows
 * comes from the key; c360_read.c renders it.
 */
static int put_timeline(hub_c360_t *c, const hub_ent_t *e,
                        const hub_stamp_t *st, const char *type,
                        size_t typelen) {
    hub_buf_t *k = &c->key;
    hub_buf_reset(k);
    hub_buf_append(k, e->key, e->keylen);
    hub_buf_putc(k, '\0');
    uint8_t tail[HUB_STAMP_LEN];
    hub_stamp_put(tail, st);
    hub_buf_append(k, tail, sizeof tail);
    if (k->len > HUB_MAX_KEY)
        return 0;
    hub_buf_t *v = &c->tmp;
    hub_buf_reset(v);
    uint8_t head[3] = {HUB_TIMELINE_VERSION, (uint8_t)(typelen & 0x7f), 0};
    size_t hl = 2;
    if (typelen > 0x7f) { /* a two-byte varint: types are short */
        head[1] |= 0x80;
        head[2] = (uint8_t)(typelen >> 7);
        hl = 3;
    }
    hub_buf_append(v, head, hl);
    hub_buf_append(v, type, typelen);
    if (c->timeline.len > 2) /* the fold's summary, without braces */
        hub_buf_append(v, c->timeline.data + 1, c->timeline.len - 2);
    return hub_c360_defer(c, T_TIMELINE, k->data, k->len, v->data, v->len);
}

/* Records the event id: 1 the first time, 0 for a duplicate (which
 * changes nothing), or an error. Seen before means in this batch (the
 * set c->seen) or in the store (looked up by prepare, or now). Before
 * the commit's pruning T_DEDUPE only gains ids of c->seen: these puts,
 * deferred (in key order at the commit, or earlier when a control event
 * flushes), so what prepare found there still holds. */
static int first_time(hub_c360_t *c, const hub_c360_decoded_t *d,
                      hub_c360_result_t *res) {
    int created, dup;
    if (!hub_hmap_put(c->seen, d->id.b, 16, &created))
        return HUB_ENOMEM;
    if (!created) {
        dup = 1;
    } else if (d->pre & PRE_DEDUPE) {
        dup = (d->pre & PRE_SEEN) != 0;
    } else {
        MDB_val k = val(d->id.b, 16), v;
        int rc = mdb_get(c->txn, DBI(c, T_DEDUPE), &k, &v);
        if (rc && rc != MDB_NOTFOUND)
            return hub_store_err(rc);
        dup = rc == 0;
    }
    if (dup) {
        res->outcome = HUB_C360_DUPLICATE;
        c->stats.duplicates++;
        return 0;
    }
    uint8_t now[8];
    hub_be64(now, (uint64_t)c->now_ms);
    int rc = hub_c360_defer(c, T_DEDUPE, d->id.b, 16, now, 8);
    if (rc)
        return rc;
    c->dedupe_added++;
    return 1;
}

int hub_c360_apply(hub_c360_t *c, const hub_c360_msg_t *m,
                   hub_c360_result_t *res) {
    res->outcome = HUB_C360_IGNORED;
    res->error[0] = '\0';
    if (!c->txn)
        return HUB_ESTATE;
    int rc = record_offset(c, m);
    if (rc)
        return rc;
    hub_c360_decoded_t here,
        *d = hub_c360_decoded_of(c, m, &here, res, &rc);
    if (!d)
        return rc;
    c->stats.identities_rejected += d->rejected;
    if (d->what == D_DEAD)
        return hub_c360_dead(res, "%s", d->error);
    const hub_stamp_t *st = &d->st;
    if (d->what == D_LINK || d->what == D_UNLINK || d->what == D_FORGET) {
        if ((rc = first_time(c, d, res)) != 1 ||
            (rc = hub_c360_flush_deferred(c)))
            return rc;
        c->stats.applied++;
        return d->what == D_FORGET
                   ? hub_c360_apply_forget(c, &d->payload, st, res)
                   : hub_c360_apply_link(c, &d->payload, d->what == D_UNLINK,
                                         st, res);
    }
    const char *ekey = d->ekey;
    size_t ekeylen = d->ekeylen, nids = d->nids;

    /* stock, purchasing, production are about no customer, but deduped
     * like every event: every first arrival reaches the other projections */
    if ((rc = first_time(c, d, res)) != 1)
        return rc;
    /* the daily figures count every event once, forgotten people's too:
     * they hold no personal data, and so do not depend on whether a
     * forget came before or after */
    hub_report_event_t rev = {d->type, d->typelen, &d->payload, *st, ekey,
                              ekeylen, d->has_sha ? d->ekey_sha : NULL,
                              &d->report};
    if ((rc = hub_report_event(c->report, c->txn, &rev)))
        return rc;
    /* orders reserve stock whether or not their customer was forgotten */
    if ((rc = hub_stock_apply(c->stock, &d->payload, st, ekey, ekeylen)) < 0)
        return rc;
    if (d->what == D_OTHER) {
        c->stats.ignored++;
        return 0; /* stock, purchasing, production: not about a customer */
    }

    /* a forgotten person stays forgotten */
    if (c->any_forgotten &&
        (rc = hub_c360_forget_arrival(c, ekey, ekeylen, d->ids, d->kinds,
                                      nids, st->at))) {
        if (rc < 0)
            return rc;
        c->stats.ignored++;
        return 0;
    }

    cent *ce;
    int created;
    if ((rc = hub_c360_get_or_new_known(
             c, ekey, ekeylen, d->pre, d->pre_comp,
             d->has_sha ? d->ekey_sha : NULL, &ce, &created)))
        return rc;
    if (created && (c->any_forgotten || c->any_pending)) {
        char cid[HUB_CUSTOMER_ID_LEN + 1];
        int gone = 0;
        hub_ent_cid(ce->e, cid);
        if ((rc = hub_c360_new_id_pending(c, ekey, ekeylen, cid, &gone)))
            return rc;
        if (gone) {
            c->stats.ignored++;
            return 0;
        }
    }
    hub_ent_t *e = ce->e;
    e->kind = (uint8_t)d->kind;
    if (hub_stamp_cmp(st, &e->first) < 0)
        e->first = *st;
    if (hub_stamp_cmp(st, &e->last) > 0)
        e->last = *st;
    e->events++;
    for (size_t i = 0; i < nids; i++) {
        const char *id = d->ids[i];
        const hub_eid_t *had = hub_ent_find_id(e, id);
        if (had) {
            /* an earlier event for a known identity: only the order of
             * links past the size cap may depend on its stamp */
            if (hub_stamp_cmp(st, &had->st) < 0) {
                hub_ent_add_id(e, id, strlen(id), d->kinds[i], had->flags,
                               st);
                if (had->flags & HUB_EID_LINKS)
                    hub_graph_restamped(c, ce);
            }
            continue;
        }
        int links = d->links[i] >= 0
                        ? d->links[i]
                        : hub_ident_links(&c->rules, d->kinds[i], id,
                                          d->raw[i], d->rawlen[i]);
        if (hub_ent_add_id(e, id, strlen(id), d->kinds[i],
                           links ? HUB_EID_LINKS : 0, st) < 0)
            return HUB_ENOMEM;
        if ((rc = hub_graph_add_identity(c, ce, id, links)))
            return rc;
    }
    uint32_t before = e->nids;
    hub_fold_out_t fo;
    hub_buf_reset(&c->timeline);
    hub_fold_apply(c->folder, d->rule, e, &d->payload, st, d->system, &fo,
                   &c->timeline);
    for (uint32_t i = before; i < e->nids; i++) { /* new references */
        char ref[512];
        size_t rl = strlen(e->ids[i].key);
        if (rl >= sizeof ref)
            continue;
        memcpy(ref, e->ids[i].key, rl + 1);
        if ((rc = hub_graph_add_identity(c, ce, ref, 1)))
            return rc;
    }
    ce->dirty = 1;
    /* linked to nobody: a customer of its own */
    if (!e->comp && (rc = hub_graph_new_entity(c, ce)))
        return rc;
    if ((rc = put_timeline(c, e, st, d->type, d->typelen)) ||
        (rc = hub_graph_touch(c, ekey, ekeylen)))
        return rc;
    res->outcome = HUB_C360_APPLIED;
    c->stats.applied++;
    return 0;
}

/*
 * Removes dedupe entries first seen before the window, a slice per batch:
 * a scan through the table that carries its position (meta dedupe_scan)
 * from batch to batch. meta dedupe_floor is a lower bound of every
 * entry's first-seen time, so while the whole table is younger than the
 * window nothing is scanned. A pass that reaches the end raises the floor
 * to the oldest entry it kept, or to the time the pass began (for entries
 * added behind it), whichever is older (meta dedupe_pass: start, oldest).
 */
static int prune_dedupe(hub_c360_t *c, size_t budget) {
    int64_t cutoff = c->now_ms - c->cfg->projector.dedupe_window_ms;
    uint64_t floor;
    if (meta_get_u64(c, c->txn, "dedupe_floor", &floor))
        return meta_put_u64(c, c->txn, "dedupe_floor", (uint64_t)c->now_ms);
    if ((int64_t)floor > cutoff)
        return 0; /* nothing can be that old */
    MDB_cursor *cur;
    int oc = mdb_cursor_open(c->txn, DBI(c, T_DEDUPE), &cur);
    if (oc)
        return hub_store_err(oc);
    MDB_val mk = val("dedupe_scan", 11), pk = val("dedupe_pass", 11), pos, k,
            d;
    int r;
    uint8_t start[16], pass[16];
    if (mdb_get(c->txn, DBI(c, T_META), &pk, &pos) == 0 && pos.mv_size == 16) {
        memcpy(pass, pos.mv_data, 16);
    } else {
        hub_be64(pass, (uint64_t)c->now_ms);
        hub_be64(pass + 8, (uint64_t)INT64_MAX);
    }
    int64_t oldest = (int64_t)hub_rd_be64(pass + 8);
    if (mdb_get(c->txn, DBI(c, T_META), &mk, &pos) == 0 && pos.mv_size == 16) {
        memcpy(start, pos.mv_data, 16);
        k = val(start, 16);
        r = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    } else {
        r = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
    }
    size_t seen = 0;
    while (r == 0 && seen++ < budget) {
        int64_t at = d.mv_size == 8 ? (int64_t)hub_rd_be64(d.mv_data) : 0;
        if (at < cutoff) {
            int dr = mdb_cursor_del(cur, 0);
            if (dr) { /* a full map, most likely: the batch must fail */
                mdb_cursor_close(cur);
                return hub_store_err(dr);
            }
            r = mdb_cursor_get(cur, &k, &d, MDB_GET_CURRENT);
            if (r == 0)
                continue;
            r = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
            continue;
        }
        if (at < oldest)
            oldest = at;
        r = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    int rc = 0;
    if (r == 0 && k.mv_size == 16) {
        memcpy(start, k.mv_data, 16);
        MDB_val v = val(start, 16);
        hub_be64(pass + 8, (uint64_t)oldest);
        MDB_val pv = val(pass, 16);
        rc = mdb_put(c->txn, DBI(c, T_META), &mk, &v, 0);
        if (!rc)
            rc = mdb_put(c->txn, DBI(c, T_META), &pk, &pv, 0);
    } else { /* the end: a new floor, and the next pass from the start */
        int64_t began = (int64_t)hub_rd_be64(pass);
        uint8_t fb[8];
        hub_be64(fb, (uint64_t)(oldest < began ? oldest : began));
        MDB_val fk = val("dedupe_floor", 12), fv = val(fb, 8);
        rc = mdb_put(c->txn, DBI(c, T_META), &fk, &fv, 0);
        int r1 = mdb_del(c->txn, DBI(c, T_META), &mk, NULL);
        int r2 = mdb_del(c->txn, DBI(c, T_META), &pk, NULL);
        if (!rc && r1 != MDB_NOTFOUND)
            rc = r1;
        if (!rc && r2 != MDB_NOTFOUND)
            rc = r2;
    }
    mdb_cursor_close(cur);
    return hub_store_err(rc);
}

int hub_c360_commit(hub_c360_t *c, hub_c360_stats_t *stats, char *err,
                    size_t errlen) {
    if (!c->txn)
        return HUB_ESTATE;
    hub_c360_prepare_end(c);
    int rc = hub_graph_finish(c);
    if (!rc)
        rc = hub_stock_commit(c->stock, &c->stats.stock_oversold);
    if (!rc)
        rc = hub_c360_flush_deferred(c);
    /* dedupe: a slice of the old ids, twice as many as came in */
    if (!rc)
        rc = prune_dedupe(c, 2 * c->dedupe_added + 64);
    if (!rc)
        rc = hub_report_flush(c->report, c->txn);
    /* offsets */
    size_t pos = 0, klen;
    const char *k;
    void *v;
    while (!rc && hub_hmap_next(c->offsets, &pos, &k, &klen, &v)) {
        uint8_t kb[512], ob[8];
        int32_t part = (int32_t)((uint32_t)(uint8_t)k[klen - 4] << 24 |
                                 (uint32_t)(uint8_t)k[klen - 3] << 16 |
                                 (uint32_t)(uint8_t)k[klen - 2] << 8 |
                                 (uint8_t)k[klen - 1]);
        size_t kl = offset_key(c, k, part, kb, sizeof kb);
        hub_be64(ob, (uint64_t)*(int64_t *)v);
        MDB_val mk = val(kb, kl), mv = val(ob, 8);
        rc = hub_store_err(mdb_put(c->txn, DBI(c, T_OFFSETS), &mk, &mv, 0));
    }
    if (!rc)
        rc = meta_put_u64(c, c->txn, "seq", c->seq);
    if (!rc)
        rc = meta_put_u64(c, c->txn, "next_comp", c->next_comp);
    if (!rc) {
        int mrc = mdb_txn_commit(c->txn);
        c->txn = NULL;
        rc = hub_store_err(mrc);
        if (!rc)
            hub_store_prefault(c->store);
        if (rc)
            hub_fail(err, errlen, rc, "committing the batch: %s",
                     mdb_strerror(mrc));
    } else {
        hub_fail(err, errlen, rc, "%s",
                 rc == HUB_EFULL
                     ? "the LMDB map is full (projector.map_size): nothing "
                       "of this batch was kept; raise map_size and restart"
                     : hub_store_strerror(rc));
    }
    if (rc) {
        c->nchg = 0;
    } else {
        for (size_t i = 0; i < c->nchg; i++)
            if (c->chg[i].view)
                c->chg[i].view = c->chg_views.data +
                                 ((uintptr_t)c->chg[i].view - 1);
    }
    c->stats.seq = c->seq;
    if (stats)
        *stats = c->stats;
    hub_c360_abort(c); /* clears the caches; the txn is already gone */
    return rc;
}

size_t hub_c360_last_changes(const hub_c360_t *c,
                             const hub_c360_change_t **out) {
    *out = c->chg;
    return c->nchg;
}
