# shellcheck shell=bash
# fleet-router and a real nginx on the edge host (host3, role=edge), started as global fleet
# units: http://hello.<domain>/ through the router reaches every healthy web instance; under
# continuous requests through the router, a scale-down, a rolling deploy and an instance
# turning unhealthy fail no request; a power cut of an instance's host fails requests at most
# within agent_ttl + 5 s of the cut (nginx skips the dead address after its 1 s connect timeout).
. "$(dirname "${BASH_SOURCE[0]}")/apps.sh"

ttl=$(cl_ttl)
edge_ip=$(cl_ip host3)
name="hello.$CLUSTER_DOMAIN"
via() { curl -s -m "${2:-3}" -H "Host: $1" "http://$edge_ip/"; }
code() { curl -s -o /dev/null -w '%{http_code}' -m 3 -H "Host: $1" "http://$edge_ip/"; }

[ "$(app_state hello)" = done ] || fail "no settled hello app (test-92/94 deploy it)"
app_images 1.0 2.0
cl_fleetctl host1 scale hello web=3 worker=0 >/dev/null
cluster_start_router 1 || fail "fleet-router and nginx did not start on the edge host"
routed() { [ "$(via "$name")" = "hello 1.0" ]; }
wait_until 30 routed || fail "http://$name/ through $edge_ip does not answer 'hello 1.0': $(via "$name")"
assert_eq 404 "$(code nosuch.$CLUSTER_DOMAIN)" "an unknown app through the router"
routes=$(cl_fleetctl host1 routes hello --no-legend 2>/dev/null || cl_fleetctl host1 routes hello)
assert_eq 3 "$(grep -c 'hello_v' <<<"$routes")" "fleetctl routes hello lists the 3 web instances"

# every instance gets requests through the router (busybox httpd -v logs each with the client)
for _ in $(seq 1 30); do via "$name" >/dev/null; done
while read -r unit ip port health release; do
        host=""
        for i in 1 2 3; do [ "$(cl_ip "host$i")" = "$ip" ] && host=host$i; done
        j=$(cl_exec "$host" journalctl -u "$unit" -o cat --no-pager)
        grep -q "$edge_ip\]:[0-9]*: response:200" <<<"$j" || fail "$unit on $host got no request from the router"
done < <(app_instances hello web)

# continuous requests through the router while CMD runs, one line "time code" each in $LOAD
LOAD=$CLUSTER_DIR/load.txt
under_load() {
        local out=$LOAD stop=$CLUSTER_DIR/load.stop
        rm -f "$stop"
        : >"$out"
        (while [ ! -f "$stop" ]; do
                echo "$(date +%s%N) $(code "$name")" >>"$out"
                sleep 0.05
        done) &
        local pid=$!
        "$@" >/dev/null 2>&1
        local rc=$?
        # instances stop after their routes went and route_drain_delay (2 s) passed: keep going
        sleep 5
        touch "$stop"
        wait "$pid"
        return $rc
}
failures() { awk '$2 != 200' "$LOAD" | wc -l; }

under_load cl_fleetctl host1 scale hello web=1 || fail "scale down failed"
log "scale down: $(wc -l <"$LOAD") requests, $(failures) failed"
assert_eq 0 "$(failures)" "requests failed through the router during the scale down"
under_load cl_fleetctl host1 scale hello web=3 || fail "scale up failed"
assert_eq 0 "$(failures)" "requests failed through the router during the scale up"

sed 's|localhost/hello:1.0|localhost/hello:2.0|' "$CLUSTER_REPO/examples/apps/hello.yaml" >"$CLUSTER_DIR/hello2.yaml"
put_file host1 /root/hello2r.yaml "$(cat "$CLUSTER_DIR/hello2.yaml")"
under_load cl_fleetctl host1 deploy -f /root/hello2r.yaml || fail "rolling deploy failed"
log "rolling deploy: $(wc -l <"$LOAD") requests, $(failures) failed"
assert_eq 0 "$(failures)" "requests failed through the router during the rolling deploy"
v2() { [ "$(via "$name")" = "hello 2.0" ]; }
wait_until 10 v2 || fail "the router does not serve 2.0 after the deploy"

# an instance whose health check fails leaves the rotation, and comes back
read -r sick ip _ <<<"$(app_instances hello web | head -1)"
shost=""
for i in 1 2 3; do [ "$(cl_ip "host$i")" = "$ip" ] && shost=host$i; done
cname=$(sed 's/@/-/; s/\.service$//' <<<"$sick")     # unit-gen's container name
cl_exec "$shost" podman exec "$cname" mv /www/index.html /www/away.html
unrouted() { ! cl_fleetctl host1 routes hello 2>/dev/null | grep -q "$sick"; }
wait_until $((20 + 3 * 2)) unrouted || fail "$sick is still routed after its health check began to fail"
# the router reloads nginx within its batch delay and a reload: then no request reaches it
ten_ok() {
        local k
        for k in $(seq 1 10); do [ "$(code "$name")" = 200 ] || return 1; done
}
wait_until 10 ten_ok || fail "requests through the router still fail 10 s after $sick left the routes"
for _ in $(seq 1 20); do assert_eq 200 "$(code "$name")" "requests with $sick out of rotation"; done
cl_exec "$shost" podman exec "$cname" mv /www/away.html /www/index.html
rerouted() { cl_fleetctl host1 routes hello 2>/dev/null | grep -q "$sick"; }
wait_until 20 rerouted || fail "$sick did not come back into rotation after it was healthy again"

# a power cut of a host with an instance (not the edge host)
victim=""
while read -r unit ip _; do
        for i in 1 2; do [ "$(cl_ip "host$i")" = "$ip" ] && victim=host$i; done
done < <(app_instances hello web)
[ -n "$victim" ] || fail "no web instance outside the edge host"
under_load sh -c "sleep 2; touch $CLUSTER_DIR/cut; sleep $((ttl + 12))" &
loader=$!
while [ ! -f "$CLUSTER_DIR/cut" ]; do sleep 0.1; done
cut=$(date +%s%N)
cl_host_poweroff "$victim"
wait "$loader" || true
rm -f "$CLUSTER_DIR/cut"
late=$(awk -v c="$cut" -v w=$(((ttl + 5) * 1000000000)) '$2 != 200 && ($1 < c || $1 > c + w)' "$LOAD" | wc -l)
log "power cut of $victim: $(wc -l <"$LOAD") requests, $(failures) failed, $late outside the window"
assert_eq 0 "$late" "requests failed through the router outside agent_ttl + 5 s of the power cut"
cl_host_boot "$victim"
back() { cl_listed host1 "$(cl_machine_id "$victim")"; }
wait_until 30 back || fail "$victim not listed again after boot"
settled() { [ "$(app_instances hello web | awk '$4 == "passing"' | wc -l)" = 3 ]; }
wait_until 60 settled || fail "hello did not get back to 3 healthy web instances"
