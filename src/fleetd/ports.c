/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "basic/fileio.h"
#include "basic/strv.h"
#include "ports.h"

#define ENV_SUFFIX ".env"
/* "PORT=65535\n" and room for what should not be there, to tell it apart. */
#define ENV_FILE_MAX 32

int ports_pick(const uint16_t *used, size_t n_used, uint16_t first, uint16_t last, uint16_t start,
               ports_probe_t bindable, void *userdata, uint16_t *ret) {
        uint64_t taken[65536 / 64] = {};

        if (first == 0 || first > last)
                return -EINVAL;
        for (size_t i = 0; i < n_used; i++)
                taken[used[i] / 64] |= UINT64_C(1) << (used[i] % 64);
        if (start < first || start > last)
                start = first;

        uint32_t span = (uint32_t) last - first + 1;
        for (uint32_t k = 0; k < span; k++) {
                uint16_t p = (uint16_t) (first + (start - first + k) % span);
                if (taken[p / 64] & (UINT64_C(1) << (p % 64)))
                        continue;
                if (bindable && !bindable(p, userdata))
                        continue;
                *ret = p;
                return 0;
        }
        return -EADDRNOTAVAIL;
}

static int parse_port(const char *s, uint16_t *ret) {
        unsigned long n = 0;

        if (!s || *s < '1' || *s > '9')
                return -EINVAL;       /* no sign, no blanks, no leading zero */
        for (; *s >= '0' && *s <= '9'; s++) {
                n = n * 10 + (unsigned long) (*s - '0');
                if (n > UINT16_MAX)
                        return -EINVAL;
        }
        if (*s)
                return -EINVAL;
        *ret = (uint16_t) n;
        return 0;
}

int ports_from_unit_file(const UnitFile *uf, uint16_t *ret_port) {
        const char *v = unit_file_get(uf, FLEETD_SECTION, "Port");
        uint16_t port;

        if (isempty(v)) {
                *ret_port = 0;
                return 0;
        }
        if (parse_port(v, &port) < 0)
                return -EINVAL;
        *ret_port = port;
        return 1;
}

int ports_parse_env(const char *text, uint16_t *ret) {
        char buf[ENV_FILE_MAX];
        const char *v = startswith(text, "PORT=");
        size_t n;

        if (!v)
                return -EBADMSG;
        n = strlen(v);
        if (n > 0 && v[n - 1] == '\n')
                n--;
        if (n == 0 || n >= sizeof(buf))
                return -EBADMSG;
        memcpy(buf, v, n);
        buf[n] = 0;
        return parse_port(buf, ret) < 0 ? -EBADMSG : 0;
}

bool ports_tcp_bindable(uint16_t port, void *userdata) {
        struct sockaddr_in sa = {
                .sin_family = AF_INET,
                .sin_port = htons(port),
                .sin_addr.s_addr = htonl(INADDR_ANY),
        };
        int one = 1;

        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                return false;
        return bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
}

static int env_path(const char *dir, const char *unit, const char *prefix, char **ret) {
        return asprintf(ret, "%s/%s%s" ENV_SUFFIX, dir, prefix, unit) < 0 ? -ENOMEM : 0;
}

int ports_write_file(const char *dir, const char *unit, uint16_t port) {
        _cleanup_free_ char *path = NULL;
        char text[ENV_FILE_MAX];
        int n, r;

        if ((r = env_path(dir, unit, "", &path)) < 0)
                return r;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        n = snprintf(text, sizeof(text), "PORT=%u\n", (unsigned) port);
        return write_file_atomic(path, text, (size_t) n, 0644);
}

int ports_read_file(const char *dir, const char *unit, uint16_t *ret) {
        _cleanup_free_ char *path = NULL;
        char text[ENV_FILE_MAX + 1];
        ssize_t n;
        int r;

        if ((r = env_path(dir, unit, "", &path)) < 0)
                return r;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        n = read(fd, text, ENV_FILE_MAX);
        if (n < 0)
                return -errno;
        if (n == ENV_FILE_MAX)
                return -EBADMSG;
        text[n] = 0;
        return ports_parse_env(text, ret);
}

int ports_remove_file(const char *dir, const char *unit) {
        _cleanup_free_ char *path = NULL;
        int r;

        if ((r = env_path(dir, unit, "", &path)) < 0)
                return r;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int ports_list_files(const char *dir, char ***ret) {
        _cleanup_strv_free_ char **units = calloc(1, sizeof(char *));
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (!units)
                return -ENOMEM;
        d = opendir(dir);
        if (!d) {
                if (errno != ENOENT)
                        return -errno;
                *ret = TAKE_PTR(units);
                return 0;
        }
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name), s = strlen(ENV_SUFFIX);
                if (de->d_name[0] == '.' || n <= s || !streq(de->d_name + n - s, ENV_SUFFIX))
                        continue;
                _cleanup_free_ char *unit = strndup(de->d_name, n - s);
                if (!unit || (r = strv_push(&units, unit)) < 0) {
                        r = -ENOMEM;
                        break;
                }
                unit = NULL;
        }
        closedir(d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(units);
        return 0;
}
