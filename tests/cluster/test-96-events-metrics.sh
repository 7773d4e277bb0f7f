# shellcheck shell=bash
# The timeline and the metrics on real hosts. Each action on an app of its own (deploy, scale,
# config set, rollback, restart, destroy) and on a plain unit (submit, start, stop, destroy)
# makes exactly one event of its kind, with who: root on the unix socket, a user of group
# fleetd made inside a host under their own name and uid (SO_PEERCRED), the client
# certificate's subject on TLS, engine@/agent@ for what fleetd does itself; a config value is
# never in an event; the journal of the fleetd that served the call has it with EVENT_KIND=
# and USER=. A follow (newline-delimited JSON, and text/event-stream) delivers a new event
# within 1 s. Bad queries are 400 with the reason. 2,000 events later the history is bounded
# (the leader runs with a small events_keep for that part). promtool accepts every host's
# /metrics, and a real Prometheus scraping every host over TLS reports the app's healthy
# instances after a scale change.
. "$(dirname "${BASH_SOURCE[0]}")/apps.sh"

APP=timeline
SOCK=/run/fleetd/fleetd.sock
CA=$CLUSTER_DIR/ca
TMPD=$(mktemp -d)
PROM_PID=""
LEADER_HOST=""
cleanup() {
        [ -z "$PROM_PID" ] || { kill "$PROM_PID" 2>/dev/null || true; wait "$PROM_PID" 2>/dev/null || true; }
        if [ -n "$LEADER_HOST" ]; then
                cl_exec "$LEADER_HOST" sed -i '/^events_keep/d' /etc/fleetd/fleetd.conf || true
                cl_exec "$LEADER_HOST" systemctl restart fleetd.service || true
        fi
        cl_exec host1 userdel alice >/dev/null 2>&1 || true
        rm -rf "$TMPD"
}
trap 'cleanup; cl__on_exit' EXIT

api() {   # api HOST PATH-AND-QUERY [curl args...]
        local h=$1 p=$2
        shift 2
        cl_exec "$h" curl -sS --unix-socket "$SOCK" "$@" "http://localhost$p"
}

SINCE=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
# events since the start of this test that match a jq filter, as a JSON array
events() {
        api host1 "/v1/events?limit=10000&since=$SINCE" -f | jq -c "[.events[] | select($1)]"
}
count() {
        events "$1" | jq length
}
# is CMD's output WANT / at least WANT (for wait_until, which runs CMD again each time)
out_eq() {
        local want=$1
        shift
        [ "$("$@")" = "$want" ]
}
out_ge() {
        local want=$1 got
        shift
        got=$("$@")
        [ -n "$got" ] && [ "$got" -ge "$want" ]
}
# exactly one event matches: waits for it, then a second more for a duplicate
one_event() {
        local filter=$1 what=$2
        wait_until 10 out_ge 1 count "$filter" || fail "$what: no event ($filter); events: $(events true | head -c 1500)"
        sleep 1
        assert_eq 1 "$(count "$filter")" "$what: events ($filter)"
        events "$filter" | jq -c '.[0]'
}

# --- an app: deploy, scale, config set, rollback, restart (each waits until it runs) ---
app_images 1.0
sed -e "s/^app: hello/app: $APP/" -e 's/    scale: 3/    scale: 1/' \
        -e '/^  worker:/,$d' "$CLUSTER_REPO/examples/apps/hello.yaml" >"$TMPD/app.yaml"
put_file host1 /root/timeline.yaml "$(cat "$TMPD/app.yaml")"

assert_exit 0 "deploy" cl_fleetctl host1 deploy -f /root/timeline.yaml
e=$(one_event ".kind == \"app.deploy\" and .app == \"$APP\"" deploy)
assert_eq root "$(jq -r .who <<<"$e")" "who of the deploy"
assert_eq 0 "$(jq -r .uid <<<"$e")" "uid of the deploy"
assert_eq 1 "$(jq -r .release <<<"$e")" "release of the deploy"
assert_eq "release v1 created (deploy)" "$(jq -r .message <<<"$e")" "message of the deploy"
wait_until 20 out_ge 1 count ".kind == \"rollout.finished\" and .app == \"$APP\"" ||
        fail "no rollout.finished for the deploy"
e=$(events ".kind == \"rollout.finished\" and .app == \"$APP\"" | jq -c '.[0]')
assert_contains "$(jq -r .who <<<"$e")" "engine@" "who of rollout.finished"
[ "$(count ".kind == \"unit.placed\" and .app == null and (.unit | startswith(\"${APP}_v1.web@\"))")" -ge 1 ] ||
        fail "no unit.placed of the instance: $(events '.kind == "unit.placed"')"

