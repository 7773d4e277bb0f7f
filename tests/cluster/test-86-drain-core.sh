# shellcheck shell=bash
# Draining a host through drain/<id> (what the API writes): its plain unit moves (stop there,
# start elsewhere), its global unit stays, the app's instance there is replaced health-gated
# (routed instances never fewer than scale - max_unavailable = 3 while it happens), a unit
# with MachineID= that host stays, stuck, with a placement/ record saying why, and is stopped
# when the drain is forced; uncordon + rebalance/<id> bring it back and spread the app one per
# host again, and rebalance/<id> goes when nothing is left to rebalance. Then an app instance
# whose replacement cannot be placed stays, stuck, until the drain is forced.
. "$(dirname "${BASH_SOURCE[0]}")/apps.sh"
. "$(dirname "${BASH_SOURCE[0]}")/units.sh"

app_images 1.0
# shellcheck disable=SC2016 # ${PORT} is fleetd's to expand
put_file host1 /root/drn.yaml 'app: drn
image: localhost/hello:1.0
runtime: podman
processes:
  web:
    command: [/bin/busybox, httpd, -f, -v, -p, "${PORT}", -h, /www]
    port: 8080
    scale: 3
    health: {http: /, interval: 1s, timeout: 1s}'
assert_exit 0 "deploy drn" cl_fleetctl host1 deploy -f /root/drn.yaml
wait_until 60 rollout_done drn || fail "drn did not settle"

unit_file host1 moving.service "$(sleeper)"
unit_file host1 everywhere.service "$(sleeper Global=true)"
assert_exit 0 "start moving, everywhere" cl_fleetctl host1 start /root/units/moving.service \
        /root/units/everywhere.service
wait_until 30 unit_host moving.service || fail "moving.service is not running on one host"
host=$(unit_host moving.service)
id=$(cl_machine_id "$host")
log "draining $host ($id)"
unit_file host1 pinned.service "$(sleeper "MachineID=$id")"
assert_exit 0 "start pinned" cl_fleetctl host1 start /root/units/pinned.service
all3() { [ "$(active_count everywhere.service)" = 3 ] && [ "$(unit_host pinned.service)" = "$host" ]; }
wait_until 30 all3 ||
        fail "everywhere/pinned not running: $(active_hosts everywhere.service) / $(active_hosts pinned.service)"

# The app's routed instances: "unit machine" lines.
routes() {
        cl_etcdctl get --prefix --print-value-only "${CL_PREFIX}routes/drn/" | jq -r '"\(.unit) \(.machine)"'
}
route_count() {
        routes | grep -c . || true
}
wait_until 30 test "$(route_count)" = 3 || fail "drn has not 3 routes: $(routes)"
assert_eq 3 "$(routes | awk '{print $2}' | sort -u | wc -l)" "machines of drn's 3 routes (one per host)"

# Samples the routed instances until stop-drain-sampling appears: they must never be fewer than 3.
samples=$CLUSTER_DIR/drain-samples.txt
: >"$samples"
rm -f "$CLUSTER_DIR/stop-drain-sampling"
(
        # ($$ is the test's shell: the sampler ends with it, should the test fail)
        while [ ! -f "$CLUSTER_DIR/stop-drain-sampling" ] && kill -0 $$ 2>/dev/null; do
                route_count >>"$samples"
                sleep 0.2
        done
) &
sampler=$!

# drain ID FORCE: what the API writes for `fleetctl machine drain`
drain() {
        local rec
        rec=$(jq -cn --arg m "$1" --argjson since "$(date +%s%6N)" --argjson force "$2" \
                '{machine: $m, since: $since, by: "test-86", force: $force, source: "fleetctl"}')
        cl_etcdctl put "${CL_PREFIX}drain/$1" "$rec" >/dev/null
}
placement() {
        cl_etcdctl get --print-value-only "${CL_PREFIX}placement/$1"
}
on_host() {
        cl_etcdctl get --prefix --keys-only "${CL_PREFIX}schedule/$id/" |
                sed -n "s|^${CL_PREFIX}schedule/$id/||p" | sort | tr '\n' ' '
}

drain "$id" false
moved() { h=$(unit_host moving.service) && [ "$h" != "$host" ]; }
wait_until 30 moved || fail "moving.service did not move off $host: $(active_hosts moving.service)"
web_gone() { [ "$(route_count)" = 3 ] && ! routes | grep -q " $id\$"; }
wait_until 90 web_gone || fail "drn's instance on $host was not replaced: $(routes)"
only_left() { [ "$(on_host)" = "everywhere.service pinned.service " ]; }
wait_until 30 only_left || fail "left on $host: $(on_host)"
assert_eq 3 "$(active_count everywhere.service)" "hosts running the global unit during the drain"
assert_eq "$host" "$(unit_host pinned.service)" "host of the pinned unit (it cannot move)"
stuck() { [ "$(placement pinned.service | jq -r .state)" = stuck ]; }
wait_until 20 stuck || fail "placement/pinned.service: $(placement pinned.service)"
p=$(placement pinned.service)
assert_eq "$id" "$(jq -r .machine <<<"$p")" "placement/pinned.service machine"
assert_contains "$(jq -r .reason <<<"$p")" "cannot move off draining machine" "placement/pinned.service reason"
assert_contains "$(jq -r .reason <<<"$p")" "MachineID=" "placement/pinned.service reason"

