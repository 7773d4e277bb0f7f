/* SPDX-License-Identifier: Apache-2.0 */
#include <limits.h>
#include <stdio.h>

#include "basic/json-util.h"
#include "basic/strv.h"
#include "release.h"
#include "../tests.h"

/* A release as fleetd stores it, with every field set. */
static const char full_json[] =
        "{\"app\": \"hello\", \"version\": 3, \"image\": \"localhost/hello:1.0\", \"runtime\": \"podman\","
        " \"config\": {\"GREETING\": \"hi\", \"DEBUG\": \"true\"},"
        " \"processes\": ["
        "  {\"name\": \"web\", \"command\": [\"/bin/httpd\", \"-f\", \"-p\", \"${PORT}\"], \"port\": 5000,"
        "   \"scale\": 2, \"health\": {\"http\": \"/\", \"interval_usec\": 2000000, \"timeout_usec\": 1000000,"
        "   \"threshold\": 3}, \"memory_bytes\": 134217728, \"cpu_millis\": 500,"
        "   \"constraints\": {\"role\": \"web\"}},"
        "  {\"name\": \"worker\", \"port\": 0, \"scale\": 1, \"memory_bytes\": 0, \"cpu_millis\": 0,"
        "   \"constraints\": {}}],"
        " \"max_surge\": 1, \"max_unavailable\": 0, \"cause\": \"deploy\", \"created_usec\": 1700000000000000}";

static int load_json_text(const char *text, Release *ret) {
        json_auto_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);

        if (!j) {
                fprintf(stderr, "bad JSON in test: %s\n", text);
                return -EIO;
        }
        return release_from_json(j, ret);
}

/* full_json with one change made by edit() on the parsed object; returns what from_json says. */
static int from_edited(void (*edit)(json_t *j)) {
        json_auto_t *j = json_loads(full_json, 0, NULL);
        _cleanup_(release_done) Release r = {};

        if (!j)
                return -EIO;
        edit(j);
        return release_from_json(j, &r);
}

static json_t *web(json_t *j) {
        return json_array_get(json_object_get(j, "processes"), 0);
}

#define EDIT(name, body)                                \
        static void edit_##name(json_t *j) {            \
                body;                                   \
        }

