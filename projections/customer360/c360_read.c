/*
 * hub360 - reading the customer-360 store: one view by id, alias or
 * identity; all views in id order; the digest; the change feed.
 * Each call runs in one read transaction and copies what it returns
 * before the transaction ends.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avrojson.h"
#include "c360_internal.h"
#include "errors.h"

#define val hub_mval

static int begin_read(hub_c360_t *c, MDB_txn **txn) {
    return hub_store_err(
        mdb_txn_begin(hub_store_env(c->store), NULL, MDB_RDONLY, txn));
}

/* Lazily prepares the Customer360 schema for rendering (writers too). */
static int ensure_schema(hub_c360_t *c) {
    if (c->have_value)
        return 0;
    char err[256];
    int rc = hub_catalog_open(NULL, &c->cat, err, sizeof err);
    if (rc)
        return rc;
    c->c360_schema = hub_catalog_latest(c->cat, HUB_SCHEMA_CUSTOMER360, NULL);
    if (!c->c360_schema ||
        avro_generic_value_new(hub_schema_iface(c->c360_schema),
                               &c->c360_value))
        return HUB_ESCHEMA;
    c->have_value = 1;
    return 0;
}

/* Renders Customer360 Avro bytes as canonical JSON. */
static int render(hub_c360_t *c, const void *bytes, size_t len,
                  hub_buf_t *out) {
    int rc = ensure_schema(c);
    if (rc)
        return rc;
    avro_reader_t r = avro_reader_memory(bytes, (int64_t)len);
    if (!r)
        return HUB_ENOMEM;
    avro_value_reset(&c->c360_value);
    rc = avro_value_read(r, &c->c360_value) ? HUB_EDECODE : 0;
    avro_reader_free(r);
    return rc ? rc
              : hub_avro_to_json(hub_schema_root(c->c360_schema),
                                 &c->c360_value, out);
}

/* The customer id an entity belongs to now, into cid. */
static int customer_of(hub_c360_t *c, MDB_txn *txn, const void *ekey,
                       size_t len, char cid[HUB_CUSTOMER_ID_LEN + 1]) {
    MDB_val k = val(ekey, len), d;
    if (mdb_get(txn, DBI(c, T_ENTITIES), &k, &d) || d.mv_size != 8)
        return HUB_ENOENT;
    uint8_t comp[8];
    memcpy(comp, d.mv_data, 8);
    k = val(comp, 8);
    if (mdb_get(txn, DBI(c, T_COMPS), &k, &d))
        return HUB_ENOENT;
    const char *anchor;
    size_t alen;
    if (hub_graph_record_anchor(d.mv_data, d.mv_size, &anchor, &alen) ||
        alen == 0)
        return HUB_ENOENT; /* a component without an anchor: no customer */
    hub_customer_id(anchor, alen, cid);
    return 0;
}

int hub_c360_get_json(hub_c360_t *c, const char *ref, hub_buf_t *out,
                      char *id_out, size_t idlen) {
    MDB_txn *txn;
    int rc = begin_read(c, &txn);
    if (rc)
        return rc;
    char cid[HUB_CUSTOMER_ID_LEN + 1] = "";
    size_t rlen = strlen(ref);
    MDB_val k, d;
    rc = HUB_ENOENT;
    if (rlen == HUB_CUSTOMER_ID_LEN && strncmp(ref, "cus_", 4) == 0) {
        k = val(ref, rlen);
        if (mdb_get(txn, DBI(c, T_IDS), &k, &d) == 0)
            rc = customer_of(c, txn, d.mv_data, d.mv_size, cid);
    } else {
        const char *colon = strchr(ref, ':');
        int kind = colon ? hub_ident_kind_parse(ref, (size_t)(colon - ref))
                         : -1;
        char key[512];
        if (kind >= 0 && hub_ident_normalize(&c->rules, kind, colon + 1,
                                             strlen(colon + 1), "", key,
                                             sizeof key) >= 0) {
            /* the first entity that carries it, in key order */
            MDB_cursor *cur;
            if (mdb_cursor_open(txn, DBI(c, T_IDENT), &cur) == 0) {
                k = val(key, strlen(key));
                if (mdb_cursor_get(cur, &k, &d, MDB_SET_KEY) == 0)
                    rc = customer_of(c, txn, d.mv_data, d.mv_size, cid);
                mdb_cursor_close(cur);
            }
        }
    }
    if (rc == 0) {
        k = val(cid, HUB_CUSTOMER_ID_LEN);
        rc = mdb_get(txn, DBI(c, T_VIEWS), &k, &d) ? HUB_ENOENT
                                                    : render(c, d.mv_data,
                                                             d.mv_size, out);
    }
    mdb_txn_abort(txn);
    if (rc == 0 && id_out)
        snprintf(id_out, idlen, "%s", cid);
    return rc;
}

