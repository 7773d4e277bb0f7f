#!/bin/bash
# Listing through fleetd's API with 10,000 units. Boots a 1-host cluster, fills its etcd from
# this machine (bench-schedule-etcd --populate --state: 1,000 simulated machines, 10,000 units
# that the real engine leader places on them, and 10,000 state/ records as agents would write
# them), then inside the host, on fleetd's unix socket with curl, after one warm-up each, RUNS
# (default 50) times each:
#   GET /v1/units, every page (default page size, following "next")
#   GET /v1/units?limit=10000 (one page)
#   GET /v1/state
# and, for the whole path a user sees, fleetctl list-unit-files and fleetctl list-units
# (process start, requests, table). Prints p50/p99 ms and the response size, fleetd's and
# etcd's CPU time per listing, and for comparison the same reads straight from etcd's JSON
# gateway (what any design that reads etcd on every request pays at least).
#
#   bench/list-units.sh [RUNS] [UNITS]
#
# Needs root. BUILD_DIR (default build/) is built first and its fleetd is the one measured.
# Times are curl's time_total (connect to last byte) summed over the pages of one listing, and
# wall time for fleetctl. p99 is nearest-rank: with 50 runs it is the slowest run.
set -euo pipefail

bench_prog=bench/list-units.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ "$(id -u)" = 0 ] || bench_die "needs root (it boots a systemd-nspawn host)"
runs=${1:-50}
units=${2:-10000}
if ! [[ $runs =~ ^[0-9]+$ ]] || [ "$runs" -lt 1 ]; then
        bench_die "RUNS must be a number >= 1"
fi
if ! [[ $units =~ ^[0-9]+$ ]] || [ "$units" -lt 1 ]; then
        bench_die "UNITS must be a number >= 1"
fi

bench_cluster_up list
fleetd_pid=$(bench_fleetd_pid 1) || bench_die "fleetd does not run in host1"

echo "$bench_prog: writing 1000 machines, $units units (placed by the engine), $units state records..." >&2
# The simulated machines' lease outlives the writer (1 h) so that nothing moves meanwhile.
"$BUILD_DIR/bench/bench-schedule-etcd" --endpoint="http://127.0.0.1:$CLUSTER_ETCD_PORT" --populate --state \
        --units="$units" --lease-ttl=3600 >&2 || bench_die "populating etcd failed"
count() {
        cluster_etcdctl get "/fleetd/$1/" --prefix --keys-only --limit=1 -w json | jq -r '.count // 0'
}
n_units=$(count units) n_sched=$(count schedule) n_state=$(count state)

# Runs inside the host with RUNS NAME CMD [ARGS]: CMD once to warm up, then RUNS times; prints one
# line per run: NAME SECONDS BYTES PAGES ITEMS.
# shellcheck disable=SC2016 # expanded inside the host
inner='
set -u
runs=$1
sock=/run/fleetd/fleetd.sock
tmp=$(mktemp -d)
trap "rm -rf $tmp" EXIT
get() {
        curl -sS --unix-socket "$sock" -o "$tmp/body" -w "%{time_total} %{size_download} %{http_code}\n" "http://localhost$1"
}
# list_units LIMIT: every page; prints SECONDS BYTES PAGES UNITS
list_units() {
        local limit=$1 from="" secs=0 bytes=0 pages=0 n=0 t size code next
        while :; do
                read -r t size code < <(get "/v1/units?limit=$limit${from:+&from=$from}")
                if [ "$code" != 200 ]; then
                        echo "error: GET /v1/units: HTTP $code: $(head -c 300 "$tmp/body")" >&2
                        return 1
                fi
                secs=$(awk -v a="$secs" -v b="$t" "BEGIN { printf \"%.6f\", a + b }")
                bytes=$((bytes + size)) pages=$((pages + 1))
                n=$((n + $(jq ".units | length" "$tmp/body")))
                next=$(jq -r ".next // empty" "$tmp/body")
                [ -n "$next" ] || break
                from=$next
        done
        echo "$secs $bytes $pages $n"
}
state() {
        local t size code
        read -r t size code < <(get "/v1/state")
        if [ "$code" != 200 ]; then
                echo "error: GET /v1/state: HTTP $code: $(head -c 300 "$tmp/body")" >&2
                return 1
        fi
        echo "$t $size 1 $(jq ".states | length" "$tmp/body")"
}
cli() {
        local t0 t1 out=$tmp/cli
        t0=$(date +%s%N)
        /usr/local/bin/fleetctl "$@" >"$out" 2>&1 || { echo "error: fleetctl $*: $(tail -n 3 "$out")" >&2; return 1; }
        t1=$(date +%s%N)
        echo "$(awk -v d=$((t1 - t0)) "BEGIN { printf \"%.6f\", d / 1e9 }") $(wc -c <"$out") - $(($(wc -l <"$out") - 1))"
}
# etcd_range URL PREFIX [keys_only]: the same read straight from the etcd JSON gateway
etcd_range() {
        local k e ko="" t size code
        k=$(printf "%s" "$2" | base64 -w0)
        e=$(printf "%s" "${2%/}0" | base64 -w0)
        [ -z "${3:-}" ] || ko=",\"keys_only\":true"
        read -r t size code < <(curl -sS -o "$tmp/body" -w "%{time_total} %{size_download} %{http_code}\n" \
                -X POST -d "{\"key\":\"$k\",\"range_end\":\"$e\"$ko}" "$1/v3/kv/range")
        if [ "$code" != 200 ]; then
                echo "error: etcd range $2: HTTP $code" >&2
                return 1
        fi
        echo "$t $size 1 $(jq -r ".count // 0" "$tmp/body")"
}
name=$2
shift 2
"$@" >/dev/null || exit 1     # warm-up
for ((i = 0; i < runs; i++)); do
        line=$("$@") || exit 1
        echo "$name $line"
