/*
 * hub360 - the customer-360 projection: store, batches, and applying one
 * event (domain events fold into their entity; control events link,
 * unlink and forget). The identity graph and the views are brought up to
 * date once per batch, in graph.c.
 */
#include "c360_internal.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "timefmt.h"
#include "uuid.h"

const hub_table_def_t hub_c360_tables[T_COUNT] = {
    {"meta", 0},       {"offsets", 0},     {"dedupe", 0},
    {"entities", 0},   {"ident", MDB_DUPSORT},
    {"member", 0},     {"members", MDB_DUPSORT},
    {"views", 0},      {"ids", 0},         {"timeline", 0},
    {"changes", 0},    {"change_seq", 0},  {"ctl", 0},
    {"forgotten", 0},  {"pending", MDB_DUPSORT},
};

#define MAX_KEY 400 /* LMDB keys are at most 511 bytes */
#define DBI(c, t) hub_store_dbi((c)->store, (t))

static MDB_val val(const void *p, size_t n) {
    MDB_val v = {n, (void *)p};
    return v;
}

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
        (c->f_payload = field(e, "payload", err, errlen)) < 0)
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
    c->graph_dirty = hub_hmap_new();
    c->cust_dirty = hub_hmap_new();
    c->seen = hub_hmap_new();
    c->offsets = hub_hmap_new();
    return c->ents && c->graph_dirty && c->cust_dirty && c->seen && c->offsets
               ? 0
               : HUB_ENOMEM;
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
                (cfg->projector.sync ? 0 : HUB_STORE_NOSYNC);
    int rc = hub_store_open(path, hub_c360_tables, T_COUNT,
                            cfg->projector.map_size, flags, &c->store, err,
                            errlen);
    if (!rc)
        rc = bind_envelope(c, err, errlen);
    if (!rc)
        rc = hub_folder_new(hub_codec_reader(codec), &c->folder, err, errlen);
    if (!rc && !(rc = hub_ident_rules_init(&c->rules, &cfg->identity, err,
                                          errlen)))
        c->have_rules = 1;
    if (!rc)
        rc = hub_view_rules_new(&cfg->profile, &cfg->segments, &c->vrules, err,
                                errlen);
    if (!rc)
        rc = new_maps(c);
    if (rc) {
        hub_c360_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int open_c360_schema(hub_c360_t *c, char *err, size_t errlen) {
    int rc = hub_catalog_open(NULL, &c->cat, err, errlen);
    if (rc)
        return rc;
    c->c360_schema = hub_catalog_latest(c->cat, HUB_SCHEMA_CUSTOMER360, NULL);
    if (!c->c360_schema ||
        avro_generic_value_new(hub_schema_iface(c->c360_schema),
                               &c->c360_value))
        return hub_fail(err, errlen, HUB_ESCHEMA, "no %s schema",
                        HUB_SCHEMA_CUSTOMER360);
    c->have_value = 1;
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
        rc = open_c360_schema(c, err, errlen);
    if (!rc) {
        /* identity lookups normalize like the projector (default rules) */
        hub_config_t *defaults = NULL;
        rc = hub_config_parse("(defaults)", "", 0, &defaults, err, errlen);
        if (!rc && !(rc = hub_ident_rules_init(&c->rules, &defaults->identity,
                                              err, errlen)))
            c->have_rules = 1;
        hub_config_free(defaults);
    }
    if (rc) {
        hub_c360_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void free_cent(void *p) {
    cent *ce = p;
    if (ce) {
        hub_ent_free(ce->e);
        free(ce);
    }
}

void hub_c360_close(hub_c360_t *c) {
    if (!c)
        return;
    if (c->txn)
        mdb_txn_abort(c->txn);
    hub_hmap_free(c->ents, free_cent);
    hub_hmap_free(c->graph_dirty, NULL);
    hub_hmap_free(c->cust_dirty, NULL);
    hub_hmap_free(c->seen, NULL);
    hub_hmap_free(c->offsets, free);
    hub_buf_free(&c->tmp);
    hub_buf_free(&c->timeline);
    hub_buf_free(&c->view);
    hub_buf_free(&c->key);
    hub_folder_free(c->folder);
    if (c->have_rules)
        hub_ident_rules_free(&c->rules);
    hub_view_rules_free(c->vrules);
    if (c->have_value)
        avro_value_decref(&c->c360_value);
    hub_catalog_free(c->cat);
    hub_store_close(c->store);
    free(c);
}

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
    if (mdb_txn_begin(hub_store_env(c->store), NULL, 0, &txn))
        return HUB_EIO;
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
    int rc = mdb_put(txn, DBI(c, T_META), &k, &d, 0);
    if (rc || mdb_txn_commit(txn)) {
        if (rc)
            mdb_txn_abort(txn);
        return HUB_EIO;
    }
    return changed;
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
    uint8_t kb[512];
    size_t kl = offset_key(c, topic, partition, kb, sizeof kb);
    MDB_txn *txn = c->txn;
    int own = !txn;
    if (own && mdb_txn_begin(hub_store_env(c->store), NULL, MDB_RDONLY, &txn))
        return -1;
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

void hub_c360_mark(hub_hmap_t *set, const char *key, size_t len) {
    hub_hmap_put(set, key, len, NULL);
}

int hub_c360_load(hub_c360_t *c, const char *key, size_t len, cent **out) {
    int created;
    void **slot = hub_hmap_put(c->ents, key, len, &created);
    if (!slot)
        return HUB_ENOMEM;
    if (!created) {
        *out = *slot;
        return 0;
    }
    cent *ce = calloc(1, sizeof *ce);
    if (!ce)
        return HUB_ENOMEM;
    *slot = ce;
    MDB_val k = val(key, len), d;
    int rc = mdb_get(c->txn, DBI(c, T_ENTITIES), &k, &d);
    if (rc == 0) {
        rc = hub_ent_unpack(key, len, d.mv_data, d.mv_size, &ce->e);
        if (rc)
            return rc;
    } else if (rc != MDB_NOTFOUND) {
        return hub_store_err(rc);
    }
    *out = ce;
    return 0;
}

/* A brand-new entity: its id resolves, and links waiting for the id (or
 * a forget naming it) now apply. */
static int on_new_entity(hub_c360_t *c, const char *key, size_t len);

int hub_c360_get_or_new(hub_c360_t *c, const char *key, size_t len,
                        cent **out, int *created) {
    int rc = hub_c360_load(c, key, len, out);
    *created = 0;
    if (rc || (*out)->e)
        return rc;
    if (!((*out)->e = hub_ent_new(key, len)))
        return HUB_ENOMEM;
    (*out)->deleted = 0;
    *created = 1;
    return on_new_entity(c, key, len);
}

int hub_c360_anchor(hub_c360_t *c, const char *key, size_t len,
                    hub_buf_t *out) {
    MDB_val k = val(key, len), d;
    if (mdb_get(c->txn, DBI(c, T_MEMBER), &k, &d))
        return HUB_ENOENT;
    hub_buf_reset(out);
    return hub_buf_append(out, d.mv_data, d.mv_size);
}

int hub_c360_index(hub_c360_t *c, const char *ident, const char *ekey,
                   size_t ekeylen, int add) {
    MDB_val k = val(ident, strlen(ident)), d = val(ekey, ekeylen);
    if (k.mv_size > MAX_KEY)
        return 0; /* too long to index: it links nothing */
    int rc = add ? mdb_put(c->txn, DBI(c, T_IDENT), &k, &d, MDB_NODUPDATA)
                 : mdb_del(c->txn, DBI(c, T_IDENT), &k, &d);
    return rc == MDB_KEYEXIST || rc == MDB_NOTFOUND ? 0 : hub_store_err(rc);
}

/* ------------------------------------------------------------------ */
/* Forgetting                                                          */
/* ------------------------------------------------------------------ */

int hub_c360_forgotten(hub_c360_t *c, char tag, const char *key, size_t len,
                       int64_t at, int set) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char t[2] = {tag, ':'};
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(ctx, t, 2) || !EVP_DigestUpdate(ctx, key, len) ||
        !EVP_DigestFinal_ex(ctx, md, &mdlen)) {
        EVP_MD_CTX_free(ctx);
        return HUB_ENOMEM;
    }
    EVP_MD_CTX_free(ctx);
    MDB_val k = val(md, mdlen), d;
    if (!set)
        return mdb_get(c->txn, DBI(c, T_FORGOTTEN), &k, &d) == 0;
    uint8_t b[8];
    hub_be64(b, (uint64_t)at);
    d = val(b, 8);
    c->any_forgotten = 1;
    return hub_store_err(mdb_put(c->txn, DBI(c, T_FORGOTTEN), &k, &d, 0));
}

static int delete_prefix(hub_c360_t *c, int table, const char *prefix,
                         size_t len) {
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->txn, DBI(c, table), &cur);
    if (rc)
        return hub_store_err(rc);
    MDB_val k = val(prefix, len), d;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= len && memcmp(k.mv_data, prefix, len) == 0) {
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
        rc = mdb_cursor_get(cur, &k, &d, MDB_GET_CURRENT);
        if (rc == 0 && k.mv_size >= len &&
            memcmp(k.mv_data, prefix, len) == 0)
            continue;
        rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : hub_store_err(rc);
}

