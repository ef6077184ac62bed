/*
 * hub360 - YAML to tree, on libyaml's event parser.
 *
 * The parser is a small recursive descent over libyaml events: each
 * call consumes one node (scalar, mapping or sequence) and returns it.
 * Nesting is bounded so a hostile file cannot exhaust the stack.
 */
#include "yamldoc.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "buf.h"
#include "errors.h"

#define MAX_DEPTH 64

typedef struct parse_ctx {
    yaml_parser_t parser;
    const char *text;  /* the input, for hints about what is at fault */
    size_t len;
    const char *name;
    char *err;
    size_t errlen;
    /* where the parser is, for a syntax error: path[0..level) are the
     * keys (NULL for a sequence's item, at index[i]) down to it */
    const char *path[MAX_DEPTH + 2];
    size_t index[MAX_DEPTH + 2];
    int level;
} parse_ctx;

void hub_ynode_free(hub_ynode_t *node) {
    if (!node)
        return;
    for (size_t i = 0; i < node->nitems; i++)
        hub_ynode_free(node->items[i]);
    free(node->items);
    free(node->str);
    free(node->unset);
    free(node);
}

/* Appends kid at slot `used` of parent's item array. */
static int push(hub_ynode_t *parent, size_t used, hub_ynode_t *kid) {
    if ((used & (used - 1)) == 0) { /* grow at powers of two */
        size_t cap = used ? used * 2 : 4;
        hub_ynode_t **p = realloc(parent->items, cap * sizeof *p);
        if (!p)
            return HUB_ENOMEM;
        parent->items = p;
    }
    parent->items[used] = kid;
    return 0;
}

/* Replaces ${VAR} and ${VAR:-default}; "$$" stands for a literal '$'.
 * *unset gets the name of the first variable that expanded to nothing
 * (unset or empty, no default): messages about the value mention it. */
static int expand_env(parse_ctx *c, int line, const char *in, size_t len,
                      char **out, char **unset) {
    hub_buf_t b = HUB_BUF_INIT;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '$' && i + 1 < len && in[i + 1] == '$') {
            hub_buf_putc(&b, '$');
            i++;
            continue;
        }
        if (in[i] != '$' || i + 1 >= len || in[i + 1] != '{') {
            hub_buf_putc(&b, in[i]);
            continue;
        }
        const char *start = in + i + 2;
        const char *end = memchr(start, '}', len - (i + 2));
        if (!end) {
            hub_buf_free(&b);
            return hub_fail(c->err, c->errlen, HUB_ECONFIG,
                            "%s:%d: unterminated ${ in \"%.*s\"", c->name,
                            line, (int)len, in);
        }
        char name[256];
        size_t nlen = (size_t)(end - start);
        const char *dflt = NULL;
        size_t dlen = 0;
        const char *sep = NULL;
        for (const char *p = start; p + 1 < end; p++) {
            if (p[0] == ':' && p[1] == '-') {
                sep = p;
                break;
            }
        }
        if (sep) {
            dflt = sep + 2;
            dlen = (size_t)(end - dflt);
            nlen = (size_t)(sep - start);
        }
        if (nlen == 0 || nlen >= sizeof name) {
            hub_buf_free(&b);
            return hub_fail(c->err, c->errlen, HUB_ECONFIG,
                            "%s:%d: bad variable name in \"%.*s\"", c->name,
                            line, (int)len, in);
        }
        memcpy(name, start, nlen);
        name[nlen] = '\0';
        const char *val = getenv(name);
        if (val && *val) {
            hub_buf_puts(&b, val);
        } else if (dflt) {
            hub_buf_append(&b, dflt, dlen);
        } else if (!*unset && !(*unset = strdup(name))) {
            hub_buf_free(&b);
            return HUB_ENOMEM;
        }
        i = (size_t)(end - in);
    }
    if (hub_buf_reserve(&b, 0)) {
        hub_buf_free(&b);
        return HUB_ENOMEM;
    }
    *out = hub_buf_steal(&b, NULL);
    return *out ? 0 : HUB_ENOMEM;
}

