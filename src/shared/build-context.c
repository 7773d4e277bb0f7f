/* SPDX-License-Identifier: Apache-2.0 */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>

#include "basic/error-util.h"
#include "build-context.h"
#include "image-ref.h"

#define BLOCK 512u

/* The ustar header's fields (POSIX.1-1988 + the pax "x" extended header). */
typedef struct TarHeader {
        char name[100];
        char mode[8];
        char uid[8];
        char gid[8];
        char size[12];
        char mtime[12];
        char chksum[8];
        char typeflag;
        char linkname[100];
        char magic[6];
        char version[2];
        char uname[32];
        char gname[32];
        char devmajor[8];
        char devminor[8];
        char prefix[155];
        char pad[12];
} TarHeader;

_Static_assert(sizeof(TarHeader) == BLOCK, "a tar header is one block");

/* --- names --- */

/* Relative, '/'-separated, no empty, "." or ".." component, no control character. */
static const char *name_problem(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0)
                return "an empty name";
        if (n > BUILD_CONTEXT_NAME_MAX)
                return "a name that is too long";
        if (s[0] == '/')
                return "an absolute name";
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                        return "a control character in the name";
        for (const char *c = s; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
                size_t len = strcspn(c, "/");
                if (len == 0)
                        return "an empty path component";
                if (len == 2 && c[0] == '.' && c[1] == '.')
                        return "a '..' component";
                if (len == 1 && c[0] == '.')
                        return "a '.' component";
        }
        return NULL;
}

static const char *link_problem(const char *s) {
        const char *p = name_problem(s);

        if (p && streq(p, "an absolute name"))
                return "a link to an absolute path";
        if (p && streq(p, "a '..' component"))
                return "a link with a '..' component";
        return p;
}

/* --- writing --- */

void tar_writer_done(TarWriter *w) {
        free(w->data);
        *w = (TarWriter) { .max = w->max };
}

static int tar_reserve(TarWriter *w, size_t more) {
        size_t max = w->max ?: BUILD_CONTEXT_SIZE_MAX, want;
        char *d;

        if (more > max || w->size > max - more)
                return -EFBIG;
        want = w->size + more;
        if (want <= w->allocated)
                return 0;
        want = MAX(want, MIN(max, MAX(w->allocated * 2, (size_t) 64 * 1024)));
        d = realloc(w->data, want);
        if (!d)
                return -ENOMEM;
        w->data = d;
        w->allocated = want;
        return 0;
}

static void octal(char *field, size_t width, uint64_t v) {
        snprintf(field, width, "%0*llo", (int) width - 1, (unsigned long long) v);
}

static void header_checksum(TarHeader *h) {
        const unsigned char *b = (const unsigned char *) h;
        unsigned sum = 0;

        memset(h->chksum, ' ', sizeof(h->chksum));
        for (size_t i = 0; i < BLOCK; i++)
                sum += b[i];
        snprintf(h->chksum, sizeof(h->chksum), "%06o", sum);
        h->chksum[7] = ' ';
}

/* A header block and size bytes of data, padded to whole blocks. */
static int tar_put(TarWriter *w, TarHeader *h, const void *data, size_t size) {
        size_t padded = (size + BLOCK - 1) / BLOCK * BLOCK;
        int r;

        header_checksum(h);
        r = tar_reserve(w, BLOCK + padded);
        if (r < 0)
                return r;
        memcpy(w->data + w->size, h, BLOCK);
        if (size > 0)
                memcpy(w->data + w->size + BLOCK, data, size);
        memset(w->data + w->size + BLOCK + size, 0, padded - size);
        w->size += BLOCK + padded;
        return 0;
}

static void header_init(TarHeader *h, const char *name, char type, mode_t mode, uint64_t size) {
        *h = (TarHeader) { .typeflag = type };
        snprintf(h->name, sizeof(h->name), "%s", name);
        octal(h->mode, sizeof(h->mode), mode & 07777);
        octal(h->uid, sizeof(h->uid), 0);
        octal(h->gid, sizeof(h->gid), 0);
        octal(h->size, sizeof(h->size), size);
        octal(h->mtime, sizeof(h->mtime), 0);
        memcpy(h->magic, "ustar", 6);
        memcpy(h->version, "00", 2);
}

