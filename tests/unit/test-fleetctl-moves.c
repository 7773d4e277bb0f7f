/* SPDX-License-Identifier: Apache-2.0 */
/* The pure parts of fleetctl's rolling host upgrades: which machine a HOST argument names and
 * the order of a rolling reboot (src/fleetctl/hosts.h), and the moves told from successive
 * looks at the cluster during a drain or a rebalance (host-moves.h). */
#include "basic/strv.h"
#include "host-moves.h"
#include "hosts.h"
#include "../tests.h"

#define A "a1b2c3d4e5f60718293a4b5c6d7e8f90"
#define B "a1c3e5f7091b2d3f4a5b6c7d8e9f0a1b"
#define C "c0ffee00112233445566778899aabbcc"
#define D "a1dd00112233445566778899aabbccdd"

static json_t *machines(void) {
        return json_pack("[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}]",
                         "id", A, "hostname", "node-a", "ip", "10.0.1.1", "bootId", "boot-a",
                         "id", B, "hostname", "node-b", "ip", "10.0.1.2",
                         "id", C, "hostname", "Node-C", "ip", "10.0.1.3");
}

/* host_find(arg): the id found, "ambiguous:N", "none", or the error. */
static void find(const json_t *m, const json_t *d, const char *arg, char *buf, size_t size) {
        _cleanup_strv_free_ char **candidates = NULL;
        _cleanup_(host_done) Host h = {};
        int r = host_find(m, d, arg, &h, &candidates);

        if (r == 0)
                snprintf(buf, size, "%s%s", h.id, h.present ? "" : " (down)");
        else if (r == -ENOTUNIQ)
                snprintf(buf, size, "ambiguous:%zu", strv_length(candidates));
        else
                snprintf(buf, size, r == -ENOENT ? "none" : "error %d", r);
}

TEST(host_rules) {
        json_auto_t *m = machines();
        char buf[128];

        find(m, NULL, A, buf, sizeof(buf));
        ASSERT_STR(buf, A);
        find(m, NULL, "node-b", buf, sizeof(buf));
        ASSERT_STR(buf, B);
        find(m, NULL, "NODE-c", buf, sizeof(buf));   /* hostnames are case-insensitive */
        ASSERT_STR(buf, C);
        find(m, NULL, "10.0.1.3", buf, sizeof(buf));
        ASSERT_STR(buf, C);
        find(m, NULL, "a1b", buf, sizeof(buf));
        ASSERT_STR(buf, A);
        find(m, NULL, "a1", buf, sizeof(buf));
        ASSERT_STR(buf, "ambiguous:2");
        find(m, NULL, "10.0.1", buf, sizeof(buf));   /* IPs are whole */
        ASSERT_STR(buf, "none");
        find(m, NULL, "", buf, sizeof(buf));
        ASSERT_STR(buf, "none");
        ASSERT_TRUE(!host_needs_drains(m, "node-a"));
        ASSERT_TRUE(!host_needs_drains(m, A));
        ASSERT_TRUE(host_needs_drains(m, "a1b"));
}

TEST(host_names_before_prefixes) {
        /* A hostname that looks like an id prefix names its machine. */
        json_auto_t *m = json_pack("[{s:s, s:s}, {s:s, s:s}]", "id", A, "hostname", "c0ffee", "id", C, "hostname",
                                   "x");
        char buf[128];

        find(m, NULL, "c0ffee", buf, sizeof(buf));
        ASSERT_STR(buf, A);
        find(m, NULL, "c0f", buf, sizeof(buf));
        ASSERT_STR(buf, C);
}

