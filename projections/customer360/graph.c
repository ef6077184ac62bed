/*
 * hub360 - the identity graph and the views, at the end of each batch.
 *
 * Entities and identities form a bipartite graph; a customer is a
 * connected component of it. An identity is an edge only while it is
 * active: its kind links, it is not blocklisted (both decided when it is
 * first seen), not excluded by identity.unlink, and not saturated (carried
 * by more than identity.max_entities entities: a shared mailbox that got
 * past the blocklist). A link entity cancelled by identity.unlink has no
 * edges.
 *
 * After a batch, the entities whose edges changed and every member of
 * their former customers are regrouped by a breadth-first walk. A group
 * larger than max_entities is split the same way whatever order its
 * events came in: its edges are taken in order of (earliest stamp,
 * identity, entity) and one is refused when it would make a group too
 * big (Kruskal's algorithm with a size cap). Each group's anchor is its
 * smallest entity key that is not a link; the customer id derives from
 * it. Then every customer whose members or member states changed gets
 * its view recomputed, and a changed view a new change sequence number.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c360_internal.h"
#include "errors.h"
#include "log.h"

#define DBI(c, t) hub_store_dbi((c)->store, (t))

static MDB_val val(const void *p, size_t n) {
    MDB_val v = {n, (void *)p};
    return v;
}

int hub_c360_active(hub_c360_t *c, const char *ident) {
    size_t len = strlen(ident);
    if (ident[0] != '@') { /* structural references are never excluded */
        char key[520];
        int n = snprintf(key, sizeof key, "x:%s", ident);
        MDB_val k = val(key, (size_t)n), d;
        if (n > 0 && (size_t)n < sizeof key &&
            mdb_get(c->txn, DBI(c, T_CTL), &k, &d) == 0 && d.mv_size == 25 &&
            ((const uint8_t *)d.mv_data)[24])
            return 0;
    }
    MDB_cursor *cur;
    if (mdb_cursor_open(c->txn, DBI(c, T_IDENT), &cur))
        return 0;
    MDB_val k = val(ident, len), d;
    size_t count = 0;
    if (mdb_cursor_get(cur, &k, &d, MDB_SET_KEY) == 0)
        mdb_cursor_count(cur, &count);
    mdb_cursor_close(cur);
    return count <= (size_t)c->rules.max_entities;
}

/* A link entity cancelled by identity.unlink joins nothing. */
static int cancelled_link(const hub_ent_t *e) {
    return (e->roles & ROLE_LINK) && e->regs[R_STATUS].set &&
           e->regs[R_STATUS].is_str &&
           strcmp(e->regs[R_STATUS].s, "cancelled") == 0;
}

/* ------------------------------------------------------------------ */
/* Grouping                                                            */
/* ------------------------------------------------------------------ */

typedef struct group {
    char **keys;
    size_t n, cap;
} group;

static int group_add(group *g, const char *k, size_t len) {
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        char **p = realloc(g->keys, cap * sizeof *p);
        if (!p)
            return HUB_ENOMEM;
        g->keys = p;
        g->cap = cap;
    }
    if (!(g->keys[g->n] = strndup(k, len)))
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

/* Breadth-first walk from start over active edges; visited grows. */
static int walk(hub_c360_t *c, const char *start, hub_hmap_t *visited,
                hub_hmap_t *active, int skip_links, group *g) {
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
            void **slot = hub_hmap_put(active, x->key, xl, &created);
            if (!slot)
                return HUB_ENOMEM;
            if (created)
                *slot = (void *)(intptr_t)(hub_c360_active(c, x->key) ? 1 : 2);
            if ((intptr_t)*slot != 1)
                continue;
            MDB_cursor *cur;
            if (mdb_cursor_open(c->txn, DBI(c, T_IDENT), &cur))
                return HUB_EIO;
            MDB_val k = val(x->key, xl), d;
            for (int r = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY);
                 r == 0 && !rc; r = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP)) {
                if (hub_hmap_get(visited, d.mv_data, d.mv_size))
                    continue;
                cent *other;
                if ((rc = hub_c360_load(c, d.mv_data, d.mv_size, &other)))
                    break;
                if (!other->e || cancelled_link(other->e) ||
                    (skip_links && other->e->kind == 3))
                    continue;
                /* an edge links both ways or not at all: the other entity
                 * must hold this identity as a linking one too */
                const hub_eid_t *back = hub_ent_find_id(other->e, x->key);
                if (!back || !(back->flags & HUB_EID_LINKS))
                    continue;
                hub_c360_mark(visited, d.mv_data, d.mv_size);
                rc = group_add(g, d.mv_data, d.mv_size);
            }
            mdb_cursor_close(cur);
        }
    }
    return rc;
}

