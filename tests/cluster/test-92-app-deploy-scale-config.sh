# shellcheck shell=bash
# An app from examples/apps/hello.yaml on 3 real hosts with real podman containers: deploy,
# every instance answers, spread over the hosts, scale up and down, config set (a new release
# whose environment the app sees, hostile characters included, byte for byte).
. "$(dirname "${BASH_SOURCE[0]}")/apps.sh"

app_images 1.0
put_file host1 /root/hello.yaml "$(cat "$CLUSTER_REPO/examples/apps/hello.yaml")"
assert_exit 0 "fleetctl deploy" cl_fleetctl host1 deploy -f /root/hello.yaml
assert_contains "$CL_OUT" "hello v1 is running" "deploy output"
assert_eq done "$(app_state hello)" "rollout state after deploy"

web=$(app_instances hello web)
assert_eq 3 "$(wc -l <<<"$web")" "web instances"
hosts=$(awk '{print $2}' <<<"$web" | sort -u | wc -l)
assert_eq 3 "$hosts" "distinct hosts of the 3 web instances (spread)"
while read -r unit ip port health release; do
        assert_eq passing "$health" "health of $unit"
        body=$(curl -sf -m 3 "http://$ip:$port/") || fail "$unit at $ip:$port does not answer"
        assert_eq "hello 1.0" "$body" "answer of $unit at $ip:$port"
done <<<"$web"
assert_eq 1 "$(app_instances hello worker | wc -l)" "worker instances"

# scale up, then down: the counts follow and the survivors keep serving
assert_exit 0 "scale web=5" cl_fleetctl host1 scale hello web=5
five() { [ "$(app_instances hello web | awk '$4 == "passing"' | wc -l)" = 5 ]; }
wait_until 60 five || fail "scale to 5 did not reach 5 healthy web instances: $(app_instances hello web)"
assert_exit 0 "scale web=2 worker=0" cl_fleetctl host1 scale hello web=2 worker=0
two() { [ "$(app_instances hello web | wc -l)" = 2 ] && [ -z "$(app_instances hello worker)" ]; }
wait_until 60 two || fail "scale down did not reach web=2 worker=0: $(app_instances hello)"
# the containers stop after their routes are gone and route_drain_delay has passed
web_containers() {
        local i n=0 names
        for i in 1 2 3; do
                names=$(cl_exec "host$i" podman ps --format '{{.Names}}')
                n=$((n + $(grep -c '^hello_v1.web-' <<<"$names" || true)))
        done
        echo "$n"
}
two_running() { [ "$(web_containers)" = 2 ]; }
wait_until 20 two_running || fail "web containers running in the hosts after scale down: $(web_containers), expected 2"

# config: a new release; the app sees the value exactly, however hostile
value='hi $(id) `id` %n ${PORT} "q" '"'s'"' \ ; done'
assert_exit 0 "scale worker=1" cl_fleetctl host1 scale hello worker=1
assert_exit 0 "config set" cl_fleetctl host1 config set hello "GREETING=$value"
wait_until 60 rollout_done hello || fail "config rollout did not finish"
rel=$(app_json host1 hello | jq -r .release)
assert_eq 2 "$rel" "release after config set"
assert_eq "GREETING=$value" "$(cl_fleetctl host1 config show hello | grep '^GREETING=')" "config show"
worker=$(app_instances hello worker)
[ -n "$worker" ] || fail "no worker instance after config set"
read -r wunit wip _ <<<"$worker"
whost=""
for i in 1 2 3; do
        if [ "$(cluster_host_ip "$i")" = "$wip" ]; then whost=host$i; fi
done
[ -n "$whost" ] || fail "no host has the worker's address $wip"
seen() {
        local j
        j=$(cl_exec "$whost" journalctl -u "$wunit" -o cat --no-pager)
        grep -qF "tick: $value" <<<"$j"
}
wait_until 20 seen || fail "the worker's journal does not show the exact GREETING: $(cl_exec "$whost" journalctl -u "$wunit" -o cat --no-pager | tail -3)"
