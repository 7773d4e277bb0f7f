# shellcheck shell=bash
# Helpers for the app tests (test-9[2-9]*.sh), sourced after lib.sh.
#   app_images VERSION...      build localhost/hello:VERSION in every host (cluster_image_hello)
#   put_file HOST PATH TEXT    write TEXT to PATH inside HOST
#   app_json HOST APP          GET /v1/apps/APP through HOST's socket
#   app_state APP              its rollout state (done, rolling, failed, none)
#   app_instances APP [PROC]   "unit ip port health release" lines, one per instance
#   rollout_done APP           true when the rollout is done
#   no_app_left APP            no key, unit file, port file or container of APP anywhere

app_images() {
        local v i
        for v in "$@"; do
                for i in $(seq 1 "$(cl_nhosts)"); do
                        cluster_image_hello "$i" "$v" || fail "cannot build localhost/hello:$v in host$i"
                done
        done
}

put_file() {
        printf '%s\n' "$3" | cl_exec "$1" tee "$2" >/dev/null
}

app_json() {
        cl_exec "$1" curl -sf --unix-socket /run/fleetd/fleetd.sock "http://localhost/v1/apps/$2"
}

app_state() {
        app_json host1 "$1" | jq -r '.rollout.state'
}

app_instances() {
        app_json host1 "$1" | jq -r --arg p "${2:-}" \
                '.instances[] | select($p == "" or .process == $p) | "\(.unit) \(.ip // "-") \(.port // "-") \(.health // "-") \(.release)"'
}

rollout_done() {
        [ "$(app_state "$1")" = done ]
}

no_app_left() {
        local app=$1 i keys
        keys=$(cl_etcdctl get --prefix "$CL_PREFIX" --keys-only | grep -E "/(apps|releases)/$app(/|\$)|/(units|state|schedule/[^/]+)/${app}_v" || true)
        [ -z "$keys" ] || { echo "keys left: $keys"; return 1; }
        for i in $(seq 1 "$(cl_nhosts)"); do
                [ -z "$(cl_exec "host$i" sh -c "ls /run/fleetd/units /run/fleetd/ports | grep '^${app}_v'")" ] ||
                        { echo "files left in host$i"; return 1; }
                [ -z "$(cl_exec "host$i" podman ps -a --format '{{.Names}}' | grep "^${app}_v")" ] ||
                        { echo "containers left in host$i"; return 1; }
        done
}
