#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fleetctl's verbs of rolling host upgrades (machine drain, uncordon, reboot; locks) against
# FakeUpgrade, the fixture's imitation of drains, reboot slots and reboots: the requests
# fleetctl makes, HOST arguments, the moves and summaries it prints (not on a terminal), its
# messages and exit status. fleetd itself is tested by the cluster tests.
#
# Usage: test-fleetctl-upgrade.sh PATH/TO/fleetctl
set -u

# shellcheck source=tests/unit/test-fleetctl-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-fleetctl-lib.sh"

if ! command -v python3 >/dev/null; then
        echo "skip: no python3"
        exit 77
fi
start_fixture || exit 1

UP="$TMP/upgrade.sock"
# up [SCENARIO-JSON]: a fresh FakeUpgrade (see its docstring) and an empty request log.
up() { python3 "$HERE/fleetctl-fixture.py" --reset "$UP" "${1:-"{}"}" || fail "fixture reset"; }
runu() { run --endpoint "$UP" "$@"; }
# Durations vary from run to run: "after 0.5s" is "after Ns", "in 3s" is "in Ns".
normalized() { sed -E 's/after [0-9]+(\.[0-9]+)?s/after Ns/g; s/ in [0-9hms]+$/ in Ns/' "$1"; }
expect_out_n() { [ "$(normalized "$TMP/out")" = "$1" ] || fail "stdout differs; expected: $1"; }
expect_no_request_for() { ! grep -q -- "$1" "$TMP/requests" || fail "a request names $1: $(grep -- "$1" "$TMP/requests")"; }

A=a1b2c3d4e5f60718293a4b5c6d7e8f90   # node-a 10.0.1.1; node-b shares its prefix "a1"
B=a1c3e5f7091b2d3f4a5b6c7d8e9f0a1b   # node-b 10.0.1.2
C=c0ffee00112233445566778899aabbcc   # node-c 10.0.1.3
D=a1dd00112233445566778899aabbccdd   # a machine that is down, known by its drain record only
APPS='"apps": {"hello": {"web": ["node-a", "node-b", "node-c"]}}'
REBOOT_A="POST /v1/locks/default/holders {\"id\":\"$A\"}"

case=help
run help machine
expect_rc 0
for word in "machine drain HOST" "machine uncordon HOST" "machine reboot --rolling" "--max-unavailable=N" \
        "--no-rebalance" "--force" "--group=GROUP" "--timeout=DURATION" "--no-wait" "a unique prefix of it" \
        "fits several machines" "drained: 2 units moved" "healthy after 3.1s" "goes last, alone"; do
        grep -qF -- "$word" "$TMP/out" || fail "help machine lacks '$word'"
done
cp "$TMP/out" "$TMP/help1"
run machine --help
cmp -s "$TMP/out" "$TMP/help1" || fail "help machine and machine --help differ"
run help locks
expect_out_has "Usage: fleetctl locks [GROUP] | set-max GROUP N | release GROUP HOLDER"
expect_out_has "reboot_slot_timeout"
run --help
expect_out_has "  machine          Drain, uncordon or reboot machines (rolling host upgrades)"
expect_out_has "  locks            Show or change the reboot slots (FleetLock groups)"
ok

case=usage_errors_send_nothing
up
while IFS='|' read -r args message; do
        # shellcheck disable=SC2086 # the arguments are words
        eval "runu $args"
        expect_rc 2
        expect_err_has "fleetctl: $message"
