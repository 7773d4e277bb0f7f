/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Container image references as podman and docker read them: [DOMAIN/]PATH[:TAG][@DIGEST].
 * DOMAIN is the first component when it has a '.' or a ':' or is "localhost"
 * ("registry.example.com/shop/web:2.3", "10.0.0.3:5000/hello@sha256:..."); without one the
 * reference is a short name ("hello:1.0", "library/busybox") that the runtime resolves itself.
 * PURE: strings in, strings out. */

#include <stdbool.h>

#include "basic/macros.h"

/* "sha256:" and 64 lowercase hex digits: the only digest fleetd pins releases to. */
#define IMAGE_DIGEST_PREFIX "sha256:"
#define IMAGE_DIGEST_LEN    (sizeof(IMAGE_DIGEST_PREFIX) - 1 + 64)
/* A tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} (the distribution spec's rule). */
#define IMAGE_TAG_MAX       128

typedef struct ImageRef {
        char *domain;                 /* NULL for a short name */
        char *path;                   /* "shop/web"; never NULL after a parse */
        char *tag;                    /* NULL: none */
        char *digest;                 /* NULL: none */
} ImageRef;

void image_ref_done(ImageRef *r);

/* Splits s. The path is lowercase [a-z0-9] components separated by '.', '_', '__', '-' or '/'
 * (as the distribution spec allows), the domain [A-Za-z0-9.-] with an optional :PORT, the tag as
 * above, the digest as image_digest_is_valid() says. Returns 0 with *ret (to be released with
 * image_ref_done()), -EINVAL for anything else, -ENOMEM. */
int image_ref_parse(const char *s, ImageRef *ret);

bool image_digest_is_valid(const char *s);
bool image_tag_is_valid(const char *s);

/* Whether the reference names a registry to pull from: a first component with a '.' or a ':',
 * other than "localhost" ("localhost:5000/x" is a registry). Short names and localhost/ images
 * must be on the host beforehand (they are never pulled). Only the first component is looked
 * at. */
bool image_ref_has_registry(const char *s);

/* The reference that pins image to digest: "DOMAIN/PATH@DIGEST", the tag (and any digest the
 * reference had) left out: a digest says everything a tag could. NULL if image does not parse,
 * digest is not valid, or on OOM. */
char *image_ref_pin(const char *image, const char *digest);

/* "DOMAIN/PATH:TAG" for a repository (a reference without tag or digest) and a tag. NULL if
 * repository has a tag or digest or does not parse, the tag is not valid, or on OOM. */
char *image_ref_tagged(const char *repository, const char *tag);