/* One pax record "LEN key=value\n", LEN counting itself. */
static int pax_record(char **buf, size_t *len, const char *key, const char *value) {
        size_t body = strlen(key) + strlen(value) + 3, total = body + 1;
        char *b;

        while (total != body + (size_t) snprintf(NULL, 0, "%zu", total))
                total = body + (size_t) snprintf(NULL, 0, "%zu", total);
        b = realloc(*buf, *len + total + 1);
        if (!b)
                return -ENOMEM;
        snprintf(b + *len, total + 1, "%zu %s=%s\n", total, key, value);
        *buf = b;
        *len += total;
        return 0;
}

/* Names and links longer than ustar's 100 bytes go into a pax header before the member. */
static int tar_put_pax(TarWriter *w, const char *name, const char *link) {
        _cleanup_free_ char *records = NULL;
        size_t len = 0;
        TarHeader h;
        int r;

        if (strlen(name) >= sizeof(h.name) && (r = pax_record(&records, &len, "path", name)) < 0)
                return r;
        if (link && strlen(link) >= sizeof(h.linkname) && (r = pax_record(&records, &len, "linkpath", link)) < 0)
                return r;
        if (len == 0)
                return 0;
        header_init(&h, "PaxHeader", 'x', 0644, len);
        return tar_put(w, &h, records, len);
}

int tar_writer_add(TarWriter *w, const char *name, TarType type, mode_t mode, const void *data, size_t size,
                   const char *link) {
        TarHeader h;
        int r;

        if (name_problem(name) || (type == TAR_SYMLINK && link_problem(link)) ||
            (type != TAR_FILE && type != TAR_SYMLINK && type != TAR_DIRECTORY))
                return -EINVAL;
        if (w->entries >= BUILD_CONTEXT_ENTRIES_MAX)
                return -EFBIG;
        r = tar_put_pax(w, name, type == TAR_SYMLINK ? link : NULL);
        if (r < 0)
                return r;
        header_init(&h, name, (char) type, mode, type == TAR_FILE ? size : 0);
        if (type == TAR_SYMLINK)
                snprintf(h.linkname, sizeof(h.linkname), "%s", link);
        r = tar_put(w, &h, data, type == TAR_FILE ? size : 0);
        if (r >= 0)
                w->entries++;
        return r;
}

int tar_writer_finish(TarWriter *w) {
        int r = tar_reserve(w, 2 * BLOCK);

        if (r < 0)
                return r;
        memset(w->data + w->size, 0, 2 * BLOCK);
        w->size += 2 * BLOCK;
        return 0;
}

/* --- reading --- */

void build_context_info_done(BuildContextInfo *i) {
        free(i->manifest);
        free(i->containerfile);
        *i = (BuildContextInfo) {};
}

typedef struct Reader {
        const unsigned char *data;
        size_t size, offset;
        unsigned index;               /* of the member being read, from 1 */
        char *pax_path, *pax_link;    /* from a pax header, for the next member */
        char *error;
} Reader;

static void reader_done(Reader *r) {
        free(r->pax_path);
        free(r->pax_link);
        free(r->error);
}

_printf_(3, 4) static int reader_fail(Reader *rd, const char *name, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_setv(&msg, -EBADMSG, fmt, ap);
        va_end(ap);
        if (r == -ENOMEM)
                return r;
        if (name)
                return error_set(&rd->error, -EBADMSG, "member %u (%.200s): %s", rd->index, name, msg);
        return error_set(&rd->error, -EBADMSG, "member %u: %s", rd->index, msg);
}

/* An octal field (NUL- or blank-terminated, leading blanks allowed). */
static int parse_octal(const char *f, size_t width, uint64_t *ret) {
        uint64_t v = 0;
        size_t i = 0;

        while (i < width && f[i] == ' ')
                i++;
        if (i == width || f[i] < '0' || f[i] > '7')
                return -EBADMSG;
        for (; i < width && f[i] >= '0' && f[i] <= '7'; i++) {
                if (v > (UINT64_MAX >> 3))
                        return -EBADMSG;
                v = v << 3 | (uint64_t) (f[i] - '0');
        }
        if (i < width && f[i] != '\0' && f[i] != ' ')
                return -EBADMSG;
        *ret = v;
        return 0;
}

