/* SPDX-License-Identifier: Apache-2.0 */
/* Build contexts: the tar writer against the checker and against GNU tar (/usr/bin/tar, if
 * there), streams the checker must refuse, and the ignore-file rules. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-context.h"
#include "../tests.h"

static const char manifest[] = "app: hello\nprocesses:\n  web:\n";

/* A context with the manifest, a Containerfile and whatever add() puts in. */
static int make(TarWriter *w, int (*add)(TarWriter *w)) {
        int r;

        if ((r = tar_writer_add(w, BUILD_CONTEXT_MANIFEST, TAR_FILE, 0644, manifest, strlen(manifest), NULL)) < 0 ||
            (r = tar_writer_add(w, "Containerfile", TAR_FILE, 0644, "FROM x\n", 7, NULL)) < 0 ||
            (add && (r = add(w)) < 0))
                return r;
        return tar_writer_finish(w);
}

static int add_tree(TarWriter *w) {
        static char long_name[300];
        int r;

        memset(long_name, 'a', 250);
        memcpy(long_name + 250, "/b", 3);
        if ((r = tar_writer_add(w, "www", TAR_DIRECTORY, 0755, NULL, 0, NULL)) < 0 ||
            (r = tar_writer_add(w, "www/index.html", TAR_FILE, 0644, "hi\n", 3, NULL)) < 0 ||
            (r = tar_writer_add(w, "www/home.html", TAR_SYMLINK, 0777, NULL, 0, "index.html")) < 0 ||
            (r = tar_writer_add(w, long_name, TAR_FILE, 0600, "x", 1, NULL)) < 0)
                return r;
        return 0;
}

TEST(write_and_check) {
        _cleanup_(tar_writer_done) TarWriter w = {};
        _cleanup_(build_context_info_done) BuildContextInfo info = {};
        _cleanup_free_ char *error = NULL;

        ASSERT_INT(make(&w, add_tree), 0);
        ASSERT_INT(w.size % 512, 0);
        ASSERT_INT(build_context_check(w.data, w.size, &info, &error), 0);
        ASSERT_STR(info.manifest, manifest);
        ASSERT_INT(info.manifest_size, strlen(manifest));
        ASSERT_STR(info.containerfile, "Containerfile");
        ASSERT_INT(info.entries, 6);
        ASSERT_INT(info.bytes, strlen(manifest) + 7 + 3 + 1);
}

/* GNU tar lists what the writer wrote, long names included. */
TEST(gnu_tar_reads_it) {
        _cleanup_(tar_writer_done) TarWriter w = {};
        char path[] = "/tmp/test-build-context-XXXXXX", cmd[256], line[512];
        unsigned found = 0;
        FILE *f;
        int fd;

        if (access("/usr/bin/tar", X_OK) < 0)
                return;
        ASSERT_INT(make(&w, add_tree), 0);
        fd = mkstemp(path);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(write(fd, w.data, w.size) == (ssize_t) w.size);
        close(fd);
        snprintf(cmd, sizeof(cmd), "/usr/bin/tar -tf %s", path);
        f = popen(cmd, "r");
        ASSERT_TRUE(f);
        while (fgets(line, sizeof(line), f))
                found += strstr(line, "index.html") || strstr(line, "aaaa/b") || strstr(line, "manifest.yaml");
        ASSERT_INT(pclose(f), 0);
        unlink(path);
        ASSERT_INT(found, 3);
}

/* A stream GNU tar made (./ names, the top directory) is read as well. */
TEST(gnu_tar_stream_accepted) {
        char dir[] = "/tmp/test-build-context-XXXXXX", cmd[512];
        _cleanup_(build_context_info_done) BuildContextInfo info = {};
        _cleanup_free_ char *data = NULL, *error = NULL;
        size_t size = 0, n;
        FILE *f;

        if (access("/usr/bin/tar", X_OK) < 0)
                return;
        ASSERT_TRUE(mkdtemp(dir));
        snprintf(cmd, sizeof(cmd), "cd %s && mkdir .fleetd && printf 'app: x\\n' >.fleetd/manifest.yaml && "
                 "printf 'FROM x\\n' >Dockerfile && ln -s Dockerfile link && /usr/bin/tar -c --format=pax .", dir);
        f = popen(cmd, "r");
        ASSERT_TRUE(f);
        data = malloc(1 << 20);
        ASSERT_TRUE(data);
        while ((n = fread(data + size, 1, (1 << 20) - size, f)) > 0)
                size += n;
        ASSERT_INT(pclose(f), 0);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        ASSERT_INT(system(cmd), 0);
        if (build_context_check(data, size, &info, &error) < 0)
                fprintf(stderr, "  %s\n", strna(error));
        ASSERT_STR(info.containerfile, "Dockerfile");
        ASSERT_STR(info.manifest, "app: x\n");
}

