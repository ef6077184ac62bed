/*
 * Integration tests of the customer-360 projection, applied in process
 * (no Kafka): order independence, duplicates, links, forget, guards.
 */
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "c360_harness.h"
#include "errors.h"
#include "harness.h"
#include "view.h"

static void dump(const char *name, const hub_buf_t *b) {
    char path[4200];
    snprintf(path, sizeof path, "%s/tests/stores/%s.ndjson",
             HUB360_BINARY_DIR, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fwrite(b->data, 1, b->len, f);
        fclose(f);
    }
}

/* Makes most events tie on occurred_at, as a database's changes of one
 * transaction or one second do: each occurs at midnight of its day, and
 * carries a sequence drawn from few values (so sequences tie too, and
 * the event id decides), or none. A function of the event id, so that a
 * re-sent event stays the same event. */
static void make_ties(events_t *ev) {
    for (size_t i = 0; i < ev->n; i++) {
        json_t *e = json_loads(ev->lines[i], 0, NULL);
        REQUIRE(e);
        const char *at = json_string_value(json_object_get(e, "occurred_at"));
        const char *id = json_string_value(json_object_get(e, "event_id"));
        REQUIRE(at && strlen(at) >= 10 && id);
        char day[32];
        snprintf(day, sizeof day, "%.10sT00:00:00Z", at);
        json_object_set_new(e, "occurred_at", json_string(day));
        uint64_t x = 1469598103934665603ull; /* FNV-1a of the id */
        for (; *id; id++)
            x = (x ^ (unsigned char)*id) * 1099511628211ull;
        if (x % 5)
            json_object_set_new(e, "sequence", json_integer((json_int_t)(x % 50)));
        free(ev->lines[i]);
        ev->lines[i] = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
        REQUIRE(ev->lines[i]);
        json_decref(e);
    }
}

static void orders_agree(int control, int dups, int ties) {
    events_t ev;
    const char *seed = getenv("HUB360_TEST_SEED"); /* to explore others */
    const char *pct = getenv("HUB360_TEST_CONTROL");
    size_t events = events_wanted(12000);
    events_generate(events, seed ? (unsigned)strtoul(seed, NULL, 10) : 7,
                    control && pct ? (int)strtol(pct, NULL, 10) : control, dups, &ev);
    if (ties)
        make_ties(&ev);
    hub_config_t *cfg = config_from("");
    REQUIRE(cfg);
    size_t *rev = malloc(ev.n * sizeof *rev), *shuf = shuffled(ev.n, 42);
    for (size_t i = 0; i < ev.n; i++)
        rev[i] = ev.n - 1 - i;
    const char *names[3] = {"order-gen", "order-rev", "order-shuf"};
    const size_t *orders[3] = {NULL, rev, shuf};
    const size_t batches[3] = {1000, 777, 64};
    hub_buf_t out[3] = {HUB_BUF_INIT, HUB_BUF_INIT, HUB_BUF_INIT};
    char digest[3][65];
    size_t counts[3][4] = {{0}};
    for (int k = 0; k < 3; k++) {
        char store[4096];
        snprintf(store, sizeof store, "%s", fresh_store(names[k]));
        CHECK_INT(apply_events(cfg, store, &ev, orders[k], batches[k],
                               counts[k], NULL),
                  0);
        CHECK_INT(export_store(store, &out[k], digest[k]), 0);
    }
    fprintf(stderr, "%zu events: %zu applied, %zu duplicates, %zu ignored, "
                    "%zu dead; %zu bytes of views\n",
            ev.n, counts[0][HUB_C360_APPLIED], counts[0][HUB_C360_DUPLICATE],
            counts[0][HUB_C360_IGNORED], counts[0][HUB_C360_DEAD], out[0].len);
    CHECK(out[0].len > events * 100); /* about 400 bytes of views each */
    CHECK(!dups || counts[0][HUB_C360_DUPLICATE] > 0);
    CHECK_INT(counts[0][HUB_C360_DEAD], 0);
    for (int k = 1; k < 3; k++) {
        CHECK_STR(digest[k], digest[0]);
        int same = out[k].len == out[0].len &&
                   memcmp(out[k].data, out[0].data, out[0].len) == 0;
        CHECK(same);
        if (!same) { /* for the diff */
            dump(names[0], &out[0]);
            dump(names[k], &out[k]);
        }
    }
    for (int k = 0; k < 3; k++)
        hub_buf_free(&out[k]);
    free(rev);
    free(shuf);
    hub_config_free(cfg);
    events_free(&ev);
}

TEST(the_same_events_in_three_orders_give_identical_views) {
    orders_agree(0, 0, 0);
}

TEST(with_duplicates_and_operators_the_orders_still_agree) {
    orders_agree(1, 2, 0);
}

/* Last-writer-wins on (occurred_at, sequence, event_id) is as order
 * independent as it was on (occurred_at, event_id). */
TEST(events_that_tie_on_occurred_at_agree_in_three_orders_by_their_sequence) {
    orders_agree(1, 2, 1);
}

/* ------------------------------------------------------------------ */
/* The scripted scenario                                               */
/* ------------------------------------------------------------------ */

static char *get_view(const char *store, const char *ref, char *id,
                      size_t idlen) {
    hub_c360_t *c;
    char err[512];
    if (hub_c360_open_reader(store, &c, err, sizeof err)) {
        FAIL_AT("%s", err);
        return NULL;
    }
    hub_buf_t out = HUB_BUF_INIT;
    int rc = hub_c360_get_json(c, ref, &out, id, idlen);
    hub_c360_close(c);
    if (rc) {
        hub_buf_free(&out);
        return NULL;
    }
    return hub_buf_steal(&out, NULL);
}

static char *expected(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/scenario/%s", name);
    size_t len;
    char *s = hub_test_read(path, &len);
    if (s && len && s[len - 1] == '\n')
        s[len - 1] = '\0';
    return s;
}

