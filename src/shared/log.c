/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;
static char identifier[64] = "fleetd";
static int use_journal = -1;
static char fields[4][128];
static size_t n_fields;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_identifier(const char *name) {
        snprintf(identifier, sizeof(identifier), "%s", name);
}

void log_set_field(const char *name, const char *value) {
        for (size_t i = 0; i < n_fields; i++)
                if (startswith(fields[i], name) && fields[i][strlen(name)] == '=') {
                        snprintf(fields[i], sizeof(fields[i]), "%s=%s", name, value);
                        return;
                }
        if (n_fields < ELEMENTSOF(fields))
                snprintf(fields[n_fields++], sizeof(fields[0]), "%s=%s", name, value);
}

#define EXTRA_FIELDS_MAX 8

static void log_to_journal(int level, const char *unit, const char * const *extra, const char *message) {
        char prio[32], msg[2048 + 16], unitf[300], ident[96];
        struct iovec iov[4 + ELEMENTSOF(fields) + EXTRA_FIELDS_MAX];
        size_t n = 0;

        snprintf(prio, sizeof(prio), "PRIORITY=%d", level);
        snprintf(msg, sizeof(msg), "MESSAGE=%s", message);
        iov[n++] = (struct iovec) { prio, strlen(prio) };
        iov[n++] = (struct iovec) { msg, strlen(msg) };
        snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", identifier);
        iov[n++] = (struct iovec) { ident, strlen(ident) };
        if (unit) {
                snprintf(unitf, sizeof(unitf), "UNIT=%s", unit);
                iov[n++] = (struct iovec) { unitf, strlen(unitf) };
        }
        for (size_t i = 0; i < n_fields; i++)
                iov[n++] = (struct iovec) { fields[i], strlen(fields[i]) };
        for (size_t i = 0; extra && extra[i] && i < EXTRA_FIELDS_MAX; i++)
                iov[n++] = (struct iovec) { (void *) extra[i], strlen(extra[i]) };
        sd_journal_sendv(iov, (int) n);
}

static int log_internalv(int level, int error, const char *unit, const char * const *extra, const char *fmt,
                         va_list ap) {
        char message[2048];
        int saved = errno;

        if (level > max_level)
                return error < 0 ? error : -abs(error);

        if (use_journal < 0)
                use_journal = getenv("JOURNAL_STREAM") != NULL;

        errno = error < 0 ? -error : error;
        vsnprintf(message, sizeof(message), fmt, ap);

        if (use_journal)
                log_to_journal(level, unit, extra, message);
        else if (unit)
                fprintf(stderr, "%s: %s\n", unit, message);
        else
                fprintf(stderr, "%s\n", message);

        errno = saved;
        return error < 0 ? error : -abs(error);
}

int log_internal(int level, int error, const char *unit, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = log_internalv(level, error, unit, NULL, fmt, ap);
        va_end(ap);
        return r;
}

int log_fields(int level, const char * const *extra, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = log_internalv(level, 0, NULL, extra, fmt, ap);
        va_end(ap);
        return r;
}
