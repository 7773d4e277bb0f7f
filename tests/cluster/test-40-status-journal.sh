# shellcheck shell=bash
# A unit's status and journal from any host, without SSH: a unit pinned to host2 is asked about
# on host1's unix socket; host1's fleetd forwards to host2's fleetd over the TCP API (HTTPS with
# the cluster's client certificates, see tools/lib/cluster.sh) and streams the answer back,
# journal --follow included. The TCP API refuses clients without a cluster certificate.
. "$(dirname "${BASH_SOURCE[0]}")/units.sh"

api() {
        local host=$1
        shift
        cl_exec "$host" curl -sS --unix-socket /run/fleetd/fleetd.sock "$@"
}

id2=$(cl_machine_id host2)
ip2=$(cl_ip host2)
port=$CLUSTER_API_PORT

# Every machine announces its TCP API: https://<its ip>:<port>.
apis_listed() {
        local json
        json=$(api host1 --fail http://localhost/v1/machines) || return 1
        [ "$(jq -r --arg id "$id2" '.machines[] | select(.id == $id) | .api' <<<"$json")" = "https://$ip2:$port" ] &&
                [ "$(jq '[.machines[] | select(.api)] | length' <<<"$json")" = "$(cl_nhosts)" ]
}
wait_until 30 apis_listed || fail "GET /v1/machines does not list every machine's api (host2: https://$ip2:$port): $(api host1 http://localhost/v1/machines | head -c 600)"

# The TCP API itself: only clients with a certificate of the cluster's CA.
https() {
        cl_exec host1 curl -sS --max-time 10 --cacert /etc/fleetd/tls/ca.pem "$@"
}
reply=$(https --cert /etc/fleetd/tls/cert.pem --key /etc/fleetd/tls/key.pem "https://$ip2:$port/v1/status")
assert_eq "$id2" "$(jq -r .machine.id <<<"$reply")" "machine id from GET /v1/status on host2's TCP API"
assert_exit 0 "HTTPS without a client certificate" https -o /dev/null -w '%{http_code}' "https://$ip2:$port/v1/status"
assert_eq 403 "$CL_OUT" "status of a request without a client certificate"
assert_exit 0 "the refusal's body" https "https://$ip2:$port/v1/status"
assert_eq forbidden "$(jq -r .error.code <<<"$CL_OUT")" "error code without a client certificate"
cl_run cl_exec host1 curl -sS --max-time 5 -o /dev/null "http://$ip2:$port/v1/status"
[ "$CL_RC" != 0 ] || fail "plain HTTP on host2's TCP API port answered"

# A unit on host2 that talks: its first line says who it is, then it ticks.
marker=m$RANDOM$RANDOM
unit=talker-$marker.service
text=$(printf '[Unit]\nDescription=fleetd test talker\n\n[Service]\nExecStart=/bin/sh -c "echo hello %s; while sleep 0.3; do echo tick; done"\n\n[X-Fleet]\nMachineID=%s\n' \
        "$marker" "$id2")
body=$(jq -cn --arg c "$text" '{contents: $c, desiredState: "launched"}')
reply=$(api host1 -X PUT -H 'Content-Type: application/json' --data "$body" -w ' %{http_code}' \
        "http://localhost/v1/units/$unit")
assert_eq 201 "${reply##* }" "PUT /v1/units/$unit (answer: ${reply% *})"
on_host2() { [ "$(unit_host "$unit")" = host2 ]; }
wait_until 30 on_host2 || fail "$unit is not running on host2 (active on: $(active_hosts "$unit"))"

# Status, asked on host1, comes from host2's systemd.
status_ok() {
        local s
        s=$(api host1 --fail "http://localhost/v1/units/$unit/status") || return 1
        [ "$(jq -r .machine <<<"$s")" = "$id2" ] && [ "$(jq -r .ActiveState <<<"$s")" = active ]
}
wait_until 20 status_ok || fail "GET /v1/units/$unit/status on host1: $(api host1 "http://localhost/v1/units/$unit/status" | head -c 600)"
status=$(api host1 --fail "http://localhost/v1/units/$unit/status")
log "status via host1: $status"
assert_eq "$unit" "$(jq -r .Id <<<"$status")" "Id in the status"
assert_eq running "$(jq -r .SubState <<<"$status")" "SubState in the status"
pid=$(cl_exec host2 systemctl show -p MainPID --value "$unit")
assert_eq "$pid" "$(jq -r .MainPID <<<"$status")" "MainPID in the status (host2's systemctl says $pid)"
# The properties of both interfaces (Unit, Service), as host2's systemctl shows them, and no others.
for prop in Description LoadState FragmentPath NRestarts ExecMainStatus Result ControlGroup; do
        want=$(cl_exec host2 systemctl show -p "$prop" --value "$unit")
        assert_eq "$want" "$(jq -r ".$prop" <<<"$status")" "$prop in the status (host2's systemctl says '$want')"
done
assert_eq true "$(jq '.ActiveEnterTimestamp > 0 and (.InactiveEnterTimestamp | type) == "number"' <<<"$status")" \
        "the timestamps in the status"
assert_eq "" "$(jq -r 'keys - ["Id", "Description", "LoadState", "ActiveState", "SubState", "FragmentPath",
        "ActiveEnterTimestamp", "InactiveEnterTimestamp", "MainPID", "NRestarts", "ExecMainStatus", "Result",
        "MemoryCurrent", "TasksCurrent", "ControlGroup", "machine"] | join(" ")' <<<"$status")" \
        "no properties in the status beyond the known ones"
