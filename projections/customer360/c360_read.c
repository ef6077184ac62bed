/*
 * hub360 - reading the customer-360 store: one view by id, alias or
 * identity; all views in id order; the digest; the change feed.
 * Each call runs in one read transaction and copies what it returns
 * before the transaction ends.
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avrojson.h"
#include "c360_internal.h"
#include "errors.h"
#include "json.h"
#include "timefmt.h"
#include "uuid.h"

#define val hub_mval

static int begin_read(hub_c360_t *c, MDB_txn **txn) {
    return hub_store_err(
        mdb_txn_begin(hub_store_env(c->store), NULL, MDB_RDONLY, txn));
}

/* A read transaction with a cursor on one table. */
static int read_cursor(hub_c360_t *c, int table, MDB_txn **txn,
                       MDB_cursor **cur) {
    int rc = begin_read(c, txn);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(*txn, DBI(c, table), cur))) {
        mdb_txn_abort(*txn);
        return hub_store_err(rc);
    }
    return 0;
}

int hub_c360_ensure_schema(hub_c360_t *c, char *err, size_t errlen) {
    if (c->have_value)
        return 0;
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

/* Renders Customer360 Avro bytes as canonical JSON. */
static int render(hub_c360_t *c, const void *bytes, size_t len,
                  hub_buf_t *out) {
    char err[256];
    int rc = hub_c360_ensure_schema(c, err, sizeof err);
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

/* The customer an entity belongs to now: its id into cid, and its
 * component into comp. */
static int customer_of(hub_c360_t *c, MDB_txn *txn, const void *ekey,
                       size_t len, char cid[HUB_CUSTOMER_ID_LEN + 1],
                       uint64_t *comp) {
    MDB_val k = val(ekey, len), d;
    if (mdb_get(txn, DBI(c, T_ENTITIES), &k, &d) || d.mv_size != 8)
        return HUB_ENOENT;
    uint8_t ck[8];
    memcpy(ck, d.mv_data, 8);
    *comp = hub_rd_be64(ck);
    k = val(ck, 8); /* its header: the first record of its range */
    if (mdb_get(txn, DBI(c, T_MEMBERS), &k, &d))
        return HUB_ENOENT;
    const char *anchor;
    size_t alen;
    if (hub_graph_record_anchor(d.mv_data, d.mv_size, &anchor, &alen) ||
        alen == 0)
        return HUB_ENOENT; /* a component without an anchor: no customer */
    hub_customer_id(anchor, alen, cid);
    return 0;
}

/* A customer by id, alias or KIND:VALUE identity. */
static int resolve(hub_c360_t *c, MDB_txn *txn, const char *ref,
                   char cid[HUB_CUSTOMER_ID_LEN + 1], uint64_t *comp) {
    size_t rlen = strlen(ref);
    MDB_val k, d;
    int rc = HUB_ENOENT;
    if (rlen == HUB_CUSTOMER_ID_LEN && strncmp(ref, "cus_", 4) == 0) {
        k = val(ref, rlen);
        if (mdb_get(txn, DBI(c, T_IDS), &k, &d) == 0)
            rc = customer_of(c, txn, d.mv_data, d.mv_size, cid, comp);
        return rc;
    }
    const char *colon = strchr(ref, ':');
    int kind = colon ? hub_ident_kind_parse(ref, (size_t)(colon - ref)) : -1;
    char key[512];
    if (kind >= 0 && hub_ident_normalize(&c->rules, kind, colon + 1,
                                         strlen(colon + 1), "", key,
                                         sizeof key) >= 0) {
        /* the first entity that carries it and belongs to a customer,
         * in key order: a link request's entity (hub360/link/...) sorts
         * first and, once unlinked, may belong to none */
        MDB_cursor *cur;
        if (mdb_cursor_open(txn, DBI(c, T_IDENT), &cur) == 0) {
            k = val(key, strlen(key));
            int mrc = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY);
            while (mrc == 0 &&
                   (rc = customer_of(c, txn, d.mv_data, d.mv_size, cid,
                                     comp)) == HUB_ENOENT)
                mrc = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP);
            mdb_cursor_close(cur);
        }
    }
    return rc;
}

