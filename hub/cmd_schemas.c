/*
 * hub360 schemas - the schema catalogue: list, show, check, types, release.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "catalog.h"
#include "cli.h"
#include "codec.h"
#include "commands.h"
#include "errors.h"
#include "sort.h"

static const hub_cli_opt_t schemas_opts[] = {
    {"mode", 'm', "MODE",
     "check: backward (NEW reads OLD's data), forward (OLD reads NEW's), "
     "or full (both; the default)"},
    {"pretty", 'p', NULL, "show: indent the JSON"},
    {"dir", 0, "DIR", "release: the schema sources (default: schemas)"},
    {"dry-run", 'n', NULL,
     "release: report what would be released, write nothing, exit 1 if "
     "anything would be"},
    {"force", 0, NULL, "release: release even an incompatible change"},
    {0},
};

/* ------------------------------------------------------------------ */
/* list, show, types                                                   */
/* ------------------------------------------------------------------ */

static int cmd_list(hub_catalog_t *cat) {
    for (size_t i = 0; i < hub_catalog_count(cat); i++) {
        int32_t id;
        const char *name;
        hub_catalog_at(cat, i, &id, &name, NULL);
        printf("%d %s\n", (int)id, name);
    }
    return HUB_EXIT_OK;
}

static int cmd_show(hub_cli_t *cli, hub_catalog_t *cat) {
    if (cli->nargs != 2)
        return hub_cli_usage_error(cli, "show needs one ID or NAME");
    int32_t id;
    const hub_schema_t *s;
    if (hub_catalog_find(cat, cli->args[1], &id, &s))
        return hub_cli_fail(cli, "no schema %s (see `hub360 schemas list`)",
                            cli->args[1]);
    if (!hub_cli_has(cli, "pretty")) {
        printf("%s\n", hub_schema_text(s));
        return HUB_EXIT_OK;
    }
    json_t *j = json_loads(hub_schema_text(s), 0, NULL);
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    printf("%s\n", text ? text : hub_schema_text(s));
    free(text);
    json_decref(j);
    return HUB_EXIT_OK;
}

