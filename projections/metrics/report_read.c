/*
 * hub360 - reading the daily report: a range of days out of
 * report_days, in one read transaction, rendered as JSON or as CSV with
 * the same columns (projections/README.md lists them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "report_internal.h"

int hub_report_range(const char *from, const char *to, const char *from_name,
                     const char *to_name, int32_t *dfrom, int32_t *dto,
                     char *err, size_t errlen) {
    if (!from)
        return hub_fail(err, errlen, HUB_EINVAL, "%s: missing (YYYY-MM-DD)",
                        from_name);
    if (!to)
        return hub_fail(err, errlen, HUB_EINVAL, "%s: missing (YYYY-MM-DD)",
                        to_name);
    if (hub_day_parse(from, dfrom))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "%s: expected a date YYYY-MM-DD from 1970 on, got "
                        "\"%.40s\"", from_name, from);
    if (hub_day_parse(to, dto))
        return hub_fail(err, errlen, HUB_EINVAL,
                        "%s: expected a date YYYY-MM-DD from 1970 on, got "
                        "\"%.40s\"", to_name, to);
    if (*dto < *dfrom)
        return hub_fail(err, errlen, HUB_EINVAL, "%s %s is before %s %s",
                        to_name, to, from_name, from);
    if (*dto - *dfrom >= HUB_REPORT_MAX_DAYS)
        return hub_fail(err, errlen, HUB_EINVAL,
                        "%s..%s spans %ld days; at most %d in one report",
                        from_name, to_name, (long)(*dto - *dfrom) + 1,
                        HUB_REPORT_MAX_DAYS);
    return 0;
}

/* A per-currency sum of one day (the key order: figure, currency). */
typedef struct money {
    int32_t day;     /* index in the range */
    uint8_t figure;
    char cur[17];
    int64_t v;
} money;

typedef struct days {
    int32_t from, n;
    int64_t (*f)[F_COUNT];
    money *m;
    size_t nm, capm;
} days;

static int load(hub_report_t *r, int zone, days *d) {
    MDB_txn *txn;
    int rc = mdb_txn_begin(hub_store_env(r->store), NULL, MDB_RDONLY, &txn);
    if (rc)
        return hub_store_err(rc);
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, r->dbi[T_DAYS], &cur))) {
        mdb_txn_abort(txn);
        return hub_store_err(rc);
    }
    uint8_t start[32];
    size_t sl = hub_report_day_key(start, zone, d->from, 0, NULL, 0);
    MDB_val k = hub_report_mval(start, sl), v;
    int g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    rc = 0;
    for (; g == 0 && !rc; g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *p = k.mv_data;
        if (k.mv_size < 6 || p[0] != zone || v.mv_size != 8)
            break;
        uint32_t u = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 8 | p[4];
        int64_t i = (int64_t)(int32_t)(u ^ 0x80000000u) - d->from;
        if (i >= d->n)
            break;
        int64_t val = (int64_t)hub_rd_be64(v.mv_data);
        if (p[5] >= F_COUNT)
            continue; /* a figure of a newer hub360 */
        if (k.mv_size == 6) {
            d->f[i][p[5]] = val;
            continue;
        }
        if (hub_array_grow(&d->m, &d->capm, d->nm, sizeof *d->m, 64)) {
            rc = HUB_ENOMEM;
            break;
        }
        money *m = &d->m[d->nm++];
        m->day = (int32_t)i;
        m->figure = p[5];
        snprintf(m->cur, sizeof m->cur, "%.*s", (int)(k.mv_size - 6),
                 (const char *)p + 6);
        m->v = val;
    }
    if (!rc && g && g != MDB_NOTFOUND)
        rc = hub_store_err(g);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */
/* ------------------------------------------------------------------ */

enum { C_COUNT, C_MONEY, C_MEAN, C_MEAN_MS };

/* The columns, in order: name, kind, figure (the sum for a mean), and
 * for a mean the count and the scale its sum is in. */
typedef struct column {
    const char *name;
    int kind, figure, count;
    double scale;
} column;

