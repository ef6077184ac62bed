/*
 * Integration tests of the customer-360 projection, applied in process
 * (no Kafka): order independence, duplicates, links, forget, guards.
 */
#include <stdlib.h>

#include "c360_harness.h"
#include "errors.h"
#include "harness.h"

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

static void orders_agree(int control, int dups) {
    events_t ev;
    const char *seed = getenv("HUB360_TEST_SEED"); /* to explore others */
    const char *pct = getenv("HUB360_TEST_CONTROL");
    events_generate(12000, seed ? (unsigned)strtoul(seed, NULL, 10) : 7,
                    control && pct ? (int)strtol(pct, NULL, 10) : control, dups, &ev);
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
    CHECK(out[0].len > 100000);
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
    orders_agree(0, 0);
}

TEST(with_duplicates_and_operators_the_orders_still_agree) {
    orders_agree(1, 2);
}
