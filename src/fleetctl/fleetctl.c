/* SPDX-License-Identifier: Apache-2.0 */
/* fleetctl's front: global options, the verb table, each verb's options and argument count,
 * and the exit status (see fleetctl.h). The verbs themselves live in verb-*.c. */
#include <assert.h>
#include <curl/curl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "app-wait.h"
#include "fleetctl.h"
#include "options.h"
#include "wait.h"

const char *arg_endpoint = NULL;
bool arg_json = false;
static usec_t arg_request_timeout = CLIENT_TIMEOUT_DEFAULT;
static bool arg_debug = false;
static const char *arg_ca_file = NULL, *arg_cert_file = NULL, *arg_key_file = NULL;
static const char *arg_driver = NULL, *arg_tunnel = NULL;

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
        "reported and the others go on; the exit status says whether any failed. A unit the\n"     \
        "engine cannot place fails with the scheduler's reason (\"fleetctl: db.service: not\n"   \
        "placed: no machine has metadata role=db\")."

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
          "(STATE) and the machines it is scheduled on (TARGET); when the engine could not place\n"
          "a unit, why (REASON, \"no machine has metadata role=db\"; \"stuck: ...\" for one it\n"
          "cannot move off a draining machine). Reads all of fleetd's pages. With --json,\n"
          "prints the list as fleetd sent it." },
        { "submit", group_units, 1, ARGS_MANY, verb_submit, submit_options, "[--replace] FILE...",
          "Send unit files to the cluster, without starting them",
          "Sends each unit FILE to the cluster as an inactive unit named after the file (a\n"
          "name without a unit type gets .service). An instance (web@1.service) without a file\n"
          "of its own gets the template file next to it (web@.service). Every file is checked\n"
          "before anything is sent: if one is missing or not a valid unit file, nothing is\n"
          "submitted. A unit the cluster has with the same contents is left as it is; one with\n"
          "other contents is refused (destroy it first), unless --replace: then the file's\n"
          "contents replace the unit's in one write, as destroy and submit would, if the unit is\n"
          "inactive (a loaded or launched one is replaced by load or start --replace)." },
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
        { "load", group_units, 1, ARGS_MANY, verb_load, start_options, WAIT_USAGE "[--replace] UNIT|FILE...",
          "Schedule units onto machines without starting them",
          "Sets each unit's desired state to loaded: the engine picks a machine, which loads it\n"
          "into systemd. A FILE (a path that exists, or one with a '/') is submitted first if\n"
          "the cluster does not have it; it is checked, with every other argument, before\n"
          "anything is sent. With --replace a FILE replaces a unit the cluster has with other\n"
          "contents (not a launched one: start --replace).\n" WAIT_DESCRIPTION },
        { "start", group_units, 1, ARGS_MANY, verb_start, start_options, WAIT_USAGE "[--replace] UNIT|FILE...",
          "Start units, submitting and scheduling them first if needed",
          "Sets each unit's desired state to launched: the engine picks a machine, which starts\n"
          "it. A FILE is submitted first as with load. An instance of a submitted template\n"
          "(start web@{1..3}.service after submit web@.service) is created by fleetd.\n"
          "With --replace a FILE replaces a unit the cluster has with other contents; its\n"
          "machine restarts it with the new ones (or the engine moves it, if they say so).\n"
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
          "units the cluster knows. A unit the engine could not place is reported with the\n"
          "scheduler's reason. With --json, prints a list of what fleetd sent." },
        { "journal", group_units, 1, 1, verb_journal, journal_options, JOURNAL_USAGE "UNIT",
          "Print the journal of a unit",
          "Prints the last lines of UNIT's journal on its machine (as journalctl -u UNIT does)\n"
          "and, with --follow, new lines as they come, until interrupted. Asks fleetd, not SSH." },
        { "list-machines", group_machines, 0, 0, verb_list_machines, list_machines_options,
          LIST_USAGE " [--fields=LIST]", "List the machines in the cluster",
          "Lists every machine running fleetd: its ID (the first 8 characters unless --full),\n"
          "address, metadata (k=v, sorted by key) and state. With --json, prints the list as\n"
          "fleetd sent it." },
        { "machine", group_machines, 0, ARGS_MANY, verb_machine, machine_options,
          "drain HOST [--timeout=D] [--no-wait] [--force]\n"
          "       fleetctl machine uncordon HOST [--no-rebalance] [--no-wait] [--timeout=D]\n"
          "       fleetctl machine reboot HOST [--group=G] [--timeout=D] [--force] [--no-rebalance]\n"
          "       fleetctl machine reboot --rolling [--group=G] [--max-unavailable=N] [--timeout=D]\n"
          "                               [--force] [--no-rebalance] [HOST...]",
          "Drain, uncordon or reboot machines (rolling host upgrades)",
          "HOST is a machine's id, a unique prefix of it, its hostname or its IP (in that order). A\n"
          "prefix that fits several machines is an error listing them (exit status 2); a HOST that\n"
          "fits none is exit status 4. A drained host that is down is found by its id (or a prefix)\n"
          "in fleetd's drain records, so that it can be uncordoned.\n\n"
          "machine drain HOST cordons HOST (nothing new is placed there) and moves its work away:\n"
          "plain units stop there and start elsewhere; app instances are replaced elsewhere, each\n"
          "old one stopping once its replacement is healthy, never more at once than the app's\n"
          "max_unavailable; global units stay. It looks every 0.5s and prints each move as it\n"
          "happens, then a summary:\n"
          "  web.service  node-a -> node-b  active after 0.8s\n"
          "  hello_v3.web@2.service on node-a -> hello_v3.web@5.service on node-b, healthy after 3.1s\n"
          "  node-a drained: 2 units moved, 1 global unit stays (fleet-router.service)\n"
          "A unit that cannot move (MachineID= this host, or no other machine fits it) keeps\n"
          "running and the drain ends blocked, exit status 1, naming it and why; --force stops it\n"
          "instead. Draining the last machine that can take work is refused unless --force, with\n"
          "what would stop. --timeout (default 10m) gives up waiting with what is left (the drain\n"
          "goes on); --no-wait returns once fleetd has the request. HOST stays cordoned, across\n"
          "fleetd restarts and reboots, until it is uncordoned.\n\n"
          "machine uncordon HOST lets HOST take work again and has fleetd rebalance the apps (an\n"
          "instance at a time per app, health-gated, until no machine has two more instances of a\n"
          "process than another), printing each move and a summary once every app runs its scale\n"
          "healthy and fleetd says the rebalance is over (a fleetd that does not say: once the apps\n"
          "stayed so for 5s); --no-rebalance leaves them where they are, --no-wait returns at once.\n"
          "A host that was not cordoned is left as it is.\n\n"
          "machine reboot HOST reboots HOST the careful way: it takes a reboot slot of the group\n"
          "(--group, default \"default\", the group Zincati uses; see fleetctl locks), drains HOST,\n"
          "asks HOST's fleetd to reboot it (systemd's reboot.target), waits until HOST is back\n"
          "(registered with a new boot id), uncordons it and follows the rebalance, then frees the\n"
          "slot; a line per step. --rolling does this for each HOST in turn, or for every machine\n"
          "in id order without HOST, --max-unavailable at a time (default 1; never more than the\n"
          "group has slots). The machine whose fleetd fleetctl talks to goes last, alone. The first\n"
          "host that fails (no slot within --timeout, a blocked drain, not back within --timeout)\n"
          "stops it: the exit status is 1 and the hosts not started yet are left untouched; a host\n"
          "that did not come back stays cordoned and keeps its slot, and fleetctl says how to\n"
          "finish by hand. --timeout bounds each wait of a host: its slot, its drain, its return,\n"
          "its rebalance." },
        { "locks", group_machines, 0, 3, verb_locks, NULL, "[GROUP] | set-max GROUP N | release GROUP HOLDER",
          "Show or change the reboot slots (FleetLock groups)",
          "Reboot slots are counting semaphores, one per group: a host takes a slot before it\n"
          "reboots (machine reboot, or Zincati through FleetLock) and frees it once it is back, so\n"
          "that at most N hosts of a group are down at once. A slot survives its holder's reboot;\n"
          "fleetd frees slots older than reboot_slot_timeout (30min) by itself.\n\n"
          "locks lists the groups: their slots (held/max) and holders. locks GROUP (or locks show\n"
          "GROUP) shows a group's holders: the holder id, its machine, since when and by whom. A\n"
          "group that was never set has 1 slot. With --json, prints them as fleetd sent them.\n"
          "locks set-max GROUP N lets N hosts (1 to 1000) of GROUP hold a slot at once; lowering it\n"
          "keeps the holders there are. locks release GROUP HOLDER frees the slot of HOLDER (its id\n"
          "as locks GROUP shows it, or a HOST whose machine holds it): for a host that will not come\n"
          "back. A group name is 1 to 64 letters, digits, '.' and '-'." },
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
        { "version", group_other, 0, 0, NULL, NULL, "", "Show the version",
          "Prints \"fleetctl version X\", as fleet's fleetctl did (fleetctl --version too)." },
};

