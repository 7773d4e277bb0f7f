# shellcheck shell=bash
# Helpers for tests/cluster/test-*.sh. tests/cluster/run sources this file (with set -eEuo
# pipefail) in a fresh bash for every test, then the test itself; the cluster is already up.
#
# Hosts are named host1..hostN (a bare number works too).
#   cl_exec HOST CMD...          run CMD inside HOST
#   cl_fleetctl HOST ARGS...     /usr/local/bin/fleetctl inside HOST (its socket: /run/fleetd/fleetd.sock)
#   cl_etcdctl ARGS...           etcdctl (v3) against the cluster's etcd
#   cl_run CMD...                run CMD, never fail: sets CL_RC, CL_OUT (stdout), CL_ERR (stderr)
#   cl_machine_id HOST, cl_ip HOST, cl_ttl (agent_ttl in whole seconds), cl_nhosts
#   cl_machines_json HOST        `fleetctl --json list-machines` as a JSON array
#   cl_listed HOST ID, cl_count HOST   is machine ID listed in HOST / how many are
#   cl_etcd_machine_ids          machine ids under /fleetd/machines/ in etcd, one a line
#   cl_in_etcd ID                0 if etcd has machines/ID, 1 if not, 2 if etcd cannot be asked
#   cl_host_poweroff HOST, cl_host_boot HOST
#   cl_boots HOST, cl_wait_rebooted HOST BOOTS [SECONDS]   a reboot from inside the host (the
#                                harness boots it again on the same disk, as systemd-nspawn@ would)
#   wait_until SECONDS CMD...    retry CMD (every 0.25 s) until it succeeds; 1 on timeout
#   fail MSG, skip MSG, log MSG
#   assert_eq EXPECTED SEEN WHAT, assert_contains TEXT PART WHAT, assert_not_contains TEXT PART WHAT,
#   assert_exit CODE WHAT CMD... (then CL_OUT / CL_ERR hold its output)

# shellcheck source-path=SCRIPTDIR/../.. source=tools/lib/cluster.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../tools/lib/cluster.sh"
cluster_load "$CLUSTER_NAME"

CL_PREFIX=${CL_PREFIX:-/fleetd/}

log() {
        echo "[$(date +%T.%3N)] $*"
}

cl__reason() {
        if [ -n "${CL_REASON_FILE:-}" ] && [ ! -s "$CL_REASON_FILE" ]; then
                printf '%s\n' "$*" >"$CL_REASON_FILE"
        fi
}

fail() {
        cl__reason "$*"
        echo "FAIL: $*" >&2
        exit 1
}

skip() {
        cl__reason "$*"
        echo "SKIP: $*" >&2
        exit 77
}

# A command that fails outside an assertion ends the test; say which one. The ERR trap also
# runs in command substitutions (errtrace), where a failure may be handled later, so it only
# remembers the failure; the EXIT trap of the test's own shell reports the last one it saw.
CL_LAST_ERR=""
cl__on_err() {
        local rc=$1 line=$2 cmd=$3
        CL_LAST_ERR="exit status $rc at ${BASH_SOURCE[1]##*/}:$line: $cmd"
}
cl__on_exit() {
        local rc=$?
        if [ $rc != 0 ] && [ $rc != 77 ]; then
                cl__reason "${CL_LAST_ERR:-exit status $rc}"
        fi
}
trap 'cl__on_err $? $LINENO "$BASH_COMMAND"' ERR
trap cl__on_exit EXIT

cl_host_index() {
        local h=${1#host}
        if ! [[ $h =~ ^[0-9]+$ ]]; then
                fail "no such host '$1' (host1..host$CLUSTER_NHOSTS)"
        fi
        echo "$h"
}

cl_nhosts() {
        echo "$CLUSTER_NHOSTS"
}

cl_exec() {
        local i
        i=$(cl_host_index "$1")
        shift
        cluster_host_exec "$i" "$@"
}

cl_fleetctl() {
        local h=$1
        shift
        cl_exec "$h" /usr/local/bin/fleetctl "$@"
}

cl_etcdctl() {
        cluster_etcdctl "$@"
}

cl_run() {
        local out err
        out=$(mktemp)
        err=$(mktemp)
        CL_RC=0
        "$@" >"$out" 2>"$err" || CL_RC=$?
        CL_OUT=$(cat "$out")
        CL_ERR=$(cat "$err")
        rm -f "$out" "$err"
        return 0
}

cl_boots() {
        cluster_host_boots "$(cl_host_index "$1")"
}

cl_wait_rebooted() {
        cluster_host_wait_rebooted "$(cl_host_index "$1")" "$2" "${3:-120}"
}

cl_machine_id() {
        cl_exec "$1" cat /etc/machine-id
}

cl_ip() {
        cluster_host_ip "$(cl_host_index "$1")"
}

# agent_ttl in whole seconds ("5s", "1m", "5000ms" or a bare number of seconds).
cl_ttl() {
        local t=$CLUSTER_AGENT_TTL
        case $t in
                *ms) echo $(((${t%ms} + 999) / 1000)) ;;
                *s) echo "${t%s}" ;;
                *m) echo $((${t%m} * 60)) ;;
                *) echo "$t" ;;
        esac
}

