# shellcheck shell=bash
# Failure policy: SIGKILL of fleetd restarts no unit. Units belong to systemd; the restarted
# fleetd adopts them (same hash: nothing to do). Checked with ActiveEnterTimestamp.
. "$(dirname "${BASH_SOURCE[0]}")/units.sh"

unit_file host1 k@.service "$(sleeper)"
assert_exit 0 submit cl_fleetctl host1 submit /root/units/k@.service
assert_exit 0 start cl_fleetctl host1 start k@1.service k@2.service k@3.service
declare -A where before
for i in 1 2 3; do
        wait_until 20 unit_host "k@$i.service" || fail "k@$i.service not running"
        where[$i]=$(unit_host "k@$i.service")
        before[$i]=$(enter_ts "${where[$i]}" "k@$i.service")
done

for h in host1 host2 host3; do
        pid=$(cl_exec "$h" systemctl show -p MainPID --value fleetd.service)
        cl_exec "$h" kill -KILL "$pid"
done
log "fleetd SIGKILLed on every host"
back() {
        local h
        for h in host1 host2 host3; do
                [ "$(cl_exec "$h" systemctl is-active fleetd.service)" = active ] || return 1
        done
}
wait_until 30 back || fail "fleetd did not come back everywhere"
# give the agents time to adopt and reconcile, then compare
sleep 3
for i in 1 2 3; do
        assert_eq "${where[$i]}" "$(unit_host "k@$i.service")" "host of k@$i.service after the fleetd kill"
        assert_eq "${before[$i]}" "$(enter_ts "${where[$i]}" "k@$i.service")" \
                "ActiveEnterTimestampMonotonic of k@$i.service (a restart changes it)"
done
destroy_all host1
wait_until 20 no_unit_anywhere || fail "units left after destroying all"
