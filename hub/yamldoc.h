/*
 * hub360 - YAML documents as a small tree that remembers line numbers.
 *
 * The config loader walks this tree with its declarative tables, so every
 * error can name the file and line at fault. Scalars have ${VAR} and
 * ${VAR:-default} replaced from the environment when parsed. Anchors,
 * aliases, tags other than the core ones and multi-document streams are
 * rejected: a config file has no use for them.
 */
#ifndef HUB_YAMLDOC_H
#define HUB_YAMLDOC_H

#include <stddef.h>

typedef enum hub_ynode_type {
    HUB_YSCALAR,
    HUB_YMAP,
    HUB_YSEQ,
} hub_ynode_type;

typedef struct hub_ynode hub_ynode_t;
struct hub_ynode {
    hub_ynode_type type;
    int line;   /* 1-based */
    int plain;  /* scalar written without quotes */
    int null;   /* plain scalar null, ~ or empty */
    char *str;  /* scalar text after ${VAR} expansion */
    char *unset; /* the first ${VAR} of str that was unset or empty, with
                    no default (it expanded to nothing), or NULL */
    size_t n;   /* sequence items, or map entries (pairs) */
    size_t nitems; /* slots used in items */
    hub_ynode_t **items; /* sequence: items; map: keys and values, paired */
};

#define hub_ynode_key(node, i) ((node)->items[2 * (i)])
#define hub_ynode_val(node, i) ((node)->items[2 * (i) + 1])

/*
 * Parses YAML text (name is used in messages only). On success *out is the
 * root node, or NULL for an empty document; free it with hub_ynode_free.
 * On error returns HUB_ECONFIG with "NAME:LINE: reason" in err.
 */
int hub_yaml_parse(const char *name, const char *text, size_t len,
                   hub_ynode_t **out, char *err, size_t errlen);

void hub_ynode_free(hub_ynode_t *node);

#endif
