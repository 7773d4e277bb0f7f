/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>

#include "fileio.h"
#include "macros.h"

int read_file_limit(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        if (fd < 0)
                return -errno;
        for (;;) {
                /* room for one byte over the limit, to tell "exactly max" from "more" */
                if (size + 1 >= allocated) {
                        size_t n = MIN(MAX(allocated * 2, (size_t) 4096), max + 2);
                        char *t = n > allocated ? realloc(buf, n) : NULL;
                        if (!t)
                                return -ENOMEM;
                        buf = t;
                        allocated = n;
                }
                ssize_t k = read(fd, buf + size, allocated - 1 - size);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > max)
                        return -EFBIG;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[size] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = size;
        return 0;
}
