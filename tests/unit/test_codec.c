/*
 * Unit tests: the event codec - round trips of every example, byte-exact
 * framing, one specific error per kind of bad input, schema evolution.
 */
#include <dirent.h>
#include <stdlib.h>

#include "avrojson.h"
#include "catalog.h"
#include "codec.h"
#include "errors.h"
#include "harness.h"

static hub_catalog_t *cat;
static hub_codec_t *codec;

static void setup(void) {
    if (codec)
        return;
    char err[512];
    if (hub_catalog_open(NULL, &cat, err, sizeof err) ||
        hub_codec_new(cat, "hub360.", &codec, err, sizeof err)) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
}

__attribute__((destructor)) static void teardown(void) {
    hub_codec_free(codec);
    hub_catalog_free(cat);
}

static char *example(const char *type) {
    char path[256];
    snprintf(path, sizeof path, "schemas/examples/%s.json", type);
    size_t len;
    char *text = hub_test_read(path, &len);
    if (text && len && text[len - 1] == '\n')
        text[len - 1] = '\0';
    return text;
}

TEST(round_trip_every_example_byte_for_byte) {
    setup();
    size_t n;
    const hub_event_type_t *types = hub_codec_types(codec, &n);
    CHECK_INT(n, 38);
    hub_encoded_t enc = {HUB_BUF_INIT, HUB_BUF_INIT, 0, NULL};
    hub_buf_t json = HUB_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        char *text = example(types[i].type);
        if (!text) {
            FAIL_AT("no example for %s", types[i].type);
            continue;
        }
        char err[512] = "";
        int rc = hub_codec_encode_text(codec, text, strlen(text), &enc, err,
                                       sizeof err);
        if (rc) {
            FAIL_AT("%s: %s", types[i].type, err);
            free(text);
            continue;
        }
        CHECK(enc.type == &types[i]);
        avro_value_t *v;
        rc = hub_codec_decode(codec, enc.value.data, enc.value.len, &v, err,
                              sizeof err);
        CHECK_INT(rc, 0);
        hub_buf_reset(&json);
        if (rc == 0 && hub_codec_to_json(codec, v, &json) == 0)
            CHECK_STR(json.data, text);
        CHECK(hub_codec_event_type(codec, v) == &types[i]);
        free(text);
    }
    hub_encoded_free(&enc);
    hub_buf_free(&json);
}

/* hub_avro_bin_to_json renders the encoded bytes themselves into the
 * same canonical JSON, for every example (every type, enums, unions,
 * doubles, timestamps); and refuses bytes cut short. */
TEST(binary_renders_to_the_same_json_as_values) {
    setup();
    size_t n;
    const hub_event_type_t *types = hub_codec_types(codec, &n);
    const hub_snode_t *env =
        hub_schema_root(hub_catalog_latest(cat, HUB_SCHEMA_ENVELOPE, NULL));
    hub_encoded_t enc = {HUB_BUF_INIT, HUB_BUF_INIT, 0, NULL};
    hub_buf_t json = HUB_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        char *text = example(types[i].type), err[512] = "";
        if (!text || hub_codec_encode_text(codec, text, strlen(text), &enc,
                                           err, sizeof err)) {
            FAIL_AT("%s: %s", types[i].type, err);
            free(text);
            continue;
        }
        const uint8_t *avro = (const uint8_t *)enc.value.data + 5;
        size_t len = enc.value.len - 5, pos = 0;
        hub_buf_reset(&json);
        CHECK_INT(hub_avro_bin_to_json(env, avro, len, &pos, &json), 0);
        CHECK_INT(pos, len);
        CHECK_STR(json.data, text);
        pos = 0;
        hub_buf_reset(&json);
        CHECK_INT(hub_avro_bin_to_json(env, avro, len / 2, &pos, &json),
                  HUB_EDECODE);
        free(text);
    }
    hub_encoded_free(&enc);
    hub_buf_free(&json);
}

