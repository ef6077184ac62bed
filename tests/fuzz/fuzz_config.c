/*
 * libFuzzer target: configuration files through the YAML reader and the
 * declarative tables.
 */
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[1024];
    hub_config_t *cfg = NULL;
    if (hub_config_parse("fuzz.yaml", (const char *)data, size, &cfg, err,
                         sizeof err) == 0)
        hub_config_free(cfg);
    return 0;
}
