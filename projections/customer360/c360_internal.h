/*
 * hub360 - what the customer-360 projection's files share: the tables,
 * the batch state and the helpers over LMDB. Not a public header.
 *
 * c360.c     the store, batches and domain events
 * c360_decode.c  decoding a batch's events ahead, on the other cores
 * control.c  identity.link, identity.unlink and customer.forget
 * graph.c    customers (components of the identity graph)
 * graph_views.c  their views and the change feed, at commit
 * c360_read.c  reading views, the change feed, the digest
 */
#ifndef HUB_C360_INTERNAL_H
#define HUB_C360_INTERNAL_H

#include <lmdb.h>

#include "avroread.h"
#include "c360.h"
#include "entity.h"
#include "fold.h"
#include "hmap.h"
#include "identity.h"
#include "par.h"
#include "report.h"
#include "stock.h"
#include "store.h"
#include "uuid.h"
#include "view.h"

/* The tables (LMDB named databases) of the store; see README.md. */
enum {
    T_META,      /* string -> value: cluster_id, seq, next_comp, ... */
    T_OFFSETS,   /* cluster \0 topic \0 be32 partition -> be64 next offset */
    T_DEDUPE,    /* event_id (16) -> be64 wall-clock ms first seen */
    T_ENTITIES,  /* entity key -> be64 component */
    T_MEMBERS,   /* be64 component -> flags, view hash, anchor (graph.c);
                    be64 component + entity key -> packed entity state */
    T_IDENT,     /* identity key -> entity keys (dupsort) */
    T_VIEWS,     /* customer id -> Customer360 Avro binary */
    T_IDS,       /* customer id of every entity -> entity key */
    T_TIMELINE,  /* entity key \0 be64 occurred_at + event_id -> type and
                    the fold's summary (c360.c put_timeline) */
    T_CHANGES,   /* be64 seq -> customer id (append-only, pruned) */
    T_CTL,       /* "x:" identity -> stamp + excluded flag */
    T_FORGOTTEN, /* SHA-256 of "e:"/"i:"/"c:" + key -> be64 occurred_at */
    T_PENDING,   /* customer id -> link entity keys waiting for it */
    T_REPORT,    /* the reporting projection's tables (report.h) */
    T_COUNT = T_REPORT + HUB_REPORT_TABLES,
};

extern const hub_table_def_t hub_c360_tables[T_COUNT];

#define HUB_KIND_HUB 3   /* hub360.SystemKind HUB: link entities */
#define HUB_MAX_KEY 400  /* LMDB keys are at most 511 bytes */
#define HUB_TIMELINE_VERSION 1

/* A cached entity of the current batch. */
typedef struct cent {
    hub_ent_t *e;     /* NULL: no such entity */
    uint8_t dirty;    /* its component's record is written at commit */
    uint8_t moved;    /* its T_ENTITIES entry is written at commit */
    uint64_t stored;  /* the component its T_MEMBERS record is under; 0 */
    /* its record packed beside its customer's view (graph_views.c), in
     * c->vbuilt; NULL: packed when written */
    const uint8_t *packed;
    size_t packedlen;
} cent;

/* A cached component (customer) of the current batch, with its members
 * (in the entity cache). */
typedef struct comp {
    uint64_t id;
    uint8_t flags;    /* COMP_CAPPED */
    uint8_t dirty;
    char *anchor;     /* smallest non-link member key; NULL: none */
    uint64_t vhash;   /* hash of the view last written for the anchor */
    struct cent **m;  /* members, unordered */
    uint32_t nm;
    size_t capm;
} comp;

enum { COMP_CAPPED = 1 }; /* split by identity.max_entities */

/* Does the commit write member ce's record under k (hub_graph_flush)? */
static inline int hub_member_written(const cent *ce, const comp *k) {
    return ce->e && (ce->dirty || ce->moved || ce->stored != k->id);
}