TEST(scenario_across_three_systems_gives_the_expected_views) {
    char *text = hub_test_read("tests/fixtures/scenario/events.ndjson", NULL);
    REQUIRE(text);
    events_t ev;
    events_from_text(text, &ev);
    free(text);
    hub_config_t *cfg = config_from(
        "segments:\n"
        "  vip: orders.revenue.CNY >= 100000\n"
        "  at_risk: service.tickets_open > 0 and social.sentiment_mean < 0.5\n"
        "  wechat_fan: social.messages_in > 0\n");
    REQUIRE(cfg);
    size_t *rev = malloc(ev.n * sizeof *rev);
    for (size_t i = 0; i < ev.n; i++)
        rev[i] = ev.n - 1 - i;
    char forward[4096], backward[4096];
    snprintf(forward, sizeof forward, "%s", fresh_store("scenario-fwd"));
    snprintf(backward, sizeof backward, "%s", fresh_store("scenario-rev"));
    size_t counts[4] = {0};
    CHECK_INT(apply_events(cfg, forward, &ev, NULL, 5, counts, NULL), 0);
    CHECK_INT(counts[HUB_C360_APPLIED], ev.n);
    CHECK_INT(apply_events(cfg, backward, &ev, rev, 1, NULL, NULL), 0);

    char *mei = expected("mei.json"), *bo = expected("bo.json");
    const char *stores[2] = {forward, backward};
    for (int s = 0; s < 2; s++) {
        char id[64] = "";
        char *got = get_view(stores[s], "email:Mei.Chen@example.com", id,
                             sizeof id);
        CHECK_STR(got, mei);
        /* the WeChat follower was a customer of its own before the merge;
         * its id is now an alias that still resolves */
        char follower[HUB_CUSTOMER_ID_LEN + 1];
        hub_customer_id("wechat/follower/o-mei", 21, follower);
        char resolved[64] = "";
        char *via_alias = get_view(stores[s], follower, resolved,
                                   sizeof resolved);
        CHECK_STR(via_alias, mei);
        CHECK_STR(resolved, id);
        CHECK(strstr(mei, follower) != NULL); /* listed as an alias */
        char *by_phone = get_view(stores[s], "phone:13812345678", NULL, 0);
        CHECK_STR(by_phone, mei);
        char *got_bo = get_view(stores[s], "email:bo.wang@example.com", NULL,
                                0);
        CHECK_STR(got_bo, bo);
        CHECK(get_view(stores[s], "email:nobody@example.com", NULL, 0) ==
              NULL);
        free(got);
        free(via_alias);
        free(by_phone);
        free(got_bo);
    }
    char d1[65], d2[65];
    CHECK_INT(export_store(forward, NULL, d1), 0);
    CHECK_INT(export_store(backward, NULL, d2), 0);
    CHECK_STR(d1, d2);
    free(mei);
    free(bo);
    free(rev);
    hub_config_free(cfg);
    events_free(&ev);
}

/* ------------------------------------------------------------------ */
/* Each rule with its exact outcome                                    */
/* ------------------------------------------------------------------ */

#include "c360_internal.h"

/* Entries in one table of a store. */
static size_t table_entries(const char *store, int table) {
    hub_c360_t *c;
    char err[512];
    if (hub_c360_open_reader(store, &c, err, sizeof err))
        return (size_t)-1;
    MDB_txn *txn;
    MDB_stat st = {0};
    if (mdb_txn_begin(hub_store_env(c->store), NULL, MDB_RDONLY, &txn) == 0) {
        mdb_stat(txn, hub_store_dbi(c->store, (size_t)table), &st);
        mdb_txn_abort(txn);
    }
    hub_c360_close(c);
    return st.ms_entries;
}

/* An event line with a fresh id n, of the given type and payload. */
static char *line(int n, const char *type, const char *at, const char *src,
                  const char *ids, const char *payload) {
    hub_buf_t b = HUB_BUF_INIT;
    const char *kind = strncmp(type, "crm.", 4) == 0    ? "crm"
                       : strncmp(type, "erp.", 4) == 0  ? "erp"
                       : strncmp(type, "scrm.", 5) == 0 ? "scrm"
                                                         : "hub";
    hub_buf_printf(&b,
                   "{\"event_id\":\"00000000-0000-5000-8000-%012d\","
                   "\"type\":\"%s\",\"occurred_at\":\"%s\","
                   "\"ingested_at\":\"%s\",\"source\":{%s,\"kind\":\"%s\"},"
                   "\"identities\":[%s],\"payload\":%s}",
                   n, type, at, at, src, kind, ids, payload);
    return hub_buf_steal(&b, NULL);
}

#define SRC(sys, type, id)                                                     \
    "\"system\":\"" sys "\",\"entity_type\":\"" type "\",\"entity_id\":\"" id  \
    "\""
#define EMAIL(v) "{\"kind\":\"email\",\"value\":\"" v "\"}"

static void add(events_t *ev, char *l) {
    ev->lines = realloc(ev->lines, (ev->n + 1) * sizeof *ev->lines);
    ev->lines[ev->n++] = l;
}

static size_t count_customers(const char *store) {
    return table_entries(store, T_VIEWS);
}

/* A store of another table layout (4: timeline keys without the
 * sequence) is refused by name, with the way out. */
TEST(a_store_of_another_layout_is_refused_with_a_hint) {
    hub_config_t *cfg = config_from("");
    events_t ev = {0};
    char *e1 = line(1, "crm.contact.upserted", "2026-03-01T00:00:00Z",
                    SRC("hubspot", "contact", "1"), EMAIL("a@example.com"),
                    "{\"name\":\"Ann\"}");
    ev.lines = &e1;
    ev.n = 1;
    char store[4096];
    snprintf(store, sizeof store, "%s", fresh_store("layout"));
    CHECK_INT(apply_events(cfg, store, &ev, NULL, 1, NULL, NULL), 0);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    uint8_t four[8] = {0, 0, 0, 0, 0, 0, 0, 4};
    MDB_val k = {6, "format"}, d = {8, four};
    REQUIRE(mdb_env_create(&env) == 0);
    REQUIRE(mdb_env_set_maxdbs(env, 64) == 0);
    REQUIRE(mdb_env_open(env, store, 0, 0644) == 0);
    REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    REQUIRE(mdb_put(txn, meta, &k, &d, 0) == 0);
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
    hub_c360_t *c = NULL;
    char err[1024], want[5000];
    CHECK_INT(hub_c360_open_reader(store, &c, err, sizeof err), HUB_ESTATE);
    snprintf(want, sizeof want, "the store at %s has the table layout 4 of "
             "an older or newer hub360 (this one reads 5): `hub360 rebuild` "
             "makes it anew from the topics", store);
    CHECK_STR(err, want);
    hub_c360_close(c);
    free(e1);
    hub_config_free(cfg);
}

