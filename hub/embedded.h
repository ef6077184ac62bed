/*
 * hub360 - files built into the binary: the released schema catalogue
 * and the adapters' presets (cmake/Embed.cmake writes the tables).
 */
#ifndef HUB_EMBEDDED_H
#define HUB_EMBEDDED_H

#include <stddef.h>

typedef struct hub_embedded_file {
    const char *name; /* path relative to its folder: "released/1.avsc" */
    const char *data; /* NUL-terminated */
    size_t len;
} hub_embedded_file_t;

/* Each table is terminated by an entry whose name is NULL. */
extern const hub_embedded_file_t hub_embedded_files[];  /* schemas/ */
extern const hub_embedded_file_t hub_embedded_presets[]; /* adapters/presets/ */
extern const hub_embedded_file_t hub_embedded_api[];     /* hub/openapi.json */

#endif