/* A forgotten identity leaves the operators' links that name it. */
static int unlink_forgotten(hub_c360_t *c, const char *ident) {
    MDB_cursor *cur;
    if (mdb_cursor_open(c->txn, DBI(c, T_IDENT), &cur))
        return HUB_EIO;
    hub_strlist_t links = {NULL, 0};
    MDB_val k = val(ident, strlen(ident)), d;
    for (int r = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY); r == 0;
         r = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP)) {
        if (d.mv_size < 12 || memcmp(d.mv_data, "hub360/link/", 12) != 0)
            continue;
        char **p = realloc(links.v, (links.n + 1) * sizeof *p);
        if (!p || !(p[links.n] = strndup(d.mv_data, d.mv_size))) {
            if (p)
                links.v = p;
            break;
        }
        links.v = p;
        links.n++;
    }
    mdb_cursor_close(cur);
    int rc = 0;
    for (size_t i = 0; i < links.n && !rc; i++) {
        cent *lk;
        size_t ll = strlen(links.v[i]);
        rc = hub_c360_load(c, links.v[i], ll, &lk);
        if (!rc && lk->e && hub_ent_remove_id(lk->e, ident)) {
            lk->dirty = 1;
            hub_c360_mark(c->graph_dirty, links.v[i], ll);
            rc = hub_c360_index(c, ident, links.v[i], ll, 0);
        }
        free(links.v[i]);
    }
    free(links.v);
    return rc;
}

/* Marks an identity forgotten and takes it off the links that name it. */
static int forget_identity(hub_c360_t *c, const char *key, int64_t at) {
    int rc = hub_c360_forgotten(c, 'i', key, strlen(key), at, 1);
    return rc ? rc : unlink_forgotten(c, key);
}