int hub_c360_component(hub_c360_t *c, const char *start, hub_hmap_t *out) {
    hub_hmap_t *active = hub_hmap_new();
    group g = {0};
    int rc = active ? walk(c, start, out, active, 1, &g) : HUB_ENOMEM;
    group_free(&g);
    hub_hmap_free(active, NULL);
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

static int split(hub_c360_t *c, const group *g, hub_hmap_t *active,
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
        for (uint32_t j = 0; ce->e && j < ce->e->nids; j++) {
            const hub_eid_t *x = &ce->e->ids[j];
            void **a = hub_hmap_get(active, x->key, strlen(x->key));
            if (!(x->flags & HUB_EID_LINKS) || !a || (intptr_t)*a != 1)
                continue;
            edges[k++] = (edge){x->st, x->key, i};
            int created;
            void **slot = hub_hmap_put(idnode, x->key, strlen(x->key), &created);
            if (slot && created)
                *slot = (void *)(intptr_t)nodes++;
        }
    }
    qsort(edges, k, sizeof *edges, cmp_edge);
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
    /* collect the groups by root */
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

/* Gives every entity of g the group's anchor. */
static int assign(hub_c360_t *c, const group *g) {
    const char *anchor = NULL;
    for (size_t i = 0; i < g->n; i++) {
        cent *ce = *hub_hmap_get(c->ents, g->keys[i], strlen(g->keys[i]));
        if (!ce->e || ce->e->kind == 3 /* links never anchor */)
            continue;
        if (!anchor || strcmp(g->keys[i], anchor) < 0)
            anchor = g->keys[i];
    }
    size_t alen = anchor ? strlen(anchor) : 0;
    if (anchor)
        hub_c360_mark(c->cust_dirty, anchor, alen);
    hub_buf_t old = HUB_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; !rc && i < g->n; i++) {
        const char *k = g->keys[i];
        size_t kl = strlen(k);
        int had = hub_c360_anchor(c, k, kl, &old) == 0;
        if (had && anchor && old.len == alen && memcmp(old.data, anchor, alen) == 0)
            continue;
        MDB_val mk = val(k, kl);
        if (had) {
            MDB_val ak = val(old.data, old.len);
            mdb_del(c->txn, DBI(c, T_MEMBERS), &ak, &mk);
            hub_c360_mark(c->cust_dirty, old.data, old.len);
        }
        if (anchor) {
            MDB_val av = val(anchor, alen);
            int mrc = mdb_put(c->txn, DBI(c, T_MEMBER), &mk, &av, 0);
            if (!mrc)
                mrc = mdb_put(c->txn, DBI(c, T_MEMBERS), &av, &mk,
                              MDB_NODUPDATA);
            rc = mrc == MDB_KEYEXIST ? 0 : hub_store_err(mrc);
        } else if (had) {
            mdb_del(c->txn, DBI(c, T_MEMBER), &mk, NULL);
        }
    }
    hub_buf_free(&old);
    return rc;
}

int hub_c360_update_graph(hub_c360_t *c) {
    if (!hub_hmap_count(c->graph_dirty))
        return 0;
    /* the region: dirty entities and every member of their customers */
    hub_hmap_t *region = hub_hmap_new(), *visited = hub_hmap_new(),
               *active = hub_hmap_new();
    int rc = region && visited && active ? 0 : HUB_ENOMEM;
    hub_buf_t anchor = HUB_BUF_INIT;
    size_t pos = 0, klen;
    const char *k;
    while (!rc && hub_hmap_next(c->graph_dirty, &pos, &k, &klen, NULL)) {
        hub_c360_mark(region, k, klen);
        if (hub_c360_anchor(c, k, klen, &anchor))
            continue;
        MDB_cursor *cur;
        if (mdb_cursor_open(c->txn, DBI(c, T_MEMBERS), &cur)) {
            rc = HUB_EIO;
            break;
        }
        MDB_val ak = val(anchor.data, anchor.len), d;
        for (int r = mdb_cursor_get(cur, &ak, &d, MDB_SET_KEY); r == 0;
             r = mdb_cursor_get(cur, &ak, &d, MDB_NEXT_DUP))
            hub_c360_mark(region, d.mv_data, d.mv_size);
        mdb_cursor_close(cur);
    }
    hub_buf_free(&anchor);
    size_t n = 0;
    const char **keys = rc ? NULL : hub_hmap_sorted_keys(region, &n);
    if (!rc && !keys)
        rc = HUB_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        if (hub_hmap_get(visited, keys[i], strlen(keys[i])))
            continue;
        cent *ce;
        if ((rc = hub_c360_load(c, keys[i], strlen(keys[i]), &ce)))
            break;
        if (!ce->e) /* forgotten: nothing to group */
            continue;
        group g = {0};
        rc = walk(c, keys[i], visited, active, 0, &g);
        if (!rc && g.n > (size_t)c->rules.max_entities) {
            group *parts = NULL;
            size_t np = 0;
            rc = split(c, &g, active, &parts, &np);
            for (size_t p = 0; p < np; p++) {
                if (!rc)
                    rc = assign(c, &parts[p]);
                group_free(&parts[p]);
            }
            free(parts);
        } else if (!rc) {
            rc = assign(c, &g);
        }
        group_free(&g);
    }
    free(keys);
    hub_hmap_free(region, NULL);
    hub_hmap_free(visited, NULL);
    hub_hmap_free(active, NULL);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Views and the change feed                                           */
