/* SPDX-License-Identifier: Apache-2.0 */
/* machine reboot HOST, and machine reboot --rolling [HOST...]: for each host in turn (or
 * --max-unavailable at a time), take a reboot slot of the group (POST /v1/locks/<group>/holders),
 * drain it (source "reboot"), ask its fleetd to reboot it (POST /v1/machines/<id>/reboot), wait
 * until it is registered again with another boot id, uncordon it and follow the rebalance, and
 * release the slot. The first host that fails (no slot, a blocked drain, not back in time) ends
 * the reboot: no other host is started, those under way finish, and the exit status is 1.
 *
 * The machine whose fleetd fleetctl talks to goes last, alone: while it reboots, fleetctl's
 * endpoint is gone too, so not being able to reach it counts as "down". */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "drain-watch.h"
#include "host-lookup.h"
#include "machine.h"
#include "progress.h"
#include "registry.h"
#include "unit-args.h"

typedef enum RebootPhase {
        PHASE_QUEUED,      /* not started: left untouched if the reboot stops */
        PHASE_SLOT,        /* waiting for a reboot slot */
        PHASE_DRAIN,
        PHASE_BACK,        /* asked to reboot; waiting for it to come back */
        PHASE_REBALANCE,
        PHASE_DONE,
        PHASE_FAILED,
} RebootPhase;

typedef struct HostReboot {
        Host host;
        RebootPhase phase;
        usec_t started, phase_started;
        DrainWatch watch;
        bool own;             /* fleetctl's endpoint is its fleetd */
        bool waiting_said;    /* "waiting for a reboot slot" said */
        bool down_said;       /* "down" said */
} HostReboot;

typedef struct Reboot {
        Client *client;
        HostLookup lookup;
        const char *group;
        char *holders_path;   /* /v1/locks/<group>/holders */
        HostReboot *hosts;
        size_t n_hosts;
        unsigned slots;       /* the group's */
        unsigned parallel;    /* hosts at a time */
        bool failed;
        json_t *claimed;      /* the replacements told, shared by the hosts' watches */
        Progress progress;
} Reboot;

static void reboot_done(Reboot *rb) {
        for (size_t i = 0; i < rb->n_hosts; i++) {
                host_done(&rb->hosts[i].host);
                drain_watch_done(&rb->hosts[i].watch);
        }
        free(rb->hosts);
        free(rb->holders_path);
        host_lookup_done(&rb->lookup);
        json_decref(rb->claimed);
        progress_done(&rb->progress);
}

/* "node-a: ..." on stdout, the progress line out of the way. */
static int say(Reboot *rb, const HostReboot *h, const char *fmt, ...) _printf_(3, 4);
static int say(Reboot *rb, const HostReboot *h, const char *fmt, ...) {
        va_list ap;

        progress_clear(&rb->progress);
        printf("%s: ", h->host.name);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        return fflush(stdout) == 0 ? 0 : -EIO;
}

static void enter(HostReboot *h, RebootPhase phase) {
        h->phase = phase;
        h->phase_started = now_usec(CLOCK_MONOTONIC);
}

/* "1m10s": how long since t (monotonic), in whole seconds. */
static const char *format_since(char *buf, size_t size, usec_t t) {
        return format_duration(buf, size, (now_usec(CLOCK_MONOTONIC) - t) / USEC_PER_SEC * USEC_PER_SEC);
}

static bool phase_timed_out(const HostReboot *h) {
        return arg_machine_timeout > 0 && now_usec(CLOCK_MONOTONIC) - h->phase_started >= arg_machine_timeout;
}

/* A host fails: it ends the reboot. Returns -EIO. */
static int host_failed(Reboot *rb, HostReboot *h) {
        enter(h, PHASE_FAILED);
        rb->failed = true;
        return -EIO;
}

/* --- the slot --- */

static int slot_release(Reboot *rb, HostReboot *h) {
        _cleanup_free_ char *escaped = client_escape(rb->client, h->host.id), *path = NULL;
        int r;

        if (!escaped || asprintf(&path, "%s/%s", rb->holders_path, escaped) < 0)
                return (path = NULL), -ENOMEM;
        r = client_call(rb->client, "DELETE", path, NULL, NULL);
        if (r < 0)
                return r == -ENOENT ? -EIO : r;
        return say(rb, h, "released its reboot slot in group %s", rb->group);
}

/* Fails h after its drain or rebalance went wrong: its slot goes back first. */
static int host_failed_release(Reboot *rb, HostReboot *h) {
        int r = slot_release(rb, h);

        if (error_is_fatal(r))
                return r;
        return host_failed(rb, h);
}

