/* SPDX-License-Identifier: Apache-2.0 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

#include "basic/error-util.h"
#include "basic/host-port.h"
#include "basic/json-util.h"
#include "registry.h"
#include "release.h"
#include "unit-name.h"

static const char * const machine_state_table[_MACHINE_STATE_MAX] = {
        [MACHINE_ACTIVE] = "active",
        [MACHINE_DRAINING] = "draining",
};

const char *machine_state_to_string(MachineState s) {
        return s >= 0 && s < _MACHINE_STATE_MAX ? machine_state_table[s] : NULL;
}

MachineState machine_state_from_string(const char *s) {
        for (MachineState i = 0; i < _MACHINE_STATE_MAX; i++)
                if (streq_ptr(s, machine_state_table[i]))
                        return i;
        return _MACHINE_STATE_INVALID;
}

void machine_record_done(MachineRecord *m) {
        free(m->hostname);
        free(m->ip);
        free(m->api);
        free(m->version);
        free(m->boot_id);
        free(m->fleetlock_id);
        metadata_free(m->metadata, m->n_metadata);
        *m = (MachineRecord) {};
}

char *registry_key(const char *prefix, ...) {
        size_t len = strlen(prefix) + 1;
        va_list ap;

        va_start(ap, prefix);
        for (const char *p = va_arg(ap, const char *); p; p = va_arg(ap, const char *))
                len += strlen(p) + 1;
        va_end(ap);

        char *key = malloc(len), *k = key;
        if (!key)
                return NULL;
        k = stpcpy(k, prefix);
        va_start(ap, prefix);
        bool first = true;
        for (const char *p = va_arg(ap, const char *); p; p = va_arg(ap, const char *)) {
                if (!first)
                        *k++ = '/';
                k = stpcpy(k, p);
                first = false;
        }
        va_end(ap);
        return key;
}

bool machine_id_is_valid(const char *s) {
        if (!s || strlen(s) != MACHINE_ID_LEN)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

json_t *machine_record_to_json(const MachineRecord *m) {
        json_auto_t *metadata = json_object();
        if (!metadata)
                return NULL;
        for (size_t i = 0; i < m->n_metadata; i++)
                if (json_object_set_new(metadata, m->metadata[i].key, json_string(m->metadata[i].value)) < 0)
                        return NULL;

        return json_pack("{s:s, s:s*, s:s*, s:s*, s:O, s:{s:f, s:I}, s:s, s:s*, s:s*, s:s*}",
                         "id", m->id,
                         "hostname", m->hostname,
                         "ip", m->ip,
                         "api", m->api,
                         "metadata", metadata,
                         "capacity",
                                 "cpu", (double) m->cpu_millis / 1000.0,
                                 "memory", (json_int_t) m->memory_bytes,
                         "state", machine_state_to_string(m->state),
                         "version", m->version,
                         "bootId", m->boot_id,
                         "fleetlockId", m->fleetlock_id);
}

static int dup_optional(const json_t *j, const char *key, char **ret) {
        json_t *v = json_object_get(j, key);
        if (!v || json_is_null(v)) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return -EBADMSG;
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

static int metadata_from_json(const json_t *o, MachineRecord *m) {
        const char *k;
        json_t *v;

        if (!o)
                return 0;
        if (!json_is_object(o))
                return -EBADMSG;
        m->metadata = calloc(json_object_size(o) + 1, sizeof(MetadataPair));
        if (!m->metadata)
                return -ENOMEM;
        json_object_foreach((json_t *) o, k, v) {
                if (!json_is_string(v))
                        return -EBADMSG;
                MetadataPair *p = &m->metadata[m->n_metadata++];
                p->key = strdup(k);
                p->value = strdup(json_string_value(v));
                if (!p->key || !p->value)
                        return -ENOMEM;
        }
        return 0;
}

int machine_record_from_json(const json_t *j, MachineRecord *ret) {
        _cleanup_(machine_record_done) MachineRecord m = {};
        int r;

        if (!json_is_object(j) || !machine_id_is_valid(jx_str(j, "id")))
                return -EBADMSG;
        strcpy(m.id, jx_str(j, "id"));

        if ((r = dup_optional(j, "hostname", &m.hostname)) < 0 ||
            (r = dup_optional(j, "ip", &m.ip)) < 0 ||
            (r = dup_optional(j, "api", &m.api)) < 0 ||
            (r = dup_optional(j, "version", &m.version)) < 0 ||
            (r = dup_optional(j, "bootId", &m.boot_id)) < 0 ||
            (r = dup_optional(j, "fleetlockId", &m.fleetlock_id)) < 0 ||
            (r = metadata_from_json(json_object_get(j, "metadata"), &m)) < 0)
                return r;

        json_t *cap = json_object_get(j, "capacity");
        if (cap) {
                json_t *cpu = json_object_get(cap, "cpu"), *mem = json_object_get(cap, "memory");
                if (!json_is_object(cap) || (cpu && !json_is_number(cpu)) || (mem && !json_is_integer(mem)))
                        return -EBADMSG;
                m.cpu_millis = cpu ? (uint64_t) (json_number_value(cpu) * 1000.0 + 0.5) : 0;
                m.memory_bytes = mem ? (uint64_t) json_integer_value(mem) : 0;
        }

        const char *state = jx_str(j, "state");
        m.state = state ? machine_state_from_string(state) : MACHINE_ACTIVE;
        if (m.state < 0)
                return -EBADMSG;

        *ret = m;
        m = (MachineRecord) {};
        return 0;
}

void unit_record_done(UnitRecord *u) {
        free(u->name);
        free(u->contents);
        free(u->hash);
        free(u->app);
        free(u->release);
        *u = (UnitRecord) {};
}

void schedule_record_done(ScheduleRecord *s) {
        free(s->name);
        free(s->hash);
        free(s->contents);
        *s = (ScheduleRecord) {};
}

void state_record_done(StateRecord *s) {
        free(s->name);
        free(s->hash);
        free(s->load);
        free(s->active);
        free(s->sub);
        free(s->health);
        free(s->reason);
        free(s->error);
        *s = (StateRecord) {};
}

void route_record_done(RouteRecord *r) {
        free(r->app);
        free(r->unit);
        free(r->host);
        free(r->process);
        *r = (RouteRecord) {};
}

static int dup_required(const json_t *j, const char *key, char **ret) {
        int r = dup_optional(j, key, ret);
        if (r >= 0 && !*ret)
                return -EBADMSG;
        return r;
}

static int desired_from_json(const json_t *j, UnitDesiredState *ret) {
        UnitDesiredState d = unit_desired_state_from_string(jx_str(j, "desiredState"));
        if (d < 0)
                return -EBADMSG;
        *ret = d;
        return 0;
}

json_t *unit_record_to_json(const UnitRecord *u) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s*, s:s*}",
                              "name", u->name,
                              "contents", u->contents,
                              "hash", u->hash,
                              "desiredState", unit_desired_state_to_string(u->desired),
                              "app", u->app,
                              "release", u->release);
        if (j && u->created_usec > 0 && json_object_set_new(j, "created", json_integer((json_int_t) u->created_usec)) < 0)
                j = (json_decref(j), NULL);
        return j;
}

int unit_record_from_json(const json_t *j, UnitRecord *ret) {
        _cleanup_(unit_record_done) UnitRecord u = {};
        int r;

        if (!json_is_object(j))
                return -EBADMSG;
        if ((r = dup_required(j, "name", &u.name)) < 0 ||
            (r = dup_required(j, "contents", &u.contents)) < 0 ||
            (r = dup_required(j, "hash", &u.hash)) < 0 ||
            (r = dup_optional(j, "app", &u.app)) < 0 ||
            (r = dup_optional(j, "release", &u.release)) < 0 ||
            (r = desired_from_json(j, &u.desired)) < 0)
                return r;
        u.created_usec = (uint64_t) jx_int64(j, "created", 0);
        *ret = u;
        u = (UnitRecord) {};
        return 0;
}

json_t *schedule_record_to_json(const ScheduleRecord *s) {
        return json_pack("{s:s, s:s, s:s, s:s}",
                         "name", s->name,
                         "hash", s->hash,
                         "contents", s->contents,
                         "desiredState", unit_desired_state_to_string(s->desired));
}

int schedule_record_from_json(const json_t *j, ScheduleRecord *ret) {
        _cleanup_(schedule_record_done) ScheduleRecord s = {};
        int r;

        if (!json_is_object(j))
                return -EBADMSG;
        if ((r = dup_required(j, "name", &s.name)) < 0 ||
            (r = dup_required(j, "hash", &s.hash)) < 0 ||
            (r = dup_required(j, "contents", &s.contents)) < 0 ||
            (r = desired_from_json(j, &s.desired)) < 0)
                return r;
        *ret = s;
        s = (ScheduleRecord) {};
        return 0;
}

json_t *state_record_to_json(const StateRecord *s) {
        /* port, health, reason and error only for units that have them ("o*" of NULL leaves the key out). */
        return json_pack("{s:s, s:s, s:s*, s:s*, s:s*, s:s*, s:I, s:o*, s:s*, s:s*, s:s*}",
                         "name", s->name,
                         "machine", s->machine,
                         "hash", s->hash,
                         "load", s->load,
                         "active", s->active,
                         "sub", s->sub,
                         "since", (json_int_t) s->since_usec,
                         "port", s->port > 0 ? json_integer(s->port) : NULL,
                         "health", s->health,
                         "reason", s->reason,
                         "error", s->error);
}

