/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* "host:port" addresses of listeners, and plain IP addresses. PURE. */

#include <stdbool.h>
#include <stdint.h>

#include "macros.h"

/* Parses "host:port": host is an IPv4 address, a host name, or an IPv6 address in brackets
 * ("[::1]:8443"); port is 1-65535. *ret_host gets the host without brackets. Returns 0,
 * -EINVAL or -ENOMEM. */
int parse_host_port(const char *s, char **ret_host, uint16_t *ret_port);

/* Parses an IPv4 or IPv6 address as inet_pton() does (no brackets, no port, no host name).
 * *ret_family (AF_INET or AF_INET6) and ret_addr (16 bytes, of which IPv4 fills the first 4, in
 * network order) are optional. Returns 0 or -EINVAL. */
int parse_ip_address(const char *s, int *ret_family, uint8_t *ret_addr);

/* Whether "host:port" (parse_host_port()) has a literal loopback address as its host:
 * 127.0.0.0/8 or ::1. Host names, localhost too, are not literal: false. */
bool host_port_is_loopback(const char *s);
