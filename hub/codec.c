/*
 * hub360 - the event codec.
 */
#include "codec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avrojson.h"
#include "errors.h"
#include "json.h"

#define HEADER_LEN 5

static const char *const topic_names[HUB_TOPIC_COUNT] = {"crm", "erp", "scrm",
                                                          "control"};
/* The source kind each topic's events must come from. */
static const char *const topic_source_kind[HUB_TOPIC_COUNT] = {"crm", "erp",
                                                                "scrm", "hub"};

static const char *const env_fields[HUB_ENV_NFIELDS] = {
    "event_id", "type", "occurred_at", "ingested_at",
    "source",   "identities", "payload", "trace_id", "sequence"};

typedef struct resolver_slot {
    int32_t id;
    hub_avro_resolver_t *r;
} resolver_slot;

struct hub_codec {
    hub_catalog_t *cat;
    const hub_schema_t *reader;
    const hub_snode_t *root;
    const hub_snode_t *payload_union;
    hub_event_type_t *types;
    size_t ntypes;
    avro_value_t enc, dec;
    avro_writer_t writer;
    resolver_slot *resolvers;
    size_t nresolvers, capresolvers;
    int32_t writer_ids[HUB_TOPIC_COUNT]; /* 0 until first needed */
    hub_buf_t scratch;   /* re-encoded events of older schema versions */
    int32_t same_id;     /* a writer id known to equal the reader, or 0;
                            read by the _own calls on other threads while
                            a caller of the others may set it: atomic */
    char subjects[HUB_TOPIC_COUNT][256];
};

const char *hub_topic_kind_name(hub_topic_kind kind) {
    return kind < HUB_TOPIC_COUNT ? topic_names[kind] : "?";
}

hub_topic_kind hub_topic_of_type(const char *type) {
    for (int k = 0; k < HUB_TOPIC_CONTROL; k++) {
        size_t n = strlen(topic_names[k]);
        if (strncmp(type, topic_names[k], n) == 0 && type[n] == '.')
            return (hub_topic_kind)k;
    }
    return HUB_TOPIC_CONTROL;
}

void hub_codec_free(hub_codec_t *c) {
    if (!c)
        return;
    if (c->enc.iface)
        avro_value_decref(&c->enc);
    if (c->dec.iface)
        avro_value_decref(&c->dec);
    if (c->writer)
        avro_writer_free(c->writer);
    for (size_t i = 0; i < c->nresolvers; i++)
        hub_avro_resolver_free(c->resolvers[i].r);
    free(c->resolvers);
    free(c->types);
    hub_buf_free(&c->scratch);
    free(c);
}

int hub_codec_new(hub_catalog_t *cat, const char *topic_prefix,
                  hub_codec_t **out, char *err, size_t errlen) {
    *out = NULL;
    hub_codec_t *c = calloc(1, sizeof *c);
    if (!c)
        return HUB_ENOMEM;
    c->cat = cat;
    int rc = 0;
    c->reader = hub_catalog_latest(cat, HUB_SCHEMA_ENVELOPE, NULL);
    if (!c->reader) {
        rc = hub_fail(err, errlen, HUB_ESCHEMA,
                      "the catalogue has no %s schema", HUB_SCHEMA_ENVELOPE);
        goto fail;
    }
    c->root = hub_schema_root(c->reader);
    if (c->root->type != HUB_S_RECORD || c->root->nfields < HUB_ENV_NFIELDS) {
        rc = hub_fail(err, errlen, HUB_ESCHEMA, "%s is not the envelope",
                      HUB_SCHEMA_ENVELOPE);
        goto fail;
    }
    for (int i = 0; i < HUB_ENV_NFIELDS; i++) {
        if (strcmp(c->root->fields[i].name, env_fields[i]) != 0) {
            rc = hub_fail(err, errlen, HUB_ESCHEMA,
                          "%s field %d is %s, expected %s",
                          HUB_SCHEMA_ENVELOPE, i, c->root->fields[i].name,
                          env_fields[i]);
            goto fail;
        }
    }
    c->payload_union = c->root->fields[HUB_ENV_PAYLOAD].type;
    if (c->payload_union->type != HUB_S_UNION) {
        rc = hub_fail(err, errlen, HUB_ESCHEMA, "payload is not a union");
        goto fail;
    }
    c->types = calloc(c->payload_union->nbranches, sizeof *c->types);
    if (!c->types) {
        rc = HUB_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < c->payload_union->nbranches; i++) {
        const hub_snode_t *b = c->payload_union->branches[i];
        if (!b->event_type) {
            rc = hub_fail(err, errlen, HUB_ESCHEMA,
                          "payload branch %s has no event_type",
                          b->fullname ? b->fullname : "?");
            goto fail;
        }
        c->types[c->ntypes++] = (hub_event_type_t){
            b->event_type, b, (int)i, hub_topic_of_type(b->event_type)};
    }
    for (int k = 0; k < HUB_TOPIC_COUNT; k++)
        snprintf(c->subjects[k], sizeof c->subjects[k], "%s%s.events-value",
                 topic_prefix, topic_names[k]);
    if (avro_generic_value_new(hub_schema_iface(c->reader), &c->enc) ||
        avro_generic_value_new(hub_schema_iface(c->reader), &c->dec) ||
        !(c->writer = avro_writer_memory("", 0))) {
        rc = HUB_ENOMEM;
        goto fail;
    }
    *out = c;
    return 0;
fail:
    hub_codec_free(c);
    return rc;
}

