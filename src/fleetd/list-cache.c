/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <malloc.h>

#include "basic/hashmap.h"
#include "list-cache.h"
#include "log.h"
#include "registry.h"

/* ---- sorted arrays of records whose first member is their key (char *) ---- */

typedef struct SortedVec {
        void **items;
        size_t n, allocated;
} SortedVec;

static const char *item_key(const void *item) {
        return *(char *const *) item;
}

/* The index of the first item whose key is >= key. strcmp() compares bytes as unsigned char,
 * which is etcd's order of keys. */
static size_t vec_lower_bound(const SortedVec *v, const char *key) {
        size_t lo = 0, hi = v->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(item_key(v->items[mid]), key) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* Whether an item has this key; *ret_index is where it is or would go. */
static bool vec_find(const SortedVec *v, const char *key, size_t *ret_index) {
        size_t i = vec_lower_bound(v, key);

        *ret_index = i;
        return i < v->n && streq(item_key(v->items[i]), key);
}

static int vec_insert(SortedVec *v, size_t i, void *item) {
        if (v->n == v->allocated) {
                size_t a = MAX(v->allocated * 2, (size_t) 64);
                void **p = reallocarray(v->items, a, sizeof(void *));
                if (!p)
                        return -ENOMEM;
                v->items = p;
                v->allocated = a;
        }
        memmove(v->items + i + 1, v->items + i, (v->n - i) * sizeof(void *));
        v->items[i] = item;
        v->n++;
        return 0;
}

static void *vec_remove(SortedVec *v, size_t i) {
        void *item = v->items[i];

        memmove(v->items + i, v->items + i + 1, (v->n - i - 1) * sizeof(void *));
        v->n--;
        return item;
}

/* Puts item in its place, or in place of the item with the same key (which it returns through
 * *ret_old for the caller to free). Nothing changes on failure. */
static int vec_put(SortedVec *v, void *item, void **ret_old) {
        size_t i;

        *ret_old = NULL;
        if (vec_find(v, item_key(item), &i)) {
                *ret_old = v->items[i];
                v->items[i] = item;
                return 0;
        }
        return vec_insert(v, i, item);
}

/* ---- the data ---- */

/* units/<key>. Every key has one, listable or not: limit counts keys and next names one. */
typedef struct ListUnit {
        char *key;                    /* after units/ */
        char *name;                   /* NULL: the value is not a unit record; it is not listed */
        char *hash;
        char *app;
        char *release;
        UnitDesiredState desired;
} ListUnit;

/* The machines one unit name is scheduled on, in the order in which the per-request read of
 * schedule/ met them: that of the keys "<machine>/<name>", see machine_cmp(). */
typedef struct ListPlacement {
        char **machines;
        size_t n, allocated;
} ListPlacement;

/* state/<key>, only the values that are state records. */
typedef struct ListState {
        char *key;                    /* after state/: "<name>/<machine>" */
        StateRecord record;
} ListState;

struct ListData {
        SortedVec units;              /* ListUnit, by key */
        Hashmap *placements;          /* unit name -> ListPlacement */
        size_t n_placed;              /* schedule/ entries in placements */
        SortedVec states;             /* ListState, by key */
        Hashmap *reasons;             /* unit name (placement/ key) -> PlacementRecord */
};

static ListUnit *list_unit_free(ListUnit *u) {
        if (!u)
                return NULL;
        free(u->key);
        free(u->name);
        free(u->hash);
        free(u->app);
        free(u->release);
        free(u);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ListUnit *, list_unit_free);

static void list_placement_free(void *p) {
        ListPlacement *pl = p;

        if (!pl)
                return;
        for (size_t i = 0; i < pl->n; i++)
                free(pl->machines[i]);
        free(pl->machines);
        free(pl);
}

static ListState *list_state_free(ListState *s) {
        if (!s)
                return NULL;
        free(s->key);
        state_record_done(&s->record);
        free(s);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ListState *, list_state_free);

static void list_reason_free(void *p) {
        if (p)
                placement_record_done(p);
        free(p);
}

int list_data_new(ListData **ret) {
        ListData *d = calloc(1, sizeof(*d));

        if (!d)
                return -ENOMEM;
        d->placements = hashmap_new(list_placement_free);
        d->reasons = hashmap_new(list_reason_free);
        if (!d->placements || !d->reasons) {
                hashmap_free(d->placements);
                hashmap_free(d->reasons);
                free(d);
                return -ENOMEM;
        }
        *ret = d;
        return 0;
}

ListData *list_data_free(ListData *d) {
        if (!d)
                return NULL;
        for (size_t i = 0; i < d->units.n; i++)
                list_unit_free(d->units.items[i]);
        free(d->units.items);
        for (size_t i = 0; i < d->states.n; i++)
                list_state_free(d->states.items[i]);
        free(d->states.items);
        hashmap_free(d->placements);
        hashmap_free(d->reasons);
        free(d);
        return NULL;
}

size_t list_data_count(const ListData *d, ListPrefix p) {
        switch (p) {
        case LIST_UNITS:
                return d->units.n;
        case LIST_SCHEDULE:
                return d->n_placed;
        case LIST_STATE:
                return d->states.n;
        case LIST_PLACEMENT:
                return hashmap_size(d->reasons);
        default:
                return 0;
        }
}

/* Only what the list shows is kept: the contents are dropped at once. */
static int list_unit_new(const char *key, const char *value, ListUnit **ret) {
        _cleanup_(list_unit_freep) ListUnit *u = calloc(1, sizeof(*u));
        _cleanup_(unit_record_done) UnitRecord rec = {};
        json_auto_t *j = NULL;
        int r;

        if (!u || !(u->key = strdup(key)))
                return -ENOMEM;
        j = value ? json_loads(value, 0, NULL) : NULL;
        r = unit_record_from_json(j, &rec);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                u->name = TAKE_PTR(rec.name);
                u->hash = TAKE_PTR(rec.hash);
                u->app = TAKE_PTR(rec.app);
                u->release = TAKE_PTR(rec.release);
                u->desired = rec.desired;
        }
        *ret = TAKE_PTR(u);
        return 0;
}

