/* SPDX-License-Identifier: Apache-2.0 */
/* basic/error-util.h: one way to say why a check failed. */
#include "basic/error-util.h"
#include "../tests.h"

static int check_port(int port, char **ret_error) {
        if (port < 1 || port > 65535)
                return error_set(ret_error, -EINVAL, "port %d is not from 1 to 65535", port);
        return 0;
}

TEST(sets_message_and_returns_r) {
        _cleanup_free_ char *error = NULL;

        ASSERT_INT(check_port(80, &error), 0);
        ASSERT_TRUE(!error);
        ASSERT_INT(check_port(0, &error), -EINVAL);
        ASSERT_STR(error, "port 0 is not from 1 to 65535");
        ASSERT_INT(error_set(NULL, -EBADMSG, "unused %s", "x"), -EBADMSG);
        ASSERT_INT(check_port(70000, NULL), -EINVAL);
}

/* A location first, as the file parsers do. */
static int fail_at(char **ret_error, unsigned line, const char *fmt, ...) _printf_(3, 4);
static int fail_at(char **ret_error, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_setv(&msg, -EINVAL, fmt, ap);
        va_end(ap);
        if (r == -ENOMEM)
                return r;
        return error_set(ret_error, r, "file:%u: %s", line, msg);
}

TEST(with_va_list) {
        _cleanup_free_ char *error = NULL;

        ASSERT_INT(fail_at(&error, 3, "unknown key '%s'", "x"), -EINVAL);
        ASSERT_STR(error, "file:3: unknown key 'x'");
}

TEST_MAIN(T(sets_message_and_returns_r), T(with_va_list))
