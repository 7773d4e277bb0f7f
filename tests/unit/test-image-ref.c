/* SPDX-License-Identifier: Apache-2.0 */
#include "image-ref.h"
#include "../tests.h"

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void check(const char *s, const char *domain, const char *path, const char *tag, const char *digest) {
        _cleanup_(image_ref_done) ImageRef r = {};

        if (image_ref_parse(s, &r) < 0) {
                fprintf(stderr, "  refused \"%s\"\n", s);
                test_failures++;
                return;
        }
        if (!streq_ptr(r.domain, domain) || !streq_ptr(r.path, path) || !streq_ptr(r.tag, tag) ||
            !streq_ptr(r.digest, digest)) {
                fprintf(stderr, "  \"%s\" -> %s | %s | %s | %s\n", s, strna(r.domain), strna(r.path), strna(r.tag),
                        strna(r.digest));
                test_failures++;
        }
}

TEST(parse) {
        check("hello", NULL, "hello", NULL, NULL);
        check("hello:1.0", NULL, "hello", "1.0", NULL);
        check("library/busybox:latest", NULL, "library/busybox", "latest", NULL);
        check("localhost/hello:1.0", "localhost", "hello", "1.0", NULL);
        check("registry.example.com/shop/web:2.3.1", "registry.example.com", "shop/web", "2.3.1", NULL);
        check("10.233.1.13:5000/hello:20240101-120000-ab12", "10.233.1.13:5000", "hello", "20240101-120000-ab12", NULL);
        check("10.233.1.13:5000/hello@" DIGEST, "10.233.1.13:5000", "hello", NULL, DIGEST);
        check("quay.example.com/a/b:t@" DIGEST, "quay.example.com", "a/b", "t", DIGEST);
        check("reg:5000/a__b/c-d.e_f", "reg:5000", "a__b/c-d.e_f", NULL, NULL);
        check("Registry.Example.com/x", "Registry.Example.com", "x", NULL, NULL);
}

TEST(refused) {
        static const char * const bad[] = {
                "", "-x", "Hello", "hello:", "hello:-1", ":1", "a//b", "a/", "/a", "a b", "a@sha256:12",
                "a@md5:0123", "reg:/x", "reg:123456/x", ".reg/x", "a..b", "a___b", "a-", "x:1:2",
                "a@" DIGEST "x", "a\n", "reg.example.com/", "a:" "01234567890123456789012345678901234567890123456789"
                "01234567890123456789012345678901234567890123456789" "0123456789012345678901234567890",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(image_ref_done) ImageRef r = {};
                if (image_ref_parse(bad[i], &r) != -EINVAL) {
                        fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
                        ASSERT_TRUE(false);
                }
        }
        ImageRef r = {};
        ASSERT_INT(image_ref_parse(NULL, &r), -EINVAL);
}

TEST(digests_and_tags) {
        ASSERT_TRUE(image_digest_is_valid(DIGEST));
        ASSERT_TRUE(!image_digest_is_valid("sha256:0123"));
        ASSERT_TRUE(!image_digest_is_valid("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
        ASSERT_TRUE(!image_digest_is_valid("sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
        ASSERT_TRUE(!image_digest_is_valid(NULL));
        ASSERT_TRUE(image_tag_is_valid("v1.0_rc-2"));
        ASSERT_TRUE(image_tag_is_valid("_x"));
        ASSERT_TRUE(!image_tag_is_valid(".x"));
        ASSERT_TRUE(!image_tag_is_valid("-x"));
        ASSERT_TRUE(!image_tag_is_valid("a/b"));
        ASSERT_TRUE(!image_tag_is_valid(""));
}

TEST(registry) {
        ASSERT_TRUE(image_ref_has_registry("registry.example.com/x:1"));
        ASSERT_TRUE(image_ref_has_registry("10.0.0.1:5000/x"));
        ASSERT_TRUE(image_ref_has_registry("reg:5000/x@" DIGEST));
        ASSERT_TRUE(!image_ref_has_registry("localhost/hello:1.0"));
        ASSERT_TRUE(!image_ref_has_registry("hello:1.0"));
        ASSERT_TRUE(!image_ref_has_registry("library/busybox"));
        ASSERT_TRUE(image_ref_has_registry("localhost:5000/x"));
        ASSERT_TRUE(!image_ref_has_registry("not an image"));
        ASSERT_TRUE(!image_ref_has_registry(NULL));
}

TEST(pin_and_tag) {
        _cleanup_free_ char *a = image_ref_pin("10.0.0.1:5000/hello:b1", DIGEST);
        _cleanup_free_ char *b = image_ref_pin("hello", DIGEST);
        _cleanup_free_ char *c = image_ref_pin("reg.example.com/x@" DIGEST, DIGEST);
        _cleanup_free_ char *d = image_ref_tagged("10.0.0.1:5000/hello", "20240101-120000-ab12");

        ASSERT_STR(a, "10.0.0.1:5000/hello@" DIGEST);
        ASSERT_STR(b, "hello@" DIGEST);
        ASSERT_STR(c, "reg.example.com/x@" DIGEST);
        ASSERT_STR(d, "10.0.0.1:5000/hello:20240101-120000-ab12");
        ASSERT_TRUE(!image_ref_pin("hello", "sha256:12"));
        ASSERT_TRUE(!image_ref_pin("-bad", DIGEST));
        ASSERT_TRUE(!image_ref_tagged("hello:1", "x"));
        ASSERT_TRUE(!image_ref_tagged("hello@" DIGEST, "x"));
        ASSERT_TRUE(!image_ref_tagged("hello", "-x"));
}

TEST_MAIN(T(parse), T(refused), T(digests_and_tags), T(registry), T(pin_and_tag));
