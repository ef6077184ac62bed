/*
 * hub360 - folding one event into the state of its source entity.
 *
 * A table maps each customer-related event type to the role it gives
 * its entity, the payload fields it writes into which registers, the
 * structural references it carries (a shipment names its order) and a
 * hook for what a table cannot say. Events of other types (stock,
 * purchasing, production) are not about a customer; hub_fold_rule
 * returns NULL for them.
 */
#ifndef HUB_C360_FOLD_H
#define HUB_C360_FOLD_H

#include "avroread.h"
#include "buf.h"
#include "entity.h"
#include "identity.h"

typedef struct hub_fold_rule hub_fold_rule_t;
typedef struct hub_folder hub_folder_t;

/* Resolves the table against the envelope schema (field indices). */
int hub_folder_new(const hub_schema_t *envelope, hub_folder_t **out,
                   char *err, size_t errlen);
void hub_folder_free(hub_folder_t *f);

/* The rule for the payload branch `branch`, or NULL: not a customer event. */
const hub_fold_rule_t *hub_fold_rule(const hub_folder_t *f, int branch);

/* What an event tells its entity beyond the registers. */
typedef struct hub_fold_out {
    int changed;      /* the entity's state changed */
    int new_links;    /* it gained a linking identity (or an earlier one) */
} hub_fold_out_t;

/*
 * Folds the payload (an open record of the rule's type) into e, stamped
 * st, from source `system` (NUL-terminated). Adds the structural
 * references as internal identities. Appends a one-line JSON summary of
 * the event for the timeline to summary (when not NULL).
 */
int hub_fold_apply(const hub_folder_t *f, const hub_fold_rule_t *rule,
                   hub_ent_t *e, const hub_arec_t *payload,
                   const hub_stamp_t *st, const char *system,
                   hub_fold_out_t *out, hub_buf_t *summary);

/* The role bit of a rule (for tests and the timeline). */
uint32_t hub_fold_role(const hub_fold_rule_t *rule);

#endif
