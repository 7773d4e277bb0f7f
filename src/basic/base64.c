/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>

#include "base64.h"
#include "macros.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_encode(const void *data, size_t len, char **ret) {
        const uint8_t *p = data;
        char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
        if (!out)
                return -ENOMEM;

        for (size_t i = 0; i < len; i += 3) {
                uint32_t v = (uint32_t) p[i] << 16;
                if (i + 1 < len)
                        v |= (uint32_t) p[i + 1] << 8;
                if (i + 2 < len)
                        v |= p[i + 2];
                *o++ = alphabet[(v >> 18) & 63];
                *o++ = alphabet[(v >> 12) & 63];
                *o++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
                *o++ = i + 2 < len ? alphabet[v & 63] : '=';
        }
        *o = 0;
        *ret = out;
        return 0;
}

static int decode_char(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+' || c == '-')
                return 62;
        if (c == '/' || c == '_')
                return 63;
        return -1;
}

int base64_decode(const char *s, size_t len, void **ret, size_t *ret_len) {
        while (len > 0 && s[len - 1] == '=')
                len--;
        if (len % 4 == 1)
                return -EINVAL;

        _cleanup_free_ uint8_t *out = malloc(len * 3 / 4 + 1);
        if (!out)
                return -ENOMEM;

        size_t n = 0;
        uint32_t acc = 0;
        for (size_t i = 0; i < len; i++) {
                int d = decode_char(s[i]);
                if (d < 0)
                        return -EINVAL;
                acc = (acc << 6) | (uint32_t) d;
                if (i % 4 == 3) {
                        out[n++] = acc >> 16;
                        out[n++] = acc >> 8;
                        out[n++] = acc;
                        acc = 0;
                }
        }
        if (len % 4 == 2)
                out[n++] = acc >> 4;
        else if (len % 4 == 3) {
                out[n++] = acc >> 10;
                out[n++] = acc >> 2;
        }
        out[n] = 0;
        *ret = TAKE_PTR(out);
        if (ret_len)
                *ret_len = n;
        return 0;
}
