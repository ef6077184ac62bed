/*
 * hub360 - the state of one source entity, folded from its events.
 *
 * Customer views are computed from the entities merged into a customer,
 * never updated in place, so every piece of entity state must be
 * independent of the order events arrive in:
 *  - registers are last-writer-wins on (occurred_at, sequence, event_id),
 *    or keep a minimum, and carry the stamp that set them;
 *  - accumulators only add (duplicates are kept out by the dedupe table);
 *  - identities form a set, each with the earliest stamp that named it;
 *  - roles (order, ticket, conversation...) form a set.
 * An entity's key is "<system>/<entity_type>/<entity_id>", the Kafka key.
 */
#ifndef HUB_C360_ENTITY_H
#define HUB_C360_ENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"

typedef struct hub_stamp {
    int64_t at;      /* occurred_at, UTC ms */
    uint8_t id[16];  /* event_id */
    int64_t seq;     /* the envelope's sequence, 0 when it has none */
} hub_stamp_t;

/* <0, 0, >0 like strcmp; (at, seq, id) lexicographically: the source's
 * own order breaks a tie of occurred_at (two changes of a row in one
 * transaction), the event id what is still tied. */
int hub_stamp_cmp(const hub_stamp_t *a, const hub_stamp_t *b);

/* A stamp as 32 bytes that sort as the stamps do (memcmp): be64 at and
 * seq with their sign bits flipped, then the event id. For keys and
 * fixed records of the store. */
#define HUB_STAMP_LEN 32
void hub_stamp_put(uint8_t out[HUB_STAMP_LEN], const hub_stamp_t *st);
void hub_stamp_get(const uint8_t in[HUB_STAMP_LEN], hub_stamp_t *st);

typedef enum hub_reg_slot {
    R_NAME, R_FIRST_NAME, R_LAST_NAME, R_COMPANY, R_TITLE, R_LOCALE,
    R_REGION, R_LIFECYCLE, R_LEAD_SOURCE, R_OWNER,
    R_STATUS,        /* opportunity: open|won|lost; ticket: its status */
    R_STAGE,
    R_AMOUNT,        /* minor units: order/invoice total, payment, ... */
    R_CURRENCY,
    R_START, R_END,  /* contract dates (ms) */
    R_PLACED_AT,     /* order placed (ms) */
    R_CANCELLED,     /* order cancelled: 1 */
    R_REFUND, R_REFUND_CURRENCY,
    R_ORDER_ID, R_INVOICE_ID, /* references within the same system */
    R_DELIVERED_AT,  /* shipment delivered (ms) */
    R_OPENED_AT,     /* ticket: earliest known opening (ms, minimum) */
    R_RESOLVED_AT,   /* ticket: resolved at (ms), 0 while open */
    R_NPS, R_CSAT,
    R_SENTIMENT,     /* latest sentiment (micro-units, -1e6..1e6) */
    R_PLATFORM, R_ACCOUNT, R_FOLLOWING, R_COMMUNITY, R_NICKNAME,
    HUB_NREGS,
} hub_reg_slot;

typedef enum hub_acc_slot {
    A_MSG_IN, A_MSG_OUT, A_SENT_SUM, A_SENT_N, HUB_NACCS,
} hub_acc_slot;

/* What an entity is, from the events applied to it (a bit set). */
enum {
    ROLE_LEAD = 1 << 0,        ROLE_CONTACT = 1 << 1,
    ROLE_ACCOUNT = 1 << 2,     ROLE_OPPORTUNITY = 1 << 3,
    ROLE_CONTRACT = 1 << 4,    ROLE_TICKET = 1 << 5,
    ROLE_FEEDBACK = 1 << 6,    ROLE_CAMPAIGN = 1 << 7,
    ROLE_ARTICLE = 1 << 8,     ROLE_CUSTOMER = 1 << 9,
    ROLE_ORDER = 1 << 10,      ROLE_SHIPMENT = 1 << 11,
    ROLE_RETURN = 1 << 12,     ROLE_INVOICE = 1 << 13,
    ROLE_PAYMENT = 1 << 14,    ROLE_MENTION = 1 << 15,
    ROLE_CONVERSATION = 1 << 16, ROLE_COMMENT = 1 << 17,
    ROLE_FOLLOWER = 1 << 18,   ROLE_SHARE = 1 << 19,
    ROLE_MEMBERSHIP = 1 << 20, ROLE_SOCIAL_PROFILE = 1 << 21,
    ROLE_LINK = 1 << 22,
};

