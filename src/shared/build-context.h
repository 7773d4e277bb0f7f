/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Build contexts: what `fleetctl deploy --build DIR` sends and fleetd builds from. PURE: bytes
 * in, bytes out; fleetctl walks the directory, fleetd spools and extracts.
 *
 * The wire format is a POSIX tar stream (ustar headers; a pax header "x" carries a path or a
 * link target longer than ustar holds). Its first member is the manifest, at
 * BUILD_CONTEXT_MANIFEST; the rest is DIR as podman build sees it: regular files, directories
 * and symbolic links, nothing else. fleetd refuses, before anything is extracted, any stream
 * with another member type (hard links, devices, fifos, GNU long names), an absolute name, a ".."
 * component, a symlink whose target is absolute or has a ".." component (so every link points
 * inside the tree), a file under BUILD_CONTEXT_DIR/ other than the manifest, a bad checksum, a member past the end of the data, more than
 * BUILD_CONTEXT_ENTRIES_MAX members, or no Containerfile or Dockerfile at the top.
 *
 * Ignore files (.containerignore, else .dockerignore, at the top of DIR) follow Docker's rules:
 * one pattern a line, '#' lines and blank lines skipped, blanks around a pattern trimmed, a
 * leading '/' and a trailing '/' dropped; '*' and '?' and [...] match within one path
 * component, '**' any number of components; a pattern also excludes everything under a
 * directory it matches; '!' before a pattern takes back what earlier patterns excluded; the
 * last pattern that matches decides. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/macros.h"

#define BUILD_CONTEXT_MANIFEST     ".fleetd/manifest.yaml"
#define BUILD_CONTEXT_DIR          ".fleetd"               /* removed before podman build runs */
#define BUILD_CONTEXT_SIZE_MAX     ((size_t) 64 * 1024 * 1024)
#define BUILD_CONTEXT_ENTRIES_MAX  20000u
#define BUILD_CONTEXT_NAME_MAX     4096u                   /* bytes of a member's name or link */

/* --- writing (fleetctl) --- */

typedef struct TarWriter {
        char *data;
        size_t size, allocated;
        size_t max;                   /* the stream may not grow past this; 0: BUILD_CONTEXT_SIZE_MAX */
        unsigned entries;
} TarWriter;

void tar_writer_done(TarWriter *w);

typedef enum TarType {
        TAR_FILE = '0',
        TAR_SYMLINK = '2',
        TAR_DIRECTORY = '5',
} TarType;

/* Appends one member: name relative, '/'-separated, without a trailing '/'; mode's permission
 * bits; data (size bytes) for a file; link for a symlink. Owner root, time 0, so the same tree
 * gives the same stream. Returns 0; -EINVAL for a name or link that a reader would refuse (see
 * above) or that is too long; -EFBIG past w->max or BUILD_CONTEXT_ENTRIES_MAX; -ENOMEM. */
int tar_writer_add(TarWriter *w, const char *name, TarType type, mode_t mode, const void *data, size_t size,
                   const char *link);
/* The end of the stream (two zero blocks). Returns 0, -EFBIG, -ENOMEM. */
int tar_writer_finish(TarWriter *w);

/* --- reading (fleetd) --- */

typedef struct BuildContextInfo {
        char *manifest;               /* the manifest's text, NUL-terminated */
        size_t manifest_size;
        char *containerfile;          /* "Containerfile" or "Dockerfile" (the first wins) */
        unsigned entries;
        uint64_t bytes;               /* of file contents */
} BuildContextInfo;

void build_context_info_done(BuildContextInfo *i);

/* Checks a whole stream as described above. Returns 0 and *ret (released with
 * build_context_info_done()); -EBADMSG with *ret_error (optional, owned by the caller) saying
 * what and which member ("member 3 (src/../x): a '..' component"); -ENOMEM. */
int build_context_check(const void *data, size_t size, BuildContextInfo *ret, char **ret_error);

/* --- ignore files --- */

typedef struct IgnoreRule {
        char *pattern;
        bool exception;               /* '!pattern' */
} IgnoreRule;

typedef struct IgnoreRules {
        IgnoreRule *rules;
        size_t n_rules;
        bool any_exception;
} IgnoreRules;

void ignore_rules_done(IgnoreRules *r);
/* Reads an ignore file's text (len bytes, need not end in a NUL). Returns 0 or -ENOMEM. */
int ignore_rules_parse(const char *text, size_t len, IgnoreRules *ret);
/* Whether path (relative, '/'-separated, no "." or ".." components) is left out. */
bool ignore_rules_excluded(const IgnoreRules *r, const char *path);
/* Whether nothing under directory path can be included again (no exception could match there),
 * so a walk may skip it whole once it is excluded. */
bool ignore_rules_prune(const IgnoreRules *r, const char *path);

/* The name an app's image is tagged with: the revision (a git commit, shortened to 12
 * characters) if given and valid as a tag, else the build id. A new string, or NULL on OOM. */
char *build_tag(const char *revision, const char *build_id);
