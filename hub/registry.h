/*
 * hub360 - a client for a Confluent-compatible Schema Registry (libcurl).
 *
 * Two calls are all the hub needs: register a schema under a subject
 * (POST /subjects/{subject}/versions, which returns the existing id when
 * the schema is already there) and fetch a schema by id
 * (GET /schemas/ids/{id}) to decode what other producers wrote.
 */
#ifndef HUB_REGISTRY_H
#define HUB_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Registers schema_text under subject; *id is the registry's id.
 * HUB_EHTTP (retriable) when the registry is unreachable or answers 5xx,
 * HUB_ESCHEMA when it rejects the schema (e.g. 409 incompatible). */
int hub_registry_register(const hub_registry_config_t *cfg,
                          const char *subject, const char *schema_text,
                          int32_t *id, char *err, size_t errlen);

/* Fetches the schema for id; *text is malloc'd (caller frees).
 * HUB_ENOENT when the registry does not know the id. */
int hub_registry_fetch(const hub_registry_config_t *cfg, int32_t id,
                       char **text, char *err, size_t errlen);

#endif
