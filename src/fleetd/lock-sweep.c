/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <stdio.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "lock-sweep.h"
#include "log.h"
#include "registry.h"

#define SWEEP_GROUPS_MAX 100          /* groups per txn: etcd's --max-txn-ops is 128 */

struct LockSweep {
        sd_event *event;
        EtcdClient *etcd;
        char *prefix, *leader_key, *machine_id;
        int64_t lease;
        usec_t timeout;
        usec_t interval;
        sd_event_source *timer;
        EtcdRequest *request;
        char **released;              /* what the txn under way frees, logged once it succeeded */
};

/* The ops and compares of one sweep, and the strings they point to. */
typedef struct Sweep {
        EtcdOp ops[SWEEP_GROUPS_MAX];
        EtcdCompare compares[SWEEP_GROUPS_MAX + 2];
        char *strings[2 * SWEEP_GROUPS_MAX];
        size_t n_ops, n_strings;
        char **released;
} Sweep;

static void sweep_done(Sweep *w) {
        for (size_t i = 0; i < w->n_strings; i++)
                free(w->strings[i]);
        strv_free(w->released);
        *w = (Sweep) {};
}

static void lock_sweep_arm(LockSweep *s) {
        int r = sd_event_source_set_time_relative(s->timer, s->interval);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Failed to arm the reboot slot sweep, slots are no longer freed by timeout: %m");
}

/* "Freed reboot slot of <id> (machine <m>) in group <g>: held for 31min, longer than
 * reboot_slot_timeout (30min)." for every holder of l (as read) that is in expired. */
static int sweep_describe(LockSweep *s, const LockRecord *l, char **expired, usec_t now, Sweep *w) {
        char held[32], limit[32];

        for (size_t i = 0; i < l->n_holders; i++) {
                const LockHolder *h = &l->holders[i];
                char *m;

                if (!strv_contains(expired, h->id))
                        continue;
                (void) format_duration(held, sizeof(held), (now - h->since_usec) / USEC_PER_SEC * USEC_PER_SEC);
                (void) format_duration(limit, sizeof(limit), s->timeout);
                if (asprintf(&m, "Freed the reboot slot of %s%s%s%s in group %s: held for %s, longer than "
                             "reboot_slot_timeout (%s).", h->id, h->machine[0] ? " (machine " : "", h->machine,
                             h->machine[0] ? ")" : "", l->group, held, limit) < 0)
                        return -ENOMEM;
                if (strv_push(&w->released, m) < 0) {
                        free(m);
                        return -ENOMEM;
                }
        }
        return 0;
}

/* One group read from etcd: if any of its holders expired, the put of what remains (and a
 * compare on its mod_revision) into w. */
static int sweep_group(LockSweep *s, const EtcdKv *kv, usec_t now, Sweep *w) {
        _cleanup_(lock_record_done) LockRecord l = {}, before = {};
        _cleanup_strv_free_ char **expired = NULL;
        json_auto_t *j = json_loads(kv->value, 0, NULL);
        int r;

        if (lock_record_from_json(j, &l) < 0 || lock_record_from_json(j, &before) < 0) {
                /* the API writes none such; every sweep meets it again: not worth a warning each time */
                log_debug("Ignoring malformed reboot slot record %s.", kv->key);
                return 0;
        }
        r = lock_record_expire(&l, now, s->timeout, &expired);
        if (r <= 0)
                return r;
        json_auto_t *out = lock_record_to_json(&l);
        char *key = strdup(kv->key), *value = out ? jx_dumps(out) : NULL;
        if (!key || !value) {
                free(key);
                free(value);
                return -ENOMEM;
        }
        w->strings[w->n_strings++] = key;
        w->strings[w->n_strings++] = value;
        w->ops[w->n_ops] = (EtcdOp) { .type = ETCD_OP_PUT, .key = key, .value = value };
        w->compares[2 + w->n_ops] = (EtcdCompare) { .key = key, .target = ETCD_COMPARE_MOD, .result = ETCD_EQUAL,
                                                    .number = kv->mod_revision };
        w->n_ops++;
        return sweep_describe(s, &before, expired, now, w);
}

