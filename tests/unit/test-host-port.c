/* SPDX-License-Identifier: Apache-2.0 */
/* basic/host-port.h: plain IP addresses (parse_host_port() is tested with the config loader). */
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

TEST_MAIN(T(ip_addresses), T(not_ip_addresses))
