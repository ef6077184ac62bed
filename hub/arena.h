/*
 * hub360 - a bump allocator for memory that lives as long as a batch.
 *
 * The projector creates and drops thousands of small objects per batch
 * (entities, their strings, hash map keys); allocating them from an arena
 * and releasing them all at once costs a pointer bump each instead of a
 * malloc and a free. Chunks are kept across resets, so a steady state
 * allocates nothing. Not thread-safe.
 */
#ifndef HUB_ARENA_H
#define HUB_ARENA_H

#include <stddef.h>

typedef struct hub_arena_chunk hub_arena_chunk_t;

typedef struct hub_arena {
    hub_arena_chunk_t *head;  /* the chunk being filled */
    hub_arena_chunk_t *spare; /* chunks emptied by a reset */
    size_t used;              /* bytes handed out since the last reset */
} hub_arena_t;

#define HUB_ARENA_INIT {NULL, NULL, 0}

/* n bytes aligned for any type; NULL on ENOMEM. */
void *hub_arena_alloc(hub_arena_t *a, size_t n);
/* The same, zeroed. */
void *hub_arena_calloc(hub_arena_t *a, size_t n);
/* A NUL-terminated copy of the n bytes at s. */
char *hub_arena_strndup(hub_arena_t *a, const char *s, size_t n);
/* Forgets every allocation; keeps the chunks for reuse. */
void hub_arena_reset(hub_arena_t *a);
/* Releases every chunk. */
void hub_arena_free(hub_arena_t *a);

#endif