# Prometheus on this machine scrapes every host's TLS API with the operator's certificate
{
        echo "global: {scrape_interval: 1s, scrape_timeout: 900ms}"
        echo "scrape_configs:"
        echo "  - job_name: fleetd"
        echo "    scheme: https"
        echo "    tls_config: {ca_file: $CA/ca.pem, cert_file: $CA/operator.pem, key_file: $CA/operator.key}"
        echo "    static_configs:"
        echo "      - targets:"
        for i in $(seq 1 "$(cl_nhosts)"); do
                echo "          - $(cl_ip "host$i"):$CLUSTER_API_PORT"
        done
} >"$TMPD/prometheus.yml"
PROM=""
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
        promtool check config "$TMPD/prometheus.yml" >/dev/null || fail "promtool refuses the Prometheus config"
        port=$(cluster__pick_port)
        prometheus --config.file="$TMPD/prometheus.yml" --storage.tsdb.path="$TMPD/tsdb" \
                --web.listen-address="127.0.0.1:$port" >"$TMPD/prometheus.log" 2>&1 &
        PROM_PID=$!
        PROM=http://127.0.0.1:$port
        query() {   # the value of an instant query's first sample
                curl -sf -m 3 --get "$PROM/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'
        }
        wait_until 30 out_eq "$(cl_nhosts)" query 'count(up == 1)' ||
                fail "Prometheus does not scrape every host: $(curl -s "$PROM/api/v1/targets" | head -c 1500)"
else
        log "no prometheus/promtool (Debian package prometheus): the Prometheus part is left out"
fi

