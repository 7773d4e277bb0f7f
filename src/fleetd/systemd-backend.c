/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>

#include "basic/fileio.h"
#include "basic/strv.h"
#include "log.h"
#include "systemd-backend.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_UNIT_PREFIX "/org/freedesktop/systemd1/unit"
#define MAX_UNIT_FILE (1024 * 1024)

typedef struct Job Job;
typedef struct Describe Describe;

/* A call in flight (method reply pending) or a job queued (JobRemoved pending). */
struct Job {
        SystemdBackend *backend;
        char *unit;
        char *job_path;               /* set once StartUnit & co answered */
        systemd_done_t done;
        void *userdata;
        sd_bus_slot *slot;
        Job *next;
};

struct SystemdBackend {
        sd_event *event;
        sd_bus *bus;
        char *units_dir;
        char *link_dir;
        sd_bus_slot *match_props;
        sd_bus_slot *match_jobs;
        Job *jobs;
        Describe *describes;
        systemd_unit_changed_t on_change;
        void *userdata;
};

static void describe_finish(Describe *d, int error);

static Job *job_free(Job *j) {
        if (!j)
                return NULL;
        sd_bus_slot_unref(j->slot);
        free(j->unit);
        free(j->job_path);
        free(j);
        return NULL;
}

static void job_unlink(Job *j) {
        for (Job **p = &j->backend->jobs; *p; p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        return;
                }
}

static void job_finish(Job *j, int error, const char *message) {
        job_unlink(j);
        if (j->done)
                j->done(j->backend, j->unit, error, message, j->userdata);
        job_free(j);
}

static int job_new(SystemdBackend *b, const char *unit, systemd_done_t done, void *userdata, Job **ret) {
        Job *j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->backend = b;
        j->done = done;
        j->userdata = userdata;
        if (unit && !(j->unit = strdup(unit))) {
                free(j);
                return -ENOMEM;
        }
        j->next = b->jobs;
        b->jobs = j;
        *ret = j;
        return 0;
}

static bool owned(SystemdBackend *b, const char *unit) {
        _cleanup_free_ char *p = NULL;
        return asprintf(&p, "%s/%s", b->units_dir, unit) >= 0 && access(p, F_OK) == 0;
}

/* PropertiesChanged(s interface, a{sv} changed, as invalidated) on a unit object. */
static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SystemdBackend *b = userdata;
        _cleanup_free_ char *unit = NULL;
        UnitStatus st = {};
        const char *iface;

        if (sd_bus_path_decode(sd_bus_message_get_path(m), SD_UNIT_PREFIX, &unit) <= 0 || !owned(b, unit))
                return 0;
        if (sd_bus_message_read(m, "s", &iface) < 0 || !streq(iface, "org.freedesktop.systemd1.Unit"))
                return 0;
        if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
                return 0;
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                const char *prop, *v = NULL;
                const char **slot = NULL;

                if (sd_bus_message_read(m, "s", &prop) < 0)
                        return 0;
                if (streq(prop, "ActiveState"))
                        slot = &st.active_state;
                else if (streq(prop, "SubState"))
                        slot = &st.sub_state;
                else if (streq(prop, "LoadState"))
                        slot = &st.load_state;
                if (slot && sd_bus_message_read(m, "v", "s", &v) >= 0)
                        *slot = v;
                else if (sd_bus_message_skip(m, "v") < 0)
                        return 0;
                sd_bus_message_exit_container(m);
        }
        if ((st.active_state || st.sub_state || st.load_state) && b->on_change)
                b->on_change(b, unit, &st, b->userdata);
        return 0;
}

/* JobRemoved(u id, o job, s unit, s result) */
static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SystemdBackend *b = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        for (Job *j = b->jobs; j; j = j->next)
                if (streq_ptr(j->job_path, path)) {
                        if (streq(result, "done"))
                                job_finish(j, 0, NULL);
                        else {
                                char msg[128];
                                snprintf(msg, sizeof(msg), "job for %s finished with result '%s'", unit, result);
                                job_finish(j, -EIO, msg);
                        }
                        break;
                }
        return 0;
}