static const column columns[] = {
    {"leads_created", C_COUNT, F_LEADS_CREATED, 0, 0},
    {"leads_converted", C_COUNT, F_LEADS_CONVERTED, 0, 0},
    {"opportunities_won", C_COUNT, F_OPP_WON, 0, 0},
    {"won_amount", C_MONEY, F_OPP_WON_AMOUNT, 0, 0},
    {"opportunities_lost", C_COUNT, F_OPP_LOST, 0, 0},
    {"lost_amount", C_MONEY, F_OPP_LOST_AMOUNT, 0, 0},
    {"orders", C_COUNT, F_ORDERS, 0, 0},
    {"revenue", C_MONEY, F_REVENUE, 0, 0},
    {"orders_cancelled", C_COUNT, F_ORDERS_CANCELLED, 0, 0},
    {"returns", C_COUNT, F_RETURNS, 0, 0},
    {"refunded", C_MONEY, F_REFUNDED, 0, 0},
    {"invoices", C_COUNT, F_INVOICES, 0, 0},
    {"invoiced", C_MONEY, F_INVOICED, 0, 0},
    {"payments", C_COUNT, F_PAYMENTS, 0, 0},
    {"paid", C_MONEY, F_PAID, 0, 0},
    {"tickets_opened", C_COUNT, F_TICKETS_OPENED, 0, 0},
    {"tickets_resolved", C_COUNT, F_TICKETS_RESOLVED, 0, 0},
    {"resolution_ms_mean", C_MEAN_MS, F_RESOLUTION_SUM, F_RESOLUTION_N, 1},
    {"nps_responses", C_COUNT, F_NPS_N, 0, 0},
    {"nps_mean", C_MEAN, F_NPS_SUM, F_NPS_N, 1},
    {"csat_responses", C_COUNT, F_CSAT_N, 0, 0},
    {"csat_mean", C_MEAN, F_CSAT_SUM, F_CSAT_N, 1},
    {"mentions", C_COUNT, F_MENTIONS, 0, 0},
    {"sentiment_mean", C_MEAN, F_SENTIMENT_SUM, F_SENTIMENT_N,
     SENTIMENT_SCALE},
    {"messages_in", C_COUNT, F_MESSAGES_IN, 0, 0},
    {"messages_out", C_COUNT, F_MESSAGES_OUT, 0, 0},
    {"follows", C_COUNT, F_FOLLOWS, 0, 0},
    {"unfollows", C_COUNT, F_UNFOLLOWS, 0, 0},
    {"customers_new", C_COUNT, F_CUSTOMERS_NEW, 0, 0},
    {"customers_merged", C_COUNT, F_CUSTOMERS_MERGED, 0, 0},
};
#define NCOLUMNS (sizeof columns / sizeof columns[0])

/* A mean with at most 4 decimals, trailing zeros dropped. */
static void put_mean(hub_buf_t *b, int64_t sum, int64_t n, double scale) {
    char s[64];
    snprintf(s, sizeof s, "%.4f", (double)sum / scale / (double)n);
    size_t l = strlen(s);
    while (l && s[l - 1] == '0')
        l--;
    if (l && s[l - 1] == '.')
        l--;
    if (l == 2 && s[0] == '-' && s[1] == '0') /* -0 */
        s[0] = '0', l = 1;
    hub_buf_append(b, s, l);
}

/* Quotes the CSV cell that starts at b->data + at (RFC 4180). */
static void csv_quote(hub_buf_t *b, size_t at) {
    size_t len = b->len - at;
    char *cell = malloc(len ? len : 1);
    if (!cell)
        return;
    memcpy(cell, b->data + at, len);
    b->len = at;
    hub_buf_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        if (cell[i] == '"')
            hub_buf_putc(b, '"');
        hub_buf_putc(b, cell[i]);
    }
    hub_buf_putc(b, '"');
    free(cell);
}

