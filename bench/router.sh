#!/bin/bash
# fleet-router on this machine, with a throwaway etcd, a real nginx and two HTTP backends on
# 127.0.0.1 (no cluster, no root needed if nginx runs as this user):
#   - ROUTES (1,000) route records over APPS (100) apps;
#   - the router's CPU and RSS at rest;
#   - the time from an etcd put (a route moves to another backend) until nginx serves from the
#     new backend, p50/p99 over CHANGES (50) changes, with the default batch_delay (50ms) and
#     again with batch_delay=0 (the floor: nginx -t, the reload, nginx starting new workers);
#   - 10 changes/s for 10 s: CPU of the router, of its children (nginx -t) and
#     of nginx, reloads, RSS.
#
#   bench/router.sh [--routes=N] [--apps=N] [--changes=N] [--rate=N] [--window=SECONDS]
#
# BUILD_DIR (default build/) is built first (src/fleet-router/fleet-router, bench/bench-router) and its
# fleet-router is the one measured. BENCH_KEEP=1 leaves the logs in /tmp/bench-router-*.
set -euo pipefail

bench_prog=bench/router.sh
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$repo/build}
case $BUILD_DIR in
        /*) ;;
        *) BUILD_DIR=$PWD/$BUILD_DIR ;;
esac
die() {
        echo "$bench_prog: $*" >&2
        exit 2
}

[ -x /usr/sbin/nginx ] || die "needs /usr/sbin/nginx (nginx-light)"
[ -x /usr/bin/etcd ] || die "needs /usr/bin/etcd (etcd-server)"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
        meson setup "$BUILD_DIR" "$repo" >/dev/null || die "meson setup $BUILD_DIR failed"
fi
ninja -C "$BUILD_DIR" src/fleet-router/fleet-router bench/bench-router >"$BUILD_DIR/bench-router-build.log" 2>&1 ||
        die "the build failed (see $BUILD_DIR/bench-router-build.log)"

rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo "?")
[ -z "$(git -C "$repo" status --porcelain 2>/dev/null | head -n1)" ] || rev="$rev + uncommitted changes"
rev="$rev, router sources $(cat "$repo"/src/fleet-router/*.[ch] | sha256sum | cut -c1-12)"
echo "## fleet-router: change -> served, CPU and RSS (bench/router.sh)"
echo
echo "$(date -Is); machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo)," \
        "$(uname -r); load average at start: $(cut -d' ' -f1-3 /proc/loadavg); fleet-router: $rev;" \
        "$(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //'); etcd $(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p')"
echo
echo "### batch_delay 50ms (the default)"
echo
"$BUILD_DIR/bench/bench-router" "$@" "$BUILD_DIR/src/fleet-router/fleet-router"
echo
echo "### batch_delay 0 (latency only)"
echo
"$BUILD_DIR/bench/bench-router" --latency-only --batch-delay=0 "$@" "$BUILD_DIR/src/fleet-router/fleet-router"