# forced: what cannot move is stopped
drain "$id" true
stopped() {
        [ -z "$(active_hosts pinned.service)" ] && [ "$(placement pinned.service | jq -r .state)" = unschedulable ]
}
wait_until 30 stopped ||
        fail "forced drain: pinned.service on '$(active_hosts pinned.service)', $(placement pinned.service)"
assert_contains "$(placement pinned.service | jq -r .reason)" "the drain is forced" "reason after a forced drain"
assert_eq 3 "$(active_count everywhere.service)" "hosts running the global unit during a forced drain"

# uncordon and rebalance
cl_etcdctl del "${CL_PREFIX}drain/$id" >/dev/null
cl_etcdctl put "${CL_PREFIX}rebalance/$id" \
        "$(jq -cn --arg m "$id" --argjson since "$(date +%s%6N)" '{machine: $m, since: $since, by: "test-86"}')" >/dev/null
back() { [ "$(unit_host pinned.service)" = "$host" ] && [ -z "$(placement pinned.service)" ]; }
wait_until 30 back ||
        fail "pinned.service is not back on $host: $(active_hosts pinned.service), $(placement pinned.service)"
spread() { [ "$(route_count)" = 3 ] && [ "$(routes | awk '{print $2}' | sort -u | wc -l)" = 3 ]; }
wait_until 90 spread || fail "drn is not one per host after the rebalance: $(routes)"
rebalanced() { [ -z "$(cl_etcdctl get --prefix --keys-only "${CL_PREFIX}rebalance/")" ]; }
wait_until 30 rebalanced || fail "rebalance/ left: $(cl_etcdctl get --prefix "${CL_PREFIX}rebalance/")"

touch "$CLUSTER_DIR/stop-drain-sampling"
wait $sampler || true
rm -f "$CLUSTER_DIR/stop-drain-sampling"
n=$(wc -l <"$samples")
min=$(sort -n "$samples" | head -1)
log "samples: $n, fewest routed drn instances: $min"
[ "$n" -ge 10 ] || fail "too few samples ($n)"
[ "$min" -ge 3 ] || fail "at some moment only $min drn instance(s) were routed (scale 3, max_unavailable 0)"
assert_eq 3 "$(routes | wc -l)" "routes after the rebalance"

assert_exit 0 "destroy drn" cl_fleetctl host1 apps destroy drn
wait_until 60 no_app_left drn || fail "something of drn is left: $(no_app_left drn)"
assert_exit 0 "destroy the units" cl_fleetctl host1 destroy moving.service everywhere.service pinned.service
wait_until 30 no_unit_anywhere || fail "units left after the drain"

# An app instance that cannot move: edg runs only where role=edge, on host3. Draining host3,
# its replacement cannot be placed: the old one keeps serving, stuck, saying why; a forced
# drain stops it; uncordon places the replacement on host3 again.
put_file host1 /root/edg.yaml "$(sed -e 's/^app: drn/app: edg/' -e 's/scale: 3/scale: 1/' \
        -e 's/^\(    health: .*\)$/\1\n    constraints: {metadata: {role: edge}}/' <<<"$(cl_exec host1 cat /root/drn.yaml)")"
assert_exit 0 "deploy edg" cl_fleetctl host1 deploy -f /root/edg.yaml
id3=$(cl_machine_id host3)
edg_routes() {
        cl_etcdctl get --prefix --print-value-only "${CL_PREFIX}routes/edg/" | jq -r '"\(.unit) \(.machine)"'
}
assert_eq "$id3" "$(edg_routes | awk '{print $2}')" "machine of edg's instance"
old=$(edg_routes | awk '{print $1}')
drain "$id3" false
blocked() { [ "$(placement "$old" | jq -r .state)" = stuck ]; }
wait_until 30 blocked || fail "placement/$old: $(placement "$old")"
assert_contains "$(placement "$old" | jq -r .reason)" "cannot move off draining machine" "why $old stays"
assert_contains "$(placement "$old" | jq -r .reason)" "cannot be placed: every machine with metadata role=edge is draining" \
        "why $old stays"
assert_eq "$old $id3" "$(edg_routes)" "edg's routes while its replacement cannot be placed"
assert_eq "done" "$(app_state edg)" "edg's rollout state (nothing rolls back)"
drain "$id3" true
unrouted() { [ -z "$(edg_routes)" ] && [ -z "$(placement "$old")" ]; }
wait_until 30 unrouted || fail "forced drain: edg routes '$(edg_routes)', placement/$old: $(placement "$old")"
cl_etcdctl del "${CL_PREFIX}drain/$id3" >/dev/null
served() { [ "$(edg_routes | awk '{print $2}')" = "$id3" ]; }
wait_until 60 served || fail "edg is not served on host3 again: $(edg_routes)"
assert_exit 0 "destroy edg" cl_fleetctl host1 apps destroy edg
wait_until 60 no_app_left edg || fail "something of edg is left: $(no_app_left edg)"

# clean up: nothing of this test stays for the others
cl_etcdctl del --prefix "${CL_PREFIX}drain/" >/dev/null
cl_etcdctl del --prefix "${CL_PREFIX}rebalance/" >/dev/null
gone() { [ -z "$(cl_etcdctl get --prefix --keys-only "${CL_PREFIX}placement/")" ]; }
wait_until 20 gone || fail "placement/ left: $(cl_etcdctl get --prefix --keys-only "${CL_PREFIX}placement/")"
