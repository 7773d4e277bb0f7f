/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* builds/<app>/<id>: one image build of an app (`fleetctl deploy --build`), written by the
 * fleetd that ran it when it starts and when it ends; the last BUILD_RECORDS_KEPT of an app are
 * kept. PURE: the record and its JSON. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/macros.h"

#define BUILD_RECORDS_KEPT 20u
/* "YYYYMMDD-HHMMSS-xxxx" (UTC, 4 hex digits of chance): sorts by time as text. */
#define BUILD_ID_LEN       20u

typedef enum BuildState {
        BUILD_RUNNING,
        BUILD_SUCCEEDED,
        BUILD_FAILED,
        _BUILD_STATE_MAX,
        _BUILD_STATE_INVALID = -EINVAL,
} BuildState;

const char *build_state_to_string(BuildState s);
BuildState build_state_from_string(const char *s);

typedef struct BuildRecord {
        char *app;
        char *id;
        BuildState state;
        char *machine;                /* the machine id of the fleetd that builds */
        char *revision;               /* the source's git commit, as fleetctl found it; NULL: none */
        char *image;                  /* "<registry>/<app>:<tag>" */
        char *digest;                 /* once pushed */
        unsigned release;             /* the release made from it; 0: none (yet) */
        char *error;                  /* why it failed */
        uint64_t started_usec, finished_usec;  /* realtime; finished 0 while running */
} BuildRecord;

void build_record_done(BuildRecord *b);
/* The JSON of builds/<app>/<id>; unset strings and a release of 0 are left out. NULL on OOM. */
json_t *build_record_to_json(const BuildRecord *b);
/* -EBADMSG for anything build_record_to_json() would not write (unknown or missing keys,
 * wrong types, a bad app name, id or state), -ENOMEM; *ret written only on success. */
int build_record_from_json(const json_t *j, BuildRecord *ret);

/* The id for a build started at realtime usec with chance bits rnd, into ret (at least
 * BUILD_ID_LEN + 1 bytes). */
void build_id_format(uint64_t usec, uint32_t rnd, char *ret);
bool build_id_is_valid(const char *s);
