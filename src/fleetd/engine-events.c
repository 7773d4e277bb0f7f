/* SPDX-License-Identifier: Apache-2.0 */
/* The engine leader's events and metrics (engine-events.h). */
#include <stdio.h>

#include "basic/json-util.h"
#include "engine-events.h"
#include "event-log.h"
#include "metrics.h"
#include "registry.h"
#include "unit-state.h"

static MetricFamily m_placements = METRIC_COUNTER("placements_total",
                                                  "Units the engine leader placed on a machine where they had no "
                                                  "schedule entry, by reason.", "reason");
static MetricFamily m_moves = METRIC_COUNTER("unit_moves_total",
                                             "Units the engine leader moved from one machine to another, by reason.",
                                             "reason");
static MetricFamily m_passes = METRIC_COUNTER("scheduling_passes_total", "Scheduling passes of the engine leader.");
static MetricFamily m_pass_duration = METRIC_HISTOGRAM("scheduling_pass_duration_seconds",
                                                       "How long a scheduling pass (plan and diff) took.",
                                                       metric_buckets_latency);
static MetricFamily m_leader = METRIC_GAUGE("engine_leader", "1 while this fleetd leads the engine.");
static MetricFamily m_machines = METRIC_GAUGE("machines", "Machines by state (the engine leader only).", "state");
static MetricFamily m_units = METRIC_GAUGE("units", "Units by desired state (the engine leader only).",
                                           "desired_state");

void engine_moves_done(EngineMoves *m) {
        for (size_t i = 0; i < m->n_moves; i++) {
                free(m->moves[i].unit);
                free(m->moves[i].from);
                free(m->moves[i].to);
        }
        free(m->moves);
        *m = (EngineMoves) {};
}

const char *engine_move_reason(const MachineRecord *from, bool draining) {
        if (!from)
                return "host_lost";
        if (draining || from->state == MACHINE_DRAINING)
                return "drain";
        return "constraint_change";
}

static char *pair_key(const char *machine, const char *name) {
        char *k;
        return asprintf(&k, "%s/%s", machine, name) < 0 ? NULL : k;
}

static int moves_add(EngineMoves *m, size_t change, const char *unit, const char *from, const char *to,
                     const char *reason) {
        EngineMove *a = realloc(m->moves, (m->n_moves + 1) * sizeof(EngineMove));

        if (!a)
                return -ENOMEM;
        m->moves = a;
        a[m->n_moves] = (EngineMove) { strdup(unit), from ? strdup(from) : NULL, strdup(to), reason, change };
        if (!a[m->n_moves].unit || !a[m->n_moves].to || (from && !a[m->n_moves].from)) {
                m->n_moves++;
                return -ENOMEM;
        }
        m->n_moves++;
        return 0;
}