static void on_written(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        LockSweep *s = userdata;
        _cleanup_strv_free_ char **released = TAKE_PTR(s->released);

        s->request = etcd_request_cancel(s->request);
        if (error < 0)
                log_warning_errno(error, "Failed to free expired reboot slots, trying again later: %m");
        else if (!result->succeeded)
                log_debug("Reboot slots changed while they were swept (or the leader changed); sweeping later.");
        else
                STRV_FOREACH(m, released)
                        log_notice("%s", *m);
}

static void on_locks(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        LockSweep *s = userdata;
        _cleanup_(sweep_done) Sweep w = {};
        usec_t now = now_usec(CLOCK_REALTIME);
        int r = 0;

        s->request = etcd_request_cancel(s->request);
        if (error < 0) {
                log_debug_errno(error, "Failed to read the reboot slots, sweeping later: %m");
                return;
        }
        for (size_t i = 0; r >= 0 && i < result->n_kvs && w.n_ops < SWEEP_GROUPS_MAX; i++)
                r = sweep_group(s, &result->kvs[i], now, &w);
        if (r < 0) {
                log_error_errno(r, "Failed to sweep the reboot slots: %m");
                return;
        }
        if (w.n_ops == 0)
                return;
        w.compares[0] = (EtcdCompare) { .key = s->leader_key, .target = ETCD_COMPARE_VALUE, .result = ETCD_EQUAL,
                                        .value = s->machine_id };
        w.compares[1] = (EtcdCompare) { .key = s->leader_key, .target = ETCD_COMPARE_LEASE, .result = ETCD_EQUAL,
                                        .number = s->lease };
        EtcdTxn txn = { .compares = w.compares, .n_compares = 2 + w.n_ops, .success = w.ops, .n_success = w.n_ops };
        r = etcd_client_txn(s->etcd, &txn, on_written, s, &s->request);
        if (r < 0)
                log_error_errno(r, "Failed to free expired reboot slots: %m");
        else
                s->released = TAKE_PTR(w.released);
}

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        LockSweep *s = userdata;
        _cleanup_free_ char *key = registry_key(s->prefix, "locks", "", NULL);
        _cleanup_free_ char *end = key ? etcd_prefix_end(key) : NULL;
        int r;

        lock_sweep_arm(s);
        if (s->request)
                return 0;     /* the last one is still under way */
        if (!end)
                return log_oom();
        EtcdRangeArgs args = { .key = key, .range_end = end };
        r = etcd_client_range(s->etcd, &args, on_locks, s, &s->request);
        if (r < 0)
                log_error_errno(r, "Failed to read the reboot slots: %m");
        return 0;
}

int lock_sweep_new(sd_event *e, EtcdClient *etcd, const LockSweepOptions *o, LockSweep **ret) {
        _cleanup_(lock_sweep_freep) LockSweep *s = NULL;
        int r;

        assert(e);
        assert(etcd);
        assert(o);
        assert(o->timeout > 0);
        assert(ret);

        s = calloc(1, sizeof(LockSweep));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(e);
        s->etcd = etcd;
        s->lease = o->lease;
        s->timeout = o->timeout;
        s->interval = o->interval ?: MIN(MAX(o->timeout / 4, 5 * USEC_PER_SEC), 60 * USEC_PER_SEC);
        s->prefix = strdup(o->prefix);
        s->leader_key = strdup(o->leader_key);
        s->machine_id = strdup(o->machine_id);
        if (!s->prefix || !s->leader_key || !s->machine_id)
                return -ENOMEM;
        r = sd_event_add_time_relative(e, &s->timer, CLOCK_MONOTONIC, s->interval, USEC_PER_SEC, on_timer, s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

LockSweep *lock_sweep_free(LockSweep *s) {
        if (!s)
                return NULL;
        etcd_request_cancel(s->request);
        sd_event_source_disable_unref(s->timer);
        sd_event_unref(s->event);
        strv_free(s->released);
        free(s->prefix);
        free(s->leader_key);
        free(s->machine_id);
        free(s);
        return NULL;
}
