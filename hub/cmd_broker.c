/*
 * hub360 broker - run only the embedded broker, for other processes.
 * hub360 up     - run the hub: the embedded broker (unless kafka.brokers
 *                 names a cluster) and the customer-360 projector.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "projector.h"
#include "cli.h"
#include "commands.h"
#include "demo.h"
#include "log.h"
#include "store.h"

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
    if (partitions < 1 || partitions > 10000) /* kafka.partitions' range */
        return hub_cli_usage_error(cli, "--partitions: expected 1 to 10000, "
                                        "got %ld", partitions);
    char err[1024];
    if (hub_broker_start(cli->cfg, 1, partitions, cli->cfg->data_dir, b, err,
                         sizeof err))
        return hub_cli_fail(cli, "%s", err);
    return 0;
}

static int run_broker(hub_cli_t *cli) {
    if (cli->brokers)
        return hub_cli_usage_error(cli, "--brokers names a Kafka to use; "
                                        "broker starts the embedded one "
                                        "(point the other commands at a "
                                        "cluster with --brokers instead)");
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
    "Other hub360 commands on the same data dir find it by themselves, and\n"
    "a second broker on that data dir is refused; kcat and any Kafka\n"
    "client can connect to the printed address. It keeps\n"
    "about 5 MB per partition in memory and nothing across restarts: for\n"
    "trying hub360, tests and benchmarks, not for production.",
    HUB_CLI_CONFIG,
    broker_opts,
    run_broker,
};

static const hub_cli_opt_t up_opts[] = {
    {"demo", 0, NULL,
     "also run simulated CRM, ERP and SCRM systems (below)"},
    {"demo-rate", 0, "N",
     "with --demo: about N vendor deliveries a second (default 30)"},
    {"demo-people", 0, "N", "with --demo: the population (default 300)"},
    {0},
};

