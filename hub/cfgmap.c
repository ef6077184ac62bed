/*
 * hub360 - declarative configuration tables: defaults, parsing,
 * validation and the generated reference all come from one table.
 */
#include "cfgmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

#define FIELD(base, e) ((char *)(base) + (e)->offset)

static const char *type_name(hub_cfg_type t) {
    switch (t) {
    case HUB_CFG_STR: return "string";
    case HUB_CFG_INT: return "integer";
    case HUB_CFG_BOOL: return "boolean";
    case HUB_CFG_DURATION: return "duration";
    case HUB_CFG_SIZE: return "size";
    case HUB_CFG_STRLIST: return "list of strings";
    case HUB_CFG_STRMAP: return "map of strings";
    case HUB_CFG_SECTION: return "section";
    case HUB_CFG_LIST: return "list";
    }
    return "?";
}

static const char *node_kind(const hub_ynode_t *n) {
    if (n->type == HUB_YMAP) return "a mapping";
    if (n->type == HUB_YSEQ) return "a list";
    return "a scalar";
}

/* ------------------------------------------------------------------ */
/* Scalars                                                             */
/* ------------------------------------------------------------------ */

/* 0 with *out; 1 for a whole number beyond a long; -1 for anything
 * else. */
static int parse_long(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end)
        return -1;
    if (errno == ERANGE)
        return 1;
    if (errno)
        return -1;
    *out = v;
    return 0;
}

int hub_cfg_parse_duration(const char *s, int64_t *ms) {
    static const struct { const char *unit; int64_t ms; } units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
        {"d", 86400000},
    };
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return HUB_EINVAL;
    if (*end == '\0')
        return v == 0 ? (*ms = 0, 0) : HUB_EINVAL; /* a unit is required */
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            if (v > INT64_MAX / units[i].ms)
                return HUB_EINVAL;
            *ms = (int64_t)v * units[i].ms;
            return 0;
        }
    }
    return HUB_EINVAL;
}

int hub_cfg_parse_size(const char *s, int64_t *bytes) {
    static const struct { const char *unit; int64_t mult; } units[] = {
        {"", 1},          {"B", 1},           {"KB", 1000},
        {"MB", 1000000},  {"GB", 1000000000}, {"KiB", 1024},
        {"MiB", 1048576}, {"GiB", 1073741824},
    };
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return HUB_EINVAL;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            if (v > INT64_MAX / units[i].mult)
                return HUB_EINVAL;
            *bytes = (int64_t)v * units[i].mult;
            return 0;
        }
    }
    return HUB_EINVAL;
}

