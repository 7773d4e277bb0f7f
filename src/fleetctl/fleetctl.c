/* SPDX-License-Identifier: Apache-2.0 */
/* fleetctl's front: global options, the verb table, each verb's options and argument count,
 * and the exit status (see fleetctl.h). The verbs themselves live in verb-*.c. */
#include <assert.h>
#include <curl/curl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

#include "app-wait.h"
#include "fleetctl.h"
#include "options.h"
#include "wait.h"

const char *arg_endpoint = NULL;
bool arg_json = false;

#define ARGS_MANY UINT_MAX

/* The usage of the option sets several verbs share (options.h, wait.h, app-wait.h). */
#define LIST_USAGE "[-l|--full] [--no-legend]"
#define JOURNAL_USAGE "[-n N] [-f] "
#define WAIT_USAGE "[--no-block] [--block-attempts=N] [--timeout=DURATION] "
#define WAIT_DESCRIPTION                                                                        \
        "Then waits, checking 5 times a second, until the machines report the units\n"           \
        "there (at most 60s unless --timeout or --block-attempts say otherwise), printing\n"      \
        "a line per unit (\"Unit web@1.service launched on 3f2a1b9c.../10.0.0.11\"). Globs\n"    \
        "('web@*.service', quoted) match the units the cluster knows. A unit that fails is\n"   \
        "reported and the others go on; the exit status says whether any failed."

#define APP_WAIT_USAGE "[--no-wait] [--timeout=DURATION] "
#define APP_WAIT_DESCRIPTION                                                                    \
        "Then follows the app, looking twice a second, until it runs what it should: progress\n" \
        "on stderr (one line that updates itself on a terminal, else a line per change), then\n" \
        "\"hello v3 is running: web=3 worker=1\" and a line per instance on stdout. When new\n"  \
        "instances fail, fleetd rolls back to the previous release by itself: its message is\n"  \
        "printed and the exit status is 1. --no-wait returns at once; --timeout gives up\n"     \
        "waiting (the cluster goes on)."

typedef struct Verb {
        const char *name;
        const char *group;            /* the heading it is listed under in fleetctl --help */
        unsigned min_args, max_args;
        verb_func_t run;              /* NULL: handled here (help) */
        const Option *const *options; /* NULL-terminated; NULL: none beyond the global ones */
        const char *usage;            /* what follows the verb in a usage line */
        const char *summary;          /* one line for fleetctl --help */
        const char *description;      /* a paragraph for fleetctl help VERB */
} Verb;

static const char group_units[] = "Unit verbs";
static const char group_machines[] = "Machine verbs";
static const char group_apps[] = "App verbs";
static const char group_other[] = "Other verbs";