static int units_apply(ListData *d, EtcdEventType type, const char *key, const char *value) {
        _cleanup_(list_unit_freep) ListUnit *u = NULL;
        void *old;
        size_t i;
        int r;

        if (type == ETCD_EVENT_DELETE) {
                if (vec_find(&d->units, key, &i))
                        list_unit_free(vec_remove(&d->units, i));
                return 0;
        }
        r = list_unit_new(key, value, &u);
        if (r < 0)
                return r;
        r = vec_put(&d->units, u, &old);
        if (r < 0)
                return r;
        TAKE_PTR(u);
        list_unit_free(old);
        return 0;
}

/* The order of schedule/<a>/<name> against schedule/<b>/<name>: a machine never holds '/', so
 * the keys differ first within "<a>/" and "<b>/". Plain strcmp(a, b) would differ from etcd's
 * order when one machine string is a prefix of the other. */
static int machine_cmp(const char *a, const char *b) {
        for (size_t i = 0;; i++) {
                unsigned char x = a[i] ?: '/', y = b[i] ?: '/';
                if (x != y)
                        return x < y ? -1 : 1;
                if (!a[i] || !b[i])
                        return 0;
        }
}

/* Where machine is or would go in pl. */
static bool placement_find(const ListPlacement *pl, const char *machine, size_t *ret_index) {
        size_t lo = 0, hi = pl->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = machine_cmp(pl->machines[mid], machine);
                if (c == 0) {
                        *ret_index = mid;
                        return true;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_index = lo;
        return false;
}

static int placement_add(ListData *d, const char *name, const char *machine, size_t machine_len) {
        ListPlacement *pl = hashmap_get(d->placements, name);
        _cleanup_free_ char *m = strndup(machine, machine_len);
        size_t i;
        int r;

        if (!m)
                return -ENOMEM;
        if (!pl) {
                pl = calloc(1, sizeof(*pl));
                if (!pl)
                        return -ENOMEM;
                r = hashmap_put(d->placements, name, pl);
                if (r < 0) {
                        free(pl);
                        return r;
                }
        }
        if (placement_find(pl, m, &i))
                return 0;
        if (pl->n == pl->allocated) {
                size_t a = MAX(pl->allocated * 2, (size_t) 1);
                char **p = reallocarray(pl->machines, a, sizeof(char *));
                if (!p)
                        return -ENOMEM;
                pl->machines = p;
                pl->allocated = a;
        }
        memmove(pl->machines + i + 1, pl->machines + i, (pl->n - i) * sizeof(char *));
        pl->machines[i] = TAKE_PTR(m);
        pl->n++;
        d->n_placed++;
        return 0;
}

static int placement_remove(ListData *d, const char *name, const char *machine, size_t machine_len) {
        ListPlacement *pl = hashmap_get(d->placements, name);
        _cleanup_free_ char *m = NULL;
        size_t i;

        if (!pl)
                return 0;
        m = strndup(machine, machine_len);
        if (!m)
                return -ENOMEM;
        if (!placement_find(pl, m, &i))
                return 0;
        free(pl->machines[i]);
        memmove(pl->machines + i, pl->machines + i + 1, (pl->n - i - 1) * sizeof(char *));
        pl->n--;
        d->n_placed--;
        if (pl->n == 0)
                list_placement_free(hashmap_remove(d->placements, name));
        return 0;
}

/* schedule/<machine>/<name>: only the key matters. A key without a second '/' was never
 * listed; one whose machine is not UTF-8 is kept and left out when rendered, as before. */
static int schedule_apply(ListData *d, EtcdEventType type, const char *key) {
        const char *slash = strchr(key, '/');

        if (!slash)
                return 0;
        if (type == ETCD_EVENT_DELETE)
                return placement_remove(d, slash + 1, key, slash - key);
        return placement_add(d, slash + 1, key, slash - key);
}

static int states_apply(ListData *d, EtcdEventType type, const char *key, const char *value) {
        _cleanup_(list_state_freep) ListState *s = NULL;
        json_auto_t *j = NULL;
        void *old;
        size_t i;
        int r;

        if (type == ETCD_EVENT_PUT) {
                s = calloc(1, sizeof(*s));
                if (!s || !(s->key = strdup(key)))
                        return -ENOMEM;
                j = value ? json_loads(value, 0, NULL) : NULL;
                r = state_record_from_json(j, &s->record);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0) {
                        r = vec_put(&d->states, s, &old);
                        if (r < 0)
                                return r;
                        TAKE_PTR(s);
                        list_state_free(old);
                        return 0;
                }
                /* not a state record: the list leaves it out, so it replaces nothing listable */
        }
        if (vec_find(&d->states, key, &i))
                list_state_free(vec_remove(&d->states, i));
        return 0;
}

