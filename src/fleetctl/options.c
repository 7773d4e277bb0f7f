/* SPDX-License-Identifier: Apache-2.0 */
/* Options as data (see options.h), and the options several verbs share. */
#include <assert.h>
#include <ctype.h>
#include <limits.h>

#include "basic/macros.h"
#include "basic/string-util.h"
#include "options.h"

/* Help texts start in this column at least, and two blanks after the longest option. */
#define OPTION_HELP_COLUMN 22

bool option_is_flag(const Option *o) {
        return o->kind == OPTION_TRUE || o->kind == OPTION_FALSE || o->kind == OPTION_IGNORED_FLAG;
}

bool option_has_value(const Option *o) {
        return o->kind != OPTION_ACTION && !option_is_flag(o);
}

/* A whole number up to max, as strtoul reads it but without a sign. */
static int parse_unsigned(const char *arg, unsigned long max, unsigned *ret) {
        unsigned long n;
        char *end;

        errno = 0;
        n = strtoul(arg, &end, 10);
        if (errno != 0 || end == arg || *end || arg[0] == '-' || n > max)
                return -EINVAL;
        *ret = (unsigned) n;
        return 0;
}

/* source: NULL for the command line, else the variable the value came from. */
static int value_error(const Option *o, const char *source, const char *what, const char *arg) {
        fprintf(stderr, "fleetctl: %s%s--%s takes %s, not '%s'.\n", strempty(source), source ? ": " : "", o->name,
                what, arg);
        return -EINVAL;
}

/* A flag's value: none is true, else Go's booleans. */
static int flag_value(const Option *o, const char *source, const char *arg, bool *ret) {
        int b = arg ? parse_boolean(arg) : 1;

        if (b < 0)
                return value_error(o, source, "true or false", arg);
        *ret = b;
        return 0;
}

static int apply_from(const Option *o, const char *source, const char *arg) {
        bool b;

        switch (o->kind) {
        case OPTION_ACTION:
                return 0;
        case OPTION_TRUE:
        case OPTION_FALSE:
                if (flag_value(o, source, arg, &b) < 0)
                        return -EINVAL;
                *(bool *) o->value = o->kind == OPTION_TRUE ? b : !b;
                return 0;
        case OPTION_STRING:
                *(const char **) o->value = arg;
                return 0;
        case OPTION_UNSIGNED:
                if (parse_unsigned(arg, UINT_MAX, o->value) < 0)
                        return value_error(o, source, "a number", arg);
                return 0;
        case OPTION_LINES:
                if (parse_unsigned(arg, INT_MAX, o->value) < 0)
                        return value_error(o, source, "a number of lines", arg);
                return 0;
        case OPTION_DURATION:
                if (parse_duration(arg, o->value) < 0)
                        return value_error(o, source, "a duration such as 90s or 5m", arg);
                return 0;
        case OPTION_SECONDS:
                if (parse_duration_fraction(arg, o->value) < 0)
                        return value_error(o, source, "seconds (3, 1.5) or a duration such as 90s", arg);
                return 0;
        case OPTION_IGNORED_FLAG:
        case OPTION_IGNORED:
                if (o->kind == OPTION_IGNORED_FLAG && flag_value(o, source, arg, &b) < 0)
                        return -EINVAL;
                if (!source)
                        fprintf(stderr, "fleetctl: note: ignoring --%s: %s.\n", o->name, o->help);
                return 0;
        default:
                assert(!"unknown option kind");
                return -EINVAL;
        }
}

int option_apply(const Option *o, const char *arg) {
        assert(o);
        assert(!option_has_value(o) || arg);

        return apply_from(o, NULL, arg);
}

char *option_env_name(const Option *o, char buf[static OPTION_ENV_NAME_MAX]) {
        size_t k = strlen("FLEETCTL_");

        memcpy(buf, "FLEETCTL_", k);
        for (const char *p = o->name; *p && k + 1 < OPTION_ENV_NAME_MAX; p++)
                buf[k++] = *p == '-' ? '_' : (char) toupper((unsigned char) *p);
        buf[k] = '\0';
        return buf;
}

