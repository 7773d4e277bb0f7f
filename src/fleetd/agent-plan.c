/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "agent-plan.h"

static const char * const action_table[_AGENT_ACTION_MAX] = {
        [AGENT_STOP] = "stop",
        [AGENT_REMOVE] = "remove",
        [AGENT_WRITE] = "write",
        [AGENT_RELOAD] = "reload",
        [AGENT_START] = "start",
        [AGENT_RESTART] = "restart",
};

const char *agent_action_type_to_string(AgentActionType t) {
        return t < _AGENT_ACTION_MAX ? action_table[t] : NULL;
}

static bool is_running(const char *active_state) {
        return streq_ptr(active_state, "active") || streq_ptr(active_state, "activating") ||
               streq_ptr(active_state, "reloading");
}

static int cmp_actual(const void *a, const void *b) {
        return strcmp(((const AgentActual *) a)->name, ((const AgentActual *) b)->name);
}

static int cmp_desired(const void *a, const void *b) {
        return strcmp(((const AgentDesired *) a)->name, ((const AgentDesired *) b)->name);
}

static const AgentActual *find_actual(const AgentActual *sorted, size_t n, const char *name) {
        AgentActual key = { .name = name };
        return bsearch(&key, sorted, n, sizeof(*sorted), cmp_actual);
}

static const AgentDesired *find_desired(const AgentDesired *sorted, size_t n, const char *name) {
        AgentDesired key = { .name = name };
        const AgentDesired *d = bsearch(&key, sorted, n, sizeof(*sorted), cmp_desired);
        return d && d->state != UNIT_INACTIVE ? d : NULL;
}

static void push(AgentPlan *p, AgentActionType type, const char *name) {
        p->actions[p->n_actions++] = (AgentAction) { type, name };
}

int agent_plan(const AgentDesired *desired, size_t n_desired, const AgentActual *actual, size_t n_actual,
               AgentPlan *ret) {
        _cleanup_free_ AgentDesired *ds = malloc(sizeof(*ds) * (n_desired ?: 1));
        _cleanup_free_ AgentActual *as = malloc(sizeof(*as) * (n_actual ?: 1));
        /* every unit gives at most two actions, plus one reload */
        AgentPlan p = { .actions = malloc(sizeof(AgentAction) * (2 * (n_desired + n_actual) + 1)) };
        bool reload = false;

        if (!ds || !as || !p.actions) {
                free(p.actions);
                return -ENOMEM;
        }
        memcpy(ds, desired, sizeof(*ds) * n_desired);
        memcpy(as, actual, sizeof(*as) * n_actual);
        qsort(ds, n_desired, sizeof(*ds), cmp_desired);
        qsort(as, n_actual, sizeof(*as), cmp_actual);

        /* 1, 2: what runs or exists but should not */
        for (size_t i = 0; i < n_actual; i++) {
                const AgentDesired *d = find_desired(ds, n_desired, as[i].name);
                if (is_running(as[i].active_state) && (!d || d->state == UNIT_LOADED))
                        push(&p, AGENT_STOP, as[i].name);
        }
        for (size_t i = 0; i < n_actual; i++)
                if (!find_desired(ds, n_desired, as[i].name)) {
                        push(&p, AGENT_REMOVE, as[i].name);
                        reload = true;
                }

        /* 3: files missing or out of date */
        for (size_t i = 0; i < n_desired; i++) {
                if (ds[i].state == UNIT_INACTIVE)
                        continue;
                const AgentActual *a = find_actual(as, n_actual, ds[i].name);
                if (!a || !streq_ptr(a->hash, ds[i].hash)) {
                        push(&p, AGENT_WRITE, ds[i].name);
                        reload = true;
                }
        }

        /* 4, 5 */
        if (reload)
                push(&p, AGENT_RELOAD, NULL);
        for (size_t i = 0; i < n_desired; i++) {
                if (ds[i].state != UNIT_LAUNCHED)
                        continue;
                const AgentActual *a = find_actual(as, n_actual, ds[i].name);
                bool running = a && is_running(a->active_state);
                if (!running)
                        push(&p, AGENT_START, ds[i].name);
                else if (!streq_ptr(a->hash, ds[i].hash))
                        push(&p, AGENT_RESTART, ds[i].name);
        }

        /* The names point at the callers' strings: the sorted copies hold the same pointers. */
        *ret = p;
        return 0;
}

void agent_plan_done(AgentPlan *p) {
        free(p->actions);
        *p = (AgentPlan) {};
}
