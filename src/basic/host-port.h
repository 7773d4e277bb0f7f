/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* "host:port" addresses of listeners. PURE. */

#include <stdint.h>

#include "macros.h"

/* Parses "host:port": host is an IPv4 address, a host name, or an IPv6 address in brackets
 * ("[::1]:8443"); port is 1-65535. *ret_host gets the host without brackets. Returns 0,
 * -EINVAL or -ENOMEM. */
int parse_host_port(const char *s, char **ret_host, uint16_t *ret_port);
