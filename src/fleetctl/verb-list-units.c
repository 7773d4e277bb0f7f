/* SPDX-License-Identifier: Apache-2.0 */
/* list-units (what the machines report: /v1/state) and list-unit-files (what the cluster
 * holds: /v1/units), as tables whose columns --fields picks, or as JSON. list-unit-files' default
 * columns are fleet's, and REASON after them when the engine could not (fully) place a unit
 * listed: the scheduler's reason, "stuck: ..." for one held on a draining machine. */
#include <stdio.h>

#include "basic/json-util.h"
#include "columns.h"
#include "fleetctl.h"

#define HASH_SHORT 7

static const Option option_unit_fields = LIST_FIELDS_OPTION(
        "Columns to show, comma-separated: unit, machine, active, sub,\n"
        "load, hash (default: unit,machine,active,sub)");
static const Option option_unit_file_fields = LIST_FIELDS_OPTION(
        "Columns to show, comma-separated: unit, hash, dstate, state,\n"
        "target, reason (default: unit,hash,dstate,state,target, and\n"
        "reason when a unit has one)");

OptionList list_units_options = { LIST_OPTIONS, &option_unit_fields, NULL };
OptionList list_unit_files_options = { LIST_OPTIONS, &option_unit_file_fields, NULL };

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

/* Why the engine could not (fully) place the unit: {"placement": {state, reason}}. */
static int cell_reason(Lister *l, const Column *col, const json_t *item, char **ret) {
        const json_t *p = json_object_get(item, col->key);
        const char *reason = jx_str(p, "reason");

        *ret = NULL;
        if (isempty(reason))
                return 0;
        if (streq_ptr(jx_str(p, "state"), "stuck"))
                return asprintf(ret, "stuck: %s", reason) < 0 ? (*ret = NULL, -ENOMEM) : 0;
        *ret = strdup(reason);
        return *ret ? 0 : -ENOMEM;
}

static const Column unit_columns[] = {
        { "unit", "name", cell_string },
        { "hash", "hash", cell_hash },
        { "dstate", "desiredState", cell_string },
        { "state", "currentState", cell_string },
        { "target", "machines", cell_machines },
        { "reason", "placement", cell_reason },
        /* fleet's old name of target */
        { "tmachine", "machines", cell_machines, "target" },
        {}
};

int verb_list_units(Client *c, int argc, char **argv) {
        return list_columns(c, "/v1/state", "states", state_columns, "unit,machine,active,sub", NULL);
}

int verb_list_unit_files(Client *c, int argc, char **argv) {
        return list_columns(c, "/v1/units", "units", unit_columns, "unit,hash,dstate,state,target", "reason");
}
