/*
 * Unit tests: values crossing between jansson and jq in a mapping. They
 * cross by walking the trees and must come out as the text round trip
 * (json_dumps, jv_parse; jv_dump, json_loads) made them: key order kept,
 * integers as integers, numbers jq prints in exponent form as reals,
 * nesting past jq's parser limit and strings with NUL refused.
 */
#include <jansson.h>

#include "errors.h"
#include "harness.h"
#include "mapping.h"

static hub_mapping_t *mapping(void) {
    static const char text[] = "def events: .;\n";
    hub_mapping_t *m = NULL;
    char err[256] = "";
    if (hub_mapping_new("test.jq", text, sizeof text - 1, &m, err,
                        sizeof err))
        FAIL_AT("hub_mapping_new: %s", err);
    return m;
}

/* The compact JSON of expr's outputs over input (JSON text), or
 * "error CODE: message". */
static const char *eval(const char *expr, const char *input) {
    static char out[4096];
    char err[512] = "";
    hub_mapping_t *m = mapping();
    json_t *in = json_loads(input, JSON_DECODE_ANY, NULL), *res = NULL;
    int rc = m && in ? hub_mapping_eval(m, expr, in, NULL, NULL, &res, err,
                                        sizeof err)
                     : HUB_EINVAL;
    if (rc) {
        snprintf(out, sizeof out, "error %d: %s", rc, err);
    } else {
        char *s = json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(out, sizeof out, "%s", s ? s : "(dump failed)");
        free(s);
    }
    json_decref(res);
    json_decref(in);
    hub_mapping_free(m);
    return out;
}

/* Arrays nested n deep: "[[...]]". */
static const char *nested(int n) {
    static char s[1200];
    for (int i = 0; i < n; i++) {
        s[i] = '[';
        s[2 * n - 1 - i] = ']';
    }
    s[2 * n] = '\0';
    return s;
}

TEST(values_cross_unchanged_in_order) {
    CHECK_STR(eval(".", "{\"z\":1520,\"a\":0.5,\"m\":-3,\"s\":\"茶 \\\"x\\\"\","
                        "\"n\":null,\"t\":true,\"f\":false,"
                        "\"l\":[1,[2,{}],[]],\"o\":{\"k\":\"v\"}}"),
              "[{\"z\":1520,\"a\":0.5,\"m\":-3,\"s\":\"茶 \\\"x\\\"\","
              "\"n\":null,\"t\":true,\"f\":false,"
              "\"l\":[1,[2,{}],[]],\"o\":{\"k\":\"v\"}}]");
}

TEST(numbers_come_back_as_jq_prints_them) {
    /* jq 1.6 prints 1e16 and above with an exponent when they have few
     * digits (jansson reads those as reals) and an integral 3.0 as 3. */
    json_t *got = json_loads(eval("[1e15, 1e16, 123456789012345678, 3.0, "
                                  "-0, 0.1, 2.5e-7]",
                                  "null"),
                             0, NULL);
    json_t *want = json_loads("[[1000000000000000, 1e16, "
                              "123456789012345680, 3, 0, 0.1, 2.5e-7]]",
                              0, NULL);
    REQUIRE(got && want);
    CHECK(json_equal(got, want));
    CHECK(json_is_real(json_array_get(json_array_get(got, 0), 1)));
    CHECK(json_is_integer(json_array_get(json_array_get(got, 0), 3)));
    json_decref(got);
    json_decref(want);
}

TEST(nesting_past_jq_parser_limit_is_refused) {
    /* The record sits in a wrapper object: 255 arrays make the 256
     * containers jq's parser accepts. */
    CHECK_STR(eval("length", nested(255)), "[1]");
    CHECK_STR(eval("length", nested(256)),
              "error -1: test.jq: expression: the input is nested deeper "
              "than 256 levels");
}

TEST(strings_with_nul_are_refused) {
    CHECK_STR(eval("\"a\\u0000b\"", "null"),
              "error -1: test.jq: expression emitted a string with a NUL "
              "character or a value nested deeper than 2048 levels");
    CHECK_STR(eval("{(\"k\\u0000\"): 1}", "null"),
              "error -1: test.jq: expression emitted a string with a NUL "
              "character or a value nested deeper than 2048 levels");
}

/* ts_auto reads the date-time shape by slicing once test() matched it
 * (prelude.jq: jq 1.6's capture() was most of a mapping's time); every
 * input must give what the capture gives (_ts_auto_re), errors included. */
TEST(ts_auto_gives_what_its_capture_gives) {
    static const char same[] =
        "[.[] | . as $in"
        " | [try (ts_auto | {v: .}) catch {e: .},"
        "    try (_ts_auto_re | {v: .}) catch {e: .}]"
        " | select(.[0] != .[1]) | $in]";
    static const char inputs[] =
        "[\"2026-03-15T18:45:00Z\", \"2026-03-15 18:45:00\","
        " \"2026-03-15T18:45:00\", \"2026-03-15T18:45:00.1Z\","
        " \"2026-03-15T18:45:00.123456z\", \"2026-03-15T18:45:00+08:00\","
        " \"2026-03-15T18:45:00-0830\", \"2026-03-15T18:45:00.5+0800\","
        " \"2026-03-15T18:45:00.Z\", \"2026-03-15T18:45:00+8:00\","
        " \"2026-03-15T18:45:00+08:000\", \"2026-03-15t18:45:00Z\","
        " \"2026-3-15T18:45:00Z\", \"2026-03-15T18:45:00Z\\n\","
        " \"2026-03-15T18:45:00 Z\", \"2026-13-45T99:99:99Z\","
        " \"2026-03-15T18:45:00.99999Z\", \"2026-03-15T18:45:00.000-00:00\","
        " \"9999-12-31T23:59:59.999Z\", \"2026-03-15T18:45:00++0800\","
        " \"1773593100\", \"1773593100000\", \"0012\", \"-5\", \"1.5\","
        " \"12345678901234567890123\", \"\", null, 1773593100, 1.5e12,"
        " true, {\"a\": 1}, \"not a time\"]";
    CHECK_STR(eval(same, inputs), "[[]]"); /* the outputs: one, empty */
    CHECK_STR(eval("map(ts_auto)",
                   "[\"2026-03-15T18:45:00.5+08:00\", \"2026-03-15 18:45:00\","
                   " \"2026-03-15T18:45:00-0830\", \"1773593100\", \"x\"]"),
              "[[\"2026-03-15T10:45:00.500Z\",\"2026-03-15T18:45:00Z\","
              "\"2026-03-16T03:15:00Z\",\"2026-03-15T16:45:00Z\",\"x\"]]");
}
