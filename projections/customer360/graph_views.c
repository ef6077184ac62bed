/*
 * hub360 - the views of the customers a batch changed, and the change
 * feed.
 *
 * At commit, every customer whose members or member states changed
 * (graph.c marks its anchor) gets its view recomputed from its members;
 * a view whose bytes changed is written and gets the next change
 * sequence number, a customer that is gone (merged away, split off,
 * forgotten) loses its view and gets one too. The views are built on
 * other cores while the writer's thread writes what the rest of the
 * commit adds nothing to; everything that touches the store stays on the
 * writer's thread.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "c360_internal.h"
#include "errors.h"
#include "hash.h"
#include "par.h"
#include "sort.h"

#define RETAIN_CHANGES 1000000 /* entries the change feed keeps */

/* Records a change of customer cid: the next sequence number in the
 * change feed, and the view (NULL: gone) for the changelog. */
static int change(hub_c360_t *c, const char *cid, const hub_buf_t *view) {
    uint8_t seq[8];
    hub_be64(seq, ++c->seq);
    MDB_val sk = hub_mval(seq, 8), sv = hub_mval(cid, strlen(cid));
    int rc = mdb_put(c->txn, DBI(c, T_CHANGES), &sk, &sv, MDB_APPEND);
    if (rc)
        return hub_store_err(rc);
    if (hub_array_grow(&c->chg, &c->capchg, c->nchg, sizeof *c->chg, 256))
        return HUB_ENOMEM;
    hub_c360_change_t *x = &c->chg[c->nchg++];
    x->seq = c->seq;
    memcpy(x->id, cid, HUB_CUSTOMER_ID_LEN + 1);
    x->view = NULL;
    x->len = 0;
    if (view) { /* an offset until the batch is done: the buffer moves */
        x->view = (const void *)(uintptr_t)(c->chg_views.len + 1);
        x->len = view->len;
        if (hub_buf_append(&c->chg_views, view->data, view->len))
            return HUB_ENOMEM;
    }
    return 0;
}

int hub_graph_prune_changes(hub_c360_t *c) {
    if (c->seq <= RETAIN_CHANGES)
        return 0;
    uint64_t cutoff = c->seq - RETAIN_CHANGES;
    MDB_cursor *cur;
    int oc = mdb_cursor_open(c->txn, DBI(c, T_CHANGES), &cur);
    if (oc)
        return hub_store_err(oc);
    MDB_val k, d;
    int r = mdb_cursor_get(cur, &k, &d, MDB_FIRST), rc = 0;
    for (int n = 0; r == 0 && n < 100000 && hub_rd_be64(k.mv_data) <= cutoff;
         n++) {
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
        r = mdb_cursor_get(cur, &k, &d, MDB_GET_CURRENT);
        if (r)
            r = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
    }
    mdb_cursor_close(cur);
    return hub_store_err(rc);
}

static int cmp_ent_key(const void *a, const void *b) {
    const hub_ent_t *x = *(hub_ent_t *const *)a, *y = *(hub_ent_t *const *)b;
    size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
    int r = memcmp(x->key, y->key, n);
    return r ? r : (x->keylen > y->keylen) - (x->keylen < y->keylen);
}

/*
 * The views of a batch's dirty customers are computed in three steps:
 * (1) on the writer's thread, each anchor is looked up in the store and
 * becomes a job: a view to delete, or the members to build one from;
 * (2) the views are built, with the members' customer ids, what the
 * customer adds to the daily report and the packed records of the
 * members hub_graph_flush writes, a pure computation over entities in
 * memory, on the other cores (each job's entities belong to it alone: an
 * entity is a member of one customer), while the writer's thread writes
 * the batch's deferred puts to the tables nothing after this adds to;
 * (3) on the writer's thread, in the order of step 1, as each job is
 * built (taking turns at building if the others are behind), the report
 * takes the customer's part, and a view that changed is written and
 * recorded as a change. The order of the changes is the same as if each
 * view had been built in turn.
 */
