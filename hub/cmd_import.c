/*
 * hub360 import - a vendor's export file through a source's mapping onto
 * Kafka.
 *
 * NDJSON (one record per line) or CSV (a header row, then one record per
 * row; every value a string, as the export wrote it). Each record maps
 * whole or is rejected with its line number; the rest still go. Event
 * ids come from the vendor's record ids, so importing the same file
 * again produces the same events, which the projector counts once. The
 * command exits 0 only when every record was mapped and acknowledged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "csv.h"
#include "errors.h"
#include "par.h"
#include "session.h"
#include "source.h"
#include "timefmt.h"

static const hub_cli_opt_t import_opts[] = {
    {"source", 's', "NAME", "the source whose mapping reads the file "
                            "(required)"},
    {"format", 'f', "FORMAT", "ndjson or csv (default: by the file's "
                              "extension, else ndjson)"},
    {"resource", 'r', "NAME", "$meta.resource for the mapping, e.g. "
                              "contacts"},
    {"progress", 0, NULL, "print progress even when stderr is not a "
                          "terminal"},
    {0},
};

/* ------------------------------------------------------------------ */
/* The import                                                          */
/* ------------------------------------------------------------------ */

/*
 * Mapping a record (libjq running the mapping) is nearly all of an
 * import's time, and records map independently: the file is taken in
 * windows of WINDOW records, each window mapped on every core (a mapping
 * and a codec per thread: neither is thread-safe), then produced in file
 * order by this thread, so that rejections are reported by line in order
 * and a failure stops at the first record it concerns.
 */
#define WINDOW 1024
#define TURN 8            /* records a thread takes at a time */
#define ALONE (2 * TURN)  /* a window this small is mapped by one thread */

typedef struct slot {
    const char *text;     /* NDJSON: the line, parsed where it is mapped */
    size_t len;
    json_t *record;       /* CSV: the row, made by the reader */
    size_t line, end;     /* its first line; the file offset past it */
    int rc;               /* 0; HUB_EINVAL: rejected (it does not parse,
                             or the mapping refused it); else a failure */
    char err[1024];
    hub_mapped_t mapped;
} slot_t;

typedef struct importer {
    hub_cli_t *cli;
    hub_session_t *s;
    const hub_source_config_t *cfg;
    hub_source_t *src[HUB_PAR_MAX]; /* thread t's; [0] this thread's */
    json_t *meta;
    hub_acks_t *acks;
    slot_t *win;
    size_t nwin;
    size_t records, events, rejected;
    size_t bytes_done, bytes_total;
    int progress;
    int64_t started, last_report;
} importer_t;

static void report(importer_t *im, int final) {
    int64_t now = hub_time_mono_ms();
    if (!im->progress || (!final && now - im->last_report < 1000))
        return;
    im->last_report = now;
    double secs = (double)(now - im->started) / 1000.0;
    fprintf(stderr, "\r%zu records, %zu events, %zu rejected, %.0f%%, %.0f "
                    "records/s%s",
            im->records, im->events, im->rejected,
            im->bytes_total ? 100.0 * (double)im->bytes_done /
                                  (double)im->bytes_total
                            : 100.0,
            secs > 0 ? (double)im->records / secs : 0.0, final ? "\n" : "");
}

/* Parses (NDJSON) and maps the window's record i, on thread t. */
static void map_one(void *arg, size_t i, size_t t) {
    importer_t *im = arg;
    slot_t *sl = &im->win[i];
    hub_mapped_reset(&sl->mapped);
    if (!im->src[t]) { /* thread t's first record: its own mapping */
        sl->rc = hub_source_open(im->cfg, im->s->cat,
                                 im->cli->cfg->kafka.topic_prefix,
                                 &im->src[t], sl->err, sizeof(sl->err));
        if (sl->rc == HUB_EINVAL)
            sl->rc = HUB_ECONFIG; /* not the record's fault */
        if (sl->rc)
            return;
    }
    json_t *own = NULL;
    if (!sl->record &&
        (sl->rc = hub_codec_parse_text(sl->text, sl->len, &own, sl->err,
                                       sizeof(sl->err)))) {
        sl->rc = HUB_EINVAL;
        return;
    }
    sl->rc = hub_source_map(im->src[t], own ? own : sl->record, im->meta,
                            &sl->mapped, NULL, sl->err, sizeof(sl->err));
    json_decref(own);
}

