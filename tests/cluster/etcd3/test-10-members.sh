# shellcheck shell=bash
# The cluster of this set: three etcd members, each its own process, data dir and ports, one of
# them the raft leader; every fleetd is configured with all three endpoints and registered.
. "$(dirname "${BASH_SOURCE[0]}")/faults.sh"

assert_eq 3 "$CLUSTER_ETCD_MEMBERS" "etcd members of this cluster"
declare -A seen
for k in 1 2 3; do
        cluster_etcd_member_running "$k" || fail "etcd member $k does not run"
        cluster_etcd_member_healthy "$k" || fail "etcd member $k is not healthy"
        d=$(cluster__etcd_dir "$k")
        [ -d "$d/data/member" ] || fail "etcd member $k has no data dir of its own ($d/data)"
        ep=$(cluster_etcd_member_endpoint "$k")
        [ -z "${seen[$ep]:-}" ] || fail "etcd members share the endpoint $ep"
        seen[$ep]=1
done
assert_eq 3 "$(cl_etcdctl member list | grep -c started)" "started members in etcdctl member list"
leader=$(cluster_etcd_leader) || fail "no etcd member leads"
log "etcd leader: member $leader"
for h in $(seq 1 "$(cl_nhosts)"); do
        conf=$(cl_exec "host$h" cat /etc/fleetd/fleetd.conf)
        assert_contains "$conf" "etcd_servers=$CLUSTER_ETCD_ENDPOINTS" "host$h's fleetd.conf"
done
all_registered() { [ "$(cl_etcd_machine_ids | wc -l)" = "$(cl_nhosts)" ]; }
wait_until 30 all_registered || fail "not every machine registered"

# What the fault tests share: bystanders (plain units no fault may touch) and the hello app (v1,
# image 1.0), whose next releases the faults interrupt.
unit_file host1 b@.service "$(sleeper)"
assert_exit 0 "submit the bystanders" cl_fleetctl host1 submit /root/units/b@.service
assert_exit 0 "start the bystanders" cl_fleetctl host1 start b@1.service b@2.service b@3.service
app_images 1.0 2.0
put_file host1 /root/hello.yaml "$(cat "$CLUSTER_REPO/examples/apps/hello.yaml")"
assert_exit 0 "deploy hello v1" cl_fleetctl host1 deploy -f /root/hello.yaml
app_done_at hello 1 || fail "hello v1 is not done: $(app_record hello)"
for i in 1 2 3; do
        [ -n "$(unit_host "b@$i.service")" ] || fail "b@$i.service does not run on exactly one host"
done
