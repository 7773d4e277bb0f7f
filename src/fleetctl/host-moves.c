/* SPDX-License-Identifier: Apache-2.0 */
/* What moved while a machine drained or the cluster rebalanced (see host-moves.h). */
#include <stdio.h>

#include "app-instances.h"
#include "basic/json-util.h"
#include "basic/strv.h"
#include "host-moves.h"

void move_tracker_done(MoveTracker *t) {
        for (size_t i = 0; i < t->n_units; i++) {
                free(t->units[i].name);
                free(t->units[i].to);
        }
        for (size_t i = 0; i < t->n_instances; i++) {
                free(t->instances[i].unit);
                free(t->instances[i].app);
                free(t->instances[i].process);
                free(t->instances[i].machine);
        }
        free(t->units);
        free(t->instances);
        free(t->host);
        strv_free(t->apps);
        json_decref(t->claimed);
        *t = (MoveTracker) {};
}

static bool unit_is_on(const json_t *u, const char *machine) {
        const json_t *m;
        size_t i;

        json_array_foreach(json_object_get(u, "machines"), i, m)
                if (streq_ptr(json_string_value(m), machine))
                        return true;
        return false;
}

static bool unit_is_plain(const json_t *u) {
        return isempty(jx_str(u, "app"));
}

int move_tracker_drain_apps(const json_t *units, const char *host, char ***ret) {
        _cleanup_strv_free_ char **apps = calloc(1, sizeof(char *));
        const json_t *u;
        size_t i;

        if (!apps)
                return -ENOMEM;
        json_array_foreach(units, i, u) {
                const char *app = jx_str(u, "app");

                if (isempty(app) || !unit_is_on(u, host) || strv_contains(apps, app))
                        continue;
                if (strv_extend(&apps, app) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(apps);
        return 0;
}

static int tracker_add_unit(MoveTracker *t, const char *name) {
        TrackedUnit *a = realloc(t->units, (t->n_units + 1) * sizeof(TrackedUnit));

        if (!a)
                return -ENOMEM;
        t->units = a;
        a[t->n_units] = (TrackedUnit) { .name = strdup(name), .left_usec = t->look };
        if (!a[t->n_units].name)
                return -ENOMEM;
        t->n_units++;
        return 0;
}

static bool instance_is_healthy(const json_t *i) {
        return streq_ptr(instance_health(i), "healthy");
}

static int tracker_add_instance(MoveTracker *t, const char *app, const json_t *i, bool old) {
        TrackedInstance *a = realloc(t->instances, (t->n_instances + 1) * sizeof(TrackedInstance));
        TrackedInstance *x;

        if (!a)
                return -ENOMEM;
        t->instances = a;
        x = &a[t->n_instances];
        *x = (TrackedInstance) {
                .unit = strdup(strempty(jx_str(i, "unit"))),
                .app = strdup(app),
                .process = strdup(strempty(jx_str(i, "process"))),
                .machine = strdup(strempty(jx_str(i, "machine"))),
                .index = jx_int64(i, "index", 0),
                .old = old,
                .present = true,
                .healthy = instance_is_healthy(i),
                .appeared_usec = t->previous_look,
                .healthy_usec = t->look,
        };
        t->n_instances++;   /* freed by move_tracker_done() even if a copy failed */
        return x->unit && x->app && x->process && x->machine ? 0 : -ENOMEM;
}

static int tracker_add_app(MoveTracker *t, const json_t *app) {
        const char *name = jx_str(app, "name");
        const json_t *i;
        size_t k;
        int r;

        if (isempty(name) || strv_contains(t->apps, name))
                return 0;
        if (strv_extend(&t->apps, name) < 0)
                return -ENOMEM;
        json_array_foreach(json_object_get(app, "instances"), k, i) {
                r = tracker_add_instance(t, name, i, true);
                if (r < 0)
                        return r;
        }
        return 0;
}

int move_tracker_init(MoveTracker *t, MoveMode mode, const char *host, const json_t *units, const json_t *apps,
                      json_t *claimed, usec_t now) {
        const json_t *u, *a;
        size_t i;
        int r;

        *t = (MoveTracker) { .mode = mode, .previous_look = now, .look = now };
        t->host = strdup(host);
        t->apps = calloc(1, sizeof(char *));
        t->claimed = claimed ? json_incref(claimed) : json_object();
        if (!t->host || !t->apps || !t->claimed)
                return -ENOMEM;
        if (mode == MOVES_DRAIN)
                json_array_foreach(units, i, u)
                        if (unit_is_plain(u) && unit_is_on(u, host) && jx_str(u, "name")) {
                                r = tracker_add_unit(t, jx_str(u, "name"));
                                if (r < 0)
                                        return r;
                        }
        json_array_foreach(apps, i, a) {
                r = tracker_add_app(t, a);
                if (r < 0)
                        return r;
        }
        return 0;
}

void move_tracker_begin_look(MoveTracker *t, usec_t now) {
        t->previous_look = t->look;
        t->look = now;
}

static const json_t *unit_find(const json_t *units, const char *name) {
        const json_t *u;
        size_t i;

        json_array_foreach(units, i, u)
                if (streq_ptr(jx_str(u, "name"), name))
                        return u;
        return NULL;
}

/* One followed unit against the look: still there, gone elsewhere, or scheduled nowhere. */
static int tracked_unit_see(MoveTracker *t, TrackedUnit *u, const json_t *units) {
        const json_t *x = unit_find(units, u->name);
        const json_t *machines = json_object_get(x, "machines");

        if (!x) {
                u->done = true;   /* destroyed meanwhile: nothing to tell */
                return 0;
        }
        u->gone = json_array_size(machines) == 0;
        if (unit_is_on(x, t->host) || u->gone) {
                if (!u->gone)
                        u->left_usec = t->look;
                return free_and_strdup(&u->to, NULL);
        }
        return free_and_strdup(&u->to, json_string_value(json_array_get(machines, 0)));
}

void move_tracker_see_units(MoveTracker *t, const json_t *units) {
        for (size_t i = 0; i < t->n_units; i++)
                if (!t->units[i].done && tracked_unit_see(t, &t->units[i], units) < 0)
                        t->units[i].done = true;   /* out of memory: give up on telling it */
}

bool move_tracker_unit_moving(const MoveTracker *t, size_t i) {
        return i < t->n_units && !t->units[i].done && t->units[i].to;
}

int move_tracker_see_state(MoveTracker *t, size_t i, const json_t *states, Move *ret) {
        TrackedUnit *u = &t->units[i];
        const json_t *s;
        size_t k;

        if (!move_tracker_unit_moving(t, i))
                return 0;
        json_array_foreach(states, k, s) {
                const char *active = jx_str(s, "active");

                if (!streq_ptr(jx_str(s, "machine"), u->to) ||
                    !(streq_ptr(active, "active") || streq_ptr(active, "failed")))
                        continue;
                u->done = true;
                t->moved++;
                *ret = (Move) { .kind = MOVE_UNIT, .unit = u->name, .from = t->host, .to = u->to,
                                .result = streq(active, "active") ? "active" : "failed",
                                .after = t->look - MIN(u->left_usec, t->look) };
                return 1;
        }
        return 0;
}

static TrackedInstance *instance_find(MoveTracker *t, const char *unit) {
        for (size_t i = 0; i < t->n_instances; i++)
                if (streq(t->instances[i].unit, unit))
                        return &t->instances[i];
        return NULL;
}

/* Brings the followed instances of app up to this look. */
static int tracker_see_instances(MoveTracker *t, const char *app, const json_t *instances) {
        const json_t *i;
        size_t k;
        int r;

        for (size_t n = 0; n < t->n_instances; n++)
                if (streq(t->instances[n].app, app))
                        t->instances[n].present = false;
        json_array_foreach(instances, k, i) {
                TrackedInstance *x = instance_find(t, strempty(jx_str(i, "unit")));

                if (!x) {
                        r = tracker_add_instance(t, app, i, false);
                        if (r < 0)
                                return r;
                        continue;
                }
                x->present = true;
                if (!x->healthy && instance_is_healthy(i)) {
                        x->healthy = true;
                        x->healthy_usec = t->look;
                }
                r = free_and_strdup(&x->machine, strempty(jx_str(i, "machine")));
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool is_replacement(const MoveTracker *t, const TrackedInstance *x, const char *app) {
        return !x->old && !x->paired && x->healthy && streq(x->app, app) && !json_object_get(t->claimed, x->unit) &&
               (t->mode != MOVES_DRAIN || !streq(x->machine, t->host));
}

/* Replacements in the order they became healthy, then by index. */
static int compare_replacements(const void *a, const void *b) {
        const TrackedInstance *x = *(TrackedInstance * const *) a, *y = *(TrackedInstance * const *) b;

        if (x->healthy_usec != y->healthy_usec)
                return x->healthy_usec < y->healthy_usec ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* What new replaces: an instance of the start, of the same app and process, that went away
 * (from the draining machine, for a drain); the lowest index first. */
static TrackedInstance *replaced_by(MoveTracker *t, const TrackedInstance *new) {
        TrackedInstance *best = NULL;

        for (size_t n = 0; n < t->n_instances; n++) {
                TrackedInstance *x = &t->instances[n];

                if (!x->old || x->paired || x->present || !streq(x->app, new->app) ||
                    !streq(x->process, new->process))
                        continue;
                if (t->mode == MOVES_DRAIN && !streq(x->machine, t->host))
                        continue;
                if (!best || x->index < best->index)
                        best = x;
        }
        return best;
}

int move_tracker_see_app(MoveTracker *t, const json_t *app, Move **ret_moves, size_t *ret_n) {
        _cleanup_free_ TrackedInstance **news = NULL;
        _cleanup_free_ Move *moves = NULL;
        const char *name = jx_str(app, "name");
        size_t n_news = 0, n = 0;
        int r;

        *ret_moves = NULL;
        *ret_n = 0;
        if (isempty(name) || !strv_contains(t->apps, name))
                return 0;
        r = tracker_see_instances(t, name, json_object_get(app, "instances"));
        if (r < 0)
                return r;
        news = calloc(t->n_instances + 1, sizeof(TrackedInstance *));
        moves = calloc(t->n_instances + 1, sizeof(Move));
        if (!news || !moves)
                return -ENOMEM;
        for (size_t k = 0; k < t->n_instances; k++)
                if (is_replacement(t, &t->instances[k], name))
                        news[n_news++] = &t->instances[k];
        qsort(news, n_news, sizeof(TrackedInstance *), compare_replacements);
        /* A replacement without an instance to replace yet waits for a later look. */
        for (size_t k = 0; k < n_news; k++) {
                TrackedInstance *new = news[k], *old = replaced_by(t, new);

                if (!old)
                        continue;
                if (json_object_set_new(t->claimed, new->unit, json_true()) < 0)
                        return -ENOMEM;
                old->paired = new->paired = true;
                t->moved++;
                moves[n++] = (Move) { .kind = MOVE_INSTANCE, .unit = old->unit, .from = old->machine,
                                      .new_unit = new->unit, .to = new->machine, .result = "healthy",
                                      .after = new->healthy_usec - MIN(new->appeared_usec, new->healthy_usec) };
        }
        if (n > 0) {
                *ret_moves = TAKE_PTR(moves);
                *ret_n = n;
        }
        return 0;
}

static const char *machine_name(const json_t *names, const char *id, char *buf, size_t size) {
        const char *name = json_string_value(json_object_get(names, strempty(id)));

        if (name)
                return name;
        snprintf(buf, size, "%.8s%s", strempty(id), strlen(strempty(id)) > 8 ? "..." : "");
        return buf;
}

char *move_format(const Move *m, const json_t *names) {
        char from_buf[16], to_buf[16], *s;
        const char *from = machine_name(names, m->from, from_buf, sizeof(from_buf));
        const char *to = machine_name(names, m->to, to_buf, sizeof(to_buf));
        double after = (double) m->after / USEC_PER_SEC;
        int r;

        if (m->kind == MOVE_UNIT)
                r = asprintf(&s, "%s  %s -> %s  %s after %.1fs", m->unit, from, to, m->result, after);
        else
                r = asprintf(&s, "%s on %s -> %s on %s, %s after %.1fs", m->unit, from, strna(m->new_unit), to,
                             m->result, after);
        return r < 0 ? NULL : s;
}

/* ", 2 units stopped (a.service, b.service)" for the names in list, nothing for none. */
static void summary_part(FILE *f, bool *first, char * const *list, const char *one, const char *many) {
        size_t n = strv_length(list);

        if (n == 0)
                return;
        fprintf(f, "%s%zu %s (", *first ? "" : ", ", n, n == 1 ? one : many);
        STRV_FOREACH(s, list)
                fprintf(f, "%s%s", s == list ? "" : ", ", *s);
        fputc(')', f);
        *first = false;
}

/* The plain units of the last look still scheduled on host: the global ones. */
static int staying_units(const MoveTracker *t, const json_t *units, char ***ret) {
        _cleanup_strv_free_ char **list = NULL;
        const json_t *u;
        size_t i;

        json_array_foreach(units, i, u)
                if (unit_is_plain(u) && unit_is_on(u, t->host) && jx_str(u, "name") &&
                    strv_extend(&list, jx_str(u, "name")) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(list);
        return 0;
}

static int stopped_units(const MoveTracker *t, char ***ret) {
        _cleanup_strv_free_ char **list = NULL;

        for (size_t i = 0; i < t->n_units; i++)
                if (!t->units[i].done && t->units[i].gone && strv_extend(&list, t->units[i].name) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(list);
        return 0;
}

char *move_summary(const MoveTracker *t, const char *host_name, const json_t *units) {
        _cleanup_strv_free_ char **stopped = NULL, **staying = NULL;
        _cleanup_free_ char *s = NULL;
        bool first = true;
        size_t len = 0;
        FILE *f;

        if (t->mode == MOVES_DRAIN && (stopped_units(t, &stopped) < 0 || staying_units(t, units, &staying) < 0))
                return NULL;
        f = open_memstream(&s, &len);
        if (!f)
                return NULL;
        fprintf(f, "%s %s: ", host_name, t->mode == MOVES_DRAIN ? "drained" : "rebalanced");
        if (t->moved > 0) {
                fprintf(f, "%u %s moved", t->moved,
                        t->mode == MOVES_DRAIN ? (t->moved == 1 ? "unit" : "units")
                                               : (t->moved == 1 ? "instance" : "instances"));
                first = false;
        }
        summary_part(f, &first, stopped, "unit stopped", "units stopped");
        summary_part(f, &first, staying, "global unit stays", "global units stay");
        if (first)
                fputs("nothing to move", f);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(s);
}
