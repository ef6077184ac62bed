/*
 * hub360 - command-line plumbing: option tables, help, configuration.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"

volatile sig_atomic_t hub_stop_requested;
volatile sig_atomic_t hub_reload_requested;
const char *hub_cli_program = "hub360";

static void on_signal(int sig) {
    if (sig == SIGHUP)
        hub_reload_requested = 1;
    else
        hub_stop_requested = 1;
}

void hub_cli_handle_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static const hub_cli_opt_t config_opts[] = {
    {"config", 'c', "FILE",
     "configuration file (default: ./hub360.yaml if present, else built-in "
     "defaults)"},
    {"brokers", 'b', "LIST", "Kafka bootstrap servers, overrides kafka.brokers"},
    {"data", 'd', "DIR", "data directory, overrides data_dir"},
    {0},
};
static const hub_cli_opt_t listen_opts[] = {
    {"listen", 'l', "HOST:PORT", "HTTP address, overrides api.listen"},
    {0},
};

static void print_opts(FILE *out, const hub_cli_opt_t *opts) {
    for (const hub_cli_opt_t *o = opts; o && o->name; o++) {
        char left[64];
        if (o->shortname)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->shortname,
                     o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->name,
                     o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-26s %s\n", left, o->help);
    }
}

void hub_cli_help(const hub_cmd_t *cmd, FILE *out) {
    fprintf(out, "Usage: hub360 %s [OPTIONS]%s%s\n\n%s\n", cmd->name,
            cmd->usage ? " " : "", cmd->usage ? cmd->usage : "",
            cmd->summary);
    if (cmd->details)
        fprintf(out, "\n%s\n", cmd->details);
    fprintf(out, "\nOptions:\n");
    print_opts(out, cmd->opts);
    if (cmd->common & HUB_CLI_CONFIG)
        print_opts(out, config_opts);
    if (cmd->common & HUB_CLI_LISTEN)
        print_opts(out, listen_opts);
    fprintf(out, "  %-26s %s\n", "-h, --help", "show this help and exit");
}

int hub_cli_usage_error(const hub_cli_t *cli, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hub360 %s: ", cli->cmd->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'hub360 %s --help'.\n", cli->cmd->name);
    va_end(ap);
    return HUB_EXIT_USAGE;
}

int hub_cli_fail(const hub_cli_t *cli, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hub360 %s: ", cli->cmd->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return HUB_EXIT_FAIL;
}

/* Records option i's value (the last one wins for hub_cli_get; all are
 * kept for hub_cli_all). */
static int set_opt(hub_cli_t *cli, int i, const char *value) {
    cli->present[i] = 1;
    cli->values[i] = value;
    if (cli->nrepeated[i] == HUB_CLI_MAXREPEAT) {
        hub_cli_usage_error(cli, "--%s given more than %d times",
                            cli->cmd->opts[i].name, HUB_CLI_MAXREPEAT);
        return -1;
    }
    cli->repeated[i][cli->nrepeated[i]++] = value;
    return 0;
}