# `fleetctl --json list-machines` in HOST, as a JSON array of machines (accepts a bare array or
# an object with "machines"). Fails on empty or other output (jq -e alone passes empty input).
cl_machines_json() {
        local out
        out=$(cl_fleetctl "$1" --json list-machines) || return 1
        if [ -z "$out" ]; then
                echo "fleetctl --json list-machines printed nothing" >&2
                return 1
        fi
        jq -c 'if type == "array" then . elif type == "object" and (.machines | type) == "array" then .machines else error("unexpected JSON from list-machines: \(.)") end' <<<"$out"
}

# cl_listed HOST ID: true if `fleetctl list-machines` in HOST has machine ID.
cl_listed() {
        local json
        json=$(cl_machines_json "$1") || return 1
        [ "$(jq -r --arg id "$2" 'any(.[]; .id == $id)' <<<"$json")" = true ]
}

# cl_count HOST: how many machines `fleetctl list-machines` in HOST lists.
cl_count() {
        local json
        json=$(cl_machines_json "$1") || return 1
        jq -r length <<<"$json"
}

cl_etcd_machine_ids() {
        local out
        out=$(cl_etcdctl get --prefix "${CL_PREFIX}machines/" --keys-only) || return 1
        sed -n "s|^${CL_PREFIX}machines/||p" <<<"$out"
}

# cl_in_etcd ID: 0 if etcd has machines/ID, 1 if it has not, 2 if etcd could not be asked.
cl_in_etcd() {
        local ids
        ids=$(cl_etcd_machine_ids) || return 2
        grep -qx "$1" <<<"$ids"
}

cl_host_poweroff() {
        cluster_host_poweroff "$(cl_host_index "$1")"
}

cl_host_boot() {
        cluster_host_boot "$(cl_host_index "$1")"
}

# wait_until SECONDS CMD...: 0 as soon as CMD succeeds; 1 (and the last output in the log)
# when it has not within SECONDS.
wait_until() {
        local secs=$1 deadline out rc
        shift
        deadline=$(($(date +%s%N) + secs * 1000000000))
        while :; do
                rc=0
                out=$("$@" 2>&1) || rc=$?
                [ $rc = 0 ] && return 0
                if [ "$(date +%s%N)" -ge $deadline ]; then
                        log "timed out after ${secs}s waiting for: $*"
                        log "last attempt exited $rc with: ${out:0:2000}"
                        return 1
                fi
                sleep 0.25
        done
}

assert_eq() {
        local expected=$1 seen=$2 what=${3:-value}
        if [ "$expected" != "$seen" ]; then
                fail "$what: expected '$expected', saw '$seen'"
        fi
}

assert_contains() {
        local text=$1 part=$2 what=${3:-output}
        case $text in
                *"$part"*) ;;
                *) fail "$what: expected it to contain '$part'; saw: $(printf '%s' "$text" | head -c 600)" ;;
        esac
}

assert_not_contains() {
        local text=$1 part=$2 what=${3:-output}
        case $text in
                *"$part"*) fail "$what: expected no '$part'; saw: $(printf '%s' "$text" | head -c 600)" ;;
        esac
}

# assert_exit CODE WHAT CMD...: runs CMD and checks its exit status; CL_OUT and CL_ERR keep
# its output for further checks.
assert_exit() {
        local code=$1 what=$2
        shift 2
        cl_run "$@"
        if [ "$CL_RC" != "$code" ]; then
                fail "$what: expected exit status $code, saw $CL_RC (stdout: ${CL_OUT:0:300}; stderr: ${CL_ERR:0:300})"
        fi
}
