/* SPDX-License-Identifier: Apache-2.0 */
/* locks [GROUP] | locks show GROUP | locks set-max GROUP N | locks release GROUP HOLDER: the
 * reboot slots (docs/design.md, "Rolling host upgrades"): a counting semaphore per group, whose
 * holders are machines that reboot (machine reboot) or FleetLock clients (Zincati). */
#include <stdio.h>
#include <time.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "fleetctl.h"
#include "host-lookup.h"
#include "machine.h"
#include "table.h"
#include "time-format.h"
#include "unit-args.h"

/* "/v1/locks/<group><suffix>". NULL on -ENOMEM. */
static char *lock_path(Client *c, const char *group, const char *suffix) {
        _cleanup_free_ char *escaped = client_escape(c, group);
        char *path;

        if (!escaped || asprintf(&path, "/v1/locks/%s%s", escaped, suffix) < 0)
                return NULL;
        return path;
}

/* The machines, best effort: holders are shown by their machine's name where it is known. */
static json_t *get_machines(Client *c) {
        json_auto_t *answer = NULL;
        json_t *list;

        if (client_call_full(c, "GET", "/v1/machines", NULL, CLIENT_QUIET, NULL, &answer) < 0)
                return json_array();
        list = json_object_get(answer, "machines");
        return json_is_array(list) ? json_incref(list) : json_array();
}

/* The name of holder h: its machine's hostname, else its machine's or its own id, shortened. */
static char *holder_name(const json_t *machines, const json_t *h) {
        const char *machine = jx_str(h, "machine");
        const json_t *m;
        size_t i;

        json_array_foreach(machines, i, m)
                if (machine && streq_ptr(jx_str(m, "id"), machine))
                        return host_display_name(machine, jx_str(m, "hostname"));
        return host_display_name(machine ?: jx_str(h, "id"), NULL);
}

/* --- locks: every group --- */

static int list_add(Table *t, const json_t *lock, void *userdata) {
        const json_t *holders = json_object_get(lock, "holders"), *h;
        _cleanup_free_ char *slots = NULL, *names = NULL;
        size_t i, len = 0;
        FILE *f;

        if (asprintf(&slots, "%zu/%lld", json_array_size(holders), (long long) jx_int64(lock, "max", 1)) < 0)
                return (slots = NULL), -ENOMEM;
        f = open_memstream(&names, &len);
        if (!f)
                return -ENOMEM;
        json_array_foreach(holders, i, h) {
                _cleanup_free_ char *name = holder_name(userdata, h);

                fprintf(f, "%s%s", i > 0 ? "," : "", strna(name));
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        return table_add_row(t, jx_str(lock, "group"), slots, isempty(names) ? NULL : names);
}

static int locks_list(Client *c) {
        _cleanup_(table_freep) Table *t = NULL;
        json_auto_t *answer = NULL, *machines = NULL;
        json_t *locks;
        int r;

        r = api_get_list(c, "/v1/locks", "locks", &answer, &locks);
        if (r >= 0 && !arg_json)
                machines = get_machines(c);
        if (r >= 0)
                r = table_new(&t, "GROUP", "SLOTS", "HOLDERS");
        if (r < 0)
                return r;
        return print_list(locks, t, locks, list_add, machines);
}

/* --- locks GROUP --- */

typedef struct ShowData {
        const json_t *machines;
        usec_t now;
} ShowData;

static int show_add(Table *t, const json_t *h, void *userdata) {
        const ShowData *d = userdata;
        _cleanup_free_ char *name = holder_name(d->machines, h);
        int64_t since = jx_int64(h, "since", 0);
        char ago[64] = "";

        if (!name)
                return -ENOMEM;
        if (since > 0)
                format_relative(ago, sizeof(ago), (usec_t) since, d->now);
        return table_add_row(t, jx_str(h, "id"), jx_str(h, "machine") ? name : NULL, since > 0 ? ago : NULL,
                             jx_str(h, "by"));
}

/* GETs the lock record of group, once its name is checked (a usage error: nothing asked). */
static int get_lock(Client *c, const char *group, json_t **ret) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = check_group("locks", group);
        if (r < 0)
                return r;
        path = lock_path(c, group, "");
        if (!path)
                return -ENOMEM;
        return client_call(c, "GET", path, NULL, ret);
}

static int locks_show(Client *c, const char *group) {
        _cleanup_(table_freep) Table *t = NULL;
        json_auto_t *lock = NULL, *machines = NULL;
        const json_t *holders;
        size_t n;
        int r;

        r = get_lock(c, group, &lock);
        if (r < 0)
                return r;
        if (arg_json)
                return print_json(lock);
        holders = json_object_get(lock, "holders");
        n = json_array_size(holders);
        printf("Group %s: %zu of %lld slot%s held\n", group, n, (long long) jx_int64(lock, "max", 1),
               jx_int64(lock, "max", 1) == 1 ? "" : "s");
        if (n == 0)
                return fflush(stdout) == 0 ? 0 : -EIO;
        machines = get_machines(c);
        r = table_new(&t, "HOLDER", "MACHINE", "SINCE", "BY");
        if (r < 0)
                return r;
        return print_list(lock, t, holders, show_add, &(ShowData) { machines, now_usec(CLOCK_REALTIME) });
}