/* Maps the window, then produces it in order; -1 on a failure (already
 * reported), which ends the import. */
static int run_window(importer_t *im) {
    size_t n = im->nwin;
    hub_par_for(n, TURN, n < ALONE ? 1 : 0, map_one, im);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        slot_t *sl = &im->win[i];
        if (!rc && sl->rc == HUB_EINVAL) {
            fprintf(stderr, "%sline %zu: %s\n", im->progress ? "\r" : "",
                    sl->line, sl->err);
            im->rejected++;
        } else if (!rc && sl->rc) {
            hub_cli_fail(im->cli, "line %zu: %s", sl->line, sl->err);
            rc = -1;
        } else if (!rc) {
            if (hub_mapped_send(&sl->mapped, im->cli->cfg, im->s->producer,
                                im->acks, 60000, sl->err, sizeof(sl->err))) {
                hub_cli_fail(im->cli, "line %zu: %s", sl->line, sl->err);
                rc = -1;
            } else {
                im->records++;
                im->events += sl->mapped.n;
            }
        }
        json_decref(sl->record);
        sl->record = NULL;
        if (!rc) {
            im->bytes_done = sl->end;
            report(im, 0);
        }
    }
    im->nwin = 0;
    return rc;
}

static int import_ndjson(importer_t *im, const char *data, size_t len) {
    size_t line = 0;
    for (const char *p = data, *end = data + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        if (n && p[strspn(p, " \t\r")] != '\n') {
            slot_t *sl = &im->win[im->nwin++];
            sl->text = p;
            sl->len = n;
            sl->line = line;
            sl->end = (size_t)(p + n + (nl != NULL) - data);
        }
        p += n + (nl != NULL);
        if ((im->nwin == WINDOW || p >= end) && run_window(im))
            return -1;
    }
    return run_window(im);
}

static int import_csv(importer_t *im, const char *data, size_t len) {
    hub_strlist_t header = {0}, row = {0};
    const char *p = data, *end = data + len;
    size_t lines = 0;
    char err[1024];
    int rc = 0;
    if (hub_csv_row(&p, end, &header, &lines, err, sizeof(err)) ||
        hub_csv_header_check(&header, err, sizeof(err))) {
        hub_cli_fail(im->cli, "line 1: the header row: %s", err);
        hub_strlist_free(&header);
        return -1;
    }
    while (rc == 0 && p < end) {
        size_t first = lines + 1;
        json_t *record = NULL;
        rc = hub_csv_row(&p, end, &row, &lines, err, sizeof(err));
        if (rc == 0 && row.n == 1 && row.v[0][0] == '\0')
            continue; /* a blank line */
        if (rc == 0)
            rc = hub_csv_record(&header, &row, &record, err, sizeof(err));
        if (rc == 0) {
            slot_t *sl = &im->win[im->nwin++];
            sl->record = record;
            sl->line = first;
            sl->end = (size_t)(p - data);
            if (im->nwin == WINDOW)
                rc = run_window(im);
            continue;
        }
        /* a row that does not read: after the rows before it, in order */
        json_decref(record);
        if (run_window(im)) {
            rc = -1;
        } else if (rc == HUB_EDECODE || rc == HUB_EINVAL) {
            fprintf(stderr, "%sline %zu: %s\n", im->progress ? "\r" : "",
                    first, err);
            im->rejected++;
            im->bytes_done = (size_t)(p - data);
            rc = 0;
        } else {
            hub_cli_fail(im->cli, "line %zu: %s", first, err);
        }
    }
    if (rc == 0)
        rc = run_window(im);
    hub_strlist_free(&header);
    hub_strlist_free(&row);
    return rc ? -1 : 0;
}

