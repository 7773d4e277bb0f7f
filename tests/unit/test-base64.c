/* SPDX-License-Identifier: Apache-2.0 */
#include "basic/base64.h"
#include "../tests.h"

static void roundtrip(const char *plain, const char *encoded) {
        _cleanup_free_ char *e = NULL;
        _cleanup_free_ char *d = NULL;
        size_t n;

        ASSERT_INT(base64_encode(plain, strlen(plain), &e), 0);
        ASSERT_STR(e, encoded);
        ASSERT_INT(base64_decode(e, strlen(e), (void **) &d, &n), 0);
        ASSERT_INT(n, strlen(plain));
        ASSERT_STR(d, plain);
}

TEST(rfc4648_vectors) {
        int before = test_failures;
        roundtrip("", "");
        roundtrip("f", "Zg==");
        roundtrip("fo", "Zm8=");
        roundtrip("foo", "Zm9v");
        roundtrip("foob", "Zm9vYg==");
        roundtrip("fooba", "Zm9vYmE=");
        roundtrip("foobar", "Zm9vYmFy");
        roundtrip("/fleetd/", "L2ZsZWV0ZC8=");
        ASSERT_INT(test_failures, before);
}

TEST(binary_bytes) {
        const unsigned char raw[] = { 0, 0xff, 0x10, 0x80, 0 };
        _cleanup_free_ char *e = NULL;
        _cleanup_free_ unsigned char *d = NULL;
        size_t n;

        ASSERT_INT(base64_encode(raw, sizeof(raw), &e), 0);
        ASSERT_INT(base64_decode(e, strlen(e), (void **) &d, &n), 0);
        ASSERT_INT(n, sizeof(raw));
        ASSERT_TRUE(memcmp(d, raw, n) == 0);
}

TEST(rejects_garbage) {
        void *d = NULL;
        ASSERT_INT(base64_decode("Zm9v!", 5, &d, NULL), -EINVAL);
        ASSERT_INT(base64_decode("Z", 1, &d, NULL), -EINVAL);
        ASSERT_TRUE(d == NULL);
}

TEST_MAIN(T(rfc4648_vectors), T(binary_bytes), T(rejects_garbage))
