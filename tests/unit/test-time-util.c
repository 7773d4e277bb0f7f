/* SPDX-License-Identifier: Apache-2.0 */
#include "basic/time-util.h"
#include "../tests.h"

TEST(parse_valid) {
        static const struct {
                const char *s;
                usec_t u;
        } cases[] = {
                { "10", 10 * USEC_PER_SEC },
                { "10s", 10 * USEC_PER_SEC },
                { "500ms", 500 * USEC_PER_MSEC },
                { "1m30s", 90 * USEC_PER_SEC },
                { "2min", 120 * USEC_PER_SEC },
                { "1h", 3600 * USEC_PER_SEC },
                { "1d", 86400 * USEC_PER_SEC },
                { "250us", 250 },
                { "0", 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                usec_t u = 1;
                ASSERT_INT(parse_duration(cases[i].s, &u), 0);
                ASSERT_INT(u, cases[i].u);
        }
}

TEST(parse_invalid) {
        static const char *bad[] = { "", "s", "-1s", "10x", "1.5s", "10 s", "99999999999999999999s" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                usec_t u = 7;
                ASSERT_INT(parse_duration(bad[i], &u), -EINVAL);
                ASSERT_INT(u, 7);
        }
}

/* fleet's float seconds, and parse_duration()'s forms unchanged. */
TEST(parse_fraction) {
        static const struct {
                const char *s;
                usec_t u;
        } cases[] = {
                { "3.0", 3 * USEC_PER_SEC },
                { "0.5", 500 * USEC_PER_MSEC },
                { "1.5m", 90 * USEC_PER_SEC },
                { "0.0000019", 1 },
                { "90s", 90 * USEC_PER_SEC },
                { "7", 7 * USEC_PER_SEC },
        };
        static const char *bad[] = { "", ".5", "1.", "1.5x", "-1.5", "1.5 s", "x" };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                usec_t u = 1;
                ASSERT_INT(parse_duration_fraction(cases[i].s, &u), 0);
                ASSERT_INT(u, cases[i].u);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                usec_t u = 7;
                ASSERT_INT(parse_duration_fraction(bad[i], &u), -EINVAL);
                ASSERT_INT(u, 7);
        }
}

TEST(format_roundtrip) {
        char buf[64];
        usec_t u;

        ASSERT_STR(format_duration(buf, sizeof(buf), 90 * USEC_PER_SEC), "1m30s");
        ASSERT_STR(format_duration(buf, sizeof(buf), 500 * USEC_PER_MSEC), "500ms");
        ASSERT_STR(format_duration(buf, sizeof(buf), 0), "0");
        ASSERT_INT(parse_duration(format_duration(buf, sizeof(buf), 3723 * USEC_PER_SEC + 5), &u), 0);
        ASSERT_INT(u, 3723 * USEC_PER_SEC + 5);
}

TEST_MAIN(T(parse_valid), T(parse_invalid), T(parse_fraction), T(format_roundtrip))
