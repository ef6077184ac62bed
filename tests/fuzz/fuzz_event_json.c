/*
 * libFuzzer target: canonical JSON events through the validating encoder,
 * and whatever encodes back through the decoder (it must round-trip).
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hub_codec_t *codec = fuzz_codec_get();
    char err[512];
    hub_encoded_t enc = {HUB_BUF_INIT, HUB_BUF_INIT, 0, NULL};
    if (hub_codec_encode_text(codec, (const char *)data, size, &enc, err,
                              sizeof err) == 0) {
        avro_value_t *v;
        hub_buf_t json = HUB_BUF_INIT;
        if (hub_codec_decode(codec, enc.value.data, enc.value.len, &v, err,
                             sizeof err) ||
            hub_codec_to_json(codec, v, &json))
            abort(); /* what we encode, we must decode */
        /* and the canonical form is a fixed point */
        hub_encoded_t again = {HUB_BUF_INIT, HUB_BUF_INIT, 0, NULL};
        if (hub_codec_encode_text(codec, json.data, json.len, &again, err,
                                  sizeof err) ||
            again.value.len != enc.value.len ||
            memcmp(again.value.data, enc.value.data, enc.value.len))
            abort();
        hub_encoded_free(&again);
        hub_buf_free(&json);
    }
    hub_encoded_free(&enc);
    return 0;
}
