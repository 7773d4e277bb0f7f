/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <yaml.h>

#include "basic/error-util.h"
#include "basic/fileio.h"
#include "basic/strv.h"
#include "image-ref.h"
#include "manifest.h"

/* The tree. */

typedef enum NodeType {
        NODE_SCALAR,
        NODE_SEQUENCE,
        NODE_MAPPING,
} NodeType;

typedef struct Node Node;
struct Node {
        NodeType type;
        unsigned line, column;        /* 1-based, from libyaml's start mark */
        char *value;                  /* scalars: the text, NUL-free */
        bool plain;                   /* scalars: written without quotes or | > */
        Node **items;                 /* sequences: the items; mappings: key, value, key, value, ... */
        size_t n_items, allocated;
        Node *parent;
};

static Node *node_free(Node *n) {
        if (!n)
                return NULL;
        /* Recursion is bounded by MANIFEST_DEPTH_MAX. */
        for (size_t i = 0; i < n->n_items; i++)
                node_free(n->items[i]);
        free(n->items);
        free(n->value);
        free(n);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Node *, node_free);

typedef struct Parser {
        const char *filename;
        const char *text;
        size_t len;
        char *error;                  /* the first error's message */
        size_t n_nodes;
        bool build;                   /* manifest_parse_build(): image is optional, a repository */
} Parser;

static int failv(Parser *p, unsigned line, unsigned column, const char *path, const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL;

        if (p->error)
                return -EINVAL;
        if (error_setv(&msg, -EINVAL, fmt, ap) == -ENOMEM)
                return -ENOMEM;
        return error_set(&p->error, -EINVAL, "%s:%u:%u: %s%s%s", p->filename, line, column, strempty(path),
                         isempty(path) ? "" : ": ", msg);
}

_printf_(5, 6) static int fail_at(Parser *p, unsigned line, unsigned column, const char *path, const char *fmt,
                                  ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = failv(p, line, column, path, fmt, ap);
        va_end(ap);
        return r;
}

/* An error at node n, about the value at path ("processes.web.scale"; "" at the top). */
_printf_(4, 5) static int fail(Parser *p, const Node *n, const char *path, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = failv(p, n->line, n->column, path, fmt, ap);
        va_end(ap);
        return r;
}

static bool node_is_null(const Node *n) {
        static const char * const nulls[] = { "", "~", "null", "Null", "NULL" };

        if (n->type != NODE_SCALAR || !n->plain)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(nulls); i++)
                if (streq(n->value, nulls[i]))
                        return true;
        return false;
}

/* What n is, for "got ..." in messages: 'text' for a scalar (control characters as \xNN, cut
 * after 64 bytes), else "a list", "a mapping" or "nothing". */
static char *node_describe(const Node *n, bool note_quotes) {
        char buf[64 * 4 + 64], *o = buf;
        size_t len;

        if (n->type == NODE_SEQUENCE)
                return strdup("a list");
        if (n->type == NODE_MAPPING)
                return strdup("a mapping");
        if (node_is_null(n))
                return strdup("nothing");

        len = strlen(n->value);
        *o++ = '\'';
        for (size_t i = 0; i < len && i < 64; i++) {
                unsigned char c = (unsigned char) n->value[i];
                if (c < ' ' || c == 0x7f)
                        o += sprintf(o, "\\x%02x", c);
                else
                        *o++ = (char) c;
        }
        if (len > 64) {
                /* Do not leave half a UTF-8 sequence behind. */
                while (o > buf + 1 && ((unsigned char) o[-1] & 0xc0) == 0x80)
                        o--;
                if (o > buf + 1 && ((unsigned char) o[-1] & 0xc0) == 0xc0)
                        o--;
                o = stpcpy(o, "...");
        }
        *o++ = '\'';
        *o = 0;
        if (note_quotes && !n->plain)
                stpcpy(o, " (quoted, so a string)");
        return strdup(buf);
}

/* "PATH: expected EXPECTED, got WHAT-N-IS". */
static int fail_got(Parser *p, const Node *n, const char *path, const char *expected, bool note_quotes) {
        _cleanup_free_ char *got = node_describe(n, note_quotes);

        if (!got)
                return -ENOMEM;
        return fail(p, n, path, "expected %s, got %s", expected, got);
}

/* Building the tree from libyaml's events. */

typedef struct TreeBuilder {
        Node *root;
        Node *current;                /* the innermost open list or mapping */
        unsigned depth;
        bool seen_document;
        bool done;
} TreeBuilder;

static unsigned mark_line(const yaml_mark_t *m) {
        return (unsigned) MIN(m->line, (size_t) UINT_MAX - 1) + 1;
}

static unsigned mark_column(const yaml_mark_t *m) {
        return (unsigned) MIN(m->column, (size_t) UINT_MAX - 1) + 1;
}