static bool checksum_ok(const TarHeader *h) {
        const unsigned char *b = (const unsigned char *) h;
        uint64_t stored;
        unsigned sum = 0;

        if (parse_octal(h->chksum, sizeof(h->chksum), &stored) < 0)
                return false;
        for (size_t i = 0; i < BLOCK; i++)
                sum += i >= offsetof(TarHeader, chksum) && i < offsetof(TarHeader, chksum) + 8 ? ' ' : b[i];
        return stored == sum;
}

static char *field_dup(const char *f, size_t width) {
        return strndup(f, strnlen(f, width));
}

/* prefix "/" name, or the pax path. */
static int member_name(Reader *rd, const TarHeader *h, char **ret) {
        _cleanup_free_ char *name = field_dup(h->name, sizeof(h->name));
        _cleanup_free_ char *prefix = field_dup(h->prefix, sizeof(h->prefix));

        if (!name || !prefix)
                return -ENOMEM;
        if (rd->pax_path) {
                *ret = TAKE_PTR(rd->pax_path);
                return 0;
        }
        if (isempty(prefix)) {
                *ret = TAKE_PTR(name);
                return 0;
        }
        return asprintf(ret, "%s/%s", prefix, name) < 0 ? -ENOMEM : 0;
}

/* The records of a pax header: path= and linkpath= are kept, the others ignored. */
static int read_pax(Reader *rd, const char *p, size_t n) {
        const char *end = p + n;

        while (p < end) {
                char *sp;
                unsigned long len = strtoul(p, &sp, 10);
                if (sp == p || *sp != ' ' || len < 5 || len > (size_t) (end - p) || p[len - 1] != '\n')
                        return reader_fail(rd, NULL, "a malformed pax header");
                const char *kv = sp + 1, *eq = memchr(kv, '=', (size_t) (p + len - 1 - kv));
                if (!eq)
                        return reader_fail(rd, NULL, "a malformed pax record");
                char **dst = (eq - kv == 4 && memcmp(kv, "path", 4) == 0) ? &rd->pax_path :
                             (eq - kv == 8 && memcmp(kv, "linkpath", 8) == 0) ? &rd->pax_link : NULL;
                if (dst) {
                        free(*dst);
                        *dst = strndup(eq + 1, (size_t) (p + len - 1 - eq - 1));
                        if (!*dst)
                                return -ENOMEM;
                }
                p += len;
        }
        return 0;
}

static bool block_is_zero(const unsigned char *b) {
        for (size_t i = 0; i < BLOCK; i++)
                if (b[i])
                        return false;
        return true;
}

/* Strips "./" in front and one '/' behind (directories). */
static void name_normalize(char *s, char type) {
        size_t n;

        while (s[0] == '.' && s[1] == '/')
                memmove(s, s + 2, strlen(s + 2) + 1);
        n = strlen(s);
        if (type == TAR_DIRECTORY && n > 1 && s[n - 1] == '/')
                s[n - 1] = '\0';
}

