/*
 * hub360 - customers as components of the identity graph; their views;
 * the change feed.
 *
 * Entities and identities form a bipartite graph; a customer is a
 * connected component of it. An identity is an edge between two entities
 * only when both hold it as a linking identity (its kind links and no
 * blocklist pattern matches; an operator's link entity holds its
 * identities as linking) and it is active: not excluded by
 * identity.unlink and not saturated (carried by more than
 * identity.max_entities entities). A cancelled link entity has no edges.
 *
 * Components are kept incrementally. Each has an internal id (T_MEMBERS),
 * its size and its anchor, the smallest member key that is not a link
 * entity; the customer id derives from the anchor. When an entity gains
 * a linking identity, its component and the one of the identity's other
 * carriers merge at once: the smaller one's members move (union by size).
 * Anything that removes edges (an unlink, a saturated identity, a
 * forget), and any merge past max_entities, instead marks the customers
 * involved for regrouping at commit: a breadth-first walk over the live
 * graph, and when a group is too big, a split that takes its edges in
 * order of (earliest stamp, identity, entity) and refuses an edge that
 * would make a group too big (Kruskal's algorithm with a size cap), so
 * the split is the same whatever order the events came in. The internal
 * ids depend on that order; nothing outside this file sees them.
 *
 * At commit every customer whose members or member states changed gets
 * its view recomputed from its members (graph_views.c); a view whose
 * bytes changed gets the next change sequence number.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c360_internal.h"
#include "errors.h"
#include "hash.h"
#include "log.h"
#include "sort.h"

/* ------------------------------------------------------------------ */
/* Components                                                          */
/* ------------------------------------------------------------------ */

static void free_comp(void *p) {
    comp *k = p;
    if (k) {
        free(k->anchor);
        free(k->m);
        free(k);
    }
}

void hub_graph_clear(hub_c360_t *c) { hub_hmap_clear(c->comps, free_comp); }

static int add_member(comp *k, cent *ce) {
    if (hub_array_grow(&k->m, &k->capm, k->nm, sizeof *k->m, 4))
        return HUB_ENOMEM;
    k->m[k->nm++] = ce;
    return 0;
}

static void remove_member(comp *k, const cent *ce) {
    for (uint32_t i = 0; i < k->nm; i++) {
        if (k->m[i] == ce) {
            k->m[i] = k->m[--k->nm];
            return;
        }
    }
}

/*
 * A component is a range of T_MEMBERS: a header (key be64 component ->
 * u8 version, u8 flags, be64 hash of the view last written for it,
 * varint anchor length + anchor), then one record per member (key be64
 * component + entity key -> the packed entity, entity.c). Loading a
 * customer is one descent and a walk; its view is computed from that one
 * range, and an event rewrites its own entity's record, not the whole
 * customer.
 */
#define COMP_VERSION 2

/* The T_MEMBERS key of an entity in a component. */
static size_t member_key(uint64_t comp, const char *ekey, size_t len,
                         uint8_t out[8 + HUB_MAX_KEY]) {
    hub_be64(out, comp);
    memcpy(out + 8, ekey, len);
    return 8 + len;
}

/* Unpacks a component's member records into the entity cache: the
 * records after its header, where cur is. */
static int load_members(hub_c360_t *c, comp *k, MDB_cursor *cur) {
    uint8_t start[8];
    hub_be64(start, k->id);
    MDB_val mk, d;
    int r, rc = 0;
    for (r = mdb_cursor_get(cur, &mk, &d, MDB_NEXT);
         r == 0 && !rc && mk.mv_size > 8 && memcmp(mk.mv_data, start, 8) == 0;
         r = mdb_cursor_get(cur, &mk, &d, MDB_NEXT)) {
        const char *key = (const char *)mk.mv_data + 8;
        size_t kl = mk.mv_size - 8;
        int created;
        void **slot = hub_hmap_put(c->ents, key, kl, &created);
        if (!slot) {
            rc = HUB_ENOMEM;
            break;
        }
        cent *ce = *slot;
        if (!ce) {
            if (!(ce = hub_arena_calloc(&c->arena, sizeof *ce))) {
                rc = HUB_ENOMEM;
                break;
            }
            *slot = ce;
        }
        if (ce->e)
            continue; /* the cache holds it already: it wins */
        if ((rc = hub_ent_unpack(&c->arena, key, kl, d.mv_data, d.mv_size,
                                 &ce->e)))
            break;
        ce->e->comp = ce->stored = k->id;
        rc = add_member(k, ce);
    }
    if (!rc && r && r != MDB_NOTFOUND)
        rc = hub_store_err(r);
    return rc;
}

