/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "basic/strv.h"
#include "render.h"
#include "router-config.h"

/* Keys that fleetd.conf has too: handed to fleetd's config_set(), values and messages alike. */
static const char * const fleet_keys[] = {
        "etcd_servers",
        "etcd_key_prefix",
        "etcd_cafile",
        "etcd_certfile",
        "etcd_keyfile",
        "etcd_username",
        "etcd_password",
        "etcd_request_timeout",
        "log_level",
        NULL,
};

typedef enum RouterKeyType {
        KEY_DOMAIN,
        KEY_LISTEN,
        KEY_SAFE_PATH,          /* written into nginx's config: render_path_is_safe() */
        KEY_PATH,               /* absolute, not written into the config */
        KEY_ARGV,
        KEY_USEC,
} RouterKeyType;

typedef struct RouterKey {
        const char *name;
        RouterKeyType type;
        size_t offset;
        const char *default_value;    /* NULL: unset by default, and an empty value unsets it */
        usec_t min, max;              /* KEY_USEC */
        const char *expected;
} RouterKey;

#define KEY(field, type_, default_, expected_, ...)                                     \
        {                                                                               \
                .name = #field,                                                         \
                .type = type_,                                                          \
                .offset = offsetof(RouterConfig, field),                                \
                .default_value = default_,                                              \
                .expected = expected_,                                                  \
                __VA_ARGS__                                                             \
        }

#define EXPECT_SAFE_PATH "an absolute path made of letters, digits and / . _ - + @ , ="

static const RouterKey router_keys[] = {
        KEY(domain, KEY_DOMAIN, "fleet.local",
            "a domain in lower case such as fleet.example.com (app hello is then hello.fleet.example.com)"),
        KEY(listen, KEY_LISTEN, "80", "a port, or address:port, such as 80, 127.0.0.1:8080 or [::]:80"),
        KEY(output, KEY_SAFE_PATH, "/run/fleet-router/nginx.conf", EXPECT_SAFE_PATH),
        KEY(nginx_binary, KEY_PATH, "/usr/sbin/nginx", "an absolute path"),
        /* Unset: SIGHUP to the nginx master in the pid file (reloader.h). */
        KEY(reload_command, KEY_ARGV, NULL,
            "a command line of blank-separated words (no shell) starting with an absolute path"),
        KEY(temp_dir, KEY_SAFE_PATH, NULL, EXPECT_SAFE_PATH),
        KEY(access_log, KEY_SAFE_PATH, NULL, EXPECT_SAFE_PATH),
        KEY(connect_timeout, KEY_USEC, "1s", "a duration from 1ms to 60s, such as 1s",
            .min = USEC_PER_MSEC, .max = 60 * USEC_PER_SEC),
        KEY(batch_delay, KEY_USEC, "50ms", "a duration from 0 to 10s, such as 50ms",
            .min = 0, .max = 10 * USEC_PER_SEC),
        KEY(command_timeout, KEY_USEC, "10s", "a duration from 100ms to 10m, such as 10s",
            .min = 100 * USEC_PER_MSEC, .max = 600 * USEC_PER_SEC),
};

/* fleetd's keys first, as in fleetd.conf, then ours, in the order of router_keys[]. */
const char * const router_config_keys[] = {
        "etcd_servers",
        "etcd_key_prefix",
        "etcd_cafile",
        "etcd_certfile",
        "etcd_keyfile",
        "etcd_username",
        "etcd_password",
        "etcd_request_timeout",
        "log_level",
        "domain",
        "listen",
        "output",
        "nginx_binary",
        "reload_command",
        "temp_dir",
        "access_log",
        "connect_timeout",
        "batch_delay",
        "command_timeout",
        NULL,
};

_Static_assert(ELEMENTSOF(router_config_keys) == ELEMENTSOF(fleet_keys) + ELEMENTSOF(router_keys),
               "router_config_keys[] is not fleet_keys[] and router_keys[]");

static int router_config_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static int router_config_error(char **ret_error, const char *fmt, ...) {
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

static bool has_control_chars(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < ' ' || *s == 0x7f)
                        return true;
        return false;
}

static const RouterKey *router_key_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(router_keys); i++)
                if (streq(router_keys[i].name, name))
                        return &router_keys[i];
        return NULL;
}

static int parse_argv(const char *s, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int k;

        k = strv_split(s, " \t", &l);
        if (k < 0)
                return k;
        if (strv_length(l) == 0 || l[0][0] != '/')
                return -EINVAL;
        *ret = TAKE_PTR(l);
        return 0;
}

