/*
 * Unit tests: the poller's pieces that decide what is new and when to
 * ask again - position order (instants at full precision, numeric ids),
 * cursors from poll_cursor, the cursor table in LMDB, Retry-After and
 * the full-jitter backoff, and a stop flag that ends waits at once.
 */
#include <stdlib.h>
#include <unistd.h>

#include "client.h"
#include "cursor.h"
#include "errors.h"
#include "harness.h"
#include "timefmt.h"

static int sign(int c) { return c < 0 ? -1 : c > 0; }

TEST(at_order_is_by_instant_at_full_precision) {
    static const struct {
        const char *a, *b;
        int want;
    } cases[] = {
        {"2026-03-01T10:00:00Z", "2026-03-01T10:00:01Z", -1},
        {"2026-03-01T18:00:00+08:00", "2026-03-01T10:00:00Z", 0},
        {"2026-03-01T18:00:00.5+08:00", "2026-03-01T10:00:00.500Z", 0},
        {"2026-03-01T10:00:00.000001Z", "2026-03-01T10:00:00.000002Z", -1},
        {"2026-03-01T10:00:00.123Z", "2026-03-01T10:00:00.1230Z", 0},
        {"2026-03-01T10:00:00.123Z", "2026-03-01T10:00:00.123001Z", -1},
        {"2026-03-01T10:00:00.999999Z", "2026-03-01T10:00:01Z", -1},
        /* Frappe's microseconds, after its preset's poll_cursor */
        {"2026-03-01T10:00:00.000010Z", "2026-03-01T10:00:00.000009Z", 1},
        /* not RFC 3339: byte-wise, consistent with itself */
        {"17", "9", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_INT(sign(hub_poll_at_cmp(cases[i].a, cases[i].b)), cases[i].want);
        CHECK_INT(sign(hub_poll_at_cmp(cases[i].b, cases[i].a)),
                  -cases[i].want);
    }
}

TEST(ids_compare_numerically_when_both_are_integers) {
    CHECK(hub_poll_id_cmp("9", "10") < 0);
    CHECK(hub_poll_id_cmp("010", "9") > 0);
    CHECK(hub_poll_id_cmp("007", "7") == 0);
    CHECK(hub_poll_id_cmp("-5", "3") < 0);
    CHECK(hub_poll_id_cmp("-10", "-9") < 0);
    CHECK(hub_poll_id_cmp("123456789012345678901234567890",
                          "99999999999999999999") > 0);
    CHECK(hub_poll_id_cmp("SO-10", "SO-9") < 0); /* strings: byte-wise */
    CHECK(hub_poll_id_cmp("", "1") < 0);         /* poll.since's empty id */
    hub_poll_pos_t a = {"2026-03-01T10:00:03.5Z", "9"},
                   b = {"2026-03-01T18:00:03.5+08:00", "10"};
    CHECK(hub_poll_pos_cmp(&a, &b) < 0);
    CHECK(hub_poll_pos_cmp(&b, &a) > 0);
    CHECK(hub_poll_pos_cmp(&a, &a) == 0);
}

TEST(positions_come_from_poll_cursor_output) {
    char err[256];
    hub_poll_pos_t p;
    json_t *v = json_pack("{sssI}", "at", "2026-03-01T10:00:00Z", "id",
                          (json_int_t)42);
    CHECK_INT(hub_poll_pos_from_json(v, &p, err, sizeof(err)), 0);
    CHECK_STR(p.id, "42");
    json_decref(v);
    v = json_pack("{ss}", "id", "x");
    CHECK_INT(hub_poll_pos_from_json(v, &p, err, sizeof(err)), HUB_EINVAL);
    CHECK_STR(err, "poll_cursor gave no \"at\" string");
    json_decref(v);
    v = json_pack("{sssn}", "at", "2026-03-01T10:00:00Z", "id");
    CHECK_INT(hub_poll_pos_from_json(v, &p, err, sizeof(err)), HUB_EINVAL);
    CHECK_STR(err, "poll_cursor gave no \"id\" (a string or integer)");
    json_decref(v);
}

TEST(cursor_table_round_trips_and_refuses_a_second_writer) {
    char dir[] = "/tmp/hub360-poll-XXXXXX", path[64], err[512];
    REQUIRE(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/adapters", dir);
    hub_poll_cursors_t *c = NULL, *other = NULL;
    REQUIRE(hub_poll_cursors_open(path, &c, err, sizeof(err)) == 0);
    hub_poll_pos_t p;
    CHECK_INT(hub_poll_cursors_get(c, "odoo", "res.partner", &p, NULL, NULL,
                                   err, sizeof(err)),
              HUB_ENOENT);
    hub_poll_pos_t want = {"2026-03-01T10:00:00.000001Z", "17"};
    json_t *ties = json_pack("[ss]", "9", "12"), *got = NULL;
    json_t *look = json_pack("{s{ss}ss}", "recent", "4",
                             "2026-03-01T09:59:30Z", "floor",
                             "2026-03-01T09:59:10Z");
    json_t *got_look = NULL;
    CHECK_INT(hub_poll_cursors_put(c, "odoo", "res.partner", &want, ties,
                                   look, err, sizeof(err)),
              0);
    CHECK_INT(hub_poll_cursors_get(c, "odoo", "res.partner", &p, &got,
                                   &got_look, err, sizeof(err)),
              0);
    CHECK_STR(p.at, want.at);
    CHECK_STR(p.id, want.id);
    CHECK(json_equal(got, ties));
    CHECK(json_equal(got_look, look));
    json_decref(got);
    json_decref(got_look);
    json_decref(ties);
    json_decref(look);
    /* a lookback of another shape is named, not crashed on */
    look = json_pack("{s{si}}", "recent", "4", 17);
    CHECK_INT(hub_poll_cursors_put(c, "odoo", "sale.order", &want, NULL, look,
                                   err, sizeof(err)),
              0);
    json_decref(look);
    CHECK_INT(hub_poll_cursors_get(c, "odoo", "sale.order", &p, NULL,
                                   &got_look, err, sizeof(err)),
              HUB_EDECODE);
    CHECK_STR(err, "cursor odoo/sale.order: lookback.recent: a value that "
                   "is not a string");
    CHECK_INT(hub_poll_cursors_open(path, &other, err, sizeof(err)),
              HUB_ESTATE);
    CHECK_CONTAINS(err, "another hub360 adapters polls with this data dir");
    hub_poll_cursors_close(c);
    /* durable: a new environment reads it back */
    REQUIRE(hub_poll_cursors_open(path, &c, err, sizeof(err)) == 0);
    CHECK_INT(hub_poll_cursors_get(c, "odoo", "res.partner", &p, NULL, NULL,
                                   err, sizeof(err)),
              0);
    CHECK_STR(p.id, "17");
    hub_poll_cursors_close(c);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
}

TEST(retry_after_reads_seconds_and_http_dates) {
    int64_t now = 1445412480000; /* Wed, 21 Oct 2015 07:28:00 GMT */
    CHECK_INT(hub_poll_retry_after_ms("120", now), 120000);
    CHECK_INT(hub_poll_retry_after_ms(" 1 ", now), 1000);
    CHECK_INT(hub_poll_retry_after_ms("Wed, 21 Oct 2015 07:28:30 GMT", now),
              30000);
    CHECK_INT(hub_poll_retry_after_ms("Wed, 21 Oct 2015 07:00:00 GMT", now),
              0);
    CHECK_INT(hub_poll_retry_after_ms("soon", now), -1);
    CHECK_INT(hub_poll_retry_after_ms("", now), -1);
    CHECK_INT(hub_poll_retry_after_ms("-5", now), -1);
}

TEST(backoff_is_full_jitter_under_a_doubling_cap) {
    uint64_t rng = 12345;
    int64_t top[6] = {0};
    for (int i = 0; i < 2000; i++)
        for (int attempt = 0; attempt < 6; attempt++) {
            int64_t d = hub_poll_backoff_ms(100, 1000, attempt, &rng);
            int64_t cap = attempt >= 4 ? 1000 : 100LL << attempt;
            CHECK(d >= 0 && d <= cap);
            if (d > top[attempt])
                top[attempt] = d;
        }
    /* it spreads over the whole range, up to near the cap */
    CHECK(top[0] >= 90);
    CHECK(top[5] >= 900);
    CHECK_INT(hub_poll_backoff_ms(0, 1000, 3, &rng), 0);
    CHECK_INT(hub_poll_backoff_ms(100, 1000, 200, &rng) <= 1000, 1);
}

static hub_poll_stop_t stopper;
static void *stop_soon(void *arg) {
    (void)arg;
    usleep(50 * 1000);
    hub_poll_stop_request(&stopper);
    return NULL;
}

TEST(stop_ends_a_wait_at_once) {
    hub_poll_stop_init(&stopper);
    CHECK_INT(hub_poll_stop_wait(&stopper, 10), 0);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, stop_soon, NULL) == 0);
    int64_t t0 = hub_time_mono_ms();
    CHECK_INT(hub_poll_stop_wait(&stopper, 60000), 1);
    CHECK(hub_time_mono_ms() - t0 < 5000);
    pthread_join(t, NULL);
    CHECK_INT(hub_poll_stop_requested(&stopper), 1);
    CHECK_INT(hub_poll_stop_wait(&stopper, 60000), 1);
    hub_poll_stop_destroy(&stopper);
}

TEST(client_refuses_half_filled_auth) {
    hub_poll_config_t cfg = {.url = "http://127.0.0.1:1",
                             .auth = {.bearer = "", .username = "",
                                      .password = "", .header = "",
                                      .token_url = "http://x/token",
                                      .client_id = "", .client_secret = "",
                                      .scope = ""}};
    hub_poll_stop_t s;
    hub_poll_stop_init(&s);
    hub_poll_client_t *c = NULL;
    char err[256];
    CHECK_INT(hub_poll_client_new(&cfg, "src", &s, &c, err, sizeof(err)),
              HUB_ECONFIG);
    CHECK_STR(err, "poll.auth.token_url needs client_id and client_secret");
    cfg.auth.token_url = "";
    cfg.auth.header = "X-Api-Key k";
    CHECK_INT(hub_poll_client_new(&cfg, "src", &s, &c, err, sizeof(err)),
              HUB_ECONFIG);
    CHECK_STR(err, "poll.auth.header: expected \"Name: value\"");
    cfg.auth.header = "";
    cfg.url = "ftp://x";
    CHECK_INT(hub_poll_client_new(&cfg, "src", &s, &c, err, sizeof(err)),
              HUB_ECONFIG);
    hub_poll_stop_destroy(&s);
}
