/*
 * Integration tests of the reporting projection (projections/metrics),
 * applied in process (no Kafka): time zones against the C library's,
 * the scripted scenario's exact figures by UTC and by business day, and
 * order independence (the scenario and 12,000 generated events with
 * duplicates, links, unlinks and forgets, each in three orders).
 */
#include <stdlib.h>
#include <time.h>

#include "c360_harness.h"
#include "errors.h"
#include "harness.h"
#include "report.h"
#include "tz.h"

/* ------------------------------------------------------------------ */
/* Time zones                                                          */
/* ------------------------------------------------------------------ */

/* hub_tz_offset agrees with localtime_r (TZ set in this test process
 * only) every 5 h 17 min from 1950 to 2060: transitions, the footer's
 * rules past them, southern and half-hour zones. */
TEST(time_zones_agree_with_the_c_library) {
    static const char *zones[] = {
        "America/New_York", "Europe/Berlin",  "Australia/Sydney",
        "Asia/Shanghai",    "Asia/Kolkata",   "Pacific/Chatham",
        "America/Sao_Paulo", "Europe/London", "America/Santiago",
        "UTC",
    };
    for (size_t z = 0; z < sizeof zones / sizeof *zones; z++) {
        hub_tz_t *tz = NULL;
        char err[256] = "";
        CHECK_INT(hub_tz_load(zones[z], &tz, err, sizeof err), 0);
        if (!tz) {
            fprintf(stderr, "%s\n", err);
            continue;
        }
        setenv("TZ", zones[z], 1);
        tzset();
        size_t bad = 0, n = 0;
        for (int64_t t = -631152000; t < 2840140800; t += 19020, n++) {
            time_t tt = (time_t)t;
            struct tm tm;
            localtime_r(&tt, &tm);
            int32_t got = hub_tz_offset(tz, t * 1000);
            if (got != tm.tm_gmtoff && bad++ < 3)
                FAIL_AT("%s at %lld: %d, the C library says %ld", zones[z],
                        (long long)t, got, tm.tm_gmtoff);
        }
        CHECK_INT(bad, 0);
        CHECK(n > 180000);
        hub_tz_free(tz);
    }
    unsetenv("TZ");
    tzset();
}

TEST(business_days_turn_at_local_midnight) {
    hub_tz_t *sh = NULL, *ny = NULL;
    REQUIRE(hub_tz_load("Asia/Shanghai", &sh, NULL, 0) == 0);
    REQUIRE(hub_tz_load("America/New_York", &ny, NULL, 0) == 0);
    int32_t d;
    REQUIRE(hub_day_parse("2026-03-09", &d) == 0);
    /* 2026-03-09T15:59:59.999Z is 23:59:59.999 in Shanghai */
    CHECK_INT(hub_tz_day(sh, 1773071999999LL), d);
    CHECK_INT(hub_tz_day(sh, 1773072000000LL), d + 1);
    CHECK_INT(hub_tz_day(NULL, 1773072000000LL), d);
    /* New York springs forward on 2026-03-08: midnight is 05:00Z before,
     * 04:00Z after */
    CHECK_INT(hub_tz_day(ny, 1772946000000LL - 1), d - 2); /* 03-08 05:00Z */
    CHECK_INT(hub_tz_day(ny, 1772946000000LL), d - 1);
    CHECK_INT(hub_tz_day(ny, 1773028800000LL - 1), d - 1); /* 03-09 04:00Z */
    CHECK_INT(hub_tz_day(ny, 1773028800000LL), d);
    CHECK_INT(hub_tz_day(NULL, -1), -1); /* before 1970 rounds down */
    hub_tz_free(sh);
    hub_tz_free(ny);
}

