/* SPDX-License-Identifier: Apache-2.0 */
/* Host ports: the pure choice (used set, range, start, a table standing in for bind()), Port=
 * in unit files, the .env files in a temporary directory, and bind() itself on loopback. */
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "basic/strv.h"
#include "ports.h"
#include "../tests.h"

/* bindable() from a table: ports listed in taken are not bindable; asked counts the calls. */
typedef struct Probe {
        const uint16_t *taken;
        size_t n_taken;
        unsigned asked;
        uint16_t last_asked;
} Probe;

static bool probe_bindable(uint16_t port, void *userdata) {
        Probe *p = userdata;

        p->asked++;
        p->last_asked = port;
        for (size_t i = 0; i < p->n_taken; i++)
                if (p->taken[i] == port)
                        return false;
        return true;
}

TEST(pick_first_free) {
        uint16_t port = 0;

        ASSERT_INT(ports_pick(NULL, 0, 20000, 29999, 20000, NULL, NULL, &port), 0);
        ASSERT_INT(port, 20000);

        uint16_t used[] = { 20001, 20000, 20003 };
        Probe p = {};
        ASSERT_INT(ports_pick(used, ELEMENTSOF(used), 20000, 29999, 20000, probe_bindable, &p, &port), 0);
        ASSERT_INT(port, 20002);
        ASSERT_INT(p.asked, 1); /* used ports are never probed */
}

TEST(pick_skips_unbindable) {
        uint16_t used[] = { 20000 };
        uint16_t taken[] = { 20001, 20002 };
        Probe p = { .taken = taken, .n_taken = ELEMENTSOF(taken) };
        uint16_t port = 0;

        ASSERT_INT(ports_pick(used, 1, 20000, 20010, 20000, probe_bindable, &p, &port), 0);
        ASSERT_INT(port, 20003);
        ASSERT_INT(p.asked, 3);
}

TEST(pick_from_start_wraps) {
        uint16_t used[] = { 20009, 20010 };
        uint16_t port = 0;

        /* from 20008 on: 20008 is free */
        ASSERT_INT(ports_pick(used, 2, 20000, 20010, 20008, NULL, NULL, &port), 0);
        ASSERT_INT(port, 20008);
        /* from 20009 on: 20009, 20010 used, wraps to 20000 */
        ASSERT_INT(ports_pick(used, 2, 20000, 20010, 20009, NULL, NULL, &port), 0);
        ASSERT_INT(port, 20000);
        /* a start outside the range means the first port */
        ASSERT_INT(ports_pick(used, 2, 20000, 20010, 0, NULL, NULL, &port), 0);
        ASSERT_INT(port, 20000);
        ASSERT_INT(ports_pick(used, 2, 20000, 20010, 30000, NULL, NULL, &port), 0);
        ASSERT_INT(port, 20000);
}

TEST(pick_exhausted) {
        uint16_t used[] = { 20000, 20002 };
        uint16_t taken[] = { 20001 };
        Probe p = { .taken = taken, .n_taken = 1 };
        uint16_t port = 4242;

        ASSERT_INT(ports_pick(used, 2, 20000, 20002, 20000, probe_bindable, &p, &port), -EADDRNOTAVAIL);
        ASSERT_INT(port, 4242); /* untouched */
        ASSERT_INT(p.asked, 1);
        /* the whole range of 16 bits, every port taken but the last */
        p = (Probe) {};
        uint16_t *all = calloc(65534, sizeof(uint16_t));
        ASSERT_TRUE(all);
        for (unsigned i = 0; i < 65534; i++)
                all[i] = (uint16_t) (i + 1);
        int r = ports_pick(all, 65534, 1, 65535, 1, probe_bindable, &p, &port);
        free(all);
        ASSERT_INT(r, 0);
        ASSERT_INT(port, 65535);
        ASSERT_INT(p.asked, 1);
}

TEST(pick_bad_range) {
        uint16_t port;

        ASSERT_INT(ports_pick(NULL, 0, 0, 10, 0, NULL, NULL, &port), -EINVAL);
        ASSERT_INT(ports_pick(NULL, 0, 20, 10, 0, NULL, NULL, &port), -EINVAL);
        ASSERT_INT(ports_pick(NULL, 0, 10, 10, 0, NULL, NULL, &port), 0);
        ASSERT_INT(port, 10);
}

static int port_of(const char *text, uint16_t *ret) {
        _cleanup_(unit_file_freep) UnitFile *uf = NULL;
        int r = unit_file_parse(text, strlen(text), NULL, &uf, NULL);
        return r < 0 ? -999 : ports_from_unit_file(uf, ret);
}

