/*
 * hub360 - the schema catalogue.
 */
#include "catalog.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"
#include "errors.h"
#include "registry.h"

typedef struct cat_entry {
    int32_t id;
    char *name;
    hub_schema_t *schema;
} cat_entry;

struct hub_catalog {
    cat_entry *local; /* sorted by id */
    size_t nlocal;
    hub_registry_config_t registry; /* url "" when local only */
    pthread_mutex_t lock;           /* guards the two arrays below */
    cat_entry *fetched;             /* registry ids seen in messages */
    size_t nfetched, capfetched;
    cat_entry *registered;          /* name = subject, id = registry id */
    size_t nregistered, capregistered;
};

static const hub_embedded_file_t *embedded(const char *name) {
    for (const hub_embedded_file_t *f = hub_embedded_files; f->name; f++) {
        if (strcmp(f->name, name) == 0)
            return f;
    }
    return NULL;
}

static int push_entry(cat_entry **arr, size_t *n, size_t *cap, int32_t id,
                      const char *name, hub_schema_t *schema) {
    if (hub_array_grow(arr, cap, *n, sizeof **arr, 16))
        return HUB_ENOMEM;
    char *dup = name ? strdup(name) : NULL;
    if (name && !dup)
        return HUB_ENOMEM;
    (*arr)[*n] = (cat_entry){id, dup, schema};
    (*n)++;
    return 0;
}

static void free_entries(cat_entry *arr, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(arr[i].name);
        hub_schema_free(arr[i].schema);
    }
    free(arr);
}

/* Parses ids.tsv ("ID<TAB>NAME" lines, '#' comments) and the released
 * schema text of every id. */