static int port_from_json(const json_t *j, int *ret) {
        json_t *v = json_object_get(j, "port");

        if (!v || json_is_null(v)) {
                *ret = 0;
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
                return -EBADMSG;
        *ret = (int) json_integer_value(v);
        return 0;
}

int state_record_from_json(const json_t *j, StateRecord *ret) {
        _cleanup_(state_record_done) StateRecord s = {};
        int r;

        if (!json_is_object(j) || !machine_id_is_valid(jx_str(j, "machine")))
                return -EBADMSG;
        strcpy(s.machine, jx_str(j, "machine"));
        if ((r = dup_required(j, "name", &s.name)) < 0 ||
            (r = dup_optional(j, "hash", &s.hash)) < 0 ||
            (r = dup_optional(j, "load", &s.load)) < 0 ||
            (r = dup_optional(j, "active", &s.active)) < 0 ||
            (r = dup_optional(j, "sub", &s.sub)) < 0 ||
            (r = dup_optional(j, "health", &s.health)) < 0 ||
            (r = dup_optional(j, "reason", &s.reason)) < 0 ||
            (r = dup_optional(j, "error", &s.error)) < 0 ||
            (r = port_from_json(j, &s.port)) < 0)
                return r;
        s.since_usec = (uint64_t) jx_int64(j, "since", 0);
        *ret = s;
        s = (StateRecord) {};
        return 0;
}

json_t *route_record_to_json(const RouteRecord *r) {
        return json_pack("{s:s, s:s, s:s, s:i, s:I, s:s, s:s}",
                         "app", r->app,
                         "unit", r->unit,
                         "host", r->host,
                         "port", (int) r->port,
                         "release", (json_int_t) r->release,
                         "process", r->process,
                         "machine", r->machine);
}

/* What each field of a route record must be, for the messages. */
static const char *route_field_expected(const char *field) {
        static const char * const table[][2] = {
                { "app", "an app name ([a-z][a-z0-9-]*, at most 40 characters)" },
                { "unit", "an app instance name (<app>_v<N>.<process>@<i>.service)" },
                { "host", "an IPv4 or IPv6 address" },
                { "port", "an integer from 1 to 65535" },
                { "release", "a release number (an integer from 1)" },
                { "process", "a process name" },
                { "machine", "a machine id" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(table[i][0], field))
                        return table[i][1];
        return "what agents write";
}

static int route_field_error(char **ret_error, const char *field) {
        return error_set(ret_error, -EBADMSG, "\"%s\" is missing or not %s", field, route_field_expected(field));
}

/* The unit must be an instance of the app, release and process the record names. */
static int route_record_check_unit(const RouteRecord *rec, char **ret_error) {
        _cleanup_free_ char *app = NULL, *process = NULL;
        unsigned release;
        int r;

        r = release_parse_instance_name(rec->unit, &app, &release, &process, NULL);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return route_field_error(ret_error, "unit");
        if (!streq(app, rec->app))
                return error_set(ret_error, -EBADMSG, "its unit belongs to app '%s', not '%s'", app, rec->app);
        if (release != rec->release)
                return error_set(ret_error, -EBADMSG, "its unit is of release %u, not of \"release\" %u", release,
                                 rec->release);
        if (!streq(process, rec->process))
                return error_set(ret_error, -EBADMSG, "its unit is of process '%s', not of \"process\" '%s'",
                                 process, rec->process);
        return 0;
}

int route_record_check(const RouteRecord *r, char **ret_error) {
        if (!release_app_name_is_valid(r->app))
                return route_field_error(ret_error, "app");
        if (!release_process_name_is_valid(r->process))
                return route_field_error(ret_error, "process");
        if (r->release == 0)
                return route_field_error(ret_error, "release");
        if (parse_ip_address(r->host, NULL, NULL) < 0)
                return route_field_error(ret_error, "host");
        if (r->port == 0)
                return route_field_error(ret_error, "port");
        if (!machine_id_is_valid(r->machine))
                return route_field_error(ret_error, "machine");
        return route_record_check_unit(r, ret_error);
}

static int route_string_from_json(const json_t *j, const char *field, char **ret, char **ret_error) {
        const char *s = jx_str(j, field);

        if (!s)
                return route_field_error(ret_error, field);
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int route_number_from_json(const json_t *j, const char *field, json_int_t max, json_int_t *ret,
                                  char **ret_error) {
        const json_t *v = json_object_get(j, field);

        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max)
                return route_field_error(ret_error, field);
        *ret = json_integer_value(v);
        return 0;
}

int route_record_from_json(const json_t *j, RouteRecord *ret, char **ret_error) {
        _cleanup_(route_record_done) RouteRecord rr = {};
        json_int_t port, release;
        int r;

        if (!json_is_object(j))
                return error_set(ret_error, -EBADMSG, "the record is not a JSON object");
        if ((r = route_string_from_json(j, "app", &rr.app, ret_error)) < 0 ||
            (r = route_string_from_json(j, "unit", &rr.unit, ret_error)) < 0 ||
            (r = route_string_from_json(j, "host", &rr.host, ret_error)) < 0 ||
            (r = route_number_from_json(j, "port", UINT16_MAX, &port, ret_error)) < 0 ||
            (r = route_number_from_json(j, "release", UINT_MAX, &release, ret_error)) < 0 ||
            (r = route_string_from_json(j, "process", &rr.process, ret_error)) < 0)
                return r;
        if (!machine_id_is_valid(jx_str(j, "machine")))
                return route_field_error(ret_error, "machine");
        strcpy(rr.machine, jx_str(j, "machine"));
        rr.port = (uint16_t) port;
        rr.release = (unsigned) release;

        r = route_record_check(&rr, ret_error);
        if (r < 0)
                return r;
        *ret = rr;
        rr = (RouteRecord) {};
        return 0;
}

/* "<app>/<unit>" of a routes/ key, each checked on its own (the record is checked against it). */
static int route_key_check(const char *name, char **ret_app, char **ret_error) {
        const char *slash = name ? strchr(name, '/') : NULL;
        _cleanup_free_ char *app = NULL;

        if (!slash)
                return error_set(ret_error, -EBADMSG, "the key is not routes/<app>/<unit>");
        app = strndup(name, slash - name);
        if (!app)
                return -ENOMEM;
        if (!release_app_name_is_valid(app))
                return error_set(ret_error, -EBADMSG,
                                 "the app name in the key is not [a-z][a-z0-9-]* of at most %d characters",
                                 RELEASE_APP_NAME_MAX);
        if (!unit_name_is_valid(slash + 1, UNIT_NAME_PLAIN | UNIT_NAME_INSTANCE))
                return error_set(ret_error, -EBADMSG, "the unit name in the key is not a valid unit name");
        *ret_app = TAKE_PTR(app);
        return 0;
}

int route_record_parse(const char *name, const char *value, RouteRecord *ret, char **ret_error) {
        _cleanup_(route_record_done) RouteRecord rr = {};
        _cleanup_free_ char *app = NULL;
        json_auto_t *j = NULL;
        int r;

        r = route_key_check(name, &app, ret_error);
        if (r < 0)
                return r;
        if (!value || strlen(value) > ROUTE_RECORD_VALUE_MAX)
                return error_set(ret_error, -EBADMSG, "the value is missing or longer than %d bytes",
                                 ROUTE_RECORD_VALUE_MAX);
        j = json_loads(value, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(j))
                return error_set(ret_error, -EBADMSG, "the value is not a JSON object (with each field once)");

        r = route_record_from_json(j, &rr, ret_error);
        if (r < 0)
                return r;
        if (!streq(rr.app, app))
                return error_set(ret_error, -EBADMSG, "its \"app\" does not match the key's '%s'", app);
        if (!streq(rr.unit, name + strlen(app) + 1))
                return error_set(ret_error, -EBADMSG, "its \"unit\" does not match the key's '%s'",
                                 name + strlen(app) + 1);
        *ret = rr;
        rr = (RouteRecord) {};
        return 0;
}
