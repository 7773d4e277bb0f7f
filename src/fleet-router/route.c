/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>

#include "registry.h"
#include "release.h"
#include "route.h"
#include "unit-name.h"

void route_done(Route *r) {
        if (!r)
                return;
        free(r->app);
        free(r->unit);
        free(r->process);
        free(r->host);
        free(r->machine);
        *r = (Route) { .release = -1 };
}

Route *route_free(Route *r) {
        route_done(r);
        free(r);
        return NULL;
}

static int route_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static int route_error(char **ret_error, const char *fmt, ...) {
        va_list ap;
        int k;

        if (!ret_error)
                return -EINVAL;
        va_start(ap, fmt);
        k = vasprintf(ret_error, fmt, ap);
        va_end(ap);
        if (k < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

/* Parses an IPv4 or IPv6 address into r's family, addr and canonical host text. */
static int route_set_address(Route *r, const char *s) {
        char text[INET6_ADDRSTRLEN];

        if (inet_pton(AF_INET, s, r->addr) == 1)
                r->family = AF_INET;
        else if (inet_pton(AF_INET6, s, r->addr) == 1)
                r->family = AF_INET6;
        else
                return -EINVAL;

        if (!inet_ntop(r->family, r->addr, text, sizeof(text)))
                return -EINVAL;
        return free_and_strdup(&r->host, text);
}

/* A string field that, when present, must equal expected. */
static int check_matches(const json_t *j, const char *field, const char *expected, char **ret_error) {
        const json_t *v = json_object_get(j, field);

        if (!v)
                return 0;
        if (!json_is_string(v) || !streq(json_string_value(v), expected))
                return route_error(ret_error, "its \"%s\" does not match the key's '%s'", field, expected);
        return 0;
}

/* Splits "<app>/<unit>" and checks both. */
static int route_parse_name(const char *name, Route *r, char **ret_error) {
        const char *slash = name ? strchr(name, '/') : NULL;

        if (!slash)
                return route_error(ret_error, "the key is not routes/<app>/<unit>");
        r->app = strndup(name, slash - name);
        r->unit = strdup(slash + 1);
        if (!r->app || !r->unit)
                return -ENOMEM;
        if (!release_app_name_is_valid(r->app))
                return route_error(ret_error, "the app name in the key is not [a-z][a-z0-9-]* of at most %d characters",
                                   RELEASE_APP_NAME_MAX);
        if (!unit_name_is_valid(r->unit, UNIT_NAME_PLAIN | UNIT_NAME_INSTANCE))
                return route_error(ret_error, "the unit name in the key is not a valid unit name");
        return 0;
}

/* "process" from the record, else from the instance unit name. */
static int route_parse_process(const json_t *j, Route *r, char **ret_error) {
        const json_t *v = json_object_get(j, "process");
        _cleanup_free_ char *app = NULL;
        int k;

        if (v) {
                if (!json_is_string(v) || !release_process_name_is_valid(json_string_value(v)))
                        return route_error(ret_error, "\"process\" is not a process name");
                return free_and_strdup(&r->process, json_string_value(v));
        }

        k = release_parse_instance_name(r->unit, &app, NULL, &r->process, NULL);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                return route_error(ret_error, "it has no \"process\" and its unit is not an app instance");
        if (!streq(app, r->app))
                return route_error(ret_error, "its unit belongs to app '%s'", app);
        return 0;
}

static int route_parse_endpoint(const json_t *j, Route *r, char **ret_error) {
        const json_t *host = json_object_get(j, "host"), *port = json_object_get(j, "port");
        int k;

        if (!json_is_string(host))
                return route_error(ret_error, "\"host\" is missing or not a string");
        k = route_set_address(r, json_string_value(host));
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                return route_error(ret_error, "\"host\" is not an IPv4 or IPv6 address");

        if (!json_is_integer(port) || json_integer_value(port) < 1 || json_integer_value(port) > 65535)
                return route_error(ret_error, "\"port\" is missing or not an integer from 1 to 65535");
        r->port = (uint16_t) json_integer_value(port);
        return 0;
}

static int route_parse_extra(const json_t *j, Route *r, char **ret_error) {
        const json_t *release = json_object_get(j, "release"), *machine = json_object_get(j, "machine");

        if (release) {
                if (!json_is_integer(release) || json_integer_value(release) < 0)
                        return route_error(ret_error, "\"release\" is not a non-negative integer");
                r->release = json_integer_value(release);
        }
        if (machine) {
                /* Only logged, but still not just anything. */
                if (!json_is_string(machine) || !machine_id_is_valid(json_string_value(machine)))
                        return route_error(ret_error, "\"machine\" is not a machine id");
                return free_and_strdup(&r->machine, json_string_value(machine));
        }
        return 0;
}

int route_parse(const char *name, const char *value, Route *ret, char **ret_error) {
        _cleanup_(route_done) Route r = { .release = -1 };
        json_auto_t *j = NULL;
        json_error_t e;
        int k;

        k = route_parse_name(name, &r, ret_error);
        if (k < 0)
                return k;

        if (!value || strlen(value) > ROUTE_VALUE_MAX)
                return route_error(ret_error, "the value is empty or longer than %d bytes", ROUTE_VALUE_MAX);
        j = json_loads(value, JSON_REJECT_DUPLICATES, &e);
        if (!json_is_object(j))
                return route_error(ret_error, "the value is not a JSON object");

        if ((k = check_matches(j, "app", r.app, ret_error)) < 0 ||
            (k = check_matches(j, "unit", r.unit, ret_error)) < 0 ||
            (k = route_parse_process(j, &r, ret_error)) < 0 ||
            (k = route_parse_endpoint(j, &r, ret_error)) < 0 ||
            (k = route_parse_extra(j, &r, ret_error)) < 0)
                return k;

        *ret = r;
        r = (Route) { .release = -1 };
        return 0;
}

bool route_is_routed(const Route *r) {
        return r && streq_ptr(r->process, ROUTE_PROCESS_WEB);
}

bool route_is_valid(const Route *r) {
        uint8_t addr[16];
        char text[INET6_ADDRSTRLEN];

        if (!r || !release_app_name_is_valid(r->app) || !unit_name_is_valid(r->unit, UNIT_NAME_PLAIN | UNIT_NAME_INSTANCE) ||
            !release_process_name_is_valid(r->process) || r->port == 0 || !r->host)
                return false;
        if (r->family != AF_INET && r->family != AF_INET6)
                return false;
        /* The host text is what gets rendered: it must be the canonical form of the address. */
        if (inet_pton(r->family, r->host, addr) != 1 || !inet_ntop(r->family, addr, text, sizeof(text)))
                return false;
        return streq(text, r->host) && memcmp(addr, r->addr, r->family == AF_INET ? 4 : 16) == 0;
}

static int compare_int(long long a, long long b) {
        return (a > b) - (a < b);
}

int route_compare_ptr(const void *a, const void *b) {
        const Route *x = *(const Route * const *) a, *y = *(const Route * const *) b;
        int k;

        k = strcmp(x->app, y->app);
        if (k != 0)
                return k;
        k = compare_int(x->family == AF_INET6, y->family == AF_INET6);
        if (k != 0)
                return k;
        k = memcmp(x->addr, y->addr, sizeof(x->addr));
        if (k != 0)
                return k;
        k = compare_int(x->port, y->port);
        if (k != 0)
                return k;
        return strcmp(x->unit, y->unit);
}
