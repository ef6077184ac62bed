/*
 * hub360 - what the customer-360 projection's files share: the tables,
 * the batch state and the helpers over LMDB. Not a public header.
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
#include "store.h"
#include "view.h"

/* The tables (LMDB named databases) of the store; see README.md. */
enum {
    T_META,       /* string -> value: cluster_id, seq, published_seq, ... */
    T_OFFSETS,    /* cluster \0 topic \0 be32 partition -> be64 next offset */
    T_DEDUPE,     /* event_id (16) -> be64 wall-clock ms first seen */
    T_ENTITIES,   /* entity key -> packed entity state */
    T_IDENT,      /* identity key -> entity keys (dupsort) */
    T_MEMBER,     /* entity key -> anchor entity key */
    T_MEMBERS,    /* anchor entity key -> member entity keys (dupsort) */
    T_VIEWS,      /* customer id -> Customer360 Avro binary */
    T_IDS,        /* customer id of every entity -> entity key */
    T_TIMELINE,   /* entity key \0 be64 occurred_at + event_id -> JSON */
    T_CHANGES,    /* be64 seq -> customer id */
    T_CHANGE_SEQ, /* customer id -> be64 seq of its latest change */
    T_CTL,        /* "x:" identity -> stamp + excluded flag */
    T_FORGOTTEN,  /* SHA-256 of "e:"/"i:"/"c:" + key -> be64 occurred_at */
    T_PENDING,    /* customer id -> link entity keys waiting for it */
    T_COUNT,
};

extern const hub_table_def_t hub_c360_tables[T_COUNT];

/* A cached entity of the current batch. */
typedef struct cent {
    hub_ent_t *e;     /* NULL: no such entity */
    uint8_t dirty;    /* write at commit */
    uint8_t deleted;  /* forgotten in this batch */
} cent;

struct hub_c360 {
    const hub_config_t *cfg;
    hub_store_t *store;
    hub_codec_t *codec;
    hub_folder_t *folder;
    hub_ident_rules_t rules;
    int have_rules;
    hub_view_rules_t *vrules;
    /* envelope field indexes */
    const hub_snode_t *env;
    int f_event_id, f_type, f_occurred, f_source, f_identities, f_payload;
    int s_system, s_kind, s_etype, s_eid, i_kind, i_value;
    int ctl_identities, ctl_customer_ids, ctl_customer_id, ctl_identity;
    int b_link, b_unlink, b_forget; /* payload branches */
    /* reading */
    hub_catalog_t *cat;               /* readers: for Customer360 JSON */
    const hub_schema_t *c360_schema;
    avro_value_t c360_value;
    int have_value;
    /* batch */
    MDB_txn *txn;
    hub_hmap_t *ents;        /* entity key -> cent* */
    hub_hmap_t *graph_dirty; /* entity keys whose links changed */
    hub_hmap_t *cust_dirty;  /* anchor keys whose views may have changed */
    hub_hmap_t *seen;        /* event ids applied in this batch */
    hub_hmap_t *offsets;     /* topic \0 partition -> int64_t* next offset */
    hub_buf_t tmp, timeline, view, key;
    char cluster[256];
    hub_c360_stats_t stats;
    uint64_t seq;
    int64_t now_ms;
    int any_forgotten, any_pending;
};

/* Loads an entity into the batch cache (e NULL when it does not exist). */
int hub_c360_load(hub_c360_t *c, const char *key, size_t len, cent **out);
/* Creates it when missing; *created says so. */
int hub_c360_get_or_new(hub_c360_t *c, const char *key, size_t len,
                        cent **out, int *created);
void hub_c360_mark(hub_hmap_t *set, const char *key, size_t len);
/* The anchor of an entity (into out), 0 when it has one. */
int hub_c360_anchor(hub_c360_t *c, const char *key, size_t len,
                    hub_buf_t *out);
/* Adds (1) or removes (0) the index entry identity -> entity. */
int hub_c360_index(hub_c360_t *c, const char *ident, const char *ekey,
                   size_t ekeylen, int add);
/* Erases an entity and everything about it; marks it forgotten. */
int hub_c360_forget_entity(hub_c360_t *c, const char *key, size_t len,
                           int64_t at);
/* Identity graph and views, at the end of a batch (graph.c). */
int hub_c360_update_graph(hub_c360_t *c);
int hub_c360_update_views(hub_c360_t *c);
/* Every source entity connected to start over active edges, not through
 * link entities (what a forget erases: an operator's link joins views,
 * it does not widen an erasure), with this batch's events counted. */
int hub_c360_component(hub_c360_t *c, const char *start, hub_hmap_t *out);
/* Is identity key active (links now): not excluded, not saturated? */
int hub_c360_active(hub_c360_t *c, const char *ident);
/* Records a change of customer id in the change feed. */
int hub_c360_change(hub_c360_t *c, const char *cid);
/* Puts a forgotten marker (and reports whether one was there). */
int hub_c360_forgotten(hub_c360_t *c, char tag, const char *key, size_t len,
                       int64_t at, int set);

#endif
