/*
 * hub360 - the poller's cursors: where each polled resource stands, how
 * two positions compare, and their LMDB table.
 *
 * A position is (at, id): the updated-at of a record as the vendor wrote
 * it (RFC 3339) and the record's id. A cursor is the greatest position
 * produced, and the ids of the other records produced at that same
 * instant (its ties). The poller asks the vendor for records at or after
 * cursor.at and drops those before it, and those at it that the cursor
 * names: records sharing one timestamp are neither skipped nor repeated,
 * across a page boundary or a sync, in whatever order the vendor lists
 * them (HubSpot's search sorts on one property; Zendesk's export has
 * seconds). `at` compares as an instant at full precision (microseconds
 * past the millisecond included), ids numerically when both are
 * integers, else byte-wise.
 *
 * The cursors live in an LMDB environment of their own,
 * DATA_DIR/adapters, table `cursors`: key "<source>/<resource>", value
 * JSON {"at": ..., "id": ...}, with "ties": [ids] when other records
 * share its instant (at most HUB_POLL_TIES_MAX; past that, ties are
 * produced again, which their event ids make harmless), and with
 * poll.lookback "lookback": {"recent": {id: at}, "floor": at}: the
 * latest version of each record produced within the lookback before it,
 * and, once HUB_POLL_RECENT_MAX of them filled it and its older half was
 * dropped, the latest of those (records at or before it count as
 * produced). One short write transaction per page.
 */
#ifndef HUB_POLL_CURSOR_H
#define HUB_POLL_CURSOR_H

#include <jansson.h>
#include <stddef.h>

#define HUB_POLL_AT_MAX 64   /* bytes of an `at`, NUL included */
#define HUB_POLL_ID_MAX 256  /* bytes of an `id`, NUL included */
#define HUB_POLL_TIES_MAX 1000 /* ids a cursor keeps besides its own */
#define HUB_POLL_RECENT_MAX 5000 /* records it keeps of its lookback */

typedef struct hub_poll_pos {
    char at[HUB_POLL_AT_MAX];
    char id[HUB_POLL_ID_MAX];
} hub_poll_pos_t;

/*
 * Orders two timestamps as instants: by their UTC milliseconds, then by
 * the fraction digits past the third. A side that does not parse as
 * RFC 3339 compares byte-wise with the other (a vendor's odd format is
 * then at least consistent with itself). <0, 0 or >0.
 */
int hub_poll_at_cmp(const char *a, const char *b);

/* Orders two ids: numerically when both are integers (any length, an
 * optional '-'), else byte-wise. */
int hub_poll_id_cmp(const char *a, const char *b);

/* Orders positions on (at, id). */
int hub_poll_pos_cmp(const hub_poll_pos_t *a, const hub_poll_pos_t *b);

/*
 * Reads what poll_cursor returned ({"at": string, "id": string or
 * integer}) into out. HUB_EINVAL naming what is missing or too long.
 */
int hub_poll_pos_from_json(const json_t *v, hub_poll_pos_t *out, char *err,
                           size_t errlen);

/* {"at": ..., "id": ...}, a new reference (NULL when out of memory). */
json_t *hub_poll_pos_to_json(const hub_poll_pos_t *p);

/* ------------------------------------------------------------------ */
/* The cursor table                                                    */
/* ------------------------------------------------------------------ */

typedef struct hub_poll_cursors hub_poll_cursors_t;

/*
 * Opens (creating it) the environment at dir (DATA_DIR/adapters) as its
 * one writer. HUB_ESTATE when another process holds it; HUB_EIO.
 */
int hub_poll_cursors_open(const char *dir, hub_poll_cursors_t **out,
                          char *err, size_t errlen);
void hub_poll_cursors_close(hub_poll_cursors_t *c); /* NULL is fine */

/*
 * Reads the cursor of source/resource into out, and when ties is not
 * NULL its ties (a new array, empty when none), when look is not NULL
 * its lookback (a new object, empty when none): 0, HUB_ENOENT when there
 * is none yet, or an error (HUB_EDECODE when the stored value is not a
 * position, or its lookback is not of the shape above). Thread-safe.
 */
int hub_poll_cursors_get(hub_poll_cursors_t *c, const char *source,
                         const char *resource, hub_poll_pos_t *out,
                         json_t **ties, json_t **look, char *err,
                         size_t errlen);

/* Stores it in one write transaction (durable once it returns 0); ties
 * and look may be NULL, and are kept only when they hold something.
 * Thread-safe. */
int hub_poll_cursors_put(hub_poll_cursors_t *c, const char *source,
                         const char *resource, const hub_poll_pos_t *pos,
                         const json_t *ties, const json_t *look, char *err,
                         size_t errlen);

#endif