/* Parses the trimmed, non-empty s and stores it. 0, -EINVAL (the caller says why) or -ENOMEM. */
static int router_key_store(RouterConfig *c, const RouterKey *k, const char *s) {
        void *p = (uint8_t *) c + k->offset;
        char **argv = NULL;
        usec_t u;

        switch (k->type) {
        case KEY_DOMAIN:
                if (!render_domain_is_valid(s))
                        return -EINVAL;
                return free_and_strdup((char **) p, s);
        case KEY_LISTEN:
                if (!render_listen_is_valid(s))
                        return -EINVAL;
                return free_and_strdup((char **) p, s);
        case KEY_SAFE_PATH:
                if (!render_path_is_safe(s))
                        return -EINVAL;
                return free_and_strdup((char **) p, s);
        case KEY_PATH:
                if (s[0] != '/')
                        return -EINVAL;
                return free_and_strdup((char **) p, s);
        case KEY_ARGV:
                if (parse_argv(s, &argv) < 0)
                        return -EINVAL;
                strv_free(*(char ***) p);
                *(char ***) p = argv;
                return 0;
        case KEY_USEC:
                if (parse_duration(s, &u) < 0 || u < k->min || u > k->max)
                        return -EINVAL;
                *(usec_t *) p = u;
                return 0;
        }
        return -EINVAL;
}

static void router_key_unset(RouterConfig *c, const RouterKey *k) {
        void *p = (uint8_t *) c + k->offset;

        if (k->type == KEY_ARGV)
                *(char ***) p = strv_free(*(char ***) p);
        else {
                free(*(char **) p);
                *(char **) p = NULL;
        }
}

static int router_key_set(RouterConfig *c, const RouterKey *k, const char *value, const char *where,
                          char **ret_error) {
        int r;

        if (has_control_chars(value))
                return router_config_error(ret_error, "%s: invalid value for %s: it contains control characters "
                                           "(expected %s)", where, k->name, k->expected);
        if (isempty(value)) {
                if (k->default_value)
                        return router_config_error(ret_error, "%s: %s must not be empty (expected %s)", where,
                                                   k->name, k->expected);
                router_key_unset(c, k);
                return 0;
        }
        r = router_key_store(c, k, value);
        if (r == -EINVAL)
                return router_config_error(ret_error, "%s: invalid value for %s: '%s' (expected %s)", where,
                                           k->name, value, k->expected);
        return r;
}

/* A copy of s without blanks at either end. */
static char *strdup_trimmed(const char *s) {
        size_t n;

        s += strspn(s, " \t\r\n");
        n = strlen(s);
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                n--;
        return strndup(s, n);
}

int router_config_set(RouterConfig *c, const char *key, const char *value, const char *where, char **ret_error) {
        _cleanup_free_ char *v = strdup_trimmed(strempty(value));
        const RouterKey *k;

        if (!v)
                return -ENOMEM;
        if (strv_contains((char **) fleet_keys, key))
                return config_set(c->fleet, key, v, where, ret_error);
        k = router_key_find(key);
        if (!k)
                return router_config_error(ret_error, "%s: unknown key '%s'", where, key);
        return router_key_set(c, k, v, where, ret_error);
}

int router_config_new(RouterConfig **ret) {
        _cleanup_(router_config_freep) RouterConfig *c = NULL;
        int r;

        c = calloc(1, sizeof(RouterConfig));
        if (!c)
                return -ENOMEM;
        r = config_new(&c->fleet);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(router_keys); i++) {
                if (!router_keys[i].default_value)
                        continue;
                r = router_key_store(c, &router_keys[i], router_keys[i].default_value);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

RouterConfig *router_config_free(RouterConfig *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(router_keys); i++)
                if (router_keys[i].type != KEY_USEC)
                        router_key_unset(c, &router_keys[i]);
        config_free(c->fleet);
        free(c);
        return NULL;
}

/* --- the file --- */

#define FILE_LINES_MAX 10000U

typedef struct FileParser {
        RouterConfig *config;
        const char *path;
        FILE *f;
        unsigned line;
        int r;                        /* our first error, which stops the parse */
        unsigned error_line;
        char *error;
} FileParser;

static bool section_is_ours(const char *s) {
        return isempty(s) || streq(s, "fleet-router");
}

static int file_parser_fail(FileParser *p, int r) {
        if (p->r == 0) {
                p->r = r;
                p->error_line = p->line;
        }
        return r;
}

/* Runs before inih sees a line: counts it, refuses overlong lines and other sections, and
 * strips indentation (inih would take an indented line as the continuation of a value). */
