/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What fleet-router's integration test and benchmark share: real processes (fleet-router,
 * nginx, tiny HTTP backends) started as children on 127.0.0.1 and killed at exit, route records
 * written behind the router's back through the etcd gateway, and plain HTTP requests.
 * Blocking, simple, for tests only. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/macros.h"
#include "basic/time-util.h"
#include "etcd-runner.h"

/* A TCP port on 127.0.0.1 that nobody listens on right now. */
int harness_free_port(void);

/* Starts argv[0] (an absolute path) with the extra environment entries env ("K=V", NULL-
 * terminated, may be NULL), stdout and stderr appended to log_path, stdin /dev/null. The child
 * gets SIGKILL if the test dies, and is killed at exit unless reaped before by
 * harness_stop(). Returns the pid or a negative errno. */
pid_t harness_spawn(char * const *argv, char * const *env, const char *log_path);
/* Sends sig and waits up to timeout for the child to exit (then SIGKILL). Returns its wait
 * status, or a negative errno. */
int harness_stop(pid_t pid, int sig, usec_t timeout);
/* Whether the child has exited (it is reaped then; *ret_status gets its wait status). */
bool harness_exited(pid_t pid, int *ret_status);

/* Binds a unix datagram socket at path, to be a child's NOTIFY_SOCKET, and starts a child that
 * reads it all the time (sd_notify() blocks when nobody does) and appends each message and a
 * newline to log_path. Returns the reader's pid or a negative errno. */
pid_t harness_notify_start(const char *path, const char *log_path);
/* Waits up to timeout until log_path holds at least n messages containing what ("READY=1").
 * 0 or -ETIMEDOUT. */
int harness_notify_wait(const char *log_path, const char *what, unsigned n, usec_t timeout);
/* How many messages in log_path contain what. */
unsigned harness_notify_count(const char *log_path, const char *what);

/* Writes text to path (mode 0755 if executable). 0 or a negative errno. */
int harness_write_file(const char *path, const char *text, bool executable);
/* The file's text (to free), or NULL. */
char *harness_read_file(const char *path);
/* The number of lines in path (0 if it does not exist). */
unsigned harness_count_lines(const char *path);

/* Route records and other keys through the gateway. Each returns 0 or a negative errno. */
int harness_put(EtcdRunner *etcd, const char *key, const char *value);
int harness_delete(EtcdRunner *etcd, const char *key);
/* Puts keys[i] = values[i] for i < n in one txn: one revision, one watch event batch. */
int harness_put_many(EtcdRunner *etcd, const char * const *keys, const char * const *values, size_t n);
/* Compacts history up to the current revision. */
int harness_compact(EtcdRunner *etcd);

/* A route record as agents write it: routes/<app>/<app>_v1.web@<i>.service -> 127.0.0.1:port,
 * under prefix. Returns the key and value (to free) or -ENOMEM. */
int harness_route(const char *prefix, const char *app, unsigned i, unsigned port, char **ret_key, char **ret_value);

/* GET http://127.0.0.1:port/ with Host: host. Returns the HTTP status (and the body, to
 * free, if ret_body) or a negative errno. A handle is kept per process so that connections are
 * reused (keep-alive) across calls; harness_http_reset() drops it. */
int harness_http_get(int port, const char *host, char **ret_body);
void harness_http_reset(void);
/* With fresh, every request opens a new connection (what a new client sees). */
void harness_http_set_fresh(bool fresh);

/* Starts a static HTTP server on 127.0.0.1:port serving dir (busybox httpd, else python3's
 * http.server). Waits until it answers. Returns the pid, -ENOENT if neither exists, or another
 * negative errno. */
pid_t harness_backend_start(int port, const char *dir, const char *log_path);
