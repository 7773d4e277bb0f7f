# shellcheck shell=bash
# From source to release with the real registry (Debian's docker-registry as a fleet unit) and
# real podman: deploy --build of a directory (examples/apps/hello/ as app "built"), served
# through the router; a changed file is a new build and the page changes; the v1 tag moved to
# v2's image and a rollback to v1 still runs v1's digest (podman inspect in the hosts); a
# Containerfile with an error fails with podman's output and makes no release; a registry that
# is down makes a rollout that must pull fail, roll back, and say why.
. "$(dirname "${BASH_SOURCE[0]}")/apps.sh"

app=built
edge_ip=$(cl_ip host3)
reg=$(cluster_registry_address)
via() { curl -s -m 3 -H "Host: $app.$CLUSTER_DOMAIN" "http://$edge_ip/"; }
releases() { cl_exec host1 curl -sf --unix-socket /run/fleetd/fleetd.sock "http://localhost/v1/apps/$app/releases"; }

cluster_start_registry 1 || fail "the registry unit did not come up at $reg"
cluster_image_busybox 1 localhost/busybox:test || fail "cannot import the busybox base image into host1"

# the build context: examples/apps/hello/ as app "built", web=2, no worker
ctx=$CLUSTER_DIR/built-src
rm -rf "$ctx" && cp -a "$CLUSTER_REPO/examples/apps/hello" "$ctx"
sed -i -e 's/^app: hello$/app: built/' -e 's/    scale: 3/    scale: 2/' -e '/^  # A tick/,$d' "$ctx/fleetd.yaml"
echo "notes, not sent" >"$ctx/README.md"
send_ctx() {
        cl_exec host1 rm -rf /root/built
        cl_exec host1 mkdir -p /root/built
        tar -C "$ctx" -c . | cl_exec host1 tar -x -C /root/built
}

# v1: built, pushed, deployed by digest, served through the router
echo "built v1" >"$ctx/index.html"
send_ctx
assert_exit 0 "deploy --build v1" cl_fleetctl host1 deploy --build /root/built
assert_contains "$CL_OUT" "STEP 2/2: COPY index.html /www/index.html" "the build's own output"
assert_contains "$CL_OUT" "Built $reg/$app:" "the pushed image"
assert_contains "$CL_OUT" "$app v1 is running" "deploy --build output"
d1=$(releases | jq -r '.releases[0].digest')
[[ $d1 == sha256:* ]] || fail "release v1 has no digest: $(releases | jq -c '.releases[0]')"
tag1=$(releases | jq -r '.releases[0].image')
cluster_start_router 1 || fail "the router did not start"
v1_served() { [ "$(via)" = "built v1" ]; }
wait_until 30 v1_served || fail "http://$app.$CLUSTER_DOMAIN/ does not answer 'built v1': $(via)"
# the hosts run it by digest; those that did not build it pulled it from the registry
while read -r unit ip port _; do
        assert_eq "built v1" "$(curl -sf -m 3 "http://$ip:$port/")" "answer of $unit"
done < <(app_instances "$app" web)
img=$(cl_exec host2 podman images --digests --format '{{.Repository}}@{{.Digest}}' | grep -F "$reg/$app@$d1" || true)
[ -n "$img" ] || [ -z "$(app_instances "$app" web | awk -v ip="$(cl_ip host2)" '$2 == ip')" ] ||
        fail "host2 runs an instance but has no $reg/$app@$d1"
# .containerignore kept README.md out of the image
# (the builder knows its image by tag: podman push does not record the digest locally)
cid=$(cl_exec host1 podman create "$tag1" /bin/busybox true)
readme=$(cl_exec host1 podman export "$cid" | tar -t | grep -c 'README.md' || true)
cl_exec host1 podman rm "$cid" >/dev/null
assert_eq 0 "$readme" "files left out by .containerignore in the image"

# v2: a changed file, a new build, the page changes
echo "built v2" >"$ctx/index.html"
send_ctx
assert_exit 0 "deploy --build v2" cl_fleetctl host1 deploy --build /root/built
assert_contains "$CL_OUT" "$app v2 is running" "deploy --build v2 output"
d2=$(releases | jq -r '.releases[0].digest')
tag2=$(releases | jq -r '.releases[0].image')
[ "$d2" != "$d1" ] || fail "v2 has the digest of v1: $d2"
v2_served() { [ "$(via)" = "built v2" ] && [ "$(via)" = "built v2" ]; }
wait_until 30 v2_served || fail "the page did not change to 'built v2': $(via)"

