/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include "macros.h"

/* NULL-terminated arrays of owned strings. */

char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char * const *l);
/* Appends a copy of s. Returns 0 or -ENOMEM; *l is unchanged on failure. */
int strv_extend(char ***l, const char *s);
/* Appends s itself, taking ownership on success only. */
int strv_push(char ***l, char *s);
/* Splits s at every character in separators, trimming blanks around each piece and
 * dropping empty pieces. Returns 0 or -ENOMEM. */
int strv_split(const char *s, const char *separators, char ***ret);
char **strv_copy(char * const *l);
bool strv_contains(char * const *l, const char *s);

#define STRV_FOREACH(s, l) for (char * const *s = (l); s && *s; s++)
