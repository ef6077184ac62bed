/*
 * hub360 - control events: identity.link and identity.unlink (operators
 * joining and separating customers), customer.forget (erasure).
 *
 * Links: a link names a set of identities and customer ids; its entity
 * ("hub360/link/<hash of the set>") holds them as linking identities, so
 * the graph joins everything they name. A later unlink of the same set
 * cancels it (last writer wins on the events' stamps); an unlink of a
 * single identity stops that identity linking anything (last writer
 * wins against links that name it). Customer ids a link names before
 * they exist wait in T_PENDING.
 *
 * Forget erases the customer its target belongs to, meaning every source
 * entity connected to it through identities (never through an operator's
 * link: a link joins views, it does not widen an erasure), from every
 * table, and remembers hashes of the erased entity keys and linking
 * identities: an event that arrives later and names one of them is
 * erased with everything it would have joined. So the store forgets the
 * same people whatever order the events come in, and a replay of the
 * topics (a rebuild) forgets them again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c360_internal.h"
#include "errors.h"
#include "hash.h"
#include "sort.h"

#define val hub_mval

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

/* The values under key in a dupsort table that start with prefix. */
static int dup_values(hub_c360_t *c, int table, const char *key, size_t len,
                      const char *prefix, hub_strlist_t *out) {
    MDB_cursor *cur;
    int oc = mdb_cursor_open(c->txn, DBI(c, table), &cur);
    if (oc)
        return hub_store_err(oc);
    size_t plen = strlen(prefix);
    MDB_val k = val(key, len), d;
    int r, rc = 0;
    for (r = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY); r == 0 && !rc;
         r = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP)) {
        if (d.mv_size >= plen && memcmp(d.mv_data, prefix, plen) == 0)
            rc = hub_strlist_push(out, d.mv_data, d.mv_size);
    }
    mdb_cursor_close(cur);
    if (!rc && r != MDB_NOTFOUND)
        rc = hub_store_err(r);
    if (rc)
        hub_strlist_free(out);
    return rc;
}

/* A forgotten identity leaves the operators' links that name it. */
static int unlink_forgotten(hub_c360_t *c, const char *ident) {
    hub_strlist_t links = {NULL, 0};
    int rc = dup_values(c, T_IDENT, ident, strlen(ident), "hub360/link/",
                        &links);
    for (size_t i = 0; i < links.n && !rc; i++) {
        cent *lk;
        size_t ll = strlen(links.v[i]);
        rc = hub_c360_load(c, links.v[i], ll, &lk);
        if (!rc && lk->e && hub_ent_remove_id(lk->e, ident)) {
            lk->dirty = 1;
            hub_graph_regraph(c, links.v[i], ll);
            rc = hub_c360_index(c, ident, links.v[i], ll, 0);
        }
    }
    hub_strlist_free(&links);
    return rc;
}

/* Marks an identity forgotten and takes it off the links that name it. */
static int forget_identity(hub_c360_t *c, const char *key, int64_t at) {
    int rc = hub_c360_forgotten(c, 'i', key, strlen(key), at, 1);
    return rc ? rc : unlink_forgotten(c, key);
}