/* " (note; from line N, in a.b[2].c)": a note, where a syntax error's
 * construct began when not on the error's line, and the keys (and items)
 * down to where the parser was; "" when none says anything. */
static void where(const parse_ctx *c, size_t line, const char *note,
                  char *out, size_t outlen) {
    char path[512] = "";
    size_t n = 0;
    for (int i = 0; i < c->level && n < sizeof path; i++) {
        if (c->path[i])
            n += (size_t)snprintf(path + n, sizeof path - n, "%s%s",
                                  i ? "." : "", c->path[i]);
        else
            n += (size_t)snprintf(path + n, sizeof path - n, "[%zu]",
                                  c->index[i]);
    }
    size_t from = c->parser.context_mark.line + 1;
    char at[64] = "";
    if (c->parser.context && from < line)
        snprintf(at, sizeof at, "from line %zu", from);
    if (!note[0] && !at[0] && !path[0]) {
        out[0] = '\0';
        return;
    }
    snprintf(out, outlen, " (%s%s%s%s%s%s)", note,
             note[0] && (at[0] || path[0]) ? "; " : "", at,
             at[0] && path[0] ? ", " : "", path[0] ? "in " : "", path);
}

static int next_event(parse_ctx *c, yaml_event_t *ev) {
    if (!yaml_parser_parse(&c->parser, ev)) {
        const char *what = c->parser.problem ? c->parser.problem : "syntax";
        size_t line = c->parser.problem_mark.line + 1;
        size_t at = c->parser.problem_mark.index;
        /* libyaml's words for a tab say nothing of tabs */
        const char *hint = at < c->len && c->text[at] == '\t'
                               ? "a tab: YAML indents with spaces"
                               : "";
        char in[700];
        where(c, line, hint, in, sizeof in);
        return hub_fail(c->err, c->errlen, HUB_ECONFIG, "%s:%zu: %s%s%s%s",
                        c->name, line, what, c->parser.context ? " " : "",
                        c->parser.context ? c->parser.context : "", in);
    }
    return 0;
}

static int parse_node(parse_ctx *c, yaml_event_t *ev, int depth,
                      hub_ynode_t **out);

/* Parses children until the matching end event. In a map, keys and
 * values alternate in `items`; n counts pairs once each value arrives. */
static int parse_children(parse_ctx *c, hub_ynode_t *node, int depth) {
    int is_map = node->type == HUB_YMAP;
    yaml_event_type_t end =
        is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
    size_t used = 0;
    for (;;) {
        if (depth <= MAX_DEPTH) { /* where the next event belongs */
            c->level = depth;
            if (!is_map) {
                c->path[depth] = NULL;
                c->index[depth] = used;
                c->level = depth + 1;
            } else if (used % 2) {
                c->path[depth] = node->items[used - 1]->str;
                c->level = depth + 1;
            }
        }
        yaml_event_t ev;
        int rc = next_event(c, &ev);
        if (rc)
            return rc;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return 0;
        }
        hub_ynode_t *kid = NULL;
        rc = parse_node(c, &ev, depth + 1, &kid);
        yaml_event_delete(&ev);
        if (rc)
            return rc;
        if (is_map && used % 2 == 0) {
            int line = kid->line;
            if (kid->type != HUB_YSCALAR || kid->null) {
                hub_ynode_free(kid);
                return hub_fail(c->err, c->errlen, HUB_ECONFIG,
                                "%s:%d: a key must be a plain string",
                                c->name, line);
            }
            for (size_t k = 0; k < node->n; k++) {
                if (strcmp(hub_ynode_key(node, k)->str, kid->str) == 0) {
                    rc = hub_fail(c->err, c->errlen, HUB_ECONFIG,
                                  "%s:%d: duplicate key \"%s\" (first at "
                                  "line %d)",
                                  c->name, line, kid->str,
                                  hub_ynode_key(node, k)->line);
                    hub_ynode_free(kid);
                    return rc;
                }
            }
        }
        if ((rc = push(node, used, kid))) {
            hub_ynode_free(kid);
            return rc;
        }
        node->nitems = ++used;
        node->n = is_map ? used / 2 : used;
    }
}

