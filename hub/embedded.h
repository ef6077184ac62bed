/*
 * hub360 - files built into the binary (the released schema catalogue).
 */
#ifndef HUB_EMBEDDED_H
#define HUB_EMBEDDED_H

#include <stddef.h>

typedef struct hub_embedded_file {
    const char *name; /* path relative to schemas/, e.g. "released/1.avsc" */
    const char *data; /* NUL-terminated */
    size_t len;
} hub_embedded_file_t;

/* Terminated by an entry whose name is NULL. */
extern const hub_embedded_file_t hub_embedded_files[];

#endif