static int bus_open(sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        /* As root, talk to PID 1 directly on its private socket, as systemctl does: no broker
         * in between, and it works before dbus.service is up. */
        if (geteuid() == 0 && access("/run/systemd/private", F_OK) == 0) {
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, "unix:path=/run/systemd/private");
                if (r >= 0)
                        r = sd_bus_start(bus);
                if (r >= 0) {
                        *ret = TAKE_PTR(bus);
                        return 0;
                }
                bus = sd_bus_flush_close_unref(bus);
        }
        return sd_bus_open_system(ret);
}

int systemd_backend_new(sd_event *e, const char *units_dir, const char *link_dir, systemd_unit_changed_t on_change,
                        void *userdata, SystemdBackend **ret) {
        _cleanup_(systemd_backend_freep) SystemdBackend *b = NULL;
        int r;

        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->event = sd_event_ref(e);
        b->on_change = on_change;
        b->userdata = userdata;
        b->units_dir = strdup(units_dir);
        b->link_dir = strdup(link_dir);
        if (!b->units_dir || !b->link_dir)
                return -ENOMEM;
        if (mkdir(units_dir, 0755) < 0 && errno != EEXIST)
                return -errno;

        r = bus_open(&b->bus);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(b->bus, e, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;

        r = sd_bus_add_match(b->bus, &b->match_props,
                             "type='signal',interface='org.freedesktop.DBus.Properties',"
                             "member='PropertiesChanged',path_namespace='" SD_UNIT_PREFIX "'",
                             on_properties_changed, b);
        if (r >= 0)
                r = sd_bus_add_match(b->bus, &b->match_jobs,
                                     "type='signal',interface='" SD_MANAGER "',member='JobRemoved',path='" SD_PATH "'",
                                     on_job_removed, b);
        if (r < 0)
                return r;

        /* Without Subscribe() systemd sends no unit signals at all. */
        r = sd_bus_call_method(b->bus, SD_DEST, SD_PATH, SD_MANAGER, "Subscribe", NULL, NULL, NULL);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(b);
        return 0;
}

SystemdBackend *systemd_backend_free(SystemdBackend *b) {
        if (!b)
                return NULL;
        while (b->jobs) {
                Job *j = b->jobs;
                b->jobs = j->next;
                job_free(j);
        }
        /* a status asked for by someone else (the API) is owed its answer */
        while (b->describes)
                describe_finish(b->describes, -ECANCELED);
        sd_bus_slot_unref(b->match_props);
        sd_bus_slot_unref(b->match_jobs);
        sd_bus_flush_close_unref(b->bus);
        sd_event_unref(b->event);
        free(b->units_dir);
        free(b->link_dir);
        free(b);
        return NULL;
}

/* --- files --- */

int systemd_backend_write_unit(SystemdBackend *b, const char *name, const char *contents) {
        _cleanup_free_ char *path = NULL, *link = NULL;
        int r;

        if (asprintf(&path, "%s/%s", b->units_dir, name) < 0 || asprintf(&link, "%s/%s", b->link_dir, name) < 0)
                return -ENOMEM;
        r = write_file_atomic(path, contents, strlen(contents), 0644);
        if (r < 0)
                return r;

        /* The link points at our file; replace whatever link was there (never a real file). */
        struct stat st;
        if (lstat(link, &st) == 0) {
                if (!S_ISLNK(st.st_mode))
                        return -EEXIST;
                if (unlink(link) < 0)
                        return -errno;
        }
        if (mkdir(b->link_dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        return symlink(path, link) < 0 ? -errno : 0;
}

int systemd_backend_remove_unit(SystemdBackend *b, const char *name) {
        _cleanup_free_ char *path = NULL, *link = NULL;
        struct stat st;

        if (asprintf(&path, "%s/%s", b->units_dir, name) < 0 || asprintf(&link, "%s/%s", b->link_dir, name) < 0)
                return -ENOMEM;
        if (lstat(link, &st) == 0 && S_ISLNK(st.st_mode) && unlink(link) < 0)
                return -errno;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

int systemd_backend_list_units(SystemdBackend *b, char ***ret) {
        _cleanup_strv_free_ char **names = calloc(1, sizeof(char *));
        DIR *d = opendir(b->units_dir);
        struct dirent *de;
        int r = 0;

        if (!names) {
                if (d)
                        closedir(d);
                return -ENOMEM;
        }
        if (!d)
                return errno == ENOENT ? (*ret = TAKE_PTR(names), 0) : -errno;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && (r = strv_extend(&names, de->d_name)) < 0)
                        break;
        closedir(d);
        if (r < 0)
                return r;
        qsort(names, strv_length(names), sizeof(char *), cmp_str);
        *ret = TAKE_PTR(names);
        return 0;
}

int systemd_backend_read_unit(SystemdBackend *b, const char *name, char **ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        struct stat st;

        if (asprintf(&path, "%s/%s", b->units_dir, name) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size > MAX_UNIT_FILE)
                return -EFBIG;
        buf = malloc(st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t n = read(fd, buf, st.st_size);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* --- bus calls --- */

static int bus_error_to_errno(const sd_bus_error *e, int fallback) {
        int r = sd_bus_error_get_errno(e);
        return r > 0 ? -r : fallback;
}

static int on_job_queued(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Job *j = userdata;
        const char *path;

        j->slot = sd_bus_slot_unref(j->slot);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);
                job_finish(j, bus_error_to_errno(e, -EIO), e->message);
                return 0;
        }
        if (sd_bus_message_read(reply, "o", &path) < 0 || !(j->job_path = strdup(path)))
                job_finish(j, -EBADMSG, "unexpected answer from systemd");
        /* else: finished by JobRemoved */
        return 0;
}

static int call_job(SystemdBackend *b, const char *method, const char *name, systemd_done_t done, void *userdata) {
        Job *j;
        int r = job_new(b, name, done, userdata, &j);
        if (r < 0)
                return r;
        r = sd_bus_call_method_async(b->bus, &j->slot, SD_DEST, SD_PATH, SD_MANAGER, method, on_job_queued, j,
                                     "ss", name, "replace");
        if (r < 0) {
                job_unlink(j);
                job_free(j);
        }
        return r;
}

int systemd_backend_start(SystemdBackend *b, const char *name, systemd_done_t done, void *userdata) {
        return call_job(b, "StartUnit", name, done, userdata);
}

int systemd_backend_stop(SystemdBackend *b, const char *name, systemd_done_t done, void *userdata) {
        return call_job(b, "StopUnit", name, done, userdata);
}

int systemd_backend_restart(SystemdBackend *b, const char *name, systemd_done_t done, void *userdata) {
        return call_job(b, "RestartUnit", name, done, userdata);
}

static int on_plain_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Job *j = userdata;

        j->slot = sd_bus_slot_unref(j->slot);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);
                job_finish(j, bus_error_to_errno(e, -EIO), e->message);
        } else
                job_finish(j, 0, NULL);
        return 0;
}

