/*
 * hub360 - Avro schemas: our own parse tree (keeping logical types,
 * defaults and custom attributes), composition of one-record files into
 * self-contained schemas, and the Avro resolution rules as a checker.
 */
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

struct hub_schema {
    json_t *json;           /* the parsed text; node strings point into it */
    json_t *extra;          /* definitions pulled in through resolve */
    char *text;             /* compact text */
    avro_schema_t avro;     /* NULL when the text is not self-contained */
    avro_value_iface_t *iface;
    hub_snode_t *root;
    hub_snode_t **nodes;    /* every node, for freeing */
    size_t nnodes, capnodes;
    struct named {
        const char *name;
        hub_snode_t *node;  /* NULL while the definition is being parsed */
    } *named;
    size_t nnamed, capnamed;
};

typedef struct parse_ctx {
    hub_schema_t *s;
    hub_schema_resolve_fn resolve;
    void *opaque;
    char *err;
    size_t errlen;
} parse_ctx;

static const struct {
    const char *name;
    hub_stype type;
} primitives[] = {
    {"null", HUB_S_NULL},     {"boolean", HUB_S_BOOLEAN},
    {"int", HUB_S_INT},       {"long", HUB_S_LONG},
    {"float", HUB_S_FLOAT},   {"double", HUB_S_DOUBLE},
    {"bytes", HUB_S_BYTES},   {"string", HUB_S_STRING},
};

static int primitive(const char *name, hub_stype *out) {
    for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++) {
        if (strcmp(name, primitives[i].name) == 0) {
            *out = primitives[i].type;
            return 1;
        }
    }
    return 0;
}

static int valid_name(const char *s) {
    if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
                *s == '_'))
        return 0;
    for (s++; *s; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    }
    return 1;
}

static hub_snode_t *new_node(parse_ctx *c, hub_stype type) {
    hub_schema_t *s = c->s;
    if (s->nnodes == s->capnodes) {
        size_t cap = s->capnodes ? s->capnodes * 2 : 32;
        hub_snode_t **p = realloc(s->nodes, cap * sizeof *p);
        if (!p)
            return NULL;
        s->nodes = p;
        s->capnodes = cap;
    }
    hub_snode_t *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->type = type;
    s->nodes[s->nnodes++] = n;
    return n;
}

static struct named *find_named(hub_schema_t *s, const char *name) {
    for (size_t i = 0; i < s->nnamed; i++) {
        if (strcmp(s->named[i].name, name) == 0)
            return &s->named[i];
    }
    return NULL;
}

static int add_named(parse_ctx *c, const char *name, const char *path) {
    hub_schema_t *s = c->s;
    if (find_named(s, name))
        return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                        "%s: type %s is defined twice", path, name);
    if (s->nnamed == s->capnamed) {
        size_t cap = s->capnamed ? s->capnamed * 2 : 16;
        struct named *p = realloc(s->named, cap * sizeof *p);
        if (!p)
            return HUB_ENOMEM;
        s->named = p;
        s->capnamed = cap;
    }
    char *dup = strdup(name);
    if (!dup)
        return HUB_ENOMEM;
    s->named[s->nnamed].name = dup;
    s->named[s->nnamed].node = NULL;
    s->nnamed++;
    return 0;
}

/* Full name of a named definition: "name" if dotted, else ns.name. */
static void full_name(const char *name, const char *ns, char *out,
                      size_t outlen) {
    if (strchr(name, '.') || !ns || !*ns)
        snprintf(out, outlen, "%s", name);
    else
        snprintf(out, outlen, "%s.%s", ns, name);
}

/* Namespace of a definition: explicit, from a dotted name, or inherited. */
static void def_namespace(const json_t *def, const char *name,
                          const char *parent_ns, char *out, size_t outlen) {
    const char *dot = strrchr(name, '.');
    const json_t *ns = json_object_get(def, "namespace");
    if (dot)
        snprintf(out, outlen, "%.*s", (int)(dot - name), name);
    else if (json_is_string(ns))
        snprintf(out, outlen, "%s", json_string_value(ns));
    else
        snprintf(out, outlen, "%s", parent_ns ? parent_ns : "");
}