TEST(topic_and_key_follow_the_type) {
    setup();
    hub_encoded_t enc = {HUB_BUF_INIT, HUB_BUF_INIT, 0, NULL};
    char err[512];
    char *text = example("erp.order.placed");
    REQUIRE(hub_codec_encode_text(codec, text, strlen(text), &enc, err,
                                  sizeof err) == 0);
    CHECK_INT(enc.topic, HUB_TOPIC_ERP);
    CHECK_STR(enc.key.data, "shop/order/450789469");
    free(text);
    text = example("customer.forget");
    REQUIRE(hub_codec_encode_text(codec, text, strlen(text), &enc, err,
                                  sizeof err) == 0);
    CHECK_INT(enc.topic, HUB_TOPIC_CONTROL);
    CHECK(strchr(enc.key.data, '/') == NULL); /* control: the entity id */
    free(text);
    hub_encoded_free(&enc);
}

/* Expected bytes computed independently with fastavro (Python) from
 * `hub360 schemas show 56` (the envelope with its sequence) and
 * schemas/examples/crm.lead.converted.json. */
static const char lead_converted_hex[] =
    "00000000384865653666656632322d613764612d353061342d386335332d356664613435"
    "6562353233662463726d2e6c6561642e636f6e7665727465648091b5919867dc9ab59198"
    "671473616c6573666f72636500086c6561642430305135673030303030416243644545"
    "415606002a66616e672e77616e67406578616d706c652e6f7267063a73616c6573666f72"
    "63653a303051356730303030304162436445454156043a73616c6573666f7263653a3030"
    "333567303030303058795a6142414156000402243030333567303030303058795a614241"
    "41560224303031356730303030304b6c4d6e4f414155022430303635673030303030507152"
    "73544141550000";

/* The same event as an older hub360 wrote it: schema id 1, the envelope
 * without a sequence (fastavro, schemas/released/1.avsc). */
static const char lead_converted_v1_hex[] =
    "00000000014865653666656632322d613764612d353061342d386335332d356664613435"
    "6562353233662463726d2e6c6561642e636f6e7665727465648091b5919867dc9ab59198"
    "671473616c6573666f72636500086c6561642430305135673030303030416243644545"
    "415606002a66616e672e77616e67406578616d706c652e6f7267063a73616c6573666f72"
    "63653a303051356730303030304162436445454156043a73616c6573666f7263653a3030"
    "333567303030303058795a6142414156000402243030333567303030303058795a614241"
    "41560224303031356730303030304b6c4d6e4f414155022430303635673030303030507152"
    "735441415500";

TEST(framing_is_byte_exact) {
    setup();
    hub_encoded_t enc = {HUB_BUF_INIT, HUB_BUF_INIT, 0, NULL};
    char err[512];
    char *text = example("crm.lead.converted");
    REQUIRE(hub_codec_encode_text(codec, text, strlen(text), &enc, err,
                                  sizeof err) == 0);
    hub_buf_t hex = HUB_BUF_INIT;
    for (size_t i = 0; i < enc.value.len; i++)
        hub_buf_printf(&hex, "%02x", (unsigned char)enc.value.data[i]);
    CHECK_STR(hex.data, lead_converted_hex);
    CHECK_INT(enc.value.data[0], 0);                 /* magic byte */
    CHECK_INT((unsigned char)enc.value.data[4], 56); /* schema id 56 */
    hub_buf_free(&hex);
    hub_encoded_free(&enc);
    free(text);
}

