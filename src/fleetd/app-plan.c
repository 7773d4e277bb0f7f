/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "app-plan.h"
#include "basic/macros.h"

typedef struct Group {
        const AppInstance **items;
        size_t n;
} Group;

/* Unhealthy before healthy, then by index (ascending, or descending for "newest first"). */
static int cmp_for_removal(const AppInstance *a, const AppInstance *b, bool newest_first) {
        static const int rank[] = { [INSTANCE_FAILED] = 0, [INSTANCE_STARTING] = 1, [INSTANCE_HEALTHY] = 2 };
        if (rank[a->health] != rank[b->health])
                return rank[a->health] - rank[b->health];
        if (a->index == b->index)
                return 0;
        return (a->index < b->index) == newest_first ? 1 : -1;
}

static int cmp_oldest(const void *x, const void *y) {
        return cmp_for_removal(*(const AppInstance * const *) x, *(const AppInstance * const *) y, false);
}

static int cmp_newest(const void *x, const void *y) {
        return cmp_for_removal(*(const AppInstance * const *) x, *(const AppInstance * const *) y, true);
}

static size_t count_healthy(const Group *g, size_t from) {
        size_t n = 0;
        for (size_t i = from; i < g->n; i++)
                n += g->items[i]->health == INSTANCE_HEALTHY;
        return n;
}

static bool new_instance_failed(const AppTarget *t, const AppInstance *i, AppPlan *p) {
        const char *why = NULL;

        if (i->health == INSTANCE_FAILED)
                why = "failed";
        else if (i->health == INSTANCE_STARTING && t->now > i->created && t->now - i->created > t->deadline)
                why = "did not become healthy in time";
        if (!why)
                return false;
        if (!p->failed) {
                p->failed = true;
                if (asprintf(&p->reason, "%s %s%s%s", i->unit, why, i->reason ? ": " : "", strempty(i->reason)) < 0)
                        p->reason = NULL;
        }
        return true;
}

static const AppProcessTarget *find_process(const AppTarget *t, const char *name) {
        for (size_t i = 0; i < t->n_processes; i++)
                if (streq(t->processes[i].process, name))
                        return &t->processes[i];
        return NULL;
}

/* Why the process's evicted instances cannot be replaced now: its first kept new instance that
 * failed, is late, or cannot be placed. 0 with *ret NULL if none; -ENOMEM. */
static int replacement_obstacle(const AppTarget *t, const Group *nw, size_t first_new, char **ret) {
        for (size_t i = first_new; i < nw->n; i++) {
                const AppInstance *n = nw->items[i];
                int r = 0;

                if (n->unschedulable)
                        r = asprintf(ret, "replacement %s cannot be placed: %s", n->unit, n->unschedulable);
                else if (n->health == INSTANCE_FAILED)
                        r = asprintf(ret, "replacement %s failed", n->unit);
                else if (n->health == INSTANCE_STARTING && t->now > n->created && t->now - n->created > t->deadline)
                        r = asprintf(ret, "replacement %s did not become healthy in time", n->unit);
                else
                        continue;
                return r < 0 ? -ENOMEM : 0;
        }
        *ret = NULL;
        return 0;
}

/* The evicted old instances that remain (old->items[from..]): blocked while a replacement is in
 * trouble, or removed when forced. */
static int plan_blocked(const AppTarget *t, const Group *nw, size_t first_new, const Group *old, size_t from,
                        AppPlan *p) {
        _cleanup_free_ char *why = NULL;
        int r;

        r = replacement_obstacle(t, nw, first_new, &why);
        if (r < 0 || !why)
                return r;
        for (size_t i = from; i < old->n; i++) {
                const AppInstance *o = old->items[i];

                if (!o->evict)
                        continue;
                if (o->force) {
                        p->removes[p->n_removes++] = o->unit;
                        continue;
                }
                char *reason = strdup(why);
                if (!reason)
                        return -ENOMEM;
                p->blocked[p->n_blocked++] = (AppBlocked) { o->unit, reason };
        }
        return 0;
}

