/* SPDX-License-Identifier: Apache-2.0 */
/* events/<id> records, ids, filters and the trim plan (event-record.h). */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "basic/error-util.h"
#include "basic/hashmap.h"
#include "basic/json-util.h"
#include "event-record.h"

#define EVENT_TIME_MAX 9999999999999999ULL

void event_record_done(EventRecord *e) {
        free(e->kind);
        free(e->app);
        free(e->unit);
        free(e->machine);
        free(e->who);
        free(e->message);
        json_decref(e->details);
        *e = (EventRecord) EVENT_RECORD_INIT;
}

static bool is_hex(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isxdigit((unsigned char) s[i]) || isupper((unsigned char) s[i]))
                        return false;
        return true;
}

int event_id_format(usec_t time, const char *machine_id, uint32_t counter, char ret[static EVENT_ID_SIZE]) {
        if (time > EVENT_TIME_MAX || !machine_id || strlen(machine_id) < 8 || !is_hex(machine_id, 8))
                return -EINVAL;
        snprintf(ret, EVENT_ID_SIZE, "%016" PRIu64 "-%.8s-%08" PRIx32, (uint64_t) time, machine_id, counter);
        return 0;
}

bool event_id_parse(const char *id, usec_t *ret_time) {
        if (!id || strlen(id) != 34 || id[16] != '-' || id[25] != '-' || !is_hex(id + 17, 8) || !is_hex(id + 26, 8))
                return false;
        usec_t t = 0;
        for (size_t i = 0; i < 16; i++) {
                if (!isdigit((unsigned char) id[i]))
                        return false;
                t = t * 10 + (usec_t) (id[i] - '0');
        }
        if (ret_time)
                *ret_time = t;
        return true;
}

bool event_kind_is_valid(const char *kind) {
        size_t n = kind ? strlen(kind) : 0, words = 1;

        if (n == 0 || n > EVENT_KIND_MAX || kind[0] == '.' || kind[n - 1] == '.')
                return false;
        for (size_t i = 0; i < n; i++) {
                if (kind[i] == '.') {
                        if (kind[i + 1] == '.')
                                return false;
                        words++;
                } else if (!(kind[i] >= 'a' && kind[i] <= 'z') && kind[i] != '_')
                        return false;
        }
        return words >= 2;
}

json_t *event_record_to_json(const EventRecord *e) {
        json_auto_t *j = json_pack("{s:s, s:I, s:s, s:s, s:s}", "id", e->id, "time", (json_int_t) e->time, "kind",
                                   e->kind, "who", e->who, "message", e->message);

        if (!j)
                return NULL;
        if ((e->app && json_object_set_new(j, "app", json_string(e->app)) < 0) ||
            (e->unit && json_object_set_new(j, "unit", json_string(e->unit)) < 0) ||
            (e->machine && json_object_set_new(j, "machine", json_string(e->machine)) < 0) ||
            (e->release > 0 && json_object_set_new(j, "release", json_integer(e->release)) < 0) ||
            (e->uid >= 0 && json_object_set_new(j, "uid", json_integer(e->uid)) < 0) ||
            (e->details && json_object_set(j, "details", e->details) < 0))
                return NULL;
        return json_incref(j);
}

