/*
 * hub360 - declarative configuration tables.
 *
 * Each component declares its settings once, as a table of entries (key,
 * type, default, offset into its struct, description). The same table
 * drives defaults, parsing, validation, unknown-key errors and the
 * configuration reference, so the docs cannot drift from the code. The
 * idea is Fluent Bit's config_map.
 *
 * Defaults are written as YAML text ("12", "30s", "[email, phone]") and go
 * through the same parser as the file, so a default can never hold a value
 * the file could not.
 */
#ifndef HUB_CFGMAP_H
#define HUB_CFGMAP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "yamldoc.h"

typedef enum hub_cfg_type {
    HUB_CFG_STR,      /* char * (malloc'd, never NULL after defaults) */
    HUB_CFG_INT,      /* long */
    HUB_CFG_BOOL,     /* int, 0 or 1 */
    HUB_CFG_DURATION, /* int64_t milliseconds; "500ms", "30s", "5m", "7d" */
    HUB_CFG_SIZE,     /* int64_t bytes; "512", "64KiB", "1GiB", "10MB" */
    HUB_CFG_STRLIST,  /* hub_strlist_t */
    HUB_CFG_STRMAP,   /* hub_strmap_t: string keys, scalar values as text */
    HUB_CFG_SECTION,  /* a nested struct at offset, described by `sub` */
    HUB_CFG_LIST,     /* hub_cfg_list_t of structs described by `sub` */
} hub_cfg_type;

typedef struct hub_strlist {
    char **v;
    size_t n;
} hub_strlist_t;

typedef struct hub_strmap {
    char **keys;
    char **vals;
    size_t n;
} hub_strmap_t;

typedef struct hub_cfg_list {
    void *items; /* n structs of the entry's item_size bytes */
    size_t n;
} hub_cfg_list_t;

typedef struct hub_cfg_entry hub_cfg_entry_t;

/* Extra validation of a parsed value: 0, or an error with a message that
 * the loader prefixes with "FILE:LINE: key.path: ". */
typedef int (*hub_cfg_check_fn)(const void *value, char *msg, size_t msglen);
/* The same for item i of a LIST (items: its array of item structs), with
 * the items before it parsed and checked: the message is prefixed with
 * the item's own line and path ("FILE:LINE: list[i]: "). */
typedef int (*hub_cfg_item_check_fn)(const void *items, size_t i, char *msg,
                                     size_t msglen);

struct hub_cfg_entry {
    hub_cfg_type type;
    const char *name;
    const char *def;       /* default in YAML syntax; NULL: empty/zero */
    size_t offset;         /* of the value in the component's struct */
    const char *desc;      /* one sentence for the reference */
    const hub_cfg_entry_t *sub; /* SECTION and LIST: the nested table */
    size_t item_size;      /* LIST: sizeof the item struct */
    long min, max;         /* INT: inclusive range, when min < max */
    const char *choices;   /* STR: allowed values, "a|b|c" */
    int required;          /* must appear in the file (list items) */
    hub_cfg_check_fn check;
    hub_cfg_item_check_fn item_check; /* LIST: each item */
};

/* One table entry: HUB_CFG(type, key, default, struct, field, description,
 * optional designated extras such as .min = 1, .max = 9, .check = fn). */
#define HUB_CFG(t, key, dflt, st, field, description, ...)                    \
    {.type = (t), .name = (key), .def = (dflt), .offset = offsetof(st, field), \
     .desc = (description), __VA_ARGS__}

/*
 * Fills `base` (a struct described by table) with the table's defaults,
 * then applies node (NULL: nothing) on top. `file` names the source in
 * messages; `path` is the key prefix ("" at the top). Unknown keys, wrong
 * types, out-of-range values and failed checks return HUB_ECONFIG with
 * "FILE:LINE: key.path: reason" in err. On error base may hold partial
 * values: free it with hub_cfg_free either way.
 */
int hub_cfg_apply(const hub_cfg_entry_t *table, void *base,
                  const hub_ynode_t *node, const char *file, const char *path,
                  char *err, size_t errlen);

/* A check (hub_cfg_check_fn) of a STR that is empty or an http:// or
 * https:// URL. */
int hub_cfg_check_url(const void *value, char *msg, size_t msglen);

/* Frees every value the table owns in base (not base itself). */
void hub_cfg_free(const hub_cfg_entry_t *table, void *base);

/* Appends a Markdown reference (one table row per key) for table. */
int hub_cfg_describe(const hub_cfg_entry_t *table, const char *path,
                     hub_buf_t *out);

/* Parses "30s"-style durations and "64MiB"-style sizes (for callers that
 * read such values outside a table, e.g. command-line options). */
int hub_cfg_parse_duration(const char *s, int64_t *ms);
int hub_cfg_parse_size(const char *s, int64_t *bytes);

/* Returns the value for key in m, or NULL. */
const char *hub_strmap_get(const hub_strmap_t *m, const char *key);
/* Returns 1 if s is in l. */
int hub_strlist_has(const hub_strlist_t *l, const char *s);
/* Appends a copy of the n bytes at s; HUB_ENOMEM leaves l as it was. */
int hub_strlist_push(hub_strlist_t *l, const char *s, size_t n);
/* Frees every string and the array; l is empty afterwards. */
void hub_strlist_free(hub_strlist_t *l);

#endif
