/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The container tools fleetd runs for images, each a child on the loop (shared/child.h): skopeo
 * to ask a registry for an image's digest when a release is made, and the registries' auth file
 * every pulling unit names (UNIT_GEN_AUTH_FILE). The builds' podman runs are in api-builds.c. */

#include <systemd/sd-event.h>

#include "basic/macros.h"

#define IMAGE_TOOL_SKOPEO "/usr/bin/skopeo"
#define IMAGE_TOOL_PODMAN "/usr/bin/podman"
#define IMAGE_TOOL_TAR    "/usr/bin/tar"

/* Creates UNIT_GEN_AUTH_FILE ({"auths": {}}, mode 0600, its directory 0755) if it does not
 * exist, so that podman's --authfile= in the units never fails on a host without credentials.
 * An existing file is left alone. Returns 0 or a negative errno. */
int image_auth_file_ensure(void);

typedef struct ImageResolve ImageResolve;

/* Called once: digest ("sha256:...") on success, else NULL and error, the tool's own words (one
 * line). Both are valid during the call only. The resolve is the callee's to free, from here
 * too. */
typedef void (*image_resolve_done_t)(ImageResolve *ir, const char *digest, const char *error, void *userdata);

/* Asks the registry of image for the digest its tag names now: `skopeo inspect --no-tags
 * --format {{.Digest}} docker://IMAGE` with the auth file, 60 s at most. skopeo reads podman's
 * registries.conf (a registry listed insecure is spoken to over plain HTTP). Returns 0 with
 * *ret, or a negative errno (-ENOENT: no skopeo), and then done is never called. */
int image_resolve_digest(sd_event *e, const char *image, image_resolve_done_t done, void *userdata,
                         ImageResolve **ret);
ImageResolve *image_resolve_free(ImageResolve *ir);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImageResolve *, image_resolve_free);

/* PURE. The last lines of a tool's output (up to 3 that are not empty, in order, joined with
 * " / "), without a trailing blank, cut to at most size - 1 bytes: a one-line reason for a
 * message. Returns buf. */
char *image_tool_summary(const char *output, size_t len, char *buf, size_t size);
