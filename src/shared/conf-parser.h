/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The one configuration loader of the daemons here (fleetd, fleet-router). A program describes
 * its keys in a ConfTable: for each key its name, how a string becomes the value, where the
 * value lives in the program's own struct, its default, its bounds, whether it is secret and
 * what the user should have written. The table then gets, from one code path:
 *
 *   the file    INI, read with inih. Keys go before any section or under [<section>]; any
 *               other section is an error. '#' and ';' start comment lines; " ;" also ends a
 *               value. One pair of double or single quotes around a whole value is dropped
 *               (fleet's metadata="region=us-west"). A line holds at most CONF_LINE_MAX
 *               characters. Indented lines stand alone (inih would take them as the
 *               continuation of the previous value). Errors: "path:line: ...".
 *   environment <env_prefix><KEY> with the key in upper case ("FLEETD_AGENT_TTL=5s");
 *               <env_prefix>CONFIG names the file; any other variable with the prefix is an
 *               error. Errors: "FLEETD_AGENT_TTL: ...".
 *   flags       --key=value or --key value; --config=PATH (or --config PATH) names the file.
 *               Errors: "--agent_ttl: ...".
 *
 * Layers apply in that order, each overriding the one before, key by key. Each layer is
 * all-or-nothing: a call that fails changes nothing. A key given twice in one layer: the last
 * one wins. Values are trimmed; a value with control characters is invalid. An empty value
 * unsets a key that has no default and is invalid for a key that has one.
 *
 * PURE: no logging, no I/O but reading the named file. On -EINVAL, *ret_error (when ret_error
 * is not NULL) receives an allocated one-line message saying where and what; on success and on
 * other errors it is left untouched. Keys that are accepted but mean nothing here (CONF_IGNORED)
 * add a "where: note" line to *notes (when notes is not NULL) for the caller to log, once the
 * layer succeeded. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macros.h"
#include "basic/time-util.h"
#include "metadata.h"

/* inih's line buffer is 200 bytes: a line, its newline and the NUL. */
#define CONF_LINE_MAX 199
/* A config file is a few dozen lines; this stops a wrong path such as /dev/zero. */
#define CONF_FILE_LINES_MAX 10000U

typedef enum ConfType {
        CONF_STRING,            /* char *, NULL when unset */
        CONF_STRV,              /* char **, NULL when unset */
        CONF_USEC,              /* usec_t */
        CONF_INT,               /* int */
        CONF_BOOL,              /* bool */
        CONF_METADATA,          /* MetadataPair * at offset, its size_t count at offset_n */
        CONF_IGNORED,           /* stored nowhere; any value is accepted and .note is noted */
} ConfType;

typedef union ConfValue {
        char *string;
        char **strv;
        usec_t usec;
        int integer;
        bool boolean;
        struct {
                MetadataPair *pairs;
                size_t n;
        } metadata;
} ConfValue;

typedef struct ConfKey ConfKey;

/* Parses s (trimmed, not empty, no control characters) into *ret. Returns 0, -EINVAL (the
 * loader writes the message from ConfKey.expected) or -ENOMEM. */
typedef int (*ConfParser)(const ConfKey *k, const char *s, ConfValue *ret);

struct ConfKey {
        const char *name;
        ConfType type;
        ConfParser parse;
        size_t offset;                  /* of the field, in the struct of the key's group */
        size_t offset_n;                /* CONF_METADATA: of the count */
        uint64_t min, max;              /* CONF_USEC and CONF_INT bounds; max 0: no upper bound */
        bool secret;                    /* the value never appears in a message */
        /* NULL: unset by default, and an empty value unsets it. Otherwise the default, set
         * through the parser by conf_init(), and an empty value is invalid. */
        const char *default_value;
        const char *expected;           /* "a duration of at least 2s, such as 10s" */
        const char *note;               /* CONF_IGNORED: why ("fleet key x has no meaning here") */
};

/* A key of field in struct struct_; the key's name is the field's. */
#define CONF_KEY(struct_, field, type_, parser, default_, expected_, ...)               \
        {                                                                               \
                .name = #field,                                                         \
                .type = type_,                                                          \
                .parse = parser,                                                        \
                .offset = offsetof(struct_, field),                                     \
                .default_value = default_,                                              \
                .expected = expected_,                                                  \
                __VA_ARGS__                                                             \
        }

/* Keys whose fields live in one struct, at offset in the program's struct (several programs
 * register the same group, such as the etcd keys of config.h). */
typedef struct ConfGroup {
        const ConfKey *keys;
        size_t n_keys;
        size_t offset;
} ConfGroup;

typedef struct ConfTable {
        const char *section;            /* "fleetd": [fleetd] is the one section allowed */
        const char *default_path;       /* "/etc/fleetd/fleetd.conf": read if it exists */
        const char *fallback_path;      /* read when default_path does not exist; NULL: none */
        const char *env_prefix;         /* "FLEETD_" */
        const ConfGroup *groups;
        size_t n_groups;
        /* Checks the whole config after all layers; NULL: nothing to check. */
        int (*verify)(const void *obj, char **ret_error);
} ConfTable;

/* Sets every key of obj (zeroed by the caller) to its default. 0 or -ENOMEM; on failure the
 * caller still calls conf_done(). */
int conf_init(const ConfTable *t, void *obj);
/* Frees every field of obj that the table owns (not obj itself). */
void conf_done(const ConfTable *t, void *obj);
/* A new object of size bytes (the program's config struct) with every default set. */
int conf_new(const ConfTable *t, size_t size, void **ret);
/* conf_done() and free(); NULL-safe. Returns NULL. */
void *conf_free(const ConfTable *t, void *obj);

/* Sets one key from a string; where names the source for the message ("--etcd_servers",
 * "FLEETD_AGENT_TTL", "fleetd.conf:3"). */
int conf_set(const ConfTable *t, void *obj, const char *key, const char *value, const char *where,
             char ***notes, char **ret_error);

/* Reads an INI file. A missing file is -ENOENT with no message, so the caller decides whether
 * that matters; other open and read errors are -errno, also without a message. Unknown keys,
 * bad values, other sections, syntax errors, overlong lines and files: -EINVAL and "path:line:
 * ..." (the first error in the file). */
int conf_parse_file(const ConfTable *t, void *obj, const char *path, char ***notes, char **ret_error);

/* Applies <env_prefix><KEY> variables from envp (NULL-terminated "K=V" strings; NULL: none).
 * Does nothing when the table has no env_prefix. */
int conf_apply_env(const ConfTable *t, void *obj, char * const *envp, char ***notes, char **ret_error);

/* Applies --key=value and --key value flags from argv[1..argc); --config (either form) is
 * skipped. Anything else is -EINVAL ("unexpected argument 'x'", "--x needs a value"). */
int conf_apply_args(const ConfTable *t, void *obj, int argc, char * const *argv, char ***notes,
                    char **ret_error);

/* The file named by --config=PATH or --config PATH, else by <env_prefix>CONFIG in envp, else
 * NULL (then conf_load() tries default_path and fallback_path). */
const char *conf_explicit_path(const ConfTable *t, int argc, char * const *argv, char * const *envp);

/* All layers, then t->verify: the file (conf_explicit_path(); else default_path if it exists,
 * else fallback_path if that exists, else none), envp, then argv. *ret_path (when not NULL) is
 * set to the file read (or being read when that failed), NULL when none was; it points into
 * argv, envp or t. A missing file named explicitly is -ENOENT without a message. */
int conf_load(const ConfTable *t, void *obj, int argc, char * const *argv, char * const *envp,
              const char **ret_path, char ***notes, char **ret_error);

/* "where: message" (or the message alone when where is NULL) into *ret_error; returns -EINVAL,
 * or -ENOMEM. For the tables' verify functions. */
int conf_error(char **ret_error, const char *where, const char *fmt, ...) _printf_(3, 4);

/* Parsers for ConfKey.parse. Each takes what the loader hands over (see ConfParser). */

/* Any string. */
int conf_parse_string(const ConfKey *k, const char *s, ConfValue *ret);
/* An absolute path (the daemons run in /: a relative path is a mistake). */
int conf_parse_path(const ConfKey *k, const char *s, ConfValue *ret);
/* An absolute path that fits sockaddr_un (at most 107 bytes). */
int conf_parse_socket_path(const ConfKey *k, const char *s, ConfValue *ret);
/* A duration within [k->min, k->max]: what parse_duration() reads ("10s", "1m30s", "500ms", a
 * bare number of seconds), or one number with a fraction and an optional unit ("1.5", which
 * is how fleet wrote its float seconds, "0.5s", "1.5m"), to the microsecond. */
int conf_parse_duration(const ConfKey *k, const char *s, ConfValue *ret);
/* A decimal integer within [k->min, k->max] (max 0: up to INT_MAX). */
int conf_parse_int(const ConfKey *k, const char *s, ConfValue *ret);
/* true/false, yes/no, on/off, 1/0, and Go's t/f, True/False, TRUE/FALSE, T/F (fleet's). */
int conf_parse_bool(const ConfKey *k, const char *s, ConfValue *ret);
/* Blank-separated words, into a strv. */
int conf_parse_words(const ConfKey *k, const char *s, ConfValue *ret);
/* Comma-separated http:// or https:// URLs, each maybe in double quotes, the whole maybe in
 * brackets (fleet's ["http://a:2379", "http://b:2379"]). At least one. */
int conf_parse_etcd_servers(const ConfKey *k, const char *s, ConfValue *ret);
/* An etcd key prefix without blanks, normalized to begin and end with '/' ("fleetd" ->
 * "/fleetd/"), so that prefix + "machines/" is always a key path. */
int conf_parse_key_prefix(const ConfKey *k, const char *s, ConfValue *ret);
/* "k=v,k2=v2" (metadata.h). */
int conf_parse_metadata(const ConfKey *k, const char *s, ConfValue *ret);
/* host:port (host-port.h), kept as written. */
int conf_parse_host_port(const ConfKey *k, const char *s, ConfValue *ret);
/* An IPv4 or IPv6 address, kept as written. */
int conf_parse_ip(const ConfKey *k, const char *s, ConfValue *ret);
/* debug, info, notice, warning or err, into a syslog level. */
int conf_parse_log_level(const ConfKey *k, const char *s, ConfValue *ret);
#define CONF_EXPECT_LOG_LEVEL "one of debug, info, notice, warning, err"
