/* SPDX-License-Identifier: Apache-2.0 */

/* The unit generator.
 *
 * 1. Golden units (tests/golden/<case>.service): the generated text must equal the file byte for
 *    byte, after the file's leading "## assert-..." lines, which are checked too (quadlet's
 *    style): see check_assertion() for the verbs.
 * 2. The proof that data reaches the process unchanged: a REFERENCE READER, written from the man
 *    pages (systemd.syntax(7) "Quoting", systemd.unit(5) "Specifiers", systemd.service(5)
 *    "Command lines", systemd.exec(5) Environment=) and sharing no code with fleetd (not
 *    basic/unit-escape.c, not unit-file.c), reads the generated text as systemd would, in both
 *    possible orders (specifiers per word after unquoting, as systemd does now, or on the whole
 *    line before), then models the runtime (`podman run --env=KEY` takes KEY from its environment,
 *    nspawn --setenv=KEY too) to get the argv and environment the app would see. They must equal
 *    the release's command and config byte for byte, for hostile values, on every runtime. The
 *    reader is strict: anything the generator should never write (a bare '$', an unknown
 *    specifier or escape, a quote inside a word, a command separator) fails the test.
 * 3. Errors: releases that cannot become units, with the message.
 * 4. If systemd-analyze is installed: `systemd-analyze verify` on every generated unit must say
 *    nothing but "not executable" for programs this machine lacks. */

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/strv.h"
#include "basic/unit-escape.h"
#include "basic/utf8.h"
#include "unit-options.h"
#include "release.h"
#include "unit-file.h"
#include "unit-gen.h"
#include "../tests.h"

#define S(x) ((char *) (x))

/* The port the agent would have written into the unit's port file. */
#define TEST_PORT "31337"

static const char *arg_golden_dir;

/* ------------------------------------------------------------------------------------------------
 * The reference reader. */

typedef struct RefEntry {
        char *section, *key, *value;
} RefEntry;

typedef struct RefUnit {
        RefEntry *entries;
        size_t n;
} RefUnit;

static void ref_unit_done(RefUnit *u) {
        for (size_t i = 0; i < u->n; i++) {
                free(u->entries[i].section);
                free(u->entries[i].key);
                free(u->entries[i].value);
        }
        free(u->entries);
        *u = (RefUnit) {};
}

static char *strndup_stripped(const char *s, size_t n) {
        while (n > 0 && strchr(" \t", *s))
                s++, n--;
        while (n > 0 && strchr(" \t", s[n - 1]))
                n--;
        return strndup(s, n);
}

/* systemd.syntax(7): "[Section]" lines, "Key=Value" lines (blanks around both stripped), '#' and
 * ';' comment lines, empty lines. Continuation lines are refused: the generator writes none. */
static int ref_unit_read(const char *text, RefUnit *ret) {
        _cleanup_free_ char *section = NULL;
        RefUnit u = {};

        for (const char *line = text; *line;) {
                const char *eol = strchrnul(line, '\n'), *eq;
                size_t n = eol - line;
                _cleanup_free_ char *l = strndup_stripped(line, n);

                line = *eol ? eol + 1 : eol;
                if (!l)
                        goto fail;
                if (l[0] == 0 || l[0] == '#' || l[0] == ';')
                        continue;
                if (l[strlen(l) - 1] == '\\') {
                        fprintf(stderr, "reference: continued line: %s\n", l);
                        goto fail;
                }
                if (l[0] == '[') {
                        free(section);
                        section = strndup(l + 1, strlen(l) - 2);
                        continue;
                }
                eq = strchr(l, '=');
                if (!eq || !section) {
                        fprintf(stderr, "reference: not an assignment: %s\n", l);
                        goto fail;
                }
                RefEntry *e = realloc(u.entries, (u.n + 1) * sizeof(RefEntry));
                if (!e)
                        goto fail;
                u.entries = e;
                e[u.n++] = (RefEntry) { strdup(section), strndup_stripped(l, eq - l),
                                        strndup_stripped(eq + 1, strlen(eq + 1)) };
        }
        *ret = u;
        return 0;
fail:
        ref_unit_done(&u);
        return -EBADMSG;
}

/* Every value of key in section, an empty assignment resetting the list. */
static char **ref_values(const RefUnit *u, const char *section, const char *key) {
        char **l = calloc(1, sizeof(char *));

        for (size_t i = 0; l && i < u->n; i++) {
                if (!streq(u->entries[i].section, section) || !streq(u->entries[i].key, key))
                        continue;
                if (u->entries[i].value[0] == 0) {
                        strv_free(l);
                        l = calloc(1, sizeof(char *));
                } else if (strv_extend(&l, u->entries[i].value) < 0)
                        l = strv_free(l);
        }
        return l;
}

/* systemd.unit(5) "Specifiers": "%%" is '%', "%n" the unit name. The generator writes no other
 * specifier, so any other one is an error here. */
