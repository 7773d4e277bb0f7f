/* SPDX-License-Identifier: Apache-2.0 */
/* deploy --build DIR: the directory as a build context (build-context.h: the manifest first,
 * then DIR's files less what .containerignore or .dockerignore leaves out), sent to fleetd,
 * which builds, pushes and releases it; its lines are printed as they come. builds APP: the
 * app's builds. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app-wait.h"
#include "basic/fileio.h"
#include "basic/json-util.h"
#include "build-context.h"
#include "fleetctl.h"
#include "time-format.h"
#include "unit-args.h"

#define WALK_DEPTH_MAX 64

typedef struct Walk {
        TarWriter tar;
        IgnoreRules ignore;
        int dirfd;
        const char *top;              /* DIR, for messages */
} Walk;

static void walk_done(Walk *w) {
        tar_writer_done(&w->tar);
        ignore_rules_done(&w->ignore);
        if (w->dirfd >= 0)
                close(w->dirfd);
}

static int walk_fail(const Walk *w, const char *rel, int r) {
        if (r == -EFBIG)
                fprintf(stderr, "fleetctl: %s: the build context is larger than %zu MiB or has more than %u "
                        "entries; leave files out with .containerignore.\n", w->top, BUILD_CONTEXT_SIZE_MAX >> 20,
                        BUILD_CONTEXT_ENTRIES_MAX);
        else if (r == -EINVAL)
                fprintf(stderr, "fleetctl: %s/%s: cannot be part of a build context (a link outside the directory, "
                        "or a name that is too long).\n", w->top, rel);
        else if (r != -ENOMEM)
                fprintf(stderr, "fleetctl: %s/%s: %s.\n", w->top, rel, strerror(-r));
        return r == -ENOMEM ? r : -EBADMSG;
}