static int parse_bool(const char *s, int *out) {
    static const char *const yes[] = {"true", "yes", "on", "True", "Yes", "On"};
    static const char *const no[] = {"false", "no", "off", "False", "No", "Off"};
    for (size_t i = 0; i < 6; i++) {
        if (strcmp(s, yes[i]) == 0)
            return *out = 1, 0;
        if (strcmp(s, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

static int in_choices(const char *choices, const char *s) {
    size_t len = strlen(s);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && strncmp(p, s, n) == 0)
            return 1;
        p += n + (bar ? 1 : 0);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Freeing                                                             */
/* ------------------------------------------------------------------ */

static void free_strmap(hub_strmap_t *m) {
    for (size_t i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->vals[i]);
    }
    free(m->keys);
    free(m->vals);
    m->keys = m->vals = NULL;
    m->n = 0;
}

static void free_value(const hub_cfg_entry_t *e, void *base) {
    void *p = FIELD(base, e);
    switch (e->type) {
    case HUB_CFG_STR:
        free(*(char **)p);
        *(char **)p = NULL;
        break;
    case HUB_CFG_STRLIST: hub_strlist_free(p); break;
    case HUB_CFG_STRMAP: free_strmap(p); break;
    case HUB_CFG_SECTION: hub_cfg_free(e->sub, p); break;
    case HUB_CFG_LIST: {
        hub_cfg_list_t *l = p;
        for (size_t i = 0; i < l->n; i++)
            hub_cfg_free(e->sub, (char *)l->items + i * e->item_size);
        free(l->items);
        l->items = NULL;
        l->n = 0;
        break;
    }
    default: break;
    }
}

void hub_cfg_free(const hub_cfg_entry_t *table, void *base) {
    if (!base)
        return;
    for (const hub_cfg_entry_t *e = table; e->name; e++)
        free_value(e, base);
}

/* ------------------------------------------------------------------ */
/* Applying a node to one entry                                        */
/* ------------------------------------------------------------------ */

typedef struct apply_ctx {
    const char *file;
    char *err;
    size_t errlen;
} apply_ctx;

static int fail_at(apply_ctx *c, const hub_ynode_t *n, const char *path,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail_at(apply_ctx *c, const hub_ynode_t *n, const char *path,
                   const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n && n->unset && !strstr(msg, n->unset)) /* often the cause */
        return hub_fail(c->err, c->errlen, HUB_ECONFIG,
                        "%s:%d: %s: %s (${%s} is not set)", c->file, n->line,
                        path, msg, n->unset);
    if (n)
        return hub_fail(c->err, c->errlen, HUB_ECONFIG, "%s:%d: %s: %s",
                        c->file, n->line, path, msg);
    return hub_fail(c->err, c->errlen, HUB_ECONFIG, "%s: %s: %s", c->file,
                    path, msg);
}

static int apply_table(apply_ctx *c, const hub_cfg_entry_t *table,
                       void *base, const hub_ynode_t *node, const char *path);

static int set_scalar(apply_ctx *c, const hub_cfg_entry_t *e, void *p,
                      const hub_ynode_t *n, const char *path) {
    if (n->type != HUB_YSCALAR)
        return fail_at(c, n, path, "expected %s %s, got %s",
                       e->type == HUB_CFG_INT ? "an" : "a", type_name(e->type),
                       node_kind(n));
    const char *s = n->null ? "" : n->str;
    switch (e->type) {
    case HUB_CFG_STR: {
        /* "${VAR}" with VAR unset is a mistake far more often than a wish
         * for "" (a webhook secret that disables webhooks, a bearer token
         * that gets 401s): ${VAR:-} says the wish */
        if (n->unset && !*s)
            return fail_at(c, n, path, "empty: ${%s} is not set (write "
                                       "${%s:-} if empty is meant)",
                           n->unset, n->unset);
        if (e->choices && !in_choices(e->choices, s))
            /* a leading '|' allows "": said so rather than shown bare */
            return fail_at(c, n, path, "expected one of %s%s, got \"%s\"",
                           e->choices[0] == '|' ? "\"\"" : "", e->choices,
                           s);
        char *dup = strdup(s);
        if (!dup)
            return HUB_ENOMEM;
        free(*(char **)p);
        *(char **)p = dup;
        return 0;
    }
    case HUB_CFG_INT: {
        long v;
        int bad = parse_long(s, &v);
        if (bad == 1 && e->min < e->max)
            return fail_at(c, n, path, "%s is out of range %ld..%ld", s,
                           e->min, e->max);
        if (bad == 1)
            return fail_at(c, n, path, "%s is too large an integer", s);
        if (!bad && !n->plain)
            return fail_at(c, n, path, "expected an integer, got the "
                                       "string \"%s\" (write it without "
                                       "quotes)", s);
        if (bad)
            return fail_at(c, n, path, "expected an integer, got \"%s\"", s);
        if (e->min < e->max && (v < e->min || v > e->max))
            return fail_at(c, n, path, "%ld is out of range %ld..%ld", v,
                           e->min, e->max);
        *(long *)p = v;
        return 0;
    }
    case HUB_CFG_BOOL:
        if (!n->plain || parse_bool(s, p))
            return fail_at(c, n, path, "expected true or false, got \"%s\"",
                           s);
        return 0;
    case HUB_CFG_DURATION:
        if (hub_cfg_parse_duration(s, p))
            return fail_at(c, n, path,
                           "expected a duration like 500ms, 30s, 5m, 1h or "
                           "7d, got \"%s\"",
                           s);
        return 0;
    case HUB_CFG_SIZE:
        if (hub_cfg_parse_size(s, p))
            return fail_at(c, n, path,
                           "expected a size like 4096, 64KiB or 1GiB, got "
                           "\"%s\"",
                           s);
        return 0;
    default:
        return HUB_EINVAL;
    }
}

static int set_strlist(apply_ctx *c, hub_strlist_t *l, const hub_ynode_t *n,
                       const char *path) {
    hub_strlist_free(l);
    if (n->type == HUB_YSCALAR && n->null)
        return 0;
    if (n->type != HUB_YSEQ)
        return fail_at(c, n, path, "expected a list of strings, got %s",
                       node_kind(n));
    l->v = calloc(n->n ? n->n : 1, sizeof *l->v);
    if (!l->v)
        return HUB_ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        const hub_ynode_t *it = n->items[i];
        if (it->type != HUB_YSCALAR || it->null) {
            char ipath[256];
            snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
            return fail_at(c, it, ipath, "expected a string, got %s",
                           it->null ? "null" : node_kind(it));
        }
        if (!(l->v[i] = strdup(it->str)))
            return HUB_ENOMEM;
        l->n++;
    }
    return 0;
}

static int set_strmap(apply_ctx *c, hub_strmap_t *m, const hub_ynode_t *n,
                      const char *path) {
    free_strmap(m);
    if (n->type == HUB_YSCALAR && n->null)
        return 0;
    if (n->type != HUB_YMAP)
        return fail_at(c, n, path, "expected a mapping, got %s",
                       node_kind(n));
    size_t cap = n->n ? n->n : 1;
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = calloc(cap, sizeof *m->vals);
    if (!m->keys || !m->vals)
        return HUB_ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        const hub_ynode_t *k = hub_ynode_key(n, i), *v = hub_ynode_val(n, i);
        if (v->type != HUB_YSCALAR) {
            char kpath[256];
            snprintf(kpath, sizeof kpath, "%s.%s", path, k->str);
            return fail_at(c, v, kpath, "expected a string, got %s",
                           node_kind(v));
        }
        m->keys[i] = strdup(k->str);
        m->vals[i] = strdup(v->null ? "" : v->str);
        m->n++;
        if (!m->keys[i] || !m->vals[i])
            return HUB_ENOMEM;
    }
    return 0;
}

static int set_list(apply_ctx *c, const hub_cfg_entry_t *e,
                    hub_cfg_list_t *l, const hub_ynode_t *n,
                    const char *path) {
    free_value(e, (char *)l - e->offset);
    if (n->type == HUB_YSCALAR && n->null)
        return 0;
    if (n->type != HUB_YSEQ)
        return fail_at(c, n, path, "expected a list, got %s", node_kind(n));
    l->items = calloc(n->n ? n->n : 1, e->item_size);
    if (!l->items)
        return HUB_ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        char ipath[256];
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        l->n++; /* counted first so a failure frees the partial item */
        int rc = apply_table(c, e->sub, (char *)l->items + i * e->item_size,
                             n->items[i], ipath);
        if (rc)
            return rc;
        char msg[512] = "";
        if (e->item_check && e->item_check(l->items, i, msg, sizeof msg))
            return fail_at(c, n->items[i], ipath, "%s", msg);
    }
    return 0;
}

