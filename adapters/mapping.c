/*
 * hub360 - mappings: jq programs from a vendor's JSON to canonical events.
 *
 * Every entry point is compiled into a jq_state of its own from
 *
 *     . as {source: $source, meta: $meta, input: $__hub_in,
 *           args: $__hub_args} | $__hub_in |
 *     <prelude.jq>
 *     <the mapping's definitions>
 *     <entry expression>
 *
 * so the definitions see $source and $meta, bound anew for each record by
 * the wrapper object we feed in, and nothing is compiled per record.
 * Values cross between jansson and jq by walking the trees (a text round
 * trip cost a tenth of an import's time).
 */
#include "mapping.h"

#include <jq.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "embedded.h"
#include "errors.h"

#define WRAP_HEAD                                                          \
    ". as {source: $source, meta: $meta, input: $__hub_in, "                 \
    "args: $__hub_args} | $__hub_in |\n"

enum { E_EVENTS, E_RESOURCES, E_REQUEST, E_RESPONSE, E_CURSOR, E_COUNT };

static const struct {
    const char *expr;
    const char *needs; /* what jq says when the mapping lacks it */
} entries[E_COUNT] = {
    {"events", "events/0 is not defined"},
    {"poll_resources", "poll_resources/0 is not defined"},
    {"poll_request($__hub_args.resource; $__hub_args.cursor; "
     "$__hub_args.page; $__hub_args.params)",
     "poll_request/4 is not defined"},
    {"poll_response($__hub_args.resource; $__hub_args.page)",
     "poll_response/2 is not defined"},
    {"poll_cursor($__hub_args.resource)", "poll_cursor/1 is not defined"},
};

struct hub_mapping {
    char *name;
    char *text;        /* the mapping's definitions */
    size_t len;
    jq_state *jq[E_COUNT];
    int poll_checked, poll_error, can_poll; /* see ensure_poll */
    pthread_mutex_t lock;
};

/* ------------------------------------------------------------------ */
/* Compiling                                                           */
/* ------------------------------------------------------------------ */

typedef struct compile_msgs {
    hub_buf_t text;
    long skip_lines;   /* lines before the mapping's own first line */
    const char *name;
} compile_msgs_t;

/* Rewrites "line N" in jq's message into the mapping file's numbering
 * and keeps the first message (later ones are usually consequences). */
static void on_jq_error(void *opaque, jv msg) {
    compile_msgs_t *m = opaque;
    if (m->text.len == 0 && jv_get_kind(msg) == JV_KIND_STRING) {
        const char *s = jv_string_value(msg);
        if (strncmp(s, "jq: error: ", 11) == 0)
            s += 11;
        /* "<what> at <top-level>, line N:\n<excerpt>" */
        const char *at = strstr(s, " at <top-level>, line ");
        if (at) {
            /* jq's hint about shell quoting does not fit a file */
            const char *hint = strstr(s, " (Unix shell quoting issues?)");
            if (hint && hint < at)
                at = hint;
            const char *ln = strstr(at, " at <top-level>, line ") + 22;
            long line = strtol(ln, NULL, 10) - m->skip_lines;
            hub_buf_printf(&m->text, "%s: line %ld: %.*s", m->name,
                           line < 1 ? 1 : line, (int)(at - s), s);
        } else {
            hub_buf_printf(&m->text, "%s: %.*s", m->name,
                           (int)strcspn(s, "\n"), s);
        }
    }
    jv_free(msg);
}

static long count_lines(const char *s, size_t len) {
    long n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    return n;
}

