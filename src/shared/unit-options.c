/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "basic/string-util.h"
#include "basic/strv.h"
#include "unit-name.h"
#include "unit-options.h"

static bool strcaseeq(const char *a, const char *b) {
        return strcasecmp(a, b) == 0;
}

/* The [X-Fleet] keys fleet v1.0 knew (job/job.go), deprecated spellings included. */
typedef struct FleetKey {
        const char *key;
        UnitOption option;
        const char *replacement;  /* set for a deprecated spelling: the key to write instead */
        unsigned rank;            /* MachineID: which spelling wins, lowest first */
} FleetKey;

static const FleetKey fleet_keys[] = {
        { "MachineID", UNIT_OPTION_MACHINE_ID, NULL, 0 },
        { "X-ConditionMachineID", UNIT_OPTION_MACHINE_ID, "MachineID", 1 },
        { "X-ConditionMachineBootID", UNIT_OPTION_MACHINE_ID, "MachineID", 2 },
        { "MachineOf", UNIT_OPTION_MACHINE_OF, NULL, 0 },
        { "X-ConditionMachineOf", UNIT_OPTION_MACHINE_OF, "MachineOf", 0 },
        { "MachineMetadata", UNIT_OPTION_MACHINE_METADATA, NULL, 0 },
        { "X-ConditionMachineMetadata", UNIT_OPTION_MACHINE_METADATA, "MachineMetadata", 0 },
        { "Conflicts", UNIT_OPTION_CONFLICTS, NULL, 0 },
        { "X-Conflicts", UNIT_OPTION_CONFLICTS, "Conflicts", 0 },
        { "Replaces", UNIT_OPTION_REPLACES, NULL, 0 },
        { "Global", UNIT_OPTION_GLOBAL, NULL, 0 },
};

static const char *const option_names[_UNIT_OPTION_MAX] = {
        [UNIT_OPTION_MACHINE_ID] = "MachineID",
        [UNIT_OPTION_MACHINE_OF] = "MachineOf",
        [UNIT_OPTION_MACHINE_METADATA] = "MachineMetadata",
        [UNIT_OPTION_CONFLICTS] = "Conflicts",
        [UNIT_OPTION_REPLACES] = "Replaces",
        [UNIT_OPTION_GLOBAL] = "Global",
};

/* The combinations fleet refused at submit time (api/units.go, ValidateOptions). */
static const struct {
        UnitOption a, b;
} refused_pairs[] = {
        { UNIT_OPTION_MACHINE_ID, UNIT_OPTION_MACHINE_OF },
        { UNIT_OPTION_MACHINE_ID, UNIT_OPTION_CONFLICTS },
        { UNIT_OPTION_MACHINE_ID, UNIT_OPTION_GLOBAL },
        { UNIT_OPTION_MACHINE_ID, UNIT_OPTION_REPLACES },
        { UNIT_OPTION_GLOBAL, UNIT_OPTION_MACHINE_OF },
        { UNIT_OPTION_GLOBAL, UNIT_OPTION_REPLACES },
        { UNIT_OPTION_CONFLICTS, UNIT_OPTION_REPLACES },
};

const char *unit_option_to_string(UnitOption o) {
        return o >= 0 && o < _UNIT_OPTION_MAX ? option_names[o] : NULL;
}

void unit_options_done(UnitOptions *o) {
        free(o->machine_id);
        strv_free(o->machine_of);
        strv_free(o->machine_metadata);
        strv_free(o->conflicts);
        strv_free(o->replaces);
        strv_free(o->warnings);
        strv_free(o->errors);
        *o = (UnitOptions) {};
}

/* What fleet's UnitNameInfo makes of a name, for the specifiers: the full name (%n), the name
 * before its last '.' (%N), the part of that before its first '@' (%p) and the part after it
 * (%i, "" for plain names). For a template %i stays as it is: a template is never placed, and
 * its values are checked as written, as fleet checked them at submit time; each instance is
 * read with its own instance. */