int hub_c360_forget_entity(hub_c360_t *c, const char *key, size_t len,
                           int64_t at) {
    cent *ce;
    int rc = hub_c360_load(c, key, len, &ce);
    if (rc)
        return rc;
    if ((rc = hub_c360_forgotten(c, 'e', key, len, at, 1)))
        return rc;
    if (ce->e) {
        int is_link = ce->e->kind == 3;
        for (uint32_t i = 0; i < ce->e->nids; i++) {
            const hub_eid_t *x = &ce->e->ids[i];
            if (!is_link && !(x->flags & HUB_EID_INTERNAL) &&
                (x->flags & HUB_EID_LINKS) &&
                (rc = forget_identity(c, x->key, at)))
                return rc;
            if ((rc = hub_c360_index(c, x->key, key, len, 0)))
                return rc;
        }
    }
    hub_buf_t anchor = HUB_BUF_INIT;
    if (hub_c360_anchor(c, key, len, &anchor) == 0) {
        MDB_val a = val(anchor.data, anchor.len), m = val(key, len);
        mdb_del(c->txn, DBI(c, T_MEMBERS), &a, &m);
        hub_c360_mark(c->cust_dirty, anchor.data, anchor.len);
        MDB_val k = val(key, len);
        mdb_del(c->txn, DBI(c, T_MEMBER), &k, NULL);
    }
    hub_buf_free(&anchor);
    char cid[HUB_CUSTOMER_ID_LEN + 1];
    hub_customer_id(key, len, cid);
    MDB_val ik = val(cid, HUB_CUSTOMER_ID_LEN), ek = val(key, len);
    mdb_del(c->txn, DBI(c, T_IDS), &ik, NULL);
    mdb_del(c->txn, DBI(c, T_ENTITIES), &ek, NULL);
    hub_buf_reset(&c->key);
    hub_buf_append(&c->key, key, len);
    hub_buf_putc(&c->key, '\0');
    if ((rc = delete_prefix(c, T_TIMELINE, c->key.data, len + 1)))
        return rc;
    hub_ent_free(ce->e);
    ce->e = NULL;
    ce->dirty = 0;
    ce->deleted = 1;
    c->stats.forgotten++;
    return 0;
}

/* Erases the customer an entity belongs to: everything connected to it
 * now, including what arrived earlier in this batch. */
static int forget_customer_of(hub_c360_t *c, const char *key, size_t len,
                              int64_t at) {
    hub_hmap_t *members = hub_hmap_new();
    char *start = strndup(key, len);
    int rc = members && start ? hub_c360_component(c, start, members)
                              : HUB_ENOMEM;
    free(start);
    size_t pos = 0, mlen;
    const char *m;
    while (!rc && hub_hmap_next(members, &pos, &m, &mlen, NULL))
        rc = hub_c360_forget_entity(c, m, mlen, at);
    hub_hmap_free(members, NULL);
    return rc;
}

/* Erases every customer that carries identity key. */
static int forget_carriers(hub_c360_t *c, const char *key, int64_t at) {
    hub_hmap_t *carriers = hub_hmap_new();
    MDB_cursor *cur;
    if (!carriers || mdb_cursor_open(c->txn, DBI(c, T_IDENT), &cur)) {
        hub_hmap_free(carriers, NULL);
        return HUB_ENOMEM;
    }
    MDB_val k = val(key, strlen(key)), d;
    for (int r = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY); r == 0;
         r = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP))
        hub_hmap_put(carriers, d.mv_data, d.mv_size, NULL);
    mdb_cursor_close(cur);
    size_t pos = 0, mlen;
    const char *m;
    int rc = 0;
    while (!rc && hub_hmap_next(carriers, &pos, &m, &mlen, NULL)) {
        cent *ce;
        rc = hub_c360_load(c, m, mlen, &ce);
        if (!rc && ce->e && ce->e->kind != 3) /* links are not customers */
            rc = forget_customer_of(c, m, mlen, at);
    }
    hub_hmap_free(carriers, NULL);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Control events                                                      */
/* ------------------------------------------------------------------ */

/* Normalized identities of an array of hub360.Identity records. */
static int read_identities(hub_c360_t *c, const hub_arec_t *rec, int field,
                           const char *system, hub_strlist_t *out) {
    hub_aiter_t it;
    if (hub_arec_array(rec, field, &it) < 0)
        return HUB_EDECODE;
    size_t at;
    int r;
    while ((r = hub_aiter_next(&it, &at)) == 1) {
        hub_arec_t id;
        int kind;
        const char *v;
        size_t len;
        char key[512];
        if (hub_arec_open(&id, it.items, it.buf, it.len, at) ||
            hub_arec_enum(&id, c->i_kind, &kind) != 1 ||
            hub_arec_str(&id, c->i_value, &v, &len) != 1)
            return HUB_EDECODE;
        if (hub_ident_normalize(&c->rules, kind, v, len, system, key,
                                sizeof key) < 0) {
            c->stats.identities_rejected++;
            continue;
        }
        char **p = realloc(out->v, (out->n + 1) * sizeof *p);
        if (!p || !(p[out->n] = strdup(key))) {
            if (p)
                out->v = p;
            return HUB_ENOMEM;
        }
        out->v = p;
        out->n++;
    }
    return r < 0 ? HUB_EDECODE : 0;
}

static void free_list(hub_strlist_t *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int cmp_cstr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Marks every entity that carries ident as needing a graph update. */
static int dirty_carriers(hub_c360_t *c, const char *ident) {
    MDB_cursor *cur;
    if (mdb_cursor_open(c->txn, DBI(c, T_IDENT), &cur))
        return HUB_EIO;
    MDB_val k = val(ident, strlen(ident)), d;
    for (int r = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY); r == 0;
         r = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP))
        hub_c360_mark(c->graph_dirty, d.mv_data, d.mv_size);
    mdb_cursor_close(cur);
    return 0;
}

