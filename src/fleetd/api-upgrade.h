/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Machines, drains and reboots in the API (docs/api.md), userdata the Manager:
 *
 *   GET    /v1/machines                  machines, each with state "draining" and its "drain"
 *                                        record while drain/<id> exists
 *   GET    /v1/machines/<id>             one of them
 *   GET    /v1/drains                    {"drains": [every drain record, machines up or down]}
 *   POST   /v1/machines/<host>/drain     {force?, source?, by?}: drain/<id>
 *   GET    /v1/machines/<host>/drain     what is left there (drain-view.h)
 *   DELETE /v1/machines/<host>/drain[?rebalance=0]   uncordon (+ rebalance/<id>)
 *   POST   /v1/machines/<host>/reboot    {force?}: forwarded to that machine's fleetd, which
 *                                        answers 202 and asks systemd for reboot.target
 *
 * <host> is a machine id, a unique id prefix, a hostname or an IP (machine_resolve()).
 * Below them, the reads and writes that the FleetLock handlers (api-fleetlock.h) share. */

#include "api-server.h"
#include "drain-view.h"
#include "registry.h"

typedef struct Manager Manager;

int api_upgrade_machines_list(ApiRequest *req, void *userdata);
int api_upgrade_machines_get(ApiRequest *req, void *userdata);
int api_upgrade_drains_list(ApiRequest *req, void *userdata);
int api_upgrade_drain_start(ApiRequest *req, void *userdata);
int api_upgrade_drain_status(ApiRequest *req, void *userdata);
int api_upgrade_drain_stop(ApiRequest *req, void *userdata);
int api_upgrade_reboot(ApiRequest *req, void *userdata);

/* The request's body as a JSON object whose fields are all among fields (NULL-terminated); no
 * body is {}. Otherwise replies 400 (500 on OOM) and returns NULL. */
json_t *api_upgrade_body(ApiRequest *req, const char * const *fields);
/* Replies body with status, or 500 when body is NULL (it ran out of memory). */
void api_upgrade_reply(ApiRequest *req, unsigned status, json_t *body);

/* machines/ and drain/ as read in one txn; records that do not parse are left out (logged). */
typedef struct UpgradeMachines {
        MachineRecord *machines;
        size_t n_machines;
        DrainRecord *drains;
        size_t n_drains;
} UpgradeMachines;

void upgrade_machines_done(UpgradeMachines *v);
/* The machine whose fleetlockId is id (fleetlock_id_equal()), or NULL. */
const MachineRecord *upgrade_machines_by_fleetlock_id(const UpgradeMachines *v, const char *id);

/* Each callback gets error 0 and its data (valid during the call), or etcd's error (or
 * -ENOMEM) and NULL. Each loader returns 0 (the callback comes later, once) or a negative
 * errno (it never comes). */
typedef void (*upgrade_machines_t)(Manager *m, int error, const UpgradeMachines *v, void *userdata);
int upgrade_load_machines(Manager *m, upgrade_machines_t cb, void *userdata);

/* The drain status of machine id from drain/<id>, schedule/<id>/ and placement/ (one txn). d
 * is its drain record, NULL if it is not draining. */
typedef void (*upgrade_status_t)(Manager *m, int error, const DrainStatus *s, const DrainRecord *d,
                                 void *userdata);
int upgrade_load_status(Manager *m, const char *id, upgrade_status_t cb, void *userdata);

/* A drain written or not: changed says whether drain/<id> was written (or deleted); d is the
 * drain record as it is now (NULL: none; for a stop, the one that was deleted, if any). */
typedef void (*upgrade_drain_t)(Manager *m, int error, bool changed, const DrainRecord *d, void *userdata);
/* Marks want->machine draining: creates drain/<id> = want, or, when there is one already,
 * only adds want's force to it (since, by and source stay). kv_update(). */
int upgrade_drain_write(Manager *m, const DrainRecord *want, upgrade_drain_t cb, void *userdata);
/* Uncordons id: deletes drain/<id>, when only_source is set only a drain of that source, and
 * with rebalance writes rebalance/<id> {machine, since, by} in the same txn. */
int upgrade_drain_remove(Manager *m, const char *id, const char *only_source, bool rebalance, const char *by,
                         upgrade_drain_t cb, void *userdata);