struct hub_c360 {
    const hub_config_t *cfg;
    hub_store_t *store;
    hub_stock_t *stock;     /* the stock projection, same store and batch */
    hub_codec_t *codec;
    hub_folder_t *folder;
    hub_ident_rules_t rules;
    int have_rules;
    hub_view_rules_t *vrules;
    hub_report_t *report;   /* the daily figures (projections/metrics) */
    /* envelope and control payload field indexes */
    const hub_snode_t *env;
    int f_event_id, f_type, f_occurred, f_source, f_identities, f_payload;
    int f_sequence;
    int s_system, s_kind, s_etype, s_eid, i_kind, i_value;
    int ctl_identities, ctl_customer_ids, ctl_customer_id, ctl_identity;
    int b_link, b_unlink, b_forget; /* payload branches */
    /* reading */
    hub_catalog_t *cat;
    const hub_schema_t *c360_schema;
    avro_value_t c360_value;
    int have_value;
    /* the batch */
    MDB_txn *txn;
    hub_arena_t arena;      /* the batch's entities and their strings */
    /* the batch decoded ahead by hub_c360_prepare (c360.c), in the order
     * it is applied; thread t's strings in pre_arena[t] */
    struct hub_c360_decoded *pre;
    size_t npre, nextpre, cappre;
    hub_arena_t pre_arena[HUB_PAR_MAX];
    struct prep *prep;         /* the decoding going on (c360_decode.c) */
    struct hub_par *prep_job;  /* its threads; NULL: done */
    /* what the cores building the views made (views, packed members):
     * thread t's in vbuilt[t], until the batch ends */
    hub_arena_t vbuilt[HUB_PAR_MAX];
    /* writes deferred to the commit, sorted by key per table there (B-tree
     * inserts in key order touch each page once); see hub_c360_defer */
    struct deferred *defer;
    size_t ndefer, capdefer;
    hub_hmap_t *ents;       /* entity key -> cent* */
    cent **fresh;           /* entities created in this batch */
    size_t nfresh, capfresh;
    hub_hmap_t *comps;      /* be64 component -> comp* */
    hub_hmap_t *regraph;    /* entity keys whose customer must be regrouped */
    hub_hmap_t *cust_dirty; /* anchors whose views may have changed */
    hub_hmap_t *offsets;    /* topic \0 partition -> int64_t* next offset */
    hub_hmap_t *seen;       /* event ids recorded in this batch (their
                               T_DEDUPE puts are deferred to the commit) */
    int flushed;            /* deferred writes went in before the commit:
                               the T_ENTITIES answers looked up ahead no
                               longer hold */
    hub_buf_t tmp, timeline, view, key;
    /* the batch's changes, kept past its commit for the changelog */
    hub_c360_change_t *chg;
    size_t nchg, capchg;
    hub_buf_t chg_views;    /* their view bytes, back to back */
    char cluster[256];
    hub_c360_stats_t stats;
    uint64_t seq, next_comp;
    size_t dedupe_added;    /* event ids recorded in this batch */
    int64_t now_ms, clock_ms; /* clock_ms: a fixed clock, 0: the real one */
    int any_forgotten, any_pending, any_excluded; /* tables not empty */
};

static inline MDB_val hub_mval(const void *p, size_t n) {
    MDB_val v = {n, (void *)p};
    return v;
}
#define DBI(c, t) hub_store_dbi((c)->store, (t))

/* A write of key -> val to table at commit (both copied). Reads of the
 * batch do not see it: tables written this way are only read by control
 * events and forgets, which call hub_c360_flush_deferred first, and
 * T_DEDUPE, whose ids of the batch are also in c->seen. */
int hub_c360_defer(hub_c360_t *c, int table, const void *key, size_t klen,
                   const void *val, size_t vlen);
/* The same, val not copied: it must stay until the batch ends. */
int hub_c360_defer_ref(hub_c360_t *c, int table, const void *key,
                       size_t klen, const void *val, size_t vlen);
/* Writes the deferred puts now, each table in key order. */
int hub_c360_flush_deferred(hub_c360_t *c);
/* The same for the tables of mask only (bit t: table t; the others wait
 * for the next flush), sorted on every core when par, else on the
 * caller's alone. */
