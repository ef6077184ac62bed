/*
 * Unit tests: buffers, canonical JSON output, RFC 3339 times, UUIDs,
 * loops spread over the cores.
 */
#include <stdatomic.h>
#include <unistd.h>

#include "buf.h"
#include "harness.h"
#include "json.h"
#include "par.h"
#include "timefmt.h"
#include "uuid.h"

static char *dbl(double v) {
    static char out[64];
    hub_buf_t b = HUB_BUF_INIT;
    if (hub_json_put_double(&b, v))
        snprintf(out, sizeof out, "(error)");
    else
        snprintf(out, sizeof out, "%s", b.data);
    hub_buf_free(&b);
    return out;
}

TEST(doubles_print_like_python_repr) {
    CHECK_STR(dbl(0.8), "0.8");
    CHECK_STR(dbl(-0.35), "-0.35");
    CHECK_STR(dbl(0.1), "0.1");
    CHECK_STR(dbl(2.0), "2.0");
    CHECK_STR(dbl(1e6), "1000000.0");
    CHECK_STR(dbl(1.5e10), "15000000000.0");
    CHECK_STR(dbl(1e16), "1e+16");
    CHECK_STR(dbl(1e-5), "1e-05");
    CHECK_STR(dbl(0.0001), "0.0001");
    CHECK_STR(dbl(1.0 / 3.0), "0.3333333333333333");
    hub_buf_t b = HUB_BUF_INIT;
    CHECK(hub_json_put_double(&b, 1.0 / 0.0) != 0);
    hub_buf_free(&b);
}

TEST(strings_escape_only_what_json_requires) {
    hub_buf_t b = HUB_BUF_INIT;
    const char s[] = "a\"b\\c\n\t\x01/é中";
    hub_json_put_str(&b, s, sizeof s - 1);
    CHECK_STR(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001/é中\"");
    hub_buf_free(&b);
}

TEST(utf8_validation_finds_the_first_bad_byte) {
    CHECK_INT(hub_utf8_invalid_at("abc", 3), -1);
    CHECK_INT(hub_utf8_invalid_at("中文", 6), -1);
    CHECK_INT(hub_utf8_invalid_at("ab\xff", 3), 2);
    CHECK_INT(hub_utf8_invalid_at("a\xe4\xb8", 3), 1);      /* cut short */
    CHECK_INT(hub_utf8_invalid_at("\xc0\xaf", 2), 0);       /* overlong */
    CHECK_INT(hub_utf8_invalid_at("\xed\xa0\x80", 3), 0);   /* surrogate */
    CHECK_INT(hub_utf8_invalid_at("\xf4\x90\x80\x80", 4), 0);
}

static int64_t parse(const char *s, int *ok) {
    int64_t ms = 0;
    *ok = hub_time_parse(s, strlen(s), &ms, NULL) == 0;
    return ms;
}

TEST(rfc3339_parses_zones_and_fractions) {
    int ok;
    CHECK_INT(parse("1970-01-01T00:00:00Z", &ok), 0);
    CHECK(ok);
    CHECK_INT(parse("2026-03-14T09:26:53.589Z", &ok), 1773480413589LL);
    CHECK_INT(parse("2026-03-14T17:26:53.589+08:00", &ok), 1773480413589LL);
    CHECK_INT(parse("2026-03-14t09:26:53.5891234z", &ok), 1773480413589LL);
    CHECK_INT(parse("1969-12-31T23:59:59.999Z", &ok), -1);
    CHECK_INT(parse("2024-02-29T00:00:00Z", &ok), 1709164800000LL);
    CHECK(ok);
    parse("2026-02-29T00:00:00Z", &ok);
    CHECK(!ok);
    parse("2026-03-14T09:26:53", &ok);
    CHECK(!ok);
    parse("2026-03-14", &ok);
    CHECK(!ok);
    parse("2026-03-14T25:00:00Z", &ok);
    CHECK(!ok);
    const char *why = NULL;
    int64_t ms;
    CHECK(hub_time_parse("2026-03-14T09:26:53", 19, &ms, &why) != 0);
    CHECK_STR(why, "missing time zone (Z or +HH:MM)");
}

TEST(rfc3339_formats_canonically) {
    char out[HUB_TIME_MAXLEN];
    hub_time_format(1773480413589LL, out);
    CHECK_STR(out, "2026-03-14T09:26:53.589Z");
    hub_time_format(1773480413000LL, out);
    CHECK_STR(out, "2026-03-14T09:26:53Z");
    hub_time_format(-1, out);
    CHECK_STR(out, "1969-12-31T23:59:59.999Z");
    hub_time_format(0, out);
    CHECK_STR(out, "1970-01-01T00:00:00Z");
}

TEST(uuid_v5_matches_rfc_4122) {
    /* uuid5(NAMESPACE_URL, "hub360") is our namespace, as Python says */
    hub_uuid_t url_ns, u;
    char s[HUB_UUID_STRLEN + 1];
    hub_uuid_parse("6ba7b811-9dad-11d1-80b4-00c04fd430c8", 36, &url_ns);
    hub_uuid_v5(&url_ns, "hub360", 6, &u);
    hub_uuid_format(&u, s);
    CHECK_STR(s, "7932dfa3-fe97-5e7a-80c2-d85d988334cf");
    CHECK(memcmp(u.b, hub_uuid_ns_hub360.b, 16) == 0);
    /* uuid5(uuid5(NAMESPACE_URL, "hub360"), "shop/webhook/42") */
    hub_uuid_v5(&hub_uuid_ns_hub360, "shop/webhook/42", 15, &u);
    hub_uuid_format(&u, s);
    CHECK_STR(s, "43d56131-3789-546a-b8b5-9911572fabdf");
}

