/* SPDX-License-Identifier: Apache-2.0 */
#include "unit-reason.h"
#include "../tests.h"

static char *pick(char **lines, size_t n) {
        char *r = NULL;
        return unit_reason_pick(lines, n, &r) < 0 ? NULL : r;
}

TEST(pull_error) {
        char *lines[] = {
                (char *) "Trying to pull 10.233.1.13:5000/hello@sha256:00...",
                (char *) "Error: initializing source docker://10.233.1.13:5000/hello@sha256:00: pinging container "
                         "registry 10.233.1.13:5000: Get \"http://10.233.1.13:5000/v2/\": dial tcp 10.233.1.13:5000: "
                         "connect: connection refused",
                (char *) "   ",
        };
        _cleanup_free_ char *r = pick(lines, ELEMENTSOF(lines));

        ASSERT_TRUE(r && startswith(r, "Error: initializing source docker://"));
        ASSERT_TRUE(strstr(r, "connection refused"));
}

TEST(last_line_of_an_app) {
        char *lines[] = { (char *) "starting", (char *) "broken  \n", (char *) "" };
        _cleanup_free_ char *r = pick(lines, ELEMENTSOF(lines));

        ASSERT_STR(r, "broken");
}

TEST(nothing) {
        char *lines[] = { (char *) " ", NULL };
        char *r = (char *) "x";

        ASSERT_INT(unit_reason_pick(lines, ELEMENTSOF(lines), &r), 0);
        ASSERT_TRUE(!r);
        ASSERT_INT(unit_reason_pick(NULL, 0, &r), 0);
        ASSERT_TRUE(!r);
}

TEST(cut_at_utf8) {
        char line[2000];
        _cleanup_free_ char *r = NULL;
        char *lines[] = { line };

        memset(line, 'a', sizeof(line));
        memcpy(line, "Error: ", 7);
        for (size_t i = 500; i < 600; i += 2)
                memcpy(line + i, "\xc3\xa9", 2);
        line[sizeof(line) - 1] = '\0';
        r = pick(lines, 1);
        ASSERT_TRUE(r && strlen(r) <= UNIT_REASON_MAX);
        ASSERT_TRUE(((unsigned char) r[strlen(r) - 1] & 0xc0) != 0xc0);
}

TEST_MAIN(T(pull_error), T(last_line_of_an_app), T(nothing), T(cut_at_utf8));
