/* SPDX-License-Identifier: Apache-2.0 */
/* POST and GET /v1/apps/<app>/builds (api-builds.h): a context checked and spooled, then
 * extract -> podman build -> podman push -> release, each a child on the loop whose lines are
 * streamed to the client as they come. */
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api-apps.h"
#include "api-builds.h"
#include "basic/fileio.h"
#include "basic/json-util.h"
#include "build-context.h"
#include "build-record.h"
#include "child.h"
#include "image-ref.h"
#include "image-tools.h"
#include "log.h"
#include "manager.h"
#include "manifest.h"
#include "unit-gen.h"

#define BUILDS_MAX      2u
#define TAIL_LINES      12u                      /* kept for the message of a failed step */
#define LINE_BYTES      4096u
#define OUTPUT_BYTES    ((size_t) 8 * 1024 * 1024) /* of one step's output; past it lines are dropped */
#define REVISION_MAX    64u

typedef enum BuildStep {
        STEP_EXTRACT,
        STEP_BUILD,
        STEP_PUSH,
        STEP_RELEASE,
} BuildStep;

typedef struct Build {
        Manager *m;
        ApiRequest *req;              /* NULL once the client is gone (the build goes on) */
        BuildRecord rec;
        Release manifest;
        char *containerfile;
        char *dir;                    /* the build's own directory under API_SPOOL_DIR */
        char *cause;                  /* "build <id>" */
        Child *child;
        BuildStep step;
        usec_t deadline;              /* CLOCK_MONOTONIC */
        char *tail[TAIL_LINES];       /* the last lines of the step that runs */
        unsigned tail_next;
        char *pending;                /* the last line, waiting for room in the answer */
} Build;

static Build *builds_running[BUILDS_MAX];

static char *mfree_str(char *p) {
        free(p);
        return NULL;
}

/* --- the build's life --- */

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) (flag == FTW_DP ? rmdir(path) : unlink(path));
        return 0;
}

static void tail_clear(Build *b) {
        for (unsigned i = 0; i < TAIL_LINES; i++) {
                free(b->tail[i]);
                b->tail[i] = NULL;
        }
        b->tail_next = 0;
}

