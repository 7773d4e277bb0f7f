/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "basic/error-util.h"
#include "basic/fileio.h"
#include "basic/strv.h"
#include "basic/utf8.h"
#include "unit-file.h"

#define UTF8_BOM "\xef\xbb\xbf"

/* How many bytes of a line an error message echoes. */
#define ECHO_MAX 60

typedef enum LineKind {
        LINE_OTHER,  /* blank line or comment */
        LINE_HEADER, /* [Section] */
        LINE_ENTRY,  /* Key=Value */
        LINE_IGNORED, /* text before the first header, skipped as systemd and fleet skip it */
} LineKind;

/* One logical line: a physical line, or several joined by trailing backslashes (with the
 * comment lines systemd skips between them). */
typedef struct Line {
        LineKind kind;
        char *raw;      /* the exact text, line ends included */
        char *key;      /* LINE_ENTRY */
        char *value;    /* LINE_ENTRY: joined as systemd joins continuation lines, then stripped */
        unsigned line;  /* first physical line in the parsed text, 0 if added later */
        bool open;      /* its last line ends in a continuation that the end of the text cut off */
} Line;

/* A header and the lines up to the next header. */
typedef struct Section {
        char *name;     /* NULL for the preamble, the lines before the first header */
        Line *lines;    /* lines[0] is the header, except in the preamble */
        size_t n_lines, n_allocated;
} Section;

struct UnitFile {
        Section *sections; /* sections[0] is the preamble, always there */
        size_t n_sections, n_allocated;
        const char *newline; /* how added lines end: "\n", or "\r\n" if the parsed text began so */
};

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

static size_t skip_blanks(const char *s, size_t n) {
        size_t i = 0;

        while (i < n && is_blank(s[i]))
                i++;
        return i;
}

/* An odd number of trailing backslashes continues the line; an even number is escaped ones. */
static bool ends_continued(const char *s, size_t n) {
        size_t k = 0;

        while (k < n && s[n - 1 - k] == '\\')
                k++;
        return k % 2 == 1;
}

/* Like systemd's string_is_safe(), plus '[' and ']': the first offending byte, or NULL. */
static const char *section_name_bad_char(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = s[i];
                if (c < ' ' || c == 0x7f || strchr("\"'\\[]", c))
                        return s + i;
        }
        return NULL;
}

/* "'c'" for a printable ASCII character, "byte \xNN" for anything else. */
static void describe_char(char c, char buf[16]) {
        unsigned char u = c;

        if (u >= ' ' && u < 0x7f)
                snprintf(buf, 16, "'%c'", c);
        else
                snprintf(buf, 16, "byte \\x%02x", u);
}

static void line_done(Line *l) {
        free(l->raw);
        free(l->key);
        free(l->value);
        *l = (Line) {};
}

static void section_done(Section *s) {
        free(s->name);
        for (size_t i = 0; i < s->n_lines; i++)
                line_done(&s->lines[i]);
        free(s->lines);
        *s = (Section) {};
}

/* Makes room for need elements in *array. */
static int grow(void **array, size_t *allocated, size_t need, size_t size) {
        if (need <= *allocated)
                return 0;

        size_t n = MAX(MAX(need, *allocated * 2), (size_t) 8);
        void *a = reallocarray(*array, n, size);
        if (!a)
                return -ENOMEM;
        *array = a;
        *allocated = n;
        return 0;
}

UnitFile *unit_file_free(UnitFile *uf) {
        if (!uf)
                return NULL;
        for (size_t i = 0; i < uf->n_sections; i++)
                section_done(&uf->sections[i]);
        free(uf->sections);
        free(uf);
        return NULL;
}

int unit_file_new(UnitFile **ret) {
        _cleanup_unit_file_free_ UnitFile *uf = calloc(1, sizeof(UnitFile));
        if (!uf)
                return -ENOMEM;

        uf->newline = "\n";
        if (grow((void **) &uf->sections, &uf->n_allocated, 1, sizeof(Section)) < 0)
                return -ENOMEM;
        uf->sections[uf->n_sections++] = (Section) {};

        *ret = TAKE_PTR(uf);
        return 0;
}

/* Moves *l (zeroed afterwards) to the end of s. */
static int section_push(Section *s, Line *l) {
        if (grow((void **) &s->lines, &s->n_allocated, s->n_lines + 1, sizeof(Line)) < 0)
                return -ENOMEM;
        s->lines[s->n_lines++] = *l;
        *l = (Line) {};
        return 0;
}