static int run_up(hub_cli_t *cli) {
    int rc = hub_cli_config(cli);
    if (rc)
        return rc;
    const hub_config_t *cfg = cli->cfg;
    hub_broker_t *b = NULL;
    hub_demo_t *demo = NULL;
    char err[1024], store[PATH_MAX], *bootstrap = NULL;
    long rate = hub_cli_long(cli, "demo-rate", 30),
         people = hub_cli_long(cli, "demo-people", 300);
    if (rate < 0 || people < 0)
        return HUB_EXIT_USAGE;
    if (!hub_cli_has(cli, "demo") &&
        (hub_cli_has(cli, "demo-rate") || hub_cli_has(cli, "demo-people")))
        return hub_cli_usage_error(cli, "--demo-rate and --demo-people go "
                                        "with --demo");
    if (rate == 0 || rate > 10000 || people == 0 || people > 1000000)
        return hub_cli_usage_error(cli, "--demo-rate must be 1 to 10000 and "
                                        "--demo-people 1 to 1000000");
    /* Before anything starts: the demo's sources join the configured
     * ones, so the adapters below run them like any other. */
    if (hub_cli_has(cli, "demo")) {
        hub_demo_opts_t o = {.rate = (double)rate, .people = (unsigned)people};
        if (hub_demo_new(cli->cfg, &o, &demo, err, sizeof err))
            return hub_cli_fail(cli, "%s", err);
        /* Without a configuration file, warnings only: every poll's
         * summary would bury the status line. */
        if (!cfg->path)
            hub_log_setup(HUB_LOG_WARN, 0);
    }
    if (hub_config_embedded(cfg)) {
        if ((rc = start_broker(cli, &b))) {
            hub_demo_free(demo);
            return rc;
        }
        bootstrap = strdup(hub_broker_bootstrap(b));
    } else if (hub_broker_resolve(cfg, &bootstrap, err, sizeof err)) {
        hub_demo_free(demo);
        return hub_cli_fail(cli, "%s", err);
    }
    if (!bootstrap) {
        hub_demo_free(demo);
        hub_broker_stop(b);
        return hub_cli_fail(cli, "out of memory");
    }
    /* The API reads the store its projector writes, through the
     * projector's environment (one per process): it never opens the
     * store first, in the way of the projector. */
    hub_store_readers_share(1);
    /* The adapters of the configured sources, webhooks first. */
    hub_session_t s = {0};
    hub_roles_t role = {0};
    if ((rc = hub_session_open(cli, HUB_SESSION_TOPICS, &s)) ||
        (rc = hub_roles_start(cli, &s, HUB_ROLE_ADAPTERS | HUB_ROLE_API,
                              &role))) {
        hub_session_close(&s);
        free(bootstrap);
        hub_demo_free(demo);
        hub_broker_stop(b);
        return rc;
    }
    if (demo && hub_demo_start(demo, role.addr, err, sizeof err)) {
        hub_demo_free(demo);
        hub_roles_stop(&role);
        hub_session_close(&s);
        free(bootstrap);
        hub_broker_stop(b);
        return hub_cli_fail(cli, "%s", err);
    }
    /* the commands it suggests find this hub as up was told to */
    const char *me = hub_cli_program;
    char as[3 * PATH_MAX] = "";
    int n = 0;
    if (cli->config_path)
        n += snprintf(as + n, sizeof as - (size_t)n, " -c '%s'",
                      cli->config_path);
    if (cli->data && n < (int)sizeof as)
        n += snprintf(as + n, sizeof as - (size_t)n, " --data '%s'",
                      cli->data);
    if (cli->brokers && n < (int)sizeof as)
        snprintf(as + n, sizeof as - (size_t)n, " --brokers '%s'",
                 cli->brokers);
    printf("api: http://%s/v1/customers/{id}\n", role.addr);
    if (role.adapters_running)
        printf("webhooks: http://%s/ingest/{source} (%zu source adapters "
               "running)\n",
               role.addr, role.adapters_running);
    printf("hub360 is up: %s %s, data in %s\n\n",
           b ? "embedded broker at" : "Kafka at", bootstrap, cfg->data_dir);
    if (!demo)
        printf("In another terminal, in the hub360 source directory, "
               "publish the example events:\n"
               "  cat schemas/examples/*.json | %s publish%s\n"
               "watch them arrive, decoded:\n"
               "  %s tail%s --from-beginning\n"
               "and read the customers they make:\n"
               "  %s export%s\n"
               "  %s get%s email:ann.li@example.com\n",
               me, as, me, as, me, as, me, as);
    printf("Ctrl-C stops hub360%s.\n",
           b ? "; the embedded broker keeps nothing" : "");
    if (demo)
        hub_demo_intro(demo, stdout);
    fflush(stdout);
    hub_cli_handle_signals();
    hub_projector_store_path(cfg, store, sizeof store);
    hub_projector_opts_t o = {
        .store = store,
        .bootstrap = bootstrap,
        .group = 1,
        .changelog = 1,
        .label = "project",
    };
    hub_projector_stats_t st;
    rc = hub_projector_run(cfg, &o, &st, err, sizeof err);
    hub_demo_free(demo); /* deliveries stop before the hub does */
    hub_roles_stop(&role);
    hub_session_close(&s);
    free(bootstrap);
    if (b)
        hub_broker_stop(b);
    if (rc)
        return hub_cli_fail(cli, "%s", err);
    return HUB_EXIT_OK;
}

const hub_cmd_t hub_cmd_up = {
    "up",
    NULL,
    "Run hub360 with every role in one process.",
    "Runs the customer-360 projector (as `hub360 project` does), the read\n"
    "API (as `hub360 serve` does) and the adapters of the configured\n"
    "sources (as `hub360 adapters` does), both on api.listen or --listen\n"
    "(default 127.0.0.1:8360), and, with kafka.brokers: embedded (the\n"
    "default), the embedded broker they use, in this process; prints how\n"
    "to publish events and read the customers. Runs until Ctrl-C or\n"
    "SIGTERM.\n\n"
    "--demo adds simulated vendors whose people overlap (adapters/README.md,\n"
    "\"The demo\"): HubSpot webhooks and CRM search API (crm), Shopify\n"
    "webhooks and Odoo's JSON-2 API (erp), WeChat pushes and a mention feed\n"
    "(scrm), fed through the real adapters as the sources hubspot, shopify,\n"
    "odoo, wechat and mention. Once a second a line on stderr shows the\n"
    "events per second of each kind of system, customers, merges (aliases)\n"
    "and the projector's lag; the start message prints curl calls for a\n"
    "customer merged across all three.",
    HUB_CLI_CONFIG | HUB_CLI_LISTEN,
    up_opts,
    run_up,
};