int hub_c360_each(hub_c360_t *c,
                  int (*fn)(const char *id, const char *json, size_t len,
                            void *opaque),
                  void *opaque) {
    MDB_txn *txn;
    int rc = begin_read(c, &txn);
    if (rc)
        return rc;
    MDB_cursor *cur;
    if ((rc = hub_store_err(mdb_cursor_open(txn, DBI(c, T_VIEWS), &cur)))) {
        mdb_txn_abort(txn);
        return rc;
    }
    hub_buf_t json = HUB_BUF_INIT;
    MDB_val k, d;
    char id[HUB_CUSTOMER_ID_LEN + 1];
    for (int r = mdb_cursor_get(cur, &k, &d, MDB_FIRST); r == 0 && !rc;
         r = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        hub_buf_reset(&json);
        snprintf(id, sizeof id, "%.*s", (int)k.mv_size, (const char *)k.mv_data);
        if (!(rc = render(c, d.mv_data, d.mv_size, &json)))
            rc = fn(id, json.data, json.len, opaque);
    }
    hub_buf_free(&json);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

int hub_c360_digest(hub_c360_t *c, char hex[65], uint64_t *customers) {
    MDB_txn *txn;
    int rc = begin_read(c, &txn);
    if (rc)
        return rc;
    MDB_cursor *cur;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || mdb_cursor_open(txn, DBI(c, T_VIEWS), &cur)) {
        EVP_MD_CTX_free(ctx);
        mdb_txn_abort(txn);
        return HUB_EIO;
    }
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    uint64_t n = 0;
    MDB_val k, d;
    for (int r = mdb_cursor_get(cur, &k, &d, MDB_FIRST); r == 0;
         r = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        uint8_t len[8];
        hub_be64(len, d.mv_size); /* lengths keep the framing unambiguous */
        EVP_DigestUpdate(ctx, k.mv_data, k.mv_size);
        EVP_DigestUpdate(ctx, len, 8);
        EVP_DigestUpdate(ctx, d.mv_data, d.mv_size);
        n++;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    if (customers)
        *customers = n;
    return 0;
}

int hub_c360_changes(hub_c360_t *c, uint64_t after, size_t limit,
                     int (*fn)(uint64_t seq, const char *id,
                               const void *view, size_t len, void *opaque),
                     void *opaque) {
    MDB_txn *txn;
    int rc = begin_read(c, &txn);
    if (rc)
        return rc;
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, DBI(c, T_CHANGES), &cur)) {
        mdb_txn_abort(txn);
        return HUB_EIO;
    }
    uint8_t start[8];
    hub_be64(start, after + 1);
    MDB_val k = val(start, 8), d;
    size_t n = 0;
    char id[HUB_CUSTOMER_ID_LEN + 1];
    for (int r = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
         r == 0 && n < limit && !rc; r = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (d.mv_size != HUB_CUSTOMER_ID_LEN)
            continue;
        memcpy(id, d.mv_data, HUB_CUSTOMER_ID_LEN);
        id[HUB_CUSTOMER_ID_LEN] = '\0';
        MDB_val vk = val(id, HUB_CUSTOMER_ID_LEN), v;
        int found = mdb_get(txn, DBI(c, T_VIEWS), &vk, &v) == 0;
        rc = fn(hub_rd_be64(k.mv_data), id, found ? v.mv_data : NULL,
                found ? v.mv_size : 0, opaque);
        n++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

int hub_c360_view_bytes(hub_c360_t *c, const char *id, hub_buf_t *out) {
    MDB_txn *txn;
    int rc = begin_read(c, &txn);
    if (rc)
        return rc;
    MDB_val k = val(id, strlen(id)), d;
    rc = mdb_get(txn, DBI(c, T_VIEWS), &k, &d) ? HUB_ENOENT
                                                : hub_buf_append(out, d.mv_data,
                                                                 d.mv_size);
    mdb_txn_abort(txn);
    return rc;
}

uint64_t hub_c360_published_seq(hub_c360_t *c) {
    MDB_txn *txn;
    if (begin_read(c, &txn))
        return 0;
    MDB_val k = val("published_seq", 13), d;
    uint64_t v = 0;
    if (mdb_get(txn, DBI(c, T_META), &k, &d) == 0 && d.mv_size == 8)
        v = hub_rd_be64(d.mv_data);
    mdb_txn_abort(txn);
    return v;
}

int hub_c360_set_published_seq(hub_c360_t *c, uint64_t seq) {
    uint8_t b[8];
    hub_be64(b, seq);
    MDB_val k = val("published_seq", 13), d = val(b, 8);
    if (c->txn) /* a batch is open: the mark commits with it */
        return hub_store_err(mdb_put(c->txn, DBI(c, T_META), &k, &d, 0));
    MDB_txn *txn;
    int rc = hub_store_err(mdb_txn_begin(hub_store_env(c->store), NULL, 0, &txn));
    if (rc)
        return rc;
    rc = mdb_put(txn, DBI(c, T_META), &k, &d, 0);
    if (rc) {
        mdb_txn_abort(txn);
        return hub_store_err(rc);
    }
    return hub_store_err(mdb_txn_commit(txn));
}
