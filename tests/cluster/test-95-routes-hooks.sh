# shellcheck shell=bash
# Routes of the hello app (examples/apps/hello.yaml; test-92 deploys it, test-96 destroys it):
# routes/hello/<unit> exist for exactly the healthy web instances, with their host:port, bound to
# their machine's lease; the worker (no port) has none. A hook in every host's
# /etc/fleetd/hooks.d (read at each event: no fleetd restart) records the route changes of its
# host: scaling web 3 -> 4 -> 3 adds the new instance's route, then removes it while the
# instance still runs, route_drain_delay (2s) before it stops. An instance made unhealthy loses
# its route and gets it back when healthy again. A host powered off loses its routes with its
# lease. A fleetd restart keeps the routes of its instances (never deleted in between). The app is
# left as found: web=3, worker as it was.
. "$(dirname "${BASH_SOURCE[0]}")/apps.sh"

ttl=$(cl_ttl)
HOOK=/etc/fleetd/hooks.d/50-test95
LOG=/run/test95-hook.log             # written by the hook below

[ "$(app_state hello)" = done ] || fail "test-92 left no running hello app"
[ -n "$(app_instances hello worker)" ] || fail "test-92 left no worker instance of hello"

# --- helpers ---

host_of_ip() {
        local i
        for i in $(seq 1 "$(cl_nhosts)"); do
                if [ "$(cl_ip "host$i")" = "$1" ]; then
                        echo "host$i"
                        return 0
                fi
        done
        return 1
}

# Every route in etcd: "key unit host port app process release machine", sorted.
routes() {
        cl_etcdctl get --prefix "${CL_PREFIX}routes/" -w json |
                jq -r '.kvs[]? | (.value | @base64d | fromjson) as $v |
                       "\(.key | @base64d) \($v.unit) \($v.host) \($v.port) \($v.app) \($v.process) \($v.release) \($v.machine)"' |
                sort
}

# "unit ip port" of the web instances the API calls passing, and of the routes.
passing_web() {
        app_instances hello web | awk '$4 == "passing" { print $1, $2, $3 }' | sort
}
routed_web() {
        routes | awk '{ print $2, $3, $4 }' | sort
}
routes_match() {
        local want got
        want=$(passing_web) || return 1
        got=$(routed_web) || return 1
        if [ -n "$want" ] && [ "$want" = "$got" ]; then
                return 0
        fi
        echo "passing: [$want] routed: [$got]"
        return 1
}
web_passing_count() {
        [ "$(passing_web | wc -l)" = "$1" ]
}
settled() {
        rollout_done hello && web_passing_count 3 && routes_match
}
has_route() {
        routes | grep -qF " $1 "
}
no_route() {
        ! routes | grep -qF " $1 "
}
# The hook's records on HOST about UNIT: "time event unit is-active".
hook_log() {
        cl_exec "$1" cat "$LOG" 2>/dev/null | awk -v u="$2" '$3 == u'
}
hook_saw() {
        hook_log "$1" "$2" | awk -v e="$3" '$2 == e' | grep -q .
}

# --- the hook, in every host; a backup file and a file that is not executable are not hooks ---

