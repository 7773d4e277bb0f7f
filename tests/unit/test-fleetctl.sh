#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fleetctl as scripts see it: exit status, messages, tables and --json, without a fleetd.
# Canned HTTP answers come from fleetctl-fixture.py (python3) on unix sockets and on TCP.
#
# Usage: test-fleetctl.sh PATH/TO/fleetctl
set -u

# shellcheck source=tests/unit/test-fleetctl-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-fleetctl-lib.sh"

# ---- no server needed ----

case=unreachable_unix
run --endpoint "unix://$TMP/missing.sock" list-machines
expect_rc 3
expect_err "$(unreachable "unix://$TMP/missing.sock" "No such file or directory")"
expect_out ""
ok

case=unreachable_plain_path_from_env
FLEETCTL_ENDPOINT="$TMP/missing.sock" run list-machines
expect_rc 3
expect_err "$(unreachable "unix://$TMP/missing.sock" "No such file or directory")"
ok

case=endpoint_flag_beats_env
FLEETCTL_ENDPOINT="$TMP/env.sock" run list-machines --endpoint "$TMP/flag.sock"
expect_rc 3
expect_err_has "unix://$TMP/flag.sock"
ok

case=unreachable_default
if [ ! -e /run/fleetd/fleetd.sock ]; then
        env -u FLEETCTL_ENDPOINT "$FLEETCTL" list-machines >"$TMP/out" 2>"$TMP/err"
        rc=$?
        expect_rc 3
        expect_err "$(unreachable unix:///run/fleetd/fleetd.sock "No such file or directory")"
        ok
else
        echo "skip $case: a fleetd socket exists here"
fi

case=unknown_verb
run frobnicate
expect_rc 2
expect_err_has "unknown verb 'frobnicate'"
expect_err_has "fleetctl --help"
ok

case=no_verb
run
expect_rc 2
expect_err_has "Usage: fleetctl"
ok

case=unknown_option
run list-machines --bogus
expect_rc 2
expect_err_has "unknown option '--bogus'"
expect_err_has "fleetctl list-machines --help"
run --bogus list-machines
expect_rc 2
ok

case=wrong_arg_count
run list-machines extra
expect_rc 2
expect_err_has "list-machines takes no arguments"
run help a b
expect_rc 2
ok

case=bad_endpoint
run --endpoint ftp://example.org list-machines
expect_rc 2
expect_err_has "unsupported endpoint"
ok

case=help
run --help
expect_rc 0
expect_out_has "list-machines"
expect_out_has "Exit status"
expect_out_has "3 fleetd cannot be reached"
run help
expect_rc 0
expect_out_has "list-machines"
ok

case=verb_help
run help list-machines
expect_rc 0
expect_out_has "Usage: fleetctl list-machines"
expect_out_has "--full"
expect_out_has "--no-legend"
cp "$TMP/out" "$TMP/help1"
run list-machines --help
expect_rc 0
cmp -s "$TMP/out" "$TMP/help1" || fail "help list-machines and list-machines --help differ"
run help nope
expect_rc 2
ok

case=version
run --version
expect_rc 0
expect_out_has "fleetctl "
ok

case=version_as_fleet_printed_it
run version
expect_rc 0
expect_out_has "fleetctl version "
[ "$(wc -l <"$TMP/out")" = 1 ] || fail "version prints one line"
cp "$TMP/out" "$TMP/version"
run --version
cmp -s "$TMP/out" "$TMP/version" || fail "--version and version differ"
run -v
cmp -s "$TMP/out" "$TMP/version" || fail "-v and version differ"
run version extra
expect_rc 2
ok

case=env_bad_values_name_the_variable
FLEETCTL_REQUEST_TIMEOUT=soon run --endpoint "$TMP/missing.sock" list-machines
expect_rc 2
expect_err "fleetctl: FLEETCTL_REQUEST_TIMEOUT: --request-timeout takes seconds (3, 1.5) or a duration such as 90s, not 'soon'."
FLEETCTL_JSON=maybe run --endpoint "$TMP/missing.sock" list-machines
expect_rc 2
expect_err "fleetctl: FLEETCTL_JSON: --json takes true or false, not 'maybe'."
FLEETCTL_DEBUG=2 run --endpoint "$TMP/missing.sock" list-machines
expect_rc 2
expect_err_has "FLEETCTL_DEBUG: --debug takes true or false"
ok

case=flag_beats_bad_env
FLEETCTL_REQUEST_TIMEOUT=soon run --request-timeout=5 --endpoint "$TMP/missing.sock" list-machines
expect_rc 3
FLEETCTL_REQUEST_TIMEOUT=soon run list-machines --endpoint "$TMP/missing.sock" --request-timeout 1.5
expect_rc 3
FLEETCTL_CA_FILE=/nonexistent run --etcd-cafile= --endpoint "$TMP/missing.sock" list-machines
expect_rc 3
ok

case=env_empty_is_unset
FLEETCTL_REQUEST_TIMEOUT= FLEETCTL_JSON= FLEETCTL_ENDPOINT= run --endpoint "$TMP/missing.sock" list-machines
expect_rc 3
ok

case=bad_flag_values
run --request-timeout=soon list-machines
expect_rc 2
expect_err_has "--request-timeout takes seconds (3, 1.5) or a duration such as 90s, not 'soon'."
run list-machines --request-timeout=-1
expect_rc 2
run --strict-host-key-checking=maybe list-machines
expect_rc 2
expect_err_has "--strict-host-key-checking takes true or false, not 'maybe'."
ok

