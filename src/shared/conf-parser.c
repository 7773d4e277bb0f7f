/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <ctype.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/un.h>
#include <syslog.h>

#include "basic/error-util.h"
#include "basic/host-port.h"
#include "basic/string-util.h"
#include "basic/strv.h"
#include "conf-parser.h"

/* All three layers go through conf_changes_add(), which parses into a ConfChanges without
 * touching the program's struct; conf_changes_commit() then only moves values, so a layer
 * cannot fail half-way. */

int conf_error(char **ret_error, const char *where, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        if (!ret_error)
                return -EINVAL;
        va_start(ap, fmt);
        r = error_setv(&msg, -EINVAL, fmt, ap);
        va_end(ap);
        if (r == -ENOMEM)
                return r;
        if (!where) {
                *ret_error = TAKE_PTR(msg);
                return -EINVAL;
        }
        return error_set(ret_error, -EINVAL, "%s: %s", where, msg);
}

/* --- parsers --- */

int conf_parse_string(const ConfKey *k, const char *s, ConfValue *ret) {
        ret->string = strdup(s);
        return ret->string ? 0 : -ENOMEM;
}

int conf_parse_path(const ConfKey *k, const char *s, ConfValue *ret) {
        if (s[0] != '/')
                return -EINVAL;
        return conf_parse_string(k, s, ret);
}

int conf_parse_socket_path(const ConfKey *k, const char *s, ConfValue *ret) {
        if (strlen(s) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                return -EINVAL;
        return conf_parse_path(k, s, ret);
}

int conf_parse_duration(const ConfKey *k, const char *s, ConfValue *ret) {
        usec_t u;
        int r;

        r = parse_duration_fraction(s, &u);
        if (r < 0 || u < k->min || (k->max > 0 && u > k->max))
                return -EINVAL;
        ret->usec = u;
        return 0;
}

int conf_parse_int(const ConfKey *k, const char *s, ConfValue *ret) {
        uint64_t max = k->max > 0 ? MIN(k->max, (uint64_t) INT_MAX) : (uint64_t) INT_MAX, v = 0;

        for (const char *p = s; *p; p++) {
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                v = v * 10 + (uint64_t) (*p - '0');
                if (v > max)
                        return -EINVAL;
        }
        if (!*s || v < k->min)
                return -EINVAL;
        ret->integer = (int) v;
        return 0;
}

int conf_parse_bool(const ConfKey *k, const char *s, ConfValue *ret) {
        int r = parse_boolean(s);

        if (r < 0)
                return r;
        ret->boolean = r;
        return 0;
}

int conf_parse_words(const ConfKey *k, const char *s, ConfValue *ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = strv_split(s, " \t", &l);
        if (r < 0)
                return r;
        if (strv_length(l) == 0)
                return -EINVAL;
        ret->strv = TAKE_PTR(l);
        return 0;
}

static bool etcd_url_is_valid(const char *s) {
        const char *host = startswith(s, "http://") ?: startswith(s, "https://");

        return host && *host && *host != '/' && !has_blanks(s);
}

/* s without one pair of double quotes around it, in place. */
static void unquote_in_place(char *s) {
        size_t n = strlen(s);

        if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
                memmove(s, s + 1, n - 2);
                s[n - 2] = 0;
        }
}

int conf_parse_etcd_servers(const ConfKey *k, const char *s, ConfValue *ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *list = NULL;
        size_t n = strlen(s);
        int r;

        if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
                list = strndup(s + 1, n - 2);
        else
                list = strdup(s);
        if (!list)
                return -ENOMEM;

        r = strv_split(list, ",", &l);
        if (r < 0)
                return r;
        if (strv_length(l) == 0)
                return -EINVAL;

        STRV_FOREACH(i, l) {
                unquote_in_place(*i);
                if (!etcd_url_is_valid(*i))
                        return -EINVAL;
        }

        ret->strv = TAKE_PTR(l);
        return 0;
}

int conf_parse_key_prefix(const ConfKey *k, const char *s, ConfValue *ret) {
        size_t n = strlen(s);

        if (has_blanks(s))
                return -EINVAL;
        if (asprintf(&ret->string, "%s%s%s", s[0] == '/' ? "" : "/", s, s[n - 1] == '/' ? "" : "/") < 0) {
                ret->string = NULL;
                return -ENOMEM;
        }
        return 0;
}

int conf_parse_metadata(const ConfKey *k, const char *s, ConfValue *ret) {
        return parse_metadata(s, &ret->metadata.pairs, &ret->metadata.n);
}

