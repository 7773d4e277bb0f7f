/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdio.h>

#include "unit-name.h"

static const char *const unit_type_table[_UNIT_TYPE_MAX] = {
        [UNIT_SERVICE]   = "service",
        [UNIT_SOCKET]    = "socket",
        [UNIT_TARGET]    = "target",
        [UNIT_DEVICE]    = "device",
        [UNIT_MOUNT]     = "mount",
        [UNIT_AUTOMOUNT] = "automount",
        [UNIT_SWAP]      = "swap",
        [UNIT_TIMER]     = "timer",
        [UNIT_PATH]      = "path",
        [UNIT_SLICE]     = "slice",
        [UNIT_SCOPE]     = "scope",
};

#define ALLOWED_CHARS_TEXT "letters, digits, ':', '-', '_', '.', '\\', '@'"
#define PLACEABLE_TEXT     ".service, .socket, .timer, .path and .target"

/* Longest name echoed back in a message; the rest is cut to "...". */
#define MESSAGE_NAME_MAX 80

const char *unit_type_to_string(UnitType t) {
        if (t < 0 || t >= _UNIT_TYPE_MAX)
                return NULL;
        return unit_type_table[t];
}

UnitType unit_type_from_string(const char *s) {
        if (!s)
                return _UNIT_TYPE_INVALID;
        for (UnitType t = 0; t < _UNIT_TYPE_MAX; t++)
                if (streq(unit_type_table[t], s))
                        return t;
        return _UNIT_TYPE_INVALID;
}

bool unit_type_is_placeable(UnitType t) {
        return t == UNIT_SERVICE || t == UNIT_SOCKET || t == UNIT_TIMER || t == UNIT_PATH ||
               t == UNIT_TARGET;
}

static bool char_is_allowed(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != 0 && strchr(":-_.\\@", c));
}

/* Why a name is invalid; the first problem found, in the order a reader would fix them. */
typedef enum NameProblem {
        NAME_OK,
        NAME_EMPTY,
        NAME_TOO_LONG,
        NAME_BAD_CHAR,       /* at pos */
        NAME_NO_SUFFIX,
        NAME_BAD_SUFFIX,     /* suffix starts at pos */
        NAME_EMPTY_PREFIX,   /* nothing before the '.' (pos) or the '@' (pos) */
        NAME_WRONG_KIND,
        NAME_NOT_PLACEABLE,
} NameProblem;

typedef struct NameParts {
        size_t at;      /* index of the first '@', or SIZE_MAX */
        size_t dot;     /* index of the last '.' */
        UnitType type;
        UnitNameFlags kind;
} NameParts;

static NameProblem name_split(const char *name, NameParts *ret, size_t *ret_pos) {
        size_t n = strlen(name);

        *ret_pos = 0;
        if (n == 0)
                return NAME_EMPTY;
        if (n >= UNIT_NAME_MAX)
                return NAME_TOO_LONG;

        for (size_t i = 0; i < n; i++)
                if (!char_is_allowed(name[i])) {
                        *ret_pos = i;
                        return NAME_BAD_CHAR;
                }

        const char *dot = strrchr(name, '.');
        if (!dot)
                return NAME_NO_SUFFIX;
        *ret_pos = dot - name;
        UnitType type = unit_type_from_string(dot + 1);
        if (type < 0)
                return NAME_BAD_SUFFIX;
        if (dot == name)
                return NAME_EMPTY_PREFIX;

        /* The first '@' before the type ends the prefix; later ones belong to the instance. */
        const char *at = memchr(name, '@', dot - name);
        if (at == name) {
                *ret_pos = 0;
                return NAME_EMPTY_PREFIX;
        }

        *ret = (NameParts) {
                .at = at ? (size_t) (at - name) : SIZE_MAX,
                .dot = dot - name,
                .type = type,
                .kind = !at ? UNIT_NAME_PLAIN : at + 1 == dot ? UNIT_NAME_TEMPLATE : UNIT_NAME_INSTANCE,
        };
        return NAME_OK;
}

static NameProblem name_analyze(const char *name, UnitNameFlags flags, NameParts *ret, size_t *ret_pos) {
        NameParts parts;
        NameProblem p;

        if (!name) {
                *ret_pos = 0;
                return NAME_EMPTY;
        }
        p = name_split(name, &parts, ret_pos);
        if (p != NAME_OK)
                return p;

        UnitNameFlags kinds = flags & UNIT_NAME_ANY;
        if (kinds != 0 && !(kinds & parts.kind))
                return NAME_WRONG_KIND;
        if ((flags & UNIT_NAME_PLACEABLE) && !unit_type_is_placeable(parts.type))
                return NAME_NOT_PLACEABLE;

        if (ret)
                *ret = parts;
        return NAME_OK;
}

bool unit_name_is_valid(const char *name, UnitNameFlags flags) {
        size_t pos;

        return name_analyze(name, flags, NULL, &pos) == NAME_OK;
}

/* s with every byte that is not printable ASCII shown as \xNN, cut after max bytes. */
static char *escape_for_message(const char *s, size_t max) {
        size_t n = strlen(s);
        char *buf = malloc(MIN(n, max) * 4 + 4), *o = buf;

        if (!buf)
                return NULL;
        for (size_t i = 0; i < n && i < max; i++) {
                unsigned char c = s[i];
                if (c >= 0x20 && c < 0x7f)
                        *o++ = c;
                else
                        o += sprintf(o, "\\x%02x", c);
        }
        if (n > max)
                o = stpcpy(o, "...");
        *o = 0;
        return buf;
}

static const char *kind_to_text(UnitNameFlags kind) {
        return kind == UNIT_NAME_PLAIN ? "a plain name" : kind == UNIT_NAME_TEMPLATE ? "a template" : "an instance";
}

