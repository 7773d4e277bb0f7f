/* SPDX-License-Identifier: Apache-2.0 */
/* deploy -f FILE: sends an app manifest (with --build DIR, verb-build.c builds DIR first) (YAML, docs/manifest.md) to fleetd, which checks it,
 * makes a new release if it changes what runs, and rolls the app's instances over to it; then
 * follows the rollout (app-wait.h). fleetd does every check of the manifest, and its message
 * ("hello.yaml:7:14: processes.web.scale: ...") is what the user sees; here only the size is
 * checked and the app's name found, for the URL. */
#include <fcntl.h>
#include <stdio.h>

#include "app-wait.h"
#include "basic/json-util.h"
#include "fleetctl.h"

/* As fleetd's MANIFEST_SIZE_MAX (src/shared/manifest.h). */
#define DEPLOY_MANIFEST_MAX ((size_t) 256 * 1024)

static const char *arg_file = NULL;
static const char *arg_app = NULL;
static const char *arg_build = NULL;

static const Option option_file = {
        "file", 'f', OPTION_STRING, &arg_file, "FILE", "The app's manifest (or give FILE as the argument)"
};
static const Option option_app = {
        "app", 'a', OPTION_STRING, &arg_app, "NAME", "Deploy to app NAME (default: the manifest's app: key)"
};

static const Option option_build = {
        "build", 'b', OPTION_STRING, &arg_build, "DIR",
        "Build DIR's Containerfile on fleetd, push it and deploy the image (manifest: DIR/fleetd.yaml or -f)"
};

OptionList deploy_options = { &option_file, &option_app, &option_build, APP_WAIT_OPTIONS, NULL };

/* Reads the manifest at path, at most DEPLOY_MANIFEST_MAX bytes. Prints what is wrong and
 * returns -EBADMSG, or -ENOMEM; 0 with the text (NUL-terminated) on success. */
