/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Machine metadata and other "key=value" pairs (metadata= in the config, constraints and
 * config in releases). PURE. */

#include <stddef.h>

#include "basic/macros.h"

typedef struct MetadataPair {
        char *key;
        char *value;
} MetadataPair;

/* Parses "k=v,k2=v2" into pairs; keys must match [A-Za-z0-9_.-]+, values are non-empty and
 * contain neither ',' nor '='. Blanks around items, keys and values are dropped, and so are
 * empty items ("a=b,,c=d" is two pairs); a key given twice is an error. "" gives no pairs
 * (*ret = NULL, *ret_n = 0). Returns 0, -EINVAL or -ENOMEM. */
int parse_metadata(const char *s, MetadataPair **ret, size_t *ret_n);
void metadata_free(MetadataPair *m, size_t n);