static Build *build_free(Build *b) {
        if (!b)
                return NULL;
        for (unsigned i = 0; i < BUILDS_MAX; i++)
                if (builds_running[i] == b)
                        builds_running[i] = NULL;
        child_free(b->child);
        if (b->dir && nftw(b->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
                log_warning_errno(-errno, "Failed to remove the build directory %s: %m", b->dir);
        /* a build that ended answered whole; anything else is cut short */
        if (b->req)
                api_request_stream_end(b->req, b->rec.finished_usec > 0 && !b->pending ? 0 : -ECONNRESET);
        build_record_done(&b->rec);
        release_done(&b->manifest);
        tail_clear(b);
        free(b->containerfile);
        free(b->dir);
        free(b->cause);
        free(b->pending);
        free(b);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Build *, build_free);

static void on_record_written(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        if (error < 0)
                log_warning_errno(error, "Failed to write a build record: %m");
}

static char *builds_prefix(Manager *m, const char *app) {
        _cleanup_free_ char *sub = NULL;

        if (asprintf(&sub, "%s/", app) < 0)
                return NULL;
        return registry_key(m->config->etcd_key_prefix, "builds", sub, NULL);
}

/* builds/<app>/<id> as the record says now; a failure is logged, the build goes on. */
static void build_write_record(Build *b) {
        _cleanup_free_ char *prefix = builds_prefix(b->m, b->rec.app), *key = NULL, *value = NULL;
        json_auto_t *j = build_record_to_json(&b->rec);
        int r;

        if (!prefix || asprintf(&key, "%s%s", prefix, b->rec.id) < 0 || !j || !(value = jx_dumps(j)))
                return (void) log_oom();
        r = etcd_client_put(b->m->etcd, key, value, 0, on_record_written, NULL, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to write build record %s: %m", key);
}

/* Keeps the newest BUILD_RECORDS_KEPT records of the app (ids sort by time). */
static void on_records_listed(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        if (error < 0 || result->n_kvs <= BUILD_RECORDS_KEPT)
                return;
        for (size_t i = 0; i < result->n_kvs - BUILD_RECORDS_KEPT; i++) {
                int r = etcd_client_delete(c, result->kvs[i].key, NULL, on_record_written, NULL, NULL);
                if (r < 0)
                        log_warning_errno(r, "Failed to delete build record %s: %m", result->kvs[i].key);
        }
}

static void build_prune_records(Build *b) {
        _cleanup_free_ char *prefix = builds_prefix(b->m, b->rec.app), *end = prefix ? etcd_prefix_end(prefix) : NULL;

        if (!end)
                return;
        EtcdRangeArgs args = { .key = prefix, .range_end = end, .keys_only = true };
        (void) etcd_client_range(b->m->etcd, &args, on_records_listed, NULL, NULL);
}

/* One line of the answer. One that does not fit now is dropped (a log line, for a slow client),
 * or with keep waits in b->pending for room (the last line): -ENOBUFS. */
static int build_emit(Build *b, json_t *j, bool keep) {
        _cleanup_free_ char *text = j ? json_dumps(j, JSON_COMPACT) : NULL, *line = NULL;
        int r;

        if (!b->req)
                return 0;
        if (!text || asprintf(&line, "%s\n", text) < 0)
                return -ENOMEM;
        r = api_request_stream_write(b->req, line, strlen(line));
        if (r == -ECONNRESET) {
                api_request_stream_end(b->req, r);
                b->req = NULL;
                return 0;
        }
        if (r == -ENOBUFS && keep)
                b->pending = TAKE_PTR(line);
        return r;
}

/* The last line, the record, and the end: the build is over. */
static void build_finish(Build *b, json_t *app, const char *code, const char *message) {
        json_auto_t *last = NULL;

        b->rec.finished_usec = now_usec(CLOCK_REALTIME);
        last = json_pack("{s:o}", "build", build_record_to_json(&b->rec));
        if (!last)
                return (void) build_free(b);
        if (app)
                json_object_set(last, "app", app);
        else
                json_object_set_new(last, "error", json_pack("{s:s, s:s}", "code", code, "message", message));
        build_write_record(b);
        build_prune_records(b);
        if (b->rec.state == BUILD_SUCCEEDED)
                log_info("App %s: build %s pushed %s@%s, release v%u.", b->rec.app, b->rec.id, b->rec.image,
                         b->rec.digest, b->rec.release);
        else
                log_warning("App %s: build %s failed: %s", b->rec.app, b->rec.id, message);
        if (build_emit(b, last, true) == -ENOBUFS)
                return;       /* ended when there is room (on_request_event) */
        build_free(b);
}

_printf_(3, 4) static void build_fail(Build *b, const char *code, const char *fmt, ...) {
        _cleanup_free_ char *message = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&message, fmt, ap) < 0)
                message = NULL;
        va_end(ap);
        b->rec.state = BUILD_FAILED;
        free(b->rec.error);
        b->rec.error = strdup(message ?: "out of memory");
        build_finish(b, NULL, code, message ?: "out of memory");
}

static void on_request_event(ApiRequest *req, ApiRequestEvent event, void *userdata) {
        Build *b = userdata;

        if (event == API_REQUEST_CLOSED) {
                log_info("App %s: the client of build %s went away; the build goes on.", b->rec.app, b->rec.id);
                api_request_stream_end(b->req, -ECONNRESET);
                b->req = NULL;
        } else if (b->pending && api_request_stream_write(b->req, b->pending, strlen(b->pending)) == -ENOBUFS)
                return;
        b->pending = mfree_str(b->pending);
        if (b->rec.finished_usec > 0)
                build_free(b);
}

/* --- the steps --- */

static void build_log(Build *b, const char *line, size_t len) {
        json_auto_t *j = json_stringn(line, len);

        free(b->tail[b->tail_next]);
        b->tail[b->tail_next] = strndup(line, len);
        b->tail_next = (b->tail_next + 1) % TAIL_LINES;
        if (!j)
                j = json_string("(a line that is not UTF-8)");
        json_auto_t *o = json_pack("{s:O}", "log", j);
        (void) build_emit(b, o, false);     /* a log line may be lost to a slow client, not the end */
}

/* "what: the last lines" of the step that failed. */
static char *build_tail_text(Build *b) {
        _cleanup_free_ char *all = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&all, &size);
        char buf[1024];

        if (!f)
                return NULL;
        for (unsigned i = 0; i < TAIL_LINES; i++) {
                const char *l = b->tail[(b->tail_next + i) % TAIL_LINES];
                if (l)
                        fprintf(f, "%s\n", l);
        }
        if (fclose(f) != 0)
                return NULL;
        return strdup(image_tool_summary(strempty(all), size, buf, sizeof(buf)));
}

