# shellcheck shell=bash
# One etcd member killed for good, then another one restarted (while it is down the cluster has no
# quorum): nothing stops, nothing restarts, no machine loses its lease, nothing is scheduled
# anew, and the control plane works on the two members that are left.
. "$(dirname "${BASH_SOURCE[0]}")/faults.sh"

app_done_at hello 2 || fail "test-20 left no hello v2"
snap=$CLUSTER_DIR/snap-30
unit_snapshot >"$snap"
leases=$(machine_leases)
sched=$(schedule_revs)
eleader=$(cl_etcdctl get "${CL_PREFIX}engine/leader" -w json | jq -c '.kvs[0] | [.value, .lease]')
leader=$(cluster_etcd_leader) || fail "no etcd leader"
dead=$((leader % 3 + 1))

cluster_etcd_member_kill "$dead"
log "etcd member $dead killed for good (member $leader leads)"
# two members left: the control plane writes and schedules
unit_file host1 m30.service "$(sleeper)"
t0=$(now_ms)
assert_exit 0 "start a unit with one member dead" cl_fleetctl host1 start /root/units/m30.service
figure "one member dead: fleetctl start of a unit" "$(($(now_ms) - t0)) ms"

# the member that leads restarts: until it is back there is no quorum
t0=$(now_ms)
cluster_etcd_member_stop "$leader"
cluster_etcd_member_start "$leader" up
wait_until 20 cluster_etcd_leader || fail "no etcd leader after member $leader restarted"
figure "one member dead, the leader restarted: no raft leader for" "$(($(now_ms) - t0)) ms"
t0=$(now_ms)
unit_file host2 n30.service "$(sleeper)"
started() { cl_fleetctl host2 start --no-block /root/units/n30.service >/dev/null; }
wait_until 10 started || fail "no unit can be started after the restart"
wait_until 20 unit_host n30.service || fail "n30.service does not run"
figure "one member dead, the leader restarted: control plane back after" "$(($(now_ms) - t0)) ms"

# give a lost lease or a stopped unit time to show
sleep $(($(cl_ttl) + 2))
assert_unchanged "$snap" "one member dead, another restarted"
assert_eq "$leases" "$(machine_leases)" "machine leases (a lost one is registered anew)"
gone=$(grep -vxF -f <(schedule_revs) <<<"$sched" || true)
assert_eq "" "$gone" "schedule/ entries changed or removed"
assert_eq "$eleader" "$(cl_etcdctl get "${CL_PREFIX}engine/leader" -w json | jq -c '.kvs[0] | [.value, .lease]')" \
        "engine/leader (value and lease)"
figure "one member dead, another restarted: units restarted, leases lost, schedule entries changed" "0, 0, 0"

# back to three for the next tests
cluster_etcd_member_start "$dead" || fail "etcd member $dead does not come back"
for u in m30.service n30.service; do
        cl_exec host1 curl -sf -X DELETE --unix-socket /run/fleetd/fleetd.sock "http://localhost/v1/units/$u" >/dev/null
done
gone_units() { [ -z "$(active_hosts m30.service)$(active_hosts n30.service)" ]; }
wait_until 20 gone_units || fail "m30/n30 still run after their destruction"
