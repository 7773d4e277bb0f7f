/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Builds: from a directory of code to a release (`fleetctl deploy --build DIR`).
 *
 *   POST /v1/apps/<app>/builds[?revision=GITSHA]   body: a build context (build-context.h), a
 *        tar stream of at most BUILD_CONTEXT_SIZE_MAX bytes, spooled to a file as it arrives.
 *        The answer streams (application/x-ndjson), one JSON object a line: first
 *        {"build": {record}}, then {"log": "line"} for each line podman prints, and last
 *        {"build": {record}, "app": {app object, "newRelease"}} or
 *        {"build": {record}, "error": {"code", "message"}}. Whatever is wrong before the build
 *        starts (no build_registry here, a context or manifest that is refused, another build
 *        of the app under way here) is an ordinary error answer.
 *   GET /v1/apps/<app>/builds        {"builds": [records, newest first]}
 *
 * This fleetd builds what it receives, itself: the context is checked, extracted (GNU tar,
 * --no-same-owner) into a directory of its own under API_SPOOL_DIR, built with `podman build
 * --pull=missing` (a base the host has is never pulled), tagged
 * "<repository>:<tag>" (repository: the manifest's image, else "<build_registry>/<app>"; tag:
 * build_tag() of the revision or the build id) and pushed with `podman push --digestfile`; the
 * pushed digest and the manifest become a release through api_apps_deploy_release(), which
 * rolls it out as a deploy does. A build that fails changes no app and no release. Each build
 * is recorded in builds/<app>/<id> (build-record.h) when it starts and when it ends; the last
 * BUILD_RECORDS_KEPT of an app are kept. One build per app at a time, two in all, per fleetd;
 * build_timeout for all of it. The handlers take the Manager as userdata. */

#include "api-server.h"

int api_builds_start(ApiRequest *req, void *userdata);
int api_builds_list(ApiRequest *req, void *userdata);
