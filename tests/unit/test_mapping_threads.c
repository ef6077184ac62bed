/*
 * Mappings run on several threads at once, as the adapters of `hub360
 * up` run theirs right after a start: each thread its own mapping, all
 * reaching their first regular expression together. Run under helgrind
 * (ctest helgrind.mapping_threads): oniguruma, under jq's regexes,
 * initialized its globals on the first onig_new without a lock, and two
 * threads there raced (the likely cause of a `hub360 up` that aborted
 * with "double free or corruption"); hub_mapping_new now has that done
 * once, first. Without helgrind it checks the events each thread's
 * mapping made.
 */
#include <jansson.h>
#include <pthread.h>
#include <string.h>

#include "errors.h"
#include "harness.h"
#include "mapping.h"

#define NTHREADS 4

static pthread_barrier_t start;
static hub_mapping_t *maps[NTHREADS];
static char got[NTHREADS][256];

static void *run(void *arg) {
    int i = (int)(intptr_t)arg;
    json_t *rec = json_pack("{ss}", "name", "  Ann  Li  ");
    json_t *src = json_object(), *meta = json_object(), *out = json_array();
    char err[256] = "";
    pthread_barrier_wait(&start);
    int rc = hub_mapping_events(maps[i], rec, src, meta, out, err, sizeof err);
    char *s = rc ? NULL : json_dumps(out, JSON_COMPACT);
    snprintf(got[i], sizeof got[i], "%s", s ? s : err);
    free(s);
    json_decref(rec);
    json_decref(src);
    json_decref(meta);
    json_decref(out);
    return NULL;
}

TEST(mappings_run_their_first_regex_on_several_threads_at_once) {
    static const char text[] =
        "def events: {name: (.name | sub(\"^\\\\s+\"; \"\") | "
        "sub(\"\\\\s+$\"; \"\") | gsub(\"\\\\s+\"; \" \")), "
        "short: (.name | test(\"^.{0,8}$\"))};\n";
    json_object_seed(0); /* before any thread, as hub360's main does */
    char err[256] = "";
    for (int i = 0; i < NTHREADS; i++)
        REQUIRE(hub_mapping_new("threads.jq", text, sizeof text - 1,
                                &maps[i], err, sizeof err) == 0);
    pthread_barrier_init(&start, NULL, NTHREADS);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        REQUIRE(pthread_create(&t[i], NULL, run, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < NTHREADS; i++) {
        CHECK_STR(got[i], "[{\"name\":\"Ann Li\",\"short\":false}]");
        hub_mapping_free(maps[i]);
    }
}
