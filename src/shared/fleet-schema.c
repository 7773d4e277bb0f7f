/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/base64.h"
#include "basic/hashmap.h"
#include "basic/strv.h"
#include "fleet-schema.h"
#include "unit-name.h"
#include "unit-options.h"

/* ---- unit options ---- */

static json_t *option_json(const char *section, const char *name, const char *value) {
        return json_pack("{s:s, s:s, s:s*}", "name", name, "section", section, "value", isempty(value) ? NULL : value);
}

json_t *fleet_options_from_unit_file(const UnitFile *uf) {
        json_auto_t *list = json_array();

        if (!list)
                return NULL;
        UNIT_FILE_FOREACH_ENTRY(e, uf, NULL)
                if (json_array_append_new(list, option_json(e.section, e.key, e.value)) < 0)
                        return NULL;
        return json_incref(list);
}

/* The string field of option i, "" if missing (as Go decodes it); -EINVAL with a message if it is
 * there and not a string. */
static int option_field(const json_t *o, size_t i, const char *field, const char **ret, char **ret_error) {
        const json_t *v = json_object_get(o, field);

        if (!v || json_is_null(v)) {
                *ret = "";
                return 0;
        }
        if (!json_is_string(v))
                return asprintf(ret_error, "options[%zu].%s: must be a string", i, field) < 0 ? -ENOMEM : -EINVAL;
        *ret = json_string_value(v);
        return 0;
}

/* Why value cannot be the value of a unit file line, or NULL if it can. */
static const char *value_problem(const char *value) {
        size_t len = strlen(value), n_backslashes = 0;

        if (strpbrk(value, "\r\n"))
                return "must be one line (fleetd keeps options as unit file lines)";
        if (len > 0 && (strchr(" \t", value[0]) || strchr(" \t", value[len - 1])))
                return "must not start or end with blanks (a unit file strips them)";
        while (n_backslashes < len && value[len - 1 - n_backslashes] == '\\')
                n_backslashes++;
        if (n_backslashes % 2 == 1)
                return "must not end in a backslash (a unit file would continue the line)";
        return NULL;
}

/* Adds option i to uf, or says which of its fields is in the way. */
static int option_add(UnitFile *uf, const json_t *o, size_t i, char **ret_error) {
        const char *section, *name, *value, *problem;
        int r;

        if (!json_is_object(o))
                return asprintf(ret_error, "options[%zu]: must be an object {section, name, value}", i) < 0 ? -ENOMEM
                                                                                                             : -EINVAL;
        if ((r = option_field(o, i, "section", &section, ret_error)) < 0 ||
            (r = option_field(o, i, "name", &name, ret_error)) < 0 ||
            (r = option_field(o, i, "value", &value, ret_error)) < 0)
                return r;

        r = unit_file_ensure_section(uf, section);
        if (r == -EINVAL)
                problem = "section", value = section;
        else if (r < 0)
                return r;
        else {
                problem = value_problem(value);
                if (problem)
                        return asprintf(ret_error, "options[%zu].value: %s", i, problem) < 0 ? -ENOMEM : -EINVAL;
                r = unit_file_add(uf, section, name, value);
                if (r == -ENOBUFS)
                        return asprintf(ret_error, "options[%zu].value: too long for a unit file line", i) < 0
                                       ? -ENOMEM : -EINVAL;
                if (r != -EINVAL)
                        return r;
                problem = "name", value = name;
        }
        return asprintf(ret_error, "options[%zu].%s: '%s' is not a valid %s %s", i, problem, value,
                        streq(problem, "section") ? "unit file" : "option", problem) < 0 ? -ENOMEM : -EINVAL;
}