case=tunnel_without_endpoint_is_refused
run --tunnel 10.0.0.1 list-machines
expect_rc 2
expect_err "fleetctl: --tunnel=10.0.0.1: fleetctl has no SSH tunnel; reach that host's fleetd with --endpoint https://HOST:PORT.
See 'fleetctl --help'."
FLEETCTL_TUNNEL=10.0.0.1:22 run list-machines
expect_rc 2
expect_err_has "fleetctl: FLEETCTL_TUNNEL=10.0.0.1:22: fleetctl has no SSH tunnel"
ok

case=driver
run --driver=etcd list-machines
expect_rc 2
expect_err_has "fleetctl: --driver=etcd: fleetctl talks to fleetd's API only; point --endpoint at a fleetd."
FLEETCTL_DRIVER=grpc run list-machines
expect_rc 2
expect_err_has "fleetctl: FLEETCTL_DRIVER=grpc: fleetctl talks to fleetd's API only; the driver is API."
FLEETCTL_DRIVER=API run --driver=api --endpoint "$TMP/missing.sock" list-machines
expect_rc 3
ok

case=help_lists_fleets_options
run --help
expect_out_has "--request-timeout=SECONDS"
expect_out_has "FLEETCTL_ENDPOINT"
expect_out_has "fleet's options, for its scripts:"
expect_out_has "--strict-host-key-checking"
run help version
expect_rc 0
expect_out_has "Usage: fleetctl version"
ok

# ---- canned answers ----

if ! command -v python3 >/dev/null; then
        echo "skip canned-answer cases: no python3"
        exit $((failures > 0))
fi

# A CA, fleetd's certificate for 127.0.0.1 and a client's, for the fixture's HTTPS server.
make_tls() {
        local d=$TMP/tls
        mkdir -p "$d" &&
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj /CN=test-ca &&
        openssl req -newkey rsa:2048 -nodes -keyout "$d/server.key" -out "$d/server.csr" -subj /CN=127.0.0.1 &&
        printf 'subjectAltName=IP:127.0.0.1\n' >"$d/server.ext" &&
        openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
                -extfile "$d/server.ext" -out "$d/server.pem" &&
        openssl req -newkey rsa:2048 -nodes -keyout "$d/client.key" -out "$d/client.csr" -subj /CN=fleetctl &&
        openssl x509 -req -in "$d/client.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
                -out "$d/client.pem"
}
TLS=no
if command -v openssl >/dev/null && make_tls >"$TMP/openssl.log" 2>&1; then
        TLS=yes
fi

start_fixture || exit 1

row() { printf '%-13s%-10s%-25s%s\n' "$@" | sed 's/ *$//'; }
TABLE="$(row MACHINE IP METADATA STATE)
$(row 01234567... 10.0.0.1 region=eu-west,role=web active)
$(row fedcba98... 10.0.0.2 - draining)
$(row abc - 'gpu=2,zone=b c' -)"

case=table
run --endpoint "unix://$TMP/ok.sock" list-machines
expect_rc 0
expect_out "$TABLE"
expect_err ""
ok

case=no_legend
run --endpoint "$TMP/ok.sock" list-machines --no-legend
expect_rc 0
expect_out "$(echo "$TABLE" | tail -n +2)"
ok

case=full_ids
run --endpoint "$TMP/ok.sock" list-machines -l
expect_rc 0
expect_out_has "0123456789abcdef0123456789abcdef  10.0.0.1"
expect_out_has "fedcba9876543210fedcba9876543210  10.0.0.2"
run --endpoint "$TMP/ok.sock" list-machines --full
expect_out_has "0123456789abcdef0123456789abcdef"
ok

case=json
for args in "--json list-machines" "list-machines --json"; do
        # shellcheck disable=SC2086
        run --endpoint "$TMP/ok.sock" $args
        expect_rc 0
        python3 - "$TMP/out" "$HERE" <<'EOF' || fail "--json output ($args) is not the server's machines array"
import json, sys
sys.path.insert(0, sys.argv[2])
fixture = __import__("fleetctl-fixture")
got = json.load(open(sys.argv[1]))
sys.exit(0 if got == fixture.MACHINES["machines"] else 1)
EOF
done
expect_out_has '    "id": "0123456789abcdef0123456789abcdef"'
ok

case=tcp_endpoint
run --endpoint "http://127.0.0.1:$(cat "$TMP/tcp-port")/" list-machines
expect_rc 0
expect_out "$TABLE"
ok

case=empty
run --endpoint "$TMP/empty.sock" list-machines
expect_rc 0
expect_out "MACHINE  IP  METADATA  STATE"
run --endpoint "$TMP/empty.sock" list-machines --json
expect_out "[]"
ok

case=server_error
run --endpoint "$TMP/error.sock" list-machines
expect_rc 1
expect_err "fleetctl: etcd did not answer: Connection refused"
expect_out ""
ok

case=not_found
run --endpoint "$TMP/notfound.sock" list-machines
expect_rc 4
expect_err "fleetctl: No such API path."
ok

case=error_without_json
run --endpoint "$TMP/plain500.sock" list-machines
expect_rc 1
expect_err "fleetctl: fleetd at unix://$TMP/plain500.sock answered HTTP 500."
ok

case=invalid_answers
run --endpoint "$TMP/garbage.sock" list-machines
expect_rc 1
expect_err_has "sent invalid JSON"
run --endpoint "$TMP/nolist.sock" list-machines
expect_rc 1
expect_err_has 'sent no "machines" list'
ok