/* Parsing. */

typedef struct Parser {
        const char *text;
        size_t len, pos;        /* pos: start of the next physical line */
        unsigned line;          /* physical lines read so far */
        const char *filename;
        char *error;            /* the message of the first error */
        char *echo;             /* the offending line as the message shows it */
        UnitFile *uf;
        char *logical;          /* the logical line being assembled, UNIT_FILE_LINE_MAX + 1 bytes */
        size_t n_logical;
} Parser;

/* One physical line, without its line end (and, on the first line, without a byte order mark). */
typedef struct Physical {
        const char *s;
        size_t n;
        unsigned line;
} Physical;

_printf_(5, 6)
static int parse_error(Parser *p, int r, unsigned line, size_t column, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = error_setv(&msg, r, fmt, ap);
        va_end(ap);
        if (k == -ENOMEM)
                return k;

        free(p->error);
        return error_set(&p->error, r, "%s:%u:%zu: %s", p->filename, line, column, msg);
}

/* At most ECHO_MAX bytes of s (valid UTF-8), cut on a character boundary with "..." after a cut,
 * and control characters shown as \xNN, so that a message cannot drive the terminal showing it. */
static char *echo_text(const char *s, size_t n) {
        bool cut = n > ECHO_MAX;
        char *t, *o;

        if (cut) {
                n = ECHO_MAX;
                while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                        n--;
        }
        o = t = malloc(n * 4 + sizeof("..."));
        if (!t)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = s[i];
                if (c < ' ' || c == 0x7f)
                        o += sprintf(o, "\\x%02x", c);
                else
                        *o++ = c;
        }
        strcpy(o, cut ? "..." : "");
        return t;
}

/* s as an error message shows it; owned by p. Only called for errors, so ordinary lines cost
 * no allocation. */
static const char *echo(Parser *p, const char *s, size_t n) {
        free(p->echo);
        p->echo = echo_text(s, n);
        return p->echo ?: "...";
}

/* NUL bytes, CR that are not part of a CRLF line end, and invalid UTF-8 are refused everywhere,
 * comments included: the text is stored in etcd as a JSON string and hashed as it is. */
static int check_bytes(Parser *p, const Physical *l) {
        for (size_t i = 0, k; i < l->n; i += k) {
                if (l->s[i] == 0)
                        return parse_error(p, -EBADMSG, l->line, i + 1, "NUL byte");
                if (l->s[i] == '\r')
                        return parse_error(p, -EBADMSG, l->line, i + 1,
                                           "carriage return not followed by a line feed (lines must end "
                                           "in LF or CRLF)");
                k = utf8_char_len(l->s + i, l->n - i, 0);
                if (k == 0)
                        return parse_error(p, -EBADMSG, l->line, i + 1, "invalid UTF-8");
        }
        return 0;
}

static int read_physical(Parser *p, Physical *ret) {
        const char *s = p->text + p->pos;
        size_t rest = p->len - p->pos;
        const char *nl = memchr(s, '\n', rest);
        size_t n = nl ? (size_t) (nl - s) : rest;
        bool crlf = nl && n > 0 && s[n - 1] == '\r';
        unsigned line = ++p->line;

        p->pos += nl ? n + 1 : n;
        if (crlf)
                n--;
        if (line == 1) {
                if (nl)
                        p->uf->newline = crlf ? "\r\n" : "\n";
                if (n >= 3 && memcmp(s, UTF8_BOM, 3) == 0) {
                        s += 3;
                        n -= 3;
                }
        }
        if (n > UNIT_FILE_LINE_MAX)
                return parse_error(p, -ENOBUFS, line, 1, "line is longer than %zu bytes", UNIT_FILE_LINE_MAX);

        *ret = (Physical) { .s = s, .n = n, .line = line };
        return check_bytes(p, ret);
}

static bool is_comment(const Physical *l) {
        size_t i = skip_blanks(l->s, l->n);

        return i < l->n && (l->s[i] == '#' || l->s[i] == ';');
}