typedef struct NameParts {
        const char *full;
        char *name, *prefix, *instance;
} NameParts;

static void name_parts_done(NameParts *n) {
        free(n->name);
        free(n->prefix);
        free(n->instance);
        *n = (NameParts) {};
}

/* 1 and *ret filled, 0 if the name has no '.' (fleet expanded nothing then), -ENOMEM. */
static int name_parts_from(const char *full, NameParts *ret) {
        _cleanup_(name_parts_done) NameParts n = { .full = full };
        const char *dot = full ? strrchr(full, '.') : NULL;
        const char *at;

        if (!dot)
                return 0;
        n.name = strndup(full, dot - full);
        if (!n.name)
                return -ENOMEM;
        at = strchr(n.name, '@');
        n.prefix = at ? strndup(n.name, at - n.name) : strdup(n.name);
        n.instance = strdup(!at ? "" : at[1] ? at + 1 : "%i");
        if (!n.prefix || !n.instance)
                return -ENOMEM;
        *ret = n;
        n = (NameParts) {};
        return 1;
}

typedef struct Reader {
        const char *file;
        const NameParts *parts;  /* NULL: no specifiers are expanded */
        bool is_template;
        unsigned machine_id_rank;
        UnitOptions o;
} Reader;

/* s with control characters shown as \xNN, so that a message cannot drive a terminal. */
static char *escape_controls(const char *s) {
        char *t = malloc(strlen(s) * 4 + 1), *o = t;

        if (!t)
                return NULL;
        for (const char *c = s; *c; c++)
                if ((unsigned char) *c < ' ' || *c == 0x7f)
                        o += sprintf(o, "\\x%02x", (unsigned char) *c);
                else
                        *o++ = *c;
        *o = 0;
        return t;
}

_printf_(4, 0)
static int notev(char ***list, const char *file, unsigned line, const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL;
        char *s;
        int r;

        if (vasprintf(&msg, fmt, ap) < 0)
                return -ENOMEM;
        if (has_control_chars(msg)) {
                char *e = escape_controls(msg);
                if (!e)
                        return -ENOMEM;
                free(msg);
                msg = e;
        }
        r = line > 0 ? asprintf(&s, "%s:%u: %s", file, line, msg) : asprintf(&s, "%s: %s", file, msg);
        if (r < 0)
                return -ENOMEM;
        r = strv_push(list, s);
        if (r < 0)
                free(s);
        return r;
}

_printf_(3, 4)
static int warn(Reader *r, unsigned line, const char *fmt, ...) {
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = notev(&r->o.warnings, r->file, line, fmt, ap);
        va_end(ap);
        return k;
}

_printf_(3, 4)
static int fail(Reader *r, unsigned line, const char *fmt, ...) {
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = notev(&r->o.errors, r->file, line, fmt, ap);
        va_end(ap);
        return k;
}

/* --- values --- */

/* fleet's parseMultivalueLine() (unit/unit.go): a value that starts and ends with '"' is split
 * into its quoted parts; any other value is one part. fleet split at spaces only and kept the
 * empty parts between two spaces; tabs separate too here, and empty parts are dropped. An
 * empty value, or one that is nothing but quotes, gives one empty part. */
static int split_value(const char *v, char ***ret) {
        _cleanup_strv_free_ char **parts = NULL;
        _cleanup_free_ char *cur = NULL;
        size_t n = strlen(v), k = 0;
        bool quoted = false;

        if (n < 1 || v[0] != '"' || v[n - 1] != '"')
                return strv_extend(ret, v);
        cur = malloc(n + 1);
        if (!cur)
                return -ENOMEM;
        for (size_t i = 0; i <= n; i++) {
                bool end = i == n || (!quoted && (v[i] == ' ' || v[i] == '\t'));

                if (end && k > 0) {
                        cur[k] = 0;
                        if (strv_extend(&parts, cur) < 0)
                                return -ENOMEM;
                        k = 0;
                } else if (i < n && v[i] == '"')
                        quoted = !quoted;
                else if (!end)
                        cur[k++] = v[i];
        }
        if (!parts)
                return strv_extend(ret, "");
        *ret = TAKE_PTR(parts);
        return 0;
}

