/* SPDX-License-Identifier: Apache-2.0 */
/* The shared loader (conf-parser.h) on a table of its own: parsers, notes, the layers and
 * which file conf_load() reads. fleetd's and fleet-router's keys: test-config, test-router-config. */
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

#include "basic/strv.h"
#include "conf-parser.h"
#include "../tests.h"

typedef struct TestConf {
        char *name;
        usec_t delay;
        int count;
        bool flag;
        char **words;
        int verified;
} TestConf;

#define KEY(field, ...) CONF_KEY(TestConf, field, __VA_ARGS__)

static const ConfKey test_keys[] = {
        KEY(name, CONF_STRING, conf_parse_string, NULL, "a name"),
        KEY(delay, CONF_USEC, conf_parse_duration, "1s", "a duration from 1ms to 1h",
            .min = USEC_PER_MSEC, .max = 3600 * USEC_PER_SEC),
        KEY(count, CONF_INT, conf_parse_int, "3", "an integer from 1 to 10", .min = 1, .max = 10),
        KEY(flag, CONF_BOOL, conf_parse_bool, "false", "true or false"),
        KEY(words, CONF_STRV, conf_parse_words, NULL, "words"),
        { .name = "old_key", .type = CONF_IGNORED, .note = "old_key means nothing here, ignored" },
};

static const ConfGroup test_groups[] = {
        { .keys = test_keys, .n_keys = ELEMENTSOF(test_keys) },
};

static int test_verify(const void *obj, char **ret_error) {
        const TestConf *c = obj;

        if (c->flag && !c->name)
                return conf_error(ret_error, NULL, "flag needs name");
        ((TestConf *) c)->verified++;
        return 0;
}

static ConfTable test_table = {
        .section = "test",
        .default_path = "/tmp/test-conf-parser-none/test.conf",
        .env_prefix = "TEST_",
        .groups = test_groups,
        .n_groups = ELEMENTSOF(test_groups),
        .verify = test_verify,
};

static void test_conf_done(TestConf *c) {
        conf_done(&test_table, c);
}

#define _cleanup_conf_ _cleanup_(test_conf_done)

/* Writes text to a new temp file; returns its path (to unlink and free). */
static char *write_conf(const char *text) {
        char *path = strdup("/tmp/test-conf-parser-XXXXXX");
        int fd;

        if (!path)
                return NULL;
        fd = mkstemp(path);
        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text)) {
                free(path);
                return NULL;
        }
        close(fd);
        return path;
}

TEST(defaults) {
        _cleanup_conf_ TestConf c = {};

        ASSERT_INT(conf_init(&test_table, &c), 0);
        ASSERT_TRUE(!c.name && !c.words && !c.flag);
        ASSERT_INT(c.delay, USEC_PER_SEC);
        ASSERT_INT(c.count, 3);
}

TEST(durations) {
        static const struct {
                const char *in;
                usec_t out;
        } good[] = {
                { "5s", 5 * USEC_PER_SEC },
                { "1m30s", 90 * USEC_PER_SEC },
                { "7", 7 * USEC_PER_SEC },
                /* fleet's float seconds */
                { "1.5", 1500 * USEC_PER_MSEC },
                { "2.0", 2 * USEC_PER_SEC },
                { "0.001", USEC_PER_MSEC },
                /* and a fraction with a unit, as Go's durations */
                { "0.25s", 250 * USEC_PER_MSEC },
                { "1.5m", 90 * USEC_PER_SEC },
                { "1.5ms", 1500 },
                /* past the microsecond: dropped */
                { "1.0000019", USEC_PER_SEC + 1 },
        };
        static const char * const bad[] = {
                "1.", ".5", "1.5x", "1.5.2", "1..5", "1.5 s", "-1.5", "0.0001", "2h", "0", "1,5", "1.5ss",
        };
        _cleanup_conf_ TestConf c = {};

        ASSERT_INT(conf_init(&test_table, &c), 0);
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                ASSERT_INT(conf_set(&test_table, &c, "delay", good[i].in, "test", NULL, NULL), 0);
                ASSERT_INT(c.delay, good[i].out);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *err = NULL;

                if (conf_set(&test_table, &c, "delay", bad[i], "--delay", NULL, &err) != -EINVAL) {
                        fprintf(stderr, "delay '%s' was accepted\n", bad[i]);
                        ASSERT_TRUE(false);
                }
                ASSERT_CONTAINS(err, "--delay: invalid value for delay");
        }
        ASSERT_INT(c.delay, good[ELEMENTSOF(good) - 1].out);
}

