/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <syslog.h>

#include "basic/macros.h"

/* Logging for the edges of the daemon (never from basic/ or pure modules).
 * Under systemd (JOURNAL_STREAM set) messages go to the journal with structured fields,
 * otherwise to stderr. Every message carries the fields set with log_set_field(), such as
 * MACHINE_ID=. The *_errno variants set errno from the negative error so that %m works,
 * and return the negative error for `return log_error_errno(r, "...: %m");`. */

void log_set_max_level(int level);
void log_set_identifier(const char *name);
int log_get_max_level(void);
/* Adds a FIELD=value pair that is sent with every later message (at most 4). */
void log_set_field(const char *name, const char *value);

int log_internal(int level, int error, const char *unit, const char *fmt, ...) _printf_(4, 5);
/* A message with extra journal fields: "NAME=value" strings, NULL-terminated, at most 8 (more
 * are left out), sent beside the ones of log_set_field() (a name may repeat: the journal keeps
 * both values). Without the journal only the message is written. */
int log_fields(int level, const char * const *extra, const char *fmt, ...) _printf_(3, 4);

#define log_full_errno(level, error, ...) log_internal(level, error, NULL, __VA_ARGS__)
#define log_debug(...)   log_internal(LOG_DEBUG, 0, NULL, __VA_ARGS__)
#define log_info(...)    log_internal(LOG_INFO, 0, NULL, __VA_ARGS__)
#define log_notice(...)  log_internal(LOG_NOTICE, 0, NULL, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, NULL, __VA_ARGS__)
#define log_error(...)   log_internal(LOG_ERR, 0, NULL, __VA_ARGS__)
#define log_debug_errno(e, ...)   log_internal(LOG_DEBUG, e, NULL, __VA_ARGS__)
#define log_info_errno(e, ...)    log_internal(LOG_INFO, e, NULL, __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, e, NULL, __VA_ARGS__)
#define log_error_errno(e, ...)   log_internal(LOG_ERR, e, NULL, __VA_ARGS__)
/* With a UNIT= field, so `journalctl -u fleetd UNIT=x.service` finds it. */
#define log_unit_info(u, ...)     log_internal(LOG_INFO, 0, u, __VA_ARGS__)
#define log_unit_warning_errno(u, e, ...) log_internal(LOG_WARNING, e, u, __VA_ARGS__)

#define log_oom() log_internal(LOG_ERR, -ENOMEM, NULL, "Out of memory.")
