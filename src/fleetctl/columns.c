/* SPDX-License-Identifier: Apache-2.0 */
/* Tables of columns as data (see columns.h). */
#include <ctype.h>
#include <stdio.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "columns.h"
#include "fleetctl.h"
#include "unit-args.h"

static void lister_done(Lister *l) {
        machine_legends_done(&l->legends);
}

int cell_string(Lister *l, const Column *col, const json_t *item, char **ret) {
        const char *s = jx_str(item, col->key);

        *ret = NULL;
        if (isempty(s))
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int unknown_field(const Column *all, const char *field) {
        fprintf(stderr, "fleetctl: unknown field '%s' in --fields; valid are:", field);
        for (const Column *c = all; c->name; c++)
                if (!c->instead)
                        fprintf(stderr, "%s %s", c == all ? "" : ",", c->name);
        fprintf(stderr, ".\n");
        return -EINVAL;
}

/* The columns --fields names, in its order; -EINVAL (printed) for an unknown or no field. */
static int columns_select(const Column *all, const char *fields, const Column ***ret, size_t *ret_n) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ const Column **cols = NULL;
        size_t n;
        int r;

        r = strv_split(fields, ",", &names);
        if (r < 0)
                return r;
        n = strv_length(names);
        if (n == 0) {
                fprintf(stderr, "fleetctl: --fields needs at least one field.\n");
                return -EINVAL;
        }
        cols = calloc(n, sizeof(Column *));
        if (!cols)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                for (const Column *c = all; c->name && !cols[i]; c++)
                        if (streq(c->name, names[i]))
                                cols[i] = c;
                if (!cols[i])
                        return unknown_field(all, names[i]);
                if (cols[i]->instead)
                        fprintf(stderr, "fleetctl: warning: the field %s is deprecated; use %s.\n", cols[i]->name,
                                cols[i]->instead);
        }
        *ret = TAKE_PTR(cols);
        *ret_n = n;
        return 0;
}

static int table_for(const Column **cols, size_t n, Table **ret) {
        _cleanup_strv_free_ char **headers = NULL;
        int r;

        for (size_t i = 0; i < n; i++) {
                r = strv_extend(&headers, cols[i]->name);
                if (r < 0)
                        return r;
                for (char *p = headers[i]; *p; p++)
                        *p = (char) toupper((unsigned char) *p);
        }
        return table_new_internal(ret, (const char *const *) headers);
}

static int add_row(Lister *l, Table *t, const Column **cols, size_t n, const json_t *item) {
        char **cells = calloc(n, sizeof(char *));
        int r = cells ? 0 : -ENOMEM;

        for (size_t i = 0; r >= 0 && i < n; i++)
                r = cols[i]->cell(l, cols[i], item, &cells[i]);
        if (r >= 0)
                r = table_add_row_internal(t, (const char *const *) cells, n);
        for (size_t i = 0; cells && i < n; i++)
                free(cells[i]);
        free(cells);
        return r;
}

/* Whether an item has something under key: the default columns show an optional one then. */
static bool items_have(const json_t *items, const char *key) {
        json_t *item;
        size_t i;

        json_array_foreach(items, i, item)
                if (json_object_get(item, key))
                        return true;
        return false;
}

/* The columns without --fields: default_fields, and optional_field after them if one of items
 * has its column's key. */
static int columns_default(const Column *all, const char *default_fields, const char *optional_field,
                           const json_t *items, const Column ***ret, size_t *ret_n) {
        _cleanup_free_ char *fields = NULL;

        for (const Column *col = all; optional_field && col->name; col++)
                if (streq(col->name, optional_field) && items_have(items, col->key)) {
                        if (asprintf(&fields, "%s,%s", default_fields, optional_field) < 0)
                                return (fields = NULL), -ENOMEM;
                        break;
                }
        return columns_select(all, fields ?: default_fields, ret, ret_n);
}

int list_columns(Client *c, const char *path, const char *key, const Column *all, const char *default_fields,
                 const char *optional_field) {
        _cleanup_(lister_done) Lister l = { .client = c, .legends = { .client = c } };
        _cleanup_free_ const Column **cols = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        json_auto_t *items = NULL;
        json_t *item;
        size_t n, i;
        int r;

        /* --fields is checked before anything is asked */
        if (arg_fields) {
                r = columns_select(all, arg_fields, &cols, &n);
                if (r < 0)
                        return r;
        }
        r = api_list_all(c, path, key, &items);
        if (r < 0)
                return r;
        if (arg_json)
                return print_json(items);
        if (!arg_fields) {
                r = columns_default(all, default_fields, optional_field, items, &cols, &n);
                if (r < 0)
                        return r;
        }

        r = table_for(cols, n, &t);
        if (r < 0)
                return r;
        table_set_header(t, arg_legend);
        json_array_foreach(items, i, item) {
                r = add_row(&l, t, cols, n, item);
                if (r < 0)
                        break;
        }
        return r < 0 ? r : table_print(t, stdout);
}