static const Verb verbs[] = {
        { "list-units", group_units, 0, 0, verb_list_units, list_units_options,
          LIST_USAGE " [--fields=LIST]", "List the units the machines run and their state",
          "Lists every unit a machine reports from systemd: its name, the machine (the ID's\n"
          "first 8 characters unless --full, and its IP), and systemd's active and sub states.\n"
          "With --json, prints the list as fleetd sent it." },
        { "list-unit-files", group_units, 0, 0, verb_list_unit_files, list_unit_files_options,
          LIST_USAGE " [--fields=LIST]", "List the units the cluster holds",
          "Lists every unit submitted to the cluster, running or not: its hash (the first 7\n"
          "characters unless --full), its desired state (DSTATE), what the engine made of it\n"
          "(STATE) and the machines it is scheduled on (TARGET). Reads all of fleetd's pages.\n"
          "With --json, prints the list as fleetd sent it." },
        { "submit", group_units, 1, ARGS_MANY, verb_submit, NULL, "FILE...",
          "Send unit files to the cluster, without starting them",
          "Sends each unit FILE to the cluster as an inactive unit named after the file (a\n"
          "name without a unit type gets .service). An instance (web@1.service) without a file\n"
          "of its own gets the template file next to it (web@.service). Every file is checked\n"
          "before anything is sent: if one is missing or not a valid unit file, nothing is\n"
          "submitted. A unit the cluster has with the same contents is left as it is; one with\n"
          "other contents is refused (destroy it first)." },
        { "verify", group_units, 1, ARGS_MANY, verb_verify, verify_options, "[--as NAME] FILE...",
          "Check unit files as fleetd will read them, without fleetd",
          "Reads each unit FILE as submit would and fleetd will, without asking fleetd: the file\n"
          "and its name are checked, and its [X-Fleet] options read as fleet read them (quoted\n"
          "values, %n %N %p %i expanded for the unit, deprecated spellings). Prints, per file,\n"
          "what the engine will require (MachineID, MachineOf, MachineMetadata, Conflicts,\n"
          "Replaces, Global) and, on stderr, every warning and error as FILE:LINE: what. With\n"
          "--as NAME the file is read as unit NAME, an instance of the template FILE (--as\n"
          "web@2.service for web@.service). With --json, prints one object per file and line:\n"
          "{file, name, machineID, machineOf, machineMetadata {key: [values]}, conflicts,\n"
          "replaces, global, warnings, errors}. The exit status is 1 if any file has errors." },
        { "load", group_units, 1, ARGS_MANY, verb_load, wait_options, WAIT_USAGE "UNIT|FILE...",
          "Schedule units onto machines without starting them",
          "Sets each unit's desired state to loaded: the engine picks a machine, which loads it\n"
          "into systemd. A FILE (a path that exists, or one with a '/') is submitted first if\n"
          "the cluster does not have it; it is checked, with every other argument, before\n"
          "anything is sent.\n" WAIT_DESCRIPTION },
        { "start", group_units, 1, ARGS_MANY, verb_start, wait_options, WAIT_USAGE "UNIT|FILE...",
          "Start units, submitting and scheduling them first if needed",
          "Sets each unit's desired state to launched: the engine picks a machine, which starts\n"
          "it. A FILE is submitted first as with load. An instance of a submitted template\n"
          "(start web@{1..3}.service after submit web@.service) is created by fleetd.\n"
          "A unit that fails to start is reported with its state.\n" WAIT_DESCRIPTION },
        { "stop", group_units, 1, ARGS_MANY, verb_stop, wait_options, WAIT_USAGE "UNIT...",
          "Stop units, leaving them loaded on their machines",
          "Sets each unit's desired state back to loaded: its machine stops it and keeps it\n"
          "loaded. A unit that is not loaded anywhere is left as it is.\n" WAIT_DESCRIPTION },
        { "unload", group_units, 1, ARGS_MANY, verb_unload, wait_options, WAIT_USAGE "UNIT...",
          "Stop units and take them off their machines",
          "Sets each unit's desired state to inactive: its machine stops it and removes it from\n"
          "systemd; the cluster keeps the unit.\n" WAIT_DESCRIPTION },
        { "destroy", group_units, 1, ARGS_MANY, verb_destroy, NULL, "UNIT...", "Remove units from the cluster",
          "Removes each unit from the cluster: its machine stops it and deletes its file. Globs\n"
          "('x*', quoted) match the units the cluster knows, templates included. A unit that\n"
          "cannot be destroyed is reported and the others go on. Apps are destroyed with\n"
          "'fleetctl apps destroy APP'." },
        { "cat", group_units, 1, 1, verb_cat, NULL, "UNIT", "Print a unit's file as the cluster has it",
          "Prints the unit file of UNIT exactly as it was submitted. With --json, prints the\n"
          "unit as fleetd sent it." },
        { "status", group_units, 1, ARGS_MANY, verb_status, NULL, "UNIT...",
          "Show systemd's status of units on their machines",
          "Shows, for each unit, what systemd on its machine says (as systemctl status does):\n"
          "load and active states, since when, main PID, memory, the machine, and the last\n"
          "lines of its journal when fleetd sends them. Asks fleetd, not SSH. Globs match the\n"
          "units the cluster knows. With --json, prints a list of what fleetd sent." },
        { "journal", group_units, 1, 1, verb_journal, journal_options, JOURNAL_USAGE "UNIT",
          "Print the journal of a unit",
          "Prints the last lines of UNIT's journal on its machine (as journalctl -u UNIT does)\n"
          "and, with --follow, new lines as they come, until interrupted. Asks fleetd, not SSH." },
        { "list-machines", group_machines, 0, 0, verb_list_machines, list_machines_options,
          LIST_USAGE, "List the machines in the cluster",
          "Lists every machine running fleetd: its ID (the first 8 characters unless --full),\n"
          "address, metadata (k=v, sorted by key) and state. With --json, prints the list as\n"
          "fleetd sent it." },
        { "deploy", group_apps, 0, 1, verb_deploy, deploy_options,
          "[--build DIR] -f FILE [-a APP] [--no-wait] [--timeout=DURATION]",
          "Deploy an app from its manifest and wait until it runs",
          "Sends the app manifest FILE (YAML, at most 256 KiB; see docs/manifest.md) to fleetd,\n"
          "which checks it (a mistake is reported as FILE:LINE:COLUMN: what, and changes nothing)\n"
          "and, if it changes what runs, makes a new release vN and replaces the app's instances\n"
          "with instances of vN, keeping old ones until their replacements are healthy. The app is\n"
          "the one the manifest's app: key names, unless --app names it. An unchanged manifest\n"
          "makes no release, but the scale it declares still applies. An image of a registry is\n"
          "pinned to the digest its tag names at that moment: every instance of the release, and\n"
          "of a rollback to it, runs exactly that image.\n\n"
          "With --build DIR, DIR holds a Containerfile (or Dockerfile) and the manifest\n"
          "(DIR/fleetd.yaml, or -f FILE; its image: may be left out). fleetctl sends DIR (at most\n"
          "64 MiB, less what .containerignore or .dockerignore leaves out) to fleetd, which builds\n"
          "it with podman build, tags it <registry>/<app>:<git commit or build id>, pushes it,\n"
          "and deploys the pushed digest; the build's output is printed as it comes. A build that\n"
          "fails changes nothing; its own error is printed and the exit status is 1.\n"
          APP_WAIT_DESCRIPTION },
        { "builds", group_apps, 1, 1, verb_builds, NULL, "APP", "List an app's builds, newest first",
          "Lists the last builds of APP (deploy --build), newest first: id, state (running,\n"
          "succeeded, failed), when it started, how long it took, the release it made, the image\n"
          "and digest it pushed, and why it failed. With --json, prints the builds as fleetd sent\n"
          "them." },
        { "apps", group_apps, 0, 2, verb_apps, NULL, "[destroy APP]",
          "List the apps, or destroy one (apps destroy APP)",
          "Lists every app: its current release, the scale of its processes, and the state of its\n"
          "last rollout (rolling, done, failed). With --json, prints the list as fleetd sent it.\n\n"
          "apps destroy APP removes APP from the cluster at once: its record, every release and\n"
          "its instance units, which their machines stop and delete. It cannot be undone. (The\n"
          "verb destroy removes units, not apps.)" },
        { "ps", group_apps, 1, 1, verb_ps, NULL, "APP", "List an app's instances and how they are doing",
          "Lists each instance of APP as process.index (web.3): its unit, its release, its host,\n"
          "its address (the host's IP and the port fleetd assigned, for processes with a port),\n"
          "systemd's active/sub state and its health: healthy (active, and passing its health\n"
          "check if it has one), starting, unhealthy, failed, stopping or stopped. With --json,\n"
          "prints the instances as fleetd sent them." },
        { "scale", group_apps, 2, ARGS_MANY, verb_scale, app_wait_options, APP_WAIT_USAGE "APP PROCESS=COUNT...",
          "Set how many instances of each process run",
          "Sets how many instances of each PROCESS of APP run (web=3 worker=0); processes not\n"
          "named keep their count. Makes no release.\n" APP_WAIT_DESCRIPTION },
        { "config", group_apps, 1, ARGS_MANY, verb_config, app_wait_options,
          "[show] APP | set APP KEY=VALUE... | unset APP KEY...",
          "Show or change an app's config (its environment)",
          "config APP, or config show APP, prints the config of APP's current release, a line\n"
          "KEY=VALUE each, in the release's order (with --json, as an object). config set and\n"
          "config unset make a new release with the config changed (a VALUE may hold '=': the\n"
          "first one splits) and roll it out as deploy does; a change that changes nothing makes\n"
          "no release. An app called show, set or unset is shown with config show NAME.\n"
          APP_WAIT_DESCRIPTION },
        { "releases", group_apps, 1, 1, verb_releases, NULL, "APP", "List an app's releases, newest first",
          "Lists the releases of APP, newest first: version, how long ago it was made, its cause\n"
          "(deploy, config set KEY, rollback to v2, automatic rollback ...) and its image. With\n"
          "--json, prints the releases as fleetd sent them, config and processes included." },
        { "rollback", group_apps, 1, 2, verb_rollback, app_wait_options, APP_WAIT_USAGE "APP [vN]",
          "Go back to an earlier release",
          "Makes a new release of APP that copies release vN (N alone works too; default: the\n"
          "release before the current one) and rolls it out as deploy does.\n" APP_WAIT_DESCRIPTION },
        { "restart", group_apps, 1, 2, verb_restart, app_wait_options, APP_WAIT_USAGE "APP [PROCESS]",
          "Replace an app's instances one by one",
          "Replaces every instance of APP (of PROCESS only, if given) with a new one, as a deploy\n"
          "does: each old one stays until its replacement is healthy. Makes no release.\n"
          APP_WAIT_DESCRIPTION },
        { "logs", group_apps, 1, 1, verb_logs, logs_options, JOURNAL_USAGE "[-p PROCESS] APP",
          "Print the journals of an app's instances",
          "Prints the last lines of the journal of each instance of APP that runs somewhere, each\n"
          "line after the instance's name (\"web.2| ...\"), one instance after the other. With\n"
          "--follow, prints new lines of every instance as they come, instances that start later\n"
          "included (the app is looked at again every 5s), until interrupted. Asks fleetd, not\n"
          "SSH." },
        { "routes", group_apps, 0, 1, verb_routes, NULL, "[APP]", "List where apps' healthy instances are routed",
          "Lists the routes the agents publish (of APP only, if given): for each healthy instance\n"
          "of a process with a port, its address (host IP and assigned port), release and process.\n"
          "fleet-router serves these as http://APP.DOMAIN/. A route is removed before its instance\n"
          "stops and while its health check fails. With --json, prints them as fleetd sent them." },
        { "help", group_other, 0, 1, NULL, NULL, "[VERB]", "Show this help, or a verb's",
          "Shows fleetctl's help, or the usage and options of VERB." },
};

