/* SPDX-License-Identifier: Apache-2.0 */
/* verify [--as NAME] FILE...: reads unit files as fleetd will, without asking fleetd: the
 * checks submit makes (the file, its name, the [X-Fleet] options fleet refused) and, for each
 * file, the requirements the engine will apply, specifiers expanded for the unit's own name or
 * for NAME (an instance of the template FILE). With --json, one object per file and line. */
#include <stdio.h>

#include "basic/strv.h"
#include "fleetctl.h"
#include "unit-args.h"
#include "unit-name.h"

static const char *arg_as = NULL;

static const Option option_as = {
        "as", 0, OPTION_STRING, &arg_as, "NAME",
        "Read each FILE as the unit NAME: an instance of the template FILE\n"
        "(web@2.service for web@.service), specifiers expanded for it",
};
OptionList verify_options = { &option_as, NULL };

/* --as must name a unit fleetd could place. */
static int verify_check_as(void) {
        _cleanup_free_ char *why = NULL;
        int r;

        if (!arg_as)
                return 0;
        r = unit_name_check(arg_as, UNIT_NAME_ANY | UNIT_NAME_PLACEABLE, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return usage_error("verify", "--as: %s.", why ?: "invalid unit name");
        return 0;
}

/* One file as read. */
typedef struct Verified {
        const char *file;
        char *name;             /* the unit it is read as */
        bool read;              /* its options could be read: it parses as a unit file */
        UnitOptions options;    /* errors also of the file and its name, before any option */
} Verified;

static void verified_done(Verified *v) {
        free(v->name);
        unit_options_done(&v->options);
}

/* Whether the file of unit file_name may be read as the unit name. */
static bool as_fits(const char *file_name, const char *name) {
        _cleanup_free_ char *template = NULL;

        if (streq(file_name, name))
                return true;
        return unit_name_is_template(file_name) && unit_name_template_of(name, &template) >= 0 &&
               unit_name_is_instance(name) && streq(template, file_name);
}

/* What the file itself says against it: unreadable, a bad name, a --as it cannot be. */
static int verify_name(Verified *v, const char *file_name) {
        _cleanup_free_ char *why = NULL, *msg = NULL;
        int r;

        r = unit_name_check(file_name, UNIT_NAME_ANY | UNIT_NAME_PLACEABLE, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0 && asprintf(&msg, "%s: %s.", v->file, why ?: "invalid unit name") < 0)
                return -ENOMEM;
        if (r >= 0 && !as_fits(file_name, v->name) &&
            asprintf(&msg, "%s: --as %s: this file is unit %s; --as may only name it or, for a template, one "
                     "of its instances", v->file, v->name, file_name) < 0)
                return -ENOMEM;
        return msg ? strv_push(&v->options.errors, TAKE_PTR(msg)) : 0;
}

static int verify_contents(Verified *v) {
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        _cleanup_free_ char *why = NULL;
        _cleanup_strv_free_ char **errors = TAKE_PTR(v->options.errors);
        int r;

        r = unit_file_load(v->file, &uf, &why);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                unit_options_done(&v->options);
                r = unit_options_parse(uf, v->name, v->file, &v->options);
                if (r < 0)
                        return r;
                v->read = true;
        } else if (strv_extend(&errors, why ?: v->file) < 0)
                return -ENOMEM;
        /* The name's errors first, then the options'. */
        STRV_FOREACH(e, v->options.errors)
                if (strv_extend(&errors, *e) < 0)
                        return -ENOMEM;
        strv_free(v->options.errors);
        v->options.errors = TAKE_PTR(errors);
        return 0;
}

static int verify_file(const char *file, Verified *ret) {
        _cleanup_free_ char *file_name = unit_name_mangle(file);
        int r;

        ret->file = file;
        ret->name = strdup(arg_as ?: strempty(file_name));
        if (!file_name || !ret->name)
                return -ENOMEM;
        r = verify_name(ret, file_name);
        if (r < 0)
                return r;
        return verify_contents(ret);
}

/* --- output --- */

