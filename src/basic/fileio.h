/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

/* Reads the whole file at path, at most max bytes. *ret gets the bytes plus a NUL (not counted
 * in *ret_len, which may be NULL). Returns 0, -EFBIG if the file holds more than max bytes,
 * -ENOMEM, or the negative errno of open/read. Nothing is returned on failure. */
int read_file_limit(const char *path, size_t max, char **ret, size_t *ret_len);
