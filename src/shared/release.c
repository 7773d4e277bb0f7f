/* SPDX-License-Identifier: Apache-2.0 */
#include <limits.h>
#include <stdio.h>

#include "basic/strv.h"
#include "image-ref.h"
#include "release.h"

static const char * const runtime_table[_RUNTIME_MAX] = {
        [RUNTIME_PODMAN] = "podman",
        [RUNTIME_DOCKER] = "docker",
        [RUNTIME_NSPAWN] = "nspawn",
        [RUNTIME_EXEC] = "exec",
};

const char *runtime_to_string(Runtime r) {
        return r >= 0 && r < _RUNTIME_MAX ? runtime_table[r] : NULL;
}

Runtime runtime_from_string(const char *s) {
        for (Runtime i = 0; i < _RUNTIME_MAX; i++)
                if (streq_ptr(s, runtime_table[i]))
                        return i;
        return _RUNTIME_INVALID;
}

static const char * const image_pull_table[_IMAGE_PULL_MAX] = {
        [IMAGE_PULL_ALWAYS] = "always",
        [IMAGE_PULL_MISSING] = "missing",
        [IMAGE_PULL_NEVER] = "never",
};

const char *image_pull_to_string(ImagePull p) {
        return p > IMAGE_PULL_DEFAULT && p < _IMAGE_PULL_MAX ? image_pull_table[p] : NULL;
}

ImagePull image_pull_from_string(const char *s) {
        for (ImagePull i = IMAGE_PULL_DEFAULT + 1; i < _IMAGE_PULL_MAX; i++)
                if (streq_ptr(s, image_pull_table[i]))
                        return i;
        return _IMAGE_PULL_INVALID;
}

void process_type_done(ProcessType *p) {
        free(p->name);
        strv_free(p->command);
        free(p->health.http_path);
        metadata_free(p->constraints, p->n_constraints);
        *p = (ProcessType) {};
}

void release_done(Release *r) {
        free(r->app);
        free(r->image);
        free(r->digest);
        metadata_free(r->config, r->n_config);
        for (size_t i = 0; r->processes && i < r->n_processes; i++)
                process_type_done(&r->processes[i]);
        free(r->processes);
        free(r->cause);
        *r = (Release) {};
}

Release *release_free(Release *r) {
        if (r) {
                release_done(r);
                free(r);
        }
        return NULL;
}

const ProcessType *release_find_process(const Release *r, const char *name) {
        for (size_t i = 0; i < r->n_processes; i++)
                if (streq_ptr(r->processes[i].name, name))
                        return &r->processes[i];
        return NULL;
}

/* Name rules. Plain ASCII tests: isalnum() and friends depend on the locale. */

