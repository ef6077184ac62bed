/*
 * hub360 - a small test harness: cases register themselves, run in
 * order (or one by name: `test_codec round_trip`), and report each
 * failed check with file, line and the values compared.
 */
#ifndef HUB_TEST_HARNESS_H
#define HUB_TEST_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*hub_test_fn)(void);

void hub_test_register(const char *name, hub_test_fn fn);
extern int hub_test_failures;

#define TEST(name)                                                             \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void register_##name(void) {           \
        hub_test_register(#name, test_##name);                                 \
    }                                                                          \
    static void test_##name(void)

#define FAIL_AT(...)                                                           \
    do {                                                                       \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                        \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        hub_test_failures++;                                                   \
    } while (0)

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            FAIL_AT("check failed: %s", #cond);                                \
    } while (0)

/* Like CHECK, but ends the case: later checks depend on this one. */
#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            FAIL_AT("requirement failed: %s", #cond);                          \
            return;                                                            \
        }                                                                      \
    } while (0)

#define CHECK_INT(a, b)                                                        \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (a_ != b_)                                                          \
            FAIL_AT("%s == %s: %lld != %lld", #a, #b, a_, b_);                 \
    } while (0)

#define CHECK_STR(a, b)                                                        \
    do {                                                                       \
        const char *a_ = (a), *b_ = (b);                                       \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                 \
            FAIL_AT("%s == %s:\n  got:      %s\n  expected: %s", #a, #b,       \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                   \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                            \
    do {                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                \
        if (!h_ || !strstr(h_, n_))                                            \
            FAIL_AT("%s contains %s:\n  text: %s\n  missing: %s", #hay,       \
                    #needle, h_ ? h_ : "(null)", n_);                          \
    } while (0)

/* Test data paths (set by CMake). */
#ifndef HUB360_SOURCE_DIR
#define HUB360_SOURCE_DIR "."
#endif

/* Reads a file under the source tree into a malloc'd NUL-terminated
 * string, or NULL. */
char *hub_test_read(const char *relpath, size_t *len);

/* Waits up to timeout_ms for cond() to become true, polling every few
 * milliseconds; returns the final value. */
int hub_test_wait(int (*cond)(void *), void *arg, long timeout_ms);

#endif
