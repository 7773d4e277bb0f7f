#!/bin/bash
# Scaling an app up through fleetd beside starting the same containers directly. Boots a 3-host
# cluster, builds localhost/hello:1.0 in every host, deploys examples/apps/hello.yaml (fleetctl
# deploy in host1) and scales it to web=1 worker=0. Then, REPS times, for every N in SIZES:
#   fleetd:  `fleetctl scale hello web=N --no-wait` in host1, then GET /v1/apps/hello (host1's
#            TCP API, from this machine, 100 ms between polls) until N instances say health
#            "passing"; then scale back to web=1 and wait until it has settled (one instance in
#            the API, one unit and one container left in the hosts);
#   direct:  N/3 containers in each host, started in parallel in each host and in all three at
#            once: `systemd-run --unit=TAG-PORT -p KillMode=mixed -p SuccessExitStatus=143 podman
#            run --rm --init --name=TAG-PORT --network=host --pull=never localhost/hello:1.0
#            /bin/busybox httpd -f -p PORT -h /www`, then curl from this machine (100 ms between
#            rounds) until every one answers 200 on its port; then all are stopped again.
# The two alternate which goes first from one repetition to the next. For every fleetd run the
# hosts' journals and etcd give where the time went: when the app controller created the units
# (their "created"), when the engine wrote the schedule ("Scheduling:"), when each agent applied
# it ("Applying", "Host port ... assigned"), systemd's "Starting"/"Started" of every instance, and
# the agent's "Health check of ...: passing.". Prints markdown tables.
#
#   bench/scale.sh [REPS] [SIZES]        defaults: 3 and 3,12,30 (multiples of 3)
#
# Needs root. BUILD_DIR (default build/) is built first and its fleetd is the one measured. The
# raw data (journal extracts, events, API answers) stay in $BUILD_DIR/bench-logs/<cluster>.d/.
set -euo pipefail

bench_prog=bench/scale.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ "$(id -u)" = 0 ] || bench_die "needs root (it boots systemd-nspawn hosts)"
reps=${1:-3}
sizes=${2:-3,12,30}
if ! [[ $reps =~ ^[0-9]+$ ]] || [ "$reps" -lt 1 ] || [ "$reps" -gt 20 ]; then
        bench_die "REPS must be a number from 1 to 20"
fi
IFS=, read -r -a ns <<<"$sizes"
for n in "${ns[@]}"; do
        if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 3 ] || [ "$n" -gt 300 ] || [ $((n % 3)) != 0 ]; then
                bench_die "SIZES must be multiples of 3 from 3 to 300, separated by commas"
        fi
done

nhosts=3
timeout_s=180
bench_cluster_up scale "$nhosts"
raw=$bench_log.d
rm -rf "$raw"
mkdir -p "$raw"
out=$(mktemp -d)
trap 'rm -rf "$out"; bench_teardown' EXIT

api_ip=$(cluster_host_ip 1)
api="https://$api_ip:$CLUSTER_API_PORT"
ca=$CLUSTER_DIR/ca
now_us() {
        date +%s%6N
}
# GET API PATH on host1's TCP API (TLS, the cluster's operator certificate)
api_get() {
        curl -sS -m 5 --cacert "$ca/ca.pem" --cert "$ca/operator.pem" --key "$ca/operator.key" "$api$1"
}
fleetctl_h1() {
        cluster_host_exec 1 /usr/local/bin/fleetctl "$@"
}
secs() {     # microseconds -> seconds, 2 decimals; "n/a" for an empty value
        awk -v v="$1" 'BEGIN { if (v == "" || v == "n/a") print "n/a"; else printf "%.2f", v / 1e6 }'
}
median() {   # of the numbers on stdin (nearest rank; for 3 values the middle one)
        bench_percentile 50
}

echo "$bench_prog: building localhost/hello:1.0 in $nhosts hosts..." >&2
for ((i = 1; i <= nhosts; i++)); do
        cluster_image_hello "$i" 1.0 >>"$bench_log" 2>&1 || bench_die "cannot build localhost/hello:1.0 in host$i (see $bench_log)"
done

