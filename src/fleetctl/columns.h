/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The listing verbs' tables as data: a verb lists its columns (a name for --fields and the
 * header, the member of each listed item shown, how a cell is made), and list_columns() fetches
 * the list, picks the columns (--fields, else the verb's default) and prints the table, or the
 * list as JSON with --json. list-units, list-unit-files, list-machines. */

#include <jansson.h>

#include "client.h"
#include "machine-legend.h"
#include "table.h"

/* What cells may need while one list is printed. */
typedef struct Lister {
        Client *client;
        MachineLegends legends;
} Lister;

typedef struct Column Column;
/* One cell of item in *ret (owned by the caller; NULL shows as "-"). Returns 0 or -ENOMEM. */
typedef int (*cell_func_t)(Lister *l, const Column *col, const json_t *item, char **ret);

struct Column {
        const char *name;     /* for --fields; upper-cased, the header */
        const char *key;      /* the member of item shown */
        cell_func_t cell;
        const char *instead;  /* a deprecated name: the one to use (warned about); NULL: none */
};

/* The cell of a string member, as it is. */
int cell_string(Lister *l, const Column *col, const json_t *item, char **ret);

/* GETs path (every page) and prints the items under key as a table of the columns --fields
 * names among all (ends with {}), in its order, or else of default_fields, and of
 * optional_field after them when an item has its column's key (NULL: none). Unknown fields
 * are a usage error (-EINVAL, printed) before anything is asked. Returns 0 or a negative
 * errno. */
int list_columns(Client *c, const char *path, const char *key, const Column *all, const char *default_fields,
                 const char *optional_field);
