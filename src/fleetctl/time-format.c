/* SPDX-License-Identifier: Apache-2.0 */
/* Times for people (see time-format.h), the way systemd words them. */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "basic/macros.h"
#include "time-format.h"

#define USEC_PER_MINUTE (60 * USEC_PER_SEC)
#define USEC_PER_HOUR   (60 * USEC_PER_MINUTE)
#define USEC_PER_DAY    (24 * USEC_PER_HOUR)
#define USEC_PER_WEEK   (7 * USEC_PER_DAY)
#define USEC_PER_MONTH  (2629800 * USEC_PER_SEC)    /* 30.44 days, as systemd counts */
#define USEC_PER_YEAR   (31557600 * USEC_PER_SEC)   /* 365.25 days */

const char *format_timestamp(char *buf, size_t size, usec_t t) {
        time_t sec = (time_t) (t / USEC_PER_SEC);
        struct tm tm;

        if (!localtime_r(&sec, &tm) || strftime(buf, size, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                snprintf(buf, size, "@%" PRIu64, t / USEC_PER_SEC);
        return buf;
}

typedef struct TimeSpan {
        usec_t usec;
        const char *one, *many;   /* what follows the number */
} TimeSpan;

static const TimeSpan span_year = { USEC_PER_YEAR, " year", " years" };
static const TimeSpan span_month = { USEC_PER_MONTH, " month", " months" };
static const TimeSpan span_week = { USEC_PER_WEEK, " week", " weeks" };
static const TimeSpan span_day = { USEC_PER_DAY, " day", " days" };
static const TimeSpan span_hour = { USEC_PER_HOUR, "h", "h" };
static const TimeSpan span_minute = { USEC_PER_MINUTE, "min", "min" };
static const TimeSpan span_second = { USEC_PER_SEC, "s", "s" };

const char *format_relative(char *buf, size_t size, usec_t t, usec_t now) {
        static const struct {
                usec_t from;
                const TimeSpan *big, *small;
        } steps[] = {
                { USEC_PER_YEAR, &span_year, &span_month },
                { USEC_PER_MONTH, &span_month, &span_day },
                { USEC_PER_WEEK, &span_week, &span_day },
                { 2 * USEC_PER_DAY, &span_day, NULL },
                { 25 * USEC_PER_HOUR, &span_day, &span_hour },
                { 6 * USEC_PER_HOUR, &span_hour, NULL },
                { USEC_PER_HOUR, &span_hour, &span_minute },
                { 5 * USEC_PER_MINUTE, &span_minute, NULL },
                { USEC_PER_MINUTE, &span_minute, &span_second },
                { USEC_PER_SEC, &span_second, NULL },
        };
        usec_t d = t <= now ? now - t : t - now;
        unsigned long long a, b;

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                if (d < steps[i].from)
                        continue;
                a = d / steps[i].big->usec;
                if (!steps[i].small) {
                        snprintf(buf, size, "%llu%s %s", a, a == 1 ? steps[i].big->one : steps[i].big->many,
                                 t <= now ? "ago" : "left");
                        return buf;
                }
                b = d % steps[i].big->usec / steps[i].small->usec;
                snprintf(buf, size, "%llu%s %llu%s %s", a, a == 1 ? steps[i].big->one : steps[i].big->many, b,
                         b == 1 ? steps[i].small->one : steps[i].small->many, t <= now ? "ago" : "left");
                return buf;
        }
        snprintf(buf, size, "now");
        return buf;
}
