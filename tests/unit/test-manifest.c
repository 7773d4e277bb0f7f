/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <stdio.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "manifest.h"
#include "../tests.h"

/* tests/data and the source root, given as arguments by meson. */
static const char *arg_data_dir;
static const char *arg_source_root;

/* Sorted names of the *.yaml files in dir. */
static char **list_yaml(const char *dir) {
        _cleanup_strv_free_ char **names = calloc(1, sizeof(char *));
        struct dirent **entries = NULL;
        int n;

        n = scandir(dir, &entries, NULL, alphasort);
        if (!names || n < 0)
                return NULL;
        for (int i = 0; i < n; i++) {
                size_t l = strlen(entries[i]->d_name);
                if (l > 5 && streq(entries[i]->d_name + l - 5, ".yaml") && strv_extend(&names, entries[i]->d_name) < 0)
                        names = strv_free(names);
                free(entries[i]);
        }
        free(entries);
        return TAKE_PTR(names);
}

static char *fixture_path(const char *sub, const char *name) {
        char *path;

        if (asprintf(&path, "%s/manifests/%s/%s", arg_data_dir, sub, name) < 0)
                return NULL;
        return path;
}

/* Parses a string; on failure prints the message and returns the error. */
static int parse_string(const char *text, Release *ret, char **ret_error) {
        return manifest_parse(text, strlen(text), "test.yaml", ret, ret_error);
}

/* The release survives a trip through JSON unchanged. */
static bool json_round_trip(const Release *r) {
        json_auto_t *j = release_to_json(r), *k = NULL;
        _cleanup_(release_done) Release again = {};
        _cleanup_free_ char *a = NULL, *b = NULL;

        if (!j || release_from_json(j, &again) < 0)
                return false;
        k = release_to_json(&again);
        a = jx_dumps(j);
        b = jx_dumps(k);
        return a && b && streq(a, b) && release_same_build(r, &again);
}

/* Checks for each valid fixture, by file name. */

static void check_full(const Release *r) {
        const ProcessType *web = &r->processes[0], *worker = &r->processes[1];

        ASSERT_STR(r->app, "shop");
        ASSERT_INT(r->version, 0);
        ASSERT_TRUE(!r->cause);
        ASSERT_INT(r->created_usec, 0);
        ASSERT_STR(r->image, "registry.example.com/shop/web:2.3.1");
        ASSERT_INT(r->runtime, RUNTIME_PODMAN);
        ASSERT_INT(r->n_config, 2);
        ASSERT_STR(r->config[0].key, "GREETING");
        ASSERT_STR(r->config[0].value, "hi");
        ASSERT_STR(r->config[1].key, "DATABASE_URL");
        ASSERT_STR(r->config[1].value, "postgres://db.internal:5432/shop?sslmode=disable");
        ASSERT_INT(r->max_surge, 2);
        ASSERT_INT(r->max_unavailable, 1);
        ASSERT_INT(r->n_processes, 2);

        ASSERT_STR(web->name, "web");
        ASSERT_INT(strv_length(web->command), 4);
        ASSERT_STR(web->command[0], "/bin/httpd");
        ASSERT_STR(web->command[1], "-f");
        ASSERT_STR(web->command[2], "-p");
        ASSERT_STR(web->command[3], "${PORT}");
        ASSERT_INT(web->port, 5000);
        ASSERT_INT(web->scale, 2);
        ASSERT_TRUE(web->health.enabled);
        ASSERT_STR(web->health.http_path, "/healthz");
        ASSERT_INT(web->health.interval, 5 * USEC_PER_SEC);
        ASSERT_INT(web->health.timeout, 500 * USEC_PER_MSEC);
        ASSERT_INT(web->health.threshold, 5);
        ASSERT_INT(web->memory_bytes, 128ULL << 20);
        ASSERT_INT(web->cpu_millis, 500);
        ASSERT_INT(web->n_constraints, 2);
        ASSERT_STR(web->constraints[0].key, "role");
        ASSERT_STR(web->constraints[0].value, "web");
        ASSERT_STR(web->constraints[1].key, "disk");
        ASSERT_STR(web->constraints[1].value, "ssd");

        ASSERT_STR(worker->name, "worker");
        ASSERT_INT(strv_length(worker->command), 3);
        ASSERT_STR(worker->command[2], "while sleep 5; do echo tick; done");
        ASSERT_INT(worker->port, 0);
        ASSERT_INT(worker->scale, 0);
        ASSERT_TRUE(!worker->health.enabled);
        ASSERT_INT(worker->memory_bytes, 1ULL << 30);
        ASSERT_INT(worker->cpu_millis, 2000);
        ASSERT_INT(worker->n_constraints, 0);
}

