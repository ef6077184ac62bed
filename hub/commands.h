/*
 * hub360 - the registry of subcommands (one line each in main.c).
 */
#ifndef HUB_COMMANDS_H
#define HUB_COMMANDS_H

#include "adapter.h"
#include "api.h"
#include "cli.h"
#include "session.h"

extern const hub_cmd_t hub_cmd_up;
extern const hub_cmd_t hub_cmd_broker;
extern const hub_cmd_t hub_cmd_publish;
extern const hub_cmd_t hub_cmd_tail;
extern const hub_cmd_t hub_cmd_schemas;
extern const hub_cmd_t hub_cmd_check;
extern const hub_cmd_t hub_cmd_project;
extern const hub_cmd_t hub_cmd_rebuild;
extern const hub_cmd_t hub_cmd_get;
extern const hub_cmd_t hub_cmd_export;
extern const hub_cmd_t hub_cmd_digest;
extern const hub_cmd_t hub_cmd_report;
extern const hub_cmd_t hub_cmd_generate;
extern const hub_cmd_t hub_cmd_map;
extern const hub_cmd_t hub_cmd_adapters;
extern const hub_cmd_t hub_cmd_import;
extern const hub_cmd_t hub_cmd_serve;

/* The roles that serve HTTP, shared by `adapters`, `serve` and `up`: the
 * adapters of the configured sources (webhooks among them) and the read
 * API, on one HTTP server (api.listen or --listen). */
enum {
    HUB_ROLE_ADAPTERS = 1,
    HUB_ROLE_API = 2,
    HUB_ROLE_METRICS = 4, /* /metrics and /healthz alone (project) */
};

typedef struct hub_roles {
    hub_adapter_env_t env;
    hub_http_t *http;
    hub_adapters_t *adapters;
    hub_api_t *api;
    size_t adapters_running; /* (source, adapter) pairs; 0: none */
    char addr[300];          /* "HOST:PORT" when the HTTP server runs */
} hub_roles_t;

/* Starts the roles in `flags` with s's catalog, producer and bootstrap
 * (borrowed; s outlives them; s->producer may be NULL for the API alone).
 * The HTTP server runs when the API is asked for or a source takes
 * webhooks. Prints the error and returns an exit code on failure. */
int hub_roles_start(hub_cli_t *cli, hub_session_t *s, int flags,
                    hub_roles_t *r);
/* Stops taking requests, then stops the adapters. Safe after a failed or
 * empty start. */
void hub_roles_stop(hub_roles_t *r);
/* SIGHUP: re-reads the configuration file; applies the API's tokens and
 * the log settings; a file that does not load (or would open the API
 * beyond loopback without tokens) is logged and the old settings kept. */
void hub_roles_reload(hub_cli_t *cli, hub_roles_t *r);
/* Serves until SIGINT or SIGTERM, re-reading the configuration on
 * SIGHUP (hub_roles_reload); the caller then stops the roles. */
void hub_roles_serve(hub_cli_t *cli, hub_roles_t *r);

#endif