static char *ref_specifiers(const char *s, const char *unit) {
        char *out = malloc(strlen(s) * (strlen(unit) + 1) + 1), *o = out;

        for (; out && *s; s++) {
                if (*s != '%') {
                        *o++ = *s;
                        continue;
                }
                if (s[1] == '%')
                        *o++ = '%';
                else if (s[1] == 'n')
                        o = stpcpy(o, unit);
                else {
                        fprintf(stderr, "reference: unexpected specifier '%%%c'\n", s[1]);
                        free(out);
                        return NULL;
                }
                s++;
        }
        if (out)
                *o = 0;
        return out;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static char *put_utf8(char *o, uint32_t cp) {
        if (cp < 0x80)
                *o++ = cp;
        else if (cp < 0x800)
                *o++ = 0xc0 | cp >> 6, *o++ = 0x80 | (cp & 0x3f);
        else if (cp < 0x10000)
                *o++ = 0xe0 | cp >> 12, *o++ = 0x80 | (cp >> 6 & 0x3f), *o++ = 0x80 | (cp & 0x3f);
        else
                *o++ = 0xf0 | cp >> 18, *o++ = 0x80 | (cp >> 12 & 0x3f), *o++ = 0x80 | (cp >> 6 & 0x3f),
                *o++ = 0x80 | (cp & 0x3f);
        return o;
}

/* One escape of systemd.syntax(7)'s table, s just past the backslash. Writes the character to
 * *o (advanced) and returns how many characters of s it used, or 0 for an escape not in the
 * table (or a NUL byte, which no string can hold). */
static size_t ref_unescape_one(const char *s, char **o) {
        static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\\"\"''s ";
        const char *m;
        uint32_t v = 0;
        size_t digits = 0;
        int base = 16;

        if (*s && (m = strchr(simple, *s)) && (m - simple) % 2 == 0) {
                *(*o)++ = m[1];
                return 1;
        }
        switch (*s) {
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        default:
                if (*s >= '0' && *s <= '7')
                        digits = 3, base = 8;
        }
        if (digits == 0)
                return 0;
        for (size_t i = base == 8 ? 0 : 1; i < digits + (base == 8 ? 0 : 1); i++) {
                int d = hexval(s[i]);
                if (d < 0 || d >= base)
                        return 0;
                v = v * base + d;
        }
        if (v == 0 || (base == 8 && v > 255) || v > 0x10ffff)
                return 0;
        if (*s == 'x' || base == 8)
                *(*o)++ = (char) v; /* a byte */
        else
                *o = put_utf8(*o, v);
        return base == 8 ? 3 : digits + 1;
}

/* systemd.syntax(7) "Quoting": items separated by whitespace, each either wrapped as a whole in
 * "..." or '...' (the closing quote followed by whitespace or the end) or bare; C escapes in
 * both. For command lines (exec): a bare ";" item would separate two commands (an error here:
 * fleetd writes one command per line), and a bare "\;" item is a literal ';'. */
static char **ref_split(const char *s, bool exec) {
        _cleanup_strv_free_ char **words = calloc(1, sizeof(char *));
        _cleanup_free_ char *buf = malloc(strlen(s) + 1);

        if (!words || !buf)
                return NULL;
        for (;;) {
                char *o = buf, quote = 0;

                s += strspn(s, " \t\n\r");
                if (*s == 0)
                        break;
                if (exec && s[0] == ';' && (s[1] == 0 || strchr(" \t\n\r", s[1]))) {
                        fprintf(stderr, "reference: a command separator\n");
                        return NULL;
                }
                if (exec && s[0] == '\\' && s[1] == ';' && (s[2] == 0 || strchr(" \t\n\r", s[2]))) {
                        if (strv_extend(&words, ";") < 0)
                                return NULL;
                        s += 2;
                        continue;
                }
                if (*s == '"' || *s == '\'')
                        quote = *s++;
                for (;;) {
                        if (*s == 0) {
                                if (quote) {
                                        fprintf(stderr, "reference: unbalanced quote\n");
                                        return NULL;
                                }
                                break;
                        }
                        if (quote && *s == quote) {
                                s++;
                                if (*s && !strchr(" \t\n\r", *s)) {
                                        fprintf(stderr, "reference: closing quote not followed by whitespace\n");
                                        return NULL;
                                }
                                break;
                        }
                        if (!quote && strchr(" \t\n\r", *s))
                                break;
                        if (!quote && (*s == '"' || *s == '\'')) {
                                fprintf(stderr, "reference: a quote inside a word: %s\n", s);
                                return NULL;
                        }
                        if (*s == '\\') {
                                size_t k = ref_unescape_one(s + 1, &o);
                                if (k == 0) {
                                        fprintf(stderr, "reference: unknown escape: %s\n", s);
                                        return NULL;
                                }
                                s += 1 + k;
                                continue;
                        }
                        *o++ = *s++;
                }
                *o = 0;
                if (strv_extend(&words, buf) < 0)
                        return NULL;
        }
        return TAKE_PTR(words);
}

typedef enum RefOrder {
        REF_WORDS_FIRST,      /* systemd now: unquote, then specifiers in each word */
        REF_SPECIFIERS_FIRST, /* specifiers on the whole line, then unquote (as older code may have) */
        _REF_ORDER_MAX,
} RefOrder;

/* A list setting's items after quoting and specifiers, in the given order. */
static char **ref_items(const char *raw, bool exec, RefOrder order, const char *unit) {
        _cleanup_strv_free_ char **words = NULL;

        if (order == REF_SPECIFIERS_FIRST) {
                _cleanup_free_ char *t = ref_specifiers(raw, unit);
                return t ? ref_split(t, exec) : NULL;
        }
        words = ref_split(raw, exec);
        STRV_FOREACH(w, words) {
                char *t = ref_specifiers(*w, unit);
                if (!t)
                        return NULL;
                free(*w);
                *(char **) w = t;
        }
        return TAKE_PTR(words);
}

/* systemd.service(5): "$$" is '$' and "${NAME}" the variable's value; the generator writes no
 * other '$' and no other variable than PORT. port NULL: PORT is not set. */
static char *ref_variables(const char *s, const char *port) {
        char *out = malloc(strlen(s) * (port ? strlen(port) + 1 : 1) + 1), *o = out;

        for (; out && *s; s++) {
                if (*s != '$') {
                        *o++ = *s;
                        continue;
                }
                if (s[1] == '$') {
                        *o++ = '$';
                        s++;
                } else if (port && startswith(s, "${PORT}")) {
                        o = stpcpy(o, port);
                        s += strlen("${PORT}") - 1;
                } else {
                        fprintf(stderr, "reference: unexpected variable reference: %s\n", s);
                        free(out);
                        return NULL;
                }
        }
        if (out)
                *o = 0;
        return out;
}

/* A command line as systemd runs it: its argv, and whether it had the '-' prefix. */
static char **ref_command(const char *raw, RefOrder order, const char *unit, const char *port, bool *ret_ignore) {
        _cleanup_strv_free_ char **argv = NULL;

        *ret_ignore = raw[0] == '-';
        if (*ret_ignore)
                raw++;
        if (strchr("@:+!|", raw[0])) {
                fprintf(stderr, "reference: unexpected prefix %c\n", raw[0]);
                return NULL;
        }
        argv = ref_items(raw, true, order, unit);
        if (!argv)
                return NULL;
        if (!argv[0] || argv[0][0] != '/') {
                fprintf(stderr, "reference: no absolute program in: %s\n", raw);
                return NULL;
        }
        STRV_FOREACH(a, argv) {
                char *t = a == argv ? strdup(*a) : ref_variables(*a, port); /* the program: no variables */
                if (!t)
                        return NULL;
                free(*a);
                *(char **) a = t;
        }
        return TAKE_PTR(argv);
}

/* "NAME=value" list lookups. */
static const char *env_get(char *const *env, const char *name) {
        size_t n = strlen(name);
        STRV_FOREACH(e, env)
                if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
                        return *e + n + 1;
        return NULL;
}

static int env_set(char ***env, const char *assignment) {
        size_t n = strcspn(assignment, "=");
        STRV_FOREACH(e, *env)
                if (strncmp(*e, assignment, n + 1) == 0) {
                        char *t = strdup(assignment);
                        if (!t)
                                return -ENOMEM;
                        free(*e);
                        *(char **) e = t;
                        return 0;
                }
        return strv_extend(env, assignment);
}

/* systemd.exec(5): a name of ASCII letters, digits and '_', not starting with a digit. */
static bool ref_env_name_is_valid(const char *s, size_t n) {
        if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", s[i]))
                        return false;
        return true;
}

/* The unit's environment: Environment= assignments (no '$' expansion), then EnvironmentFile=,
 * which must be fleetd's port file and then holds PORT=TEST_PORT. */
static char **ref_environment(const RefUnit *u, RefOrder order, const char *unit) {
        _cleanup_strv_free_ char **env = calloc(1, sizeof(char *)), **lines = ref_values(u, "Service", "Environment"),
                                 **files = ref_values(u, "Service", "EnvironmentFile");
        _cleanup_free_ char *port_file = NULL;

        if (!env || !lines || !files || unit_gen_port_file(unit, &port_file) < 0)
                return NULL;
        STRV_FOREACH(l, lines) {
                _cleanup_strv_free_ char **items = ref_items(*l, false, order, unit);
                if (!items)
                        return NULL;
                STRV_FOREACH(i, items) {
                        if (!strchr(*i, '=') || !ref_env_name_is_valid(*i, strcspn(*i, "="))) {
                                fprintf(stderr, "reference: not an assignment: %s\n", *i);
                                return NULL;
                        }
                        if (env_set(&env, *i) < 0)
                                return NULL;
                }
        }
        STRV_FOREACH(f, files) {
                _cleanup_free_ char *path = ref_specifiers(*f, unit);
                if (!path || !streq(path, port_file)) {
                        fprintf(stderr, "reference: unexpected EnvironmentFile=%s\n", *f);
                        return NULL;
                }
                if (env_set(&env, "PORT=" TEST_PORT) < 0)
                        return NULL;
        }
        return TAKE_PTR(env);
}

/* What the app sees. */
typedef struct AppView {
        char **unit_argv; /* ExecStart= as systemd runs it */
        char **unit_env;  /* the unit's environment */
        char **argv;      /* the app's command: after the image for containers, all of it for exec */
        char **env;       /* the app's environment, as far as the unit decides it */
        bool booted;      /* nspawn --boot: the image's init, no command */
} AppView;

static void app_view_done(AppView *v) {
        strv_free(v->unit_argv);
        strv_free(v->unit_env);
        strv_free(v->argv);
        strv_free(v->env);
        *v = (AppView) {};
}

/* Options the generator passes without '=' (no separate value, so the first word that is not an
 * option is the image, as podman's and docker's CLI parse it). */
static bool option_is_bare_flag(const char *s) {
        static const char *const flags[] = { "--replace", "--rm", "-d", "--init", "--quiet", "--keep-unit",
                                             "--as-pid2", "--boot" };
        for (size_t i = 0; i < ELEMENTSOF(flags); i++)
                if (streq(s, flags[i]))
                        return true;
        return false;
}

/* "--env=KEY" passes KEY from the runtime's environment (podman-run(1), docker run, and
 * systemd-nspawn(1) --setenv=NAME without "=VALUE"). A value on the command line is an error
 * here: the generator must never write one. */
static int model_env_flag(AppView *v, const char *arg, const char *flag) {
        const char *key = startswith(arg, flag), *value;
        _cleanup_free_ char *a = NULL;

        if (!key)
                return 0;
        if (strchr(key, '=')) {
                fprintf(stderr, "model: a value on the command line: %s\n", arg);
                return -EBADMSG;
        }
        value = env_get(v->unit_env, key);
        if (!value) /* podman: "set the variable only if it is set on the host" */
                return 0;
        if (asprintf(&a, "%s=%s", key, value) < 0)
                return -ENOMEM;
        return env_set(&v->env, a);
}

static int model_runtime(AppView *v, Runtime rt) {
        static const char *const programs[_RUNTIME_MAX] = {
                [RUNTIME_PODMAN] = "/usr/bin/podman",
                [RUNTIME_DOCKER] = "/usr/bin/docker",
                [RUNTIME_NSPAWN] = "/usr/bin/systemd-nspawn",
        };
        const char *flag = rt == RUNTIME_NSPAWN ? "--setenv=" : "--env=";
        char **a = v->unit_argv;
        int r;

        if (rt == RUNTIME_EXEC) {
                strv_free(v->env);
                v->argv = strv_copy(v->unit_argv);
                v->env = strv_copy(v->unit_env);
                return v->argv && v->env ? 0 : -ENOMEM;
        }
        if (!streq(a[0], programs[rt]) || (rt != RUNTIME_NSPAWN && !streq_ptr(a[1], "run")))
                return -EBADMSG;
        a += rt == RUNTIME_NSPAWN ? 1 : 2;
        for (; *a && (*a)[0] == '-'; a++) {
                if (streq(*a, "--")) { /* nspawn: the command follows */
                        a++;
                        break;
                }
                if (!option_is_bare_flag(*a) && !strchr(*a, '=')) {
                        fprintf(stderr, "model: an option without '=': %s\n", *a);
                        return -EBADMSG;
                }
                v->booted = v->booted || streq(*a, "--boot");
                if ((r = model_env_flag(v, *a, flag)) < 0)
                        return r;
        }
        if (rt != RUNTIME_NSPAWN && !*a++) /* the image */
                return -EBADMSG;
        v->argv = strv_copy(a);
        return v->argv ? 0 : -ENOMEM;
}

/* Reads text as systemd would (in the given order) and models the runtime. */
static int app_view(const char *text, Runtime rt, const char *unit, RefOrder order, AppView *ret) {
        _cleanup_(ref_unit_done) RefUnit u = {};
        _cleanup_(app_view_done) AppView v = {};
        _cleanup_strv_free_ char **starts = NULL;
        bool ignore;
        int r;

        if ((r = ref_unit_read(text, &u)) < 0)
                return r;
        starts = ref_values(&u, "Service", "ExecStart");
        if (!starts || strv_length(starts) != 1)
                return -EBADMSG;
        v.unit_env = ref_environment(&u, order, unit);
        if (!v.unit_env)
                return -EBADMSG;
        v.unit_argv = ref_command(starts[0], order, unit, env_get(v.unit_env, "PORT"), &ignore);
        if (!v.unit_argv || ignore)
                return -EBADMSG;
        v.env = calloc(1, sizeof(char *));
        if (!v.env)
                return -ENOMEM;
        if ((r = model_runtime(&v, rt)) < 0)
                return r;
        *ret = v;
        v = (AppView) {};
        return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Releases. */

static char *web_command[] = { S("/bin/httpd"), S("-f"), S("-p"), S("${PORT}"), NULL };
static char *worker_command[] = { S("/bin/sh"), S("-c"), S("while sleep 5; do echo tick; done"), NULL };
static MetadataPair web_constraints[] = { { S("role"), S("web") }, { S("disk"), S("ssd") } };
static MetadataPair hello_config[] = { { S("GREETING"), S("hi") }, { S("MESSAGE"), S("hello, world") } };

static ProcessType hello_processes[] = {
        {
                .name = S("web"),
                .command = web_command,
                .port = 5000,
                .scale = 2,
                .health = { .http_path = S("/"), .interval = 2 * USEC_PER_SEC, .timeout = USEC_PER_SEC,
                            .threshold = 3, .enabled = true },
                .memory_bytes = 128 << 20,
                .cpu_millis = 500,
                .constraints = web_constraints,
                .n_constraints = ELEMENTSOF(web_constraints),
        },
        {
                .name = S("worker"),
                .command = worker_command,
                .scale = 1,
        },
};

static Release hello = {
        .app = S("hello"),
        .version = 3,
        .image = S("localhost/hello:1.0"),
        .runtime = RUNTIME_PODMAN,
        .config = hello_config,
        .n_config = ELEMENTSOF(hello_config),
        .processes = hello_processes,
        .n_processes = ELEMENTSOF(hello_processes),
        .max_surge = 1,
        .cause = S("deploy"),
};

/* Hostile text: shell syntax, systemd's specifiers, variables, quotes, escapes, separators,
 * unit-file syntax, blanks, unicode. Control characters other than TAB and LF are only in
 * hostile_args: config refuses them. */
static const char *const hostile_values[] = {
        "; rm -rf /", "$(id)", "`id`", "%n", "%%n", "%", "%%%n%", "$", "$$", "$PORT", "${PORT}", "x${PORT}y",
        "$${PORT}", "${PORT", "${HOME}", "\"", "'", "\"'\"", "'\"'", "\\", "\\\\", "\\n", "\\x41", "\\;", ";", "a;b",
        "line1\nline2", "\n", "tab\there", " ", "  two  blanks  ", "", "#comment", ";comment", "[Service]",
        "Key=Value", "=", "a=b=c", "ü", "grüße ✓ 日本語 😀", "\u00a0no-break space", "trailing backslash\\",
        "{}", "--env=EVIL=1", "-d", "\"quoted\" 'twice'", "\\\"", "€$%\\'\"", "in quotes: ${PORT} \"${PORT}\"",
};

static const char *const hostile_args_extra[] = { "\x01", "\x1b[31mred", "\r", "a\rb", "\x7f", "\v\f\a\b" };

static MetadataPair *hostile_config(void) {
        MetadataPair *c = calloc(ELEMENTSOF(hostile_values), sizeof(MetadataPair));

        for (size_t i = 0; c && i < ELEMENTSOF(hostile_values); i++)
                if (asprintf(&c[i].key, "V%zu", i) < 0 || !(c[i].value = strdup(hostile_values[i])))
                        return NULL; /* leaks in a test that fails anyway */
        return c;
}

static void hostile_config_free(MetadataPair *c) {
        for (size_t i = 0; c && i < ELEMENTSOF(hostile_values); i++) {
                free(c[i].key);
                free(c[i].value);
        }
        free(c);
}

/* program, then every hostile value and the control characters, as arguments. */
static char **hostile_command(const char *program) {
        char **argv = NULL;

        if (strv_extend(&argv, program) < 0)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(hostile_values); i++)
                if (strv_extend(&argv, hostile_values[i]) < 0)
                        return strv_free(argv);
        for (size_t i = 0; i < ELEMENTSOF(hostile_args_extra); i++)
                if (strv_extend(&argv, hostile_args_extra[i]) < 0)
                        return strv_free(argv);
        return argv;
}

/* What the app must receive for a manifest word: each literal "${PORT}" becomes the port. */
static char *expected_arg(const char *s) {
        char *out = malloc(strlen(s) * strlen(TEST_PORT) + 1), *o = out;

        while (out && *s) {
                if (startswith(s, "${PORT}")) {
                        o = stpcpy(o, TEST_PORT);
                        s += strlen("${PORT}");
                } else
                        *o++ = *s++;
        }
        if (out)
                *o = 0;
        return out;
}

/* ------------------------------------------------------------------------------------------------
 * Helpers. */

static char *unit_name(const Release *r, const char *process, unsigned instance) {
        return release_instance_name(r, process, instance);
}

static char *generate_text(const Release *r, const ProcessType *p, unsigned instance) {
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        _cleanup_free_ char *error = NULL;
        char *text = NULL;

        if (unit_gen_instance(r, p, instance, &uf, &error) < 0) {
                fprintf(stderr, "unit_gen_instance: %s\n", strna(error));
                return NULL;
        }
        if (unit_file_print(uf, &text) < 0)
                return NULL;
        return text;
}

/* NULL is the empty list. */
static bool strv_equal_verbose(char *const *a, char *const *b, const char *what) {
        static char *const empty[] = { NULL };
        size_t i;

        a = a ?: empty;
        b = b ?: empty;
        for (i = 0; a[i] && b[i]; i++)
                if (!streq(a[i], b[i]))
                        break;
        if (!a[i] && !b[i])
                return true;
        fprintf(stderr, "%s: word %zu differs: \"%s\", expected \"%s\"\n", what, i, strna(a[i]), strna(b[i]));
        return false;
}

static const char *tmp_dir(void) {
        static char dir[] = "/tmp/test-unit-gen-XXXXXX";
        static bool made;

        if (!made && mkdtemp(dir))
                made = true;
        return made ? dir : NULL;
}

static bool program_exists(const char *path) {
        return access(path, X_OK) == 0;
}

static bool have_systemd_analyze(void) {
        static int have = -1;

        if (have < 0)
                have = system("command -v systemd-analyze >/dev/null 2>&1") == 0;
        return have;
}

/* `systemd-analyze verify` on text, written as a unit of that name. Every line it prints must be
 * about a program this machine lacks. Returns true if it is happy (or not installed). */
static bool verify_with_systemd(const char *unit, const char *text) {
        _cleanup_free_ char *path = NULL, *cmd = NULL;
        char line[4096];
        bool ok = true;
        FILE *f;

        if (!have_systemd_analyze())
                return true;
        if (!tmp_dir() || asprintf(&path, "%s/%s", tmp_dir(), unit) < 0 ||
            asprintf(&cmd, "SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no '%s' 2>&1", path) < 0)
                return false;
        f = fopen(path, "we");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0)
                return false;
        f = popen(cmd, "r");
        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                char program[1024];
                if (sscanf(line, "%*s Command %1023s is not executable: No such file or directory", program) == 1 &&
                    !program_exists(program))
                        continue;
                fprintf(stderr, "systemd-analyze verify %s: %s", unit, line);
                ok = false;
        }
        pclose(f);
        unlink(path);
        return ok;
}