int option_apply_env(const Option *o) {
        char name[OPTION_ENV_NAME_MAX];
        const char *value;

        assert(o);
        if (o->kind == OPTION_ACTION)
                return 0;
        value = getenv(option_env_name(o, name));
        if (isempty(value))
                return 0;
        return apply_from(o, name, value) < 0 ? -EINVAL : 1;
}

/* "  -n --lines=N" or "     --no-legend": what the help shows before the text. */
static int option_left(const Option *o, char *buf, size_t size) {
        char short_part[4] = "   ";

        if (o->short_name)
                snprintf(short_part, sizeof(short_part), "-%c ", o->short_name);
        return snprintf(buf, size, "  %s--%s%s%s", short_part, o->name, o->metavar ? "=" : "",
                        strempty(o->metavar));
}

void option_list_help(FILE *f, const Option *const *list) {
        int width = OPTION_HELP_COLUMN - 2;
        char left[128];

        for (const Option *const *o = list; *o; o++)
                width = MAX(width, option_left(*o, left, sizeof(left)));
        width += 2;
        for (const Option *const *o = list; *o; o++) {
                option_left(*o, left, sizeof(left));
                fprintf(f, "%-*s", width, left);
                /* Each further line of the text starts in the text's column too. */
                for (const char *p = (*o)->help; *p; p++)
                        if (*p == '\n')
                                fprintf(f, "\n%*s", width, "");
                        else
                                fputc(*p, f);
                fputc('\n', f);
        }
}

static size_t option_list_length(const Option *const *list) {
        size_t n = 0;

        while (list && list[n])
                n++;
        return n;
}

/* The val getopt returns for options[i]. */
static int option_val(const Option *o, size_t i) {
        return o->short_name ? o->short_name : OPTION_VAL_BASE + (int) i;
}

int option_parser_init(OptionParser *p, const char *prefix, const Option *const *a, const Option *const *b) {
        size_t n_a = option_list_length(a), n = n_a + option_list_length(b), k = strlen(prefix);

        *p = (OptionParser) {};
        p->options = calloc(n + 1, sizeof(Option *));
        p->long_options = calloc(n + 1, sizeof(struct option));
        /* At most a letter and a ':' per option. */
        p->short_options = calloc(k + 2 * n + 1, 1);
        if (!p->options || !p->long_options || !p->short_options)
                return -ENOMEM;
        memcpy(p->short_options, prefix, k);
        for (size_t i = 0; i < n; i++) {
                const Option *o = i < n_a ? a[i] : b[i - n_a];

                p->options[i] = o;
                p->long_options[i] = (struct option) {
                        .name = o->name,
                        .has_arg = option_has_value(o) ? required_argument :
                                   o->kind == OPTION_IGNORED_FLAG ? optional_argument : no_argument,
                        .val = option_val(o, i),
                };
                if (o->short_name) {
                        p->short_options[k++] = o->short_name;
                        if (option_has_value(o))
                                p->short_options[k++] = ':';
                }
        }
        p->n_options = n;
        return 0;
}

void option_parser_done(OptionParser *p) {
        free(p->options);
        free(p->long_options);
        free(p->short_options);
        *p = (OptionParser) {};
}

const Option *option_parser_find(const OptionParser *p, int c) {
        for (size_t i = 0; i < p->n_options; i++)
                if (p->long_options[i].val == c)
                        return p->options[i];
        return NULL;
}

/* The listing verbs' options. */

bool arg_full = false;
bool arg_legend = true;
const char *arg_fields = NULL;

const Option option_full = { "full", 'l', OPTION_TRUE, &arg_full, NULL, "Show whole machine IDs and hashes" };
const Option option_no_legend = { "no-legend", 0, OPTION_FALSE, &arg_legend, NULL, "Do not print the header line" };

/* The journal's options. */

unsigned arg_lines = JOURNAL_LINES_DEFAULT;
bool arg_follow = false;

const Option option_lines = { "lines", 'n', OPTION_LINES, &arg_lines, "N", "Show the last N lines (default 10)" };
const Option option_follow = {
        "follow", 'f', OPTION_TRUE, &arg_follow, NULL, "Keep printing new lines as they come (Ctrl-C stops)"
};

/* submit's, load's and start's. */

bool arg_replace = false;

const Option option_replace = {
        "replace", 0, OPTION_TRUE, &arg_replace, NULL, "Replace a unit the cluster has with other contents"
};