EDIT(no_app, json_object_del(j, "app"))
EDIT(no_version, json_object_del(j, "version"))
EDIT(no_image, json_object_del(j, "image"))
EDIT(no_runtime, json_object_del(j, "runtime"))
EDIT(no_config, json_object_del(j, "config"))
EDIT(no_processes, json_object_del(j, "processes"))
EDIT(no_max_surge, json_object_del(j, "max_surge"))
EDIT(no_max_unavailable, json_object_del(j, "max_unavailable"))
EDIT(no_created, json_object_del(j, "created_usec"))
EDIT(no_cause, json_object_del(j, "cause"))
EDIT(unknown_top, json_object_set_new(j, "colour", json_string("blue")))
EDIT(unknown_process, json_object_set_new(web(j), "colour", json_string("blue")))
EDIT(unknown_health, json_object_set_new(json_object_get(web(j), "health"), "colour", json_string("blue")))
EDIT(no_process_name, json_object_del(web(j), "name"))
EDIT(no_scale, json_object_del(web(j), "scale"))
EDIT(no_port, json_object_del(web(j), "port"))
EDIT(no_memory, json_object_del(web(j), "memory_bytes"))
EDIT(no_cpu, json_object_del(web(j), "cpu_millis"))
EDIT(no_constraints, json_object_del(web(j), "constraints"))
EDIT(no_command, json_object_del(web(j), "command"))
EDIT(no_interval, json_object_del(json_object_get(web(j), "health"), "interval_usec"))
EDIT(no_http, json_object_del(json_object_get(web(j), "health"), "http"))
EDIT(version_string, json_object_set_new(j, "version", json_string("3")))
EDIT(version_negative, json_object_set_new(j, "version", json_integer(-1)))
EDIT(version_huge, json_object_set_new(j, "version", json_integer((json_int_t) UINT_MAX + 1)))
EDIT(version_real, json_object_set_new(j, "version", json_real(3.0)))
EDIT(bad_app, json_object_set_new(j, "app", json_string("Hello")))
EDIT(bad_runtime, json_object_set_new(j, "runtime", json_string("lxc")))
EDIT(image_dash, json_object_set_new(j, "image", json_string("--privileged")))
EDIT(cause_null, json_object_set_new(j, "cause", json_null()))
EDIT(config_port, json_object_set_new(json_object_get(j, "config"), "PORT", json_string("1")))
EDIT(config_number, json_object_set_new(json_object_get(j, "config"), "N", json_integer(1)))
EDIT(config_array, json_object_set_new(j, "config", json_array()))
EDIT(processes_empty, json_object_set_new(j, "processes", json_array()))
EDIT(processes_object, json_object_set_new(j, "processes", json_object()))
EDIT(process_twice, json_array_append(json_object_get(j, "processes"), web(j)))
EDIT(process_null, json_array_append_new(json_object_get(j, "processes"), json_null()))
EDIT(port_huge, json_object_set_new(web(j), "port", json_integer(65536)))
EDIT(scale_huge, json_object_set_new(web(j), "scale", json_integer(1001)))
EDIT(scale_bool, json_object_set_new(web(j), "scale", json_true()))
EDIT(memory_huge, json_object_set_new(web(j), "memory_bytes", json_integer(INT64_MAX)))
EDIT(command_empty, json_object_set_new(web(j), "command", json_array()))
EDIT(command_number, json_array_append_new(json_object_get(web(j), "command"), json_integer(1)))
EDIT(health_null, json_object_set_new(web(j), "health", json_null()))
EDIT(health_no_port, json_object_set_new(web(j), "port", json_integer(0)))
EDIT(threshold_zero, json_object_set_new(json_object_get(web(j), "health"), "threshold", json_integer(0)))
EDIT(interval_zero, json_object_set_new(json_object_get(web(j), "health"), "interval_usec", json_integer(0)))
EDIT(http_relative, json_object_set_new(json_object_get(web(j), "health"), "http", json_string("x")))
EDIT(constraint_comma, json_object_set_new(json_object_get(web(j), "constraints"), "a", json_string("b,c")))
EDIT(rollout_zero, json_object_set_new(j, "max_surge", json_integer(0)))
EDIT(exec_no_command, json_object_set_new(j, "runtime", json_string("exec")))
EDIT(port_variable_without_port,
     json_object_set_new(json_array_get(json_object_get(j, "processes"), 1), "command",
                         json_pack("[s, s]", "/bin/sh", "echo ${PORT}")))
EDIT(nothing, (void) j)
EDIT(runtime_docker, json_object_set_new(j, "runtime", json_string("docker")))

TEST(runtime_strings) {
        ASSERT_STR(runtime_to_string(RUNTIME_PODMAN), "podman");
        ASSERT_STR(runtime_to_string(RUNTIME_DOCKER), "docker");
        ASSERT_STR(runtime_to_string(RUNTIME_NSPAWN), "nspawn");
        ASSERT_STR(runtime_to_string(RUNTIME_EXEC), "exec");
        ASSERT_TRUE(!runtime_to_string(_RUNTIME_MAX));
        ASSERT_TRUE(!runtime_to_string(_RUNTIME_INVALID));
        for (Runtime r = 0; r < _RUNTIME_MAX; r++)
                ASSERT_INT(runtime_from_string(runtime_to_string(r)), r);
        ASSERT_INT(runtime_from_string("Podman"), _RUNTIME_INVALID);
        ASSERT_INT(runtime_from_string(""), _RUNTIME_INVALID);
        ASSERT_INT(runtime_from_string(NULL), _RUNTIME_INVALID);
}

