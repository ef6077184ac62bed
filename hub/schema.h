/*
 * hub360 - Avro schemas: parsing, composition from one-record files, and
 * compatibility checks.
 *
 * A parsed schema is a tree of hub_snode_t that keeps what avro-c drops:
 * logical types (timestamp-millis, uuid), field defaults and the custom
 * "event_type" attribute of payload records. The same text is also parsed
 * by avro-c, whose values, binary encoding and resolver the codec uses.
 * Recursive types are rejected: no event needs one, and every walk over
 * a schema can then be a plain recursion.
 */
#ifndef HUB_SCHEMA_H
#define HUB_SCHEMA_H

#include <avro.h>
#include <jansson.h>
#include <stddef.h>

#include "buf.h"

typedef enum hub_stype {
    HUB_S_NULL,
    HUB_S_BOOLEAN,
    HUB_S_INT,
    HUB_S_LONG,
    HUB_S_FLOAT,
    HUB_S_DOUBLE,
    HUB_S_BYTES,
    HUB_S_STRING,
    HUB_S_RECORD,
    HUB_S_ENUM,
    HUB_S_ARRAY,
    HUB_S_MAP,
    HUB_S_UNION,
    HUB_S_FIXED,
} hub_stype;

typedef enum hub_slogical {
    HUB_L_NONE,
    HUB_L_TIMESTAMP_MILLIS,
    HUB_L_UUID,
} hub_slogical;

typedef struct hub_snode hub_snode_t;

typedef struct hub_sfield {
    const char *name;
    hub_snode_t *type;
    const json_t *def; /* the default in Avro's JSON encoding, or NULL */
} hub_sfield_t;

struct hub_snode {
    hub_stype type;
    hub_slogical logical;
    const char *fullname;   /* named types: "hub360.crm.LeadCreated" */
    const char *event_type; /* payload records: "crm.lead.created" */
    hub_sfield_t *fields;   /* record */
    size_t nfields;
    const char **symbols;   /* enum */
    size_t nsymbols;
    hub_snode_t *items;     /* array items, map values */
    hub_snode_t **branches; /* union */
    size_t nbranches;
    size_t fixed_size;
};

typedef struct hub_schema hub_schema_t;

/*
 * Resolves a name the text refers to but does not define (used by
 * `schemas check` so a one-record file may refer to hub360.Identity).
 * Returns the JSON definition (borrowed) or NULL.
 */
typedef const json_t *(*hub_schema_resolve_fn)(const char *fullname,
                                               void *opaque);

/*
 * Parses schema JSON text. On success *out owns the tree, the compact
 * text (hub_schema_text) and the avro-c schema and value class. Errors
 * (HUB_ESCHEMA) name the JSON path at fault. resolve may be NULL.
 */
int hub_schema_parse(const char *text, size_t len, hub_schema_resolve_fn resolve,
                     void *opaque, hub_schema_t **out, char *err,
                     size_t errlen);
void hub_schema_free(hub_schema_t *s);

const hub_snode_t *hub_schema_root(const hub_schema_t *s);
/* Compact, self-contained JSON text (what a registry serves). */
const char *hub_schema_text(const hub_schema_t *s);
avro_schema_t hub_schema_avro(const hub_schema_t *s);
/* avro-c generic value class for this schema (borrowed). */
avro_value_iface_t *hub_schema_iface(const hub_schema_t *s);
/* A named type defined in this schema, or NULL. */
const hub_snode_t *hub_schema_named(const hub_schema_t *s, const char *name);

/*
 * Composes a self-contained schema for `name` from a set of definitions
 * (one JSON object per named type, keyed by full name): every reference
 * to a type not yet defined in the output is replaced by its definition,
 * depth first, the way a registry expects a schema without references.
 * Returns a new reference, or NULL with a message in err.
 */
json_t *hub_schema_compose(const json_t *defs, const char *name, char *err,
                           size_t errlen);

/* Full name a definition declares ("namespace" + "name"), into out. */
int hub_schema_def_name(const json_t *def, char *out, size_t outlen);

/* Compatibility report: one line per problem, "Type.field: reason". */
typedef struct hub_compat {
    hub_buf_t lines;
    int problems;
    const char *writer; /* how messages name the two sides; NULL gives */
    const char *reader; /* "the writer" and "the reader" */
} hub_compat_t;

/*
 * Checks that data written with `writer` can be read with `reader` per
 * the Avro resolution rules (promotions, unions, enum symbols, fields
 * added with and without defaults) and appends each problem to report.
 * Returns the number of problems found by this call.
 */
int hub_schema_check_readable(const hub_snode_t *writer,
                              const hub_snode_t *reader, hub_compat_t *report);

/*
 * Writes into *text (malloc'd) the reader's schema without the record
 * fields that the writer's records of the same name lack; the codec
 * resolves against it because avro-c cannot fill reader defaults.
 */
int hub_schema_prune(const hub_schema_t *reader, const hub_schema_t *writer,
                     char **text);

/* Canonical JSON text of a json value; compact, keys in insertion order. */
char *hub_json_compact(const json_t *v);

#endif