/* The value of specifier c, or NULL if fleet did not expand it. */
static const char *specifier(const NameParts *n, char c) {
        switch (c) {
        case 'n': return n->full;
        case 'N': return n->name;
        case 'p': return n->prefix;
        case 'i': return n->instance;
        default: return NULL;
        }
}

/* Writes s with its specifiers expanded to out (if not NULL); returns the length. A '%' that
 * starts no specifier stays and the scan goes on after it, which gives what fleet's chain of
 * strings.Replace() gave (unit names hold no '%', so no expansion can make a new specifier). */
static size_t expand_into(const NameParts *n, const char *s, char *out, const char **ret_unknown) {
        size_t k = 0;

        for (const char *c = s; *c; c++) {
                const char *v = c[0] == '%' && c[1] ? specifier(n, c[1]) : NULL;
                size_t len = v ? strlen(v) : 1;

                if (c[0] == '%' && !v && ret_unknown && !*ret_unknown)
                        *ret_unknown = c;
                if (out)
                        memcpy(out + k, v ?: c, len);
                k += len;
                c += v ? 1 : 0;
        }
        if (out)
                out[k] = 0;
        return k;
}

static int expand(Reader *r, const char *key, const char *s, unsigned line, char **ret) {
        const char *unknown = NULL;
        char *out;

        if (!r->parts)
                return (*ret = strdup(s)) ? 0 : -ENOMEM;
        out = malloc(expand_into(r->parts, s, NULL, &unknown) + 1);
        if (!out)
                return -ENOMEM;
        (void) expand_into(r->parts, s, out, NULL);
        *ret = out;
        if (unknown)
                return warn(r, line, "%s=%s: '%%%.1s' is left as it is (fleet and fleetd expand only %%n, %%N, %%p and %%i)",
                            key, s, unknown + 1);
        return 0;
}

/* --- the options --- */

static bool is_truthy(const char *s) {
        return strcaseeq(s, "true") || strcaseeq(s, "yes") || strcaseeq(s, "1") || strcaseeq(s, "on") ||
               strcaseeq(s, "t");
}

static bool is_falsy(const char *s) {
        return strcaseeq(s, "false") || strcaseeq(s, "no") || strcaseeq(s, "0") || strcaseeq(s, "off") ||
               strcaseeq(s, "f") || isempty(s);
}

static void note_line(Reader *r, UnitOption o, unsigned line) {
        if (r->o.line[o] == 0 || o == UNIT_OPTION_GLOBAL)
                r->o.line[o] = line;
}

static int read_machine_id(Reader *r, const FleetKey *k, const char *v, unsigned line) {
        if (r->o.machine_id && r->machine_id_rank <= k->rank)
                return warn(r, line, "%s=%s is ignored: the first machine ID, %s (line %u), wins, as in fleet", k->key,
                            v, r->o.machine_id, r->o.line[UNIT_OPTION_MACHINE_ID]);
        if (r->o.machine_id) {
                int q = warn(r, r->o.line[UNIT_OPTION_MACHINE_ID], "the machine ID %s is ignored: %s=%s (line %u) wins, as in fleet",
                             r->o.machine_id, k->key, v, line);
                if (q < 0)
                        return q;
        }
        if (free_and_strdup(&r->o.machine_id, v) < 0)
                return -ENOMEM;
        r->machine_id_rank = k->rank;
        r->o.line[UNIT_OPTION_MACHINE_ID] = line;
        return 0;
}