int systemd_backend_reload(SystemdBackend *b, systemd_done_t done, void *userdata) {
        Job *j;
        int r = job_new(b, NULL, done, userdata, &j);
        if (r < 0)
                return r;
        r = sd_bus_call_method_async(b->bus, &j->slot, SD_DEST, SD_PATH, SD_MANAGER, "Reload", on_plain_reply, j, "");
        if (r < 0) {
                job_unlink(j);
                job_free(j);
        }
        return r;
}

int systemd_backend_reboot(SystemdBackend *b, systemd_done_t done, void *userdata) {
        Job *j;
        int r = job_new(b, "reboot.target", done, userdata, &j);
        if (r < 0)
                return r;
        /* the job is not tracked: nothing of ours is there when it is done */
        r = sd_bus_call_method_async(b->bus, &j->slot, SD_DEST, SD_PATH, SD_MANAGER, "StartUnit", on_plain_reply, j,
                                     "ss", "reboot.target", "replace-irreversibly");
        if (r < 0) {
                job_unlink(j);
                job_free(j);
        }
        return r;
}

/* ListUnitsByNames(as) -> a(ssssssouso): name, description, load, active, sub, following,
 * unit path, job id, job type, job path. One round trip for any number of units. */
static int on_list_by_names(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Job *j = userdata;
        SystemdBackend *b = j->backend;
        int r;

        j->slot = sd_bus_slot_unref(j->slot);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);
                job_finish(j, bus_error_to_errno(e, -EIO), e->message);
                return 0;
        }
        r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        while (r >= 0) {
                const char *name, *desc, *follow, *jtype, *upath, *jpath;
                uint32_t jid;
                UnitStatus st = {};

                r = sd_bus_message_read(reply, "(ssssssouso)", &name, &desc, &st.load_state, &st.active_state,
                                        &st.sub_state, &follow, &upath, &jid, &jtype, &jpath);
                if (r <= 0)
                        break;
                if (b->on_change)
                        b->on_change(b, name, &st, b->userdata);
        }
        job_finish(j, r < 0 ? r : 0, r < 0 ? "unexpected answer from systemd" : NULL);
        return 0;
}