TEST(names) {
        ASSERT_TRUE(release_app_name_is_valid("hello"));
        ASSERT_TRUE(release_app_name_is_valid("a"));
        ASSERT_TRUE(release_app_name_is_valid("my-app-2"));
        ASSERT_TRUE(release_app_name_is_valid("a234567890123456789012345678901234567890"));  /* 40 */
        ASSERT_TRUE(!release_app_name_is_valid("a2345678901234567890123456789012345678901")); /* 41 */
        ASSERT_TRUE(!release_app_name_is_valid(""));
        ASSERT_TRUE(!release_app_name_is_valid(NULL));
        ASSERT_TRUE(!release_app_name_is_valid("Hello"));
        ASSERT_TRUE(!release_app_name_is_valid("2app"));
        ASSERT_TRUE(!release_app_name_is_valid("-app"));
        ASSERT_TRUE(!release_app_name_is_valid("app-"));
        ASSERT_TRUE(!release_app_name_is_valid("my_app"));
        ASSERT_TRUE(!release_app_name_is_valid("my.app"));
        ASSERT_TRUE(!release_app_name_is_valid("my app"));

        ASSERT_TRUE(release_process_name_is_valid("web"));
        ASSERT_TRUE(release_process_name_is_valid("a23456789012345678901234567890"));  /* 30 */
        ASSERT_TRUE(!release_process_name_is_valid("a234567890123456789012345678901")); /* 31 */
        ASSERT_TRUE(!release_process_name_is_valid("web@1"));

        ASSERT_TRUE(release_config_key_is_valid("GREETING"));
        ASSERT_TRUE(release_config_key_is_valid("_x1"));
        ASSERT_TRUE(release_config_key_is_valid("lower_Case"));
        ASSERT_TRUE(!release_config_key_is_valid("PORT"));
        ASSERT_TRUE(release_config_key_is_valid("PORTS"));
        ASSERT_TRUE(!release_config_key_is_valid("1X"));
        ASSERT_TRUE(!release_config_key_is_valid("A-B"));
        ASSERT_TRUE(!release_config_key_is_valid("A B"));
        ASSERT_TRUE(!release_config_key_is_valid(""));

        ASSERT_TRUE(release_constraint_key_is_valid("role"));
        ASSERT_TRUE(release_constraint_key_is_valid("disk.type-1_x"));
        ASSERT_TRUE(!release_constraint_key_is_valid("a=b"));
        ASSERT_TRUE(release_constraint_value_is_valid("web"));
        ASSERT_TRUE(release_constraint_value_is_valid("us east"));
        ASSERT_TRUE(!release_constraint_value_is_valid(" web"));
        ASSERT_TRUE(!release_constraint_value_is_valid("a,b"));
        ASSERT_TRUE(!release_constraint_value_is_valid("a=b"));
        ASSERT_TRUE(!release_constraint_value_is_valid(""));

        ASSERT_TRUE(release_image_is_valid("localhost/hello:1.0"));
        ASSERT_TRUE(release_image_is_valid("docker.io/library/busybox@sha256:abc"));
        ASSERT_TRUE(!release_image_is_valid("-v/:/host"));
        ASSERT_TRUE(!release_image_is_valid("a b"));
        ASSERT_TRUE(!release_image_is_valid("a\nb"));
        ASSERT_TRUE(!release_image_is_valid(""));

        ASSERT_TRUE(release_http_path_is_valid("/"));
        ASSERT_TRUE(release_http_path_is_valid("/healthz?full=1"));
        ASSERT_TRUE(!release_http_path_is_valid("healthz"));
        ASSERT_TRUE(!release_http_path_is_valid("/a b"));
}

