/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* etcd v3 through its JSON gateway (/v3/...), over libcurl's multi interface driven by an
 * sd-event loop. Nothing here blocks: every call queues a request and returns at once; the
 * result arrives through a callback from the loop.
 *
 * Keys and values are plain C strings at this interface; base64 happens inside. The types of
 * requests and results (EtcdKv, EtcdResult, EtcdTxn, EtcdEvent, ...) are etcd-codec.h's, which
 * turns them into the gateway's JSON and back; this client does the I/O: libcurl on the loop's
 * CurlGlue, failover, authentication, watches that resume, lease keepers.
 *
 * Failover: a request starts at the endpoint that answered last and moves on to the next one
 * when an endpoint cannot be reached or says "unavailable" (no leader). Requests that may be
 * sent twice (ranges, txns of ranges only, lease grants and keepalives) move on in any case; a
 * write only if nothing of it was sent, since it may have been applied. When every endpoint said
 * "unavailable" (an election under way), such a request is sent again after a pause (50 ms
 * doubling up to 400 ms) until the request timeout has passed since it was made; connections
 * refused everywhere fail it at once.
 *
 * Errors given to callbacks are negative errno values:
 *   -ETIMEDOUT     the request timed out on every endpoint it tried
 *   -ECONNREFUSED  no endpoint could be reached (all failed over)
 *   -EACCES        authentication failed or permission denied
 *   -ENOENT        lease not found (keepalive/revoke of an expired or unknown lease)
 *   -ESTALE        a watch's start revision (or a range's revision) was compacted away:
 *                  the caller must re-read
 *   -EBADMSG       the answer could not be parsed
 *   -ECANCELED     never given to a callback: cancelled requests are silent
 *   -EIO           any other etcd error (its message is logged at debug level)
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "basic/macros.h"
#include "basic/time-util.h"
#include "etcd-codec.h"

typedef struct EtcdClient EtcdClient;
typedef struct EtcdRequest EtcdRequest;
typedef struct EtcdWatch EtcdWatch;
typedef struct EtcdLease EtcdLease;

typedef struct EtcdOptions {
        char **endpoints;             /* "http://10.0.0.1:2379", ...; tried in order, failing over */
        const char *cafile;           /* TLS: CA bundle for https endpoints */
        const char *certfile;         /* TLS client certificate */
        const char *keyfile;          /* TLS client key */
        const char *username;         /* etcd auth: a token is fetched via /v3/auth/authenticate */
        const char *password;
        usec_t request_timeout;       /* per request and endpoint; 0 means 5 s */
} EtcdOptions;

/* Called once per request with error 0 and a result, or a negative error and NULL.
 * The result and everything in it belong to the client and are valid during the call only. */
typedef void (*etcd_callback_t)(EtcdClient *c, int error, const EtcdResult *result, void *userdata);

/* Creates a client on the event loop e (a reference is taken). Validates the options
 * (at least one endpoint, each http:// or https://) and returns -EINVAL otherwise.
 * Makes no connection yet. */
int etcd_client_new(sd_event *e, const EtcdOptions *options, EtcdClient **ret);
/* Frees the client, cancelling every request, watch and lease keeper silently. Handles the
 * caller owns (requests, watches, lease keepers) stay valid, detached, until freed. */
EtcdClient *etcd_client_free(EtcdClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(EtcdClient *, etcd_client_free);

/* The endpoint that last answered (for status and logs). */
const char *etcd_client_current_endpoint(EtcdClient *c);

/* Every request function: if ret_request is NULL the request is floating (it cannot be
 * cancelled and frees itself after the callback); otherwise the caller owns the handle and
 * must free it with etcd_request_cancel() (after or instead of the callback). */
EtcdRequest *etcd_request_cancel(EtcdRequest *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(EtcdRequest *, etcd_request_cancel);

int etcd_client_range(EtcdClient *c, const EtcdRangeArgs *args,
                      etcd_callback_t cb, void *userdata, EtcdRequest **ret_request);
/* lease 0: no lease. */
int etcd_client_put(EtcdClient *c, const char *key, const char *value, int64_t lease,
                    etcd_callback_t cb, void *userdata, EtcdRequest **ret_request);
int etcd_client_delete(EtcdClient *c, const char *key, const char *range_end,
                       etcd_callback_t cb, void *userdata, EtcdRequest **ret_request);

/* Runs a transaction. A compare that does not hold is not an error: the callback gets
 * error 0 with result->succeeded false (and the failure ops' results). */
int etcd_client_txn(EtcdClient *c, const EtcdTxn *txn,
                    etcd_callback_t cb, void *userdata, EtcdRequest **ret_request);

/* One-shot lease calls. grant: result->lease_id and ->ttl. keepalive: result->ttl, or
 * -ENOENT when the lease is gone. revoke: -ENOENT when it was already gone. */
int etcd_client_lease_grant(EtcdClient *c, int64_t ttl_sec,
                            etcd_callback_t cb, void *userdata, EtcdRequest **ret_request);
int etcd_client_lease_keepalive(EtcdClient *c, int64_t lease_id,
                                etcd_callback_t cb, void *userdata, EtcdRequest **ret_request);
int etcd_client_lease_revoke(EtcdClient *c, int64_t lease_id,
                             etcd_callback_t cb, void *userdata, EtcdRequest **ret_request);

/* A lease kept alive: a keepalive every ttl/3. When etcd cannot be reached it retries with
 * backoff (short of the TTL). If a keepalive says the lease is gone (-ENOENT), the lease is
 * lost: on_lost is called once and the keeper stops; the owner then grants a new lease and
 * re-writes its keys. Freeing the keeper does not revoke the lease. */
typedef void (*etcd_lease_lost_t)(EtcdLease *l, void *userdata);
int etcd_lease_keep(EtcdClient *c, int64_t lease_id, int64_t ttl_sec,
                    etcd_lease_lost_t on_lost, void *userdata, EtcdLease **ret);
EtcdLease *etcd_lease_free(EtcdLease *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(EtcdLease *, etcd_lease_free);
int64_t etcd_lease_id(EtcdLease *l);

/* Called for each batch of events (error 0, n_events >= 1, in revision order), and with a
 * negative error when the watch cannot continue by itself: -ESTALE if the revision it
 * must resume from was compacted (the caller re-reads and starts a new watch). Connection
 * loss is NOT reported: the watch reconnects (with backoff, failing over endpoints) and
 * resumes from the last revision it delivered + 1, so no event is lost or repeated. */
typedef void (*etcd_watch_callback_t)(EtcdWatch *w, int error, const EtcdEvent *events,
                                      size_t n_events, void *userdata);

/* Watches key (or [key, range_end) when range_end is set) from start_revision (0: from
 * now). The stream is a long-lived POST /v3/watch. */
int etcd_client_watch(EtcdClient *c, const char *key, const char *range_end, int64_t start_revision,
                      etcd_watch_callback_t cb, void *userdata, EtcdWatch **ret);
EtcdWatch *etcd_watch_free(EtcdWatch *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(EtcdWatch *, etcd_watch_free);
/* The last revision delivered to the callback (or start_revision - 1). */
int64_t etcd_watch_revision(EtcdWatch *w);