int hub_schema_def_name(const json_t *def, char *out, size_t outlen) {
    const char *name = json_string_value(json_object_get(def, "name"));
    if (!name)
        return HUB_ESCHEMA;
    char ns[256];
    def_namespace(def, name, "", ns, sizeof ns);
    full_name(name, ns, out, outlen);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Defaults                                                            */
/* ------------------------------------------------------------------ */

static int default_ok(const hub_snode_t *n, const json_t *d) {
    switch (n->type) {
    case HUB_S_NULL: return json_is_null(d);
    case HUB_S_BOOLEAN: return json_is_boolean(d);
    case HUB_S_INT:
        return json_is_integer(d) && json_integer_value(d) >= INT32_MIN &&
               json_integer_value(d) <= INT32_MAX;
    case HUB_S_LONG: return json_is_integer(d);
    case HUB_S_FLOAT:
    case HUB_S_DOUBLE: return json_is_number(d);
    case HUB_S_BYTES:
    case HUB_S_STRING:
    case HUB_S_FIXED: return json_is_string(d);
    case HUB_S_ENUM:
        if (!json_is_string(d))
            return 0;
        for (size_t i = 0; i < n->nsymbols; i++) {
            if (strcmp(n->symbols[i], json_string_value(d)) == 0)
                return 1;
        }
        return 0;
    case HUB_S_ARRAY: {
        if (!json_is_array(d))
            return 0;
        for (size_t i = 0; i < json_array_size(d); i++) {
            if (!default_ok(n->items, json_array_get(d, i)))
                return 0;
        }
        return 1;
    }
    case HUB_S_MAP: {
        const char *k;
        json_t *v;
        if (!json_is_object(d))
            return 0;
        json_object_foreach((json_t *)d, k, v) {
            if (!default_ok(n->items, v))
                return 0;
        }
        return 1;
    }
    case HUB_S_RECORD:
        if (!json_is_object(d))
            return 0;
        for (size_t i = 0; i < n->nfields; i++) {
            const json_t *v = json_object_get(d, n->fields[i].name);
            if (v ? !default_ok(n->fields[i].type, v) : !n->fields[i].def)
                return 0;
        }
        return 1;
    case HUB_S_UNION: /* a union's default belongs to its first branch */
        return n->nbranches > 0 && default_ok(n->branches[0], d);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

static int parse_type(parse_ctx *c, const json_t *t, const char *ns,
                      const char *path, hub_snode_t **out);

static int parse_named_ref(parse_ctx *c, const char *ref, const char *ns,
                           const char *path, hub_snode_t **out) {
    char name[512];
    struct named *nd = NULL;
    if (!strchr(ref, '.') && ns && *ns) {
        full_name(ref, ns, name, sizeof name);
        nd = find_named(c->s, name);
    }
    if (!nd) {
        snprintf(name, sizeof name, "%s", ref);
        nd = find_named(c->s, name);
    }
    if (nd) {
        if (!nd->node)
            return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                            "%s: recursive type %s is not supported", path,
                            name);
        *out = nd->node;
        return 0;
    }
    const json_t *def = c->resolve ? c->resolve(name, c->opaque) : NULL;
    if (!def && !strchr(ref, '.') && ns && *ns && c->resolve) {
        full_name(ref, ns, name, sizeof name);
        def = c->resolve(name, c->opaque);
    }
    if (!def)
        return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                        "%s: unknown type \"%s\"", path, ref);
    /* keep the borrowed definition alive as long as the schema */
    if (!c->s->extra && !(c->s->extra = json_array()))
        return HUB_ENOMEM;
    json_t *copy = json_deep_copy(def);
    if (!copy || json_array_append_new(c->s->extra, copy))
        return HUB_ENOMEM;
    return parse_type(c, copy, "", name, out);
}

static int parse_record(parse_ctx *c, const json_t *t, hub_snode_t *n,
                        const char *ns, const char *path) {
    const json_t *fields = json_object_get(t, "fields");
    if (!json_is_array(fields))
        return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                        "%s: a record needs a \"fields\" array", path);
    size_t nf = json_array_size(fields);
    n->fields = calloc(nf ? nf : 1, sizeof *n->fields);
    if (!n->fields)
        return HUB_ENOMEM;
    const json_t *et = json_object_get(t, "event_type");
    if (et && !json_is_string(et))
        return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                        "%s: \"event_type\" must be a string", path);
    n->event_type = json_string_value(et);
    for (size_t i = 0; i < nf; i++) {
        const json_t *f = json_array_get(fields, i);
        const char *fname = json_string_value(json_object_get(f, "name"));
        char fpath[512];
        if (!valid_name(fname))
            return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                            "%s.fields[%zu]: missing or invalid field name",
                            path, i);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(n->fields[k].name, fname) == 0)
                return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                                "%s.%s: field defined twice", path, fname);
        }
        if (snprintf(fpath, sizeof fpath, "%s.%s", path, fname) >=
            (int)sizeof fpath)
            return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                            "%s: names nested too deeply", path);
        const json_t *ft = json_object_get(f, "type");
        if (!ft)
            return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                            "%s: field has no \"type\"", fpath);
        n->fields[i].name = fname;
        int rc = parse_type(c, ft, ns, fpath, &n->fields[i].type);
        if (rc)
            return rc;
        n->nfields = i + 1;
        const json_t *def = json_object_get(f, "default");
        if (def) {
            if (!default_ok(n->fields[i].type, def))
                return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                                "%s: default does not match the field's "
                                "type (a union's default must match its "
                                "first branch)",
                                fpath);
            n->fields[i].def = def;
        }
    }
    return 0;
}