/* The timeline pages through an entity's entries of one millisecond in
 * their sequence's order, with cursors that hold the largest sequence. */
TEST(timeline_pages_by_sequence_with_any_long) {
    hub_config_t *cfg = config_from("");
    events_t ev = {0};
    const char *seqs[3] = {"9223372036854775807", "-9223372036854775807",
                           "42"};
    for (int i = 0; i < 3; i++) {
        char *l = line(90 + i, "crm.contact.upserted",
                       "2026-03-01T00:00:00.123Z",
                       SRC("hubspot", "contact", "7"), EMAIL("s@example.com"),
                       "{}");
        hub_buf_t b = HUB_BUF_INIT; /* the sequence before the payload */
        char *p = strstr(l, ",\"payload\"");
        REQUIRE(p);
        hub_buf_printf(&b, "%.*s,\"sequence\":%s%s", (int)(p - l), l, seqs[i],
                       p);
        free(l);
        add(&ev, hub_buf_steal(&b, NULL));
    }
    char store[4096];
    snprintf(store, sizeof store, "%s", fresh_store("tl-seq"));
    CHECK_INT(apply_events(cfg, store, &ev, NULL, 3, NULL, NULL), 0);
    hub_c360_t *c;
    char err[512], next[HUB_C360_CURSOR_LEN] = "", id[64];
    REQUIRE(hub_c360_open_reader(store, &c, err, sizeof err) == 0);
    const char *want[3] = {"00000000-0000-5000-8000-000000000090",
                           "00000000-0000-5000-8000-000000000092",
                           "00000000-0000-5000-8000-000000000091"};
    for (int i = 0; i < 3; i++) {
        hub_buf_t out = HUB_BUF_INIT;
        char before[HUB_C360_CURSOR_LEN];
        snprintf(before, sizeof before, "%s", next);
        CHECK_INT(hub_c360_timeline_json(c, "email:s@example.com",
                                         i ? before : NULL, 1, &out, next, id,
                                         sizeof id),
                  0);
        CHECK_CONTAINS(out.data, want[i]);
        hub_buf_free(&out);
        if (i == 0)
            CHECK_STR(next, "1772323200123-9223372036854775807-"
                            "00000000000050008000000000000090");
    }
    CHECK_STR(next, ""); /* the last page */
    hub_c360_close(c);
    events_free(&ev);
    hub_config_free(cfg);
}

TEST(a_resent_event_changes_nothing) {
    hub_config_t *cfg = config_from("");
    events_t ev = {0};
    char *e1 = line(1, "crm.contact.upserted", "2026-03-01T00:00:00Z",
                    SRC("hubspot", "contact", "1"), EMAIL("a@example.com"),
                    "{\"name\":\"Ann\"}");
    add(&ev, e1);
    add(&ev, strdup(e1)); /* in the same batch */
    const char *store = fresh_store("dup");
    size_t counts[4] = {0};
    CHECK_INT(apply_events(cfg, store, &ev, NULL, 10, counts, NULL), 0);
    CHECK_INT(counts[HUB_C360_APPLIED], 1);
    CHECK_INT(counts[HUB_C360_DUPLICATE], 1);
    char d1[65], d2[65];
    export_store(store, NULL, d1);
    size_t changes = table_entries(store, T_CHANGES);
    /* and in a later batch, with a different (older) payload but the same
     * event_id: still nothing */
    events_t again = {0};
    add(&again, line(1, "crm.contact.upserted", "2026-02-01T00:00:00Z",
                     SRC("hubspot", "contact", "1"), EMAIL("a@example.com"),
                     "{\"name\":\"Changed\"}"));
    memset(counts, 0, sizeof counts);
    CHECK_INT(apply_events(cfg, store, &again, NULL, 10, counts, NULL), 0);
    CHECK_INT(counts[HUB_C360_DUPLICATE], 1);
    export_store(store, NULL, d2);
    CHECK_STR(d2, d1);
    CHECK_INT(table_entries(store, T_CHANGES), changes);
    events_free(&ev);
    events_free(&again);
    hub_config_free(cfg);
}

TEST(event_ids_are_forgotten_after_the_dedupe_window) {
    hub_config_t *cfg = config_from("projector:\n  dedupe_window: 1h\n");
    const char *store = fresh_store("window");
    events_t msg = {0}, other = {0};
    add(&msg, line(1, "scrm.message.received", "2026-03-01T00:00:00Z",
                   SRC("wechat", "conversation", "o-ann"),
                   "{\"kind\":\"wechat_openid\",\"value\":\"o-ann\"}",
                   "{\"platform\":\"wechat\",\"message_id\":\"m1\","
                   "\"message_type\":\"text\",\"text\":\"hi\"}"));
    add(&other, line(2, "crm.contact.upserted", "2026-03-01T00:00:00Z",
                     SRC("hubspot", "contact", "9"), EMAIL("z@example.com"),
                     "{\"name\":\"Zed\"}"));
    const int64_t t0 = 1772323200000LL; /* 2026-03-01T00:00:00Z */
    size_t counts[4] = {0};
    harness_clock_ms = t0;
    CHECK_INT(apply_events(cfg, store, &msg, NULL, 10, counts, NULL), 0);
    harness_clock_ms = t0 + 30 * 60000; /* within the window */
    CHECK_INT(apply_events(cfg, store, &msg, NULL, 10, counts, NULL), 0);
    CHECK_INT(counts[HUB_C360_APPLIED], 1);
    CHECK_INT(counts[HUB_C360_DUPLICATE], 1);
    CHECK_INT(table_entries(store, T_DEDUPE), 1);
    char *v = get_view(store, "wechat_openid:o-ann", NULL, 0);
    CHECK_CONTAINS(v, "\"messages_in\":1,");
    free(v);
    /* two hours on, a batch prunes the id... */
    harness_clock_ms = t0 + 2 * 3600000;
    CHECK_INT(apply_events(cfg, store, &other, NULL, 10, NULL, NULL), 0);
    CHECK_INT(table_entries(store, T_DEDUPE), 1); /* only the new one */
    /* ...so the same message now counts again: the window is the bound */
    memset(counts, 0, sizeof counts);
    CHECK_INT(apply_events(cfg, store, &msg, NULL, 10, counts, NULL), 0);
    CHECK_INT(counts[HUB_C360_APPLIED], 1);
    v = get_view(store, "wechat_openid:o-ann", NULL, 0);
    CHECK_CONTAINS(v, "\"messages_in\":2,");
    free(v);
    harness_clock_ms = 0;
    events_free(&msg);
    events_free(&other);
    hub_config_free(cfg);
}

