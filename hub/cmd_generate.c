/*
 * hub360 generate - synthetic events across CRM, ERP and SCRM.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "commands.h"
#include "gen.h"

static const hub_cli_opt_t generate_opts[] = {
    {"events", 'n', "N", "how many events (default 1000)"},
    {"people", 'p', "N", "size of the population (default events/5)"},
    {"seed", 's', "N", "random seed; the same seed gives the same events"},
    {"duplicates", 0, "PCT", "re-send PCT percent of events (same event_id)"},
    {"control", 0, "PCT", "make PCT percent of the events identity.link, "
                          "identity.unlink and customer.forget"},
    {0},
};

static int run_generate(hub_cli_t *cli) {
    long events = hub_cli_long(cli, "events", 1000),
         people = hub_cli_long(cli, "people", 0),
         seed = hub_cli_long(cli, "seed", 1),
         dups = hub_cli_long(cli, "duplicates", 0),
         control = hub_cli_long(cli, "control", 0);
    if (events < 0 || people < 0 || seed < 0 || dups < 0 || control < 0)
        return HUB_EXIT_USAGE;
    if (dups > 100 || control > 100)
        return hub_cli_usage_error(cli, "--duplicates and --control are "
                                        "percentages");
    hub_gen_opts_t o = {
        .events = (uint64_t)events,
        .people = (uint64_t)people,
        .seed = (uint64_t)seed,
        .duplicate_pct = (int)dups,
        .control_pct = (int)control,
    };
    hub_gen_t *g = hub_gen_new(&o);
    if (!g)
        return hub_cli_fail(cli, "out of memory");
    hub_buf_t b = HUB_BUF_INIT;
    while (hub_gen_next(g, &b)) {
        hub_buf_putc(&b, '\n');
        if (b.len > 1 << 16) {
            fwrite(b.data, 1, b.len, stdout);
            hub_buf_reset(&b);
        }
    }
    fwrite(b.data ? b.data : "", 1, b.len, stdout);
    hub_buf_free(&b);
    hub_gen_free(g);
    return fflush(stdout) ? hub_cli_fail(cli, "write error") : HUB_EXIT_OK;
}

const hub_cmd_t hub_cmd_generate = {
    "generate",
    NULL,
    "Print synthetic events (canonical JSON, one per line).",
    "A population of people across a CRM (HubSpot, Salesforce, Zendesk),\n"
    "an ERP (a shop, ERPNext) and an SCRM (WeChat, Weibo), whose\n"
    "identities overlap across systems so customers merge. Deterministic:\n"
    "the same options print the same events. Pipe into `hub360 publish`.",
    0,
    generate_opts,
    run_generate,
};
