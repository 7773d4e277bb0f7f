/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <ctype.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/un.h>
#include <syslog.h>

#include "basic/string-util.h"
#include "basic/strv.h"
#include "config.h"

/* Every key is described once, in config_table[]: where its value lives in Config, how a
 * string becomes that value, its default and what the user should have written. All three
 * layers go through config_changes_add(), which parses into a ConfigChanges without touching
 * the Config; config_changes_commit() then only moves values, so it cannot fail half-way. */

typedef enum ConfigType {
        CONFIG_STRING,          /* char *, NULL when unset */
        CONFIG_STRV,            /* char ** */
        CONFIG_USEC,            /* usec_t */
        CONFIG_INT,             /* int */
        CONFIG_METADATA,        /* Config.metadata + Config.n_metadata */
} ConfigType;

typedef union ConfigValue {
        char *string;
        char **strv;
        usec_t usec;
        int integer;
        struct {
                MetadataPair *pairs;
                size_t n;
        } metadata;
} ConfigValue;

typedef struct ConfigKey ConfigKey;

/* Parses a non-empty, trimmed value without control characters. Returns 0, -EINVAL (the
 * caller writes the message from ConfigKey.expected) or -ENOMEM. */
typedef int (*ConfigParser)(const ConfigKey *k, const char *s, ConfigValue *ret);

struct ConfigKey {
        const char *name;
        ConfigType type;
        size_t offset;
        ConfigParser parse;
        usec_t min;                     /* durations only */
        usec_t max;                     /* durations only; 0: no limit */
        bool secret;                    /* never quote the value in messages */
        /* NULL: the key may be unset with an empty value. Otherwise an empty value is
         * invalid, and config_new() sets this through the parser. */
        const char *default_value;
        const char *expected;
};

static int parse_string(const ConfigKey *k, const char *s, ConfigValue *ret);
static int parse_path(const ConfigKey *k, const char *s, ConfigValue *ret);
static int parse_socket_path(const ConfigKey *k, const char *s, ConfigValue *ret);
static int parse_etcd_servers(const ConfigKey *k, const char *s, ConfigValue *ret);
static int parse_key_prefix(const ConfigKey *k, const char *s, ConfigValue *ret);
static int parse_duration_min(const ConfigKey *k, const char *s, ConfigValue *ret);
static int parse_ip(const ConfigKey *k, const char *s, ConfigValue *ret);
static int parse_metadata_value(const ConfigKey *k, const char *s, ConfigValue *ret);
static int parse_listen(const ConfigKey *k, const char *s, ConfigValue *ret);
static int parse_log_level(const ConfigKey *k, const char *s, ConfigValue *ret);

#define EXPECT_PATH "an absolute path"

/* Field names are the key names. */
#define KEY(field, type_, parser, default_, expected_, ...)                             \
        {                                                                               \
                .name = #field,                                                         \
                .type = type_,                                                          \
                .offset = offsetof(Config, field),                                      \
                .parse = parser,                                                        \
                .default_value = default_,                                              \
                .expected = expected_,                                                  \
                __VA_ARGS__                                                             \
        }