static void check_minimal(const Release *r) {
        const ProcessType *p = &r->processes[0];

        ASSERT_STR(r->app, "a");
        ASSERT_STR(r->image, "busybox");
        ASSERT_INT(r->runtime, RUNTIME_PODMAN);
        ASSERT_INT(r->n_config, 0);
        ASSERT_TRUE(!r->config);
        ASSERT_INT(r->max_surge, 1);
        ASSERT_INT(r->max_unavailable, 0);
        ASSERT_INT(r->n_processes, 1);
        ASSERT_STR(p->name, "main");
        ASSERT_TRUE(!p->command);
        ASSERT_INT(p->port, 0);
        ASSERT_INT(p->scale, 1);
        ASSERT_TRUE(!p->health.enabled);
        ASSERT_TRUE(!p->health.http_path);
        ASSERT_INT(p->health.interval, 0);
        ASSERT_INT(p->memory_bytes, 0);
        ASSERT_INT(p->cpu_millis, 0);
        ASSERT_TRUE(!p->constraints);
}

static void check_runtime_docker(const Release *r) {
        ASSERT_INT(r->runtime, RUNTIME_DOCKER);
        ASSERT_STR(r->image, "docker.io/library/busybox:1.36");
        ASSERT_STR(r->processes[0].command[0], "httpd");
        ASSERT_INT(r->processes[0].port, 80);
}

static void check_runtime_nspawn(const Release *r) {
        ASSERT_INT(r->runtime, RUNTIME_NSPAWN);
        ASSERT_STR(r->image, "/var/lib/machines/legacy.raw");
        ASSERT_STR(r->processes[0].name, "box");
        ASSERT_TRUE(!r->processes[0].command);
}

static void check_runtime_exec(const Release *r) {
        ASSERT_INT(r->runtime, RUNTIME_EXEC);
        ASSERT_STR(r->image, "none");
        ASSERT_STR(r->processes[0].name, "clock");
        ASSERT_INT(strv_length(r->processes[0].command), 2);
        ASSERT_STR(r->processes[0].command[1], "infinity");
}

static void check_config_scalars(const Release *r) {
        static const char * const expected[][2] = {
                { "STRING", "plain text" },
                { "QUOTED", "0123" },
                { "SINGLE", "it's" },
                { "INTEGER", "42" },
                { "LEADING_ZERO", "0755" },
                { "FLOAT", "0.50" },
                { "BOOL_TRUE", "true" },
                { "BOOL_YES", "yes" },
                { "BOOL_OFF", "Off" },
                { "EMPTY", "" },
                { "TILDE_QUOTED", "~" },
                { "NULL_QUOTED", "null" },
                { "MULTI", "line one\nline two\n" },
                { "FOLDED", "folded text" },
                { "HASH", "a # b" },
                { "DOLLAR", "$HOME and ${PORT}" },
                { "lower_case_1", "x" },
        };

        ASSERT_INT(r->n_config, ELEMENTSOF(expected));
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                ASSERT_STR(r->config[i].key, expected[i][0]);
                ASSERT_STR(r->config[i].value, expected[i][1]);
        }
        ASSERT_INT(strv_length(r->processes[0].command), 5);
        ASSERT_STR(r->processes[0].command[1], "8080");
        ASSERT_STR(r->processes[0].command[2], "true");
        ASSERT_STR(r->processes[0].command[3], "1.5");
        ASSERT_STR(r->processes[0].command[4], "");
}

static void check_health_tcp(const Release *r) {
        const HealthCheck *h = &r->processes[0].health;

        ASSERT_INT(r->processes[0].port, 5432);
        ASSERT_TRUE(h->enabled);
        ASSERT_TRUE(!h->http_path);
        ASSERT_INT(h->interval, HEALTH_INTERVAL_DEFAULT);
        ASSERT_INT(h->timeout, HEALTH_TIMEOUT_DEFAULT);
        ASSERT_INT(h->threshold, HEALTH_THRESHOLD_DEFAULT);
}

static void check_health_http(const Release *r) {
        const HealthCheck *h = &r->processes[0].health;

        ASSERT_INT(r->processes[0].port, 8080);
        ASSERT_INT(r->processes[0].scale, 1000);
        ASSERT_TRUE(!r->processes[0].command);
        ASSERT_TRUE(h->enabled);
        ASSERT_STR(h->http_path, "/status?full=1");
        ASSERT_INT(h->interval, 2 * USEC_PER_SEC);
        ASSERT_INT(h->timeout, 1 * USEC_PER_SEC);
        ASSERT_INT(h->threshold, 3);
}

