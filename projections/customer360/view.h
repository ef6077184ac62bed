/*
 * hub360 - computing a customer-360 view from the entities merged into a
 * customer, and writing it as the Avro binary of hub360.Customer360.
 *
 * The view is a pure function of the member entities' states, which are
 * themselves independent of event order; every list in it is sorted, so
 * the same members always give the same bytes.
 */
#ifndef HUB_C360_VIEW_H
#define HUB_C360_VIEW_H

#include <stddef.h>

#include "buf.h"
#include "c360_config.h"
#include "entity.h"
#include "segment.h"

#define HUB_CUSTOMER_ID_LEN 20 /* "cus_" + 16 base32 characters */

/* The customer id derived from an entity key, into out (NUL-terminated). */
void hub_customer_id(const char *ekey, size_t len,
                     char out[HUB_CUSTOMER_ID_LEN + 1]);
/* The same for an entity, hashing its key only the first time. */
void hub_ent_cid(hub_ent_t *e, char out[HUB_CUSTOMER_ID_LEN + 1]);
/* Gives e its customer id from sha, the SHA-256 of its key computed
 * elsewhere (NULL: nothing). */
void hub_ent_set_cidh(hub_ent_t *e, const uint8_t *sha);

typedef struct hub_view_rules hub_view_rules_t;

/* Compiles the profile rules and segments of the configuration. */
int hub_view_rules_new(const hub_profile_config_t *profile,
                       const hub_strmap_t *segments, hub_view_rules_t **out,
                       char *err, size_t errlen);
void hub_view_rules_free(hub_view_rules_t *r);

/*
 * Writes the view of the customer anchored at members[anchor] (members
 * sorted by key) into out as Customer360 Avro binary (no framing).
 */
int hub_view_build(const hub_view_rules_t *rules, hub_ent_t *const *members,
                   size_t n, size_t anchor, hub_buf_t *out);

/* 1 for entities that stand for a person or could (they carry an
 * identity of their own), whose ids resolve as aliases. */
int hub_ent_alias_eligible(const hub_ent_t *e);

#endif