int conf_parse_host_port(const ConfKey *k, const char *s, ConfValue *ret) {
        _cleanup_free_ char *host = NULL;
        uint16_t port;
        int r;

        r = parse_host_port(s, &host, &port);
        if (r < 0)
                return r;
        return conf_parse_string(k, s, ret);
}

int conf_parse_ip(const ConfKey *k, const char *s, ConfValue *ret) {
        unsigned char buf[sizeof(struct in6_addr)];

        if (inet_pton(AF_INET, s, buf) != 1 && inet_pton(AF_INET6, s, buf) != 1)
                return -EINVAL;
        return conf_parse_string(k, s, ret);
}

int conf_parse_log_level(const ConfKey *k, const char *s, ConfValue *ret) {
        static const struct {
                const char *name;
                int level;
        } levels[] = {
                { "debug", LOG_DEBUG },
                { "info", LOG_INFO },
                { "notice", LOG_NOTICE },
                { "warning", LOG_WARNING },
                { "err", LOG_ERR },
        };

        for (size_t i = 0; i < ELEMENTSOF(levels); i++)
                if (streq(s, levels[i].name)) {
                        ret->integer = levels[i].level;
                        return 0;
                }
        return -EINVAL;
}

/* --- the table --- */

/* One key of a table: the key, its group, and its index over all groups (its slot in a
 * ConfChanges). */
typedef struct ConfSlot {
        const ConfKey *key;
        const ConfGroup *group;
        size_t index;
} ConfSlot;

static size_t conf_table_size(const ConfTable *t) {
        size_t n = 0;

        for (size_t g = 0; g < t->n_groups; g++)
                n += t->groups[g].n_keys;
        return n;
}

/* Does k's name match name[0..n)? In upper case for the environment's spelling. */
static bool key_name_matches(const ConfKey *k, const char *name, size_t n, bool upper) {
        size_t j = 0;

        while (j < n && k->name[j] &&
               name[j] == (upper ? toupper((unsigned char) k->name[j]) : k->name[j]))
                j++;
        return j == n && !k->name[j];
}

static bool conf_find(const ConfTable *t, const char *name, size_t n, bool upper, ConfSlot *ret) {
        size_t index = 0;

        for (size_t g = 0; g < t->n_groups; g++)
                for (size_t i = 0; i < t->groups[g].n_keys; i++, index++)
                        if (key_name_matches(&t->groups[g].keys[i], name, n, upper)) {
                                *ret = (ConfSlot) { &t->groups[g].keys[i], &t->groups[g], index };
                                return true;
                        }
        return false;
}

static void conf_value_done(ConfType type, ConfValue *v) {
        switch (type) {
        case CONF_STRING:
                free(v->string);
                break;
        case CONF_STRV:
                strv_free(v->strv);
                break;
        case CONF_METADATA:
                metadata_free(v->metadata.pairs, v->metadata.n);
                break;
        case CONF_USEC:
        case CONF_INT:
        case CONF_BOOL:
        case CONF_IGNORED:
                break;
        }
        *v = (ConfValue) {};
}

/* Moves *v into the key's field, freeing the old value; *v owns nothing afterwards. */
static void conf_store(void *obj, const ConfSlot *s, ConfValue *v) {
        uint8_t *base = (uint8_t *) obj + s->group->offset;
        void *p = base + s->key->offset;

        switch (s->key->type) {
        case CONF_STRING:
                free(*(char **) p);
                *(char **) p = TAKE_PTR(v->string);
                break;
        case CONF_STRV:
                strv_free(*(char ***) p);
                *(char ***) p = TAKE_PTR(v->strv);
                break;
        case CONF_USEC:
                *(usec_t *) p = v->usec;
                break;
        case CONF_INT:
                *(int *) p = v->integer;
                break;
        case CONF_BOOL:
                *(bool *) p = v->boolean;
                break;
        case CONF_METADATA: {
                size_t *n = (size_t *) (base + s->key->offset_n);

                metadata_free(*(MetadataPair **) p, *n);
                *(MetadataPair **) p = TAKE_PTR(v->metadata.pairs);
                *n = v->metadata.n;
                break;
        }
        case CONF_IGNORED:
                break;
        }
        *v = (ConfValue) {};
}

