/*
 * hub360 - the batch arena: a list of chunks, bumped through.
 */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (256 * 1024)
#define ALIGN 16

struct hub_arena_chunk {
    hub_arena_chunk_t *next;
    size_t size, pos;
    _Alignas(ALIGN) unsigned char data[];
};

static hub_arena_chunk_t *new_chunk(hub_arena_t *a, size_t need) {
    hub_arena_chunk_t *c = a->spare;
    if (c && c->size >= need) {
        a->spare = c->next;
    } else {
        size_t size = need > CHUNK ? need : CHUNK;
        if (!(c = malloc(sizeof *c + size)))
            return NULL;
        c->size = size;
    }
    c->pos = 0;
    c->next = a->head;
    a->head = c;
    return c;
}

void *hub_arena_alloc(hub_arena_t *a, size_t n) {
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    hub_arena_chunk_t *c = a->head;
    if (!c || c->size - c->pos < n) {
        if (!(c = new_chunk(a, n)))
            return NULL;
    }
    void *p = c->data + c->pos;
    c->pos += n;
    a->used += n;
    return p;
}

void *hub_arena_calloc(hub_arena_t *a, size_t n) {
    void *p = hub_arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *hub_arena_strndup(hub_arena_t *a, const char *s, size_t n) {
    char *p = hub_arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void hub_arena_reset(hub_arena_t *a) {
    while (a->head) {
        hub_arena_chunk_t *c = a->head;
        a->head = c->next;
        if (c->size > CHUNK) { /* one-off big allocations go back */
            free(c);
            continue;
        }
        c->next = a->spare;
        a->spare = c;
    }
    a->used = 0;
}

void hub_arena_free(hub_arena_t *a) {
    hub_arena_reset(a);
    while (a->spare) {
        hub_arena_chunk_t *c = a->spare;
        a->spare = c->next;
        free(c);
    }
}
