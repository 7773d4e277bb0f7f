/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "basic/error-util.h"
#include "basic/strv.h"
#include "basic/unit-escape.h"
#include "basic/utf8.h"
#include "image-ref.h"
#include "unit-gen.h"

#define APP_NAME_MAX     40
#define PROCESS_NAME_MAX 30
#define IMAGE_MAX        1024
#define MACHINE_NAME_MAX 64 /* systemd's hostname limit, which machine names follow */

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

#define TIMEOUT_START      "60s"
#define TIMEOUT_START_PULL "5min"

/* The only variable systemd may substitute in a command line. */
static char *const port_variable[] = { (char *) "PORT", NULL };

typedef struct Gen {
        const Release *r;
        const ProcessType *p;
        unsigned instance;
        char *const *command; /* p->command, NULL when it is missing or empty */
        char *name;           /* container or machine name; NULL for exec */
        char *image;          /* podman, docker: what runs (release_run_image()) */
        ImagePull pull;       /* podman, docker: release_pull_policy() */
        UnitFile *uf;
        char *error;
} Gen;

static void gen_done(Gen *g) {
        free(g->name);
        free(g->image);
        unit_file_free(g->uf);
        free(g->error);
}

/* Records the first problem as the message; returns -EINVAL (-ENOMEM if the message cannot be
 * made). */
_printf_(2, 3) static int fail(Gen *g, const char *fmt, ...) {
        va_list ap;
        int r;

        if (g->error)
                return -EINVAL;
        va_start(ap, fmt);
        r = error_setv(&g->error, -EINVAL, fmt, ap);
        va_end(ap);
        return r;
}

/* --- names --- */

/* [a-z][a-z0-9-]*, 1 to max characters: app and process names, safe in unit, container and
 * machine names and in Description= (no '%'). */
static bool name_is_valid(const char *s, size_t max) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > max || !(s[0] >= 'a' && s[0] <= 'z'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

int unit_gen_container_name(const Release *r, const char *process, unsigned instance, char **ret) {
        int n;

        switch (r->runtime) {
        case RUNTIME_PODMAN:
        case RUNTIME_DOCKER:
                n = asprintf(ret, "%s_v%u.%s-%u", r->app, r->version, process, instance);
                break;
        case RUNTIME_NSPAWN:
                n = asprintf(ret, "%s-v%u.%s-%u", r->app, r->version, process, instance);
                break;
        default:
                return -EINVAL;
        }
        return n < 0 ? -ENOMEM : 0;
}

int unit_gen_port_file(const char *unit, char **ret) {
        return asprintf(ret, UNIT_GEN_PORTS_DIR "/%s.env", unit) < 0 ? -ENOMEM : 0;
}

/* --- checks --- */

static bool has_control_char(const char *s, const char *allowed) {
        for (; *s; s++)
                if (((unsigned char) *s < 0x20 || *s == 0x7f) && !strchr(allowed, *s))
                        return true;
        return false;
}

/* s for a message, or a placeholder if printing it could break the message's line. */
static const char *shown(const char *s) {
        if (!s)
                return "";
        return has_control_char(s, "") || !utf8_is_valid_full(s, UTF8_NO_NONCHARACTERS) ? "(unprintable)" : s;
}

/* An absolute path without "//", "." or ".." components, a trailing '/' or control characters:
 * what systemd accepts as an executable and nspawn as a directory, unchanged. */
static bool path_is_plain_absolute(const char *p) {
        if (p[0] != '/' || p[1] == 0 || has_control_char(p, ""))
                return false;
        for (const char *c = p; c; c = strchr(c + 1, '/')) {
                size_t n = strcspn(c + 1, "/");
                if (n == 0 || (n == 1 && c[1] == '.') || (n == 2 && c[1] == '.' && c[2] == '.'))
                        return false;
        }
        return true;
}

bool unit_gen_image_is_pulled(const char *image) {
        return image_ref_has_registry(image);
}

/* An image reference podman and docker take as one: [A-Za-z0-9] then [A-Za-z0-9._:/@+-]. The
 * first character matters most: a '-' would make it an option of `podman run`. */
static bool container_image_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > IMAGE_MAX || !strchr(ALNUM, s[0]))
                return false;
        return strspn(s, ALNUM "._:/@+-") == n;
}

