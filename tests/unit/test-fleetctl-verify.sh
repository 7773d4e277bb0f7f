#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fleetctl verify (offline: no fleetd), and the same [X-Fleet] checks in submit and start:
# refused before anything is sent, warnings on stderr. Unit files from tests/data/xfleet and
# written here; the fixture (fleetctl-fixture.py) records what would have been sent.
#
# Usage: test-fleetctl-verify.sh PATH/TO/fleetctl
set -u

# shellcheck source=tests/unit/test-fleetctl-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-fleetctl-lib.sh"

DATA=$(cd "$HERE/../data/xfleet" && pwd)
mkdir -p "$TMP/units"
cd "$DATA" || exit 1

# ---- verify: no server needed ----

case=verify_sidekick_as_instance
run --endpoint "$TMP/missing.sock" verify --as apache-discovery@2.service apache-discovery@.service
expect_rc 0
expect_out "apache-discovery@.service as apache-discovery@2.service: ok
  MachineOf        apache@2.service
  MachineMetadata  role=web disk=ssd"
expect_err ""
ok

case=verify_template_keeps_its_instance_specifier
run verify apache-discovery@.service apache@.service
expect_rc 0
expect_out "apache-discovery@.service: ok
  MachineOf        apache@%i.service
  MachineMetadata  role=web disk=ssd
apache@.service: ok
  MachineMetadata  role=web disk=ssd
  Conflicts        apache@*.service"
ok

case=verify_json_one_object_per_file
run --json verify --as etcd-member@4a3b2c1d0e0f11223344556677889900.service etcd-member@.service
expect_rc 0
expect_out '{"file":"etcd-member@.service","name":"etcd-member@4a3b2c1d0e0f11223344556677889900.service","machineID":"4a3b2c1d0e0f11223344556677889900","machineOf":[],"machineMetadata":{},"conflicts":[],"replaces":[],"global":false,"warnings":[],"errors":[]}'
expect_err ""
run verify log-shipper.service kubelet.service --json
expect_rc 0
expect_out '{"file":"log-shipper.service","name":"log-shipper.service","machineID":null,"machineOf":[],"machineMetadata":{"role":["worker","edge"]},"conflicts":["log-shipper-old.service"],"replaces":[],"global":true,"warnings":[],"errors":[]}
{"file":"kubelet.service","name":"kubelet.service","machineID":null,"machineOf":[],"machineMetadata":{"role":["node"],"zone":["us-east-1a"]},"conflicts":[],"replaces":[],"global":true,"warnings":["kubelet.service:18: MachineMetadata=role=node zone=us-east-1a: read as 2 key=value pairs, but fleet ignored this value (it is not one pair); quote each pair (\"k=v\" \"k2=v2\") to be read the same by both"],"errors":[]}'
expect_err ""
ok

case=verify_warnings_on_stderr
run verify typo.service store-volume.service
expect_rc 0
expect_out "typo.service: 2 warnings
  no requirements: any machine
store-volume.service: 3 warnings
  MachineOf        store-daemon.service
  MachineMetadata  storage=true
  Conflicts        store-volume-*.service"
expect_err "fleetctl: warning: typo.service:11: unknown [X-Fleet] key MachineMetdata= is ignored; did you mean MachineMetadata=?
fleetctl: warning: typo.service:12: unknown [X-Fleet] key conflicts= is ignored; did you mean Conflicts=?
fleetctl: warning: store-volume.service:16: X-ConditionMachineOf= is deprecated; write MachineOf= (read the same)
fleetctl: warning: store-volume.service:17: X-ConditionMachineMetadata= is deprecated; write MachineMetadata= (read the same)
fleetctl: warning: store-volume.service:18: X-Conflicts= is deprecated; write Conflicts= (read the same)"
ok