/* placement/<name>: kept while it is a placement record. */
static int reasons_apply(ListData *d, EtcdEventType type, const char *key, const char *value) {
        _cleanup_free_ PlacementRecord *p = NULL;
        json_auto_t *j = NULL;
        int r;

        if (type == ETCD_EVENT_PUT) {
                p = calloc(1, sizeof(*p));
                if (!p)
                        return -ENOMEM;
                j = value ? json_loads(value, 0, NULL) : NULL;
                r = placement_record_from_json(j, p);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0) {
                        r = hashmap_put(d->reasons, key, p);
                        if (r < 0) {
                                placement_record_done(p);
                                return r;
                        }
                        TAKE_PTR(p);
                        return 0;
                }
        }
        list_reason_free(hashmap_remove(d->reasons, key));
        return 0;
}

int list_data_apply(ListData *d, ListPrefix p, EtcdEventType type, const char *key, const char *value) {
        switch (p) {
        case LIST_UNITS:
                return units_apply(d, type, key, value);
        case LIST_SCHEDULE:
                return schedule_apply(d, type, key);
        case LIST_STATE:
                return states_apply(d, type, key, value);
        case LIST_PLACEMENT:
                return reasons_apply(d, type, key, value);
        default:
                return -EINVAL;
        }
}

/* ---- rendering: the JSON the per-request handlers made, field for field ---- */

json_t *list_placement_json(const PlacementRecord *p) {
        return json_pack("{s:s, s:s, s:s*}",
                         "state", placement_state_to_string(p->state),
                         "reason", p->reason,
                         "machine", p->machine[0] ? p->machine : NULL);
}

static json_t *unit_json(const ListData *d, const ListUnit *u) {
        const ListPlacement *pl = hashmap_get(d->placements, u->name);
        const PlacementRecord *why = hashmap_get(d->reasons, u->name);
        const char *ds = unit_desired_state_to_string(u->desired);
        json_auto_t *machines = json_array(), *placement = NULL;

        if (!machines)
                return NULL;
        /* json_string() refuses what is not UTF-8: such a machine is left out, as it was */
        for (size_t i = 0; pl && i < pl->n; i++)
                (void) json_array_append_new(machines, json_string(pl->machines[i]));
        if (why && !(placement = list_placement_json(why)))
                return NULL;
        /* what the engine has made of it: the desired state once placed, else inactive */
        return json_pack("{s:s, s:s, s:s, s:s*, s:s*, s:O, s:s, s:O*}",
                         "name", u->name,
                         "hash", u->hash,
                         "desiredState", ds,
                         "app", u->app,
                         "release", u->release,
                         "machines", machines,
                         "currentState", json_array_size(machines) > 0 ? ds : "inactive",
                         "placement", placement);
}

