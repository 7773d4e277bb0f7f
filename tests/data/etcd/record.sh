#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Re-records the answers of etcd's v3 JSON gateway in this directory, byte for byte, from a real
# etcd (Debian's etcd-server, 3.4) that it starts on 127.0.0.1 on free ports in a temporary data
# directory. tests/unit/test-etcd-codec.c decodes them. The steps run in a fixed order on a
# fresh store, so revisions come out the same every time; lease IDs, cluster and member IDs and
# tokens do not (the test compares those between fixtures, never with constants).
#
#   tests/data/etcd/record.sh [ETCD]      (ETCD: the etcd binary, by default /usr/bin/etcd)
#
# *.json: one unary answer (a keepalive's ends with a newline, the others do not). watch-*.txt: a
# /v3/watch stream as received, one JSON object a line; a stream that breaks ends without one.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
etcd=${1:-/usr/bin/etcd}
tmp=$(mktemp -d)
etcd_pid=
watch_pid=

cleanup() {
        if [ -n "$watch_pid" ]; then kill "$watch_pid" 2>/dev/null || true; fi
        if [ -n "$etcd_pid" ]; then kill "$etcd_pid" 2>/dev/null || true; fi
        wait 2>/dev/null || true
        rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

b64() {
        printf '%s' "$1" | base64 -w0
}

client_port=$(free_port)
peer_port=$(free_port)
url=http://127.0.0.1:$client_port
"$etcd" --name record --data-dir "$tmp/data" \
        --listen-client-urls "$url" --advertise-client-urls "$url" \
        --listen-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-cluster "record=http://127.0.0.1:$peer_port" >"$tmp/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 100); do
        curl -sf -o /dev/null "$url/health" && break
        sleep 0.1
done

# post NAME PATH BODY [CURL-ARGS...]: saves the answer's body as NAME in this directory (NAME
# "-": thrown away; /NAME: that file).
post() {
        local name=$1 path=$2 body=$3 out
        shift 3
        case $name in
        -) out=/dev/null ;;
        /*) out=$name ;;
        *) out=$here/$name ;;
        esac
        curl -sS -o "$out" "$@" "$url$path" -d "$body"
}

# value FILE FIELD: a top-level (or result's) string field of a recorded answer.
value() {
        python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(j.get("result", j)[sys.argv[2]])' "$1" "$2"
}

# watch_start NAME BODY [CURL-ARGS...]: a stream recorded into NAME in the background.
watch_start() {
        local name=$1 body=$2
        shift 2
        curl -sSN -o "$here/$name" "$@" "$url/v3/watch" -d "$body" &
        watch_pid=$!
}

# watch_wait NAME LINES: waits until NAME holds LINES lines.
watch_wait() {
        for _ in $(seq 100); do
                [ -f "$here/$1" ] && [ "$(wc -l <"$here/$1")" -ge "$2" ] && return 0
                sleep 0.1
        done
        echo "$1: fewer than $2 lines" >&2
        return 1
}

# watch_stop NAME LINES: waits until NAME holds LINES lines, then ends the stream.
watch_stop() {
        watch_wait "$1" "$2"
        kill "$watch_pid" 2>/dev/null || true
        wait "$watch_pid" 2>/dev/null || true
        watch_pid=
}

# Every key under /fleetd/, from now: created at revision 1, then one line per revision 2..7.
watch_start watch-events.txt "{\"create_request\":{\"key\":\"$(b64 /fleetd/)\",\"range_end\":\"$(b64 /fleetd0)\"}}"
watch_wait watch-events.txt 1

post range-missing.json /v3/kv/range "{\"key\":\"$(b64 /fleetd/a)\"}"                               # rev 1
post put.json /v3/kv/put "{\"key\":\"$(b64 /fleetd/a)\",\"value\":\"$(b64 alpha)\"}"                  # rev 2
post lease-grant.json /v3/lease/grant '{"TTL":"60"}'
lease=$(value "$here/lease-grant.json" ID)
post - /v3/kv/put "{\"key\":\"$(b64 /fleetd/b)\",\"lease\":\"$lease\"}"                             # rev 3, empty value
post put-prev-kv.json /v3/kv/put "{\"key\":\"$(b64 /fleetd/a)\",\"value\":\"$(b64 alpha2)\",\"prev_kv\":true}" # rev 4
post range.json /v3/kv/range "{\"key\":\"$(b64 /fleetd/)\",\"range_end\":\"$(b64 /fleetd0)\"}"
post range-limit.json /v3/kv/range "{\"key\":\"$(b64 /fleetd/)\",\"range_end\":\"$(b64 /fleetd0)\",\"limit\":\"1\"}"
post range-count.json /v3/kv/range "{\"key\":\"$(b64 /fleetd/)\",\"range_end\":\"$(b64 /fleetd0)\",\"count_only\":true}"
post range-keys-only.json /v3/kv/range "{\"key\":\"$(b64 /fleetd/)\",\"range_end\":\"$(b64 /fleetd0)\",\"keys_only\":true}"
# rev 5: two puts in one txn (one watch line with two events), a read, a delete of nothing.
post txn-succeeded.json /v3/kv/txn "{\"compare\":[{\"key\":\"$(b64 /fleetd/a)\",\"mod_revision\":\"4\",\"target\":\"MOD\",\"result\":\"EQUAL\"}],\
\"success\":[{\"request_put\":{\"key\":\"$(b64 /fleetd/c)\",\"value\":\"$(b64 gamma)\"}},\
{\"request_put\":{\"key\":\"$(b64 /fleetd/d)\",\"value\":\"$(b64 delta)\"}},\
{\"request_range\":{\"key\":\"$(b64 /fleetd/a)\"}},{\"request_delete_range\":{\"key\":\"$(b64 /fleetd/none)\"}}],\
\"failure\":[{\"request_range\":{\"key\":\"$(b64 /fleetd/a)\"}}]}"
post txn-failed.json /v3/kv/txn "{\"compare\":[{\"key\":\"$(b64 /fleetd/a)\",\"mod_revision\":\"2\",\"target\":\"MOD\",\"result\":\"EQUAL\"}],\
\"success\":[{\"request_put\":{\"key\":\"$(b64 /fleetd/a)\",\"value\":\"$(b64 lost)\"}}],\
\"failure\":[{\"request_range\":{\"key\":\"$(b64 /fleetd/a)\"}}]}"
post deleterange.json /v3/kv/deleterange "{\"key\":\"$(b64 /fleetd/c)\",\"range_end\":\"$(b64 /fleetd/d)\"}"  # rev 6
post lease-keepalive.json /v3/lease/keepalive "{\"ID\":\"$lease\"}"
post lease-revoke.json /v3/lease/revoke "{\"ID\":\"$lease\"}"                                       # rev 7: /fleetd/b goes
post lease-revoke-unknown.json /v3/lease/revoke "{\"ID\":\"$lease\"}"
watch_stop watch-events.txt 7

# A lease left to expire (timetolive does not renew it): its keepalive answers without a TTL.
post "$tmp/grant" /v3/lease/grant '{"TTL":"1"}'
short=$(value "$tmp/grant" ID)
for _ in $(seq 100); do
        post "$tmp/ttl" /v3/lease/timetolive "{\"ID\":\"$short\"}"
        grep -q '"TTL":"-1"' "$tmp/ttl" && break
        sleep 0.2
done
post lease-keepalive-expired.json /v3/lease/keepalive "{\"ID\":\"$short\"}"

post - /v3/kv/compaction '{"revision":"6"}'
post range-compacted.json /v3/kv/range "{\"key\":\"$(b64 /fleetd/a)\",\"revision\":\"2\"}"
watch_start watch-compacted.txt "{\"create_request\":{\"key\":\"$(b64 /fleetd/a)\",\"start_revision\":\"2\"}}"
watch_stop watch-compacted.txt 2
# A body the gateway cannot read: the watch answers like a unary call, without a newline.
watch_start watch-bad-request.txt '{"create_request":{"key":'
wait "$watch_pid" || true
watch_pid=

# Authentication: off first, then on with a root user.
post auth-disabled.json /v3/auth/authenticate '{"name":"root","password":"secret"}'
post - /v3/auth/user/add '{"name":"root","password":"secret"}'
post - /v3/auth/role/add '{"name":"root"}'
post - /v3/auth/user/grant '{"user":"root","role":"root"}'
post - /v3/auth/enable '{}'
post auth-token.json /v3/auth/authenticate '{"name":"root","password":"secret"}'
post auth-failed.json /v3/auth/authenticate '{"name":"root","password":"wrong"}'
token=$(value "$here/auth-token.json" token)
post auth-no-token.json /v3/kv/range "{\"key\":\"$(b64 /fleetd/a)\"}"
post auth-bad-token.json /v3/kv/range "{\"key\":\"$(b64 /fleetd/a)\"}" -H 'Authorization: bogus'
watch_start watch-canceled.txt "{\"create_request\":{\"key\":\"$(b64 /fleetd/a)\"}}" -H 'Authorization: bogus'
watch_stop watch-canceled.txt 1

# A stream that breaks: etcd shuts down under an open watch.
watch_start watch-error.txt "{\"create_request\":{\"key\":\"$(b64 /fleetd/a)\"}}" -H "Authorization: $token"
watch_wait watch-error.txt 1
kill "$etcd_pid"
wait "$watch_pid" || true
wait "$etcd_pid" || true
watch_pid=
etcd_pid=
echo "recorded into $here"
