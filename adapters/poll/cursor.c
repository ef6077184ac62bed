/*
 * hub360 - the poller's cursors: comparing positions, and the LMDB
 * table they are kept in (see cursor.h).
 */
#include "cursor.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "store.h"
#include "timefmt.h"

/* ------------------------------------------------------------------ */
/* Ordering                                                            */
/* ------------------------------------------------------------------ */

/* The fraction digits past the millisecond ("456" of ".123456"), or ""
 * when the time has three digits or fewer. s parsed as RFC 3339, so its
 * date and time sit at fixed places: the fraction starts at 20. */
static const char *sub_ms(const char *s, size_t *n) {
    *n = 0;
    if (strlen(s) < 20 || s[19] != '.')
        return "";
    const char *f = s + 20;
    size_t digits = strspn(f, "0123456789");
    if (digits <= 3)
        return "";
    *n = digits - 3;
    return f + 3;
}

int hub_poll_at_cmp(const char *a, const char *b) {
    int64_t ma, mb;
    if (hub_time_parse(a, strlen(a), &ma, NULL) != 0 ||
        hub_time_parse(b, strlen(b), &mb, NULL) != 0)
        return strcmp(a, b);
    if (ma != mb)
        return ma < mb ? -1 : 1;
    /* Same millisecond: the digits past it, the shorter padded with
     * zeros ("123" and "1230" are one instant). */
    size_t na, nb;
    const char *fa = sub_ms(a, &na), *fb = sub_ms(b, &nb);
    for (size_t i = 0; i < na || i < nb; i++) {
        char ca = i < na ? fa[i] : '0', cb = i < nb ? fb[i] : '0';
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return 0;
}

/* s is an integer: an optional '-' and at least one digit. */
static int is_integer(const char *s) {
    if (*s == '-')
        s++;
    return *s && strspn(s, "0123456789") == strlen(s);
}

/* Compares two non-negative digit strings by value. */
static int digits_cmp(const char *a, const char *b) {
    while (*a == '0' && a[1])
        a++;
    while (*b == '0' && b[1])
        b++;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    int c = strcmp(a, b);
    return c < 0 ? -1 : c > 0;
}

int hub_poll_id_cmp(const char *a, const char *b) {
    if (!is_integer(a) || !is_integer(b)) {
        int c = strcmp(a, b);
        return c < 0 ? -1 : c > 0;
    }
    int na = *a == '-', nb = *b == '-';
    if (na != nb)
        return na ? -1 : 1;
    int c = digits_cmp(a + na, b + nb);
    return na ? -c : c;
}

int hub_poll_pos_cmp(const hub_poll_pos_t *a, const hub_poll_pos_t *b) {
    int c = hub_poll_at_cmp(a->at, b->at);
    return c ? c : hub_poll_id_cmp(a->id, b->id);
}

int hub_poll_pos_from_json(const json_t *v, hub_poll_pos_t *out, char *err,
                           size_t errlen) {
    const json_t *at = json_object_get(v, "at"), *id = json_object_get(v, "id");
    if (!json_is_string(at) || json_string_length(at) == 0)
        return hub_fail(err, errlen, HUB_EINVAL,
                        "poll_cursor gave no \"at\" string");
    if (json_string_length(at) >= sizeof(out->at))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "poll_cursor's \"at\" is over %zu bytes",
                        sizeof(out->at) - 1);
    char num[32];
    const char *ids = NULL;
    if (json_is_string(id)) {
        ids = json_string_value(id);
    } else if (json_is_integer(id)) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(id));
        ids = num;
    } else {
        return hub_fail(err, errlen, HUB_EINVAL,
                        "poll_cursor gave no \"id\" (a string or integer)");
    }
    if (strlen(ids) >= sizeof(out->id))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "poll_cursor's \"id\" is over %zu bytes",
                        sizeof(out->id) - 1);
    snprintf(out->at, sizeof(out->at), "%s", json_string_value(at));
    snprintf(out->id, sizeof(out->id), "%s", ids);
    return 0;
}

json_t *hub_poll_pos_to_json(const hub_poll_pos_t *p) {
    return json_pack("{ssss}", "at", p->at, "id", p->id);
}

/* ------------------------------------------------------------------ */
/* The table                                                           */
/* ------------------------------------------------------------------ */

struct hub_poll_cursors {
    hub_store_t *store;
};

static const hub_table_def_t tables[] = {{"cursors", 0}};

int hub_poll_cursors_open(const char *dir, hub_poll_cursors_t **out,
                          char *err, size_t errlen) {
    hub_poll_cursors_t *c = calloc(1, sizeof(*c));
    if (!c)
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    char why[512];
    int rc = hub_store_open(dir, tables, 1, 64 << 20,
                            HUB_STORE_CREATE | HUB_STORE_WRITER, &c->store,
                            why, sizeof(why));
    if (rc) {
        free(c);
        /* The store's message speaks of projectors; say whose it is. */
        return hub_fail(err, errlen, rc, "the poll cursors at %s: %s%s", dir,
                        why,
                        rc == HUB_ESTATE ? " (another hub360 adapters "
                                           "polls with this data dir)"
                                         : "");
    }
    *out = c;
    return 0;
}

