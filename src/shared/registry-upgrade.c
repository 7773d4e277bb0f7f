/* SPDX-License-Identifier: Apache-2.0 */
/* The records of rolling host upgrades (registry.h): drains, placements, rebalances and the
 * reboot-slot semaphore. PURE. */
#include <ctype.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "registry.h"

static int string_dup(const json_t *j, const char *key, bool required, char **ret) {
        json_t *v = json_object_get(j, key);

        *ret = NULL;
        if (!v || json_is_null(v))
                return required ? -EBADMSG : 0;
        if (!json_is_string(v) || (required && json_string_length(v) == 0))
                return -EBADMSG;
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

/* "since": a non-negative integer of microseconds; absent is 0. */
static int since_from_json(const json_t *j, uint64_t *ret) {
        json_t *v = json_object_get(j, "since");

        if (!v) {
                *ret = 0;
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return -EBADMSG;
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

static int machine_from_json(const json_t *j, bool required, char ret[MACHINE_ID_LEN + 1]) {
        const char *m = jx_str(j, "machine");

        ret[0] = 0;
        if (!m)
                return required ? -EBADMSG : 0;
        if (!machine_id_is_valid(m))
                return -EBADMSG;
        strcpy(ret, m);
        return 0;
}

/* --- drain/<machine-id> --- */

static const char * const drain_sources[] = { "fleetctl", "fleetlock", "reboot", NULL };

bool drain_source_is_valid(const char *s) {
        return s && strv_contains((char **) drain_sources, s);
}

void drain_record_done(DrainRecord *d) {
        free(d->by);
        free(d->source);
        *d = (DrainRecord) {};
}

json_t *drain_record_to_json(const DrainRecord *d) {
        return json_pack("{s:s, s:I, s:s*, s:b, s:s}",
                         "machine", d->machine,
                         "since", (json_int_t) d->since_usec,
                         "by", d->by,
                         "force", d->force,
                         "source", d->source ?: "fleetctl");
}

int drain_record_from_json(const json_t *j, DrainRecord *ret) {
        _cleanup_(drain_record_done) DrainRecord d = {};
        json_t *force = json_object_get(j, "force");
        int r;

        if (!json_is_object(j) || (force && !json_is_boolean(force)))
                return -EBADMSG;
        if ((r = machine_from_json(j, true, d.machine)) < 0 ||
            (r = since_from_json(j, &d.since_usec)) < 0 ||
            (r = string_dup(j, "by", false, &d.by)) < 0 ||
            (r = string_dup(j, "source", true, &d.source)) < 0)
                return r;
        if (!drain_source_is_valid(d.source))
                return -EBADMSG;
        d.force = force && json_is_true(force);
        *ret = d;
        d = (DrainRecord) {};
        return 0;
}

/* --- placement/<name> --- */

static const char * const placement_state_table[_PLACEMENT_STATE_MAX] = {
        [PLACEMENT_UNSCHEDULABLE] = "unschedulable",
        [PLACEMENT_STUCK] = "stuck",
};

const char *placement_state_to_string(PlacementState s) {
        return s >= 0 && s < _PLACEMENT_STATE_MAX ? placement_state_table[s] : NULL;
}

PlacementState placement_state_from_string(const char *s) {
        for (PlacementState i = 0; i < _PLACEMENT_STATE_MAX; i++)
                if (streq_ptr(s, placement_state_table[i]))
                        return i;
        return _PLACEMENT_STATE_INVALID;
}

void placement_record_done(PlacementRecord *p) {
        free(p->name);
        free(p->reason);
        *p = (PlacementRecord) {};
}

json_t *placement_record_to_json(const PlacementRecord *p) {
        return json_pack("{s:s, s:s, s:s*, s:s, s:I}",
                         "name", p->name,
                         "state", placement_state_to_string(p->state),
                         "machine", p->machine[0] ? p->machine : NULL,
                         "reason", p->reason,
                         "since", (json_int_t) p->since_usec);
}

int placement_record_from_json(const json_t *j, PlacementRecord *ret) {
        _cleanup_(placement_record_done) PlacementRecord p = {};
        int r;

        if (!json_is_object(j))
                return -EBADMSG;
        p.state = placement_state_from_string(jx_str(j, "state"));
        if (p.state < 0)
                return -EBADMSG;
        if ((r = string_dup(j, "name", true, &p.name)) < 0 ||
            (r = string_dup(j, "reason", true, &p.reason)) < 0 ||
            (r = machine_from_json(j, p.state == PLACEMENT_STUCK, p.machine)) < 0 ||
            (r = since_from_json(j, &p.since_usec)) < 0)
                return r;
        *ret = p;
        p = (PlacementRecord) {};
        return 0;
}

/* --- rebalance/<machine-id> --- */

void rebalance_record_done(RebalanceRecord *r) {
        free(r->by);
        *r = (RebalanceRecord) {};
}

json_t *rebalance_record_to_json(const RebalanceRecord *r) {
        return json_pack("{s:s, s:I, s:s*}",
                         "machine", r->machine,
                         "since", (json_int_t) r->since_usec,
                         "by", r->by);
}

int rebalance_record_from_json(const json_t *j, RebalanceRecord *ret) {
        _cleanup_(rebalance_record_done) RebalanceRecord b = {};
        int r;

        if (!json_is_object(j))
                return -EBADMSG;
        if ((r = machine_from_json(j, true, b.machine)) < 0 ||
            (r = since_from_json(j, &b.since_usec)) < 0 ||
            (r = string_dup(j, "by", false, &b.by)) < 0)
                return r;
        *ret = b;
        b = (RebalanceRecord) {};
        return 0;
}

/* --- locks/<group> --- */

bool lock_group_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > LOCK_GROUP_MAX_LEN)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && *s != '.' && *s != '-')
                        return false;
        return true;
}