# The unit's state when its route changed tells whether the route went before the unit stopped.
hook_script=$(cat <<'SCRIPT'
#!/bin/sh
# test-95: records each route change with the time and the state of its unit at that moment
ev=$(cat)
unit=$(printf '%s' "$ev" | sed -n 's/.*"unit":"\([^"]*\)".*/\1/p')
printf '%s %s %s %s\n' "$(date +%s.%N)" "$1" "$unit" "$(systemctl is-active "$unit")" >>/run/test95-hook.log
printf '%s\n' "$ev" >>/run/test95-hook.log.json
SCRIPT
)
remove_hooks() {
        local i
        for i in $(seq 1 "$(cl_nhosts)"); do
                cl_exec "host$i" rm -f "$HOOK" "$HOOK~" "$HOOK-noexec" 2>/dev/null || true
        done
}
cleanup() {
        local rc=$?
        remove_hooks >/dev/null 2>&1 || true
        return $rc
}
trap 'cleanup || cl__on_exit' EXIT
for i in $(seq 1 "$(cl_nhosts)"); do
        cl_exec "host$i" mkdir -p /etc/fleetd/hooks.d
        cl_exec "host$i" rm -f "$LOG" "$LOG.json" /run/test95-not-a-hook
        put_file "host$i" "$HOOK" "$hook_script"
        put_file "host$i" "$HOOK~" $'#!/bin/sh\ntouch /run/test95-not-a-hook'
        put_file "host$i" "$HOOK-noexec" $'#!/bin/sh\ntouch /run/test95-not-a-hook'
        cl_exec "host$i" chmod 0755 "$HOOK" "$HOOK~"
        cl_exec "host$i" chmod 0644 "$HOOK-noexec"
done

# --- 1: routes for exactly the healthy web instances ---

cl_fleetctl host1 scale hello web=3 >/dev/null
wait_until 90 settled || fail "hello did not settle at web=3 with matching routes: $(routes_match)"
release=$(app_json host1 hello | jq -r .release)
n=0
while read -r key unit host port app process rel machine; do
        n=$((n + 1))
        assert_eq "${CL_PREFIX}routes/hello/$unit" "$key" "route key of $unit"
        assert_eq hello "$app" "app in the route of $unit"
        assert_eq web "$process" "process in the route of $unit"
        assert_eq "$release" "$rel" "release in the route of $unit"
        h=$(host_of_ip "$host") || fail "route of $unit names $host, which is no host's address"
        assert_eq "$(cl_machine_id "$h")" "$machine" "machine in the route of $unit"
        assert_eq "hello 1.0" "$(curl -sf -m 3 "http://$host:$port/")" "answer at the route of $unit"
        # bound to the lease of its machine
        lease=$(printf '%x' "$(cl_exec "$h" cat /run/fleetd/lease)")
        cl_etcdctl lease timetolive "$lease" --keys | grep -qF "$key" ||
                fail "the route of $unit is not bound to the lease of $h ($lease)"
done < <(routes)
assert_eq 3 "$n" "routes of hello"
routes | grep -q '\.worker@' && fail "a worker instance has a route: $(routes | grep '\.worker@')"

# --- 2: scale 3 -> 4 -> 3: added when healthy, removed before the instance stops ---

before=$(app_instances hello web | awk '{ print $1 }' | sort)
assert_exit 0 "scale web=4" cl_fleetctl host1 scale hello web=4
wait_until 60 web_passing_count 4 || fail "scale to 4 did not reach 4 healthy web instances: $(app_instances hello web)"
new=$(comm -13 <(echo "$before") <(app_instances hello web | awk '{ print $1 }' | sort))
if [ -z "$new" ] || [ "$(wc -l <<<"$new")" != 1 ]; then
        fail "expected one new web instance, saw: '$new'"
fi
read -r _ new_ip new_port _ < <(app_instances hello web | awk -v u="$new" '$1 == u')
new_host=$(host_of_ip "$new_ip") || fail "no host has the address $new_ip of $new"
log "new instance $new on $new_host ($new_ip:$new_port)"
wait_until 20 routes_match || fail "routes do not follow the scale up: $(routes_match)"
wait_until 10 hook_saw "$new_host" "$new" route-added || fail "the hook in $new_host did not see route-added of $new: $(cl_exec "$new_host" cat "$LOG" 2>&1)"
event=$(cl_exec "$new_host" cat "$LOG.json" | grep -F "\"unit\":\"$new\"" | head -1)
assert_eq route-added "$(jq -r .event <<<"$event")" "event of the hook's first record of $new"
assert_eq "hello web $new_ip $new_port $(cl_machine_id "$new_host")" \
        "$(jq -r '"\(.app) \(.process) \(.host) \(.port) \(.machine)"' <<<"$event")" "the hook's event for $new"

