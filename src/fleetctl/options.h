/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* fleetctl's options as data: each option is one Option (its names, the variable it sets and
 * how, its line of help), defined once and listed by every verb that takes it. fleetctl.c
 * turns a verb's list and the global options into getopt_long's tables (OptionParser), applies
 * what getopt finds (option_apply()) and prints the help (option_list_help()). Options that
 * several verbs share are defined here: the listing verbs' (LIST_OPTIONS) and the journal's
 * (JOURNAL_OPTIONS, for journal and logs); the waits' are in wait.h and app-wait.h.
 *
 * As fleet's fleetctl: a global option can come from the environment, FLEETCTL_<NAME>
 * (option_apply_env()), where the command line wins and a flag takes Go's booleans
 * (FLEETCTL_DEBUG=true); fleet's flags that mean nothing here take them on the command line too
 * (--strict-host-key-checking=false). */

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "basic/time-util.h"

typedef enum OptionKind {
        OPTION_ACTION,     /* no value, nothing set: the caller acts on it (--help, --version) */
        OPTION_TRUE,       /* no value: *(bool *) value = true (from the environment: BOOL) */
        OPTION_FALSE,      /* no value: *(bool *) value = false (--no-legend; environment: !BOOL) */
        OPTION_STRING,     /* *(const char **) value = the argument, as it is */
        OPTION_UNSIGNED,   /* *(unsigned *) value = a whole number */
        OPTION_LINES,      /* *(unsigned *) value = a number of lines, up to INT_MAX */
        OPTION_DURATION,   /* *(usec_t *) value = a duration as parse_duration() reads it */
        OPTION_SECONDS,    /* *(usec_t *) value = fleet's float seconds ("3.0") or a duration */
        OPTION_IGNORED,    /* a value, nothing set: fleet's, meaningless here; a note on stderr */
        OPTION_IGNORED_FLAG, /* the same for one of fleet's flags without a value (--x[=BOOL]) */
        _OPTION_KIND_MAX,
} OptionKind;

typedef struct Option {
        const char *name;      /* the long name, without "--" */
        char short_name;       /* the letter of -X, or 0 for none */
        OptionKind kind;
        void *value;           /* what the option sets; its type by kind */
        const char *metavar;   /* what the value is called in the help ("N"); NULL without one */
        const char *help;      /* the text after the option in the help; '\n' between lines;
                                * for the IGNORED kinds, why it means nothing here (the note) */
} Option;

/* A NULL-terminated list of options, as verbs give them. */
typedef const Option *const OptionList[];

/* Whether o takes a value (--lines=N) or not (--follow). */
bool option_has_value(const Option *o);

/* Whether o is a flag: no value on the command line (but OPTION_IGNORED_FLAG's optional
 * --x=BOOL, in the long form), a BOOL in the environment. */
bool option_is_flag(const Option *o);

/* Sets what o sets from arg (NULL for options without a value, or OPTION_IGNORED_FLAG's BOOL).
 * Returns 0, or -EINVAL after printing what is wrong with arg ("fleetctl: --lines takes a
 * number of lines, not 'x'."). The IGNORED kinds print their note: "fleetctl: note: ignoring
 * --tunnel: <help>." */
int option_apply(const Option *o, const char *arg);

/* The variable fleet's getFlagsFromEnv() read for o: "FLEETCTL_" and o's name upper-cased with
 * '-' as '_' (request-timeout: FLEETCTL_REQUEST_TIMEOUT). Returns buf. */
#define OPTION_ENV_NAME_MAX 64
char *option_env_name(const Option *o, char buf[static OPTION_ENV_NAME_MAX]);

/* Sets what o sets from its variable (option_env_name()), as fleet did for its global flags:
 * nothing if the variable is unset or empty, or o is an action; a flag takes a BOOL there
 * (FLEETCTL_DEBUG=true). The IGNORED kinds are silent here (such variables stay in shell
 * profiles). Returns 1 if it set something, 0 if not, or -EINVAL after printing what is wrong,
 * naming the variable ("fleetctl: FLEETCTL_REQUEST_TIMEOUT: --request-timeout takes ..."). */
int option_apply_env(const Option *o);

/* Prints the help lines of the options in list to f, "  -n --lines=N   Show ...", the texts
 * lined up in one column. */
void option_list_help(FILE *f, const Option *const *list);

/* getopt_long()'s tables for some lists of options. An option with a short name is returned
 * by getopt as its letter, one without as OPTION_VAL_BASE + its index in options. */
#define OPTION_VAL_BASE 0x100
typedef struct OptionParser {
        const Option **options;        /* the options of all lists, in order */
        size_t n_options;
        struct option *long_options;   /* ends with {} */
        char *short_options;           /* the prefix given, then each letter (with ':' for a value) */
} OptionParser;

/* Builds p from the options of a then b (either may be NULL); prefix goes before the letters
 * ("+:" stops at the first argument; ':' makes a missing value ':' rather than '?'). Returns 0
 * or -ENOMEM; p is to be released with option_parser_done() in any case. */
int option_parser_init(OptionParser *p, const char *prefix, const Option *const *a, const Option *const *b);
void option_parser_done(OptionParser *p);

/* The option getopt_long() returned as c, or NULL for none of p's. */
const Option *option_parser_find(const OptionParser *p, int c);

/* The listing verbs' options (list-units, list-unit-files, list-machines): -l/--full shows
 * machine IDs and hashes whole, --no-legend leaves out the header line, --fields=LIST picks the
 * columns (NULL: the verb's default). Each verb has its own --fields option, for the help names
 * its columns: LIST_FIELDS_OPTION("Columns to show: ..."). */
extern bool arg_full;
extern bool arg_legend;
extern const char *arg_fields;
extern const Option option_full, option_no_legend;
#define LIST_OPTIONS &option_full, &option_no_legend
#define LIST_FIELDS_OPTION(help_) { "fields", 0, OPTION_STRING, &arg_fields, "LIST", help_ }

/* The journal's options (journal, logs): -n/--lines=N, the last lines to show (default
 * JOURNAL_LINES_DEFAULT), and -f/--follow, new lines as they come. */
#define JOURNAL_LINES_DEFAULT 10
extern unsigned arg_lines;
extern bool arg_follow;
extern const Option option_lines, option_follow;
#define JOURNAL_OPTIONS &option_lines, &option_follow

/* --replace (submit, load, start): a unit the cluster has with other contents is replaced by
 * the file's, as fleet's destroy and submit but in one write (docs/api.md). */
extern bool arg_replace;
extern const Option option_replace;
