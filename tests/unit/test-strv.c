/* SPDX-License-Identifier: Apache-2.0 */
#include "basic/strv.h"
#include "../tests.h"

TEST(split_trims_and_drops_empty) {
        _cleanup_strv_free_ char **l = NULL;

        ASSERT_INT(strv_split(" http://a:2379 ,, http://b:2379,", ",", &l), 0);
        ASSERT_INT(strv_length(l), 2);
        ASSERT_STR(l[0], "http://a:2379");
        ASSERT_STR(l[1], "http://b:2379");
        ASSERT_TRUE(l[2] == NULL);
}

TEST(split_empty) {
        _cleanup_strv_free_ char **l = NULL;

        ASSERT_INT(strv_split("", ",", &l), 0);
        ASSERT_INT(strv_length(l), 0);
}

TEST(extend_copy_contains) {
        _cleanup_strv_free_ char **l = NULL, **c = NULL;

        ASSERT_INT(strv_extend(&l, "a"), 0);
        ASSERT_INT(strv_extend(&l, "b"), 0);
        c = strv_copy(l);
        ASSERT_TRUE(c);
        ASSERT_INT(strv_length(c), 2);
        ASSERT_TRUE(strv_contains(c, "b"));
        ASSERT_TRUE(!strv_contains(c, "c"));
}

TEST_MAIN(T(split_trims_and_drops_empty), T(split_empty), T(extend_copy_contains))
