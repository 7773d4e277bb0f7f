#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fleetctl's app verbs (deploy, apps, ps, scale, config, releases, rollback, restart, logs)
# against FakeApps, the fixture's imitation of fleetd's apps API: the requests fleetctl makes,
# its waiting for rollouts, its tables, messages and exit status. fleetd itself is tested by the
# cluster tests.
#
# Usage: test-fleetctl-apps.sh PATH/TO/fleetctl
set -u

# shellcheck source=tests/unit/test-fleetctl-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-fleetctl-lib.sh"

if ! command -v python3 >/dev/null; then
        echo "skip: no python3"
        exit 77
fi
start_fixture || exit 1

mkdir -p "$TMP/apps/sub"
cd "$TMP/apps" || exit 1
manifest() {   # manifest IMAGE-TAG [WEB-SCALE]: hello's manifest, as the fake reads it
        printf '# hello\napp: hello   # its name\nimage: localhost/hello:%s\nconfig:\n  GREETING: hi\nprocesses:\n  web: {port: 8080, scale: %s}\n  worker: {scale: 1}\n' \
                "$1" "${2:-2}"
}
manifest 1.0 >hello.yaml
manifest 2.0 >hello2.yaml
# The deploy request as the log shows it: the YAML as a JSON string.
deploy_request() {   # deploy_request FILE [APP]
        printf 'POST /v1/apps/%s/deploy?file=%s %s' "${2:-hello}" "$(basename "$1")" \
                "$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$1")"
}
RUNNING_V1="hello v1 is running: web=2 worker=1
web.1     node-a  10.0.0.11:20001  healthy
web.2     node-b  10.0.0.12:20002  healthy
worker.3  node-a  -                healthy"

case=deploy_first_release
fake
runf deploy -f hello.yaml
expect_rc 0
expect_out "Created app hello.
hello: rolling out v1: deploy
$RUNNING_V1"
# Not a terminal: a line per change of the progress. The fake's rollout takes two looks.
expect_err "Rolling out hello v1: 1/3 instances healthy"
expect_requests "$(deploy_request hello.yaml)
GET /v1/apps/hello
GET /v1/apps/hello/releases
GET /v1/apps/hello"
ok

case=deploy_new_release_then_no_change
runf deploy hello2.yaml
expect_rc 0
expect_out "hello: rolling out v2: deploy
hello v2 is running: web=2 worker=1
web.4     node-b  10.0.0.12:20004  healthy
web.5     node-a  10.0.0.11:20005  healthy
worker.6  node-b  -                healthy"
expect_err "Rolling out hello v2: 1/3 instances healthy"
: >"$TMP/requests"
runf deploy -f hello2.yaml
expect_rc 0
expect_out "No change: hello is already at v2
hello v2 is running: web=2 worker=1
web.4     node-b  10.0.0.12:20004  healthy
web.5     node-a  10.0.0.11:20005  healthy
worker.6  node-b  -                healthy"
expect_err ""
expect_requests "$(deploy_request hello2.yaml)
GET /v1/apps/hello
GET /v1/apps/hello/releases"
ok

case=deploy_no_change_still_waits_for_scale
manifest 2.0 3 >hello3.yaml
runf deploy -f hello3.yaml
expect_rc 0
expect_out "No change: hello is already at v2
hello v2 is running: web=3 worker=1
web.4     node-b  10.0.0.12:20004  healthy
web.5     node-a  10.0.0.11:20005  healthy
web.7     node-a  10.0.0.11:20007  healthy
worker.6  node-b  -                healthy"
expect_err "Waiting for hello v2: 3/4 instances healthy"
ok

case=deploy_no_wait
fake
runf deploy -f hello.yaml --no-wait
expect_rc 0
expect_out "Created app hello.
hello: rolling out v1: deploy"
expect_err ""
expect_requests "$(deploy_request hello.yaml)"
ok

case=deploy_finds_the_app_name
fake
printf '%%YAML 1.1\n---\n"app" : '"'"'hello'"'"'\nimage: x\nprocesses:\n  web: {}\n' >quoted.yaml
runf deploy --no-wait -f quoted.yaml
expect_rc 0
grep -q '^POST /v1/apps/hello/deploy?file=quoted.yaml ' "$TMP/requests" || fail "quoted app key: $(cat "$TMP/requests")"
printf '{"app": "json", "image": "x",\n "processes": {"web": {"scale": 0}}}\n' >app.json
: >"$TMP/requests"
runf deploy --no-wait -f app.json
expect_rc 0
expect_out "Created app json.
json: rolling out v1: deploy"
expect_requests 'POST /v1/apps/json/deploy?file=app.json {"app":"json","image":"x","processes":{"web":{"scale":0}}}'
ok

