/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "sha1.h"

static inline uint32_t rotl(uint32_t x, unsigned n) {
        return (x << n) | (x >> (32 - n));
}

static inline uint32_t load_be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | (uint32_t) p[3];
}

/* Section 4.1.1: f_t and K_t of the round t. */
static uint32_t round_f(unsigned t, uint32_t b, uint32_t c, uint32_t d, uint32_t *ret_k) {
        if (t < 20) {
                *ret_k = 0x5a827999;
                return (b & c) | (~b & d);
        }
        if (t < 40) {
                *ret_k = 0x6ed9eba1;
                return b ^ c ^ d;
        }
        if (t < 60) {
                *ret_k = 0x8f1bbcdc;
                return (b & c) | (b & d) | (c & d);
        }
        *ret_k = 0xca62c1d6;
        return b ^ c ^ d;
}

/* Section 6.1.2: one 512-bit block into the hash state. */
static void compress(uint32_t h[5], const uint8_t block[64]) {
        uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

        for (unsigned t = 0; t < 16; t++)
                w[t] = load_be32(block + 4 * t);
        for (unsigned t = 16; t < 80; t++)
                w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);

        for (unsigned t = 0; t < 80; t++) {
                uint32_t k, f = round_f(t, b, c, d, &k);
                uint32_t tmp = rotl(a, 5) + f + e + k + w[t];
                e = d;
                d = c;
                c = rotl(b, 30);
                b = a;
                a = tmp;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
}

/* The last one or two blocks: the rest of the message, a 1 bit, zeros up to 448 mod 512 bits,
 * then the length in bits as a 64-bit big-endian number (section 5.1.1). */
static void compress_tail(uint32_t h[5], const uint8_t *rest, size_t n_rest, uint64_t n_bytes) {
        uint8_t block[128] = {};
        size_t n = n_rest + 1 + 8 <= 64 ? 64 : 128;
        uint64_t bits = n_bytes * 8;

        if (n_rest > 0)
                memcpy(block, rest, n_rest);
        block[n_rest] = 0x80;
        for (unsigned i = 0; i < 8; i++)
                block[n - 1 - i] = (uint8_t) (bits >> (8 * i));
        for (size_t off = 0; off < n; off += 64)
                compress(h, block + off);
}

void sha1_hex(const void *data, size_t len, char ret[SHA1_HEX_SIZE]) {
        static const char hex[] = "0123456789abcdef";
        uint32_t h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
        const uint8_t *p = data;
        size_t full = len - len % 64;

        for (size_t off = 0; off < full; off += 64)
                compress(h, p + off);
        compress_tail(h, p ? p + full : NULL, len % 64, len);

        for (unsigned i = 0; i < SHA1_DIGEST_SIZE; i++) {
                uint8_t byte = (uint8_t) (h[i / 4] >> (24 - 8 * (i % 4)));
                ret[2 * i] = hex[byte >> 4];
                ret[2 * i + 1] = hex[byte & 15];
        }
        ret[2 * SHA1_DIGEST_SIZE] = 0;
}