static void check_flow_json(const Release *r) {
        const ProcessType *p = &r->processes[0];

        ASSERT_STR(r->app, "json");
        ASSERT_INT(r->runtime, RUNTIME_DOCKER);
        ASSERT_STR(r->config[1].key, "B");
        ASSERT_STR(r->config[1].value, "2");
        ASSERT_INT(r->max_surge, 0);
        ASSERT_INT(r->max_unavailable, 3);
        ASSERT_INT(p->port, 65535);
        ASSERT_INT(p->scale, 0);
        ASSERT_TRUE(p->health.enabled && !p->health.http_path);
        ASSERT_INT(p->health.interval, 60 * USEC_PER_SEC);
        ASSERT_INT(p->health.timeout, 10 * USEC_PER_SEC);
        ASSERT_INT(p->health.threshold, 100);
        ASSERT_INT(p->memory_bytes, 1048576);
        ASSERT_INT(p->cpu_millis, 1);
        ASSERT_INT(p->n_constraints, 2);
        ASSERT_STR(p->constraints[1].key, "x.y");
        ASSERT_STR(p->constraints[1].value, "a b");
}

static void check_comments_and_document_markers(const Release *r) {
        ASSERT_STR(r->app, "marked");
        ASSERT_INT(r->n_processes, 2);
        ASSERT_STR(r->processes[0].command[0], "/bin/one");
        ASSERT_STR(r->processes[1].command[0], "/bin/two");
}

static const struct {
        const char *file;
        void (*check)(const Release *r);
} valid_checks[] = {
        { "full.yaml", check_full },
        { "minimal.yaml", check_minimal },
        { "runtime-docker.yaml", check_runtime_docker },
        { "runtime-nspawn.yaml", check_runtime_nspawn },
        { "runtime-exec.yaml", check_runtime_exec },
        { "config-scalars.yaml", check_config_scalars },
        { "health-tcp.yaml", check_health_tcp },
        { "health-http.yaml", check_health_http },
        { "flow-json.yaml", check_flow_json },
        { "comments-and-document-markers.yaml", check_comments_and_document_markers },
};

TEST(valid_fixtures) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;

        ASSERT_TRUE(asprintf(&dir, "%s/manifests/valid", arg_data_dir) > 0);
        names = list_yaml(dir);
        ASSERT_TRUE(names);
        ASSERT_INT(strv_length(names), ELEMENTSOF(valid_checks));

        STRV_FOREACH(name, names) {
                _cleanup_(release_done) Release r = {};
                _cleanup_free_ char *path = fixture_path("valid", *name), *error = NULL;
                size_t i = 0;
                int before = test_failures;

                while (i < ELEMENTSOF(valid_checks) && !streq(valid_checks[i].file, *name))
                        i++;
                if (i == ELEMENTSOF(valid_checks)) {
                        fprintf(stderr, "  %s: no checks for this fixture\n", *name);
                        ASSERT_TRUE(false);
                }
                if (manifest_load(path, &r, &error) < 0) {
                        fprintf(stderr, "  %s: %s\n", *name, strna(error));
                        ASSERT_TRUE(false);
                }
                ASSERT_INT(release_verify(&r), 0);
                ASSERT_TRUE(json_round_trip(&r));
                valid_checks[i].check(&r);
                if (test_failures != before) {
                        fprintf(stderr, "  (in %s)\n", *name);
                        return;
                }
        }
}

/* The "# error: ..." lines at the top of an invalid fixture. */
static char **expected_errors(const char *text) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        const char *s = text, *rest;

        if (!l)
                return NULL;
        while ((rest = startswith(s, "# error: "))) {
                size_t n = strcspn(rest, "\n");
                char *e = strndup(rest, n);
                if (!e || strv_push(&l, e) < 0) {
                        free(e);
                        return NULL;
                }
                s = rest + n + (rest[n] == '\n');
        }
        return TAKE_PTR(l);
}

