/*
 * hub360 - a string-keyed hash map (FNV-1a, linear probing).
 */
#include "hmap.h"

#include "arena.h"
#include "hash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    char *key;   /* NULL: empty */
    size_t len;
    uint64_t hash;
    void *val;
} slot;

struct hub_hmap {
    slot *slots;
    size_t cap, count;
    hub_arena_t keys; /* the copies of the keys */
};

static uint64_t hash(const void *key, size_t len) {
    return hub_hash64(key, len);
}

hub_hmap_t *hub_hmap_new(void) {
    hub_hmap_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cap = 64;
    if (!(m->slots = calloc(m->cap, sizeof *m->slots))) {
        free(m);
        return NULL;
    }
    return m;
}

void hub_hmap_clear(hub_hmap_t *m, void (*free_val)(void *)) {
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        if (free_val && m->slots[i].val)
            free_val(m->slots[i].val);
        m->slots[i].key = NULL;
    }
    m->count = 0;
    hub_arena_reset(&m->keys);
}

void hub_hmap_free(hub_hmap_t *m, void (*free_val)(void *)) {
    if (!m)
        return;
    hub_hmap_clear(m, free_val);
    hub_arena_free(&m->keys);
    free(m->slots);
    free(m);
}

size_t hub_hmap_count(const hub_hmap_t *m) { return m->count; }

static slot *find(const hub_hmap_t *m, const void *key, size_t len,
                  uint64_t h) {
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && s->len == len &&
                        memcmp(s->key, key, len) == 0))
            return s;
    }
}

void **hub_hmap_get(const hub_hmap_t *m, const void *key, size_t len) {
    slot *s = find(m, key, len, hash(key, len));
    return s->key ? &s->val : NULL;
}

static int grow(hub_hmap_t *m) {
    size_t cap = m->cap * 2;
    slot *old = m->slots, *fresh = calloc(cap, sizeof *fresh);
    if (!fresh)
        return -1;
    size_t oldcap = m->cap;
    m->slots = fresh;
    m->cap = cap;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].key)
            *find(m, old[i].key, old[i].len, old[i].hash) = old[i];
    }
    free(old);
    return 0;
}

void **hub_hmap_put(hub_hmap_t *m, const void *key, size_t len,
                    int *created) {
    if ((m->count + 1) * 10 > m->cap * 7 && grow(m))
        return NULL;
    uint64_t h = hash(key, len);
    slot *s = find(m, key, len, h);
    if (s->key) {
        if (created)
            *created = 0;
        return &s->val;
    }
    if (!(s->key = hub_arena_strndup(&m->keys, key, len)))
        return NULL;
    s->len = len;
    s->hash = h;
    s->val = NULL;
    m->count++;
    if (created)
        *created = 1;
    return &s->val;
}

int hub_hmap_next(const hub_hmap_t *m, size_t *pos, const char **key,
                  size_t *len, void **val) {
    while (*pos < m->cap) {
        slot *s = &m->slots[(*pos)++];
        if (!s->key)
            continue;
        if (key)
            *key = s->key;
        if (len)
            *len = s->len;
        if (val)
            *val = s->val;
        return 1;
    }
    return 0;
}