TEST(port_in_unit_file) {
        uint16_t port = 1;

        ASSERT_INT(port_of("[Service]\nExecStart=/bin/true\n", &port), 0);
        ASSERT_INT(port, 0);
        ASSERT_INT(port_of("[X-Fleetd]\nPort=8080\n", &port), 1);
        ASSERT_INT(port, 8080);
        ASSERT_INT(port_of("[X-Fleetd]\nPort = 65535\n", &port), 1);
        ASSERT_INT(port, 65535);
        ASSERT_INT(port_of("[X-Fleetd]\nPort=80\nPort=\n", &port), 0); /* reset */
        /* another section's Port= is not ours */
        ASSERT_INT(port_of("[X-Fleet]\nPort=80\n", &port), 0);
        static const char *bad[] = { "0", "65536", "080", "-1", "80x", "http", "1e3", "99999999999999999999" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *text = NULL;
                ASSERT_TRUE(asprintf(&text, "[X-Fleetd]\nPort=%s\n", bad[i]) > 0);
                ASSERT_INT(port_of(text, &port), -EINVAL);
        }
}

TEST(parse_env) {
        uint16_t port = 0;

        ASSERT_INT(ports_parse_env("PORT=20001\n", &port), 0);
        ASSERT_INT(port, 20001);
        ASSERT_INT(ports_parse_env("PORT=1", &port), 0);
        ASSERT_INT(port, 1);
        static const char *bad[] = {
                "", "PORT=", "PORT=\n", "PORT=0\n", "PORT=65536\n", "PORT=1\n\n", "PORT=1 \n", "port=1\n",
                "X=1\n", "PORT=1\nX=2\n", "PORT=12345678901234567890123456789\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ASSERT_INT(ports_parse_env(bad[i], &port), -EBADMSG);
}

static char *read_all(const char *path) {
        char buf[256];
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        return strdup(buf);
}

TEST(files) {
        char tmp[] = "/tmp/test-ports.XXXXXX";
        _cleanup_free_ char *dir = NULL, *path = NULL, *text = NULL, *junk = NULL, *tmpfile = NULL;
        _cleanup_strv_free_ char **names = NULL;
        uint16_t port = 0;

        ASSERT_TRUE(mkdtemp(tmp));
        ASSERT_TRUE(asprintf(&dir, "%s/ports", tmp) > 0);

        /* no directory yet: nothing listed, nothing read */
        ASSERT_INT(ports_list_files(dir, &names), 0);
        ASSERT_INT(strv_length(names), 0);
        names = strv_free(names);
        ASSERT_INT(ports_read_file(dir, "a.service", &port), -ENOENT);

        /* written (creating the directory) and read back */
        ASSERT_INT(ports_write_file(dir, "web@1.service", 20001), 0);
        ASSERT_INT(ports_write_file(dir, "a.service", 20002), 0);
        ASSERT_INT(ports_write_file(dir, "a.service", 20003), 0); /* replaced */
        ASSERT_TRUE(asprintf(&path, "%s/web@1.service.env", dir) > 0);
        text = read_all(path);
        ASSERT_STR(text, "PORT=20001\n");
        ASSERT_INT(ports_read_file(dir, "a.service", &port), 0);
        ASSERT_INT(port, 20003);

        /* other files are not listed; a bad one is not read */
        ASSERT_TRUE(asprintf(&junk, "%s/b.service.env", dir) > 0);
        ASSERT_TRUE(asprintf(&tmpfile, "%s/.#c.service.env", dir) > 0);
        FILE *f = fopen(junk, "we");
        ASSERT_TRUE(f);
        fputs("PORT=http\n", f);
        fclose(f);
        f = fopen(tmpfile, "we");
        ASSERT_TRUE(f);
        fclose(f);
        free(junk);
        ASSERT_TRUE(asprintf(&junk, "%s/notes.txt", dir) > 0);
        f = fopen(junk, "we");
        ASSERT_TRUE(f);
        fclose(f);
        ASSERT_INT(ports_read_file(dir, "b.service", &port), -EBADMSG);
        ASSERT_INT(ports_list_files(dir, &names), 0);
        ASSERT_INT(strv_length(names), 3);
        ASSERT_TRUE(strv_contains(names, "web@1.service"));
        ASSERT_TRUE(strv_contains(names, "a.service"));
        ASSERT_TRUE(strv_contains(names, "b.service"));

        /* removed; removing again is fine */
        ASSERT_INT(ports_remove_file(dir, "web@1.service"), 0);
        ASSERT_INT(ports_remove_file(dir, "web@1.service"), 0);
        ASSERT_INT(ports_read_file(dir, "web@1.service", &port), -ENOENT);

        ASSERT_INT(ports_remove_file(dir, "a.service"), 0);
        ASSERT_INT(ports_remove_file(dir, "b.service"), 0);
        unlink(tmpfile);
        unlink(junk);
        ASSERT_INT(rmdir(dir), 0);
        ASSERT_INT(rmdir(tmp), 0);
}

TEST(bindable) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ASSERT_TRUE(fd >= 0);
        ASSERT_INT(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ASSERT_INT(listen(fd, 1), 0);
        ASSERT_INT(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        uint16_t port = ntohs(sa.sin_port);

        bool while_listening = ports_tcp_bindable(port, NULL);
        close(fd);
        ASSERT_TRUE(!while_listening);
        ASSERT_TRUE(ports_tcp_bindable(port, NULL));
}

TEST_MAIN(T(pick_first_free), T(pick_skips_unbindable), T(pick_from_start_wraps), T(pick_exhausted),
          T(pick_bad_range), T(port_in_unit_file), T(parse_env), T(files), T(bindable))
