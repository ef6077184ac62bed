/*
 * hub360 - the roles that serve HTTP (adapters, the read API) on one
 * server, started the same way by `adapters`, `serve` and `up`.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "errors.h"
#include "log.h"
#include "metrics.h"
#include "projector.h"

static void get_health(void *opaque, const hub_http_req_t *req,
                       hub_http_resp_t *resp) {
    (void)opaque, (void)req;
    resp->status = 200;
    hub_buf_puts(&resp->body, "{\"status\":\"ok\"}");
}

static void get_metrics(void *opaque, const hub_http_req_t *req,
                        hub_http_resp_t *resp) {
    (void)opaque, (void)req;
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4";
    if (hub_metrics_render(&resp->body))
        hub_http_error(resp, 500, "internal", "out of memory");
}

void hub_roles_stop(hub_roles_t *r) {
    /* No new requests first; then the adapters finish what they hold. */
    hub_http_stop(r->http);
    hub_adapters_free(r->adapters);
    hub_api_free(r->api);
    *r = (hub_roles_t){0};
}

int hub_roles_start(hub_cli_t *cli, hub_session_t *s, int flags,
                    hub_roles_t *r) {
    const hub_config_t *cfg = cli->cfg;
    char err[1024], store[4096];
    hub_http_config_t hc = {.listen = cfg->api.listen,
                            .body_limit = cfg->api.body_limit,
                            .max_connections = (int)cfg->api.max_connections};
    *r = (hub_roles_t){
        .env = {.cfg = cfg,
                .cat = s->cat,
                .producer = s->producer,
                .bootstrap = s->bootstrap},
    };
    int rc = 0;
    if (hub_http_new(&hc, &r->http, err, sizeof(err))) {
        rc = hub_cli_usage_error(cli, "%s", err);
        goto fail;
    }
    r->env.http = r->http;
    if (hub_http_route(r->http, "GET", "/metrics", get_metrics, NULL) ||
        hub_http_route(r->http, "GET", "/healthz", get_health, NULL)) {
        rc = hub_cli_fail(cli, "out of memory");
        goto fail;
    }
    if ((flags & HUB_ROLE_ADAPTERS) &&
        hub_adapters_new(&r->env, &r->adapters, &r->adapters_running, err,
                         sizeof(err))) {
        rc = hub_cli_fail(cli, "%s", err);
        goto fail;
    }
    if (flags & HUB_ROLE_API) {
        hub_projector_store_path(cfg, store, sizeof(store));
        hub_api_env_t ae = {.cfg = cfg,
                            .cat = s->cat,
                            .producer = s->producer,
                            .store = store};
        if (hub_api_check_listen(cfg, cfg->api.listen, err, sizeof(err))) {
            rc = hub_cli_usage_error(cli, "%s", err);
            goto fail;
        }
        if (hub_api_new(&ae, r->http, &r->api, err, sizeof(err))) {
            rc = hub_cli_fail(cli, "%s", err);
            goto fail;
        }
        if (cfg->api.tokens.n == 0)
            hub_log_info("api", "no api.tokens configured: the API answers "
                                "this machine only (%s)",
                         cfg->api.listen);
    }
    /* Any role serves /metrics and /healthz, webhooks or not. */
    if (r->api || r->adapters_running || (flags & HUB_ROLE_METRICS)) {
        if (hub_http_start(r->http, err, sizeof(err))) {
            rc = hub_cli_fail(cli, "%s", err);
            goto fail;
        }
        snprintf(r->addr, sizeof(r->addr), "%.*s:%d",
                 (int)(strrchr(cfg->api.listen, ':') - cfg->api.listen),
                 cfg->api.listen, hub_http_port(r->http));
    }
    if (r->adapters_running &&
        hub_adapters_start(r->adapters, err, sizeof(err))) {
        rc = hub_cli_fail(cli, "%s", err);
        goto fail;
    }
    return 0;
fail:
    hub_roles_stop(r);
    return rc;
}

void hub_roles_reload(hub_cli_t *cli, hub_roles_t *r) {
    char err[1024];
    hub_config_t *cfg = NULL;
    if (hub_config_load(cli->config_path, &cfg, err, sizeof(err))) {
        hub_log_error("reload", "SIGHUP: %s; keeping the configuration in "
                                "use",
                      err);
        return;
    }
    if (r->api && cfg->api.tokens.n == 0 &&
        hub_api_check_listen(cfg, cli->cfg->api.listen, err, sizeof(err))) {
        hub_log_error("reload", "SIGHUP: %s; keeping the configuration in "
                                "use",
                      err);
        hub_config_free(cfg);
        return;
    }
    if (r->api && hub_api_set_tokens(r->api, cfg)) {
        hub_log_error("reload", "SIGHUP: out of memory; keeping the "
                                "configuration in use");
        hub_config_free(cfg);
        return;
    }
    hub_log_level level = HUB_LOG_INFO;
    hub_log_level_parse(cfg->log.level, &level);
    hub_log_setup(level, strcmp(cfg->log.format, "json") == 0);
    hub_log_info("reload", "SIGHUP: %s re-read: %zu API tokens, log level "
                           "%s (other settings take a restart)",
                 cfg->path ? cfg->path : "(defaults)", cfg->api.tokens.n,
                 cfg->log.level);
    hub_config_free(cfg);
}

void hub_roles_serve(hub_cli_t *cli, hub_roles_t *r) {
    /* The handlers only set flags (any thread may take a signal), so
     * this looks at them ten times a second. */
    while (!hub_stop_requested) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (hub_reload_requested) {
            hub_reload_requested = 0;
            hub_roles_reload(cli, r);
        }
    }
}
