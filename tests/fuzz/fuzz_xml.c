/*
 * libFuzzer target: webhook XML bodies (WeChat's pushes) into JSON.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "xmljson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    json_t *out = NULL;
    if (hub_xml_to_json((const char *)data, size, &out, err, sizeof err) == 0)
        json_decref(out);
    return 0;
}