# Settled at web=1: the API lists one instance (web, passing) and the rollout is done; the hosts
# have one hello unit loaded and one hello container between them.
settled() {
        local j units=0 ctrs=0 i
        j=$(api_get /v1/apps/hello 2>/dev/null) || return 1
        [ "$(jq -r '[.instances[]] | length' <<<"$j")" = 1 ] || return 1
        [ "$(jq -r '[.instances[] | select(.process == "web" and .health == "passing")] | length' <<<"$j")" = 1 ] || return 1
        [ "$(jq -r .rollout.state <<<"$j")" = "done" ] || return 1
        for ((i = 1; i <= nhosts; i++)); do
                units=$((units + $(cluster_host_exec "$i" sh -c 'systemctl list-units --all --no-legend --plain "hello_v*" | grep -c .' || true)))
                ctrs=$((ctrs + $(cluster_host_exec "$i" sh -c 'podman ps -a --format "{{.Names}}" | grep -c "^hello_v"' || true)))
        done
        [ "$units" = 1 ] && [ "$ctrs" = 1 ]
}
wait_settled() {
        local deadline=$((SECONDS + timeout_s))
        until settled; do
                [ $SECONDS -lt $deadline ] || bench_die "hello did not settle at web=1 within ${timeout_s}s: $(api_get /v1/apps/hello | head -c 2000)"
                sleep 0.5
        done
}

echo "$bench_prog: deploying examples/apps/hello.yaml, then web=1 worker=0..." >&2
cluster_host_exec 1 tee /root/hello.yaml <"$bench_repo/examples/apps/hello.yaml" >/dev/null
fleetctl_h1 deploy -f /root/hello.yaml --no-wait >>"$bench_log" 2>&1 || bench_die "fleetctl deploy failed (see $bench_log)"
fleetctl_h1 scale --timeout=180s hello web=1 worker=0 >>"$bench_log" 2>&1 || bench_die "fleetctl scale web=1 worker=0 failed (see $bench_log)"
wait_settled
sleep 3

# The journal of host I from second S on: "host<TAB>usec<TAB>comm<TAB>message" for fleetd's and
# systemd's (PID 1) lines.
journal_lines() {
        local i=$1 since=$2
        cluster_host_exec "$i" journalctl -o json --no-pager --since="@$since" _COMM=fleetd + _PID=1 |
                jq -r --arg h "host$i" 'select(.MESSAGE | type == "string") | [$h, .__REALTIME_TIMESTAMP, (if ._PID == "1" then "systemd" else ._COMM end), .MESSAGE] | @tsv'
}
# journal lines -> "event unit host usec"
# shellcheck disable=SC2016 # awk's own $
events_awk='
BEGIN { FS = "\t" }
$3 == "fleetd" && $4 ~ /^Scheduling: / { print "sched", "-", $1, $2 }
$3 == "fleetd" && $4 ~ /^Applying / { print "apply", "-", $1, $2 }
$3 == "fleetd" && $4 ~ /^Host port [0-9]+ assigned to / { u = $4; sub(/^Host port [0-9]+ assigned to /, "", u); sub(/\.$/, "", u); print "port", u, $1, $2 }
$3 == "fleetd" && $4 ~ /^Health check of .*: passing\.$/ { u = $4; sub(/^Health check of /, "", u); sub(/: passing\.$/, "", u); print "passing", u, $1, $2 }
$3 == "systemd" && $4 == "Reloading." { print "reload", "-", $1, $2 }
$3 == "systemd" && $4 ~ /^Starting hello_v/ { split($4, a, " "); print "starting", a[2], $1, $2 }
$3 == "systemd" && $4 ~ /^Started hello_v/ { split($4, a, " "); print "started", a[2], $1, $2 }
'

