# shellcheck shell=bash
# Helpers for the unit tests on the cluster (sourced by test-5*.sh .. test-9*.sh after lib.sh).
#   unit_file HOST NAME TEXT      write TEXT to /root/units/NAME inside HOST (for fleetctl submit)
#   sleeper [X-FLEET-LINES...]    a unit that runs /bin/sleep infinity, with [X-Fleet] lines
#   active_hosts UNIT             the hosts where systemctl says UNIT is active, space-separated
#   active_count UNIT             how many hosts run UNIT
#   unit_host UNIT                the one host that runs UNIT (fails unless exactly one)
#   enter_ts HOST UNIT            ActiveEnterTimestampMonotonic of UNIT in HOST
#   destroy_all HOST              destroys every unit (clean slate for the next test)

unit_file() {
        local host=$1 name=$2 text=$3
        cl_exec "$host" mkdir -p /root/units
        printf '%s\n' "$text" | cl_exec "$host" tee "/root/units/$name" >/dev/null
}

sleeper() {
        local text
        text=$'[Unit]\nDescription=fleetd test sleeper\n\n[Service]\nExecStart=/bin/sleep infinity\n'
        if [ $# -gt 0 ]; then
                text+=$'\n[X-Fleet]\n'
                text+=$(printf '%s\n' "$@")
        fi
        printf '%s' "$text"
}

active_hosts() {
        local unit=$1 i out=()
        for i in $(seq 1 "$(cl_nhosts)"); do
                if [ "$(cl_exec "host$i" systemctl is-active "$unit" 2>/dev/null)" = active ]; then
                        out+=("host$i")
                fi
        done
        echo "${out[*]}"
}

active_count() {
        local h
        h=$(active_hosts "$1")
        wc -w <<<"$h"
}

unit_host() {
        local h
        h=$(active_hosts "$1")
        [ "$(wc -w <<<"$h")" = 1 ] || return 1
        echo "$h"
}

enter_ts() {
        cl_exec "$1" systemctl show -p ActiveEnterTimestampMonotonic --value "$2"
}

destroy_all() {
        local units
        units=$(cl_exec "$1" curl -sf --unix-socket /run/fleetd/fleetd.sock http://localhost/v1/units |
                jq -r '.units[].name') || return 1
        for u in $units; do
                cl_exec "$1" curl -sf -X DELETE --unix-socket /run/fleetd/fleetd.sock "http://localhost/v1/units/$u" \
                        >/dev/null || return 1
        done
}

no_unit_anywhere() {
        local i
        for i in $(seq 1 "$(cl_nhosts)"); do
                [ -z "$(cl_exec "host$i" ls /run/fleetd/units 2>/dev/null)" ] || return 1
        done
}
