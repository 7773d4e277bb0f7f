/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "macros.h"
#include "sha256.h"

/* FIPS 180-4 section 4.2.2: the first 32 bits of the fractional parts of the cube roots of the
 * first 64 primes. */
static const uint32_t K[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t rotr(uint32_t x, unsigned n) {
        return (x >> n) | (x << (32 - n));
}

/* The six logical functions of section 4.1.2. */
static inline uint32_t ch(uint32_t x, uint32_t y, uint32_t z) {
        return (x & y) ^ (~x & z);
}

static inline uint32_t maj(uint32_t x, uint32_t y, uint32_t z) {
        return (x & y) ^ (x & z) ^ (y & z);
}

static inline uint32_t big_sigma0(uint32_t x) {
        return rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22);
}

static inline uint32_t big_sigma1(uint32_t x) {
        return rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25);
}

static inline uint32_t small_sigma0(uint32_t x) {
        return rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3);
}

static inline uint32_t small_sigma1(uint32_t x) {
        return rotr(x, 17) ^ rotr(x, 19) ^ (x >> 10);
}

static inline uint32_t load_be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | (uint32_t) p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v) {
        p[0] = v >> 24;
        p[1] = v >> 16;
        p[2] = v >> 8;
        p[3] = v;
}

/* Section 6.2.2: one 512-bit block into the hash state. */
static void compress(uint32_t state[8], const uint8_t block[64]) {
        uint32_t w[64];

        for (unsigned t = 0; t < 16; t++)
                w[t] = load_be32(block + 4 * t);
        for (unsigned t = 16; t < 64; t++)
                w[t] = small_sigma1(w[t - 2]) + w[t - 7] + small_sigma0(w[t - 15]) + w[t - 16];

        uint32_t a = state[0], b = state[1], c = state[2], d = state[3],
                 e = state[4], f = state[5], g = state[6], h = state[7];

        for (unsigned t = 0; t < 64; t++) {
                uint32_t t1 = h + big_sigma1(e) + ch(e, f, g) + K[t] + w[t];
                uint32_t t2 = big_sigma0(a) + maj(a, b, c);
                h = g;
                g = f;
                f = e;
                e = d + t1;
                d = c;
                c = b;
                b = a;
                a = t1 + t2;
        }

        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
        state[5] += f;
        state[6] += g;
        state[7] += h;
}

void sha256_init(Sha256 *s) {
        /* Section 5.3.3: the first 32 bits of the fractional parts of the square roots of the
         * first 8 primes. */
        *s = (Sha256) {
                .state = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                           0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 },
        };
}

void sha256_update(Sha256 *s, const void *data, size_t len) {
        const uint8_t *p = data;

        if (len == 0)
                return;
        s->n_bytes += len;

        if (s->n_block > 0) {
                size_t n = MIN(len, sizeof(s->block) - s->n_block);
                memcpy(s->block + s->n_block, p, n);
                s->n_block += n;
                p += n;
                len -= n;
                if (s->n_block < sizeof(s->block))
                        return;
                compress(s->state, s->block);
                s->n_block = 0;
        }

        for (; len >= sizeof(s->block); p += sizeof(s->block), len -= sizeof(s->block))
                compress(s->state, p);

        memcpy(s->block, p, len);
        s->n_block = len;
}

void sha256_finish(Sha256 *s, uint8_t ret[SHA256_DIGEST_SIZE]) {
        /* Section 5.1.1: a 1 bit, zeros up to 448 mod 512 bits, then the length in bits as a
         * 64-bit big-endian number. */
        uint64_t bits = s->n_bytes * 8;

        s->block[s->n_block++] = 0x80;
        if (s->n_block > 56) {
                memset(s->block + s->n_block, 0, sizeof(s->block) - s->n_block);
                compress(s->state, s->block);
                s->n_block = 0;
        }
        memset(s->block + s->n_block, 0, 56 - s->n_block);
        store_be32(s->block + 56, (uint32_t) (bits >> 32));
        store_be32(s->block + 60, (uint32_t) bits);
        compress(s->state, s->block);

        for (unsigned i = 0; i < 8; i++)
                store_be32(ret + 4 * i, s->state[i]);
}

void sha256_digest(const void *data, size_t len, uint8_t ret[SHA256_DIGEST_SIZE]) {
        Sha256 s;

        sha256_init(&s);
        sha256_update(&s, data, len);
        sha256_finish(&s, ret);
}

void sha256_to_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char ret[SHA256_HEX_SIZE]) {
        static const char hex[] = "0123456789abcdef";

        for (unsigned i = 0; i < SHA256_DIGEST_SIZE; i++) {
                ret[2 * i] = hex[digest[i] >> 4];
                ret[2 * i + 1] = hex[digest[i] & 15];
        }
        ret[2 * SHA256_DIGEST_SIZE] = 0;
}

void sha256_hex(const void *data, size_t len, char ret[SHA256_HEX_SIZE]) {
        uint8_t d[SHA256_DIGEST_SIZE];

        sha256_digest(data, len, d);
        sha256_to_hex(d, ret);
}