typedef struct hub_reg {
    uint8_t set;     /* 0: never set */
    uint8_t is_str;
    hub_stamp_t st;
    int64_t i;
    char *s;         /* owned when is_str */
} hub_reg_t;

/* Identity flags. */
enum {
    HUB_EID_LINKS = 1,    /* may link (kind links, not blocklisted) */
    HUB_EID_INTERNAL = 2, /* a structural reference ("@order:..."), hidden */
};

typedef struct hub_eid {
    char *key;        /* "<kind>:<value>" or "@order:<system>/<id>" */
    uint8_t flags;
    int8_t kind;      /* hub_ident_kind, -1 for internal */
    hub_stamp_t st;   /* earliest event that named it */
} hub_eid_t;

typedef struct hub_ent {
    hub_arena_t *arena; /* where its memory comes from; NULL: malloc */
    char *key;
    uint32_t keylen;
    uint64_t comp;    /* the customer (graph component) it belongs to; 0:
                         none. Not packed: it is the record it is in */
    uint8_t cidh[10]; /* its customer id's hash, once has_cidh */
    uint8_t has_cidh;
    uint8_t kind;     /* hub360.SystemKind index (CRM, ERP, SCRM, HUB) */
    uint32_t roles;
    hub_stamp_t first, last;
    uint64_t events;  /* events folded in */
    /* the registers ever set, in the order they were: an entity sets a
     * few of the HUB_NREGS (a batch holds thousands of entities) */
    uint8_t regat[HUB_NREGS]; /* 1 + its index in reg; 0: never set */
    uint8_t nreg, capreg;
    uint8_t oom;      /* a register could not be stored: packing fails */
    hub_reg_t *reg;
    int64_t acc[HUB_NACCS];
    hub_eid_t *ids;
    uint32_t nids, capids;
} hub_ent_t;

/* Register slot of e; never set: one that reads as unset (set 0, i 0,
 * s NULL). Written only through hub_ent_set_* and hub_ent_min_int. */
extern const hub_reg_t hub_reg_unset;
static inline const hub_reg_t *hub_ent_reg(const hub_ent_t *e, int slot) {
    return e->regat[slot] ? &e->reg[e->regat[slot] - 1] : &hub_reg_unset;
}

/* A new, empty entity for key (copied), its memory from arena (NULL:
 * malloc; hub_ent_free then frees it). NULL on ENOMEM. */
hub_ent_t *hub_ent_new(hub_arena_t *arena, const char *key, size_t keylen);
void hub_ent_free(hub_ent_t *e);

/* The parts of the key: system, entity type, entity id. */
void hub_ent_parts(const hub_ent_t *e, const char **sys, size_t *syslen,
                   const char **type, size_t *typelen, const char **id,
                   size_t *idlen);

/* Register updates; return 1 when the state changed. */
int hub_ent_set_int(hub_ent_t *e, int slot, const hub_stamp_t *st, int64_t v);
int hub_ent_set_str(hub_ent_t *e, int slot, const hub_stamp_t *st,
                    const char *s, size_t len);
int hub_ent_min_int(hub_ent_t *e, int slot, const hub_stamp_t *st, int64_t v);
/* Adds an identity (or lowers its stamp). Returns 2 when new, 1 when its
 * stamp moved earlier, 0 when nothing changed, <0 on ENOMEM. */
int hub_ent_add_id(hub_ent_t *e, const char *key, size_t len, int kind,
                   uint8_t flags, const hub_stamp_t *st);
const hub_eid_t *hub_ent_find_id(const hub_ent_t *e, const char *key);
/* Removes an identity; returns 1 when it was there. */
int hub_ent_remove_id(hub_ent_t *e, const char *key);

/* Packs the entity into out (reset first); unpacks a packed value. */
int hub_ent_pack(const hub_ent_t *e, hub_buf_t *out);
int hub_ent_unpack(hub_arena_t *arena, const char *key, size_t keylen,
                   const void *buf, size_t len, hub_ent_t **out);

#endif