static int set_value(apply_ctx *c, const hub_cfg_entry_t *e, void *base,
                     const hub_ynode_t *n, const char *path) {
    void *p = FIELD(base, e);
    int rc;
    switch (e->type) {
    case HUB_CFG_STRLIST: rc = set_strlist(c, p, n, path); break;
    case HUB_CFG_STRMAP: rc = set_strmap(c, p, n, path); break;
    case HUB_CFG_SECTION: rc = apply_table(c, e->sub, p, n, path); break;
    case HUB_CFG_LIST: rc = set_list(c, e, p, n, path); break;
    default: rc = set_scalar(c, e, p, n, path);
    }
    if (rc == 0 && e->check) {
        char msg[256] = "";
        if (e->check(p, msg, sizeof msg))
            return fail_at(c, n, path, "%s", msg);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Tables                                                              */
/* ------------------------------------------------------------------ */

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

static int unknown_key(apply_ctx *c, const hub_cfg_entry_t *table,
                       const hub_ynode_t *key, const char *path) {
    const char *best = NULL;
    size_t best_d = 3;
    hub_buf_t known = HUB_BUF_INIT;
    for (const hub_cfg_entry_t *e = table; e->name; e++) {
        size_t d = edit_distance(key->str, e->name);
        if (d < best_d) {
            best_d = d;
            best = e->name;
        }
        hub_buf_printf(&known, "%s%s", known.len ? ", " : "", e->name);
    }
    int rc;
    if (best)
        rc = fail_at(c, key, path, "unknown key (did you mean \"%s\"?)",
                     best);
    else
        rc = fail_at(c, key, path, "unknown key (known here: %s)",
                     known.data ? known.data : "none");
    hub_buf_free(&known);
    return rc;
}

static void join_path(char *out, size_t outlen, const char *path,
                      const char *key) {
    if (path && *path)
        snprintf(out, outlen, "%s.%s", path, key);
    else
        snprintf(out, outlen, "%s", key);
}

static int apply_defaults(apply_ctx *c, const hub_cfg_entry_t *table,
                          void *base, const char *path) {
    for (const hub_cfg_entry_t *e = table; e->name; e++) {
        char kpath[256];
        join_path(kpath, sizeof kpath, path, e->name);
        free_value(e, base);
        if (e->type == HUB_CFG_SECTION) {
            int rc = apply_defaults(c, e->sub, FIELD(base, e), kpath);
            if (rc)
                return rc;
            continue;
        }
        const char *def = e->def;
        if (!def && e->type == HUB_CFG_STR) {
            /* empty, unchecked: choices and checks judge what a file
             * says, and `required` what it leaves out */
            if (!(*(char **)FIELD(base, e) = strdup("")))
                return HUB_ENOMEM;
            continue;
        }
        if (!def)
            continue; /* zero, empty list or map */
        hub_ynode_t *n = NULL;
        int rc = hub_yaml_parse("(default)", def, strlen(def), &n, c->err,
                                c->errlen);
        if (rc == 0) {
            hub_ynode_t empty = {.type = HUB_YSCALAR, .null = 1, .plain = 1};
            apply_ctx dc = {"(built-in default)", c->err, c->errlen};
            rc = set_value(&dc, e, base, n ? n : &empty, kpath);
        }
        hub_ynode_free(n);
        if (rc)
            return rc;
    }
    return 0;
}

static int apply_table(apply_ctx *c, const hub_cfg_entry_t *table,
                       void *base, const hub_ynode_t *node, const char *path) {
    int rc = apply_defaults(c, table, base, path);
    if (rc || !node || (node->type == HUB_YSCALAR && node->null))
        goto required;
    if (node->type != HUB_YMAP)
        return fail_at(c, node, *path ? path : "(top level)",
                       "expected a mapping of keys, got %s", node_kind(node));
    for (size_t i = 0; i < node->n; i++) {
        const hub_ynode_t *k = hub_ynode_key(node, i);
        char kpath[256];
        join_path(kpath, sizeof kpath, path, k->str);
        const hub_cfg_entry_t *e = table;
        while (e->name && strcmp(e->name, k->str) != 0)
            e++;
        if (!e->name)
            return unknown_key(c, table, k, kpath);
        if ((rc = set_value(c, e, base, hub_ynode_val(node, i), kpath)))
            return rc;
    }
required:
    if (rc)
        return rc;
    for (const hub_cfg_entry_t *e = table; e->name; e++) {
        if (!e->required)
            continue;
        int found = 0;
        for (size_t i = 0; node && node->type == HUB_YMAP && i < node->n; i++)
            found |= strcmp(hub_ynode_key(node, i)->str, e->name) == 0;
        if (!found)
            return fail_at(c, node, *path ? path : "(top level)",
                           "missing required key \"%s\"", e->name);
    }
    return 0;
}

int hub_cfg_apply(const hub_cfg_entry_t *table, void *base,
                  const hub_ynode_t *node, const char *file, const char *path,
                  char *err, size_t errlen) {
    apply_ctx c = {file ? file : "(config)", err, errlen};
    return apply_table(&c, table, base, node, path ? path : "");
}

/* ------------------------------------------------------------------ */
/* Reference                                                           */
/* ------------------------------------------------------------------ */

int hub_cfg_describe(const hub_cfg_entry_t *table, const char *path,
                     hub_buf_t *out) {
    for (const hub_cfg_entry_t *e = table; e->name; e++) {
        char kpath[256];
        join_path(kpath, sizeof kpath, path, e->name);
        if (e->type == HUB_CFG_SECTION) {
            hub_cfg_describe(e->sub, kpath, out);
            continue;
        }
        const char *type = type_name(e->type);
        char tbuf[256];
        if (e->type == HUB_CFG_STR && e->choices) {
            /* each choice its own code span: a '|' inside one would end
             * the Markdown table's cell */
            size_t n = (size_t)snprintf(tbuf, sizeof tbuf, "one of ");
            for (const char *c = e->choices; n < sizeof tbuf;) {
                const char *bar = strchr(c, '|');
                size_t len = bar ? (size_t)(bar - c) : strlen(c);
                n += (size_t)snprintf(tbuf + n, sizeof tbuf - n, "%s`%.*s`",
                                      c == e->choices ? "" : ", ",
                                      len ? (int)len : 2, len ? c : "\"\"");
                if (!bar)
                    break;
                c = bar + 1;
            }
            type = tbuf;
        } else if (e->type == HUB_CFG_INT && e->min < e->max) {
            snprintf(tbuf, sizeof tbuf, "integer %ld..%ld", e->min, e->max);
            type = tbuf;
        }
        hub_buf_printf(out, "| `%s` | %s | %s%s%s | %s%s |\n", kpath, type,
                       e->def ? "`" : "", e->def ? e->def : "",
                       e->def ? "`" : "", e->desc ? e->desc : "",
                       e->required ? " Required." : "");
        if (e->type == HUB_CFG_LIST) {
            char ipath[260];
            snprintf(ipath, sizeof ipath, "%s[]", kpath);
            hub_cfg_describe(e->sub, ipath, out);
        }
    }
    return 0;
}

const char *hub_strmap_get(const hub_strmap_t *m, const char *key) {
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->keys[i], key) == 0)
            return m->vals[i];
    }
    return NULL;
}

int hub_strlist_has(const hub_strlist_t *l, const char *s) {
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i], s) == 0)
            return 1;
    }
    return 0;
}

int hub_strlist_push(hub_strlist_t *l, const char *s, size_t n) {
    char *copy = strndup(s, n);
    char **v = copy ? realloc(l->v, (l->n + 1) * sizeof *v) : NULL;
    if (!v) {
        free(copy);
        return HUB_ENOMEM;
    }
    v[l->n++] = copy;
    l->v = v;
    return 0;
}

void hub_strlist_free(hub_strlist_t *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int hub_cfg_check_url(const void *value, char *msg, size_t msglen) {
    const char *s = *(char *const *)value;
    if (*s && strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) {
        snprintf(msg, msglen, "expected an http:// or https:// URL, got \"%s\"",
                 s);
        return -1;
    }
    return 0;
}