/* --- locks set-max GROUP N --- */

static int locks_set_max(Client *c, const char *group, const char *count) {
        _cleanup_free_ char *path = NULL;
        json_auto_t *body = NULL, *lock = NULL;
        unsigned n;
        size_t held;
        int r;

        r = check_group("locks", group);
        if (r >= 0)
                r = parse_slots("locks", "locks set-max", count, &n);
        if (r < 0)
                return r;
        path = lock_path(c, group, "");
        body = json_pack("{s:I}", "max", (json_int_t) n);
        if (!path || !body)
                return -ENOMEM;
        r = client_call(c, "PUT", path, body, &lock);
        if (r < 0)
                return r;
        if (arg_json)
                return print_json(lock);
        held = json_array_size(json_object_get(lock, "holders"));
        printf("Group %s: %u slot%s, %zu held%s\n", group, n, n == 1 ? "" : "s", held,
               held > n ? " (they keep them; new holders wait)" : "");
        return fflush(stdout) == 0 ? 0 : -EIO;
}

/* --- locks release GROUP HOLDER --- */

/* The holder of lock that arg names: its id, or a HOST whose machine holds a slot. */
static const json_t *find_holder(const json_t *lock, const json_t *machines, const char *arg) {
        const json_t *holders = json_object_get(lock, "holders"), *h;
        _cleanup_(host_done) Host host = {};
        _cleanup_strv_free_ char **candidates = NULL;
        size_t i;

        json_array_foreach(holders, i, h)
                if (streq_ptr(jx_str(h, "id"), arg))
                        return h;
        if (host_find(machines, NULL, arg, &host, &candidates) < 0)
                return NULL;
        json_array_foreach(holders, i, h)
                if (streq_ptr(jx_str(h, "id"), host.id) || streq_ptr(jx_str(h, "machine"), host.id))
                        return h;
        return NULL;
}

static int report_no_holder(const json_t *lock, const json_t *machines, const char *group, const char *arg) {
        const json_t *h;
        size_t i;

        fprintf(stderr, "fleetctl: %s holds no reboot slot of group %s", arg, group);
        json_array_foreach(json_object_get(lock, "holders"), i, h) {
                _cleanup_free_ char *name = holder_name(machines, h);

                fprintf(stderr, "%s%s (%s)", i == 0 ? "; its holders: " : ", ", strna(jx_str(h, "id")), strna(name));
        }
        fprintf(stderr, "%s.\n", json_array_size(json_object_get(lock, "holders")) == 0 ? "; it has no holders" : "");
        return -ENOENT;
}

static int locks_release(Client *c, const char *group, const char *arg) {
        _cleanup_free_ char *escaped = NULL, *suffix = NULL, *path = NULL, *name = NULL;
        json_auto_t *lock = NULL, *machines = NULL;
        const json_t *holder;
        int r;

        r = get_lock(c, group, &lock);
        if (r < 0)
                return r;
        machines = get_machines(c);
        holder = find_holder(lock, machines, arg);
        if (!holder)
                return report_no_holder(lock, machines, group, arg);
        name = holder_name(machines, holder);
        escaped = client_escape(c, jx_str(holder, "id"));
        if (!name || !escaped)
                return -ENOMEM;
        if (asprintf(&suffix, "/holders/%s", escaped) < 0)
                return (suffix = NULL), -ENOMEM;
        path = lock_path(c, group, suffix);
        if (!path)
                return -ENOMEM;
        r = client_call(c, "DELETE", path, NULL, NULL);
        if (r < 0)
                return r == -ENOENT ? -EIO : r;
        printf("Released the reboot slot of %s (%s) in group %s.\n", jx_str(holder, "id"), name, group);
        return fflush(stdout) == 0 ? 0 : -EIO;
}

int verb_locks(Client *c, int argc, char **argv) {
        if (argc == 0)
                return locks_list(c);
        if (streq(argv[0], "show") && argc == 2)
                return locks_show(c, argv[1]);
        if (streq(argv[0], "set-max") && argc == 3)
                return locks_set_max(c, argv[1], argv[2]);
        if (streq(argv[0], "release") && argc == 3)
                return locks_release(c, argv[1], argv[2]);
        if (streq(argv[0], "show"))
                return usage_error("locks", "locks show needs GROUP.");
        if (streq(argv[0], "set-max"))
                return usage_error("locks", "locks set-max needs GROUP N.");
        if (streq(argv[0], "release"))
                return usage_error("locks", "locks release needs GROUP HOLDER.");
        if (argc == 1)
                return locks_show(c, argv[0]);
        return usage_error("locks", "unknown 'locks %s': use 'locks [GROUP]', 'locks set-max GROUP N' or "
                           "'locks release GROUP HOLDER'.", argv[0]);
}
