/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <string.h>

#include "utf8.h"

static bool code_point_is_noncharacter(uint32_t cp) {
        return (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe;
}

/* The sequence length that lead byte b starts, its payload bits in *ret_cp; 0 if b cannot
 * start one (a continuation byte, 0xc0/0xc1 which only make overlong forms, 0xf5 and up). */
static size_t lead_len(unsigned char b, uint32_t *ret_cp) {
        if (b < 0x80)
                return *ret_cp = b, 1;
        if (b >= 0xc2 && b <= 0xdf)
                return *ret_cp = b & 0x1f, 2;
        if (b >= 0xe0 && b <= 0xef)
                return *ret_cp = b & 0x0f, 3;
        if (b >= 0xf0 && b <= 0xf4)
                return *ret_cp = b & 0x07, 4;
        return 0;
}

size_t utf8_char_len(const char *s, size_t n, Utf8Flags flags) {
        const unsigned char *p = (const unsigned char *) s;
        uint32_t cp;
        size_t len;

        if (n == 0 || (len = lead_len(p[0], &cp)) == 0 || n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
                return 0;     /* overlong */
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        if ((flags & UTF8_NO_NONCHARACTERS) && code_point_is_noncharacter(cp))
                return 0;
        return len;
}

bool utf8_is_valid_n(const char *s, size_t n, Utf8Flags flags) {
        for (size_t i = 0, k; i < n; i += k) {
                k = utf8_char_len(s + i, n - i, flags);
                if (k == 0)
                        return false;
        }
        return true;
}

bool utf8_is_valid_full(const char *s, Utf8Flags flags) {
        return s && utf8_is_valid_n(s, strlen(s), flags);
}
