/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Small string predicates and copies. PURE. */

#include <stdbool.h>
#include <stddef.h>

#include "macros.h"

/* True if s has a byte below ' ' or DEL. */
bool has_control_chars(const char *s);
/* True if s has a blank (isspace()). */
bool has_blanks(const char *s);
/* A copy of s[0..n) without blanks at either end; NULL on OOM. */
char *strndup_trimmed(const char *s, size_t n);

/* 1 for true, yes, on, 1 and Go's t, T, True, TRUE (fleet's); 0 for false, no, off, 0, f, F,
 * False, FALSE; -EINVAL for anything else. */
int parse_boolean(const char *s);
