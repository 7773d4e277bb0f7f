# shellcheck shell=bash
# A rolling deploy of a new image under continuous requests: the app keeps answering (at every
# moment at least scale - 1 of the instances the API calls healthy answer: the documented window
# is the one old instance being stopped). Then a broken release rolls back by itself, and a
# manual rollback to v1 brings the old image back.
. "$(dirname "${BASH_SOURCE[0]}")/apps.sh"

app_images 1.0 2.0
[ "$(app_state hello)" = done ] || fail "test-92 left no running hello app"
cl_fleetctl host1 scale hello web=3 >/dev/null
wait_until 60 rollout_done hello || fail "hello did not settle at web=3"

sed 's|localhost/hello:1.0|localhost/hello:2.0|' "$CLUSTER_REPO/examples/apps/hello.yaml" >"$CLUSTER_DIR/hello2.yaml"
put_file host1 /root/hello2.yaml "$(cat "$CLUSTER_DIR/hello2.yaml")"

samples=$CLUSTER_DIR/samples.txt
: >"$samples"
(
        end=$(($(date +%s) + 40))
        while [ "$(date +%s)" -lt $end ]; do
                ok=0
                while read -r unit ip port health _; do
                        [ "$health" = passing ] || continue
                        curl -sf -m 1 "http://$ip:$port/" >/dev/null && ok=$((ok + 1))
                done < <(app_instances hello web 2>/dev/null)
                echo "$ok" >>"$samples"
                [ -f "$CLUSTER_DIR/stop-sampling" ] && break
                sleep 0.2
        done
) &
sampler=$!
assert_exit 0 "rolling deploy of 2.0" cl_fleetctl host1 deploy -f /root/hello2.yaml
touch "$CLUSTER_DIR/stop-sampling"
wait $sampler || true
rm -f "$CLUSTER_DIR/stop-sampling"
n=$(wc -l <"$samples")
min=$(sort -n "$samples" | head -1)
log "samples: $n, fewest answering healthy instances: $min"
[ "$n" -ge 5 ] || fail "too few samples ($n) during the rollout"
[ "$min" -ge 2 ] || fail "at some moment only $min healthy web instance(s) answered during the rolling deploy"
while read -r unit ip port health release; do
        assert_eq "hello 2.0" "$(curl -sf -m 3 "http://$ip:$port/")" "answer of $unit after the rolling deploy"
done < <(app_instances hello web)

# a release whose web process exits at once: it must roll back by itself
sed 's|command: \[/bin/busybox, httpd, -f, -v, -p, "${PORT}", -h, /www\]|command: [/bin/busybox, sh, -c, "echo broken; exit 3"]|' \
        "$CLUSTER_DIR/hello2.yaml" >"$CLUSTER_DIR/broken.yaml"
grep -q 'echo broken' "$CLUSTER_DIR/broken.yaml" || fail "could not make the broken manifest"
put_file host1 /root/broken.yaml "$(cat "$CLUSTER_DIR/broken.yaml")"
before=$(app_json host1 hello | jq -r .release)
assert_exit 1 "deploy of a broken release" cl_fleetctl host1 deploy -f /root/broken.yaml
assert_contains "$CL_ERR$CL_OUT" "rolling back" "what fleetctl says about the broken release"
settled() { [ "$(app_state hello)" = failed ] && [ "$(app_instances hello web | awk '$4 == "passing"' | wc -l)" = 3 ]; }
wait_until 60 settled || fail "the automatic rollback did not settle: $(app_json host1 hello | jq -c .rollout)"
json=$(app_json host1 hello)
broken=$((before + 1))
assert_eq $((before + 2)) "$(jq -r .release <<<"$json")" "release after the automatic rollback (a new one)"
assert_eq "$broken" "$(jq -r .rollout.rollbackOf <<<"$json")" "rollout.rollbackOf"
cause=$(cl_exec host1 curl -sf --unix-socket /run/fleetd/fleetd.sock http://localhost/v1/apps/hello/releases | jq -r '.releases[0].cause')
assert_contains "$cause" "automatic rollback to v$before" "cause of the newest release"
while read -r unit ip port health release; do
        assert_eq "hello 2.0" "$(curl -sf -m 3 "http://$ip:$port/")" "answer of $unit after the automatic rollback"
done < <(app_instances hello web)

# manual rollback to v1 (image 1.0)
assert_exit 0 "rollback to v1" cl_fleetctl host1 rollback hello v1
wait_until 60 rollout_done hello || fail "rollback to v1 did not finish"
while read -r unit ip port health release; do
        assert_eq "hello 1.0" "$(curl -sf -m 3 "http://$ip:$port/")" "answer of $unit after rollback to v1"
done < <(app_instances hello web)
