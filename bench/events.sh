#!/bin/bash
# Writing events never slows placement measurably: the placement rate of bench/schedule-etcd.sh's
# setup (a real fleetd as engine leader, etcd on this machine, simulated machines and units
# from bench-schedule-etcd) with events on (every placement is a unit.placed event written to
# etcd and trimmed to events_keep) against the same with disable_events=true (journal only).
# Runs alternate on, off, on, off, ... (--rounds, default 2 each) on one cluster; between runs
# the units are deleted and the schedule empties, and after a run with events on the bench
# waits until every event of it is written (bulk events go at 120/s after the placements). Prints a markdown table with each run, the
# means, the ratio on/off and whether it meets the target (>= 0.9).
#
#   bench/events.sh [--rounds=N] [bench-schedule-etcd options, e.g. --units=5000]
#
# Needs root. BUILD_DIR (default build/) is built first and its fleetd is the one measured.
# Not a test: it reports and judges the ratio in its table, exit status 1 only if units stayed
# unplaced.
set -euo pipefail

bench_prog=bench/events.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ "$(id -u)" = 0 ] || bench_die "needs root (it boots a systemd-nspawn host)"

rounds=2
args=()
for a in "$@"; do
        case $a in
                --rounds=*) rounds=${a#--rounds=} ;;
                *) args+=("$a") ;;
        esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || bench_die "--rounds takes a number"
[ ${#args[@]} -gt 0 ] || args=(--units=5000 --machines=1000)

bench_cluster_up evts

# events on or off in host1's fleetd (a restart keeps the lease and the leadership)
set_events() {
        local on=$1 i
        cluster_host_exec 1 sed -i '/^disable_events=/d' /etc/fleetd/fleetd.conf
        [ "$on" = 1 ] || cluster_host_exec 1 sh -c 'echo disable_events=true >>/etc/fleetd/fleetd.conf'
        cluster_host_exec 1 systemctl restart fleetd.service
        for ((i = 0; i < 300; i++)); do
                cluster_host_exec 1 curl -sf --unix-socket /run/fleetd/fleetd.sock http://localhost/metrics \
                        2>/dev/null | grep -q '^fleetd_engine_leader 1' && return 0
                sleep 0.1
        done
        bench_die "fleetd in host1 did not lead again within 30 s after its restart"
}

# every unit gone, and with them their schedule entries
clean() {
        local i
        cluster_etcdctl del --prefix /fleetd/units/ >/dev/null
        for ((i = 0; i < 600; i++)); do
                [ "$(cluster_etcdctl get --prefix /fleetd/schedule/ --keys-only | grep -c . || true)" = 0 ] && return 0
                sleep 0.1
        done
        bench_die "the schedule did not empty within 60 s"
}

metric() {
        cluster_host_exec 1 curl -sf --unix-socket /run/fleetd/fleetd.sock http://localhost/metrics |
                awk -v m="$1" '$1 == m { print $2 }'
}
written() { metric fleetd_events_written_total; }

# the events of a run follow its placements: seconds until none waits (at most 300)
drain() {
        local t0=$SECONDS
        while [ "$(metric fleetd_events_queued)" != 0 ] && [ $((SECONDS - t0)) -lt 300 ]; do
                sleep 0.5
        done
        echo $((SECONDS - t0))
}

rows=()
declare -A sum=([1]=0 [0]=0)
rc=0
for ((r = 1; r <= rounds; r++)); do
        for on in 1 0; do
                set_events "$on"
                clean
                before=$(written)
                out=$("$BUILD_DIR/bench/bench-schedule-etcd" --endpoint="http://127.0.0.1:$CLUSTER_ETCD_PORT" \
                        --raw-puts=0 --fleetd-pid="$(bench_fleetd_pid 1)" --etcd-pid="$(bench_etcd_pid)" \
                        "${args[@]}" 2>/dev/null) || rc=$?
                rate=$(awk -F'|' '/^\| units placed \/ \(first unit put -> all placed\)/ { gsub(/ /, "", $3); print $3 }' <<<"$out")
                cpu=$(awk -F'|' '/^\| leader fleetd CPU/ { gsub(/^ +| +$/, "", $3); print $3 }' <<<"$out")
                during=$(( $(written) - before ))
                secs=$([ "$on" = 1 ] && drain || echo 0)
                events=$(( $(written) - before ))
                rows+=("| $r | $([ "$on" = 1 ] && echo on || echo off) | ${rate:-n/a} | $during | $events | ${secs} s | ${cpu:-n/a} |")
                sum[$on]=$(awk -v a="${sum[$on]}" -v b="${rate:-0}" 'BEGIN { print a + b }')
                echo "$bench_prog: round $r, events $([ "$on" = 1 ] && echo on || echo off): ${rate:-n/a} placements/s" >&2
        done
done
set_events 1

bench_header "bench/events.sh"
echo
echo "One real host (fleetd = engine leader), etcd on this machine, bench-schedule-etcd ${args[*]};"
echo "events on: every placement is a unit.placed event in etcd; off: disable_events=true."
echo
echo "| round | events | placements/s (first unit put -> all placed) | events written until placed | events written in all | then written within | leader fleetd CPU |"
echo "|---:|---|---:|---:|---:|---:|---|"
printf '%s\n' "${rows[@]}"
on=$(awk -v s="${sum[1]}" -v n="$rounds" 'BEGIN { printf "%.0f", s / n }')
off=$(awk -v s="${sum[0]}" -v n="$rounds" 'BEGIN { printf "%.0f", s / n }')
ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r != "n/a" && r >= 0.9) ? "met" : "MISSED" }')
echo
echo "| mean placements/s, events on | mean, events off | ratio on/off | target >= 0.9 |"
echo "|---:|---:|---:|---|"
echo "| $on | $off | $ratio | $verdict |"
exit "$rc"