static const Option option_help = {
        "help", 'h', OPTION_ACTION, NULL, NULL, "Show this help (fleetctl VERB --help: the verb's)"
};
static const Option option_version = { "version", 0, OPTION_ACTION, NULL, NULL, "Show the version" };
static const Option option_endpoint = {
        "endpoint", 0, OPTION_STRING, &arg_endpoint, "ADDR",
        "fleetd's API: unix:///path, a socket path or http(s)://host:port\n"
        "(default $FLEETCTL_ENDPOINT, else " CLIENT_DEFAULT_ENDPOINT ")"
};
static const Option option_json = { "json", 0, OPTION_TRUE, &arg_json, NULL, "Print JSON instead of tables" };

/* Before the verb. */
static OptionList main_options = { &option_help, &option_version, &option_endpoint, &option_json, NULL };
/* After the verb too, beside its own. */
static OptionList global_options = { &option_help, &option_endpoint, &option_json, NULL };

int print_json(const json_t *v) {
        if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) < 0 || fputc('\n', stdout) == EOF ||
            fflush(stdout) != 0)
                return -EIO;
        return 0;
}

int print_list(const json_t *json, Table *t, const json_t *rows, row_func_t add_row, void *userdata) {
        json_t *item;
        size_t i;
        int r;

        if (arg_json)
                return print_json(json);
        json_array_foreach(rows, i, item) {
                r = add_row(t, item, userdata);
                if (r < 0)
                        return r;
        }
        return table_print(t, stdout);
}

