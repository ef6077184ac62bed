/*
 * hub360 - UUIDs for event ids.
 *
 * Events get a name-based UUID (version 5, SHA-1) from the source's own
 * delivery, record or version id wherever the source gives one, so a
 * re-sent webhook or a re-polled record maps to the same event_id; and a
 * time-ordered UUIDv7 otherwise.
 */
#ifndef HUB_UUID_H
#define HUB_UUID_H

#include <stddef.h>
#include <stdint.h>

#define HUB_UUID_STRLEN 36

typedef struct hub_uuid {
    uint8_t b[16];
} hub_uuid_t;

/* hub360's namespace for name-based ids (itself a v5 UUID of "hub360"
 * in the URL namespace of RFC 4122). */
extern const hub_uuid_t hub_uuid_ns_hub360;

/* Parses the 8-4-4-4-12 hex form (either case). 0 or HUB_EINVAL. */
int hub_uuid_parse(const char *s, size_t len, hub_uuid_t *out);
/* Writes the lower-case 36-character form plus a NUL. */
void hub_uuid_format(const hub_uuid_t *u, char out[HUB_UUID_STRLEN + 1]);
/* Name-based UUID version 5 of name[0..len) in namespace ns. */
void hub_uuid_v5(const hub_uuid_t *ns, const void *name, size_t len,
                 hub_uuid_t *out);
/* Time-ordered UUID version 7; ids from one process are strictly
 * increasing. Thread-safe. */
void hub_uuid_v7(hub_uuid_t *out);

#endif
