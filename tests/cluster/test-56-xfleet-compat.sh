# shellcheck shell=bash
# [X-Fleet] as fleet read it, on real hosts: a template and its sidekick template
# (MachineOf=apache@%i.service) with quoted multi-pair MachineMetadata, instances 1..3 each
# running beside its own apache; specifiers per instance (MachineID=%i, MachineMetadata=host=%i);
# and units fleet refused, refused by fleetctl submit and by a direct PUT, with nothing written
# to etcd. The sandbox gives host1 and host2 role=web, host3 role=edge, and every host host=hostN.
. "$(dirname "${BASH_SOURCE[0]}")/units.sh"

SOCK=/run/fleetd/fleetd.sock
id1=$(cl_machine_id host1)
id3=$(cl_machine_id host3)

unit_file host1 apache@.service "$(sleeper 'MachineMetadata="role=web" "role=edge"' 'Conflicts=apache@*.service')"
unit_file host1 apache-discovery@.service "$(sleeper 'MachineOf=apache@%i.service' 'MachineMetadata="role=web" "role=edge"')"
unit_file host1 pair.service "$(sleeper 'MachineMetadata="role=web" "host=host2"')"
unit_file host1 pin@.service "$(sleeper 'MachineID=%i')"
unit_file host1 at@.service "$(sleeper 'MachineMetadata=host=%i')"

assert_exit 0 "submit the templates" cl_fleetctl host1 submit /root/units/apache@.service \
        /root/units/apache-discovery@.service /root/units/pin@.service /root/units/at@.service
assert_eq "" "$CL_ERR" "warnings of submit for files fleet read the same way"
assert_exit 0 "start apache@1..3 and their sidekicks" cl_fleetctl host1 start apache@1.service apache@2.service \
        apache@3.service apache-discovery@1.service apache-discovery@2.service apache-discovery@3.service
assert_exit 0 "start the pinned units" cl_fleetctl host1 start /root/units/pair.service "pin@$id3.service" \
        at@host1.service

# The machine of UNIT in etcd's schedule/, one line per machine.
scheduled_on() {
        cl_etcdctl get --prefix "${CL_PREFIX}schedule/" --keys-only | sed -n "s|^${CL_PREFIX}schedule/\([^/]*\)/$1\$|\1|p"
}

hosts=()
for i in 1 2 3; do
        wait_until 30 unit_host "apache@$i.service" || fail "apache@$i.service is not running on exactly one host"
        wait_until 30 unit_host "apache-discovery@$i.service" || fail "apache-discovery@$i.service is not running"
        h=$(unit_host "apache@$i.service")
        assert_eq "$h" "$(unit_host "apache-discovery@$i.service")" "host of apache-discovery@$i (MachineOf=apache@%i)"
        m=$(scheduled_on "apache@$i.service")
        [ -n "$m" ] || fail "apache@$i.service is not in schedule/"
        assert_eq "$m" "$(scheduled_on "apache-discovery@$i.service")" "machine of apache-discovery@$i in schedule/"
        hosts+=("$h")
done
distinct=$(printf '%s\n' "${hosts[@]}" | sort -u | wc -l)
assert_eq 3 "$distinct" "hosts of apache@1..3 (quoted role=web OR role=edge, Conflicts=apache@*)"

wait_until 30 unit_host pair.service || fail "pair.service not running"
assert_eq host2 "$(unit_host pair.service)" 'host of MachineMetadata="role=web" "host=host2"'
wait_until 30 unit_host "pin@$id3.service" || fail "pin@<host3's id>.service not running"
assert_eq host3 "$(unit_host "pin@$id3.service")" "host of MachineID=%i"
wait_until 30 unit_host at@host1.service || fail "at@host1.service not running"
assert_eq host1 "$(unit_host at@host1.service)" "host of MachineMetadata=host=%i"

# --- refused: what fleet refused, before anything is written ---

in_etcd() {
        cl_etcdctl get "${CL_PREFIX}units/$1" --keys-only
}

unit_file host1 bad.service "$(sleeper "MachineID=$id1" 'Global=true')"
assert_exit 1 "fleetctl submit of MachineID with Global" cl_fleetctl host1 submit /root/units/bad.service
assert_contains "$CL_ERR" "/root/units/bad.service:8: MachineID= cannot be used with Global=true (line 9)" \
        "fleetctl's message"
assert_exit 1 "fleetctl start of MachineID with Global" cl_fleetctl host1 start /root/units/bad.service
assert_eq "" "$(in_etcd bad.service)" "units/bad.service in etcd after refused submit and start"

# put NAME BODY: PUT /v1/units/NAME on host1's socket; the reply in $body, the status in $code.
put() {
        local out
        out=$(printf '%s' "$2" | cl_exec host1 curl -s -w '\n%{http_code}' -X PUT -H 'Content-Type: application/json' \
                --data-binary @- --unix-socket "$SOCK" "http://localhost/v1/units/$1")
        code=${out##*$'\n'}
        body=${out%$'\n'*}
}

contents=$(sleeper 'MachineOf=db.service' 'Global=yes')
put bad.service "$(jq -cn --arg c "$contents" '{contents: $c, desiredState: "launched"}')"
assert_eq 400 "$code" "status of a PUT with MachineOf and Global"
assert_eq bad_unit_options "$(jq -r .error.code <<<"$body")" "error code"
assert_contains "$(jq -r .error.message <<<"$body")" "bad.service:9: Global=true cannot be used with MachineOf= (line 8)" \
        "error message"
assert_eq "" "$(in_etcd bad.service)" "units/bad.service in etcd after a refused PUT"

# An instance made from its template is read with its own name: side@1 could never be placed.
unit_file host1 side@.service "$(sleeper 'MachineOf=db@%i.service' 'Conflicts=db@1*')"
assert_exit 0 "submit side@.service" cl_fleetctl host1 submit /root/units/side@.service
put side@1.service '{"desiredState":"launched"}'
assert_eq 400 "$code" "status of instantiating side@1.service"
assert_contains "$(jq -r .error.message <<<"$body")" "side@1.service:8: MachineOf=db@1.service is matched by Conflicts=db@1*" \
        "error message for side@1"
assert_eq "" "$(in_etcd side@1.service)" "units/side@1.service in etcd after a refused instantiation"

# Accepted, with the warning in the reply.
put typo.service "$(jq -cn --arg c "$(sleeper 'MachineMetdata=role=web')" '{contents: $c}')"
assert_eq 201 "$code" "status of a PUT with a typo"
assert_contains "$(jq -r '.warnings[0]' <<<"$body")" "typo.service:8: unknown [X-Fleet] key MachineMetdata= is ignored" \
        "warning in the reply"

destroy_all host1
wait_until 30 no_unit_anywhere || fail "units left after destroying all"
