/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "basic/error-util.h"
#include "basic/host-port.h"
#include "route.h"

void route_done(Route *r) {
        if (!r)
                return;
        route_record_done(&r->record);
        *r = (Route) {};
}

Route *route_free(Route *r) {
        route_done(r);
        free(r);
        return NULL;
}

int route_parse(const char *name, const char *value, Route *ret, char **ret_error) {
        _cleanup_(route_done) Route r = {};
        char text[INET6_ADDRSTRLEN];
        int k;

        k = route_record_parse(name, value, &r.record, ret_error);
        if (k < 0)
                return k == -EBADMSG ? -EINVAL : k;

        /* The config gets the canonical form of the address. */
        if (parse_ip_address(r.record.host, &r.family, r.addr) < 0 || !inet_ntop(r.family, r.addr, text, sizeof(text)))
                return error_set(ret_error, -EINVAL, "\"host\" is not an IPv4 or IPv6 address");
        k = free_and_strdup(&r.record.host, text);
        if (k < 0)
                return k;

        *ret = r;
        r = (Route) {};
        return 0;
}

bool route_is_routed(const Route *r) {
        return r && streq_ptr(r->record.process, ROUTE_PROCESS_WEB);
}

bool route_is_valid(const Route *r) {
        char text[INET6_ADDRSTRLEN];
        uint8_t addr[16];
        int family;

        if (!r || route_record_check(&r->record, NULL) < 0)
                return false;
        /* The host text is what gets rendered: it must be the canonical form of the address. */
        if (parse_ip_address(r->record.host, &family, addr) < 0 || family != r->family ||
            !inet_ntop(family, addr, text, sizeof(text)))
                return false;
        return streq(text, r->record.host) && memcmp(addr, r->addr, family == AF_INET ? 4 : 16) == 0;
}

static int compare_int(long long a, long long b) {
        return (a > b) - (a < b);
}

int route_compare_ptr(const void *a, const void *b) {
        const Route *x = *(const Route * const *) a, *y = *(const Route * const *) b;
        int k;

        k = strcmp(x->record.app, y->record.app);
        if (k != 0)
                return k;
        k = compare_int(x->family == AF_INET6, y->family == AF_INET6);
        if (k != 0)
                return k;
        k = memcmp(x->addr, y->addr, sizeof(x->addr));
        if (k != 0)
                return k;
        k = compare_int(x->record.port, y->record.port);
        if (k != 0)
                return k;
        return strcmp(x->record.unit, y->record.unit);
}
