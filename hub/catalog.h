/*
 * hub360 - the schema catalogue: which schema a schema id stands for.
 *
 * The local catalogue is built into the binary from schemas/ids.tsv and
 * schemas/released/<id>.avsc. An id, once released, always names the same
 * schema text: a changed record gets a new id (`hub360 schemas release`),
 * and the old one stays so data written with it still decodes.
 *
 * With schema_registry.url set, the hub registers the schemas it writes
 * under the Confluent subject names ("<topic>-value") and uses the
 * registry's ids; ids it does not know are fetched from the registry.
 *
 * Lookups are thread-safe. Schemas returned live as long as the catalogue.
 */
#ifndef HUB_CATALOG_H
#define HUB_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "schema.h"

typedef struct hub_catalog hub_catalog_t;

#define HUB_SCHEMA_ENVELOPE "hub360.Envelope"
#define HUB_SCHEMA_CUSTOMER360 "hub360.Customer360"

/*
 * Opens the built-in catalogue; registry may be NULL or have an empty url
 * for local ids only. Fails (HUB_ESCHEMA) only if the built-in files are
 * inconsistent, which the test suite rules out.
 */
int hub_catalog_open(const hub_registry_config_t *registry,
                     hub_catalog_t **out, char *err, size_t errlen);
void hub_catalog_free(hub_catalog_t *cat);

/* Local entries in id order: i in [0, count). */
size_t hub_catalog_count(const hub_catalog_t *cat);
void hub_catalog_at(const hub_catalog_t *cat, size_t i, int32_t *id,
                    const char **name, const hub_schema_t **schema);

/* The newest local version of a name (its local id in *id), or NULL. */
const hub_schema_t *hub_catalog_latest(const hub_catalog_t *cat,
                                       const char *name, int32_t *id);

/* Finds a local entry by "ID" or "NAME" (newest version). */
int hub_catalog_find(const hub_catalog_t *cat, const char *id_or_name,
                     int32_t *id, const hub_schema_t **schema);

/*
 * The schema for an id found in a message: local, or in registry mode the
 * registry's (fetched once, then cached). HUB_ENOENT for an unknown id.
 */
int hub_catalog_get(hub_catalog_t *cat, int32_t id, const hub_schema_t **out,
                    char *err, size_t errlen);

/*
 * The id to frame values of `name` with when producing to the topic whose
 * value subject is `subject`: the local id, or in registry mode the id
 * the registry gives when the newest schema is registered (once).
 */
int hub_catalog_writer_id(hub_catalog_t *cat, const char *name,
                          const char *subject, int32_t *id, char *err,
                          size_t errlen);

#endif