case=deploy_app_flag
fake
runf deploy --no-wait -f hello.yaml --app other
expect_rc 1
expect_out ""
expect_err "fleetctl: The manifest is for app 'hello', not 'other'."
expect_requests "$(deploy_request hello.yaml other)"
printf 'image: x\nprocesses:\n  web: {}\n  app: {}\n' >noname.yaml
runf deploy --no-wait -a hello -f noname.yaml
expect_rc 1
expect_err "fleetctl: noname.yaml:1:1: missing app; expected app: NAME, such as app: hello"
ok

case=deploy_without_a_name_sends_nothing
fake
printf 'app:\nimage: x\n' >empty-name.yaml
for f in noname.yaml empty-name.yaml; do
        runf deploy -f "$f"
        expect_rc 1
        expect_err "fleetctl: $f: found no top-level line 'app: NAME' to tell which app this is; give the name with --app NAME."
done
expect_requests ""
ok

case=deploy_bad_manifest_is_fleetds_message
fake
printf 'app: hello\nimage: x\nprocesses:\n  web: {port: 8080, scale: lots}\n' >sub/bad.yaml
runf deploy -f sub/bad.yaml
expect_rc 1
expect_out ""
expect_err "fleetctl: bad.yaml:4:28: processes.web.scale: expected a whole number from 0 to 1000, got 'lots'"
[ "$(head -c 42 "$TMP/requests")" = "POST /v1/apps/hello/deploy?file=bad.yaml \"" ] || fail "file= is not the base name"
ok

case=deploy_file_checks
fake
head -c $((256 * 1024 + 1)) /dev/zero | tr '\0' '#' >big.yaml
runf deploy -f big.yaml
expect_rc 1
expect_err "fleetctl: big.yaml: larger than 256 KiB, the most a manifest may hold."
runf deploy -f missing.yaml
expect_rc 1
expect_err "fleetctl: missing.yaml: No such file or directory."
runf deploy -f sub
expect_rc 1
expect_err "fleetctl: sub: Is a directory."
runf deploy
expect_rc 2
expect_err_has "deploy needs a manifest: -f FILE."
runf deploy -f hello.yaml hello.yaml
expect_rc 2
expect_err_has "give the manifest once"
runf deploy -f hello.yaml --timeout=soon
expect_rc 2
expect_err_has "--timeout takes a duration"
expect_requests ""
ok

case=deploy_failed_rollout_rolls_back
fake '{"fail": {"hello": [2]}}'
runf deploy -f hello.yaml
expect_rc 0
: >"$TMP/requests"
runf deploy -f hello2.yaml
expect_rc 1
expect_out "hello: rolling out v2: deploy"
expect_err "Rolling out hello v2: 0/3 instances healthy
Rolling back hello to v3: 0/3 instances healthy
Rolling back hello to v3: 1/3 instances healthy
fleetctl: hello: v2 failed: hello_v2.web@4.service failed; rolling back to v3 (a copy of v1)
fleetctl: See 'fleetctl releases hello' and 'fleetctl logs hello'."
# The release changed under the wait: its processes are read again.
expect_requests "$(deploy_request hello2.yaml)
GET /v1/apps/hello
GET /v1/apps/hello/releases
GET /v1/apps/hello
GET /v1/apps/hello/releases
GET /v1/apps/hello
GET /v1/apps/hello"
runf releases hello
expect_out_has "automatic rollback to v1: v2 failed: hello_v2.web@4.service failed  localhost/hello:1.0"
[ "$(sed -n 2p "$TMP/out" | cut -c1-2)" = v3 ] || fail "the newest release is not first"
# An earlier failure is no failure of a change that makes no rollout.
runf scale hello web=2
expect_rc 0
expect_out_has "hello v3 is running: web=2 worker=1"
ok

case=deploy_first_release_fails
fake '{"fail": {"hello": [1]}}'
runf deploy -f hello.yaml
expect_rc 1
expect_err "Rolling out hello v1: 0/3 instances healthy
fleetctl: hello: v1 failed: hello_v1.web@1.service failed; nothing to roll back to
fleetctl: See 'fleetctl releases hello' and 'fleetctl logs hello'."
ok