/* The next physical line that is not a comment: 1, or 0 at the end of the text. */
static int read_continuation(Parser *p, Physical *ret) {
        int r;

        for (;;) {
                if (p->pos >= p->len)
                        return 0;
                r = read_physical(p, ret);
                if (r < 0)
                        return r;
                if (!is_comment(ret))
                        return 1;
        }
}

static int logical_append(Parser *p, const Physical *l, unsigned first_line) {
        if (p->n_logical + l->n > UNIT_FILE_LINE_MAX)
                return parse_error(p, -ENOBUFS, first_line, 1,
                                   "line is longer than %zu bytes (continuation lines included)",
                                   UNIT_FILE_LINE_MAX);
        memcpy(p->logical + p->n_logical, l->s, l->n);
        p->n_logical += l->n;
        p->logical[p->n_logical] = 0;
        return 0;
}

static int add_line(Parser *p, LineKind kind, size_t raw_start, unsigned line, bool open, char *key, char *value) {
        Line l = {
                .kind = kind,
                .raw = strndup(p->text + raw_start, p->pos - raw_start),
                .key = key,
                .value = value,
                .line = line,
                .open = open,
        };
        int r = -ENOMEM;

        if (l.raw)
                r = section_push(&p->uf->sections[p->uf->n_sections - 1], &l);
        line_done(&l);
        return r;
}

static int parse_header(Parser *p, const char *s, size_t n, size_t raw_start, unsigned line, size_t column,
                        bool open) {
        _cleanup_free_ char *name = NULL;
        const char *bad;
        char what[16];

        if (n < 2 || s[n - 1] != ']')
                return parse_error(p, -EBADMSG, line, column, "section header '%s' does not end with ']'",
                                   echo(p, s, n));
        if (n == 2)
                return parse_error(p, -EBADMSG, line, column, "empty section name '[]'");
        bad = section_name_bad_char(s + 1, n - 2);
        if (bad) {
                describe_char(*bad, what);
                return parse_error(p, -EBADMSG, line, column, "section header '%s' contains %s", echo(p, s, n),
                                   what);
        }

        name = strndup(s + 1, n - 2);
        if (!name)
                return -ENOMEM;

        UnitFile *uf = p->uf;
        if (grow((void **) &uf->sections, &uf->n_allocated, uf->n_sections + 1, sizeof(Section)) < 0)
                return -ENOMEM;
        uf->sections[uf->n_sections++] = (Section) { .name = TAKE_PTR(name) };
        return add_line(p, LINE_HEADER, raw_start, line, open, NULL, NULL);
}

static int parse_entry(Parser *p, const char *s, size_t n, size_t raw_start, unsigned line, size_t column,
                       bool open) {
        _cleanup_free_ char *key = NULL, *value = NULL;
        const char *eq = memchr(s, '=', n);

        /* Before the first header systemd ignores assignments (with a warning) and fleet's parser
         * skipped any text: keep it as it is, for unit_file_ignored_line(). */
        if (p->uf->n_sections == 1)
                return add_line(p, LINE_IGNORED, raw_start, line, open, NULL, NULL);
        if (!eq)
                return parse_error(p, -EBADMSG, line, column,
                                   "expected a [Section] header, Key=Value or a comment, got '%s'", echo(p, s, n));

        size_t kn = eq - s;
        while (kn > 0 && is_blank(s[kn - 1]))
                kn--;
        if (kn == 0)
                return parse_error(p, -EBADMSG, line, column, "missing key name before '=' in '%s'",
                                   echo(p, s, n));

        const char *v = eq + 1 + skip_blanks(eq + 1, s + n - eq - 1);
        key = strndup(s, kn);
        value = strndup(v, s + n - v);
        if (!key || !value)
                return -ENOMEM;

        /* add_line() owns key and value from here on, on failure too. */
        return add_line(p, LINE_ENTRY, raw_start, line, open, TAKE_PTR(key), TAKE_PTR(value));
}

