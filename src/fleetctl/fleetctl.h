/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* fleetctl: a thin CLI over fleetd's HTTP API. fleetctl.c parses the global options, finds the
 * verb in its table, parses the verb's options and checks its argument count; each verb-*.c
 * file holds verbs: requests (client.c), then a table (table.c), lines, or JSON on stdout.
 * Verbs that act on several units go on past a unit that fails and report each failure;
 * unit-args.c has what they share, wait.c the waiting of load/start/stop/unload. The app verbs
 * (verb-deploy.c, verb-apps.c, verb-logs.c) share app-instances.c (pure) and app-wait.c, the
 * following of a change until the app runs it.
 *
 * Exit status, for scripts (also in --help):
 *   0  success
 *   1  failure: fleetd answered with an error, or an invalid answer, or a local error
 *   2  usage error: unknown verb or option, wrong number of arguments, bad endpoint
 *   3  fleetd cannot be reached at the endpoint
 *   4  not found: fleetd answered 404 (with several units: every failure was a 404, or a
 *      name or glob that matched no unit)
 * Verbs return 0 or a negative errno, printing their own message once; main() turns it into
 * the status above: -EINVAL is a usage error, -ECONNREFUSED unreachable, -ENOENT not found,
 * anything else 1. So a verb must not pass on -EINVAL, -ECONNREFUSED or -ENOENT that mean
 * something else. */

#include <stdbool.h>

#include <jansson.h>

#include "basic/macros.h"
#include "client.h"
#include "options.h"
#include "table.h"

enum {
        EXIT_USAGE = 2,
        EXIT_UNREACHABLE = 3,
        EXIT_NOT_FOUND = 4,
};

/* Global options, set by fleetctl.c before a verb runs. A verb's own options are an OptionList
 * (options.h) in the verb table. */
extern const char *arg_endpoint;
extern bool arg_json;

/* A verb gets a client for the endpoint and its positional arguments (argc counted within
 * the table's min/max). */
typedef int (*verb_func_t)(Client *c, int argc, char **argv);

/* Prints v as indented JSON on stdout (--json). Returns 0 or -EIO. */
int print_json(const json_t *v);

/* Adds the row of item to t (table_add_row()). Returns 0 or a negative errno. */
typedef int (*row_func_t)(Table *t, const json_t *item, void *userdata);

/* A listing on stdout: with --json, json as fleetd sent it; else t (its columns made), with a
 * row per element of the array rows, each added by add_row. Returns 0 or a negative errno. */
int print_list(const json_t *json, Table *t, const json_t *rows, row_func_t add_row, void *userdata);

/* Prints "fleetctl: <message>" and where to read about verb (NULL: fleetctl itself) on stderr.
 * Returns -EINVAL (exit status 2). */
int usage_error(const char *verb, const char *fmt, ...) _printf_(2, 3);

/* verb-machines.c */
extern OptionList list_machines_options;
int verb_list_machines(Client *c, int argc, char **argv);

/* verb-machine.c (drain, uncordon) and verb-reboot.c (reboot): machine_options (machine.h) */
extern OptionList machine_options;
int verb_machine(Client *c, int argc, char **argv);

/* verb-locks.c */
int verb_locks(Client *c, int argc, char **argv);

/* verb-list-units.c */
extern OptionList list_units_options;
extern OptionList list_unit_files_options;
int verb_list_units(Client *c, int argc, char **argv);
int verb_list_unit_files(Client *c, int argc, char **argv);

/* verb-submit.c; options: submit_options (--replace) */
extern OptionList submit_options;
int verb_submit(Client *c, int argc, char **argv);

/* verb-verify.c; options: verify_options */
extern OptionList verify_options;
int verb_verify(Client *c, int argc, char **argv);

/* verb-start.c; options: start_options, wait_options (wait.h) and --replace */
extern OptionList start_options;
int verb_load(Client *c, int argc, char **argv);
int verb_start(Client *c, int argc, char **argv);

/* verb-stop.c; options: wait_options (wait.h) */
int verb_stop(Client *c, int argc, char **argv);
int verb_unload(Client *c, int argc, char **argv);

/* verb-destroy.c */
int verb_destroy(Client *c, int argc, char **argv);

/* verb-cat.c */
int verb_cat(Client *c, int argc, char **argv);

/* verb-status.c */
int verb_status(Client *c, int argc, char **argv);

/* verb-journal.c; options: JOURNAL_OPTIONS (options.h), which logs takes too */
extern OptionList journal_options;
int verb_journal(Client *c, int argc, char **argv);
/* "/v1/units/<unit>/journal?lines=N", with "&follow=1" for --follow. NULL on -ENOMEM. */
char *journal_path(Client *c, const char *unit);
/* How long a journal may send nothing before it is given up on (0: never, with --follow). */
long journal_idle_timeout_sec(void);

/* verb-deploy.c; options: deploy_options */
extern OptionList deploy_options;
int verb_deploy(Client *c, int argc, char **argv);

/* verb-build.c: deploy --build DIR (with the manifest's text and file name, for the app) and
 * builds APP. */
int deploy_build(Client *c, const char *dir, const char *file, const char *app, const char *manifest,
                 size_t manifest_size);
int verb_builds(Client *c, int argc, char **argv);

/* verb-apps.c; options: app_wait_options (app-wait.h) for scale, config, rollback, restart */
int verb_apps(Client *c, int argc, char **argv);
int verb_ps(Client *c, int argc, char **argv);
int verb_routes(Client *c, int argc, char **argv);
int verb_scale(Client *c, int argc, char **argv);
int verb_config(Client *c, int argc, char **argv);
int verb_releases(Client *c, int argc, char **argv);
int verb_rollback(Client *c, int argc, char **argv);
int verb_restart(Client *c, int argc, char **argv);

/* verb-logs.c */
extern OptionList logs_options;
int verb_logs(Client *c, int argc, char **argv);
