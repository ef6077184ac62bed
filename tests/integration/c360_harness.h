/*
 * Test helpers: apply canonical JSON events straight to a customer-360
 * store (no Kafka), in a given order and batch size, and read it back.
 */
#ifndef HUB_TEST_C360_HARNESS_H
#define HUB_TEST_C360_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "c360.h"
#include "config.h"

typedef struct events {
    char **lines;
    size_t n;
} events_t;

/* Reads NDJSON (a file under the source tree, or generated text). */
int events_from_text(const char *text, events_t *out);
void events_free(events_t *e);
/* The generator's events (control: percent of link/unlink/forget). */
int events_generate(size_t n, unsigned seed, int control, int dups,
                    events_t *out);
/* How many events a test generates: HUB360_TEST_EVENTS when set (the
 * valgrind run sets fewer, tests/CMakeLists.txt), else dflt. */
size_t events_wanted(size_t dflt);
/* A random permutation of 0..n-1. */
size_t *shuffled(size_t n, unsigned seed);

/* A fresh store directory under the build tree; returns its path. */
const char *fresh_store(const char *name);

/* The wall clock apply_events gives the store (0: the real one). */
extern int64_t harness_clock_ms;
/* Orders apply_events' batches newly flagged as oversold, added up. */
extern uint64_t harness_stock_oversold;
/* Set: apply_events applies half of each batch it decodes ahead (odd
 * batch sizes), aborts it while the decoding may still go on, and then
 * applies the whole batch again. */
extern int harness_abort_halfway;

/* Applies events[order[i]] (order may be NULL) in batches. Counts of the
 * outcomes go to the optional array (indexed by hub_c360_outcome). */
int apply_events(const hub_config_t *cfg, const char *store,
                 const events_t *ev, const size_t *order, size_t batch,
                 size_t counts[4], hub_buf_t *dead_errors);

/* NDJSON export and digest of a store. */
int export_store(const char *store, hub_buf_t *out, char digest[65]);

/* Configuration from YAML (defaults otherwise). */
hub_config_t *config_from(const char *yaml);

#endif