int systemd_backend_query(SystemdBackend *b, char * const *names, systemd_done_t done, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        Job *j;
        int r;

        r = sd_bus_message_new_method_call(b->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "ListUnitsByNames");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, (char **) names);
        if (r < 0)
                return r;
        r = job_new(b, NULL, done, userdata, &j);
        if (r < 0)
                return r;
        r = sd_bus_call_async(b->bus, &j->slot, m, on_list_by_names, j, 0);
        if (r < 0) {
                job_unlink(j);
                job_free(j);
        }
        return r;
}

/* --- status --- */

/* The properties a status shows, per interface; a unit that lacks one (not every unit type has
 * every interface) leaves it out, as does a 't' property that is UINT64_MAX (unknown). */
typedef struct DescribeProperty {
        const char *prop;
        char type;
} DescribeProperty;

static const DescribeProperty unit_properties[] = {
        { "Id", 's' },
        { "Description", 's' },
        { "LoadState", 's' },
        { "ActiveState", 's' },
        { "SubState", 's' },
        { "FragmentPath", 's' },
        { "ActiveEnterTimestamp", 't' },
        { "InactiveEnterTimestamp", 't' },
        {},
};

static const DescribeProperty service_properties[] = {
        { "MainPID", 'u' },
        { "NRestarts", 'u' },
        { "ExecMainStatus", 'i' },
        { "Result", 's' },
        { "MemoryCurrent", 't' },
        { "TasksCurrent", 't' },
        { "ControlGroup", 's' },
        {},
};

/* One status on its way: LoadUnit, then GetAll of the Unit and Service interfaces at once. */
struct Describe {
        SystemdBackend *backend;
        char *unit;
        json_t *properties;
        sd_bus_slot *load, *unit_all, *service_all;
        systemd_describe_t done;
        void *userdata;
        Describe *next;
};

static Describe *describe_free(Describe *d) {
        if (!d)
                return NULL;
        sd_bus_slot_unref(d->load);
        sd_bus_slot_unref(d->unit_all);
        sd_bus_slot_unref(d->service_all);
        json_decref(d->properties);
        free(d->unit);
        free(d);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Describe *, describe_free);

/* A copy of object o with its keys in sorted order (the order a status always had). */
static json_t *json_object_sorted(json_t *o) {
        size_t n = json_object_size(o), k = 0;
        _cleanup_free_ const char **keys = calloc(n + 1, sizeof(char *));
        json_auto_t *sorted = json_object();
        const char *key;
        json_t *v;

        if (!keys || !sorted)
                return NULL;
        json_object_foreach(o, key, v)
                keys[k++] = key;
        qsort(keys, n, sizeof(char *), cmp_str);
        for (k = 0; k < n; k++)
                if (json_object_set(sorted, keys[k], json_object_get(o, keys[k])) < 0)
                        return NULL;
        return TAKE_PTR(sorted);
}

static void describe_finish(Describe *d, int error) {
        json_t *sorted = NULL;

        for (Describe **p = &d->backend->describes; *p; p = &(*p)->next)
                if (*p == d) {
                        *p = d->next;
                        break;
                }
        if (error >= 0 && !(sorted = json_object_sorted(d->properties)))
                error = -ENOMEM;
        d->done(d->backend, d->unit, error, sorted, d->userdata);
        json_decref(sorted);
        describe_free(d);
}