/* Calls f for every key of t, in table order. */
static void conf_foreach(const ConfTable *t, void (*f)(const ConfSlot *s, void *userdata), void *userdata) {
        size_t index = 0;

        for (size_t g = 0; g < t->n_groups; g++)
                for (size_t i = 0; i < t->groups[g].n_keys; i++, index++)
                        f(&(ConfSlot) { &t->groups[g].keys[i], &t->groups[g], index }, userdata);
}

/* --- changes: parsed values not yet stored --- */

/* One slot per key: a later value for a key replaces an earlier one, as it would in the
 * program's struct. */
typedef struct ConfChanges {
        const ConfTable *table;
        bool *set;
        ConfValue *value;
        char **notes;
} ConfChanges;

static int conf_changes_init(ConfChanges *ch, const ConfTable *t) {
        size_t n = conf_table_size(t);

        *ch = (ConfChanges) { .table = t };
        ch->set = calloc(MAX(n, 1U), sizeof(bool));
        ch->value = calloc(MAX(n, 1U), sizeof(ConfValue));
        return ch->set && ch->value ? 0 : -ENOMEM;
}

static void conf_changes_drop(const ConfSlot *s, void *userdata) {
        ConfChanges *ch = userdata;

        if (ch->set[s->index])
                conf_value_done(s->key->type, &ch->value[s->index]);
}

static void conf_changes_done(ConfChanges *ch) {
        if (ch->set && ch->value)
                conf_foreach(ch->table, conf_changes_drop, ch);
        free(ch->set);
        free(ch->value);
        strv_free(ch->notes);
        *ch = (ConfChanges) {};
}

/* Moves the pointers of *more to the end of *l, and frees the array *more. */
static int strv_append_take(char ***l, char ***more) {
        size_t a = strv_length(*l), b = strv_length(*more);
        char **n;

        if (b == 0)
                return 0;
        n = realloc(*l, (a + b + 1) * sizeof(char *));
        if (!n)
                return -ENOMEM;
        memcpy(n + a, *more, (b + 1) * sizeof(char *));
        *l = n;
        free(*more);
        *more = NULL;
        return 0;
}

typedef struct CommitArgs {
        ConfChanges *changes;
        void *obj;
} CommitArgs;

static void conf_changes_store(const ConfSlot *s, void *userdata) {
        CommitArgs *a = userdata;

        if (a->changes->set[s->index]) {
                conf_store(a->obj, s, &a->changes->value[s->index]);
                a->changes->set[s->index] = false;
        }
}

/* The notes first, the one step that can fail; then the values only move. */
static int conf_changes_commit(ConfChanges *ch, void *obj, char ***notes) {
        int r;

        if (notes) {
                r = strv_append_take(notes, &ch->notes);
                if (r < 0)
                        return r;
        }
        conf_foreach(ch->table, conf_changes_store, &(CommitArgs) { ch, obj });
        return 0;
}

static int conf_invalid(const ConfKey *k, const char *value, const char *where, char **ret_error) {
        if (k->secret)
                return conf_error(ret_error, where, "invalid value for %s (expected %s)", k->name, k->expected);
        return conf_error(ret_error, where, "invalid value for %s: '%s' (expected %s)", k->name, value,
                          k->expected);
}

static int conf_changes_note(ConfChanges *ch, const ConfKey *k, const char *where) {
        char *note = NULL;

        if (asprintf(&note, "%s: %s", where, k->note) < 0)
                return -ENOMEM;
        if (strv_push(&ch->notes, note) < 0) {
                free(note);
                return -ENOMEM;
        }
        return 0;
}

static int conf_changes_add(ConfChanges *ch, const ConfSlot *s, const char *value, const char *where,
                            char **ret_error) {
        const ConfKey *k = s->key;
        _cleanup_free_ char *v = NULL;
        ConfValue parsed = {};
        int r;

        if (k->type == CONF_IGNORED)
                return conf_changes_note(ch, k, where);

        v = strndup_trimmed(strempty(value), strlen(strempty(value)));
        if (!v)
                return -ENOMEM;

        /* Checked before the value is quoted in any message. */
        if (has_control_chars(v))
                return conf_error(ret_error, where, "invalid value for %s: it contains control characters (expected %s)",
                                  k->name, k->expected);

        if (isempty(v)) {
                if (k->default_value)
                        return conf_invalid(k, v, where, ret_error);
        } else {
                r = k->parse(k, v, &parsed);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return conf_invalid(k, v, where, ret_error);
        }

        if (ch->set[s->index])
                conf_value_done(k->type, &ch->value[s->index]);
        ch->value[s->index] = parsed;
        ch->set[s->index] = true;
        return 0;
}

