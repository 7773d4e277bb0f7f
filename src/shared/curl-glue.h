/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* libcurl's multi interface on an sd-event loop. There is one CurlGlue per loop, shared by
 * everything in the process that speaks HTTP on it (the etcd client, the API's forwarding to
 * other fleetds): it owns the CURLM, turns the sockets and the timer curl asks for into event
 * sources, and hands each finished transfer to the callback it was added with.
 *
 * Re-entrancy: callbacks run only after curl_multi_socket_action() has returned, never from
 * inside curl, so a callback may add, remove and free transfers (its own and others') and drop
 * its reference to the glue. Callbacks that curl itself calls (CURLOPT_WRITEFUNCTION and the
 * like) must do none of that: they buffer, and leave the rest to an event source. */

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "basic/macros.h"

typedef struct CurlGlue CurlGlue;

/* Called once when the transfer ends, with CURLE_OK or what went wrong. easy has been taken
 * off the glue by then: it is the callee's again (curl_easy_getinfo() still works on it), to
 * free with curl_glue_remove_and_free() or curl_easy_cleanup(). */
typedef void (*curl_glue_done_t)(CURL *easy, CURLcode result, void *userdata);

/* Returns a new reference to the glue of loop e, made on first use (which takes a reference
 * on e and calls curl_global_init()). Like the loops, not for use from several threads. */
int curl_glue_get(sd_event *e, CurlGlue **ret);
/* Takes another reference (NULL-safe); returns g. */
CurlGlue *curl_glue_ref(CurlGlue *g);
/* Drops a reference; the last one frees the glue. Every transfer must have been removed. */
CurlGlue *curl_glue_unref(CurlGlue *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(CurlGlue *, curl_glue_unref);

/* A new easy handle set up as every transfer of ours wants it: no signals, no proxy from the
 * environment, sockets made with SOCK_CLOEXEC, TCP keepalive (a first probe after 10 s of
 * silence, then every 5 s, given up after 3: a dead peer is noticed in ~25 s). */
int curl_glue_make(CURL **ret);

/* Starts easy on the glue; done(easy, result, userdata) is called when it ends, unless it is
 * removed first. The glue uses CURLOPT_PRIVATE: callers must not. */
int curl_glue_add(CurlGlue *g, CURL *easy, curl_glue_done_t done, void *userdata);
/* Takes easy off the glue if it runs there (its callback is not called) and frees it.
 * NULL-safe; returns NULL. */
CURL *curl_glue_remove_and_free(CurlGlue *g, CURL *easy);
/* Resumes a transfer whose write callback returned CURL_WRITEFUNC_PAUSE. What curl holds may
 * be written at once, from inside this call; the rest comes from the loop, and so does the
 * done callback if the transfer ended meanwhile. */
int curl_glue_unpause(CurlGlue *g, CURL *easy);

/* curl_easy_setopt() that returns -EIO from the calling function when it fails. */
#define CURL_SETOPT_OR_RETURN(easy, option, value)                              \
        do {                                                                    \
                if (curl_easy_setopt(easy, option, value) != CURLE_OK)          \
                        return -EIO;                                            \
        } while (0)
