/*
 * hub360 - command-line plumbing shared by every subcommand.
 *
 * Each subcommand is a hub_cmd_t: its name, usage, a paragraph of help,
 * a table of options and a run function. The same table parses the
 * command line (unknown options are errors) and prints --help, so the two
 * cannot disagree. Conventions every command keeps:
 *   --config FILE   default ./hub360.yaml if present, else built-in defaults
 *   --brokers LIST  overrides kafka.brokers
 *   --data DIR      overrides data_dir
 *   --listen H:P    overrides api.listen (commands with an HTTP server)
 * Exit codes: 0 success, 1 the command failed or found problems, 2 usage
 * or configuration error.
 */
#ifndef HUB_CLI_H
#define HUB_CLI_H

#include <signal.h>
#include <stdio.h>

#include "config.h"

#define HUB_EXIT_OK 0
#define HUB_EXIT_FAIL 1
#define HUB_EXIT_USAGE 2

enum {
    HUB_CLI_CONFIG = 1,  /* --config, --brokers, --data */
    HUB_CLI_LISTEN = 2,  /* --listen */
};

typedef struct hub_cli_opt {
    const char *name;    /* long name, without "--" */
    char shortname;      /* or 0 */
    const char *arg;     /* argument name ("N", "FILE"), NULL for a flag */
    const char *help;
} hub_cli_opt_t;

#define HUB_CLI_MAXOPTS 24
#define HUB_CLI_MAXREPEAT 32 /* times one option may be given */

typedef struct hub_cli hub_cli_t;

typedef struct hub_cmd {
    const char *name;
    const char *usage;   /* arguments after the options, e.g. "[FILE|-]";
                            NULL: the command takes none */
    const char *summary; /* one line, for `hub360 --help` */
    const char *details; /* paragraphs for `hub360 CMD --help` */
    int common;          /* HUB_CLI_* flags */
    const hub_cli_opt_t *opts; /* terminated by {0} */
    int (*run)(hub_cli_t *cli);
} hub_cmd_t;

struct hub_cli {
    const hub_cmd_t *cmd;
    const char *config_path;
    const char *brokers;
    const char *data;
    const char *listen;
    const char *values[HUB_CLI_MAXOPTS]; /* by index in cmd->opts */
    int present[HUB_CLI_MAXOPTS];
    const char *repeated[HUB_CLI_MAXOPTS][HUB_CLI_MAXREPEAT];
    int nrepeated[HUB_CLI_MAXOPTS];
    char **args;         /* positional arguments */
    int nargs;
    hub_config_t *cfg;   /* after hub_cli_config */
};

/* Parses argv for cmd; prints help and exits 0 for --help, prints the
 * error and returns HUB_EXIT_USAGE for bad usage, else 0. */
int hub_cli_parse(const hub_cmd_t *cmd, int argc, char **argv,
                  hub_cli_t *cli);
void hub_cli_help(const hub_cmd_t *cmd, FILE *out);
/* An option's value (NULL when absent), and whether it was given. */
const char *hub_cli_get(const hub_cli_t *cli, const char *name);
int hub_cli_has(const hub_cli_t *cli, const char *name);
/* Every value of an option given several times (--header A --header B),
 * in order; returns how many (0 when absent) and sets *out to them. */
int hub_cli_all(const hub_cli_t *cli, const char *name,
                const char *const **out);
/* An option as a non-negative integer; prints an error and returns -1
 * when it is not one. Returns dflt when absent. */
long hub_cli_long(const hub_cli_t *cli, const char *name, long dflt);

/* Loads the configuration with the command-line overrides, sets up
 * logging, and stores it in cli->cfg (main frees it with hub_cli_done
 * after the command returns). Prints the error and returns
 * HUB_EXIT_USAGE on failure. */
int hub_cli_config(hub_cli_t *cli);
void hub_cli_done(hub_cli_t *cli);

/* Usage error: prints "hub360 CMD: message" and a hint; returns 2. */
int hub_cli_usage_error(const hub_cli_t *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Failure: prints "hub360 CMD: message"; returns 1. */
int hub_cli_fail(const hub_cli_t *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* How the user invoked hub360 (argv[0]), for messages that show commands. */
extern const char *hub_cli_program;

/* SIGINT/SIGTERM set this; long-running commands poll it. */
extern volatile sig_atomic_t hub_stop_requested;
/* SIGHUP sets this; servers re-read their configuration (and clear it). */
extern volatile sig_atomic_t hub_reload_requested;
/* Installs the handlers for SIGINT, SIGTERM and SIGHUP (and ignores
 * SIGPIPE). */
void hub_cli_handle_signals(void);

#endif
