/*
 * hub360 - Avro values <-> canonical JSON, binary validation, and schema
 * resolution on top of avro-c.
 *
 * The canonical JSON form: field names as in the schema; optional fields
 * omitted when null; unions without wrapping (a union of event records is
 * chosen by the event's type); enums as lower-case symbols; timestamp-
 * millis as RFC 3339 UTC strings; uuid strings checked.
 */
#ifndef HUB_AVROJSON_H
#define HUB_AVROJSON_H

#include <avro.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "schema.h"

typedef struct hub_avro_json_opts {
    /* Chooses among a union's event-record branches the one whose
     * "event_type" equals this (the envelope's `type`). */
    const char *event_type;
    /* Read Avro's own JSON encoding of defaults (timestamps as numbers,
     * enum symbols as written, a union default for its first branch)
     * instead of the canonical form. */
    int avro_defaults;
} hub_avro_json_opts_t;

/*
 * Converts JSON to an avro-c value of node's type (v must be of the
 * matching class). Errors (HUB_EINVAL) read like
 *   payload.amount: expected integer, got string "12.5"
 * with path as the prefix of every field path.
 */
int hub_avro_from_json(const hub_snode_t *node, const json_t *j,
                       avro_value_t *v, const char *path,
                       const hub_avro_json_opts_t *opts, char *err,
                       size_t errlen);

/* Appends the canonical JSON of v (of node's type) to out. */
int hub_avro_to_json(const hub_snode_t *node, const avro_value_t *v,
                     hub_buf_t *out);

/*
 * The same JSON straight from Avro binary: appends the canonical JSON of
 * the value of node's type at buf[*pos] and advances *pos past it, with
 * no avro-c value in between (the customer-360 readers render every view
 * they answer this way). HUB_EDECODE when the bytes run out or hold an
 * index out of range; out then holds part of the value.
 */
int hub_avro_bin_to_json(const hub_snode_t *node, const uint8_t *buf,
                         size_t len, size_t *pos, hub_buf_t *out);

/*
 * Checks that buf holds exactly one value of node's type in Avro binary:
 * every length within the buffer, union and enum indexes in range, strings
 * valid UTF-8, no trailing bytes. Run before avro-c reads untrusted bytes,
 * so a hostile length cannot make it allocate or loop. HUB_EDECODE with
 * the byte offset at fault.
 */
int hub_avro_validate(const hub_snode_t *node, const void *buf, size_t len,
                      char *err, size_t errlen);

typedef struct hub_avro_resolver hub_avro_resolver_t;

/*
 * Prepares reading data written with `writer` into values of `reader`
 * (both self-contained schemas that outlive the resolver). Fails with
 * HUB_ESCHEMA when the reader cannot read the writer's data.
 */
int hub_avro_resolver_new(const hub_schema_t *writer,
                          const hub_schema_t *reader,
                          hub_avro_resolver_t **out, char *err,
                          size_t errlen);
void hub_avro_resolver_free(hub_avro_resolver_t *r);

/*
 * Reads one value written with the writer's schema from buf into dest, a
 * generic value of the reader's class (reset first). Validates the bytes
 * first. HUB_EDECODE on bad bytes.
 */
int hub_avro_resolver_read(hub_avro_resolver_t *r, const void *buf,
                           size_t len, avro_value_t *dest, char *err,
                           size_t errlen);

#endif
