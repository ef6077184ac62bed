/*
 * hub360 - XML bodies as JSON, through libxml2's tree.
 *
 * The parse is locked down before anything is read: no network
 * (XML_PARSE_NONET), no entity substitution (no XML_PARSE_NOENT), no DTD
 * loading, and a document that declares a DOCTYPE at all is refused when
 * its name is read, before its internal subset (where entity bombs and
 * external entities live) is parsed. No vendor we read sends one.
 *
 * libxml2 reports errors through a global handler that prints to stderr
 * by default. Here a parser context of our own carries a structured error
 * callback (its SAX handler's serror), which libxml2 prefers to the global
 * one, so the first error lands in the caller's err buffer and nothing
 * is printed.
 */
#include "xmljson.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

#define MAX_DEPTH 32

/* What the callbacks write into, reached through ctxt->_private. */
typedef struct parse_state {
    char *err;
    size_t errlen;
    int failed;  /* an error is already in err: keep the first */
    int doctype; /* a DOCTYPE was seen and the parse stopped */
} parse_state_t;

#if LIBXML_VERSION >= 21200
typedef const xmlError *xml_error_arg;
#else
typedef xmlErrorPtr xml_error_arg;
#endif

static void on_error(void *ctx, xml_error_arg e) {
    parse_state_t *st = ((xmlParserCtxtPtr)ctx)->_private;
    if (st->failed || e->level < XML_ERR_ERROR)
        return;
    const char *msg = e->message ? e->message : "not well-formed";
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--; /* libxml2's messages end in a newline */
    hub_fail(st->err, st->errlen, HUB_EDECODE, "line %d: %.*s", e->line, (int)n,
             msg);
    st->failed = 1;
}

static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext_id,
                       const xmlChar *sys_id) {
    (void)ext_id;
    (void)sys_id;
    xmlParserCtxtPtr ctxt = ctx;
    parse_state_t *st = ctxt->_private;
    if (!st->failed)
        hub_fail(st->err, st->errlen, HUB_EDECODE,
                 "line %d: DOCTYPE %s refused (no DTDs or entities)",
                 ctxt->input ? ctxt->input->line : 0, (const char *)name);
    st->failed = 1;
    st->doctype = 1;
    xmlStopParser(ctxt);
}

/* ---------------------------------------------------------------------- */
/* Tree to JSON                                                            */
/* ---------------------------------------------------------------------- */

/* lead + "prefix:" + name as a new string, or NULL when out of memory. */
static char *member_name(const char *lead, const xmlNs *ns,
                         const xmlChar *name) {
    const char *prefix = ns && ns->prefix ? (const char *)ns->prefix : "";
    size_t ll = strlen(lead), pl = strlen(prefix);
    size_t nl = strlen((const char *)name);
    char *s = malloc(ll + pl + 1 + nl + 1), *p = s;
    if (!s)
        return NULL;
    memcpy(p, lead, ll);
    p += ll;
    if (pl) {
        memcpy(p, prefix, pl);
        p += pl;
        *p++ = ':';
    }
    memcpy(p, name, nl + 1);
    return s;
}

/*
 * Sets obj[name] = v, or turns a repeated name into an array of its values
 * in document order. Values are only ever strings and objects, so an array
 * already there is one made here. Takes v in every case. 0 or HUB_ENOMEM.
 */
static int add_member(json_t *obj, const char *name, json_t *v) {
    json_t *old = json_object_get(obj, name);
    if (!v)
        return HUB_ENOMEM;
    if (!old)
        return json_object_set_new(obj, name, v) ? HUB_ENOMEM : 0;
    if (json_is_array(old))
        return json_array_append_new(old, v) ? HUB_ENOMEM : 0;
    json_t *arr = json_array();
    if (!arr || json_array_append(arr, old) || json_array_append_new(arr, v) ||
        json_object_set_new(obj, name, arr)) {
        json_decref(arr);
        return HUB_ENOMEM;
    }
    return 0;
}

/* The element's own text (text and CDATA children, in order, verbatim) as
 * a new string; *blank says whether it is only whitespace. */
static json_t *own_text(const xmlNode *el, int *blank) {
    size_t len = 0, o = 0;
    *blank = 1;
    for (const xmlNode *c = el->children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
            c->content)
            len += strlen((const char *)c->content);
    char *buf = malloc(len + 1);
    if (!buf)
        return NULL;
    for (const xmlNode *c = el->children; c; c = c->next) {
        if ((c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE) ||
            !c->content)
            continue;
        size_t n = strlen((const char *)c->content);
        memcpy(buf + o, c->content, n);
        o += n;
    }
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r\n", buf[i]))
            *blank = 0;
    json_t *s = json_stringn(buf, len);
    free(buf);
    return s;
}