static int forget_entity(hub_c360_t *c, const char *key, size_t len,
                         int64_t at) {
    cent *ce;
    int rc = hub_c360_flush_deferred(c); /* its timeline and id too */
    if (!rc)
        rc = hub_c360_load(c, key, len, &ce);
    if (rc)
        return rc;
    if ((rc = hub_c360_forgotten(c, 'e', key, len, at, 1)))
        return rc;
    if (ce->e) {
        int is_link = ce->e->kind == HUB_KIND_HUB;
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
    if ((rc = hub_graph_remove(c, key, len)) ||
        (rc = hub_graph_member_gone(c, ce, key, len)))
        return rc;
    char cid[HUB_CUSTOMER_ID_LEN + 1];
    hub_customer_id(key, len, cid);
    MDB_val ik = val(cid, HUB_CUSTOMER_ID_LEN), ek = val(key, len);
    /* absent is fine; a failed delete (a full map) fails the batch */
    int r = mdb_del(c->txn, DBI(c, T_IDS), &ik, NULL);
    if (r == 0 || r == MDB_NOTFOUND)
        r = mdb_del(c->txn, DBI(c, T_ENTITIES), &ek, NULL);
    if (r && r != MDB_NOTFOUND)
        return hub_store_err(r);
    hub_buf_reset(&c->key);
    hub_buf_append(&c->key, key, len);
    hub_buf_putc(&c->key, '\0');
    if ((rc = delete_prefix(c, T_TIMELINE, c->key.data, len + 1)))
        return rc;
    hub_ent_free(ce->e);
    ce->e = NULL;
    ce->dirty = 0;
    c->stats.forgotten++;
    return 0;
}

/* Erases the customer an entity belongs to: everything connected to it
 * now, including what arrived earlier in this batch. */
static int forget_customer_of(hub_c360_t *c, const char *key, size_t len,
                              int64_t at) {
    hub_hmap_t *members = hub_hmap_new();
    char *start = strndup(key, len);
    int rc = members && start ? hub_graph_component(c, start, members)
                              : HUB_ENOMEM;
    free(start);
    size_t pos = 0, mlen;
    const char *m;
    while (!rc && hub_hmap_next(members, &pos, &m, &mlen, NULL))
        rc = forget_entity(c, m, mlen, at);
    hub_hmap_free(members, NULL);
    return rc;
}

/* Erases every customer that carries identity key. */
static int forget_carriers(hub_c360_t *c, const char *key, int64_t at) {
    hub_hmap_t *carriers = hub_hmap_new();
    int rc = carriers ? hub_c360_carriers(c, key, carriers) : HUB_ENOMEM;
    size_t pos = 0, mlen;
    const char *m;
    while (!rc && hub_hmap_next(carriers, &pos, &m, &mlen, NULL)) {
        cent *ce;
        rc = hub_c360_load(c, m, mlen, &ce);
        if (!rc && ce->e && ce->e->kind != HUB_KIND_HUB) /* not customers */
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
        if (hub_strlist_push(out, key, strlen(key)))
            return HUB_ENOMEM;
    }
    return r < 0 ? HUB_EDECODE : 0;
}

static int cmp_cstr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The exclusion register of an identity: LWW over unlink (1) and link (0). */
static int set_excluded(hub_c360_t *c, const char *ident,
                        const hub_stamp_t *st, int excluded) {
    hub_buf_reset(&c->key);
    hub_buf_printf(&c->key, "x:%s", ident);
    if (c->key.len > HUB_MAX_KEY)
        return 0;
    MDB_val k = val(c->key.data, c->key.len), d;
    if (mdb_get(c->txn, DBI(c, T_CTL), &k, &d) == 0 &&
        d.mv_size == HUB_STAMP_LEN + 1) {
        hub_stamp_t old;
        hub_stamp_get(d.mv_data, &old);
        if (hub_stamp_cmp(st, &old) <= 0)
            return 0;
    } else if (!excluded) {
        return 0; /* nothing to lift */
    }
    uint8_t b[HUB_STAMP_LEN + 1];
    hub_stamp_put(b, st);
    b[HUB_STAMP_LEN] = (uint8_t)excluded;
    d = val(b, sizeof b);
    int rc = mdb_put(c->txn, DBI(c, T_CTL), &k, &d, 0);
    c->any_excluded = 1;
    return rc ? hub_store_err(rc) : hub_graph_regraph_carriers(c, ident);
}

/* The link entity of a set of identities and customer ids. */
static void link_key(const hub_strlist_t *ids, const hub_strlist_t *cids,
                     char out[64]) {
    hub_buf_t b = HUB_BUF_INIT;
    for (size_t i = 0; i < ids->n; i++)
        hub_buf_append(&b, ids->v[i], strlen(ids->v[i]) + 1);
    hub_buf_putc(&b, '|');
    for (size_t i = 0; i < cids->n; i++)
        hub_buf_append(&b, cids->v[i], strlen(cids->v[i]) + 1);
    uint8_t md[32];
    hub_sha256(b.data ? b.data : "", b.len, NULL, 0, md);
    hub_buf_free(&b);
    int o = snprintf(out, 64, "hub360/link/");
    for (int i = 0; i < 12; i++)
        o += snprintf(out + o, 64 - (size_t)o, "%02x", md[i]);
}

/* Connects a link entity to the entity a customer id names (now, or when
 * that entity appears: T_PENDING). */
static int link_customer(hub_c360_t *c, hub_ent_t *link, const char *cid,
                         const hub_stamp_t *st) {
    int frc = hub_c360_flush_deferred(c); /* the ids of this batch too */
    if (frc)
        return frc;
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
        if ((rc = hub_c360_index(c, ref, target->e->key, target->e->keylen,
                                 1)))
            return rc;
        hub_graph_regraph(c, target->e->key, target->e->keylen);
    }
    if (hub_ent_add_id(link, ref, (size_t)n, -1, flags, st) == 2 &&
        (rc = hub_c360_index(c, ref, link->key, link->keylen, 1)))
        return rc;
    hub_graph_regraph(c, link->key, link->keylen);
    return 0;
}