static int start_drain(Reboot *rb, HostReboot *h) {
        int r;

        r = drain_watch_start(&h->watch, rb->client, &h->host, MOVES_DRAIN, rb->lookup.names, rb->claimed);
        if (r >= 0)
                r = host_drain_request(rb->client, &h->host, arg_force, "reboot");
        if (error_is_fatal(r))
                return r;
        if (r < 0)
                return host_failed_release(rb, h);
        enter(h, PHASE_DRAIN);
        return say(rb, h, "draining");
}

static int step_slot(Reboot *rb, HostReboot *h) {
        json_auto_t *body = json_pack("{s:s}", "id", h->host.id);
        char buf[64];
        int r;

        if (!body)
                return -ENOMEM;
        r = client_call_full(rb->client, "POST", rb->holders_path, body, CLIENT_QUIET_CONFLICT, NULL, NULL);
        if (r == -EEXIST) {
                if (phase_timed_out(h)) {
                        progress_clear(&rb->progress);
                        fprintf(stderr,
                                "fleetctl: no reboot slot of group %s came free for %s within %s (see 'fleetctl locks "
                                "%s'); nothing was done to it.\n",
                                rb->group, h->host.name, format_duration(buf, sizeof(buf), arg_machine_timeout),
                                rb->group);
                        return host_failed(rb, h);
                }
                if (h->waiting_said)
                        return 0;
                h->waiting_said = true;
                return say(rb, h, "waiting for a reboot slot in group %s (all are held)", rb->group);
        }
        if (error_is_fatal(r))
                return r;
        if (r < 0)
                return host_failed(rb, h);
        r = say(rb, h, "took a reboot slot in group %s", rb->group);
        return r < 0 ? r : start_drain(rb, h);
}

/* --- drain, reboot, back --- */

static int request_reboot(Reboot *rb, HostReboot *h) {
        _cleanup_free_ char *path = machine_path(rb->client, h->host.id, "/reboot");
        json_auto_t *body = json_object();   /* no force: fleetd reboots it only if it is drained */
        int r;

        if (!path || !body)
                return -ENOMEM;
        if (h->own) {
                progress_clear(&rb->progress);
                printf("%s: fleetctl's endpoint goes away with it: if fleetctl runs there, finish once it is back "
                       "with 'fleetctl machine uncordon %s' and 'fleetctl locks release %s %s'.\n",
                       h->host.name, h->host.id, rb->group, h->host.id);
        }
        r = client_call(rb->client, "POST", path, body, NULL);
        if (error_is_fatal(r))
                return r;
        if (r < 0) {
                fprintf(stderr, "fleetctl: %s was not rebooted; it stays cordoned (uncordon it with 'fleetctl machine "
                        "uncordon %s').\n", h->host.name, h->host.id);
                return host_failed_release(rb, h);
        }
        enter(h, PHASE_BACK);
        return say(rb, h, "rebooting");
}

/* A look of h's watch, which gives up once the phase took --timeout. */
static int watch_step(Reboot *rb, HostReboot *h) {
        int r = drain_watch_step(&h->watch);

        if (r <= 0 || !phase_timed_out(h))
                return r;
        progress_clear(&rb->progress);
        return drain_watch_give_up(&h->watch, arg_machine_timeout);
}

static int step_drain(Reboot *rb, HostReboot *h) {
        int r;

        r = watch_step(rb, h);
        if (r > 0 || error_is_fatal(r))
                return r;
        if (r < 0) {
                fprintf(stderr, "fleetctl: not rebooting %s: it stays cordoned%s; ", h->host.name,
                        h->watch.blocked ? " (--force stops what cannot move)" : "");
                fprintf(stderr, "'fleetctl machine uncordon %s' takes it back.\n", h->host.id);
                return host_failed_release(rb, h);
        }
        drain_watch_done(&h->watch);
        return request_reboot(rb, h);
}

static int uncordon(Reboot *rb, HostReboot *h) {
        int r;

        if (!arg_no_rebalance) {
                r = drain_watch_start(&h->watch, rb->client, &h->host, MOVES_REBALANCE, rb->lookup.names, rb->claimed);
                if (r < 0)
                        return error_is_fatal(r) ? r : host_failed_release(rb, h);
        }
        r = host_uncordon_request(rb->client, &h->host, !arg_no_rebalance);
        if (error_is_fatal(r))
                return r;
        if (r < 0)
                return host_failed_release(rb, h);
        r = say(rb, h, "%s", arg_no_rebalance ? "uncordoned (no rebalance)" : "uncordoned, rebalancing");
        if (r < 0)
                return r;
        enter(h, PHASE_REBALANCE);
        return 0;
}