case=answer_too_large
run --endpoint "$TMP/huge.sock" list-machines
expect_rc 1
expect_err_has "larger than 16 MiB"
ok

case=request_timeout
run --endpoint "$TMP/slow.sock" --request-timeout=0.2 list-machines
expect_rc 1
expect_err "fleetctl: fleetd at unix://$TMP/slow.sock did not answer within 200ms (--request-timeout)."
FLEETCTL_REQUEST_TIMEOUT=0.3 run --endpoint "$TMP/slow.sock" list-machines
expect_rc 1
expect_err_has "did not answer within 300ms"
run --endpoint "$TMP/slow.sock" --request-timeout=5s list-machines
expect_rc 0
expect_out "$TABLE"
ok

case=debug_shows_requests
run --endpoint "$TMP/ok.sock" --debug list-machines
expect_rc 0
expect_out "$TABLE"
grep -qE '^fleetctl: debug: GET http://localhost/v1/machines: 200 \([0-9]+ ms\)$' "$TMP/err" || fail "no debug line"
FLEETCTL_DEBUG=true run --endpoint "$TMP/ok.sock" list-machines
expect_err_has "fleetctl: debug: GET http://localhost/v1/machines: 200"
ok

case=fleets_ssh_options_are_noted_and_ignored
run --endpoint "$TMP/ok.sock" --strict-host-key-checking=false --ssh-username core --known-hosts-file=/dev/null \
        --ssh-timeout 10.0 --etcd-key-prefix=/_coreos.com/fleet/ --experimental-api list-machines
expect_rc 0
expect_out "$TABLE"
expect_err "fleetctl: note: ignoring --strict-host-key-checking: fleetctl reaches fleetd over its API, without SSH.
fleetctl: note: ignoring --ssh-username: fleetctl reaches fleetd over its API, without SSH.
fleetctl: note: ignoring --known-hosts-file: fleetctl reaches fleetd over its API, without SSH.
fleetctl: note: ignoring --ssh-timeout: fleetctl reaches fleetd over its API, without SSH.
fleetctl: note: ignoring --etcd-key-prefix: fleetctl does not read etcd; fleetd's etcd_key_prefix says.
fleetctl: note: ignoring --experimental-api: fleetd's API is the only way fleetctl talks."
# after the verb too; from the environment (shell profiles), silently
run list-machines --endpoint "$TMP/ok.sock" --strict-host-key-checking
expect_rc 0
expect_err_has "ignoring --strict-host-key-checking"
FLEETCTL_STRICT_HOST_KEY_CHECKING=false FLEETCTL_SSH_USERNAME=core FLEETCTL_KNOWN_HOSTS_FILE=/x \
        FLEETCTL_EXPERIMENTAL_API=true run --endpoint "$TMP/ok.sock" list-machines
expect_rc 0
expect_err ""
ok

case=tunnel_with_endpoint_is_noted
run --tunnel 10.0.0.1 --endpoint "$TMP/ok.sock" list-machines
expect_rc 0
expect_err "fleetctl: note: ignoring --tunnel: --endpoint says where fleetd is."
FLEETCTL_TUNNEL=10.0.0.1 FLEETCTL_ENDPOINT="$TMP/ok.sock" run list-machines
expect_rc 0
expect_err ""
ok

case=json_from_env
FLEETCTL_JSON=1 run --endpoint "$TMP/ok.sock" list-machines
expect_rc 0
expect_out_has '    "id": "0123456789abcdef0123456789abcdef"'
FLEETCTL_JSON=true run --endpoint "$TMP/ok.sock" list-machines --json
expect_out_has '    "id": "0123456789abcdef0123456789abcdef"'
ok

case=list_machines_fields
run --endpoint "$TMP/ok.sock" list-machines --fields=ip,machine,hostname,version --no-legend
expect_rc 0
expect_out "10.0.0.1  01234567...  node-a  0.1.0
10.0.0.2  fedcba98...  node-b  0.1.0
-         abc          odd     -"
run --endpoint "$TMP/ok.sock" list-machines --fields=machine,ip,metadata -l
expect_out_has "MACHINE                           IP        METADATA"
expect_out_has "0123456789abcdef0123456789abcdef  10.0.0.1  region=eu-west,role=web"
run --endpoint "$TMP/ok.sock" list-machines --fields=machine,bogus
expect_rc 2
expect_err "fleetctl: unknown field 'bogus' in --fields; valid are: machine, ip, metadata, state, hostname, version."
ok

if [ "$TLS" = yes ]; then
        case=https_with_client_certificate
        URL="https://127.0.0.1:$(cat "$TMP/tls-port")"
        run --endpoint "$URL" --ca-file "$TMP/tls/ca.pem" --cert-file "$TMP/tls/client.pem" \
                --key-file "$TMP/tls/client.key" list-machines
        expect_rc 0
        expect_out "$TABLE"
        # fleet's old spellings and the environment
        FLEETCTL_CA_FILE="$TMP/tls/ca.pem" FLEETCTL_CERT_FILE="$TMP/tls/client.pem" FLEETCTL_KEY_FILE="$TMP/tls/client.key" \
                run --endpoint "$URL" list-machines
        expect_rc 0
        run --endpoint "$URL" --etcd-cafile "$TMP/tls/ca.pem" --etcd-certfile "$TMP/tls/client.pem" \
                --etcd-keyfile "$TMP/tls/client.key" list-machines
        expect_rc 0
        # without the client certificate the server refuses; without the CA, fleetd is not trusted
        run --endpoint "$URL" --ca-file "$TMP/tls/ca.pem" --request-timeout=5 list-machines
        expect_rc 1
        expect_err_has "request to fleetd at $URL failed"
        run --endpoint "$URL" --cert-file "$TMP/tls/client.pem" --key-file "$TMP/tls/client.key" list-machines
        expect_rc 1
        expect_err_has "request to fleetd at $URL failed"
        ok
