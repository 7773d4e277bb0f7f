# shellcheck shell=bash
# SIGKILL to fleetd in host2: systemd restarts it (Restart=always), and the machine stays
# listed the whole time (the restarted fleetd adopts its lease, see src/fleetd/machine.h).

id=$(cl_machine_id host2)
n=$(cl_nhosts)
in_etcd() {
        cl_in_etcd "$id"
}
wait_until 30 in_etcd || fail "host2 ($id) is not registered in etcd to begin with"

show() {
        cl_exec host2 systemctl show -p "$1" --value fleetd.service
}
running() {
        [ "$(show ActiveState)" = active ] && [ "$(show MainPID)" != 0 ]
}
wait_until 30 running || fail "fleetd.service in host2 is not running to begin with ($(show ActiveState), MainPID $(show MainPID), NRestarts $(show NRestarts))"
pid0=$(show MainPID)
restarts0=$(show NRestarts)
# the lease id as etcdctl prints it (jq would round an int64 to a double)
lease_of() {
        cl_etcdctl get "${CL_PREFIX}machines/$id" -w json | grep -o '"lease":[0-9]*' | cut -d: -f2 || echo none
}
lease0=$(lease_of)
log "before: MainPID=$pid0 NRestarts=$restarts0 lease=$lease0"

# SIGKILL to the main process, as a crash would end it. (systemctl kill -s KILL works too, but in
# these hosts it may exit 1 with "Input/output error" from the cgroup v2 kill although the
# signal was delivered.)
cl_exec host2 kill -KILL "$pid0"
killed=$(date +%s%N)

restarted() {
        local pid restarts state
        pid=$(show MainPID)
        restarts=$(show NRestarts)
        state=$(show ActiveState)
        [ "$state" = active ] && [ "$pid" != 0 ] && [ "$pid" != "$pid0" ] && [ "$restarts" -gt "$restarts0" ]
}

# Watch etcd from the kill until the restart plus one agent_ttl (a lost lease would have
# expired by then): the key must be there at every look.
ttl=$(cl_ttl)
gone=0 looks=0 unknown=0 restart_at=""
deadline=$((killed + (20 + ttl) * 1000000000))
while [ "$(date +%s%N)" -lt $deadline ]; do
        looks=$((looks + 1))
        rc=0
        in_etcd || rc=$?
        case $rc in
                1) gone=$((gone + 1)) ;;
                2) unknown=$((unknown + 1)) ;;
        esac
        if [ -z "$restart_at" ] && restarted; then
                restart_at=$(date +%s%N)
                deadline=$((restart_at + (ttl + 2) * 1000000000))
        fi
        sleep 0.25
done
[ -n "$restart_at" ] || fail "fleetd in host2 was not restarted within 20s of SIGKILL (MainPID $(show MainPID), NRestarts $(show NRestarts), $(show ActiveState))"
log "restarted after $(((restart_at - killed) / 1000000)) ms: MainPID=$(show MainPID) NRestarts=$(show NRestarts)"
lease1=$(lease_of)
log "host2's machine key in etcd was missing at $gone of $looks looks ($unknown failed to ask); lease before $lease0, after $lease1"
[ $gone = 0 ] || fail "host2's machine key vanished from etcd at $gone of $looks looks while fleetd restarted"

assert_eq "$n" "$(cl_count host1)" "machines listed in host1 after fleetd in host2 restarted"
cl_listed host1 "$id" || fail "host2 ($id) is not in list-machines after its fleetd restarted"