static int report_not_back(Reboot *rb, HostReboot *h) {
        char buf[64];

        progress_clear(&rb->progress);
        fprintf(stderr,
                "fleetctl: %s did not come back within %s: %s. It stays cordoned and keeps its reboot slot in group "
                "%s.\nfleetctl: once it is back: 'fleetctl machine uncordon %s' and 'fleetctl locks release %s %s'.\n",
                h->host.name, format_duration(buf, sizeof(buf), arg_machine_timeout),
                h->down_said ? "it is down" : "its fleetd still reports the boot it had", rb->group, h->host.id,
                rb->group, h->host.id);
        return host_failed(rb, h);
}

static int step_back(Reboot *rb, HostReboot *h) {
        json_auto_t *record = NULL;
        const char *boot_id;
        char buf[64];
        int r;

        r = host_get_record(rb->client, &h->host, h->own ? CLIENT_QUIET : 0, &record);
        /* The endpoint's own host takes the endpoint down with it. */
        if (r == -ENOENT || (h->own && r < 0 && r != -ENOMEM)) {
                if (!h->down_said) {
                        h->down_said = true;
                        r = say(rb, h, "down");
                        if (r < 0)
                                return r;
                }
                return phase_timed_out(h) ? report_not_back(rb, h) : 0;
        }
        if (r < 0)
                return r;
        boot_id = jx_str(record, "bootId");
        if (!boot_id || streq_ptr(boot_id, h->host.boot_id))
                return phase_timed_out(h) ? report_not_back(rb, h) : 0;
        r = say(rb, h, "back after %s, boot %.8s", format_since(buf, sizeof(buf), h->phase_started), boot_id);
        return r < 0 ? r : uncordon(rb, h);
}

static int finish(Reboot *rb, HostReboot *h) {
        char buf[64];
        int r;

        r = slot_release(rb, h);
        if (error_is_fatal(r))
                return r;
        if (r < 0)
                return host_failed(rb, h);
        enter(h, PHASE_DONE);
        progress_clear(&rb->progress);
        printf("%s rebooted in %s\n", h->host.name, format_since(buf, sizeof(buf), h->started));
        return fflush(stdout) == 0 ? 0 : -EIO;
}

static int step_rebalance(Reboot *rb, HostReboot *h) {
        int r = arg_no_rebalance ? 0 : watch_step(rb, h);

        if (r > 0 || error_is_fatal(r))
                return r;
        if (r < 0)
                return host_failed_release(rb, h);
        return finish(rb, h);
}

/* --- the hosts in turn --- */

/* Starts h: its boot id now, which its return must change. */
static int host_start(Reboot *rb, HostReboot *h) {
        json_auto_t *record = NULL;
        int r;

        h->started = now_usec(CLOCK_MONOTONIC);
        enter(h, PHASE_SLOT);
        r = host_get_record(rb->client, &h->host, 0, &record);
        if (r == -ENOENT) {
                progress_clear(&rb->progress);
                fprintf(stderr, "fleetctl: %s is no longer registered (down?); nothing was done to it.\n",
                        h->host.name);
                return host_failed(rb, h);
        }
        if (r < 0)
                return r;
        if (!jx_str(record, "bootId")) {
                progress_clear(&rb->progress);
                fprintf(stderr,
                        "fleetctl: %s's fleetd reports no boot id (an older fleetd?), so its return cannot be told; "
                        "nothing was done to it.\n",
                        h->host.name);
                return host_failed(rb, h);
        }
        r = free_and_strdup(&h->host.boot_id, jx_str(record, "bootId"));
        return r < 0 ? r : step_slot(rb, h);
}

static int host_step(Reboot *rb, HostReboot *h) {
        switch (h->phase) {
        case PHASE_SLOT:
                return step_slot(rb, h);
        case PHASE_DRAIN:
                return step_drain(rb, h);
        case PHASE_BACK:
                return step_back(rb, h);
        case PHASE_REBALANCE:
                return step_rebalance(rb, h);
        default:
                return 0;
        }
}

static bool host_active(const HostReboot *h) {
        return h->phase != PHASE_QUEUED && h->phase != PHASE_DONE && h->phase != PHASE_FAILED;
}

static size_t active_hosts(const Reboot *rb) {
        size_t n = 0;

        for (size_t i = 0; i < rb->n_hosts; i++)
                n += host_active(&rb->hosts[i]);
        return n;
}

