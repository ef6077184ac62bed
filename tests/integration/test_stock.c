/*
 * Integration tests of the product availability projection (projections/
 * stock), applied in process through the customer-360 batch (no Kafka):
 * a scripted scenario with exact figures, the same events in three
 * orders and batchings giving identical bytes, duplicates changing
 * nothing, and the oversold counter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c360_harness.h"
#include "errors.h"
#include "harness.h"
#include "hmap.h"
#include "stock.h"

/* No fsync per batch: the tests apply thousands of one-event batches. */
#define NOSYNC "projector:\n  sync: false\n"

/* Every product view of skus, then the low-stock list of everything, as
 * one text: what must not depend on the order of the events. */
static hub_c360_t *reader(const char *store);

static void read_all(const char *store, const char *const *skus, size_t n,
                     hub_buf_t *out) {
    hub_c360_t *c = reader(store);
    for (size_t i = 0; i < n; i++) {
        int rc = hub_stock_product_json(hub_c360_stock(c), skus[i], out);
        if (rc == HUB_ENOENT)
            hub_buf_printf(out, "no %s", skus[i]);
        else
            CHECK_INT(rc, 0);
        hub_buf_putc(out, '\n');
    }
    CHECK_INT(hub_stock_low_json(hub_c360_stock(c), INT64_MAX, NULL, 1000, out),
              0);
    hub_c360_close(c);
}

