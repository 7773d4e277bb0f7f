/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "basic/macros.h"
#include "basic/sha256.h"

/* An order-preserving model of a systemd unit file. Pure: no logging, no I/O (except
 * unit_file_read_text() and unit_file_load(), which only read a file into memory).
 *
 * Every line keeps its exact text, so unit_file_print(unit_file_parse(x)) == x byte for byte, and
 * the hash of an unchanged file is stable. Next to the text, each [Section] header keeps its name
 * and each assignment its key and value, parsed as systemd's config_parse() does:
 *   - a line whose first non-blank character is '#' or ';' is a comment, also in the middle of
 *     a continued line (systemd skips it there too); blank lines are kept;
 *   - a line ending in an odd number of backslashes continues on the next line; the backslash
 *     becomes a space and the next line is appended as it is ("a \<LF>  b" is "a    b" before
 *     stripping); an empty line ends the continuation;
 *   - keys and values are stripped of blanks around them ("Key = v" is Key / "v"); the value is
 *     everything after the first '=', so "#" inside a value is not a comment;
 *   - a section may appear several times; its entries are looked up across all its headers;
 *   - keys and section names are case-sensitive; keys may repeat (ExecStartPre= several times)
 *     and an empty assignment ("Key=") resets the list for unit_file_get_all();
 *   - line ends are LF or CRLF, both kept as they are; a lone CR, a NUL byte or invalid UTF-8 is
 *     refused (the text ends up in etcd as a JSON string). A UTF-8 byte order mark at the start is
 *     kept and ignored;
 *   - a missing final newline is kept;
 *   - text before the first header that is not a comment or a header is kept in the text but
 *     ignored (systemd ignores such assignments with a warning, fleet's parser skipped any
 *     text there); unit_file_ignored_line() says where it starts.
 * Where systemd only warns and skips a line, fleetd refuses the file: a line after the first
 * header that is neither a comment, a header nor "Key=Value", an empty key, a header without
 * its closing ']' or with an empty name or one of: control characters, quotes, '\', '[' or ']'
 * (docs/fleet-compat.md compares this with fleet's parser). */

/* Longest text accepted, and longest line, continuation lines included (systemd's own limit is
 * 1 MiB per line; unit files fleetd handles are far below both). */
#define UNIT_FILE_SIZE_MAX ((size_t) 1024 * 1024)
#define UNIT_FILE_LINE_MAX ((size_t) 16 * 1024)

typedef struct UnitFile UnitFile;

/* An empty unit file (prints as ""). Returns 0 or -ENOMEM. */
int unit_file_new(UnitFile **ret);
/* Frees uf and everything it owns; NULL is fine. Returns NULL. */
UnitFile *unit_file_free(UnitFile *uf);
DEFINE_TRIVIAL_CLEANUP_FUNC(UnitFile *, unit_file_free);
#define _cleanup_unit_file_free_ _cleanup_(unit_file_freep)

/* Parses len bytes of text (need not be NUL-terminated). On success *ret owns a new UnitFile.
 * On failure *ret is untouched and *ret_error (optional; owned by the caller) says
 * "FILENAME:LINE:COLUMN: what is wrong" (filename NULL shows as "<input>"; lines and columns count
 * from 1, columns in bytes) or, for a text over the size limit, "FILENAME: ...".
 * Returns 0, -EBADMSG for a syntax error, -EFBIG for a text over UNIT_FILE_SIZE_MAX, -ENOBUFS
 * for a line over UNIT_FILE_LINE_MAX, -ENOMEM. */
int unit_file_parse(const char *text, size_t len, const char *filename, UnitFile **ret, char **ret_error);

/* Reads the file at path into memory: *ret (owned by the caller, NUL-terminated) and *ret_len
 * (optional). Returns 0, -EFBIG if it holds more than UNIT_FILE_SIZE_MAX bytes, -ENOMEM, or the
 * negative errno of open()/read(). */
int unit_file_read_text(const char *path, char **ret, size_t *ret_len);
/* unit_file_read_text() + unit_file_parse(), path as the filename of messages; a failed read
 * gives "PATH: strerror" in *ret_error. Returns what those return. */
int unit_file_load(const char *path, UnitFile **ret, char **ret_error);

/* The text of uf: for a parsed and unmodified file the exact input. *ret is owned by the caller.
 * Returns 0 or -ENOMEM. */
