# shellcheck shell=bash
# Destroying an app leaves nothing behind: no key in etcd (apps/, releases/, units/, state/,
# schedule/), no unit or port file, no container, on any host.
. "$(dirname "${BASH_SOURCE[0]}")/apps.sh"

[ -n "$(app_json host1 hello 2>/dev/null)" ] || fail "no hello app to destroy (test-92 runs first)"
assert_exit 0 "destroy the app" cl_fleetctl host1 apps destroy hello
assert_contains "$CL_OUT" "Destroyed hello" "destroy output"
wait_until 30 no_app_left hello || fail "something of hello is left: $(no_app_left hello)"
assert_exit 4 "ps of a destroyed app" cl_fleetctl host1 ps hello
