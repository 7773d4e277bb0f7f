/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Column-aligned tables for people: a header line (unless turned off), then one line per row,
 * columns separated by at least two spaces, no trailing blanks. A NULL cell prints as "-";
 * control characters in cells print as spaces, so that data from the cluster cannot break the
 * layout or send escape sequences to the terminal. */

#include <stdbool.h>
#include <stdio.h>

#include "basic/macros.h"

typedef struct Table Table;

/* table_new(&t, "MACHINE", "IP", "STATE"): one column per header. Returns 0 or -ENOMEM. */
#define table_new(ret, ...) table_new_internal((ret), (const char *const[]) { __VA_ARGS__, NULL })
int table_new_internal(Table **ret, const char *const *headers);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

/* table_add_row(t, id, ip, state): copies the cells. Returns 0, -EINVAL if the number of cells
 * is not the number of columns, or -ENOMEM. */
#define table_add_row(t, ...)                                                   \
        table_add_row_internal((t), (const char *const[]) { __VA_ARGS__ },      \
                               ELEMENTSOF(((const char *const[]) { __VA_ARGS__ })))
int table_add_row_internal(Table *t, const char *const *cells, size_t n);

void table_set_header(Table *t, bool show);
size_t table_get_rows(const Table *t);

/* Returns 0, or -EIO if writing to f failed. */
int table_print(const Table *t, FILE *f);
