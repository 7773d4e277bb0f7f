/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Which machine a HOST argument of the machine verbs names, and the order of a rolling reboot.
 * PURE: takes GET /v1/machines' list and GET /v1/drains' list as fleetd sent them, no I/O,
 * no messages.
 *
 * A HOST is, in this order of precedence: a whole machine id, a hostname (case-insensitive),
 * an IP, or a prefix of a machine id. The machines registered now count first; a machine that
 * is down has no machine record and is found only by its id (or a prefix of it) in the drain
 * records, so that a drained host that is down can still be uncordoned. */

#include <stdbool.h>

#include <jansson.h>

#include "basic/macros.h"

typedef struct Host {
        char *id;
        char *name;       /* for people: the hostname, else the id's first 8 characters and "..." */
        char *boot_id;    /* as its record says; NULL when down or not reported */
        bool present;     /* registered now; false: down, known only by its drain record */
} Host;

void host_done(Host *h);

/* Fills h from a machine record (present) or a drain record (not present). Returns 0,
 * -EBADMSG for a record without an id, or -ENOMEM. */
int host_from_machine(const json_t *machine, Host *ret);
int host_from_drain(const json_t *drain, Host *ret);

/* "node-a", or "3f2a1b9c..." for a machine without a hostname: a new string, NULL on -ENOMEM. */
char *host_display_name(const char *id, const char *hostname);

/* The machine arg names among machines (GET /v1/machines' array) and drains (GET /v1/drains'
 * array; NULL when not fetched yet). Returns 0 and *ret filled; -ENOENT when nothing matches
 * (drains may then still have it: fetch them and ask again); -ENOTUNIQ when arg names several
 * machines, with one line per candidate ("<id>  <hostname>  <ip>") in *ret_candidates (a strv
 * owned by the caller); -ENOMEM. */
int host_find(const json_t *machines, const json_t *drains, const char *arg, Host *ret, char ***ret_candidates);

/* Whether arg can only be settled with the drain records: no machine has it as its id,
 * hostname or IP (a prefix may still match a machine and a down one alike). */
bool host_needs_drains(const json_t *machines, const char *arg);

/* The order of a rolling reboot: the ids of hosts (NULL-terminated; duplicates dropped, the
 * first kept), in their order or, with sort, in id order; except that last (the machine
 * fleetctl's endpoint runs on; NULL for none) goes to the end. A new strv in *ret; -ENOMEM. */
int hosts_reboot_order(char * const *hosts, bool sort, const char *last, char ***ret);