static void on_child_line(Child *c, const char *line, size_t len, bool cut, void *userdata) {
        build_log(userdata, line, len);
}

static void step_done(Child *c, const ChildResult *res, void *userdata);

static int build_run(Build *b, BuildStep step, char **argv) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        ChildOptions o = {
                .argv = argv,
                .timeout = b->deadline > now ? b->deadline - now : 1,
                .kill_timeout = 10 * USEC_PER_SEC,
                .max_line = LINE_BYTES,
                .max_bytes = OUTPUT_BYTES,
                .done = step_done,
                .on_line = on_child_line,
                .userdata = b,
        };

        b->child = child_free(b->child);
        b->step = step;
        tail_clear(b);
        return child_spawn(b->m->event, &o, &b->child);
}

static int step_extract(Build *b) {
        _cleanup_free_ char *tarball = NULL, *src = NULL;

        if (asprintf(&tarball, "%s/context.tar", b->dir) < 0 || asprintf(&src, "%s/src", b->dir) < 0)
                return -ENOMEM;
        char *argv[] = { (char *) IMAGE_TOOL_TAR, (char *) "-x", (char *) "--no-same-owner", (char *) "-f", tarball,
                         (char *) "-C", src, NULL };
        return build_run(b, STEP_EXTRACT, argv);
}

/* The manifest is not part of what podman builds. */
static int context_drop_manifest(Build *b) {
        _cleanup_free_ char *file = NULL, *dir = NULL;

        if (asprintf(&file, "%s/src/%s", b->dir, BUILD_CONTEXT_MANIFEST) < 0 ||
            asprintf(&dir, "%s/src/%s", b->dir, BUILD_CONTEXT_DIR) < 0)
                return -ENOMEM;
        if (unlink(file) < 0 || rmdir(dir) < 0)
                return -errno;
        return 0;
}

static int step_build(Build *b) {
        _cleanup_free_ char *file = NULL, *src = NULL, *tag = NULL;
        int r;

        r = context_drop_manifest(b);
        if (r < 0)
                return r;
        if (asprintf(&src, "%s/src", b->dir) < 0 || asprintf(&file, "--file=%s/src/%s", b->dir, b->containerfile) < 0 ||
            asprintf(&tag, "--tag=%s", b->rec.image) < 0)
                return -ENOMEM;
        char *argv[] = { (char *) IMAGE_TOOL_PODMAN, (char *) "build", (char *) "--pull=missing",
                         (char *) "--layers", (char *) "--force-rm", file, tag, src, NULL };
        build_log(b, "# podman build", strlen("# podman build"));
        return build_run(b, STEP_BUILD, argv);
}

