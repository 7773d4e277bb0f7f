/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "basic/hashmap.h"
#include "../tests.h"

static int freed;
static void count_free(void *p) {
        freed++;
        free(p);
}

TEST(put_get_replace_remove) {
        _cleanup_(hashmap_freep) Hashmap *h = hashmap_new(count_free);
        freed = 0;

        ASSERT_INT(hashmap_put(h, "a", strdup("1")), 0);
        ASSERT_INT(hashmap_put(h, "b", strdup("2")), 0);
        ASSERT_STR(hashmap_get(h, "a"), "1");
        ASSERT_INT(hashmap_put(h, "a", strdup("3")), 0);
        ASSERT_INT(freed, 1);
        ASSERT_STR(hashmap_get(h, "a"), "3");
        ASSERT_INT(hashmap_size(h), 2);
        char *v = hashmap_remove(h, "a");
        ASSERT_STR(v, "3");
        free(v);
        ASSERT_TRUE(hashmap_get(h, "a") == NULL);
        ASSERT_TRUE(hashmap_remove(h, "zz") == NULL);
        ASSERT_INT(hashmap_size(h), 1);
}

/* Many keys with interleaved removals: every surviving key must still be found (this is
 * what breaks when backward-shift deletion is wrong). */
TEST(stress_against_reference) {
        _cleanup_(hashmap_freep) Hashmap *h = hashmap_new(NULL);
        static bool present[5000];
        char key[32];

        memset(present, 0, sizeof(present));
        for (int i = 0; i < 5000; i++) {
                snprintf(key, sizeof(key), "unit-%d.service", i);
                ASSERT_INT(hashmap_put(h, key, (void *) (intptr_t) (i + 1)), 0);
                present[i] = true;
                if (i % 3 == 0) {
                        snprintf(key, sizeof(key), "unit-%d.service", i / 2);
                        if (present[i / 2]) {
                                ASSERT_TRUE(hashmap_remove(h, key) == (void *) (intptr_t) (i / 2 + 1));
                                present[i / 2] = false;
                        }
                }
        }
        size_t n = 0;
        for (int i = 0; i < 5000; i++) {
                snprintf(key, sizeof(key), "unit-%d.service", i);
                void *v = hashmap_get(h, key);
                ASSERT_TRUE(present[i] ? v == (void *) (intptr_t) (i + 1) : v == NULL);
                n += present[i];
        }
        ASSERT_INT(hashmap_size(h), n);
}

TEST(iterate_and_sorted_keys) {
        _cleanup_(hashmap_freep) Hashmap *h = hashmap_new(NULL);
        ASSERT_INT(hashmap_put(h, "c", NULL), 0);
        ASSERT_INT(hashmap_put(h, "a", NULL), 0);
        ASSERT_INT(hashmap_put(h, "b", NULL), 0);

        size_t i = 0, n = 0;
        const char *k;
        while (hashmap_iterate(h, &i, &k, NULL))
                n++;
        ASSERT_INT(n, 3);

        _cleanup_free_ const char **keys = hashmap_sorted_keys(h);
        ASSERT_STR(keys[0], "a");
        ASSERT_STR(keys[1], "b");
        ASSERT_STR(keys[2], "c");
        ASSERT_TRUE(keys[3] == NULL);
}

TEST_MAIN(T(put_get_replace_remove), T(stress_against_reference), T(iterate_and_sorted_keys))