static bool check_invalid(const char *name) {
        _cleanup_free_ char *path = fixture_path("invalid", name), *text = NULL, *error = NULL, *prefix = NULL;
        _cleanup_strv_free_ char **expected = NULL;
        Release r = { .version = 7 };
        size_t len;
        int k;

        if (!path || manifest_read_text(path, &text, &len) < 0 || !(expected = expected_errors(text)) ||
            asprintf(&prefix, "%s:", name) < 0) {
                fprintf(stderr, "  %s: cannot read the fixture\n", name);
                return false;
        }
        if (!expected[0]) {
                fprintf(stderr, "  %s: no \"# error: \" line at the top\n", name);
                return false;
        }

        k = manifest_parse(text, len, name, &r, &error);
        if (k != -EINVAL || !error || r.version != 7 || r.app) {
                fprintf(stderr, "  %s: manifest_parse() = %d, message %s\n", name, k, strna(error));
                release_done(&r);
                return false;
        }
        if (!startswith(error, prefix)) {
                fprintf(stderr, "  %s: message does not start with the file name: %s\n", name, error);
                return false;
        }
        STRV_FOREACH(e, expected)
                if (!strstr(error, *e)) {
                        fprintf(stderr, "  %s: \"%s\"\n    does not contain \"%s\"\n", name, error, *e);
                        return false;
                }
        return true;
}

TEST(invalid_fixtures) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        bool ok = true;

        ASSERT_TRUE(asprintf(&dir, "%s/manifests/invalid", arg_data_dir) > 0);
        names = list_yaml(dir);
        ASSERT_TRUE(names);
        ASSERT_TRUE(strv_length(names) >= 40);
        STRV_FOREACH(name, names)
                if (!check_invalid(*name))
                        ok = false;
        ASSERT_TRUE(ok);
}

TEST(example_app) {
        _cleanup_(release_done) Release r = {};
        _cleanup_free_ char *path = NULL, *error = NULL;
        const ProcessType *web, *worker;

        ASSERT_TRUE(asprintf(&path, "%s/examples/apps/hello.yaml", arg_source_root) > 0);
        if (manifest_load(path, &r, &error) < 0)
                fprintf(stderr, "  %s\n", strna(error));
        ASSERT_STR(r.app, "hello");
        ASSERT_STR(r.image, "localhost/hello:1.0");
        ASSERT_INT(r.runtime, RUNTIME_PODMAN);
        ASSERT_INT(r.n_processes, 2);
        web = release_find_process(&r, "web");
        worker = release_find_process(&r, "worker");
        ASSERT_TRUE(web && worker);
        ASSERT_STR(web->command[0], "/bin/busybox");
        ASSERT_STR(web->command[1], "httpd");
        ASSERT_TRUE(strv_contains(web->command, "-f"));
        ASSERT_TRUE(strv_contains(web->command, "${PORT}"));
        ASSERT_TRUE(web->port > 0);
        ASSERT_INT(web->scale, 3);
        ASSERT_TRUE(web->health.enabled);
        ASSERT_STR(web->health.http_path, "/");
        ASSERT_INT(worker->port, 0);
        ASSERT_INT(worker->scale, 1);
        ASSERT_TRUE(!worker->health.enabled);
        ASSERT_TRUE(strstr(worker->command[strv_length(worker->command) - 1], "sleep 5"));
        ASSERT_TRUE(strstr(worker->command[strv_length(worker->command) - 1], "tick"));
}

TEST(pull_key) {
        static const char text[] = "app: x\nimage: registry.example.com/x:1\npull: always\nprocesses:\n  web:\n";
        static const char never[] = "app: x\nimage: x\npull: never\nprocesses:\n  web:\n";
        _cleanup_(release_done) Release r = {}, n = {};
        _cleanup_free_ char *error = NULL;

        ASSERT_INT(manifest_parse(text, strlen(text), "m.yaml", &r, &error), 0);
        ASSERT_INT(r.pull, IMAGE_PULL_ALWAYS);
        ASSERT_INT(release_pull_policy(&r), IMAGE_PULL_ALWAYS);
        ASSERT_TRUE(!r.digest);
        ASSERT_INT(manifest_parse(never, strlen(never), "m.yaml", &n, &error), 0);
        ASSERT_INT(n.pull, IMAGE_PULL_NEVER);
        /* no pull: key: missing for an image of a registry, never for a local one */
        r.pull = IMAGE_PULL_DEFAULT;
        ASSERT_INT(release_pull_policy(&r), IMAGE_PULL_MISSING);
        n.pull = IMAGE_PULL_DEFAULT;
        ASSERT_INT(release_pull_policy(&n), IMAGE_PULL_NEVER);
}