/* ------------------------------------------------------------------ */

int hub_c360_change(hub_c360_t *c, const char *cid) {
    size_t len = strlen(cid);
    MDB_val k = val(cid, len), d;
    if (mdb_get(c->txn, DBI(c, T_CHANGE_SEQ), &k, &d) == 0 && d.mv_size == 8) {
        uint8_t old[8];
        memcpy(old, d.mv_data, 8);
        MDB_val ok = val(old, 8);
        mdb_del(c->txn, DBI(c, T_CHANGES), &ok, NULL);
    }
    uint8_t seq[8];
    hub_be64(seq, ++c->seq);
    MDB_val sk = val(seq, 8), sv = val(cid, len);
    int rc = mdb_put(c->txn, DBI(c, T_CHANGES), &sk, &sv, MDB_APPEND);
    if (!rc)
        rc = mdb_put(c->txn, DBI(c, T_CHANGE_SEQ), &k, &sk, 0);
    return hub_store_err(rc);
}

int hub_c360_update_views(hub_c360_t *c) {
    size_t n = 0;
    const char **anchors = hub_hmap_sorted_keys(c->cust_dirty, &n);
    if (!anchors)
        return HUB_ENOMEM;
    hub_buf_t cur_anchor = HUB_BUF_INIT;
    hub_ent_t **members = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        const char *a = anchors[i];
        size_t alen = strlen(a);
        char cid[HUB_CUSTOMER_ID_LEN + 1];
        hub_customer_id(a, alen, cid);
        MDB_val ck = val(cid, HUB_CUSTOMER_ID_LEN), old;
        int has_old = mdb_get(c->txn, DBI(c, T_VIEWS), &ck, &old) == 0;
        int is_anchor = hub_c360_anchor(c, a, alen, &cur_anchor) == 0 &&
                        cur_anchor.len == alen &&
                        memcmp(cur_anchor.data, a, alen) == 0;
        if (!is_anchor) { /* merged away, split off, or forgotten */
            if (has_old) {
                mdb_del(c->txn, DBI(c, T_VIEWS), &ck, NULL);
                rc = hub_c360_change(c, cid);
                c->stats.views_deleted++;
            }
            continue;
        }
        size_t m = 0, anchor_at = 0;
        MDB_cursor *cur;
        if (mdb_cursor_open(c->txn, DBI(c, T_MEMBERS), &cur)) {
            rc = HUB_EIO;
            break;
        }
        MDB_val ak = val(a, alen), d;
        for (int r = mdb_cursor_get(cur, &ak, &d, MDB_SET_KEY); r == 0 && !rc;
             r = mdb_cursor_get(cur, &ak, &d, MDB_NEXT_DUP)) {
            cent *ce;
            if ((rc = hub_c360_load(c, d.mv_data, d.mv_size, &ce)) || !ce->e)
                continue;
            if (m == cap) {
                cap = cap ? cap * 2 : 16;
                hub_ent_t **p = realloc(members, cap * sizeof *p);
                if (!p) {
                    rc = HUB_ENOMEM;
                    break;
                }
                members = p;
            }
            if (ce->e->keylen == alen && memcmp(ce->e->key, a, alen) == 0)
                anchor_at = m;
            members[m++] = ce->e;
        }
        mdb_cursor_close(cur);
        if (rc || m == 0)
            continue;
        if ((rc = hub_view_build(c->vrules, members, m, anchor_at, &c->view)))
            break;
        if (has_old && old.mv_size == c->view.len &&
            memcmp(old.mv_data, c->view.data, c->view.len) == 0)
            continue; /* same bytes: no change */
        MDB_val nv = val(c->view.data, c->view.len);
        if ((rc = hub_store_err(mdb_put(c->txn, DBI(c, T_VIEWS), &ck, &nv, 0))))
            break;
        c->stats.views_written++;
        rc = hub_c360_change(c, cid);
    }
    free(members);
    free(anchors);
    hub_buf_free(&cur_anchor);
    return rc;
}