/* A batch decoded ahead looks its event ids up in the store before it
 * is applied, and records them at its commit: an id seen in an earlier
 * batch, or earlier in the same batch, is a duplicate either way. */
TEST(duplicates_are_found_by_batches_decoded_ahead) {
    hub_config_t *cfg = config_from("");
    const char *store = fresh_store("dup-ahead");
    events_t ev = {0};
    for (int i = 0; i < 5; i++) /* Ann, Zed, Ann, Zed, Zed */
        add(&ev, i % 2 ? line(2, "crm.contact.upserted",
                              "2026-03-01T00:00:00Z",
                              SRC("hubspot", "contact", "9"),
                              EMAIL("z@example.com"), "{\"name\":\"Zed\"}")
                       : line(1, "crm.contact.upserted",
                              "2026-03-01T00:00:00Z",
                              SRC("hubspot", "contact", "1"),
                              EMAIL("ann@example.com"),
                              "{\"name\":\"Ann\"}"));
    /* batches of 3 (odd: decoded ahead, from the second on) */
    size_t counts[4] = {0};
    CHECK_INT(apply_events(cfg, store, &ev, NULL, 3, counts, NULL), 0);
    CHECK_INT(counts[HUB_C360_APPLIED], 2);
    CHECK_INT(counts[HUB_C360_DUPLICATE], 3);
    CHECK_INT(table_entries(store, T_DEDUPE), 2);
    memset(counts, 0, sizeof counts);
    CHECK_INT(apply_events(cfg, store, &ev, NULL, 5, counts, NULL), 0);
    CHECK_INT(counts[HUB_C360_DUPLICATE], 5);
    CHECK_INT(table_entries(store, T_DEDUPE), 2);
    CHECK_INT(count_customers(store), 2);
    events_free(&ev);
    hub_config_free(cfg);
}

TEST(segment_rules_see_every_field_of_the_view) {
    hub_config_t *cfg = config_from(
        "segments:\n"
        "  named: \"profile.name == 'Ann Li'\"\n"
        "  owned: \"sales.owner == 'rep-7' and sales.lead_source == 'web'\"\n"
        "  seen: \"service.articles_viewed >= 0\"\n"
        "  other: \"profile.name == 'Bo'\"\n");
    REQUIRE(cfg);
    events_t ev = {0};
    add(&ev, line(1, "crm.contact.upserted", "2026-03-01T00:00:00Z",
                  SRC("hubspot", "contact", "1"), EMAIL("ann@example.com"),
                  "{\"name\":\"Ann Li\",\"owner\":\"rep-7\","
                  "\"lead_source\":\"web\"}"));
    const char *store = fresh_store("segments");
    CHECK_INT(apply_events(cfg, store, &ev, NULL, 10, NULL, NULL), 0);
    char *v = get_view(store, "email:ann@example.com", NULL, 0);
    CHECK_CONTAINS(v, "\"segments\":[\"named\",\"owned\",\"seen\"],");
    free(v);
    events_free(&ev);
    hub_config_free(cfg);
}

static events_t two_people(void) {
    events_t ev = {0};
    add(&ev, line(1, "crm.contact.upserted", "2026-03-01T00:00:00Z",
                  SRC("hubspot", "contact", "1"), EMAIL("a@example.com"),
                  "{\"name\":\"Ann\"}"));
    add(&ev, line(2, "erp.order.placed", "2026-03-02T00:00:00Z",
                  SRC("shop", "order", "7"), EMAIL("A@example.com "),
                  "{\"lines\":[],\"total\":100,\"currency\":\"CNY\"}"));
    add(&ev, line(3, "crm.contact.upserted", "2026-03-01T00:00:00Z",
                  SRC("hubspot", "contact", "2"), EMAIL("b@example.com"),
                  "{\"name\":\"Bo\"}"));
    return ev;
}

