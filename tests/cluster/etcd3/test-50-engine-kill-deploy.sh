# shellcheck shell=bash
# The engine leader's fleetd SIGKILLed every 2 s, ten times, during a deploy of web=6: the rollout
# finishes exactly once (etcd's history of apps/hello), no orphan unit (in systemd, podman and
# etcd), no instance of the old release left, each new instance started once.
. "$(dirname "${BASH_SOURCE[0]}")/faults.sh"

app_done_at hello 2 || fail "no hello v2"
snap=$CLUSTER_DIR/snap-50
unit_snapshot >"$snap"
releases=$(release_count hello)
next=$(app_record hello | jq -r .nextIndex)
rev0=$(etcd_revision)
lh=$(engine_leader_host) || fail "no engine leader"
deployer=host1
[ "$lh" != host1 ] || deployer=host2
write_manifest "$deployer" /root/hello-6.yaml localhost/hello:1.0 6

t0=$(now_ms)
assert_exit 0 "deploy web=6" cl_fleetctl "$deployer" deploy --no-wait -f /root/hello-6.yaml
kills=0
while [ $kills -lt 10 ]; do
        lh=$(engine_leader_host) || { sleep 0.2; continue; }
        up() { [ "$(fleetd_pid "$lh")" != 0 ]; }
        wait_until 10 up || fail "fleetd of $lh does not come back"
        cl_exec "$lh" kill -KILL "$(fleetd_pid "$lh")"
        kills=$((kills + 1))
        log "kill $kills: fleetd of $lh, the engine leader"
        sleep 2
done
figure "engine leader's fleetd SIGKILLed every 2 s" "10 times in $(($(now_ms) - t0)) ms"
wait_until 180 app_done_at hello 3 || fail "the rollout of v3 did not finish: $(app_record hello)"
figure "engine leader killed 10 times: deploy of web=6 worker=1 done after" "$(($(now_ms) - t0)) ms"

# exactly once: the app record went to "done" at v3 once, and never failed or rolled back
history=$(timeout 3 env ETCDCTL_API=3 etcdctl --endpoints="$CLUSTER_ETCD_ENDPOINTS" watch --rev="$rev0" \
        "${CL_PREFIX}apps/hello" | grep -a '^{' || true)
states=$(jq -r '"\(.release) \(.rollout.state)"' <<<"$history" | uniq)
log "rollout states of apps/hello meanwhile: $(tr '\n' ',' <<<"$states")"
assert_eq 1 "$(grep -c '^3 done$' <<<"$states")" "times the rollout of v3 became done"
assert_eq "" "$(grep -v -E '^(2 done|3 rolling|3 done)$' <<<"$states" || true)" "other rollout states meanwhile"
assert_eq $((releases + 1)) "$(release_count hello)" "releases after one deploy"
units=$(app_units hello)
assert_eq "" "$(grep -v '^hello_v3\.' <<<"$units" || true)" "instances of an older release in etcd"
assert_eq 6 "$(grep -c '^hello_v3\.web@' <<<"$units")" "v3 web instances"
assert_eq 1 "$(grep -c '^hello_v3\.worker@' <<<"$units")" "v3 worker instances"
assert_eq $((next + 7)) "$(app_record hello | jq -r .nextIndex)" "nextIndex (7 instances created, each once)"

# no orphan: what each host has is what etcd schedules there, and nothing of v2 anywhere
settled() {
        local i mid files sched c
        for i in $(seq 1 "$(cl_nhosts)"); do
                mid=$(cl_machine_id "host$i")
                files=$(cl_exec "host$i" ls /run/fleetd/units | sort)
                sched=$(cl_etcdctl get --prefix "${CL_PREFIX}schedule/$mid/" --keys-only | sed -n "s|^${CL_PREFIX}schedule/$mid/||p" | sort)
                [ "$files" = "$sched" ] || { echo "host$i has [$files], etcd schedules [$sched]"; return 1; }
                c=$(cl_exec "host$i" podman ps -a --format '{{.Names}}' | grep '^hello_v' | grep -v '^hello_v3\.' || true)
                [ -z "$c" ] || { echo "host$i has containers $c"; return 1; }
                c=$(cl_exec "host$i" systemctl list-units --plain --no-legend 'hello_v*' | awk '{print $1}' |
                        grep -v '^hello_v3\.' || true)
                [ -z "$c" ] || { echo "host$i has units $c"; return 1; }
        done
}
if ! wait_until 30 settled; then
        for i in $(seq 1 "$(cl_nhosts)"); do
                log "host$i: $(cl_exec "host$i" systemctl list-units --all --plain --no-legend 'hello_v*' | tr -s ' ' | tr '\n' ';')"
                log "host$i: $(cl_exec "host$i" podman ps -a --format '{{.Names}} {{.Status}}' | tr '\n' ';')"
                log "host$i: $(cl_exec "host$i" ls /run/fleetd/units | tr '\n' ' ')"
        done
        fail "orphans left: $(settled)"
fi
for k in $(cl_etcdctl get --prefix "${CL_PREFIX}schedule/" --keys-only | grep -a . | sed 's|.*/||' | sort -u); do
        [ -n "$(cl_etcdctl get "${CL_PREFIX}units/$k" --keys-only)" ] || fail "schedule/ names $k, which units/ does not have"
done
for u in $units; do
        h=$(unit_host "$u") || fail "$u does not run on exactly one host"
        assert_eq 1 "$(unit_starts "$h" "$u")" "starts of $u in $h"
done
assert_unchanged "$snap" "while the engine leader was killed" '^host[0-9]+ hello_v2\.'
