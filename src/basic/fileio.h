/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Reads the whole file at path, at most max bytes. *ret gets the bytes plus a NUL (not counted
 * in *ret_len, which may be NULL). Returns 0, -EFBIG if the file holds more than max bytes,
 * -ENOMEM, or the negative errno of open/read. Nothing is returned on failure. */
int read_file_limit(const char *path, size_t max, char **ret, size_t *ret_len);

/* Replacing a file so that a reader sees the old contents or the new ones, never a part:
 *
 * the data go to a new temp file in the target's directory (mkostemp(), named
 * ".#<name>XXXXXX": the leading dot keeps it out of every listing that skips hidden files),
 * written in full (short writes and EINTR are retried), given mode (exactly: the umask does not
 * apply) and fsync()ed; then it is renamed over the target and the directory is fsync()ed. On
 * every failure the temp file is removed again. A crash between mkostemp() and rename() leaves
 * a temp file behind; callers that care remove them at start (write_file_temp_pattern()).
 *
 * Why not O_TMPFILE and linkat(): a linkat() cannot replace an existing file (EEXIST), so the
 * new file would need a temp name and a rename() anyway; and O_TMPFILE is not supported by
 * every file system. mkostemp() + rename() works everywhere, in one directory.
 *
 * Why fsync at all (the files of fleetd live on tmpfs, where it costs nothing): on a disk, a
 * rename() of unsynced data can leave an empty file under the new name after a power cut. */

/* Writes len bytes of data to a new temp file next to path as described above, synced, with
 * mode. Returns 0 and *ret_temp (its path, owned by the caller, who renames it into place with
 * write_file_commit() or unlinks it), or a negative errno; on failure no temp file is left. */
int write_file_temp(const char *path, const void *data, size_t len, mode_t mode, char **ret_temp);

/* Renames temp (from write_file_temp()) over path and syncs the directory. Returns 0, or the
 * negative errno of rename() (temp is then left in place, for the caller to remove). Once the
 * rename is done the new file is what readers see: a failure to sync the directory after it
 * is not reported (the rename may then not survive a power cut; every writer here writes its
 * files again at start). */
int write_file_commit(const char *temp, const char *path);

/* write_file_temp() + write_file_commit(): path holds data (len bytes, mode) or, on failure,
 * what it held before; no temp file is left either way. Returns 0 or a negative errno. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* The glob(7) pattern that matches the temp files write_file_temp() makes for path (for
 * removing leftovers of a crashed run). Returns a string owned by the caller, or NULL. */
char *write_file_temp_pattern(const char *path);