TEST(bad_zones_and_dates_are_refused_by_name) {
    hub_tz_t *tz = NULL;
    char err[256];
    CHECK_INT(hub_tz_load("Mars/Olympus", &tz, err, sizeof err), HUB_ENOENT);
    CHECK_CONTAINS(err, "no time zone Mars/Olympus");
    CHECK_INT(hub_tz_load("../etc/passwd", &tz, err, sizeof err), HUB_ENOENT);
    CHECK_CONTAINS(err, "is not an IANA time zone name");
    CHECK(tz == NULL);
    int32_t a, b;
    CHECK_INT(hub_report_range("2026-02-29", "2026-03-01", "from", "to", &a,
                               &b, err, sizeof err),
              HUB_EINVAL);
    CHECK_STR(err, "from: expected a date YYYY-MM-DD from 1970 on, got "
                   "\"2026-02-29\"");
    CHECK_INT(hub_report_range("2026-03-02", "2026-03-01", "from", "to", &a,
                               &b, err, sizeof err),
              HUB_EINVAL);
    CHECK_STR(err, "to 2026-03-01 is before from 2026-03-02");
    CHECK_INT(hub_report_range("2016-01-01", "2026-12-31", "--from", "--to",
                               &a, &b, err, sizeof err),
              HUB_EINVAL);
    CHECK_STR(err, "--from..--to spans 4018 days; at most 3660 in one report");
    CHECK_INT(hub_report_range("2024-02-29", NULL, "from", "to", &a, &b, err,
                               sizeof err),
              HUB_EINVAL);
    CHECK_STR(err, "to: missing (YYYY-MM-DD)");
    CHECK_INT(hub_report_range("2024-02-29", "2024-03-01", "from", "to", &a,
                               &b, err, sizeof err),
              0);
    CHECK_INT(b - a, 1);
}

/* ------------------------------------------------------------------ */
/* The scenario                                                        */
/* ------------------------------------------------------------------ */

#define ZONE_YAML "reporting:\n  time_zone: Asia/Shanghai\n"

/* The report of a store: UTC and business days, JSON and CSV, one after
 * the other. */
static int report_of(const char *store, const char *from, const char *to,
                     hub_buf_t *out) {
    hub_c360_t *c;
    char err[512];
    int32_t a, b;
    int rc = hub_c360_open_reader(store, &c, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s\n", err);
        return rc;
    }
    rc = hub_report_range(from, to, "from", "to", &a, &b, err, sizeof err);
    const int zones[2] = {HUB_REPORT_UTC, HUB_REPORT_BUSINESS};
    for (int z = 0; z < 2 && !rc; z++)
        for (int f = 0; f < 2 && !rc; f++) {
            rc = hub_report_daily(hub_c360_report(c), zones[z], a, b,
                                  f ? HUB_REPORT_CSV : HUB_REPORT_JSON, out);
            hub_buf_putc(out, '\n');
        }
    hub_c360_close(c);
    return rc;
}

/* Applies ev to three fresh stores (NAME-0, -1, -2): in order, reversed
 * and shuffled, in batches of batches[k]; out[k] gets each one's report
 * from..to, counts the outcomes of the first. Returns the first store. */
static const char *three_orders(const hub_config_t *cfg, const events_t *ev,
                                const char *name, const size_t batches[3],
                                const char *from, const char *to,
                                hub_buf_t out[3], size_t counts[4]) {
    static char first[4096];
    size_t *rev = malloc(ev->n * sizeof *rev), *shuf = shuffled(ev->n, 5);
    for (size_t i = 0; i < ev->n; i++)
        rev[i] = ev->n - 1 - i;
    const size_t *orders[3] = {NULL, rev, shuf};
    for (int k = 0; k < 3; k++) {
        char one[64];
        snprintf(one, sizeof one, "%s-%d", name, k);
        const char *store = fresh_store(one);
        if (k == 0)
            snprintf(first, sizeof first, "%s", store);
        CHECK_INT(apply_events(cfg, store, ev, orders[k], batches[k],
                               k ? NULL : counts, NULL),
                  0);
        CHECK_INT(report_of(store, from, to, &out[k]), 0);
    }
    for (int k = 1; k < 3; k++) {
        CHECK_INT(out[k].len, out[0].len);
        CHECK(out[k].len == out[0].len &&
              memcmp(out[k].data, out[0].data, out[0].len) == 0);
    }
    free(rev);
    free(shuf);
    return first;
}

static void check_fixture(const char *name, const char *got, size_t len) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/report/%s", name);
    size_t n;
    char *want = hub_test_read(path, &n);
    REQUIRE(want);
    int same = n == len && memcmp(want, got, n) == 0;
    if (!same)
        FAIL_AT("%s differs:\n--- got\n%.*s\n--- expected\n%s", path,
                (int)len, got, want);
    free(want);
}

