/*
 * hub360 - the projector: consumes the event topics into the customer-360
 * store, batch by batch, and publishes the changelog.
 *
 * Offsets live in the store, committed with each batch. As a daemon it
 * joins its consumer group (projector.group_id; the group's committed
 * offsets are only for lag monitoring) and, on every assignment, places
 * each partition at the offset the store holds. With `once` it assigns
 * every partition itself and stops when it reaches the end offsets it saw
 * at start (asked again for up to a minute while a partition's leader
 * moves or its broker is away). Undecodable or invalid events go to the
 * dead-letter topic, acknowledged before the batch that skips them
 * commits. After each commit the changed customers go to the compacted
 * changelog topic (an outbox: the store remembers how far it got, so
 * nothing is lost when the process dies in between).
 */
#ifndef HUB_PROJECTOR_H
#define HUB_PROJECTOR_H

#include <stdint.h>

#include "config.h"

typedef struct hub_projector_opts {
    const char *store;     /* store path (the link, or a generation dir) */
    const char *bootstrap; /* resolved broker list */
    int once;              /* stop at the end offsets seen at start */
    int group;             /* join projector.group_id (daemon) */
    int changelog;         /* publish changed customers */
    int progress;          /* a progress line on stderr every second */
    const char *label;     /* for progress and logs: "project", "rebuild" */
} hub_projector_opts_t;

typedef struct hub_projector_stats {
    uint64_t events, applied, duplicates, ignored, dead, batches;
    uint64_t views_written, views_deleted, merges_refused;
    uint64_t changelog_published;
    double seconds;
} hub_projector_stats_t;

/* Runs until done (once), or until hub_stop_requested. 0, or a hub error
 * with a message (HUB_EFULL: the store is full, offsets unmoved). */
int hub_projector_run(const hub_config_t *cfg, const hub_projector_opts_t *o,
                      hub_projector_stats_t *stats, char *err, size_t errlen);

/* The store path of the customer-360 projection: DATA_DIR/customer360. */
void hub_projector_store_path(const hub_config_t *cfg, char *out,
                              size_t outlen);

#endif