static const Option option_help = {
        "help", 'h', OPTION_ACTION, NULL, NULL, "Show this help (fleetctl VERB --help: the verb's)"
};
static const Option option_version = { "version", 'v', OPTION_ACTION, NULL, NULL, "Show the version" };
static const Option option_endpoint = {
        "endpoint", 0, OPTION_STRING, &arg_endpoint, "ADDR",
        "fleetd's API: unix:///path, a socket path or http(s)://host:port\n"
        "(default " CLIENT_DEFAULT_ENDPOINT ")"
};
static const Option option_json = { "json", 0, OPTION_TRUE, &arg_json, NULL, "Print JSON instead of tables" };
static const Option option_request_timeout = {
        "request-timeout", 0, OPTION_SECONDS, &arg_request_timeout, "SECONDS",
        "Give up on a request to fleetd after SECONDS (3, 1.5, or 90s;\ndefault 120; 0: never)"
};
static const Option option_debug = {
        "debug", 0, OPTION_TRUE, &arg_debug, NULL, "Print each request to fleetd and its answer's status on stderr"
};
static const Option option_ca_file = {
        "ca-file", 0, OPTION_STRING, &arg_ca_file, "PATH", "https endpoints: the CA of fleetd's certificate"
};
static const Option option_cert_file = {
        "cert-file", 0, OPTION_STRING, &arg_cert_file, "PATH", "https endpoints: this client's certificate"
};
static const Option option_key_file = {
        "key-file", 0, OPTION_STRING, &arg_key_file, "PATH", "https endpoints: the key of --cert-file"
};
static const Option option_driver = {
        "driver", 0, OPTION_STRING, &arg_driver, "API", "fleet's client driver: API, the only one"
};