static void help(FILE *f) {
        fprintf(f,
                "Usage: fleetctl [OPTIONS...] VERB [ARGS...]\n\n"
                "Control a fleetd cluster through the API of any of its fleetd daemons.\n");
        /* The verbs of a group stand together in the table. */
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (i == 0 || verbs[i].group != verbs[i - 1].group)
                        fprintf(f, "\n%s:\n", verbs[i].group);
                fprintf(f, "  %-16s %s\n", verbs[i].name, verbs[i].summary);
        }
        fprintf(f, "\nOptions:\n");
        option_list_help(f, main_options);
        fprintf(f,
                "\nExit status:\n"
                "  0 success, 1 failure or an error from fleetd, 2 usage error,\n"
                "  3 fleetd cannot be reached, 4 not found\n");
}

static void verb_help(const Verb *v) {
        printf("Usage: fleetctl %s %s\n\n%s\n", v->name, v->usage, v->description);
        if (v->options) {
                printf("\nOptions:\n");
                option_list_help(stdout, v->options);
        }
        printf("\nThe global options (--endpoint, --json) work here too; see fleetctl --help.\n");
}

static const Verb *find_verb(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        return &verbs[i];
        return NULL;
}

int usage_error(const char *verb, const char *fmt, ...) {
        va_list ap;

        fputs("fleetctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nSee 'fleetctl %s%s--help'.\n", strempty(verb), verb ? " " : "");
        return -EINVAL;
}

