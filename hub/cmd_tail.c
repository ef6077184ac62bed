/*
 * hub360 tail - decoded events as canonical JSON, one per line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bus.h"
#include "cli.h"
#include "commands.h"
#include "errors.h"
#include "session.h"
#include "timefmt.h"

static const hub_cli_opt_t tail_opts[] = {
    {"from-beginning", 'f', NULL,
     "start at the oldest event instead of only new ones"},
    {"count", 'n', "N", "exit after printing N events (0, the default: no limit)"},
    {"end", 'e', NULL,
     "exit once every partition's end is reached (kcat -e)"},
    {"timeout", 't', "DURATION",
     "give up after DURATION (e.g. 30s) and exit 1 if --count was not "
     "reached; Kafka is waited for that long at most too (else 10s)"},
    {0},
};

static const char *const short_names[][2] = {
    {"crm", "crm.events"},         {"erp", "erp.events"},
    {"scrm", "scrm.events"},       {"control", "control.events"},
    {"changelog", "customer360.changelog"}, {"deadletter", "deadletter"},
};

/* "crm" -> "hub360.crm.events"; anything else is taken as a topic name. */
static void topic_name(const hub_config_t *cfg, const char *arg, char *out,
                       size_t outlen) {
    for (size_t i = 0; i < sizeof short_names / sizeof short_names[0]; i++) {
        if (strcmp(arg, short_names[i][0]) == 0) {
            hub_config_topic(cfg, short_names[i][1], out, outlen);
            return;
        }
    }
    snprintf(out, outlen, "%s", arg);
}

/* A dead letter as one JSON line: its headers (error, where it came
 * from), its key, and its value: the event when it decodes, the JSON a
 * vendor sent when it is JSON, else the bytes as text (or null and
 * their count when they are not UTF-8). */
static int print_dead_letter(hub_codec_t *codec, rd_kafka_message_t *m,
                             hub_buf_t *out) {
    json_t *doc = json_object(), *headers = json_object();
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *v;
        size_t n;
        for (size_t i = 0;
             !rd_kafka_header_get_all(hdrs, i, &name, &v, &n); i++)
            json_object_set_new(headers, name,
                                v ? json_stringn(v, n) : json_null());
    }
    json_object_set_new(doc, "headers", headers);
    json_object_set_new(doc, "key", m->key ? json_stringn(m->key, m->key_len)
                                           : json_null());
    char err[256];
    json_t *value = NULL;
    hub_buf_reset(out);
    if (hub_codec_render(codec, m->payload, m->len, out, err, sizeof err) ==
        0)
        value = json_loadb(out->data, out->len, 0, NULL);
    if (!value)
        value = json_loadb(m->payload, m->len, JSON_DECODE_ANY, NULL);
    if (!value)
        value = json_stringn(m->payload, m->len);
    if (!value)
        json_object_set_new(doc, "value_bytes", json_integer((json_int_t)m->len));
    json_object_set_new(doc, "value", value ? value : json_null());
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!text)
        return HUB_ENOMEM;
    hub_buf_reset(out);
    hub_buf_puts(out, text);
    hub_buf_putc(out, '\n');
    free(text);
    return 0;
}

