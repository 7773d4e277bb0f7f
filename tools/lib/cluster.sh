# shellcheck shell=bash
# Local fleetd clusters: real systemd hosts booted as systemd-nspawn containers on overlays of
# this machine's root, one bridge and one etcd per cluster. Used by tools/sandbox and by
# tests/cluster/run. The recipe it follows is shared/notes/test-hosts.md.
#
# Source this file, then:
#   cluster_init NAME         claim a cluster name: clean what a crashed run of that name left,
#                             pick a free /24 in 10.233.0.0/16 and free etcd ports, write the env
#   cluster_up NHOSTS         bridge + etcd + NHOSTS hosts (created, fleetd installed, booted)
#   cluster_load NAME         for a later command: read the env of a cluster that is up
#   cluster_down [NAME]       stop what this cluster started (recorded PIDs only), unmount,
#                             delete the bridge, remove the state; idempotent
#   cluster_set_owner PID, cluster_reap_orphans   clusters of test runs that were killed
# and per host (I = 1..N): cluster_host_create, cluster_host_boot, cluster_host_poweroff,
# cluster_host_stop, cluster_host_boots, cluster_host_wait_rebooted (a reboot from inside), cluster_host_exec, cluster_host_pid, cluster_host_ip, cluster_host_running;
# etcd: cluster_etcd_start, cluster_etcd_stop, cluster_etcdctl (all members); one member K
# (1..CLUSTER_ETCD_MEMBERS): cluster_etcd_member_start, cluster_etcd_member_stop (TERM),
# cluster_etcd_member_kill (KILL), cluster_etcd_member_running, cluster_etcd_member_endpoint,
# cluster_etcd_member_healthy; cluster_etcd_leader (the index of the member that leads);
# images: cluster_image_busybox, cluster_image_hello; the registry builds push to:
# cluster_registry_host, cluster_registry_address, cluster_start_registry, cluster_registry_up;
# TLS for fleetd's TCP API: cluster_make_ca, cluster_host_tls (called by cluster_host_install_fleetd).
#
# Settings (environment, read by cluster_init):
#   CLUSTER_BUILD_DIR     meson build dir whose fleetd is installed into every host (default build)
#   CLUSTER_AGENT_TTL     agent_ttl in fleetd.conf (default 10s)
#   CLUSTER_ETCD_MEMBERS  etcd members, each its own process, data dir and ports (1 or 3;
#                         default 1); fleetd.conf lists every member's endpoint
#   CLUSTER_FLEETD_CONF_EXTRA  more lines for every host's fleetd.conf (e.g. log_level=debug)
#   CLUSTER_INSTALL_FLEETD=0   boot plain hosts without fleetd
#   CLUSTER_BOOT_TIMEOUT  seconds to wait for a host to boot (default 90)
#   CLUSTER_STATE_ROOT    where clusters keep their state (default /var/tmp/fleetd-cluster)
#
# Every function returns non-zero with a message on stderr when it fails; none calls exit.

CLUSTER_STATE_ROOT=${CLUSTER_STATE_ROOT:-/var/tmp/fleetd-cluster}
# Apps are served by fleet-router as http://<app>.$CLUSTER_DOMAIN/ on the edge hosts.
CLUSTER_DOMAIN=${CLUSTER_DOMAIN:-fleet.local}
CLUSTER_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Units the machine's image enables that a test host must not start. Links to /dev/null in the
# host's /etc/systemd/system mask them.
CLUSTER_MASKS=(
        etcd.service etcd2.service nginx.service
        postgresql.service postgresql@15-main.service
        podman.service podman.socket podman-restart.service
        podman-auto-update.service podman-auto-update.timer docker-registry.service
        console-getty.service getty@tty1.service
        apt-daily.service apt-daily.timer apt-daily-upgrade.service apt-daily-upgrade.timer
        dpkg-db-backup.service dpkg-db-backup.timer man-db.service man-db.timer
        e2scrub_all.service e2scrub_all.timer e2scrub_reap.service fstrim.service fstrim.timer
        systemd-pstore.service systemd-timesyncd.service
)

cluster__msg() {
        echo "cluster${CLUSTER_NAME:+[$CLUSTER_NAME]}: $*" >&2
}

cluster__err() {
        cluster__msg "error: $*"
        return 1
}

# The commands and kernel features a cluster needs. Prints the first problem and returns 1.
cluster_check_env() {
        local c
        if [ "$(id -u)" -ne 0 ]; then
                echo "needs root (systemd-nspawn, mounts, bridges)"
                return 1
        fi
        for c in systemd-nspawn etcd etcdctl nsenter ip ss curl jq flock findmnt setsid timeout; do
                if ! command -v "$c" >/dev/null; then
                        echo "$c is not installed (run tools/install-deps)"
                        return 1
                fi
        done
        if [ ! -x /lib/systemd/systemd ]; then
                echo "systemd is not installed (run tools/install-deps)"
                return 1
        fi
        if ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null; then
                echo "the kernel has no overlay filesystem"
                return 1
        fi
        return 0
}

# ---------------------------------------------------------------------------------------
# Processes: every process a cluster starts is recorded as "PID STARTTIME" in a file, and only a
# live process whose start time still matches is ever signalled (PIDs get reused).

cluster__starttime() {
        local stat
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        # shellcheck disable=SC2086 # split the fields on purpose
        set -- $stat
        echo "${20}"
}

# Prints the PID recorded in FILE if that process is still the one we started.
cluster__pidfile_alive() {
        local file=$1 pid start now
        [ -s "$file" ] || return 1
        read -r pid start <"$file" || true
        [ -n "$pid" ] && [ -n "$start" ] || return 1
        now=$(cluster__starttime "$pid") || return 1
        [ "$now" = "$start" ] || return 1
        echo "$pid"
}

# cluster__spawn PIDFILE LOGFILE CMD...: starts CMD in its own session (no terminal signals),
# stdin from /dev/null, output appended to LOGFILE, and records it in PIDFILE.
cluster__spawn() {
        local pidfile=$1 log=$2 i
        shift 2
        rm -f "$pidfile" "$pidfile.tmp"
        # The inner shell writes its own PID, then execs: that PID is the command's. It closes
        # every inherited descriptor above 2 first, so that a long-lived etcd or host never
        # holds a caller's pipe open (a CI log, a `| tee`).
        # shellcheck disable=SC2016 # expanded by the inner shell
        setsid bash -c 'for f in /proc/$$/fd/*; do f=${f##*/}; [ "$f" -gt 2 ] && eval "exec $f>&-"; done 2>/dev/null
                echo "$$ $(cut -d" " -f22 /proc/$$/stat)" >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' \
                "$pidfile" "$@" </dev/null >>"$log" 2>&1 &
        # nobody waits for it: no "Killed" from this shell when a test kills it on purpose
        disown $! 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
                [ -s "$pidfile" ] && return 0
                sleep 0.05
        done
        cluster__err "could not start $1 (log: $log)"
}

# cluster__kill PIDFILE SIGNAL: signals the recorded process if it is still ours.
cluster__kill() {
        local pid
        pid=$(cluster__pidfile_alive "$1") || return 0
        kill -s "$2" "$pid" 2>/dev/null || true
}

