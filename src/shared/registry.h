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
        char *boot_id;                /* /proc/sys/kernel/random/boot_id: a new one after a reboot */
        char *fleetlock_id;           /* Zincati's FleetLock client id for this machine (see below) */
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
        char *reason;                 /* why it failed (failed or auto-restart): its last error line
                                       * in the journal (at most 512 bytes); NULL: none */
        char *error;                  /* why the agent could not do what the schedule asks (its unit
                                       * file could not be written: "...: No space left on
                                       * device"); NULL: nothing failed */
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

/* The app id from which Zincati derives its FleetLock client id: the app-specific machine id
 * (sd_id128_get_machine_app_specific(), `systemd-id128 machine-id --app-specific=...`). */
#define FLEETLOCK_APP_ID "de35106b6ec24688b63afddaa156679b"

/* --- rolling host upgrades (docs/design.md) --- */

/* drain/<machine-id>: the machine is draining until uncordon deletes the key. No lease: it
 * outlives fleetd restarts and the host's reboot. source says who started it: "fleetctl",
 * "fleetlock" (then steady-state uncordons it) or "reboot" (an orchestrated reboot). */
typedef struct DrainRecord {
        char machine[MACHINE_ID_LEN + 1];
        uint64_t since_usec;          /* realtime */
        char *by;                     /* who asked, for people */
        bool force;                   /* stop what cannot move instead of leaving it running */
        char *source;
} DrainRecord;

void drain_record_done(DrainRecord *d);
/* {"machine","since","by","force","source"}; from_json: -EBADMSG unless machine is a machine
 * id and source one of fleetctl, fleetlock, reboot. */
json_t *drain_record_to_json(const DrainRecord *d);
int drain_record_from_json(const json_t *j, DrainRecord *ret);
bool drain_source_is_valid(const char *s);

/* placement/<name>: why the engine leader could not (fully) place a unit. Written by the
 * leader only while it holds: deleted when the unit is placed. */
typedef enum PlacementState {
        PLACEMENT_UNSCHEDULABLE,      /* on no machine */
        PLACEMENT_STUCK,              /* stays on a draining machine it cannot leave */
        _PLACEMENT_STATE_MAX,
        _PLACEMENT_STATE_INVALID = -EINVAL,
} PlacementState;

const char *placement_state_to_string(PlacementState s);
PlacementState placement_state_from_string(const char *s);

typedef struct PlacementRecord {
        char *name;
        PlacementState state;
        char machine[MACHINE_ID_LEN + 1];     /* STUCK: the draining machine; "" otherwise */
        char *reason;                 /* the scheduler's words: "no machine has metadata role=db" */
        uint64_t since_usec;
} PlacementRecord;

void placement_record_done(PlacementRecord *p);
/* {"name","state","machine"?,"reason","since"}; from_json: -EBADMSG if name or reason is
 * missing, state unknown, or STUCK without a machine id. */
json_t *placement_record_to_json(const PlacementRecord *p);
int placement_record_from_json(const json_t *j, PlacementRecord *ret);

/* rebalance/<machine-id>: written at uncordon (unless --no-rebalance); the leader rebalances
 * apps while one exists and deletes it when nothing is left to rebalance. */
typedef struct RebalanceRecord {
        char machine[MACHINE_ID_LEN + 1];
        uint64_t since_usec;
        char *by;
} RebalanceRecord;

void rebalance_record_done(RebalanceRecord *r);
json_t *rebalance_record_to_json(const RebalanceRecord *r);
int rebalance_record_from_json(const json_t *j, RebalanceRecord *ret);

/* locks/<group>: a counting semaphore of reboot slots. Changed only by txns that compare the
 * key's mod_revision. A group without a key reads as max 1, no holders. Holders are not bound
 * to a lease: a slot is held across its holder's reboot. */
#define LOCK_GROUP_MAX_LEN 64
#define LOCK_MAX_LIMIT 1000u          /* max holders a group may be set to */
#define LOCK_GROUP_DEFAULT "default"  /* Zincati's default group */

typedef struct LockHolder {
        char *id;                     /* the holder: a machine id or a FleetLock client id */
        char machine[MACHINE_ID_LEN + 1];     /* the machine it maps to; "" if unknown */
        uint64_t since_usec;          /* realtime it took the slot */
        char *by;                     /* who took it, for people */
} LockHolder;

typedef struct LockRecord {
        char *group;
        unsigned max;                 /* 1..LOCK_MAX_LIMIT */
        LockHolder *holders;
        size_t n_holders;
} LockRecord;

/* FleetLock's group rule: ^[a-zA-Z0-9.-]+$, at most LOCK_GROUP_MAX_LEN characters. */
bool lock_group_is_valid(const char *s);
/* A holder id: 1-256 printable ASCII characters without blanks. */
bool lock_holder_id_is_valid(const char *s);
void lock_record_done(LockRecord *l);
/* The record of a group that has no key: max 1, no holders. */
int lock_record_new_default(const char *group, LockRecord *ret);
/* {"group","max","holders":[{"id","machine"?,"since","by"?}]}; from_json: -EBADMSG on a bad
 * group, a max out of range, or bad or repeated holder ids. More holders than max is valid: a
 * lowered max leaves the holders it had, which only keeps new ones out. */
json_t *lock_record_to_json(const LockRecord *l);
int lock_record_from_json(const json_t *j, LockRecord *ret);

/* PURE semaphore steps on a record read from etcd (the caller writes it back with a compare).
 * lock_record_expire() drops holders older than timeout_usec (0: none expire) at now_usec,
 * returning their ids in *ret_expired (a strv, NULL if none) and their number. */
int lock_record_expire(LockRecord *l, uint64_t now_usec, uint64_t timeout_usec, char ***ret_expired);
/* Takes a slot for id: 1 if id already held one (recursive: nothing changes), 0 if it took a
 * free one, -EBUSY if every slot is held by others, -ENOMEM. Expire first. */
int lock_record_acquire(LockRecord *l, const char *id, const char *machine, const char *by, uint64_t now_usec);
/* Frees id's slot: 1 if it held one, 0 if not (nothing changes). */
int lock_record_release(LockRecord *l, const char *id);
/* The holder with id, or NULL. */
const LockHolder *lock_record_find(const LockRecord *l, const char *id);

