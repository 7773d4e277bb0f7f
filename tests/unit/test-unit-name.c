/* SPDX-License-Identifier: Apache-2.0 */
#include "unit-name.h"
#include "../tests.h"

TEST(valid_kinds) {
        ASSERT_TRUE(unit_name_is_valid("foo.service", UNIT_NAME_PLAIN));
        ASSERT_TRUE(!unit_name_is_valid("foo.service", UNIT_NAME_TEMPLATE | UNIT_NAME_INSTANCE));
        ASSERT_TRUE(unit_name_is_valid("foo@.service", UNIT_NAME_TEMPLATE));
        ASSERT_TRUE(!unit_name_is_valid("foo@.service", UNIT_NAME_PLAIN | UNIT_NAME_INSTANCE));
        ASSERT_TRUE(unit_name_is_valid("foo@1.service", UNIT_NAME_INSTANCE));
        ASSERT_TRUE(!unit_name_is_valid("foo@1.service", UNIT_NAME_PLAIN | UNIT_NAME_TEMPLATE));
        /* No kind bits: any kind. */
        ASSERT_TRUE(unit_name_is_valid("foo.service", 0));
        ASSERT_TRUE(unit_name_is_valid("foo@.service", 0));
        ASSERT_TRUE(unit_name_is_valid("foo@1.service", UNIT_NAME_ANY));
}

TEST(valid_names) {
        static const char *const good[] = {
                "a.service",
                "getty@tty1.service",
                "hello_v3.web@2.service",
                "system-systemd\\x2dcryptsetup.slice",
                "dev-sda1.device",
                "-.mount",
                "proc-sys-fs-binfmt_misc.automount",
                "foo:bar.socket",
                "foo..service",             /* prefix "foo." */
                "foo@a.b.service",          /* instance "a.b" */
                "foo@a@b.service",          /* systemd lets the instance hold further '@' */
                "x.target", "x.path", "x.timer", "x.swap", "x.slice", "x.scope",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                if (!unit_name_is_valid(good[i], UNIT_NAME_ANY))
                        fprintf(stderr, "expected valid: %s\n", good[i]);
                ASSERT_TRUE(unit_name_is_valid(good[i], UNIT_NAME_ANY));
                ASSERT_INT(unit_name_check(good[i], UNIT_NAME_ANY, NULL), 0);
        }
}

TEST(invalid_names) {
        static const char *const bad[] = {
                "", "foo", "foo.", ".service", "@.service", "@foo.service", "foo.bar",
                "foo.Service", "x y.service", "foo/bar.service", "foo@bar/baz.service",
                "föö.service", "foo.service ", "foo\n.service", "foo.service@", "foo@.service.",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (unit_name_is_valid(bad[i], UNIT_NAME_ANY))
                        fprintf(stderr, "expected invalid: %s\n", bad[i]);
                ASSERT_TRUE(!unit_name_is_valid(bad[i], UNIT_NAME_ANY));
                ASSERT_INT(unit_name_check(bad[i], UNIT_NAME_ANY, NULL), -EINVAL);
        }
        ASSERT_TRUE(!unit_name_is_valid(NULL, UNIT_NAME_ANY));
}

TEST(length_limit) {
        char name[UNIT_NAME_MAX + 8];

        /* 255 bytes is the longest valid name, 256 is too long. */
        memset(name, 'a', sizeof(name));
        strcpy(name + 255 - strlen(".service"), ".service");
        ASSERT_INT(strlen(name), 255);
        ASSERT_TRUE(unit_name_is_valid(name, UNIT_NAME_PLAIN));

        memset(name, 'a', sizeof(name));
        strcpy(name + 256 - strlen(".service"), ".service");
        ASSERT_TRUE(!unit_name_is_valid(name, UNIT_NAME_PLAIN));

        _cleanup_free_ char *msg = NULL;
        ASSERT_INT(unit_name_check(name, 0, &msg), -EINVAL);
        ASSERT_CONTAINS(msg, "is 256 bytes long; the limit is 255");
        ASSERT_CONTAINS(msg, "...'"); /* the echoed name is cut short */
}

TEST(placeable) {
        static const char *const yes[] = { "a.service", "a@.service", "a@1.service", "a.socket",
                                           "a.timer", "a.path", "a.target" };
        static const char *const no[] = { "a.mount", "a.automount", "a.swap", "a.slice", "a.scope",
                                          "a.device" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                ASSERT_TRUE(unit_name_is_valid(yes[i], UNIT_NAME_PLACEABLE));
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                ASSERT_TRUE(unit_name_is_valid(no[i], UNIT_NAME_ANY));
                ASSERT_TRUE(!unit_name_is_valid(no[i], UNIT_NAME_ANY | UNIT_NAME_PLACEABLE));
        }

        _cleanup_free_ char *msg = NULL;
        ASSERT_INT(unit_name_check("home.mount", UNIT_NAME_PLACEABLE, &msg), -EINVAL);
        ASSERT_STR(msg, "unit name 'home.mount' is a .mount unit; fleet places only .service, .socket, "
                        ".timer, .path and .target units");
}

static void check_message(const char *name, UnitNameFlags flags, const char *expected) {
        _cleanup_free_ char *msg = NULL;

        ASSERT_INT(unit_name_check(name, flags, &msg), -EINVAL);
        ASSERT_STR(msg, expected);
}