# One fleetd run: scale hello web=N, wait for N passing, take the evidence, scale back to 1.
# Appends "rep total returned created sched apply first_starting last_started last_passing
# floor" (usec from the scale command; floor = the run's median Started -> passing) to
# $out/fleetd-N, the per-instance intervals to $out/inst-N, the scale-down time to $out/down-N.
run_fleetd() {
        local n=$1 rep=$2 d=$raw/fleetd-n$1-r$2 t0 t1 t2 body c deadline i
        mkdir -p "$d"
        echo "$bench_prog: [rep $rep] fleetd: scale hello web=$n..." >&2
        api_get /v1/apps/hello | jq -r '.instances[].unit' | sort >"$d/before"
        t0=$(now_us)
        fleetctl_h1 scale hello "web=$n" --no-wait >"$d/scale.out" 2>&1 || bench_die "fleetctl scale web=$n failed: $(cat "$d/scale.out")"
        t1=$(now_us)
        deadline=$((SECONDS + timeout_s))
        while :; do
                body=$(api_get /v1/apps/hello 2>/dev/null || true)
                c=$(grep -o '"health":"passing"' <<<"$body" | grep -c . || true)
                [ "$c" -ge "$n" ] && break
                [ $SECONDS -lt $deadline ] || bench_die "web=$n: only $c instances passing after ${timeout_s}s (raw data: $d)"
                sleep 0.1
        done
        t2=$(now_us)
        printf '%s\n' "$body" >"$d/api.json"
        c=$(jq '[.instances[] | select(.process == "web" and .health == "passing")] | length' <"$d/api.json")
        [ "$c" = "$n" ] || bench_die "web=$n: the API lists $c passing web instances, not $n (see $d/api.json)"

        # the evidence: new units and their "created"; the hosts' journals from t0 on
        jq -r '.instances[].unit' <"$d/api.json" | sort | comm -13 "$d/before" - >"$d/new"
        cluster_etcdctl get /fleetd/units/ --prefix --print-value-only |
                jq -r 'select(.app == "hello") | "\(.name) \(.created)"' >"$d/created"
        for ((i = 1; i <= nhosts; i++)); do
                journal_lines "$i" $((t0 / 1000000 - 1))
        done >"$d/journal.tsv"
        awk "$events_awk" "$d/journal.tsv" >"$d/events"

        awk -v t0="$t0" -v t1="$t1" -v t2="$t2" -v rep="$rep" -v inst="$out/inst-$n" -v per="$d/per-instance" '
                function med(arr, k,   i, j, t) {  # nearest-rank median of arr[1..k] (sorts it)
                        for (i = 2; i <= k; i++) {
                                t = arr[i]
                                for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]
                                arr[j + 1] = t
                        }
                        return k > 0 ? arr[int((k + 1) / 2)] : ""
                }
                FILENAME ~ /\/new$/ { isnew[$1] = 1; nn++; next }
                FILENAME ~ /\/created$/ { created[$1] = $2; next }
                $4 < t0 { next }
                $1 == "sched" { ns++; sched[ns] = $4; next }
                $1 == "apply" { na[$3]++; apply[$3, na[$3]] = $4; next }
                $1 == "port" && !($2 in port) { port[$2] = $4; host[$2] = $3; next }
                $1 == "starting" && !($2 in starting) { starting[$2] = $4; next }
                $1 == "started" && !($2 in started) { started[$2] = $4; next }
                $1 == "passing" && !($2 in passing) { passing[$2] = $4; next }
                END {
                        cr = sc = ap = fs = ls = lp = ""
                        k = 0
                        for (u in isnew) {
                                if (created[u] != "" && (cr == "" || created[u] > cr)) cr = created[u]
                                a = ""; s = ""
                                if (u in port) {
                                        for (i = 1; i <= na[host[u]]; i++) if (apply[host[u], i] <= port[u]) a = apply[host[u], i]
                                        for (i = 1; i <= ns; i++) if (sched[i] <= (a != "" ? a : port[u])) s = sched[i]
                                }
                                if (s != "" && (sc == "" || s > sc)) sc = s
                                if (a != "" && (ap == "" || a > ap)) ap = a
                                if ((u in starting) && (fs == "" || starting[u] < fs)) fs = starting[u]
                                if ((u in started) && (ls == "" || started[u] > ls)) ls = started[u]
                                if ((u in passing) && (lp == "" || passing[u] > lp)) lp = passing[u]
                                # per instance: Applying -> Starting, Starting -> Started, Started -> passing
                                q = (a != "" && (u in starting)) ? starting[u] - a : "n/a"
                                p = ((u in starting) && (u in started)) ? started[u] - starting[u] : "n/a"
                                h = ((u in started) && (u in passing)) ? passing[u] - started[u] : "n/a"
                                printf "%s %s %s %s %s %s\n", rep, u, host[u], q, p, h >> inst
                                printf "%s %s created %s sched %s apply %s port %s starting %s started %s passing %s\n", u, host[u],
                                        (u in created) ? created[u] - t0 : "n/a", s != "" ? s - t0 : "n/a", a != "" ? a - t0 : "n/a",
                                        (u in port) ? port[u] - t0 : "n/a", (u in starting) ? starting[u] - t0 : "n/a",
                                        (u in started) ? started[u] - t0 : "n/a", (u in passing) ? passing[u] - t0 : "n/a" > per
                                if (h != "n/a") hs[++k] = h
                        }
                        fl = med(hs, k)
                        printf "%s %d %d %s %s %s %s %s %s %s\n", rep, t2 - t0, t1 - t0,
                                cr != "" ? cr - t0 : "n/a", sc != "" ? sc - t0 : "n/a", ap != "" ? ap - t0 : "n/a",
                                fs != "" ? fs - t0 : "n/a", ls != "" ? ls - t0 : "n/a", lp != "" ? lp - t0 : "n/a", fl != "" ? fl : "n/a"
                }' "$d/new" "$d/created" "$d/events" >>"$out/fleetd-$n"

        echo "$bench_prog: [rep $rep] fleetd: $(secs $((t2 - t0))) s; scaling back to web=1..." >&2
        t0=$(now_us)
        fleetctl_h1 scale hello web=1 --no-wait >>"$d/scale.out" 2>&1 || bench_die "fleetctl scale web=1 failed: $(cat "$d/scale.out")"
        wait_settled
        echo "$rep $(($(now_us) - t0))" >>"$out/down-$n"
        sleep 3
}