/* fleet's global options, accepted so that its users' scripts and environments work. The old
 * spellings of the TLS files mean what they meant; the SSH ones mean nothing here (fleetctl
 * reaches fleetd over its API). --tunnel is checked in check_fleet_options(). */
static const Option option_etcd_cafile = { "etcd-cafile", 0, OPTION_STRING, &arg_ca_file, "PATH", "Old name of --ca-file" };
static const Option option_etcd_certfile = {
        "etcd-certfile", 0, OPTION_STRING, &arg_cert_file, "PATH", "Old name of --cert-file"
};
static const Option option_etcd_keyfile = { "etcd-keyfile", 0, OPTION_STRING, &arg_key_file, "PATH", "Old name of --key-file" };
static const Option option_tunnel = {
        "tunnel", 0, OPTION_STRING, &arg_tunnel, "HOST",
        "fleet's SSH tunnel: none here; give --endpoint https://HOST:PORT"
};
#define NO_SSH "fleetctl reaches fleetd over its API, without SSH"
static const Option option_known_hosts = { "known-hosts-file", 0, OPTION_IGNORED, NULL, "PATH", NO_SSH };
static const Option option_strict_host_key = { "strict-host-key-checking", 0, OPTION_IGNORED_FLAG, NULL, NULL, NO_SSH };
static const Option option_ssh_timeout = { "ssh-timeout", 0, OPTION_IGNORED, NULL, "SECONDS", NO_SSH };
static const Option option_ssh_username = { "ssh-username", 0, OPTION_IGNORED, NULL, "USER", NO_SSH };
static const Option option_etcd_key_prefix = {
        "etcd-key-prefix", 0, OPTION_IGNORED, NULL, "PREFIX", "fleetctl does not read etcd; fleetd's etcd_key_prefix says"
};
static const Option option_experimental_api = {
        "experimental-api", 0, OPTION_IGNORED_FLAG, NULL, NULL, "fleetd's API is the only way fleetctl talks"
};

#define GLOBAL_OPTIONS                                                                           \
        &option_help, &option_endpoint, &option_json, &option_request_timeout, &option_debug,      \
        &option_ca_file, &option_cert_file, &option_key_file
#define FLEET_OPTIONS                                                                            \
        &option_driver, &option_tunnel, &option_etcd_cafile, &option_etcd_certfile,               \
        &option_etcd_keyfile, &option_known_hosts, &option_strict_host_key, &option_ssh_timeout,  \
        &option_ssh_username, &option_etcd_key_prefix, &option_experimental_api

