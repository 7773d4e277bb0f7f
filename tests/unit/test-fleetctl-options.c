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

static usec_t seconds = 0;
static const Option opt_seconds = { "request-timeout", 0, OPTION_SECONDS, &seconds, "SECONDS", "Per request" };
static const Option opt_ignored = { "ssh-username", 0, OPTION_IGNORED, NULL, "USER", "no SSH here" };
static const Option opt_ignored_flag = { "strict-host-key-checking", 0, OPTION_IGNORED_FLAG, NULL, NULL, "no SSH here" };
static const Option opt_action = { "version", 'v', OPTION_ACTION, NULL, NULL, "Version" };

/* What fn wrote to stderr, stderr being a file. */
static char *stderr_during(int (*fn)(void)) {
        FILE *f = tmpfile();
        int saved = dup(STDERR_FILENO);
        char *buf = calloc(1, 4096);

        if (!f || saved < 0 || !buf)
                return NULL;
        (void) fflush(stderr);
        (void) dup2(fileno(f), STDERR_FILENO);
        (void) fn();
        (void) fflush(stderr);
        (void) dup2(saved, STDERR_FILENO);
        close(saved);
        rewind(f);
        (void) fread(buf, 1, 4095, f);
        (void) fclose(f);
        return buf;
}

/* fleet's float seconds, or a duration. */
TEST(apply_seconds) {
        ASSERT_INT(option_apply(&opt_seconds, "3.0"), 0);
        ASSERT_INT(seconds, 3 * USEC_PER_SEC);
        ASSERT_INT(option_apply(&opt_seconds, "0.25"), 0);
        ASSERT_INT(seconds, 250 * USEC_PER_MSEC);
        ASSERT_INT(option_apply(&opt_seconds, "90s"), 0);
        ASSERT_INT(seconds, 90 * USEC_PER_SEC);
        ASSERT_INT(option_apply(&opt_seconds, "0"), 0);
        ASSERT_INT(seconds, 0);
        ASSERT_INT(option_apply(&opt_seconds, "-1"), -EINVAL);
        ASSERT_INT(option_apply(&opt_seconds, "1.5.2"), -EINVAL);
        ASSERT_INT(seconds, 0);
}

static int apply_ignored(void) {
        return option_apply(&opt_ignored, "core") | option_apply(&opt_ignored_flag, NULL) |
               option_apply(&opt_ignored_flag, "false");
}

static int apply_ignored_bad(void) {
        return option_apply(&opt_ignored_flag, "maybe");
}

/* fleet's options that mean nothing here: a note each, and a flag's value is still checked. */
TEST(apply_ignored) {
        _cleanup_free_ char *notes = stderr_during(apply_ignored), *bad = stderr_during(apply_ignored_bad);

        ASSERT_STR(notes, "fleetctl: note: ignoring --ssh-username: no SSH here.\n"
                          "fleetctl: note: ignoring --strict-host-key-checking: no SSH here.\n"
                          "fleetctl: note: ignoring --strict-host-key-checking: no SSH here.\n");
        ASSERT_STR(bad, "fleetctl: --strict-host-key-checking takes true or false, not 'maybe'.\n");
        ASSERT_INT(apply_ignored_bad(), -EINVAL);
        ASSERT_TRUE(option_has_value(&opt_ignored) && !option_has_value(&opt_ignored_flag));
        ASSERT_TRUE(option_is_flag(&opt_ignored_flag) && option_is_flag(&opt_on) && !option_is_flag(&opt_action));
}

/* Only fleet's ignored flags take --x=BOOL on the command line. */
TEST(parser_ignored_flag) {
        _cleanup_(option_parser_done) OptionParser p = {};
        OptionList list = { &opt_on, &opt_ignored_flag, &opt_ignored, &opt_action, NULL };
        char *argv[] = { "x", "--strict-host-key-checking=false", "--ssh-username", "core", "-v", NULL };
        int c;

        ASSERT_INT(option_parser_init(&p, ":", list, NULL), 0);
        ASSERT_INT(p.long_options[0].has_arg, no_argument);
        ASSERT_INT(p.long_options[1].has_arg, optional_argument);
        ASSERT_INT(p.long_options[2].has_arg, required_argument);
        ASSERT_INT(p.long_options[3].has_arg, no_argument);
        ASSERT_STR(p.short_options, ":ov");
        optind = 0;
        opterr = 0;
        c = getopt_long(5, argv, p.short_options, p.long_options, NULL);
        ASSERT_TRUE(option_parser_find(&p, c) == &opt_ignored_flag);
        ASSERT_STR(optarg, "false");
        c = getopt_long(5, argv, p.short_options, p.long_options, NULL);
        ASSERT_TRUE(option_parser_find(&p, c) == &opt_ignored);
        ASSERT_STR(optarg, "core");
        c = getopt_long(5, argv, p.short_options, p.long_options, NULL);
        ASSERT_TRUE(option_parser_find(&p, c) == &opt_action);
}

