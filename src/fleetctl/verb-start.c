/* SPDX-License-Identifier: Apache-2.0 */
/* load and start UNIT|FILE|GLOB...: set the units' desired state to loaded or launched, then
 * wait for the machines to get there (wait.c).
 *
 * An argument is a FILE if it exists as a path or holds a '/': its unit is sent along with the
 * new state, so a unit the cluster does not know yet is submitted in the same request (and one
 * it knows with other contents is refused by fleetd: destroy it first, or --replace it). A
 * glob that is not a file matches the cluster's units. Anything else is a unit name; for an
 * instance the cluster knows neither by itself nor by its template, a template file in the
 * current directory is sent, as fleet did (with --replace, sent at once: it replaces an
 * instance made from other contents). Every file and name is checked before the first
 * request. */
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "fleetctl.h"
#include "unit-args.h"
#include "unit-name.h"
#include "wait.h"

typedef enum StartKind {
        START_FILE,
        START_NAME,
        START_GLOB,
} StartKind;

typedef struct StartArg {
        const char *arg;
        StartKind kind;
        char *name;            /* FILE and NAME */
        LocalUnit local;       /* FILE: the file; NAME: a template file to fall back on, if any */
} StartArg;

typedef struct Starter {
        Client *client;
        const char *verb;      /* "load", "start" */
        const char *desired;   /* "loaded", "launched" */
        StartArg *args;
        size_t n_args;
        char **names;          /* the units whose desired state was set, to wait for */
        json_t *all_units;     /* the cluster's units, fetched for the first glob */
        json_t *seen;
        json_t *hashes;        /* name -> hash of the units --replace replaced */
        int failure;
} Starter;

OptionList start_options = { WAIT_OPTIONS, &option_replace, NULL };

static void starter_done(Starter *s) {
        for (size_t i = 0; i < s->n_args; i++) {
                free(s->args[i].name);
                local_unit_done(&s->args[i].local);
        }
        free(s->args);
        strv_free(s->names);
        json_decref(s->all_units);
        json_decref(s->seen);
        json_decref(s->hashes);
}

static int refuse_template(const Starter *s, const char *name) {
        _cleanup_free_ char *example = NULL;
        int r;

        r = unit_name_replace_instance(name, "1", &example);
        if (r == -ENOMEM)
                return r;
        fprintf(stderr, "fleetctl: %s is a template; %s an instance of it instead, e.g. %s.\n", name, s->verb,
                strna(example));
        return -EBADMSG;
}

/* A plain name: valid, and for an instance, its template's file if there is one here. */
static int start_arg_name(StartArg *a) {
        _cleanup_free_ char *why = NULL, *template = NULL;
        int r;

        a->name = unit_name_mangle(a->arg);
        if (!a->name)
                return -ENOMEM;
        r = unit_name_check(a->name, UNIT_NAME_ANY | UNIT_NAME_PLACEABLE, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                fprintf(stderr, "fleetctl: %s: %s.\n", a->arg, why ?: "invalid unit name");
                return -EBADMSG;
        }
        if (!unit_name_is_instance(a->name))
                return 0;
        r = unit_name_template_of(a->name, &template);
        if (r < 0)
                return r;
        if (access(template, F_OK) < 0)
                return 0;
        return local_unit_load(a->name, &a->local);
}

/* Sorts an argument out and reads what it names locally. */
static int start_arg_prepare(Starter *s, StartArg *a) {
        struct stat st;
        /* A directory called like the unit is not what "start web" means. */
        bool exists = stat(a->arg, &st) >= 0 && !S_ISDIR(st.st_mode);
        int r;

        if (!exists && string_is_glob(a->arg)) {
                a->kind = START_GLOB;
                return 0;
        }
        if (exists || strchr(a->arg, '/')) {
                a->kind = START_FILE;
                r = local_unit_load(a->arg, &a->local);
                if (r < 0)
                        return r;
                a->name = strdup(a->local.name);
                if (!a->name)
                        return -ENOMEM;
        } else {
                a->kind = START_NAME;
                r = start_arg_name(a);
                if (r < 0)
                        return r;
        }
        if (unit_name_is_template(a->name))
                return refuse_template(s, a->name);
        return 0;
}