/* The exclusion register of an identity: LWW over unlink (1) and link (0). */
static int set_excluded(hub_c360_t *c, const char *ident,
                        const hub_stamp_t *st, int excluded) {
    hub_buf_reset(&c->key);
    hub_buf_printf(&c->key, "x:%s", ident);
    if (c->key.len > MAX_KEY)
        return 0;
    MDB_val k = val(c->key.data, c->key.len), d;
    if (mdb_get(c->txn, DBI(c, T_CTL), &k, &d) == 0 && d.mv_size == 25) {
        hub_stamp_t old;
        old.at = (int64_t)hub_rd_be64(d.mv_data);
        memcpy(old.id, (const uint8_t *)d.mv_data + 8, 16);
        if (hub_stamp_cmp(st, &old) <= 0)
            return 0;
    } else if (!excluded) {
        return 0; /* nothing to lift */
    }
    uint8_t b[25];
    hub_be64(b, (uint64_t)st->at);
    memcpy(b + 8, st->id, 16);
    b[24] = (uint8_t)excluded;
    d = val(b, 25);
    int rc = mdb_put(c->txn, DBI(c, T_CTL), &k, &d, 0);
    return rc ? hub_store_err(rc) : dirty_carriers(c, ident);
}

/* The link entity of a set of identities and customer ids. */
static void link_key(const hub_strlist_t *ids, const hub_strlist_t *cids,
                     char out[64]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (size_t i = 0; i < ids->n; i++)
        EVP_DigestUpdate(ctx, ids->v[i], strlen(ids->v[i]) + 1);
    EVP_DigestUpdate(ctx, "|", 1);
    for (size_t i = 0; i < cids->n; i++)
        EVP_DigestUpdate(ctx, cids->v[i], strlen(cids->v[i]) + 1);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    int o = snprintf(out, 64, "hub360/link/");
    for (int i = 0; i < 12; i++)
        o += snprintf(out + o, 64 - (size_t)o, "%02x", md[i]);
}

/* Connects a link entity to the entity a customer id names (now, or when
 * that entity appears: T_PENDING). */
static int link_customer(hub_c360_t *c, hub_ent_t *link, const char *cid,
                         const hub_stamp_t *st) {
    MDB_val k = val(cid, strlen(cid)), d;
    if (mdb_get(c->txn, DBI(c, T_IDS), &k, &d) != 0) {
        MDB_val lk = val(link->key, link->keylen);
        c->any_pending = 1;
        int rc = mdb_put(c->txn, DBI(c, T_PENDING), &k, &lk, MDB_NODUPDATA);
        return rc == MDB_KEYEXIST ? 0 : hub_store_err(rc);
    }
    char ref[512];
    int n = snprintf(ref, sizeof ref, "@entity:%.*s", (int)d.mv_size,
                     (const char *)d.mv_data);
    if (n <= 0 || (size_t)n >= sizeof ref)
        return 0;
    cent *target;
    hub_buf_reset(&c->key);
    hub_buf_append(&c->key, d.mv_data, d.mv_size);
    int rc = hub_c360_load(c, c->key.data, c->key.len, &target);
    if (rc || !target->e)
        return rc;
    uint8_t flags = HUB_EID_INTERNAL | HUB_EID_LINKS;
    if (hub_ent_add_id(target->e, ref, (size_t)n, -1, flags, st) == 2) {
        target->dirty = 1;
        hub_c360_index(c, ref, target->e->key, target->e->keylen, 1);
        hub_c360_mark(c->graph_dirty, target->e->key, target->e->keylen);
    }
    if (hub_ent_add_id(link, ref, (size_t)n, -1, flags, st) == 2)
        hub_c360_index(c, ref, link->key, link->keylen, 1);
    return 0;
}

static int on_new_entity(hub_c360_t *c, const char *key, size_t len) {
    char cid[HUB_CUSTOMER_ID_LEN + 1];
    hub_customer_id(key, len, cid);
    MDB_val k = val(cid, HUB_CUSTOMER_ID_LEN), d = val(key, len);
    int rc = mdb_put(c->txn, DBI(c, T_IDS), &k, &d, 0);
    if (rc)
        return hub_store_err(rc);
    hub_c360_mark(c->graph_dirty, key, len);
    if (!c->any_pending)
        return 0;
    MDB_cursor *cur;
    if (mdb_cursor_open(c->txn, DBI(c, T_PENDING), &cur))
        return HUB_EIO;
    hub_strlist_t links = {NULL, 0};
    for (int r = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY); r == 0;
         r = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP)) {
        char **p = realloc(links.v, (links.n + 1) * sizeof *p);
        if (p && (p[links.n] = strndup(d.mv_data, d.mv_size))) {
            links.v = p;
            links.n++;
        }
    }
    mdb_cursor_close(cur);
    for (size_t i = 0; i < links.n && !rc; i++) {
        cent *lk;
        rc = hub_c360_load(c, links.v[i], strlen(links.v[i]), &lk);
        if (!rc && lk->e) {
            hub_stamp_t st = lk->e->first;
            rc = link_customer(c, lk->e, cid, &st);
            lk->dirty = 1;
            hub_c360_mark(c->graph_dirty, lk->e->key, lk->e->keylen);
        }
    }
    free_list(&links);
    return rc;
}