TEST(ints_and_bools) {
        static const char * const yes[] = { "true", "yes", "on", "1", "t", "T", "True", "TRUE" };
        static const char * const no[] = { "false", "no", "off", "0", "f", "F", "False", "FALSE" };
        _cleanup_conf_ TestConf c = {};

        ASSERT_INT(conf_init(&test_table, &c), 0);
        ASSERT_INT(conf_set(&test_table, &c, "count", "10", "test", NULL, NULL), 0);
        ASSERT_INT(c.count, 10);
        ASSERT_INT(conf_set(&test_table, &c, "count", "1", "test", NULL, NULL), 0);
        ASSERT_INT(conf_set(&test_table, &c, "count", "0", "test", NULL, NULL), -EINVAL);
        ASSERT_INT(conf_set(&test_table, &c, "count", "11", "test", NULL, NULL), -EINVAL);
        ASSERT_INT(conf_set(&test_table, &c, "count", "-1", "test", NULL, NULL), -EINVAL);
        ASSERT_INT(conf_set(&test_table, &c, "count", "99999999999999999999", "test", NULL, NULL), -EINVAL);
        ASSERT_INT(conf_set(&test_table, &c, "count", "", "test", NULL, NULL), -EINVAL);
        ASSERT_INT(c.count, 1);

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                ASSERT_INT(conf_set(&test_table, &c, "flag", yes[i], "test", NULL, NULL), 0);
                ASSERT_TRUE(c.flag);
                ASSERT_INT(conf_set(&test_table, &c, "flag", no[i], "test", NULL, NULL), 0);
                ASSERT_TRUE(!c.flag);
        }
        ASSERT_INT(conf_set(&test_table, &c, "flag", "maybe", "test", NULL, NULL), -EINVAL);
}

TEST(ignored_keys_are_noted) {
        _cleanup_conf_ TestConf c = {};
        _cleanup_strv_free_ char **notes = NULL;
        _cleanup_free_ char *path = NULL, *err = NULL;
        char *env[] = { (char *) "TEST_OLD_KEY=1", NULL };
        char *argv[] = { (char *) "prog", (char *) "--old_key", (char *) "x y", NULL };

        ASSERT_INT(conf_init(&test_table, &c), 0);
        path = write_conf("name = a\nold_key = \"anything at all\"\n");
        ASSERT_TRUE(path);
        ASSERT_INT(conf_parse_file(&test_table, &c, path, &notes, &err), 0);
        ASSERT_INT(conf_apply_env(&test_table, &c, env, &notes, &err), 0);
        ASSERT_INT(conf_apply_args(&test_table, &c, 3, argv, &notes, &err), 0);
        unlink(path);
        ASSERT_TRUE(!err);

        ASSERT_INT(strv_length(notes), 3);
        ASSERT_CONTAINS(notes[0], ":2: old_key means nothing here, ignored");
        ASSERT_CONTAINS(notes[0], path);
        ASSERT_STR(notes[1], "TEST_OLD_KEY: old_key means nothing here, ignored");
        ASSERT_STR(notes[2], "--old_key: old_key means nothing here, ignored");
        ASSERT_STR(c.name, "a");
}

