/* SPDX-License-Identifier: Apache-2.0 */
/* FleetLock's two routes (api-fleetlock.h): the request is read (fleetlock.h), its id mapped
 * to a machine, then pre-reboot goes slot -> drain -> status and steady-state slot ->
 * uncordon, each step answering from its etcd callback. */
#include <stdarg.h>
#include <stdio.h>

#include "api-fleetlock.h"
#include "api-upgrade.h"
#include "fleetlock.h"
#include "log.h"
#include "manager.h"
#include "reboot-slots.h"

#define SUMMARY_UNITS 10

typedef struct LockCall {
        Manager *m;
        ApiRequest *req;
        bool pre_reboot;              /* else steady-state */
        FleetLockRequest r;
        char machine[MACHINE_ID_LEN + 1];     /* "" when the id maps to no machine */
        char *hostname;
} LockCall;

static LockCall *lock_call_free(LockCall *c) {
        if (!c)
                return NULL;
        fleetlock_request_done(&c->r);
        free(c->hostname);
        free(c);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(LockCall *, lock_call_free);

/* Answers {"kind","value"} with the kind's status. */
_printf_(3, 4) static void reply_kind(ApiRequest *req, FleetLockKind kind, const char *fmt, ...) {
        _cleanup_free_ char *value = NULL;
        json_auto_t *body = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&value, fmt, ap);
        va_end(ap);
        body = r >= 0 ? fleetlock_error_json(kind, value) : NULL;
        if (!body)
                body = fleetlock_error_json(FLEETLOCK_INTERNAL, "out of memory");
        if (body)
                api_request_reply_json(req, fleetlock_kind_status(kind), body);
        else
                api_request_reply_error(req, 500, "internal", "Out of memory.");
}

/* Answers for an etcd, write or memory error, and frees c. */
static void lock_call_fail(LockCall *c, int error) {
        if (error == -EAGAIN)
                reply_kind(c->req, FLEETLOCK_CONTENDED, "reboot slots of group %s kept changing; try again",
                           c->r.group);
        else if (error == -EBADMSG)
                reply_kind(c->req, FLEETLOCK_INTERNAL, "locks/%s in etcd is not a lock record", c->r.group);
        else if (error == -ENOMEM)
                reply_kind(c->req, FLEETLOCK_INTERNAL, "out of memory");
        else
                reply_kind(c->req, FLEETLOCK_ETCD_UNAVAILABLE, "etcd did not answer: %s", strerror(-error));
        lock_call_free(c);
}

static const char *lock_call_name(const LockCall *c) {
        return c->hostname ?: c->machine;
}

static void lock_call_reply_ok(LockCall *c, json_t *extra) {
        json_auto_t *body = json_pack("{s:s, s:s, s:s*}", "id", c->r.id, "group", c->r.group, "machine",
                                      c->machine[0] ? c->machine : NULL);

        if (body && extra && json_object_update(body, extra) < 0)
                json_decref(TAKE_PTR(body));
        api_upgrade_reply(c->req, 200, body);
        lock_call_free(c);
}

/* ---- pre-reboot: slot, drain, status ---- */

static void on_pre_status(Manager *m, int error, const DrainStatus *s, const DrainRecord *d, void *userdata) {
        LockCall *c = userdata;
        _cleanup_free_ char *summary = NULL;
        json_auto_t *extra = NULL;

        if (error < 0)
                return lock_call_fail(c, error);
        if (d && s->phase == DRAIN_PHASE_DRAINED) {
                log_info("FleetLock: %s is drained and holds a reboot slot of group %s: it may reboot.",
                         lock_call_name(c), c->r.group);
                extra = json_pack("{s:s}", "state", "drained");
                return lock_call_reply_ok(c, extra);
        }
        summary = drain_status_summary(s, SUMMARY_UNITS);
        if (d && s->phase == DRAIN_PHASE_BLOCKED)
                reply_kind(c->req, FLEETLOCK_DRAIN_BLOCKED,
                           "%s holds the reboot slot but cannot be drained: %s; move or stop those units, or "
                           "drain it with force", lock_call_name(c), strna(summary));
        else
                reply_kind(c->req, FLEETLOCK_DRAIN_IN_PROGRESS, "%s holds the reboot slot and is draining: %s",
                           lock_call_name(c), strna(summary));
        lock_call_free(c);
}

