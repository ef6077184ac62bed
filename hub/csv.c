/*
 * hub360 - CSV rows and the records they become (see csv.h).
 */
#include "csv.h"

#include <string.h>

#include "buf.h"
#include "errors.h"
#include "json.h"

int hub_csv_row(const char **p, const char *end, hub_strlist_t *fields,
                size_t *lines, char *err, size_t errlen) {
    hub_strlist_free(fields);
    hub_buf_t field = HUB_BUF_INIT;
    const char *s = *p;
    int rc = 0;
    for (;;) {
        hub_buf_reset(&field);
        if (s < end && *s == '"') {
            for (s++;; s++) {
                if (s >= end) {
                    rc = hub_fail(err, errlen, HUB_EDECODE,
                                  "a quoted value is never closed");
                    goto out;
                }
                if (*s == '"') {
                    if (s + 1 < end && s[1] == '"') {
                        s++;
                    } else {
                        s++;
                        break;
                    }
                }
                if (*s == '\n')
                    (*lines)++;
                if (*s == '\0')
                    break; /* reported below */
                hub_buf_putc(&field, *s);
            }
        }
        while (s < end && *s != ',' && *s != '\n' && *s != '\r' && *s != '\0')
            hub_buf_putc(&field, *s++);
        if (s < end && *s == '\0') {
            rc = hub_fail(err, errlen, HUB_EDECODE,
                          "a NUL byte in value %zu", fields->n + 1);
            s = memchr(s, '\n', (size_t)(end - s));
            s = s ? s + 1 : end; /* the rest of the line goes with it */
            (*lines)++;
            goto out;
        }
        if (hub_strlist_push(fields, field.data ? field.data : "",
                             field.len)) {
            rc = hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
            goto out;
        }
        if (s < end && *s == ',') {
            s++;
            continue;
        }
        if (s < end && *s == '\r')
            s++;
        if (s < end && *s == '\n')
            s++;
        (*lines)++;
        break;
    }
out:
    hub_buf_free(&field);
    *p = s;
    return rc;
}

int hub_csv_header_check(const hub_strlist_t *header, char *err,
                         size_t errlen) {
    for (size_t i = 0; i < header->n; i++) {
        long bad = hub_utf8_invalid_at(header->v[i], strlen(header->v[i]));
        if (bad >= 0)
            return hub_fail(err, errlen, HUB_EINVAL,
                            "column %zu: the name is not UTF-8 (byte %ld)",
                            i + 1, bad + 1);
        for (size_t j = 0; j < i; j++)
            if (strcmp(header->v[i], header->v[j]) == 0)
                return hub_fail(err, errlen, HUB_EINVAL,
                                "column %zu: \"%s\" names column %zu too",
                                i + 1, header->v[i], j + 1);
    }
    return 0;
}

int hub_csv_record(const hub_strlist_t *header, const hub_strlist_t *row,
                   json_t **out, char *err, size_t errlen) {
    if (row->n != header->n)
        return hub_fail(err, errlen, HUB_EINVAL, "%zu values for %zu columns",
                        row->n, header->n);
    json_t *record = json_object();
    if (!record)
        return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
    for (size_t i = 0; i < row->n; i++) {
        long bad = hub_utf8_invalid_at(row->v[i], strlen(row->v[i]));
        if (bad >= 0) {
            json_decref(record);
            return hub_fail(err, errlen, HUB_EINVAL,
                            "column %zu (%s): the value is not UTF-8 (byte "
                            "%ld)",
                            i + 1, header->v[i], bad + 1);
        }
        json_t *v = json_string_nocheck(row->v[i]);
        if (!v) {
            json_decref(record);
            return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
        }
        if (json_object_set_new(record, header->v[i], v)) {
            json_decref(record);
            return hub_fail(err, errlen, HUB_ENOMEM, "out of memory");
        }
    }
    *out = record;
    return 0;
}