# cluster__wait_gone PIDFILE SECONDS: waits until the recorded process has exited.
cluster__wait_gone() {
        local file=$1 secs=$2 i
        for ((i = 0; i < secs * 10; i++)); do
                cluster__pidfile_alive "$file" >/dev/null || return 0
                sleep 0.1
        done
        return 1
}

# ---------------------------------------------------------------------------------------
# Naming, addresses, ports

cluster__valid_name() {
        [[ $1 =~ ^[a-z0-9][a-z0-9-]{0,12}$ ]]
}

# The third octet of every 10.233.X.0/24 in use: on interfaces, in routes, or claimed by another
# cluster's env file (it may not have made its bridge yet).
cluster__used_nets() {
        {
                ip -4 -o addr show | awk '{print $4}'
                ip -4 route show | awk '{print $1}'
                cat "$CLUSTER_STATE_ROOT"/*/env 2>/dev/null | sed -n 's/^CLUSTER_NET=//p' | tr -d "'\"" | sed 's|$|.0/24|'
        } | sed -n 's|^10\.233\.\([0-9]*\)\..*|\1|p' | sort -un
}

cluster__pick_net() {
        local used x
        used=" $(cluster__used_nets | tr '\n' ' ') "
        for ((x = 1; x < 255; x++)); do
                case $used in
                        *" $x "*) ;;
                        *) echo "10.233.$x"; return 0 ;;
                esac
        done
        cluster__err "no free /24 left in 10.233.0.0/16"
}

# A TCP port no socket on this machine uses and no other cluster has claimed.
cluster__pick_port() {
        local avoid=" $* " used port i
        used=" $(ss -Htan | awk '{n = split($4, a, ":"); print a[n]}' | sort -un | tr '\n' ' ') "
        used+=$(cat "$CLUSTER_STATE_ROOT"/*/env 2>/dev/null | sed -n 's/^CLUSTER_ETCD_[A-Z_]*PORTS\{0,1\}=//p' |
                tr -d "'\"" | tr ',\n' '  ')
        used+=" "
        for ((i = 0; i < 200; i++)); do
                port=$((20000 + RANDOM % 12000))
                case "$used$avoid" in
                        *" $port "*) continue ;;
                esac
                echo "$port"
                return 0
        done
        cluster__err "no free TCP port found"
}

# A locally administered, fixed MAC derived from the name (02:fd:xx:xx:xx:xx).
cluster__bridge_mac() {
        local h
        h=$(printf '%s' "$1" | cksum | awk '{printf "%08x", $1}')
        echo "02:fd:${h:0:2}:${h:2:2}:${h:4:2}:${h:6:2}"
}

# ---------------------------------------------------------------------------------------
# Cluster

cluster__set_dir() {
        CLUSTER_NAME=$1
        CLUSTER_DIR=$CLUSTER_STATE_ROOT/$1
        CLUSTER_BRIDGE=fd$1
}

cluster__write_env() {
        local v
        {
                for v in CLUSTER_NAME CLUSTER_DIR CLUSTER_BRIDGE CLUSTER_NET CLUSTER_BRIDGE_IP \
                        CLUSTER_ETCD_PORT CLUSTER_ETCD_PEER_PORT CLUSTER_ETCD_ENDPOINT \
                        CLUSTER_ETCD_MEMBERS CLUSTER_ETCD_PORTS CLUSTER_ETCD_PEER_PORTS CLUSTER_ETCD_ENDPOINTS \
                        CLUSTER_BUILD_DIR CLUSTER_AGENT_TTL CLUSTER_INSTALL_FLEETD CLUSTER_NHOSTS; do
                        printf '%s=%q\n' "$v" "${!v}"
                done
        } >"$CLUSTER_DIR/env.tmp"
        mv "$CLUSTER_DIR/env.tmp" "$CLUSTER_DIR/env"
}

# A client and a peer port for each etcd member, all distinct: CLUSTER_ETCD_PORTS and
# CLUSTER_ETCD_PEER_PORTS (comma-separated, member 1 first), CLUSTER_ETCD_ENDPOINTS; member 1's
# also as CLUSTER_ETCD_PORT, CLUSTER_ETCD_PEER_PORT and CLUSTER_ETCD_ENDPOINT.
cluster__pick_etcd_ports() {
        local k taken="" p q
        CLUSTER_ETCD_PORTS="" CLUSTER_ETCD_PEER_PORTS="" CLUSTER_ETCD_ENDPOINTS=""
        for ((k = 1; k <= CLUSTER_ETCD_MEMBERS; k++)); do
                # shellcheck disable=SC2086 # a list of ports
                p=$(cluster__pick_port $taken) || return 1
                # shellcheck disable=SC2086
                q=$(cluster__pick_port $taken "$p") || return 1
                taken+=" $p $q"
                CLUSTER_ETCD_PORTS+=${CLUSTER_ETCD_PORTS:+,}$p
                CLUSTER_ETCD_PEER_PORTS+=${CLUSTER_ETCD_PEER_PORTS:+,}$q
                CLUSTER_ETCD_ENDPOINTS+=${CLUSTER_ETCD_ENDPOINTS:+,}http://$CLUSTER_BRIDGE_IP:$p
        done
        CLUSTER_ETCD_PORT=${CLUSTER_ETCD_PORTS%%,*}
        CLUSTER_ETCD_PEER_PORT=${CLUSTER_ETCD_PEER_PORTS%%,*}
        CLUSTER_ETCD_ENDPOINT=http://$CLUSTER_BRIDGE_IP:$CLUSTER_ETCD_PORT
}

