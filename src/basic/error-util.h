/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Error messages for parsers and checkers that return a negative errno and say why in a string
 * the caller owns (the "char **ret_error" of config, manifest, unit-file, route records...). */

#include <stdarg.h>

#include "macros.h"

/* Formats the message into *ret_error (a new string; whatever *ret_error held is overwritten,
 * not freed) and returns r, so that a checker can "return error_set(ret_error, -EINVAL, ...)".
 * ret_error may be NULL: then only r is returned. If the message cannot be made, *ret_error is
 * NULL and -ENOMEM is returned instead of r. */
int error_set(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
/* The same with a va_list, for helpers that add a location ("file:line: ") first. */
int error_setv(char **ret_error, int r, const char *fmt, va_list ap) _printf_(3, 0);