/* Two files for one unit with different texts: which one was meant? */
static int starter_check_duplicates(const Starter *s) {
        int r = 0;

        for (size_t i = 0; i < s->n_args; i++)
                for (size_t j = i + 1; j < s->n_args; j++) {
                        const LocalUnit *a = &s->args[i].local, *b = &s->args[j].local;

                        if (s->args[i].kind != START_FILE || s->args[j].kind != START_FILE ||
                            !streq(a->name, b->name))
                                continue;
                        if (a->size != b->size || memcmp(a->contents, b->contents, a->size) != 0) {
                                fprintf(stderr, "fleetctl: %s and %s are both unit %s, with different contents.\n",
                                        a->path, b->path, a->name);
                                r = -EBADMSG;
                        }
                }
        return r;
}

static int starter_prepare(Starter *s, int argc, char **argv) {
        int r, failure = 0;

        s->args = calloc((size_t) argc + 1, sizeof(StartArg));
        s->seen = json_object();
        if (!s->args || !s->seen)
                return -ENOMEM;
        s->n_args = (size_t) argc;
        for (size_t i = 0; i < s->n_args; i++) {
                s->args[i].arg = argv[i];
                r = start_arg_prepare(s, &s->args[i]);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        failure = r;
        }
        if (failure == 0)
                failure = starter_check_duplicates(s);
        if (failure < 0)
                fprintf(stderr, "fleetctl: nothing changed.\n");
        return failure;
}

/* Remembers the contents a replaced unit must report (wait.h). */
static int starter_note_replaced(Starter *s, const char *name, const json_t *answer) {
        if (!json_is_true(json_object_get(answer, "replaced")) || !jx_str(answer, "hash"))
                return 0;
        if (!s->hashes && !(s->hashes = json_object()))
                return -ENOMEM;
        return json_object_set_new(s->hashes, name, json_string(jx_str(answer, "hash"))) < 0 ? -ENOMEM : 0;
}

/* Sets name's desired state; remembers it to wait for. With --replace a fallback template
 * file is sent at once: its contents replace those of an instance made from others. */
static int starter_send(Starter *s, const char *name, const LocalUnit *local, const LocalUnit *fallback) {
        json_auto_t *answer = NULL;
        int r;

        if (strv_contains(s->names, name))
                return 0;
        if (arg_replace && fallback)
                local = TAKE_PTR(fallback);
        r = unit_put_full(s->client, name, local ? local->contents : NULL, s->desired, arg_replace,
                          fallback ? CLIENT_QUIET_NOT_FOUND : 0, NULL, &answer);
        if (r == -ENOENT && fallback)
                r = unit_put_full(s->client, name, fallback->contents, s->desired, false, 0, NULL, &answer);
        if (error_is_fatal(r))
                return r;
        if (r < 0) {
                failure_merge(&s->failure, r);
                return 0;
        }
        r = starter_note_replaced(s, name, answer);
        if (r < 0)
                return r;
        return strv_extend(&s->names, name);
}

static int starter_send_glob(Starter *s, const char *glob) {
        json_auto_t *matches = json_array();
        json_t *u;
        size_t i;
        int r;

        if (!matches)
                return -ENOMEM;
        r = units_match(s->client, glob, 0, &s->all_units, matches, s->seen, &s->failure);
        if (r < 0)
                return r;
        json_array_foreach(matches, i, u) {
                r = starter_send(s, jx_str(u, "name"), NULL, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int starter_send_all(Starter *s) {
        int r;

        for (size_t i = 0; i < s->n_args; i++) {
                StartArg *a = &s->args[i];

                if (a->kind == START_GLOB)
                        r = starter_send_glob(s, a->arg);
                else if (a->kind == START_FILE)
                        r = starter_send(s, a->name, &a->local, NULL);
                else
                        r = starter_send(s, a->name, NULL, a->local.contents ? &a->local : NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int run_start(Client *c, int argc, char **argv, const char *verb, const char *desired, WaitGoal goal) {
        _cleanup_(starter_done) Starter s = { .client = c, .verb = verb, .desired = desired };
        usec_t since = now_usec(CLOCK_REALTIME);
        int r;

        r = starter_prepare(&s, argc, argv);
        if (r < 0)
                return r;
        r = starter_send_all(&s);
        if (r < 0)
                return r;
        if (s.names) {
                r = wait_for_units(c, s.names, goal, since, s.hashes);
                if (error_is_fatal(r))
                        return r;
                failure_merge(&s.failure, r);
        }
        return s.failure;
}

int verb_load(Client *c, int argc, char **argv) {
        return run_start(c, argc, argv, "load", "loaded", WAIT_LOADED);
}

int verb_start(Client *c, int argc, char **argv) {
        return run_start(c, argc, argv, "start", "launched", WAIT_LAUNCHED);
}