/* getopt's '?' and ':' as our message. */
static int option_error(const char *verb, int c, char **argv) {
        const char *what = argv[optind - 1];

        if (c == ':')
                return usage_error(verb, "option '%s' needs a value.", what);
        if (optopt != 0 && !startswith(what, "--"))
                return usage_error(verb, "unknown option '-%c'.", optopt);
        return usage_error(verb, "unknown option '%s'.", what);
}

/* Applies the options in argv that p knows, as getopt_long finds them, until the first one
 * that is an action (--help, --version: in *ret_action) or the end of the options (NULL).
 * Returns 0 or -EINVAL (printed). */
static int parse_options(const char *verb, const OptionParser *p, int argc, char *argv[],
                         const Option **ret_action) {
        const Option *o;
        int c, r;

        while ((c = getopt_long(argc, argv, p->short_options, p->long_options, NULL)) >= 0) {
                if (c == '?' || c == ':')
                        return option_error(verb, c, argv);
                o = option_parser_find(p, c);
                assert(o);
                if (o->kind == OPTION_ACTION) {
                        *ret_action = o;
                        return 0;
                }
                r = option_apply(o, optarg);
                if (r < 0)
                        return r;
        }
        *ret_action = NULL;
        return 0;
}

/* The options before the verb. Returns 1 to go on with the verb at argv[optind], 0 when done
 * (--help, --version), or -EINVAL. */
