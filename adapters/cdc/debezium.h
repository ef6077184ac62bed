/*
 * hub360 - reading Debezium's change events as Kafka Connect's
 * JsonConverter writes them.
 *
 * A record value comes in two shapes: with the schema
 * (`{"schema": {...}, "payload": {...}}`, schemas.enable=true, the
 * default) and without it (schemas.enable=false: the payload is the whole
 * value). Either way the change event is the payload: an object with
 * `op` (c, u, d, r; t and m from some connectors), `source` (where the
 * change happened), `before`, `after` and `ts_ms`. A null value is a
 * tombstone: the log-compaction marker Debezium writes after a delete.
 *
 * These functions are pure (no Kafka, no I/O) so the CDC adapter and
 * `hub360 map --via cdc` read records the same way, and tests can pin
 * every shape down.
 */
#ifndef HUB_DEBEZIUM_H
#define HUB_DEBEZIUM_H

#include <jansson.h>
#include <stddef.h>

/*
 * The payload of a JsonConverter envelope with a schema (an object of
 * exactly "schema" and "payload"), else value itself. Borrowed from
 * value; NULL only for a NULL value.
 */
const json_t *hub_debezium_unwrap(const json_t *value);

/*
 * The change event in a parsed record value (borrowed from value, valid
 * while value lives). 0 with *payload set to the event; 0 with *payload
 * NULL for a tombstone (value is JSON null, or an envelope whose payload
 * is null); HUB_EINVAL when value is not a change event, with err saying
 * why ("not a Debezium change event: no \"op\""). value may be NULL (a
 * tombstone).
 */
int hub_debezium_payload(const json_t *value, const json_t **payload,
                         char *err, size_t errlen);

/*
 * Parses a record value value[0..len) (value NULL: a Kafka null, a
 * tombstone) and finds its change event as hub_debezium_payload does.
 * On 0, *root is the parsed value (new reference, the caller decrefs;
 * NULL for a Kafka null) and *payload is borrowed from it (NULL for a
 * tombstone). HUB_EDECODE when the bytes are not JSON ("not JSON: invalid
 * JSON at column 3: ..."), HUB_EINVAL when the JSON is not a change
 * event; *root and *payload are NULL then.
 */
int hub_debezium_parse(const void *value, size_t len, json_t **root,
                       const json_t **payload, char *err, size_t errlen);

/*
 * Rewrites the rows of a change event (payload.before and .after, inside
 * root) into what a mapping can use, in place:
 * - a column Debezium could not read (`__debezium_unavailable_value`, an
 *   unchanged TOASTed value) is removed: unknown, not a value;
 * - with the record's schema (JsonConverter's schemas.enable), the
 *   logical types are decoded: Decimal and VariableScaleDecimal (base64
 *   two's complement with the scale in the schema) become decimal text
 *   ("-1234.50", exact); Date (days) "YYYY-MM-DD"; Timestamp (ms),
 *   MicroTimestamp and NanoTimestamp RFC 3339 UTC at their precision.
 *   A value that does not decode is left as it came, for the mapping or
 *   the schemas to name.
 * Without a schema nothing says which integers are dates: the mapping
 * gets them as they came.
 */
void hub_debezium_logical(json_t *root, json_t *payload);

/*
 * The table a change event is about, written into out (NUL-terminated):
 * "<db>.<table>" from payload.source (MySQL, MariaDB, SQL Server, Db2,
 * Oracle's and Informix' connectors name the database in `db`; MongoDB
 * names a collection in `collection`), except for PostgreSQL
 * (source.connector "postgresql"), which is "<schema>.<table>": its
 * connector captures one database, so the schema is what tells tables
 * apart (and what its topics are named by). A source without `db` falls
 * back to `schema` as well. 0; HUB_ENOENT when source names no table
 * (out is then ""); HUB_ETOOBIG when out is too small.
 */
int hub_debezium_resource(const json_t *payload, char *out, size_t outlen);

/*
 * A record key as the mapping sees it (a new reference; NULL only when
 * out of memory): null for a Kafka null; the key's payload when it is a
 * JsonConverter envelope with a schema; the parsed JSON otherwise; the
 * bytes as a string when they are not JSON (null when they are not
 * UTF-8 either).
 */
json_t *hub_debezium_key(const void *key, size_t len);

#endif