json_t *list_data_units_page(const ListData *d, const char *from, size_t limit) {
        const SortedVec *v = &d->units;
        size_t first = vec_lower_bound(v, strempty(from)), end = first + MIN(limit, v->n - first);
        const char *next = NULL;
        json_auto_t *list = json_array();

        if (!list)
                return NULL;
        for (size_t i = first; i < end; i++) {
                const ListUnit *u = v->items[i];
                if (!u->name)
                        continue;
                json_t *j = unit_json(d, u);
                if (!j || json_array_append_new(list, j) < 0)
                        return NULL;
        }
        if (end < v->n) {
                /* the name after the key's last '/', as the per-request read took it */
                const char *k = item_key(v->items[end]), *slash = strrchr(k, '/');
                next = slash ? slash + 1 : k;
        }
        return json_pack("{s:O, s:s*}", "units", list, "next", next);
}

json_t *list_data_states(const ListData *d, const char *machine, const char *unit) {
        const SortedVec *v = &d->states;
        _cleanup_free_ char *dir = NULL;
        json_auto_t *list = json_array();
        size_t i = 0;

        if (!list)
                return NULL;
        /* one unit's states: the keys under state/<unit>/ */
        if (unit) {
                if (asprintf(&dir, "%s/", unit) < 0)
                        return NULL;
                i = vec_lower_bound(v, dir);
        }
        for (; i < v->n; i++) {
                const ListState *s = v->items[i];
                if (dir && !startswith(s->key, dir))
                        break;
                if ((machine && !startswith(s->record.machine, machine)) || (unit && !streq(unit, s->record.name)))
                        continue;
                json_t *j = state_record_to_json(&s->record);
                if (!j || json_array_append_new(list, j) < 0)
                        return NULL;
        }
        return json_pack("{s:O}", "states", list);
}

/* ---- the cache: loading, watching, expiring ---- */

/* One prefix: its range, then its watch. */
typedef struct ListFeed {
        ListCache *cache;
        ListPrefix prefix;
        char *key;                    /* "<prefix>units/" */
        char *end;
        EtcdRequest *load;
        EtcdWatch *watch;
        bool loaded;
} ListFeed;

typedef struct ListWaiter {
        list_cache_callback_t callback;
        void *userdata;
        int64_t revision;             /* units/ must have been seen up to here */
        usec_t deadline;              /* for that wait, once loaded */
} ListWaiter;

struct ListCache {
        sd_event *event;
        EtcdClient *etcd;
        usec_t idle_timeout;
        usec_t wait_timeout;
        ListFeed feeds[_LIST_PREFIX_MAX];
        ListCacheState state;
        ListData *data;
        ListWaiter *waiters;          /* in order of arrival */
        size_t n_waiters, allocated_waiters;
        int64_t written;              /* the last units/ write through this fleetd */
        usec_t last_use;
        sd_event_source *idle_timer;
        sd_event_source *wait_timer;
        unsigned n_loads;
};

static const char *const feed_dir[_LIST_PREFIX_MAX] = {
        [LIST_UNITS] = "units",
        [LIST_SCHEDULE] = "schedule",
        [LIST_STATE] = "state",
        [LIST_PLACEMENT] = "placement",
};

static usec_t list_cache_now(ListCache *c) {
        uint64_t t;

        if (sd_event_now(c->event, CLOCK_MONOTONIC, &t) < 0)
                return now_usec(CLOCK_MONOTONIC);
        return t;
}

/* Drops the data, the watches, the loads in flight and the timers; the queue stays. */
static void list_cache_stop(ListCache *c) {
        for (ListPrefix p = 0; p < _LIST_PREFIX_MAX; p++) {
                ListFeed *f = &c->feeds[p];
                f->load = etcd_request_cancel(f->load);
                f->watch = etcd_watch_free(f->watch);
                f->loaded = false;
        }
        c->data = list_data_free(c->data);
        c->idle_timer = sd_event_source_disable_unref(c->idle_timer);
        c->wait_timer = sd_event_source_disable_unref(c->wait_timer);
        c->state = LIST_CACHE_IDLE;
}