static json_t *strv_to_json(char **l) {
        json_auto_t *a = json_array();

        STRV_FOREACH(s, l)
                if (!a || json_array_append_new(a, json_string(*s)) < 0)
                        return NULL;
        return json_incref(a);
}

/* "k=v" pairs as {k: [v, ...]}, in the order the keys first appear. */
static json_t *metadata_to_json(char **pairs) {
        json_auto_t *o = json_object();

        STRV_FOREACH(p, pairs) {
                _cleanup_free_ char *key = strndup(*p, strcspn(*p, "="));
                json_t *values;

                if (!o || !key)
                        return NULL;
                values = json_object_get(o, key);
                if (!values && (json_object_set_new(o, key, json_array()) < 0 || !(values = json_object_get(o, key))))
                        return NULL;
                if (json_array_append_new(values, json_string(strchr(*p, '=') + 1)) < 0)
                        return NULL;
        }
        return json_incref(o);
}

static json_t *verified_to_json(const Verified *v) {
        const UnitOptions *o = &v->options;

        return json_pack("{s:s, s:s, s:s?, s:o?, s:o?, s:o?, s:o?, s:b, s:o?, s:o?}", "file", v->file, "name", v->name,
                         "machineID", o->machine_id, "machineOf", strv_to_json(o->machine_of), "machineMetadata",
                         metadata_to_json(o->machine_metadata), "conflicts", strv_to_json(o->conflicts), "replaces",
                         strv_to_json(o->replaces), "global", o->global, "warnings", strv_to_json(o->warnings),
                         "errors", strv_to_json(o->errors));
}

static int print_json_line(const Verified *v) {
        json_auto_t *j = verified_to_json(v);

        if (!j)
                return -ENOMEM;
        if (json_dumpf(j, stdout, JSON_COMPACT) < 0 || fputc('\n', stdout) == EOF)
                return -EIO;
        return 0;
}

static void print_requirement(const char *label, char **l) {
        if (strv_length(l) == 0)
                return;
        printf("  %-16s", label);
        STRV_FOREACH(s, l)
                printf(" %s", *s);
        putchar('\n');
}

/* "web@.service as web@2.service: 1 warning", then the requirements, indented. */
static void print_human(const Verified *v) {
        const UnitOptions *o = &v->options;
        size_t nw = strv_length(o->warnings), ne = strv_length(o->errors);

        unit_options_print(o);
        printf("%s", v->file);
        if (arg_as)
                printf(" as %s", v->name);
        if (ne > 0)
                printf(": %zu error%s", ne, ne == 1 ? "" : "s");
        if (nw > 0)
                printf("%s %zu warning%s", ne > 0 ? "," : ":", nw, nw == 1 ? "" : "s");
        printf("%s\n", ne + nw == 0 ? ": ok" : "");
        if (!v->read)
                return;

        if (o->machine_id)
                printf("  %-16s %s\n", "MachineID", o->machine_id);
        print_requirement("MachineOf", o->machine_of);
        print_requirement("MachineMetadata", o->machine_metadata);
        print_requirement("Conflicts", o->conflicts);
        print_requirement("Replaces", o->replaces);
        if (o->global)
                printf("  %-16s %s\n", "Global", "true");
        if (!o->machine_id && !o->global && strv_length(o->machine_of) + strv_length(o->machine_metadata) +
                                                    strv_length(o->conflicts) + strv_length(o->replaces) == 0)
                printf("  no requirements: any machine\n");
}

int verb_verify(Client *c, int argc, char **argv) {
        bool failed = false;
        int r;

        r = verify_check_as();
        if (r < 0)
                return r;
        for (int i = 0; i < argc; i++) {
                _cleanup_(verified_done) Verified v = {};

                r = verify_file(argv[i], &v);
                if (r < 0)
                        return r;
                failed = failed || strv_length(v.options.errors) > 0;
                if (arg_json) {
                        r = print_json_line(&v);
                        if (r < 0)
                                return r;
                } else
                        print_human(&v);
        }
        if (fflush(stdout) != 0)
                return -EIO;
        return failed ? -EIO : 0;
}
