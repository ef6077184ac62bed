/*
 * hub360 broker - run only the embedded broker, for other processes.
 * hub360 up     - run the hub (for now: the embedded broker, with the
 *                 commands to publish and tail).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "cli.h"
#include "commands.h"
#include "log.h"

static const hub_cli_opt_t broker_opts[] = {
    {"partitions", 'p', "N",
     "partitions per topic (default: kafka.partitions)"},
    {0},
};

static int wait_for_signal(void) {
    hub_cli_handle_signals();
    while (!hub_stop_requested)
        pause();
    return 0;
}

static int start_broker(hub_cli_t *cli, hub_broker_t **b) {
    long partitions = hub_cli_long(cli, "partitions", cli->cfg->kafka.partitions);
    if (partitions < 0)
        return HUB_EXIT_USAGE;
    if (partitions == 0)
        return hub_cli_usage_error(cli, "--partitions must be at least 1");
    char err[1024];
    if (hub_broker_start(cli->cfg, 1, partitions, cli->cfg->data_dir, b, err,
                         sizeof err))
        return hub_cli_fail(cli, "%s", err);
    return 0;
}

static int run_broker(hub_cli_t *cli) {
    if (cli->nargs)
        return hub_cli_usage_error(cli, "unexpected argument %s",
                                   cli->args[0]);
    int rc = hub_cli_config(cli);
    if (rc)
        return rc;
    hub_broker_t *b = NULL;
    if ((rc = start_broker(cli, &b)))
        return rc;
    printf("bootstrap: %s\n", hub_broker_bootstrap(b));
    fflush(stdout);
    wait_for_signal();
    hub_log_info("broker", "stopping; the embedded broker's events are gone");
    hub_broker_stop(b);
    return HUB_EXIT_OK;
}

const hub_cmd_t hub_cmd_broker = {
    "broker",
    NULL,
    "Run only the embedded Kafka broker (librdkafka's mock cluster).",
    "Creates the hub's topics and prints \"bootstrap: HOST:PORT\" as the\n"
    "first line of standard output, then serves until Ctrl-C or SIGTERM.\n"
    "Other hub360 commands on the same data dir find it by themselves;\n"
    "kcat and any Kafka client can connect to the printed address. It keeps\n"
    "about 5 MB per partition in memory and nothing across restarts: for\n"
    "trying hub360, tests and benchmarks, not for production.",
    HUB_CLI_CONFIG,
    broker_opts,
    run_broker,
};

static int run_up(hub_cli_t *cli) {
    if (cli->nargs)
        return hub_cli_usage_error(cli, "unexpected argument %s",
                                   cli->args[0]);
    int rc = hub_cli_config(cli);
    if (rc)
        return rc;
    if (!hub_config_embedded(cli->cfg)) {
        return hub_cli_fail(cli, "only the embedded broker is supported by "
                                 "`up` in this version; run `hub360 publish` "
                                 "and `hub360 tail` against %s directly",
                            cli->cfg->kafka.brokers);
    }
    hub_broker_t *b = NULL;
    if ((rc = start_broker(cli, &b)))
        return rc;
    const char *me = hub_cli_program;
    printf("hub360 is up: embedded broker at %s (data dir %s)\n\n"
           "In another terminal, in this directory, publish the example "
           "events:\n"
           "  cat schemas/examples/*.json | %s publish\n"
           "and watch them arrive, decoded:\n"
           "  %s tail --from-beginning\n"
           "Ctrl-C stops hub360; the embedded broker keeps nothing.\n",
           hub_broker_bootstrap(b), cli->cfg->data_dir, me, me);
    fflush(stdout);
    wait_for_signal();
    hub_broker_stop(b);
    return HUB_EXIT_OK;
}

const hub_cmd_t hub_cmd_up = {
    "up",
    NULL,
    "Run hub360 with every role in one process.",
    "With kafka.brokers: embedded (the default) starts the embedded broker\n"
    "and prints how to publish and tail events.",
    HUB_CLI_CONFIG | HUB_CLI_LISTEN,
    NULL,
    run_up,
};
