/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <stdio.h>
#include <time.h>

#include "macros.h"
#include "time-util.h"

static const struct {
        const char *suffix;
        usec_t usec;
} units[] = {
        /* longer suffixes first, so that "ms" is not read as "m" */
        { "min", 60 * USEC_PER_SEC },
        { "ms",  USEC_PER_MSEC },
        { "us",  1 },
        { "s",   USEC_PER_SEC },
        { "m",   60 * USEC_PER_SEC },
        { "h",   3600 * USEC_PER_SEC },
        { "d",   86400 * USEC_PER_SEC },
};

int parse_duration(const char *s, usec_t *ret) {
        usec_t total = 0;

        if (isempty(s))
                return -EINVAL;

        while (*s) {
                if (!isdigit((unsigned char) *s))
                        return -EINVAL;
                usec_t n = 0;
                while (isdigit((unsigned char) *s)) {
                        if (n > UINT64_MAX / 10)
                                return -EINVAL;
                        n = n * 10 + (usec_t) (*s++ - '0');
                }
                usec_t mult = 0;
                if (!*s && total == 0)
                        mult = USEC_PER_SEC;    /* a bare number means seconds */
                for (size_t i = 0; mult == 0 && i < ELEMENTSOF(units); i++) {
                        const char *rest = startswith(s, units[i].suffix);
                        if (rest) {
                                mult = units[i].usec;
                                s = rest;
                        }
                }
                if (mult == 0 || n > (UINT64_MAX - total) / mult)
                        return -EINVAL;
                total += n * mult;
        }
        *ret = total;
        return 0;
}

/* "1.5", "0.25s", "1.5m": one number with a fraction, then a unit that parse_duration() knows
 * (none: seconds). */
static int parse_fraction(const char *s, usec_t *ret) {
        usec_t whole = 0, frac = 0, scale = 1, unit;
        size_t digits = 0;
        char one[8];

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        for (; isdigit((unsigned char) *s); s++) {
                if (whole > UINT64_MAX / 10)
                        return -EINVAL;
                whole = whole * 10 + (usec_t) (*s - '0');
        }
        if (*s++ != '.' || !isdigit((unsigned char) *s))
                return -EINVAL;
        for (; isdigit((unsigned char) *s); s++, digits++)
                if (digits < 6) {
                        frac = frac * 10 + (usec_t) (*s - '0');
                        scale *= 10;
                }

        if (strlen(s) > 3 || snprintf(one, sizeof(one), "1%s", s) < 0 || parse_duration(one, &unit) < 0)
                return -EINVAL;
        if (whole > (UINT64_MAX - unit) / unit)
                return -EINVAL;
        *ret = whole * unit + frac * unit / scale;
        return 0;
}

int parse_duration_fraction(const char *s, usec_t *ret) {
        if (s && strchr(s, '.'))
                return parse_fraction(s, ret);
        return parse_duration(s, ret);
}

char *format_duration(char *buf, size_t size, usec_t u) {
        static const struct {
                const char *suffix;
                usec_t usec;
        } parts[] = {
                { "d", 86400 * USEC_PER_SEC }, { "h", 3600 * USEC_PER_SEC }, { "m", 60 * USEC_PER_SEC },
                { "s", USEC_PER_SEC }, { "ms", USEC_PER_MSEC }, { "us", 1 },
        };
        size_t n = 0;

        if (size == 0)
                return buf;
        buf[0] = 0;
        if (u == 0) {
                snprintf(buf, size, "0");
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(parts) && u > 0 && n < size; i++) {
                if (u < parts[i].usec)
                        continue;
                n += snprintf(buf + n, size - n, "%llu%s",
                              (unsigned long long) (u / parts[i].usec), parts[i].suffix);
                u %= parts[i].usec;
        }
        return buf;
}

usec_t now_usec(int clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}
