# shellcheck shell=bash
# Failure policy: a host cut from the network past agent_ttl, then reconnected: afterwards
# each unit runs exactly once in the cluster (the cut host stops what was moved away).
. "$(dirname "${BASH_SOURCE[0]}")/units.sh"

ttl=$(cl_ttl)
unit_file host1 n@.service "$(sleeper)"
assert_exit 0 submit cl_fleetctl host1 submit /root/units/n@.service
assert_exit 0 start cl_fleetctl host1 start n@1.service n@2.service n@3.service n@4.service n@5.service n@6.service
victims=()
for i in 1 2 3 4 5 6; do
        wait_until 20 unit_host "n@$i.service" || fail "n@$i.service not running"
        [ "$(unit_host "n@$i.service")" = host2 ] && victims+=("n@$i.service")
done
[ ${#victims[@]} -gt 0 ] || fail "no n@ instance landed on host2"

cl_exec host2 ip link set host0 down
log "host2 cut off"
elsewhere() {
        local u
        for u in "${victims[@]}"; do
                [ "$(cl_exec host1 systemctl is-active "$u")" = active ] ||
                        [ "$(cl_exec host3 systemctl is-active "$u")" = active ] || return 1
        done
}
wait_until $((ttl + 10)) elsewhere || { cl_exec host2 ip link set host0 up; fail "host2's units not started elsewhere"; }
cl_exec host2 ip link set host0 up
log "host2 reconnected"

once() {
        local i
        for i in 1 2 3 4 5 6; do
                [ "$(active_count "n@$i.service")" = 1 ] || return 1
        done
}
wait_until 40 once || fail "after reconnecting, instances run: $(for i in 1 2 3 4 5 6; do printf 'n@%s:%s ' $i "$(active_hosts n@$i.service)"; done)"
destroy_all host1
wait_until 20 no_unit_anywhere || fail "units left after destroying all"