int hub_c360_flush_tables(hub_c360_t *c, unsigned mask, int par);

/* The Customer360 schema, loaded once, to render views (c360_read.c). */
int hub_c360_ensure_schema(hub_c360_t *c, char *err, size_t errlen);

/* Entities in the batch cache (e NULL when it does not exist). */
int hub_c360_load(hub_c360_t *c, const char *key, size_t len, cent **out);
/* The same, given what hub_c360_prepare found for the key in T_ENTITIES
 * (pre: PRE_ENT, PRE_ENT_HAS; 0: nothing, look it up). */
int hub_c360_load_known(hub_c360_t *c, const char *key, size_t len,
                        unsigned pre, uint64_t compid, cent **out);
/* Creates it when missing (and registers its id; it belongs to no
 * customer until linked or given one by hub_graph_new_entity); *created
 * says so. */
int hub_c360_get_or_new(hub_c360_t *c, const char *key, size_t len,
                        cent **out, int *created);
int hub_c360_get_or_new_known(hub_c360_t *c, const char *key, size_t len,
                              unsigned pre, uint64_t compid,
                              const uint8_t *sha, cent **out, int *created);
void hub_c360_mark(hub_hmap_t *set, const char *key, size_t len);
/* Adds (1) or removes (0) the index entry identity -> entity. */
int hub_c360_index(hub_c360_t *c, const char *ident, const char *ekey,
                   size_t ekeylen, int add);
/* Every entity that carries ident, into the set out. */
int hub_c360_carriers(hub_c360_t *c, const char *ident, hub_hmap_t *out);
/* Reads (set 0) or writes (set 1) a forgotten marker. */
int hub_c360_forgotten(hub_c360_t *c, char tag, const char *key, size_t len,
                       int64_t at, int set);

/* c360_decode.c */
/*
 * Applying a message is two steps: decoding it, which reads only the
 * message and the rules (the envelope, the entity key, the identities
 * normalized and whether each may link), and applying what was decoded
 * to the store. A batch given to hub_c360_prepare is decoded on every
 * core first; a message it did not decode (another writer schema, a
 * message that does not validate) is decoded by hub_c360_apply itself.
 */
enum { D_LATER, D_DEAD, D_LINK, D_UNLINK, D_FORGET, D_OTHER, D_DOMAIN };

typedef struct hub_c360_decoded {
    const void *value;   /* the message's bytes: which message it is */
    int what;            /* D_* */
    const char *error;   /* D_DEAD: why */
    hub_arec_t payload;
    hub_uuid_t id;
    hub_stamp_t st;
    const char *type;
    size_t typelen;
    const hub_fold_rule_t *rule;
    const char *system;  /* D_DOMAIN: the source system, */
    const char *ekey;    /* the entity key */
    size_t ekeylen;
    uint8_t ekey_sha[32]; /* its SHA-256 (the customer id's and the
                             report's key), when has_sha */
    uint8_t has_sha;
    hub_report_ahead_t report; /* the report's state of the entity, looked
                                  up ahead (found 0: not) */
    int kind;            /* the source kind */
    size_t nids, rejected;
    char **ids;          /* normalized identities, */
    int *kinds;          /* their kinds, */
    const char **raw;    /* the values as sent, */
    size_t *rawlen;
    int8_t *links;       /* whether each may link; -1: not known yet */
    /* looked up ahead by hub_c360_prepare in the store as the batch found
     * it (PRE_*; 0: not looked up); pre_comp: the entity's component */
    uint8_t pre;
    uint64_t pre_comp;
} hub_c360_decoded_t;

enum {
    PRE_DEDUPE = 1,  /* the event id was looked up in T_DEDUPE, */
    PRE_SEEN = 2,    /* and is there (an event seen in an earlier batch) */
    PRE_ENT = 4,     /* the entity key was looked up in T_ENTITIES, */
    PRE_ENT_HAS = 8, /* and is there, in component pre_comp */
};