typedef struct vjob {
    comp *k;          /* NULL: the customer is gone (delete its view) */
    char cid[HUB_CUSTOMER_ID_LEN + 1];
    const hub_ent_t *anchor;
    size_t first, n;  /* its members in the shared array */
    const uint8_t *view, *parts; /* built: in the builder's arena */
    size_t len, plen;
    uint64_t hash;
    hub_report_ahead_t was; /* what the report kept of it, looked up
                                by the builder */
    int rc;
} vjob;

typedef struct vwork {
    hub_c360_t *c;
    vjob *jobs;
    size_t njobs, capjobs;
    hub_ent_t **members;
    size_t nmembers, capmembers;
    hub_buf_t scratch[HUB_PAR_MAX], pscratch[HUB_PAR_MAX];
    /* thread t's read transaction (NULL: none), the store as the batch
     * began: what the report kept of each customer is read there */
    MDB_txn *rt[HUB_PAR_MAX];
} vwork;

/* Step 1 for one anchor. */
static int view_job(hub_c360_t *c, vwork *w, const char *anchor) {
    size_t alen = strlen(anchor);
    cent *ace;
    int rc = hub_c360_load(c, anchor, alen, &ace);
    if (rc)
        return rc;
    if (hub_array_grow(&w->jobs, &w->capjobs, w->njobs, sizeof *w->jobs, 256))
        return HUB_ENOMEM;
    vjob *j = &w->jobs[w->njobs];
    memset(j, 0, sizeof *j);
    if (ace->e)
        hub_ent_cid(ace->e, j->cid);
    else
        hub_customer_id(anchor, alen, j->cid);
    comp *k = NULL;
    int is_anchor = ace->e && ace->e->comp &&
                    hub_graph_comp(c, ace->e->comp, &k) == 0 && k->anchor &&
                    strcmp(k->anchor, anchor) == 0;
    w->njobs++;
    if (!is_anchor) /* merged away, split off, or forgotten */
        return 0;
    j->k = k;
    j->anchor = ace->e;
    j->first = w->nmembers;
    for (uint32_t i = 0; i < k->nm; i++) {
        hub_ent_t *e = k->m[i]->e;
        if (!e)
            continue;
        if (hub_array_grow(&w->members, &w->capmembers, w->nmembers,
                           sizeof *w->members, 1024))
            return HUB_ENOMEM;
        w->members[w->nmembers++] = e;
    }
    j->n = w->nmembers - j->first;
    return 0;
}

/* Step 2 for job i, on thread t. */
static void view_build_one(void *arg, size_t i, size_t t) {
    vwork *w = arg;
    vjob *j = &w->jobs[i];
    if (!j->k || !j->n)
        return;
    hub_buf_t *one = &w->scratch[t], *parts = &w->pscratch[t];
    hub_ent_t **m = w->members + j->first;
    hub_sort(m, j->n, sizeof *m, cmp_ent_key);
    size_t anchor_at = 0;
    for (size_t x = 0; x < j->n; x++) {
        char cid[HUB_CUSTOMER_ID_LEN + 1];
        hub_ent_cid(m[x], cid); /* cached in the entity, a member of this
                                 * job's customer only */
        if (m[x] == j->anchor)
            anchor_at = x;
    }
    hub_buf_reset(parts);
    j->rc = hub_report_customer_parts(w->c->report, m, j->n, parts);
    if (!j->rc)
        j->rc = hub_view_build(w->c->vrules, m, j->n, anchor_at, one);
    /* in c->vbuilt[t]: it stays put while the writer reads what was
     * built before, and until the deferred puts go in */
    hub_arena_t *built = &w->c->vbuilt[t];
    uint8_t *v = j->rc ? NULL
                       : hub_arena_alloc(built, one->len + parts->len + 1);
    if (!v) {
        j->rc = j->rc ? j->rc : HUB_ENOMEM;
        return;
    }
    memcpy(v, one->data, one->len);
    if (parts->len)
        memcpy(v + one->len, parts->data, parts->len);
    if (w->rt[t])
        hub_report_customer_ahead(w->c->report, w->rt[t], j->cid, built,
                                  &j->was);
    j->view = v;
    j->len = one->len;
    j->parts = v + one->len;
    j->plen = parts->len;
    j->hash = hub_hash64(one->data, one->len);
    if (j->hash == 0)
        j->hash = 1; /* 0 means "none written" */
    /* the records of the members hub_graph_flush will write: their
     * states are final */
    for (uint32_t x = 0; x < j->k->nm; x++) {
        cent *ce = j->k->m[x];
        if (!hub_member_written(ce, j->k) || hub_ent_pack(ce->e, one))
            continue; /* not written, or packed when it is */
        uint8_t *p = hub_arena_alloc(built, one->len);
        if (!p)
            continue;
        memcpy(p, one->data, one->len);
        ce->packed = p;
        ce->packedlen = one->len;
    }
}