done
'
samples=$(mktemp)
cpu=$(mktemp)
trap 'rm -f "$samples" "$cpu"; bench_teardown' EXIT
etcd_pid=$(bench_etcd_pid) || bench_die "etcd does not run"
ticks() {
        awk '{ print $14 + $15 }' "/proc/$1/stat"
}
hz=$(getconf CLK_TCK)
echo "$bench_prog: measuring, $runs runs each..." >&2
# One set per request; fleetd's and etcd's CPU time around it (the warm-up run included).
for what in "units-pages list_units 1000" "units-one list_units 10000" "state state" \
        "cli-files cli list-unit-files" "cli-units cli list-units" \
        "etcd-units etcd_range $CLUSTER_ETCD_ENDPOINT /fleetd/units/" \
        "etcd-sched etcd_range $CLUSTER_ETCD_ENDPOINT /fleetd/schedule/ keys" \
        "etcd-state etcd_range $CLUSTER_ETCD_ENDPOINT /fleetd/state/"; do
        # shellcheck disable=SC2086 # split on purpose
        set -- $what
        f0=$(ticks "$fleetd_pid") e0=$(ticks "$etcd_pid")
        bench_in_host 1 "$inner" "$runs" "$@" >>"$samples" || bench_die "measuring $1 inside host1 failed"
        f1=$(ticks "$fleetd_pid") e1=$(ticks "$etcd_pid")
        echo "$1 $(( (f1 - f0) * 1000 / hz / (runs + 1) )) $(( (e1 - e0) * 1000 / hz / (runs + 1) ))" >>"$cpu"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

bench_header "bench/list-units.sh"
echo
echo "etcd holds $n_units units/, $n_sched schedule/, $n_state state/ keys (1,000 simulated machines);"
echo "curl --unix-socket /run/fleetd/fleetd.sock inside the host, $runs runs after one warm-up."
echo
echo "| request | runs | pages | items | p50 ms | p99 ms | min ms | response bytes | fleetd CPU ms | etcd CPU ms | target |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
row() {
        local name=$1 label=$2 target=$3 sel p50 p99 min bytes pages items verdict fcpu ecpu
        sel=$(awk -v n="$name" '$1 == n' "$samples")
        [ -n "$sel" ] || return 0
        p50=$(awk '{ print $2 * 1000 }' <<<"$sel" | bench_percentile 50)
        p99=$(awk '{ print $2 * 1000 }' <<<"$sel" | bench_percentile 99)
        min=$(awk '{ print $2 * 1000 }' <<<"$sel" | bench_percentile 0)
        read -r bytes pages items < <(awk 'NR == 1 { print $3, $4, $5 }' <<<"$sel")
        read -r fcpu ecpu < <(awk -v n="$name" '$1 == n { print $2, $3 }' "$cpu")
        verdict=""
        if [ -n "$target" ]; then
                if awk -v p="$p50" -v t="$target" 'BEGIN { exit !(p < t) }'; then verdict="met (< $target ms)"; else verdict="MISSED (< $target ms)"; fi
        fi
        printf '| %s | %d | %s | %s | %.1f | %.1f | %.1f | %s | %s | %s | %s |\n' "$label" "$(wc -l <<<"$sel")" "$pages" \
                "$items" "$p50" "$p99" "$min" "$bytes" "$fcpu" "$ecpu" "$verdict"
}
row units-pages "GET /v1/units, all pages (limit 1000)" 200
row units-one "GET /v1/units?limit=10000" 200
row state "GET /v1/state" 200
row cli-files "fleetctl list-unit-files (wall, whole CLI)" ""
row cli-units "fleetctl list-units (wall, whole CLI)" ""
row etcd-units "for comparison: etcd gateway range units/ (from the host)" ""
row etcd-sched "for comparison: etcd gateway range schedule/, keys only" ""
row etcd-state "for comparison: etcd gateway range state/" ""
echo
echo "CPU columns: fleetd's and etcd's CPU time per listing (all its pages), from /proc/<pid>/stat around each"
echo "set of runs. Load average at the end: $load_end."
echo
echo "fleetd afterwards: VmRSS $(awk '/^VmRSS/ {print $2 " kB"}' "/proc/$fleetd_pid/status"), VmHWM $(awk '/^VmHWM/ {print $2 " kB"}' "/proc/$fleetd_pid/status")"