/* Answers every queued request with error; the queue is taken first, so a callback may queue
 * again. */
static void list_cache_fail(ListCache *c, int error) {
        _cleanup_free_ ListWaiter *w = TAKE_PTR(c->waiters);
        size_t n = c->n_waiters;

        c->n_waiters = c->allocated_waiters = 0;
        for (size_t i = 0; i < n; i++)
                w[i].callback(c, error, NULL, w[i].userdata);
}

static int64_t list_cache_units_revision(ListCache *c) {
        return etcd_watch_revision(c->feeds[LIST_UNITS].watch);
}

static int timer_set(ListCache *c, sd_event_source **s, usec_t when, usec_t accuracy,
                     sd_event_time_handler_t handler, const char *description) {
        int r;

        if (*s) {
                r = sd_event_source_set_time(*s, when);
                return r < 0 ? r : sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
        }
        r = sd_event_add_time(c->event, s, CLOCK_MONOTONIC, when, accuracy, handler, c);
        if (r >= 0)
                (void) sd_event_source_set_description(*s, description);
        return r;
}

static int on_wait_timeout(sd_event_source *s, uint64_t usec, void *userdata);

/* The earliest deadline of a request that waits for the units/ watch; only once loaded (a load
 * ends by itself, through etcd's request timeout). */
static void list_cache_arm_wait(ListCache *c) {
        usec_t first = USEC_INFINITY;

        if (c->state == LIST_CACHE_READY)
                for (size_t i = 0; i < c->n_waiters; i++)
                        first = MIN(first, c->waiters[i].deadline);
        if (first == USEC_INFINITY) {
                if (c->wait_timer)
                        (void) sd_event_source_set_enabled(c->wait_timer, SD_EVENT_OFF);
                return;
        }
        if (timer_set(c, &c->wait_timer, first, 10 * USEC_PER_MSEC, on_wait_timeout, "list-cache-wait") < 0)
                log_warning("List cache: failed to arm a timer; a list may wait for the units/ watch unbounded.");
}

static int on_wait_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        ListCache *c = userdata;
        usec_t now = list_cache_now(c);
        size_t k = 0, n = c->n_waiters;
        _cleanup_free_ ListWaiter *late = calloc(MAX(n, (size_t) 1), sizeof(ListWaiter));
        size_t n_late = 0;

        if (!late)
                return 0;  /* the timer stays off; the next watch event or request re-arms it */
        for (size_t i = 0; i < n; i++) {
                if (c->waiters[i].deadline <= now)
                        late[n_late++] = c->waiters[i];
                else
                        c->waiters[k++] = c->waiters[i];
        }
        c->n_waiters = k;
        if (n_late > 0) {
                log_warning("List cache: the units/ watch did not reach revision %" PRIi64 " (at %" PRIi64
                            ") in time; failing %zu list request(s).",
                            c->written, list_cache_units_revision(c), n_late);
                /* Not insisting forever: if etcd's revisions went back (a restore), a revision that
                 * never comes must not fail every list from now on. */
                c->written = 0;
        }
        list_cache_arm_wait(c);
        for (size_t i = 0; i < n_late; i++)
                late[i].callback(c, -ETIMEDOUT, NULL, late[i].userdata);
        return 0;
}

/* Answers the queued requests that the data can answer now. */
static void list_cache_dispatch(ListCache *c) {
        _cleanup_free_ ListWaiter *ready = NULL;
        size_t k = 0, n_ready = 0, n = c->n_waiters;
        int64_t seen;

        if (c->state != LIST_CACHE_READY || n == 0)
                return;
        ready = calloc(n, sizeof(ListWaiter));
        if (!ready)
                return;  /* they wait for the next event, or time out */
        seen = list_cache_units_revision(c);
        for (size_t i = 0; i < n; i++) {
                if (c->waiters[i].revision <= seen)
                        ready[n_ready++] = c->waiters[i];
                else
                        c->waiters[k++] = c->waiters[i];
        }
        c->n_waiters = k;
        /* answering a list is use: the idle time counts from here, however long the load took */
        if (n_ready > 0)
                c->last_use = list_cache_now(c);
        list_cache_arm_wait(c);
        for (size_t i = 0; i < n_ready; i++)
                ready[i].callback(c, 0, c->data, ready[i].userdata);
}

