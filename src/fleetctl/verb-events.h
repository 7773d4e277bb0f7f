/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* fleetctl events (verb-events.c), and the last events that ps and apps show. */

#include <jansson.h>
#include <stdbool.h>

#include "client.h"
#include "options.h"

extern OptionList events_options;
int verb_events(Client *c, int argc, char **argv);

/* "Dec 02 09:14:03  hello  release v3 created (config set GREETING) by alice" (local time); without
 * subject, no app/unit/machine column. NULL on -ENOMEM. */
char *event_line(const json_t *event, bool subject);

/* The newest limit events (of app, if not NULL) as fleetd sent them, oldest first; NULL when
 * fleetd has none to give (no /v1/events, an error: nothing is printed). */
json_t *events_last(Client *c, const char *app, size_t limit);