int unit_file_print(const UnitFile *uf, char **ret);
/* SHA-256 of the printed text as 64 lowercase hex digits and a NUL. Never fails. */
void unit_file_hash(const UnitFile *uf, char ret[SHA256_HEX_SIZE]);

/* Whether at least one [section] header exists (even with no entries). */
bool unit_file_has_section(const UnitFile *uf, const char *section);
/* The line of the first text before the first [Section] header that is neither blank nor a
 * comment (ignored, see above), 0 if there is none or uf was not parsed. */
unsigned unit_file_ignored_line(const UnitFile *uf);
/* The first line of the parsed text (a physical line: continuation lines count one by one;
 * lines added since are not looked at) longer than max bytes, line end not counted: its number,
 * and its length in *ret_len (optional); 0 if there is none. */
unsigned unit_file_long_line(const UnitFile *uf, size_t max, size_t *ret_len);
/* The value of the last assignment of key in section (which may be "" for a reset), or NULL if
 * there is none. The string belongs to uf and lives until uf is next changed. */
const char *unit_file_get(const UnitFile *uf, const char *section, const char *key);
/* Every value of key in section, in file order, as systemd collects list settings: an empty
 * assignment drops the values before it and is not itself returned. *ret is a NULL-terminated
 * list owned by the caller (empty, not NULL, when there is nothing). Returns the number of
 * values or -ENOMEM. */
int unit_file_get_all(const UnitFile *uf, const char *section, const char *key, char ***ret);

/* The changes below print new or rewritten lines as "Key=Value" ended like the file's first line
 * (LF, or CRLF if the parsed text used CRLF). They refuse, with -EINVAL, what would not parse back
 * to the same thing: a section name that is empty or holds control characters, quotes, '\', '['
 * or ']'; a key that is empty, holds '=', blanks or control characters, or starts with '#', ';'
 * or '['; a value that is NULL, holds CR or LF, starts or ends with a blank, or ends in an odd
 * number of backslashes; anything that is not valid UTF-8. A "Key=Value" longer than
 * UNIT_FILE_LINE_MAX gives -ENOBUFS. Otherwise they return 0, or -ENOMEM. */

/* Appends "[section]" at the end if no such header exists yet, after a blank line when the file
 * does not end in one already. */
int unit_file_ensure_section(UnitFile *uf, const char *section);
/* Appends key=value to section: after the last entry of the last [section] header (right after
 * the header if it has no entries), creating the section at the end as above if missing. Earlier
 * values of key stay (this is how ExecStartPre= lists are built). On -ENOMEM the section may
 * have been created already. */
int unit_file_add(UnitFile *uf, const char *section, const char *key, const char *value);
/* Makes value the only value of key in section: the first existing assignment is rewritten in
 * place (comment lines inside a continued assignment go with it) and the others removed, or the
 * assignment is added as by unit_file_add(). */
int unit_file_set(UnitFile *uf, const char *section, const char *key, const char *value);
/* Removes every assignment of key in section (continuation and comment lines inside them
 * included). Returns how many were removed (0 if none); never fails. */
int unit_file_remove_key(UnitFile *uf, const char *section, const char *key);

/* Iteration, in file order. Initialize to {} and call until it returns false; the strings
 * belong to uf, and uf must not change while iterating. */
typedef struct UnitFileEntry {
        const char *section;
        const char *key;
        const char *value;
        unsigned line;          /* first line of the entry in the parsed text; 0 if added since */
        size_t _section, _line; /* private: where the iteration stands */
} UnitFileEntry;

typedef struct UnitFileSection {
        const char *name;       /* one step per header: a repeated section comes twice */
        unsigned line;          /* line of the header in the parsed text; 0 if added since */
        size_t _section;        /* private */
} UnitFileSection;

/* The next assignment in section, or in every section if section is NULL. */
bool unit_file_next_entry(const UnitFile *uf, const char *section, UnitFileEntry *e);
/* The next [section] header. */
bool unit_file_next_section(const UnitFile *uf, UnitFileSection *s);

#define UNIT_FILE_FOREACH_ENTRY(e, uf, section) \
        for (UnitFileEntry e = {}; unit_file_next_entry((uf), (section), &(e));)
#define UNIT_FILE_FOREACH_SECTION(s, uf) \
        for (UnitFileSection s = {}; unit_file_next_section((uf), &(s));)