TEST(host_down_by_its_drain) {
        json_auto_t *m = machines();
        json_auto_t *d = json_pack("[{s:s, s:s}, {s:s, s:s}]", "machine", D, "source", "reboot", "machine", A,
                                   "source", "fleetctl");
        _cleanup_strv_free_ char **candidates = NULL;
        _cleanup_(host_done) Host h = {};
        char buf[128];

        find(m, d, "a1d", buf, sizeof(buf));
        ASSERT_STR(buf, D " (down)");
        find(m, d, D, buf, sizeof(buf));
        ASSERT_STR(buf, D " (down)");
        /* A's drain record does not make A a second candidate. */
        find(m, d, "a1b", buf, sizeof(buf));
        ASSERT_STR(buf, A);
        ASSERT_INT(host_find(m, d, "a1", &h, &candidates), -ENOTUNIQ);
        ASSERT_INT(strv_length(candidates), 3);
        ASSERT_STR(candidates[0], A "  node-a  10.0.1.1");
        ASSERT_STR(candidates[2], D "  (down, draining)");
}

TEST(host_fields) {
        json_auto_t *m = machines(), *d = json_pack("{s:s}", "machine", D);
        _cleanup_(host_done) Host a = {};
        _cleanup_(host_done) Host down = {};
        _cleanup_free_ char *name = host_display_name(C, NULL);

        ASSERT_INT(host_from_machine(json_array_get(m, 0), &a), 0);
        ASSERT_STR(a.name, "node-a");
        ASSERT_STR(a.boot_id, "boot-a");
        ASSERT_TRUE(a.present);
        ASSERT_INT(host_from_drain(d, &down), 0);
        ASSERT_STR(down.name, "a1dd0011...");
        ASSERT_TRUE(!down.present && !down.boot_id);
        ASSERT_STR(name, "c0ffee00...");
        ASSERT_INT(host_from_machine(d, &down), -EBADMSG);
}

TEST(reboot_order) {
        char *given[] = { C, A, C, B, NULL };
        _cleanup_strv_free_ char **o1 = NULL, **o2 = NULL, **o3 = NULL, **o4 = NULL;

        ASSERT_INT(hosts_reboot_order(given, false, NULL, &o1), 0);
        ASSERT_INT(strv_length(o1), 3);
        ASSERT_STR(o1[0], C);
        ASSERT_STR(o1[2], B);
        ASSERT_INT(hosts_reboot_order(given, true, NULL, &o2), 0);
        ASSERT_STR(o2[0], A);
        ASSERT_STR(o2[1], B);
        ASSERT_STR(o2[2], C);
        /* The endpoint's machine goes last, also when sorted. */
        ASSERT_INT(hosts_reboot_order(given, true, A, &o3), 0);
        ASSERT_INT(strv_length(o3), 3);
        ASSERT_STR(o3[0], B);
        ASSERT_STR(o3[2], A);
        ASSERT_INT(hosts_reboot_order(NULL, true, A, &o4), 0);
        ASSERT_TRUE(o4 && !o4[0]);
}

/* --- moves --- */

static json_t *units_look(const char *web_on, const char *db_on) {
        return json_pack("[{s:s, s:[s]}, {s:s, s:[s,s,s]}, {s:s, s:o}, {s:s, s:s, s:[s]}]",
                         "name", "web.service", "machines", web_on,
                         "name", "router.service", "machines", A, B, C,
                         "name", "db.service", "machines", db_on ? json_pack("[s]", db_on) : json_array(),
                         "name", "hello_v1.web@1.service", "app", "hello", "machines", A);
}

static json_t *instance(int index, const char *machine, bool healthy) {
        char unit[64];

        snprintf(unit, sizeof(unit), "hello_v1.web@%d.service", index);
        return json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:i}", "unit", unit, "process", "web", "index", index,
                         "machine", machine, "active", healthy ? "active" : "activating", "health",
                         healthy ? "passing" : "starting", "port", 20000 + index);
}

static json_t *app_look(json_t *instances) {
        return json_pack("{s:s, s:{s:i}, s:i, s:o}", "name", "hello", "scale", "web", 3, "release", 1,
                         "instances", instances);
}

