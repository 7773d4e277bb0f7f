/* SPDX-License-Identifier: Apache-2.0 */
/* submit [--replace] FILE...: sends unit files to the cluster, as inactive units. Every file
 * is read and checked before the first request, so that a typo in the tenth file leaves the
 * cluster as it was. With --replace, a file replaces an inactive unit of other contents. */
#include <stdio.h>

#include "fleetctl.h"
#include "unit-args.h"

OptionList submit_options = { &option_replace, NULL };

typedef struct LocalUnits {
        LocalUnit *units;
        size_t n;
} LocalUnits;

static void local_units_done(LocalUnits *l) {
        for (size_t i = 0; i < l->n; i++)
                local_unit_done(&l->units[i]);
        free(l->units);
}

/* Two arguments for one unit: fine if the texts agree (the second is dropped), not otherwise. */
static int local_units_dedup(LocalUnits *l) {
        int r = 0;

        for (size_t i = 0; i < l->n; i++)
                for (size_t j = i + 1; j < l->n; j++) {
                        LocalUnit *a = &l->units[i], *b = &l->units[j];

                        if (!a->name || !b->name || !streq(a->name, b->name))
                                continue;
                        if (a->size != b->size || memcmp(a->contents, b->contents, a->size) != 0) {
                                fprintf(stderr, "fleetctl: %s and %s are both unit %s, with different contents.\n",
                                        a->path, b->path, a->name);
                                r = -EBADMSG;
                        }
                        local_unit_done(b);
                }
        return r;
}

/* Reads every file, reporting each bad one; -EBADMSG if any was. */
static int local_units_load(char **args, size_t n, LocalUnits *ret) {
        int r, failure = 0;

        ret->units = calloc(n + 1, sizeof(LocalUnit));
        if (!ret->units)
                return -ENOMEM;
        ret->n = n;
        for (size_t i = 0; i < n; i++) {
                r = local_unit_load(args[i], &ret->units[i]);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        failure = r;
        }
        if (failure < 0)
                return failure;
        return local_units_dedup(ret);
}

int verb_submit(Client *c, int argc, char **argv) {
        _cleanup_(local_units_done) LocalUnits l = {};
        int r, failure = 0;

        r = local_units_load(argv, (size_t) argc, &l);
        if (r < 0) {
                if (r == -EBADMSG)
                        fprintf(stderr, "fleetctl: nothing submitted.\n");
                return r;
        }

        for (size_t i = 0; i < l.n; i++) {
                json_auto_t *answer = NULL;
                long status = 0;

                if (!l.units[i].name)
                        continue;   /* a duplicate */
                /* Contents only: a new unit starts inactive, an existing one keeps its state. */
                r = unit_put_full(c, l.units[i].name, l.units[i].contents, NULL, arg_replace, 0, &status, &answer);
                if (error_is_fatal(r))
                        return r;
                failure_merge(&failure, r);
                if (r >= 0 && status == 201)
                        printf("Unit %s inactive\n", l.units[i].name);
                else if (r >= 0 && json_is_true(json_object_get(answer, "replaced")))
                        printf("Unit %s replaced\n", l.units[i].name);
        }
        if (fflush(stdout) != 0)
                return -EIO;
        return failure;
}