TEST(identity_link_joins_and_unlink_separates) {
    hub_config_t *cfg = config_from("");
    events_t ev = two_people();
    const char *store = fresh_store("link");
    CHECK_INT(apply_events(cfg, store, &ev, NULL, 10, NULL, NULL), 0);
    CHECK_INT(count_customers(store), 2); /* ann+order, bo */
    events_t link = {0};
    add(&link, line(4, "identity.link", "2026-03-03T00:00:00Z",
                    SRC("hub360", "identity", "l1"), "",
                    "{\"identities\":[" EMAIL("a@example.com") "," EMAIL(
                        "B@example.com") "],\"requested_by\":\"ops\"}"));
    CHECK_INT(apply_events(cfg, store, &link, NULL, 10, NULL, NULL), 0);
    CHECK_INT(count_customers(store), 1);
    char *a = get_view(store, "email:a@example.com", NULL, 0);
    char *b = get_view(store, "email:b@example.com", NULL, 0);
    CHECK(a && b && strcmp(a, b) == 0);
    CHECK_CONTAINS(a, "\"entity_type\":\"link\"");
    free(a);
    free(b);
    /* unlink of the same set, later: apart again */
    events_t unlink = {0};
    add(&unlink, line(5, "identity.unlink", "2026-03-04T00:00:00Z",
                      SRC("hub360", "identity", "u1"), "",
                      "{\"identities\":[" EMAIL("b@example.com") "," EMAIL(
                          "a@example.com") "],\"requested_by\":\"ops\"}"));
    CHECK_INT(apply_events(cfg, store, &unlink, NULL, 10, NULL, NULL), 0);
    CHECK_INT(count_customers(store), 2);
    /* an older link of that set does not undo the newer unlink */
    events_t old = {0};
    add(&old, line(6, "identity.link", "2026-03-02T12:00:00Z",
                   SRC("hub360", "identity", "l0"), "",
                   "{\"identities\":[" EMAIL("a@example.com") "," EMAIL(
                       "b@example.com") "],\"requested_by\":\"ops\"}"));
    CHECK_INT(apply_events(cfg, store, &old, NULL, 10, NULL, NULL), 0);
    CHECK_INT(count_customers(store), 2);
    /* unlinking a single identity stops it linking anything */
    events_t single = {0};
    add(&single, line(7, "identity.unlink", "2026-03-05T00:00:00Z",
                      SRC("hub360", "identity", "u2"), "",
                      "{\"identities\":[" EMAIL("a@example.com")
                      "],\"requested_by\":\"ops\"}"));
    CHECK_INT(apply_events(cfg, store, &single, NULL, 10, NULL, NULL), 0);
    CHECK_INT(count_customers(store), 3); /* contact 1 and order 7 apart */
    events_free(&ev);
    events_free(&link);
    events_free(&unlink);
    events_free(&old);
    events_free(&single);
    hub_config_free(cfg);
}

TEST(forget_erases_the_customer_from_every_table) {
    hub_config_t *cfg = config_from("");
    events_t ev = two_people();
    const char *store = fresh_store("forget");
    CHECK_INT(apply_events(cfg, store, &ev, NULL, 10, NULL, NULL), 0);
    size_t entities = table_entries(store, T_ENTITIES);
    size_t timeline = table_entries(store, T_TIMELINE);
    CHECK_INT(entities, 3);
    CHECK_INT(timeline, 3);
    char ann[64];
    char *v = get_view(store, "email:a@example.com", ann, sizeof ann);
    REQUIRE(v);
    free(v);
    events_t forget = {0};
    char payload[256];
    snprintf(payload, sizeof payload,
             "{\"customer_id\":\"%s\",\"requested_by\":\"dpo\"}", ann);
    add(&forget, line(4, "customer.forget", "2026-03-10T00:00:00Z",
                      SRC("hub360", "customer", "f1"), "", payload));
    CHECK_INT(apply_events(cfg, store, &forget, NULL, 10, NULL, NULL), 0);
    CHECK(get_view(store, "email:a@example.com", NULL, 0) == NULL);
    CHECK(get_view(store, ann, NULL, 0) == NULL);
    CHECK_INT(count_customers(store), 1); /* Bo stays */
    CHECK_INT(table_entries(store, T_ENTITIES), 1);
    CHECK_INT(table_entries(store, T_TIMELINE), 1);
    CHECK_INT(table_entries(store, T_MEMBERS), 2); /* Bo's header, Bo */
    CHECK_INT(table_entries(store, T_IDS), 1);
    CHECK_INT(table_entries(store, T_IDENT), 1); /* bo's e-mail only */
    /* the change feed ends with Ann's id, whose view is gone: the
     * changelog publishes a tombstone for it */
    hub_c360_t *c;
    char err[256];
    REQUIRE(hub_c360_open_reader(store, &c, err, sizeof err) == 0);
    hub_buf_t bytes = HUB_BUF_INIT;
    CHECK_INT(hub_c360_view_bytes(c, ann, &bytes), HUB_ENOENT);
    hub_c360_close(c);
    hub_buf_free(&bytes);
    /* Ann's data arriving again (a replay) stays forgotten */
    events_t replay = two_people();
    CHECK_INT(apply_events(cfg, store, &replay, NULL, 10, NULL, NULL), 0);
    CHECK(get_view(store, "email:a@example.com", NULL, 0) == NULL);
    CHECK_INT(table_entries(store, T_ENTITIES), 1);
    events_free(&ev);
    events_free(&forget);
    events_free(&replay);
    hub_config_free(cfg);
}

TEST(forget_before_the_events_gives_the_same_store) {
    hub_config_t *cfg = config_from("");
    events_t ev = two_people();
    add(&ev, line(4, "customer.forget", "2026-03-10T00:00:00Z",
                  SRC("hub360", "identity", "f1"), "",
                  "{\"identity\":" EMAIL("a@example.com")
                  ",\"requested_by\":\"dpo\"}"));
    size_t order[4] = {3, 2, 1, 0};
    const char *s1 = strdup(fresh_store("forget-after"));
    const char *s2 = strdup(fresh_store("forget-first"));
    CHECK_INT(apply_events(cfg, s1, &ev, NULL, 10, NULL, NULL), 0);
    CHECK_INT(apply_events(cfg, s2, &ev, order, 1, NULL, NULL), 0);
    char d1[65], d2[65];
    export_store(s1, NULL, d1);
    export_store(s2, NULL, d2);
    CHECK_STR(d1, d2);
    CHECK_INT(count_customers(s2), 1);
    CHECK_INT(table_entries(s2, T_ENTITIES), table_entries(s1, T_ENTITIES));
    free((void *)s1);
    free((void *)s2);
    events_free(&ev);
    hub_config_free(cfg);
}

