/*
 * hub360 check - validate a configuration file without starting anything.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "api.h"
#include "cli.h"
#include "commands.h"
#include "config.h"

static const hub_cli_opt_t check_opts[] = {
    {"config", 'c', "FILE",
     "the file to check, as every other command takes it (or give it as "
     "CONFIG)"},
    {"reference", 'r', NULL,
     "print the configuration reference (every key, its type, default and "
     "meaning) as Markdown and exit"},
    {0},
};

static int run_check(hub_cli_t *cli) {
    if (hub_cli_has(cli, "reference")) {
        if (cli->nargs || hub_cli_has(cli, "config"))
            return hub_cli_usage_error(cli, "--reference takes no CONFIG "
                                            "file");
        hub_buf_t b = HUB_BUF_INIT;
        hub_buf_puts(&b, "| key | type | default | meaning |\n"
                         "|---|---|---|---|\n");
        hub_cfg_describe(hub_config_map, "", &b);
        fputs(b.data, stdout);
        hub_buf_free(&b);
        return HUB_EXIT_OK;
    }
    const char *path = hub_cli_get(cli, "config");
    if (cli->nargs + (path != NULL) != 1)
        return hub_cli_usage_error(cli, "expected one CONFIG file (as "
                                        "CONFIG or --config FILE)");
    if (!path)
        path = cli->args[0];
    char err[1024];
    hub_config_t *cfg = NULL;
    if (hub_config_load(path, &cfg, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return HUB_EXIT_FAIL;
    }
    /* A rule of some processes only: `adapters` may listen anywhere
     * (webhooks carry signatures), serve and up may not without tokens. */
    if (hub_api_check_listen(cfg, cfg->api.listen, err, sizeof err))
        fprintf(stderr, "%s: warning: hub360 serve and hub360 up refuse "
                        "this file: %s\n",
                path, err);
    printf("%s: ok\n", path);
    hub_config_free(cfg);
    return HUB_EXIT_OK;
}

const hub_cmd_t hub_cmd_check = {
    "check",
    "CONFIG",
    "Validate a configuration file without starting anything.",
    "Reads CONFIG with every rule the hub applies at start (unknown keys,\n"
    "types, ranges, allowed values, poll URLs and auth, mapping files\n"
    "compiled) and prints \"CONFIG: ok\", or the first problem as\n"
    "FILE:LINE: key.path: reason and exits 1. A rule of some processes\n"
    "only (serve and up refuse a non-loopback api.listen without\n"
    "api.tokens; adapters does not) is a warning on standard error.\n"
    "A value left empty by an\n"
    "unset ${VAR} is refused (${VAR:-} allows it). Examples of each kind\n"
    "of mistake: tests/fixtures/config-broken.",
    0,
    check_opts,
    run_check,
};