TEST(messages) {
        check_message("x y.service", 0,
                      "unit name 'x y.service' contains ' ' at position 2; "
                      "allowed: letters, digits, ':', '-', '_', '.', '\\', '@'");
        check_message("a\tb.service", 0,
                      "unit name 'a\\x09b.service' contains '\\x09' at position 2; "
                      "allowed: letters, digits, ':', '-', '_', '.', '\\', '@'");
        check_message("caf\xc3\xa9.service", 0,
                      "unit name 'caf\\xc3\\xa9.service' contains '\\xc3' at position 4; "
                      "allowed: letters, digits, ':', '-', '_', '.', '\\', '@'");
        check_message("", 0, "unit name is empty");
        check_message(NULL, 0, "unit name is empty");
        check_message("web", 0, "unit name 'web' has no type suffix such as .service");
        check_message("web.servce", 0, "unit name 'web.servce' has an unknown type suffix '.servce'");
        check_message(".service", 0, "unit name '.service' has nothing before '.'");
        check_message("@1.service", 0, "unit name '@1.service' has nothing before '@'");
        check_message("web@.service", UNIT_NAME_PLAIN | UNIT_NAME_INSTANCE,
                      "unit name 'web@.service' is a template; expected a plain name or an instance");
        check_message("web.service", UNIT_NAME_INSTANCE,
                      "unit name 'web.service' is a plain name; expected an instance");
}

TEST(types) {
        ASSERT_INT(unit_name_to_type("a.service"), UNIT_SERVICE);
        ASSERT_INT(unit_name_to_type("a@b.timer"), UNIT_TIMER);
        ASSERT_INT(unit_name_to_type("a.bogus"), _UNIT_TYPE_INVALID);
        ASSERT_INT(unit_type_from_string("automount"), UNIT_AUTOMOUNT);
        ASSERT_INT(unit_type_from_string(".service"), _UNIT_TYPE_INVALID);
        ASSERT_STR(unit_type_to_string(UNIT_SCOPE), "scope");
        ASSERT_TRUE(unit_type_to_string(_UNIT_TYPE_MAX) == NULL);
        for (UnitType t = 0; t < _UNIT_TYPE_MAX; t++)
                ASSERT_INT(unit_type_from_string(unit_type_to_string(t)), t);
}

TEST(template_and_instance) {
        _cleanup_free_ char *t = NULL, *t2 = NULL, *i = NULL, *i2 = NULL, *p = NULL, *p2 = NULL;

        ASSERT_TRUE(unit_name_is_template("foo@.service"));
        ASSERT_TRUE(!unit_name_is_template("foo@1.service"));
        ASSERT_TRUE(!unit_name_is_template("foo.service"));
        ASSERT_TRUE(!unit_name_is_template("@.service"));
        ASSERT_TRUE(unit_name_is_instance("foo@1.service"));
        ASSERT_TRUE(!unit_name_is_instance("foo@.service"));
        ASSERT_TRUE(!unit_name_is_instance(NULL));

        ASSERT_INT(unit_name_template_of("foo@1.service", &t), 0);
        ASSERT_STR(t, "foo@.service");
        ASSERT_INT(unit_name_template_of("hello_v3.web@a@b.socket", &t2), 0);
        ASSERT_STR(t2, "hello_v3.web@.socket");
        ASSERT_INT(unit_name_template_of("foo.service", &t), -EINVAL);
        ASSERT_INT(unit_name_template_of("foo@1.bogus", &t), -EINVAL);

        ASSERT_INT(unit_name_instance("foo@1.service", &i), 1);
        ASSERT_STR(i, "1");
        ASSERT_INT(unit_name_instance("foo@a.b@c.service", &i2), 1);
        ASSERT_STR(i2, "a.b@c");
        char *none = (char *) "sentinel";
        ASSERT_INT(unit_name_instance("foo@.service", &none), 0);
        ASSERT_TRUE(none == NULL);
        none = (char *) "sentinel";
        ASSERT_INT(unit_name_instance("foo.service", &none), 0);
        ASSERT_TRUE(none == NULL);
        ASSERT_INT(unit_name_instance("foo", &none), -EINVAL);

        ASSERT_INT(unit_name_prefix("foo@1.service", &p), 0);
        ASSERT_STR(p, "foo");
        ASSERT_INT(unit_name_prefix("hello_v3.web.service", &p2), 0);
        ASSERT_STR(p2, "hello_v3.web");
}

TEST(replace_instance) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        char *c = NULL;
        char big[300];

        ASSERT_INT(unit_name_replace_instance("foo@.service", "1", &a), 0);
        ASSERT_STR(a, "foo@1.service");
        ASSERT_INT(unit_name_replace_instance("foo@1.service", "tty2", &b), 0);
        ASSERT_STR(b, "foo@tty2.service");
        ASSERT_INT(unit_name_replace_instance("foo.service", "1", &c), -EINVAL);
        ASSERT_INT(unit_name_replace_instance("foo@.service", "", &c), -EINVAL);
        ASSERT_INT(unit_name_replace_instance("foo@.service", NULL, &c), -EINVAL);
        ASSERT_INT(unit_name_replace_instance("foo@.service", "a b", &c), -EINVAL);
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        ASSERT_INT(unit_name_replace_instance("foo@.service", big, &c), -EINVAL);
        ASSERT_TRUE(c == NULL);
}

TEST_MAIN(T(valid_kinds), T(valid_names), T(invalid_names), T(length_limit), T(placeable), T(messages),
          T(types), T(template_and_instance), T(replace_instance))
