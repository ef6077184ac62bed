/*
 * hub360 - configuration tables of the customer-360 projection.
 */
#include "c360_config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "segment.h"

const char *const hub_profile_fields[] = {
    "name", "company", "title", "locale", "region", "lifecycle_stage",
    "lead_source", "owner", NULL,
};

static int check_region(const void *value, char *msg, size_t msglen) {
    const char *s = *(char *const *)value;
    if (hub_phone_region(s) < 0) {
        snprintf(msg, msglen,
                 "unknown region \"%s\" (ISO 3166-1 alpha-2 codes such as "
                 "CN, US, GB, DE, JP, SG)",
                 s);
        return -1;
    }
    return 0;
}

static int check_kinds(const void *value, char *msg, size_t msglen) {
    const hub_strlist_t *l = value;
    for (size_t i = 0; i < l->n; i++) {
        if (hub_ident_kind_parse(l->v[i], strlen(l->v[i])) < 0) {
            snprintf(msg, msglen,
                     "unknown identity kind \"%s\" (item %zu; kinds: email, "
                     "phone, crm_contact, crm_lead, crm_account, "
                     "erp_customer, social_handle, wechat_openid, "
                     "wechat_unionid, external)",
                     l->v[i], i);
            return -1;
        }
    }
    return 0;
}

static int check_patterns(const void *value, char *msg, size_t msglen) {
    const hub_strlist_t *l = value;
    for (size_t i = 0; i < l->n; i++) {
        regex_t re;
        int rc = regcomp(&re, l->v[i], REG_EXTENDED | REG_NOSUB | REG_ICASE);
        if (rc) {
            char why[128];
            regerror(rc, &re, why, sizeof why);
            snprintf(msg, msglen, "item %zu, \"%s\": %s", i, l->v[i], why);
            return -1;
        }
        regfree(&re);
    }
    return 0;
}

int hub_segments_check(const void *value, char *msg, size_t msglen) {
    const hub_strmap_t *m = value;
    for (size_t i = 0; i < m->n; i++) {
        char why[256];
        hub_segment_t *s = NULL;
        if (hub_segment_compile(m->vals[i], &s, why, sizeof why)) {
            snprintf(msg, msglen, "%s: %s", m->keys[i], why);
            return -1;
        }
        hub_segment_free(s);
    }
    return 0;
}

static int check_rules(const void *value, char *msg, size_t msglen) {
    const hub_strmap_t *m = value;
    for (size_t i = 0; i < m->n; i++) {
        int known = 0;
        for (size_t k = 0; hub_profile_fields[k]; k++)
            known |= strcmp(hub_profile_fields[k], m->keys[i]) == 0;
        if (!known) {
            snprintf(msg, msglen,
                     "%s: not a profile field (name, company, title, locale, "
                     "region, lifecycle_stage, lead_source, owner)",
                     m->keys[i]);
            return -1;
        }
        const char *r = m->vals[i];
        if (strcmp(r, "most_recent") != 0 &&
            strncmp(r, "source_priority:", 16) != 0) {
            snprintf(msg, msglen,
                     "%s: expected \"most_recent\" or \"source_priority: "
                     "SOURCE, SOURCE...\", got \"%s\"",
                     m->keys[i], r);
            return -1;
        }
    }
    return 0;
}

#define I hub_identity_config_t
const hub_cfg_entry_t hub_identity_config_map[] = {
    HUB_CFG(HUB_CFG_STR, "default_region", "CN", I, default_region,
            "Region (ISO 3166-1 alpha-2) of phone numbers written without a "
            "country code.",
            .check = check_region),
    HUB_CFG(HUB_CFG_STRLIST, "link_kinds",
            "[email, phone, crm_contact, erp_customer, wechat_unionid, "
            "wechat_openid, social_handle]",
            I, link_kinds,
            "Identity kinds that link entities into one customer; other "
            "identities are kept but link nothing.",
            .check = check_kinds),
    HUB_CFG(HUB_CFG_STRLIST, "blocklist", "[\"^info@\", \"^0+$\"]", I,
            blocklist,
            "Extended regular expressions (case-insensitive) of values that "
            "never link, tried on the normalized and the raw value: shared "
            "mailboxes, placeholder phones.",
            .check = check_patterns),
    HUB_CFG(HUB_CFG_INT, "max_entities", "500", I, max_entities,
            "Most source entities one customer may have; a merge past it is "
            "refused and counted.",
            .min = 1, .max = 1000000),
    {0},
};
#undef I

const hub_cfg_entry_t hub_profile_config_map[] = {
    HUB_CFG(HUB_CFG_STRMAP, "rules", NULL, hub_profile_config_t, rules,
            "Reconciliation rule per profile field: \"most_recent\" (the "
            "default) or \"source_priority: SOURCE, SOURCE...\" (the first "
            "listed source that has a value; then the most recent).",
            .check = check_rules),
    HUB_CFG(HUB_CFG_BOOL, "ignore_empty", "true", hub_profile_config_t,
            ignore_empty,
            "Skip empty values when reconciling, so a source that clears a "
            "field does not hide another's value."),
    {0},
};

#define P hub_projector_config_t
const hub_cfg_entry_t hub_projector_config_map[] = {
    HUB_CFG(HUB_CFG_STR, "group_id", "hub360-projector", P, group_id,
            "Kafka consumer group (offsets live in LMDB; the group is for "
            "lag monitoring). Each replica needs its own."),
    HUB_CFG(HUB_CFG_INT, "batch_events", "20000", P, batch_events,
            "Most events applied in one LMDB transaction. Bigger batches "
            "catch up faster (a customer touched twice is written once) "
            "and take more memory while they do: about 10 KiB per event "
            "of the batch at the peak. The consumer prefetches two "
            "batches of events (at least 40,000, up to 64 MiB).",
            .min = 1, .max = 1000000),
    HUB_CFG(HUB_CFG_DURATION, "batch_time", "200ms", P, batch_ms,
            "Longest a batch waits to fill before it is applied."),
    HUB_CFG(HUB_CFG_DURATION, "dedupe_window", "7d", P, dedupe_window_ms,
            "How long event ids are remembered to drop duplicates."),
    HUB_CFG(HUB_CFG_SIZE, "map_size", "16GiB", P, map_size,
            "LMDB map size: the most the store may grow to (address space, "
            "not memory)."),
    HUB_CFG(HUB_CFG_BOOL, "sync", "true", P, sync,
            "fsync every commit; false trades durability on power loss for "
            "speed."),
    HUB_CFG(HUB_CFG_BOOL, "writemap", "false", P, writemap,
            "Write the store through a writable memory map (LMDB "
            "MDB_WRITEMAP): faster commits and less memory, but the file "
            "is as big as map_size (sparse) and a full disk crashes the "
            "projector (SIGBUS) instead of failing the batch. The pages "
            "past the data are faulted in ahead of the writer; with sync "
            "false, up to 256 MiB of them get disk space before use."),
    {0},
};
#undef P