done <<'EOF'
machine|machine needs what to do: drain, uncordon or reboot.
machine bogus|unknown 'machine bogus': use drain, uncordon or reboot.
machine drain|machine drain needs a HOST.
machine drain node-a node-b|machine drain takes one HOST.
machine uncordon|machine uncordon needs a HOST.
machine uncordon --force node-a|machine uncordon does not take --force.
machine drain --rolling node-a|machine drain does not take --rolling.
machine drain --no-rebalance node-a|machine drain does not take --no-rebalance.
machine drain --group g node-a|machine drain does not take --group.
machine uncordon --max-unavailable 2 node-a|machine uncordon does not take --max-unavailable.
machine reboot --no-wait node-a|machine reboot does not take --no-wait.
machine reboot|machine reboot takes one HOST; --rolling reboots several in turn.
machine reboot node-a node-b|machine reboot takes one HOST; --rolling reboots several in turn.
machine reboot --max-unavailable 2 node-a|--max-unavailable goes with --rolling.
machine reboot --rolling --max-unavailable 0|--max-unavailable takes a number from 1 to 1000, not '0'.
machine reboot --rolling --max-unavailable 1001|--max-unavailable takes a number from 1 to 1000, not '1001'.
machine reboot --rolling --max-unavailable 99999999999|--max-unavailable takes a number from 1 to 1000, not '99999999999'.
machine reboot --rolling --max-unavailable=-1|--max-unavailable takes a number from 1 to 1000, not '-1'.
machine reboot --rolling --max-unavailable two|--max-unavailable takes a number from 1 to 1000, not 'two'.
machine reboot --rolling --max-unavailable=|--max-unavailable takes a number from 1 to 1000, not ''.
machine reboot --rolling --group 'bad group'|invalid group name 'bad group': expected 1 to 64 letters, digits, '.' and '-'.
machine reboot --group=a/b node-a|invalid group name 'a/b': expected 1 to 64 letters, digits, '.' and '-'.
machine reboot --rolling --group=|invalid group name '': expected 1 to 64 letters, digits, '.' and '-'.
machine drain --timeout soon node-a|--timeout takes a duration such as 90s or 5m, not 'soon'.
machine drain --bogus node-a|unknown option '--bogus'.
locks set-max default 0|locks set-max takes a number from 1 to 1000, not '0'.
locks set-max default 1001|locks set-max takes a number from 1 to 1000, not '1001'.
locks set-max default +2|locks set-max takes a number from 1 to 1000, not '+2'.
locks set-max 'bad/group' 2|invalid group name 'bad/group': expected 1 to 64 letters, digits, '.' and '-'.
locks set-max default|locks set-max needs GROUP N.
locks release default|locks release needs GROUP HOLDER.
locks show|locks show needs GROUP.
locks 'a b'|invalid group name 'a b': expected 1 to 64 letters, digits, '.' and '-'.
locks bogus a|unknown 'locks bogus': use 'locks [GROUP]', 'locks set-max GROUP N' or 'locks release GROUP HOLDER'.
locks a b c d|locks takes at most 3 arguments.
EOF
long=$(printf 'g%.0s' $(seq 65))
runu locks "$long"
expect_rc 2
expect_err_has "invalid group name '$long'"
runu locks "${long:1}" --json
expect_rc 0
expect_requests "GET /v1/locks/${long:1}"
ok

case=host_arguments
up
for arg in "$A" NODE-A node-a 10.0.1.1; do
        : >"$TMP/requests"
        runu machine drain --no-wait "$arg"
        expect_rc 0
        expect_out "node-a is draining."
        expect_requests "GET /v1/machines