static int parse_enum(parse_ctx *c, const json_t *t, hub_snode_t *n,
                      const char *path) {
    const json_t *syms = json_object_get(t, "symbols");
    if (!json_is_array(syms) || json_array_size(syms) == 0)
        return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                        "%s: an enum needs a non-empty \"symbols\" array",
                        path);
    n->nsymbols = json_array_size(syms);
    n->symbols = calloc(n->nsymbols, sizeof *n->symbols);
    if (!n->symbols)
        return HUB_ENOMEM;
    for (size_t i = 0; i < n->nsymbols; i++) {
        const char *sym = json_string_value(json_array_get(syms, i));
        if (!valid_name(sym))
            return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                            "%s.symbols[%zu]: invalid symbol", path, i);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(n->symbols[k], sym) == 0)
                return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                                "%s: symbol %s listed twice", path, sym);
        }
        n->symbols[i] = sym;
    }
    return 0;
}

static int parse_object(parse_ctx *c, const json_t *t, const char *ns,
                        const char *path, hub_snode_t **out) {
    const json_t *type = json_object_get(t, "type");
    if (!type)
        return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                        "%s: object without \"type\"", path);
    if (!json_is_string(type)) /* {"type": {...}} or {"type": [...]} */
        return parse_type(c, type, ns, path, out);
    const char *tn = json_string_value(type);
    hub_stype prim;
    if (primitive(tn, &prim)) {
        hub_snode_t *n = new_node(c, prim);
        if (!n)
            return HUB_ENOMEM;
        const char *lt = json_string_value(json_object_get(t, "logicalType"));
        if (lt && prim == HUB_S_LONG && strcmp(lt, "timestamp-millis") == 0)
            n->logical = HUB_L_TIMESTAMP_MILLIS;
        else if (lt && prim == HUB_S_STRING && strcmp(lt, "uuid") == 0)
            n->logical = HUB_L_UUID;
        *out = n;
        return 0;
    }
    if (strcmp(tn, "array") == 0 || strcmp(tn, "map") == 0) {
        int is_array = tn[0] == 'a';
        const json_t *it = json_object_get(t, is_array ? "items" : "values");
        if (!it)
            return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                            "%s: %s without \"%s\"", path, tn,
                            is_array ? "items" : "values");
        hub_snode_t *n = new_node(c, is_array ? HUB_S_ARRAY : HUB_S_MAP);
        if (!n)
            return HUB_ENOMEM;
        char ipath[512];
        snprintf(ipath, sizeof ipath, "%s[]", path);
        *out = n;
        return parse_type(c, it, ns, ipath, &n->items);
    }
    hub_stype kind;
    if (strcmp(tn, "record") == 0 || strcmp(tn, "error") == 0)
        kind = HUB_S_RECORD;
    else if (strcmp(tn, "enum") == 0)
        kind = HUB_S_ENUM;
    else if (strcmp(tn, "fixed") == 0)
        kind = HUB_S_FIXED;
    else
        return parse_named_ref(c, tn, ns, path, out);

    const char *name = json_string_value(json_object_get(t, "name"));
    char own_ns[256], fname[512];
    if (!name)
        return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                        "%s: a %s needs a \"name\"", path, tn);
    def_namespace(t, name, ns, own_ns, sizeof own_ns);
    full_name(name, own_ns, fname, sizeof fname);
    const char *last = strrchr(fname, '.');
    if (!valid_name(last ? last + 1 : fname))
        return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                        "%s: invalid name \"%s\"", path, name);
    int rc = add_named(c, fname, path);
    if (rc)
        return rc;
    hub_snode_t *n = new_node(c, kind);
    if (!n || !(n->fullname = strdup(fname)))
        return HUB_ENOMEM;
    if (kind == HUB_S_RECORD)
        rc = parse_record(c, t, n, own_ns, fname);
    else if (kind == HUB_S_ENUM)
        rc = parse_enum(c, t, n, fname);
    else {
        const json_t *size = json_object_get(t, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0)
            rc = hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                          "%s: fixed needs a \"size\"", fname);
        else
            n->fixed_size = (size_t)json_integer_value(size);
    }
    if (rc)
        return rc;
    find_named(c->s, fname)->node = n;
    *out = n;
    return 0;
}