/* One process: splits its instances into new and old, then decides. */
static int plan_process(const AppTarget *t, const AppProcessTarget *pt, const AppInstance *inst, size_t n_inst,
                        Group *nw, Group *old, AppPlan *p, unsigned *next_index, bool *all_done) {
        unsigned surge = t->max_surge, unavail = t->max_unavailable, n = pt->scale;

        if (surge == 0 && unavail == 0)
                surge = 1;    /* otherwise a rollout could never make progress */
        nw->n = old->n = 0;
        for (size_t i = 0; i < n_inst; i++) {
                if (!streq(inst[i].process, pt->process))
                        continue;
                bool is_new = inst[i].release == t->release && inst[i].index >= pt->restart_below && !inst[i].evict;
                Group *g = is_new ? nw : old;
                g->items[g->n++] = &inst[i];
        }
        qsort(nw->items, nw->n, sizeof(AppInstance *), cmp_newest);
        qsort(old->items, old->n, sizeof(AppInstance *), cmp_oldest);

        /* surplus new instances: scale down */
        size_t keep_new = MIN(nw->n, (size_t) n), first_new = nw->n - keep_new;
        for (size_t i = 0; i < first_new; i++)
                p->removes[p->n_removes++] = nw->items[i]->unit;

        bool failing = false;
        for (size_t i = first_new; i < nw->n; i++)
                failing = new_instance_failed(t, nw->items[i], p) || failing;

        /* old instances first (unhealthy first, oldest first), so their room goes to new ones */
        size_t healthy_new = count_healthy(nw, first_new), removed = 0;
        size_t healthy_old = count_healthy(old, 0);
        size_t floor = n > unavail ? n - unavail : 0;
        for (size_t i = 0; i < old->n; i++) {
                const AppInstance *o = old->items[i];
                size_t remaining = old->n - removed - 1;
                bool ok;
                if (o->health != INSTANCE_HEALTHY)
                        /* it serves nothing: drop it once replacements keep the count up */
                        ok = keep_new + remaining >= n || healthy_new >= n;
                else
                        ok = healthy_new + healthy_old - 1 >= floor || healthy_new >= n;
                if (!ok)
                        break;
                if (o->health == INSTANCE_HEALTHY)
                        healthy_old--;
                p->removes[p->n_removes++] = o->unit;
                removed++;
        }
        /* then new ones, as far as max_surge lets us beside the old ones that remain */
        size_t old_left = old->n - removed;
        if (!failing && !p->failed && keep_new < n && keep_new + old_left < (size_t) n + surge) {
                size_t k = MIN((size_t) n - keep_new, (size_t) n + surge - keep_new - old_left);
                for (size_t i = 0; i < k; i++)
                        p->creates[p->n_creates++] = (AppCreate) { pt->process, (*next_index)++ };
        }
        if (keep_new != n || healthy_new != n || old_left > 0)
                *all_done = false;
        return plan_blocked(t, nw, first_new, old, removed, p);
}

int app_plan(const AppTarget *t, const AppInstance *inst, size_t n_inst, AppPlan *ret) {
        size_t total_scale = 0;

        assert(t);
        assert(inst || n_inst == 0);
        assert(ret);
        for (size_t i = 0; i < t->n_processes; i++)
                total_scale += t->processes[i].scale;

        _cleanup_free_ const AppInstance **a = calloc(n_inst + 1, sizeof(AppInstance *));
        _cleanup_free_ const AppInstance **b = calloc(n_inst + 1, sizeof(AppInstance *));
        _cleanup_(app_plan_done) AppPlan p = {
                .creates = calloc(total_scale + 1, sizeof(AppCreate)),
                .removes = calloc(n_inst + 1, sizeof(char *)),
                .blocked = calloc(n_inst + 1, sizeof(AppBlocked)),
        };
        if (!a || !b || !p.creates || !p.removes || !p.blocked)
                return -ENOMEM;

        Group nw = { a, 0 }, old = { b, 0 };
        unsigned next = t->next_index;
        bool done = true;
        for (size_t i = 0; i < t->n_processes; i++) {
                int r = plan_process(t, &t->processes[i], inst, n_inst, &nw, &old, &p, &next, &done);
                if (r < 0)
                        return r;
        }

        /* processes the target release no longer has */
        for (size_t i = 0; i < n_inst; i++)
                if (!find_process(t, inst[i].process)) {
                        p.removes[p.n_removes++] = inst[i].unit;
                        done = false;
                }
        p.done = done && !p.failed;
        *ret = p;
        p = (AppPlan) {};
        return 0;
}