static size_t unhex(const char *hex, uint8_t *out) {
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* Events on the topics from before the envelope had its sequence still
 * read: resolved from schema 1, the sequence null. */
TEST(an_event_of_the_first_envelope_still_reads) {
    setup();
    uint8_t bin[sizeof lead_converted_v1_hex / 2];
    size_t n = unhex(lead_converted_v1_hex, bin);
    hub_buf_t json = HUB_BUF_INIT;
    char err[512] = "";
    CHECK_INT(hub_codec_render(codec, bin, n, &json, err, sizeof err), 0);
    char *text = example("crm.lead.converted");
    CHECK_STR(json.data, text);
    const uint8_t *avro;
    size_t alen;
    CHECK_INT(hub_codec_envelope_bytes(codec, bin, n, &avro, &alen, err,
                                       sizeof err), 0);
    CHECK_INT(alen, n - 5 + 1); /* re-encoded: one byte more, the null */
    free(text);
    hub_buf_free(&json);
}

/* A sequence is kept as given, a long, and is optional. */
TEST(the_sequence_round_trips) {
    setup();
    char *text = example("crm.lead.converted");
    json_t *ev = json_loads(text, 0, NULL);
    REQUIRE(ev);
    json_object_set_new(ev, "sequence", json_integer(9007199254740993LL));
    char *with = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    hub_encoded_t enc = {HUB_BUF_INIT, HUB_BUF_INIT, 0, NULL};
    char err[512] = "";
    REQUIRE(hub_codec_encode_text(codec, with, strlen(with), &enc, err,
                                  sizeof err) == 0);
    hub_buf_t json = HUB_BUF_INIT;
    CHECK_INT(hub_codec_render(codec, enc.value.data, enc.value.len, &json,
                               err, sizeof err), 0);
    CHECK(strstr(json.data, "\"sequence\":9007199254740993}") != NULL);
    json_object_set_new(ev, "sequence", json_string("12"));
    free(with);
    with = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    CHECK_INT(hub_codec_encode_text(codec, with, strlen(with), &enc, err,
                                    sizeof err), HUB_EINVAL);
    CHECK(strstr(err, "sequence") != NULL);
    free(with);
    free(text);
    json_decref(ev);
    hub_buf_free(&json);
    hub_encoded_free(&enc);
}

static const char *encode_error(const char *text) {
    static char err[512];
    hub_encoded_t enc = {HUB_BUF_INIT, HUB_BUF_INIT, 0, NULL};
    err[0] = '\0';
    if (hub_codec_encode_text(codec, text, strlen(text), &enc, err,
                              sizeof err) == 0)
        snprintf(err, sizeof err, "(accepted)");
    hub_encoded_free(&enc);
    return err;
}

#define EVENT(type, kind, payload)                                             \
    "{\"event_id\":\"0195f1d2-7a3b-7c4d-8e5f-6a7b8c9d0e1f\",\"type\":\"" type   \
    "\",\"occurred_at\":\"2026-03-14T09:26:53Z\",\"ingested_at\":\"2026-03-"  \
    "14T09:26:54Z\",\"source\":{\"system\":\"shop\",\"kind\":\"" kind         \
    "\",\"entity_type\":\"payment\",\"entity_id\":\"p1\"},\"payload\":" payload \
    "}"

TEST(each_bad_input_has_its_own_error) {
    setup();
    CHECK_STR(encode_error(EVENT("erp.payment.received", "erp",
                                 "{\"amount\":1250,\"currency\":\"CNY\"}")),
              "(accepted)");
    CHECK_STR(encode_error(EVENT("erp.payment.exploded", "erp", "{}")),
              "type: unknown event type \"erp.payment.exploded\"");
    CHECK_STR(encode_error(EVENT("erp.payment.received", "erp",
                                 "{\"currency\":\"CNY\"}")),
              "payload.amount: missing required field");
    CHECK_STR(encode_error(EVENT("erp.payment.received", "erp",
                                 "{\"amount\":\"12.5\",\"currency\":\"CNY\"}")),
              "payload.amount: expected integer, got string \"12.5\"");
    CHECK_STR(encode_error(EVENT("erp.payment.received", "erp",
                                 "{\"amount\":12.5,\"currency\":\"CNY\"}")),
              "payload.amount: expected integer, got number 12.5");
    CHECK_STR(encode_error(EVENT("erp.payment.received", "erp",
                                 "{\"amount\":1,\"currency\":\"CNY\","
                                 "\"amuont\":2}")),
              "payload.amuont: unknown field");
    CHECK_STR(encode_error(EVENT("erp.payment.received", "crm",
                                 "{\"amount\":1,\"currency\":\"CNY\"}")),
              "source.kind: type erp.payment.received needs source kind erp, "
              "got \"crm\"");
    CHECK_STR(encode_error(
                  "{\"event_id\":\"12345\",\"type\":\"erp.payment.received\"}"),
              "event_id: expected UUID string, got string \"12345\"");
    CHECK_STR(encode_error("{\"type\":\"erp.payment.received\","
                           "\"event_id\":\"0195f1d2-7a3b-7c4d-8e5f-6a7b8c9d0e1f\","
                           "\"occurred_at\":\"yesterday\"}"),
              "occurred_at: expected RFC 3339 time string, got string "
              "\"yesterday\" (expected an RFC 3339 time like "
              "2026-03-14T09:26:53Z)");
    CHECK_STR(encode_error("{\"type\":\"crm.lead.created\",\"x\":\"\xff\"}"),
              "invalid UTF-8 at byte offset 32");
    CHECK_STR(encode_error("{\"type\":"), "invalid JSON at column 8: "
                                          "unexpected token near end of file");
    CHECK_STR(encode_error("[1,2]"), "expected an event object, got array");
    CHECK_STR(encode_error("{\"type\":7}"), "type: expected string, got "
                                           "integer 7");
    CHECK_STR(encode_error(EVENT("erp.payment.received", "erp",
                                 "{\"amount\":1,\"currency\":null}")),
              "payload.currency: expected string, got null");
}

static const char *decode_error(const void *buf, size_t len) {
    static char err[512];
    avro_value_t *v;
    err[0] = '\0';
    if (hub_codec_decode(codec, buf, len, &v, err, sizeof err) == 0)
        snprintf(err, sizeof err, "(decoded)");
    return err;
}

TEST(bad_bytes_have_their_own_errors) {
    setup();
    hub_encoded_t enc = {HUB_BUF_INIT, HUB_BUF_INIT, 0, NULL};
    char err[512];
    char *text = example("crm.lead.converted");
    REQUIRE(hub_codec_encode_text(codec, text, strlen(text), &enc, err,
                                  sizeof err) == 0);
    free(text);
    CHECK_STR(decode_error(enc.value.data, enc.value.len), "(decoded)");
    CHECK_STR(decode_error(enc.value.data, enc.value.len - 10),
              "schema id 56: truncated Avro: 8 more bytes needed at byte 234 "
              "of 244");
    CHECK_STR(decode_error(enc.value.data, 3),
              "message of 3 bytes is shorter than the 5-byte schema header");
    CHECK_STR(decode_error("{\"a\":1}", 7),
              "not Confluent-framed: first byte is 0x7b, expected 0x00 (it "
              "looks like JSON)");
    unsigned char unknown[] = {0, 0, 0, 0x30, 0x39, 2, 'a'};
    CHECK_STR(decode_error(unknown, sizeof unknown),
              "unknown schema id 12345 (not in the local catalogue)");
    hub_buf_t longer = HUB_BUF_INIT;
    hub_buf_append(&longer, enc.value.data, enc.value.len);
    hub_buf_append(&longer, "xy", 2);
    CHECK_STR(decode_error(longer.data, longer.len),
              "schema id 56: malformed Avro: 2 trailing bytes after the value "
              "(at byte 254)");
    /* a string length far beyond the buffer must not reach avro-c */
    hub_buf_reset(&longer);
    hub_buf_append(&longer, enc.value.data, 5);
    hub_buf_append(&longer, "\xfe\xff\xff\xff\x0f", 5);
    CHECK_STR(decode_error(longer.data, longer.len),
              "schema id 56: truncated Avro: 2147483647 more bytes needed at "
              "byte 5 of 5");
    /* invalid UTF-8 inside an Avro string */
    hub_buf_reset(&longer);
    hub_buf_append(&longer, enc.value.data, enc.value.len);
    longer.data[6] = (char)0xff;
    CHECK_STR(decode_error(longer.data, longer.len),
              "schema id 56: invalid UTF-8 in an Avro string at byte 1");
    hub_buf_free(&longer);
    hub_encoded_free(&enc);
}

/* ------------------------------------------------------------------ */
/* Evolution                                                           */
/* ------------------------------------------------------------------ */

/* v2 of a record: a field added with a default. */
static const char *v1_text =
    "{\"type\":\"record\",\"name\":\"Lead\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"email\",\"type\":\"string\"},"
    "{\"name\":\"score\",\"type\":\"int\"}]}";
static const char *v2_text =
    "{\"type\":\"record\",\"name\":\"Lead\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"email\",\"type\":\"string\"},"
    "{\"name\":\"score\",\"type\":\"long\"},"
    "{\"name\":\"stage\",\"type\":{\"type\":\"enum\",\"name\":\"Stage\","
    "\"symbols\":[\"NEW\",\"WON\"]},\"default\":\"NEW\"},"
    "{\"name\":\"seen\",\"type\":{\"type\":\"long\",\"logicalType\":"
    "\"timestamp-millis\"},\"default\":0},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"},"
    "\"default\":[\"a\"]},"
    "{\"name\":\"note\",\"type\":[\"null\",\"string\"],\"default\":null}]}";