TEST(json_round_trip) {
        _cleanup_(release_done) Release r = {}, again = {};
        json_auto_t *j = NULL, *k = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL, *expected = NULL;
        json_auto_t *orig = json_loads(full_json, 0, NULL);

        ASSERT_INT(load_json_text(full_json, &r), 0);
        ASSERT_STR(r.app, "hello");
        ASSERT_INT(r.version, 3);
        ASSERT_STR(r.image, "localhost/hello:1.0");
        ASSERT_INT(r.runtime, RUNTIME_PODMAN);
        ASSERT_INT(r.n_config, 2);
        ASSERT_STR(r.config[0].key, "GREETING");
        ASSERT_STR(r.config[0].value, "hi");
        ASSERT_STR(r.config[1].key, "DEBUG");
        ASSERT_INT(r.n_processes, 2);
        ASSERT_STR(r.processes[0].name, "web");
        ASSERT_INT(strv_length(r.processes[0].command), 4);
        ASSERT_STR(r.processes[0].command[3], "${PORT}");
        ASSERT_INT(r.processes[0].port, 5000);
        ASSERT_INT(r.processes[0].scale, 2);
        ASSERT_TRUE(r.processes[0].health.enabled);
        ASSERT_STR(r.processes[0].health.http_path, "/");
        ASSERT_INT(r.processes[0].health.interval, 2 * USEC_PER_SEC);
        ASSERT_INT(r.processes[0].health.timeout, USEC_PER_SEC);
        ASSERT_INT(r.processes[0].health.threshold, 3);
        ASSERT_INT(r.processes[0].memory_bytes, 128 << 20);
        ASSERT_INT(r.processes[0].cpu_millis, 500);
        ASSERT_INT(r.processes[0].n_constraints, 1);
        ASSERT_STR(r.processes[0].constraints[0].value, "web");
        ASSERT_STR(r.processes[1].name, "worker");
        ASSERT_TRUE(!r.processes[1].command);
        ASSERT_TRUE(!r.processes[1].health.enabled);
        ASSERT_TRUE(!r.processes[1].constraints);
        ASSERT_INT(r.max_surge, 1);
        ASSERT_INT(r.max_unavailable, 0);
        ASSERT_STR(r.cause, "deploy");
        ASSERT_INT(r.created_usec, 1700000000000000LL);
        ASSERT_TRUE(release_find_process(&r, "worker") == &r.processes[1]);
        ASSERT_TRUE(!release_find_process(&r, "db"));

        /* What to_json writes is exactly what was read. */
        j = release_to_json(&r);
        ASSERT_TRUE(j);
        a = jx_dumps(j);
        expected = jx_dumps(orig);
        ASSERT_STR(a, expected);

        ASSERT_INT(release_from_json(j, &again), 0);
        k = release_to_json(&again);
        b = jx_dumps(k);
        ASSERT_STR(b, a);
}

TEST(json_config_order_kept) {
        _cleanup_(release_done) Release r = {};
        json_auto_t *j = NULL;
        _cleanup_free_ char *s = NULL;

        ASSERT_INT(load_json_text(full_json, &r), 0);
        j = release_to_json(&r);
        ASSERT_TRUE(j);
        /* Unsorted dump: jansson keeps insertion order, so the manifest's order survives in etcd. */
        s = json_dumps(json_object_get(j, "config"), JSON_COMPACT);
        ASSERT_STR(s, "{\"GREETING\":\"hi\",\"DEBUG\":\"true\"}");
}