static void put_cell(hub_buf_t *b, const days *d, size_t *mi, int32_t i,
                     const column *c, int csv) {
    const int64_t *f = d->f[i];
    switch (c->kind) {
    case C_COUNT:
        hub_buf_printf(b, "%lld", (long long)f[c->figure]);
        break;
    case C_MEAN:
    case C_MEAN_MS:
        if (f[c->count] <= 0) {
            if (!csv)
                hub_buf_puts(b, "null");
        } else if (c->kind == C_MEAN_MS) {
            int64_t n = f[c->count], s = f[c->figure];
            hub_buf_printf(b, "%lld", (long long)((s + n / 2) / n));
        } else {
            put_mean(b, f[c->figure], f[c->count], c->scale);
        }
        break;
    case C_MONEY: {
        /* this day's sums of the figure, in currency order (*mi walks
         * the day's entries, which come in figure order) */
        size_t n = 0;
        if (!csv)
            hub_buf_putc(b, '[');
        size_t at = b->len;
        int quote = 0;
        for (size_t j = *mi; j < d->nm && d->m[j].day == i; j++) {
            const money *m = &d->m[j];
            if (m->figure != c->figure)
                continue;
            if (csv) {
                quote |= strpbrk(m->cur, ",\"\r\n") != NULL;
                hub_buf_printf(b, "%s%s:%lld", n ? ";" : "", m->cur,
                               (long long)m->v);
            } else {
                hub_buf_puts(b, n ? ",{\"currency\":" : "{\"currency\":");
                hub_json_put_str(b, m->cur, strlen(m->cur));
                hub_buf_printf(b, ",\"amount\":%lld}", (long long)m->v);
            }
            n++;
        }
        if (!csv)
            hub_buf_putc(b, ']');
        else if (quote)
            csv_quote(b, at);
        break;
    }
    }
}

static void render(const days *d, int zone, const char *tz, int csv,
                   hub_buf_t *b) {
    char day[11];
    if (csv) {
        hub_buf_puts(b, "date");
        for (size_t c = 0; c < NCOLUMNS; c++)
            hub_buf_printf(b, ",%s", columns[c].name);
        hub_buf_puts(b, "\r\n");
    } else {
        hub_buf_puts(b, "{\"time_zone\":");
        hub_json_put_str(b, tz, strlen(tz));
        hub_day_format(d->from, day);
        hub_buf_printf(b, ",\"from\":\"%s\"", day);
        hub_day_format(d->from + d->n - 1, day);
        hub_buf_printf(b, ",\"to\":\"%s\",\"days\":[", day);
    }
    size_t mi = 0;
    for (int32_t i = 0; i < d->n; i++) {
        while (mi < d->nm && d->m[mi].day < i)
            mi++;
        hub_day_format(d->from + i, day);
        if (csv)
            hub_buf_puts(b, day);
        else
            hub_buf_printf(b, "%s{\"date\":\"%s\"", i ? "," : "", day);
        for (size_t c = 0; c < NCOLUMNS; c++) {
            if (csv)
                hub_buf_putc(b, ',');
            else
                hub_buf_printf(b, ",\"%s\":", columns[c].name);
            put_cell(b, d, &mi, i, &columns[c], csv);
        }
        hub_buf_puts(b, csv ? "\r\n" : "}");
    }
    if (!csv)
        hub_buf_puts(b, "]}");
    (void)zone;
}

int hub_report_daily(hub_report_t *r, int zone, int32_t dfrom, int32_t dto,
                     int format, hub_buf_t *out) {
    if (dto < dfrom || dto - dfrom >= HUB_REPORT_MAX_DAYS)
        return HUB_EINVAL;
    days d = {.from = dfrom, .n = dto - dfrom + 1};
    if (!(d.f = calloc((size_t)d.n, sizeof *d.f)))
        return HUB_ENOMEM;
    int rc = load(r, zone, &d);
    if (!rc) {
        size_t before = out->len;
        render(&d, zone, zone == HUB_REPORT_UTC ? "UTC" : r->tz_name,
               format == HUB_REPORT_CSV, out);
        if (out->len == before || !out->data)
            rc = HUB_ENOMEM;
    }
    free(d.f);
    free(d.m);
    return rc;
}
