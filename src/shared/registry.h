/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The etcd key schema (see docs/design.md) and the typed records stored under it.
 * PURE: builds keys and converts records to and from JSON; no I/O. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/macros.h"
#include "unit-state.h"
#include "metadata.h"

#define MACHINE_ID_LEN 32

typedef enum MachineState {
        MACHINE_ACTIVE,
        MACHINE_DRAINING,
        _MACHINE_STATE_MAX,
        _MACHINE_STATE_INVALID = -EINVAL,
} MachineState;

const char *machine_state_to_string(MachineState s);
MachineState machine_state_from_string(const char *s);

typedef struct MachineRecord {
        char id[MACHINE_ID_LEN + 1];
        char *hostname;
        char *ip;
        char *api;                    /* TCP API address, NULL if none */
        MetadataPair *metadata;
        size_t n_metadata;
        uint64_t cpu_millis;          /* capacity */
        uint64_t memory_bytes;
        MachineState state;
        char *version;
} MachineRecord;

void machine_record_done(MachineRecord *m);

/* Builds "<prefix><part>/<part>..." from the NULL-terminated parts. prefix ends with '/'. */
char *registry_key(const char *prefix, ...) __attribute__((sentinel));

/* machines/<id> record <-> JSON. from_json checks types and the id's form: -EBADMSG on any
 * record that is not what fleetd writes. */
json_t *machine_record_to_json(const MachineRecord *m);
int machine_record_from_json(const json_t *j, MachineRecord *ret);

/* True if s is 32 lowercase hex digits (the form of /etc/machine-id). */
bool machine_id_is_valid(const char *s);

/* units/<name>: what the user submitted. */
typedef struct UnitRecord {
        char *name;
        char *contents;
        char *hash;                   /* sha256 hex of contents */
        UnitDesiredState desired;
        char *app;                    /* set for units generated from an app release */
        char *release;
        uint64_t created_usec;        /* realtime the record was first written (app instances) */
} UnitRecord;

/* schedule/<machine-id>/<name>: what the engine asks one machine to run. It carries the
 * contents so that an agent needs nothing but its own prefix. */
typedef struct ScheduleRecord {
        char *name;
        char *hash;
        char *contents;
        UnitDesiredState desired;
} ScheduleRecord;

/* state/<name>/<machine-id>: what the agent of that machine sees in systemd. */
typedef struct StateRecord {
        char *name;
        char machine[MACHINE_ID_LEN + 1];
        char *hash;
        char *load;
        char *active;
        char *sub;
        uint64_t since_usec;          /* realtime of the last change, microseconds */
        int port;                     /* host port the agent assigned ([X-Fleetd] Port=); 0: none */
        char *health;                 /* starting, passing, failing; NULL: the unit has no check */
} StateRecord;

/* routes/<app>/<unit>: where a healthy instance of an app serves, for routers (fleet-router)
 * and hooks. Written by the agent of the instance's machine, bound to its machine lease, only
 * while the instance is active and its health check (if it has one) passes. */
typedef struct RouteRecord {
        char *app;
        char *unit;                   /* "<app>_v<N>.<process>@<i>.service" */
        char *host;                   /* the machine's public address (MachineRecord.ip) */
        uint16_t port;                /* the host port the agent assigned */
        unsigned release;             /* N */
        char *process;
        char machine[MACHINE_ID_LEN + 1];
} RouteRecord;

void unit_record_done(UnitRecord *u);
void schedule_record_done(ScheduleRecord *s);
void state_record_done(StateRecord *s);
void route_record_done(RouteRecord *r);

/* to_json: NULL on OOM. from_json: -EBADMSG if the record is not what fleetd writes. */
json_t *unit_record_to_json(const UnitRecord *u);
int unit_record_from_json(const json_t *j, UnitRecord *ret);
json_t *schedule_record_to_json(const ScheduleRecord *s);
int schedule_record_from_json(const json_t *j, ScheduleRecord *ret);
json_t *state_record_to_json(const StateRecord *s);
int state_record_from_json(const json_t *j, StateRecord *ret);
/* The longest routes/ value route_record_parse() reads: a record is a few hundred bytes. */
#define ROUTE_RECORD_VALUE_MAX 4096

/* {"app","unit","host","port","release","process","machine"}: every field as agents write them,
 * the one set of rules for fleetd, hooks and fleet-router. app is an app name (release.h), unit
 * the instance name <app>_v<release>.<process>@<i>.service of that very app, release and
 * process, host an IPv4 or IPv6 address, port 1-65535, release 1 or more, machine a machine id.
 * Other fields are ignored, so that agents may add some.
 * to_json: NULL on OOM. from_json: -EBADMSG with *ret_error (optional, one line, allocated)
 * saying what is wrong, or -ENOMEM; *ret only on success. */
json_t *route_record_to_json(const RouteRecord *r);
int route_record_from_json(const json_t *j, RouteRecord *ret, char **ret_error);

/* Whether r obeys route_record_from_json()'s rules (for records built by other means): 0, or
 * -EBADMSG with *ret_error as above (or -ENOMEM). */
int route_record_check(const RouteRecord *r, char **ret_error);

/* Parses routes/<name> = value, where name is "<app>/<unit>" (the key without
 * "<prefix>routes/") and value the JSON text stored there: at most ROUTE_RECORD_VALUE_MAX bytes,
 * no field twice, a record that route_record_from_json() takes, whose app and unit are the
 * key's. Returns as route_record_from_json(). */
int route_record_parse(const char *name, const char *value, RouteRecord *ret, char **ret_error);