static int has_element_children(const xmlNode *el) {
    for (const xmlNode *c = el->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return 1;
    return 0;
}

static int element_to_json(const xmlNode *el, int depth, int force_object,
                           json_t **out, char *err, size_t errlen);

/* Attributes as "@name" members of obj. 0 or HUB_ENOMEM. */
static int add_attributes(const xmlNode *el, json_t *obj) {
    for (const xmlAttr *a = el->properties; a; a = a->next) {
        xmlChar *value = xmlNodeGetContent((const xmlNode *)a);
        char *name = member_name("@", a->ns, a->name);
        int rc = value && name
                     ? add_member(obj, name, json_string((char *)value))
                     : HUB_ENOMEM;
        xmlFree(value);
        free(name);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Element children as members of obj, recursively. */
static int add_children(const xmlNode *el, int depth, json_t *obj, char *err,
                        size_t errlen) {
    for (const xmlNode *c = el->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        json_t *v = NULL;
        int rc = element_to_json(c, depth + 1, 0, &v, err, errlen);
        if (rc < 0)
            return rc;
        char *name = member_name("", c->ns, c->name);
        rc = name ? add_member(obj, name, v) : HUB_ENOMEM;
        if (!name)
            json_decref(v);
        free(name);
        if (rc < 0)
            return hub_fail(err, errlen, rc, "out of memory");
    }
    return 0;
}

/*
 * One element as JSON into *out (a new reference): its text as a string
 * when it has neither element children nor attributes (and force_object
 * is 0), else an object of "@attributes", children and, when it is not
 * blank, its own text as "#text".
 */
static int element_to_json(const xmlNode *el, int depth, int force_object,
                           json_t **out, char *err, size_t errlen) {
    int blank, rc;
    if (depth > MAX_DEPTH)
        return hub_fail(err, errlen, HUB_ETOOBIG,
                        "line %ld: <%s> is nested deeper than %d levels",
                        xmlGetLineNo(el), (const char *)el->name, MAX_DEPTH);
    json_t *text = own_text(el, &blank);
    if (!text)
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    if (!force_object && !el->properties && !has_element_children(el)) {
        *out = text;
        return 0;
    }
    json_t *obj = json_object();
    if (!obj || add_attributes(el, obj) < 0) {
        rc = hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
        goto fail;
    }
    rc = add_children(el, depth, obj, err, errlen);
    if (rc < 0)
        goto fail;
    if (!blank && json_object_set(obj, "#text", text)) {
        rc = hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
        goto fail;
    }
    json_decref(text);
    *out = obj;
    return 0;
fail:
    json_decref(text);
    json_decref(obj);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* The public call                                                         */
/* ---------------------------------------------------------------------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_libxml(void) {
    xmlInitParser();
}

int hub_xml_to_json(const char *xml, size_t len, json_t **out, char *err,
                    size_t errlen) {
    parse_state_t st = {err, errlen, 0, 0};
    xmlDocPtr doc = NULL;
    int rc;
    *out = NULL;
    if (len > INT_MAX)
        return hub_fail(err, errlen, HUB_ETOOBIG,
                        "XML body of %zu bytes is over libxml2's 2 GiB", len);
    if (!xml && len > 0)
        return hub_fail(err, errlen, HUB_EINVAL, "no XML text");
    pthread_once(&init_once, init_libxml);
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    ctxt->_private = &st;
    ctxt->sax->serror = on_error;
    ctxt->sax->internalSubset = on_doctype;
    doc = xmlCtxtReadMemory(ctxt, xml ? xml : "", (int)len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR |
                                XML_PARSE_NOWARNING);
    if (st.failed || !doc || !ctxt->wellFormed) {
        rc = HUB_EDECODE;
        if (!st.failed)
            hub_fail(err, errlen, rc, "line %d: not well-formed XML",
                     ctxt->input ? ctxt->input->line : 0);
        goto fail;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root) {
        rc = hub_fail(err, errlen, HUB_EDECODE, "line 1: no document element");
        goto fail;
    }
    rc = element_to_json(root, 1, 1, out, err, errlen);
fail:
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return rc;
}