case=deploy_timeout
fake '{"rollout_polls": 1000}'
runf deploy -f hello.yaml --timeout=1s
expect_rc 1
expect_out "Created app hello.
hello: rolling out v1: deploy"
expect_err "Rolling out hello v1: 0/3 instances healthy
fleetctl: gave up waiting after 1s: hello v1 has 0 of 3 instances healthy. The cluster goes on; see 'fleetctl ps hello'."
[ "$(count_requests "GET /v1/apps/hello")" -ge 3 ] || fail "expected a look every 500ms"
ok

case=scale
fake
runf deploy -f hello.yaml
: >"$TMP/requests"
runf scale hello web=3 worker=0
expect_rc 0
expect_out "Scaling hello: web=3 worker=0
hello v1 is running: web=3 worker=0
web.1  node-a  10.0.0.11:20001  healthy
web.2  node-b  10.0.0.12:20002  healthy
web.4  node-b  10.0.0.12:20004  healthy"
expect_err "Waiting for hello v1: 2/3 instances healthy"
expect_requests 'PUT /v1/apps/hello/scale {"web":3,"worker":0}
GET /v1/apps/hello
GET /v1/apps/hello/releases
GET /v1/apps/hello'
runf scale hello --no-wait web=0
expect_rc 0
expect_out "Scaling hello: web=0"
runf scale hello db=1
expect_rc 1
expect_err "fleetctl: App hello has no process 'db' in v1."
runf scale nope web=1
expect_rc 4
expect_err "fleetctl: No app nope."
ok

case=scale_usage
fake
for args in "hello" "hello web" "hello web=" "hello =3" "hello web=x" "hello web=-1" "hello web=1 web=2" "hello web=3x"; do
        # shellcheck disable=SC2086
        runf scale $args
        expect_rc 2
done
runf scale hello web=three
expect_err "fleetctl: 'web=three': expected PROCESS=COUNT, such as web=3.
See 'fleetctl scale --help'."
expect_requests ""
ok

case=config
fake
runf deploy -f hello.yaml
: >"$TMP/requests"
runf config set hello 'URL=postgres://db/x?a=b' 'EMPTY=' --no-wait
expect_rc 0
expect_out "hello: rolling out v2: config set URL set EMPTY"
expect_requests 'POST /v1/apps/hello/config {"set":{"EMPTY":"","URL":"postgres://db/x?a=b"}}'
runf config hello
expect_rc 0
expect_out "GREETING=hi
URL=postgres://db/x?a=b
EMPTY="
runf config show hello --json
expect_rc 0
python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); sys.exit(0 if list(c.items()) == [("GREETING","hi"),("URL","postgres://db/x?a=b"),("EMPTY","")] else 1)' "$TMP/out" ||
        fail "config --json is not the release's config, in order"
: >"$TMP/requests"
runf config unset hello URL EMPTY
expect_rc 0
# v2's instances were numbered 4 to 6 when v2 was made, so v3's are 7 to 9.
expect_out "hello: rolling out v3: config unset URL unset EMPTY
hello v3 is running: web=2 worker=1
web.7     node-a  10.0.0.11:20007  healthy
web.8     node-b  10.0.0.12:20008  healthy
worker.9  node-a  -                healthy"
expect_requests 'POST /v1/apps/hello/config {"unset":["URL","EMPTY"]}
GET /v1/apps/hello
GET /v1/apps/hello/releases
GET /v1/apps/hello'
runf config unset hello URL --no-wait
expect_rc 0
expect_out "No change: hello stays at v3"
runf config set hello PORT=1
expect_rc 1
expect_err "fleetctl: Config key 'PORT' must match [A-Za-z_][A-Za-z0-9_]* (not PORT) and its value be a string."
ok

case=config_usage
fake
for args in "set" "set hello" "set hello FOO" "set hello =x" "unset hello" "unset hello A=1" "show" "show a b" "hello A=1"; do
        # shellcheck disable=SC2086
        runf config $args
        expect_rc 2
done
runf config hello A=1
expect_err "fleetctl: to change config: config set hello KEY=VALUE..., or config unset hello KEY....
See 'fleetctl config --help'."
expect_requests ""
runf config nope
expect_rc 4
expect_err "fleetctl: No app nope."
ok

