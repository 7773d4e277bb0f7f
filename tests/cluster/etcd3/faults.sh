# shellcheck shell=bash
# Helpers for the fault tests on a cluster with three etcd members (tests/cluster/etcd3/), sourced
# after lib.sh. The truth is read from systemd in the hosts and from etcd, never from fleetd:
#   unit_snapshot                 "hostN unit invocation-id" of every active unit fleetd wrote, on
#                                 every host (an InvocationID changes with every start)
#   assert_unchanged FILE WHAT [ERE]  every line of an earlier snapshot (but those matching ERE)
#                                 is still true: same host, still active, same invocation
#   unit_starts HOST UNIT         how often systemd started UNIT in HOST in this boot (its journal)
#   machine_leases, schedule_revs "key lease" of machines/, "key mod_revision" of schedule/
#   engine_leader_host            the host whose machine id engine/leader holds
#   host_of_machine ID            the host with machine id ID
#   fleetd_pid HOST               MainPID of fleetd.service in HOST (0 while it is down)
#   app_record APP                apps/APP from etcd, as JSON
#   release_count APP             how many releases/APP/v* etcd has
#   app_units APP                 the unit names of APP's instances in etcd (units/), sorted
#   now_ms                        milliseconds since the epoch (this machine's clock)
#   figure WHAT VALUE             a measured figure, for the table in docs/testing.md (the run
#                                 prints these lines under the test's verdict)
#   write_manifest HOST PATH IMAGE [WEB_SCALE] [WEB_COMMAND_JSON]   a variant of hello.yaml
. "$(dirname "${BASH_SOURCE[0]}")/../units.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../apps.sh"

# MESSAGE_ID of systemd's "Started <unit>" (sd-messages.h: SD_MESSAGE_UNIT_STARTED).
FAULTS_UNIT_STARTED=39f53479d3a045ac8e11786248231fbf

now_ms() {
        echo $(($(date +%s%N) / 1000000))
}

figure() {
        echo "figure: $1: $2"
}

unit_snapshot() {
        local i
        for i in $(seq 1 "$(cl_nhosts)"); do
                # shellcheck disable=SC2016 # expanded in the host
                cl_exec "host$i" sh -c 'ls /run/fleetd/units 2>/dev/null | xargs -r systemctl show -p Id,ActiveState,InvocationID' |
                        awk -v h="host$i" 'BEGIN { RS = ""; FS = "\n" }
                                { id = as = inv = ""
                                  for (k = 1; k <= NF; k++) {
                                          p = index($k, "="); n = substr($k, 1, p - 1); v = substr($k, p + 1)
                                          if (n == "Id") id = v; else if (n == "ActiveState") as = v; else if (n == "InvocationID") inv = v
                                  }
                                  if (as == "active") print h, id, inv }'
        done | sort
}

# assert_unchanged FILE WHAT [ERE]: fails, naming the units, unless every unit of the snapshot in
# FILE (but those whose line matches ERE) still runs on the same host with the same invocation.
assert_unchanged() {
        local before=$1 what=$2 skip=${3:-} now gone
        now=$(unit_snapshot)
        gone=$(grep -v -E "${skip:-^\$}" "$before" | grep -vxF -f <(printf '%s\n' "$now") || true)
        if [ -n "$gone" ]; then
                log "snapshot before:"; cat "$before"
                log "now:"; printf '%s\n' "$now"
                fail "$what: units stopped, moved or restarted: $(awk '{print $1 ":" $2}' <<<"$gone" | tr '\n' ' ')"
        fi
}

unit_starts() {
        cl_exec "$1" journalctl -b -q --no-pager -o cat _PID=1 UNIT="$2" MESSAGE_ID=$FAULTS_UNIT_STARTED | grep -c . || true
}

machine_leases() {
        cl_etcdctl get --prefix "${CL_PREFIX}machines/" -w json | jq -r '.kvs[]? | "\(.key | @base64d) \(.lease)"' | sort
}

schedule_revs() {
        cl_etcdctl get --prefix "${CL_PREFIX}schedule/" -w json | jq -r '.kvs[]? | "\(.key | @base64d) \(.mod_revision)"' | sort
}

host_of_machine() {
        local i
        for i in $(seq 1 "$(cl_nhosts)"); do
                if [ "$(cl_machine_id "host$i")" = "$1" ]; then
                        echo "host$i"
                        return 0
                fi
        done
        return 1
}

engine_leader_host() {
        local id
        id=$(cl_etcdctl get "${CL_PREFIX}engine/leader" --print-value-only) || return 1
        [ -n "$id" ] || return 1
        host_of_machine "$id"
}

fleetd_pid() {
        cl_exec "$1" systemctl show -p MainPID --value fleetd.service
}

app_record() {
        cl_etcdctl get "${CL_PREFIX}apps/$1" --print-value-only
}

release_count() {
        cl_etcdctl get --prefix "${CL_PREFIX}releases/$1/v" --keys-only | grep -c . || true
}

app_units() {
        cl_etcdctl get --prefix "${CL_PREFIX}units/${1}_v" --keys-only | sed -n "s|^${CL_PREFIX}units/||p" | sort
}

# The rollout of APP in etcd is done at release N.
app_done_at() {
        local rec
        rec=$(app_record "$1") || return 1
        [ "$(jq -r '"\(.rollout.state) \(.release)"' <<<"$rec")" = "done $2" ]
}

# write_manifest HOST PATH IMAGE [WEB_SCALE] [WEB_COMMAND]: hello.yaml with another image, web
# scale and web command (a YAML flow sequence), written to PATH in HOST.
write_manifest() {
        local host=$1 path=$2 image=$3 scale=${4:-3} command=${5:-}
        local text
        text=$(sed -e "s|localhost/hello:1.0|$image|" -e "0,/scale: 3/s//scale: $scale/" \
                "$CLUSTER_REPO/examples/apps/hello.yaml")
        if [ -n "$command" ]; then
                text=$(sed "s|command: \[/bin/busybox, httpd, -f, -v, -p, \"\${PORT}\", -h, /www\]|command: $command|" <<<"$text")
                grep -qF "command: $command" <<<"$text" || fail "could not set the web command of the manifest"
        fi
        put_file "$host" "$path" "$text"
}

# The revision etcd is at.
etcd_revision() {
        cl_etcdctl get /none -w json | jq -r .header.revision
}

# etcd_history REV PREFIX: "PUT key" / "DELETE key" for every change under PREFIX since revision
# REV, in order (for the log: what the control plane did meanwhile).
etcd_history() {
        timeout 3 env ETCDCTL_API=3 etcdctl --endpoints="$CLUSTER_ETCD_ENDPOINTS" watch --prefix --rev="$1" "$2" |
                grep -a -E -A1 '^(PUT|DELETE)$' | grep -a -v -- '^--$' | paste - - || true
}
