/*
 * hub360 - what the reporting projection's files share (report.c folds,
 * report_read.c renders): the figures and the handle. Not a public header.
 */
#ifndef HUB_REPORT_INTERNAL_H
#define HUB_REPORT_INTERNAL_H

#include "hmap.h"
#include "report.h"
#include "tz.h"

/*
 * The stored figures. Their numbers are in the store's keys: append,
 * never renumber. AMOUNT figures are per currency (minor units); a mean
 * is stored as a sum and a count.
 */
enum {
    F_LEADS_CREATED, F_LEADS_CONVERTED,
    F_OPP_WON, F_OPP_WON_AMOUNT, F_OPP_LOST, F_OPP_LOST_AMOUNT,
    F_ORDERS, F_REVENUE, F_ORDERS_CANCELLED, F_RETURNS, F_REFUNDED,
    F_INVOICES, F_INVOICED, F_PAYMENTS, F_PAID,
    F_TICKETS_OPENED, F_TICKETS_RESOLVED, F_RESOLUTION_SUM, F_RESOLUTION_N,
    F_NPS_N, F_NPS_SUM, F_CSAT_N, F_CSAT_SUM,
    F_MENTIONS, F_SENTIMENT_SUM, F_SENTIMENT_N,
    F_MESSAGES_IN, F_MESSAGES_OUT, F_FOLLOWS, F_UNFOLLOWS,
    F_CUSTOMERS_NEW, F_CUSTOMERS_MERGED,
    F_COUNT,
};

/* Sentiment (-1..1) is summed in millionths: integer sums do not depend
 * on the order they are added in, floating-point ones do. */
#define SENTIMENT_SCALE 1000000

enum { T_DAYS, T_ENTS, T_CUST, T_RMETA };

struct hub_report {
    hub_store_t *store;
    MDB_dbi dbi[HUB_REPORT_TABLES];
    hub_tz_t *tz;        /* the business zone; NULL: UTC */
    char tz_name[128];
    hub_hmap_t *delta;   /* the batch's sums: day key -> int64 (in the slot) */
    /* the batch's writes to report_entities and report_customers, by key
     * (malloc'd blobs; length 0: delete), written at commit in key order */
    hub_hmap_t *ents, *custs;
};

static inline MDB_val hub_report_mval(const void *p, size_t n) {
    MDB_val v = {n, (void *)p};
    return v;
}

/* The key of a daily figure: zone, be32 day + 2^31, figure, currency. */
size_t hub_report_day_key(uint8_t *out, int zone, int32_t day, int figure,
                          const char *cur, size_t curlen);

#endif
