/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* fleet's HTTP API v1 under /fleet/v1, so that fleet's own clients (its fleetctl with its default
 * endpoint unix:///var/run/fleet.sock, its Go and Python bindings) work against fleetd unchanged:
 * discovery, units (list, get, set, delete), state (list, get) and machines (list), as fleet 1.0
 * served them. The entities and their conversions are in shared/fleet-schema.h; docs/api.md
 * ("fleet's API v1") lists what differs from fleet.
 *
 * Every handler reads etcd when asked (units/, schedule/ keys, state/, machines/, as the request
 * needs) and answers from the callback; writes are txns with a compare on the unit's
 * mod_revision, as fleetd's own PUT. Units are fleetd's units/<name> records: a unit created here
 * is listed, started and destroyed through fleetd's API and fleetctl too, and the other way
 * round. A unit set here passes the same checks as one submitted through PUT /v1/units
 * (manager_check_unit_*()). Every refusal is fleet's error body
 * {"error":{"code":<status>,"message":"..."}} whose message names the field or parameter, and
 * changes nothing in etcd. userdata is the Manager. */

#include "api-server.h"

/* The routes, for api_server_add_routes(): every path under /fleet/, fleet's error body for the
 * paths and methods fleet did not have. */
extern const ApiRoute api_fleet_routes[];
