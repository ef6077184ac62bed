/*
 * hub360 - a hash map from byte-string keys to pointers, for the
 * projector's per-batch caches and sets. Keys are copied; values are the
 * caller's. Open addressing with linear probing; grows at 70% load.
 * Not thread-safe.
 */
#ifndef HUB_HMAP_H
#define HUB_HMAP_H

#include <stddef.h>

typedef struct hub_hmap hub_hmap_t;

hub_hmap_t *hub_hmap_new(void);
/* Frees the map; free_val (may be NULL) is called on every value. */
void hub_hmap_free(hub_hmap_t *m, void (*free_val)(void *));
/* Removes every entry, keeping the memory. */
void hub_hmap_clear(hub_hmap_t *m, void (*free_val)(void *));
size_t hub_hmap_count(const hub_hmap_t *m);

/* The value slot of key, or NULL when absent. */
void **hub_hmap_get(const hub_hmap_t *m, const void *key, size_t len);
/* The value slot of key, created (holding NULL) when absent; *created
 * says which. NULL on ENOMEM. The slot moves when the map grows. */
void **hub_hmap_put(hub_hmap_t *m, const void *key, size_t len,
                    int *created);

/* Iteration: *pos starts at 0; returns 0 at the end. The key pointer
 * stays valid until the entry is removed or the map cleared. */
int hub_hmap_next(const hub_hmap_t *m, size_t *pos, const char **key,
                  size_t *len, void **val);

#endif