static int node_new(Parser *p, TreeBuilder *b, const yaml_event_t *ev, NodeType type, Node **ret) {
        _cleanup_(node_freep) Node *n = NULL;

        if (p->n_nodes >= MANIFEST_NODES_MAX)
                return fail_at(p, mark_line(&ev->start_mark), mark_column(&ev->start_mark), "",
                               "more than %d values in the manifest; expected fewer", MANIFEST_NODES_MAX);
        n = calloc(1, sizeof(Node));
        if (!n)
                return -ENOMEM;
        p->n_nodes++;
        n->type = type;
        n->line = mark_line(&ev->start_mark);
        n->column = mark_column(&ev->start_mark);
        n->parent = b->current;

        if (!b->current)
                b->root = n;
        else {
                Node *c = b->current;
                if (c->n_items == c->allocated) {
                        size_t a = MAX(c->allocated * 2, (size_t) 4);
                        Node **t = reallocarray(c->items, a, sizeof(Node *));
                        if (!t)
                                return -ENOMEM;
                        c->items = t;
                        c->allocated = a;
                }
                c->items[c->n_items++] = n;
        }
        *ret = TAKE_PTR(n);
        return 0;
}

/* Anchors and tags are refused wherever they appear, and so are aliases (in tree_add_event()). */
static int check_anchor_and_tag(Parser *p, const yaml_event_t *ev, const yaml_char_t *anchor,
                                const yaml_char_t *tag) {
        unsigned line = mark_line(&ev->start_mark), column = mark_column(&ev->start_mark);
        char shown[65];
        size_t i;

        if (anchor)
                return fail_at(p, line, column, "",
                               "anchors (&%.64s) are not allowed; expected each value written out", anchor);
        if (!tag)
                return 0;
        /* libyaml decodes %XX in tags, so a tag may hold any byte: show only printable ones. */
        for (i = 0; tag[i] && i < sizeof(shown) - 1; i++)
                shown[i] = tag[i] < ' ' || tag[i] == 0x7f ? '?' : (char) tag[i];
        shown[i] = 0;
        return fail_at(p, line, column, "", "tags (%s) are not allowed; expected plain values without '!'", shown);
}

