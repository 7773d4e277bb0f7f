/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <time.h>

#include "basic/json-util.h"
#include "build-record.h"
#include "image-ref.h"
#include "release.h"

static const char * const build_state_table[_BUILD_STATE_MAX] = {
        [BUILD_RUNNING] = "running",
        [BUILD_SUCCEEDED] = "succeeded",
        [BUILD_FAILED] = "failed",
};

const char *build_state_to_string(BuildState s) {
        return s >= 0 && s < _BUILD_STATE_MAX ? build_state_table[s] : NULL;
}

BuildState build_state_from_string(const char *s) {
        for (BuildState i = 0; i < _BUILD_STATE_MAX; i++)
                if (streq_ptr(s, build_state_table[i]))
                        return i;
        return _BUILD_STATE_INVALID;
}

void build_record_done(BuildRecord *b) {
        free(b->app);
        free(b->id);
        free(b->machine);
        free(b->revision);
        free(b->image);
        free(b->digest);
        free(b->error);
        *b = (BuildRecord) {};
}

static int set_string(json_t *o, const char *key, const char *value) {
        return value ? json_object_set_new(o, key, json_string(value)) : 0;
}

json_t *build_record_to_json(const BuildRecord *b) {
        json_auto_t *o = json_pack("{s:s, s:s, s:s, s:I}", "app", b->app, "id", b->id,
                                   "state", build_state_to_string(b->state),
                                   "started_usec", (json_int_t) b->started_usec);

        if (!o || set_string(o, "machine", b->machine) < 0 || set_string(o, "revision", b->revision) < 0 ||
            set_string(o, "image", b->image) < 0 || set_string(o, "digest", b->digest) < 0 ||
            set_string(o, "error", b->error) < 0)
                return NULL;
        if (b->release > 0 && json_object_set_new(o, "release", json_integer(b->release)) < 0)
                return NULL;
        if (b->finished_usec > 0 && json_object_set_new(o, "finished_usec", json_integer((json_int_t) b->finished_usec)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static bool only_known_keys(const json_t *j) {
        static const char * const keys[] = { "app", "id", "state", "machine", "revision", "image", "digest",
                                             "release", "error", "started_usec", "finished_usec", NULL };
        const char *k;
        json_t *v;

        json_object_foreach((json_t *) j, k, v) {
                bool found = false;
                for (const char * const *x = keys; *x && !found; x++)
                        found = streq(*x, k);
                if (!found)
                        return false;
        }
        return true;
}

/* An optional string member: absent is fine, anything but a string is not. */
static int get_opt_string(const json_t *j, const char *key, char **ret) {
        json_t *v = json_object_get(j, key);

        if (!v)
                return 0;
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                return -EBADMSG;
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

static int get_opt_uint(const json_t *j, const char *key, uint64_t max, uint64_t *ret) {
        json_t *v = json_object_get(j, key);

        if (!v)
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t) json_integer_value(v) > max)
                return -EBADMSG;
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

int build_record_from_json(const json_t *j, BuildRecord *ret) {
        _cleanup_(build_record_done) BuildRecord b = {};
        uint64_t release = 0;
        int r;

        if (!json_is_object(j) || !only_known_keys(j) || !json_object_get(j, "app") || !json_object_get(j, "id") ||
            !json_object_get(j, "started_usec"))
                return -EBADMSG;
        b.state = build_state_from_string(json_string_value(json_object_get(j, "state")));
        if (b.state < 0)
                return -EBADMSG;
        if ((r = get_opt_string(j, "app", &b.app)) < 0 || (r = get_opt_string(j, "id", &b.id)) < 0 ||
            (r = get_opt_string(j, "machine", &b.machine)) < 0 || (r = get_opt_string(j, "revision", &b.revision)) < 0 ||
            (r = get_opt_string(j, "image", &b.image)) < 0 || (r = get_opt_string(j, "digest", &b.digest)) < 0 ||
            (r = get_opt_string(j, "error", &b.error)) < 0 ||
            (r = get_opt_uint(j, "release", UINT32_MAX, &release)) < 0 ||
            (r = get_opt_uint(j, "started_usec", INT64_MAX, &b.started_usec)) < 0 ||
            (r = get_opt_uint(j, "finished_usec", INT64_MAX, &b.finished_usec)) < 0)
                return r;
        if (!release_app_name_is_valid(b.app) || !build_id_is_valid(b.id) ||
            (b.digest && !image_digest_is_valid(b.digest)))
                return -EBADMSG;
        b.release = (unsigned) release;
        *ret = b;
        b = (BuildRecord) {};
        return 0;
}

void build_id_format(uint64_t usec, uint32_t rnd, char *ret) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (!gmtime_r(&t, &tm))
                tm = (struct tm) { .tm_mday = 1, .tm_year = 70 };
        /* The fields are in range (gmtime_r()), the year four digits until 9999. */
        snprintf(ret, BUILD_ID_LEN + 1, "%04u%02u%02u-%02u%02u%02u-%04x", (unsigned) (tm.tm_year + 1900) % 10000u,
                 (unsigned) (tm.tm_mon + 1) % 100u, (unsigned) tm.tm_mday % 100u, (unsigned) tm.tm_hour % 100u,
                 (unsigned) tm.tm_min % 100u, (unsigned) tm.tm_sec % 100u, (unsigned) (rnd & 0xffff));
}

bool build_id_is_valid(const char *s) {
        static const char digits[] = "0123456789", hex[] = "0123456789abcdef";

        return s && strlen(s) == BUILD_ID_LEN && strspn(s, digits) == 8 && s[8] == '-' &&
               strspn(s + 9, digits) == 6 && s[15] == '-' && strspn(s + 16, hex) == 4;
}