static int step_push(Build *b) {
        _cleanup_free_ char *digestfile = NULL;

        if (asprintf(&digestfile, "--digestfile=%s/digest", b->dir) < 0)
                return -ENOMEM;
        char *argv[] = { (char *) IMAGE_TOOL_PODMAN, (char *) "push", (char *) "--authfile=" UNIT_GEN_AUTH_FILE,
                         digestfile, b->rec.image, NULL };
        build_log(b, "# podman push", strlen("# podman push"));
        return build_run(b, STEP_PUSH, argv);
}

static void on_deployed(unsigned status, const char *code, const char *message, json_t *answer, void *userdata) {
        Build *b = userdata;

        if (status / 100 != 2)
                return build_fail(b, code ?: "release_failed", "The image was pushed as %s@%s, but no release was "
                                  "made: %s", b->rec.image, b->rec.digest, message ?: "unknown error");
        b->rec.state = BUILD_SUCCEEDED;
        b->rec.release = (unsigned) jx_int64(answer, "release", 0);
        build_finish(b, answer, NULL, NULL);
}

/* The pushed digest and the manifest make the release. */
static int step_release(Build *b) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        if (asprintf(&path, "%s/digest", b->dir) < 0)
                return -ENOMEM;
        r = read_file_limit(path, 4096, &text, NULL);
        if (r < 0)
                return r;
        text[strcspn(text, " \t\r\n")] = '\0';
        if (!image_digest_is_valid(text))
                return -EBADMSG;
        b->rec.digest = TAKE_PTR(text);
        build_write_record(b);
        free(b->manifest.image);
        b->manifest.image = strdup(b->rec.image);
        b->manifest.digest = strdup(b->rec.digest);
        if (!b->manifest.image || !b->manifest.digest || asprintf(&b->cause, "build %s", b->rec.id) < 0)
                return -ENOMEM;
        b->step = STEP_RELEASE;
        return api_apps_deploy_release(b->m, &b->manifest, b->cause, on_deployed, b);
}

static const char *step_name(BuildStep s) {
        static const char * const names[] = {
                [STEP_EXTRACT] = "extracting the build context",
                [STEP_BUILD] = "podman build",
                [STEP_PUSH] = "podman push",
                [STEP_RELEASE] = "making the release",
        };
        return names[s];
}

static void step_done(Child *c, const ChildResult *res, void *userdata) {
        Build *b = userdata;
        char how[128];
        int r;

        if (!child_result_ok(res)) {
                _cleanup_free_ char *tail = build_tail_text(b);
                return build_fail(b, "build_failed", "%s %s%s%s", step_name(b->step),
                                  child_result_describe(res, how, sizeof(how)), isempty(tail) ? "" : ": ",
                                  strempty(tail));
        }
        r = b->step == STEP_EXTRACT ? step_build(b) : b->step == STEP_BUILD ? step_push(b) : step_release(b);
        if (r < 0)
                build_fail(b, "build_failed", "%s: %s", step_name(b->step == STEP_PUSH ? STEP_RELEASE : b->step + 1),
                           strerror(-r));
}

/* --- the request --- */

