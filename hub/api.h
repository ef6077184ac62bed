/*
 * hub360 - the read API: customer-360 views, timelines and the change
 * feed over HTTP, the control requests (link, forget), the schema ids a
 * registry-aware client needs, and health.
 *
 * Routes (JSON; errors {"error": {"code", "message"}}):
 *   GET  /v1/customers/{id}                 the view (an alias: the merged
 *                                           customer, "resolved_from")
 *   GET  /v1/customers?email=|phone=|kind=&value=
 *   GET  /v1/customers?segment=&limit=&cursor=   paged, in id order
 *   GET  /v1/customers/{id}/timeline?limit=&before=
 *   GET  /v1/changes?since=&limit=
 *   POST /v1/identity/link                  admin; 202 {"event_id"}
 *   POST /v1/customers/{id}/forget          admin; 202 {"event_id"}
 *   GET  /schemas/ids/{id}                  {"schema": "<avsc>"}
 *   GET  /healthz, /readyz
 * Bearer tokens (api.tokens) with scopes read and admin; with none
 * configured the API only listens on loopback (hub_api_check_listen).
 * Every read is one short LMDB read transaction whose result is copied
 * before it ends, so a slow client never holds a reader.
 */
#ifndef HUB_API_H
#define HUB_API_H

#include <stddef.h>

#include "bus.h"
#include "catalog.h"
#include "config.h"
#include "http.h"

typedef struct hub_api hub_api_t;

typedef struct hub_api_env {
    const hub_config_t *cfg;
    hub_catalog_t *cat;         /* schemas, and encoding control events */
    hub_producer_t *producer;   /* control events; NULL: POSTs answer 503 */
    const char *store;          /* the customer-360 store's path */
} hub_api_env_t;

/*
 * Adds the API's routes to http (not started yet). env is copied; what it
 * points at is borrowed and must outlive the API. The store is opened
 * on the first request that needs it (the projector may create it
 * later); until then such requests answer 503.
 */
int hub_api_new(const hub_api_env_t *env, hub_http_t *http, hub_api_t **out,
                char *err, size_t errlen);
void hub_api_free(hub_api_t *a);

/* Replaces the bearer tokens with cfg's (SIGHUP). 0 or HUB_ENOMEM (the
 * old ones kept). */
int hub_api_set_tokens(hub_api_t *a, const hub_config_t *cfg);

/* HUB_ECONFIG with a message when listen is not a loopback address and
 * no api.tokens are configured: an API without tokens is for this
 * machine only. */
int hub_api_check_listen(const hub_config_t *cfg, const char *listen,
                         char *err, size_t errlen);

#endif