local_status=$(api host2 --fail "http://localhost/v1/units/$unit/status")
assert_eq "$id2" "$(jq -r .machine <<<"$local_status")" "machine in the status asked on host2 itself"

# The journal, asked on host1: host2's lines, journalctl's short format.
journal_has_hello() {
        local j
        j=$(api host1 --fail "http://localhost/v1/units/$unit/journal?lines=50") || return 1
        grep -q "hello $marker" <<<"$j"
}
wait_until 20 journal_has_hello || fail "the journal via host1 lacks 'hello $marker': $(api host1 "http://localhost/v1/units/$unit/journal?lines=50" | tail -n 5)"
journal=$(api host1 --fail "http://localhost/v1/units/$unit/journal?lines=50")
log "journal via host1 (last 3 lines):"
tail -n 3 <<<"$journal"
line=$(grep -m1 "hello $marker" <<<"$journal")
[[ $line =~ ^[A-Z][a-z]{2}\ [0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}\ host2\ sh\[[0-9]+\]:\ hello\ $marker$ ]] ||
        fail "journal line not in journalctl's short format: '$line'"
# systemd's own message about starting the unit is there too (_PID=1, UNIT=).
assert_contains "$journal" "systemd[1]: " "the journal via host1 (PID 1's lines about the unit)"
n=$(api host1 --fail "http://localhost/v1/units/$unit/journal?lines=3" | wc -l)
assert_eq 3 "$n" "lines in journal?lines=3"
assert_exit 0 "journal?lines=x" api host1 -o /dev/null -w '%{http_code}' "http://localhost/v1/units/$unit/journal?lines=x"
assert_eq 400 "$CL_OUT" "status of journal?lines=x"

# Follow: new lines stream through host1 while they happen, until the client hangs up.
cl_run api host1 -N --max-time 3 "http://localhost/v1/units/$unit/journal?lines=0&follow=1"
assert_eq 28 "$CL_RC" "curl's exit status for a follow ended by --max-time (stderr: $CL_ERR)"
ticks=$(grep -c ': tick$' <<<"$CL_OUT" || true)
log "follow via host1 saw $ticks ticks in 3 s"
[ "$ticks" -ge 3 ] || fail "follow via host1 streamed $ticks tick lines in 3 s: $CL_OUT"
assert_not_contains "$CL_OUT" "hello $marker" "follow with lines=0 (old lines)"
# The hang-up travels on: host2 closes its side of the forwarded follow.
no_follow_left() {
        [ -z "$(cl_exec host2 ss -Htn state established "( sport = :$port )")" ]
}
wait_until 15 no_follow_left || fail "host2 still has TCP API connections after the client hung up: $(cl_exec host2 ss -Htn state established "( sport = :$port )")"

# Errors: a unit that runs nowhere is 404; a bad name is 404.
inactive=idle-$marker.service
body=$(jq -cn --arg c "$(sleeper)" '{contents: $c}')
api host1 --fail -o /dev/null -X PUT --data "$body" "http://localhost/v1/units/$inactive"
assert_exit 0 "status of an inactive unit" api host1 -o /dev/null -w '%{http_code}' "http://localhost/v1/units/$inactive/status"
assert_eq 404 "$CL_OUT" "status of a unit that runs nowhere"
assert_exit 0 "journal of an inactive unit" api host1 -o /dev/null -w '%{http_code}' "http://localhost/v1/units/$inactive/journal"
assert_eq 404 "$CL_OUT" "journal of a unit that runs nowhere"

for u in "$unit" "$inactive"; do
        api host1 --fail -o /dev/null -X DELETE "http://localhost/v1/units/$u"
done
gone() { [ "$(active_count "$unit")" = 0 ]; }
wait_until 20 gone || fail "$unit still runs after DELETE"
