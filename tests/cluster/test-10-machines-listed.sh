# shellcheck shell=bash
# Every host's fleetd registers its machine: fleetctl list-machines (in host1) shows all of
# them with their machine id, address and metadata; the API answers on the unix socket; etcd
# holds one key per machine, bound to a lease.

n=$(cl_nhosts)
count_machines() {
        [ "$(cl_count host1)" = "$n" ]
}
wait_until 30 count_machines || fail "fleetctl --json list-machines in host1 did not list $n machines within 30s (last: $(cl_fleetctl host1 --json list-machines 2>&1 | head -c 400))"

table=$(cl_fleetctl host1 list-machines -l)
log "fleetctl list-machines -l:"
echo "$table"
json=$(cl_machines_json host1)
for ((i = 1; i <= n; i++)); do
        id=$(cl_machine_id "host$i")
        ip=$(cl_ip "host$i")
        line=$(grep -F "$id" <<<"$table" || true)
        [ -n "$line" ] || fail "host$i's machine id $id is not in list-machines -l: $table"
        assert_contains "$line" "$ip" "host$i's line in list-machines -l"
        assert_contains "$line" "host=host$i" "host$i's line in list-machines -l"
        seen=$(jq -r --arg id "$id" '.[] | select(.id == $id) | "\(.ip) \(.metadata.host) \(.hostname // "")"' <<<"$json")
        assert_eq "$ip host$i host$i" "$seen" "ip, metadata.host and hostname of host$i in --json list-machines"
done

# The short form shows ids cut to 8 characters.
short=$(cl_fleetctl host1 list-machines)
id1=$(cl_machine_id host1)
assert_contains "$short" "${id1:0:8}" "list-machines without -l"
assert_not_contains "$short" "$id1" "list-machines without -l (the full id)"

# The API itself, over the unix socket, from another host.
api=$(cl_exec host2 curl -sS --fail --unix-socket /run/fleetd/fleetd.sock http://localhost/v1/machines)
assert_eq "$n" "$(jq '.machines | length' <<<"$api")" "number of machines in GET /v1/machines on host2"

# etcd: one key per machine under /fleetd/machines/, each with a lease.
keys=$(cl_etcd_machine_ids | sort)
want=$(for ((i = 1; i <= n; i++)); do cl_machine_id "host$i"; done | sort)
assert_eq "$(tr '\n' ' ' <<<"$want")" "$(tr '\n' ' ' <<<"$keys")" "machine ids under ${CL_PREFIX}machines/ in etcd"
leased=$(cl_etcdctl get --prefix "${CL_PREFIX}machines/" -w json | jq '[.kvs[] | select((.lease // 0) != 0)] | length')
assert_eq "$n" "$leased" "machine keys in etcd that have a lease"
