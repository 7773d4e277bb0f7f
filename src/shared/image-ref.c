/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "basic/string-util.h"
#include "image-ref.h"

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"
#define ALNUM        LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define HEX          "0123456789abcdef"
#define REF_MAX      1024

void image_ref_done(ImageRef *r) {
        free(r->domain);
        free(r->path);
        free(r->tag);
        free(r->digest);
        *r = (ImageRef) {};
}

bool image_digest_is_valid(const char *s) {
        const char *hex = s ? startswith(s, IMAGE_DIGEST_PREFIX) : NULL;

        return hex && strlen(hex) == 64 && strspn(hex, HEX) == 64;
}

bool image_tag_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > IMAGE_TAG_MAX || !strchr(ALNUM "_", s[0]))
                return false;
        return strspn(s, ALNUM "_.-") == n;
}

/* One path component: [a-z0-9]+ with single '.' or '-' runs, or "_" / "__", between. */
static bool path_component_is_valid(const char *s, size_t n) {
        size_t i = 0;

        while (i < n) {
                size_t run = strspn(s + i, LOWER_DIGITS);
                if (run == 0 || i + run > n)
                        return false;
                i += run;
                if (i == n)
                        return true;
                if (s[i] == '.' || (s[i] == '_' && s[i + 1] != '_'))
                        i++;
                else if (s[i] == '_' && s[i + 1] == '_')
                        i += 2;
                else if (s[i] == '-')
                        i += strspn(s + i, "-");
                else
                        return false;
                if (i >= n)
                        return false;
        }
        return false;
}

static bool path_is_valid(const char *s, size_t n) {
        const char *end = s + n;

        if (n == 0)
                return false;
        while (s < end) {
                const char *slash = memchr(s, '/', (size_t) (end - s));
                size_t len = slash ? (size_t) (slash - s) : (size_t) (end - s);
                if (!path_component_is_valid(s, len))
                        return false;
                s += len + (slash ? 1 : 0);
                if (slash && s == end)
                        return false;
        }
        return true;
}

/* host[:port], host being [A-Za-z0-9-] labels separated by '.'. */
static bool domain_is_valid(const char *s, size_t n) {
        const char *colon = memchr(s, ':', n);
        size_t host = colon ? (size_t) (colon - s) : n;

        if (host == 0 || strspn(s, ALNUM ".-") < host || s[0] == '.' || s[0] == '-' || s[host - 1] == '.')
                return false;
        if (colon) {
                size_t port = n - host - 1;
                if (port == 0 || port > 5 || strspn(colon + 1, "0123456789") < port)
                        return false;
        }
        return true;
}

/* Whether the first component of a reference is a domain (docker's rule). */
static bool is_domain(const char *s, size_t n) {
        return memchr(s, '.', n) || memchr(s, ':', n) || (n == strlen("localhost") && memcmp(s, "localhost", n) == 0);
}

static int take(const char *s, size_t n, char **ret) {
        *ret = strndup(s, n);
        return *ret ? 0 : -ENOMEM;
}

int image_ref_parse(const char *s, ImageRef *ret) {
        _cleanup_(image_ref_done) ImageRef r = {};
        const char *at, *slash, *name, *colon, *end;
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > REF_MAX)
                return -EINVAL;
        at = strchr(s, '@');
        end = at ?: s + n;
        if (at && !image_digest_is_valid(at + 1))
                return -EINVAL;
        if (at && take(at + 1, strlen(at + 1), &r.digest) < 0)
                return -ENOMEM;

        slash = memchr(s, '/', (size_t) (end - s));
        name = s;
        if (slash && is_domain(s, (size_t) (slash - s))) {
                if (!domain_is_valid(s, (size_t) (slash - s)))
                        return -EINVAL;
                if (take(s, (size_t) (slash - s), &r.domain) < 0)
                        return -ENOMEM;
                name = slash + 1;
        }
        /* A ':' after the last '/' starts the tag (one before it is the domain's port). */
        colon = NULL;
        for (const char *c = name; c < end; c++)
                if (*c == ':')
                        colon = c;
                else if (*c == '/')
                        colon = NULL;
        if (colon) {
                if (take(colon + 1, (size_t) (end - colon - 1), &r.tag) < 0)
                        return -ENOMEM;
                if (!image_tag_is_valid(r.tag))
                        return -EINVAL;
                end = colon;
        }
        if (!path_is_valid(name, (size_t) (end - name)))
                return -EINVAL;
        if (take(name, (size_t) (end - name), &r.path) < 0)
                return -ENOMEM;

        *ret = r;
        r = (ImageRef) {};
        return 0;
}

bool image_ref_has_registry(const char *s) {
        const char *slash = s ? strchr(s, '/') : NULL;
        size_t n;

        /* Only the first component counts, as for the runtimes: a reference that is not valid
         * otherwise fails where it is used, with the runtime's message. */
        if (!slash)
                return false;
        n = (size_t) (slash - s);
        if (n == strlen("localhost") && memcmp(s, "localhost", n) == 0)
                return false;
        return memchr(s, '.', n) || memchr(s, ':', n);
}

char *image_ref_pin(const char *image, const char *digest) {
        _cleanup_(image_ref_done) ImageRef r = {};
        char *s;

        if (!image_digest_is_valid(digest) || image_ref_parse(image, &r) < 0)
                return NULL;
        if (asprintf(&s, "%s%s%s@%s", strempty(r.domain), r.domain ? "/" : "", r.path, digest) < 0)
                return NULL;
        return s;
}

char *image_ref_tagged(const char *repository, const char *tag) {
        _cleanup_(image_ref_done) ImageRef r = {};
        char *s;

        if (!image_tag_is_valid(tag) || image_ref_parse(repository, &r) < 0 || r.tag || r.digest)
                return NULL;
        if (asprintf(&s, "%s%s%s:%s", strempty(r.domain), r.domain ? "/" : "", r.path, tag) < 0)
                return NULL;
        return s;
}
