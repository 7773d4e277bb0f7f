/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-file reads and writes (src/basic/fileio.h): read_file_limit()'s bound; write_file_atomic()
 * writes, replaces (a reader that has the old file open keeps it; a symbolic link is replaced,
 * not followed), sets the mode exactly, and leaves no temp file behind when it fails: the
 * directory is missing, the rename fails, a write stops short (RLIMIT_FSIZE), the file system is
 * full or read-only (a small tmpfs in a mount namespace of the test's own, when it may make one). */
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "basic/fileio.h"
#include "../tests.h"

static char dir[] = "/tmp/test-fileio-XXXXXX";

static char *path_in(const char *sub, const char *name) {
        char *p = NULL;

        return asprintf(&p, "%s/%s%s%s", dir, strempty(sub), sub ? "/" : "", name) < 0 ? NULL : p;
}

/* The names in directory d but "." and "..", as one sorted, blank-separated string. */
static char *list(const char *d) {
        struct dirent **entries = NULL;
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        int n = scandir(d, &entries, NULL, alphasort);
        bool first = true;

        for (int i = 0; i < n; i++) {
                if (!streq(entries[i]->d_name, ".") && !streq(entries[i]->d_name, "..")) {
                        fprintf(f, "%s%s", first ? "" : " ", entries[i]->d_name);
                        first = false;
                }
                free(entries[i]);
        }
        free(entries);
        fclose(f);
        return text;
}

static int put(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        if (!f)
                return -errno;
        fputs(text, f);
        return fclose(f) == 0 ? 0 : -errno;
}

static char *get(const char *path) {
        char *text = NULL;

        return read_file_limit(path, 1 << 20, &text, NULL) < 0 ? NULL : text;
}

static mode_t mode_of(const char *path) {
        struct stat st;

        return stat(path, &st) < 0 ? (mode_t) -1 : st.st_mode & 07777;
}

TEST(read_limit) {
        _cleanup_free_ char *path = path_in(NULL, "read"), *text = NULL, *none = NULL;
        size_t len = 0;

        ASSERT_INT(put(path, ""), 0);
        ASSERT_INT(read_file_limit(path, 0, &text, &len), 0);
        ASSERT_STR(text, "");
        ASSERT_INT(len, 0);
        free(text);
        ASSERT_INT(put(path, "12345"), 0);
        ASSERT_INT(read_file_limit(path, 5, &text, &len), 0);      /* exactly the limit */
        ASSERT_STR(text, "12345");
        ASSERT_INT(len, 5);
        ASSERT_INT(read_file_limit(path, 4, &none, NULL), -EFBIG);
        ASSERT_TRUE(!none);
        ASSERT_INT(read_file_limit("/nonexistent/file", 4, &none, NULL), -ENOENT);
        ASSERT_INT(unlink(path), 0);
}

TEST(writes_and_replaces) {
        _cleanup_free_ char *path = path_in(NULL, "file"), *text = NULL, *old = NULL, *names = NULL;
        char buf[16] = {};
        struct stat before, after;

        ASSERT_INT(write_file_atomic(path, "one\n", 4, 0644), 0);
        text = get(path);
        ASSERT_STR(text, "one\n");
        ASSERT_INT(mode_of(path), 0644);

        /* a reader of the old file keeps reading it: a new inode replaced it */
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_INT(fstat(fd, &before), 0);
        ASSERT_INT(write_file_atomic(path, "two, longer\n", 12, 0600), 0);
        ASSERT_INT(read(fd, buf, sizeof(buf) - 1), 4);
        close(fd);
        ASSERT_STR(buf, "one\n");
        ASSERT_INT(stat(path, &after), 0);
        ASSERT_TRUE(before.st_ino != after.st_ino);
        free(text);
        text = get(path);
        ASSERT_STR(text, "two, longer\n");
        ASSERT_INT(mode_of(path), 0600);

        /* the mode is exact, whatever the umask; nothing but the file is left */
        mode_t saved = umask(077);
        ASSERT_INT(write_file_atomic(path, "", 0, 0664), 0);
        umask(saved);
        ASSERT_INT(mode_of(path), 0664);
        free(text);
        text = get(path);
        ASSERT_STR(text, "");
        names = list(dir);
        ASSERT_STR(names, "file");
        ASSERT_INT(unlink(path), 0);
}

/* A link at the target is replaced by the file; what it pointed to stays as it was. */
TEST(replaces_link) {
        _cleanup_free_ char *path = path_in(NULL, "link"), *target = path_in(NULL, "target"), *text = NULL;
        struct stat st;

        ASSERT_INT(put(target, "target\n"), 0);
        ASSERT_INT(symlink(target, path), 0);
        ASSERT_INT(write_file_atomic(path, "new\n", 4, 0644), 0);
        ASSERT_INT(lstat(path, &st), 0);
        ASSERT_TRUE(S_ISREG(st.st_mode));
        text = get(target);
        ASSERT_STR(text, "target\n");
        ASSERT_INT(unlink(path), 0);
        ASSERT_INT(unlink(target), 0);
}

/* The two halves, as the router uses them (nginx -t checks the temp file in between). */
TEST(temp_then_commit) {
        _cleanup_free_ char *path = path_in(NULL, "nginx.conf"), *temp = NULL, *pattern = NULL, *text = NULL;
        _cleanup_free_ char *subdir = path_in(NULL, "sub"), *names = NULL, *other = path_in(NULL, ".#nginx.conf.old");
        glob_t g = {};

        ASSERT_INT(write_file_temp(path, "conf\n", 5, 0644, &temp), 0);
        ASSERT_TRUE(startswith(temp, dir));
        ASSERT_TRUE(strstr(temp, "/.#nginx.conf"));
        ASSERT_INT(access(path, F_OK), -1);
        text = get(temp);
        ASSERT_STR(text, "conf\n");
        ASSERT_INT(mode_of(temp), 0644);

        /* the pattern for leftovers finds it, and only it */
        pattern = write_file_temp_pattern(path);
        ASSERT_TRUE(pattern);
        ASSERT_INT(put(other, ""), 0);
        ASSERT_INT(glob(pattern, 0, NULL, &g), 0);
        ASSERT_INT(g.gl_pathc, 1);
        ASSERT_STR(g.gl_pathv[0], temp);
        globfree(&g);
        ASSERT_INT(unlink(other), 0);

        /* a rename that fails leaves the temp file to the caller */
        ASSERT_INT(mkdir(subdir, 0755), 0);
        ASSERT_INT(write_file_commit(temp, subdir), -EISDIR);
        ASSERT_INT(access(temp, F_OK), 0);
        ASSERT_INT(write_file_commit(temp, path), 0);
        ASSERT_INT(access(temp, F_OK), -1);
        free(text);
        text = get(path);
        ASSERT_STR(text, "conf\n");
        ASSERT_INT(rmdir(subdir), 0);
        names = list(dir);
        ASSERT_STR(names, "nginx.conf");
        ASSERT_INT(unlink(path), 0);

        /* a bare name is in the working directory; a path ending in / is no file */
        char *none = NULL;
        ASSERT_INT(write_file_temp("/tmp/", "", 0, 0644, &none), -EINVAL);
        ASSERT_TRUE(!none);
}

TEST(relative_name) {
        _cleanup_free_ char *text = NULL, *names = NULL;
        int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        ASSERT_TRUE(cwd >= 0);
        ASSERT_INT(chdir(dir), 0);
        int r = write_file_atomic("bare", "bare\n", 5, 0644);
        text = get("bare");
        (void) unlink("bare");
        ASSERT_INT(fchdir(cwd), 0);
        close(cwd);
        ASSERT_INT(r, 0);
        ASSERT_STR(text, "bare\n");
        names = list(dir);
        ASSERT_STR(names, "");
}

/* Failures: the old file stays, and so does nothing else. */
TEST(failures_leave_nothing) {
        _cleanup_free_ char *path = path_in(NULL, "kept"), *subdir = path_in(NULL, "kept.d"), *text = NULL;
        _cleanup_free_ char *names = NULL, *sub_names = NULL, *missing = path_in("missing", "file");

        ASSERT_INT(put(path, "old\n"), 0);
        /* no such directory */
        ASSERT_INT(write_file_atomic(missing, "x", 1, 0644), -ENOENT);
        /* the rename fails (a directory is in the way): the temp file goes again */
        ASSERT_INT(mkdir(subdir, 0755), 0);
        ASSERT_INT(write_file_atomic(subdir, "x", 1, 0644), -EISDIR);
        names = list(dir);
        ASSERT_STR(names, "kept kept.d");
        sub_names = list(subdir);
        ASSERT_STR(sub_names, "");
        ASSERT_INT(rmdir(subdir), 0);

        /* a write that stops short, then fails: more than RLIMIT_FSIZE allows */
        struct rlimit saved, small = { .rlim_cur = 10000, .rlim_max = RLIM_INFINITY };
        size_t n = 50000;
        _cleanup_free_ char *big = malloc(n);
        ASSERT_TRUE(big);
        memset(big, 'b', n);
        ASSERT_INT(getrlimit(RLIMIT_FSIZE, &saved), 0);
        small.rlim_max = saved.rlim_max;
        signal(SIGXFSZ, SIG_IGN);
        ASSERT_INT(setrlimit(RLIMIT_FSIZE, &small), 0);
        int r = write_file_atomic(path, big, n, 0644);
        ASSERT_INT(setrlimit(RLIMIT_FSIZE, &saved), 0);
        signal(SIGXFSZ, SIG_DFL);
        ASSERT_INT(r, -EFBIG);
        /* and within the limit, many bytes in one call */
        ASSERT_INT(write_file_atomic(path, big, 9000, 0644), 0);
        text = get(path);
        ASSERT_TRUE(text && strlen(text) == 9000);
        free(names);
        names = list(dir);
        ASSERT_STR(names, "kept");

        /* not writable (as root, permissions do not stop us: only when run as another user) */
        if (geteuid() != 0) {
                ASSERT_INT(chmod(dir, 0555), 0);
                r = write_file_atomic(path, "x", 1, 0644);
                ASSERT_INT(chmod(dir, 0700), 0);
                ASSERT_INT(r, -EACCES);
        }
        ASSERT_INT(unlink(path), 0);
}

/* A full file system and a read-only one, on tmpfs mounts that only this process sees. */
TEST(full_and_read_only) {
        _cleanup_free_ char *small = path_in(NULL, "small"), *ro = path_in(NULL, "ro"), *path = NULL;
        _cleanup_free_ char *names = NULL, *text = NULL, *big = NULL;
        size_t n = 1 << 20;

        if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) {
                printf("(no mount namespace: %s; skipping the tmpfs cases)\n", strerror(errno));
                return;
        }
        ASSERT_INT(mkdir(small, 0755), 0);
        ASSERT_INT(mkdir(ro, 0755), 0);
        ASSERT_INT(mount("tmpfs", small, "tmpfs", 0, "size=64k"), 0);
        ASSERT_INT(mount("tmpfs", ro, "tmpfs", MS_RDONLY, NULL), 0);

        ASSERT_TRUE(asprintf(&path, "%s/file", small) > 0);
        ASSERT_INT(write_file_atomic(path, "old\n", 4, 0644), 0);
        big = malloc(n);
        ASSERT_TRUE(big);
        memset(big, 'x', n);
        ASSERT_INT(write_file_atomic(path, big, n, 0644), -ENOSPC);
        names = list(small);
        ASSERT_STR(names, "file");
        text = get(path);
        ASSERT_STR(text, "old\n");
        free(path);
        ASSERT_TRUE(asprintf(&path, "%s/file", ro) > 0);
        ASSERT_INT(write_file_atomic(path, "x", 1, 0644), -EROFS);

        ASSERT_INT(umount(small), 0);
        ASSERT_INT(umount(ro), 0);
        ASSERT_INT(rmdir(small), 0);
        ASSERT_INT(rmdir(ro), 0);
}

TEST(begin) {
        if (!mkdtemp(dir))
                abort();
}

TEST(end) {
        _cleanup_free_ char *names = list(dir);

        ASSERT_STR(names, "");
        ASSERT_INT(rmdir(dir), 0);
}

TEST_MAIN(T(begin), T(read_limit), T(writes_and_replaces), T(replaces_link), T(temp_then_commit), T(relative_name),
          T(failures_leave_nothing), T(full_and_read_only), T(end));