TEST(build_manifest) {
        static const char no_image[] = "app: x\nprocesses:\n  web:\n";
        static const char repo[] = "app: x\nimage: registry.example.com/team/x\nprocesses:\n  web:\n";
        static const char tagged[] = "app: x\nimage: registry.example.com/team/x:1\nprocesses:\n  web:\n";
        _cleanup_(release_done) Release a = {}, b = {}, c = {};
        _cleanup_free_ char *error = NULL;

        ASSERT_INT(manifest_parse_build(no_image, strlen(no_image), "f.yaml", &a, &error), 0);
        ASSERT_TRUE(!a.image);
        ASSERT_STR(a.app, "x");
        ASSERT_INT(manifest_parse_build(repo, strlen(repo), "f.yaml", &b, &error), 0);
        ASSERT_STR(b.image, "registry.example.com/team/x");
        ASSERT_INT(manifest_parse_build(tagged, strlen(tagged), "f.yaml", &c, &error), -EINVAL);
        ASSERT_CONTAINS(error, "f.yaml:2:8: image: expected a repository without a tag or digest");
        free(error);
        error = NULL;
        /* a plain deploy still needs an image */
        ASSERT_INT(manifest_parse(no_image, strlen(no_image), "f.yaml", &c, &error), -EINVAL);
        ASSERT_CONTAINS(error, "missing image");
}

TEST(example_build) {
        _cleanup_(release_done) Release r = {};
        _cleanup_free_ char *path = NULL, *text = NULL, *error = NULL;
        size_t len;

        ASSERT_TRUE(asprintf(&path, "%s/examples/apps/hello/fleetd.yaml", arg_source_root) > 0);
        ASSERT_INT(manifest_read_text(path, &text, &len), 0);
        if (manifest_parse_build(text, len, path, &r, &error) < 0)
                fprintf(stderr, "  %s\n", strna(error));
        ASSERT_STR(r.app, "hello");
        ASSERT_TRUE(!r.image);
        ASSERT_INT(r.runtime, RUNTIME_PODMAN);
        ASSERT_TRUE(release_find_process(&r, "web"));
}

/* Builds "app: x\nimage: y\n" + middle + tail in a new string. */
static char *manifest_text(const char *middle, const char *processes) {
        char *s;

        if (asprintf(&s, "app: x\nimage: y\n%sprocesses:\n%s", middle, processes) < 0)
                return NULL;
        return s;
}

/* Appends n copies of fmt (with %d the index) to *s. */
static int append_repeated(char **s, size_t n, const char *fmt) {
        for (size_t i = 0; i < n; i++) {
                char *t;
                _cleanup_free_ char *piece = NULL;
                if (asprintf(&piece, fmt, (int) i) < 0 || asprintf(&t, "%s%s", *s, piece) < 0)
                        return -ENOMEM;
                free(*s);
                *s = t;
        }
        return 0;
}

static int parse_quiet(const char *text, char **ret_error) {
        _cleanup_(release_done) Release r = {};

        return parse_string(text, &r, ret_error);
}

TEST(limit_processes) {
        _cleanup_free_ char *text = strdup("app: x\nimage: y\nprocesses:\n"), *error = NULL;

        ASSERT_INT(append_repeated(&text, RELEASE_PROCESSES_MAX, "  p%d:\n"), 0);
        ASSERT_INT(parse_quiet(text, NULL), 0);
        ASSERT_INT(append_repeated(&text, 1, "  extra:\n"), 0);
        ASSERT_INT(parse_quiet(text, &error), -EINVAL);
        ASSERT_STR(error, "test.yaml:4:3: processes: 51 entries; expected at most 50");
}

TEST(limit_config) {
        _cleanup_free_ char *text = strdup("config:\n"), *error = NULL, *full = NULL, *full2 = NULL;

        ASSERT_INT(append_repeated(&text, RELEASE_CONFIG_MAX, "  K%d: v\n"), 0);
        full = manifest_text(text, "  w:\n");
        ASSERT_INT(parse_quiet(full, NULL), 0);
        ASSERT_INT(append_repeated(&text, 1, "  EXTRA: v\n"), 0);
        full2 = manifest_text(text, "  w:\n");
        ASSERT_INT(parse_quiet(full2, &error), -EINVAL);
        ASSERT_STR(error, "test.yaml:4:3: config: 201 entries; expected at most 200");
}