TEST(blocklisted_and_invalid_identities_link_nothing) {
    hub_config_t *cfg = config_from("identity: {blocklist: [\"^info@\", "
                                    "\"^\\\\+8613800000000$\"]}\n");
    REQUIRE(cfg);
    events_t ev = {0};
    /* two people behind one shared mailbox and one placeholder phone */
    add(&ev, line(1, "crm.contact.upserted", "2026-03-01T00:00:00Z",
                  SRC("hubspot", "contact", "1"),
                  EMAIL("info@tea.example.com") ","
                  "{\"kind\":\"phone\",\"value\":\"13800000000\"}",
                  "{\"name\":\"Ann\"}"));
    add(&ev, line(2, "crm.contact.upserted", "2026-03-01T00:00:00Z",
                  SRC("hubspot", "contact", "2"),
                  EMAIL("Info@tea.example.com") ","
                  "{\"kind\":\"phone\",\"value\":\"+86 138 0000 0000\"}",
                  "{\"name\":\"Bo\"}"));
    /* what cannot be a phone or an e-mail is not an identity at all */
    add(&ev, line(3, "crm.contact.upserted", "2026-03-01T00:00:00Z",
                  SRC("hubspot", "contact", "3"),
                  EMAIL("not-an-email") ","
                  "{\"kind\":\"phone\",\"value\":\"0000000\"}",
                  "{\"name\":\"Cy\"}"));
    const char *store = fresh_store("blocklist");
    CHECK_INT(apply_events(cfg, store, &ev, NULL, 10, NULL, NULL), 0);
    CHECK_INT(count_customers(store), 3);
    char *cy = get_view(store, "crm_contact:hubspot:3", NULL, 0);
    CHECK(cy == NULL); /* contacts 1-3 carry no crm_contact identity */
    char *ann = get_view(store, "email:info@tea.example.com", NULL, 0);
    CHECK_CONTAINS(ann, "\"phones\":[{\"value\":\"+8613800000000\"");
    free(ann);
    events_free(&ev);
    hub_config_free(cfg);
}

TEST(a_merge_past_max_entities_is_refused_the_same_way_in_any_order) {
    hub_config_t *cfg = config_from("identity: {max_entities: 3}\n");
    REQUIRE(cfg);
    events_t ev = {0};
    /* a chain of five contacts: 1-a-2-b-3-c-4-d-5; stamps give the order
     * in which links are taken */
    static const char *mails[][2] = {
        {"x1@example.com", "a@example.com"}, {"a@example.com", "b@example.com"},
        {"b@example.com", "c@example.com"},  {"c@example.com", "d@example.com"},
        {"d@example.com", "x5@example.com"}};
    for (int i = 0; i < 5; i++) {
        char src[96], ids[160], at[32];
        snprintf(src, sizeof src, SRC("hubspot", "contact", "%d"), i + 1);
        snprintf(ids, sizeof ids, EMAIL("%s") "," EMAIL("%s"), mails[i][0],
                 mails[i][1]);
        snprintf(at, sizeof at, "2026-03-0%dT00:00:00Z", i + 1);
        add(&ev, line(i + 1, "crm.contact.upserted", at, src, ids,
                      "{\"name\":\"n\"}"));
    }
    size_t rev[5] = {4, 3, 2, 1, 0}, mixed[5] = {2, 0, 4, 1, 3};
    const size_t *orders[3] = {NULL, rev, mixed};
    char digest[3][65];
    for (int k = 0; k < 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "cap-%d", k);
        const char *store = fresh_store(name);
        CHECK_INT(apply_events(cfg, store, &ev, orders[k], 1, NULL, NULL), 0);
        export_store(store, NULL, digest[k]);
        /* contacts 1-3 (earliest links first) and 4-5 */
        CHECK_INT(count_customers(store), 2);
        char *first = get_view(store, "email:x1@example.com", NULL, 0);
        char *last = get_view(store, "email:x5@example.com", NULL, 0);
        CHECK_CONTAINS(first, "\"entity_id\":\"3\"");
        CHECK(first && !strstr(first, "\"entity_id\":\"4\""));
        CHECK_CONTAINS(last, "\"entity_id\":\"4\"");
        free(first);
        free(last);
    }
    CHECK_STR(digest[1], digest[0]);
    CHECK_STR(digest[2], digest[0]);
    events_free(&ev);
    hub_config_free(cfg);
}

/* "I/O error" alone names no cause: the projector adds LMDB's words */
TEST(an_lmdb_error_behind_an_io_error_is_named) {
    CHECK_INT(hub_store_err(MDB_MAP_FULL), HUB_EFULL);
    CHECK_INT(hub_store_err(MDB_BAD_TXN), HUB_EIO);
    CHECK_INT(hub_store_err(MDB_NOTFOUND), HUB_ENOENT);
    CHECK_STR(hub_store_strerror(HUB_EIO),
              "I/O error (LMDB: MDB_BAD_TXN: Transaction must abort, has a "
              "child, or is invalid)");
    /* told once: a later I/O error does not carry this one's cause */
    CHECK_STR(hub_store_strerror(HUB_EIO), "I/O error");
    CHECK_STR(hub_store_strerror(HUB_EFULL), hub_strerror(HUB_EFULL));
}

/* Wherever the map fills (a put, a forget's delete, a page split in the
 * commit), the batch fails with HUB_EFULL and keeps nothing; never an
 * I/O error from a transaction that an ignored failure left broken. The
 * store, given room, then ends as if it had never filled. */
TEST(a_full_map_fails_the_batch_cleanly_wherever_it_fills) {
    events_t ev;
    REQUIRE(events_generate(1200, 7, 10, 5, &ev) == 0);
    hub_config_t *roomy = config_from("");
    char *ref = strdup(fresh_store("full-ref"));
    REQUIRE(apply_events(roomy, ref, &ev, NULL, 97, NULL, NULL) == 0);
    char want[65], got[65];
    REQUIRE(export_store(ref, NULL, want) == 0);
    int fulls = 0;
    for (int kib = 64; kib <= 1600; kib += 96) {
        char yaml[64];
        snprintf(yaml, sizeof yaml, "projector: {map_size: %dKiB}\n", kib);
        hub_config_t *small = config_from(yaml);
        const char *s = fresh_store("full");
        int rc = apply_events(small, s, &ev, NULL, 97, NULL, NULL);
        if (rc != 0 && rc != HUB_EFULL)
            fprintf(stderr, "  at a map of %d KiB: %s\n", kib,
                    hub_strerror(rc));
        CHECK(rc == 0 || rc == HUB_EFULL);
        if (rc == HUB_EFULL) {
            fulls++;
            CHECK_INT(apply_events(roomy, s, &ev, NULL, 97, NULL, NULL), 0);
            CHECK_INT(export_store(s, NULL, got), 0);
            CHECK_STR(got, want);
        }
        hub_config_free(small);
    }
    CHECK(fulls >= 10); /* the sizes do cover the run */
    free(ref);
    events_free(&ev);
    hub_config_free(roomy);
}