/* The machines a unit leaves (DELETEs), by unit; and which machine/unit pairs existed. */
static int moves_index(const EngineEntry *entries, size_t n_entries, const EngineDiff *diff, Hashmap *existing,
                       Hashmap *removed) {
        for (size_t i = 0; i < n_entries; i++) {
                _cleanup_free_ char *k = pair_key(entries[i].machine, entries[i].name);
                if (!k || hashmap_put(existing, k, (void *) entries[i].name) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < diff->n_changes; i++)
                if (diff->changes[i].type == ENGINE_CHANGE_DELETE &&
                    hashmap_put(removed, diff->changes[i].name, (void *) diff->changes[i].machine) < 0)
                        return -ENOMEM;
        return 0;
}

int engine_moves(const EngineEntry *entries, size_t n_entries, const EngineDiff *diff, const Hashmap *machines,
                 const Hashmap *drains, EngineMoves *ret) {
        _cleanup_(hashmap_freep) Hashmap *existing = hashmap_new(NULL), *removed = hashmap_new(NULL);
        _cleanup_(engine_moves_done) EngineMoves m = {};
        int r;

        if (!existing || !removed)
                return -ENOMEM;
        r = moves_index(entries, n_entries, diff, existing, removed);
        if (r < 0)
                return r;
        for (size_t i = 0; i < diff->n_changes; i++) {
                const EngineChange *c = &diff->changes[i];
                _cleanup_free_ char *k = pair_key(c->machine, c->name);
                if (!k)
                        return -ENOMEM;
                if (c->type != ENGINE_CHANGE_PUT || hashmap_get(existing, k))
                        continue;     /* a removal, or an update where it is */
                const char *from = hashmap_remove(removed, c->name);
                if (from)
                        r = moves_add(&m, i, c->name, from, c->machine,
                                      engine_move_reason(hashmap_get(machines, from), drains && hashmap_get(drains, from)));
                else
                        r = moves_add(&m, i, c->name, NULL, c->machine, "new");
                if (r < 0)
                        return r;
        }
        engine_moves_done(ret);
        *ret = m;
        m = (EngineMoves) {};
        return 0;
}

static const char *reason_text(const char *reason) {
        return streq(reason, "host_lost") ? "its machine is gone" : streq(reason, "drain") ? "its machine drains" :
               "its machine no longer fits it";
}

void engine_moves_emit(EngineMoves *m, size_t written) {
        for (; m->told < m->n_moves && m->moves[m->told].change < written; m->told++) {
                const EngineMove *v = &m->moves[m->told];
                json_auto_t *d = json_pack("{s:s, s:s*, s:s}", "to", v->to, "from", v->from, "reason", v->reason);

                if (!v->from) {
                        metric_inc(&m_placements, METRIC_LABELS(v->reason));
                        event_emitf(&(Event) { .kind = "unit.placed", .by = EVENT_BY_ENGINE, .unit = v->unit,
                                               .machine = v->to, .details = d, .bulk = true },
                                    "placed on %.8s", v->to);
                        continue;
                }
                metric_inc(&m_moves, METRIC_LABELS(v->reason));
                event_emitf(&(Event) { .kind = "unit.move", .by = EVENT_BY_ENGINE, .unit = v->unit, .machine = v->to,
                                       .details = d, .bulk = true },
                            "moved from %.8s to %.8s: %s", v->from, v->to, reason_text(v->reason));
        }
}

void engine_machine_event(const Hashmap *known, const char *key, const char *value) {
        _cleanup_(machine_record_done) MachineRecord rec = {};
        const char *slash = strrchr(key, '/'), *id = slash ? slash + 1 : key;
        const MachineRecord *old = hashmap_get(known, id);

        if (!value) {
                if (old)
                        event_emitf(&(Event) { .kind = "machine.left", .by = EVENT_BY_ENGINE, .machine = id, .bulk = true },
                                    "%s (%s) left: its lease expired; its units are placed again", strna(old->hostname),
                                    strna(old->ip));
                return;
        }
        json_auto_t *j = json_loads(value, 0, NULL);
        if (machine_record_from_json(j, &rec) < 0)
                return;
        if (!old)
                event_emitf(&(Event) { .kind = "machine.joined", .by = EVENT_BY_ENGINE, .machine = rec.id, .bulk = true },
                            "%s (%s) joined", strna(rec.hostname), strna(rec.ip));
        else if (old->boot_id && rec.boot_id && !streq(old->boot_id, rec.boot_id))
                event_emitf(&(Event) { .kind = "machine.rebooted", .by = EVENT_BY_ENGINE, .machine = rec.id, .bulk = true },
                            "%s rebooted (boot id %.8s)", strna(rec.hostname), rec.boot_id);
}

void engine_pass_done(usec_t duration) {
        metric_inc(&m_passes, NULL);
        metric_observe(&m_pass_duration, (double) duration / USEC_PER_SEC, NULL);
}

void engine_leader_changed(bool leader, const char *machine_id) {
        metric_set(&m_leader, leader ? 1 : 0, NULL);
        if (leader)
                event_emit(&(Event) { .kind = "engine.leader", .by = EVENT_BY_ENGINE, .machine = machine_id,
                                      .message = "this machine leads the engine now" });
}

void engine_collect_machines(const Hashmap *machines, bool leader) {
        size_t i = 0, n[_MACHINE_STATE_MAX] = {};
        void *v;

        metric_clear(&m_machines);
        if (!leader)
                return;
        while (hashmap_iterate(machines, &i, NULL, &v))
                if (((const MachineRecord *) v)->state >= 0 && ((const MachineRecord *) v)->state < _MACHINE_STATE_MAX)
                        n[((const MachineRecord *) v)->state]++;
        for (int s = 0; s < _MACHINE_STATE_MAX; s++)
                metric_set(&m_machines, (double) n[s], METRIC_LABELS(machine_state_to_string(s)));
}

void engine_collect_units(size_t n_by_state[], size_t n_states, bool leader) {
        metric_clear(&m_units);
        if (!leader)
                return;
        for (size_t s = 0; s < n_states; s++)
                metric_set(&m_units, (double) n_by_state[s], METRIC_LABELS(unit_desired_state_to_string(s)));
}