static int cmd_types(hub_cli_t *cli, hub_catalog_t *cat) {
    char err[512];
    hub_codec_t *codec;
    if (hub_codec_new(cat, cli->cfg->kafka.topic_prefix, &codec, err,
                      sizeof err))
        return hub_cli_fail(cli, "%s", err);
    size_t n;
    const hub_event_type_t *t = hub_codec_types(codec, &n);
    for (size_t i = 0; i < n; i++)
        printf("%-32s %s%s.events %s\n", t[i].type,
               cli->cfg->kafka.topic_prefix, hub_topic_kind_name(t[i].topic),
               t[i].payload->fullname);
    hub_codec_free(codec);
    return HUB_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* check                                                               */
/* ------------------------------------------------------------------ */

/* Names a file refers to but does not define come from the catalogue. */
typedef struct resolve_ctx {
    hub_catalog_t *cat;
    json_t *held; /* array of definitions handed out */
} resolve_ctx;

static const json_t *resolve_def(const char *name, void *opaque) {
    resolve_ctx *rc = opaque;
    const hub_schema_t *s = hub_catalog_latest(rc->cat, name, NULL);
    if (!s)
        return NULL;
    json_t *def = json_loads(hub_schema_text(s), 0, NULL);
    if (!def || json_array_append_new(rc->held, def))
        return NULL;
    return def;
}

static int load_schema_file(hub_cli_t *cli, const char *path,
                            resolve_ctx *rc, hub_schema_t **out) {
    hub_buf_t text = HUB_BUF_INIT;
    char err[1024], perr[768];
    int r = hub_buf_read_file(&text, path, 16 << 20, err, sizeof err);
    if (r == 0)
        r = hub_schema_parse(text.data ? text.data : "", text.len,
                             resolve_def, rc, out, perr, sizeof perr);
    hub_buf_free(&text);
    if (r == HUB_ESCHEMA || r == HUB_EINVAL)
        return hub_cli_fail(cli, "%s: %s", path, perr);
    if (r)
        return hub_cli_fail(cli, "%s", err);
    return 0;
}

static int report(const char *title, const hub_snode_t *w,
                  const hub_snode_t *r, const char *wname,
                  const char *rname) {
    hub_compat_t rep = {HUB_BUF_INIT, 0, wname, rname};
    int n = hub_schema_check_readable(w, r, &rep);
    if (n == 0)
        printf("%s: compatible\n", title);
    else
        printf("%s: %d breaking change%s\n%s", title, n, n == 1 ? "" : "s",
               rep.lines.data);
    hub_buf_free(&rep.lines);
    return n;
}

static int cmd_check(hub_cli_t *cli, hub_catalog_t *cat) {
    if (cli->nargs != 3)
        return hub_cli_usage_error(cli, "check needs OLD.avsc NEW.avsc");
    const char *mode = hub_cli_get(cli, "mode");
    if (!mode)
        mode = "full";
    int back = strcmp(mode, "backward") == 0 || strcmp(mode, "full") == 0;
    int fwd = strcmp(mode, "forward") == 0 || strcmp(mode, "full") == 0;
    if (!back && !fwd)
        return hub_cli_usage_error(cli, "--mode: expected backward, forward "
                                        "or full, got \"%s\"",
                                   mode);
    resolve_ctx rc = {cat, json_array()};
    hub_schema_t *olds = NULL, *news = NULL;
    int code = load_schema_file(cli, cli->args[1], &rc, &olds);
    if (!code)
        code = load_schema_file(cli, cli->args[2], &rc, &news);
    if (!code) {
        int problems = 0;
        const hub_snode_t *o = hub_schema_root(olds), *n = hub_schema_root(news);
        if (back)
            problems += report("backward (NEW reads data written with OLD)",
                               o, n, "OLD", "NEW");
        if (fwd)
            problems += report("forward (OLD reads data written with NEW)", n,
                               o, "NEW", "OLD");
        code = problems ? HUB_EXIT_FAIL : HUB_EXIT_OK;
    }
    hub_schema_free(olds);
    hub_schema_free(news);
    json_decref(rc.held);
    return code;
}

/* ------------------------------------------------------------------ */
/* release (for hub360's developers)                                   */
/* ------------------------------------------------------------------ */

/*
 * Composes every record in the source tree into its self-contained form
 * and compares it with the newest released text of its name. A new or
 * changed record gets the next id: its text goes to released/<id>.avsc
 * and a line to ids.tsv. Released ids are never reused or rewritten.
 */

typedef struct release_ctx {
    hub_cli_t *cli;
    const char *dir;
    json_t *defs;  /* full name -> definition */
    json_t *files; /* full name -> source path */
} release_ctx;

static int collect(release_ctx *c, const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return hub_cli_fail(c->cli, "%s: %m", dir);
    struct dirent *e;
    int code = 0;
    while (!code && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "released") == 0 ||
            strcmp(e->d_name, "examples") == 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st))
            continue;
        if (S_ISDIR(st.st_mode)) {
            code = collect(c, path);
            continue;
        }
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".avsc") != 0)
            continue;
        json_error_t jerr;
        json_t *def = json_load_file(path, 0, &jerr);
        char name[512];
        if (!def) {
            code = hub_cli_fail(c->cli, "%s:%d: %s", path, jerr.line,
                                jerr.text);
        } else if (hub_schema_def_name(def, name, sizeof name)) {
            code = hub_cli_fail(c->cli, "%s: no \"name\"", path);
        } else if (json_object_get(c->defs, name)) {
            code = hub_cli_fail(c->cli, "%s: %s is also defined in %s", path,
                                name,
                                json_string_value(
                                    json_object_get(c->files, name)));
        } else {
            json_object_set(c->defs, name, def);
            json_object_set_new(c->files, name, json_string(path));
        }
        json_decref(def);
    }
    closedir(d);
    return code;
}

/* Newest released id and text per name, from ids.tsv and released/. */
typedef struct released {
    int32_t max_id;
    json_t *latest; /* name -> [id, text] */
} released;