/* A directory name under /var/lib/machines. */
static bool machine_image_name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > MACHINE_NAME_MAX || !strchr(ALNUM, s[0]))
                return false;
        return strspn(s, ALNUM "._-") == n;
}

static int check_names(Gen *g) {
        const Release *r = g->r;
        const ProcessType *p = g->p;

        if (!name_is_valid(r->app, APP_NAME_MAX))
                return fail(g, "app '%s': not a valid app name ([a-z][a-z0-9-]*, at most %d characters)",
                            shown(r->app), APP_NAME_MAX);
        if (r->version == 0)
                return fail(g, "app %s: release has no version; only released versions have units", r->app);
        if (!name_is_valid(p->name, PROCESS_NAME_MAX))
                return fail(g, "process '%s': not a valid process name ([a-z][a-z0-9-]*, at most %d characters)",
                            shown(p->name), PROCESS_NAME_MAX);
        if (g->instance == 0)
                return fail(g, "process %s: instance 0; instances count from 1", p->name);
        if (r->runtime < 0 || r->runtime >= _RUNTIME_MAX)
                return fail(g, "app %s: unknown runtime %d", r->app, (int) r->runtime);
        return 0;
}

static int check_image(Gen *g) {
        const char *image = g->r->image;

        switch (g->r->runtime) {
        case RUNTIME_PODMAN:
        case RUNTIME_DOCKER:
                if (isempty(image))
                        return fail(g, "image: missing; runtime %s needs one", runtime_to_string(g->r->runtime));
                if (!container_image_is_valid(image))
                        return fail(g, "image '%s': not an image reference (letters, digits and \"._:/@+-\", "
                                    "starting with a letter or digit)", shown(image));
                if (g->r->digest && !image_digest_is_valid(g->r->digest))
                        return fail(g, "image '%s': digest '%s' is not sha256:<64 hex digits>", shown(image),
                                    shown(g->r->digest));
                g->image = release_run_image(g->r);
                if (!g->image)
                        return fail(g, "image '%s': cannot be pinned to digest %s", shown(image), g->r->digest);
                if (!container_image_is_valid(g->image))
                        return fail(g, "image '%s': not an image reference", shown(g->image));
                g->pull = release_pull_policy(g->r);
                return 0;
        case RUNTIME_NSPAWN:
                if (isempty(image))
                        return fail(g, "image: missing; runtime nspawn needs a directory");
                if (image[0] == '/' ? !path_is_plain_absolute(image) : !machine_image_name_is_valid(image))
                        return fail(g, "image '%s': runtime nspawn needs an absolute directory path or the name "
                                    "of a directory under " UNIT_GEN_MACHINES_DIR, shown(image));
                return 0;
        default:
                return 0; /* exec: checked with the command */
        }
}

/* The program of the exec runtime, a host path: systemd would take a leading '-', '@', ... for
 * a prefix and does not expand '$' in the path it runs. */
static int check_exec_program(Gen *g, const char *what, const char *path) {
        if (!path_is_plain_absolute(path))
                return fail(g, "%s '%s': runtime exec needs an absolute path (no \"//\", \".\" or \"..\" "
                            "components, no control characters)", what, shown(path));
        if (strchr(path, '$'))
                return fail(g, "%s '%s': '$' is not allowed in the program's path", what, shown(path));
        return 0;
}