/* An optional string field: absent is fine, another type is not. */
static int optional_string(const json_t *j, const char *key, char **ret) {
        const json_t *v = json_object_get(j, key);

        if (!v)
                return 0;
        if (!json_is_string(v))
                return -EBADMSG;
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

static int required_string(const json_t *j, const char *key, char **ret) {
        if (!json_is_string(json_object_get(j, key)))
                return -EBADMSG;
        return optional_string(j, key, ret);
}

static int event_record_numbers(const json_t *j, EventRecord *e) {
        const json_t *t = json_object_get(j, "time"), *rel = json_object_get(j, "release"),
                     *uid = json_object_get(j, "uid"), *d = json_object_get(j, "details");
        usec_t id_time;

        if (!json_is_integer(t) || json_integer_value(t) < 0 || !event_id_parse(e->id, &id_time) ||
            (usec_t) json_integer_value(t) != id_time)
                return -EBADMSG;
        e->time = id_time;
        if (rel && (!json_is_integer(rel) || json_integer_value(rel) < 1 || json_integer_value(rel) > UINT32_MAX))
                return -EBADMSG;
        e->release = rel ? (unsigned) json_integer_value(rel) : 0;
        if (uid && (!json_is_integer(uid) || json_integer_value(uid) < 0))
                return -EBADMSG;
        e->uid = uid ? json_integer_value(uid) : -1;
        if (d && !json_is_object(d))
                return -EBADMSG;
        e->details = json_incref((json_t *) d);
        return 0;
}

int event_record_from_json(const json_t *j, EventRecord *ret) {
        _cleanup_(event_record_done) EventRecord e = EVENT_RECORD_INIT;
        const char *id = jx_str(j, "id");
        int r;

        if (!json_is_object(j) || !id || strlen(id) >= EVENT_ID_SIZE)
                return -EBADMSG;
        strcpy(e.id, id);
        if ((r = required_string(j, "kind", &e.kind)) < 0 || (r = required_string(j, "who", &e.who)) < 0 ||
            (r = required_string(j, "message", &e.message)) < 0 || (r = optional_string(j, "app", &e.app)) < 0 ||
            (r = optional_string(j, "unit", &e.unit)) < 0 || (r = optional_string(j, "machine", &e.machine)) < 0)
                return r;
        if (!event_kind_is_valid(e.kind))
                return -EBADMSG;
        r = event_record_numbers(j, &e);
        if (r < 0)
                return r;
        *ret = e;
        e = (EventRecord) EVENT_RECORD_INIT;
        return 0;
}

/* --- filters --- */

/* "2024-12-02T09:14:03Z", with an optional fraction of a second and Z or +hh:mm / -hh:mm. */
int event_parse_timestamp(const char *s, usec_t *ret) {
        struct tm tm = {};
        const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
        usec_t frac = 0, scale = USEC_PER_SEC;
        long offset = 0;

        if (!p || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        if (*p == '.') {
                if (!isdigit((unsigned char) p[1]))
                        return -EINVAL;
                for (p++; isdigit((unsigned char) *p); p++)
                        if (scale > 1) {
                                scale /= 10;
                                frac += (usec_t) (*p - '0') * scale;
                        }
        }
        if ((*p == '+' || *p == '-') && isdigit((unsigned char) p[1]) && isdigit((unsigned char) p[2]) &&
            p[3] == ':' && isdigit((unsigned char) p[4]) && isdigit((unsigned char) p[5]) && !p[6]) {
                offset = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600L + ((p[4] - '0') * 10 + (p[5] - '0')) * 60L;
                offset = *p == '-' ? -offset : offset;
        } else if (!((*p == 'Z' || *p == 'z') && !p[1]))
                return -EINVAL;

        time_t t = timegm(&tm);
        if (t == (time_t) -1 || t - offset < 0)
                return -EINVAL;
        *ret = (usec_t) (t - offset) * USEC_PER_SEC + frac;
        return 0;
}

static int parse_since(const char *s, usec_t now, EventFilter *f, char **ret_error) {
        usec_t u;

        if (!s)
                return 0;
        if (event_id_parse(s, NULL)) {
                snprintf(f->after, sizeof(f->after), "%s", s);
                return 0;
        }
        if (event_parse_timestamp(s, &u) >= 0) {
                f->since = u;
                return 0;
        }
        if (parse_duration(s, &u) >= 0) {
                f->since = u < now ? now - u : 0;
                return 0;
        }
        return error_set(ret_error, -EINVAL,
                         "since=%.64s: expected a duration back from now (90s, 1h, 2d), a time such as "
                         "2024-12-02T09:14:03Z, or an event id", s);
}

static int parse_limit(const char *s, EventFilter *f, char **ret_error) {
        char *end;

        f->limit = EVENT_LIMIT_DEFAULT;
        if (!s)
                return 0;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        if (errno || end == s || *end || n < 1 || n > EVENT_LIMIT_MAX)
                return error_set(ret_error, -EINVAL, "limit=%.32s: expected a number from 1 to %d", s,
                                 EVENT_LIMIT_MAX);
        f->limit = (size_t) n;
        return 0;
}

int event_filter_parse(const char *app, const char *unit, const char *machine, const char *since,
                       const char *limit, usec_t now, EventFilter *ret, char **ret_error) {
        EventFilter f = { .app = app, .unit = unit, .machine = machine };
        int r;

        if ((app && isempty(app)) || (unit && isempty(unit)) || (machine && isempty(machine)))
                return error_set(ret_error, -EINVAL, "%s= must not be empty",
                                 app && isempty(app) ? "app" : unit && isempty(unit) ? "unit" : "machine");
        r = parse_since(since, now, &f, ret_error);
        if (r < 0)
                return r;
        r = parse_limit(limit, &f, ret_error);
        if (r < 0)
                return r;
        *ret = f;
        return 0;
}

char *event_filter_range_start(const EventFilter *f, const char *prefix) {
        char *key;
        int r;

        if (f->after[0])
                /* the id itself is excluded by event_filter_match() */
                r = asprintf(&key, "%sevents/%s", prefix, f->after);
        else if (f->since > 0)
                r = asprintf(&key, "%sevents/%016" PRIu64, prefix, (uint64_t) MIN(f->since, EVENT_TIME_MAX));
        else
                r = asprintf(&key, "%sevents/", prefix);
        return r < 0 ? NULL : key;
}

bool event_filter_match(const EventFilter *f, const EventRecord *e) {
        if (f->after[0] && strcmp(e->id, f->after) <= 0)
                return false;
        if (e->time < f->since)
                return false;
        if (f->app && !streq_ptr(f->app, e->app))
                return false;
        if (f->unit && !streq_ptr(f->unit, e->unit))
                return false;
        if (f->machine && (!e->machine || !startswith(e->machine, f->machine)))
                return false;
        return true;
}

/* --- the trim plan --- */

void event_trim_done(EventTrim *t) {
        free(t->extra);
        *t = (EventTrim) {};
}

/* The app's count so far, newest first: a pointer-sized counter in the map's value. */
static int count_app(Hashmap *h, const char *app, size_t *ret) {
        size_t n = (size_t) (uintptr_t) hashmap_get(h, app) + 1;
        int r = hashmap_put(h, app, (void *) (uintptr_t) n);
        if (r < 0)
                return r;
        *ret = n;
        return 0;
}

int event_trim_plan(const EventIndexEntry *entries, size_t n, size_t keep_total, size_t keep_app, EventTrim *ret) {
        _cleanup_(hashmap_freep) Hashmap *apps = NULL;
        _cleanup_free_ size_t *extra = NULL;
        size_t cut = keep_total > 0 && n > keep_total ? n - keep_total : 0, n_extra = 0;

        if (keep_app > 0 && n > cut) {
                apps = hashmap_new(NULL);
                extra = calloc(n - cut, sizeof(size_t));
                if (!apps || !extra)
                        return -ENOMEM;
                for (size_t i = n; i > cut; i--) {
                        size_t seen;
                        if (!entries[i - 1].app)
                                continue;
                        if (count_app(apps, entries[i - 1].app, &seen) < 0)
                                return -ENOMEM;
                        if (seen > keep_app)
                                extra[n_extra++] = i - 1;
                }
                /* found newest first: ascending for the caller */
                for (size_t a = 0, b = n_extra; a + 1 < b; a++, b--) {
                        size_t t = extra[a];
                        extra[a] = extra[b - 1];
                        extra[b - 1] = t;
                }
        }
        *ret = (EventTrim) { .cut = cut, .extra = n_extra > 0 ? TAKE_PTR(extra) : NULL, .n_extra = n_extra };
        return 0;
}
