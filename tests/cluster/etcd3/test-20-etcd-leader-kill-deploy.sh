# shellcheck shell=bash
# The etcd leader killed (SIGKILL) in the middle of a rolling deploy: the deploy completes,
# exactly one release is created, each instance the rollout created is started once, and no
# other unit restarts.
. "$(dirname "${BASH_SOURCE[0]}")/faults.sh"

app_done_at hello 1 || fail "test-10 left no hello v1"
snap=$CLUSTER_DIR/snap-20
unit_snapshot >"$snap"
releases=$(release_count hello)
next=$(app_record hello | jq -r .nextIndex)
rev0=$(etcd_revision)
write_manifest host1 /root/hello-2.yaml localhost/hello:2.0

out=$CLUSTER_DIR/deploy-20.out
( rc=0; cl_fleetctl host1 deploy -f /root/hello-2.yaml >"$out" 2>&1 || rc=$?; echo "exit $rc" >>"$out" ) &
deployer=$!
t0=$(now_ms)
# "during": the new release has instances in etcd, and not yet all of them
started() { [ "$(app_units hello | grep -c '^hello_v2\.')" -ge 1 ] && ! app_done_at hello 2; }
wait_until 60 started || fail "the rolling deploy of v2 did not start: $(app_record hello)"
leader=$(cluster_etcd_leader) || fail "no etcd leader before the kill"
log "killing etcd member $leader, the raft leader, $(($(now_ms) - t0)) ms into the deploy"
cluster_etcd_member_kill "$leader"
tk=$(now_ms)
wait_until 20 cluster_etcd_leader || fail "no new etcd leader within 20 s of killing the old one"
figure "etcd leader killed mid-deploy: new raft leader after" "$(($(now_ms) - tk)) ms"

wait "$deployer" || true
cat "$out"
grep -qx "exit 0" "$out" || fail "fleetctl deploy did not succeed across the etcd leader's death: $(tail -n 3 "$out" | tr '\n' ' ')"
figure "etcd leader killed mid-deploy: deploy of web=3 worker=1" "completed in $(($(now_ms) - t0)) ms"
app_done_at hello 2 || fail "hello is not done at v2: $(app_record hello)"
assert_eq $((releases + 1)) "$(release_count hello)" "releases after one deploy"

# exactly the instances of v2 the scale asks for were created (no index used twice or thrown away)
log "what the control plane did to units/ meanwhile:"
etcd_history "$rev0" "${CL_PREFIX}units/"
units=$(app_units hello)
assert_eq "" "$(grep -v '^hello_v2\.' <<<"$units" || true)" "instances of an older release left in etcd"
assert_eq 3 "$(grep -c '^hello_v2\.web@' <<<"$units")" "v2 web instances"
assert_eq 1 "$(grep -c '^hello_v2\.worker@' <<<"$units")" "v2 worker instances"
assert_eq $((next + 4)) "$(app_record hello | jq -r .nextIndex)" "nextIndex after the rollout (4 instances created)"
# each started once, where it runs
for u in $units; do
        h=$(unit_host "$u") || fail "$u does not run on exactly one host"
        assert_eq 1 "$(unit_starts "$h" "$u")" "starts of $u in $h"
done
# the bystanders and nothing else: same invocation as before the kill
assert_unchanged "$snap" "after the etcd leader's death" '^host[0-9]+ hello_v1\.'

cluster_etcd_member_start "$leader" || fail "etcd member $leader does not come back"
wait_until 20 cluster_etcd_member_healthy "$leader" || fail "etcd member $leader is not healthy again"
