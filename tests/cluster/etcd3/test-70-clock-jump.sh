# shellcheck shell=bash
# The wall clock of a host set forward by an hour, then back by two (an hour behind), while it
# runs the engine leader and rollouts are under way: no lease is lost, no unit stops, and
# rollouts keep their deadline (60 s for a new instance to become healthy, timed on the
# monotonic clock): a slow but healthy release is not rolled back, one whose instances never get
# healthy is, neither at once nor an hour late.
#
# How the clock moves: CLOCK_REALTIME is not namespaced, so `date -s` in a host (an nspawn
# container without CAP_SYS_TIME) cannot, and must not, set it: it is this machine's clock. A
# time namespace offsets only the monotonic and boot clocks. So fleetd in that host runs with
# libfaketime preloaded, its realtime offset read from a file each second, and the monotonic
# clock left alone (DONT_FAKE_MONOTONIC=1): for fleetd the host's wall clock jumps. timerfd-real.c,
# preloaded first, keeps libfaketime away from the kernel's timers (see there).
. "$(dirname "${BASH_SOURCE[0]}")/faults.sh"

lib=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
[ -e "$lib" ] || skip "libfaketime is not installed (tools/install-deps installs it)"
capbnd=$(cl_exec host1 sh -c 'sed -n "s/^CapBnd:[[:space:]]*//p" /proc/1/status')
if (((0x$capbnd >> 25) & 1)); then
        log "note: the hosts' bounding set has CAP_SYS_TIME"
else
        log "the hosts have no CAP_SYS_TIME (CapBnd $capbnd): date -s inside cannot set the clock"
fi
cur=$(app_record hello | jq -r .release)
app_done_at hello "$cur" || fail "hello is not done at v$cur: $(app_record hello)"
slow_v=$((cur + 1)) never_v=$((cur + 2)) back_v=$((cur + 3))
lh=$(engine_leader_host) || fail "no engine leader"
shim=$CLUSTER_DIR/timerfd-real.so
gcc -shared -fPIC -O2 -o "$shim" "$(dirname "${BASH_SOURCE[0]}")/timerfd-real.c" || fail "cannot build timerfd-real.so"
# (not under /run: it is noexec, and ld.so maps nothing from there)
cl_exec "$lh" mkdir -p /usr/local/lib/fleetd-test
cl_exec "$lh" tee /usr/local/lib/fleetd-test/timerfd-real.so <"$shim" >/dev/null
clock() { printf '%s\n' "$1" | cl_exec "$lh" tee /run/fleetd-faketime >/dev/null; log "$lh: fleetd's clock at $1"; }
clock +0
cl_exec "$lh" mkdir -p /run/systemd/system/fleetd.service.d
put_file "$lh" /run/systemd/system/fleetd.service.d/50-faketime.conf "[Service]
Environment=\"LD_PRELOAD=/usr/local/lib/fleetd-test/timerfd-real.so $lib\" FAKETIME_TIMESTAMP_FILE=/run/fleetd-faketime FAKETIME_CACHE_DURATION=1 DONT_FAKE_MONOTONIC=1"
cl_exec "$lh" systemctl daemon-reload
cl_exec "$lh" systemctl restart fleetd.service
faked() { cl_exec "$lh" grep -q libfaketime "/proc/$(fleetd_pid "$lh")/maps"; }
wait_until 10 faked || fail "fleetd in $lh does not run with libfaketime"
leads() { [ "$(engine_leader_host)" = "$lh" ]; }
wait_until 20 leads || fail "$lh no longer leads after its fleetd restarted"
snap=$CLUSTER_DIR/snap-70
unit_snapshot >"$snap"
leases=$(machine_leases)
releases=$(release_count hello)
slow='[/bin/busybox, sh, -c, "sleep 8; exec /bin/busybox httpd -f -v -p ${PORT} -h /www"]'

# forward an hour while the new instances are starting: they still get their 60 s
write_manifest host1 /root/hello-slow.yaml localhost/hello:2.0 2 "$slow"
t0=$(now_ms)
assert_exit 0 "deploy a slow release" cl_fleetctl host1 deploy --no-wait -f /root/hello-slow.yaml
starting() { app_instances hello web | grep -q "^hello_v$slow_v\\.web@.* starting $slow_v\$"; }
wait_until 30 starting || fail "no v$slow_v instance is starting: $(app_instances hello)"
clock +1h
wait_until 120 app_done_at hello "$slow_v" || fail "the slow release did not roll out with the clock an hour ahead: $(app_record hello)"
figure "clock +1 h on the engine leader during a rollout (instances healthy after 8 s)" \
        "done in $(($(now_ms) - t0)) ms, no rollback ($(($(release_count hello) - releases)) release made)"
assert_eq $((releases + 1)) "$(release_count hello)" "releases after the slow deploy"

# back two hours (an hour behind) after instances that never get healthy were made (no machine
# has the role they ask for: they stay starting, unplaced): rolled back after 60 s
write_manifest host1 /root/hello-never.yaml localhost/hello:2.0 2
cl_exec host1 sed -i 's|^    resources: {memory: 32M, cpu: 0.1}$|&\n    constraints: {metadata: {role: nowhere}}|' /root/hello-never.yaml
cl_exec host1 grep -q 'role: nowhere' /root/hello-never.yaml || fail "could not make the never-healthy manifest"
t0=$(now_ms)
assert_exit 0 "deploy a release that never gets healthy" cl_fleetctl host1 deploy --no-wait -f /root/hello-never.yaml
made() { app_units hello | grep -q "^hello_v$never_v\\.web@"; }
wait_until 30 made || fail "no v$never_v instance made"
clock -1h
rolled_back() { [ "$(app_record hello | jq -r '.rollout.rollbackOf // 0')" = "$never_v" ]; }
wait_until 120 rolled_back || fail "the never-healthy release was not rolled back within 120 s: $(app_record hello)"
dt=$(($(now_ms) - t0))
figure "clock -2 h (to -1 h) on the engine leader during a rollout that never gets healthy" "rolled back after $dt ms"
[ "$dt" -ge 55000 ] || fail "rolled back after $dt ms: before the 60 s deadline"
settled() { [ "$(app_record hello | jq -r '"\(.release) \(.rollout.state)"')" = "$back_v failed" ] &&
        [ "$(app_instances hello web | awk '$4 == "passing"' | wc -l)" = 2 ]; }
wait_until 90 settled || fail "the rollback to v$back_v did not settle: $(app_record hello)"

# the clock back to true time, fleetd without libfaketime
clock +0
cl_exec "$lh" rm -f /run/systemd/system/fleetd.service.d/50-faketime.conf /usr/local/lib/fleetd-test/timerfd-real.so
cl_exec "$lh" systemctl daemon-reload
cl_exec "$lh" systemctl restart fleetd.service
assert_eq "$leases" "$(machine_leases)" "machine leases across the clock's jumps"
assert_unchanged "$snap" "across the clock's jumps" '^host[0-9]+ hello_v'
figure "clock jumps (+1 h, -2 h): leases lost, bystanders restarted" "0, 0"
