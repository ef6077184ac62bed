/*
 * hub360 map - run a source's mapping on a file, without Kafka.
 *
 * What a mapping author (and the preset tests) need: the events a vendor
 * payload would become, completed, validated and rendered exactly as they
 * would land on Kafka (--raw: as the mapping emitted them), or the value
 * of any expression over the mapping's definitions (--eval), e.g. a
 * polling request.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "debezium.h"
#include "errors.h"
#include "session.h"
#include "source.h"
#include "timefmt.h"
#include "xmljson.h"

static const hub_cli_opt_t map_opts[] = {
    {"source", 's', "NAME", "a source of the configuration (its mapping, "
                            "name and system)"},
    {"preset", 'p', "NAME", "a built-in preset instead"},
    {"mapping", 'm', "FILE", "a mapping file instead"},
    {"name", 0, "NAME", "the source name events carry (default: the "
                        "preset's or the file's name)"},
    {"system", 0, "KIND", "crm, erp or scrm (default: the preset's)"},
    {"via", 0, "HOW", "webhook (default), poll, import or cdc: $meta.via "
                      "(cdc: read as the CDC adapter reads a record)"},
    {"header", 'H', "'NAME: VALUE'", "a request header in $meta.headers "
                                     "(repeatable)"},
    {"query", 'q', "KEY=VALUE", "a query parameter in $meta.query "
                                "(repeatable)"},
    {"resource", 'r', "NAME", "$meta.resource (polled resource, CDC "
                              "table, import resource)"},
    {"at", 0, "TIME", "$meta.received_at and the events' ingested_at "
                      "(RFC 3339; default now)"},
    {"lines", 'l', NULL, "the input is NDJSON: one record per line "
                         "(the default for *.ndjson and *.jsonl)"},
    {"xml", 0, NULL, "the input is XML (default: when it starts with '<')"},
    {"raw", 0, NULL, "print the events as the mapping emitted them "
                     "(still validated)"},
    {"eval", 'e', "EXPR", "print the values of a jq expression over the "
                          "mapping's definitions instead"},
    {0},
};

/* The source to map for: one of the configuration, or one made up from
 * --preset/--mapping. Its strings live in `own` (freed by the caller). */
static int pick_source(hub_cli_t *cli, hub_source_config_t *own,
                       const hub_source_config_t **out) {
    const char *name = hub_cli_get(cli, "source");
    const char *preset = hub_cli_get(cli, "preset");
    const char *file = hub_cli_get(cli, "mapping");
    if (!!name + !!preset + !!file != 1)
        return hub_cli_usage_error(cli, "give one of --source, --preset or "
                                        "--mapping");
    if (name) {
        const hub_cfg_list_t *l = &cli->cfg->sources;
        for (size_t i = 0; i < l->n; i++) {
            const hub_source_config_t *s =
                (const hub_source_config_t *)l->items + i;
            if (strcmp(s->name, name) == 0) {
                *out = s;
                return 0;
            }
        }
        return hub_cli_usage_error(cli, "no source named '%s' in %s", name,
                                   cli->cfg->path ? cli->cfg->path
                                                  : "the configuration");
    }
    const hub_preset_t *p = preset ? hub_preset_find(preset) : NULL;
    if (preset && !p)
        return hub_cli_usage_error(cli, "no preset named '%s'", preset);
    const char *system = hub_cli_get(cli, "system");
    if (!system && !p)
        return hub_cli_usage_error(cli, "--mapping needs --system crm|erp|"
                                        "scrm");
    if (!system)
        system = p->system;
    if (strcmp(system, "crm") && strcmp(system, "erp") &&
        strcmp(system, "scrm"))
        return hub_cli_usage_error(cli, "--system: expected crm, erp or "
                                        "scrm, got \"%s\"",
                                   system);
    const char *sname = hub_cli_get(cli, "name");
    if (!sname && p)
        sname = p->name;
    if (!sname) {
        const char *base = strrchr(file, '/');
        sname = base ? base + 1 : file;
    }
    own->name = strndup(sname, strcspn(sname, "."));
    own->system = strdup(system);
    own->preset = strdup(p ? p->name : "");
    own->mapping = strdup(file ? file : "");
    if (!own->name || !own->system || !own->preset || !own->mapping)
        return hub_cli_fail(cli, "out of memory");
    *out = own;
    return 0;
}

