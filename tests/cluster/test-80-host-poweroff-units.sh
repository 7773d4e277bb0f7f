# shellcheck shell=bash
# Failure policy: a host powered off: its units are active on other hosts within
# agent_ttl + a few seconds. The host then boots again and runs none of them.
. "$(dirname "${BASH_SOURCE[0]}")/units.sh"

ttl=$(cl_ttl)
unit_file host1 p@.service "$(sleeper)"
assert_exit 0 submit cl_fleetctl host1 submit /root/units/p@.service
assert_exit 0 start cl_fleetctl host1 start p@1.service p@2.service p@3.service p@4.service p@5.service p@6.service
victims=()
for i in 1 2 3 4 5 6; do
        wait_until 20 unit_host "p@$i.service" || fail "p@$i.service not running"
        [ "$(unit_host "p@$i.service")" = host3 ] && victims+=("p@$i.service")
done
[ ${#victims[@]} -gt 0 ] || fail "no p@ instance landed on host3 (6 instances over 3 hosts)"
log "on host3: ${victims[*]}"

cl_host_poweroff host3
cut=$(date +%s%N)
moved() {
        local u h
        for u in "${victims[@]}"; do
                h=$(unit_host "$u") || return 1
                [ "$h" != host3 ] || return 1
        done
}
wait_until $((ttl + 8)) moved || fail "units of host3 not active elsewhere within agent_ttl (${ttl}s) + 8s"
log "host3's units active elsewhere after $((($(date +%s%N) - cut) / 1000000)) ms"

cl_host_boot host3
listed() { cl_listed host1 "$(cl_machine_id host3)"; }
wait_until 30 listed || fail "host3 not listed again after boot"
sleep 3
for i in 1 2 3 4 5 6; do
        assert_eq 1 "$(active_count "p@$i.service")" "hosts running p@$i.service after host3 came back"
done
destroy_all host1
wait_until 20 no_unit_anywhere || fail "units left after destroying all"
