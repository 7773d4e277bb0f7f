/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* App manifests: YAML text in, a Release (version 0, no cause, no time) out. The format, with
 * every key, type and default, is in docs/manifest.md. PURE: no logging and no I/O, except
 * manifest_read_text() and manifest_load(), which only read a file into memory.
 *
 * The YAML is read with libyaml's event API into a small tree, and the tree is checked against
 * the schema. Beyond the schema the parser refuses, so that a manifest means one thing only and
 * a hostile one costs little: anchors and aliases (no "billion laughs"), explicit tags, a second
 * document, duplicate keys (YAML parsers keep the last one silently), numbers in quotes where a
 * number is expected and numbers with leading zeros (YAML 1.1 reads 010 as 8), and anything over
 * the limits below or those in release.h. */

#include <stddef.h>

#include "release.h"

#define MANIFEST_SIZE_MAX  ((size_t) 256 * 1024) /* bytes of YAML */
#define MANIFEST_DEPTH_MAX 16                    /* lists and mappings inside each other */
#define MANIFEST_NODES_MAX 32768                 /* values (scalars, lists, mappings) in all */

/* Parses len bytes of YAML text (need not be NUL-terminated). On success *ret (released by the
 * caller with release_done()) holds the manifest as a release of version 0 that passes
 * release_verify(). On failure *ret is untouched and *ret_error (optional; owned by the caller)
 * says "FILENAME:LINE:COLUMN: where: what is wrong; expected what", for example
 * "hello.yaml:7:14: processes.web.scale: expected a whole number from 0 to 1000, got 'lots'"
 * (filename NULL shows as "<input>"; lines and columns count from 1, columns in characters, as
 * libyaml counts them). A text over MANIFEST_SIZE_MAX gives "FILENAME: ..." without a position.
 * Returns 0, -EINVAL for any manifest that is not valid (always with a message), -ENOMEM. */
int manifest_parse(const char *text, size_t len, const char *filename, Release *ret, char **ret_error);

/* manifest_parse() for a build (`fleetctl deploy --build`): image may be missing (then
 * ret->image is NULL: the build's registry and the app's name make it) and, when given, is the
 * repository the build pushes to, without a tag or digest. */
int manifest_parse_build(const char *text, size_t len, const char *filename, Release *ret, char **ret_error);

/* Reads the file at path into memory: *ret (owned by the caller, NUL-terminated) and *ret_len
 * (optional). Returns 0, -EFBIG if it holds more than MANIFEST_SIZE_MAX bytes, -ENOMEM, or the
 * negative errno of open()/read(). */
int manifest_read_text(const char *path, char **ret, size_t *ret_len);

/* manifest_read_text() + manifest_parse() with path as the filename of messages. A file over the
 * size limit is -EINVAL with the message manifest_parse() gives; other read errors return their
 * negative errno with "PATH: strerror" in *ret_error (not for -ENOMEM). */
int manifest_load(const char *path, Release *ret, char **ret_error);
