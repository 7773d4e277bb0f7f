# shellcheck shell=bash
# fleet's HTTP API v1 on fleet's socket (/var/run/fleet.sock, fleet's fleetctl default), checked
# with curl inside the hosts against the contract of fleet's Documentation/api-v1.md and its
# schema: discovery; units with fleet's options arrays (PUT 201/204, GET, DELETE 204); desired
# state changes that really start and stop the unit; paging with nextPageToken over more units
# than a page (fleet's 100); state and machines; 400/404/405/409/415 in fleet's error shape
# {"error":{"code":N,"message":...}}, each naming the field and changing nothing in etcd; and
# that units made through either API are the same units.
. "$(dirname "${BASH_SOURCE[0]}")/units.sh"

FLEET_SOCK=/var/run/fleet.sock
FLEETD_SOCK=/run/fleetd/fleetd.sock

# fleet_call HOST METHOD PATH [BODY [CONTENT-TYPE]]: one request on fleet's socket. Sets F_STATUS,
# F_TYPE (the Content-Type, "" if none) and F_BODY. BODY goes on stdin, so any text passes.
fleet_call() {
        local host=$1 method=$2 path=$3 body=${4-} ctype=${5-application/json} out
        local args=(-s -X "$method" --unix-socket "${F_SOCK:-$FLEET_SOCK}" -w '\n%{http_code} %{content_type}')
        if [ $# -ge 4 ]; then
                args+=(-H "Content-Type: $ctype" --data-binary @-)
        fi
        out=$(printf '%s' "$body" | cl_exec "$host" curl "${args[@]}" "http://domain-sock$path") ||
                fail "curl $method $path in $host failed"
        F_BODY=$(sed '$d' <<<"$out")
        read -r F_STATUS F_TYPE <<<"$(tail -n 1 <<<"$out")"
        F_TYPE=${F_TYPE:-}
}

# A condition for wait_until runs in a subshell: F_* do not come back, so it prints what it saw
# (wait_until shows the last attempt's output).
show() {
        echo "HTTP $F_STATUS: ${F_BODY:0:600}"
}

# expect_status STATUS WHAT: F_STATUS is STATUS.
expect_status() {
        [ "$F_STATUS" = "$1" ] || fail "$2: expected HTTP $1, saw $F_STATUS: ${F_BODY:0:400}"
}

# expect_fleet_error STATUS PART WHAT: F_* is exactly fleet's error body for STATUS, JSON, and its
# message contains PART (the field it names).
expect_fleet_error() {
        local status=$1 part=$2 what=$3
        expect_status "$status" "$what"
        assert_contains "$F_TYPE" application/json "$what: Content-Type"
        jq -e --argjson c "$status" '(keys == ["error"]) and (.error | keys == ["code", "message"])
                and .error.code == $c and (.error.message | type == "string" and length > 0)' <<<"$F_BODY" \
                >/dev/null || fail "$what: not fleet's error shape for $status: $F_BODY"
        assert_contains "$(jq -r .error.message <<<"$F_BODY")" "$part" "$what: message"
}

# units/ keys with their mod_revision: what a refused request must leave as it was
units_in_etcd() {
        cl_etcdctl get --prefix "${CL_PREFIX}units/" -w json | jq -c '[.kvs[]? | [(.key | @base64d), .mod_revision]]'
}

opts='[{"section":"Unit","name":"Description","value":"fleet API test"},
       {"section":"Service","name":"ExecStart","value":"/bin/sleep infinity"}]'
hello_text=$'[Unit]\nDescription=fleet API test\n\n[Service]\nExecStart=/bin/sleep infinity\n'

log "discovery, and both sockets serve both APIs"
fleet_call host1 GET /fleet/v1/discovery
expect_status 200 "GET /fleet/v1/discovery"
assert_contains "$F_TYPE" application/json "discovery Content-Type"
assert_eq "fleet:v1 PUT units/{unitName} state" \
        "$(jq -r '"\(.id) \(.resources.Units.methods.Set.httpMethod) \(.resources.Units.methods.Set.path) \(.resources.UnitState.methods.List.path)"' <<<"$F_BODY")" \
        "discovery id and methods"
F_SOCK=$FLEETD_SOCK fleet_call host2 GET /fleet/v1/discovery
expect_status 200 "fleet's API on fleetd's own socket"
fleet_call host2 GET /v1/status
expect_status 200 "fleetd's own API on fleet's socket"
[ "$(cl_exec host1 stat -c %a /run/fleet.sock)" = 660 ] || fail "/run/fleet.sock is not mode 0660"