static int load_released(release_ctx *c, released *r) {
    r->max_id = 0;
    r->latest = json_object();
    char path[4096];
    snprintf(path, sizeof path, "%s/ids.tsv", c->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0; /* nothing released yet */
    char line[1024];
    int code = 0;
    while (!code && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *tab = strchr(line, '\t');
        long id = strtol(line, NULL, 10);
        if (!tab || id <= 0) {
            code = hub_cli_fail(c->cli, "%s: bad line \"%s\"", path, line);
            break;
        }
        char rpath[4096];
        snprintf(rpath, sizeof rpath, "%s/released/%ld.avsc", c->dir, id);
        hub_buf_t text = HUB_BUF_INIT;
        char err[1024];
        if (hub_buf_read_file(&text, rpath, 16 << 20, err, sizeof err)) {
            code = hub_cli_fail(c->cli, "%s", err);
        } else {
            while (text.len && text.data[text.len - 1] == '\n')
                text.data[--text.len] = '\0';
            json_object_set_new(r->latest, tab + 1,
                                json_pack("[is]", (json_int_t)id, text.data));
            if (id > r->max_id)
                r->max_id = (int32_t)id;
        }
        hub_buf_free(&text);
    }
    fclose(f);
    return code;
}

static int name_order(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    /* the envelope and the customer-360 record first, then by name */
    int rx = strcmp(x, HUB_SCHEMA_ENVELOPE) == 0     ? 0
             : strcmp(x, HUB_SCHEMA_CUSTOMER360) == 0 ? 1
                                                      : 2;
    int ry = strcmp(y, HUB_SCHEMA_ENVELOPE) == 0     ? 0
             : strcmp(y, HUB_SCHEMA_CUSTOMER360) == 0 ? 1
                                                      : 2;
    return rx != ry ? rx - ry : strcmp(x, y);
}

static int write_text(const char *path, const char *text, const char *mode) {
    FILE *f = fopen(path, mode);
    if (!f)
        return -1;
    int bad = fputs(text, f) < 0;
    return fclose(f) || bad ? -1 : 0;
}

static int cmd_release(hub_cli_t *cli) {
    release_ctx c = {cli, hub_cli_get(cli, "dir"), json_object(),
                     json_object()};
    if (!c.dir)
        c.dir = "schemas";
    int dry = hub_cli_has(cli, "dry-run"), force = hub_cli_has(cli, "force");
    released r = {0, NULL};
    int code = collect(&c, c.dir);
    if (!code)
        code = load_released(&c, &r);
    size_t n = json_object_size(c.defs), k = 0, changes = 0;
    const char **names = calloc(n ? n : 1, sizeof *names);
    const char *key;
    json_t *v;
    json_object_foreach(c.defs, key, v) names[k++] = key;
    hub_sort(names, n, sizeof *names, name_order);
    char rdir[4096];
    snprintf(rdir, sizeof rdir, "%s/released", c.dir);
    if (!code && !dry)
        mkdir(rdir, 0755);
    for (size_t i = 0; i < n && !code; i++) {
        char err[1024];
        json_t *composed = hub_schema_compose(c.defs, names[i], err, sizeof err);
        char *text = composed ? hub_json_compact(composed) : NULL;
        json_decref(composed);
        hub_schema_t *s = NULL;
        if (!text || hub_schema_parse(text, strlen(text), NULL, NULL, &s, err,
                                      sizeof err)) {
            code = hub_cli_fail(cli, "%s (%s): %s", names[i],
                                json_string_value(
                                    json_object_get(c.files, names[i])),
                                err);
            free(text);
            break;
        }
        json_t *prev = json_object_get(r.latest, names[i]);
        const char *prev_text = json_string_value(json_array_get(prev, 1));
        if (prev_text && strcmp(prev_text, text) == 0) {
            hub_schema_free(s);
            free(text);
            continue;
        }
        int breaking = 0;
        if (prev_text) {
            hub_schema_t *ps = NULL;
            if (hub_schema_parse(prev_text, strlen(prev_text), NULL, NULL, &ps,
                                 err, sizeof err) == 0) {
                hub_compat_t rep = {HUB_BUF_INIT, 0, "the released version",
                                    "the new version"};
                hub_schema_check_readable(hub_schema_root(ps),
                                          hub_schema_root(s), &rep);
                rep.writer = "the new version";
                rep.reader = "the released version";
                hub_schema_check_readable(hub_schema_root(s),
                                          hub_schema_root(ps), &rep);
                if (rep.problems) {
                    fprintf(stderr, "%s is not compatible with id %lld:\n%s",
                            names[i],
                            (long long)json_integer_value(
                                json_array_get(prev, 0)),
                            rep.lines.data);
                    breaking = 1;
                }
                hub_buf_free(&rep.lines);
            }
            hub_schema_free(ps);
        }
        hub_schema_free(s);
        changes++;
        int32_t id = ++r.max_id;
        if (breaking && !force) {
            code = hub_cli_fail(cli, "refusing to release an incompatible "
                                     "change (use --force to do it anyway)");
        } else if (dry) {
            printf("would release %s as id %d%s\n", names[i], (int)id,
                   prev_text ? " (changed)" : " (new)");
        } else {
            char path[4200], line[600];
            snprintf(path, sizeof path, "%s/%d.avsc", rdir, (int)id);
            snprintf(line, sizeof line, "%d\t%s\n", (int)id, names[i]);
            char idpath[4200];
            snprintf(idpath, sizeof idpath, "%s/ids.tsv", c.dir);
            hub_buf_t body = HUB_BUF_INIT;
            hub_buf_printf(&body, "%s\n", text);
            if (write_text(path, body.data, "w") ||
                write_text(idpath, line, "a"))
                code = hub_cli_fail(cli, "writing %s: %m", path);
            else
                printf("released %s as id %d%s\n", names[i], (int)id,
                       prev_text ? " (changed)" : " (new)");
            hub_buf_free(&body);
        }
        free(text);
    }
    if (!code && changes == 0)
        printf("nothing to release: every schema matches its released id\n");
    free(names);
    json_decref(c.defs);
    json_decref(c.files);
    json_decref(r.latest);
    if (code)
        return code;
    return dry && changes ? HUB_EXIT_FAIL : HUB_EXIT_OK;
}

static int run_schemas(hub_cli_t *cli) {
    if (cli->nargs < 1)
        return hub_cli_usage_error(cli, "expected a subcommand: list, show, "
                                        "check, types or release");
    const char *sub = cli->args[0];
    int rc = hub_cli_config(cli);
    if (rc)
        return rc;
    if (strcmp(sub, "release") == 0)
        return cmd_release(cli);
    char err[1024];
    hub_catalog_t *cat;
    if (hub_catalog_open(&cli->cfg->schema_registry, &cat, err, sizeof err))
        return hub_cli_fail(cli, "%s", err);
    if (strcmp(sub, "list") == 0)
        rc = cli->nargs == 1 ? cmd_list(cat)
                             : hub_cli_usage_error(cli, "list takes no "
                                                        "arguments");
    else if (strcmp(sub, "show") == 0)
        rc = cmd_show(cli, cat);
    else if (strcmp(sub, "check") == 0)
        rc = cmd_check(cli, cat);
    else if (strcmp(sub, "types") == 0)
        rc = cmd_types(cli, cat);
    else
        rc = hub_cli_usage_error(cli, "unknown subcommand \"%s\"", sub);
    hub_catalog_free(cat);
    return rc;
}

const hub_cmd_t hub_cmd_schemas = {
    "schemas",
    "list | show ID|NAME | check OLD.avsc NEW.avsc | types | release",
    "Inspect the schema catalogue and check schema compatibility.",
    "  list                 print \"ID NAME\" for every released schema\n"
    "  show ID|NAME         print the self-contained schema JSON a registry\n"
    "                       would serve for that id (NAME: its newest id)\n"
    "  check OLD NEW        can each version read the other's data? Names\n"
    "                       every breaking field; exits 1 if any. Names a\n"
    "                       file uses but does not define (hub360.Identity)\n"
    "                       come from the catalogue.\n"
    "  types                print every event type with its topic and record\n"
    "  release              (hub360 developers) give every new or changed\n"
    "                       record in --dir the next id, writing\n"
    "                       released/<id>.avsc and a line of ids.tsv",
    HUB_CLI_CONFIG,
    schemas_opts,
    run_schemas,
};