case=rollback
fake
runf deploy -f hello.yaml
runf deploy -f hello2.yaml
: >"$TMP/requests"
runf rollback hello
expect_rc 0
expect_out "hello: rolling out v3: rollback to v1
hello v3 is running: web=2 worker=1
web.7     node-a  10.0.0.11:20007  healthy
web.8     node-b  10.0.0.12:20008  healthy
worker.9  node-a  -                healthy"
expect_requests 'POST /v1/apps/hello/rollback {}
GET /v1/apps/hello
GET /v1/apps/hello/releases
GET /v1/apps/hello'
: >"$TMP/requests"
runf rollback hello v2 --no-wait
expect_out "hello: rolling out v4: rollback to v2"
runf rollback hello 1 --no-wait
expect_requests 'POST /v1/apps/hello/rollback {"version":2}
POST /v1/apps/hello/rollback {"version":1}'
runf rollback hello v9
expect_rc 1
expect_err "fleetctl: version must be a release from 1 to 5."
for v in v x v0 -1 1.5; do
        runf rollback hello "$v"
        expect_rc 2
done
expect_err_has "expected a release, such as v3 or 3."
ok

case=restart
fake
runf deploy -f hello.yaml
: >"$TMP/requests"
runf restart hello web
expect_rc 0
expect_out "hello: restarting web
hello v1 is running: web=2 worker=1
web.4     node-b  10.0.0.12:20004  healthy
web.5     node-a  10.0.0.11:20005  healthy
worker.3  node-a  -                healthy"
# worker.3 stays: only web is restarted.
expect_err "Rolling out hello v1: 2/3 instances healthy"
expect_requests 'POST /v1/apps/hello/restart {"process":"web"}
GET /v1/apps/hello
GET /v1/apps/hello/releases
GET /v1/apps/hello'
runf restart hello --no-wait
expect_out "hello: restarting every process"
expect_requests_last 'POST /v1/apps/hello/restart {}'
runf restart hello db
expect_rc 1
expect_err "fleetctl: App hello has no process 'db'."
ok

APPS='{"apps": {
  "hello": {"record": {"release": 3, "latest": 3, "scale": {"web": 3, "worker": 1}, "nextIndex": 10,
                       "rollout": {"state": "done", "from": 2, "rollbackOf": 0, "message": "v3 is running"}},
            "releases": [
              {"app": "hello", "version": 1, "image": "localhost/hello:1.0", "runtime": "podman", "config": {},
               "processes": [{"name": "web", "port": 8080, "scale": 1}], "cause": "deploy", "created_usec": -864000000000},
              {"app": "hello", "version": 2, "image": "localhost/hello:1.1", "runtime": "podman", "config": {"Z": "1", "A": "x=y"},
               "processes": [{"name": "web", "port": 8080, "scale": 1}], "cause": "config set Z set A", "created_usec": -10800000000},
              {"app": "hello", "version": 3, "image": "localhost/hello:1.1", "runtime": "podman", "config": {"Z": "1", "A": "x=y"},
               "processes": [{"name": "web", "port": 8080, "scale": 3}, {"name": "worker", "port": 0, "scale": 1}],
               "cause": "deploy", "created_usec": -600000000}],
            "instances": [
              {"unit": "hello_v3.worker@6.service", "release": 3, "process": "worker", "index": 6, "machine": "'$M2'",
               "hostname": "node-b", "ip": "10.0.0.12", "load": "loaded", "active": "activating", "sub": "start"},
              {"unit": "hello_v3.web@8.service", "release": 3, "process": "web", "index": 8, "machine": "'$M2'",
               "hostname": "node-b", "ip": "10.0.0.12", "port": 20008, "load": "loaded", "active": "active",
               "sub": "running", "health": "failing"},
              {"unit": "hello_v3.web@7.service", "release": 3, "process": "web", "index": 7, "machine": "'$M1'",
               "hostname": "node-a", "ip": "10.0.0.11", "port": 20007, "load": "loaded", "active": "active",
               "sub": "running", "health": "passing"},
              {"unit": "hello_v3.web@9.service", "release": 3, "process": "web", "index": 9},
              {"unit": "hello_v2.web@4.service", "release": 2, "process": "web", "index": 4, "machine": "'$M1'",
               "ip": "10.0.0.11", "port": 20004, "load": "loaded", "active": "deactivating", "sub": "stop-sigterm"}]},
  "api": {"record": {"release": 1, "latest": 1, "scale": {"web": 1}, "rollout": {"state": "rolling", "from": 0, "rollbackOf": 0}}},
  "new": {}},
 "journal": {"hello_v3.web@7.service": ["Jan 02 03:04:05 node-a hello[12]: GET / 200", "Jan 02 03:04:06 node-a hello[12]: GET /x 404"],
             "hello_v3.web@8.service": ["Jan 02 03:04:07 node-b hello[13]: listening"],
             "hello_v2.web@4.service": ["Jan 02 03:00:00 node-a hello[9]: stopping"]},
 "journal_follow": {"hello_v3.web@7.service": ["Jan 02 03:05:00 node-a hello[12]: GET /later 200"],
                    "hello_v3.web@8.service": ["Jan 02 03:05:01 node-b hello[13]: still here"]}}'