log "machines"
fleet_call host1 GET '/fleet/v1/machines?alt=json'
expect_status 200 "GET /fleet/v1/machines"
assert_eq "$(cl_nhosts)" "$(jq '.machines | length' <<<"$F_BODY")" "machines listed"
[ "$(jq 'has("nextPageToken")' <<<"$F_BODY")" = false ] || fail "a nextPageToken with $(cl_nhosts) machines"
for ((i = 1; i <= $(cl_nhosts); i++)); do
        id=$(cl_machine_id "host$i")
        seen=$(jq -r --arg id "$id" '.machines[] | select(.id == $id) | "\(.primaryIP) \(.metadata.host) \(keys | join(","))"' <<<"$F_BODY")
        assert_eq "$(cl_ip "host$i") host$i id,metadata,primaryIP" "$seen" "host$i as fleet's Machine"
done

log "PUT a new unit with options, launched: 201, and it runs"
fleet_call host1 PUT /fleet/v1/units/hello-fleet.service "{\"desiredState\":\"launched\",\"options\":$opts}"
expect_status 201 "PUT of a new unit"
assert_eq "" "$F_BODY" "body of the 201"
fleet_call host1 GET /fleet/v1/units/hello-fleet.service
expect_status 200 "GET the new unit"
assert_eq "$(jq -c '[.[] | {name, section, value}]' <<<"$opts")" "$(jq -c .options <<<"$F_BODY")" "options as sent"
assert_eq launched "$(jq -r .desiredState <<<"$F_BODY")" "desiredState"
wait_until 30 unit_host hello-fleet.service || fail "hello-fleet.service is not active on exactly one host"
h=$(unit_host hello-fleet.service)
launched_here() {
        fleet_call host2 GET /fleet/v1/units/hello-fleet.service
        show
        [ "$(jq -r '"\(.currentState) \(.machineID)"' <<<"$F_BODY")" = "launched $(cl_machine_id "$h")" ]
}
wait_until 20 launched_here || fail "currentState/machineID never said launched on $h (see the last attempt)"

