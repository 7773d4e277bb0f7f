# shellcheck shell=bash
# What the cluster benchmarks share: a one-host cluster made with tools/lib/cluster.sh (a real
# systemd host booted with systemd-nspawn, fleetd from BUILD_DIR in it, one etcd), torn down on
# every exit path, and small helpers. Source it from bench/*.sh after `set -euo pipefail`.
#
#   bench_cluster_up TAG [NHOSTS]  check the machine, build, boot a cluster of NHOSTS hosts
#                              (default 1) named TAG<pid>, wait until host1's fleetd runs, an
#                              engine leader is elected and all NHOSTS machines are registered
#   bench_fleetd_pid I         fleetd's PID in host I, as this machine sees it (/proc here)
#   bench_etcd_pid             the cluster's etcd PID
#   bench_header TITLE         a markdown title with date, machine, load and fleetd's commit
#   bench_in_host I SCRIPT [ARGS]   runs bash -c SCRIPT inside host I
#
# Settings: BUILD_DIR (default build/), BENCH_KEEP=1 (leave the cluster up; remove it later
# with: . tools/lib/cluster.sh; cluster_down NAME).

bench_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$bench_repo/build}
case $BUILD_DIR in
        /*) ;;
        *) BUILD_DIR=$PWD/$BUILD_DIR ;;
esac

# shellcheck source=tools/lib/cluster.sh
. "$bench_repo/tools/lib/cluster.sh"

bench_die() {
        echo "${bench_prog:-bench}: $*" >&2
        exit 2
}

bench_name=""
bench_torn_down=0
bench_teardown() {
        [ $bench_torn_down = 0 ] || return 0
        bench_torn_down=1
        [ -n "$bench_name" ] || return 0
        if [ "${BENCH_KEEP:-0}" = 1 ]; then
                echo "${bench_prog:-bench}: cluster $bench_name left up (BENCH_KEEP=1)" >&2
                return 0
        fi
        cluster_down "$bench_name" >>"${bench_log:-/dev/null}" 2>&1 ||
                echo "${bench_prog:-bench}: teardown of cluster $bench_name failed (see ${bench_log:-its log})" >&2
}

# Builds what the benchmarks run. A tree under active work may not build at a given moment:
# then the binaries already in BUILD_DIR are measured, and the header says so.
bench_build_note=""
bench_build() {
        local t
        if [ ! -f "$BUILD_DIR/build.ninja" ]; then
                meson setup "$BUILD_DIR" "$bench_repo" >/dev/null || bench_die "meson setup $BUILD_DIR failed"
        fi
        if ! ninja -C "$BUILD_DIR" src/fleetd/fleetd src/fleetctl/fleetctl src/fleet-router/fleet-router bench/bench-schedule-etcd >"$BUILD_DIR/bench-build.log" 2>&1; then
                for t in src/fleetd/fleetd src/fleetctl/fleetctl src/fleet-router/fleet-router bench/bench-schedule-etcd; do
                        [ -x "$BUILD_DIR/$t" ] || bench_die "the build in $BUILD_DIR failed and $t is missing (see $BUILD_DIR/bench-build.log)"
                done
                bench_build_note="the build failed at run time (see $BUILD_DIR/bench-build.log); measured the binaries of $(date -r "$BUILD_DIR/src/fleetd/fleetd" -Is)"
                echo "${bench_prog:-bench}: warning: $bench_build_note" >&2
        fi
}

# bench_cluster_up TAG [NHOSTS]: everything a benchmark needs, up and settled.
bench_cluster_up() {
        local tag=${1:?bench_cluster_up TAG} nhosts=${2:-1} reason i
        reason=$(cluster_check_env) || bench_die "$reason"
        bench_build
        # 13 characters at most: the tag, the PID
        bench_name=$(printf '%s%s' "$tag" "$$" | cut -c1-13)
        bench_log=$BUILD_DIR/bench-logs/$bench_name.log
        mkdir -p "$(dirname "$bench_log")"
        : >"$bench_log"
        trap bench_teardown EXIT
        trap 'echo "${bench_prog:-bench}: interrupted" >&2; exit 130' INT
        trap 'echo "${bench_prog:-bench}: terminated" >&2; exit 143' TERM

        export CLUSTER_BUILD_DIR=$BUILD_DIR
        export CLUSTER_AGENT_TTL=${CLUSTER_AGENT_TTL:-10s}
        echo "${bench_prog:-bench}: booting cluster $bench_name ($nhosts host(s), fleetd from $BUILD_DIR)..." >&2
        cluster_init "$bench_name" >>"$bench_log" 2>&1 || bench_die "cluster_init failed (see $bench_log)"
        cluster_set_owner $$ >>"$bench_log" 2>&1 || true
        cluster_up "$nhosts" >>"$bench_log" 2>&1 || bench_die "cluster_up failed (see $bench_log)"
        cluster_load "$bench_name"

        # fleetd registered, and the engine leader
        for ((i = 0; i < 300; i++)); do
                if [ -n "$(cluster_etcdctl get /fleetd/engine/leader --print-value-only 2>/dev/null)" ] &&
                        bench_fleetd_pid 1 >/dev/null 2>&1; then
                        break
                fi
                sleep 0.1
        done
        [ $i -lt 300 ] || bench_die "fleetd in host1 did not become the engine leader within 30 s (see $bench_log)"
        # more hosts: every one of them registered under machines/
        for ((i = 0; nhosts > 1 && i < 300; i++)); do
                [ "$(cluster_etcdctl get /fleetd/machines/ --prefix --keys-only 2>/dev/null | grep -c .)" -ge "$nhosts" ] && break
                sleep 0.1
        done
        [ $i -lt 300 ] || bench_die "not all $nhosts machines registered within 30 s (see $bench_log)"
        sleep 2     # let the boot's own activity settle
        bench_load_start=$(cut -d' ' -f1-3 /proc/loadavg)
}

bench_fleetd_pid() {
        local hpid pid
        hpid=$(cluster_host_pid "${1:?bench_fleetd_pid I}") || return 1
        pid=$(pgrep -P "$hpid" -x fleetd | head -n1)
        [ -n "$pid" ] || return 1
        echo "$pid"
}

bench_etcd_pid() {
        cluster__pidfile_alive "$CLUSTER_DIR/etcd/pid"
}

bench_in_host() {
        local i=${1:?bench_in_host I SCRIPT} script=${2:?bench_in_host I SCRIPT}
        shift 2
        cluster_host_exec "$i" bash -c "$script" bench "$@"
}

bench_header() {
        local rev
        rev=$(git -C "$bench_repo" rev-parse --short HEAD 2>/dev/null || echo "?")
        if [ -n "$(git -C "$bench_repo" status --porcelain 2>/dev/null | head -n1)" ]; then
                rev="$rev + uncommitted changes"
        fi
        # the tree changes under uncommitted work: a checksum of the daemon's sources tells runs apart
        rev="$rev, sources $(cat "$bench_repo"/src/*/*.[ch] | sha256sum | cut -c1-12)"
        echo "## $1"
        echo
        echo "$(date -Is); machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo), $(uname -r);" \
                "load average at start: ${bench_load_start:-$(cut -d' ' -f1-3 /proc/loadavg)}; fleetd: $rev; etcd $(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p')"
        if [ -n "$bench_build_note" ]; then
                echo
                echo "WARNING: $bench_build_note"
        fi
}

# Nearest-rank percentile of numbers on stdin: bench_percentile P
bench_percentile() {
        sort -n | awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } r = int(p / 100 * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR; print v[r] }'
}