const hub_event_type_t *hub_codec_types(const hub_codec_t *c, size_t *n) {
    *n = c->ntypes;
    return c->types;
}

const hub_event_type_t *hub_codec_type(const hub_codec_t *c,
                                       const char *type) {
    for (size_t i = 0; i < c->ntypes; i++) {
        if (strcmp(c->types[i].type, type) == 0)
            return &c->types[i];
    }
    return NULL;
}

const hub_schema_t *hub_codec_reader(const hub_codec_t *c) {
    return c->reader;
}

void hub_encoded_free(hub_encoded_t *e) {
    hub_buf_free(&e->value);
    hub_buf_free(&e->key);
}

static int build_key(const json_t *event, hub_topic_kind topic,
                     hub_buf_t *key) {
    const json_t *src = json_object_get(event, "source");
    const char *sys = json_string_value(json_object_get(src, "system"));
    const char *et = json_string_value(json_object_get(src, "entity_type"));
    const char *id = json_string_value(json_object_get(src, "entity_id"));
    hub_buf_reset(key);
    if (topic == HUB_TOPIC_CONTROL)
        return hub_buf_puts(key, id);
    return hub_buf_printf(key, "%s/%s/%s", sys, et, id);
}

int hub_codec_encode(hub_codec_t *c, const json_t *event, hub_encoded_t *out,
                     char *err, size_t errlen) {
    char got[96];
    if (!json_is_object(event)) {
        hub_json_describe(event, got, sizeof got);
        return hub_fail(err, errlen, HUB_EINVAL,
                        "expected an event object, got %s", got);
    }
    const json_t *jt = json_object_get(event, "type");
    if (!jt)
        return hub_fail(err, errlen, HUB_EINVAL,
                        "type: missing required field");
    if (!json_is_string(jt)) {
        hub_json_describe(jt, got, sizeof got);
        return hub_fail(err, errlen, HUB_EINVAL,
                        "type: expected string, got %s", got);
    }
    const hub_event_type_t *t = hub_codec_type(c, json_string_value(jt));
    if (!t)
        return hub_fail(err, errlen, HUB_EINVAL,
                        "type: unknown event type \"%s\"",
                        json_string_value(jt));
    const char *kind = json_string_value(
        json_object_get(json_object_get(event, "source"), "kind"));
    if (kind && strcasecmp(kind, topic_source_kind[t->topic]) != 0 &&
        !(t->topic == HUB_TOPIC_CONTROL && strcasecmp(kind, "hub") == 0))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "source.kind: type %s needs source kind %s, got "
                        "\"%s\"",
                        t->type, topic_source_kind[t->topic], kind);

    avro_value_reset(&c->enc);
    hub_avro_json_opts_t opts = {.event_type = t->type};
    int rc = hub_avro_from_json(c->root, event, &c->enc, "", &opts, err,
                                errlen);
    if (rc)
        return rc;

    if (!c->writer_ids[t->topic]) {
        rc = hub_catalog_writer_id(c->cat, HUB_SCHEMA_ENVELOPE,
                                   c->subjects[t->topic],
                                   &c->writer_ids[t->topic], err, errlen);
        if (rc)
            return rc;
    }
    size_t size = 0;
    if (avro_value_sizeof(&c->enc, &size))
        return hub_fail(err, errlen, HUB_EINVAL, "avro-c: %s",
                        avro_strerror());
    hub_buf_reset(&out->value);
    if (hub_buf_reserve(&out->value, HEADER_LEN + size))
        return HUB_ENOMEM;
    uint32_t id = (uint32_t)c->writer_ids[t->topic];
    unsigned char *p = (unsigned char *)out->value.data;
    p[0] = 0;
    p[1] = (unsigned char)(id >> 24);
    p[2] = (unsigned char)(id >> 16);
    p[3] = (unsigned char)(id >> 8);
    p[4] = (unsigned char)id;
    avro_writer_memory_set_dest(c->writer, out->value.data + HEADER_LEN,
                                (int64_t)size);
    if (avro_value_write(c->writer, &c->enc))
        return hub_fail(err, errlen, HUB_EINVAL, "avro-c: %s",
                        avro_strerror());
    out->value.len = HEADER_LEN + size;
    out->value.data[out->value.len] = '\0';
    out->topic = t->topic;
    out->type = t;
    return build_key(event, t->topic, &out->key) ? HUB_ENOMEM : 0;
}

