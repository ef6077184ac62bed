/*
 * hub360 - CSV (RFC 4180) as `hub360 import` reads it: a header row, then
 * one record per row, every value a string as the export wrote it.
 *
 * Quoted fields may hold commas, "" for a quote and line breaks; rows end
 * with LF or CRLF. A row becomes a JSON object keyed by the header's
 * names. Kept apart from the command so the libFuzzer target
 * (tests/fuzz/fuzz_csv.c) runs the very parser the import does.
 */
#ifndef HUB_CSV_H
#define HUB_CSV_H

#include <jansson.h>
#include <stddef.h>

#include "cfgmap.h"

/* Reads the row starting at *p (before end) into fields, which is reset
 * first; advances *p past it (always by at least one byte when *p < end)
 * and adds the lines it spans to *lines. 0; HUB_EDECODE with a message
 * for a quote left open or a NUL byte (no JSON string holds one), *p
 * then at the end of what was read; HUB_ENOMEM. */
int hub_csv_row(const char **p, const char *end, hub_strlist_t *fields,
                size_t *lines, char *err, size_t errlen);

/* 0 when header can name a record's members: valid UTF-8 and no name
 * twice. HUB_EINVAL with the column at fault otherwise. */
int hub_csv_header_check(const hub_strlist_t *header, char *err,
                         size_t errlen);

/* The record of row under a checked header, a new object of strings in
 * *out (the caller's). HUB_EINVAL with a message when the row has
 * another number of values than the header has columns or a value is
 * not UTF-8; HUB_ENOMEM. */
int hub_csv_record(const hub_strlist_t *header, const hub_strlist_t *row,
                   json_t **out, char *err, size_t errlen);

#endif