case=apps_table
fake "$APPS"
runf apps
expect_rc 0
expect_out "APP    RELEASE  PROCESSES       ROLLOUT
api    v1       web=1           rolling
hello  v3       web=3,worker=1  done
new    -        -               none"
expect_requests "GET /v1/apps
GET /v1/events?limit=2000"
runf apps list --json
expect_rc 0
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); sys.exit(0 if [x["name"] for x in a] == ["api","hello","new"] and a[1]["scale"] == {"web": 3, "worker": 1} else 1)' "$TMP/out" ||
        fail "apps --json is not the apps list"
ok

case=ps_table
fake "$APPS"
runf ps hello
expect_rc 0
expect_out "INSTANCE  UNIT                       RELEASE  HOST         ADDRESS          STATE                      HEALTH
web.4     hello_v2.web@4.service     v2       3f2a1b9c...  10.0.0.11:20004  deactivating/stop-sigterm  stopping
web.7     hello_v3.web@7.service     v3       node-a       10.0.0.11:20007  active/running             healthy
web.8     hello_v3.web@8.service     v3       node-b       10.0.0.12:20008  active/running             unhealthy
web.9     hello_v3.web@9.service     v3       -            -                -                          -
worker.6  hello_v3.worker@6.service  v3       node-b       -                activating/start           starting"
expect_requests "GET /v1/apps/hello
GET /v1/events?limit=1&app=hello"
runf ps hello --json
expect_rc 0
python3 -c 'import json,sys; i=json.load(open(sys.argv[1])); sys.exit(0 if len(i) == 5 and i[0]["unit"] == "hello_v3.worker@6.service" else 1)' "$TMP/out" ||
        fail "ps --json is not the instances as fleetd sent them"
runf ps api
expect_out "INSTANCE  UNIT  RELEASE  HOST  ADDRESS  STATE  HEALTH"
runf ps nope
expect_rc 4
expect_err "fleetctl: No app nope."
runf ps Bad_Name
expect_rc 1
expect_err "fleetctl: Invalid app name 'Bad_Name': expected [a-z][a-z0-9-]*, at most 40 characters."
ok

case=releases_table
fake "$APPS"
runf releases hello
expect_rc 0
expect_out "VERSION  CREATED            CAUSE               IMAGE
v3       10min ago          deploy              localhost/hello:1.1
v2       3h 0min ago        config set Z set A  localhost/hello:1.1
v1       1 week 3 days ago  deploy              localhost/hello:1.0"
expect_requests "GET /v1/apps/hello/releases"
runf releases hello --json
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if [x["version"] for x in r] == [3,2,1] and r[0]["processes"][1]["name"] == "worker" else 1)' "$TMP/out" ||
        fail "releases --json is not the releases as fleetd sent them"
runf releases new
expect_rc 4
expect_err "fleetctl: App new has no releases."
ok

case=config_show_keeps_release_order
fake "$APPS"
runf config hello
expect_rc 0
expect_out "Z=1
A=x=y"
expect_requests "GET /v1/apps/hello
GET /v1/apps/hello/releases"
ok

case=wait_counts_the_release_processes_only
# The scale remembers a process that v2 no longer has: waiting must not count it.
fake '{"apps": {"hello": {"record": {"release": 2, "latest": 2, "scale": {"web": 1, "gone": 2}, "nextIndex": 5,
                                     "rollout": {"state": "done", "from": 1, "rollbackOf": 0}},
                          "releases": [{"app": "hello", "version": 1, "image": "x", "config": {},
                                        "processes": [{"name": "web", "port": 0, "scale": 1}, {"name": "gone", "port": 0, "scale": 2}]},
                                       {"app": "hello", "version": 2, "image": "x", "config": {},
                                        "processes": [{"name": "web", "port": 0, "scale": 1}]}],
                          "instances": []}}}'