TEST(limit_args) {
        _cleanup_free_ char *text = strdup("app: x\nimage: y\nprocesses:\n  w:\n    command:\n"), *error = NULL;

        ASSERT_INT(append_repeated(&text, RELEASE_ARGS_MAX, "      - a%d\n"), 0);
        ASSERT_INT(parse_quiet(text, NULL), 0);
        ASSERT_INT(append_repeated(&text, 1, "      - extra\n"), 0);
        ASSERT_INT(parse_quiet(text, &error), -EINVAL);
        ASSERT_STR(error, "test.yaml:6:7: processes.w.command: 257 arguments; expected at most 256");
}

TEST(limit_string) {
        _cleanup_free_ char *ok = NULL, *over = NULL, *error = NULL;
        char *big = malloc(RELEASE_STRING_MAX + 2);

        ASSERT_TRUE(big);
        memset(big, 'a', RELEASE_STRING_MAX + 1);
        big[RELEASE_STRING_MAX] = 0;
        ASSERT_TRUE(asprintf(&ok, "app: x\nimage: y\nconfig: {A: %s}\nprocesses: {w: }\n", big) > 0);
        big[RELEASE_STRING_MAX] = 'a';
        big[RELEASE_STRING_MAX + 1] = 0;
        ASSERT_TRUE(asprintf(&over, "app: x\nimage: y\nconfig: {A: %s}\nprocesses: {w: }\n", big) > 0);
        free(big);
        ASSERT_INT(parse_quiet(ok, NULL), 0);
        ASSERT_INT(parse_quiet(over, &error), -EINVAL);
        ASSERT_STR(error, "test.yaml:3:13: a value of 8193 bytes; expected at most 8192");
}

TEST(limit_depth) {
        _cleanup_free_ char *at = NULL, *over = NULL, *error = NULL, *error2 = NULL;
        char open[32] = "", close[32] = "";

        /* The top mapping, processes, w, command and 12 nested lists: 16 levels. */
        memset(open, '[', 12);
        memset(close, ']', 12);
        ASSERT_TRUE(asprintf(&at, "app: x\nimage: y\nprocesses: {w: {command: [%sa%s]}}\n", open, close) > 0);
        open[12] = '[';
        close[12] = ']';
        ASSERT_TRUE(asprintf(&over, "app: x\nimage: y\nprocesses: {w: {command: [%sa%s]}}\n", open, close) > 0);
        ASSERT_INT(parse_quiet(at, &error), -EINVAL);
        ASSERT_CONTAINS(error, "processes.w.command: expected a string");
        ASSERT_INT(parse_quiet(over, &error2), -EINVAL);
        ASSERT_STR(error2, "test.yaml:3:39: lists and mappings nested more than 16 deep; expected fewer levels");
}

TEST(limit_nodes) {
        _cleanup_free_ char *text = NULL, *error = NULL;
        size_t n = MANIFEST_NODES_MAX, len;
        char *o;

        /* config: [a, a, a, ...]: every item is a value, so the tree grows until the limit. */
        text = malloc(64 + 2 * n + 16);
        ASSERT_TRUE(text);
        o = stpcpy(text, "app: x\nimage: y\nconfig: [");
        for (size_t i = 0; i < n; i++)
                o = stpcpy(o, "a,");
        stpcpy(o, "a]\n");
        len = strlen(text);
        ASSERT_TRUE(len < MANIFEST_SIZE_MAX);
        ASSERT_INT(parse_quiet(text, &error), -EINVAL);
        ASSERT_CONTAINS(error, "more than 32768 values in the manifest");
}

TEST(limit_size) {
        _cleanup_free_ char *text = malloc(MANIFEST_SIZE_MAX + 2), *error = NULL;
        const char head[] = "app: x\nimage: y\nprocesses: {w: }\n#";
        Release r = {};

        /* A valid manifest padded with a comment to exactly the limit, then one byte more. */
        ASSERT_TRUE(text);
        memset(text, 'x', MANIFEST_SIZE_MAX + 1);
        memcpy(text, head, strlen(head));
        text[MANIFEST_SIZE_MAX + 1] = 0;
        ASSERT_INT(manifest_parse(text, MANIFEST_SIZE_MAX, "big.yaml", &r, NULL), 0);
        release_done(&r);
        ASSERT_INT(manifest_parse(text, MANIFEST_SIZE_MAX + 1, "big.yaml", &r, &error), -EINVAL);
        ASSERT_STR(error, "big.yaml: the manifest has 262145 bytes; expected at most 262144");
}