TEST(json_strict) {
        static const struct {
                const char *name;
                void (*edit)(json_t *j);
                int expected;
        } cases[] = {
                { "nothing", edit_nothing, 0 },
                { "runtime_docker", edit_runtime_docker, 0 },
                { "no_cause", edit_no_cause, 0 },
                { "no_command", edit_no_command, 0 },
                { "no_http", edit_no_http, 0 },
                { "no_app", edit_no_app, -EBADMSG },
                { "no_version", edit_no_version, -EBADMSG },
                { "no_image", edit_no_image, -EBADMSG },
                { "no_runtime", edit_no_runtime, -EBADMSG },
                { "no_config", edit_no_config, -EBADMSG },
                { "no_processes", edit_no_processes, -EBADMSG },
                { "no_max_surge", edit_no_max_surge, -EBADMSG },
                { "no_max_unavailable", edit_no_max_unavailable, -EBADMSG },
                { "no_created", edit_no_created, -EBADMSG },
                { "unknown_top", edit_unknown_top, -EBADMSG },
                { "unknown_process", edit_unknown_process, -EBADMSG },
                { "unknown_health", edit_unknown_health, -EBADMSG },
                { "no_process_name", edit_no_process_name, -EBADMSG },
                { "no_scale", edit_no_scale, -EBADMSG },
                { "no_port", edit_no_port, -EBADMSG },
                { "no_memory", edit_no_memory, -EBADMSG },
                { "no_cpu", edit_no_cpu, -EBADMSG },
                { "no_constraints", edit_no_constraints, -EBADMSG },
                { "no_interval", edit_no_interval, -EBADMSG },
                { "version_string", edit_version_string, -EBADMSG },
                { "version_negative", edit_version_negative, -EBADMSG },
                { "version_huge", edit_version_huge, -EBADMSG },
                { "version_real", edit_version_real, -EBADMSG },
                { "bad_app", edit_bad_app, -EBADMSG },
                { "bad_runtime", edit_bad_runtime, -EBADMSG },
                { "image_dash", edit_image_dash, -EBADMSG },
                { "cause_null", edit_cause_null, -EBADMSG },
                { "config_port", edit_config_port, -EBADMSG },
                { "config_number", edit_config_number, -EBADMSG },
                { "config_array", edit_config_array, -EBADMSG },
                { "processes_empty", edit_processes_empty, -EBADMSG },
                { "processes_object", edit_processes_object, -EBADMSG },
                { "process_twice", edit_process_twice, -EBADMSG },
                { "process_null", edit_process_null, -EBADMSG },
                { "port_huge", edit_port_huge, -EBADMSG },
                { "scale_huge", edit_scale_huge, -EBADMSG },
                { "scale_bool", edit_scale_bool, -EBADMSG },
                { "memory_huge", edit_memory_huge, -EBADMSG },
                { "command_empty", edit_command_empty, -EBADMSG },
                { "command_number", edit_command_number, -EBADMSG },
                { "health_null", edit_health_null, -EBADMSG },
                { "health_no_port", edit_health_no_port, -EBADMSG },
                { "threshold_zero", edit_threshold_zero, -EBADMSG },
                { "interval_zero", edit_interval_zero, -EBADMSG },
                { "http_relative", edit_http_relative, -EBADMSG },
                { "constraint_comma", edit_constraint_comma, -EBADMSG },
                { "rollout_zero", edit_rollout_zero, -EBADMSG },
                { "exec_no_command", edit_exec_no_command, -EBADMSG },
                { "port_variable_without_port", edit_port_variable_without_port, -EBADMSG },
        };
        bool ok = true;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = from_edited(cases[i].edit);
                if (r != cases[i].expected) {
                        fprintf(stderr, "  %s: release_from_json() = %d, expected %d\n", cases[i].name, r,
                                cases[i].expected);
                        ok = false;
                }
        }
        ASSERT_TRUE(ok);

        Release untouched = { .version = 42 };
        json_auto_t *array = json_array();
        ASSERT_INT(release_from_json(array, &untouched), -EBADMSG);
        ASSERT_INT(release_from_json(NULL, &untouched), -EBADMSG);
        ASSERT_INT(untouched.version, 42);
}

TEST(json_limits) {
        _cleanup_(release_done) Release r = {};
        json_auto_t *j = json_loads(full_json, 0, NULL);
        json_t *config = json_object_get(j, "config"), *command = json_object_get(web(j), "command");
        char key[32];

        ASSERT_TRUE(j);
        for (int i = json_object_size(config); i < RELEASE_CONFIG_MAX; i++) {
                snprintf(key, sizeof(key), "K%d", i);
                json_object_set_new(config, key, json_string("v"));
        }
        for (int i = json_array_size(command); i < RELEASE_ARGS_MAX; i++)
                json_array_append_new(command, json_string("x"));
        ASSERT_INT(release_from_json(j, &r), 0);
        release_done(&r);

        json_object_set_new(config, "ONE_MORE", json_string("v"));
        ASSERT_INT(release_from_json(j, &r), -EBADMSG);
        json_object_del(config, "ONE_MORE");
        json_array_append_new(command, json_string("x"));
        ASSERT_INT(release_from_json(j, &r), -EBADMSG);
}

TEST(copy_and_same_build) {
        _cleanup_(release_done) Release a = {}, b = {};
        json_auto_t *ja = NULL, *jb = NULL;
        _cleanup_free_ char *sa = NULL, *sb = NULL;

        ASSERT_INT(load_json_text(full_json, &a), 0);
        ASSERT_INT(release_copy(&a, &b), 0);
        ja = release_to_json(&a);
        jb = release_to_json(&b);
        sa = jx_dumps(ja);
        sb = jx_dumps(jb);
        ASSERT_STR(sb, sa);
        ASSERT_TRUE(a.image != b.image && a.processes != b.processes && a.config != b.config);
        ASSERT_TRUE(a.processes[0].command != b.processes[0].command);
        ASSERT_TRUE(a.processes[0].health.http_path != b.processes[0].health.http_path);
        ASSERT_TRUE(release_same_build(&a, &b));

        /* What does not count. */
        b.version = 9;
        b.created_usec = 1;
        b.max_surge = 5;
        b.processes[0].scale = 7;
        ASSERT_INT(free_and_strdup(&b.cause, "config set X"), 0);
        ASSERT_TRUE(release_same_build(&a, &b));
        /* Order of config entries and of processes does not count either. */
        MetadataPair t = b.config[0];
        b.config[0] = b.config[1];
        b.config[1] = t;
        ProcessType pt = b.processes[0];
        b.processes[0] = b.processes[1];
        b.processes[1] = pt;
        ASSERT_TRUE(release_same_build(&a, &b));
        ASSERT_TRUE(release_same_build(&b, &a));
}