else
        echo "skip https_with_client_certificate: no openssl"
fi

# ---- unit verbs, against FakeFleet (fake.sock): fleetctl's own logic, not fleetd's ----

HELLO='[Service]\nExecStart=/bin/true\n'                       # as the request log shows it
WEB='[Unit]\nDescription=Web %i\n\n[Service]\nExecStart=/bin/sleep 1000\n'

mkdir -p "$TMP/units/sub" "$TMP/units/adir"
cd "$TMP/units" || exit 1
printf '[Service]\nExecStart=/bin/true\n' >hello.service
printf '[Unit]\nDescription=Web %%i\n\n[Service]\nExecStart=/bin/sleep 1000\n' >web@.service
printf '[Service]\nExecStart /bin/x\n' >bad.service
printf '[Service]\nExecStart=/bin/true\n' >'bad name.service'
printf '[Mount]\nWhat=/dev/sda\n' >data.mount
printf '[Service]\nExecStart=/bin/false\n' >sub/hello.service
cp hello.service sub/same.service
cp hello.service same.service

case=submit_sends_contents_only
fake
runf submit hello.service web@.service
expect_rc 0
expect_out "Unit hello.service inactive
Unit web@.service inactive"
expect_err ""
expect_requests "PUT /v1/units/hello.service {\"contents\":\"$HELLO\"}
PUT /v1/units/web%40.service {\"contents\":\"$WEB\"}"
ok

case=submit_again_is_quiet
: >"$TMP/requests"
runf submit hello.service
expect_rc 0
expect_out ""
expect_requests "PUT /v1/units/hello.service {\"contents\":\"$HELLO\"}"
ok

case=submit_other_contents_refused
runf submit sub/hello.service
expect_rc 1
expect_err "fleetctl: Unit hello.service already exists with different contents; destroy it first."
ok

case=submit_bad_files_send_nothing
fake
runf submit hello.service missing.service bad.service 'bad name.service' data.mount sub/web@1.service adir
expect_rc 1
expect_out ""
expect_err "fleetctl: missing.service: No such file or directory.
fleetctl: bad.service:2:1: expected a [Section] header, Key=Value or a comment, got 'ExecStart /bin/x'
fleetctl: bad name.service: unit name 'bad name.service' contains ' ' at position 4; allowed: letters, digits, ':', '-', '_', '.', '\\', '@'.
fleetctl: data.mount: unit name 'data.mount' is a .mount unit; fleet places only .service, .socket, .timer, .path and .target units.
fleetctl: sub/web@1.service: no such file, nor a template sub/web@.service next to it.
fleetctl: adir: Is a directory.
fleetctl: nothing submitted."
expect_requests ""
ok

case=bad_file_checked_before_connecting
run --endpoint "$TMP/missing.sock" submit hello.service missing.service
expect_rc 1
expect_err "fleetctl: missing.service: No such file or directory.
fleetctl: nothing submitted."
ok

case=submit_duplicates
fake
runf submit hello.service sub/hello.service
expect_rc 1
expect_err "fleetctl: hello.service and sub/hello.service are both unit hello.service, with different contents.
fleetctl: nothing submitted."
expect_requests ""
runf submit same.service sub/same.service ./same.service
expect_rc 0
expect_out "Unit same.service inactive"
expect_requests "PUT /v1/units/same.service {\"contents\":\"$HELLO\"}"
ok

case=submit_instance_from_local_template
fake
runf submit web@5.service ./hello
expect_rc 1
expect_err_has "fleetctl: ./hello: No such file or directory."
expect_requests ""
runf submit web@5.service
expect_rc 0
expect_out "Unit web@5.service inactive"
expect_requests "PUT /v1/units/web%405.service {\"contents\":\"$WEB\"}"
ok

WEB_TEMPLATE="{\"units\": {\"web@.service\": {\"contents\": \"[Service]\\nExecStart=/bin/sleep 1\\n\"}}"

case=start_instances_of_template
fake "$WEB_TEMPLATE}"
runf start web@1.service web@2
expect_rc 0
expect_out "Unit web@1.service launched on $L1
Unit web@2.service launched on $L1"
expect_err ""
# delay 2: each unit is there at its second poll; the machine list is read once, when needed.
expect_requests 'PUT /v1/units/web%401.service {"desiredState":"launched"}
PUT /v1/units/web%402.service {"desiredState":"launched"}
GET /v1/state?unit=web%401.service
GET /v1/state?unit=web%402.service
GET /v1/state?unit=web%401.service
GET /v1/machines
GET /v1/state?unit=web%402.service'
ok

case=start_file_submits_and_starts
fake
runf start ./hello.service
expect_rc 0
expect_out "Unit hello.service launched on $L1"
expect_requests "PUT /v1/units/hello.service {\"contents\":\"$HELLO\",\"desiredState\":\"launched\"}
GET /v1/state?unit=hello.service
GET /v1/state?unit=hello.service
GET /v1/machines"
ok

case=start_instance_falls_back_to_local_template
fake
runf start --no-block web@3.service
expect_rc 0
expect_out "Triggered unit web@3.service start"
expect_err ""
expect_requests "PUT /v1/units/web%403.service {\"desiredState\":\"launched\"}
PUT /v1/units/web%403.service {\"contents\":\"$WEB\",\"desiredState\":\"launched\"}"
ok

case=start_template_refused_before_sending
fake
runf start hello web@.service
expect_rc 1
expect_err "fleetctl: web@.service is a template; start an instance of it instead, e.g. web@1.service.
fleetctl: nothing changed."
expect_requests ""
runf load web@
expect_rc 1
expect_err_has "load an instance of it instead"
runf start hello.service sub/hello.service
expect_rc 1
expect_err "fleetctl: hello.service and sub/hello.service are both unit hello.service, with different contents.
fleetctl: nothing changed."
expect_requests ""
ok

case=no_block
fake '{"units": {"x.service": {}}}'
runf start --no-block x
expect_rc 0
expect_out "Triggered unit x.service start"
expect_requests 'PUT /v1/units/x.service {"desiredState":"launched"}'
runf stop x --no-block
expect_out "Triggered unit x.service stop"
ok

case=several_units_failures_reported_and_others_go_on
fake '{"units": {"a.service": {}, "b.service": {}, "c.service": {}}, "behaviour": {"b.service": "fail"}}'
runf start a nope b c
expect_rc 1
expect_out "Unit a.service launched on $L1
Unit c.service launched on $L1"
expect_err "fleetctl: No unit nope.service, and no contents given.
fleetctl: Unit b.service failed: it is failed (failed) on $L1. See 'fleetctl status b.service' and 'fleetctl journal b.service'."
ok

case=only_not_found_exits_4
fake '{"units": {"a.service": {"desiredState": "loaded"}}, "delay": 0}'
runf stop a.service nope.service
expect_rc 4
expect_out "Unit a.service loaded"
expect_err "fleetctl: No unit nope.service."
runf unload nope 'zz*'
expect_rc 4
expect_err "fleetctl: No unit nope.service.
fleetctl: No unit matches 'zz*'."
ok

running() {   # running NAME MACHINE: a state record of a running unit
        printf '"%s": {"name": "%s", "machine": "%s", "hash": "h", "load": "loaded", "active": "active", "sub": "running", "since": 1}' \
                "$1" "$1" "$2"
}
WEB_RUNNING="{\"units\": {\"web@.service\": {}, \"web@1.service\": {\"desiredState\": \"launched\"},
                           \"web@2.service\": {\"desiredState\": \"launched\"}, \"other.service\": {\"desiredState\": \"launched\"}},
              \"states\": {$(running web@1.service $M1), $(running web@2.service $M2), $(running other.service $M1)},
              \"placement\": {\"web@2.service\": 1}, \"delay\": 1"

case=stop_glob_matches_known_instances
fake "$WEB_RUNNING}"
runf stop 'web@*.service'
expect_rc 0
expect_out "Unit web@1.service loaded on $L1
Unit web@2.service loaded on $L2"
expect_requests 'GET /v1/units
PUT /v1/units/web%401.service {"desiredState":"loaded"}
PUT /v1/units/web%402.service {"desiredState":"loaded"}
GET /v1/state?unit=web%401.service
GET /v1/machines
GET /v1/state?unit=web%402.service'
ok

case=destroy_glob_includes_templates
fake "$WEB_RUNNING}"
runf destroy 'web*' other
expect_rc 0
expect_out "Destroyed web@.service
Destroyed web@1.service
Destroyed web@2.service
Destroyed other.service"
expect_requests 'GET /v1/units
DELETE /v1/units/web%40.service
DELETE /v1/units/web%401.service
DELETE /v1/units/web%402.service
DELETE /v1/units/other.service'
runf destroy 'web*' gone.service
expect_rc 4
expect_err "fleetctl: No unit matches 'web*'.
fleetctl: No unit gone.service."
ok

case=stop_leaves_inactive_units_alone
fake '{"units": {"idle.service": {}}}'
runf stop idle
expect_rc 0
expect_err "fleetctl: Unit idle.service is not loaded on any machine; nothing to stop."
expect_requests 'GET /v1/units/idle.service'
ok

case=unload_waits_for_the_record_to_go
fake "$WEB_RUNNING}"
runf unload web@1.service
expect_rc 0
expect_out "Unit web@1.service inactive"
expect_requests 'GET /v1/units/web%401.service
PUT /v1/units/web%401.service {"desiredState":"inactive"}
GET /v1/state?unit=web%401.service'
ok

case=load_waits_for_loaded
fake '{"units": {"x.service": {}}, "delay": 3}'
runf load x.service
expect_rc 0
expect_out "Unit x.service loaded on $L1"
[ "$(count_requests "GET /v1/state?unit=x.service")" = 3 ] || fail "expected 3 polls"
ok

case=block_attempts
fake '{"units": {"slow.service": {}}, "behaviour": {"slow.service": "stuck"}}'
runf start slow --block-attempts=4
expect_rc 1
expect_out ""
expect_err "fleetctl: Unit slow.service not launched after 4 attempts: it is activating (start) on $L1."
[ "$(count_requests "GET /v1/state?unit=slow.service")" = 4 ] || fail "expected 4 polls"
ok

case=timeout
fake '{"units": {"slow.service": {}}, "behaviour": {"slow.service": "stuck"}}'
runf start slow --timeout=1s
expect_rc 1
expect_err "fleetctl: Unit slow.service not launched after 1s: it is activating (start) on $L1."
runf stop nope --timeout=bogus
expect_rc 2
expect_err_has "--timeout takes a duration"
runf start x --block-attempts=-1
expect_rc 2
ok

case=oneshot_that_ran_counts_as_launched
fake '{"units": {"once.service": {}}, "behaviour": {"once.service": "oneshot"}}'
runf start once
expect_rc 0
expect_out "Unit once.service launched on $L1"
ok

STATES="{\"states\": {
  \"api.service\": {\"name\": \"api.service\", \"machine\": \"$M1\", \"hash\": \"abcdef0123456789\", \"load\": \"loaded\", \"active\": \"active\", \"sub\": \"running\", \"since\": 1},
  \"db.service\": {\"name\": \"db.service\", \"machine\": \"0123456789abcdef0123456789abcdef\", \"hash\": \"0011223344556677\", \"load\": \"loaded\", \"active\": \"failed\", \"sub\": \"failed\", \"since\": 1},
  \"zz.service\": {\"name\": \"zz.service\", \"machine\": \"$M2\", \"load\": \"loaded\", \"active\": \"active\", \"since\": 1}}}"

case=list_units_table
fake "$STATES"
runf list-units
expect_rc 0
expect_out "UNIT         MACHINE                ACTIVE  SUB
api.service  $L1  active  running
db.service   01234567...            failed  failed
zz.service   $L2  active  -"
expect_requests 'GET /v1/state
GET /v1/machines'
runf list-units --no-legend -l --fields=unit,machine,load,hash
expect_out "api.service  $M1/10.0.0.11  loaded  abcdef0123456789
db.service   0123456789abcdef0123456789abcdef            loaded  0011223344556677
zz.service   $M2/10.0.0.12  loaded  -"
runf list-units --fields=hash,unit
expect_out "HASH     UNIT
abcdef0  api.service
0011223  db.service
-        zz.service"
runf list-units --fields=unit,bogus
expect_rc 2
expect_err "fleetctl: unknown field 'bogus' in --fields; valid are: unit, machine, active, sub, load, hash."
runf list-units --json
expect_rc 0
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if [x["name"] for x in s] == ["api.service","db.service","zz.service"] and s[0]["sub"] == "running" else 1)' "$TMP/out" ||
        fail "--json is not the states list"
ok

case=list_unit_files_pages
fake '{"units": {"a.service": {"desiredState": "launched"}, "b.service": {}, "c.service": {"desiredState": "loaded"},
                 "d.service": {}, "e.service": {}}, "placement": {"c.service": 1}, "page": 2}'
