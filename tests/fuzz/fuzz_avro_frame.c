/*
 * libFuzzer target: arbitrary bytes as a Kafka message value, through the
 * framing check, the Avro validator, avro-c and the JSON renderer.
 */
#include <stdint.h>

#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    hub_buf_t out = HUB_BUF_INIT;
    hub_codec_render(fuzz_codec_get(), data, size, &out, err, sizeof err);
    hub_buf_free(&out);
    return 0;
}
