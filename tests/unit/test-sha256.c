/* SPDX-License-Identifier: Apache-2.0 */
#include "basic/sha256.h"
#include "../tests.h"

static void hex_of(const char *s, size_t len, char ret[SHA256_HEX_SIZE]) {
        sha256_hex(s, len, ret);
}

/* The examples of FIPS 180-2, appendix B. */
TEST(fips_abc) {
        char h[SHA256_HEX_SIZE];

        hex_of("abc", 3, h);
        ASSERT_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(fips_empty) {
        char h[SHA256_HEX_SIZE];

        hex_of("", 0, h);
        ASSERT_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        /* A NULL pointer with no bytes is the empty message too. */
        sha256_hex(NULL, 0, h);
        ASSERT_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(fips_448_bits) {
        static const char m[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        char h[SHA256_HEX_SIZE];

        ASSERT_INT(strlen(m) * 8, 448);
        hex_of(m, strlen(m), h);
        ASSERT_STR(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(fips_million_a) {
        char h[SHA256_HEX_SIZE], chunk[1000];
        uint8_t d[SHA256_DIGEST_SIZE];
        Sha256 s;

        memset(chunk, 'a', sizeof(chunk));
        sha256_init(&s);
        for (unsigned i = 0; i < 1000; i++)
                sha256_update(&s, chunk, sizeof(chunk));
        sha256_finish(&s, d);
        sha256_to_hex(d, h);
        ASSERT_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the padding boundaries (55 and 56 bytes leave room, or not, for the length
 * in the last block); expected values from coreutils' sha256sum. */
TEST(padding_boundaries) {
        static const struct {
                size_t n;
                const char *hex;
        } cases[] = {
                { 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
                { 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
                { 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
                { 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
                { 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0" },
                { 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb" },
                { 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c" },
        };
        char a[128], h[SHA256_HEX_SIZE];

        memset(a, 'a', sizeof(a));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                hex_of(a, cases[i].n, h);
                ASSERT_STR(h, cases[i].hex);
        }
}

/* Any split of the message into update() calls gives the one-shot digest. */
TEST(incremental_equals_one_shot) {
        char m[300], whole[SHA256_HEX_SIZE], split[SHA256_HEX_SIZE];
        uint8_t d[SHA256_DIGEST_SIZE];

        for (size_t i = 0; i < sizeof(m); i++)
                m[i] = (char) (i * 7 + 3);
        hex_of(m, sizeof(m), whole);

        for (size_t cut = 0; cut <= sizeof(m); cut++) {
                Sha256 s;

                sha256_init(&s);
                sha256_update(&s, m, cut);
                sha256_update(&s, m + cut, sizeof(m) - cut);
                sha256_finish(&s, d);
                sha256_to_hex(d, split);
                ASSERT_STR(split, whole);
        }

        for (size_t step = 1; step <= 70; step++) {
                Sha256 s;

                sha256_init(&s);
                for (size_t off = 0; off < sizeof(m); off += step)
                        sha256_update(&s, m + off, MIN(step, sizeof(m) - off));
                sha256_finish(&s, d);
                sha256_to_hex(d, split);
                ASSERT_STR(split, whole);
        }
}

TEST_MAIN(T(fips_abc), T(fips_empty), T(fips_448_bits), T(fips_million_a), T(padding_boundaries),
          T(incremental_equals_one_shot))