# Inside a host: TAG FIRST_PORT COUNT: COUNT transient units at once, ports FIRST_PORT...
# shellcheck disable=SC2016 # expanded inside the host
direct_start='
tag=$1 first=$2 count=$3 pids=() rc=0
for ((k = 0; k < count; k++)); do
        p=$((first + k))
        systemd-run --quiet --unit="$tag-$p" -p KillMode=mixed -p SuccessExitStatus=143 \
                podman run --rm --init --name="$tag-$p" --network=host --pull=never \
                localhost/hello:1.0 /bin/busybox httpd -f -p "$p" -h /www &
        pids+=($!)
done
for pid in "${pids[@]}"; do
        wait "$pid" || { echo "systemd-run (pid $pid) exited with status $?" >&2; rc=1; }
done
exit $rc
'
# shellcheck disable=SC2016
direct_stop='
tag=$1
systemctl stop "$tag-*.service"
systemctl reset-failed "$tag-*.service" 2>/dev/null || true
left=$(podman ps -a --format "{{.Names}}" | grep "^$tag-" || true)
if [ -n "$left" ]; then
        echo "removing containers left behind: $left" >&2
        podman rm -f $left >/dev/null
fi
for ((try = 0; try < 100; try++)); do
        units=$(systemctl list-units --no-legend --plain "$tag-*")
        ctrs=$(podman ps -a --format "{{.Names}} {{.Status}}" | grep "^$tag-" || true)
        [ -z "$units$ctrs" ] && exit 0
        sleep 0.1
done
echo "still there after 10 s: units: ${units:-none}; containers: ${ctrs:-none}" >&2
exit 1
'