static char *file_parser_read(char *line, int size, void *userdata) {
        FileParser *p = userdata;
        size_t n, skip;

        if (p->r < 0 || !fgets(line, size, p->f))
                return NULL;
        p->line++;
        n = strlen(line);

        if (p->line > FILE_LINES_MAX) {
                file_parser_fail(p, router_config_error(&p->error, "%s:%u: file too long", p->path, p->line));
                return NULL;
        }
        if (n > 0 && line[n - 1] != '\n' && !feof(p->f)) {
                file_parser_fail(p, router_config_error(&p->error, "%s:%u: line too long (at most %d characters)",
                                                        p->path, p->line, size - 2));
                return NULL;
        }
        skip = strspn(line, " \t");
        memmove(line, line + skip, n - skip + 1);

        if (line[0] == '[') {
                _cleanup_free_ char *name = NULL;
                const char *end = strchr(line, ']');

                name = end ? strndup(line + 1, end - line - 1) : NULL;
                if (name && !section_is_ours(name)) {
                        file_parser_fail(p, router_config_error(&p->error, "%s:%u: unknown section [%s] "
                                                                "(expected [fleet-router], or keys before any section)",
                                                                p->path, p->line, name));
                        return NULL;
                }
        }
        return line;
}

static int file_parser_handle(void *userdata, const char *section, const char *name, const char *value) {
        FileParser *p = userdata;
        _cleanup_free_ char *where = NULL, *v = NULL;
        size_t n;
        int r;

        if (p->r < 0)
                return 0;
        if (asprintf(&where, "%s:%u", p->path, p->line) < 0)
                where = NULL;
        /* One pair of double quotes around a value is dropped, as in fleetd.conf. */
        v = strdup_trimmed(strempty(value));
        if (!where || !v) {
                file_parser_fail(p, -ENOMEM);
                return 0;
        }
        n = strlen(v);
        if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
                memmove(v, v + 1, n - 2);
                v[n - 2] = 0;
        }

        r = router_config_set(p->config, name, v, where, &p->error);
        if (r < 0) {
                file_parser_fail(p, r);
                return 0;
        }
        return 1;
}

int router_config_parse_file(RouterConfig *c, const char *path, char **ret_error) {
        _cleanup_(fclosep) FILE *f = NULL;
        FileParser p = { .config = c, .path = path };
        int r;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        p.f = f;

        r = ini_parse_stream(file_parser_read, &p, file_parser_handle, &p);
        if (r == -2) {
                free(p.error);
                return -ENOMEM;
        }
        if (ferror(f)) {
                free(p.error);
                return -EIO;
        }
        /* inih reports the first bad line: a syntax error before ours is the one to report. */
        if (r > 0 && (p.r == 0 || (unsigned) r < p.error_line)) {
                free(p.error);
                return router_config_error(ret_error, "%s:%d: syntax error (expected key = value, "
                                           "[fleet-router] or a comment)", path, r);
        }
        if (p.r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(p.error);
                free(p.error);
                return p.r;
        }
        return 0;
}

/* --- flags --- */

const char *router_config_path(int argc, char * const *argv, bool *ret_explicit) {
        *ret_explicit = true;
        for (int i = 1; i < argc; i++) {
                const char *v = startswith(argv[i], "--config=");

                if (v)
                        return v;
                if (streq(argv[i], "--config") && i + 1 < argc)
                        return argv[i + 1];
        }
        *ret_explicit = false;
        return ROUTER_CONFIG_DEFAULT_PATH;
}

int router_config_parse_args(RouterConfig *c, int argc, char * const *argv, char **ret_error) {
        for (int i = 1; i < argc; i++) {
                _cleanup_free_ char *key = NULL, *where = NULL;
                const char *a = argv[i], *eq, *value;
                int r;

                if (streq(a, "--config")) {
                        i++;
                        continue;
                }
                if (startswith(a, "--config="))
                        continue;
                if (!startswith(a, "--") || !a[2])
                        return router_config_error(ret_error, "unexpected argument '%s'", a);

                eq = strchr(a, '=');
                if (eq) {
                        key = strndup(a + 2, eq - a - 2);
                        value = eq + 1;
                } else if (i + 1 < argc) {
                        key = strdup(a + 2);
                        value = argv[++i];
                } else
                        return router_config_error(ret_error, "%s needs a value", a);
                if (!key || asprintf(&where, "--%s", key) < 0)
                        return -ENOMEM;

                r = router_config_set(c, key, value, where, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int router_config_finish(RouterConfig *c, char **ret_error) {
        return config_verify(c->fleet, ret_error);
}

char *router_config_pid_file(const RouterConfig *c) {
        const char *slash = strrchr(c->output, '/');
        char *s = NULL;

        /* output is absolute, so there is a slash; "/nginx.conf" gives "/nginx.pid". */
        if (asprintf(&s, "%.*s/nginx.pid", (int) (slash - c->output), c->output) < 0)
                return NULL;
        return s;
}
