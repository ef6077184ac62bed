/*
 * hub360 - the demo's fake vendor APIs: what `hub360 up --demo`'s pollers
 * read, on a second HTTP server of the process (127.0.0.1, a free port).
 *
 * Each answers exactly the requests the presets make (adapters/presets/
 * *.jq, poll_request) with the response shape they read (poll_response):
 *   HubSpot CRM v3 search: POST /crm/v3/objects/{contacts|deals}/search,
 *     a filter "lastmodifieddate GTE <at>", `after` an offset into the
 *     query's results; answers {"total", "results", "paging.next.after"}.
 *   Odoo JSON-2: POST /json/2/<model>/search_read with a domain on
 *     write_date (>= at; or the keyset "|", (">" at), "&", ("=" at),
 *     ("id" ">" n)); answers a bare array of records. (The issue asked for
 *     JSON-RPC; Odoo 19 deprecates /jsonrpc in favour of JSON-2, which is
 *     what the odoo preset speaks.)
 *   The mention feed: GET /mentions?updated_since=<at>&limit=N, then
 *     ?cursor=<token>; answers {"mentions": [...], "next": token|null}.
 * Simplifications, admitted: no auth; domains and filters are read only
 * as far as the presets write them (the scope terms, customer_rank and
 * state, are true of every record here); resources the demo does not
 * fill (deals, deliveries, invoices) answer empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo_internal.h"
#include "errors.h"
#include "timefmt.h"

#define PAGE_MAX 1000

/* ------------------------------------------------------------------ */
/* Feeds                                                               */
/* ------------------------------------------------------------------ */

static int key_cmp(int64_t at1, int64_t id1, int64_t at2, int64_t id2) {
    if (at1 != at2)
        return at1 < at2 ? -1 : 1;
    return id1 < id2 ? -1 : id1 > id2;
}

void demo_vendor_put(demo_vendor_t *v, int feed, int64_t at_ms, int64_t id,
                     json_t *rec) {
    pthread_mutex_lock(&v->mu);
    demo_feed_t *f = &v->feeds[feed];
    for (size_t i = 0; i < f->n; i++) {
        if (f->id[i] != id)
            continue;
        json_decref(f->recs[i]);
        memmove(f->recs + i, f->recs + i + 1, (f->n - i - 1) * sizeof *f->recs);
        memmove(f->at + i, f->at + i + 1, (f->n - i - 1) * sizeof *f->at);
        memmove(f->id + i, f->id + i + 1, (f->n - i - 1) * sizeof *f->id);
        f->n--;
        break;
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 256;
        json_t **r = realloc(f->recs, cap * sizeof *r);
        if (r)
            f->recs = r;
        int64_t *a = realloc(f->at, cap * sizeof *a);
        if (a)
            f->at = a;
        int64_t *d = realloc(f->id, cap * sizeof *d);
        if (d)
            f->id = d;
        if (!r || !a || !d) { /* the record is lost; the demo goes on */
            pthread_mutex_unlock(&v->mu);
            json_decref(rec);
            return;
        }
        f->cap = cap;
    }
    size_t i = f->n;
    while (i > 0 && key_cmp(f->at[i - 1], f->id[i - 1], at_ms, id) > 0)
        i--;
    memmove(f->recs + i + 1, f->recs + i, (f->n - i) * sizeof *f->recs);
    memmove(f->at + i + 1, f->at + i, (f->n - i) * sizeof *f->at);
    memmove(f->id + i + 1, f->id + i, (f->n - i) * sizeof *f->id);
    f->recs[i] = rec;
    f->at[i] = at_ms;
    f->id[i] = id;
    f->n++;
    pthread_mutex_unlock(&v->mu);
}

/* Appends to arr (a new reference each) the records of feed that pass
 * `keep`, in (at, id) order, after skipping `skip` of them, up to limit;
 * returns how many pass in all, and sets *more when some were left after
 * the page. Under v->mu. */
typedef int (*keep_fn)(int64_t at, int64_t id, const void *q);

static size_t take(const demo_feed_t *f, keep_fn keep, const void *q,
                   size_t skip, size_t limit, json_t *arr, int *more) {
    size_t matching = 0, taken = 0;
    *more = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (!keep(f->at[i], f->id[i], q))
            continue;
        if (matching++ < skip)
            continue;
        if (taken == limit)
            *more = 1;
        else if (json_array_append(arr, f->recs[i]) == 0)
            taken++;
    }
    return matching;
}

/* RFC 3339, or Odoo's "YYYY-MM-DD HH:MM:SS" (UTC, no offset). */
static int parse_at(const char *s, int64_t *ms) {
    const char *why;
    char utc[40];
    if (!s)
        return -1;
    if (hub_time_parse(s, strlen(s), ms, &why) == 0)
        return 0;
    int n = snprintf(utc, sizeof utc, "%sZ", s);
    return n > 0 && (size_t)n < sizeof utc
               ? hub_time_parse(utc, (size_t)n, ms, &why)
               : -1;
}