int hub_c360_get_json(hub_c360_t *c, const char *ref, hub_buf_t *out,
                      char *id_out, size_t idlen) {
    MDB_txn *txn;
    int rc = begin_read(c, &txn);
    if (rc)
        return rc;
    char cid[HUB_CUSTOMER_ID_LEN + 1] = "";
    MDB_val k, d;
    uint64_t comp;
    rc = resolve(c, txn, ref, cid, &comp);
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

/* ------------------------------------------------------------------ */
/* The timeline                                                        */
/* ------------------------------------------------------------------ */

/* One member's entries, walked newest first. */
typedef struct tl_walk {
    MDB_cursor *cur;
    const char *key; /* the member's entity key, in the record */
    size_t klen;
    MDB_val k, d;    /* the current entry; k.mv_data NULL when done */
} tl_walk;

/* Is the cursor's entry one of this member's? */
static int tl_mine(const tl_walk *w) {
    return w->k.mv_size == w->klen + 1 + HUB_STAMP_LEN &&
           memcmp(w->k.mv_data, w->key, w->klen) == 0 &&
           ((const char *)w->k.mv_data)[w->klen] == '\0';
}

/* Positions w on its newest entry before the stamp `before`. */
static void tl_seek(tl_walk *w, const uint8_t before[HUB_STAMP_LEN]) {
    uint8_t kb[HUB_MAX_KEY + 1 + HUB_STAMP_LEN];
    memcpy(kb, w->key, w->klen);
    kb[w->klen] = 0;
    memcpy(kb + w->klen + 1, before, HUB_STAMP_LEN);
    w->k = val(kb, w->klen + 1 + HUB_STAMP_LEN);
    int r = mdb_cursor_get(w->cur, &w->k, &w->d, MDB_SET_RANGE);
    r = r == 0 ? mdb_cursor_get(w->cur, &w->k, &w->d, MDB_PREV)
               : mdb_cursor_get(w->cur, &w->k, &w->d, MDB_LAST);
    if (r || !tl_mine(w))
        w->k.mv_data = NULL;
}

static void tl_step(tl_walk *w) {
    if (mdb_cursor_get(w->cur, &w->k, &w->d, MDB_PREV) || !tl_mine(w))
        w->k.mv_data = NULL;
}

/* Renders one entry: the key gives when, what event and which entity. */
static int tl_render(const tl_walk *w, hub_buf_t *out) {
    const uint8_t *kt = (const uint8_t *)w->k.mv_data + w->klen + 1;
    const uint8_t *v = w->d.mv_data;
    size_t vlen = w->d.mv_size, pos = 1, tlen;
    if (vlen < 2 || v[0] != HUB_TIMELINE_VERSION)
        return HUB_EDECODE;
    tlen = v[1] & 0x7f;
    if (v[1] & 0x80) {
        if (vlen < 3)
            return HUB_EDECODE;
        tlen |= (size_t)v[2] << 7;
        pos = 2;
    }
    pos++;
    if (tlen > vlen - pos)
        return HUB_EDECODE;
    char ts[HUB_TIME_MAXLEN], uid[HUB_UUID_STRLEN + 1];
    hub_stamp_t st;
    hub_stamp_get(kt, &st);
    size_t tslen = hub_time_format(st.at, ts);
    hub_uuid_format((const hub_uuid_t *)st.id, uid);
    const char *k = w->key, *s1 = memchr(k, '/', w->klen),
               *s2 = s1 ? memchr(s1 + 1, '/', w->klen - (size_t)(s1 + 1 - k))
                        : NULL;
    int first = 1;
    hub_buf_putc(out, '{');
    hub_json_put_key(out, "at", &first);
    hub_json_put_str(out, ts, tslen);
    hub_json_put_key(out, "event_id", &first);
    hub_json_put_str(out, uid, HUB_UUID_STRLEN);
    hub_json_put_key(out, "type", &first);
    hub_json_put_str(out, (const char *)v + pos, tlen);
    if (s1 && s2) {
        hub_json_put_key(out, "source", &first);
        hub_json_put_str(out, k, (size_t)(s1 - k));
        hub_json_put_key(out, "entity_type", &first);
        hub_json_put_str(out, s1 + 1, (size_t)(s2 - s1 - 1));
        hub_json_put_key(out, "entity_id", &first);
        hub_json_put_str(out, s2 + 1, w->klen - (size_t)(s2 + 1 - k));
    }
    pos += tlen;
    if (pos < vlen) { /* the fold's summary: JSON members */
        hub_buf_putc(out, ',');
        hub_buf_append(out, v + pos, vlen - pos);
    }
    return hub_buf_putc(out, '}');
}

/* Page cursors: "<occurred_at ms>-<event id as 32 hex digits>", and
 * "<ms>-<sequence>-<event id>" for an event with a sequence. */
static void cursor_format(const uint8_t key[HUB_STAMP_LEN],
                          char out[HUB_C360_CURSOR_LEN]) {
    static const char hex[] = "0123456789abcdef";
    hub_stamp_t st;
    hub_stamp_get(key, &st);
    int n = st.seq ? snprintf(out, HUB_C360_CURSOR_LEN, "%" PRId64 "-%" PRId64
                              "-", st.at, st.seq)
                   : snprintf(out, HUB_C360_CURSOR_LEN, "%" PRId64 "-", st.at);
    if (n < 0 || n + 33 > HUB_C360_CURSOR_LEN) { /* cannot be (c360.h) */
        out[0] = '\0';
        return;
    }
    for (int i = 0; i < 16; i++) {
        out[n + 2 * i] = hex[st.id[i] >> 4];
        out[n + 2 * i + 1] = hex[st.id[i] & 15];
    }
    out[n + 32] = '\0';
}

static int cursor_parse(const char *s, uint8_t key[HUB_STAMP_LEN]) {
    hub_stamp_t st = {0};
    char *end;
    errno = 0;
    long long at = strtoll(s, &end, 10);
    if (errno || end == s || *end != '-')
        return HUB_EINVAL;
    st.at = at;
    if (strlen(end + 1) != 32) { /* a sequence first */
        const char *from = end + 1;
        long long seq = strtoll(from, &end, 10);
        if (errno || end == from || *end != '-' || strlen(end + 1) != 32 ||
            seq == 0)
            return HUB_EINVAL;
        st.seq = seq;
    }
    for (int i = 0; i < 16; i++) {
        int v = 0;
        for (int j = 0; j < 2; j++) {
            char ch = end[1 + 2 * i + j];
            int d = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                             : -1;
            if (d < 0)
                return HUB_EINVAL;
            v = v * 16 + d;
        }
        st.id[i] = (uint8_t)v;
    }
    hub_stamp_put(key, &st);
    return 0;
}

int hub_c360_timeline_json(hub_c360_t *c, const char *ref,
                           const char *before, size_t limit, hub_buf_t *out,
                           char next[HUB_C360_CURSOR_LEN], char *id_out,
                           size_t idlen) {
    uint8_t bound[HUB_STAMP_LEN];
    memset(bound, 0xff, sizeof bound); /* no bound: from the newest */
    if (before && *before &&
        cursor_parse(before, bound))
        return HUB_EINVAL;
    MDB_txn *txn;
    int rc = begin_read(c, &txn);
    if (rc)
        return rc;
    char cid[HUB_CUSTOMER_ID_LEN + 1] = "";
    uint64_t comp = 0;
    tl_walk *w = NULL;
    size_t n = 0, cap = 0;
    MDB_val *keys = NULL; /* the members' entity keys, valid in txn */
    MDB_cursor *mc = NULL;
    if ((rc = resolve(c, txn, ref, cid, &comp)) == 0 &&
        (rc = hub_store_err(mdb_cursor_open(txn, DBI(c, T_MEMBERS), &mc))) ==
            0) {
        /* the members: the component's range of T_MEMBERS, after its
         * header */
        uint8_t start[8];
        hub_be64(start, comp);
        MDB_val mk = val(start, 8), md;
        int r = mdb_cursor_get(mc, &mk, &md, MDB_SET_KEY);
        while (r == 0 && (r = mdb_cursor_get(mc, &mk, &md, MDB_NEXT)) == 0 &&
               mk.mv_size > 8 && memcmp(mk.mv_data, start, 8) == 0) {
            if (hub_array_grow(&keys, &cap, n, sizeof *keys, 16)) {
                rc = HUB_ENOMEM;
                break;
            }
            keys[n++] = val((const char *)mk.mv_data + 8, mk.mv_size - 8);
        }
        mdb_cursor_close(mc);
    }
    if (!rc && !(w = calloc(n ? n : 1, sizeof *w)))
        rc = HUB_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        w[i].key = keys[i].mv_data;
        w[i].klen = keys[i].mv_size;
        if (w[i].klen > HUB_MAX_KEY ||
            mdb_cursor_open(txn, DBI(c, T_TIMELINE), &w[i].cur)) {
            w[i].k.mv_data = NULL;
            continue;
        }
        tl_seek(&w[i], bound);
    }
    /* merge the members' entries, newest first */
    size_t got = 0;
    uint8_t last[HUB_STAMP_LEN];
    if (!rc)
        rc = hub_buf_putc(out, '[');
    while (!rc && got < limit) {
        tl_walk *best = NULL;
        for (size_t i = 0; i < n; i++) {
            if (!w[i].k.mv_data)
                continue;
            if (!best ||
                memcmp((const uint8_t *)w[i].k.mv_data + w[i].klen + 1,
                       (const uint8_t *)best->k.mv_data + best->klen + 1,
                       HUB_STAMP_LEN) > 0)
                best = &w[i];
        }
        if (!best)
            break;
        if (got)
            hub_buf_putc(out, ',');
        rc = tl_render(best, out);
        memcpy(last, (const uint8_t *)best->k.mv_data + best->klen + 1,
               HUB_STAMP_LEN);
        got++;
        tl_step(best);
    }
    int more = 0;
    for (size_t i = 0; i < n && !more; i++)
        more = w[i].k.mv_data != NULL;
    if (!rc)
        rc = hub_buf_putc(out, ']');
    for (size_t i = 0; w && i < n; i++)
        if (w[i].cur)
            mdb_cursor_close(w[i].cur);
    free(w);
    free(keys);
    mdb_txn_abort(txn);
    if (rc)
        return rc;
    if (id_out)
        snprintf(id_out, idlen, "%s", cid);
    next[0] = '\0';
    if (more && got)
        cursor_format(last, next);
    return 0;
}

