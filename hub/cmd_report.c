/*
 * hub360 report - print the daily report (projections/metrics) of a
 * range of days, as JSON or CSV, from the customer-360 store.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "c360.h"
#include "cli.h"
#include "commands.h"
#include "errors.h"
#include "projector.h"
#include "report.h"

static const hub_cli_opt_t report_opts[] = {
    {"from", 0, "YYYY-MM-DD", "the first day (required)"},
    {"to", 0, "YYYY-MM-DD", "the last day, included (default: --from)"},
    {"format", 'f', "FORMAT", "json (default) or csv"},
    {"tz", 0, "ZONE", "utc (default): days in UTC; business: days in "
                      "reporting.time_zone"},
    {0},
};

static int run_report(hub_cli_t *cli) {
    if (cli->nargs)
        return hub_cli_usage_error(cli, "expected no arguments");
    const char *from = hub_cli_get(cli, "from"), *to = hub_cli_get(cli, "to");
    const char *format = hub_cli_get(cli, "format"), *tz = hub_cli_get(cli, "tz");
    char err[256];
    int32_t dfrom, dto;
    if (hub_report_range(from, to ? to : from, "--from", "--to", &dfrom, &dto,
                         err, sizeof err))
        return hub_cli_usage_error(cli, "%s", err);
    if (format && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0)
        return hub_cli_usage_error(cli, "--format: expected json or csv, got "
                                        "\"%s\"", format);
    if (tz && strcmp(tz, "utc") != 0 && strcmp(tz, "business") != 0)
        return hub_cli_usage_error(cli, "--tz: expected utc or business, got "
                                        "\"%s\"", tz);
    int rc = hub_cli_config(cli);
    if (rc)
        return rc;
    char path[PATH_MAX];
    hub_c360_t *c;
    hub_projector_store_path(cli->cfg, path, sizeof path);
    if (hub_c360_open_reader(path, &c, err, sizeof err))
        return hub_cli_fail(cli, "%s", err);
    int csv = format && strcmp(format, "csv") == 0;
    hub_buf_t out = HUB_BUF_INIT;
    rc = hub_report_daily(hub_c360_report(c),
                          tz && strcmp(tz, "business") == 0
                              ? HUB_REPORT_BUSINESS
                              : HUB_REPORT_UTC,
                          dfrom, dto, csv ? HUB_REPORT_CSV : HUB_REPORT_JSON,
                          &out);
    hub_c360_close(c);
    if (rc) {
        hub_buf_free(&out);
        return hub_cli_fail(cli, "%s", hub_strerror(rc));
    }
    fwrite(out.data, 1, out.len, stdout);
    if (!csv)
        putchar('\n');
    hub_buf_free(&out);
    return fflush(stdout) ? hub_cli_fail(cli, "write error") : HUB_EXIT_OK;
}

const hub_cmd_t hub_cmd_report = {
    "report",
    NULL,
    "Print daily figures across CRM, ERP and SCRM for a range of days.",
    "For each day from --from to --to (at most 3660 days): leads, won and\n"
    "lost opportunities, orders and revenue, cancellations, returns and\n"
    "refunds, invoices and payments, tickets and their mean resolution\n"
    "time, NPS and CSAT, mentions and their mean sentiment, messages,\n"
    "follows, new and merged customers. Money is per currency in minor\n"
    "units (CSV: CUR:amount;CUR:amount). Days are UTC days, or with\n"
    "--tz business days in the projector's reporting.time_zone. JSON:\n"
    "{\"time_zone\", \"from\", \"to\", \"days\": [{\"date\", ...}]}; CSV: a header\n"
    "and a row per day (RFC 4180). The same as GET /v1/metrics/daily; the\n"
    "columns and how each figure is counted are in projections/README.md.",
    HUB_CLI_CONFIG,
    report_opts,
    run_report,
};
