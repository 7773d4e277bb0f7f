/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>

#include "basic/string-util.h"
#include "basic/strv.h"
#include "metadata.h"

static bool metadata_key_is_valid(const char *s) {
        if (isempty(s))
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && !strchr("_.-", *s))
                        return false;
        return true;
}

/* One "key=value" item into *ret; on failure *ret owns nothing. */
static int metadata_pair_parse(const char *item, MetadataPair *ret) {
        _cleanup_free_ char *key = NULL, *value = NULL;
        const char *eq = strchr(item, '=');

        if (!eq)
                return -EINVAL;

        key = strndup_trimmed(item, eq - item);
        value = strndup_trimmed(eq + 1, strlen(eq + 1));
        if (!key || !value)
                return -ENOMEM;

        if (!metadata_key_is_valid(key) || isempty(value) || strchr(value, '=') ||
            has_control_chars(value))
                return -EINVAL;

        *ret = (MetadataPair) {
                .key = TAKE_PTR(key),
                .value = TAKE_PTR(value),
        };
        return 0;
}

static bool metadata_has_key(const MetadataPair *m, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (streq(m[i].key, key))
                        return true;
        return false;
}

int parse_metadata(const char *s, MetadataPair **ret, size_t *ret_n) {
        _cleanup_strv_free_ char **items = NULL;
        MetadataPair *pairs;
        size_t n = 0;
        int r;

        r = strv_split(strempty(s), ",", &items);
        if (r < 0)
                return r;

        pairs = calloc(strv_length(items) + 1, sizeof(MetadataPair));
        if (!pairs)
                return -ENOMEM;

        for (char **i = items; *i; i++) {
                r = metadata_pair_parse(*i, &pairs[n]);
                if (r < 0)
                        break;
                n++;
                if (metadata_has_key(pairs, n - 1, pairs[n - 1].key)) {
                        r = -EINVAL;
                        break;
                }
        }
        if (r < 0) {
                metadata_free(pairs, n);
                return r;
        }

        if (n == 0) {
                free(pairs);
                pairs = NULL;
        }
        *ret = pairs;
        *ret_n = n;
        return 0;
}

void metadata_free(MetadataPair *m, size_t n) {
        for (size_t i = 0; m && i < n; i++) {
                free(m[i].key);
                free(m[i].value);
        }
        free(m);
}