TEST(failed_layer_adds_no_notes) {
        _cleanup_conf_ TestConf c = {};
        _cleanup_strv_free_ char **notes = NULL;
        _cleanup_free_ char *err = NULL;
        char *argv[] = { (char *) "prog", (char *) "--old_key=1", (char *) "--name=b", (char *) "--count=0", NULL };

        ASSERT_INT(conf_init(&test_table, &c), 0);
        ASSERT_INT(conf_apply_args(&test_table, &c, 4, argv, &notes, &err), -EINVAL);
        ASSERT_STR(err, "--count: invalid value for count: '0' (expected an integer from 1 to 10)");
        ASSERT_TRUE(!notes);
        ASSERT_TRUE(!c.name);
}

TEST(flags) {
        static const struct {
                const char *args[3];
                const char *message;
        } bad[] = {
                { { "name=a" }, "unexpected argument 'name=a'" },
                { { "-n" }, "unexpected argument '-n'" },
                { { "--" }, "unexpected argument '--'" },
                { { "--name" }, "--name needs a value" },
                { { "--config" }, "--config needs a value" },
                { { "--nope=1" }, "--nope: unknown key 'nope'" },
        };
        _cleanup_conf_ TestConf c = {};
        char *argv[] = {
                (char *) "prog",    (char *) "--config", (char *) "/x.conf", (char *) "--name",
                (char *) "a b",     (char *) "--config=/y.conf", (char *) "--words= one  two ",
                (char *) "--count", (char *) "4", NULL,
        };

        ASSERT_INT(conf_init(&test_table, &c), 0);
        ASSERT_INT(conf_apply_args(&test_table, &c, (int) ELEMENTSOF(argv) - 1, argv, NULL, NULL), 0);
        ASSERT_STR(c.name, "a b");
        ASSERT_INT(strv_length(c.words), 2);
        ASSERT_STR(c.words[1], "two");
        ASSERT_INT(c.count, 4);
        ASSERT_STR(conf_explicit_path(&test_table, (int) ELEMENTSOF(argv) - 1, argv, NULL), "/x.conf");

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *err = NULL;
                char *a[] = { (char *) "prog", (char *) bad[i].args[0], NULL };

                ASSERT_INT(conf_apply_args(&test_table, &c, 2, a, NULL, &err), -EINVAL);
                ASSERT_CONTAINS(err, bad[i].message);
        }
}

TEST(environment) {
        _cleanup_conf_ TestConf c = {};
        _cleanup_free_ char *err = NULL, *err2 = NULL;
        char *env[] = {
                (char *) "TEST_CONFIG=/z.conf", (char *) "TEST_NAME= x ", (char *) "TESTNAME=y",
                (char *) "TEST_COUNT=5", (char *) "OTHER=1", NULL,
        };
        char *bad[] = { (char *) "TEST_NAME=z", (char *) "TEST_COUNTS=5", NULL };

        ASSERT_INT(conf_init(&test_table, &c), 0);
        ASSERT_INT(conf_apply_env(&test_table, &c, env, NULL, &err), 0);
        ASSERT_STR(c.name, "x");
        ASSERT_INT(c.count, 5);
        ASSERT_STR(conf_explicit_path(&test_table, 0, NULL, env), "/z.conf");

        ASSERT_INT(conf_apply_env(&test_table, &c, bad, NULL, &err2), -EINVAL);
        ASSERT_STR(err2, "unknown environment variable TEST_COUNTS (expected TEST_CONFIG, or TEST_ and a key of "
                         "test.conf in upper case)");
        ASSERT_STR(c.name, "x");
}

TEST(file_syntax) {
        _cleanup_conf_ TestConf c = {};
        _cleanup_free_ char *path = NULL, *err = NULL;

        ASSERT_INT(conf_init(&test_table, &c), 0);
        path = write_conf("# c\n; c\nname='single quoted'\n[ test ]\nwords = \"a b\" ; comment\nflag=yes\n");
        ASSERT_TRUE(path);
        ASSERT_INT(conf_parse_file(&test_table, &c, path, NULL, &err), 0);
        unlink(path);
        ASSERT_STR(c.name, "single quoted");
        ASSERT_INT(strv_length(c.words), 2);
        ASSERT_TRUE(c.flag);
}