TEST(load_errors) {
        char path[] = "/tmp/test-manifest-XXXXXX";
        _cleanup_free_ char *error = NULL, *error2 = NULL, *expected = NULL, *buf = NULL;
        Release r = {};
        int fd;

        ASSERT_INT(manifest_load("/nonexistent/m.yaml", &r, &error), -ENOENT);
        ASSERT_STR(error, "/nonexistent/m.yaml: No such file or directory");

        fd = mkstemp(path);
        ASSERT_TRUE(fd >= 0);
        buf = calloc(1, MANIFEST_SIZE_MAX + 1);
        ASSERT_TRUE(buf);
        memset(buf, '#', MANIFEST_SIZE_MAX + 1);
        ASSERT_INT(write(fd, buf, MANIFEST_SIZE_MAX + 1), MANIFEST_SIZE_MAX + 1);
        close(fd);
        ASSERT_INT(manifest_load(path, &r, &error2), -EINVAL);
        ASSERT_TRUE(asprintf(&expected, "%s: the manifest has more than 262144 bytes; expected at most 262144",
                             path) > 0);
        ASSERT_STR(error2, expected);
        (void) unlink(path);
}

TEST(messages) {
        _cleanup_free_ char *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL, *e5 = NULL;
        Release r = {};
        const char crlf[] = "app: x\r\nimage: y\r\nprocesses:\r\n  w:\r\n    scale: many\r\n";
        const char bom[] = "\xef\xbb\xbf" "app: x\nimage: y\nprocesses: {w: {port: x}}\n";
        const char ctrl[] = "app: x\nimage: y\nprocesses: {w: {scale: \"\\x01\\t2\"}}\n";

        /* No file name, no message wanted: both fine. */
        ASSERT_INT(manifest_parse("app: [", 6, NULL, &r, &e1), -EINVAL);
        ASSERT_CONTAINS(e1, "<input>:");
        ASSERT_INT(manifest_parse("app: [", 6, NULL, &r, NULL), -EINVAL);
        /* Windows line ends count as one. */
        ASSERT_INT(manifest_parse(crlf, strlen(crlf), "w.yaml", &r, &e2), -EINVAL);
        ASSERT_STR(e2, "w.yaml:5:12: processes.w.scale: expected a whole number from 0 to 1000, got 'many'");
        /* A byte order mark is skipped and does not shift columns. */
        ASSERT_INT(manifest_parse(bom, strlen(bom), "b.yaml", &r, &e3), -EINVAL);
        ASSERT_STR(e3, "b.yaml:3:23: processes.w.port: expected a whole number from 1 to 65535, got 'x'");
        /* Control characters in values are shown escaped. */
        ASSERT_INT(manifest_parse(ctrl, strlen(ctrl), "c.yaml", &r, &e4), -EINVAL);
        ASSERT_STR(e4, "c.yaml:3:24: processes.w.scale: expected a whole number from 0 to 1000, "
                   "got '\\x01\\x092' (quoted, so a string)");
        /* Text need not be NUL-terminated: the length counts. */
        const char valid[] = "app: x\nimage: y\nprocesses: {w: }\n";
        ASSERT_INT(manifest_parse("app: x\nimage: y\nprocesses: {w: }\nGARBAGE", strlen(valid), "n.yaml", &r, &e5),
                   0);
        ASSERT_STR(r.app, "x");
        release_done(&r);
}

TEST(long_value_in_message) {
        _cleanup_free_ char *text = NULL, *error = NULL;
        char big[200];

        /* Cut after 64 bytes, not inside a UTF-8 character (each 'é' is two bytes). */
        strcpy(big, "a");
        for (int i = 0; i < 60; i++)
                strcat(big, "\xc3\xa9");
        ASSERT_TRUE(asprintf(&text, "app: %s\nimage: y\nprocesses: {w: }\n", big) > 0);
        ASSERT_INT(parse_quiet(text, &error), -EINVAL);
        ASSERT_CONTAINS(error, "got 'a\xc3\xa9");
        ASSERT_CONTAINS(error, "\xc3\xa9...'");
}

TEST(defaults_for_rollout) {
        _cleanup_(release_done) Release r = {};
        _cleanup_free_ char *error = NULL;

        ASSERT_INT(parse_string("app: x\nimage: y\nrollout: {max_unavailable: 2}\nprocesses: {w: }\n", &r, &error), 0);
        ASSERT_INT(r.max_surge, 1);
        ASSERT_INT(r.max_unavailable, 2);
}

/* Fuzz-ish: every prefix of the valid manifests and every single-byte change from a set of
 * troublesome bytes. Each parse must succeed with a release that verifies and survives JSON,
 * or fail with -EINVAL and a message that names the file; never crash or leak (valgrind/ASan). */

static unsigned long fuzz_ok, fuzz_failed;

