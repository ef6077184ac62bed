/*
 * hub360 get, export, digest - read the customer-360 store.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c360.h"
#include "api.h"
#include "cli.h"
#include "commands.h"
#include "errors.h"
#include "identity.h"
#include "json.h"
#include "projector.h"
#include "stock.h"

static int open_store(hub_cli_t *cli, hub_c360_t **c) {
    int rc = hub_cli_config(cli);
    if (rc)
        return rc;
    char path[PATH_MAX], err[1024];
    hub_projector_store_path(cli->cfg, path, sizeof path);
    if (hub_c360_open_reader(path, c, err, sizeof err))
        return hub_cli_fail(cli, "%s", err);
    return 0;
}

/* get ------------------------------------------------------------------ */

static const hub_cli_opt_t get_opts[] = {
    {"timeline", 't', NULL, "print the customer's timeline instead, newest first"},
    {"limit", 'n', "N", "with --timeline: at most N items (default 50)"},
    {"before", 0, "CURSOR", "with --timeline: the page after the one whose "
                            "\"next\" was CURSOR"},
    {0},
};

/* get sku:CODE: the product view (the stock projection) */
static int get_product(hub_cli_t *cli, const char *sku, int timeline) {
    if (timeline)
        return hub_cli_usage_error(cli, "--timeline is a customer's; "
                                        "sku:%s is a product",
                                   sku);
    if (!*sku)
        return hub_cli_usage_error(cli, "sku: expected a SKU code after it");
    hub_c360_t *c;
    int rc = open_store(cli, &c);
    if (rc)
        return rc;
    hub_buf_t out = HUB_BUF_INIT;
    rc = hub_stock_product_json(hub_c360_stock(c), sku, &out);
    if (rc == HUB_ENOENT)
        rc = hub_cli_fail(cli, "no product %s", sku);
    else if (rc)
        rc = hub_cli_fail(cli, "%s", hub_strerror(rc));
    else
        printf("%s\n", out.data);
    hub_buf_free(&out);
    hub_c360_close(c);
    return rc;
}

static int run_get(hub_cli_t *cli) {
    if (cli->nargs != 1)
        return hub_cli_usage_error(cli, "expected one ID or KIND:VALUE");
    int timeline = hub_cli_has(cli, "timeline");
    long limit = hub_cli_long(cli, "limit", 50);
    if (limit < 0)
        return HUB_EXIT_USAGE; /* said already */
    if (limit < 1 || limit > 10000)
        return hub_cli_usage_error(cli, "--limit: expected 1 to 10000");
    if (!timeline && (hub_cli_has(cli, "limit") || hub_cli_has(cli, "before")))
        return hub_cli_usage_error(cli, "--limit and --before go with "
                                        "--timeline");
    if (strncmp(cli->args[0], "sku:", 4) == 0)
        return get_product(cli, cli->args[0] + 4, timeline);
    const char *colon = strchr(cli->args[0], ':');
    if (colon && hub_ident_kind_parse(cli->args[0],
                                      (size_t)(colon - cli->args[0])) < 0) {
        char kinds[256] = "";
        for (int k = 0; k < HUB_ID_NKINDS; k++)
            snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds),
                     "%s%s", k ? ", " : "", hub_ident_kind_name(k));
        return hub_cli_usage_error(cli, "unknown identity kind '%.*s' "
                                        "(kinds: %s; or sku:CODE)",
                                   (int)(colon - cli->args[0]),
                                   cli->args[0], kinds);
    }
    hub_c360_t *c;
    int rc = open_store(cli, &c);
    if (rc)
        return rc;
    hub_buf_t out = HUB_BUF_INIT;
    char id[64], next[HUB_C360_CURSOR_LEN] = "";
    if (timeline)
        rc = hub_c360_timeline_json(c, cli->args[0], hub_cli_get(cli, "before"),
                                    (size_t)limit, &out, next, id, sizeof id);
    else
        rc = hub_c360_get_json(c, cli->args[0], &out, id, sizeof id);
    if (rc == HUB_ENOENT && hub_c360_never_applied(c)) {
        char path[PATH_MAX];
        hub_projector_store_path(cli->cfg, path, sizeof path);
        rc = hub_cli_fail(cli, "no customer %s: the store at %s has no "
                               "event yet (`hub360 project` fills it from "
                               "Kafka; has it run?)",
                          cli->args[0], path);
    } else if (rc == HUB_ENOENT) {
        rc = hub_cli_fail(cli, "no customer %s", cli->args[0]);
    } else if (rc == HUB_EINVAL) {
        rc = hub_cli_usage_error(cli, "--before: expected a cursor as printed "
                                      "in \"next\"");
    } else if (rc) {
        rc = hub_cli_fail(cli, "%s", hub_strerror(rc));
    } else if (timeline) {
        hub_buf_t doc = HUB_BUF_INIT;
        hub_json_timeline_doc(&doc, id, out.data, out.len, next);
        printf("%s\n", doc.data);
        hub_buf_free(&doc);
    } else {
        printf("%s\n", out.data);
    }
    hub_buf_free(&out);
    hub_c360_close(c);
    return rc;
}