log "the same unit through fleetd's own API and fleetctl"
contents=$(cl_exec host3 curl -sf --unix-socket $FLEETD_SOCK http://localhost/v1/units/hello-fleet.service | jq -r .contents)
assert_eq "$hello_text" "$contents"$'\n' "the unit file fleetd keeps for fleet's options"
assert_contains "$(cl_fleetctl host3 list-units --no-legend)" hello-fleet.service "fleetctl list-units"

log "state: fleet's UnitState, its hash fleet's SHA-1 of the options"
fleet_hash=$(printf '%s' "$hello_text" | sha1sum | cut -d' ' -f1)
state_ok() {
        fleet_call host1 GET '/fleet/v1/state?unitName=hello-fleet.service&alt=json'
        show
        [ "$(jq -r '.states | length' <<<"$F_BODY")" = 1 ] &&
                [ "$(jq -r '.states[0] | "\(.machineID) \(.systemdLoadState) \(.systemdActiveState) \(.systemdSubState) \(.hash)"' <<<"$F_BODY")" = \
                        "$(cl_machine_id "$h") loaded active running $fleet_hash" ]
}
wait_until 20 state_ok || fail "GET /fleet/v1/state?unitName= did not show the running unit (see the last attempt)"
fleet_call host1 GET '/fleet/v1/state?unitName=hello-fleet.service'
one=$(jq -c '.states[0]' <<<"$F_BODY")
fleet_call host1 GET /fleet/v1/state/hello-fleet.service
expect_status 200 "GET /fleet/v1/state/<name>"
assert_eq "$one" "$(jq -c . <<<"$F_BODY")" "the one state"
fleet_call host1 GET "/fleet/v1/state?machineID=$(cl_machine_id "$h")"
assert_contains "$F_BODY" hello-fleet.service "states of the unit's machine"

log "desiredState changes: 204, and the unit stops and starts"
fleet_call host1 PUT /fleet/v1/units/hello-fleet.service '{"desiredState":"loaded"}'
expect_status 204 "PUT desiredState loaded"
assert_eq "" "$F_BODY" "body of the 204"
stopped() { [ "$(cl_exec "$h" systemctl is-active hello-fleet.service)" != active ]; }
wait_until 20 stopped || fail "hello-fleet.service still active after desiredState loaded"
loaded() {
        fleet_call host1 GET /fleet/v1/units/hello-fleet.service
        show
        [ "$(jq -r .currentState <<<"$F_BODY")" = loaded ]
}
wait_until 20 loaded || fail "currentState did not become loaded (see the last attempt)"
fleet_call host1 PUT /fleet/v1/units/hello-fleet.service \
        "{\"name\":\"hello-fleet.service\",\"desiredState\":\"launched\",\"options\":$opts}"
expect_status 204 "PUT desiredState launched with the same options"
wait_until 20 unit_host hello-fleet.service || fail "hello-fleet.service did not start again"

log "refusals: fleet's error shape, naming the field, nothing changed in etcd"
before=$(units_in_etcd)
fleet_call host1 GET /fleet/v1/units/nope.service
expect_fleet_error 404 "unit does not exist" "GET of a missing unit"
fleet_call host1 DELETE /fleet/v1/units/nope.service
expect_fleet_error 404 "unit does not exist" "DELETE of a missing unit"
fleet_call host1 GET /fleet/v1/state/nope.service
expect_fleet_error 404 "unit state does not exist" "GET of a missing unit's state"
fleet_call host1 PUT /fleet/v1/units/new.service '{"desiredState":"launched"}'
expect_fleet_error 409 "options field empty" "PUT of a new unit without options"
fleet_call host1 PUT /fleet/v1/units/hello-fleet.service \
        '{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}'
expect_fleet_error 409 "options" "PUT of other options to an existing unit"
fleet_call host1 PUT /fleet/v1/units/hello-fleet.service "{\"options\":$opts}"
expect_fleet_error 409 "desiredState" "PUT to an existing unit without desiredState"
fleet_call host1 PUT /fleet/v1/units/hello-fleet.service '{"desiredState":"running"}'
expect_fleet_error 400 "desiredState" "PUT of an unknown desiredState"
fleet_call host1 PUT /fleet/v1/units/hello-fleet.service '{"desiredState":7}'
expect_fleet_error 400 "desiredState" "PUT of a desiredState that is no string"
fleet_call host1 PUT /fleet/v1/units/new.service '{"desiredState":'
expect_fleet_error 400 "body" "PUT of broken JSON"
fleet_call host1 PUT /fleet/v1/units/new.service "{\"options\":$opts}" text/plain
expect_fleet_error 415 "Content-Type" "PUT without application/json"
fleet_call host1 PUT /fleet/v1/units/new.service "{\"name\":\"other.service\",\"options\":$opts}"
expect_fleet_error 400 "name in URL" "PUT with another name in the body"
fleet_call host1 PUT /fleet/v1/units/bad%20name.service "{\"options\":$opts}"
expect_fleet_error 400 "name:" "PUT of a bad unit name"
fleet_call host1 PUT /fleet/v1/units/new.device "{\"options\":$opts}"
expect_fleet_error 400 "name:" "PUT of a type fleetd does not place"
fleet_call host1 PUT /fleet/v1/units/new.service \
        '{"options":[{"section":"Unit","name":"Description","value":"x"},{"section":"Service","name":"ExecStart","value":"a\nb"}]}'
expect_fleet_error 400 "options[1].value" "PUT of a two-line value"
fleet_call host1 PUT /fleet/v1/units/new.service '{"options":[{"section":"Service","name":"Exec Start","value":"x"}]}'
expect_fleet_error 400 "options[0].name" "PUT of a bad option name"
fleet_call host1 PUT /fleet/v1/units/new.service '{"options":{"section":"Service"}}'
expect_fleet_error 400 "options" "PUT of options that are no array"
fleet_call host1 PUT /fleet/v1/units/tmpl@.service "{\"desiredState\":\"launched\",\"options\":$opts}"
expect_fleet_error 400 "desiredState" "PUT of a template launched"
fleet_call host1 GET '/fleet/v1/units?nextPageToken=garbage'
expect_fleet_error 400 "nextPageToken" "a bad nextPageToken"
fleet_call host1 GET '/fleet/v1/units?nextPageToken=MgACAA=='
expect_fleet_error 400 "token limit must be 100" "a nextPageToken of another page size"
fleet_call host1 POST /fleet/v1/units '{}'
expect_fleet_error 405 "only GET" "POST to the units collection"
fleet_call host1 GET /fleet/v1/nope
expect_fleet_error 404 "no such path" "an unknown path"
fleet_call host1 GET /fleet/v1/units/
expect_fleet_error 404 "no such path" "the units collection with a trailing slash"
fleet_call host1 PATCH /fleet/v1/machines '[]'
expect_fleet_error 501 "fleetd.conf" "PATCH of machine metadata"
assert_eq "$before" "$(units_in_etcd)" "units/ in etcd after the refused requests"

log "paging: 200 units are pages of 100, 100 and an empty third one, as fleet pages"
n0=$(cl_exec host1 curl -sf --unix-socket $FLEETD_SOCK 'http://localhost/v1/units' | jq '.units | length')
k=$((200 - n0))
# in the host's own sh, one process for all: $1 units, $2 the socket
# shellcheck disable=SC2016 # expanded by the host's sh
created=$(cl_exec host2 sh -c 'for i in $(seq -w 1 "$1"); do
        printf "{\"options\":[{\"section\":\"Service\",\"name\":\"ExecStart\",\"value\":\"/bin/sleep %s\"}]}" "$i" |
                curl -s -o /dev/null -w "%{http_code}\n" -X PUT -H "Content-Type: application/json" --unix-socket "$2" \
                        --data-binary @- "http://domain-sock/fleet/v1/units/page-$i.service"
done' sh "$k" "$FLEET_SOCK" | sort | uniq -c | awk '{print $1 " " $2}')
assert_eq "$k 201" "$created" "statuses of $k PUTs of new inactive units"
fleet_call host3 GET /fleet/v1/units
expect_status 200 "first page"
p1=$F_BODY
assert_eq 100 "$(jq '.units | length' <<<"$p1")" "units on page 1"
t1=$(jq -r .nextPageToken <<<"$p1")
assert_eq ZAACAA== "$t1" "fleet's token for page 2"
fleet_call host3 GET "/fleet/v1/units?nextPageToken=$t1"
p2=$F_BODY
assert_eq 100 "$(jq '.units | length' <<<"$p2")" "units on page 2"
t2=$(jq -r .nextPageToken <<<"$p2")
fleet_call host3 GET "/fleet/v1/units?nextPageToken=$t2"
expect_status 200 "third page"
assert_eq '{}' "$(jq -c . <<<"$F_BODY")" "the third page (200 units exactly)"
names=$(jq -r '.units[].name' <<<"$p1"; jq -r '.units[].name' <<<"$p2")
assert_eq 200 "$(sort -u <<<"$names" | wc -l)" "distinct units over the pages"
assert_eq "$(LC_ALL=C sort <<<"$names")" "$names" "units in name order over the pages"
assert_eq inactive "$(jq -r '.units[] | select(.name == "page-007.service") | "\(.desiredState)"' <<<"$p1")" \
        "desiredState of a unit PUT without one"
own=$(cl_exec host1 curl -sf --unix-socket $FLEETD_SOCK 'http://localhost/v1/units' | jq '.units | length')
assert_eq 200 "$own" "units in fleetd's own list"
# shellcheck disable=SC2016 # expanded by the host's sh
deleted=$(cl_exec host2 sh -c 'for i in $(seq -w 1 "$1"); do
        curl -s -o /dev/null -w "%{http_code}\n" -X DELETE --unix-socket "$2" "http://domain-sock/fleet/v1/units/page-$i.service"
done' sh "$k" "$FLEET_SOCK" | sort | uniq -c | awk '{print $1 " " $2}')
assert_eq "$k 204" "$deleted" "statuses of $k DELETEs"

log "a unit made through fleetd's fleetctl, seen and destroyed through fleet's API"
unit_file host1 mine.service "$(sleeper)"
assert_exit 0 "fleetctl submit mine.service" cl_fleetctl host1 submit /root/units/mine.service
assert_exit 0 "fleetctl start mine.service" cl_fleetctl host1 start mine.service
wait_until 20 unit_host mine.service || fail "mine.service is not active on exactly one host"
mine_launched() {
        fleet_call host3 GET /fleet/v1/units/mine.service
        show
        [ "$(jq -r .currentState <<<"$F_BODY")" = launched ]
}
wait_until 20 mine_launched || fail "fleet's API did not show mine.service launched (see the last attempt)"
fleet_call host3 GET /fleet/v1/units/mine.service
assert_eq '[{"name":"Description","section":"Unit","value":"fleetd test sleeper"},{"name":"ExecStart","section":"Service","value":"/bin/sleep infinity"}]' \
        "$(jq -c .options <<<"$F_BODY")" "mine.service's options"
fleet_call host3 DELETE /fleet/v1/units/mine.service
expect_status 204 "DELETE through fleet's API"
gone() { [ "$(active_count mine.service)" = 0 ]; }
wait_until 20 gone || fail "mine.service still runs after fleet's DELETE"
assert_not_contains "$(cl_fleetctl host1 list-unit-files --no-legend)" mine.service "fleetctl list-unit-files after fleet's DELETE"

log "the unit made through fleet's API, stopped and destroyed through fleetd's fleetctl"
assert_exit 0 "fleetctl stop hello-fleet.service" cl_fleetctl host1 stop hello-fleet.service
wait_until 20 loaded || fail "fleet's API did not show hello-fleet.service loaded after fleetctl stop (see the last attempt)"
assert_exit 0 "fleetctl destroy hello-fleet.service" cl_fleetctl host1 destroy hello-fleet.service
missing() {
        fleet_call host2 GET /fleet/v1/units/hello-fleet.service
        show
        [ "$F_STATUS" = 404 ]
}
wait_until 10 missing || fail "fleet's API still has hello-fleet.service after fleetctl destroy"
file_gone() {
        local i
        for i in $(seq 1 "$(cl_nhosts)"); do
                ! cl_exec "host$i" test -e /run/fleetd/units/hello-fleet.service || return 1
        done
}
wait_until 20 file_gone || fail "hello-fleet.service's unit file remains after fleetctl destroy"