/* Before the verb. */
static OptionList main_options = { &option_version, GLOBAL_OPTIONS, FLEET_OPTIONS, NULL };
/* After the verb too, beside its own; these are read from FLEETCTL_<NAME> as well. */
static OptionList global_options = { GLOBAL_OPTIONS, FLEET_OPTIONS, NULL };
/* What fleetctl --help shows apart. */
static OptionList shown_options = { &option_version, GLOBAL_OPTIONS, NULL };
static OptionList fleet_options = { FLEET_OPTIONS, NULL };

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
        fprintf(f, "\nOptions (also from the environment: FLEETCTL_ENDPOINT, FLEETCTL_REQUEST_TIMEOUT, ...):\n");
        option_list_help(f, shown_options);
        fprintf(f, "\nfleet's options, for its scripts:\n");
        option_list_help(f, fleet_options);
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
        printf("\nThe global options (--endpoint, --json, ...) work here too; see fleetctl --help.\n");
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

/* The options the command line gave, so that the environment does not override them. */
static const Option *given[64];
static size_t n_given;

/* Whether the command line gave o, or another option that sets what o sets (--etcd-cafile and
 * --ca-file). */
static bool option_given(const Option *o) {
        for (size_t i = 0; i < n_given; i++)
                if (given[i] == o || (o->value && given[i]->value == o->value))
                        return true;
        return false;
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
                if (n_given < ELEMENTSOF(given) && !option_given(o))
                        given[n_given++] = o;
        }
        *ret_action = NULL;
        return 0;
}

/* FLEETCTL_<NAME> for each global option the command line did not give, as fleet's
 * getFlagsFromEnv(). Returns 0 or -EINVAL (printed, naming the variable). */
static int apply_environment(void) {
        for (const Option *const *o = global_options; *o; o++) {
                if (option_given(*o))
                        continue;
                if (option_apply_env(*o) < 0)
                        return -EINVAL;
        }
        return 0;
}

/* Where the value of o came from, for messages: "--tunnel" or "FLEETCTL_TUNNEL". */
static const char *option_source(const Option *o, char buf[static OPTION_ENV_NAME_MAX]) {
        if (!option_given(o))
                return option_env_name(o, buf);
        snprintf(buf, OPTION_ENV_NAME_MAX, "--%s", o->name);
        return buf;
}

/* fleet's --driver and --tunnel: what they asked for is what fleetctl does, or it cannot be
 * done (then a usage error rather than a request to another fleetd than meant). */
static int check_fleet_options(void) {
        char src[OPTION_ENV_NAME_MAX];

        if (arg_driver && strcasecmp(arg_driver, "api") != 0)
                return usage_error(NULL, "%s=%s: fleetctl talks to fleetd's API only; %s.",
                                   option_source(&option_driver, src), arg_driver,
                                   strcasecmp(arg_driver, "etcd") == 0 ? "point --endpoint at a fleetd"
                                                                        : "the driver is API");
        if (isempty(arg_tunnel))
                return 0;
        if (isempty(arg_endpoint))
                return usage_error(NULL, "%s=%s: fleetctl has no SSH tunnel; reach that host's fleetd with "
                                   "--endpoint https://HOST:PORT.", option_source(&option_tunnel, src), arg_tunnel);
        if (option_given(&option_tunnel))
                fprintf(stderr, "fleetctl: note: ignoring --tunnel: --endpoint says where fleetd is.\n");
        return 0;
}

/* As fleet's fleetctl printed it. */
static int run_version(int argc, char **argv) {
        printf("fleetctl version %s\n", FLEETD_VERSION);
        return fflush(stdout) == 0 ? 0 : -EIO;
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
        if (action == &option_version)
                return run_version(0, NULL);

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
                return streq(v->name, "version") ? run_version(verb_argc, args) : run_help(verb_argc, args);

        r = apply_environment();
        if (r >= 0)
                r = check_fleet_options();
        if (r < 0)
                return r;
        ClientOptions o = {
                .endpoint = isempty(arg_endpoint) ? CLIENT_DEFAULT_ENDPOINT : arg_endpoint,
                .timeout = arg_request_timeout,
                .ca_file = isempty(arg_ca_file) ? NULL : arg_ca_file,
                .cert_file = isempty(arg_cert_file) ? NULL : arg_cert_file,
                .key_file = isempty(arg_key_file) ? NULL : arg_key_file,
                .debug = arg_debug,
        };
        r = client_new(&o, &client);
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