POST /v1/machines/$A/drain {\"force\":false,\"source\":\"fleetctl\"}"
done
# A prefix may fit a machine that is down too: the drain records are asked.
for arg in a1b c0; do
        : >"$TMP/requests"
        runu machine drain --no-wait "$arg"
        expect_rc 0
        expect_out_has " is draining."
        expect_requests_last "POST /v1/machines/$([ "$arg" = c0 ] && echo "$C" || echo "$A")/drain {\"force\":false,\"source\":\"fleetctl\"}"
        [ "$(head -n 2 "$TMP/requests")" = "GET /v1/machines
GET /v1/drains" ] || fail "the drains are not asked for $arg"
done
ok

case=ambiguous_and_unknown_hosts
up "{\"drains\": {\"$D\": {\"since\": 1, \"by\": \"fleetctl\", \"force\": false, \"source\": \"reboot\"}}}"
runu machine drain a1
expect_rc 2
expect_out ""
expect_err "fleetctl: 'a1' is ambiguous: it matches 3 machines:
  $A  node-a  10.0.1.1
  $B  node-b  10.0.1.2
  $D  (down, draining)
fleetctl: give more of the id, or the hostname or IP."
expect_requests "GET /v1/machines
GET /v1/drains"
runu machine uncordon nosuchhost
expect_rc 4
expect_err "fleetctl: no machine 'nosuchhost': it is not the id, an id prefix, the hostname or the IP of a machine of the cluster (see 'fleetctl list-machines')."
runu machine reboot --rolling node-a nosuchhost
expect_rc 4
expect_no_request_for "$A"
ok

case=a_drained_host_that_is_down
up "{\"drains\": {\"$D\": {\"since\": 1, \"by\": \"fleetctl\", \"force\": false, \"source\": \"reboot\"}}}"
runu machine drain a1d
expect_rc 1
expect_err "fleetctl: a1dd0011... is down (not registered): it is draining already."
runu machine reboot a1dd
expect_rc 1
expect_err "fleetctl: a1dd0011... is down (not registered): it cannot be rebooted; nothing was done."
expect_no_request_for "holders"
: >"$TMP/requests"
runu machine uncordon a1d
expect_rc 0
expect_out "a1dd0011... uncordoned; it is down, it takes work again once it is back."
expect_requests "GET /v1/machines
GET /v1/drains
DELETE /v1/machines/$D/drain"
ok

case=drain_moves_and_summary
up "{\"units\": {\"web.service\": \"node-a\", \"api.service\": \"node-b\", \"router.service\": \"global\"}, $APPS}"
runu machine drain node-a
expect_rc 0
# The fake places each on the least loaded machine: web.service on node-c (node-b runs
# api.service), then the replacement of web@1 on node-b (the first of two that run two).
expect_out_n "web.service  node-a -> node-c  active after Ns
hello_v1.web@1.service on node-a -> hello_v1.web@4.service on node-b, healthy after Ns
node-a drained: 2 units moved, 1 global unit stays (router.service)"
expect_err ""
# The first look goes before the request; then the drain's state, the units, the state of a
# unit on its way, the apps that had instances there.
[ "$(head -n 5 "$TMP/requests")" = "GET /v1/machines
GET /v1/units
GET /v1/apps/hello
POST /v1/machines/$A/drain {\"force\":false,\"source\":\"fleetctl\"}
GET /v1/machines/$A/drain" ] || fail "requests: $(cat "$TMP/requests")"
[ "$(count_requests "GET /v1/state?unit=web.service")" = 1 ] || fail "the moved unit's state is looked at once"
expect_no_request_for "unit=api.service"
expect_no_request_for "unit=router.service"
ok

case=drain_again_is_drained
runu machine drain node-a
expect_rc 0
expect_out "node-a drained: 1 global unit stays (router.service)"
ok

case=uncordon_rebalances
: >"$TMP/requests"
runu machine uncordon node-a
expect_rc 0
# node-b runs web@2 and web@4, node-a none: one moves back.
expect_out_n "node-a uncordoned, rebalancing.
hello_v1.web@2.service on node-b -> hello_v1.web@5.service on node-a, healthy after Ns
node-a rebalanced: 1 instance moved"
expect_err ""
[ "$(head -n 4 "$TMP/requests")" = "GET /v1/machines
GET /v1/apps
GET /v1/apps/hello
DELETE /v1/machines/$A/drain" ] || fail "requests: $(cat "$TMP/requests")"
runu machine uncordon node-a
expect_rc 0
expect_out "node-a was not cordoned."
ok

case=uncordon_when_fleetd_does_not_say_rebalancing
# Then the apps must stay settled for 5s: time for the engine leader to start a replacement.
up "{$APPS, \"no_rebalancing_field\": true}"
runu machine drain node-a
start=$(date +%s)
runu machine uncordon node-a
expect_rc 0
expect_out_n "node-a uncordoned, rebalancing.
hello_v1.web@2.service on node-b -> hello_v1.web@5.service on node-a, healthy after Ns
node-a rebalanced: 1 instance moved"
[ $(($(date +%s) - start)) -ge 5 ] || fail "the rebalance was over before the apps were quiet for 5s"
ok

case=uncordon_no_rebalance_and_no_wait
up "{\"units\": {\"web.service\": \"node-a\"}, $APPS}"
runu machine drain node-a --no-wait
runu machine uncordon --no-rebalance node-a
expect_rc 0
expect_out "node-a uncordoned (no rebalance)."
expect_requests_last "DELETE /v1/machines/$A/drain?rebalance=0"
runu machine drain node-a --no-wait
: >"$TMP/requests"
runu machine uncordon node-a --no-wait
expect_rc 0
expect_out "node-a uncordoned, rebalancing goes on."
expect_requests "GET /v1/machines
DELETE /v1/machines/$A/drain"
ok

case=drain_blocked_then_forced
up '{"units": {"web.service": "node-a", "db.service": "node-a"}, "stuck": {"db.service": "MachineID=a1b2c3d4e5f60718293a4b5c6d7e8f90"}}'
runu machine drain node-a
expect_rc 1
expect_out_n "web.service  node-a -> node-b  active after Ns"
expect_err "fleetctl: node-a blocked: db.service cannot move off draining node-a: MachineID=$A
fleetctl: node-a stays cordoned with those units running; --force stops them, 'fleetctl machine uncordon node-a' takes it back."
runu machine drain --force node-a
expect_rc 0
expect_out "node-a drained: 1 unit stopped (db.service)"
expect_err ""
grep -qF "POST /v1/machines/$A/drain {\"force\":true,\"source\":\"fleetctl\"}" "$TMP/requests" || fail "no forced drain"
ok

case=drain_forced_at_once
up '{"units": {"web.service": "node-a", "db.service": "node-a"}, "stuck": {"db.service": "no other machine has role=db"}}'
runu machine drain node-a --force
expect_rc 0
expect_out_n "web.service  node-a -> node-b  active after Ns
node-a drained: 1 unit moved, 1 unit stopped (db.service)"
ok

case=drain_the_last_machine
up '{"hosts": [{"id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "hostname": "node-a", "ip": "10.0.1.1"}], "units": {"web.service": "node-a", "db.service": "node-a"}}'
runu machine drain node-a
expect_rc 1
expect_out ""
expect_err "fleetctl: node-a is the last machine that can take work: draining it would stop db.service, web.service.
fleetctl: nothing changed; --force drains node-a anyway, stopping those units."
expect_requests_last "POST /v1/machines/$A/drain {\"force\":false,\"source\":\"fleetctl\"}"
runu machine uncordon node-a
expect_out "node-a was not cordoned."
runu machine drain node-a --force
expect_rc 0
expect_out "node-a drained: 2 units stopped (db.service, web.service)"
ok

case=drain_timeout_says_what_is_left
up "{\"units\": {\"web.service\": \"node-a\"}, $APPS, \"frozen\": true}"
runu machine drain node-a --timeout 1s
expect_rc 1
expect_out ""
expect_err "fleetctl: gave up waiting after 1s: node-a is still draining, 2 units left: web.service (unit, moving), hello_v1.web@1.service (app, replacing). The drain goes on."
ok

case=unreachable
run --endpoint "$TMP/missing.sock" machine drain node-a
expect_rc 3
expect_err "$(unreachable "unix://$TMP/missing.sock" "No such file or directory")"
run --endpoint "$TMP/missing.sock" locks
expect_rc 3
run --endpoint "$TMP/missing.sock" machine reboot --rolling
expect_rc 3
ok

case=locks
up "{\"locks\": {\"default\": {\"max\": 2, \"holders\": [{\"id\": \"$A\", \"machine\": \"$A\", \"by\": \"fleetctl\"}, {\"id\": \"f00dfeed00112233445566778899aabb\", \"by\": \"fleetlock\", \"since\": -125000000}]}, \"workers\": {\"max\": 3}}}"
runu locks
expect_rc 0
expect_out "GROUP    SLOTS  HOLDERS
default  2/2    node-a,f00dfeed...
workers  0/3    -"
runu locks default
expect_rc 0
expect_out "Group default: 2 of 2 slots held
HOLDER                            MACHINE  SINCE        BY
$A  node-a   -            fleetctl
f00dfeed00112233445566778899aabb  -        2min 5s ago  fleetlock"
runu locks show workers
expect_out "Group workers: 0 of 3 slots held"
runu locks never-set
expect_out "Group never-set: 0 of 1 slot held"
runu --json locks
expect_rc 0
python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); sys.exit(0 if [g["group"] for g in l] == ["default", "workers"] else 1)' \
        "$TMP/out" || fail "--json locks is not the array of groups"
: >"$TMP/requests"
runu locks set-max default 3
expect_rc 0
expect_out "Group default: 3 slots, 2 held"
expect_requests 'PUT /v1/locks/default {"max":3}'
runu locks set-max default 1
expect_out "Group default: 1 slot, 2 held (they keep them; new holders wait)"
ok

case=locks_release
: >"$TMP/requests"
runu locks release default node-a
expect_rc 0
expect_out "Released the reboot slot of $A (node-a) in group default."
expect_requests_last "DELETE /v1/locks/default/holders/$A"
runu locks release default f00dfeed00112233445566778899aabb
expect_rc 0
expect_out "Released the reboot slot of f00dfeed00112233445566778899aabb (f00dfeed...) in group default."
runu locks release default node-c
expect_rc 4
expect_err "fleetctl: node-c holds no reboot slot of group default; it has no holders."
expect_no_request_for "DELETE /v1/locks/default/holders/$C"
ok

case=reboot_one_host
up '{"units": {"web.service": "node-a", "router.service": "global"}}'
runu machine reboot node-a
expect_rc 0
expect_out_n "Rebooting node-a, with a reboot slot of group default.
node-a: took a reboot slot in group default
node-a: draining
web.service  node-a -> node-b  active after Ns
node-a drained: 1 unit moved, 1 global unit stays (router.service)
node-a: rebooting
node-a: down
node-a: back after Ns, boot 00000002
node-a: uncordoned, rebalancing
node-a rebalanced: nothing to move
node-a: released its reboot slot in group default
node-a rebooted in Ns
Rebooted 1 host."
expect_err ""
# The steps, in order: its boot id, a slot, the drain, the reboot, its return, the uncordon,
# the slot back.
grep -E "^(POST|DELETE) |^GET /v1/machines/$A\$" "$TMP/requests" >"$TMP/steps"
[ "$(cat "$TMP/steps")" = "GET /v1/machines/$A
$REBOOT_A
POST /v1/machines/$A/drain {\"force\":false,\"source\":\"reboot\"}
POST /v1/machines/$A/reboot {}
GET /v1/machines/$A
GET /v1/machines/$A
DELETE /v1/machines/$A/drain
DELETE /v1/locks/default/holders/$A" ] || fail "steps: $(cat "$TMP/steps")"
expect_no_request_for "$B/"
ok

case=reboot_options
up '{"units": {"web.service": "node-a"}}'
runu machine reboot --group workers --no-rebalance --force node-a
expect_rc 0
expect_out_has "node-a: uncordoned (no rebalance)"
grep -qF "POST /v1/locks/workers/holders {\"id\":\"$A\"}" "$TMP/requests" || fail "no slot of workers"
grep -qF "POST /v1/machines/$A/drain {\"force\":true,\"source\":\"reboot\"}" "$TMP/requests" || fail "no forced drain"
grep -qF "DELETE /v1/machines/$A/drain?rebalance=0" "$TMP/requests" || fail "no uncordon without rebalance"
grep -qF "DELETE /v1/locks/workers/holders/$A" "$TMP/requests" || fail "the slot of workers stays"
ok

case=rolling_reboot_every_machine_endpoint_last
up "{\"units\": {\"web.service\": \"node-a\"}, $APPS, \"self\": \"node-a\"}"
runu machine reboot --rolling
expect_rc 0
expect_out_has "Rebooting 3 hosts in turn, 1 at a time (group default has 1 slot): node-b node-c node-a"
expect_out_has "node-a goes last, alone: fleetctl's endpoint is its fleetd."
expect_out_has "node-a: fleetctl's endpoint goes away with it: if fleetctl runs there, finish once it is back with 'fleetctl machine uncordon $A' and 'fleetctl locks release default $A'."
expect_out_has "Rebooted 3 hosts."
[ "$(grep -c 'rebooted in' "$TMP/out")" = 3 ] || fail "not three hosts rebooted"
[ "$(grep -E '/reboot \{\}$' "$TMP/requests" | cut -d/ -f4)" = "$B
$C
$A" ] || fail "reboot order: $(grep reboot "$TMP/requests")"
expect_err ""
ok

case=rolling_reboot_stops_at_a_host_that_does_not_come_back
up '{"units": {"web.service": "node-a"}, "reboot": {"node-b": -1}}'
runu machine reboot --rolling --timeout 2s node-a node-b node-c
expect_rc 1
expect_out_n "Rebooting 3 hosts in turn, 1 at a time (group default has 1 slot): node-a node-b node-c
node-a: took a reboot slot in group default
node-a: draining
web.service  node-a -> node-b  active after Ns
node-a drained: 1 unit moved
node-a: rebooting
node-a: down
node-a: back after Ns, boot 00000002
node-a: uncordoned, rebalancing
node-a rebalanced: nothing to move
node-a: released its reboot slot in group default
node-a rebooted in Ns
node-b: took a reboot slot in group default
node-b: draining
web.service  node-b -> node-a  active after Ns
node-b drained: 1 unit moved
node-b: rebooting
node-b: down"
expect_err "fleetctl: node-b did not come back within 2s: it is down. It stays cordoned and keeps its reboot slot in group default.
fleetctl: once it is back: 'fleetctl machine uncordon $B' and 'fleetctl locks release default $B'.
fleetctl: the reboot stopped: 1 of 3 hosts rebooted; left untouched: node-c."
# node-c: not a single request names it.
expect_no_request_for "$C"
expect_no_request_for "DELETE /v1/locks/default/holders/$B"
expect_no_request_for "DELETE /v1/machines/$B/drain"
ok

case=rolling_reboot_of_some_hosts
up
runu machine reboot --rolling node-c "$A" node-c
expect_rc 0
expect_out_has "Rebooting 2 hosts in turn, 1 at a time (group default has 1 slot): node-c node-a"
expect_no_request_for "$B"
ok

case=rolling_reboot_several_at_a_time
up '{"locks": {"default": {"max": 2}}}'
runu machine reboot --rolling --max-unavailable 2
expect_rc 0
expect_out_has "Rebooting 3 hosts in turn, 2 at a time (group default has 2 slots): node-a node-b node-c"
# Two slots are taken before the first host reboots; the third waits for one of them to free.
line_of() { grep -nF -- "$1" "$TMP/requests" | sed -n "${2}p" | cut -d: -f1; }
[ "$(line_of "holders {" 2)" -lt "$(line_of "/reboot" 1)" ] || fail "not two at a time: $(cat "$TMP/requests")"
[ "$(line_of "holders {" 3)" -gt "$(line_of "DELETE /v1/locks/default/holders" 1)" ] ||
        fail "the third took a slot before one came free: $(cat "$TMP/requests")"
up
runu machine reboot --rolling --max-unavailable 3 node-a node-b
expect_rc 0
expect_out_has "Rebooting 2 hosts in turn, 1 at a time (group default has 1 slot, fewer than --max-unavailable): node-a node-b"
ok

case=reboot_waits_for_a_slot
up '{"locks": {"default": {"max": 1, "holders": [{"id": "f00dfeed00112233445566778899aabb"}]}}}'
runu machine reboot node-a --timeout 1s
expect_rc 1
expect_out "Rebooting node-a, with a reboot slot of group default.
node-a: waiting for a reboot slot in group default (all are held)"
expect_err "fleetctl: no reboot slot of group default came free for node-a within 1s (see 'fleetctl locks default'); nothing was done to it.
fleetctl: the reboot stopped: 0 of 1 host rebooted."
expect_no_request_for "/drain"
expect_no_request_for "/reboot"
ok

case=reboot_of_a_host_that_does_not_reboot
up '{"reboot": {"node-a": 0}}'
runu machine reboot node-a --timeout 1s
expect_rc 1
expect_err_has "fleetctl: node-a did not come back within 1s: its fleetd still reports the boot it had."
ok

case=reboot_blocked_drain
up '{"units": {"db.service": "node-a"}, "stuck": {"db.service": "MachineID=a1b2c3d4e5f60718293a4b5c6d7e8f90"}}'
runu machine reboot node-a
expect_rc 1
expect_err "fleetctl: node-a blocked: db.service cannot move off draining node-a: MachineID=$A
fleetctl: not rebooting node-a: it stays cordoned (--force stops what cannot move); 'fleetctl machine uncordon $A' takes it back.
fleetctl: the reboot stopped: 0 of 1 host rebooted."
expect_out_has "node-a: released its reboot slot in group default"
expect_no_request_for "/reboot"
ok

case=reboot_request_fails
up '{"reboot": {"node-a": "unreachable"}}'
runu machine reboot node-a
expect_rc 1
expect_err "fleetctl: The fleetd of node-a cannot be reached.
fleetctl: node-a was not rebooted; it stays cordoned (uncordon it with 'fleetctl machine uncordon $A').
fleetctl: the reboot stopped: 0 of 1 host rebooted."
expect_out_has "node-a: released its reboot slot in group default"
expect_requests_last "DELETE /v1/locks/default/holders/$A"
ok

case=reboot_needs_boot_ids
up '{"no_boot_id": true}'
runu machine reboot node-a
expect_rc 1
expect_err "fleetctl: node-a's fleetd reports no boot id (an older fleetd?), so its return cannot be told; nothing was done to it.
fleetctl: the reboot stopped: 0 of 1 host rebooted."
expect_no_request_for "POST"
ok

case=reboot_refused_on_the_last_machine
up '{"hosts": [{"id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "hostname": "node-a", "ip": "10.0.1.1"}], "units": {"web.service": "node-a"}}'
runu machine reboot node-a
expect_rc 1
expect_err_has "fleetctl: node-a is the last machine that can take work: draining it would stop web.service."
expect_out_has "node-a: released its reboot slot in group default"
expect_no_request_for "/reboot"
ok

exit $((failures > 0))
