/*
 * hub360 - identity normalization and the rules that decide which
 * identities link entities into one customer.
 *
 * Every identity becomes a key "<kind>:<value>" with the value normalized:
 * e-mail trimmed and lower-cased; phone in E.164 using a default region
 * for national numbers; social handles "platform:handle" lower-cased; ids
 * (crm_contact, crm_lead, crm_account, erp_customer, external) kept as
 * given but namespaced by source system ("hubspot:1246978"); WeChat ids
 * trimmed, case kept. What cannot be an identity of its kind is rejected.
 */
#ifndef HUB_C360_IDENTITY_H
#define HUB_C360_IDENTITY_H

#include <regex.h>
#include <stddef.h>

#include "cfgmap.h"

/* The identity kinds, in the order of hub360.IdentityKind's symbols. */
typedef enum hub_ident_kind {
    HUB_ID_EMAIL,
    HUB_ID_PHONE,
    HUB_ID_CRM_CONTACT,
    HUB_ID_CRM_LEAD,
    HUB_ID_CRM_ACCOUNT,
    HUB_ID_ERP_CUSTOMER,
    HUB_ID_SOCIAL_HANDLE,
    HUB_ID_WECHAT_OPENID,
    HUB_ID_WECHAT_UNIONID,
    HUB_ID_EXTERNAL,
    HUB_ID_NKINDS,
} hub_ident_kind;

/* "email", "phone", ... ; NULL for an unknown kind. */
const char *hub_ident_kind_name(int kind);
int hub_ident_kind_parse(const char *name, size_t len);

/* The identity section of the configuration. */
typedef struct hub_identity_config {
    char *default_region;     /* ISO 3166-1 alpha-2, e.g. "CN" */
    hub_strlist_t link_kinds; /* kinds whose identities link entities */
    hub_strlist_t blocklist;  /* extended regexes, case-insensitive */
    long max_entities;        /* largest customer a merge may make */
} hub_identity_config_t;

extern const hub_cfg_entry_t hub_identity_config_map[];

/* Compiled rules. */
typedef struct hub_ident_rules {
    int region;              /* index in the region table */
    int links[HUB_ID_NKINDS];
    regex_t block;           /* the blocklist's patterns as one */
    int has_block;
    long max_entities;
} hub_ident_rules_t;

/* Compiles cfg; errors (bad region, kind or regex) go to err. */
int hub_ident_rules_init(hub_ident_rules_t *r, const hub_identity_config_t *cfg,
                         char *err, size_t errlen);
void hub_ident_rules_free(hub_ident_rules_t *r);

/*
 * Normalizes one identity of an event from `system` into out (a key
 * "<kind>:<value>", NUL-terminated, at most outlen bytes). Returns the
 * length, or -1 when the value cannot be an identity of its kind.
 */
int hub_ident_normalize(const hub_ident_rules_t *r, int kind,
                        const char *value, size_t len, const char *system,
                        char *out, size_t outlen);

/* 1 when a normalized key (and its raw value) may link entities: its kind
 * links and no blocklist pattern matches. */
int hub_ident_links(const hub_ident_rules_t *r, int kind, const char *key,
                    const char *raw, size_t rawlen);

/* Phone normalization on its own (exposed for tests and the API, which
 * normalizes lookups the same way). region is a table index. */
int hub_phone_e164(const char *raw, size_t len, int region, char *out,
                   size_t outlen);
/* Index of a region code ("CN") in the table, or -1. */
int hub_phone_region(const char *code);

#endif