/* The spooled context, checked whole. Replies itself and returns -EINVAL when it is refused. */
static int context_check(ApiRequest *req, int fd, uint64_t size, BuildContextInfo *ret) {
        _cleanup_free_ char *error = NULL;
        void *p;
        int r;

        if (size == 0)
                return api_request_reply_error(req, 400, "bad_request", "The build context is empty."), -EINVAL;
        p = mmap(NULL, (size_t) size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        r = build_context_check(p, (size_t) size, ret, &error);
        (void) munmap(p, (size_t) size);
        if (r == -EBADMSG)
                return api_request_reply_error(req, 400, "bad_context", "The build context is refused: %s.", strna(error)),
                       -EINVAL;
        return r;
}

/* The manifest in the context; replies and returns -EINVAL when it is refused. */
static int build_read_manifest(Build *b, ApiRequest *req, const char *app, const BuildContextInfo *info) {
        _cleanup_free_ char *error = NULL;
        const char *file = api_request_query(req, "manifest") ?: "fleetd.yaml";
        int r;

        r = manifest_parse_build(info->manifest, info->manifest_size, file, &b->manifest, &error);
        if (r == -EINVAL)
                return api_request_reply_error(req, 400, "bad_manifest", "%s", strna(error)), -EINVAL;
        if (r < 0)
                return r;
        if (!streq(b->manifest.app, app))
                return api_request_reply_error(req, 400, "bad_request", "The manifest is for app '%s', not '%s'.",
                                               b->manifest.app, app), -EINVAL;
        if (b->manifest.runtime != RUNTIME_PODMAN && b->manifest.runtime != RUNTIME_DOCKER)
                return api_request_reply_error(req, 400, "bad_manifest", "%s: runtime %s runs no image; a build needs "
                                               "runtime podman or docker.", file,
                                               runtime_to_string(b->manifest.runtime)), -EINVAL;
        return 0;
}

/* Id, revision, where the image goes. Replies and returns -EINVAL for a bad repository. */
static int build_name(Build *b, ApiRequest *req, const char *app) {
        const char *revision = api_request_query(req, "revision");
        _cleanup_free_ char *repository = NULL, *tag = NULL;
        char id[BUILD_ID_LEN + 1];
        uint32_t rnd = 0;

        (void) getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK);
        b->rec.started_usec = now_usec(CLOCK_REALTIME);
        build_id_format(b->rec.started_usec, rnd, id);
        b->rec.id = strdup(id);
        b->rec.app = strdup(app);
        b->rec.machine = strdup(b->m->self.id);
        if (revision && strlen(revision) <= REVISION_MAX && strspn(revision, "0123456789abcdef") == strlen(revision))
                b->rec.revision = strdup(revision);
        repository = b->manifest.image ? strdup(b->manifest.image) : NULL;
        if (!repository && asprintf(&repository, "%s/%s", b->m->config->build_registry, app) < 0)
                return -ENOMEM;
        tag = build_tag(b->rec.revision, id);
        if (!b->rec.id || !b->rec.app || !b->rec.machine || !repository || !tag)
                return -ENOMEM;
        b->rec.image = image_ref_tagged(repository, tag);
        if (!b->rec.image)
                return api_request_reply_error(req, 400, "bad_manifest", "Cannot tag %s with %s.", repository, tag),
                       -EINVAL;
        return 0;
}

/* Its own directory, with the spooled context linked in (it is on the same file system). */
static int build_make_dir(Build *b, int fd) {
        _cleanup_free_ char *dir = strdup(API_SPOOL_DIR "/fleetd-build-XXXXXX"), *proc = NULL, *src = NULL,
                            *tarball = NULL;

        if (!dir || !mkdtemp(dir))
                return dir ? -errno : -ENOMEM;
        b->dir = TAKE_PTR(dir);
        if (asprintf(&proc, "/proc/self/fd/%d", fd) < 0 || asprintf(&src, "%s/src", b->dir) < 0 ||
            asprintf(&tarball, "%s/context.tar", b->dir) < 0)
                return -ENOMEM;
        if (linkat(AT_FDCWD, proc, AT_FDCWD, tarball, AT_SYMLINK_FOLLOW) < 0 || mkdir(src, 0700) < 0)
                return -errno;
        return 0;
}

/* 409 when this app builds here already, 503 past BUILDS_MAX. Else the free slot. */
static int builds_slot(ApiRequest *req, const char *app) {
        int slot = -1;

        for (unsigned i = 0; i < BUILDS_MAX; i++) {
                if (builds_running[i] && streq(builds_running[i]->rec.app, app))
                        return api_request_reply_error(req, 409, "conflict", "A build of app %s is under way on this "
                                                       "machine; wait for it to end.", app), -EINVAL;
                if (!builds_running[i] && slot < 0)
                        slot = (int) i;
        }
        if (slot < 0)
                return api_request_reply_error(req, 503, "busy", "This machine runs %u builds already; try again later.",
                                               BUILDS_MAX), -EINVAL;
        return slot;
}

