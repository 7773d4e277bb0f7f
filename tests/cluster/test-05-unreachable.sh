# shellcheck shell=bash
# fleetctl pointed at an endpoint where no fleetd listens exits 3 and says which endpoint it
# could not reach (fleetctl.h: exit status 3 = fleetd cannot be reached).

for ep in unix:///run/fleetd/no-such.sock /run/fleetd/no-such.sock http://127.0.0.1:1; do
        assert_exit 3 "fleetctl --endpoint=$ep list-machines" cl_fleetctl host1 --endpoint="$ep" list-machines
        log "endpoint $ep: exit 3, stderr: $CL_ERR"
        assert_eq "" "$CL_OUT" "stdout of fleetctl --endpoint=$ep"
        assert_contains "$CL_ERR" "${ep#unix://}" "the message of fleetctl --endpoint=$ep (should name the endpoint)"
        assert_contains "$CL_ERR" "fleetctl:" "the message of fleetctl --endpoint=$ep"
done

# The same through $FLEETCTL_ENDPOINT.
assert_exit 3 "FLEETCTL_ENDPOINT=unix:///run/fleetd/no-such.sock fleetctl list-machines" \
        cl_exec host1 env FLEETCTL_ENDPOINT=unix:///run/fleetd/no-such.sock /usr/local/bin/fleetctl list-machines
assert_contains "$CL_ERR" /run/fleetd/no-such.sock "the message with FLEETCTL_ENDPOINT set"