static int is_null_scalar(const char *s, size_t len) {
    return len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 && (memcmp(s, "null", 4) == 0 ||
                         memcmp(s, "Null", 4) == 0 ||
                         memcmp(s, "NULL", 4) == 0));
}

static int parse_node(parse_ctx *c, yaml_event_t *ev, int depth,
                      hub_ynode_t **out) {
    int line = (int)ev->start_mark.line + 1;
    if (depth > MAX_DEPTH)
        return hub_fail(c->err, c->errlen, HUB_ECONFIG,
                        "%s:%d: nested more than %d levels deep", c->name,
                        line, MAX_DEPTH);
    if (ev->type == YAML_ALIAS_EVENT)
        return hub_fail(c->err, c->errlen, HUB_ECONFIG,
                        "%s:%d: aliases (*name) are not supported", c->name,
                        line);
    hub_ynode_t *node = calloc(1, sizeof *node);
    if (!node)
        return HUB_ENOMEM;
    node->line = line;
    int rc = 0;
    const yaml_char_t *anchor = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        const char *v = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        anchor = ev->data.scalar.anchor;
        node->type = HUB_YSCALAR;
        node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        node->null = node->plain && is_null_scalar(v, len);
        if (memchr(v, '\0', len)) {
            rc = hub_fail(c->err, c->errlen, HUB_ECONFIG,
                          "%s:%d: NUL character in a value", c->name, line);
            break;
        }
        rc = expand_env(c, line, v, len, &node->str, &node->unset);
        break;
    }
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        node->type = HUB_YMAP;
        if (!anchor)
            rc = parse_children(c, node, depth);
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        node->type = HUB_YSEQ;
        if (!anchor)
            rc = parse_children(c, node, depth);
        break;
    default:
        rc = hub_fail(c->err, c->errlen, HUB_ECONFIG,
                      "%s:%d: unexpected YAML event", c->name, line);
    }
    if (!rc && anchor)
        rc = hub_fail(c->err, c->errlen, HUB_ECONFIG,
                      "%s:%d: anchors (&%s) are not supported", c->name, line,
                      (const char *)anchor);
    if (rc) {
        hub_ynode_free(node);
        return rc;
    }
    *out = node;
    return 0;
}

int hub_yaml_parse(const char *name, const char *text, size_t len,
                   hub_ynode_t **out, char *err, size_t errlen) {
    parse_ctx c = {.text = text, .len = len, .name = name, .err = err,
                   .errlen = errlen};
    *out = NULL;
    if (!yaml_parser_initialize(&c.parser))
        return HUB_ENOMEM;
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
    hub_ynode_t *root = NULL;
    int rc = 0, docs = 0;
    for (;;) {
        yaml_event_t ev;
        c.level = 0; /* between documents: no key */
        if ((rc = next_event(&c, &ev)))
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
            rc = hub_fail(err, errlen, HUB_ECONFIG,
                          "%s:%zu: only one YAML document is allowed", name,
                          ev.start_mark.line + 1);
        } else if (t == YAML_SCALAR_EVENT || t == YAML_MAPPING_START_EVENT ||
                   t == YAML_SEQUENCE_START_EVENT || t == YAML_ALIAS_EVENT) {
            rc = parse_node(&c, &ev, 0, &root);
        }
        yaml_event_delete(&ev);
        if (rc)
            break;
    }
    yaml_parser_delete(&c.parser);
    if (rc) {
        hub_ynode_free(root);
        return rc;
    }
    /* an empty document parses as a null scalar: treat it as no document */
    if (root && root->type == HUB_YSCALAR && root->null) {
        hub_ynode_free(root);
        root = NULL;
    }
    *out = root;
    return 0;
}
