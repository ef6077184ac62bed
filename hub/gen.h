/*
 * hub360 - synthetic events: a population of people across CRM, ERP and
 * SCRM systems, with the identities of one person showing up in several
 * systems (so customers merge), for demos, tests and benchmarks.
 *
 * Deterministic: the same options give the same events, byte for byte
 * (event ids are name-based from the seed and the event's index).
 */
#ifndef HUB_GEN_H
#define HUB_GEN_H

#include <stdint.h>

#include "buf.h"

typedef struct hub_gen_opts {
    uint64_t events;    /* how many to generate */
    uint64_t people;    /* population; 0: events / 5 */
    uint64_t seed;
    int64_t start_ms;   /* earliest occurred_at; 0: 2026-01-01 */
    int64_t span_ms;    /* occurred_at spread; 0: 90 days */
    int duplicate_pct;  /* re-send this percentage of events, same id */
    int control_pct;    /* percent of identity.link/unlink and forget events */
} hub_gen_opts_t;

typedef struct hub_gen hub_gen_t;

hub_gen_t *hub_gen_new(const hub_gen_opts_t *opts);
void hub_gen_free(hub_gen_t *g);
/* Appends the next event (one line of canonical JSON, no newline) to out.
 * Returns 1 while there are events, 0 when done. */
int hub_gen_next(hub_gen_t *g, hub_buf_t *out);

#endif
