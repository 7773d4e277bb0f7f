#!/bin/bash
# fleetd at rest, and starting 500 units, on one real systemd host. Boots a 1-host cluster, then:
#   1. idle with 0 units: over WINDOW seconds (default 60), fleetd's CPU (utime + stime from
#      /proc/<pid>/stat), its RSS, and the etcd requests it causes (etcd's /metrics: gRPC calls
#      started and handled, by method; the benchmark's own traffic to etcd in the window is only
#      the two /metrics scrapes, which are plain HTTP and no gRPC calls);
#   2. start 500 with systemd directly inside the host: write 500 unit files to
#      /run/systemd/system, daemon-reload, one systemctl start of all of them, until all are
#      active; then stop and remove them again;
#   3. start 500 through fleetd: PUT /v1/units/<name> {contents, desiredState: launched} on the
#      unix socket (curl, 8 in parallel), until all 500 are active (systemctl list-units) and
#      until every state/ record in etcd says active;
#   4. idle with 500 units: as in 1.
# Units: "[Service]\nExecStart=/bin/sleep infinity\n", no [X-Fleet]. Prints markdown tables.
#
#   bench/agent-idle.sh [WINDOW_SECONDS] [UNITS]
#
# Needs root. BUILD_DIR (default build/) is built first and its fleetd is the one measured.
set -euo pipefail

bench_prog=bench/agent-idle.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ "$(id -u)" = 0 ] || bench_die "needs root (it boots a systemd-nspawn host)"
window=${1:-60}
n=${2:-500}
if ! [[ $window =~ ^[0-9]+$ ]] || [ "$window" -lt 5 ]; then
        bench_die "WINDOW_SECONDS must be a number >= 5"
fi
if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 5000 ]; then
        bench_die "UNITS must be a number from 1 to 5000"
fi

bench_cluster_up idle
fleetd_pid=$(bench_fleetd_pid 1) || bench_die "fleetd does not run in host1"
etcd_pid=$(bench_etcd_pid) || bench_die "etcd does not run"
hz=$(getconf CLK_TCK)
out=$(mktemp -d)
trap 'rm -rf "$out"; bench_teardown' EXIT

ticks() {
        awk '{ print $14 + $15 }' "/proc/$1/stat"
}
# proportional set size: shared library pages divided by the processes that map them
pss_kb() {
        awk '$1 == "Pss:" { print $2 }' "/proc/$1/smaps_rollup"
}
# the TLS libraries mapped into the process (libssl would mean OpenSSL's TLS is loaded)
tls_libs() {
        awk '{ print $6 }' "/proc/$1/maps" | grep -oE 'lib(ssl|crypto|gnutls|curl[a-z-]*)\.so[.0-9]*' | sort -u | paste -sd ' '
}
status_kb() {
        awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}
# gRPC counters of etcd, one "metric method value" line each
grpc_counters() {
        curl -sf -m 5 "$CLUSTER_ETCD_ENDPOINT/metrics" |
                awk '/^grpc_server_(started|handled)_total\{/ || /^grpc_server_msg_received_total\{/ {
                        name = $1; sub(/\{.*/, "", name)
                        m = $1; sub(/.*grpc_method="/, "", m); sub(/".*/, "", m)
                        v[name " " m] += $2
                } END { for (k in v) print k, v[k] }'
}

