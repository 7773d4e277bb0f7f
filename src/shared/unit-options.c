/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <stdlib.h>

#include "basic/strv.h"
#include "unit-options.h"

void unit_options_done(UnitOptions *o) {
        free(o->machine_id);
        strv_free(o->machine_of);
        strv_free(o->machine_metadata);
        strv_free(o->conflicts);
        strv_free(o->replaces);
        *o = (UnitOptions) {};
}

/* "512M", "1G", "1048576", "infinity" -> bytes (0 = none). */
static uint64_t parse_bytes(const char *s) {
        char *end;
        if (!s || !isdigit((unsigned char) *s))
                return 0;
        unsigned long long n = strtoull(s, &end, 10);
        switch (*end) {
        case 'K': return n << 10;
        case 'M': return n << 20;
        case 'G': return n << 30;
        case 'T': return n << 40;
        case 0: return n;
        default: return 0;
        }
}

/* "50%" of one CPU -> 500 millis. */
static uint64_t parse_cpu_quota(const char *s) {
        char *end;
        if (!s || !isdigit((unsigned char) *s))
                return 0;
        unsigned long long n = strtoull(s, &end, 10);
        return streq(end, "%") ? n * 10 : 0;
}

int unit_options_parse(const UnitFile *uf, UnitOptions *ret) {
        _cleanup_(unit_options_done) UnitOptions o = {};
        const char *v;
        int r;

        if ((r = unit_file_get_all(uf, "X-Fleet", "MachineOf", &o.machine_of)) < 0 ||
            (r = unit_file_get_all(uf, "X-Fleet", "MachineMetadata", &o.machine_metadata)) < 0 ||
            (r = unit_file_get_all(uf, "X-Fleet", "Conflicts", &o.conflicts)) < 0 ||
            (r = unit_file_get_all(uf, "X-Fleet", "Replaces", &o.replaces)) < 0)
                return r;

        /* fleet allowed several space-separated values in one MachineMetadata= line */
        _cleanup_strv_free_ char **md = NULL;
        STRV_FOREACH(m, o.machine_metadata) {
                _cleanup_strv_free_ char **parts = NULL;
                if ((r = strv_split(*m, " \t", &parts)) < 0)
                        return r;
                STRV_FOREACH(p, parts)
                        if ((r = strv_extend(&md, *p)) < 0)
                                return r;
        }
        strv_free(o.machine_metadata);
        o.machine_metadata = TAKE_PTR(md);

        v = unit_file_get(uf, "X-Fleet", "MachineID");
        if (!isempty(v) && !(o.machine_id = strdup(v)))
                return -ENOMEM;
        v = unit_file_get(uf, "X-Fleet", "Global");
        o.global = v && (streq(v, "true") || streq(v, "yes") || streq(v, "1") || streq(v, "on"));
        o.memory_bytes = parse_bytes(unit_file_get(uf, "Service", "MemoryMax"));
        o.cpu_millis = parse_cpu_quota(unit_file_get(uf, "Service", "CPUQuota"));

        *ret = o;
        o = (UnitOptions) {};
        return 0;
}
