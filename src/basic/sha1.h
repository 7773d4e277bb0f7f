/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* SHA-1 as specified in FIPS 180-4. Only to give fleet's API clients the unit hash fleet gave
 * them (fleet hashed unit files with SHA-1); fleetd's own hashes are SHA-256 (sha256.h). Not
 * for anything secret: SHA-1 is broken for collision resistance. */

#define SHA1_DIGEST_SIZE 20
#define SHA1_HEX_SIZE    41 /* 40 hex digits and a NUL */

/* The digest of len bytes of data as 40 lowercase hex digits and a NUL. Never fails. */
void sha1_hex(const void *data, size_t len, char ret[SHA1_HEX_SIZE]);
