# shellcheck shell=bash
# fleetd stops cleanly on SIGTERM (systemctl stop): exit status 0, quickly, and the machine
# stays registered until its lease runs out or the next fleetd adopts it.

id=$(cl_machine_id host1)
show() {
        cl_exec host1 systemctl show -p "$1" --value fleetd.service
}
wait_until 30 cl_in_etcd "$id" || fail "host1 is not registered to begin with"

# whatever happens below, leave fleetd running for the next tests
trap 'cl_exec host1 systemctl start fleetd.service || true' EXIT
t0=$(date +%s%N)
cl_exec host1 systemctl stop fleetd.service
took=$((($(date +%s%N) - t0) / 1000000))
log "systemctl stop took $took ms"
assert_eq inactive "$(show ActiveState)" "fleetd.service state after stop"
assert_eq success "$(show Result)" "fleetd.service result after SIGTERM"
assert_eq 0 "$(show ExecMainStatus)" "fleetd exit status after SIGTERM"
[ "$took" -lt 10000 ] || fail "stopping fleetd took ${took} ms (TimeoutStopSec would have killed it)"
journal=$(cl_exec host1 journalctl -u fleetd.service --no-pager -o cat | tail -n 20)
assert_contains "$journal" "Stopping; the lease stays" "fleetd's journal after SIGTERM"

cl_exec host1 systemctl start fleetd.service
assert_eq active "$(show ActiveState)" "fleetd.service after start (Type=notify: READY=1 was sent)"
listed() { cl_listed host2 "$id"; }
wait_until 20 listed || fail "host1 not listed after fleetd started again"
