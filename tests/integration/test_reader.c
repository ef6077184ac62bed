/*
 * libhub360 (include/hub360.h) against a store filled in-process from
 * generated events: every customer by id, alias and identity, the
 * accessors against the JSON, errors with their exact codes, the change
 * feed and timelines, and lookups from several threads at once.
 */
#include <hub360.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c360_harness.h"
#include "harness.h"
#include "timefmt.h"

/* One store for every case (generated once: 3,000 events with links,
 * unlinks and forgets, so there are aliases and gone customers). */
static const char *store(void) {
    static char path[4096];
    if (path[0])
        return path;
    events_t ev;
    hub_config_t *cfg = config_from("");
    if (!cfg || events_generate(3000, 11, 5, 0, &ev))
        return NULL;
    snprintf(path, sizeof path, "%s", fresh_store("reader"));
    int rc = apply_events(cfg, path, &ev, NULL, 250, NULL, NULL);
    events_free(&ev);
    hub_config_free(cfg);
    return rc ? NULL : path;
}

typedef struct all {
    json_t *views;  /* id -> parsed view, from hub360_each */
    json_t *raw;    /* id -> the JSON text */
} all_t;

static int collect(const char *id, const char *json, size_t len,
                   void *opaque) {
    all_t *a = opaque;
    json_object_set_new(a->views, id, json_loadb(json, len, 0, NULL));
    json_object_set_new(a->raw, id, json_stringn(json, len));
    return 0;
}

static hub360_reader_t *open_or_fail(all_t *a) {
    const char *path = store();
    hub360_reader_t *r = NULL;
    char err[512];
    if (!path || hub360_open(path, &r, err, sizeof err)) {
        FAIL_AT("cannot open the test store: %s", path ? err : "not built");
        return NULL;
    }
    if (a) {
        a->views = json_object();
        a->raw = json_object();
        if (hub360_each(r, collect, a) || json_object_size(a->views) < 100)
            FAIL_AT("hub360_each found %zu customers",
                    json_object_size(a->views));
    }
    return r;
}

static void all_free(all_t *a) {
    json_decref(a->views);
    json_decref(a->raw);
}

/* Calls fn for every customer of the store (id, its parsed view and its
 * JSON text) with a reader open, until fn returns nonzero. */
typedef int (*visit_fn)(hub360_reader_t *r, const char *id, json_t *view,
                        const char *raw, void *ctx);

static void visit(visit_fn fn, void *ctx) {
    all_t a;
    hub360_reader_t *r = open_or_fail(&a);
    if (!r)
        return;
    const char *id;
    json_t *view;
    json_object_foreach(a.views, id, view) {
        if (fn(r, id, view, json_string_value(json_object_get(a.raw, id)),
               ctx))
            break;
    }
    hub360_close(r);
    all_free(&a);
}

/* The JSON of ref, or NULL (with *rc). Caller frees. */
static char *json_of(hub360_reader_t *r, const char *ref, int *rc) {
    hub360_view_t *v;
    const char *json;
    size_t len;
    *rc = hub360_get(r, ref, &v);
    if (*rc == 0)
        *rc = hub360_view_json(v, &json, &len);
    char *out = *rc ? NULL : strndup(json, len);
    hub360_view_free(v);
    return out;
}

typedef struct counts {
    size_t n, with_orders, aliases, idents;
} counts_t;