/* A reader of the store (the test stops when there is none). */
static hub_c360_t *reader(const char *store) {
    hub_c360_t *c = NULL;
    char err[512];
    if (hub_c360_open_reader(store, &c, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    return c;
}

static char *product(const char *store, const char *sku, int *rc) {
    hub_c360_t *c = reader(store);
    hub_buf_t b = HUB_BUF_INIT;
    *rc = hub_stock_product_json(hub_c360_stock(c), sku, &b);
    hub_c360_close(c);
    return b.data ? b.data : strdup("");
}

static char *low(const char *store, int64_t below, const char *cursor,
                 size_t limit, int *rc) {
    hub_c360_t *c = reader(store);
    hub_buf_t b = HUB_BUF_INIT;
    *rc = hub_stock_low_json(hub_c360_stock(c), below, cursor, limit, &b);
    hub_c360_close(c);
    return b.data ? b.data : strdup("");
}

/* ------------------------------------------------------------------ */
/* The scripted scenario (tests/fixtures/stock/events.ndjson)          */
/* ------------------------------------------------------------------ */

static const char *const scenario_skus[] = {"TEA-LJ-250G", "CUP-GLASS-300",
                                            "KETTLE-1L", "NOPE"};

static void load_scenario(events_t *ev) {
    char *text = hub_test_read("tests/fixtures/stock/events.ndjson", NULL);
    REQUIRE(text);
    REQUIRE(events_from_text(text, ev) == 0);
    free(text);
}

/* The figures worked out by hand in tests/fixtures/stock/README.md. */
#define TEA_VIEW                                                               \
    "{\"sku\":\"TEA-LJ-250G\",\"tracked\":true,\"on_hand\":43,"                \
    "\"reserved\":38,\"available\":5,\"on_order_purchase\":30,"                \
    "\"on_order_production\":0,\"returned\":0,\"last_movement\":{"             \
    "\"warehouse\":\"BJ-02\",\"at\":\"2026-04-01T14:00:01Z\",\"event_id\":"    \
    "\"00000000-0000-4000-8000-000000000019\",\"reason\":\"production\","      \
    "\"reference\":\"WO-2\",\"delta\":12,\"on_hand\":null},\"oversold\":{"     \
    "\"quantity\":12,\"orders_total\":1,\"orders\":[{\"order\":"               \
    "\"erpnext/SO-4\",\"warehouse\":\"SH-01\",\"quantity\":12}]},"             \
    "\"warehouses\":[{\"warehouse\":\"BJ-02\",\"tracked\":true,"               \
    "\"on_hand\":17,\"reserved\":0,\"available\":17,"                          \
    "\"on_order_purchase\":0,\"on_order_production\":0,\"returned\":0,"        \
    "\"last_movement\":{\"at\":\"2026-04-01T14:00:01Z\",\"event_id\":"         \
    "\"00000000-0000-4000-8000-000000000019\",\"reason\":\"production\","      \
    "\"reference\":\"WO-2\",\"delta\":12,\"on_hand\":null},\"oversold\":{"     \
    "\"quantity\":0,\"orders_total\":0,\"orders\":[]}},{\"warehouse\":"        \
    "\"SH-01\",\"tracked\":true,\"on_hand\":26,\"reserved\":38,"               \
    "\"available\":-12,\"on_order_purchase\":30,\"on_order_production\":0,"    \
    "\"returned\":0,\"last_movement\":{\"at\":\"2026-04-01T13:00:01Z\","       \
    "\"event_id\":\"00000000-0000-4000-8000-000000000015\",\"reason\":"        \
    "\"receipt\",\"reference\":\"PR-1\",\"delta\":20,\"on_hand\":null},"       \
    "\"oversold\":{\"quantity\":12,\"orders_total\":1,\"orders\":[{"           \
    "\"order\":\"erpnext/SO-4\",\"quantity\":12}]}}]}"

#define CUP_VIEW                                                               \
    "{\"sku\":\"CUP-GLASS-300\",\"tracked\":true,\"on_hand\":19,"              \
    "\"reserved\":0,\"available\":19,\"on_order_purchase\":30,"                \
    "\"on_order_production\":0,\"returned\":1,\"last_movement\":{"             \
    "\"warehouse\":\"SH-01\",\"at\":\"2026-04-01T12:00:01Z\",\"event_id\":"    \
    "\"00000000-0000-4000-8000-000000000012\",\"reason\":\"return\","          \
    "\"reference\":\"RET-1\",\"delta\":1,\"on_hand\":null},\"oversold\":{"     \
    "\"quantity\":0,\"orders_total\":0,\"orders\":[]},\"warehouses\":[{"       \
    "\"warehouse\":\"SH-01\",\"tracked\":true,\"on_hand\":19,"                 \
    "\"reserved\":0,\"available\":19,\"on_order_purchase\":30,"                \
    "\"on_order_production\":0,\"returned\":1,\"last_movement\":{\"at\":"      \
    "\"2026-04-01T12:00:01Z\",\"event_id\":"                                   \
    "\"00000000-0000-4000-8000-000000000012\",\"reason\":\"return\","          \
    "\"reference\":\"RET-1\",\"delta\":1,\"on_hand\":null},\"oversold\":{"     \
    "\"quantity\":0,\"orders_total\":0,\"orders\":[]}}]}"

#define KETTLE_VIEW                                                            \
    "{\"sku\":\"KETTLE-1L\",\"tracked\":false,\"on_hand\":0,\"reserved\":0,"   \
    "\"available\":0,\"on_order_purchase\":0,\"on_order_production\":15,"      \
    "\"returned\":0,\"last_movement\":null,\"oversold\":{\"quantity\":0,"      \
    "\"orders_total\":0,\"orders\":[]},\"warehouses\":[{\"warehouse\":"        \
    "\"SH-01\",\"tracked\":false,\"on_hand\":0,\"reserved\":0,"                \
    "\"available\":0,\"on_order_purchase\":0,\"on_order_production\":15,"      \
    "\"returned\":0,\"last_movement\":null,\"oversold\":{\"quantity\":0,"      \
    "\"orders_total\":0,\"orders\":[]}}]}"

TEST(the_scenario_gives_the_figures_worked_out_by_hand) {
    events_t ev;
    load_scenario(&ev);
    hub_config_t *cfg = config_from(NOSYNC);
    REQUIRE(cfg);
    const char *store = fresh_store("stock-scenario");
    size_t counts[4] = {0};
    harness_stock_oversold = 0;
    CHECK_INT(apply_events(cfg, store, &ev, NULL, 5, counts, NULL), 0);
    CHECK_INT(counts[HUB_C360_DUPLICATE], 1); /* SO-2, sent twice */
    CHECK_INT(counts[HUB_C360_DEAD], 0);
    /* batches of 5: SO-2 oversells SH-01 (12 reserved of 10) until the
     * shipment of SO-1 in the next batch; SO-4, in the last, for good */
    CHECK_INT(harness_stock_oversold, 2);
    int rc;
    char *v = product(store, "TEA-LJ-250G", &rc);
    CHECK_INT(rc, 0);
    CHECK_STR(v, TEA_VIEW);
    free(v);
    v = product(store, "CUP-GLASS-300", &rc);
    CHECK_INT(rc, 0);
    CHECK_STR(v, CUP_VIEW);
    free(v);
    v = product(store, "KETTLE-1L", &rc);
    CHECK_INT(rc, 0);
    CHECK_STR(v, KETTLE_VIEW);
    free(v);
    v = product(store, "NOPE", &rc);
    CHECK_INT(rc, HUB_ENOENT);
    free(v);

    /* the low-stock list: tracked SKUs only (not the kettle), lowest
     * available first, paged */
    v = low(store, 10, NULL, 100, &rc);
    CHECK_INT(rc, 0);
    CHECK_STR(v, "{\"products\":[" TEA_VIEW "],\"next_cursor\":null}");
    free(v);
    v = low(store, 20, NULL, 1, &rc);
    CHECK_STR(v, "{\"products\":[" TEA_VIEW
                 "],\"next_cursor\":\"5:TEA-LJ-250G\"}");
    free(v);
    v = low(store, 20, "5:TEA-LJ-250G", 1, &rc);
    CHECK_STR(v, "{\"products\":[" CUP_VIEW "],\"next_cursor\":null}");
    free(v);
    v = low(store, 5, NULL, 10, &rc);
    CHECK_STR(v, "{\"products\":[],\"next_cursor\":null}");
    free(v);
    v = low(store, 10, "not a cursor", 10, &rc);
    CHECK_INT(rc, HUB_EINVAL);
    free(v);
    hub_config_free(cfg);
    events_free(&ev);
}

/* Regression: stock events (no customer) used to be applied without
 * their event id being recorded, so a re-sent delta counted twice. */
TEST(a_stock_event_sent_twice_counts_once) {
    const char *line =
        "{\"event_id\":\"00000000-0000-4000-8000-00000000aaaa\","
        "\"type\":\"erp.stock.adjusted\",\"occurred_at\":"
        "\"2026-04-01T08:00:00Z\",\"ingested_at\":\"2026-04-01T08:00:00Z\","
        "\"source\":{\"system\":\"erp\",\"kind\":\"erp\",\"entity_type\":"
        "\"stock_ledger_entry\",\"entity_id\":\"SLE-9\"},\"identities\":[],"
        "\"payload\":{\"sku\":\"S\",\"warehouse\":\"W\",\"delta\":5}}";
    char *lines[2] = {(char *)line, (char *)line};
    events_t ev = {lines, 2};
    hub_config_t *cfg = config_from(NOSYNC);
    const char *store = fresh_store("stock-dup");
    size_t counts[4] = {0};
    CHECK_INT(apply_events(cfg, store, &ev, NULL, 1, counts, NULL), 0);
    CHECK_INT(counts[HUB_C360_DUPLICATE], 1);
    CHECK_INT(counts[HUB_C360_IGNORED], 1);
    int rc;
    char *v = product(store, "S", &rc);
    CHECK_INT(rc, 0);
    CHECK_CONTAINS(v, "\"tracked\":true,\"on_hand\":5,");
    free(v);
    hub_config_free(cfg);
}

/* The same events in three orders and batchings: identical bytes. */
static void orders_agree(const events_t *ev, const char *const *skus,
                         size_t nskus, const char *name, hub_buf_t *first) {
    hub_config_t *cfg = config_from(NOSYNC);
    REQUIRE(cfg);
    size_t *rev = malloc(ev->n * sizeof *rev), *shuf = shuffled(ev->n, 42);
    REQUIRE(rev && shuf);
    for (size_t i = 0; i < ev->n; i++)
        rev[i] = ev->n - 1 - i;
    const size_t *orders[3] = {NULL, rev, shuf};
    const size_t batches[3] = {1000, 1, 63};
    hub_buf_t out[3] = {HUB_BUF_INIT, HUB_BUF_INIT, HUB_BUF_INIT};
    for (int k = 0; k < 3; k++) {
        char store[4096];
        char sname[128];
        snprintf(sname, sizeof sname, "%s-%d", name, k);
        snprintf(store, sizeof store, "%s", fresh_store(sname));
        CHECK_INT(apply_events(cfg, store, ev, orders[k],
                               batches[k] < ev->n ? batches[k] : ev->n, NULL,
                               NULL),
                  0);
        read_all(store, skus, nskus, &out[k]);
    }
    for (int k = 1; k < 3; k++) {
        int same = out[k].len == out[0].len &&
                   memcmp(out[k].data, out[0].data, out[0].len) == 0;
        CHECK(same);
        if (!same)
            fprintf(stderr, "order %d:\n%s\norder 0:\n%s\n", k, out[k].data,
                    out[0].data);
    }
    if (first) {
        hub_buf_reset(first);
        hub_buf_append(first, out[0].data, out[0].len);
    }
    for (int k = 0; k < 3; k++)
        hub_buf_free(&out[k]);
    free(rev);
    free(shuf);
    hub_config_free(cfg);
}

TEST(the_scenario_in_three_orders_gives_identical_views) {
    events_t ev;
    load_scenario(&ev);
    hub_buf_t b = HUB_BUF_INIT;
    orders_agree(&ev, scenario_skus, 4, "stock-order", &b);
    CHECK_CONTAINS(b.data, TEA_VIEW);
    hub_buf_free(&b);
    events_free(&ev);
}

/* ------------------------------------------------------------------ */
/* Generated events                                                    */
/* ------------------------------------------------------------------ */

#define NSKU 5
#define NWH  3

static const char *const gen_skus[NSKU + 1] = {"SKU-0", "SKU-1", "SKU-2",
                                               "SKU-3", "SKU-4", "SKU-5"};

typedef struct gen {
    unsigned seed;
    size_t id;      /* event ids */
    hub_buf_t text; /* the NDJSON */
    char **sent;    /* lines, to re-send some */
    size_t nsent;
} gen;

static unsigned rnd(gen *g, unsigned n) {
    g->seed = g->seed * 1103515245u + 12345u;
    return (g->seed >> 8) % n;
}

/* Starts an event line: envelope up to the payload's opening brace. */
static void head(gen *g, hub_buf_t *b, const char *type, const char *etype,
                 const char *eid) {
    unsigned s = rnd(g, 86400), ms = rnd(g, 1000);
    hub_buf_printf(b,
                   "{\"event_id\":\"00000000-0000-4000-8000-%012zu\","
                   "\"type\":\"%s\",\"occurred_at\":\"2026-04-01T%02u:%02u:"
                   "%02u.%03uZ\",\"ingested_at\":\"2026-04-02T00:00:00Z\","
                   "\"source\":{\"system\":\"erp\",\"kind\":"
                   "\"erp\",\"entity_type\":\"%s\",\"entity_id\":\"%s\"},"
                   "\"identities\":[],\"payload\":{",
                   ++g->id, type, s / 3600, s / 60 % 60, s % 60, ms, etype,
                   eid);
}

static void lines(gen *g, hub_buf_t *b, int may_be_empty) {
    unsigned n = rnd(g, 3) + (may_be_empty ? 0 : 1);
    hub_buf_puts(b, "\"lines\":[");
    for (unsigned i = 0; i < n; i++) {
        hub_buf_printf(b, "%s{\"sku\":\"%s\",\"quantity\":%u", i ? "," : "",
                       gen_skus[rnd(g, NSKU)], rnd(g, 8) + 1);
        if (rnd(g, 3) == 0)
            hub_buf_printf(b, ",\"warehouse\":\"W%u\"", rnd(g, NWH));
        hub_buf_putc(b, '}');
    }
    hub_buf_puts(b, "]");
}

static void finish(gen *g, hub_buf_t *b) {
    hub_buf_puts(b, "}}");
    hub_buf_putc(&g->text, '\n');
    hub_buf_append(&g->text, b->data, b->len);
    g->sent = realloc(g->sent, (g->nsent + 1) * sizeof *g->sent);
    g->sent[g->nsent++] = strdup(b->data);
    hub_buf_reset(b);
}

/* n events: stock levels and movements, and orders, purchase and
 * production orders with everything that happens to them, some re-sent
 * (the same event id) and some documents sent again in a later version
 * (another event id, another time). */
static void generate(unsigned seed, size_t n, events_t *out) {
    gen g = {.seed = seed};
    hub_buf_t b = HUB_BUF_INIT;
    char id[32];
    size_t orders = 0, pos = 0, wos = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned k = rnd(&g, 100);
        if (k < 5 && g.nsent) { /* a duplicate */
            hub_buf_putc(&g.text, '\n');
            hub_buf_puts(&g.text, g.sent[rnd(&g, (unsigned)g.nsent)]);
            continue;
        }
        if (k < 30) {
            snprintf(id, sizeof id, "SLE-%zu", i);
            head(&g, &b, "erp.stock.adjusted", "stock_ledger_entry", id);
            hub_buf_printf(&b, "\"sku\":\"%s\",\"warehouse\":\"W%u\"",
                           gen_skus[rnd(&g, NSKU)], rnd(&g, NWH));
            if (rnd(&g, 3) == 0)
                hub_buf_printf(&b, ",\"on_hand\":%u", rnd(&g, 40));
            else
                hub_buf_printf(&b, ",\"delta\":%d", (int)rnd(&g, 21) - 10);
            finish(&g, &b);
        } else if (k < 45 || !orders) {
            snprintf(id, sizeof id, "SO-%zu",
                     rnd(&g, 4) == 0 && orders ? rnd(&g, (unsigned)orders)
                                               : orders++);
            head(&g, &b, "erp.order.placed", "sales_order", id);
            lines(&g, &b, 0);
            hub_buf_printf(&b, ",\"total\":100,\"currency\":\"CNY\"");
            if (rnd(&g, 4))
                hub_buf_printf(&b, ",\"warehouse\":\"W%u\"", rnd(&g, NWH));
            finish(&g, &b);
        } else if (k < 70) {
            static const char *const types[] = {
                "erp.order.shipped", "erp.order.cancelled",
                "erp.order.returned", "erp.order.delivered"};
            unsigned t = rnd(&g, 10);
            t = t < 5 ? 0 : t < 7 ? 1 : t < 9 ? 2 : 3;
            char order[32];
            snprintf(order, sizeof order, "SO-%u", rnd(&g, (unsigned)orders));
            if (t == 1) {
                head(&g, &b, types[t], "sales_order", order);
                hub_buf_puts(&b, "\"reason\":\"customer\"");
            } else {
                /* a shipment or return of its own, or another version
                 * of an earlier one */
                snprintf(id, sizeof id, "D-%u", rnd(&g, (unsigned)i + 1));
                head(&g, &b, types[t], "document", id);
                hub_buf_printf(&b, "\"order_id\":\"%s\"", order);
                if (t != 3) {
                    hub_buf_putc(&b, ',');
                    lines(&g, &b, 1);
                }
            }
            finish(&g, &b);
        } else if (k < 85) {
            if (rnd(&g, 2) || !pos) {
                snprintf(id, sizeof id, "PO-%zu", pos++);
                head(&g, &b, "erp.purchase_order.placed", "purchase_order", id);
                lines(&g, &b, 0);
                hub_buf_printf(&b, ",\"warehouse\":\"W%u\"", rnd(&g, NWH));
            } else {
                snprintf(id, sizeof id, "PR-%zu", i);
                head(&g, &b, "erp.purchase_order.received", "purchase_receipt",
                     id);
                hub_buf_printf(&b, "\"purchase_order_id\":\"PO-%u\",",
                               rnd(&g, (unsigned)pos));
                lines(&g, &b, 1);
                hub_buf_printf(&b, ",\"complete\":%s",
                               rnd(&g, 4) ? "false" : "true");
            }
            finish(&g, &b);
        } else {
            int done = wos && rnd(&g, 2);
            snprintf(id, sizeof id, "WO-%u",
                     done ? rnd(&g, (unsigned)wos) : (unsigned)wos++);
            head(&g, &b,
                 done ? "erp.production_order.completed"
                      : "erp.production_order.released",
                 "work_order", id);
            hub_buf_printf(&b,
                           "\"sku\":\"%s\",\"quantity\":%u,\"warehouse\":"
                           "\"W%u\"",
                           gen_skus[rnd(&g, NSKU)], rnd(&g, 20) + 1,
                           rnd(&g, NWH));
            finish(&g, &b);
        }
    }
    REQUIRE(events_from_text(g.text.data + 1, out) == 0);
    for (size_t i = 0; i < g.nsent; i++)
        free(g.sent[i]);
    free(g.sent);
    hub_buf_free(&b);
    hub_buf_free(&g.text);
}

TEST(generated_events_in_three_orders_give_identical_views) {
    events_t ev;
    generate(7, 3000, &ev);
    hub_buf_t b = HUB_BUF_INIT;
    orders_agree(&ev, gen_skus, NSKU + 1, "stock-gen", &b);
    if (getenv("HUB360_TEST_SHOW"))
        fprintf(stderr, "%s\n", b.data);
    /* not a trivial agreement: stock, reservations, oversold orders */
    CHECK_CONTAINS(b.data, "\"tracked\":true");
    CHECK_CONTAINS(b.data, "\"order\":\"erp/SO-");
    CHECK_CONTAINS(b.data, "\"on_order_purchase\":");
    CHECK_CONTAINS(b.data, "\"orders\":[{\"order\":\"erp/SO-");
    CHECK(strstr(b.data, "no SKU-5") != NULL); /* never named */

    /* without the re-sent events (same event id): the same bytes */
    events_t once = {calloc(ev.n, sizeof(char *)), 0};
    hub_hmap_t *seen = hub_hmap_new();
    REQUIRE(once.lines && seen);
    for (size_t i = 0; i < ev.n; i++) {
        int created;
        hub_hmap_put(seen, ev.lines[i], strlen(ev.lines[i]), &created);
        if (created)
            once.lines[once.n++] = strdup(ev.lines[i]);
    }
    CHECK(once.n < ev.n);
    hub_config_t *cfg = config_from(NOSYNC);
    const char *store = fresh_store("stock-gen-once");
    CHECK_INT(apply_events(cfg, store, &once, NULL, 500, NULL, NULL), 0);
    hub_buf_t b1 = HUB_BUF_INIT;
    read_all(store, gen_skus, NSKU + 1, &b1);
    CHECK_STR(b1.data, b.data);
    hub_buf_free(&b1);
    hub_config_free(cfg);
    hub_hmap_free(seen, NULL);
    events_free(&once);
    hub_buf_free(&b);
    events_free(&ev);
}