static const hub_embedded_file_t *preset_file(const char *name) {
    for (const hub_embedded_file_t *f = hub_embedded_presets; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

/* Compiles one entry; *jq stays NULL when the mapping lacks what the
 * entry needs and `optional` is set. */
static int compile_entry(hub_mapping_t *m, const char *expr,
                         const char *needs, int optional, jq_state **out,
                         char *err, size_t errlen) {
    const hub_embedded_file_t *prelude = preset_file("prelude.jq");
    if (!prelude)
        return hub_fail(err, errlen, HUB_ENOENT, "prelude.jq is not built in");
    hub_buf_t prog = {0};
    compile_msgs_t msgs = {.skip_lines = 1 + count_lines(prelude->data,
                                                         prelude->len) + 1,
                           .name = m->name};
    hub_buf_printf(&prog, "%s%s\n%.*s\n%s\n", WRAP_HEAD, prelude->data,
                   (int)m->len, m->text, expr);
    jq_state *jq = jq_init();
    if (!jq || !prog.data) {
        hub_buf_free(&prog);
        jq_teardown(&jq);
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    }
    jq_set_error_cb(jq, on_jq_error, &msgs);
    int ok = jq_compile_args(jq, prog.data, jv_object());
    hub_buf_free(&prog);
    if (ok) {
        *out = jq;
        hub_buf_free(&msgs.text);
        return 0;
    }
    jq_teardown(&jq);
    const char *why = msgs.text.data ? msgs.text.data : "";
    int missing = strstr(why, needs) != NULL;
    int rc = 0;
    if (missing && optional)
        *out = NULL;
    else if (missing)
        rc = hub_fail(err, errlen, HUB_EINVAL, "%s: does not define %.*s",
                      m->name, (int)strcspn(needs, "/"), needs);
    else
        rc = hub_fail(err, errlen, HUB_EINVAL, "%s",
                      why[0] ? why : "jq could not compile the mapping");
    hub_buf_free(&msgs.text);
    return rc;
}

/*
 * jq's regular expressions (test, match, sub, ...) are oniguruma's, which
 * initializes its global tables on the first onig_new, unguarded: two
 * mappings running their first regex on two threads at once (the
 * adapters of `hub360 up` right after a start) race there (helgrind),
 * the likely cause of a `hub360 up` that aborted with "double free or
 * corruption" just then. One regex, run once before any mapping exists,
 * does that initialization on one thread.
 */
static void regex_init(void) {
    jq_state *jq = jq_init();
    if (jq && jq_compile(jq, "\"a\" | test(\"a\")")) {
        jq_start(jq, jv_null(), 0);
        jv_free(jq_next(jq));
    }
    jq_teardown(&jq);
}

int hub_mapping_new(const char *name, const char *text, size_t len,
                    hub_mapping_t **out, char *err, size_t errlen) {
    static pthread_once_t regex_once = PTHREAD_ONCE_INIT;
    pthread_once(&regex_once, regex_init);
    hub_mapping_t *m = calloc(1, sizeof(*m));
    if (!m)
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    pthread_mutex_init(&m->lock, NULL);
    m->name = strdup(name);
    m->text = malloc(len + 1);
    if (!m->name || !m->text) {
        hub_mapping_free(m);
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    }
    memcpy(m->text, text, len);
    m->text[len] = '\0';
    m->len = len;
    int rc = compile_entry(m, entries[E_EVENTS].expr, entries[E_EVENTS].needs,
                           0, &m->jq[E_EVENTS], err, errlen);
    if (rc) {
        hub_mapping_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* Compiles the polling entries on first need: libjq compiles its whole
 * library of builtins with every program, which costs tens of
 * milliseconds each, and most mappings are never polled. Polling needs
 * all four entries; a mapping that defines some of them has a mistake
 * worth naming. */
static int ensure_poll(hub_mapping_t *m, char *err, size_t errlen) {
    if (m->poll_checked)
        return m->poll_error;
    int rc = 0, have = 0;
    for (int e = E_RESOURCES; rc == 0 && e < E_COUNT; e++) {
        rc = compile_entry(m, entries[e].expr, entries[e].needs, 1, &m->jq[e],
                           err, errlen);
        have += m->jq[e] != NULL;
    }
    if (rc == 0 && have != 0 && have != E_COUNT - E_RESOURCES)
        rc = hub_fail(err, errlen, HUB_EINVAL,
                      "%s: a polling mapping defines poll_resources, "
                      "poll_request/4, poll_response/2 and poll_cursor/1; "
                      "this one defines %d of them",
                      m->name, have);
    m->poll_checked = 1;
    m->poll_error = rc;
    m->can_poll = rc == 0 && have != 0;
    return rc;
}

int hub_mapping_poll_check(hub_mapping_t *m, char *err, size_t errlen) {
    int rc = ensure_poll(m, err, errlen);
    return rc ? rc : m->can_poll;
}

int hub_mapping_preset(const char *preset, hub_mapping_t **out, char *err,
                       size_t errlen) {
    char file[128];
    snprintf(file, sizeof(file), "%s.jq", preset);
    const hub_embedded_file_t *f =
        strcmp(preset, "prelude") == 0 ? NULL : preset_file(file);
    if (!f)
        return hub_fail(err, errlen, HUB_ENOENT, "no preset named '%s'",
                        preset);
    return hub_mapping_new(file, f->data, f->len, out, err, errlen);
}

int hub_mapping_load(const char *path, hub_mapping_t **out, char *err,
                     size_t errlen) {
    hub_buf_t text = HUB_BUF_INIT;
    int rc = hub_buf_read_file(&text, path, 1 << 20, err, errlen);
    if (rc == 0)
        rc = hub_mapping_new(path, text.data ? text.data : "", text.len, out,
                             err, errlen);
    hub_buf_free(&text);
    return rc;
}

void hub_mapping_free(hub_mapping_t *m) {
    if (!m)
        return;
    for (int e = 0; e < E_COUNT; e++)
        jq_teardown(&m->jq[e]);
    pthread_mutex_destroy(&m->lock);
    free(m->name);
    free(m->text);
    free(m);
}

const char *hub_mapping_name(const hub_mapping_t *m) { return m->name; }


void hub_mapping_lock(hub_mapping_t *m) { pthread_mutex_lock(&m->lock); }

void hub_mapping_unlock(hub_mapping_t *m) { pthread_mutex_unlock(&m->lock); }

/* ------------------------------------------------------------------ */
/* Running                                                             */
/* ------------------------------------------------------------------ */

/* Values cross between jansson and jq by walking the tree, with the
 * results the text round trip (json_dumps, jv_parse; jv_dump, json_loads)
 * gave: nesting past jq's parser depth and strings with NUL are refused,
 * and a number jq would print in exponent form comes back as jansson
 * reads that text. */
#define JV_MAX_DEPTH 256 /* jq 1.6's parser limit */

/* A new jv for j (NULL: null), whose containers are `depth` deep;
 * invalid, with a message, for containers past JV_MAX_DEPTH. */
static jv to_jv(const json_t *j, int depth) {
    if ((json_is_object(j) || json_is_array(j)) && depth >= JV_MAX_DEPTH)
        return jv_invalid_with_msg(jv_string("nested deeper than 256 levels"));
    switch (json_typeof(j ? j : json_null())) {
    case JSON_OBJECT: {
        jv o = jv_object();
        const char *key;
        size_t klen;
        json_t *val;
        json_object_keylen_foreach((json_t *)j, key, klen, val) {
            jv v = to_jv(val, depth + 1);
            if (!jv_is_valid(v)) {
                jv_free(o);
                return v;
            }
            o = jv_object_set(o, jv_string_sized(key, (int)klen), v);
        }
        return o;
    }
    case JSON_ARRAY: {
        jv a = jv_array();
        size_t i;
        json_t *val;
        json_array_foreach(j, i, val) {
            jv v = to_jv(val, depth + 1);
            if (!jv_is_valid(v)) {
                jv_free(a);
                return v;
            }
            a = jv_array_append(a, v);
        }
        return a;
    }
    case JSON_STRING:
        return jv_string_sized(json_string_value(j),
                               (int)json_string_length(j));
    case JSON_INTEGER: {
        /* jq's numbers are doubles: past 2^53 an integer (a BIGINT key, a
         * snowflake id) would come out rounded, and two rows could share
         * an id. Those reach the mapping as their decimal text. */
        json_int_t n = json_integer_value(j);
        if (n > ((json_int_t)1 << 53) || n < -((json_int_t)1 << 53)) {
            char text[32];
            snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, n);
            return jv_string(text);
        }
        return jv_number((double)n);
    }
    case JSON_REAL:
        return jv_number(json_real_value(j));
    case JSON_TRUE:
        return jv_true();
    case JSON_FALSE:
        return jv_false();
    default:
        return jv_null();
    }
}

/* A new json_t for v, which it consumes, whose containers are `depth`
 * deep; NULL for what jansson's parser would have refused (or out of
 * memory). */
static json_t *from_jv(jv v, int depth) {
    json_t *j = NULL;
    switch (jv_get_kind(v)) {
    case JV_KIND_NULL:
        j = json_null();
        break;
    case JV_KIND_TRUE:
        j = json_true();
        break;
    case JV_KIND_FALSE:
        j = json_false();
        break;
    case JV_KIND_NUMBER: {
        /* jq prints an integral double under 10^15 as its digits; the
         * rest goes through jq's printer and jansson's parser. */
        double d = jv_number_value(v);
        if (d == floor(d) && fabs(d) < 1e15) {
            j = json_integer((json_int_t)d);
        } else {
            jv text = jv_dump_string(jv_copy(v), 0);
            j = json_loads(jv_string_value(text), JSON_DECODE_ANY, NULL);
            jv_free(text);
        }
        break;
    }
    case JV_KIND_STRING: {
        const char *s = jv_string_value(v);
        size_t len = (size_t)jv_string_length_bytes(jv_copy(v));
        if (!memchr(s, '\0', len))
            j = json_stringn(s, len);
        break;
    }
    case JV_KIND_ARRAY:
        if (depth >= JSON_PARSER_MAX_DEPTH || !(j = json_array()))
            break;
        jv_array_foreach(v, i, x) {
            json_t *item = from_jv(x, depth + 1);
            if (!item || json_array_append_new(j, item) != 0) {
                json_decref(j);
                j = NULL;
                break;
            }
        }
        break;
    case JV_KIND_OBJECT:
        if (depth >= JSON_PARSER_MAX_DEPTH || !(j = json_object()))
            break;
        jv_object_foreach(v, key, x) {
            const char *k = jv_string_value(key);
            size_t klen = (size_t)jv_string_length_bytes(jv_copy(key));
            json_t *item = memchr(k, '\0', klen) ? NULL : from_jv(x, depth + 1);
            if (!item) {
                jv_free(x);
            } else if (json_object_setn_new(j, k, klen, item) != 0) {
                item = NULL;
            }
            jv_free(key);
            if (!item) {
                json_decref(j);
                j = NULL;
                break;
            }
        }
        break;
    default:
        break;
    }
    jv_free(v);
    return j;
}

/* Runs entry jq over the wrapper object; every output goes to out (an
 * array). `objects` requires each output to be an object. */
static int run(hub_mapping_t *m, jq_state *jq, const char *what,
               const json_t *input, const json_t *source, const json_t *meta,
               const json_t *args, int objects, json_t *out, char *err,
               size_t errlen) {
    json_t *wrap = json_pack("{sOsOsOsO}", "source",
                             source ? (json_t *)source : json_null(), "meta",
                             meta ? (json_t *)meta : json_null(), "input",
                             input ? (json_t *)input : json_null(), "args",
                             args ? (json_t *)args : json_null());
    if (!wrap)
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    int rc = 0;
    jv in = to_jv(wrap, 0);
    json_decref(wrap);
    if (!jv_is_valid(in)) {
        jv msg = jv_invalid_get_msg(in);
        rc = hub_fail(err, errlen, HUB_EINVAL, "%s: %s: the input is %s",
                      m->name, what, jv_string_value(msg));
        jv_free(msg);
        return rc;
    }
    jq_start(jq, in, 0);
    for (;;) {
        jv v = jq_next(jq);
        if (!jv_is_valid(v)) {
            if (jv_invalid_has_msg(jv_copy(v))) {
                jv msg = jv_invalid_get_msg(v);
                jv text = jv_get_kind(msg) == JV_KIND_STRING
                              ? msg
                              : jv_dump_string(msg, 0);
                rc = hub_fail(err, errlen, HUB_EINVAL, "%s: %s: %s", m->name,
                              what, jv_string_value(text));
                jv_free(text);
            } else {
                jv_free(v);
            }
            break;
        }
        if (objects && jv_get_kind(v) != JV_KIND_OBJECT) {
            rc = hub_fail(err, errlen, HUB_EINVAL,
                          "%s: %s emitted %s, not an object", m->name, what,
                          jv_kind_name(jv_get_kind(v)));
            jv_free(v);
            break;
        }
        json_t *j = from_jv(v, 0);
        if (!j) {
            rc = hub_fail(err, errlen, HUB_EINVAL,
                          "%s: %s emitted a string with a NUL character or "
                          "a value nested deeper than %d levels",
                          m->name, what, JSON_PARSER_MAX_DEPTH);
            break;
        }
        if (json_array_append_new(out, j) != 0) {
            rc = hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
            break;
        }
    }
    /* Drop whatever the program still had to say after an error. */
    return rc;
}

int hub_mapping_events(hub_mapping_t *m, const json_t *record,
                       const json_t *source, const json_t *meta, json_t *out,
                       char *err, size_t errlen) {
    return run(m, m->jq[E_EVENTS], "events", record, source, meta, NULL, 1,
               out, err, errlen);
}

/* Runs a polling entry that must give exactly one value. */
static int poll_one(hub_mapping_t *m, int entry, const json_t *input,
                    const json_t *source, json_t *args, json_t **out,
                    char *err, size_t errlen) {
    int rc = ensure_poll(m, err, errlen);
    if (rc) {
        json_decref(args);
        return rc;
    }
    if (!m->jq[entry]) {
        json_decref(args);
        return hub_fail(err, errlen, HUB_ENOENT, "%s: does not poll",
                        m->name);
    }
    const char *what = entries[entry].expr;
    size_t wlen = strcspn(what, "(");
    char name[32];
    snprintf(name, sizeof(name), "%.*s", (int)wlen, what);
    json_t *all = json_array();
    if (!all) {
        json_decref(args);
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    }
    rc = run(m, m->jq[entry], name, input, source, NULL, args, 0, all,
                 err, errlen);
    json_decref(args);
    if (rc == 0 && json_array_size(all) != 1)
        rc = hub_fail(err, errlen, HUB_EINVAL,
                      "%s: %s gave %zu values, expected one", m->name, name,
                      json_array_size(all));
    if (rc == 0)
        *out = json_incref(json_array_get(all, 0));
    json_decref(all);
    return rc;
}

int hub_mapping_poll_resources(hub_mapping_t *m, const json_t *source,
                               json_t **out, char *err, size_t errlen) {
    int rc = poll_one(m, E_RESOURCES, NULL, source, json_object(), out, err,
                      errlen);
    if (rc == 0 && !json_is_array(*out)) {
        json_decref(*out);
        *out = NULL;
        return hub_fail(err, errlen, HUB_EINVAL,
                        "%s: poll_resources must be an array of names",
                        m->name);
    }
    return rc;
}

static json_t *opt(const json_t *j) {
    return j ? json_incref((json_t *)j) : json_null();
}

int hub_mapping_poll_request(hub_mapping_t *m, const json_t *source,
                             const char *resource, const json_t *cursor,
                             const json_t *page, const json_t *params,
                             json_t **out, char *err, size_t errlen) {
    json_t *args = json_pack("{sssoso so}", "resource", resource, "cursor",
                             opt(cursor), "page", opt(page), "params",
                             params ? opt(params) : json_object());
    int rc = poll_one(m, E_REQUEST, NULL, source, args, out, err, errlen);
    if (rc == 0 && !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return hub_fail(err, errlen, HUB_EINVAL,
                        "%s: poll_request must give an object", m->name);
    }
    return rc;
}

int hub_mapping_poll_response(hub_mapping_t *m, const json_t *source,
                              const char *resource, const json_t *page,
                              const json_t *body, json_t **out, char *err,
                              size_t errlen) {
    json_t *args =
        json_pack("{ssso}", "resource", resource, "page", opt(page));
    int rc = poll_one(m, E_RESPONSE, body, source, args, out, err, errlen);
    if (rc == 0 && (!json_is_object(*out) ||
                    !json_is_array(json_object_get(*out, "records")))) {
        json_decref(*out);
        *out = NULL;
        return hub_fail(err, errlen, HUB_EINVAL,
                        "%s: poll_response must give {records: [...], next}",
                        m->name);
    }
    return rc;
}

int hub_mapping_poll_cursor(hub_mapping_t *m, const json_t *source,
                            const char *resource, const json_t *record,
                            json_t **out, char *err, size_t errlen) {
    json_t *args = json_pack("{ss}", "resource", resource);
    int rc = poll_one(m, E_CURSOR, record, source, args, out, err, errlen);
    if (rc == 0 && (!json_is_object(*out) ||
                    !json_object_get(*out, "at") ||
                    !json_object_get(*out, "id"))) {
        json_decref(*out);
        *out = NULL;
        return hub_fail(err, errlen, HUB_EINVAL,
                        "%s: poll_cursor must give {at, id}", m->name);
    }
    return rc;
}

int hub_mapping_eval(hub_mapping_t *m, const char *expr, const json_t *input,
                     const json_t *source, const json_t *meta, json_t **out,
                     char *err, size_t errlen) {
    jq_state *jq = NULL;
    int rc = compile_entry(m, expr, "\001", 0, &jq, err, errlen);
    if (rc)
        return rc;
    json_t *all = json_array();
    rc = all ? run(m, jq, "expression", input, source, meta, NULL, 0, all,
                   err, errlen)
             : hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    jq_teardown(&jq);
    if (rc == 0)
        *out = all;
    else
        json_decref(all);
    return rc;
}
