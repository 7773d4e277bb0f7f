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

TEST(format_roundtrip) {
        char buf[64];
        usec_t u;

        ASSERT_STR(format_duration(buf, sizeof(buf), 90 * USEC_PER_SEC), "1m30s");
        ASSERT_STR(format_duration(buf, sizeof(buf), 500 * USEC_PER_MSEC), "500ms");
        ASSERT_STR(format_duration(buf, sizeof(buf), 0), "0");
        ASSERT_INT(parse_duration(format_duration(buf, sizeof(buf), 3723 * USEC_PER_SEC + 5), &u), 0);
        ASSERT_INT(u, 3723 * USEC_PER_SEC + 5);
}

TEST_MAIN(T(parse_valid), T(parse_invalid), T(format_roundtrip))