static const ConfigKey config_table[] = {
        KEY(etcd_servers, CONFIG_STRV, parse_etcd_servers, "http://127.0.0.1:2379",
            "comma-separated http:// or https:// URLs, such as http://127.0.0.1:2379"),
        KEY(etcd_key_prefix, CONFIG_STRING, parse_key_prefix, "/fleetd/",
            "an etcd key prefix without blanks, such as /fleetd/"),
        KEY(etcd_cafile, CONFIG_STRING, parse_path, NULL, EXPECT_PATH),
        KEY(etcd_certfile, CONFIG_STRING, parse_path, NULL, EXPECT_PATH),
        KEY(etcd_keyfile, CONFIG_STRING, parse_path, NULL, EXPECT_PATH),
        KEY(etcd_username, CONFIG_STRING, parse_string, NULL, "a user name"),
        KEY(etcd_password, CONFIG_STRING, parse_string, NULL, "a password", .secret = true),
        KEY(etcd_request_timeout, CONFIG_USEC, parse_duration_min, NULL,
            "a duration of at least 1ms, such as 5s", .min = USEC_PER_MSEC),
        KEY(public_ip, CONFIG_STRING, parse_ip, NULL,
            "an IPv4 or IPv6 address, such as 192.0.2.10"),
        KEY(metadata, CONFIG_METADATA, parse_metadata_value, NULL,
            "comma-separated key=value pairs such as region=us-east,disk=ssd, "
            "keys made of A-Z a-z 0-9 _ . -, values not empty, each key once"),
        KEY(agent_ttl, CONFIG_USEC, parse_duration_min, "10s",
            "a duration of at least 2s, such as 10s", .min = 2 * USEC_PER_SEC),
        KEY(engine_reconcile_interval, CONFIG_USEC, parse_duration_min, "60s",
            "a duration of at least 1s, such as 60s", .min = USEC_PER_SEC),
        KEY(route_drain_delay, CONFIG_USEC, parse_duration_min, "2s",
            "a duration from 0 to 5m, such as 2s", .max = 5 * 60 * USEC_PER_SEC),
        KEY(hooks_dir, CONFIG_STRING, parse_path, "/etc/fleetd/hooks.d", EXPECT_PATH),
        KEY(api_socket, CONFIG_STRING, parse_socket_path, "/run/fleetd/fleetd.sock",
            "an absolute path of at most 107 bytes"),
        KEY(api_listen, CONFIG_STRING, parse_listen, NULL,
            "host:port with a port from 1 to 65535, such as 0.0.0.0:8443 or [::]:8443"),
        KEY(api_tls_cert, CONFIG_STRING, parse_path, NULL, EXPECT_PATH),
        KEY(api_tls_key, CONFIG_STRING, parse_path, NULL, EXPECT_PATH),
        KEY(api_client_ca, CONFIG_STRING, parse_path, NULL, EXPECT_PATH),
        KEY(machine_id_file, CONFIG_STRING, parse_path, "/etc/machine-id", EXPECT_PATH),
        KEY(state_dir, CONFIG_STRING, parse_path, "/run/fleetd", EXPECT_PATH),
        KEY(log_level, CONFIG_INT, parse_log_level, "info",
            "one of debug, info, notice, warning, err"),
};

#define N_CONFIG_KEYS ELEMENTSOF(config_table)

/* Same order as config_table[] and examples/fleetd.conf. */
const char * const config_keys[] = {
        "etcd_servers",
        "etcd_key_prefix",
        "etcd_cafile",
        "etcd_certfile",
        "etcd_keyfile",
        "etcd_username",
        "etcd_password",
        "etcd_request_timeout",
        "public_ip",
        "metadata",
        "agent_ttl",
        "engine_reconcile_interval",
        "route_drain_delay",
        "hooks_dir",
        "api_socket",
        "api_listen",
        "api_tls_cert",
        "api_tls_key",
        "api_client_ca",
        "machine_id_file",
        "state_dir",
        "log_level",
        NULL,
};

_Static_assert(ELEMENTSOF(config_keys) == N_CONFIG_KEYS + 1, "config_keys[] and config_table[] differ");

static const struct {
        const char *name;
        int level;
} log_levels[] = {
        { "debug", LOG_DEBUG },
        { "info", LOG_INFO },
        { "notice", LOG_NOTICE },
        { "warning", LOG_WARNING },
        { "err", LOG_ERR },
};

/* s without one pair of double quotes around it, in place. fleet's sample config quoted
 * values (metadata="region=us-west"), so a fleet user's file keeps working. */
static char *unquote(char *s) {
        size_t n = strlen(s);

        if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
                s[n - 1] = 0;
                return s + 1;
        }
        return s;
}