runf list-unit-files
expect_rc 0
expect_out "UNIT       HASH     DSTATE    STATE     TARGET
a.service  d4fded2  launched  launched  $L1
b.service  d4fded2  inactive  inactive  -
c.service  d4fded2  loaded    loaded    $L2
d.service  d4fded2  inactive  inactive  -
e.service  d4fded2  inactive  inactive  -"
expect_requests 'GET /v1/units
GET /v1/units?from=c.service
GET /v1/units?from=e.service
GET /v1/machines'
runf list-unit-files -l --no-legend --fields=unit,hash
expect_out_has "a.service  d4fded2cad024081ba5944d682e2edad1ba9832d97c2111bb07d1d323d735330"
runf list-unit-files --json
python3 -c 'import json,sys; u=json.load(open(sys.argv[1])); sys.exit(0 if [x["name"] for x in u] == ["a.service","b.service","c.service","d.service","e.service"] else 1)' "$TMP/out" ||
        fail "--json is not every page's units"
: >"$TMP/requests"
runf destroy 'a*' 'b*' 'c*' 'd*' 'e*'
expect_rc 0
[ "$(count_requests "GET /v1/units")" = 3 ] || fail "the unit list should be read once (3 pages) for all globs"
ok

case=cat_is_byte_exact
printf '[Unit]\r\nDescription=caf\xc3\xa9 \t "quoted" \\ back\n\n[Service]\nExecStart=/bin/true' >"$TMP/odd.service"
fake "{\"units\": {\"odd.service\": {\"contents\": $(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1], newline="").read()))' "$TMP/odd.service")}}}"
runf cat odd
expect_rc 0
cmp -s "$TMP/out" "$TMP/odd.service" || fail "cat output differs from the unit file"
runf cat odd.service --json
expect_out_has '"name": "odd.service"'
runf cat nope.service
expect_rc 4
expect_out ""
expect_err "fleetctl: No unit nope.service."
ok