/* $meta from the options. NULL (after printing why) on a bad option. */
static json_t *make_meta(hub_cli_t *cli) {
    const char *via = hub_cli_get(cli, "via");
    if (!via)
        via = "webhook";
    if (strcmp(via, "webhook") && strcmp(via, "poll") &&
        strcmp(via, "import") && strcmp(via, "cdc")) {
        hub_cli_usage_error(cli, "--via: expected webhook, poll, import or "
                                 "cdc, got \"%s\"",
                            via);
        return NULL;
    }
    int64_t at = hub_time_now_ms();
    const char *at_text = hub_cli_get(cli, "at");
    if (at_text && hub_time_parse(at_text, strlen(at_text), &at, NULL)) {
        hub_cli_usage_error(cli, "--at: expected an RFC 3339 time, got "
                                 "\"%s\"",
                            at_text);
        return NULL;
    }
    char when[HUB_TIME_MAXLEN];
    hub_time_format(at, when);
    const char *resource = hub_cli_get(cli, "resource");
    json_t *headers = json_object(), *query = json_object();
    json_t *meta = json_pack("{sssosososs}", "via", via, "headers", headers,
                             "query", query, "resource",
                             resource ? json_string(resource) : json_null(),
                             "received_at", when);
    if (!meta)
        return NULL;
    const char *const *v;
    int n = hub_cli_all(cli, "header", &v);
    for (int i = 0; i < n; i++) {
        const char *colon = strchr(v[i], ':');
        if (!colon || colon == v[i]) {
            hub_cli_usage_error(cli, "--header: expected 'Name: value', got "
                                     "\"%s\"",
                                v[i]);
            json_decref(meta);
            return NULL;
        }
        char name[256];
        size_t len = (size_t)(colon - v[i]);
        if (len >= sizeof(name))
            len = sizeof(name) - 1;
        for (size_t k = 0; k < len; k++)
            name[k] = (char)tolower((unsigned char)v[i][k]);
        name[len] = '\0';
        const char *value = colon + 1 + strspn(colon + 1, " \t");
        json_object_set_new(headers, name, json_string(value));
    }
    n = hub_cli_all(cli, "query", &v);
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(v[i], '=');
        if (!eq) {
            hub_cli_usage_error(cli, "--query: expected key=value, got "
                                     "\"%s\"",
                                v[i]);
            json_decref(meta);
            return NULL;
        }
        char key[256];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - v[i]), v[i]);
        json_object_set_new(query, key, json_string(eq + 1));
    }
    return meta;
}

/* One record (JSON or XML text) as JSON. */
static int parse_record(const char *text, size_t len, int xml, json_t **out,
                        char *err, size_t errlen) {
    if (xml)
        return hub_xml_to_json(text, len, out, err, errlen);
    return hub_codec_parse_text(text, len, out, err, errlen);
}

static int print_values(json_t *all) {
    size_t i;
    json_t *v;
    json_array_foreach(all, i, v) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s)
            return -1;
        puts(s);
        free(s);
    }
    return 0;
}

/* --eval: prints every value of expr over input; 0 or 1. */
static int eval_print(hub_cli_t *cli, hub_source_t *src, const char *expr,
                      const json_t *input, const json_t *meta) {
    char err[1024];
    json_t *all = NULL;
    if (hub_mapping_eval(hub_source_mapping(src), expr, input,
                         hub_source_json(src), meta, &all, err, sizeof(err)))
        return hub_cli_fail(cli, "%s", err);
    print_values(all);
    json_decref(all);
    return 0;
}

/*
 * --via cdc: the input may be a Kafka record value as Kafka Connect's
 * JsonConverter writes it: the mapping gets what the CDC adapter would
 * give it (debezium.h): the payload of an envelope with a schema (its
 * logical types decoded, unread columns dropped) and,
 * unless --resource is given, a Debezium change event's table as
 * $meta.resource. Other records (Salesforce's change events) go as they
 * are. Returns the record to map (borrowed), NULL for a tombstone.
 */
static const json_t *cdc_event(const json_t *record, json_t *meta,
                               int resource_given) {
    const json_t *event = hub_debezium_unwrap(record);
    if (json_is_object(event)) /* the input is this run's own to change */
        hub_debezium_logical((json_t *)record, (json_t *)event);
    char table[512];
    if (!resource_given && hub_debezium_resource(event, table,
                                                 sizeof(table)) == 0)
        json_object_set_new(meta, "resource", json_string(table));
    return json_is_null(event) ? NULL : event;
}

/* Maps one record and prints its events; 0, or 1 after reporting. With
 * --via cdc (cdc_resource: 1 when --resource is given, else 0; -1 for
 * other ways) the record is a Debezium record value. */
static int map_one(hub_session_t *s, hub_source_t *src,
                   const json_t *record, json_t *meta, int raw,
                   int cdc_resource, const char *where) {
    char err[1024];
    hub_mapped_t mapped = {0};
    if (cdc_resource >= 0 && !(record = cdc_event(record, meta,
                                                  cdc_resource)))
        return 0; /* a tombstone */
    int rc = hub_source_map(src, record, meta, &mapped, NULL, err,
                            sizeof(err));
    if (rc == 0 && raw) {
        json_t *all = json_array();
        rc = hub_mapping_events(hub_source_mapping(src), record,
                                hub_source_json(src), meta, all, err,
                                sizeof(err));
        if (rc == 0)
            print_values(all);
        json_decref(all);
    }
    for (size_t i = 0; rc == 0 && !raw && i < mapped.n; i++) {
        hub_buf_t out = HUB_BUF_INIT;
        rc = hub_codec_render(s->codec, mapped.events[i].value.data,
                              mapped.events[i].value.len, &out, err,
                              sizeof(err));
        if (rc == 0)
            puts(out.data);
        hub_buf_free(&out);
    }
    hub_mapped_free(&mapped);
    if (rc) {
        fprintf(stderr, "hub360 map: %s%s\n", where, err);
        return HUB_EXIT_FAIL;
    }
    return 0;
}