static void answer_json(hub_http_resp_t *resp, json_t *v) {
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!s) {
        hub_http_error(resp, 500, "internal", "out of memory");
        return;
    }
    resp->status = 200;
    hub_buf_puts(&resp->body, s);
    free(s);
}

/* The request's JSON object body (NULL after answering 400) and path. */
static json_t *request_json(const hub_http_req_t *req, hub_http_resp_t *resp,
                            const char **path) {
    *path = hub_http_path(req);
    size_t len;
    const char *body = hub_http_body(req, &len);
    json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        hub_http_error(resp, 400, "bad_request", "expected a JSON object");
        return NULL;
    }
    return j;
}

static size_t limit_of(json_int_t n) {
    return n <= 0 ? 100 : n > PAGE_MAX ? PAGE_MAX : (size_t)n;
}

/* ------------------------------------------------------------------ */
/* HubSpot CRM v3 search                                               */
/* ------------------------------------------------------------------ */

static int keep_since(int64_t at, int64_t id, const void *q) {
    (void)id;
    return at >= *(const int64_t *)q;
}

/* Takes q. */
static void hubspot_search(demo_vendor_t *v, const char *path, json_t *q,
                           hub_http_resp_t *resp) {
    int64_t since = INT64_MIN;
    const char *value = json_string_value(json_object_get(
        json_array_get(
            json_object_get(
                json_array_get(json_object_get(q, "filterGroups"), 0),
                "filters"),
            0),
        "value"));
    if (value && parse_at(value, &since) != 0) {
        json_decref(q);
        hub_http_error(resp, 400, "VALIDATION_ERROR", "bad filter value %s",
                       value);
        return;
    }
    const char *after = json_string_value(json_object_get(q, "after"));
    size_t skip = after ? strtoul(after, NULL, 10) : 0;
    size_t limit = limit_of(json_integer_value(json_object_get(q, "limit")));
    json_decref(q);
    json_t *results = json_array(), *out = json_object();
    int more = 0;
    size_t total = 0, n;
    if (strcmp(path, "/crm/v3/objects/contacts/search") == 0) {
        pthread_mutex_lock(&v->mu);
        total = take(&v->feeds[DEMO_FEED_HS_CONTACTS], keep_since, &since, skip,
                     limit, results, &more);
        pthread_mutex_unlock(&v->mu);
    } else if (strcmp(path, "/crm/v3/objects/deals/search") != 0) {
        json_decref(results);
        json_decref(out);
        hub_http_error(resp, 404, "NOT_FOUND", "no such object type");
        return;
    }
    n = json_array_size(results);
    json_object_set_new(out, "total", json_integer((json_int_t)total));
    json_object_set_new(out, "results", results);
    if (more) {
        char next[32];
        snprintf(next, sizeof next, "%zu", skip + n);
        json_object_set_new(out, "paging",
                            json_pack("{s:{s:s}}", "next", "after", next));
    }
    answer_json(resp, out);
}

/* ------------------------------------------------------------------ */
/* Odoo JSON-2 search_read                                             */
/* ------------------------------------------------------------------ */

typedef struct odoo_q {
    int keyset;         /* the "|" form of a next page */
    int64_t ge, gt, eq; /* write_date bounds, ms; INT64_MIN: none */
    int64_t id_gt;
} odoo_q;

static int keep_odoo(int64_t at, int64_t id, const void *vq) {
    const odoo_q *q = vq;
    if (q->keyset)
        return at > q->gt || (at == q->eq && id > q->id_gt);
    return at >= q->ge;
}

/* Takes q. */
static void odoo_search_read(demo_vendor_t *v, const char *path, json_t *q,
                             hub_http_resp_t *resp) {
    odoo_q oq = {0, INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN};
    size_t i;
    json_t *term;
    json_array_foreach(json_object_get(q, "domain"), i, term) {
        if (json_is_string(term) && strcmp(json_string_value(term), "|") == 0)
            oq.keyset = 1;
        const char *field = json_string_value(json_array_get(term, 0));
        const char *op = json_string_value(json_array_get(term, 1));
        json_t *val = json_array_get(term, 2);
        if (!field || !op)
            continue;
        int64_t at = INT64_MIN;
        if (strcmp(field, "write_date") == 0 &&
            parse_at(json_string_value(val), &at) == 0) {
            if (strcmp(op, ">=") == 0)
                oq.ge = at;
            else if (strcmp(op, ">") == 0)
                oq.gt = at;
            else if (strcmp(op, "=") == 0)
                oq.eq = at;
        } else if (strcmp(field, "id") == 0 && strcmp(op, ">") == 0) {
            oq.id_gt =
                json_is_integer(val)
                    ? json_integer_value(val)
                    : strtoll(json_string_value(val) ? json_string_value(val)
                                                     : "0",
                              NULL, 10);
        }
    }
    size_t limit = limit_of(json_integer_value(json_object_get(q, "limit")));
    json_decref(q);
    int feed = strcmp(path, "/json/2/res.partner/search_read") == 0
                   ? DEMO_FEED_ODOO_PARTNERS
               : strcmp(path, "/json/2/sale.order/search_read") == 0
                   ? DEMO_FEED_ODOO_ORDERS
                   : -1;
    json_t *out = json_array();
    int more;
    if (feed >= 0) {
        pthread_mutex_lock(&v->mu);
        take(&v->feeds[feed], keep_odoo, &oq, 0, limit, out, &more);
        pthread_mutex_unlock(&v->mu);
    }
    answer_json(resp, out);
}