four=$(app_instances hello web)
assert_exit 0 "scale web=3" cl_fleetctl host1 scale hello web=3
gone=""
removed_one() {
        local now
        now=$(app_instances hello web | awk '{ print $1 }' | sort)
        [ "$(wc -l <<<"$now")" = 3 ] || return 1
        gone=$(comm -23 <(awk '{ print $1 }' <<<"$four" | sort) <(echo "$now"))
        [ -n "$gone" ]
}
wait_until 60 removed_one || fail "scale down to 3 did not remove an instance: $(app_instances hello web)"
removed_one       # wait_until ran it in a subshell: gone is set here
[ "$(wc -l <<<"$gone")" = 1 ] || fail "more than one instance went away: $gone"
gone_host=$(host_of_ip "$(awk -v u="$gone" '$1 == u { print $2 }' <<<"$four")") || fail "cannot tell where $gone ran"
log "scaled down: $gone in $gone_host"
wait_until 20 no_route "$gone" || fail "the route of $gone is still there"
inactive() { [ "$(cl_exec "$gone_host" systemctl is-active "$gone" 2>/dev/null)" != active ]; }
wait_until 30 inactive || fail "$gone still runs in $gone_host"
wait_until 10 hook_saw "$gone_host" "$gone" route-removed || fail "the hook in $gone_host did not see route-removed of $gone: $(cl_exec "$gone_host" cat "$LOG" 2>&1)"
records=$(hook_log "$gone_host" "$gone")
log "hook records of $gone in $gone_host:"$'\n'"$records"
# route-added (when it became healthy), then route-removed while the unit was still active
assert_eq "route-added route-removed" "$(awk '{ printf "%s%s", sep, $2; sep = " " }' <<<"$records")" "the events of $gone"
assert_eq active "$(awk '$2 == "route-removed" { print $4 }' <<<"$records")" \
        "state of $gone when its route was removed (the route goes before the unit stops)"
removed_at=$(awk '$2 == "route-removed" { print $1 }' <<<"$records")
stopping_at=$(cl_exec "$gone_host" journalctl -u "$gone" -o short-unix --no-pager | awk '/Stopping/ { print $1; exit }')
[ -n "$stopping_at" ] || fail "no 'Stopping' line in the journal of $gone"
log "route of $gone removed at $removed_at, its stop began at $stopping_at"
awk -v a="$removed_at" -v b="$stopping_at" 'BEGIN { exit !(b - a >= 1.0 && b - a < 10) }' ||
        fail "$gone began to stop $(awk -v a="$removed_at" -v b="$stopping_at" 'BEGIN { print b - a }')s after its route was removed (expected route_drain_delay, 2s)"
wait_until 30 settled || fail "hello did not settle at web=3 after scaling down: $(routes_match)"

# --- 3: fleetd restarted: the routes of its instances stay (never deleted in between) ---

# "create_revision mod_revision" of the route of UNIT
route_revs() {
        cl_etcdctl get "${CL_PREFIX}routes/hello/$1" -w json | jq -r '.kvs[0] | "\(.create_revision) \(.mod_revision)"'
}
kept=$(app_instances hello web | awk -v ip="$(cl_ip host2)" '$2 == ip { print $1; exit }')
if [ -n "$kept" ]; then
        read -r created modified < <(route_revs "$kept")
        cl_exec host2 systemctl restart fleetd.service
        rewritten() { [ "$(route_revs "$kept" | awk '{ print $2 }')" != "$modified" ]; }
        # an adopted instance is checked at once and its route written again
        wait_until 30 rewritten || fail "the restarted fleetd of host2 did not write the route of $kept again"
        assert_eq "$created" "$(route_revs "$kept" | awk '{ print $1 }')" \
                "create revision of the route of $kept (a fleetd restart must not delete it)"
        wait_until 20 routes_match || fail "routes after a fleetd restart in host2: $(routes_match)"
        log "fleetd restarted in host2: the route of $kept was written again, never deleted"
