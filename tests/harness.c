/*
 * hub360 - the test harness's runner.
 */
#include "harness.h"

#include <time.h>

int hub_test_failures;

static struct {
    const char *name;
    hub_test_fn fn;
} cases[256];
static int ncases;

void hub_test_register(const char *name, hub_test_fn fn) {
    if (ncases < 256) {
        cases[ncases].name = name;
        cases[ncases].fn = fn;
        ncases++;
    }
}

char *hub_test_read(const char *relpath, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", HUB360_SOURCE_DIR, relpath);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

int hub_test_wait(int (*cond)(void *), void *arg, long timeout_ms) {
    struct timespec start, now, nap = {0, 5 * 1000000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (cond(arg))
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000 +
                       (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed >= timeout_ms)
            return cond(arg);
        nanosleep(&nap, NULL);
    }
}

int main(int argc, char **argv) {
    int ran = 0;
    for (int i = 0; i < ncases; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        int before = hub_test_failures;
        fprintf(stderr, "[ RUN  ] %s\n", cases[i].name);
        cases[i].fn();
        fprintf(stderr, "[ %s ] %s\n",
                hub_test_failures == before ? " OK " : "FAIL", cases[i].name);
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no test case named %s\n", argc > 1 ? argv[1] : "");
        return 2;
    }
    fprintf(stderr, "%d case(s), %d failed check(s)\n", ran,
            hub_test_failures);
    return hub_test_failures ? 1 : 0;
}
