/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Units as fleet users name them on the command line: local unit files (submit, load, start),
 * names with or without their type, and globs that match the units the cluster knows. Plus
 * the cluster's paged lists, read whole, and how several per-unit failures add up to one exit
 * status. Everything here prints its own messages ("fleetctl: ..."), once. */

#include <stdbool.h>

#include <jansson.h>

#include "basic/macros.h"
#include "client.h"
#include "unit-options.h"

/* "dir/web" -> "web.service", "dir/web@1.service" -> "web@1.service": the base name, with
 * ".service" appended unless it already ends in a unit type, as fleet did. NULL on -ENOMEM. */
char *unit_name_mangle(const char *arg);

/* Whether s holds fnmatch(3) wildcards: '*', '?' or '['. */
bool string_is_glob(const char *s);

/* A unit file read from the local disk. */
typedef struct LocalUnit {
        char *name;         /* its name in the cluster: the mangled base name of the argument */
        char *path;         /* the file its text came from: the argument, or the template's file */
        char *contents;     /* the exact text, checked to parse as a unit file */
        size_t size;
} LocalUnit;

void local_unit_done(LocalUnit *u);

/* Reads the unit file at arg: checks its name (a unit type fleet places), reads it, parses it
 * and checks its [X-Fleet] options as fleetd will (unit-options.h, with the unit's name for
 * the specifiers). For an instance (dir/web@1.service) whose file does not exist, the
 * template's file next to it (dir/web@.service) is read instead, as fleet did. Prints what is
 * wrong, naming arg or FILE:LINE, and the warnings; returns -EBADMSG (missing, unreadable, too
 * large, bad name, bad contents, options fleet refuses) or -ENOMEM; 0 and *ret filled on
 * success. Sends nothing anywhere. */
int local_unit_load(const char *arg, LocalUnit *ret);

/* Prints the warnings ("fleetctl: warning: FILE:LINE: ...") and errors of o on stderr. */
void unit_options_print(const UnitOptions *o);

/* Builds "/v1/units/<escaped name><suffix>" ("" or "/status", "/journal?lines=10"). NULL on
 * -ENOMEM. */
char *unit_path(Client *c, const char *name, const char *suffix);

/* PUT /v1/units/<name> with {"contents": contents, "desiredState": desired}, leaving out the
 * NULL ones; the HTTP status in *ret_status (optional). Returns what client_call_full() does. */
int unit_put(Client *c, const char *name, const char *contents, const char *desired, ClientFlags flags,
             long *ret_status);
/* The same with "replace": true when replace (other contents replace the unit's: --replace),
 * and the answer ({name, hash, desiredState, replaced?}) in *ret (optional). */
int unit_put_full(Client *c, const char *name, const char *contents, const char *desired, bool replace,
                  ClientFlags flags, long *ret_status, json_t **ret);

/* GETs path and finds the array under key in the answer: the answer in *ret_answer (the
 * caller's), the array, which it holds, in *ret_list. Returns 0 or what client_call() returns;
 * -EBADMSG if the answer has no such array (printed). */
int api_get_list(Client *c, const char *path, const char *key, json_t **ret_answer, json_t **ret_list);

/* GETs path, then every following page ("next" in the answer, passed back as from=), and
 * stores the concatenation of the answers' arrays under key in *ret. Returns 0 or what
 * client_call() returns; -EBADMSG if an answer has no such array or its "next" does not move
 * forward (printed). */
int api_list_all(Client *c, const char *path, const char *key, json_t **ret);

typedef enum ResolveFlags {
        RESOLVE_FETCH     = 1 << 0,  /* a plain name: GET /v1/units/<name> (desired state, ...) */
        RESOLVE_TEMPLATES = 1 << 1,  /* globs match templates (foo@.service) too */
} ResolveFlags;

/* The cluster's units whose names match glob (fnmatch), templates only with RESOLVE_TEMPLATES,
 * appended to list unless seen (a JSON object used as a set of names) has them already. *all
 * caches the unit list: fetched when NULL. A glob that matches nothing is reported and merged
 * into *failure. Returns 0 or a fatal error. */
int units_match(Client *c, const char *glob, ResolveFlags flags, json_t **all, json_t *list, json_t *seen,
                int *failure);

/* Turns names and globs into units: a glob is matched (fnmatch) against every unit of the
 * cluster (the list fetched once, on the first glob), a plain name is mangled and, with
 * RESOLVE_FETCH, fetched; otherwise it stands as {"name": NAME} and the server judges it later.
 * Each unit appears once, in argument order. An argument that yields nothing is reported and
 * merged into *failure (see failure_merge()). Returns 0 with the array in *ret, or a fatal
 * error (-ECONNREFUSED, -ENOMEM, a failed list). */
int units_resolve(Client *c, char **args, ResolveFlags flags, json_t **ret, int *failure);

/* Adds the failure r (< 0; 0 does nothing) of one unit to *acc: *acc stays -ENOENT as long as
 * every failure was "not found", and becomes -EIO (exit status 1) otherwise. */
void failure_merge(int *acc, int r);

/* Whether r means no further request can succeed either: unreachable, or out of memory. */
static inline bool error_is_fatal(int r) {
        return r == -ECONNREFUSED || r == -ENOMEM;
}

