/*
 * libFuzzer target: vendor payloads through every preset's mapping, the
 * completion of their events and the codec, as a webhook body would go.
 * The first byte picks the preset (its low seven bits) and how the body
 * parses (its high bit: XML, as a WeChat push, through the XML reader the
 * webhook uses; otherwise JSON); the rest is the body. Whatever the body,
 * a preset either maps it or answers an error: no crash, no leak.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "codec.h"
#include "source.h"
#include "xmljson.h"

#define NPRESETS 10

static hub_catalog_t *cat;
static hub_codec_t *codec;
static hub_source_t *sources[NPRESETS];
static hub_source_config_t configs[NPRESETS];
static json_t *meta;

static void setup(void) {
    char err[1024];
    if (hub_catalog_open(NULL, &cat, err, sizeof err) ||
        hub_codec_new(cat, "hub360.", &codec, err, sizeof err))
        abort();
    for (size_t i = 0; i < NPRESETS && hub_presets[i].name; i++) {
        configs[i] = (hub_source_config_t){
            .name = (char *)hub_presets[i].name,
            .system = (char *)hub_presets[i].system,
            .preset = (char *)hub_presets[i].name,
            .mapping = (char *)"",
        };
        if (hub_source_new(&configs[i], codec, &sources[i], err, sizeof err))
            abort();
    }
    meta = json_pack("{sss{ss}s{}snss}", "via", "webhook", "headers",
                     "x-shopify-topic", "orders/create", "query", "resource",
                     "received_at", "2026-11-28T00:00:00Z");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!cat)
        setup();
    if (size < 1)
        return 0;
    hub_source_t *src = sources[(data[0] & 0x7f) % NPRESETS];
    if (!src)
        return 0;
    char err[1024];
    json_t *record = NULL;
    const char *body = (const char *)data + 1;
    if ((data[0] & 0x80 ? hub_xml_to_json(body, size - 1, &record, err,
                                          sizeof err)
                        : hub_codec_parse_text(body, size - 1, &record, err,
                                               sizeof err)))
        return 0;
    hub_mapped_t mapped = {0};
    hub_source_map(src, record, meta, &mapped, NULL, err, sizeof err);
    hub_mapped_free(&mapped);
    json_decref(record);
    return 0;
}
