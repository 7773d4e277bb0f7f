/* SPDX-License-Identifier: Apache-2.0 */
#include "app-record.h"
#include "basic/json-util.h"

static const char * const rollout_table[_ROLLOUT_STATE_MAX] = {
        [ROLLOUT_NONE] = "none",
        [ROLLOUT_ROLLING] = "rolling",
        [ROLLOUT_DONE] = "done",
        [ROLLOUT_FAILED] = "failed",
};

const char *rollout_state_to_string(RolloutState s) {
        return s >= 0 && s < _ROLLOUT_STATE_MAX ? rollout_table[s] : NULL;
}

RolloutState rollout_state_from_string(const char *s) {
        for (RolloutState i = 0; i < _ROLLOUT_STATE_MAX; i++)
                if (streq_ptr(s, rollout_table[i]))
                        return i;
        return _ROLLOUT_STATE_INVALID;
}

void app_record_done(AppRecord *a) {
        free(a->name);
        for (size_t i = 0; i < a->n_scale; i++)
                free(a->scale[i].process);
        free(a->scale);
        free(a->message);
        *a = (AppRecord) {};
}

json_t *app_record_to_json(const AppRecord *a) {
        json_auto_t *scale = json_object(), *restart = json_object();
        if (!scale || !restart)
                return NULL;
        for (size_t i = 0; i < a->n_scale; i++) {
                if (json_object_set_new(scale, a->scale[i].process, json_integer(a->scale[i].scale)) < 0)
                        return NULL;
                if (a->scale[i].restart_below > 0 &&
                    json_object_set_new(restart, a->scale[i].process, json_integer(a->scale[i].restart_below)) < 0)
                        return NULL;
        }
        return json_pack("{s:s, s:i, s:i, s:O, s:O, s:i, s:{s:s, s:i, s:i, s:s*}, s:I, s:I}",
                         "name", a->name,
                         "release", (int) a->release,
                         "latest", (int) a->latest,
                         "scale", scale,
                         "restartBelow", restart,
                         "nextIndex", (int) a->next_index,
                         "rollout",
                                 "state", rollout_state_to_string(a->rollout),
                                 "from", (int) a->rollout_from,
                                 "rollbackOf", (int) a->rollback_of,
                                 "message", a->message,
                         "created", (json_int_t) a->created_usec,
                         "updated", (json_int_t) a->updated_usec);
}

static int uint_field(const json_t *o, const char *key, unsigned max, unsigned *ret) {
        json_t *v = json_object_get(o, key);
        if (!v) {
                *ret = 0;
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
                return -EBADMSG;
        *ret = (unsigned) json_integer_value(v);
        return 0;
}

int app_record_set_scale(AppRecord *a, const char *process, unsigned scale) {
        AppScale *s = app_record_scale(a, process);
        if (s) {
                s->scale = scale;
                return 0;
        }
        AppScale *n = realloc(a->scale, sizeof(AppScale) * (a->n_scale + 1));
        if (!n)
                return -ENOMEM;
        a->scale = n;
        n[a->n_scale] = (AppScale) { .process = strdup(process), .scale = scale };
        if (!n[a->n_scale].process)
                return -ENOMEM;
        a->n_scale++;
        return 0;
}

AppScale *app_record_scale(const AppRecord *a, const char *process) {
        for (size_t i = 0; i < a->n_scale; i++)
                if (streq(a->scale[i].process, process))
                        return &a->scale[i];
        return NULL;
}

int app_record_from_json(const json_t *j, AppRecord *ret) {
        _cleanup_(app_record_done) AppRecord a = {};
        json_t *scale, *restart, *rollout, *v;
        const char *k;
        int r;

        if (!json_is_object(j) || !jx_str(j, "name"))
                return -EBADMSG;
        a.name = strdup(jx_str(j, "name"));
        if (!a.name)
                return -ENOMEM;
        if ((r = uint_field(j, "release", UINT32_MAX, &a.release)) < 0 ||
            (r = uint_field(j, "latest", UINT32_MAX, &a.latest)) < 0 ||
            (r = uint_field(j, "nextIndex", UINT32_MAX, &a.next_index)) < 0)
                return r;

        scale = json_object_get(j, "scale");
        restart = json_object_get(j, "restartBelow");
        if ((scale && !json_is_object(scale)) || (restart && !json_is_object(restart)))
                return -EBADMSG;
        json_object_foreach(scale, k, v) {
                unsigned n, below;
                if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100000)
                        return -EBADMSG;
                n = (unsigned) json_integer_value(v);
                if ((r = uint_field(restart, k, UINT32_MAX, &below)) < 0 ||
                    (r = app_record_set_scale(&a, k, n)) < 0)
                        return r;
                a.scale[a.n_scale - 1].restart_below = below;
        }

        rollout = json_object_get(j, "rollout");
        a.rollout = rollout ? rollout_state_from_string(jx_str(rollout, "state")) : ROLLOUT_NONE;
        if (a.rollout < 0 || (rollout && ((r = uint_field(rollout, "from", UINT32_MAX, &a.rollout_from)) < 0 ||
                                          (r = uint_field(rollout, "rollbackOf", UINT32_MAX, &a.rollback_of)) < 0)))
                return -EBADMSG;
        if (rollout && jx_str(rollout, "message") && !(a.message = strdup(jx_str(rollout, "message"))))
                return -ENOMEM;
        a.created_usec = (uint64_t) jx_int64(j, "created", 0);
        a.updated_usec = (uint64_t) jx_int64(j, "updated", 0);

        *ret = a;
        a = (AppRecord) {};
        return 0;
}

int app_record_copy(const AppRecord *a, AppRecord *ret) {
        json_auto_t *j = app_record_to_json(a);
        return j ? app_record_from_json(j, ret) : -ENOMEM;
}
