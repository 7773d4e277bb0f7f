/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "macros.h"

/* Writing data into unit-file settings so that systemd reads back exactly the same bytes.
 * Pure: no I/O, no logging.
 *
 * What systemd does to a value, and so what has to be undone here (systemd.syntax(7) "Quoting",
 * systemd.unit(5) "Specifiers", systemd.service(5) "Command lines", systemd.exec(5) Environment=):
 *   1. the value is split into items at whitespace; an item may be wrapped as a whole in double
 *      or single quotes, and C-style escapes (\n, \t, \\, \", \xNN, ...) are decoded, inside
 *      quotes and out;
 *   2. "%" specifiers are expanded ("%n" is the unit name, "%%" a single '%'). Current versions
 *      do this on each item after step 1; a parser that did it on the whole line first would
 *      read the output below the same way, because no escape written here produces a '%' or a
 *      quote (tests/unit/test-unit-gen.c reads it both ways);
 *   3. on command lines only, when the process is started, "$$" becomes '$', "${NAME}" the
 *      variable's value and a whole word "$NAME" the value split at whitespace; a lone ';' word
 *      separates two commands. Environment= does not expand '$'.
 *
 * So an item is written bare when it consists only of letters, digits and "-_./:,+=@{}" (and
 * '%' and '$', which are doubled), and otherwise in double quotes with '"' and '\' escaped,
 * newline, tab and carriage return as \n \t \r and any other ASCII control character as \xNN.
 * '%' is always doubled; with UNIT_ESCAPE_EXEC, '$' is doubled too except in the "${NAME}"
 * references the caller wants systemd to substitute. UTF-8 text is kept as it is (unit files
 * are UTF-8); a string that is not valid UTF-8 as systemd checks it (no surrogates, nothing past
 * U+10FFFF, no noncharacters such as U+FFFE) is refused. The output never starts or ends with
 * a blank and never ends in a backslash, so it is a valid unit-file value. */

typedef enum UnitEscapeFlags {
        /* A command-line word: '$' becomes "$$" so that systemd passes it on literally, and a
         * word that is just ";" is written as "\;" (systemd.service(5)), which no systemd
         * version takes for a command separator. */
        UNIT_ESCAPE_EXEC = 1 << 0,
} UnitEscapeFlags;

/* One item of a whitespace-separated setting: a command-line word or an Environment= assignment
 * ("NAME=value" as one string). With UNIT_ESCAPE_EXEC, each "${NAME}" in s whose NAME is in
 * keep (a NULL-terminated list; NULL for none) is written unchanged, for systemd to substitute;
 * every other '$' is doubled. *ret is owned by the caller. Returns 0, -EINVAL if s is not valid
 * UTF-8, -ENOMEM. */
int unit_escape_word(const char *s, UnitEscapeFlags flags, char *const *keep, char **ret);

/* A whole command line: each of argv's words as by unit_escape_word(), joined with single
 * spaces. argv must hold at least one word. Whether argv[0] is a usable executable (an absolute
 * path without control characters, not starting with one of systemd's prefixes "-@:+!|") is the
 * caller's business. Returns 0, -EINVAL for invalid UTF-8 or an empty argv, -ENOMEM. */
int unit_escape_command_line(char *const *argv, UnitEscapeFlags flags, char *const *keep, char **ret);