runf scale hello web=1 --timeout=5s
expect_rc 0
expect_out "Scaling hello: web=1
hello v2 is running: web=1
web.5  node-a  -  healthy"
ok

case=apps_destroy
fake "$APPS"
runf apps destroy hello
expect_rc 0
expect_out "Destroyed hello: 3 releases, 5 units"
expect_requests "DELETE /v1/apps/hello"
runf apps destroy hello
expect_rc 4
expect_err "fleetctl: No app hello."
runf apps destroy api --json
expect_rc 0
expect_out_has '"destroyed": "api"'
for args in "destroy" "destroy a b" "bogus" "list x"; do
        # shellcheck disable=SC2086
        runf apps $args
        expect_rc 2
done
runf apps bogus
expect_err "fleetctl: unknown 'apps bogus': use 'apps' to list them or 'apps destroy APP'.
See 'fleetctl apps --help'."
ok

case=unit_destroy_hints_at_apps
fake "$APPS"
runf destroy hello
expect_rc 4
expect_err "fleetctl: No unit hello.service.
fleetctl: hello is an app; destroy it with 'fleetctl apps destroy hello'."
expect_requests "DELETE /v1/units/hello.service
GET /v1/apps/hello"
runf destroy hello.service nope
expect_rc 4
expect_err "fleetctl: No unit hello.service.
fleetctl: No unit nope.service."
expect_requests_last "GET /v1/apps/nope"
ok

case=logs
fake "$APPS"
runf logs hello
# web.9 runs nowhere yet: no journal to ask for. worker.6 has none in the fake: reported, the
# others are shown, and since every failure was a 404 the exit status is 4.
expect_rc 4
expect_out "web.4   | Jan 02 03:00:00 node-a hello[9]: stopping
web.7   | Jan 02 03:04:05 node-a hello[12]: GET / 200
web.7   | Jan 02 03:04:06 node-a hello[12]: GET /x 404
web.8   | Jan 02 03:04:07 node-b hello[13]: listening"
expect_err "fleetctl: worker.6: No unit hello_v3.worker@6.service."
expect_requests "GET /v1/apps/hello
GET /v1/units/hello_v2.web%404.service/journal?lines=10
GET /v1/units/hello_v3.web%407.service/journal?lines=10
GET /v1/units/hello_v3.web%408.service/journal?lines=10
GET /v1/units/hello_v3.worker%406.service/journal?lines=10"
runf logs hello -n 1 --process web
expect_rc 0
expect_out "web.4| Jan 02 03:00:00 node-a hello[9]: stopping
web.7| Jan 02 03:04:06 node-a hello[12]: GET /x 404
web.8| Jan 02 03:04:07 node-b hello[13]: listening"
runf logs hello -p db
expect_rc 0
expect_out ""
expect_err "fleetctl: hello runs no instances of db."
runf logs nope
expect_rc 4
runf logs hello -n lots
expect_rc 2
ok

case=logs_labels_line_up
fake '{"apps": {"hello": {"record": {"release": 1, "scale": {"web": 1, "worker": 1}},
        "instances": [{"unit": "hello_v1.web@1.service", "release": 1, "process": "web", "index": 1, "machine": "m"},
                      {"unit": "hello_v1.worker@2.service", "release": 1, "process": "worker", "index": 2, "machine": "m"}]}},
       "journal": {"hello_v1.web@1.service": ["a"], "hello_v1.worker@2.service": ["b"]}}'
runf logs hello
expect_rc 0
expect_out "web.1   | a
worker.2| b"
ok

case=logs_follow_streams_all_at_once
fake "$APPS"
rm -f "$TMP/journal-release"
"$FLEETCTL" --endpoint "$FAKE" logs --follow -n 1 -p web hello >"$TMP/out" 2>"$TMP/err" &
follower=$!
for _ in $(seq 100); do
        [ "$(wc -l <"$TMP/out")" = 3 ] && break
        sleep 0.05
