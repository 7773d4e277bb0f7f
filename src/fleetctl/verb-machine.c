/* SPDX-License-Identifier: Apache-2.0 */
/* machine drain|uncordon|reboot: rolling host upgrades (docs/design.md). Drain and uncordon
 * are here; reboot, one host or all in turn, is in verb-reboot.c. */
#include <ctype.h>
#include <stdio.h>

#include "drain-watch.h"
#include "host-lookup.h"
#include "machine.h"
#include "registry.h"

usec_t arg_machine_timeout = MACHINE_TIMEOUT_DEFAULT;
bool arg_machine_no_wait = false;
bool arg_force = false;
bool arg_no_rebalance = false;
bool arg_rolling = false;
const char *arg_group = NULL;
const char *arg_max_unavailable = NULL;

static const Option option_timeout = {
        "timeout", 0, OPTION_DURATION, &arg_machine_timeout, "DURATION",
        "Give up each wait of a host after DURATION (default 10m; 0: never)"
};
static const Option option_no_wait = {
        "no-wait", 0, OPTION_TRUE, &arg_machine_no_wait, NULL, "drain, uncordon: return once fleetd has the request"
};
static const Option option_force = {
        "force", 0, OPTION_TRUE, &arg_force, NULL,
        "drain, reboot: stop the units that cannot move instead of\nkeeping them running (and drain the last machine)"
};
static const Option option_no_rebalance = {
        "no-rebalance", 0, OPTION_TRUE, &arg_no_rebalance, NULL,
        "uncordon, reboot: leave the apps where they are after uncordoning"
};
static const Option option_rolling = {
        "rolling", 0, OPTION_TRUE, &arg_rolling, NULL, "reboot: every HOST in turn, or every machine without HOST"
};
static const Option option_group = {
        "group", 0, OPTION_STRING, &arg_group, "GROUP",
        "reboot: the group of reboot slots to take one of (default: default)"
};
static const Option option_max_unavailable = {
        "max-unavailable", 0, OPTION_STRING, &arg_max_unavailable, "N",
        "reboot --rolling: hosts at a time (default 1; at most the group's slots)"
};

OptionList machine_options = {
        &option_timeout, &option_no_wait, &option_force, &option_no_rebalance,
        &option_rolling, &option_group, &option_max_unavailable, NULL,
};

int check_group(const char *verb, const char *group) {
        if (lock_group_is_valid(group))
                return 0;
        return usage_error(verb, "invalid group name '%s': expected 1 to %d letters, digits, '.' and '-'.", group,
                           LOCK_GROUP_MAX_LEN);
}

int parse_slots(const char *verb, const char *what, const char *s, unsigned *ret) {
        unsigned long n = 0;
        size_t len = strlen(s);

        /* Digits only, and few enough that strtoul cannot overflow. */
        if (len == 0 || len > 6 || strspn(s, "0123456789") != len || (n = strtoul(s, NULL, 10)) < 1 ||
            n > LOCK_MAX_LIMIT)
                return usage_error(verb, "%s takes a number from 1 to %u, not '%s'.", what, LOCK_MAX_LIMIT, s);
        *ret = (unsigned) n;
        return 0;
}

/* The machines, and the one arg names. */
static int machine_resolve(Client *c, const char *arg, HostLookup *lookup, Host *ret) {
        int r = host_lookup_init(lookup, c);

        return r < 0 ? r : host_lookup_resolve(lookup, arg, ret);
}

/* --- drain --- */

static int machine_drain(Client *c, int argc, char **argv) {
        _cleanup_(host_lookup_done) HostLookup lookup = {};
        _cleanup_(drain_watch_done) DrainWatch watch = {};
        _cleanup_(host_done) Host host = {};
        int r;

        r = machine_resolve(c, argv[0], &lookup, &host);
        if (r < 0)
                return r;
        if (!host.present) {
                fprintf(stderr, "fleetctl: %s is down (not registered): it is draining already.\n", host.name);
                return -EIO;
        }
        /* The first look goes before the request, so that no move goes unseen. */
        if (!arg_machine_no_wait) {
                r = drain_watch_start(&watch, c, &host, MOVES_DRAIN, lookup.names, NULL);
                if (r < 0)
                        return r;
        }
        r = host_drain_request(c, &host, arg_force, "fleetctl");
        if (r < 0)
                return r == -EEXIST ? -EIO : r;
        if (arg_machine_no_wait) {
                printf("%s is draining.\n", host.name);
                return fflush(stdout) == 0 ? 0 : -EIO;
        }
        r = drain_watch_run(&watch, arg_machine_timeout);
        if (r == -EIO && watch.blocked)
                fprintf(stderr,
                        "fleetctl: %s stays cordoned with those units running; --force stops them, "
                        "'fleetctl machine uncordon %s' takes it back.\n",
                        host.name, argv[0]);
        return r;
}