/* The decoded form of message m: the one hub_c360_prepare made when m
 * is the next prepared message (waiting for it, or decoding it here, if
 * the other threads have not got to it yet), else decoded now into
 * *here. NULL with *rc 0: a dead letter, already in res; NULL with *rc
 * set: an error that must abort the batch. */
hub_c360_decoded_t *hub_c360_decoded_of(hub_c360_t *c,
                                        const hub_c360_msg_t *m,
                                        hub_c360_decoded_t *here,
                                        hub_c360_result_t *res, int *rc);
/* Stops the decoding ahead (messages not asked for yet are not decoded),
 * waits for the calls in progress and ends its read transactions: before
 * the batch commits or aborts (its arenas then go). */
void hub_c360_prepare_end(hub_c360_t *c);
/* Marks res a dead letter with the message; returns 0 (c360.c). */
int hub_c360_dead(hub_c360_result_t *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* control.c */
int hub_c360_apply_link(hub_c360_t *c, const hub_arec_t *p, int unlink,
                        const hub_stamp_t *st, hub_c360_result_t *res);
int hub_c360_apply_forget(hub_c360_t *c, const hub_arec_t *p,
                          const hub_stamp_t *st, hub_c360_result_t *res);
/* An arriving event names a forgotten entity or identity: erases what it
 * would have joined. Returns 1 when it did (the event is then ignored). */
int hub_c360_forget_arrival(hub_c360_t *c, const char *ekey, size_t len,
                            char *const *ids, const int *kinds, size_t nids,
                            int64_t at);
/* A new entity whose id a forget or a link named before it existed. */
int hub_c360_new_id_pending(hub_c360_t *c, const char *key, size_t len,
                            const char *cid, int *forgotten);

/* graph.c */
/* The anchor in a component header (alen 0: none); -1 if malformed. */
int hub_graph_record_anchor(const void *rec, size_t len, const char **anchor,
                            size_t *alen);
/* The entity is erased: its member record goes (forget). */
int hub_graph_member_gone(hub_c360_t *c, cent *ce, const char *key,
                          size_t len);
/* A component by id, loaded with its members; HUB_ENOENT. */
int hub_graph_comp(hub_c360_t *c, uint64_t id, comp **out);
/* A new entity: a customer of its own until something links it. */
int hub_graph_new_entity(hub_c360_t *c, cent *ce);
/* The entity gained the identity: indexes it and, when it links (links:
 * the kind links and no blocklist pattern matches), merges customers. */
int hub_graph_add_identity(hub_c360_t *c, cent *ce, const char *ident,
                           int links);
/* An identity's stamp moved earlier (matters to capped customers). */
int hub_graph_restamped(hub_c360_t *c, cent *ce);
/* Something removed edges around key: regroup its customer at commit. */
void hub_graph_regraph(hub_c360_t *c, const char *key, size_t len);
/* Every entity that carries the identity regroups at commit. */
int hub_graph_regraph_carriers(hub_c360_t *c, const char *ident);
/* The entity's state changed: its customer's view is recomputed. */
int hub_graph_touch(hub_c360_t *c, const char *key, size_t len);
/* The entity is being erased (forget): out of its customer. */
int hub_graph_remove(hub_c360_t *c, const char *key, size_t len);
/* Every source entity connected to start (not through links), into out. */
int hub_graph_component(hub_c360_t *c, const char *start, hub_hmap_t *out);
/* At commit: regroup, recompute the dirty views, record changes. */
int hub_graph_finish(hub_c360_t *c);

/* graph_views.c */
/* Recomputes the views of the customers marked dirty; writes those that
 * changed (and deletes those of customers gone), each with the next
 * change sequence number. */
int hub_graph_views(hub_c360_t *c);
/* Keeps the change feed to its last 1,000,000 entries. */
int hub_graph_prune_changes(hub_c360_t *c);
/* Writes the cached components back (at commit). */
int hub_graph_flush(hub_c360_t *c);
void hub_graph_clear(hub_c360_t *c);

#endif