static int conf_changes_add_key(ConfChanges *ch, const char *key, const char *value, const char *where,
                                char **ret_error) {
        ConfSlot s;

        if (!conf_find(ch->table, key, strlen(key), false, &s))
                return conf_error(ret_error, where, "unknown key '%s'", key);
        return conf_changes_add(ch, &s, value, where, ret_error);
}

int conf_set(const ConfTable *t, void *obj, const char *key, const char *value, const char *where,
             char ***notes, char **ret_error) {
        _cleanup_(conf_changes_done) ConfChanges ch = {};
        int r;

        r = conf_changes_init(&ch, t);
        if (r < 0)
                return r;
        r = conf_changes_add_key(&ch, key, value, where, ret_error);
        if (r < 0)
                return r;
        return conf_changes_commit(&ch, obj, notes);
}

typedef struct InitArgs {
        const ConfTable *table;
        void *obj;
        int r;
} InitArgs;

static void conf_init_one(const ConfSlot *s, void *userdata) {
        InitArgs *a = userdata;

        if (a->r < 0 || !s->key->default_value)
                return;
        /* Through the parser, so that defaults are normalized like any value. */
        a->r = conf_set(a->table, a->obj, s->key->name, s->key->default_value, "default", NULL, NULL);
}

int conf_init(const ConfTable *t, void *obj) {
        InitArgs a = { t, obj, 0 };

        conf_foreach(t, conf_init_one, &a);
        return a.r;
}

static void conf_done_one(const ConfSlot *s, void *obj) {
        ConfValue empty = {};

        conf_store(obj, s, &empty);
}

void conf_done(const ConfTable *t, void *obj) {
        if (obj)
                conf_foreach(t, conf_done_one, obj);
}

void *conf_free(const ConfTable *t, void *obj) {
        conf_done(t, obj);
        free(obj);
        return NULL;
}

int conf_new(const ConfTable *t, size_t size, void **ret) {
        void *obj;
        int r;

        obj = calloc(1, size);
        if (!obj)
                return -ENOMEM;
        r = conf_init(t, obj);
        if (r < 0) {
                conf_free(t, obj);
                return r;
        }
        *ret = obj;
        return 0;
}

/* --- the file --- */

/* State of one conf_parse_file() call, shared by the line reader and the key handler. */
typedef struct FileParser {
        const ConfTable *table;
        const char *path;
        FILE *f;
        unsigned line;                  /* the line last handed to inih */
        ConfChanges changes;
        int r;                          /* our first error, which stops the parse */
        unsigned error_line;
        char *error;
        int read_errno;
} FileParser;

static void file_parser_done(FileParser *p) {
        conf_changes_done(&p->changes);
        free(p->error);
}

static bool section_is_ours(const ConfTable *t, const char *s, size_t n) {
        _cleanup_free_ char *name = strndup_trimmed(s, n);

        return name && streq(name, t->section);
}

/* Records the parse's first error, which stops it; returns r. */
static int file_parser_fail(FileParser *p, int r) {
        p->r = r;
        p->error_line = p->line;
        return r;
}

/* "path:line: " and the message into p->error; returns -EINVAL (or -ENOMEM). */
static int file_parser_error(FileParser *p, const char *fmt, ...) _printf_(2, 3);
static int file_parser_error(FileParser *p, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_setv(&msg, -EINVAL, fmt, ap);
        va_end(ap);
        if (r == -ENOMEM)
                return r;
        return conf_error(&p->error, NULL, "%s:%u: %s", p->path, p->line, msg);
}

/* Checks one line before inih sees it; returns 0 or a negative errno (with p->error). */
static int file_parser_check_line(FileParser *p, char *line, int size) {
        size_t n = strlen(line), skip;

        if (p->line > CONF_FILE_LINES_MAX)
                return file_parser_error(p, "file too long (at most %u lines)", CONF_FILE_LINES_MAX);

        /* fgets() stopped at the buffer's end: the rest of the line would reach inih as a
         * line of its own. A line that just fills the buffer is fine. */
        if (n > 0 && line[n - 1] != '\n') {
                int ch = getc(p->f);

                if (ch != EOF && ch != '\n')
                        return file_parser_error(p, "line too long (at most %d characters)", size - 1);
        }

        /* inih takes an indented line as the continuation of the previous value, which
         * would turn "  agent_ttl = 5s" into part of another key. No continuations here. */
        skip = strspn(line, " \t");
        memmove(line, line + skip, n - skip + 1);

        /* inih never calls the handler for an empty section, so check sections here. */
        if (line[0] == '[') {
                const char *end = strchr(line, ']');

                if (end && !section_is_ours(p->table, line + 1, end - line - 1))
                        return file_parser_error(p, "unknown section %.*s (expected [%s], or keys before any section)",
                                                 (int) (end - line + 1), line, p->table->section);
        }
        return 0;
}