TEST(drain_moves) {
        json_auto_t *u0 = units_look(A, A), *u1 = units_look(B, A), *u2 = units_look(B, NULL);
        json_auto_t *a0 = json_pack("[o]", app_look(json_pack("[o,o,o]", instance(1, A, true), instance(2, B, true),
                                                              instance(3, C, true))));
        json_auto_t *a1 = app_look(json_pack("[o,o,o,o]", instance(1, A, true), instance(2, B, true),
                                             instance(3, C, true), instance(4, C, false)));
        json_auto_t *a1h = app_look(json_pack("[o,o,o,o]", instance(1, A, true), instance(2, B, true),
                                              instance(3, C, true), instance(4, C, true)));
        json_auto_t *a2 = app_look(json_pack("[o,o,o]", instance(2, B, true), instance(3, C, true),
                                             instance(4, C, true)));
        json_auto_t *states = json_pack("[{s:s, s:s}, {s:s, s:s}]", "machine", A, "active", "inactive", "machine", B,
                                        "active", "active");
        json_auto_t *names = json_pack("{s:s, s:s, s:s}", A, "node-a", B, "node-b", C, "node-c");
        json_auto_t *no_states = json_array();
        _cleanup_(move_tracker_done) MoveTracker t = {};
        _cleanup_strv_free_ char **apps = NULL;
        _cleanup_free_ Move *moves = NULL;
        _cleanup_free_ char *line = NULL, *line2 = NULL, *summary = NULL;
        size_t n;
        Move m;

        ASSERT_INT(move_tracker_drain_apps(u0, A, &apps), 0);
        ASSERT_INT(strv_length(apps), 1);
        ASSERT_STR(apps[0], "hello");
        ASSERT_INT(move_tracker_init(&t, MOVES_DRAIN, A, u0, a0, NULL, 1000000), 0);
        ASSERT_INT(t.n_units, 3);   /* web, router (global: it never leaves), db */

        /* 1.5s: web is on node-b now, not yet running; the replacement appeared. */
        move_tracker_begin_look(&t, 1500000);
        move_tracker_see_units(&t, u1);
        ASSERT_TRUE(move_tracker_unit_moving(&t, 0) && !move_tracker_unit_moving(&t, 1) &&
                    !move_tracker_unit_moving(&t, 2));
        ASSERT_INT(move_tracker_see_state(&t, 0, no_states, &m), 0);
        ASSERT_INT(move_tracker_see_app(&t, a1, &moves, &n), 0);
        ASSERT_INT(n, 0);

        /* 1.8s: the replacement is healthy, but web@1 still runs: not moved yet. */
        move_tracker_begin_look(&t, 1800000);
        ASSERT_INT(move_tracker_see_app(&t, a1h, &moves, &n), 0);
        ASSERT_INT(n, 0);

        /* 2s: web runs on node-b; the replacement is healthy and web@1 gone; db stopped. */
        move_tracker_begin_look(&t, 2000000);
        move_tracker_see_units(&t, u2);
        ASSERT_INT(move_tracker_see_state(&t, 0, states, &m), 1);
        line = move_format(&m, names);
        ASSERT_STR(line, "web.service  node-a -> node-b  active after 1.0s");
        ASSERT_TRUE(!move_tracker_unit_moving(&t, 0));
        ASSERT_INT(move_tracker_see_app(&t, a2, &moves, &n), 0);
        ASSERT_INT(n, 1);
        line2 = move_format(&moves[0], names);
        ASSERT_STR(line2, "hello_v1.web@1.service on node-a -> hello_v1.web@4.service on node-c, healthy after 0.8s");

        summary = move_summary(&t, "node-a", u2);
        ASSERT_STR(summary, "node-a drained: 2 units moved, 1 unit stopped (db.service), 1 global unit stays "
                            "(router.service)");
}