/* One regular member, a directory or a symlink, after its header was read. */
static int read_member(Reader *rd, const TarHeader *h, const char *data, uint64_t size, BuildContextInfo *info) {
        _cleanup_free_ char *name = NULL, *link = NULL;
        char type = h->typeflag ?: TAR_FILE;
        const char *why;
        int r;

        r = member_name(rd, h, &name);
        if (r < 0)
                return r;
        name_normalize(name, type);
        if (type == TAR_DIRECTORY && (isempty(name) || streq(name, ".") || streq(name, "./")))
                return 0;     /* the top directory itself, as `tar -C DIR -c .` writes it */
        if (type != TAR_FILE && type != TAR_DIRECTORY && type != TAR_SYMLINK)
                return reader_fail(rd, name, "a member of type '%c'; expected files, directories and symbolic links "
                                   "only", type);
        why = name_problem(name);
        if (why)
                return reader_fail(rd, name, "%s", why);
        if (type == TAR_SYMLINK) {
                link = rd->pax_link ? TAKE_PTR(rd->pax_link) : field_dup(h->linkname, sizeof(h->linkname));
                if (!link)
                        return -ENOMEM;
                why = link_problem(link);
                if (why)
                        return reader_fail(rd, name, "%s", why);
        }
        free(rd->pax_link);
        rd->pax_link = NULL;
        info->entries++;
        if (type != TAR_FILE)
                return 0;
        info->bytes += size;
        if (startswith(name, BUILD_CONTEXT_DIR "/") && !streq(name, BUILD_CONTEXT_MANIFEST))
                return reader_fail(rd, name, "only the manifest may be under " BUILD_CONTEXT_DIR "/");
        if (streq(name, BUILD_CONTEXT_MANIFEST)) {
                if (info->manifest)
                        return reader_fail(rd, name, "the manifest twice");
                info->manifest = strndup(data, (size_t) size);
                info->manifest_size = (size_t) size;
                return info->manifest ? 0 : -ENOMEM;
        }
        if (!info->containerfile && (streq(name, "Containerfile") || streq(name, "Dockerfile"))) {
                info->containerfile = strdup(name);
                return info->containerfile ? 0 : -ENOMEM;
        }
        return 0;
}

/* The header at rd->offset and its data. Returns 1 for a member, 0 at the end. */
static int read_next(Reader *rd, BuildContextInfo *info) {
        const TarHeader *h;
        uint64_t size;
        size_t padded;
        int r;

        if (rd->size - rd->offset < BLOCK)
                return reader_fail(rd, NULL, "the stream ends inside a header; expected the end blocks");
        if (block_is_zero(rd->data + rd->offset))
                return 0;
        h = (const TarHeader *) (rd->data + rd->offset);
        rd->index++;
        if (rd->index > BUILD_CONTEXT_ENTRIES_MAX * 2)
                return reader_fail(rd, NULL, "more than %u members", BUILD_CONTEXT_ENTRIES_MAX);
        if (!checksum_ok(h) || parse_octal(h->size, sizeof(h->size), &size) < 0)
                return reader_fail(rd, NULL, "not a tar header (bad checksum or size)");
        padded = (size_t) ((size + BLOCK - 1) / BLOCK * BLOCK);
        if (size > rd->size || padded > rd->size - rd->offset - BLOCK)
                return reader_fail(rd, NULL, "the data goes past the end of the stream");
        const char *data = (const char *) rd->data + rd->offset + BLOCK;
        rd->offset += BLOCK + padded;
        if (h->typeflag == 'x' || h->typeflag == 'g') {
                /* A pax header belongs to the member after it; global records: nothing we use. */
                rd->index--;
                r = h->typeflag == 'x' ? read_pax(rd, data, (size_t) size) : 0;
        } else
                r = read_member(rd, h, data, size, info);
        if (r < 0)
                return rd->error ? -EBADMSG : -ENOMEM;
        return 1;
}

int build_context_check(const void *data, size_t size, BuildContextInfo *ret, char **ret_error) {
        _cleanup_(build_context_info_done) BuildContextInfo info = {};
        _cleanup_(reader_done) Reader rd = { .data = data, .size = size };
        int r;

        while ((r = read_next(&rd, &info)) > 0)
                if (info.entries > BUILD_CONTEXT_ENTRIES_MAX)
                        return error_set(ret_error, -EBADMSG, "more than %u members", BUILD_CONTEXT_ENTRIES_MAX);
        if (r == -ENOMEM || (r < 0 && !rd.error))
                return -ENOMEM;
        if (r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(rd.error);
                return -EBADMSG;
        }
        if (!info.manifest)
                return error_set(ret_error, -EBADMSG, "no manifest (%s) in the build context", BUILD_CONTEXT_MANIFEST);
        if (!info.containerfile)
                return error_set(ret_error, -EBADMSG, "no Containerfile or Dockerfile at the top of the build context");
        *ret = info;
        info = (BuildContextInfo) {};
        return 0;
}

/* --- ignore files --- */

void ignore_rules_done(IgnoreRules *r) {
        for (size_t i = 0; i < r->n_rules; i++)
                free(r->rules[i].pattern);
        free(r->rules);
        *r = (IgnoreRules) {};
}