static int check_command(Gen *g) {
        const ProcessType *p = g->p;

        STRV_FOREACH(a, g->command) {
                if (!utf8_is_valid_full(*a, UTF8_NO_NONCHARACTERS))
                        return fail(g, "process %s: command word %zu is not valid UTF-8", p->name,
                                    (size_t) (a - g->command) + 1);
                if (p->port == 0 && strstr(*a, "${PORT}"))
                        return fail(g, "process %s: command uses ${PORT} but the process has no port", p->name);
        }
        if (g->command && isempty(g->command[0]))
                return fail(g, "process %s: the command's first word is empty", p->name);

        if (g->r->runtime != RUNTIME_EXEC)
                return 0;
        if (g->command)
                return check_exec_program(g, "command", g->command[0]);
        if (isempty(g->r->image))
                return fail(g, "process %s: runtime exec needs a command or, as the image, a program path", p->name);
        return check_exec_program(g, "image", g->r->image);
}

const char *unit_gen_config_key_reserved(Runtime rt, const char *key) {
        /* Prefixes end in '_'; the other entries are whole names. */
        static const char *const everywhere[] = {
                "PORT", "NOTIFY_SOCKET", "LISTEN_", "WATCHDOG_", "FLEETD_",
        };
        static const char *const container_runtimes[] = {
                "LD_", "GCONV_PATH", "GLIBC_TUNABLES", "PATH", "HOME", "TMPDIR", "XDG_", "CONTAINERS_",
                "CONTAINER_", "PODMAN_", "BUILDAH_", "STORAGE_DRIVER", "STORAGE_OPTS", "REGISTRY_AUTH_FILE",
                "DOCKER_", "SYSTEMD_", "DBUS_", "GODEBUG", "GOTRACEBACK", "SSL_CERT_FILE", "SSL_CERT_DIR",
        };

        for (size_t i = 0; i < ELEMENTSOF(everywhere); i++) {
                const char *e = everywhere[i];
                if (e[strlen(e) - 1] == '_' ? !!startswith(key, e) : streq(key, e))
                        return "systemd and fleetd set it for the unit themselves";
        }
        if (rt == RUNTIME_EXEC)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(container_runtimes); i++) {
                const char *e = container_runtimes[i];
                if (e[strlen(e) - 1] == '_' ? !!startswith(key, e) : streq(key, e))
                        return "the runtime program, which runs as root with the unit's environment, "
                               "would read it too; set it in the image instead";
        }
        return NULL;
}

static bool env_name_is_valid(const char *s) {
        if (isempty(s) || (s[0] >= '0' && s[0] <= '9'))
                return false;
        return strspn(s, ALNUM "_") == strlen(s);
}

static int check_config(Gen *g) {
        const Release *r = g->r;

        for (size_t i = 0; i < r->n_config; i++) {
                const char *key = r->config[i].key, *value = r->config[i].value, *why;

                if (!env_name_is_valid(key))
                        return fail(g, "config '%s': not a variable name ([A-Za-z_][A-Za-z0-9_]*)", shown(key));
                why = unit_gen_config_key_reserved(r->runtime, key);
                if (why)
                        return fail(g, "config %s: reserved for runtime %s: %s", key, runtime_to_string(r->runtime),
                                    why);
                if (!value)
                        return fail(g, "config %s: no value", key);
                if (!utf8_is_valid_full(value, UTF8_NO_NONCHARACTERS))
                        return fail(g, "config %s: the value is not valid UTF-8", key);
                if (has_control_char(value, "\t\n"))
                        return fail(g, "config %s: the value holds a control character other than tab and "
                                    "newline, which systemd before 248 drops", key);
                for (size_t j = 0; j < i; j++)
                        if (streq(r->config[j].key, key))
                                return fail(g, "config %s: given twice", key);
        }
        return 0;
}

static bool metadata_word_is_valid(const char *s) {
        if (isempty(s) || !utf8_is_valid_full(s, UTF8_NO_NONCHARACTERS) || has_control_char(s, ""))
                return false;
        return !strpbrk(s, " \t");
}

static int check_constraints(Gen *g) {
        const ProcessType *p = g->p;

        for (size_t i = 0; i < p->n_constraints; i++) {
                const char *k = p->constraints[i].key, *v = p->constraints[i].value;

                if (!metadata_word_is_valid(k) || strchr(k, '=') || !metadata_word_is_valid(v))
                        return fail(g, "process %s: constraint '%s=%s': keys and values must be non-empty, without "
                                    "blanks or control characters, and keys without '='",
                                    p->name, shown(k), shown(v));
        }
        return 0;
}

