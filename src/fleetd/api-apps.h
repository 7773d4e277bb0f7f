/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The /v1/apps handlers (api-apps.c); userdata is the Manager. See docs/api.md. */

#include "manager.h"

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
