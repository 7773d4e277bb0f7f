/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

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

/* "<dir>/.#<name><suffix>" for path "<dir>/<name>", ".#<name><suffix>" for a bare name. */
static int temp_name(const char *path, const char *suffix, char **ret) {
        const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
        int k;

        if (isempty(name))
                return -EINVAL;
        if (slash)
                k = asprintf(ret, "%.*s/.#%s%s", (int) (slash - path), path, name, suffix);
        else
                k = asprintf(ret, ".#%s%s", name, suffix);
        return k < 0 ? -ENOMEM : 0;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int write_file_temp(const char *path, const void *data, size_t len, mode_t mode, char **ret_temp) {
        _cleanup_free_ char *temp = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        assert(path && (data || len == 0) && ret_temp);
        r = temp_name(path, "XXXXXX", &temp);
        if (r < 0)
                return r;
        fd = mkostemp(temp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, len);
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(temp);
                return r;
        }
        *ret_temp = TAKE_PTR(temp);
        return 0;
}

/* fsync() of the directory that holds path, so that a rename in it is on disk. */
static int fsync_directory_of(const char *path) {
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *dir = slash ? strndup(path, slash == path ? 1 : (size_t) (slash - path)) : strdup(".");
        _cleanup_close_ int fd = -EBADF;

        if (!dir)
                return -ENOMEM;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return fsync(fd) < 0 ? -errno : 0;
}

int write_file_commit(const char *temp, const char *path) {
        assert(temp && path);
        if (rename(temp, path) < 0)
                return -errno;
        /* Readers see the new file from here on; a failed sync only means that the rename may
         * not survive a power cut (see fileio.h). */
        (void) fsync_directory_of(path);
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode) {
        _cleanup_free_ char *temp = NULL;
        int r;

        r = write_file_temp(path, data, len, mode, &temp);
        if (r < 0)
                return r;
        r = write_file_commit(temp, path);
        if (r < 0)
                (void) unlink(temp);
        return r;
}

char *write_file_temp_pattern(const char *path) {
        char *pattern = NULL;

        return temp_name(path, "??????", &pattern) < 0 ? NULL : pattern;
}