static int run_tail(hub_cli_t *cli) {
    long count = hub_cli_long(cli, "count", 0);
    if (count < 0)
        return HUB_EXIT_USAGE;
    int64_t timeout_ms = -1;
    const char *t = hub_cli_get(cli, "timeout");
    if (t && hub_cfg_parse_duration(t, &timeout_ms))
        return hub_cli_usage_error(cli, "--timeout: expected a duration "
                                        "like 30s, got \"%s\"",
                                   t);
    int at_end = hub_cli_has(cli, "end");
    int rc = hub_cli_config(cli);
    if (rc)
        return rc;
    hub_session_t s;
    if ((rc = hub_session_open(cli, HUB_SESSION_BROKER, &s)))
        return rc;

    size_t ntopics = cli->nargs ? (size_t)cli->nargs : 4;
    char (*names)[256] = calloc(ntopics, sizeof *names);
    const char **topics = calloc(ntopics, sizeof *topics);
    for (size_t i = 0; i < ntopics; i++) {
        if (cli->nargs)
            topic_name(cli->cfg, cli->args[i], names[i], sizeof names[i]);
        else
            hub_session_event_topic(cli->cfg, (hub_topic_kind)i, names[i],
                                    sizeof names[i]);
        topics[i] = names[i];
    }
    char err[1024];
    rd_kafka_t *rk = NULL;
    size_t nparts = 0;
    rc = hub_consumer_new(cli->cfg, s.bootstrap, NULL, at_end, &rk, err,
                          sizeof err);
    if (!rc)
        rc = hub_consumer_assign_all(
            rk, topics, ntopics,
            hub_cli_has(cli, "from-beginning") ? RD_KAFKA_OFFSET_BEGINNING
                                               : RD_KAFKA_OFFSET_END,
            /* --timeout bounds the wait for Kafka too */
            timeout_ms >= 0 && timeout_ms < 10000 ? (int)timeout_ms : -1,
            &nparts, err, sizeof err);
    if (rc) {
        /* the client first: what it logs as it goes comes before the
         * message that ends the command */
        if (rk)
            rd_kafka_destroy(rk);
        int code = rc == HUB_EKAFKA
                       ? hub_cli_fail(cli, "kafka at %s: %s", s.bootstrap, err)
                       : hub_cli_fail(cli, "%s", err);
        free(names);
        free(topics);
        hub_session_close(&s);
        return code;
    }
    hub_cli_handle_signals();
    char dlq[256];
    hub_config_topic(cli->cfg, "deadletter", dlq, sizeof dlq);
    hub_buf_t out = HUB_BUF_INIT;
    long printed = 0;
    size_t bad = 0;
    hub_strlist_t ended = {NULL, 0}; /* partitions whose end was seen */
    int64_t deadline =
        timeout_ms >= 0 ? hub_time_mono_ms() + timeout_ms : INT64_MAX;
    int timed_out = 0;
    while (!hub_stop_requested && (!count || printed < count)) {
        if (hub_time_mono_ms() >= deadline) {
            timed_out = 1;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            fflush(stdout);
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* count each partition once: EOF repeats after new events */
            char tp[300];
            snprintf(tp, sizeof tp, "%s/%d", rd_kafka_topic_name(m->rkt),
                     (int)m->partition);
            rd_kafka_message_destroy(m);
            if (!hub_strlist_has(&ended, tp)) {
                char **v = realloc(ended.v, (ended.n + 1) * sizeof *v);
                if (v && (v[ended.n] = strdup(tp))) {
                    ended.v = v;
                    ended.n++;
                }
            }
            if (at_end && ended.n >= nparts)
                break;
            continue;
        }
        if (m->err) {
            fprintf(stderr, "hub360 tail: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        hub_buf_reset(&out);
        if (!m->payload) {
            fprintf(stderr, "%s [%d] @%lld: tombstone for key %.*s\n",
                    rd_kafka_topic_name(m->rkt), (int)m->partition,
                    (long long)m->offset, (int)m->key_len,
                    (const char *)m->key);
        } else if (strcmp(rd_kafka_topic_name(m->rkt), dlq) == 0) {
            if (print_dead_letter(s.codec, m, &out) == 0) {
                fwrite(out.data, 1, out.len, stdout);
                printed++;
            }
        } else if (hub_codec_render(s.codec, m->payload, m->len, &out, err,
                                    sizeof err)) {
            fprintf(stderr, "%s [%d] @%lld: %s\n",
                    rd_kafka_topic_name(m->rkt), (int)m->partition,
                    (long long)m->offset, err);
            bad++;
        } else {
            hub_buf_putc(&out, '\n');
            fwrite(out.data, 1, out.len, stdout);
            printed++;
        }
        rd_kafka_message_destroy(m);
    }
    fflush(stdout);
    for (size_t i = 0; i < ended.n; i++)
        free(ended.v[i]);
    free(ended.v);
    hub_buf_free(&out);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(names);
    free(topics);
    hub_session_close(&s);
    if (timed_out && count && printed < count) {
        fprintf(stderr, "hub360 tail: timed out after %ld of %ld events\n",
                printed, count);
        return HUB_EXIT_FAIL;
    }
    return bad ? HUB_EXIT_FAIL : HUB_EXIT_OK;
}

const hub_cmd_t hub_cmd_tail = {
    "tail",
    "[TOPIC...]",
    "Print events from Kafka as canonical JSON, one per line.",
    "TOPIC is a topic name or one of crm, erp, scrm, control, changelog,\n"
    "deadletter; the default is the four event topics. Starts at the end\n"
    "unless --from-beginning. Events that do not decode are reported on\n"
    "standard error with their topic, partition and offset (exit 1).\n"
    "A dead letter prints as {\"headers\": {\"error\": ..., ...}, \"key\": ...,\n"
    "\"value\": ...}: the value is the event when it decodes, else the JSON\n"
    "or text that came.",
    HUB_CLI_CONFIG,
    tail_opts,
    run_tail,
};