int hub_c360_new_id_pending(hub_c360_t *c, const char *key, size_t len,
                            const char *cid, int *forgotten) {
    *forgotten = 0;
    if (c->any_forgotten &&
        hub_c360_forgotten(c, 'c', cid, HUB_CUSTOMER_ID_LEN, 0, 0) == 1) {
        *forgotten = 1;
        return forget_entity(c, key, len, 0);
    }
    if (!c->any_pending)
        return 0;
    hub_strlist_t links = {NULL, 0};
    int rc = dup_values(c, T_PENDING, cid, HUB_CUSTOMER_ID_LEN, "", &links);
    for (size_t i = 0; i < links.n && !rc; i++) {
        cent *lk;
        rc = hub_c360_load(c, links.v[i], strlen(links.v[i]), &lk);
        if (!rc && lk->e) {
            hub_stamp_t st = lk->e->first;
            rc = link_customer(c, lk->e, cid, &st);
            lk->dirty = 1;
        }
    }
    hub_strlist_free(&links);
    return rc;
}

/* identity.link and identity.unlink */
int hub_c360_apply_link(hub_c360_t *c, const hub_arec_t *p, int unlink,
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
        hub_strlist_free(&ids);
        hub_strlist_free(&cids);
        return rc == HUB_EDECODE ? (snprintf(res->error, sizeof res->error,
                                             "malformed control payload"),
                                    res->outcome = HUB_C360_DEAD, 0)
                                 : rc;
    }
    hub_sort(ids.v, ids.n, sizeof *ids.v, cmp_cstr);
    hub_sort(cids.v, cids.n, sizeof *cids.v, cmp_cstr);
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
        hub_strlist_free(&ids);
        hub_strlist_free(&cids);
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
            if (created)
                rc = hub_graph_new_entity(c, ce);
            hub_graph_regraph(c, lkey, strlen(lkey));
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
                    rc = hub_graph_regraph_carriers(c, ids.v[i]);
            }
            for (size_t i = 0; i < cids.n && !rc; i++)
                rc = link_customer(c, e, cids.v[i], st);
        }
    }
    hub_strlist_free(&ids);
    hub_strlist_free(&cids);
    res->outcome = HUB_C360_APPLIED;
    return rc;
}

/* customer.forget */
int hub_c360_apply_forget(hub_c360_t *c, const hub_arec_t *p,
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


int hub_c360_forget_arrival(hub_c360_t *c, const char *ekey, size_t len,
                            char *const *ids, const int *kinds, size_t nids,
                            int64_t at) {
    /* any identity a forget named, linking or not (a forget may name a
     * shared mailbox), and the linking identities of erased people */
    int gone = hub_c360_forgotten(c, 'e', ekey, len, 0, 0) == 1;
    for (size_t i = 0; i < nids && !gone; i++)
        gone = hub_c360_forgotten(c, 'i', ids[i], strlen(ids[i]), 0, 0) == 1;
    if (!gone)
        return 0;
    /* everything this event would have joined goes too, so the forgotten
     * set is the same whatever the order of events */
    int rc = forget_customer_of(c, ekey, len, at);
    for (size_t i = 0; i < nids && !rc; i++) {
        int links = hub_ident_links(&c->rules, kinds[i], ids[i], ids[i],
                                    strlen(ids[i]));
        if (!links)
            continue;
        rc = forget_carriers(c, ids[i], at);
        if (!rc)
            rc = forget_identity(c, ids[i], at);
    }
    return rc ? rc : 1;
}