static char *file_parser_read(char *line, int size, void *userdata) {
        FileParser *p = userdata;
        int r;

        if (p->r < 0)
                return NULL;

        if (!fgets(line, size, p->f)) {
                if (ferror(p->f))
                        p->read_errno = errno > 0 ? errno : EIO;
                return NULL;
        }
        p->line++;

        r = file_parser_check_line(p, line, size);
        if (r < 0) {
                file_parser_fail(p, r);
                return NULL;
        }
        return line;
}

/* s without one pair of double or single quotes around it, in place: fleet's files quoted
 * values (metadata="region=us-west"), and its INI reader took both kinds. */
static char *unquote(char *s) {
        size_t n = strlen(s);

        if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
                s[n - 1] = 0;
                return s + 1;
        }
        return s;
}

static int file_parser_add(FileParser *p, const char *section, const char *name, const char *value) {
        _cleanup_free_ char *where = NULL, *v = NULL;

        /* Already refused by file_parser_check_line(); this keeps the handler safe alone. */
        if (!isempty(section) && !section_is_ours(p->table, section, strlen(section)))
                return file_parser_error(p, "unknown section [%s]", section);

        if (asprintf(&where, "%s:%u", p->path, p->line) < 0)
                return -ENOMEM;
        /* Trimmed before the quotes come off: inih leaves blanks before an inline comment. */
        v = strndup_trimmed(strempty(value), strlen(strempty(value)));
        if (!v)
                return -ENOMEM;

        return conf_changes_add_key(&p->changes, name, unquote(v), where, &p->error);
}

/* inih's handler: nonzero for success. */
static int file_parser_handle(void *userdata, const char *section, const char *name, const char *value) {
        FileParser *p = userdata;
        int r;

        /* inih goes on after a syntax error; once we know the file is bad, stop adding. */
        if (p->r < 0)
                return 0;

        r = file_parser_add(p, section, name, value);
        if (r < 0) {
                file_parser_fail(p, r);
                return 0;
        }
        return 1;
}

int conf_parse_file(const ConfTable *t, void *obj, const char *path, char ***notes, char **ret_error) {
        _cleanup_(file_parser_done) FileParser p = { .table = t, .path = path };
        _cleanup_(fclosep) FILE *f = NULL;
        int r;

        r = conf_changes_init(&p.changes, t);
        if (r < 0)
                return r;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        p.f = f;

        r = ini_parse_stream(file_parser_read, &p, file_parser_handle, &p);
        if (r == -2)
                return -ENOMEM;
        if (p.read_errno > 0)
                return -p.read_errno;

        /* inih returns the first bad line, be it a syntax error or one our handler refused.
         * A syntax error before our error is the one to report. */
        if (r > 0 && (p.r == 0 || (unsigned) r < p.error_line))
                return conf_error(ret_error, NULL, "%s:%d: syntax error (expected key = value, [%s] or a comment)",
                                  path, r, t->section);
        if (p.r < 0) {
                if (ret_error && p.error)
                        *ret_error = TAKE_PTR(p.error);
                return p.r;
        }

        return conf_changes_commit(&p.changes, obj, notes);
}

/* --- the environment --- */

static const char *path_basename(const char *path) {
        const char *slash = strrchr(strempty(path), '/');

        return slash ? slash + 1 : strempty(path);
}

static int conf_env_add(ConfChanges *ch, const char *var, const char *name, const char *value, char **ret_error) {
        const ConfTable *t = ch->table;
        ConfSlot s;

        if (!conf_find(t, name, strlen(name), true, &s))
                return conf_error(ret_error, NULL,
                                  "unknown environment variable %s (expected %sCONFIG, or %s and a key of %s in upper case)",
                                  var, t->env_prefix, t->env_prefix, path_basename(t->default_path));
        return conf_changes_add(ch, &s, value, var, ret_error);
}