TEST(writer_refuses) {
        _cleanup_(tar_writer_done) TarWriter w = { .max = 4096 };
        char big[4096] = {};

        ASSERT_INT(tar_writer_add(&w, "/etc/passwd", TAR_FILE, 0644, "x", 1, NULL), -EINVAL);
        ASSERT_INT(tar_writer_add(&w, "a/../b", TAR_FILE, 0644, "x", 1, NULL), -EINVAL);
        ASSERT_INT(tar_writer_add(&w, "a//b", TAR_FILE, 0644, "x", 1, NULL), -EINVAL);
        ASSERT_INT(tar_writer_add(&w, "l", TAR_SYMLINK, 0777, NULL, 0, "/etc"), -EINVAL);
        ASSERT_INT(tar_writer_add(&w, "l", TAR_SYMLINK, 0777, NULL, 0, "../x"), -EINVAL);
        ASSERT_INT(tar_writer_add(&w, "d", '3', 0644, NULL, 0, NULL), -EINVAL);
        ASSERT_INT(tar_writer_add(&w, "big", TAR_FILE, 0644, big, sizeof(big), NULL), -EFBIG);
        ASSERT_INT(tar_writer_add(&w, "small", TAR_FILE, 0644, big, 10, NULL), 0);
}

/* The checker's message for a stream made by make() with the header of the member at index
 * (from 0) changed by edit. */
static char *refused(unsigned index, void (*edit)(char *h)) {
        _cleanup_(tar_writer_done) TarWriter w = {};
        _cleanup_(build_context_info_done) BuildContextInfo info = {};
        char *error = NULL;
        size_t off = 0;

        if (make(&w, add_tree) < 0)
                return NULL;
        for (unsigned i = 0; i < index; i++) {
                unsigned long size = strtoul(w.data + off + 124, NULL, 8);
                off += 512 + (size + 511) / 512 * 512;
        }
        edit(w.data + off);
        /* the checksum again, so that only the edit is wrong */
        unsigned sum = 0;
        memset(w.data + off + 148, ' ', 8);
        for (size_t i = 0; i < 512; i++)
                sum += (unsigned char) w.data[off + i];
        snprintf(w.data + off + 148, 8, "%06o", sum);
        if (build_context_check(w.data, w.size, &info, &error) != -EBADMSG) {
                free(error);
                return strdup("(accepted)");
        }
        return error;
}

static void edit_absolute(char *h) { memcpy(h, "/etc/passwd", 12); }
static void edit_dotdot(char *h) { memcpy(h, "www/../../x", 12); }
static void edit_hardlink(char *h) { h[156] = '1'; }
static void edit_device(char *h) { h[156] = '3'; }
static void edit_gnu_long(char *h) { h[156] = 'L'; }
static void edit_link_abs(char *h) { memcpy(h + 157, "/etc/shadow", 12); }
static void edit_link_up(char *h) { memcpy(h + 157, "../../etc", 10); }

TEST(checker_refuses) {
        _cleanup_free_ char *a = refused(1, edit_absolute), *b = refused(3, edit_dotdot), *c = refused(3, edit_hardlink),
                            *d = refused(3, edit_device), *e = refused(3, edit_gnu_long), *f = refused(4, edit_link_abs),
                            *g = refused(4, edit_link_up);

        ASSERT_CONTAINS(a, "member 2 (/etc/passwd): an absolute name");
        ASSERT_CONTAINS(b, "a '..' component");
        ASSERT_CONTAINS(c, "a member of type '1'");
        ASSERT_CONTAINS(d, "a member of type '3'");
        ASSERT_CONTAINS(e, "a member of type 'L'");
        ASSERT_CONTAINS(f, "member 5 (www/home.html): a link to an absolute path");
        ASSERT_CONTAINS(g, "a link with a '..' component");
}