static int by_id(hub360_reader_t *r, const char *id, json_t *view,
                 const char *raw, void *ctx) {
    counts_t *c = ctx;
    hub360_view_t *v;
    int rc = hub360_get(r, id, &v);
    CHECK_INT(rc, 0);
    if (rc)
        return 1;
    {
        const char *json;
        size_t len;
        CHECK_INT(hub360_view_json(v, &json, &len), 0);
        CHECK_STR(json, raw);
        CHECK_INT(len, strlen(json));
        CHECK_STR(hub360_view_id(v), id);
        CHECK(hub360_view_resolved_from(v) == NULL);
        json_t *name = json_object_get(json_object_get(view, "profile"),
                                       "name");
        if (name)
            CHECK_STR(hub360_view_name(v),
                      json_string_value(json_object_get(name, "value")));
        else
            CHECK(hub360_view_name(v) == NULL);
        int64_t at = 0;
        const char *ts = json_string_value(json_object_get(view, "updated_at"));
        CHECK(ts && hub_time_parse(ts, strlen(ts), &at, NULL) == 0);
        CHECK_INT(hub360_view_updated_at(v), at);
        json_t *aliases = json_object_get(view, "aliases");
        CHECK_INT(hub360_view_alias_count(v), json_array_size(aliases));
        for (size_t i = 0; i < json_array_size(aliases); i++)
            CHECK_STR(hub360_view_alias(v, i),
                      json_string_value(json_array_get(aliases, i)));
        CHECK(hub360_view_alias(v, json_array_size(aliases)) == NULL);
        json_t *segments = json_object_get(view, "segments");
        CHECK_INT(hub360_view_segment_count(v), json_array_size(segments));
        json_t *orders = json_object_get(view, "orders");
        CHECK_INT(hub360_view_orders(v),
                  json_integer_value(json_object_get(orders, "count")));
        json_t *revenue = json_object_get(orders, "revenue");
        CHECK_INT(hub360_view_revenue_count(v), json_array_size(revenue));
        for (size_t i = 0; i < json_array_size(revenue); i++) {
            const char *cur = NULL;
            int64_t amount = -1;
            json_t *e = json_array_get(revenue, i);
            CHECK_INT(hub360_view_revenue(v, i, &cur, &amount), 0);
            CHECK_STR(cur, json_string_value(json_object_get(e, "currency")));
            CHECK_INT(amount, json_integer_value(json_object_get(e, "amount")));
        }
        CHECK_INT(hub360_view_revenue(v, json_array_size(revenue), NULL,
                                      NULL),
                  HUB360_ENOENT);
        c->with_orders += hub360_view_orders(v) > 0;
        hub360_view_free(v);
        c->n++;
    }
    return 0;
}

TEST(every_customer_by_id_is_the_json_each_gives_and_the_accessors_agree) {
    counts_t c = {0};
    visit(by_id, &c);
    CHECK(c.n > 100);
    CHECK(c.with_orders > 10);
    fprintf(stderr, "%zu customers, %zu with orders\n", c.n, c.with_orders);
}

static int by_alias(hub360_reader_t *r, const char *id, json_t *view,
                    const char *raw, void *ctx) {
    counts_t *c = ctx;
    {
        json_t *refs = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(view, "aliases"), i, x)
            json_array_append(refs, x), c->aliases++;
        json_array_foreach(json_object_get(view, "identities"), i, x) {
            const char *kind = json_string_value(json_object_get(x, "kind"));
            if (strcmp(kind, "email") && strcmp(kind, "phone"))
                continue;
            char ref[600];
            snprintf(ref, sizeof ref, "%s:%s", kind,
                     json_string_value(json_object_get(x, "value")));
            json_array_append_new(refs, json_string(ref));
            c->idents++;
        }
        json_array_foreach(refs, i, x) {
            const char *ref = json_string_value(x);
            hub360_view_t *v;
            int rc = hub360_get(r, ref, &v);
            /* every email and phone a view lists finds a customer (the
             * lookup walks past carriers that belong to none, such as an
             * unlinked link request's entity) */
            CHECK_INT(rc, 0);
            if (rc)
                continue;
            if (strcmp(hub360_view_id(v), id) != 0) { /* shared: fine */
                hub360_view_free(v);
                continue;
            }
            CHECK_STR(hub360_view_resolved_from(v), ref);
            const char *json;
            CHECK_INT(hub360_view_json(v, &json, NULL), 0);
            char expect[8192];
            snprintf(expect, sizeof expect, "{\"resolved_from\":\"%s\",%s",
                     ref, raw + 1);
            CHECK_STR(json, expect);
            hub360_view_free(v);
        }
        json_decref(refs);
    }
    return 0;
}

TEST(aliases_and_identities_answer_the_customer_with_resolved_from_first) {
    counts_t c = {0};
    visit(by_alias, &c);
    CHECK(c.aliases > 0);
    CHECK(c.idents > 100);
}

/* An identity in any spelling the projector normalizes answers what its
 * normalized form answers. */