int hub_graph_record_anchor(const void *rec, size_t len, const char **anchor,
                            size_t *alen) {
    const uint8_t *p = rec;
    size_t pos = 10;
    uint64_t n;
    if (len < 10 || p[0] != COMP_VERSION || hub_varint_read(p, len, &pos, &n) ||
        n > len - pos)
        return -1;
    *anchor = (const char *)p + pos;
    *alen = (size_t)n;
    return 0;
}

int hub_graph_comp(hub_c360_t *c, uint64_t id, comp **out) {
    uint8_t key[8];
    hub_be64(key, id);
    int created;
    void **slot = hub_hmap_put(c->comps, key, 8, &created);
    if (!slot)
        return HUB_ENOMEM;
    if (!created) {
        *out = *slot;
        return *out ? 0 : HUB_ENOENT;
    }
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->txn, DBI(c, T_MEMBERS), &cur);
    if (rc) {
        *out = NULL;
        return hub_store_err(rc);
    }
    MDB_val k = hub_mval(key, 8), d;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY);
    const char *anchor;
    size_t alen;
    if (rc || hub_graph_record_anchor(d.mv_data, d.mv_size, &anchor, &alen)) {
        mdb_cursor_close(cur);
        *out = NULL; /* cached: no such component */
        if (rc && rc != MDB_NOTFOUND)
            return hub_store_err(rc);
        return rc ? HUB_ENOENT : HUB_EDECODE;
    }
    comp *k2 = calloc(1, sizeof *k2);
    if (!k2) {
        mdb_cursor_close(cur);
        return HUB_ENOMEM;
    }
    *slot = k2; /* before loading members: the map may grow */
    const uint8_t *p = d.mv_data;
    k2->id = id;
    k2->flags = p[1];
    k2->vhash = hub_rd_be64(p + 2);
    if (alen && !(k2->anchor = strndup(anchor, alen)))
        rc = HUB_ENOMEM;
    if (!rc)
        rc = load_members(c, k2, cur);
    mdb_cursor_close(cur);
    if (rc)
        return rc;
    *out = k2;
    return 0;
}

static int comp_new(hub_c360_t *c, comp **out) {
    comp *k = calloc(1, sizeof *k);
    if (!k)
        return HUB_ENOMEM;
    k->id = ++c->next_comp;
    k->dirty = 1;
    uint8_t key[8];
    hub_be64(key, k->id);
    void **slot = hub_hmap_put(c->comps, key, 8, NULL);
    if (!slot) {
        free(k);
        return HUB_ENOMEM;
    }
    *slot = k;
    *out = k;
    return 0;
}

/* Marks a component gone (it has no members left); deleted at flush. */
static void comp_drop(comp *k) {
    k->dirty = 1;
    free(k->anchor);
    k->anchor = NULL;
}

static void set_anchor(comp *k, char *anchor) {
    free(k->anchor);
    k->anchor = anchor;
    k->vhash = 0; /* another customer id: its view is written anew */
    k->dirty = 1;
}

static int write_header(hub_c360_t *c, comp *k, hub_buf_t *b) {
    hub_buf_reset(b);
    uint8_t head[10];
    head[0] = COMP_VERSION;
    head[1] = k->flags;
    hub_be64(head + 2, k->vhash);
    int rc = hub_buf_append(b, head, 10);
    size_t alen = k->anchor ? strlen(k->anchor) : 0;
    rc |= hub_buf_put_varint(b, alen);
    rc |= hub_buf_append(b, k->anchor, alen);
    if (rc)
        return HUB_ENOMEM;
    uint8_t key[8];
    hub_be64(key, k->id);
    return hub_c360_defer(c, T_MEMBERS, key, 8, b->data, b->len);
}

int hub_graph_member_gone(hub_c360_t *c, cent *ce, const char *key,
                          size_t len) {
    if (!ce->stored)
        return 0;
    uint8_t mk[8 + HUB_MAX_KEY];
    MDB_val k = hub_mval(mk, member_key(ce->stored, key, len, mk));
    int r = mdb_del(c->txn, DBI(c, T_MEMBERS), &k, NULL);
    ce->stored = 0;
    return r == MDB_NOTFOUND ? 0 : hub_store_err(r);
}

/* Writes a member's record under its component, leaving the one under
 * another behind; and where it is now in the entity index. */
