/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Routes of app instances (routes/<app>/<unit>, see RouteRecord in registry.h): the agent's
 * PURE decisions about them. The agent keeps, per instance, what etcd holds as far as its own
 * acknowledged writes tell (RouteStatus), asks route_next_write() what to write next, and after
 * etcd acknowledged a write, route_after_write() gives the new status and the hook event, if the
 * write changed the route. No I/O, no logging. */

#include <stdbool.h>
#include <stdint.h>

#include "health-state.h"
#include "registry.h"

typedef enum RouteStatus {
        ROUTE_ABSENT,                 /* no key of ours (or it was deleted) */
        ROUTE_PRESENT,                /* our put was acknowledged */
        ROUTE_UNKNOWN,                /* a unit found when fleetd started: a fleetd before may have
                                       * published its route */
} RouteStatus;

typedef enum RouteWrite {
        ROUTE_WRITE_NONE,
        ROUTE_WRITE_PUT,
        ROUTE_WRITE_DELETE,
} RouteWrite;

typedef enum RouteEvent {
        ROUTE_EVENT_NONE,
        ROUTE_EVENT_ADDED,
        ROUTE_EVENT_REMOVED,
        _ROUTE_EVENT_MAX,
} RouteEvent;

/* "route-added", "route-removed"; NULL for anything else. */
const char *route_event_to_string(RouteEvent e);

/* What the agent knows of one unit. */
typedef struct RouteView {
        bool instance;                /* an app instance with a host port, scheduled here "launched" */
        bool up;                      /* systemd says active, and no start/stop/restart of ours runs */
        bool checked;                 /* it has a health check */
        HealthState health;           /* its result so far (when checked) */
        bool draining;                /* a plan is about to stop, restart or remove it */
} RouteView;

/* True when the unit should have a route: an instance that is up, not draining, and passing
 * its check if it has one. */
bool route_wanted(const RouteView *v);

/* True when the unit is an instance that is up and not draining, has a health check, and the
 * check has not said yet (starting). A unit without a check never waits for one. */
bool route_awaiting_check(const RouteView *v);

/* The write that takes etcd where it should be: PUT when the route is wanted and not known to be
 * there (or stale: written under a lease that is gone); DELETE when it is not wanted and may be
 * there; else NONE. A route of ROUTE_UNKNOWN status whose unit is awaiting its check
 * (route_awaiting_check()) is left alone: fleetd restarted, and the route of a healthy instance
 * must not blink. */
RouteWrite route_next_write(const RouteView *v, RouteStatus status, bool stale);

/* After etcd acknowledged write (deleted: how many keys a DELETE removed; 0 when its lease
 * compare did not hold), the status the route has now, and in *ret_event the change to report:
 * ADDED when a put made a route that was not known to be there, REMOVED when a delete took away
 * one that was (or, of unknown status, that it really found), else NONE. */
RouteStatus route_after_write(RouteWrite write, RouteStatus before, int64_t deleted, RouteEvent *ret_event);

/* The record of instance unit on this machine (host, port, machine id): 0 and *ret filled in
 * (owned by the caller), -EINVAL if the record would break route_record_check()'s rules (unit
 * not an instance name, host not an IP address, port 0, machine_id not a machine id), -ENOMEM. */
int route_record_for_unit(const char *unit, const char *host, uint16_t port, const char *machine_id,
                          RouteRecord *ret);
