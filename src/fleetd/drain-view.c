/* SPDX-License-Identifier: Apache-2.0 */
/* A drain as the API sees it (drain-view.h). PURE. */
#include <stdio.h>

#include "drain-view.h"
#include "release.h"
#include "unit-file.h"
#include "unit-options.h"

static const char * const drain_phase_table[_DRAIN_PHASE_MAX] = {
        [DRAIN_PHASE_DRAINING] = "draining",
        [DRAIN_PHASE_DRAINED] = "drained",
        [DRAIN_PHASE_BLOCKED] = "blocked",
};

const char *drain_phase_to_string(DrainPhase p) {
        return p >= 0 && p < _DRAIN_PHASE_MAX ? drain_phase_table[p] : NULL;
}

void drain_status_done(DrainStatus *s) {
        for (size_t i = 0; i < s->n_left; i++) {
                free(s->left[i].unit);
                free(s->left[i].reason);
        }
        free(s->left);
        *s = (DrainStatus) {};
}

int drain_unit_is_global(const char *name, const char *contents) {
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        _cleanup_(unit_options_done) UnitOptions o = {};
        _cleanup_free_ char *error = NULL;
        int r;

        r = unit_file_parse(contents, strlen(contents), name, &uf, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        if (unit_options_parse(uf, name, NULL, &o) < 0)
                return -ENOMEM;
        return o.global;
}

/* The placement record that holds name stuck on machine, or NULL. */
static const PlacementRecord *placement_stuck(const PlacementRecord *p, size_t n, const char *name,
                                              const char *machine) {
        for (size_t i = 0; i < n; i++)
                if (p[i].state == PLACEMENT_STUCK && streq_ptr(p[i].name, name) && streq(p[i].machine, machine))
                        return &p[i];
        return NULL;
}

static int drain_left_fill(DrainLeft *l, const char *name, const PlacementRecord *stuck) {
        l->unit = strdup(name);
        l->app = release_parse_instance_name(name, NULL, NULL, NULL, NULL) >= 0;
        l->stuck = stuck;
        l->reason = stuck ? strdup(strempty(stuck->reason)) : NULL;
        return l->unit && (!stuck || l->reason) ? 0 : -ENOMEM;
}

int drain_status_compute(const char *machine, const ScheduleRecord *schedule, size_t n_schedule,
                         const PlacementRecord *placements, size_t n_placements, DrainStatus *ret) {
        _cleanup_(drain_status_done) DrainStatus s = {};
        int r;

        s.left = calloc(n_schedule + 1, sizeof(DrainLeft));
        if (!s.left)
                return -ENOMEM;
        for (size_t i = 0; i < n_schedule; i++) {
                const ScheduleRecord *u = &schedule[i];
                r = drain_unit_is_global(u->name, u->contents);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                r = drain_left_fill(&s.left[s.n_left++], u->name,
                                    placement_stuck(placements, n_placements, u->name, machine));
                if (r < 0)
                        return r;
                s.n_stuck += s.left[s.n_left - 1].stuck;
        }
        s.phase = s.n_left == 0 ? DRAIN_PHASE_DRAINED :
                  s.n_stuck == s.n_left ? DRAIN_PHASE_BLOCKED : DRAIN_PHASE_DRAINING;
        *ret = s;
        s = (DrainStatus) {};
        return 0;
}

static const char *drain_left_state(const DrainLeft *l) {
        return l->stuck ? "stuck" : l->app ? "replacing" : "moving";
}

static int drain_left_append(json_t *remaining, json_t *blocked, const DrainLeft *l) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s*}", "unit", l->unit, "kind", l->app ? "app" : "unit",
                              "state", drain_left_state(l), "reason", l->reason);
        if (!o || json_array_append_new(remaining, o) < 0)
                return -ENOMEM;
        if (!l->stuck)
                return 0;
        o = json_pack("{s:s, s:s}", "unit", l->unit, "reason", strempty(l->reason));
        return o && json_array_append_new(blocked, o) >= 0 ? 0 : -ENOMEM;
}

