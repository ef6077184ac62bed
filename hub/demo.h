/*
 * hub360 - `hub360 up --demo`: simulated source systems that speak the
 * vendors' own formats through the real adapters.
 *
 * A CRM (HubSpot: signed webhook batches, and the CRM v3 search API the
 * poller reads), an ERP (Shopify: signed order and customer webhooks;
 * Odoo: the JSON-2 search_read API) and an SCRM (WeChat: signed XML
 * pushes and user records; a social-listening mention feed with
 * sentiment). One fixed population of people whose identities overlap
 * across them (the same e-mail in HubSpot, Shopify and Odoo; a WeChat
 * follower's unionid bound to the phone Shopify knows, as a member
 * centre's phone authorisation would), so the projector merges them.
 */
#ifndef HUB_DEMO_H
#define HUB_DEMO_H

#include <stdio.h>

#include "config.h"

typedef struct hub_demo hub_demo_t;

typedef struct hub_demo_opts {
    double rate;     /* vendor deliveries per second, overall */
    unsigned people; /* the population */
} hub_demo_opts_t;

/*
 * Starts the fake vendor APIs (127.0.0.1, a free port) and adds the
 * demo's sources to cfg (borrowed; it must outlive the demo): hubspot
 * (crm: webhook + poll), shopify (erp: webhook), odoo (erp: poll), wechat
 * (scrm: webhook), mention (scrm: poll), with secrets of their own.
 * HUB_ECONFIG when cfg already has a source of one of those names.
 * The caller frees *out with hub_demo_free.
 */
int hub_demo_new(hub_config_t *cfg, const hub_demo_opts_t *o, hub_demo_t **out,
                 char *err, size_t errlen);
/* Starts the deliveries to the hub at hub_addr ("HOST:PORT", copied) and
 * the status line on stderr (once a second). */
int hub_demo_start(hub_demo_t *d, const char *hub_addr, char *err,
                   size_t errlen);
/* Prints what the demo runs and curl calls for a customer it merges. */
void hub_demo_intro(const hub_demo_t *d, FILE *out);
/* Stops the deliveries, the status line and the fake APIs; frees. NULL
 * is fine. */
void hub_demo_free(hub_demo_t *d);

#endif
