/*
 * Unit tests: the CSV reader of `hub360 import` - rows as records, the
 * line each starts on, and the files it refuses with the line and
 * column at fault (open quotes, NUL bytes, bytes that are not UTF-8,
 * a column named twice, a row of the wrong width).
 */
#include <jansson.h>

#include "csv.h"
#include "errors.h"
#include "harness.h"

/* Every row of text[0..len) as "LINE:json" or "LINE:error CODE: msg",
 * one per line, the header checked first ("header error ..."). */
static const char *rows(const char *text, size_t len) {
    static char out[4096];
    size_t used = 0;
    hub_strlist_t header = {0}, row = {0};
    const char *p = text, *end = text + len;
    size_t lines = 0;
    char err[256];
    out[0] = '\0';
    int rc = hub_csv_row(&p, end, &header, &lines, err, sizeof err);
    if (rc == 0)
        rc = hub_csv_header_check(&header, err, sizeof err);
    if (rc) {
        snprintf(out, sizeof out, "header error %d: %s", rc, err);
        hub_strlist_free(&header);
        return out;
    }
    while (p < end && used < sizeof out) {
        size_t first = lines + 1;
        const char *before = p;
        json_t *rec = NULL;
        rc = hub_csv_row(&p, end, &row, &lines, err, sizeof err);
        CHECK(p > before);
        if (rc == 0)
            rc = hub_csv_record(&header, &row, &rec, err, sizeof err);
        char *s = rec ? json_dumps(rec, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
        if (s)
            used += (size_t)snprintf(out + used, sizeof out - used, "%zu:%s\n",
                                     first, s);
        else
            used += (size_t)snprintf(out + used, sizeof out - used,
                                     "%zu:error %d: %s\n", first, rc, err);
        free(s);
        json_decref(rec);
    }
    hub_strlist_free(&header);
    hub_strlist_free(&row);
    return out;
}

#define ROWS(lit) rows(lit, sizeof(lit) - 1)

TEST(quoting_and_lines) {
    CHECK_STR(ROWS("id,name\r\n1,\"Bob \"\"B\"\" N\"\r\n2,\"Chen, Wei\"\n"
                   "3,\"two\nlines\"\n4,x"),
              "2:{\"id\":\"1\",\"name\":\"Bob \\\"B\\\" N\"}\n"
              "3:{\"id\":\"2\",\"name\":\"Chen, Wei\"}\n"
              "4:{\"id\":\"3\",\"name\":\"two\\nlines\"}\n"
              "6:{\"id\":\"4\",\"name\":\"x\"}\n");
    /* a quote inside an unquoted value is a character like any other */
    CHECK_STR(ROWS("a\nx\"y\n"), "2:{\"a\":\"x\\\"y\"}\n");
}

TEST(refused_rows) {
    CHECK_STR(ROWS("a,b\n1\n1,2,3\n"),
              "2:error -1: 1 values for 2 columns\n"
              "3:error -1: 3 values for 2 columns\n");
    CHECK_STR(ROWS("a,b\n1,\"open\n2,3\n"),
              "2:error -7: a quoted value is never closed\n");
    /* a NUL byte costs its own line only */
    CHECK_STR(ROWS("a,b\n1,x\0y\n2,3\n"),
              "2:error -7: a NUL byte in value 2\n"
              "3:{\"a\":\"2\",\"b\":\"3\"}\n");
    CHECK_STR(ROWS("a,b\n1,ok\xff\n"),
              "2:error -1: column 2 (b): the value is not UTF-8 (byte 3)\n");
}

TEST(refused_headers) {
    CHECK_STR(ROWS("id,name,id\n1,2,3\n"),
              "header error -1: column 3: \"id\" names column 1 too");
    CHECK_STR(ROWS("id,n\xc3\n"),
              "header error -1: column 2: the name is not UTF-8 (byte 2)");
    CHECK_STR(ROWS("\"id\n"),
              "header error -7: a quoted value is never closed");
}
