/*
 * libFuzzer target: CSV files as `hub360 import` reads them, through the
 * very reader it uses (hub/csv.c): the header row, then every row into a
 * record. Every row advances; a record has one member per column.
 */
#include <stdint.h>
#include <stdlib.h>

#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data, *end = p + size;
    hub_strlist_t header = {0}, row = {0};
    size_t lines = 0;
    char err[512];
    if (hub_csv_row(&p, end, &header, &lines, err, sizeof err) == 0 &&
        hub_csv_header_check(&header, err, sizeof err) == 0) {
        while (p < end) {
            const char *before = p;
            size_t lines_before = lines;
            json_t *record = NULL;
            int rc = hub_csv_row(&p, end, &row, &lines, err, sizeof err);
            if (p <= before || (rc == 0 && lines <= lines_before))
                abort(); /* a row that reads nothing loops forever */
            if (rc == 0 &&
                hub_csv_record(&header, &row, &record, err, sizeof err) == 0 &&
                json_object_size(record) != header.n)
                abort();
            json_decref(record);
        }
    }
    hub_strlist_free(&header);
    hub_strlist_free(&row);
    return 0;
}