/* identity.link and identity.unlink */
static int apply_link(hub_c360_t *c, const hub_arec_t *p, int unlink,
                      const hub_stamp_t *st, hub_c360_result_t *res) {
    hub_strlist_t ids = {NULL, 0}, cids = {NULL, 0};
    int rc = read_identities(c, p, c->ctl_identities, "hub360", &ids);
    hub_aiter_t it;
    size_t at;
    int r = rc ? -1 : hub_arec_array(p, c->ctl_customer_ids, &it);
    while (r >= 0 && (r = hub_aiter_next(&it, &at)) == 1) {
        const char *s;
        size_t len;
        if (hub_aiter_str(&it, at, &s, &len) != 1) {
            r = -1;
            break;
        }
        char **v = realloc(cids.v, (cids.n + 1) * sizeof *v);
        if (!v || !(v[cids.n] = strndup(s, len))) {
            if (v)
                cids.v = v;
            rc = HUB_ENOMEM;
            break;
        }
        cids.v = v;
        cids.n++;
    }
    if (!rc && r < 0)
        rc = HUB_EDECODE;
    if (rc) {
        free_list(&ids);
        free_list(&cids);
        return rc == HUB_EDECODE ? (snprintf(res->error, sizeof res->error,
                                             "malformed control payload"),
                                    res->outcome = HUB_C360_DEAD, 0)
                                 : rc;
    }
    qsort(ids.v, ids.n, sizeof *ids.v, cmp_cstr);
    qsort(cids.v, cids.n, sizeof *cids.v, cmp_cstr);
    const char *what = unlink ? "identity.unlink" : "identity.link";
    if (ids.n + cids.n < (unlink ? 1u : 2u) || (unlink && ids.n == 0 &&
                                                cids.n == 1)) {
        snprintf(res->error, sizeof res->error,
                 "%s needs %s (got %zu valid identities and %zu customer "
                 "ids)",
                 what,
                 unlink ? "one identity, or two or more identities or "
                          "customer ids"
                        : "two or more identities or customer ids",
                 ids.n, cids.n);
        res->outcome = HUB_C360_DEAD;
        free_list(&ids);
        free_list(&cids);
        return 0;
    }
    if (unlink && ids.n == 1 && cids.n == 0) {
        rc = set_excluded(c, ids.v[0], st, 1);
    } else {
        char lkey[64];
        link_key(&ids, &cids, lkey);
        cent *ce;
        int created;
        rc = hub_c360_get_or_new(c, lkey, strlen(lkey), &ce, &created);
        if (!rc) {
            hub_ent_t *e = ce->e;
            e->kind = 3; /* HUB */
            e->roles |= ROLE_LINK;
            if (hub_stamp_cmp(st, &e->first) < 0)
                e->first = *st;
            if (hub_stamp_cmp(st, &e->last) > 0)
                e->last = *st;
            const char *status = unlink ? "cancelled" : "active";
            hub_ent_set_str(e, R_STATUS, st, status, strlen(status));
            ce->dirty = 1;
            hub_c360_mark(c->graph_dirty, lkey, strlen(lkey));
            for (size_t i = 0; i < ids.n && !rc; i++) {
                int kind = hub_ident_kind_parse(ids.v[i],
                                                strcspn(ids.v[i], ":"));
                if (c->any_forgotten &&
                    hub_c360_forgotten(c, 'i', ids.v[i], strlen(ids.v[i]), 0,
                                       0) == 1)
                    continue; /* a forgotten person links nothing */
                if (hub_ent_add_id(e, ids.v[i], strlen(ids.v[i]), kind,
                                   HUB_EID_LINKS, st) == 2)
                    rc = hub_c360_index(c, ids.v[i], e->key, e->keylen, 1);
                if (!rc && !unlink)
                    rc = set_excluded(c, ids.v[i], st, 0);
                if (!rc)
                    rc = dirty_carriers(c, ids.v[i]);
            }
            for (size_t i = 0; i < cids.n && !rc; i++)
                rc = link_customer(c, e, cids.v[i], st);
        }
    }
    free_list(&ids);
    free_list(&cids);
    res->outcome = HUB_C360_APPLIED;
    return rc;
}

/* customer.forget */
static int apply_forget(hub_c360_t *c, const hub_arec_t *p,
                        const hub_stamp_t *st, hub_c360_result_t *res) {
    const char *cid;
    size_t cidlen;
    hub_arec_t ident;
    int has_cid = hub_arec_str(p, c->ctl_customer_id, &cid, &cidlen) == 1;
    int has_ident = hub_arec_rec(p, c->ctl_identity, &ident) == 1;
    int rc = 0;
    res->outcome = HUB_C360_APPLIED;
    if (!has_cid && !has_ident) {
        snprintf(res->error, sizeof res->error,
                 "customer.forget needs a customer_id or an identity");
        res->outcome = HUB_C360_DEAD;
        return 0;
    }
    if (has_cid) {
        if ((rc = hub_c360_forgotten(c, 'c', cid, cidlen, st->at, 1)))
            return rc;
        MDB_val k = val(cid, cidlen), d;
        if (mdb_get(c->txn, DBI(c, T_IDS), &k, &d) == 0) {
            hub_buf_reset(&c->tmp);
            hub_buf_append(&c->tmp, d.mv_data, d.mv_size);
            char *key = strndup(c->tmp.data, c->tmp.len);
            rc = key ? forget_customer_of(c, key, strlen(key), st->at)
                     : HUB_ENOMEM;
            free(key);
        }
    }
    if (!rc && has_ident) {
        int kind;
        const char *v;
        size_t len;
        char key[512];
        if (hub_arec_enum(&ident, c->i_kind, &kind) != 1 ||
            hub_arec_str(&ident, c->i_value, &v, &len) != 1 ||
            hub_ident_normalize(&c->rules, kind, v, len, "hub360", key,
                                sizeof key) < 0) {
            snprintf(res->error, sizeof res->error,
                     "customer.forget: the identity is not valid");
            res->outcome = HUB_C360_DEAD;
            return 0;
        }
        if ((rc = forget_identity(c, key, st->at)))
            return rc;
        rc = forget_carriers(c, key, st->at);
    }
    return rc;
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
    c->now_ms = hub_time_now_ms();
    uint64_t seq = 0;
    meta_get_u64(c, c->txn, "seq", &seq);
    c->seq = seq;
    MDB_stat st;
    c->any_forgotten =
        mdb_stat(c->txn, DBI(c, T_FORGOTTEN), &st) == 0 && st.ms_entries > 0;
    c->any_pending =
        mdb_stat(c->txn, DBI(c, T_PENDING), &st) == 0 && st.ms_entries > 0;
    return 0;
}

void hub_c360_abort(hub_c360_t *c) {
    if (c->txn)
        mdb_txn_abort(c->txn);
    c->txn = NULL;
    hub_hmap_clear(c->ents, free_cent);
    hub_hmap_clear(c->graph_dirty, NULL);
    hub_hmap_clear(c->cust_dirty, NULL);
    hub_hmap_clear(c->seen, NULL);
    hub_hmap_clear(c->offsets, free);
}