done
# Every instance's first lines are out while all their answers are still open.
[ "$(sort "$TMP/out")" = "web.4| Jan 02 03:00:00 node-a hello[9]: stopping
web.7| Jan 02 03:04:06 node-a hello[12]: GET /x 404
web.8| Jan 02 03:04:07 node-b hello[13]: listening" ] || fail "the first lines of each instance did not arrive while following"
touch "$TMP/journal-release"
for _ in $(seq 100); do
        [ "$(wc -l <"$TMP/out")" = 5 ] && break
        sleep 0.05
done
kill -0 "$follower" 2>/dev/null || fail "logs --follow ended by itself"
kill "$follower"
wait "$follower" 2>/dev/null
expect_out_has "web.7| Jan 02 03:05:00 node-a hello[12]: GET /later 200"
expect_out_has "web.8| Jan 02 03:05:01 node-b hello[13]: still here"
[ "$(grep -c '^GET /v1/units/.*journal?lines=1&follow=1$' "$TMP/requests")" = 3 ] || fail "expected 3 follow requests"
ok

case=logs_follow_picks_up_new_instances
fake '{"journal": {"hello_v1.web@1.service": ["one"], "hello_v1.web@2.service": ["two"], "hello_v1.web@4.service": ["four"]}}'
runf deploy -f hello.yaml
: >"$TMP/requests"
touch "$TMP/journal-release"   # the follows end after their first lines
"$FLEETCTL" --endpoint "$FAKE" logs -f -p web hello >"$TMP/follow.out" 2>"$TMP/follow.err" &
follower=$!
for _ in $(seq 100); do
        [ "$(wc -l <"$TMP/follow.out")" = 2 ] && break
        sleep 0.05
done
runf scale hello web=3 --no-wait
# Every answer has ended: the app is looked at again only after 5s, not in a busy loop.
sleep 1
[ "$(count_requests "GET /v1/apps/hello")" = 1 ] || fail "the app was looked at again too soon"
for _ in $(seq 160); do
        [ "$(wc -l <"$TMP/follow.out")" = 3 ] && break
        sleep 0.05
done
kill "$follower"
wait "$follower" 2>/dev/null
# The first two follows run at once: their lines and their requests come in either order.
{ head -n 2 "$TMP/follow.out" | sort; tail -n +3 "$TMP/follow.out"; } >"$TMP/out"
cp "$TMP/follow.err" "$TMP/err"
{ head -n 1 "$TMP/requests"; sed -n 2,3p "$TMP/requests" | sort; tail -n +4 "$TMP/requests"; } >"$TMP/requests.sorted"
mv "$TMP/requests.sorted" "$TMP/requests"
expect_err ""
expect_out "web.1| one
web.2| two
web.4| four"
expect_requests 'GET /v1/apps/hello
GET /v1/units/hello_v1.web%401.service/journal?lines=10&follow=1
GET /v1/units/hello_v1.web%402.service/journal?lines=10&follow=1
PUT /v1/apps/hello/scale {"web":3}
GET /v1/apps/hello
GET /v1/units/hello_v1.web%404.service/journal?lines=10&follow=1'
ok

case=app_verbs_help
for verb in deploy apps ps scale config releases rollback restart logs; do
        run "$verb" --help
        expect_rc 0
        expect_out_has "Usage: fleetctl $verb "
        [ "$(sed -n 3p "$TMP/out")" != "" ] || fail "$verb --help has no description"
done
run deploy --help
expect_out_has "--no-wait"
expect_out_has "--app=NAME"
run --help
expect_out_has "App verbs:"
expect_out_has "  deploy           Deploy an app from its manifest and wait until it runs"
expect_out_has "  apps             List the apps, or destroy one (apps destroy APP)"
run destroy --help
expect_out_has "fleetctl apps destroy APP"
ok

# routes: the records as agents write them (registry.h's codec), sorted by app and unit; a
# value that is not a route record is left out of the table.
route() {   # route APP RELEASE PROCESS INDEX HOST PORT
        printf '{"app": "%s", "unit": "%s_v%s.%s@%s.service", "host": "%s", "port": %s, ' "$1" "$1" "$2" "$3" "$4" "$5" "$6"
        printf '"release": %s, "process": "%s", "machine": "%s"}' "$2" "$3" "$M1"
}
case=routes_table
fake "{\"routes\": [$(route hello 3 web 2 10.0.0.12 20002), $(route api 1 web 1 10.0.0.11 20001),
                    $(route hello 3 web 1 10.0.0.11 20001), {\"app\": \"hello\", \"host\": \"10.0.0.9\", \"port\": 1},
                    $(route hello 3 admin 4 2001:db8::1 20004)]}"
