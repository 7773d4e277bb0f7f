#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What test-fleetctl*.sh share, sourced by them with the script's own arguments: running
# fleetctl ($1), expectations on its output, status and the requests it made, and the fixture
# (fleetctl-fixture.py, python3) with its fake cluster on $TMP/fake.sock.
# shellcheck disable=SC2034,SC2154 # variables set here are used, and case is set, by those scripts

FLEETCTL=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")   # absolute: cases below change directory
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)   # this file's directory
TMP=$(mktemp -d /tmp/test-fleetctl.XXXXXX)
FIXTURE_PID=
failures=0
export PYTHONDONTWRITEBYTECODE=1   # cases import the fixture: no __pycache__ in the source tree
rc=0

# shellcheck disable=SC2317 # called by the trap
cleanup() {
        if [ -n "$FIXTURE_PID" ]; then
                kill "$FIXTURE_PID" 2>/dev/null
                wait "$FIXTURE_PID" 2>/dev/null
        fi
        rm -rf "$TMP"
}
trap cleanup EXIT

# run ARGS...: fleetctl's stdout in $TMP/out, stderr in $TMP/err, status in $rc.
run() {
        "$FLEETCTL" "$@" >"$TMP/out" 2>"$TMP/err"
        rc=$?
}

fail() {
        echo "FAIL $case: $*"
        echo "  stdout: $(cat "$TMP/out")"
        echo "  stderr: $(cat "$TMP/err")"
        failures=$((failures + 1))
}

expect_rc() { [ "$rc" = "$1" ] || fail "exit status $rc, expected $1"; }
expect_out() { [ "$(cat "$TMP/out")" = "$1" ] || fail "stdout differs; expected: $1"; }
expect_err() { [ "$(cat "$TMP/err")" = "$1" ] || fail "stderr differs; expected: $1"; }
expect_out_has() { grep -qF -- "$1" "$TMP/out" || fail "stdout lacks '$1'"; }
expect_err_has() { grep -qF -- "$1" "$TMP/err" || fail "stderr lacks '$1'"; }
# A case starts with case=NAME; ok reports it unless something failed since.
before=0
ok() {
        [ "$failures" = "$before" ] && echo "ok   $case"
        before=$failures
}

unreachable() {
        echo "fleetctl: cannot reach fleetd at $1: $2. Is fleetd running? Set --endpoint or FLEETCTL_ENDPOINT."
}

# start_fixture: the fixture's servers in $TMP, stopped on exit. Returns 1 if they did not start.
start_fixture() {
        python3 "$HERE/fleetctl-fixture.py" "$TMP" >"$TMP/fixture.log" 2>&1 &
        FIXTURE_PID=$!
        for _ in $(seq 100); do
                grep -q ready "$TMP/fixture.log" 2>/dev/null && break
                sleep 0.1
        done
        if ! grep -q ready "$TMP/fixture.log"; then
                echo "FAIL fixture did not start:"
                cat "$TMP/fixture.log"
                return 1
        fi
}

FAKE="$TMP/fake.sock"
# fake [SCENARIO-JSON]: a fresh fake cluster (see FakeFleet.reset) and an empty request log.
fake() { python3 "$HERE/fleetctl-fixture.py" --reset "$FAKE" "${1:-"{}"}" || fail "fixture reset"; }
runf() { run --endpoint "$FAKE" "$@"; }
expect_requests() {
        [ "$(cat "$TMP/requests")" = "$1" ] ||
                fail "requests differ; expected:
$1
got:
$(cat "$TMP/requests")"
}
count_requests() { grep -cF -- "$1" "$TMP/requests"; }
expect_requests_last() { [ "$(tail -n 1 "$TMP/requests")" = "$1" ] || fail "last request differs; expected: $1"; }

M1=3f2a1b9c4d5e6f708192a3b4c5d6e7f8   # the fake's machines: 10.0.0.11 and 10.0.0.12
M2=9d8e7f6a5b4c3d2e1f00112233445566
L1=3f2a1b9c.../10.0.0.11
L2=9d8e7f6a.../10.0.0.12
