/*
 * hub360 project - fold the event topics into the customer-360 store.
 * hub360 rebuild - replay the topics into a new store and swap it in.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "cli.h"
#include "session.h"
#include "commands.h"
#include "errors.h"
#include "log.h"
#include "projector.h"
#include "store.h"

static const hub_cli_opt_t project_opts[] = {
    {"once", 'o', NULL,
     "stop once caught up with the end offsets seen at start (batch jobs, "
     "tests, benchmarks)"},
    {"no-changelog", 0, NULL,
     "do not publish changed customers to the changelog topic"},
    {"progress", 'p', NULL, "print a progress line every second"},
    {0},
};

static void report(const hub_projector_stats_t *s) {
    fprintf(stderr,
            "%llu events in %.2f s: %llu applied, %llu duplicates, %llu "
            "ignored, %llu dead-lettered; %llu views written, %llu removed, "
            "%llu changelog records\n",
            (unsigned long long)s->events, s->seconds,
            (unsigned long long)s->applied, (unsigned long long)s->duplicates,
            (unsigned long long)s->ignored, (unsigned long long)s->dead,
            (unsigned long long)s->views_written,
            (unsigned long long)s->views_deleted,
            (unsigned long long)s->changelog_published);
}

/* Runs the projector; with --listen, beside /metrics and /healthz for
 * the orchestrator. Returns 0, a negative hub error (message in err), or
 * a positive exit code when it could not listen (already printed). */
static int run_projector(hub_cli_t *cli, const hub_projector_opts_t *o,
                         hub_projector_stats_t *st, char *err,
                         size_t errlen) {
    hub_session_t s = {0};
    hub_roles_t roles = {0};
    int rc = 0;
    if (cli->listen && ((rc = hub_session_open(cli, 0, &s)) ||
                        (rc = hub_roles_start(cli, &s, HUB_ROLE_METRICS,
                                              &roles)))) {
        hub_session_close(&s);
        if (errlen)
            err[0] = '\0';
        return rc;
    }
    if (roles.addr[0])
        hub_log_info(o->label, "metrics at http://%s/metrics", roles.addr);
    rc = hub_projector_run(cli->cfg, o, st, err, errlen);
    hub_roles_stop(&roles);
    hub_session_close(&s);
    return rc;
}

static int run_project(hub_cli_t *cli) {
    int rc = hub_cli_config(cli);
    if (rc)
        return rc;
    char err[1024], store[PATH_MAX], *bootstrap = NULL;
    if (hub_broker_resolve(cli->cfg, &bootstrap, err, sizeof err))
        return hub_cli_fail(cli, "%s", err);
    hub_projector_store_path(cli->cfg, store, sizeof store);
    hub_projector_opts_t o = {
        .store = store,
        .bootstrap = bootstrap,
        .once = hub_cli_has(cli, "once"),
        .group = !hub_cli_has(cli, "once"),
        .changelog = !hub_cli_has(cli, "no-changelog"),
        .progress = hub_cli_has(cli, "progress"),
        .label = "project",
    };
    hub_cli_handle_signals();
    hub_projector_stats_t st;
    rc = run_projector(cli, &o, &st, err, sizeof err);
    free(bootstrap);
    if (rc > 0) /* an exit code: already said */
        return rc;
    if (rc)
        return hub_cli_fail(cli, "%s", err);
    report(&st);
    return HUB_EXIT_OK;
}

const hub_cmd_t hub_cmd_project = {
    "project",
    NULL,
    "Fold the event topics into the views in LMDB: customers, stock, daily figures.",
    "Consumes the crm, erp, scrm and control topics and applies them in\n"
    "batches to the store in DATA_DIR/customer360: the customer-360 views,\n"
    "product availability and the daily report; each batch commits\n"
    "together with the offsets it reached, so a restart resumes exactly\n"
    "where the last commit left off. Changed customers go to the compacted\n"
    "changelog topic. Runs until Ctrl-C or SIGTERM (finishing the batch in\n"
    "hand), or with --once until caught up. With --listen it also serves\n"
    "/metrics and /healthz there.",
    HUB_CLI_CONFIG | HUB_CLI_LISTEN,
    project_opts,
    run_project,
};

static const hub_cli_opt_t rebuild_opts[] = {
    {"no-progress", 0, NULL, "no progress line"},
    {0},
};

static int run_rebuild(hub_cli_t *cli) {
    int rc = hub_cli_config(cli);
    if (rc)
        return rc;
    char err[1024], link[PATH_MAX], gen[PATH_MAX], *bootstrap = NULL;
    if (hub_broker_resolve(cli->cfg, &bootstrap, err, sizeof err))
        return hub_cli_fail(cli, "%s", err);
    hub_projector_store_path(cli->cfg, link, sizeof link);
    if (hub_store_next_generation(link, gen, sizeof gen, err, sizeof err)) {
        free(bootstrap);
        return hub_cli_fail(cli, "%s", err);
    }
    hub_log_info("rebuild", "replaying the topics into %s", gen);
    hub_projector_opts_t o = {
        .store = gen,
        .bootstrap = bootstrap,
        .once = 1,
        .group = 0,
        .changelog = 0,
        .progress = !hub_cli_has(cli, "no-progress"),
        .label = "rebuild",
    };
    hub_cli_handle_signals();
    hub_projector_stats_t st;
    rc = run_projector(cli, &o, &st, err, sizeof err);
    free(bootstrap);
    if (!rc && hub_stop_requested)
        rc = hub_fail(err, sizeof err, HUB_ESTATE,
                      "interrupted before the swap");
    if (!rc)
        rc = hub_store_swap(link, gen, err, sizeof err);
    if (rc) {
        /* half a rebuild is of no use: the next one starts over */
        hub_store_discard_generation(gen);
        return hub_cli_fail(cli, "%s; the live store is unchanged, and the "
                                 "new generation %s was removed",
                            err, gen);
    }
    report(&st);
    fprintf(stderr, "rebuilt: %s now points at %s\n", link, gen);
    return HUB_EXIT_OK;
}

const hub_cmd_t hub_cmd_rebuild = {
    "rebuild",
    NULL,
    "Rebuild the store (every projection) from the topics and swap it in.",
    "Replays every event topic from the beginning into a new store beside\n"
    "the live one (DATA_DIR/customer360.N), with a progress line (events,\n"
    "events/s, lag, ETA), then points DATA_DIR/customer360 at it in one\n"
    "atomic rename; the old store is kept until then and removed after. A\n"
    "running projector notices the swap and continues on the new store.",
    HUB_CLI_CONFIG,
    rebuild_opts,
    run_rebuild,
};