/* --- uncordon --- */

static int machine_uncordon(Client *c, int argc, char **argv) {
        _cleanup_(host_lookup_done) HostLookup lookup = {};
        _cleanup_(drain_watch_done) DrainWatch watch = {};
        _cleanup_(host_done) Host host = {};
        bool wait;
        int r;

        r = machine_resolve(c, argv[0], &lookup, &host);
        if (r < 0)
                return r;
        /* A host that is down gets no work to rebalance onto until it is back. */
        wait = !arg_no_rebalance && !arg_machine_no_wait && host.present;
        if (wait) {
                r = drain_watch_start(&watch, c, &host, MOVES_REBALANCE, lookup.names, NULL);
                if (r < 0)
                        return r;
        }
        r = host_uncordon_request(c, &host, !arg_no_rebalance);
        if (r < 0)
                return r;
        if (r == 0) {
                printf("%s was not cordoned.\n", host.name);
                return fflush(stdout) == 0 ? 0 : -EIO;
        }
        printf("%s uncordoned%s\n", host.name,
               arg_no_rebalance ? " (no rebalance)."
               : !host.present  ? "; it is down, it takes work again once it is back."
               : wait           ? ", rebalancing."
                                : ", rebalancing goes on.");
        if (fflush(stdout) != 0)
                return -EIO;
        return wait ? drain_watch_run(&watch, arg_machine_timeout) : 0;
}

/* --- the verb --- */

typedef struct MachineVerb {
        const char *name;
        int (*run)(Client *c, int argc, char **argv);
        unsigned min_args, max_args;
        const Option *const *options;   /* those of machine_options it takes */
} MachineVerb;

static const MachineVerb machine_verbs[] = {
        { "drain", machine_drain, 1, 1, (OptionList) { &option_timeout, &option_no_wait, &option_force, NULL } },
        { "uncordon", machine_uncordon, 1, 1,
          (OptionList) { &option_timeout, &option_no_wait, &option_no_rebalance, NULL } },
        { "reboot", machine_reboot, 0, UINT32_MAX,
          (OptionList) { &option_timeout, &option_force, &option_no_rebalance, &option_rolling, &option_group,
                         &option_max_unavailable, NULL } },
};

/* Whether o was on the command line: the flags are off and the strings NULL by default. */
static bool option_given(const Option *o) {
        if (o->kind == OPTION_TRUE)
                return *(const bool *) o->value;
        if (o->kind == OPTION_STRING)
                return *(const char **) o->value;
        return false;
}

static bool option_listed(const Option *const *list, const Option *o) {
        for (; *list; list++)
                if (*list == o)
                        return true;
        return false;
}

static int check_machine_args(const MachineVerb *v, int argc) {
        for (const Option *const *o = machine_options; *o; o++)
                if (option_given(*o) && !option_listed(v->options, *o))
                        return usage_error("machine", "machine %s does not take --%s.", v->name, (*o)->name);
        if ((unsigned) argc < v->min_args)
                return usage_error("machine", "machine %s needs a HOST.", v->name);
        if ((unsigned) argc > v->max_args)
                return usage_error("machine", "machine %s takes one HOST.", v->name);
        return 0;
}

int verb_machine(Client *c, int argc, char **argv) {
        int r;

        if (argc == 0)
                return usage_error("machine", "machine needs what to do: drain, uncordon or reboot.");
        for (size_t i = 0; i < ELEMENTSOF(machine_verbs); i++) {
                const MachineVerb *v = &machine_verbs[i];

                if (!streq(argv[0], v->name))
                        continue;
                r = check_machine_args(v, argc - 1);
                if (r < 0)
                        return r;
                return v->run(c, argc - 1, argv + 1);
        }
        return usage_error("machine", "unknown 'machine %s': use drain, uncordon or reboot.", argv[0]);
}
