# shellcheck shell=bash
# One engine leader; when its host dies a new leader is elected within agent_ttl + a few
# seconds and schedules units again. Checked in etcd (engine/leader) and on the hosts.
. "$(dirname "${BASH_SOURCE[0]}")/units.sh"

ttl=$(cl_ttl)
leader() {
        cl_etcdctl get "${CL_PREFIX}engine/leader" --print-value-only
}
has_leader() { [ -n "$(leader)" ]; }
wait_until 20 has_leader || fail "no engine/leader key in etcd"
old=$(leader)
lh=""
for i in $(seq 1 "$(cl_nhosts)"); do
        [ "$(cl_machine_id "host$i")" = "$old" ] && lh=host$i
done
[ -n "$lh" ] || fail "engine/leader names $old, which is no host of this cluster"
log "leader is $lh ($old)"
# exactly one fleetd says it leads (its last word on leadership); the journal is read whole
# first: grep -q closing the pipe early would fail the pipeline under pipefail
leaders=0
for i in $(seq 1 "$(cl_nhosts)"); do
        said=$(cl_exec "host$i" journalctl -u fleetd.service --no-pager -o cat)
        last=$(grep -E "now the engine leader|No longer the engine leader" <<<"$said" | tail -1 || true)
        case $last in *"now the engine leader"*) leaders=$((leaders + 1)) ;; esac
done
assert_eq 1 "$leaders" "fleetd instances whose last word is that they lead"

cl_host_poweroff "$lh"
cut=$(date +%s%N)
new_leader() {
        local l
        l=$(leader)
        [ -n "$l" ] && [ "$l" != "$old" ]
}
wait_until $((ttl + 5)) new_leader || fail "no new leader within agent_ttl (${ttl}s) + 5s of the leader's power cut"
log "new leader $(leader) after $((($(date +%s%N) - cut) / 1000000)) ms"

# the new leader schedules
other=host1
[ "$lh" = host1 ] && other=host2
unit_file "$other" after-failover.service "$(sleeper)"
assert_exit 0 "start after failover" cl_fleetctl "$other" start /root/units/after-failover.service
wait_until 20 unit_host after-failover.service || fail "after-failover.service not running"

cl_host_boot "$lh"
listed() { cl_listed "$other" "$(cl_machine_id "$lh")"; }
wait_until 30 listed || fail "$lh not listed again after boot"
destroy_all "$other"
wait_until 20 no_unit_anywhere || fail "units left after destroying all"
