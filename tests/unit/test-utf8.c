/* SPDX-License-Identifier: Apache-2.0 */
/* basic/utf8.h: RFC 3629 UTF-8, and systemd's stricter rule with UTF8_NO_NONCHARACTERS. */
#include "basic/utf8.h"
#include "../tests.h"

/* Each is valid UTF-8 under both rules; the length of its first character. */
TEST(valid) {
        static const struct {
                const char *s;
                size_t first;
        } cases[] = {
                { "", 0 },
                { "plain ascii", 1 },
                { "\x7f", 1 },
                { "\xc2\x80", 2 },                   /* U+0080, the smallest 2-byte form */
                { "caf\xc3\xa9", 1 },
                { "\xdf\xbf", 2 },                   /* U+07FF */
                { "\xe0\xa0\x80", 3 },               /* U+0800, the smallest 3-byte form */
                { "\xed\x9f\xbf", 3 },               /* U+D7FF, just below the surrogates */
                { "\xee\x80\x80", 3 },               /* U+E000, just above them */
                { "\xef\xbf\xbd", 3 },               /* U+FFFD */
                { "\xf0\x90\x80\x80", 4 },           /* U+10000, the smallest 4-byte form */
                { "\xf0\x9f\x98\x80 smile", 4 },
                { "\xf4\x8f\xbf\xbd", 4 },           /* U+10FFFD */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *s = cases[i].s;
                if (!utf8_is_valid(s) || !utf8_is_valid_full(s, UTF8_NO_NONCHARACTERS)) {
                        fprintf(stderr, "case %zu refused\n", i);
                        ASSERT_TRUE(false);
                }
                ASSERT_INT(utf8_char_len(s, strlen(s), 0), cases[i].first);
        }
}

/* Each is refused under both rules. */
TEST(invalid) {
        static const char * const cases[] = {
                "\x80",                              /* a continuation byte alone */
                "a\xbf",
                "\xc0\x80",                          /* overlong NUL */
                "\xc1\xbf",                          /* overlong U+007F */
                "\xe0\x80\x80",                      /* overlong U+0000 in 3 bytes */
                "\xe0\x9f\xbf",                      /* overlong U+07FF */
                "\xf0\x80\x80\x80",                  /* overlong in 4 bytes */
                "\xf0\x8f\xbf\xbf",                  /* overlong U+FFFF */
                "\xed\xa0\x80",                      /* U+D800, a surrogate */
                "\xed\xbf\xbf",                      /* U+DFFF */
                "\xf4\x90\x80\x80",                  /* U+110000 */
                "\xf5\x80\x80\x80",
                "\xf8\x88\x80\x80\x80",              /* the old 5-byte form */
                "\xfe", "\xff",
                "\xc3",                              /* truncated at the end */
                "\xe2\x82",
                "\xf0\x9f\x98",
                "\xc3 x",                            /* cut short by another character */
                "\xe2\x82x",
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (utf8_is_valid(cases[i]) || utf8_is_valid_full(cases[i], UTF8_NO_NONCHARACTERS)) {
                        fprintf(stderr, "case %zu accepted\n", i);
                        ASSERT_TRUE(false);
                }
        ASSERT_TRUE(!utf8_is_valid(NULL));
        ASSERT_INT(utf8_char_len("\xc3\xa9", 1, 0), 0);      /* only one byte readable */
        ASSERT_INT(utf8_char_len("a", 0, 0), 0);
}

/* Noncharacters are valid UTF-8 (jansson takes them), but not what systemd accepts. */
TEST(noncharacters) {
        static const char * const cases[] = {
                "\xef\xb7\x90",                      /* U+FDD0 */
                "\xef\xb7\xaf",                      /* U+FDEF */
                "\xef\xbf\xbe",                      /* U+FFFE */
                "\xef\xbf\xbf",                      /* U+FFFF */
                "\xf0\x9f\xbf\xbe",                  /* U+1FFFE */
                "\xf4\x8f\xbf\xbf",                  /* U+10FFFF */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ASSERT_TRUE(utf8_is_valid(cases[i]));
                ASSERT_TRUE(!utf8_is_valid_full(cases[i], UTF8_NO_NONCHARACTERS));
        }
        ASSERT_TRUE(utf8_is_valid_full("\xef\xb7\x8f", UTF8_NO_NONCHARACTERS));      /* U+FDCF */
}

/* With a length, a NUL byte is a character like any other; the NUL-terminated form stops there. */
TEST(nul_bytes) {
        static const char with_nul[] = "a\0b\xc3\xa9";
        static const char nul_in_sequence[] = "\xc3\0";

        ASSERT_TRUE(utf8_is_valid_n(with_nul, sizeof(with_nul) - 1, 0));
        ASSERT_INT(utf8_char_len(with_nul + 1, 1, 0), 1);
        ASSERT_TRUE(!utf8_is_valid_n(nul_in_sequence, 2, 0));
        ASSERT_TRUE(!utf8_is_valid(nul_in_sequence));
        ASSERT_TRUE(utf8_is_valid("ok\0\xff"));
        ASSERT_TRUE(!utf8_is_valid_n("ok\0\xff", 4, 0));
}

TEST_MAIN(T(valid), T(invalid), T(noncharacters), T(nul_bytes))