int hub_c360_each(hub_c360_t *c,
                  int (*fn)(const char *id, const char *json, size_t len,
                            void *opaque),
                  void *opaque) {
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = read_cursor(c, T_VIEWS, &txn, &cur);
    if (rc)
        return rc;
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
    MDB_cursor *cur;
    int rc = read_cursor(c, T_VIEWS, &txn, &cur);
    if (rc)
        return rc;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) {
        mdb_cursor_close(cur);
        mdb_txn_abort(txn);
        return HUB_ENOMEM;
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
    MDB_cursor *cur;
    int rc = read_cursor(c, T_CHANGES, &txn, &cur);
    if (rc)
        return rc;
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

int hub_c360_never_applied(hub_c360_t *c) {
    MDB_txn *txn;
    MDB_stat st;
    if (begin_read(c, &txn))
        return 0;
    int none = mdb_stat(txn, DBI(c, T_OFFSETS), &st) == 0 &&
               st.ms_entries == 0;
    mdb_txn_abort(txn);
    return none;
}

int hub_c360_store_info(hub_c360_t *c, hub_c360_store_info_t *out) {
    MDB_envinfo info;
    MDB_stat st;
    MDB_env *env = hub_store_env(c->store);
    int rc = mdb_env_info(env, &info);
    if (!rc)
        rc = mdb_env_stat(env, &st);
    if (rc)
        return hub_store_err(rc);
    out->map_bytes = (uint64_t)info.me_mapsize;
    out->used_bytes = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    out->readers = info.me_numreaders;
    out->max_readers = info.me_maxreaders;
    return 0;
}

struct hub_report *hub_c360_report(hub_c360_t *c) { return c->report; }