TEST(the_scenario_gives_the_exact_figures_in_any_order) {
    size_t len;
    char *text = hub_test_read("tests/fixtures/report/events.ndjson", &len);
    REQUIRE(text);
    events_t ev;
    REQUIRE(events_from_text(text, &ev) == 0);
    free(text);
    hub_config_t *cfg = config_from(ZONE_YAML);
    REQUIRE(cfg);
    const size_t batches[3] = {100, 1, 7};
    hub_buf_t out[3] = {HUB_BUF_INIT, HUB_BUF_INIT, HUB_BUF_INIT};
    size_t counts[4] = {0};
    three_orders(cfg, &ev, "report-scenario", batches, "2026-03-08",
                 "2026-03-11", out, counts);
    /* two events sent twice; the stock adjustment counts for nothing */
    CHECK_INT(counts[HUB_C360_DUPLICATE], 2);
    CHECK_INT(counts[HUB_C360_IGNORED], 1);
    REQUIRE(out[0].data);
    /* UTC JSON, UTC CSV, business JSON, business CSV */
    const char *names[4] = {"daily-utc.json", "daily-utc.csv",
                            "daily-business.json", "daily-business.csv"};
    const char *p = out[0].data;
    for (int i = 0; i < 4 && p; i++) {
        const char *nl = i % 2 ? strstr(p, "\r\n\n") : strchr(p, '\n');
        REQUIRE(nl);
        size_t n = (size_t)(nl - p) + (i % 2 ? 2 : 0);
        if (i % 2 == 0) { /* the JSON fixtures end with a newline */
            char *one = malloc(n + 1);
            memcpy(one, p, n);
            one[n] = '\n';
            check_fixture(names[i], one, n + 1);
            free(one);
        } else {
            check_fixture(names[i], p, n);
        }
        p = nl + (i % 2 ? 3 : 1);
    }
    for (int k = 0; k < 3; k++)
        hub_buf_free(&out[k]);
    hub_config_free(cfg);
    events_free(&ev);
}

/* A lead created at `at`, as canonical JSON. */
#define LEAD(id, at)                                                           \
    "{\"event_id\":\"00000000-0000-4000-8000-00000000000" id "\","          \
    "\"type\":\"crm.lead.created\",\"occurred_at\":\"" at "\","             \
    "\"ingested_at\":\"" at "\","                                            \
    "\"source\":{\"system\":\"crm1\",\"kind\":\"crm\","                   \
    "\"entity_type\":\"lead\",\"entity_id\":\"" id "\"},"                   \
    "\"identities\":[],\"payload\":{}}\n"

/* New York: midnight is 05:00Z in winter and 04:00Z in summer; 2026's
 * clocks spring forward on March 8, so 04:30Z is 23:30 on the 7th before
 * and 00:30 on the 9th after. */
TEST(business_days_follow_daylight_saving_time) {
    events_t ev;
    REQUIRE(events_from_text(LEAD("1", "2026-03-08T04:30:00Z")
                                 LEAD("2", "2026-03-09T04:30:00Z")
                                 LEAD("3", "2026-03-09T03:59:59Z"),
                             &ev) == 0);
    hub_config_t *cfg =
        config_from("reporting:\n  time_zone: America/New_York\n");
    REQUIRE(cfg);
    const char *store = fresh_store("report-dst");
    size_t counts[4] = {0};
    CHECK_INT(apply_events(cfg, store, &ev, NULL, 10, counts, NULL), 0);
    CHECK_INT(counts[HUB_C360_APPLIED], 3);
    hub_c360_t *c;
    char err[256];
    REQUIRE(hub_c360_open_reader(store, &c, err, sizeof err) == 0);
    int32_t a, b;
    REQUIRE(hub_report_range("2026-03-07", "2026-03-09", "from", "to", &a, &b,
                             err, sizeof err) == 0);
    hub_buf_t biz = HUB_BUF_INIT, utc = HUB_BUF_INIT;
    CHECK_INT(hub_report_daily(hub_c360_report(c), HUB_REPORT_BUSINESS, a, b,
                               HUB_REPORT_JSON, &biz),
              0);
    CHECK_INT(hub_report_daily(hub_c360_report(c), HUB_REPORT_UTC, a, b,
                               HUB_REPORT_JSON, &utc),
              0);
    hub_c360_close(c);
    CHECK_CONTAINS(biz.data, "{\"time_zone\":\"America/New_York\",");
    CHECK_CONTAINS(biz.data, "{\"date\":\"2026-03-07\",\"leads_created\":1,");
    CHECK_CONTAINS(biz.data, "{\"date\":\"2026-03-08\",\"leads_created\":1,");
    CHECK_CONTAINS(biz.data, "{\"date\":\"2026-03-09\",\"leads_created\":1,");
    CHECK_CONTAINS(utc.data, "{\"date\":\"2026-03-07\",\"leads_created\":0,");
    CHECK_CONTAINS(utc.data, "{\"date\":\"2026-03-08\",\"leads_created\":1,");
    CHECK_CONTAINS(utc.data, "{\"date\":\"2026-03-09\",\"leads_created\":2,");
    hub_buf_free(&biz);
    hub_buf_free(&utc);
    hub_config_free(cfg);
    events_free(&ev);
}

