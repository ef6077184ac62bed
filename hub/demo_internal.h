/*
 * hub360 - what demo.c (the simulated people and their deliveries) and
 * demo_vendor.c (the simulated vendors' REST APIs) share. Private to the
 * demo.
 */
#ifndef HUB_DEMO_INTERNAL_H
#define HUB_DEMO_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

/* The polled resources the fake vendors serve. */
enum {
    DEMO_FEED_HS_CONTACTS,   /* POST /crm/v3/objects/contacts/search */
    DEMO_FEED_ODOO_PARTNERS, /* POST /json/2/res.partner/search_read */
    DEMO_FEED_ODOO_ORDERS,   /* POST /json/2/sale.order/search_read */
    DEMO_FEED_MENTIONS,      /* GET /mentions */
    DEMO_FEED_N
};

/* One resource's current records, sorted by (at, id) as the vendor's
 * "modified since" queries sort them; a record replaced by a newer
 * version of the same id is gone, as in the vendor's database. */
typedef struct demo_feed {
    json_t **recs;
    int64_t *at; /* ms; Odoo's write_date has whole seconds */
    int64_t *id;
    size_t n, cap;
} demo_feed_t;

typedef struct demo_vendor {
    pthread_mutex_t mu;
    demo_feed_t feeds[DEMO_FEED_N];
    hub_http_t *http;
    int port;
} demo_vendor_t;

/* Starts the fake vendor APIs on 127.0.0.1 (a free port, in v->port). */
int demo_vendor_start(demo_vendor_t *v, char *err, size_t errlen);
/* Adds (or replaces, by id) a record; takes rec. */
void demo_vendor_put(demo_vendor_t *v, int feed, int64_t at_ms, int64_t id,
                     json_t *rec);
/* Stops the server and frees the records. Safe after a failed start. */
void demo_vendor_stop(demo_vendor_t *v);

#endif