static bool is_lower_or_digit(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_word_char(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* [a-z][a-z0-9-]*, not ending in '-' (app names become DNS labels in the router's host names). */
static bool name_is_valid(const char *s, size_t max) {
        size_t n;

        if (!s || !(s[0] >= 'a' && s[0] <= 'z'))
                return false;
        for (n = 1; s[n]; n++)
                if (n >= max || (!is_lower_or_digit(s[n]) && s[n] != '-'))
                        return false;
        return s[n - 1] != '-';
}

bool release_app_name_is_valid(const char *s) {
        return name_is_valid(s, RELEASE_APP_NAME_MAX);
}

bool release_process_name_is_valid(const char *s) {
        return name_is_valid(s, RELEASE_PROCESS_NAME_MAX);
}

bool release_config_key_is_valid(const char *s) {
        if (isempty(s) || (s[0] >= '0' && s[0] <= '9') || streq(s, "PORT") || strlen(s) > RELEASE_STRING_MAX)
                return false;
        for (; *s; s++)
                if (!is_word_char(*s))
                        return false;
        return true;
}

bool release_constraint_key_is_valid(const char *s) {
        if (isempty(s) || strlen(s) > RELEASE_STRING_MAX)
                return false;
        for (; *s; s++)
                if (!is_word_char(*s) && *s != '.' && *s != '-')
                        return false;
        return true;
}

static bool is_control(char c) {
        return (unsigned char) c < ' ' || c == 0x7f;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

bool release_constraint_value_is_valid(const char *s) {
        size_t n;

        if (isempty(s) || (n = strlen(s)) > RELEASE_STRING_MAX || is_blank(s[0]) || is_blank(s[n - 1]))
                return false;
        for (; *s; s++)
                if (is_control(*s) || *s == ',' || *s == '=')
                        return false;
        return true;
}

/* 1-8192 bytes, none of them a blank or a control character. */
static bool is_token(const char *s) {
        if (isempty(s) || strlen(s) > RELEASE_STRING_MAX)
                return false;
        for (; *s; s++)
                if (is_control(*s) || is_blank(*s))
                        return false;
        return true;
}

bool release_image_is_valid(const char *s) {
        return is_token(s) && s[0] != '-';
}

bool release_http_path_is_valid(const char *s) {
        return is_token(s) && s[0] == '/';
}

char *release_run_image(const Release *r) {
        return r->digest ? image_ref_pin(r->image, r->digest) : strdup(r->image);
}

ImagePull release_pull_policy(const Release *r) {
        if (r->pull != IMAGE_PULL_DEFAULT)
                return r->pull;
        return image_ref_has_registry(r->image) ? IMAGE_PULL_MISSING : IMAGE_PULL_NEVER;
}

static bool runtime_is_container(Runtime rt) {
        return rt == RUNTIME_PODMAN || rt == RUNTIME_DOCKER;
}

bool release_wants_digest(const Release *r) {
        return runtime_is_container(r->runtime) && !r->digest && r->image && !strchr(r->image, '@') &&
               image_ref_has_registry(r->image) && release_pull_policy(r) != IMAGE_PULL_NEVER;
}

int release_digest_from_image(Release *r) {
        _cleanup_(image_ref_done) ImageRef ref = {};

        if (r->digest || !runtime_is_container(r->runtime) || image_ref_parse(r->image, &ref) < 0 || !ref.digest)
                return 0;
        r->digest = TAKE_PTR(ref.digest);
        return 1;
}

/* Verification. */

static bool string_is_valid(const char *s) {
        return s && strlen(s) <= RELEASE_STRING_MAX;
}

static bool pairs_are_valid(const MetadataPair *m, size_t n, size_t max, bool (*key_ok)(const char *),
                            bool (*value_ok)(const char *)) {
        if (n > max || (n > 0 && !m))
                return false;
        for (size_t i = 0; i < n; i++) {
                if (!key_ok(m[i].key) || !value_ok(m[i].value))
                        return false;
                for (size_t k = 0; k < i; k++)
                        if (streq(m[k].key, m[i].key))
                                return false;
        }
        return true;
}

static bool command_is_valid(char * const *command, bool has_port) {
        size_t n = strv_length(command);

        if (!command)
                return true;
        if (n == 0 || n > RELEASE_ARGS_MAX || isempty(command[0]))
                return false;
        STRV_FOREACH(a, command)
                if (!string_is_valid(*a) || (!has_port && strstr(*a, RELEASE_PORT_VARIABLE)))
                        return false;
        return true;
}

static bool health_is_valid(const HealthCheck *h, bool has_port) {
        if (!h->enabled)
                return true;
        return has_port &&
                (!h->http_path || release_http_path_is_valid(h->http_path)) &&
                h->interval > 0 && h->interval <= RELEASE_HEALTH_USEC_MAX &&
                h->timeout > 0 && h->timeout <= RELEASE_HEALTH_USEC_MAX &&
                h->threshold >= 1 && h->threshold <= RELEASE_THRESHOLD_MAX;
}

static bool process_is_valid(const ProcessType *p, Runtime runtime) {
        return release_process_name_is_valid(p->name) &&
                command_is_valid(p->command, p->port > 0) &&
                (p->command || runtime != RUNTIME_EXEC) &&
                p->scale <= RELEASE_SCALE_MAX &&
                health_is_valid(&p->health, p->port > 0) &&
                p->memory_bytes <= RELEASE_MEMORY_MAX &&
                p->cpu_millis <= RELEASE_CPU_MILLIS_MAX &&
                pairs_are_valid(p->constraints, p->n_constraints, RELEASE_CONSTRAINTS_MAX,
                                release_constraint_key_is_valid, release_constraint_value_is_valid);
}

static bool image_ref_parse_ok(const char *image) {
        _cleanup_(image_ref_done) ImageRef ref = {};
        return image_ref_parse(image, &ref) >= 0;
}

/* A digest pins a container image; the pull policy is the container runtimes' too. */
static bool image_fields_are_valid(const Release *r) {
        bool container = r->runtime == RUNTIME_PODMAN || r->runtime == RUNTIME_DOCKER;

        if (r->pull < IMAGE_PULL_DEFAULT || r->pull >= _IMAGE_PULL_MAX || (!container && r->pull != IMAGE_PULL_DEFAULT))
                return false;
        return !r->digest || (container && image_digest_is_valid(r->digest) && image_ref_parse_ok(r->image));
}

int release_verify(const Release *r) {
        if (!release_app_name_is_valid(r->app) || !release_image_is_valid(r->image) ||
            !runtime_to_string(r->runtime) || (r->cause && !string_is_valid(r->cause)) ||
            !image_fields_are_valid(r))
                return -EINVAL;
        if (!pairs_are_valid(r->config, r->n_config, RELEASE_CONFIG_MAX, release_config_key_is_valid,
                             string_is_valid))
                return -EINVAL;
        if (r->max_surge > RELEASE_ROLLOUT_MAX || r->max_unavailable > RELEASE_ROLLOUT_MAX ||
            (r->max_surge == 0 && r->max_unavailable == 0))
                return -EINVAL;

        if (r->n_processes == 0 || r->n_processes > RELEASE_PROCESSES_MAX || !r->processes)
                return -EINVAL;
        for (size_t i = 0; i < r->n_processes; i++) {
                if (!process_is_valid(&r->processes[i], r->runtime))
                        return -EINVAL;
                for (size_t k = 0; k < i; k++)
                        if (streq(r->processes[k].name, r->processes[i].name))
                                return -EINVAL;
        }
        return 0;
}

/* To JSON. Every helper returns NULL on OOM and steals nothing from its caller. */

static json_t *pairs_to_json(const MetadataPair *m, size_t n) {
        json_auto_t *o = json_object();

        if (!o)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (json_object_set_new(o, m[i].key, json_string(m[i].value)) < 0)
                        return NULL;
        return TAKE_PTR(o);
}

static json_t *strv_to_json(char * const *l) {
        json_auto_t *a = json_array();

        if (!a)
                return NULL;
        STRV_FOREACH(s, l)
                if (json_array_append_new(a, json_string(*s)) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

static json_t *health_to_json(const HealthCheck *h) {
        json_auto_t *o = json_pack("{s:I, s:I, s:I}",
                                   "interval_usec", (json_int_t) h->interval,
                                   "timeout_usec", (json_int_t) h->timeout,
                                   "threshold", (json_int_t) h->threshold);

        if (!o || (h->http_path && json_object_set_new(o, "http", json_string(h->http_path)) < 0))
                return NULL;
        return TAKE_PTR(o);
}

static json_t *process_to_json(const ProcessType *p) {
        json_auto_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:o}",
                                   "name", p->name,
                                   "port", (json_int_t) p->port,
                                   "scale", (json_int_t) p->scale,
                                   "memory_bytes", (json_int_t) p->memory_bytes,
                                   "cpu_millis", (json_int_t) p->cpu_millis,
                                   "constraints", pairs_to_json(p->constraints, p->n_constraints));

        if (!o)
                return NULL;
        if (p->command && json_object_set_new(o, "command", strv_to_json(p->command)) < 0)
                return NULL;
        if (p->health.enabled && json_object_set_new(o, "health", health_to_json(&p->health)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

json_t *release_to_json(const Release *r) {
        json_auto_t *processes = json_array(), *o = NULL;

        if (!processes)
                return NULL;
        for (size_t i = 0; i < r->n_processes; i++)
                if (json_array_append_new(processes, process_to_json(&r->processes[i])) < 0)
                        return NULL;

        o = json_pack("{s:s, s:I, s:s, s:s, s:o, s:O, s:I, s:I, s:I}",
                      "app", r->app,
                      "version", (json_int_t) r->version,
                      "image", r->image,
                      "runtime", runtime_to_string(r->runtime),
                      "config", pairs_to_json(r->config, r->n_config),
                      "processes", processes,
                      "max_surge", (json_int_t) r->max_surge,
                      "max_unavailable", (json_int_t) r->max_unavailable,
                      "created_usec", (json_int_t) r->created_usec);
        if (!o || (r->cause && json_object_set_new(o, "cause", json_string(r->cause)) < 0))
                return NULL;
        if ((r->digest && json_object_set_new(o, "digest", json_string(r->digest)) < 0) ||
            (image_pull_to_string(r->pull) && json_object_set_new(o, "pull", json_string(image_pull_to_string(r->pull))) < 0))
                return NULL;
        return TAKE_PTR(o);
}

/* From JSON. Every helper returns 0, -EBADMSG or -ENOMEM. */

/* Whether o is an object with no keys but the allowed ones. */
static bool object_has_only(const json_t *o, const char * const *allowed) {
        const char *k;
        json_t *v;

        if (!json_is_object(o))
                return false;
        json_object_foreach((json_t *) o, k, v) {
                bool found = false;
                for (const char * const *a = allowed; *a && !found; a++)
                        found = streq(*a, k);
                if (!found)
                        return false;
        }
        return true;
}

static int get_uint(const json_t *o, const char *key, uint64_t max, uint64_t *ret) {
        json_t *v = json_object_get(o, key);

        if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t) json_integer_value(v) > max)
                return -EBADMSG;
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

static int get_unsigned(const json_t *o, const char *key, unsigned max, unsigned *ret) {
        uint64_t u;
        int r = get_uint(o, key, max, &u);

        if (r >= 0)
                *ret = (unsigned) u;
        return r;
}

/* A JSON string without NUL bytes (jansson only lets them in when asked to, but be sure). */
static int dup_json_string(const json_t *v, char **ret) {
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                return -EBADMSG;
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

static int get_string(const json_t *o, const char *key, bool required, char **ret) {
        json_t *v = json_object_get(o, key);

        if (!v && !required)
                return 0;
        return dup_json_string(v, ret);
}

static int pairs_from_json(const json_t *o, MetadataPair **ret, size_t *ret_n) {
        const char *k;
        json_t *v;
        int r;

        if (!json_is_object(o))
                return -EBADMSG;
        /* release_verify() checks the count; this only keeps a huge object from being copied. */
        if (json_object_size(o) > MAX(RELEASE_CONFIG_MAX, RELEASE_CONSTRAINTS_MAX))
                return -EBADMSG;
        if (json_object_size(o) == 0)
                return 0;
        *ret = calloc(json_object_size(o) + 1, sizeof(MetadataPair));
        if (!*ret)
                return -ENOMEM;
        json_object_foreach((json_t *) o, k, v) {
                MetadataPair *p = &(*ret)[*ret_n];
                r = dup_json_string(v, &p->value);
                if (r < 0)
                        return r;
                (*ret_n)++;
                p->key = strdup(k);
                if (!p->key)
                        return -ENOMEM;
        }
        return 0;
}

static int command_from_json(const json_t *a, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t i;
        json_t *v;
        int r;

        if (!json_is_array(a) || json_array_size(a) > RELEASE_ARGS_MAX)
                return -EBADMSG;
        l = calloc(json_array_size(a) + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        json_array_foreach(a, i, v) {
                r = dup_json_string(v, &l[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int health_from_json(const json_t *o, HealthCheck *h) {
        static const char * const keys[] = { "http", "interval_usec", "timeout_usec", "threshold", NULL };
        int r;

        if (!o)
                return 0;
        if (!object_has_only(o, keys))
                return -EBADMSG;
        h->enabled = true;
        if ((r = get_string(o, "http", false, &h->http_path)) < 0 ||
            (r = get_uint(o, "interval_usec", RELEASE_HEALTH_USEC_MAX, &h->interval)) < 0 ||
            (r = get_uint(o, "timeout_usec", RELEASE_HEALTH_USEC_MAX, &h->timeout)) < 0 ||
            (r = get_unsigned(o, "threshold", RELEASE_THRESHOLD_MAX, &h->threshold)) < 0)
                return r;
        return 0;
}

static int process_from_json(const json_t *o, ProcessType *p) {
        static const char * const keys[] = {
                "name", "command", "port", "scale", "health", "memory_bytes", "cpu_millis", "constraints", NULL
        };
        json_t *command = json_object_get(o, "command");
        unsigned port = 0;
        int r;

        if (!object_has_only(o, keys))
                return -EBADMSG;
        if ((r = get_string(o, "name", true, &p->name)) < 0 ||
            (command && (r = command_from_json(command, &p->command)) < 0) ||
            (r = get_unsigned(o, "port", UINT16_MAX, &port)) < 0 ||
            (r = get_unsigned(o, "scale", RELEASE_SCALE_MAX, &p->scale)) < 0 ||
            (r = health_from_json(json_object_get(o, "health"), &p->health)) < 0 ||
            (r = get_uint(o, "memory_bytes", RELEASE_MEMORY_MAX, &p->memory_bytes)) < 0 ||
            (r = get_uint(o, "cpu_millis", RELEASE_CPU_MILLIS_MAX, &p->cpu_millis)) < 0 ||
            (r = pairs_from_json(json_object_get(o, "constraints"), &p->constraints, &p->n_constraints)) < 0)
                return r;
        p->port = (uint16_t) port;
        return 0;
}

static int processes_from_json(const json_t *a, Release *rel) {
        size_t i;
        json_t *v;
        int r;

        if (!json_is_array(a) || json_array_size(a) > RELEASE_PROCESSES_MAX)
                return -EBADMSG;
        rel->processes = calloc(json_array_size(a) + 1, sizeof(ProcessType));
        if (!rel->processes)
                return -ENOMEM;
        json_array_foreach(a, i, v) {
                rel->n_processes++;
                r = process_from_json(v, &rel->processes[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int pull_from_json(const json_t *v, ImagePull *ret) {
        ImagePull p;

        if (!v)
                return 0;
        p = image_pull_from_string(json_string_value(v));
        if (p < 0)
                return -EBADMSG;
        *ret = p;
        return 0;
}

static int runtime_from_json(const json_t *v, Runtime *ret) {
        Runtime rt = runtime_from_string(json_string_value(v));

        if (rt < 0)
                return -EBADMSG;
        *ret = rt;
        return 0;
}

int release_from_json(const json_t *j, Release *ret) {
        static const char * const keys[] = {
                "app", "version", "image", "runtime", "config", "processes", "max_surge", "max_unavailable",
                "cause", "created_usec", "digest", "pull", NULL
        };
        _cleanup_(release_done) Release rel = {};
        int r;

        if (!object_has_only(j, keys))
                return -EBADMSG;
        if ((r = get_string(j, "app", true, &rel.app)) < 0 ||
            (r = get_unsigned(j, "version", UINT_MAX, &rel.version)) < 0 ||
            (r = get_string(j, "image", true, &rel.image)) < 0 ||
            (r = runtime_from_json(json_object_get(j, "runtime"), &rel.runtime)) < 0 ||
            (r = pairs_from_json(json_object_get(j, "config"), &rel.config, &rel.n_config)) < 0 ||
            (r = processes_from_json(json_object_get(j, "processes"), &rel)) < 0 ||
            (r = get_unsigned(j, "max_surge", RELEASE_ROLLOUT_MAX, &rel.max_surge)) < 0 ||
            (r = get_unsigned(j, "max_unavailable", RELEASE_ROLLOUT_MAX, &rel.max_unavailable)) < 0 ||
            (r = get_string(j, "cause", false, &rel.cause)) < 0 ||
            (r = get_string(j, "digest", false, &rel.digest)) < 0 ||
            (r = pull_from_json(json_object_get(j, "pull"), &rel.pull)) < 0 ||
            (r = get_uint(j, "created_usec", INT64_MAX, &rel.created_usec)) < 0)
                return r;
        if (release_verify(&rel) < 0)
                return -EBADMSG;

        *ret = rel;
        rel = (Release) {};
        return 0;
}

/* Copies. */

static int dup_or_null(const char *s, char **ret) {
        *ret = s ? strdup(s) : NULL;
        return !s || *ret ? 0 : -ENOMEM;
}

static int pairs_copy(const MetadataPair *m, size_t n, MetadataPair **ret, size_t *ret_n) {
        if (n == 0)
                return 0;
        *ret = calloc(n, sizeof(MetadataPair));
        if (!*ret)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                (*ret)[i] = (MetadataPair) { .key = strdup(m[i].key), .value = strdup(m[i].value) };
                (*ret_n)++;
                if (!(*ret)[i].key || !(*ret)[i].value)
                        return -ENOMEM;
        }
        return 0;
}

/* Into a zeroed *d; on failure *d may own parts, for the caller to free. */
static int process_copy(const ProcessType *s, ProcessType *d) {
        d->port = s->port;
        d->scale = s->scale;
        d->health = (HealthCheck) {
                .interval = s->health.interval,
                .timeout = s->health.timeout,
                .threshold = s->health.threshold,
                .enabled = s->health.enabled,
        };
        d->memory_bytes = s->memory_bytes;
        d->cpu_millis = s->cpu_millis;
        if (s->command && !(d->command = strv_copy(s->command)))
                return -ENOMEM;
        if (dup_or_null(s->name, &d->name) < 0 || dup_or_null(s->health.http_path, &d->health.http_path) < 0)
                return -ENOMEM;
        return pairs_copy(s->constraints, s->n_constraints, &d->constraints, &d->n_constraints);
}

int release_copy(const Release *r, Release *ret) {
        _cleanup_(release_done) Release c = {
                .version = r->version,
                .runtime = r->runtime,
                .pull = r->pull,
                .max_surge = r->max_surge,
                .max_unavailable = r->max_unavailable,
                .created_usec = r->created_usec,
        };
        int k;

        if (dup_or_null(r->app, &c.app) < 0 || dup_or_null(r->image, &c.image) < 0 ||
            dup_or_null(r->digest, &c.digest) < 0 || dup_or_null(r->cause, &c.cause) < 0)
                return -ENOMEM;
        k = pairs_copy(r->config, r->n_config, &c.config, &c.n_config);
        if (k < 0)
                return k;
        if (r->n_processes > 0) {
                c.processes = calloc(r->n_processes, sizeof(ProcessType));
                if (!c.processes)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < r->n_processes; i++) {
                c.n_processes++;
                k = process_copy(&r->processes[i], &c.processes[i]);
                if (k < 0)
                        return k;
        }

        *ret = c;
        c = (Release) {};
        return 0;
}

/* Comparison. */

static bool strv_equal(char * const *a, char * const *b) {
        if (!a || !b)
                return a == b;
        for (; *a && *b; a++, b++)
                if (!streq(*a, *b))
                        return false;
        return !*a && !*b;
}

/* Same keys with the same values, in any order (keys are unique in a valid release). */
static bool pairs_equal(const MetadataPair *a, size_t na, const MetadataPair *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++) {
                bool found = false;
                for (size_t k = 0; k < nb && !found; k++)
                        found = streq_ptr(a[i].key, b[k].key) && streq_ptr(a[i].value, b[k].value);
                if (!found)
                        return false;
        }
        return true;
}

static bool health_equal(const HealthCheck *a, const HealthCheck *b) {
        if (!a->enabled || !b->enabled)
                return a->enabled == b->enabled;
        return streq_ptr(a->http_path, b->http_path) && a->interval == b->interval &&
                a->timeout == b->timeout && a->threshold == b->threshold;
}

static bool process_same_build(const ProcessType *a, const ProcessType *b) {
        return streq_ptr(a->name, b->name) &&
                strv_equal(a->command, b->command) &&
                a->port == b->port &&
                health_equal(&a->health, &b->health) &&
                a->memory_bytes == b->memory_bytes &&
                a->cpu_millis == b->cpu_millis &&
                pairs_equal(a->constraints, a->n_constraints, b->constraints, b->n_constraints);
}

bool release_same_build(const Release *a, const Release *b) {
        if (!streq_ptr(a->app, b->app) || !streq_ptr(a->image, b->image) || !streq_ptr(a->digest, b->digest) ||
            a->pull != b->pull || a->runtime != b->runtime ||
            !pairs_equal(a->config, a->n_config, b->config, b->n_config) || a->n_processes != b->n_processes)
                return false;
        for (size_t i = 0; i < a->n_processes; i++) {
                const ProcessType *q = release_find_process(b, a->processes[i].name);
                if (!q || !process_same_build(&a->processes[i], q))
                        return false;
        }
        return true;
}

/* Instance names. */

char *release_instance_name(const Release *r, const char *process, unsigned instance) {
        char *s;

        if (asprintf(&s, "%s_v%u.%s@%u.service", r->app, r->version, process, instance) < 0)
                return NULL;
        return s;
}

/* A decimal number without sign, blanks or leading zeros, up to the first character not a
 * digit; *p is moved past it. */
static int parse_decimal(const char **p, unsigned *ret) {
        const char *s = *p;
        unsigned long long n = 0;
        size_t len = strspn(s, "0123456789");

        if (len == 0 || len > 10 || (len > 1 && s[0] == '0'))
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                n = n * 10 + (unsigned) (s[i] - '0');
        if (n > UINT_MAX)
                return -EINVAL;
        *p = s + len;
        *ret = (unsigned) n;
        return 0;
}

int release_parse_instance_name(const char *unit, char **ret_app, unsigned *ret_version, char **ret_process,
                                unsigned *ret_instance) {
        _cleanup_free_ char *app = NULL, *process = NULL;
        const char *p, *dot, *at;
        unsigned version, instance;

        /* App names have no '_', process names no '.' or '@': every separator is the first. */
        p = unit ? strchr(unit, '_') : NULL;
        if (!p || !(p = startswith(p, "_v")))
                return -EINVAL;
        app = strndup(unit, p - 2 - unit);
        if (!app)
                return -ENOMEM;
        if (parse_decimal(&p, &version) < 0 || *p != '.')
                return -EINVAL;
        dot = p + 1;
        at = strchr(dot, '@');
        if (!at)
                return -EINVAL;
        process = strndup(dot, at - dot);
        if (!process)
                return -ENOMEM;
        p = at + 1;
        if (parse_decimal(&p, &instance) < 0 || instance == 0 || !streq(p, ".service"))
                return -EINVAL;
        if (!release_app_name_is_valid(app) || !release_process_name_is_valid(process))
                return -EINVAL;

        if (ret_app)
                *ret_app = TAKE_PTR(app);
        if (ret_version)
                *ret_version = version;
        if (ret_process)
                *ret_process = TAKE_PTR(process);
        if (ret_instance)
                *ret_instance = instance;
        return 0;
}