/* conf_load(): which file, then the layers, then verify. */
TEST(load_picks_the_file) {
        _cleanup_free_ char *dflt = write_conf("name = default\n"), *fallback = write_conf("name = fallback\n");
        _cleanup_free_ char *other = write_conf("name = other\ncount = 2\n");
        const char *missing = "/tmp/test-conf-parser-none/missing.conf";
        ConfTable t = test_table;
        const char *path = NULL;

        ASSERT_TRUE(dflt && fallback && other);
        {
                _cleanup_conf_ TestConf c = {};

                t.default_path = dflt;
                t.fallback_path = fallback;
                ASSERT_INT(conf_init(&t, &c), 0);
                ASSERT_INT(conf_load(&t, &c, 0, NULL, NULL, &path, NULL, NULL), 0);
                ASSERT_TRUE(path == t.default_path);
                ASSERT_STR(c.name, "default");
                ASSERT_INT(c.verified, 1);
        }
        {
                _cleanup_conf_ TestConf c = {};

                t.default_path = missing;
                ASSERT_INT(conf_init(&t, &c), 0);
                ASSERT_INT(conf_load(&t, &c, 0, NULL, NULL, &path, NULL, NULL), 0);
                ASSERT_TRUE(path == t.fallback_path);
                ASSERT_STR(c.name, "fallback");
        }
        {
                _cleanup_conf_ TestConf c = {};

                t.fallback_path = missing;
                ASSERT_INT(conf_init(&t, &c), 0);
                ASSERT_INT(conf_load(&t, &c, 0, NULL, NULL, &path, NULL, NULL), 0);
                ASSERT_TRUE(!path && !c.name);
        }
        {
                _cleanup_conf_ TestConf c = {};
                char *env[] = { NULL, (char *) "TEST_NAME=env", NULL };
                char *argv[] = { (char *) "prog", (char *) "--count=7", NULL };
                _cleanup_free_ char *var = NULL;

                /* The environment names the file; it overrides the file, and flags override both. */
                ASSERT_TRUE(asprintf(&var, "TEST_CONFIG=%s", other) > 0);
                env[0] = var;
                ASSERT_INT(conf_init(&t, &c), 0);
                ASSERT_INT(conf_load(&t, &c, 2, argv, env, &path, NULL, NULL), 0);
                ASSERT_STR(path, other);
                ASSERT_STR(c.name, "env");
                ASSERT_INT(c.count, 7);
        }
        {
                _cleanup_conf_ TestConf c = {};
                char *argv[] = { (char *) "prog", (char *) "--config", (char *) missing, NULL };
                _cleanup_free_ char *err = NULL;

                /* Named, it must exist, even with a fallback. */
                t.fallback_path = fallback;
                ASSERT_INT(conf_init(&t, &c), 0);
                ASSERT_INT(conf_load(&t, &c, 3, argv, NULL, &path, NULL, &err), -ENOENT);
                ASSERT_STR(path, missing);
                ASSERT_TRUE(!err);
        }
        {
                _cleanup_conf_ TestConf c = {};
                char *argv[] = { (char *) "prog", (char *) "--flag=1", NULL };
                _cleanup_free_ char *err = NULL;

                /* No file: the verify function sees defaults and the flag. */
                t.fallback_path = missing;
                ASSERT_INT(conf_init(&t, &c), 0);
                ASSERT_INT(conf_load(&t, &c, 2, argv, NULL, &path, NULL, &err), -EINVAL);
                ASSERT_STR(err, "flag needs name");
        }
        unlink(dflt);
        unlink(fallback);
        unlink(other);
}

TEST_MAIN(T(defaults),
          T(durations),
          T(ints_and_bools),
          T(ignored_keys_are_noted),
          T(failed_layer_adds_no_notes),
          T(flags),
          T(environment),
          T(file_syntax),
          T(load_picks_the_file))
