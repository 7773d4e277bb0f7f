/* SPDX-License-Identifier: Apache-2.0 */
/* fleetctl's options as data (src/fleetctl/options.h): applying each kind of value, getopt's
 * tables built from option lists, the help lines; and the progress line's pace and its lines
 * where stderr is not a terminal (progress.h). */
#include <limits.h>
#include <stdio.h>

#include "options.h"
#include "progress.h"
#include "../tests.h"

static bool flag_on = false, flag_off = true;
static const char *text = NULL;
static unsigned number = 7, lines = 7;
static usec_t duration = 0;

static const Option opt_on = { "on", 'o', OPTION_TRUE, &flag_on, NULL, "Turn it on" };
static const Option opt_off = { "no-off", 0, OPTION_FALSE, &flag_off, NULL, "Turn it off" };
static const Option opt_text = { "text", 't', OPTION_STRING, &text, "WORD", "Say WORD\non two lines" };
static const Option opt_number = { "number", 0, OPTION_UNSIGNED, &number, "N", "A number" };
static const Option opt_lines = { "lines", 'n', OPTION_LINES, &lines, "N", "Lines" };
static const Option opt_duration = { "wait", 0, OPTION_DURATION, &duration, "DURATION", "How long" };

static OptionList list_a = { &opt_on, &opt_off, &opt_text, NULL };
static OptionList list_b = { &opt_number, &opt_lines, &opt_duration, NULL };

TEST(apply_flags_and_strings) {
        ASSERT_INT(option_apply(&opt_on, NULL), 0);
        ASSERT_TRUE(flag_on);
        ASSERT_INT(option_apply(&opt_off, NULL), 0);
        ASSERT_TRUE(!flag_off);
        ASSERT_INT(option_apply(&opt_text, "hello"), 0);
        ASSERT_STR(text, "hello");
        ASSERT_TRUE(!option_has_value(&opt_on) && !option_has_value(&opt_off));
        ASSERT_TRUE(option_has_value(&opt_text) && option_has_value(&opt_duration));
}

TEST(apply_numbers) {
        ASSERT_INT(option_apply(&opt_number, "4294967295"), 0);
        ASSERT_INT(number, UINT_MAX);
        ASSERT_INT(option_apply(&opt_number, "4294967296"), -EINVAL);
        ASSERT_INT(option_apply(&opt_number, "-1"), -EINVAL);
        ASSERT_INT(option_apply(&opt_number, ""), -EINVAL);
        ASSERT_INT(option_apply(&opt_number, "3x"), -EINVAL);
        ASSERT_INT(number, UINT_MAX);   /* untouched by the failures */

        ASSERT_INT(option_apply(&opt_lines, "0"), 0);
        ASSERT_INT(lines, 0);
        ASSERT_INT(option_apply(&opt_lines, "2147483647"), 0);
        ASSERT_INT(lines, INT_MAX);
        ASSERT_INT(option_apply(&opt_lines, "2147483648"), -EINVAL);
        ASSERT_INT(lines, INT_MAX);
}

TEST(apply_duration) {
        ASSERT_INT(option_apply(&opt_duration, "1m30s"), 0);
        ASSERT_INT(duration, 90 * USEC_PER_SEC);
        ASSERT_INT(option_apply(&opt_duration, "soon"), -EINVAL);
        ASSERT_INT(duration, 90 * USEC_PER_SEC);
}

TEST(parser_tables) {
        _cleanup_(option_parser_done) OptionParser p = {};

        ASSERT_INT(option_parser_init(&p, "+:", list_a, list_b), 0);
        ASSERT_INT(p.n_options, 6);
        ASSERT_STR(p.short_options, "+:ot:n:");
        ASSERT_STR(p.long_options[2].name, "text");
        ASSERT_INT(p.long_options[2].has_arg, required_argument);
        ASSERT_INT(p.long_options[1].has_arg, no_argument);
        ASSERT_TRUE(p.long_options[6].name == NULL);
        /* A letter for options that have one, OPTION_VAL_BASE + index for the others. */
        ASSERT_TRUE(option_parser_find(&p, 'o') == &opt_on);
        ASSERT_TRUE(option_parser_find(&p, 'n') == &opt_lines);
        ASSERT_TRUE(option_parser_find(&p, OPTION_VAL_BASE + 1) == &opt_off);
        ASSERT_TRUE(option_parser_find(&p, OPTION_VAL_BASE + 3) == &opt_number);
        ASSERT_TRUE(option_parser_find(&p, 'x') == NULL);
        option_parser_done(&p);

        /* Either list may be missing. */
        ASSERT_INT(option_parser_init(&p, ":", NULL, list_b), 0);
        ASSERT_INT(p.n_options, 3);
        ASSERT_STR(p.short_options, ":n:");
        ASSERT_TRUE(option_parser_find(&p, OPTION_VAL_BASE + 2) == &opt_duration);
}

