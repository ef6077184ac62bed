/*
 * Test helpers for the customer-360 projection.
 */
#include "c360_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "codec.h"
#include "errors.h"
#include "gen.h"
#include "harness.h"

int events_from_text(const char *text, events_t *out) {
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len && p[0] != '#') {
            if (out->n == cap) {
                cap = cap ? cap * 2 : 64;
                out->lines = realloc(out->lines, cap * sizeof *out->lines);
            }
            out->lines[out->n++] = strndup(p, len);
        }
        p += len + (nl ? 1 : 0);
    }
    return 0;
}

void events_free(events_t *e) {
    for (size_t i = 0; i < e->n; i++)
        free(e->lines[i]);
    free(e->lines);
    memset(e, 0, sizeof *e);
}

int events_generate(size_t n, unsigned seed, int control, int dups,
                    events_t *out) {
    hub_gen_opts_t o = {.events = n, .seed = seed, .control_pct = control,
                        .duplicate_pct = dups};
    hub_gen_t *g = hub_gen_new(&o);
    hub_buf_t b = HUB_BUF_INIT;
    while (hub_gen_next(g, &b))
        hub_buf_putc(&b, '\n');
    hub_gen_free(g);
    int rc = events_from_text(b.data, out);
    hub_buf_free(&b);
    return rc;
}

size_t events_wanted(size_t dflt) {
    const char *n = getenv("HUB360_TEST_EVENTS");
    return n && *n ? (size_t)strtoul(n, NULL, 10) : dflt;
}

size_t *shuffled(size_t n, unsigned seed) {
    size_t *o = malloc(n * sizeof *o);
    for (size_t i = 0; i < n; i++)
        o[i] = i;
    srand(seed);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rand() % i;
        size_t t = o[i - 1];
        o[i - 1] = o[j];
        o[j] = t;
    }
    return o;
}

static pid_t stores_owner; /* the process whose stores these are */

/* The test harness counts the failures; fuzz_http borrows these helpers
 * without it, so the counter may not be there. */
extern int hub_test_failures __attribute__((weak));

/* At the end of a run that passed, its stores go (one that failed keeps
 * them to be looked at); a child that exits leaves them alone. */
static void remove_stores(void) {
    int failed = &hub_test_failures != NULL && hub_test_failures;
    if (getpid() != stores_owner || failed)
        return;
    char cmd[4400];
    long pid = (long)stores_owner;
    if (snprintf(cmd, sizeof cmd, "rm -rf '%s/tests/stores/'*-%ld "
                 "'%s/tests/stores/'*-%ld.[0-9]*", HUB360_BINARY_DIR, pid,
                 HUB360_BINARY_DIR, pid) < (int)sizeof cmd &&
        system(cmd) != 0)
        fprintf(stderr, "could not remove the stores of process %ld\n", pid);
}

