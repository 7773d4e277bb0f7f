/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Following an app after a change (deploy, scale, config, rollback, restart) until it runs
 * what it should: GET /v1/apps/<app> every APP_WAIT_INTERVAL until app_wait_check() says it is
 * over, or --timeout ran out. Meanwhile progress on stderr: one line that updates itself on a
 * terminal, else a line per change. At the end, on stdout, "hello v3 is running: web=3
 * worker=1" and a line per instance; or the rollout's message ("v3 failed: ...; rolling back
 * to v4 (a copy of v2)") on stderr and a failure. */

#include <stdbool.h>

#include "basic/time-util.h"
#include "fleetctl.h"

#define APP_WAIT_INTERVAL        (500 * USEC_PER_MSEC)
#define APP_WAIT_TIMEOUT_DEFAULT (5 * 60 * USEC_PER_SEC)

/* --no-wait, --timeout=DURATION (0: none): app_wait_options, and APP_WAIT_OPTIONS in the
 * option lists of verbs with options of their own (deploy). */
extern bool arg_no_wait;
extern usec_t arg_app_timeout;
extern const Option option_no_wait, option_app_timeout;
#define APP_WAIT_OPTIONS &option_no_wait, &option_app_timeout
extern OptionList app_wait_options;

/* "/v1/apps/<app, escaped><suffix>" (suffix "" or "/scale", ...). NULL on -ENOMEM. */
char *app_path(Client *c, const char *app, const char *suffix);

/* After a change whose answer (the app object) is answer: returns 0 at once with --no-wait,
 * else waits as described above. Returns 0 once the app runs what it should; -EIO if its
 * rollout failed or the wait timed out (printed); or what client_call() returns (-ENOENT: the
 * app went away meanwhile). */
int app_wait(Client *c, const char *app, const json_t *answer);