static int write_member(hub_c360_t *c, comp *k, cent *ce, hub_buf_t *tmp) {
    const hub_ent_t *e = ce->e;
    uint8_t mk[8 + HUB_MAX_KEY];
    int rc = 0;
    if (ce->stored && ce->stored != k->id) {
        MDB_val old = hub_mval(mk, member_key(ce->stored, e->key, e->keylen,
                                             mk));
        int r = mdb_del(c->txn, DBI(c, T_MEMBERS), &old, NULL);
        if (r && r != MDB_NOTFOUND)
            return hub_store_err(r);
    }
    size_t mlen = member_key(k->id, e->key, e->keylen, mk);
    if (ce->packed) /* beside its customer's view */
        rc = hub_c360_defer_ref(c, T_MEMBERS, mk, mlen, ce->packed,
                                ce->packedlen);
    else if (!(rc = hub_ent_pack(e, tmp)))
        rc = hub_c360_defer(c, T_MEMBERS, mk, mlen, tmp->data, tmp->len);
    ce->packed = NULL;
    if (rc)
        return rc;
    if (ce->moved) {
        uint8_t b[8];
        hub_be64(b, k->id);
        rc = hub_c360_defer(c, T_ENTITIES, e->key, e->keylen, b, 8);
        ce->moved = 0;
    }
    ce->stored = k->id;
    ce->dirty = 0;
    return rc;
}

int hub_graph_flush(hub_c360_t *c) {
    size_t pos = 0, klen;
    const char *key;
    void *v;
    hub_buf_t tmp = HUB_BUF_INIT;
    int rc = 0;
    while (!rc && hub_hmap_next(c->comps, &pos, &key, &klen, &v)) {
        comp *k = v;
        if (!k)
            continue;
        uint32_t live = 0;
        for (uint32_t i = 0; i < k->nm && !rc; i++) {
            cent *ce = k->m[i];
            if (!ce->e)
                continue;
            live++;
            if (hub_member_written(ce, k))
                rc = write_member(c, k, ce, &tmp);
        }
        if (rc || !k->dirty)
            continue;
        if (live == 0) {
            MDB_val mk = hub_mval(key, 8);
            int r = mdb_del(c->txn, DBI(c, T_MEMBERS), &mk, NULL);
            rc = r == MDB_NOTFOUND ? 0 : hub_store_err(r);
        } else {
            rc = write_header(c, k, &c->tmp);
        }
        k->dirty = 0;
    }
    hub_buf_free(&tmp);
    return rc;
}

static int member_of(hub_c360_t *c, const char *key, size_t len,
                     uint64_t *id) {
    cent *ce;
    int rc = hub_c360_load(c, key, len, &ce);
    if (rc)
        return rc;
    if (!ce->e || !ce->e->comp)
        return HUB_ENOENT;
    *id = ce->e->comp;
    return 0;
}

/* Moves an entity from its component (if any) to `to` (0: none). */
static int move_member(hub_c360_t *c, const char *key, size_t len,
                       uint64_t to) {
    cent *ce;
    int rc = hub_c360_load(c, key, len, &ce);
    if (rc || !ce->e || ce->e->comp == to)
        return rc;
    comp *from = NULL, *dest = NULL;
    if (ce->e->comp && (rc = hub_graph_comp(c, ce->e->comp, &from)) &&
        rc != HUB_ENOENT)
        return rc;
    if (to && (rc = hub_graph_comp(c, to, &dest)))
        return rc;
    if (from) {
        remove_member(from, ce);
        from->dirty = 1;
    }
    if (dest) {
        if ((rc = add_member(dest, ce)))
            return rc;
        dest->dirty = 1;
    }
    ce->e->comp = to;
    ce->dirty = ce->moved = 1;
    return 0;
}

/* The member keys of a component, into a set. */
static int members_of(hub_c360_t *c, uint64_t id, hub_hmap_t *out) {
    comp *k;
    int rc = hub_graph_comp(c, id, &k);
    if (rc)
        return rc == HUB_ENOENT ? 0 : rc;
    for (uint32_t i = 0; i < k->nm; i++)
        if (k->m[i]->e)
            hub_c360_mark(out, k->m[i]->e->key, k->m[i]->e->keylen);
    return 0;
}

static void mark_anchor(hub_c360_t *c, const comp *k) {
    if (k && k->anchor)
        hub_c360_mark(c->cust_dirty, k->anchor, strlen(k->anchor));
}