int hub_cli_parse(const hub_cmd_t *cmd, int argc, char **argv,
                  hub_cli_t *cli) {
    memset(cli, 0, sizeof *cli);
    cli->cmd = cmd;
    struct option longopts[HUB_CLI_MAXOPTS + 8];
    char shortopts[3 * (HUB_CLI_MAXOPTS + 8) + 2] = ":";
    size_t nl = 0, ns = 1;
    /* val: index + 1000 for command options, letters for common ones */
    for (int i = 0; cmd->opts && cmd->opts[i].name; i++) {
        const hub_cli_opt_t *o = &cmd->opts[i];
        longopts[nl++] = (struct option){o->name, o->arg ? 1 : 0, NULL,
                                         1000 + i};
        if (o->shortname) {
            shortopts[ns++] = o->shortname;
            if (o->arg)
                shortopts[ns++] = ':';
        }
    }
    if (cmd->common & HUB_CLI_CONFIG) {
        longopts[nl++] = (struct option){"config", 1, NULL, 'c'};
        longopts[nl++] = (struct option){"brokers", 1, NULL, 'b'};
        longopts[nl++] = (struct option){"data", 1, NULL, 'd'};
        memcpy(shortopts + ns, "c:b:d:", 6);
        ns += 6;
    }
    if (cmd->common & HUB_CLI_LISTEN) {
        longopts[nl++] = (struct option){"listen", 1, NULL, 'l'};
        memcpy(shortopts + ns, "l:", 2);
        ns += 2;
    }
    longopts[nl++] = (struct option){"help", 0, NULL, 'h'};
    longopts[nl] = (struct option){0, 0, 0, 0};
    shortopts[ns++] = 'h';
    shortopts[ns] = '\0';

    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        /* a short alias of the command's own option (check's -c, map's
         * -l) comes before the common letters it may share */
        for (int i = 0; c < 1000 && cmd->opts && cmd->opts[i].name; i++)
            if (cmd->opts[i].shortname == c) {
                c = 1000 + i;
                break;
            }
        switch (c) {
        case 'h':
            hub_cli_help(cmd, stdout);
            exit(HUB_EXIT_OK);
        case 'c': cli->config_path = optarg; break;
        case 'b': cli->brokers = optarg; break;
        case 'd': cli->data = optarg; break;
        case 'l': cli->listen = optarg; break;
        case ':':
            return hub_cli_usage_error(cli, "option %s needs an argument",
                                       argv[optind - 1]);
        case '?': {
            /* optopt is the letter of an unknown short option, or the
             * val of a long one given a value it does not take */
            const char *arg = argv[optind - 1];
            const char *eq = strchr(arg, '=');
            if (strncmp(arg, "--", 2) == 0 && eq && optopt)
                return hub_cli_usage_error(cli, "option %.*s takes no "
                                                "argument",
                                           (int)(eq - arg), arg);
            if (strncmp(arg, "--", 2) == 0 || !optopt || optopt > 255)
                return hub_cli_usage_error(cli, "unknown option %s", arg);
            return hub_cli_usage_error(cli, "unknown option -%c", optopt);
        }
        default:
            if (c >= 1000 && c < 1000 + HUB_CLI_MAXOPTS &&
                set_opt(cli, c - 1000, optarg))
                return HUB_EXIT_USAGE;
        }
    }
    cli->args = argv + optind;
    cli->nargs = argc - optind;
    if (!cmd->usage && cli->nargs) /* no usage line: no arguments */
        return hub_cli_usage_error(cli, "unexpected argument %s",
                                   cli->args[0]);
    return 0;
}

static int opt_index(const hub_cli_t *cli, const char *name) {
    for (int i = 0; cli->cmd->opts && cli->cmd->opts[i].name; i++) {
        if (strcmp(cli->cmd->opts[i].name, name) == 0)
            return i;
    }
    return -1;
}

int hub_cli_all(const hub_cli_t *cli, const char *name,
                const char *const **out) {
    int i = opt_index(cli, name);
    if (i < 0)
        return 0;
    *out = cli->repeated[i];
    return cli->nrepeated[i];
}

const char *hub_cli_get(const hub_cli_t *cli, const char *name) {
    int i = opt_index(cli, name);
    return i >= 0 ? cli->values[i] : NULL;
}

int hub_cli_has(const hub_cli_t *cli, const char *name) {
    int i = opt_index(cli, name);
    return i >= 0 && cli->present[i];
}

long hub_cli_long(const hub_cli_t *cli, const char *name, long dflt) {
    const char *v = hub_cli_get(cli, name);
    if (!v)
        return dflt;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 0) {
        hub_cli_usage_error(cli, "--%s: expected a non-negative integer, "
                                 "got \"%s\"",
                            name, v);
        return -1;
    }
    return n;
}

int hub_cli_config(hub_cli_t *cli) {
    char err[1024];
    int rc = hub_config_load(cli->config_path, &cli->cfg, err, sizeof err);
    if (rc) {
        fprintf(stderr, "hub360 %s: %s\n", cli->cmd->name, err);
        return HUB_EXIT_USAGE;
    }
    hub_config_t *cfg = cli->cfg;
    if ((cli->brokers && hub_config_set_str(&cfg->kafka.brokers, cli->brokers)) ||
        (cli->data && hub_config_set_str(&cfg->data_dir, cli->data)) ||
        (cli->listen && hub_config_set_str(&cfg->api.listen, cli->listen)))
        return hub_cli_fail(cli, "out of memory");
    hub_log_level level = HUB_LOG_INFO;
    hub_log_level_parse(cfg->log.level, &level);
    hub_log_setup(level, strcmp(cfg->log.format, "json") == 0);
    return 0;
}

void hub_cli_done(hub_cli_t *cli) {
    hub_config_free(cli->cfg);
    cli->cfg = NULL;
}
