/* A minimal test harness for ferry's ctest executables: CHECK keeps going and counts,
 * REQUIRE stops the test. Each test program ends with `return test_summary();`, which
 * prints "N passed, M failed" and returns non-zero on any failure. */
#ifndef FERRY_TEST_H
#define FERRY_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_pass_, test_fail_;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            test_pass_++;                                                                          \
        } else {                                                                                   \
            test_fail_++;                                                                          \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
        }                                                                                          \
    } while (0)

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FATAL %s:%d: %s\n", __FILE__, __LINE__, #cond);                       \
            exit(1);                                                                               \
        }                                                                                          \
        test_pass_++;                                                                              \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ && b_ && strcmp(a_, b_) == 0) {                                                     \
            test_pass_++;                                                                          \
        } else {                                                                                   \
            test_fail_++;                                                                          \
            fprintf(stderr, "FAIL %s:%d: %s == %s\n  got:  %s\n  want: %s\n", __FILE__, __LINE__,  \
                    #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                               \
        }                                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ == b_) {                                                                            \
            test_pass_++;                                                                          \
        } else {                                                                                   \
            test_fail_++;                                                                          \
            fprintf(stderr, "FAIL %s:%d: %s == %s (got %lld, want %lld)\n", __FILE__, __LINE__,    \
                    #a, #b, a_, b_);                                                               \
        }                                                                                          \
    } while (0)

static inline int test_summary(void)
{
    printf("%d passed, %d failed\n", test_pass_, test_fail_);
    return test_fail_ ? 1 : 0;
}

#endif