static int parse_union(parse_ctx *c, const json_t *t, const char *ns,
                       const char *path, hub_snode_t **out) {
    size_t nb = json_array_size(t);
    if (nb == 0)
        return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                        "%s: empty union", path);
    hub_snode_t *n = new_node(c, HUB_S_UNION);
    if (!n || !(n->branches = calloc(nb, sizeof *n->branches)))
        return HUB_ENOMEM;
    for (size_t i = 0; i < nb; i++) {
        char bpath[512];
        snprintf(bpath, sizeof bpath, "%s<%zu>", path, i);
        int rc = parse_type(c, json_array_get(t, i), ns, bpath,
                            &n->branches[i]);
        if (rc)
            return rc;
        n->nbranches = i + 1;
        const hub_snode_t *b = n->branches[i];
        if (b->type == HUB_S_UNION)
            return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                            "%s: a union may not contain a union", bpath);
        for (size_t k = 0; k < i; k++) {
            const hub_snode_t *o = n->branches[k];
            int same = o->type == b->type &&
                       (!o->fullname || strcmp(o->fullname, b->fullname) == 0);
            if (same)
                return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                                "%s: the same type appears twice in a union",
                                bpath);
        }
    }
    *out = n;
    return 0;
}

static int parse_type(parse_ctx *c, const json_t *t, const char *ns,
                      const char *path, hub_snode_t **out) {
    if (json_is_string(t)) {
        hub_stype prim;
        if (primitive(json_string_value(t), &prim)) {
            *out = new_node(c, prim);
            return *out ? 0 : HUB_ENOMEM;
        }
        return parse_named_ref(c, json_string_value(t), ns, path, out);
    }
    if (json_is_array(t))
        return parse_union(c, t, ns, path, out);
    if (json_is_object(t))
        return parse_object(c, t, ns, path, out);
    return hub_fail(c->err, c->errlen, HUB_ESCHEMA,
                    "%s: a type must be a string, object or array", path);
}