/* One change to a copy of full_json's release; returns whether it still is the same build. */
static int same_after(void (*change)(Release *r)) {
        _cleanup_(release_done) Release a = {}, b = {};

        if (load_json_text(full_json, &a) < 0 || release_copy(&a, &b) < 0)
                return -1;
        change(&b);
        return release_same_build(&a, &b) && release_same_build(&b, &a);
}

static void change_image(Release *r) {
        (void) free_and_strdup(&r->image, "localhost/hello:1.1");
}
static void change_runtime(Release *r) {
        r->runtime = RUNTIME_DOCKER;
}
static void change_config_value(Release *r) {
        (void) free_and_strdup(&r->config[1].value, "false");
}
static void drop_config_entry(Release *r) {
        r->n_config = 1;
        free(r->config[1].key);
        free(r->config[1].value);
}
static void change_command(Release *r) {
        (void) free_and_strdup(&r->processes[0].command[1], "-v");
}
static void drop_command(Release *r) {
        r->processes[0].command = strv_free(r->processes[0].command);
}
static void change_port(Release *r) {
        r->processes[0].port = 5001;
}
static void change_health(Release *r) {
        r->processes[0].health.threshold = 4;
}
static void change_health_path(Release *r) {
        (void) free_and_strdup(&r->processes[0].health.http_path, NULL);
}
static void disable_health(Release *r) {
        r->processes[0].health.enabled = false;
}
static void change_memory(Release *r) {
        r->processes[0].memory_bytes++;
}
static void change_cpu(Release *r) {
        r->processes[0].cpu_millis++;
}
static void change_constraint(Release *r) {
        (void) free_and_strdup(&r->processes[0].constraints[0].value, "edge");
}
static void rename_process(Release *r) {
        (void) free_and_strdup(&r->processes[1].name, "clock");
}
static void drop_process(Release *r) {
        process_type_done(&r->processes[1]);
        r->n_processes = 1;
}

TEST(same_build_differences) {
        ASSERT_INT(same_after(change_image), 0);
        ASSERT_INT(same_after(change_runtime), 0);
        ASSERT_INT(same_after(change_config_value), 0);
        ASSERT_INT(same_after(drop_config_entry), 0);
        ASSERT_INT(same_after(change_command), 0);
        ASSERT_INT(same_after(drop_command), 0);
        ASSERT_INT(same_after(change_port), 0);
        ASSERT_INT(same_after(change_health), 0);
        ASSERT_INT(same_after(change_health_path), 0);
        ASSERT_INT(same_after(disable_health), 0);
        ASSERT_INT(same_after(change_memory), 0);
        ASSERT_INT(same_after(change_cpu), 0);
        ASSERT_INT(same_after(change_constraint), 0);
        ASSERT_INT(same_after(rename_process), 0);
        ASSERT_INT(same_after(drop_process), 0);
}

TEST(copy_of_empty) {
        _cleanup_(release_done) Release a = {}, b = {};

        ASSERT_INT(release_copy(&a, &b), 0);
        ASSERT_TRUE(!b.app && !b.processes && !b.config && b.n_processes == 0);
        ASSERT_TRUE(release_same_build(&a, &b));
        ASSERT_INT(release_verify(&a), -EINVAL);
}

