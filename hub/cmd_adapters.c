/*
 * hub360 adapters - run the configured sources: the webhook server, the
 * CDC consumers and every other adapter the sources ask for, until
 * SIGINT or SIGTERM.
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

static int run_adapters(hub_cli_t *cli) {
    int rc = hub_cli_config(cli);
    if (rc)
        return rc;
    const hub_config_t *cfg = cli->cfg;
    char err[1024];
    hub_session_t s;
    if ((rc = hub_session_open(cli, HUB_SESSION_TOPICS, &s)))
        return rc;
    hub_http_t *http = NULL;
    hub_adapters_t *ad = NULL;
    hub_http_config_t hc = {.listen = cfg->api.listen,
                            .body_limit = cfg->api.body_limit,
                            .threads = (int)cfg->api.threads};
    hub_adapter_env_t env = {.cfg = cfg,
                             .cat = s.cat,
                             .producer = s.producer,
                             .bootstrap = s.bootstrap};
    size_t any = 0;
    if (hub_http_new(&hc, &http, err, sizeof(err))) {
        rc = hub_cli_usage_error(cli, "%s", err);
        goto done;
    }
    env.http = http;
    if (hub_adapters_new(&env, &ad, &any, err, sizeof(err))) {
        rc = hub_cli_fail(cli, "%s", err);
        goto done;
    }
    if (any == 0) {
        rc = hub_cli_usage_error(
            cli, "no source in %s takes webhooks or reads CDC topics "
                 "(give one a webhook.secret or cdc.topics; polling is not "
                 "run yet, see adapters/README.md)",
            cfg->path ? cfg->path : "the configuration");
        goto done;
    }
    if (hub_adapters_need_http(ad)) {
        if (hub_http_start(http, err, sizeof(err))) {
            rc = hub_cli_fail(cli, "%s", err);
            goto done;
        }
        char addr[300];
        snprintf(addr, sizeof(addr), "%.*s:%d",
                 (int)(strrchr(cfg->api.listen, ':') - cfg->api.listen),
                 cfg->api.listen, hub_http_port(http));
        printf("listening: %s\n", addr);
        hub_log_info("adapters", "webhooks at http://%s/ingest/{source}",
                     addr);
    }
    hub_cli_handle_signals();
    if (hub_adapters_start(ad, err, sizeof(err))) {
        rc = hub_cli_fail(cli, "%s", err);
        goto done;
    }
    printf("adapters: %zu running\n", any);
    fflush(stdout);
    while (!hub_stop_requested) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    hub_log_info("adapters", "stopping");
done:
    /* No new requests first; then the adapters finish what they hold. */
    hub_http_stop(http);
    hub_adapters_free(ad);
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
    "accepted; CDC consumers finish their batch, commit it and leave\n"
    "their group. Sources and mappings: adapters/README.md.",
    HUB_CLI_CONFIG | HUB_CLI_LISTEN,
    NULL,
    run_adapters,
};
