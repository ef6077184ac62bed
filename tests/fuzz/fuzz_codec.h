/*
 * The codec the fuzz targets share: built on the first input, freed at
 * exit so the leak check sees only what an input leaked.
 */
#ifndef HUB_FUZZ_CODEC_H
#define HUB_FUZZ_CODEC_H

#include <stdlib.h>

#include "catalog.h"
#include "codec.h"

static hub_catalog_t *fuzz_cat;
static hub_codec_t *fuzz_codec;

__attribute__((destructor)) static void fuzz_codec_teardown(void) {
    hub_codec_free(fuzz_codec);
    hub_catalog_free(fuzz_cat);
}

static hub_codec_t *fuzz_codec_get(void) {
    char err[512];
    if (!fuzz_codec &&
        (hub_catalog_open(NULL, &fuzz_cat, err, sizeof err) ||
         hub_codec_new(fuzz_cat, "hub360.", &fuzz_codec, err, sizeof err)))
        abort();
    return fuzz_codec;
}

#endif