/* Step 3 for one job. */
static int view_store(hub_c360_t *c, vjob *j) {
    MDB_val ck = hub_mval(j->cid, HUB_CUSTOMER_ID_LEN);
    if (j->rc)
        return j->rc;
    int rc = hub_report_customer(c->report, c->txn, j->cid,
                                 j->plen ? j->parts : NULL, j->plen, &j->was);
    if (rc)
        return rc;
    if (!j->k) {
        rc = mdb_del(c->txn, DBI(c, T_VIEWS), &ck, NULL);
        if (rc == MDB_NOTFOUND)
            return 0;
        c->stats.views_deleted++;
        return rc ? hub_store_err(rc) : change(c, j->cid, NULL);
    }
    if (!j->n)
        return 0;
    if (j->hash == j->k->vhash)
        return 0; /* the same bytes: no change */
    hub_buf_t view = {(char *)j->view, j->len, j->len};
    rc = hub_c360_defer_ref(c, T_VIEWS, j->cid, HUB_CUSTOMER_ID_LEN,
                            view.data, view.len);
    if (rc)
        return rc;
    j->k->vhash = j->hash;
    j->k->dirty = 1;
    c->stats.views_written++;
    return change(c, j->cid, &view);
}

int hub_graph_views(hub_c360_t *c) {
    vwork w = {.c = c};
    size_t pos = 0, klen;
    const char *k;
    int rc = 0;
    while (!rc && hub_hmap_next(c->cust_dirty, &pos, &k, &klen, NULL))
        rc = view_job(c, &w, k);
    hub_par_t *built = NULL;
    /* the report writes its tables at hub_report_flush, after this: what
     * it kept is what the batch found, unless its cache says otherwise */
    for (size_t t = 0; !rc && c->report && t < hub_par_threads(); t++)
        if (mdb_txn_begin(hub_store_env(c->store), NULL, MDB_RDONLY,
                          &w.rt[t]))
            w.rt[t] = NULL;
    if (!rc) {
        built = hub_par_start(w.njobs, 32, 0, view_build_one, &w);
        /* meanwhile: the tables the rest of the commit adds nothing to
         * (sorted here: the other cores are building) */
        rc = hub_c360_flush_tables(c, 1u << T_DEDUPE | 1u << T_TIMELINE |
                                          1u << T_IDS,
                                   0);
    }
    for (size_t i = 0; i < w.njobs && !rc; i++) {
        hub_par_need(built, i);
        rc = view_store(c, &w.jobs[i]);
    }
    hub_par_end(built); /* before the jobs go: its calls write them */
    for (size_t t = 0; t < HUB_PAR_MAX; t++)
        if (w.rt[t])
            mdb_txn_abort(w.rt[t]);
    free(w.jobs);
    free(w.members);
    for (size_t t = 0; t < HUB_PAR_MAX; t++) {
        hub_buf_free(&w.scratch[t]);
        hub_buf_free(&w.pscratch[t]);
    }
    return rc;
}

