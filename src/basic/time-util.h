/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>
#include <stddef.h>

typedef uint64_t usec_t;
#define USEC_INFINITY ((usec_t) UINT64_MAX)

/* Parses a duration such as "10s", "500ms", "1m30s", "2h" or a bare number of seconds
 * ("10"). Units: us, ms, s, m (or min), h, d. Returns 0, or -EINVAL for anything else
 * (empty, negative, unknown unit, overflow). */
int parse_duration(const char *s, usec_t *ret);

/* parse_duration(), or one number with a fraction and an optional unit ("1.5", which is how
 * fleet wrote its float seconds, "0.5s", "1.5m"), to the microsecond (digits past it are
 * dropped). Returns 0 or -EINVAL. */
int parse_duration_fraction(const char *s, usec_t *ret);

/* Formats a duration the way parse_duration reads it back ("1m30s", "500ms", "0"). */
char *format_duration(char *buf, size_t size, usec_t u);

usec_t now_usec(int clock);
