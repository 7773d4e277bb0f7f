/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Health checks of units that serve a host port (see ports.h). A unit describes its check in
 * [X-Fleetd]:
 *   HealthHTTP=<path>        GET <path> over HTTP/1.0; a 2xx or 3xx status passes
 *   HealthTCP=true           a TCP connect that succeeds passes (one of the two, not both)
 *   HealthInterval=<time>    from the start of one check to the start of the next; default 2s
 *   HealthTimeout=<time>     a check that has not passed by then fails; default 1s
 *   HealthThreshold=<n>      consecutive failures that make a passing unit failing; default 3
 * Times are as parse_duration() reads them ("500ms", "2s"); under 100ms counts as 100ms.
 * The agent checks 127.0.0.1:<the unit's port> while systemd says the unit is active.
 *
 * The state, as published in the unit's state record ("health"):
 *   starting  no check has passed since the unit became active. The checker starts at once
 *             and, while starting, checks again after 100 ms, 200 ms, ... up to the interval;
 *             failures in the first HEALTH_GRACE_CHECKS intervals do not count (the process
 *             is still coming up); after that, threshold consecutive failures make it failing.
 *   passing   the last check passed, or fewer than threshold have failed since one did.
 *   failing   threshold consecutive checks failed; the next pass makes it passing again.
 *
 * PURE: health_spec_from_unit_file(), health_tally_next(), health_parse_status_line().
 * HealthProbe (one check) and HealthChecker (checks on an interval) run on an sd-event loop and
 * never block: a non-blocking connect, an I/O source for writability and readability and a
 * timer for the timeout. They never log. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "basic/macros.h"
#include "basic/time-util.h"
#include "health-state.h"
#include "ports.h"

#define HEALTH_INTERVAL_DEFAULT_USEC   ((usec_t) 2 * USEC_PER_SEC)
#define HEALTH_TIMEOUT_DEFAULT_USEC    ((usec_t) 1 * USEC_PER_SEC)
#define HEALTH_THRESHOLD_DEFAULT_COUNT 3u
#define HEALTH_THRESHOLD_MAX_COUNT     100u
#define HEALTH_USEC_MIN                ((usec_t) 100 * USEC_PER_MSEC)
#define HEALTH_USEC_MAX                ((usec_t) 3600 * USEC_PER_SEC)
/* Checks after the unit became active whose failures do not count while it is starting. */
#define HEALTH_GRACE_CHECKS            3u
/* Longest HealthHTTP= path, and most bytes of an answer read to find its status line. */
#define HEALTH_PATH_MAX                8192u
#define HEALTH_STATUS_LINE_MAX         256u

typedef enum HealthKind {
        HEALTH_KIND_NONE,
        HEALTH_KIND_HTTP,
        HEALTH_KIND_TCP,
} HealthKind;

typedef struct HealthSpec {
        HealthKind kind;
        char *http_path;              /* HEALTH_KIND_HTTP only */
        usec_t interval;
        usec_t timeout;
        unsigned threshold;
} HealthSpec;

void health_spec_done(HealthSpec *s);
/* Copies src into *ret (owned by the caller). Returns 0 or -ENOMEM. */
int health_spec_copy(const HealthSpec *src, HealthSpec *ret);
bool health_spec_equal(const HealthSpec *a, const HealthSpec *b);

/* The check uf describes in [X-Fleetd]: 1 and *ret filled in (defaults for what is not given),
 * 0 and *ret = {HEALTH_KIND_NONE} when it has neither HealthHTTP= nor HealthTCP= (the other
 * Health*= keys are then ignored), -EINVAL when a Health*= value is malformed (a path that does
 * not start with '/' or holds blanks or control characters or is longer than HEALTH_PATH_MAX,
 * both kinds at once, a bad time or count), with *ret_error (optional, owned by the caller)
 * saying which key and why; -ENOMEM. *ret is written only on success. */
int health_spec_from_unit_file(const UnitFile *uf, HealthSpec *ret, char **ret_error);

/* Where a unit's health stands: its state, the checks since it became active (saturating), and
 * the consecutive failures that count (see above). Start from (HealthTally) {}. */
typedef struct HealthTally {
        HealthState state;
        unsigned checks;
        unsigned failures;
} HealthTally;

/* The tally after one more check that passed or failed, for a check with this threshold
 * (0 counts as 1). */
HealthTally health_tally_next(HealthTally t, bool passed, unsigned threshold);

/* The status code of the HTTP status line at the start of buf[0..n) ("HTTP/1.1 200 OK\r\n").
 * complete says no more bytes will come. Returns 0 and *ret_status (100..999), -EAGAIN when the
 * bytes so far could still become a status line, -EBADMSG when they cannot. */
int health_parse_status_line(const char *buf, size_t n, bool complete, int *ret_status);

/* --- one check --- */

typedef struct HealthProbe HealthProbe;

/* The check finished: result 0 if it passed, else a negative errno (-ECONNREFUSED, -ETIMEDOUT,
 * -EBADMSG for an answer without a status line, -EPROTO for a status outside 2xx/3xx, ...).
 * status is the HTTP status seen, or 0. Called once, from the event loop, never from
 * health_probe_start(); the callback may free the probe. */
typedef void (*health_probe_done_t)(HealthProbe *p, int result, int status, void *userdata);

/* Starts one check of spec (HTTP or TCP) against 127.0.0.1:port. Returns 0 (done comes later)
 * or a negative errno when it cannot even start (no socket, no memory). */
int health_probe_start(sd_event *e, const HealthSpec *spec, uint16_t port, health_probe_done_t done,
                       void *userdata, HealthProbe **ret);
/* Cancels a check in flight (done is not called) or frees a finished one. NULL is fine. */
HealthProbe *health_probe_free(HealthProbe *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(HealthProbe *, health_probe_free);

/* --- checks on an interval --- */

typedef struct HealthChecker HealthChecker;

/* The state changed. The callback must not free the checker. */
typedef void (*health_changed_t)(HealthChecker *c, HealthState state, void *userdata);

/* Checks 127.0.0.1:port as spec says: the first check first_delay from now, then one every
 * spec->interval (counted from the start of the previous one; never two at once). The checker
 * starts in HEALTH_STARTING and keeps its own copy of spec. Returns 0 or a negative errno. */
int health_checker_new(sd_event *e, const HealthSpec *spec, uint16_t port, usec_t first_delay,
                       health_changed_t on_change, void *userdata, HealthChecker **ret);
/* Stops checking (a check in flight is dropped) and frees c. NULL is fine; returns NULL. */
HealthChecker *health_checker_free(HealthChecker *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(HealthChecker *, health_checker_free);

HealthState health_checker_state(const HealthChecker *c);
/* The result of the last check (0: passed, else as health_probe_done_t's result) and its HTTP
 * status (0 if none) in *ret_status (optional); 0 before the first one. Checks are counted in
 * fleetd_health_checks_total{kind, result}. */
int health_checker_last_result(const HealthChecker *c, int *ret_status);