/* ------------------------------------------------------------------------------------------------
 * Golden cases. */

static char *registry_command[] = { S("/app/server"), S("--port=${PORT}"), S("--name=%n"), NULL };
static ProcessType registry_processes[] = { { .name = S("api"), .port = 8080, .scale = 1 },
                                            { .name = S("cron"), .command = registry_command, .port = 9000 } };
static Release registry_release = {
        .app = S("shop"),
        .version = 7,
        .image = S("quay.example.com/acme/shop@sha256:0123456789abcdef"),
        .runtime = RUNTIME_PODMAN,
        .processes = registry_processes,
        .n_processes = ELEMENTSOF(registry_processes),
};

/* A built release: its image pinned to the digest it was pushed with, pulled at every start. */
static Release digest_release = {
        .app = S("hello"),
        .version = 9,
        .image = S("10.233.1.13:5000/hello:20240101-120000-ab12"),
        .digest = S("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
        .pull = IMAGE_PULL_ALWAYS,
        .runtime = RUNTIME_PODMAN,
        .processes = hello_processes,
        .n_processes = ELEMENTSOF(hello_processes),
};

static Release docker_release = {
        .app = S("hello"),
        .version = 4,
        .image = S("docker.io/library/hello:1.0"),
        .runtime = RUNTIME_DOCKER,
        .config = hello_config,
        .n_config = ELEMENTSOF(hello_config),
        .processes = hello_processes,
        .n_processes = ELEMENTSOF(hello_processes),
};

static MetadataPair nspawn_constraints[] = { { S("nspawn"), S("yes") } };
static ProcessType nspawn_processes[] = {
        { .name = S("web"), .command = web_command, .port = 5000, .memory_bytes = 64 << 20, .cpu_millis = 1250,
          .constraints = nspawn_constraints, .n_constraints = 1 },
        { .name = S("os") },
};
static Release nspawn_release = {
        .app = S("tree"),
        .version = 2,
        .image = S("hello-tree"),
        .runtime = RUNTIME_NSPAWN,
        .config = hello_config,
        .n_config = 1,
        .processes = nspawn_processes,
        .n_processes = ELEMENTSOF(nspawn_processes),
};
static Release nspawn_abs_release = {
        .app = S("tree"),
        .version = 2,
        .image = S("/srv/machines/base"),
        .runtime = RUNTIME_NSPAWN,
        .processes = nspawn_processes,
        .n_processes = ELEMENTSOF(nspawn_processes),
};

static char *exec_command[] = { S("/usr/local/bin/hello-server"), S("--listen=0.0.0.0:${PORT}"), S("--greeting"),
                                S("50% off, $5 each"), NULL };
static MetadataPair exec_config[] = { { S("HOME"), S("/var/lib/hello") }, { S("RUST_LOG"), S("info") } };
static ProcessType exec_processes[] = {
        { .name = S("web"), .command = exec_command, .port = 7000, .cpu_millis = 125 },
        { .name = S("worker") },
};
static Release exec_release = {
        .app = S("hello"),
        .version = 5,
        .image = S("/usr/libexec/hello/worker"),
        .runtime = RUNTIME_EXEC,
        .config = exec_config,
        .n_config = ELEMENTSOF(exec_config),
        .processes = exec_processes,
        .n_processes = ELEMENTSOF(exec_processes),
};

static ProcessType numbered_processes[] = { { .name = S("web-api"), .command = web_command, .port = 80 } };
static Release numbered_release = {
        .app = S("my-app"),
        .version = 10,
        .image = S("localhost/my-app:10"),
        .runtime = RUNTIME_PODMAN,
        .processes = numbered_processes,
        .n_processes = 1,
};

typedef struct GoldenCase {
        const char *name;
        const Release *release;
        const char *process;
        unsigned instance;
} GoldenCase;

/* The hostile cases use releases built at run time, see golden_release(). */
static const GoldenCase golden_cases[] = {
        { "podman-web", &hello, "web", 2 },
        { "podman-worker", &hello, "worker", 1 },
        { "podman-hostile-config", NULL, "web", 1 },
        { "podman-hostile-command", NULL, "web", 1 },
        { "podman-registry-image", &registry_release, "api", 1 },
        { "podman-registry-command", &registry_release, "cron", 3 },
        { "podman-digest", &digest_release, "web", 1 },
        { "docker-web", &docker_release, "web", 1 },
        { "nspawn-web", &nspawn_release, "web", 1 },
        { "nspawn-boot", &nspawn_abs_release, "os", 2 },
        { "exec-web", &exec_release, "web", 1 },
        { "exec-image", &exec_release, "worker", 4 },
        { "instance-numbering", &numbered_release, "web-api", 12 },
};

/* The release of a golden case: static, or for the hostile ones made here (free with
 * hostile_release_free()). */
static Release *golden_release(const GoldenCase *c, ProcessType *proc_storage) {
        Release *r;

        if (c->release)
                return (Release *) c->release;
        r = calloc(1, sizeof(Release));
        if (!r)
                return NULL;
        *r = hello;
        *proc_storage = hello_processes[0];
        r->processes = proc_storage;
        r->n_processes = 1;
        if (streq(c->name, "podman-hostile-config")) {
                r->config = hostile_config();
                r->n_config = ELEMENTSOF(hostile_values);
                proc_storage->command = NULL;
        } else {
                r->config = NULL;
                r->n_config = 0;
                proc_storage->command = hostile_command("/bin/echo");
        }
        return r;
}

static void golden_release_free(const GoldenCase *c, Release *r) {
        if (c->release || !r)
                return;
        hostile_config_free(r->config);
        strv_free(r->processes[0].command);
        free(r);
}

/* Splits an expected file into its "## " lines (without the "## ") and the unit text after. */
static int split_golden(const char *file, char ***ret_assertions, const char **ret_text) {
        _cleanup_strv_free_ char **assertions = calloc(1, sizeof(char *));
        const char *p = file;

        if (!assertions)
                return -ENOMEM;
        while (startswith(p, "##")) {
                const char *eol = strchrnul(p, '\n');
                _cleanup_free_ char *a = strndup(p + 2, eol - p - 2);
                if (!a || strv_extend(&assertions, a) < 0)
                        return -ENOMEM;
                p = *eol ? eol + 1 : eol;
        }
        *ret_assertions = TAKE_PTR(assertions);
        *ret_text = p;
        return 0;
}

static bool contains_run(char *const *list, char *const *run) {
        size_t n = strv_length(list), m = strv_length(run);

        for (size_t i = 0; m > 0 && i + m <= n; i++) {
                size_t j = 0;
                while (j < m && streq(list[i + j], run[j]))
                        j++;
                if (j == m)
                        return true;
        }
        return false;
}

static bool ends_with_run(char *const *list, char *const *run) {
        size_t n = strv_length(list), m = strv_length(run);
        return m <= n && strv_equal_verbose((char **) list + n - m, run, "final words");
}

typedef struct GoldenContext {
        const char *text;
        const char *unit;
        Runtime runtime;
        RefUnit ref;
        AppView view;
} GoldenContext;

static char **command_of(GoldenContext *g, const char *key) {
        _cleanup_strv_free_ char **values = ref_values(&g->ref, "Service", key);
        bool ignore;

        if (!values || strv_length(values) != 1)
                return NULL;
        return ref_command(values[0], REF_WORDS_FIRST, g->unit, TEST_PORT, &ignore);
}

/* One "## VERB ARGS..." line; the arguments are quoted as in unit files ("a b", \n, ...):
 *   assert-key-is SECTION KEY VALUE...    the raw values of every KEY= in SECTION, in order
 *   assert-key-missing SECTION KEY
 *   assert-argv KEY WORD...               KEY='s argv (as systemd runs it) contains WORD... in a row
 *   assert-argv-final KEY WORD...         ... ends with WORD...
 *   assert-app-argv WORD...               the app's command, exactly (nothing after it: none)
 *   assert-app-env NAME VALUE             the app's environment holds NAME=VALUE
 *   assert-app-env-missing NAME
 *   assert-engine MEMORY_BYTES CPU_MILLIS METADATA...   what the engine reads for placement */
static bool check_assertion(GoldenContext *g, const char *line) {
        _cleanup_strv_free_ char **words = ref_split(line, false), **values = NULL, **argv = NULL;
        const char *verb;
        size_t n;

        if (!words || !words[0]) {
                fprintf(stderr, "bad assertion line: %s\n", line);
                return false;
        }
        verb = words[0];
        n = strv_length(words) - 1;

        if (streq(verb, "assert-key-is") && n >= 3) {
                values = ref_values(&g->ref, words[1], words[2]);
                return values && strv_equal_verbose(values, words + 3, line);
        }
        if (streq(verb, "assert-key-missing") && n == 2) {
                values = ref_values(&g->ref, words[1], words[2]);
                return values && !values[0];
        }
        if ((streq(verb, "assert-argv") || streq(verb, "assert-argv-final")) && n >= 2) {
                argv = command_of(g, words[1]);
                if (!argv)
                        return false;
                return streq(verb, "assert-argv") ? contains_run(argv, words + 2) : ends_with_run(argv, words + 2);
        }
        if (streq(verb, "assert-app-argv"))
                return strv_equal_verbose(g->view.argv, words + 1, line);
        if (streq(verb, "assert-app-env") && n == 2)
                return streq_ptr(env_get(g->view.env, words[1]), words[2]);
        if (streq(verb, "assert-app-env-missing") && n == 1)
                return !env_get(g->view.env, words[1]);
        if (streq(verb, "assert-engine") && n >= 2) {
                _cleanup_(unit_file_freep) UnitFile *uf = NULL;
                _cleanup_(unit_options_done) UnitOptions o = {};

                if (unit_file_parse(g->text, strlen(g->text), g->unit, &uf, NULL) < 0 ||
                    unit_options_parse(uf, g->unit, NULL, &o) < 0)
                        return false;
                return o.memory_bytes == strtoull(words[1], NULL, 10) &&
                       o.cpu_millis == strtoull(words[2], NULL, 10) &&
                       strv_equal_verbose(o.machine_metadata, words + 3, line);
        }
        fprintf(stderr, "unknown assertion: %s\n", line);
        return false;
}

/* Prints where a differs from b first. */
static void show_difference(const char *name, const char *a, const char *b) {
        size_t line = 1, i = 0;

        for (; a[i] && a[i] == b[i]; i++)
                if (a[i] == '\n')
                        line++;
        fprintf(stderr, "%s: differs from the golden file at line %zu:\n--- generated:\n%s--- golden:\n%s---\n", name,
                line, a, b);
}

static bool run_golden_case(const GoldenCase *c) {
        _cleanup_free_ char *path = NULL, *file = NULL, *text = NULL, *unit = NULL;
        _cleanup_strv_free_ char **assertions = NULL;
        GoldenContext g = {};
        ProcessType proc;
        Release *r = golden_release(c, &proc);
        const ProcessType *p = r ? release_find_process(r, c->process) : NULL;
        const char *expected;
        bool ok = false;

        if (!p || asprintf(&path, "%s/%s.service", arg_golden_dir, c->name) < 0)
                goto finish;
        text = generate_text(r, p, c->instance);
        unit = unit_name(r, p->name, c->instance);
        if (!text || !unit)
                goto finish;

        if (getenv("FLEETD_GOLDEN_SHOW"))
                printf("----- %s (%s)\n%s", c->name, unit, text);
        if (unit_file_read_text(path, &file, NULL) < 0 || split_golden(file, &assertions, &expected) < 0) {
                fprintf(stderr, "%s: cannot read\n", path);
                goto finish;
        }
        if (!streq(text, expected)) {
                show_difference(c->name, text, expected);
                goto finish;
        }

        g = (GoldenContext) { .text = text, .unit = unit, .runtime = r->runtime };
        if (ref_unit_read(text, &g.ref) < 0 || app_view(text, r->runtime, unit, REF_WORDS_FIRST, &g.view) < 0) {
                fprintf(stderr, "%s: the reference cannot read it\n", c->name);
                goto finish;
        }
        ok = true;
        STRV_FOREACH(a, assertions)
                if (!check_assertion(&g, *a)) {
                        fprintf(stderr, "%s: failed: ##%s\n", c->name, *a);
                        ok = false;
                }
        if (!verify_with_systemd(unit, text))
                ok = false;
finish:
        ref_unit_done(&g.ref);
        app_view_done(&g.view);
        golden_release_free(c, r);
        return ok;
}

/* Every *.service file in the golden directory has its case (a forgotten one would be dead). */
static bool golden_files_all_used(void) {
        struct dirent **entries = NULL;
        bool ok = true;
        int n = scandir(arg_golden_dir, &entries, NULL, alphasort);

        if (n < 0)
                return false;
        for (int i = 0; i < n; i++) {
                const char *name = entries[i]->d_name;
                const char *dot = strrchr(name, '.');
                bool found = false;

                for (size_t k = 0; dot && streq(dot, ".service") && !found && k < ELEMENTSOF(golden_cases); k++)
                        found = strlen(golden_cases[k].name) == (size_t) (dot - name) &&
                                strncmp(golden_cases[k].name, name, dot - name) == 0;
                if (dot && streq(dot, ".service") && !found) {
                        fprintf(stderr, "%s/%s: no golden case uses it\n", arg_golden_dir, name);
                        ok = false;
                }
                free(entries[i]);
        }
        free(entries);
        return ok;
}

TEST(golden) {
        ASSERT_TRUE(golden_files_all_used());
        for (size_t i = 0; i < ELEMENTSOF(golden_cases); i++)
                if (!run_golden_case(&golden_cases[i])) {
                        fprintf(stderr, "golden case %s failed\n", golden_cases[i].name);
                        test_failures++;
                }
}

/* ------------------------------------------------------------------------------------------------
 * The proof: hostile data, every runtime, both orders. */

/* Checks that the app of (r, p) gets p's command (with ${PORT} substituted) and r's config,
 * byte for byte, in both orders of reading (the runtime model refuses values on a command
 * line), and with verify, that systemd-analyze has nothing to say. */
static bool app_gets_exactly(const Release *r, const ProcessType *p, bool verify) {
        _cleanup_free_ char *text = generate_text(r, p, 1), *unit = unit_name(r, p->name, 1);
        _cleanup_strv_free_ char **expected_argv = calloc(1, sizeof(char *));
        AppView views[_REF_ORDER_MAX] = {};
        bool ok = false;

        if (!text || !unit || !expected_argv)
                return false;
        STRV_FOREACH(a, p->command) {
                char *e = expected_arg(*a);
                if (!e || strv_push(&expected_argv, e) < 0)
                        goto finish;
        }
        if (r->runtime == RUNTIME_EXEC && !p->command && strv_extend(&expected_argv, r->image) < 0)
                goto finish;

        for (RefOrder o = 0; o < _REF_ORDER_MAX; o++) {
                if (app_view(text, r->runtime, unit, o, &views[o]) < 0) {
                        fprintf(stderr, "%s: the reference cannot read it (order %d):\n%s", unit, o, text);
                        goto finish;
                }
                if (!strv_equal_verbose(views[o].argv, expected_argv, "app argv"))
                        goto finish;
                for (size_t i = 0; i < r->n_config; i++)
                        if (!streq_ptr(env_get(views[o].env, r->config[i].key), r->config[i].value)) {
                                fprintf(stderr, "%s: config %s reaches the app as \"%s\", not \"%s\"\n", unit,
                                        r->config[i].key, strna(env_get(views[o].env, r->config[i].key)),
                                        r->config[i].value);
                                goto finish;
                        }
                if (p->port && !streq_ptr(env_get(views[o].env, "PORT"), TEST_PORT))
                        goto finish;
        }
        if (!strv_equal_verbose(views[0].unit_argv, views[1].unit_argv, "the two orders"))
                goto finish;

        ok = !verify || verify_with_systemd(unit, text);
finish:
        for (RefOrder o = 0; o < _REF_ORDER_MAX; o++)
                app_view_done(&views[o]);
        return ok;
}

static const Runtime all_runtimes[] = { RUNTIME_PODMAN, RUNTIME_DOCKER, RUNTIME_NSPAWN, RUNTIME_EXEC };

TEST(hostile_config_reaches_the_app_unchanged) {
        MetadataPair *config = hostile_config();
        ASSERT_TRUE(config);

        for (size_t i = 0; i < ELEMENTSOF(all_runtimes); i++) {
                ProcessType p = hello_processes[0];
                Release r = hello;

                r.runtime = all_runtimes[i];
                r.config = config;
                r.n_config = ELEMENTSOF(hostile_values);
                r.image = S(r.runtime == RUNTIME_NSPAWN ? "hello-tree" : r.runtime == RUNTIME_EXEC ? "" : r.image);
                p.command = r.runtime == RUNTIME_EXEC ? (char *[]) { S("/bin/echo"), S("${PORT}"), NULL } : NULL;
                if (!app_gets_exactly(&r, &p, true)) {
                        fprintf(stderr, "runtime %s failed\n", runtime_to_string(r.runtime));
                        test_failures++;
                }
        }
        hostile_config_free(config);
}

TEST(hostile_command_reaches_the_app_unchanged) {
        for (size_t i = 0; i < ELEMENTSOF(all_runtimes); i++) {
                _cleanup_strv_free_ char **command = hostile_command("/bin/echo");
                ProcessType p = hello_processes[0];
                Release r = hello;

                ASSERT_TRUE(command);
                r.runtime = all_runtimes[i];
                r.image = S(r.runtime == RUNTIME_NSPAWN ? "/srv/tree" : r.image);
                p.command = command;
                if (!app_gets_exactly(&r, &p, true)) {
                        fprintf(stderr, "runtime %s failed\n", runtime_to_string(r.runtime));
                        test_failures++;
                }
        }
}

/* Each hostile value alone, as the whole command line after the program and as the only config,
 * so that one value cannot hide another's mistake. */
TEST(each_hostile_value_alone) {
        for (size_t i = 0; i < ELEMENTSOF(hostile_values); i++)
                for (size_t k = 0; k < ELEMENTSOF(all_runtimes); k++) {
                        MetadataPair config = { S("VALUE"), (char *) hostile_values[i] };
                        char *command[] = { S("/bin/echo"), (char *) hostile_values[i], NULL };
                        ProcessType p = hello_processes[0];
                        Release r = hello;

                        r.runtime = all_runtimes[k];
                        r.image = S(r.runtime == RUNTIME_NSPAWN ? "hello-tree" : r.image);
                        r.config = &config;
                        r.n_config = 1;
                        p.command = command;
                        if (!app_gets_exactly(&r, &p, false)) {
                                fprintf(stderr, "value %zu on runtime %s failed\n", i, runtime_to_string(r.runtime));
                                test_failures++;
                        }
                }
}

/* ------------------------------------------------------------------------------------------------
 * Errors. */

typedef struct ErrorCase {
        const char *message;   /* the error message must contain it */
        Release release;       /* from hello with these changes */
        ProcessType process;   /* from hello's web with these changes */
        unsigned instance;
} ErrorCase;

static char *port_command[] = { S("/bin/x"), S("--port=${PORT}"), NULL };
static char *relative_command[] = { S("bin/server"), NULL };
static char *dotdot_command[] = { S("/usr/../bin/sh"), NULL };
static char *dollar_command[] = { S("/opt/$x/server"), NULL };
static char *dash_command[] = { S("-/bin/sh"), NULL };
static char *empty_first_command[] = { S(""), S("x"), NULL };
static char *bad_utf8_command[] = { S("/bin/echo"), S("\xff\xfe"), NULL };
static MetadataPair bad_key[] = { { S("1ABC"), S("x") } };
static MetadataPair dash_key[] = { { S("A-B"), S("x") } };
static MetadataPair port_key[] = { { S("PORT"), S("1") } };
static MetadataPair preload_key[] = { { S("LD_PRELOAD"), S("/var/lib/containers/storage/evil.so") } };
static MetadataPair docker_host_key[] = { { S("DOCKER_HOST"), S("tcp://evil:2375") } };
static MetadataPair notify_key[] = { { S("NOTIFY_SOCKET"), S("/tmp/x") } };
static MetadataPair cr_value[] = { { S("A"), S("x\ry") } };
static MetadataPair esc_value[] = { { S("A"), S("\x1b[2J") } };
static MetadataPair bad_utf8_value[] = { { S("A"), S("\xc0\xaf") } };
static MetadataPair nonchar_value[] = { { S("A"), S("\xef\xbf\xbe") } };
static MetadataPair twice[] = { { S("A"), S("1") }, { S("A"), S("2") } };
static MetadataPair blank_constraint[] = { { S("role"), S("web server") } };
static MetadataPair eq_constraint[] = { { S("a=b"), S("c") } };

static const ErrorCase error_cases[] = {
        { "release has no version", { .version = 0 }, {}, 1 },
        { "instance 0", {}, {}, 0 },
        { "not a valid app name", { .app = S("Hello") }, {}, 1 },
        { "not a valid app name", { .app = S("hello_world") }, {}, 1 },
        { "not a valid process name", {}, { .name = S("web.1") }, 1 },
        { "not a valid process name", {}, { .name = S("a-very-long-process-name-over-30-chars") }, 1 },
        { "uses ${PORT} but the process has no port", {}, { .command = port_command, .port = 0 }, 1 },
        { "image: missing", { .image = S("") }, {}, 1 },
        { "not an image reference", { .image = S("--privileged") }, {}, 1 },
        { "not an image reference", { .image = S("hello world") }, {}, 1 },
        { "not an image reference", { .image = S("/srv/image") }, {}, 1 },
        { "runtime nspawn needs an absolute directory", { .runtime = RUNTIME_NSPAWN, .image = S("../etc") }, {}, 1 },
        { "runtime nspawn needs an absolute directory", { .runtime = RUNTIME_NSPAWN, .image = S("/srv//x") }, {}, 1 },
        { "runtime exec needs an absolute path", { .runtime = RUNTIME_EXEC }, { .command = relative_command }, 1 },
        { "runtime exec needs an absolute path", { .runtime = RUNTIME_EXEC }, { .command = dotdot_command }, 1 },
        { "runtime exec needs an absolute path", { .runtime = RUNTIME_EXEC }, { .command = dash_command }, 1 },
        { "'$' is not allowed", { .runtime = RUNTIME_EXEC }, { .command = dollar_command }, 1 },
        { "runtime exec needs a command or", { .runtime = RUNTIME_EXEC, .image = S("") },
          { .command = (char *[]) { NULL } }, 1 },
        { "first word is empty", {}, { .command = empty_first_command }, 1 },
        { "command word 2 is not valid UTF-8", {}, { .command = bad_utf8_command }, 1 },
        { "config '1ABC': not a variable name", { .config = bad_key, .n_config = 1 }, {}, 1 },
        { "config 'A-B': not a variable name", { .config = dash_key, .n_config = 1 }, {}, 1 },
        { "config PORT: reserved", { .config = port_key, .n_config = 1 }, {}, 1 },
        { "config LD_PRELOAD: reserved for runtime podman", { .config = preload_key, .n_config = 1 }, {}, 1 },
        { "config DOCKER_HOST: reserved for runtime docker",
          { .runtime = RUNTIME_DOCKER, .config = docker_host_key, .n_config = 1 }, {}, 1 },
        { "config NOTIFY_SOCKET: reserved for runtime exec",
          { .runtime = RUNTIME_EXEC, .config = notify_key, .n_config = 1 }, {}, 1 },
        { "config A: the value holds a control character", { .config = cr_value, .n_config = 1 }, {}, 1 },
        { "config A: the value holds a control character", { .config = esc_value, .n_config = 1 }, {}, 1 },
        { "config A: the value is not valid UTF-8", { .config = bad_utf8_value, .n_config = 1 }, {}, 1 },
        { "config A: the value is not valid UTF-8", { .config = nonchar_value, .n_config = 1 }, {}, 1 },
        { "config A: given twice", { .config = twice, .n_config = 2 }, {}, 1 },
        { "constraint 'role=web server'", {}, { .constraints = blank_constraint, .n_constraints = 1 }, 1 },
        { "constraint 'a=b=c'", {}, { .constraints = eq_constraint, .n_constraints = 1 }, 1 },
        { "machine name",
          { .runtime = RUNTIME_NSPAWN, .image = S("t"), .app = S("application-name-that-is-rather-long") },
          { .name = S("and-a-long-process-name") }, 1 },
        { "unknown runtime", { .runtime = _RUNTIME_MAX }, {}, 1 },
};

static char *true_command[] = { S("/bin/true"), NULL };

/* hello with e's non-zero fields. */
static void error_case_release(const ErrorCase *e, Release *r, ProcessType *p) {
        *r = hello;
        *p = hello_processes[0];
        if (e->release.app)
                r->app = e->release.app;
        if (e->release.image)
                r->image = e->release.image;
        if (e->release.runtime)
                r->runtime = e->release.runtime;
        if (e->release.config)
                r->config = e->release.config, r->n_config = e->release.n_config;
        if (streq(e->message, "release has no version"))
                r->version = 0;
        if (e->process.name)
                p->name = e->process.name;
        if (e->process.command)
                p->command = e->process.command, p->port = e->process.port;
        if (e->process.constraints)
                p->constraints = e->process.constraints, p->n_constraints = e->process.n_constraints;
        if (r->runtime == RUNTIME_NSPAWN && !e->process.command)
                p->command = NULL;
        if (r->runtime == RUNTIME_EXEC && !e->process.command)
                p->command = true_command;
}

TEST(errors) {
        for (size_t i = 0; i < ELEMENTSOF(error_cases); i++) {
                const ErrorCase *e = &error_cases[i];
                _cleanup_(unit_file_freep) UnitFile *uf = NULL;
                _cleanup_free_ char *error = NULL;
                ProcessType p;
                Release r;
                int k;

                error_case_release(e, &r, &p);
                k = unit_gen_instance(&r, &p, e->instance, &uf, &error);
                if (k != -EINVAL || uf || !error || !strstr(error, e->message)) {
                        fprintf(stderr, "error case %zu: returned %d, message \"%s\", expected \"%s\"\n", i, k,
                                strna(error), e->message);
                        test_failures++;
                }
        }
}

TEST(errors_without_message_and_null) {
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        _cleanup_free_ char *error = NULL;
        ProcessType p = hello_processes[0];

        ASSERT_INT(unit_gen_instance(&hello, &p, 0, &uf, NULL), -EINVAL);
        ASSERT_TRUE(!uf);
        ASSERT_INT(unit_gen_instance(NULL, &p, 1, &uf, &error), -EINVAL);
        ASSERT_CONTAINS(error, "no release");
        free(error);
        error = NULL;
        ASSERT_INT(unit_gen_instance(&hello, NULL, 1, &uf, &error), -EINVAL);
        ASSERT_CONTAINS(error, "app hello: no process");
}

/* A command longer than a unit-file line may be is an error, not a cut line. */
TEST(line_too_long) {
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        _cleanup_free_ char *error = NULL, *big = malloc(UNIT_FILE_LINE_MAX);
        char *command[] = { S("/bin/echo"), big, NULL };
        ProcessType p = hello_processes[0];

        ASSERT_TRUE(big);
        memset(big, 'a', UNIT_FILE_LINE_MAX - 1);
        big[UNIT_FILE_LINE_MAX - 1] = 0;
        p.command = command;
        ASSERT_INT(unit_gen_instance(&hello, &p, 1, &uf, &error), -EINVAL);
        ASSERT_CONTAINS(error, "ExecStart= would be longer than");

        /* The same as a config value. */
        MetadataPair config[] = { { S("BIG"), big } };
        Release r = hello;
        r.config = config;
        r.n_config = 1;
        free(error);
        error = NULL;
        ASSERT_INT(unit_gen_instance(&r, &hello_processes[1], 1, &uf, &error), -EINVAL);
        ASSERT_CONTAINS(error, "config BIG: the value is too long");

        /* Half as long fits, and comes out whole. */
        big[UNIT_FILE_LINE_MAX / 2] = 0;
        free(error);
        error = NULL;
        ASSERT_INT(unit_gen_instance(&hello, &p, 1, &uf, &error), 0);
        ASSERT_TRUE(app_gets_exactly(&hello, &p, true));
        ASSERT_TRUE(app_gets_exactly(&r, &p, true));
}

TEST(check_release) {
        _cleanup_free_ char *error = NULL;
        ProcessType procs[] = { hello_processes[0], hello_processes[1] };
        Release r = hello;

        ASSERT_INT(unit_gen_check_release(&hello, &error), 0);
        ASSERT_INT(unit_gen_check_release(&exec_release, &error), 0);
        ASSERT_INT(unit_gen_check_release(&nspawn_release, &error), 0);
        ASSERT_TRUE(!error);

        procs[1].command = port_command; /* the worker has no port */
        r.processes = procs;
        ASSERT_INT(unit_gen_check_release(&r, &error), -EINVAL);
        ASSERT_STR(error, "process worker: command uses ${PORT} but the process has no port");
        free(error);
        error = NULL;
        ASSERT_INT(unit_gen_check_release(NULL, &error), -EINVAL);
        ASSERT_STR(error, "no release given");
}

/* ------------------------------------------------------------------------------------------------
 * The small exported helpers and properties. */

TEST(same_input_same_text) {
        _cleanup_free_ char *a = generate_text(&hello, &hello_processes[0], 2),
                            *b = generate_text(&hello, &hello_processes[0], 2), *c = NULL;
        _cleanup_(unit_file_freep) UnitFile *uf = NULL, *parsed = NULL;
        char h1[SHA256_HEX_SIZE], h2[SHA256_HEX_SIZE];

        ASSERT_TRUE(a && b);
        ASSERT_STR(a, b);

        /* fleetd's own parser reads it back to the same text and hash. */
        ASSERT_INT(unit_gen_instance(&hello, &hello_processes[0], 2, &uf, NULL), 0);
        ASSERT_INT(unit_file_parse(a, strlen(a), "x.service", &parsed, NULL), 0);
        ASSERT_INT(unit_file_print(parsed, &c), 0);
        ASSERT_STR(c, a);
        unit_file_hash(uf, h1);
        unit_file_hash(parsed, h2);
        ASSERT_STR(h1, h2);

        /* The instance is part of the text (Description=, the container name). */
        free(c);
        c = generate_text(&hello, &hello_processes[0], 1);
        ASSERT_TRUE(c && !streq(c, a));
}

TEST(unit_name_matches_release) {
        _cleanup_free_ char *unit = unit_name(&numbered_release, "web-api", 12), *name = NULL, *file = NULL;
        Release r = numbered_release;

        ASSERT_STR(unit, "my-app_v10.web-api@12.service");
        ASSERT_INT(unit_gen_container_name(&r, "web-api", 12, &name), 0);
        ASSERT_STR(name, "my-app_v10.web-api-12");
        free(name);
        r.runtime = RUNTIME_NSPAWN;
        ASSERT_INT(unit_gen_container_name(&r, "web-api", 12, &name), 0);
        ASSERT_STR(name, "my-app-v10.web-api-12");
        r.runtime = RUNTIME_EXEC;
        ASSERT_INT(unit_gen_container_name(&r, "web-api", 12, &name), -EINVAL);
        ASSERT_INT(unit_gen_port_file(unit, &file), 0);
        ASSERT_STR(file, "/run/fleetd/ports/my-app_v10.web-api@12.service.env");
}

TEST(image_is_pulled) {
        static const struct {
                const char *image;
                bool pulled;
        } cases[] = {
                { "localhost/hello:1.0", false },
                { "localhost/a/b", false },
                { "hello", false },
                { "hello:1.0", false },
                { "library/hello", false },
                { "docker.io/library/hello", true },
                { "quay.io/a/b@sha256:00", true },
                { "registry:5000/a", true },
                { "localhost:5000/a", true },
                { "", false },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (unit_gen_image_is_pulled(cases[i].image) != cases[i].pulled) {
                        fprintf(stderr, "image %s: pulled should be %d\n", cases[i].image, cases[i].pulled);
                        test_failures++;
                }
        ASSERT_TRUE(!unit_gen_image_is_pulled(NULL));
}

TEST(reserved_config_keys) {
        ASSERT_TRUE(unit_gen_config_key_reserved(RUNTIME_PODMAN, "LD_PRELOAD"));
        ASSERT_TRUE(unit_gen_config_key_reserved(RUNTIME_NSPAWN, "SYSTEMD_NSPAWN_API_VFS_WRITABLE"));
        ASSERT_TRUE(unit_gen_config_key_reserved(RUNTIME_DOCKER, "PATH"));
        ASSERT_TRUE(!unit_gen_config_key_reserved(RUNTIME_EXEC, "PATH"));
        ASSERT_TRUE(!unit_gen_config_key_reserved(RUNTIME_EXEC, "LD_LIBRARY_PATH"));
        ASSERT_TRUE(unit_gen_config_key_reserved(RUNTIME_EXEC, "LISTEN_FDS"));
        ASSERT_TRUE(unit_gen_config_key_reserved(RUNTIME_EXEC, "PORT"));
        ASSERT_TRUE(!unit_gen_config_key_reserved(RUNTIME_PODMAN, "PORTAL"));
        ASSERT_TRUE(!unit_gen_config_key_reserved(RUNTIME_PODMAN, "DATABASE_URL"));
        ASSERT_TRUE(!unit_gen_config_key_reserved(RUNTIME_PODMAN, "HOMEPAGE"));
        ASSERT_TRUE(!unit_gen_config_key_reserved(RUNTIME_PODMAN, "HTTP_PROXY"));
        ASSERT_TRUE(!unit_gen_config_key_reserved(RUNTIME_PODMAN, "GOOGLE_APPLICATION_CREDENTIALS"));
}

/* The escaping itself, against hand-written expectations. */
TEST(escape_words) {
        static char *const keep[] = { S("PORT"), NULL };
        static const struct {
                const char *in;
                UnitEscapeFlags flags;
                const char *out;
        } cases[] = {
                { "plain-word_1.2/x:y,z+a=b@c", UNIT_ESCAPE_EXEC, "plain-word_1.2/x:y,z+a=b@c" },
                { "", UNIT_ESCAPE_EXEC, "\"\"" },
                { "a b", UNIT_ESCAPE_EXEC, "\"a b\"" },
                { "${PORT}", UNIT_ESCAPE_EXEC, "${PORT}" },
                { "-p=${PORT}", UNIT_ESCAPE_EXEC, "-p=${PORT}" },
                { "${HOME}", UNIT_ESCAPE_EXEC, "$${HOME}" },
                { "$${PORT}", UNIT_ESCAPE_EXEC, "$$${PORT}" },
                { "${PORT", UNIT_ESCAPE_EXEC, "$${PORT" },
                { "$", UNIT_ESCAPE_EXEC, "$$" },
                { "$", 0, "$" },
                { "${PORT}", 0, "${PORT}" },
                { "%n", 0, "%%n" },
                { "%n", UNIT_ESCAPE_EXEC, "%%n" },
                { ";", UNIT_ESCAPE_EXEC, "\\;" },
                { ";", 0, "\";\"" },
                { "a;b", UNIT_ESCAPE_EXEC, "\"a;b\"" },
                { "\"'\\", 0, "\"\\\"'\\\\\"" },
                { "a\nb\tc\rd\x01\x7f", 0, "\"a\\nb\\tc\\rd\\x01\\x7f\"" },
                { "grüße", 0, "\"grüße\"" },
                { "K=v w", 0, "\"K=v w\"" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *out = NULL;
                ASSERT_INT(unit_escape_word(cases[i].in, cases[i].flags, keep, &out), 0);
                ASSERT_STR(out, cases[i].out);
        }
}

TEST(escape_refuses_what_is_not_utf8) {
        static const char *const bad[] = {
                "\xff", "\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xef\xbf\xbf", "\xef\xb7\x90",
                "\xe2\x82", "a\x80",
        };
        _cleanup_free_ char *out = NULL;
        char *argv[] = { S("/bin/x"), S("\xff"), NULL };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ASSERT_INT(unit_escape_word(bad[i], 0, NULL, &out), -EINVAL);
        ASSERT_TRUE(utf8_is_valid_full("\xf0\x9f\x98\x80 \xe2\x82\xac \xc3\xbc", UTF8_NO_NONCHARACTERS));
        ASSERT_INT(unit_escape_command_line(argv, UNIT_ESCAPE_EXEC, NULL, &out), -EINVAL);
        ASSERT_INT(unit_escape_command_line((char *[]) { NULL }, 0, NULL, &out), -EINVAL);
        ASSERT_INT(unit_escape_command_line((char *[]) { S("/bin/a"), S("b c"), S("${PORT}"), NULL }, UNIT_ESCAPE_EXEC,
                                            NULL, &out), 0);
        ASSERT_STR(out, "/bin/a \"b c\" $${PORT}");
}

/* The reference reader must itself catch what the generator must never write. */
TEST(reference_is_strict) {
        static const char *const bad[] = {
                "/bin/x $HOME", "/bin/x ${HOME}", "/bin/x %i", "/bin/x a\"b\"", "/bin/x \"a\"b", "/bin/x ; /bin/y",
                "/bin/x \"unbalanced", "/bin/x \\q", "/bin/x \\x00", "@/bin/x", "x",
        };
        bool ignore;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char **argv = ref_command(bad[i], REF_WORDS_FIRST, "u.service", TEST_PORT, &ignore);
                if (argv) {
                        fprintf(stderr, "reference accepted: %s\n", bad[i]);
                        strv_free(argv);
                        test_failures++;
                }
        }

        _cleanup_strv_free_ char **ok = ref_command("-/bin/x \"a b\" 'c d' \\; \\x41\\u00fc %n %% $$ ${PORT} \"\"",
                                                   REF_WORDS_FIRST, "u.service", TEST_PORT, &ignore);
        ASSERT_TRUE(ok && ignore);
        ASSERT_TRUE(strv_equal_verbose(ok,
                                       (char *[]) { S("/bin/x"), S("a b"), S("c d"), S(";"), S("Aü"), S("u.service"),
                                                    S("%"), S("$"), S(TEST_PORT), S(""), NULL },
                                       "reference"));
}

int test_failures = 0;

int main(int argc, char *argv[]) {
        static const TestCase cases[] = {
                T(escape_words),
                T(escape_refuses_what_is_not_utf8),
                T(reference_is_strict),
                T(golden),
                T(hostile_config_reaches_the_app_unchanged),
                T(hostile_command_reaches_the_app_unchanged),
                T(each_hostile_value_alone),
                T(errors),
                T(errors_without_message_and_null),
                T(line_too_long),
                T(check_release),
                T(same_input_same_text),
                T(unit_name_matches_release),
                T(image_is_pulled),
                T(reserved_config_keys),
        };

        arg_golden_dir = argc > 1 ? argv[1] : getenv("FLEETD_GOLDEN_DIR");
        if (!arg_golden_dir) {
                fprintf(stderr, "usage: %s GOLDEN_DIR (or set FLEETD_GOLDEN_DIR)\n", argv[0]);
                return EXIT_FAILURE;
        }
        if (!have_systemd_analyze())
                printf("systemd-analyze not found: the `systemd-analyze verify` checks are skipped\n");
        int r = run_tests(cases, ELEMENTSOF(cases));
        if (tmp_dir())
                rmdir(tmp_dir());
        return r;
}