# cluster_init NAME: makes NAME this shell's cluster, removing what an earlier run of the same
# name left behind (its processes, mounts, bridge and files).
cluster_init() {
        local name=${1:?cluster_init NAME}
        if ! cluster__valid_name "$name"; then
                cluster__err "bad cluster name '$name': 1-13 of [a-z0-9-], starting with a letter or digit"
                return 1
        fi
        cluster__set_dir "$name"
        mkdir -p "$CLUSTER_STATE_ROOT"
        if [ -e "$CLUSTER_DIR" ] || ip link show "$CLUSTER_BRIDGE" >/dev/null 2>&1; then
                cluster__msg "removing what an earlier cluster '$name' left behind"
                cluster_down "$name" || return 1
                cluster__set_dir "$name"
        fi

        CLUSTER_BUILD_DIR=${CLUSTER_BUILD_DIR:-$CLUSTER_REPO/build}
        case $CLUSTER_BUILD_DIR in
                /*) ;;
                *) CLUSTER_BUILD_DIR=$PWD/$CLUSTER_BUILD_DIR ;;
        esac
        CLUSTER_AGENT_TTL=${CLUSTER_AGENT_TTL:-10s}
        CLUSTER_INSTALL_FLEETD=${CLUSTER_INSTALL_FLEETD:-1}
        CLUSTER_ETCD_MEMBERS=${CLUSTER_ETCD_MEMBERS:-1}
        case $CLUSTER_ETCD_MEMBERS in
                1|3) ;;
                *) cluster__err "CLUSTER_ETCD_MEMBERS must be 1 or 3, not '$CLUSTER_ETCD_MEMBERS'"; return 1 ;;
        esac
        CLUSTER_NHOSTS=0

        # Subnets and ports are claimed under a lock, so that two clusters made at the same
        # moment never pick the same ones.
        local lockfd rc=0
        exec {lockfd}>"$CLUSTER_STATE_ROOT/.lock"
        if flock -w 30 "$lockfd"; then
                mkdir -p "$CLUSTER_DIR"
                CLUSTER_NET=$(cluster__pick_net) || rc=1
                CLUSTER_BRIDGE_IP=$CLUSTER_NET.1
                cluster__pick_etcd_ports || rc=1
                [ $rc != 0 ] || cluster__write_env || rc=1
        else
                cluster__msg "error: timed out waiting for $CLUSTER_STATE_ROOT/.lock"
                rc=1
        fi
        exec {lockfd}>&-
        [ $rc = 0 ] || return 1
        mkdir -p "$CLUSTER_DIR/hosts" "$CLUSTER_DIR/etcd"
        cluster_load "$name"
}

# cluster_set_owner PID: ties the cluster to process PID (a test run): when that process is gone,
# cluster_reap_orphans removes the cluster.
cluster_set_owner() {
        local pid=${1:?cluster_set_owner PID} start
        start=$(cluster__starttime "$pid") || { cluster__err "no process $pid"; return 1; }
        echo "$pid $start" >"$CLUSTER_DIR/owner"
}

# cluster_reap_orphans: removes every cluster whose owner process has died (a test run that was
# killed before its teardown could run). Clusters without an owner (the sandbox) are left alone.
cluster_reap_orphans() {
        local d rc=0
        for d in "$CLUSTER_STATE_ROOT"/*/owner; do
                [ -f "$d" ] || continue
                cluster__pidfile_alive "$d" >/dev/null && continue
                d=${d%/owner}
                cluster__msg "removing cluster '${d##*/}': the run that made it is gone"
                ( cluster_down "${d##*/}" ) || rc=1
        done
        return $rc
}

# cluster_load NAME: reads the env of cluster NAME into this shell.
cluster_load() {
        local name=${1:?cluster_load NAME}
        cluster__valid_name "$name" || { cluster__err "bad cluster name '$name'"; return 1; }
        if [ ! -f "$CLUSTER_STATE_ROOT/$name/env" ]; then
                cluster__err "no cluster '$name' (no $CLUSTER_STATE_ROOT/$name/env)"
                return 1
        fi
        # shellcheck disable=SC1090
        . "$CLUSTER_STATE_ROOT/$name/env"
        # an env written before clusters could have several etcd members has one
        CLUSTER_ETCD_MEMBERS=${CLUSTER_ETCD_MEMBERS:-1}
        CLUSTER_ETCD_PORTS=${CLUSTER_ETCD_PORTS:-$CLUSTER_ETCD_PORT}
        CLUSTER_ETCD_PEER_PORTS=${CLUSTER_ETCD_PEER_PORTS:-$CLUSTER_ETCD_PEER_PORT}
        CLUSTER_ETCD_ENDPOINTS=${CLUSTER_ETCD_ENDPOINTS:-$CLUSTER_ETCD_ENDPOINT}
        export CLUSTER_NAME CLUSTER_DIR CLUSTER_BRIDGE CLUSTER_NET CLUSTER_BRIDGE_IP CLUSTER_ETCD_PORT \
                CLUSTER_ETCD_PEER_PORT CLUSTER_ETCD_ENDPOINT CLUSTER_ETCD_MEMBERS CLUSTER_ETCD_PORTS \
                CLUSTER_ETCD_PEER_PORTS CLUSTER_ETCD_ENDPOINTS CLUSTER_BUILD_DIR CLUSTER_AGENT_TTL \
                CLUSTER_INSTALL_FLEETD CLUSTER_NHOSTS
}

# cluster_up NHOSTS: bridge, etcd, then NHOSTS hosts, booted in parallel.
cluster_up() {
        local n=${1:-3} i
        [ -n "${CLUSTER_DIR:-}" ] || { cluster__err "cluster_init first"; return 1; }
        if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 200 ]; then
                cluster__err "bad number of hosts '$n' (1-200)"
                return 1
        fi
        if [ "$CLUSTER_INSTALL_FLEETD" = 1 ]; then
                cluster__check_build || return 1
        fi
        cluster_bridge_up || return 1
        cluster_etcd_start || return 1
        for ((i = 1; i <= n; i++)); do
                CLUSTER_CREATING=$n cluster_host_create "$i" || return 1
        done
        CLUSTER_NHOSTS=$n
        cluster__write_env
        for ((i = 1; i <= n; i++)); do
                cluster_host_start "$i" || return 1
        done
        for ((i = 1; i <= n; i++)); do
                cluster_host_wait_booted "$i" || return 1
        done
}

cluster__check_build() {
        local f
        for f in src/fleetd/fleetd src/fleetctl/fleetctl src/fleet-router/fleet-router units/fleetd.service; do
                if [ ! -e "$CLUSTER_BUILD_DIR/$f" ]; then
                        cluster__err "$CLUSTER_BUILD_DIR/$f is missing: build fleetd first (tools/build $CLUSTER_BUILD_DIR)"
                        return 1
                fi
        done
}

cluster_bridge_up() {
        local br=$CLUSTER_BRIDGE
        if ! ip link show "$br" >/dev/null 2>&1; then
                ip link add "$br" type bridge || { cluster__err "cannot create bridge $br"; return 1; }
        fi
        # A fixed MAC before any host joins: otherwise the bridge takes the lowest MAC of its
        # ports, and powering off the host that owned it changes it and cuts the others off.
        ip link set dev "$br" address "$(cluster__bridge_mac "$CLUSTER_NAME")"
        if ! ip -4 -o addr show dev "$br" | grep -qF " $CLUSTER_BRIDGE_IP/"; then
                ip addr add "$CLUSTER_BRIDGE_IP/24" dev "$br"
        fi
        ip link set "$br" up
}

# ---------------------------------------------------------------------------------------
# etcd: CLUSTER_ETCD_MEMBERS members (1 or 3), each its own process with its own data dir,
# client port (on the bridge address, for the hosts, and on 127.0.0.1) and peer port. One
# member keeps its state in etcd/ (data/, log, pid), as before there could be several; member K
# of three in etcd/memberK/.

cluster__etcd_dir() {
        if [ "${CLUSTER_ETCD_MEMBERS:-1}" = 1 ]; then
                echo "$CLUSTER_DIR/etcd"
        else
                echo "$CLUSTER_DIR/etcd/member$1"
        fi
}

# cluster__etcd_nth LIST K: the Kth item of a comma-separated list.
cluster__etcd_nth() {
        local -a items
        IFS=, read -r -a items <<<"$1"
        echo "${items[$(($2 - 1))]}"
}

cluster__etcd_member_name() {
        if [ "${CLUSTER_ETCD_MEMBERS:-1}" = 1 ]; then echo "$CLUSTER_NAME"; else echo "$CLUSTER_NAME-$1"; fi
}