bool lock_holder_id_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > 256)
                return false;
        for (; *s; s++)
                if ((unsigned char) *s <= ' ' || (unsigned char) *s >= 0x7f)
                        return false;
        return true;
}

static void lock_holder_done(LockHolder *h) {
        free(h->id);
        free(h->by);
        *h = (LockHolder) {};
}

void lock_record_done(LockRecord *l) {
        for (size_t i = 0; i < l->n_holders; i++)
                lock_holder_done(&l->holders[i]);
        free(l->holders);
        free(l->group);
        *l = (LockRecord) {};
}

int lock_record_new_default(const char *group, LockRecord *ret) {
        char *g;

        if (!lock_group_is_valid(group))
                return -EINVAL;
        g = strdup(group);
        if (!g)
                return -ENOMEM;
        *ret = (LockRecord) { .group = g, .max = 1 };
        return 0;
}

json_t *lock_record_to_json(const LockRecord *l) {
        json_auto_t *holders = json_array();

        if (!holders)
                return NULL;
        for (size_t i = 0; i < l->n_holders; i++) {
                const LockHolder *h = &l->holders[i];
                json_t *o = json_pack("{s:s, s:s*, s:I, s:s*}",
                                      "id", h->id,
                                      "machine", h->machine[0] ? h->machine : NULL,
                                      "since", (json_int_t) h->since_usec,
                                      "by", h->by);
                if (!o || json_array_append_new(holders, o) < 0)
                        return NULL;
        }
        return json_pack("{s:s, s:I, s:O}", "group", l->group, "max", (json_int_t) l->max, "holders", holders);
}

static int lock_holder_from_json(const json_t *j, LockHolder *ret) {
        _cleanup_(lock_holder_done) LockHolder h = {};
        int r;

        if (!json_is_object(j))
                return -EBADMSG;
        if ((r = string_dup(j, "id", true, &h.id)) < 0 ||
            (r = string_dup(j, "by", false, &h.by)) < 0 ||
            (r = machine_from_json(j, false, h.machine)) < 0 ||
            (r = since_from_json(j, &h.since_usec)) < 0)
                return r;
        if (!lock_holder_id_is_valid(h.id))
                return -EBADMSG;
        *ret = h;
        h = (LockHolder) {};
        return 0;
}