/* MachineOf= and Replaces= name units exactly: a name no unit can have is worth a word. */
static int check_unit_name(Reader *r, const FleetKey *k, const char *name, unsigned line) {
        /* Templates are never placed (their instances are read on their own), and without the
         * unit's name the specifiers are not expanded: nothing to judge. */
        if (r->is_template || !r->parts)
                return 0;
        if (k->option == UNIT_OPTION_MACHINE_OF && r->parts && streq(name, r->parts->full))
                return warn(r, line, "%s=%s names this unit itself: it can never be placed", k->key, name);
        if (unit_name_is_valid(name, UNIT_NAME_PLAIN | UNIT_NAME_INSTANCE))
                return 0;
        return warn(r, line, "%s=%s: no unit can have this name (not a unit name, or a template)%s", k->key, name,
                    k->option == UNIT_OPTION_MACHINE_OF ? ", so this unit is never placed" : "; it does nothing");
}

/* Several names on one line, split at blanks: unit names hold none. */
static int read_names(Reader *r, const FleetKey *k, const char *v, unsigned line, char ***list) {
        _cleanup_strv_free_ char **names = NULL;
        int q;

        if (strv_split(v, " \t", &names) < 0)
                return -ENOMEM;
        if (strv_length(names) > 1 && k->option != UNIT_OPTION_CONFLICTS &&
            (q = warn(r, line, "%s=%s: read as %zu unit names (fleet read it as one name, which no unit can have)",
                      k->key, v, strv_length(names))) < 0)
                return q;
        STRV_FOREACH(n, names) {
                if (k->option != UNIT_OPTION_CONFLICTS && (q = check_unit_name(r, k, *n, line)) < 0)
                        return q;
                if (strv_extend(list, *n) < 0)
                        return -ENOMEM;
        }
        note_line(r, k->option, line);
        return 0;
}

/* fleet took "key=value" with exactly one '=' and both sides set, and ignored anything else. */
static bool is_pair(const char *s) {
        const char *eq = strchr(s, '=');

        return eq && eq != s && eq[1] && !strchr(eq + 1, '=');
}

static bool all_pairs(char **words) {
        STRV_FOREACH(w, words)
                if (!is_pair(*w))
                        return false;
        return true;
}

static int read_metadata(Reader *r, const FleetKey *k, const char *v, unsigned line) {
        _cleanup_strv_free_ char **words = NULL;

        if (is_pair(v)) {
                note_line(r, k->option, line);
                return strv_extend(&r->o.machine_metadata, v);
        }
        if (!strchr(v, '"') && strv_split(v, " \t", &words) < 0)
                return -ENOMEM;
        if (strv_length(words) < 2 || !all_pairs(words))
                return warn(r, line, "%s=%s is not key=value and is ignored, as fleet ignored it", k->key, v);
        STRV_FOREACH(w, words)
                if (strv_extend(&r->o.machine_metadata, *w) < 0)
                        return -ENOMEM;
        note_line(r, k->option, line);
        return warn(r, line,
                    "%s=%s: read as %zu key=value pairs, but fleet ignored this value (it is not one pair); quote "
                    "each pair (\"k=v\" \"k2=v2\") to be read the same by both",
                    k->key, v, strv_length(words));
}

static int read_global(Reader *r, const char *v, unsigned line) {
        r->o.global = is_truthy(v);
        note_line(r, UNIT_OPTION_GLOBAL, line);
        if (!r->o.global && !is_falsy(v))
                return warn(r, line, "Global=%s is neither true nor false: read as false, as fleet read it", v);
        return 0;
}

static int read_value(Reader *r, const FleetKey *k, const char *v, unsigned line) {
        if (isempty(v) && k->option != UNIT_OPTION_GLOBAL)
                return warn(r, line, "empty %s= is ignored (in [X-Fleet] it does not reset earlier values)", k->key);
        switch (k->option) {
        case UNIT_OPTION_MACHINE_ID:
                return read_machine_id(r, k, v, line);
        case UNIT_OPTION_MACHINE_OF:
                return read_names(r, k, v, line, &r->o.machine_of);
        case UNIT_OPTION_CONFLICTS:
                return read_names(r, k, v, line, &r->o.conflicts);
        case UNIT_OPTION_REPLACES:
                return read_names(r, k, v, line, &r->o.replaces);
        case UNIT_OPTION_MACHINE_METADATA:
                return read_metadata(r, k, v, line);
        case UNIT_OPTION_GLOBAL:
                return read_global(r, v, line);
        default:
                return 0;
        }
}

