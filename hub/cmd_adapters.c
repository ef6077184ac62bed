/*
 * hub360 adapters - run the configured sources: the webhook server and
 * every other adapter the sources ask for, until SIGINT or SIGTERM.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "cli.h"
#include "commands.h"
#include "errors.h"
#include "log.h"
#include "session.h"

void hub_adapters_role_stop(hub_adapters_role_t *r) {
    /* No new requests first; then the adapters finish what they hold. */
    hub_http_stop(r->http);
    hub_adapters_free(r->adapters);
    *r = (hub_adapters_role_t){0};
}

int hub_adapters_role_start(hub_cli_t *cli, hub_session_t *s,
                            hub_adapters_role_t *r) {
    const hub_config_t *cfg = cli->cfg;
    char err[1024];
    hub_http_config_t hc = {.listen = cfg->api.listen,
                            .body_limit = cfg->api.body_limit,
                            .threads = (int)cfg->api.threads};
    *r = (hub_adapters_role_t){
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
    if (hub_adapters_new(&r->env, &r->adapters, &r->count, err,
                         sizeof(err))) {
        rc = hub_cli_fail(cli, "%s", err);
        goto fail;
    }
    if (r->count && hub_adapters_need_http(r->adapters)) {
        if (hub_http_start(r->http, err, sizeof(err))) {
            rc = hub_cli_fail(cli, "%s", err);
            goto fail;
        }
        snprintf(r->addr, sizeof(r->addr), "%.*s:%d",
                 (int)(strrchr(cfg->api.listen, ':') - cfg->api.listen),
                 cfg->api.listen, hub_http_port(r->http));
    }
    if (r->count && hub_adapters_start(r->adapters, err, sizeof(err))) {
        rc = hub_cli_fail(cli, "%s", err);
        goto fail;
    }
    return 0;
fail:
    hub_adapters_role_stop(r);
    return rc;
}

static int run_adapters(hub_cli_t *cli) {
    int rc = hub_cli_config(cli);
    if (rc)
        return rc;
    const hub_config_t *cfg = cli->cfg;
    hub_session_t s;
    if ((rc = hub_session_open(cli, HUB_SESSION_TOPICS, &s)))
        return rc;
    hub_cli_handle_signals();
    hub_adapters_role_t role;
    if ((rc = hub_adapters_role_start(cli, &s, &role)))
        goto done;
    if (role.count == 0) {
        rc = hub_cli_usage_error(
            cli, "no source in %s takes webhooks (give one a "
                 "webhook.secret; polling and CDC are not run yet, see "
                 "adapters/README.md)",
            cfg->path ? cfg->path : "the configuration");
        goto done;
    }
    if (role.addr[0]) {
        printf("listening: %s\n", role.addr);
        hub_log_info("adapters", "webhooks at http://%s/ingest/{source}",
                     role.addr);
    }
    printf("adapters: %zu running\n", role.count);
    fflush(stdout);
    while (!hub_stop_requested) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    hub_log_info("adapters", "stopping");
done:
    hub_adapters_role_stop(&role);
    hub_session_close(&s);
    return rc;
}

const hub_cmd_t hub_cmd_adapters = {
    "adapters",
    NULL,
    "Run the configured sources: webhooks, polling, CDC.",
    "Starts every adapter the configuration's sources ask for: the HTTP\n"
    "server for webhooks (POST /ingest/{source}, on api.listen or\n"
    "--listen), pollers and CDC consumers. Prints \"listening: HOST:PORT\"\n"
    "first when it serves webhooks. Runs until SIGINT or SIGTERM, then\n"
    "stops taking requests and waits for Kafka to acknowledge what it\n"
    "accepted. Sources and mappings: adapters/README.md.",
    HUB_CLI_CONFIG | HUB_CLI_LISTEN,
    NULL,
    run_adapters,
};