/* A line that is not a comment, with all its continuation lines. */
static int parse_logical(Parser *p, size_t raw_start, const Physical *first) {
        Physical cur = *first;
        bool open = false;
        int r;

        p->n_logical = 0;
        for (;;) {
                r = logical_append(p, &cur, first->line);
                if (r < 0)
                        return r;
                if (!ends_continued(cur.s, cur.n))
                        break;
                /* systemd turns the backslash into a space and appends the next line as it is. */
                p->logical[p->n_logical - 1] = ' ';
                r = read_continuation(p, &cur);
                if (r < 0)
                        return r;
                if (r == 0) {
                        open = true;
                        break;
                }
        }

        const char *s = p->logical;
        size_t b = skip_blanks(s, p->n_logical), e = p->n_logical;
        size_t column = skip_blanks(first->s, first->n) + 1;

        while (e > b && is_blank(s[e - 1]))
                e--;
        if (b == e)
                return add_line(p, LINE_OTHER, raw_start, first->line, open, NULL, NULL);
        if (s[b] == '[')
                return parse_header(p, s + b, e - b, raw_start, first->line, column, open);
        return parse_entry(p, s + b, e - b, raw_start, first->line, column, open);
}

static int parse_text(Parser *p) {
        int r;

        while (p->pos < p->len) {
                size_t raw_start = p->pos;
                Physical l;

                r = read_physical(p, &l);
                if (r < 0)
                        return r;
                if (is_comment(&l))
                        r = add_line(p, LINE_OTHER, raw_start, l.line, false, NULL, NULL);
                else
                        r = parse_logical(p, raw_start, &l);
                if (r < 0)
                        return r;
        }
        return 0;
}

int unit_file_parse(const char *text, size_t len, const char *filename, UnitFile **ret, char **ret_error) {
        _cleanup_unit_file_free_ UnitFile *uf = NULL;
        _cleanup_free_ char *logical = NULL;
        Parser p = {
                .text = text,
                .len = len,
                .filename = filename ?: "<input>",
        };
        int r;

        if (!text && len > 0)
                return -EINVAL;
        if (len > UNIT_FILE_SIZE_MAX)
                return error_set(ret_error, -EFBIG, "%s: unit file is %zu bytes; the limit is %zu bytes", p.filename,
                                 len, UNIT_FILE_SIZE_MAX);

        r = unit_file_new(&uf);
        if (r < 0)
                return r;
        logical = malloc(UNIT_FILE_LINE_MAX + 1);
        if (!logical)
                return -ENOMEM;

        p.uf = uf;
        p.logical = logical;
        r = parse_text(&p);
        free(p.echo);
        if (r < 0) {
                if (ret_error && p.error)
                        *ret_error = TAKE_PTR(p.error);
                free(p.error);
                return r;
        }

        *ret = TAKE_PTR(uf);
        return 0;
}

int unit_file_read_text(const char *path, char **ret, size_t *ret_len) {
        return read_file_limit(path, UNIT_FILE_SIZE_MAX, ret, ret_len);
}

int unit_file_load(const char *path, UnitFile **ret, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        r = unit_file_read_text(path, &text, &len);
        if (r == -EFBIG)
                return error_set(ret_error, r, "%s: unit file is larger than %zu bytes", path, UNIT_FILE_SIZE_MAX);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return error_set(ret_error, r, "%s: %s", path, strerror(-r));
        return unit_file_parse(text, len, path, ret, ret_error);
}

/* Printing and hashing. */

int unit_file_print(const UnitFile *uf, char **ret) {
        size_t total = 0;
        char *buf, *o;

        for (size_t i = 0; i < uf->n_sections; i++)
                for (size_t j = 0; j < uf->sections[i].n_lines; j++)
                        total += strlen(uf->sections[i].lines[j].raw);

        o = buf = malloc(total + 1);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < uf->n_sections; i++)
                for (size_t j = 0; j < uf->sections[i].n_lines; j++)
                        o = stpcpy(o, uf->sections[i].lines[j].raw);
        *o = 0;

        *ret = buf;
        return 0;
}

void unit_file_hash(const UnitFile *uf, char ret[SHA256_HEX_SIZE]) {
        uint8_t digest[SHA256_DIGEST_SIZE];
        Sha256 s;

        sha256_init(&s);
        for (size_t i = 0; i < uf->n_sections; i++)
                for (size_t j = 0; j < uf->sections[i].n_lines; j++)
                        sha256_update(&s, uf->sections[i].lines[j].raw, strlen(uf->sections[i].lines[j].raw));
        sha256_finish(&s, digest);
        sha256_to_hex(digest, ret);
}

/* Lookups. */

static bool section_is(const Section *s, const char *name) {
        return s->name && name && streq(s->name, name);
}

static bool line_is_entry(const Line *l, const char *key) {
        return l->kind == LINE_ENTRY && streq(l->key, key);
}

