# shellcheck shell=bash
# Host ports and health checks on a real host: a unit with [X-Fleetd] Port= gets a free host
# port (its state record's "port", /run/fleetd/ports/<unit>.env), serves on it, and its
# HealthHTTP= check is published as "health" (passing); a check that gets 404 ends "failing";
# two such units on one host get different ports; a restarted fleetd keeps them; a stopped unit
# is "starting" again; destroy removes the .env files.
. "$(dirname "${BASH_SOURCE[0]}")/units.sh"

id1=$(cl_machine_id host1)
ip1=$(cl_ip host1)
www=/run/test57-www

# busybox httpd on the assigned port, pinned to host1, checked at PATH every second.
web() {
        # shellcheck disable=SC2016 # ${PORT} is systemd's to expand
        printf '%s\n' '[Unit]' 'Description=fleetd test web server' '' '[Service]' \
                'EnvironmentFile=/run/fleetd/ports/%n.env' \
                "ExecStart=/bin/busybox httpd -f -p \${PORT} -h $www" '' \
                '[X-Fleet]' "MachineID=$id1" '' \
                '[X-Fleetd]' 'Port=8080' "HealthHTTP=$1" 'HealthInterval=1s'
}

# The state record of UNIT on host1, and one field of it ("" if absent).
state_of() {
        cl_etcdctl get --print-value-only --prefix "${CL_PREFIX}state/$1/$id1"
}
field() {
        local s
        s=$(state_of "$1") || return 1
        jq -r --arg f "$2" '.[$f] // empty' <<<"$s"
}
health_is() {
        [ "$(field "$1" health)" = "$2" ]
}
has_port() {
        [ -n "$(field "$1" port)" ]
}
in_range() {
        [ "$1" -ge 20000 ] && [ "$1" -le 29999 ]
}

cl_exec host1 mkdir -p "$www"
printf 'hello from test-57\n' | cl_exec host1 tee "$www/index.html" >/dev/null
unit_file host1 good.service "$(web /)"
unit_file host1 bad.service "$(web /missing)"

# 1: a port in the range, written for the unit, served on, and a passing check
assert_exit 0 "fleetctl start good.service" cl_fleetctl host1 start /root/units/good.service
wait_until 30 has_port good.service || fail "no port in good.service's state: $(state_of good.service)"
port1=$(field good.service port)
log "good.service: port $port1"
in_range "$port1" || fail "port $port1 is not in 20000-29999"
assert_eq "PORT=$port1" "$(cl_exec host1 cat /run/fleetd/ports/good.service.env)" "good.service.env"
wait_until 30 health_is good.service passing || fail "good.service is not passing: $(state_of good.service)"
page=$(curl -sf -m 5 "http://$ip1:$port1/") || fail "curl http://$ip1:$port1/ failed"
assert_eq "hello from test-57" "$page" "page served on the assigned port"

# 2: a second unit on the same host gets another port; its check gets 404 and fails
assert_exit 0 "fleetctl start bad.service" cl_fleetctl host1 start /root/units/bad.service
wait_until 30 has_port bad.service || fail "no port in bad.service's state: $(state_of bad.service)"
port2=$(field bad.service port)
log "bad.service: port $port2"
[ "$port2" != "$port1" ] || fail "both units got port $port1"
in_range "$port2" || fail "port $port2 is not in 20000-29999"
wait_until 10 health_is bad.service starting || fail "bad.service is not starting: $(state_of bad.service)"
wait_until 30 health_is bad.service failing || fail "bad.service is not failing: $(state_of bad.service)"
curl -s -o /dev/null -m 5 "http://$ip1:$port2/" || fail "bad.service does not serve on port $port2"
health_is good.service passing || fail "good.service is no longer passing: $(state_of good.service)"
assert_eq active "$(cl_exec host1 systemctl is-active bad.service)" "bad.service (a failing check stops nothing)"

# 3: fleetd restarted: the units keep running on their ports, and are checked again
ts=$(enter_ts host1 good.service)
cl_exec host1 systemctl restart fleetd.service
wait_until 30 cl_exec host1 systemctl is-active fleetd.service || fail "fleetd did not come back"
sleep 2
wait_until 30 health_is good.service passing || fail "good.service not passing after fleetd restart"
assert_eq "$ts" "$(enter_ts host1 good.service)" "good.service's start time (fleetd restart restarts nothing)"
assert_eq "$port1" "$(field good.service port)" "good.service's port after a fleetd restart"
assert_eq "$port2" "$(field bad.service port)" "bad.service's port after a fleetd restart"
assert_eq "PORT=$port1" "$(cl_exec host1 cat /run/fleetd/ports/good.service.env)" "good.service.env after restart"
wait_until 30 health_is bad.service failing || fail "bad.service not failing after fleetd restart"

# 4: stopped: no checks, back to starting; the port stays the unit's
assert_exit 0 "fleetctl stop good.service" cl_fleetctl host1 stop good.service
wait_until 20 health_is good.service starting || fail "good.service is not starting once stopped: $(state_of good.service)"
assert_eq "$port1" "$(field good.service port)" "good.service's port while stopped"

# 5: destroyed: the port files go with the units
assert_exit 0 "fleetctl destroy" cl_fleetctl host1 destroy good.service bad.service
no_env() { [ -z "$(cl_exec host1 ls -A /run/fleetd/ports)" ]; }
wait_until 20 no_env || fail "port files left: $(cl_exec host1 ls -A /run/fleetd/ports)"
wait_until 20 no_unit_anywhere || fail "unit files left after destroy"
cl_exec host1 rm -rf "$www"