STATUS='{"units": {"web@1.service": {"desiredState": "launched"}, "db.service": {"desiredState": "launched"}, "idle.service": {}},
 "status": {"web@1.service": {"Id": "web@1.service", "Description": "Web server", "LoadState": "loaded",
                              "ActiveState": "active", "SubState": "running", "ActiveEnterTimestamp": -10800000000,
                              "MainPID": 123, "MemoryCurrent": 12897484, "NRestarts": 2,
                              "FragmentPath": "/run/fleetd/units/web@1.service", "machine": "'$M1'",
                              "journal": ["Jan 02 03:04:05 node-a web[123]: listening", "Jan 02 03:04:06 node-a web[123]: ready"]},
            "db.service": {"Id": "db.service", "LoadState": "loaded", "ActiveState": "failed", "SubState": "failed",
                           "Result": "exit-code", "InactiveEnterTimestamp": 1704164645000000, "MainPID": 0,
                           "ExecMainPID": 77, "ExecMainCode": 1, "ExecMainStatus": 3, "machine": "'$M2'"}},
 "journal": {"web@1.service": ["one", "two", "three"]}, "journal_follow": {"web@1.service": ["four"]}}'

case=status_rendering
fake "$STATUS"
TZ=UTC runf status web@1 db.service
expect_rc 0
expect_err ""
sed -n 3p "$TMP/out" | grep -qE '^   Active: active \(running\) since [A-Z][a-z]{2} [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC; 3h 0min ago$' ||
        fail "Active line of web@1.service"