/* ------------------------------------------------------------------ */
/* The incremental path                                                */
/* ------------------------------------------------------------------ */

int hub_graph_new_entity(hub_c360_t *c, cent *ce) {
    comp *k;
    int rc = comp_new(c, &k);
    if (rc)
        return rc;
    if (ce->e->kind != HUB_KIND_HUB &&
        !(k->anchor = strndup(ce->e->key, ce->e->keylen)))
        return HUB_ENOMEM;
    mark_anchor(c, k);
    return move_member(c, ce->e->key, ce->e->keylen, k->id);
}

void hub_graph_regraph(hub_c360_t *c, const char *key, size_t len) {
    hub_c360_mark(c->regraph, key, len);
}

/* A link entity cancelled by identity.unlink joins nothing. */
static int cancelled_link(const hub_ent_t *e) {
    return (e->roles & ROLE_LINK) && hub_ent_reg(e, R_STATUS)->set &&
           hub_ent_reg(e, R_STATUS)->is_str &&
           strcmp(hub_ent_reg(e, R_STATUS)->s, "cancelled") == 0;
}

/* Does entity e hold ident as an edge? */
static int holds(const hub_ent_t *e, const char *ident) {
    if (!e || cancelled_link(e))
        return 0;
    const hub_eid_t *x = hub_ent_find_id(e, ident);
    return x && (x->flags & HUB_EID_LINKS);
}

/* Carriers of an identity, and whether it is active (links now). */
/* Does an identity with that many carriers link now? Not when saturated
 * (a shared value, not a person's) or excluded by identity.unlink. */
static int links_now(hub_c360_t *c, const char *ident, size_t count) {
    if (count > (size_t)c->rules.max_entities)
        return 0;
    if (ident[0] == '@' || !c->any_excluded)
        return 1; /* structural references are never excluded */
    hub_buf_reset(&c->key);
    hub_buf_puts(&c->key, "x:");
    hub_buf_puts(&c->key, ident);
    MDB_val xk = hub_mval(c->key.data, c->key.len), xd;
    return !(c->key.len <= HUB_MAX_KEY &&
             mdb_get(c->txn, DBI(c, T_CTL), &xk, &xd) == 0 &&
             xd.mv_size == HUB_STAMP_LEN + 1 &&
             ((const uint8_t *)xd.mv_data)[HUB_STAMP_LEN]);
}

/* Carriers of an identity, and whether it is active (links now). */
static int active(hub_c360_t *c, const char *ident, size_t *carriers) {
    MDB_cursor *cur;
    if (mdb_cursor_open(c->txn, DBI(c, T_IDENT), &cur))
        return 0;
    MDB_val k = hub_mval(ident, strlen(ident)), d;
    size_t count = 0;
    if (mdb_cursor_get(cur, &k, &d, MDB_SET_KEY) == 0)
        mdb_cursor_count(cur, &count);
    mdb_cursor_close(cur);
    if (carriers)
        *carriers = count;
    return links_now(c, ident, count);
}

int hub_graph_regraph_carriers(hub_c360_t *c, const char *ident) {
    hub_hmap_t *carriers = hub_hmap_new();
    int rc = carriers ? hub_c360_carriers(c, ident, carriers) : HUB_ENOMEM;
    size_t pos = 0, klen;
    const char *k;
    while (!rc && hub_hmap_next(carriers, &pos, &k, &klen, NULL))
        hub_graph_regraph(c, k, klen);
    hub_hmap_free(carriers, NULL);
    return rc;
}

/* Indexes the identity on the entity; with cur left on its carriers. */
static int index_at(MDB_cursor *cur, const hub_ent_t *e, const char *ident,
                    size_t *count) {
    MDB_val k = hub_mval(ident, strlen(ident)),
            d = hub_mval(e->key, e->keylen);
    int rc = mdb_cursor_put(cur, &k, &d, MDB_NODUPDATA);
    if (rc == MDB_KEYEXIST)
        rc = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY);
    if (rc)
        return hub_store_err(rc);
    return hub_store_err(mdb_cursor_count(cur, count));
}

