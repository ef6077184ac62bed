/*
 * hub360 - one binary for every role: dispatches to the subcommands.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

#ifndef HUB360_VERSION
#define HUB360_VERSION "dev"
#endif

static const hub_cmd_t *const commands[] = {
    &hub_cmd_up,      &hub_cmd_broker,  &hub_cmd_publish, &hub_cmd_tail,
    &hub_cmd_project, &hub_cmd_get,     &hub_cmd_export,  &hub_cmd_digest,
    &hub_cmd_rebuild, &hub_cmd_schemas, &hub_cmd_check, &hub_cmd_generate,
    &hub_cmd_adapters, &hub_cmd_import, &hub_cmd_map, &hub_cmd_serve,
    &hub_cmd_report,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
    fprintf(out, "Usage: hub360 COMMAND [OPTIONS] [ARGS]\n\n"
                 "hub360 turns what CRM, ERP and SCRM systems say into "
                 "canonical events\non Kafka and folds them into "
                 "customer-360 views.\n\nCommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\nRun 'hub360 COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    hub_cli_program = argv[0];
    if (argc < 2) {
        usage(stderr);
        return HUB_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
        strcmp(name, "help") == 0) {
        if (argc > 2) {
            for (size_t i = 0; i < NCOMMANDS; i++) {
                if (strcmp(commands[i]->name, argv[2]) == 0) {
                    hub_cli_help(commands[i], stdout);
                    return HUB_EXIT_OK;
                }
            }
            fprintf(stderr, "hub360: unknown command \"%s\"\n", argv[2]);
            usage(stderr);
            return HUB_EXIT_USAGE;
        }
        usage(stdout);
        return HUB_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("hub360 %s\n", HUB360_VERSION);
        return HUB_EXIT_OK;
    }
    /* jansson seeds its hash tables on first use; its rule for programs
     * with threads is to have that done before any starts */
    json_object_seed(0);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i]->name, name) == 0) {
            hub_cli_t cli;
            int rc = hub_cli_parse(commands[i], argc - 1, argv + 1, &cli);
            if (rc == 0)
                rc = commands[i]->run(&cli);
            hub_cli_done(&cli); /* whatever the command loaded */
            return rc;
        }
    }
    fprintf(stderr, "hub360: unknown command \"%s\"\n", name);
    usage(stderr);
    return HUB_EXIT_USAGE;
}
