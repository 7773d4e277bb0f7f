/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdio.h>

#include "unit-escape.h"

/* A code point systemd's utf8_is_valid() accepts: not a surrogate, not past U+10FFFF, not one of
 * the noncharacters U+FDD0..U+FDEF and U+xxFFFE/U+xxFFFF. */
static bool code_point_is_valid(uint32_t cp) {
        return cp < 0x110000 && (cp & 0xfffff800) != 0xd800 && !(cp >= 0xfdd0 && cp <= 0xfdef) &&
               (cp & 0xfffe) != 0xfffe;
}

/* The length of the UTF-8 sequence at s (1 to 4 bytes), or 0 if it is not a valid one (overlong
 * forms included). s is NUL-terminated, and a NUL ends any sequence early. */
static size_t utf8_sequence_len(const unsigned char *s) {
        size_t len;
        uint32_t cp;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                len = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                len = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                len = 4, cp = s[0] & 0x07;
        else
                return 0;

        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || !code_point_is_valid(cp))
                return 0;
        return len;
}

bool unit_escape_utf8_is_valid(const char *s) {
        if (!s)
                return false;
        for (size_t k; *s; s += k)
                if ((k = utf8_sequence_len((const unsigned char *) s)) == 0)
                        return false;
        return true;
}

/* Characters that mean nothing to systemd's unquoting, so a word made of them needs no quotes
 * ('%' and '$' are doubled, which needs no quotes either). */
static bool char_is_bare(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != 0 && strchr("-_./:,+=@{}%$", c));
}

/* If s starts with "${NAME}" for a NAME in keep, the length of that reference, else 0. */
static size_t kept_reference_len(const char *s, char *const *keep) {
        const char *end;

        if (!keep || s[0] != '$' || s[1] != '{' || !(end = strchr(s + 2, '}')))
                return 0;
        for (char *const *k = keep; *k; k++)
                if (strlen(*k) == (size_t) (end - s - 2) && strncmp(*k, s + 2, end - s - 2) == 0)
                        return end - s + 1;
        return 0;
}

/* Writes s to out, quoted or bare; out has room for 4 * strlen(s) + 3 bytes: no byte becomes
 * more than 4 ("\x1b"), and the quotes and the NUL add 3. */
static void escape_to(const char *s, UnitEscapeFlags flags, char *const *keep, char *out) {
        bool quote = *s == 0;
        char *o = out;

        for (const char *p = s; *p && !quote; p++)
                quote = !char_is_bare(*p);

        if (quote)
                *o++ = '"';
        for (const char *p = s; *p;) {
                unsigned char c = *p;
                size_t k;

                if ((flags & UNIT_ESCAPE_EXEC) && (k = kept_reference_len(p, keep)) > 0) {
                        memcpy(o, p, k);
                        o += k, p += k;
                        continue;
                }
                p++;
                switch (c) {
                case '"':  o = stpcpy(o, "\\\""); break;
                case '\\': o = stpcpy(o, "\\\\"); break;
                case '\n': o = stpcpy(o, "\\n"); break;
                case '\t': o = stpcpy(o, "\\t"); break;
                case '\r': o = stpcpy(o, "\\r"); break;
                case '%':  o = stpcpy(o, "%%"); break;
                case '$':  o = stpcpy(o, flags & UNIT_ESCAPE_EXEC ? "$$" : "$"); break;
                default:
                        if (c < 0x20 || c == 0x7f)
                                o += sprintf(o, "\\x%02x", c);
                        else
                                *o++ = (char) c;
                }
        }
        if (quote)
                *o++ = '"';
        *o = 0;
}

int unit_escape_word(const char *s, UnitEscapeFlags flags, char *const *keep, char **ret) {
        char *out;

        if (!unit_escape_utf8_is_valid(s))
                return -EINVAL;

        /* systemd.service(5): "Lone semicolons may be escaped as "\;"". Quoting it would do for
         * current versions, but older ones compared the word without its quotes to ";". */
        if ((flags & UNIT_ESCAPE_EXEC) && streq(s, ";"))
                out = strdup("\\;");
        else if ((out = malloc(4 * strlen(s) + 3)))
                escape_to(s, flags, keep, out);
        if (!out)
                return -ENOMEM;
        *ret = out;
        return 0;
}

int unit_escape_command_line(char *const *argv, UnitEscapeFlags flags, char *const *keep, char **ret) {
        _cleanup_free_ char *line = NULL;
        size_t len = 0;

        if (!argv || !argv[0])
                return -EINVAL;

        for (char *const *a = argv; *a; a++) {
                _cleanup_free_ char *word = NULL;
                size_t n;
                char *t;
                int r;

                r = unit_escape_word(*a, flags, keep, &word);
                if (r < 0)
                        return r;
                n = strlen(word);
                t = realloc(line, len + 1 + n + 1);
                if (!t)
                        return -ENOMEM;
                line = t;
                if (len > 0)
                        line[len++] = ' ';
                memcpy(line + len, word, n + 1);
                len += n;
        }
        *ret = TAKE_PTR(line);
        return 0;
}