bool unit_file_has_section(const UnitFile *uf, const char *section) {
        if (!section)
                return false;
        for (size_t i = 1; i < uf->n_sections; i++)
                if (section_is(&uf->sections[i], section))
                        return true;
        return false;
}

unsigned unit_file_ignored_line(const UnitFile *uf) {
        const Section *preamble = &uf->sections[0];

        for (size_t j = 0; j < preamble->n_lines; j++)
                if (preamble->lines[j].kind == LINE_IGNORED)
                        return preamble->lines[j].line;
        return 0;
}

/* The first physical line of l longer than max bytes (line end not counted): its number, or 0. */
static unsigned line_find_long(const Line *l, size_t max, size_t *ret_len) {
        unsigned k = 0;

        for (const char *s = l->raw; *s; k++) {
                size_t n = strcspn(s, "\n");
                size_t len = n > 0 && s[n - 1] == '\r' ? n - 1 : n;

                if (len > max) {
                        *ret_len = len;
                        return l->line + k;
                }
                s += n + (s[n] == '\n');
        }
        return 0;
}

unsigned unit_file_long_line(const UnitFile *uf, size_t max, size_t *ret_len) {
        size_t unused;

        for (size_t i = 0; i < uf->n_sections; i++)
                for (size_t j = 0; j < uf->sections[i].n_lines; j++) {
                        const Line *l = &uf->sections[i].lines[j];
                        unsigned found = l->line > 0 ? line_find_long(l, max, ret_len ?: &unused) : 0;

                        if (found > 0)
                                return found;
                }
        return 0;
}

const char *unit_file_get(const UnitFile *uf, const char *section, const char *key) {
        const char *value = NULL;

        if (!section || !key)
                return NULL;
        for (size_t i = 1; i < uf->n_sections; i++) {
                const Section *s = &uf->sections[i];
                if (!section_is(s, section))
                        continue;
                for (size_t j = 0; j < s->n_lines; j++)
                        if (line_is_entry(&s->lines[j], key))
                                value = s->lines[j].value;
        }
        return value;
}

int unit_file_get_all(const UnitFile *uf, const char *section, const char *key, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        size_t n = 0;

        if (!l)
                return -ENOMEM;
        if (!key)
                goto done;

        for (size_t i = 1; i < uf->n_sections; i++) {
                const Section *s = &uf->sections[i];
                if (!section_is(s, section))
                        continue;
                for (size_t j = 0; j < s->n_lines; j++) {
                        const Line *line = &s->lines[j];
                        if (!line_is_entry(line, key))
                                continue;
                        if (isempty(line->value)) {
                                for (size_t k = 0; k < n; k++)
                                        free(l[k]);
                                l[0] = NULL;
                                n = 0;
                        } else {
                                if (strv_extend(&l, line->value) < 0)
                                        return -ENOMEM;
                                n++;
                        }
                }
        }

done:
        *ret = TAKE_PTR(l);
        return (int) n;
}

bool unit_file_next_entry(const UnitFile *uf, const char *section, UnitFileEntry *e) {
        for (; e->_section < uf->n_sections; e->_section++, e->_line = 0) {
                const Section *s = &uf->sections[e->_section];
                if (!s->name || (section && !streq(s->name, section)))
                        continue;
                while (e->_line < s->n_lines) {
                        const Line *l = &s->lines[e->_line++];
                        if (l->kind != LINE_ENTRY)
                                continue;
                        e->section = s->name;
                        e->key = l->key;
                        e->value = l->value;
                        e->line = l->line;
                        return true;
                }
        }
        return false;
}

bool unit_file_next_section(const UnitFile *uf, UnitFileSection *s) {
        /* The preamble (index 0) has no header. */
        if (s->_section == 0)
                s->_section = 1;
        if (s->_section >= uf->n_sections)
                return false;

        const Section *sec = &uf->sections[s->_section++];
        s->name = sec->name;
        s->line = sec->lines[0].line;
        return true;
}

/* Changes. */

static bool section_name_ok(const char *name) {
        return !isempty(name) && !section_name_bad_char(name, strlen(name)) && utf8_is_valid(name);
}