char *hub_json_compact(const json_t *v) {
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

int hub_schema_parse(const char *text, size_t len,
                     hub_schema_resolve_fn resolve, void *opaque,
                     hub_schema_t **out, char *err, size_t errlen) {
    *out = NULL;
    hub_schema_t *s = calloc(1, sizeof *s);
    if (!s)
        return HUB_ENOMEM;
    json_error_t jerr;
    int rc = 0;
    s->json = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (!s->json) {
        rc = hub_fail(err, errlen, HUB_ESCHEMA,
                      "schema is not JSON: line %d column %d: %s", jerr.line,
                      jerr.column, jerr.text);
        goto fail;
    }
    parse_ctx c = {s, resolve, opaque, err, errlen};
    if ((rc = parse_type(&c, s->json, "", "(schema)", &s->root)))
        goto fail;
    if (!(s->text = hub_json_compact(s->json))) {
        rc = HUB_ENOMEM;
        goto fail;
    }
    if (!resolve || !s->extra) { /* self-contained: avro-c can take it */
        if (avro_schema_from_json_length(s->text, strlen(s->text),
                                         &s->avro)) {
            rc = hub_fail(err, errlen, HUB_ESCHEMA, "avro-c: %s",
                          avro_strerror());
            goto fail;
        }
        if (!(s->iface = avro_generic_class_from_schema(s->avro))) {
            rc = hub_fail(err, errlen, HUB_ESCHEMA, "avro-c: %s",
                          avro_strerror());
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    hub_schema_free(s);
    return rc;
}

void hub_schema_free(hub_schema_t *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->nnodes; i++) {
        hub_snode_t *n = s->nodes[i];
        free((char *)n->fullname);
        free(n->fields);
        free(n->symbols);
        free(n->branches);
        free(n);
    }
    for (size_t i = 0; i < s->nnamed; i++)
        free((char *)s->named[i].name);
    free(s->named);
    free(s->nodes);
    if (s->iface)
        avro_value_iface_decref(s->iface);
    if (s->avro)
        avro_schema_decref(s->avro);
    free(s->text);
    json_decref(s->extra);
    json_decref(s->json);
    free(s);
}

const hub_snode_t *hub_schema_root(const hub_schema_t *s) { return s->root; }
const char *hub_schema_text(const hub_schema_t *s) { return s->text; }
avro_schema_t hub_schema_avro(const hub_schema_t *s) { return s->avro; }
avro_value_iface_t *hub_schema_iface(const hub_schema_t *s) {
    return s->iface;
}

const hub_snode_t *hub_schema_named(const hub_schema_t *s, const char *name) {
    struct named *nd = find_named((hub_schema_t *)s, name);
    return nd ? nd->node : NULL;
}

/* ------------------------------------------------------------------ */
/* Composition                                                         */
/* ------------------------------------------------------------------ */

typedef struct compose_ctx {
    const json_t *defs;
    json_t *emitted; /* object used as a set of full names */
    char *err;
    size_t errlen;
    int depth;
} compose_ctx;

static json_t *compose_type(compose_ctx *c, const json_t *t, const char *ns);

static json_t *compose_ref(compose_ctx *c, const char *ref, const char *ns) {
    hub_stype prim;
    if (primitive(ref, &prim))
        return json_string(ref);
    char name[512];
    full_name(ref, ns, name, sizeof name);
    if (!json_object_get(c->defs, name) && !json_object_get(c->emitted, name))
        snprintf(name, sizeof name, "%s", ref);
    if (json_object_get(c->emitted, name))
        return json_string(name);
    const json_t *def = json_object_get(c->defs, name);
    if (!def) {
        hub_fail(c->err, c->errlen, HUB_ESCHEMA, "unknown type \"%s\"", ref);
        return NULL;
    }
    return compose_type(c, def, "");
}

static json_t *compose_type(compose_ctx *c, const json_t *t, const char *ns) {
    if (++c->depth > 64) {
        hub_fail(c->err, c->errlen, HUB_ESCHEMA, "types nested too deeply");
        return NULL;
    }
    json_t *out = NULL;
    if (json_is_string(t)) {
        out = compose_ref(c, json_string_value(t), ns);
    } else if (json_is_array(t)) {
        out = json_array();
        for (size_t i = 0; out && i < json_array_size(t); i++) {
            json_t *b = compose_type(c, json_array_get(t, i), ns);
            if (!b || json_array_append_new(out, b)) {
                json_decref(out);
                out = NULL;
            }
        }
    } else if (json_is_object(t)) {
        const char *type = json_string_value(json_object_get(t, "type"));
        const char *name = json_string_value(json_object_get(t, "name"));
        char own_ns[256] = "", fname[512] = "";
        if (name) {
            def_namespace(t, name, ns, own_ns, sizeof own_ns);
            full_name(name, own_ns, fname, sizeof fname);
            if (json_object_set_new(c->emitted, fname, json_true())) {
                c->depth--;
                return NULL;
            }
        } else {
            snprintf(own_ns, sizeof own_ns, "%s", ns);
        }
        out = json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)t, k, v) {
            json_t *nv;
            if (strcmp(k, "fields") == 0 && json_is_array(v)) {
                nv = json_array();
                for (size_t i = 0; nv && i < json_array_size(v); i++) {
                    json_t *f = json_deep_copy(json_array_get(v, i));
                    json_t *ft = f ? compose_type(c, json_object_get(f, "type"),
                                                  own_ns)
                                   : NULL;
                    if (!ft || json_object_set_new(f, "type", ft) ||
                        json_array_append_new(nv, f)) {
                        json_decref(nv);
                        nv = NULL;
                    }
                }
            } else if ((strcmp(k, "items") == 0 || strcmp(k, "values") == 0 ||
                        (strcmp(k, "type") == 0 && !json_is_string(v))) &&
                       (!type || strcmp(type, "record") != 0)) {
                nv = compose_type(c, v, own_ns);
            } else {
                nv = json_deep_copy(v);
            }
            if (!nv || json_object_set_new(out, k, nv)) {
                json_decref(out);
                out = NULL;
                break;
            }
        }
    } else {
        hub_fail(c->err, c->errlen, HUB_ESCHEMA, "a type must be a string, "
                                                 "object or array");
    }
    c->depth--;
    return out;
}

