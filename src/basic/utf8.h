/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* UTF-8 as RFC 3629 has it: no overlong forms, no surrogates (U+D800..U+DFFF), nothing past
 * U+10FFFF, no sequence cut short. That is what jansson takes into a JSON string, so it is the
 * rule for text fleetd stores in etcd or sends in the API. */

#include <stdbool.h>
#include <stddef.h>

typedef enum Utf8Flags {
        /* Refuse the noncharacters U+FDD0..U+FDEF and U+xxFFFE, U+xxFFFF as well, as systemd's
         * utf8_is_valid() does: for text written into unit files. */
        UTF8_NO_NONCHARACTERS = 1 << 0,
} Utf8Flags;

/* The length (1 to 4) of the valid UTF-8 sequence at s, which has n readable bytes; 0 if there
 * is none (n == 0 included). A NUL byte is a valid sequence of length 1: callers that refuse NUL
 * check for it themselves. */
size_t utf8_char_len(const char *s, size_t n, Utf8Flags flags);

/* Whether the n bytes at s are valid UTF-8 (NUL bytes count as characters, as above). */
bool utf8_is_valid_n(const char *s, size_t n, Utf8Flags flags);

/* Whether the NUL-terminated s is valid UTF-8. NULL is not. */
bool utf8_is_valid_full(const char *s, Utf8Flags flags);

static inline bool utf8_is_valid(const char *s) {
        return utf8_is_valid_full(s, 0);
}