static bool key_ok(const char *key) {
        if (isempty(key) || strchr("#;[", key[0]))
                return false;
        for (const char *c = key; *c; c++)
                if ((unsigned char) *c <= ' ' || *c == 0x7f || *c == '=')
                        return false;
        return utf8_is_valid(key);
}

static bool value_ok(const char *value) {
        size_t n;

        if (!value)
                return false;
        n = strlen(value);
        if (strpbrk(value, "\r\n"))
                return false;
        if (n > 0 && (is_blank(value[0]) || is_blank(value[n - 1])))
                return false;
        return !ends_continued(value, n) && utf8_is_valid_n(value, n, 0);
}

static int check_assignment(const char *section, const char *key, const char *value) {
        if (!section_name_ok(section) || !key_ok(key) || !value_ok(value))
                return -EINVAL;
        if (strlen(key) + 1 + strlen(value) > UNIT_FILE_LINE_MAX)
                return -ENOBUFS;
        return 0;
}

static bool line_is_blank(const Line *l) {
        return l->kind == LINE_OTHER && !l->open && l->raw[strspn(l->raw, " \t\r\n")] == 0;
}

static Line *last_line(UnitFile *uf) {
        for (size_t i = uf->n_sections; i > 0; i--)
                if (uf->sections[i - 1].n_lines > 0)
                        return &uf->sections[i - 1].lines[uf->sections[i - 1].n_lines - 1];
        return NULL;
}

/* The text l needs before another line can follow it, in *ret (NULL if it needs nothing): a line
 * cut off by the end of the text gets its line end, and a continuation left open there also an
 * empty line, which ends it without changing its value. */