sed 3d "$TMP/out" >"$TMP/out.rest"
[ "$(cat "$TMP/out.rest")" = "● web@1.service - Web server
   Loaded: loaded (/run/fleetd/units/web@1.service)
 Main PID: 123
   Memory: 12.2M
 Restarts: 2
  Machine: $L1

Jan 02 03:04:05 node-a web[123]: listening
Jan 02 03:04:06 node-a web[123]: ready

● db.service
   Loaded: loaded
   Active: failed (Result: exit-code) since Tue 2024-01-02 03:04:05 UTC; $(sed -n 14p "$TMP/out" | sed 's/.*UTC; //')
 Main PID: 77 (code=exited, status=3)
  Machine: $L2" ] || fail "status block differs"
sed -n 14p "$TMP/out" | grep -qE 'UTC; [0-9]+ years? [0-9]+ months? ago$' || fail "relative time of db.service"
expect_requests 'GET /v1/units/web%401.service/status
GET /v1/machines
GET /v1/units/db.service/status'
ok

case=status_failures_and_json
fake "$STATUS"
runf status nope idle web@1 --json
expect_rc 1
expect_err "fleetctl: No unit nope.service.
fleetctl: Unit idle.service is not loaded on any machine."
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if len(s) == 1 and s[0]["MainPID"] == 123 else 1)' "$TMP/out" ||
        fail "--json is not the list of status objects"
runf status 'web@*'
expect_rc 0
expect_out_has "● web@1.service - Web server"
ok

case=journal_lines
fake "$STATUS"
runf journal -n 2 web@1
expect_rc 0
expect_out "two
three"
runf journal web@1.service
expect_out "one
two
three"
expect_requests 'GET /v1/units/web%401.service/journal?lines=2
GET /v1/units/web%401.service/journal?lines=10'
runf journal db.service
expect_rc 4
expect_out ""
expect_err "fleetctl: No unit db.service."
runf journal -n many web@1
expect_rc 2
expect_err_has "--lines takes a number of lines"
ok

case=journal_follow_streams
fake "$STATUS"
rm -f "$TMP/journal-release"
"$FLEETCTL" --endpoint "$FAKE" journal --follow -n 3 web@1 >"$TMP/out" 2>"$TMP/err" &
follower=$!
for _ in $(seq 100); do
        [ "$(wc -l <"$TMP/out")" = 3 ] && break
        sleep 0.05
done
# The first lines are out while the answer is still open: streamed, not buffered to the end.
[ "$(cat "$TMP/out")" = "one
two
three" ] || fail "the first lines did not arrive while following"
kill -0 "$follower" 2>/dev/null || fail "journal --follow ended before the stream did"
touch "$TMP/journal-release"
wait "$follower"
rc=$?
expect_rc 0
expect_out "one
two
three
four"
expect_requests 'GET /v1/units/web%401.service/journal?lines=3&follow=1'
ok

HELLO_HASH=$(printf '[Service]\nExecStart=/bin/true\n' | sha256sum | cut -d' ' -f1)
FALSE='[Service]\nExecStart=/bin/false\n'

case=submit_replace
fake '{"units": {"hello.service": {}}}'
runf submit --replace sub/hello.service
expect_rc 0
expect_out "Unit hello.service replaced"
expect_err ""
expect_requests "PUT /v1/units/hello.service {\"contents\":\"$FALSE\",\"replace\":true}"
runf submit --replace sub/hello.service
expect_rc 0
expect_out ""
runf submit --replace hello.service same.service
expect_rc 0
expect_out "Unit hello.service replaced
Unit same.service inactive"
ok

case=submit_replace_refuses_a_running_unit
fake '{"units": {"hello.service": {"desiredState": "launched"}, "x.service": {"desiredState": "loaded"}}}'
printf '[Service]\nExecStart=/bin/x\n' >"$TMP/x.service"
runf submit --replace sub/hello.service "$TMP/x.service"
expect_rc 1
expect_err "fleetctl: Unit hello.service is launched: only a unit desired launched may replace it (start --replace).
fleetctl: Unit x.service is loaded: only a unit desired loaded may replace it (load --replace)."
runf load --replace --no-block sub/hello.service "$TMP/x.service"
expect_rc 1
expect_out "Triggered unit x.service load"
expect_err "fleetctl: Unit hello.service is launched: only a unit desired launched may replace it (start --replace)."
ok

case=start_replace_waits_for_the_new_contents
fake "{\"units\": {\"hello.service\": {\"desiredState\": \"launched\"}},
       \"states\": {\"hello.service\": {\"name\": \"hello.service\", \"machine\": \"$M1\", \"hash\": \"$HELLO_HASH\",
                     \"load\": \"loaded\", \"active\": \"active\", \"sub\": \"running\", \"since\": 1}}}"
runf start sub/hello.service
expect_rc 1
expect_err "fleetctl: Unit hello.service already exists with different contents; destroy it first."
runf start --replace sub/hello.service
expect_rc 0
expect_out "Unit hello.service launched on $L1"
expect_requests "PUT /v1/units/hello.service {\"contents\":\"$FALSE\",\"desiredState\":\"launched\"}
PUT /v1/units/hello.service {\"contents\":\"$FALSE\",\"desiredState\":\"launched\",\"replace\":true}
GET /v1/state?unit=hello.service
GET /v1/state?unit=hello.service
GET /v1/machines"
ok

case=start_replace_sends_a_local_template_at_once
fake '{"units": {"web@.service": {"contents": "[Service]\nExecStart=/bin/sleep 1\n"},
                 "web@1.service": {"contents": "[Service]\nExecStart=/bin/sleep 1\n"}}}'