static int by_spelling(hub360_reader_t *r, const char *id, json_t *view,
                       const char *raw, void *ctx) {
    (void)id, (void)raw;
    size_t *tried = ctx;
    {
        json_t *emails = json_object_get(json_object_get(view, "profile"),
                                         "emails");
        const char *email =
            json_string_value(json_object_get(json_array_get(emails, 0),
                                              "value"));
        if (!email)
            return 0;
        char exact[600], ref[600];
        snprintf(exact, sizeof exact, "email:%s", email);
        snprintf(ref, sizeof ref, "email:  %s ", email);
        for (char *p = ref + 8; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        int rc_exact, rc;
        char *byexact = json_of(r, exact, &rc_exact);
        char *byref = json_of(r, ref, &rc);
        CHECK_INT(rc, rc_exact);
        if (rc == 0) {
            json_t *j = json_loads(byref, 0, NULL), *k = json_loads(byexact, 0, NULL);
            CHECK_STR(json_string_value(json_object_get(j, "resolved_from")),
                      ref);
            json_object_del(j, "resolved_from");
            json_object_del(k, "resolved_from");
            CHECK(json_equal(j, k));
            json_decref(j);
            json_decref(k);
            (*tried)++;
        }
        free(byexact);
        free(byref);
    }
    return *tried == 20;
}

TEST(an_identity_is_normalized_like_the_projector_does) {
    size_t tried = 0;
    visit(by_spelling, &tried);
    CHECK_INT(tried, 20);
}

TEST(errors_have_their_codes) {
    hub360_reader_t *r = open_or_fail(NULL);
    REQUIRE(r);
    hub360_view_t *v = (hub360_view_t *)&r; /* must be cleared */
    CHECK_INT(hub360_get(r, "cus_aaaaaaaaaaaaaaaa", &v), HUB360_ENOENT);
    CHECK(v == NULL);
    CHECK_INT(hub360_get(r, "email:nobody@nowhere.example", &v),
              HUB360_ENOENT);
    CHECK_INT(hub360_get(r, "fax:1", &v), HUB360_ENOENT);
    CHECK_INT(hub360_get(r, "", &v), HUB360_ENOENT);
    CHECK_INT(hub360_get(r, NULL, &v), HUB360_EINVAL);
    CHECK_INT(hub360_get(NULL, "cus_x", &v), HUB360_EINVAL);
    CHECK_INT(hub360_get(r, "cus_x", NULL), HUB360_EINVAL);
    char *json = NULL;
    CHECK_INT(hub360_timeline(r, "cus_aaaaaaaaaaaaaaaa", NULL, 10, &json,
                              NULL),
              HUB360_ENOENT);
    CHECK_STR(hub360_strerror(HUB360_ENOENT), "not found");
    CHECK(hub360_strerror(-999) != NULL);
    hub360_view_free(NULL);
    hub360_close(NULL);
    hub360_close(r);

    char err[512] = "";
    hub360_reader_t *none = (hub360_reader_t *)err;
    int rc = hub360_open("/nonexistent/hub360/store", &none, err, sizeof err);
    CHECK(rc == HUB360_ENOENT || rc == HUB360_EIO);
    CHECK(none == NULL);
    CHECK_CONTAINS(err, "/nonexistent/hub360/store");
    CHECK_INT(hub360_open(NULL, &none, NULL, 0), HUB360_EINVAL);
    CHECK_STR(hub360_version(), "0.1.0");
}

typedef struct feed {
    uint64_t last, n, deleted;
    int ordered;
    uint64_t stop_at;
} feed_t;

static int on_change(const hub360_change_t *ch, void *opaque) {
    feed_t *f = opaque;
    f->ordered &= ch->seq > f->last && strncmp(ch->id, "cus_", 4) == 0;
    f->last = ch->seq;
    f->n++;
    f->deleted += ch->deleted;
    return f->stop_at && f->n == f->stop_at ? 7 : 0;
}

TEST(the_change_feed_pages_in_sequence_order_and_stops_when_asked) {
    hub360_reader_t *r = open_or_fail(NULL);
    REQUIRE(r);
    feed_t all = {.ordered = 1};
    CHECK_INT(hub360_changes(r, 0, (size_t)-1, on_change, &all), 0);
    CHECK(all.ordered);
    CHECK(all.n > 100);
    CHECK(all.deleted > 0); /* merges and forgets leave tombstones */
    feed_t page = {.ordered = 1};
    CHECK_INT(hub360_changes(r, 10, 5, on_change, &page), 0);
    CHECK_INT(page.n, 5);
    CHECK_INT(page.last, 15);
    feed_t stop = {.ordered = 1, .stop_at = 3};
    CHECK_INT(hub360_changes(r, 0, 100, on_change, &stop), 7);
    CHECK_INT(stop.n, 3);
    hub360_close(r);
}

static int paging(hub360_reader_t *r, const char *id, json_t *view,
                  const char *raw, void *ctx) {
    (void)view, (void)raw;
    size_t *paged = ctx;
    {
        char *whole = NULL, *first = NULL, *rest = NULL;
        CHECK_INT(hub360_timeline(r, id, NULL, 1000, &whole, NULL), 0);
        json_t *w = json_loads(whole, 0, NULL);
        size_t n = json_array_size(json_object_get(w, "items"));
        CHECK_STR(json_string_value(json_object_get(w, "customer_id")), id);
        CHECK(json_is_null(json_object_get(w, "next")));
        if (n >= 3) {
            CHECK_INT(hub360_timeline(r, id, "", 2, &first, NULL), 0);
            json_t *f = json_loads(first, 0, NULL);
            const char *next = json_string_value(json_object_get(f, "next"));
            CHECK(next != NULL);
            CHECK_INT(hub360_timeline(r, id, next, 1000, &rest, NULL), 0);
            json_t *g = json_loads(rest, 0, NULL);
            CHECK_INT(json_array_size(json_object_get(g, "items")), n - 2);
            CHECK(json_equal(json_array_get(json_object_get(g, "items"), 0),
                             json_array_get(json_object_get(w, "items"), 2)));
            json_decref(f);
            json_decref(g);
            (*paged)++;
        }
        json_decref(w);
        free(whole);
        free(first);
        free(rest);
    }
    char *json = NULL;
    CHECK_INT(hub360_timeline(r, id, "garbage", 10, &json, NULL),
              HUB360_EINVAL);
    CHECK(json == NULL);
    return *paged == 10;
}

TEST(a_timeline_pages_with_the_cursor_it_gives) {
    size_t paged = 0;
    visit(paging, &paged);
    CHECK_INT(paged, 10);
}

/* Threads looking customers up at once, by id and by alias: every answer
 * is the one a single thread gets. */
typedef struct worker {
    hub360_reader_t *r;
    all_t *a;
    int offset, bad, done;
} worker_t;

static void *work(void *arg) {
    worker_t *w = arg;
    const char *id;
    json_t *view;
    for (int round = 0; round < 3; round++) {
        int k = 0;
        json_object_foreach(w->a->views, id, view) {
            if ((k++ + w->offset) % 2)
                continue;
            const char *alias = json_string_value(
                json_array_get(json_object_get(view, "aliases"), 0));
            const char *ref = alias && k % 3 == 0 ? alias : id;
            int rc;
            char *json = json_of(w->r, ref, &rc);
            const char *raw =
                json_string_value(json_object_get(w->a->raw, id));
            if (!json || (ref == id && strcmp(json, raw) != 0) ||
                (ref != id && strcmp(strchr(json, ',') + 1, raw + 1) != 0))
                w->bad++;
            free(json);
            w->done++;
        }
    }
    return NULL;
}

TEST(threads_share_a_reader) {
    all_t a;
    hub360_reader_t *r = open_or_fail(&a);
    REQUIRE(r);
    worker_t w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){.r = r, .a = &a, .offset = i};
        REQUIRE(pthread_create(&t[i], NULL, work, &w[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(w[i].bad, 0);
        CHECK(w[i].done > 100);
    }
    hub360_close(r);
    all_free(&a);
}

TEST(views_outlive_each_other_and_are_reused) {
    all_t a;
    hub360_reader_t *r = open_or_fail(&a);
    REQUIRE(r);
    /* more views alive at once than the pool keeps idle */
    enum { N = 100 };
    hub360_view_t *v[N] = {0};
    const char *ids[N];
    size_t n = 0;
    const char *id;
    json_t *view;
    json_object_foreach(a.views, id, view) {
        if (n == N)
            break;
        ids[n] = id;
        REQUIRE(hub360_get(r, id, &v[n]) == 0);
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        const char *json;
        CHECK_INT(hub360_view_json(v[i], &json, NULL), 0);
        CHECK_STR(json, json_string_value(json_object_get(a.raw, ids[i])));
        CHECK_STR(hub360_view_id(v[i]), ids[i]);
        hub360_view_free(v[i]);
    }
    hub360_close(r);
    all_free(&a);
}

/* Callbacks may look customers up, by alias too (which takes the lock
 * each holds): a regression test for a self-deadlock. */
typedef struct nested {
    hub360_reader_t *r;
    size_t looked;
} nested_t;

static int look_up_alias(nested_t *n, const char *id) {
    hub360_view_t *v;
    if (hub360_get(n->r, id, &v))
        return 0;
    const char *alias = hub360_view_alias(v, 0);
    hub360_view_t *w = NULL;
    if (alias && hub360_get(n->r, alias, &w) == 0) {
        CHECK_STR(hub360_view_id(w), id);
        n->looked++;
    }
    hub360_view_free(w);
    hub360_view_free(v);
    return 0;
}

static int nested_each(const char *id, const char *json, size_t len,
                       void *opaque) {
    (void)json, (void)len;
    return look_up_alias(opaque, id);
}

static int nested_change(const hub360_change_t *ch, void *opaque) {
    return ch->deleted ? 0 : look_up_alias(opaque, ch->id);
}

TEST(callbacks_may_call_the_reader) {
    nested_t n = {.r = open_or_fail(NULL)};
    REQUIRE(n.r);
    CHECK_INT(hub360_each(n.r, nested_each, &n), 0);
    CHECK(n.looked > 0);
    n.looked = 0;
    CHECK_INT(hub360_changes(n.r, 0, 100000, nested_change, &n), 0);
    CHECK(n.looked > 0);
    hub360_close(n.r);
}

/* The daily report: its CSV has a row per day, and its figures are the
 * JSON's; the range is checked before anything is read. */
TEST(the_daily_report_answers_a_range_and_refuses_a_bad_one) {
    hub360_reader_t *r = open_or_fail(NULL);
    REQUIRE(r);
    char *csv = NULL, *json = NULL;
    size_t len = 0;
    CHECK_INT(hub360_report_daily(r, "2026-01-01", "2026-01-31", 0, 1, &csv,
                                  &len),
              0);
    REQUIRE(csv);
    CHECK_INT(strlen(csv), len);
    size_t rows = 0;
    for (const char *p = csv; (p = strstr(p, "\r\n")); p += 2)
        rows++;
    CHECK_INT(rows, 32); /* the header and 31 days */
    CHECK(strncmp(csv, "date,leads_created,", 19) == 0);
    CHECK_INT(hub360_report_daily(r, "2026-01-01", "2026-01-31", 1, 0, &json,
                                  NULL),
              0);
    json_t *doc = json_loads(json ? json : "", 0, NULL);
    REQUIRE(doc);
    CHECK_INT(json_array_size(json_object_get(doc, "days")), 31);
    CHECK_STR(json_string_value(json_object_get(doc, "time_zone")), "UTC");
    long long customers = 0;
    size_t i;
    json_t *day;
    json_array_foreach(json_object_get(doc, "days"), i, day)
        customers += json_integer_value(json_object_get(day, "customers_new"));
    CHECK(customers > 0);
    json_decref(doc);
    free(csv);
    free(json);
    char *none = (char *)r;
    CHECK_INT(hub360_report_daily(r, "2026-01-32", "2026-02-01", 0, 0, &none,
                                  NULL),
              HUB360_EINVAL);
    CHECK(none == NULL);
    CHECK_INT(hub360_report_daily(r, "2026-02-01", "2026-01-01", 0, 0, &none,
                                  NULL),
              HUB360_EINVAL);
    CHECK_INT(hub360_report_daily(NULL, "2026-01-01", "2026-01-01", 0, 0,
                                  &none, NULL),
              HUB360_EINVAL);
    CHECK_INT(hub360_report_daily(r, "2026-01-01", "2026-01-01", 0, 0, NULL,
                                  NULL),
              HUB360_EINVAL);
    hub360_close(r);
}
