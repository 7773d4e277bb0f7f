/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* fleet's HTTP API v1 (coreos/fleet 1.0: Documentation/api-v1.md, schema/v1.json) over fleetd's
 * own records, so that fleet's clients (its fleetctl, its Go and Python bindings) work against
 * fleetd unchanged. PURE: conversions and pages, no I/O; src/fleetd/api-fleet.c serves them.
 *
 * The entities, as fleet's server writes them (its Go structs: keys in their order, every empty
 * field left out):
 *   Unit       {currentState?, desiredState, machineID?, name, options[]}
 *   UnitOption {name, section, value?}: one assignment of the unit file
 *   UnitState  {hash, machineID, name, systemdActiveState, systemdLoadState, systemdSubState}
 *   Machine    {id, metadata{}?, primaryIP}
 *   pages      {"units"|"states"|"machines": [...]?, "nextPageToken"?}
 *   errors     {"error":{"code":<the HTTP status as a number>,"message":"..."}}
 *
 * Unit identity: fleetd keeps a unit's text and its SHA-256 (units/<name>.hash); fleet kept the
 * options and the SHA-1 of their serialization (fleet_unit_file_serialize()). Fleet's clients see
 * only options, and compare units by the SHA-1 they compute from the options themselves, so a
 * unit's options here are exactly what fleet's deserializer makes of its text, and a UnitState's
 * hash is that same SHA-1 (fleet_unit_file_hash()) whenever the state is of the unit's current
 * contents (else fleetd's own SHA-256 of what that machine runs). */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/macros.h"
#include "basic/sha1.h"
#include "registry.h"
#include "unit-file.h"

/* Entities per page, as fleet's default token_limit; a nextPageToken names another limit is 400. */
#define FLEET_PAGE_LIMIT 100

/* ---- unit options ---- */

/* The options of uf in file order: each assignment's section, key and value as systemd (and
 * fleet's deserializer) read them (continuations joined, blanks around stripped, comments and
 * blank lines left out, an empty assignment "Key=" kept with an empty value). A new array of
 * UnitOption objects, or NULL on OOM. */
json_t *fleet_options_from_unit_file(const UnitFile *uf);

/* The unit file that fleet makes of an options array: each option's section in the order
 * sections first appear, the section's options in their order below it, a blank line between
 * sections (go-systemd's Serialize; an option whose section came earlier joins it). A missing
 * name, section or value counts as "" (fleet's Go decoding). On success *ret owns the new file;
 * -EINVAL when an option cannot be a unit file line, with *ret_error (owned by the caller)
 * naming the field: "options[2].value: must be one line", "options: must be an array", ...;
 * -ENOMEM. */
int fleet_options_to_unit_file(const json_t *options, UnitFile **ret, char **ret_error);

/* fleet's text of uf's options (go-systemd's Serialize, see above): what fleet stored, hashed
 * and compared. Two files have the same options for fleet exactly when these texts are equal.
 * *ret is owned by the caller. 0 or -ENOMEM. */
int fleet_unit_file_serialize(const UnitFile *uf, char **ret);
/* The SHA-1 of fleet_unit_file_serialize(uf) in hex: fleet's unit hash. 0 or -ENOMEM. */
int fleet_unit_file_hash(const UnitFile *uf, char ret[SHA1_HEX_SIZE]);

/* ---- paging ---- */

/* fleet's nextPageToken for the page-th page (from 1): URL-safe base64, padded, of the limit
 * and the page as two little-endian uint16 ("ZAACAA==" is page 2 of 100). *ret is owned by the
 * caller. 0 or -ENOMEM. */
int fleet_page_token_encode(uint16_t page, char **ret);
/* Reads a nextPageToken as fleet does (extra bytes after the four are ignored). 0 with
 * *ret_page; -EINVAL with *ret_error (owned by the caller) saying why, naming nextPageToken,
 * for text that is not such base64, fewer than 4 bytes, a limit other than FLEET_PAGE_LIMIT or
 * page 0; -ENOMEM. */
int fleet_page_token_decode(const char *token, uint16_t *ret_page, char **ret_error);
/* The page-th page (from 1) of total entities is [*ret_start, *ret_end); *ret_next says whether
 * a token for the next page goes with it. As in fleet, a full page always has one, so a total
 * that is a multiple of the limit ends with an empty page; a page past the end is empty and
 * has none. */
void fleet_page_bounds(size_t total, uint16_t page, size_t *ret_start, size_t *ret_end, bool *ret_next);

/* ---- entities ---- */

/* fleet's currentState of a unit that is not global: "inactive" until it is scheduled on a
 * machine (machine NULL: nowhere) and that machine's agent reported a state (state NULL: none);
 * then "launched" while systemd says it is active, activating, deactivating or reloading, or
 * failed while desired launched (fleet's agent kept a failed unit launched), else "loaded". */
const char *fleet_current_state(const char *machine, const StateRecord *state, UnitDesiredState desired);

/* fleet's UnitState of s with hash as its hash (NULL: s's own). systemdLoadState is s's load
 * state or, when the agent did not learn it, "loaded" for a unit in any active state but
 * "inactive" (systemd has only loaded units in those). NULL on OOM. */
json_t *fleet_state_json(const StateRecord *s, const char *hash);
/* fleet's Machine of m: id, metadata (the last value of a repeated key), primaryIP (m's ip).
 * NULL on OOM. */
json_t *fleet_machine_json(const MachineRecord *m);
/* {"error":{"code":status,"message":message}}. NULL on OOM. */
json_t *fleet_error_json(unsigned status, const char *message);

/* The discovery document fleet serves at /fleet/v1/discovery (Google's discovery format: the
 * schemas above and the methods Machines.List, Units.List/Get/Set/Delete, UnitState.List/Get),
 * as JSON text. */
extern const char fleet_discovery_json[];

/* ---- a snapshot of etcd, and what fleet's lists and gets make of it ---- */

typedef struct FleetSnapshot FleetSnapshot;

int fleet_snapshot_new(FleetSnapshot **ret);
FleetSnapshot *fleet_snapshot_free(FleetSnapshot *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(FleetSnapshot *, fleet_snapshot_free);

/* Add what ranges read, in key order: a units/<name> value, a schedule/ key relative to
 * schedule/ ("<machine-id>/<name>"; the first machine of a unit counts), a state/ value, a
 * machines/ value. A record fleetd cannot read (or a unit whose contents do not parse) is left
 * out, as fleetd's own lists do. 0 or -ENOMEM. */
int fleet_snapshot_add_unit(FleetSnapshot *s, const char *value);
int fleet_snapshot_add_schedule(FleetSnapshot *s, const char *key);
int fleet_snapshot_add_state(FleetSnapshot *s, const char *value);
int fleet_snapshot_add_machine(FleetSnapshot *s, const char *value);

/* The units added so far, as fleet's Unit of each: name, options, desiredState and, unless it
 * is global ([X-Fleet] Global=), currentState and machineID (where it is scheduled). */
/* One page: {"units":[...]?, "nextPageToken"?}. 0 or -ENOMEM. */
int fleet_snapshot_units_page(const FleetSnapshot *s, uint16_t page, json_t **ret);
/* One unit. 0, -ENOENT if the snapshot has no such unit, -ENOMEM. */
int fleet_snapshot_unit(const FleetSnapshot *s, const char *name, json_t **ret);
/* The states, as fleet's UnitState, in key order (unit, then machine), those of machine_id and
 * of unit_name (each filter exact, and only if not NULL): one page {"states":[...]?,
 * "nextPageToken"?}. 0 or -ENOMEM. */
int fleet_snapshot_states_page(const FleetSnapshot *s, const char *machine_id, const char *unit_name,
                               uint16_t page, json_t **ret);
/* The first state of unit_name. 0, -ENOENT if there is none, -ENOMEM. */
int fleet_snapshot_state(const FleetSnapshot *s, const char *unit_name, json_t **ret);
/* The machines: one page {"machines":[...]?, "nextPageToken"?}. 0 or -ENOMEM. */
int fleet_snapshot_machines_page(const FleetSnapshot *s, uint16_t page, json_t **ret);
