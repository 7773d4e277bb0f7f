/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A tiny test harness: TEST(name) defines a case, the cases run in order from main(), a failed
 * assertion prints file:line and what differed, and the process exits 1 at the end.
 * Exit 77 means skipped (meson's convention). */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macros.h"

extern int test_failures;

#define ASSERT_TRUE(expr)                                                               \
        do {                                                                            \
                if (!(expr)) {                                                          \
                        fprintf(stderr, "%s:%d: assertion failed: %s\n",                 \
                                __FILE__, __LINE__, #expr);                              \
                        test_failures++;                                                \
                        return;                                                         \
                }                                                                       \
        } while (0)

#define ASSERT_INT(a, b)                                                                \
        do {                                                                            \
                long long _a = (long long) (a), _b = (long long) (b);                   \
                if (_a != _b) {                                                         \
                        fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n",      \
                                __FILE__, __LINE__, #a, _a, #b, _b);                     \
                        test_failures++;                                                \
                        return;                                                         \
                }                                                                       \
        } while (0)

#define ASSERT_STR(a, b)                                                                \
        do {                                                                            \
                const char *_a = (a), *_b = (b);                                        \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                \
                        fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n",        \
                                __FILE__, __LINE__, #a, _a ? _a : "(null)",              \
                                _b ? _b : "(null)");                                     \
                        test_failures++;                                                \
                        return;                                                         \
                }                                                                       \
        } while (0)

/* The error message must contain the given text (e.g. "fleetd.conf:3"). */
#define ASSERT_CONTAINS(hay, needle)                                                    \
        do {                                                                            \
                const char *_h = (hay), *_n = (needle);                                 \
                if (!_h || !strstr(_h, _n)) {                                           \
                        fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n",       \
                                __FILE__, __LINE__, _h ? _h : "(null)", _n);             \
                        test_failures++;                                                \
                        return;                                                         \
                }                                                                       \
        } while (0)

typedef struct TestCase {
        const char *name;
        void (*func)(void);
} TestCase;

#define TEST(name) static void test_##name(void)
#define T(name) { #name, test_##name }

static inline int run_tests(const TestCase *cases, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int before = test_failures;
                cases[i].func();
                printf("%s %s\n", test_failures == before ? "ok  " : "FAIL", cases[i].name);
        }
        printf("%d failure(s)\n", test_failures);
        return test_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define TEST_MAIN(...)                                                                  \
        int test_failures = 0;                                                          \
        int main(void) {                                                                \
                static const TestCase cases[] = { __VA_ARGS__ };                        \
                return run_tests(cases, sizeof(cases) / sizeof(cases[0]));              \
        }
