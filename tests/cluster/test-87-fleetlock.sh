# shellcheck shell=bash
# FleetLock as Zincati speaks it, inside the hosts: curl posts exactly what Zincati posts
# (fleet-lock-protocol: true, the pretty JSON body, no Content-Type) to this host's fleetd on
# fleetlock_listen (127.0.0.1:7071, set for this test by a runtime drop-in). With max 1, host1
# gets the slot (503 while a unit pinned to it is still there, 200 once it is gone) and host2
# the semaphore-full kind; steady-state frees it and uncordons. The loopback listener refuses
# another host's id. host3 takes the slot and is powered off, never to return: after
# reboot_slot_timeout (1m here) host2's acquire frees it. Then host3, booted again, is
# rebooted through host1's API (forwarded to host3's fleetd, which asks systemd) and comes
# back with a new boot id. Everything is put back: drop-ins, keys, units, host3 up.
. "$(dirname "${BASH_SOURCE[0]}")/units.sh"

APP_ID=de35106b6ec24688b63afddaa156679b
GROUP=t87-$RANDOM
PORT=7071
DROPIN_DIR=/run/systemd/system/fleetd.service.d
DROPIN=$DROPIN_DIR/87-fleetlock.conf
UNIT=pin87-$RANDOM.service

api() {
        local host=$1
        shift
        cl_exec "$host" curl -sS -m 10 --unix-socket /run/fleetd/fleetd.sock "$@"
}

