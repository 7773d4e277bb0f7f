/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Zincati's FleetLock protocol (coreos/zincati docs/development/fleetlock/protocol.md), the
 * words of it: a request is a POST with the header "fleet-lock-protocol: true" and the body
 * {"client_params": {"id": "...", "group": "..."}}; success is 200; an error is a 4xx or 5xx
 * with {"kind": "...", "value": "..."}, kind from a small fixed set (below). PURE. */

#include <jansson.h>

#include "basic/macros.h"

#define FLEETLOCK_HEADER "fleet-lock-protocol"

/* The kinds fleetd answers with, and their HTTP status. */
typedef enum FleetLockKind {
        FLEETLOCK_MISSING_HEADER,     /* 400: no "fleet-lock-protocol: true" */
        FLEETLOCK_INVALID_BODY,       /* 400: not {"client_params": {"id", "group"}} */
        FLEETLOCK_INVALID_GROUP,      /* 400: group is not ^[a-zA-Z0-9.-]+$ (at most 64) */
        FLEETLOCK_FORBIDDEN,          /* 403: on fleetlock_listen, an id that is not this machine's */
        FLEETLOCK_UNKNOWN_MACHINE,    /* 404: no registered machine has this id (fleetlockId) */
        FLEETLOCK_SEMAPHORE_FULL,     /* 409: "failed_lock_semaphore_full": every slot is held */
        FLEETLOCK_DRAIN_IN_PROGRESS,  /* 503: the slot is held; units are still leaving */
        FLEETLOCK_DRAIN_BLOCKED,      /* 503: the slot is held; what is left cannot leave */
        FLEETLOCK_CONTENDED,          /* 503: the group kept changing under us; try again */
        FLEETLOCK_ETCD_UNAVAILABLE,   /* 503 */
        FLEETLOCK_INTERNAL,           /* 500 */
        _FLEETLOCK_KIND_MAX,
        _FLEETLOCK_KIND_INVALID = -EINVAL,
} FleetLockKind;

/* "missing_header", ..., "failed_lock_semaphore_full", ...; NULL out of range. */
const char *fleetlock_kind_to_string(FleetLockKind k);
/* The HTTP status of a kind; 500 out of range. */
unsigned fleetlock_kind_status(FleetLockKind k);

/* {"kind": ..., "value": value}; value must not be empty. NULL on OOM. */
json_t *fleetlock_error_json(FleetLockKind k, const char *value);

typedef struct FleetLockRequest {
        char *id;                     /* client_params.id: 1-256 printable ASCII, no blanks */
        char *group;                  /* client_params.group */
} FleetLockRequest;

void fleetlock_request_done(FleetLockRequest *r);

/* Reads a request: header is the value of fleet-lock-protocol (NULL if absent), body and len
 * the body (NULL: none). Fields other than client_params, id and group are ignored. Returns 0
 * and *ret; -EINVAL with *ret_kind and *ret_value (one line, allocated) saying what is wrong;
 * -ENOMEM. */
int fleetlock_request_parse(const char *header, const char *body, size_t len, FleetLockRequest *ret,
                            FleetLockKind *ret_kind, char **ret_value);

/* Whether two client ids are the same: case-insensitive, as an id128 in hex is the same id in
 * either case. */
bool fleetlock_id_equal(const char *a, const char *b);