int hub_graph_add_identity(hub_c360_t *c, cent *ce, const char *ident,
                           int links) {
    hub_ent_t *e = ce->e;
    if (strlen(ident) > HUB_MAX_KEY)
        return 0; /* too long to index: it links nothing */
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->txn, DBI(c, T_IDENT), &cur);
    if (rc)
        return hub_store_err(rc);
    size_t carriers = 0;
    if ((rc = index_at(cur, e, ident, &carriers)) || !links) {
        mdb_cursor_close(cur);
        return rc;
    }
    if (!links_now(c, ident, carriers)) {
        mdb_cursor_close(cur);
        if (carriers == (size_t)c->rules.max_entities + 1) {
            /* just saturated: the customer it held together may split */
            return hub_graph_regraph_carriers(c, ident);
        }
        return 0;
    }
    /* one other carrier that holds it as an edge: all such carriers are
     * in one component already */
    comp *kb0;
    MDB_val k, d;
    hub_buf_t other = HUB_BUF_INIT;
    for (int r = mdb_cursor_get(cur, &k, &d, MDB_FIRST_DUP); r == 0;
         r = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP)) {
        if (d.mv_size == e->keylen && memcmp(d.mv_data, e->key, d.mv_size) == 0)
            continue;
        cent *oc;
        hub_buf_reset(&other);
        hub_buf_append(&other, d.mv_data, d.mv_size);
        if ((rc = hub_c360_load(c, other.data, other.len, &oc)))
            break;
        if (holds(oc->e, ident))
            break;
        hub_buf_reset(&other);
    }
    mdb_cursor_close(cur);
    if (rc || !other.len) {
        hub_buf_free(&other);
        return rc;
    }
    uint64_t a = 0, b = 0;
    if (!e->comp && member_of(c, other.data, other.len, &b) == 0 &&
        hub_graph_comp(c, b, &kb0) == 0 &&
        kb0->nm + 1 <= (uint32_t)c->rules.max_entities &&
        !(kb0->flags & COMP_CAPPED)) {
        /* a new entity joins the customer it links to */
        hub_buf_free(&other);
        mark_anchor(c, kb0);
        if (e->kind != HUB_KIND_HUB &&
            (!kb0->anchor || strcmp(e->key, kb0->anchor) < 0)) {
            char *a2 = strndup(e->key, e->keylen);
            if (!a2)
                return HUB_ENOMEM;
            set_anchor(kb0, a2);
        }
        mark_anchor(c, kb0);
        return move_member(c, e->key, e->keylen, b);
    }
    if ((rc = member_of(c, e->key, e->keylen, &a)) ||
        (rc = member_of(c, other.data, other.len, &b))) {
        /* not grouped yet: leave it to the regrouping */
        hub_graph_regraph(c, e->key, e->keylen);
        hub_graph_regraph(c, other.data, other.len);
        hub_buf_free(&other);
        return rc == HUB_ENOENT ? 0 : rc;
    }
    comp *ka = NULL, *kb = NULL;
    if (a != b && (rc = hub_graph_comp(c, a, &ka)) == 0)
        rc = hub_graph_comp(c, b, &kb);
    if (a == b || rc) {
        hub_buf_free(&other);
        return rc == HUB_ENOENT ? 0 : rc;
    }
    if (ka->nm + kb->nm > (uint32_t)c->rules.max_entities ||
        (ka->flags | kb->flags) & COMP_CAPPED) {
        /* past the cap the split must not depend on arrival order */
        hub_graph_regraph(c, e->key, e->keylen);
        hub_graph_regraph(c, other.data, other.len);
        hub_buf_free(&other);
        return 0;
    }
    hub_buf_free(&other);
    /* union by size: the smaller component's members move */
    comp *big = ka->nm >= kb->nm ? ka : kb, *small = big == ka ? kb : ka;
    mark_anchor(c, small);
    mark_anchor(c, big);
    while (!rc && small->nm) {
        hub_ent_t *m = small->m[small->nm - 1]->e;
        rc = m ? move_member(c, m->key, m->keylen, big->id)
               : (small->nm--, 0);
    }
    if (rc)
        return rc;
    big->dirty = 1;
    if (small->anchor &&
        (!big->anchor || strcmp(small->anchor, big->anchor) < 0)) {
        set_anchor(big, small->anchor);
        small->anchor = NULL;
    }
    comp_drop(small);
    mark_anchor(c, big);
    return 0;
}

int hub_graph_restamped(hub_c360_t *c, cent *ce) {
    uint64_t id;
    comp *k;
    if (member_of(c, ce->e->key, ce->e->keylen, &id) == 0 &&
        hub_graph_comp(c, id, &k) == 0 && (k->flags & COMP_CAPPED))
        hub_graph_regraph(c, ce->e->key, ce->e->keylen);
    return 0;
}