cluster__etcd_check_index() {
        if ! [[ ${1:-} =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ] || [ "$1" -gt "${CLUSTER_ETCD_MEMBERS:-1}" ]; then
                cluster__err "no etcd member '${1:-}' (1..${CLUSTER_ETCD_MEMBERS:-1})"
                return 1
        fi
}

# cluster_etcd_member_endpoint K: member K's client URL on the bridge.
cluster_etcd_member_endpoint() {
        cluster__etcd_check_index "$1" || return 1
        echo "http://$CLUSTER_BRIDGE_IP:$(cluster__etcd_nth "$CLUSTER_ETCD_PORTS" "$1")"
}

cluster__etcd_initial_cluster() {
        local k out=""
        for ((k = 1; k <= CLUSTER_ETCD_MEMBERS; k++)); do
                out+=${out:+,}$(cluster__etcd_member_name "$k")=http://$CLUSTER_BRIDGE_IP:$(cluster__etcd_nth "$CLUSTER_ETCD_PEER_PORTS" "$k")
        done
        echo "$out"
}

# cluster_etcd_member_running K: true if member K's process runs.
cluster_etcd_member_running() {
        cluster__etcd_check_index "$1" || return 1
        cluster__pidfile_alive "$(cluster__etcd_dir "$1")/pid" >/dev/null
}

# cluster_etcd_member_healthy K: true if member K says it is healthy (it has a leader).
cluster_etcd_member_healthy() {
        local ep
        ep=$(cluster_etcd_member_endpoint "$1") || return 1
        curl -sf -m 2 "$ep/health" 2>/dev/null | grep -q '"health":"true"'
}

# cluster__etcd_spawn K: starts member K unless it runs; returns at once. Its data dir is kept
# across stops, so a member started again rejoins with what it had.
cluster__etcd_spawn() {
        local k=$1 d ip=$CLUSTER_BRIDGE_IP port peer
        d=$(cluster__etcd_dir "$k")
        cluster__pidfile_alive "$d/pid" >/dev/null && return 0
        port=$(cluster__etcd_nth "$CLUSTER_ETCD_PORTS" "$k")
        peer=$(cluster__etcd_nth "$CLUSTER_ETCD_PEER_PORTS" "$k")
        mkdir -p "$d/data"
        chmod 700 "$d/data"
        echo "=== etcd start $(date -Is)" >>"$d/log"
        # --initial-cluster-state new is ignored once the data dir has a member in it
        cluster__spawn "$d/pid" "$d/log" etcd --name "$(cluster__etcd_member_name "$k")" --data-dir "$d/data" \
                --listen-client-urls "http://$ip:$port,http://127.0.0.1:$port" \
                --advertise-client-urls "http://$ip:$port" \
                --listen-peer-urls "http://$ip:$peer" \
                --initial-advertise-peer-urls "http://$ip:$peer" \
                --initial-cluster "$(cluster__etcd_initial_cluster)" \
                --initial-cluster-token "fleetd-$CLUSTER_NAME" \
                --initial-cluster-state new
}

# cluster__etcd_wait K WHAT [SECONDS]: waits until member K is healthy (WHAT=health) or answers
# at all (WHAT=up: it may still wait for a quorum).
cluster__etcd_wait() {
        local k=$1 what=$2 secs=${3:-20} d ep i
        d=$(cluster__etcd_dir "$k")
        ep=$(cluster_etcd_member_endpoint "$k") || return 1
        for ((i = 0; i < secs * 10; i++)); do
                if [ "$what" = health ]; then
                        cluster_etcd_member_healthy "$k" && return 0
                else
                        curl -sf -m 1 "$ep/version" >/dev/null 2>&1 && return 0
                fi
                cluster__pidfile_alive "$d/pid" >/dev/null || break
                sleep 0.1
        done
        cluster__msg "etcd member $k did not become ${what/health/healthy} at $ep; end of $d/log:"
        tail -n 20 "$d/log" >&2
        return 1
}

# cluster_etcd_start: starts every member that does not run, and waits until each is healthy.
cluster_etcd_start() {
        local k
        for ((k = 1; k <= CLUSTER_ETCD_MEMBERS; k++)); do
                cluster__etcd_spawn "$k" || return 1
        done
        for ((k = 1; k <= CLUSTER_ETCD_MEMBERS; k++)); do
                cluster__etcd_wait "$k" health || return 1
        done
}

# cluster_etcd_member_start K [health|up]: starts member K and waits until it is healthy
# (default) or only answers (up: when it cannot have a quorum yet).
cluster_etcd_member_start() {
        cluster__etcd_check_index "$1" || return 1
        cluster__etcd_spawn "$1" || return 1
        cluster__etcd_wait "$1" "${2:-health}"
}

# cluster__etcd_stop_pidfile PIDFILE SIGNAL: signals one member and waits until it is gone.
cluster__etcd_stop_pidfile() {
        local pidfile=$1 sig=$2
        cluster__kill "$pidfile" "$sig"
        if ! cluster__wait_gone "$pidfile" 10; then
                cluster__kill "$pidfile" KILL
                cluster__wait_gone "$pidfile" 5 || { cluster__err "etcd ($pidfile) does not exit"; return 1; }
        fi
}

# cluster_etcd_member_stop K: a clean stop of member K (SIGTERM), its data dir kept.
cluster_etcd_member_stop() {
        cluster__etcd_check_index "$1" || return 1
        cluster__etcd_stop_pidfile "$(cluster__etcd_dir "$1")/pid" TERM
}

# cluster_etcd_member_kill K: member K dies (SIGKILL), its data dir kept.
cluster_etcd_member_kill() {
        cluster__etcd_check_index "$1" || return 1
        cluster__etcd_stop_pidfile "$(cluster__etcd_dir "$1")/pid" KILL
}

# cluster_etcd_stop: stops every member this cluster started, whatever CLUSTER_ETCD_MEMBERS
# says (cluster_down may run without the cluster's env).
cluster_etcd_stop() {
        local f rc=0
        for f in "$CLUSTER_DIR"/etcd/pid "$CLUSTER_DIR"/etcd/member*/pid; do
                [ -e "$f" ] || continue
                cluster__etcd_stop_pidfile "$f" TERM || rc=1
        done
        return $rc
}

# cluster_etcd_leader: the index of the member that is the raft leader now, as the running
# members see it (etcdctl endpoint status on each); fails if none leads.
cluster_etcd_leader() {
        local k ep json
        for ((k = 1; k <= CLUSTER_ETCD_MEMBERS; k++)); do
                cluster_etcd_member_running "$k" || continue
                ep=$(cluster_etcd_member_endpoint "$k")
                json=$(ETCDCTL_API=3 etcdctl --endpoints="$ep" --dial-timeout=1s --command-timeout=2s \
                        endpoint status -w json 2>/dev/null) || continue
                if [ "$(jq -r '.[0].Status | (.leader != 0 and .header.member_id == .leader)' <<<"$json")" = true ]; then
                        echo "$k"
                        return 0
                fi
        done
        cluster__err "no etcd member leads"
        return 1
}

# cluster_etcdctl ARGS...: etcdctl (v3) against every member.
cluster_etcdctl() {
        ETCDCTL_API=3 etcdctl --endpoints="$CLUSTER_ETCD_ENDPOINTS" --dial-timeout=2s --command-timeout=5s "$@"
}

# ---------------------------------------------------------------------------------------
# Hosts

cluster__host_dir() {
        echo "$CLUSTER_DIR/hosts/host$1"
}

cluster_host_ip() {
        echo "$CLUSTER_NET.$((10 + $1))"
}

# metadata role: web for hosts 1-2, edge for 3, and so on in threes.
cluster_host_role() {
        if [ $(($1 % 3)) -eq 0 ]; then echo edge; else echo web; fi
}

cluster__mount_root() {
        local h=$1
        if mountpoint -q "$h/root"; then
                return 0
        fi
        mount -t overlay overlay -o "lowerdir=/,upperdir=$h/upper,workdir=$h/work" "$h/root" ||
                { cluster__err "cannot mount the overlay root at $h/root"; return 1; }
}

# cluster_host_create I: the host's directories, overlay root and configuration, fleetd
# installed into it. Packages must all be installed on this machine before (the overlay shows
# the machine's / as it is when mounted).
cluster_host_create() {
        local i=${1:?cluster_host_create I} h root u
        h=$(cluster__host_dir "$i")
        root=$h/root
        mkdir -p "$h/upper" "$h/work" "$h/root" "$h/storage"
        cluster__mount_root "$h" || return 1

        mkdir -p "$root/etc/systemd/system" "$root/etc/systemd/network" \
                "$root/etc/containers/containers.conf.d" "$root/etc/fleetd"
        for u in "${CLUSTER_MASKS[@]}"; do
                ln -sfn /dev/null "$root/etc/systemd/system/$u"
        done

        # The machine id lives in the overlay, so it survives power cuts and reboots; nspawn
        # gets the same value as --uuid.
        if [ ! -s "$h/machine-id" ]; then
                tr -d - </proc/sys/kernel/random/uuid >"$h/machine-id"
        fi
        cp "$h/machine-id" "$root/etc/machine-id"
        echo "host$i" >"$root/etc/hostname"
        printf '127.0.0.1\tlocalhost\n127.0.1.1\thost%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
                "$i" >"$root/etc/hosts"

        cat >"$root/etc/containers/containers.conf.d/50-test.conf" <<'CONF'
# written by fleetd's tools/lib/cluster.sh for podman inside a systemd-nspawn host
[containers]
# nspawn's seccomp filter refuses keyctl
keyring = false
# the cgroup controllers are read-only inside
cgroups = "disabled"
# no CAP_SYS_RESOURCE
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
# runc refuses cgroups=disabled
runtime = "crun"
CONF

        cluster__host_registries "$root"
        cluster__host_network "$i" "$root" || return 1
        if [ "$CLUSTER_INSTALL_FLEETD" = 1 ]; then
                cluster_host_install_fleetd "$i" || return 1
        fi
}

# The cluster's registry (examples/units/registry.service on cluster_registry_host) speaks plain
# HTTP on the cluster's own bridge: podman and skopeo in every host list it as insecure.
cluster__host_registries() {
        local root=$1
        mkdir -p "$root/etc/containers/registries.conf.d"
        cat >"$root/etc/containers/registries.conf.d/50-fleetd-cluster.conf" <<CONF
# written by fleetd's tools/lib/cluster.sh: the registry of cluster '$CLUSTER_NAME' (no TLS)
[[registry]]
location = "$(cluster_registry_address)"
insecure = true
CONF
}

# systemd-networkd inside the host puts the address on host0 at boot, before
# network-online.target (and so before fleetd.service).
cluster__host_network() {
        local i=$1 root=$2 s=$2/etc/systemd/system
        cat >"$root/etc/systemd/network/10-host0.network" <<NET
# written by fleetd's tools/lib/cluster.sh
[Match]
Name=host0

[Network]
Address=$(cluster_host_ip "$i")/24
LinkLocalAddressing=no
IPv6AcceptRA=no
NET
        mkdir -p "$s/multi-user.target.wants" "$s/sockets.target.wants" "$s/network-online.target.wants"
        ln -sfn /lib/systemd/system/systemd-networkd.service "$s/multi-user.target.wants/systemd-networkd.service"
        ln -sfn /lib/systemd/system/systemd-networkd.service "$s/dbus-org.freedesktop.network1.service"
        ln -sfn /lib/systemd/system/systemd-networkd.socket "$s/sockets.target.wants/systemd-networkd.socket"
        ln -sfn /lib/systemd/system/systemd-networkd-wait-online.service \
                "$s/network-online.target.wants/systemd-networkd-wait-online.service"
}

# cluster_host_install_fleetd I: meson install of CLUSTER_BUILD_DIR into the host's root,
# the fleetd group, the units enabled, /etc/fleetd/fleetd.conf. Also used to update a host.
cluster_host_install_fleetd() {
        local i=${1:?cluster_host_install_fleetd I} h root s log
        h=$(cluster__host_dir "$i")
        root=$h/root
        s=$root/etc/systemd/system
        log=$h/install.log
        cluster__check_build || return 1
        cluster__mount_root "$h" || return 1
        if ! DESTDIR=$root meson install -C "$CLUSTER_BUILD_DIR" --no-rebuild >"$log" 2>&1; then
                cluster__msg "host$i: meson install failed; end of $log:"
                tail -n 20 "$log" >&2
                return 1
        fi
        # The socket's SocketGroup=fleetd must exist at boot; the host's own systemd-sysusers
        # only runs when /usr is newer than /etc.
        if ! systemd-sysusers --root="$root" >>"$log" 2>&1; then
                cluster__msg "host$i: systemd-sysusers failed; end of $log:"
                tail -n 20 "$log" >&2
                return 1
        fi
        mkdir -p "$s/multi-user.target.wants" "$s/sockets.target.wants" "$root/etc/fleetd"
        ln -sfn /usr/local/lib/systemd/system/fleetd.socket "$s/sockets.target.wants/fleetd.socket"
        ln -sfn /usr/local/lib/systemd/system/fleetd.service "$s/multi-user.target.wants/fleetd.service"
        ln -sfn /usr/local/lib/systemd/system/fleetd-cleanup.service "$s/multi-user.target.wants/fleetd-cleanup.service"
        cat >"$root/etc/fleetd/fleetd.conf" <<CONF
# written by fleetd's tools/lib/cluster.sh for cluster '$CLUSTER_NAME'
etcd_servers=$CLUSTER_ETCD_ENDPOINTS
metadata=host=host$i,role=$(cluster_host_role "$i")
agent_ttl=$CLUSTER_AGENT_TTL
build_registry=$(cluster_registry_address)
CONF
        cluster_host_tls "$i" >>"$root/etc/fleetd/fleetd.conf" || return 1
        if [ -n "${CLUSTER_FLEETD_CONF_EXTRA:-}" ]; then
                printf '%s\n' "$CLUSTER_FLEETD_CONF_EXTRA" >>"$root/etc/fleetd/fleetd.conf"
        fi
        # for fleet-router, when it runs here (examples/units/fleet-router.service on role=edge)
        cat >"$root/etc/fleetd/fleet-router.conf" <<CONF
# written by fleetd's tools/lib/cluster.sh for cluster '$CLUSTER_NAME'
etcd_servers=$CLUSTER_ETCD_ENDPOINTS
domain=$CLUSTER_DOMAIN
CONF
}

# cluster_start_router HOST_I: submits and starts fleet-router and its nginx as global fleet units
# (examples/units/, on every machine with role=edge), through host I's fleetctl, and waits until
# every edge host's nginx answers (404 for an unknown name).
cluster_start_router() {
        local i=${1:?cluster_start_router I} u e deadline
        cluster_host_exec "$i" mkdir -p /root/units
        for u in fleet-router.service fleet-nginx.service; do
                cluster_host_exec "$i" tee "/root/units/$u" <"$CLUSTER_REPO/examples/units/$u" >/dev/null || return 1
        done
        cluster_host_exec "$i" /usr/local/bin/fleetctl start /root/units/fleet-router.service \
                /root/units/fleet-nginx.service >/dev/null || { cluster__err "starting the router units failed"; return 1; }
        for ((e = 1; e <= CLUSTER_NHOSTS; e++)); do
                [ "$(cluster_host_role "$e")" = edge ] || continue
                deadline=$((SECONDS + 60))
                until [ "$(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://$(cluster_host_ip "$e")/")" = 404 ]; do
                        [ $SECONDS -lt $deadline ] || { cluster__err "host$e: nginx does not answer on port 80"; return 1; }
                        sleep 0.3
                done
        done
}

# --- TLS for fleetd's TCP API (api_listen): one CA per cluster, one certificate per host ---
# ECDSA P-256 keys. The CA and an operator client certificate stay in $CLUSTER_DIR/ca/
# (ca.pem, operator.pem, operator.key: `curl --cacert ca.pem --cert operator.pem --key
# operator.key https://<host ip>:7070/v1/status`). Hosts get /etc/fleetd/tls/{ca,cert,key}.pem.

CLUSTER_API_PORT=7070

# cluster__sign DIR NAME EKU [SAN]: a key and a certificate NAME.{key,pem} in DIR signed by the
# cluster CA, for the extended key usages EKU (and subjectAltName SAN).
cluster__sign() {
        local ca=$CLUSTER_DIR/ca dir=$1 name=$2 eku=$3 san=${4:-}
        {
                echo basicConstraints=CA:FALSE
                echo keyUsage=critical,digitalSignature
                echo "extendedKeyUsage=$eku"
                if [ -n "$san" ]; then echo "subjectAltName=$san"; fi
        } >"$dir/$name.ext"
        if ! openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$name.key" 2>/dev/null ||
                ! openssl req -new -key "$dir/$name.key" -subj "/CN=$name" -out "$dir/$name.csr" 2>/dev/null ||
                ! openssl x509 -req -in "$dir/$name.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" -CAcreateserial \
                        -days 365 -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null; then
                cluster__err "openssl could not make the certificate $dir/$name.pem"
                return 1
        fi
        rm -f "$dir/$name.csr" "$dir/$name.ext"
}

# cluster_make_ca: the cluster's CA (and the operator's client certificate), made once.
cluster_make_ca() {
        local ca=$CLUSTER_DIR/ca
        [ -s "$ca/ca.pem" ] && return 0
        command -v openssl >/dev/null || { cluster__err "openssl is not installed (run tools/install-deps)"; return 1; }
        mkdir -p "$ca" && chmod 700 "$ca"
        cat >"$ca/ca.cnf" <<CNF
[req]
distinguished_name = dn
x509_extensions = ext
prompt = no
[dn]
CN = fleetd cluster $CLUSTER_NAME CA
[ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
CNF
        if ! openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ca/ca.key" 2>/dev/null ||
                ! openssl req -x509 -new -key "$ca/ca.key" -config "$ca/ca.cnf" -days 365 -out "$ca/ca.pem.tmp" 2>/dev/null; then
                cluster__err "openssl could not make the cluster CA in $ca"
                return 1
        fi
        mv "$ca/ca.pem.tmp" "$ca/ca.pem"
        cluster__sign "$ca" operator clientAuth
}

# cluster_host_tls I: host I's certificate (SAN: its IP and name, for server and client use)
# and the CA into its root at /etc/fleetd/tls/; prints the fleetd.conf lines that use them.
cluster_host_tls() {
        local i=${1:?cluster_host_tls I} tls ip
        tls=$(cluster__host_dir "$i")/root/etc/fleetd/tls
        ip=$(cluster_host_ip "$i")
        cluster_make_ca || return 1
        mkdir -p "$tls" && chmod 700 "$tls"
        cluster__sign "$tls" host "serverAuth,clientAuth" "IP:$ip,DNS:host$i" || return 1
        mv "$tls/host.pem" "$tls/cert.pem" && mv "$tls/host.key" "$tls/key.pem" && chmod 600 "$tls/key.pem" &&
                cp "$CLUSTER_DIR/ca/ca.pem" "$tls/ca.pem" || return 1
        cat <<CONF
api_listen=$ip:$CLUSTER_API_PORT
api_tls_cert=/etc/fleetd/tls/cert.pem
api_tls_key=/etc/fleetd/tls/key.pem
api_client_ca=/etc/fleetd/tls/ca.pem
CONF
}

# cluster_host_running I: true if the host's systemd-nspawn runs.
cluster_host_running() {
        cluster__pidfile_alive "$(cluster__host_dir "$1")/nspawn.pid" >/dev/null
}

# cluster_host_pid I: the PID (in this machine's namespace) of the host's systemd, PID 1 of
# the container: the child of systemd-nspawn whose NSpid ends in 1.
cluster_host_pid() {
        local i=${1:?cluster_host_pid I} npid c nspid
        npid=$(cluster__pidfile_alive "$(cluster__host_dir "$i")/nspawn.pid") || {
                cluster__err "host$i is not running"
                return 1
        }
        # shellcheck disable=SC2013 # PIDs, one word each
        for c in $(cat /proc/"$npid"/task/*/children 2>/dev/null); do
                nspid=$(sed -n 's/^NSpid:[[:space:]]*//p' "/proc/$c/status" 2>/dev/null)
                # shellcheck disable=SC2086
                set -- $nspid
                if [ $# -ge 2 ] && [ "${!#}" = 1 ]; then
                        echo "$c"
                        return 0
                fi
        done
        cluster__err "host$i: systemd-nspawn ($npid) has no container init (yet)"
        return 1
}

# cluster_host_exec I CMD...: runs CMD inside host I (all its namespaces), with a clean
# environment as a root login would have.
cluster_host_exec() {
        local i=${1:?cluster_host_exec I CMD...} pid
        shift
        pid=$(cluster_host_pid "$i") || return 1
        nsenter -t "$pid" -a env -i \
                PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                HOME=/root USER=root LOGNAME=root LANG=C.UTF-8 TERM="${TERM:-dumb}" "$@"
}

# cluster_host_start I: boots host I in the background (systemd-nspawn -b); returns at once.
cluster_host_start() {
        local i=${1:?cluster_host_start I} h
        h=$(cluster__host_dir "$i")
        if cluster_host_running "$i"; then
                return 0
        fi
        [ -d "$h/upper" ] || { cluster__err "host$i was never created"; return 1; }
        cluster__mount_root "$h" || return 1
        rm -f "$h/halt" "$h/nspawn.pid"
        # -M is unique per cluster (it names the veth on the bridge); the hostname is hostI.
        # The supervisor boots the host again on the same disk when systemd inside reboots
        # (systemd-nspawn exits 133 then), as systemd-nspawn@.service does with
        # RestartForceExitStatus=133; any other exit ends it.
        cluster__spawn "$h/supervisor.pid" "$h/console.log" bash -c "$CLUSTER__SUPERVISOR" "$h" \
                systemd-nspawn -q -D "$h/root" \
                --register=no --keep-unit --console=read-only \
                --uuid="$(cat "$h/machine-id")" -M "$CLUSTER_NAME-host$i" --hostname="host$i" \
                --network-bridge="$CLUSTER_BRIDGE" \
                --bind="$h/storage:/var/lib/containers" -b || return 1
        cluster__wait_nspawn "$h"
}

# The host's supervisor (run by bash -c, $0 = the host's directory, "$@" = the nspawn command).
# Each boot: the boot count goes up, boot-started gets the time, nspawn.pid the PID of that
# boot's systemd-nspawn (with its start time, as cluster__spawn writes it).
# shellcheck disable=SC2016 # expanded by the supervisor
CLUSTER__SUPERVISOR='h=$0
while :; do
        echo "=== boot $(date -Is)"
        echo $(( $(cat "$h/boots" 2>/dev/null || echo 0) + 1 )) >"$h/boots"
        date +%s.%N >"$h/boot-started"
        "$@" &
        pid=$!
        echo "$pid $(cut -d" " -f22 /proc/$pid/stat)" >"$h/nspawn.pid.tmp" && mv "$h/nspawn.pid.tmp" "$h/nspawn.pid"
        wait "$pid"
        rc=$?
        echo "=== systemd-nspawn exited with status $rc $(date -Is)"
        [ "$rc" = 133 ] && [ ! -e "$h/halt" ] || exit "$rc"
done'

# cluster__wait_nspawn H: waits until the supervisor of the host in H has started its nspawn.
cluster__wait_nspawn() {
        local h=$1 i
        for ((i = 0; i < 100; i++)); do
                cluster__pidfile_alive "$h/nspawn.pid" >/dev/null && return 0
                cluster__pidfile_alive "$h/supervisor.pid" >/dev/null || break
                sleep 0.05
        done
        cluster__err "$h: systemd-nspawn did not start (log: $h/console.log)"
        return 1
}

# cluster_host_boots I: how many times host I has booted (1 after the first boot).
cluster_host_boots() {
        cat "$(cluster__host_dir "${1:?cluster_host_boots I}")/boots" 2>/dev/null || echo 0
}

# cluster_host_wait_rebooted I BOOTS [SECONDS]: waits until host I booted again after BOOTS
# boots (systemd inside rebooted and the supervisor started it again) and is up.
cluster_host_wait_rebooted() {
        local i=${1:?cluster_host_wait_rebooted I BOOTS} boots=${2:?BOOTS} timeout=${3:-120} h deadline
        h=$(cluster__host_dir "$i")
        deadline=$((SECONDS + timeout))
        while [ "$(cluster_host_boots "$i")" -le "$boots" ]; do
                if [ $SECONDS -ge $deadline ]; then
                        cluster__err "host$i did not reboot within ${timeout}s"
                        return 1
                fi
                if ! cluster__pidfile_alive "$h/supervisor.pid" >/dev/null; then
                        cluster__err "host$i stopped instead of rebooting (end of $h/console.log: $(tail -n 1 "$h/console.log"))"
                        return 1
                fi
                sleep 0.2
        done
        cluster__wait_nspawn "$h" && cluster_host_wait_booted "$i" "$((deadline - SECONDS > 10 ? deadline - SECONDS : 10))"
}

cluster_host_wait_booted() {
        local i=${1:?cluster_host_wait_booted I} timeout=${2:-${CLUSTER_BOOT_TIMEOUT:-90}} h state=""
        local deadline pid t0 failed
        h=$(cluster__host_dir "$i")
        deadline=$((SECONDS + timeout))
        while [ $SECONDS -lt $deadline ]; do
                if ! cluster_host_running "$i"; then
                        cluster__msg "host$i: systemd-nspawn exited while booting; end of $h/console.log:"
                        tail -n 30 "$h/console.log" >&2
                        return 1
                fi
                if pid=$(cluster_host_pid "$i" 2>/dev/null); then
                        state=$(timeout 5 nsenter -t "$pid" -a systemctl is-system-running 2>/dev/null || true)
                        case $state in
                                running|degraded) break ;;
                        esac
                fi
                sleep 0.2
        done
        case $state in
                running|degraded) ;;
                starting)
                        if [ "$(cluster_host_exec "$i" systemctl is-active basic.target 2>/dev/null)" = active ]; then
                                cluster__msg "host$i: still starting after ${timeout}s; waiting on: $(cluster_host_exec "$i" systemctl list-jobs --no-legend 2>/dev/null | awk '{print $2}' | tr '\n' ' ')"
                                state=starting
                        else
                                state=""
                        fi ;;
                *) state="" ;;
        esac
        if [ -z "$state" ]; then
                cluster__msg "host$i did not boot within ${timeout}s; end of $h/console.log:"
                tail -n 30 "$h/console.log" >&2
                return 1
        fi
        t0=$(cat "$h/boot-started" 2>/dev/null || date +%s.%N)
        echo "$(date +%s.%N) $t0" | awk '{printf "%.1f\n", $1 - $2}' >"$h/boot-seconds"
        if [ "$state" = degraded ]; then
                failed=$(cluster_host_exec "$i" systemctl list-units --failed --plain --no-legend 2>/dev/null | awk '{print $1}' | tr '\n' ' ')
                cluster__msg "host$i: booted degraded; failed units: ${failed:-?}"
        fi
        return 0
}