static int check(Gen *g) {
        int r;

        if ((r = check_names(g)) < 0 || (r = check_image(g)) < 0 || (r = check_command(g)) < 0 ||
            (r = check_config(g)) < 0 || (r = check_constraints(g)) < 0)
                return r;
        return 0;
}

/* --- writing --- */

static int add(Gen *g, const char *section, const char *key, const char *value) {
        int r = unit_file_add(g->uf, section, key, value);

        if (r == -ENOBUFS)
                return fail(g, "process %s: %s= would be longer than a unit-file line may be (%zu bytes)",
                            g->p->name, key, UNIT_FILE_LINE_MAX);
        if (r == -EINVAL) /* everything is checked and escaped before: a bug if it happens */
                return fail(g, "process %s: %s=%s cannot be written to a unit file", g->p->name, key, value);
        return r;
}

_printf_(4, 5) static int addf(Gen *g, const char *section, const char *key, const char *fmt, ...) {
        _cleanup_free_ char *value = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&value, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        return add(g, section, key, value);
}

/* key=[-]argv, every word escaped; with ignore_failure the command's failure is not the unit's. */
static int add_exec(Gen *g, const char *key, bool ignore_failure, char **argv) {
        _cleanup_free_ char *line = NULL;
        int r;

        r = unit_escape_command_line(argv, UNIT_ESCAPE_EXEC, g->p->port ? port_variable : NULL, &line);
        if (r == -EINVAL)
                return fail(g, "process %s: %s= cannot be written (not UTF-8)", g->p->name, key);
        if (r < 0)
                return r;
        return addf(g, "Service", key, "%s%s", ignore_failure ? "-" : "", line);
}

/* Appends each of the words (up to NULL) to *argv. */
__attribute__((sentinel)) static int argv_add(char ***argv, ...) {
        va_list ap;
        int r = 0;

        va_start(ap, argv);
        for (const char *w; r >= 0 && (w = va_arg(ap, const char *));)
                r = strv_extend(argv, w);
        va_end(ap);
        return r;
}

