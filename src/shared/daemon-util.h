/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* How the daemons here (fleetd, fleet-router) start and run: the configuration through the
 * shared loader, one sd-event loop that SIGTERM and SIGINT end, the watchdog, and what systemd
 * is told (READY=1, STATUS=, STOPPING=1; Type=notify units). The edge: it logs its errors. */

#include <systemd/sd-event.h>

#include "basic/macros.h"
#include "conf-parser.h"

/* --help (or -h) and --version anywhere in argv: calls help() or prints "<name> <version>",
 * and returns true, for main() to exit with success. */
bool daemon_help_or_version(int argc, char * const *argv, const char *name, void (*help)(void));

/* Loads obj's configuration with conf_load() from argv and this process's environment. Then
 * sets the log level from *log_level (a field of obj), logs which file was read (none, the
 * default one, or the fallback instead of the default) and the notes. On failure logs what
 * is wrong ("Invalid configuration: path:3: ..."). Returns 0 or a negative errno (logged). */
int daemon_load_config(const ConfTable *t, void *obj, int argc, char * const *argv, const int *log_level);

/* The default event loop, set up for a daemon: SIGTERM and SIGINT end the loop (exit code 0);
 * SIGHUP calls on_sighup(userdata) when on_sighup is given; SIGCHLD is blocked too, so that
 * child sources work. The watchdog is served when systemd asks for one (WatchdogSec=). Call it
 * before any thread exists: threads inherit the signal mask. Returns 0 or a negative errno
 * (logged). */
int daemon_event_new(sd_event_signal_handler_t on_sighup, void *userdata, sd_event **ret);

/* READY=1, with STATUS=status when status is not NULL. */
void daemon_notify_ready(const char *status);
/* STATUS=, formatted. */
void daemon_notify_status(const char *fmt, ...) _printf_(1, 2);

/* Runs the loop until a signal ends it, then tells systemd STOPPING=1. Returns 0, or the
 * loop's error (logged). */
int daemon_run(sd_event *e);