TEST(a_store_in_an_older_table_layout_is_refused_with_a_hint) {
    hub_config_t *cfg = config_from("");
    events_t ev = two_people();
    const char *store = fresh_store("format");
    CHECK_INT(apply_events(cfg, store, &ev, NULL, 10, NULL, NULL), 0);
    /* a store of before the format mark: the same tables, no mark */
    hub_store_t *s;
    char err[512];
    REQUIRE(hub_store_open(store, hub_c360_tables, T_COUNT, 1 << 24, 0, &s,
                           err, sizeof err) == 0);
    MDB_txn *txn;
    REQUIRE(mdb_txn_begin(hub_store_env(s), NULL, 0, &txn) == 0);
    MDB_val k = {6, "format"};
    CHECK_INT(mdb_del(txn, hub_store_dbi(s, T_META), &k, NULL), 0);
    CHECK_INT(mdb_txn_commit(txn), 0);
    hub_store_close(s);
    hub_c360_t *c = NULL;
    CHECK_INT(hub_c360_open_reader(store, &c, err, sizeof err), HUB_ESTATE);
    CHECK(strstr(err, "hub360 rebuild") != NULL);
    CHECK(c == NULL);
    events_free(&ev);
    hub_config_free(cfg);
}

/* Readers in LMDB's reader table: lines after mdb_reader_list's header. */
static int count_line(const char *msg, void *ctx) {
    (void)msg;
    (*(int *)ctx)++;
    return 0;
}

static int readers(MDB_env *env) {
    int lines = 0;
    mdb_reader_list(env, count_line, &lines);
    return lines - 1;
}

/* A second mdb_env_open of a directory in the same process would take
 * the lock file for its own and reset it under the first: the first's
 * readers would vanish from the table, and the writer could reuse the
 * pages they read. `hub360 up` reads the store in its API while its
 * projector writes it. */
TEST(a_store_opened_twice_in_one_process_shares_one_environment) {
    hub_config_t *cfg = config_from("");
    events_t ev = two_people();
    const char *store = fresh_store("shared");
    CHECK_INT(apply_events(cfg, store, &ev, NULL, 10, NULL, NULL), 0);
    char err[512];
    hub_store_t *w = NULL, *r = NULL;
    REQUIRE(hub_store_open(store, hub_c360_tables, T_COUNT, 1 << 24,
                           HUB_STORE_WRITER, &w, err, sizeof err) == 0);
    MDB_txn *wt, *rt;
    REQUIRE(mdb_txn_begin(hub_store_env(w), NULL, MDB_RDONLY, &wt) == 0);
    REQUIRE(hub_store_open(store, hub_c360_tables, T_COUNT, 0,
                           HUB_STORE_RDONLY, &r, err, sizeof err) == 0);
    CHECK(hub_store_env(r) == hub_store_env(w));
    REQUIRE(mdb_txn_begin(hub_store_env(r), NULL, MDB_RDONLY, &rt) == 0);
    CHECK_INT(readers(hub_store_env(w)), 2);
    mdb_txn_abort(wt);
    /* the writer closes first: the reader still reads */
    hub_store_close(w);
    MDB_val k = {6, "format"}, v;
    CHECK_INT(mdb_get(rt, hub_store_dbi(r, T_META), &k, &v), 0);
    mdb_txn_abort(rt);
    hub_store_close(r);

    /* a writer cannot share what a reader opened read-only */
    REQUIRE(hub_store_open(store, hub_c360_tables, T_COUNT, 0,
                           HUB_STORE_RDONLY, &r, err, sizeof err) == 0);
    char want[1024];
    CHECK_INT(hub_store_open(store, hub_c360_tables, T_COUNT, 1 << 24,
                             HUB_STORE_WRITER, &w, err, sizeof err),
              HUB_ESTATE);
    snprintf(want, sizeof want,
             "the store at %s is open read-only in this process (LMDB "
             "allows one environment per process): it cannot be written "
             "here while that reader is open",
             store);
    CHECK_STR(err, want);
    CHECK(w == NULL);
    hub_store_close(r);

    /* readers that only share (hub360 up's API) wait for the writer */
    hub_store_readers_share(1);
    CHECK_INT(hub_store_open(store, hub_c360_tables, T_COUNT, 0,
                             HUB_STORE_RDONLY, &r, err, sizeof err),
              HUB_ENOENT);
    snprintf(want, sizeof want,
             "the store at %s is not open yet: this process's projector "
             "opens it",
             store);
    CHECK_STR(err, want);
    REQUIRE(hub_store_open(store, hub_c360_tables, T_COUNT, 1 << 24,
                           HUB_STORE_WRITER, &w, err, sizeof err) == 0);
    REQUIRE(hub_store_open(store, hub_c360_tables, T_COUNT, 0,
                           HUB_STORE_RDONLY, &r, err, sizeof err) == 0);
    CHECK(hub_store_env(r) == hub_store_env(w));
    hub_store_readers_share(0);
    hub_store_close(r);
    hub_store_close(w);

    /* a store deleted and made again in the same directory (or in a new
     * generation's directory that reuses a removed one's inode) gets an
     * environment of its own while a reader still holds the old one */
    REQUIRE(hub_store_open(store, hub_c360_tables, T_COUNT, 0,
                           HUB_STORE_RDONLY, &r, err, sizeof err) == 0);
    char file[4300];
    snprintf(file, sizeof file, "%s/data.mdb", hub_store_dir(r));
    CHECK_INT(unlink(file), 0);
    snprintf(file, sizeof file, "%s/lock.mdb", hub_store_dir(r));
    CHECK_INT(unlink(file), 0);
    CHECK_INT(apply_events(cfg, store, &ev, NULL, 10, NULL, NULL), 0);
    hub_store_t *r2 = NULL;
    REQUIRE(hub_store_open(store, hub_c360_tables, T_COUNT, 0,
                           HUB_STORE_RDONLY, &r2, err, sizeof err) == 0);
    CHECK(hub_store_env(r2) != hub_store_env(r));
    hub_store_close(r2);
    hub_store_close(r);
    events_free(&ev);
    hub_config_free(cfg);
}