TEST(env_names) {
        char buf[OPTION_ENV_NAME_MAX];

        ASSERT_STR(option_env_name(&opt_seconds, buf), "FLEETCTL_REQUEST_TIMEOUT");
        ASSERT_STR(option_env_name(&opt_ignored_flag, buf), "FLEETCTL_STRICT_HOST_KEY_CHECKING");
        ASSERT_STR(option_env_name(&opt_on, buf), "FLEETCTL_ON");
}

static int apply_env_bad(void) {
        return option_apply_env(&opt_seconds);
}

static int apply_env_ignored(void) {
        return option_apply_env(&opt_ignored) + option_apply_env(&opt_ignored_flag);
}

/* FLEETCTL_<NAME>: unset and empty set nothing; flags take Go's booleans; a bad value names
 * the variable; fleet's ignored ones are silent; actions are not read. */
TEST(apply_env) {
        _cleanup_free_ char *bad = NULL, *quiet = NULL;

        unsetenv("FLEETCTL_ON");
        flag_on = false;
        ASSERT_INT(option_apply_env(&opt_on), 0);
        ASSERT_TRUE(!flag_on);
        setenv("FLEETCTL_ON", "", 1);
        ASSERT_INT(option_apply_env(&opt_on), 0);
        setenv("FLEETCTL_ON", "True", 1);
        ASSERT_INT(option_apply_env(&opt_on), 1);
        ASSERT_TRUE(flag_on);
        setenv("FLEETCTL_ON", "0", 1);
        ASSERT_INT(option_apply_env(&opt_on), 1);
        ASSERT_TRUE(!flag_on);
        setenv("FLEETCTL_NO_OFF", "true", 1);   /* --no-off=true turns it off */
        flag_off = true;
        ASSERT_INT(option_apply_env(&opt_off), 1);
        ASSERT_TRUE(!flag_off);
        setenv("FLEETCTL_ON", "yes please", 1);
        ASSERT_INT(option_apply_env(&opt_on), -EINVAL);

        setenv("FLEETCTL_REQUEST_TIMEOUT", "1.5", 1);
        ASSERT_INT(option_apply_env(&opt_seconds), 1);
        ASSERT_INT(seconds, 1500 * USEC_PER_MSEC);
        setenv("FLEETCTL_REQUEST_TIMEOUT", "soon", 1);
        bad = stderr_during(apply_env_bad);
        ASSERT_STR(bad, "fleetctl: FLEETCTL_REQUEST_TIMEOUT: --request-timeout takes seconds (3, 1.5) or a duration "
                        "such as 90s, not 'soon'.\n");
        ASSERT_INT(seconds, 1500 * USEC_PER_MSEC);

        setenv("FLEETCTL_SSH_USERNAME", "core", 1);
        setenv("FLEETCTL_STRICT_HOST_KEY_CHECKING", "false", 1);
        quiet = stderr_during(apply_env_ignored);
        ASSERT_STR(quiet, "");
        ASSERT_INT(apply_env_ignored(), 2);
        setenv("FLEETCTL_VERSION", "1", 1);
        ASSERT_INT(option_apply_env(&opt_action), 0);
        unsetenv("FLEETCTL_ON");
        unsetenv("FLEETCTL_NO_OFF");
        unsetenv("FLEETCTL_REQUEST_TIMEOUT");
        unsetenv("FLEETCTL_SSH_USERNAME");
        unsetenv("FLEETCTL_STRICT_HOST_KEY_CHECKING");
        unsetenv("FLEETCTL_VERSION");
}

TEST(progress_pace) {
        ASSERT_INT(progress_nap(500, 0, 10000), 500);        /* no timeout */
        ASSERT_INT(progress_nap(500, 3000, 1000), 500);
        ASSERT_INT(progress_nap(500, 3000, 2800), 200);      /* not past the timeout */
        ASSERT_INT(progress_nap(500, 3000, 3000), 0);
        ASSERT_INT(progress_nap(500, 3000, 9000), 0);
}

static ProgressMode progress_mode;
static int (*progress_fn)(Progress *p);

static int run_progress(void) {
        Progress p;

        progress_init(&p, progress_mode);
        (void) progress_fn(&p);
        progress_done(&p);
        return 0;
}

/* What p wrote to stderr while fn ran, stderr being a file (not a terminal). */
static char *stderr_of(ProgressMode mode, int (*fn)(Progress *p)) {
        progress_mode = mode;
        progress_fn = fn;
        return stderr_during(run_progress);
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

TEST_MAIN(T(apply_flags_and_strings), T(apply_numbers), T(apply_duration), T(apply_seconds), T(apply_ignored),
          T(parser_tables), T(parser_with_getopt), T(parser_ignored_flag), T(env_names), T(apply_env), T(help_lines),
          T(progress_pace), T(progress_not_on_a_terminal))
