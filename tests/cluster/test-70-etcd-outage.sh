# shellcheck shell=bash
# Failure policy: etcd stopped for 30 s and started again: no unit stops or restarts, and the
# state is published again (fleet stopped units on etcd blips).
. "$(dirname "${BASH_SOURCE[0]}")/units.sh"

unit_file host1 e@.service "$(sleeper)"
assert_exit 0 submit cl_fleetctl host1 submit /root/units/e@.service
assert_exit 0 start cl_fleetctl host1 start e@1.service e@2.service e@3.service
declare -A where before
for i in 1 2 3; do
        wait_until 20 unit_host "e@$i.service" || fail "e@$i.service not running"
        where[$i]=$(unit_host "e@$i.service")
        before[$i]=$(enter_ts "${where[$i]}" "e@$i.service")
done

cluster_etcd_stop
log "etcd stopped"
sleep 30
for i in 1 2 3; do
        [ "$(cl_exec "${where[$i]}" systemctl is-active "e@$i.service")" = active ] ||
                { cluster_etcd_start; fail "e@$i.service stopped while etcd was down"; }
done
cluster_etcd_start
log "etcd started again"

registered() { [ "$(cl_etcd_machine_ids | wc -l)" = "$(cl_nhosts)" ]; }
wait_until 30 registered || fail "not every machine registered again after etcd came back"
published() {
        [ "$(cl_etcdctl get --prefix "${CL_PREFIX}state/e@" --keys-only | grep -c .)" = 3 ]
}
wait_until 30 published || fail "state/ of e@1..3 not published again after etcd came back"
sleep 2
for i in 1 2 3; do
        assert_eq "${where[$i]}" "$(unit_host "e@$i.service")" "host of e@$i.service after the etcd outage"
        assert_eq "${before[$i]}" "$(enter_ts "${where[$i]}" "e@$i.service")" \
                "ActiveEnterTimestampMonotonic of e@$i.service after the etcd outage"
done
destroy_all host1
wait_until 20 no_unit_anywhere || fail "units left after destroying all"