_printf_(2, 3) static int argv_addf(char ***argv, const char *fmt, ...) {
        char *w;
        va_list ap;
        int n, r;

        va_start(ap, fmt);
        n = vasprintf(&w, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        r = strv_push(argv, w);
        if (r < 0)
                free(w);
        return r;
}

/* "--env=PORT" and "--env=KEY" for each config entry (flag "--setenv=" for nspawn). */
static int argv_add_env_names(Gen *g, char ***argv, const char *flag) {
        int r;

        if (g->p->port && (r = argv_addf(argv, "%sPORT", flag)) < 0)
                return r;
        for (size_t i = 0; i < g->r->n_config; i++)
                if ((r = argv_addf(argv, "%s%s", flag, g->r->config[i].key)) < 0)
                        return r;
        return 0;
}

/* 1500 millicores -> "1.5", 2000 -> "2", 125 -> "0.125". */
static int argv_add_cpus(char ***argv, uint64_t millis) {
        char frac[8];
        size_t n;

        snprintf(frac, sizeof(frac), "%03u", (unsigned) (millis % 1000));
        for (n = 3; n > 0 && frac[n - 1] == '0'; n--)
                frac[n - 1] = 0;
        return argv_addf(argv, "--cpus=%" PRIu64 "%s%s", millis / 1000, n > 0 ? "." : "", frac);
}

static int argv_add_command(Gen *g, char ***argv) {
        STRV_FOREACH(a, g->command) {
                int r = strv_extend(argv, *a);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "--pull=POLICY", and for podman the auth file when it may pull. */
static int argv_add_pull(Gen *g, char ***argv, bool authfile) {
        int r = argv_addf(argv, "--pull=%s", image_pull_to_string(g->pull));

        if (r >= 0 && authfile && g->pull != IMAGE_PULL_NEVER)
                r = argv_add(argv, "--authfile=" UNIT_GEN_AUTH_FILE, NULL);
        return r;
}

static int gen_podman(Gen *g) {
        _cleanup_strv_free_ char **run = NULL, **rm = NULL;
        const ProcessType *p = g->p;
        int r;

        if ((r = argv_add(&run, UNIT_GEN_PODMAN, "run", NULL)) < 0 ||
            (r = argv_addf(&run, "--name=%s", g->name)) < 0 ||
            (r = argv_add(&run, "--replace", "--rm", "-d", "--sdnotify=conmon", "--init", NULL)) < 0 ||
            (r = argv_add_pull(g, &run, true)) < 0 || (r = argv_add(&run, "--network=host", NULL)) < 0 ||
            (r = argv_addf(&run, "--label=" UNIT_GEN_LABEL "=%s", g->r->app)) < 0 ||
            (r = argv_add_env_names(g, &run, "--env=")) < 0 ||
            (p->memory_bytes && (r = argv_addf(&run, "--memory=%" PRIu64, p->memory_bytes)) < 0) ||
            (p->cpu_millis && (r = argv_add_cpus(&run, p->cpu_millis)) < 0) ||
            (r = argv_add(&run, g->image, NULL)) < 0 || (r = argv_add_command(g, &run)) < 0 ||
            (r = argv_add(&rm, UNIT_GEN_PODMAN, "rm", "-v", "-f", "-i", g->name, NULL)) < 0)
                return r;

        if ((r = add_exec(g, "ExecStart", false, run)) < 0 || (r = add_exec(g, "ExecStop", false, rm)) < 0 ||
            (r = add_exec(g, "ExecStopPost", true, rm)) < 0)
                return r;
        return 0;
}

static int gen_docker(Gen *g) {
        _cleanup_strv_free_ char **run = NULL, **rm = NULL, **stop = NULL;
        const ProcessType *p = g->p;
        int r;

        if ((r = argv_add(&run, UNIT_GEN_DOCKER, "run", "--rm", NULL)) < 0 ||
            (r = argv_addf(&run, "--name=%s", g->name)) < 0 || (r = argv_add(&run, "--init", NULL)) < 0 ||
            (r = argv_add_pull(g, &run, false)) < 0 || (r = argv_add(&run, "--network=host", NULL)) < 0 ||
            (r = argv_addf(&run, "--label=" UNIT_GEN_LABEL "=%s", g->r->app)) < 0 ||
            (r = argv_add_env_names(g, &run, "--env=")) < 0 ||
            (p->memory_bytes && (r = argv_addf(&run, "--memory=%" PRIu64, p->memory_bytes)) < 0) ||
            (p->cpu_millis && (r = argv_add_cpus(&run, p->cpu_millis)) < 0) ||
            (r = argv_add(&run, g->image, NULL)) < 0 || (r = argv_add_command(g, &run)) < 0 ||
            (r = argv_add(&rm, UNIT_GEN_DOCKER, "rm", "-f", g->name, NULL)) < 0 ||
            (r = argv_add(&stop, UNIT_GEN_DOCKER, "stop", g->name, NULL)) < 0)
                return r;

        if ((r = add_exec(g, "ExecStartPre", true, rm)) < 0 || (r = add_exec(g, "ExecStart", false, run)) < 0 || (r = add_exec(g, "ExecStop", true, stop)) < 0 ||
            (r = add_exec(g, "ExecStopPost", true, rm)) < 0)
                return r;
        return 0;
}

static int gen_nspawn(Gen *g) {
        _cleanup_strv_free_ char **run = NULL;
        const char *image = g->r->image;
        int r;

        if ((r = argv_add(&run, UNIT_GEN_NSPAWN, "--quiet", "--keep-unit", "--register=no", NULL)) < 0 ||
            (r = argv_addf(&run, "--machine=%s", g->name)) < 0 ||
            (r = argv_addf(&run, "--directory=%s%s", image[0] == '/' ? "" : UNIT_GEN_MACHINES_DIR "/", image)) < 0 ||
            (r = argv_add(&run, "--volatile=overlay", NULL)) < 0 ||
            (r = argv_add_env_names(g, &run, "--setenv=")) < 0)
                return r;
        if (g->command)
                r = argv_add(&run, "--as-pid2", "--kill-signal=SIGRTMIN+3", "--notify-ready=no", "--", NULL);
        else
                r = argv_add(&run, "--boot", "--notify-ready=yes", NULL);
        if (r < 0 || (r = argv_add_command(g, &run)) < 0)
                return r;
        return add_exec(g, "ExecStart", false, run);
}

static int gen_exec(Gen *g) {
        _cleanup_strv_free_ char **run = NULL;
        int r;

        if (g->command)
                r = argv_add_command(g, &run);
        else
                r = argv_add(&run, g->r->image, NULL);
        if (r < 0)
                return r;
        return add_exec(g, "ExecStart", false, run);
}

static int gen_unit_section(Gen *g) {
        const char *deps = g->r->runtime == RUNTIME_DOCKER ? "network-online.target docker.service"
                                                           : "network-online.target";
        int r;

        if ((r = addf(g, "Unit", "Description", "%s v%u %s #%u", g->r->app, g->r->version, g->p->name,
                      g->instance)) < 0 ||
            (r = add(g, "Unit", "After", deps)) < 0 || (r = add(g, "Unit", "Wants", deps)) < 0)
                return r;
        return 0;
}

/* Type=, NotifyAccess=, KillMode=, Delegate=: how systemd supervises the runtime. */
static int gen_supervision(Gen *g) {
        int r;

        switch (g->r->runtime) {
        case RUNTIME_PODMAN:
                if ((r = add(g, "Service", "Type", "notify")) < 0 ||
                    (r = add(g, "Service", "NotifyAccess", "all")) < 0)
                        return r;
                return add(g, "Service", "KillMode", "mixed");
        case RUNTIME_NSPAWN:
                if ((r = add(g, "Service", "Type", "notify")) < 0 || (r = add(g, "Service", "KillMode", "mixed")) < 0)
                        return r;
                return add(g, "Service", "Delegate", "yes");
        default:
                return add(g, "Service", "Type", "exec");
        }
}

static int gen_environment(Gen *g) {
        int r;

        if (g->p->port && (r = add(g, "Service", "EnvironmentFile", UNIT_GEN_PORTS_DIR "/%n.env")) < 0)
                return r;
        if (g->r->runtime == RUNTIME_PODMAN && (r = add(g, "Service", "Environment", "PODMAN_SYSTEMD_UNIT=%n")) < 0)
                return r;
        for (size_t i = 0; i < g->r->n_config; i++) {
                _cleanup_free_ char *assignment = NULL, *word = NULL;

                if (asprintf(&assignment, "%s=%s", g->r->config[i].key, g->r->config[i].value) < 0)
                        return -ENOMEM;
                if ((r = unit_escape_word(assignment, 0, NULL, &word)) < 0)
                        return r == -EINVAL ? fail(g, "config %s: not UTF-8", g->r->config[i].key) : r;
                if (strlen("Environment=") + strlen(word) + 1 > UNIT_FILE_LINE_MAX)
                        return fail(g, "config %s: the value is too long for a unit-file line (%zu bytes, "
                                    "after escaping)", g->r->config[i].key, UNIT_FILE_LINE_MAX);
                if ((r = add(g, "Service", "Environment", word)) < 0)
                        return r;
        }
        return 0;
}

static int gen_service_section(Gen *g) {
        const ProcessType *p = g->p;
        bool pulls = (g->r->runtime == RUNTIME_PODMAN || g->r->runtime == RUNTIME_DOCKER) &&
                     g->pull != IMAGE_PULL_NEVER;
        int r;

        if ((r = gen_supervision(g)) < 0 || (r = add(g, "Service", "SuccessExitStatus", "143")) < 0 ||
            (r = add(g, "Service", "Restart", "always")) < 0 || (r = add(g, "Service", "RestartSec", "1s")) < 0 ||
            (r = add(g, "Service", "TimeoutStartSec", pulls ? TIMEOUT_START_PULL : TIMEOUT_START)) < 0 ||
            (p->memory_bytes && (r = addf(g, "Service", "MemoryMax", "%" PRIu64, p->memory_bytes)) < 0) ||
            (p->cpu_millis && (r = addf(g, "Service", "CPUQuota", "%" PRIu64 "%%", (p->cpu_millis + 9) / 10)) < 0) ||
            (r = gen_environment(g)) < 0)
                return r;

        switch (g->r->runtime) {
        case RUNTIME_PODMAN:
                return gen_podman(g);
        case RUNTIME_DOCKER:
                return gen_docker(g);
        case RUNTIME_NSPAWN:
                return gen_nspawn(g);
        default:
                return gen_exec(g);
        }
}

static int gen_xfleet_section(Gen *g) {
        for (size_t i = 0; i < g->p->n_constraints; i++) {
                int r = addf(g, "X-Fleet", "MachineMetadata", "%s=%s", g->p->constraints[i].key,
                             g->p->constraints[i].value);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* What the agent needs besides systemd: the port to assign and the health check to run
 * (systemd ignores sections whose name starts with "X-"). */
static int gen_xfleetd_section(Gen *g) {
        const HealthCheck *h = &g->p->health;
        char buf[64];
        int r;

        if (g->p->port == 0)
                return 0;
        if ((r = addf(g, "X-Fleetd", "Port", "%u", (unsigned) g->p->port)) < 0 || !h->enabled)
                return r;
        if (h->http_path)
                r = add(g, "X-Fleetd", "HealthHTTP", h->http_path);
        else
                r = add(g, "X-Fleetd", "HealthTCP", "true");
        if (r >= 0)
                r = add(g, "X-Fleetd", "HealthInterval", format_duration(buf, sizeof(buf), h->interval));
        if (r >= 0)
                r = add(g, "X-Fleetd", "HealthTimeout", format_duration(buf, sizeof(buf), h->timeout));
        if (r >= 0)
                r = addf(g, "X-Fleetd", "HealthThreshold", "%u", h->threshold);
        return r;
}

int unit_gen_instance(const Release *r, const ProcessType *p, unsigned instance, UnitFile **ret, char **ret_error) {
        _cleanup_(gen_done) Gen g = { .r = r, .p = p, .instance = instance };
        int k;

        if (!r || !p) {
                k = r ? fail(&g, "app %s: no process given", strempty(r->app)) : fail(&g, "no release given");
                goto finish;
        }
        g.command = p->command && p->command[0] ? p->command : NULL;

        if ((k = check(&g)) < 0)
                goto finish;
        if (r->runtime != RUNTIME_EXEC) {
                if ((k = unit_gen_container_name(r, p->name, instance, &g.name)) < 0)
                        goto finish;
                if (strlen(g.name) > MACHINE_NAME_MAX && r->runtime == RUNTIME_NSPAWN) {
                        k = fail(&g, "process %s: machine name %s is longer than %d characters", p->name, g.name,
                                 MACHINE_NAME_MAX);
                        goto finish;
                }
        }
        if ((k = unit_file_new(&g.uf)) < 0 || (k = gen_unit_section(&g)) < 0 ||
            (k = gen_service_section(&g)) < 0 || (k = gen_xfleet_section(&g)) < 0 ||
            (k = gen_xfleetd_section(&g)) < 0)
                goto finish;

        *ret = TAKE_PTR(g.uf);
        return 0;

finish:
        if (ret_error && k == -EINVAL)
                *ret_error = TAKE_PTR(g.error);
        return k;
}

int unit_gen_check_release(const Release *r, char **ret_error) {
        if (!r)
                return unit_gen_instance(NULL, NULL, 1, NULL, ret_error); /* fails, with the message */
        for (size_t i = 0; i < r->n_processes; i++) {
                _cleanup_(unit_file_freep) UnitFile *uf = NULL;
                int k = unit_gen_instance(r, &r->processes[i], 1, &uf, ret_error);
                if (k < 0)
                        return k;
        }
        return 0;
}