TEST(uuid_v7_is_versioned_and_increasing) {
    hub_uuid_t a, b;
    hub_uuid_v7(&a);
    for (int i = 0; i < 10000; i++) {
        hub_uuid_v7(&b);
        CHECK(memcmp(a.b, b.b, 16) < 0);
        a = b;
    }
    CHECK_INT(b.b[6] >> 4, 7);
    CHECK_INT(b.b[8] >> 6, 2);
    char s[HUB_UUID_STRLEN + 1];
    hub_uuid_format(&b, s);
    hub_uuid_t back;
    CHECK_INT(hub_uuid_parse(s, strlen(s), &back), 0);
    CHECK(memcmp(back.b, b.b, 16) == 0);
    CHECK(hub_uuid_parse("not-a-uuid", 10, &back) != 0);
    CHECK(hub_uuid_parse("0a1e0ad6-5dd6-5bb0-9bcf-7bf90af0a9bZ", 36, &back) !=
          0);
}

TEST(buffer_grows_and_keeps_a_nul) {
    hub_buf_t b = HUB_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        hub_buf_printf(&b, "%d,", i);
    CHECK_INT(b.data[b.len], 0);
    CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
    hub_buf_reset(&b);
    CHECK_INT(b.len, 0);
    CHECK_STR(b.data, "");
    hub_buf_free(&b);
}

TEST(a_reserved_buffer_is_an_empty_string) {
    /* regression: reserve on a fresh buffer left data[0] uninitialised,
     * so an empty YAML value read as garbage */
    hub_buf_t b = HUB_BUF_INIT;
    CHECK_INT(hub_buf_reserve(&b, 0), 0);
    CHECK_STR(b.data, "");
    size_t len = 99;
    char *s = hub_buf_steal(&b, &len);
    CHECK_STR(s, "");
    CHECK_INT(len, 0);
    free(s);
}

/* A loop's record of its calls: how often each item was called, what it
 * left (written without atomics: the loop must publish it), on which t. */
typedef struct calls {
    size_t n;
    atomic_int *times;
    size_t *value;
    atomic_int bad_t;
    int slow_helpers; /* helpers sleep per call: the caller catches up */
} calls;

static void record(void *arg, size_t i, size_t t) {
    calls *c = arg;
    if (c->slow_helpers && t != 0)
        usleep(2000);
    if (t >= hub_par_threads())
        atomic_fetch_add(&c->bad_t, 1);
    c->value[i] = 3 * i + 1;
    atomic_fetch_add(&c->times[i], 1);
}

static calls *calls_new(size_t n, int slow) {
    calls *c = calloc(1, sizeof *c);
    c->n = n;
    c->times = calloc(n, sizeof *c->times);
    c->value = calloc(n, sizeof *c->value);
    c->slow_helpers = slow;
    return c;
}

/* Every item called exactly once; returns how many were not. */
static size_t calls_wrong(calls *c) {
    size_t wrong = 0;
    for (size_t i = 0; i < c->n; i++)
        wrong += atomic_load(&c->times[i]) != 1 || c->value[i] != 3 * i + 1;
    return wrong + (size_t)atomic_load(&c->bad_t);
}

static void calls_free(calls *c) {
    free(c->times);
    free(c->value);
    free(c);
}

TEST(a_parallel_loop_calls_every_item_once) {
    size_t sizes[] = {0, 1, 7, 64, 1000, 4099};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        calls *c = calls_new(sizes[k], 0);
        hub_par_for(c->n, 7, 0, record, c);
        CHECK_INT(calls_wrong(c), 0);
        calls_free(c);
    }
}

TEST(a_loop_started_ahead_gives_each_item_when_asked) {
    /* the projector applies message i once hub_par_need(i) returned: the
     * item's call has returned and what it wrote is visible */
    for (int slow = 0; slow <= 1; slow++) {
        calls *c = calls_new(slow ? 40 : 5000, slow);
        hub_par_t *j = hub_par_start(c->n, slow ? 16 : 64, 0, record, c);
        size_t seen_wrong = 0;
        for (size_t i = 0; i < c->n; i++) {
            hub_par_need(j, i);
            seen_wrong += atomic_load(&c->times[i]) != 1 ||
                          c->value[i] != 3 * i + 1;
        }
        hub_par_end(j);
        CHECK_INT(seen_wrong, 0);
        CHECK_INT(calls_wrong(c), 0);
        calls_free(c);
    }
}

TEST(a_loop_ended_early_makes_no_call_twice_and_none_after) {
    /* a batch given up halfway: what it asked for was called once, the
     * rest at most once, and nothing is called once the end returned
     * (its state is gone then: ASan would see a late call) */
    calls *c = calls_new(30000, 0);
    hub_par_t *j = hub_par_start(c->n, 64, 0, record, c);
    hub_par_need(j, 100);
    hub_par_end(j);
    size_t asked_wrong = 0, twice = 0, called = 0;
    for (size_t i = 0; i < c->n; i++) {
        int k = atomic_load(&c->times[i]);
        asked_wrong += i <= 100 && k != 1;
        twice += k > 1;
        called += k == 1;
    }
    usleep(20000);
    size_t later = 0;
    for (size_t i = 0; i < c->n; i++)
        later += atomic_load(&c->times[i]) == 1;
    CHECK_INT(asked_wrong, 0);
    CHECK_INT(twice, 0);
    CHECK_INT(later, called);
    calls_free(c);
    hub_par_need(NULL, 0); /* one core: the calls were made at the start */
    hub_par_end(NULL);
}