# cluster_host_boot I [TIMEOUT]: starts host I and waits until it has booted.
cluster_host_boot() {
        cluster_host_start "$1" || return 1
        cluster_host_wait_booted "$@"
}

cluster__host_umount() {
        local h=$1 m
        # deepest first; nothing under the host's directory may stay mounted
        for m in $(findmnt -rn -o TARGET | grep -F "$h/" | sort -r); do
                umount "$m" 2>/dev/null || umount -l "$m" || true
        done
        if findmnt -rn -o TARGET | grep -qF "$h/"; then
                cluster__err "still mounted under $h"
                return 1
        fi
}

# cluster_host_poweroff I: a power cut: SIGKILL to the host's systemd, then wait for
# systemd-nspawn to exit. The overlay (and so the host's disk) is kept.
cluster_host_poweroff() {
        local i=${1:?cluster_host_poweroff I} h pid
        h=$(cluster__host_dir "$i")
        touch "$h/halt"           # no boot after this one, whatever nspawn exits with
        if pid=$(cluster_host_pid "$i" 2>/dev/null); then
                kill -KILL "$pid" 2>/dev/null || true
        fi
        if ! cluster__wait_gone "$h/nspawn.pid" 15; then
                cluster__msg "host$i: systemd-nspawn still runs 15 s after its init was killed; killing it"
                cluster__kill "$h/nspawn.pid" KILL
                cluster__wait_gone "$h/nspawn.pid" 5 || { cluster__err "host$i: systemd-nspawn does not exit"; return 1; }
        fi
        cluster__wait_gone "$h/supervisor.pid" 5 || cluster__kill "$h/supervisor.pid" KILL
        cluster__host_umount "$h"
}