static int manifest_read(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        ssize_t n;

        if (fd < 0) {
                fprintf(stderr, "fleetctl: %s: %s.\n", path, strerror(errno));
                return -EBADMSG;
        }
        text = malloc(DEPLOY_MANIFEST_MAX + 2);
        if (!text)
                return -ENOMEM;
        /* One byte more than allowed tells a file at the limit from a larger one. */
        while (size <= DEPLOY_MANIFEST_MAX) {
                n = read(fd, text + size, DEPLOY_MANIFEST_MAX + 1 - size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        fprintf(stderr, "fleetctl: %s: %s.\n", path, strerror(errno));
                        return -EBADMSG;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        if (size > DEPLOY_MANIFEST_MAX) {
                fprintf(stderr, "fleetctl: %s: larger than %zu KiB, the most a manifest may hold.\n", path,
                        DEPLOY_MANIFEST_MAX / 1024);
                return -EBADMSG;
        }
        text[size] = '\0';
        *ret = TAKE_PTR(text);
        *ret_size = size;
        return 0;
}

/* The value of a top-level "app: NAME" line, from p to the end of the line: plain (up to a
 * comment), or quoted without escapes. *ret is NULL for anything else or nothing. Returns 0 or
 * -ENOMEM. */
static int scalar_dup(const char *p, const char *end, char **ret) {
        const char *close;

        *ret = NULL;
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        if (p < end && (*p == '"' || *p == '\'')) {
                close = memchr(p + 1, *p, (size_t) (end - p - 1));
                if (!close || memchr(p + 1, '\\', (size_t) (close - p - 1)))
                        return 0;
                end = close;
                p++;
        } else {
                for (const char *c = p; c < end; c++)
                        if (*c == '#' && (c[-1] == ' ' || c[-1] == '\t')) {
                                end = c;
                                break;
                        }
                while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                        end--;
        }
        if (p == end)
                return 0;
        *ret = strndup(p, (size_t) (end - p));
        return *ret ? 0 : -ENOMEM;
}

/* Where the value of the key "app" (or "'app'", "\"app\"") starts, if line is that key of the
 * top-level mapping; NULL otherwise. */
static const char *app_key_value(const char *line, const char *end) {
        const char *p = line;
        char quote = 0;

        if (*p == '"' || *p == '\'')
                quote = *p++;
        if (end - p < 3 || memcmp(p, "app", 3) != 0)
                return NULL;
        p += 3;
        if (quote && (p >= end || *p++ != quote))
                return NULL;
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        if (p >= end || *p != ':')
                return NULL;
        p++;
        return p == end || *p == ' ' || *p == '\t' || *p == '\r' ? p : NULL;
}

/* The app's name in a manifest, found the simple way: the first top-level "app:" line of a
 * block mapping, or the "app" member of a manifest written as JSON (which is YAML too). *ret
 * is NULL if there is none (or an empty one). Returns 0 or -ENOMEM. */
static int manifest_app_name(const char *text, size_t size, char **ret) {
        const char *line = text, *end = text + size;

        *ret = NULL;
        while (line < end) {
                const char *eol = memchr(line, '\n', (size_t) (end - line)) ?: end, *value;

                if (*line == '{') {
                        json_auto_t *j = json_loadb(line, (size_t) (end - line), JSON_DISABLE_EOF_CHECK, NULL);
                        const char *name = jx_str(j, "app");
                        if (name && !(*ret = strdup(name)))
                                return -ENOMEM;
                        return 0;
                }
                value = app_key_value(line, eol);
                if (value)
                        return scalar_dup(value, eol, ret);
                line = eol + 1;
        }
        return 0;
}

/* "/v1/apps/<app>/deploy?file=<the file's base name>": fleetd names it in its messages. */
static char *deploy_path(Client *c, const char *app, const char *file) {
        const char *base = strrchr(file, '/');
        _cleanup_free_ char *escaped = client_escape(c, base ? base + 1 : file), *suffix = NULL;

        if (!escaped || asprintf(&suffix, "/deploy?file=%s", escaped) < 0)
                return NULL;
        return app_path(c, app, suffix);
}

/* Which file the arguments name: -f FILE or FILE, once; with --build DIR, DIR/fleetd.yaml by
 * default (*ret_owned holds it then). */
static int deploy_file(int argc, char **argv, const char **ret, char **ret_owned) {
        if (argc > 0 && arg_file)
                return usage_error("deploy", "give the manifest once: -f FILE or FILE.");
        if (argc == 0 && !arg_file && arg_build) {
                if (asprintf(ret_owned, "%s/fleetd.yaml", arg_build) < 0)
                        return (*ret_owned = NULL), -ENOMEM;
                *ret = *ret_owned;
                return 0;
        }
        if (argc == 0 && !arg_file)
                return usage_error("deploy", "deploy needs a manifest: -f FILE.");
        *ret = arg_file ?: argv[0];
        return 0;
}

int verb_deploy(Client *c, int argc, char **argv) {
        _cleanup_free_ char *text = NULL, *found = NULL, *path = NULL, *default_file = NULL;
        json_auto_t *answer = NULL;
        const char *file = NULL, *app;
        size_t size;
        long status = 0;
        int r;

        r = deploy_file(argc, argv, &file, &default_file);
        if (r < 0)
                return r;
        r = manifest_read(file, &text, &size);
        if (r < 0)
                return r;
        if (!arg_app) {
                r = manifest_app_name(text, size, &found);
                if (r < 0)
                        return r;
                if (!found) {
                        fprintf(stderr,
                                "fleetctl: %s: found no top-level line 'app: NAME' to tell which app this is; "
                                "give the name with --app NAME.\n",
                                file);
                        return -EBADMSG;
                }
        }
        app = arg_app ?: found;
        if (arg_build)
                return deploy_build(c, arg_build, file, app, text, size);
        path = deploy_path(c, app, file);
        if (!path)
                return -ENOMEM;
        r = client_call_text(c, "POST", path, text, size, "application/yaml", 0, &status, &answer);
        if (r < 0)
                return r;

        if (status == 201)
                printf("Created app %s.\n", app);
        if (jx_bool(answer, "newRelease", false))
                printf("%s: %s\n", app, strna(jx_str(json_object_get(answer, "rollout"), "message")));
        else
                printf("No change: %s is already at v%lld\n", app, (long long) jx_int64(answer, "release", 0));
        if (fflush(stdout) != 0)
                return -EIO;
        return app_wait(c, app, answer);
}
