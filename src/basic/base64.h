/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

/* Standard base64 (RFC 4648, with padding), as etcd's JSON gateway speaks it.
 * base64_encode returns a NUL-terminated string; base64_decode returns the bytes plus a
 * trailing NUL not counted in *ret_len, so text values can be used as C strings.
 * Both return 0, -ENOMEM, or -EINVAL for input that is not base64. */
int base64_encode(const void *data, size_t len, char **ret);
int base64_decode(const char *s, size_t len, void **ret, size_t *ret_len);