# idle LABEL: measures the window; appends one table row to $out/idle and the per-method
# breakdown to $out/methods.
idle() {
        local label=$1 t0 t1 c0 c1 e0 e1 rss hwm rss_max=0 s
        echo "$bench_prog: idle window, $label, ${window}s..." >&2
        grpc_counters >"$out/m0"
        c0=$(ticks "$fleetd_pid") e0=$(ticks "$etcd_pid")
        t0=$(date +%s.%N)
        for ((s = 0; s < window; s += 5)); do
                sleep $((window - s < 5 ? window - s : 5))
                rss=$(status_kb "$fleetd_pid" VmRSS)
                [ "$rss" -gt "$rss_max" ] && rss_max=$rss
        done
        c1=$(ticks "$fleetd_pid") e1=$(ticks "$etcd_pid")
        t1=$(date +%s.%N)
        grpc_counters >"$out/m1"
        hwm=$(status_kb "$fleetd_pid" VmHWM)
        # deltas per "metric method"
        awk 'NR == FNR { a[$1 " " $2] = $3; next } { d = $3 - a[$1 " " $2]; if (d > 0) print $1, $2, d }' \
                "$out/m0" "$out/m1" >"$out/d"
        local secs started handled msgs cpu_s cpu_pct rate etcd_pct
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
        started=$(awk '$1 == "grpc_server_started_total" { s += $3 } END { print s + 0 }' "$out/d")
        handled=$(awk '$1 == "grpc_server_handled_total" { s += $3 } END { print s + 0 }' "$out/d")
        msgs=$(awk '$1 == "grpc_server_msg_received_total" { s += $3 } END { print s + 0 }' "$out/d")
        cpu_s=$(awk -v d=$((c1 - c0)) -v hz="$hz" 'BEGIN { printf "%.2f", d / hz }')
        cpu_pct=$(awk -v c="$cpu_s" -v s="$secs" 'BEGIN { printf "%.2f", 100 * c / s }')
        rate=$(awk -v h="$handled" -v s="$secs" 'BEGIN { printf "%.2f", h / s }')
        etcd_pct=$(awk -v d=$((e1 - e0)) -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.2f", 100 * d / hz / s }')
        printf '| %s | %s | %s | %s | %s kB | %s kB | %s kB | %s kB | %s kB | %s kB | %s | %s | %s | %s | %s |\n' "$label" "$secs" \
                "$cpu_s" "$cpu_pct" "$(status_kb "$fleetd_pid" VmRSS)" "$(pss_kb "$fleetd_pid")" "$(status_kb "$fleetd_pid" RssAnon)" \
                "$(status_kb "$fleetd_pid" RssFile)" "$rss_max" "$hwm" "$started" "$handled" "$msgs" "$rate" \
                "$etcd_pct" >>"$out/idle"
        {
                echo "| $label | $(awk '$1 == "grpc_server_handled_total" { printf "%s%s %d", sep, $2, $3; sep = ", " }' "$out/d") |"
        } >>"$out/methods"
}

# Inside the host: N_UNITS PREFIX MODE. MODE direct: write files, daemon-reload, systemctl
# start, until all active. MODE fleetd: PUT every unit through the API, until all active.
# Prints "T0 T_PUTS_DONE T_ACTIVE" (realtime seconds; the host shares this machine's clock).
# shellcheck disable=SC2016 # expanded inside the host
start_inner='
set -u
n=$1 prefix=$2 mode=$3
tmp=$(mktemp -d)
trap "rm -rf $tmp" EXIT
names=()
for ((i = 1; i <= n; i++)); do names+=("$(printf "%s-%04d.service" "$prefix" "$i")"); done
count_active() {
        systemctl list-units --type=service --state=active --no-legend --plain "$prefix-*.service" 2>/dev/null | wc -l
}
if [ "$mode" = fleetd ]; then
        printf "{\"contents\":\"[Service]\\\\nExecStart=/bin/sleep infinity\\\\n\",\"desiredState\":\"launched\"}" >"$tmp/body"
        sep=""
        for u in "${names[@]}"; do
                printf "%surl = \"http://localhost/v1/units/%s\"\nunix-socket = \"/run/fleetd/fleetd.sock\"\nrequest = \"PUT\"\nheader = \"Content-Type: application/json\"\ndata-binary = \"@%s\"\noutput = \"/dev/null\"\nwrite-out = \"%%{http_code}\\\\n\"\n" "$sep" "$u" "$tmp/body"
                sep="next
"
        done >"$tmp/curl.conf"
fi
t0=$(date +%s.%N)
if [ "$mode" = direct ]; then
        for u in "${names[@]}"; do
                printf "[Service]\nExecStart=/bin/sleep infinity\n" >"/run/systemd/system/$u"
        done
        systemctl daemon-reload
        systemctl start "${names[@]}"
else
        curl -sS --no-progress-meter --parallel --parallel-max 8 -K "$tmp/curl.conf" >"$tmp/codes" 2>"$tmp/err" || true
        bad=$(grep -vc "^20[01]$" "$tmp/codes" || true)
        if [ "$(wc -l <"$tmp/codes")" != "$n" ] || [ "$bad" != 0 ]; then
                echo "PUTs failed: $(sort "$tmp/codes" | uniq -c | tr "\n" " ") $(head -c 300 "$tmp/err")" >&2
                exit 1
        fi
fi
t1=$(date +%s.%N)
deadline=$((SECONDS + 300))
while [ "$(count_active)" -lt "$n" ]; do
        if [ $SECONDS -gt $deadline ]; then
                echo "only $(count_active) of $n active after 300 s" >&2
                exit 1
        fi
        sleep 0.05
done
t2=$(date +%s.%N)
echo "$t0 $t1 $t2"
'
# shellcheck disable=SC2016
cleanup_direct='
prefix=$1
systemctl stop "$prefix-*.service"
rm -f /run/systemd/system/"$prefix"-*.service
systemctl daemon-reload
systemctl reset-failed "$prefix-*.service" 2>/dev/null || true
'

# the number of state/ records whose unit reports active
states_active() {
        cluster_etcdctl get /fleetd/state/ --prefix --print-value-only 2>/dev/null | grep -c '"active":"active"' || true
}

sleep 3
idle "0 units"

echo "$bench_prog: starting $n units with systemd directly..." >&2
read -r d0 d1 d2 < <(bench_in_host 1 "$start_inner" "$n" direct direct) || bench_die "starting with systemd failed"
bench_in_host 1 "$cleanup_direct" direct >/dev/null 2>&1 || true
sleep 3

echo "$bench_prog: starting $n units through fleetd's API..." >&2
# etcd's state/ is watched from here while the host starts the units
(
        while :; do
                if [ "$(states_active)" -ge "$n" ]; then
                        date +%s.%N
                        exit 0
                fi
                sleep 0.1
        done
) >"$out/state-done" &
poller=$!
read -r f0 f1 f2 < <(bench_in_host 1 "$start_inner" "$n" bench fleetd) || { kill "$poller" 2>/dev/null; bench_die "starting through fleetd failed"; }
for ((i = 0; i < 600; i++)); do
        [ -s "$out/state-done" ] && break
        sleep 0.1
done
kill "$poller" 2>/dev/null || true
wait "$poller" 2>/dev/null || true
f3=$(cat "$out/state-done" 2>/dev/null || true)

# let what follows the start settle (state publication, the leader's last pass)
sleep 10
idle "$n units"
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

bench_header "bench/agent-idle.sh"
echo
echo "One real host (fleetd = agent and engine leader), etcd on this machine. Idle windows of ${window}s."
echo
echo "### idle"
echo
echo "| units | window s | fleetd CPU s | fleetd CPU % | VmRSS at end | Pss | of it RssAnon | of it RssFile | VmRSS max | VmHWM | etcd gRPC calls started | handled | messages received | handled/s | etcd CPU % |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
cat "$out/idle"
echo
echo "TLS and curl libraries mapped into fleetd: $(tls_libs "$fleetd_pid")"
echo
echo "Targets: ~0 % CPU, VmRSS under 10 MB, under 1 etcd request/s. RssFile is mapped files (the binary and its"
echo "shared libraries), RssAnon the process's own memory. etcd calls by method (handled, in the window):"
echo
echo "| units | calls |"
echo "|---|---|"
cat "$out/methods"
echo
echo "### start $n units (sleep infinity) until all are active"
echo
secs() {
        awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "n/a"; else printf "%.2f", b - a }'
}
echo "| how | requests done s | all active s | state/ all active s | vs systemd directly |"
echo "|---|---:|---:|---:|---:|"
echo "| systemd directly: write $n files, daemon-reload, one systemctl start | $(secs "$d0" "$d1") | $(secs "$d0" "$d2") | - | 1.00 |"
echo "| fleetd: PUT /v1/units/<name> desiredState launched (8 in parallel) | $(secs "$f0" "$f1") | $(secs "$f0" "$f2") | $(secs "$f0" "$f3") | $(awk -v a="$(secs "$d0" "$d2")" -v b="$(secs "$f0" "$f2")" 'BEGIN { printf "%.2f", b / a }') |"
echo
echo "Load average at the end: $load_end."