static hub_schema_t *parse(const char *text) {
    hub_schema_t *s = NULL;
    char err[512];
    if (hub_schema_parse(text, strlen(text), NULL, NULL, &s, err, sizeof err))
        FAIL_AT("parse: %s", err);
    return s;
}

TEST(v1_data_decodes_with_a_v2_reader_filling_defaults) {
    hub_schema_t *v1 = parse(v1_text), *v2 = parse(v2_text);
    REQUIRE(v1 && v2);
    char err[512];
    /* write a v1 value */
    avro_value_t w;
    avro_generic_value_new(hub_schema_iface(v1), &w);
    json_t *j = json_loads("{\"email\":\"ann@example.com\",\"score\":7}", 0,
                           NULL);
    REQUIRE(hub_avro_from_json(hub_schema_root(v1), j, &w, "", NULL, err,
                               sizeof err) == 0);
    json_decref(j);
    char buf[256];
    avro_writer_t wr = avro_writer_memory(buf, sizeof buf);
    REQUIRE(avro_value_write(wr, &w) == 0);
    size_t len = (size_t)avro_writer_tell(wr);
    avro_writer_free(wr);
    avro_value_decref(&w);
    /* read it with v2 */
    hub_avro_resolver_t *r = NULL;
    REQUIRE(hub_avro_resolver_new(v1, v2, &r, err, sizeof err) == 0);
    avro_value_t out;
    avro_generic_value_new(hub_schema_iface(v2), &out);
    CHECK_INT(hub_avro_resolver_read(r, buf, len, &out, err, sizeof err), 0);
    hub_buf_t json = HUB_BUF_INIT;
    hub_avro_to_json(hub_schema_root(v2), &out, &json);
    CHECK_STR(json.data, "{\"email\":\"ann@example.com\",\"score\":7,"
                         "\"stage\":\"new\",\"seen\":\"1970-01-01T00:00:00Z\","
                         "\"tags\":[\"a\"]}");
    /* and again: values are reset between reads */
    hub_buf_reset(&json);
    CHECK_INT(hub_avro_resolver_read(r, buf, len, &out, err, sizeof err), 0);
    hub_avro_to_json(hub_schema_root(v2), &out, &json);
    CHECK_CONTAINS(json.data, "\"tags\":[\"a\"]}");
    hub_buf_free(&json);
    avro_value_decref(&out);
    hub_avro_resolver_free(r);
    /* v2 data cannot be read by v1? It can: v1 ignores the extra fields,
     * but long -> int is not a promotion, so the resolver refuses. */
    CHECK(hub_avro_resolver_new(v2, v1, &r, err, sizeof err) ==
          HUB_ESCHEMA);
    CHECK_CONTAINS(err, "t.Lead.score: type changed from long (the writer) "
                        "to int (the reader)");
    hub_schema_free(v1);
    hub_schema_free(v2);
}