/* Starts queued hosts while there is room; the endpoint's own host only alone. */
static int start_hosts(Reboot *rb, size_t *next) {
        int r;

        while (!rb->failed && *next < rb->n_hosts && active_hosts(rb) < rb->parallel) {
                HostReboot *h = &rb->hosts[*next];

                if (h->own && active_hosts(rb) > 0)
                        break;
                (*next)++;
                r = host_start(rb, h);
                if (error_is_fatal(r) || (r < 0 && r != -EIO))
                        return r;
                if (h->own)
                        break;
        }
        return 0;
}

static int show_progress(Reboot *rb, usec_t start) {
        _cleanup_free_ char *text = NULL;

        for (size_t i = 0; i < rb->n_hosts; i++) {
                HostReboot *h = &rb->hosts[i];

                if (!host_active(h))
                        continue;
                if (h->phase == PHASE_DRAIN || (h->phase == PHASE_REBALANCE && !arg_no_rebalance))
                        text = drain_watch_progress(&h->watch);
                else if (asprintf(&text, "%s: waiting for %s", h->host.name,
                                  h->phase == PHASE_SLOT ? "a reboot slot" : "it to come back") < 0)
                        text = NULL;
                if (!text)
                        return -ENOMEM;
                return progress_show(&rb->progress, now_usec(CLOCK_MONOTONIC) - start, "%s", text);
        }
        return 0;
}