static int tree_add_scalar(Parser *p, TreeBuilder *b, const yaml_event_t *ev) {
        const char *value = (const char *) ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        Node *n;
        int r;

        r = check_anchor_and_tag(p, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
        if (r < 0)
                return r;
        if (len > RELEASE_STRING_MAX)
                return fail_at(p, mark_line(&ev->start_mark), mark_column(&ev->start_mark), "",
                               "a value of %zu bytes; expected at most %zu", len, RELEASE_STRING_MAX);
        if (memchr(value, 0, len))
                return fail_at(p, mark_line(&ev->start_mark), mark_column(&ev->start_mark), "",
                               "a value with a NUL character; expected text");

        r = node_new(p, b, ev, NODE_SCALAR, &n);
        if (r < 0)
                return r;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->value = strndup(value, len);
        return n->value ? 0 : -ENOMEM;
}

static int tree_open(Parser *p, TreeBuilder *b, const yaml_event_t *ev, NodeType type) {
        const yaml_char_t *anchor = type == NODE_MAPPING ? ev->data.mapping_start.anchor
                                                         : ev->data.sequence_start.anchor;
        const yaml_char_t *tag = type == NODE_MAPPING ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
        Node *n;
        int r;

        r = check_anchor_and_tag(p, ev, anchor, tag);
        if (r < 0)
                return r;
        if (b->depth >= MANIFEST_DEPTH_MAX)
                return fail_at(p, mark_line(&ev->start_mark), mark_column(&ev->start_mark), "",
                               "lists and mappings nested more than %d deep; expected fewer levels",
                               MANIFEST_DEPTH_MAX);
        r = node_new(p, b, ev, type, &n);
        if (r < 0)
                return r;
        b->current = n;
        b->depth++;
        return 0;
}

static int tree_add_event(Parser *p, TreeBuilder *b, const yaml_event_t *ev) {
        switch (ev->type) {
        case YAML_DOCUMENT_START_EVENT:
                if (b->seen_document)
                        return fail_at(p, mark_line(&ev->start_mark), mark_column(&ev->start_mark), "",
                                       "a second YAML document; expected one manifest per file");
                b->seen_document = true;
                return 0;
        case YAML_ALIAS_EVENT:
                return fail_at(p, mark_line(&ev->start_mark), mark_column(&ev->start_mark), "",
                               "aliases (*%.64s) are not allowed; expected each value written out",
                               ev->data.alias.anchor);
        case YAML_SCALAR_EVENT:
                return tree_add_scalar(p, b, ev);
        case YAML_SEQUENCE_START_EVENT:
                return tree_open(p, b, ev, NODE_SEQUENCE);
        case YAML_MAPPING_START_EVENT:
                return tree_open(p, b, ev, NODE_MAPPING);
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                if (b->current) {
                        b->current = b->current->parent;
                        b->depth--;
                }
                return 0;
        case YAML_STREAM_END_EVENT:
                b->done = true;
                return 0;
        default:
                return 0;
        }
}

/* Line and column (1-based, counting characters) of a byte offset, for reader errors, which
 * libyaml reports as an offset only. */
static void offset_to_position(const char *text, size_t len, size_t offset, unsigned *ret_line,
                               unsigned *ret_column) {
        unsigned line = 1, column = 1;

        for (size_t i = 0; i < offset && i < len; i++) {
                unsigned char c = (unsigned char) text[i];
                if (c == '\n' || (c == '\r' && (i + 1 >= len || text[i + 1] != '\n'))) {
                        line++;
                        column = 1;
                } else if ((c & 0xc0) != 0x80 && c != '\r')
                        column++;
        }
        *ret_line = line;
        *ret_column = column;
}

static int syntax_error(Parser *p, const yaml_parser_t *y) {
        unsigned line, column;

        if (y->error == YAML_MEMORY_ERROR)
                return -ENOMEM;
        if (y->error == YAML_READER_ERROR) {
                size_t offset = MIN(y->problem_offset, p->len);
                /* For a broken UTF-8 sequence libyaml names the bad octet; point at its start. */
                if (y->problem && (strstr(y->problem, "trailing") || strstr(y->problem, "incomplete"))) {
                        while (offset > 0 && ((unsigned char) p->text[offset - 1] & 0xc0) == 0x80)
                                offset--;
                        if (offset > 0 && (unsigned char) p->text[offset - 1] >= 0xc0)
                                offset--;
                }
                offset_to_position(p->text, p->len, offset, &line, &column);
                return fail_at(p, line, column, "", "not valid YAML text: %s; expected UTF-8 text",
                               strna(y->problem));
        }

        line = mark_line(&y->problem_mark);
        column = mark_column(&y->problem_mark);
        bool tab = y->problem_mark.index < p->len && p->text[y->problem_mark.index] == '\t';
        if (y->context)
                return fail_at(p, line, column, "", "YAML syntax error: %s (%s at line %u, column %u)%s",
                               strna(y->problem), y->context, mark_line(&y->context_mark),
                               mark_column(&y->context_mark), tab ? "; expected spaces, not tabs" : "");
        return fail_at(p, line, column, "", "YAML syntax error: %s%s", strna(y->problem),
                       tab ? "; expected spaces, not tabs" : "");
}

static void yaml_parser_cleanup(yaml_parser_t *y) {
        yaml_parser_delete(y);
}

/* The document's root node in *ret (NULL for an empty stream). */
static int tree_build(Parser *p, Node **ret) {
        _cleanup_(yaml_parser_cleanup) yaml_parser_t y = {};
        _cleanup_(node_freep) Node *root = NULL;
        TreeBuilder b = {};
        int r = 0;

        if (!yaml_parser_initialize(&y))
                return -ENOMEM;
        yaml_parser_set_input_string(&y, (const unsigned char *) p->text, p->len);
        /* No guessing: UTF-16 input would make offsets in messages wrong. */
        yaml_parser_set_encoding(&y, YAML_UTF8_ENCODING);

        while (!b.done) {
                yaml_event_t ev;

                if (!yaml_parser_parse(&y, &ev)) {
                        r = syntax_error(p, &y);
                        break;
                }
                r = tree_add_event(p, &b, &ev);
                yaml_event_delete(&ev);
                root = b.root;
                if (r < 0)
                        break;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(root);
        return 0;
}

/* Reading values. Each reader takes a node and the path of its value for messages, and returns
 * 0, -EINVAL (with the message set) or -ENOMEM. */

static int read_string(Parser *p, const Node *n, const char *path, const char *expected, const char **ret) {
        if (n->type != NODE_SCALAR || node_is_null(n))
                return fail_got(p, n, path, expected, false);
        *ret = n->value;
        return 0;
}

static int read_bool(Parser *p, const Node *n, const char *path, bool *ret) {
        static const char * const yes[] = { "true", "True", "TRUE" }, * const no[] = { "false", "False", "FALSE" };

        for (size_t i = 0; n->type == NODE_SCALAR && n->plain && i < ELEMENTSOF(yes); i++)
                if (streq(n->value, yes[i]) || streq(n->value, no[i])) {
                        *ret = streq(n->value, yes[i]);
                        return 0;
                }
        return fail_got(p, n, path, "true or false", true);
}

/* Digits without sign or leading zeros, at most max; *ret untouched on failure. */
static bool parse_whole(const char *s, size_t len, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;

        if (len == 0 || (len > 1 && s[0] == '0'))
                return false;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9' || v > (max - (uint64_t) (s[i] - '0')) / 10)
                        return false;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        *ret = v;
        return true;
}

static int read_unsigned(Parser *p, const Node *n, const char *path, unsigned min, unsigned max,
                         unsigned *ret) {
        _cleanup_free_ char *expected = NULL;
        uint64_t v;

        if (n->type == NODE_SCALAR && n->plain && parse_whole(n->value, strlen(n->value), max, &v) && v >= min) {
                *ret = (unsigned) v;
                return 0;
        }
        if (asprintf(&expected, "a whole number from %u to %u", min, max) < 0)
                return -ENOMEM;
        return fail_got(p, n, path, expected, true);
}

static int read_duration(Parser *p, const Node *n, const char *path, usec_t *ret) {
        usec_t u;

        if (n->type == NODE_SCALAR && parse_duration(n->value, &u) >= 0 && u > 0 && u <= RELEASE_HEALTH_USEC_MAX) {
                *ret = u;
                return 0;
        }
        return fail_got(p, n, path, "a duration from 1us to 1h such as 2s, 500ms or 1m30s", false);
}

static int read_size(Parser *p, const Node *n, const char *path, uint64_t *ret) {
        static const struct {
                char suffix;
                unsigned shift;
        } units[] = { { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 } };
        uint64_t v;

        if (n->type == NODE_SCALAR && !isempty(n->value)) {
                size_t len = strlen(n->value);
                unsigned shift = 0;
                for (size_t i = 0; i < ELEMENTSOF(units) && shift == 0; i++)
                        if (n->value[len - 1] == units[i].suffix) {
                                shift = units[i].shift;
                                len--;
                        }
                if (parse_whole(n->value, len, RELEASE_MEMORY_MAX >> shift, &v) && v > 0) {
                        *ret = v << shift;
                        return 0;
                }
        }
        return fail_got(p, n, path, "a size such as 512K, 128M or 2G (K, M, G, T are powers of 1024) "
                        "or a number of bytes, from 1 byte to 1024T", false);
}

/* "0.5" -> 500: a plain number of cores, at most three decimals. */
static int read_cpu(Parser *p, const Node *n, const char *path, uint64_t *ret) {
        uint64_t whole = 0, frac = 0;

        if (n->type == NODE_SCALAR && n->plain) {
                const char *s = n->value, *dot = strchr(s, '.');
                size_t wlen = dot ? (size_t) (dot - s) : strlen(s), flen = dot ? strlen(dot + 1) : 0;
                bool ok = parse_whole(s, wlen, RELEASE_CPU_MILLIS_MAX / 1000, &whole) &&
                        (!dot || (flen >= 1 && flen <= 3 && strspn(dot + 1, "0123456789") == flen));
                for (size_t i = 0; ok && i < 3; i++)
                        frac = frac * 10 + (i < flen ? (uint64_t) (dot[1 + i] - '0') : 0);
                if (ok && whole * 1000 + frac > 0 && whole * 1000 + frac <= RELEASE_CPU_MILLIS_MAX) {
                        *ret = whole * 1000 + frac;
                        return 0;
                }
        }
        return fail_got(p, n, path, "a number of CPU cores from 0.001 to 1000 with at most 3 decimals, "
                        "such as 0.5 or 2", true);
}

/* Mappings. */

typedef struct Entry {
        const Node *key;
        const Node *value;
} Entry;

static int check_mapping(Parser *p, const Node *n, const char *path, const char *expected) {
        if (n->type != NODE_MAPPING)
                return fail_got(p, n, path, expected, false);
        for (size_t i = 0; i < n->n_items; i += 2)
                if (n->items[i]->type != NODE_SCALAR)
                        return fail_got(p, n->items[i], path, "a key name", false);
        return 0;
}

static int fail_duplicate(Parser *p, const Node *key, const Node *first, const char *path) {
        return fail(p, key, path, "duplicate key '%s' (first at line %u, column %u); expected each key once",
                    key->value, first->line, first->column);
}

/* "a, b, c" */
static char *keys_join(const char * const *keys) {
        size_t len = 1;
        char *s, *o;

        for (const char * const *k = keys; *k; k++)
                len += strlen(*k) + 2;
        s = o = malloc(len);
        if (!s)
                return NULL;
        *o = 0;
        for (const char * const *k = keys; *k; k++)
                o = stpcpy(stpcpy(o, k == keys ? "" : ", "), *k);
        return s;
}

/* For a mapping with fixed keys: checks that n is a mapping whose keys are among keys[] (NULL-
 * terminated), each at most once, and stores each key's entry in entries[] (zeroed if absent). */
static int map_lookup(Parser *p, const Node *n, const char *path, const char *expected,
                      const char * const *keys, Entry *entries) {
        size_t n_keys = 0;
        int r;

        r = check_mapping(p, n, path, expected);
        if (r < 0)
                return r;
        while (keys[n_keys])
                entries[n_keys++] = (Entry) {};

        for (size_t i = 0; i < n->n_items; i += 2) {
                const Node *key = n->items[i];
                size_t k = 0;
                while (k < n_keys && !streq(keys[k], key->value))
                        k++;
                if (k == n_keys) {
                        _cleanup_free_ char *got = node_describe(key, false), *known = keys_join(keys);
                        if (!got || !known)
                                return -ENOMEM;
                        return fail(p, key, path, "unknown key %s; expected one of: %s", got, known);
                }
                if (entries[k].key)
                        return fail_duplicate(p, key, entries[k].key, path);
                entries[k] = (Entry) { key, n->items[i + 1] };
        }
        return 0;
}

/* For a mapping with free keys (config, processes, constraints): a mapping of at most max
 * entries, each key once. */
static int map_check(Parser *p, const Node *n, const char *path, const char *expected, size_t max) {
        int r;

        r = check_mapping(p, n, path, expected);
        if (r < 0)
                return r;
        if (n->n_items / 2 > max)
                return fail(p, n, path, "%zu entries; expected at most %zu", n->n_items / 2, max);
        for (size_t i = 0; i < n->n_items; i += 2)
                for (size_t k = 0; k < i; k += 2)
                        if (streq(n->items[i]->value, n->items[k]->value))
                                return fail_duplicate(p, n->items[i], n->items[k], path);
        return 0;
}

static char *path_join(const char *a, const char *b) {
        char *s;

        if (asprintf(&s, "%s%s%s", strempty(a), isempty(a) ? "" : ".", b) < 0)
                return NULL;
        return s;
}

/* Pairs of a free-key mapping, each key and value checked by the given functions. */
static int read_pairs(Parser *p, const Node *n, const char *path, size_t max, const char *expected,
                      bool (*key_ok)(const char *), const char *key_expected,
                      bool (*value_ok)(const char *), const char *value_expected,
                      MetadataPair **ret, size_t *ret_n) {
        int r;

        r = map_check(p, n, path, expected, max);
        if (r < 0)
                return r;
        if (n->n_items == 0)
                return 0;
        *ret = calloc(n->n_items / 2, sizeof(MetadataPair));
        if (!*ret)
                return -ENOMEM;

        for (size_t i = 0; i < n->n_items; i += 2) {
                const Node *key = n->items[i], *value = n->items[i + 1];
                _cleanup_free_ char *vpath = NULL;
                const char *v = NULL;

                if (!key_ok(key->value))
                        return fail_got(p, key, path, key_expected, false);
                vpath = path_join(path, key->value);
                if (!vpath)
                        return -ENOMEM;
                r = read_string(p, value, vpath, value_expected, &v);
                if (r < 0)
                        return r;
                if (value_ok && !value_ok(v))
                        return fail_got(p, value, vpath, value_expected, false);

                MetadataPair *m = &(*ret)[(*ret_n)++];
                m->key = strdup(key->value);
                m->value = strdup(v);
                if (!m->key || !m->value)
                        return -ENOMEM;
        }
        return 0;
}

/* The parts of a manifest. */

static int read_config(Parser *p, const Node *n, Release *rel) {
        /* PORT gets its own message: it is the one name fleetd sets itself. */
        for (size_t i = 0; n->type == NODE_MAPPING && i < n->n_items; i += 2)
                if (n->items[i]->type == NODE_SCALAR && streq(n->items[i]->value, "PORT"))
                        return fail(p, n->items[i], "config",
                                    "PORT is set by fleetd to the port of each instance; expected another name");
        return read_pairs(p, n, "config", RELEASE_CONFIG_MAX, "a mapping of environment variables, such as "
                          "{GREETING: hi}", release_config_key_is_valid,
                          "a variable name of letters, digits and '_' that does not start with a digit",
                          NULL, "a string, number or boolean (\"\" for an empty value)",
                          &rel->config, &rel->n_config);
}

static int read_rollout(Parser *p, const Node *n, Release *rel) {
        static const char * const keys[] = { "max_surge", "max_unavailable", NULL };
        Entry e[2];
        int r;

        r = map_lookup(p, n, "rollout", "a mapping such as {max_surge: 1, max_unavailable: 0}", keys, e);
        if (r < 0)
                return r;
        if (e[0].value && (r = read_unsigned(p, e[0].value, "rollout.max_surge", 0, RELEASE_ROLLOUT_MAX,
                                             &rel->max_surge)) < 0)
                return r;
        if (e[1].value && (r = read_unsigned(p, e[1].value, "rollout.max_unavailable", 0, RELEASE_ROLLOUT_MAX,
                                             &rel->max_unavailable)) < 0)
                return r;
        if (rel->max_surge == 0 && rel->max_unavailable == 0)
                return fail(p, n, "rollout", "max_surge and max_unavailable are both 0, so no instance could "
                            "be replaced; expected at least one of them above 0");
        return 0;
}

static int read_command(Parser *p, const Node *n, const char *path, ProcessType *pt) {
        _cleanup_strv_free_ char **argv = NULL;
        const char *a;
        int r;

        if (n->type != NODE_SEQUENCE)
                return fail_got(p, n, path, "a list of strings such as [/bin/httpd, -f, -p, \"${PORT}\"] "
                                "(a single string is not split into arguments)", false);
        if (n->n_items == 0)
                return fail(p, n, path, "an empty list; expected at least the program (or no command, "
                            "to run the image's own)");
        if (n->n_items > RELEASE_ARGS_MAX)
                return fail(p, n, path, "%zu arguments; expected at most %d", n->n_items, RELEASE_ARGS_MAX);

        argv = calloc(n->n_items + 1, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        for (size_t i = 0; i < n->n_items; i++) {
                r = read_string(p, n->items[i], path, "a string, number or boolean as argument", &a);
                if (r < 0)
                        return r;
                if (i == 0 && isempty(a))
                        return fail(p, n->items[i], path, "an empty program name; expected a program");
                argv[i] = strdup(a);
                if (!argv[i])
                        return -ENOMEM;
        }
        pt->command = TAKE_PTR(argv);
        return 0;
}

static int read_health(Parser *p, const Node *n, const char *path, HealthCheck *h) {
        static const char * const keys[] = { "http", "tcp", "interval", "timeout", "threshold", NULL };
        enum { HTTP, TCP, INTERVAL, TIMEOUT, THRESHOLD };
        _cleanup_free_ char *p_http = path_join(path, "http"), *p_tcp = path_join(path, "tcp"),
                *p_interval = path_join(path, "interval"), *p_timeout = path_join(path, "timeout"),
                *p_threshold = path_join(path, "threshold");
        const char *http = NULL;
        bool tcp = false;
        Entry e[5];
        int r;

        if (!p_http || !p_tcp || !p_interval || !p_timeout || !p_threshold)
                return -ENOMEM;
        r = map_lookup(p, n, path, "a mapping such as {http: /, interval: 2s}", keys, e);
        if (r < 0)
                return r;

        *h = (HealthCheck) {
                .interval = HEALTH_INTERVAL_DEFAULT,
                .timeout = HEALTH_TIMEOUT_DEFAULT,
                .threshold = HEALTH_THRESHOLD_DEFAULT,
                .enabled = true,
        };
        if ((e[HTTP].value && (r = read_string(p, e[HTTP].value, p_http, "a path such as /healthz", &http)) < 0) ||
            (e[TCP].value && (r = read_bool(p, e[TCP].value, p_tcp, &tcp)) < 0) ||
            (e[INTERVAL].value && (r = read_duration(p, e[INTERVAL].value, p_interval, &h->interval)) < 0) ||
            (e[TIMEOUT].value && (r = read_duration(p, e[TIMEOUT].value, p_timeout, &h->timeout)) < 0) ||
            (e[THRESHOLD].value && (r = read_unsigned(p, e[THRESHOLD].value, p_threshold, 1,
                                                      RELEASE_THRESHOLD_MAX, &h->threshold)) < 0))
                return r;

        if (http && !release_http_path_is_valid(http))
                return fail_got(p, e[HTTP].value, p_http, "a path that starts with '/' and has no blanks, "
                                "such as /healthz", false);
        if (http && tcp)
                return fail(p, e[TCP].key, path, "both http and tcp: true; expected one of them");
        if (!http && !tcp)
                return fail(p, n, path, "no check given; expected http: PATH or tcp: true");
        if (http) {
                h->http_path = strdup(http);
                if (!h->http_path)
                        return -ENOMEM;
        }
        return 0;
}

static int read_resources(Parser *p, const Node *n, const char *path, ProcessType *pt) {
        static const char * const keys[] = { "memory", "cpu", NULL };
        _cleanup_free_ char *p_memory = path_join(path, "memory"), *p_cpu = path_join(path, "cpu");
        Entry e[2];
        int r;

        if (!p_memory || !p_cpu)
                return -ENOMEM;
        r = map_lookup(p, n, path, "a mapping such as {memory: 128M, cpu: 0.5}", keys, e);
        if (r < 0)
                return r;
        if (e[0].value && (r = read_size(p, e[0].value, p_memory, &pt->memory_bytes)) < 0)
                return r;
        if (e[1].value && (r = read_cpu(p, e[1].value, p_cpu, &pt->cpu_millis)) < 0)
                return r;
        return 0;
}

static int read_constraints(Parser *p, const Node *n, const char *path, ProcessType *pt) {
        static const char * const keys[] = { "metadata", NULL };
        _cleanup_free_ char *p_metadata = path_join(path, "metadata");
        Entry e[1];
        int r;

        if (!p_metadata)
                return -ENOMEM;
        r = map_lookup(p, n, path, "a mapping such as {metadata: {role: web}}", keys, e);
        if (r < 0 || !e[0].value)
                return r;
        return read_pairs(p, e[0].value, p_metadata, RELEASE_CONSTRAINTS_MAX,
                          "a mapping of machine metadata such as {role: web}",
                          release_constraint_key_is_valid, "a metadata key of letters, digits, '_', '.' and '-'",
                          release_constraint_value_is_valid,
                          "a metadata value without ',', '=', control characters or blanks around it",
                          &pt->constraints, &pt->n_constraints);
}

/* Rules between the keys of a process, checked after all of them were read. */
static int check_process(Parser *p, const Node *name, const Entry *command, const Entry *health,
                         const char *path, const ProcessType *pt, Runtime runtime) {
        if (health->key && pt->port == 0)
                return fail(p, health->key, path, "a health check needs a port (it connects to $PORT); "
                            "expected port: N");
        for (size_t i = 0; pt->command && pt->command[i]; i++)
                if (pt->port == 0 && strstr(pt->command[i], RELEASE_PORT_VARIABLE))
                        return fail(p, command->value->items[i], path, "the command uses ${PORT} but the process "
                                    "has no port; expected port: N");
        if (runtime == RUNTIME_EXEC && !pt->command)
                return fail(p, name, path, "runtime exec has no image command to fall back on; "
                            "expected command: [PROGRAM, ARGUMENTS...]");
        return 0;
}

static int read_process(Parser *p, const Node *name, const Node *n, Runtime runtime, ProcessType *pt) {
        static const char * const keys[] = { "command", "port", "scale", "health", "resources", "constraints", NULL };
        enum { COMMAND, PORT, SCALE, HEALTH, RESOURCES, CONSTRAINTS };
        _cleanup_free_ char *path = path_join("processes", name->value), *p_command = NULL, *p_port = NULL,
                *p_scale = NULL, *p_health = NULL, *p_resources = NULL, *p_constraints = NULL;
        unsigned port = 0;
        Entry e[6] = {};
        int r;

        if (!path || !(p_command = path_join(path, "command")) || !(p_port = path_join(path, "port")) ||
            !(p_scale = path_join(path, "scale")) || !(p_health = path_join(path, "health")) ||
            !(p_resources = path_join(path, "resources")) || !(p_constraints = path_join(path, "constraints")))
                return -ENOMEM;
        if (!release_process_name_is_valid(name->value))
                return fail_got(p, name, "processes", "a process name of lowercase letters, digits and '-' that "
                                "starts with a letter, does not end with '-' and has at most 30 characters", false);
        pt->name = strdup(name->value);
        if (!pt->name)
                return -ENOMEM;
        pt->scale = PROCESS_SCALE_DEFAULT;
        /* "worker:" with nothing after it: a process with every default. */
        if (node_is_null(n))
                return check_process(p, name, &e[COMMAND], &e[HEALTH], path, pt, runtime);

        r = map_lookup(p, n, path, "a mapping such as {command: [...], port: 5000}", keys, e);
        if (r < 0)
                return r;
        if ((e[COMMAND].value && (r = read_command(p, e[COMMAND].value, p_command, pt)) < 0) ||
            (e[PORT].value && (r = read_unsigned(p, e[PORT].value, p_port, 1, UINT16_MAX, &port)) < 0) ||
            (e[SCALE].value && (r = read_unsigned(p, e[SCALE].value, p_scale, 0, RELEASE_SCALE_MAX,
                                                  &pt->scale)) < 0) ||
            (e[HEALTH].value && (r = read_health(p, e[HEALTH].value, p_health, &pt->health)) < 0) ||
            (e[RESOURCES].value && (r = read_resources(p, e[RESOURCES].value, p_resources, pt)) < 0) ||
            (e[CONSTRAINTS].value && (r = read_constraints(p, e[CONSTRAINTS].value, p_constraints, pt)) < 0))
                return r;
        pt->port = (uint16_t) port;
        return check_process(p, name, &e[COMMAND], &e[HEALTH], path, pt, runtime);
}

static int read_processes(Parser *p, const Node *n, Release *rel) {
        int r;

        r = map_check(p, n, "processes", "a mapping of process names to their settings, such as "
                      "{web: {command: [...]}}", RELEASE_PROCESSES_MAX);
        if (r < 0)
                return r;
        if (n->n_items == 0)
                return fail(p, n, "processes", "no process; expected at least one");
        rel->processes = calloc(n->n_items / 2, sizeof(ProcessType));
        if (!rel->processes)
                return -ENOMEM;
        for (size_t i = 0; i < n->n_items; i += 2) {
                r = read_process(p, n->items[i], n->items[i + 1], rel->runtime, &rel->processes[rel->n_processes++]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* image: a reference; for a build, the repository the build pushes to (no tag, no digest). */
static int read_image(Parser *p, const Node *n, char **ret) {
        _cleanup_(image_ref_done) ImageRef ref = {};
        const char *s = NULL;
        int r;

        if (p->build) {
                r = read_string(p, n, "image", "a repository such as registry.example.com/shop/web", &s);
                if (r < 0)
                        return r;
                if (image_ref_parse(s, &ref) < 0 || ref.tag || ref.digest)
                        return fail_got(p, n, "image", "a repository without a tag or digest (the build tags "
                                        "what it pushes), such as registry.example.com/shop/web", false);
        } else {
                r = read_string(p, n, "image", "an image reference such as localhost/hello:1.0", &s);
                if (r < 0)
                        return r;
                if (!release_image_is_valid(s))
                        return fail_got(p, n, "image", "an image reference without blanks or control characters "
                                        "that does not start with '-', such as localhost/hello:1.0", false);
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int read_pull(Parser *p, const Node *n, Release *rel) {
        const char *s = NULL;
        int r;

        r = read_string(p, n, "pull", "one of always, missing, never", &s);
        if (r < 0)
                return r;
        rel->pull = image_pull_from_string(s);
        if (rel->pull < 0)
                return fail_got(p, n, "pull", "one of always, missing, never", false);
        if (rel->runtime != RUNTIME_PODMAN && rel->runtime != RUNTIME_DOCKER)
                return fail(p, n, "pull", "runtime %s pulls no images; expected pull only with runtime podman or "
                            "docker", runtime_to_string(rel->runtime));
        return 0;
}

static int read_top_strings(Parser *p, const Entry *app, const Entry *image, const Entry *runtime, Release *rel) {
        const char *s = NULL;
        int r;

        r = read_string(p, app->value, "app", "an app name", &s);
        if (r < 0)
                return r;
        if (!release_app_name_is_valid(s))
                return fail_got(p, app->value, "app", "an app name of lowercase letters, digits and '-' that "
                                "starts with a letter, does not end with '-' and has at most 40 characters", false);
        rel->app = strdup(s);
        if (!rel->app)
                return -ENOMEM;

        r = image->value ? read_image(p, image->value, &rel->image) : 0;
        if (r < 0)
                return r;

        if (!runtime->value)
                return 0;
        r = read_string(p, runtime->value, "runtime", "one of podman, docker, nspawn, exec", &s);
        if (r < 0)
                return r;
        rel->runtime = runtime_from_string(s);
        if (rel->runtime < 0)
                return fail_got(p, runtime->value, "runtime", "one of podman, docker, nspawn, exec", false);
        return 0;
}

/* release_verify(), also for a build's manifest without image (any valid one stands in). */
static int manifest_verify(Release *rel) {
        int r;

        if (rel->image)
                return release_verify(rel);
        rel->image = (char *) "localhost/build";
        r = release_verify(rel);
        rel->image = NULL;
        return r;
}

static int read_manifest(Parser *p, const Node *root, Release *rel) {
        static const char * const keys[] = {
                "app", "image", "runtime", "pull", "config", "rollout", "processes", NULL
        };
        enum { APP, IMAGE, RUNTIME, PULL, CONFIG, ROLLOUT, PROCESSES };
        Entry e[7];
        int r;

        if (!root || node_is_null(root))
                return fail_at(p, root ? root->line : 1, root ? root->column : 1, "",
                               "an empty manifest; expected a mapping with app, image and processes");
        r = map_lookup(p, root, "", "a mapping with app, image and processes", keys, e);
        if (r < 0)
                return r;
        if (!e[APP].value)
                return fail(p, root, "", "missing app; expected app: NAME, such as app: hello");
        if (!e[IMAGE].value && !p->build)
                return fail(p, root, "", "missing image; expected image: REFERENCE, such as "
                            "image: localhost/hello:1.0");
        if (!e[PROCESSES].value)
                return fail(p, root, "", "missing processes; expected at least one, such as "
                            "processes: {web: {command: [/bin/httpd]}}");

        rel->runtime = RUNTIME_PODMAN;
        rel->max_surge = ROLLOUT_MAX_SURGE_DEFAULT;
        rel->max_unavailable = ROLLOUT_MAX_UNAVAILABLE_DEFAULT;
        if ((r = read_top_strings(p, &e[APP], &e[IMAGE], &e[RUNTIME], rel)) < 0 ||
            (e[PULL].value && (r = read_pull(p, e[PULL].value, rel)) < 0) ||
            (e[CONFIG].value && (r = read_config(p, e[CONFIG].value, rel)) < 0) ||
            (e[ROLLOUT].value && (r = read_rollout(p, e[ROLLOUT].value, rel)) < 0) ||
            (r = read_processes(p, e[PROCESSES].value, rel)) < 0)
                return r;

        /* Every rule above has its own message; this is only a net under them. */
        if (manifest_verify(rel) < 0)
                return fail(p, root, "", "internal error: the manifest does not verify");
        return 0;
}

static int parse(const char *text, size_t len, const char *filename, bool build, Release *ret, char **ret_error) {
        _cleanup_(release_done) Release rel = {};
        _cleanup_(node_freep) Node *root = NULL;
        Parser p = {
                .filename = filename ?: "<input>",
                .text = text,
                .len = len,
                .build = build,
        };
        int r;

        if (len > MANIFEST_SIZE_MAX)
                return error_set(ret_error, -EINVAL, "%s: the manifest has %zu bytes; expected at most %zu",
                                 p.filename, len, MANIFEST_SIZE_MAX);

        /* A UTF-8 byte order mark is allowed and skipped (libyaml only skips it when it guesses
         * the encoding, which it must not). */
        if (p.len >= 3 && memcmp(p.text, "\xef\xbb\xbf", 3) == 0) {
                p.text += 3;
                p.len -= 3;
        }

        r = tree_build(&p, &root);
        if (r >= 0)
                r = read_manifest(&p, root, &rel);
        if (r < 0) {
                if (ret_error && r == -EINVAL)
                        *ret_error = TAKE_PTR(p.error);
                free(p.error);
                return r;
        }

        *ret = rel;
        rel = (Release) {};
        return 0;
}

int manifest_parse(const char *text, size_t len, const char *filename, Release *ret, char **ret_error) {
        return parse(text, len, filename, false, ret, ret_error);
}

int manifest_parse_build(const char *text, size_t len, const char *filename, Release *ret, char **ret_error) {
        return parse(text, len, filename, true, ret, ret_error);
}

int manifest_read_text(const char *path, char **ret, size_t *ret_len) {
        return read_file_limit(path, MANIFEST_SIZE_MAX, ret, ret_len);
}

int manifest_load(const char *path, Release *ret, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        r = manifest_read_text(path, &text, &len);
        if (r == -EFBIG)
                return error_set(ret_error, -EINVAL, "%s: the manifest has more than %zu bytes; expected at most %zu",
                                 path, MANIFEST_SIZE_MAX, MANIFEST_SIZE_MAX);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return error_set(ret_error, r, "%s: %s", path, strerror(-r));
        return manifest_parse(text, len, path, ret, ret_error);
}
