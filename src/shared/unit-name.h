/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include "basic/macros.h"

/* systemd's unit name rules (src/basic/unit-name.c), checked before fleetd writes or places a
 * unit, so that a bad name is refused at submit time with a message rather than by PID 1 on
 * some host later. Pure: no I/O, no logging.
 *
 * A name is PREFIX[@INSTANCE].TYPE:
 *   - at most 255 bytes (UNIT_NAME_MAX - 1);
 *   - PREFIX is non-empty and made of letters, digits and ':' '-' '_' '.' '\';
 *   - "@" ends the prefix; the INSTANCE after it may hold the same characters and further '@'
 *     (systemd allows "foo@a@b.service", instance "a@b"); an empty instance makes a template;
 *   - TYPE, after the last '.', is one of the unit types below. */

#define UNIT_NAME_MAX 256 /* as in systemd: including the NUL, so names are at most 255 bytes */

typedef enum UnitType {
        UNIT_SERVICE,
        UNIT_SOCKET,
        UNIT_TARGET,
        UNIT_DEVICE,
        UNIT_MOUNT,
        UNIT_AUTOMOUNT,
        UNIT_SWAP,
        UNIT_TIMER,
        UNIT_PATH,
        UNIT_SLICE,
        UNIT_SCOPE,
        _UNIT_TYPE_MAX,
        _UNIT_TYPE_INVALID = -EINVAL,
} UnitType;

typedef enum UnitNameFlags {
        UNIT_NAME_PLAIN     = 1 << 0, /* foo.service */
        UNIT_NAME_TEMPLATE  = 1 << 1, /* foo@.service */
        UNIT_NAME_INSTANCE  = 1 << 2, /* foo@1.service */
        UNIT_NAME_ANY       = UNIT_NAME_PLAIN | UNIT_NAME_TEMPLATE | UNIT_NAME_INSTANCE,
        /* Additionally require a type fleet places on machines: .service .socket .timer .path
         * .target (fleet never managed devices, mounts, swaps, slices or scopes). */
        UNIT_NAME_PLACEABLE = 1 << 3,
} UnitNameFlags;

/* "service" for UNIT_SERVICE, NULL for anything out of range. */
const char *unit_type_to_string(UnitType t);
/* UNIT_SERVICE for "service" (without the dot), _UNIT_TYPE_INVALID if unknown. */
UnitType unit_type_from_string(const char *s);
/* Whether fleet places units of this type. */
bool unit_type_is_placeable(UnitType t);

/* Whether name is valid and of one of the kinds in flags (PLAIN, TEMPLATE, INSTANCE; when flags
 * holds none of them, any kind is accepted) and, with UNIT_NAME_PLACEABLE, of a placeable type.
 * NULL is invalid. */
bool unit_name_is_valid(const char *name, UnitNameFlags flags);

/* The same check, explained: 0 if valid; -EINVAL if not, with *ret_message (optional, owned by
 * the caller) saying why in one line, e.g. "unit name 'x y.service' contains ' ' at position 2;
 * allowed: letters, digits, ':', '-', '_', '.', '\', '@'". Bytes that are not printable ASCII
 * are shown as \xNN; positions count bytes from 1. -ENOMEM if the message cannot be built. */
int unit_name_check(const char *name, UnitNameFlags flags, char **ret_message);

/* The type of a valid name, _UNIT_TYPE_INVALID if the name is not valid. */
UnitType unit_name_to_type(const char *name);
/* True for valid templates ("foo@.service"), false for anything else. */
bool unit_name_is_template(const char *name);
/* True for valid instances ("foo@1.service"), false for anything else. */
bool unit_name_is_instance(const char *name);

/* "foo@1.service" and "foo@.service" -> "foo@.service" in *ret (owned by the caller).
 * -EINVAL for plain or invalid names, -ENOMEM. */
int unit_name_template_of(const char *name, char **ret);
/* "foo@1.service" -> 1 and "1" in *ret. Plain names and templates -> 0 and NULL in *ret.
 * -EINVAL for invalid names, -ENOMEM. */
int unit_name_instance(const char *name, char **ret);
/* The part before '@' or, without one, before the type: "foo@1.service" -> "foo".
 * -EINVAL for invalid names, -ENOMEM. */
int unit_name_prefix(const char *name, char **ret);
/* A template or instance with its instance replaced: ("foo@.service", "1") -> "foo@1.service".
 * -EINVAL if name is not a template or instance, or the result would not be a valid instance
 * (bad characters, empty instance, too long); -ENOMEM. */
int unit_name_replace_instance(const char *name, const char *instance, char **ret);