static bool fuzz_one(const char *text, size_t len) {
        _cleanup_(release_done) Release r = {};
        _cleanup_free_ char *error = NULL;
        int k = manifest_parse(text, len, "fuzz.yaml", &r, &error);

        if (k == 0) {
                fuzz_ok++;
                if (release_verify(&r) < 0 || !json_round_trip(&r)) {
                        fprintf(stderr, "  accepted but not valid: \"%.*s\"\n", (int) len, text);
                        return false;
                }
                return true;
        }
        fuzz_failed++;
        if (k != -EINVAL || !error || !startswith(error, "fuzz.yaml:") || strstr(error, "internal error")) {
                fprintf(stderr, "  %d \"%s\" for \"%.*s\"\n", k, strna(error), (int) len, text);
                return false;
        }
        return true;
}

static bool fuzz_text(const char *orig, size_t len) {
        static const char bytes[] = { ' ', '\n', '\t', ':', '-', '[', ']', '{', '}', ',', '&', '*', '!',
                                      '"', '\'', '#', '|', '>', '?', '%', '@', '`', '\\', '0', 'x', 0,
                                      (char) 0x80, (char) 0xff };
        /* An exact-size copy each time, so that valgrind and ASan see any read past the end. */
        _cleanup_free_ char *copy = NULL;

        for (size_t n = 0; n <= len; n++) {
                free(copy);
                copy = malloc(MAX(n, (size_t) 1));
                if (!copy)
                        return false;
                memcpy(copy, orig, n);
                if (!fuzz_one(copy, n))
                        return false;
        }
        free(copy);
        copy = malloc(len);
        if (!copy)
                return false;
        for (size_t i = 0; i < len; i++)
                for (size_t b = 0; b < ELEMENTSOF(bytes); b++) {
                        memcpy(copy, orig, len);
                        copy[i] = bytes[b];
                        if (!fuzz_one(copy, len))
                                return false;
                }
        return true;
}

static bool fuzz_file(const char *path) {
        _cleanup_free_ char *text = NULL;
        size_t len;

        if (manifest_read_text(path, &text, &len) < 0)
                return false;
        return fuzz_text(text, len);
}

TEST(fuzz_prefixes_and_mutations) {
        _cleanup_free_ char *dir = NULL, *example = NULL;
        _cleanup_strv_free_ char **names = NULL;
        bool quick = getenv("FLEETD_TEST_QUICK");

        ASSERT_TRUE(asprintf(&dir, "%s/manifests/valid", arg_data_dir) > 0);
        ASSERT_TRUE(asprintf(&example, "%s/examples/apps/hello.yaml", arg_source_root) > 0);
        names = list_yaml(dir);
        ASSERT_TRUE(names);
        ASSERT_TRUE(fuzz_file(example));
        STRV_FOREACH(name, names) {
                _cleanup_free_ char *path = fixture_path("valid", *name);
                /* Under valgrind: only the example and the full manifest. */
                if (quick && !streq(*name, "full.yaml"))
                        continue;
                if (!fuzz_file(path)) {
                        fprintf(stderr, "  (mutating %s)\n", *name);
                        ASSERT_TRUE(false);
                }
        }
        printf("     %lu parses: %lu accepted, %lu refused\n", fuzz_ok + fuzz_failed, fuzz_ok, fuzz_failed);
        ASSERT_TRUE(fuzz_ok > 0 && fuzz_failed > 0);
}

int test_failures = 0;

int main(int argc, char *argv[]) {
        static const TestCase cases[] = {
                T(valid_fixtures),
                T(invalid_fixtures),
                T(example_app),
                T(example_build),
                T(pull_key),
                T(build_manifest),
                T(limit_processes),
                T(limit_config),
                T(limit_args),
                T(limit_string),
                T(limit_depth),
                T(limit_nodes),
                T(limit_size),
                T(load_errors),
                T(messages),
                T(long_value_in_message),
                T(defaults_for_rollout),
                T(fuzz_prefixes_and_mutations),
        };

        arg_data_dir = argc > 1 ? argv[1] : getenv("FLEETD_TEST_DATA");
        arg_source_root = argc > 2 ? argv[2] : getenv("FLEETD_SOURCE_ROOT");
        if (!arg_data_dir || !arg_source_root) {
                fprintf(stderr, "usage: %s TESTS_DATA_DIR SOURCE_ROOT\n", argv[0]);
                return EXIT_FAILURE;
        }
        return run_tests(cases, ELEMENTSOF(cases));
}