# One direct run: N/3 containers per host, until all answer 200; then all stopped.
# Appends "rep total started" (usec) to $out/direct-N.
run_direct() {
        local n=$1 rep=$2 tag="bdirect-n$1-r$2" per=$(($1 / nhosts)) t0 t1 t2 i k deadline pids=() pending=() code url ok
        local -A passed=()
        local d=$raw/direct-n$1-r$2
        mkdir -p "$d"
        echo "$bench_prog: [rep $rep] direct: $n containers..." >&2
        for ((i = 1; i <= nhosts; i++)); do
                for ((k = 0; k < per; k++)); do
                        pending+=("http://$(cluster_host_ip "$i"):$((19001 + k))/")
                done
        done
        t0=$(now_us)
        for ((i = 1; i <= nhosts; i++)); do
                bench_in_host "$i" "$direct_start" "$tag" 19001 "$per" >"$d/start-host$i.out" 2>&1 &
                pids+=($!)
        done
        ok=1
        for k in "${pids[@]}"; do
                wait "$k" || ok=0
        done
        if [ $ok = 0 ]; then
                for ((i = 1; i <= nhosts; i++)); do
                        cluster_host_exec "$i" journalctl --no-pager -o short-precise --since="@$((t0 / 1000000 - 1))" >"$d/journal-host$i.txt" 2>&1 || true
                done
                bench_die "direct start failed in a host: $(head -c 1000 "$d"/start-host*.out) (journals: $d)"
        fi
        t1=$(now_us)
        deadline=$((SECONDS + timeout_s))
        while [ ${#pending[@]} -gt 0 ]; do
                local args=() still=()
                for url in "${pending[@]}"; do
                        args+=(-o /dev/null "$url")
                done
                passed=()
                while read -r code url; do
                        [ "$code" = 200 ] && passed[$url]=1
                done < <(curl -s --connect-timeout 1 -m 2 -w '%{http_code} %{url_effective}\n' "${args[@]}" || true)
                for url in "${pending[@]}"; do
                        [ -n "${passed[$url]:-}" ] || still+=("$url")
                done
                pending=("${still[@]}")
                [ ${#pending[@]} -gt 0 ] || break
                [ $SECONDS -lt $deadline ] || bench_die "direct: ${#pending[@]} of $n not answering after ${timeout_s}s: ${pending[*]}"
                sleep 0.1
        done
        t2=$(now_us)
        echo "$rep $((t2 - t0)) $((t1 - t0))" >>"$out/direct-$n"
        echo "$bench_prog: [rep $rep] direct: $(secs $((t2 - t0))) s; stopping them..." >&2
        for ((i = 1; i <= nhosts; i++)); do
                bench_in_host "$i" "$direct_stop" "$tag" >>"$d/stop.out" 2>&1 ||
                        bench_die "host$i: the direct containers $tag-* are not all gone (see $d/stop.out)"
        done
        sleep 3
}

for ((rep = 1; rep <= reps; rep++)); do
        for n in "${ns[@]}"; do
                if [ $((rep % 2)) = 1 ]; then
                        run_fleetd "$n" "$rep"
                        run_direct "$n" "$rep"
                else
                        run_direct "$n" "$rep"
                        run_fleetd "$n" "$rep"
                fi
        done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the tables ---
col() {      # col FILE K: column K of FILE, one a line, "n/a" dropped
        awk -v k="$2" '$k != "n/a" { print $k }' "$1"
}
stat3() {    # "min / median / max" in seconds of column K of FILE
        local f=$1 k=$2
        printf '%s / %s / %s' "$(secs "$(col "$f" "$k" | sort -n | head -n1)")" "$(secs "$(col "$f" "$k" | median)")" \
                "$(secs "$(col "$f" "$k" | sort -n | tail -n1)")"
}
ratio() {
        awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'
}
health_interval=$(awk '/^ *health:/ { if (match($0, /interval: *[0-9.]+s/)) { s = substr($0, RSTART, RLENGTH); sub(/interval: */, "", s); print s } }' "$bench_repo/examples/apps/hello.yaml" | head -n1)

bench_header "bench/scale.sh"
echo
echo "$nhosts hosts, etcd on this machine; examples/apps/hello.yaml (web: busybox httpd, health ${health_interval:-?} interval)"
echo "at web=1 worker=0, scaled to web=N; $reps repetitions of each N, fleetd and direct alternating which goes first."
echo "Times in seconds from the scale command (fleetd) or from the first systemd-run (direct) until this"
echo "machine saw N web instances \"passing\" in GET /v1/apps/hello (fleetd) or N ports answering 200 (direct);"
echo "100 ms between polls. Raw data: $raw (removed with the build dir only)."
echo
echo "### scale up: fleetd against starting the containers directly"
echo
echo "| N | new instances (fleetd) | fleetd min / median / max s | direct min / median / max s | fleetd / direct (medians) | per repetition | target <= 1.5x |"
echo "|---:|---:|---|---|---:|---|---|"
for n in "${ns[@]}"; do
        fm=$(col "$out/fleetd-$n" 2 | median)
        dm=$(col "$out/direct-$n" 2 | median)
        r=$(ratio "$fm" "$dm")
        per=$(join <(sort -k1,1 "$out/fleetd-$n") <(sort -k1,1 "$out/direct-$n") |
                awk '{ printf "%s%.2f", sep, $2 / $11; sep = ", " }')
        verdict=$(awk -v r="$r" 'BEGIN { print (r != "n/a" && r <= 1.5) ? "met" : "MISSED" }')
        echo "| $n | $((n - 1)) | $(stat3 "$out/fleetd-$n" 2) | $(stat3 "$out/direct-$n" 2) | $r | $per | $verdict |"
done
echo
echo "### where fleetd's time goes (median of the runs; seconds from the scale command, last of the new instances)"
echo
echo "| N | fleetctl returned | units created (controller) | schedule written (engine) | agent Applying | first Starting | last Started (active) | last health passing | seen by the poll |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in "${ns[@]}"; do
        f=$out/fleetd-$n
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$(secs "$(col "$f" 3 | median)")" \
                "$(secs "$(col "$f" 4 | median)")" "$(secs "$(col "$f" 5 | median)")" "$(secs "$(col "$f" 6 | median)")" \
                "$(secs "$(col "$f" 7 | median)")" "$(secs "$(col "$f" 8 | median)")" "$(secs "$(col "$f" 9 | median)")" \
                "$(secs "$(col "$f" 2 | median)")"
done
echo
echo "### per instance (all runs of N together), from the hosts' journals"
echo
echo "| N | instances | Applying -> Starting (daemon-reload, job) median / max | Starting -> Started (podman run until READY) median / max | Started -> health passing min / median / max |"
echo "|---:|---:|---|---|---|"
for n in "${ns[@]}"; do
        f=$out/inst-$n
        printf '| %s | %s | %s / %s | %s / %s | %s / %s / %s |\n' "$n" "$(grep -c . "$f")" \
                "$(secs "$(col "$f" 4 | median)")" "$(secs "$(col "$f" 4 | sort -n | tail -n1)")" \
                "$(secs "$(col "$f" 5 | median)")" "$(secs "$(col "$f" 5 | sort -n | tail -n1)")" \
                "$(secs "$(col "$f" 6 | sort -n | head -n1)")" "$(secs "$(col "$f" 6 | median)")" "$(secs "$(col "$f" 6 | sort -n | tail -n1)")"
done
echo
echo "### the floor of the health check"
echo
echo "A new instance is first checked one health interval (${health_interval:-?}) after systemd reports it active, whatever"
echo "the process does meanwhile. \"fleetd without that wait\" subtracts each run's median Started -> passing."
echo
echo "| N | fleetd median s | wait Started -> passing (median of runs) s | fleetd without that wait, median s | direct median s | ratio without the wait |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in "${ns[@]}"; do
        f=$out/fleetd-$n
        fm=$(col "$f" 2 | median)
        fl=$(col "$f" 10 | median)
        wo=$(awk '$10 != "n/a" { print $2 - $10 }' "$f" | median)
        dm=$(col "$out/direct-$n" 2 | median)
        echo "| $n | $(secs "$fm") | $(secs "$fl") | $(secs "$wo") | $(secs "$dm") | $(ratio "$wo" "$dm") |"
done
echo
echo "### every run"
echo
echo "| N | rep | fleetd s | of it: fleetctl returned | units created | schedule written | Applying | first Starting | last Started | last passing | direct s | of it: systemd-run returned | scale back to 1 settled s |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in "${ns[@]}"; do
        while read -r rep tot ret cr sc ap fs ls lp _; do
                read -r _ dt ds < <(awk -v r="$rep" '$1 == r' "$out/direct-$n")
                dn=$(awk -v r="$rep" '$1 == r { print $2 }' "$out/down-$n")
                echo "| $n | $rep | $(secs "$tot") | $(secs "$ret") | $(secs "$cr") | $(secs "$sc") | $(secs "$ap") | $(secs "$fs") | $(secs "$ls") | $(secs "$lp") | $(secs "$dt") | $(secs "$ds") | $(secs "$dn") |"
        done <"$out/fleetd-$n"
done
echo
echo "Load average at the end: $load_end."