json_t *hub_schema_compose(const json_t *defs, const char *name, char *err,
                           size_t errlen) {
    compose_ctx c = {defs, json_object(), err, errlen, 0};
    if (!c.emitted)
        return NULL;
    json_t *out = compose_ref(&c, name, "");
    json_decref(c.emitted);
    return out;
}

/* ------------------------------------------------------------------ */
/* Compatibility (Avro schema resolution rules)                        */
/* ------------------------------------------------------------------ */

static const char *stype_name(const hub_snode_t *n) {
    static const char *const names[] = {
        "null",   "boolean", "int",   "long",  "float", "double", "bytes",
        "string", "record",  "enum",  "array", "map",   "union",  "fixed"};
    return n->fullname ? n->fullname : names[n->type];
}

static int promotable(hub_stype w, hub_stype r) {
    if (w == r)
        return 1;
    switch (w) {
    case HUB_S_INT:
        return r == HUB_S_LONG || r == HUB_S_FLOAT || r == HUB_S_DOUBLE;
    case HUB_S_LONG: return r == HUB_S_FLOAT || r == HUB_S_DOUBLE;
    case HUB_S_FLOAT: return r == HUB_S_DOUBLE;
    case HUB_S_STRING: return r == HUB_S_BYTES;
    case HUB_S_BYTES: return r == HUB_S_STRING;
    default: return 0;
    }
}