/* The released envelope with one payload field added (with a default). */
static char *envelope_v2(void) {
    setup();
    const hub_schema_t *v1 = hub_catalog_latest(cat, HUB_SCHEMA_ENVELOPE, NULL);
    json_t *j = json_loads(hub_schema_text(v1), 0, NULL);
    json_t *payload = json_array_get(json_object_get(j, "fields"), 6);
    json_t *lead = json_array_get(json_object_get(payload, "type"), 0);
    json_array_append_new(json_object_get(lead, "fields"),
                          json_pack("{s:s,s:s,s:i}", "name", "score", "type",
                                    "int", "default", 50));
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

TEST(envelope_written_with_v1_decodes_with_v2) {
    char *v2_env = envelope_v2();
    hub_schema_t *v2 = parse(v2_env);
    free(v2_env);
    REQUIRE(v2);
    const hub_schema_t *v1 = hub_catalog_latest(cat, HUB_SCHEMA_ENVELOPE, NULL);
    hub_encoded_t enc = {HUB_BUF_INIT, HUB_BUF_INIT, 0, NULL};
    char err[512];
    char *text = example("crm.lead.created");
    REQUIRE(hub_codec_encode_text(codec, text, strlen(text), &enc, err,
                                  sizeof err) == 0);
    hub_avro_resolver_t *r = NULL;
    REQUIRE(hub_avro_resolver_new(v1, v2, &r, err, sizeof err) == 0);
    avro_value_t out;
    avro_generic_value_new(hub_schema_iface(v2), &out);
    CHECK_INT(hub_avro_resolver_read(r, enc.value.data + 5, enc.value.len - 5,
                                     &out, err, sizeof err),
              0);
    hub_buf_t json = HUB_BUF_INIT;
    hub_avro_to_json(hub_schema_root(v2), &out, &json);
    /* the same event, with the new field at its default */
    text[strlen(text) - 2] = '\0'; /* drop the closing "}}" */
    hub_buf_t want = HUB_BUF_INIT;
    hub_buf_printf(&want, "%s,\"score\":50}}", text);
    CHECK_STR(json.data, want.data);
    hub_buf_free(&want);
    hub_buf_free(&json);
    avro_value_decref(&out);
    hub_avro_resolver_free(r);
    hub_encoded_free(&enc);
    hub_schema_free(v2);
    free(text);
}

static int check_problems(const char *writer, const char *reader,
                          hub_buf_t *lines) {
    hub_schema_t *w = parse(writer), *r = parse(reader);
    hub_compat_t rep = {HUB_BUF_INIT, 0, "OLD", "NEW"};
    int n = w && r ? hub_schema_check_readable(hub_schema_root(w),
                                               hub_schema_root(r), &rep)
                   : -1;
    if (lines)
        hub_buf_append(lines, rep.lines.data ? rep.lines.data : "",
                       rep.lines.len);
    hub_buf_free(&rep.lines);
    hub_schema_free(w);
    hub_schema_free(r);
    return n;
}

TEST(compatibility_names_each_breaking_field) {
    const char *base = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                       "{\"name\":\"a\",\"type\":\"int\"},"
                       "{\"name\":\"b\",\"type\":\"string\"}]}";
    const char *removed_b = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                            "{\"name\":\"a\",\"type\":\"int\"}]}";
    const char *added_c = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                          "{\"name\":\"a\",\"type\":\"long\"},"
                          "{\"name\":\"b\",\"type\":\"string\"},"
                          "{\"name\":\"c\",\"type\":\"int\"}]}";
    const char *added_d = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                          "{\"name\":\"a\",\"type\":\"int\"},"
                          "{\"name\":\"b\",\"type\":\"string\"},"
                          "{\"name\":\"d\",\"type\":\"int\",\"default\":1}]}";
    hub_buf_t lines = HUB_BUF_INIT;
    /* removing a required field: new data lacks what old readers need */
    CHECK_INT(check_problems(base, removed_b, NULL), 0);
    CHECK_INT(check_problems(removed_b, base, &lines), 1);
    CHECK_STR(lines.data, "R.b: NEW has this field without a default and OLD "
                          "does not write it\n");
    hub_buf_reset(&lines);
    CHECK_INT(check_problems(base, added_c, &lines), 1); /* int->long is ok */
    CHECK_STR(lines.data, "R.c: NEW has this field without a default and OLD "
                          "does not write it\n");
    CHECK_INT(check_problems(base, added_d, NULL), 0);
    CHECK_INT(check_problems(added_d, base, NULL), 0);
    hub_buf_free(&lines);
}

TEST(compose_inlines_each_named_type_once) {
    json_t *defs = json_pack(
        "{s:o,s:o}", "t.Id",
        json_loads("{\"type\":\"record\",\"name\":\"Id\",\"namespace\":\"t\","
                   "\"fields\":[{\"name\":\"v\",\"type\":\"string\"}]}",
                   0, NULL),
        "t.Pair",
        json_loads("{\"type\":\"record\",\"name\":\"Pair\",\"namespace\":\"t\","
                   "\"fields\":[{\"name\":\"a\",\"type\":\"t.Id\"},"
                   "{\"name\":\"b\",\"type\":\"Id\"}]}",
                   0, NULL));
    char err[256];
    json_t *c = hub_schema_compose(defs, "t.Pair", err, sizeof err);
    REQUIRE(c);
    char *text = hub_json_compact(c);
    CHECK_STR(text, "{\"type\":\"record\",\"name\":\"Pair\",\"namespace\":"
                    "\"t\",\"fields\":[{\"name\":\"a\",\"type\":{\"type\":"
                    "\"record\",\"name\":\"Id\",\"namespace\":\"t\","
                    "\"fields\":[{\"name\":\"v\",\"type\":\"string\"}]}},"
                    "{\"name\":\"b\",\"type\":\"t.Id\"}]}");
    free(text);
    json_decref(c);
    CHECK(hub_schema_compose(defs, "t.Missing", err, sizeof err) == NULL);
    CHECK_STR(err, "unknown type \"t.Missing\"");
    json_decref(defs);
}

TEST(schemas_with_mistakes_are_refused) {
    static const struct {
        const char *text, *err;
    } bad[] = {
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
         "\"type\":\"nope\"}]}",
         "R.a: unknown type \"nope\""},
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
         "\"type\":[\"null\",\"int\"],\"default\":1}]}",
         "R.a: default does not match the field's type (a union's default "
         "must match its first branch)"},
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
         "\"type\":\"R\"}]}",
         "R.a: recursive type R is not supported"},
        {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}",
         "E: symbol A listed twice"},
        {"[\"int\",\"int\"]", "(schema)<1>: the same type appears twice in a "
                              "union"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hub_schema_t *s = NULL;
        char err[512] = "";
        CHECK(hub_schema_parse(bad[i].text, strlen(bad[i].text), NULL, NULL,
                               &s, err, sizeof err) == HUB_ESCHEMA);
        CHECK_STR(err, bad[i].err);
        hub_schema_free(s);
    }
}

TEST(catalogue_lists_released_ids) {
    setup();
    int32_t id;
    const hub_schema_t *s;
    CHECK(hub_catalog_count(cat) >= 50);
    CHECK_INT(hub_catalog_find(cat, "1", &id, &s), 0);
    CHECK_STR(hub_schema_root(s)->fullname, HUB_SCHEMA_ENVELOPE);
    CHECK_INT(hub_catalog_find(cat, "hub360.Customer360", &id, &s), 0);
    CHECK_INT(id, 2);
    CHECK_INT(hub_catalog_find(cat, "hub360.Nope", &id, &s), HUB_ENOENT);
    char err[256];
    CHECK_INT(hub_catalog_get(cat, 9999, &s, err, sizeof err), HUB_ENOENT);
}
