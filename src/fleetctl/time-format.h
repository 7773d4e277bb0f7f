/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Times for people, as systemctl shows them. Both write into buf and return it. */

#include <stddef.h>

#include "basic/time-util.h"

/* "Tue 2024-01-02 03:04:05 UTC", in local time, for a realtime t in microseconds. */
const char *format_timestamp(char *buf, size_t size, usec_t t);

/* "2min 5s ago", "3h 12min ago", "4 days ago" (or "... left" when t is after now): how long
 * from t to now, in one or two parts depending on how long; "now" under a second. */
const char *format_relative(char *buf, size_t size, usec_t t, usec_t now);
