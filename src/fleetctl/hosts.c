/* SPDX-License-Identifier: Apache-2.0 */
/* HOST arguments and the order of a rolling reboot (see hosts.h). */
#include <strings.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "hosts.h"

void host_done(Host *h) {
        free(h->id);
        free(h->name);
        free(h->boot_id);
        *h = (Host) {};
}

char *host_display_name(const char *id, const char *hostname) {
        char *s;

        if (!isempty(hostname))
                return strdup(hostname);
        if (asprintf(&s, "%.8s%s", strempty(id), strlen(strempty(id)) > 8 ? "..." : "") < 0)
                return NULL;
        return s;
}

static int host_fill(const char *id, const char *hostname, const char *boot_id, bool present, Host *ret) {
        Host h = { .present = present };

        if (isempty(id))
                return -EBADMSG;
        h.id = strdup(id);
        h.name = host_display_name(id, hostname);
        if (boot_id)
                h.boot_id = strdup(boot_id);
        if (!h.id || !h.name || (boot_id && !h.boot_id)) {
                host_done(&h);
                return -ENOMEM;
        }
        *ret = h;
        return 0;
}

int host_from_machine(const json_t *machine, Host *ret) {
        return host_fill(jx_str(machine, "id"), jx_str(machine, "hostname"), jx_str(machine, "bootId"), true, ret);
}

int host_from_drain(const json_t *drain, Host *ret) {
        return host_fill(jx_str(drain, "machine"), NULL, NULL, false, ret);
}

typedef enum MatchRule {
        MATCH_ID,
        MATCH_HOSTNAME,
        MATCH_IP,
        MATCH_PREFIX,
        _MATCH_RULE_MAX,
} MatchRule;

static bool machine_matches(const json_t *m, const char *id_key, MatchRule rule, const char *arg) {
        const char *id = jx_str(m, id_key), *hostname = jx_str(m, "hostname"), *ip = jx_str(m, "ip");

        switch (rule) {
        case MATCH_ID:
                return streq_ptr(id, arg);
        case MATCH_HOSTNAME:
                return hostname && strcasecmp(hostname, arg) == 0;
        case MATCH_IP:
                return streq_ptr(ip, arg);
        case MATCH_PREFIX:
                return id && strncasecmp(id, arg, strlen(arg)) == 0;
        default:
                return false;
        }
}

bool host_needs_drains(const json_t *machines, const char *arg) {
        const json_t *m;
        size_t i;

        for (MatchRule rule = MATCH_ID; rule < MATCH_PREFIX; rule++)
                json_array_foreach(machines, i, m)
                        if (machine_matches(m, "id", rule, arg))
                                return false;
        return true;
}

/* "<id>  <hostname>  <ip>" of a candidate; a down one says so. */
static int candidate_add(char ***list, const json_t *m, bool present) {
        _cleanup_free_ char *line = NULL;
        const char *id = present ? jx_str(m, "id") : jx_str(m, "machine");

        if (present &&
            asprintf(&line, "%s  %s  %s", strna(id), strna(jx_str(m, "hostname")), strna(jx_str(m, "ip"))) < 0)
                return -ENOMEM;
        if (!present && asprintf(&line, "%s  (down, draining)", strna(id)) < 0)
                return -ENOMEM;
        if (strv_contains(*list, line))
                return 0;
        if (strv_push(list, line) < 0)
                return -ENOMEM;
        line = NULL;
        return 0;
}

/* The matches of one rule, the machines first, then (for ids and prefixes) the drains of
 * machines that are not registered. */
static int match_rule(const json_t *machines, const json_t *drains, MatchRule rule, const char *arg,
                      const json_t **ret_found, bool *ret_present, char ***candidates) {
        const json_t *m;
        size_t i, n = 0;
        int r;

        json_array_foreach(machines, i, m)
                if (machine_matches(m, "id", rule, arg)) {
                        r = candidate_add(candidates, m, true);
                        if (r < 0)
                                return r;
                        *ret_found = m;
                        *ret_present = true;
                        n++;
                }
        if (rule != MATCH_ID && rule != MATCH_PREFIX)
                return (int) MIN(n, (size_t) 2);
        json_array_foreach(drains, i, m) {
                const char *id = jx_str(m, "machine");
                bool registered = false;
                const json_t *x;
                size_t k;

                if (!machine_matches(m, "machine", rule, arg))
                        continue;
                json_array_foreach(machines, k, x)
                        registered = registered || streq_ptr(jx_str(x, "id"), id);
                if (registered)
                        continue;
                r = candidate_add(candidates, m, false);
                if (r < 0)
                        return r;
                *ret_found = m;
                *ret_present = false;
                n++;
        }
        return (int) MIN(n, (size_t) 2);
}

int host_find(const json_t *machines, const json_t *drains, const char *arg, Host *ret, char ***ret_candidates) {
        _cleanup_strv_free_ char **candidates = NULL;
        const json_t *found = NULL;
        bool present = false;
        int n;

        if (isempty(arg))
                return -ENOENT;
        for (MatchRule rule = MATCH_ID; rule < _MATCH_RULE_MAX; rule++) {
                candidates = strv_free(candidates);
                n = match_rule(machines, drains, rule, arg, &found, &present, &candidates);
                if (n < 0)
                        return n;
                if (n == 1)
                        return present ? host_from_machine(found, ret) : host_from_drain(found, ret);
                if (n > 1) {
                        *ret_candidates = TAKE_PTR(candidates);
                        return -ENOTUNIQ;
                }
        }
        return -ENOENT;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(const char * const *) a, *(const char * const *) b);
}

int hosts_reboot_order(char * const *hosts, bool sort, const char *last, char ***ret) {
        _cleanup_strv_free_ char **order = NULL;
        bool has_last = false;

        STRV_FOREACH(h, hosts) {
                if (strv_contains(order, *h))
                        continue;
                if (streq_ptr(*h, last)) {
                        has_last = true;
                        continue;
                }
                if (strv_extend(&order, *h) < 0)
                        return -ENOMEM;
        }
        if (sort && order)
                qsort(order, strv_length(order), sizeof(char *), compare_strings);
        if (has_last && strv_extend(&order, last) < 0)
                return -ENOMEM;
        if (!order) {
                order = calloc(1, sizeof(char *));
                if (!order)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(order);
        return 0;
}