int hub_codec_parse_text(const char *text, size_t len, json_t **out,
                         char *err, size_t errlen) {
    long bad = hub_utf8_invalid_at(text, len);
    if (bad >= 0)
        return hub_fail(err, errlen, HUB_EINVAL,
                        "invalid UTF-8 at byte offset %ld", bad);
    json_error_t jerr;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*out)
        return hub_fail(err, errlen, HUB_EINVAL,
                        "invalid JSON at column %d: %s", jerr.column,
                        jerr.text);
    return 0;
}

int hub_codec_encode_text(hub_codec_t *c, const char *text, size_t len,
                          hub_encoded_t *out, char *err, size_t errlen) {
    json_t *event;
    int rc = hub_codec_parse_text(text, len, &event, err, errlen);
    if (rc)
        return rc;
    rc = hub_codec_encode(c, event, out, err, errlen);
    json_decref(event);
    return rc;
}

static hub_avro_resolver_t *find_resolver(hub_codec_t *c, int32_t id) {
    for (size_t i = 0; i < c->nresolvers; i++) {
        if (c->resolvers[i].id == id)
            return c->resolvers[i].r;
    }
    return NULL;
}

int hub_codec_decode(hub_codec_t *c, const void *buf, size_t len,
                     avro_value_t **out, char *err, size_t errlen) {
    const unsigned char *p = buf;
    if (len < HEADER_LEN)
        return hub_fail(err, errlen, HUB_EDECODE,
                        "message of %zu bytes is shorter than the 5-byte "
                        "schema header",
                        len);
    if (p[0] != 0)
        return hub_fail(err, errlen, HUB_EDECODE,
                        "not Confluent-framed: first byte is 0x%02x, "
                        "expected 0x00%s",
                        p[0], p[0] == '{' ? " (it looks like JSON)" : "");
    int32_t id = (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 8 | p[4]);
    hub_avro_resolver_t *r = find_resolver(c, id);
    if (!r) {
        const hub_schema_t *writer;
        int rc = hub_catalog_get(c->cat, id, &writer, err, errlen);
        if (rc)
            return rc;
        char rerr[512];
        rc = hub_avro_resolver_new(writer, c->reader, &r, rerr, sizeof rerr);
        if (rc)
            return hub_fail(err, errlen, rc, "schema id %d: %s", (int)id,
                            rerr);
        if (c->nresolvers == c->capresolvers) {
            size_t cap = c->capresolvers ? c->capresolvers * 2 : 4;
            resolver_slot *s = realloc(c->resolvers, cap * sizeof *s);
            if (!s) {
                hub_avro_resolver_free(r);
                return HUB_ENOMEM;
            }
            c->resolvers = s;
            c->capresolvers = cap;
        }
        c->resolvers[c->nresolvers++] = (resolver_slot){id, r};
    }
    char derr[400];
    int rc = hub_avro_resolver_read(r, p + HEADER_LEN, len - HEADER_LEN,
                                    &c->dec, derr, sizeof derr);
    if (rc)
        return hub_fail(err, errlen, rc, "schema id %d: %s", (int)id, derr);

    /* The type string and the payload branch must agree. */
    const hub_event_type_t *t = hub_codec_event_type(c, &c->dec);
    avro_value_t tv;
    const char *type = NULL;
    size_t tlen = 0;
    avro_value_get_by_index(&c->dec, HUB_ENV_TYPE, &tv, NULL);
    avro_value_get_string(&tv, &type, &tlen);
    if (!t || !type || strcmp(t->type, type) != 0)
        return hub_fail(err, errlen, HUB_EDECODE,
                        "type \"%s\" does not match its payload (%s)",
                        type ? type : "", t ? t->payload->fullname : "?");
    *out = &c->dec;
    return 0;
}

const hub_event_type_t *hub_codec_event_type(hub_codec_t *c,
                                             const avro_value_t *event) {
    avro_value_t pv;
    int d = -1;
    if (avro_value_get_by_index(event, HUB_ENV_PAYLOAD, &pv, NULL) ||
        avro_value_get_discriminant(&pv, &d) || d < 0 ||
        (size_t)d >= c->ntypes)
        return NULL;
    return &c->types[d];
}

int hub_codec_to_json(hub_codec_t *c, const avro_value_t *event,
                      hub_buf_t *out) {
    return hub_avro_to_json(c->root, event, out);
}