int conf_apply_env(const ConfTable *t, void *obj, char * const *envp, char ***notes, char **ret_error) {
        _cleanup_(conf_changes_done) ConfChanges ch = {};
        int r;

        if (!t->env_prefix)
                return 0;
        r = conf_changes_init(&ch, t);
        if (r < 0)
                return r;

        STRV_FOREACH(e, envp) {
                _cleanup_free_ char *var = NULL;
                const char *eq = strchr(*e, '=');

                if (!eq || !startswith(*e, t->env_prefix))
                        continue;
                var = strndup(*e, eq - *e);
                if (!var)
                        return -ENOMEM;
                if (streq(var + strlen(t->env_prefix), "CONFIG"))
                        continue;

                r = conf_env_add(&ch, var, var + strlen(t->env_prefix), eq + 1, ret_error);
                if (r < 0)
                        return r;
        }

        return conf_changes_commit(&ch, obj, notes);
}

/* --- flags --- */

/* One flag at argv[*i]: --key=value, or --key and the value in the next argument. */
static int conf_args_add(ConfChanges *ch, int argc, char * const *argv, int *i, char **ret_error) {
        _cleanup_free_ char *key = NULL, *where = NULL;
        const char *a = argv[*i], *eq, *value;

        if (!startswith(a, "--") || !a[2])
                return conf_error(ret_error, NULL, "unexpected argument '%s'", a);

        eq = strchr(a, '=');
        if (eq) {
                key = strndup(a + 2, eq - a - 2);
                value = eq + 1;
        } else if (*i + 1 < argc) {
                key = strdup(a + 2);
                value = argv[++*i];
        } else
                return conf_error(ret_error, NULL, "%s needs a value", a);
        if (!key || asprintf(&where, "--%s", key) < 0)
                return -ENOMEM;

        return conf_changes_add_key(ch, key, value, where, ret_error);
}

int conf_apply_args(const ConfTable *t, void *obj, int argc, char * const *argv, char ***notes,
                    char **ret_error) {
        _cleanup_(conf_changes_done) ConfChanges ch = {};
        int r;

        r = conf_changes_init(&ch, t);
        if (r < 0)
                return r;

        for (int i = 1; i < argc; i++) {
                /* The file, read before: see conf_explicit_path(). */
                if (startswith(argv[i], "--config="))
                        continue;
                if (streq(argv[i], "--config")) {
                        if (++i >= argc)
                                return conf_error(ret_error, NULL, "--config needs a value");
                        continue;
                }
                r = conf_args_add(&ch, argc, argv, &i, ret_error);
                if (r < 0)
                        return r;
        }

        return conf_changes_commit(&ch, obj, notes);
}

/* --- all layers --- */

const char *conf_explicit_path(const ConfTable *t, int argc, char * const *argv, char * const *envp) {
        for (int i = 1; i < argc; i++) {
                const char *v = startswith(argv[i], "--config=");

                if (v)
                        return v;
                if (streq(argv[i], "--config") && i + 1 < argc)
                        return argv[i + 1];
        }

        if (!t->env_prefix)
                return NULL;
        STRV_FOREACH(e, envp) {
                const char *v = startswith(*e, t->env_prefix);

                v = v ? startswith(v, "CONFIG=") : NULL;
                if (v)
                        return v;
        }
        return NULL;
}

/* The file layer: the explicit file, else the default one, else the fallback, else none. */
static int conf_load_file(const ConfTable *t, void *obj, const char *explicit_path, const char **ret_path,
                          char ***notes, char **ret_error) {
        int r;

        *ret_path = explicit_path ?: t->default_path;
        r = *ret_path ? conf_parse_file(t, obj, *ret_path, notes, ret_error) : -ENOENT;
        if (r != -ENOENT || explicit_path)
                return r;

        *ret_path = t->fallback_path;
        r = *ret_path ? conf_parse_file(t, obj, *ret_path, notes, ret_error) : -ENOENT;
        if (r != -ENOENT)
                return r;

        *ret_path = NULL;
        return 0;
}

int conf_load(const ConfTable *t, void *obj, int argc, char * const *argv, char * const *envp,
              const char **ret_path, char ***notes, char **ret_error) {
        const char *path = NULL;
        int r;

        r = conf_load_file(t, obj, conf_explicit_path(t, argc, argv, envp), &path, notes, ret_error);
        if (ret_path)
                *ret_path = path;
        if (r < 0)
                return r;

        r = conf_apply_env(t, obj, envp, notes, ret_error);
        if (r < 0)
                return r;
        r = conf_apply_args(t, obj, argc, argv, notes, ret_error);
        if (r < 0)
                return r;
        return t->verify ? t->verify(obj, ret_error) : 0;
}