const hub_cmd_t hub_cmd_get = {
    "get",
    "ID | KIND:VALUE | sku:CODE",
    "Print a customer's view, or its timeline, or a product's stock, as JSON.",
    "ID is a customer id or an alias of one (an id a merge absorbed);\n"
    "KIND:VALUE is any identity (email:ann@example.com, phone:+8613800138000,\n"
    "wechat_openid:o6_...), normalized the way the projector normalizes.\n"
    "With --timeline it prints {\"customer_id\", \"items\": [...], \"next\"}:\n"
    "the events of every entity merged into the customer, newest first; pass\n"
    "\"next\" to --before for the following page (null: none left).\n"
    "sku:CODE prints the product view of that SKU instead (the stock\n"
    "projection): on hand, reserved, available, on order, returned, the last\n"
    "movement and the orders that oversell it, in total and per warehouse,\n"
    "as GET /v1/products/{sku} answers.\n"
    "Exits 1 with a message when there is no such customer or product.",
    HUB_CLI_CONFIG,
    get_opts,
    run_get,
};

/* export ----------------------------------------------------------------- */

static const hub_cli_opt_t export_opts[] = {
    {"format", 'f', "FORMAT", "ndjson (default) or csv"},
    {"products", 'p', NULL, "the product views (stock) instead of the "
                            "customers"},
    {"out", 'o', "FILE", "write to FILE instead of standard output"},
    {0},
};

typedef struct export_ctx {
    FILE *out;
    int csv;
    size_t n;
    hub_buf_t line;
} export_ctx;

static void csv_field(hub_buf_t *b, const char *s, size_t len) {
    int quote = 0;
    for (size_t i = 0; i < len && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        hub_buf_append(b, s, len);
        return;
    }
    hub_buf_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            hub_buf_putc(b, '"');
        hub_buf_putc(b, s[i]);
    }
    hub_buf_putc(b, '"');
}

static void csv_json(hub_buf_t *b, const json_t *v) {
    if (!v || json_is_null(v))
        return;
    if (json_is_string(v)) {
        csv_field(b, json_string_value(v), json_string_length(v));
        return;
    }
    hub_buf_t tmp = HUB_BUF_INIT;
    hub_json_put_value(&tmp, v);
    csv_field(b, tmp.data, tmp.len);
    hub_buf_free(&tmp);
}

/* "CNY 1299.00; USD 5.00" style lists are ambiguous in minor units, so
 * money goes out as "CNY:129900;USD:500". */
static void csv_money(hub_buf_t *b, const json_t *arr) {
    hub_buf_t tmp = HUB_BUF_INIT;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *m = json_array_get(arr, i);
        hub_buf_printf(&tmp, "%s%s:%" JSON_INTEGER_FORMAT, i ? ";" : "",
                       json_string_value(json_object_get(m, "currency")),
                       json_integer_value(json_object_get(m, "amount")));
    }
    csv_field(b, tmp.data ? tmp.data : "", tmp.len);
    hub_buf_free(&tmp);
}

static void csv_list(hub_buf_t *b, const json_t *arr, const char *member) {
    hub_buf_t tmp = HUB_BUF_INIT;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *x = json_array_get(arr, i);
        if (member)
            x = json_object_get(x, member);
        if (json_is_string(x))
            hub_buf_printf(&tmp, "%s%s", tmp.len ? ";" : "",
                           json_string_value(x));
    }
    csv_field(b, tmp.data ? tmp.data : "", tmp.len);
    hub_buf_free(&tmp);
}

static const json_t *at(const json_t *v, const char *a, const char *b) {
    v = json_object_get(v, a);
    return b ? json_object_get(v, b) : v;
}

