/*
 * hub360 adapters - run the configured sources: the webhook server, the
 * CDC consumers and every other adapter the sources ask for, until
 * SIGINT or SIGTERM.
 */
#include <stdio.h>
#include <string.h>

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
    hub_session_t s;
    if ((rc = hub_session_open(cli, HUB_SESSION_TOPICS, &s)))
        return rc;
    hub_cli_handle_signals();
    hub_roles_t role;
    if ((rc = hub_roles_start(cli, &s, HUB_ROLE_ADAPTERS, &role)))
        goto done;
    if (role.adapters_running == 0) {
        rc = hub_cli_usage_error(
            cli, "no source in %s takes webhooks, polls or reads CDC "
                 "topics (give one a webhook.secret, a poll.url or "
                 "cdc.topics; see adapters/README.md)",
            cfg->path ? cfg->path : "the configuration");
        goto done;
    }
    printf("listening: %s\n", role.addr);
    hub_log_info("adapters", "webhooks at http://%s/ingest/{source}, "
                             "metrics at /metrics",
                 role.addr);
    printf("adapters: %zu running\n", role.adapters_running);
    fflush(stdout);
    hub_roles_serve(cli, &role);
    hub_log_info("adapters", "stopping");
done:
    hub_roles_stop(&role);
    hub_session_close(&s);
    return rc;
}

const hub_cmd_t hub_cmd_adapters = {
    "adapters",
    NULL,
    "Run the configured sources: webhooks, polling, CDC.",
    "Starts every adapter the configuration's sources ask for: the HTTP\n"
    "server for webhooks (POST /ingest/{source}, on api.listen or\n"
    "--listen; /metrics and /healthz there too), pollers and CDC\n"
    "consumers. Prints \"listening: HOST:PORT\" first. Runs until SIGINT\n"
    "or SIGTERM, then stops taking requests and waits for Kafka to\n"
    "acknowledge what it accepted; CDC consumers finish their batch,\n"
    "commit it and leave their group. Sources and mappings:\n"
    "adapters/README.md.",
    HUB_CLI_CONFIG | HUB_CLI_LISTEN,
    NULL,
    run_adapters,
};
