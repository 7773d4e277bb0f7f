/* SPDX-License-Identifier: Apache-2.0 */
#include "basic/json-util.h"
#include "basic/macros.h"
#include "../tests.h"

TEST(int64_from_string_or_number) {
        json_auto_t *o = json_loads("{\"a\":\"42\",\"b\":7,\"c\":\"x\",\"d\":\"9223372036854775807\"}", 0, NULL);

        ASSERT_TRUE(o);
        ASSERT_INT(jx_int64(o, "a", -1), 42);
        ASSERT_INT(jx_int64(o, "b", -1), 7);
        ASSERT_INT(jx_int64(o, "c", -1), -1);
        ASSERT_INT(jx_int64(o, "missing", 0), 0);
        ASSERT_TRUE(jx_int64(o, "d", 0) == INT64_MAX);
}

TEST(str_and_bool) {
        json_auto_t *o = json_loads("{\"s\":\"v\",\"n\":1,\"t\":true}", 0, NULL);

        ASSERT_STR(jx_str(o, "s"), "v");
        ASSERT_TRUE(jx_str(o, "n") == NULL);
        ASSERT_TRUE(jx_bool(o, "t", false));
        ASSERT_TRUE(!jx_bool(o, "s", false));
}

TEST(dumps_is_sorted_and_compact) {
        json_auto_t *o = json_pack("{s:i,s:s}", "b", 1, "a", "x");
        _cleanup_free_ char *s = jx_dumps(o);

        ASSERT_STR(s, "{\"a\":\"x\",\"b\":1}");
}

TEST_MAIN(T(int64_from_string_or_number), T(str_and_bool), T(dumps_is_sorted_and_compact))
