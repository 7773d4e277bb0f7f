/* SPDX-License-Identifier: Apache-2.0 */
#include "release.h"
#include "routes.h"

static const char * const route_event_table[_ROUTE_EVENT_MAX] = {
        [ROUTE_EVENT_ADDED] = "route-added",
        [ROUTE_EVENT_REMOVED] = "route-removed",
};

const char *route_event_to_string(RouteEvent e) {
        return e >= 0 && e < _ROUTE_EVENT_MAX ? route_event_table[e] : NULL;
}

bool route_wanted(const RouteView *v) {
        return v->instance && v->up && !v->draining && (!v->checked || v->health == HEALTH_PASSING);
}

bool route_awaiting_check(const RouteView *v) {
        return v->instance && v->up && !v->draining && v->checked && v->health == HEALTH_STARTING;
}

RouteWrite route_next_write(const RouteView *v, RouteStatus status, bool stale) {
        if (route_wanted(v))
                return status != ROUTE_PRESENT || stale ? ROUTE_WRITE_PUT : ROUTE_WRITE_NONE;
        if (status == ROUTE_ABSENT)
                return ROUTE_WRITE_NONE;
        if (status == ROUTE_UNKNOWN && route_awaiting_check(v))
                return ROUTE_WRITE_NONE;
        return ROUTE_WRITE_DELETE;
}

RouteStatus route_after_write(RouteWrite write, RouteStatus before, int64_t deleted, RouteEvent *ret_event) {
        switch (write) {
        case ROUTE_WRITE_PUT:
                *ret_event = before == ROUTE_PRESENT ? ROUTE_EVENT_NONE : ROUTE_EVENT_ADDED;
                return ROUTE_PRESENT;
        case ROUTE_WRITE_DELETE:
                *ret_event = before == ROUTE_PRESENT || (before == ROUTE_UNKNOWN && deleted > 0)
                                     ? ROUTE_EVENT_REMOVED
                                     : ROUTE_EVENT_NONE;
                return ROUTE_ABSENT;
        default:
                *ret_event = ROUTE_EVENT_NONE;
                return before;
        }
}

int route_record_for_unit(const char *unit, const char *host, uint16_t port, const char *machine_id,
                          RouteRecord *ret) {
        _cleanup_(route_record_done) RouteRecord rec = {};
        int r;

        if (!host || !machine_id_is_valid(machine_id))
                return -EINVAL;
        r = release_parse_instance_name(unit, &rec.app, &rec.release, &rec.process, NULL);
        if (r < 0)
                return r;
        rec.unit = strdup(unit);
        rec.host = strdup(host);
        if (!rec.unit || !rec.host)
                return -ENOMEM;
        rec.port = port;
        strcpy(rec.machine, machine_id);

        r = route_record_check(&rec, NULL);
        if (r < 0)
                return r == -EBADMSG ? -EINVAL : r;
        *ret = rec;
        rec = (RouteRecord) {};
        return 0;
}
