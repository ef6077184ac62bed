/*
 * hub360 - the registry of subcommands (one line each in main.c).
 */
#ifndef HUB_COMMANDS_H
#define HUB_COMMANDS_H

#include "cli.h"

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

#endif
