/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* metrics_listen: a plain-HTTP listener on a loopback address that serves GET /metrics (the
 * default registry, metrics.h) and nothing else, for a Prometheus on the same host that has no
 * client certificate. libmicrohttpd driven from the sd-event loop (its epoll fd is an io
 * source, its timeout a timer): one thread. At most 16 connections, 10 s of inactivity each.
 * Any other path is 404, another method 405. Shared by fleetd and fleet-router. */

#include <systemd/sd-event.h>

#include "basic/macros.h"

typedef struct MetricsHttp MetricsHttp;

/* Listens on listen ("127.0.0.1:9476", "[::1]:9476", "localhost:9476"). Every address must
 * be a loopback one: anything else is -EADDRNOTAVAIL with *ret_error (owned by the caller)
 * saying so; -EINVAL for a malformed address, -errno from binding, -EIO when libmicrohttpd
 * cannot start. Does not log. */
int metrics_http_new(sd_event *e, const char *listen, MetricsHttp **ret, char **ret_error);
MetricsHttp *metrics_http_free(MetricsHttp *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(MetricsHttp *, metrics_http_free);

/* The port it listens on (when listen asked for port 0 in a test, the one the kernel chose). */
unsigned metrics_http_port(const MetricsHttp *h);