void app_plan_done(AppPlan *p) {
        free(p->creates);
        free(p->removes);
        for (size_t i = 0; i < p->n_blocked; i++)
                free(p->blocked[i].reason);
        free(p->blocked);
        free(p->reason);
        *p = (AppPlan) {};
}

InstanceHealth app_instance_health(const StateRecord *s, const ProcessType *p) {
        bool checked = p && p->health.enabled && p->port > 0;

        if (!s)
                return INSTANCE_STARTING;
        if (streq_ptr(s->active, "failed") || streq_ptr(s->sub, "auto-restart") ||
            (checked && streq_ptr(s->health, "failing")))
                return INSTANCE_FAILED;
        if (streq_ptr(s->active, "active") && (!checked || streq_ptr(s->health, "passing")))
                return INSTANCE_HEALTHY;
        return INSTANCE_STARTING;
}

AppRolloutStep app_rollout_step(const AppRecord *rec, const AppPlan *plan) {
        assert(rec);
        assert(plan);

        if (rec->rollout != ROLLOUT_ROLLING)
                return APP_ROLLOUT_KEEP;
        if (plan->failed)
                return rec->rollout_from > 0 && !rec->rollback_of ? APP_ROLLOUT_ROLL_BACK : APP_ROLLOUT_FAIL;
        return plan->done ? APP_ROLLOUT_DONE : APP_ROLLOUT_KEEP;
}

/* Replaces the record's message; -ENOMEM leaves it as it was. */
static int set_message(AppRecord *rec, const char *format, ...) _printf_(2, 3);
static int set_message(AppRecord *rec, const char *format, ...) {
        char *m;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&m, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        free(rec->message);
        rec->message = m;
        return 0;
}

/* why: "failed: <the plan's reason>". */
static int rollout_roll_back(AppRecord *rec, const char *why, char **ret_cause) {
        unsigned failed = rec->release, to = rec->latest + 1;
        _cleanup_free_ char *cause = NULL;

        if (asprintf(&cause, "automatic rollback to v%u: v%u %s", rec->rollout_from, failed, why) < 0)
                return -ENOMEM;
        if (set_message(rec, "v%u %s; rolling back to v%u (a copy of v%u)", failed, why, to, rec->rollout_from) < 0)
                return -ENOMEM;
        rec->rollback_of = failed;
        rec->rollout_from = failed;
        rec->release = rec->latest = to;
        rec->rollout = ROLLOUT_ROLLING;
        *ret_cause = TAKE_PTR(cause);
        return 0;
}

static int rollout_move(AppRecord *rec, const AppPlan *plan, AppRolloutStep step, char **ret_cause) {
        _cleanup_free_ char *why = NULL;

        if (step == APP_ROLLOUT_KEEP)
                return 0;
        if (step == APP_ROLLOUT_DONE) {
                rec->rollout = rec->rollback_of ? ROLLOUT_FAILED : ROLLOUT_DONE;
                return rec->rollback_of ? 0 : set_message(rec, "v%u is running", rec->release);
        }
        assert(step == APP_ROLLOUT_ROLL_BACK || step == APP_ROLLOUT_FAIL);
        if (asprintf(&why, "failed: %s", strna(plan->reason)) < 0)
                return -ENOMEM;
        if (step == APP_ROLLOUT_ROLL_BACK)
                return rollout_roll_back(rec, why, ret_cause);
        rec->rollout = ROLLOUT_FAILED;
        return set_message(rec, "v%u %s; nothing to roll back to", rec->release, why);
}

int app_rollout_advance(const AppRecord *rec, const AppTarget *t, const AppPlan *plan, AppRolloutStep step,
                        AppRecord *ret, char **ret_cause) {
        _cleanup_(app_record_done) AppRecord next = {};
        _cleanup_free_ char *cause = NULL;
        int r;

        assert(rec);
        assert(t);
        assert(plan);
        assert(ret);
        assert(ret_cause);

        r = app_record_copy(rec, &next);
        if (r < 0)
                return r;
        next.next_index = t->next_index + plan->n_creates;
        r = rollout_move(&next, plan, step, &cause);
        if (r < 0)
                return r;
        *ret = next;
        next = (AppRecord) {};
        *ret_cause = TAKE_PTR(cause);
        return 0;
}
