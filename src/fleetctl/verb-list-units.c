/* SPDX-License-Identifier: Apache-2.0 */
/* list-units (what the machines report: /v1/state) and list-unit-files (what the cluster
 * holds: /v1/units), as tables whose columns --fields picks, or as JSON. */
#include <ctype.h>
#include <stdio.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "fleetctl.h"
#include "machine-legend.h"
#include "table.h"
#include "unit-args.h"

#define HASH_SHORT 7

static const Option option_unit_fields = LIST_FIELDS_OPTION(
        "Columns to show, comma-separated: unit, machine, active, sub,\n"
        "load, hash (default: unit,machine,active,sub)");
static const Option option_unit_file_fields = LIST_FIELDS_OPTION(
        "Columns to show, comma-separated: unit, hash, dstate, state,\n"
        "target (default: all of them)");

OptionList list_units_options = { LIST_OPTIONS, &option_unit_fields, NULL };
OptionList list_unit_files_options = { LIST_OPTIONS, &option_unit_file_fields, NULL };

typedef struct Lister {
        Client *client;
        MachineLegends legends;
} Lister;

static void lister_done(Lister *l) {
        machine_legends_done(&l->legends);
}

typedef struct Column Column;
/* One cell of item in *ret (owned by the caller; NULL shows as "-"). Returns 0 or -ENOMEM. */
typedef int (*cell_func_t)(Lister *l, const Column *col, const json_t *item, char **ret);

struct Column {
        const char *name;   /* for --fields; upper-cased, the header */
        const char *key;    /* the member of item shown */
        cell_func_t cell;
};

static int cell_string(Lister *l, const Column *col, const json_t *item, char **ret) {
        const char *s = jx_str(item, col->key);

        *ret = NULL;
        if (isempty(s))
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int cell_hash(Lister *l, const Column *col, const json_t *item, char **ret) {
        const char *s = jx_str(item, col->key);

        *ret = NULL;
        if (isempty(s))
                return 0;
        *ret = arg_full ? strdup(s) : strndup(s, HASH_SHORT);
        return *ret ? 0 : -ENOMEM;
}

static int cell_machine(Lister *l, const Column *col, const json_t *item, char **ret) {
        return machine_legend(&l->legends, jx_str(item, col->key), arg_full, ret);
}

/* A unit's machines (several for a global unit), comma-separated. */
static int cell_machines(Lister *l, const Column *col, const json_t *item, char **ret) {
        _cleanup_free_ char *s = NULL;
        size_t len = 0, i;
        json_t *id;
        FILE *f;
        int r = 0;

        *ret = NULL;
        if (json_array_size(json_object_get(item, col->key)) == 0)
                return 0;
        f = open_memstream(&s, &len);
        if (!f)
                return -ENOMEM;
        json_array_foreach(json_object_get(item, col->key), i, id) {
                _cleanup_free_ char *legend = NULL;

                r = machine_legend(&l->legends, json_string_value(id), arg_full, &legend);
                if (r < 0)
                        break;
                fprintf(f, "%s%s", i > 0 ? "," : "", strna(legend));
        }
        if (fclose(f) != 0 || r < 0)
                return r < 0 ? r : -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

static const Column state_columns[] = {
        { "unit", "name", cell_string },
        { "machine", "machine", cell_machine },
        { "active", "active", cell_string },
        { "sub", "sub", cell_string },
        { "load", "load", cell_string },
        { "hash", "hash", cell_hash },
        {}
};

static const Column unit_columns[] = {
        { "unit", "name", cell_string },
        { "hash", "hash", cell_hash },
        { "dstate", "desiredState", cell_string },
        { "state", "currentState", cell_string },
        { "target", "machines", cell_machines },
        {}
};

static int unknown_field(const Column *all, const char *field) {
        fprintf(stderr, "fleetctl: unknown field '%s' in --fields; valid are:", field);
        for (const Column *c = all; c->name; c++)
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

static int list(Client *c, const char *path, const char *key, const Column *all, const char *default_fields) {
        _cleanup_(lister_done) Lister l = { .client = c, .legends = { .client = c } };
        _cleanup_free_ const Column **cols = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        json_auto_t *items = NULL;
        json_t *item;
        size_t n, i;
        int r;

        r = columns_select(all, arg_fields ?: default_fields, &cols, &n);
        if (r < 0)
                return r;
        r = api_list_all(c, path, key, &items);
        if (r < 0)
                return r;
        if (arg_json)
                return print_json(items);

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

int verb_list_units(Client *c, int argc, char **argv) {
        return list(c, "/v1/state", "states", state_columns, "unit,machine,active,sub");
}

int verb_list_unit_files(Client *c, int argc, char **argv) {
        return list(c, "/v1/units", "units", unit_columns, "unit,hash,dstate,state,target");
}
