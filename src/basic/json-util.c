/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "json-util.h"

const char *jx_str(const json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}

int64_t jx_int64(const json_t *o, const char *key, int64_t fallback) {
        json_t *v = json_object_get(o, key);

        if (json_is_integer(v))
                return json_integer_value(v);
        if (json_is_string(v)) {
                const char *s = json_string_value(v);
                char *end;
                errno = 0;
                long long n = strtoll(s, &end, 10);
                if (errno == 0 && end != s && *end == 0)
                        return n;
        }
        return fallback;
}

bool jx_bool(const json_t *o, const char *key, bool fallback) {
        json_t *v = json_object_get(o, key);
        return json_is_boolean(v) ? json_is_true(v) : fallback;
}

char *jx_dumps(const json_t *v) {
        return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}