TEST(instance_names) {
        _cleanup_(release_done) Release r = {};
        _cleanup_free_ char *name = NULL, *app = NULL, *process = NULL;
        unsigned version = 0, instance = 0;

        ASSERT_INT(load_json_text(full_json, &r), 0);
        name = release_instance_name(&r, "web", 2);
        ASSERT_STR(name, "hello_v3.web@2.service");
        ASSERT_INT(release_parse_instance_name(name, &app, &version, &process, &instance), 0);
        ASSERT_STR(app, "hello");
        ASSERT_INT(version, 3);
        ASSERT_STR(process, "web");
        ASSERT_INT(instance, 2);

        free(app);
        free(process);
        app = process = NULL;
        ASSERT_INT(release_parse_instance_name("my-app_v4294967295.a-b@1000.service", &app, &version, &process,
                                               &instance), 0);
        ASSERT_STR(app, "my-app");
        ASSERT_INT(version, 4294967295u);
        ASSERT_STR(process, "a-b");
        ASSERT_INT(instance, 1000);
        ASSERT_INT(release_parse_instance_name("hello_v1.web@1.service", NULL, NULL, NULL, NULL), 0);

        static const char * const bad[] = {
                "", "hello", "hello.service", "hello_v1.web.service", "hello_v1.web@.service",
                "hello_v1.web@0.service", "hello_v1.web@01.service", "hello_v01.web@1.service",
                "hello_v.web@1.service", "hello_vx.web@1.service", "hello_1.web@1.service",
                "hello_v1web@1.service", "hello_v1.web@1.socket", "hello_v1.web@1.service.x",
                "hello_v4294967296.web@1.service", "hello_v1.web@4294967296.service",
                "Hello_v1.web@1.service", "_v1.web@1.service", "hello_v1.@1.service", "hello_v1.Web@1.service",
                "hello_v1.web@1@2.service", "hello_v1.w.b@1.service", "my_app_v1.web@1.service",
                "hello_v1.web@-1.service", "hello_v1.web@+1.service", "hello_v1.web@ 1.service",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *a = NULL;
                if (release_parse_instance_name(bad[i], &a, NULL, NULL, NULL) != -EINVAL) {
                        fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
                        free(a);
                        ASSERT_TRUE(false);
                }
                ASSERT_TRUE(!a);
        }
        ASSERT_INT(release_parse_instance_name(NULL, NULL, NULL, NULL, NULL), -EINVAL);
}

TEST(verify) {
        _cleanup_(release_done) Release r = {};

        ASSERT_INT(load_json_text(full_json, &r), 0);
        ASSERT_INT(release_verify(&r), 0);
        r.max_unavailable = 1;
        r.max_surge = 0;
        ASSERT_INT(release_verify(&r), 0);
        r.max_unavailable = 0;
        ASSERT_INT(release_verify(&r), -EINVAL);
        r.max_surge = 1;
        r.processes[0].scale = 0;
        ASSERT_INT(release_verify(&r), 0);
        r.processes[0].health.interval = RELEASE_HEALTH_USEC_MAX + 1;
        ASSERT_INT(release_verify(&r), -EINVAL);
        r.processes[0].health.enabled = false;
        ASSERT_INT(release_verify(&r), 0); /* the fields of a disabled check do not matter */
        r.runtime = _RUNTIME_MAX;
        ASSERT_INT(release_verify(&r), -EINVAL);
        r.runtime = RUNTIME_NSPAWN;
        ASSERT_INT(release_verify(&r), 0);
}

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

