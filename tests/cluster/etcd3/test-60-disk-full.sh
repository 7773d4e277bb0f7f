# shellcheck shell=bash
# A full disk on a host (a small tmpfs over /run/fleetd/units, where the agent writes unit files):
# the unit's state record says why, no part of the unit file ever reaches systemd (the unit stays
# unknown to systemd while the agent tries again), nothing else stops or restarts, and the unit
# is written whole and runs once there is room again. The tmpfs stays (with room) afterwards.
. "$(dirname "${BASH_SOURCE[0]}")/faults.sh"

h=host2
mid=$(cl_machine_id $h)
snap=$CLUSTER_DIR/snap-60
# a unit file of 12 KiB, more than the one page the full disk leaves
big=$(sleeper "MachineMetadata=host=$h")
pad=$(printf 'x%.0s' $(seq 1 100))
for i in $(seq 1 110); do
        big=$(sed "s|^ExecStart=|Environment=PAD$i=$pad\nExecStart=|" <<<"$big")
done
unit_file host1 big.service "$big"
[ "$(wc -c <<<"$big")" -gt 12000 ] || fail "the big unit file is too small"
unit_snapshot >"$snap"

# the tmpfs gets a copy of what is there, then covers the directory; then it is filled but for one page
cl_exec $h sh -c 'set -e; mkdir -p /run/fleetd-full; mount -t tmpfs -o size=128k,mode=0755 fleetd-full /run/fleetd-full
        cp -a /run/fleetd/units/. /run/fleetd-full/; mount --bind /run/fleetd-full /run/fleetd/units
        dd if=/dev/zero of=/run/fleetd/units/.fill bs=4096 2>/dev/null || true; truncate -s -4096 /run/fleetd/units/.fill'
cleanup() { cl_exec $h sh -c 'rm -f /run/fleetd/units/.fill' || true; }
# shellcheck disable=SC2154 # rc is set in the trap itself
trap 'rc=$?; cleanup; (exit $rc); cl__on_exit' EXIT
log "$h: $(cl_exec $h df -k /run/fleetd/units | tail -n 1)"

t0=$(now_ms)
assert_exit 0 "start big.service" cl_fleetctl host1 start --no-block /root/units/big.service
state() { cl_etcdctl get "${CL_PREFIX}state/big.service/$mid" --print-value-only; }
said() { state | jq -e '.error | test("No space left on device")' >/dev/null; }
wait_until 20 said || fail "the state of big.service does not say the disk is full: $(state)"
figure "full disk: the unit's state says why after" "$(($(now_ms) - t0)) ms ($(state | jq -r .error))"
# and the timeline says it once, from that host's agent
write_events() {
        cl_exec host1 curl -sf --unix-socket /run/fleetd/fleetd.sock \
                "http://localhost/v1/events?unit=big.service&limit=100" | jq -c '[.events[] | select(.kind == "unit.write_failed")]'
}
told() { [ "$(write_events | jq length)" = 1 ]; }
wait_until 10 told || fail "unit.write_failed events of big.service: $(write_events)"
assert_contains "$(write_events | jq -r '.[0].details.error')" "No space left on device" "the event's error"
assert_eq "agent@$h" "$(write_events | jq -r '.[0].who')" "who told it"
# nothing of it reaches systemd, for a while (the agent tries again meanwhile)
for _ in $(seq 1 12); do
        left=$(cl_exec $h sh -c 'ls -A /run/fleetd/units | grep -v "^\.fill$" | grep -E "big\.service|^\.#" || true')
        [ -z "$left" ] || fail "a part of a unit file is in /run/fleetd/units: $left"
        load=$(cl_exec $h systemctl show -p LoadState --value big.service)
        [ "$load" = not-found ] || fail "systemd has big.service ($load) although its file could not be written"
        sleep 0.5
done
assert_unchanged "$snap" "while the disk was full"

# room again: written whole, started once, the error gone
cleanup
t0=$(now_ms)
running() { [ "$(unit_host big.service)" = $h ]; }
wait_until 30 running || fail "big.service does not run on $h after space returned: $(state)"
figure "full disk: the unit runs after space returned, within" "$(($(now_ms) - t0)) ms"
recorded=$(cl_etcdctl get "${CL_PREFIX}units/big.service" --print-value-only | jq -r .hash)
assert_eq "$recorded" "$(cl_exec $h sha256sum /run/fleetd/units/big.service | awk '{print $1}')" "hash of the file on $h"
no_error() { [ "$(state | jq -r '.error // "none"')" = none ]; }
wait_until 10 no_error || fail "the state of big.service still has an error: $(state)"
assert_eq 1 "$(unit_starts $h big.service)" "starts of big.service"
assert_unchanged "$snap" "after the disk had room again"
cl_exec host1 curl -sf -X DELETE --unix-socket /run/fleetd/fleetd.sock http://localhost/v1/units/big.service >/dev/null
gone() { [ -z "$(active_hosts big.service)" ]; }
wait_until 20 gone || fail "big.service still runs after its destruction"