int hub_codec_render(hub_codec_t *c, const void *buf, size_t len,
                     hub_buf_t *out, char *err, size_t errlen) {
    const unsigned char *p = buf;
    const hub_schema_t *writer = NULL;
    if (len >= HEADER_LEN && p[0] == 0) {
        int32_t id = (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
                               (uint32_t)p[3] << 8 | p[4]);
        int rc = hub_catalog_get(c->cat, id, &writer, err, errlen);
        if (rc)
            return rc;
    }
    const hub_snode_t *root = writer ? hub_schema_root(writer) : NULL;
    if (!root || (root->fullname &&
                  strcmp(root->fullname, HUB_SCHEMA_ENVELOPE) == 0)) {
        avro_value_t *ev;
        int rc = hub_codec_decode(c, buf, len, &ev, err, errlen);
        return rc ? rc : hub_codec_to_json(c, ev, out);
    }
    /* Another record (e.g. Customer360): render it with its own schema. */
    int rc = hub_avro_validate(root, p + HEADER_LEN, len - HEADER_LEN, err,
                               errlen);
    if (rc)
        return rc;
    avro_value_t v;
    if (avro_generic_value_new(hub_schema_iface(writer), &v))
        return HUB_ENOMEM;
    avro_reader_t r = avro_reader_memory((const char *)p + HEADER_LEN,
                                         (int64_t)(len - HEADER_LEN));
    if (!r || avro_value_read(r, &v))
        rc = hub_fail(err, errlen, HUB_EDECODE, "avro-c: %s",
                      avro_strerror());
    else
        rc = hub_avro_to_json(root, &v, out);
    if (r)
        avro_reader_free(r);
    avro_value_decref(&v);
    return rc;
}

int hub_codec_envelope_own(const hub_codec_t *c, const void *buf, size_t len,
                           const uint8_t **avro, size_t *avro_len) {
    const unsigned char *p = buf;
    int32_t same = __atomic_load_n(&c->same_id, __ATOMIC_RELAXED);
    if (len < HEADER_LEN || p[0] != 0 || !same)
        return 0;
    int32_t id = (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 8 | p[4]);
    char verr[400];
    if (id != same ||
        hub_avro_validate(c->root, p + HEADER_LEN, len - HEADER_LEN, verr,
                          sizeof verr))
        return 0;
    *avro = p + HEADER_LEN;
    *avro_len = len - HEADER_LEN;
    return 1;
}

int hub_codec_envelope_bytes(hub_codec_t *c, const void *buf, size_t len,
                             const uint8_t **avro, size_t *avro_len,
                             char *err, size_t errlen) {
    const unsigned char *p = buf;
    if (len < HEADER_LEN || p[0] != 0) {
        avro_value_t *v; /* let the decoder name what is wrong */
        return hub_codec_decode(c, buf, len, &v, err, errlen);
    }
    int32_t id = (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 8 | p[4]);
    int32_t same = __atomic_load_n(&c->same_id, __ATOMIC_RELAXED);
    if (id != same) {
        const hub_schema_t *writer;
        int rc = hub_catalog_get(c->cat, id, &writer, err, errlen);
        if (rc)
            return rc;
        if (strcmp(hub_schema_text(writer), hub_schema_text(c->reader)) == 0)
            __atomic_store_n(&c->same_id, same = id, __ATOMIC_RELAXED);
    }
    if (id == same) {
        char verr[400];
        int rc = hub_avro_validate(c->root, p + HEADER_LEN, len - HEADER_LEN,
                                   verr, sizeof verr);
        if (rc)
            return hub_fail(err, errlen, rc, "schema id %d: %s", (int)id,
                            verr);
        *avro = p + HEADER_LEN;
        *avro_len = len - HEADER_LEN;
        return 0;
    }
    /* an older (or other) writer schema: resolve, then re-encode */
    avro_value_t *v;
    int rc = hub_codec_decode(c, buf, len, &v, err, errlen);
    if (rc)
        return rc;
    size_t size = 0;
    if (avro_value_sizeof(v, &size))
        return hub_fail(err, errlen, HUB_EDECODE, "avro-c: %s",
                        avro_strerror());
    hub_buf_reset(&c->scratch);
    if (hub_buf_reserve(&c->scratch, size))
        return HUB_ENOMEM;
    avro_writer_memory_set_dest(c->writer, c->scratch.data, (int64_t)size);
    if (avro_value_write(c->writer, v))
        return hub_fail(err, errlen, HUB_EDECODE, "avro-c: %s",
                        avro_strerror());
    c->scratch.len = size;
    *avro = (const uint8_t *)c->scratch.data;
    *avro_len = size;
    return 0;
}