/* The current value of a variant of basic type `type`, as JSON; NULL when it says "unknown". */
static int describe_read_value(sd_bus_message *m, char type, json_t **ret) {
        union {
                const char *s;
                uint32_t u;
                uint64_t t;
                int32_t i;
        } v;
        char sig[2] = { type, 0 };
        int r;

        r = sd_bus_message_enter_container(m, 'v', sig);
        if (r >= 0)
                r = sd_bus_message_read_basic(m, type, &v);
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = type == 's' ? json_string(v.s) :
               type == 'u' ? json_integer(v.u) :
               type == 'i' ? json_integer(v.i) :
               v.t == UINT64_MAX ? NULL : json_integer((json_int_t) v.t);
        return 0;
}

/* One "sv" entry of a GetAll answer: kept in o if it is one of props with the type it must have. */
static int describe_read_entry(sd_bus_message *m, const DescribeProperty *props, json_t *o) {
        const DescribeProperty *p = props;
        const char *name, *contents = NULL;
        json_t *v = NULL;
        char kind;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        while (p->prop && !streq(p->prop, name))
                p++;
        if (p->prop)
                r = sd_bus_message_peek_type(m, &kind, &contents);
        if (r < 0)
                return r;
        if (!p->prop || !contents || contents[0] != p->type || contents[1])
                return sd_bus_message_skip(m, "v");
        r = describe_read_value(m, p->type, &v);
        if (r < 0 || !v)
                return r;
        return json_object_set_new(o, name, v) < 0 ? -ENOMEM : 0;
}

/* GetAll(s interface) -> a{sv}. */
static int describe_read_all(sd_bus_message *m, const DescribeProperty *props, json_t *o) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = describe_read_entry(m, props, o);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        return r < 0 ? r : sd_bus_message_exit_container(m);
}

static void describe_got_all(Describe *d, sd_bus_message *reply, const DescribeProperty *props) {
        int r = 0;

        /* an error: the unit has no such interface (a timer has no Service), so no such properties */
        if (!sd_bus_message_is_method_error(reply, NULL))
                r = describe_read_all(reply, props, d->properties);
        if (r < 0)
                return describe_finish(d, r == -ENOMEM ? r : -EBADMSG);
        if (!d->unit_all && !d->service_all)
                describe_finish(d, 0);
}

static int on_describe_unit_all(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Describe *d = userdata;

        d->unit_all = sd_bus_slot_unref(d->unit_all);
        describe_got_all(d, reply, unit_properties);
        return 0;
}

static int on_describe_service_all(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Describe *d = userdata;

        d->service_all = sd_bus_slot_unref(d->service_all);
        describe_got_all(d, reply, service_properties);
        return 0;
}

static int on_describe_loaded(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Describe *d = userdata;
        SystemdBackend *b = d->backend;
        const char *path;
        int r;

        d->load = sd_bus_slot_unref(d->load);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                describe_finish(d, bus_error_to_errno(sd_bus_message_get_error(reply), -EIO));
                return 0;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                r = sd_bus_call_method_async(b->bus, &d->unit_all, SD_DEST, path, "org.freedesktop.DBus.Properties",
                                             "GetAll", on_describe_unit_all, d, "s", "org.freedesktop.systemd1.Unit");
        if (r >= 0)
                r = sd_bus_call_method_async(b->bus, &d->service_all, SD_DEST, path,
                                             "org.freedesktop.DBus.Properties", "GetAll", on_describe_service_all, d,
                                             "s", "org.freedesktop.systemd1.Service");
        if (r < 0)
                describe_finish(d, r);
        return 0;
}

int systemd_backend_describe(SystemdBackend *b, const char *name, systemd_describe_t done, void *userdata) {
        _cleanup_(describe_freep) Describe *d = NULL;
        int r;

        assert(b);
        assert(name);
        assert(done);

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        *d = (Describe) { .backend = b, .unit = strdup(name), .properties = json_object(), .done = done,
                          .userdata = userdata };
        if (!d->unit || !d->properties)
                return -ENOMEM;
        r = sd_bus_call_method_async(b->bus, &d->load, SD_DEST, SD_PATH, SD_MANAGER, "LoadUnit", on_describe_loaded, d,
                                     "s", name);
        if (r < 0)
                return r;
        d->next = b->describes;
        b->describes = TAKE_PTR(d);
        return 0;
}