cluster_host_stop() {
        local i=${1:?cluster_host_stop I} timeout=${2:-30} h
        h=$(cluster__host_dir "$i")
        touch "$h/halt"
        cluster__kill "$h/nspawn.pid" TERM
        if ! cluster__wait_gone "$h/nspawn.pid" "$timeout"; then
                cluster__msg "host$i did not shut down within ${timeout}s; cutting its power"
        fi
        cluster_host_poweroff "$i"
}

# ---------------------------------------------------------------------------------------
# The registry builds push to: Debian's docker-registry as the fleet unit
# examples/units/registry.service, pinned to one host (the first edge host, host3; host1 in a
# cluster of fewer hosts), port 5000, plain HTTP (every host lists it insecure).

CLUSTER_REGISTRY_PORT=5000

# cluster_registry_host: the index of the host that runs the registry.
cluster_registry_host() {
        local n=${CLUSTER_CREATING:-${CLUSTER_NHOSTS:-0}}
        if [ "$n" -ge 3 ] || [ "$n" -eq 0 ]; then echo 3; else echo 1; fi
}

cluster_registry_address() {
        echo "$(cluster_host_ip "$(cluster_registry_host)"):$CLUSTER_REGISTRY_PORT"
}

# cluster_registry_up: true if the registry answers its API (GET /v2/).
cluster_registry_up() {
        [ "$(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://$(cluster_registry_address)/v2/")" = 200 ]
}

