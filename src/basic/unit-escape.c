/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdio.h>

#include "unit-escape.h"
#include "utf8.h"

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

        if (!utf8_is_valid_full(s, UTF8_NO_NONCHARACTERS))
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