static int reboot_run(Reboot *rb) {
        usec_t start = now_usec(CLOCK_MONOTONIC);
        size_t next = 0;
        int r;

        for (;;) {
                r = start_hosts(rb, &next);
                if (r < 0)
                        return r;
                if (active_hosts(rb) == 0)
                        break;
                sleep_usec(DRAIN_WATCH_INTERVAL);
                for (size_t i = 0; i < rb->n_hosts; i++) {
                        if (!host_active(&rb->hosts[i]))
                                continue;
                        r = host_step(rb, &rb->hosts[i]);
                        if (error_is_fatal(r) || (r < 0 && r != -EIO))
                                return r;
                }
                r = show_progress(rb, start);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The end: every host rebooted, or which failed and which were left untouched. */
static int reboot_report(Reboot *rb) {
        size_t done = 0;

        progress_clear(&rb->progress);
        for (size_t i = 0; i < rb->n_hosts; i++)
                done += rb->hosts[i].phase == PHASE_DONE;
        if (!rb->failed) {
                printf("Rebooted %zu host%s.\n", done, done == 1 ? "" : "s");
                return fflush(stdout) == 0 ? 0 : -EIO;
        }
        fprintf(stderr, "fleetctl: the reboot stopped: %zu of %zu host%s rebooted", done, rb->n_hosts,
                rb->n_hosts == 1 ? "" : "s");
        for (size_t i = 0, k = 0; i < rb->n_hosts; i++)
                if (rb->hosts[i].phase == PHASE_QUEUED)
                        fprintf(stderr, "%s%s", k++ == 0 ? "; left untouched: " : ", ", rb->hosts[i].host.name);
        fprintf(stderr, ".\n");
        return -EIO;
}

/* --- setting up --- */

/* The machine fleetctl's endpoint is on (GET /v1/status), best effort; NULL if not known. */
static int endpoint_machine(Client *c, char **ret) {
        json_auto_t *answer = NULL;
        const char *id;

        *ret = NULL;
        if (client_call_full(c, "GET", "/v1/status", NULL, CLIENT_QUIET, NULL, &answer) < 0)
                return 0;
        id = jx_str(json_object_get(answer, "machine"), "id");
        return free_and_strdup(ret, id);
}

/* The ids to reboot, in their order: the HOST arguments, or every machine. */
static int reboot_targets(Reboot *rb, int argc, char **argv, char ***ret) {
        _cleanup_strv_free_ char **ids = NULL;
        const json_t *m;
        size_t i;
        int r;

        json_array_foreach(rb->lookup.machines, i, m)
                if (argc == 0 && jx_str(m, "id") && strv_extend(&ids, jx_str(m, "id")) < 0)
                        return -ENOMEM;
        for (int k = 0; k < argc; k++) {
                _cleanup_(host_done) Host h = {};

                r = host_lookup_resolve(&rb->lookup, argv[k], &h);
                if (r < 0)
                        return r;
                if (!h.present) {
                        fprintf(stderr,
                                "fleetctl: %s is down (not registered): it cannot be rebooted; nothing was done.\n",
                                h.name);
                        return -EIO;
                }
                if (strv_extend(&ids, h.id) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(ids);
        return 0;
}

static int reboot_add_host(Reboot *rb, const char *id, const char *own) {
        const json_t *m;
        size_t i;

        json_array_foreach(rb->lookup.machines, i, m) {
                HostReboot *h = &rb->hosts[rb->n_hosts];

                if (!streq_ptr(jx_str(m, "id"), id))
                        continue;
                *h = (HostReboot) { .own = streq_ptr(id, own) };
                rb->n_hosts++;
                return host_from_machine(m, &h->host);
        }
        return -EBADMSG;   /* every id came from the machines */
}

/* How many at a time: --max-unavailable, but at most the group's slots. */
static int reboot_parallel(Reboot *rb, unsigned wanted) {
        _cleanup_free_ char *escaped = client_escape(rb->client, rb->group), *path = NULL;
        json_auto_t *lock = NULL;
        int64_t max;
        int r;

        if (!escaped || asprintf(&path, "/v1/locks/%s", escaped) < 0)
                return (path = NULL), -ENOMEM;
        r = client_call(rb->client, "GET", path, NULL, &lock);
        if (r < 0)
                return r == -ENOENT ? -EIO : r;
        max = jx_int64(lock, "max", 1);
        rb->slots = (unsigned) MAX(1, MIN(max, (int64_t) LOCK_MAX_LIMIT));
        rb->parallel = MIN(wanted, rb->slots);
        if (asprintf(&rb->holders_path, "%s/holders", path) < 0)
                return (rb->holders_path = NULL), -ENOMEM;
        return 0;
}

static int reboot_print_plan(Reboot *rb, unsigned wanted) {
        const char *s = rb->slots == 1 ? "" : "s";

        if (rb->n_hosts == 1)
                printf("Rebooting %s, with a reboot slot of group %s.\n", rb->hosts[0].host.name, rb->group);
        else {
                printf("Rebooting %zu hosts in turn, %u at a time (group %s has %u slot%s%s):", rb->n_hosts,
                       rb->parallel, rb->group, rb->slots, s,
                       rb->parallel < wanted ? ", fewer than --max-unavailable" : "");
                for (size_t i = 0; i < rb->n_hosts; i++)
                        printf(" %s", rb->hosts[i].host.name);
                printf("\n");
        }
        for (size_t i = 0; i < rb->n_hosts; i++)
                if (rb->hosts[i].own && rb->n_hosts > 1)
                        printf("%s goes last, alone: fleetctl's endpoint is its fleetd.\n", rb->hosts[i].host.name);
        return fflush(stdout) == 0 ? 0 : -EIO;
}

static int reboot_setup(Reboot *rb, int argc, char **argv, unsigned wanted) {
        _cleanup_strv_free_ char **ids = NULL, **order = NULL;
        _cleanup_free_ char *own = NULL;
        int r;

        r = host_lookup_init(&rb->lookup, rb->client);
        if (r >= 0)
                r = reboot_targets(rb, argc, argv, &ids);
        if (r >= 0)
                r = endpoint_machine(rb->client, &own);
        if (r >= 0)
                r = hosts_reboot_order(ids, argc == 0, own, &order);
        if (r < 0)
                return r;
        if (!order[0]) {
                printf("No machines to reboot.\n");
                return 0;
        }
        rb->hosts = calloc(strv_length(order), sizeof(HostReboot));
        if (!rb->hosts)
                return -ENOMEM;
        STRV_FOREACH(id, order) {
                r = reboot_add_host(rb, *id, own);
                if (r < 0)
                        return r;
        }
        r = reboot_parallel(rb, wanted);
        return r < 0 ? r : reboot_print_plan(rb, wanted);
}

int machine_reboot(Client *c, int argc, char **argv) {
        _cleanup_(reboot_done) Reboot rb = { .client = c, .group = arg_group ?: LOCK_GROUP_DEFAULT };
        unsigned wanted = 1;
        int r;

        if (!arg_rolling && arg_max_unavailable)
                return usage_error("machine", "--max-unavailable goes with --rolling.");
        if (!arg_rolling && argc != 1)
                return usage_error("machine", "machine reboot takes one HOST; --rolling reboots several in turn.");
        r = check_group("machine", rb.group);
        if (r >= 0 && arg_max_unavailable)
                r = parse_slots("machine", "--max-unavailable", arg_max_unavailable, &wanted);
        if (r < 0)
                return r;
        progress_init(&rb.progress, PROGRESS_QUIET);
        rb.claimed = json_object();
        if (!rb.claimed)
                return -ENOMEM;
        r = reboot_setup(&rb, argc, argv, wanted);
        if (r < 0 || rb.n_hosts == 0)
                return r;
        r = reboot_run(&rb);
        return r < 0 ? r : reboot_report(&rb);
}
