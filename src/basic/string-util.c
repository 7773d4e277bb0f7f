/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>

#include "string-util.h"

bool has_control_chars(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < ' ' || *s == 0x7f)
                        return true;
        return false;
}

bool has_blanks(const char *s) {
        for (; *s; s++)
                if (isspace((unsigned char) *s))
                        return true;
        return false;
}

/* A copy of s[0..n) without blanks at either end. */
char *strndup_trimmed(const char *s, size_t n) {
        while (n > 0 && isspace((unsigned char) *s)) {
                s++;
                n--;
        }
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                n--;
        return strndup(s, n);
}

int parse_boolean(const char *s) {
        static const char * const yes[] = { "true", "yes", "on", "1", "t", "T", "True", "TRUE" };
        static const char * const no[] = { "false", "no", "off", "0", "f", "F", "False", "FALSE" };

        for (size_t i = 0; s && i < ELEMENTSOF(yes); i++) {
                if (streq(s, yes[i]))
                        return 1;
                if (streq(s, no[i]))
                        return 0;
        }
        return -EINVAL;
}