void hub_poll_cursors_close(hub_poll_cursors_t *c) {
    if (!c)
        return;
    hub_store_close(c->store);
    free(c);
}

static int make_key(const char *source, const char *resource, char *key,
                    size_t len, char *err, size_t errlen) {
    int n = snprintf(key, len, "%s/%s", source, resource);
    if (n < 0 || (size_t)n >= len || (size_t)n > 511)
        return hub_fail(err, errlen, HUB_EINVAL,
                        "cursor key %s/%s is over 511 bytes", source,
                        resource);
    return 0;
}

/* NULL when look is what a cursor's "lookback" must be ({"recent": {id:
 * at string}, "floor": at string}, both optional), else what is not. */
static const char *bad_lookback(const json_t *look) {
    if (!json_is_object(look))
        return "lookback: not an object";
    const json_t *r = json_object_get(look, "recent"), *f;
    if (r && !json_is_object(r))
        return "lookback.recent: not an object";
    const char *id;
    json_object_foreach((json_t *)r, id, f) {
        if (!json_is_string(f))
            return "lookback.recent: a value that is not a string";
    }
    f = json_object_get(look, "floor");
    if (f && !json_is_string(f))
        return "lookback.floor: not a string";
    return NULL;
}

int hub_poll_cursors_get(hub_poll_cursors_t *c, const char *source,
                         const char *resource, hub_poll_pos_t *out,
                         json_t **ties, json_t **look, char *err,
                         size_t errlen) {
    char key[1024];
    int rc = make_key(source, resource, key, sizeof(key), err, errlen);
    if (rc)
        return rc;
    MDB_env *env = hub_store_env(c->store);
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)))
        return hub_fail(err, errlen, hub_store_err(rc), "cursor %s: %s", key,
                        mdb_strerror(rc));
    MDB_val k = {strlen(key), key}, v;
    rc = mdb_get(txn, hub_store_dbi(c->store, 0), &k, &v);
    json_t *doc = NULL;
    if (rc == 0) /* copied out before the transaction ends */
        doc = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND)
        return HUB_ENOENT;
    if (rc)
        return hub_fail(err, errlen, hub_store_err(rc), "cursor %s: %s", key,
                        mdb_strerror(rc));
    char why[256];
    rc = doc ? hub_poll_pos_from_json(doc, out, why, sizeof(why))
             : hub_fail(why, sizeof(why), HUB_EDECODE, "not JSON");
    json_t *t = json_object_get(doc, "ties");
    if (rc == 0 && t && !json_is_array(t))
        rc = hub_fail(why, sizeof(why), HUB_EDECODE, "ties: not an array");
    json_t *l = json_object_get(doc, "lookback");
    const char *bad = l ? bad_lookback(l) : NULL;
    if (rc == 0 && bad)
        rc = hub_fail(why, sizeof(why), HUB_EDECODE, "%s", bad);
    if (rc == 0 && ties &&
        !(*ties = t ? json_deep_copy(t) : json_array()))
        rc = hub_fail(why, sizeof(why), HUB_ENOMEM, "out of memory");
    if (rc == 0 && look &&
        !(*look = l ? json_deep_copy(l) : json_object())) {
        if (ties) {
            json_decref(*ties);
            *ties = NULL;
        }
        rc = hub_fail(why, sizeof(why), HUB_ENOMEM, "out of memory");
    }
    json_decref(doc);
    if (rc)
        return hub_fail(err, errlen, HUB_EDECODE, "cursor %s: %s", key, why);
    return 0;
}

int hub_poll_cursors_put(hub_poll_cursors_t *c, const char *source,
                         const char *resource, const hub_poll_pos_t *pos,
                         const json_t *ties, const json_t *look, char *err,
                         size_t errlen) {
    char key[1024];
    int rc = make_key(source, resource, key, sizeof(key), err, errlen);
    if (rc)
        return rc;
    json_t *doc = hub_poll_pos_to_json(pos);
    if (doc && ((json_array_size(ties) &&
                 json_object_set_new(doc, "ties", json_deep_copy(ties))) ||
                ((json_object_size(json_object_get(look, "recent")) ||
                  json_object_get(look, "floor")) &&
                 json_object_set_new(doc, "lookback",
                                     json_deep_copy(look))))) {
        json_decref(doc);
        doc = NULL;
    }
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    MDB_env *env = hub_store_env(c->store);
    MDB_txn *txn;
    MDB_val k = {strlen(key), key}, v = {strlen(text), text};
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) == 0) {
        rc = mdb_put(txn, hub_store_dbi(c->store, 0), &k, &v, 0);
        if (rc)
            mdb_txn_abort(txn);
        else
            rc = mdb_txn_commit(txn);
    }
    free(text);
    if (rc)
        return hub_fail(err, errlen, hub_store_err(rc),
                        "storing cursor %s: %s", key, mdb_strerror(rc));
    return 0;
}