static int config_error(char **ret_error, const char *where, const char *fmt, ...) _printf_(3, 4);
static int config_error(char **ret_error, const char *where, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        if (!ret_error)
                return -EINVAL;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        if (!where) {
                *ret_error = TAKE_PTR(msg);
                return -EINVAL;
        }
        if (asprintf(ret_error, "%s: %s", where, msg) < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

static int parse_string(const ConfigKey *k, const char *s, ConfigValue *ret) {
        ret->string = strdup(s);
        return ret->string ? 0 : -ENOMEM;
}

static int parse_path(const ConfigKey *k, const char *s, ConfigValue *ret) {
        /* fleetd runs with / as its working directory: a relative path is a mistake. */
        if (s[0] != '/')
                return -EINVAL;
        return parse_string(k, s, ret);
}

static int parse_socket_path(const ConfigKey *k, const char *s, ConfigValue *ret) {
        if (strlen(s) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                return -EINVAL;
        return parse_path(k, s, ret);
}

static bool etcd_url_is_valid(const char *s) {
        const char *host = startswith(s, "http://") ?: startswith(s, "https://");

        return host && *host && *host != '/' && !has_blanks(s);
}

static int parse_etcd_servers(const ConfigKey *k, const char *s, ConfigValue *ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *list = NULL;
        size_t n = strlen(s);
        int r;

        /* fleet's own form, ["http://a:2379", "http://b:2379"], works too. */
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

        for (char **i = l; *i; i++) {
                char *u = unquote(*i);

                if (u != *i)
                        memmove(*i, u, strlen(u) + 1);
                if (!etcd_url_is_valid(*i))
                        return -EINVAL;
        }

        ret->strv = TAKE_PTR(l);
        return 0;
}

static int parse_key_prefix(const ConfigKey *k, const char *s, ConfigValue *ret) {
        size_t n = strlen(s);

        if (has_blanks(s))
                return -EINVAL;

        /* "fleetd" -> "/fleetd/", so that prefix + "machines/" is always a key path. */
        if (asprintf(&ret->string, "%s%s%s", s[0] == '/' ? "" : "/", s, s[n - 1] == '/' ? "" : "/") < 0) {
                ret->string = NULL;
                return -ENOMEM;
        }
        return 0;
}

static int parse_duration_min(const ConfigKey *k, const char *s, ConfigValue *ret) {
        usec_t u;

        if (parse_duration(s, &u) < 0 || u < k->min || (k->max > 0 && u > k->max))
                return -EINVAL;
        ret->usec = u;
        return 0;
}

static int parse_ip(const ConfigKey *k, const char *s, ConfigValue *ret) {
        unsigned char buf[sizeof(struct in6_addr)];

        if (inet_pton(AF_INET, s, buf) != 1 && inet_pton(AF_INET6, s, buf) != 1)
                return -EINVAL;
        return parse_string(k, s, ret);
}

static int parse_metadata_value(const ConfigKey *k, const char *s, ConfigValue *ret) {
        return parse_metadata(s, &ret->metadata.pairs, &ret->metadata.n);
}

static int parse_listen(const ConfigKey *k, const char *s, ConfigValue *ret) {
        _cleanup_free_ char *host = NULL;
        uint16_t port;
        int r;

        r = parse_host_port(s, &host, &port);
        if (r < 0)
                return r;
        return parse_string(k, s, ret);
}

static int parse_log_level(const ConfigKey *k, const char *s, ConfigValue *ret) {
        for (size_t i = 0; i < ELEMENTSOF(log_levels); i++)
                if (streq(s, log_levels[i].name)) {
                        ret->integer = log_levels[i].level;
                        return 0;
                }
        return -EINVAL;
}



static const ConfigKey *config_key_find(const char *name) {
        for (size_t i = 0; i < N_CONFIG_KEYS; i++)
                if (streq(config_table[i].name, name))
                        return &config_table[i];
        return NULL;
}

static void config_value_done(ConfigType type, ConfigValue *v) {
        switch (type) {
        case CONFIG_STRING:
                free(v->string);
                break;
        case CONFIG_STRV:
                strv_free(v->strv);
                break;
        case CONFIG_METADATA:
                metadata_free(v->metadata.pairs, v->metadata.n);
                break;
        case CONFIG_USEC:
        case CONFIG_INT:
                break;
        }
        *v = (ConfigValue) {};
}

/* Moves *v into the key's field, freeing the old value; *v owns nothing afterwards. */
static void config_store(Config *c, const ConfigKey *k, ConfigValue *v) {
        void *p = (uint8_t *) c + k->offset;

        switch (k->type) {
        case CONFIG_STRING:
                free(*(char **) p);
                *(char **) p = TAKE_PTR(v->string);
                break;
        case CONFIG_STRV:
                strv_free(*(char ***) p);
                *(char ***) p = TAKE_PTR(v->strv);
                break;
        case CONFIG_USEC:
                *(usec_t *) p = v->usec;
                break;
        case CONFIG_INT:
                *(int *) p = v->integer;
                break;
        case CONFIG_METADATA:
                metadata_free(c->metadata, c->n_metadata);
                c->metadata = TAKE_PTR(v->metadata.pairs);
                c->n_metadata = v->metadata.n;
                break;
        }
        *v = (ConfigValue) {};
}

/* Parsed values not yet stored, one slot per key: a later value for a key replaces an
 * earlier one, as it would in the Config. */
typedef struct ConfigChanges {
        bool set[N_CONFIG_KEYS];
        ConfigValue value[N_CONFIG_KEYS];
} ConfigChanges;

static void config_changes_done(ConfigChanges *ch) {
        for (size_t i = 0; i < N_CONFIG_KEYS; i++)
                if (ch->set[i]) {
                        config_value_done(config_table[i].type, &ch->value[i]);
                        ch->set[i] = false;
                }
}

static void config_changes_commit(Config *c, ConfigChanges *ch) {
        for (size_t i = 0; i < N_CONFIG_KEYS; i++)
                if (ch->set[i]) {
                        config_store(c, &config_table[i], &ch->value[i]);
                        ch->set[i] = false;
                }
}

static int config_invalid(const ConfigKey *k, const char *value, const char *where, char **ret_error) {
        if (k->secret)
                return config_error(ret_error, where, "invalid value for %s (expected %s)",
                                    k->name, k->expected);
        return config_error(ret_error, where, "invalid value for %s: '%s' (expected %s)",
                            k->name, value, k->expected);
}

static int config_changes_add(
                ConfigChanges *ch,
                const char *key,
                const char *value,
                const char *where,
                char **ret_error) {

        _cleanup_free_ char *v = NULL;
        ConfigValue parsed = {};
        const ConfigKey *k;
        size_t i;
        int r;

        k = config_key_find(key);
        if (!k)
                return config_error(ret_error, where, "unknown key '%s'", key);

        v = strndup_trimmed(strempty(value), strlen(strempty(value)));
        if (!v)
                return -ENOMEM;

        /* Checked before the value is quoted in any message. */
        if (has_control_chars(v))
                return config_error(ret_error, where,
                                    "invalid value for %s: it contains control characters (expected %s)",
                                    k->name, k->expected);

        if (isempty(v)) {
                if (k->default_value)
                        return config_invalid(k, v, where, ret_error);
        } else {
                r = k->parse(k, v, &parsed);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return config_invalid(k, v, where, ret_error);
        }

        i = (size_t) (k - config_table);
        if (ch->set[i])
                config_value_done(k->type, &ch->value[i]);
        ch->value[i] = parsed;
        ch->set[i] = true;
        return 0;
}

int config_set(Config *c, const char *key, const char *value, const char *where, char **ret_error) {
        _cleanup_(config_changes_done) ConfigChanges ch = {};
        int r;

        r = config_changes_add(&ch, key, value, where, ret_error);
        if (r < 0)
                return r;

        config_changes_commit(c, &ch);
        return 0;
}

int config_new(Config **ret) {
        _cleanup_(config_freep) Config *c = NULL;
        int r;

        c = calloc(1, sizeof(Config));
        if (!c)
                return -ENOMEM;

        /* The defaults go through the parsers, so they are normalized like any value. */
        for (size_t i = 0; i < N_CONFIG_KEYS; i++) {
                if (!config_table[i].default_value)
                        continue;
                r = config_set(c, config_table[i].name, config_table[i].default_value, "default", NULL);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;

        for (size_t i = 0; i < N_CONFIG_KEYS; i++) {
                ConfigValue empty = {};
                config_store(c, &config_table[i], &empty);
        }
        free(c);
        return NULL;
}

/* A config file is a few dozen lines; this stops a wrong path such as /dev/zero. */
#define CONFIG_FILE_LINES_MAX 10000U

/* State of one config_parse_file() call, shared by the line reader and the key handler. */
typedef struct FileParser {
        const char *path;
        FILE *f;
        unsigned line;                  /* the line last handed to inih */
        ConfigChanges changes;
        int r;                          /* our first error, which stops the parse */
        unsigned error_line;
        char *error;
        int read_errno;
} FileParser;

static void file_parser_done(FileParser *p) {
        config_changes_done(&p->changes);
        free(p->error);
}

static bool section_is_ours(const char *s, size_t n) {
        _cleanup_free_ char *name = strndup_trimmed(s, n);

        return name && streq(name, "fleetd");
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
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return config_error(&p->error, NULL, "%s:%u: %s", p->path, p->line, msg);
}

/* Checks one line before inih sees it; returns 0 or a negative errno (with p->error). */
static int file_parser_check_line(FileParser *p, char *line, int size) {
        size_t n = strlen(line), skip;

        if (p->line > CONFIG_FILE_LINES_MAX)
                return file_parser_error(p, "file too long (at most %u lines)", CONFIG_FILE_LINES_MAX);

        /* fgets() stopped at the buffer's end: the rest of the line would reach inih as a
         * line of its own. */
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

                if (end && !section_is_ours(line + 1, end - line - 1))
                        return file_parser_error(p, "unknown section %.*s (expected [fleetd], "
                                                 "or keys before any section)",
                                                 (int) (end - line + 1), line);
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

static int file_parser_add(FileParser *p, const char *section, const char *name, const char *value) {
        _cleanup_free_ char *where = NULL, *v = NULL;

        /* Already refused by file_parser_check_line(); this keeps the handler safe alone. */
        if (!isempty(section) && !section_is_ours(section, strlen(section)))
                return file_parser_error(p, "unknown section [%s]", section);

        if (asprintf(&where, "%s:%u", p->path, p->line) < 0)
                return -ENOMEM;
        v = strdup(strempty(value));
        if (!v)
                return -ENOMEM;

        return config_changes_add(&p->changes, name, unquote(v), where, &p->error);
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

int config_parse_file(Config *c, const char *path, char **ret_error) {
        _cleanup_(file_parser_done) FileParser p = { .path = path };
        _cleanup_(fclosep) FILE *f = NULL;
        int r;

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
        if (r > 0 && (unsigned) r != p.error_line)
                return config_error(ret_error, NULL,
                                    "%s:%d: syntax error (expected key = value, [fleetd] or a comment)",
                                    path, r);
        if (p.r < 0) {
                if (ret_error && p.error)
                        *ret_error = TAKE_PTR(p.error);
                return p.r;
        }

        config_changes_commit(c, &p.changes);
        return 0;
}

/* The key whose upper-case spelling is name[0..n), or NULL. */
static const ConfigKey *config_key_find_env(const char *name, size_t n) {
        for (size_t i = 0; i < N_CONFIG_KEYS; i++) {
                const char *k = config_table[i].name;
                size_t j = 0;

                while (j < n && k[j] && name[j] == toupper((unsigned char) k[j]))
                        j++;
                if (j == n && !k[j])
                        return &config_table[i];
        }
        return NULL;
}

int config_apply_env(Config *c, char * const *envp, char **ret_error) {
        _cleanup_(config_changes_done) ConfigChanges ch = {};
        int r;

        STRV_FOREACH(e, envp) {
                _cleanup_free_ char *var = NULL;
                const char *name, *eq;
                const ConfigKey *k;

                name = startswith(*e, "FLEETD_");
                eq = strchr(*e, '=');
                if (!name || !eq)
                        continue;

                var = strndup(*e, eq - *e);
                if (!var)
                        return -ENOMEM;
                if (streq(var, "FLEETD_CONFIG"))
                        continue;

                k = config_key_find_env(name, eq - name);
                if (!k)
                        return config_error(ret_error, NULL,
                                            "unknown environment variable %s (expected FLEETD_CONFIG, "
                                            "or FLEETD_ and a key of fleetd.conf in upper case)",
                                            var);

                r = config_changes_add(&ch, k->name, eq + 1, var, ret_error);
                if (r < 0)
                        return r;
        }

        config_changes_commit(c, &ch);
        return 0;
}

static bool etcd_servers_use_https(char * const *servers) {
        STRV_FOREACH(s, servers)
                if (startswith(*s, "https://"))
                        return true;
        return false;
}

int config_verify(const Config *c, char **ret_error) {
        char a[32], b[32];

        if (c->api_listen) {
                const char *missing = !c->api_tls_cert ? "api_tls_cert" :
                                      !c->api_tls_key ? "api_tls_key" :
                                      !c->api_client_ca ? "api_client_ca" : NULL;

                if (missing)
                        return config_error(ret_error, NULL,
                                            "api_listen is set, but %s is not: the TCP API serves TLS with "
                                            "client certificates only, so it needs api_tls_cert, api_tls_key "
                                            "and api_client_ca",
                                            missing);
        }
        if (!c->api_tls_cert != !c->api_tls_key)
                return config_error(ret_error, NULL, "api_tls_cert and api_tls_key must be set together");
        if (!c->etcd_certfile != !c->etcd_keyfile)
                return config_error(ret_error, NULL, "etcd_certfile and etcd_keyfile must be set together");
        if (c->etcd_password && !c->etcd_username)
                return config_error(ret_error, NULL, "etcd_password is set, but etcd_username is not");
        if ((c->etcd_cafile || c->etcd_certfile) && !etcd_servers_use_https(c->etcd_servers))
                return config_error(ret_error, NULL,
                                    "%s is set, but no etcd_servers URL starts with https://, so it would not be used",
                                    c->etcd_cafile ? "etcd_cafile" : "etcd_certfile");
        /* One hung request must not outlast the machine's lease. Unset (0) means
         * config_etcd_request_timeout() picks one that fits. */
        if (c->etcd_request_timeout > 0 && c->etcd_request_timeout >= c->agent_ttl)
                return config_error(ret_error, NULL,
                                    "etcd_request_timeout (%s) must be shorter than agent_ttl (%s)",
                                    format_duration(a, sizeof(a), c->etcd_request_timeout),
                                    format_duration(b, sizeof(b), c->agent_ttl));
        return 0;
}

usec_t config_etcd_request_timeout(const Config *c) {
        if (c->etcd_request_timeout > 0)
                return c->etcd_request_timeout;
        return MIN(5 * USEC_PER_SEC, c->agent_ttl / 2);
}