runf routes
expect_rc 0
expect_out "APP    UNIT                      ADDRESS            RELEASE  PROCESS
api    api_v1.web@1.service      10.0.0.11:20001    v1       web
hello  hello_v3.admin@4.service  2001:db8::1:20004  v3       admin
hello  hello_v3.web@1.service    10.0.0.11:20001    v3       web
hello  hello_v3.web@2.service    10.0.0.12:20002    v3       web"
runf routes hello
expect_rc 0
expect_out "APP    UNIT                      ADDRESS            RELEASE  PROCESS
hello  hello_v3.admin@4.service  2001:db8::1:20004  v3       admin
hello  hello_v3.web@1.service    10.0.0.11:20001    v3       web
hello  hello_v3.web@2.service    10.0.0.12:20002    v3       web"
runf routes --json
expect_rc 0
expect_out_has '"host": "10.0.0.9"'
expect_requests "GET /v1/routes
GET /v1/routes?app=hello
GET /v1/routes"
ok

# fleetctl events: one line an event, in local time; ps and apps show the last one
case=events
EVENTS='{"apps": {"hello": {"record": {"release": 3, "latest": 3, "scale": {"web": 1}, "rollout": {"state": "done"}}}},
 "events": [
  {"id": "1733130843000000-3f2a1b9c-00000001", "time": 1733130843000000, "kind": "app.config", "app": "hello",
   "release": 3, "who": "alice", "uid": 1000, "message": "release v3 created (config set GREETING)"},
  {"id": "1733130900000000-3f2a1b9c-00000002", "time": 1733130900000000, "kind": "unit.move", "unit": "db.service",
   "machine": "9d8e7f6a5b4c3d2e1f00112233445566", "who": "engine@node-a", "message": "moved from 3f2a1b9c to 9d8e7f6a: its machine is gone"},
  {"id": "1733130960000000-3f2a1b9c-00000003", "time": 1733130960000000, "kind": "app.scale", "app": "hello",
   "release": 3, "who": "CN=bob,O=ops", "message": "scale web 3 -> 1"}]}'
fake "$EVENTS"
TZ=UTC runf events
expect_rc 0
expect_out "Dec 02 09:14:03  hello  release v3 created (config set GREETING) by alice
Dec 02 09:15:00  db.service  moved from 3f2a1b9c to 9d8e7f6a: its machine is gone by engine@node-a
Dec 02 09:16:00  hello  scale web 3 -> 1 by CN=bob,O=ops"
TZ=UTC runf events hello --since 1h --limit 5
expect_rc 0
expect_out "Dec 02 09:14:03  hello  release v3 created (config set GREETING) by alice
Dec 02 09:16:00  hello  scale web 3 -> 1 by CN=bob,O=ops"
runf events hello --json
expect_rc 0
python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); sys.exit(0 if [x["kind"] for x in e] == ["app.config","app.scale"] else 1)' "$TMP/out" ||
        fail "events --json is not the events as fleetd sent them"
TZ=UTC runf ps hello
expect_rc 0
expect_out_has "Last event: Dec 02 09:16:00  scale web 3 -> 1 by CN=bob,O=ops"
runf apps
expect_rc 0
expect_out_has "LAST EVENT"
expect_out_has "scale web 3 -> 1 by CN=bob,O=ops"
expect_requests "GET /v1/events?follow=0
GET /v1/events?follow=0&app=hello&since=1h&limit=5
GET /v1/events?follow=0&app=hello
GET /v1/apps/hello
GET /v1/events?limit=1&app=hello
GET /v1/apps
GET /v1/events?limit=2000"
runf events --limit 10001
expect_rc 2
ok

case=app_verbs_usage
fake
for args in "ps" "ps a b" "releases" "logs" "logs a b" "rollback" "rollback a v1 x" "restart" "restart a b c" "scale a" "config"; do
        # shellcheck disable=SC2086
        runf $args
        expect_rc 2
done
expect_requests ""
ok

case=app_verbs_unreachable
for args in "deploy -f hello.yaml" "apps" "apps destroy x" "ps x" "scale x web=1" "config x" "config set x A=1" \
            "releases x" "rollback x" "restart x" "logs x"; do
        # shellcheck disable=SC2086
        run --endpoint "$TMP/missing.sock" $args
        expect_rc 3
done
ok

echo "$failures failure(s)"
exit $((failures > 0))