runf start --replace --no-block web@1.service
expect_rc 0
expect_out "Triggered unit web@1.service start"
expect_requests "PUT /v1/units/web%401.service {\"contents\":\"$WEB\",\"desiredState\":\"launched\",\"replace\":true}"
runf stop --replace web@1
expect_rc 2
expect_err_has "unknown option '--replace'"
ok

REASONS="\"reasons\": {\"db.service\": {\"state\": \"unschedulable\", \"reason\": \"no machine has metadata role=db\"},
                         \"pinned.service\": {\"state\": \"stuck\", \"machine\": \"$M1\",
                                              \"reason\": \"machine $M1 is draining\"}}"

case=start_ends_with_the_reason
fake "{\"units\": {\"db.service\": {}, \"a.service\": {}}, $REASONS}"
runf start db a
expect_rc 1
expect_out "Unit a.service launched on $L1"
expect_err "fleetctl: db.service: not placed: no machine has metadata role=db"
# looked up once no machine reported it for 1 s (5 polls), not before
expect_requests 'PUT /v1/units/db.service {"desiredState":"launched"}
PUT /v1/units/a.service {"desiredState":"launched"}
GET /v1/state?unit=db.service
GET /v1/state?unit=a.service
GET /v1/state?unit=db.service
GET /v1/state?unit=a.service
GET /v1/machines
GET /v1/state?unit=db.service
GET /v1/state?unit=db.service
GET /v1/state?unit=db.service
GET /v1/units/db.service'
ok

case=load_gives_up_with_the_reason
fake "{\"units\": {\"db.service\": {}}, $REASONS}"
runf load db --block-attempts=2
expect_rc 1
expect_err "fleetctl: db.service: not placed: no machine has metadata role=db"
[ "$(count_requests "GET /v1/state?unit=db.service")" = 2 ] || fail "expected 2 polls"
runf load db --timeout=500ms
expect_rc 1
expect_err "fleetctl: db.service: not placed: no machine has metadata role=db"
ok

case=status_of_an_unplaced_unit
fake "{\"units\": {\"db.service\": {\"desiredState\": \"launched\"}}, $REASONS}"
runf status db nope.service
expect_rc 1
expect_out ""
expect_err "fleetctl: db.service: not placed: no machine has metadata role=db
fleetctl: No unit nope.service."
expect_requests 'GET /v1/units/db.service/status
GET /v1/units/db.service
GET /v1/units/nope.service/status
GET /v1/units/nope.service'
ok

case=list_unit_files_reasons
fake "{\"units\": {\"a.service\": {\"desiredState\": \"launched\"}, \"db.service\": {\"desiredState\": \"launched\"},
                 \"pinned.service\": {\"desiredState\": \"launched\"}}, $REASONS}"
runf list-unit-files
expect_rc 0
expect_out "UNIT            HASH     DSTATE    STATE     TARGET                 REASON
a.service       d4fded2  launched  launched  $L1  -
db.service      d4fded2  launched  inactive  -                      no machine has metadata role=db
pinned.service  d4fded2  launched  launched  $L1  stuck: machine $M1 is draining"
runf list-unit-files --no-legend --fields=unit,reason
expect_out "a.service       -
db.service      no machine has metadata role=db
pinned.service  stuck: machine $M1 is draining"
runf list-unit-files --fields=unit,tmachine
expect_rc 0
expect_err "fleetctl: warning: the field tmachine is deprecated; use target."
expect_out_has "TMACHINE"
runf list-unit-files --json
python3 -c 'import json,sys; u=json.load(open(sys.argv[1])); sys.exit(0 if u[1]["placement"]["reason"] == "no machine has metadata role=db" else 1)' "$TMP/out" ||
        fail "--json lacks the placement"
ok

case=unit_verbs_help
for verb in list-units list-unit-files submit load start stop unload destroy cat status journal; do
        run "$verb" --help
        expect_rc 0
        expect_out_has "Usage: fleetctl $verb "
        [ "$(sed -n 3p "$TMP/out")" != "" ] || fail "$verb --help has no description"
done
run --help
expect_out_has "Unit verbs:"
expect_out_has "Machine verbs:"
expect_out_has "  list-unit-files  List the units the cluster holds"
ok

case=unit_verbs_usage
fake
for args in "submit" "start" "destroy" "cat" "cat a b" "journal" "journal a b" "status" "list-units x"; do
        # shellcheck disable=SC2086
        runf $args
        expect_rc 2
done
expect_requests ""
ok

case=unit_verbs_unreachable
for args in "start x" "load x" "stop x" "unload x" "destroy x" "status x" "cat x" "journal x" "submit hello.service" \
            "list-units" "list-unit-files"; do
        # shellcheck disable=SC2086
        run --endpoint "$TMP/missing.sock" $args
        expect_rc 3
done
ok

echo "$failures failure(s)"
exit $((failures > 0))