static int list_cache_load(ListCache *c);

/* After a watch stopped or the data could not follow: load again if anyone needs it (a queued
 * request) or the reason is compaction (the cache is in use, and -ESTALE is the documented way
 * back); else drop everything until the next list. */
static void list_cache_restart(ListCache *c, int error) {
        int r;

        list_cache_stop(c);
        if (error != -ESTALE && c->n_waiters == 0)
                return;
        r = list_cache_load(c);
        if (r < 0) {
                log_warning_errno(r, "List cache: failed to start loading again: %m");
                list_cache_stop(c);
                list_cache_fail(c, r);
        }
}

static int feed_apply(ListFeed *f, EtcdEventType type, const char *key, const char *value) {
        const char *rest = startswith(key, f->key);

        if (!rest)
                return 0;  /* outside the prefix: cannot come from a range or watch of it */
        return list_data_apply(f->cache->data, f->prefix, type, rest, value);
}

static void on_feed_events(EtcdWatch *w, int error, const EtcdEvent *events, size_t n, void *userdata) {
        ListFeed *f = userdata;
        ListCache *c = f->cache;
        int r = 0;

        if (error < 0) {
                if (error == -ESTALE)
                        log_info("List cache: the watch on %s is behind a compaction; loading again.", f->key);
                else
                        log_warning_errno(error, "List cache: the watch on %s stopped: %m", f->key);
                return list_cache_restart(c, error);
        }
        for (size_t i = 0; i < n && r >= 0; i++)
                r = feed_apply(f, events[i].type, events[i].kv.key, events[i].kv.value);
        if (r < 0) {
                log_warning_errno(r, "List cache: failed to follow %s: %m", f->key);
                return list_cache_restart(c, r);
        }
        if (f->prefix == LIST_UNITS)
                list_cache_dispatch(c);
}

static void on_feed_loaded(EtcdClient *e, int error, const EtcdResult *result, void *userdata) {
        ListFeed *f = userdata;
        ListCache *c = f->cache;
        int r = error;

        f->load = etcd_request_cancel(f->load);
        for (size_t i = 0; r >= 0 && i < result->n_kvs; i++)
                r = feed_apply(f, ETCD_EVENT_PUT, result->kvs[i].key, result->kvs[i].value);
        /* from the revision this range read on: exact for this prefix */
        if (r >= 0)
                r = etcd_client_watch(c->etcd, f->key, f->end, result->revision + 1, on_feed_events, f, &f->watch);
        if (r < 0) {
                log_warning_errno(r, "List cache: failed to load %s: %m", f->key);
                list_cache_stop(c);
                return list_cache_fail(c, r);
        }
        f->loaded = true;
        for (ListPrefix p = 0; p < _LIST_PREFIX_MAX; p++)
                if (!c->feeds[p].loaded)
                        return;
        c->state = LIST_CACHE_READY;
        log_debug("List cache loaded: %zu units/, %zu schedule/, %zu state/, %zu placement/ keys.",
                  list_data_count(c->data, LIST_UNITS), list_data_count(c->data, LIST_SCHEDULE),
                  list_data_count(c->data, LIST_STATE), list_data_count(c->data, LIST_PLACEMENT));
        list_cache_dispatch(c);
}

static int on_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        ListCache *c = userdata;
        usec_t now = list_cache_now(c);
        char buf[32];

        /* requests still queued (a load in flight, a wait for the watch) are use too */
        if (c->n_waiters > 0)
                c->last_use = now;
        if (now < c->last_use + c->idle_timeout) {
                if (timer_set(c, &c->idle_timer, c->last_use + c->idle_timeout, c->idle_timeout / 10, on_idle,
                              "list-cache-idle") >= 0)
                        return 0;
                log_warning("List cache: failed to re-arm the idle timer; dropping the cache now.");
        } else
                log_debug("List cache: no list for %s; dropping it and its watches.",
                          format_duration(buf, sizeof(buf), c->idle_timeout));
        list_cache_stop(c);
        /* the freed records were many small blocks: give the pages back */
        (void) malloc_trim(0);
        return 0;
}