static int load_local(hub_catalog_t *cat, char *err, size_t errlen) {
    const hub_embedded_file_t *ids = embedded("ids.tsv");
    if (!ids)
        return hub_fail(err, errlen, HUB_ESCHEMA,
                        "built-in catalogue has no ids.tsv");
    size_t cap = 0;
    int32_t last = 0;
    int line = 0;
    for (const char *p = ids->data; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char row[512];
        line++;
        snprintf(row, sizeof row, "%.*s", (int)len, p);
        p += len + (eol ? 1 : 0);
        if (row[0] == '#' || row[0] == '\0')
            continue;
        char *tab = strchr(row, '\t'), *end;
        errno = 0;
        long id = strtol(row, &end, 10);
        if (!tab || end != tab || errno || id <= last || id > INT32_MAX)
            return hub_fail(err, errlen, HUB_ESCHEMA,
                            "schemas/ids.tsv:%d: expected \"ID<TAB>NAME\" "
                            "with increasing ids",
                            line);
        last = (int32_t)id;
        char fname[64];
        snprintf(fname, sizeof fname, "released/%ld.avsc", id);
        const hub_embedded_file_t *f = embedded(fname);
        if (!f)
            return hub_fail(err, errlen, HUB_ESCHEMA,
                            "schemas/ids.tsv:%d: schemas/%s is missing", line,
                            fname);
        hub_schema_t *s = NULL;
        char perr[256];
        int rc = hub_schema_parse(f->data, f->len, NULL, NULL, &s, perr,
                                  sizeof perr);
        if (rc)
            return hub_fail(err, errlen, rc, "schemas/%s: %s", fname, perr);
        const hub_snode_t *root = hub_schema_root(s);
        if (!root->fullname || strcmp(root->fullname, tab + 1) != 0) {
            hub_schema_free(s);
            return hub_fail(err, errlen, HUB_ESCHEMA,
                            "schemas/%s defines %s, ids.tsv says %s", fname,
                            root->fullname ? root->fullname : "(unnamed)",
                            tab + 1);
        }
        if ((rc = push_entry(&cat->local, &cat->nlocal, &cap, (int32_t)id,
                             tab + 1, s))) {
            hub_schema_free(s);
            return rc;
        }
    }
    return 0;
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

int hub_catalog_open(const hub_registry_config_t *registry,
                     hub_catalog_t **out, char *err, size_t errlen) {
    *out = NULL;
    hub_catalog_t *cat = calloc(1, sizeof *cat);
    if (!cat)
        return HUB_ENOMEM;
    pthread_mutex_init(&cat->lock, NULL);
    cat->registry.url = dup_or_empty(registry ? registry->url : "");
    cat->registry.username = dup_or_empty(registry ? registry->username : "");
    cat->registry.password = dup_or_empty(registry ? registry->password : "");
    cat->registry.timeout_ms = registry ? registry->timeout_ms : 10000;
    int rc = (!cat->registry.url || !cat->registry.username ||
              !cat->registry.password)
                 ? HUB_ENOMEM
                 : load_local(cat, err, errlen);
    if (rc) {
        hub_catalog_free(cat);
        return rc;
    }
    *out = cat;
    return 0;
}

void hub_catalog_free(hub_catalog_t *cat) {
    if (!cat)
        return;
    free_entries(cat->local, cat->nlocal);
    free_entries(cat->fetched, cat->nfetched);
    free_entries(cat->registered, cat->nregistered);
    free(cat->registry.url);
    free(cat->registry.username);
    free(cat->registry.password);
    pthread_mutex_destroy(&cat->lock);
    free(cat);
}

size_t hub_catalog_count(const hub_catalog_t *cat) { return cat->nlocal; }

void hub_catalog_at(const hub_catalog_t *cat, size_t i, int32_t *id,
                    const char **name, const hub_schema_t **schema) {
    if (id)
        *id = cat->local[i].id;
    if (name)
        *name = cat->local[i].name;
    if (schema)
        *schema = cat->local[i].schema;
}

const hub_schema_t *hub_catalog_latest(const hub_catalog_t *cat,
                                       const char *name, int32_t *id) {
    for (size_t i = cat->nlocal; i-- > 0;) {
        if (strcmp(cat->local[i].name, name) == 0) {
            if (id)
                *id = cat->local[i].id;
            return cat->local[i].schema;
        }
    }
    return NULL;
}

static const cat_entry *local_by_id(const hub_catalog_t *cat, int32_t id) {
    size_t lo = 0, hi = cat->nlocal;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cat->local[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < cat->nlocal && cat->local[lo].id == id ? &cat->local[lo]
                                                        : NULL;
}

int hub_catalog_find(const hub_catalog_t *cat, const char *id_or_name,
                     int32_t *id, const hub_schema_t **schema) {
    char *end;
    long n = strtol(id_or_name, &end, 10);
    if (*id_or_name && !*end) {
        const cat_entry *e = local_by_id(cat, (int32_t)n);
        if (!e)
            return HUB_ENOENT;
        *id = e->id;
        *schema = e->schema;
        return 0;
    }
    *schema = hub_catalog_latest(cat, id_or_name, id);
    return *schema ? 0 : HUB_ENOENT;
}

int hub_catalog_get(hub_catalog_t *cat, int32_t id, const hub_schema_t **out,
                    char *err, size_t errlen) {
    if (!*cat->registry.url) {
        const cat_entry *e = local_by_id(cat, id);
        if (!e)
            return hub_fail(err, errlen, HUB_ENOENT,
                            "unknown schema id %d (not in the local "
                            "catalogue)",
                            (int)id);
        *out = e->schema;
        return 0;
    }
    pthread_mutex_lock(&cat->lock);
    for (size_t i = 0; i < cat->nfetched; i++) {
        if (cat->fetched[i].id == id) {
            *out = cat->fetched[i].schema;
            pthread_mutex_unlock(&cat->lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&cat->lock);

    /* Fetch without the lock held; a racing fetch of the same id only
     * costs a duplicate request, the first result wins below. */
    char *text = NULL;
    int rc = hub_registry_fetch(&cat->registry, id, &text, err, errlen);
    if (rc)
        return rc;
    hub_schema_t *s = NULL;
    char perr[256];
    rc = hub_schema_parse(text, strlen(text), NULL, NULL, &s, perr,
                          sizeof perr);
    free(text);
    if (rc)
        return hub_fail(err, errlen, rc, "schema id %d from the registry: %s",
                        (int)id, perr);
    pthread_mutex_lock(&cat->lock);
    for (size_t i = 0; i < cat->nfetched; i++) {
        if (cat->fetched[i].id == id) {
            hub_schema_free(s);
            *out = cat->fetched[i].schema;
            pthread_mutex_unlock(&cat->lock);
            return 0;
        }
    }
    rc = push_entry(&cat->fetched, &cat->nfetched, &cat->capfetched, id, NULL,
                    s);
    if (rc)
        hub_schema_free(s);
    else
        *out = s;
    pthread_mutex_unlock(&cat->lock);
    return rc;
}

int hub_catalog_writer_id(hub_catalog_t *cat, const char *name,
                          const char *subject, int32_t *id, char *err,
                          size_t errlen) {
    const hub_schema_t *s = hub_catalog_latest(cat, name, id);
    if (!s)
        return hub_fail(err, errlen, HUB_ENOENT, "no schema named %s", name);
    if (!*cat->registry.url)
        return 0;
    pthread_mutex_lock(&cat->lock);
    for (size_t i = 0; i < cat->nregistered; i++) {
        if (strcmp(cat->registered[i].name, subject) == 0) {
            *id = cat->registered[i].id;
            pthread_mutex_unlock(&cat->lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&cat->lock);
    int32_t rid;
    int rc = hub_registry_register(&cat->registry, subject,
                                   hub_schema_text(s), &rid, err, errlen);
    if (rc)
        return rc;
    /* Our own messages decode without asking the registry back. */
    hub_schema_t *copy = NULL;
    const char *text = hub_schema_text(s);
    rc = hub_schema_parse(text, strlen(text), NULL, NULL, &copy, err, errlen);
    if (rc)
        return rc;
    pthread_mutex_lock(&cat->lock);
    rc = push_entry(&cat->registered, &cat->nregistered, &cat->capregistered,
                    rid, subject, NULL);
    int known = 0;
    for (size_t i = 0; i < cat->nfetched; i++)
        known |= cat->fetched[i].id == rid;
    if (!rc && !known) {
        rc = push_entry(&cat->fetched, &cat->nfetched, &cat->capfetched, rid,
                        NULL, copy);
        copy = rc ? copy : NULL;
    }
    pthread_mutex_unlock(&cat->lock);
    hub_schema_free(copy);
    *id = rid;
    return rc;
}
