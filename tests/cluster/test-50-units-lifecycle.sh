# shellcheck shell=bash
# fleet's unit verbs on 3 real hosts, checked with systemctl inside the hosts: submit, start,
# stop, destroy; a template's instances spread over the hosts; list-units / list-unit-files.
. "$(dirname "${BASH_SOURCE[0]}")/units.sh"

unit_file host1 hello.service "$(sleeper)"
unit_file host1 web@.service "$(sleeper)"

assert_exit 0 "fleetctl submit" cl_fleetctl host1 submit /root/units/hello.service /root/units/web@.service
files=$(cl_fleetctl host1 list-unit-files --no-legend)
assert_contains "$files" hello.service "list-unit-files after submit"
assert_contains "$files" "web@.service" "list-unit-files after submit"
[ "$(active_count hello.service)" = 0 ] || fail "hello.service runs after a mere submit"

assert_exit 0 "fleetctl start hello.service" cl_fleetctl host1 start hello.service
wait_until 20 unit_host hello.service || fail "hello.service is not active on exactly one host"
h=$(unit_host hello.service)
log "hello.service runs on $h"
# fleetd wrote it where the design says, linked into /run/systemd/system
cl_exec "$h" test -f /run/fleetd/units/hello.service || fail "no /run/fleetd/units/hello.service on $h"
[ "$(cl_exec "$h" readlink /run/systemd/system/hello.service)" = /run/fleetd/units/hello.service ] ||
        fail "/run/systemd/system/hello.service on $h is not a link to fleetd's file"

assert_exit 0 "fleetctl start web@{1..3}" cl_fleetctl host1 start web@1.service web@2.service web@3.service
for i in 1 2 3; do
        wait_until 20 unit_host "web@$i.service" || fail "web@$i.service is not active on exactly one host"
done
spread=$(for i in 1 2 3; do unit_host "web@$i.service"; done | sort -u | wc -l)
assert_eq 3 "$spread" "distinct hosts running web@1..3 (instances spread)"

units=$(cl_fleetctl host2 list-units --no-legend)
for u in hello.service web@1.service web@2.service web@3.service; do
        assert_contains "$units" "$u" "list-units in host2"
done
assert_contains "$units" "running" "list-units SUB column"

assert_exit 0 "fleetctl stop hello.service" cl_fleetctl host1 stop hello.service
stopped() { [ "$(cl_exec "$h" systemctl is-active hello.service)" != active ]; }
wait_until 20 stopped || fail "hello.service still active on $h after stop"
cl_exec "$h" test -f /run/fleetd/units/hello.service || fail "stop (desired loaded) removed the unit file"

assert_exit 0 "fleetctl destroy" cl_fleetctl host1 destroy hello.service 'web@*'
gone() { no_unit_anywhere && [ "$(active_count web@1.service)" = 0 ]; }
wait_until 20 gone || fail "unit files or instances remain after destroy"
[ -z "$(cl_exec "$h" ls /run/systemd/system/hello.service 2>/dev/null)" ] || fail "the link in /run/systemd/system remains"
files=$(cl_fleetctl host1 list-unit-files --no-legend)
assert_not_contains "$files" hello.service "list-unit-files after destroy"
state=$(cl_etcdctl get --prefix "${CL_PREFIX}state/" --keys-only)
assert_eq "" "$state" "state/ keys left in etcd after destroy"
