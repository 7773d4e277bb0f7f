/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "child.h"
#include "image-ref.h"
#include "image-tools.h"
#include "log.h"
#include "unit-gen.h"

#define RESOLVE_TIMEOUT (60 * USEC_PER_SEC)

int image_auth_file_ensure(void) {
        _cleanup_free_ char *dir = strdup(UNIT_GEN_AUTH_FILE);
        char *slash;

        if (access(UNIT_GEN_AUTH_FILE, F_OK) >= 0)
                return 0;
        if (errno != ENOENT)
                return -errno;
        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        *slash = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        return write_file_atomic(UNIT_GEN_AUTH_FILE, "{\"auths\": {}}\n", strlen("{\"auths\": {}}\n"), 0600);
}

char *image_tool_summary(const char *output, size_t len, char *buf, size_t size) {
        const char *starts[3] = {}, *ends[3] = {};
        const char *end = output + len;
        size_t n = 0, o = 0;

        /* the last three lines with something on them, from the end back */
        while (end > output && n < 3) {
                const char *e = end, *s;
                while (e > output && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                        e--;
                s = e;
                while (s > output && s[-1] != '\n')
                        s--;
                if (e > s) {
                        starts[n] = s;
                        ends[n] = e;
                        n++;
                }
                end = s;
        }
        buf[0] = '\0';
        for (size_t i = n; i > 0 && o + 1 < size; i--) {
                int w = snprintf(buf + o, size - o, "%s%.*s", i == n ? "" : " / ", (int) (ends[i - 1] - starts[i - 1]),
                                 starts[i - 1]);
                if (w < 0)
                        break;
                o = MIN(o + (size_t) w, size - 1);
        }
        return buf;
}

struct ImageResolve {
        Child *child;
        image_resolve_done_t done;
        void *userdata;
};

ImageResolve *image_resolve_free(ImageResolve *ir) {
        if (!ir)
                return NULL;
        child_free(ir->child);
        free(ir);
        return NULL;
}

static void on_resolved(Child *c, const ChildResult *res, void *userdata) {
        ImageResolve *ir = userdata;
        char digest[IMAGE_DIGEST_LEN + 1] = "", why[512], how[128];
        size_t n = strcspn(res->output, "\r\n");

        if (child_result_ok(res) && n == IMAGE_DIGEST_LEN) {
                memcpy(digest, res->output, n);
                if (image_digest_is_valid(digest))
                        return ir->done(ir, digest, NULL, ir->userdata);
        }
        image_tool_summary(res->output, res->output_len, why, sizeof(why));
        if (isempty(why))
                snprintf(why, sizeof(why), "skopeo %s", child_result_describe(res, how, sizeof(how)));
        ir->done(ir, NULL, why, ir->userdata);
}

int image_resolve_digest(sd_event *e, const char *image, image_resolve_done_t done, void *userdata,
                         ImageResolve **ret) {
        _cleanup_(image_resolve_freep) ImageResolve *ir = calloc(1, sizeof(ImageResolve));
        _cleanup_free_ char *ref = NULL;
        int r;

        if (!ir)
                return -ENOMEM;
        if (asprintf(&ref, "docker://%s", image) < 0)
                return -ENOMEM;
        char *argv[] = { (char *) IMAGE_TOOL_SKOPEO, (char *) "inspect", (char *) "--no-tags",
                         (char *) "--authfile=" UNIT_GEN_AUTH_FILE, (char *) "--format={{.Digest}}", ref, NULL };
        ChildOptions o = {
                .argv = argv,
                .timeout = RESOLVE_TIMEOUT,
                .kill_timeout = 2 * USEC_PER_SEC,
                .max_lines = 40,
                .max_line = 1024,
                .max_bytes = 16 * 1024,
                .done = on_resolved,
                .userdata = ir,
        };
        ir->done = done;
        ir->userdata = userdata;
        r = child_spawn(e, &o, &ir->child);
        if (r < 0)
                return r;
        log_debug("Asking the registry for the digest of %s.", image);
        *ret = TAKE_PTR(ir);
        return 0;
}
