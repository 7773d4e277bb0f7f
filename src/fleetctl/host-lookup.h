/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* HOST arguments against the cluster (the rules are in hosts.h): GET /v1/machines once, and
 * GET /v1/drains only for an argument that no registered machine has as its id, hostname or IP.
 * Prints what is wrong with an argument, once. Also the requests the machine verbs share. */

#include <stdbool.h>

#include <jansson.h>

#include "client.h"
#include "hosts.h"

typedef struct HostLookup {
        Client *client;
        json_t *machines;     /* GET /v1/machines' array */
        json_t *drains;       /* GET /v1/drains' array; NULL until needed */
        json_t *names;        /* machine id -> the name to show it by */
} HostLookup;

/* Fetches the machines. Returns 0 or what client_call() returns. */
int host_lookup_init(HostLookup *l, Client *c);
void host_lookup_done(HostLookup *l);

/* The machine arg names. Returns 0; -ENOENT (exit status 4) when no machine has that id, id
 * prefix, hostname or IP; -EINVAL (exit status 2) when several have, the candidates listed;
 * or what client_call() returns. */
int host_lookup_resolve(HostLookup *l, const char *arg, Host *ret);

/* The machine record of h now (GET /v1/machines/<id>) in *ret: 0, -ENOENT when it is not
 * registered (said nothing), or what client_call() returns. flags: CLIENT_QUIET for a host that
 * may be down together with the endpoint. */
int host_get_record(Client *c, const Host *h, ClientFlags flags, json_t **ret);

/* "/v1/machines/<id><suffix>". NULL on -ENOMEM. */
char *machine_path(Client *c, const char *id, const char *suffix);

/* POST /v1/machines/<id>/drain {force, source}. A refusal (the last schedulable machine) is
 * printed with the hint about --force. Returns 0 or what client_call() returns. */
int host_drain_request(Client *c, const Host *h, bool force, const char *source);

/* DELETE /v1/machines/<id>/drain, with ?rebalance=0 unless rebalance. Returns 1 when it was
 * draining, 0 when it was not (the answer's "uncordoned" is false), or what client_call()
 * returns. */
int host_uncordon_request(Client *c, const Host *h, bool rebalance);