/* "a plain name or an instance" for the kinds in flags. */
static void expected_kinds(UnitNameFlags flags, char *buf, size_t size) {
        const UnitNameFlags all[] = { UNIT_NAME_PLAIN, UNIT_NAME_TEMPLATE, UNIT_NAME_INSTANCE };
        size_t used = 0;

        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                if (flags & all[i])
                        used += snprintf(buf + used, size - used, "%s%s", used > 0 ? " or " : "",
                                         kind_to_text(all[i]));
}

static int format_problem(const char *name, UnitNameFlags flags, NameProblem p, size_t pos, char **ret) {
        _cleanup_free_ char *shown = NULL, *ch = NULL;
        char kinds[64];
        NameParts parts;
        size_t unused;
        int r = -1;

        if (p == NAME_EMPTY) {
                *ret = strdup("unit name is empty");
                return *ret ? 0 : -ENOMEM;
        }

        shown = escape_for_message(name, MESSAGE_NAME_MAX);
        if (!shown)
                return -ENOMEM;

        switch (p) {
        case NAME_TOO_LONG:
                r = asprintf(ret, "unit name '%s' is %zu bytes long; the limit is %d", shown, strlen(name),
                             UNIT_NAME_MAX - 1);
                break;
        case NAME_BAD_CHAR:
                ch = escape_for_message((char[]) { name[pos], 0 }, 1);
                if (!ch)
                        return -ENOMEM;
                r = asprintf(ret, "unit name '%s' contains '%s' at position %zu; allowed: " ALLOWED_CHARS_TEXT,
                             shown, ch, pos + 1);
                break;
        case NAME_NO_SUFFIX:
                r = asprintf(ret, "unit name '%s' has no type suffix such as .service", shown);
                break;
        case NAME_BAD_SUFFIX:
                ch = escape_for_message(name + pos, MESSAGE_NAME_MAX);
                if (!ch)
                        return -ENOMEM;
                r = asprintf(ret, "unit name '%s' has an unknown type suffix '%s'", shown, ch);
                break;
        case NAME_EMPTY_PREFIX:
                r = asprintf(ret, "unit name '%s' has nothing before '%c'", shown, name[pos]);
                break;
        case NAME_WRONG_KIND:
                (void) name_split(name, &parts, &unused);
                expected_kinds(flags, kinds, sizeof(kinds));
                r = asprintf(ret, "unit name '%s' is %s; expected %s", shown, kind_to_text(parts.kind), kinds);
                break;
        case NAME_NOT_PLACEABLE:
                (void) name_split(name, &parts, &unused);
                r = asprintf(ret, "unit name '%s' is a .%s unit; fleet places only " PLACEABLE_TEXT " units",
                             shown, unit_type_to_string(parts.type));
                break;
        default:
                break;
        }
        return r < 0 ? -ENOMEM : 0;
}

int unit_name_check(const char *name, UnitNameFlags flags, char **ret_message) {
        NameProblem p;
        size_t pos;
        int r;

        p = name_analyze(name, flags, NULL, &pos);
        if (p == NAME_OK)
                return 0;
        if (ret_message) {
                r = format_problem(name, flags, p, pos, ret_message);
                if (r < 0)
                        return r;
        }
        return -EINVAL;
}

UnitType unit_name_to_type(const char *name) {
        NameParts parts;
        size_t pos;

        if (name_analyze(name, 0, &parts, &pos) != NAME_OK)
                return _UNIT_TYPE_INVALID;
        return parts.type;
}

bool unit_name_is_template(const char *name) {
        return unit_name_is_valid(name, UNIT_NAME_TEMPLATE);
}

bool unit_name_is_instance(const char *name) {
        return unit_name_is_valid(name, UNIT_NAME_INSTANCE);
}

int unit_name_template_of(const char *name, char **ret) {
        NameParts parts;
        size_t pos;

        if (name_analyze(name, UNIT_NAME_TEMPLATE | UNIT_NAME_INSTANCE, &parts, &pos) != NAME_OK)
                return -EINVAL;

        /* prefix + "@" + ".type" */
        char *s = NULL;
        if (asprintf(&s, "%.*s%s", (int) parts.at + 1, name, name + parts.dot) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int unit_name_instance(const char *name, char **ret) {
        NameParts parts;
        size_t pos;

        if (name_analyze(name, 0, &parts, &pos) != NAME_OK)
                return -EINVAL;
        if (parts.kind != UNIT_NAME_INSTANCE) {
                *ret = NULL;
                return 0;
        }

        char *s = strndup(name + parts.at + 1, parts.dot - parts.at - 1);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 1;
}

int unit_name_prefix(const char *name, char **ret) {
        NameParts parts;
        size_t pos;

        if (name_analyze(name, 0, &parts, &pos) != NAME_OK)
                return -EINVAL;

        char *s = strndup(name, parts.kind == UNIT_NAME_PLAIN ? parts.dot : parts.at);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int unit_name_replace_instance(const char *name, const char *instance, char **ret) {
        _cleanup_free_ char *s = NULL;
        NameParts parts;
        size_t pos;

        if (isempty(instance))
                return -EINVAL;
        if (name_analyze(name, UNIT_NAME_TEMPLATE | UNIT_NAME_INSTANCE, &parts, &pos) != NAME_OK)
                return -EINVAL;

        if (asprintf(&s, "%.*s%s%s", (int) parts.at + 1, name, instance, name + parts.dot) < 0)
                return -ENOMEM;
        /* The instance may bring characters or a length that make the name invalid. */
        if (!unit_name_is_valid(s, UNIT_NAME_INSTANCE))
                return -EINVAL;

        *ret = TAKE_PTR(s);
        return 0;
}