/* The accounts that follow us, as platform:handle. */
static void csv_following(hub_buf_t *b, const json_t *accts) {
    hub_buf_t f = HUB_BUF_INIT;
    for (size_t i = 0; i < json_array_size(accts); i++) {
        const json_t *a = json_array_get(accts, i);
        if (json_is_true(json_object_get(a, "following")))
            hub_buf_printf(&f, "%s%s:%s", f.len ? ";" : "",
                           json_string_value(json_object_get(a, "platform")),
                           json_string_value(json_object_get(a, "handle")));
    }
    csv_field(b, f.data ? f.data : "", f.len);
    hub_buf_free(&f);
}

/* The flat CSV columns (documented in projections/README.md): the view's
 * field at a.b (b NULL: a), written as kind says. */
enum { C_VALUE, C_LIST, C_VALUES, C_MONEY, C_COUNT, C_FOLLOWING };
static const struct csv_column {
    const char *name, *a, *b;
    int kind;
} csv_columns[] = {
    {"id", "id", NULL, C_VALUE},
    {"name", "profile", "name", C_VALUE},
    {"company", "profile", "company", C_VALUE},
    {"email", "profile", "emails", C_VALUES},
    {"phone", "profile", "phones", C_VALUES},
    {"region", "profile", "region", C_VALUE},
    {"lifecycle_stage", "sales", "lifecycle_stage", C_VALUE},
    {"owner", "sales", "owner", C_VALUE},
    {"orders", "orders", "count", C_VALUE},
    {"revenue", "orders", "revenue", C_MONEY},
    {"open_orders", "orders", "open", C_VALUE},
    {"tickets_open", "service", "tickets_open", C_VALUE},
    {"tickets_total", "service", "tickets_total", C_VALUE},
    {"csat_mean", "service", "csat_mean", C_VALUE},
    {"nps_mean", "service", "nps_mean", C_VALUE},
    {"sentiment_mean", "social", "sentiment_mean", C_VALUE},
    {"mentions", "social", "mentions", C_VALUE},
    {"messages_in", "social", "messages_in", C_VALUE},
    {"following", "social", "accounts", C_FOLLOWING},
    {"segments", "segments", NULL, C_LIST},
    {"members", "members", NULL, C_COUNT},
    {"aliases", "aliases", NULL, C_LIST},
    {"updated_at", "updated_at", NULL, C_VALUE},
};
#define NCSV (sizeof csv_columns / sizeof csv_columns[0])

static void csv_row(hub_buf_t *b, const json_t *v) {
    for (size_t i = 0; i < NCSV; i++) {
        const struct csv_column *col = &csv_columns[i];
        const json_t *x = at(v, col->a, col->b);
        if (i)
            hub_buf_putc(b, ',');
        switch (col->kind) {
        case C_VALUE: /* sourced fields carry theirs in "value" */
            csv_json(b, json_is_object(x) ? json_object_get(x, "value") : x);
            break;
        case C_LIST: csv_list(b, x, NULL); break;
        case C_VALUES: csv_list(b, x, "value"); break;
        case C_MONEY: csv_money(b, x); break;
        case C_COUNT: hub_buf_printf(b, "%zu", json_array_size(x)); break;
        case C_FOLLOWING: csv_following(b, x); break;
        }
    }
    hub_buf_puts(b, "\r\n");
}

static int export_one(const char *id, const char *json, size_t len,
                      void *opaque) {
    (void)id;
    export_ctx *x = opaque;
    x->n++;
    if (!x->csv) {
        fwrite(json, 1, len, x->out);
        fputc('\n', x->out);
        return ferror(x->out) ? HUB_EIO : 0;
    }
    json_t *v = json_loadb(json, len, 0, NULL);
    if (!v)
        return HUB_EDECODE;
    hub_buf_reset(&x->line);
    csv_row(&x->line, v);
    json_decref(v);
    fwrite(x->line.data, 1, x->line.len, x->out);
    return ferror(x->out) ? HUB_EIO : 0;
}

/* --products: the CSV columns, one row per SKU and warehouse */
static const char *const product_columns[] = {
    "sku", "warehouse", "tracked", "on_hand", "reserved", "available",
    "on_order_purchase", "on_order_production", "returned",
    "oversold_quantity", "oversold_orders", "last_movement_at",
};
#define NPCSV (sizeof product_columns / sizeof product_columns[0])