json_t *drain_status_to_json(const DrainStatus *s, const char *machine, const DrainRecord *d) {
        json_auto_t *remaining = json_array(), *blocked = json_array(), *o = NULL;

        if (!remaining || !blocked)
                return NULL;
        for (size_t i = 0; i < s->n_left; i++)
                if (drain_left_append(remaining, blocked, &s->left[i]) < 0)
                        return NULL;
        o = json_pack("{s:s, s:b, s:s, s:O, s:O}", "machine", machine, "draining", d != NULL,
                      "state", d ? drain_phase_to_string(s->phase) : "active", "remaining", remaining,
                      "blocked", blocked);
        if (!o)
                return NULL;
        if (d && (json_object_set_new(o, "since", json_integer((json_int_t) d->since_usec)) < 0 ||
                  json_object_set_new(o, "by", d->by ? json_string(d->by) : json_null()) < 0 ||
                  json_object_set_new(o, "force", json_boolean(d->force)) < 0 ||
                  json_object_set_new(o, "source", json_string(strempty(d->source))) < 0))
                return NULL;
        return TAKE_PTR(o);
}

char *drain_status_summary(const DrainStatus *s, size_t max_units) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        if (s->n_left == 0)
                return strdup("nothing left");
        f = open_memstream(&text, &size);
        if (!f)
                return NULL;
        fprintf(f, "%zu unit%s left: ", s->n_left, s->n_left == 1 ? "" : "s");
        for (size_t i = 0; i < s->n_left && i < max_units; i++) {
                const DrainLeft *l = &s->left[i];
                fprintf(f, "%s%s (%s%s%s)", i > 0 ? ", " : "", l->unit, drain_left_state(l),
                        l->reason ? ": " : "", strempty(l->reason));
        }
        if (s->n_left > max_units)
                fprintf(f, ", and %zu more", s->n_left - max_units);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(text);
}

const DrainRecord *drain_find(const DrainRecord *drains, size_t n_drains, const char *id) {
        for (size_t i = 0; i < n_drains; i++)
                if (streq(drains[i].machine, id))
                        return &drains[i];
        return NULL;
}

/* Whether machine id (m: its record, NULL for a drain whose machine is not registered) is
 * what host names, by one rule of machine_resolve(). */
typedef bool (*machine_match_t)(const char *id, const MachineRecord *m, const char *host);

static bool match_hostname(const char *id, const MachineRecord *m, const char *host) {
        return m && streq_ptr(m->hostname, host);
}

static bool match_ip(const char *id, const MachineRecord *m, const char *host) {
        return m && streq_ptr(m->ip, host);
}

static bool match_prefix(const char *id, const MachineRecord *m, const char *host) {
        return startswith(id, host);
}

static bool match_exact(const char *id, const MachineRecord *m, const char *host) {
        return streq(id, host);
}

/* The id that matches by rule match (the last one, if several), their number in *n; a drain
 * of a registered machine is that machine. */
static const char *machine_match(const MachineRecord *machines, size_t n_machines, const DrainRecord *drains,
                                 size_t n_drains, const char *host, machine_match_t match, size_t *n) {
        const char *found = NULL;

        *n = 0;
        for (size_t i = 0; i < n_machines; i++)
                if (match(machines[i].id, &machines[i], host)) {
                        found = machines[i].id;
                        (*n)++;
                }
        for (size_t i = 0; i < n_drains; i++) {
                bool known = false;
                for (size_t k = 0; k < n_machines && !known; k++)
                        known = streq(machines[k].id, drains[i].machine);
                if (!known && match(drains[i].machine, NULL, host)) {
                        found = drains[i].machine;
                        (*n)++;
                }
        }
        return found;
}

int machine_resolve(const MachineRecord *machines, size_t n_machines, const DrainRecord *drains, size_t n_drains,
                    const char *host, char ret_id[static MACHINE_ID_LEN + 1]) {
        static const machine_match_t rules[] = { match_exact, match_hostname, match_ip, match_prefix };

        if (isempty(host))
                return -ENOENT;
        for (size_t r = 0; r < ELEMENTSOF(rules); r++) {
                size_t n;
                const char *id = machine_match(machines, n_machines, drains, n_drains, host, rules[r], &n);
                if (n > 1)
                        return -ENOTUNIQ;
                if (n == 1) {
                        strcpy(ret_id, id);
                        return 0;
                }
        }
        return -ENOENT;
}

bool drain_is_last_schedulable(const MachineRecord *machines, size_t n_machines, const DrainRecord *drains,
                               size_t n_drains, const char *id) {
        if (drain_find(drains, n_drains, id))
                return false;
        for (size_t i = 0; i < n_machines; i++)
                if (!streq(machines[i].id, id) && !drain_find(drains, n_drains, machines[i].id))
                        return false;
        return true;
}
