/*
 * hub360 - the registry of subcommands (one line each in main.c).
 */
#ifndef HUB_COMMANDS_H
#define HUB_COMMANDS_H

#include "adapter.h"
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
extern const hub_cmd_t hub_cmd_generate;
extern const hub_cmd_t hub_cmd_map;
extern const hub_cmd_t hub_cmd_adapters;
extern const hub_cmd_t hub_cmd_import;

/* The adapters role, shared by `adapters` and `up`: the HTTP server (when
 * a source takes webhooks) and every adapter the sources ask for. */
typedef struct hub_adapters_role {
    hub_adapter_env_t env;
    hub_http_t *http;
    hub_adapters_t *adapters;
    size_t count;       /* (source, adapter) pairs running; 0: none */
    char addr[300];     /* "HOST:PORT" when the HTTP server runs */
} hub_adapters_role_t;

/* Starts the role with s's catalog, producer and bootstrap (borrowed;
 * s outlives it). Prints the error and returns an exit code on failure.
 * A configuration without sources starts nothing (r->count 0). */
int hub_adapters_role_start(hub_cli_t *cli, hub_session_t *s,
                            hub_adapters_role_t *r);
/* Stops taking requests, then stops the adapters. Safe after a failed or
 * empty start. */
void hub_adapters_role_stop(hub_adapters_role_t *r);

#endif
