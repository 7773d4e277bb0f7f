/* SPDX-License-Identifier: Apache-2.0 */
/* How an app's instances are doing (see app-instances.h). */
#include <stdio.h>

#include "app-instances.h"
#include "basic/json-util.h"

const char *instance_health(const json_t *i) {
        const char *active = jx_str(i, "active"), *health = jx_str(i, "health");

        if (!active)
                return NULL;
        if (streq(active, "active")) {
                if (!health || streq(health, "passing"))
                        return "healthy";
                return streq(health, "failing") ? "unhealthy" : "starting";
        }
        if (streq(active, "activating") || streq(active, "reloading"))
                return "starting";
        if (streq(active, "failed"))
                return "failed";
        return streq(active, "deactivating") ? "stopping" : "stopped";
}

static bool instance_is_healthy(const json_t *i) {
        return streq_ptr(instance_health(i), "healthy");
}

int instance_label(const json_t *i, char **ret) {
        if (asprintf(ret, "%s.%lld", strna(jx_str(i, "process")), (long long) jx_int64(i, "index", 0)) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

int instance_address(const json_t *i, char **ret) {
        const char *ip = jx_str(i, "ip");
        int64_t port = jx_int64(i, "port", 0);

        *ret = NULL;
        if (isempty(ip) || port <= 0)
                return 0;
        /* An IPv6 address takes brackets before a port. */
        if (asprintf(ret, strchr(ip, ':') ? "[%s]:%lld" : "%s:%lld", ip, (long long) port) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

static int compare_instances(const void *a, const void *b) {
        const json_t *x = *(const json_t * const *) a, *y = *(const json_t * const *) b;
        int64_t ix = jx_int64(x, "index", 0), iy = jx_int64(y, "index", 0);
        int64_t rx = jx_int64(x, "release", 0), ry = jx_int64(y, "release", 0);
        int c = strcmp(strempty(jx_str(x, "process")), strempty(jx_str(y, "process")));

        if (c != 0)
                return c;
        if (ix != iy)
                return ix < iy ? -1 : 1;
        return rx < ry ? -1 : rx > ry;
}

int app_instances_sorted(const json_t *app, const char *process, json_t **ret) {
        json_t *all = json_object_get(app, "instances"), *i;
        _cleanup_free_ json_t **items = calloc(json_array_size(all) + 1, sizeof(json_t *));
        json_auto_t *sorted = json_array();
        size_t k, n = 0;

        if (!items || !sorted)
                return -ENOMEM;
        json_array_foreach(all, k, i)
                if (json_is_object(i) && (!process || streq_ptr(jx_str(i, "process"), process)))
                        items[n++] = i;
        qsort(items, n, sizeof(json_t *), compare_instances);
        for (k = 0; k < n; k++)
                if (json_array_append(sorted, items[k]) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(sorted);
        return 0;
}

static unsigned scale_of(const json_t *app, const char *key, const char *process) {
        int64_t n = jx_int64(json_object_get(app, key), process, 0);

        return n > 0 && n <= UINT32_MAX ? (unsigned) n : 0;
}

int app_format_scale(const json_t *app, char * const *processes, const char *sep, char **ret) {
        json_t *scale = json_object_get(app, "scale"), *v;
        _cleanup_free_ char *s = NULL;
        bool first = true;
        size_t len = 0;
        const char *p;
        FILE *f;

        *ret = NULL;
        f = open_memstream(&s, &len);
        if (!f)
                return -ENOMEM;
        if (processes)
                for (size_t i = 0; processes[i]; i++)
                        fprintf(f, "%s%s=%u", i > 0 ? sep : "", processes[i], scale_of(app, "scale", processes[i]));
        else
                json_object_foreach(scale, p, v) {
                        fprintf(f, "%s%s=%u", first ? "" : sep, p, scale_of(app, "scale", p));
                        first = false;
                }
        if (fclose(f) != 0)
                return -ENOMEM;
        if (!isempty(s))
                *ret = TAKE_PTR(s);
        return 0;
}

/* Adds process's share to p. */
static void progress_add(const json_t *app, const char *process, AppProgress *p) {
        unsigned wanted = scale_of(app, "scale", process), below = scale_of(app, "restartBelow", process), ok = 0;
        json_t *i;
        size_t k;

        json_array_foreach(json_object_get(app, "instances"), k, i)
                if (streq_ptr(jx_str(i, "process"), process) && jx_int64(i, "release", 0) == p->release &&
                    jx_int64(i, "index", 0) >= below && instance_is_healthy(i))
                        ok++;
        p->wanted += wanted;
        p->healthy += MIN(ok, wanted);
}

void app_progress(const json_t *app, char * const *processes, AppProgress *ret) {
        AppProgress p = {};
        const char *process;
        int64_t release = jx_int64(app, "release", 0);
        json_t *v;

        p.release = release > 0 && release <= UINT32_MAX ? (unsigned) release : 0;
        p.instances = (unsigned) json_array_size(json_object_get(app, "instances"));
        if (processes)
                for (size_t i = 0; processes[i]; i++)
                        progress_add(app, processes[i], &p);
        else
                json_object_foreach(json_object_get(app, "scale"), process, v)
                        progress_add(app, process, &p);
        *ret = p;
}

bool app_progress_settled(const AppProgress *p) {
        return p->healthy == p->wanted && p->instances == p->wanted;
}

AppWaitResult app_wait_check(const json_t *app, const AppProgress *p, bool *seen_rolling) {
        const char *state = jx_str(json_object_get(app, "rollout"), "state");

        if (streq_ptr(state, "rolling")) {
                *seen_rolling = true;
                return APP_WAIT_PENDING;
        }
        if (streq_ptr(state, "failed") && *seen_rolling)
                return APP_WAIT_FAILED;
        return app_progress_settled(p) ? APP_WAIT_DONE : APP_WAIT_PENDING;
}
