/*
 * hub360 - the event codec: canonical JSON <-> Confluent-framed Avro.
 *
 * Encoding validates an event against hub360.Envelope (plus what a schema
 * cannot say: a known type, and a source kind that matches it), frames it
 * as 0x00, a 4-byte big-endian schema id and the Avro binary, and derives
 * its topic and key. Decoding reads the schema id, validates the bytes,
 * resolves the writer's schema against the newest Envelope (so events
 * written with older versions decode) and yields an avro-c value.
 *
 * A codec is not thread-safe: use one per thread. The catalogue it
 * borrows may be shared.
 */
#ifndef HUB_CODEC_H
#define HUB_CODEC_H

#include <avro.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "catalog.h"

typedef enum hub_topic_kind {
    HUB_TOPIC_CRM,
    HUB_TOPIC_ERP,
    HUB_TOPIC_SCRM,
    HUB_TOPIC_CONTROL,
    HUB_TOPIC_COUNT,
} hub_topic_kind;

/* "crm", "erp", "scrm", "control": the topic is prefix + name + ".events". */
const char *hub_topic_kind_name(hub_topic_kind kind);

/* The topic an event type goes to: by its "crm.", "erp." or "scrm."
 * prefix; any other type (customer.forget, identity.link) is a control
 * event. */
hub_topic_kind hub_topic_of_type(const char *type);

/* Envelope fields, in schema order (the codec checks the order). */
enum {
    HUB_ENV_EVENT_ID,
    HUB_ENV_TYPE,
    HUB_ENV_OCCURRED_AT,
    HUB_ENV_INGESTED_AT,
    HUB_ENV_SOURCE,
    HUB_ENV_IDENTITIES,
    HUB_ENV_PAYLOAD,
    HUB_ENV_TRACE_ID,
    HUB_ENV_SEQUENCE,
    HUB_ENV_NFIELDS,
};

typedef struct hub_event_type {
    const char *type;           /* "crm.lead.created" */
    const hub_snode_t *payload; /* its payload record */
    int branch;                 /* index in the payload union */
    hub_topic_kind topic;
} hub_event_type_t;

typedef struct hub_encoded {
    hub_buf_t value;            /* framed Avro */
    hub_buf_t key;              /* the Kafka key */
    hub_topic_kind topic;
    const hub_event_type_t *type;
} hub_encoded_t;

typedef struct hub_codec hub_codec_t;

/*
 * Creates a codec over cat (borrowed; must outlive the codec). The topic
 * prefix names registry subjects ("<prefix>crm.events-value").
 */
int hub_codec_new(hub_catalog_t *cat, const char *topic_prefix,
                  hub_codec_t **out, char *err, size_t errlen);
void hub_codec_free(hub_codec_t *c);

/* Every event type, in payload-union order. */
const hub_event_type_t *hub_codec_types(const hub_codec_t *c, size_t *n);
const hub_event_type_t *hub_codec_type(const hub_codec_t *c,
                                       const char *type);
/* The Envelope schema values are decoded into. */
const hub_schema_t *hub_codec_reader(const hub_codec_t *c);

/*
 * Validates and encodes one event (a JSON object in canonical form) into
 * out (its buffers are reset, not freed). HUB_EINVAL with a message that
 * names the JSON path: `payload.amount: expected integer, got string
 * "12.5"`. HUB_EHTTP/HUB_ESCHEMA when a registry must be asked and fails.
 */
int hub_codec_encode(hub_codec_t *c, const json_t *event, hub_encoded_t *out,
                     char *err, size_t errlen);
/* Parses one JSON text, naming invalid UTF-8 (by byte offset) and
 * invalid JSON (by column) precisely. *out is a new reference. */
int hub_codec_parse_text(const char *text, size_t len, json_t **out,
                         char *err, size_t errlen);
/* Same as hub_codec_encode, from JSON text (one event). Invalid JSON or UTF-8 is HUB_EINVAL. */
int hub_codec_encode_text(hub_codec_t *c, const char *text, size_t len,
                          hub_encoded_t *out, char *err, size_t errlen);
void hub_encoded_free(hub_encoded_t *e);

/*
 * Decodes a framed message. *out points into the codec and stays valid
 * until the next decode. HUB_EDECODE for bad framing or bytes, HUB_ENOENT
 * for an unknown schema id, HUB_ESCHEMA when the writer's schema cannot
 * be read as an Envelope.
 */
int hub_codec_decode(hub_codec_t *c, const void *buf, size_t len,
                     avro_value_t **out, char *err, size_t errlen);

/*
 * The Avro binary of a framed Envelope in the newest (reader) schema, for
 * readers that walk the bytes in place (hub_arec_t): the message's own
 * bytes when it was written with that schema, else the decoded and
 * re-encoded event in a buffer of the codec (valid until the next call).
 * Validates the bytes; errors as hub_codec_decode.
 */
int hub_codec_envelope_bytes(hub_codec_t *c, const void *buf, size_t len,
                             const uint8_t **avro, size_t *avro_len,
                             char *err, size_t errlen);
/*
 * The same for a message in the reader's own schema, once
 * hub_codec_envelope_bytes has seen that schema's id: 1 and the
 * message's own bytes when it is framed with that id and validates,
 * else 0 (hub_codec_envelope_bytes then says what it is). Only reads the
 * codec: threads may call it together, while none calls a function that
 * changes the codec.
 */
int hub_codec_envelope_own(const hub_codec_t *c, const void *buf, size_t len,
                           const uint8_t **avro, size_t *avro_len);

/* Appends the canonical JSON of a decoded Envelope to out. */
int hub_codec_to_json(hub_codec_t *c, const avro_value_t *event,
                      hub_buf_t *out);

/*
 * Renders any framed message of the catalogue as canonical JSON: an
 * Envelope through the resolving decoder, any other record (a
 * Customer360 on the changelog) with its writer's schema.
 */
int hub_codec_render(hub_codec_t *c, const void *buf, size_t len,
                     hub_buf_t *out, char *err, size_t errlen);

/* The event type of a decoded Envelope (via its payload branch). */
const hub_event_type_t *hub_codec_event_type(hub_codec_t *c,
                                             const avro_value_t *event);

#endif