/* Reads the prefixes (a range each in flight); each starts its watch when it lands. */
static int list_cache_load(ListCache *c) {
        int r;

        list_cache_stop(c);
        r = list_data_new(&c->data);
        if (r < 0)
                return r;
        c->state = LIST_CACHE_LOADING;
        c->n_loads++;
        for (ListPrefix p = 0; p < _LIST_PREFIX_MAX; p++) {
                ListFeed *f = &c->feeds[p];
                /* schedule/ values carry the contents of every unit; the list needs the keys */
                EtcdRangeArgs args = { .key = f->key, .range_end = f->end, .keys_only = p == LIST_SCHEDULE };
                r = etcd_client_range(c->etcd, &args, on_feed_loaded, f, &f->load);
                if (r < 0)
                        goto fail;
        }
        /* coarse: whether the cache goes at 5 min or 5.5 min does not matter */
        r = timer_set(c, &c->idle_timer, c->last_use + c->idle_timeout, c->idle_timeout / 10, on_idle,
                      "list-cache-idle");
        if (r < 0)
                goto fail;
        return 0;
fail:
        list_cache_stop(c);
        return r;
}

int list_cache_new(sd_event *e, EtcdClient *etcd, const ListCacheOptions *o, ListCache **ret) {
        _cleanup_(list_cache_freep) ListCache *c = NULL;

        if (!e || !etcd || !o || !o->prefix)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(e);
        c->etcd = etcd;
        c->idle_timeout = o->idle_timeout ?: LIST_CACHE_IDLE_TIMEOUT_DEFAULT;
        c->wait_timeout = o->wait_timeout ?: LIST_CACHE_WAIT_TIMEOUT_DEFAULT;
        for (ListPrefix p = 0; p < _LIST_PREFIX_MAX; p++) {
                ListFeed *f = &c->feeds[p];
                f->cache = c;
                f->prefix = p;
                f->key = registry_key(o->prefix, feed_dir[p], "", NULL);
                f->end = f->key ? etcd_prefix_end(f->key) : NULL;
                if (!f->end)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

ListCache *list_cache_free(ListCache *c) {
        if (!c)
                return NULL;
        list_cache_stop(c);
        list_cache_fail(c, -ECANCELED);
        for (ListPrefix p = 0; p < _LIST_PREFIX_MAX; p++) {
                free(c->feeds[p].key);
                free(c->feeds[p].end);
        }
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

static int list_cache_enqueue(ListCache *c, const ListWaiter *w) {
        if (c->n_waiters == c->allocated_waiters) {
                size_t a = MAX(c->allocated_waiters * 2, (size_t) 8);
                ListWaiter *p = reallocarray(c->waiters, a, sizeof(ListWaiter));
                if (!p)
                        return -ENOMEM;
                c->waiters = p;
                c->allocated_waiters = a;
        }
        c->waiters[c->n_waiters++] = *w;
        return 0;
}

int list_cache_get(ListCache *c, bool own_writes, list_cache_callback_t cb, void *userdata,
                   const ListData **ret_data) {
        int64_t revision = own_writes ? c->written : 0;
        int r;

        c->last_use = list_cache_now(c);
        if (c->state == LIST_CACHE_READY && list_cache_units_revision(c) >= revision) {
                *ret_data = c->data;
                return 1;
        }
        ListWaiter w = { .callback = cb, .userdata = userdata, .revision = revision,
                         .deadline = c->last_use + c->wait_timeout };
        r = list_cache_enqueue(c, &w);
        if (r < 0)
                return r;
        if (c->state == LIST_CACHE_IDLE) {
                r = list_cache_load(c);
                if (r < 0) {
                        c->n_waiters--;  /* this one; nobody else waits on an idle cache */
                        return log_warning_errno(r, "List cache: failed to start loading: %m");
                }
        }
        list_cache_arm_wait(c);
        return 0;
}

const ListData *list_cache_peek(ListCache *c) {
        return c->state == LIST_CACHE_READY ? c->data : NULL;
}

void list_cache_note_write(ListCache *c, int64_t revision) {
        c->written = MAX(c->written, revision);
}

ListCacheState list_cache_state(ListCache *c) {
        return c->state;
}

unsigned list_cache_n_watches(ListCache *c) {
        unsigned n = 0;

        for (ListPrefix p = 0; p < _LIST_PREFIX_MAX; p++)
                n += !!c->feeds[p].watch;
        return n;
}

unsigned list_cache_n_loads(ListCache *c) {
        return c->n_loads;
}
