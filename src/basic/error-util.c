/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "error-util.h"

int error_setv(char **ret_error, int r, const char *fmt, va_list ap) {
        if (!ret_error)
                return r;
        if (vasprintf(ret_error, fmt, ap) < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return r;
}

int error_set(char **ret_error, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        r = error_setv(ret_error, r, fmt, ap);
        va_end(ap);
        return r;
}