int hub_graph_touch(hub_c360_t *c, const char *key, size_t len) {
    uint64_t id;
    comp *k;
    int rc = member_of(c, key, len, &id);
    if (rc == 0 && (rc = hub_graph_comp(c, id, &k)) == 0) {
        mark_anchor(c, k);
        return 0;
    }
    hub_graph_regraph(c, key, len);
    return rc == HUB_ENOENT ? 0 : rc;
}

int hub_graph_remove(hub_c360_t *c, const char *key, size_t len) {
    uint64_t id;
    comp *k;
    int rc = member_of(c, key, len, &id);
    if (rc)
        return rc == HUB_ENOENT ? 0 : rc;
    if ((rc = hub_graph_comp(c, id, &k)))
        return rc == HUB_ENOENT ? move_member(c, key, len, 0) : rc;
    mark_anchor(c, k);
    if ((rc = move_member(c, key, len, 0)))
        return rc;
    if (k->nm == 0) {
        comp_drop(k);
        return 0;
    }
    /* what is left may no longer hang together, or need a new anchor */
    hub_hmap_t *rest = hub_hmap_new();
    rc = rest ? members_of(c, id, rest) : HUB_ENOMEM;
    size_t pos = 0, klen;
    const char *m;
    if (!rc && hub_hmap_next(rest, &pos, &m, &klen, NULL))
        hub_graph_regraph(c, m, klen);
    hub_hmap_free(rest, NULL);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Regrouping                                                          */
/* ------------------------------------------------------------------ */

typedef struct group {
    char **keys;
    size_t n, cap;
} group;

static int group_add(group *g, const char *k, size_t len) {
    if (hub_array_grow(&g->keys, &g->cap, g->n, sizeof *g->keys, 8) ||
        !(g->keys[g->n] = strndup(k, len)))
        return HUB_ENOMEM;
    g->n++;
    return 0;
}

static void group_free(group *g) {
    for (size_t i = 0; i < g->n; i++)
        free(g->keys[i]);
    free(g->keys);
    g->keys = NULL;
    g->n = g->cap = 0;
}

/* Breadth-first walk from start over edges; visited grows. With
 * skip_links, link entities are neither entered nor walked through. */
static int walk(hub_c360_t *c, const char *start, hub_hmap_t *visited,
                hub_hmap_t *act, int skip_links, group *g) {
    int rc = group_add(g, start, strlen(start));
    hub_c360_mark(visited, start, strlen(start));
    for (size_t q = 0; !rc && q < g->n; q++) {
        cent *ce;
        if ((rc = hub_c360_load(c, g->keys[q], strlen(g->keys[q]), &ce)))
            break;
        if (!ce->e || cancelled_link(ce->e))
            continue;
        for (uint32_t i = 0; !rc && i < ce->e->nids; i++) {
            const hub_eid_t *x = &ce->e->ids[i];
            if (!(x->flags & HUB_EID_LINKS))
                continue;
            size_t xl = strlen(x->key);
            int created;
            void **slot = hub_hmap_put(act, x->key, xl, &created);
            if (!slot)
                return HUB_ENOMEM;
            if (created)
                *slot = (void *)(intptr_t)(active(c, x->key, NULL) ? 1 : 2);
            if ((intptr_t)*slot != 1)
                continue;
            MDB_cursor *cur;
            int r = mdb_cursor_open(c->txn, DBI(c, T_IDENT), &cur);
            if (r)
                return hub_store_err(r);
            MDB_val k = hub_mval(x->key, xl), d;
            for (int r = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY);
                 r == 0 && !rc; r = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP)) {
                if (hub_hmap_get(visited, d.mv_data, d.mv_size))
                    continue;
                cent *other;
                if ((rc = hub_c360_load(c, d.mv_data, d.mv_size, &other)))
                    break;
                if (!holds(other->e, x->key) ||
                    (skip_links && other->e->kind == HUB_KIND_HUB))
                    continue;
                hub_c360_mark(visited, d.mv_data, d.mv_size);
                rc = group_add(g, d.mv_data, d.mv_size);
            }
            mdb_cursor_close(cur);
        }
    }
    return rc;
}

int hub_graph_component(hub_c360_t *c, const char *start, hub_hmap_t *out) {
    hub_hmap_t *act = hub_hmap_new();
    group g = {0};
    int rc = act ? walk(c, start, out, act, 1, &g) : HUB_ENOMEM;
    group_free(&g);
    hub_hmap_free(act, NULL);
    return rc;
}

/* Kruskal's algorithm with a size cap, over the edges of an oversize
 * group, in (stamp, identity, entity) order. */