static void on_pre_drain(Manager *m, int error, bool changed, const DrainRecord *d, void *userdata) {
        LockCall *c = userdata;

        if (error < 0)
                return lock_call_fail(c, error);
        if (changed)
                log_info("FleetLock: draining %s (%s) for its reboot.", lock_call_name(c), c->machine);
        error = upgrade_load_status(m, c->machine, on_pre_status, c);
        if (error < 0)
                lock_call_fail(c, error);
}

static void pre_drain(LockCall *c) {
        _cleanup_free_ char *by = NULL;
        int r;

        if (asprintf(&by, "fleetlock %s", c->r.id) < 0)
                return lock_call_fail(c, -ENOMEM);
        DrainRecord want = { .since_usec = now_usec(CLOCK_REALTIME), .by = by, .source = (char *) "fleetlock" };
        strcpy(want.machine, c->machine);
        r = upgrade_drain_write(c->m, &want, on_pre_drain, c);
        if (r < 0)
                lock_call_fail(c, r);
}

/* "X (machine host2), Y" of the group's holders, for the semaphore-full value. */
static char *holders_text(const LockRecord *l) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        for (size_t i = 0; i < l->n_holders; i++)
                fprintf(f, "%s%s%s%s%s", i > 0 ? ", " : "", l->holders[i].id, l->holders[i].machine[0] ? " (machine " : "",
                        l->holders[i].machine, l->holders[i].machine[0] ? ")" : "");
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(text);
}

static void on_pre_slot(int error, const SlotOutcome *o, void *userdata) {
        LockCall *c = userdata;
        _cleanup_free_ char *holders = NULL;

        if (error < 0)
                return lock_call_fail(c, error);
        if (o->result == -EBUSY) {
                holders = holders_text(o->record);
                reply_kind(c->req, FLEETLOCK_SEMAPHORE_FULL,
                           "semaphore currently full: all %u reboot slot(s) of group %s are held, by %s", o->record->max,
                           c->r.group, strna(holders));
                return (void) lock_call_free(c);
        }
        if (o->result == 0)
                log_info("FleetLock: %s (%s) took a reboot slot of group %s.", lock_call_name(c), c->machine,
                         c->r.group);
        pre_drain(c);
}

static void pre_reboot(LockCall *c) {
        SlotChange change = { .op = SLOT_ACQUIRE, .group = c->r.group, .id = c->r.id, .machine = c->machine,
                              .by = "fleetlock", .timeout = c->m->config->reboot_slot_timeout };
        int r;

        r = reboot_slot_change(c->m->etcd, c->m->config->etcd_key_prefix, &change, on_pre_slot, c);
        if (r < 0)
                lock_call_fail(c, r);
}

/* ---- steady-state: slot, uncordon ---- */

static void on_steady_uncordoned(Manager *m, int error, bool changed, const DrainRecord *d, void *userdata) {
        LockCall *c = userdata;
        json_auto_t *extra = NULL;

        if (error < 0)
                return lock_call_fail(c, error);
        if (changed)
                log_info("FleetLock: %s (%s) is back; uncordoned, rebalancing.", lock_call_name(c), c->machine);
        extra = json_pack("{s:b}", "uncordoned", changed);
        lock_call_reply_ok(c, extra);
}

static void on_steady_slot(int error, const SlotOutcome *o, void *userdata) {
        LockCall *c = userdata;
        int r;

        if (error < 0)
                return lock_call_fail(c, error);
        if (o->result > 0)
                log_info("FleetLock: %s freed its reboot slot of group %s.", c->r.id, c->r.group);
        if (!c->machine[0] && o->released && o->released->machine[0])
                memcpy(c->machine, o->released->machine, sizeof(c->machine));
        if (!c->machine[0])
                return lock_call_reply_ok(c, NULL);
        r = upgrade_drain_remove(c->m, c->machine, "fleetlock", true, "fleetlock", on_steady_uncordoned, c);
        if (r < 0)
                lock_call_fail(c, r);
}

