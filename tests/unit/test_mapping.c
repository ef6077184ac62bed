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

/* A mapping of the prelude alone, or of a preset's definitions. */
static hub_mapping_t *mapping(const char *preset) {
    static const char text[] = "def events: .;\n";
    hub_mapping_t *m = NULL;
    char err[256] = "";
    if (preset ? hub_mapping_preset(preset, &m, err, sizeof err)
               : hub_mapping_new("test.jq", text, sizeof text - 1, &m, err,
                                 sizeof err))
        FAIL_AT("hub_mapping_new: %s", err);
    return m;
}

/* The compact JSON of expr's outputs over input (JSON text), or
 * "error CODE: message"; with a preset's definitions when preset. */
static const char *eval_in(const char *preset, const char *expr,
                           const char *input) {
    static char out[4096];
    char err[512] = "";
    hub_mapping_t *m = mapping(preset);
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

static const char *eval(const char *expr, const char *input) {
    return eval_in(NULL, expr, input);
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

/* ts_auto reads the date-time shape by slicing once test() matched it,
 * and gives the usual UTC shape back as it came once it reads back the
 * same (prelude.jq: jq 1.6's capture() was most of a mapping's time);
 * every input must give what the capture gives (_ts_auto_re), errors
 * included. */
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
        " true, {\"a\": 1}, \"not a time\", \"2026-03-15T18:45:00.000Z\","
        " \"2026-03-15T18:45:00.010z\", \"2026-02-30T18:45:00Z\","
        " \"2026-03-15T18:45:60Z\", \"2026-13-15T18:45:00.123Z\","
        " \"0999-03-15T18:45:00Z\", \"2026-03-15T18:45:00.123Z\\n\","
        " \"2026-03-15T24:00:00Z\", \"1970-01-01T00:00:00.001Z\","
        " \"2026-03-15T18:45:00.99\\n\", \"1900-12-16T08:58:07.999z\","
        " \"1900-12-16T08:58:07.010+01:00\", \"0000-01-01T00:00:00Z\","
        " \"0001-01-01T00:00:00.001Z\", -1, -1001]";
    CHECK_STR(eval(same, inputs), "[[]]"); /* the outputs: one, empty */
    CHECK_STR(eval("map(ts_auto)",
                   "[\"2026-03-15T18:45:00.5+08:00\", \"2026-03-15 18:45:00\","
                   " \"2026-03-15T18:45:00-0830\", \"1773593100\", \"x\","
                   " \"2026-03-15T18:45:00.000z\", \"2026-03-15T18:45:00.010Z\","
                   " \"2026-02-30T18:45:00Z\"]"),
              "[[\"2026-03-15T10:45:00.500Z\",\"2026-03-15T18:45:00Z\","
              "\"2026-03-16T03:15:00Z\",\"2026-03-15T16:45:00Z\",\"x\","
              "\"2026-03-15T18:45:00Z\",\"2026-03-15T18:45:00.010Z\","
              "\"2026-03-02T18:45:00Z\"]]");
}

/* Milliseconds before 1970 are what is left over the floored seconds
 * (jq's % gave them negative: "...:07.0-1Z"). */
TEST(ts_ms_before_1970_keeps_its_milliseconds) {
    CHECK_STR(eval("map(ts_ms)", "[-1, -1000, -1001, 0, 999, -2208988800001]"),
              "[[\"1969-12-31T23:59:59.999Z\",\"1969-12-31T23:59:59Z\","
              "\"1969-12-31T23:59:58.999Z\",\"1970-01-01T00:00:00Z\","
              "\"1970-01-01T00:00:00.999Z\",\"1899-12-31T23:59:59.999Z\"]]");
    CHECK_STR(eval("map(ts_auto)", "[\"1900-12-16T08:58:07.999z\"]"),
              "[[\"1900-12-16T08:58:07.999Z\"]]");
}

/* The prelude's fast paths (prelude.jq: one test() for the usual shape,
 * string builtins after it) give what their regular expressions give,
 * for every input: the usual shapes, their near misses, other types,
 * Unicode spaces and digits, newlines, errors. */
static const char labels[] =
    "[\"Closed Won\", \"closed won\", \"web\", \"x.com\", \"UPS\","
    " \"Open - Not Contacted\", \"open - not\", \"a-b\", \"a  b\","
    " \" padded \", \"tab\\there\", \"a\\nb\", \"a\\n\", \"\\na\","
    " \"a\\u00a0b\", \"a\\u3000b\", \"\\u00c9cole Ou\", \"\\u4e2d\\u6587 \\u6807\","
    " \"_x_\", \"a_b c.d\", \"A.B C\", \"a \", \" \", \"\", null, 5, 1.5,"
    " true, false, {\"a\": 1}, [\"x\"], \"Little Red Book\", \"Sina Weibo\"]";

TEST(open_value_gives_what_its_regular_expressions_give) {
    static const char same[] =
        "[.[] | . as $in"
        " | [try (open_value | {v: .}) catch {e: .},"
        "    try (_open_value_re | {v: .}) catch {e: .}]"
        " | select(.[0] != .[1]) | $in]";
    CHECK_STR(eval(same, labels), "[[]]");
    CHECK_STR(eval("map(open_value)",
                   "[\"Closed Won\", \"closed won\", \"web\", \"a  b\", null]"),
              "[[\"closed_won\",\"closed_won\",\"web\",\"a_b\",null]]");
}

TEST(mention_platform_gives_what_its_regular_expressions_give) {
    static const char same[] =
        "def old: if . == null then null"
        "  else tostring | ascii_downcase | sub(\"^\\\\s+\"; \"\")"
        "     | sub(\"\\\\s+$\"; \"\") | gsub(\"\\\\s+\"; \"_\")"
        "     | {\"twitter\": \"x\", \"x.com\": \"x\", \"sina_weibo\": \"weibo\","
        "        \"sina\": \"weibo\", \"rednote\": \"xiaohongshu\","
        "        \"red\": \"xiaohongshu\", \"little_red_book\": \"xiaohongshu\","
        "        \"fb\": \"facebook\", \"ig\": \"instagram\"}[.] // . end;"
        "[.[] | . as $in"
        " | [try (mention_platform | {v: .}) catch {e: .},"
        "    try (old | {v: .}) catch {e: .}]"
        " | select(.[0] != .[1]) | $in]";
    CHECK_STR(eval_in("mention", same, labels), "[[]]");
    CHECK_STR(eval_in("mention", "map(mention_platform)",
                      "[\"Little Red Book\", \"x.com\", \"WeChat\"]"),
              "[[\"xiaohongshu\",\"x\",\"wechat\"]]");
}

TEST(rfc3339_gives_what_its_regular_expressions_give) {
    static const char same[] =
        "[.[] | . as $in"
        " | [try (rfc3339 | {v: .}) catch {e: .},"
        "    try (_rfc3339_re | {v: .}) catch {e: .}]"
        " | select(.[0] != .[1]) | $in]";
    static const char inputs[] =
        "[\"2024-09-27T10:39:01.000+00:00\", \"2024-09-27T10:39:01Z\","
        " \"2024-09-27T10:39:01z\", \"2024-09-27T10:39:01-08:30\","
        " \"2024-09-27T10:39:01.000+0000\", \"2024-09-27T10:39:01.1234Z\","
        " \"2024-09-27T10:39:01.12Z\", \"2024-09-27T10:39:01.Z\","
        " \"2024-09-27 10:39:01\", \"2024-09-27t10:39:01Z\", \"2024-09-27\","
        " \"2024-09-27T10:39:01\", \"2024-09-27T10:39:01Z\\n\","
        " \"x\\n2024-09-27T10:39:01Z\", \"2024-09-27T10:39:01+08\","
        " \"\\u0662\\u0660\\u0662\\u0664-09-27T10:39:01Z\","
        " \"99999-09-27T10:39:01Z\", \"2024-9-27T10:39:01Z\","
        " \"2024-09-27T10:39:01.000+00:00:00\", \"\", null, 1727433541,"
        " true, {\"a\": 1}, \"not a time\"]";
    CHECK_STR(eval(same, inputs), "[[]]");
    CHECK_STR(eval("map(rfc3339)",
                   "[\"2024-09-27T10:39:01.000+00:00\","
                   " \"2024-09-27T10:39:01.000+0000\", \"2024-09-27\"]"),
              "[[\"2024-09-27T10:39:01.000+00:00\","
              "\"2024-09-27T10:39:01.000+00:00\",\"2024-09-27T00:00:00Z\"]]");
}

/* minor drops thousands separators with split() (a gsub() before). */
TEST(minor_gives_what_its_regular_expression_gave) {
    static const char same[] =
        "def old($cur): if . == null or . == \"\" then null"
        "  else (tostring | gsub(\",\"; \"\")) as $s"
        "     | currency_exponent($cur) as $e"
        "     | ($s | startswith(\"-\")) as $neg"
        "     | ($s | ltrimstr(\"-\") | split(\".\")) as $p"
        "     | (($p[1] // \"\") + (\"0\" * $e))[:$e] as $frac"
        "     | (($p[0] + $frac) | tonumber) as $v"
        "     | if $neg then -$v else $v end end;"
        "[.[] | . as $in | (\"USD\", \"JPY\", \"KWD\") as $c"
        " | [try (minor($c) | {v: .}) catch {e: .},"
        "    try (old($c) | {v: .}) catch {e: .}]"
        " | select(.[0] != .[1]) | [$in, $c]]";
    static const char inputs[] =
        "[\"1,299.00\", \"1,299\", \"199.90\", 199.9, \",\", \",,5\","
        " \"1,2,3.4,5\", \"-1,000.5\", \"0.001\", \"\", null, 0, \"abc\","
        " \"1,\\u00a0299\", \"12345678901234567890\", true]";
    CHECK_STR(eval(same, inputs), "[[]]");
    CHECK_STR(eval("[.[] | minor(\"USD\")]", "[\"1,299.00\", \"-1,000.5\"]"),
              "[[129900,-100050]]");
}