static int build_prepare(Build *b, ApiRequest *req, const char *app) {
        _cleanup_(build_context_info_done) BuildContextInfo info = {};
        uint64_t size = 0;
        int fd, r;

        fd = api_request_body_fd(req, &size);
        if (fd < 0)
                return fd;
        if ((r = context_check(req, fd, size, &info)) < 0 || (r = build_read_manifest(b, req, app, &info)) < 0 ||
            (r = build_name(b, req, app)) < 0)
                return r;
        b->containerfile = TAKE_PTR(info.containerfile);
        return build_make_dir(b, fd);
}

int api_builds_start(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        const char *app = api_request_arg(req, 0);
        _cleanup_(build_freep) Build *b = NULL;
        int slot, r;

        if (!release_app_name_is_valid(app))
                return api_request_reply_error(req, 400, "bad_request", "Invalid app name '%s'.", app);
        if (!m->config->build_registry)
                return api_request_reply_error(req, 409, "no_builds", "This machine takes no builds: build_registry "
                                               "is not set in its fleetd.conf.");
        slot = builds_slot(req, app);
        if (slot < 0)
                return slot == -EINVAL ? 0 : slot;
        b = calloc(1, sizeof(Build));
        if (!b)
                return -ENOMEM;
        b->m = m;
        r = build_prepare(b, req, app);
        if (r == -EINVAL)
                return 0;     /* replied */
        if (r < 0)
                return r;

        b->deadline = now_usec(CLOCK_MONOTONIC) + m->config->build_timeout;
        r = api_request_stream_begin(req, 200, "application/x-ndjson");
        if (r < 0)
                return r;
        b->req = req;
        r = api_request_set_event_handler(req, on_request_event, b);
        if (r < 0)
                return r;
        builds_running[slot] = b;
        log_info("App %s: build %s of %s starts (%s).", app, b->rec.id, b->rec.image, b->containerfile);
        json_auto_t *first = json_pack("{s:o}", "build", build_record_to_json(&b->rec));
        (void) build_emit(b, first, false);
        build_write_record(b);
        r = step_extract(b);
        if (r < 0) {
                build_fail(TAKE_PTR(b), "build_failed", "%s: %s", step_name(STEP_EXTRACT), strerror(-r));
                return 0;
        }
        TAKE_PTR(b);
        return 0;
}

/* --- the list --- */

static void on_builds_listed(EtcdClient *c, int error, const EtcdResult *result, void *userdata) {
        ApiRequest *req = userdata;
        json_auto_t *list = json_array();

        if (error < 0)
                return (void) api_request_reply_etcd_error(req, error);
        for (size_t i = result->n_kvs; list && i > 0; i--) {
                _cleanup_(build_record_done) BuildRecord rec = {};
                json_auto_t *j = json_loads(result->kvs[i - 1].value, 0, NULL);
                if (build_record_from_json(j, &rec) >= 0)
                        json_array_append(list, j);
                else
                        log_warning("Ignoring malformed build record at %s.", result->kvs[i - 1].key);
        }
        json_auto_t *body = json_pack("{s:O}", "builds", list);
        api_request_reply_json(req, 200, body);
}

int api_builds_list(ApiRequest *req, void *userdata) {
        Manager *m = userdata;
        const char *app = api_request_arg(req, 0);
        _cleanup_free_ char *prefix = NULL, *end = NULL;

        if (!release_app_name_is_valid(app))
                return api_request_reply_error(req, 404, "not_found", "No app %s.", app);
        prefix = builds_prefix(m, app);
        end = prefix ? etcd_prefix_end(prefix) : NULL;
        if (!end)
                return -ENOMEM;
        EtcdRangeArgs args = { .key = prefix, .range_end = end };
        return etcd_client_range(m->etcd, &args, on_builds_listed, req, NULL);
}
