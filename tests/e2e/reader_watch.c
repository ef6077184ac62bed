/*
 * tests/e2e/reader_watch.c - reads a store with libhub360 while a
 * projector writes it, for tests/e2e/test_reader.sh.
 *
 *     reader_watch STORE STOPFILE
 *
 * Waits for the store to exist, then until STOPFILE exists follows the
 * change feed and looks up every customer it names (by id, and by its
 * first alias when it has one), checking that each view is whole: a JSON
 * object with every field of the customer-360 record and the id asked
 * for. Then walks every customer once more and prints their JSON, one a
 * line in id order, which must be what `hub360 export` prints. Counts go
 * to stderr, among them the rounds that found new changes before
 * STOPFILE: the reads that overlapped the projector's writes. Exits 1
 * at the first view that is not whole.
 */
#include <hub360.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const fields[] = {"id", "aliases", "identities",
                                     "members", "profile", "sales", "orders",
                                     "service", "social", "segments",
                                     "updated_at"};

typedef struct watch {
    hub360_reader_t *r;
    uint64_t since, views, rounds;
    uint64_t moving; /* rounds that found new changes before STOPFILE */
    int bad;
} watch_t;

/* Is json a whole view of customer id? */
static int whole(const char *json, size_t len, const char *id) {
    json_t *j = json_loadb(json, len, 0, NULL);
    json_object_del(j, "resolved_from");
    int ok = json_is_object(j) &&
             strcmp(json_string_value(json_object_get(j, "id")) ?: "", id) == 0;
    for (size_t i = 0; ok && i < sizeof fields / sizeof *fields; i++)
        ok = json_object_get(j, fields[i]) != NULL;
    json_decref(j);
    return ok;
}

/* Looks ref up and checks the view: its own id when ref is one, else
 * resolved_from says ref. A customer gone since the change is fine. Then
 * the same for its first alias. */
static int check(watch_t *w, const char *ref) {
    hub360_view_t *v;
    const char *json;
    size_t len;
    int rc = hub360_get(w->r, ref, &v);
    if (rc == HUB360_ENOENT)
        return 0;
    if (rc == 0)
        rc = hub360_view_json(v, &json, &len);
    if (rc) {
        fprintf(stderr, "reader_watch: %s: %s\n", ref, hub360_strerror(rc));
        hub360_view_free(v);
        return rc;
    }
    const char *id = hub360_view_id(v), *from = hub360_view_resolved_from(v);
    int by_id = strcmp(ref, id) == 0;
    if (!whole(json, len, id) || by_id != (from == NULL) ||
        (from && strcmp(from, ref) != 0)) {
        fprintf(stderr, "reader_watch: %s is not whole: %.*s\n", ref,
                (int)len, json);
        rc = -1;
    }
    w->views++;
    char alias[64] = "";
    if (!rc && by_id && hub360_view_alias_count(v) > 0)
        snprintf(alias, sizeof alias, "%s", hub360_view_alias(v, 0));
    hub360_view_free(v);
    return rc ? rc : alias[0] ? check(w, alias) : 0;
}

static int on_change(const hub360_change_t *ch, void *opaque) {
    watch_t *w = opaque;
    w->since = ch->seq;
    if (!ch->deleted && check(w, ch->id)) {
        w->bad = 1;
        return 1;
    }
    return 0;
}

static int print_one(const char *id, const char *json, size_t len,
                     void *opaque) {
    (void)opaque;
    if (!whole(json, len, id))
        return 1;
    fwrite(json, 1, len, stdout);
    putchar('\n');
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: reader_watch STORE STOPFILE\n");
        return 2;
    }
    watch_t w = {0};
    char err[512];
    struct timespec pause = {0, 2 * 1000 * 1000};
    time_t deadline = time(NULL) + 60;
    while (hub360_open(argv[1], &w.r, err, sizeof err)) {
        if (time(NULL) > deadline || access(argv[2], F_OK) == 0) {
            fprintf(stderr, "reader_watch: %s\n", err);
            return 2;
        }
        nanosleep(&pause, NULL); /* the projector creates it */
    }
    int stop = 0;
    deadline = time(NULL) + 240;
    while (!w.bad && !stop) {
        stop = access(argv[2], F_OK) == 0; /* then one more round */
        uint64_t before = w.since;
        if (hub360_changes(w.r, w.since, 1000, on_change, &w) < 0)
            w.bad = 1;
        w.rounds++;
        if (!stop && w.since != before)
            w.moving++;
        if (w.since == before) /* caught up: poll, as a follower does */
            nanosleep(&pause, NULL);
        if (time(NULL) > deadline) {
            fprintf(stderr, "reader_watch: no stop file after 240 s\n");
            w.bad = 1;
        }
    }
    int rc = w.bad ? 1 : hub360_each(w.r, print_one, NULL) ? 1 : 0;
    fprintf(stderr,
            "reader_watch: %llu views whole in %llu rounds, %llu of them "
            "while the projector wrote\n",
            (unsigned long long)w.views, (unsigned long long)w.rounds,
            (unsigned long long)w.moving);
    hub360_close(w.r);
    return rc;
}
