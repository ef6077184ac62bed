/*
 * hub360 publish - canonical JSON events, one per line, onto Kafka.
 *
 * Good lines are published; each bad line is reported with its number and
 * the validation message and the rest go on. An event counts as published
 * only once Kafka acknowledged it. Exit 1 if any line was rejected or not
 * delivered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "errors.h"
#include "session.h"
#include "timefmt.h"

#define MAX_LINE (1 << 20) /* Kafka's default message.max.bytes */

static const hub_cli_opt_t publish_opts[] = {
    {"topic", 't', "TOPIC",
     "publish every event to TOPIC instead of its type's topic"},
    {0},
};

/* The hub stamps ingested_at when the event does not carry one. */
static int stamp_ingested_at(json_t *event) {
    if (!json_is_object(event) || json_object_get(event, "ingested_at"))
        return 0;
    char ts[HUB_TIME_MAXLEN];
    hub_time_format(hub_time_now_ms(), ts);
    return json_object_set_new(event, "ingested_at", json_string(ts));
}

static int run_publish(hub_cli_t *cli) {
    if (cli->nargs > 1)
        return hub_cli_usage_error(cli, "expected at most one FILE");
    const char *path = cli->nargs ? cli->args[0] : "-";
    int rc = hub_cli_config(cli);
    if (rc)
        return rc;
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!in)
        return hub_cli_fail(cli, "%s: %m", path);
    hub_session_t s;
    if ((rc = hub_session_open(cli, HUB_SESSION_TOPICS, &s))) {
        if (in != stdin)
            fclose(in);
        return rc;
    }
    hub_cli_handle_signals();
    const hub_config_t *cfg = cli->cfg;
    const char *topic_override = hub_cli_get(cli, "topic");
    hub_acks_t *acks = hub_acks_new();
    hub_encoded_t enc = {HUB_BUF_INIT, HUB_BUF_INIT, 0, NULL};
    char *line = NULL;
    size_t cap = 0, lineno = 0, rejected = 0, sent = 0;
    int64_t start = hub_time_mono_ms(), last_progress = start;
    int tty = isatty(STDERR_FILENO), fatal = 0;
    ssize_t n;
    char err[1024];
    while (!hub_stop_requested && (n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        json_t *event = NULL;
        if (n > MAX_LINE) {
            snprintf(err, sizeof err, "line is %zd bytes, the limit is %d",
                     n, MAX_LINE);
            rc = HUB_EINVAL;
        } else {
            rc = hub_codec_parse_text(line, (size_t)n, &event, err,
                                      sizeof err);
            if (!rc && stamp_ingested_at(event))
                rc = HUB_ENOMEM;
            if (!rc)
                rc = hub_codec_encode(s.codec, event, &enc, err, sizeof err);
        }
        json_decref(event);
        if (rc) {
            fprintf(stderr, "line %zu: %s\n", lineno, err);
            rejected++;
            if (hub_err_retriable(rc) || rc == HUB_ESCHEMA) {
                fatal = 1; /* the registry, not the line, is at fault */
                break;
            }
            continue;
        }
        char topic[300];
        if (topic_override)
            snprintf(topic, sizeof topic, "%s", topic_override);
        else
            hub_session_event_topic(cfg, enc.topic, topic, sizeof topic);
        rc = hub_producer_send(s.producer, topic, RD_KAFKA_PARTITION_UA,
                               enc.key.data, enc.key.len, enc.value.data,
                               enc.value.len, NULL, 0, acks,
                               cfg->kafka.delivery_timeout_ms, err,
                               sizeof err);
        if (rc) {
            fprintf(stderr, "line %zu: %s\n", lineno, err);
            fatal = 1;
            break;
        }
        sent++;
        int64_t now = hub_time_mono_ms();
        if (tty && now - last_progress >= 1000) {
            fprintf(stderr, "\r%zu sent, %zu rejected, %zu acknowledged...",
                    sent, rejected, hub_acks_delivered(acks));
            last_progress = now;
        }
    }
    if (tty && last_progress != start)
        fputc('\n', stderr);
    int wait_rc = hub_acks_wait(acks, cfg->kafka.delivery_timeout_ms + 5000,
                                err, sizeof err);
    if (wait_rc)
        fprintf(stderr, "hub360 publish: %s\n", err);
    size_t delivered = hub_acks_delivered(acks);
    double secs = (double)(hub_time_mono_ms() - start) / 1000.0;
    printf("published %zu, rejected %zu, %.2f s\n", delivered, rejected,
           secs);
    free(line);
    hub_encoded_free(&enc);
    if (in != stdin)
        fclose(in);
    hub_session_close(&s); /* serves every last report, then */
    hub_acks_free(acks);   /* nothing refers to the ack group */
    return rejected || wait_rc || fatal || hub_stop_requested ? HUB_EXIT_FAIL
                                                               : HUB_EXIT_OK;
}

const hub_cmd_t hub_cmd_publish = {
    "publish",
    "[FILE|-]",
    "Publish canonical JSON events (one per line) to Kafka.",
    "Reads FILE, or standard input when FILE is - or absent. Each line is\n"
    "validated against the event schemas, encoded as Avro (Confluent\n"
    "framing) and produced to its type's topic with its key; a missing\n"
    "ingested_at is set to now. Bad lines are reported on standard error\n"
    "with their line number and the rest are still published. An event\n"
    "counts as published once Kafka acknowledged it. Prints a summary;\n"
    "exits 1 if any line was rejected or not delivered.",
    HUB_CLI_CONFIG,
    publish_opts,
    run_publish,
};