/* Three dead letters and an event, in that order. */
static events_t malformed(void) {
    events_t ev = {0};
    add(&ev, strdup("{\"this is\": \"json, not a framed event\"}"));
    add(&ev, strdup("\x00\x00\x00\x00\x01garbage"));
    add(&ev, line(1, "crm.contact.upserted", "2026-03-01T00:00:00Z",
                  SRC("hubspot", "contact", "1"), EMAIL("a@example.com"),
                  "{\"name\":\"Ann\"}"));
    add(&ev, line(2, "identity.link", "2026-03-01T00:00:00Z",
                  SRC("hub360", "identity", "l"), "",
                  "{\"identities\":[" EMAIL("a@example.com")
                  "],\"requested_by\":\"ops\"}"));
    return ev;
}

#define MALFORMED_ERRORS                                                       \
    "not Confluent-framed: first byte is 0x7b, expected 0x00 (it "             \
    "looks like JSON)\n"                                                       \
    "message of 0 bytes is shorter than the 5-byte schema header\n"            \
    "identity.link needs two or more identities or customer ids "              \
    "(got 1 valid identities and 0 customer ids)\n"

/* Applies ev to store in batches of `batch`; checks the outcomes, the
 * dead letters' errors and the customers. */
static void check_applied(const char *store, const events_t *ev,
                          size_t batch, size_t dead, size_t applied,
                          const char *errs, size_t customers) {
    hub_config_t *cfg = config_from("");
    size_t counts[4] = {0};
    hub_buf_t errors = HUB_BUF_INIT;
    CHECK_INT(apply_events(cfg, store, ev, NULL, batch, counts, &errors), 0);
    CHECK_INT(counts[HUB_C360_DEAD], dead);
    CHECK_INT(counts[HUB_C360_APPLIED], applied);
    CHECK_STR(errors.data ? errors.data : "", errs);
    CHECK_INT(count_customers(store), customers);
    hub_buf_free(&errors);
    hub_config_free(cfg);
}

TEST(malformed_events_are_dead_letters_and_the_rest_applies) {
    events_t ev = malformed();
    check_applied(fresh_store("dead"), &ev, 10, 3, 1, MALFORMED_ERRORS, 1);
    events_free(&ev);
}

/* A batch is decoded by the other cores while it is applied: aborted
 * halfway, with the decoding perhaps still going on, it leaves nothing
 * behind, and the batch applied again gives the store the same views. */
TEST(a_batch_aborted_while_decoded_ahead_leaves_nothing_behind) {
    events_t ev;
    events_generate(events_wanted(4000), 11, 1, 2, &ev);
    hub_config_t *cfg = config_from("");
    REQUIRE(cfg);
    char straight[4096], again[4096], digest[2][65];
    hub_buf_t out[2] = {HUB_BUF_INIT, HUB_BUF_INIT};
    snprintf(straight, sizeof straight, "%s", fresh_store("abort-straight"));
    snprintf(again, sizeof again, "%s", fresh_store("abort-halfway"));
    CHECK_INT(apply_events(cfg, straight, &ev, NULL, 333, NULL, NULL), 0);
    harness_abort_halfway = 1;
    CHECK_INT(apply_events(cfg, again, &ev, NULL, 333, NULL, NULL), 0);
    harness_abort_halfway = 0;
    CHECK_INT(export_store(straight, &out[0], digest[0]), 0);
    CHECK_INT(export_store(again, &out[1], digest[1]), 0);
    CHECK(out[0].len > 0);
    CHECK_STR(digest[1], digest[0]);
    hub_buf_free(&out[0]);
    hub_buf_free(&out[1]);
    hub_config_free(cfg);
    events_free(&ev);
}

/* hub_c360_prepare decodes a batch ahead once the codec has met the
 * envelope's schema id: every batch after the first goes that way. */
TEST(events_decoded_ahead_apply_as_the_others_do) {
    events_t ev = {0};
    add(&ev, line(9, "crm.contact.upserted", "2026-03-01T00:00:00Z",
                  SRC("hubspot", "contact", "9"), EMAIL("z@example.com"),
                  "{\"name\":\"Zoe\"}"));
    events_t bad = malformed();
    add(&ev, bad.lines[2]); /* Ann */
    add(&ev, bad.lines[3]); /* a link of one identity */
    free(bad.lines[0]);
    free(bad.lines[1]);
    free(bad.lines);
    add(&ev, line(4, "crm.contact.upserted", "2026-03-01T00:00:00Z",
                  SRC("hub/spot", "contact", "4"), "", "{}"));
    /* more identities than are kept (32): the first 32 count */
    hub_buf_t ids = HUB_BUF_INIT;
    for (int i = 0; i < 40; i++)
        hub_buf_printf(&ids, "%s{\"kind\":\"email\",\"value\":\"m%d@x.com\"}",
                       i ? "," : "", i);
    add(&ev, line(3, "crm.contact.upserted", "2026-03-02T00:00:00Z",
                  SRC("hubspot", "contact", "2"), ids.data,
                  "{\"name\":\"Many\"}"));
    const char *store = fresh_store("ahead");
    check_applied(store, &ev, 1, 2, 3,
                  "identity.link needs two or more identities or customer "
                  "ids (got 1 valid identities and 0 customer ids)\n"
                  "source.system and source.entity_type must be non-empty "
                  "and without '/'; entity_id non-empty\n",
                  3);
    char *v = get_view(store, "email:m31@x.com", NULL, 0);
    CHECK(v != NULL);
    free(v);
    CHECK(get_view(store, "email:m32@x.com", NULL, 0) == NULL);
    hub_buf_free(&ids);
    events_free(&ev);
}