static int run_import(hub_cli_t *cli) {
    if (cli->nargs != 1)
        return hub_cli_usage_error(cli, "expected one FILE");
    const char *name = hub_cli_get(cli, "source");
    if (!name)
        return hub_cli_usage_error(cli, "--source NAME is required");
    const char *path = cli->args[0];
    const char *format = hub_cli_get(cli, "format");
    size_t plen = strlen(path);
    if (!format)
        format = plen > 4 && strcmp(path + plen - 4, ".csv") == 0 ? "csv"
                                                                  : "ndjson";
    if (strcmp(format, "csv") && strcmp(format, "ndjson"))
        return hub_cli_usage_error(cli, "--format: expected ndjson or csv, "
                                        "got \"%s\"",
                                   format);
    int rc = hub_cli_config(cli);
    if (rc)
        return rc;
    const hub_source_config_t *cfg = NULL;
    for (size_t i = 0; i < cli->cfg->sources.n; i++) {
        const hub_source_config_t *s =
            (const hub_source_config_t *)cli->cfg->sources.items + i;
        if (strcmp(s->name, name) == 0)
            cfg = s;
    }
    if (!cfg)
        return hub_cli_usage_error(cli, "no source named '%s' in %s", name,
                                   cli->cfg->path ? cli->cfg->path
                                                  : "the configuration");
    char err[1024];
    hub_buf_t text = HUB_BUF_INIT;
    if (hub_buf_read_file(&text, path, (size_t)1 << 32, err, sizeof(err)))
        return hub_cli_fail(cli, "%s", err);
    hub_session_t s;
    if ((rc = hub_session_open(cli, HUB_SESSION_TOPICS, &s))) {
        hub_buf_free(&text);
        return rc;
    }
    importer_t im = {.cli = cli,
                     .cfg = cfg,
                     .s = &s,
                     .bytes_total = text.len,
                     .progress = hub_cli_has(cli, "progress") ||
                                 isatty(STDERR_FILENO),
                     .started = hub_time_mono_ms()};
    const char *resource = hub_cli_get(cli, "resource");
    char when[HUB_TIME_MAXLEN];
    hub_time_format(hub_time_now_ms(), when);
    im.meta = json_pack("{sssosososs}", "via", "import", "headers",
                        json_object(), "query", json_object(), "resource",
                        resource ? json_string(resource) : json_null(),
                        "received_at", when);
    im.acks = hub_acks_new();
    im.win = calloc(WINDOW, sizeof(*im.win));
    if (!im.meta || !im.acks || !im.win ||
        hub_source_new(cfg, s.codec, &im.src[0], err, sizeof(err))) {
        rc = hub_cli_fail(cli, "%s", im.meta && im.acks && im.win
                                         ? err
                                         : "out of memory");
        goto done;
    }
    const char *data = text.data ? text.data : "";
    rc = strcmp(format, "csv") == 0 ? import_csv(&im, data, text.len)
                                    : import_ndjson(&im, data, text.len);
    /* Whatever was queued is waited for, even after a failure. */
    int wrc = hub_acks_wait(im.acks, -1, err, sizeof(err));
    report(&im, 1);
    if (rc)
        rc = HUB_EXIT_FAIL;
    else if (wrc)
        rc = hub_cli_fail(cli, "%zu events not acknowledged: %s",
                          hub_acks_failed(im.acks), err);
    printf("imported %zu records (%zu events), rejected %zu\n", im.records,
           im.events, im.rejected);
    if (rc == 0 && im.rejected)
        rc = HUB_EXIT_FAIL;
done:
    if (im.acks)
        hub_acks_free(im.acks);
    for (size_t i = 0; im.win && i < WINDOW; i++) {
        json_decref(im.win[i].record);
        hub_mapped_free(&im.win[i].mapped);
    }
    free(im.win);
    for (size_t t = 0; t < HUB_PAR_MAX; t++)
        hub_source_free(im.src[t]);
    json_decref(im.meta);
    hub_session_close(&s);
    hub_buf_free(&text);
    return rc;
}

const hub_cmd_t hub_cmd_import = {
    "import",
    "FILE",
    "Import a vendor's export (NDJSON or CSV) through a source's mapping.",
    "Reads FILE (NDJSON: one record per line; CSV: a header row, then one\n"
    "record per row, every value a string), maps each record with the\n"
    "mapping of --source and produces its events to Kafka. A record that\n"
    "does not map is reported with its line number and the rest are still\n"
    "imported. Event ids derive from the vendor's record ids, so importing\n"
    "the same file again changes nothing downstream. Prints a summary;\n"
    "exits 1 if any record was rejected or not acknowledged.",
    HUB_CLI_CONFIG,
    import_opts,
    run_import,
};
