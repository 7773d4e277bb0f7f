/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The /v1/apps handlers (api-apps.c); userdata is the Manager. See docs/api.md. */

#include "manager.h"
#include "release.h"

int api_apps_list(ApiRequest *req, void *userdata);
int api_apps_get(ApiRequest *req, void *userdata);
int api_apps_deploy(ApiRequest *req, void *userdata);
int api_apps_scale(ApiRequest *req, void *userdata);
int api_apps_config(ApiRequest *req, void *userdata);
int api_apps_releases(ApiRequest *req, void *userdata);
int api_apps_rollback(ApiRequest *req, void *userdata);
int api_apps_restart(ApiRequest *req, void *userdata);
int api_apps_destroy(ApiRequest *req, void *userdata);
int api_routes_list(ApiRequest *req, void *userdata);

/* The end of api_apps_deploy_release(): the status a deploy through the API would answer, and
 * on success (2xx) the app object it would send (with "newRelease"), else the error's code and
 * message. answer and the strings are valid during the call only. */
typedef void (*api_apps_done_t)(unsigned status, const char *code, const char *message, json_t *answer,
                                void *userdata);

/* Deploys manifest (taken over: the caller's struct is zeroed) as POST /v1/apps/<app>/deploy does,
 * for the app it names, with cause as the new release's cause (NULL: "deploy"; it must outlive the
 * call's end), and tells done once, later or from within. Used by builds (api-builds.c), whose
 * manifest already carries the pushed image's digest. Returns 0 (done is called) or a negative
 * errno (done is not called). */
int api_apps_deploy_release(Manager *m, Release *manifest, const char *cause, api_apps_done_t done,
                            void *userdata);