# zincati HOST ENDPOINT ID [GROUP]: Zincati's request on HOST's loopback listener; sets
# Z_STATUS and Z_BODY (and Z_KIND, the error kind, if any).
zincati() {
        local host=$1 endpoint=$2 id=$3 group=${4:-$GROUP} body out
        body=$(printf '{\n  "client_params": {\n    "id": "%s",\n    "group": "%s"\n  }\n}' "$id" "$group")
        out=$(cl_exec "$host" curl -sS -m 10 -X POST -H 'fleet-lock-protocol: true' -H 'Content-Type:' \
                --data-binary "$body" -w '\n%{http_code}' "http://127.0.0.1:$PORT/v1/$endpoint")
        Z_STATUS=${out##*$'\n'}
        Z_BODY=${out%$'\n'*}
        Z_KIND=$(jq -r '.kind // empty' <<<"$Z_BODY" 2>/dev/null || true)
}

# The same on the unix socket (any machine's id is taken there).
zincati_unix() {
        local host=$1 endpoint=$2 id=$3 group=${4:-$GROUP} body out
        body=$(printf '{"client_params":{"id":"%s","group":"%s"}}' "$id" "$group")
        out=$(api "$host" -X POST -H 'fleet-lock-protocol: true' --data-binary "$body" -w '\n%{http_code}' \
                "http://localhost/v1/$endpoint")
        Z_STATUS=${out##*$'\n'}
        Z_BODY=${out%$'\n'*}
        Z_KIND=$(jq -r '.kind // empty' <<<"$Z_BODY" 2>/dev/null || true)
}

expect_kind() {
        local status=$1 kind=$2 what=$3
        if [ "$Z_STATUS" != "$status" ] || [ "$Z_KIND" != "$kind" ]; then
                fail "$what: expected $status $kind, saw $Z_STATUS: ${Z_BODY:0:400}"
        fi
        [ "$(jq -r 'keys | join(",")' <<<"$Z_BODY")" = kind,value ] ||
                fail "$what: the error is not exactly {kind, value}: ${Z_BODY:0:400}"
}

# For wait_until, which runs it in a subshell: prints the answer (logged on a timeout).
pre_reboot_ok() {
        zincati "$1" pre-reboot "$2"
        echo "$Z_STATUS $Z_BODY"
        [ "$Z_STATUS" = 200 ]
}

holders() {
        api host1 --fail "http://localhost/v1/locks/$GROUP" | jq -r '[.holders[].id] | join(" ")'
}

in_etcd() {
        [ -n "$(cl_etcdctl get --print-value-only "$CL_PREFIX$1")" ]
}

set_fleetlock() {
        local host=$1
        cl_exec "$host" mkdir -p "$DROPIN_DIR"
        printf '[Service]\nEnvironment=FLEETD_FLEETLOCK_LISTEN=127.0.0.1:%s FLEETD_REBOOT_SLOT_TIMEOUT=1m\n' "$PORT" |
                cl_exec "$host" tee "$DROPIN" >/dev/null
        cl_exec "$host" systemctl daemon-reload
        cl_exec "$host" systemctl restart fleetd.service
}

listener_up() {
        local code
        code=$(cl_exec "$1" curl -s -m 2 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/v1/pre-reboot")
        [ "$code" = 400 ]
}

cleanup() {
        local rc=$? i
        if ! cluster_host_running 3; then
                cl_host_boot host3 || true
        fi
        api host1 -X DELETE "http://localhost/v1/units/$UNIT" >/dev/null 2>&1 || true
        for i in 1 2 3; do
                if cl_exec "host$i" test -e "$DROPIN" 2>/dev/null; then
                        cl_exec "host$i" rm -f "$DROPIN" || true
                        cl_exec "host$i" systemctl daemon-reload || true
                        cl_exec "host$i" systemctl restart fleetd.service || true
                fi
        done
        cl_etcdctl del "${CL_PREFIX}locks/$GROUP" >/dev/null 2>&1 || true
        for id in "${id1:-}" "${id2:-}" "${id3:-}"; do
                [ -n "$id" ] || continue
                cl_etcdctl del "${CL_PREFIX}drain/$id" >/dev/null 2>&1 || true
                cl_etcdctl del "${CL_PREFIX}rebalance/$id" >/dev/null 2>&1 || true
        done
        return $rc
}
trap 'cleanup || cl__on_exit' EXIT

id1=$(cl_machine_id host1)
id2=$(cl_machine_id host2)
id3=$(cl_machine_id host3)
fl1=$(cl_exec host1 systemd-id128 machine-id --app-specific=$APP_ID)
fl2=$(cl_exec host2 systemd-id128 machine-id --app-specific=$APP_ID)
fl3=$(cl_exec host3 systemd-id128 machine-id --app-specific=$APP_ID)

# Each fleetd publishes the id Zincati will send, and its boot id.
record=$(api host1 --fail "http://localhost/v1/machines/$id1")
assert_eq "$fl1" "$(jq -r .fleetlockId <<<"$record")" "host1's fleetlockId (systemd-id128 machine-id --app-specific)"
assert_eq "$(cl_exec host1 cat /proc/sys/kernel/random/boot_id | tr -d -)" "$(jq -r .bootId <<<"$record")" \
        "host1's bootId"

for h in host1 host2 host3; do
        set_fleetlock "$h"
done
for h in host1 host2 host3; do
        wait_until 30 listener_up "$h" || fail "$h's fleetd does not serve FleetLock on 127.0.0.1:$PORT"
done
log "FleetLock served on 127.0.0.1:$PORT in every host; group $GROUP"
# Nothing but global units may be left on the hosts, or nothing could drain them here.
for id in "$id1" "$id2" "$id3"; do
        left=$(api host1 --fail "http://localhost/v1/machines/$id/drain" | jq -r '[.remaining[].unit] | join(" ")')
        [ -z "$left" ] || fail "machine $id still has units from earlier tests: $left"
done

assert_eq 200 "$(api host1 -o /dev/null -w '%{http_code}' -X PUT --data '{"max":1}' "http://localhost/v1/locks/$GROUP")" \
        "PUT /v1/locks/$GROUP {max:1}"

# A unit pinned to host1 keeps it from being drained while it is there.
text=$(sleeper "MachineID=$id1")
body=$(jq -cn --arg c "$text" '{contents: $c, desiredState: "launched"}')
assert_eq 201 "$(api host1 -o /dev/null -w '%{http_code}' -X PUT --data "$body" "http://localhost/v1/units/$UNIT")" \
        "PUT /v1/units/$UNIT"
on_host1() { [ "$(unit_host "$UNIT")" = host1 ]; }
wait_until 30 on_host1 || fail "$UNIT is not running on host1 (active on: $(active_hosts "$UNIT"))"

# host1's Zincati: it gets the slot, the drain begins; not 200 while the unit is there.
zincati host1 pre-reboot "$fl1"
case $Z_KIND in
        drain_in_progress | drain_blocked) expect_kind 503 "$Z_KIND" "host1's pre-reboot with $UNIT there" ;;
        *) fail "host1's pre-reboot with $UNIT there: expected 503 drain_in_progress or drain_blocked, saw $Z_STATUS: $Z_BODY" ;;
esac
assert_contains "$Z_BODY" "$UNIT" "host1's pre-reboot answer"
assert_eq "$fl1" "$(holders)" "holders of $GROUP after host1's pre-reboot"
machines=$(api host1 --fail http://localhost/v1/machines)
assert_eq draining "$(jq -r --arg id "$id1" '.machines[] | select(.id == $id) | .state' <<<"$machines")" "host1's state"
assert_eq fleetlock "$(jq -r --arg id "$id1" '.machines[] | select(.id == $id) | .drain.source' <<<"$machines")" \
        "host1's drain source"

# host2's Zincati: the semaphore is full; host2 is not drained.
lock_rev=$(cl_etcdctl get "${CL_PREFIX}locks/$GROUP" -w json | jq -r '.kvs[0].mod_revision')
zincati host2 pre-reboot "$fl2"
expect_kind 409 failed_lock_semaphore_full "host2's pre-reboot while host1 holds the slot"
in_etcd "drain/$id2" && fail "host2 was drained although it got no slot"

# The loopback listener speaks for its own machine only, and reads the protocol strictly.
zincati host1 pre-reboot "$fl2"
expect_kind 403 forbidden "host2's id on host1's loopback listener"
zincati host1 steady-state "$fl2"
expect_kind 403 forbidden "host2's id on host1's loopback listener (steady-state)"
zincati host1 pre-reboot "$fl1" "bad_group"
expect_kind 400 invalid_group "group bad_group"
out=$(cl_exec host1 curl -sS -m 10 -X POST --data-binary '{"client_params":{"id":"x","group":"g"}}' \
        -w '\n%{http_code}' "http://127.0.0.1:$PORT/v1/pre-reboot")
Z_STATUS=${out##*$'\n'} Z_BODY=${out%$'\n'*}
Z_KIND=$(jq -r .kind <<<"$Z_BODY")
expect_kind 400 missing_header "pre-reboot without fleet-lock-protocol: true"
out=$(cl_exec host1 curl -sS -m 10 -X POST -H 'fleet-lock-protocol: true' --data-binary '{"client_params":' \
        -w '\n%{http_code}' "http://127.0.0.1:$PORT/v1/pre-reboot")
Z_STATUS=${out##*$'\n'} Z_BODY=${out%$'\n'*}
Z_KIND=$(jq -r .kind <<<"$Z_BODY")
expect_kind 400 invalid_body "pre-reboot with a broken body"
zincati_unix host2 pre-reboot 0123456789abcdef0123456789abcdef
expect_kind 404 unknown_machine "pre-reboot of an id no machine has"
assert_eq "$lock_rev" "$(cl_etcdctl get "${CL_PREFIX}locks/$GROUP" -w json | jq -r '.kvs[0].mod_revision')" \
        "locks/$GROUP's mod_revision after the refusals"
in_etcd "drain/$id2" && fail "a refused request drained host2"

# The unit goes: host1 is drained, 200 (as Zincati retries); recursive: 200 again.
assert_exit 0 "DELETE /v1/units/$UNIT" api host1 --fail -X DELETE "http://localhost/v1/units/$UNIT"
wait_until 30 pre_reboot_ok host1 "$fl1" || fail "host1's pre-reboot never got 200 after $UNIT went"
zincati host1 pre-reboot "$fl1"
assert_eq 200 "$Z_STATUS" "host1's pre-reboot again (recursive)"
log "host1 drained: $Z_BODY"
assert_eq "$fl1" "$(holders)" "holders of $GROUP"

# steady-state: the slot is free, host1 uncordoned (and rebalanced).
zincati host1 steady-state "$fl1"
assert_eq 200 "$Z_STATUS" "host1's steady-state ($Z_BODY)"
assert_eq true "$(jq -r .uncordoned <<<"$Z_BODY")" "host1 uncordoned by steady-state"
assert_eq "" "$(holders)" "holders of $GROUP after steady-state"
in_etcd "drain/$id1" && fail "host1 is still draining after steady-state"
zincati host1 steady-state "$fl1"
assert_eq 200 "$Z_STATUS" "host1's steady-state again (nothing held)"

# Now host2 gets it, and gives it back.
wait_until 30 pre_reboot_ok host2 "$fl2" || fail "host2's pre-reboot never got 200"
zincati host2 steady-state "$fl2"
assert_eq 200 "$Z_STATUS" "host2's steady-state"

# host3 takes the slot and never comes back: after reboot_slot_timeout (1m) the next acquire
# (host2's, in host2's fleetd) frees it.
wait_until 30 pre_reboot_ok host3 "$fl3" || fail "host3's pre-reboot never got 200"
assert_eq "$fl3" "$(holders)" "holders of $GROUP after host3's pre-reboot"
cl_host_poweroff host3
cut=$SECONDS
log "host3 holds the slot and is powered off"
zincati host2 pre-reboot "$fl2"
expect_kind 409 failed_lock_semaphore_full "host2's pre-reboot while host3 (down) holds the slot"
wait_until 100 pre_reboot_ok host2 "$fl2" || fail "host3's slot was not freed within 100s"
took=$((SECONDS - cut))
log "host3's slot freed after ${took}s"
[ $took -ge 55 ] || fail "host3's slot was freed after ${took}s, before reboot_slot_timeout (1m)"
assert_eq "$fl2" "$(holders)" "holders of $GROUP after the expiry"
assert_contains "$(cl_exec host2 journalctl -u fleetd.service --no-pager -o cat --since "-3min")" \
        "Reboot slot of $fl3 in group $GROUP freed: held longer than reboot_slot_timeout (1m)" "host2's log"
zincati host2 steady-state "$fl2"
assert_eq 200 "$Z_STATUS" "host2's steady-state after the expiry"

# host3 comes back, still draining (the drain outlives it); its Zincati's steady-state (here
# through host1's unix socket, which takes any machine's id) uncordons it.
cl_host_boot host3
wait_until 30 cl_listed host1 "$id3" || fail "host3 is not listed again after booting"
in_etcd "drain/$id3" || fail "host3's drain did not survive its power cut"
zincati_unix host1 steady-state "$fl3"
assert_eq 200 "$Z_STATUS" "host3's steady-state ($Z_BODY)"
assert_eq true "$(jq -r .uncordoned <<<"$Z_BODY")" "host3 uncordoned by its steady-state"

# A reboot through host1's API, forwarded to host3's fleetd: refused unless drained or forced.
assert_exit 0 "POST reboot (not drained)" api host1 -o /dev/null -w '%{http_code}' -X POST \
        "http://localhost/v1/machines/$id3/reboot"
assert_eq 409 "$CL_OUT" "reboot of host3 when it is not drained"
boot_before=$(api host1 --fail "http://localhost/v1/machines/$id3" | jq -r .bootId)
boots=$(cl_boots host3)
reply=$(api host1 -X POST --data '{"force":true}' -w '\n%{http_code}' "http://localhost/v1/machines/$id3/reboot")
assert_eq 202 "${reply##*$'\n'}" "reboot of host3 with force (${reply%$'\n'*})"
cl_wait_rebooted host3 "$boots" 120 || fail "host3 did not reboot"
new_boot() {
        local b
        b=$(api host1 --fail "http://localhost/v1/machines/$id3" | jq -r .bootId) || return 1
        [ -n "$b" ] && [ "$b" != null ] && [ "$b" != "$boot_before" ]
}
wait_until 30 new_boot || fail "host3 is not registered with a new boot id after its reboot"
log "host3 rebooted through the API: boot id $boot_before -> $(api host1 "http://localhost/v1/machines/$id3" | jq -r .bootId)"