TEST(rebalance_pairs_with_what_went_away) {
        json_auto_t *a0 = json_pack("[o]", app_look(json_pack("[o,o,o]", instance(2, B, true), instance(3, C, true),
                                                              instance(4, C, true))));
        /* The replacement on node-a is healthy before web@4 goes: it waits for that. */
        json_auto_t *a1 = app_look(json_pack("[o,o,o,o]", instance(2, B, true), instance(3, C, true),
                                             instance(4, C, true), instance(5, A, true)));
        json_auto_t *a2 = app_look(json_pack("[o,o,o]", instance(2, B, true), instance(3, C, true),
                                             instance(5, A, true)));
        json_auto_t *other = app_look(json_pack("[]"));
        _cleanup_(move_tracker_done) MoveTracker t = {};
        _cleanup_free_ Move *moves = NULL, *none = NULL, *more = NULL;
        _cleanup_free_ char *line = NULL, *summary = NULL, *empty = NULL;
        size_t n;

        ASSERT_INT(move_tracker_init(&t, MOVES_REBALANCE, A, NULL, a0, NULL, 0), 0);
        empty = move_summary(&t, "node-a", NULL);
        ASSERT_STR(empty, "node-a rebalanced: nothing to move");
        move_tracker_begin_look(&t, 500000);
        ASSERT_INT(move_tracker_see_app(&t, a1, &none, &n), 0);
        ASSERT_INT(n, 0);
        move_tracker_begin_look(&t, 1000000);
        ASSERT_INT(move_tracker_see_app(&t, a2, &moves, &n), 0);
        ASSERT_INT(n, 1);
        line = move_format(&moves[0], NULL);
        ASSERT_STR(line, "hello_v1.web@4.service on c0ffee00... -> hello_v1.web@5.service on a1b2c3d4..., healthy "
                         "after 0.5s");
        summary = move_summary(&t, "node-a", NULL);
        ASSERT_STR(summary, "node-a rebalanced: 1 instance moved");
        /* An app it does not follow changes nothing. */
        json_object_set_new(other, "name", json_string("other"));
        ASSERT_INT(move_tracker_see_app(&t, other, &more, &n), 0);
        ASSERT_INT(n, 0);
}

TEST(trackers_share_what_they_told) {
        /* node-a and node-b drain at once; both replacements, on node-c, are healthy and both old
         * instances gone at the same look: each tracker tells one of them. */
        json_auto_t *start = json_pack("[o]",
                                       app_look(json_pack("[o,o]", instance(1, A, true), instance(2, B, true))));
        json_auto_t *look = app_look(json_pack("[o,o]", instance(3, C, true), instance(4, C, true)));
        json_auto_t *claimed = json_object();
        _cleanup_(move_tracker_done) MoveTracker ta = {};
        _cleanup_(move_tracker_done) MoveTracker tb = {};
        _cleanup_free_ Move *ma = NULL, *mb = NULL;
        size_t na, nb;

        ASSERT_INT(move_tracker_init(&ta, MOVES_DRAIN, A, NULL, start, claimed, 0), 0);
        ASSERT_INT(move_tracker_init(&tb, MOVES_DRAIN, B, NULL, start, claimed, 0), 0);
        move_tracker_begin_look(&ta, 500000);
        move_tracker_begin_look(&tb, 500000);
        ASSERT_INT(move_tracker_see_app(&ta, look, &ma, &na), 0);
        ASSERT_INT(move_tracker_see_app(&tb, look, &mb, &nb), 0);
        ASSERT_INT(na, 1);
        ASSERT_INT(nb, 1);
        ASSERT_STR(ma[0].unit, "hello_v1.web@1.service");
        ASSERT_STR(ma[0].new_unit, "hello_v1.web@3.service");
        ASSERT_STR(mb[0].unit, "hello_v1.web@2.service");
        ASSERT_STR(mb[0].new_unit, "hello_v1.web@4.service");
        ASSERT_INT(json_object_size(claimed), 2);
}

TEST(drain_nothing_to_move) {
        json_auto_t *u = json_pack("[{s:s, s:[s]}]", "name", "web.service", "machines", B);
        _cleanup_(move_tracker_done) MoveTracker t = {};
        _cleanup_free_ char *summary = NULL;

        ASSERT_INT(move_tracker_init(&t, MOVES_DRAIN, A, u, NULL, NULL, 0), 0);
        ASSERT_INT(t.n_units, 0);
        summary = move_summary(&t, "node-a", u);
        ASSERT_STR(summary, "node-a drained: nothing to move");
}

TEST_MAIN(T(host_rules), T(host_names_before_prefixes), T(host_down_by_its_drain), T(host_fields), T(reboot_order),
          T(drain_moves), T(rebalance_pairs_with_what_went_away), T(trackers_share_what_they_told),
          T(drain_nothing_to_move))
