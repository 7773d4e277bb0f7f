/* SPDX-License-Identifier: Apache-2.0 */
/* Machine verbs: list-machines, whose columns --fields picks (fleet's machine, ip, metadata,
 * and fleetd's state, hostname, version). */
#include <stdio.h>

#include "basic/json-util.h"
#include "columns.h"
#include "fleetctl.h"

static const Option option_machine_fields = LIST_FIELDS_OPTION(
        "Columns to show, comma-separated: machine, ip, metadata,\n"
        "state, hostname, version (default: machine,ip,metadata,state)");

OptionList list_machines_options = { LIST_OPTIONS, &option_machine_fields, NULL };

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(const char * const *) a, *(const char * const *) b);
}

/* {"role":"web","region":"eu"} -> "region=eu,role=web"; NULL for none. Values that are not
 * strings are shown as JSON. */
static int format_metadata(const json_t *metadata, char **ret) {
        _cleanup_free_ const char **keys = NULL;
        _cleanup_free_ char *s = NULL;
        size_t n = 0, len = 0;
        const char *key;
        json_t *value;
        FILE *f;

        *ret = NULL;
        if (json_object_size(metadata) == 0)
                return 0;
        keys = calloc(json_object_size(metadata), sizeof(char *));
        if (!keys)
                return -ENOMEM;
        json_object_foreach((json_t *) metadata, key, value)
                keys[n++] = key;
        qsort(keys, n, sizeof(char *), compare_strings);

        f = open_memstream(&s, &len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_t *v = json_object_get(metadata, keys[i]);
                fprintf(f, "%s%s=", i > 0 ? "," : "", keys[i]);
                if (json_is_string(v))
                        fputs(json_string_value(v), f);
                else
                        json_dumpf(v, f, JSON_COMPACT | JSON_ENCODE_ANY);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

/* The ID, its first 8 characters and "..." unless --full. */
static int cell_id(Lister *l, const Column *col, const json_t *item, char **ret) {
        const char *id = jx_str(item, col->key);

        *ret = NULL;
        if (isempty(id))
                return 0;
        if (!arg_full && strlen(id) > 8)
                return asprintf(ret, "%.8s...", id) < 0 ? (*ret = NULL, -ENOMEM) : 0;
        *ret = strdup(id);
        return *ret ? 0 : -ENOMEM;
}

static int cell_metadata(Lister *l, const Column *col, const json_t *item, char **ret) {
        return format_metadata(json_object_get(item, col->key), ret);
}

static const Column machine_columns[] = {
        { "machine", "id", cell_id },
        { "ip", "ip", cell_string },
        { "metadata", "metadata", cell_metadata },
        { "state", "state", cell_string },
        { "hostname", "hostname", cell_string },
        { "version", "version", cell_string },
        {}
};

int verb_list_machines(Client *c, int argc, char **argv) {
        return list_columns(c, "/v1/machines", "machines", machine_columns, "machine,ip,metadata,state", NULL);
}