/* Both searches are POSTs of a JSON object. */
static void post_search(void *opaque, const hub_http_req_t *req,
                        hub_http_resp_t *resp) {
    const char *path;
    json_t *q = request_json(req, resp, &path);
    if (!q)
        return;
    if (strncmp(path, "/json/2/", 8) == 0)
        odoo_search_read(opaque, path, q, resp);
    else
        hubspot_search(opaque, path, q, resp);
}

/* ------------------------------------------------------------------ */
/* The mention feed                                                    */
/* ------------------------------------------------------------------ */

typedef struct key_q {
    int64_t at, id;
} key_q;

static int keep_after(int64_t at, int64_t id, const void *vq) {
    const key_q *q = vq;
    return key_cmp(at, id, q->at, q->id) > 0;
}

static void mentions(void *opaque, const hub_http_req_t *req,
                     hub_http_resp_t *resp) {
    demo_vendor_t *v = opaque;
    const char *cursor = hub_http_query(req, "cursor");
    const char *since = hub_http_query(req, "updated_since");
    const char *lim = hub_http_query(req, "limit");
    size_t limit = limit_of(lim ? strtol(lim, NULL, 10) : 100);
    key_q q = {INT64_MIN, INT64_MIN};
    long long a, b;
    if (cursor) {
        if (sscanf(cursor, "%lld.%lld", &a, &b) != 2) {
            hub_http_error(resp, 400, "bad_request", "bad cursor");
            return;
        }
        q.at = a, q.id = b;
    } else if (since) {
        if (parse_at(since, &q.at) != 0) {
            hub_http_error(resp, 400, "bad_request", "bad updated_since");
            return;
        }
        q.id = INT64_MIN; /* at or after `since` */
    }
    json_t *list = json_array(), *out = json_object();
    int more;
    pthread_mutex_lock(&v->mu);
    const demo_feed_t *f = &v->feeds[DEMO_FEED_MENTIONS];
    take(f, keep_after, &q, 0, limit, list, &more);
    char next[64] = "";
    size_t n = json_array_size(list);
    if (more && n) {
        /* the key of the last record taken */
        for (size_t i = 0; i < f->n; i++)
            if (json_array_get(list, n - 1) == f->recs[i])
                snprintf(next, sizeof next, "%lld.%lld", (long long)f->at[i],
                         (long long)f->id[i]);
    }
    pthread_mutex_unlock(&v->mu);
    json_object_set_new(out, "mentions", list);
    json_object_set_new(out, "next", *next ? json_string(next) : json_null());
    answer_json(resp, out);
}

/* ------------------------------------------------------------------ */
/* The server                                                          */
/* ------------------------------------------------------------------ */

int demo_vendor_start(demo_vendor_t *v, char *err, size_t errlen) {
    memset(v, 0, sizeof *v);
    pthread_mutex_init(&v->mu, NULL);
    hub_http_config_t hc = {
        .listen = "127.0.0.1:0", .body_limit = 1 << 20, .max_connections = 32};
    int rc = hub_http_new(&hc, &v->http, err, errlen);
    if (rc)
        return rc;
    if ((rc = hub_http_route(v->http, "POST", "/crm/v3/objects/", post_search,
                             v)) ||
        (rc = hub_http_route(v->http, "POST", "/json/2/", post_search, v)) ||
        (rc = hub_http_route(v->http, "GET", "/mentions", mentions, v)))
        return hub_fail(err, errlen, rc, "demo: out of memory");
    if ((rc = hub_http_start(v->http, err, errlen)))
        return rc;
    v->port = hub_http_port(v->http);
    return 0;
}

void demo_vendor_stop(demo_vendor_t *v) {
    hub_http_stop(v->http);
    v->http = NULL;
    for (int k = 0; k < DEMO_FEED_N; k++) {
        demo_feed_t *f = &v->feeds[k];
        for (size_t i = 0; i < f->n; i++)
            json_decref(f->recs[i]);
        free(f->recs);
        free(f->at);
        free(f->id);
    }
    memset(v->feeds, 0, sizeof v->feeds);
}