else
        log "no web instance on host2: fleetd restart not checked"
fi

# --- 4: unhealthy -> no route; healthy again -> route back ---

# an instance on host1 if there is one (its hook is then host1's), else the first
pick=$(app_instances hello web | awk -v ip="$(cl_ip host1)" '$2 == ip { print; exit }')
[ -n "$pick" ] || pick=$(app_instances hello web | head -1)
read -r sick sick_ip _ <<<"$pick"
sick_host=$(host_of_ip "$sick_ip") || fail "no host has the address $sick_ip"
container=${sick%.service}
container=${container/@/-}
log "making $sick ($container in $sick_host) unhealthy"
page=$(cl_exec "$sick_host" podman exec "$container" /bin/busybox cat /www/index.html)
cl_exec "$sick_host" podman exec "$container" /bin/busybox rm /www/index.html
health_of() { app_instances hello web | awk -v u="$1" '$1 == u { print $4 }'; }
failing() { [ "$(health_of "$sick")" = failing ]; }
wait_until 40 failing || fail "$sick did not become failing: $(app_instances hello web)"
wait_until 10 no_route "$sick" || fail "$sick is failing but still routed: $(routes)"
assert_eq 2 "$(routes | wc -l)" "routes while $sick is failing"
wait_until 10 hook_saw "$sick_host" "$sick" route-removed || fail "the hook in $sick_host did not see route-removed of $sick"
assert_eq active "$(cl_exec "$sick_host" systemctl is-active "$sick")" "$sick (a failing check stops nothing)"

printf '%s\n' "$page" | cl_exec "$sick_host" podman exec -i "$container" /bin/busybox tee /www/index.html >/dev/null
wait_until 30 has_route "$sick" || fail "$sick did not get its route back once healthy: $(app_instances hello web)"
wait_until 10 routes_match || fail "routes after $sick recovered: $(routes_match)"
last_added() { [ "$(hook_log "$sick_host" "$sick" | tail -1 | awk '{ print $2 }')" = route-added ]; }
wait_until 10 last_added || fail "the hook in $sick_host did not see $sick added again: $(hook_log "$sick_host" "$sick")"
log "hook records of $sick in $sick_host:"$'\n'"$(hook_log "$sick_host" "$sick")"

# not hooks: a backup file and a file that is not executable
for i in $(seq 1 "$(cl_nhosts)"); do
        cl_exec "host$i" test ! -e /run/test95-not-a-hook || fail "host$i ran a file that is not a hook"
done

# --- 5: a host powered off: its routes go with its lease ---

victim=host3
victim_ip=$(cl_ip "$victim")
routes | awk -v ip="$victim_ip" '$3 == ip' | grep -q . || fail "no route on $victim to see go away: $(routes)"
cl_host_poweroff "$victim"
cut=$(date +%s%N)
victim_unrouted() { ! routes | awk -v ip="$victim_ip" '$3 == ip' | grep -q .; }
wait_until $((ttl + 5)) victim_unrouted || fail "routes of $victim still there ${ttl}s (agent_ttl) + 5s after power off: $(routes)"
log "routes of $victim gone $((($(date +%s%N) - cut) / 1000000)) ms after power off"

cl_host_boot "$victim"
listed() { cl_listed host1 "$(cl_machine_id "$victim")"; }
wait_until 60 listed || fail "$victim not listed again after boot"
wait_until 90 settled || fail "hello did not settle after $victim came back: $(routes_match)"
# The power cut left the containers of the instances it killed in $victim's podman storage;
# fleetd-cleanup.service removed them at boot, before fleetd started.
stale=$(cl_exec "$victim" podman ps -a --format '{{.Names}} {{.State}}' | awk '$1 ~ /^hello_v/ && $2 != "running" { print $1 }')
assert_eq "" "$stale" "stopped hello containers left in $victim after its reboot"
assert_eq 1 "$(app_instances hello worker | wc -l)" "worker instances at the end"