assert_exit 0 "scale web=2" cl_fleetctl host1 scale "$APP" web=2
e=$(one_event ".kind == \"app.scale\" and .app == \"$APP\"" scale)
assert_eq "scale web 1 -> 2" "$(jq -r .message <<<"$e")" "message of the scale"
assert_eq '{"web":{"from":1,"to":2}}' "$(jq -c .details <<<"$e")" "details of the scale"
if [ -n "$PROM" ]; then
        q="sum(fleetd_app_instances_healthy{app=\"$APP\",process=\"web\"})"
        wait_until 30 out_eq 2 query "$q" || fail "Prometheus: $q is '$(query "$q")', expected 2"
        assert_eq 2 "$(query "sum(fleetd_app_instances_desired{app=\"$APP\",process=\"web\"})")" "desired in Prometheus"
fi

secret='s3cr3t-value-that-must-not-leak'
assert_exit 0 "config set" cl_fleetctl host1 config set "$APP" "GREETING=$secret"
e=$(one_event ".kind == \"app.config\" and .app == \"$APP\"" "config set")
assert_eq "release v2 created (config set GREETING)" "$(jq -r .message <<<"$e")" "message of config set"
assert_eq '["GREETING"]' "$(jq -c .details.set <<<"$e")" "keys of config set"
assert_not_contains "$(api host1 "/v1/events?limit=10000")" "$secret" "the events"

assert_exit 0 "rollback" cl_fleetctl host1 rollback "$APP"
e=$(one_event ".kind == \"app.rollback\" and .app == \"$APP\"" rollback)
assert_eq "release v3 created (rollback to v1)" "$(jq -r .message <<<"$e")" "message of rollback"
assert_eq false "$(jq -r .details.automatic <<<"$e")" "a manual rollback"

assert_exit 0 "restart" cl_fleetctl host1 restart "$APP"
one_event ".kind == \"app.restart\" and .app == \"$APP\"" restart >/dev/null

# the audit log: the journal of the fleetd that served the call
j=$(cl_exec host1 journalctl -u fleetd.service -o cat --no-pager EVENT_KIND=app.scale USER=root "APP=$APP")
assert_contains "$j" "Event app.scale: scale web 1 -> 2 (by root)." "host1's journal"

# --- follow: a new event within 1 s, as NDJSON and as an event stream ---
cl_exec host2 sh -c "curl -sN --unix-socket $SOCK 'http://localhost/v1/events?follow=1&unit=tl.service' >/tmp/follow.ndjson 2>/dev/null & echo \$! >/tmp/follow.pid"
cl_exec host3 sh -c "curl -sN -H 'Accept: text/event-stream' --unix-socket $SOCK 'http://localhost/v1/events?follow=1&unit=tl.service' >/tmp/follow.sse 2>/dev/null & echo \$! >/tmp/follow.pid"
sleep 1
put_file host1 /root/tl.service "$(printf '[Service]\nExecStart=/bin/sleep 100000\n')"
assert_exit 0 "submit" cl_fleetctl host1 submit /root/tl.service
t0=$(date +%s%N)
seen() { cl_exec host2 grep -q '"kind":"unit.submit"' /tmp/follow.ndjson; }
wait_until 3 seen || fail "the follow did not deliver unit.submit"
ms=$((($(date +%s%N) - t0) / 1000000))
log "follow delivered the event ${ms} ms after the API answered"
[ "$ms" -le 1000 ] || fail "the follow took ${ms} ms, more than 1 s"
cl_exec host3 grep -q '^data: {.*"kind":"unit.submit"' /tmp/follow.sse || fail "no event in the event stream: $(cl_exec host3 cat /tmp/follow.sse)"
cl_exec host3 grep -q '^id: ' /tmp/follow.sse || fail "no id: line in the event stream"
e=$(one_event '.kind == "unit.submit" and .unit == "tl.service"' submit)
assert_eq root "$(jq -r .who <<<"$e")" "who of submit"

assert_exit 0 "start" cl_fleetctl host1 start tl.service
one_event '.kind == "unit.start" and .unit == "tl.service"' start >/dev/null
e=$(one_event '.kind == "unit.placed" and .unit == "tl.service"' placement)
assert_contains "$(jq -r .who <<<"$e")" "engine@" "who placed it"
assert_exit 0 "stop" cl_fleetctl host1 stop tl.service
one_event '.kind == "unit.stop" and .unit == "tl.service"' stop >/dev/null
assert_exit 0 "destroy" cl_fleetctl host1 destroy tl.service
one_event '.kind == "unit.destroy" and .unit == "tl.service"' destroy >/dev/null
# shellcheck disable=SC2016 # expanded in the host
cl_exec host2 sh -c 'kill $(cat /tmp/follow.pid)' || true
# shellcheck disable=SC2016
cl_exec host3 sh -c 'kill $(cat /tmp/follow.pid)' || true
n=$(cl_exec host2 grep -c . /tmp/follow.ndjson || true)
assert_eq 5 "$n" "events the follow of tl.service delivered (submit, start, placed, stop, destroy)"

# a unit that fails: its agent says how
put_file host1 /root/tl-fail.service "$(printf '[Service]\nExecStart=/bin/sh -c "exit 3"\n')"
cl_run cl_fleetctl host1 start /root/tl-fail.service
e=$(one_event '.kind == "unit.failed" and .unit == "tl-fail.service"' "unit failed")
assert_contains "$(jq -r .message <<<"$e")" "exit status 3" "message of unit.failed"
assert_contains "$(jq -r .who <<<"$e")" "agent@" "who saw it fail"
assert_exit 0 "destroy the failed unit" cl_fleetctl host1 destroy tl-fail.service

# a user of group fleetd, made inside host1: their own name and uid (SO_PEERCRED)
cl_exec host1 useradd -M -N -G fleetd alice
uid=$(cl_exec host1 id -u alice)
put_file host1 /tmp/alice.service "$(printf '[Service]\nExecStart=/bin/sleep 100000\n')"
cl_exec host1 chmod 644 /tmp/alice.service
assert_exit 0 "submit as alice" cl_exec host1 runuser -u alice -- /usr/local/bin/fleetctl submit /tmp/alice.service
e=$(one_event '.kind == "unit.submit" and .unit == "alice.service"' "alice's submit")
assert_eq alice "$(jq -r .who <<<"$e")" "who of alice's submit"
assert_eq "$uid" "$(jq -r .uid <<<"$e")" "uid of alice's submit"
j=$(cl_exec host1 journalctl -u fleetd.service -o cat --no-pager EVENT_KIND=unit.submit USER=alice)
assert_contains "$j" "Event unit.submit: submitted (desired state inactive) (by alice)." "the journal with USER=alice"
out=$(cl_exec host1 runuser -u alice -- /usr/local/bin/fleetctl events --since 1m)
assert_contains "$out" "alice.service  submitted (desired state inactive) by alice" "fleetctl events as alice"

# TLS: the client certificate's subject
curl -sf --cacert "$CA/ca.pem" --cert "$CA/operator.pem" --key "$CA/operator.key" -X DELETE \
        "https://$(cl_ip host2):$CLUSTER_API_PORT/v1/units/alice.service" >/dev/null || fail "DELETE over TLS"
e=$(one_event '.kind == "unit.destroy" and .unit == "alice.service"' "destroy over TLS")
assert_eq "CN=operator" "$(jq -r .who <<<"$e")" "who over TLS"

assert_exit 0 "apps destroy" cl_fleetctl host1 apps destroy "$APP"
e=$(one_event ".kind == \"app.destroy\" and .app == \"$APP\"" "app destroy")
assert_contains "$(jq -r .message <<<"$e")" "3 release(s)" "message of app destroy"

# --- bad queries ---
for q in "since=soon" "since=-1h" "limit=-1" "limit=0" "limit=x" "bogus=1" "follow=maybe"; do
        out=$(api host1 "/v1/events?$q" -w '\n%{http_code}')
        assert_eq 400 "$(tail -n 1 <<<"$out")" "status of /v1/events?$q"
        assert_contains "$(head -n 1 <<<"$out" | jq -r .error.message)" "${q%%=*}" "reason for /v1/events?$q"
done

# --- promtool on every host's /metrics ---
if command -v promtool >/dev/null; then
        for i in $(seq 1 "$(cl_nhosts)"); do
                api "host$i" /metrics -f >"$TMPD/metrics.txt"
                promtool check metrics <"$TMPD/metrics.txt" || fail "promtool refuses host$i's /metrics"
                grep -q '^fleetd_build_info{version=' "$TMPD/metrics.txt" || fail "host$i: no fleetd_build_info"
                grep -q '^fleetd_api_requests_total{route="/v1/events",method="GET",code="400"} ' "$TMPD/metrics.txt" ||
                        [ "$i" != 1 ] || fail "host1 did not count the 400s of /v1/events"
        done
fi

# --- 2,000 events: the history stays bounded (the leader with events_keep=300, 100 per app) ---
leader=$(cl_etcdctl get --print-value-only "${CL_PREFIX}engine/leader")
for i in $(seq 1 "$(cl_nhosts)"); do
        [ "$(cl_machine_id "host$i")" = "$leader" ] && LEADER_HOST=host$i
done
[ -n "$LEADER_HOST" ] || fail "no host leads the engine ($leader)"
cl_exec "$LEADER_HOST" sh -c 'printf "events_keep=300\nevents_keep_app=100\n" >>/etc/fleetd/fleetd.conf'
cl_exec "$LEADER_HOST" systemctl restart fleetd.service
wait_until 20 api "$LEADER_HOST" /v1/status -f || fail "$LEADER_HOST's fleetd does not come back"
python3 - "$CLUSTER_ETCD_ENDPOINT" "$CL_PREFIX" <<'PY' || fail "could not write 2,000 events"
import base64, json, sys, time, urllib.request
url, prefix = sys.argv[1], sys.argv[2]
b = lambda s: base64.b64encode(s.encode()).decode()
now = int(time.time() * 1e6)
for chunk in range(20):
    ops = []
    for k in range(100):
        n = chunk * 100 + k
        t = now + n
        eid = "%016d-ffffffff-%08x" % (t, n)
        rec = {"id": eid, "time": t, "kind": "app.scale", "who": "flood", "message": "flood %d" % n,
               "app": "flood" if n % 2 else "flood2"}
        ops.append({"request_put": {"key": b(prefix + "events/" + eid), "value": b(json.dumps(rec))}})
    req = urllib.request.Request(url + "/v3/kv/txn", json.dumps({"success": ops}).encode(),
                                 {"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()
PY
total() { cl_etcdctl get --prefix "${CL_PREFIX}events/" --keys-only | grep -c . || true; }
of_app() { api host1 "/v1/events?limit=10000&app=$1" -f | jq '.events | length'; }
# the trims come in txns of 100 deletes, a few hundred ms apart
bounded() { [ "$(total)" -le 300 ] && [ "$(of_app flood)" -le 100 ] && [ "$(of_app flood2)" -le 100 ]; }
wait_until 30 bounded || fail "not bounded: $(total) events in etcd (events_keep=300), $(of_app flood) of app flood and $(of_app flood2) of flood2 (events_keep_app=100)"
per_app=$(of_app flood)
last=$(api host1 "/v1/events?limit=1" -f | jq -r '.events[0].message')
assert_eq "flood 1999" "$last" "the newest event survives"
log "after 2,000 events: $(total) in etcd, $per_app of app flood"
