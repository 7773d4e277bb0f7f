/* SPDX-License-Identifier: Apache-2.0 */
/* Machine verbs: list-machines. */
#include <stdio.h>

#include "fleetctl.h"
#include "table.h"
#include "unit-args.h"

OptionList list_machines_options = { LIST_OPTIONS, NULL };

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

static int add_machine(Table *t, const json_t *m, void *userdata) {
        _cleanup_free_ char *metadata = NULL, *short_id = NULL;
        const char *id = json_string_value(json_object_get(m, "id"));
        int r;

        if (id && !arg_full && strlen(id) > 8 && asprintf(&short_id, "%.8s...", id) < 0)
                return -ENOMEM;
        r = format_metadata(json_object_get(m, "metadata"), &metadata);
        if (r < 0)
                return r;
        return table_add_row(t, short_id ?: id, json_string_value(json_object_get(m, "ip")), metadata,
                             json_string_value(json_object_get(m, "state")));
}

int verb_list_machines(Client *c, int argc, char **argv) {
        _cleanup_(table_freep) Table *t = NULL;
        json_auto_t *answer = NULL;
        json_t *machines;
        int r;

        r = api_get_list(c, "/v1/machines", "machines", &answer, &machines);
        if (r >= 0)
                r = table_new(&t, "MACHINE", "IP", "METADATA", "STATE");
        if (r < 0)
                return r;
        table_set_header(t, arg_legend);
        return print_list(machines, t, machines, add_machine, NULL);
}