typedef struct edge {
    hub_stamp_t st;
    const char *ident;
    size_t ent; /* index in the group */
} edge;

static int cmp_edge(const void *a, const void *b) {
    const edge *x = a, *y = b;
    int c = hub_stamp_cmp(&x->st, &y->st);
    if (c)
        return c;
    c = strcmp(x->ident, y->ident);
    return c ? c : (x->ent > y->ent) - (x->ent < y->ent);
}

static size_t find(size_t *parent, size_t x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static int split(hub_c360_t *c, const group *g, hub_hmap_t *act,
                 group **out, size_t *nout) {
    size_t ne = 0;
    for (size_t i = 0; i < g->n; i++) {
        cent *ce = *hub_hmap_get(c->ents, g->keys[i], strlen(g->keys[i]));
        ne += ce->e ? ce->e->nids : 0;
    }
    edge *edges = malloc((ne ? ne : 1) * sizeof *edges);
    hub_hmap_t *idnode = hub_hmap_new(); /* identity -> node index */
    size_t nodes = g->n, k = 0;
    if (!edges || !idnode) {
        free(edges);
        hub_hmap_free(idnode, NULL);
        return HUB_ENOMEM;
    }
    for (size_t i = 0; i < g->n; i++) {
        cent *ce = *hub_hmap_get(c->ents, g->keys[i], strlen(g->keys[i]));
        if (!ce->e || cancelled_link(ce->e))
            continue;
        for (uint32_t j = 0; j < ce->e->nids; j++) {
            const hub_eid_t *x = &ce->e->ids[j];
            void **a = hub_hmap_get(act, x->key, strlen(x->key));
            if (!(x->flags & HUB_EID_LINKS) || !a || (intptr_t)*a != 1)
                continue;
            edges[k++] = (edge){x->st, x->key, i};
            int created;
            void **slot = hub_hmap_put(idnode, x->key, strlen(x->key), &created);
            if (slot && created)
                *slot = (void *)(intptr_t)nodes++;
        }
    }
    hub_sort(edges, k, sizeof *edges, cmp_edge);
    size_t *parent = malloc(nodes * sizeof *parent);
    size_t *size = malloc(nodes * sizeof *size);
    for (size_t i = 0; parent && size && i < nodes; i++) {
        parent[i] = i;
        size[i] = i < g->n; /* only entities count */
    }
    size_t refused = 0;
    for (size_t i = 0; parent && size && i < k; i++) {
        size_t inode = (size_t)(intptr_t)*hub_hmap_get(idnode, edges[i].ident,
                                                       strlen(edges[i].ident));
        size_t a = find(parent, edges[i].ent), b = find(parent, inode);
        if (a == b)
            continue;
        if (size[a] + size[b] > (size_t)c->rules.max_entities) {
            refused++;
            continue;
        }
        if (size[a] < size[b]) {
            size_t t = a;
            a = b;
            b = t;
        }
        parent[b] = a;
        size[a] += size[b];
    }
    group *gs = calloc(g->n, sizeof *gs);
    size_t *slot_of = malloc(nodes * sizeof *slot_of);
    size_t ng = 0;
    int rc = gs && slot_of && parent && size ? 0 : HUB_ENOMEM;
    for (size_t i = 0; !rc && i < nodes; i++)
        slot_of[i] = SIZE_MAX;
    for (size_t i = 0; !rc && i < g->n; i++) {
        size_t r = find(parent, i);
        if (slot_of[r] == SIZE_MAX)
            slot_of[r] = ng++;
        rc = group_add(&gs[slot_of[r]], g->keys[i], strlen(g->keys[i]));
    }
    if (refused) {
        c->stats.merges_refused += refused;
        hub_log_info("project",
                     "a customer of %zu entities exceeds identity.max_entities "
                     "(%ld): %zu links refused, %zu customers kept apart",
                     g->n, c->rules.max_entities, refused, ng);
    }
    free(edges);
    free(parent);
    free(size);
    free(slot_of);
    hub_hmap_free(idnode, NULL);
    if (rc) {
        for (size_t i = 0; gs && i < ng; i++)
            group_free(&gs[i]);
        free(gs);
        return rc;
    }
    *out = gs;
    *nout = ng;
    return 0;
}

/* Makes g one component (reusing the one its members share when the
 * membership did not change). */
static int assign(hub_c360_t *c, const group *g, int capped) {
    const char *anchor = NULL;
    uint64_t shared = 0;
    int same = 1;
    for (size_t i = 0; i < g->n; i++) {
        cent *ce = *hub_hmap_get(c->ents, g->keys[i], strlen(g->keys[i]));
        uint64_t id = 0;
        member_of(c, g->keys[i], strlen(g->keys[i]), &id);
        if (i == 0)
            shared = id;
        same &= id == shared && id != 0;
        if (ce->e && ce->e->kind != HUB_KIND_HUB &&
            (!anchor || strcmp(g->keys[i], anchor) < 0))
            anchor = g->keys[i];
    }
    comp *k = NULL;
    int rc = 0;
    if (same && hub_graph_comp(c, shared, &k) == 0 && k->nm == g->n) {
        /* the same members: only the anchor and the flag may change */
        if (!k->anchor || !anchor || strcmp(k->anchor, anchor) != 0) {
            mark_anchor(c, k);
            char *a2 = anchor ? strdup(anchor) : NULL;
            if (anchor && !a2)
                return HUB_ENOMEM;
            set_anchor(k, a2);
        }
        if ((k->flags & COMP_CAPPED) != (capped ? COMP_CAPPED : 0)) {
            k->flags = capped ? COMP_CAPPED : 0;
            k->dirty = 1;
        }
        mark_anchor(c, k);
        return 0;
    }
    if ((rc = comp_new(c, &k)))
        return rc;
    k->flags = capped ? COMP_CAPPED : 0;
    if (anchor && !(k->anchor = strdup(anchor)))
        return HUB_ENOMEM;
    for (size_t i = 0; !rc && i < g->n; i++) {
        size_t kl = strlen(g->keys[i]);
        uint64_t old = 0;
        comp *ok = NULL;
        if (member_of(c, g->keys[i], kl, &old) == 0 &&
            hub_graph_comp(c, old, &ok) == 0)
            mark_anchor(c, ok);
        rc = move_member(c, g->keys[i], kl, k->id);
        if (!rc && ok && ok->nm == 0)
            comp_drop(ok);
    }
    mark_anchor(c, k);
    return rc;
}

static int regroup(hub_c360_t *c) {
    if (!hub_hmap_count(c->regraph))
        return 0;
    /* the region: the seeds and every member of their customers */
    hub_hmap_t *region = hub_hmap_new(), *visited = hub_hmap_new(),
               *act = hub_hmap_new();
    int rc = region && visited && act ? 0 : HUB_ENOMEM;
    size_t pos = 0, klen;
    const char *k;
    while (!rc && hub_hmap_next(c->regraph, &pos, &k, &klen, NULL)) {
        hub_c360_mark(region, k, klen);
        uint64_t id;
        if (member_of(c, k, klen, &id) == 0)
            rc = members_of(c, id, region);
    }
    pos = 0;
    while (!rc && hub_hmap_next(region, &pos, &k, &klen, NULL)) {
        if (hub_hmap_get(visited, k, klen))
            continue;
        cent *ce;
        if ((rc = hub_c360_load(c, k, klen, &ce)))
            break;
        if (!ce->e)
            continue; /* forgotten: nothing to group */
        group g = {0};
        char *start = strndup(k, klen);
        rc = start ? walk(c, start, visited, act, 0, &g) : HUB_ENOMEM;
        free(start);
        if (!rc && g.n > (size_t)c->rules.max_entities) {
            group *parts = NULL;
            size_t np = 0;
            rc = split(c, &g, act, &parts, &np);
            for (size_t p = 0; p < np; p++) {
                if (!rc)
                    rc = assign(c, &parts[p], 1);
                group_free(&parts[p]);
            }
            free(parts);
        } else if (!rc) {
            rc = assign(c, &g, 0);
        }
        group_free(&g);
    }
    hub_hmap_free(region, NULL);
    hub_hmap_free(visited, NULL);
    hub_hmap_free(act, NULL);
    return rc;
}

int hub_graph_finish(hub_c360_t *c) {
    int rc = 0;
    /* every entity belongs to a customer, if only its own */
    for (size_t i = 0; i < c->nfresh && !rc; i++)
        if (c->fresh[i]->e && !c->fresh[i]->e->comp)
            rc = hub_graph_new_entity(c, c->fresh[i]);
    if (!rc)
        rc = regroup(c);
    if (!rc)
        rc = hub_graph_views(c);
    if (!rc)
        rc = hub_graph_flush(c);
    if (!rc)
        rc = hub_graph_prune_changes(c);
    return rc;
}
