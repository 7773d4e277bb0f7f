# shellcheck shell=bash
# Why a unit is not placed, as the person who asked sees it: fleetctl start ends with the
# scheduler's reason and exit 1 instead of a timeout, status says it, list-unit-files shows it
# (REASON) and GET /v1/units/<name> carries it ("placement"). And fleetctl start --replace: a
# unit's new contents replace the old ones on its host in one write.
#
# The reason is the engine leader's placement/<name> record (MachineMetadata=role=nosuch: no host
# has that role), read by the API, the list cache and fleetctl.
. "$(dirname "${BASH_SOURCE[0]}")/units.sh"

reason="no machine has metadata role=nosuch"
pkey="${CL_PREFIX}placement/nosuch.service"
cl_etcdctl del "$pkey" >/dev/null

unit_file host1 nosuch.service "$(sleeper MachineMetadata=role=nosuch)"
assert_exit 0 "submit nosuch.service" cl_fleetctl host1 submit /root/units/nosuch.service
placed_record() { [ -n "$(cl_etcdctl get "$pkey" --print-value-only)" ]; }

# start waits, finds the reason (after 1 s without a machine reporting the unit) and ends with it
t0=$(date +%s)
assert_exit 1 "start of an unplaceable unit" cl_fleetctl host1 start --timeout=30s nosuch.service
assert_contains "$CL_ERR" "fleetctl: nosuch.service: not placed: $reason" "start's message"
assert_not_contains "$CL_ERR" "not launched after" "start's message"
[ $(($(date +%s) - t0)) -lt 20 ] || fail "start took until its timeout to say why"
# the engine leader's record of it (a unit to be placed: desired launched)
placed_record || fail "the engine leader wrote no placement/nosuch.service"
assert_contains "$(cl_etcdctl get "$pkey" --print-value-only)" "\"reason\":\"$reason\"" "placement/nosuch.service"
assert_exit 1 "load of an unplaceable unit" cl_fleetctl host2 load --block-attempts=3 nosuch.service
assert_contains "$CL_ERR" "nosuch.service: not placed: $reason" "load's message"
[ "$(active_count nosuch.service)" = 0 ] || fail "nosuch.service runs somewhere"

assert_exit 1 "status of an unplaced unit" cl_fleetctl host3 status nosuch.service
assert_contains "$CL_ERR" "nosuch.service: not placed: $reason" "status's message"

# the API, on a host whose list cache is loaded (list first) and on one that reads etcd
cl_fleetctl host2 list-unit-files >/dev/null
for h in host2 host3; do
        got=$(cl_exec "$h" curl -sf --unix-socket /run/fleetd/fleetd.sock http://localhost/v1/units/nosuch.service |
                jq -c .placement)
        assert_eq "{\"state\":\"unschedulable\",\"reason\":\"$reason\"}" "$got" "GET /v1/units/nosuch.service on $h"
done
in_list() {
        cl_exec host2 curl -sf --unix-socket /run/fleetd/fleetd.sock http://localhost/v1/units |
                jq -e --arg r "$reason" '.units[] | select(.name == "nosuch.service") | .placement.reason == $r' >/dev/null
}
wait_until 10 in_list || fail "GET /v1/units lacks the placement of nosuch.service"

files=$(cl_fleetctl host2 list-unit-files)
assert_contains "$(head -1 <<<"$files")" "REASON" "list-unit-files header"
assert_contains "$(grep '^nosuch.service ' <<<"$files")" "$reason" "list-unit-files row"
row=$(cl_fleetctl host1 list-unit-files --no-legend --fields=unit,reason | grep '^nosuch.service ')
assert_eq "nosuch.service  $reason" "$row" "list-unit-files --fields=unit,reason"

# destroyed: the leader deletes its placement record, and the list follows its watch
assert_exit 0 "destroy nosuch.service" cl_fleetctl host1 destroy nosuch.service
record_gone() { ! placed_record; }
wait_until 10 record_gone || fail "placement/nosuch.service outlived its unit"
gone_from_list() { ! cl_fleetctl host2 list-unit-files | grep -q REASON; }
wait_until 10 gone_from_list || fail "list-unit-files still shows a reason after the record went"

# --replace: new contents for a running unit, in one write; its host restarts it with them
unit_file host1 r.service "$(sleeper)"
assert_exit 0 "start r.service" cl_fleetctl host1 start /root/units/r.service
wait_until 20 unit_host r.service || fail "r.service is not active on exactly one host"
h=$(unit_host r.service)
before=$(cl_exec "$h" systemctl show -p MainPID --value r.service)
unit_file host1 r.service "$(sleeper | sed 's/^Description=.*/Description=fleetd test sleeper, replaced/')"
assert_exit 1 "start of other contents without --replace" cl_fleetctl host1 start /root/units/r.service
assert_contains "$CL_ERR" "already exists with different contents" "start without --replace"
assert_exit 1 "submit --replace of a launched unit" cl_fleetctl host1 submit --replace /root/units/r.service
assert_contains "$CL_ERR" "Unit r.service is launched: only a unit desired launched may replace it (start --replace)." \
        "submit --replace of a launched unit"
assert_exit 0 "start --replace" cl_fleetctl host1 start --replace /root/units/r.service
assert_contains "$CL_OUT" "Unit r.service launched on" "start --replace"
assert_contains "$(cl_fleetctl host2 cat r.service)" "Description=fleetd test sleeper, replaced" "cat after --replace"
replaced() {
        local hh
        hh=$(unit_host r.service) || return 1
        [ "$(cl_exec "$hh" systemctl show -p Description --value r.service)" = "fleetd test sleeper, replaced" ] &&
                [ "$(cl_exec "$hh" systemctl show -p MainPID --value r.service)" != "$before" ]
}
wait_until 20 replaced || fail "r.service does not run its new contents"

destroy_all host1
wait_until 20 no_unit_anywhere || fail "units left after destroying all"
left=$(cl_etcdctl get --prefix "${CL_PREFIX}placement/" --keys-only)
assert_eq "" "$left" "placement/ keys left in etcd"