/* Trims blanks, drops "./" and a leading '/', and a trailing '/'. NULL: nothing left. */
static char *pattern_clean(const char *s, size_t n) {
        char *p;
        size_t len;

        while (n > 0 && (*s == ' ' || *s == '\t'))
                s++, n--;
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                n--;
        for (;;) {
                size_t skip = n > 0 && *s == '/' ? 1 : n > 1 && s[0] == '.' && s[1] == '/' ? 2 : 0;
                if (skip == 0)
                        break;
                s += skip;
                n -= skip;
        }
        p = strndup(s, n);
        if (!p)
                return NULL;
        len = strlen(p);
        while (len > 0 && p[len - 1] == '/')
                p[--len] = '\0';
        return p;
}

static int rules_add(IgnoreRules *r, char *pattern, bool exception) {
        IgnoreRule *n = reallocarray(r->rules, r->n_rules + 1, sizeof(IgnoreRule));

        if (!n) {
                free(pattern);
                return -ENOMEM;
        }
        r->rules = n;
        n[r->n_rules++] = (IgnoreRule) { pattern, exception };
        r->any_exception = r->any_exception || exception;
        return 0;
}

int ignore_rules_parse(const char *text, size_t len, IgnoreRules *ret) {
        _cleanup_(ignore_rules_done) IgnoreRules rules = {};
        const char *p = text, *end = text + len;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p)) ?: end;
                const char *s = p;
                size_t n = (size_t) (eol - p);
                bool exception;

                p = eol + 1;
                while (n > 0 && (*s == ' ' || *s == '\t'))
                        s++, n--;
                if (n == 0 || *s == '#')
                        continue;
                exception = *s == '!';
                char *pattern = pattern_clean(s + exception, n - exception);
                if (!pattern)
                        return -ENOMEM;
                if (isempty(pattern)) {
                        free(pattern);
                        continue;
                }
                int r = rules_add(&rules, pattern, exception);
                if (r < 0)
                        return r;
        }
        *ret = rules;
        rules = (IgnoreRules) {};
        return 0;
}

/* Matches components: '**' takes any number of them, every other one is an fnmatch() pattern. */
static bool match_components(const char *pat, const char *path) {
        size_t plen = strcspn(pat, "/"), slen = strcspn(path, "/");

        if (!*pat)
                return !*path;
        if (plen == 2 && pat[0] == '*' && pat[1] == '*') {
                const char *rest = pat[2] ? pat + 3 : pat + 2;
                for (const char *s = path;; s += strcspn(s, "/") + 1) {
                        if (match_components(rest, s))
                                return true;
                        if (!*s || !strchr(s, '/'))
                                return !*rest;
                }
        }
        if (!*path)
                return false;
        _cleanup_free_ char *p = strndup(pat, plen), *c = strndup(path, slen);
        if (!p || !c || fnmatch(p, c, 0) != 0)
                return false;
        return match_components(pat[plen] ? pat + plen + 1 : pat + plen, path[slen] ? path + slen + 1 : path + slen);
}

/* The pattern matches path or one of the directories above it. */
static bool match_or_parent(const char *pattern, const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return false;
        for (;;) {
                if (match_components(pattern, p))
                        return true;
                char *slash = strrchr(p, '/');
                if (!slash)
                        return false;
                *slash = '\0';
        }
}

bool ignore_rules_excluded(const IgnoreRules *r, const char *path) {
        bool excluded = false;

        for (size_t i = 0; i < r->n_rules; i++)
                if (match_or_parent(r->rules[i].pattern, path))
                        excluded = !r->rules[i].exception;
        return excluded;
}

bool ignore_rules_prune(const IgnoreRules *r, const char *path) {
        return !r->any_exception && ignore_rules_excluded(r, path);
}

char *build_tag(const char *revision, const char *build_id) {
        char shortened[13];

        if (revision && strlen(revision) >= 12 && strspn(revision, "0123456789abcdef") == strlen(revision)) {
                snprintf(shortened, sizeof(shortened), "%s", revision);
                return strdup(shortened);
        }
        return strdup(build_id);
}
