# shellcheck shell=bash
# Power cut of host3: within agent_ttl + 5 s its machine is gone from list-machines (asked in
# host1) and from etcd. Then host3 boots again on the same disk, with the same machine id, and
# is listed again (so later tests have every host).

id=$(cl_machine_id host3)
ttl=$(cl_ttl)
listed_in_host1() {
        cl_listed host1 "$id"
}
listed_or_unsure() {
        local json
        json=$(cl_machines_json host1) || return 0
        [ "$(jq -r --arg id "$id" 'any(.[]; .id == $id)' <<<"$json")" = true ]
}
in_etcd() {
        cl_in_etcd "$id"
}
wait_until 30 listed_in_host1 || fail "host3 ($id) is not listed in host1 to begin with"

cut=$(date +%s%N)
cl_host_poweroff host3
log "host3 powered off"

gone() {
        local rc=0
        in_etcd || rc=$?
        [ $rc = 1 ] && ! listed_or_unsure
}
wait_until $((ttl + 5)) gone ||
        fail "host3 still listed $((ttl + 5))s (agent_ttl ${ttl}s + 5s) after its power cut (in etcd: $(in_etcd && echo yes || echo "no or unknown"))"
took=$((($(date +%s%N) - cut) / 1000000))
log "host3 gone from etcd and list-machines after $took ms"
[ $took -le $(((ttl + 5) * 1000)) ] || fail "host3 was gone only after $took ms, later than agent_ttl ${ttl}s + 5s"

cl_host_boot host3
booted=$(date +%s%N)
id2=$(cl_machine_id host3)
assert_eq "$id" "$id2" "host3's machine id after the reboot"
wait_until 30 listed_in_host1 || fail "host3 ($id) was not listed again within 30s of booting"
log "host3 listed again $((($(date +%s%N) - booted) / 1000000)) ms after it booted"
assert_eq "$(cl_nhosts)" "$(cl_count host1)" "machines listed after host3 came back"