# cluster_start_registry I: submits and starts the registry unit through host I's fleetctl
# (pinned to cluster_registry_host's machine) and waits until it answers.
cluster_start_registry() {
        local i=${1:?cluster_start_registry I} r deadline
        r=$(cluster_registry_host)
        cluster_host_exec "$i" mkdir -p /root/units
        { cat "$CLUSTER_REPO/examples/units/registry.service"; echo "MachineMetadata=host=host$r"; } |
                cluster_host_exec "$i" tee /root/units/registry.service >/dev/null || return 1
        cluster_host_exec "$i" /usr/local/bin/fleetctl start /root/units/registry.service >/dev/null ||
                { cluster__err "starting the registry unit failed"; return 1; }
        deadline=$((SECONDS + 60))
        until cluster_registry_up; do
                [ $SECONDS -lt $deadline ] || { cluster__err "the registry at $(cluster_registry_address) does not answer"; return 1; }
                sleep 0.3
        done
}

# ---------------------------------------------------------------------------------------
# Images

# cluster_image_busybox I [NAME]: imports a busybox rootfs (busybox-static and its applet
# links) into host I's podman as NAME (default localhost/busybox:test).
cluster_image_busybox() {
        local i=${1:?cluster_image_busybox I [NAME]} name=${2:-localhost/busybox:test} r a
        r=$CLUSTER_DIR/images/busybox
        if [ ! -x "$r/bin/busybox" ]; then
                rm -rf "$r"
                mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$r/root" "$r/var/www"
                cp /bin/busybox "$r/bin/busybox" || { cluster__err "no /bin/busybox (busybox-static)"; return 1; }
                for a in $(/bin/busybox --list); do
                        [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
                done
                printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
                printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
                chmod 1777 "$r/tmp"
        fi
        tar -C "$r" -c . | cluster_host_exec "$i" podman import -q - "$name" >/dev/null ||
                { cluster__err "host$i: podman import of $name failed"; return 1; }
}

# cluster_image_hello I VERSION: the example app's image localhost/hello:VERSION in host I: the
# busybox rootfs plus /www/index.html saying "hello VERSION" (examples/apps/hello.yaml serves it).
cluster_image_hello() {
        local i=${1:?cluster_image_hello I VERSION} v=${2:?cluster_image_hello I VERSION} r
        cluster_image_busybox "$i" localhost/busybox:test || return 1
        r=$CLUSTER_DIR/images/hello-$v
        if [ ! -f "$r/www/index.html" ]; then
                rm -rf "$r"
                cp -a "$CLUSTER_DIR/images/busybox" "$r" && mkdir -p "$r/www" &&
                        printf 'hello %s\n' "$v" >"$r/www/index.html" ||
                        { cluster__err "cannot build the hello $v root file system"; return 1; }
        fi
        tar -C "$r" -c . | cluster_host_exec "$i" podman import -q - "localhost/hello:$v" >/dev/null ||
                { cluster__err "host$i: podman import of localhost/hello:$v failed"; return 1; }
}

# ---------------------------------------------------------------------------------------
# Teardown

# cluster_down [NAME]: stops the hosts and etcd this cluster started (by recorded PID only),
# unmounts, deletes the bridge and removes the state directory. Works on a half-made cluster
# and when nothing is left.
cluster_down() {
        local name=${1:-${CLUSTER_NAME:-}} h rc=0 pid
        [ -n "$name" ] || { cluster__err "cluster_down: which cluster?"; return 1; }
        cluster__valid_name "$name" || { cluster__err "bad cluster name '$name'"; return 1; }
        cluster__set_dir "$name"

        if [ -d "$CLUSTER_DIR/hosts" ]; then
                # Power cuts for all hosts first, so that they go down together.
                for h in "$CLUSTER_DIR"/hosts/host*; do
                        [ -d "$h" ] || continue
                        touch "$h/halt"
                        if pid=$(cluster_host_pid "${h##*/host}" 2>/dev/null); then
                                kill -KILL "$pid" 2>/dev/null || true
                        fi
                done
                for h in "$CLUSTER_DIR"/hosts/host*; do
                        [ -d "$h" ] || continue
                        if cluster__pidfile_alive "$h/nspawn.pid" >/dev/null ||
                           cluster__pidfile_alive "$h/supervisor.pid" >/dev/null; then
                                cluster_host_poweroff "${h##*/host}" || rc=1
                        fi
                        cluster__host_umount "$h" || rc=1
                done
        fi
        if [ -d "$CLUSTER_DIR/etcd" ]; then
                cluster_etcd_stop || rc=1
        fi
        if ip link show "$CLUSTER_BRIDGE" >/dev/null 2>&1; then
                if ip -d link show "$CLUSTER_BRIDGE" | grep -qw bridge; then
                        ip link del "$CLUSTER_BRIDGE" || rc=1
                else
                        cluster__msg "$CLUSTER_BRIDGE exists but is not a bridge; left alone"
                fi
        fi
        if [ -d "$CLUSTER_DIR" ]; then
                if findmnt -rn -o TARGET | grep -qF "$CLUSTER_DIR/"; then
                        cluster__err "something is still mounted under $CLUSTER_DIR; not removing it"
                        return 1
                fi
                rm -rf --one-file-system "$CLUSTER_DIR" || rc=1
        fi
        return $rc
}