/* --- keys --- */

static const FleetKey *fleet_key_find(const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(fleet_keys); i++)
                if (streq(fleet_keys[i].key, key))
                        return &fleet_keys[i];
        return NULL;
}

/* The optimal string alignment distance of a and b, ignoring case; large for long strings. */
static size_t edit_distance(const char *a, const char *b) {
        size_t n = strlen(a), m = strlen(b), d[40][40];

        if (n >= ELEMENTSOF(d) || m >= ELEMENTSOF(d))
                return SIZE_MAX;
        for (size_t i = 0; i <= n; i++)
                for (size_t j = 0; j <= m; j++) {
                        bool same = i > 0 && j > 0 && tolower((unsigned char) a[i - 1]) == tolower((unsigned char) b[j - 1]);

                        if (i == 0 || j == 0) {
                                d[i][j] = i + j;
                                continue;
                        }
                        d[i][j] = MIN(MIN(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + !same);
                        if (i > 1 && j > 1 && tolower((unsigned char) a[i - 1]) == tolower((unsigned char) b[j - 2]) &&
                            tolower((unsigned char) a[i - 2]) == tolower((unsigned char) b[j - 1]))
                                d[i][j] = MIN(d[i][j], d[i - 2][j - 2] + 1);
                }
        return d[n][m];
}

/* The known key that key is most likely a typo of, or NULL. */
static const char *key_lookalike(const char *key) {
        const char *best = NULL;
        size_t best_d = 3;  /* at most 2 edits away, or only the case differs */

        for (size_t i = 0; i < ELEMENTSOF(fleet_keys); i++) {
                size_t d = strcaseeq(key, fleet_keys[i].key) ? 0 : edit_distance(key, fleet_keys[i].key);

                if (d < best_d) {
                        best = fleet_keys[i].key;
                        best_d = d;
                }
        }
        return best;
}

static int read_entry(Reader *r, const UnitFileEntry *e) {
        _cleanup_strv_free_ char **parts = NULL;
        const FleetKey *k = fleet_key_find(e->key);
        const char *like;
        int q;

        if (!k) {
                like = key_lookalike(e->key);
                return like ? warn(r, e->line, "unknown [X-Fleet] key %s= is ignored; did you mean %s=?", e->key, like)
                            : warn(r, e->line, "unknown [X-Fleet] key %s= is ignored", e->key);
        }
        if (k->replacement && (q = warn(r, e->line, "%s= is deprecated; write %s= (read the same)", k->key,
                                        k->replacement)) < 0)
                return q;
        if (split_value(e->value, &parts) < 0)
                return -ENOMEM;
        STRV_FOREACH(p, parts) {
                _cleanup_free_ char *v = NULL;

                if ((q = expand(r, k->key, *p, e->line, &v)) < 0 || (q = read_value(r, k, v, e->line)) < 0)
                        return q;
        }
        return 0;
}

/* --- the checks --- */

static bool option_present(const Reader *r, UnitOption o) {
        return o == UNIT_OPTION_GLOBAL ? r->o.global : r->o.line[o] > 0;
}

static const char *option_spelled(UnitOption o) {
        return o == UNIT_OPTION_GLOBAL ? "Global=true" : unit_option_to_string(o);
}

static int check_pairs(Reader *r) {
        int q;

        for (size_t i = 0; i < ELEMENTSOF(refused_pairs); i++) {
                UnitOption a = refused_pairs[i].a, b = refused_pairs[i].b;

                if (!option_present(r, a) || !option_present(r, b))
                        continue;
                q = fail(r, r->o.line[a], "%s%s cannot be used with %s%s (line %u); fleet refuses this too",
                         option_spelled(a), a == UNIT_OPTION_GLOBAL ? "" : "=", option_spelled(b),
                         b == UNIT_OPTION_GLOBAL ? "" : "=", r->o.line[b]);
                if (q < 0)
                        return q;
        }
        return 0;
}

/* A MachineOf its own Conflicts or Replaces keep it away from. */
static int check_peers(Reader *r) {
        int q;

        STRV_FOREACH(m, r->o.machine_of) {
                STRV_FOREACH(c, r->o.conflicts)
                        if (fnmatch(*c, *m, 0) == 0 &&
                            (q = fail(r, r->o.line[UNIT_OPTION_MACHINE_OF],
                                      "MachineOf=%s is matched by Conflicts=%s (line %u): the unit could never be "
                                      "placed; fleet refuses this too",
                                      *m, *c, r->o.line[UNIT_OPTION_CONFLICTS])) < 0)
                                return q;
                if (strv_contains(r->o.replaces, *m) &&
                    (q = fail(r, r->o.line[UNIT_OPTION_MACHINE_OF],
                              "MachineOf=%s is also in Replaces= (line %u): the unit could never be placed; fleet "
                              "refuses this too", *m,
                              r->o.line[UNIT_OPTION_REPLACES])) < 0)
                        return q;
        }
        return 0;
}

static int check_file(Reader *r, const UnitFile *uf) {
        size_t len = 0;
        unsigned line;
        int q;

        line = unit_file_ignored_line(uf);
        if (line > 0 && (q = warn(r, line, "text before the first [Section] header is ignored")) < 0)
                return q;
        UNIT_FILE_FOREACH_SECTION(s, uf)
                if (strcaseeq(s.name, "X-Fleet") && !streq(s.name, "X-Fleet") &&
                    (q = warn(r, s.line, "[%s] is not [X-Fleet] (section names are case-sensitive): its options are "
                              "ignored, as fleet ignored them", s.name)) < 0)
                        return q;
        line = unit_file_long_line(uf, UNIT_OPTIONS_LINE_MAX - 1, &len);
        if (line > 0)
                return fail(r, line, "line is %zu bytes long; fleet refuses lines of %zu bytes or more", len,
                            UNIT_OPTIONS_LINE_MAX);
        return 0;
}

/* --- capacity --- */

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

static int lists_init(UnitOptions *o) {
        char ***lists[] = { &o->machine_of, &o->machine_metadata, &o->conflicts, &o->replaces,
                            &o->warnings, &o->errors };

        for (size_t i = 0; i < ELEMENTSOF(lists); i++)
                if (!*lists[i] && !(*lists[i] = calloc(1, sizeof(char *))))
                        return -ENOMEM;
        return 0;
}

int unit_options_parse(const UnitFile *uf, const char *name, const char *filename, UnitOptions *ret) {
        _cleanup_(name_parts_done) NameParts parts = {};
        Reader r = { .file = filename ?: name ?: "<input>" };
        int q;

        q = name_parts_from(name, &parts);
        if (q < 0)
                return q;
        r.parts = q > 0 ? &parts : NULL;
        r.is_template = name && unit_name_is_template(name);

        q = check_file(&r, uf);
        UNIT_FILE_FOREACH_ENTRY(e, uf, "X-Fleet")
                if (q >= 0)
                        q = read_entry(&r, &e);
        if (q >= 0)
                q = check_pairs(&r);
        if (q >= 0)
                q = check_peers(&r);
        if (q >= 0)
                q = lists_init(&r.o);
        if (q < 0) {
                unit_options_done(&r.o);
                return q;
        }
        r.o.memory_bytes = parse_bytes(unit_file_get(uf, "Service", "MemoryMax"));
        r.o.cpu_millis = parse_cpu_quota(unit_file_get(uf, "Service", "CPUQuota"));
        *ret = r.o;
        return 0;
}