case=verify_errors_exit_1
run verify pinned-global.service apache@.service
expect_rc 1
expect_out_has "pinned-global.service: 3 errors"
expect_out_has "apache@.service: ok"
expect_err "fleetctl: pinned-global.service:13: MachineID= cannot be used with MachineOf= (line 15); fleet refuses this too
fleetctl: pinned-global.service:13: MachineID= cannot be used with Global=true (line 14); fleet refuses this too
fleetctl: pinned-global.service:14: Global=true cannot be used with MachineOf= (line 15); fleet refuses this too"
run --json verify pinned-global.service
expect_rc 1
expect_out_has '"errors":["pinned-global.service:13: MachineID= cannot be used with MachineOf= (line 15); fleet refuses this too",'
expect_err ""
ok

case=verify_missing_and_misnamed_files
printf '[Service]\nExecStart=/bin/true\n' >"$TMP/units/data.mount"
run verify "$TMP/units/nope.service" "$TMP/units/data.mount"
expect_rc 1
expect_err "fleetctl: $TMP/units/nope.service: No such file or directory
fleetctl: $TMP/units/data.mount: unit name 'data.mount' is a .mount unit; fleet places only .service, .socket, .timer, .path and .target units."
expect_out "$TMP/units/nope.service: 1 error
$TMP/units/data.mount: 1 error
  no requirements: any machine"
ok

case=verify_as_must_fit_the_file
run verify --as router@1.service apache@.service
expect_rc 1
expect_err "fleetctl: apache@.service: --as router@1.service: this file is unit apache@.service; --as may only name it or, for a template, one of its instances"
run verify --as 'bad name.service' apache@.service
expect_rc 2
expect_err_has "fleetctl: --as: unit name 'bad name.service' contains ' '"
run verify
expect_rc 2
expect_err_has "verify needs 1 argument"
ok

case=verify_help
run help verify
expect_rc 0
expect_out_has "Usage: fleetctl verify [--as NAME] FILE..."
expect_out_has "--as NAME"
run --help
expect_out_has "verify"
ok

# ---- submit and start: the same checks, before anything is sent ----

if ! command -v python3 >/dev/null; then
        echo "skip canned-answer cases: no python3"
        exit $((failures > 0))
fi
start_fixture || exit 1
cd "$TMP/units" || exit 1
printf '[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineID=0123456789abcdef0123456789abcdef\nConflicts=db*\n' >pinned.service
printf '[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineMetdata=role=web\n' >typo.service
printf '[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineOf=db@%%i.service\nConflicts=db@1*\n' >side@.service
cp "$DATA/apache@.service" .

case=submit_refuses_what_fleet_refused
fake
runf submit apache@.service pinned.service
expect_rc 1
expect_out ""
expect_err "fleetctl: pinned.service:4: MachineID= cannot be used with Conflicts= (line 5); fleet refuses this too
fleetctl: nothing submitted."
expect_requests ""
ok

case=submit_prints_warnings_and_sends
fake
runf submit typo.service
expect_rc 0
expect_out "Unit typo.service inactive"
expect_err "fleetctl: warning: typo.service:4: unknown [X-Fleet] key MachineMetdata= is ignored; did you mean MachineMetadata=?"
[ "$(count_requests "PUT /v1/units/typo.service")" = 1 ] || fail "typo.service was not sent"
ok

case=start_checks_an_instance_with_its_own_name
fake
runf start --no-block side@1.service
expect_rc 1
expect_err "fleetctl: side@.service:4: MachineOf=db@1.service is matched by Conflicts=db@1* (line 5): the unit could never be placed; fleet refuses this too
fleetctl: nothing changed."
expect_requests ""
runf start --no-block ./side@2.service
expect_rc 0
expect_requests_last "PUT /v1/units/side%402.service {\"contents\":\"[Service]\\nExecStart=/bin/true\\n[X-Fleet]\\nMachineOf=db@%i.service\\nConflicts=db@1*\\n\",\"desiredState\":\"launched\"}"
ok

exit $((failures > 0))