static int parse_argv(int argc, char *argv[]) {
        _cleanup_(option_parser_done) OptionParser p = {};
        const Option *action;
        int r;

        /* '+': stop at the verb, its options are its own. */
        r = option_parser_init(&p, "+:", main_options, NULL);
        if (r < 0)
                return r;
        opterr = 0;
        r = parse_options(NULL, &p, argc, argv, &action);
        if (r < 0)
                return r;
        if (action == &option_help) {
                help(stdout);
                return 0;
        }
        if (action == &option_version) {
                printf("fleetctl %s\n", FLEETD_VERSION);
                return 0;
        }

        if (optind >= argc) {
                help(stderr);
                return -EINVAL;
        }
        return 1;
}

/* The verb's options in argv (argv[0] is the verb), and the global ones, so that "fleetctl
 * list-machines --json" works too. Returns 1 to run it with the arguments from argv[optind],
 * 0 when done (--help), or -EINVAL. */
static int parse_verb_argv(const Verb *v, int argc, char *argv[]) {
        _cleanup_(option_parser_done) OptionParser p = {};
        const Option *action;
        unsigned n;
        int r;

        r = option_parser_init(&p, ":", global_options, v->options);
        if (r < 0)
                return r;
        optind = 0;   /* a fresh scan, and GNU getopt may permute: options after arguments work */
        r = parse_options(v->name, &p, argc, argv, &action);
        if (r < 0)
                return r;
        if (action == &option_help) {
                verb_help(v);
                return 0;
        }

        n = (unsigned) (argc - optind);
        if (n < v->min_args)
                return usage_error(v->name, "%s needs %u argument%s.", v->name, v->min_args,
                                   v->min_args == 1 ? "" : "s");
        if (n > v->max_args && v->max_args == 0)
                return usage_error(v->name, "%s takes no arguments.", v->name);
        if (n > v->max_args)
                return usage_error(v->name, "%s takes at most %u argument%s.", v->name, v->max_args,
                                   v->max_args == 1 ? "" : "s");
        return 1;
}

static int run_help(int argc, char **argv) {
        const Verb *v;

        if (argc == 0) {
                help(stdout);
                return 0;
        }
        v = find_verb(argv[0]);
        if (!v)
                return usage_error(NULL, "unknown verb '%s'.", argv[0]);
        verb_help(v);
        return 0;
}

static int run(int argc, char *argv[]) {
        _cleanup_(client_freep) Client *client = NULL;
        const Verb *v;
        char **args;
        int r, verb_argc;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        v = find_verb(argv[optind]);
        if (!v)
                return usage_error(NULL, "unknown verb '%s'.", argv[optind]);
        verb_argc = argc - optind;
        args = argv + optind;
        r = parse_verb_argv(v, verb_argc, args);
        if (r <= 0)
                return r;
        args += optind;
        verb_argc -= optind;

        if (!v->run)
                return run_help(verb_argc, args);

        if (!arg_endpoint)
                arg_endpoint = getenv("FLEETCTL_ENDPOINT");
        if (isempty(arg_endpoint))
                arg_endpoint = CLIENT_DEFAULT_ENDPOINT;
        r = client_new(arg_endpoint, &client);
        if (r < 0)
                return r;
        return v->run(client, verb_argc, args);
}

static int exit_status(int r) {
        switch (r) {
        case 0:
                return EXIT_SUCCESS;
        case -EINVAL:
                return EXIT_USAGE;
        case -ECONNREFUSED:
                return EXIT_UNREACHABLE;
        case -ENOENT:
                return EXIT_NOT_FOUND;
        case -ENOMEM:
                fprintf(stderr, "fleetctl: out of memory.\n");
                return EXIT_FAILURE;
        case -EIO:
        default:
                return EXIT_FAILURE;
        }
}

int main(int argc, char *argv[]) {
        int r;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                fprintf(stderr, "fleetctl: failed to initialize libcurl.\n");
                return EXIT_FAILURE;
        }
        r = run(argc, argv);
        curl_global_cleanup();
        return exit_status(r);
}