static int dead(hub_c360_result_t *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int dead(hub_c360_result_t *res, const char *fmt, ...) {
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
    char k[300];
    int n = snprintf(k, sizeof k, "%s%c%d", m->topic, 0, (int)m->partition);
    if (n <= 0 || (size_t)n >= sizeof k)
        return 0;
    void **slot = hub_hmap_put(c->offsets, k, (size_t)n, NULL);
    if (!slot)
        return HUB_ENOMEM;
    if (!*slot && !(*slot = malloc(sizeof(int64_t))))
        return HUB_ENOMEM;
    *(int64_t *)*slot = m->offset + 1;
    return 0;
}

/* Writes the timeline entry of an event. */
static int put_timeline(hub_c360_t *c, const hub_ent_t *e,
                        const hub_stamp_t *st, const char *type,
                        size_t typelen) {
    hub_buf_t *k = &c->key;
    hub_buf_reset(k);
    hub_buf_append(k, e->key, e->keylen);
    hub_buf_putc(k, '\0');
    uint8_t tail[24];
    hub_be64(tail, (uint64_t)st->at);
    memcpy(tail + 8, st->id, 16);
    hub_buf_append(k, tail, 24);
    if (k->len > MAX_KEY)
        return 0;
    const char *sys, *et, *id;
    size_t syslen, etlen, idlen;
    hub_ent_parts(e, &sys, &syslen, &et, &etlen, &id, &idlen);
    hub_buf_t *v = &c->tmp;
    hub_buf_reset(v);
    char ts[HUB_TIME_MAXLEN];
    size_t tslen = hub_time_format(st->at, ts);
    char uid[HUB_UUID_STRLEN + 1];
    hub_uuid_format((const hub_uuid_t *)st->id, uid);
    int first = 1;
    hub_buf_putc(v, '{');
    hub_json_put_key(v, "at", &first);
    hub_json_put_str(v, ts, tslen);
    hub_json_put_key(v, "event_id", &first);
    hub_json_put_str(v, uid, HUB_UUID_STRLEN);
    hub_json_put_key(v, "type", &first);
    hub_json_put_str(v, type, typelen);
    hub_json_put_key(v, "source", &first);
    hub_json_put_str(v, sys, syslen);
    hub_json_put_key(v, "entity_type", &first);
    hub_json_put_str(v, et, etlen);
    hub_json_put_key(v, "entity_id", &first);
    hub_json_put_str(v, id, idlen);
    /* the fold's summary object, without its braces */
    if (c->timeline.len > 2) {
        hub_buf_putc(v, ',');
        hub_buf_append(v, c->timeline.data + 1, c->timeline.len - 2);
    }
    hub_buf_putc(v, '}');
    MDB_val mk = val(k->data, k->len), mv = val(v->data, v->len);
    return hub_store_err(mdb_put(c->txn, DBI(c, T_TIMELINE), &mk, &mv, 0));
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
    if (!m->value)
        return dead(res, "a null value (tombstone) on an event topic");
    const uint8_t *avro;
    size_t alen;
    char err[400];
    if ((rc = hub_codec_envelope_bytes(c->codec, m->value, m->len, &avro,
                                       &alen, err, sizeof err)))
        return hub_err_retriable(rc) ? rc : dead(res, "%s", err);
    hub_arec_t ev, src, payload;
    int branch = -1;
    if (hub_arec_open(&ev, c->env, avro, alen, 0) ||
        hub_arec_rec(&ev, c->f_source, &src) != 1 ||
        hub_arec_branch(&ev, c->f_payload, &branch, &payload) != 1)
        return dead(res, "malformed envelope");
    const char *type, *uid;
    size_t typelen, uidlen;
    int64_t occurred;
    hub_uuid_t id;
    if (hub_arec_str(&ev, c->f_type, &type, &typelen) != 1 ||
        hub_arec_str(&ev, c->f_event_id, &uid, &uidlen) != 1 ||
        hub_arec_long(&ev, c->f_occurred, &occurred) != 1)
        return dead(res, "malformed envelope");
    const char *et = payload.node->event_type;
    if (!et || strlen(et) != typelen || memcmp(et, type, typelen) != 0)
        return dead(res, "type \"%.*s\" does not match its payload (%s)",
                    (int)typelen, type, payload.node->fullname);
    if (hub_uuid_parse(uid, uidlen, &id))
        return dead(res, "event_id: expected UUID string, got \"%.*s\"",
                    (int)uidlen, uid);

    /* duplicates change nothing */
    MDB_val dk = val(id.b, 16), dv;
    int created;
    if (hub_hmap_get(c->seen, id.b, 16) ||
        mdb_get(c->txn, DBI(c, T_DEDUPE), &dk, &dv) == 0) {
        res->outcome = HUB_C360_DUPLICATE;
        c->stats.duplicates++;
        return 0;
    }
    if (!hub_hmap_put(c->seen, id.b, 16, &created))
        return HUB_ENOMEM;
    hub_stamp_t st;
    st.at = occurred;
    memcpy(st.id, id.b, 16);

    if (branch == c->b_link || branch == c->b_unlink) {
        c->stats.applied++;
        return apply_link(c, &payload, branch == c->b_unlink, &st, res);
    }
    if (branch == c->b_forget) {
        c->stats.applied++;
        return apply_forget(c, &payload, &st, res);
    }
    const hub_fold_rule_t *rule = hub_fold_rule(c->folder, branch);
    if (!rule) {
        c->stats.ignored++;
        return 0; /* stock, purchasing, production: other projections */
    }

    /* the entity */
    const char *sys, *etype, *eid;
    size_t syslen, etlen, eidlen;
    int kind;
    if (hub_arec_str(&src, c->s_system, &sys, &syslen) != 1 ||
        hub_arec_str(&src, c->s_etype, &etype, &etlen) != 1 ||
        hub_arec_str(&src, c->s_eid, &eid, &eidlen) != 1 ||
        hub_arec_enum(&src, c->s_kind, &kind) != 1)
        return dead(res, "malformed source");
    if (!syslen || !etlen || !eidlen || memchr(sys, '/', syslen) ||
        memchr(etype, '/', etlen))
        return dead(res, "source.system and source.entity_type must be "
                         "non-empty and without '/'; entity_id non-empty");
    char system[128];
    if (syslen >= sizeof system)
        return dead(res, "source.system is longer than %zu bytes",
                    sizeof system - 1);
    memcpy(system, sys, syslen);
    system[syslen] = '\0';
    hub_buf_t *ek = &c->view; /* scratch for the key */
    hub_buf_reset(ek);
    hub_buf_printf(ek, "%s/%.*s/%.*s", system, (int)etlen, etype, (int)eidlen,
                   eid);
    if (ek->len > MAX_KEY)
        return dead(res, "entity key longer than %d bytes", MAX_KEY);
    char *ekey = strndup(ek->data, ek->len);
    if (!ekey)
        return HUB_ENOMEM;
    size_t ekeylen = ek->len;

    /* identities, normalized */
    hub_aiter_t it;
    size_t at;
    int r = hub_arec_array(&ev, c->f_identities, &it);
    typedef struct { char key[512]; int kind; int links; } nid;
    nid ids[32];
    size_t nids = 0;
    while (r >= 0 && (r = hub_aiter_next(&it, &at)) == 1) {
        hub_arec_t one;
        int ik;
        const char *v;
        size_t vlen;
        if (hub_arec_open(&one, it.items, it.buf, it.len, at) ||
            hub_arec_enum(&one, c->i_kind, &ik) != 1 ||
            hub_arec_str(&one, c->i_value, &v, &vlen) != 1) {
            r = -1;
            break;
        }
        if (nids == 32)
            continue; /* more than 32 identities on one event: keep 32 */
        if (hub_ident_normalize(&c->rules, ik, v, vlen, system, ids[nids].key,
                                sizeof ids[nids].key) < 0) {
            c->stats.identities_rejected++;
            continue;
        }
        ids[nids].kind = ik;
        ids[nids].links = hub_ident_links(&c->rules, ik, ids[nids].key, v, vlen);
        nids++;
    }
    if (r < 0) {
        free(ekey);
        return dead(res, "malformed identities");
    }

    /* forgotten people stay forgotten */
    if (c->any_forgotten) {
        int gone = hub_c360_forgotten(c, 'e', ekey, ekeylen, 0, 0) == 1;
        /* any identity a forget named, linking or not (a forget may name
         * a shared mailbox); the linking identities of erased people */
        for (size_t i = 0; i < nids && !gone; i++)
            gone = hub_c360_forgotten(c, 'i', ids[i].key, strlen(ids[i].key),
                                      0, 0) == 1;
        if (gone) {
            /* everything this event would have joined goes too, so the
             * forgotten set is the same whatever the order of events */
            rc = forget_customer_of(c, ekey, ekeylen, occurred);
            for (size_t i = 0; i < nids && !rc; i++) {
                if (!ids[i].links)
                    continue;
                rc = forget_carriers(c, ids[i].key, occurred);
                if (!rc)
                    rc = forget_identity(c, ids[i].key, occurred);
            }
            free(ekey);
            res->outcome = HUB_C360_IGNORED;
            c->stats.ignored++;
            return rc;
        }
    }

    cent *ce;
    rc = hub_c360_get_or_new(c, ekey, ekeylen, &ce, &created);
    if (rc) {
        free(ekey);
        return rc;
    }
    if (created && c->any_forgotten) {
        char cid[HUB_CUSTOMER_ID_LEN + 1];
        hub_customer_id(ekey, ekeylen, cid);
        if (hub_c360_forgotten(c, 'c', cid, HUB_CUSTOMER_ID_LEN, 0, 0) == 1) {
            rc = hub_c360_forget_entity(c, ekey, ekeylen, occurred);
            free(ekey);
            c->stats.ignored++;
            return rc;
        }
    }
    hub_ent_t *e = ce->e;
    e->kind = (uint8_t)kind;
    if (hub_stamp_cmp(&st, &e->first) < 0)
        e->first = st;
    if (hub_stamp_cmp(&st, &e->last) > 0)
        e->last = st;
    e->events++;
    int relink = created;
    for (size_t i = 0; i < nids; i++) {
        uint8_t flags = ids[i].links ? HUB_EID_LINKS : 0;
        int added = hub_ent_add_id(e, ids[i].key, strlen(ids[i].key),
                                   ids[i].kind, flags, &st);
        if (added < 0) {
            free(ekey);
            return HUB_ENOMEM;
        }
        if (added == 2) {
            /* one entity that already carries it: its customer may merge
             * (or, past saturation, split) with this one */
            MDB_cursor *cur;
            MDB_val ik = val(ids[i].key, strlen(ids[i].key)), iv;
            if (mdb_cursor_open(c->txn, DBI(c, T_IDENT), &cur) == 0) {
                if (mdb_cursor_get(cur, &ik, &iv, MDB_SET_KEY) == 0)
                    hub_c360_mark(c->graph_dirty, iv.mv_data, iv.mv_size);
                mdb_cursor_close(cur);
            }
            if ((rc = hub_c360_index(c, ids[i].key, ekey, ekeylen, 1))) {
                free(ekey);
                return rc;
            }
            relink |= ids[i].links;
        } else if (added == 1 && ids[i].links) {
            relink = 1; /* an earlier stamp: it orders merges past the cap */
        }
    }
    uint32_t before = e->nids;
    hub_fold_out_t fo;
    hub_buf_reset(&c->timeline);
    hub_fold_apply(c->folder, rule, e, &payload, &st, system, &fo,
                   &c->timeline);
    for (uint32_t i = before; i < e->nids; i++) { /* new references */
        if ((rc = hub_c360_index(c, e->ids[i].key, ekey, ekeylen, 1))) {
            free(ekey);
            return rc;
        }
        relink = 1;
    }
    ce->dirty = 1;
    rc = put_timeline(c, e, &st, type, typelen);
    if (!rc) {
        if (relink) {
            hub_c360_mark(c->graph_dirty, ekey, ekeylen);
        } else {
            hub_buf_t anchor = HUB_BUF_INIT;
            if (hub_c360_anchor(c, ekey, ekeylen, &anchor) == 0)
                hub_c360_mark(c->cust_dirty, anchor.data, anchor.len);
            else
                hub_c360_mark(c->graph_dirty, ekey, ekeylen);
            hub_buf_free(&anchor);
        }
    }
    free(ekey);
    res->outcome = HUB_C360_APPLIED;
    c->stats.applied++;
    return rc;
}

/* Removes dedupe entries older than the window, a slice per batch. */
static int prune_dedupe(hub_c360_t *c, size_t budget) {
    MDB_cursor *cur;
    if (mdb_cursor_open(c->txn, DBI(c, T_DEDUPE), &cur))
        return HUB_EIO;
    MDB_val mk = val("dedupe_scan", 11), pos, k, d;
    int r;
    uint8_t start[16];
    if (mdb_get(c->txn, DBI(c, T_META), &mk, &pos) == 0 && pos.mv_size == 16) {
        memcpy(start, pos.mv_data, 16);
        k = val(start, 16);
        r = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    } else {
        r = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
    }
    int64_t cutoff = c->now_ms - c->cfg->projector.dedupe_window_ms;
    size_t seen = 0;
    while (r == 0 && seen++ < budget) {
        if (d.mv_size == 8 && (int64_t)hub_rd_be64(d.mv_data) < cutoff) {
            if (mdb_cursor_del(cur, 0))
                break;
            r = mdb_cursor_get(cur, &k, &d, MDB_GET_CURRENT);
            if (r == 0)
                continue;
            r = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
            continue;
        }
        r = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    int rc = 0;
    if (r == 0 && k.mv_size == 16) {
        memcpy(start, k.mv_data, 16);
        MDB_val v = val(start, 16);
        rc = mdb_put(c->txn, DBI(c, T_META), &mk, &v, 0);
    } else {
        rc = mdb_del(c->txn, DBI(c, T_META), &mk, NULL); /* wrap around */
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    mdb_cursor_close(cur);
    return hub_store_err(rc);
}

int hub_c360_commit(hub_c360_t *c, hub_c360_stats_t *stats, char *err,
                    size_t errlen) {
    if (!c->txn)
        return HUB_ESTATE;
    int rc = hub_c360_update_graph(c);
    /* entities */
    size_t n = 0;
    const char **keys = rc ? NULL : hub_hmap_sorted_keys(c->ents, &n);
    if (!rc && !keys)
        rc = HUB_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        cent *ce = *hub_hmap_get(c->ents, keys[i], strlen(keys[i]));
        if (!ce->dirty || !ce->e)
            continue;
        if ((rc = hub_ent_pack(ce->e, &c->tmp)))
            break;
        MDB_val k = val(ce->e->key, ce->e->keylen),
                d = val(c->tmp.data, c->tmp.len);
        rc = hub_store_err(mdb_put(c->txn, DBI(c, T_ENTITIES), &k, &d, 0));
        c->stats.entities_written++;
    }
    free(keys);
    if (!rc)
        rc = hub_c360_update_views(c);
    /* dedupe: the ids of this batch, then a slice of old ones */
    uint8_t now[8];
    hub_be64(now, (uint64_t)c->now_ms);
    size_t pos = 0, klen;
    const char *k;
    while (!rc && hub_hmap_next(c->seen, &pos, &k, &klen, NULL)) {
        MDB_val mk = val(k, klen), mv = val(now, 8);
        rc = hub_store_err(mdb_put(c->txn, DBI(c, T_DEDUPE), &mk, &mv, 0));
    }
    if (!rc)
        rc = prune_dedupe(c, 2 * hub_hmap_count(c->seen) + 64);
    /* offsets */
    pos = 0;
    void *v;
    while (!rc && hub_hmap_next(c->offsets, &pos, &k, &klen, &v)) {
        uint8_t kb[512], ob[8];
        const char *topic = k;
        int32_t part = (int32_t)strtol(k + strlen(k) + 1, NULL, 10);
        size_t kl = offset_key(c, topic, part, kb, sizeof kb);
        hub_be64(ob, (uint64_t)*(int64_t *)v);
        MDB_val mk = val(kb, kl), mv = val(ob, 8);
        rc = hub_store_err(mdb_put(c->txn, DBI(c, T_OFFSETS), &mk, &mv, 0));
    }
    if (!rc)
        rc = meta_put_u64(c, c->txn, "seq", c->seq);
    if (!rc) {
        int mrc = mdb_txn_commit(c->txn);
        c->txn = NULL;
        rc = hub_store_err(mrc);
        if (rc)
            hub_fail(err, errlen, rc, "committing the batch: %s",
                     mdb_strerror(mrc));
    } else {
        hub_fail(err, errlen, rc, "%s",
                 rc == HUB_EFULL
                     ? "the LMDB map is full (projector.map_size): nothing "
                       "of this batch was kept; raise map_size and restart"
                     : hub_strerror(rc));
    }
    c->stats.seq = c->seq;
    if (stats)
        *stats = c->stats;
    hub_c360_abort(c); /* clears the caches; the txn is already gone */
    return rc;
}
