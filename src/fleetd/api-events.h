/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* GET /v1/events (the timeline, docs/api.md), GET /metrics (Prometheus text), and the way API
 * handlers record what a caller did. */

#include "api-server.h"
#include "event-log.h"
#include "unit-state.h"

/* GET /v1/events[?app=A][&unit=U][&machine=M][&since=T][&limit=N][&follow=1]: the events that
 * match, oldest first: the newest limit of them, or with since the first limit from there
 * on. follow=1 keeps the answer open and adds each new event that matches within a second:
 * newline-delimited JSON (application/x-ndjson), or text/event-stream when the client accepts
 * it (one "id:" and "data:" per event; Last-Event-ID resumes after that event). A parameter it
 * does not take, or a bad value, is 400 with the reason. userdata is the Manager. */
int api_events_get(ApiRequest *req, void *userdata);

/* GET /metrics: every metric of this fleetd (metrics.h), after running the collectors. */
int api_metrics_get(ApiRequest *req, void *userdata);
/* The route table of metrics_listen (api_server_listen_loopback()): GET /metrics only. */
extern const ApiRoute api_metrics_routes[];

/* Emits e (event-log.h) as done by the caller of req: who and uid from api_request_who() and
 * api_request_uid(). */
void api_event_emit(ApiRequest *req, const Event *e);
void api_event_emitf(ApiRequest *req, const Event *e, const char *fmt, ...) _printf_(3, 4);

/* The event of a PUT of a unit that changed something, through either API: unit.submit for a
 * new unit, else what the new desired state means in fleet's verbs: launched is unit.start,
 * loaded from launched unit.stop, loaded unit.load, inactive unit.unload. Nothing when an
 * existing unit's desired state stays what it was. */
void api_unit_event(ApiRequest *req, const char *unit, const char *app, bool created, UnitDesiredState was,
                    UnitDesiredState to);

/* How many follows one fleetd serves at once; more get 503. */
#define API_EVENTS_FOLLOW_MAX 64
