/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* SHA-256 as specified in FIPS 180-4 (identical to FIPS 180-2 for this function). Used to give
 * unit files a content hash that every host computes the same way; not for anything secret. */

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE    65 /* 64 hex digits and a NUL */

typedef struct Sha256 {
        uint32_t state[8];
        uint64_t n_bytes;     /* message bytes fed so far */
        uint8_t block[64];    /* the part of the current block not yet compressed */
        size_t n_block;
} Sha256;

/* Starts a new digest. Never fails. */
void sha256_init(Sha256 *s);
/* Feeds len bytes; may be called any number of times with any split of the message. */
void sha256_update(Sha256 *s, const void *data, size_t len);
/* Pads, writes the 32-byte digest to ret and leaves s in an unspecified state (init it again
 * to reuse it). */
void sha256_finish(Sha256 *s, uint8_t ret[SHA256_DIGEST_SIZE]);

/* One call: the digest of data. */
void sha256_digest(const void *data, size_t len, uint8_t ret[SHA256_DIGEST_SIZE]);
/* One call: the digest of data as 64 lowercase hex digits and a NUL. */
void sha256_hex(const void *data, size_t len, char ret[SHA256_HEX_SIZE]);
/* Writes a digest as 64 lowercase hex digits and a NUL. */
void sha256_to_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char ret[SHA256_HEX_SIZE]);