TEST(digest_and_pull) {
        _cleanup_(release_done) Release r = {}, back = {}, copy = {};
        _cleanup_free_ char *run = NULL, *plain = NULL;
        json_auto_t *j = NULL;

        ASSERT_INT(load_json_text(full_json, &r), 0);
        ASSERT_TRUE(!r.digest);
        ASSERT_INT(r.pull, IMAGE_PULL_DEFAULT);
        j = release_to_json(&r);
        ASSERT_TRUE(j && !json_object_get(j, "digest") && !json_object_get(j, "pull"));
        plain = release_run_image(&r);
        ASSERT_STR(plain, "localhost/hello:1.0");
        ASSERT_INT(release_pull_policy(&r), IMAGE_PULL_NEVER);
        json_decref(j);

        ASSERT_TRUE(free_and_strdup(&r.image, "10.0.0.1:5000/hello:b7") >= 0);
        ASSERT_TRUE(free_and_strdup(&r.digest, DIGEST) >= 0);
        r.pull = IMAGE_PULL_ALWAYS;
        ASSERT_INT(release_verify(&r), 0);
        run = release_run_image(&r);
        ASSERT_STR(run, "10.0.0.1:5000/hello@" DIGEST);
        j = release_to_json(&r);
        ASSERT_STR(json_string_value(json_object_get(j, "digest")), DIGEST);
        ASSERT_STR(json_string_value(json_object_get(j, "pull")), "always");
        ASSERT_INT(release_from_json(j, &back), 0);
        ASSERT_STR(back.digest, DIGEST);
        ASSERT_INT(back.pull, IMAGE_PULL_ALWAYS);
        ASSERT_TRUE(release_same_build(&r, &back));
        ASSERT_INT(release_copy(&r, &copy), 0);
        ASSERT_STR(copy.digest, DIGEST);
        ASSERT_INT(copy.pull, IMAGE_PULL_ALWAYS);

        /* a moved tag: same image text, another digest, another build */
        ASSERT_TRUE(free_and_strdup(&back.digest, "sha256:1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") >= 0);
        ASSERT_TRUE(!release_same_build(&r, &back));
        back.pull = IMAGE_PULL_DEFAULT;
        ASSERT_TRUE(free_and_strdup(&back.digest, DIGEST) >= 0);
        ASSERT_TRUE(!release_same_build(&r, &back));

        /* what the reader refuses */
        json_object_set_new(j, "digest", json_string("sha256:12"));
        ASSERT_INT(release_from_json(j, &back), -EBADMSG);
        json_object_set_new(j, "digest", json_string(DIGEST));
        json_object_set_new(j, "pull", json_string("sometimes"));
        ASSERT_INT(release_from_json(j, &back), -EBADMSG);
        json_object_set_new(j, "pull", json_integer(1));
        ASSERT_INT(release_from_json(j, &back), -EBADMSG);
        json_object_del(j, "pull");
        json_object_set_new(j, "runtime", json_string("nspawn"));
        ASSERT_INT(release_from_json(j, &back), -EBADMSG);     /* a digest only for containers */
        json_decref(j);
        j = NULL;

        r.runtime = RUNTIME_NSPAWN;
        free(r.digest);
        r.digest = NULL;
        ASSERT_INT(release_verify(&r), -EINVAL);               /* a pull policy only for containers */
        r.pull = IMAGE_PULL_DEFAULT;
        ASSERT_INT(release_verify(&r), 0);
        ASSERT_STR(image_pull_to_string(IMAGE_PULL_MISSING), "missing");
        ASSERT_TRUE(!image_pull_to_string(IMAGE_PULL_DEFAULT));
        ASSERT_INT(image_pull_from_string("never"), IMAGE_PULL_NEVER);
        ASSERT_INT(image_pull_from_string(NULL), _IMAGE_PULL_INVALID);
}

TEST(wants_digest) {
        _cleanup_(release_done) Release r = {};

        ASSERT_INT(load_json_text(full_json, &r), 0);
        ASSERT_TRUE(!release_wants_digest(&r));                 /* localhost/ */
        ASSERT_TRUE(free_and_strdup(&r.image, "10.0.0.1:5000/hello:b7") >= 0);
        ASSERT_TRUE(release_wants_digest(&r));
        r.pull = IMAGE_PULL_NEVER;
        ASSERT_TRUE(!release_wants_digest(&r));
        r.pull = IMAGE_PULL_ALWAYS;
        r.runtime = RUNTIME_NSPAWN;
        ASSERT_TRUE(!release_wants_digest(&r));
        r.runtime = RUNTIME_DOCKER;
        ASSERT_INT(release_digest_from_image(&r), 0);
        ASSERT_TRUE(!r.digest);
        ASSERT_TRUE(free_and_strdup(&r.image, "10.0.0.1:5000/hello@" DIGEST) >= 0);
        ASSERT_TRUE(!release_wants_digest(&r));                 /* given by digest */
        ASSERT_INT(release_digest_from_image(&r), 1);
        ASSERT_STR(r.digest, DIGEST);
        ASSERT_INT(release_digest_from_image(&r), 0);
        ASSERT_TRUE(!release_wants_digest(&r));
}

TEST_MAIN(T(runtime_strings),
          T(wants_digest),
          T(digest_and_pull),
          T(names),
          T(json_round_trip),
          T(json_config_order_kept),
          T(json_strict),
          T(json_limits),
          T(copy_and_same_build),
          T(same_build_differences),
          T(copy_of_empty),
          T(instance_names),
          T(verify));