static int export_product(const char *sku, const char *json, size_t len,
                          void *opaque) {
    export_ctx *x = opaque;
    if (!x->csv)
        return export_one(sku, json, len, opaque);
    x->n++;
    json_t *v = json_loadb(json, len, 0, NULL);
    if (!v)
        return HUB_EDECODE;
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(v, "warehouses"), i, w) {
        hub_buf_reset(&x->line);
        csv_field(&x->line, sku, strlen(sku));
        for (size_t c = 1; c < 9; c++) { /* warehouse .. returned */
            hub_buf_putc(&x->line, ',');
            csv_json(&x->line, json_object_get(w, product_columns[c]));
        }
        hub_buf_putc(&x->line, ',');
        csv_json(&x->line, at(w, "oversold", "quantity"));
        hub_buf_putc(&x->line, ',');
        csv_list(&x->line, at(w, "oversold", "orders"), "order");
        hub_buf_putc(&x->line, ',');
        csv_json(&x->line, at(w, "last_movement", "at"));
        hub_buf_puts(&x->line, "\r\n");
        fwrite(x->line.data, 1, x->line.len, x->out);
    }
    json_decref(v);
    return ferror(x->out) ? HUB_EIO : 0;
}

static int run_export(hub_cli_t *cli) {
    const char *format = hub_cli_get(cli, "format");
    if (format && strcmp(format, "ndjson") && strcmp(format, "csv"))
        return hub_cli_usage_error(cli, "--format: expected ndjson or csv, "
                                        "got \"%s\"",
                                   format);
    hub_c360_t *c;
    int rc = open_store(cli, &c);
    if (rc)
        return rc;
    const char *path = hub_cli_get(cli, "out");
    export_ctx x = {path ? fopen(path, "w") : stdout,
                    format && strcmp(format, "csv") == 0, 0, HUB_BUF_INIT};
    if (!x.out) {
        hub_c360_close(c);
        return hub_cli_fail(cli, "%s: %m", path);
    }
    int products = hub_cli_has(cli, "products");
    if (x.csv) {
        for (size_t i = 0; i < (products ? NPCSV : NCSV); i++)
            fprintf(x.out, "%s%s", i ? "," : "",
                    products ? product_columns[i] : csv_columns[i].name);
        fputs("\r\n", x.out);
    }
    rc = products ? hub_stock_each(hub_c360_stock(c), export_product, &x)
                  : hub_c360_each(c, export_one, &x);
    hub_buf_free(&x.line);
    int closed = path ? fclose(x.out) : fflush(x.out);
    hub_c360_close(c);
    if (rc || closed)
        return hub_cli_fail(cli, "export failed: %s",
                            rc ? hub_strerror(rc) : "write error");
    if (path)
        fprintf(stderr, "%zu %s written to %s\n", x.n,
                products ? "products" : "customers", path);
    return HUB_EXIT_OK;
}

const hub_cmd_t hub_cmd_export = {
    "export",
    NULL,
    "Write every customer's view in id order, or every product's.",
    "NDJSON: one view per line, exactly what `hub360 get` prints. CSV: a\n"
    "header row and one flat row per customer (columns documented in\n"
    "projections/README.md; money as CUR:minor-units;... lists joined by\n"
    "';'; RFC 4180 quoting).\n"
    "With --products: every product view instead, in SKU order (NDJSON: what\n"
    "`hub360 get sku:CODE` prints; CSV: one row per SKU and warehouse with\n"
    "the columns sku, warehouse, tracked, on_hand, reserved, available,\n"
    "on_order_purchase, on_order_production, returned, oversold_quantity,\n"
    "oversold_orders (the orders, ';'-joined), last_movement_at).",
    HUB_CLI_CONFIG,
    export_opts,
    run_export,
};

/* digest ----------------------------------------------------------------- */

static int run_digest(hub_cli_t *cli) {
    hub_c360_t *c;
    int rc = open_store(cli, &c);
    if (rc)
        return rc;
    char hex[65];
    uint64_t n = 0;
    rc = hub_c360_digest(c, hex, &n);
    hub_c360_close(c);
    if (rc)
        return hub_cli_fail(cli, "%s", hub_strerror(rc));
    printf("%s %llu customers\n", hex, (unsigned long long)n);
    return HUB_EXIT_OK;
}

const hub_cmd_t hub_cmd_digest = {
    "digest",
    NULL,
    "Print a SHA-256 over all customer views in id order, to compare two stores.",
    "Two stores that applied the same events, in any order, print the same\n"
    "line. Bookkeeping (offsets, change sequence numbers) is left out, and\n"
    "so are the product views and the daily figures: compare those with\n"
    "`hub360 export --products | sha256sum` and `hub360 report`.",
    HUB_CLI_CONFIG,
    NULL,
    run_digest,
};
