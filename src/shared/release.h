/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Apps and releases (the Heroku/Deis model). An app manifest (YAML, see manifest.h) names an
 * image, a runtime, config and process types; every deploy, config change or rollback makes a
 * new immutable release vN of the app. A release is the manifest's content plus a version,
 * a cause and a creation time. PURE: data and JSON conversion only. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/macros.h"
#include "basic/time-util.h"
#include "metadata.h"

typedef enum Runtime {
        RUNTIME_PODMAN,               /* default */
        RUNTIME_DOCKER,
        RUNTIME_NSPAWN,
        RUNTIME_EXEC,
        _RUNTIME_MAX,
        _RUNTIME_INVALID = -EINVAL,
} Runtime;

/* "podman", "docker", "nspawn", "exec"; NULL for anything out of range. */
const char *runtime_to_string(Runtime r);
/* The reverse; _RUNTIME_INVALID for anything else (NULL included). */
Runtime runtime_from_string(const char *s);

/* When the hosts pull an instance's image (podman and docker only): the manifest's `pull:`. */
typedef enum ImagePull {
        IMAGE_PULL_DEFAULT,           /* missing for an image of a registry, never for the others */
        IMAGE_PULL_ALWAYS,            /* ask the registry at every start */
        IMAGE_PULL_MISSING,           /* pull only when the host does not have it */
        IMAGE_PULL_NEVER,             /* it must be on the host beforehand */
        _IMAGE_PULL_MAX,
        _IMAGE_PULL_INVALID = -EINVAL,
} ImagePull;

/* "always", "missing", "never"; NULL for IMAGE_PULL_DEFAULT and anything out of range. */
const char *image_pull_to_string(ImagePull p);
/* The reverse; _IMAGE_PULL_INVALID for anything else (NULL included). */
ImagePull image_pull_from_string(const char *s);

/* Limits and defaults. The manifest parser enforces them with a message, release_verify() and
 * release_from_json() without one. */
#define RELEASE_APP_NAME_MAX      40
#define RELEASE_PROCESS_NAME_MAX  30
#define RELEASE_PROCESSES_MAX     50
#define RELEASE_CONFIG_MAX        200                   /* config entries */
#define RELEASE_CONSTRAINTS_MAX   50                    /* constraints.metadata entries per process */
#define RELEASE_ARGS_MAX          256                   /* command arguments */
#define RELEASE_STRING_MAX        ((size_t) 8192)       /* bytes in any one string */
#define RELEASE_SCALE_MAX         1000u
#define RELEASE_ROLLOUT_MAX       1000u                 /* max_surge, max_unavailable */
#define RELEASE_THRESHOLD_MAX     100u
#define RELEASE_HEALTH_USEC_MAX   ((usec_t) 3600 * USEC_PER_SEC) /* interval, timeout */
#define RELEASE_CPU_MILLIS_MAX    ((uint64_t) 1000 * 1000)       /* 1000 cores */
#define RELEASE_MEMORY_MAX        ((uint64_t) 1 << 50)           /* 1024T */

#define HEALTH_INTERVAL_DEFAULT   ((usec_t) 2 * USEC_PER_SEC)
#define HEALTH_TIMEOUT_DEFAULT    ((usec_t) 1 * USEC_PER_SEC)
#define HEALTH_THRESHOLD_DEFAULT  3u
#define PROCESS_SCALE_DEFAULT     1u
#define ROLLOUT_MAX_SURGE_DEFAULT 1u
#define ROLLOUT_MAX_UNAVAILABLE_DEFAULT 0u

/* The one expansion done in commands: replaced by the instance's assigned port. */
#define RELEASE_PORT_VARIABLE "${PORT}"

typedef struct HealthCheck {
        char *http_path;              /* HTTP GET this path on $PORT; NULL: TCP connect to $PORT */
        usec_t interval;              /* default 2s */
        usec_t timeout;               /* default 1s */
        unsigned threshold;           /* consecutive failures before unhealthy; default 3 */
        bool enabled;                 /* a health: block was given */
} HealthCheck;

typedef struct ProcessType {
        char *name;                   /* [a-z][a-z0-9-]*, at most 30 characters */
        char **command;               /* argv; NULL: the image's own command. The only expansion
                                       * in it is the literal ${PORT}; every other $ and % is
                                       * passed through literally. */
        uint16_t port;                /* 0: the process serves no port. Else the port it would
                                       * use alone; fleetd runs it with $PORT set to a free host
                                       * port it assigned and the process must listen there. */
        unsigned scale;               /* instances; default 1 */
        HealthCheck health;
        uint64_t memory_bytes;        /* resources.memory; 0: no limit */
        uint64_t cpu_millis;          /* resources.cpu in millicores; 0: no limit */
        MetadataPair *constraints;    /* constraints.metadata: placement on machines with these */
        size_t n_constraints;
} ProcessType;