static int run_map(hub_cli_t *cli) {
    int rc = hub_cli_config(cli);
    if (rc)
        return rc;
    hub_source_config_t own = {0};
    const hub_source_config_t *cfg = NULL;
    json_t *meta = NULL;
    hub_source_t *src = NULL;
    hub_buf_t text = HUB_BUF_INIT;
    hub_session_t s = {0};
    char err[1024];
    if ((rc = pick_source(cli, &own, &cfg)))
        goto done;
    if (!(meta = make_meta(cli))) {
        rc = HUB_EXIT_USAGE;
        goto done;
    }
    if (cli->nargs > 1) {
        rc = hub_cli_usage_error(cli, "one input file at most");
        goto done;
    }
    if ((rc = hub_session_open(cli, 0, &s)))
        goto done;
    if (hub_source_new(cfg, s.codec, &src, err, sizeof(err))) {
        rc = hub_cli_fail(cli, "%s", err);
        goto done;
    }
    const char *path = cli->nargs ? cli->args[0] : "-";
    const char *eval = hub_cli_get(cli, "eval");
    if (eval && !cli->nargs) {
        rc = eval_print(cli, src, eval, NULL, meta);
        goto done;
    }
    if (hub_buf_read_file(&text, strcmp(path, "-") ? path : "/dev/stdin",
                          64u << 20, err, sizeof(err))) {
        rc = hub_cli_fail(cli, "%s", err);
        goto done;
    }
    const char *data = text.data ? text.data : "";
    int xml = hub_cli_has(cli, "xml") ||
              data[strspn(data, " \t\r\n")] == '<';
    int raw = hub_cli_has(cli, "raw");
    int cdc = strcmp(json_string_value(json_object_get(meta, "via")), "cdc")
                  ? -1
                  : hub_cli_get(cli, "resource") != NULL;
    size_t plen = strlen(path);
    int lines = hub_cli_has(cli, "lines") ||
                (plen > 7 && strcmp(path + plen - 7, ".ndjson") == 0) ||
                (plen > 6 && strcmp(path + plen - 6, ".jsonl") == 0);
    if (!lines) {
        json_t *record = NULL;
        if (parse_record(data, text.len, xml, &record, err, sizeof(err))) {
            rc = hub_cli_fail(cli, "%s: %s", path, err);
        } else if (eval) {
            rc = eval_print(cli, src, eval, record, meta);
        } else {
            rc = map_one(&s, src, record, meta, raw, cdc, "");
        }
        json_decref(record);
        goto done;
    }
    /* NDJSON: each line on its own; a bad line is reported and the rest
     * still mapped, as `publish` does. */
    size_t lineno = 0;
    for (const char *p = data; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (len && p[strspn(p, " \t\r")] != '\n') {
            char where[64];
            snprintf(where, sizeof(where), "line %zu: ", lineno);
            json_t *record = NULL;
            if (parse_record(p, len, 0, &record, err, sizeof(err))) {
                fprintf(stderr, "hub360 map: %s%s\n", where, err);
                rc = HUB_EXIT_FAIL;
            } else if (map_one(&s, src, record, meta, raw, cdc, where)) {
                rc = HUB_EXIT_FAIL;
            }
            json_decref(record);
        }
        p += len + (nl != NULL);
    }
done:
    hub_buf_free(&text);
    hub_source_free(src);
    json_decref(meta);
    hub_session_close(&s);
    free(own.name);
    free(own.system);
    free(own.preset);
    free(own.mapping);
    return rc;
}

const hub_cmd_t hub_cmd_map = {
    "map",
    "[FILE|-]",
    "Run a source's mapping on a vendor payload and print the events.",
    "Reads one vendor record (JSON, or XML such as WeChat's pushes) from\n"
    "FILE or standard input (--lines: one JSON record per line), runs the\n"
    "mapping of --source, --preset or --mapping on it, and prints the\n"
    "events it becomes, completed (event_id, ingested_at, source) and\n"
    "rendered exactly as they would be on Kafka, one per line. Nothing is\n"
    "produced. An event the schemas reject is an error naming the event\n"
    "and the field (exit 1). With --via cdc the input is read as the CDC\n"
    "adapter reads a Kafka record: a JsonConverter envelope's payload,\n"
    "a Debezium change event's table as $meta.resource. Writing a\n"
    "mapping: adapters/README.md.",
    HUB_CLI_CONFIG,
    map_opts,
    run_map,
};