static void steady_state(LockCall *c) {
        SlotChange change = { .op = SLOT_RELEASE, .group = c->r.group, .id = c->r.id };
        int r;

        r = reboot_slot_change(c->m->etcd, c->m->config->etcd_key_prefix, &change, on_steady_slot, c);
        if (r < 0)
                lock_call_fail(c, r);
}

/* ---- the id's machine ---- */

static void lock_call_next(LockCall *c) {
        if (c->pre_reboot)
                pre_reboot(c);
        else
                steady_state(c);
}

static int lock_call_set_machine(LockCall *c, const MachineRecord *rec) {
        strcpy(c->machine, rec->id);
        c->hostname = rec->hostname ? strdup(rec->hostname) : NULL;
        return !rec->hostname || c->hostname ? 0 : -ENOMEM;
}

static void on_lock_call_machines(Manager *m, int error, const UpgradeMachines *v, void *userdata) {
        LockCall *c = userdata;
        const MachineRecord *rec;

        if (error < 0)
                return lock_call_fail(c, error);
        rec = upgrade_machines_by_fleetlock_id(v, c->r.id);
        if (!rec && c->pre_reboot) {
                reply_kind(c->req, FLEETLOCK_UNKNOWN_MACHINE,
                           "no registered machine has the FleetLock id %s (its fleetd publishes it as fleetlockId)",
                           c->r.id);
                return (void) lock_call_free(c);
        }
        /* steady-state of an id no machine has: only a slot it may hold is freed */
        if (rec && lock_call_set_machine(c, rec) < 0)
                return lock_call_fail(c, -ENOMEM);
        lock_call_next(c);
}

static int lock_call_start(ApiRequest *req, Manager *m, bool pre_reboot) {
        _cleanup_(lock_call_freep) LockCall *c = NULL;
        _cleanup_free_ char *why = NULL;
        FleetLockKind kind;
        const char *body;
        size_t len;
        int r;

        c = calloc(1, sizeof(LockCall));
        if (!c)
                return -ENOMEM;
        *c = (LockCall) { .m = m, .req = req, .pre_reboot = pre_reboot };
        body = api_request_body(req, &len);
        r = fleetlock_request_parse(api_request_header(req, FLEETLOCK_HEADER), body, len, &c->r, &kind, &why);
        if (r == -EINVAL)
                return reply_kind(req, kind, "%s", strna(why)), 0;
        if (r < 0)
                return r;

        if (api_request_transport(req) != API_TRANSPORT_LOOPBACK) {
                r = upgrade_load_machines(m, on_lock_call_machines, c);
                if (r < 0)
                        return r;
                TAKE_PTR(c);
                return 0;
        }
        /* fleetlock_listen: plain HTTP, anyone on this host can talk to it; it speaks for this
         * machine only */
        if (!fleetlock_id_equal(c->r.id, m->self.fleetlock_id))
                return reply_kind(req, FLEETLOCK_FORBIDDEN,
                                  "%s is not this machine's FleetLock id: fleetlock_listen serves only this machine "
                                  "(%s); ask through the fleetd API for others", c->r.id, strna(m->self.fleetlock_id)),
                       0;
        r = lock_call_set_machine(c, &m->self);
        if (r < 0)
                return r;
        lock_call_next(TAKE_PTR(c));
        return 0;
}

int api_fleetlock_pre_reboot(ApiRequest *req, void *userdata) {
        return lock_call_start(req, userdata, true);
}

int api_fleetlock_steady_state(ApiRequest *req, void *userdata) {
        return lock_call_start(req, userdata, false);
}

const ApiRoute api_fleetlock_routes[] = {
        { "POST", "/v1/pre-reboot", api_fleetlock_pre_reboot },
        { "POST", "/v1/steady-state", api_fleetlock_steady_state },
        {}
};