static int walk_file(Walk *w, int dirfd, const char *name, const char *rel, const struct stat *st) {
        _cleanup_free_ char *data = NULL;
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        size_t got = 0;

        if (fd < 0)
                return walk_fail(w, rel, -errno);
        if ((uint64_t) st->st_size > BUILD_CONTEXT_SIZE_MAX)
                return walk_fail(w, rel, -EFBIG);
        data = malloc((size_t) st->st_size + 1);
        if (!data)
                return -ENOMEM;
        while (got < (size_t) st->st_size) {
                ssize_t n = read(fd, data + got, (size_t) st->st_size - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return walk_fail(w, rel, -errno);
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        int r = tar_writer_add(&w->tar, rel, TAR_FILE, st->st_mode, data, got, NULL);
        return r < 0 ? walk_fail(w, rel, r) : 0;
}

static int walk_dir(Walk *w, int dirfd, const char *prefix, unsigned depth);

static int walk_entry(Walk *w, int dirfd, const char *name, const char *prefix, unsigned depth) {
        _cleanup_free_ char *rel = NULL;
        struct stat st;
        int r;

        if (asprintf(&rel, "%s%s%s", prefix, *prefix ? "/" : "", name) < 0)
                return -ENOMEM;
        if (depth == 0 && streq(name, BUILD_CONTEXT_DIR))
                return 0;     /* fleetctl's own place in the stream */
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return walk_fail(w, rel, -errno);
        if (S_ISDIR(st.st_mode)) {
                if (ignore_rules_prune(&w->ignore, rel))
                        return 0;
                if (!ignore_rules_excluded(&w->ignore, rel) &&
                    (r = tar_writer_add(&w->tar, rel, TAR_DIRECTORY, st.st_mode, NULL, 0, NULL)) < 0)
                        return walk_fail(w, rel, r);
                _cleanup_close_ int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (sub < 0)
                        return walk_fail(w, rel, -errno);
                return walk_dir(w, sub, rel, depth + 1);
        }
        if (ignore_rules_excluded(&w->ignore, rel))
                return 0;
        if (S_ISREG(st.st_mode))
                return walk_file(w, dirfd, name, rel, &st);
        if (S_ISLNK(st.st_mode)) {
                char target[BUILD_CONTEXT_NAME_MAX + 1];
                ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
                if (n < 0)
                        return walk_fail(w, rel, -errno);
                target[n] = '\0';
                r = tar_writer_add(&w->tar, rel, TAR_SYMLINK, 0777, NULL, 0, target);
                return r < 0 ? walk_fail(w, rel, r) : 0;
        }
        fprintf(stderr, "fleetctl: %s/%s: not a file, directory or link; left out.\n", w->top, rel);
        return 0;
}

/* Names in order, so the same tree makes the same stream. */
static int walk_dir(Walk *w, int dirfd, const char *prefix, unsigned depth) {
        struct dirent **names = NULL;
        int n, r = 0;

        if (depth > WALK_DEPTH_MAX)
                return walk_fail(w, prefix, -ELOOP);
        n = scandirat(dirfd, ".", &names, NULL, alphasort);
        if (n < 0)
                return walk_fail(w, prefix, -errno);
        for (int i = 0; i < n; i++) {
                const char *name = names[i]->d_name;
                if (r >= 0 && !streq(name, ".") && !streq(name, ".."))
                        r = walk_entry(w, dirfd, name, prefix, depth);
                free(names[i]);
        }
        free(names);
        return r;
}

/* .containerignore, else .dockerignore (podman's order). */
static int walk_read_ignore(Walk *w) {
        static const char * const files[] = { ".containerignore", ".dockerignore" };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *text = NULL;
                _cleanup_close_ int fd = openat(w->dirfd, files[i], O_RDONLY | O_CLOEXEC);
                struct stat st;
                size_t len = 0;

                if (fd < 0)
                        continue;
                if (fstat(fd, &st) < 0 || st.st_size > 1024 * 1024)
                        return walk_fail(w, files[i], fd < 0 ? -errno : -EFBIG);
                text = malloc((size_t) st.st_size + 1);
                if (!text)
                        return -ENOMEM;
                ssize_t n = read(fd, text, (size_t) st.st_size);
                if (n < 0)
                        return walk_fail(w, files[i], -errno);
                len = (size_t) n;
                return ignore_rules_parse(text, len, &w->ignore);
        }
        return 0;
}

/* The stream: the manifest, then DIR. */
static int build_context_make(const char *dir, const char *manifest, size_t manifest_size, Walk *w) {
        int r;

        w->top = dir;
        w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (w->dirfd < 0) {
                fprintf(stderr, "fleetctl: %s: %s.\n", dir, strerror(errno));
                return -EBADMSG;
        }
        if (faccessat(w->dirfd, "Containerfile", F_OK, 0) < 0 && faccessat(w->dirfd, "Dockerfile", F_OK, 0) < 0) {
                fprintf(stderr, "fleetctl: %s: has no Containerfile or Dockerfile.\n", dir);
                return -EBADMSG;
        }
        r = walk_read_ignore(w);
        if (r < 0)
                return r;
        r = tar_writer_add(&w->tar, BUILD_CONTEXT_MANIFEST, TAR_FILE, 0644, manifest, manifest_size, NULL);
        if (r < 0)
                return walk_fail(w, BUILD_CONTEXT_MANIFEST, r);
        r = walk_dir(w, w->dirfd, "", 0);
        if (r < 0)
                return r;
        r = tar_writer_finish(&w->tar);
        return r < 0 ? walk_fail(w, "", r) : 0;
}

/* The commit DIR's git checkout is at (.git/HEAD, a branch's ref file or packed-refs), or NULL. */
static char *git_revision(const char *dir) {
        _cleanup_free_ char *head = NULL, *path = NULL, *ref = NULL, *packed = NULL;
        char *nl;

        if (asprintf(&path, "%s/.git/HEAD", dir) < 0 || read_file_limit(path, 4096, &head, NULL) < 0)
                return NULL;
        head[strcspn(head, "\r\n")] = '\0';
        const char *name = startswith(head, "ref: ");
        if (!name)
                return strlen(head) == 40 ? TAKE_PTR(head) : NULL;
        free(path);
        if (asprintf(&path, "%s/.git/%s", dir, name) < 0)
                return NULL;
        if (read_file_limit(path, 4096, &ref, NULL) >= 0) {
                ref[strcspn(ref, "\r\n")] = '\0';
                return strlen(ref) == 40 ? TAKE_PTR(ref) : NULL;
        }
        free(path);
        if (asprintf(&path, "%s/.git/packed-refs", dir) < 0 || read_file_limit(path, 4 << 20, &packed, NULL) < 0)
                return NULL;
        for (char *line = packed; line && *line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                if (strlen(line) > 41 && line[40] == ' ' && streq(line + 41, name))
                        return strndup(line, 40);
        }
        return NULL;
}

typedef struct BuildFollow {
        json_t *last;                 /* the last line that carried "app" or "error" */
        char *id;
} BuildFollow;

static int on_build_line(const char *line, size_t len, void *userdata) {
        BuildFollow *f = userdata;
        json_auto_t *j = json_loadb(line, len, 0, NULL);
        const char *log = jx_str(j, "log");

        if (!j) {
                printf("%.*s\n", (int) len, line);
        } else if (log)
                printf("%s\n", log);
        else if (json_object_get(j, "app") || json_object_get(j, "error")) {
                json_decref(f->last);
                f->last = TAKE_PTR(j);
        } else if (!f->id && jx_str(json_object_get(j, "build"), "id")) {
                f->id = strdup(jx_str(json_object_get(j, "build"), "id"));
                printf("Build %s of %s started on %.12s.\n", strna(f->id),
                       strna(jx_str(json_object_get(j, "build"), "image")),
                       strna(jx_str(json_object_get(j, "build"), "machine")));
        }
        return fflush(stdout) == 0 ? 0 : -EPIPE;
}

/* "/v1/apps/<app>/builds?manifest=<base name>[&revision=<sha>]". */
static char *builds_path(Client *c, const char *app, const char *file, const char *revision) {
        const char *base = strrchr(file, '/');
        _cleanup_free_ char *escaped = client_escape(c, base ? base + 1 : file), *suffix = NULL;

        if (!escaped || asprintf(&suffix, "/builds?manifest=%s%s%s", escaped, revision ? "&revision=" : "",
                                 strempty(revision)) < 0)
                return NULL;
        return app_path(c, app, suffix);
}

int deploy_build(Client *c, const char *dir, const char *file, const char *app, const char *manifest,
                 size_t manifest_size) {
        _cleanup_(walk_done) Walk w = { .dirfd = -EBADF };
        _cleanup_free_ char *path = NULL, *revision = git_revision(dir);
        BuildFollow f = {};
        int r;

        r = build_context_make(dir, manifest, manifest_size, &w);
        if (r < 0)
                return r;
        path = builds_path(c, app, file, revision);
        if (!path)
                return -ENOMEM;
        fprintf(stderr, "Sending %s (%zu KiB, %u entries) to fleetd at %s.\n", dir, (w.tar.size + 1023) / 1024,
                w.tar.entries, client_endpoint(c));
        r = client_post_lines(c, path, "application/x-tar", w.tar.data, w.tar.size, on_build_line, &f);
        if (r >= 0 && !f.last) {
                fprintf(stderr, "fleetctl: the build's answer ended before its result (see fleetctl builds %s).\n", app);
                r = -EIO;
        }
        if (r >= 0 && json_object_get(f.last, "error")) {
                fprintf(stderr, "fleetctl: build %s of %s failed: %s\n", strna(f.id), app,
                        strna(jx_str(json_object_get(f.last, "error"), "message")));
                r = -EIO;
        }
        if (r >= 0) {
                const json_t *b = json_object_get(f.last, "build"), *answer = json_object_get(f.last, "app");
                printf("Built %s@%s (build %s).\n", strna(jx_str(b, "image")), strna(jx_str(b, "digest")), strna(f.id));
                if (jx_bool(answer, "newRelease", false))
                        printf("%s: %s\n", app, strna(jx_str(json_object_get(answer, "rollout"), "message")));
                else
                        printf("No change: %s is already at v%lld\n", app, (long long) jx_int64(answer, "release", 0));
                r = fflush(stdout) == 0 ? app_wait(c, app, answer) : -EIO;
        }
        json_decref(f.last);
        free(f.id);
        return r;
}

/* --- builds APP --- */

static int builds_add(Table *t, const json_t *b, void *userdata) {
        _cleanup_free_ char *release = NULL, *took = NULL;
        int64_t started = jx_int64(b, "started_usec", 0), finished = jx_int64(b, "finished_usec", 0);
        const char *digest = jx_str(b, "digest");
        char ago[64] = "", dig[20] = "";

        if (started > 0)
                format_relative(ago, sizeof(ago), (usec_t) started, *(const usec_t *) userdata);
        if (jx_int64(b, "release", 0) > 0 && asprintf(&release, "v%lld", (long long) jx_int64(b, "release", 0)) < 0)
                return (release = NULL), -ENOMEM;
        if (finished > started && asprintf(&took, "%llds", (long long) ((finished - started + 500000) / 1000000)) < 0)
                return (took = NULL), -ENOMEM;
        if (digest)
                snprintf(dig, sizeof(dig), "%.19s", digest);
        return table_add_row(t, jx_str(b, "id"), jx_str(b, "state"), ago, took, release, jx_str(b, "image"),
                             digest ? dig : NULL, jx_str(b, "error"));
}

int verb_builds(Client *c, int argc, char **argv) {
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_free_ char *path = app_path(c, argv[0], "/builds");
        json_auto_t *answer = NULL;
        usec_t now = now_usec(CLOCK_REALTIME);
        json_t *builds;
        int r;

        if (!path)
                return -ENOMEM;
        r = api_get_list(c, path, "builds", &answer, &builds);
        if (r >= 0)
                r = table_new(&t, "BUILD", "STATE", "STARTED", "TOOK", "RELEASE", "IMAGE", "DIGEST", "ERROR");
        if (r < 0)
                return r;
        return print_list(builds, t, builds, builds_add, &now);
}
