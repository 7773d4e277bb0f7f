#!/bin/bash
# The engine leader of a real fleetd against the etcd it writes to. Boots a 1-host cluster
# (tools/lib/cluster.sh: a real systemd host, fleetd in it as the engine leader), then runs
# bench-schedule-etcd from this machine: the raw put rate of that etcd (txns of 100 with one in
# flight, as the engine writes; single puts with N in flight), then 1,000 simulated machines
# and 10,000 units, timed until every unit has its schedule/ entry. Prints markdown tables.
#
#   bench/schedule-etcd.sh [bench-schedule-etcd options, e.g. --units=5000 --inflight=1,16,64]
#
# Needs root. BUILD_DIR (default build/) is built first and its fleetd is the one measured.
# Not a test: it reports, it never judges time (exit status 1 only if units stayed unplaced).
set -euo pipefail

bench_prog=bench/schedule-etcd.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ "$(id -u)" = 0 ] || bench_die "needs root (it boots a systemd-nspawn host)"

bench_cluster_up sched
fleetd_pid=$(bench_fleetd_pid 1) || bench_die "fleetd does not run in host1"
etcd_pid=$(bench_etcd_pid) || bench_die "etcd does not run"

bench_header "bench/schedule-etcd.sh"
echo
echo "One real host (fleetd = engine leader), etcd on this machine, the bench client on this"
echo "machine over loopback. Options: ${*:-(defaults)}"

rc=0
"$BUILD_DIR/bench/bench-schedule-etcd" --endpoint="http://127.0.0.1:$CLUSTER_ETCD_PORT" \
        --fleetd-pid="$fleetd_pid" --etcd-pid="$etcd_pid" "$@" || rc=$?

echo
echo "### leader fleetd afterwards"
echo
echo "| VmRSS | of it RssAnon | VmHWM | engine log lines \"Scheduling: N change(s)\" |"
echo "|---:|---:|---:|---:|"
passes=$(cluster_host_exec 1 journalctl -u fleetd.service -o cat --no-pager 2>/dev/null | grep -c '^Scheduling: ' || true)
kb() {
        awk -v f="$1:" '$1 == f { print $2 " kB" }' "/proc/$fleetd_pid/status"
}
echo "| $(kb VmRSS) | $(kb RssAnon) | $(kb VmHWM) | $passes |"
if [ "$rc" = 1 ]; then
        echo
        echo "NOT every unit was placed; the leader's last log lines:"
        cluster_host_exec 1 journalctl -u fleetd.service -o cat --no-pager -n 15 2>/dev/null | sed 's/^/    /'
fi
exit "$rc"
