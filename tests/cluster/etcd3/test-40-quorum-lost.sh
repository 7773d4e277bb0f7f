# shellcheck shell=bash
# Quorum lost for 60 s (two of the three members stopped): every unit keeps running, API reads
# fail fast with 503 etcd_unavailable (they do not hang), and within 5 s of the quorum's return
# the control plane works again: a scale request succeeds, and is carried out.
. "$(dirname "${BASH_SOURCE[0]}")/faults.sh"

app_done_at hello 2 || fail "no hello v2"
snap=$CLUSTER_DIR/snap-40
unit_snapshot >"$snap"
leases=$(machine_leases)
leader=$(cluster_etcd_leader) || fail "no etcd leader"
other=$((leader % 3 + 1))
survivor=$((other % 3 + 1))

cluster_etcd_member_stop "$leader"
cluster_etcd_member_stop "$other"
t0=$(now_ms)
log "etcd members $leader and $other stopped; member $survivor alone has no quorum"

# reads through every host's API, every ~10 s for 60 s: 503 etcd_unavailable, and fast
samples=0 slowest=0
read_once() {
        local h=$1 path=$2 out code ms
        out=$(cl_exec "$h" curl -s -m 30 --unix-socket /run/fleetd/fleetd.sock -w '\n%{http_code} %{time_total}' \
                "http://localhost$path")
        read -r code ms <<<"$(tail -n 1 <<<"$out")"
        ms=$(awk -v s="$ms" 'BEGIN { printf "%d", s * 1000 }')
        [ "$code" = 503 ] || fail "GET $path in $h without quorum: HTTP $code, expected 503 ($(head -c 300 <<<"$out"))"
        assert_eq etcd_unavailable "$(head -n -1 <<<"$out" | jq -r .error.code)" "error code of GET $path in $h"
        [ "$ms" -le 6000 ] || fail "GET $path in $h took $ms ms to fail without quorum"
        samples=$((samples + 1))
        [ "$ms" -le "$slowest" ] || slowest=$ms
}
while [ $(($(now_ms) - t0)) -lt 55000 ]; do
        for h in host1 host2 host3; do
                read_once "$h" /v1/apps/hello
                read_once "$h" /v1/machines
        done
        sleep 5
done
figure "quorum lost: API reads (GET /v1/apps/hello, /v1/machines on every host)" \
        "$samples of $samples answered 503 etcd_unavailable, the slowest in $slowest ms"
sleep $(((60000 - ($(now_ms) - t0)) / 1000)) 2>/dev/null || true
assert_unchanged "$snap" "after 60 s without quorum"
figure "quorum lost for $((($(now_ms) - t0) / 1000)) s: units stopped or restarted" 0

# the quorum returns: a leader, then the control plane within 5 s
cluster_etcd_member_start "$leader" up
cluster_etcd_member_start "$other" up
wait_until 30 cluster_etcd_leader || fail "no etcd leader after both members were started again"
tq=$(now_ms)
log "quorum back ($(($(now_ms) - t0)) ms after the stop)"
scaled() { cl_fleetctl host1 scale --no-wait hello worker=2 >/dev/null; }
wait_until 10 scaled || fail "no scale request succeeded within 10 s of the quorum's return"
dt=$(($(now_ms) - tq))
figure "quorum back: first successful scale request after" "$dt ms"
[ "$dt" -le 5000 ] || fail "the first scale request succeeded only $dt ms after the quorum returned (at most 5000)"
two_workers() { rollout_done hello && [ "$(app_instances hello worker | wc -l)" = 2 ]; }
wait_until 60 two_workers || fail "the scale to worker=2 was not carried out: $(app_record hello)"
figure "quorum back: scale worker=1 -> 2 carried out after" "$(($(now_ms) - tq)) ms"
assert_unchanged "$snap" "after the quorum returned"
assert_eq "$leases" "$(machine_leases)" "machine leases after 60 s without quorum"
wait_until 20 cluster_etcd_member_healthy "$leader" || fail "etcd member $leader is not healthy"
wait_until 20 cluster_etcd_member_healthy "$other" || fail "etcd member $other is not healthy"
assert_exit 0 "scale back to worker=1" cl_fleetctl host1 scale hello worker=1