# the v1 tag now names v2's image: a rollback to v1 still runs v1's digest
cl_exec host1 podman tag "$tag2" "$tag1"
cl_exec host1 podman push --authfile /etc/fleetd/registry-auth.json "$tag1" >/dev/null 2>&1 ||
        fail "cannot move the tag $tag1 to v2's image"
moved=$(cl_exec host1 skopeo inspect --no-tags --format '{{.Digest}}' "docker://$tag1")
assert_eq "$d2" "$moved" "the digest the v1 tag names now"
assert_exit 0 "rollback to v1" cl_fleetctl host1 rollback "$app" v1
wait_until 60 rollout_done "$app" || fail "the rollback did not finish: $(app_json host1 "$app" | jq -c .rollout)"
assert_eq "$d1" "$(releases | jq -r '.releases[0].digest')" "digest of the rollback's release"
wait_until 30 v1_served || fail "after the rollback the page is not 'built v1': $(via)"
while read -r unit ip port _; do
        host=""
        for i in 1 2 3; do [ "$(cl_ip "host$i")" = "$ip" ] && host=host$i; done
        name=$(sed -e 's/@/-/' -e 's/\.service$//' <<<"$unit")
        ran=$(cl_exec "$host" podman inspect --format '{{.ImageName}}' "$name")
        assert_eq "$reg/$app@$d1" "$ran" "the image $unit runs in $host"
done < <(app_instances "$app" web)

# a Containerfile with an error: the build's own message, no release
before=$(releases | jq '.releases | length')
printf 'FROM localhost/busybox:test\nCOPY no-such-file /www/\n' >"$ctx/Containerfile"
send_ctx
assert_exit 1 "deploy --build of a broken Containerfile" cl_fleetctl host1 deploy --build /root/built
assert_contains "$CL_ERR" "failed" "what fleetctl says"
assert_contains "$CL_OUT$CL_ERR" "no-such-file" "podman build's own error"
assert_eq "$before" "$(releases | jq '.releases | length')" "releases after a failed build"
builds=$(cl_fleetctl host1 builds "$app")
assert_eq 3 "$(grep -c -E '^[0-9]{8}-' <<<"$builds")" "builds listed: $builds"
assert_contains "$(head -2 <<<"$builds")" "failed" "the newest build"

# the registry is down: a plain deploy of a tag cannot be pinned (refused, nothing changes) ...
# (the running release's image is on every host first, so that the rollback to it needs no pull)
for i in 1 2 3; do
        cl_exec "host$i" podman pull -q --authfile /etc/fleetd/registry-auth.json "$reg/$app@$d1" >/dev/null ||
                fail "host$i cannot pull $reg/$app@$d1"
done
assert_exit 0 "stop the registry" cl_fleetctl host1 stop registry.service
down() { ! cluster_registry_up; }
wait_until 30 down || fail "the registry still answers"
sed -e "s|^runtime: podman|image: $tag1\nruntime: podman|" "$ctx/fleetd.yaml" >"$CLUSTER_DIR/built-tag.yaml"
put_file host1 /root/built-tag.yaml "$(cat "$CLUSTER_DIR/built-tag.yaml")"
assert_exit 1 "deploy of a tag while the registry is down" cl_fleetctl host1 deploy -f /root/built-tag.yaml
assert_contains "$CL_ERR" "Cannot get the digest" "why the deploy is refused"
assert_eq "$before" "$(releases | jq '.releases | length')" "releases after the refused deploy"
# ... and a release that must pull fails, rolls back by itself and says why
sed -e "s|^runtime: podman|image: $reg/$app@$d2\npull: always\nruntime: podman|" "$ctx/fleetd.yaml" >"$CLUSTER_DIR/built-pull.yaml"
put_file host1 /root/built-pull.yaml "$(cat "$CLUSTER_DIR/built-pull.yaml")"
assert_exit 1 "deploy that must pull from a registry that is down" cl_fleetctl host1 deploy -f /root/built-pull.yaml
assert_contains "$CL_ERR$CL_OUT" "rolling back" "what fleetctl says about the failed pull"
settled() { [ "$(app_state "$app")" = failed ] && [ "$(app_instances "$app" web | awk '$4 == "passing"' | wc -l)" = 2 ]; }
wait_until 60 settled || fail "the automatic rollback did not settle: $(app_json host1 "$app" | jq -c .rollout)"
message=$(app_json host1 "$app" | jq -r .rollout.message)
assert_contains "$message" "$reg" "the rollout's message names the registry"
assert_contains "$message" "Error" "the rollout's message has the pull's error: $message"
wait_until 30 v1_served || fail "after the automatic rollback the page is not 'built v1': $(via)"

# clean up: the app and the registry
cl_fleetctl host1 apps destroy "$app" >/dev/null
cl_fleetctl host1 destroy registry.service >/dev/null