TEST(checker_refuses_streams) {
        _cleanup_(tar_writer_done) TarWriter w = {}, none = {}, nofile = {};
        _cleanup_(build_context_info_done) BuildContextInfo info = {};
        char *error = NULL;

        ASSERT_INT(make(&w, NULL), 0);
        w.data[600] ^= 1;   /* inside the manifest's data: still fine */
        ASSERT_INT(build_context_check(w.data, w.size, &info, &error), 0);
        build_context_info_done(&info);
        w.data[100] ^= 1;   /* the mode field of the first header: a bad checksum */
        ASSERT_INT(build_context_check(w.data, w.size, &info, &error), -EBADMSG);
        ASSERT_CONTAINS(error, "bad checksum");
        free(error);
        w.data[100] ^= 1;
        ASSERT_INT(build_context_check(w.data, 700, &info, &error), -EBADMSG);
        ASSERT_CONTAINS(error, "past the end");
        free(error);
        ASSERT_INT(build_context_check(w.data, w.size - 1024, &info, &error), -EBADMSG);
        ASSERT_CONTAINS(error, "ends inside a header");
        free(error);

        ASSERT_INT(tar_writer_add(&none, "Containerfile", TAR_FILE, 0644, "FROM x\n", 7, NULL), 0);
        ASSERT_INT(tar_writer_finish(&none), 0);
        ASSERT_INT(build_context_check(none.data, none.size, &info, &error), -EBADMSG);
        ASSERT_CONTAINS(error, "no manifest");
        free(error);
        ASSERT_INT(tar_writer_add(&nofile, BUILD_CONTEXT_MANIFEST, TAR_FILE, 0644, "x", 1, NULL), 0);
        ASSERT_INT(tar_writer_add(&nofile, "src/Containerfile", TAR_FILE, 0644, "x", 1, NULL), 0);
        ASSERT_INT(tar_writer_finish(&nofile), 0);
        ASSERT_INT(build_context_check(nofile.data, nofile.size, &info, &error), -EBADMSG);
        ASSERT_CONTAINS(error, "no Containerfile or Dockerfile");
        free(error);

        _cleanup_(tar_writer_done) TarWriter extra = {};
        ASSERT_INT(make(&extra, NULL), 0);
        extra.size -= 1024;
        ASSERT_INT(tar_writer_add(&extra, ".fleetd/other", TAR_FILE, 0644, "x", 1, NULL), 0);
        ASSERT_INT(tar_writer_finish(&extra), 0);
        ASSERT_INT(build_context_check(extra.data, extra.size, &info, &error), -EBADMSG);
        ASSERT_CONTAINS(error, "only the manifest may be under .fleetd/");
        free(error);
}

static const char ignore_text[] =
        "# comment\n"
        "\n"
        "  *.md  \n"
        "/build/\n"
        "**/*.o\n"
        "secret?\n"
        "docs\n"
        "!docs/keep.txt\n"
        "./tmp\n"
        "logs/**/debug.log\n";

TEST(ignore_rules) {
        _cleanup_(ignore_rules_done) IgnoreRules r = {};
        static const struct {
                const char *path;
                bool excluded;
        } cases[] = {
                { "README.md", true },       { "src/README.md", false },  { "build", true },
                { "build/x/y", true },       { "a.o", true },             { "src/lib/a.o", true },
                { "secret1", true },         { "secret12", false },       { "docs/a.txt", true },
                { "docs/keep.txt", false },  { "tmp/x", true },           { "logs/debug.log", true },
                { "logs/a/b/debug.log", true }, { "logs/info.log", false }, { "Containerfile", false },
                { "src/main.c", false },
        };

        ASSERT_INT(ignore_rules_parse(ignore_text, strlen(ignore_text), &r), 0);
        ASSERT_INT(r.n_rules, 8);
        ASSERT_TRUE(r.any_exception);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (ignore_rules_excluded(&r, cases[i].path) != cases[i].excluded) {
                        fprintf(stderr, "  %s: excluded should be %d\n", cases[i].path, cases[i].excluded);
                        test_failures++;
                }
        ASSERT_TRUE(!ignore_rules_prune(&r, "build"));   /* an exception could match below */
}

TEST(ignore_prune) {
        _cleanup_(ignore_rules_done) IgnoreRules r = {};
        static const char text[] = "node_modules\n.git\n";

        ASSERT_INT(ignore_rules_parse(text, strlen(text), &r), 0);
        ASSERT_TRUE(ignore_rules_prune(&r, "node_modules"));
        ASSERT_TRUE(ignore_rules_prune(&r, ".git"));
        ASSERT_TRUE(!ignore_rules_prune(&r, "src"));
        ASSERT_TRUE(!ignore_rules_excluded(&r, "src/node_modules.c"));
}

TEST(tags) {
        _cleanup_free_ char *a = build_tag("0123456789abcdef0123456789abcdef01234567", "20240101-120000-ab12");
        _cleanup_free_ char *b = build_tag(NULL, "20240101-120000-ab12");
        _cleanup_free_ char *c = build_tag("not-a-sha", "20240101-120000-ab12");

        ASSERT_STR(a, "0123456789ab");
        ASSERT_STR(b, "20240101-120000-ab12");
        ASSERT_STR(c, "20240101-120000-ab12");
}

TEST_MAIN(T(write_and_check), T(gnu_tar_reads_it), T(gnu_tar_stream_accepted), T(writer_refuses), T(checker_refuses),
          T(checker_refuses_streams), T(ignore_rules), T(ignore_prune), T(tags));
