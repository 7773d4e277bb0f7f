/* SPDX-License-Identifier: Apache-2.0 */
/* basic/host-port.h: plain IP addresses and loopback listen addresses (parse_host_port() is
 * tested with the config loader). */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "basic/host-port.h"
#include "../tests.h"

TEST(ip_addresses) {
        uint8_t addr[16];
        int family = 0;

        ASSERT_INT(parse_ip_address("10.0.0.1", &family, addr), 0);
        ASSERT_INT(family, AF_INET);
        ASSERT_INT(addr[0], 10);
        ASSERT_INT(addr[3], 1);
        ASSERT_INT(parse_ip_address("2001:db8::1", &family, addr), 0);
        ASSERT_INT(family, AF_INET6);
        ASSERT_INT(addr[0], 0x20);
        ASSERT_INT(addr[15], 1);
        ASSERT_INT(parse_ip_address("::", NULL, NULL), 0);
        ASSERT_INT(parse_ip_address("::ffff:10.0.0.1", NULL, NULL), 0);
}

TEST(not_ip_addresses) {
        static const char * const bad[] = {
                "", "localhost", "10.0.0", "10.0.0.256", " 10.0.0.1", "10.0.0.1 ", "10.0.0.1:80", "[::1]",
                "::1%lo", "1::2::3", "10.0.0.1; }",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (parse_ip_address(bad[i], NULL, NULL) != -EINVAL) {
                        fprintf(stderr, "accepted: '%s'\n", bad[i]);
                        ASSERT_TRUE(false);
                }
        ASSERT_INT(parse_ip_address(NULL, NULL, NULL), -EINVAL);
}

TEST(loopback) {
        static const char * const yes[] = { "127.0.0.1:7071", "127.1.2.3:1", "[::1]:7071" };
        static const char * const no[] = { "0.0.0.0:7071", "10.0.0.1:7071", "[::]:7071", "localhost:7071",
                                           "[::ffff:127.0.0.1]:7071", "127.0.0.1", "127.0.0.1:0", "", "[::2]:80" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                ASSERT_TRUE(host_port_is_loopback(yes[i]));
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (host_port_is_loopback(no[i])) {
                        fprintf(stderr, "loopback: '%s'\n", no[i]);
                        ASSERT_TRUE(false);
                }
        ASSERT_TRUE(!host_port_is_loopback(NULL));
}

TEST_MAIN(T(ip_addresses), T(not_ip_addresses), T(loopback))