const char *fresh_store(const char *name) {
    static char path[4200];
    char dir[4096];
    if (!stores_owner) {
        stores_owner = getpid();
        atexit(remove_stores);
    }
    snprintf(dir, sizeof dir, "%s/tests/stores", HUB360_BINARY_DIR);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/%s-%ld", dir, name, (long)getpid());
    char cmd[8300];
    if (snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'.[0-9]*", path, path) >= (int)sizeof cmd)
        return path;
    if (system(cmd) != 0)
        fprintf(stderr, "could not clear %s\n", path);
    return path;
}

hub_config_t *config_from(const char *yaml) {
    hub_config_t *cfg = NULL;
    char err[512];
    if (hub_config_parse("test.yaml", yaml, strlen(yaml), &cfg, err,
                         sizeof err)) {
        fprintf(stderr, "config: %s\n", err);
        return NULL;
    }
    return cfg;
}

int64_t harness_clock_ms;
uint64_t harness_stock_oversold;
int harness_abort_halfway;

int apply_events(const hub_config_t *cfg, const char *store,
                 const events_t *ev, const size_t *order, size_t batch,
                 size_t counts[4], hub_buf_t *dead_errors) {
    char err[1024] = "";
    hub_catalog_t *cat = NULL;
    hub_codec_t *codec = NULL;
    hub_c360_t *c = NULL;
    int rc = hub_catalog_open(NULL, &cat, err, sizeof err);
    if (!rc)
        rc = hub_codec_new(cat, "hub360.", &codec, err, sizeof err);
    if (!rc)
        rc = hub_c360_open(cfg, store, codec, &c, err, sizeof err);
    if (rc) {
        fprintf(stderr, "apply_events: %s\n", err);
        hub_c360_close(c);
        hub_codec_free(codec);
        hub_catalog_free(cat);
        return rc;
    }
    hub_c360_set_cluster(c, "test-cluster");
    hub_c360_set_clock(c, harness_clock_ms);
    hub_encoded_t enc = {HUB_BUF_INIT, HUB_BUF_INIT, 0, NULL};
    /* odd batch sizes go through hub_c360_prepare: the tests that compare
     * stores across batchings compare both ways of decoding too */
    int prepare = batch % 2 == 1;
    hub_c360_msg_t *msgs = calloc(batch, sizeof *msgs);
    char **owned = calloc(batch, sizeof *owned);
    if (!msgs || !owned)
        rc = HUB_ENOMEM;
    for (size_t i = 0; !rc && i < ev->n; i += batch) {
        if ((rc = hub_c360_begin(c)))
            break;
        size_t n = 0;
        for (size_t j = i; !rc && j < ev->n && j < i + batch; j++, n++) {
            const char *line = ev->lines[order ? order[j] : j];
            const void *value = line;
            size_t len = strlen(line);
            /* lines that encode go in framed; the others as they are, to
             * exercise the dead-letter path */
            if (hub_codec_encode_text(codec, line, len, &enc, err,
                                      sizeof err) == 0) {
                value = enc.value.data;
                len = enc.value.len;
            }
            if (!(owned[n] = malloc(len ? len : 1))) {
                rc = HUB_ENOMEM;
                break;
            }
            memcpy(owned[n], value, len);
            msgs[n] = (hub_c360_msg_t){"hub360.crm.events", 0, (int64_t)j,
                                       NULL, 0, owned[n], len};
        }
        err[0] = '\0'; /* the encoder's refusals above are meant */
        if (!rc && prepare && harness_abort_halfway) {
            rc = hub_c360_prepare(c, msgs, n);
            for (size_t j = 0; !rc && j < n / 2; j++) {
                hub_c360_result_t res;
                rc = hub_c360_apply(c, &msgs[j], &res);
            }
            hub_c360_abort(c);
            if (!rc)
                rc = hub_c360_begin(c);
        }
        if (!rc && prepare)
            rc = hub_c360_prepare(c, msgs, n);
        for (size_t j = 0; !rc && j < n; j++) {
            hub_c360_result_t res;
            rc = hub_c360_apply(c, &msgs[j], &res);
            if (counts)
                counts[res.outcome]++;
            if (res.outcome == HUB_C360_DEAD && dead_errors)
                hub_buf_printf(dead_errors, "%s\n", res.error);
        }
        hub_c360_stats_t st;
        if (!rc && !(rc = hub_c360_commit(c, &st, err, sizeof err)))
            harness_stock_oversold += st.stock_oversold;
        else
            hub_c360_abort(c);
        if (rc) /* hub_c360_apply names no cause; its error code does */
            fprintf(stderr, "apply_events: %s\n",
                    err[0] ? err : hub_strerror(rc));
        for (size_t j = 0; j < n; j++) {
            free(owned[j]);
            owned[j] = NULL;
        }
    }
    free(msgs);
    free(owned);
    hub_encoded_free(&enc);
    hub_c360_close(c);
    hub_codec_free(codec);
    hub_catalog_free(cat);
    return rc;
}

static int append_line(const char *id, const char *json, size_t len,
                       void *opaque) {
    (void)id;
    hub_buf_append(opaque, json, len);
    hub_buf_putc(opaque, '\n');
    return 0;
}

int export_store(const char *store, hub_buf_t *out, char digest[65]) {
    hub_c360_t *c;
    char err[512];
    int rc = hub_c360_open_reader(store, &c, err, sizeof err);
    if (rc) {
        fprintf(stderr, "export_store: %s\n", err);
        return rc;
    }
    if (out)
        rc = hub_c360_each(c, append_line, out);
    if (!rc && digest)
        rc = hub_c360_digest(c, digest, NULL);
    hub_c360_close(c);
    return rc;
}