int fleet_options_to_unit_file(const json_t *options, UnitFile **ret, char **ret_error) {
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        size_t i;
        json_t *o;
        int r;

        if (!json_is_array(options))
                return asprintf(ret_error, "options: must be an array of {section, name, value}") < 0 ? -ENOMEM
                                                                                                      : -EINVAL;
        r = unit_file_new(&uf);
        if (r < 0)
                return r;
        json_array_foreach(options, i, o) {
                r = option_add(uf, o, i, ret_error);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(uf);
        return 0;
}

/* The names of the sections that have entries, in the order of their first entry. */
static int sections_in_order(const UnitFile *uf, char ***ret) {
        _cleanup_strv_free_ char **names = NULL;
        int r;

        UNIT_FILE_FOREACH_ENTRY(e, uf, NULL) {
                if (strv_contains(names, e.section))
                        continue;
                r = strv_extend(&names, e.section);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(names);
        return 0;
}

int fleet_unit_file_serialize(const UnitFile *uf, char **ret) {
        _cleanup_strv_free_ char **sections = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        r = sections_in_order(uf, &sections);
        if (r < 0)
                return r;
        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        STRV_FOREACH(s, sections) {
                fprintf(f, "%s[%s]\n", s == sections ? "" : "\n", *s);
                UNIT_FILE_FOREACH_ENTRY(e, uf, *s)
                        fprintf(f, "%s=%s\n", e.key, e.value);
        }
        if (fclose(f) < 0 || !text)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

int fleet_unit_file_hash(const UnitFile *uf, char ret[SHA1_HEX_SIZE]) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = fleet_unit_file_serialize(uf, &text);
        if (r < 0)
                return r;
        sha1_hex(text, strlen(text), ret);
        return 0;
}

/* ---- paging ---- */

int fleet_page_token_encode(uint16_t page, char **ret) {
        const uint8_t raw[4] = { FLEET_PAGE_LIMIT & 0xff, FLEET_PAGE_LIMIT >> 8, page & 0xff, page >> 8 };
        char *s;
        int r;

        r = base64_encode(raw, sizeof(raw), &s);
        if (r < 0)
                return r;
        for (char *p = s; *p; p++)
                *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
        *ret = s;
        return 0;
}

static int token_error(char **ret_error, const char *why) {
        return asprintf(ret_error, "nextPageToken: %s; pass the nextPageToken of the previous page as it was",
                        why) < 0 ? -ENOMEM : -EINVAL;
}

int fleet_page_token_decode(const char *token, uint16_t *ret_page, char **ret_error) {
        _cleanup_free_ char *std = strdup(token);
        _cleanup_free_ uint8_t *raw = NULL;
        size_t len = strlen(token), n;

        if (!std)
                return -ENOMEM;
        /* URL-safe base64 with its padding, as Go's base64.URLEncoding insists on */
        if (len % 4 != 0 || strpbrk(token, "+/"))
                return token_error(ret_error, "not URL-safe base64 with padding");
        for (char *p = std; *p; p++)
                *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
        if (base64_decode(std, len, (void **) &raw, &n) < 0)
                return token_error(ret_error, "not URL-safe base64 with padding");
        if (n < 4)
                return token_error(ret_error, "too short for a page token");
        if ((raw[0] | raw[1] << 8) != FLEET_PAGE_LIMIT)
                return asprintf(ret_error, "nextPageToken: token limit must be %d", FLEET_PAGE_LIMIT) < 0 ? -ENOMEM
                                                                                                         : -EINVAL;
        if ((raw[2] | raw[3] << 8) == 0)
                return asprintf(ret_error, "nextPageToken: token page must be greater than zero") < 0 ? -ENOMEM
                                                                                                     : -EINVAL;
        *ret_page = (uint16_t) (raw[2] | raw[3] << 8);
        return 0;
}

void fleet_page_bounds(size_t total, uint16_t page, size_t *ret_start, size_t *ret_end, bool *ret_next) {
        size_t start = (size_t) (page - 1) * FLEET_PAGE_LIMIT, stop = (size_t) page * FLEET_PAGE_LIMIT;

        if (page == 0 || start >= total) {
                *ret_start = *ret_end = MIN(start, total);
                *ret_next = false;
                return;
        }
        *ret_start = start;
        *ret_end = MIN(stop, total);
        *ret_next = stop <= total;
}

/* Wraps items (stolen) as the page {key: items?, "nextPageToken"?}. */
static int page_json(const char *key, json_t *items, bool next, uint16_t page, json_t **ret) {
        json_auto_t *list = items;
        _cleanup_free_ char *token = NULL;
        int r;

        if (!list)
                return -ENOMEM;
        if (next) {
                r = fleet_page_token_encode(page + 1, &token);
                if (r < 0)
                        return r;
        }
        *ret = json_pack("{s:O*, s:s*}", key, json_array_size(list) > 0 ? list : NULL, "nextPageToken", token);
        return *ret ? 0 : -ENOMEM;
}

/* ---- entities ---- */

const char *fleet_current_state(const char *machine, const StateRecord *state, UnitDesiredState desired) {
        static const char *const running[] = { "active", "activating", "deactivating", "reloading", NULL };
        const char *active;

        if (!machine || !state)
                return "inactive";
        active = strempty(state->active);
        if (strv_contains((char **) running, active) || (streq(active, "failed") && desired == UNIT_LAUNCHED))
                return "launched";
        return "loaded";
}

/* The load state of s; the agent reports it only when systemd's signal carries it, but a unit
 * that systemd has in any active state other than inactive is loaded. */
static const char *state_load(const StateRecord *s) {
        if (!isempty(s->load))
                return s->load;
        return !isempty(s->active) && !streq(s->active, "inactive") ? "loaded" : NULL;
}

json_t *fleet_state_json(const StateRecord *s, const char *hash) {
        hash = hash ?: s->hash;
        return json_pack("{s:s*, s:s, s:s, s:s*, s:s*, s:s*}",
                         "hash", isempty(hash) ? NULL : hash,
                         "machineID", s->machine,
                         "name", s->name,
                         "systemdActiveState", isempty(s->active) ? NULL : s->active,
                         "systemdLoadState", state_load(s),
                         "systemdSubState", isempty(s->sub) ? NULL : s->sub);
}

json_t *fleet_machine_json(const MachineRecord *m) {
        /* fleetd's own machine object has the metadata as fleet's does: {key: value} */
        json_auto_t *full = machine_record_to_json(m);
        json_t *metadata = json_object_get(full, "metadata");

        if (!metadata)
                return NULL;
        return json_pack("{s:s, s:O*, s:s*}",
                         "id", m->id,
                         "metadata", json_object_size(metadata) > 0 ? metadata : NULL,
                         "primaryIP", isempty(m->ip) ? NULL : m->ip);
}

json_t *fleet_error_json(unsigned status, const char *message) {
        json_t *j = json_pack("{s:{s:i, s:s}}", "error", "code", (int) status, "message", strempty(message));

        /* jansson takes only UTF-8; a message quoting foreign bytes must not lose the status */
        return j ?: json_pack("{s:{s:i, s:s}}", "error", "code", (int) status, "message",
                              "(The error message was not valid UTF-8.)");
}

/* ---- the snapshot ---- */

typedef struct FleetUnit {
        UnitRecord record;
        UnitFile *file;
        bool global;
        char fleet_hash[SHA1_HEX_SIZE];
} FleetUnit;

struct FleetSnapshot {
        FleetUnit **units;            /* in the order added (key order) */
        size_t n_units;
        Hashmap *unit_index;          /* name -> FleetUnit (borrowed) */
        Hashmap *schedule;            /* unit name -> machine id (owned) */
        StateRecord **states;         /* in key order: unit, then machine */
        size_t n_states;
        Hashmap *state_index;         /* "<unit>/<machine>" -> StateRecord (borrowed) */
        MachineRecord **machines;
        size_t n_machines;
};

static FleetUnit *fleet_unit_free(FleetUnit *u) {
        if (!u)
                return NULL;
        unit_record_done(&u->record);
        unit_file_free(u->file);
        free(u);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(FleetUnit *, fleet_unit_free);

int fleet_snapshot_new(FleetSnapshot **ret) {
        _cleanup_(fleet_snapshot_freep) FleetSnapshot *s = calloc(1, sizeof(FleetSnapshot));

        if (!s || !(s->unit_index = hashmap_new(NULL)) || !(s->schedule = hashmap_new(free)) ||
            !(s->state_index = hashmap_new(NULL)))
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

FleetSnapshot *fleet_snapshot_free(FleetSnapshot *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_units; i++)
                fleet_unit_free(s->units[i]);
        for (size_t i = 0; i < s->n_states; i++) {
                state_record_done(s->states[i]);
                free(s->states[i]);
        }
        for (size_t i = 0; i < s->n_machines; i++) {
                machine_record_done(s->machines[i]);
                free(s->machines[i]);
        }
        free(s->units);
        free(s->states);
        free(s->machines);
        hashmap_free(s->unit_index);
        hashmap_free(s->schedule);
        hashmap_free(s->state_index);
        free(s);
        return NULL;
}

/* Appends item to the array *list of *n pointers. */
static int push(void ***list, size_t *n, void *item) {
        void **l = reallocarray(*list, *n + 1, sizeof(void *));

        if (!l)
                return -ENOMEM;
        l[(*n)++] = item;
        *list = l;
        return 0;
}

/* The unit record in value with its parsed contents, or NULL (and 0) if it is not one. */
static int fleet_unit_parse(const char *value, FleetUnit **ret) {
        _cleanup_(fleet_unit_freep) FleetUnit *u = calloc(1, sizeof(FleetUnit));
        _cleanup_(unit_options_done) UnitOptions o = {};
        json_auto_t *j = json_loads(value, 0, NULL);
        int r;

        *ret = NULL;
        if (!u)
                return -ENOMEM;
        if (unit_record_from_json(j, &u->record) < 0)
                return 0;
        r = unit_file_parse(u->record.contents, strlen(u->record.contents), u->record.name, &u->file, NULL);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        r = unit_options_parse(u->file, u->record.name, NULL, &o);
        if (r < 0)
                return r;
        u->global = o.global;
        r = fleet_unit_file_hash(u->file, u->fleet_hash);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(u);
        return 0;
}

int fleet_snapshot_add_unit(FleetSnapshot *s, const char *value) {
        _cleanup_(fleet_unit_freep) FleetUnit *u = NULL;
        int r;

        r = fleet_unit_parse(value, &u);
        if (r < 0 || !u)
                return r;
        r = hashmap_put(s->unit_index, u->record.name, u);
        if (r < 0)
                return r;
        r = push((void ***) &s->units, &s->n_units, u);
        if (r < 0) {
                (void) hashmap_remove(s->unit_index, u->record.name);
                return r;
        }
        TAKE_PTR(u);
        return 0;
}

int fleet_snapshot_add_schedule(FleetSnapshot *s, const char *key) {
        const char *slash = strchr(key, '/');
        char *machine;
        int r;

        if (!slash || slash - key != MACHINE_ID_LEN || hashmap_get(s->schedule, slash + 1))
                return 0;
        machine = strndup(key, MACHINE_ID_LEN);
        if (!machine)
                return -ENOMEM;
        r = hashmap_put(s->schedule, slash + 1, machine);
        if (r < 0)
                free(machine);
        return r;
}

int fleet_snapshot_add_state(FleetSnapshot *s, const char *value) {
        _cleanup_free_ StateRecord *st = calloc(1, sizeof(StateRecord));
        json_auto_t *j = json_loads(value, 0, NULL);
        _cleanup_free_ char *key = NULL;
        int r;

        if (!st)
                return -ENOMEM;
        if (state_record_from_json(j, st) < 0)
                return 0;
        if (asprintf(&key, "%s/%s", st->name, st->machine) < 0) {
                key = NULL;
                r = -ENOMEM;
        } else
                r = hashmap_put(s->state_index, key, st);
        if (r >= 0)
                r = push((void ***) &s->states, &s->n_states, st);
        if (r < 0) {
                if (key)
                        (void) hashmap_remove(s->state_index, key);
                state_record_done(st);
                return r;
        }
        TAKE_PTR(st);
        return 0;
}

int fleet_snapshot_add_machine(FleetSnapshot *s, const char *value) {
        _cleanup_free_ MachineRecord *m = calloc(1, sizeof(MachineRecord));
        json_auto_t *j = json_loads(value, 0, NULL);
        int r;

        if (!m)
                return -ENOMEM;
        if (machine_record_from_json(j, m) < 0)
                return 0;
        r = push((void ***) &s->machines, &s->n_machines, m);
        if (r < 0) {
                machine_record_done(m);
                return r;
        }
        TAKE_PTR(m);
        return 0;
}

/* The state the agent of machine reported for unit, or NULL. */
static const StateRecord *state_of(const FleetSnapshot *s, const char *unit, const char *machine) {
        char key[UNIT_NAME_MAX + 1 + MACHINE_ID_LEN + 1];

        if (!machine || snprintf(key, sizeof(key), "%s/%s", unit, machine) >= (int) sizeof(key))
                return NULL;
        return hashmap_get(s->state_index, key);
}

static json_t *unit_json(const FleetSnapshot *s, const FleetUnit *u) {
        const char *machine = u->global ? NULL : hashmap_get(s->schedule, u->record.name);
        const char *current = u->global ? NULL
                                        : fleet_current_state(machine, state_of(s, u->record.name, machine),
                                                              u->record.desired);
        json_auto_t *options = fleet_options_from_unit_file(u->file);

        if (!options)
                return NULL;
        return json_pack("{s:s*, s:s, s:s*, s:s, s:O*}",
                         "currentState", current,
                         "desiredState", unit_desired_state_to_string(u->record.desired),
                         "machineID", machine,
                         "name", u->record.name,
                         "options", json_array_size(options) > 0 ? options : NULL);
}

int fleet_snapshot_units_page(const FleetSnapshot *s, uint16_t page, json_t **ret) {
        json_auto_t *items = json_array();
        size_t start, end;
        bool next;

        fleet_page_bounds(s->n_units, page, &start, &end, &next);
        for (size_t i = start; items && i < end; i++)
                if (json_array_append_new(items, unit_json(s, s->units[i])) < 0)
                        return -ENOMEM;
        return page_json("units", TAKE_PTR(items), next, page, ret);
}

int fleet_snapshot_unit(const FleetSnapshot *s, const char *name, json_t **ret) {
        const FleetUnit *u = hashmap_get(s->unit_index, name);

        if (!u)
                return -ENOENT;
        *ret = unit_json(s, u);
        return *ret ? 0 : -ENOMEM;
}

/* fleet's hash of a state: the SHA-1 of fleet's text when it is of the unit's current contents. */
static const char *state_hash(const FleetSnapshot *s, const StateRecord *st) {
        const FleetUnit *u = hashmap_get(s->unit_index, st->name);

        return u && st->hash && streq(st->hash, u->record.hash) ? u->fleet_hash : st->hash;
}

static bool state_selected(const StateRecord *st, const char *machine_id, const char *unit_name) {
        return (!machine_id || streq(st->machine, machine_id)) && (!unit_name || streq(st->name, unit_name));
}

int fleet_snapshot_states_page(const FleetSnapshot *s, const char *machine_id, const char *unit_name,
                               uint16_t page, json_t **ret) {
        json_auto_t *items = json_array();
        size_t n = 0, start, end;
        bool next;

        for (size_t i = 0; i < s->n_states; i++)
                n += state_selected(s->states[i], machine_id, unit_name);
        fleet_page_bounds(n, page, &start, &end, &next);
        for (size_t i = 0, k = 0; items && i < s->n_states && k < end; i++) {
                const StateRecord *st = s->states[i];
                if (!state_selected(st, machine_id, unit_name) || k++ < start)
                        continue;
                if (json_array_append_new(items, fleet_state_json(st, state_hash(s, st))) < 0)
                        return -ENOMEM;
        }
        return page_json("states", TAKE_PTR(items), next, page, ret);
}

int fleet_snapshot_state(const FleetSnapshot *s, const char *unit_name, json_t **ret) {
        for (size_t i = 0; i < s->n_states; i++)
                if (streq(s->states[i]->name, unit_name)) {
                        *ret = fleet_state_json(s->states[i], state_hash(s, s->states[i]));
                        return *ret ? 0 : -ENOMEM;
                }
        return -ENOENT;
}

int fleet_snapshot_machines_page(const FleetSnapshot *s, uint16_t page, json_t **ret) {
        json_auto_t *items = json_array();
        size_t start, end;
        bool next;

        fleet_page_bounds(s->n_machines, page, &start, &end, &next);
        for (size_t i = start; items && i < end; i++)
                if (json_array_append_new(items, fleet_machine_json(s->machines[i])) < 0)
                        return -ENOMEM;
        return page_json("machines", TAKE_PTR(items), next, page, ret);
}

/* ---- the discovery document ---- */

/* The schema and method ids are fleet's, so that bindings generated from fleet's document and
 * from this one are the same; rootUrl is "$ENDPOINT/" as in fleet (clients set their own). */
#define STR_PROP(name) "\"" name "\":{\"type\":\"string\"}"
#define STATE_ENUM "\"enum\":[\"inactive\",\"loaded\",\"launched\"]"
#define PAGE_PARAM "\"nextPageToken\":{\"type\":\"string\",\"location\":\"query\"}"
#define UNIT_NAME_PARAM                                                                  \
        "\"parameters\":{\"unitName\":{\"type\":\"string\",\"location\":\"path\",\"required\":true}}," \
        "\"parameterOrder\":[\"unitName\"]"
#define LIST_OF(item) "{\"type\":\"array\",\"items\":{\"$ref\":\"" item "\"}}"

const char fleet_discovery_json[] =
        "{\"kind\":\"discovery#restDescription\",\"discoveryVersion\":\"v1\","
        "\"id\":\"fleet:v1\",\"name\":\"schema\",\"version\":\"v1\",\"title\":\"fleet API\","
        "\"description\":\"fleet's API v1, served by fleetd\","
        "\"documentationLink\":\"https://github.com/coreos/fleet/blob/master/Documentation/api-v1.md\","
        "\"protocol\":\"rest\",\"icons\":{\"x16\":\"\",\"x32\":\"\"},\"labels\":[],"
        "\"baseUrl\":\"$ENDPOINT/fleet/v1/\",\"basePath\":\"/fleet/v1/\",\"rootUrl\":\"$ENDPOINT/\","
        "\"servicePath\":\"fleet/v1/\",\"batchPath\":\"batch\",\"parameters\":{},\"auth\":{},"
        "\"schemas\":{"
          "\"Machine\":{\"id\":\"Machine\",\"type\":\"object\",\"properties\":{"
            STR_PROP("id") "," STR_PROP("primaryIP") ","
            "\"metadata\":{\"type\":\"object\",\"properties\":{},\"additionalProperties\":{\"type\":\"string\"}}}},"
          "\"MachinePage\":{\"id\":\"MachinePage\",\"type\":\"object\",\"properties\":{"
            "\"machines\":" LIST_OF("Machine") "," STR_PROP("nextPageToken") "}},"
          "\"UnitOption\":{\"id\":\"UnitOption\",\"type\":\"object\",\"properties\":{"
            STR_PROP("section") "," STR_PROP("name") "," STR_PROP("value") "}},"
          "\"Unit\":{\"id\":\"Unit\",\"type\":\"object\",\"properties\":{"
            STR_PROP("name") ",\"options\":" LIST_OF("UnitOption") ","
            "\"desiredState\":{\"type\":\"string\"," STATE_ENUM "},"
            "\"currentState\":{\"type\":\"string\"," STATE_ENUM "},"
            "\"machineID\":{\"type\":\"string\",\"required\":true}}},"
          "\"UnitPage\":{\"id\":\"UnitPage\",\"type\":\"object\",\"properties\":{"
            "\"units\":" LIST_OF("Unit") "," STR_PROP("nextPageToken") "}},"
          "\"UnitState\":{\"id\":\"UnitState\",\"type\":\"object\",\"properties\":{"
            STR_PROP("name") "," STR_PROP("hash") "," STR_PROP("machineID") ","
            STR_PROP("systemdLoadState") "," STR_PROP("systemdActiveState") "," STR_PROP("systemdSubState") "}},"
          "\"UnitStatePage\":{\"id\":\"UnitStatePage\",\"type\":\"object\",\"properties\":{"
            "\"states\":" LIST_OF("UnitState") "," STR_PROP("nextPageToken") "}}},"
        "\"resources\":{"
          "\"Machines\":{\"methods\":{"
            "\"List\":{\"id\":\"fleet.Machine.List\",\"description\":\"A page of the machines in the cluster.\","
              "\"httpMethod\":\"GET\",\"path\":\"machines\",\"parameters\":{" PAGE_PARAM "},"
              "\"response\":{\"$ref\":\"MachinePage\"}}}},"
          "\"Units\":{\"methods\":{"
            "\"List\":{\"id\":\"fleet.Unit.List\",\"description\":\"A page of the units.\","
              "\"httpMethod\":\"GET\",\"path\":\"units\",\"parameters\":{" PAGE_PARAM "},"
              "\"response\":{\"$ref\":\"UnitPage\"}},"
            "\"Get\":{\"id\":\"fleet.Unit.Get\",\"description\":\"One unit.\","
              "\"httpMethod\":\"GET\",\"path\":\"units/{unitName}\"," UNIT_NAME_PARAM ","
              "\"response\":{\"$ref\":\"Unit\"}},"
            "\"Delete\":{\"id\":\"fleet.Unit.Delete\",\"description\":\"Destroys a unit.\","
              "\"httpMethod\":\"DELETE\",\"path\":\"units/{unitName}\"," UNIT_NAME_PARAM "},"
            "\"Set\":{\"id\":\"fleet.Unit.Set\",\"description\":\"Creates a unit or changes its desired state.\","
              "\"httpMethod\":\"PUT\",\"path\":\"units/{unitName}\"," UNIT_NAME_PARAM ","
              "\"request\":{\"$ref\":\"Unit\"}}}},"
          "\"UnitState\":{\"methods\":{"
            "\"List\":{\"id\":\"fleet.UnitState.List\",\"description\":\"A page of what the agents see in systemd.\","
              "\"httpMethod\":\"GET\",\"path\":\"state\",\"parameters\":{" PAGE_PARAM ","
              "\"unitName\":{\"type\":\"string\",\"location\":\"query\"},"
              "\"machineID\":{\"type\":\"string\",\"location\":\"query\"}},"
              "\"response\":{\"$ref\":\"UnitStatePage\"}},"
            "\"Get\":{\"id\":\"fleet.UnitState.Get\",\"description\":\"The state of one unit.\","
              "\"httpMethod\":\"GET\",\"path\":\"state/{unitName}\"," UNIT_NAME_PARAM ","
              "\"response\":{\"$ref\":\"UnitState\"}}}}}}";