typedef struct Release {
        char *app;                    /* [a-z][a-z0-9-]*, at most 40 characters */
        unsigned version;             /* 0 in a manifest not yet released */
        char *image;                  /* as the manifest (or the build) gave it */
        char *digest;                 /* "sha256:<hex>": the image's manifest digest when the release
                                       * was made (podman, docker); NULL: not pinned (an image that
                                       * is not in a registry) */
        ImagePull pull;
        Runtime runtime;
        MetadataPair *config;         /* environment, in the manifest's order; keys are
                                       * [A-Za-z_][A-Za-z0-9_]* and not PORT */
        size_t n_config;
        ProcessType *processes;       /* in the manifest's order */
        size_t n_processes;
        unsigned max_surge;           /* rollout: extra new instances at once; default 1 */
        unsigned max_unavailable;     /* rollout: old instances stopped before their replacement
                                       * is healthy; default 0 */
        char *cause;                  /* "deploy", "config set X", "rollback to v3", ... */
        uint64_t created_usec;        /* realtime */
} Release;

/* Free what the struct owns and zero it (the struct itself stays). */
void process_type_done(ProcessType *p);
void release_done(Release *r);
/* release_done() and free(r); NULL is fine. Returns NULL. */
Release *release_free(Release *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Release *, release_free);

/* The process type of that name, or NULL. */
const ProcessType *release_find_process(const Release *r, const char *name);

/* Name rules: app names are [a-z][a-z0-9-]* of at most 40 characters, process names the same
 * of at most 30; config keys are [A-Za-z_][A-Za-z0-9_]* of at most 8192 bytes and not PORT.
 * Constraint keys and values follow parse_metadata()'s rules (config.h), since they are matched
 * against machines' metadata. NULL is invalid. */
bool release_app_name_is_valid(const char *s);
bool release_process_name_is_valid(const char *s);
bool release_config_key_is_valid(const char *s);
bool release_constraint_key_is_valid(const char *s);
bool release_constraint_value_is_valid(const char *s);
/* An image reference: 1-8192 bytes, no blanks or control characters, not starting with '-'
 * (it ends up as an argument of podman/docker run). */
bool release_image_is_valid(const char *s);
/* A health check path: starts with '/', no blanks or control characters, at most 8192 bytes. */
bool release_http_path_is_valid(const char *s);

/* What the instances run: image pinned to its digest ("REGISTRY/PATH@sha256:...") when the
 * release has one, else image as it is. A new string, or NULL on OOM. */
char *release_run_image(const Release *r);
/* The pull policy the units follow: r->pull, or for IMAGE_PULL_DEFAULT missing when the image
 * names a registry (image_ref_has_registry()) and never otherwise. */
ImagePull release_pull_policy(const Release *r);

/* Whether a deploy of r asks the registry for the image's digest: a podman or docker release of
 * an image of a registry, not pinned yet (no digest, none in the reference), pulled (a policy
 * other than never: an image the hosts must have already is not looked up). */
bool release_wants_digest(const Release *r);
/* An image given by digest ("REGISTRY/PATH@sha256:...") pins the release to that digest: sets
 * r->digest from it unless r has one. Returns 1 if it set it, 0 if not, -ENOMEM. */
int release_digest_from_image(Release *r);

/* Checks every rule of a release (names, limits, uniqueness of processes, config keys and
 * constraint keys, health only with a port, ${PORT} only in commands of processes with a port,
 * a command for every process of the exec runtime, max_surge and max_unavailable not both 0, a
 * digest only as image_digest_is_valid() says and a digest or pull policy only for podman and
 * docker).
 * Returns 0 or -EINVAL; never allocates. */
int release_verify(const Release *r);

/* JSON as stored in releases/<app>/v<N> (the layout is in docs/manifest.md). to_json: a new
 * reference, or NULL on OOM or a string that is not UTF-8. from_json: -EBADMSG for anything
 * fleetd would not write (unknown or missing keys, wrong types, values out of range, a release
 * that fails release_verify()), -ENOMEM; *ret (to be released with release_done()) is written
 * only on success. */
json_t *release_to_json(const Release *r);
int release_from_json(const json_t *j, Release *ret);
/* A deep copy into *ret (written only on success). Returns 0 or -ENOMEM. */
int release_copy(const Release *r, Release *ret);
/* True if two releases would run the same thing (image, digest, pull policy, runtime, config, processes' commands,
 * ports, health, resources, constraints): version, cause, time, scale and the rollout settings
 * do not count, nor does the order of config entries, of processes or of constraints. An
 * unchanged deploy makes no new release. */
bool release_same_build(const Release *a, const Release *b);

/* The instance unit name "<app>_v<N>.<process>@<i>.service" (i from 1), or NULL on OOM. */
char *release_instance_name(const Release *r, const char *process, unsigned instance);
/* Takes an instance unit name apart; -EINVAL if it is not of that form (valid app and process
 * names, N and i decimal without leading zeros, i >= 1), -ENOMEM. Every ret_ may be NULL; they
 * are written only on success, the strings owned by the caller. */
int release_parse_instance_name(const char *unit, char **ret_app, unsigned *ret_version, char **ret_process,
                                unsigned *ret_instance);