static int termination_for(const UnitFile *uf, const Line *l, char **ret) {
        size_t n;
        bool ended;

        *ret = NULL;
        if (!l)
                return 0;
        n = strlen(l->raw);
        ended = n > 0 && l->raw[n - 1] == '\n';
        if (ended && !l->open)
                return 0;
        if (asprintf(ret, "%s%s%s", l->raw, ended ? "" : uf->newline, l->open ? uf->newline : "") < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

static void terminate(Line *l, char **raw) {
        if (!*raw)
                return;
        free(l->raw);
        l->raw = TAKE_PTR(*raw);
        l->open = false;
}

static ssize_t find_last_section(const UnitFile *uf, const char *name) {
        for (size_t i = uf->n_sections; i > 1; i--)
                if (section_is(&uf->sections[i - 1], name))
                        return (ssize_t) i - 1;
        return -1;
}

/* Appends a new [name] section, after a blank line unless the file is empty or ends in one. */
static int section_append(UnitFile *uf, const char *name, size_t *ret) {
        _cleanup_free_ char *prev_raw = NULL, *copy = NULL;
        _cleanup_(line_done) Line blank = { .kind = LINE_OTHER }, header = { .kind = LINE_HEADER };
        Line *prev = last_line(uf);
        int r;

        r = termination_for(uf, prev, &prev_raw);
        if (r < 0)
                return r;
        if (prev && !line_is_blank(prev)) {
                blank.raw = strdup(uf->newline);
                if (!blank.raw)
                        return -ENOMEM;
        }
        copy = strdup(name);
        if (!copy || asprintf(&header.raw, "[%s]%s", name, uf->newline) < 0) {
                header.raw = NULL;
                return -ENOMEM;
        }

        /* Allocate everything first, so that a failure leaves uf as it was. */
        Section *last = &uf->sections[uf->n_sections - 1];
        if (grow((void **) &last->lines, &last->n_allocated, last->n_lines + 1, sizeof(Line)) < 0)
                return -ENOMEM;
        Section s = { .name = TAKE_PTR(copy) };
        if (grow((void **) &s.lines, &s.n_allocated, 1, sizeof(Line)) < 0 ||
            grow((void **) &uf->sections, &uf->n_allocated, uf->n_sections + 1, sizeof(Section)) < 0) {
                section_done(&s);
                return -ENOMEM;
        }

        terminate(last_line(uf), &prev_raw);
        if (blank.raw)
                (void) section_push(&uf->sections[uf->n_sections - 1], &blank); /* room made above */
        s.lines[s.n_lines++] = header;
        header = (Line) {};
        uf->sections[uf->n_sections] = s;
        *ret = uf->n_sections++;
        return 0;
}

int unit_file_ensure_section(UnitFile *uf, const char *section) {
        size_t unused;

        if (!section_name_ok(section))
                return -EINVAL;
        if (find_last_section(uf, section) >= 0)
                return 0;
        return section_append(uf, section, &unused);
}

static int entry_new(const UnitFile *uf, const char *key, const char *value, bool ended, Line *ret) {
        _cleanup_(line_done) Line l = {
                .kind = LINE_ENTRY,
                .key = strdup(key),
                .value = strdup(value),
        };

        if (!l.key || !l.value)
                return -ENOMEM;
        if (asprintf(&l.raw, "%s=%s%s", key, value, ended ? uf->newline : "") < 0) {
                l.raw = NULL;
                return -ENOMEM;
        }
        *ret = l;
        l = (Line) {};
        return 0;
}

/* Where a new entry goes in s: after its last entry, or right after the header. */
static size_t insert_position(const Section *s) {
        for (size_t j = s->n_lines; j > 1; j--)
                if (s->lines[j - 1].kind == LINE_ENTRY)
                        return j;
        return 1;
}

int unit_file_add(UnitFile *uf, const char *section, const char *key, const char *value) {
        _cleanup_(line_done) Line entry = {};
        _cleanup_free_ char *prev_raw = NULL;
        ssize_t found;
        size_t idx;
        int r;

        r = check_assignment(section, key, value);
        if (r < 0)
                return r;
        r = entry_new(uf, key, value, true, &entry);
        if (r < 0)
                return r;

        found = find_last_section(uf, section);
        if (found < 0) {
                r = section_append(uf, section, &idx);
                if (r < 0)
                        return r;
        } else
                idx = (size_t) found;

        Section *s = &uf->sections[idx];
        size_t at = insert_position(s);
        /* Only the last line of the text can lack its line end or leave a continuation open. */
        r = termination_for(uf, &s->lines[at - 1], &prev_raw);
        if (r < 0)
                return r;
        if (grow((void **) &s->lines, &s->n_allocated, s->n_lines + 1, sizeof(Line)) < 0)
                return -ENOMEM;

        terminate(&s->lines[at - 1], &prev_raw);
        memmove(s->lines + at + 1, s->lines + at, (s->n_lines - at) * sizeof(Line));
        s->lines[at] = entry;
        entry = (Line) {};
        s->n_lines++;
        return 0;
}

/* Removes the entries of key in section, all but keep. Returns how many went. */
static int remove_entries(UnitFile *uf, const char *section, const char *key, const Line *keep) {
        int n = 0;

        for (size_t i = 1; i < uf->n_sections; i++) {
                Section *s = &uf->sections[i];
                size_t k = 0;

                if (!section_is(s, section))
                        continue;
                for (size_t j = 0; j < s->n_lines; j++) {
                        if (&s->lines[j] != keep && line_is_entry(&s->lines[j], key)) {
                                line_done(&s->lines[j]);
                                n++;
                                continue;
                        }
                        s->lines[k++] = s->lines[j];
                }
                s->n_lines = k;
        }
        return n;
}

int unit_file_remove_key(UnitFile *uf, const char *section, const char *key) {
        if (!section || !key)
                return 0;
        return remove_entries(uf, section, key, NULL);
}

static Line *find_first_entry(UnitFile *uf, const char *section, const char *key) {
        for (size_t i = 1; i < uf->n_sections; i++) {
                Section *s = &uf->sections[i];
                if (!section_is(s, section))
                        continue;
                for (size_t j = 0; j < s->n_lines; j++)
                        if (line_is_entry(&s->lines[j], key))
                                return &s->lines[j];
        }
        return NULL;
}

int unit_file_set(UnitFile *uf, const char *section, const char *key, const char *value) {
        _cleanup_(line_done) Line entry = {};
        Line *first;
        size_t n;
        int r;

        r = check_assignment(section, key, value);
        if (r < 0)
                return r;

        first = find_first_entry(uf, section, key);
        if (!first)
                return unit_file_add(uf, section, key, value);

        /* Keep the line's place, and its line end or the lack of one at the end of the text. */
        n = strlen(first->raw);
        r = entry_new(uf, key, value, n > 0 && first->raw[n - 1] == '\n', &entry);
        if (r < 0)
                return r;
        entry.line = first->line;

        line_done(first);
        *first = entry;
        entry = (Line) {};
        (void) remove_entries(uf, section, key, first);
        return 0;
}
