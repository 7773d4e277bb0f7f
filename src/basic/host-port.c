/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <stdint.h>

#include "host-port.h"

static int parse_port(const char *s, uint16_t *ret) {
        unsigned long p = 0;
        size_t n = strlen(s);

        if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
                return -EINVAL;
        for (; *s; s++)
                p = p * 10 + (unsigned long) (*s - '0');
        if (p < 1 || p > 65535)
                return -EINVAL;
        *ret = (uint16_t) p;
        return 0;
}

static bool host_name_is_valid(const char *s) {
        return !isempty(s) &&
                strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == strlen(s);
}

int parse_host_port(const char *s, char **ret_host, uint16_t *ret_port) {
        _cleanup_free_ char *host = NULL;
        const char *port;
        uint16_t p;

        if (isempty(s))
                return -EINVAL;

        if (s[0] == '[') {
                const char *close = strchr(s, ']');
                struct in6_addr a;

                if (!close || close[1] != ':')
                        return -EINVAL;
                host = strndup(s + 1, close - s - 1);
                if (!host)
                        return -ENOMEM;
                if (inet_pton(AF_INET6, host, &a) != 1)
                        return -EINVAL;
                port = close + 2;
        } else {
                const char *colon = strrchr(s, ':');

                if (!colon)
                        return -EINVAL;
                host = strndup(s, colon - s);
                if (!host)
                        return -ENOMEM;
                /* IPv6 without brackets is ambiguous ("::1:80"), and a ':' is not part of
                 * any host name. */
                if (!host_name_is_valid(host))
                        return -EINVAL;
                port = colon + 1;
        }

        if (parse_port(port, &p) < 0)
                return -EINVAL;

        *ret_host = TAKE_PTR(host);
        *ret_port = p;
        return 0;
}

int parse_ip_address(const char *s, int *ret_family, uint8_t *ret_addr) {
        uint8_t addr[16] = {};
        int family;

        if (!s)
                return -EINVAL;
        if (inet_pton(AF_INET, s, addr) == 1)
                family = AF_INET;
        else if (inet_pton(AF_INET6, s, addr) == 1)
                family = AF_INET6;
        else
                return -EINVAL;

        if (ret_family)
                *ret_family = family;
        if (ret_addr)
                memcpy(ret_addr, addr, sizeof(addr));
        return 0;
}

bool host_port_is_loopback(const char *s) {
        static const uint8_t v6_loopback[16] = { [15] = 1 };
        _cleanup_free_ char *host = NULL;
        uint8_t addr[16];
        uint16_t port;
        int family;

        if (!s || parse_host_port(s, &host, &port) < 0 || parse_ip_address(host, &family, addr) < 0)
                return false;
        return family == AF_INET ? addr[0] == 127 : memcmp(addr, v6_loopback, sizeof(addr)) == 0;
}