#define W(rep) ((rep)->writer ? (rep)->writer : "the writer")
#define R(rep) ((rep)->reader ? (rep)->reader : "the reader")

static void problem(hub_compat_t *r, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(hub_compat_t *r, const char *path, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hub_buf_printf(&r->lines, "%s: ", path);
    hub_buf_vprintf(&r->lines, fmt, ap);
    hub_buf_putc(&r->lines, '\n');
    va_end(ap);
    r->problems++;
}

static void check(const hub_snode_t *w, const hub_snode_t *r,
                  const char *path, hub_compat_t *rep);

/* Can a value of w be read as r? (the check, without its report) */
static int readable(const hub_snode_t *w, const hub_snode_t *r) {
    hub_compat_t tmp = {HUB_BUF_INIT, 0, NULL, NULL};
    check(w, r, "", &tmp);
    hub_buf_free(&tmp.lines);
    return tmp.problems == 0;
}

static int same_name(const hub_snode_t *w, const hub_snode_t *r) {
    return strcmp(w->fullname, r->fullname) == 0;
}

static void check(const hub_snode_t *w, const hub_snode_t *r,
                  const char *path, hub_compat_t *rep) {
    if (w->type == HUB_S_UNION) {
        for (size_t i = 0; i < w->nbranches; i++) {
            const hub_snode_t *b = w->branches[i];
            if (r->type == HUB_S_UNION) {
                size_t k = 0;
                while (k < r->nbranches && !readable(b, r->branches[k]))
                    k++;
                if (k == r->nbranches)
                    problem(rep, path,
                            "union branch %s of %s has no match in %s",
                            stype_name(b), W(rep), R(rep));
            } else {
                check(b, r, path, rep);
            }
        }
        return;
    }
    if (r->type == HUB_S_UNION) {
        for (size_t k = 0; k < r->nbranches; k++) {
            if (readable(w, r->branches[k])) {
                if (w->type == HUB_S_RECORD)
                    check(w, r->branches[k], path, rep); /* full report */
                return;
            }
        }
        /* report against the branch of the same name if there is one */
        for (size_t k = 0; k < r->nbranches; k++) {
            const hub_snode_t *b = r->branches[k];
            if (b->type == w->type && w->fullname && same_name(w, b)) {
                check(w, b, path, rep);
                return;
            }
        }
        problem(rep, path, "%s (%s) is not among the union branches of %s",
                stype_name(w), W(rep), R(rep));
        return;
    }
    if (w->type != r->type) {
        if (!promotable(w->type, r->type))
            problem(rep, path, "type changed from %s (%s) to %s (%s)",
                    stype_name(w), W(rep), stype_name(r), R(rep));
        return;
    }
    switch (w->type) {
    case HUB_S_RECORD: {
        if (!same_name(w, r)) {
            problem(rep, path, "record renamed from %s to %s", w->fullname,
                    r->fullname);
            return;
        }
        for (size_t i = 0; i < r->nfields; i++) {
            const hub_sfield_t *rf = &r->fields[i];
            char fpath[512];
            snprintf(fpath, sizeof fpath, "%s.%s", r->fullname, rf->name);
            size_t k = 0;
            while (k < w->nfields && strcmp(w->fields[k].name, rf->name))
                k++;
            if (k < w->nfields)
                check(w->fields[k].type, rf->type, fpath, rep);
            else if (!rf->def)
                problem(rep, fpath,
                        "%s has this field without a default and %s does "
                        "not write it",
                        R(rep), W(rep));
        }
        return;
    }
    case HUB_S_ENUM:
        if (!same_name(w, r)) {
            problem(rep, path, "enum renamed from %s to %s", w->fullname,
                    r->fullname);
            return;
        }
        for (size_t i = 0; i < w->nsymbols; i++) {
            size_t k = 0;
            while (k < r->nsymbols && strcmp(w->symbols[i], r->symbols[k]))
                k++;
            if (k == r->nsymbols)
                problem(rep, path, "symbol %s of %s is missing from %s",
                        w->symbols[i], W(rep), R(rep));
        }
        return;
    case HUB_S_FIXED:
        if (!same_name(w, r) || w->fixed_size != r->fixed_size)
            problem(rep, path, "fixed type %s changed", w->fullname);
        return;
    case HUB_S_ARRAY:
    case HUB_S_MAP: {
        char ipath[512];
        snprintf(ipath, sizeof ipath, "%s[]", path);
        check(w->items, r->items, ipath, rep);
        return;
    }
    default:
        return;
    }
}

int hub_schema_check_readable(const hub_snode_t *writer,
                              const hub_snode_t *reader,
                              hub_compat_t *report) {
    int before = report->problems;
    check(writer, reader, writer->fullname ? writer->fullname : "(root)",
          report);
    return report->problems - before;
}

/* ------------------------------------------------------------------ */
/* Pruning, to work around avro-c's resolver                           */
/* ------------------------------------------------------------------ */

/*
 * avro-c's resolved writer refuses a reader field the writer lacks, even
 * when the reader gives it a default (its resolver.c says "TODO: Handle
 * default values"). So the codec resolves against a copy of the reader
 * without those fields and fills in their defaults itself.
 */
static int prune(json_t *t, const char *ns, const hub_schema_t *writer) {
    if (json_is_array(t)) {
        for (size_t i = 0; i < json_array_size(t); i++) {
            if (prune(json_array_get(t, i), ns, writer))
                return HUB_ENOMEM;
        }
        return 0;
    }
    if (!json_is_object(t))
        return 0;
    const char *type = json_string_value(json_object_get(t, "type"));
    const char *name = json_string_value(json_object_get(t, "name"));
    char own_ns[256];
    snprintf(own_ns, sizeof own_ns, "%s", ns);
    if (name && type)
        def_namespace(t, name, ns, own_ns, sizeof own_ns);
    if (type && name && strcmp(type, "record") == 0) {
        char fname[512];
        full_name(name, own_ns, fname, sizeof fname);
        const hub_snode_t *w = hub_schema_named(writer, fname);
        json_t *fields = json_object_get(t, "fields");
        for (size_t i = 0; i < json_array_size(fields);) {
            json_t *f = json_array_get(fields, i);
            const char *fn = json_string_value(json_object_get(f, "name"));
            int keep = 1;
            if (w && w->type == HUB_S_RECORD && fn) {
                keep = 0;
                for (size_t k = 0; k < w->nfields && !keep; k++)
                    keep = strcmp(w->fields[k].name, fn) == 0;
            }
            if (!keep) {
                json_array_remove(fields, i);
                continue;
            }
            if (prune(json_object_get(f, "type"), own_ns, writer))
                return HUB_ENOMEM;
            i++;
        }
        return 0;
    }
    const char *k;
    json_t *v;
    json_object_foreach(t, k, v) {
        if (strcmp(k, "items") == 0 || strcmp(k, "values") == 0 ||
            (strcmp(k, "type") == 0 && !json_is_string(v))) {
            if (prune(v, own_ns, writer))
                return HUB_ENOMEM;
        }
    }
    return 0;
}

int hub_schema_prune(const hub_schema_t *reader, const hub_schema_t *writer,
                     char **text) {
    json_t *copy = json_deep_copy(reader->json);
    if (!copy)
        return HUB_ENOMEM;
    int rc = prune(copy, "", writer);
    *text = rc ? NULL : hub_json_compact(copy);
    json_decref(copy);
    return rc ? rc : (*text ? 0 : HUB_ENOMEM);
}
