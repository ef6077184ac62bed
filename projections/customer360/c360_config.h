/*
 * hub360 - the customer-360 projection's configuration: identity rules,
 * profile reconciliation, segments and the projector's batching and store.
 */
#ifndef HUB_C360_CONFIG_H
#define HUB_C360_CONFIG_H

#include <stdint.h>

#include "cfgmap.h"
#include "identity.h"

typedef struct hub_profile_config {
    hub_strmap_t rules; /* field -> "most_recent" | "source_priority: a, b" */
    int ignore_empty;
} hub_profile_config_t;

typedef struct hub_projector_config {
    char *group_id;
    long batch_events;
    int64_t batch_ms;
    int64_t dedupe_window_ms;
    int64_t map_size;
    int sync;
    int writemap;
} hub_projector_config_t;

extern const hub_cfg_entry_t hub_profile_config_map[];
extern const hub_cfg_entry_t hub_projector_config_map[];

/* Checks a whole `segments` map (each rule compiles). */
int hub_segments_check(const void *value, char *msg, size_t msglen);

/* The profile fields a rule may name, NULL-terminated. */
extern const char *const hub_profile_fields[];

#endif
