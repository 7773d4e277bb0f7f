/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A real etcd for tests: /usr/bin/etcd on 127.0.0.1, on free ports, in a fresh data directory.
 * Every runner is killed and its directory removed at exit (atexit), whatever path the test
 * takes out; etcd also gets SIGKILL if the test process dies (PR_SET_PDEATHSIG). */

typedef struct EtcdRunner EtcdRunner;

/* Starts etcd ($FLEETD_TEST_ETCD, by default /usr/bin/etcd) and waits until it answers.
 * Returns -ENOENT if that is not installed. */
int etcd_runner_start(EtcdRunner **ret);
/* SIGTERM, and waits for it to exit. */
int etcd_runner_stop(EtcdRunner *r);
/* Starts it again on the same ports and data directory and waits until it answers. */
int etcd_runner_restart(EtcdRunner *r);
/* Kills it and removes its data directory. */
EtcdRunner *etcd_runner_free(EtcdRunner *r);

/* "http://127.0.0.1:PORT" */
const char *etcd_runner_url(EtcdRunner *r);

/* A blocking POST to the gateway, for setting up and checking behind the back of the client
 * under test. token, if set, is sent as the Authorization header. Returns the HTTP status or
 * a negative errno; the body in *ret_body (if not NULL). */
int etcd_runner_post(EtcdRunner *r, const char *path, const char *body, const char *token, char **ret_body);

/* A CURLOPT_WRITEFUNCTION that appends to the NUL-terminated string at *(char **) userdata. */
size_t etcd_runner_collect(char *p, size_t size, size_t n, void *userdata);