TEST(parser_with_getopt) {
        _cleanup_(option_parser_done) OptionParser p = {};
        char *argv[] = { "verb", "-n", "5", "--text=hi", "arg", "--number", "12", NULL };
        const Option *o;
        int c;

        ASSERT_INT(option_parser_init(&p, ":", list_a, list_b), 0);
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(7, argv, p.short_options, p.long_options, NULL)) >= 0) {
                o = option_parser_find(&p, c);
                ASSERT_TRUE(o);
                ASSERT_INT(option_apply(o, optarg), 0);
        }
        ASSERT_INT(lines, 5);
        ASSERT_STR(text, "hi");
        ASSERT_INT(number, 12);
        ASSERT_STR(argv[optind], "arg");   /* GNU getopt moved the argument past the options */
}

TEST(help_lines) {
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);

        ASSERT_TRUE(f);
        option_list_help(f, list_a);
        (void) fclose(f);
        /* Two blanks after the longest, "  -t --text=WORD", but column 22 at least. */
        ASSERT_STR(out, "  -o --on             Turn it on\n"
                        "     --no-off         Turn it off\n"
                        "  -t --text=WORD      Say WORD\n"
                        "                      on two lines\n");
        free(out);
        out = NULL;
        f = open_memstream(&out, &size);
        ASSERT_TRUE(f);
        option_list_help(f, list_b);
        (void) fclose(f);
        ASSERT_STR(out, "     --number=N       A number\n"
                        "  -n --lines=N        Lines\n"
                        "     --wait=DURATION  How long\n");
}

TEST(progress_pace) {
        ASSERT_INT(progress_nap(500, 0, 10000), 500);        /* no timeout */
        ASSERT_INT(progress_nap(500, 3000, 1000), 500);
        ASSERT_INT(progress_nap(500, 3000, 2800), 200);      /* not past the timeout */
        ASSERT_INT(progress_nap(500, 3000, 3000), 0);
        ASSERT_INT(progress_nap(500, 3000, 9000), 0);
}

/* What p wrote to stderr while fn ran, stderr being a file (not a terminal). */
static char *stderr_of(ProgressMode mode, int (*fn)(Progress *p)) {
        FILE *f = tmpfile();
        int saved = dup(STDERR_FILENO);
        char *buf = calloc(1, 4096);
        Progress p;

        if (!f || saved < 0 || !buf)
                return NULL;
        (void) fflush(stderr);
        (void) dup2(fileno(f), STDERR_FILENO);
        progress_init(&p, mode);
        (void) fn(&p);
        progress_done(&p);
        (void) fflush(stderr);
        (void) dup2(saved, STDERR_FILENO);
        close(saved);
        rewind(f);
        (void) fread(buf, 1, 4095, f);
        (void) fclose(f);
        return buf;
}

static int show_some(Progress *p) {
        for (unsigned i = 0; i < 3; i++) {
                progress_clear(p);
                (void) progress_show(p, i * USEC_PER_SEC, "%u of %u", i < 2 ? 1u : 2u, 3u);
        }
        return 0;
}

TEST(progress_not_on_a_terminal) {
        _cleanup_free_ char *lines_out = stderr_of(PROGRESS_LINES, show_some);
        _cleanup_free_ char *quiet_out = stderr_of(PROGRESS_QUIET, show_some);

        /* A line per change of the text, no elapsed seconds, no escape sequences. */
        ASSERT_STR(lines_out, "1 of 3\n2 of 3\n");
        ASSERT_STR(quiet_out, "");
}

TEST_MAIN(T(apply_flags_and_strings), T(apply_numbers), T(apply_duration), T(parser_tables), T(parser_with_getopt),
          T(help_lines), T(progress_pace), T(progress_not_on_a_terminal))
