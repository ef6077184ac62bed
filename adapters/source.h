/*
 * hub360 - sources: what the configuration says about one system that
 * feeds the hub, and turning its records into encoded events.
 *
 * A source names a system kind (crm|erp|scrm), a preset or a mapping
 * file, and the settings of each way its data may arrive: webhook (when
 * it has a webhook secret, or signature "none"), poll (when it has a
 * poll.url), cdc (when it has cdc.topics), import (always, through
 * `hub360 import`).
 *
 * hub_source_map() is the one path every adapter takes from a vendor
 * record to Kafka-ready bytes: run the mapping, complete each event's
 * envelope (event_id from the vendor's id, ingested_at, source system and
 * kind), validate and encode it. A record maps as a whole or not at all.
 */
#ifndef HUB_SOURCE_H
#define HUB_SOURCE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "codec.h"
#include "config.h"
#include "mapping.h"
#include "signature.h"
#include "source_config.h"

/* ------------------------------------------------------------------ */
/* Presets                                                             */
/* ------------------------------------------------------------------ */

typedef struct hub_preset {
    const char *name;      /* "shopify" */
    const char *system;    /* the system kind it usually is */
    hub_sig_scheme signature;
    const char *desc;      /* one line, for `hub360 adapters --presets` */
    /* hmac presets: the vendor's header and digest encoding (NULL: the
     * generic X-Signature, hex) */
    const char *sig_header;
    const char *sig_encoding;
} hub_preset_t;

/* The built-in presets, terminated by a NULL name. */
extern const hub_preset_t hub_presets[];
const hub_preset_t *hub_preset_find(const char *name);

/* ------------------------------------------------------------------ */
/* Runtime                                                             */
/* ------------------------------------------------------------------ */

typedef struct hub_source hub_source_t;

/*
 * Compiles cfg's mapping (the preset or the file) for use with codec
 * (borrowed; one per thread, see codec.h, unless the caller serializes).
 * cfg is borrowed and must outlive the source.
 */
int hub_source_new(const hub_source_config_t *cfg, hub_codec_t *codec,
                   hub_source_t **out, char *err, size_t errlen);
/*
 * Same, with a codec of its own (from cat, borrowed; topics under
 * prefix) that the source frees: what each adapter's source needs.
 */
int hub_source_open(const hub_source_config_t *cfg, hub_catalog_t *cat,
                    const char *prefix, hub_source_t **out, char *err,
                    size_t errlen);
void hub_source_free(hub_source_t *s);

hub_mapping_t *hub_source_mapping(hub_source_t *s);
/* {"name": ..., "system": ...}: the $source of its mapping (borrowed). */
const json_t *hub_source_json(const hub_source_t *s);
/* The signature check this source's webhooks get (borrows cfg's
 * strings). HUB_ECONFIG when the source takes no webhooks. */
int hub_source_signature(const hub_source_t *s, hub_sig_config_t *out);

/* Encoded events of one record, ready to produce. */
typedef struct hub_mapped {
    hub_encoded_t *events;
    size_t n, cap;
} hub_mapped_t;

void hub_mapped_reset(hub_mapped_t *m); /* keeps the buffers */
void hub_mapped_free(hub_mapped_t *m);

/*
 * Maps one vendor record: runs `events` with $source and meta (borrowed;
 * its received_at is the events' ingested_at, now when absent), completes
 * and encodes every event and appends them to out. When `json_out` is not
 * NULL the completed canonical events are appended to it as well
 * (`hub360 map`). HUB_EINVAL with a message naming the event and the
 * field at fault ("event 2 (erp.order.placed): payload.total: expected
 * long, got string"); out is then left as it was before the call, so a
 * record maps whole or not at all.
 */
int hub_source_map(hub_source_t *s, const json_t *record, const json_t *meta,
                   hub_mapped_t *out, json_t *json_out, char *err,
                   size_t errlen);

/*
 * As hub_source_map, but an event that the schemas refuse does not fail
 * the record: it is left out, counted in *refused, and its error goes to
 * why ("event 2 (erp.order.placed): payload.total: ...", the first one
 * when several). The events that encode are appended to out. A mapping
 * that fails as a whole (its jq stops on an error) still fails the call.
 * For deliveries whose good events must not wait for a bad one (a
 * vendor's batch): the caller dead-letters what was refused.
 */
int hub_source_map_each(hub_source_t *s, const json_t *record,
                        const json_t *meta, hub_mapped_t *out,
                        size_t *refused, char *why, size_t whylen,
                        char *err, size_t errlen);

/*
 * Queues every event of m on its topic (cfg's prefix) with its key,
 * counted in acks. HUB_EAGAIN when the producer's queue stays full for
 * block_ms: events queued before it may still be delivered, which is
 * harmless, since a retry yields the same event ids.
 */
int hub_mapped_send(const hub_mapped_t *m, const hub_config_t *cfg,
                    hub_producer_t *p, hub_acks_t *acks, int64_t block_ms,
                    char *err, size_t errlen);

/*
 * Completes one event as the mapping emitted it, in place: event_id from
 * "id" (UUIDv5 of "<source>/<id>", removed), or a UUIDv7 when it has
 * none; ingested_at; source.system and source.kind; identities [] when
 * absent; numbers where the schema wants strings (entity_id, identity
 * values) and epoch milliseconds where it wants a time, as text.
 */
int hub_source_complete(const char *source, const char *system,
                        int64_t ingested_ms, json_t *event, char *err,
                        size_t errlen);

#endif