int lock_record_from_json(const json_t *j, LockRecord *ret) {
        _cleanup_(lock_record_done) LockRecord l = {};
        json_t *max = json_object_get(j, "max"), *holders = json_object_get(j, "holders"), *h;
        size_t i;
        int r;

        if (!json_is_object(j) || !json_is_integer(max) || (holders && !json_is_array(holders)))
                return -EBADMSG;
        if (json_integer_value(max) < 1 || json_integer_value(max) > LOCK_MAX_LIMIT)
                return -EBADMSG;
        l.max = (unsigned) json_integer_value(max);
        if ((r = string_dup(j, "group", true, &l.group)) < 0)
                return r;
        if (!lock_group_is_valid(l.group))
                return -EBADMSG;

        l.holders = calloc(json_array_size(holders) + 1, sizeof(LockHolder));
        if (!l.holders)
                return -ENOMEM;
        json_array_foreach(holders, i, h) {
                LockHolder x;
                r = lock_holder_from_json(h, &x);
                if (r < 0)
                        return r;
                if (lock_record_find(&l, x.id)) {
                        lock_holder_done(&x);
                        return -EBADMSG;
                }
                l.holders[l.n_holders++] = x;
        }
        *ret = l;
        l = (LockRecord) {};
        return 0;
}

const LockHolder *lock_record_find(const LockRecord *l, const char *id) {
        for (size_t i = 0; i < l->n_holders; i++)
                if (streq(l->holders[i].id, id))
                        return &l->holders[i];
        return NULL;
}

static void lock_record_remove_at(LockRecord *l, size_t i) {
        lock_holder_done(&l->holders[i]);
        memmove(&l->holders[i], &l->holders[i + 1], (l->n_holders - i - 1) * sizeof(LockHolder));
        l->n_holders--;
}

int lock_record_expire(LockRecord *l, uint64_t now_usec, uint64_t timeout_usec, char ***ret_expired) {
        _cleanup_strv_free_ char **expired = NULL;
        size_t i = 0;
        int r;

        while (timeout_usec > 0 && i < l->n_holders) {
                const LockHolder *h = &l->holders[i];
                if (now_usec < h->since_usec || now_usec - h->since_usec < timeout_usec) {
                        i++;
                        continue;
                }
                r = strv_extend(&expired, h->id);
                if (r < 0)
                        return r;
                lock_record_remove_at(l, i);
        }
        r = (int) strv_length(expired);
        if (ret_expired)
                *ret_expired = TAKE_PTR(expired);
        return r;
}

int lock_record_acquire(LockRecord *l, const char *id, const char *machine, const char *by, uint64_t now_usec) {
        LockHolder *n;

        if (!lock_holder_id_is_valid(id))
                return -EINVAL;
        if (lock_record_find(l, id))
                return 1;
        if (l->n_holders >= l->max)
                return -EBUSY;
        n = reallocarray(l->holders, l->n_holders + 1, sizeof(LockHolder));
        if (!n)
                return -ENOMEM;
        l->holders = n;
        n = &l->holders[l->n_holders];
        *n = (LockHolder) { .id = strdup(id), .by = by ? strdup(by) : NULL, .since_usec = now_usec };
        if (!n->id || (by && !n->by)) {
                lock_holder_done(n);
                return -ENOMEM;
        }
        if (machine && machine_id_is_valid(machine))
                strcpy(n->machine, machine);
        l->n_holders++;
        return 0;
}

int lock_record_release(LockRecord *l, const char *id) {
        for (size_t i = 0; i < l->n_holders; i++)
                if (streq(l->holders[i].id, id)) {
                        lock_record_remove_at(l, i);
                        return 1;
                }
        return 0;
}