/* ------------------------------------------------------------------ */
/* Generated events                                                    */
/* ------------------------------------------------------------------ */

/* The sum of a column over the days of a CSV report. */
static long long column_sum(const char *csv, const char *column) {
    const char *nl = strstr(csv, "\r\n");
    if (!nl)
        return -1;
    int col = -1, i = 0;
    for (const char *p = csv; p < nl; i++) {
        const char *e = memchr(p, ',', (size_t)(nl - p));
        if (!e)
            e = nl;
        if ((size_t)(e - p) == strlen(column) &&
            memcmp(p, column, (size_t)(e - p)) == 0)
            col = i;
        p = e + 1;
    }
    long long sum = 0;
    for (const char *row = nl + 2; col >= 0 && *row && *row != '\n';) {
        const char *p = row;
        for (int c = 0; c < col; c++)
            p = strchr(p, ',') + 1;
        sum += strtoll(p, NULL, 10);
        row = strstr(row, "\r\n") + 2;
    }
    return sum;
}

static size_t count_views(const char *store) {
    hub_buf_t out = HUB_BUF_INIT;
    char digest[65];
    size_t n = 0;
    if (export_store(store, &out, digest) == 0)
        for (size_t i = 0; i < out.len; i++)
            n += out.data[i] == '\n';
    hub_buf_free(&out);
    return n;
}

TEST(generated_events_with_operators_give_identical_reports_in_three_orders) {
    events_t ev;
    REQUIRE(events_generate(events_wanted(12000), 11, 1, 2, &ev) == 0);
    hub_config_t *cfg = config_from(ZONE_YAML);
    REQUIRE(cfg);
    const size_t batches[3] = {1000, 333, 50};
    hub_buf_t out[3] = {HUB_BUF_INIT, HUB_BUF_INIT, HUB_BUF_INIT};
    size_t counts[4] = {0};
    size_t views = count_views(three_orders(cfg, &ev, "report-gen", batches,
                                            "2025-12-01", "2026-12-31", out,
                                            counts));
    REQUIRE(out[0].data);
    /* the floors below scale with the events (fewer under valgrind):
     * each kind of figure must be there in number, not by accident */
    const size_t many = ev.n / 120, some = ev.n / 1200;
    CHECK(counts[HUB_C360_DUPLICATE] > many);
    /* every customer is new once: on its earliest day, in either zone */
    const char *utc_csv = strchr(out[0].data, '\n') + 1;
    const char *biz_csv = strstr(utc_csv, "\r\n\n") + 3;
    biz_csv = strchr(biz_csv, '\n') + 1;
    CHECK(views > many);
    CHECK_INT(column_sum(utc_csv, "customers_new"), views);
    CHECK_INT(column_sum(biz_csv, "customers_new"), views);
    CHECK_INT(column_sum(utc_csv, "orders"), column_sum(biz_csv, "orders"));
    CHECK(column_sum(utc_csv, "orders") > (long long)many);
    CHECK(column_sum(utc_csv, "customers_merged") > (long long)some);
    CHECK(column_sum(utc_csv, "messages_in") > (long long)many);
    CHECK(column_sum(utc_csv, "tickets_resolved") > (long long)some);
    CHECK(column_sum(utc_csv, "opportunities_won") > (long long)some);
    fprintf(stderr, "%zu events, %zu customers, %zu bytes of reports\n", ev.n,
            views, out[0].len);
    for (int k = 0; k < 3; k++)
        hub_buf_free(&out[k]);
    hub_config_free(cfg);
    events_free(&ev);
}

