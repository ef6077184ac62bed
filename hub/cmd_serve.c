/*
 * hub360 serve - the read API over the customer-360 store, until SIGINT
 * or SIGTERM.
 */
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "errors.h"
#include "log.h"
#include "session.h"

static int run_serve(hub_cli_t *cli) {
    int rc = hub_cli_config(cli);
    if (rc)
        return rc;
    /* Reads need no Kafka; link and forget do. Without a broker the API
     * still serves, and those answer 503. */
    hub_session_t s = {0};
    if (hub_session_open(cli, HUB_SESSION_PRODUCER | HUB_SESSION_QUIET, &s)) {
        hub_log_warn("serve", "no Kafka producer: link and forget will "
                              "answer 503 until hub360 serve is restarted "
                              "with a reachable broker");
        if ((rc = hub_session_open(cli, 0, &s)))
            return rc;
    }
    hub_cli_handle_signals();
    hub_roles_t roles;
    if ((rc = hub_roles_start(cli, &s, HUB_ROLE_API, &roles))) {
        hub_session_close(&s);
        return rc;
    }
    printf("listening: %s\n", roles.addr);
    fflush(stdout);
    hub_log_info("serve", "API at http://%s/v1/customers/{id}", roles.addr);
    hub_roles_serve(cli, &roles);
    hub_log_info("serve", "stopping");
    hub_roles_stop(&roles);
    hub_session_close(&s);
    return 0;
}

const hub_cmd_t hub_cmd_serve = {
    "serve",
    NULL,
    "Serve the read API: customer-360 views over HTTP.",
    "Serves GET /v1/customers/{id}, lookups by identity, paged listings,\n"
    "timelines, the change feed, link and forget requests, schema ids and\n"
    "health on api.listen (or --listen), reading the projector's store in\n"
    "the data directory. Prints \"listening: HOST:PORT\" first. Without\n"
    "api.tokens it only listens on loopback. Runs until SIGINT or SIGTERM.",
    HUB_CLI_CONFIG | HUB_CLI_LISTEN,
    NULL,
    run_serve,
};
