# shellcheck shell=bash
# [X-Fleet] options honoured on real hosts: MachineMetadata, MachineID, Conflicts, Global,
# MachineOf. The sandbox gives host1 and host2 role=web, host3 role=edge.
. "$(dirname "${BASH_SOURCE[0]}")/units.sh"

id2=$(cl_machine_id host2)
unit_file host1 edge.service "$(sleeper MachineMetadata=role=edge)"
unit_file host1 pinned.service "$(sleeper "MachineID=$id2")"
unit_file host1 buddy.service "$(sleeper MachineOf=pinned.service)"
unit_file host1 everywhere.service "$(sleeper Global=true)"
unit_file host1 webonly.service "$(sleeper Global=true MachineMetadata=role=web)"
unit_file host1 c@.service "$(sleeper 'Conflicts=c@*.service')"

assert_exit 0 "start all" cl_fleetctl host1 start /root/units/edge.service /root/units/pinned.service \
        /root/units/buddy.service /root/units/everywhere.service /root/units/webonly.service
assert_exit 0 "submit c@" cl_fleetctl host1 submit /root/units/c@.service
assert_exit 0 "start c@1..3" cl_fleetctl host1 start c@1.service c@2.service c@3.service

wait_until 20 unit_host edge.service || fail "edge.service not running on one host"
assert_eq host3 "$(unit_host edge.service)" "host of MachineMetadata=role=edge"
wait_until 20 unit_host pinned.service || fail "pinned.service not running"
assert_eq host2 "$(unit_host pinned.service)" "host of MachineID=host2's id"
wait_until 20 unit_host buddy.service || fail "buddy.service not running"
assert_eq host2 "$(unit_host buddy.service)" "host of MachineOf=pinned.service"
all3() { [ "$(active_hosts everywhere.service)" = "host1 host2 host3" ]; }
wait_until 20 all3 || fail "Global unit runs on: $(active_hosts everywhere.service)"
rows=$(cl_fleetctl host2 list-units --no-legend | grep -c '^everywhere.service ')
assert_eq 3 "$rows" "list-units rows for the global unit (one per machine)"
web2() { [ "$(active_hosts webonly.service)" = "host1 host2" ]; }
wait_until 20 web2 || fail "Global+metadata unit runs on: $(active_hosts webonly.service)"
c3() { [ "$(active_count c@1.service)$(active_count c@2.service)$(active_count c@3.service)" = 111 ]; }
wait_until 20 c3 || fail "c@1..3 are not each running once"
distinct=$(for i in 1 2 3; do unit_host "c@$i.service"; done | sort -u | wc -l)
assert_eq 3 "$distinct" "hosts of c@1..3 (Conflicts=c@*)"

destroy_all host1
wait_until 20 no_unit_anywhere || fail "units left after destroying all"
